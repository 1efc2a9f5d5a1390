use std::time::Duration;

use pockitect_bus::Bus;
use pockitect_proto::{Command, RequestId, RequestRef};

use crate::follow::{CliError, exit_code_of, follow, send_and_follow};
use crate::{Global, output};

#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// The request to follow; without it, every event is shown live.
    pub request_id: Option<String>,
    /// With no request id: first replay the events still in the replay stream.
    #[arg(long)]
    pub replay: bool,
}

#[derive(Debug, clap::Args)]
pub struct CancelArgs {
    pub request_id: String,
}

fn parse_id(s: &str) -> Result<RequestId, CliError> {
    RequestId::parse(s).map_err(|e| CliError::Usage(e.to_string()))
}

pub async fn run(g: &Global, bus: &Bus, a: WatchArgs) -> Result<i32, CliError> {
    let print = |env: &pockitect_proto::Envelope| {
        if g.json {
            output::json_line(env);
        } else {
            out!("{}", output::event_line(env));
        }
    };
    match a.request_id {
        Some(id) => {
            let id = parse_id(&id)?;
            // Replays the request's events still in the stream, then follows it live; a request
            // finished long ago is answered from its recorded terminal event.
            let terminal = follow(g, bus, &id, "0-0", &mut |e| print(e)).await?;
            Ok(exit_code_of(&terminal))
        }
        None => {
            let start = if a.replay {
                "0-0".to_owned()
            } else {
                bus.last_event_id().await?
            };
            let mut reader = bus.event_reader(start).await?;
            loop {
                let batch = tokio::select! {
                    b = reader.next_batch(Duration::from_secs(2), 500) => b?,
                    _ = tokio::signal::ctrl_c() => return Ok(0),
                };
                for (_, env) in batch {
                    print(&env);
                }
            }
        }
    }
}

pub async fn cancel(g: &Global, bus: &Bus, a: CancelArgs) -> Result<i32, CliError> {
    let target = parse_id(&a.request_id)?;
    let terminal = send_and_follow(
        g,
        bus,
        &Command::Cancel(RequestRef {
            request_id: target.clone(),
        }),
        |_| {},
    )
    .await?;
    if g.json {
        output::json_line(&terminal);
    } else {
        out!("cancel requested for {target}; it stops at its next safe point");
    }
    Ok(exit_code_of(&terminal))
}
