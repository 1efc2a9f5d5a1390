//! The project's security group and its ingress rules: what the blueprint asks for (plus the
//! database port from the group itself), compared with what EC2 reports, missing ones added.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, Ipv6Range, ResourceType, UserIdGroupPair};

use crate::deploy::ec2::{filter, has_tag, nonempty, tag_spec};
use crate::deploy::engine::{Found, Run};
use crate::deploy::util::EngineError;
use crate::deploy::util::{CODE_CONFLICT, sdk_code, unless_not_found};
use crate::deploy::{Action, DeploySink, Resource, StepError};

/// One ingress permission, normalised for comparison (descriptions ignored).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Perm {
    pub proto: String,
    pub from: Option<i32>,
    pub to: Option<i32>,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Source {
    V4(String),
    V6(String),
    Group(String),
}

fn norm_proto(p: &str) -> String {
    match p.to_ascii_lowercase().as_str() {
        "6" => "tcp".to_owned(),
        "17" => "udp".to_owned(),
        "1" => "icmp".to_owned(),
        "icmpv6" => "58".to_owned(),
        "all" => "-1".to_owned(),
        other => other.to_owned(),
    }
}

impl Perm {
    fn new(proto: &str, from: Option<i32>, to: Option<i32>, source: Source) -> Perm {
        let proto = norm_proto(proto);
        let (from, to) = if proto == "-1" {
            (None, None)
        } else {
            (from, to)
        };
        Perm {
            proto,
            from,
            to,
            source,
        }
    }

    fn to_ip_permission(&self, description: &str) -> IpPermission {
        let mut b = IpPermission::builder().ip_protocol(&self.proto);
        if let Some(f) = self.from {
            b = b.from_port(f);
        }
        if let Some(t) = self.to {
            b = b.to_port(t);
        }
        let desc = (!description.is_empty()).then(|| description.to_owned());
        match &self.source {
            Source::V4(c) => {
                b = b.ip_ranges(IpRange::builder().cidr_ip(c).set_description(desc).build())
            }
            Source::V6(c) => {
                b = b.ipv6_ranges(
                    Ipv6Range::builder()
                        .cidr_ipv6(c)
                        .set_description(desc)
                        .build(),
                )
            }
            Source::Group(g) => {
                b = b.user_id_group_pairs(
                    UserIdGroupPair::builder()
                        .group_id(g)
                        .set_description(desc)
                        .build(),
                )
            }
        }
        b.build()
    }
}

/// Flattens what EC2 reports into one `Perm` per source.
fn existing_perms(perms: &[IpPermission]) -> BTreeSet<Perm> {
    let mut out = BTreeSet::new();
    for p in perms {
        let proto = p.ip_protocol().unwrap_or("-1");
        for r in p.ip_ranges() {
            if let Some(c) = r.cidr_ip() {
                out.insert(Perm::new(
                    proto,
                    p.from_port(),
                    p.to_port(),
                    Source::V4(c.to_owned()),
                ));
            }
        }
        for r in p.ipv6_ranges() {
            if let Some(c) = r.cidr_ipv6() {
                out.insert(Perm::new(
                    proto,
                    p.from_port(),
                    p.to_port(),
                    Source::V6(c.to_owned()),
                ));
            }
        }
        for g in p.user_id_group_pairs() {
            if let Some(id) = g.group_id() {
                out.insert(Perm::new(
                    proto,
                    p.from_port(),
                    p.to_port(),
                    Source::Group(id.to_owned()),
                ));
            }
        }
    }
    out
}

impl<S: DeploySink> Run<'_, S> {
    fn sg_name(&self) -> String {
        format!("{}-sg", self.slug)
    }

    /// The ingress the blueprint asks for (plus the database port from the group itself, so
    /// the instance reaches the database), each with its description.
    fn desired_perms(&self, group_id: &str) -> Vec<(Perm, String)> {
        let mut out = Vec::new();
        for rule in &self.cfg.network.rules {
            let Some(range) = rule.port_range() else {
                continue;
            };
            let (Ok(from), Ok(to)) = (i32::try_from(range.from), i32::try_from(range.to)) else {
                continue;
            };
            let cidr = rule.cidr.trim();
            let cidr = if cidr.is_empty() { "0.0.0.0/0" } else { cidr };
            let source = if rule.is_ipv6() {
                Source::V6(cidr.to_owned())
            } else {
                Source::V4(cidr.to_owned())
            };
            out.push((
                Perm::new(rule.protocol.ec2_value(), Some(from), Some(to), source),
                rule.description.clone(),
            ));
        }
        if let Some(db) = self.cfg.db() {
            let port = db.port.and_then(|p| i32::try_from(p).ok()).or_else(|| {
                db.engine
                    .clone()
                    .unwrap_or_default()
                    .default_port()
                    .map(i32::from)
            });
            if let Some(p) = port {
                out.push((
                    Perm::new("tcp", Some(p), Some(p), Source::Group(group_id.to_owned())),
                    "database from the project's instances".to_owned(),
                ));
            }
        }
        out
    }

    async fn describe_sgs(
        &self,
        filters: Vec<Filter>,
        ids: Vec<String>,
    ) -> Result<Vec<aws_sdk_ec2::types::SecurityGroup>, StepError> {
        let answer = self
            .ec2
            .describe_security_groups()
            .set_filters(nonempty(filters))
            .set_group_ids(nonempty(ids))
            .send()
            .await;
        unless_not_found(
            answer.map(|out| out.security_groups().to_vec()),
            Resource::SecurityGroup,
            "ec2:DescribeSecurityGroups",
            &self.region,
        )
    }

    fn missing_perms(&self, sg: &aws_sdk_ec2::types::SecurityGroup) -> Vec<(Perm, String)> {
        let id = sg.group_id().unwrap_or_default();
        let have = existing_perms(sg.ip_permissions());
        self.desired_perms(id)
            .into_iter()
            .filter(|(p, _)| !have.contains(p))
            .collect()
    }

    fn sg_found(
        &self,
        sg: &aws_sdk_ec2::types::SecurityGroup,
        recorded: Option<&str>,
        detail: &str,
    ) -> Option<Found> {
        let id = sg.group_id()?;
        let missing = self.missing_perms(sg).len();
        let mut f = Found::recorded_or_adopted(id, recorded, detail);
        if missing > 0 {
            f.action = Action::Update;
            f.detail = Some(format!("{detail}; {missing} rule(s) to add"));
        }
        Some(f)
    }

    pub(crate) async fn find_security_group(&self) -> Result<Option<Found>, StepError> {
        let r = Resource::SecurityGroup;
        let vpc = self.need(r, Resource::Vpc)?;
        let recorded = self
            .cfg
            .network
            .security_group_id
            .as_deref()
            .filter(|s| !s.is_empty());
        if let Some(id) = recorded {
            let found = self.describe_sgs(vec![], vec![id.to_owned()]).await?;
            if let Some(sg) = found.iter().find(|g| g.vpc_id() == Some(vpc.as_str())) {
                return Ok(self.sg_found(sg, recorded, "recorded and present"));
            }
        }
        let mut filters = self.tag_filters(r);
        filters.push(filter("vpc-id", &[&vpc]));
        let found = self.describe_sgs(filters, vec![]).await?;
        if let Some(sg) = found.iter().min_by_key(|g| g.group_id().map(str::to_owned)) {
            return Ok(self.sg_found(sg, recorded, "found by its tags"));
        }
        let named = self
            .describe_sgs(
                vec![
                    filter("vpc-id", &[&vpc]),
                    filter("group-name", &[&self.sg_name()]),
                ],
                vec![],
            )
            .await?;
        match named.first() {
            Some(sg) if has_tag(sg.tags(), pockitect_proto::tags::PROJECT, &self.slug) => {
                Ok(self.sg_found(sg, recorded, "found by its name"))
            }
            Some(sg) => Err(self.err(
                r,
                CODE_CONFLICT,
                format!(
                    "security group '{}' ({}) exists in VPC '{vpc}' but is not tagged {}={}; delete or tag it",
                    self.sg_name(),
                    sg.group_id().unwrap_or("?"),
                    pockitect_proto::tags::PROJECT,
                    self.slug
                ),
            )),
            None => Ok(None),
        }
    }

    async fn authorize(&self, group_id: &str, perms: &[(Perm, String)]) -> Result<(), StepError> {
        let r = Resource::SecurityGroup;
        for (perm, desc) in perms {
            match self
                .ec2
                .authorize_security_group_ingress()
                .group_id(group_id)
                .ip_permissions(perm.to_ip_permission(desc))
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if sdk_code(&e) == Some("InvalidPermission.Duplicate") => {}
                Err(e) => {
                    return Err(StepError::sdk(
                        r,
                        "ec2:AuthorizeSecurityGroupIngress",
                        &self.region,
                        e,
                    ));
                }
            }
        }
        Ok(())
    }

    pub(crate) async fn converge_security_group(&self, found: &Found) -> Result<(), StepError> {
        if found.action != Action::Update {
            return Ok(());
        }
        let groups = self.describe_sgs(vec![], vec![found.id.clone()]).await?;
        if let Some(sg) = groups.first() {
            let missing = self.missing_perms(sg);
            self.authorize(&found.id, &missing).await?;
        }
        Ok(())
    }

    pub(crate) async fn create_security_group(&self) -> Result<String, StepError> {
        let r = Resource::SecurityGroup;
        let vpc = self.need(r, Resource::Vpc)?;
        let out = self
            .ec2
            .create_security_group()
            .group_name(self.sg_name())
            .description(format!("Pockitect project {}", self.slug))
            .vpc_id(&vpc)
            .tag_specifications(tag_spec(ResourceType::SecurityGroup, &self.tags_for(r)))
            .send()
            .await
            .map_err(|e| StepError::sdk(r, "ec2:CreateSecurityGroup", &self.region, e))?;
        let id = out
            .group_id()
            .ok_or_else(|| self.err(r, "EmptyResponse", "CreateSecurityGroup returned no id"))?
            .to_owned();
        self.created(r, &id);
        self.record(r, &id).await;
        let perms = self.desired_perms(&id);
        self.authorize(&id, &perms).await?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perms_normalise_protocols_and_all_ports() {
        let a = Perm::new("all", Some(-1), Some(-1), Source::V4("0.0.0.0/0".into()));
        let b = Perm::new("-1", None, None, Source::V4("0.0.0.0/0".into()));
        assert_eq!(a, b);
        let t = Perm::new("6", Some(22), Some(22), Source::V6("::/0".into()));
        assert_eq!(t.proto, "tcp");
        let ip = t.to_ip_permission("SSH");
        assert_eq!(ip.ipv6_ranges()[0].cidr_ipv6(), Some("::/0"));
        let back = existing_perms(&[ip]);
        assert!(back.contains(&t));
    }
}
