//! The bus against a real redis-server, and against a real Redis Cluster.

mod acl;
mod backend;
mod migrate;
mod reply;

use std::time::Duration;

use backend::{Redis, on_each_redis};
use pockitect_bus::{Bus, BusConfig, BusError, Claim, Lock, Renewal};
use pockitect_proto::audit::{AuditEntry, Authorization, HistoryArgs, TouchAction, Touched};
use pockitect_proto::{
    ClientInfo, ClientKind, Command, DaemonHeartbeat, Envelope, PingArgs, RequestId, ResourceType,
    Status,
};
use pockitect_testkit::{eventually, unique};
use redis::AsyncCommands;

async fn bus(redis: &Redis) -> Bus {
    bus_with_prefix(redis, &unique("t")).await
}

async fn bus_with_prefix(redis: &Redis, prefix: &str) -> Bus {
    let bus = Bus::connect(BusConfig::new(redis.url(), prefix))
        .await
        .expect("connect");
    // Found from the URL alone: a cluster test that ran on a standalone connection to one of
    // its nodes would prove nothing.
    assert_eq!(bus.is_cluster(), redis.is_cluster(), "{bus:?}");
    bus
}

/// An audit entry of a deploy of 'blog' by request `id`.
pub(crate) fn audit_entry(id: &RequestId) -> AuditEntry {
    AuditEntry {
        request_id: id.clone(),
        command: "deploy".into(),
        args: serde_json::json!({"project": "blog"}),
        project: Some("blog".into()),
        client: ClientInfo::new(ClientKind::Cli, Some("ann".into()), Some("host".into())),
        daemon: "d1".into(),
        account: None,
        principal: None,
        started_at: chrono::Utc::now(),
        ended_at: chrono::Utc::now(),
        status: Status::Success,
        code: None,
        message: "deployed".into(),
        refused: false,
        authorization: Default::default(),
        resources: vec![],
    }
}

fn ping(id: &RequestId) -> Envelope {
    let c = Command::Ping(PingArgs::default());
    Envelope::command(&c, id.clone(), None, None)
}

/// A ping under `id`, enqueued and taken by consumer `c1`.
async fn delivered_ping(bus: &Bus, id: &RequestId) -> pockitect_bus::Delivery {
    bus.enqueue(&ping(id)).await.unwrap();
    let mut r = bus
        .command_reader("c1", Duration::from_secs(30))
        .await
        .unwrap();
    r.next(Duration::from_millis(200)).await.unwrap().unwrap()
}

async fn enqueue_dedupes_by_request_id(redis: &Redis) {
    let bus = bus(redis).await;
    let id = RequestId::new();
    assert!(bus.enqueue(&ping(&id)).await.unwrap());
    assert!(
        !bus.enqueue(&ping(&id)).await.unwrap(),
        "second enqueue must be dropped"
    );
    let mut r = bus
        .command_reader("c1", Duration::from_secs(30))
        .await
        .unwrap();
    let d = r
        .next(Duration::from_millis(200))
        .await
        .unwrap()
        .expect("one delivery");
    assert!(d.payload.contains(id.as_str()));
    assert!(r.next(Duration::from_millis(200)).await.unwrap().is_none());
}
on_each_redis!(enqueue_dedupes_by_request_id);

async fn finish_publishes_exactly_one_terminal_event_and_acks(redis: &Redis) {
    let bus = bus(redis).await;
    let id = RequestId::new();
    let d = delivered_ping(&bus, &id).await;
    assert_eq!(
        bus.claim(&id, "c1", Duration::from_secs(5)).await.unwrap(),
        Claim::Taken
    );
    assert_eq!(
        bus.claim(&id, "c2", Duration::from_secs(5)).await.unwrap(),
        Claim::HeldBy("c1".into())
    );
    let from = bus.last_event_id().await.unwrap();
    let term = Envelope::event(
        "pong",
        Some(id.clone()),
        None,
        Status::Success,
        serde_json::json!({}),
    );
    assert!(bus.finish(&term, "c1", Some(&d.id)).await.unwrap());
    assert!(
        !bus.finish(&term, "c1", Some(&d.id)).await.unwrap(),
        "second finish publishes nothing"
    );
    let events = bus.events_after(&from, 100).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        bus.claim(&id, "c2", Duration::from_secs(5)).await.unwrap(),
        Claim::AlreadyDone
    );
    assert_eq!(
        bus.done_event(&id).await.unwrap().unwrap().status,
        Some(Status::Success)
    );
    assert_eq!(bus.backlog().await.unwrap(), (0, 0));
}
on_each_redis!(finish_publishes_exactly_one_terminal_event_and_acks);

async fn an_idle_delivery_is_reclaimed_by_another_consumer(redis: &Redis) {
    let bus = bus(redis).await;
    let id = RequestId::new();
    bus.enqueue(&ping(&id)).await.unwrap();
    let lease = Duration::from_millis(300);
    let mut dead = bus.command_reader("dead", lease).await.unwrap();
    let first = dead
        .next(Duration::from_millis(200))
        .await
        .unwrap()
        .unwrap();
    assert!(!first.reclaimed);
    let mut alive = bus.command_reader("alive", lease).await.unwrap();
    // Kept alive: not reclaimable.
    bus.touch_delivery("dead", &first.id).await.unwrap();
    assert!(
        alive
            .next(Duration::from_millis(100))
            .await
            .unwrap()
            .is_none()
    );
    tokio::time::sleep(lease + Duration::from_millis(100)).await;
    let again = alive
        .next(Duration::from_millis(100))
        .await
        .unwrap()
        .expect("reclaimed");
    assert!(again.reclaimed);
    assert_eq!(again.id, first.id);
}
on_each_redis!(an_idle_delivery_is_reclaimed_by_another_consumer);

async fn project_lock_names_its_holder_and_is_reentrant(redis: &Redis) {
    let bus = bus(redis).await;
    let (a, b) = (RequestId::new(), RequestId::new());
    let lease = Duration::from_secs(5);
    assert_eq!(
        bus.lock_project("blog", &a, lease).await.unwrap(),
        Lock::Taken
    );
    assert_eq!(
        bus.lock_project("blog", &a, lease).await.unwrap(),
        Lock::Taken
    );
    assert_eq!(
        bus.lock_project("blog", &b, lease).await.unwrap(),
        Lock::HeldBy(a.to_string())
    );
    assert!(
        !bus.unlock_project("blog", &b).await.unwrap(),
        "only the holder unlocks"
    );
    assert!(bus.unlock_project("blog", &a).await.unwrap());
    assert_eq!(
        bus.lock_project("blog", &b, lease).await.unwrap(),
        Lock::Taken
    );
}
on_each_redis!(project_lock_names_its_holder_and_is_reentrant);

async fn a_late_reader_replays_and_then_follows(redis: &Redis) {
    let bus = bus(redis).await;
    let id = RequestId::new();
    for i in 0..3 {
        let e = Envelope::event(
            "progress",
            Some(id.clone()),
            None,
            Status::InProgress,
            serde_json::json!({"step": i}),
        );
        bus.publish_event(&e).await.unwrap();
    }
    let mut reader = bus.event_reader("0-0").await.unwrap();
    let replay = reader
        .next_batch(Duration::from_millis(100), 100)
        .await
        .unwrap();
    assert_eq!(replay.len(), 3);
    let bus2 = bus.clone();
    let id2 = id.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let e = Envelope::event(
            "progress",
            Some(id2),
            None,
            Status::InProgress,
            serde_json::json!({"step": 3}),
        );
        bus2.publish_event(&e).await.unwrap();
    });
    let live = reader
        .next_batch(Duration::from_secs(5), 100)
        .await
        .unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].1.data["step"], 3);
}
on_each_redis!(a_late_reader_replays_and_then_follows);

#[tokio::test]
async fn passwords_never_show_in_urls() {
    assert_eq!(
        pockitect_bus::redact_url("redis://:hunter2@127.0.0.1:6379/0"),
        "redis://:***@127.0.0.1:6379/0"
    );
    assert_eq!(
        pockitect_bus::redact_url("redis://127.0.0.1:6379"),
        "redis://127.0.0.1:6379"
    );
}

async fn renewal_tells_a_vanished_lease_from_one_another_holds(redis: &Redis) {
    let bus = bus(redis).await;
    let id = RequestId::new();
    let lease = Duration::from_secs(5);
    assert_eq!(bus.claim(&id, "c1", lease).await.unwrap(), Claim::Taken);
    assert_eq!(
        bus.renew_claim(&id, "c1", lease).await.unwrap(),
        Renewal::Renewed
    );
    assert_eq!(
        bus.renew_claim(&id, "c2", lease).await.unwrap(),
        Renewal::HeldBy("c1".into())
    );
    assert!(!bus.release_claim(&id, "c2").await.unwrap(), "not c2's");
    assert!(bus.release_claim(&id, "c1").await.unwrap());
    assert_eq!(
        bus.renew_claim(&id, "c1", lease).await.unwrap(),
        Renewal::Missing
    );
    // The same for project locks, owned by request ids.
    let other = RequestId::new();
    assert_eq!(
        bus.renew_project_lock("blog", &id, lease).await.unwrap(),
        Renewal::Missing
    );
    assert_eq!(
        bus.lock_project("blog", &other, lease).await.unwrap(),
        Lock::Taken
    );
    assert_eq!(
        bus.renew_project_lock("blog", &id, lease).await.unwrap(),
        Renewal::HeldBy(other.to_string())
    );
}
on_each_redis!(renewal_tells_a_vanished_lease_from_one_another_holds);

async fn a_refusal_is_published_only_under_an_unused_request_id(redis: &Redis) {
    let bus = bus(redis).await;
    let refusal = |id: &RequestId| {
        Envelope::event(
            "error",
            Some(id.clone()),
            None,
            Status::Error,
            serde_json::json!({"code": "unknown_command", "message": "no"}),
        )
    };
    // Running: untouched.
    let running = RequestId::new();
    bus.claim(&running, "c1", Duration::from_secs(5))
        .await
        .unwrap();
    assert!(!bus.refuse(&refusal(&running), None, None).await.unwrap());
    assert!(bus.done_event(&running).await.unwrap().is_none());
    // Done: its end stays the one it had.
    let pong = Envelope::event(
        "pong",
        Some(running.clone()),
        None,
        Status::Success,
        serde_json::json!({}),
    );
    assert!(bus.finish(&pong, "c1", None).await.unwrap());
    assert!(!bus.refuse(&refusal(&running), None, None).await.unwrap());
    assert_eq!(
        bus.done_event(&running).await.unwrap().map(|e| e.kind),
        Some("pong".to_owned())
    );
    // Unused: answered, and that answer is its end.
    let fresh = RequestId::new();
    assert!(bus.refuse(&refusal(&fresh), None, None).await.unwrap());
    assert_eq!(
        bus.done_event(&fresh).await.unwrap().map(|e| e.kind),
        Some("error".to_owned())
    );
}
on_each_redis!(a_refusal_is_published_only_under_an_unused_request_id);

async fn heartbeats_list_live_daemons_until_they_expire_or_leave(redis: &Redis) {
    let bus = bus(redis).await;
    let beat = |id: &str| DaemonHeartbeat {
        id: id.into(),
        version: "0.1.0".into(),
        host: "h".into(),
        pid: 1,
        workers: 2,
        in_flight: vec![],
        started_at: chrono::Utc::now(),
        last_seen: chrono::Utc::now(),
        handled: 0,
        secrets: None,
    };
    assert!(bus.daemons().await.unwrap().is_empty());
    bus.put_heartbeat(&beat("d2"), Duration::from_secs(60))
        .await
        .unwrap();
    bus.put_heartbeat(&beat("d1"), Duration::from_secs(60))
        .await
        .unwrap();
    bus.put_heartbeat(&beat("short"), Duration::from_millis(200))
        .await
        .unwrap();
    let ids = |v: Vec<DaemonHeartbeat>| v.into_iter().map(|h| h.id).collect::<Vec<_>>();
    assert_eq!(ids(bus.daemons().await.unwrap()), ["d1", "d2", "short"]);
    // A beat replaces the daemon's record.
    let mut busy = beat("d1");
    busy.handled = 7;
    bus.put_heartbeat(&busy, Duration::from_secs(60))
        .await
        .unwrap();
    eventually(
        "the short heartbeat to expire",
        Duration::from_secs(5),
        || {
            let bus = bus.clone();
            async move {
                let live = bus.daemons().await.ok()?;
                (live.len() == 2).then_some(live)
            }
        },
    )
    .await;
    let live = bus.daemons().await.unwrap();
    assert_eq!(ids(live.clone()), ["d1", "d2"]);
    assert_eq!(live[0].handled, 7);
    // An expired daemon is forgotten, not only hidden.
    let mut conn = redis.raw().await;
    let mut known: Vec<String> = conn.smembers(bus.keys().daemon_ids()).await.unwrap();
    known.sort();
    assert_eq!(known, ["d1", "d2"]);
    bus.remove_heartbeat("d2").await.unwrap();
    assert_eq!(ids(bus.daemons().await.unwrap()), ["d1"]);
}
on_each_redis!(heartbeats_list_live_daemons_until_they_expire_or_leave);

async fn a_prefix_that_makes_no_hash_tag_is_refused_with_what_to_do(redis: &Redis) {
    for bad in ["", "a{b}"] {
        let err = Bus::connect(BusConfig::new(redis.url(), bad))
            .await
            .expect_err(bad);
        let msg = err.to_string();
        assert!(matches!(err, BusError::Prefix { .. }), "{err:?}");
        assert!(
            msg.contains(&format!("'{bad}'")) && msg.contains("POCKITECT_PREFIX"),
            "{msg}"
        );
    }
}
on_each_redis!(a_prefix_that_makes_no_hash_tag_is_refused_with_what_to_do);

async fn small_commands_reach_the_node_of_their_slot(redis: &Redis) {
    let bus = bus(redis).await;
    bus.ping().await.unwrap();
    // Announced once per pool.
    assert!(
        bus.first_to_claim("news", Duration::from_secs(5))
            .await
            .unwrap()
    );
    assert!(
        !bus.first_to_claim("news", Duration::from_secs(5))
            .await
            .unwrap()
    );
    // Cancellation flags.
    let id = RequestId::new();
    assert!(!bus.is_cancel_requested(&id).await.unwrap());
    bus.request_cancel(&id).await.unwrap();
    assert!(bus.is_cancel_requested(&id).await.unwrap());
    // Dead letters.
    bus.dead_letter("{oops", "not json").await.unwrap();
    assert_eq!(bus.dead_letter_len().await.unwrap(), 1);
    // A delivery kept alive, then acknowledged (MULTI of XACK and XDEL).
    let d = delivered_ping(&bus, &id).await;
    bus.touch_delivery("c1", &d.id).await.unwrap();
    assert!(bus.is_pending(&d.id).await.unwrap());
    assert_eq!(bus.backlog().await.unwrap(), (0, 1));
    bus.ack(&d.id).await.unwrap();
    assert!(!bus.is_pending(&d.id).await.unwrap());
    assert_eq!(bus.backlog().await.unwrap(), (0, 0));
}
on_each_redis!(small_commands_reach_the_node_of_their_slot);

async fn a_finished_request_has_one_audit_entry_that_history_reads(redis: &Redis) {
    let bus = bus(redis).await;
    let id = RequestId::new();
    let d = delivered_ping(&bus, &id).await;
    let made = Touched::new(
        ResourceType::Vpc,
        "vpc-1",
        "eu-west-1",
        TouchAction::Created,
    );
    bus.record_touched(&id, std::slice::from_ref(&made))
        .await
        .unwrap();
    bus.record_touched(&id, std::slice::from_ref(&made))
        .await
        .unwrap();
    assert_eq!(bus.touched(&id).await.unwrap(), vec![made.clone()]);
    let auth = Authorization {
        rule: Some("policy.deploy".into()),
        ..Default::default()
    };
    bus.set_authorization(&id, &auth).await.unwrap();
    assert_eq!(bus.authorization(&id).await.unwrap(), Some(auth));

    let mut entry = audit_entry(&id);
    entry.resources = bus.touched(&id).await.unwrap();
    let term = Envelope::event(
        "deployed",
        Some(id.clone()),
        None,
        Status::Success,
        serde_json::json!({}),
    );
    assert!(
        bus.finish_audited(&term, "c1", Some(&d.id), Some(&entry))
            .await
            .unwrap()
    );
    assert!(
        !bus.finish_audited(&term, "c1", Some(&d.id), Some(&entry))
            .await
            .unwrap(),
        "a request ends once, with one entry"
    );
    assert!(
        bus.touched(&id).await.unwrap().is_empty(),
        "moved into the entry"
    );
    // An entry that ends no request.
    let mut refused = audit_entry(&RequestId::new());
    refused.project = Some("shop".into());
    refused.refused = true;
    bus.append_audit(&refused).await.unwrap();

    let all = bus.history(&HistoryArgs::default()).await.unwrap();
    assert_eq!(all.entries, vec![refused, entry.clone()], "newest first");
    let blog = HistoryArgs {
        project: Some("blog".into()),
        ..Default::default()
    };
    assert_eq!(bus.history(&blog).await.unwrap().entries, vec![entry]);
}
on_each_redis!(a_finished_request_has_one_audit_entry_that_history_reads);

async fn subscribers_hear_events_and_legacy_commands(redis: &Redis) {
    use futures::StreamExt;
    let bus = bus(redis).await;
    let mut status = bus.subscribe_status().await.unwrap().into_on_message();
    let mut legacy = bus
        .subscribe_legacy_commands()
        .await
        .unwrap()
        .into_on_message();
    let id = RequestId::new();
    let event = Envelope::event(
        "progress",
        Some(id.clone()),
        None,
        Status::InProgress,
        serde_json::json!({"step": 1}),
    );
    bus.publish_event(&event).await.unwrap();
    let heard = tokio::time::timeout(Duration::from_secs(5), status.next())
        .await
        .expect("the event within 5 s")
        .expect("a message");
    let heard: String = heard.get_payload().unwrap();
    assert_eq!(heard, event.to_json());
    // On a cluster the PUBLISH goes to the node of the channel's slot, the subscription is on
    // the node the URL names: Redis passes it on.
    let payload = ping(&id).to_json();
    bus.publish_legacy_command(&payload).await.unwrap();
    let heard = tokio::time::timeout(Duration::from_secs(5), legacy.next())
        .await
        .expect("the command within 5 s")
        .expect("a message");
    let heard: String = heard.get_payload().unwrap();
    assert_eq!(heard, payload);
}
on_each_redis!(subscribers_hear_events_and_legacy_commands);

/// A prefix whose keys hash to a slot in each third of the slot space: on the test cluster
/// (three masters, slots split evenly) each third is another node's.
fn prefixes_over_every_node() -> Vec<String> {
    let mut found: Vec<Option<String>> = vec![None; 3];
    while found.iter().any(Option::is_none) {
        let prefix = unique("t");
        let slot = redis::cluster_routing::Slot::for_key(format!("{{{prefix}}}"));
        // `Slot` keeps its number to itself: find it.
        let n = (0..16384u16)
            .find(|n| redis::cluster_routing::Slot::new(*n) == Some(slot))
            .expect("a slot is below 16384");
        let third = usize::from(n) * 3 / 16384;
        found[third].get_or_insert(prefix);
    }
    found.into_iter().flatten().collect()
}

async fn every_node_serves_the_bus(redis: &Redis) {
    for prefix in prefixes_over_every_node() {
        let bus = bus_with_prefix(redis, &prefix).await;
        let id = RequestId::new();
        let d = delivered_ping(&bus, &id).await;
        assert_eq!(
            bus.claim(&id, "c1", Duration::from_secs(5)).await.unwrap(),
            Claim::Taken
        );
        let pong = Envelope::event(
            "pong",
            Some(id.clone()),
            None,
            Status::Success,
            serde_json::json!({}),
        );
        assert!(
            bus.finish(&pong, "c1", Some(&d.id)).await.unwrap(),
            "{prefix}"
        );
        assert_eq!(bus.done_event(&id).await.unwrap(), Some(pong), "{prefix}");
        assert_eq!(bus.backlog().await.unwrap(), (0, 0), "{prefix}");
    }
}
on_each_redis!(every_node_serves_the_bus);
