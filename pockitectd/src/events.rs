//! The event sink handlers report through: every event carries the request's id and project.

use pockitect_bus::Bus;
use pockitect_proto::audit::Touched;
use pockitect_proto::{Approval, ClientInfo, Envelope, ErrorCode, Event, RequestId, Status};
use serde_json::Value;

#[derive(Clone)]
pub struct Events {
    bus: Bus,
    request_id: RequestId,
    project: Option<String>,
    /// The approval the command carried (what [`crate::policy::authorize`] checks).
    approval: Approval,
    /// Who sent the command (the audit trail's sender; a scan's shards carry it on).
    client: Option<ClientInfo>,
}

impl Events {
    pub fn new(bus: Bus, request_id: RequestId, project: Option<String>) -> Self {
        Self {
            bus,
            request_id,
            project,
            approval: Approval::default(),
            client: None,
        }
    }

    /// The same sink for a command sent by `client`.
    pub fn with_client(mut self, client: Option<ClientInfo>) -> Self {
        self.client = client;
        self
    }

    pub fn client(&self) -> Option<&ClientInfo> {
        self.client.as_ref()
    }

    /// The same sink for a command that carried `approval`.
    pub fn with_approval(mut self, approval: Approval) -> Self {
        self.approval = approval;
        self
    }

    pub fn approval(&self) -> &Approval {
        &self.approval
    }

    /// Notes AWS resources the request just acted on, for its audit entry. Kept in Redis as it
    /// goes, so that a daemon resuming the request after a crash loses none; a failure to note
    /// one is logged (the request goes on: stopping half-way would be worse).
    pub async fn touched(&self, touched: Vec<Touched>) {
        if let Err(e) = self.bus.record_touched(&self.request_id, &touched).await {
            tracing::warn!(request_id = %self.request_id, error = %e, resources = ?touched, "could not note resources for the audit trail");
        }
    }

    /// The request these events belong to (also the owner of any project lock it takes).
    pub fn request_id(&self) -> &RequestId {
        &self.request_id
    }

    pub fn envelope(&self, kind: &str, status: Status, data: Value) -> Envelope {
        Envelope::event(
            kind,
            Some(self.request_id.clone()),
            self.project.clone(),
            status,
            data,
        )
    }

    /// The envelope of a typed event of this request.
    pub fn envelope_of(&self, event: Event, status: Status) -> Envelope {
        let (kind, data) = event.into_parts();
        self.envelope(kind, status, data)
    }

    /// Publishes a non-terminal event. A failure to publish is logged, not fatal: the request
    /// goes on and its terminal event is retried by the worker.
    pub async fn emit(&self, event: Event, status: Status) {
        let (kind, data) = event.into_parts();
        self.emit_raw(kind, status, data).await;
    }

    async fn emit_raw(&self, kind: &str, status: Status, data: Value) {
        debug_assert!(
            !status.is_terminal(),
            "terminal events go through the worker"
        );
        if let Err(e) = self
            .bus
            .publish_event(&self.envelope(kind, status, data))
            .await
        {
            tracing::warn!(request_id = %self.request_id, error = %e, "could not publish an event");
        }
    }
}

/// How a handler ended: the terminal event's type, status and data.
#[derive(Debug)]
pub struct Outcome {
    pub kind: &'static str,
    pub status: Status,
    pub data: Value,
}

impl Outcome {
    /// The terminal `event`, ending with `status`.
    pub fn new(event: Event, status: Status) -> Self {
        let (kind, data) = event.into_parts();
        Self { kind, status, data }
    }

    pub fn success(event: Event) -> Self {
        Self::new(event, Status::Success)
    }
}

/// A handler failure, sent as an `error` event with a code and a message for the user.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct HandlerError {
    pub code: ErrorCode,
    pub message: String,
}

impl HandlerError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<pockitect_aws::AwsError> for HandlerError {
    fn from(e: pockitect_aws::AwsError) -> Self {
        let code = if e.is_access_denied() {
            ErrorCode::AccessDenied
        } else {
            ErrorCode::Aws
        };
        Self::new(code, e.to_string())
    }
}
