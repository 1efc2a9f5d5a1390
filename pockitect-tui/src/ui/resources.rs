//! The Resources tab: the estate in one table. Only the rows in the window are built.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Row, Table, TableState};

use super::{centered_note, spinner, thousands, window};
use crate::app::{ConnState, Model};
use crate::resources::short_type;
use crate::theme::tone_of;

pub(super) fn render(model: &Model, f: &mut Frame, area: Rect) {
    let t = model.theme;
    let s = &model.resources;
    let mut title = vec![
        Span::styled(" Resources ", t.title()),
        Span::raw(if s.filters.is_empty() {
            thousands(s.len())
        } else {
            format!("{} of {}", thousands(s.visible_len()), thousands(s.len()))
        }),
        Span::styled(
            format!(
                " · sort {} {} ",
                s.sort.label(),
                if s.descending { "↓" } else { "↑" }
            ),
            t.dim(),
        ),
    ];
    if !s.filters.is_empty() {
        title.push(Span::styled(
            format!("· {} ", s.filters.describe()),
            t.accent(),
        ));
    }
    if s.marked_count() > 0 {
        title.push(Span::styled(
            format!("· {} marked ", s.marked_count()),
            t.marked(),
        ));
    }
    if let Some(scan) = model.activity.active_scan() {
        let progress = scan
            .progress
            .as_ref()
            .map(|p| format!(" {}/{}", p.step, p.total))
            .unwrap_or_default();
        title.push(Span::styled(
            format!("· {} scanning{progress} ", spinner(model)),
            t.warn(),
        ));
    }
    let block = Block::bordered()
        .title(Line::from(title))
        .border_style(t.border());
    let inner = block.inner(area);
    f.render_widget(block, area);

    if s.visible_len() == 0 {
        let note = if !s.is_empty() {
            vec![
                Line::from(format!("Nothing matches {}.", s.filters.describe())),
                Line::from(Span::styled("Press c to clear the filters.", t.dim())),
            ]
        } else if s.loaded {
            vec![
                Line::from("No resources known yet."),
                Line::from(Span::styled(
                    "Press s to scan every region of the AWS account.",
                    t.dim(),
                )),
            ]
        } else if matches!(model.conn, ConnState::Connected { .. }) {
            vec![Line::from("Loading the estate from the daemon…")]
        } else {
            vec![Line::from("Waiting for Redis…")]
        };
        centered_note(f, inner, note);
        return;
    }

    let wide = inner.width >= 100;
    let height = usize::from(inner.height.saturating_sub(1));
    let (start, end) = window(s.selected, s.visible_len(), height, &model.view.resources);
    let rows = (start..end).filter_map(|i| s.row(i)).map(|r| {
        let marked = s.is_marked(r);
        let state = r.state.as_deref().unwrap_or("-");
        let mut cells = vec![
            Cell::from(format!(
                "{}{}",
                if marked { "● " } else { "  " },
                short_type(r.kind)
            )),
            Cell::from(r.id.clone()),
            Cell::from(r.name.clone().unwrap_or_default()),
            Cell::from(r.region.clone()),
            Cell::from(Span::styled(state.to_owned(), t.tone(tone_of(state)))),
        ];
        if wide {
            cells.push(Cell::from(Span::styled(
                r.project.clone().unwrap_or_else(|| "-".to_owned()),
                if r.project.is_some() {
                    Style::new()
                } else {
                    t.dim()
                },
            )));
        }
        let row = Row::new(cells);
        if marked { row.style(t.marked()) } else { row }
    });
    let mut widths = vec![
        Constraint::Length(13),
        Constraint::Length(if wide { 28 } else { 24 }),
        Constraint::Min(10),
        Constraint::Length(14),
        Constraint::Length(10),
    ];
    let mut names = vec!["  TYPE", "ID", "NAME", "REGION", "STATE"];
    if wide {
        widths.push(Constraint::Length(18));
        names.push("PROJECT");
    }
    let table = Table::new(rows, widths)
        .header(Row::new(names).style(t.header()))
        .column_spacing(1)
        .row_highlight_style(t.selected());
    let mut state = TableState::default().with_selected(Some(s.selected - start));
    f.render_stateful_widget(table, inner, &mut state);
}
