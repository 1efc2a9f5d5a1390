//! Terminate: delete an explicit list of resources (from a scan, or everything a project owns
//! for `destroy`) safely and in the right order.
//!
//! [`plan`] describes every target (tags, state, relations), expands a VPC into the children
//! that must go first (instances, RDS instances, NAT gateways, Elastic IPs on its interfaces,
//! subnets, security groups but the default one, route tables but the main one, attached
//! internet gateways, DB subnet groups), applies the safety rules, and orders what remains in
//! layers, reverse dependency order:
//!
//! ```text
//! 0  ec2_instance, rds_instance                       (waits until terminated / deleted)
//! 1  nat_gateway (waits until deleted), ebs_volume, key_pair,
//!    iam_instance_profile (roles removed first), s3_bucket (emptied first)
//! 2  elastic_ip (disassociated first), iam_role (removed from profiles, policies detached,
//!    inline policies deleted first)
//! 3  security_group, subnet, db_subnet_group, route_table (associations removed first),
//!    internet_gateway (detached first)
//! 4  vpc (detached interfaces it still holds deleted first)
//! ```
//!
//! [`execute`] runs the layers in order, each in parallel under a bound, retrying what fails
//! for a dependency (`DependencyViolation`, `…InUse`, `DeleteConflict`, …) in further passes until
//! passes stop making progress, then reports those as failed with AWS's message.
//!
//! Safety is the ownership gate's ([`crate::ownership`]): only what the project owns is deleted
//! (tagged `pockitect:project=<project>` and `pockitect:managed=true`; for a terminate of
//! resources picked from a scan, managed and tagged for the project they name). `force` adds
//! untagged resources the user listed or the project's records name, never a borrowed, shared,
//! foreign or protected one (`pockitect:protect=true`, a default VPC or subnet), nor an unowned
//! child found inside a VPC. Each skip carries a reason.
//!
//! A key pair is deleted from AWS only: the local private key file is never touched.

mod delete;
mod discover;
mod plan;
mod run;

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use pockitect_proto::{ResourceRecord, ResourceType, TerminateTarget};
use tokio_util::sync::CancellationToken;

use crate::Aws;

/// The terminate engine's reports are the wire protocol's terminate payloads.
pub use pockitect_proto::terminate::{
    DeletionPlan, ItemResult, Layer, Outcome, PlannedDelete, SkipKind, Skipped, TerminateAction,
    TerminateReport,
};

pub use discover::discover_project;
pub use plan::plan;

/// How a terminate decides and runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TerminateOptions {
    /// Delete also what is not tagged as managed by Pockitect. Never overrides
    /// `pockitect:protect=true`, a default VPC, or (for a project) another project's tag.
    pub force: bool,
    /// The project being destroyed: only what it owns is deleted (and, with `force`, untagged
    /// resources its records name).
    pub project: Option<String>,
    /// What the project borrows (a default or existing VPC and its subnets, an existing key
    /// pair): never deleted, force or not.
    pub borrowed: Vec<TerminateTarget>,
    /// For a destroy: the targets the project's own records name; `force` adds untagged ones
    /// of these only. None for a terminate, whose targets the user named one by one.
    pub recorded: Option<Vec<TerminateTarget>>,
    /// Take a final snapshot of RDS instances (`<id>-final-<timestamp>`) instead of skipping it.
    pub final_snapshot: bool,
    /// AWS calls in flight at once.
    pub concurrency: usize,
    /// How long to wait for instances to terminate, RDS instances and NAT gateways to be deleted.
    pub wait_timeout: Duration,
    /// Pause before the first retry pass of a layer (doubles each pass, up to 15 s).
    pub pass_delay: Duration,
    /// Retry passes in a row without progress before the remaining failures are final. AWS
    /// releases interfaces of terminated instances a few seconds late, so one pass without
    /// progress is not proof that nothing will.
    pub stalled_passes: u32,
}

impl Default for TerminateOptions {
    fn default() -> Self {
        Self {
            force: false,
            project: None,
            borrowed: Vec::new(),
            recorded: None,
            final_snapshot: false,
            concurrency: 8,
            wait_timeout: Duration::from_secs(30 * 60),
            pass_delay: Duration::from_secs(2),
            stalled_passes: 3,
        }
    }
}

/// What a terminate will do: [`execute`]'s input (its dry run answers [`TerminatePlan::view`]).
#[derive(Clone, Debug, PartialEq)]
pub struct TerminatePlan {
    /// Non-empty layers, in order.
    pub layers: Vec<Layer>,
    pub skipped: Vec<Skipped>,
    /// The projects this terminate acts for: the option's project, or the projects of the
    /// resources asked for. A child tagged for any other project is skipped.
    pub projects: BTreeSet<String>,
    pub options: TerminateOptions,
}

impl TerminatePlan {
    /// A plan that deletes `records` as described, in layers, with no safety rule applied:
    /// only for resources the caller owns by definition (what a failed deploy just created,
    /// for its rollback).
    pub(crate) fn owned(records: Vec<ResourceRecord>, options: TerminateOptions) -> Self {
        let planned = records
            .into_iter()
            .map(|record| PlannedDelete {
                record,
                found_in: None,
                note: None,
            })
            .collect();
        TerminatePlan {
            layers: plan::into_layers(planned),
            skipped: Vec::new(),
            projects: options.project.iter().cloned().collect(),
            options,
        }
    }

    /// The plan as a dry run shows it.
    pub fn view(&self) -> DeletionPlan {
        DeletionPlan {
            layers: self.layers.clone(),
            skipped: self.skipped.clone(),
            projects: self.projects.clone(),
        }
    }

    /// Resources to delete.
    pub fn total(&self) -> usize {
        self.layers.iter().map(|l| l.items.len()).sum()
    }

    pub fn items(&self) -> impl Iterator<Item = &PlannedDelete> {
        self.layers.iter().flat_map(|l| l.items.iter())
    }

    /// The planned deletion of a resource, when it is planned.
    pub fn get(&self, kind: ResourceType, id: &str) -> Option<&PlannedDelete> {
        self.items()
            .find(|i| i.record.kind == kind && i.record.id == id)
    }

    /// Why a resource is skipped, when it is.
    pub fn skip_of(&self, kind: ResourceType, id: &str) -> Option<&Skipped> {
        self.skipped
            .iter()
            .find(|s| s.record.kind == kind && s.record.id == id)
    }
}

/// The layer a resource type is deleted in (see the module documentation).
pub fn layer_of(kind: ResourceType) -> usize {
    match kind {
        ResourceType::Ec2Instance | ResourceType::RdsInstance => 0,
        ResourceType::NatGateway
        | ResourceType::EbsVolume
        | ResourceType::KeyPair
        | ResourceType::IamInstanceProfile
        | ResourceType::S3Bucket => 1,
        ResourceType::ElasticIp | ResourceType::IamRole => 2,
        ResourceType::SecurityGroup
        | ResourceType::Subnet
        | ResourceType::DbSubnetGroup
        | ResourceType::RouteTable
        | ResourceType::InternetGateway => 3,
        ResourceType::Vpc => 4,
    }
}

/// What the daemon gives [`execute`] to report through. Calls come from concurrent deletions.
pub trait TerminateSink: Sync {
    /// `step` of `total` resources finished (this one included when `action` is final).
    fn progress(
        &self,
        step: usize,
        total: usize,
        record: &ResourceRecord,
        action: TerminateAction,
        message: &str,
    ) -> impl Future<Output = ()> + Send;

    /// A resource the plan leaves alone (reported once, before the first deletion).
    fn skipped(&self, record: &ResourceRecord, reason: &str) -> impl Future<Output = ()> + Send;
}

impl<T: TerminateSink> TerminateSink for &T {
    fn progress(
        &self,
        step: usize,
        total: usize,
        record: &ResourceRecord,
        action: TerminateAction,
        message: &str,
    ) -> impl Future<Output = ()> + Send {
        (**self).progress(step, total, record, action, message)
    }

    fn skipped(&self, record: &ResourceRecord, reason: &str) -> impl Future<Output = ()> + Send {
        (**self).skipped(record, reason)
    }
}

/// A sink that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopSink;

impl TerminateSink for NoopSink {
    async fn progress(
        &self,
        _step: usize,
        _total: usize,
        _record: &ResourceRecord,
        _action: TerminateAction,
        _message: &str,
    ) {
    }

    async fn skipped(&self, _record: &ResourceRecord, _reason: &str) {}
}

/// Deletes what the plan says, layer by layer. Never fails as a whole: each resource's end is
/// in the report. Cancelling stops at the next safe point (calls in flight finish; what was
/// not started is reported as cancelled).
pub async fn execute(
    aws: &Aws,
    plan: TerminatePlan,
    sink: impl TerminateSink,
    cancel: CancellationToken,
) -> TerminateReport {
    let exec = delete::AwsExecutor::new(aws.clone(), &plan);
    run::run(&exec, plan, &sink, &cancel).await
}
