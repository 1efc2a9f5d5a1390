//! The ACL users the README recommends can do all the bus does, on both kinds of Redis, and
//! nothing under another prefix.

use std::time::Duration;

use pockitect_bus::{Bus, BusConfig, Claim, Lock};
use pockitect_proto::audit::HistoryArgs;
use pockitect_proto::{DaemonHeartbeat, Envelope, RequestId, Status};
use pockitect_testkit::unique;
use redis::AsyncCommands;

use crate::backend::{Redis, on_each_redis};
use crate::{audit_entry, delivered_ping, ping};

const README: &str = include_str!("../../../../README.md");

/// The rules of the README's `ACL SETUSER <user> …` line.
fn readme_rules(user: &str) -> Vec<String> {
    let start = format!("ACL SETUSER {user} ");
    let line = README
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(&start))
        .unwrap_or_else(|| panic!("the README has no '{start}…' line"));
    line[start.len()..]
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// Creates a user with the README's rules for `prefix` (instead of `pockitect`) and returns
/// the URL that logs in as it.
async fn readme_user(redis: &Redis, prefix: &str) -> (String, String) {
    let rules = readme_rules("pockitectd");
    assert_eq!(
        rules,
        readme_rules("pockitect-cli")
            .iter()
            .map(|r| { r.replace("CLI-PASSWORD", "DAEMON-PASSWORD") })
            .collect::<Vec<_>>(),
        "both users get the same rules"
    );
    let user = unique("u");
    let mut cmd = redis::cmd("ACL");
    cmd.arg("SETUSER").arg(&user);
    for rule in rules {
        if rule.starts_with('>') {
            cmd.arg(">pw");
        } else if rule.starts_with('~') || rule.starts_with('&') {
            cmd.arg(rule.replace("pockitect", prefix));
        } else {
            cmd.arg(rule);
        }
    }
    let () = cmd.query_async(&mut redis.raw().await).await.unwrap();
    let url = redis.url().replacen("://", &format!("://{user}:pw@"), 1);
    (user, url)
}

async fn the_readmes_acl_user_can_run_the_bus(redis: &Redis) {
    let prefix = unique("t");
    let (user, url) = readme_user(redis, &prefix).await;
    let mut raw = redis.raw().await;
    // A key of an earlier version, for the daemon to rename (a standalone Redis only).
    let old = format!("{prefix}:lock:shop");
    if !redis.is_cluster() {
        let () = raw.set(&old, "r0").await.unwrap();
    }
    let bus = Bus::connect(BusConfig::new(url.clone(), prefix.clone()))
        .await
        .expect("the README's user connects");
    assert_eq!(bus.is_cluster(), redis.is_cluster());
    let migrated = bus.migrate_legacy_keys().await.unwrap();
    assert_eq!(migrated.moved, usize::from(!redis.is_cluster()));

    bus.ping().await.unwrap();
    let id = RequestId::new();
    let d = delivered_ping(&bus, &id).await;
    assert_eq!(
        bus.claim(&id, "c1", Duration::from_secs(5)).await.unwrap(),
        Claim::Taken
    );
    assert_eq!(
        bus.lock_project("blog", &id, Duration::from_secs(5))
            .await
            .unwrap(),
        Lock::Taken
    );
    bus.renew_claim(&id, "c1", Duration::from_secs(5))
        .await
        .unwrap();
    bus.touch_delivery("c1", &d.id).await.unwrap();
    assert!(bus.is_pending(&d.id).await.unwrap());
    let _status = bus.subscribe_status().await.unwrap();
    let _legacy = bus.subscribe_legacy_commands().await.unwrap();
    bus.publish_legacy_command(&ping(&RequestId::new()).to_json())
        .await
        .unwrap();
    let progress = Envelope::event(
        "progress",
        Some(id.clone()),
        None,
        Status::InProgress,
        serde_json::json!({}),
    );
    bus.publish_event(&progress).await.unwrap();
    let mut reader = bus.event_reader("0-0").await.unwrap();
    assert_eq!(
        reader
            .next_batch(Duration::from_millis(100), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    bus.request_cancel(&id).await.unwrap();
    // The steps that are a MULTI.
    let made = pockitect_proto::audit::Touched::new(
        pockitect_proto::ResourceType::Vpc,
        "vpc-1",
        "eu-west-1",
        pockitect_proto::audit::TouchAction::Created,
    );
    bus.record_touched(&id, &[made]).await.unwrap();
    bus.append_audit(&audit_entry(&RequestId::new()))
        .await
        .unwrap();
    let stray = delivered_ping(&bus, &RequestId::new()).await;
    bus.ack(&stray.id).await.unwrap();
    assert!(
        bus.first_to_claim("x", Duration::from_secs(5))
            .await
            .unwrap()
    );
    bus.dead_letter("{", "bad").await.unwrap();
    let term = Envelope::event(
        "deployed",
        Some(id.clone()),
        None,
        Status::Success,
        serde_json::json!({}),
    );
    assert!(
        bus.finish_audited(&term, "c1", Some(&d.id), Some(&audit_entry(&id)))
            .await
            .unwrap()
    );
    assert!(bus.unlock_project("blog", &id).await.unwrap());
    assert_eq!(
        bus.history(&HistoryArgs::default())
            .await
            .unwrap()
            .entries
            .len(),
        2
    );
    assert_eq!(bus.backlog().await.unwrap(), (0, 0));
    let beat = DaemonHeartbeat {
        id: "d1".into(),
        version: "0".into(),
        host: "h".into(),
        pid: 1,
        workers: 1,
        in_flight: vec![],
        started_at: chrono::Utc::now(),
        last_seen: chrono::Utc::now(),
        handled: 0,
        secrets: None,
    };
    bus.put_heartbeat(&beat, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(bus.daemons().await.unwrap().len(), 1);
    bus.remove_heartbeat("d1").await.unwrap();
    assert!(bus.daemons().await.unwrap().is_empty());

    // The rules do keep it to its prefix: the check above could fail.
    let other = Bus::connect(BusConfig::new(url, unique("other")))
        .await
        .unwrap();
    let refused = other.enqueue(&ping(&RequestId::new())).await.unwrap_err();
    assert!(
        refused.to_string().contains("NOPERM") || refused.to_string().contains("permission"),
        "{refused}"
    );

    let _: redis::Value = redis::cmd("ACL")
        .arg("DELUSER")
        .arg(&user)
        .query_async(&mut raw)
        .await
        .unwrap();
}
on_each_redis!(the_readmes_acl_user_can_run_the_bus);
