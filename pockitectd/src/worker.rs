//! One listener of the pool: takes a command, takes its lease (and its project's lock), keeps
//! both alive while the handler works, and finishes with exactly one terminal event, acked in
//! the same atomic step. Bad input never ends the loop: it is dead-lettered and answered.

mod hold;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use pockitect_bus::{CommandReader, Delivery};
use pockitect_proto::payload::Accepted;
use pockitect_proto::{
    Command, Envelope, ErrorCode, ErrorPayload, Event, InFlight, Refusal, Request, RequestId,
    Status,
};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::hold::Hold;
use crate::Daemon;
use crate::audit::Draft;
use crate::events::{Events, HandlerError, Outcome};
use crate::handlers;
use pockitect_proto::audit::AuditEntry;

/// How long one blocking read waits before looping (and noticing shutdown).
const READ_BLOCK: Duration = Duration::from_secs(2);

pub async fn listen(daemon: Arc<Daemon>, n: usize, shutdown: CancellationToken) {
    let consumer = format!("{}/w{n}", daemon.settings.daemon_id);
    let mut reader: Option<CommandReader> = None;
    let mut delay = Duration::from_millis(200);
    // Scans and scan shards taken by this listener and run beside it.
    let beside_tasks = TaskTracker::new();
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
            Ok(Some(d)) => {
                let decoded = pockitect_proto::decode(d.payload.as_bytes());
                // A scan only waits for its shards, which listeners must be free to take: it
                // always runs beside the listener (else one daemon with every listener on a
                // scan would wait forever). A shard runs beside it while the daemon has room
                // for one (`--scan-shards`); else here, like any command, so a busy daemon
                // stops taking shards and leaves them to the others. Shards never wait on
                // anything, so a listener running one is free again when it ends.
                let beside = match decoded.as_ref().map(|r| &r.command) {
                    Ok(Command::Scan(_)) => Some(None),
                    Ok(Command::ScanShard(_)) => daemon
                        .shard_slots
                        .clone()
                        .try_acquire_owned()
                        .ok()
                        .map(Some),
                    _ => None,
                };
                match beside {
                    Some(slot) => {
                        let (daemon, consumer, shutdown) =
                            (daemon.clone(), consumer.clone(), shutdown.clone());
                        beside_tasks.spawn(async move {
                            handle_delivery(&daemon, &consumer, d, decoded, &shutdown).await;
                            drop(slot);
                        });
                    }
                    None => handle_delivery(&daemon, &consumer, d, decoded, &shutdown).await,
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(consumer = %consumer, error = %e, "reading commands failed; reconnecting");
                reader = None;
            }
        }
    }
    beside_tasks.close();
    beside_tasks.wait().await;
    tracing::debug!(consumer = %consumer, "listener stopped");
}

/// Refuses a command that cannot be run: dead-letter it, answer under its request id when it
/// has one, acknowledge. The answer is published only when that id is neither running nor
/// finished (checked atomically in Redis): a malformed command that reuses a live or finished
/// request's id must never end or replace that request, so it is dead-lettered only.
async fn refuse(daemon: &Daemon, d: &Delivery, refusal: Refusal) {
    tracing::warn!(delivery = %d.id, code = ?refusal.code, field = ?refusal.field, reason = %refusal.message, "refusing a command");
    let stored: String = d.payload.chars().take(64 * 1024).collect();
    if let Err(e) = daemon.bus.dead_letter(&stored, &refusal.message).await {
        tracing::warn!(error = %e, "could not dead-letter a command");
    }
    let draft = Draft::of_refused(&d.payload, &refusal);
    let payload = refusal.payload();
    let env = Envelope::of(
        Event::Error(payload),
        refusal.request_id.clone(),
        None,
        Status::Error,
    );
    let entry = audit_entry(daemon, draft, &env, false).await;
    match refusal.request_id {
        Some(id) => match daemon.bus.refuse(&env, Some(&d.id), entry.as_ref()).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                request_id = %id,
                "a refused command names a request that is running or finished; dead-lettered only, that request is untouched"
            ),
            Err(e) => tracing::warn!(error = %e, "could not answer a refused command"),
        },
        None => {
            if let Some(entry) = &entry
                && let Err(e) = daemon.bus.append_audit(entry).await
            {
                tracing::warn!(error = %e, "could not record a refused command in the audit trail");
            }
            if let Err(e) = daemon.bus.ack(&d.id).await {
                tracing::warn!(error = %e, "could not acknowledge a refused command");
            }
        }
    }
    if let Some(entry) = &entry {
        daemon.auditor.write_file(entry);
    }
}

/// The audit entry of a request that ends with `terminal`: what it touched and how it was
/// authorized, as noted in Redis while it ran. None for the daemon's own routine work.
/// `ran`: the request ran (and may have touched something or been judged by policy).
async fn audit_entry(
    daemon: &Daemon,
    draft: Draft,
    terminal: &Envelope,
    ran: bool,
) -> Option<AuditEntry> {
    let rid = &draft.request_id;
    let (touched, authorization) = if ran {
        let touched = daemon.bus.touched(rid).await.unwrap_or_else(|e| {
            tracing::warn!(request_id = %rid, error = %e, "could not read what the request touched");
            Vec::new()
        });
        (touched, daemon.bus.authorization(rid).await.ok().flatten())
    } else {
        (Vec::new(), None)
    };
    // Cached by the AWS handle; an unreachable STS is asked at most once a minute.
    let identity = daemon.aws.known_identity().await;
    let entry = draft.finish(
        terminal,
        &daemon.settings.daemon_id,
        identity.as_ref(),
        authorization,
        touched,
    );
    (!entry.is_routine()).then_some(entry)
}

/// Ends a request that this worker holds with `env`, recording its audit entry (none for a
/// query, which only reads, nor for a scan's shard, which its scan's entry stands for) in
/// the same step, then in the daily file.
async fn end_request(daemon: &Daemon, hold: Hold, env: &Envelope, draft: Draft, cmd: Kind) {
    let is_query = cmd == Kind::Query;
    let entry = if cmd == Kind::Audited {
        audit_entry(daemon, draft, env, true).await
    } else {
        None
    };
    if hold.finish(env, is_query, entry.as_ref()).await
        && let Some(entry) = &entry
    {
        daemon.auditor.write_file(entry);
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

/// One delivery from decoding to its end: refuse what cannot run, take the request's [`Hold`]
/// (claim, project lock, keep-alive), run the handler under it, and end the request once.
async fn handle_delivery(
    daemon: &Arc<Daemon>,
    consumer: &str,
    d: Delivery,
    decoded: Result<Request, Refusal>,
    shutdown: &CancellationToken,
) {
    let Request {
        request_id,
        command: cmd,
        project_id,
        client,
        approval,
    } = match decoded {
        Ok(r) => r,
        Err(refusal) => return refuse(daemon, &d, refusal).await,
    };
    let Some(mut hold) = Hold::claim(daemon, consumer, &d, &request_id).await else {
        return;
    };
    if d.reclaimed {
        tracing::info!(request_id = %request_id, kind = cmd.kind(), "resuming a command whose daemon stopped");
    }
    let kind = Kind::of(&cmd);
    let locked_project = match project_to_lock(&cmd) {
        Ok(p) => p,
        Err(e) => {
            // We hold the request's claim: answer it like any failed request.
            let draft = Draft::of(&request_id, &cmd, project_id.clone(), client);
            let events = Events::new(daemon.bus.clone(), request_id.clone(), project_id);
            let t = error_outcome(e);
            let env = events.envelope(t.kind, t.status, t.data);
            return end_request(daemon, hold, &env, draft, kind).await;
        }
    };
    let project = locked_project
        .clone()
        .or_else(|| cmd.project().map(str::to_owned))
        .or(project_id);
    let draft = Draft::of(&request_id, &cmd, project.clone(), client.clone());
    let events = Events::new(daemon.bus.clone(), request_id.clone(), project.clone())
        .with_approval(approval)
        .with_client(client);
    if let Some(p) = &locked_project {
        match hold.lock(p).await {
            Ok(()) => {}
            Err(Some(holder)) => {
                let message = format!(
                    "project '{p}' is busy with request {holder}; wait for it ('pockitect watch {holder}') or cancel it ('pockitect cancel {holder}')"
                );
                let env = events.envelope_of(
                    Event::Error(ErrorPayload {
                        code: ErrorCode::Locked,
                        message,
                    }),
                    Status::Error,
                );
                return end_request(daemon, hold, &env, draft, kind).await;
            }
            // Redis trouble: dropping the hold frees the claim; the command stays pending.
            Err(None) => return,
        }
    }

    let cancel = hold.start(InFlight {
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

    let handler = {
        let daemon = daemon.clone();
        let events = events.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move { handlers::handle(cmd, &daemon, &events, &cancel).await })
    };
    match supervise(daemon, &mut hold, handler, &cancel, shutdown, &request_id).await {
        Ending::Terminal(t) => {
            let env = events.envelope(t.kind, t.status, t.data);
            let status = env.status.map(|s| s.as_str()).unwrap_or("?");
            end_request(daemon, hold, &env, draft, kind).await;
            tracing::info!(request_id = %request_id, status = %status, "request finished");
        }
        Ending::LeaseLost(holder) => {
            // Another daemon runs the request now: it, and only it, ends it.
            tracing::warn!(request_id = %request_id, holder = %holder, "lease lost: this copy stopped without a terminal event");
            hold.abandon();
        }
        Ending::LeftPending { at_safe_point } => {
            hold.leave_pending(at_safe_point).await;
            tracing::warn!(request_id = %request_id, "request left pending for another daemon (shutdown)");
        }
    }
}

/// What ending a command records.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Reads the daemon's state: answered to its client, not audited.
    Query,
    /// A scan's shard: ends on the stream for its scan to gather, not audited on its own.
    Shard,
    /// Everything else: ends on the stream with an audit entry.
    Audited,
}

impl Kind {
    fn of(cmd: &Command) -> Self {
        match cmd {
            Command::ScanShard(_) => Kind::Shard,
            c if c.is_query() => Kind::Query,
            _ => Kind::Audited,
        }
    }
}

/// How a running request ends on this worker.
enum Ending {
    /// With this terminal outcome, published by this worker.
    Terminal(Outcome),
    /// Another consumer holds the lease (value: its name): nothing is published here.
    LeaseLost(String),
    /// Shutdown: pending for another daemon; `at_safe_point` when the handler stopped itself
    /// (false when it had to be aborted).
    LeftPending { at_safe_point: bool },
}

/// Waits for the handler, stopping it when the daemon shuts down or the hold reports that the
/// request must stop here, and decides how the request ends.
async fn supervise(
    daemon: &Daemon,
    hold: &mut Hold,
    mut handler: tokio::task::JoinHandle<Result<Outcome, HandlerError>>,
    cancel: &CancellationToken,
    shutdown: &CancellationToken,
    request_id: &RequestId,
) -> Ending {
    let first = tokio::select! {
        r = &mut handler => Ok(r),
        _ = shutdown.cancelled() => Err(Stop::Shutdown),
        s = hold.stopped() => Err(s),
    };
    let mut stop = match first {
        Ok(joined) => return Ending::Terminal(outcome_of(request_id, joined)),
        Err(stop) => stop,
    };
    // Cooperative first: the handler stops at its next safe point (the engines check this
    // token between AWS steps); only a handler that ignores it past the grace period is
    // aborted.
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
    // On shutdown the keeper went on renewing during the grace period; if it lost the lease
    // meanwhile, that is what counts now.
    if matches!(stop, Stop::Shutdown)
        && let Some(s) = hold.stopped_meanwhile().await
    {
        stop = s;
    }
    // Did the handler end because *we* stopped it (rather than finishing, failing, or
    // honouring the user's cancel)? Then its outcome is not the request's.
    let stopped_by_us = !user_cancelled && joined.as_ref().is_none_or(is_cancellation);
    match stop {
        // The project lock belongs to the request id, which the new holder shares.
        Stop::LeaseLost(holder) => Ending::LeaseLost(holder),
        Stop::Shutdown if stopped_by_us => Ending::LeftPending {
            at_safe_point: joined.is_some(),
        },
        stop if stopped_by_us => Ending::Terminal(stop_outcome(&stop)),
        _ => Ending::Terminal(match joined {
            Some(joined) => outcome_of(request_id, joined),
            None => unreachable_outcome(),
        }),
    }
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

fn error_outcome(e: HandlerError) -> Outcome {
    let payload = ErrorPayload {
        code: e.code,
        message: e.message,
    };
    if payload.code == ErrorCode::Cancelled {
        Outcome::new(Event::Cancelled(payload), Status::Cancelled)
    } else {
        Outcome::new(Event::Error(payload), Status::Error)
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
