//! One listener of the pool: takes a command, takes its lease (and its project's lock), keeps
//! both alive while the handler works, and finishes with exactly one terminal event, acked in
//! the same atomic step. Bad input never ends the loop: it is dead-lettered and answered.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use pockitect_bus::{Claim, CommandReader, Delivery, Lock};
use pockitect_proto::{
    Command, Envelope, ErrorCode, InFlight, MAX_COMMAND_BYTES, RequestId, Status, event_type,
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

/// Refuses a command that cannot be run: dead-letter, answer when it has an id, acknowledge.
async fn refuse(
    daemon: &Daemon,
    consumer: &str,
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
                Some(id),
                None,
                Status::Error,
                json!({ "code": code, "message": message }),
            );
            if let Err(e) = daemon.bus.finish(&env, consumer, Some(&d.id)).await {
                tracing::warn!(error = %e, "could not answer a refused command");
            }
        }
        None => {
            if let Err(e) = daemon.bus.ack(&d.id).await {
                tracing::warn!(error = %e, "could not acknowledge a refused command");
            }
        }
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
            consumer,
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
                consumer,
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
            refuse(
                daemon,
                consumer,
                &d,
                Some(request_id),
                e.code(),
                e.to_string(),
            )
            .await;
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
    let project = cmd.project().map(str::to_owned).or(env.project_id.clone());
    let events = Events::new(daemon.bus.clone(), request_id.clone(), project.clone());

    let locked_project = cmd.project().map(str::to_owned);
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
        .emit(event_type::ACCEPTED, Status::InProgress, json!({"type": cmd.kind(), "daemon": daemon.settings.daemon_id, "resumed": d.reclaimed}))
        .await;

    // Cancelled by the user's `cancel`, or when the lease is lost to another daemon.
    let cancel = CancellationToken::new();
    let lost_lease = CancellationToken::new();
    let keeper = tokio::spawn(keep_alive(
        daemon.clone(),
        consumer.to_owned(),
        d.id.clone(),
        request_id.clone(),
        locked_project.clone(),
        cancel.clone(),
        lost_lease.clone(),
    ));

    let is_query = cmd.is_query();
    let handler = {
        let daemon = daemon.clone();
        let events = events.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move { handlers::handle(cmd, &daemon, &events, &cancel).await })
    };
    tokio::pin!(handler);
    let grace = daemon.settings.grace;
    let result = tokio::select! {
        r = &mut handler => Some(r),
        _ = async { shutdown.cancelled().await; tokio::time::sleep(grace).await } => None,
        _ = lost_lease.cancelled() => None,
    };
    keeper.abort();

    let Some(joined) = result else {
        handler.abort();
        tracing::warn!(request_id = %request_id, "request left pending for another daemon (shutdown or lost lease)");
        daemon.end(&request_id, false);
        return;
    };
    let terminal = match joined {
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
    };
    let env = events.envelope(terminal.kind, terminal.status, terminal.data);
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
    if let Some(p) = &locked_project {
        let _ = daemon.bus.unlock_project(p, &request_id).await;
    }
    daemon.end(&request_id, true);
    tracing::info!(request_id = %request_id, status = %env.status.map(|s| s.as_str()).unwrap_or("?"), "request finished");
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

/// Renews the lease, the stream entry's idle time and the project lock every third of a lease;
/// turns a `cancel` request into the handler's cancellation; signals a lost lease.
async fn keep_alive(
    daemon: Arc<Daemon>,
    consumer: String,
    delivery_id: String,
    request_id: RequestId,
    project: Option<String>,
    cancel: CancellationToken,
    lost: CancellationToken,
) {
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
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(request_id = %request_id, "lease lost to another daemon; stopping");
                lost.cancel();
                return;
            }
            Err(e) => {
                tracing::warn!(request_id = %request_id, error = %e, "could not renew the lease")
            }
        }
        if let Some(p) = &project {
            let _ = bus.renew_project_lock(p, &request_id, lease).await;
        }
    }
}
