//! Blocking readers, each on a connection of its own.

use std::time::Duration;

use pockitect_proto::Envelope;
use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};

use crate::conn::Conn;
use crate::{Bus, BusError, millis};

/// One command taken from the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The stream entry id, used to keep the lease alive and to acknowledge.
    pub id: String,
    /// The raw payload as sent (possibly malformed).
    pub payload: String,
    /// True when this was taken over from a consumer whose lease expired.
    pub reclaimed: bool,
}

/// Reads commands for one consumer of the daemons' group: first reclaims entries whose lease
/// expired (their consumer died), then waits for new ones.
pub struct CommandReader {
    bus: Bus,
    conn: Conn,
    consumer: String,
    lease: Duration,
    autoclaim_cursor: String,
}

impl CommandReader {
    pub(crate) async fn new(
        bus: &Bus,
        consumer: String,
        lease: Duration,
    ) -> Result<Self, BusError> {
        let conn = bus.dedicated_connection().await?;
        let mut reader = Self {
            bus: bus.clone(),
            conn,
            consumer,
            lease,
            autoclaim_cursor: "0-0".to_owned(),
        };
        reader.ensure_group().await?;
        Ok(reader)
    }

    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// Creates the group from the start of the stream, so commands queued before any daemon
    /// started are handled. Also called after Redis lost its data (restart without persistence).
    async fn ensure_group(&mut self) -> Result<(), BusError> {
        let k = self.bus.keys();
        let r: Result<(), redis::RedisError> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(k.command_stream())
            .arg(k.group())
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut self.conn)
            .await;
        match r {
            Ok(()) => Ok(()),
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The next command for this consumer, or None when nothing arrived within `block`.
    pub async fn next(&mut self, block: Duration) -> Result<Option<Delivery>, BusError> {
        match self.next_inner(block).await {
            Err(BusError::Redis(e)) if e.code() == Some("NOGROUP") => {
                self.ensure_group().await?;
                self.next_inner(block).await
            }
            other => other,
        }
    }

    async fn next_inner(&mut self, block: Duration) -> Result<Option<Delivery>, BusError> {
        if let Some(d) = self.reclaim().await? {
            return Ok(Some(d));
        }
        let k = self.bus.keys();
        let reply: Option<StreamReadReply> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(k.group())
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(1)
            .arg("BLOCK")
            .arg(millis(block))
            .arg("STREAMS")
            .arg(k.command_stream())
            .arg(">")
            .query_async(&mut self.conn)
            .await?;
        let entry = reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .next();
        Ok(entry.map(|e| delivery(e, false)))
    }

    /// Takes over one entry idle for longer than the lease, if any.
    async fn reclaim(&mut self) -> Result<Option<Delivery>, BusError> {
        let k = self.bus.keys();
        let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(k.command_stream())
            .arg(k.group())
            .arg(&self.consumer)
            .arg(millis(self.lease))
            .arg(&self.autoclaim_cursor)
            .arg("COUNT")
            .arg(1)
            .query_async(&mut self.conn)
            .await?;
        self.autoclaim_cursor = reply.next_stream_id;
        Ok(reply.claimed.into_iter().next().map(|e| delivery(e, true)))
    }
}

fn delivery(e: StreamId, reclaimed: bool) -> Delivery {
    let payload = e.get::<String>("envelope").unwrap_or_default();
    Delivery {
        id: e.id,
        payload,
        reclaimed,
    }
}

/// Follows the replay stream from a given position, blocking for new events. A failed read
/// (Redis restarted, the connection dropped) returns the error and drops the connection; the
/// next call connects again and goes on from the same position, so a follower that retries
/// sees every event published after Redis came back.
pub struct EventReader {
    bus: Bus,
    conn: Option<Conn>,
    stream: String,
    last_id: String,
}

impl EventReader {
    pub(crate) async fn new(bus: &Bus, after: String) -> Result<Self, BusError> {
        Ok(Self {
            bus: bus.clone(),
            conn: Some(bus.dedicated_connection().await?),
            stream: bus.keys().event_stream(),
            last_id: after,
        })
    }

    /// Id of the last event returned.
    pub fn position(&self) -> &str {
        &self.last_id
    }

    /// Up to `count` events after the current position, waiting up to `block` for the first.
    pub async fn next_batch(
        &mut self,
        block: Duration,
        count: usize,
    ) -> Result<Vec<(String, Envelope)>, BusError> {
        let conn = match self.conn.as_mut() {
            Some(c) => c,
            None => self.conn.insert(self.bus.dedicated_connection().await?),
        };
        let reply: Option<StreamReadReply> = match redis::cmd("XREAD")
            .arg("COUNT")
            .arg(count)
            .arg("BLOCK")
            .arg(millis(block))
            .arg("STREAMS")
            .arg(&self.stream)
            .arg(&self.last_id)
            .query_async(conn)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                self.conn = None;
                return Err(e.into());
            }
        };
        let ids: Vec<StreamId> = reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .collect();
        if let Some(last) = ids.last() {
            self.last_id = last.id.clone();
        }
        Ok(decode_events(ids))
    }
}

/// Decodes stream entries into envelopes, skipping (and logging) any that are not valid.
pub(crate) fn decode_events(ids: Vec<StreamId>) -> Vec<(String, Envelope)> {
    ids.into_iter()
        .filter_map(|e| {
            let raw: String = e.get("event")?;
            match serde_json::from_str::<Envelope>(&raw) {
                Ok(env) => Some((e.id, env)),
                Err(err) => {
                    tracing::warn!(stream_id = %e.id, error = %err, "skipping undecodable event");
                    None
                }
            }
        })
        .collect()
}
