use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Every kind of AWS resource Pockitect scans, deploys or deletes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceType {
    Ec2Instance,
    Vpc,
    Subnet,
    SecurityGroup,
    InternetGateway,
    RouteTable,
    NatGateway,
    EbsVolume,
    ElasticIp,
    KeyPair,
    RdsInstance,
    DbSubnetGroup,
    S3Bucket,
    IamRole,
    IamInstanceProfile,
}

impl ResourceType {
    pub const ALL: [ResourceType; 15] = [
        ResourceType::Ec2Instance,
        ResourceType::Vpc,
        ResourceType::Subnet,
        ResourceType::SecurityGroup,
        ResourceType::InternetGateway,
        ResourceType::RouteTable,
        ResourceType::NatGateway,
        ResourceType::EbsVolume,
        ResourceType::ElasticIp,
        ResourceType::KeyPair,
        ResourceType::RdsInstance,
        ResourceType::DbSubnetGroup,
        ResourceType::S3Bucket,
        ResourceType::IamRole,
        ResourceType::IamInstanceProfile,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Ec2Instance => "ec2_instance",
            ResourceType::Vpc => "vpc",
            ResourceType::Subnet => "subnet",
            ResourceType::SecurityGroup => "security_group",
            ResourceType::InternetGateway => "internet_gateway",
            ResourceType::RouteTable => "route_table",
            ResourceType::NatGateway => "nat_gateway",
            ResourceType::EbsVolume => "ebs_volume",
            ResourceType::ElasticIp => "elastic_ip",
            ResourceType::KeyPair => "key_pair",
            ResourceType::RdsInstance => "rds_instance",
            ResourceType::DbSubnetGroup => "db_subnet_group",
            ResourceType::S3Bucket => "s3_bucket",
            ResourceType::IamRole => "iam_role",
            ResourceType::IamInstanceProfile => "iam_instance_profile",
        }
    }

    /// S3 buckets and IAM resources are listed once per account, not per region.
    pub fn is_global(self) -> bool {
        matches!(
            self,
            ResourceType::S3Bucket | ResourceType::IamRole | ResourceType::IamInstanceProfile
        )
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("parse resource type '{0}': use one of {list}", list = type_list())]
pub struct UnknownResourceType(pub String);

fn type_list() -> String {
    ResourceType::ALL
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for ResourceType {
    type Err = UnknownResourceType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
        ResourceType::ALL
            .into_iter()
            .find(|t| t.as_str() == wanted)
            .ok_or_else(|| UnknownResourceType(s.to_owned()))
    }
}

/// One resource as the scanner saw it, and as terminate takes it back.
///
/// `id` is what the AWS API takes to address the resource (`i-…`, `vpc-…`, the bucket name, the
/// role name, …). Global resources carry their home region (buckets) or `global` (IAM).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceRecord {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ResourceType,
    pub region: String,
    #[serde(default)]
    pub account: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub arn: Option<String>,
    #[serde(default)]
    pub project: Option<String>,
    #[serde(default)]
    pub details: Value,
    #[serde(default = "Utc::now")]
    pub last_synced: DateTime<Utc>,
}

impl ResourceRecord {
    /// How a command addresses this resource (terminate, power).
    pub fn target(&self) -> crate::TerminateTarget {
        crate::TerminateTarget {
            id: self.id.clone(),
            kind: self.kind,
            region: self.region.clone(),
        }
    }

    /// A record with the fields every resource has; `project` is taken from the tags.
    pub fn new(
        kind: ResourceType,
        id: impl Into<String>,
        region: impl Into<String>,
        tags: BTreeMap<String, String>,
    ) -> Self {
        let project = tags.get(crate::tags::PROJECT).cloned();
        let name = tags.get("Name").cloned();
        Self {
            id: id.into(),
            kind,
            region: region.into(),
            account: String::new(),
            name,
            state: None,
            tags,
            arn: None,
            project,
            details: Value::Object(Default::default()),
            last_synced: Utc::now(),
        }
    }
}

/// Filters of a resource query; every set field must match. `search` is a case-insensitive
/// substring of id, name, type, region, project, state, arn or any tag key or value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceFilter {
    /// Only records of this AWS account id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<ResourceType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// `key` (present) or `key=value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
}

impl ResourceFilter {
    pub fn matches(&self, r: &ResourceRecord) -> bool {
        if self.account.as_deref().is_some_and(|x| x != r.account) {
            return false;
        }
        if self.region.as_deref().is_some_and(|x| x != r.region) {
            return false;
        }
        if self.kind.is_some_and(|k| k != r.kind) {
            return false;
        }
        if self
            .project
            .as_deref()
            .is_some_and(|p| r.project.as_deref() != Some(p))
        {
            return false;
        }
        if let Some(state) = self.state.as_deref()
            && !r
                .state
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(state))
        {
            return false;
        }
        if let Some(tag) = self.tag.as_deref() {
            let ok = match tag.split_once('=') {
                Some((k, v)) => r.tags.get(k).is_some_and(|x| x == v),
                None => r.tags.contains_key(tag),
            };
            if !ok {
                return false;
            }
        }
        if let Some(needle) = self.search.as_deref() {
            let needle = needle.to_lowercase();
            let hit = |s: &str| s.to_lowercase().contains(&needle);
            let found = hit(&r.id)
                || hit(r.kind.as_str())
                || hit(&r.region)
                || r.name.as_deref().is_some_and(hit)
                || r.project.as_deref().is_some_and(hit)
                || r.state.as_deref().is_some_and(hit)
                || r.arn.as_deref().is_some_and(hit)
                || r.tags.iter().any(|(k, v)| hit(k) || hit(v));
            if !found {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> ResourceRecord {
        let tags = BTreeMap::from([
            ("pockitect:project".to_owned(), "blog".to_owned()),
            ("Name".to_owned(), "blog-web".to_owned()),
        ]);
        let mut r = ResourceRecord::new(ResourceType::Ec2Instance, "i-0abc", "eu-west-1", tags);
        r.state = Some("running".into());
        r
    }

    #[test]
    fn project_and_name_come_from_tags() {
        let r = rec();
        assert_eq!(r.project.as_deref(), Some("blog"));
        assert_eq!(r.name.as_deref(), Some("blog-web"));
    }

    #[test]
    fn filter_fields() {
        let r = rec();
        assert!(ResourceFilter::default().matches(&r));
        let f = |f: ResourceFilter| f.matches(&r);
        assert!(f(ResourceFilter {
            region: Some("eu-west-1".into()),
            ..Default::default()
        }));
        assert!(!f(ResourceFilter {
            region: Some("us-east-1".into()),
            ..Default::default()
        }));
        assert!(f(ResourceFilter {
            kind: Some(ResourceType::Ec2Instance),
            ..Default::default()
        }));
        assert!(!f(ResourceFilter {
            kind: Some(ResourceType::Vpc),
            ..Default::default()
        }));
        assert!(!f(ResourceFilter {
            project: Some("other".into()),
            ..Default::default()
        }));
        assert!(f(ResourceFilter {
            state: Some("RUNNING".into()),
            ..Default::default()
        }));
        assert!(f(ResourceFilter {
            tag: Some("Name=blog-web".into()),
            ..Default::default()
        }));
        assert!(!f(ResourceFilter {
            tag: Some("Name=x".into()),
            ..Default::default()
        }));
        assert!(f(ResourceFilter {
            tag: Some("pockitect:project".into()),
            ..Default::default()
        }));
        assert!(f(ResourceFilter {
            search: Some("WEB".into()),
            ..Default::default()
        }));
        assert!(!f(ResourceFilter {
            search: Some("database".into()),
            ..Default::default()
        }));
    }

    #[test]
    fn type_names_round_trip() {
        for t in ResourceType::ALL {
            assert_eq!(t.as_str().parse::<ResourceType>(), Ok(t));
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
        }
        let err = "bucket".parse::<ResourceType>().unwrap_err();
        assert!(err.to_string().contains("s3_bucket"));
    }
}
