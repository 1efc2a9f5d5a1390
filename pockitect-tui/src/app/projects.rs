//! The Projects tab's component: its state, its keys and what they do, and how the daemon's
//! project answers land in it. What a project event carries is read only in
//! [`crate::projects`]; this module and the view (`ui::projects`) go through it.

use pockitect_proto::{Command, Envelope, Event, PowerAction, ProjectRef};
use ratatui::crossterm::event::KeyCode;

use super::{Action, Confirm, Details, Effect, Level, Model, Overlay, Purpose, TypedConfirm};
use crate::keys::{self, Binding, Key, Nav, binding};
use crate::projects::{self as data, ProjectRow};

#[derive(Debug, Default)]
pub struct ProjectsState {
    pub rows: Vec<ProjectRow>,
    pub selected: usize,
    pub loaded: bool,
    /// What each project cost this month to date (Cost Explorer), once asked for with `$`.
    pub spend: std::collections::HashMap<String, f64>,
}

impl ProjectsState {
    pub fn current(&self) -> Option<&ProjectRow> {
        self.rows.get(self.selected)
    }

    pub(super) fn nav(&mut self, n: Nav, page: usize) {
        self.selected = keys::apply(n, self.selected, self.rows.len(), page);
    }

    /// Takes a new list (a `projects` answer), keeping the cursor on the same project. False
    /// when the answer cannot be read (the list is kept).
    pub(super) fn replace(&mut self, env: &Envelope) -> bool {
        let keep = self.current().map(|p| p.slug.clone());
        self.loaded = true;
        let Some(rows) = data::parse_projects(env) else {
            return false;
        };
        self.rows = rows;
        self.selected = keep
            .and_then(|s| self.rows.iter().position(|p| p.slug == s))
            .unwrap_or(self.selected)
            .min(self.rows.len().saturating_sub(1));
        true
    }
}

/// What the Projects tab's keys do (each on the project under the cursor).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProjectKey {
    Details,
    Deploy,
    Power(PowerAction),
    Destroy,
    /// Ask Cost Explorer what each project cost (for every project: not the one under the
    /// cursor).
    Spend,
}

pub const KEYS: &[Binding<ProjectKey>] = &[
    binding!(
        Key::code(KeyCode::Enter) => ProjectKey::Details,
        "details: parts, outputs, recent requests",
        hint ("⏎", "details")
    ),
    // Not with Ctrl: Ctrl-D pages down.
    binding!(
        Key::no_ctrl(KeyCode::Char('d')) => ProjectKey::Deploy,
        "deploy",
        hint ("d", "deploy")
    ),
    binding!(
        Key::ch('s') => ProjectKey::Power(PowerAction::Start),
        "power start (EC2 and RDS)",
        hint ("s/x", "start/stop")
    ),
    binding!(Key::ch('x') => ProjectKey::Power(PowerAction::Stop), "power stop"),
    binding!(
        Key::ch('D') => ProjectKey::Destroy,
        "destroy (type the slug to confirm)",
        hint ("D", "destroy")
    ),
    binding!(
        Key::ch('$') => ProjectKey::Spend,
        "spend this month, Cost Explorer ($0.01)",
        hint ("$", "spend")
    ),
];

impl Model {
    /// Fills the details dialog that waits for this `project` answer.
    pub(super) fn on_project_details(&mut self, env: &Envelope) {
        let Some(Overlay::Details(d)) = &self.overlay else {
            return;
        };
        if d.waiting_for != env.request_id {
            return;
        }
        let lines = match env.decode() {
            Ok(Event::Project(detail)) => {
                let recent = self.activity.recent_for_project(&detail.summary.slug, 5);
                data::details_lines(&detail, &recent)
            }
            _ => vec![
                "The daemon's answer cannot be read: are the console and the daemon the same version?"
                    .to_owned(),
            ],
        };
        if let Some(Overlay::Details(d)) = &mut self.overlay {
            d.lines = lines;
            d.waiting_for = None;
            d.scroll = 0;
        }
    }

    /// The answer to `$`: each project's spend this month to date.
    pub(super) fn on_spend(&mut self, env: &Envelope) {
        match env.decode() {
            Ok(Event::Cost(r)) => {
                self.projects.spend = r
                    .projects
                    .iter()
                    .map(|p| (p.project.clone(), p.month_to_date_usd))
                    .collect();
                if r.tag_active {
                    self.flash(
                        Level::Info,
                        format!(
                            "spend this month: ${:.2} in all, ${:.2} untagged",
                            r.month_to_date.total_usd, r.month_to_date.untagged_usd
                        ),
                    );
                } else if let Some(n) = r.notes.first() {
                    self.flash(Level::Warn, n.clone());
                }
            }
            _ => self.flash(
                Level::Warn,
                "spend: the daemon's answer cannot be read (is it the same version?)",
            ),
        }
    }

    /// `$`: asks the daemon what every project cost (one Cost Explorer request).
    fn ask_spend(&mut self) -> Option<Effect> {
        let (_, e) = self.send(
            Command::Cost(pockitect_proto::CostArgs::default()),
            Purpose::CostQuery,
        )?;
        self.flash(Level::Info, "asking Cost Explorer what each project cost…");
        Some(e)
    }

    pub(super) fn on_projects_key(&mut self, key: ProjectKey) -> Option<Effect> {
        let Some(p) = self.projects.current().cloned() else {
            self.flash(Level::Warn, "no project selected");
            return None;
        };
        let slug = p.slug.clone();
        let region = p
            .region
            .clone()
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "its region".to_owned());
        match key {
            ProjectKey::Spend => self.ask_spend(),
            ProjectKey::Details => {
                let mut details = Details {
                    title: format!("{} ({slug})", p.name.as_deref().unwrap_or(&slug)),
                    lines: vec!["loading from the daemon…".to_owned()],
                    scroll: 0,
                    waiting_for: None,
                };
                match self.send(
                    Command::GetProject(ProjectRef {
                        project: slug.clone(),
                    }),
                    Purpose::ProjectDetails,
                ) {
                    Some((id, e)) => {
                        details.waiting_for = Some(id);
                        self.overlay = Some(Overlay::Details(details));
                        Some(e)
                    }
                    None => {
                        details.lines = data::offline_details(&p);
                        self.overlay = Some(Overlay::Details(details));
                        None
                    }
                }
            }
            ProjectKey::Deploy => {
                let action = Action::Deploy(slug.clone());
                let (plan, sent) = self.plan_for(&action);
                self.overlay = Some(Overlay::Confirm(Confirm {
                    title: format!("Deploy {slug}?"),
                    lines: vec![
                        format!(
                            "Creates or adopts every resource of projects/{slug}.json in {region}."
                        ),
                        "A deploy is idempotent: what exists is adopted, never duplicated."
                            .to_owned(),
                        "Progress shows on the project's row and in Activity (3).".to_owned(),
                    ],
                    plan,
                    action,
                }));
                sent
            }
            ProjectKey::Power(action) => {
                let verb = match action {
                    PowerAction::Start => "Start",
                    PowerAction::Stop => "Stop",
                };
                let action = Action::Power(slug.clone(), action);
                let (plan, sent) = self.plan_for(&action);
                self.overlay = Some(Overlay::Confirm(Confirm {
                    title: format!("{verb} {slug}?"),
                    lines: vec![format!(
                        "{verb}s the project's EC2 and RDS instances in {region} and waits for them."
                    )],
                    plan,
                    action,
                }));
                sent
            }
            ProjectKey::Destroy => {
                let summary = data::deployed_summary(&p, self.resources.project_resources(&slug));
                let action = Action::Destroy(slug.clone());
                let (plan, sent) = self.plan_for(&action);
                self.overlay = Some(Overlay::Typed(TypedConfirm {
                    title: format!("Destroy {slug}?"),
                    lines: vec![
                        format!("Deletes every AWS resource project {slug} owns in {region}."),
                        format!("Deployed (blueprint, last scan): {summary}."),
                        "The blueprint stays; its statuses return to pending.".to_owned(),
                    ],
                    plan,
                    prompt: format!("Type the project's slug ({slug}) and press Enter:"),
                    expected: vec![slug.clone()],
                    input: String::new(),
                    wrong: false,
                    action,
                }));
                sent
            }
        }
    }
}
