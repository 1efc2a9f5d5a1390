//! Every daemon of a group keeps what any scan found: the chunks a scan reports under its own
//! request (on the replay stream) are taken into this daemon's estate too, so a query answers
//! the same whichever daemon of the group takes it, not only the one that ran the scan.

use std::sync::Arc;
use std::time::Duration;

use pockitect_bus::EventReader;
use pockitect_proto::{Envelope, Event, Status, event_type};
use tokio_util::sync::CancellationToken;

use crate::Daemon;

/// How long one blocking read waits before looping (and noticing shutdown).
const READ_BLOCK: Duration = Duration::from_secs(2);

pub async fn run(daemon: Arc<Daemon>, shutdown: CancellationToken) {
    // Where the next read starts: the stream's end when the daemon starts (what earlier scans
    // found is in the cache it loaded, or comes with the next scan), then the last event read.
    let mut after: Option<String> = None;
    let mut reader: Option<EventReader> = None;
    let mut delay = Duration::from_millis(200);
    loop {
        if shutdown.is_cancelled() {
            break;
        }
        let r = match reader.as_mut() {
            Some(r) => r,
            None => {
                let opened = async {
                    let start = match &after {
                        Some(a) => a.clone(),
                        None => daemon.bus.last_event_id().await?,
                    };
                    let r = daemon.bus.event_reader(start.clone()).await?;
                    Ok::<_, pockitect_bus::BusError>((start, r))
                };
                match opened.await {
                    Ok((start, r)) => {
                        after = Some(start);
                        delay = Duration::from_millis(200);
                        reader.insert(r)
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "cannot follow the scans' events; retrying");
                        tokio::select! {
                            _ = shutdown.cancelled() => break,
                            _ = tokio::time::sleep(delay) => {}
                        }
                        delay = (delay * 2).min(Duration::from_secs(5));
                        continue;
                    }
                }
            }
        };
        let batch = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            b = r.next_batch(READ_BLOCK, 256) => b,
        };
        match batch {
            Ok(events) => {
                for (id, env) in events {
                    take(&daemon, &env);
                    after = Some(id);
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "following the scans' events failed; reconnecting");
                reader = None;
            }
        }
    }
}

/// Takes in a scan's chunk, unless this daemon runs that scan (it took the chunk in already).
fn take(daemon: &Daemon, env: &Envelope) {
    if env.kind != event_type::SCAN_CHUNK || env.status != Some(Status::InProgress) {
        return;
    }
    if env
        .request_id
        .as_ref()
        .is_some_and(|id| daemon.is_running(id))
    {
        return;
    }
    // A chunk that does not say its types comes from an earlier daemon: which of the
    // region's records it replaces cannot be told, so it is left to that daemon.
    if let Ok(Event::ScanChunk(chunk)) = env.decode()
        && !chunk.types.is_empty()
    {
        daemon.estate.apply(&chunk);
    }
}
