//! The Activity tab's component: its keys and what they do. The requests themselves live in
//! [`crate::activity::Activity`].

use pockitect_proto::Status;
use ratatui::crossterm::event::KeyCode;

use super::{Action, Confirm, Details, Effect, Level, Model, Overlay, Plan};
use crate::keys::{self, Binding, Key, Nav, binding};

/// What the Activity tab's keys do (on the request under the cursor).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActivityKey {
    Events,
    Cancel,
    ToggleQueries,
}

pub const KEYS: &[Binding<ActivityKey>] = &[
    binding!(
        Key::code(KeyCode::Enter) => ActivityKey::Events,
        "every event of the request",
        hint ("⏎", "events")
    ),
    binding!(Key::ch('c') => ActivityKey::Cancel, "cancel the request", hint ("c", "cancel")),
    binding!(
        Key::ch('h') => ActivityKey::ToggleQueries,
        "show or hide queries",
        hint ("h", "queries")
    ),
];

impl Model {
    pub(super) fn activity_nav(&mut self, n: Nav, page: usize) {
        let visible = self.activity.visible();
        let cur = self.activity.selected_row(&visible);
        let row = keys::apply(n, cur, visible.len(), page);
        self.activity.select_row(row);
    }

    pub(super) fn on_activity_key(&mut self, key: ActivityKey) -> Option<Effect> {
        match key {
            ActivityKey::ToggleQueries => {
                self.activity.show_queries = !self.activity.show_queries;
                self.flash(
                    Level::Info,
                    if self.activity.show_queries {
                        "showing queries"
                    } else {
                        "hiding queries"
                    },
                );
            }
            ActivityKey::Events => {
                if let Some(r) = self.activity.current() {
                    let mut lines = vec![format!(
                        "request {}  {}  {}",
                        r.id,
                        r.status_word(),
                        r.project.as_deref().unwrap_or("")
                    )];
                    if r.dropped > 0 {
                        lines.push(format!("({} older events not kept)", r.dropped));
                    }
                    lines.extend(r.events.iter().map(|e| {
                        format!(
                            "{} {:<17} {:<11} {}",
                            e.ts.format("%H:%M:%S"),
                            e.kind,
                            e.status.map(Status::as_str).unwrap_or(""),
                            e.text
                        )
                    }));
                    self.overlay = Some(Overlay::Details(Details {
                        title: format!("{} events (UTC)", r.kind),
                        lines,
                        scroll: 0,
                        waiting_for: None,
                    }));
                }
            }
            ActivityKey::Cancel => match self.activity.current() {
                Some(r) if r.is_running() => {
                    let id = r.id.clone();
                    self.overlay = Some(Overlay::Confirm(Confirm {
                        title: format!("Cancel this {}?", r.kind),
                        lines: vec![
                            format!("Request {id}"),
                            "It stops at its next safe point; what is done stays done.".to_owned(),
                        ],
                        plan: Plan::none(),
                        action: Action::Cancel(id),
                    }));
                }
                Some(_) => self.flash(Level::Warn, "that request has already finished"),
                None => {}
            },
        }
        None
    }
}
