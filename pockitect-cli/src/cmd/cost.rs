//! `cost [SLUG]`: what each project actually cost (Cost Explorer), month to date and last
//! month, beside its estimate and budget.

use pockitect_bus::Bus;
use pockitect_proto::{Command, CostArgs as Wire, Event, Status};

use crate::follow::{CliError, exit_code_of, send_and_follow, unexpected};
use crate::{Global, output};

#[derive(Debug, clap::Args)]
pub struct CostArgs {
    /// One project (default: every project that cost something or is known).
    pub project: Option<String>,
}

pub async fn run(g: &Global, bus: &Bus, a: CostArgs) -> Result<i32, CliError> {
    let t = send_and_follow(g, bus, &Command::Cost(Wire { project: a.project }), |_| {}).await?;
    if t.status != Some(Status::Success) {
        eprintln!("error: {}", t.message().unwrap_or("cost failed"));
        return Ok(exit_code_of(&t));
    }
    let Ok(Event::Cost(r)) = t.decode() else {
        return Err(unexpected(&t));
    };
    if g.json {
        out!("{}", serde_json::to_string(&r).unwrap_or_default());
        return Ok(0);
    }
    let money = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("${v:.2}"));
    let rows: Vec<Vec<String>> = r
        .projects
        .iter()
        .map(|p| {
            let over = p
                .budget_usd_month
                .filter(|b| p.month_to_date_usd > *b)
                .map(|_| "OVER BUDGET")
                .unwrap_or("");
            vec![
                p.project.clone(),
                money(Some(p.month_to_date_usd)),
                money(Some(p.last_month_usd)),
                money(p.estimate_usd_month),
                money(p.budget_usd_month),
                over.to_owned(),
            ]
        })
        .collect();
    let est = if r.month_to_date.estimated {
        " (estimated)"
    } else {
        ""
    };
    out!(
        "Spend in {} — this month from {}{est}, last month from {}:",
        r.currency,
        r.month_to_date.start,
        r.last_month.start
    );
    output::table(
        &[
            "project",
            "month to date",
            "last month",
            "estimate/month",
            "budget",
            "",
        ],
        &rows,
    );
    out!(
        "untagged: ${:.2} this month, ${:.2} last month; account total: ${:.2} and ${:.2}",
        r.month_to_date.untagged_usd,
        r.last_month.untagged_usd,
        r.month_to_date.total_usd,
        r.last_month.total_usd
    );
    for n in &r.notes {
        eprintln!("note: {n}");
    }
    Ok(0)
}
