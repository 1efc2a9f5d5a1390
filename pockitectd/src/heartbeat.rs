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
