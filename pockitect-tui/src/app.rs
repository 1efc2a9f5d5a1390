//! The console's state ([`Model`]) and the one function that changes it ([`update`]): a pure
//! function of the model and a message ([`Msg`]: a key, something from the bus, a tick, a
//! resize). It does no I/O; what must happen outside (send a command, ask for a cancel, quit)
//! comes back as an [`Effect`] for the loop in `lib.rs` to hand to the bus task.
//!
//! Derived data (the resources table's filtered and sorted rows, facets, per-project counts) is
//! rebuilt lazily by [`Model::prepare`], which the loop calls once before each frame: a flood
//! of events costs one rebuild per frame, not one per event.

use std::cell::Cell;
use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use pockitect_proto::{
    BlueprintRef, Command, DaemonHeartbeat, DeployArgs, DestroyArgs, Empty, Envelope, PowerAction,
    PowerArgs, ProjectRef, RequestId, ResourceFilter, ResourceRecord, ScanArgs, Status,
    TerminateArgs, TerminateTarget, event_type,
};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use serde_json::Value;

use crate::activity::Activity;
use crate::keys;
use crate::projects::{self, ProjectRow};
use crate::resources::{ProjectFilter, ResourceStore, short_type, terminate_target};
use crate::theme::Theme;

/// The four tabs, in the order of their number keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Tab {
    #[default]
    Projects,
    Resources,
    Activity,
    Daemons,
}

impl Tab {
    pub const ALL: [Tab; 4] = [Tab::Projects, Tab::Resources, Tab::Activity, Tab::Daemons];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Projects => "Projects",
            Tab::Resources => "Resources",
            Tab::Activity => "Activity",
            Tab::Daemons => "Daemons",
        }
    }

    pub fn index(self) -> usize {
        Self::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    fn shifted(self, by: isize) -> Self {
        let n = Self::ALL.len() as isize;
        Self::ALL[((self.index() as isize + by).rem_euclid(n)) as usize]
    }
}

/// Everything that can change the model.
#[derive(Clone, Debug, PartialEq)]
pub enum Msg {
    Key(KeyEvent),
    Bus(BusMsg),
    /// The clock moved (ages, spinners, flash messages expire).
    Tick(DateTime<Utc>),
    Resize(u16, u16),
}

/// What the bus task reports.
#[derive(Clone, Debug, PartialEq)]
pub enum BusMsg {
    Connected,
    /// Redis is unreachable (a failed attempt or a lost connection); the task keeps retrying.
    Disconnected(String),
    /// Events in stream order. `replay` marks history read at start-up: it fills Activity but
    /// does not touch the estate (old scan chunks may describe resources long gone).
    Events {
        events: Vec<Envelope>,
        replay: bool,
    },
    Daemons(Vec<DaemonHeartbeat>),
    Health(Health),
    /// A command or cancel could not be handed to Redis.
    SendFailed {
        request_id: RequestId,
        reason: String,
    },
}

/// Redis as the last poll saw it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Health {
    pub latency_ms: f64,
    /// Commands no daemon has taken yet.
    pub waiting: usize,
    /// Commands taken and not yet finished.
    pub pending: usize,
}

/// Work for the outside world.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Send {
        request_id: RequestId,
        command: Command,
    },
    Cancel(RequestId),
    Batch(Vec<Effect>),
    Quit,
}

impl Effect {
    /// The effects in order, batches opened.
    pub fn flatten(self) -> Vec<Effect> {
        match self {
            Effect::Batch(v) => v.into_iter().flat_map(Effect::flatten).collect(),
            e => vec![e],
        }
    }
}

fn batch(mut v: Vec<Effect>) -> Option<Effect> {
    match v.len() {
        0 => None,
        1 => v.pop(),
        _ => Some(Effect::Batch(v)),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnState {
    Connecting,
    Connected {
        since: DateTime<Utc>,
    },
    Disconnected {
        reason: String,
        since: DateTime<Utc>,
        attempts: u32,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// A one-line message in the footer that goes away by itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flash {
    pub text: String,
    pub level: Level,
    pub until: DateTime<Utc>,
}

/// Why this console sent a request, so its answer goes to the right place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    ResourcesQuery,
    ProjectsQuery,
    ProjectDetails,
    User,
}

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

#[derive(Debug, Default)]
pub struct ProjectsState {
    pub rows: Vec<ProjectRow>,
    pub selected: usize,
    pub loaded: bool,
}

impl ProjectsState {
    pub fn current(&self) -> Option<&ProjectRow> {
        self.rows.get(self.selected)
    }
}

#[derive(Debug, Default)]
pub struct DaemonsState {
    pub list: Vec<DaemonHeartbeat>,
    pub selected: usize,
    pub health: Option<Health>,
    pub polled: Option<DateTime<Utc>>,
}

/// Scroll offsets the view keeps between frames (like ratatui's table state): the only thing
/// the view writes, so that a list scrolls only when the cursor leaves the window.
#[derive(Debug, Default)]
pub struct ViewCache {
    pub projects: Cell<usize>,
    pub resources: Cell<usize>,
    pub activity: Cell<usize>,
    pub daemons: Cell<usize>,
}

/// Makes request ids without randomness in `update`: a per-session random prefix (given at
/// start) and a counter, 32 hex characters like any other id.
#[derive(Debug)]
struct IdGen {
    prefix: String,
    seq: u32,
}

impl IdGen {
    fn new(session: &str) -> Self {
        let mut prefix: String = session
            .chars()
            .filter(char::is_ascii_hexdigit)
            .take(24)
            .collect::<String>()
            .to_ascii_lowercase();
        while prefix.len() < 24 {
            prefix.push('0');
        }
        Self { prefix, seq: 0 }
    }

    fn next(&mut self) -> RequestId {
        self.seq = self.seq.wrapping_add(1);
        // 24 hex + 8 hex characters always form a valid id.
        RequestId::parse(&format!("{}{:08x}", self.prefix, self.seq))
            .unwrap_or_else(|_| RequestId::new())
    }
}

/// What [`Model::new`] needs.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Shown on screen: pass it through `redact_url` first.
    pub redis_url: String,
    pub prefix: String,
    /// Random hex for request ids (see [`IdGen`]).
    pub session: String,
    pub theme: Theme,
    pub now: DateTime<Utc>,
    pub size: (u16, u16),
}

#[derive(Debug)]
pub struct Model {
    pub tab: Tab,
    pub conn: ConnState,
    pub redis_url: String,
    pub prefix: String,
    pub theme: Theme,
    pub now: DateTime<Utc>,
    pub size: (u16, u16),
    /// Advances every tick, for spinners.
    pub spinner: usize,
    pub projects: ProjectsState,
    pub resources: ResourceStore,
    pub activity: Activity,
    pub daemons: DaemonsState,
    pub overlay: Option<Overlay>,
    /// The `/` search line is open.
    pub searching: bool,
    pub flash: Option<Flash>,
    pub view: ViewCache,
    own: HashMap<RequestId, Purpose>,
    ids: IdGen,
    /// Start-up and reload queries in flight, with when they were sent.
    pending_resources: Option<(RequestId, DateTime<Utc>)>,
    pending_projects: Option<(RequestId, DateTime<Utc>)>,
    requery_resources: bool,
    requery_projects: bool,
}

/// How long an unanswered query blocks sending the same query again (no daemon may be
/// running; after this a reload asks anew).
const QUERY_PATIENCE: Duration = Duration::seconds(15);

/// Command types whose end changes what the daemon reports.
fn changes_estate(kind: &str) -> bool {
    matches!(
        kind,
        "deploy" | "power" | "terminate" | "destroy" | "refresh" | "scan"
    )
}

fn parse_records(v: Value) -> Vec<ResourceRecord> {
    match v {
        // One bad record (say, a type this build does not know) must not hide the rest.
        Value::Array(items) => items
            .into_iter()
            .filter_map(|r| serde_json::from_value(r).ok())
            .collect(),
        _ => Vec::new(),
    }
}

/// Changes the model; see the module docs.
pub fn update(model: &mut Model, msg: Msg) -> Option<Effect> {
    model.update(msg)
}

impl Model {
    pub fn new(s: Settings) -> Self {
        Self {
            tab: Tab::default(),
            conn: ConnState::Connecting,
            redis_url: s.redis_url,
            prefix: s.prefix,
            theme: s.theme,
            now: s.now,
            size: s.size,
            spinner: 0,
            projects: ProjectsState::default(),
            resources: ResourceStore::default(),
            activity: Activity::default(),
            daemons: DaemonsState::default(),
            overlay: None,
            searching: false,
            flash: None,
            view: ViewCache::default(),
            own: HashMap::new(),
            ids: IdGen::new(&s.session),
            pending_resources: None,
            pending_projects: None,
            requery_resources: false,
            requery_projects: false,
        }
    }

    pub fn is_connected(&self) -> bool {
        matches!(self.conn, ConnState::Connected { .. })
    }

    /// Rebuilds derived data that changed since the last frame; call before drawing.
    pub fn prepare(&mut self) {
        // Facets feed the Projects tab and the filter dialog only.
        let facets = self.tab == Tab::Projects
            || matches!(
                self.overlay,
                Some(Overlay::Filter { .. }) | Some(Overlay::Typed(_))
            );
        self.resources.prepare(facets);
    }

    /// Like [`Model::prepare`], with everything rebuilt (before handling a key).
    fn prepare_all(&mut self) {
        self.resources.prepare(true);
    }

    pub fn update(&mut self, msg: Msg) -> Option<Effect> {
        match msg {
            Msg::Key(k) => {
                if k.kind == KeyEventKind::Release {
                    return None;
                }
                self.prepare_all();
                self.on_key(k)
            }
            Msg::Bus(b) => self.on_bus(b),
            Msg::Tick(now) => {
                self.now = now;
                self.spinner = self.spinner.wrapping_add(1);
                if self.flash.as_ref().is_some_and(|f| f.until <= now) {
                    self.flash = None;
                }
                None
            }
            Msg::Resize(w, h) => {
                self.size = (w, h);
                None
            }
        }
    }

    fn flash(&mut self, level: Level, text: impl Into<String>) {
        let secs = match level {
            Level::Info => 4,
            Level::Warn => 6,
            Level::Error => 10,
        };
        self.flash = Some(Flash {
            text: text.into(),
            level,
            until: self.now + Duration::seconds(secs),
        });
    }

    fn page(&self) -> usize {
        usize::from(self.size.1).saturating_sub(9).max(1)
    }

    // ---- sending ------------------------------------------------------------------------

    fn send(&mut self, command: Command, purpose: Purpose) -> Option<(RequestId, Effect)> {
        if !self.is_connected() {
            if purpose == Purpose::User {
                self.flash(
                    Level::Error,
                    format!(
                        "not connected to Redis: '{}' was not sent (reconnecting by itself)",
                        command.kind()
                    ),
                );
            }
            return None;
        }
        let id = self.ids.next();
        if purpose == Purpose::User {
            self.activity.register_sent(
                &id,
                command.kind(),
                command.project().map(str::to_owned),
                self.now,
            );
        }
        self.own.insert(id.clone(), purpose);
        Some((
            id.clone(),
            Effect::Send {
                request_id: id,
                command,
            },
        ))
    }

    /// True while a query sent less than [`QUERY_PATIENCE`] ago is unanswered.
    fn waiting(&self, pending: &Option<(RequestId, DateTime<Utc>)>) -> bool {
        pending
            .as_ref()
            .is_some_and(|(_, at)| self.now - *at < QUERY_PATIENCE)
    }

    fn query_resources(&mut self) -> Option<Effect> {
        if self.waiting(&self.pending_resources) {
            self.requery_resources = true;
            return None;
        }
        self.requery_resources = false;
        let (id, e) = self.send(
            Command::QueryResources(ResourceFilter::default()),
            Purpose::ResourcesQuery,
        )?;
        self.pending_resources = Some((id, self.now));
        Some(e)
    }

    fn query_projects(&mut self) -> Option<Effect> {
        if self.waiting(&self.pending_projects) {
            self.requery_projects = true;
            return None;
        }
        self.requery_projects = false;
        let (id, e) = self.send(Command::ListProjects(Empty {}), Purpose::ProjectsQuery)?;
        self.pending_projects = Some((id, self.now));
        Some(e)
    }

    fn reload(&mut self) -> Option<Effect> {
        let mut v = Vec::new();
        v.extend(self.query_projects());
        v.extend(self.query_resources());
        batch(v)
    }

    fn execute(&mut self, action: Action) -> Option<Effect> {
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

    // ---- bus ----------------------------------------------------------------------------

    fn on_bus(&mut self, msg: BusMsg) -> Option<Effect> {
        match msg {
            BusMsg::Connected => {
                let was_down = matches!(self.conn, ConnState::Disconnected { .. });
                self.conn = ConnState::Connected { since: self.now };
                if was_down {
                    self.flash(Level::Info, "reconnected to Redis");
                }
                // Answers to queries sent before the drop may never come.
                self.pending_resources = None;
                self.pending_projects = None;
                self.reload()
            }
            BusMsg::Disconnected(reason) => {
                let (since, attempts) = match &self.conn {
                    ConnState::Disconnected {
                        since, attempts, ..
                    } => (*since, attempts + 1),
                    _ => (self.now, 1),
                };
                self.conn = ConnState::Disconnected {
                    reason,
                    since,
                    attempts,
                };
                None
            }
            BusMsg::Events { events, replay } => {
                let mut out = Vec::new();
                for env in events {
                    self.on_event(env, replay);
                }
                if self.requery_resources && !self.waiting(&self.pending_resources) {
                    out.extend(self.query_resources());
                }
                if self.requery_projects && !self.waiting(&self.pending_projects) {
                    out.extend(self.query_projects());
                }
                batch(out)
            }
            BusMsg::Daemons(list) => {
                self.daemons.list = list;
                self.daemons.polled = Some(self.now);
                let n = self.daemons.list.len();
                self.daemons.selected = self.daemons.selected.min(n.saturating_sub(1));
                None
            }
            BusMsg::Health(h) => {
                self.daemons.health = Some(h);
                None
            }
            BusMsg::SendFailed { request_id, reason } => {
                self.activity.mark_failed(&request_id, &reason, self.now);
                self.forget(&request_id);
                self.flash(Level::Error, format!("could not send: {reason}"));
                None
            }
        }
    }

    /// Drops what was waiting for a request's answer.
    fn forget(&mut self, id: &RequestId) -> Option<Purpose> {
        if self
            .pending_resources
            .as_ref()
            .is_some_and(|(p, _)| p == id)
        {
            self.pending_resources = None;
        }
        if self.pending_projects.as_ref().is_some_and(|(p, _)| p == id) {
            self.pending_projects = None;
        }
        self.own.remove(id)
    }

    fn on_event(&mut self, mut env: Envelope, replay: bool) {
        let ingested = self.activity.ingest(&env);
        let purpose = env
            .request_id
            .as_ref()
            .and_then(|id| self.own.get(id))
            .copied();
        // A query's terminal event carries only a summary (`data.reply`) unless the bus task
        // read the whole answer for us: a summary must never be taken for an empty answer.
        let whole = env.reply_ref().is_none();
        match env.kind.as_str() {
            event_type::RESOURCES if whole && purpose == Some(Purpose::ResourcesQuery) => {
                let records = parse_records(env.data["records"].take());
                self.resources.replace_all(records);
            }
            event_type::PROJECTS if whole => {
                let rows = projects::parse_projects(&env.data);
                let keep = self.projects.current().map(|p| p.slug.clone());
                self.projects.rows = rows;
                self.projects.loaded = true;
                self.projects.selected = keep
                    .and_then(|s| self.projects.rows.iter().position(|p| p.slug == s))
                    .unwrap_or(self.projects.selected)
                    .min(self.projects.rows.len().saturating_sub(1));
            }
            event_type::PROJECT if whole && purpose == Some(Purpose::ProjectDetails) => {
                if let Some(Overlay::Details(d)) = &mut self.overlay
                    && d.waiting_for == env.request_id
                {
                    let slug = env
                        .data
                        .pointer("/blueprint/project/slug")
                        .and_then(Value::as_str)
                        .or(env.project_id.as_deref())
                        .unwrap_or("project")
                        .to_owned();
                    d.lines = projects::details_lines(&slug, &env.data);
                    d.waiting_for = None;
                    d.scroll = 0;
                }
            }
            event_type::SCAN_CHUNK if !replay => {
                let records = parse_records(env.data["records"].take());
                self.resources.upsert(records);
            }
            _ => {}
        }
        let failed = env.status == Some(Status::Error) || env.kind == event_type::ERROR;
        if failed && let Some(id) = &env.request_id {
            let msg = env
                .message()
                .map(str::to_owned)
                .unwrap_or_else(|| "failed".to_owned());
            match purpose {
                Some(Purpose::ProjectDetails) => {
                    if let Some(Overlay::Details(d)) = &mut self.overlay
                        && d.waiting_for.as_ref() == Some(id)
                    {
                        d.lines = vec![format!("The daemon could not show it: {msg}")];
                        d.waiting_for = None;
                    }
                }
                Some(Purpose::ResourcesQuery) => {
                    self.resources.loaded = true;
                    self.flash(Level::Warn, format!("resources: {msg}"));
                }
                Some(Purpose::ProjectsQuery) => {
                    self.projects.loaded = true;
                    self.flash(Level::Warn, format!("projects: {msg}"));
                }
                _ => {}
            }
        }
        if ingested.terminal {
            if let Some(id) = &ingested.request_id
                && self.forget(id) == Some(Purpose::User)
                && let Some(r) = self.activity.get(id)
            {
                let what = match &r.project {
                    Some(p) => format!("{} of {p}", r.kind),
                    None => r.kind.clone(),
                };
                let (level, text) = match r.status {
                    Status::Success => (Level::Info, format!("{what} finished")),
                    Status::Error => (
                        Level::Error,
                        format!(
                            "{what} failed: {}",
                            r.message.as_deref().unwrap_or("see Activity")
                        ),
                    ),
                    s => (Level::Warn, format!("{what} ended: {s}")),
                };
                self.flash(level, text);
            }
            if !replay && changes_estate(&ingested.kind) {
                self.requery_resources = true;
                if ingested.kind != "scan" {
                    self.requery_projects = true;
                }
            }
        }
    }

    // ---- keys ---------------------------------------------------------------------------

    fn on_key(&mut self, k: KeyEvent) -> Option<Effect> {
        if keys::is_interrupt(&k) {
            return Some(Effect::Quit);
        }
        if let Some(ov) = self.overlay.take() {
            return self.on_overlay_key(ov, k);
        }
        if self.searching {
            self.on_search_key(k);
            return None;
        }
        match k.code {
            KeyCode::Char('q') => return Some(Effect::Quit),
            KeyCode::Char('?') => {
                self.overlay = Some(Overlay::Help);
                return None;
            }
            KeyCode::Char(c @ '1'..='4') => {
                self.tab = Tab::ALL[(c as usize) - ('1' as usize)];
                return None;
            }
            KeyCode::Tab => {
                self.tab = self.tab.shifted(1);
                return None;
            }
            KeyCode::BackTab => {
                self.tab = self.tab.shifted(-1);
                return None;
            }
            KeyCode::Char('r') if k.modifiers.is_empty() => {
                if !self.is_connected() {
                    self.flash(
                        Level::Warn,
                        "not connected to Redis: reloads once it is back",
                    );
                }
                return self.reload();
            }
            _ => {}
        }
        match self.tab {
            Tab::Projects => self.on_projects_key(k),
            Tab::Resources => self.on_resources_key(k),
            Tab::Activity => self.on_activity_key(k),
            Tab::Daemons => {
                if let Some(n) = keys::nav(&k) {
                    self.daemons.selected = keys::apply(
                        n,
                        self.daemons.selected,
                        self.daemons.list.len(),
                        self.page(),
                    );
                }
                None
            }
        }
    }

    fn on_projects_key(&mut self, k: KeyEvent) -> Option<Effect> {
        if let Some(n) = keys::nav(&k) {
            self.projects.selected = keys::apply(
                n,
                self.projects.selected,
                self.projects.rows.len(),
                self.page(),
            );
            return None;
        }
        let Some(p) = self.projects.current().cloned() else {
            if matches!(
                k.code,
                KeyCode::Enter
                    | KeyCode::Char('d')
                    | KeyCode::Char('s')
                    | KeyCode::Char('x')
                    | KeyCode::Char('D')
            ) {
                self.flash(Level::Warn, "no project selected");
            }
            return None;
        };
        let slug = p.slug.clone();
        let region = if p.region.is_empty() {
            "its region".to_owned()
        } else {
            p.region.clone()
        };
        match k.code {
            KeyCode::Enter => {
                let mut details = Details {
                    title: format!("{} ({slug})", p.name),
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
                        details.lines = vec![
                            "Not connected to Redis: this is the entry from the last list."
                                .to_owned(),
                            String::new(),
                        ];
                        details.lines.extend(
                            serde_json::to_string_pretty(&p.raw)
                                .unwrap_or_default()
                                .lines()
                                .map(str::to_owned),
                        );
                        self.overlay = Some(Overlay::Details(details));
                        None
                    }
                }
            }
            KeyCode::Char('d') => {
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
                    action: Action::Deploy(slug),
                }));
                None
            }
            KeyCode::Char(c @ ('s' | 'x')) => {
                let (action, verb) = if c == 's' {
                    (PowerAction::Start, "Start")
                } else {
                    (PowerAction::Stop, "Stop")
                };
                self.overlay = Some(Overlay::Confirm(Confirm {
                    title: format!("{verb} {slug}?"),
                    lines: vec![format!(
                        "{verb}s the project's EC2 and RDS instances in {region} and waits for them."
                    )],
                    action: Action::Power(slug, action),
                }));
                None
            }
            KeyCode::Char('D') => {
                let summary = projects::deployed_summary(self.resources.project_resources(&slug));
                self.overlay = Some(Overlay::Typed(TypedConfirm {
                    title: format!("Destroy {slug}?"),
                    lines: vec![
                        format!("Deletes every AWS resource project {slug} owns in {region}."),
                        format!("Known from the last scan: {summary}."),
                        "The blueprint stays; its statuses return to pending.".to_owned(),
                        String::new(),
                        format!("Type the project's slug ({slug}) and press Enter:"),
                    ],
                    expected: vec![slug.clone()],
                    input: String::new(),
                    wrong: false,
                    action: Action::Destroy(slug),
                }));
                None
            }
            _ => None,
        }
    }

    fn on_resources_key(&mut self, k: KeyEvent) -> Option<Effect> {
        let store = &mut self.resources;
        if let Some(n) = keys::nav(&k) {
            let page = usize::from(self.size.1).saturating_sub(9).max(1);
            let row = keys::apply(n, store.selected, store.visible_len(), page);
            store.select(row);
            return None;
        }
        match k.code {
            KeyCode::Char('/') => self.searching = true,
            KeyCode::Char('f') => self.overlay = Some(Overlay::Filter { row: 0 }),
            KeyCode::Char('c') => {
                store.filters = Default::default();
                store.invalidate();
            }
            KeyCode::Char('o') => {
                store.sort = store.sort.next();
                store.invalidate();
            }
            KeyCode::Char('O') => {
                store.descending = !store.descending;
                store.invalidate();
            }
            KeyCode::Char(' ') => {
                store.toggle_mark_current();
                let next = (store.selected + 1).min(store.visible_len().saturating_sub(1));
                store.select(next);
            }
            KeyCode::Char('a') => store.toggle_mark_visible(),
            KeyCode::Esc => {
                if store.marked_count() > 0 {
                    store.clear_marks();
                } else if !store.filters.search.is_empty() {
                    store.filters.search.clear();
                    store.invalidate();
                }
            }
            KeyCode::Enter => {
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
            KeyCode::Char('t') => {
                let targets = store.targets();
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
                lines.push(
                    "Only resources Pockitect manages are deleted; others are skipped.".to_owned(),
                );
                lines.push(String::new());
                lines.push(format!("Type {n} or yes and press Enter:"));
                let action = Action::Terminate(targets.into_iter().map(terminate_target).collect());
                self.overlay = Some(Overlay::Typed(TypedConfirm {
                    title: format!("Terminate {n} resource{}?", if n == 1 { "" } else { "s" }),
                    lines,
                    expected: vec![n.to_string(), "yes".to_owned()],
                    input: String::new(),
                    wrong: false,
                    action,
                }));
            }
            KeyCode::Char('s') => {
                let (_, e) = self.send(Command::Scan(ScanArgs::default()), Purpose::User)?;
                self.flash(
                    Level::Info,
                    "scan sent: regions fill in as they finish (progress in Activity)",
                );
                return Some(e);
            }
            _ => {}
        }
        None
    }

    fn on_search_key(&mut self, k: KeyEvent) {
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

    fn on_activity_key(&mut self, k: KeyEvent) -> Option<Effect> {
        if let Some(n) = keys::nav(&k) {
            let visible = self.activity.visible();
            let cur = self.activity.selected_row(&visible);
            let row = keys::apply(n, cur, visible.len(), self.page());
            self.activity.select_row(row);
            return None;
        }
        match k.code {
            KeyCode::Char('h') => {
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
            KeyCode::Enter => {
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
            KeyCode::Char('c') => match self.activity.current() {
                Some(r) if r.is_running() => {
                    let id = r.id.clone();
                    self.overlay = Some(Overlay::Confirm(Confirm {
                        title: format!("Cancel this {}?", r.kind),
                        lines: vec![
                            format!("Request {id}"),
                            "It stops at its next safe point; what is done stays done.".to_owned(),
                        ],
                        action: Action::Cancel(id),
                    }));
                }
                Some(_) => self.flash(Level::Warn, "that request has already finished"),
                None => {}
            },
            _ => {}
        }
        None
    }

    fn on_overlay_key(&mut self, ov: Overlay, k: KeyEvent) -> Option<Effect> {
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

    fn reset_filter(&mut self, row: usize) {
        let f = &mut self.resources.filters;
        match row {
            0 => f.region = None,
            1 => f.kind = None,
            2 => f.project = None,
            _ => f.state = None,
        }
        self.resources.select(0);
        self.resources.invalidate();
    }

    /// Moves a filter field to the previous or next value present in the data ("all" between
    /// the last and the first).
    fn cycle_filter(&mut self, row: usize, by: isize) {
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
            _ => {
                let v: Vec<String> = facets.states.into_iter().map(|(k, _)| k).collect();
                f.state = step(&v, &f.state, by);
            }
        }
        self.resources.select(0);
        self.resources.invalidate();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::tests::rec;
    use chrono::TimeZone;
    use pockitect_proto::ResourceType;
    use ratatui::crossterm::event::KeyEvent;
    use serde_json::json;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 16, 12, 0, 0).unwrap()
    }

    fn model() -> Model {
        Model::new(Settings {
            redis_url: "redis://127.0.0.1:6379".into(),
            prefix: "pockitect".into(),
            session: "abcdef".into(),
            theme: Theme::plain(),
            now: t0(),
            size: (80, 24),
        })
    }

    fn key(c: char) -> Msg {
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
    }

    fn code(c: KeyCode) -> Msg {
        Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
    }

    fn typed(m: &mut Model, s: &str) {
        for c in s.chars() {
            assert_eq!(m.update(key(c)), None);
        }
    }

    fn sends(e: Option<Effect>) -> Vec<(RequestId, Command)> {
        e.map(Effect::flatten)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|e| match e {
                Effect::Send {
                    request_id,
                    command,
                } => Some((request_id, command)),
                _ => None,
            })
            .collect()
    }

    fn event(kind: &str, id: &RequestId, status: Status, data: Value) -> Envelope {
        let mut e = Envelope::event(kind, Some(id.clone()), None, status, data);
        e.ts = t0();
        e
    }

    fn live(m: &mut Model, events: Vec<Envelope>) -> Option<Effect> {
        m.update(Msg::Bus(BusMsg::Events {
            events,
            replay: false,
        }))
    }

    /// A connected model whose start-up queries were answered.
    fn loaded() -> Model {
        let mut m = model();
        let sent = sends(m.update(Msg::Bus(BusMsg::Connected)));
        assert_eq!(sent.len(), 2);
        let (pid, pcmd) = &sent[0];
        assert_eq!(pcmd.kind(), "list_projects");
        let (rid, rcmd) = &sent[1];
        assert_eq!(rcmd.kind(), "query_resources");
        let records = vec![
            rec(
                ResourceType::Ec2Instance,
                "i-1",
                "us-east-2",
                Some("blog"),
                Some("running"),
            ),
            rec(
                ResourceType::Vpc,
                "vpc-1",
                "us-east-2",
                Some("blog"),
                Some("available"),
            ),
            rec(ResourceType::S3Bucket, "logs", "us-east-1", None, None),
        ];
        let e = live(
            &mut m,
            vec![
                event(
                    event_type::PROJECTS,
                    pid,
                    Status::Success,
                    json!({"projects": [
                        {"slug": "blog", "name": "Blog", "region": "us-east-2", "status": "deployed"},
                        {"slug": "api", "name": "API", "region": "eu-west-1", "status": "pending"}
                    ]}),
                ),
                event(
                    event_type::RESOURCES,
                    rid,
                    Status::Success,
                    json!({ "records": records }),
                ),
            ],
        );
        assert_eq!(e, None);
        m.prepare();
        m
    }

    #[test]
    fn tabs_switch_with_numbers_and_tab() {
        let mut m = model();
        m.update(key('3'));
        assert_eq!(m.tab, Tab::Activity);
        m.update(code(KeyCode::Tab));
        assert_eq!(m.tab, Tab::Daemons);
        m.update(code(KeyCode::Tab));
        assert_eq!(m.tab, Tab::Projects);
        m.update(code(KeyCode::BackTab));
        assert_eq!(m.tab, Tab::Daemons);
        m.update(key('2'));
        assert_eq!(m.tab, Tab::Resources);
    }

    #[test]
    fn q_and_ctrl_c_quit_but_q_types_in_dialogs() {
        let mut m = loaded();
        assert_eq!(m.update(key('q')), Some(Effect::Quit));
        m.update(key('D'));
        assert!(matches!(m.overlay, Some(Overlay::Typed(_))));
        assert_eq!(m.update(key('q')), None);
        let Some(Overlay::Typed(t)) = &m.overlay else {
            panic!("dialog closed")
        };
        assert_eq!(t.input, "q");
        let ctrl_c = Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
        assert_eq!(m.update(ctrl_c), Some(Effect::Quit));
    }

    #[test]
    fn releases_are_ignored() {
        let mut m = model();
        let mut k = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
        k.kind = KeyEventKind::Release;
        assert_eq!(m.update(Msg::Key(k)), None);
    }

    #[test]
    fn connecting_queries_projects_and_resources_once() {
        let mut m = model();
        let sent = sends(m.update(Msg::Bus(BusMsg::Connected)));
        assert_eq!(sent.len(), 2);
        // Ids are this session's, unique and valid.
        assert!(sent[0].0.as_str().starts_with("abcdef"));
        assert_ne!(sent[0].0, sent[1].0);
        // A reload while both are unanswered sends nothing more…
        assert_eq!(m.update(key('r')), None);
        // …unless no daemon answered for a while.
        m.update(Msg::Tick(t0() + Duration::seconds(20)));
        assert_eq!(sends(m.update(key('r'))).len(), 2);
    }

    #[test]
    fn answers_fill_projects_and_resources() {
        let m = loaded();
        assert_eq!(m.projects.rows.len(), 2);
        assert_eq!(m.projects.rows[0].slug, "api");
        assert_eq!(m.resources.len(), 3);
        assert!(m.resources.loaded);
        assert_eq!(m.resources.project_resources("blog").unwrap().total, 2);
    }

    #[test]
    fn someone_elses_resources_answer_is_ignored() {
        let mut m = loaded();
        let other = RequestId::new();
        live(
            &mut m,
            vec![event(
                event_type::RESOURCES,
                &other,
                Status::Success,
                json!({"records": []}),
            )],
        );
        m.prepare();
        assert_eq!(m.resources.len(), 3);
    }

    #[test]
    fn a_summary_of_the_own_answer_never_empties_the_estate_or_the_projects() {
        let mut m = loaded();
        let sent = sends(m.update(key('r')));
        assert_eq!(sent.len(), 2);
        // What the events stream carries when the whole answer could not be swapped in.
        let reply = json!({"key": "pockitect:reply:x", "ttl_secs": 300, "bytes": 1000});
        let summaries: Vec<Envelope> = sent
            .iter()
            .map(|(id, cmd)| {
                let kind = if cmd.kind() == "query_resources" {
                    event_type::RESOURCES
                } else {
                    event_type::PROJECTS
                };
                event(
                    kind,
                    id,
                    Status::Success,
                    json!({"counts": {"records": 3, "projects": 2}, "reply": reply}),
                )
            })
            .collect();
        live(&mut m, summaries);
        m.prepare();
        assert_eq!(m.resources.len(), 3);
        assert_eq!(m.projects.rows.len(), 2);
    }

    #[test]
    fn live_scan_chunks_add_records_and_completion_requeries() {
        let mut m = loaded();
        let scan = RequestId::new();
        let chunk = |region: &str, id: &str| {
            event(
                event_type::SCAN_CHUNK,
                &scan,
                Status::InProgress,
                json!({"region": region, "chunk": 1, "chunks": 2, "errors": [],
                       "records": [rec(ResourceType::Vpc, id, region, None, None)]}),
            )
        };
        // Replayed history does not touch the estate.
        m.update(Msg::Bus(BusMsg::Events {
            events: vec![chunk("ap-south-1", "vpc-old")],
            replay: true,
        }));
        m.prepare();
        assert_eq!(m.resources.len(), 3);
        live(&mut m, vec![chunk("eu-west-1", "vpc-new")]);
        m.prepare();
        assert_eq!(m.resources.len(), 4);
        let e = live(
            &mut m,
            vec![event(
                event_type::SCAN_COMPLETE,
                &scan,
                Status::Success,
                json!({"total": 4, "regions": [], "errors": [], "duration_ms": 10}),
            )],
        );
        let sent = sends(e);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].1.kind(), "query_resources");
    }

    #[test]
    fn deploy_asks_first_then_sends() {
        let mut m = loaded();
        m.update(key('j')); // blog
        m.update(key('d'));
        assert!(matches!(m.overlay, Some(Overlay::Confirm(_))));
        assert_eq!(m.update(key('n')), None);
        assert!(m.overlay.is_none());
        m.update(key('d'));
        let sent = sends(m.update(key('y')));
        assert_eq!(sent.len(), 1);
        let (id, cmd) = &sent[0];
        assert_eq!(
            cmd,
            &Command::Deploy(DeployArgs {
                target: BlueprintRef {
                    project: Some("blog".into()),
                    blueprint: None
                },
                rollback_on_failure: false
            })
        );
        let r = m.activity.get(id).expect("shown in Activity at once");
        assert_eq!(r.status_word(), "sent");
        assert_eq!(r.project.as_deref(), Some("blog"));
        assert!(
            m.flash
                .as_ref()
                .unwrap()
                .text
                .contains("deploy of blog sent")
        );
        // Its progress and end reach the project row and the footer.
        live(
            &mut m,
            vec![event(
                "deploy_progress",
                id,
                Status::InProgress,
                json!({"step": 2, "total": 8, "message": "creating vpc"}),
            )],
        );
        let active = m.activity.active_for_project("blog").unwrap();
        assert_eq!(active.progress.as_ref().unwrap().step, 2);
        let e = live(
            &mut m,
            vec![event("deploy_complete", id, Status::Success, json!({}))],
        );
        assert!(m.activity.active_for_project("blog").is_none());
        assert_eq!(m.flash.as_ref().unwrap().text, "deploy of blog finished");
        let mut kinds: Vec<&str> = sends(e).iter().map(|(_, c)| c.kind()).collect();
        kinds.sort();
        assert_eq!(kinds, ["list_projects", "query_resources"]);
    }

    #[test]
    fn power_start_and_stop() {
        let mut m = loaded();
        m.update(key('x'));
        let sent = sends(m.update(code(KeyCode::Enter)));
        assert_eq!(
            sent[0].1,
            Command::Power(PowerArgs {
                project: "api".into(),
                action: PowerAction::Stop
            })
        );
        m.update(key('s'));
        let sent = sends(m.update(key('y')));
        assert_eq!(
            sent[0].1,
            Command::Power(PowerArgs {
                project: "api".into(),
                action: PowerAction::Start
            })
        );
    }

    #[test]
    fn destroy_needs_the_slug_typed() {
        let mut m = loaded();
        m.update(key('j'));
        m.update(key('D'));
        typed(&mut m, "blo");
        assert_eq!(m.update(code(KeyCode::Enter)), None);
        let Some(Overlay::Typed(t)) = &m.overlay else {
            panic!("dialog closed")
        };
        assert!(t.wrong);
        typed(&mut m, "g");
        let sent = sends(m.update(code(KeyCode::Enter)));
        assert_eq!(
            sent[0].1,
            Command::Destroy(DestroyArgs {
                project: "blog".into(),
                ..Default::default()
            })
        );
        assert!(m.overlay.is_none());
        // Esc abandons without sending.
        m.update(key('D'));
        typed(&mut m, "blog");
        assert_eq!(m.update(code(KeyCode::Esc)), None);
        assert!(m.overlay.is_none());
    }

    #[test]
    fn terminate_marked_rows_after_typed_count() {
        let mut m = loaded();
        m.update(key('2'));
        // Rows: logs (us-east-1), i-1, vpc-1 (us-east-2).
        m.update(key(' '));
        m.update(key(' '));
        assert_eq!(m.resources.marked_count(), 2);
        m.update(key('t'));
        typed(&mut m, "3");
        assert_eq!(m.update(code(KeyCode::Enter)), None, "wrong count");
        m.update(code(KeyCode::Backspace));
        typed(&mut m, "2");
        let sent = sends(m.update(code(KeyCode::Enter)));
        let Command::Terminate(args) = &sent[0].1 else {
            panic!("{:?}", sent[0].1)
        };
        let ids: Vec<&str> = args.targets.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["logs", "i-1"]);
        assert!(!args.force && !args.dry_run);
        assert_eq!(m.resources.marked_count(), 0);
        // Without marks, the row under the cursor; "yes" also confirms.
        m.update(key('t'));
        typed(&mut m, "YES");
        let sent = sends(m.update(code(KeyCode::Enter)));
        let Command::Terminate(args) = &sent[0].1 else {
            panic!()
        };
        assert_eq!(args.targets.len(), 1);
    }

    #[test]
    fn search_filter_and_sort() {
        let mut m = loaded();
        m.update(key('2'));
        m.update(key('/'));
        assert!(m.searching);
        typed(&mut m, "vpc q"); // 'q' is text here, not quit
        assert_eq!(m.resources.filters.search, "vpc q");
        m.update(code(KeyCode::Backspace));
        m.update(code(KeyCode::Backspace));
        m.update(code(KeyCode::Enter));
        assert!(!m.searching);
        m.prepare();
        assert_eq!(m.resources.visible_len(), 1);
        m.update(key('c'));
        m.prepare();
        assert_eq!(m.resources.visible_len(), 3);
        // Filter dialog: first region, then reset.
        m.update(key('f'));
        m.update(code(KeyCode::Right));
        assert_eq!(m.resources.filters.region.as_deref(), Some("us-east-1"));
        m.update(code(KeyCode::Right));
        assert_eq!(m.resources.filters.region.as_deref(), Some("us-east-2"));
        m.update(code(KeyCode::Right));
        assert_eq!(m.resources.filters.region, None, "wraps to all");
        m.update(code(KeyCode::Left));
        m.update(key('j'));
        m.update(code(KeyCode::Right));
        assert_eq!(m.resources.filters.kind, Some(ResourceType::Ec2Instance));
        m.update(key('x'));
        assert_eq!(m.resources.filters.kind, None);
        m.update(code(KeyCode::Esc));
        assert!(m.overlay.is_none());
        m.prepare();
        assert_eq!(m.resources.visible_len(), 2);
        m.update(key('o'));
        assert_eq!(m.resources.sort, crate::resources::SortKey::Type);
        m.update(key('O'));
        assert!(m.resources.descending);
    }

    #[test]
    fn scan_key_sends_a_scan() {
        let mut m = loaded();
        m.update(key('2'));
        let sent = sends(m.update(key('s')));
        assert_eq!(sent[0].1, Command::Scan(ScanArgs::default()));
    }

    #[test]
    fn disconnect_shows_and_refuses_then_recovers() {
        let mut m = loaded();
        m.update(Msg::Bus(BusMsg::Disconnected("connection refused".into())));
        m.update(Msg::Bus(BusMsg::Disconnected("connection refused".into())));
        assert!(matches!(
            m.conn,
            ConnState::Disconnected { attempts: 2, .. }
        ));
        m.update(key('d'));
        assert_eq!(m.update(key('y')), None);
        assert_eq!(m.flash.as_ref().unwrap().level, Level::Error);
        // Data stays on screen meanwhile.
        assert_eq!(m.resources.len(), 3);
        let sent = sends(m.update(Msg::Bus(BusMsg::Connected)));
        assert_eq!(sent.len(), 2, "reloads after a reconnect");
        assert_eq!(m.flash.as_ref().unwrap().text, "reconnected to Redis");
    }

    #[test]
    fn send_failures_mark_the_request() {
        let mut m = loaded();
        m.update(key('d'));
        let (id, _) = sends(m.update(key('y'))).remove(0);
        m.update(Msg::Bus(BusMsg::SendFailed {
            request_id: id.clone(),
            reason: "timeout".into(),
        }));
        let r = m.activity.get(&id).unwrap();
        assert_eq!(r.status, Status::Error);
        assert_eq!(r.message.as_deref(), Some("not sent: timeout"));
    }

    #[test]
    fn cancel_a_running_request() {
        let mut m = loaded();
        let id = RequestId::new();
        live(
            &mut m,
            vec![event(
                event_type::ACCEPTED,
                &id,
                Status::InProgress,
                json!({"command": "terminate"}),
            )],
        );
        m.update(key('3'));
        m.update(key('c'));
        assert!(matches!(m.overlay, Some(Overlay::Confirm(_))));
        assert_eq!(m.update(key('y')), Some(Effect::Cancel(id.clone())));
        live(
            &mut m,
            vec![event(
                event_type::CANCELLED,
                &id,
                Status::Cancelled,
                json!({}),
            )],
        );
        m.update(key('c'));
        assert!(m.overlay.is_none(), "finished requests are not cancelled");
    }

    #[test]
    fn project_details_come_from_get_project() {
        let mut m = loaded();
        m.update(key('j'));
        let sent = sends(m.update(code(KeyCode::Enter)));
        let (id, cmd) = &sent[0];
        assert_eq!(
            cmd,
            &Command::GetProject(ProjectRef {
                project: "blog".into()
            })
        );
        live(
            &mut m,
            vec![event(
                event_type::PROJECT,
                id,
                Status::Success,
                json!({"blueprint": {"project": {"slug": "blog"}}, "outputs": {"ssh": "ssh ubuntu@1.2.3.4"}}),
            )],
        );
        let Some(Overlay::Details(d)) = &m.overlay else {
            panic!("no details")
        };
        assert_eq!(d.waiting_for, None);
        assert_eq!(d.lines[1], "  ssh: ssh ubuntu@1.2.3.4");
        m.update(code(KeyCode::Esc));
        assert!(m.overlay.is_none());
    }

    #[test]
    fn failures_of_my_requests_are_announced() {
        let mut m = loaded();
        m.update(key('d'));
        let (id, _) = sends(m.update(key('y'))).remove(0);
        live(
            &mut m,
            vec![event(
                event_type::ERROR,
                &id,
                Status::Error,
                json!({"code": "locked", "message": "project 'api' is locked by request r1"}),
            )],
        );
        let f = m.flash.as_ref().unwrap();
        assert_eq!(f.level, Level::Error);
        assert!(f.text.contains("locked by request r1"), "{}", f.text);
    }

    #[test]
    fn flash_expires_with_time_and_help_closes_on_any_key() {
        let mut m = loaded();
        m.update(key('?'));
        assert_eq!(m.overlay, Some(Overlay::Help));
        m.update(key('z'));
        assert_eq!(m.overlay, None);
        m.update(key('3'));
        m.update(key('h'));
        assert!(m.flash.is_some());
        m.update(Msg::Tick(t0() + Duration::seconds(60)));
        assert!(m.flash.is_none());
        assert_eq!(m.spinner, 1);
    }

    #[test]
    fn resize_is_remembered() {
        let mut m = model();
        m.update(Msg::Resize(120, 40));
        assert_eq!(m.size, (120, 40));
    }
}
