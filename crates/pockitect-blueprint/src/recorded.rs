//! What a blueprint records of AWS, typed: the id of each resource the daemon wrote back, and
//! whether the project owns it or only borrows it. Handlers and clients use this instead of
//! walking the blueprint as JSON.

use pockitect_proto::ResourceType;

use crate::model::{Blueprint, KeyPairMode, SectionStatus, VpcMode};

/// One resource id the blueprint records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedId {
    pub kind: ResourceType,
    /// What the AWS API addresses it by (see `ResourceRecord::id`).
    pub id: String,
    /// `global` for IAM; the project's region otherwise (a bucket's real region is looked up).
    pub region: String,
    /// Used by the project but not its own: the default or an existing VPC and the subnets
    /// picked in it, an existing key pair. Never changed, powered or deleted.
    pub borrowed: bool,
}

/// The region IAM resources carry.
const GLOBAL: &str = "global";

fn some(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The last path segment of an ARN (`arn:aws:iam::1:instance-profile/name` → `name`).
fn arn_name(arn: &str) -> Option<&str> {
    arn.rsplit(['/', ':']).next().filter(|s| !s.is_empty())
}

impl Blueprint {
    /// True when the network's VPC (and the subnets picked in it) is not the project's own.
    pub fn borrows_vpc(&self) -> bool {
        matches!(self.network.vpc_mode, VpcMode::Default | VpcMode::Existing)
    }

    /// Every resource id the blueprint records, in dependency order (network first).
    pub fn recorded_ids(&self) -> Vec<RecordedId> {
        let region = self.region().to_owned();
        let mut out = Vec::new();
        let mut add = |kind: ResourceType, id: Option<&str>, region: &str, borrowed: bool| {
            if let Some(id) = id {
                out.push(RecordedId {
                    kind,
                    id: id.to_owned(),
                    region: region.to_owned(),
                    borrowed,
                });
            }
        };
        let n = &self.network;
        let borrowed_net = self.borrows_vpc();
        add(ResourceType::Vpc, some(&n.vpc_id), &region, borrowed_net);
        add(
            ResourceType::Subnet,
            some(&n.subnet_id),
            &region,
            borrowed_net,
        );
        add(
            ResourceType::Subnet,
            some(&n.secondary_subnet_id),
            &region,
            borrowed_net,
        );
        add(
            ResourceType::InternetGateway,
            some(&n.internet_gateway_id),
            &region,
            false,
        );
        add(
            ResourceType::RouteTable,
            some(&n.route_table_id),
            &region,
            false,
        );
        add(
            ResourceType::SecurityGroup,
            some(&n.security_group_id),
            &region,
            false,
        );
        // Earlier versions recorded the subnet group under data.db.
        let legacy_group = self
            .data
            .db
            .as_ref()
            .and_then(|d| d.extra.get("db_subnet_group_name"))
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty());
        add(
            ResourceType::DbSubnetGroup,
            some(&n.db_subnet_group_name).or(legacy_group),
            &region,
            false,
        );
        add(
            ResourceType::Ec2Instance,
            some(&self.compute.instance_id),
            &region,
            false,
        );
        if let Some(db) = &self.data.db {
            add(
                ResourceType::RdsInstance,
                some(&db.identifier),
                &region,
                false,
            );
        }
        if let Some(b) = &self.data.s3_bucket
            && some(&b.arn).is_some()
        {
            add(ResourceType::S3Bucket, some(&b.name), &region, false);
        }
        let kp = &self.security.key_pair;
        if some(&kp.key_pair_id).is_some() {
            let name = self.key_pair_name();
            add(
                ResourceType::KeyPair,
                Some(&name),
                &region,
                kp.mode == KeyPairMode::Existing,
            );
        }
        let role = &self.security.iam_role;
        if some(&role.arn).is_some() {
            add(
                ResourceType::IamRole,
                Some(&self.role_name()),
                GLOBAL,
                false,
            );
        }
        if let Some(profile) = some(&role.instance_profile_arn).and_then(arn_name) {
            add(
                ResourceType::IamInstanceProfile,
                Some(profile),
                GLOBAL,
                false,
            );
        }
        out
    }

    /// Ids, addresses and ARNs back to null and every wanted section back to pending, so the
    /// blueprint can be deployed again (after a destroy). User choices are kept.
    pub fn clear_recorded(&mut self) {
        fn pending(s: &mut SectionStatus) {
            if !s.is_skipped() {
                *s = SectionStatus::Pending;
            }
        }
        let n = &mut self.network;
        n.vpc_id = None;
        n.subnet_id = None;
        n.secondary_subnet_id = None;
        n.security_group_id = None;
        n.internet_gateway_id = None;
        n.route_table_id = None;
        n.db_subnet_group_name = None;
        pending(&mut n.status);
        let c = &mut self.compute;
        c.instance_id = None;
        c.public_ip = None;
        c.private_ip = None;
        c.resolved_image_id = None;
        pending(&mut c.status);
        if let Some(d) = self.data.db.as_mut() {
            d.endpoint = None;
            d.identifier = None;
            d.arn = None;
            // RDS deletes the secret it manages with the instance.
            d.master_user_secret_arn = None;
            d.port = None;
            d.extra.remove("db_subnet_group_name");
            pending(&mut d.status);
        }
        if let Some(b) = self.data.s3_bucket.as_mut() {
            b.arn = None;
            pending(&mut b.status);
        }
        let s = &mut self.security;
        s.key_pair.key_pair_id = None;
        pending(&mut s.key_pair.status);
        s.certificate.cert_arn = None;
        s.certificate.validation_records = None;
        pending(&mut s.certificate.status);
        s.iam_role.arn = None;
        s.iam_role.instance_profile_arn = None;
        pending(&mut s.iam_role.status);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployed(mode: VpcMode) -> Blueprint {
        let mut bp = Blueprint::new("Blog", "us-east-2");
        bp.network.vpc_mode = mode;
        bp.network.vpc_id = Some("vpc-1".into());
        bp.network.subnet_id = Some("subnet-1".into());
        bp.network.security_group_id = Some("sg-1".into());
        bp.compute.instance_id = Some("i-1".into());
        bp.security.key_pair.key_pair_id = Some("key-1".into());
        bp.security.iam_role.arn = Some("arn:aws:iam::1:role/pockitect-blog-role".into());
        bp.security.iam_role.instance_profile_arn =
            Some("arn:aws:iam::1:instance-profile/pockitect-blog-role".into());
        bp.network.status = SectionStatus::Created;
        bp
    }

    #[test]
    fn new_vpc_is_owned_default_and_existing_are_borrowed() {
        let owned = deployed(VpcMode::New).recorded_ids();
        assert!(owned.iter().all(|r| !r.borrowed), "{owned:?}");
        for mode in [VpcMode::Default, VpcMode::Existing] {
            let ids = deployed(mode).recorded_ids();
            let borrowed: Vec<&str> = ids
                .iter()
                .filter(|r| r.borrowed)
                .map(|r| r.id.as_str())
                .collect();
            assert_eq!(borrowed, ["vpc-1", "subnet-1"]);
        }
        let ids = deployed(VpcMode::New).recorded_ids();
        let profile = ids
            .iter()
            .find(|r| r.kind == ResourceType::IamInstanceProfile)
            .unwrap();
        assert_eq!(
            (profile.id.as_str(), profile.region.as_str()),
            ("pockitect-blog-role", "global")
        );
        assert!(
            ids.iter()
                .any(|r| r.kind == ResourceType::KeyPair && r.id == "blog-key")
        );
    }

    #[test]
    fn an_existing_key_pair_is_borrowed() {
        let mut bp = deployed(VpcMode::New);
        bp.security.key_pair.mode = KeyPairMode::Existing;
        bp.security.key_pair.name = Some("my-laptop".into());
        let kp = bp
            .recorded_ids()
            .into_iter()
            .find(|r| r.kind == ResourceType::KeyPair)
            .unwrap();
        assert!(kp.borrowed);
        assert_eq!(kp.id, "my-laptop");
    }

    #[test]
    fn clearing_forgets_every_id_and_keeps_choices() {
        let mut bp = deployed(VpcMode::New);
        bp.clear_recorded();
        assert!(bp.recorded_ids().is_empty());
        assert_eq!(bp.network.status, SectionStatus::Pending);
        assert_eq!(bp.compute.instance_type.as_deref(), Some("t3.micro"));
    }
}
