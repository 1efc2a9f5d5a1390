//! The audit trail and approvals on the wire: who sent a command ([`ClientInfo`]), the approval
//! it carries ([`Approval`], with the [`PlanDigest`] of the plan its user confirmed), what the
//! daemon records about each request ([`AuditEntry`], with every AWS resource it touched) and
//! how `history` asks for them back.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{ErrorCode, RequestId, ResourceType, Status};

impl Touched {
    /// `action` done to a resource the scanner knows as `kind`.
    pub fn new(kind: ResourceType, id: &str, region: &str, action: TouchAction) -> Self {
        Self {
            kind: kind.to_string(),
            id: id.to_owned(),
            region: region.to_owned(),
            account: None,
            action,
        }
    }
}

/// The kind of program that sent a command.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientKind {
    Cli,
    Tui,
    /// The earlier Python client (it names nobody), or any sender that gives no `client`.
    #[default]
    Legacy,
    /// A daemon's own scheduled work (the periodic refresh).
    Daemon,
    /// A sender this version does not know.
    #[serde(other)]
    Other,
}

impl fmt::Display for ClientKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClientKind::Cli => "cli",
            ClientKind::Tui => "tui",
            ClientKind::Legacy => "legacy",
            ClientKind::Daemon => "daemon",
            ClientKind::Other => "other",
        })
    }
}

/// Who sent a command, as the sending client states it (the envelope's `client`). Anyone who
/// can write to Redis can claim any name: it records who asked, it does not authenticate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    pub kind: ClientKind,
    /// The OS user running the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

impl ClientInfo {
    /// Longest user or host name kept (a client cannot bloat the audit trail).
    const MAX_NAME: usize = 128;

    /// This client, as `kind`, run by the current OS user on `host`.
    pub fn new(kind: ClientKind, user: Option<String>, host: Option<String>) -> Self {
        Self {
            kind,
            user: user.filter(|u| !u.is_empty()),
            host: host.filter(|h| !h.is_empty()),
        }
        .bounded()
    }

    /// The same with over-long names cut, as the daemon records them.
    pub fn bounded(mut self) -> Self {
        let cut = |s: &mut Option<String>| {
            if let Some(v) = s.as_mut()
                && v.chars().count() > Self::MAX_NAME
            {
                *v = v.chars().take(Self::MAX_NAME).collect();
            }
        };
        cut(&mut self.user);
        cut(&mut self.host);
        self
    }
}

impl fmt::Display for ClientInfo {
    /// `alice@laptop (cli)`; `legacy` alone when nobody is named.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.user, &self.host) {
            (None, None) => write!(f, "{}", self.kind),
            (u, h) => write!(
                f,
                "{}@{} ({})",
                u.as_deref().unwrap_or("?"),
                h.as_deref().unwrap_or("?"),
                self.kind
            ),
        }
    }
}

/// The digest of a plan (`sha256:` and 64 hex digits): what a user confirmed, sent back with the
/// destructive command so that the daemon runs exactly that plan or nothing.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct PlanDigest(String);

impl PlanDigest {
    const PREFIX: &'static str = "sha256:";

    /// The digest of a plan given as one line per act (`delete ec2_instance i-1 us-east-1`).
    /// Order does not count: the same acts give the same digest however AWS listed them.
    pub fn of(acts: impl IntoIterator<Item = String>) -> Self {
        let mut acts: Vec<String> = acts.into_iter().collect();
        acts.sort();
        let mut h = Sha256::new();
        for a in &acts {
            h.update(a.as_bytes());
            h.update(b"\n");
        }
        Self(format!("{}{:x}", Self::PREFIX, h.finalize()))
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        let hex = s.strip_prefix(Self::PREFIX).unwrap_or("");
        if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Self(s.to_owned()))
        } else {
            let shown: String = s.chars().take(80).collect();
            Err(format!(
                "'{shown}' is not a plan digest: use the 'plan_digest' of the plan you confirmed (sha256: and 64 lowercase hex digits)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first hex digits, enough for a person to compare two digests.
    pub fn short(&self) -> &str {
        &self.0[Self::PREFIX.len()..Self::PREFIX.len() + 12]
    }
}

impl<'de> Deserialize<'de> for PlanDigest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for PlanDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The approval a command carries (the envelope's `approval`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// The digest of the plan the user confirmed: the daemon re-plans and runs only when its
    /// plan has the same digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_digest: Option<PlanDigest>,
    /// Run even though a policy rule denies it (recorded in the audit trail).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub override_policy: bool,
}

impl Approval {
    pub fn is_empty(&self) -> bool {
        self.plan_digest.is_none() && !self.override_policy
    }
}

/// What the daemon did to a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TouchAction {
    Created,
    /// Brought in line with its blueprint (firewall rules added).
    Changed,
    Started,
    Stopped,
    Deleted,
}

impl TouchAction {
    pub const ALL: [TouchAction; 5] = [
        TouchAction::Created,
        TouchAction::Changed,
        TouchAction::Started,
        TouchAction::Stopped,
        TouchAction::Deleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TouchAction::Created => "created",
            TouchAction::Changed => "changed",
            TouchAction::Started => "started",
            TouchAction::Stopped => "stopped",
            TouchAction::Deleted => "deleted",
        }
    }
}

impl fmt::Display for TouchAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TouchAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|a| a.as_str()).collect();
                format!("'{s}' is no action; use one of {}", names.join(", "))
            })
    }
}

/// One AWS resource a request acted on.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Touched {
    /// The scanner's type name (`ec2_instance`), or `acm_certificate` for what it does not scan.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub region: String,
    /// The AWS account it is in, when the daemon knows its identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub action: TouchAction,
}

/// How a request was let through (or why not), as recorded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorization {
    /// The digest of the plan the command carried, when it carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_digest: Option<PlanDigest>,
    /// The command asked to override policy.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub override_policy: bool,
    /// The policy rule that decided (`policy.destroy`, `policy.rules.protect-prod`), when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// One request as the audit trail keeps it: who asked for what, as whom on AWS, when, how it
/// ended, and every AWS resource it created, changed, started, stopped or deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub request_id: RequestId,
    /// The command's `type` (`?` when the payload named none).
    pub command: String,
    /// Its arguments with secrets redacted ([`redact_secrets`]).
    #[serde(default)]
    pub args: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    pub client: ClientInfo,
    /// The daemon that ended the request.
    pub daemon: String,
    /// The AWS account and principal (ARN) the daemon acted as, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<ErrorCode>,
    pub message: String,
    /// True when the daemon refused the command before running it (malformed, denied, not
    /// approved).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refused: bool,
    #[serde(default)]
    pub authorization: Authorization,
    #[serde(default)]
    pub resources: Vec<Touched>,
}

impl AuditEntry {
    /// True when the entry passes `filter` (its limit aside).
    pub fn matches(&self, filter: &HistoryArgs) -> bool {
        filter
            .project
            .as_ref()
            .is_none_or(|p| self.project.as_ref() == Some(p))
            && filter.since.is_none_or(|t| self.ended_at >= t)
            && filter.command.as_ref().is_none_or(|c| &self.command == c)
            && filter
                .action
                .is_none_or(|a| self.resources.iter().any(|r| r.action == a))
    }

    /// A daemon's own scheduled work (the periodic refresh) that ended well and touched
    /// nothing: not recorded, or it would fill the trail with one entry a minute.
    pub fn is_routine(&self) -> bool {
        self.client.kind == ClientKind::Daemon
            && self.resources.is_empty()
            && !self.refused
            && self.status == Status::Success
    }
}

/// `history`: audit entries, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryArgs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Entries that ended at or after this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// Entries of this command only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Entries that did this to at least one resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<TouchAction>,
    /// At most this many entries (default 100, at most 10,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

impl HistoryArgs {
    pub const DEFAULT_LIMIT: usize = 100;
    pub const MAX_LIMIT: usize = 10_000;

    pub fn limit(&self) -> usize {
        self.limit
            .unwrap_or(Self::DEFAULT_LIMIT)
            .clamp(1, Self::MAX_LIMIT)
    }
}

/// `history`'s answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// Newest first.
    pub entries: Vec<AuditEntry>,
    /// True when more entries matched than the limit let through.
    #[serde(default)]
    pub truncated: bool,
}

/// Replaces every value whose key names a secret (`password`, `secret`, `token`, a private or
/// access key) by `"***"`, at any depth: what a command carried is recorded, its secrets never.
pub fn redact_secrets(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if is_secret_key(k) && !child.is_null() {
                    *child = Value::String("***".into());
                } else {
                    redact_secrets(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_secrets),
        _ => {}
    }
}

fn is_secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    [
        "password",
        "secret",
        "token",
        "private_key",
        "access_key",
        "passphrase",
    ]
    .iter()
    .any(|s| k.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn digests_ignore_order_and_tell_plans_apart() {
        let a = PlanDigest::of(["delete vpc vpc-1 us-east-1".into(), "delete x 2 r".into()]);
        let b = PlanDigest::of(["delete x 2 r".into(), "delete vpc vpc-1 us-east-1".into()]);
        let c = PlanDigest::of(["delete vpc vpc-1 us-east-1".into()]);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(PlanDigest::parse(a.as_str()).unwrap(), a);
        assert_eq!(a.short().len(), 12);
    }

    #[test]
    fn a_bad_digest_says_what_to_send() {
        let err =
            serde_json::from_value::<Approval>(json!({"plan_digest": "md5:abc"})).unwrap_err();
        assert!(err.to_string().contains("not a plan digest"), "{err}");
        let err = serde_json::from_value::<Approval>(json!({"overide_policy": true})).unwrap_err();
        assert!(err.to_string().contains("overide_policy"), "{err}");
    }

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let mut v = json!({
            "blueprint": {"database": {"password": "hunter2", "engine": "postgres"},
                          "users": [{"Access_Key_Id": "AKIA1234"}]},
            "db_password": null,
        });
        redact_secrets(&mut v);
        let s = v.to_string();
        assert!(!s.contains("hunter2") && !s.contains("AKIA1234"), "{s}");
        assert!(s.contains("postgres"));
        assert_eq!(v["db_password"], Value::Null);
    }

    #[test]
    fn unknown_client_kinds_read_as_other_and_long_names_are_cut() {
        let c: ClientInfo = serde_json::from_value(json!({"kind": "robot"})).unwrap();
        assert_eq!(c.kind, ClientKind::Other);
        let c = ClientInfo::new(ClientKind::Cli, Some("u".repeat(500)), None);
        assert_eq!(c.user.unwrap().len(), 128);
    }
}
