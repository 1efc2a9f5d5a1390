//! The dialogs drawn over the tabs (help, yes/no and typed confirmations, the resources
//! filter form, scrollable text) and what their keys do. A dialog is modal: while one is open
//! it takes every key but Ctrl-C. What a confirmed dialog asks for is an [`Action`], turned
//! into a command by [`Model::execute`].

use pockitect_proto::deploy::Action as PlanAction;
use pockitect_proto::{
    Approval, BlueprintRef, Command, DeployArgs, DestroyArgs, Envelope, Event, PlanDigest,
    PowerAction, PowerArgs, RequestId, Status, TerminateArgs, TerminateTarget,
};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{Effect, Level, Model, Purpose};
use crate::keys;
use crate::resources::short_type;

/// A command waiting for the user's confirmation.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Deploy(String),
    Power(String, PowerAction),
    Destroy(String),
    Terminate(Vec<TerminateTarget>),
    Cancel(RequestId),
}

/// Where the plan behind a confirmation stands. A destructive command is confirmed on the
/// daemon's own plan (its dry run), and sent with that plan's digest: the daemon runs exactly
/// what the dialog showed, or nothing if the estate changed in between.
#[derive(Clone, Debug, PartialEq)]
pub enum Planning {
    /// Nothing to plan (power start, cancel).
    None,
    /// The dry run is sent; its answer fills the dialog.
    Waiting(RequestId),
    /// The plan is shown; confirming sends its digest.
    Ready(PlanDigest),
    /// The daemon could not plan, or refused (the lines say why): nothing to confirm.
    Failed,
}

/// The plan part of a confirmation: its state and the lines that show it.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub state: Planning,
    pub lines: Vec<String>,
}

impl Plan {
    pub fn none() -> Self {
        Self {
            state: Planning::None,
            lines: Vec::new(),
        }
    }

    /// True when the dialog can be confirmed: there is nothing to plan, or the plan is shown.
    pub fn is_ready(&self) -> bool {
        matches!(self.state, Planning::None | Planning::Ready(_))
    }

    /// The approval to send with the confirmed command.
    fn approval(&self) -> Option<Approval> {
        match &self.state {
            Planning::Ready(d) => Some(Approval {
                plan_digest: Some(d.clone()),
                override_policy: false,
            }),
            _ => None,
        }
    }
}

/// A yes/no question.
#[derive(Clone, Debug, PartialEq)]
pub struct Confirm {
    pub title: String,
    pub lines: Vec<String>,
    pub plan: Plan,
    pub action: Action,
}

/// A question answered by typing: the project's slug, or the count of resources or `yes`.
#[derive(Clone, Debug, PartialEq)]
pub struct TypedConfirm {
    pub title: String,
    pub lines: Vec<String>,
    pub plan: Plan,
    /// The last line: what to type.
    pub prompt: String,
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

/// Most planned resources a dialog lists one by one.
const PLAN_LINES: usize = 6;

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
pub const FILTER_ROWS: [&str; 5] = ["Region", "Type", "Project", "State", "Account"];

impl Model {
    /// Asks the daemon for the plan behind `action` (a dry run, or a deploy's plan), to show in
    /// its confirmation. Returns the plan part of the dialog and the effect that sends it.
    pub(super) fn plan_for(&mut self, action: &Action) -> (Plan, Option<Effect>) {
        let dry = match action {
            Action::Deploy(slug) => Command::Plan(BlueprintRef {
                project: Some(slug.clone()),
                blueprint: None,
            }),
            Action::Power(slug, PowerAction::Stop) => Command::Power(PowerArgs {
                project: slug.clone(),
                action: PowerAction::Stop,
                dry_run: true,
            }),
            Action::Destroy(slug) => Command::Destroy(DestroyArgs {
                project: slug.clone(),
                dry_run: true,
                ..Default::default()
            }),
            Action::Terminate(targets) => Command::Terminate(TerminateArgs {
                targets: targets.clone(),
                dry_run: true,
                ..Default::default()
            }),
            Action::Power(_, PowerAction::Start) | Action::Cancel(_) => {
                return (Plan::none(), None);
            }
        };
        match self.send(dry, Purpose::Plan) {
            Some((id, e)) => (
                Plan {
                    state: Planning::Waiting(id),
                    lines: vec!["Planning: asking the daemon what exactly it would do…".into()],
                },
                Some(e),
            ),
            None => (
                Plan {
                    state: Planning::Failed,
                    lines: vec!["Not connected to Redis: nothing can be planned.".into()],
                },
                None,
            ),
        }
    }

    /// A plan answered: fills the open dialog that waits for it (a dialog closed meanwhile
    /// lets it go).
    pub(super) fn on_plan(&mut self, env: &Envelope) {
        let Some(id) = &env.request_id else { return };
        let waiting = Planning::Waiting(id.clone());
        match &mut self.overlay {
            Some(Overlay::Confirm(c)) if c.plan.state == waiting => c.plan = planned(env),
            Some(Overlay::Typed(t)) if t.plan.state == waiting => {
                t.plan = planned(env);
                // The plan lists what is deleted: the selection it replaces would only push
                // the prompt off a small screen.
                if matches!(t.action, Action::Terminate(_)) && t.plan.is_ready() {
                    t.lines.clear();
                }
            }
            _ => {}
        }
    }

    /// Sends what a confirmed dialog asked for.
    pub(super) fn execute(&mut self, action: Action, plan: &Plan) -> Option<Effect> {
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
                    over_budget: false,
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
        let (_, e) = self.send_approved(command, Purpose::User, plan.approval())?;
        self.flash(
            Level::Info,
            format!("{what} sent: follow it in Activity (3)"),
        );
        Some(e)
    }

    fn not_planned(&mut self, plan: &Plan) {
        let why = match plan.state {
            Planning::Waiting(_) => "the plan is not there yet: wait for it, or Esc",
            _ => "there is no plan to confirm (see the dialog): Esc closes it",
        };
        self.flash(Level::Warn, why);
    }

    /// The keys of the open dialog (taken out of the model; put back unless it closes).
    pub(super) fn on_overlay_key(&mut self, ov: Overlay, k: KeyEvent) -> Option<Effect> {
        match ov {
            Overlay::Help => None,
            Overlay::Confirm(c) => match k.code {
                KeyCode::Char('y' | 'Y') | KeyCode::Enter if !c.plan.is_ready() => {
                    self.not_planned(&c.plan);
                    self.overlay = Some(Overlay::Confirm(c));
                    None
                }
                KeyCode::Char('y' | 'Y') | KeyCode::Enter => self.execute(c.action, &c.plan),
                KeyCode::Char('n' | 'N' | 'q') | KeyCode::Esc => None,
                _ => {
                    self.overlay = Some(Overlay::Confirm(c));
                    None
                }
            },
            Overlay::Typed(mut t) => {
                match k.code {
                    KeyCode::Esc => return None,
                    KeyCode::Enter if !t.plan.is_ready() => self.not_planned(&t.plan),
                    KeyCode::Enter => {
                        if t.accepts() {
                            return self.execute(t.action, &t.plan);
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

/// The plan part of a dialog from the dry run's (or plan's) terminal event.
fn planned(env: &Envelope) -> Plan {
    let failed = |why: String| Plan {
        state: Planning::Failed,
        lines: vec![format!("The daemon cannot do it: {why}")],
    };
    if env.status != Some(Status::Success) {
        return failed(env.message().unwrap_or("the plan failed").to_owned());
    }
    let (digest, mut lines) = match env.decode() {
        Ok(Event::TerminateComplete(t) | Event::DestroyComplete(t)) => {
            let plan = t.plan.unwrap_or_default();
            let mut lines = vec![format!(
                "The daemon's plan deletes {}, in order:",
                plan.total()
            )];
            let items = plan.layers.iter().flat_map(|l| l.items.iter());
            lines.extend(items.clone().take(PLAN_LINES).map(|i| {
                let r = &i.record;
                let name = r
                    .name
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default();
                format!("  {} {} {}{name}", short_type(r.kind), r.id, r.region)
            }));
            more(&mut lines, items.count());
            if !plan.skipped.is_empty() {
                lines.push(format!(
                    "Left alone: {} (not the project's own, shared or protected).",
                    plan.skipped.len()
                ));
            }
            (t.plan_digest, lines)
        }
        Ok(Event::PowerComplete(p)) => {
            let targets = p.plan.unwrap_or_default();
            let mut lines = vec![format!("The daemon's plan stops {}:", targets.len())];
            lines.extend(
                targets
                    .iter()
                    .take(PLAN_LINES)
                    .map(|t| format!("  {} {} {}", short_type(t.kind), t.id, t.region)),
            );
            more(&mut lines, targets.len());
            (p.plan_digest, lines)
        }
        Ok(Event::Plan(p)) => {
            let counts = [
                PlanAction::Create,
                PlanAction::Adopt,
                PlanAction::Update,
                PlanAction::NoChange,
            ]
            .into_iter()
            .map(|a| (a, p.plan.count(a)))
            .filter(|(_, n)| *n > 0)
            .map(|(a, n)| format!("{n} {a}"))
            .collect::<Vec<_>>();
            let mut lines = vec![format!("The daemon's plan: {}.", counts.join(", "))];
            lines.extend(
                p.plan
                    .resources
                    .iter()
                    .filter_map(|r| r.error.as_ref().map(|e| format!("  {}: {e}", r.resource))),
            );
            if let Some(e) = &p.estimate {
                lines.push(crate::projects::total_line(
                    e.total_usd_month,
                    p.budget_usd_month,
                ));
            }
            (p.plan_digest, lines)
        }
        _ => return failed("its answer cannot be read (is it the same version?)".into()),
    };
    match digest {
        Some(d) => {
            lines.push(format!(
                "Plan {}: confirming runs exactly this plan.",
                d.short()
            ));
            Plan {
                state: Planning::Ready(d),
                lines,
            }
        }
        None => failed("its plan carries no digest (is it the same version?)".into()),
    }
}

/// `… and N more` when a list was cut at [`PLAN_LINES`].
fn more(lines: &mut Vec<String>, total: usize) {
    if total > PLAN_LINES {
        lines.push(format!("  … and {} more", total - PLAN_LINES));
    }
}
