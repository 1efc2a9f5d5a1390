//! Sending a command and following its events to the terminal one, without a gap: the reader
//! starts from the replay stream's position noted *before* the send.

use std::time::Duration;

use pockitect_bus::{Bus, BusError};
use pockitect_proto::{Approval, Command, Envelope, ErrorCode, RequestId, Status, exit};

use crate::Global;

/// A failure the CLI reports on stderr, with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Redis or the daemon is not there.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    NotFound(String),
    /// The daemon answered with an event this CLI cannot read.
    #[error("{0}")]
    Protocol(String),
    /// Ctrl-C while following: the request goes on without us.
    #[error("{0}")]
    Interrupted(String),
    #[error("{0}")]
    Bus(#[from] pockitect_bus::BusError),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Unavailable(_) | CliError::Bus(_) => exit::UNAVAILABLE,
            CliError::Usage(_) => exit::USAGE,
            CliError::Invalid(_) => exit::INVALID,
            CliError::Timeout(_) => exit::TIMEOUT,
            CliError::Io(_) | CliError::Protocol(_) => exit::FAILURE,
            CliError::NotFound(_) => exit::NOT_FOUND,
            CliError::Interrupted(_) => exit::INTERRUPTED,
        }
    }
}

/// Fails at once when no daemon has a live heartbeat (unless `--queue`).
pub async fn ensure_daemon(g: &Global, bus: &Bus) -> Result<(), CliError> {
    if g.queue {
        return Ok(());
    }
    if bus.daemons().await?.is_empty() {
        return Err(CliError::Unavailable(format!(
            "no daemon is running for prefix '{}' on {}: start one with 'pockitectd' (or pass --queue to leave the command for the next daemon)",
            g.prefix,
            pockitect_bus::redact_url(&bus.config().url)
        )));
    }
    Ok(())
}

/// Sends `cmd`, calls `on_event` for each of its events, returns the terminal one — for a
/// query, with the whole answer, which waits for this client apart from the shared events.
pub async fn send_and_follow(
    g: &Global,
    bus: &Bus,
    cmd: &Command,
    on_event: impl FnMut(&Envelope),
) -> Result<Envelope, CliError> {
    send_approved_and_follow(g, bus, cmd, None, on_event).await
}

/// [`send_and_follow`] with an approval (the digest of the plan the user confirmed).
pub async fn send_approved_and_follow(
    g: &Global,
    bus: &Bus,
    cmd: &Command,
    approval: Option<Approval>,
    mut on_event: impl FnMut(&Envelope),
) -> Result<Envelope, CliError> {
    ensure_daemon(g, bus).await?;
    let sent = bus.send_approved(cmd, approval).await?;
    let terminal = follow(g, bus, &sent.request_id, &sent.after, &mut on_event).await?;
    bus.answer(terminal).await.map_err(|e| match e {
        e @ BusError::ReplyExpired { .. } => CliError::NotFound(e.to_string()),
        e => CliError::Bus(e),
    })
}

/// Follows `request_id`'s events after stream position `after`.
pub async fn follow(
    g: &Global,
    bus: &Bus,
    request_id: &RequestId,
    after: &str,
    on_event: &mut dyn FnMut(&Envelope),
) -> Result<Envelope, CliError> {
    let mut reader = bus.event_reader(after.to_owned()).await?;
    let deadline = g
        .timeout
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .map(|d| tokio::time::Instant::now() + d);
    let mut last_liveness_check = tokio::time::Instant::now();
    let mut reconnecting = false;
    // One listener for the whole follow: a Ctrl-C pressed while a batch is being handled is
    // still seen at the next select (a listener made per turn would miss it).
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        if let Some(d) = deadline
            && tokio::time::Instant::now() >= d
        {
            return Err(CliError::Timeout(format!(
                "request {request_id} is still running after {}s; follow it with 'pockitect watch {request_id}' or stop it with 'pockitect cancel {request_id}'",
                g.timeout.unwrap_or_default()
            )));
        }
        let batch = tokio::select! {
            // Ctrl-C first: it is polled (and its handler installed) before any event is shown.
            biased;
            _ = &mut interrupted => {
                return Err(CliError::Interrupted(format!(
                    "\ninterrupted: request {request_id} goes on; follow it again with 'pockitect watch {request_id}' or stop it with 'pockitect cancel {request_id}'"
                )));
            }
            b = reader.next_batch(Duration::from_millis(1000), 500) => b,
        };
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                // Redis restarting or a dropped connection: the reader reconnects on its next
                // call and goes on from where it was, so the request's end is still seen.
                if !reconnecting {
                    eprintln!("lost the connection to Redis ({e}); waiting for it to come back");
                    reconnecting = true;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        reconnecting = false;
        for (_, env) in batch {
            if env.request_id.as_ref() != Some(request_id) {
                continue;
            }
            on_event(&env);
            if env.is_terminal() {
                return Ok(env);
            }
        }
        // A request that finished before we started reading (or whose events were trimmed).
        if last_liveness_check.elapsed() > Duration::from_secs(5) {
            last_liveness_check = tokio::time::Instant::now();
            if let Some(done) = bus.done_event(request_id).await? {
                on_event(&done);
                return Ok(done);
            }
        }
    }
}

/// The exit code a terminal event means.
pub fn exit_code_of(terminal: &Envelope) -> i32 {
    match terminal.status {
        Some(Status::Success) | Some(Status::Skipped) => exit::SUCCESS,
        Some(Status::Partial) => exit::PARTIAL,
        Some(Status::Cancelled) => exit::CANCELLED,
        _ => terminal
            .data
            .get("code")
            .and_then(|c| serde_json::from_value::<ErrorCode>(c.clone()).ok())
            .map_or(exit::FAILURE, ErrorCode::exit_code),
    }
}

/// The error for a terminal event this CLI cannot read as the answer it asked for: most likely
/// the CLI and the daemon are of different versions.
pub fn unexpected(t: &Envelope) -> CliError {
    let why = match t.decode() {
        Err(e) => e.to_string(),
        Ok(e) => format!("a '{}' event", e.kind()),
    };
    CliError::Protocol(format!(
        "cannot read the daemon's answer ({why}); are the CLI and the daemon the same version? ('pockitect doctor' shows the daemon's)"
    ))
}
