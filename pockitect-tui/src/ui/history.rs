//! The History tab: the audit trail, newest first, and the selected entry's resources.

use pockitect_proto::Status;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState, Wrap};

use super::{age, centered_note, window};
use crate::app::Model;
use crate::app::history::touched_summary;

pub(super) fn render(model: &Model, f: &mut Frame, area: Rect) {
    let t = model.theme;
    let h = &model.history;
    let [list, detail] =
        Layout::vertical([Constraint::Percentage(60), Constraint::Min(5)]).areas(area);
    let more = if h.truncated { "+" } else { "" };
    let block = Block::bordered().title(Line::from(vec![
        Span::styled(" History ", t.title()),
        Span::raw(format!("{}{more} ", h.entries.len())),
        Span::styled("(the daemons' audit trail) ", t.dim()),
    ]));
    let inner = block.inner(list);
    f.render_widget(block, list);
    if h.entries.is_empty() {
        let note = if h.loaded {
            vec![
                Line::from("Nothing recorded yet."),
                Line::from(Span::styled(
                    "Every command a daemon takes is recorded when it ends.",
                    t.dim(),
                )),
            ]
        } else {
            vec![Line::from("Asking the daemon for its history…")]
        };
        centered_note(f, inner, note);
    } else {
        let height = usize::from(inner.height.saturating_sub(1));
        let (start, end) = window(h.selected, h.entries.len(), height, &model.view.history);
        let rows = h.entries[start..end].iter().map(|e| {
            let status = if e.refused {
                Span::styled("refused", t.err())
            } else {
                let style = match e.status {
                    Status::Success => t.ok(),
                    Status::Partial | Status::Cancelled => t.warn(),
                    _ => t.err(),
                };
                Span::styled(e.status.as_str(), style)
            };
            Row::new(vec![
                Cell::from(age(model.now, e.ended_at)),
                Cell::from(e.command.clone()),
                Cell::from(e.project.clone().unwrap_or_default()),
                Cell::from(status),
                Cell::from(e.client.to_string()),
                Cell::from(touched_summary(e)),
            ])
        });
        let widths = [
            Constraint::Length(4),
            Constraint::Length(10),
            Constraint::Length(16),
            Constraint::Length(9),
            Constraint::Length(22),
            Constraint::Min(10),
        ];
        let header = Row::new(["AGO", "COMMAND", "PROJECT", "STATUS", "ASKED BY", "TOUCHED"])
            .style(t.header());
        let table = Table::new(rows, widths)
            .header(header)
            .column_spacing(1)
            .row_highlight_style(t.selected());
        let mut state = TableState::default().with_selected(Some(h.selected - start));
        f.render_stateful_widget(table, inner, &mut state);
    }

    let sel = h.current();
    let block = Block::bordered().title(Span::styled(
        match sel {
            Some(e) => format!(" {} {} ", e.command, e.request_id),
            None => " Entry ".to_owned(),
        },
        t.title(),
    ));
    let inner = block.inner(detail);
    f.render_widget(block, detail);
    let Some(e) = sel else { return };
    let mut lines = vec![Line::from(e.message.clone())];
    if let Some(rule) = &e.authorization.rule {
        let over = if e.authorization.override_policy {
            " (policy overridden)"
        } else {
            ""
        };
        lines.push(Line::from(Span::styled(
            format!("{rule}{over}"),
            if e.authorization.override_policy {
                t.warn()
            } else {
                t.dim()
            },
        )));
    }
    let room = usize::from(inner.height).saturating_sub(lines.len());
    let shown = if e.resources.len() > room {
        room.saturating_sub(1)
    } else {
        room
    };
    lines.extend(e.resources.iter().take(shown).map(|r| {
        Line::from(format!(
            "  {:<8} {} {} {}",
            r.action.as_str(),
            r.kind,
            r.id,
            r.region
        ))
    }));
    if e.resources.len() > shown {
        lines.push(Line::from(Span::styled(
            format!(
                "  … {} more: Enter shows them all",
                e.resources.len() - shown
            ),
            t.dim(),
        )));
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}
