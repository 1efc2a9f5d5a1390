//! Key bindings in one place: what the help overlay and the footer show, and the small helpers
//! that read navigation keys the same way on every tab.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::app::Tab;

/// One line of help: the keys and what they do.
pub type Binding = (&'static str, &'static str);

pub const GLOBAL: &[Binding] = &[
    ("1 2 3 4  Tab", "switch tab (Shift-Tab: back)"),
    ("↑ ↓  j k", "move"),
    ("PgUp PgDn  g G", "page up, down, top, bottom"),
    ("r", "reload from the daemon"),
    ("?", "this help"),
    ("Esc", "close a dialog"),
    ("q  Ctrl-C", "quit"),
];

pub const PROJECTS: &[Binding] = &[
    ("Enter", "details: blueprint and outputs"),
    ("d", "deploy"),
    ("s", "power start (EC2 and RDS)"),
    ("x", "power stop"),
    ("D", "destroy (type the slug to confirm)"),
];

pub const RESOURCES: &[Binding] = &[
    ("/", "search (words in any field)"),
    ("f", "filter: region, type, project, state"),
    ("c", "clear filters and search"),
    ("o  O", "sort column, reverse order"),
    ("Space", "mark row"),
    ("a", "mark every shown row, or none"),
    ("t", "terminate marked rows (or this one)"),
    ("s", "scan every region"),
    ("Enter", "record details"),
];

pub const ACTIVITY: &[Binding] = &[
    ("Enter", "every event of the request"),
    ("c", "cancel the request"),
    ("h", "show or hide queries"),
];

pub const DAEMONS: &[Binding] = &[("↑ ↓", "select a daemon: its in-flight requests")];

pub fn for_tab(tab: Tab) -> &'static [Binding] {
    match tab {
        Tab::Projects => PROJECTS,
        Tab::Resources => RESOURCES,
        Tab::Activity => ACTIVITY,
        Tab::Daemons => DAEMONS,
    }
}

/// Short hints for the footer, most useful first (cut to the width).
pub fn hints(tab: Tab) -> &'static [Binding] {
    match tab {
        Tab::Projects => &[
            ("⏎", "details"),
            ("d", "deploy"),
            ("s/x", "start/stop"),
            ("D", "destroy"),
            ("?", "help"),
            ("q", "quit"),
        ],
        Tab::Resources => &[
            ("/", "search"),
            ("f", "filter"),
            ("o", "sort"),
            ("␣", "mark"),
            ("t", "terminate"),
            ("s", "scan"),
            ("?", "help"),
            ("q", "quit"),
        ],
        Tab::Activity => &[
            ("⏎", "events"),
            ("c", "cancel"),
            ("h", "queries"),
            ("?", "help"),
            ("q", "quit"),
        ],
        Tab::Daemons => &[
            ("↑↓", "select"),
            ("r", "reload"),
            ("?", "help"),
            ("q", "quit"),
        ],
    }
}

/// A cursor movement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nav {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
}

pub fn nav(k: &KeyEvent) -> Option<Nav> {
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    Some(match k.code {
        KeyCode::Up | KeyCode::Char('k') if !ctrl => Nav::Up,
        KeyCode::Down | KeyCode::Char('j') if !ctrl => Nav::Down,
        KeyCode::PageUp => Nav::PageUp,
        KeyCode::Char('u') if ctrl => Nav::PageUp,
        KeyCode::PageDown => Nav::PageDown,
        KeyCode::Char('d') if ctrl => Nav::PageDown,
        KeyCode::Home | KeyCode::Char('g') => Nav::Top,
        KeyCode::End | KeyCode::Char('G') => Nav::Bottom,
        _ => return None,
    })
}

/// Applies a movement to a cursor over `len` rows, `page` rows to a page.
pub fn apply(nav: Nav, cur: usize, len: usize, page: usize) -> usize {
    if len == 0 {
        return 0;
    }
    let last = len - 1;
    let page = page.max(1);
    match nav {
        Nav::Up => cur.saturating_sub(1),
        Nav::Down => (cur + 1).min(last),
        Nav::PageUp => cur.saturating_sub(page),
        Nav::PageDown => (cur + page).min(last),
        Nav::Top => 0,
        Nav::Bottom => last,
    }
}

/// True for Ctrl-C, which quits from anywhere.
pub fn is_interrupt(k: &KeyEvent) -> bool {
    k.modifiers.contains(KeyModifiers::CONTROL) && matches!(k.code, KeyCode::Char('c'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn movement_is_clamped() {
        assert_eq!(apply(Nav::Up, 0, 10, 5), 0);
        assert_eq!(apply(Nav::Down, 9, 10, 5), 9);
        assert_eq!(apply(Nav::PageDown, 7, 10, 5), 9);
        assert_eq!(apply(Nav::PageUp, 3, 10, 5), 0);
        assert_eq!(apply(Nav::Bottom, 0, 0, 5), 0);
    }
}
