//! Money: `waste` (what the last scan shows paid for and idle, priced from the prices the daemon
//! has cached over the bundled table; the daemon's estate only, no AWS call) and `cost` (what was actually paid, per
//! project, from Cost Explorer).

use std::collections::{BTreeMap, BTreeSet};

use pockitect_proto::cost::{CostReport, PeriodSpend, ProjectCost};
use pockitect_proto::{CostArgs, ErrorCode, Event, ResourceFilter, WasteArgs, tags};

use crate::Daemon;
use crate::events::{HandlerError, Outcome};

pub fn waste(args: WasteArgs, daemon: &Daemon) -> Result<Outcome, HandlerError> {
    // The whole estate, narrowed afterwards: a NAT gateway is judged by the route tables and
    // instances of its VPC, a stopped instance priced by the volumes that name it.
    let records = daemon.estate.query(&ResourceFilter::default());
    let mut report = pockitect_cost::find_waste(&records, &daemon.prices.cached());
    report.narrow(args.region.as_deref(), args.project.as_deref());
    if records.is_empty() {
        report.notes.insert(
            0,
            "the daemon has no scan yet: run 'pockitect scan' first".to_owned(),
        );
    }
    Ok(Outcome::success(Event::Waste(report)))
}

/// `cost`: what each project actually cost (Cost Explorer, by the `pockitect:project` cost
/// allocation tag), month to date and last month, beside its estimate and budget.
pub async fn spend(args: CostArgs, daemon: &Daemon) -> Result<Outcome, HandlerError> {
    let today = chrono::Utc::now().date_naive();
    let spend = pockitect_aws::spend::by_project(&daemon.aws, today).await?;
    // Estimates and budgets of the projects the store knows.
    let mut known: BTreeMap<String, (Option<f64>, Option<f64>)> = BTreeMap::new();
    let prices = daemon.prices.cached();
    if let Ok(entries) = daemon.projects.list() {
        for (slug, bp) in entries {
            if let Ok(bp) = bp {
                let e = pockitect_cost::estimate(&bp, &prices);
                known.insert(slug, (Some(e.total_usd_month), bp.project.budget_usd_month));
            }
        }
    }
    let names: BTreeSet<&String> = known
        .keys()
        .chain(spend.month_to_date.by_project.keys())
        .chain(spend.last_month.by_project.keys())
        .collect();
    let cents = pockitect_proto::cost::cents;
    let projects: Vec<ProjectCost> = names
        .into_iter()
        .filter(|p| args.project.as_ref().is_none_or(|want| want == *p))
        .map(|p| {
            let (estimate, budget) = known.get(p).copied().unwrap_or_default();
            ProjectCost {
                project: p.clone(),
                month_to_date_usd: cents(
                    spend
                        .month_to_date
                        .by_project
                        .get(p)
                        .copied()
                        .unwrap_or(0.0),
                ),
                last_month_usd: cents(spend.last_month.by_project.get(p).copied().unwrap_or(0.0)),
                estimate_usd_month: estimate,
                budget_usd_month: budget,
            }
        })
        .collect();
    let period = |p: &pockitect_aws::spend::Period| PeriodSpend {
        start: p.start.to_string(),
        end: p.end.to_string(),
        total_usd: cents(p.total),
        untagged_usd: cents(p.untagged),
        estimated: p.estimated,
    };
    let paid = spend.month_to_date.total + spend.last_month.total;
    let tagged = spend.month_to_date.by_project.len() + spend.last_month.by_project.len();
    let tag_active = paid <= 0.0 || tagged > 0;
    let mut notes = vec![
        "Cost Explorer charges $0.01 for each request: this was one".to_owned(),
        "figures are unblended costs; the current month's are estimated until it closes".to_owned(),
    ];
    if !tag_active {
        notes.insert(
            0,
            format!(
                "the account paid ${paid:.2} but none of it carries the {} tag: activate it as a cost allocation tag (Billing console → Cost allocation tags → select {} → Activate; or 'aws ce update-cost-allocation-tags-status --cost-allocation-tags-status TagKey={},Status=Active'); costs are grouped by it from then on, up to a day later, never backwards",
                tags::PROJECT,
                tags::PROJECT,
                tags::PROJECT
            ),
        );
    }
    if let Some(p) = &args.project
        && projects.is_empty()
    {
        return Err(HandlerError::new(
            ErrorCode::NotFound,
            format!(
                "no project '{p}' in the store and no cost tagged for it; 'pockitect projects' lists the known ones"
            ),
        ));
    }
    let currency = spend
        .month_to_date
        .unit
        .clone()
        .or(spend.last_month.unit.clone())
        .unwrap_or_else(|| "USD".to_owned());
    Ok(Outcome::success(Event::Cost(CostReport {
        month_to_date: period(&spend.month_to_date),
        last_month: period(&spend.last_month),
        projects,
        tag_active,
        currency,
        notes,
    })))
}
