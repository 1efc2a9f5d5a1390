//! Wire types shared by the daemon and its clients: the JSON envelope that travels on the Redis
//! bus, the typed commands and event payloads inside it, resource records, request ids, error
//! codes and process exit codes. Nothing here does I/O; it depends on serde and little else so
//! the CLI and TUI build fast and every crate agrees on one format.

pub mod audit;
mod codes;
mod command;
pub mod cost;
mod decode;
pub mod deploy;
mod envelope;
mod event;
#[cfg(any(test, feature = "fuzz"))]
pub mod fuzz;
pub mod payload;
pub mod power;
mod request_id;
mod resource;
pub mod terminate;
pub mod validation;

pub use audit::{Approval, ClientInfo, ClientKind, HistoryArgs, PlanDigest};
pub use codes::{ErrorCode, ErrorPayload, exit};
pub use command::{
    BlueprintRef, CatalogArgs, Command, CommandError, CostArgs, DbPasswordArgs, DeployArgs,
    DestroyArgs, Empty, LoginArgs, LogoutArgs, PingArgs, PowerAction, PowerArgs, ProjectRef,
    RefreshArgs, RequestRef, ScanArgs, ScanShardArgs, TerminateArgs, TerminateTarget, WasteArgs,
};
pub use decode::{MAX_COMMAND_BYTES, Refusal, Request, decode, salvage_request_id};
pub use envelope::{Envelope, PROTOCOL_VERSION, Status};
pub use event::{
    AnswerSummary, Catalog, DaemonHeartbeat, Event, EventError, InFlight, Projects, ReplyRef,
    ScanChunk, ScanComplete, ScanError, event_type,
};
pub use request_id::{RequestId, RequestIdError};
pub use resource::{ResourceFilter, ResourceRecord, ResourceType, UnknownResourceType};

/// Tag keys Pockitect writes on every resource it manages.
pub mod tags {
    /// The project slug that owns the resource.
    pub const PROJECT: &str = "pockitect:project";
    /// `true` on every resource Pockitect created or adopted.
    pub const MANAGED: &str = "pockitect:managed";
    /// `true` marks a resource that terminate and destroy never delete.
    pub const PROTECT: &str = "pockitect:protect";
}
