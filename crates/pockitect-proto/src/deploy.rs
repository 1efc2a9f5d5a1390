//! Deploy and plan payloads: the resources of a project's graph, what a deploy does to each,
//! its progress events and its final report with the outputs a user needs. The engine
//! (`pockitect_aws::deploy`) produces them; clients read them from `plan`, `deploy_progress`
//! and `deploy_complete` events.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::validation::Report;

/// One logical resource of a project. Its snake_case name is also its `pockitect:resource` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    Vpc,
    InternetGateway,
    RouteTable,
    Subnet,
    SecondarySubnet,
    SecurityGroup,
    KeyPair,
    IamRole,
    InstanceProfile,
    DbSubnetGroup,
    RdsInstance,
    S3Bucket,
    Ec2Instance,
    Certificate,
}

impl Resource {
    /// Every resource, in an order where each comes after what it needs.
    pub const ALL: [Resource; 14] = [
        Resource::Vpc,
        Resource::InternetGateway,
        Resource::RouteTable,
        Resource::Subnet,
        Resource::SecondarySubnet,
        Resource::SecurityGroup,
        Resource::KeyPair,
        Resource::IamRole,
        Resource::InstanceProfile,
        Resource::DbSubnetGroup,
        Resource::RdsInstance,
        Resource::S3Bucket,
        Resource::Ec2Instance,
        Resource::Certificate,
    ];

    /// The snake_case name (also the `pockitect:resource` tag value).
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Vpc => "vpc",
            Resource::InternetGateway => "internet_gateway",
            Resource::RouteTable => "route_table",
            Resource::Subnet => "subnet",
            Resource::SecondarySubnet => "secondary_subnet",
            Resource::SecurityGroup => "security_group",
            Resource::KeyPair => "key_pair",
            Resource::IamRole => "iam_role",
            Resource::InstanceProfile => "instance_profile",
            Resource::DbSubnetGroup => "db_subnet_group",
            Resource::RdsInstance => "rds_instance",
            Resource::S3Bucket => "s3_bucket",
            Resource::Ec2Instance => "ec2_instance",
            Resource::Certificate => "certificate",
        }
    }
}

impl Resource {
    /// What the audit trail calls the AWS resource behind it, and in which region it lives
    /// (IAM is global; everything else is in the project's `region`).
    pub fn audited(
        self,
        id: &str,
        region: &str,
        action: crate::audit::TouchAction,
    ) -> crate::audit::Touched {
        use crate::ResourceType as T;
        let kind = match self {
            Resource::Vpc => T::Vpc,
            Resource::InternetGateway => T::InternetGateway,
            Resource::RouteTable => T::RouteTable,
            Resource::Subnet | Resource::SecondarySubnet => T::Subnet,
            Resource::SecurityGroup => T::SecurityGroup,
            Resource::KeyPair => T::KeyPair,
            Resource::IamRole => T::IamRole,
            Resource::InstanceProfile => T::IamInstanceProfile,
            Resource::DbSubnetGroup => T::DbSubnetGroup,
            Resource::RdsInstance => T::RdsInstance,
            Resource::S3Bucket => T::S3Bucket,
            Resource::Ec2Instance => T::Ec2Instance,
            Resource::Certificate => {
                return crate::audit::Touched {
                    kind: "acm_certificate".into(),
                    id: id.to_owned(),
                    region: region.to_owned(),
                    account: None,
                    action,
                };
            }
        };
        let region = if matches!(self, Resource::IamRole | Resource::InstanceProfile) {
            "global"
        } else {
            region
        };
        crate::audit::Touched::new(kind, id, region, action)
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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

    /// The digest of what this deploy would do to each resource (its action and the id found).
    pub fn digest(&self) -> crate::PlanDigest {
        crate::PlanDigest::of(self.resources.iter().map(|r| {
            format!(
                "{} {} {} {} {}",
                r.action,
                r.resource,
                r.id.as_deref().unwrap_or("-"),
                self.project,
                self.region
            )
        }))
    }

    /// True when there is no validation error and no resource error.
    pub fn is_ok(&self) -> bool {
        self.validation.is_ok() && self.resources.iter().all(|r| r.error.is_none())
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

impl Outputs {
    /// Each output that is known, as `(name, value)`, in the order a user reads them.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        let records = self
            .certificate_validation_records
            .iter()
            .map(|r| format!("{} {} {}", r.name, r.record_type, r.value))
            .collect::<Vec<_>>()
            .join("; ");
        [
            ("public_ip", self.public_ip.clone()),
            ("private_ip", self.private_ip.clone()),
            ("ssh_command", self.ssh_command.clone()),
            ("private_key_path", self.private_key_path.clone()),
            ("instance_id", self.instance_id.clone()),
            ("db_endpoint", self.db_endpoint.clone()),
            ("bucket", self.bucket.clone()),
            ("certificate_arn", self.certificate_arn.clone()),
            (
                "certificate_validation_records",
                (!records.is_empty()).then_some(records),
            ),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect()
    }
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

/// A DNS record to create (certificate validation).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DnsRecord {
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: String,
    pub value: String,
}
