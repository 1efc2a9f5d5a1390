//! Power: start or stop EC2 instances (one StartInstances/StopInstances call per region with
//! every id) and RDS instances (one call each), then wait (polling, with a deadline) until
//! each reaches the target state, and report each resource's final state.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use pockitect_proto::{PowerAction, ResourceType, TerminateTarget};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::lookup::{Failure, describe_targets, key_of};
use crate::ownership;
use crate::{Aws, AwsError};

/// The power engine's reports are the wire protocol's power payloads.
pub use pockitect_proto::power::{PowerOutcome, PowerReport, PowerResult};

/// How a power request waits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PowerOptions {
    /// Longest wait for EC2 instances to reach running/stopped.
    pub ec2_timeout: Duration,
    /// Longest wait for RDS instances to reach available/stopped (starting one takes minutes).
    pub rds_timeout: Duration,
    /// AWS calls in flight at once.
    pub concurrency: usize,
    /// The project powered: only what it owns is started or stopped (the ownership gate);
    /// anything else is skipped with the reason. None powers what is given (tests, tools).
    pub project: Option<String>,
}

impl Default for PowerOptions {
    fn default() -> Self {
        Self {
            project: None,
            ec2_timeout: Duration::from_secs(10 * 60),
            rds_timeout: Duration::from_secs(30 * 60),
            concurrency: 8,
        }
    }
}

/// Where the daemon receives each resource's result as it is final.
pub trait PowerSink: Sync {
    /// `done` of `total` resources are final; `result` is the one that just became final.
    fn progress(
        &self,
        done: usize,
        total: usize,
        result: &PowerResult,
    ) -> impl Future<Output = ()> + Send;
}

impl<T: PowerSink> PowerSink for &T {
    fn progress(
        &self,
        done: usize,
        total: usize,
        result: &PowerResult,
    ) -> impl Future<Output = ()> + Send {
        (**self).progress(done, total, result)
    }
}

/// A sink that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopSink;

impl PowerSink for NoopSink {
    async fn progress(&self, _done: usize, _total: usize, _result: &PowerResult) {}
}

/// Starts or stops the `targets` of `project` that it owns (EC2 and RDS instances; anything
/// else is skipped) with the default timeouts.
pub async fn power(
    aws: &Aws,
    project: &str,
    targets: Vec<TerminateTarget>,
    action: PowerAction,
    sink: impl PowerSink,
    cancel: CancellationToken,
) -> PowerReport {
    let opts = PowerOptions {
        project: Some(project.to_owned()),
        ..PowerOptions::default()
    };
    power_with(aws, targets, action, opts, sink, cancel).await
}

/// The state each type reaches, and the states on the way there.
fn goal(kind: ResourceType, action: PowerAction) -> (&'static str, &'static [&'static str]) {
    match (kind, action) {
        (ResourceType::RdsInstance, PowerAction::Start) => (
            "available",
            &[
                "starting",
                "rebooting",
                "modifying",
                "backing-up",
                "configuring-enhanced-monitoring",
            ],
        ),
        (ResourceType::RdsInstance, PowerAction::Stop) => ("stopped", &["stopping"]),
        (_, PowerAction::Start) => ("running", &["pending"]),
        (_, PowerAction::Stop) => ("stopped", &["stopping"]),
    }
}

fn verb(action: PowerAction) -> &'static str {
    match action {
        PowerAction::Start => "start",
        PowerAction::Stop => "stop",
    }
}

/// [`power`] with explicit timeouts and concurrency.
pub async fn power_with(
    aws: &Aws,
    targets: Vec<TerminateTarget>,
    action: PowerAction,
    opts: PowerOptions,
    sink: impl PowerSink,
    cancel: CancellationToken,
) -> PowerReport {
    let total = targets.len();
    let mut results: Vec<Option<PowerResult>> = vec![None; total];
    let mut done = 0usize;
    let finish = |slot: &mut Option<PowerResult>, r: PowerResult| *slot = Some(r);

    let mut sendable = Vec::new(); // indices of EC2/RDS instances
    for (i, t) in targets.iter().enumerate() {
        if matches!(
            t.kind,
            ResourceType::Ec2Instance | ResourceType::RdsInstance
        ) {
            sendable.push(i);
        } else {
            let r = PowerResult {
                target: t.clone(),
                outcome: PowerOutcome::Skipped,
                state: None,
                message: format!("a {} cannot be started or stopped", t.kind),
            };
            done += 1;
            sink.progress(done, total, &r).await;
            finish(&mut results[i], r);
        }
    }

    // Current states: what is already there, what is missing, what to call.
    let asked: Vec<TerminateTarget> = sendable.iter().map(|i| targets[*i].clone()).collect();
    let now = describe_targets(aws, &asked, opts.concurrency).await;
    let mut to_call: BTreeMap<(String, ResourceType), Vec<usize>> = BTreeMap::new();
    let mut to_wait: Vec<usize> = Vec::new();
    for &i in &sendable {
        let t = &targets[i];
        let key = key_of(t.kind, &t.id);
        let (target_state, on_the_way) = goal(t.kind, action);
        let refusal = now.found.get(&key).and_then(|r| {
            let p = opts.project.as_deref()?;
            ownership::may_power(&ownership::classify(r, Some(p), false), p).err()
        });
        let result = if let Some(refusal) = refusal {
            Some(PowerResult {
                target: t.clone(),
                outcome: PowerOutcome::Skipped,
                state: now.found.get(&key).and_then(|r| r.state.clone()),
                message: format!("not touched: {}", refusal.reason),
            })
        } else if let Some(r) = now.found.get(&key) {
            let state = r.state.clone().unwrap_or_default();
            if state == target_state {
                Some(PowerResult {
                    target: t.clone(),
                    outcome: PowerOutcome::Unchanged,
                    state: Some(state.clone()),
                    message: format!("already {state}"),
                })
            } else if on_the_way.contains(&state.as_str()) {
                to_wait.push(i);
                None
            } else if matches!(state.as_str(), "terminated" | "shutting-down" | "deleting") {
                Some(PowerResult {
                    target: t.clone(),
                    outcome: PowerOutcome::Failed,
                    state: Some(state.clone()),
                    message: format!("cannot {}: it is {state}", verb(action)),
                })
            } else {
                to_call
                    .entry((t.region.clone(), t.kind))
                    .or_default()
                    .push(i);
                None
            }
        } else if let Some(f) = now.failed.get(&key) {
            Some(failed(t, None, f))
        } else {
            Some(PowerResult {
                target: t.clone(),
                outcome: PowerOutcome::Failed,
                state: None,
                message: format!("not found in '{}'", t.region),
            })
        };
        if let Some(r) = result {
            done += 1;
            sink.progress(done, total, &r).await;
            finish(&mut results[i], r);
        }
    }

    // One call per region for EC2, one per database for RDS.
    let calls: Vec<Vec<(usize, Result<(), Failure>)>> = futures::stream::iter(to_call)
        .map(|((region, kind), idx)| {
            let targets = &targets;
            async move {
                let ids: Vec<String> = idx.iter().map(|i| targets[*i].id.clone()).collect();
                let outcomes = match kind {
                    ResourceType::Ec2Instance => ec2_call(aws, &region, action, ids).await,
                    _ => {
                        let mut v = Vec::new();
                        for id in ids {
                            v.push(rds_call(aws, &region, action, &id).await);
                        }
                        v
                    }
                };
                idx.into_iter().zip(outcomes).collect::<Vec<_>>()
            }
        })
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;
    for (i, outcome) in calls.into_iter().flatten() {
        match outcome {
            Ok(()) => to_wait.push(i),
            Err(f) => {
                let r = failed(&targets[i], None, &f);
                done += 1;
                sink.progress(done, total, &r).await;
                finish(&mut results[i], r);
            }
        }
    }

    // Poll until each reaches its target state, its deadline, or cancellation.
    let started = Instant::now();
    let mut delay = Duration::from_millis(500);
    let mut last_state: BTreeMap<usize, String> = BTreeMap::new();
    while !to_wait.is_empty() {
        let asked: Vec<TerminateTarget> = to_wait.iter().map(|i| targets[*i].clone()).collect();
        let now = describe_targets(aws, &asked, opts.concurrency).await;
        let mut still = Vec::new();
        for i in std::mem::take(&mut to_wait) {
            let t = &targets[i];
            let key = key_of(t.kind, &t.id);
            let (target_state, _) = goal(t.kind, action);
            let timeout = match t.kind {
                ResourceType::RdsInstance => opts.rds_timeout,
                _ => opts.ec2_timeout,
            };
            let state = now.found.get(&key).and_then(|r| r.state.clone());
            if let Some(s) = &state {
                last_state.insert(i, s.clone());
            }
            let result = match state.as_deref() {
                Some(s) if s == target_state => Some(PowerResult {
                    target: t.clone(),
                    outcome: PowerOutcome::Done,
                    state: state.clone(),
                    message: format!("{} ({s})", past(action)),
                }),
                Some(s @ ("terminated" | "shutting-down" | "deleting" | "failed")) => {
                    Some(PowerResult {
                        target: t.clone(),
                        outcome: PowerOutcome::Failed,
                        state: state.clone(),
                        message: format!("became {s} while waiting to be {target_state}"),
                    })
                }
                None if now.missing.contains(&key) => Some(PowerResult {
                    target: t.clone(),
                    outcome: PowerOutcome::Failed,
                    state: None,
                    message: "disappeared while waiting".into(),
                }),
                _ if cancel.is_cancelled() => Some(PowerResult {
                    target: t.clone(),
                    outcome: PowerOutcome::Cancelled,
                    state: last_state.get(&i).cloned(),
                    message: format!(
                        "{} requested; no longer waited for: the request was cancelled",
                        verb(action)
                    ),
                }),
                _ if started.elapsed() >= timeout => Some(PowerResult {
                    target: t.clone(),
                    outcome: PowerOutcome::Failed,
                    state: last_state.get(&i).cloned(),
                    message: format!(
                        "still '{}' after {} s, not {target_state}",
                        last_state.get(&i).map(String::as_str).unwrap_or("unknown"),
                        timeout.as_secs()
                    ),
                }),
                _ => None,
            };
            match result {
                Some(r) => {
                    done += 1;
                    sink.progress(done, total, &r).await;
                    finish(&mut results[i], r);
                }
                None => still.push(i),
            }
        }
        to_wait = still;
        if to_wait.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            _ = cancel.cancelled() => {}
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(10));
    }

    PowerReport {
        results: results
            .into_iter()
            .zip(targets)
            .map(|(r, t)| {
                r.unwrap_or_else(|| PowerResult {
                    target: t,
                    outcome: PowerOutcome::Failed,
                    state: None,
                    message: "no result".into(),
                })
            })
            .collect(),
    }
}

fn past(action: PowerAction) -> &'static str {
    match action {
        PowerAction::Start => "started",
        PowerAction::Stop => "stopped",
    }
}

fn failed(t: &TerminateTarget, state: Option<String>, f: &Failure) -> PowerResult {
    PowerResult {
        target: t.clone(),
        outcome: PowerOutcome::Failed,
        state,
        message: format!("{}: {}", f.code, f.message),
    }
}

/// One StartInstances/StopInstances call with every id; when AWS refuses the batch (one
/// instance in the wrong state refuses them all), each id is tried alone so the others go on.
async fn ec2_call(
    aws: &Aws,
    region: &str,
    action: PowerAction,
    ids: Vec<String>,
) -> Vec<Result<(), Failure>> {
    let call = |ids: Vec<String>| async move {
        let ec2 = aws.ec2(region);
        match action {
            PowerAction::Start => ec2
                .start_instances()
                .set_instance_ids(Some(ids))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("ec2:StartInstances", region, e)),
            PowerAction::Stop => ec2
                .stop_instances()
                .set_instance_ids(Some(ids))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("ec2:StopInstances", region, e)),
        }
    };
    match call(ids.clone()).await {
        Ok(()) => ids.iter().map(|_| Ok(())).collect(),
        Err(e) if ids.len() == 1 => vec![Err(Failure::from(&e))],
        Err(_) => {
            let mut out = Vec::new();
            for id in ids {
                out.push(call(vec![id]).await.map_err(|e| Failure::from(&e)));
            }
            out
        }
    }
}

async fn rds_call(aws: &Aws, region: &str, action: PowerAction, id: &str) -> Result<(), Failure> {
    let rds = aws.rds(region);
    let r = match action {
        PowerAction::Start => rds
            .start_db_instance()
            .db_instance_identifier(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("rds:StartDBInstance", region, e)),
        PowerAction::Stop => rds
            .stop_db_instance()
            .db_instance_identifier(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("rds:StopDBInstance", region, e)),
    };
    r.map_err(|e| Failure::from(&e))
}
