//! Announces the daemon every few seconds; the record expires by itself when the daemon dies.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::Daemon;

pub async fn run(daemon: Arc<Daemon>, token: CancellationToken) {
    let every = daemon.settings.heartbeat;
    let ttl = every * 3;
    let mut tick = tokio::time::interval(every);
    let mut failing = false;
    loop {
        tokio::select! {
            biased;
            _ = token.cancelled() => break,
            _ = tick.tick() => {}
        }
        match daemon.bus.put_heartbeat(&daemon.heartbeat(), ttl).await {
            Ok(()) if failing => {
                tracing::info!("heartbeat restored");
                failing = false;
            }
            Ok(()) => {}
            Err(e) if !failing => {
                tracing::warn!(error = %e, "heartbeat failed; retrying");
                failing = true;
            }
            Err(_) => {}
        }
    }
}

/// Every `refresh_interval`, enqueues one `refresh` for the whole pool: the request id names
/// the time slot, so when several daemons enqueue it the bus keeps only the first.
pub async fn periodic_refresh(daemon: Arc<Daemon>, token: CancellationToken) {
    let Some(every) = daemon.settings.refresh_interval else {
        return;
    };
    let mut tick = tokio::time::interval(every);
    tick.tick().await; // not at start: the first scan or deploy comes first
    loop {
        tokio::select! {
            biased;
            _ = token.cancelled() => break,
            _ = tick.tick() => {}
        }
        let slot =
            chrono::Utc::now().timestamp() / i64::try_from(every.as_secs().max(1)).unwrap_or(60);
        let Ok(id) = pockitect_proto::RequestId::parse(&format!("refresh-{slot}")) else {
            continue;
        };
        let cmd = pockitect_proto::Command::Refresh(pockitect_proto::RefreshArgs::default());
        // Named as the daemon's own: its routine ends are not recorded in the audit trail.
        let me = pockitect_proto::ClientInfo::new(
            pockitect_proto::ClientKind::Daemon,
            None,
            Some(daemon.settings.daemon_id.clone()),
        );
        let env = pockitect_proto::Envelope::command(&cmd, id, Some(me), None);
        if let Err(e) = daemon.bus.enqueue(&env).await {
            tracing::warn!(error = %e, "could not schedule a refresh");
        }
    }
}
