use pockitect_bus::Bus;
use pockitect_proto::{Command, Empty, Event, Projects, Status};

use crate::follow::{CliError, exit_code_of, send_and_follow, unexpected};
use crate::{Global, output};

pub async fn run(g: &Global, bus: &Bus) -> Result<i32, CliError> {
    let t = send_and_follow(g, bus, &Command::ListProjects(Empty {}), |_| {}).await?;
    if t.status != Some(Status::Success) {
        eprintln!(
            "error: {}",
            t.message().unwrap_or("listing projects failed")
        );
        return Ok(exit_code_of(&t));
    }
    let Ok(Event::Projects(Projects { projects })) = t.decode() else {
        return Err(unexpected(&t));
    };
    if g.json {
        out!("{}", serde_json::to_string(&projects).unwrap_or_default());
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = projects
        .into_iter()
        .map(|p| {
            let (deployed, wanted) = p.deployed();
            vec![
                p.slug,
                p.name.unwrap_or_default(),
                p.region.unwrap_or_default(),
                p.status.unwrap_or_default(),
                format!("{deployed}/{wanted}"),
                if p.valid { "yes".into() } else { "NO".into() },
            ]
        })
        .collect();
    if rows.is_empty() {
        eprintln!("no projects yet");
    } else {
        output::table(
            &["slug", "name", "region", "status", "deployed", "valid"],
            &rows,
        );
    }
    Ok(0)
}
