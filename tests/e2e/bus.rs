//! The bus protocol across daemon processes.

use std::collections::HashMap;
use std::time::Duration;

use pockitect_proto::{Command, PingArgs, RequestId, Status};
use serde_json::json;

use crate::Env;

#[tokio::test]
async fn fifty_commands_over_two_daemons_each_end_exactly_once() {
    let env = Env::new().await;
    let _a = env.daemon("a", 3);
    let _b = env.daemon("b", 3);
    env.wait_daemons(2).await;
    let mut ids = Vec::new();
    for _ in 0..50 {
        ids.push(
            env.bus
                .send(&Command::Ping(PingArgs { delay_ms: 20 }))
                .await
                .unwrap()
                .request_id,
        );
    }
    let mut handled_by: HashMap<String, usize> = HashMap::new();
    for id in &ids {
        let events = env.events_of(id, Duration::from_secs(60)).await;
        let terminals: Vec<_> = events.iter().filter(|e| e.is_terminal()).collect();
        assert_eq!(terminals.len(), 1, "request {id}: {events:?}");
        assert_eq!(terminals[0].status, Some(Status::Success));
        let daemon = terminals[0].data["daemon"].as_str().unwrap().to_owned();
        *handled_by.entry(daemon).or_default() += 1;
    }
    // Let any straggler duplicate show up, then check again that nothing was handled twice.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let all = env.bus.events_after("0-0", 100_000).await.unwrap();
    let terminal_count = all.iter().filter(|(_, e)| e.is_terminal()).count();
    assert_eq!(terminal_count, 50);
    assert_eq!(
        env.bus.backlog().await.unwrap(),
        (0, 0),
        "everything acknowledged"
    );
    assert_eq!(handled_by.values().sum::<usize>(), 50);
}

#[tokio::test]
async fn a_killed_daemons_command_is_reclaimed_and_finished_by_another() {
    let env = Env::new().await;
    let mut doomed = env.daemon("doomed", 1);
    env.wait_daemons(1).await;
    let sent = env
        .bus
        .send(&Command::Ping(PingArgs { delay_ms: 1500 }))
        .await
        .unwrap();
    // Wait until the doomed daemon has it in flight, then SIGKILL it.
    pockitect_testkit::eventually("the ping in flight", Duration::from_secs(20), || {
        let bus = env.bus.clone();
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
    doomed.kill();
    let _rescuer = env.daemon("rescuer", 1);
    let events = env
        .events_of(&sent.request_id, Duration::from_secs(60))
        .await;
    let terminals: Vec<_> = events.iter().filter(|e| e.is_terminal()).collect();
    assert_eq!(terminals.len(), 1, "{events:?}");
    assert_eq!(terminals[0].status, Some(Status::Success));
    assert_eq!(terminals[0].data["daemon"], "rescuer");
    let resumed = events
        .iter()
        .any(|e| e.kind == "accepted" && e.data["resumed"] == json!(true));
    assert!(
        resumed,
        "the rescuer says it resumed the request: {events:?}"
    );
}

#[tokio::test]
async fn the_earlier_clients_publish_format_works() {
    let env = Env::new().await;
    let _a = env.daemon("a", 2);
    let _b = env.daemon("b", 2); // both hear the PUBLISH; only one may run it
    env.wait_daemons(2).await;
    let id = RequestId::new();
    let payload = json!({"type": "scan_all_regions", "data": {"regions": ["us-east-1"]}, "request_id": id.as_str()});
    let mut status = env.bus.subscribe_status().await.unwrap();
    let receivers = env
        .bus
        .publish_legacy_command(&payload.to_string())
        .await
        .unwrap();
    assert!(
        receivers >= 2,
        "both daemons subscribe to the legacy channel"
    );
    let events = env.events_of(&id, Duration::from_secs(60)).await;
    let terminals: Vec<_> = events.iter().filter(|e| e.is_terminal()).collect();
    assert_eq!(terminals.len(), 1);
    assert_eq!(terminals[0].kind, "scan_complete");
    assert!(
        events
            .iter()
            .any(|e| e.kind == "scan_chunk" && e.data["region"] == "us-east-1")
    );
    // The same events went live on the pub/sub status channel, in the envelope format.
    let msg = tokio::time::timeout(Duration::from_secs(5), async {
        use futures::StreamExt;
        status.on_message().next().await
    })
    .await
    .expect("a live status message")
    .expect("status channel open");
    let live: serde_json::Value =
        serde_json::from_str(&msg.get_payload::<String>().unwrap()).unwrap();
    assert_eq!(live["v"], 1);
    assert!(live["type"].is_string() && live["status"].is_string() && live["ts"].is_string());
}

#[tokio::test]
async fn a_client_that_starts_late_replays_what_it_missed() {
    let env = Env::new().await;
    let _d = env.daemon("d", 2);
    env.wait_daemons(1).await;
    let sent = env
        .bus
        .send(&Command::Ping(PingArgs::default()))
        .await
        .unwrap();
    env.events_of(&sent.request_id, Duration::from_secs(30))
        .await;
    // Only now does a client look: `watch` replays the finished request's events.
    let out = env
        .cli()
        .args(["watch", sent.request_id.as_str(), "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.first().unwrap()["type"], "accepted");
    assert_eq!(lines.last().unwrap()["type"], "pong");
    assert_eq!(lines.last().unwrap()["status"], "success");
}
