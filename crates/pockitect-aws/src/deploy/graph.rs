//! The resources of a blueprint and what each one needs first.

use pockitect_blueprint::{Blueprint, CertificateMode, KeyPairMode, VpcMode};
pub use pockitect_proto::deploy::Resource;

/// What the engine knows of each resource beyond its name.
/// (The resource's name is part of the wire protocol, in `pockitect_proto::deploy`; how it is
/// built is the engine's.)
pub(crate) trait Node: Sized {
    /// The suffix of its `Name` tag (`<slug>-<suffix>`).
    fn name_suffix(self) -> &'static str;
    /// What must be in place before this resource (a dependency that is switched off counts
    /// as in place).
    fn depends_on(self) -> &'static [Resource];
    /// The blueprint section whose status this resource drives.
    fn section(self) -> Section;
    /// True when the blueprint wants this resource (false: `skip`).
    fn enabled(self, bp: &Blueprint) -> bool;
    /// Why a switched-off resource is skipped.
    fn skip_reason(self, bp: &Blueprint) -> &'static str;
}

impl Node for Resource {
    fn name_suffix(self) -> &'static str {
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

    fn depends_on(self) -> &'static [Resource] {
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

    fn section(self) -> Section {
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

    fn enabled(self, bp: &Blueprint) -> bool {
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

    fn skip_reason(self, bp: &Blueprint) -> &'static str {
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
