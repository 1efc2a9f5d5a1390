//! The only code that talks to Redis. It runs apart from drawing and reports through a channel:
//! connects (retrying with backoff, saying so each time it fails), replays recent history from
//! the events stream, follows new events on a connection of its own, polls heartbeats and
//! queue depth every couple of seconds, and carries out the effects `update` asks for. After a
//! drop it resumes from the last event it delivered, so nothing is missed or shown twice. The
//! answers to the console's own queries wait apart from the shared events (see
//! `pockitect_bus::Bus::answer`): when such a query ends, the whole answer is read and handed
//! to the UI in place of the summary the events stream carries.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pockitect_bus::local::{Locator, Resolved, Source};
use pockitect_bus::{Bus, BusConfig, BusError, EventReader};
use pockitect_proto::{ClientKind, Envelope, ErrorCode, RequestId, Status, event_type};
use tokio::sync::mpsc::{Sender, UnboundedReceiver};
use tokio::task::JoinHandle;
use tokio::time::{MissedTickBehavior, timeout};
use tokio_util::sync::CancellationToken;

use crate::app::{BusMsg, Effect, Health};

const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
const READ_BLOCK: Duration = Duration::from_secs(2);
const PAGE: usize = 500;
/// Reading a whole estate (megabytes) can take longer than a small call.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

/// The console's queries still waiting for their answer.
type Asked = Arc<Mutex<HashSet<RequestId>>>;

#[derive(Clone, Debug)]
pub struct BusSettings {
    /// The configured URL. None: found at each attempt as the CLI finds it (the daemon's
    /// private server, else the default address: `pockitect_bus::local`), so a daemon started
    /// after the console is found.
    pub url: Option<String>,
    pub prefix: String,
    /// How many of the newest events to replay at start.
    pub replay: usize,
    pub poll_every: Duration,
}

impl BusSettings {
    /// Settings for the Redis at `url`.
    pub fn new(url: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self::found(Some(url.into()), prefix)
    }

    /// Settings for the configured URL if any, else the Redis found as the CLI finds it.
    pub fn found(url: Option<String>, prefix: impl Into<String>) -> Self {
        Self {
            url,
            prefix: prefix.into(),
            replay: 2_000,
            poll_every: Duration::from_secs(2),
        }
    }
}

/// Starts the task; it ends when `token` is cancelled or the UI side of a channel closes.
pub fn spawn(
    settings: BusSettings,
    token: CancellationToken,
    effects: UnboundedReceiver<Effect>,
    ui: Sender<BusMsg>,
) -> JoinHandle<()> {
    tokio::spawn(run(settings, token, effects, ui))
}

enum End {
    Stop,
    Lost(String),
}

fn reason(e: &BusError) -> String {
    match e {
        // The banner shows the URL already.
        BusError::Connect { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

pub async fn run(
    settings: BusSettings,
    token: CancellationToken,
    mut effects: UnboundedReceiver<Effect>,
    ui: Sender<BusMsg>,
) {
    let mut position: Option<String> = None;
    let asked: Asked = Arc::default();
    let mut backoff = FIRST_BACKOFF;
    let mut shown: Option<String> = None;
    loop {
        let attempt = tokio::select! {
            _ = token.cancelled() => return,
            r = timeout(CALL_TIMEOUT, connect(&settings)) => match r {
                Ok(r) => r,
                Err(_) => Err(format!("no answer in {} s", CALL_TIMEOUT.as_secs())),
            },
        };
        let failure = match attempt {
            Ok((bus, redis)) => {
                backoff = FIRST_BACKOFF;
                let which = describe(&redis);
                tracing::info!(redis = %which, "connected to redis");
                if shown.as_ref() != Some(&which) {
                    shown = Some(which.clone());
                    if ui.send(BusMsg::Redis(which)).await.is_err() {
                        return;
                    }
                }
                match session(
                    &bus,
                    &settings,
                    &token,
                    &mut effects,
                    &ui,
                    &mut position,
                    &asked,
                )
                .await
                {
                    End::Stop => return,
                    End::Lost(r) => r,
                }
            }
            Err(r) => r,
        };
        tracing::warn!(reason = %failure, "redis unavailable");
        if ui.send(BusMsg::Disconnected(failure)).await.is_err() {
            return;
        }
        if !pause(backoff, &token, &mut effects, &ui).await {
            return;
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn connect(s: &BusSettings) -> Result<(Bus, Resolved), String> {
    let redis = Locator::from_env()
        .resolve(s.url.as_deref())
        .await
        .map_err(|e| e.to_string())?;
    let bus = Bus::connect(BusConfig::new(&redis.url, &s.prefix))
        .await
        .map_err(|e| reason(&e))?
        .identified_as(ClientKind::Tui);
    bus.ping().await.map_err(|e| reason(&e))?;
    Ok((bus, redis))
}

/// The Redis in use and why, for the screen (no password).
pub fn describe(redis: &Resolved) -> String {
    let why = match redis.source {
        Source::Explicit => "configured",
        Source::Private { .. } => "the daemon's private server",
        Source::DefaultAddress => "default address",
    };
    format!("{} ({why})", pockitect_bus::redact_url(&redis.url))
}

/// Waits before the next attempt, refusing effects meanwhile. False when it is time to stop.
async fn pause(
    d: Duration,
    token: &CancellationToken,
    effects: &mut UnboundedReceiver<Effect>,
    ui: &Sender<BusMsg>,
) -> bool {
    let sleep = tokio::time::sleep(d);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            _ = token.cancelled() => return false,
            _ = &mut sleep => return true,
            e = effects.recv() => match e {
                None => return false,
                Some(e) => {
                    for e in e.flatten() {
                        if let Some(id) = match e {
                            Effect::Send { request_id, .. } | Effect::Cancel(request_id) => Some(request_id),
                            _ => None,
                        } {
                            let msg = BusMsg::SendFailed {
                                request_id: id,
                                reason: "not connected to Redis".to_owned(),
                            };
                            if ui.send(msg).await.is_err() {
                                return false;
                            }
                        }
                    }
                }
            },
        }
    }
}

async fn session(
    bus: &Bus,
    settings: &BusSettings,
    token: &CancellationToken,
    effects: &mut UnboundedReceiver<Effect>,
    ui: &Sender<BusMsg>,
    position: &mut Option<String>,
    asked: &Asked,
) -> End {
    if ui.send(BusMsg::Connected).await.is_err() {
        return End::Stop;
    }
    let start = match catch_up(bus, position.as_deref(), settings.replay, ui, asked).await {
        Ok(Some(p)) => p,
        Ok(None) => return End::Stop,
        Err(e) => return End::Lost(e),
    };
    *position = Some(start.clone());
    let reader = match bus.event_reader(start.clone()).await {
        Ok(r) => r,
        Err(e) => return End::Lost(reason(&e)),
    };
    let delivered = Arc::new(Mutex::new(start));
    let mut follower = tokio::spawn(follow(
        reader,
        bus.clone(),
        asked.clone(),
        ui.clone(),
        delivered.clone(),
    ));
    let mut poll = tokio::time::interval(settings.poll_every);
    poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let end = loop {
        tokio::select! {
            biased;
            _ = token.cancelled() => break End::Stop,
            r = &mut follower => break match r {
                Ok(Some(e)) => End::Lost(e),
                Ok(None) => End::Stop,
                Err(e) => End::Lost(format!("event reader stopped: {e}")),
            },
            e = effects.recv() => match e {
                None => break End::Stop,
                Some(e) => {
                    for e in e.flatten() {
                        execute(bus, e, ui, asked).await;
                    }
                }
            },
            _ = poll.tick() => {
                if let Err(e) = poll_health(bus, ui).await {
                    break End::Lost(e);
                }
            }
        }
    };
    follower.abort();
    *position = Some(lock(&delivered).clone());
    end
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `env`, or for the terminal event of one of the console's own queries, its whole answer
/// (an error event saying why, when it cannot be read).
async fn resolve(bus: &Bus, asked: &Asked, env: Envelope) -> Envelope {
    if !env.is_terminal() {
        return env;
    }
    let Some(id) = env.request_id.clone() else {
        return env;
    };
    if !lock(asked).remove(&id) {
        return env;
    }
    let (code, message) = match timeout(ANSWER_TIMEOUT, bus.answer(env.clone())).await {
        Ok(Ok(full)) => return full,
        Ok(Err(e @ BusError::ReplyExpired { .. })) => (ErrorCode::NotFound, e.to_string()),
        Ok(Err(e)) => (
            ErrorCode::Internal,
            format!("read the answer: {}; ask again", reason(&e)),
        ),
        Err(_) => (
            ErrorCode::Internal,
            format!(
                "read the answer: redis did not answer in {} s; ask again",
                ANSWER_TIMEOUT.as_secs()
            ),
        ),
    };
    tracing::warn!(request_id = %id, reason = %message, "could not read a query's answer");
    Envelope::event(
        event_type::ERROR,
        Some(id),
        env.project_id,
        Status::Error,
        serde_json::json!({ "code": code, "message": message }),
    )
}

/// Orders stream ids (`<ms>-<seq>`).
fn stream_id(id: &str) -> (u64, u64) {
    let (a, b) = id.split_once('-').unwrap_or((id, "0"));
    (a.parse().unwrap_or(0), b.parse().unwrap_or(0))
}

/// Sends what was missed: from `position` after a drop, or the newest `limit` events at first
/// start (also when Redis lost its data and the stream starts over). Returns where to follow
/// from, or None when the UI is gone.
async fn catch_up(
    bus: &Bus,
    position: Option<&str>,
    limit: usize,
    ui: &Sender<BusMsg>,
    asked: &Asked,
) -> Result<Option<String>, String> {
    let last = timeout(CALL_TIMEOUT, bus.last_event_id())
        .await
        .map_err(|_| "no answer in 5 s".to_owned())?
        .map_err(|e| reason(&e))?;
    let (mut cursor, replay) = match position {
        Some(p) if stream_id(&last) >= stream_id(p) => (p.to_owned(), false),
        _ => ("0-0".to_owned(), true),
    };
    let mut buf: VecDeque<Envelope> = VecDeque::new();
    loop {
        let page = timeout(Duration::from_secs(15), bus.events_after(&cursor, PAGE))
            .await
            .map_err(|_| "no answer in 15 s".to_owned())?
            .map_err(|e| reason(&e))?;
        let n = page.len();
        if let Some((id, _)) = page.last() {
            cursor = id.clone();
        }
        for (_, env) in page {
            if replay && buf.len() >= limit {
                buf.pop_front();
            }
            let env = if replay {
                env
            } else {
                resolve(bus, asked, env).await
            };
            buf.push_back(env);
        }
        if !replay && !buf.is_empty() {
            let events = buf.drain(..).collect();
            if ui
                .send(BusMsg::Events {
                    events,
                    replay: false,
                })
                .await
                .is_err()
            {
                return Ok(None);
            }
        }
        if n < PAGE {
            break;
        }
    }
    if replay {
        tracing::info!(events = buf.len(), "replaying history");
        while !buf.is_empty() {
            let take = buf.len().min(PAGE);
            let events: Vec<Envelope> = buf.drain(..take).collect();
            if ui
                .send(BusMsg::Events {
                    events,
                    replay: true,
                })
                .await
                .is_err()
            {
                return Ok(None);
            }
        }
    }
    Ok(Some(cursor))
}

/// Follows the events stream until an error (Some(reason)) or the UI goes away (None).
async fn follow(
    mut reader: EventReader,
    bus: Bus,
    asked: Asked,
    ui: Sender<BusMsg>,
    delivered: Arc<Mutex<String>>,
) -> Option<String> {
    loop {
        let batch = match timeout(
            READ_BLOCK + Duration::from_secs(10),
            reader.next_batch(READ_BLOCK, 512),
        )
        .await
        {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => return Some(reason(&e)),
            Err(_) => return Some("redis did not answer a read in 12 s".to_owned()),
        };
        if !batch.is_empty() {
            let mut events = Vec::with_capacity(batch.len());
            for (_, env) in batch {
                events.push(resolve(&bus, &asked, env).await);
            }
            if ui
                .send(BusMsg::Events {
                    events,
                    replay: false,
                })
                .await
                .is_err()
            {
                return None;
            }
        }
        // Also past undecodable entries, which the reader skips.
        *lock(&delivered) = reader.position().to_owned();
    }
}

async fn execute(bus: &Bus, effect: Effect, ui: &Sender<BusMsg>, asked: &Asked) {
    let (id, result) = match effect {
        Effect::Send {
            request_id,
            command,
            approval,
        } => {
            let env = Envelope::command(
                &command,
                request_id.clone(),
                bus.client().cloned(),
                approval,
            );
            tracing::info!(request_id = %request_id, kind = command.kind(), "sending command");
            if command.is_query() {
                lock(asked).insert(request_id.clone());
            }
            let r = timeout(CALL_TIMEOUT, bus.enqueue(&env))
                .await
                .map(|r| r.map(|_| ()));
            if !matches!(r, Ok(Ok(()))) {
                lock(asked).remove(&request_id);
            }
            (request_id, r)
        }
        Effect::Cancel(request_id) => {
            tracing::info!(request_id = %request_id, "requesting cancel");
            let r = timeout(CALL_TIMEOUT, bus.request_cancel(&request_id)).await;
            (request_id, r)
        }
        Effect::Batch(_) | Effect::Quit => return,
    };
    let failure = match result {
        Ok(Ok(())) => return,
        Ok(Err(e)) => reason(&e),
        Err(_) => format!("redis did not answer in {} s", CALL_TIMEOUT.as_secs()),
    };
    tracing::warn!(request_id = %id, reason = %failure, "could not send");
    let _ = ui
        .send(BusMsg::SendFailed {
            request_id: id,
            reason: failure,
        })
        .await;
}

async fn poll_health(bus: &Bus, ui: &Sender<BusMsg>) -> Result<(), String> {
    async fn call<T>(f: impl Future<Output = Result<T, BusError>>) -> Result<T, String> {
        match timeout(CALL_TIMEOUT, f).await {
            Ok(r) => r.map_err(|e| reason(&e)),
            Err(_) => Err(format!("no answer in {} s", CALL_TIMEOUT.as_secs())),
        }
    }
    let t0 = Instant::now();
    call(bus.ping()).await?;
    let latency_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let daemons = call(bus.daemons()).await?;
    let (waiting, pending) = call(bus.backlog()).await?;
    let sent = ui.send(BusMsg::Daemons(daemons)).await.is_ok()
        && ui
            .send(BusMsg::Health(Health {
                latency_ms,
                waiting,
                pending,
            }))
            .await
            .is_ok();
    if sent {
        Ok(())
    } else {
        Err("console closed".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_order_numerically() {
        assert!(stream_id("10-0") > stream_id("9-5"));
        assert!(stream_id("5-10") > stream_id("5-9"));
        assert_eq!(stream_id("0-0"), (0, 0));
    }
}
