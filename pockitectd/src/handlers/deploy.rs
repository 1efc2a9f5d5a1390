//! `plan` and `deploy`: load and validate the blueprint, then hand it to the deploy engine,
//! turning its progress into `deploy_progress` events and writing every change of ids, addresses
//! and statuses back to `projects/<slug>.json` atomically.

use pockitect_aws::Aws;
use pockitect_aws::deploy::{
    self, Action, DeployEvent, DeployOptions, DeploySink, Outcome as DeployOutcome,
};
use pockitect_blueprint::{Blueprint, Checked, Rejected};
use pockitect_proto::payload::{DeployComplete, PlanReady};
use pockitect_proto::{BlueprintRef, DeployArgs, ErrorCode, Event, Status};
use tokio_util::sync::CancellationToken;

use pockitect_proto::audit::TouchAction;
use pockitect_proto::deploy::StepState;

use crate::Daemon;
use crate::events::{Events, HandlerError, Outcome};
use crate::policy::{self, Act, Ask};

/// The blueprint sent inline (saved into the store so write-back has a home) or named by slug.
fn load(
    daemon: &Daemon,
    target: &BlueprintRef,
    save_inline: bool,
) -> Result<Blueprint, HandlerError> {
    match (&target.blueprint, &target.project) {
        (Some(doc), _) => {
            let mut bp = pockitect_blueprint::from_value(doc.clone()).map_err(|e| {
                HandlerError::new(
                    ErrorCode::InvalidBlueprint,
                    format!("read the blueprint: {e}"),
                )
            })?;
            // Ids the sent file lacks but the store records (a run that crashed after a create,
            // before the user's copy was updated) are kept: tags alone cannot find a resource
            // the crashed run created but had not tagged yet.
            if let Ok(recorded) = daemon.projects.load(&bp.slug()) {
                bp.keep_recorded_from(&recorded);
            }
            if save_inline {
                // The store is where ids are written back.
                daemon.save_project(&bp).map_err(|e| {
                    HandlerError::new(
                        ErrorCode::Internal,
                        format!("save the blueprint into the project store: {e}"),
                    )
                })?;
            }
            Ok(bp)
        }
        (None, Some(slug)) => daemon.projects.load(slug).map_err(|e| {
            HandlerError::new(
                ErrorCode::NotFound,
                format!("load project '{slug}': {e}; 'pockitect projects' lists the known ones"),
            )
        }),
        (None, None) => Err(HandlerError::new(
            ErrorCode::InvalidArguments,
            "data: give 'project' (a slug) or 'blueprint' (the document)",
        )),
    }
}

/// The request's one validation: every rule offline (a blueprint with errors costs no AWS call,
/// not even for the catalog), then `before_aws` (the budget of a deploy), then the rules that
/// depend on what the blueprint's region offers.
/// Returns the checked blueprint and the AWS handle acting in its account
/// (`project.account`): a project in an account this daemon cannot act in is refused before
/// any other AWS call.
async fn check(
    daemon: &Daemon,
    bp: Blueprint,
    before_aws: impl FnOnce(&Checked) -> Result<(), HandlerError>,
) -> Result<(Checked, Aws), HandlerError> {
    let invalid = |r: Rejected| HandlerError::new(ErrorCode::InvalidBlueprint, r.to_string());
    let checked = pockitect_blueprint::check(bp).map_err(invalid)?;
    before_aws(&checked)?;
    let aws = daemon
        .accounts
        .for_project(checked.blueprint().project.account.as_deref())
        .await?;
    let offer = crate::catalog::context_for(daemon, checked.blueprint().region()).await;
    Ok((checked.against(&offer).map_err(invalid)?, aws))
}

/// What the project would cost a month, at the daemon's prices: live ones the Price List API
/// answered (asked now for what is missing when `ask_aws`), else the bundled table's; the
/// estimate says which line is which.
async fn estimate(daemon: &Daemon, bp: &Blueprint, ask_aws: bool) -> pockitect_cost::Estimate {
    let prices = if ask_aws {
        daemon.prices.for_blueprint(&daemon.aws, bp).await
    } else {
        daemon.prices.cached()
    };
    pockitect_cost::estimate(bp, &prices)
}

fn warnings(checked: &Checked) -> Vec<String> {
    checked.warnings().iter().map(ToString::to_string).collect()
}

/// The engine's refusals, with the code a client maps to its exit status.
fn engine_error(e: deploy::DeployError) -> HandlerError {
    let code = match &e {
        deploy::DeployError::Conflict { .. } => ErrorCode::Conflict,
        deploy::DeployError::OwnershipUnknown { .. } => ErrorCode::Aws,
    };
    HandlerError::new(code, e.to_string())
}

pub async fn plan(target: BlueprintRef, daemon: &Daemon) -> Result<Outcome, HandlerError> {
    let (checked, aws) = check(daemon, load(daemon, &target, false)?, |_| Ok(())).await?;
    let plan = deploy::plan(&aws, &checked).await.map_err(engine_error)?;
    let plan_digest = Some(plan.digest());
    let bp = checked.blueprint();
    let estimate = estimate(daemon, bp, true).await;
    Ok(Outcome::success(Event::Plan(PlanReady {
        plan,
        warnings: warnings(&checked),
        plan_digest,
        estimate: Some(estimate),
        budget_usd_month: bp.project.budget_usd_month,
    })))
}

struct Sink<'a> {
    events: &'a Events,
    daemon: &'a Daemon,
    /// The project's region (where everything but IAM is).
    region: String,
}

impl DeploySink for Sink<'_> {
    async fn progress(&self, e: &DeployEvent) {
        let action = match (e.state, e.action) {
            (StepState::Done, Some(Action::Create)) => Some(TouchAction::Created),
            (StepState::Done, Some(Action::Update)) => Some(TouchAction::Changed),
            (StepState::RolledBack, _) => Some(TouchAction::Deleted),
            _ => None,
        };
        if let (Some(action), Some(id)) = (action, &e.id) {
            let t = e.resource.audited(id, &self.region, action);
            self.events.touched(vec![t]).await;
        }
        self.events
            .emit(Event::DeployProgress(e.clone()), Status::InProgress)
            .await;
    }

    async fn blueprint_changed(&self, bp: &Blueprint) {
        if let Err(e) = self.daemon.save_project(bp) {
            tracing::warn!(project = %bp.slug(), error = %e, "could not write the blueprint back");
        }
    }
}

pub async fn deploy(
    args: DeployArgs,
    daemon: &Daemon,
    events: &Events,
    cancel: &CancellationToken,
) -> Result<Outcome, HandlerError> {
    // The budget is checked before any AWS call: an over-budget deploy touches nothing. So the
    // estimate uses the prices the daemon has (the plan a client shows first fetched the live
    // ones) and asks the Price List API nothing.
    let mut over = None;
    let prices = daemon.prices.cached();
    let budget = |c: &Checked| {
        let bp = c.blueprint();
        let estimate = pockitect_cost::estimate(bp, &prices);
        match pockitect_cost::check_budget(&estimate, bp.project.budget_usd_month) {
            Ok(()) => Ok(()),
            Err(e) if args.over_budget => {
                over = Some(e);
                Ok(())
            }
            Err(e) => Err(HandlerError::new(ErrorCode::OverBudget, e.to_string())),
        }
    };
    let (checked, aws) = check(daemon, load(daemon, &args.target, true)?, budget).await?;
    if let Some(e) = over {
        events
            .emit(
                Event::Progress(pockitect_proto::payload::Progress {
                    step: 0,
                    total: 0,
                    message: format!("deploying over budget, as --over-budget asks: {e}"),
                }),
                Status::InProgress,
            )
            .await;
    }
    let warnings = warnings(&checked);
    let slug = checked.blueprint().slug().into_owned();
    let region = checked.blueprint().region().to_owned();
    let tags = vec![&checked.blueprint().project.tags];
    // Planning costs AWS reads: only when the policy wants the plan approved.
    let plan = if policy::needs_approval(&daemon.settings.policy, Act::Deploy, &tags) {
        let plan = deploy::plan(&aws, &checked).await.map_err(engine_error)?;
        Some(plan.digest())
    } else {
        None
    };
    let ask = Ask {
        act: Act::Deploy,
        tags,
        dry_run: false,
        plan,
    };
    policy::authorize(daemon, events, ask).await?;
    let mut opts = DeployOptions::new(&daemon.settings.key_dir);
    opts.rollback_on_failure = args.rollback_on_failure;
    opts.cancel = cancel.clone();
    let alert = {
        let p = &checked.blueprint().project;
        p.budget_usd_month.zip(p.budget_alert_email.clone())
    };
    let sink = Sink {
        events,
        daemon,
        region,
    };
    let report = deploy::deploy(&aws, checked, opts, &sink)
        .await
        .map_err(engine_error)?;
    let mut warnings = warnings;
    let budget_note = match alert {
        Some((limit, email)) if report.outcome != DeployOutcome::RolledBack => {
            budget_alert(&aws, events, &slug, limit, &email, &mut warnings).await
        }
        _ => None,
    };
    let status = match report.outcome {
        DeployOutcome::Success => Status::Success,
        DeployOutcome::Partial => Status::Partial,
        DeployOutcome::RolledBack => Status::Error,
        DeployOutcome::Cancelled => Status::Cancelled,
    };
    let errors: Vec<String> = report.errors().map(ToString::to_string).collect();
    let message = if errors.is_empty() {
        format!("deployed '{slug}'{}", budget_note.unwrap_or_default())
    } else {
        format!(
            "deploy of '{slug}' finished with {} error(s): {}",
            errors.len(),
            errors.join("; ")
        )
    };
    let code = (status == Status::Error).then_some(ErrorCode::Aws);
    Ok(Outcome::new(
        Event::DeployComplete(DeployComplete {
            message,
            code,
            warnings,
            report,
        }),
        status,
    ))
}

/// Keeps the project's AWS Budget in line with its blueprint (`project.budget_alert_email`).
/// A failure is a warning, not a failed deploy: the resources are in place. Returns what the
/// deploy's message adds.
async fn budget_alert(
    aws: &Aws,
    events: &Events,
    slug: &str,
    limit: f64,
    email: &str,
    warnings: &mut Vec<String>,
) -> Option<String> {
    use pockitect_aws::budget::{self, Ensured};
    match budget::ensure(aws, slug, limit, email).await {
        Ok(done) => {
            let action = match done {
                Ensured::Created => TouchAction::Created,
                Ensured::Updated => TouchAction::Changed,
            };
            events
                .touched(vec![pockitect_proto::audit::Touched {
                    kind: "aws_budget".into(),
                    id: budget::name(slug),
                    region: "global".into(),
                    account: None,
                    action,
                }])
                .await;
            Some(format!(
                "; AWS Budget {} emails {email} at 80 % and 100 % of ${limit:.2} a month",
                budget::name(slug)
            ))
        }
        Err(e) => {
            warnings.push(format!(
                "project.budget_alert_email: the AWS Budget could not be set ({e}); the deploy itself is done, deploy again to retry"
            ));
            None
        }
    }
}
