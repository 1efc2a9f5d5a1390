//! The dialogs drawn over the tabs (help, yes/no and typed confirmations, the resources
//! filter form, scrollable text) and what their keys do. A dialog is modal: while one is open
//! it takes every key but Ctrl-C. What a confirmed dialog asks for is an [`Action`], turned
//! into a command by [`Model::execute`].

use pockitect_proto::{
    BlueprintRef, Command, DeployArgs, DestroyArgs, PowerAction, PowerArgs, RequestId,
    TerminateArgs, TerminateTarget,
};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{Effect, Level, Model, Purpose};
use crate::keys;

/// A command waiting for the user's confirmation.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Deploy(String),
    Power(String, PowerAction),
    Destroy(String),
    Terminate(Vec<TerminateTarget>),
    Cancel(RequestId),
}

/// A yes/no question.
#[derive(Clone, Debug, PartialEq)]
pub struct Confirm {
    pub title: String,
    pub lines: Vec<String>,
    pub action: Action,
}

/// A question answered by typing: the project's slug, or the count of resources or `yes`.
#[derive(Clone, Debug, PartialEq)]
pub struct TypedConfirm {
    pub title: String,
    pub lines: Vec<String>,
    pub expected: Vec<String>,
    pub input: String,
    /// The last Enter did not match.
    pub wrong: bool,
    pub action: Action,
}

impl TypedConfirm {
    pub fn accepts(&self) -> bool {
        let got = self.input.trim();
        self.expected.iter().any(|e| e.eq_ignore_ascii_case(got))
    }
}

/// A scrollable text view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Details {
    pub title: String,
    pub lines: Vec<String>,
    pub scroll: usize,
    /// The request whose answer fills it.
    pub waiting_for: Option<RequestId>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Overlay {
    Help,
    Confirm(Confirm),
    Typed(TypedConfirm),
    /// The resources filter dialog; `row` is the field under the cursor.
    Filter {
        row: usize,
    },
    Details(Details),
}

/// The fields of the filter dialog.
pub const FILTER_ROWS: [&str; 4] = ["Region", "Type", "Project", "State"];

impl Model {
    /// Sends what a confirmed dialog asked for.
    pub(super) fn execute(&mut self, action: Action) -> Option<Effect> {
        let (command, what) = match action {
            Action::Cancel(id) => {
                if !self.is_connected() {
                    self.flash(Level::Error, "not connected to Redis: cancel not sent");
                    return None;
                }
                self.flash(
                    Level::Info,
                    "cancel requested: the request stops at its next safe point",
                );
                return Some(Effect::Cancel(id));
            }
            Action::Deploy(slug) => (
                Command::Deploy(DeployArgs {
                    target: BlueprintRef {
                        project: Some(slug.clone()),
                        blueprint: None,
                    },
                    rollback_on_failure: false,
                }),
                format!("deploy of {slug}"),
            ),
            Action::Power(slug, action) => (
                Command::Power(PowerArgs {
                    project: slug.clone(),
                    action,
                    dry_run: false,
                }),
                format!(
                    "power {} of {slug}",
                    match action {
                        PowerAction::Start => "start",
                        PowerAction::Stop => "stop",
                    }
                ),
            ),
            Action::Destroy(slug) => (
                Command::Destroy(DestroyArgs {
                    project: slug.clone(),
                    ..Default::default()
                }),
                format!("destroy of {slug}"),
            ),
            Action::Terminate(targets) => {
                let n = targets.len();
                self.resources.clear_marks();
                (
                    Command::Terminate(TerminateArgs {
                        targets,
                        ..Default::default()
                    }),
                    format!("terminate of {n} resource{}", if n == 1 { "" } else { "s" }),
                )
            }
        };
        let (_, e) = self.send(command, Purpose::User)?;
        self.flash(
            Level::Info,
            format!("{what} sent: follow it in Activity (3)"),
        );
        Some(e)
    }

    /// The keys of the open dialog (taken out of the model; put back unless it closes).
    pub(super) fn on_overlay_key(&mut self, ov: Overlay, k: KeyEvent) -> Option<Effect> {
        match ov {
            Overlay::Help => None,
            Overlay::Confirm(c) => match k.code {
                KeyCode::Char('y' | 'Y') | KeyCode::Enter => self.execute(c.action),
                KeyCode::Char('n' | 'N' | 'q') | KeyCode::Esc => None,
                _ => {
                    self.overlay = Some(Overlay::Confirm(c));
                    None
                }
            },
            Overlay::Typed(mut t) => {
                match k.code {
                    KeyCode::Esc => return None,
                    KeyCode::Enter => {
                        if t.accepts() {
                            return self.execute(t.action);
                        }
                        t.wrong = true;
                    }
                    KeyCode::Backspace => {
                        t.input.pop();
                        t.wrong = false;
                    }
                    KeyCode::Char('u') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                        t.input.clear();
                        t.wrong = false;
                    }
                    KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
                        if t.input.chars().count() < 128 {
                            t.input.push(c);
                        }
                        t.wrong = false;
                    }
                    _ => {}
                }
                self.overlay = Some(Overlay::Typed(t));
                None
            }
            Overlay::Filter { mut row } => {
                match k.code {
                    KeyCode::Esc | KeyCode::Enter | KeyCode::Char('f' | 'q') => return None,
                    KeyCode::Up | KeyCode::Char('k') => row = row.saturating_sub(1),
                    KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab => {
                        row = (row + 1).min(FILTER_ROWS.len() - 1);
                    }
                    KeyCode::Left | KeyCode::Char('h') => self.cycle_filter(row, -1),
                    KeyCode::Right | KeyCode::Char('l') | KeyCode::Char(' ') => {
                        self.cycle_filter(row, 1);
                    }
                    KeyCode::Backspace | KeyCode::Delete | KeyCode::Char('x') => {
                        self.reset_filter(row);
                    }
                    KeyCode::Char('c') => {
                        for r in 0..FILTER_ROWS.len() {
                            self.reset_filter(r);
                        }
                    }
                    _ => {}
                }
                self.overlay = Some(Overlay::Filter { row });
                None
            }
            Overlay::Details(mut d) => {
                if let Some(n) = keys::nav(&k) {
                    // The dialog shows all but four rows of the screen.
                    let shown = usize::from(self.size.1).saturating_sub(4).max(1);
                    let last = d.lines.len().saturating_sub(shown);
                    d.scroll = keys::apply(n, d.scroll.min(last), last + 1, shown);
                    self.overlay = Some(Overlay::Details(d));
                    return None;
                }
                match k.code {
                    KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') => None,
                    _ => {
                        self.overlay = Some(Overlay::Details(d));
                        None
                    }
                }
            }
        }
    }
}
