//! Bad input never kills a worker; shutdown is graceful.

use std::time::Duration;

use pockitect_proto::{Command, Envelope, ErrorCode, PingArgs, RequestId, Status};
use serde_json::json;

use crate::Harness;

/// Follows the replay stream until `id`'s terminal event.
async fn terminal_of(h: &Harness, id: &RequestId) -> Envelope {
    let mut reader = h.bus.event_reader("0-0").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no terminal event for {id}"
        );
        for (_, e) in reader
            .next_batch(Duration::from_millis(500), 100)
            .await
            .unwrap()
        {
            if e.request_id.as_ref() == Some(id) && e.is_terminal() {
                return e;
            }
        }
    }
}

async fn ping_roundtrip(h: &Harness) {
    let sent = h
        .bus
        .send(&Command::Ping(PingArgs::default()))
        .await
        .unwrap();
    let t = terminal_of(h, &sent.request_id).await;
    assert_eq!(t.status, Some(Status::Success), "{t:?}");
}

#[tokio::test]
async fn malformed_oversized_and_wrongly_typed_commands_get_errors_and_workers_stay_up() {
    let h = Harness::start(2).await;
    let cases: Vec<(RequestId, String, ErrorCode)> = {
        let a = RequestId::new();
        let b = RequestId::new();
        let c = RequestId::new();
        let d = RequestId::new();
        let big = "x".repeat(pockitect_proto::MAX_COMMAND_BYTES + 10);
        vec![
            (
                a.clone(),
                format!(r#"{{"type": "scan", "request_id": "{a}", "data": {{"regions": 42}}}}"#),
                ErrorCode::InvalidArguments,
            ),
            (
                b.clone(),
                format!(r#"{{"type": "launch_rockets", "request_id": "{b}"}}"#),
                ErrorCode::UnknownCommand,
            ),
            (
                c.clone(),
                format!(r#"{{"type": "scan", "request_id": "{c}", "data": {{"pad": "{big}"}}}}"#),
                ErrorCode::TooLarge,
            ),
            (
                d.clone(),
                format!(r#"{{"type": 7, "request_id": "{d}"}}"#),
                ErrorCode::Malformed,
            ),
        ]
    };
    for (id, payload, _) in &cases {
        assert!(h.bus.enqueue_raw(id.as_str(), payload).await.unwrap());
    }
    // Garbage without any id: dead-lettered silently (nobody to answer).
    h.bus
        .enqueue_raw("garbage", "\u{0}\u{1} not json")
        .await
        .unwrap();
    for (id, _, code) in &cases {
        let t = terminal_of(&h, id).await;
        assert_eq!(t.status, Some(Status::Error));
        assert_eq!(t.data["code"], json!(code), "{t:?}");
        assert!(t.message().is_some_and(|m| !m.is_empty()));
    }
    pockitect_testkit::eventually("5 dead letters", Duration::from_secs(10), || {
        let bus = h.bus.clone();
        async move { (bus.dead_letter_len().await.ok()? == 5).then_some(()) }
    })
    .await;
    // Every worker still answers.
    for _ in 0..4 {
        ping_roundtrip(&h).await;
    }
}

#[tokio::test]
async fn shutdown_finishes_in_flight_work_and_removes_the_heartbeat() {
    let h = Harness::start(1).await;
    let sent = h
        .bus
        .send(&Command::Ping(PingArgs { delay_ms: 300 }))
        .await
        .unwrap();
    pockitect_testkit::eventually("the ping in flight", Duration::from_secs(10), || {
        let bus = h.bus.clone();
        async move {
            bus.daemons()
                .await
                .ok()?
                .iter()
                .any(|d| !d.in_flight.is_empty())
                .then_some(())
        }
    })
    .await;
    h.token.cancel();
    tokio::time::timeout(Duration::from_secs(15), h.handle)
        .await
        .expect("daemon stops")
        .unwrap()
        .unwrap();
    let done = h
        .bus
        .done_event(&sent.request_id)
        .await
        .unwrap()
        .expect("the in-flight ping finished within the grace period");
    assert_eq!(done.status, Some(Status::Success));
    assert!(
        h.bus.daemons().await.unwrap().is_empty(),
        "heartbeat removed on shutdown"
    );
    drop(h.redis);
}
