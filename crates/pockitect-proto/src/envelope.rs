use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::RequestId;

/// Version written in every envelope; readers accept envelopes without it (the earlier client).
pub const PROTOCOL_VERSION: u8 = 1;

/// Where a request stands. Every request ends with exactly one event whose status is terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Queued,
    InProgress,
    Success,
    Partial,
    Error,
    Skipped,
    Cancelled,
}

impl Status {
    /// True for the statuses that end a request.
    pub fn is_terminal(self) -> bool {
        !matches!(self, Status::Queued | Status::InProgress)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::InProgress => "in_progress",
            Status::Success => "success",
            Status::Partial => "partial",
            Status::Error => "error",
            Status::Skipped => "skipped",
            Status::Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON object carried by every command and event:
/// `{"v":1, "type", "request_id", "project_id", "data", "status", "ts"}`.
///
/// It is a superset of the earlier Python client's format, which sent only `type`, `data` and
/// `request_id`; missing fields take their defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    #[serde(default = "default_version")]
    pub v: u8,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, deserialize_with = "lenient_request_id")]
    pub request_id: Option<RequestId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    #[serde(default)]
    pub data: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    #[serde(default = "Utc::now")]
    pub ts: DateTime<Utc>,
    /// Who sent a command (none: the earlier client, recorded as `legacy`). Events carry none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<crate::ClientInfo>,
    /// The approval a command carries (the plan digest its user confirmed). Events carry none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<crate::Approval>,
}

fn default_version() -> u8 {
    PROTOCOL_VERSION
}

/// A request id that is present but invalid is an error the caller must see, so it is not
/// silently dropped; `null` reads as absent.
fn lenient_request_id<'de, D>(d: D) -> Result<Option<RequestId>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let raw: Option<String> = Option::deserialize(d)?;
    match raw {
        None => Ok(None),
        Some(s) => RequestId::parse(&s)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

impl Envelope {
    /// An event for `request_id` (None for daemon-wide announcements).
    pub fn event(
        kind: impl Into<String>,
        request_id: Option<RequestId>,
        project_id: Option<String>,
        status: Status,
        data: Value,
    ) -> Self {
        Self {
            v: PROTOCOL_VERSION,
            kind: kind.into(),
            request_id,
            project_id,
            data,
            status: Some(status),
            ts: Utc::now(),
            client: None,
            approval: None,
        }
    }

    /// A typed event for `request_id` (None for daemon-wide announcements).
    pub fn of(
        event: crate::Event,
        request_id: Option<RequestId>,
        project_id: Option<String>,
        status: Status,
    ) -> Self {
        let (kind, data) = event.into_parts();
        Self::event(kind, request_id, project_id, status, data)
    }

    /// The envelope of command `cmd` under `request_id`, sent by `client` with `approval`.
    pub fn command(
        cmd: &crate::Command,
        request_id: RequestId,
        client: Option<crate::ClientInfo>,
        approval: Option<crate::Approval>,
    ) -> Self {
        Self {
            v: PROTOCOL_VERSION,
            kind: cmd.kind().to_owned(),
            request_id: Some(request_id),
            project_id: cmd.project().map(str::to_owned),
            data: cmd.data(),
            status: None,
            ts: Utc::now(),
            client,
            approval: approval.filter(|a| !a.is_empty()),
        }
    }

    /// The typed event this envelope carries. Fails for a `type` this version does not know
    /// (a newer daemon), for data that does not match its type, and for a query's summary
    /// (its answer waits under [`Envelope::reply_ref`]; read that instead).
    pub fn decode(&self) -> Result<crate::Event, crate::EventError> {
        crate::Event::from_parts(&self.kind, &self.data)
    }

    /// True when this is the last event of its request.
    pub fn is_terminal(&self) -> bool {
        self.status.is_some_and(Status::is_terminal)
    }

    pub fn to_json(&self) -> String {
        // Serialising a struct of strings, numbers and a `Value` cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Where the full answer of a query waits, when this is a query's terminal event.
    pub fn reply_ref(&self) -> Option<crate::ReplyRef> {
        if !self.is_terminal() {
            return None;
        }
        let v = self.data.get(crate::ReplyRef::FIELD)?;
        serde_json::from_value(v.clone()).ok()
    }

    /// The summary of a query's answer that everybody but the asking client sees, when this is
    /// one (the answer itself waits under [`Envelope::reply_ref`]).
    pub fn answer_summary(&self) -> Option<crate::AnswerSummary> {
        // The pointer first: a whole answer (megabytes) has none and is not copied to find out.
        let reply = self.reply_ref()?;
        let counts = self
            .data
            .get("counts")
            .and_then(|c| serde_json::from_value(c.clone()).ok())
            .unwrap_or_default();
        Some(crate::AnswerSummary { reply, counts })
    }

    /// The records of a `resources` or `scan_chunk` event, each read on its own: one record a
    /// newer daemon added (a resource type this build does not know) must not hide the rest,
    /// as decoding the whole event would. Takes them out of `data`.
    pub fn take_records(&mut self) -> Vec<crate::ResourceRecord> {
        match self.data.get_mut("records").map(Value::take) {
            Some(Value::Array(items)) => items
                .into_iter()
                .filter_map(|r| serde_json::from_value(r).ok())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The `data.message` string of an error event, if any.
    pub fn message(&self) -> Option<&str> {
        self.data.get("message").and_then(Value::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_command_without_version_or_ts_parses() {
        let raw = r#"{"type":"scan_all_regions","data":{"regions":["us-east-1"]},"request_id":"0123456789abcdef0123456789abcdef"}"#;
        let env: Envelope = serde_json::from_str(raw).expect("legacy envelope");
        assert_eq!(env.v, 1);
        assert_eq!(env.kind, "scan_all_regions");
        assert_eq!(
            env.request_id.as_ref().map(RequestId::as_str),
            Some("0123456789abcdef0123456789abcdef")
        );
        assert!(env.status.is_none());
    }

    #[test]
    fn invalid_request_id_is_an_error() {
        let raw = r#"{"type":"scan","request_id":"no spaces allowed"}"#;
        let err = serde_json::from_str::<Envelope>(raw).unwrap_err();
        assert!(err.to_string().contains("request id"), "{err}");
    }

    #[test]
    fn terminal_statuses() {
        assert!(!Status::Queued.is_terminal());
        assert!(!Status::InProgress.is_terminal());
        for s in [
            Status::Success,
            Status::Partial,
            Status::Error,
            Status::Skipped,
            Status::Cancelled,
        ] {
            assert!(s.is_terminal());
        }
    }
}
