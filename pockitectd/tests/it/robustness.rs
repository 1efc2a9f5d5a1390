//! Bad input never kills a worker; shutdown is graceful.

use std::time::Duration;

use pockitect_proto::{Command, Envelope, ErrorCode, ErrorPayload, PingArgs, RequestId, Status};
use serde_json::json;

use crate::Harness;

async fn ping_roundtrip(h: &Harness) {
    let sent = h
        .bus
        .send(&Command::Ping(PingArgs::default()))
        .await
        .unwrap();
    let t = crate::terminal_of(&h.bus, &sent.request_id, Duration::from_secs(20)).await;
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
        let t = crate::terminal_of(&h.bus, id, Duration::from_secs(20)).await;
        assert_eq!(t.status, Some(Status::Error));
        assert_eq!(t.data["code"], json!(code), "{t:?}");
        assert!(t.message().is_some_and(|m| !m.is_empty()));
    }
    // Every refusal's data is an `ErrorPayload`; a wrong argument is named by its path.
    let t = crate::terminal_of(&h.bus, &cases[0].0, Duration::from_secs(20)).await;
    let payload: ErrorPayload = serde_json::from_value(t.data.clone()).expect("an ErrorPayload");
    assert_eq!(payload.code, ErrorCode::InvalidArguments);
    assert!(
        payload.message.contains("data.regions: invalid type"),
        "{}",
        payload.message
    );
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
async fn shutdown_stops_in_flight_work_at_a_safe_point_and_another_daemon_ends_it_once() {
    let mut h = Harness::start(1).await;
    let id = RequestId::new();
    let payload = json!({"type": "ping", "request_id": id, "data": {"delay_ms": 5000}});
    h.bus
        .enqueue_raw(id.as_str(), &payload.to_string())
        .await
        .unwrap();
    crate::wait_in_flight(&h.bus, &id, true).await;
    h.token.cancel();
    tokio::time::timeout(Duration::from_secs(15), &mut h.handle)
        .await
        .expect("daemon stops")
        .unwrap()
        .unwrap();
    // Cancelled at a safe point and left pending: neither finished nor failed.
    assert!(h.bus.done_event(&id).await.unwrap().is_none());
    assert!(
        h.bus.daemons().await.unwrap().is_empty(),
        "heartbeat removed on shutdown"
    );

    let (token, handle) = h.spawn_daemon();
    let end = crate::terminal_of(&h.bus, &id, Duration::from_secs(40)).await;
    assert_eq!(end.status, Some(Status::Success), "{end:?}");
    let ends: Vec<Envelope> = crate::events_of(&h.bus, &id)
        .await
        .into_iter()
        .filter(Envelope::is_terminal)
        .collect();
    assert_eq!(ends.len(), 1, "{ends:?}");
    token.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(15), handle).await;
    drop(h.redis);
}
