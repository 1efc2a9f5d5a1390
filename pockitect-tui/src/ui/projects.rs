//! The Projects tab: one row per project, with what it has deployed and any request running
//! on it.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Row, Table, TableState};

use super::{bar, centered_note, spinner, window};
use crate::app::{ConnState, Model};
use crate::projects::{deployed_summary, estimate_cell};
use crate::theme::tone_of;

pub(super) fn render(model: &Model, f: &mut Frame, area: Rect) {
    let t = model.theme;
    let p = &model.projects;
    let title = Line::from(vec![
        Span::styled(" Projects ", t.title()),
        Span::raw(format!("{} ", p.rows.len())),
    ]);
    let block = Block::bordered().title(title).border_style(t.border());
    let inner = block.inner(area);
    f.render_widget(block, area);
    if p.rows.is_empty() {
        let note = if p.loaded {
            vec![
                Line::from("No projects yet."),
                Line::from(Span::styled("Create one with: pockitect new", t.dim())),
            ]
        } else if matches!(model.conn, ConnState::Connected { .. }) {
            vec![Line::from("Loading projects from the daemon…")]
        } else {
            vec![Line::from("Waiting for Redis…")]
        };
        centered_note(f, inner, note);
        return;
    }
    let wide = inner.width >= 100;
    // This month's spend (Cost Explorer), once asked for with `$`.
    let spent = !p.spend.is_empty();
    let height = usize::from(inner.height.saturating_sub(1));
    let (start, end) = window(p.selected, p.rows.len(), height, &model.view.projects);
    let rows = p.rows[start..end].iter().map(|row| {
        let status = row
            .status
            .as_deref()
            .filter(|s| !s.is_empty())
            .unwrap_or("-");
        let deployed = match model.activity.active_for_project(&row.slug) {
            Some(req) => {
                let mut s = format!("{} {}", spinner(model), req.kind);
                if let Some(pr) = &req.progress {
                    s.push_str(&format!(" {} {}/{}", bar(pr.ratio(), 6), pr.step, pr.total));
                    if let Some(m) = &pr.message {
                        s.push(' ');
                        s.push_str(m);
                    }
                } else {
                    s.push_str(&format!(" {}", req.status_word()));
                }
                Cell::from(Span::styled(s, t.warn()))
            }
            None => {
                let summary = deployed_summary(row, model.resources.project_resources(&row.slug));
                let style = if summary == "nothing" {
                    t.dim()
                } else {
                    Style::new()
                };
                Cell::from(Span::styled(summary, style))
            }
        };
        let mut cells = vec![Cell::from(row.slug.clone())];
        if wide {
            cells.push(Cell::from(row.name.clone().unwrap_or_default()));
        }
        let (cost, over) = estimate_cell(row);
        cells.extend([
            Cell::from(row.region.clone().unwrap_or_default()),
            Cell::from(Span::styled(status.to_owned(), t.tone(tone_of(status)))),
            Cell::from(Span::styled(cost, if over { t.err() } else { t.dim() })),
        ]);
        if spent {
            let v = p.spend.get(&row.slug).map(|v| format!("${v:.2}"));
            cells.push(Cell::from(v.unwrap_or_default()));
        }
        cells.push(deployed);
        Row::new(cells)
    });
    // The name only when there is room: the slug is what commands take.
    let mut widths = vec![Constraint::Length(20)];
    let mut names = vec!["PROJECT"];
    if wide {
        widths.push(Constraint::Length(24));
        names.push("NAME");
    }
    widths.extend([
        Constraint::Length(14),
        Constraint::Length(10),
        Constraint::Length(8),
    ]);
    names.extend(["REGION", "STATUS", "EST/MO"]);
    if spent {
        widths.push(Constraint::Length(8));
        names.push("SPENT");
    }
    widths.push(Constraint::Min(10));
    names.push("DEPLOYED");
    let header = Row::new(names).style(t.header());
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(t.selected());
    let mut state = TableState::default().with_selected(Some(p.selected - start));
    f.render_stateful_widget(table, inner, &mut state);
}
