//! `power`, `terminate` and `destroy`: the project's recorded ids (plus, for destroy, what its
//! tags find) handed to the AWS engine, progress turned into events, statuses written back.

use pockitect_aws::Aws;
use pockitect_aws::power::{self, PowerOutcome, PowerResult, PowerSink};
use pockitect_aws::terminate::{self, TerminateAction, TerminateOptions, TerminateSink};
use pockitect_blueprint::Blueprint;
use pockitect_proto::Event;
use pockitect_proto::payload::{
    PowerComplete, PowerProgress, TerminateComplete, TerminateProgress, TerminateSkipped,
};
use pockitect_proto::{
    DestroyArgs, ErrorCode, PowerArgs, ResourceRecord, ResourceType, Status, TerminateArgs,
    TerminateTarget,
};
use std::collections::BTreeMap;

use pockitect_proto::PowerAction;
use pockitect_proto::audit::{TouchAction, Touched};
use tokio_util::sync::CancellationToken;

use crate::Daemon;
use crate::events::{Events, HandlerError, Outcome};
use crate::policy::{self, Act, Ask};

/// The AWS handle acting in the project's account (`project.account`).
async fn project_aws(daemon: &Daemon, bp: &Blueprint) -> Result<Aws, HandlerError> {
    daemon
        .accounts
        .for_project(bp.project.account.as_deref())
        .await
}

fn load(daemon: &Daemon, slug: &str) -> Result<Blueprint, HandlerError> {
    daemon.projects.load(slug).map_err(|e| {
        HandlerError::new(
            ErrorCode::NotFound,
            format!("load project '{slug}': {e}; 'pockitect projects' lists the known ones"),
        )
    })
}

/// The resources a blueprint records, as terminate targets, and which of them it only borrows.
pub(super) fn recorded_targets(bp: &Blueprint) -> (Vec<TerminateTarget>, Vec<TerminateTarget>) {
    let (mut all, mut borrowed) = (Vec::new(), Vec::new());
    for r in bp.recorded_ids() {
        let t = TerminateTarget {
            id: r.id,
            kind: r.kind,
            region: r.region,
        };
        if r.borrowed {
            borrowed.push(t.clone());
        }
        all.push(t);
    }
    (all, borrowed)
}

/// Owns its handle (no borrowed lifetimes) so the engine's futures stay `Send` for any lifetime.
struct Reporter {
    events: Events,
    /// What a power request does to each resource it reports done.
    powering: TouchAction,
}

impl Reporter {
    fn new(events: &Events, powering: TouchAction) -> Self {
        Self {
            events: events.clone(),
            powering,
        }
    }
}

impl PowerSink for Reporter {
    async fn progress(&self, done: usize, total: usize, r: &PowerResult) {
        if r.outcome == PowerOutcome::Done {
            let t = &r.target;
            self.events
                .touched(vec![Touched::new(t.kind, &t.id, &t.region, self.powering)])
                .await;
        }
        self.events
            .emit(
                Event::PowerProgress(PowerProgress {
                    step: done,
                    total,
                    result: r.clone(),
                    message: r.message.clone(),
                }),
                Status::InProgress,
            )
            .await;
    }
}

impl TerminateSink for Reporter {
    async fn progress(
        &self,
        step: usize,
        total: usize,
        record: &ResourceRecord,
        action: TerminateAction,
        message: &str,
    ) {
        if action == TerminateAction::Deleted {
            let r = record;
            self.events
                .touched(vec![Touched::new(
                    r.kind,
                    &r.id,
                    &r.region,
                    TouchAction::Deleted,
                )])
                .await;
        }
        self.events
            .emit(
                Event::TerminateProgress(TerminateProgress {
                    step,
                    total,
                    id: record.id.clone(),
                    kind: record.kind,
                    region: record.region.clone(),
                    action,
                    message: message.to_owned(),
                }),
                Status::InProgress,
            )
            .await;
    }

    async fn skipped(&self, record: &ResourceRecord, reason: &str) {
        self.events
            .emit(
                Event::TerminateSkipped(TerminateSkipped {
                    id: record.id.clone(),
                    kind: record.kind,
                    region: record.region.clone(),
                    reason: reason.to_owned(),
                    message: format!("{} {} skipped: {reason}", record.kind, record.id),
                }),
                Status::InProgress,
            )
            .await;
    }
}

pub async fn power(
    args: PowerArgs,
    daemon: &Daemon,
    events: &Events,
    cancel: &CancellationToken,
) -> Result<Outcome, HandlerError> {
    let bp = load(daemon, &args.project)?;
    let aws = project_aws(daemon, &bp).await?;
    let targets: Vec<TerminateTarget> = recorded_targets(&bp)
        .0
        .into_iter()
        .filter(|t| {
            matches!(
                t.kind,
                ResourceType::Ec2Instance | ResourceType::RdsInstance
            )
        })
        .collect();
    if targets.is_empty() {
        return Err(HandlerError::new(
            ErrorCode::NotFound,
            format!(
                "project '{}' has no deployed instance or database to power; deploy it first",
                args.project
            ),
        ));
    }
    let (act, powering, verb) = match args.action {
        PowerAction::Start => (Act::PowerStart, TouchAction::Started, "start"),
        PowerAction::Stop => (Act::PowerStop, TouchAction::Stopped, "stop"),
    };
    let digest = pockitect_proto::power::plan_digest(args.action, &targets);
    let ask = Ask {
        act,
        tags: vec![&bp.project.tags],
        dry_run: args.dry_run,
        plan: Some(digest.clone()),
    };
    policy::authorize(daemon, events, ask).await?;
    if args.dry_run {
        return Ok(Outcome::success(Event::PowerComplete(PowerComplete {
            message: format!(
                "would {verb} {} resources of '{}'",
                targets.len(),
                args.project
            ),
            code: None,
            report: Default::default(),
            dry_run: true,
            plan: Some(targets),
            plan_digest: Some(digest),
        })));
    }
    let report = power::power(
        &aws,
        &args.project,
        targets,
        args.action,
        Reporter::new(events, powering),
        cancel.clone(),
    )
    .await;
    let failed = report.count(PowerOutcome::Failed);
    // Everything skipped: none of it is the project's own (a copied blueprint recording
    // another project's ids, say). That is no success.
    let none_owned = report.count(PowerOutcome::Skipped) == report.results.len();
    let status = if report.count(PowerOutcome::Cancelled) > 0 {
        Status::Cancelled
    } else if none_owned {
        Status::Error
    } else if failed == 0 {
        Status::Success
    } else if failed < report.results.len() {
        Status::Partial
    } else {
        Status::Error
    };
    let message = if none_owned {
        let reasons: Vec<String> = report
            .results
            .iter()
            .map(|r| format!("{} {}: {}", r.target.kind, r.target.id, r.message))
            .collect();
        format!(
            "nothing of '{}' was powered: {}",
            args.project,
            reasons.join("; ")
        )
    } else {
        format!(
            "{} of {} resources of '{}' are {}",
            report.count(PowerOutcome::Done) + report.count(PowerOutcome::Unchanged),
            report.results.len(),
            args.project,
            match args.action {
                PowerAction::Start => "running",
                PowerAction::Stop => "stopped",
            }
        )
    };
    let code = match status {
        Status::Error if none_owned => Some(ErrorCode::Conflict),
        Status::Error => Some(ErrorCode::Aws),
        _ => None,
    };
    Ok(Outcome::new(
        Event::PowerComplete(PowerComplete {
            message,
            code,
            report,
            dry_run: false,
            plan: None,
            plan_digest: None,
        }),
        status,
    ))
}

/// A deletion to plan, authorize and run: terminate's or destroy's.
struct Deletion<'a> {
    /// Acting in the account the resources are in.
    aws: Aws,
    act: Act,
    targets: Vec<TerminateTarget>,
    opts: TerminateOptions,
    dry_run: bool,
    /// The project's own tags (destroy), which policy rules match besides each resource's.
    project_tags: Option<&'a BTreeMap<String, String>>,
}

async fn run_terminate(
    daemon: &Daemon,
    events: &Events,
    cancel: &CancellationToken,
    d: Deletion<'_>,
) -> Result<(Status, TerminateComplete), HandlerError> {
    let plan = terminate::plan(&d.aws, d.targets, d.opts).await?;
    let view = plan.view();
    let digest = view.digest();
    let tags = d
        .project_tags
        .into_iter()
        .chain(
            view.layers
                .iter()
                .flat_map(|l| l.items.iter().map(|i| &i.record.tags)),
        )
        .collect();
    let ask = Ask {
        act: d.act,
        tags,
        dry_run: d.dry_run,
        plan: Some(digest.clone()),
    };
    policy::authorize(daemon, events, ask).await?;
    if d.dry_run {
        return Ok((
            Status::Success,
            TerminateComplete {
                message: format!("would delete {} resources", plan.total()),
                code: None,
                dry_run: true,
                plan: Some(view),
                plan_digest: Some(digest),
                deleted: 0,
                skipped: 0,
                failed: 0,
                report: None,
            },
        ));
    }
    // Runs on the handler's task: cancelling the token (a `cancel`, a lost lease, a shutdown)
    // stops it at its next safe point.
    let sink = Reporter::new(events, TouchAction::Deleted);
    let report = terminate::execute(&d.aws, plan, sink, cancel.clone()).await;
    let status = if report.cancelled > 0 {
        Status::Cancelled
    } else if report.failed == 0 {
        Status::Success
    } else if report.deleted > 0 {
        Status::Partial
    } else {
        Status::Error
    };
    let message = format!(
        "deleted {}, skipped {}, failed {}",
        report.deleted, report.skipped, report.failed
    );
    let code = (status == Status::Error).then_some(ErrorCode::Aws);
    Ok((
        status,
        TerminateComplete {
            message,
            code,
            dry_run: false,
            plan: None,
            plan_digest: None,
            deleted: report.deleted,
            skipped: report.skipped,
            failed: report.failed,
            report: Some(report),
        },
    ))
}

pub async fn terminate(
    args: TerminateArgs,
    daemon: &Daemon,
    events: &Events,
    cancel: &CancellationToken,
) -> Result<Outcome, HandlerError> {
    if args.targets.is_empty() {
        return Err(HandlerError::new(
            ErrorCode::InvalidArguments,
            "data.targets: give at least one resource to delete",
        ));
    }
    let opts = TerminateOptions {
        force: args.force,
        final_snapshot: args.final_snapshot,
        ..TerminateOptions::default()
    };
    let deletion = Deletion {
        // Resources named by id: in the credentials' own account.
        aws: daemon.aws.clone(),
        act: Act::Terminate,
        targets: args.targets,
        opts,
        dry_run: args.dry_run,
        project_tags: None,
    };
    let (status, data) = run_terminate(daemon, events, cancel, deletion).await?;
    Ok(Outcome::new(Event::TerminateComplete(data), status))
}

pub async fn destroy(
    args: DestroyArgs,
    daemon: &Daemon,
    events: &Events,
    cancel: &CancellationToken,
) -> Result<Outcome, HandlerError> {
    let bp = load(daemon, &args.project)?;
    let aws = project_aws(daemon, &bp).await?;
    let (recorded, borrowed) = recorded_targets(&bp);
    let targets = terminate::discover_project(
        &aws,
        &args.project,
        &[bp.region().to_owned()],
        recorded.clone(),
    )
    .await?;
    let opts = TerminateOptions {
        force: args.force,
        project: Some(args.project.clone()),
        borrowed,
        recorded: Some(recorded),
        final_snapshot: args.final_snapshot,
        ..TerminateOptions::default()
    };
    let deletion = Deletion {
        aws: aws.clone(),
        act: Act::Destroy,
        targets,
        opts,
        dry_run: args.dry_run,
        project_tags: Some(&bp.project.tags),
    };
    let (status, mut data) = run_terminate(daemon, events, cancel, deletion).await?;
    if !args.dry_run && status == Status::Success {
        // The project's AWS Budget (deploy made one when the blueprint asked for alerts).
        match pockitect_aws::budget::remove(&aws, &args.project).await {
            Ok(true) => {
                events
                    .touched(vec![Touched {
                        kind: "aws_budget".into(),
                        id: pockitect_aws::budget::name(&args.project),
                        region: "global".into(),
                        account: None,
                        action: TouchAction::Deleted,
                    }])
                    .await;
            }
            Ok(false) => {}
            Err(e) => {
                data.message = format!(
                    "{}; the project's AWS Budget could not be removed ({e}): remove '{}' in the Billing console",
                    data.message,
                    pockitect_aws::budget::name(&args.project)
                );
            }
        }
        let mut fresh = bp.clone();
        fresh.clear_recorded();
        daemon.save_project(&fresh).map_err(|e| {
            HandlerError::new(ErrorCode::Internal, format!("reset the blueprint: {e}"))
        })?;
        data.message = format!(
            "{}; '{}' is back to pending (the blueprint and local key file are kept)",
            data.message, args.project
        );
    }
    Ok(Outcome::new(Event::DestroyComplete(data), status))
}
