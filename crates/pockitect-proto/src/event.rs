use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{RequestId, ResourceRecord};

/// Event `type` names. A request's events share its `request_id`; the last has a terminal status.
pub mod event_type {
    /// The daemon took the command (status `queued` while waiting for a lock, else `in_progress`).
    pub const ACCEPTED: &str = "accepted";
    /// Generic progress of a long request (`data.step`, `data.total`, `data.message`).
    pub const PROGRESS: &str = "progress";
    /// A request failed (`data` is an [`crate::ErrorPayload`]).
    pub const ERROR: &str = "error";
    /// A request was cancelled.
    pub const CANCELLED: &str = "cancelled";
    pub const SCAN_STARTED: &str = "scan_started";
    /// One region's (or `global`'s) records, inline.
    pub const SCAN_CHUNK: &str = "scan_chunk";
    pub const SCAN_COMPLETE: &str = "scan_complete";
    /// Answer to `query_resources`: `data.records`.
    pub const RESOURCES: &str = "resources";
    pub const PROJECTS: &str = "projects";
    pub const PROJECT: &str = "project";
    pub const REQUEST: &str = "request";
    pub const DAEMON_INFO: &str = "daemon_info";
    pub const CATALOG: &str = "catalog";
    pub const PONG: &str = "pong";
    pub const CANCEL_REQUESTED: &str = "cancel_requested";
}

/// One scan failure, kept per region and service so the rest of the scan goes on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanError {
    pub region: String,
    pub service: String,
    /// AWS's error code (`AccessDenied`, `OptInRequired`, …) or `network`.
    pub code: String,
    pub message: String,
}

/// `scan_chunk` data: one region's records (or `global` for S3 and IAM).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScanChunk {
    pub region: String,
    pub records: Vec<ResourceRecord>,
    #[serde(default)]
    pub errors: Vec<ScanError>,
    /// Chunks done so far and expected in all, for progress displays.
    pub chunk: usize,
    pub chunks: usize,
}

/// `scan_complete` data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScanComplete {
    pub account: Option<String>,
    pub regions: Vec<String>,
    pub total: usize,
    /// Records per resource type name.
    pub counts: BTreeMap<String, usize>,
    /// Records per region.
    pub region_counts: BTreeMap<String, usize>,
    pub errors: Vec<ScanError>,
    pub duration_ms: u64,
}

/// `data.reply` of a query's terminal event. A query's answer (the whole estate, say) goes only
/// to the client that asked: the terminal event everybody sees (pub/sub, the replay stream, the
/// done record) carries this pointer beside a few counts, and the full event waits under `key`
/// for `ttl_secs`; the asking client reads it once (`pockitect_bus::Bus::answer`), which deletes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyRef {
    pub key: String,
    pub ttl_secs: u64,
    /// Size of the waiting answer, in bytes of JSON.
    pub bytes: u64,
}

impl ReplyRef {
    /// The field of a terminal event's `data` that holds the pointer.
    pub const FIELD: &'static str = "reply";
}

/// A request a daemon is working on, as its heartbeat shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlight {
    pub request_id: RequestId,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub project: Option<String>,
    pub started_at: DateTime<Utc>,
}

/// What a live daemon announces about itself every few seconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonHeartbeat {
    pub id: String,
    pub version: String,
    pub host: String,
    pub pid: u32,
    pub workers: usize,
    pub in_flight: Vec<InFlight>,
    pub started_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Requests finished since start.
    #[serde(default)]
    pub handled: u64,
    /// Where this daemon keeps database passwords: "keyring" or "file" (older daemons: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<String>,
}

/// Data of the `catalog` event: what a region offers (see `pockitect_aws::catalog`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub region: String,
    /// Regions enabled for the account, sorted.
    pub regions: Vec<String>,
    /// Instance types offered in `region`, sorted.
    pub instance_types: Vec<String>,
    /// DB instance classes orderable in `region`, per engine, sorted. An engine the API lists
    /// nothing for is left out: unknown, so callers keep their offline checks rather than
    /// refusing every class (emulators answer empty for most engines).
    pub db_classes: BTreeMap<String, Vec<String>>,
    /// EC2 account attributes (`max-instances`, `default-vpc`, `supported-platforms`, …).
    pub account: BTreeMap<String, Vec<String>>,
    pub fetched_at: DateTime<Utc>,
}

impl Catalog {
    /// True while younger than `lifetime`.
    pub fn is_fresh(&self, lifetime: std::time::Duration) -> bool {
        let age = Utc::now() - self.fetched_at;
        age.to_std().is_ok_and(|a| a < lifetime)
    }
}
