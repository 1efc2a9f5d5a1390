//! Refresh: what recorded resources look like now, read through the lookup layer
//! (`crate::lookup`, shared with scan, power and terminate). Describe calls are batched per
//! region and type (DescribeInstances with up to 100 ids, …); a resource that is gone is
//! reported as `exists: false` for its own id, never as a failure of the whole batch.

use pockitect_proto::{ResourceType, TerminateTarget};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Aws;
use crate::lookup::{describe_targets, key_of};

/// Describe calls in flight at once for one refresh.
const CONCURRENCY: usize = 8;

/// The current state of one recorded resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshedState {
    pub target: TerminateTarget,
    /// False when AWS no longer knows the resource (or only as terminated/deleted).
    pub exists: bool,
    /// AWS's state (`running`, `stopped`, `available`, `terminated`, …) when it reports one.
    pub state: Option<String>,
    /// Public IPv4 address (EC2 instances, Elastic IPs).
    pub public_ip: Option<String>,
    /// Endpoint address (RDS instances).
    pub endpoint: Option<String>,
    /// Why the state could not be read (AccessDenied, network, …); `exists` is then true (not
    /// known to be gone) and `state` is None.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Describes each target, in the order given (duplicates answered once each).
pub async fn describe(aws: &Aws, targets: Vec<TerminateTarget>) -> Vec<RefreshedState> {
    let found = describe_targets(aws, &targets, CONCURRENCY).await;
    targets
        .into_iter()
        .map(|target| {
            let key = key_of(target.kind, &target.id);
            if let Some(rec) = found.found.get(&key) {
                let state = rec.state.clone();
                let gone = matches!(
                    (rec.kind, state.as_deref()),
                    (ResourceType::Ec2Instance, Some("terminated"))
                        | (ResourceType::NatGateway, Some("deleted"))
                );
                let text = |k: &str| {
                    rec.details
                        .get(k)
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                };
                RefreshedState {
                    exists: !gone,
                    state,
                    public_ip: text("public_ip"),
                    endpoint: text("endpoint"),
                    error: None,
                    target,
                }
            } else if let Some(f) = found.failed.get(&key) {
                RefreshedState {
                    exists: true,
                    state: None,
                    public_ip: None,
                    endpoint: None,
                    error: Some(format!("{}: {}", f.code, f.message)),
                    target,
                }
            } else {
                RefreshedState {
                    exists: false,
                    state: None,
                    public_ip: None,
                    endpoint: None,
                    error: None,
                    target,
                }
            }
        })
        .collect()
}
