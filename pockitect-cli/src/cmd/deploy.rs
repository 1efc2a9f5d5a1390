//! `plan`, `deploy` and `status`: a blueprint file or a project slug in, the daemon's plan,
//! progress and outputs out.

use std::io::IsTerminal;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use pockitect_blueprint::{Blueprint, ProjectStore, check};
use pockitect_bus::Bus;
use pockitect_proto::cost::Estimate;
use pockitect_proto::deploy::{Outputs, StepState};
use pockitect_proto::payload::PlanReady;
use pockitect_proto::{
    BlueprintRef, Command, DeployArgs as WireDeployArgs, Event, ProjectRef, Status, exit,
};

use super::operate::approval;
use crate::follow::{
    CliError, ensure_daemon, exit_code_of, follow, send_and_follow, send_approved_and_follow,
    unexpected,
};
use crate::{Global, output};

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// A blueprint file, or the slug of a project the daemon knows.
    pub target: String,
}

#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// A blueprint file, or the slug of a project the daemon knows.
    pub target: String,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Print the request id and return at once; follow it later with 'pockitect watch'.
    #[arg(long)]
    pub detach: bool,
    /// Delete what this run created if any resource fails.
    #[arg(long)]
    pub rollback_on_failure: bool,
    /// Run even where a rule of the daemon's policy denies it (recorded in the audit trail).
    #[arg(long)]
    pub override_policy: bool,
    /// Deploy even when the estimate exceeds the blueprint's project.budget_usd_month.
    #[arg(long)]
    pub over_budget: bool,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    pub project: String,
}

/// A file path becomes an inline blueprint (validated here first); anything else is a slug.
fn target_ref(target: &str) -> Result<(BlueprintRef, Option<Blueprint>), CliError> {
    let path = Path::new(target);
    if path.exists() || target.ends_with(".json") {
        let bp = ProjectStore::load_path(path)
            .map_err(|e| CliError::Invalid(format!("{target}: {e}")))?;
        // Offline only: the daemon adds what the region offers when it takes the request.
        let checked = check(bp).map_err(|r| CliError::Invalid(format!("{target}: {r}")))?;
        for w in checked.warnings() {
            eprintln!("warning: {w}");
        }
        let bp = checked.into_blueprint();
        let doc = serde_json::to_value(&bp).map_err(|e| CliError::Io(e.to_string()))?;
        Ok((
            BlueprintRef {
                project: Some(bp.slug().into_owned()),
                blueprint: Some(doc),
            },
            Some(bp),
        ))
    } else {
        Ok((
            BlueprintRef {
                project: Some(target.to_owned()),
                blueprint: None,
            },
            None,
        ))
    }
}

pub async fn plan(g: &Global, a: PlanArgs) -> Result<i32, CliError> {
    let (target, _) = target_ref(&a.target)?;
    let bus = &crate::connect(g).await?;
    let t = send_and_follow(g, bus, &Command::Plan(target), |e| {
        if g.json {
            output::json_line(e);
        }
    })
    .await?;
    if g.json {
        return Ok(exit_code_of(&t));
    }
    if t.status != Some(Status::Success) {
        eprintln!("error: {}", t.message().unwrap_or("plan failed"));
        return Ok(exit_code_of(&t));
    }
    let Ok(Event::Plan(ready)) = t.decode() else {
        return Err(unexpected(&t));
    };
    print_plan(&ready);
    Ok(exit::SUCCESS)
}

/// The plan as a table: each resource, what the deploy does to it, the id found, and why.
fn print_plan(
    PlanReady {
        plan,
        warnings,
        estimate,
        budget_usd_month,
        ..
    }: &PlanReady,
) {
    let rows: Vec<Vec<String>> = plan
        .resources
        .iter()
        .map(|r| {
            vec![
                r.resource.to_string(),
                r.action.to_string(),
                r.id.clone().unwrap_or_default(),
                r.error
                    .clone()
                    .or_else(|| r.detail.clone())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    out!("Plan for '{}' in {}:", plan.project, plan.region);
    output::table(&["resource", "action", "id", "detail"], &rows);
    for w in warnings {
        eprintln!("warning: {w}");
    }
    if let Some(e) = estimate {
        out!("");
        print_estimate(e, *budget_usd_month);
    }
}

/// The monthly estimate: each charged line (free ones summed up), the total, the budget, and
/// where the prices come from.
fn print_estimate(e: &Estimate, budget: Option<f64>) {
    let money = |v: Option<f64>| v.map_or_else(|| "?".to_owned(), |v| format!("${v:.2}"));
    let rows: Vec<Vec<String>> = e
        .lines
        .iter()
        .filter(|l| !l.free)
        .map(|l| {
            vec![
                l.resource.to_string(),
                l.item.clone(),
                format!("{} {}", l.quantity, l.unit),
                money(l.monthly_usd),
                l.marks(),
            ]
        })
        .collect();
    let free: Vec<String> = e
        .lines
        .iter()
        .filter(|l| l.free)
        .map(|l| l.resource.to_string())
        .collect();
    out!(
        "Estimate for '{}' in {} (USD a month):",
        e.project,
        e.region
    );
    output::table(&["resource", "item", "quantity", "month", ""], &rows);
    if !free.is_empty() {
        out!("free: {}", free.join(", "));
    }
    let lower = if e.complete { "" } else { " or more" };
    let over = budget.filter(|b| e.total_usd_month > *b);
    out!(
        "total: ${:.2}{lower}{}",
        e.total_usd_month,
        match (budget, over) {
            (Some(b), Some(_)) =>
                format!(" — OVER the budget of ${b:.2} (project.budget_usd_month)"),
            (Some(b), None) => format!(" (budget ${b:.2})"),
            _ => String::new(),
        }
    );
    eprintln!(
        "prices: {}, as of {}: {}",
        e.origin(),
        e.prices_as_of,
        e.prices_source
    );
    for n in &e.notes {
        eprintln!("note: {n}");
    }
}

pub async fn deploy(g: &Global, a: DeployArgs) -> Result<i32, CliError> {
    let (target, local) = target_ref(&a.target)?;
    // A file over its budget is refused before Redis or AWS is asked (the daemon checks again).
    if let Some(bp) = &local
        && !a.over_budget
    {
        let e = pockitect_cost::estimate(bp, pockitect_cost::PriceTable::bundled());
        if let Err(over) = pockitect_cost::check_budget(&e, bp.project.budget_usd_month) {
            eprintln!("error: {over}");
            return Ok(exit::REFUSED);
        }
    }
    let bus = &crate::connect(g).await?;
    let slug = target.project.clone().unwrap_or_default();
    if !a.yes && !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(format!(
            "deploying '{slug}' creates AWS resources that cost money: pass --yes to confirm when not on a terminal"
        )));
    }
    // Plan first, as the confirmation shows it: the deploy carries that plan's digest, so a
    // daemon whose policy wants deploys approved runs exactly what was shown.
    let planned = send_approved_and_follow(
        g,
        bus,
        &Command::Plan(target.clone()),
        approval(None, a.override_policy),
        |_| {},
    )
    .await?;
    if planned.status != Some(Status::Success) {
        if g.json {
            output::json_line(&planned);
        } else {
            eprintln!("error: {}", planned.message().unwrap_or("plan failed"));
        }
        return Ok(exit_code_of(&planned));
    }
    let Ok(Event::Plan(ready)) = planned.decode() else {
        return Err(unexpected(&planned));
    };
    if !g.json {
        print_plan(&ready);
    }
    if !a.yes {
        let cost = ready
            .estimate
            .as_ref()
            .map(|e| format!(" (about ${:.2} a month)", e.total_usd_month))
            .unwrap_or_default();
        let ok = dialoguer::Confirm::new()
            .with_prompt(format!(
                "Deploy '{slug}'? This creates AWS resources that cost money{cost}"
            ))
            .default(false)
            .interact()
            .map_err(|e| CliError::Io(e.to_string()))?;
        if !ok {
            eprintln!("nothing deployed");
            return Ok(exit::CANCELLED);
        }
    }
    // A new database gets a password RDS generates and keeps in Secrets Manager: nothing to
    // settle here, so the deploy may run on any daemon. One given the old way is not used.
    if local.as_ref().is_some_and(|bp| bp.has_db())
        && std::env::var_os("POCKITECT_DB_PASSWORD").is_some_and(|p| !p.is_empty())
    {
        eprintln!(
            "note: POCKITECT_DB_PASSWORD is not used: RDS generates a new database's password and keeps it in Secrets Manager; read it with 'pockitect db-password {slug}'"
        );
    }
    let cmd = Command::Deploy(WireDeployArgs {
        target,
        rollback_on_failure: a.rollback_on_failure,
        over_budget: a.over_budget,
    });
    ensure_daemon(g, bus).await?;
    let sent = bus
        .send_approved(&cmd, approval(ready.plan_digest, a.override_policy))
        .await?;
    if a.detach {
        if g.json {
            out!("{}", serde_json::json!({"request_id": sent.request_id}));
        } else {
            out!("{}", sent.request_id);
            eprintln!(
                "deploy of '{slug}' queued; follow it with 'pockitect watch {}'",
                sent.request_id
            );
        }
        return Ok(exit::SUCCESS);
    }
    let bar = if g.json {
        ProgressBar::hidden()
    } else {
        let b = ProgressBar::new(0);
        b.set_style(
            ProgressStyle::with_template("{spinner} deploying [{bar:24}] {pos}/{len} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        b.enable_steady_tick(std::time::Duration::from_millis(120));
        b
    };
    let t = follow(g, bus, &sent.request_id, &sent.after, &mut |e| {
        if g.json {
            output::json_line(e);
            return;
        }
        if let Ok(Event::DeployProgress(d)) = e.decode() {
            bar.set_length(d.total as u64);
            bar.set_position(d.step as u64);
            bar.set_message(format!("{}: {}", d.resource, d.message));
            if d.state != StepState::Started {
                let id = d.id.map(|i| format!(" {i}")).unwrap_or_default();
                let action = d.action.map_or_else(
                    || {
                        serde_json::to_value(d.state)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default()
                    },
                    |a| a.to_string(),
                );
                bar.println(format!(
                    "  {:<18} {action:<10}{id}  {}",
                    d.resource.as_str(),
                    d.message
                ));
            }
        }
    })
    .await;
    bar.finish_and_clear();
    let t = t?;
    if !g.json {
        if let Some(m) = t.message() {
            if t.status == Some(Status::Success) {
                out!("{m}");
            } else {
                eprintln!("{m}");
            }
        }
        if let Ok(Event::DeployComplete(done)) = t.decode() {
            print_outputs(&done.report.outputs);
        }
    }
    Ok(exit_code_of(&t))
}

/// The outputs a user needs, one row each; absent ones are left out.
fn print_outputs(o: &Outputs) {
    let rows: Vec<Vec<String>> = o
        .rows()
        .into_iter()
        .map(|(k, v)| vec![k.to_owned(), v])
        .collect();
    if !rows.is_empty() {
        output::table(&["output", "value"], &rows);
    }
}

pub async fn status(g: &Global, bus: &Bus, a: StatusArgs) -> Result<i32, CliError> {
    let t = send_and_follow(
        g,
        bus,
        &Command::GetProject(ProjectRef {
            project: a.project.clone(),
        }),
        |_| {},
    )
    .await?;
    if t.status != Some(Status::Success) {
        eprintln!("error: {}", t.message().unwrap_or("not found"));
        return Ok(exit_code_of(&t));
    }
    let Ok(Event::Project(detail)) = t.decode() else {
        return Err(unexpected(&t));
    };
    if g.json {
        out!("{}", detail.blueprint);
        return Ok(exit::SUCCESS);
    }
    let summary = &detail.summary;
    out!(
        "{} ({}) in {}",
        summary.name.as_deref().unwrap_or_default(),
        a.project,
        summary.region.as_deref().unwrap_or_default()
    );
    let rows: Vec<Vec<String>> = summary
        .parts
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                p.status.clone(),
                p.id.clone().unwrap_or_default(),
            ]
        })
        .collect();
    output::table(&["part", "status", "id / address"], &rows);
    print_outputs(&detail.outputs);
    Ok(exit::SUCCESS)
}
