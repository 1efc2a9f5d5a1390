//! `plan`, `deploy` and `status`: a blueprint file or a project slug in, the daemon's plan,
//! progress and outputs out.

use std::io::IsTerminal;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use pockitect_blueprint::{Blueprint, ProjectStore, ValidationContext, validate};
use pockitect_bus::Bus;
use pockitect_proto::{
    BlueprintRef, Command, DeployArgs as WireDeployArgs, ProjectRef, Status, exit,
};
use serde_json::Value;

use crate::follow::{CliError, ensure_daemon, exit_code_of, follow, send_and_follow};
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
        let report = validate(&bp, &ValidationContext::offline());
        if !report.is_ok() {
            let lines: Vec<String> = report
                .errors
                .iter()
                .map(|e| format!("  error: {e}"))
                .collect();
            return Err(CliError::Invalid(format!(
                "{target} is invalid:\n{}",
                lines.join("\n")
            )));
        }
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
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

pub async fn plan(g: &Global, bus: &Bus, a: PlanArgs) -> Result<i32, CliError> {
    let (target, _) = target_ref(&a.target)?;
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
    let plan = &t.data["plan"];
    let rows: Vec<Vec<String>> = plan["resources"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                    vec![
                        s("resource"),
                        s("action"),
                        s("id"),
                        if r["error"].is_null() {
                            s("detail")
                        } else {
                            s("error")
                        },
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    out!(
        "Plan for '{}' in {}:",
        plan["project"].as_str().unwrap_or("?"),
        plan["region"].as_str().unwrap_or("?")
    );
    output::table(&["resource", "action", "id", "detail"], &rows);
    for w in t.data["warnings"].as_array().into_iter().flatten() {
        eprintln!("warning: {}", w.as_str().unwrap_or_default());
    }
    Ok(exit::SUCCESS)
}

pub async fn deploy(g: &Global, bus: &Bus, a: DeployArgs) -> Result<i32, CliError> {
    let (target, local) = target_ref(&a.target)?;
    let slug = target.project.clone().unwrap_or_default();
    if !a.yes {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::Usage(format!(
                "deploying '{slug}' creates AWS resources that cost money: pass --yes to confirm when not on a terminal"
            )));
        }
        let ok = dialoguer::Confirm::new()
            .with_prompt(format!(
                "Deploy '{slug}'? This creates AWS resources that cost money"
            ))
            .default(false)
            .interact()
            .map_err(|e| CliError::Io(e.to_string()))?;
        if !ok {
            eprintln!("nothing deployed");
            return Ok(exit::CANCELLED);
        }
    }
    if let Some(bp) = &local {
        // Daemons that announce where they keep secrets; files when any of them has no keyring.
        let daemons = bus.daemons().await.unwrap_or_default();
        let daemon_uses_keyring = daemons.iter().all(|d| d.secrets.as_deref() != Some("file"));
        super::secrets::settle_db_password(g, bp, daemon_uses_keyring)?;
    }
    let cmd = Command::Deploy(WireDeployArgs {
        target,
        rollback_on_failure: a.rollback_on_failure,
    });
    ensure_daemon(g, bus).await?;
    let sent = bus.send(&cmd).await?;
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
        if e.kind == "deploy_progress" {
            let d = &e.data;
            bar.set_length(d["total"].as_u64().unwrap_or(0));
            bar.set_position(d["step"].as_u64().unwrap_or(0));
            let state = d["state"].as_str().unwrap_or("");
            let resource = d["resource"].as_str().unwrap_or("");
            bar.set_message(format!(
                "{resource}: {}",
                d["message"].as_str().unwrap_or(state)
            ));
            if matches!(state, "done" | "failed" | "skipped" | "rolled_back") {
                let id = d["id"]
                    .as_str()
                    .map(|i| format!(" {i}"))
                    .unwrap_or_default();
                let action = d["action"].as_str().unwrap_or(state);
                bar.println(format!(
                    "  {resource:<18} {action:<10}{id}  {}",
                    d["message"].as_str().unwrap_or("")
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
        print_outputs(&t.data["report"]["outputs"]);
    }
    Ok(exit_code_of(&t))
}

fn print_outputs(o: &Value) {
    let Some(map) = o.as_object() else { return };
    let rows: Vec<Vec<String>> = map
        .iter()
        .filter(|(_, v)| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()))
        .map(|(k, v)| {
            vec![
                k.clone(),
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string()),
            ]
        })
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
    let bp = &t.data["blueprint"];
    if g.json {
        out!("{bp}");
        return Ok(exit::SUCCESS);
    }
    let s = |v: &Value| v.as_str().unwrap_or("").to_owned();
    // A part the blueprint does not ask for says so, rather than its default "pending".
    let part = |section: &Value, wanted: bool| {
        if wanted && !section.is_null() {
            s(&section["status"])
        } else {
            "not wanted".to_owned()
        }
    };
    let sec = &bp["security"];
    out!(
        "{} ({}) in {}",
        s(&bp["project"]["name"]),
        a.project,
        s(&bp["project"]["region"])
    );
    let rows = vec![
        vec![
            "network".into(),
            s(&bp["network"]["status"]),
            s(&bp["network"]["vpc_id"]),
        ],
        vec![
            "compute".into(),
            s(&bp["compute"]["status"]),
            format!(
                "{} {}",
                s(&bp["compute"]["instance_id"]),
                s(&bp["compute"]["public_ip"])
            )
            .trim()
            .to_owned(),
        ],
        vec![
            "database".into(),
            part(&bp["data"]["db"], true),
            s(&bp["data"]["db"]["endpoint"]),
        ],
        vec![
            "bucket".into(),
            part(&bp["data"]["s3_bucket"], true),
            s(&bp["data"]["s3_bucket"]["name"]),
        ],
        vec![
            "key pair".into(),
            part(&sec["key_pair"], sec["key_pair"]["mode"] != "none"),
            s(&bp["security"]["key_pair"]["private_key_path"]),
        ],
        vec![
            "iam role".into(),
            part(&sec["iam_role"], sec["iam_role"]["enabled"] != false),
            s(&bp["security"]["iam_role"]["arn"]),
        ],
        vec![
            "certificate".into(),
            part(&sec["certificate"], sec["certificate"]["mode"] != "skip"),
            s(&bp["security"]["certificate"]["cert_arn"]),
        ],
    ];
    output::table(&["part", "status", "id / address"], &rows);
    Ok(exit::SUCCESS)
}
