//! Command handlers: plain async functions from a command to an outcome, reporting progress
//! through [`Events`]. They know nothing of streams, leases or acknowledgements.

mod cost;
mod deploy;
mod info;
mod login;
mod operate;
mod projects;
mod refresh;
mod scan;
mod secrets;

use pockitect_proto::payload::{CancelRequested, Pong, Progress, Resources};
use pockitect_proto::{Command, ErrorCode, Event, Status};
use tokio_util::sync::CancellationToken;

use crate::Daemon;
use crate::events::{Events, HandlerError, Outcome};
use crate::policy::{self, Act, Ask};

/// Longest `ping` delay accepted, so a typo cannot park a worker for a day.
const MAX_PING_DELAY_MS: u64 = 10 * 60 * 1000;

pub async fn handle(
    cmd: Command,
    daemon: &Daemon,
    events: &Events,
    cancel: &CancellationToken,
) -> Result<Outcome, HandlerError> {
    match cmd {
        Command::Scan(args) => {
            policy::authorize(daemon, events, Ask::unplanned(Act::Scan)).await?;
            scan::scan(args, daemon, events, cancel).await
        }
        Command::ScanShard(args) => {
            // Judged like the scan it belongs to (it carries the scan's sender).
            policy::authorize(daemon, events, Ask::unplanned(Act::Scan)).await?;
            scan::shard(args, daemon, cancel).await
        }
        Command::QueryResources(filter) => {
            let records = daemon.estate.query(&filter);
            Ok(Outcome::success(Event::Resources(Resources {
                total: records.len(),
                records,
            })))
        }
        Command::ListProjects(_) => projects::list(daemon),
        Command::GetProject(p) => projects::get(daemon, &p.project),
        Command::GetRequest(r) => info::get_request(daemon, &r.request_id).await,
        Command::DaemonInfo(_) => info::daemon_info(daemon).await,
        Command::Cancel(r) => {
            daemon
                .bus
                .request_cancel(&r.request_id)
                .await
                .map_err(|e| HandlerError::new(ErrorCode::Internal, e.to_string()))?;
            Ok(Outcome::success(Event::CancelRequested(CancelRequested {
                request_id: r.request_id,
                message: "the request stops at its next safe point".into(),
            })))
        }
        Command::Ping(p) => {
            if p.delay_ms > MAX_PING_DELAY_MS {
                return Err(HandlerError::new(
                    ErrorCode::InvalidArguments,
                    format!(
                        "data.delay_ms: {} is more than the {MAX_PING_DELAY_MS} ms allowed",
                        p.delay_ms
                    ),
                ));
            }
            if p.delay_ms > 0 {
                events
                    .emit(
                        Event::Progress(Progress {
                            step: 0,
                            total: 1,
                            message: "waiting".into(),
                        }),
                        Status::InProgress,
                    )
                    .await;
                tokio::select! {
                    _ = cancel.cancelled() => return Err(HandlerError::new(ErrorCode::Cancelled, "ping cancelled")),
                    _ = tokio::time::sleep(std::time::Duration::from_millis(p.delay_ms)) => {}
                }
            }
            Ok(Outcome::success(Event::Pong(Pong {
                daemon: daemon.settings.daemon_id.clone(),
            })))
        }
        Command::Plan(target) => deploy::plan(target, daemon).await,
        Command::Deploy(args) => deploy::deploy(args, daemon, events, cancel).await,
        Command::Power(args) => operate::power(args, daemon, events, cancel).await,
        Command::Terminate(args) => operate::terminate(args, daemon, events, cancel).await,
        Command::Destroy(args) => operate::destroy(args, daemon, events, cancel).await,
        Command::Refresh(args) => {
            policy::authorize(daemon, events, Ask::unplanned(Act::Refresh)).await?;
            refresh::refresh(args, daemon, events, cancel).await
        }
        Command::Waste(args) => cost::waste(args, daemon),
        Command::Cost(args) => cost::spend(args, daemon).await,
        Command::DbPassword(args) => secrets::db_password(args, daemon).await,
        Command::Login(args) => login::login(args, daemon).await,
        Command::Logout(args) => login::logout(args, daemon).await,
        Command::History(args) => {
            let history = daemon.bus.history(&args).await.map_err(|e| {
                HandlerError::new(
                    ErrorCode::Internal,
                    format!("read the audit trail from Redis: {e}"),
                )
            })?;
            Ok(Outcome::success(Event::History(history)))
        }
        Command::Catalog(args) if !pockitect_blueprint::is_region_code(&args.region) => {
            Err(HandlerError::new(
                ErrorCode::InvalidArguments,
                format!(
                    "data.region: '{}' is not a region name (such as 'us-east-1')",
                    args.region.chars().take(64).collect::<String>()
                ),
            ))
        }
        Command::Catalog(args) => match crate::catalog::get(daemon, &args.region).await {
            Some(c) => Ok(Outcome::success(Event::Catalog(c))),
            None => Err(HandlerError::new(
                ErrorCode::Aws,
                format!(
                    "data.region: no catalog for '{}' (AWS did not answer and nothing is cached; see the daemon log)",
                    args.region
                ),
            )),
        },
    }
}
