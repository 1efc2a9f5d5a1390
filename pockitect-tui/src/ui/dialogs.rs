//! Dialogs drawn over the tabs: help, confirmations, the filter form and text details.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Padding, Paragraph, Wrap};

use super::{hint_line, thousands};
use crate::app::{Details, FILTER_ROWS, Model, Overlay, Plan, Planning, TypedConfirm};
use crate::keys;
use crate::resources::{ProjectFilter, short_type};
use crate::theme::Theme;

/// A rectangle of at most `w`×`h` centred in `area`.
fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width.saturating_sub(2)).max(1);
    let h = h.min(area.height.saturating_sub(2)).max(1);
    Rect::new(
        area.x + (area.width - w.min(area.width)) / 2,
        area.y + (area.height - h.min(area.height)) / 2,
        w,
        h,
    )
}

fn frame(f: &mut Frame, t: Theme, r: Rect, title: &str, hints: &[keys::Hint]) -> Rect {
    f.render_widget(Clear, r);
    let block = Block::bordered()
        .padding(Padding::horizontal(1))
        .title(Span::styled(format!(" {title} "), t.title()))
        .title_bottom(hint_line(t, hints));
    let inner = block.inner(r);
    f.render_widget(block, r);
    inner
}

fn lines_height(lines: &[Line], width: u16) -> u16 {
    let w = usize::from(width.max(1));
    lines
        .iter()
        .map(|l| l.width().max(1).div_ceil(w))
        .sum::<usize>()
        .try_into()
        .unwrap_or(u16::MAX)
}

pub(super) fn render(model: &Model, ov: &Overlay, f: &mut Frame, area: Rect) {
    let t = model.theme;
    match ov {
        Overlay::Help => help(model, f, area),
        Overlay::Confirm(c) => {
            let mut body: Vec<Line> = c.lines.iter().map(|l| Line::from(l.clone())).collect();
            body.extend(plan_lines(t, &c.plan, !c.lines.is_empty()));
            let w = 70;
            let h = lines_height(&body, w - 4) + 2;
            let r = centered(area, w, h);
            let inner = frame(f, t, r, &c.title, &[("y", "yes"), ("n/Esc", "no")]);
            f.render_widget(Paragraph::new(body).wrap(Wrap { trim: false }), inner);
        }
        Overlay::Typed(c) => typed(t, c, f, area),
        Overlay::Filter { row } => filter(model, *row, f, area),
        Overlay::Details(d) => details(t, d, f, area),
    }
}

/// Every key of the global table and of the tab's, as the tables that dispatch them say.
fn help(model: &Model, f: &mut Frame, area: Rect) {
    let t = model.theme;
    let row = |(k, what): (String, &'static str)| {
        Line::from(vec![
            Span::styled(format!("  {k:<16}"), t.key()),
            Span::raw(what),
        ])
    };
    let mut lines = vec![Line::from(Span::styled("Everywhere", t.title()))];
    lines.extend(keys::help(keys::GLOBAL).into_iter().map(row));
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        format!("{} tab", model.tab.title()),
        t.title(),
    )));
    lines.extend(model.tab.help().into_iter().map(row));
    let h = u16::try_from(lines.len()).unwrap_or(u16::MAX) + 2;
    let r = centered(area, 64, h);
    let inner = frame(f, t, r, "Keys", &[("any key", "close")]);
    f.render_widget(Paragraph::new(lines), inner);
}

/// The plan part of a confirmation (after a blank line when text comes before it): dim while
/// it is awaited, red when the daemon cannot do it.
fn plan_lines(t: Theme, plan: &Plan, after_text: bool) -> Vec<Line<'static>> {
    if plan.lines.is_empty() {
        return Vec::new();
    }
    let style = match plan.state {
        Planning::Waiting(_) => t.dim(),
        Planning::Failed => t.err(),
        Planning::None | Planning::Ready(_) => ratatui::style::Style::default(),
    };
    after_text
        .then(|| Line::from(""))
        .into_iter()
        .chain(
            plan.lines
                .iter()
                .map(|l| Line::from(Span::styled(l.clone(), style))),
        )
        .collect()
}

fn typed(t: Theme, c: &TypedConfirm, f: &mut Frame, area: Rect) {
    let mut body: Vec<Line> = c.lines.iter().map(|l| Line::from(l.clone())).collect();
    body.extend(plan_lines(t, &c.plan, !c.lines.is_empty()));
    body.push(Line::from(""));
    body.push(Line::from(c.prompt.clone()));
    body.push(Line::from(vec![
        Span::styled("> ", t.key()),
        Span::raw(c.input.clone()),
        Span::styled("█", t.dim()),
    ]));
    if c.wrong {
        body.push(Line::from(Span::styled(
            format!("That does not match: type {}", c.expected.join(" or ")),
            t.err(),
        )));
    }
    let w = 70;
    let h = lines_height(&body, w - 4) + 2;
    let r = centered(area, w, h);
    let inner = frame(
        f,
        t,
        r,
        &c.title,
        &[("Enter", "confirm"), ("Esc", "cancel")],
    );
    f.render_widget(Paragraph::new(body).wrap(Wrap { trim: false }), inner);
}

fn filter(model: &Model, cursor: usize, f: &mut Frame, area: Rect) {
    let t = model.theme;
    let s = &model.resources;
    let facets = s.facets();
    let fl = &s.filters;
    let count_of = |n: Option<usize>| {
        n.map(|n| format!(" ({})", thousands(n)))
            .unwrap_or_default()
    };
    let values: [(String, usize); 5] = [
        (
            match &fl.region {
                Some(r) => format!(
                    "{r}{}",
                    count_of(facets.regions.iter().find(|(k, _)| k == r).map(|x| x.1))
                ),
                None => "all".to_owned(),
            },
            facets.regions.len(),
        ),
        (
            match fl.kind {
                Some(k) => format!(
                    "{}{}",
                    short_type(k),
                    count_of(facets.kinds.iter().find(|(x, _)| *x == k).map(|x| x.1))
                ),
                None => "all".to_owned(),
            },
            facets.kinds.len(),
        ),
        (
            match &fl.project {
                Some(ProjectFilter::Unowned) => format!(
                    "(none){}",
                    count_of(
                        facets
                            .projects
                            .iter()
                            .find(|(k, _)| k.is_none())
                            .map(|x| x.1)
                    )
                ),
                Some(ProjectFilter::Is(p)) => format!(
                    "{p}{}",
                    count_of(
                        facets
                            .projects
                            .iter()
                            .find(|(k, _)| k.as_deref() == Some(p.as_str()))
                            .map(|x| x.1)
                    )
                ),
                None => "all".to_owned(),
            },
            facets.projects.len(),
        ),
        (
            match &fl.state {
                Some(st) => format!(
                    "{st}{}",
                    count_of(facets.states.iter().find(|(k, _)| k == st).map(|x| x.1))
                ),
                None => "all".to_owned(),
            },
            facets.states.len(),
        ),
        (
            match &fl.account {
                Some(a) => format!(
                    "{a}{}",
                    count_of(facets.accounts.iter().find(|(k, _)| k == a).map(|x| x.1))
                ),
                None => "all".to_owned(),
            },
            facets.accounts.len(),
        ),
    ];
    let mut lines = Vec::new();
    for (i, (name, (value, n))) in FILTER_ROWS.iter().zip(values).enumerate() {
        let style = if i == cursor {
            t.selected()
        } else {
            ratatui::style::Style::new()
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{name:<8} ◀ {value} ▶ "), style),
            Span::styled(format!(" {n} values"), t.dim()),
        ]));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        format!(
            "{} of {} shown",
            thousands(s.visible_len()),
            thousands(s.len())
        ),
        t.dim(),
    )));
    let r = centered(area, 60, 9);
    let inner = frame(
        f,
        t,
        r,
        "Filter resources",
        &[
            ("←→", "value"),
            ("↑↓", "field"),
            ("x", "reset"),
            ("c", "clear"),
            ("Enter", "done"),
        ],
    );
    let [body] = Layout::vertical([Constraint::Min(0)]).areas(inner);
    f.render_widget(Paragraph::new(lines), body);
}

fn details(t: Theme, d: &Details, f: &mut Frame, area: Rect) {
    // A full-screen pager between the header and the footer.
    let r = Rect::new(
        area.x,
        area.y + 1.min(area.height),
        area.width,
        area.height.saturating_sub(2),
    );
    let title = if d.waiting_for.is_some() {
        format!("{} (loading)", d.title)
    } else {
        d.title.clone()
    };
    let inner = frame(f, t, r, &title, &[("↑↓", "scroll"), ("Esc", "close")]);
    let height = usize::from(inner.height);
    let max_scroll = d.lines.len().saturating_sub(height);
    let scroll = d.scroll.min(max_scroll);
    let lines: Vec<Line> = d
        .lines
        .iter()
        .skip(scroll)
        .take(height)
        .map(|l| Line::from(l.clone()))
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
    if d.lines.len() > height && inner.width > 12 {
        let pos = format!(
            " {}-{}/{} ",
            scroll + 1,
            (scroll + height).min(d.lines.len()),
            d.lines.len()
        );
        let w = u16::try_from(pos.chars().count()).unwrap_or(0);
        let at = Rect::new(r.x + r.width.saturating_sub(w + 2), r.y, w, 1);
        f.render_widget(Paragraph::new(Span::styled(pos, t.dim())), at);
    }
}
