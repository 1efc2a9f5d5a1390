//! The Resources tab's component: its keys and what they do, the `/` search line and the
//! fields of the filter dialog. The rows themselves live in [`crate::resources::ResourceStore`].

use pockitect_proto::{Command, ScanArgs};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{Action, Details, Effect, Level, Model, Overlay, Purpose, TypedConfirm};
use crate::keys::{self, Binding, Footer, Key, Nav, binding};
use crate::resources::{ProjectFilter, short_type, terminate_target};

/// What the Resources tab's keys do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceKey {
    Search,
    Filter,
    Clear,
    Sort,
    Reverse,
    Mark,
    MarkAll,
    Terminate,
    Scan,
    Details,
    Unmark,
}

pub const KEYS: &[Binding<ResourceKey>] = &[
    binding!(
        Key::ch('/') => ResourceKey::Search,
        "search (words in any field)",
        hint ("/", "search")
    ),
    binding!(
        Key::ch('f') => ResourceKey::Filter,
        "filter: region, type, project, state",
        hint ("f", "filter")
    ),
    binding!(Key::ch('c') => ResourceKey::Clear, "clear filters and search"),
    Binding {
        keys: &[
            &[(Key::ch('o'), ResourceKey::Sort)],
            &[(Key::ch('O'), ResourceKey::Reverse)],
        ],
        also: &[],
        help: "sort column, reverse order",
        footer: Footer::Yes(("o", "sort")),
    },
    binding!(Key::ch(' ') => ResourceKey::Mark, "mark row", hint ("␣", "mark")),
    binding!(Key::ch('a') => ResourceKey::MarkAll, "mark every shown row, or none"),
    binding!(
        Key::ch('t') => ResourceKey::Terminate,
        "terminate marked rows (or this one)",
        hint ("t", "terminate")
    ),
    binding!(Key::ch('s') => ResourceKey::Scan, "scan every region", hint ("s", "scan")),
    binding!(Key::code(KeyCode::Enter) => ResourceKey::Details, "record details"),
    binding!(
        Key::code(KeyCode::Esc) => ResourceKey::Unmark,
        "unmark every row, or clear the search"
    ),
];

impl Model {
    pub(super) fn resources_nav(&mut self, n: Nav, page: usize) {
        let store = &mut self.resources;
        let row = keys::apply(n, store.selected, store.visible_len(), page);
        store.select(row);
    }

    pub(super) fn on_resources_key(&mut self, key: ResourceKey) -> Option<Effect> {
        let store = &mut self.resources;
        match key {
            ResourceKey::Search => self.searching = true,
            ResourceKey::Filter => self.overlay = Some(Overlay::Filter { row: 0 }),
            ResourceKey::Clear => {
                store.filters = Default::default();
                store.invalidate();
            }
            ResourceKey::Sort => {
                store.sort = store.sort.next();
                store.invalidate();
            }
            ResourceKey::Reverse => {
                store.descending = !store.descending;
                store.invalidate();
            }
            ResourceKey::Mark => {
                store.toggle_mark_current();
                let next = (store.selected + 1).min(store.visible_len().saturating_sub(1));
                store.select(next);
            }
            ResourceKey::MarkAll => store.toggle_mark_visible(),
            ResourceKey::Unmark => {
                if store.marked_count() > 0 {
                    store.clear_marks();
                } else if !store.filters.search.is_empty() {
                    store.filters.search.clear();
                    store.invalidate();
                }
            }
            ResourceKey::Details => {
                if let Some(r) = store.current() {
                    let title = format!("{} {}", short_type(r.kind), r.id);
                    let lines = serde_json::to_string_pretty(r)
                        .unwrap_or_default()
                        .lines()
                        .map(str::to_owned)
                        .collect();
                    self.overlay = Some(Overlay::Details(Details {
                        title,
                        lines,
                        scroll: 0,
                        waiting_for: None,
                    }));
                }
            }
            ResourceKey::Terminate => return self.ask_terminate(),
            ResourceKey::Scan => {
                let (_, e) = self.send(Command::Scan(ScanArgs::default()), Purpose::User)?;
                self.flash(
                    Level::Info,
                    "scan sent: regions fill in as they finish (progress in Activity)",
                );
                return Some(e);
            }
        }
        None
    }

    /// Opens the typed confirmation for the marked rows (or the one under the cursor), and
    /// asks the daemon for its plan of them.
    fn ask_terminate(&mut self) -> Option<Effect> {
        let targets = self.resources.targets();
        let n = targets.len();
        if n == 0 {
            self.flash(Level::Warn, "nothing to terminate: no row selected");
            return None;
        }
        let mut lines: Vec<String> = targets
            .iter()
            .take(5)
            .map(|r| {
                format!(
                    "  {} {} {}{}",
                    short_type(r.kind),
                    r.id,
                    r.region,
                    r.project
                        .as_deref()
                        .map(|p| format!(" ({p})"))
                        .unwrap_or_default()
                )
            })
            .collect();
        if n > 5 {
            lines.push(format!("  … and {} more", n - 5));
        }
        lines.push("Only resources Pockitect manages are deleted; others are skipped.".to_owned());
        let action = Action::Terminate(targets.into_iter().map(terminate_target).collect());
        let (plan, sent) = self.plan_for(&action);
        self.overlay = Some(Overlay::Typed(TypedConfirm {
            title: format!("Terminate {n} resource{}?", if n == 1 { "" } else { "s" }),
            lines,
            plan,
            prompt: format!("Type {n} or yes and press Enter:"),
            expected: vec![n.to_string(), "yes".to_owned()],
            input: String::new(),
            wrong: false,
            action,
        }));
        sent
    }

    /// The `/` search line: typing edits the search, Enter keeps it, Esc clears it.
    pub(super) fn on_search_key(&mut self, k: KeyEvent) {
        let store = &mut self.resources;
        match k.code {
            KeyCode::Enter => self.searching = false,
            KeyCode::Esc => {
                self.searching = false;
                store.filters.search.clear();
            }
            KeyCode::Backspace => {
                store.filters.search.pop();
            }
            KeyCode::Char('u') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                store.filters.search.clear();
            }
            KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
                if store.filters.search.chars().count() < 200 {
                    store.filters.search.push(c);
                }
            }
            _ => return,
        }
        store.select(0);
        store.invalidate();
    }

    /// Resets one field of the filter dialog to "all".
    pub(super) fn reset_filter(&mut self, row: usize) {
        let f = &mut self.resources.filters;
        match row {
            0 => f.region = None,
            1 => f.kind = None,
            2 => f.project = None,
            3 => f.state = None,
            _ => f.account = None,
        }
        self.resources.select(0);
        self.resources.invalidate();
    }

    /// Moves a filter field to the previous or next value present in the data ("all" between
    /// the last and the first).
    pub(super) fn cycle_filter(&mut self, row: usize, by: isize) {
        fn step<T: PartialEq + Clone>(values: &[T], cur: &Option<T>, by: isize) -> Option<T> {
            // Position 0 is "all", then every value.
            let n = values.len() as isize + 1;
            let at = match cur {
                None => 0,
                Some(c) => values
                    .iter()
                    .position(|v| v == c)
                    .map_or(0, |i| i as isize + 1),
            };
            let next = (at + by).rem_euclid(n);
            if next == 0 {
                None
            } else {
                values.get((next - 1) as usize).cloned()
            }
        }
        let facets = self.resources.facets().clone();
        let f = &mut self.resources.filters;
        match row {
            0 => {
                let v: Vec<String> = facets.regions.into_iter().map(|(k, _)| k).collect();
                f.region = step(&v, &f.region, by);
            }
            1 => {
                let v: Vec<_> = facets.kinds.into_iter().map(|(k, _)| k).collect();
                f.kind = step(&v, &f.kind, by);
            }
            2 => {
                let v: Vec<ProjectFilter> = facets
                    .projects
                    .into_iter()
                    .map(|(k, _)| match k {
                        Some(p) => ProjectFilter::Is(p),
                        None => ProjectFilter::Unowned,
                    })
                    .collect();
                f.project = step(&v, &f.project, by);
            }
            3 => {
                let v: Vec<String> = facets.states.into_iter().map(|(k, _)| k).collect();
                f.state = step(&v, &f.state, by);
            }
            _ => {
                let v: Vec<String> = facets.accounts.into_iter().map(|(k, _)| k).collect();
                f.account = step(&v, &f.account, by);
            }
        }
        self.resources.select(0);
        self.resources.invalidate();
    }
}
