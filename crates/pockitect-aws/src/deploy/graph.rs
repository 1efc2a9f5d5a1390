//! The resources of a blueprint and what each one needs first.

use std::fmt;

use pockitect_blueprint::{Blueprint, CertificateMode, KeyPairMode, VpcMode};
use serde::{Deserialize, Serialize};

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

    /// The suffix of its `Name` tag (`<slug>-<suffix>`).
    pub(crate) fn name_suffix(self) -> &'static str {
        match self {
            Resource::Vpc => "vpc",
            Resource::InternetGateway => "igw",
            Resource::RouteTable => "rtb",
            Resource::Subnet => "subnet",
            Resource::SecondarySubnet => "subnet-2",
            Resource::SecurityGroup => "sg",
            Resource::KeyPair => "key",
            Resource::IamRole => "role",
            Resource::InstanceProfile => "profile",
            Resource::DbSubnetGroup => "db-subnets",
            Resource::RdsInstance => "db",
            Resource::S3Bucket => "bucket",
            Resource::Ec2Instance => "server",
            Resource::Certificate => "cert",
        }
    }

    /// What must be in place before this resource (a dependency that is switched off counts
    /// as in place).
    pub fn depends_on(self) -> &'static [Resource] {
        use Resource::*;
        match self {
            Vpc | KeyPair | IamRole | S3Bucket | Certificate => &[],
            InternetGateway => &[Vpc],
            RouteTable => &[Vpc, InternetGateway],
            Subnet => &[Vpc, RouteTable],
            SecondarySubnet => &[Vpc, RouteTable, Subnet],
            SecurityGroup => &[Vpc],
            InstanceProfile => &[IamRole],
            DbSubnetGroup => &[Subnet, SecondarySubnet],
            RdsInstance => &[DbSubnetGroup, SecurityGroup],
            Ec2Instance => &[Subnet, SecurityGroup, KeyPair, InstanceProfile],
        }
    }

    /// The blueprint section whose status this resource drives.
    pub(crate) fn section(self) -> Section {
        use Resource::*;
        match self {
            Vpc | InternetGateway | RouteTable | Subnet | SecondarySubnet | SecurityGroup => {
                Section::Network
            }
            KeyPair => Section::KeyPair,
            IamRole | InstanceProfile => Section::Iam,
            DbSubnetGroup | RdsInstance => Section::Db,
            S3Bucket => Section::Bucket,
            Ec2Instance => Section::Compute,
            Certificate => Section::Certificate,
        }
    }

    /// True when the blueprint wants this resource (false: `skip`).
    pub fn enabled(self, bp: &Blueprint) -> bool {
        use Resource::*;
        let mode = &bp.network.vpc_mode;
        let builds_network = matches!(mode, VpcMode::New | VpcMode::Shared);
        match self {
            Vpc | Subnet | SecurityGroup | Ec2Instance => true,
            // The default and existing VPCs bring their own gateway and routes.
            InternetGateway | RouteTable => builds_network,
            SecondarySubnet | DbSubnetGroup | RdsInstance => bp.has_db(),
            KeyPair => bp.key_pair_enabled(),
            IamRole | InstanceProfile => bp.iam_enabled(),
            S3Bucket => bp.has_bucket(),
            Certificate => {
                bp.certificate_enabled() && bp.security.certificate.mode == CertificateMode::Request
            }
        }
    }

    /// Why a switched-off resource is skipped.
    pub(crate) fn skip_reason(self, bp: &Blueprint) -> &'static str {
        use Resource::*;
        match self {
            InternetGateway | RouteTable => "the VPC brings its own gateway and routes",
            SecondarySubnet | DbSubnetGroup | RdsInstance => "no database",
            KeyPair if bp.security.key_pair.mode == KeyPairMode::None => "key pair mode none",
            KeyPair => "key pair skipped",
            IamRole | InstanceProfile => "instance role disabled",
            S3Bucket => "no bucket",
            Certificate => "no certificate requested",
            _ => "switched off",
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A section of the blueprint with a `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Section {
    Network,
    Compute,
    Db,
    Bucket,
    KeyPair,
    Iam,
    Certificate,
}

impl Section {
    pub(crate) fn resources(self) -> impl Iterator<Item = Resource> {
        Resource::ALL
            .into_iter()
            .filter(move |r| r.section() == self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_dependency_order() {
        for (i, r) in Resource::ALL.iter().enumerate() {
            for d in r.depends_on() {
                let j = Resource::ALL.iter().position(|x| x == d).unwrap();
                assert!(j < i, "{r} needs {d}, listed later");
            }
        }
    }

    #[test]
    fn names_round_trip_through_serde() {
        for r in Resource::ALL {
            let v = serde_json::to_value(r).unwrap();
            assert_eq!(v, serde_json::Value::String(r.as_str().to_owned()));
        }
    }
}
