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
    let prices = daemon.prices.cached();
    let projects = entries
        .into_iter()
        .map(|(slug, loaded)| match loaded {
            Ok(bp) => {
                let mut summary = bp.summary(&slug, &validate(&bp, &ValidationContext::offline()));
                summary.estimate_usd_month = Some(estimate_usd_month(&bp, &prices));
                summary
            }
            Err(e) => ProjectSummary {
                slug,
                name: None,
                region: None,
                status: None,
                valid: false,
                errors: vec![e.to_string()],
                parts: Vec::new(),
                estimate_usd_month: None,
                budget_usd_month: None,
            },
        })
        .collect();
    Ok(Outcome::success(Event::Projects(Projects { projects })))
}

pub fn get(daemon: &Daemon, slug: &str) -> Result<Outcome, HandlerError> {
    match daemon.projects.load(slug) {
        Ok(bp) => {
            let report = validate(&bp, &ValidationContext::offline());
            let mut detail = bp.detail(slug, &report);
            let estimate = pockitect_cost::estimate(&bp, &daemon.prices.cached());
            detail.summary.estimate_usd_month = Some(estimate.total_usd_month);
            detail.estimate = Some(estimate);
            Ok(Outcome::success(Event::Project(detail)))
        }
        Err(e) => Err(HandlerError::new(
            ErrorCode::NotFound,
            format!("load project '{slug}': {e}; 'pockitect projects' lists the known ones"),
        )),
    }
}

/// The project's monthly estimate at the prices the daemon has cached (no AWS call: listing
/// projects never waits on the Price List API).
fn estimate_usd_month(
    bp: &pockitect_blueprint::Blueprint,
    prices: &pockitect_cost::PriceTable,
) -> f64 {
    pockitect_cost::estimate(bp, prices).total_usd_month
}
