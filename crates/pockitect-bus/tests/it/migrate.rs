//! Upgrading: keys an earlier version wrote under untagged names are found by the new bus
//! after the migration a daemon runs at start.

use std::time::Duration;

use pockitect_bus::{Bus, BusConfig, Claim, Lock, Migration, Renewal};
use pockitect_proto::audit::HistoryArgs;
use pockitect_proto::{Envelope, RequestId, Status};
use pockitect_testkit::{RedisServer, unique};
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;

use crate::backend::Redis;
use crate::{audit_entry, ping};

async fn xadd(conn: &mut MultiplexedConnection, key: &str, field: &str, value: &str) -> String {
    redis::cmd("XADD")
        .arg(key)
        .arg("*")
        .arg(field)
        .arg(value)
        .query_async(conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_earlier_versions_keys_are_found_after_migration_and_a_second_run_moves_nothing() {
    let redis = RedisServer::start();
    let prefix = unique("t");
    let old = |name: &str| format!("{prefix}:{name}");
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();

    // What an earlier daemon left: a command taken by a daemon that died (pending, idle for a
    // minute), one not taken yet, their dedupe records, and the group they share.
    let (taken, waiting) = (RequestId::new(), RequestId::new());
    let () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(old("stream:commands"))
        .arg(format!("{prefix}:daemons"))
        .arg("0")
        .arg("MKSTREAM")
        .query_async(&mut conn)
        .await
        .unwrap();
    let taken_entry = xadd(
        &mut conn,
        &old("stream:commands"),
        "envelope",
        &ping(&taken).to_json(),
    )
    .await;
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(format!("{prefix}:daemons"))
        .arg("old-daemon")
        .arg("COUNT")
        .arg(1)
        .arg("STREAMS")
        .arg(old("stream:commands"))
        .arg(">")
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: redis::Value = redis::cmd("XCLAIM")
        .arg(old("stream:commands"))
        .arg(format!("{prefix}:daemons"))
        .arg("old-daemon")
        .arg(0)
        .arg(&taken_entry)
        .arg("IDLE")
        .arg(60_000)
        .query_async(&mut conn)
        .await
        .unwrap();
    xadd(
        &mut conn,
        &old("stream:commands"),
        "envelope",
        &ping(&waiting).to_json(),
    )
    .await;
    for id in [&taken, &waiting] {
        let () = conn
            .set_ex(old(&format!("seen:{id}")), 1, 3600)
            .await
            .unwrap();
    }
    // The audit trail, the replay stream, a dead letter.
    let audited = RequestId::new();
    xadd(
        &mut conn,
        &old("stream:audit"),
        "entry",
        &serde_json::to_string(&audit_entry(&audited)).unwrap(),
    )
    .await;
    let event = Envelope::event(
        "pong",
        Some(audited.clone()),
        None,
        Status::Success,
        serde_json::json!({}),
    );
    xadd(&mut conn, &old("stream:events"), "event", &event.to_json()).await;
    xadd(&mut conn, &old("stream:dead"), "payload", "{oops").await;
    // A finished request, a live lease and a project lock.
    let () = conn
        .set_ex(old(&format!("done:{audited}")), event.to_json(), 3600)
        .await
        .unwrap();
    let () = conn
        .pset_ex(old(&format!("claim:{taken}")), "old-daemon", 60_000)
        .await
        .unwrap();
    let () = conn
        .pset_ex(old("lock:blog"), taken.as_str(), 60_000)
        .await
        .unwrap();
    // Not moved: an old heartbeat (a lease of seconds), another installation's key whose
    // prefix starts like ours, and a key whose new name is already taken.
    let () = conn
        .pset_ex(old("daemon:old-daemon"), "{}", 60_000)
        .await
        .unwrap();
    let other = format!("{prefix}:staging:stream:commands");
    xadd(&mut conn, &other, "envelope", "{}").await;
    let bus = Bus::connect(BusConfig::new(redis.url(), prefix.clone()))
        .await
        .unwrap();
    let () = conn.set(old("lock:shop"), "old").await.unwrap();
    let () = conn
        .set(bus.keys().project_lock("shop"), "new")
        .await
        .unwrap();

    let first = bus.migrate_legacy_keys().await.unwrap();
    assert_eq!(
        first,
        Migration {
            // 4 streams, 2 seen, done, claim, lock:blog
            moved: 9,
            conflicts: vec![old("lock:shop")],
        }
    );

    // The queue: one pending for a minute, one waiting, the group and its pending entry kept.
    assert_eq!(bus.backlog().await.unwrap(), (1, 1));
    assert!(bus.is_pending(&taken_entry).await.unwrap());
    assert!(
        !bus.enqueue(&ping(&waiting)).await.unwrap(),
        "still deduped"
    );
    let mut reader = bus
        .command_reader("new-daemon", Duration::from_secs(30))
        .await
        .unwrap();
    let reclaimed = reader
        .next(Duration::from_millis(100))
        .await
        .unwrap()
        .expect("the dead daemon's command");
    assert!(reclaimed.reclaimed);
    assert_eq!(reclaimed.id, taken_entry);
    assert!(reclaimed.payload.contains(taken.as_str()));
    let next = reader
        .next(Duration::from_millis(100))
        .await
        .unwrap()
        .expect("the waiting command");
    assert!(!next.reclaimed);
    assert!(next.payload.contains(waiting.as_str()));

    // Leases and locks keep their holders and their expiry.
    assert_eq!(
        bus.claim(&taken, "new-daemon", Duration::from_secs(5))
            .await
            .unwrap(),
        Claim::HeldBy("old-daemon".into())
    );
    assert_eq!(
        bus.renew_claim(&taken, "old-daemon", Duration::from_secs(5))
            .await
            .unwrap(),
        Renewal::Renewed
    );
    assert_eq!(
        bus.lock_project("blog", &RequestId::new(), Duration::from_secs(5))
            .await
            .unwrap(),
        Lock::HeldBy(taken.to_string())
    );
    let ttl: i64 = conn.ttl(bus.keys().done(audited.as_str())).await.unwrap();
    assert!(ttl > 0 && ttl <= 3600, "ttl {ttl}");

    // The audit trail, the replay and the dead letters.
    let history = bus.history(&HistoryArgs::default()).await.unwrap();
    assert_eq!(history.entries.len(), 1);
    assert_eq!(history.entries[0].request_id, audited);
    assert_eq!(history.entries[0].message, "deployed");
    assert_eq!(history.entries[0].daemon, "d1");
    let events = bus.events_after("0-0", 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].1, event);
    assert_eq!(
        bus.done_event(&audited).await.unwrap().map(|e| e.kind),
        Some("pong".to_owned())
    );
    assert_eq!(bus.dead_letter_len().await.unwrap(), 1);

    // What was not to move stayed.
    for key in [old("daemon:old-daemon"), other.clone(), old("lock:shop")] {
        let there: bool = conn.exists(&key).await.unwrap();
        assert!(there, "{key}");
    }
    let shop: String = conn.get(bus.keys().project_lock("shop")).await.unwrap();
    assert_eq!(shop, "new", "a new key is never overwritten");

    // Idempotent.
    let second = bus.migrate_legacy_keys().await.unwrap();
    assert_eq!(second.moved, 0);
    assert_eq!(second.conflicts, vec![old("lock:shop")]);
}

#[tokio::test]
async fn on_a_cluster_there_is_nothing_to_migrate() {
    let redis = Redis::cluster();
    let prefix = unique("t");
    let mut raw = redis.raw().await;
    // A key named the old way (on whichever node its slot is): the earlier layout never ran on
    // a cluster, so the migration does not look (a SCAN would see one node only).
    let old = format!("{prefix}:lock:blog");
    let () = raw.set(&old, "r1").await.unwrap();
    let bus = Bus::connect(BusConfig::new(redis.url(), prefix))
        .await
        .unwrap();
    assert!(bus.is_cluster());
    assert_eq!(
        bus.migrate_legacy_keys().await.unwrap(),
        Migration::default()
    );
    let there: bool = raw.exists(&old).await.unwrap();
    assert!(there);
}
