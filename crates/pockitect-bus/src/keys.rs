//! Every Redis key and channel name Pockitect uses, in one place, under one prefix.
//!
//! Every key starts with the prefix as its hash tag: `{pockitect}:stream:commands`. Redis Cluster
//! places a key by the part between its first `{` and the next `}` when there is one, so all of
//! the bus's keys share one slot, and each Lua script and MULTI that touches several of them runs
//! on one node, as Redis Cluster requires (on a standalone Redis the braces are just characters).
//! Pub/sub channels are not placed by slot (a PUBLISH reaches the subscribers of every node) and
//! keep their untagged names: `<prefix>:commands` is where the earlier Python client publishes.
//!
//! Earlier versions named keys `<prefix>:<name>`; the `<name>` part is unchanged, which is what
//! lets [`Keys::migrated`] tell the new name of each old key.

/// The fixed keys, after the tag.
const COMMAND_STREAM: &str = "stream:commands";
const EVENT_STREAM: &str = "stream:events";
const AUDIT_STREAM: &str = "stream:audit";
const DEAD_LETTER_STREAM: &str = "stream:dead";
const DAEMON_IDS: &str = "daemon-ids";

/// The families of keys with an id, after the tag: `<family>:<id>`.
const TOUCHED: &str = "touched";
const AUTHORIZED: &str = "authorized";
const SEEN: &str = "seen";
const CLAIM: &str = "claim";
const DONE: &str = "done";
const REPLY: &str = "reply";
const CANCEL: &str = "cancel";
const LOCK: &str = "lock";
const DAEMON: &str = "daemon";

/// The keys an earlier version kept untagged that are worth keeping: every stream (the audit
/// trail above all) and every family of per-request or per-project keys. Its heartbeats
/// (`<prefix>:daemon:<id>`) are left alone: leases of seconds, which only count now with their
/// id in [`Keys::daemon_ids`], where each daemon puts itself again at its next beat.
const LEGACY_KEYS: [&str; 4] = [
    COMMAND_STREAM,
    EVENT_STREAM,
    AUDIT_STREAM,
    DEAD_LETTER_STREAM,
];
const LEGACY_FAMILIES: [&str; 8] = [TOUCHED, AUTHORIZED, SEEN, CLAIM, DONE, REPLY, CANCEL, LOCK];

/// Key names under a configurable prefix (default `pockitect`). Two installations (or two tests)
/// with different prefixes share a Redis without seeing each other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
    /// `{<prefix>}`: the start of every key.
    tag: String,
}

impl Keys {
    pub fn new(prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        Self {
            tag: format!("{{{prefix}}}"),
            prefix,
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `{<prefix>}`, the hash tag every key starts with (for patterns over the bus's keys).
    pub fn tag(&self) -> &str {
        &self.tag
    }

    fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.tag)
    }

    fn keyed(&self, family: &str, id: &str) -> String {
        format!("{}:{family}:{id}", self.tag)
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
        self.key(COMMAND_STREAM)
    }

    /// The consumer group shared by every daemon. A name inside the command stream, not a key:
    /// untagged, and unchanged, so a stream renamed from an earlier version keeps its group and
    /// its pending entries.
    pub fn group(&self) -> String {
        format!("{}:daemons", self.prefix)
    }

    /// Capped stream of every event (replay for late or reconnecting clients).
    pub fn event_stream(&self) -> String {
        self.key(EVENT_STREAM)
    }

    /// The audit trail: one entry per request, kept for the configured retention.
    pub fn audit_stream(&self) -> String {
        self.key(AUDIT_STREAM)
    }

    /// The AWS resources a running request has acted on so far (read into its audit entry
    /// when it ends, so that a request resumed by another daemon loses none).
    pub fn touched(&self, request_id: &str) -> String {
        self.keyed(TOUCHED, request_id)
    }

    /// How a request was authorized (or refused) by the daemon's policy: kept so that a daemon
    /// resuming it does not ask for the approval of a plan half of which already ran.
    pub fn authorized(&self, request_id: &str) -> String {
        self.keyed(AUTHORIZED, request_id)
    }

    /// Commands that could not be parsed, with the reason.
    pub fn dead_letter_stream(&self) -> String {
        self.key(DEAD_LETTER_STREAM)
    }

    /// Set once when a request id is first enqueued; a second enqueue of the same id is dropped.
    pub fn seen(&self, dedupe_key: &str) -> String {
        self.keyed(SEEN, dedupe_key)
    }

    /// Lease of the worker running a request (value: consumer name).
    pub fn claim(&self, request_id: &str) -> String {
        self.keyed(CLAIM, request_id)
    }

    /// The terminal event of a finished request.
    pub fn done(&self, request_id: &str) -> String {
        self.keyed(DONE, request_id)
    }

    /// A query's full answer, waiting for the client that asked (read once, short TTL).
    pub fn reply(&self, request_id: &str) -> String {
        self.keyed(REPLY, request_id)
    }

    /// Set by `cancel`; the running handler stops at its next safe point.
    pub fn cancel(&self, request_id: &str) -> String {
        self.keyed(CANCEL, request_id)
    }

    /// Per-project lock (value: request id).
    pub fn project_lock(&self, project: &str) -> String {
        self.keyed(LOCK, project)
    }

    /// A daemon's heartbeat record, expiring unless the daemon renews it (a lease).
    pub fn daemon(&self, daemon_id: &str) -> String {
        self.keyed(DAEMON, daemon_id)
    }

    /// The ids of the daemons that announced themselves, a set: listing the daemons reads it
    /// rather than SCAN for their records (on a cluster a SCAN would have to visit every
    /// node), and drops the ids whose record expired.
    pub fn daemon_ids(&self) -> String {
        self.key(DAEMON_IDS)
    }

    /// SCAN pattern that matches every key of an earlier version's layout (untagged, under
    /// `<prefix>:`), and possibly other keys: filter them with [`Keys::migrated`].
    pub fn legacy_pattern(&self) -> String {
        let mut p = String::with_capacity(self.prefix.len() + 2);
        for c in self.prefix.chars() {
            // Glob-special in a SCAN pattern: taken literally once escaped.
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                p.push('\\');
            }
            p.push(c);
        }
        p.push_str(":*");
        p
    }

    /// The name that a key named by an earlier version (`<prefix>:<name>`, untagged) has now, or
    /// None for a key that is no bus key of this prefix worth moving: another installation's
    /// whose prefix starts like ours (`pockitect:staging:…`), or an old heartbeat.
    pub fn migrated(&self, old: &str) -> Option<String> {
        let name = old.strip_prefix(&self.prefix)?.strip_prefix(':')?;
        let known = LEGACY_KEYS.contains(&name)
            || LEGACY_FAMILIES.iter().any(|f| {
                name.strip_prefix(f)
                    .and_then(|rest| rest.strip_prefix(':'))
                    .is_some()
            });
        known.then(|| self.key(name))
    }
}

/// What is wrong with `prefix` as the hash tag of every key, if anything. Redis Cluster hashes
/// the part of a key between its first `{` and the next `}`, or the whole key when that part is
/// empty: an empty prefix, or one with a brace, would spread the bus's keys over several slots.
pub(crate) fn prefix_problem(prefix: &str) -> Option<&'static str> {
    if prefix.is_empty() {
        Some("it is empty")
    } else if prefix.contains(['{', '}']) {
        Some("it contains '{' or '}'")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key of `k`, with ids that try to break the tag.
    fn every_key(k: &Keys) -> Vec<String> {
        let mut keys = vec![
            k.command_stream(),
            k.event_stream(),
            k.audit_stream(),
            k.dead_letter_stream(),
            k.daemon_ids(),
        ];
        for id in ["x", "{other}", "}{", "a:b", "", "{}"] {
            keys.extend([
                k.touched(id),
                k.authorized(id),
                k.seen(id),
                k.claim(id),
                k.done(id),
                k.reply(id),
                k.cancel(id),
                k.project_lock(id),
                k.daemon(id),
            ]);
        }
        keys
    }

    #[test]
    fn default_channels_and_group_match_the_earlier_version() {
        let k = Keys::new("pockitect");
        assert_eq!(k.commands_channel(), "pockitect:commands");
        assert_eq!(k.status_channel(), "pockitect:status");
        assert_eq!(k.group(), "pockitect:daemons");
    }

    #[test]
    fn every_key_starts_with_the_tagged_prefix() {
        let k = Keys::new("t1");
        assert_eq!(k.tag(), "{t1}");
        assert_eq!(k.command_stream(), "{t1}:stream:commands");
        for key in every_key(&k) {
            assert!(key.starts_with("{t1}:"), "{key}");
        }
    }

    /// Redis Cluster lets a script or a MULTI touch keys of one slot only; every key a script
    /// of the bus is given comes from `Keys`, so all of them must hash alike, whatever the ids.
    #[test]
    fn every_key_hashes_to_the_slot_of_the_prefix() {
        use redis::cluster_routing::Slot;
        for prefix in ["pockitect", "t1", "team:prod", "a b", "x*"] {
            let k = Keys::new(prefix);
            let slot = Slot::for_key(prefix);
            for key in every_key(&k) {
                assert_eq!(Slot::for_key(&key), slot, "{key}");
            }
        }
        // The same keys without the tag would be spread over many slots: the check can fail.
        let k = Keys::new("pockitect");
        let untagged: std::collections::HashSet<_> = every_key(&k)
            .iter()
            .map(|key| Slot::for_key(key.replacen("{pockitect}", "pockitect", 1)))
            .collect();
        assert!(untagged.len() > 1);
    }

    #[test]
    fn every_old_name_maps_to_its_new_name_and_nothing_else_does() {
        let k = Keys::new("pockitect");
        for new in every_key(&k) {
            let old = new.replacen("{pockitect}", "pockitect", 1);
            let moved = k.migrated(&old);
            if new == k.daemon_ids() || new.starts_with("{pockitect}:daemon:") {
                assert_eq!(moved, None, "{old}: not moved");
            } else {
                assert_eq!(moved.as_deref(), Some(new.as_str()), "{old}");
            }
        }
        for other in [
            "pockitect:daemon:d1",
            "pockitect:commands",
            "pockitect:staging:stream:commands",
            "pockitect:staging:lock:blog",
            "pockitectx:stream:commands",
            "{pockitect}:stream:commands",
            "other:stream:commands",
            "pockitect:stream:commandsx",
            "pockitect:locks:x",
        ] {
            assert_eq!(k.migrated(other), None, "{other}");
        }
    }

    #[test]
    fn the_legacy_pattern_takes_the_prefix_literally() {
        assert_eq!(Keys::new("pockitect").legacy_pattern(), "pockitect:*");
        assert_eq!(
            Keys::new("a*b?[c]\\").legacy_pattern(),
            "a\\*b\\?\\[c\\]\\\\:*"
        );
    }

    #[test]
    fn a_prefix_must_make_a_hash_tag() {
        assert_eq!(prefix_problem("pockitect"), None);
        assert_eq!(prefix_problem("team-a:prod"), None);
        for bad in ["", "a{b", "a}b", "{a}"] {
            assert!(prefix_problem(bad).is_some(), "{bad:?}");
        }
    }
}
