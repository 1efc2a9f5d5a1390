//! `history`: the daemon's audit trail read back, newest first: who asked for what, how it
//! ended, and what it did to which AWS resources.

use chrono::{DateTime, NaiveDate, Utc};
use pockitect_bus::Bus;
use pockitect_proto::audit::{AuditEntry, History, TouchAction};
use pockitect_proto::{Command, Event, HistoryArgs as WireHistory, Status};

use crate::follow::{CliError, exit_code_of, send_and_follow, unexpected};
use crate::{Global, output};

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Only this project's requests.
    #[arg(long)]
    pub project: Option<String>,
    /// Only what ended since then: a time (2026-12-01, 2026-12-01T10:00:00Z) or an age
    /// (30m, 12h, 7d, 2w).
    #[arg(long, value_parser = parse_since)]
    pub since: Option<DateTime<Utc>>,
    /// Only requests that did this to at least one resource.
    #[arg(long, value_parser = |s: &str| s.parse::<TouchAction>())]
    pub action: Option<TouchAction>,
    /// Only this command (deploy, destroy, terminate, power, scan, refresh, ...).
    #[arg(long)]
    pub command: Option<String>,
    /// At most this many entries.
    #[arg(long, default_value_t = WireHistory::DEFAULT_LIMIT)]
    pub limit: usize,
}

/// A time, a date (midnight UTC) or an age back from now.
fn parse_since(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = s.parse::<NaiveDate>() {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = n.parse().map_err(|_| bad_since(s))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad_since(s)),
    };
    n.checked_mul(secs)
        .and_then(chrono::Duration::try_seconds)
        .and_then(|d| Utc::now().checked_sub_signed(d))
        .ok_or_else(|| bad_since(s))
}

fn bad_since(s: &str) -> String {
    format!(
        "'{s}' is neither a time (2026-12-01T10:00:00Z), a date (2026-12-01) nor an age (30m, 12h, 7d, 2w)"
    )
}

pub async fn run(g: &Global, bus: &Bus, a: HistoryArgs) -> Result<i32, CliError> {
    let filter = WireHistory {
        project: a.project,
        since: a.since,
        command: a.command,
        action: a.action,
        limit: Some(a.limit),
    };
    let t = send_and_follow(g, bus, &Command::History(filter), |_| {}).await?;
    if t.status != Some(Status::Success) {
        eprintln!(
            "error: {}",
            t.message().unwrap_or("reading the history failed")
        );
        return Ok(exit_code_of(&t));
    }
    let Ok(Event::History(History { entries, truncated })) = t.decode() else {
        return Err(unexpected(&t));
    };
    if g.json {
        out!("{}", serde_json::to_string(&entries).unwrap_or_default());
        return Ok(0);
    }
    if entries.is_empty() {
        eprintln!("nothing recorded matches");
        return Ok(0);
    }
    for e in &entries {
        print_entry(e);
    }
    if truncated {
        eprintln!(
            "(the {} newest shown; narrow with --since, --project, --action or raise --limit)",
            entries.len()
        );
    }
    Ok(0)
}

/// One entry: a header line, then each resource it touched.
fn print_entry(e: &AuditEntry) {
    let mut what = e.command.clone();
    if let Some(p) = &e.project {
        what.push_str(&format!(" {p}"));
    }
    let status = if e.refused {
        format!(
            "refused ({})",
            e.code.map(|c| c.to_string()).unwrap_or_default()
        )
    } else {
        e.status.to_string()
    };
    out!(
        "{}  {:<24} {:<22} {}  {}",
        e.ended_at.format("%Y-%m-%d %H:%M:%S"),
        what,
        status,
        e.client,
        &e.request_id.as_str()[..e.request_id.as_str().len().min(8)]
    );
    if !e.message.is_empty() {
        out!("    {}", e.message);
    }
    if e.authorization.override_policy {
        out!(
            "    policy overridden ({})",
            e.authorization.rule.as_deref().unwrap_or("-")
        );
    }
    let rows: Vec<Vec<String>> = e
        .resources
        .iter()
        .map(|r| {
            vec![
                format!("    {}", r.action),
                r.kind.clone(),
                r.id.clone(),
                r.region.clone(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        output::rows(&rows);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_reads_times_dates_and_ages() {
        assert_eq!(
            parse_since("2026-12-01T10:00:00Z").unwrap().to_rfc3339(),
            "2026-12-01T10:00:00+00:00"
        );
        assert_eq!(
            parse_since("2026-12-01").unwrap().to_rfc3339(),
            "2026-12-01T00:00:00+00:00"
        );
        let two_hours = Utc::now() - parse_since("2h").unwrap();
        assert!(
            (7190..=7210).contains(&two_hours.num_seconds()),
            "{two_hours}"
        );
        assert!(
            parse_since("yesterday")
                .unwrap_err()
                .contains("'yesterday'")
        );
        assert!(parse_since("5y").is_err());
    }
}
