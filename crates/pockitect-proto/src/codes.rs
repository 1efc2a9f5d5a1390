use serde::{Deserialize, Serialize};

/// Machine-readable cause carried by every error event (`data.code`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The command was not valid JSON or not an envelope.
    Malformed,
    /// The envelope's `type` names no command this daemon knows.
    UnknownCommand,
    /// The command's `data` did not have the expected shape.
    InvalidArguments,
    /// The command was larger than the daemon accepts.
    TooLarge,
    /// A blueprint failed validation.
    InvalidBlueprint,
    /// A project, request or resource was not found.
    NotFound,
    /// Another request holds the project's lock.
    Locked,
    /// AWS refused the credentials or the action.
    AccessDenied,
    /// AWS answered with an error.
    Aws,
    /// A resource the blueprint records belongs to another project (or is protected): nothing
    /// was changed.
    Conflict,
    /// The request was cancelled.
    Cancelled,
    /// The daemon shut down or lost its lease before finishing.
    Interrupted,
    /// Redis lost the request's state while it ran (restarted without persistence, or evicted
    /// its keys): the request stopped at a safe point; running the command again is safe.
    RedisStateLost,
    /// A destructive command came without the digest of the plan its user confirmed, and the
    /// daemon's policy needs one: plan first (`--dry-run`), then send the digest.
    ApprovalRequired,
    /// The plan changed between the one confirmed and the one the daemon made now (the estate
    /// changed): nothing was done; look at the new plan and confirm it.
    PlanChanged,
    /// A rule of the daemon's policy denies the command (the message names it).
    PolicyDenied,
    /// The deploy's estimate exceeds the blueprint's `project.budget_usd_month`: nothing was
    /// done (`--over-budget` deploys anyway).
    OverBudget,
    /// Anything else: a bug or an environment problem.
    Internal,
}

impl std::fmt::Display for ErrorCode {
    /// Its name on the wire (`invalid_blueprint`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(name)) => f.write_str(&name),
            _ => write!(f, "{self:?}"),
        }
    }
}

impl ErrorCode {
    /// The process exit code a client uses when a request ends with this error.
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorCode::Malformed
            | ErrorCode::UnknownCommand
            | ErrorCode::InvalidArguments
            | ErrorCode::TooLarge => exit::USAGE,
            ErrorCode::InvalidBlueprint | ErrorCode::Conflict => exit::INVALID,
            ErrorCode::NotFound => exit::NOT_FOUND,
            ErrorCode::Locked => exit::LOCKED,
            ErrorCode::Cancelled => exit::CANCELLED,
            ErrorCode::AccessDenied | ErrorCode::Aws => exit::AWS,
            ErrorCode::ApprovalRequired
            | ErrorCode::PlanChanged
            | ErrorCode::PolicyDenied
            | ErrorCode::OverBudget => exit::REFUSED,
            ErrorCode::Interrupted | ErrorCode::RedisStateLost | ErrorCode::Internal => {
                exit::FAILURE
            }
        }
    }
}

/// `data` of an error event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorPayload {
    pub code: ErrorCode,
    pub message: String,
}

/// Exit codes of the `pockitect` CLI, documented in `pockitect --help`.
pub mod exit {
    /// The request succeeded.
    pub const SUCCESS: i32 = 0;
    /// The request failed, or the CLI hit an unexpected problem.
    pub const FAILURE: i32 = 1;
    /// Bad command-line usage or a malformed command.
    pub const USAGE: i32 = 2;
    /// The request finished with some parts failed (`partial`).
    pub const PARTIAL: i32 = 3;
    /// No Redis or no live daemon.
    pub const UNAVAILABLE: i32 = 4;
    /// A blueprint is invalid.
    pub const INVALID: i32 = 5;
    /// The request was cancelled.
    pub const CANCELLED: i32 = 6;
    /// Another request holds the project.
    pub const LOCKED: i32 = 7;
    /// Waiting for the request timed out.
    pub const TIMEOUT: i32 = 8;
    /// A project, request or resource was not found.
    pub const NOT_FOUND: i32 = 9;
    /// AWS refused or failed.
    pub const AWS: i32 = 10;
    /// The daemon refused the command: its policy denies it, it needs an approved plan, the
    /// plan changed since it was confirmed, or a deploy would exceed the project's budget.
    pub const REFUSED: i32 = 11;
    /// The user pressed Ctrl-C while following a request (128 + SIGINT, as shells report);
    /// the request itself goes on.
    pub const INTERRUPTED: i32 = 130;
}
