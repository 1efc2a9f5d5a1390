//! One listener of the pool: takes a command, takes its lease (and its project's lock), keeps
//! both alive while the handler works, and finishes with exactly one terminal event, acked in
//! the same atomic step. Bad input never ends the loop: it is dead-lettered and answered.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use pockitect_bus::{Claim, CommandReader, Delivery, Lock, Renewal};
use pockitect_proto::payload::Accepted;
use pockitect_proto::{
    Command, Envelope, ErrorCode, Event, InFlight, MAX_COMMAND_BYTES, RequestId, Status, event_type,
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::Daemon;
use crate::events::{Events, HandlerError, Outcome};
use crate::handlers;

/// How long one blocking read waits before looping (and noticing shutdown).
const READ_BLOCK: Duration = Duration::from_secs(2);

pub async fn listen(daemon: Arc<Daemon>, n: usize, shutdown: CancellationToken) {
    let consumer = format!("{}/w{n}", daemon.settings.daemon_id);
    let mut reader: Option<CommandReader> = None;
    let mut delay = Duration::from_millis(200);
    loop {
        if shutdown.is_cancelled() {
            break;
        }
        let r = match reader.as_mut() {
            Some(r) => r,
            None => match daemon
                .bus
                .command_reader(&consumer, daemon.settings.lease)
                .await
            {
                Ok(r) => {
                    delay = Duration::from_millis(200);
                    reader.insert(r)
                }
                Err(e) => {
                    tracing::warn!(consumer = %consumer, error = %e, "cannot read commands; retrying");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(Duration::from_secs(5));
                    continue;
                }
            },
        };
        let next = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            d = r.next(READ_BLOCK) => d,
        };
        match next {
            Ok(Some(d)) => handle_delivery(&daemon, &consumer, d, &shutdown).await,
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(consumer = %consumer, error = %e, "reading commands failed; reconnecting");
                reader = None;
            }
        }
    }
    tracing::debug!(consumer = %consumer, "listener stopped");
}

/// Pulls a usable request id out of a payload that is not a valid envelope, if it has one.
fn salvage_request_id(payload: &str) -> Option<RequestId> {
    #[derive(serde::Deserialize)]
    struct IdOnly {
        request_id: Option<String>,
    }
    let v: IdOnly = serde_json::from_str(payload).ok()?;
    RequestId::parse(v.request_id.as_deref()?).ok()
}

/// Refuses a command that cannot be run: dead-letter it, answer under its request id when it
/// has one, acknowledge. The answer is published only when that id is neither running nor
/// finished (checked atomically in Redis): a malformed command that reuses a live or finished
/// request's id must never end or replace that request, so it is dead-lettered only.
async fn refuse(
    daemon: &Daemon,
    d: &Delivery,
    request_id: Option<RequestId>,
    code: ErrorCode,
    message: String,
) {
    tracing::warn!(delivery = %d.id, code = ?code, reason = %message, "refusing a command");
    let stored: String = d.payload.chars().take(64 * 1024).collect();
    if let Err(e) = daemon.bus.dead_letter(&stored, &message).await {
        tracing::warn!(error = %e, "could not dead-letter a command");
    }
    match request_id {
        Some(id) => {
            let env = Envelope::event(
                event_type::ERROR,
                Some(id.clone()),
                None,
                Status::Error,
                json!({ "code": code, "message": message }),
            );
            match daemon.bus.refuse(&env, Some(&d.id)).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(
                    request_id = %id,
                    "a refused command names a request that is running or finished; dead-lettered only, that request is untouched"
                ),
                Err(e) => tracing::warn!(error = %e, "could not answer a refused command"),
            }
        }
        None => {
            if let Err(e) = daemon.bus.ack(&d.id).await {
                tracing::warn!(error = %e, "could not acknowledge a refused command");
            }
        }
    }
}

/// The project a command writes, as the daemon derives it: an inline blueprint's own slug
/// (where deploy writes ids back), never the `project` field sent beside it. Refresh locks
/// each project itself (one refresh may cover them all, skipping busy ones); plans and queries
/// write nothing. A blueprint that does not parse is refused here, before any lock.
fn project_to_lock(cmd: &Command) -> Result<Option<String>, HandlerError> {
    match cmd {
        Command::Deploy(a) => match &a.target.blueprint {
            Some(doc) => pockitect_blueprint::from_value(doc.clone())
                .map(|bp| Some(bp.slug().into_owned()))
                .map_err(|e| {
                    HandlerError::new(
                        ErrorCode::InvalidBlueprint,
                        format!("read the blueprint: {e}; fix the document and send it again"),
                    )
                }),
            None => Ok(a.target.project.clone()),
        },
        Command::Refresh(_) | Command::Plan(_) => Ok(None),
        other => Ok(other.project().map(str::to_owned)),
    }
}

async fn handle_delivery(
    daemon: &Arc<Daemon>,
    consumer: &str,
    d: Delivery,
    shutdown: &CancellationToken,
) {
    if d.payload.len() > MAX_COMMAND_BYTES {
        let msg = format!(
            "command of {} bytes is larger than the {} bytes a daemon accepts; send blueprints by project name and split long terminate lists",
            d.payload.len(),
            MAX_COMMAND_BYTES
        );
        refuse(
            daemon,
            &d,
            salvage_request_id(&d.payload),
            ErrorCode::TooLarge,
            msg,
        )
        .await;
        return;
    }
    let env: Envelope = match serde_json::from_str(&d.payload) {
        Ok(e) => e,
        Err(e) => {
            let msg = format!(
                "read command: {e}; expected a JSON object like {{\"type\": \"scan\", \"request_id\": \"<32 hex>\", \"data\": {{}}}}"
            );
            refuse(
                daemon,
                &d,
                salvage_request_id(&d.payload),
                ErrorCode::Malformed,
                msg,
            )
            .await;
            return;
        }
    };
    // A command sent to the stream without an id still gets a terminal event under a new one.
    let request_id = env.request_id.clone().unwrap_or_default();
    let cmd = match Command::parse(&env.kind, &env.data) {
        Ok(c) => c,
        Err(e) => {
            refuse(daemon, &d, Some(request_id), e.code(), e.to_string()).await;
            return;
        }
    };
    let lease = daemon.settings.lease;
    match daemon.bus.claim(&request_id, consumer, lease).await {
        Ok(Claim::Taken) => {}
        Ok(Claim::AlreadyDone) => {
            tracing::info!(request_id = %request_id, "duplicate of a finished request; acknowledging");
            let _ = daemon.bus.ack(&d.id).await;
            return;
        }
        Ok(Claim::HeldBy(other)) => {
            if d.reclaimed {
                // The holder's lease has not expired yet: leave it pending; it is either
                // finished by its holder or reclaimed again later.
                tracing::debug!(request_id = %request_id, holder = %other, "lease still held; not taking over yet");
            } else {
                tracing::info!(request_id = %request_id, holder = %other, "duplicate of a running request; acknowledging");
                let _ = daemon.bus.ack(&d.id).await;
            }
            return;
        }
        Err(e) => {
            // Redis trouble: leave the delivery pending; it will be reclaimed.
            tracing::warn!(request_id = %request_id, error = %e, "could not take the lease");
            return;
        }
    }
    if d.reclaimed {
        tracing::info!(request_id = %request_id, kind = %env.kind, "resuming a command whose daemon stopped");
    }
    let locked_project = match project_to_lock(&cmd) {
        Ok(p) => p,
        Err(e) => {
            // We hold the request's claim: answer it like any failed request.
            let events = Events::new(daemon.bus.clone(), request_id.clone(), env.project_id);
            let t = error_outcome(e);
            let env = events.envelope(t.kind, t.status, t.data);
            if let Err(e) = daemon.bus.finish(&env, consumer, Some(&d.id)).await {
                tracing::warn!(request_id = %request_id, error = %e, "could not answer a refused command");
            }
            return;
        }
    };
    let project = locked_project
        .clone()
        .or_else(|| cmd.project().map(str::to_owned))
        .or(env.project_id.clone());
    let events = Events::new(daemon.bus.clone(), request_id.clone(), project.clone());

    if let Some(p) = &locked_project {
        match daemon.bus.lock_project(p, &request_id, lease).await {
            Ok(Lock::Taken) => {}
            Ok(Lock::HeldBy(holder)) => {
                let msg = format!(
                    "project '{p}' is busy with request {holder}; wait for it ('pockitect watch {holder}') or cancel it ('pockitect cancel {holder}')"
                );
                let env = events.envelope(
                    event_type::ERROR,
                    Status::Error,
                    json!({"code": ErrorCode::Locked, "message": msg}),
                );
                let _ = daemon.bus.finish(&env, consumer, Some(&d.id)).await;
                return;
            }
            Err(e) => {
                tracing::warn!(request_id = %request_id, error = %e, "could not lock the project");
                return;
            }
        }
    }

    daemon.begin(InFlight {
        request_id: request_id.clone(),
        kind: cmd.kind().to_owned(),
        project: project.clone(),
        started_at: Utc::now(),
    });
    tracing::info!(request_id = %request_id, kind = cmd.kind(), consumer = %consumer, "request started");
    events
        .emit(
            Event::Accepted(Accepted {
                command: cmd.kind().to_owned(),
                daemon: daemon.settings.daemon_id.clone(),
                resumed: d.reclaimed,
            }),
            Status::InProgress,
        )
        .await;

    // The handler's token: cancelled by the user's `cancel`, and by the worker when the
    // request must stop here (shutdown, lost lease or lock, Redis lost its state).
    let cancel = CancellationToken::new();
    let mut keeper = tokio::spawn(keep_alive(
        daemon.clone(),
        consumer.to_owned(),
        d.id.clone(),
        request_id.clone(),
        locked_project.clone(),
        cancel.clone(),
    ));

    let is_query = cmd.is_query();
    let handler = {
        let daemon = daemon.clone();
        let events = events.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move { handlers::handle(cmd, &daemon, &events, &cancel).await })
    };
    tokio::pin!(handler);
    let first = tokio::select! {
        r = &mut handler => Ok(r),
        _ = shutdown.cancelled() => Err(Stop::Shutdown),
        s = &mut keeper => Err(s.unwrap_or(Stop::KeeperFailed)),
    };
    let (joined, stop) = match first {
        Ok(r) => (Some(r), None),
        Err(mut stop) => {
            // Cooperative first: the handler stops at its next safe point (the engines check
            // this token between AWS steps); only a handler that ignores it past the grace
            // period is aborted.
            let user_cancelled = cancel.is_cancelled();
            cancel.cancel();
            tracing::warn!(request_id = %request_id, reason = %stop, "stopping the handler at its next safe point");
            let joined = match tokio::time::timeout(daemon.settings.grace, &mut handler).await {
                Ok(r) => Some(r),
                Err(_) => {
                    tracing::warn!(request_id = %request_id, grace = ?daemon.settings.grace, "the handler did not stop within the grace period; aborting it");
                    handler.abort();
                    None
                }
            };
            // On shutdown the keeper went on renewing during the grace period; if it lost
            // the lease meanwhile, that is what counts now.
            if matches!(stop, Stop::Shutdown)
                && keeper.is_finished()
                && let Ok(s) = (&mut keeper).await
            {
                stop = s;
            }
            (joined, Some((stop, user_cancelled)))
        }
    };
    keeper.abort();

    let terminal = match (stop, joined) {
        (None, Some(joined)) => outcome_of(&request_id, joined),
        (None, None) => unreachable_outcome(),
        (Some((stop, user_cancelled)), joined) => {
            // Did the handler end because *we* stopped it (rather than finishing, failing,
            // or honouring the user's cancel)? Then its outcome is not the request's.
            let stopped_by_us = !user_cancelled && joined.as_ref().is_none_or(is_cancellation);
            match stop {
                Stop::LeaseLost(holder) => {
                    // Another daemon runs the request now: it, and only it, ends it. The
                    // project lock belongs to the request id, which the new holder shares.
                    tracing::warn!(request_id = %request_id, holder = %holder, "lease lost: this copy stopped without a terminal event");
                    daemon.end(&request_id, false);
                    return;
                }
                Stop::Shutdown if stopped_by_us => {
                    if joined.is_some() {
                        // It reached a safe point: let whoever reclaims it start at once.
                        let _ = daemon.bus.release_claim(&request_id, consumer).await;
                        if let Some(p) = &locked_project {
                            let _ = daemon.bus.unlock_project(p, &request_id).await;
                        }
                    }
                    tracing::warn!(request_id = %request_id, "request left pending for another daemon (shutdown)");
                    daemon.end(&request_id, false);
                    return;
                }
                stop if stopped_by_us => stop_outcome(&stop),
                _ => match joined {
                    Some(joined) => outcome_of(&request_id, joined),
                    None => unreachable_outcome(),
                },
            }
        }
    };
    let env = events.envelope(terminal.kind, terminal.status, terminal.data);
    // The project is free before the terminal event is out: a client that sends its next
    // command on this project as soon as it sees the end (a dry run, then the real thing) must
    // not find it still locked.
    if let Some(p) = &locked_project {
        let _ = daemon.bus.unlock_project(p, &request_id).await;
    }
    let mut delay = Duration::from_millis(200);
    for attempt in 0..10 {
        match finish_terminal(daemon, &env, is_query, consumer, &d.id).await {
            Ok(_) => break,
            Err(e) => {
                tracing::warn!(request_id = %request_id, attempt, error = %e, "could not publish the terminal event; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
    daemon.end(&request_id, true);
    tracing::info!(request_id = %request_id, status = %env.status.map(|s| s.as_str()).unwrap_or("?"), "request finished");
}

type Joined = Result<Result<Outcome, HandlerError>, tokio::task::JoinError>;

/// The terminal outcome of a handler that ran to its end (or crashed).
fn outcome_of(request_id: &RequestId, joined: Joined) -> Outcome {
    match joined {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(e)) => error_outcome(e),
        Err(join_err) => {
            let what = if join_err.is_panic() {
                "crashed"
            } else {
                "was stopped"
            };
            tracing::error!(request_id = %request_id, error = %join_err, "handler {what}");
            error_outcome(HandlerError::new(
                ErrorCode::Internal,
                format!(
                    "the handler {what}: {join_err}; this is a bug, please report it with the daemon log"
                ),
            ))
        }
    }
}

/// Placeholder for a combination the select above cannot produce (a handler result is absent
/// only when the worker stopped it); kept as an error rather than a panic.
fn unreachable_outcome() -> Outcome {
    error_outcome(HandlerError::new(
        ErrorCode::Internal,
        "the handler ended without a result; this is a bug, please report it with the daemon log",
    ))
}

/// True when the handler ended by honouring its cancellation token.
fn is_cancellation(joined: &Joined) -> bool {
    match joined {
        Ok(Ok(o)) => o.status == Status::Cancelled,
        Ok(Err(e)) => e.code == ErrorCode::Cancelled,
        Err(e) => e.is_cancelled(),
    }
}

/// Publishes a handler's terminal event. A query's answer goes only to the client that asked
/// (a reply key); everybody else sees a summary (see `pockitect_bus::Bus::finish_query`).
async fn finish_terminal(
    daemon: &Daemon,
    env: &Envelope,
    is_query: bool,
    consumer: &str,
    delivery_id: &str,
) -> Result<bool, pockitect_bus::BusError> {
    if is_query {
        daemon
            .bus
            .finish_query(env, consumer, Some(delivery_id))
            .await
    } else {
        daemon.bus.finish(env, consumer, Some(delivery_id)).await
    }
}

fn error_outcome(e: HandlerError) -> Outcome {
    let kind = if e.code == ErrorCode::Cancelled {
        event_type::CANCELLED
    } else {
        event_type::ERROR
    };
    let status = if e.code == ErrorCode::Cancelled {
        Status::Cancelled
    } else {
        Status::Error
    };
    Outcome {
        kind,
        status,
        data: json!({"code": e.code, "message": e.message}),
    }
}

/// Why the worker stopped a running handler.
#[derive(Debug)]
enum Stop {
    /// The daemon is shutting down: the request stays pending for another daemon.
    Shutdown,
    /// Another consumer holds the request's lease now (value: its name).
    LeaseLost(String),
    /// The claim vanished and the command is no longer pending: Redis lost its data.
    StateLost,
    /// The project lock expired or went to another request (value: the holder, if any).
    LockLost {
        project: String,
        holder: Option<String>,
    },
    /// The keeper task itself failed (a bug): stop rather than run unguarded.
    KeeperFailed,
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Shutdown => f.write_str("daemon shutting down"),
            Stop::LeaseLost(h) => write!(f, "lease lost to '{h}'"),
            Stop::StateLost => f.write_str("redis lost the request's state"),
            Stop::LockLost { project, .. } => write!(f, "lost the lock on project '{project}'"),
            Stop::KeeperFailed => f.write_str("lease keeper failed"),
        }
    }
}

/// The one terminal event of a request the worker had to stop (lease still ours).
fn stop_outcome(stop: &Stop) -> Outcome {
    let (code, message) = match stop {
        Stop::StateLost => (
            ErrorCode::RedisStateLost,
            "Redis lost this request's state while it ran (it restarted without persistence, or evicted its keys), so the daemon stopped it at a safe point; running the same command again is safe: it is idempotent and finds what this run created. Turn on Redis persistence (appendonly yes) to have requests resume instead".to_owned(),
        ),
        Stop::LockLost { project, holder } => (
            ErrorCode::Interrupted,
            format!(
                "the lock on project '{project}' was lost{} while this request ran, so it stopped at a safe point; run the command again once the project is free: it is idempotent",
                holder
                    .as_deref()
                    .map(|h| format!(" to request {h}"))
                    .unwrap_or_default()
            ),
        ),
        Stop::Shutdown | Stop::LeaseLost(_) | Stop::KeeperFailed => (
            ErrorCode::Interrupted,
            "the daemon stopped this request before it finished; running the same command again is safe: it is idempotent".to_owned(),
        ),
    };
    error_outcome(HandlerError::new(code, message))
}

/// Renews the lease, the stream entry's idle time and the project lock every third of a lease,
/// and turns a `cancel` request into the handler's cancellation. Returns only when the request
/// must stop here: the lease went to another consumer, vanished with Redis's data, or the
/// project lock was lost.
async fn keep_alive(
    daemon: Arc<Daemon>,
    consumer: String,
    delivery_id: String,
    request_id: RequestId,
    project: Option<String>,
    cancel: CancellationToken,
) -> Stop {
    let lease = daemon.settings.lease;
    let every = (lease / 3).max(Duration::from_millis(50));
    let cancel_poll = every.min(Duration::from_millis(500));
    let mut last_renew = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(cancel_poll).await;
        if !cancel.is_cancelled()
            && daemon
                .bus
                .is_cancel_requested(&request_id)
                .await
                .unwrap_or(false)
        {
            tracing::info!(request_id = %request_id, "cancel requested");
            cancel.cancel();
        }
        if last_renew.elapsed() < every {
            continue;
        }
        last_renew = tokio::time::Instant::now();
        let bus = &daemon.bus;
        let _ = bus.touch_delivery(&consumer, &delivery_id).await;
        match bus.renew_claim(&request_id, &consumer, lease).await {
            Ok(Renewal::Renewed) => {}
            Ok(Renewal::HeldBy(other)) => return Stop::LeaseLost(other),
            Ok(Renewal::Missing) => {
                if let Some(stop) =
                    lease_vanished(&daemon, &consumer, &delivery_id, &request_id).await
                {
                    return stop;
                }
            }
            Err(e) => {
                // Redis unreachable (restarting, say): keep working and retry; a lease that
                // expires meanwhile is judged when Redis answers again.
                tracing::warn!(request_id = %request_id, error = %e, "could not renew the lease");
            }
        }
        if let Some(p) = &project {
            match bus.renew_project_lock(p, &request_id, lease).await {
                Ok(Renewal::Renewed) => {}
                Ok(Renewal::Missing) => {
                    return Stop::LockLost {
                        project: p.clone(),
                        holder: None,
                    };
                }
                Ok(Renewal::HeldBy(h)) => {
                    return Stop::LockLost {
                        project: p.clone(),
                        holder: Some(h),
                    };
                }
                Err(e) => {
                    tracing::warn!(request_id = %request_id, project = %p, error = %e, "could not renew the project lock")
                }
            }
        }
    }
}

/// The claim key is gone. When the command is still pending with us, Redis kept its data and
/// the lease merely expired (a long Redis outage, a stalled daemon): take it again if nobody
/// else did. When the command is gone too, Redis lost its state. None: carry on.
async fn lease_vanished(
    daemon: &Daemon,
    consumer: &str,
    delivery_id: &str,
    request_id: &RequestId,
) -> Option<Stop> {
    let bus = &daemon.bus;
    match bus.is_pending(delivery_id).await {
        Ok(true) => match bus.claim(request_id, consumer, daemon.settings.lease).await {
            Ok(Claim::Taken) => {
                tracing::warn!(request_id = %request_id, "the lease had expired unrenewed; taken again");
                None
            }
            Ok(Claim::HeldBy(other)) => Some(Stop::LeaseLost(other)),
            // Finished elsewhere meanwhile: that end stands; this copy must not add one.
            Ok(Claim::AlreadyDone) => Some(Stop::LeaseLost("a finished run".to_owned())),
            Err(e) => {
                tracing::warn!(request_id = %request_id, error = %e, "could not take the lease again");
                None
            }
        },
        Ok(false) => {
            tracing::error!(request_id = %request_id, "redis lost this request's state (claim and command gone); stopping it");
            Some(Stop::StateLost)
        }
        Err(e) => {
            tracing::warn!(request_id = %request_id, error = %e, "could not check the command stream");
            None
        }
    }
}
