//! The bus task against a real redis-server: history replayed at start, live events followed,
//! commands and cancels carried out, heartbeats polled, and a Redis that goes away reported
//! and reconnected to by itself.

use std::time::{Duration, Instant};

use chrono::Utc;
use pockitect_bus::{Bus, BusConfig};
use pockitect_proto::{Command, DaemonHeartbeat, Envelope, PingArgs, RequestId, Status};
use pockitect_testkit::{RedisServer, unique};
use pockitect_tui::app::{BusMsg, Effect};
use pockitect_tui::bus_task::{self, BusSettings};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

struct Harness {
    ui: mpsc::Receiver<BusMsg>,
    effects: mpsc::UnboundedSender<Effect>,
    token: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Harness {
    fn start(url: &str, prefix: &str) -> Self {
        let token = CancellationToken::new();
        let (ui_tx, ui) = mpsc::channel(64);
        let (effects, eff_rx) = mpsc::unbounded_channel();
        let mut settings = BusSettings::new(url, prefix);
        settings.poll_every = Duration::from_millis(200);
        let task = bus_task::spawn(settings, token.clone(), eff_rx, ui_tx);
        Self {
            ui,
            effects,
            token,
            task,
        }
    }

    /// The next message that `pick` accepts, within 15 s.
    async fn expect<T>(&mut self, what: &str, mut pick: impl FnMut(BusMsg) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.ui.recv()).await {
                Ok(Some(m)) => {
                    if let Some(t) = pick(m) {
                        return t;
                    }
                }
                Ok(None) => panic!("bus task ended while waiting for {what}"),
                Err(_) => panic!("no {what} within 15 s"),
            }
        }
    }

    async fn stop(self) {
        self.token.cancel();
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("bus task stops when cancelled")
            .expect("bus task did not panic");
    }
}

fn ev(rid: &RequestId, step: u64) -> Envelope {
    Envelope::event(
        "progress",
        Some(rid.clone()),
        None,
        Status::InProgress,
        json!({"step": step, "total": 10}),
    )
}

fn steps(events: &[Envelope]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| e.data["step"].as_u64())
        .collect()
}

fn heartbeat() -> DaemonHeartbeat {
    DaemonHeartbeat {
        id: "d1".into(),
        version: "0.1.0".into(),
        host: "h".into(),
        pid: 1,
        workers: 2,
        in_flight: vec![],
        started_at: Utc::now(),
        last_seen: Utc::now(),
        handled: 0,
        secrets: None,
    }
}

#[tokio::test]
async fn replays_follows_sends_cancels_and_polls() {
    let redis = RedisServer::start();
    let prefix = unique("tui");
    let bus = Bus::connect(BusConfig::new(redis.url(), &prefix))
        .await
        .unwrap();
    let rid = RequestId::new();
    for step in 1..=3 {
        bus.publish_event(&ev(&rid, step)).await.unwrap();
    }
    let mut h = Harness::start(redis.url(), &prefix);
    h.expect("Connected", |m| (m == BusMsg::Connected).then_some(()))
        .await;
    let replayed = h
        .expect("the replayed history", |m| match m {
            BusMsg::Events {
                events,
                replay: true,
            } => Some(events),
            _ => None,
        })
        .await;
    assert_eq!(steps(&replayed), [1, 2, 3]);

    // Live events follow, with nothing repeated.
    bus.publish_event(&ev(&rid, 4)).await.unwrap();
    let live = h
        .expect("a live event", |m| match m {
            BusMsg::Events {
                events,
                replay: false,
            } => Some(events),
            _ => None,
        })
        .await;
    assert_eq!(steps(&live), [4]);

    // Heartbeats and Redis health are polled.
    bus.put_heartbeat(&heartbeat(), Duration::from_secs(30))
        .await
        .unwrap();
    h.expect("a daemon heartbeat", |m| match m {
        BusMsg::Daemons(d) if d.len() == 1 => Some(()),
        _ => None,
    })
    .await;
    h.expect("redis health", |m| match m {
        BusMsg::Health(_) => Some(()),
        _ => None,
    })
    .await;

    // A command goes onto the stream with the id the model chose.
    let mut reader = bus
        .command_reader("test", Duration::from_secs(30))
        .await
        .unwrap();
    let sent = RequestId::new();
    let approval = pockitect_proto::Approval {
        plan_digest: Some(pockitect_proto::PlanDigest::of(["stop x".to_owned()])),
        override_policy: false,
    };
    h.effects
        .send(Effect::Batch(vec![
            Effect::Send {
                request_id: sent.clone(),
                command: Command::Ping(PingArgs::default()),
                approval: Some(approval.clone()),
            },
            Effect::Cancel(rid.clone()),
        ]))
        .unwrap();
    let d = reader
        .next(Duration::from_secs(5))
        .await
        .unwrap()
        .expect("the command arrives");
    let env: Envelope = serde_json::from_str(&d.payload).unwrap();
    assert_eq!(env.kind, "ping");
    assert_eq!(env.request_id, Some(sent));
    // It names its sender (the audit trail records it) and carries the approval it was given.
    assert_eq!(env.approval, Some(approval));
    let client = env.client.expect("the console names itself");
    assert_eq!(client.kind, pockitect_proto::ClientKind::Tui);
    assert!(client.host.is_some());
    let deadline = Instant::now() + Duration::from_secs(5);
    while !bus.is_cancel_requested(&rid).await.unwrap() {
        assert!(Instant::now() < deadline, "cancel flag never set");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    h.stop().await;
}

#[tokio::test]
async fn history_replay_is_bounded_to_the_newest_events() {
    let redis = RedisServer::start();
    let prefix = unique("tui");
    let bus = Bus::connect(BusConfig::new(redis.url(), &prefix))
        .await
        .unwrap();
    let rid = RequestId::new();
    for step in 0..1_200 {
        bus.publish_event(&ev(&rid, step)).await.unwrap();
    }
    let token = CancellationToken::new();
    let (ui_tx, mut ui) = mpsc::channel(64);
    let (_effects, eff_rx) = mpsc::unbounded_channel();
    let mut settings = BusSettings::new(redis.url(), &prefix);
    settings.replay = 700;
    let task = bus_task::spawn(settings, token.clone(), eff_rx, ui_tx);
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while got.len() < 700 {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, ui.recv()).await {
            Ok(Some(BusMsg::Events {
                events,
                replay: true,
            })) => got.extend(steps(&events)),
            Ok(Some(_)) => {}
            other => panic!("replay incomplete ({} events): {other:?}", got.len()),
        }
    }
    assert_eq!(got.len(), 700);
    assert_eq!(got.first(), Some(&500));
    assert_eq!(got.last(), Some(&1_199));
    token.cancel();
    let _ = task.await;
}

#[tokio::test]
async fn a_redis_that_goes_away_is_reported_and_reconnected() {
    if std::env::var("POCKITECT_TEST_REDIS_URL").is_ok() {
        eprintln!("an external Redis cannot be stopped by this test; it runs with a private one");
        return;
    }
    let mut redis = RedisServer::start();
    let prefix = unique("tui");
    let mut h = Harness::start(redis.url(), &prefix);
    h.expect("Connected", |m| (m == BusMsg::Connected).then_some(()))
        .await;
    redis.stop();
    let reason = h
        .expect("Disconnected", |m| match m {
            BusMsg::Disconnected(r) => Some(r),
            _ => None,
        })
        .await;
    assert!(!reason.is_empty());
    // Commands while Redis is away are refused at once, not queued forever.
    let rid = RequestId::new();
    h.effects
        .send(Effect::Send {
            request_id: rid.clone(),
            command: Command::Ping(PingArgs::default()),
            approval: None,
        })
        .unwrap();
    let failed = h
        .expect("SendFailed", |m| match m {
            BusMsg::SendFailed { request_id, reason } => Some((request_id, reason)),
            _ => None,
        })
        .await;
    assert_eq!(failed.0, rid);

    redis.restart();
    h.expect("Connected again", |m| {
        (m == BusMsg::Connected).then_some(())
    })
    .await;
    // The new Redis is empty; events published now still reach the console.
    let bus = Bus::connect(BusConfig::new(redis.url(), &prefix))
        .await
        .unwrap();
    let after = RequestId::new();
    bus.publish_event(&ev(&after, 9)).await.unwrap();
    let got = h
        .expect("an event after the restart", |m| match m {
            BusMsg::Events { events, .. } => {
                let s = steps(&events);
                s.contains(&9).then_some(s)
            }
            _ => None,
        })
        .await;
    assert_eq!(got, [9]);
    h.stop().await;
}
