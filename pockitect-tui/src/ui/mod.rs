//! Drawing: `view(&Model, &mut Frame)` and nothing else. One module per tab plus the dialogs.
//! Only rows that fit on screen are turned into widgets, whatever the size of the data.

mod activity;
mod daemons;
mod dialogs;
mod history;
mod projects;
mod resources;

use std::cell::Cell;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::{ConnState, Level, Model, Tab};
use crate::keys;
use crate::theme::Theme;

const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// Draws the whole screen. Call [`Model::prepare`] first so cached rows are current.
pub fn view(model: &Model, f: &mut Frame) {
    let area = f.area();
    let banner = matches!(model.conn, ConnState::Disconnected { .. });
    let [head, ban, body, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(u16::from(banner)),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    header(model, f, head);
    if banner {
        banner_line(model, f, ban);
    }
    match model.tab {
        Tab::Projects => projects::render(model, f, body),
        Tab::Resources => resources::render(model, f, body),
        Tab::Activity => activity::render(model, f, body),
        Tab::Daemons => daemons::render(model, f, body),
        Tab::History => history::render(model, f, body),
    }
    footer(model, f, foot);
    if let Some(ov) = &model.overlay {
        dialogs::render(model, ov, f, area);
    }
}

pub(crate) fn spinner(model: &Model) -> char {
    SPINNER[model.spinner % SPINNER.len()]
}

fn header(model: &Model, f: &mut Frame, area: Rect) {
    let t = model.theme;
    let running = model
        .activity
        .running()
        .filter(|r| !r.is_query() && !r.sent_only)
        .count();
    let conn = match &model.conn {
        ConnState::Connected { .. } => Span::styled("● redis ", t.ok()),
        ConnState::Connecting => Span::styled("◌ connecting ", t.warn()),
        ConnState::Disconnected { .. } => Span::styled("✗ redis down ", t.err()),
    };
    let tabs: Vec<Span> = Tab::ALL
        .into_iter()
        .map(|tab| {
            let style = if tab == model.tab {
                t.active_tab()
            } else {
                Style::new()
            };
            Span::styled(format!(" {} {} ", tab.index() + 1, tab.title()), style)
        })
        .collect();
    let tabs_w: usize = tabs.iter().map(Span::width).sum();
    let width = usize::from(area.width);
    // Drop the least useful parts first when the terminal is narrow.
    let mut brand = true;
    let mut running_text = format!("{} {running} running ", spinner(model));
    let fits = |brand: bool, run: &str| {
        (if brand { 12 } else { 0 })
            + tabs_w
            + 1
            + if running > 0 { run.chars().count() } else { 0 }
            + conn.width()
            <= width
    };
    if !fits(brand, &running_text) {
        brand = false;
    }
    if !fits(brand, &running_text) {
        running_text = format!("{}{running} ", spinner(model));
    }
    let mut left = Vec::new();
    if brand {
        left.push(Span::styled(" pockitect ", t.title()));
        left.push(Span::raw(" "));
    }
    left.extend(tabs);
    let mut right = Vec::new();
    if running > 0 {
        right.push(Span::styled(running_text, t.warn()));
    }
    right.push(conn);
    let right_w: usize = right.iter().map(Span::width).sum();
    let [l, r] = Layout::horizontal([
        Constraint::Min(0),
        Constraint::Length(u16::try_from(right_w).unwrap_or(u16::MAX)),
    ])
    .areas(area);
    f.render_widget(Paragraph::new(Line::from(left)), l);
    f.render_widget(Paragraph::new(Line::from(right)).right_aligned(), r);
}

fn banner_line(model: &Model, f: &mut Frame, area: Rect) {
    let ConnState::Disconnected {
        reason,
        since,
        attempts,
    } = &model.conn
    else {
        return;
    };
    let text = format!(
        " ✗ Redis unavailable · reconnecting (attempt {attempts}, {}) · last known data shown · {reason} · {}",
        age(model.now, *since),
        model.redis_url,
    );
    f.render_widget(Paragraph::new(text).style(model.theme.banner()), area);
}

fn footer(model: &Model, f: &mut Frame, area: Rect) {
    let t = model.theme;
    if model.searching && model.tab == Tab::Resources {
        let line = Line::from(vec![
            Span::styled("/", t.key()),
            Span::raw(model.resources.filters.search.clone()),
            Span::styled("█", t.dim()),
            Span::styled("   Enter keep · Esc clear", t.dim()),
        ]);
        f.render_widget(Paragraph::new(line), area);
        return;
    }
    if let Some(flash) = &model.flash {
        let style = match flash.level {
            Level::Info => t.ok(),
            Level::Warn => t.warn(),
            Level::Error => t.err(),
        };
        f.render_widget(
            Paragraph::new(Span::styled(format!(" {}", flash.text), style)),
            area,
        );
        return;
    }
    f.render_widget(Paragraph::new(hint_line(t, &model.tab.hints())), area);
}

fn hint_line(t: Theme, hints: &[keys::Hint]) -> Line<'static> {
    let mut spans = vec![Span::raw(" ")];
    for (k, what) in hints {
        spans.push(Span::styled(*k, t.key()));
        spans.push(Span::raw(format!(" {what}  ")));
    }
    Line::from(spans)
}

/// The rows `[start, end)` to draw so that `selected` is visible, scrolling only when it
/// leaves the window; remembers the offset in `offset`.
pub(crate) fn window(
    selected: usize,
    len: usize,
    height: usize,
    offset: &Cell<usize>,
) -> (usize, usize) {
    if height == 0 || len == 0 {
        offset.set(0);
        return (0, 0);
    }
    let mut off = offset.get().min(len - 1);
    if selected < off {
        off = selected;
    } else if selected >= off + height {
        off = selected + 1 - height;
    }
    if off + height > len {
        off = len.saturating_sub(height);
    }
    offset.set(off);
    (off, (off + height).min(len))
}

/// `5s`, `3m`, `2h`, `4d`.
pub(crate) fn age(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let s = (now - then).num_seconds().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// `10,000`.
pub(crate) fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A text progress bar that reads without colour: `█████░░░`.
pub(crate) fn bar(ratio: f64, width: usize) -> String {
    let filled = ((ratio.clamp(0.0, 1.0) * width as f64).round() as usize).min(width);
    let mut s = "█".repeat(filled);
    s.push_str(&"░".repeat(width - filled));
    s
}

/// A message centred in `area` (empty states).
pub(crate) fn centered_note(f: &mut Frame, area: Rect, lines: Vec<Line<'static>>) {
    let h = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .min(area.height);
    let top = area.y + area.height.saturating_sub(h) / 2;
    let r = Rect::new(area.x, top, area.width, h);
    f.render_widget(Paragraph::new(lines).centered(), r);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_scrolls_only_when_needed() {
        let off = Cell::new(0);
        assert_eq!(window(0, 100, 10, &off), (0, 10));
        assert_eq!(window(9, 100, 10, &off), (0, 10));
        assert_eq!(window(10, 100, 10, &off), (1, 11));
        assert_eq!(window(5, 100, 10, &off), (1, 11));
        assert_eq!(window(0, 100, 10, &off), (0, 10));
        assert_eq!(window(99, 100, 10, &off), (90, 100));
        // Shrinking data pulls the window back.
        assert_eq!(window(3, 5, 10, &off), (0, 5));
        assert_eq!(window(0, 0, 10, &off), (0, 0));
    }

    #[test]
    fn formats() {
        assert_eq!(thousands(10_000), "10,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(bar(0.5, 8), "████░░░░");
        assert_eq!(bar(2.0, 4), "████");
        let now = Utc::now();
        assert_eq!(age(now, now - chrono::Duration::seconds(90)), "1m");
        assert_eq!(age(now, now + chrono::Duration::seconds(5)), "0s");
    }
}
