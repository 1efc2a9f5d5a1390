//! `power`, `terminate` and `destroy`: the project's recorded ids (plus, for destroy, what its
//! tags find) handed to the AWS engine, progress turned into events, statuses written back.

use pockitect_aws::power::{self, PowerOutcome, PowerResult, PowerSink};
use pockitect_aws::terminate::{self, TerminateAction, TerminateOptions, TerminateSink};
use pockitect_blueprint::Blueprint;
use pockitect_proto::{
    DestroyArgs, ErrorCode, PowerArgs, ResourceRecord, ResourceType, Status, TerminateArgs,
    TerminateTarget,
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::Daemon;
use crate::events::{Events, HandlerError, Outcome};

fn load(daemon: &Daemon, slug: &str) -> Result<Blueprint, HandlerError> {
    daemon.projects.load(slug).map_err(|e| {
        HandlerError::new(
            ErrorCode::NotFound,
            format!("load project '{slug}': {e}; 'pockitect projects' lists the known ones"),
        )
    })
}

/// The resources a blueprint records, as terminate targets.
pub(super) fn recorded_targets(bp: &Blueprint) -> Vec<TerminateTarget> {
    let doc = serde_json::to_value(bp).unwrap_or_default();
    let region = bp.region().to_owned();
    let s = |path: &[&str]| -> Option<String> {
        let mut v = &doc;
        for p in path {
            v = v.get(p)?;
        }
        v.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
    };
    let mut out = Vec::new();
    let mut add = |kind: ResourceType, id: Option<String>, region: &str| {
        if let Some(id) = id {
            out.push(TerminateTarget {
                id,
                kind,
                region: region.to_owned(),
            });
        }
    };
    add(
        ResourceType::Ec2Instance,
        s(&["compute", "instance_id"]),
        &region,
    );
    add(
        ResourceType::RdsInstance,
        s(&["data", "db", "identifier"]),
        &region,
    );
    add(
        ResourceType::DbSubnetGroup,
        s(&["data", "db", "db_subnet_group_name"]).or(s(&["network", "db_subnet_group_name"])),
        &region,
    );
    add(ResourceType::Vpc, s(&["network", "vpc_id"]), &region);
    add(ResourceType::Subnet, s(&["network", "subnet_id"]), &region);
    add(
        ResourceType::Subnet,
        s(&["network", "secondary_subnet_id"]),
        &region,
    );
    add(
        ResourceType::SecurityGroup,
        s(&["network", "security_group_id"]),
        &region,
    );
    add(
        ResourceType::InternetGateway,
        s(&["network", "internet_gateway_id"]),
        &region,
    );
    add(
        ResourceType::RouteTable,
        s(&["network", "route_table_id"]),
        &region,
    );
    if s(&["data", "s3_bucket", "arn"]).is_some() {
        add(
            ResourceType::S3Bucket,
            s(&["data", "s3_bucket", "name"]),
            &region,
        );
    }
    if s(&["security", "key_pair", "key_pair_id"]).is_some() {
        add(
            ResourceType::KeyPair,
            s(&["security", "key_pair", "name"]),
            &region,
        );
    }
    if s(&["security", "iam_role", "arn"]).is_some() {
        add(
            ResourceType::IamRole,
            s(&["security", "iam_role", "role_name"]),
            "global",
        );
    }
    out
}

/// Owns its handle (no borrowed lifetimes) so the engine's futures stay `Send` for any lifetime.
struct Reporter {
    events: Events,
}

impl PowerSink for Reporter {
    async fn progress(&self, done: usize, total: usize, r: &PowerResult) {
        self.events
            .emit(
                "power_progress",
                Status::InProgress,
                json!({"step": done, "total": total, "result": r, "message": r.message}),
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
        self.events
            .emit(
                "terminate_progress",
                Status::InProgress,
                json!({"step": step, "total": total, "id": record.id, "type": record.kind, "region": record.region, "action": action, "message": message}),
            )
            .await;
    }

    async fn skipped(&self, record: &ResourceRecord, reason: &str) {
        self.events
            .emit(
                "terminate_skipped",
                Status::InProgress,
                json!({"id": record.id, "type": record.kind, "region": record.region, "reason": reason, "message": format!("{} {} skipped: {reason}", record.kind, record.id)}),
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
    let targets: Vec<TerminateTarget> = recorded_targets(&bp)
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
    let report = power::power(
        &daemon.aws,
        targets,
        args.action,
        Reporter {
            events: events.clone(),
        },
        cancel.clone(),
    )
    .await;
    let failed = report.count(PowerOutcome::Failed);
    let status = if report.count(PowerOutcome::Cancelled) > 0 {
        Status::Cancelled
    } else if failed == 0 {
        Status::Success
    } else if failed < report.results.len() {
        Status::Partial
    } else {
        Status::Error
    };
    let message = format!(
        "{} of {} resources of '{}' are {}",
        report.count(PowerOutcome::Done) + report.count(PowerOutcome::Unchanged),
        report.results.len(),
        args.project,
        match args.action {
            pockitect_proto::PowerAction::Start => "running",
            pockitect_proto::PowerAction::Stop => "stopped",
        }
    );
    let code = (status == Status::Error).then_some(ErrorCode::Aws);
    Ok(Outcome {
        kind: "power_complete",
        status,
        data: json!({"message": message, "code": code, "report": report}),
    })
}

async fn run_terminate(
    daemon: &Daemon,
    events: &Events,
    cancel: &CancellationToken,
    targets: Vec<TerminateTarget>,
    opts: TerminateOptions,
    dry_run: bool,
) -> Result<(Status, Value), HandlerError> {
    let plan = terminate::plan(&daemon.aws, targets, opts).await?;
    if dry_run {
        return Ok((
            Status::Success,
            json!({"dry_run": true, "plan": plan, "message": format!("would delete {} resources", plan.total())}),
        ));
    }
    // The engine's future is `Send` for one lifetime only (a borrowed token inside a buffered
    // stream), which `tokio::spawn` rejects; it runs on a blocking thread of the same runtime
    // instead, built there from owned inputs.
    let (aws, sink, token) = (
        daemon.aws.clone(),
        Reporter {
            events: events.clone(),
        },
        cancel.clone(),
    );
    let rt = tokio::runtime::Handle::current();
    let report = tokio::task::spawn_blocking(move || {
        rt.block_on(terminate::execute(&aws, plan, sink, token))
    })
    .await
    .map_err(|e| {
        HandlerError::new(
            ErrorCode::Internal,
            format!("the terminate engine stopped: {e}"),
        )
    })?;
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
        json!({"message": message, "code": code, "deleted": report.deleted, "skipped": report.skipped, "failed": report.failed, "report": report}),
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
    let (status, data) =
        run_terminate(daemon, events, cancel, args.targets, opts, args.dry_run).await?;
    Ok(Outcome {
        kind: "terminate_complete",
        status,
        data,
    })
}

/// Ids back to null and statuses back to pending, so the blueprint can be deployed again.
fn reset(bp: &Blueprint) -> Option<Blueprint> {
    let mut doc = serde_json::to_value(bp).ok()?;
    const IDS: &[&[&str]] = &[
        &["network", "vpc_id"],
        &["network", "subnet_id"],
        &["network", "secondary_subnet_id"],
        &["network", "security_group_id"],
        &["network", "internet_gateway_id"],
        &["network", "route_table_id"],
        &["network", "db_subnet_group_name"],
        &["compute", "instance_id"],
        &["compute", "public_ip"],
        &["compute", "private_ip"],
        &["compute", "resolved_image_id"],
        &["data", "db", "endpoint"],
        &["data", "db", "identifier"],
        &["data", "db", "arn"],
        &["data", "db", "port"],
        &["data", "db", "db_subnet_group_name"],
        &["data", "s3_bucket", "arn"],
        &["security", "key_pair", "key_pair_id"],
        &["security", "certificate", "cert_arn"],
        &["security", "certificate", "validation_records"],
        &["security", "iam_role", "arn"],
        &["security", "iam_role", "instance_profile_arn"],
    ];
    for path in IDS {
        if let Some(v) = doc.pointer_mut(&format!("/{}", path.join("/"))) {
            *v = Value::Null;
        }
    }
    for section in [
        "network",
        "compute",
        "data/db",
        "data/s3_bucket",
        "security/key_pair",
        "security/certificate",
        "security/iam_role",
    ] {
        if let Some(v) = doc.pointer_mut(&format!("/{section}/status"))
            && v.as_str().is_some_and(|s| s != "skipped")
        {
            *v = json!("pending");
        }
    }
    pockitect_blueprint::from_value(doc).ok()
}

pub async fn destroy(
    args: DestroyArgs,
    daemon: &Daemon,
    events: &Events,
    cancel: &CancellationToken,
) -> Result<Outcome, HandlerError> {
    let bp = load(daemon, &args.project)?;
    let recorded = recorded_targets(&bp);
    let targets = terminate::discover_project(
        &daemon.aws,
        &args.project,
        &[bp.region().to_owned()],
        recorded,
    )
    .await?;
    let opts = TerminateOptions {
        force: args.force,
        project: Some(args.project.clone()),
        final_snapshot: args.final_snapshot,
        ..TerminateOptions::default()
    };
    let (status, mut data) =
        run_terminate(daemon, events, cancel, targets, opts, args.dry_run).await?;
    if !args.dry_run
        && status == Status::Success
        && let Some(fresh) = reset(&bp)
    {
        daemon.save_project(&fresh).map_err(|e| {
            HandlerError::new(ErrorCode::Internal, format!("reset the blueprint: {e}"))
        })?;
        data["message"] = json!(format!(
            "{}; '{}' is back to pending (the blueprint and local key file are kept)",
            data["message"].as_str().unwrap_or(""),
            args.project
        ));
    }
    Ok(Outcome {
        kind: "destroy_complete",
        status,
        data,
    })
}
