//! `refresh`: describe each deployed project's recorded resources, write states and addresses
//! back into its blueprint, and report what changed behind Pockitect's back. Each project is
//! refreshed under its lock (a busy one is skipped), and what refresh observed is applied to
//! the blueprint as re-read right before saving, never to the snapshot it started from.

use std::time::Duration;

use pockitect_aws::refresh;
use pockitect_blueprint::{Blueprint, Observation, ObservedField};
use pockitect_bus::{Lock, Renewal};
use pockitect_proto::payload::{
    ChangeKind, RefreshComplete, RefreshSkip, RefreshSkipReason, ResourceChange,
};
use pockitect_proto::{ErrorCode, Event, RefreshArgs, RequestId, ResourceType, Status};
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

/// What refresh saw of one project: the changes to report, and the observations to write back
/// (compare-and-swap, onto the blueprint as re-read right before saving).
fn observe(
    slug: &str,
    bp: &Blueprint,
    states: &[refresh::RefreshedState],
) -> (Vec<ResourceChange>, Vec<Observation>) {
    let mut changes = Vec::new();
    let mut seen = Vec::new();
    for s in states {
        if s.error.is_some() {
            continue; // unknown, not gone: leave the blueprint as it is
        }
        let id = s.target.id.clone();
        let (status_field, new_status) = match s.target.kind {
            ResourceType::Ec2Instance => (
                ObservedField::ServerStatus,
                if s.exists {
                    instance_status(s.state.as_deref().unwrap_or(""))
                } else {
                    "deleted"
                },
            ),
            ResourceType::RdsInstance => (
                ObservedField::DatabaseStatus,
                match (s.exists, s.state.as_deref()) {
                    (false, _) => "deleted",
                    (true, Some("stopped")) => "stopped",
                    (true, Some("available")) => "running",
                    (true, Some("stopping")) => "stopping",
                    (true, Some("starting")) => "starting",
                    (true, _) => "creating",
                },
            ),
            _ => continue,
        };
        if !s.exists {
            changes.push(ResourceChange {
                project: slug.to_owned(),
                id: id.clone(),
                kind: s.target.kind,
                change: ChangeKind::Missing,
                from: None,
                to: None,
                message: format!("{} {} of '{slug}' no longer exists", s.target.kind, id),
            });
        }
        let mut observe = |field, to: Option<String>| {
            let from = bp.observed(field);
            if from != to {
                seen.push(Observation {
                    field,
                    id: id.clone(),
                    from,
                    to,
                });
            }
        };
        let cur = bp.observed(status_field);
        if cur.as_deref() != Some(new_status) && s.exists {
            let was = cur.clone().unwrap_or_else(|| "?".to_owned());
            changes.push(ResourceChange {
                project: slug.to_owned(),
                id: id.clone(),
                kind: s.target.kind,
                change: ChangeKind::State,
                from: cur,
                to: Some(new_status.to_owned()),
                message: format!(
                    "{} {} of '{slug}' is now {new_status} (was {was})",
                    s.target.kind, id
                ),
            });
        }
        observe(status_field, Some(new_status.to_owned()));
        match s.target.kind {
            ResourceType::Ec2Instance => {
                observe(ObservedField::ServerPublicIp, s.public_ip.clone());
            }
            ResourceType::RdsInstance if s.endpoint.is_some() => {
                observe(ObservedField::DatabaseEndpoint, s.endpoint.clone());
            }
            _ => {}
        }
    }
    (changes, seen)
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
) -> Result<Result<Vec<ResourceChange>, Skip>, HandlerError> {
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
) -> Result<Result<Vec<ResourceChange>, Skip>, HandlerError> {
    let load = || {
        daemon.projects.load(slug).map_err(|e| {
            HandlerError::new(ErrorCode::NotFound, format!("load project '{slug}': {e}"))
        })
    };
    let bp = load()?;
    let (targets, _) = recorded_targets(&bp);
    if targets.is_empty() {
        return Ok(Ok(Vec::new()));
    }
    let aws = daemon
        .accounts
        .for_project(bp.project.account.as_deref())
        .await?;
    let owner = events.request_id();
    let states = match holding_lock(
        daemon,
        slug,
        owner,
        cancel,
        refresh::describe(&aws, targets),
    )
    .await?
    {
        Ok(s) => s,
        Err(skip) => return Ok(Err(skip)),
    };
    let (changes, seen) = observe(slug, &bp, &states);
    for c in &changes {
        events
            .emit(Event::ResourceChanged(c.clone()), Status::InProgress)
            .await;
    }
    if seen.is_empty() {
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
    let mut current = load()?;
    let applied = seen.iter().filter(|o| current.apply_observation(o)).count();
    if applied > 0 {
        daemon.save_project(&current).map_err(|e| {
            HandlerError::new(ErrorCode::Internal, format!("write back '{slug}': {e}"))
        })?;
    }
    if applied < seen.len() {
        tracing::debug!(project = %slug, observed = seen.len(), applied, "refresh kept values written since it looked");
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
                skipped.push(RefreshSkip {
                    message: format!(
                        "'{slug}' is busy with request {holder}; it is refreshed next time"
                    ),
                    project: slug,
                    reason: RefreshSkipReason::Busy,
                    request_id: Some(holder),
                });
            }
            Ok(Err(Skip::LockLost)) => {
                tracing::warn!(project = %slug, "refresh lost the project lock; nothing written");
                skipped.push(RefreshSkip {
                    message: format!(
                        "the lock on '{slug}' was lost while refreshing; nothing was written"
                    ),
                    project: slug,
                    reason: RefreshSkipReason::LockLost,
                    request_id: None,
                });
            }
            // A project named on purpose that cannot be read is the caller's error; in a
            // refresh of everything, one unreadable file must not hide the others.
            // Likewise a project in an account this daemon does not work on.
            Err(e)
                if args.project.is_none()
                    && matches!(e.code, ErrorCode::NotFound | ErrorCode::InvalidBlueprint) =>
            {
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
        let names: Vec<String> = skipped.iter().map(|s| format!("'{}'", s.project)).collect();
        message.push_str(&format!(
            "; skipped {} busy: {}",
            skipped.len(),
            names.join(", ")
        ));
    }
    Ok(Outcome::success(Event::RefreshComplete(RefreshComplete {
        projects: refreshed,
        changes,
        skipped,
        message,
    })))
}
