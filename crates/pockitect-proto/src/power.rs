//! Power payloads: how each instance or database a `power` request touched ended, and the
//! report. The engine (`pockitect_aws::power`) produces them; clients read them from
//! `power_progress` and `power_complete` events.

use serde::{Deserialize, Serialize};

use crate::{ResourceType, TerminateTarget};

/// How one resource ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PowerOutcome {
    /// Started or stopped, and now in the target state.
    Done,
    /// Already in the target state: nothing was called.
    Unchanged,
    /// Not something that can be started or stopped.
    Skipped,
    Failed,
    /// No longer waited for: the request was cancelled.
    Cancelled,
}

/// The final state of one resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PowerResult {
    pub target: TerminateTarget,
    pub outcome: PowerOutcome,
    /// AWS's state at the end (`running`, `stopped`, `available`, …), when known.
    pub state: Option<String>,
    pub message: String,
}

/// What a power request did, one result per target in the order given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PowerReport {
    pub results: Vec<PowerResult>,
}

impl PowerReport {
    pub fn count(&self, outcome: PowerOutcome) -> usize {
        self.results.iter().filter(|r| r.outcome == outcome).count()
    }

    /// Nothing failed or was cancelled.
    pub fn is_success(&self) -> bool {
        self.count(PowerOutcome::Failed) == 0 && self.count(PowerOutcome::Cancelled) == 0
    }

    pub fn get(&self, kind: ResourceType, id: &str) -> Option<&PowerResult> {
        self.results
            .iter()
            .find(|r| r.target.kind == kind && r.target.id == id)
    }
}

/// The digest of a power request's plan: `action` on each of `targets`.
pub fn plan_digest(action: crate::PowerAction, targets: &[TerminateTarget]) -> crate::PlanDigest {
    let verb = match action {
        crate::PowerAction::Start => "start",
        crate::PowerAction::Stop => "stop",
    };
    crate::PlanDigest::of(
        targets
            .iter()
            .map(|t| format!("{verb} {} {} {}", t.kind, t.id, t.region)),
    )
}
