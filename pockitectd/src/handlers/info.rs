//! `daemon_info` (what `pockitect doctor` shows) and `get_request`.

use pockitect_proto::payload::{AwsCheck, Backlog, DaemonInfo, RequestInfo, RequestState};
use pockitect_proto::{ErrorCode, Event, RequestId};

use crate::Daemon;
use crate::events::{HandlerError, Outcome};

pub async fn daemon_info(daemon: &Daemon) -> Result<Outcome, HandlerError> {
    let aws = match daemon.aws.identity().await {
        Ok(id) => AwsCheck {
            ok: true,
            identity: Some(id),
            code: None,
            message: None,
        },
        Err(e) => AwsCheck {
            ok: false,
            identity: None,
            code: Some(e.code().to_owned()),
            message: Some(e.to_string()),
        },
    };
    let daemons = daemon.bus.daemons().await.unwrap_or_default();
    let (waiting, pending) = daemon.bus.backlog().await.unwrap_or((0, 0));
    Ok(Outcome::success(Event::DaemonInfo(DaemonInfo {
        daemon: daemon.heartbeat(),
        daemons,
        aws,
        aws_endpoint_url: daemon.aws.settings().endpoint_url.clone(),
        aws_region: Some(daemon.aws.home_region().to_owned()),
        backlog: Backlog { waiting, pending },
        estate_records: daemon.estate.len(),
        projects_dir: daemon.settings.projects_dir.display().to_string(),
        cache_dir: daemon.settings.cache_dir.display().to_string(),
        aws_credentials: Some(daemon.aws.credentials_info().await),
    })))
}

pub async fn get_request(daemon: &Daemon, id: &RequestId) -> Result<Outcome, HandlerError> {
    let internal =
        |e: pockitect_bus::BusError| HandlerError::new(ErrorCode::Internal, e.to_string());
    if let Some(done) = daemon.bus.done_event(id).await.map_err(internal)? {
        return Ok(Outcome::success(Event::Request(RequestInfo {
            request_id: id.clone(),
            state: RequestState::Finished,
            terminal: Some(Box::new(done)),
            daemon: None,
            in_flight: None,
        })));
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
        Some((daemon_id, f)) => Ok(Outcome::success(Event::Request(RequestInfo {
            request_id: id.clone(),
            state: RequestState::Running,
            terminal: None,
            daemon: Some(daemon_id),
            in_flight: Some(f),
        }))),
        None => Err(HandlerError::new(
            ErrorCode::NotFound,
            format!(
                "request {id} is not running and did not finish in the last day; check the id ('pockitect watch' lists recent requests)"
            ),
        )),
    }
}
