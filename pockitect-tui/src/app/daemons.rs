//! The Daemons tab's component: the live daemons and Redis's health as the bus task last saw
//! them, and the one key the tab adds (moving between daemons).

use chrono::{DateTime, Utc};
use pockitect_proto::DaemonHeartbeat;
use ratatui::crossterm::event::KeyCode;

use super::Health;
use crate::keys::{self, Binding, Footer, Key, Nav};

#[derive(Debug, Default)]
pub struct DaemonsState {
    pub list: Vec<DaemonHeartbeat>,
    pub selected: usize,
    pub health: Option<Health>,
    pub polled: Option<DateTime<Utc>>,
}

impl DaemonsState {
    pub(super) fn nav(&mut self, n: Nav, page: usize) {
        self.selected = keys::apply(n, self.selected, self.list.len(), page);
    }

    /// Takes a new list of heartbeats, polled at `now`.
    pub(super) fn replace(&mut self, list: Vec<DaemonHeartbeat>, now: DateTime<Utc>) {
        self.list = list;
        self.polled = Some(now);
        let n = self.list.len();
        self.selected = self.selected.min(n.saturating_sub(1));
    }
}

/// The arrows move between daemons as on every tab; the row says what the cursor shows here.
pub const KEYS: &[Binding<Nav>] = &[Binding {
    keys: &[&[
        (Key::no_ctrl(KeyCode::Up), Nav::Up),
        (Key::no_ctrl(KeyCode::Down), Nav::Down),
    ]],
    also: &[],
    help: "select a daemon: its in-flight requests",
    footer: Footer::Yes(("↑↓", "select")),
}];
