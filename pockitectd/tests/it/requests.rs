//! One request runs in one place and ends exactly once: a malformed duplicate never ends a
//! real request, a stolen lease or a shutdown stops the handler without an end of its own, a
//! Redis restart either resumes the request (persistence) or ends it with one error that says
//! so (none), and every project-writing command locks the slug the daemon derives.

use std::time::Duration;

use pockitect_proto::{Envelope, ErrorCode, RequestId, Status};
use pockitect_testkit::{RedisServer, eventually, unique};
use serde_json::json;

use crate::{Harness, events_of, terminal_of, wait_in_flight};

/// Enqueues a `ping` that waits `delay_ms`, as any client would.
async fn send_ping(h: &Harness, delay_ms: u64) -> RequestId {
    let id = RequestId::new();
    let payload = json!({"type": "ping", "request_id": id, "data": {"delay_ms": delay_ms}});
    assert!(
        h.bus
            .enqueue_raw(id.as_str(), &payload.to_string())
            .await
            .unwrap()
    );
    id
}

/// Puts a payload on the command stream as a raw XADD would (no dedupe by request id).
async fn xadd(h: &Harness, payload: &str) {
    assert!(h.bus.enqueue_raw(&unique("raw"), payload).await.unwrap());
}

fn terminals(events: &[Envelope]) -> Vec<&Envelope> {
    events.iter().filter(|e| e.is_terminal()).collect()
}

async fn dead_letters(h: &Harness, n: usize) {
    eventually(
        &format!("{n} dead-lettered command(s)"),
        Duration::from_secs(10),
        || {
            let bus = h.bus.clone();
            async move { (bus.dead_letter_len().await.ok()? == n).then_some(()) }
        },
    )
    .await;
}

#[tokio::test]
async fn a_malformed_command_reusing_a_request_id_is_dead_lettered_and_ends_nothing() {
    let h = Harness::start(2).await;
    let r = send_ping(&h, 3000).await;
    wait_in_flight(&h.bus, &r, true).await;

    xadd(&h, &json!({"type": "nope", "request_id": r}).to_string()).await;
    dead_letters(&h, 1).await;
    assert!(
        h.bus.done_event(&r).await.unwrap().is_none(),
        "refusing the malformed duplicate must not end the running request"
    );
    let end = terminal_of(&h.bus, &r, Duration::from_secs(20)).await;
    assert_eq!(end.kind, "pong", "{end:?}");
    assert_eq!(end.status, Some(Status::Success));

    // Once it is done, a malformed duplicate neither replays nor replaces its end.
    xadd(&h, &json!({"type": "nope", "request_id": r}).to_string()).await;
    dead_letters(&h, 2).await;
    let all = events_of(&h.bus, &r).await;
    let ends = terminals(&all);
    assert_eq!(ends.len(), 1, "exactly one terminal event: {all:?}");
    assert_eq!(ends[0].kind, "pong");
    assert_eq!(
        h.bus.done_event(&r).await.unwrap().map(|e| e.kind),
        Some("pong".to_owned())
    );

    // A malformed command under an id nobody uses is still answered.
    let fresh = RequestId::new();
    xadd(
        &h,
        &json!({"type": "nope", "request_id": fresh}).to_string(),
    )
    .await;
    let t = terminal_of(&h.bus, &fresh, Duration::from_secs(20)).await;
    assert_eq!(t.data["code"], json!(ErrorCode::UnknownCommand), "{t:?}");
    dead_letters(&h, 3).await;
}

#[tokio::test]
async fn a_stolen_lease_stops_the_first_copy_without_an_end_and_the_request_ends_once() {
    let h = Harness::start(1).await;
    let r = send_ping(&h, 6000).await;
    wait_in_flight(&h.bus, &r, true).await;

    // Another consumer takes the lease over (as a reclaim racing this daemon's renewal does).
    let mut conn = redis::Client::open(h.redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let () = redis::cmd("SET")
        .arg(h.bus.keys().claim(r.as_str()))
        .arg("intruder")
        .arg("PX")
        .arg(4000)
        .query_async(&mut conn)
        .await
        .unwrap();

    // The first copy stops (its 6 s ping is cancelled) and says nothing.
    wait_in_flight(&h.bus, &r, false).await;
    assert!(h.bus.done_event(&r).await.unwrap().is_none());
    assert!(
        terminals(&events_of(&h.bus, &r).await).is_empty(),
        "the copy that lost its lease must not publish an end"
    );

    // The intruder never finishes it: once its lease lapses the pool resumes the request,
    // which then ends exactly once.
    let end = terminal_of(&h.bus, &r, Duration::from_secs(40)).await;
    assert_eq!(end.status, Some(Status::Success), "{end:?}");
    let all = events_of(&h.bus, &r).await;
    assert_eq!(terminals(&all).len(), 1, "{all:?}");
    let accepted: Vec<&Envelope> = all.iter().filter(|e| e.kind == "accepted").collect();
    assert_eq!(accepted.len(), 2, "run, stopped, resumed: {all:?}");
    assert_eq!(accepted[1].data["resumed"], json!(true));
}

#[tokio::test]
async fn a_redis_restart_with_persistence_lets_the_request_end_once() {
    // A server of the test's own: an external one cannot be restarted.
    let redis = RedisServer::start_private(true);
    let mut h = Harness::start_with(redis, 1, |_, _| {}).await;
    let r = send_ping(&h, 4000).await;
    wait_in_flight(&h.bus, &r, true).await;

    h.redis.restart();

    let end = terminal_of(&h.bus, &r, Duration::from_secs(30)).await;
    assert_eq!(end.kind, "pong", "{end:?}");
    let all = events_of(&h.bus, &r).await;
    assert_eq!(terminals(&all).len(), 1, "{all:?}");
    assert!(
        all.iter().any(|e| e.kind == "accepted"),
        "the events from before the restart are kept: {all:?}"
    );
}

#[tokio::test]
async fn a_redis_restart_without_persistence_ends_the_request_with_one_error_saying_so() {
    // A server of the test's own: an external one cannot be restarted.
    let mut h = Harness::start_with(RedisServer::start_private(false), 1, |_, _| {}).await;
    let r = send_ping(&h, 10_000).await;
    wait_in_flight(&h.bus, &r, true).await;
    // A client follows the request from before the restart, as `pockitect` does.
    let mut follower = h.bus.event_reader("0-0").await.unwrap();

    h.redis.restart();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let end = 'follow: loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the follower never saw the request end"
        );
        match follower.next_batch(Duration::from_millis(500), 100).await {
            Ok(batch) => {
                for (_, e) in batch {
                    if e.request_id.as_ref() == Some(&r) && e.is_terminal() {
                        break 'follow e;
                    }
                }
            }
            // Redis is coming back: the reader reconnects on its next call.
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    assert_eq!(end.status, Some(Status::Error), "{end:?}");
    assert_eq!(
        end.data["code"],
        json!(ErrorCode::RedisStateLost),
        "{end:?}"
    );
    let message = end.message().unwrap_or_default().to_owned();
    assert!(message.contains("Redis lost"), "{message}");
    assert!(message.contains("safe"), "{message}");
    assert!(message.contains("idempotent"), "{message}");

    let all = events_of(&h.bus, &r).await;
    assert_eq!(terminals(&all).len(), 1, "{all:?}");
    assert_eq!(
        h.bus
            .done_event(&r)
            .await
            .unwrap()
            .map(|e| e.data["code"].clone()),
        Some(json!(ErrorCode::RedisStateLost))
    );
    // The worker is free again.
    let next = send_ping(&h, 0).await;
    let t = terminal_of(&h.bus, &next, Duration::from_secs(20)).await;
    assert_eq!(t.status, Some(Status::Success));
}

/// A copy of the example blueprint under another name.
pub fn blueprint(slug: &str) -> serde_json::Value {
    let text = include_str!("../../../projects/example-blog.json");
    let mut doc: serde_json::Value = serde_json::from_str(text).unwrap();
    doc["project"]["name"] = json!(slug);
    doc["project"]["slug"] = json!(slug);
    doc
}

#[tokio::test]
async fn an_inline_deploy_locks_the_slug_of_its_blueprint_not_the_project_field() {
    let h = Harness::start(1).await;
    let holder = RequestId::new();
    assert_eq!(
        h.bus
            .lock_project("blog", &holder, Duration::from_secs(60))
            .await
            .unwrap(),
        pockitect_bus::Lock::Taken
    );
    let r = RequestId::new();
    let cmd = json!({"type": "deploy", "request_id": r,
        "data": {"project": "something-else", "blueprint": blueprint("blog")}});
    xadd(&h, &cmd.to_string()).await;
    let t = terminal_of(&h.bus, &r, Duration::from_secs(20)).await;
    assert_eq!(t.data["code"], json!(ErrorCode::Locked), "{t:?}");
    assert!(
        t.message().is_some_and(|m| m.contains(holder.as_str())),
        "{t:?}"
    );

    // A blueprint that does not parse is refused before any lock is taken.
    let bad = RequestId::new();
    let cmd = json!({"type": "deploy", "request_id": bad,
        "data": {"project": "blog", "blueprint": {"project": 42}}});
    xadd(&h, &cmd.to_string()).await;
    let t = terminal_of(&h.bus, &bad, Duration::from_secs(20)).await;
    assert_eq!(t.data["code"], json!(ErrorCode::InvalidBlueprint), "{t:?}");
}

/// Key pairs made straight in moto (not through the proxy), untagged: a terminate with force
/// may delete them because it lists them one by one.
fn key_pairs(h: &Harness, prefix: &str, n: usize) -> Vec<String> {
    let names: Vec<String> = (0..n).map(|i| format!("{prefix}-{i:02}")).collect();
    let script = format!(
        "import boto3\nec2 = boto3.client('ec2', region_name='us-east-1', endpoint_url='{}', aws_access_key_id='testing', aws_secret_access_key='testing')\nfor n in {:?}:\n    ec2.create_key_pair(KeyName=n)\n",
        h.moto.endpoint(),
        names
    );
    crate::python(&script);
    names
}

/// How many of `names` moto still has.
fn remaining(h: &Harness, prefix: &str) -> usize {
    let script = format!(
        "import boto3\nec2 = boto3.client('ec2', region_name='us-east-1', endpoint_url='{}', aws_access_key_id='testing', aws_secret_access_key='testing')\nprint(len([k for k in ec2.describe_key_pairs()['KeyPairs'] if k['KeyName'].startswith('{prefix}-')]))",
        h.moto.endpoint()
    );
    let n = crate::python(&script);
    n.as_u64().unwrap_or_else(|| panic!("a count: {n}")) as usize
}

#[tokio::test]
async fn a_terminate_whose_lease_is_stolen_deletes_nothing_more_and_ends_once() {
    use pockitect_proto::{Command, ResourceType, TerminateArgs, TerminateTarget};
    use pockitect_testkit::DelayProxy;

    let mut proxy = None;
    let h = Harness::start_with(RedisServer::start(), 1, |s, moto| {
        // As slow as the real service, so the terminate is mid-way when its lease is stolen
        // (64 deletions, 8 at a time, a second each).
        let p = DelayProxy::start(moto.endpoint(), Duration::from_millis(1000));
        s.aws_endpoint_url = Some(p.endpoint());
        proxy = Some(p);
    })
    .await;
    let proxy = proxy.expect("the proxy was started");
    let prefix = unique("steal");
    let names = key_pairs(&h, &prefix, 64);
    let targets: Vec<TerminateTarget> = names
        .iter()
        .map(|n| TerminateTarget {
            id: n.clone(),
            kind: ResourceType::KeyPair,
            region: "us-east-1".into(),
        })
        .collect();
    let terminate = |dry_run| {
        Command::Terminate(TerminateArgs {
            targets: targets.clone(),
            force: true,
            dry_run,
            final_snapshot: false,
        })
    };
    // The stolen copy resumes without asking for the approval again: what is left of the plan
    // is not what was approved, and the request was approved once.
    let sent = crate::send_approved(&h.bus, &terminate(true), &terminate(false)).await;
    let r = sent.request_id;

    // Once a second round of deletions has started (the first 8 are gone), another consumer
    // takes the lease over.
    eventually(
        "a second round of deletions",
        Duration::from_secs(30),
        || {
            let bus = h.bus.clone();
            let r = r.clone();
            async move {
                let events = events_of(&bus, &r).await;
                let started = events
                    .iter()
                    .filter(|e| e.kind == "terminate_progress" && e.data["action"] == "deleting")
                    .count();
                (started > 8).then_some(())
            }
        },
    )
    .await;
    let mut conn = redis::Client::open(h.redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let claim = h.bus.keys().claim(r.as_str());
    let () = redis::cmd("SET")
        .arg(&claim)
        .arg("intruder")
        .arg("PX")
        .arg(60_000)
        .query_async(&mut conn)
        .await
        .unwrap();

    // The first copy stops at a safe point: the calls in the air land, no new one starts.
    wait_in_flight(&h.bus, &r, false).await;

    eventually("no AWS call in the air", Duration::from_secs(10), || {
        let (arrived, done) = (proxy.arrived(), proxy.requests());
        async move { (arrived == done).then_some(()) }
    })
    .await;
    let left = remaining(&h, &prefix);
    assert!(left > 0, "the terminate was not stopped mid-way");
    let calls = proxy.requests();
    // Absence over a span cannot be polled for: this wait proves nothing more is deleted by
    // the stopped copy (at a second a call, 8 at a time, it would have deleted more by now).
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(proxy.requests(), calls, "the stopped copy made AWS calls");
    assert_eq!(remaining(&h, &prefix), left, "deleted after the steal");
    assert!(h.bus.done_event(&r).await.unwrap().is_none());
    assert!(terminals(&events_of(&h.bus, &r).await).is_empty());

    // The intruder goes away: the pool resumes the request, which finishes and ends once.
    let () = redis::cmd("DEL")
        .arg(&claim)
        .query_async(&mut conn)
        .await
        .unwrap();
    let end = terminal_of(&h.bus, &r, Duration::from_secs(90)).await;
    assert_eq!(end.status, Some(Status::Success), "{end:?}");
    assert_eq!(remaining(&h, &prefix), 0);
    assert_eq!(terminals(&events_of(&h.bus, &r).await).len(), 1);
}
