//! The typed `data` of every event that is not an engine report (those live in [`crate::deploy`],
//! [`crate::terminate`] and [`crate::power`]): request lifecycle, queries, refresh, projects and
//! daemon information. Field names are the wire format; snapshots pin them.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::deploy::{DeployReport, Outputs, Plan};
use crate::power::{PowerReport, PowerResult};
use crate::terminate::{DeletionPlan, TerminateAction, TerminateReport};
use crate::{
    DaemonHeartbeat, Envelope, ErrorCode, InFlight, PlanDigest, RequestId, ResourceRecord,
    ResourceType, TerminateTarget,
};

/// `accepted`: a daemon took the command and started it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    /// The command's `type`.
    #[serde(rename = "type")]
    pub command: String,
    /// The daemon running it.
    pub daemon: String,
    /// True when it resumes a request another copy (a daemon that died or lost its lease)
    /// started.
    #[serde(default)]
    pub resumed: bool,
}

/// `progress`: generic progress of a long request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub step: usize,
    pub total: usize,
    pub message: String,
}

/// `scan_started`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanStarted {
    /// The regions asked for (none: every enabled region).
    pub regions: Option<Vec<String>>,
    pub types: BTreeSet<ResourceType>,
}

/// `resources`: the answer to `query_resources`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    pub total: usize,
    pub records: Vec<ResourceRecord>,
}

/// `db_password`: where the daemon put the database master password of a project. Only a path:
/// the password is in the file (mode 0600, in the directory the client named), never here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbPasswordReady {
    pub project: String,
    /// The file holding the password read from Secrets Manager; the client reads it, then
    /// removes it. Absent when RDS does not manage the database's password (a database created
    /// before Pockitect let it): that password is in the OS keyring, or a 0600 file, of the
    /// host that deployed it, and the client looks there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The Secrets Manager secret the password came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_arn: Option<String>,
    /// The DB instance.
    pub identifier: String,
}

/// `pong`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pong {
    pub daemon: String,
}

/// `cancel_requested`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelRequested {
    pub request_id: RequestId,
    pub message: String,
}

/// `plan`: what a deploy would do, and the blueprint's warnings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanReady {
    pub plan: Plan,
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The digest to send with the deploy when the daemon's policy wants it approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_digest: Option<PlanDigest>,
    /// What the project would cost a month, with where the prices come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<crate::cost::Estimate>,
    /// The blueprint's `project.budget_usd_month`, when it sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_usd_month: Option<f64>,
}

/// `deploy_complete`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployComplete {
    pub message: String,
    #[serde(default)]
    pub code: Option<ErrorCode>,
    #[serde(default)]
    pub warnings: Vec<String>,
    pub report: DeployReport,
}

/// `power_progress`: `step` of `total` resources are final; `result` just became final.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PowerProgress {
    pub step: usize,
    pub total: usize,
    pub result: PowerResult,
    pub message: String,
}

/// `power_complete`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PowerComplete {
    pub message: String,
    #[serde(default)]
    pub code: Option<ErrorCode>,
    pub report: PowerReport,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// What would be started or stopped (a dry run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<TerminateTarget>>,
    /// The digest to send with the real request (a dry run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_digest: Option<PlanDigest>,
}

/// `terminate_progress`: `step` of `total` deletions are final (this one included when
/// `action` is final).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminateProgress {
    pub step: usize,
    pub total: usize,
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ResourceType,
    pub region: String,
    pub action: TerminateAction,
    pub message: String,
}

/// `terminate_skipped`: a resource the plan leaves alone, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminateSkipped {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ResourceType,
    pub region: String,
    pub reason: String,
    pub message: String,
}

/// `terminate_complete` and `destroy_complete`: the plan (a dry run) or what was done.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TerminateComplete {
    pub message: String,
    #[serde(default)]
    pub code: Option<ErrorCode>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// What would be deleted (a dry run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<DeletionPlan>,
    /// The digest to send with the real request (a dry run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_digest: Option<PlanDigest>,
    #[serde(default)]
    pub deleted: usize,
    #[serde(default)]
    pub skipped: usize,
    #[serde(default)]
    pub failed: usize,
    /// What was done (not a dry run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<TerminateReport>,
}

/// What a refresh saw change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// The resource no longer exists.
    Missing,
    /// Its state changed (`from` → `to`).
    State,
}

/// `resource_changed`, and one entry of `refresh_complete`'s `changes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceChange {
    pub project: String,
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ResourceType,
    pub change: ChangeKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub message: String,
}

/// Why a refresh left a project out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshSkipReason {
    /// Another request holds the project (`request_id`).
    Busy,
    /// The project's lock was lost while refreshing: nothing was written.
    LockLost,
}

/// A project a refresh left out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshSkip {
    pub project: String,
    pub reason: RefreshSkipReason,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub message: String,
}

/// `refresh_complete`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshComplete {
    /// Projects refreshed.
    pub projects: usize,
    pub changes: Vec<ResourceChange>,
    #[serde(default)]
    pub skipped: Vec<RefreshSkip>,
    pub message: String,
}

/// One project of the store, as `projects` lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectSummary {
    pub slug: String,
    /// None when the file cannot be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The server's status (`pending`, `running`, `stopped`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    pub valid: bool,
    #[serde(default)]
    pub errors: Vec<String>,
    /// Its parts with status and id (none when the file cannot be read).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<Part>,
    /// What it would cost a month (the daemon's estimate), when the blueprint can be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_usd_month: Option<f64>,
    /// The blueprint's `project.budget_usd_month`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_usd_month: Option<f64>,
}

impl ProjectSummary {
    /// How many of the parts the blueprint asks for are in place.
    pub fn deployed(&self) -> (usize, usize) {
        let wanted = self.parts.iter().filter(|p| p.wanted);
        let total = wanted.clone().count();
        (wanted.filter(|p| p.id.is_some()).count(), total)
    }
}

/// One part of a project (network, server, database, …).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// `network`, `compute`, `database`, `bucket`, `key pair`, `iam role`, `certificate`.
    pub name: String,
    /// False when the blueprint does not ask for it.
    pub wanted: bool,
    /// Its section's status (`pending`, `running`, …); `not wanted` when not asked for.
    pub status: String,
    /// Its main id or address, once deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// `project`: one project in full.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectDetail {
    /// Slug, name, region, status and parts.
    #[serde(flatten)]
    pub summary: ProjectSummary,
    /// What a user needs to reach it (as a deploy reports them, from what the blueprint records).
    #[serde(default)]
    pub outputs: Outputs,
    /// The blueprint document itself, for `--json` and editors. Clients read the typed fields
    /// above, never this.
    pub blueprint: Value,
    /// What the project costs a month, line by line, at the prices the daemon has (live ones it
    /// cached, else the bundled table's): the TUI's project details show it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<crate::cost::Estimate>,
}

/// `project_updated` / `project_invalid`: a blueprint file was edited by hand.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectChanged {
    pub project: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// Where a request stands, in `request`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Running,
    Finished,
}

/// `request`: the answer to `get_request`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestInfo {
    pub request_id: RequestId,
    pub state: RequestState,
    /// Its terminal event (finished).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal: Option<Box<Envelope>>,
    /// The daemon running it (running).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daemon: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_flight: Option<InFlight>,
}

/// Who the daemon acts as on AWS (STS GetCallerIdentity).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwsIdentity {
    pub account: String,
    pub arn: String,
    pub user_id: String,
}

/// Whether the daemon's AWS credentials work.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwsCheck {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<AwsIdentity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Commands on the stream not yet taken, and taken but not acknowledged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backlog {
    pub waiting: usize,
    pub pending: usize,
}

/// `daemon_info`: what `pockitect doctor` shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DaemonInfo {
    /// The daemon that answered.
    pub daemon: DaemonHeartbeat,
    /// Every live daemon of the pool.
    pub daemons: Vec<DaemonHeartbeat>,
    pub aws: AwsCheck,
    #[serde(default)]
    pub aws_endpoint_url: Option<String>,
    #[serde(default)]
    pub aws_region: Option<String>,
    #[serde(default)]
    pub backlog: Backlog,
    #[serde(default)]
    pub estate_records: usize,
    pub projects_dir: String,
    pub cache_dir: String,
    /// Which credentials the daemon uses (absent from daemons older than `pockitect login`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_credentials: Option<CredentialsInfo>,
}

/// Which AWS credentials a daemon uses. Never a key: only the key id's last four characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialsInfo {
    /// `keyring` or `file` (stored by `pockitect login`), `profile` (`login --profile`), or
    /// `chain` (the standard AWS chain: env, shared files, SSO, instance role).
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id_last4: Option<String>,
    /// When the credentials end (an MFA session, SSO, a role).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Why no credentials could be had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How a `login` ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginState {
    /// The credentials work and are the daemon's from now on.
    SignedIn,
    /// The user has an MFA device: the client asks for a code, adds it to the pending entry
    /// and sends `login` again.
    MfaRequired,
}

/// `login`: the outcome of checking the pending credentials (or a profile) with STS. Never a
/// key: the key id's last four characters only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginAnswer {
    pub state: LoginState,
    /// Who the credentials are (signed in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<AwsIdentity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id_last4: Option<String>,
    /// The profile chosen (`login --profile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The MFA device whose code is needed (mfa_required), or the session was opened with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_serial: Option<String>,
    /// When the MFA session ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Where the credentials are kept (the OS keyring, or a 0600 file's path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_in: Option<String>,
    pub message: String,
}

/// `logout`: what was removed and which credentials the daemon uses now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutAnswer {
    /// True when stored credentials (or a recorded profile) were removed.
    pub removed: bool,
    pub now_using: CredentialsInfo,
    pub message: String,
}
