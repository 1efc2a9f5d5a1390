//! IAM roles and instance profiles (account-wide: their region is [`GLOBAL`]). Neither list
//! call returns tags, so each item's tags are asked for separately.

use std::collections::BTreeMap;

use aws_sdk_iam::types::{InstanceProfile, Role, Tag};
use futures::StreamExt;
use pockitect_proto::{ResourceRecord, ResourceType};
use serde_json::{Value, json};

use super::{GLOBAL, PER_ITEM, Query, Scope, tag_map};
use crate::AwsError;

fn tags(tags: &[Tag]) -> BTreeMap<String, String> {
    tag_map(tags.iter().map(|t| (Some(t.key()), Some(t.value()))))
}

/// Ids are role names, one GetRole each (NoSuchEntity when one is gone).
pub(super) async fn roles(s: &Scope<'_>, query: &Query) -> Result<Vec<ResourceRecord>, AwsError> {
    let iam = s.aws.iam();
    let mut roles: Vec<Role> = Vec::new();
    match query {
        Query::InVpc(_) => return Ok(Vec::new()),
        Query::All => {
            let mut p = iam.list_roles().into_paginator().send();
            loop {
                let page = {
                    let _permit = s.permit().await;
                    p.next().await
                };
                let Some(page) = page else { break };
                let page = page.map_err(|e| AwsError::from_sdk("iam:ListRoles", GLOBAL, e))?;
                roles.extend(page.roles().iter().cloned());
            }
        }
        Query::Ids(names) => {
            for name in names {
                let out = iam
                    .get_role()
                    .role_name(name)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("iam:GetRole", GLOBAL, e))?;
                roles.extend(out.role().cloned());
            }
        }
    }
    let iam = &iam;
    Ok(futures::stream::iter(roles)
        .map(|role| async move {
            let tags = {
                let _permit = s.permit().await;
                match iam
                    .list_role_tags()
                    .role_name(role.role_name())
                    .send()
                    .await
                {
                    Ok(t) => tags(t.tags()),
                    Err(_) => tags(role.tags()),
                }
            };
            let details = json!({
                "path": role.path(),
                "role_id": role.role_id(),
                "created": role.create_date().to_string(),
            });
            record(
                s,
                ResourceType::IamRole,
                role.role_name(),
                role.arn(),
                tags,
                details,
            )
        })
        .buffered(PER_ITEM)
        .collect()
        .await)
}

/// Ids are profile names, one GetInstanceProfile each.
pub(super) async fn instance_profiles(
    s: &Scope<'_>,
    query: &Query,
) -> Result<Vec<ResourceRecord>, AwsError> {
    let iam = s.aws.iam();
    let mut profiles: Vec<InstanceProfile> = Vec::new();
    match query {
        Query::InVpc(_) => return Ok(Vec::new()),
        Query::All => {
            let mut p = iam.list_instance_profiles().into_paginator().send();
            loop {
                let page = {
                    let _permit = s.permit().await;
                    p.next().await
                };
                let Some(page) = page else { break };
                let page =
                    page.map_err(|e| AwsError::from_sdk("iam:ListInstanceProfiles", GLOBAL, e))?;
                profiles.extend(page.instance_profiles().iter().cloned());
            }
        }
        Query::Ids(names) => {
            for name in names {
                let out = iam
                    .get_instance_profile()
                    .instance_profile_name(name)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("iam:GetInstanceProfile", GLOBAL, e))?;
                profiles.extend(out.instance_profile().cloned());
            }
        }
    }
    let iam = &iam;
    Ok(futures::stream::iter(profiles)
        .map(|ip| async move {
            let name = ip.instance_profile_name();
            let tags = {
                let _permit = s.permit().await;
                match iam
                    .list_instance_profile_tags()
                    .instance_profile_name(name)
                    .send()
                    .await
                {
                    Ok(t) => tags(t.tags()),
                    Err(_) => tags(ip.tags()),
                }
            };
            let details = json!({
                "path": ip.path(),
                "roles": ip.roles().iter().map(|r| r.role_name()).collect::<Vec<_>>(),
            });
            record(
                s,
                ResourceType::IamInstanceProfile,
                name,
                ip.arn(),
                tags,
                details,
            )
        })
        .buffered(PER_ITEM)
        .collect()
        .await)
}

/// The converter's common part: global region, named by its name, always `available`.
fn record(
    s: &Scope<'_>,
    kind: ResourceType,
    name: &str,
    arn: &str,
    tags: BTreeMap<String, String>,
    details: Value,
) -> ResourceRecord {
    let mut rec = s.record(
        kind,
        name,
        tags,
        Some("available"),
        Some(arn.to_owned()),
        details,
    );
    rec.region = GLOBAL.to_owned();
    rec.name.get_or_insert_with(|| name.to_owned());
    rec
}
