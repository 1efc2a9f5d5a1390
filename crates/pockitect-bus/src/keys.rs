//! Every Redis key and channel name Pockitect uses, in one place, under one prefix.

/// Key names under a configurable prefix (default `pockitect`). Two installations (or two tests)
/// with different prefixes share a Redis without seeing each other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Pub/sub channel the earlier Python client PUBLISHes commands on.
    pub fn commands_channel(&self) -> String {
        format!("{}:commands", self.prefix)
    }

    /// Pub/sub channel every event is published on (live).
    pub fn status_channel(&self) -> String {
        format!("{}:status", self.prefix)
    }

    /// Stream of commands, read by the daemons' consumer group.
    pub fn command_stream(&self) -> String {
        format!("{}:stream:commands", self.prefix)
    }

    /// The consumer group shared by every daemon.
    pub fn group(&self) -> String {
        format!("{}:daemons", self.prefix)
    }

    /// Capped stream of every event (replay for late or reconnecting clients).
    pub fn event_stream(&self) -> String {
        format!("{}:stream:events", self.prefix)
    }

    /// The audit trail: one entry per request, kept for the configured retention.
    pub fn audit_stream(&self) -> String {
        format!("{}:stream:audit", self.prefix)
    }

    /// The AWS resources a running request has acted on so far (read into its audit entry
    /// when it ends, so that a request resumed by another daemon loses none).
    pub fn touched(&self, request_id: &str) -> String {
        format!("{}:touched:{request_id}", self.prefix)
    }

    /// How a request was authorized (or refused) by the daemon's policy: kept so that a daemon
    /// resuming it does not ask for the approval of a plan half of which already ran.
    pub fn authorized(&self, request_id: &str) -> String {
        format!("{}:authorized:{request_id}", self.prefix)
    }

    /// Commands that could not be parsed, with the reason.
    pub fn dead_letter_stream(&self) -> String {
        format!("{}:stream:dead", self.prefix)
    }

    /// Set once when a request id is first enqueued; a second enqueue of the same id is dropped.
    pub fn seen(&self, dedupe_key: &str) -> String {
        format!("{}:seen:{dedupe_key}", self.prefix)
    }

    /// Lease of the worker running a request (value: consumer name).
    pub fn claim(&self, request_id: &str) -> String {
        format!("{}:claim:{request_id}", self.prefix)
    }

    /// The terminal event of a finished request.
    pub fn done(&self, request_id: &str) -> String {
        format!("{}:done:{request_id}", self.prefix)
    }

    /// A query's full answer, waiting for the client that asked (read once, short TTL).
    pub fn reply(&self, request_id: &str) -> String {
        format!("{}:reply:{request_id}", self.prefix)
    }

    /// Set by `cancel`; the running handler stops at its next safe point.
    pub fn cancel(&self, request_id: &str) -> String {
        format!("{}:cancel:{request_id}", self.prefix)
    }

    /// Per-project lock (value: request id).
    pub fn project_lock(&self, project: &str) -> String {
        format!("{}:lock:{project}", self.prefix)
    }

    /// A daemon's heartbeat record.
    pub fn daemon(&self, daemon_id: &str) -> String {
        format!("{}:daemon:{daemon_id}", self.prefix)
    }

    pub fn daemon_pattern(&self) -> String {
        format!("{}:daemon:*", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_channels_match_the_earlier_client() {
        let k = Keys::new("pockitect");
        assert_eq!(k.commands_channel(), "pockitect:commands");
        assert_eq!(k.status_channel(), "pockitect:status");
    }

    #[test]
    fn every_key_carries_the_prefix() {
        let k = Keys::new("t1");
        for key in [
            k.command_stream(),
            k.event_stream(),
            k.dead_letter_stream(),
            k.group(),
            k.seen("x"),
            k.claim("x"),
            k.done("x"),
            k.reply("x"),
            k.cancel("x"),
            k.project_lock("p"),
            k.daemon("d"),
            k.daemon_pattern(),
        ] {
            assert!(key.starts_with("t1:"), "{key}");
        }
    }
}
