//! Where each resource's id lives in the blueprint, and the rollback: what this run created,
//! deleted by the terminate executor in reverse dependency layers, each deletion retried while
//! AWS reports a dependency that is still going away.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pockitect_blueprint::{Blueprint, SectionStatus};
use pockitect_proto::{ResourceRecord, ResourceType, TerminateTarget};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::engine::Run;
use super::graph::Node;
use super::graph::Section;
use super::util::EngineError;
use super::util::partition;
use super::{Created, DeploySink, Resource, StepError};
use crate::lookup::{GLOBAL, Key, describe_targets, key_of};
use crate::terminate::{
    self, Outcome, TerminateAction, TerminateOptions, TerminatePlan, TerminateSink,
};

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
                    d.master_user_secret_arn = None;
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

/// The record type terminate knows a resource by; None for certificates (ACM is not part of
/// the estate terminate deletes, so the rollback deletes them itself).
fn record_type(r: Resource) -> Option<ResourceType> {
    use Resource::*;
    Some(match r {
        Vpc => ResourceType::Vpc,
        InternetGateway => ResourceType::InternetGateway,
        RouteTable => ResourceType::RouteTable,
        Subnet | SecondarySubnet => ResourceType::Subnet,
        SecurityGroup => ResourceType::SecurityGroup,
        KeyPair => ResourceType::KeyPair,
        IamRole => ResourceType::IamRole,
        InstanceProfile => ResourceType::IamInstanceProfile,
        DbSubnetGroup => ResourceType::DbSubnetGroup,
        RdsInstance => ResourceType::RdsInstance,
        S3Bucket => ResourceType::S3Bucket,
        Ec2Instance => ResourceType::Ec2Instance,
        Certificate => return None,
    })
}

/// What the rollback reports while the terminate executor deletes: each resource that is gone
/// is forgotten in the blueprint and reported `rolled_back` at once.
struct RollbackSink<'r, 'a, S> {
    run: &'r Run<'a, S>,
    created: HashMap<Key, Created>,
    total: usize,
    rolled: AtomicUsize,
    done: Mutex<Vec<Created>>,
    errors: Mutex<Vec<StepError>>,
}

impl<S: DeploySink> TerminateSink for RollbackSink<'_, '_, S> {
    async fn progress(
        &self,
        _step: usize,
        _total: usize,
        record: &ResourceRecord,
        action: TerminateAction,
        _message: &str,
    ) {
        let Some(c) = self.created.get(&key_of(record.kind, &record.id)) else {
            return;
        };
        if matches!(
            action,
            TerminateAction::Deleted | TerminateAction::AlreadyGone
        ) {
            self.gone(c).await;
        }
    }

    async fn skipped(&self, _record: &ResourceRecord, _reason: &str) {}
}

impl<S: DeploySink> RollbackSink<'_, '_, S> {
    /// `c` is gone from AWS: forget it (and, for the generated key pair, its local key file).
    async fn gone(&self, c: &Created) {
        let run = self.run;
        if c.resource == Resource::KeyPair
            && let Err(e) = run.remove_key_file()
        {
            warn!(project = %run.slug, resource = %c.resource, id = %c.id, error = %e, "rollback step failed");
            self.errors.lock().await.push(e);
            return;
        }
        info!(project = %run.slug, resource = %c.resource, id = %c.id, "rolled back");
        let region = run.region.clone();
        let r = c.resource;
        run.update_bp(|bp| {
            set_recorded(bp, r, None, &region);
            if let Some(s) = section_status_mut(bp, r.section())
                && *s != SectionStatus::Failed
            {
                *s = SectionStatus::Pending;
            }
        })
        .await;
        let step = self.rolled.fetch_add(1, Ordering::SeqCst) + 1;
        run.emit_rolled_back(c, step, self.total).await;
        self.done.lock().await.push(c.clone());
    }
}

/// The operation named in the errors of deletions the terminate executor made.
const ROLLBACK: &str = "pockitect:rollback";

impl<S: DeploySink> Run<'_, S> {
    /// Deletes what this run created through the terminate executor (one delete path for
    /// destroy, terminate and rollback), in terminate's reverse dependency layers. What this
    /// run created is the project's by definition, so no tag rule is applied: a resource the
    /// run created but could not tag yet is deleted too. Returns what was deleted (newest
    /// first) and what could not be.
    pub(crate) async fn rollback(&self, created: &[Created]) -> (Vec<Created>, Vec<StepError>) {
        let total = created.len();
        let (certificates, deletable): (Vec<&Created>, Vec<&Created>) = created
            .iter()
            .partition(|c| record_type(c.resource).is_none());
        let targets: Vec<TerminateTarget> = deletable
            .iter()
            .filter_map(|c| {
                Some(TerminateTarget {
                    id: c.id.clone(),
                    kind: record_type(c.resource)?,
                    region: self.region.clone(),
                })
            })
            .collect();
        let sink = RollbackSink {
            run: self,
            created: deletable
                .iter()
                .zip(&targets)
                .map(|(c, t)| (key_of(t.kind, &t.id), (*c).clone()))
                .collect(),
            total,
            rolled: AtomicUsize::new(0),
            done: Mutex::new(Vec::new()),
            errors: Mutex::new(Vec::new()),
        };

        // Described through the lookup layer (region, state, relations); one that cannot be
        // read is still deleted by id, one already gone is rolled back as it is.
        let concurrency = self.opts.concurrency.max(1);
        let described = describe_targets(self.aws, &targets, concurrency).await;
        let mut records = Vec::new();
        for t in &targets {
            let key = key_of(t.kind, &t.id);
            if let Some(r) = described.found.get(&key) {
                records.push(r.clone());
            } else if described.missing.contains(&key) {
                if let Some(c) = sink.created.get(&key) {
                    sink.gone(c).await;
                }
            } else {
                let region = if t.kind.is_global() && t.kind != ResourceType::S3Bucket {
                    GLOBAL
                } else {
                    &t.region
                };
                records.push(ResourceRecord::new(
                    t.kind,
                    &t.id,
                    region,
                    Default::default(),
                ));
            }
        }
        let options = TerminateOptions {
            force: false,
            project: Some(self.slug.clone()),
            final_snapshot: false,
            concurrency,
            wait_timeout: self.opts.delete_wait,
            pass_delay: self.opts.poll_interval.max(Duration::from_millis(100)),
            ..TerminateOptions::default()
        };
        let plan = TerminatePlan::owned(records, options);
        // A rollback runs to its end: stopping halfway would leave the run's resources behind
        // unrecorded.
        let report = terminate::execute(self.aws, plan, &sink, CancellationToken::new()).await;
        for r in &report.results {
            if !matches!(r.outcome, Outcome::Failed | Outcome::Cancelled) {
                continue;
            }
            let Some(c) = sink.created.get(&key_of(r.target.kind, &r.target.id)) else {
                continue;
            };
            warn!(project = %self.slug, resource = %c.resource, id = %c.id, error = %r.message, "rollback step failed");
            sink.errors.lock().await.push(StepError {
                resource: c.resource,
                operation: ROLLBACK.to_owned(),
                region: r.target.region.clone(),
                code: r.code.clone().unwrap_or_else(|| "cancelled".to_owned()),
                message: r.message.clone(),
            });
        }

        for c in certificates {
            match self.delete_certificate(&c.id).await {
                Ok(()) => sink.gone(c).await,
                Err(e) => {
                    warn!(project = %self.slug, resource = %c.resource, id = %c.id, error = %e, "rollback step failed");
                    sink.errors.lock().await.push(e);
                }
            }
        }

        let mut done = sink.done.into_inner();
        // Newest first, whatever order the layers deleted in.
        let position = |c: &Created| created.iter().position(|x| x == c);
        done.sort_by_key(|c| std::cmp::Reverse(position(c)));
        (done, sink.errors.into_inner())
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

    /// The private key file of the key pair this run generated (terminate never touches key
    /// files; a rollback removes the one its own run wrote).
    fn remove_key_file(&self) -> Result<(), StepError> {
        let path = self.opts.key_dir.join(format!("{}.pem", self.slug));
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.err(
                Resource::KeyPair,
                "KeyFileRemove",
                format!("remove '{}': {e}", path.display()),
            )),
        }
    }

    async fn delete_certificate(&self, arn: &str) -> Result<(), StepError> {
        match self
            .acm
            .delete_certificate()
            .certificate_arn(arn)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = StepError::sdk(
                    Resource::Certificate,
                    "acm:DeleteCertificate",
                    &self.region,
                    e,
                );
                if e.is_not_found() { Ok(()) } else { Err(e) }
            }
        }
    }
}
