//! The AWS calls that delete each type of resource, with the preparation each needs
//! (disassociate, detach, empty, remove roles, detach policies), and the waits for deletions
//! AWS completes on its own.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use aws_sdk_ec2::types::IpPermission;
use pockitect_proto::{ResourceRecord, ResourceType, TerminateTarget};
use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::plan::Safety;
use super::run::{Done, Executor};
use super::{PlannedDelete, TerminatePlan};
use crate::lookup::{Failure, GLOBAL, describe_targets, is_not_found, key_of, vpc_interfaces};
use crate::{Aws, AwsError};

/// First and longest pause between two polls while waiting for a deletion.
const POLL_FIRST: Duration = Duration::from_millis(500);
const POLL_MAX: Duration = Duration::from_secs(10);

pub(crate) struct AwsExecutor {
    aws: Aws,
    final_snapshot: bool,
    concurrency: usize,
    safety: Safety,
}

impl AwsExecutor {
    pub fn new(aws: Aws, plan: &TerminatePlan) -> Self {
        Self {
            aws,
            final_snapshot: plan.options.final_snapshot,
            concurrency: plan.options.concurrency.max(1),
            safety: Safety::new(&plan.options, plan.projects.clone()),
        }
    }
}

/// Maps an SDK error, keeping AWS's code and message.
macro_rules! sdk {
    ($op:literal, $region:expr) => {
        |e| AwsError::from_sdk($op, $region, e)
    };
}

/// Ok when the call succeeded or the thing it addressed is already gone.
fn tolerate_missing<T>(r: Result<T, AwsError>) -> Result<(), AwsError> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(e.code()) => Ok(()),
        Err(e) => Err(e),
    }
}

fn text<'a>(r: &'a ResourceRecord, key: &str) -> Option<&'a str> {
    r.details.get(key).and_then(Value::as_str)
}

impl Executor for AwsExecutor {
    async fn delete(&self, item: &PlannedDelete) -> Result<Done, Failure> {
        match self.delete_aws(&item.record).await {
            Ok(done) => Ok(done),
            Err(e) if is_not_found(e.code()) => Ok(Done::AlreadyGone(format!(
                "already gone ({}: {})",
                e.code(),
                e.message()
            ))),
            Err(e) => Err(Failure::from(&e)),
        }
    }

    async fn wait_gone(
        &self,
        items: &[&PlannedDelete],
        deadline: Instant,
        cancel: CancellationToken,
    ) -> Vec<Result<String, Failure>> {
        let targets: Vec<TerminateTarget> = items.iter().map(|i| i.record.target()).collect();
        let mut results: Vec<Option<Result<String, Failure>>> = vec![None; items.len()];
        let mut delay = POLL_FIRST;
        let mut last_state: Vec<Option<String>> = vec![None; items.len()];
        loop {
            let open: Vec<usize> = (0..items.len()).filter(|i| results[*i].is_none()).collect();
            if open.is_empty() {
                break;
            }
            let asked: Vec<TerminateTarget> = open.iter().map(|i| targets[*i].clone()).collect();
            let now = describe_targets(&self.aws, &asked, self.concurrency).await;
            for i in &open {
                let t = &targets[*i];
                let key = key_of(t.kind, &t.id);
                if now.missing.contains(&key) {
                    results[*i] = Some(Ok(gone_message(t.kind).to_owned()));
                } else if let Some(r) = now.found.get(&key) {
                    let state = r.state.clone().unwrap_or_default();
                    let done = matches!(
                        (t.kind, state.as_str()),
                        (ResourceType::Ec2Instance, "terminated")
                            | (ResourceType::NatGateway, "deleted")
                    );
                    if done {
                        results[*i] = Some(Ok(gone_message(t.kind).to_owned()));
                    } else if t.kind == ResourceType::NatGateway && state == "failed" {
                        results[*i] = Some(Err(Failure {
                            code: "NatGatewayFailed".into(),
                            message: "the NAT gateway's deletion failed".into(),
                        }));
                    }
                    last_state[*i] = Some(state);
                }
                // A describe failure is retried at the next poll.
            }
            if results.iter().all(Option::is_some) {
                break;
            }
            let now = Instant::now();
            if cancel.is_cancelled() || now >= deadline {
                let cancelled = cancel.is_cancelled();
                for (i, slot) in results.iter_mut().enumerate() {
                    if slot.is_none() {
                        let state = last_state[i].as_deref().unwrap_or("unknown");
                        *slot = Some(Err(if cancelled {
                            Failure {
                                code: "cancelled".into(),
                                message: format!(
                                    "deletion started (state '{state}'), no longer waited for: the request was cancelled"
                                ),
                            }
                        } else {
                            Failure {
                                code: "Timeout".into(),
                                message: format!(
                                    "deletion started but still '{state}' at the deadline; run terminate again later"
                                ),
                            }
                        }));
                    }
                }
                break;
            }
            let pause = delay.min(deadline - now);
            tokio::select! {
                biased;
                _ = cancel.cancelled() => {}
                _ = tokio::time::sleep(pause) => {}
            }
            delay = (delay * 2).min(POLL_MAX);
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(Failure {
                        code: "internal".into(),
                        message: "no result".into(),
                    })
                })
            })
            .collect()
    }
}

fn gone_message(kind: ResourceType) -> &'static str {
    match kind {
        ResourceType::Ec2Instance => "terminated",
        _ => "deleted",
    }
}

impl AwsExecutor {
    async fn delete_aws(&self, r: &ResourceRecord) -> Result<Done, AwsError> {
        let region = r.region.as_str();
        let id = r.id.as_str();
        let ec2 = || self.aws.ec2(region);
        match r.kind {
            ResourceType::Ec2Instance => {
                ec2()
                    .terminate_instances()
                    .instance_ids(id)
                    .send()
                    .await
                    .map_err(sdk!("ec2:TerminateInstances", region))?;
                Ok(Done::Started(
                    "termination started; waiting for 'terminated'".into(),
                ))
            }
            ResourceType::RdsInstance => self.delete_db(r).await,
            ResourceType::NatGateway => {
                ec2()
                    .delete_nat_gateway()
                    .nat_gateway_id(id)
                    .send()
                    .await
                    .map_err(sdk!("ec2:DeleteNatGateway", region))?;
                Ok(Done::Started(
                    "deletion started; waiting for 'deleted'".into(),
                ))
            }
            ResourceType::ElasticIp => {
                let client = ec2();
                // Fresh: the association may have changed since the plan (a NAT gateway gone).
                let addr = client
                    .describe_addresses()
                    .allocation_ids(id)
                    .send()
                    .await
                    .map_err(sdk!("ec2:DescribeAddresses", region))?;
                let association = addr
                    .addresses()
                    .first()
                    .and_then(|a| a.association_id().map(str::to_owned));
                let mut msg = String::new();
                if let Some(assoc) = association {
                    tolerate_missing(
                        client
                            .disassociate_address()
                            .association_id(&assoc)
                            .send()
                            .await
                            .map_err(sdk!("ec2:DisassociateAddress", region)),
                    )?;
                    msg.push_str("disassociated, ");
                }
                client
                    .release_address()
                    .allocation_id(id)
                    .send()
                    .await
                    .map_err(sdk!("ec2:ReleaseAddress", region))?;
                msg.push_str("released");
                if let Some(ip) = text(r, "public_ip") {
                    msg.push_str(&format!(" ({ip})"));
                }
                Ok(Done::Deleted(msg))
            }
            ResourceType::EbsVolume => {
                ec2()
                    .delete_volume()
                    .volume_id(id)
                    .send()
                    .await
                    .map_err(sdk!("ec2:DeleteVolume", region))?;
                Ok(Done::Deleted("deleted".into()))
            }
            ResourceType::KeyPair => {
                ec2()
                    .delete_key_pair()
                    .key_name(id)
                    .send()
                    .await
                    .map_err(sdk!("ec2:DeleteKeyPair", region))?;
                Ok(Done::Deleted(
                    "deleted from AWS; the local private key file is not touched".into(),
                ))
            }
            ResourceType::IamInstanceProfile => self.delete_instance_profile(id).await,
            ResourceType::IamRole => self.delete_role(id).await,
            ResourceType::S3Bucket => self.delete_bucket(region, id).await,
            ResourceType::SecurityGroup => self.delete_security_group(region, id).await,
            ResourceType::Subnet => {
                ec2()
                    .delete_subnet()
                    .subnet_id(id)
                    .send()
                    .await
                    .map_err(sdk!("ec2:DeleteSubnet", region))?;
                Ok(Done::Deleted("deleted".into()))
            }
            ResourceType::DbSubnetGroup => {
                self.aws
                    .rds(region)
                    .delete_db_subnet_group()
                    .db_subnet_group_name(id)
                    .send()
                    .await
                    .map_err(sdk!("rds:DeleteDBSubnetGroup", region))?;
                Ok(Done::Deleted("deleted".into()))
            }
            ResourceType::RouteTable => {
                let client = ec2();
                let out = client
                    .describe_route_tables()
                    .route_table_ids(id)
                    .send()
                    .await
                    .map_err(sdk!("ec2:DescribeRouteTables", region))?;
                let mut n = 0;
                for t in out.route_tables() {
                    for a in t.associations() {
                        if a.main() == Some(true) {
                            continue;
                        }
                        let Some(assoc) = a.route_table_association_id() else {
                            continue;
                        };
                        tolerate_missing(
                            client
                                .disassociate_route_table()
                                .association_id(assoc)
                                .send()
                                .await
                                .map_err(sdk!("ec2:DisassociateRouteTable", region)),
                        )?;
                        n += 1;
                    }
                }
                client
                    .delete_route_table()
                    .route_table_id(id)
                    .send()
                    .await
                    .map_err(sdk!("ec2:DeleteRouteTable", region))?;
                Ok(Done::Deleted(format!(
                    "{n} association(s) removed, then deleted"
                )))
            }
            ResourceType::InternetGateway => {
                let client = ec2();
                let out = client
                    .describe_internet_gateways()
                    .internet_gateway_ids(id)
                    .send()
                    .await
                    .map_err(sdk!("ec2:DescribeInternetGateways", region))?;
                let mut detached = Vec::new();
                for g in out.internet_gateways() {
                    for a in g.attachments() {
                        let Some(vpc) = a.vpc_id() else { continue };
                        match client
                            .detach_internet_gateway()
                            .internet_gateway_id(id)
                            .vpc_id(vpc)
                            .send()
                            .await
                            .map_err(sdk!("ec2:DetachInternetGateway", region))
                        {
                            Ok(_) => detached.push(vpc.to_owned()),
                            Err(e) if e.code() == "Gateway.NotAttached" => {}
                            Err(e) => return Err(e),
                        }
                    }
                }
                client
                    .delete_internet_gateway()
                    .internet_gateway_id(id)
                    .send()
                    .await
                    .map_err(sdk!("ec2:DeleteInternetGateway", region))?;
                Ok(Done::Deleted(if detached.is_empty() {
                    "deleted".to_owned()
                } else {
                    format!("detached from {}, then deleted", detached.join(", "))
                }))
            }
            ResourceType::Vpc => self.delete_vpc(region, id).await,
        }
    }

    async fn delete_db(&self, r: &ResourceRecord) -> Result<Done, AwsError> {
        let region = r.region.as_str();
        if r.state.as_deref() == Some("deleting") {
            return Ok(Done::Started(
                "deletion already in progress; waiting until it is gone".into(),
            ));
        }
        let mut call = self
            .aws
            .rds(region)
            .delete_db_instance()
            .db_instance_identifier(&r.id);
        let msg = if self.final_snapshot {
            let snap = format!(
                "{}-final-{}",
                r.id,
                chrono::Utc::now().format("%Y%m%d%H%M%S")
            );
            call = call
                .skip_final_snapshot(false)
                .final_db_snapshot_identifier(&snap);
            format!("deletion started with final snapshot '{snap}'; waiting until it is gone")
        } else {
            call = call.skip_final_snapshot(true);
            "deletion started (no final snapshot); waiting until it is gone".to_owned()
        };
        call.send()
            .await
            .map_err(sdk!("rds:DeleteDBInstance", region))?;
        Ok(Done::Started(msg))
    }

    async fn delete_instance_profile(&self, name: &str) -> Result<Done, AwsError> {
        let iam = self.aws.iam();
        let out = iam
            .get_instance_profile()
            .instance_profile_name(name)
            .send()
            .await
            .map_err(sdk!("iam:GetInstanceProfile", GLOBAL))?;
        let roles: Vec<String> = out
            .instance_profile()
            .map(|p| p.roles().iter().map(|r| r.role_name().to_owned()).collect())
            .unwrap_or_default();
        for role in &roles {
            tolerate_missing(
                iam.remove_role_from_instance_profile()
                    .instance_profile_name(name)
                    .role_name(role)
                    .send()
                    .await
                    .map_err(sdk!("iam:RemoveRoleFromInstanceProfile", GLOBAL)),
            )?;
        }
        iam.delete_instance_profile()
            .instance_profile_name(name)
            .send()
            .await
            .map_err(sdk!("iam:DeleteInstanceProfile", GLOBAL))?;
        Ok(Done::Deleted(if roles.is_empty() {
            "deleted".to_owned()
        } else {
            format!("removed role(s) {}, then deleted", roles.join(", "))
        }))
    }

    async fn delete_role(&self, name: &str) -> Result<Done, AwsError> {
        let iam = self.aws.iam();
        let mut profiles = Vec::new();
        let mut p = iam
            .list_instance_profiles_for_role()
            .role_name(name)
            .into_paginator()
            .send();
        while let Some(page) = p.next().await {
            let page = page.map_err(sdk!("iam:ListInstanceProfilesForRole", GLOBAL))?;
            profiles.extend(
                page.instance_profiles()
                    .iter()
                    .map(|p| p.instance_profile_name().to_owned()),
            );
        }
        for profile in &profiles {
            tolerate_missing(
                iam.remove_role_from_instance_profile()
                    .instance_profile_name(profile)
                    .role_name(name)
                    .send()
                    .await
                    .map_err(sdk!("iam:RemoveRoleFromInstanceProfile", GLOBAL)),
            )?;
        }
        let mut attached = Vec::new();
        let mut p = iam
            .list_attached_role_policies()
            .role_name(name)
            .into_paginator()
            .send();
        while let Some(page) = p.next().await {
            let page = page.map_err(sdk!("iam:ListAttachedRolePolicies", GLOBAL))?;
            attached.extend(
                page.attached_policies()
                    .iter()
                    .filter_map(|p| p.policy_arn().map(str::to_owned)),
            );
        }
        for arn in &attached {
            tolerate_missing(
                iam.detach_role_policy()
                    .role_name(name)
                    .policy_arn(arn)
                    .send()
                    .await
                    .map_err(sdk!("iam:DetachRolePolicy", GLOBAL)),
            )?;
        }
        let mut inline = Vec::new();
        let mut p = iam
            .list_role_policies()
            .role_name(name)
            .into_paginator()
            .send();
        while let Some(page) = p.next().await {
            let page = page.map_err(sdk!("iam:ListRolePolicies", GLOBAL))?;
            inline.extend(page.policy_names().iter().cloned());
        }
        for policy in &inline {
            tolerate_missing(
                iam.delete_role_policy()
                    .role_name(name)
                    .policy_name(policy)
                    .send()
                    .await
                    .map_err(sdk!("iam:DeleteRolePolicy", GLOBAL)),
            )?;
        }
        iam.delete_role()
            .role_name(name)
            .send()
            .await
            .map_err(sdk!("iam:DeleteRole", GLOBAL))?;
        Ok(Done::Deleted(format!(
            "removed from {} instance profile(s), {} managed policy(ies) detached, {} inline policy(ies) deleted, then deleted",
            profiles.len(),
            attached.len(),
            inline.len()
        )))
    }

    /// Empties the bucket (every object version and delete marker, and unfinished multipart
    /// uploads), then deletes it.
    async fn delete_bucket(&self, region: &str, name: &str) -> Result<Done, AwsError> {
        use aws_sdk_s3::types::{Delete, ObjectIdentifier};
        let s3 = self.aws.s3(region);
        let mut removed = 0usize;
        let mut key_marker: Option<String> = None;
        let mut version_marker: Option<String> = None;
        loop {
            let page = s3
                .list_object_versions()
                .bucket(name)
                .set_key_marker(key_marker.clone())
                .set_version_id_marker(version_marker.clone())
                .send()
                .await
                .map_err(sdk!("s3:ListObjectVersions", region))?;
            let mut ids = Vec::new();
            for v in page.versions() {
                if let Some(k) = v.key() {
                    ids.push((k.to_owned(), v.version_id().map(str::to_owned)));
                }
            }
            for m in page.delete_markers() {
                if let Some(k) = m.key() {
                    ids.push((k.to_owned(), m.version_id().map(str::to_owned)));
                }
            }
            for chunk in ids.chunks(1000) {
                let objects = chunk
                    .iter()
                    .filter_map(|(k, v)| {
                        ObjectIdentifier::builder()
                            .key(k)
                            .set_version_id(v.clone())
                            .build()
                            .ok()
                    })
                    .collect();
                let delete = Delete::builder()
                    .set_objects(Some(objects))
                    .quiet(true)
                    .build()
                    .map_err(|e| AwsError::Api {
                        operation: "s3:DeleteObjects",
                        region: region.to_owned(),
                        code: "InvalidRequest".into(),
                        message: e.to_string(),
                    })?;
                let out = s3
                    .delete_objects()
                    .bucket(name)
                    .delete(delete)
                    .send()
                    .await
                    .map_err(sdk!("s3:DeleteObjects", region))?;
                if let Some(err) = out.errors().first() {
                    return Err(AwsError::Api {
                        operation: "s3:DeleteObjects",
                        region: region.to_owned(),
                        code: err.code().unwrap_or("Unknown").to_owned(),
                        message: format!(
                            "{} object(s) could not be deleted, e.g. '{}': {}",
                            out.errors().len(),
                            err.key().unwrap_or_default(),
                            err.message().unwrap_or_default()
                        ),
                    });
                }
                removed += chunk.len();
            }
            if page.is_truncated() == Some(true) {
                key_marker = page.next_key_marker().map(str::to_owned);
                version_marker = page.next_version_id_marker().map(str::to_owned);
                if key_marker.is_none() && version_marker.is_none() {
                    break;
                }
            } else {
                break;
            }
        }
        // Unfinished multipart uploads also keep a bucket from being deleted.
        let mut aborted = 0usize;
        if let Ok(uploads) = s3.list_multipart_uploads().bucket(name).send().await {
            for u in uploads.uploads() {
                if let (Some(k), Some(up)) = (u.key(), u.upload_id()) {
                    tolerate_missing(
                        s3.abort_multipart_upload()
                            .bucket(name)
                            .key(k)
                            .upload_id(up)
                            .send()
                            .await
                            .map_err(sdk!("s3:AbortMultipartUpload", region)),
                    )?;
                    aborted += 1;
                }
            }
        }
        s3.delete_bucket()
            .bucket(name)
            .send()
            .await
            .map_err(sdk!("s3:DeleteBucket", region))?;
        let mut msg = format!("emptied ({removed} object version(s) and delete marker(s) removed");
        if aborted > 0 {
            msg.push_str(&format!(", {aborted} unfinished upload(s) aborted"));
        }
        msg.push_str("), then deleted");
        Ok(Done::Deleted(msg))
    }

    /// Deletes the group; when something refers to it, first revokes its own rules that refer
    /// to other groups (which frees those groups for their turn) and tries once more.
    async fn delete_security_group(&self, region: &str, id: &str) -> Result<Done, AwsError> {
        let client = self.aws.ec2(region);
        let first = client
            .delete_security_group()
            .group_id(id)
            .send()
            .await
            .map_err(sdk!("ec2:DeleteSecurityGroup", region));
        let err = match first {
            Ok(_) => return Ok(Done::Deleted("deleted".into())),
            Err(e) if e.code() == "DependencyViolation" || e.code().ends_with("InUse") => e,
            Err(e) => return Err(e),
        };
        let out = client
            .describe_security_groups()
            .group_ids(id)
            .send()
            .await
            .map_err(sdk!("ec2:DescribeSecurityGroups", region))?;
        let Some(g) = out.security_groups().first() else {
            return Err(err);
        };
        let refs = |perms: &[IpPermission]| -> Vec<IpPermission> {
            perms
                .iter()
                .filter(|p| !p.user_id_group_pairs().is_empty())
                .map(|p| {
                    IpPermission::builder()
                        .set_ip_protocol(p.ip_protocol().map(str::to_owned))
                        .set_from_port(p.from_port())
                        .set_to_port(p.to_port())
                        .set_user_id_group_pairs(Some(p.user_id_group_pairs().to_vec()))
                        .build()
                })
                .collect()
        };
        let ingress = refs(g.ip_permissions());
        let egress = refs(g.ip_permissions_egress());
        if ingress.is_empty() && egress.is_empty() {
            return Err(err);
        }
        if !ingress.is_empty() {
            client
                .revoke_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(Some(ingress))
                .send()
                .await
                .map_err(sdk!("ec2:RevokeSecurityGroupIngress", region))?;
        }
        if !egress.is_empty() {
            client
                .revoke_security_group_egress()
                .group_id(id)
                .set_ip_permissions(Some(egress))
                .send()
                .await
                .map_err(sdk!("ec2:RevokeSecurityGroupEgress", region))?;
        }
        client
            .delete_security_group()
            .group_id(id)
            .send()
            .await
            .map_err(sdk!("ec2:DeleteSecurityGroup", region))?;
        Ok(Done::Deleted(
            "rules referring to other groups revoked, then deleted".into(),
        ))
    }

    /// Deletes the detached network interfaces the VPC still holds (those the safety rules
    /// allow; service-managed ones go with their service), then the VPC.
    async fn delete_vpc(&self, region: &str, id: &str) -> Result<Done, AwsError> {
        let client = self.aws.ec2(region);
        let mut removed = 0;
        let mut seen = HashSet::new();
        for eni in vpc_interfaces(&self.aws, region, id).await? {
            if eni.status != "available" || eni.requester_managed || !seen.insert(eni.id.clone()) {
                continue;
            }
            let tags: BTreeMap<String, String> = eni.tags.clone();
            if self.safety.check_tags(&tags).is_err() {
                continue;
            }
            tolerate_missing(
                client
                    .delete_network_interface()
                    .network_interface_id(&eni.id)
                    .send()
                    .await
                    .map_err(sdk!("ec2:DeleteNetworkInterface", region)),
            )?;
            removed += 1;
        }
        client
            .delete_vpc()
            .vpc_id(id)
            .send()
            .await
            .map_err(sdk!("ec2:DeleteVpc", region))?;
        Ok(Done::Deleted(if removed == 0 {
            "deleted (with its default security group, main route table and network ACL)".into()
        } else {
            format!("{removed} detached network interface(s) deleted, then the VPC")
        }))
    }
}
