//! The Daemons tab: Redis, every live daemon's heartbeat, and the requests they are running.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState};

use super::{age, centered_note, window};
use crate::app::{ConnState, Model};

/// Heartbeats older than this are shown as late.
const STALE_SECS: i64 = 15;

pub(super) fn render(model: &Model, f: &mut Frame, area: Rect) {
    let t = model.theme;
    let d = &model.daemons;
    let [redis, list, flight] = Layout::vertical([
        Constraint::Length(4),
        Constraint::Percentage(50),
        Constraint::Min(4),
    ])
    .areas(area);

    // Redis.
    let mut lines = vec![Line::from(vec![
        Span::raw(model.redis_url.clone()),
        Span::styled(format!("  prefix {}", model.prefix), t.dim()),
    ])];
    lines.push(match &model.conn {
        ConnState::Connected { since } => {
            let mut spans = vec![
                Span::styled("● connected", t.ok()),
                Span::raw(format!(" for {}", age(model.now, *since))),
            ];
            if let Some(h) = &d.health {
                spans.push(Span::raw(format!(
                    " · ping {:.1} ms · commands: {} waiting, {} taken",
                    h.latency_ms, h.waiting, h.pending
                )));
            }
            Line::from(spans)
        }
        ConnState::Connecting => Line::from(Span::styled("◌ connecting…", t.warn())),
        ConnState::Disconnected {
            reason, attempts, ..
        } => Line::from(vec![
            Span::styled("✗ unavailable: ", t.err()),
            Span::raw(format!("{reason} (attempt {attempts})")),
        ]),
    });
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(Span::styled(" Redis ", t.title()))),
        redis,
    );

    // Daemons.
    let block = Block::bordered().title(Line::from(vec![
        Span::styled(" Daemons ", t.title()),
        Span::raw(format!("{} ", d.list.len())),
    ]));
    let inner = block.inner(list);
    f.render_widget(block, list);
    if d.list.is_empty() {
        let note = if d.polled.is_some() {
            vec![
                Line::from("No daemon is running: commands wait in the queue."),
                Line::from(Span::styled("Start one with: pockitectd", t.dim())),
            ]
        } else {
            vec![Line::from("Looking for daemons…")]
        };
        centered_note(f, inner, note);
    } else {
        let height = usize::from(inner.height.saturating_sub(1));
        let (start, end) = window(d.selected, d.list.len(), height, &model.view.daemons);
        let rows = d.list[start..end].iter().map(|h| {
            let late = (model.now - h.last_seen).num_seconds() > STALE_SECS;
            Row::new(vec![
                Cell::from(h.id.clone()),
                Cell::from(h.host.clone()),
                Cell::from(h.pid.to_string()),
                Cell::from(h.version.clone()),
                Cell::from(format!("{}/{}", h.in_flight.len(), h.workers)),
                Cell::from(h.handled.to_string()),
                Cell::from(age(model.now, h.started_at)),
                Cell::from(Span::styled(
                    age(model.now, h.last_seen),
                    if late { t.warn() } else { t.dim() },
                )),
            ])
        });
        let widths = [
            Constraint::Min(12),
            Constraint::Length(12),
            Constraint::Length(7),
            Constraint::Length(8),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Length(4),
            Constraint::Length(4),
        ];
        let header = Row::new(["ID", "HOST", "PID", "VERSION", "BUSY", "DONE", "UP", "SEEN"])
            .style(t.header());
        let table = Table::new(rows, widths)
            .header(header)
            .column_spacing(1)
            .row_highlight_style(t.selected());
        let mut state = TableState::default().with_selected(Some(d.selected - start));
        f.render_stateful_widget(table, inner, &mut state);
    }

    // In flight on the selected daemon.
    let sel = d.list.get(d.selected);
    let block = Block::bordered().title(Span::styled(
        match sel {
            Some(h) => format!(" In flight on {} ", h.id),
            None => " In flight ".to_owned(),
        },
        t.title(),
    ));
    let inner = block.inner(flight);
    f.render_widget(block, flight);
    let Some(h) = sel else { return };
    if h.in_flight.is_empty() {
        f.render_widget(Paragraph::new(Span::styled("idle", t.dim())), inner);
        return;
    }
    let rows = h
        .in_flight
        .iter()
        .take(usize::from(inner.height.saturating_sub(1)))
        .map(|r| {
            Row::new(vec![
                Cell::from(r.request_id.to_string()),
                Cell::from(r.kind.clone()),
                Cell::from(r.project.clone().unwrap_or_default()),
                Cell::from(age(model.now, r.started_at)),
            ])
        });
    let widths = [
        Constraint::Length(32),
        Constraint::Length(12),
        Constraint::Min(10),
        Constraint::Length(7),
    ];
    let header = Row::new(["REQUEST", "TYPE", "PROJECT", "RUNNING"]).style(t.header());
    f.render_widget(
        Table::new(rows, widths).header(header).column_spacing(1),
        inner,
    );
}
