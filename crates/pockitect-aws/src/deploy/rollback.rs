//! Where each resource's id lives in the blueprint, and the rollback: what this run created,
//! deleted in reverse creation order (a valid reverse dependency order), each deletion retried
//! while AWS reports a dependency that is still going away.

use std::time::Duration;

use pockitect_blueprint::{Blueprint, SectionStatus};
use tracing::{info, warn};

use super::engine::Run;
use super::graph::Section;
use super::iam::INLINE_POLICY;
use super::util::{CODE_TIMEOUT, is_not_found_code, partition, poll, sdk_code};
use super::{Created, DeploySink, Resource, StepError};

/// The id the blueprint records for `r` (None when not recorded).
pub(crate) fn recorded(bp: &Blueprint, r: Resource) -> Option<String> {
    use Resource::*;
    let n = &bp.network;
    let v = match r {
        Vpc => n.vpc_id.clone(),
        InternetGateway => n.internet_gateway_id.clone(),
        RouteTable => n.route_table_id.clone(),
        Subnet => n.subnet_id.clone(),
        SecondarySubnet => n.secondary_subnet_id.clone(),
        SecurityGroup => n.security_group_id.clone(),
        KeyPair => bp.security.key_pair.key_pair_id.clone(),
        IamRole => bp.security.iam_role.arn.clone(),
        InstanceProfile => bp.security.iam_role.instance_profile_arn.clone(),
        DbSubnetGroup => n.db_subnet_group_name.clone(),
        RdsInstance => bp.data.db.as_ref().and_then(|d| d.identifier.clone()),
        S3Bucket => bp.data.s3_bucket.as_ref().and_then(|b| b.arn.clone()),
        Ec2Instance => bp.compute.instance_id.clone(),
        Certificate => bp.security.certificate.cert_arn.clone(),
    };
    v.filter(|s| !s.is_empty())
}

/// Records (Some) or forgets (None) the id of `r`. Key pair, role and profile record their
/// secondary ids themselves (key pair id, ARNs); forgetting clears those too.
pub(crate) fn set_recorded(bp: &mut Blueprint, r: Resource, id: Option<&str>, region: &str) {
    use Resource::*;
    let v = id.map(str::to_owned);
    let n = &mut bp.network;
    match r {
        Vpc => n.vpc_id = v,
        InternetGateway => n.internet_gateway_id = v,
        RouteTable => n.route_table_id = v,
        Subnet => n.subnet_id = v,
        SecondarySubnet => n.secondary_subnet_id = v,
        SecurityGroup => n.security_group_id = v,
        DbSubnetGroup => n.db_subnet_group_name = v,
        KeyPair => {
            if v.is_none() {
                bp.security.key_pair.key_pair_id = None;
                bp.security.key_pair.private_key_path = None;
            }
        }
        IamRole => {
            if v.is_none() {
                bp.security.iam_role.arn = None;
            }
        }
        InstanceProfile => {
            if v.is_none() {
                bp.security.iam_role.instance_profile_arn = None;
            }
        }
        RdsInstance => {
            if let Some(d) = bp.data.db.as_mut() {
                if v.is_none() {
                    d.endpoint = None;
                    d.port = None;
                    d.arn = None;
                }
                d.identifier = v;
            }
        }
        S3Bucket => {
            if let Some(b) = bp.data.s3_bucket.as_mut() {
                b.arn = v.map(|name| format!("arn:{}:s3:::{name}", partition(region)));
            }
        }
        Ec2Instance => {
            if v.is_none() {
                bp.compute.public_ip = None;
                bp.compute.private_ip = None;
                bp.compute.resolved_image_id = None;
            }
            bp.compute.instance_id = v;
        }
        Certificate => {
            if v.is_none() {
                bp.security.certificate.validation_records = None;
            }
            bp.security.certificate.cert_arn = v;
        }
    }
}

fn section_status_mut(bp: &mut Blueprint, s: Section) -> Option<&mut SectionStatus> {
    match s {
        Section::Network => Some(&mut bp.network.status),
        Section::Compute => Some(&mut bp.compute.status),
        Section::Db => bp.data.db.as_mut().map(|d| &mut d.status),
        Section::Bucket => bp.data.s3_bucket.as_mut().map(|b| &mut b.status),
        Section::KeyPair => Some(&mut bp.security.key_pair.status),
        Section::Iam => Some(&mut bp.security.iam_role.status),
        Section::Certificate => Some(&mut bp.security.certificate.status),
    }
}

impl<S: DeploySink> Run<'_, S> {
    /// Deletes what this run created, newest first. Returns what was deleted and what could
    /// not be.
    pub(crate) async fn rollback(&self, created: &[Created]) -> (Vec<Created>, Vec<StepError>) {
        let mut done = Vec::new();
        let mut errors = Vec::new();
        for (i, c) in created.iter().rev().enumerate() {
            match self.delete(c).await {
                Ok(()) => {
                    info!(project = %self.slug, resource = %c.resource, id = %c.id, "rolled back");
                    let region = self.region.clone();
                    let r = c.resource;
                    self.update_bp(|bp| {
                        set_recorded(bp, r, None, &region);
                        if let Some(s) = section_status_mut(bp, r.section())
                            && *s != SectionStatus::Failed
                        {
                            *s = SectionStatus::Pending;
                        }
                    })
                    .await;
                    self.emit_rolled_back(c, i + 1, created.len()).await;
                    done.push(c.clone());
                }
                Err(e) => {
                    warn!(project = %self.slug, resource = %c.resource, id = %c.id, error = %e, "rollback step failed");
                    errors.push(e);
                }
            }
        }
        (done, errors)
    }

    async fn emit_rolled_back(&self, c: &Created, step: usize, total: usize) {
        let event = super::DeployEvent {
            step,
            total,
            resource: c.resource,
            action: None,
            state: super::StepState::RolledBack,
            id: Some(c.id.clone()),
            message: format!("{} {} deleted by the rollback", c.resource, c.id),
        };
        self.sink.progress(&event).await;
    }

    /// Retries `op` while AWS answers with one of `retry_codes` (a dependency still going
    /// away), up to `delete_wait`.
    async fn retrying<F, Fut>(
        &self,
        r: Resource,
        retry_codes: &[&str],
        mut op: F,
    ) -> Result<(), StepError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<(), StepError>>,
    {
        let deadline = tokio::time::Instant::now() + self.opts.delete_wait;
        let mut delay = self.opts.poll_interval.max(Duration::from_millis(100));
        loop {
            match op().await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e)
                    if retry_codes.contains(&e.code.as_str())
                        && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(15));
                }
                Err(e) => {
                    let _ = r;
                    return Err(e);
                }
            }
        }
    }

    async fn delete(&self, c: &Created) -> Result<(), StepError> {
        use Resource::*;
        let r = c.resource;
        let id = c.id.clone();
        let region = self.region.clone();
        let ec2 = &self.ec2;
        macro_rules! sdk {
            ($op:literal) => {
                |e| StepError::sdk(r, $op, &region, e)
            };
        }
        const DEP: &[&str] = &[
            "DependencyViolation",
            "InvalidDBSubnetGroupStateFault",
            "DeleteConflict",
            "InvalidParameterValue",
            "ResourceInUseException",
        ];
        match r {
            Ec2Instance => {
                ec2.terminate_instances()
                    .instance_ids(&id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(sdk!("ec2:TerminateInstances"))
                    .or_else(not_found_ok)?;
                let gone = poll(self.opts.poll_interval, self.opts.delete_wait, || async {
                    match ec2.describe_instances().instance_ids(&id).send().await {
                        Ok(out) => Ok(out
                            .reservations()
                            .iter()
                            .flat_map(|r| r.instances())
                            .all(|i| {
                                i.state().and_then(|s| s.name())
                                    == Some(&aws_sdk_ec2::types::InstanceStateName::Terminated)
                            })
                            .then_some(())),
                        Err(e) if sdk_code(&e).is_some_and(is_not_found_code) => Ok(Some(())),
                        Err(e) => Err(StepError::sdk(r, "ec2:DescribeInstances", &region, e)),
                    }
                })
                .await?;
                gone.ok_or_else(|| {
                    self.err(
                        r,
                        CODE_TIMEOUT,
                        format!("instance '{id}' still terminating"),
                    )
                })
            }
            RdsInstance => {
                self.rds
                    .delete_db_instance()
                    .db_instance_identifier(&id)
                    .skip_final_snapshot(true)
                    .delete_automated_backups(true)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(sdk!("rds:DeleteDBInstance"))
                    .or_else(not_found_ok)
                    .or_else(|e| {
                        if e.code == "InvalidDBInstanceState" {
                            Ok(())
                        } else {
                            Err(e)
                        }
                    })?;
                let gone = poll(self.opts.poll_interval, self.opts.delete_wait, || async {
                    match self
                        .rds
                        .describe_db_instances()
                        .db_instance_identifier(&id)
                        .send()
                        .await
                    {
                        Ok(out) if out.db_instances().is_empty() => Ok(Some(())),
                        Ok(_) => Ok(None),
                        Err(e) if sdk_code(&e).is_some_and(is_not_found_code) => Ok(Some(())),
                        Err(e) => Err(StepError::sdk(r, "rds:DescribeDBInstances", &region, e)),
                    }
                })
                .await?;
                gone.ok_or_else(|| {
                    self.err(r, CODE_TIMEOUT, format!("database '{id}' still deleting"))
                })
            }
            DbSubnetGroup => {
                self.retrying(r, DEP, || async {
                    self.rds
                        .delete_db_subnet_group()
                        .db_subnet_group_name(&id)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(sdk!("rds:DeleteDBSubnetGroup"))
                })
                .await
            }
            SecurityGroup => {
                self.retrying(r, DEP, || async {
                    ec2.delete_security_group()
                        .group_id(&id)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(sdk!("ec2:DeleteSecurityGroup"))
                })
                .await
            }
            Subnet | SecondarySubnet => {
                self.retrying(r, DEP, || async {
                    ec2.delete_subnet()
                        .subnet_id(&id)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(sdk!("ec2:DeleteSubnet"))
                })
                .await
            }
            RouteTable => {
                let tables = ec2
                    .describe_route_tables()
                    .route_table_ids(&id)
                    .send()
                    .await
                    .map_err(sdk!("ec2:DescribeRouteTables"));
                let tables = match tables {
                    Ok(t) => t,
                    Err(e) if e.is_not_found() => return Ok(()),
                    Err(e) => return Err(e),
                };
                for assoc in tables
                    .route_tables()
                    .iter()
                    .flat_map(|t| t.associations())
                    .filter(|a| a.main() != Some(true))
                    .filter_map(|a| a.route_table_association_id())
                {
                    ec2.disassociate_route_table()
                        .association_id(assoc)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(sdk!("ec2:DisassociateRouteTable"))
                        .or_else(not_found_ok)?;
                }
                self.retrying(r, DEP, || async {
                    ec2.delete_route_table()
                        .route_table_id(&id)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(sdk!("ec2:DeleteRouteTable"))
                })
                .await
            }
            InternetGateway => {
                let out = ec2
                    .describe_internet_gateways()
                    .internet_gateway_ids(&id)
                    .send()
                    .await
                    .map_err(sdk!("ec2:DescribeInternetGateways"));
                let out = match out {
                    Ok(o) => o,
                    Err(e) if e.is_not_found() => return Ok(()),
                    Err(e) => return Err(e),
                };
                for vpc in out
                    .internet_gateways()
                    .iter()
                    .flat_map(|g| g.attachments())
                    .filter_map(|a| a.vpc_id())
                {
                    self.retrying(r, DEP, || async {
                        ec2.detach_internet_gateway()
                            .internet_gateway_id(&id)
                            .vpc_id(vpc)
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(sdk!("ec2:DetachInternetGateway"))
                    })
                    .await?;
                }
                self.retrying(r, DEP, || async {
                    ec2.delete_internet_gateway()
                        .internet_gateway_id(&id)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(sdk!("ec2:DeleteInternetGateway"))
                })
                .await
            }
            Vpc => {
                self.retrying(r, DEP, || async {
                    ec2.delete_vpc()
                        .vpc_id(&id)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(sdk!("ec2:DeleteVpc"))
                })
                .await
            }
            KeyPair => {
                ec2.delete_key_pair()
                    .key_name(&id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(sdk!("ec2:DeleteKeyPair"))
                    .or_else(not_found_ok)?;
                let path = self.opts.key_dir.join(format!("{}.pem", self.slug));
                match std::fs::remove_file(&path) {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(self.err(
                        r,
                        "KeyFileRemove",
                        format!("remove '{}': {e}", path.display()),
                    )),
                }
            }
            InstanceProfile => {
                let role = self.cfg.role_name().into_owned();
                match self
                    .iam
                    .remove_role_from_instance_profile()
                    .instance_profile_name(&id)
                    .role_name(&role)
                    .send()
                    .await
                {
                    Ok(_) => {}
                    Err(e) if sdk_code(&e) == Some("NoSuchEntity") => {}
                    Err(e) => {
                        return Err(StepError::sdk(
                            r,
                            "iam:RemoveRoleFromInstanceProfile",
                            "global",
                            e,
                        ));
                    }
                }
                self.iam
                    .delete_instance_profile()
                    .instance_profile_name(&id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| StepError::sdk(r, "iam:DeleteInstanceProfile", "global", e))
                    .or_else(not_found_ok)
            }
            IamRole => {
                let profiles = self
                    .iam
                    .list_instance_profiles_for_role()
                    .role_name(&id)
                    .send()
                    .await
                    .map_err(|e| StepError::sdk(r, "iam:ListInstanceProfilesForRole", "global", e));
                match profiles {
                    Ok(p) => {
                        for prof in p.instance_profiles() {
                            let _ = self
                                .iam
                                .remove_role_from_instance_profile()
                                .instance_profile_name(prof.instance_profile_name())
                                .role_name(&id)
                                .send()
                                .await;
                        }
                    }
                    Err(e) if e.is_not_found() => return Ok(()),
                    Err(e) => return Err(e),
                }
                match self
                    .iam
                    .delete_role_policy()
                    .role_name(&id)
                    .policy_name(INLINE_POLICY)
                    .send()
                    .await
                {
                    Ok(_) => {}
                    Err(e) if sdk_code(&e) == Some("NoSuchEntity") => {}
                    Err(e) => return Err(StepError::sdk(r, "iam:DeleteRolePolicy", "global", e)),
                }
                self.iam
                    .delete_role()
                    .role_name(&id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| StepError::sdk(r, "iam:DeleteRole", "global", e))
                    .or_else(not_found_ok)
            }
            S3Bucket => {
                // Created by this run: empty unless something wrote to it meanwhile.
                loop {
                    let out = self
                        .s3
                        .list_objects_v2()
                        .bucket(&id)
                        .send()
                        .await
                        .map_err(sdk!("s3:ListObjectsV2"));
                    let out = match out {
                        Ok(o) => o,
                        Err(e) if e.is_not_found() => return Ok(()),
                        Err(e) => return Err(e),
                    };
                    if out.contents().is_empty() {
                        break;
                    }
                    for o in out.contents() {
                        if let Some(k) = o.key() {
                            self.s3
                                .delete_object()
                                .bucket(&id)
                                .key(k)
                                .send()
                                .await
                                .map_err(sdk!("s3:DeleteObject"))?;
                        }
                    }
                }
                self.s3
                    .delete_bucket()
                    .bucket(&id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(sdk!("s3:DeleteBucket"))
                    .or_else(not_found_ok)
            }
            Certificate => self
                .acm
                .delete_certificate()
                .certificate_arn(&id)
                .send()
                .await
                .map(|_| ())
                .map_err(sdk!("acm:DeleteCertificate"))
                .or_else(not_found_ok),
        }
    }
}

fn not_found_ok(e: StepError) -> Result<(), StepError> {
    if e.is_not_found() { Ok(()) } else { Err(e) }
}
