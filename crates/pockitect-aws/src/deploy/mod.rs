//! The deploy engine: a validated blueprint's resources (a [`pockitect_blueprint::Checked`], so
//! an invalid one cannot reach AWS and nothing here validates again) as a dependency graph, run
//! with bounded parallelism (bucket, key pair and instance role are built while the network is), every
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

pub(crate) use data::{db_identifier, master_user_secret_arn, rds_ours};

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use pockitect_blueprint::Blueprint;
use tokio_util::sync::CancellationToken;

pub use graph::Resource;
/// The engine's reports are the wire protocol's deploy payloads.
pub use pockitect_proto::deploy::{
    Action, Created, DeployEvent, DeployReport, Outcome, Outputs, Plan, PlannedResource,
    ResourceResult, StepError, StepState,
};

/// Tag naming the logical resource (`vpc`, `subnet`, …) inside a project, so a resumed deploy
/// finds what an interrupted one created.
pub const TAG_RESOURCE: &str = "pockitect:resource";
/// Tag marking the shared per-environment VPC (`vpc_mode: shared`, legacy `vpc_env`) and its
/// gateway, route table and subnets. These carry no `pockitect:project` tag: several projects
/// use them.
pub const TAG_VPC_ENV: &str = "pockitect:vpc-env";

/// A database master password (read from Secrets Manager for `db-password`). Never logged,
/// never serialised: `Debug` shows `<redacted>` and it implements no `Serialize`.
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

/// Why a deploy or plan could not run at all (resource failures are in the report instead).
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
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
