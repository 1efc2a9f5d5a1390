//! Rendering helpers: aligned tables, one-line event summaries, JSON lines.

use pockitect_proto::{Envelope, Event};

/// Prints rows as left-aligned columns separated by two spaces.
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut all = vec![headers.iter().map(|h| h.to_uppercase()).collect()];
    all.extend_from_slice(rows);
    rows_aligned(&all);
}

/// Prints rows as [`table`] does, without a header.
pub fn rows(rows: &[Vec<String>]) {
    rows_aligned(rows);
}

fn rows_aligned(rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if widths.len() <= i {
                widths.push(0);
            }
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                let pad = widths[i].saturating_sub(c.chars().count());
                s.push_str(c);
                s.push_str(&" ".repeat(pad + 2));
            }
        }
        out!("{}", s.trim_end());
    };
    for row in rows {
        line(row.clone());
    }
}

/// One JSON event per line (`--json`).
pub fn json_line(env: &Envelope) {
    out!("{}", env.to_json());
}

/// A one-line human summary of an event.
pub fn event_line(env: &Envelope) -> String {
    let status = env.status.map(|s| s.as_str()).unwrap_or("-");
    let mut s = format!(
        "{}  {:<16} {:<11}",
        env.ts.format("%H:%M:%S"),
        env.kind,
        status
    );
    if let Some(rid) = &env.request_id {
        s.push_str(&format!(" {}", &rid.as_str()[..rid.as_str().len().min(8)]));
    }
    if let Some(p) = &env.project_id {
        s.push_str(&format!(" [{p}]"));
    }
    let event = env.decode().ok();
    if let Some(m) = env.message() {
        s.push_str(&format!("  {m}"));
    } else if let Some(Event::ScanChunk(c)) = &event {
        s.push_str(&format!("  {}: {} resources", c.region, c.records.len()));
    } else if let Some((step, total)) = event.as_ref().and_then(Event::progress) {
        s.push_str(&format!("  {step}/{total}"));
    }
    s
}

/// Writes one line to stdout; a closed pipe ends the process with success, as for `cat`.
pub fn write_line(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}")
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}
