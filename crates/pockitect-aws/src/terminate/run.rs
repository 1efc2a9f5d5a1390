//! The layer loop, independent of AWS: each layer in parallel under a bound, dependency
//! failures retried in further passes until passes stop making progress, then the waits for
//! deletions AWS finishes on its own (instances, RDS instances, NAT gateways).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use pockitect_proto::{ResourceRecord, ResourceType};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{
    Outcome, PlannedDelete, TerminateAction, TerminateOptions, TerminatePlan, TerminateReport,
    TerminateSink,
};
use crate::lookup::Failure;

/// The longest pause between two retry passes.
const MAX_PASS_DELAY: Duration = Duration::from_secs(15);

/// How a delete call ended when it did not fail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Done {
    Deleted(String),
    AlreadyGone(String),
    /// AWS accepted the deletion and finishes it on its own: wait for it.
    Started(String),
}

/// Deletes one resource, and waits for started deletions. The AWS implementation is
/// `delete::AwsExecutor`; tests use a fake.
pub(crate) trait Executor: Sync {
    fn delete(&self, item: &PlannedDelete) -> impl Future<Output = Result<Done, Failure>> + Send;

    /// Waits until each item is gone, until `deadline`, or until cancelled (code `cancelled`).
    /// One result per item, in order.
    fn wait_gone(
        &self,
        items: &[&PlannedDelete],
        deadline: Instant,
        cancel: CancellationToken,
    ) -> impl Future<Output = Vec<Result<String, Failure>>> + Send;
}

/// Errors that mean "something still depends on it": worth another pass once the rest of
/// the layer is gone.
pub(crate) fn is_retryable(code: &str) -> bool {
    matches!(
        code,
        "DependencyViolation"
            | "ResourceInUse"
            | "ResourceInUseException"
            | "DeleteConflict"
            | "IncorrectState"
            | "BucketNotEmpty"
            | "OperationAborted"
            | "InvalidDBInstanceState"
            | "InvalidDBInstanceStateFault"
            | "InvalidDBSubnetGroupStateFault"
            | "InvalidDBSubnetGroupState"
    ) || code.ends_with("InUse")
}

/// The sink's message when a deletion starts.
fn start_message(r: &ResourceRecord, opts: &TerminateOptions) -> String {
    match r.kind {
        ResourceType::Ec2Instance => "terminating instance".to_owned(),
        ResourceType::RdsInstance if opts.final_snapshot => {
            "deleting database (with a final snapshot)".to_owned()
        }
        ResourceType::RdsInstance => "deleting database (no final snapshot)".to_owned(),
        ResourceType::NatGateway => "deleting NAT gateway".to_owned(),
        ResourceType::ElasticIp => "disassociating and releasing Elastic IP".to_owned(),
        ResourceType::EbsVolume => "deleting volume".to_owned(),
        ResourceType::KeyPair => {
            "deleting key pair from AWS (the local private key file is not touched)".to_owned()
        }
        ResourceType::IamInstanceProfile => {
            "removing roles from instance profile, then deleting it".to_owned()
        }
        ResourceType::S3Bucket => {
            "emptying bucket (every object version and delete marker), then deleting it".to_owned()
        }
        ResourceType::IamRole => {
            "detaching managed policies and deleting inline policies, then deleting role".to_owned()
        }
        ResourceType::SecurityGroup => "deleting security group".to_owned(),
        ResourceType::Subnet => "deleting subnet".to_owned(),
        ResourceType::DbSubnetGroup => "deleting DB subnet group".to_owned(),
        ResourceType::RouteTable => {
            "removing route table associations, then deleting it".to_owned()
        }
        ResourceType::InternetGateway => "detaching internet gateway, then deleting it".to_owned(),
        ResourceType::Vpc => "deleting VPC".to_owned(),
    }
}

enum Attempt {
    Result(Result<Done, Failure>),
    Cancelled,
}

struct Ctx<'a, S> {
    sink: &'a S,
    total: usize,
    step: AtomicUsize,
}

impl<S: TerminateSink> Ctx<'_, S> {
    async fn report(&self, r: &ResourceRecord, action: TerminateAction, message: &str) {
        let step = self.step.load(Ordering::SeqCst);
        self.sink
            .progress(step, self.total, r, action, message)
            .await;
    }

    async fn finish(
        &self,
        report: &mut TerminateReport,
        r: &ResourceRecord,
        outcome: Outcome,
        code: Option<String>,
        message: String,
    ) {
        let step = self.step.fetch_add(1, Ordering::SeqCst) + 1;
        let action = match outcome {
            Outcome::Deleted => TerminateAction::Deleted,
            Outcome::AlreadyGone => TerminateAction::AlreadyGone,
            Outcome::Failed => TerminateAction::Failed,
            Outcome::Skipped | Outcome::Cancelled => TerminateAction::Cancelled,
        };
        self.sink
            .progress(step, self.total, r, action, &message)
            .await;
        report.push(r, outcome, code, message);
    }
}

/// One deletion attempt, reported as it starts.
async fn attempt<'a, E: Executor, S: TerminateSink>(
    exec: &E,
    ctx: &Ctx<'_, S>,
    item: &'a PlannedDelete,
    opts: &TerminateOptions,
    cancel: &CancellationToken,
) -> (&'a PlannedDelete, Attempt) {
    if cancel.is_cancelled() {
        return (item, Attempt::Cancelled);
    }
    ctx.report(
        &item.record,
        TerminateAction::Deleting,
        &start_message(&item.record, opts),
    )
    .await;
    (item, Attempt::Result(exec.delete(item).await))
}

pub(crate) async fn run<E: Executor, S: TerminateSink>(
    exec: &E,
    plan: TerminatePlan,
    sink: &S,
    cancel: &CancellationToken,
) -> TerminateReport {
    let opts = plan.options.clone();
    let mut report = TerminateReport::default();
    for s in &plan.skipped {
        sink.skipped(&s.record, &s.reason).await;
        let code = serde_json::to_value(s.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned));
        report.push(&s.record, Outcome::Skipped, code, s.reason.clone());
    }
    let ctx = Ctx {
        sink,
        total: plan.total(),
        step: AtomicUsize::new(0),
    };
    let concurrency = opts.concurrency.max(1);

    for layer in &plan.layers {
        let mut pending: Vec<&PlannedDelete> = layer.items.iter().collect();
        let mut started: Vec<(&PlannedDelete, String)> = Vec::new();
        let mut stalled = 0u32;
        let mut pass = 1u32;
        let mut delay = opts.pass_delay;
        loop {
            // The futures are built first, of a named async fn: a stream mapped through a
            // closure that borrows is `Send` for one lifetime only, which would keep the engine
            // off `tokio::spawn` (and out of reach of cancellation).
            let futures: Vec<_> = pending
                .into_iter()
                .map(|item| attempt(exec, &ctx, item, &opts, cancel))
                .collect();
            let attempts: Vec<(&PlannedDelete, Attempt)> = futures::stream::iter(futures)
                .buffer_unordered(concurrency)
                .collect()
                .await;

            let mut retry: Vec<(&PlannedDelete, Failure)> = Vec::new();
            let mut progressed = false;
            for (item, attempt) in attempts {
                let r = &item.record;
                match attempt {
                    Attempt::Cancelled => {
                        ctx.finish(
                            &mut report,
                            r,
                            Outcome::Cancelled,
                            None,
                            "not deleted: the request was cancelled".into(),
                        )
                        .await;
                    }
                    Attempt::Result(Ok(Done::Deleted(m))) => {
                        progressed = true;
                        ctx.finish(&mut report, r, Outcome::Deleted, None, m).await;
                    }
                    Attempt::Result(Ok(Done::AlreadyGone(m))) => {
                        progressed = true;
                        ctx.finish(&mut report, r, Outcome::AlreadyGone, None, m)
                            .await;
                    }
                    Attempt::Result(Ok(Done::Started(m))) => {
                        progressed = true;
                        ctx.report(r, TerminateAction::Waiting, &m).await;
                        started.push((item, m));
                    }
                    Attempt::Result(Err(f)) if is_retryable(&f.code) => retry.push((item, f)),
                    Attempt::Result(Err(f)) => {
                        ctx.finish(&mut report, r, Outcome::Failed, Some(f.code), f.message)
                            .await;
                    }
                }
            }
            if retry.is_empty() {
                break;
            }
            stalled = if progressed { 0 } else { stalled + 1 };
            let give_up = stalled >= opts.stalled_passes.max(1) || cancel.is_cancelled();
            if !give_up {
                for (item, f) in &retry {
                    let msg = format!(
                        "{}: {} (pass {pass}; trying again once the rest of this layer is gone)",
                        f.code, f.message
                    );
                    ctx.report(&item.record, TerminateAction::Retrying, &msg)
                        .await;
                }
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => {}
                    _ = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(MAX_PASS_DELAY);
            }
            if give_up || cancel.is_cancelled() {
                for (item, f) in retry {
                    let message = if cancel.is_cancelled() {
                        format!(
                            "{} (the request was cancelled before another try)",
                            f.message
                        )
                    } else {
                        format!("{} (still failing after {pass} passes)", f.message)
                    };
                    ctx.finish(
                        &mut report,
                        &item.record,
                        Outcome::Failed,
                        Some(f.code),
                        message,
                    )
                    .await;
                }
                break;
            }
            pending = retry.into_iter().map(|(i, _)| i).collect();
            pass += 1;
        }

        if !started.is_empty() {
            let items: Vec<&PlannedDelete> = started.iter().map(|(i, _)| *i).collect();
            let deadline = Instant::now() + opts.wait_timeout;
            let results = exec.wait_gone(&items, deadline, cancel.clone()).await;
            for ((item, first), result) in started.iter().zip(results) {
                let r = &item.record;
                match result {
                    Ok(m) => {
                        ctx.finish(
                            &mut report,
                            r,
                            Outcome::Deleted,
                            None,
                            format!("{first}; {m}"),
                        )
                        .await;
                    }
                    Err(f) if f.code == "cancelled" => {
                        ctx.finish(&mut report, r, Outcome::Cancelled, None, f.message)
                            .await;
                    }
                    Err(f) => {
                        ctx.finish(&mut report, r, Outcome::Failed, Some(f.code), f.message)
                            .await;
                    }
                }
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet, HashMap};
    use std::sync::Mutex;

    use pockitect_proto::{ResourceRecord, ResourceType};

    use super::*;
    use crate::terminate::{NoopSink, plan::into_layers};

    /// moto does not emulate most dependency violations (it deletes a security group still in
    /// use, a subnet with instances, …), so the pass/retry loop is tested here with a fake
    /// executor whose resources refuse deletion while the resources they depend on exist.
    struct Fake {
        /// id -> ids that must be gone first
        blocked_by: HashMap<&'static str, Vec<&'static str>>,
        /// ids that refuse deletion with a non-retryable error
        denied: Vec<&'static str>,
        existing: Mutex<BTreeSet<String>>,
        calls: Mutex<Vec<String>>,
    }

    impl Fake {
        fn new(ids: &[&'static str], blocked_by: &[(&'static str, &[&'static str])]) -> Self {
            Fake {
                blocked_by: blocked_by.iter().map(|(k, v)| (*k, v.to_vec())).collect(),
                denied: Vec::new(),
                existing: Mutex::new(ids.iter().map(|s| (*s).to_owned()).collect()),
                calls: Mutex::new(Vec::new()),
            }
        }
    }

    impl Executor for Fake {
        async fn delete(&self, item: &PlannedDelete) -> Result<Done, Failure> {
            let id = item.record.id.as_str();
            self.calls.lock().unwrap().push(id.to_owned());
            if self.denied.contains(&id) {
                return Err(Failure {
                    code: "UnauthorizedOperation".into(),
                    message: "not allowed".into(),
                });
            }
            let mut existing = self.existing.lock().unwrap();
            if let Some(deps) = self.blocked_by.get(id)
                && let Some(d) = deps.iter().find(|d| existing.contains(**d))
            {
                return Err(Failure {
                    code: "DependencyViolation".into(),
                    message: format!("resource {id} has a dependent object ({d})"),
                });
            }
            if !existing.remove(id) {
                return Ok(Done::AlreadyGone("gone".into()));
            }
            if item.record.kind == ResourceType::Ec2Instance {
                return Ok(Done::Started("terminating".into()));
            }
            Ok(Done::Deleted("deleted".into()))
        }

        async fn wait_gone(
            &self,
            items: &[&PlannedDelete],
            _deadline: Instant,
            _cancel: CancellationToken,
        ) -> Vec<Result<String, Failure>> {
            items.iter().map(|_| Ok("terminated".into())).collect()
        }
    }

    fn plan_of(items: &[(ResourceType, &str)]) -> TerminatePlan {
        let planned = items
            .iter()
            .map(|(k, id)| PlannedDelete {
                record: ResourceRecord::new(*k, *id, "us-east-1", BTreeMap::new()),
                found_in: None,
                note: None,
            })
            .collect();
        TerminatePlan {
            layers: into_layers(planned),
            skipped: Vec::new(),
            projects: BTreeSet::new(),
            options: TerminateOptions {
                pass_delay: Duration::from_millis(1),
                stalled_passes: 2,
                ..TerminateOptions::default()
            },
        }
    }

    #[tokio::test]
    async fn dependency_violations_are_retried_until_they_clear() {
        // Three security groups in one layer referencing each other in a chain: sg-a can only
        // go after sg-b, sg-b after sg-c. Each pass deletes one more.
        let fake = Fake::new(
            &["sg-a", "sg-b", "sg-c", "i-1"],
            &[("sg-a", &["sg-b"]), ("sg-b", &["sg-c"]), ("sg-c", &["i-1"])],
        );
        let plan = plan_of(&[
            (ResourceType::SecurityGroup, "sg-a"),
            (ResourceType::SecurityGroup, "sg-b"),
            (ResourceType::SecurityGroup, "sg-c"),
            (ResourceType::Ec2Instance, "i-1"),
        ]);
        let report = run(&fake, plan, &NoopSink, &CancellationToken::new()).await;
        assert!(report.is_success(), "{report:#?}");
        assert_eq!(report.deleted, 4);
        assert!(fake.existing.lock().unwrap().is_empty());
        // i-1 once; sg-c once (layer after the instance); sg-b twice; sg-a three times.
        let calls = fake.calls.lock().unwrap();
        let count = |id: &str| calls.iter().filter(|c| *c == id).count();
        assert_eq!(
            (count("i-1"), count("sg-c"), count("sg-b"), count("sg-a")),
            (1, 1, 2, 3)
        );
    }

    #[tokio::test]
    async fn a_pass_without_progress_ends_with_aws_message() {
        // sg-a depends on something outside the plan: it never clears.
        let fake = Fake::new(&["sg-a", "sg-b"], &[("sg-a", &["eni-foreign"])]);
        fake.existing.lock().unwrap().insert("eni-foreign".into());
        let plan = plan_of(&[
            (ResourceType::SecurityGroup, "sg-a"),
            (ResourceType::SecurityGroup, "sg-b"),
        ]);
        let report = run(&fake, plan, &NoopSink, &CancellationToken::new()).await;
        assert_eq!((report.deleted, report.failed), (1, 1));
        let failed = report.get(ResourceType::SecurityGroup, "sg-a").unwrap();
        assert_eq!(failed.outcome, Outcome::Failed);
        assert_eq!(failed.code.as_deref(), Some("DependencyViolation"));
        assert!(failed.message.contains("eni-foreign"), "{}", failed.message);
        // First pass: sg-b deleted (progress). Then `stalled_passes` (2) passes without progress.
        let calls = fake.calls.lock().unwrap();
        assert_eq!(calls.iter().filter(|c| *c == "sg-a").count(), 3);
    }

    #[tokio::test]
    async fn other_errors_fail_at_once_and_cancel_stops_the_rest() {
        let mut fake = Fake::new(&["sg-a", "vpc-1"], &[]);
        fake.denied.push("sg-a");
        let plan = plan_of(&[
            (ResourceType::SecurityGroup, "sg-a"),
            (ResourceType::Vpc, "vpc-1"),
        ]);
        let report = run(&fake, plan, &NoopSink, &CancellationToken::new()).await;
        assert_eq!(report.failed, 1);
        assert_eq!(
            fake.calls
                .lock()
                .unwrap()
                .iter()
                .filter(|c| *c == "sg-a")
                .count(),
            1
        );
        assert_eq!(report.deleted, 1);

        let fake = Fake::new(&["sg-a"], &[]);
        let cancel = CancellationToken::new();
        cancel.cancel();
        let plan = plan_of(&[(ResourceType::SecurityGroup, "sg-a")]);
        let report = run(&fake, plan, &NoopSink, &cancel).await;
        assert_eq!(report.cancelled, 1);
        assert!(fake.calls.lock().unwrap().is_empty());
    }

    #[test]
    fn retryable_codes() {
        for c in [
            "DependencyViolation",
            "InvalidGroup.InUse",
            "ResourceInUse",
            "DeleteConflict",
            "VolumeInUse",
            "InvalidIPAddress.InUse",
        ] {
            assert!(is_retryable(c), "{c}");
        }
        for c in [
            "AccessDenied",
            "InvalidVpcID.NotFound",
            "UnauthorizedOperation",
        ] {
            assert!(!is_retryable(c), "{c}");
        }
    }
}
