//! `refresh`: describe each deployed project's recorded resources, write states and addresses
//! back into its blueprint, and report what changed behind Pockitect's back.

use pockitect_aws::refresh;
use pockitect_blueprint::Blueprint;
use pockitect_proto::{ErrorCode, RefreshArgs, ResourceType, Status};
use serde_json::{Value, json};

use super::operate::recorded_targets;
use crate::Daemon;
use crate::events::{Events, HandlerError, Outcome};

/// The blueprint status an instance state means.
fn instance_status(state: &str) -> &'static str {
    match state {
        "running" => "running",
        "stopped" => "stopped",
        "stopping" | "shutting-down" => "stopping",
        "pending" => "starting",
        "terminated" => "deleted",
        _ => "created",
    }
}

/// Refreshes one project; returns the changes seen.
async fn refresh_one(
    daemon: &Daemon,
    events: &Events,
    bp: Blueprint,
) -> Result<Vec<Value>, HandlerError> {
    let slug = bp.slug().into_owned();
    let (targets, _) = recorded_targets(&bp);
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let states = refresh::describe(&daemon.aws, targets).await;
    let mut doc = serde_json::to_value(&bp)
        .map_err(|e| HandlerError::new(ErrorCode::Internal, e.to_string()))?;
    let mut changes = Vec::new();
    for s in &states {
        if s.error.is_some() {
            continue; // unknown, not gone: leave the blueprint as it is
        }
        let (status_ptr, new_status): (Option<&str>, Option<String>) = match s.target.kind {
            ResourceType::Ec2Instance => (
                Some("/compute/status"),
                Some(if s.exists {
                    instance_status(s.state.as_deref().unwrap_or("")).to_owned()
                } else {
                    "deleted".to_owned()
                }),
            ),
            ResourceType::RdsInstance => (
                Some("/data/db/status"),
                Some(match (s.exists, s.state.as_deref()) {
                    (false, _) => "deleted".to_owned(),
                    (true, Some("stopped")) => "stopped".to_owned(),
                    (true, Some("available")) => "running".to_owned(),
                    (true, Some("stopping")) => "stopping".to_owned(),
                    (true, Some("starting")) => "starting".to_owned(),
                    (true, _) => "creating".to_owned(),
                }),
            ),
            _ => (None, None),
        };
        if !s.exists {
            let change = json!({"project": slug, "id": s.target.id, "type": s.target.kind, "change": "missing",
                "message": format!("{} {} of '{slug}' no longer exists", s.target.kind, s.target.id)});
            events
                .emit("resource_changed", Status::InProgress, change.clone())
                .await;
            changes.push(change);
        }
        if let (Some(ptr), Some(new)) = (status_ptr, new_status)
            && let Some(cur) = doc.pointer_mut(ptr)
            && cur.as_str() != Some(new.as_str())
        {
            if s.exists {
                let change = json!({"project": slug, "id": s.target.id, "type": s.target.kind, "change": "state",
                    "from": cur.clone(), "to": new,
                    "message": format!("{} {} of '{slug}' is now {new} (was {})", s.target.kind, s.target.id, cur.as_str().unwrap_or("?"))});
                events
                    .emit("resource_changed", Status::InProgress, change.clone())
                    .await;
                changes.push(change);
            }
            *cur = json!(new);
        }
        if s.target.kind == ResourceType::Ec2Instance
            && let Some(ip) = doc.pointer_mut("/compute/public_ip")
        {
            *ip = s.public_ip.as_ref().map_or(Value::Null, |p| json!(p));
        }
        if s.target.kind == ResourceType::RdsInstance
            && let (Some(ep), Some(new)) = (doc.pointer_mut("/data/db/endpoint"), &s.endpoint)
        {
            *ep = json!(new);
        }
    }
    let fresh = pockitect_blueprint::from_value(doc)
        .map_err(|e| HandlerError::new(ErrorCode::Internal, e.to_string()))?;
    if serde_json::to_value(&fresh).ok() != serde_json::to_value(&bp).ok() {
        daemon.save_project(&fresh).map_err(|e| {
            HandlerError::new(ErrorCode::Internal, format!("write back '{slug}': {e}"))
        })?;
    }
    Ok(changes)
}

pub async fn refresh(
    args: RefreshArgs,
    daemon: &Daemon,
    events: &Events,
) -> Result<Outcome, HandlerError> {
    let projects: Vec<Blueprint> = match &args.project {
        Some(slug) => vec![daemon.projects.load(slug).map_err(|e| {
            HandlerError::new(ErrorCode::NotFound, format!("load project '{slug}': {e}"))
        })?],
        None => daemon
            .projects
            .list()
            .map_err(|e| HandlerError::new(ErrorCode::Internal, e.to_string()))?
            .into_iter()
            .filter_map(|(_, bp)| bp.ok())
            .collect(),
    };
    let mut changes = Vec::new();
    let count = projects.len();
    for bp in projects {
        changes.extend(refresh_one(daemon, events, bp).await?);
    }
    Ok(Outcome::success(
        "refresh_complete",
        json!({"projects": count, "changes": changes, "message": format!("refreshed {count} project(s), {} change(s)", changes.len())}),
    ))
}
