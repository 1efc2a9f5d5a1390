//! Terminate, destroy and power payloads: what a deletion plan holds, each resource's progress
//! and end, and the final reports. The engines (`pockitect_aws::terminate`, `::power`) produce
//! them; clients read them from `terminate_*`, `destroy_complete` and `power_*` events.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{ResourceRecord, ResourceType, TerminateTarget};

/// Why a resource is left alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipKind {
    /// AWS does not know it (already deleted).
    NotFound,
    /// Its tags could not be read (AccessDenied, …), so it cannot be checked.
    Unreadable,
    /// Tagged `pockitect:protect=true`.
    Protected,
    /// The region's default VPC.
    DefaultVpc,
    /// A VPC's default security group or main route table: they go with the VPC.
    DefaultResource,
    /// Tagged for another project.
    OtherProject,
    /// Not tagged as managed by Pockitect (or not for this project), and no `force`.
    NotManaged,
    /// A shared per-environment VPC (or its parts) that several projects use.
    Shared,
    /// Borrowed by the project (a default or existing VPC, its subnets, an existing key pair).
    Borrowed,
}

/// A resource left alone, with the reason shown to the user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub record: ResourceRecord,
    pub kind: SkipKind,
    pub reason: String,
}

/// A resource the plan deletes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedDelete {
    /// As described right before planning (tags, state, details).
    pub record: ResourceRecord,
    /// The VPC it was found in, when it was not asked for explicitly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found_in: Option<String>,
    /// A warning for the user (e.g. a VPC that keeps a skipped child will not be deletable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Resources deleted together, in parallel; every layer waits for the previous one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    pub index: usize,
    pub items: Vec<PlannedDelete>,
}

/// What a terminate would do, as its dry run answers: the deletions in layers (each waits for
/// the previous one) and what is left alone, with why.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DeletionPlan {
    pub layers: Vec<Layer>,
    pub skipped: Vec<Skipped>,
    /// The projects the terminate acts for; a child tagged for any other project is skipped.
    pub projects: BTreeSet<String>,
}

impl DeletionPlan {
    /// Resources to delete.
    pub fn total(&self) -> usize {
        self.layers.iter().map(|l| l.items.len()).sum()
    }

    /// The digest of what this plan deletes, in which order: a resource added, removed or
    /// moved to another layer since the plan was shown changes it; states and tags do not.
    pub fn digest(&self) -> crate::PlanDigest {
        crate::PlanDigest::of(self.layers.iter().flat_map(|l| {
            l.items.iter().map(move |i| {
                let r = &i.record;
                format!("delete {} {} {} {}", l.index, r.kind, r.id, r.region)
            })
        }))
    }
}

/// Where a resource's deletion stands, as reported to the sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TerminateAction {
    /// The delete call is being made.
    Deleting,
    /// Deletion started; waiting until AWS reports it gone (instances, RDS, NAT gateways).
    Waiting,
    /// Failed for a dependency; tried again in the next pass.
    Retrying,
    Deleted,
    /// Gone before it was deleted.
    AlreadyGone,
    Failed,
    /// Not attempted: the request was cancelled.
    Cancelled,
}

impl fmt::Display for TerminateAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TerminateAction::Deleting => "deleting",
            TerminateAction::Waiting => "waiting",
            TerminateAction::Retrying => "retrying",
            TerminateAction::Deleted => "deleted",
            TerminateAction::AlreadyGone => "already_gone",
            TerminateAction::Failed => "failed",
            TerminateAction::Cancelled => "cancelled",
        })
    }
}

/// How one resource ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Deleted,
    /// Gone before this run deleted it (counted as deleted).
    AlreadyGone,
    Skipped,
    Failed,
    /// Not attempted (or not waited for) because the request was cancelled.
    Cancelled,
}

/// The end of one resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemResult {
    pub target: TerminateTarget,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub outcome: Outcome,
    /// AWS's error code for a failure (`DependencyViolation`), the skip kind for a skip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub message: String,
}

/// What a terminate did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminateReport {
    /// Deleted, or found already gone while deleting.
    pub deleted: usize,
    pub skipped: usize,
    pub failed: usize,
    /// Not attempted because the request was cancelled.
    pub cancelled: usize,
    /// One per planned or skipped resource: skips first, then in deletion order.
    pub results: Vec<ItemResult>,
}

impl TerminateReport {
    /// Everything planned was deleted (skips are not failures).
    pub fn is_success(&self) -> bool {
        self.failed == 0 && self.cancelled == 0
    }

    pub fn get(&self, kind: ResourceType, id: &str) -> Option<&ItemResult> {
        self.results
            .iter()
            .find(|r| r.target.kind == kind && r.target.id == id)
    }

    /// Records how one resource ended.
    pub fn push(
        &mut self,
        record: &ResourceRecord,
        outcome: Outcome,
        code: Option<String>,
        message: String,
    ) {
        match outcome {
            Outcome::Deleted | Outcome::AlreadyGone => self.deleted += 1,
            Outcome::Skipped => self.skipped += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Cancelled => self.cancelled += 1,
        }
        self.results.push(ItemResult {
            target: record.target(),
            name: record.name.clone(),
            outcome,
            code,
            message,
        });
    }
}
