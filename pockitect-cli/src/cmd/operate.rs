//! `power`, `terminate` and `destroy`: show what will happen, ask (unless --yes), follow.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use pockitect_bus::Bus;
use pockitect_proto::terminate::DeletionPlan;
use pockitect_proto::{
    Approval, Command, DestroyArgs as WireDestroy, Envelope, Event, PlanDigest, PowerAction,
    PowerArgs as WirePower, ResourceType, TerminateArgs as WireTerminate, TerminateTarget, exit,
};

use crate::follow::{
    CliError, exit_code_of, send_and_follow, send_approved_and_follow, unexpected,
};
use crate::{Global, output};

#[derive(Debug, clap::Args)]
pub struct PowerArgs {
    #[arg(value_enum)]
    pub action: PowerVerb,
    pub project: String,
    /// Show what would be started or stopped and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// Run even where a rule of the daemon's policy denies it (recorded in the audit trail).
    #[arg(long)]
    pub override_policy: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PowerVerb {
    Start,
    Stop,
}

#[derive(Debug, clap::Args)]
pub struct TerminateArgs {
    /// Resource id (repeat with --type and --region for each).
    #[arg(long = "id")]
    pub ids: Vec<String>,
    #[arg(long = "type")]
    pub kinds: Vec<ResourceType>,
    #[arg(long = "region")]
    pub regions: Vec<String>,
    /// A JSON array of scan records (`-` for stdin), e.g. from 'pockitect resources --json'.
    #[arg(long)]
    pub from_json: Option<PathBuf>,
    /// Delete also resources not tagged as managed by Pockitect.
    #[arg(long)]
    pub force: bool,
    /// Show what would be deleted, in order, and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep a final snapshot of RDS instances.
    #[arg(long)]
    pub final_snapshot: bool,
    /// Do not ask: plan, then delete exactly that plan.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Run even where a rule of the daemon's policy denies it (recorded in the audit trail).
    #[arg(long)]
    pub override_policy: bool,
}

#[derive(Debug, clap::Args)]
pub struct DestroyArgs {
    pub project: String,
    #[arg(long)]
    pub force: bool,
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long)]
    pub final_snapshot: bool,
    /// Do not ask: plan, then delete exactly that plan.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Run even where a rule of the daemon's policy denies it (recorded in the audit trail).
    #[arg(long)]
    pub override_policy: bool,
}

/// The approval sent with a command: the digest of the plan just shown, and the override.
pub(crate) fn approval(plan_digest: Option<PlanDigest>, override_policy: bool) -> Option<Approval> {
    let a = Approval {
        plan_digest,
        override_policy,
    };
    (!a.is_empty()).then_some(a)
}

fn print_event(g: &Global, e: &Envelope) {
    if g.json {
        output::json_line(e);
    } else if e.decode().is_ok_and(|e| e.is_progress()) {
        eprintln!("{}", output::event_line(e));
    }
}

fn finish(g: &Global, t: &Envelope) -> i32 {
    if !g.json {
        let m = t.message().unwrap_or("done");
        if exit_code_of(t) == exit::SUCCESS {
            out!("{m}");
        } else {
            eprintln!("{m}");
        }
    }
    exit_code_of(t)
}

/// Plans first (what would be started or stopped), then powers exactly that plan: stopping is
/// undone by a start, so nothing is asked.
pub async fn power(g: &Global, bus: &Bus, a: PowerArgs) -> Result<i32, CliError> {
    let action = match a.action {
        PowerVerb::Start => PowerAction::Start,
        PowerVerb::Stop => PowerAction::Stop,
    };
    let mk = |dry_run| {
        Command::Power(WirePower {
            project: a.project.clone(),
            action,
            dry_run,
        })
    };
    let plan =
        send_approved_and_follow(g, bus, &mk(true), approval(None, a.override_policy), |_| {})
            .await?;
    if exit_code_of(&plan) != exit::SUCCESS || a.dry_run {
        if g.json {
            output::json_line(&plan);
        } else if let Ok(Event::PowerComplete(p)) = plan.decode() {
            for t in p.plan.iter().flatten() {
                eprintln!("would {} {} {} in {}", verb(action), t.kind, t.id, t.region);
            }
        }
        return Ok(finish(g, &plan));
    }
    let digest = match plan.decode() {
        Ok(Event::PowerComplete(p)) => p.plan_digest,
        _ => return Err(unexpected(&plan)),
    };
    let t = send_approved_and_follow(
        g,
        bus,
        &mk(false),
        approval(digest, a.override_policy),
        |e| print_event(g, e),
    )
    .await?;
    Ok(finish(g, &t))
}

fn verb(action: PowerAction) -> &'static str {
    match action {
        PowerAction::Start => "start",
        PowerAction::Stop => "stop",
    }
}

fn read_targets(a: &TerminateArgs) -> Result<Vec<TerminateTarget>, CliError> {
    let mut targets = Vec::new();
    if let Some(path) = &a.from_json {
        let text = if path.as_os_str() == "-" {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| CliError::Io(format!("read stdin: {e}")))?;
            s
        } else {
            std::fs::read_to_string(path)
                .map_err(|e| CliError::Io(format!("read '{}': {e}", path.display())))?
        };
        let list: Vec<TerminateTarget> = serde_json::from_str(&text).map_err(|e| {
            CliError::Usage(format!(
                "--from-json: expected a JSON array of records with id, type and region: {e}"
            ))
        })?;
        targets.extend(list);
    }
    if a.ids.len() != a.kinds.len() || a.ids.len() != a.regions.len() {
        return Err(CliError::Usage(
            "give --id, --type and --region once for each resource".into(),
        ));
    }
    for ((id, kind), region) in a.ids.iter().zip(&a.kinds).zip(&a.regions) {
        targets.push(TerminateTarget {
            id: id.clone(),
            kind: *kind,
            region: region.clone(),
        });
    }
    if targets.is_empty() {
        return Err(CliError::Usage(
            "nothing to terminate: give --id/--type/--region or --from-json".into(),
        ));
    }
    Ok(targets)
}

/// Prints the dry-run plan: each layer in order, then what is skipped and why.
fn print_plan(plan: &DeletionPlan) {
    let mut rows = Vec::new();
    for (n, layer) in plan.layers.iter().enumerate() {
        for item in &layer.items {
            let r = &item.record;
            rows.push(vec![
                (n + 1).to_string(),
                r.kind.to_string(),
                r.id.clone(),
                r.region.clone(),
                r.name.clone().unwrap_or_default(),
            ]);
        }
    }
    output::table(&["order", "type", "id", "region", "name"], &rows);
    for s in &plan.skipped {
        eprintln!("skip {} {}: {}", s.record.kind, s.record.id, s.reason);
    }
}

/// How a deletion is confirmed.
struct Confirmation<'a> {
    /// What the user types to go on.
    word: &'a str,
    yes: bool,
    dry_only: bool,
    override_policy: bool,
}

/// Dry run first, then the typed confirmation, then the real request carrying the digest of
/// the plan shown: the daemon deletes exactly that plan, or nothing if the estate changed.
async fn confirm_then_run(
    g: &Global,
    bus: &Bus,
    dry: Command,
    real: Command,
    c: Confirmation<'_>,
) -> Result<i32, CliError> {
    let Confirmation {
        word,
        yes,
        dry_only,
        override_policy,
    } = c;
    let plan =
        send_approved_and_follow(g, bus, &dry, approval(None, override_policy), |_| {}).await?;
    if exit_code_of(&plan) != exit::SUCCESS {
        return Ok(finish(g, &plan));
    }
    if g.json && dry_only {
        output::json_line(&plan);
        return Ok(exit::SUCCESS);
    }
    let (deletions, digest) = match plan.decode() {
        Ok(Event::TerminateComplete(t) | Event::DestroyComplete(t)) => {
            (t.plan.unwrap_or_default(), t.plan_digest)
        }
        _ => return Err(unexpected(&plan)),
    };
    if !g.json {
        print_plan(&deletions);
    }
    if dry_only {
        return Ok(exit::SUCCESS);
    }
    if deletions.total() == 0 {
        eprintln!("nothing to delete");
        return Ok(exit::SUCCESS);
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::Usage(
                "deleting needs confirmation: pass --yes when not on a terminal".into(),
            ));
        }
        let typed: String = dialoguer::Input::new()
            .with_prompt(format!(
                "This deletes the resources above. Type '{word}' to go on"
            ))
            .interact_text()
            .map_err(|e| CliError::Io(e.to_string()))?;
        if typed.trim() != word {
            eprintln!("nothing deleted");
            return Ok(exit::CANCELLED);
        }
    }
    let t = send_approved_and_follow(g, bus, &real, approval(digest, override_policy), |e| {
        print_event(g, e)
    })
    .await?;
    Ok(finish(g, &t))
}

pub async fn terminate(g: &Global, bus: &Bus, a: TerminateArgs) -> Result<i32, CliError> {
    let targets = read_targets(&a)?;
    let mk = |dry_run| {
        Command::Terminate(WireTerminate {
            targets: targets.clone(),
            force: a.force,
            dry_run,
            final_snapshot: a.final_snapshot,
        })
    };
    let word = targets.len().to_string();
    let c = Confirmation {
        word: &word,
        yes: a.yes,
        dry_only: a.dry_run,
        override_policy: a.override_policy,
    };
    confirm_then_run(g, bus, mk(true), mk(false), c).await
}

pub async fn destroy(g: &Global, bus: &Bus, a: DestroyArgs) -> Result<i32, CliError> {
    let mk = |dry_run| {
        Command::Destroy(WireDestroy {
            project: a.project.clone(),
            force: a.force,
            dry_run,
            final_snapshot: a.final_snapshot,
        })
    };
    let c = Confirmation {
        word: &a.project,
        yes: a.yes,
        dry_only: a.dry_run,
        override_policy: a.override_policy,
    };
    confirm_then_run(g, bus, mk(true), mk(false), c).await
}

#[derive(Debug, clap::Args)]
pub struct RefreshArgs {
    /// One project (default: every deployed one).
    pub project: Option<String>,
}

pub async fn refresh(g: &Global, bus: &Bus, a: RefreshArgs) -> Result<i32, CliError> {
    let cmd = Command::Refresh(pockitect_proto::RefreshArgs { project: a.project });
    let t = send_and_follow(g, bus, &cmd, |e| {
        if g.json {
            output::json_line(e);
        } else if let Ok(Event::ResourceChanged(c)) = e.decode() {
            eprintln!("{}", c.message);
        }
    })
    .await?;
    Ok(finish(g, &t))
}
