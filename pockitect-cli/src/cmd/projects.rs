use pockitect_bus::Bus;
use pockitect_proto::{Command, Empty, Status};

use crate::follow::{CliError, exit_code_of, send_and_follow};
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
    let projects = t.data.get("projects").cloned().unwrap_or_default();
    if g.json {
        out!("{projects}");
        return Ok(0);
    }
    let s =
        |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_owned();
    let rows: Vec<Vec<String>> = projects
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    let valid = p.get("valid").and_then(|v| v.as_bool()).unwrap_or(false);
                    vec![
                        s(p, "slug"),
                        s(p, "name"),
                        s(p, "region"),
                        s(p, "status"),
                        if valid { "yes".into() } else { "NO".into() },
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    if rows.is_empty() {
        eprintln!("no projects yet");
    } else {
        output::table(&["slug", "name", "region", "status", "valid"], &rows);
    }
    Ok(0)
}
