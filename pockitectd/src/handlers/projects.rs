//! `list_projects` and `get_project`, answered from the project store.

use pockitect_blueprint::{ValidationContext, validate};
use pockitect_proto::payload::ProjectSummary;
use pockitect_proto::{ErrorCode, Event, Projects};

use crate::Daemon;
use crate::events::{HandlerError, Outcome};

pub fn list(daemon: &Daemon) -> Result<Outcome, HandlerError> {
    let entries = daemon
        .projects
        .list()
        .map_err(|e| HandlerError::new(ErrorCode::Internal, e.to_string()))?;
    let projects = entries
        .into_iter()
        .map(|(slug, loaded)| match loaded {
            Ok(bp) => bp.summary(&slug, &validate(&bp, &ValidationContext::offline())),
            Err(e) => ProjectSummary {
                slug,
                name: None,
                region: None,
                status: None,
                valid: false,
                errors: vec![e.to_string()],
                parts: Vec::new(),
            },
        })
        .collect();
    Ok(Outcome::success(Event::Projects(Projects { projects })))
}

pub fn get(daemon: &Daemon, slug: &str) -> Result<Outcome, HandlerError> {
    match daemon.projects.load(slug) {
        Ok(bp) => {
            let report = validate(&bp, &ValidationContext::offline());
            Ok(Outcome::success(Event::Project(bp.detail(slug, &report))))
        }
        Err(e) => Err(HandlerError::new(
            ErrorCode::NotFound,
            format!("load project '{slug}': {e}; 'pockitect projects' lists the known ones"),
        )),
    }
}
