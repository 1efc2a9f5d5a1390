//! RDS: database instances and DB subnet groups.

use std::collections::BTreeMap;

use aws_sdk_rds::types::{DbInstance, DbSubnetGroup, Filter, Tag};
use pockitect_proto::{ResourceRecord, ResourceType};
use serde_json::json;

use super::{Query, Scope, tag_map};
use crate::AwsError;

fn tags(tags: &[Tag]) -> BTreeMap<String, String> {
    tag_map(tags.iter().map(|t| (t.key(), t.value())))
}

pub(super) async fn instances(
    s: &Scope<'_>,
    query: &Query,
) -> Result<Vec<ResourceRecord>, AwsError> {
    let r = s.region;
    let b = s.aws.rds(r).describe_db_instances();
    // RDS has no VPC filter: the VPC is that of the instance's subnet group.
    let (b, vpc) = match query {
        Query::All => (b, None),
        Query::Ids(ids) => (
            b.filters(
                Filter::builder()
                    .name("db-instance-id")
                    .set_values(Some(ids.clone()))
                    .build(),
            ),
            None,
        ),
        Query::InVpc(vpc) => (b, Some(vpc.as_str())),
    };
    let mut out = Vec::new();
    pages!("rds:DescribeDBInstances", r, b, |page| {
        out.extend(
            page.db_instances()
                .iter()
                .filter(|d| vpc.is_none() || d.db_subnet_group().and_then(|g| g.vpc_id()) == vpc)
                .filter_map(|d| instance(s, d)),
        );
    });
    Ok(out)
}

fn instance(s: &Scope<'_>, d: &DbInstance) -> Option<ResourceRecord> {
    let id = d.db_instance_identifier()?;
    let group = d.db_subnet_group();
    let details = json!({
        "engine": d.engine(),
        "engine_version": d.engine_version(),
        "instance_class": d.db_instance_class(),
        "allocated_storage_gb": d.allocated_storage(),
        "endpoint": d.endpoint().and_then(|e| e.address()),
        "port": d.endpoint().and_then(|e| e.port()),
        "publicly_accessible": d.publicly_accessible(),
        "storage_encrypted": d.storage_encrypted(),
        "multi_az": d.multi_az(),
        "deletion_protection": d.deletion_protection(),
        "db_subnet_group": group.and_then(|g| g.db_subnet_group_name()),
        "vpc_id": group.and_then(|g| g.vpc_id()),
        "security_groups": d.vpc_security_groups().iter().filter_map(|g| g.vpc_security_group_id()).collect::<Vec<_>>(),
    });
    Some(s.record(
        ResourceType::RdsInstance,
        id,
        tags(d.tag_list()),
        d.db_instance_status(),
        d.db_instance_arn().map(str::to_owned),
        details,
    ))
}

/// DB subnet groups. `Ids` takes one name per call (the API filters by one name).
pub(super) async fn subnet_groups(
    s: &Scope<'_>,
    query: &Query,
) -> Result<Vec<ResourceRecord>, AwsError> {
    let r = s.region;
    let rds = s.aws.rds(r);
    let b = rds.describe_db_subnet_groups();
    let (b, vpc) = match query {
        Query::All => (b, None),
        Query::Ids(ids) => (b.set_db_subnet_group_name(ids.first().cloned()), None),
        Query::InVpc(vpc) => (b, Some(vpc.as_str())),
    };
    let mut groups = Vec::new();
    pages!("rds:DescribeDBSubnetGroups", r, b, |page| {
        groups.extend(
            page.db_subnet_groups()
                .iter()
                .filter(|g| vpc.is_none() || g.vpc_id() == vpc)
                .cloned(),
        );
    });
    let mut out = Vec::new();
    for g in groups {
        // DescribeDBSubnetGroups carries no tags: one ListTagsForResource per group.
        let tags = match g.db_subnet_group_arn() {
            Some(arn) => tags(
                rds.list_tags_for_resource()
                    .resource_name(arn)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("rds:ListTagsForResource", r, e))?
                    .tag_list(),
            ),
            None => BTreeMap::new(),
        };
        out.extend(subnet_group(s, &g, tags));
    }
    Ok(out)
}

fn subnet_group(
    s: &Scope<'_>,
    g: &DbSubnetGroup,
    mut tags: BTreeMap<String, String>,
) -> Option<ResourceRecord> {
    let name = g.db_subnet_group_name()?;
    tags.entry("Name".into()).or_insert_with(|| name.to_owned());
    let details = json!({
        "vpc_id": g.vpc_id(),
        "description": g.db_subnet_group_description(),
        "subnet_ids": g.subnets().iter().filter_map(|x| x.subnet_identifier()).collect::<Vec<_>>(),
    });
    Some(s.record(
        ResourceType::DbSubnetGroup,
        name,
        tags,
        g.subnet_group_status(),
        g.db_subnet_group_arn().map(str::to_owned),
        details,
    ))
}
