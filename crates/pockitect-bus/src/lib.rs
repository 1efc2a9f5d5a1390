//! The Redis transport between Pockitect's daemons and clients, and nothing else: commands on a
//! stream read by one consumer group (each handled by exactly one daemon, reclaimed after a lease
//! when a daemon dies), events published live and kept in a capped replay stream, request
//! deduplication, per-project locks, cancellation flags and daemon heartbeats. No business logic:
//! it moves envelopes and keeps leases.

mod audit;
mod conn;
mod keys;
pub mod local;
mod memory;
mod migrate;
mod readers;
mod reply;
mod scripts;

use std::sync::Arc;
use std::time::Duration;

use audit::audit_json;
use conn::{Conn, Endpoint};
use pockitect_proto::audit::AuditEntry;
use pockitect_proto::{
    Approval, ClientInfo, ClientKind, Command, DaemonHeartbeat, Envelope, RequestId,
};
use redis::AsyncCommands;

pub use keys::Keys;
pub use memory::eviction_warning;
pub use migrate::Migration;
pub use readers::{CommandReader, Delivery, EventReader};
pub use reply::REPLY_SECS;

/// How long a request id is remembered for deduplication and its terminal event kept.
pub const REMEMBER_SECS: u64 = 24 * 3600;

/// Failures of the transport. The URL shown never includes a password.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("connect to redis at '{url}': {source}")]
    Connect {
        url: String,
        #[source]
        source: redis::RedisError,
    },
    #[error("talk to redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("decode {what} from redis: {message}")]
    Decode { what: &'static str, message: String },
    #[error(
        "use the key prefix '{prefix}': {problem}; every key starts with the prefix in braces (a Redis Cluster hash tag), so choose a non-empty prefix without '{{' or '}}' (POCKITECT_PREFIX or --prefix)"
    )]
    Prefix {
        prefix: String,
        problem: &'static str,
    },
    #[error(
        "read the answer to request {request_id}: it is gone (an answer waits {ttl_secs} s for the client that asked and is read once); run the query again"
    )]
    ReplyExpired { request_id: String, ttl_secs: u64 },
}

/// Where Redis is and how the bus uses it.
#[derive(Clone, Debug)]
pub struct BusConfig {
    pub url: String,
    pub prefix: String,
    /// Approximate cap of the replay stream, in events.
    pub event_stream_len: usize,
    /// Approximate cap of the command stream, in entries.
    pub command_stream_len: usize,
    /// How long audit entries are kept in Redis.
    pub audit_retention: Duration,
    /// Approximate cap of the audit stream, in entries, whatever their age.
    pub audit_max_entries: usize,
}

impl BusConfig {
    pub fn new(url: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: prefix.into(),
            event_stream_len: 10_000,
            command_stream_len: 100_000,
            audit_retention: Duration::from_secs(90 * 24 * 3600),
            audit_max_entries: 50_000,
        }
    }
}

/// Installs the TLS crypto provider `rediss://` connections use (ring), unless the program has
/// installed one already. rustls chooses a provider by itself only when exactly one is compiled
/// in: none is when the CLI or TUI is built alone (`cargo install --path pockitect-cli`), two are
/// in the workspace (the AWS SDK brings aws-lc-rs); either way a TLS connection would panic.
/// Every connection of the bus calls this first; call it before any other Redis client.
pub fn ensure_tls_provider() {
    // Err: a provider is installed already (ours, or the program's own), and it stays.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The URL with any password replaced by `***`, safe for messages and logs.
pub fn redact_url(url: &str) -> String {
    match redis::parse_redis_url(url) {
        Some(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// A command on its way: its id and where to start following its events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    pub request_id: RequestId,
    pub after: String,
}

/// Whether a terminal event answers a refused (malformed) command: then it is published only
/// under a request id that is neither running nor done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    Yes,
    No,
}

/// How [`Bus::finish_with`] ends a request, beyond its terminal event.
pub(crate) struct End<'a> {
    /// How long the done record is kept.
    pub done_secs: u64,
    /// A query's full answer, stored for its client.
    pub reply: Option<&'a str>,
    pub refusal: Refusal,
    /// The request's audit entry.
    pub audit: Option<&'a AuditEntry>,
}

/// Outcome of trying to take a request's lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// We hold the lease: run the request.
    Taken,
    /// The request already finished; its delivery is a duplicate.
    AlreadyDone,
    /// Another worker holds it (value: that consumer's name).
    HeldBy(String),
}

/// Outcome of renewing a lease (a request's claim or a project's lock).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Renewal {
    /// Still ours, extended.
    Renewed,
    /// The key is gone: it expired unrenewed, or Redis lost its data (restarted without
    /// persistence, or evicted it). Nobody else holds it.
    Missing,
    /// Someone else holds it now (value: that consumer's name, or that request's id).
    HeldBy(String),
}

/// Outcome of trying to lock a project.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lock {
    Taken,
    /// Another request holds the project (value: its request id).
    HeldBy(String),
}

/// A cheap-to-clone handle on the bus. Publishing and small commands share one auto-reconnecting
/// connection; every blocking reader gets a connection of its own (a blocking read on a shared
/// multiplexed connection would stall everything else). The same on a standalone Redis and on a
/// Redis Cluster, told apart when connecting.
#[derive(Clone)]
pub struct Bus {
    inner: Arc<Inner>,
    conn: Conn,
    /// Named as the sender of every command sent (see [`Bus::identified_as`]).
    client: Option<Arc<ClientInfo>>,
}

struct Inner {
    endpoint: Endpoint,
    keys: Keys,
    cfg: BusConfig,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus")
            .field("url", &redact_url(&self.inner.cfg.url))
            .field("prefix", &self.inner.cfg.prefix)
            .field("cluster", &self.is_cluster())
            .finish()
    }
}

impl Bus {
    /// Connects once; fails at once when Redis is not there (callers decide whether to retry).
    /// The URL names a standalone Redis, or any node of a Redis Cluster: which one it is, the
    /// node says.
    pub async fn connect(cfg: BusConfig) -> Result<Self, BusError> {
        if let Some(problem) = keys::prefix_problem(&cfg.prefix) {
            return Err(BusError::Prefix {
                prefix: cfg.prefix,
                problem,
            });
        }
        let (endpoint, conn) =
            Endpoint::connect(&cfg.url)
                .await
                .map_err(|source| BusError::Connect {
                    url: redact_url(&cfg.url),
                    source,
                })?;
        Ok(Self {
            inner: Arc::new(Inner {
                endpoint,
                keys: Keys::new(cfg.prefix.clone()),
                cfg,
            }),
            conn,
            client: None,
        })
    }

    /// True when connected to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.inner.endpoint.is_cluster()
    }

    pub fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    pub fn config(&self) -> &BusConfig {
        &self.inner.cfg
    }

    /// A connection of its own with no response timeout, for blocking reads.
    pub(crate) async fn dedicated_connection(&self) -> Result<Conn, BusError> {
        self.inner
            .endpoint
            .dedicated()
            .await
            .map_err(|source| BusError::Connect {
                url: redact_url(&self.inner.cfg.url),
                source,
            })
    }

    pub(crate) fn conn(&self) -> Conn {
        self.conn.clone()
    }

    pub async fn ping(&self) -> Result<(), BusError> {
        let _: String = redis::cmd("PING").query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// Puts a command on the stream unless its request id was already enqueued. Returns false
    /// for a duplicate.
    pub async fn enqueue(&self, env: &Envelope) -> Result<bool, BusError> {
        let dedupe = match &env.request_id {
            Some(id) => id.to_string(),
            None => RequestId::new().to_string(),
        };
        self.enqueue_raw(&dedupe, &env.to_json()).await
    }

    /// Sends a command with a fresh request id. The returned position is the replay stream's
    /// newest event *before* the send: follow from it and no reply can be missed.
    pub async fn send(&self, cmd: &Command) -> Result<Sent, BusError> {
        self.send_approved(cmd, None).await
    }

    /// [`Bus::send`] with an approval: the digest of the plan the user confirmed.
    pub async fn send_approved(
        &self,
        cmd: &Command,
        approval: Option<Approval>,
    ) -> Result<Sent, BusError> {
        let after = self.last_event_id().await?;
        let request_id = RequestId::new();
        let client = self.client.as_deref().cloned();
        let env = Envelope::command(cmd, request_id.clone(), client, approval);
        self.enqueue(&env).await?;
        Ok(Sent { request_id, after })
    }

    /// The same bus, naming the sender of every command it sends: a client of `kind` run by
    /// this OS user on this host (what the daemon's audit trail records).
    pub fn identified_as(mut self, kind: ClientKind) -> Self {
        let user = ["USER", "LOGNAME", "USERNAME"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()));
        let host = gethostname::gethostname().to_string_lossy().into_owned();
        self.client = Some(Arc::new(ClientInfo::new(kind, user, Some(host))));
        self
    }

    /// Who this bus names as the sender of its commands.
    pub fn client(&self) -> Option<&ClientInfo> {
        self.client.as_deref()
    }

    /// Enqueue a payload as received (the pub/sub bridge forwards even malformed ones so that
    /// a worker dead-letters them and answers with an error event).
    pub async fn enqueue_raw(&self, dedupe_key: &str, payload: &str) -> Result<bool, BusError> {
        let k = self.keys();
        let id: Option<String> = scripts::ENQUEUE
            .key(k.seen(dedupe_key))
            .key(k.command_stream())
            .arg(payload)
            .arg(REMEMBER_SECS)
            .arg(self.inner.cfg.command_stream_len)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(id.is_some())
    }

    /// Publishes the legacy way (PUBLISH on the commands channel), as the earlier client does.
    /// Returns how many subscribers got it: on a cluster, those of the node it was sent to only
    /// (Redis counts no further), though it reaches the subscribers of every node.
    pub async fn publish_legacy_command(&self, payload: &str) -> Result<usize, BusError> {
        let n: usize = self
            .conn()
            .publish(self.keys().commands_channel(), payload)
            .await?;
        Ok(n)
    }

    /// Publishes a non-terminal event live and appends it to the replay stream.
    pub async fn publish_event(&self, env: &Envelope) -> Result<String, BusError> {
        let k = self.keys();
        let id: String = scripts::PUBLISH_EVENT
            .key(k.event_stream())
            .arg(k.status_channel())
            .arg(env.to_json())
            .arg(self.inner.cfg.event_stream_len)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(id)
    }

    /// Publishes a request's terminal event, records it as done, drops the lease and acks the
    /// stream entry (when `delivery` is given) in one atomic step. Returns false when the
    /// request had already finished (nothing was published).
    pub async fn finish(
        &self,
        env: &Envelope,
        consumer: &str,
        delivery_id: Option<&str>,
    ) -> Result<bool, BusError> {
        self.finish_audited(env, consumer, delivery_id, None).await
    }

    /// [`Bus::finish`], appending the request's audit entry in the same atomic step (and
    /// dropping its list of touched resources): a request that ends has exactly one entry.
    pub async fn finish_audited(
        &self,
        env: &Envelope,
        consumer: &str,
        delivery_id: Option<&str>,
        audit: Option<&AuditEntry>,
    ) -> Result<bool, BusError> {
        let end = End {
            done_secs: REMEMBER_SECS,
            reply: None,
            refusal: Refusal::No,
            audit,
        };
        self.finish_with(env, consumer, delivery_id, end).await
    }

    /// [`Bus::finish`] with the done record kept `done_secs`, and `reply` (a query's full
    /// answer, see [`Bus::finish_query`]) stored for its client in the same step. A refusal
    /// is published only under a request id nobody holds.
    pub(crate) async fn finish_with(
        &self,
        env: &Envelope,
        consumer: &str,
        delivery_id: Option<&str>,
        end: End<'_>,
    ) -> Result<bool, BusError> {
        let End {
            done_secs,
            reply,
            refusal,
            audit,
        } = end;
        let k = self.keys();
        let rid = env
            .request_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let audit = audit.map(audit_json).unwrap_or_default();
        let published: i64 = scripts::FINISH
            .key(k.done(&rid))
            .key(k.claim(&rid))
            .key(k.event_stream())
            .key(k.command_stream())
            .key(k.reply(&rid))
            .key(k.audit_stream())
            .key(k.touched(&rid))
            .arg(k.status_channel())
            .arg(env.to_json())
            .arg(self.inner.cfg.event_stream_len)
            .arg(done_secs)
            .arg(k.group())
            .arg(delivery_id.unwrap_or(""))
            .arg(consumer)
            .arg(reply.unwrap_or(""))
            .arg(REPLY_SECS)
            .arg(if refusal == Refusal::Yes { "1" } else { "0" })
            .arg(audit)
            .arg(self.oldest_audit_id())
            .arg(self.inner.cfg.audit_max_entries)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(published == 1)
    }

    /// Acknowledges and removes a stream entry without any event (duplicates, id-less garbage).
    pub async fn ack(&self, delivery_id: &str) -> Result<(), BusError> {
        let k = self.keys();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("XACK")
            .arg(k.command_stream())
            .arg(k.group())
            .arg(delivery_id)
            .ignore()
            .cmd("XDEL")
            .arg(k.command_stream())
            .arg(delivery_id)
            .ignore();
        let () = pipe.query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// Keeps a running command's stream entry from looking idle (so nobody reclaims it).
    pub async fn touch_delivery(&self, consumer: &str, delivery_id: &str) -> Result<(), BusError> {
        let k = self.keys();
        let _: redis::Value = redis::cmd("XCLAIM")
            .arg(k.command_stream())
            .arg(k.group())
            .arg(consumer)
            .arg(0)
            .arg(delivery_id)
            .arg("JUSTID")
            .query_async(&mut self.conn())
            .await?;
        Ok(())
    }

    /// Stores a malformed command with the reason it was refused.
    pub async fn dead_letter(&self, payload: &str, reason: &str) -> Result<(), BusError> {
        let _: String = redis::cmd("XADD")
            .arg(self.keys().dead_letter_stream())
            .arg("MAXLEN")
            .arg("~")
            .arg(10_000)
            .arg("*")
            .arg("payload")
            .arg(payload)
            .arg("reason")
            .arg(reason)
            .query_async(&mut self.conn())
            .await?;
        Ok(())
    }

    /// Number of entries in the dead-letter stream.
    pub async fn dead_letter_len(&self) -> Result<usize, BusError> {
        let n: usize = self.conn().xlen(self.keys().dead_letter_stream()).await?;
        Ok(n)
    }

    /// Takes the lease of a request for `consumer`.
    pub async fn claim(
        &self,
        request_id: &RequestId,
        consumer: &str,
        lease: Duration,
    ) -> Result<Claim, BusError> {
        let k = self.keys();
        let (code, holder): (i64, String) = scripts::CLAIM
            .key(k.claim(request_id.as_str()))
            .key(k.done(request_id.as_str()))
            .arg(consumer)
            .arg(millis(lease))
            .invoke_async(&mut self.conn())
            .await?;
        Ok(match code {
            0 => Claim::Taken,
            1 => Claim::AlreadyDone,
            _ => Claim::HeldBy(holder),
        })
    }

    /// Extends a request's lease, telling a lease taken by another consumer from one that
    /// vanished.
    pub async fn renew_claim(
        &self,
        request_id: &RequestId,
        consumer: &str,
        lease: Duration,
    ) -> Result<Renewal, BusError> {
        self.renew(&self.keys().claim(request_id.as_str()), consumer, lease)
            .await
    }

    /// Gives a request's lease up (only while `consumer` holds it), so the daemon that
    /// reclaims its command can take it at once. Returns false when it was not ours.
    pub async fn release_claim(
        &self,
        request_id: &RequestId,
        consumer: &str,
    ) -> Result<bool, BusError> {
        let n: i64 = scripts::RELEASE
            .key(self.keys().claim(request_id.as_str()))
            .arg(consumer)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(n == 1)
    }

    /// True while the command stream still holds `delivery_id` as taken but unacknowledged
    /// (false when Redis lost the stream or the group, as after a restart without persistence).
    pub async fn is_pending(&self, delivery_id: &str) -> Result<bool, BusError> {
        let k = self.keys();
        let r: Result<redis::Value, redis::RedisError> = redis::cmd("XPENDING")
            .arg(k.command_stream())
            .arg(k.group())
            .arg(delivery_id)
            .arg(delivery_id)
            .arg(1)
            .query_async(&mut self.conn())
            .await;
        match r {
            Ok(redis::Value::Array(items)) => Ok(!items.is_empty()),
            Ok(_) => Ok(false),
            Err(e) if e.code() == Some("NOGROUP") => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Answers a refused (malformed) command with its error event under the request id it
    /// named, unless that id is running or finished: then it only acknowledges the entry, so
    /// a malformed duplicate can never end or replace a real request. Returns true when the
    /// error event was published. Dead-lettering is the caller's separate step.
    pub async fn refuse(
        &self,
        env: &Envelope,
        delivery_id: Option<&str>,
        audit: Option<&AuditEntry>,
    ) -> Result<bool, BusError> {
        let end = End {
            done_secs: REMEMBER_SECS,
            reply: None,
            refusal: Refusal::Yes,
            audit,
        };
        self.finish_with(env, "", delivery_id, end).await
    }

    /// Locks a project for a request. Re-locking by the same request (a reclaimed command) works.
    pub async fn lock_project(
        &self,
        project: &str,
        request_id: &RequestId,
        lease: Duration,
    ) -> Result<Lock, BusError> {
        let (ok, holder): (i64, String) = scripts::LOCK
            .key(self.keys().project_lock(project))
            .arg(request_id.as_str())
            .arg(millis(lease))
            .invoke_async(&mut self.conn())
            .await?;
        Ok(if ok == 1 {
            Lock::Taken
        } else {
            Lock::HeldBy(holder)
        })
    }

    /// Extends a project's lock held by `request_id`.
    pub async fn renew_project_lock(
        &self,
        project: &str,
        request_id: &RequestId,
        lease: Duration,
    ) -> Result<Renewal, BusError> {
        self.renew(
            &self.keys().project_lock(project),
            request_id.as_str(),
            lease,
        )
        .await
    }

    pub async fn unlock_project(
        &self,
        project: &str,
        request_id: &RequestId,
    ) -> Result<bool, BusError> {
        let n: i64 = scripts::RELEASE
            .key(self.keys().project_lock(project))
            .arg(request_id.as_str())
            .invoke_async(&mut self.conn())
            .await?;
        Ok(n == 1)
    }

    async fn renew(&self, key: &str, owner: &str, lease: Duration) -> Result<Renewal, BusError> {
        let (code, holder): (i64, String) = scripts::RENEW
            .key(key)
            .arg(owner)
            .arg(millis(lease))
            .invoke_async(&mut self.conn())
            .await?;
        Ok(match code {
            1 => Renewal::Renewed,
            0 => Renewal::Missing,
            _ => Renewal::HeldBy(holder),
        })
    }

    /// True for the first caller to claim `key` (under the prefix) within `ttl`: lets one
    /// daemon of a pool announce something all of them noticed.
    pub async fn first_to_claim(&self, key: &str, ttl: Duration) -> Result<bool, BusError> {
        let set: Option<String> = redis::cmd("SET")
            .arg(self.keys().seen(key))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl))
            .query_async(&mut self.conn())
            .await?;
        Ok(set.is_some())
    }

    /// Asks the handler of `request_id` to stop at its next safe point.
    pub async fn request_cancel(&self, request_id: &RequestId) -> Result<(), BusError> {
        let () = self
            .conn()
            .set_ex(self.keys().cancel(request_id.as_str()), 1, REMEMBER_SECS)
            .await?;
        Ok(())
    }

    pub async fn is_cancel_requested(&self, request_id: &RequestId) -> Result<bool, BusError> {
        let n: bool = self
            .conn()
            .exists(self.keys().cancel(request_id.as_str()))
            .await?;
        Ok(n)
    }

    /// The terminal event of a finished request, if it finished in the last day.
    pub async fn done_event(&self, request_id: &RequestId) -> Result<Option<Envelope>, BusError> {
        let raw: Option<String> = self
            .conn()
            .get(self.keys().done(request_id.as_str()))
            .await?;
        raw.map(|s| decode_envelope(&s, "terminal event"))
            .transpose()
    }

    /// The terminal events of several requests at once (None for each one not finished), in
    /// the order asked: one round trip however many (a scan waits on its shards this way).
    pub async fn done_events(
        &self,
        request_ids: &[RequestId],
    ) -> Result<Vec<Option<Envelope>>, BusError> {
        if request_ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = request_ids
            .iter()
            .map(|id| self.keys().done(id.as_str()))
            .collect();
        let raw: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut self.conn())
            .await?;
        raw.into_iter()
            .map(|r| r.map(|s| decode_envelope(&s, "terminal event")).transpose())
            .collect()
    }

    /// Keeps the done records of `request_ids` only `ttl` more (a scan's shards, once the
    /// scan has gathered them: their chunks need not stay a day).
    pub async fn forget_done_after(
        &self,
        request_ids: &[RequestId],
        ttl: Duration,
    ) -> Result<(), BusError> {
        let mut pipe = redis::pipe();
        for id in request_ids {
            pipe.expire(self.keys().done(id.as_str()), ttl.as_secs().max(1) as i64)
                .ignore();
        }
        let () = pipe.query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// Id of the newest event in the replay stream (`0-0` when empty). Read it before sending
    /// a command, then follow from it: no reply can slip by between send and subscribe.
    pub async fn last_event_id(&self) -> Result<String, BusError> {
        let reply: redis::streams::StreamRangeReply = self
            .conn()
            .xrevrange_count(self.keys().event_stream(), "+", "-", 1)
            .await?;
        Ok(reply
            .ids
            .into_iter()
            .next()
            .map(|e| e.id)
            .unwrap_or_else(|| "0-0".to_owned()))
    }

    /// Events after `after` (exclusive), oldest first, at most `count`.
    pub async fn events_after(
        &self,
        after: &str,
        count: usize,
    ) -> Result<Vec<(String, Envelope)>, BusError> {
        let reply: redis::streams::StreamRangeReply = self
            .conn()
            .xrange_count(self.keys().event_stream(), format!("({after}"), "+", count)
            .await?;
        Ok(readers::decode_events(reply.ids))
    }

    /// A reader that blocks for new events after `after` (use [`Bus::last_event_id`] or `0-0`).
    pub async fn event_reader(&self, after: impl Into<String>) -> Result<EventReader, BusError> {
        EventReader::new(self, after.into()).await
    }

    /// A reader for the daemons' consumer group (creates the group when missing).
    pub async fn command_reader(
        &self,
        consumer: impl Into<String>,
        lease: Duration,
    ) -> Result<CommandReader, BusError> {
        CommandReader::new(self, consumer.into(), lease).await
    }

    /// A pub/sub subscription to the earlier client's command channel (on a cluster, to the node
    /// the URL names: it hears a PUBLISH sent to any node).
    pub async fn subscribe_legacy_commands(&self) -> Result<redis::aio::PubSub, BusError> {
        let mut ps = self.inner.endpoint.pubsub().await?;
        ps.subscribe(self.keys().commands_channel()).await?;
        Ok(ps)
    }

    /// A pub/sub subscription to the live status channel (on a cluster, as
    /// [`Bus::subscribe_legacy_commands`]).
    pub async fn subscribe_status(&self) -> Result<redis::aio::PubSub, BusError> {
        let mut ps = self.inner.endpoint.pubsub().await?;
        ps.subscribe(self.keys().status_channel()).await?;
        Ok(ps)
    }

    /// Announces a daemon; the record disappears `ttl` after the last call.
    pub async fn put_heartbeat(&self, hb: &DaemonHeartbeat, ttl: Duration) -> Result<(), BusError> {
        let json = serde_json::to_string(hb).map_err(|e| BusError::Decode {
            what: "heartbeat",
            message: e.to_string(),
        })?;
        let k = self.keys();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .pset_ex(k.daemon(&hb.id), json, millis(ttl))
            .ignore()
            .sadd(k.daemon_ids(), &hb.id)
            .ignore();
        let () = pipe.query_async(&mut self.conn()).await?;
        Ok(())
    }

    pub async fn remove_heartbeat(&self, daemon_id: &str) -> Result<(), BusError> {
        let k = self.keys();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .del(k.daemon(daemon_id))
            .ignore()
            .srem(k.daemon_ids(), daemon_id)
            .ignore();
        let () = pipe.query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// Every live daemon's heartbeat, sorted by id. Forgets the daemons whose record expired.
    pub async fn daemons(&self) -> Result<Vec<DaemonHeartbeat>, BusError> {
        let k = self.keys();
        let mut conn = self.conn();
        let ids: Vec<String> = conn.smembers(k.daemon_ids()).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // Checked and pruned in one step: a daemon that beats in between puts its id back
        // after it, never before.
        let mut script = scripts::DAEMONS.key(k.daemon_ids());
        for id in &ids {
            script.key(k.daemon(id)).arg(id);
        }
        let raw: Vec<String> = script.invoke_async(&mut conn).await?;
        let mut out: Vec<DaemonHeartbeat> = raw
            .into_iter()
            .filter_map(|s| serde_json::from_str(&s).ok())
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Commands waiting in the stream that no daemon has taken yet, and taken but unacknowledged.
    pub async fn backlog(&self) -> Result<(usize, usize), BusError> {
        let mut conn = self.conn();
        let len: usize = conn.xlen(self.keys().command_stream()).await?;
        let pending: redis::Value = redis::cmd("XPENDING")
            .arg(self.keys().command_stream())
            .arg(self.keys().group())
            .query_async(&mut conn)
            .await
            .unwrap_or(redis::Value::Nil);
        let pending = match pending {
            redis::Value::Array(items) => match items.first() {
                Some(redis::Value::Int(n)) => *n as usize,
                _ => 0,
            },
            _ => 0,
        };
        Ok((len.saturating_sub(pending), pending))
    }
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

pub(crate) fn decode_envelope(s: &str, what: &'static str) -> Result<Envelope, BusError> {
    serde_json::from_str(s).map_err(|e| BusError::Decode {
        what,
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tls_tests {
    #[test]
    fn a_tls_client_config_can_be_built_whatever_providers_are_compiled_in() {
        super::ensure_tls_provider();
        super::ensure_tls_provider(); // twice: the second is a no-op
        // Panics without a process-wide provider when rustls cannot choose one by itself.
        let _ = rustls::ClientConfig::builder();
    }
}
