//! `refresh`: describe each deployed project's recorded resources, write states and addresses
//! back into its blueprint, and report what changed behind Pockitect's back. Each project is
//! refreshed under its lock (a busy one is skipped), and what refresh observed is applied to
//! the blueprint as re-read right before saving, never to the snapshot it started from.

use std::time::Duration;

use pockitect_aws::refresh;
use pockitect_blueprint::Blueprint;
use pockitect_bus::{Lock, Renewal};
use pockitect_proto::{ErrorCode, RefreshArgs, RequestId, ResourceType, Status};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

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

/// One value refresh observed for a place of the blueprint. It is applied to the blueprint as
/// it is when saving (re-read under the project lock), and only while that copy still records
/// the same resource there and still holds the value refresh compared against: whatever a
/// deploy, destroy or hand edit wrote meanwhile wins over an older observation.
struct Patch {
    ptr: &'static str,
    from: Value,
    to: Value,
    id_ptr: &'static str,
    id: String,
}

impl Patch {
    fn apply(&self, doc: &mut Value) -> bool {
        if doc.pointer(self.id_ptr).and_then(Value::as_str) != Some(self.id.as_str()) {
            return false;
        }
        match doc.pointer_mut(self.ptr) {
            Some(cur) if *cur == self.from && *cur != self.to => {
                *cur = self.to.clone();
                true
            }
            _ => false,
        }
    }
}

/// What refresh saw of one project: the changes to report and the patches to write back.
fn observe(
    slug: &str,
    doc: &Value,
    states: &[refresh::RefreshedState],
) -> (Vec<Value>, Vec<Patch>) {
    let mut changes = Vec::new();
    let mut patches = Vec::new();
    for s in states {
        if s.error.is_some() {
            continue; // unknown, not gone: leave the blueprint as it is
        }
        let id = s.target.id.clone();
        let (status_ptr, id_ptr, new_status): (&str, &str, Option<String>) = match s.target.kind {
            ResourceType::Ec2Instance => (
                "/compute/status",
                "/compute/instance_id",
                Some(if s.exists {
                    instance_status(s.state.as_deref().unwrap_or("")).to_owned()
                } else {
                    "deleted".to_owned()
                }),
            ),
            ResourceType::RdsInstance => (
                "/data/db/status",
                "/data/db/identifier",
                Some(match (s.exists, s.state.as_deref()) {
                    (false, _) => "deleted".to_owned(),
                    (true, Some("stopped")) => "stopped".to_owned(),
                    (true, Some("available")) => "running".to_owned(),
                    (true, Some("stopping")) => "stopping".to_owned(),
                    (true, Some("starting")) => "starting".to_owned(),
                    (true, _) => "creating".to_owned(),
                }),
            ),
            _ => ("", "", None),
        };
        if !s.exists {
            changes.push(
                json!({"project": slug, "id": id, "type": s.target.kind, "change": "missing",
                "message": format!("{} {} of '{slug}' no longer exists", s.target.kind, id)}),
            );
        }
        if let Some(new) = new_status
            && let Some(cur) = doc.pointer(status_ptr)
            && cur.as_str() != Some(new.as_str())
        {
            if s.exists {
                changes.push(json!({"project": slug, "id": id, "type": s.target.kind, "change": "state",
                    "from": cur.clone(), "to": new,
                    "message": format!("{} {} of '{slug}' is now {new} (was {})", s.target.kind, id, cur.as_str().unwrap_or("?"))}));
            }
            patches.push(Patch {
                ptr: status_ptr,
                from: cur.clone(),
                to: json!(new),
                id_ptr,
                id: id.clone(),
            });
        }
        if s.target.kind == ResourceType::Ec2Instance
            && let Some(cur) = doc.pointer("/compute/public_ip")
        {
            patches.push(Patch {
                ptr: "/compute/public_ip",
                from: cur.clone(),
                to: s.public_ip.as_ref().map_or(Value::Null, |p| json!(p)),
                id_ptr,
                id: id.clone(),
            });
        }
        if s.target.kind == ResourceType::RdsInstance
            && let (Some(cur), Some(new)) = (doc.pointer("/data/db/endpoint"), &s.endpoint)
        {
            patches.push(Patch {
                ptr: "/data/db/endpoint",
                from: cur.clone(),
                to: json!(new),
                id_ptr,
                id,
            });
        }
    }
    (changes, patches)
}

/// Why a project was left out of a refresh.
enum Skip {
    /// Another request holds its lock (value: that request's id).
    Busy(String),
    /// The lock was lost while refresh ran: nothing was written.
    LockLost,
}

/// Keeps the project lock alive while `work` runs; Err when the lock is lost meanwhile.
async fn holding_lock<T>(
    daemon: &Daemon,
    slug: &str,
    owner: &RequestId,
    cancel: &CancellationToken,
    work: impl std::future::Future<Output = T>,
) -> Result<Result<T, Skip>, HandlerError> {
    let lease = daemon.settings.lease;
    let mut tick = tokio::time::interval((lease / 3).max(Duration::from_millis(50)));
    tick.tick().await; // the first tick is immediate; the lock was just taken
    tokio::pin!(work);
    loop {
        tokio::select! {
            r = &mut work => return Ok(Ok(r)),
            _ = cancel.cancelled() => {
                return Err(HandlerError::new(ErrorCode::Cancelled, "refresh cancelled"));
            }
            _ = tick.tick() => match daemon.bus.renew_project_lock(slug, owner, lease).await {
                Ok(Renewal::Renewed) => {}
                Ok(Renewal::Missing | Renewal::HeldBy(_)) => return Ok(Err(Skip::LockLost)),
                Err(e) => tracing::warn!(project = %slug, error = %e, "could not renew the project lock"),
            },
        }
    }
}

/// Refreshes one project under its lock; returns the changes seen, or why it was skipped.
async fn refresh_one(
    daemon: &Daemon,
    events: &Events,
    cancel: &CancellationToken,
    slug: &str,
) -> Result<Result<Vec<Value>, Skip>, HandlerError> {
    let owner = events.request_id();
    let lease = daemon.settings.lease;
    match daemon.bus.lock_project(slug, owner, lease).await {
        Ok(Lock::Taken) => {}
        Ok(Lock::HeldBy(holder)) => return Ok(Err(Skip::Busy(holder))),
        Err(e) => {
            return Err(HandlerError::new(
                ErrorCode::Internal,
                format!("lock project '{slug}': {e}"),
            ));
        }
    }
    let r = refresh_locked(daemon, events, cancel, slug).await;
    if let Err(e) = daemon.bus.unlock_project(slug, owner).await {
        tracing::warn!(project = %slug, error = %e, "could not unlock the project; its lock expires by itself");
    }
    r
}

async fn refresh_locked(
    daemon: &Daemon,
    events: &Events,
    cancel: &CancellationToken,
    slug: &str,
) -> Result<Result<Vec<Value>, Skip>, HandlerError> {
    let load = || {
        daemon.projects.load(slug).map_err(|e| {
            HandlerError::new(ErrorCode::NotFound, format!("load project '{slug}': {e}"))
        })
    };
    let to_doc = |bp: &Blueprint| {
        serde_json::to_value(bp).map_err(|e| HandlerError::new(ErrorCode::Internal, e.to_string()))
    };
    let bp = load()?;
    let (targets, _) = recorded_targets(&bp);
    if targets.is_empty() {
        return Ok(Ok(Vec::new()));
    }
    let owner = events.request_id();
    let states = match holding_lock(
        daemon,
        slug,
        owner,
        cancel,
        refresh::describe(&daemon.aws, targets),
    )
    .await?
    {
        Ok(s) => s,
        Err(skip) => return Ok(Err(skip)),
    };
    let (changes, patches) = observe(slug, &to_doc(&bp)?, &states);
    for c in &changes {
        events
            .emit("resource_changed", Status::InProgress, c.clone())
            .await;
    }
    if patches.is_empty() {
        return Ok(Ok(changes));
    }
    // Right before saving: still ours? Then re-read, so what was written since the snapshot
    // above (by anyone) is kept, and only what refresh observed is applied on top.
    match daemon
        .bus
        .renew_project_lock(slug, owner, daemon.settings.lease)
        .await
    {
        Ok(Renewal::Renewed) => {}
        Ok(_) => return Ok(Err(Skip::LockLost)),
        Err(e) => {
            return Err(HandlerError::new(
                ErrorCode::Internal,
                format!("renew the lock on project '{slug}' before saving: {e}"),
            ));
        }
    }
    let current = load()?;
    let before = to_doc(&current)?;
    let mut doc = before.clone();
    let mut applied = 0;
    for p in &patches {
        if p.apply(&mut doc) {
            applied += 1;
        }
    }
    if applied > 0 && doc != before {
        let fresh = pockitect_blueprint::from_value(doc)
            .map_err(|e| HandlerError::new(ErrorCode::Internal, e.to_string()))?;
        daemon.save_project(&fresh).map_err(|e| {
            HandlerError::new(ErrorCode::Internal, format!("write back '{slug}': {e}"))
        })?;
    }
    if applied < patches.len() {
        tracing::debug!(project = %slug, observed = patches.len(), applied, "refresh kept values written since it looked");
    }
    Ok(Ok(changes))
}

/// Refreshes the named project, or every project in the store. Each project is refreshed
/// under its own lock; a project another request holds is skipped (and named in the result).
pub async fn refresh(
    args: RefreshArgs,
    daemon: &Daemon,
    events: &Events,
    cancel: &CancellationToken,
) -> Result<Outcome, HandlerError> {
    let slugs: Vec<String> = match &args.project {
        Some(slug) => vec![slug.clone()],
        None => daemon
            .projects
            .list()
            .map_err(|e| HandlerError::new(ErrorCode::Internal, e.to_string()))?
            .into_iter()
            .filter(|(_, bp)| bp.is_ok())
            .map(|(slug, _)| slug)
            .collect(),
    };
    let mut changes = Vec::new();
    let mut skipped = Vec::new();
    let mut refreshed = 0;
    for slug in slugs {
        if cancel.is_cancelled() {
            return Err(HandlerError::new(ErrorCode::Cancelled, "refresh cancelled"));
        }
        match refresh_one(daemon, events, cancel, &slug).await {
            Ok(Ok(c)) => {
                refreshed += 1;
                changes.extend(c);
            }
            Ok(Err(Skip::Busy(holder))) => {
                tracing::debug!(project = %slug, holder = %holder, "refresh skips a project another request holds");
                skipped.push(json!({"project": slug, "reason": "busy", "request_id": holder,
                    "message": format!("'{slug}' is busy with request {holder}; it is refreshed next time")}));
            }
            Ok(Err(Skip::LockLost)) => {
                tracing::warn!(project = %slug, "refresh lost the project lock; nothing written");
                skipped.push(json!({"project": slug, "reason": "lock_lost",
                    "message": format!("the lock on '{slug}' was lost while refreshing; nothing was written")}));
            }
            // A project named on purpose that cannot be read is the caller's error; in a
            // refresh of everything, one unreadable file must not hide the others.
            Err(e) if args.project.is_none() && e.code == ErrorCode::NotFound => {
                tracing::warn!(project = %slug, error = %e, "refresh skips a project it cannot read");
            }
            Err(e) => return Err(e),
        }
    }
    let mut message = format!(
        "refreshed {refreshed} project(s), {} change(s)",
        changes.len()
    );
    if !skipped.is_empty() {
        let names: Vec<String> = skipped
            .iter()
            .filter_map(|s| s["project"].as_str().map(|p| format!("'{p}'")))
            .collect();
        message.push_str(&format!(
            "; skipped {} busy: {}",
            skipped.len(),
            names.join(", ")
        ));
    }
    Ok(Outcome::success(
        "refresh_complete",
        json!({"projects": refreshed, "changes": changes, "skipped": skipped, "message": message}),
    ))
}
