//! `list_projects` and `get_project`, answered from the project store.

use pockitect_blueprint::{ValidationContext, validate};
use pockitect_proto::{ErrorCode, event_type};
use serde_json::{Value, json};

use crate::Daemon;
use crate::events::{HandlerError, Outcome};

pub fn list(daemon: &Daemon) -> Result<Outcome, HandlerError> {
    let entries = daemon
        .projects
        .list()
        .map_err(|e| HandlerError::new(ErrorCode::Internal, e.to_string()))?;
    let projects: Vec<Value> = entries
        .into_iter()
        .map(|(slug, loaded)| match loaded {
            Ok(bp) => {
                let report = validate(&bp, &ValidationContext::offline());
                json!({
                    "slug": slug,
                    "name": bp.project.name,
                    "region": bp.region(),
                    "status": serde_json::to_value(&bp.compute.status).unwrap_or(Value::Null),
                    "valid": report.is_ok(),
                    "errors": report.errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
                })
            }
            Err(e) => json!({ "slug": slug, "valid": false, "errors": [e.to_string()] }),
        })
        .collect();
    Ok(Outcome::success(
        event_type::PROJECTS,
        json!({ "projects": projects }),
    ))
}

pub fn get(daemon: &Daemon, slug: &str) -> Result<Outcome, HandlerError> {
    match daemon.projects.load(slug) {
        Ok(bp) => Ok(Outcome::success(
            event_type::PROJECT,
            json!({ "slug": slug, "blueprint": bp }),
        )),
        Err(e) => Err(HandlerError::new(
            ErrorCode::NotFound,
            format!("load project '{slug}': {e}; 'pockitect projects' lists the known ones"),
        )),
    }
}
