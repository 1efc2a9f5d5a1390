//! `cargo bench -p pockitect-tui`: the console under the load (10,000 resources and
//! 1,000 events a second) and ten times that estate, driving `update` and `view` on a
//! TestBackend. No bench framework: a few repeated runs, best and worst printed.

use std::time::Duration;

use pockitect_tui::synthetic::{LoadReport, run_load};

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn row(label: &str, runs: &[LoadReport], f: impl Fn(&LoadReport) -> Duration) {
    let mut v: Vec<Duration> = runs.iter().map(f).collect();
    v.sort();
    println!(
        "  {label:<44} best {:>10}   worst {:>10}",
        ms(v[0]),
        ms(v[v.len() - 1])
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this too, without it:
    // keep that run quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let runs = if quick { 1 } else { 5 };
    for (records, events, w, h) in [
        (10_000, 1_000, 80, 24),
        (10_000, 1_000, 200, 60),
        (100_000, 1_000, 120, 40),
    ] {
        if quick && records > 10_000 {
            continue;
        }
        let reports: Vec<LoadReport> = (0..runs).map(|_| run_load(records, events, w, h)).collect();
        println!("{records} resources, {events} events/s, {w}x{h} terminal, {runs} runs:");
        row("ingest every record (parse + index)", &reports, |r| {
            r.ingest
        });
        row("one second of events (update + 30 frames)", &reports, |r| {
            r.one_second
        });
        row("worst frame during that second", &reports, |r| {
            r.worst_frame
        });
        row("key press + redraw, scrolling the table", &reports, |r| {
            r.scroll_frame
        });
        row("search keystroke + redraw", &reports, |r| r.search_key);
        row("Activity redraw, 50 running requests", &reports, |r| {
            r.activity_frame
        });
    }
}
