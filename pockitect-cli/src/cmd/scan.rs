use std::collections::BTreeMap;

use indicatif::{ProgressBar, ProgressStyle};
use pockitect_bus::Bus;
use pockitect_proto::{Command, ResourceType, ScanChunk, ScanComplete, event_type};

use crate::follow::{CliError, exit_code_of, send_and_follow};
use crate::{Global, output};

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// Regions to scan, comma-separated (default: every enabled region).
    #[arg(long, value_delimiter = ',')]
    pub regions: Vec<String>,
    /// Resource types to list, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub types: Vec<ResourceType>,
}

pub async fn run(g: &Global, bus: &Bus, a: ScanArgs) -> Result<i32, CliError> {
    let cmd = Command::Scan(pockitect_proto::ScanArgs {
        regions: (!a.regions.is_empty()).then_some(a.regions),
        types: (!a.types.is_empty()).then_some(a.types),
    });
    let bar = if g.json {
        ProgressBar::hidden()
    } else {
        let b = ProgressBar::new(0);
        b.set_style(
            ProgressStyle::with_template("{spinner} scanning {pos}/{len} regions  {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b.enable_steady_tick(std::time::Duration::from_millis(120));
        b
    };
    let mut records = 0usize;
    let terminal = send_and_follow(g, bus, &cmd, |env| {
        if g.json {
            output::json_line(env);
            return;
        }
        if env.kind == event_type::SCAN_CHUNK
            && let Ok(chunk) = serde_json::from_value::<ScanChunk>(env.data.clone())
        {
            records += chunk.records.len();
            bar.set_length(chunk.chunks as u64);
            bar.set_position(chunk.chunk as u64);
            bar.set_message(format!(
                "{}: {} resources ({records} so far)",
                chunk.region,
                chunk.records.len()
            ));
            for e in &chunk.errors {
                bar.println(format!(
                    "  ! {} {}: {}: {}",
                    e.region, e.service, e.code, e.message
                ));
            }
        }
    })
    .await;
    bar.finish_and_clear();
    let terminal = terminal?;
    if !g.json {
        match serde_json::from_value::<ScanComplete>(terminal.data.clone()) {
            Ok(done) => print_summary(&done),
            Err(_) => eprintln!(
                "scan failed: {}",
                terminal.message().unwrap_or("unknown error")
            ),
        }
    }
    Ok(exit_code_of(&terminal))
}

fn print_summary(done: &ScanComplete) {
    out!(
        "Scanned {} regions in {:.1}s: {} resources{}",
        done.regions.len(),
        done.duration_ms as f64 / 1000.0,
        done.total,
        done.account
            .as_deref()
            .map(|a| format!(" (account {a})"))
            .unwrap_or_default()
    );
    let rows: Vec<Vec<String>> = done
        .counts
        .iter()
        .map(|(t, n)| vec![t.clone(), n.to_string()])
        .collect();
    if !rows.is_empty() {
        output::table(&["type", "count"], &rows);
    }
    if !done.errors.is_empty() {
        let mut by_code: BTreeMap<&str, usize> = BTreeMap::new();
        for e in &done.errors {
            *by_code.entry(e.code.as_str()).or_default() += 1;
        }
        eprintln!(
            "{} region/service errors (the rest of the scan went on):",
            done.errors.len()
        );
        for e in done.errors.iter().take(20) {
            eprintln!("  {} {}: {}: {}", e.region, e.service, e.code, e.message);
        }
        if done.errors.len() > 20 {
            eprintln!(
                "  … and {} more (use --json for all)",
                done.errors.len() - 20
            );
        }
    }
}
