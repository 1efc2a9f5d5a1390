//! Accepts the earlier Python client's way of sending commands: PUBLISH on `<prefix>:commands`.
//! Every daemon hears every message, so each forwards it to the command stream through the
//! bus's deduplicating enqueue: the first wins, the consumer group then gives it to one worker.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::Daemon;

/// The request id when the payload carries a usable one, else a hash of the payload (stable
/// across daemons: `DefaultHasher::new()` uses fixed keys).
fn dedupe_key(payload: &str) -> String {
    let id = pockitect_proto::salvage_request_id(payload.as_bytes()).map(String::from);
    id.unwrap_or_else(|| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        payload.hash(&mut h);
        format!("payload-{:016x}", h.finish())
    })
}

pub async fn run(daemon: Arc<Daemon>, token: CancellationToken) {
    let mut delay = Duration::from_millis(200);
    while !token.is_cancelled() {
        let pubsub = tokio::select! {
            _ = token.cancelled() => return,
            r = daemon.bus.subscribe_legacy_commands() => r,
        };
        let pubsub = match pubsub {
            Ok(p) => {
                delay = Duration::from_millis(200);
                p
            }
            Err(e) => {
                tracing::warn!(error = %e, "legacy command channel unavailable; retrying");
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        let mut messages = pubsub.into_on_message();
        loop {
            let msg = tokio::select! {
                biased;
                _ = token.cancelled() => return,
                m = messages.next() => m,
            };
            let Some(msg) = msg else {
                tracing::warn!("legacy command channel closed; resubscribing");
                break;
            };
            let payload: String = match msg.get_payload() {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "unreadable legacy command payload");
                    continue;
                }
            };
            let key = dedupe_key(&payload);
            match daemon.bus.enqueue_raw(&key, &payload).await {
                Ok(true) => tracing::debug!(key = %key, "legacy command forwarded"),
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "could not forward a legacy command"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupe_key_prefers_the_request_id() {
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            dedupe_key(&format!(r#"{{"type":"scan","request_id":"{id}"}}"#)),
            id
        );
        let a = dedupe_key("not json");
        assert_eq!(a, dedupe_key("not json"));
        assert_ne!(a, dedupe_key("not json either"));
    }
}
