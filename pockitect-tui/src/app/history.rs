//! The History tab's component: the daemons' audit trail (who asked for what, how it ended,
//! what it did to which resources), asked for when the tab opens, on reload, and after a
//! request that changes the estate ends while the tab is shown.

use pockitect_proto::audit::{AuditEntry, History};
use pockitect_proto::{Command, Envelope, Event, HistoryArgs};
use ratatui::crossterm::event::KeyCode;

use super::{Details, Effect, Level, Model, Overlay, Purpose};
use crate::keys::{self, Binding, Key, Nav, binding};

/// Entries the tab asks for (the newest).
const SHOWN: usize = 500;

#[derive(Debug, Default)]
pub struct HistoryState {
    /// Newest first.
    pub entries: Vec<AuditEntry>,
    pub selected: usize,
    pub loaded: bool,
    /// More entries matched than were asked for.
    pub truncated: bool,
}

impl HistoryState {
    pub(super) fn nav(&mut self, n: Nav, page: usize) {
        self.selected = keys::apply(n, self.selected, self.entries.len(), page);
    }

    pub fn current(&self) -> Option<&AuditEntry> {
        self.entries.get(self.selected)
    }

    /// Takes a new answer, keeping the cursor on the same request when it is still listed.
    fn replace(&mut self, h: History) {
        let keep = self.current().map(|e| e.request_id.clone());
        self.entries = h.entries;
        self.truncated = h.truncated;
        self.loaded = true;
        self.selected = keep
            .and_then(|id| self.entries.iter().position(|e| e.request_id == id))
            .unwrap_or(0);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoryKey {
    Details,
}

pub const KEYS: &[Binding<HistoryKey>] = &[binding!(
    Key::code(KeyCode::Enter) => HistoryKey::Details,
    "the entry: arguments, approval, every resource touched",
    hint ("⏎", "details")
)];

impl Model {
    /// Asks the daemon for the newest entries of the audit trail.
    pub(super) fn query_history(&mut self) -> Option<Effect> {
        if self.waiting(&self.pending_history) {
            return None;
        }
        let args = HistoryArgs {
            limit: Some(SHOWN),
            ..Default::default()
        };
        let (id, e) = self.send(Command::History(args), Purpose::HistoryQuery)?;
        self.pending_history = Some((id, self.now));
        Some(e)
    }

    pub(super) fn on_history(&mut self, env: &Envelope) {
        match env.decode() {
            Ok(Event::History(h)) => self.history.replace(h),
            _ => {
                self.history.loaded = true;
                self.flash(
                    Level::Warn,
                    "history: the daemon's answer cannot be read (is it the same version?)",
                );
            }
        }
    }

    pub(super) fn on_history_key(&mut self, key: HistoryKey) -> Option<Effect> {
        match key {
            HistoryKey::Details => {
                let Some(e) = self.history.current() else {
                    self.flash(Level::Warn, "no entry selected");
                    return None;
                };
                self.overlay = Some(Overlay::Details(Details {
                    title: format!("{} {}", e.command, e.request_id),
                    lines: entry_lines(e),
                    scroll: 0,
                    waiting_for: None,
                }));
                None
            }
        }
    }
}

/// Every field of an entry, for its details dialog.
pub fn entry_lines(e: &AuditEntry) -> Vec<String> {
    let mut head = vec![e.status.to_string()];
    if e.refused {
        head.push("refused".into());
    }
    head.extend(e.code.map(|c| c.to_string()));
    let mut lines = vec![
        head.join(" · "),
        e.message.clone(),
        String::new(),
        format!("asked by   {}", e.client),
        format!("project    {}", e.project.as_deref().unwrap_or("-")),
        format!("daemon     {}", e.daemon),
        format!(
            "as         {} ({})",
            e.principal.as_deref().unwrap_or("?"),
            e.account.as_deref().unwrap_or("?")
        ),
        format!(
            "ran        {} → {} UTC",
            e.started_at.format("%Y-%m-%d %H:%M:%S"),
            e.ended_at.format("%H:%M:%S")
        ),
    ];
    let a = &e.authorization;
    if let Some(rule) = &a.rule {
        let digest = a
            .plan_digest
            .as_ref()
            .map(|d| format!(", plan {}", d.short()))
            .unwrap_or_default();
        let over = if a.override_policy {
            ", overridden"
        } else {
            ""
        };
        lines.push(format!("policy     {rule}{digest}{over}"));
    }
    lines.push(format!("arguments  {}", e.args));
    lines.push(String::new());
    if e.resources.is_empty() {
        lines.push("No AWS resource was touched.".to_owned());
    } else {
        lines.push(format!("{} resources touched:", e.resources.len()));
        lines.extend(e.resources.iter().map(|r| {
            format!(
                "  {:<8} {} {} {}{}",
                r.action.as_str(),
                r.kind,
                r.id,
                r.region,
                r.account
                    .as_deref()
                    .map(|a| format!(" ({a})"))
                    .unwrap_or_default()
            )
        }));
    }
    lines
}

/// What an entry did, in a few words: `3 deleted, 1 stopped`.
pub fn touched_summary(e: &AuditEntry) -> String {
    let mut counts: Vec<(pockitect_proto::audit::TouchAction, usize)> = Vec::new();
    for r in &e.resources {
        match counts.iter_mut().find(|(a, _)| *a == r.action) {
            Some((_, n)) => *n += 1,
            None => counts.push((r.action, 1)),
        }
    }
    counts.sort();
    counts
        .iter()
        .map(|(a, n)| format!("{n} {a}"))
        .collect::<Vec<_>>()
        .join(", ")
}
