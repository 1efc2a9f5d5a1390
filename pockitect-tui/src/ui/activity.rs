//! The Activity tab: every request (newest first) with a progress gauge, and the selected
//! request's latest events below.

use pockitect_proto::Status;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState};

use super::{age, bar, centered_note, spinner, window};
use crate::activity::Request;
use crate::app::Model;
use crate::theme::{Theme, Tone, tone_of};

fn status_cell(model: &Model, r: &Request) -> (String, Style) {
    let t = model.theme;
    let word = r.status_word();
    let icon = match r.status {
        _ if r.sent_only => '↑',
        Status::Queued => '…',
        Status::InProgress => spinner(model),
        Status::Success => '✓',
        Status::Partial => '!',
        Status::Error => '✗',
        Status::Skipped => '-',
        Status::Cancelled => '⊘',
    };
    (format!("{icon} {word}"), t.tone(tone_of(word)))
}

fn progress_text(r: &Request, width: usize) -> String {
    match &r.progress {
        Some(p) => format!(
            "{} {:>3}%",
            bar(p.ratio(), width),
            (p.ratio() * 100.0).round()
        ),
        None if r.is_running() => "—".to_owned(),
        None => String::new(),
    }
}

pub(super) fn render(model: &Model, f: &mut Frame, area: Rect) {
    let t = model.theme;
    let a = &model.activity;
    let visible = a.visible();
    let running = visible.iter().filter(|r| r.is_running()).count();
    let mut title = vec![
        Span::styled(" Activity ", t.title()),
        Span::raw(format!("{} requests ", visible.len())),
    ];
    if running > 0 {
        title.push(Span::styled(format!("· {running} running "), t.warn()));
    }
    let hidden = a.hidden_queries();
    if hidden > 0 {
        title.push(Span::styled(
            format!("· {hidden} queries hidden (h) "),
            t.dim(),
        ));
    }
    let [top, bottom] =
        Layout::vertical([Constraint::Percentage(45), Constraint::Min(6)]).areas(area);
    let block = Block::bordered().title(Line::from(title));
    let inner = block.inner(top);
    f.render_widget(block, top);
    if visible.is_empty() {
        centered_note(
            f,
            inner,
            vec![
                Line::from("No requests yet."),
                Line::from(Span::styled(
                    "Commands sent from here or by any client show up here.",
                    t.dim(),
                )),
            ],
        );
        f.render_widget(Block::bordered().title(" Events "), bottom);
        return;
    }
    let selected = a.selected_row(&visible);
    let height = usize::from(inner.height.saturating_sub(1));
    let (start, end) = window(selected, visible.len(), height, &model.view.activity);
    let rows = visible[start..end].iter().map(|r| {
        let (status, style) = status_cell(model, r);
        Row::new(vec![
            Cell::from(Span::styled(status, style)),
            Cell::from(r.kind.clone()),
            Cell::from(r.project.clone().unwrap_or_default()),
            Cell::from(progress_text(r, 8)),
            Cell::from(Span::styled(age(model.now, r.updated), t.dim())),
            Cell::from(r.message.clone().unwrap_or_default()),
        ])
    });
    let widths = [
        Constraint::Length(13),
        Constraint::Length(10),
        Constraint::Length(14),
        Constraint::Length(13),
        Constraint::Length(4),
        Constraint::Min(10),
    ];
    let header =
        Row::new(["STATUS", "TYPE", "PROJECT", "PROGRESS", "AGE", "MESSAGE"]).style(t.header());
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(t.selected());
    let mut state = TableState::default().with_selected(Some(selected - start));
    f.render_stateful_widget(table, inner, &mut state);

    if let Some(r) = visible.get(selected) {
        render_events(model, t, r, f, bottom);
    }
}

fn render_events(model: &Model, t: Theme, r: &Request, f: &mut Frame, area: Rect) {
    let (status, style) = status_cell(model, r);
    let mut title = vec![Span::styled(format!(" {} ", r.kind), t.title())];
    if let Some(p) = &r.project {
        title.push(Span::raw(format!("{p} ")));
    }
    title.push(Span::styled(format!("{status} "), style));
    title.push(Span::styled(format!("· {} ", r.id), t.dim()));
    let block = Block::bordered().title(Line::from(title));
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.height == 0 {
        return;
    }
    let [gauge, list] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    let gauge_line = match &r.progress {
        Some(p) => {
            let label = format!(
                " {}/{} {:>3}%{}",
                p.step,
                p.total,
                (p.ratio() * 100.0).round(),
                p.message
                    .as_deref()
                    .map(|m| format!("  {m}"))
                    .unwrap_or_default()
            );
            let w = usize::from(inner.width)
                .saturating_sub(label.chars().count())
                .clamp(4, 40);
            let tone = match r.status {
                Status::Success => Tone::Good,
                Status::Error => Tone::Bad,
                _ => Tone::Busy,
            };
            Line::from(vec![
                Span::styled(bar(p.ratio(), w), t.tone(tone)),
                Span::raw(label),
            ])
        }
        None => Line::from(Span::styled(
            match &r.message {
                Some(m) => m.clone(),
                None if r.sent_only => "sent: waiting for a daemon to take it".to_owned(),
                None => "no progress reported".to_owned(),
            },
            t.dim(),
        )),
    };
    f.render_widget(Paragraph::new(gauge_line), gauge);
    let n = usize::from(list.height);
    let skip = r.events.len().saturating_sub(n);
    let lines: Vec<Line> = r
        .events
        .iter()
        .skip(skip)
        .map(|e| {
            let st = e.status.map(Status::as_str).unwrap_or("");
            Line::from(vec![
                Span::styled(format!("{:>4} ", age(model.now, e.ts)), t.dim()),
                Span::raw(format!("{:<15} ", e.kind)),
                Span::styled(format!("{st:<11} "), t.tone(tone_of(st))),
                Span::raw(e.text.clone()),
            ])
        })
        .collect();
    f.render_widget(Paragraph::new(lines), list);
}
