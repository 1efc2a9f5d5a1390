//! The deploy engine: a blueprint's resources as a dependency graph, run with bounded
//! parallelism (bucket, key pair and instance role are built while the network is), every
//! resource tagged for its project, secure defaults (IMDSv2 required, encrypted EBS and RDS
//! storage, S3 public access blocked, RDS private).
//!
//! Idempotent and resumable: before anything is created, what the blueprint records is verified
//! and adopted, then what the tags `pockitect:project=<slug>` + `pockitect:resource=<name>` (or a
//! resource's fixed name) find; only what is still missing is created, and each new id is written
//! back through [`DeploySink::blueprint_changed`] the moment it exists. A second deploy creates
//! nothing; one resumed after a crash finishes the job without duplicates.
//!
//! On failure the failing resource is reported with AWS's code and message, its dependents are
//! skipped, independent branches finish, and with `rollback_on_failure` what this run created is
//! deleted by the terminate executor, in reverse dependency order. [`plan`] computes the same decisions with read-only calls.
//!
//! The graph (`a <- b`: b needs a):
//!
//! ```text
//! vpc <- internet_gateway <- route_table <- subnet <- secondary_subnet
//! vpc <- security_group
//! subnet, secondary_subnet <- db_subnet_group <- rds_instance -> security_group
//! iam_role <- instance_profile
//! subnet, security_group, key_pair, instance_profile <- ec2_instance
//! s3_bucket, certificate: independent
//! ```

mod cert;
mod compute;
mod data;
mod ec2;
mod engine;
mod graph;
mod iam;
mod image;
mod network;
mod rollback;
mod util;

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use pockitect_blueprint::{Blueprint, DnsRecord, Report};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

pub use graph::Resource;

/// Tag naming the logical resource (`vpc`, `subnet`, …) inside a project, so a resumed deploy
/// finds what an interrupted one created.
pub const TAG_RESOURCE: &str = "pockitect:resource";
/// Tag marking the shared per-environment VPC (`vpc_mode: shared`, legacy `vpc_env`) and its
/// gateway, route table and subnets. These carry no `pockitect:project` tag: several projects
/// use them.
pub const TAG_VPC_ENV: &str = "pockitect:vpc-env";

/// What a deploy does (or would do) to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Not found: created.
    Create,
    /// Found by its tags or fixed name (or, for default/existing VPCs, chosen) and adopted.
    Adopt,
    /// Found and brought in line with the blueprint (missing firewall rules added).
    Update,
    /// Recorded in the blueprint and still there.
    NoChange,
    /// Switched off in the blueprint.
    Skip,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Create => "create",
            Action::Adopt => "adopt",
            Action::Update => "update",
            Action::NoChange => "no_change",
            Action::Skip => "skip",
        })
    }
}

/// The plan of one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedResource {
    pub resource: Resource,
    pub action: Action,
    /// The id found (adopt, no_change, update).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Why this action (`recorded vpc-… no longer exists`, `the region's default VPC`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// A problem the deploy would hit here (the existing VPC is missing, the image is unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a deploy of a blueprint would do, computed with read-only calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub project: String,
    pub region: String,
    /// Every resource of the graph, in dependency order.
    pub resources: Vec<PlannedResource>,
    /// Validation errors and warnings (offline rules).
    pub validation: Report,
}

impl Plan {
    /// How many resources would get `action`.
    pub fn count(&self, action: Action) -> usize {
        self.resources.iter().filter(|r| r.action == action).count()
    }

    /// The plan of one resource.
    pub fn get(&self, resource: Resource) -> Option<&PlannedResource> {
        self.resources.iter().find(|r| r.resource == resource)
    }

    /// True when there is no validation error and no resource error.
    pub fn is_ok(&self) -> bool {
        self.validation.is_ok() && self.resources.iter().all(|r| r.error.is_none())
    }
}

/// A database master password. Never logged, never serialised: `Debug` shows `<redacted>` and
/// it implements no `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct DbPassword(String);

impl DbPassword {
    pub fn new(value: impl Into<String>) -> Self {
        DbPassword(value.into())
    }

    /// The password text, for the one call that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DbPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DbPassword(<redacted>)")
    }
}

/// How to deploy.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// Delete what this run created when any resource fails.
    pub rollback_on_failure: bool,
    /// Directory for generated private keys (`<key_dir>/<slug>.pem`, mode 0600; the directory
    /// is created with mode 0700).
    pub key_dir: PathBuf,
    /// Master password for a database this run creates. Required when the blueprint has a
    /// database that does not exist yet.
    pub db_password: Option<DbPassword>,
    /// Resources worked on at once.
    pub concurrency: usize,
    /// Pause between polls while waiting for a state (instance running, database available).
    pub poll_interval: Duration,
    /// How long to wait for the instance to run.
    pub instance_wait: Duration,
    /// How long to wait for the database to become available (its endpoint is recorded then).
    /// When it takes longer the deploy goes on: the database stays `creating` and a later
    /// deploy or refresh records the endpoint.
    pub db_wait: Duration,
    /// How long deletions may wait for dependencies to clear during a rollback.
    pub delete_wait: Duration,
    /// Cancelled: no new resource is started; the report says `cancelled`.
    pub cancel: CancellationToken,
}

impl DeployOptions {
    /// Defaults with private keys written under `key_dir`.
    pub fn new(key_dir: impl Into<PathBuf>) -> Self {
        DeployOptions {
            rollback_on_failure: false,
            key_dir: key_dir.into(),
            db_password: None,
            concurrency: 4,
            poll_interval: Duration::from_secs(3),
            instance_wait: Duration::from_secs(300),
            db_wait: Duration::from_secs(900),
            delete_wait: Duration::from_secs(600),
            cancel: CancellationToken::new(),
        }
    }
}

impl Default for DeployOptions {
    /// Keys under `~/.ssh/pockitect` (PRODUCT.md).
    fn default() -> Self {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        DeployOptions::new(home.join(".ssh").join("pockitect"))
    }
}

/// Where one resource stands in a running deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    /// Work on it began.
    Started,
    /// Done (created, adopted, updated or unchanged).
    Done,
    /// It failed; `message` has the resource, the AWS code and message.
    Failed,
    /// Not attempted: switched off, a dependency failed, or the deploy was cancelled.
    Skipped,
    /// Deleted by the rollback.
    RolledBack,
}

/// A progress report: `step` of `total` resources finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployEvent {
    /// Resources finished so far (this one included when it just finished); rollback events
    /// count the deletions.
    pub step: usize,
    /// Resources the deploy works on (those not switched off).
    pub total: usize,
    pub resource: Resource,
    /// What was done (none while it is being worked on, and for rollback events).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    pub state: StepState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub message: String,
}

/// What the daemon gives the engine to report through. Calls come from concurrent branches;
/// `blueprint_changed` calls are serialised and each carries the whole current blueprint (write
/// it atomically).
pub trait DeploySink: Sync {
    fn progress(&self, event: &DeployEvent) -> impl Future<Output = ()> + Send;
    fn blueprint_changed(&self, blueprint: &Blueprint) -> impl Future<Output = ()> + Send;
}

impl<T: DeploySink> DeploySink for &T {
    fn progress(&self, event: &DeployEvent) -> impl Future<Output = ()> + Send {
        (**self).progress(event)
    }

    fn blueprint_changed(&self, blueprint: &Blueprint) -> impl Future<Output = ()> + Send {
        (**self).blueprint_changed(blueprint)
    }
}

/// A sink that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopSink;

impl DeploySink for NoopSink {
    async fn progress(&self, _event: &DeployEvent) {}
    async fn blueprint_changed(&self, _blueprint: &Blueprint) {}
}

/// How a deploy ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every resource is in place.
    Success,
    /// Some resources failed or were skipped because of a failure; the rest is in place.
    Partial,
    /// Some resources failed and what this run created was rolled back.
    RolledBack,
    /// Cancelled before the end.
    Cancelled,
}

/// The error of one resource: which, during which AWS call, and AWS's code and message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{resource}: {operation} in '{region}': {code}: {message}")]
pub struct StepError {
    pub resource: Resource,
    /// The AWS call (`ec2:RunInstances`) or the engine's check (`pockitect:check`).
    pub operation: String,
    pub region: String,
    /// AWS's error code (`InvalidAMIID.NotFound`), or the engine's (`NotFound`, `Conflict`).
    pub code: String,
    pub message: String,
}

/// The end state of one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceResult {
    pub resource: Resource,
    pub action: Action,
    pub state: StepState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<StepError>,
}

/// What a user needs at the end.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outputs {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_ip: Option<String>,
    /// `ssh -i <key> <user>@<ip>` (none for Windows or without a key pair).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key_path: Option<String>,
    /// `address:port`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_arn: Option<String>,
    /// DNS records to create so ACM can issue the certificate.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub certificate_validation_records: Vec<DnsRecord>,
}

/// A resource this run created (what a rollback deletes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    pub resource: Resource,
    pub id: String,
}

/// The result of a deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployReport {
    pub project: String,
    pub region: String,
    pub outcome: Outcome,
    /// Every resource of the graph, in dependency order.
    pub resources: Vec<ResourceResult>,
    pub outputs: Outputs,
    /// What this run created, in creation order.
    pub created: Vec<Created>,
    /// What the rollback deleted, newest first.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub rolled_back: Vec<Created>,
    /// Deletions the rollback could not finish (left for `destroy`).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub rollback_errors: Vec<StepError>,
    /// Validation warnings (they do not stop a deploy).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub warnings: Vec<String>,
    pub duration_ms: u64,
}

impl DeployReport {
    /// The errors of the resources that failed.
    pub fn errors(&self) -> impl Iterator<Item = &StepError> {
        self.resources.iter().filter_map(|r| r.error.as_ref())
    }

    /// The result of one resource.
    pub fn get(&self, resource: Resource) -> Option<&ResourceResult> {
        self.resources.iter().find(|r| r.resource == resource)
    }

    /// How many resources ended with `action` and `state: done`.
    pub fn count_done(&self, action: Action) -> usize {
        self.resources
            .iter()
            .filter(|r| r.action == action && r.state == StepState::Done)
            .count()
    }

    /// True when everything is in place.
    pub fn is_success(&self) -> bool {
        self.outcome == Outcome::Success
    }
}

/// Why a deploy or plan could not run at all (resource failures are in the report instead).
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("validate blueprint '{project}': {report}")]
    Invalid { project: String, report: Report },
    #[error(
        "deploy '{project}': the blueprint has a database to create but no password was given; pass one in DeployOptions::db_password"
    )]
    MissingDbPassword { project: String },
    /// Recorded ids that are not the project's to adopt (another project's, protected, or not
    /// Pockitect's): nothing was changed.
    #[error("deploy '{project}': nothing was changed: {}", .conflicts.join("; "))]
    Conflict {
        project: String,
        conflicts: Vec<String>,
    },
    /// AWS could not be asked who owns the recorded resources.
    #[error("deploy '{project}': could not check who owns the recorded resources: {source}")]
    OwnershipUnknown {
        project: String,
        #[source]
        source: crate::AwsError,
    },
}

pub use engine::{deploy, plan};
