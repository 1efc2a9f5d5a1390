use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use serde_json::Value;

use crate::deploy::DeployEvent;
use crate::payload::{
    Accepted, CancelRequested, DaemonInfo, DeployComplete, PlanReady, Pong, PowerComplete,
    PowerProgress, Progress, ProjectChanged, ProjectDetail, ProjectSummary, RefreshComplete,
    RequestInfo, ResourceChange, Resources, ScanStarted, TerminateComplete, TerminateProgress,
    TerminateSkipped,
};
use crate::{ErrorPayload, RequestId, ResourceRecord};

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
    /// A blueprint file was edited by hand and is valid (daemon-wide, no request id).
    pub const PROJECT_UPDATED: &str = "project_updated";
    /// A blueprint file was edited by hand and is invalid (daemon-wide, no request id).
    pub const PROJECT_INVALID: &str = "project_invalid";
    pub const PLAN: &str = "plan";
    pub const DEPLOY_PROGRESS: &str = "deploy_progress";
    pub const DEPLOY_COMPLETE: &str = "deploy_complete";
    pub const POWER_PROGRESS: &str = "power_progress";
    pub const POWER_COMPLETE: &str = "power_complete";
    pub const TERMINATE_PROGRESS: &str = "terminate_progress";
    pub const TERMINATE_SKIPPED: &str = "terminate_skipped";
    pub const TERMINATE_COMPLETE: &str = "terminate_complete";
    pub const DESTROY_COMPLETE: &str = "destroy_complete";
    pub const RESOURCE_CHANGED: &str = "resource_changed";
    pub const REFRESH_COMPLETE: &str = "refresh_complete";
    /// Answer to `history`: audit entries, newest first.
    pub const HISTORY: &str = "history";
    /// Answer to `waste`: what the last scan shows paid for and idle.
    pub const WASTE: &str = "waste";
    /// Answer to `cost`: actual spend per project.
    pub const COST: &str = "cost";
    /// Answer to `db_password`: the path of the 0600 file holding the password, never the password.
    pub const DB_PASSWORD: &str = "db_password";
    /// Answer to `login`: signed in (account, principal, the key id's last 4) or MFA required.
    pub const LOGIN: &str = "login";
    /// Answer to `logout`: the stored credentials are gone; what the daemon uses now.
    pub const LOGOUT: &str = "logout";

    /// The command whose request publishes events of type `kind`, when only one does (a client
    /// that missed a request's `accepted` still names it). `terminate_progress` is both
    /// terminate's and destroy's, and the generic events are everybody's: `None`.
    pub fn command_of(kind: &str) -> Option<&'static str> {
        Some(match kind {
            SCAN_STARTED | SCAN_CHUNK | SCAN_COMPLETE => "scan",
            RESOURCES => "query_resources",
            PROJECTS => "list_projects",
            PROJECT => "get_project",
            REQUEST => "get_request",
            DAEMON_INFO => "daemon_info",
            CATALOG => "catalog",
            PONG => "ping",
            CANCEL_REQUESTED => "cancel",
            PLAN => "plan",
            DEPLOY_PROGRESS | DEPLOY_COMPLETE => "deploy",
            POWER_PROGRESS | POWER_COMPLETE => "power",
            TERMINATE_COMPLETE => "terminate",
            DESTROY_COMPLETE => "destroy",
            RESOURCE_CHANGED | REFRESH_COMPLETE => "refresh",
            HISTORY => "history",
            WASTE => "waste",
            COST => "cost",
            DB_PASSWORD => "db_password",
            LOGIN => "login",
            LOGOUT => "logout",
            _ => return None,
        })
    }
}

/// Every event the daemon publishes: its `type` and its typed `data`.
///
/// On the wire an event is an [`crate::Envelope`] whose `type` and `data` are one of these (adjacently
/// tagged); [`Event::into_parts`] and [`crate::Envelope::of`] go from one to the other. A client
/// decodes with [`crate::Envelope::decode`] and matches; an event kind it does not know (a newer daemon)
/// is an error it may ignore.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
#[allow(
    clippy::large_enum_variant,
    reason = "an event is built, published or read, and dropped: it never sits in a collection"
)]
pub enum Event {
    Accepted(Accepted),
    Progress(Progress),
    Error(ErrorPayload),
    Cancelled(ErrorPayload),
    CancelRequested(CancelRequested),
    Pong(Pong),
    ScanStarted(ScanStarted),
    ScanChunk(ScanChunk),
    ScanComplete(ScanComplete),
    Resources(Resources),
    Projects(Projects),
    Project(ProjectDetail),
    ProjectUpdated(ProjectChanged),
    ProjectInvalid(ProjectChanged),
    Request(RequestInfo),
    DaemonInfo(DaemonInfo),
    Catalog(Catalog),
    Plan(PlanReady),
    DeployProgress(DeployEvent),
    DeployComplete(DeployComplete),
    PowerProgress(PowerProgress),
    PowerComplete(PowerComplete),
    TerminateProgress(TerminateProgress),
    TerminateSkipped(TerminateSkipped),
    TerminateComplete(TerminateComplete),
    DestroyComplete(TerminateComplete),
    ResourceChanged(ResourceChange),
    RefreshComplete(RefreshComplete),
    History(crate::audit::History),
    Waste(crate::cost::WasteReport),
    Cost(crate::cost::CostReport),
    DbPassword(crate::payload::DbPasswordReady),
    Login(crate::payload::LoginAnswer),
    Logout(crate::payload::LogoutAnswer),
}

/// `projects`: every project of the store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Projects {
    pub projects: Vec<ProjectSummary>,
}

/// An event `data` that does not match its `type`.
#[derive(Debug, thiserror::Error)]
#[error("event '{kind}': {source}")]
pub struct EventError {
    pub kind: String,
    #[source]
    pub source: serde_json::Error,
}

impl Event {
    /// The event's `type` on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Accepted(_) => event_type::ACCEPTED,
            Event::Progress(_) => event_type::PROGRESS,
            Event::Error(_) => event_type::ERROR,
            Event::Cancelled(_) => event_type::CANCELLED,
            Event::CancelRequested(_) => event_type::CANCEL_REQUESTED,
            Event::Pong(_) => event_type::PONG,
            Event::ScanStarted(_) => event_type::SCAN_STARTED,
            Event::ScanChunk(_) => event_type::SCAN_CHUNK,
            Event::ScanComplete(_) => event_type::SCAN_COMPLETE,
            Event::Resources(_) => event_type::RESOURCES,
            Event::Projects(_) => event_type::PROJECTS,
            Event::Project(_) => event_type::PROJECT,
            Event::ProjectUpdated(_) => event_type::PROJECT_UPDATED,
            Event::ProjectInvalid(_) => event_type::PROJECT_INVALID,
            Event::Request(_) => event_type::REQUEST,
            Event::DaemonInfo(_) => event_type::DAEMON_INFO,
            Event::Catalog(_) => event_type::CATALOG,
            Event::Plan(_) => event_type::PLAN,
            Event::DeployProgress(_) => event_type::DEPLOY_PROGRESS,
            Event::DeployComplete(_) => event_type::DEPLOY_COMPLETE,
            Event::PowerProgress(_) => event_type::POWER_PROGRESS,
            Event::PowerComplete(_) => event_type::POWER_COMPLETE,
            Event::TerminateProgress(_) => event_type::TERMINATE_PROGRESS,
            Event::TerminateSkipped(_) => event_type::TERMINATE_SKIPPED,
            Event::TerminateComplete(_) => event_type::TERMINATE_COMPLETE,
            Event::DestroyComplete(_) => event_type::DESTROY_COMPLETE,
            Event::ResourceChanged(_) => event_type::RESOURCE_CHANGED,
            Event::RefreshComplete(_) => event_type::REFRESH_COMPLETE,
            Event::History(_) => event_type::HISTORY,
            Event::Waste(_) => event_type::WASTE,
            Event::Cost(_) => event_type::COST,
            Event::DbPassword(_) => event_type::DB_PASSWORD,
            Event::Login(_) => event_type::LOGIN,
            Event::Logout(_) => event_type::LOGOUT,
        }
    }

    /// `(step, total)` of an event that reports progress.
    pub fn progress(&self) -> Option<(usize, usize)> {
        match self {
            Event::Progress(p) => Some((p.step, p.total)),
            Event::DeployProgress(d) => Some((d.step, d.total)),
            Event::PowerProgress(p) => Some((p.step, p.total)),
            Event::TerminateProgress(t) => Some((t.step, t.total)),
            Event::ScanChunk(c) => Some((c.chunk, c.chunks)),
            _ => None,
        }
    }

    /// The sentence the event carries for people, when it has one.
    pub fn message(&self) -> Option<&str> {
        Some(match self {
            Event::Progress(p) => &p.message,
            Event::Error(e) | Event::Cancelled(e) => &e.message,
            Event::CancelRequested(c) => &c.message,
            Event::ProjectUpdated(c) | Event::ProjectInvalid(c) => &c.message,
            Event::DeployProgress(d) => &d.message,
            Event::DeployComplete(d) => &d.message,
            Event::PowerProgress(p) => &p.message,
            Event::PowerComplete(p) => &p.message,
            Event::TerminateProgress(t) => &t.message,
            Event::TerminateSkipped(t) => &t.message,
            Event::TerminateComplete(t) | Event::DestroyComplete(t) => &t.message,
            Event::ResourceChanged(c) => &c.message,
            Event::RefreshComplete(r) => &r.message,
            Event::Login(l) => &l.message,
            Event::Logout(l) => &l.message,
            Event::Accepted(_)
            | Event::Pong(_)
            | Event::ScanStarted(_)
            | Event::ScanChunk(_)
            | Event::ScanComplete(_)
            | Event::Resources(_)
            | Event::Projects(_)
            | Event::Project(_)
            | Event::Request(_)
            | Event::DaemonInfo(_)
            | Event::Catalog(_)
            | Event::Plan(_)
            | Event::History(_)
            | Event::Waste(_)
            | Event::Cost(_)
            | Event::DbPassword(_) => return None,
        })
    }

    /// True for the events that report one step of a long request (a progress bar's ticks).
    pub fn is_progress(&self) -> bool {
        self.progress().is_some() || matches!(self, Event::TerminateSkipped(_))
    }

    /// Its `type` and `data`, as an [`crate::Envelope`] carries them.
    pub fn into_parts(self) -> (&'static str, Value) {
        let kind = self.kind();
        // Every payload is plain data (strings, numbers, maps with string keys): serialising it
        // cannot fail, and the adjacent tagging always yields `{"type", "data"}`.
        let data = match serde_json::to_value(self) {
            Ok(Value::Object(mut m)) => m.remove("data").unwrap_or(Value::Null),
            _ => Value::Null,
        };
        (kind, data)
    }

    /// The event whose `type` is `kind` and `data` is `data`. Reads `data` where it is: an
    /// estate answer is megabytes, and a client decodes every event it sees.
    pub fn from_parts(kind: &str, data: &Value) -> Result<Event, EventError> {
        use serde::de::IntoDeserializer;
        use serde::de::value::{MapDeserializer, StrDeserializer};

        let kind_name = Value::String(kind.to_owned());
        let fields = [("type", &kind_name), ("data", data)]
            .into_iter()
            .map(|(k, v)| {
                (
                    StrDeserializer::<serde_json::Error>::new(k),
                    v.into_deserializer(),
                )
            });
        Event::deserialize(MapDeserializer::new(fields)).map_err(|source| EventError {
            kind: kind.to_owned(),
            source,
        })
    }
}

/// One scan failure, kept per region and service so the rest of the scan goes on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanError {
    /// The account the failure is in, when the scan covers several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub region: String,
    pub service: String,
    /// AWS's error code (`AccessDenied`, `OptInRequired`, …), or when AWS gave none: `network`,
    /// `timeout`, `response`, `request` or `http-<status>`.
    pub code: String,
    pub message: String,
}

/// `scan_chunk` data: one region's records (or `global` for S3 and IAM).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScanChunk {
    /// The account the records are in (every record also says it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub region: String,
    pub records: Vec<ResourceRecord>,
    #[serde(default)]
    pub errors: Vec<ScanError>,
    /// Chunks done so far and expected in all, for progress displays.
    pub chunk: usize,
    pub chunks: usize,
    /// The types listed: the chunk replaces what is known of these there, and only these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<crate::ResourceType>,
}

/// `scan_complete` data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScanComplete {
    /// The account scanned (the first, when several were).
    pub account: Option<String>,
    /// Every account scanned, when the daemon works on several (`--accounts`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
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

/// A query's terminal event as everybody but the asking client sees it: the answer's scalar
/// fields stay in `data`, each of its lists is cut down to its length under `counts`, and the
/// answer itself waits under `reply` (see `pockitect_bus::Bus::finish_query`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerSummary {
    pub reply: ReplyRef,
    /// Length of each list of the answer, by field (`records`, `projects`, …).
    #[serde(default)]
    pub counts: BTreeMap<String, usize>,
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
