//! Projects as the daemon lists and details them: the typed `projects` and `project` answers
//! (each project's parts with status and id, its outputs), and the lines the Projects tab and
//! the details dialog show from them. Nothing here reads a blueprint's JSON.

use pockitect_proto::cost::Estimate;
use pockitect_proto::payload::{ProjectDetail, ProjectSummary};
use pockitect_proto::{Envelope, Event, Projects, ResourceType};

use crate::activity::Request;
use crate::resources::{ProjectResources, short_type};

/// One row of the Projects tab: the daemon's summary of the project.
pub type ProjectRow = ProjectSummary;

/// The projects of a `projects` answer, by slug. An answer this build cannot read yields none
/// (the caller reports it).
pub fn parse_projects(env: &Envelope) -> Option<Vec<ProjectRow>> {
    let Ok(Event::Projects(Projects { mut projects })) = env.decode() else {
        return None;
    };
    projects.sort_by(|a, b| a.slug.cmp(&b.slug));
    Some(projects)
}

/// The Deployed column: the parts in place out of those the blueprint asks for, then what the
/// last scan says of its instances (`7/7 parts · ec2 running · s3`).
pub fn deployed_summary(row: &ProjectRow, scanned: Option<&ProjectResources>) -> String {
    let (deployed, wanted) = row.deployed();
    let mut parts: Vec<String> = Vec::new();
    if deployed > 0 {
        parts.push(format!("{deployed}/{wanted} parts"));
    }
    if let Some(p) = scanned.filter(|p| p.total > 0) {
        for (kind, state) in &p.instance_states {
            parts.push(format!("{} {state}", short_type(*kind)));
        }
        if p.by_kind.contains_key(&ResourceType::S3Bucket) {
            parts.push(short_type(ResourceType::S3Bucket).to_owned());
        }
    }
    if parts.is_empty() {
        "nothing".to_owned()
    } else {
        parts.join(" · ")
    }
}

/// The project's parts, one line each: name, status, id or address.
fn part_lines(row: &ProjectRow) -> Vec<String> {
    let mut lines = vec!["Parts".to_owned()];
    for p in &row.parts {
        lines.push(format!(
            "  {:<12} {:<11} {}",
            p.name,
            p.status,
            p.id.as_deref().unwrap_or("")
        ));
    }
    if row.parts.is_empty() {
        lines.push("  (unknown: the blueprint cannot be read)".to_owned());
    }
    for e in &row.errors {
        lines.push(format!("  error: {e}"));
    }
    lines
}

/// The lines of the details dialog for a `project` answer: outputs first (what a user comes
/// for), then the parts, then the project's recent requests seen by this console.
/// The estimate a month beside the budget, for the details when the daemon sent no lines.
fn cost_line(row: &ProjectRow) -> Option<String> {
    Some(total_line(row.estimate_usd_month?, row.budget_usd_month))
}

/// `Estimate: $27.32 a month (budget $30.00)`, or OVER when above it.
pub fn total_line(usd: f64, budget: Option<f64>) -> String {
    match budget {
        Some(b) if usd > b => format!("Estimate: ${usd:.2} a month, OVER its budget of ${b:.2}"),
        Some(b) => format!("Estimate: ${usd:.2} a month (budget ${b:.2})"),
        None => format!("Estimate: ${usd:.2} a month (no budget set)"),
    }
}

/// The estimate line by line, as `pockitect plan` prints it: each charged item with its monthly
/// figure (marked `~` when derived by a regional factor, `live` when the AWS Price List API
/// priced it), the free items in one line, the total beside the budget, where prices come from.
pub fn estimate_lines(e: &Estimate, budget: Option<f64>) -> Vec<String> {
    let mut lines = vec![total_line(e.total_usd_month, budget)];
    for l in e.lines.iter().filter(|l| !l.free) {
        let usd = l
            .monthly_usd
            .map_or_else(|| "?".to_owned(), |v| format!("${v:.2}"));
        let marks = l.marks();
        let sep = if marks.is_empty() { "" } else { " " };
        lines.push(format!("  {usd:>9}  {}{sep}{marks}", l.item));
    }
    let free: Vec<String> = e
        .lines
        .iter()
        .filter(|l| l.free)
        .map(|l| l.resource.to_string())
        .collect();
    if !free.is_empty() {
        lines.push(format!("  free: {}", free.join(", ")));
    }
    if !e.complete {
        lines.push("  some lines have no price: the total is a lower bound".to_owned());
    }
    lines.push(format!(
        "  prices: {}, as of {}",
        e.origin(),
        e.prices_as_of
    ));
    lines
}

/// The estimate column: `$27.32`, with `!` when over the budget.
pub fn estimate_cell(row: &ProjectRow) -> (String, bool) {
    match row.estimate_usd_month {
        Some(e) => {
            let over = row.budget_usd_month.is_some_and(|b| e > b);
            (format!("${e:.2}{}", if over { "!" } else { "" }), over)
        }
        None => ("-".to_owned(), false),
    }
}

pub fn details_lines(detail: &ProjectDetail, recent: &[&Request]) -> Vec<String> {
    let mut lines = vec!["Outputs".to_owned()];
    let outputs = detail.outputs.rows();
    if outputs.is_empty() {
        lines.push("  (none yet: deploy the project to get them)".to_owned());
    }
    lines.extend(outputs.into_iter().map(|(k, v)| format!("  {k}: {v}")));
    lines.push(String::new());
    lines.extend(part_lines(&detail.summary));
    match &detail.estimate {
        Some(e) => {
            lines.push(String::new());
            lines.extend(estimate_lines(e, detail.summary.budget_usd_month));
        }
        None => {
            if let Some(cost) = cost_line(&detail.summary) {
                lines.push(String::new());
                lines.push(cost);
            }
        }
    }
    lines.push(String::new());
    lines.push("Recent requests".to_owned());
    if recent.is_empty() {
        lines.push("  (none seen by this console)".to_owned());
    }
    for r in recent {
        lines.push(format!(
            "  {} {:<8} {:<10} {}",
            r.started.format("%H:%M:%S"),
            r.kind,
            r.status_word(),
            r.message.as_deref().unwrap_or("")
        ));
    }
    lines.push(String::new());
    lines.push(format!("Blueprint: projects/{}.json", detail.summary.slug));
    lines
}

/// The lines of the details dialog when the daemon cannot be asked: the entry from the list.
pub fn offline_details(row: &ProjectRow) -> Vec<String> {
    let mut lines = vec![
        "Not connected to Redis: this is the entry from the last list.".to_owned(),
        String::new(),
    ];
    lines.extend(part_lines(row));
    lines
}

#[cfg(test)]
mod tests {
    use pockitect_proto::Status;
    use pockitect_proto::deploy::Outputs;
    use pockitect_proto::payload::Part;

    use super::*;

    fn row(slug: &str, parts: &[(&str, bool, Option<&str>)]) -> ProjectRow {
        ProjectSummary {
            slug: slug.into(),
            name: Some(slug.to_uppercase()),
            region: Some("us-east-1".into()),
            status: Some("running".into()),
            valid: true,
            errors: vec![],
            parts: parts
                .iter()
                .map(|(name, wanted, id)| Part {
                    name: (*name).into(),
                    wanted: *wanted,
                    status: if *wanted { "running" } else { "not wanted" }.into(),
                    id: id.map(Into::into),
                })
                .collect(),
            estimate_usd_month: None,
            budget_usd_month: None,
        }
    }

    #[test]
    fn rows_come_sorted_from_a_typed_answer() {
        let env = Envelope::of(
            Event::Projects(Projects {
                projects: vec![row("b", &[]), row("a", &[])],
            }),
            None,
            None,
            Status::Success,
        );
        let slugs: Vec<String> = parse_projects(&env)
            .unwrap()
            .into_iter()
            .map(|r| r.slug)
            .collect();
        assert_eq!(slugs, ["a", "b"]);
        let other = Envelope::event("projects", None, None, Status::Success, "[1]".into());
        assert_eq!(parse_projects(&other), None);
    }

    #[test]
    fn deployed_counts_parts_before_any_scan() {
        let r = row(
            "blog",
            &[
                ("network", true, Some("vpc-1")),
                ("compute", true, Some("i-1")),
                ("database", true, None),
                ("certificate", false, None),
            ],
        );
        assert_eq!(deployed_summary(&r, None), "2/3 parts");
        assert_eq!(
            deployed_summary(&row("new", &[("network", true, None)]), None),
            "nothing"
        );
        let mut scanned = ProjectResources {
            total: 9,
            ..Default::default()
        };
        scanned
            .instance_states
            .push((ResourceType::Ec2Instance, "running".into()));
        scanned.by_kind.insert(ResourceType::S3Bucket, 1);
        assert_eq!(
            deployed_summary(&r, Some(&scanned)),
            "2/3 parts · ec2 running · s3"
        );
    }

    #[test]
    fn details_itemise_the_estimate_and_say_where_prices_come_from() {
        use pockitect_proto::cost::{EstimateLine, Unit};
        use pockitect_proto::deploy::Resource;
        let line = |resource, item: &str, usd: f64, free, live| EstimateLine {
            resource,
            item: item.into(),
            quantity: if free { 1.0 } else { 730.0 },
            unit: if free { Unit::Month } else { Unit::Hour },
            unit_price_usd: Some(usd / 730.0),
            monthly_usd: Some(usd),
            free,
            minimum: false,
            derived: false,
            live,
            note: None,
        };
        let e = Estimate {
            project: "blog".into(),
            region: "us-east-1".into(),
            currency: "USD".into(),
            lines: vec![
                line(Resource::Vpc, "VPC", 0.0, true, false),
                line(
                    Resource::Ec2Instance,
                    "t3.micro Linux on-demand, us-east-1",
                    8.1,
                    false,
                    true,
                ),
                line(
                    Resource::Ec2Instance,
                    "public IPv4 address of the instance",
                    3.65,
                    false,
                    false,
                ),
            ],
            total_usd_month: 11.75,
            complete: true,
            prices_source: "the AWS Price List API".into(),
            prices_as_of: "2026-12-03".into(),
            from_bundled_table: false,
            notes: vec![],
        };
        let mut summary = row("blog", &[]);
        summary.budget_usd_month = Some(10.0);
        let detail = ProjectDetail {
            summary,
            outputs: Outputs::default(),
            blueprint: serde_json::json!({}),
            estimate: Some(e),
        };
        let lines = details_lines(&detail, &[]);
        let at = lines
            .iter()
            .position(|l| l.starts_with("Estimate:"))
            .unwrap();
        assert_eq!(
            lines[at..at + 5],
            [
                "Estimate: $11.75 a month, OVER its budget of $10.00",
                "      $8.10  t3.micro Linux on-demand, us-east-1 live",
                "      $3.65  public IPv4 address of the instance",
                "  free: vpc",
                "  prices: live list prices (lines marked live), as of 2026-12-03",
            ]
        );
    }

    #[test]
    fn details_show_outputs_parts_and_no_json() {
        let detail = ProjectDetail {
            summary: row("blog", &[("network", true, Some("vpc-1"))]),
            outputs: Outputs {
                public_ip: Some("1.2.3.4".into()),
                ..Outputs::default()
            },
            blueprint: serde_json::json!({"project": {"slug": "blog"}}),
            estimate: None,
        };
        let lines = details_lines(&detail, &[]);
        assert_eq!(lines[0], "Outputs");
        assert_eq!(lines[1], "  public_ip: 1.2.3.4");
        assert!(
            lines
                .iter()
                .any(|l| l.contains("network") && l.contains("vpc-1"))
        );
        assert!(!lines.iter().any(|l| l.contains('{')), "{lines:?}");
    }

    #[test]
    fn the_estimate_shows_beside_the_budget_and_marks_an_overrun() {
        let mut r = row("blog", &[]);
        assert_eq!(estimate_cell(&r), ("-".to_owned(), false));
        assert_eq!(cost_line(&r), None);
        r.estimate_usd_month = Some(27.32);
        assert_eq!(estimate_cell(&r), ("$27.32".to_owned(), false));
        assert_eq!(
            cost_line(&r).unwrap(),
            "Estimate: $27.32 a month (no budget set)"
        );
        r.budget_usd_month = Some(20.0);
        assert_eq!(estimate_cell(&r), ("$27.32!".to_owned(), true));
        assert!(cost_line(&r).unwrap().contains("OVER its budget of $20.00"));
    }
}
