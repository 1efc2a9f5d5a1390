//! The run: shared state of one deploy (or plan), the graph scheduler, section statuses and
//! outputs.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Instant;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use pockitect_blueprint::{Blueprint, Checked, DnsRecord, SectionStatus};
use tracing::{info, warn};

use super::graph::Node;
use super::graph::Section;
use super::image::ResolvedImage;
use super::util::EngineError;
use super::{
    Action, Created, DeployError, DeployEvent, DeployOptions, DeployReport, DeploySink, NoopSink,
    Outcome, Outputs, Plan, PlannedResource, Resource, ResourceResult, StepError, StepState,
};
use crate::Aws;

/// What a lookup found.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub id: String,
    /// `NoChange` (recorded and there), `Adopt` (found by tags or name, or chosen), `Update`
    /// (found, but the deploy will change something).
    pub action: Action,
    pub detail: Option<String>,
    /// A second identifier the blueprint records (key pair id, role or profile ARN).
    pub extra: Option<String>,
}

impl Found {
    pub(crate) fn new(id: impl Into<String>, action: Action, detail: impl Into<String>) -> Self {
        Found {
            id: id.into(),
            action,
            detail: Some(detail.into()),
            extra: None,
        }
    }

    pub(crate) fn with_extra(mut self, extra: Option<&str>) -> Self {
        self.extra = extra.map(str::to_owned);
        self
    }

    /// `NoChange` when `id` is what the blueprint recorded, else `Adopt`.
    pub(crate) fn recorded_or_adopted(
        id: impl Into<String>,
        recorded: Option<&str>,
        adopted_detail: impl Into<String>,
    ) -> Self {
        let id = id.into();
        if recorded == Some(id.as_str()) {
            Found::new(id, Action::NoChange, "recorded and present")
        } else {
            Found::new(id, Action::Adopt, adopted_detail)
        }
    }
}

/// Facts learnt during the run that outputs and dependents need.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    /// Availability zones of the region, sorted.
    pub azs: Option<Vec<String>>,
    /// Zone of the primary subnet.
    pub subnet_az: Option<String>,
    pub image: Option<ResolvedImage>,
    pub instance_running: bool,
    pub instance_stopped: bool,
    pub db_available: bool,
    pub cert_issued: bool,
    pub cert_records: Vec<DnsRecord>,
}

/// One deploy or plan.
pub(crate) struct Run<'a, S> {
    pub aws: &'a Aws,
    pub region: String,
    pub slug: String,
    pub ec2: aws_sdk_ec2::Client,
    pub rds: aws_sdk_rds::Client,
    pub s3: aws_sdk_s3::Client,
    pub iam: aws_sdk_iam::Client,
    pub acm: aws_sdk_acm::Client,
    pub opts: &'a DeployOptions,
    pub sink: S,
    /// The blueprint as given: user choices and the ids recorded before this run.
    pub cfg: Blueprint,
    /// The blueprint as it is now (ids and statuses written back as they appear).
    bp: tokio::sync::Mutex<Blueprint>,
    ids: Mutex<HashMap<Resource, String>>,
    created: Mutex<Vec<Created>>,
    pub facts: Mutex<Facts>,
    /// Plan: no writes at all.
    pub dry_run: bool,
}

/// Locks a std mutex; a poisoned one (a panic elsewhere) still holds usable data.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<'a, S: DeploySink> Run<'a, S> {
    fn new(aws: &'a Aws, bp: &Blueprint, opts: &'a DeployOptions, sink: S, dry: bool) -> Self {
        let region = bp.region().to_owned();
        Run {
            aws,
            slug: bp.slug().into_owned(),
            ec2: aws.ec2(&region),
            rds: aws.rds(&region),
            s3: aws.s3(&region),
            iam: aws.iam(),
            acm: aws.acm(&region),
            region,
            opts,
            sink,
            cfg: bp.clone(),
            bp: tokio::sync::Mutex::new(bp.clone()),
            ids: Mutex::new(HashMap::new()),
            created: Mutex::new(Vec::new()),
            facts: Mutex::new(Facts::default()),
            dry_run: dry,
        }
    }

    /// The id a finished resource resolved to.
    pub(crate) fn id(&self, r: Resource) -> Option<String> {
        lock(&self.ids).get(&r).cloned()
    }

    /// The id of a dependency that must be in place (an engine error otherwise).
    pub(crate) fn need(&self, r: Resource, dep: Resource) -> Result<String, StepError> {
        self.id(dep).ok_or_else(|| {
            StepError::new(
                r,
                &self.region,
                super::util::CODE_NOT_FOUND,
                format!("{dep} is not in place"),
            )
        })
    }

    fn set_id(&self, r: Resource, id: &str) {
        lock(&self.ids).insert(r, id.to_owned());
    }

    /// Notes that this run created `id` (a rollback deletes it). Call right after the create.
    pub(crate) fn created(&self, resource: Resource, id: &str) {
        info!(project = %self.slug, resource = %resource, id, "created");
        lock(&self.created).push(Created {
            resource,
            id: id.to_owned(),
        });
    }

    pub(crate) fn created_list(&self) -> Vec<Created> {
        lock(&self.created).clone()
    }

    pub(crate) fn err(&self, r: Resource, code: &str, msg: impl Into<String>) -> StepError {
        StepError::new(r, &self.region, code, msg)
    }

    /// Changes the blueprint and reports it when something changed.
    pub(crate) async fn update_bp(&self, f: impl FnOnce(&mut Blueprint)) {
        if self.dry_run {
            return;
        }
        let mut bp = self.bp.lock().await;
        let before = bp.clone();
        f(&mut bp);
        if *bp != before {
            self.sink.blueprint_changed(&bp).await;
        }
    }

    pub(crate) async fn blueprint(&self) -> Blueprint {
        self.bp.lock().await.clone()
    }

    /// Lookup without writes.
    async fn find(&self, r: Resource) -> Result<Option<Found>, StepError> {
        use Resource::*;
        match r {
            Vpc => self.find_vpc().await,
            InternetGateway => self.find_igw().await,
            RouteTable => self.find_route_table().await,
            Subnet => self.find_subnet(false).await,
            SecondarySubnet => self.find_subnet(true).await,
            SecurityGroup => self.find_security_group().await,
            KeyPair => self.find_key_pair().await,
            IamRole => self.find_role().await,
            InstanceProfile => self.find_instance_profile().await,
            DbSubnetGroup => self.find_db_subnet_group().await,
            RdsInstance => self.find_db().await,
            S3Bucket => self.find_bucket().await,
            Ec2Instance => self.find_instance().await,
            Certificate => self.find_certificate().await,
        }
    }

    /// Brings a found resource in line (attach, routes, rules, policy, tags). Returns the
    /// action actually taken.
    async fn converge(&self, r: Resource, found: &Found) -> Result<Action, StepError> {
        use Resource::*;
        match r {
            InternetGateway => self.converge_igw(found).await?,
            RouteTable => self.converge_route_table(found).await?,
            Subnet | SecondarySubnet => self.converge_subnet(r, found).await?,
            SecurityGroup => self.converge_security_group(found).await?,
            IamRole => self.converge_role(found).await?,
            InstanceProfile => self.converge_instance_profile(found).await?,
            DbSubnetGroup => self.converge_db_subnet_group(found).await?,
            RdsInstance => self.converge_db(found).await?,
            S3Bucket => self.converge_bucket(found).await?,
            Ec2Instance => self.converge_instance(found).await?,
            Certificate => self.converge_certificate(found).await?,
            KeyPair => self.converge_key_pair(found).await?,
            Vpc => {}
        }
        Ok(found.action)
    }

    async fn create(&self, r: Resource) -> Result<String, StepError> {
        use Resource::*;
        match r {
            Vpc => self.create_vpc().await,
            InternetGateway => self.create_igw().await,
            RouteTable => self.create_route_table().await,
            Subnet => self.create_subnet(false).await,
            SecondarySubnet => self.create_subnet(true).await,
            SecurityGroup => self.create_security_group().await,
            KeyPair => self.create_key_pair().await,
            IamRole => self.create_role().await,
            InstanceProfile => self.create_instance_profile().await,
            DbSubnetGroup => self.create_db_subnet_group().await,
            RdsInstance => self.create_db().await,
            S3Bucket => self.create_bucket().await,
            Ec2Instance => self.create_instance().await,
            Certificate => self.create_certificate().await,
        }
    }

    /// Writes a resource's id into the blueprint.
    pub(crate) async fn record(&self, r: Resource, id: &str) {
        let id = id.to_owned();
        let region = self.region.clone();
        self.update_bp(move |bp| super::rollback::set_recorded(bp, r, Some(&id), &region))
            .await;
    }

    /// Adopts or creates one resource.
    async fn ensure(&self, r: Resource) -> Result<(Action, String), StepError> {
        match self.find(r).await? {
            Some(found) => {
                self.set_id(r, &found.id);
                self.record(r, &found.id).await;
                let action = self.converge(r, &found).await?;
                Ok((action, found.id))
            }
            None => {
                let id = self.create(r).await?;
                self.set_id(r, &id);
                self.record(r, &id).await;
                Ok((Action::Create, id))
            }
        }
    }

    async fn node(&self, r: Resource) -> (Resource, Result<(Action, String), StepError>) {
        (r, self.ensure(r).await)
    }

    async fn emit(&self, event: DeployEvent) {
        if !self.dry_run {
            self.sink.progress(&event).await;
        }
    }

    /// Sets a section's status.
    async fn set_section(&self, section: Section, status: SectionStatus) {
        self.update_bp(|bp| {
            let slot = match section {
                Section::Network => Some(&mut bp.network.status),
                Section::Compute => Some(&mut bp.compute.status),
                Section::Db => bp.data.db.as_mut().map(|d| &mut d.status),
                Section::Bucket => bp.data.s3_bucket.as_mut().map(|b| &mut b.status),
                Section::KeyPair => Some(&mut bp.security.key_pair.status),
                Section::Iam => Some(&mut bp.security.iam_role.status),
                Section::Certificate => Some(&mut bp.security.certificate.status),
            };
            if let Some(s) = slot {
                *s = status;
            }
        })
        .await;
    }

    /// The status of a section whose resources are all in place.
    fn finished_status(&self, section: Section) -> SectionStatus {
        let f = lock(&self.facts);
        match section {
            Section::Compute if f.instance_running => SectionStatus::Running,
            Section::Compute if f.instance_stopped => SectionStatus::Stopped,
            Section::Compute => SectionStatus::Creating,
            Section::Db if !f.db_available => SectionStatus::Creating,
            Section::Certificate if !f.cert_issued => SectionStatus::Creating,
            _ => SectionStatus::Created,
        }
    }

    /// Runs the graph; every enabled resource ends done, failed or skipped.
    async fn run_graph(&self) -> BTreeMap<Resource, ResourceResult> {
        let enabled: HashMap<Resource, bool> = Resource::ALL
            .iter()
            .map(|r| (*r, r.enabled(&self.cfg)))
            .collect();
        let total = enabled.values().filter(|e| **e).count();
        let mut results: BTreeMap<Resource, ResourceResult> = BTreeMap::new();
        let mut started: HashMap<Resource, bool> = HashMap::new();
        for r in Resource::ALL {
            if !enabled[&r] {
                results.insert(
                    r,
                    ResourceResult {
                        resource: r,
                        action: Action::Skip,
                        state: StepState::Skipped,
                        id: None,
                        message: Some(r.skip_reason(&self.cfg).to_owned()),
                        error: None,
                    },
                );
            }
        }
        let limit = self.opts.concurrency.max(1);
        let mut running = FuturesUnordered::new();
        let mut finished = 0usize;
        loop {
            let cancelled = self.opts.cancel.is_cancelled();
            for r in Resource::ALL {
                if results.contains_key(&r) || started.contains_key(&r) {
                    continue;
                }
                let deps: Vec<Resource> = r
                    .depends_on()
                    .iter()
                    .copied()
                    .filter(|d| enabled[d])
                    .collect();
                let blocked = deps.iter().find(|d| {
                    results
                        .get(d)
                        .is_some_and(|res| res.state != StepState::Done)
                });
                let skip_msg = if cancelled {
                    Some("cancelled before it started".to_owned())
                } else {
                    blocked.map(|d| format!("skipped: {d} did not finish"))
                };
                if let Some(msg) = skip_msg {
                    finished += 1;
                    self.emit(DeployEvent {
                        step: finished,
                        total,
                        resource: r,
                        action: Some(Action::Skip),
                        state: StepState::Skipped,
                        id: None,
                        message: msg.clone(),
                    })
                    .await;
                    results.insert(
                        r,
                        ResourceResult {
                            resource: r,
                            action: Action::Skip,
                            state: StepState::Skipped,
                            id: None,
                            message: Some(msg),
                            error: None,
                        },
                    );
                    continue;
                }
                let ready = deps.iter().all(|d| {
                    results
                        .get(d)
                        .is_some_and(|res| res.state == StepState::Done)
                });
                if ready && running.len() < limit {
                    started.insert(r, true);
                    let section = r.section();
                    if section_status(&self.blueprint().await, section)
                        .is_none_or(|s| !s.is_deployed())
                    {
                        self.set_section(section, SectionStatus::Creating).await;
                    }
                    self.emit(DeployEvent {
                        step: finished,
                        total,
                        resource: r,
                        action: None,
                        state: StepState::Started,
                        id: None,
                        message: format!("{r}: working"),
                    })
                    .await;
                    running.push(self.node(r));
                }
            }
            let Some((r, res)) = running.next().await else {
                break;
            };
            finished += 1;
            let result = match res {
                Ok((action, id)) => {
                    let message = match action {
                        Action::Create => format!("{r} {id} created"),
                        Action::Adopt => format!("{r} {id} adopted"),
                        Action::Update => format!("{r} {id} updated"),
                        Action::NoChange => format!("{r} {id} unchanged"),
                        Action::Skip => format!("{r} skipped"),
                    };
                    info!(project = %self.slug, resource = %r, %action, id, "deploy step done");
                    ResourceResult {
                        resource: r,
                        action,
                        state: StepState::Done,
                        id: Some(id),
                        message: Some(message),
                        error: None,
                    }
                }
                Err(e) => {
                    warn!(project = %self.slug, resource = %r, code = %e.code, error = %e, "deploy step failed");
                    ResourceResult {
                        resource: r,
                        action: Action::Create,
                        state: StepState::Failed,
                        id: self.id(r),
                        message: Some(e.to_string()),
                        error: Some(e),
                    }
                }
            };
            self.emit(DeployEvent {
                step: finished,
                total,
                resource: r,
                action: Some(result.action),
                state: result.state,
                id: result.id.clone(),
                message: result.message.clone().unwrap_or_default(),
            })
            .await;
            let failed = result.state == StepState::Failed;
            results.insert(r, result);
            let section = r.section();
            if failed {
                self.set_section(section, SectionStatus::Failed).await;
            } else {
                let all_done = section.resources().filter(|x| enabled[x]).all(|x| {
                    results
                        .get(&x)
                        .is_some_and(|res| res.state == StepState::Done)
                });
                if all_done {
                    self.set_section(section, self.finished_status(section))
                        .await;
                }
            }
        }
        results
    }

    /// What the user needs at the end, from the current blueprint and facts.
    async fn outputs(&self) -> Outputs {
        let bp = self.blueprint().await;
        let facts = lock(&self.facts);
        let user = facts.image.as_ref().and_then(|i| i.ssh_user.as_deref());
        bp.outputs(user, facts.cert_records.clone())
    }
}

fn section_status(bp: &Blueprint, section: Section) -> Option<&SectionStatus> {
    match section {
        Section::Network => Some(&bp.network.status),
        Section::Compute => Some(&bp.compute.status),
        Section::Db => bp.data.db.as_ref().map(|d| &d.status),
        Section::Bucket => bp.data.s3_bucket.as_ref().map(|b| &b.status),
        Section::KeyPair => Some(&bp.security.key_pair.status),
        Section::Iam => Some(&bp.security.iam_role.status),
        Section::Certificate => Some(&bp.security.certificate.status),
    }
}

/// What a deploy of `checked` would do, with read-only AWS calls.
pub async fn plan(aws: &Aws, checked: &Checked) -> Result<Plan, DeployError> {
    let blueprint = checked.blueprint();
    check_ownership(aws, blueprint).await?;
    let opts = DeployOptions::default();
    let run = Run::new(aws, blueprint, &opts, NoopSink, true);
    let mut planned: Vec<PlannedResource> = Vec::new();
    for r in Resource::ALL {
        let mut p = PlannedResource {
            resource: r,
            action: Action::Create,
            id: None,
            detail: None,
            error: None,
        };
        if !r.enabled(blueprint) {
            p.action = Action::Skip;
            p.detail = Some(r.skip_reason(blueprint).to_owned());
            planned.push(p);
            continue;
        }
        let new_dep = r.depends_on().iter().find(|d| {
            planned
                .iter()
                .any(|x| x.resource == **d && (x.action == Action::Create || x.error.is_some()))
        });
        let lookup = match new_dep {
            Some(d) => {
                p.detail = Some(format!("{d} is new"));
                Ok(None)
            }
            None => run.find(r).await,
        };
        match lookup {
            Ok(Some(found)) => {
                run.set_id(r, &found.id);
                p.action = found.action;
                p.id = Some(found.id);
                p.detail = found.detail;
            }
            Ok(None) if new_dep.is_some() => {}
            Ok(None) => {
                p.detail = recorded_id(blueprint, r)
                    .map(|id| format!("recorded {id} no longer exists"))
                    .or_else(|| Some("not found".to_owned()));
            }
            Err(e) => p.error = Some(e.to_string()),
        }
        if r == Resource::Ec2Instance && p.action == Action::Create && p.error.is_none() {
            match run.image().await {
                Ok(img) => p.detail = Some(format!("image {} ({})", img.image_id, img.name)),
                Err(e) => p.error = Some(e.to_string()),
            }
        }
        planned.push(p);
    }
    Ok(Plan {
        project: run.slug.clone(),
        region: run.region.clone(),
        resources: planned,
        validation: checked.report().clone(),
    })
}

fn recorded_id(bp: &Blueprint, r: Resource) -> Option<String> {
    super::rollback::recorded(bp, r)
}

/// The ownership gate before anything else: a recorded id that is another project's (a copied
/// blueprint), protected, or not Pockitect's stops the deploy before any change.
async fn check_ownership(aws: &Aws, blueprint: &Blueprint) -> Result<(), DeployError> {
    let project = blueprint.slug().into_owned();
    let conflicts = crate::ownership::recorded_conflicts(aws, blueprint)
        .await
        .map_err(|source| DeployError::OwnershipUnknown {
            project: project.clone(),
            source,
        })?;
    if conflicts.is_empty() {
        return Ok(());
    }
    warn!(project = %project, conflicts = conflicts.len(), "recorded resources are not the project's; nothing changed");
    Err(DeployError::Conflict {
        project,
        conflicts: conflicts.iter().map(ToString::to_string).collect(),
    })
}

/// Deploys a validated blueprint: see the module documentation. Returns `Err` only when nothing
/// could be attempted (a conflict of ownership); resource failures
/// are in the report with `outcome` `partial` or `rolled_back`.
pub async fn deploy(
    aws: &Aws,
    checked: Checked,
    options: DeployOptions,
    sink: impl DeploySink,
) -> Result<DeployReport, DeployError> {
    let started = Instant::now();
    let warnings: Vec<String> = checked.warnings().iter().map(ToString::to_string).collect();
    let blueprint = checked.into_blueprint();
    check_ownership(aws, &blueprint).await?;
    let run = Run::new(aws, &blueprint, &options, sink, false);
    info!(project = %run.slug, region = %run.region, "deploy started");

    let results = run.run_graph().await;
    let failed = results.values().any(|r| r.state == StepState::Failed);
    let cancelled = options.cancel.is_cancelled()
        && results
            .values()
            .any(|r| r.message.as_deref() == Some("cancelled before it started"));
    let created = run.created_list();
    let (mut rolled_back, mut rollback_errors) = (Vec::new(), Vec::new());
    if failed && options.rollback_on_failure && !created.is_empty() {
        (rolled_back, rollback_errors) = run.rollback(&created).await;
    }
    let mut resources: Vec<ResourceResult> = results.into_values().collect();
    resources.sort_by_key(|r| Resource::ALL.iter().position(|x| *x == r.resource));
    for r in &mut resources {
        if rolled_back.iter().any(|c| c.resource == r.resource) && r.state == StepState::Done {
            r.state = StepState::RolledBack;
        }
    }
    let outcome = if cancelled {
        Outcome::Cancelled
    } else if failed && options.rollback_on_failure {
        Outcome::RolledBack
    } else if failed {
        Outcome::Partial
    } else {
        Outcome::Success
    };
    let outputs = run.outputs().await;
    let report = DeployReport {
        project: run.slug.clone(),
        region: run.region.clone(),
        outcome,
        resources,
        outputs,
        created,
        rolled_back,
        rollback_errors,
        warnings,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    info!(project = %run.slug, outcome = ?report.outcome, ms = report.duration_ms, "deploy finished");
    Ok(report)
}
