//! Query answers reach only the client that asked; Redis's eviction policy is read.

use pockitect_bus::{BusError, REPLY_SECS, eviction_warning};
use pockitect_proto::{Envelope, RequestId, Status, event_type};
use redis::AsyncCommands;
use serde_json::json;

use crate::backend::{Redis, on_each_redis};
use crate::{bus, delivered_ping};

fn estate(n: usize) -> serde_json::Value {
    let records: Vec<_> = (0..n)
        .map(|i| json!({"id": format!("i-{i:08x}"), "type": "ec2_instance", "region": "us-east-1", "tags": {"Name": format!("resource-{i}")}}))
        .collect();
    json!({"total": n, "records": records})
}

async fn a_query_answer_waits_for_its_client_and_the_shared_event_stays_small(redis: &Redis) {
    let bus = bus(redis).await;
    let id = RequestId::new();
    let d = delivered_ping(&bus, &id).await;
    let from = bus.last_event_id().await.unwrap();
    let full = Envelope::event(
        event_type::RESOURCES,
        Some(id.clone()),
        None,
        Status::Success,
        estate(900),
    );
    let full_len = full.to_json().len();
    assert!(bus.finish_query(&full, "c1", Some(&d.id)).await.unwrap());

    // Everybody sees a small event: counts and a pointer, no records.
    let events = bus.events_after(&from, 100).await.unwrap();
    assert_eq!(events.len(), 1);
    let (_, seen) = &events[0];
    assert!(seen.is_terminal());
    assert_eq!(seen.data["counts"]["records"], 900);
    assert_eq!(seen.data["total"], 900);
    assert!(seen.data.get("records").is_none());
    assert!(seen.to_json().len() < 1024, "{}", seen.to_json());
    let done = bus.done_event(&id).await.unwrap().unwrap();
    assert!(done.data.get("records").is_none());
    assert_eq!(done.reply_ref(), seen.reply_ref());

    // The answer and the done record live minutes, not a day.
    let mut conn = redis.raw().await;
    let pointer = seen.reply_ref().unwrap();
    assert_eq!(pointer.key, bus.keys().reply(id.as_str()));
    for key in [pointer.key.clone(), bus.keys().done(id.as_str())] {
        let ttl: i64 = conn.ttl(&key).await.unwrap();
        assert!(ttl > 0 && ttl <= REPLY_SECS as i64, "{key}: ttl {ttl}");
    }

    // The client that asked reads it whole, once.
    let answer = bus.answer(seen.clone()).await.unwrap();
    assert_eq!(answer, full);
    assert_eq!(answer.to_json().len(), full_len);
    let exists: bool = conn.exists(&pointer.key).await.unwrap();
    assert!(!exists, "read once, then gone");
    let again = bus.answer(seen.clone()).await.unwrap_err();
    assert!(matches!(again, BusError::ReplyExpired { .. }), "{again:?}");
    let msg = again.to_string();
    assert!(
        msg.contains(id.as_str()) && msg.contains("run the query again"),
        "{msg}"
    );
}
on_each_redis!(a_query_answer_waits_for_its_client_and_the_shared_event_stays_small);

async fn query_errors_and_other_commands_stay_whole(redis: &Redis) {
    let bus = bus(redis).await;
    let from = bus.last_event_id().await.unwrap();
    let err = Envelope::event(
        event_type::ERROR,
        Some(RequestId::new()),
        None,
        Status::Error,
        json!({"code": "not_found", "message": "load project 'nope': no such project"}),
    );
    assert!(bus.finish_query(&err, "c1", None).await.unwrap());
    let pong = Envelope::event(
        event_type::PONG,
        Some(RequestId::new()),
        None,
        Status::Success,
        json!({"daemon": "d1"}),
    );
    assert!(bus.finish(&pong, "c1", None).await.unwrap());
    let events = bus.events_after(&from, 100).await.unwrap();
    let seen: Vec<Envelope> = events.into_iter().map(|(_, e)| e).collect();
    assert_eq!(seen, vec![err.clone(), pong.clone()]);
    // answer() passes an event without a pointer through.
    assert_eq!(bus.answer(err.clone()).await.unwrap(), err);
    assert_eq!(bus.answer(pong.clone()).await.unwrap(), pong);
}
on_each_redis!(query_errors_and_other_commands_stay_whole);

async fn an_evicting_policy_is_read_and_warned_about(redis: &Redis) {
    let bus = bus(redis).await;
    let mut conn = redis.raw().await;
    let before = bus.maxmemory_policy().await.unwrap();
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("allkeys-lru")
        .query_async(&mut conn)
        .await
        .unwrap();
    let policy = bus.maxmemory_policy().await.unwrap();
    // Put the server back as it was (it may be shared through POCKITECT_TEST_REDIS_URL).
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg(&before)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(policy, "allkeys-lru");
    let w = eviction_warning(&policy).expect("allkeys-lru evicts");
    assert!(w.contains("noeviction"), "{w}");
    assert_eq!(
        eviction_warning(&bus.maxmemory_policy().await.unwrap()),
        eviction_warning(&before)
    );
}
on_each_redis!(an_evicting_policy_is_read_and_warned_about);
