//! `waste`: what the last scan shows paid for and idle, with a monthly figure each and a total.
//! `--json` prints the items alone, the array `pockitect terminate --from-json -` reads.

use pockitect_bus::Bus;
use pockitect_proto::cost::WasteReport;
use pockitect_proto::{Command, Event, Status, WasteArgs as Wire};

use crate::follow::{CliError, exit_code_of, send_and_follow, unexpected};
use crate::{Global, output};

#[derive(Debug, clap::Args)]
pub struct WasteArgs {
    /// Only this region.
    #[arg(long)]
    pub region: Option<String>,
    /// Only what is tagged for this project.
    #[arg(long)]
    pub project: Option<String>,
    /// With --json: the whole report (items, protected, total, prices, notes) instead of the
    /// items alone.
    #[arg(long)]
    pub report: bool,
}

pub async fn run(g: &Global, bus: &Bus, a: WasteArgs) -> Result<i32, CliError> {
    let cmd = Command::Waste(Wire {
        region: a.region,
        project: a.project,
    });
    let t = send_and_follow(g, bus, &cmd, |_| {}).await?;
    if t.status != Some(Status::Success) {
        eprintln!("error: {}", t.message().unwrap_or("waste failed"));
        return Ok(exit_code_of(&t));
    }
    let Ok(Event::Waste(report)) = t.decode() else {
        return Err(unexpected(&t));
    };
    if g.json {
        let doc = if a.report {
            serde_json::to_string(&report)
        } else {
            serde_json::to_string(&report.items)
        };
        out!("{}", doc.unwrap_or_default());
        return Ok(0);
    }
    print(&report);
    Ok(0)
}

fn print(r: &WasteReport) {
    let money = |v: Option<f64>, minimum: bool| match v {
        Some(v) if minimum => format!("≥ ${v:.2}"),
        Some(v) => format!("${v:.2}"),
        None => "?".to_owned(),
    };
    let rows = |items: &[pockitect_proto::cost::WasteItem]| -> Vec<Vec<String>> {
        items
            .iter()
            .map(|i| {
                vec![
                    i.kind.to_string(),
                    i.id.clone(),
                    i.region.clone(),
                    i.project.clone().unwrap_or_default(),
                    money(i.monthly_usd, i.minimum),
                    format!(
                        "{}{}",
                        i.reason,
                        if i.derived { " (~derived price)" } else { "" }
                    ),
                ]
            })
            .collect()
    };
    if r.items.is_empty() {
        out!("nothing idle found in the last scan");
    } else {
        output::table(
            &["type", "id", "region", "project", "month", "why"],
            &rows(&r.items),
        );
        let lower = if r.complete { "" } else { " or more" };
        out!(
            "total: ${:.2}{lower} a month for {} idle resource(s)",
            r.total_usd_month,
            r.items.len()
        );
    }
    if !r.protected.is_empty() {
        out!("");
        out!("protected (pockitect:protect=true, never offered for cleanup):");
        output::table(
            &["type", "id", "region", "project", "month", "why"],
            &rows(&r.protected),
        );
    }
    let from = if r.from_bundled_table {
        "the price table bundled with Pockitect"
    } else {
        "the AWS Price List API"
    };
    eprintln!(
        "prices: {from}, as of {}: {}",
        r.prices_as_of, r.prices_source
    );
    for n in &r.notes {
        eprintln!("note: {n}");
    }
    if !r.items.is_empty() {
        eprintln!("clean up: pockitect waste --json | pockitect terminate --from-json -");
    }
}
