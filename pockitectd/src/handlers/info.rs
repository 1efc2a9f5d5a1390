//! `daemon_info` (what `pockitect doctor` shows) and `get_request`.

use pockitect_proto::{ErrorCode, RequestId, event_type};
use serde_json::json;

use crate::Daemon;
use crate::events::{HandlerError, Outcome};

pub async fn daemon_info(daemon: &Daemon) -> Result<Outcome, HandlerError> {
    let aws = match daemon.aws.identity().await {
        Ok(id) => json!({ "ok": true, "identity": id }),
        Err(e) => json!({ "ok": false, "code": e.code(), "message": e.to_string() }),
    };
    let daemons = daemon.bus.daemons().await.unwrap_or_default();
    let (waiting, pending) = daemon.bus.backlog().await.unwrap_or((0, 0));
    Ok(Outcome::success(
        event_type::DAEMON_INFO,
        json!({
            "daemon": daemon.heartbeat(),
            "daemons": daemons,
            "aws": aws,
            "aws_endpoint_url": daemon.aws.settings().endpoint_url,
            "aws_region": daemon.aws.home_region(),
            "backlog": { "waiting": waiting, "pending": pending },
            "estate_records": daemon.estate.len(),
            "projects_dir": daemon.settings.projects_dir,
            "cache_dir": daemon.settings.cache_dir,
        }),
    ))
}

pub async fn get_request(daemon: &Daemon, id: &RequestId) -> Result<Outcome, HandlerError> {
    let internal =
        |e: pockitect_bus::BusError| HandlerError::new(ErrorCode::Internal, e.to_string());
    if let Some(done) = daemon.bus.done_event(id).await.map_err(internal)? {
        return Ok(Outcome::success(
            event_type::REQUEST,
            json!({ "request_id": id, "state": "finished", "terminal": done }),
        ));
    }
    let running = daemon
        .bus
        .daemons()
        .await
        .map_err(internal)?
        .into_iter()
        .flat_map(|d| d.in_flight.into_iter().map(move |f| (d.id.clone(), f)))
        .find(|(_, f)| &f.request_id == id);
    match running {
        Some((daemon_id, f)) => Ok(Outcome::success(
            event_type::REQUEST,
            json!({ "request_id": id, "state": "running", "daemon": daemon_id, "in_flight": f }),
        )),
        None => Err(HandlerError::new(
            ErrorCode::NotFound,
            format!(
                "request {id} is not running and did not finish in the last day; check the id ('pockitect watch' lists recent requests)"
            ),
        )),
    }
}
