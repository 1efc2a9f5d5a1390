//! The console's state ([`Model`]) and the one function that changes it ([`update`]): a pure
//! function of the model and a message ([`Msg`]: a key, something from the bus, a tick, a
//! resize). It does no I/O; what must happen outside (send a command, ask for a cancel, quit)
//! comes back as an [`Effect`] for the loop in `lib.rs` to hand to the bus task.
//!
//! This module holds what every tab shares (the connection, requests this console sent, the
//! flash line) and routes keys and bus events; each tab is a component of its own (its state,
//! its key table and what the keys do: [`projects`], [`resources`], [`activity`],
//! [`daemons`]) and the dialogs drawn over them live in [`dialogs`]. Keys go to the open
//! dialog or the search line first, then to the tab's table, then to [`keys::GLOBAL`].
//!
//! Derived data (the resources table's filtered and sorted rows, facets, per-project counts) is
//! rebuilt lazily by [`Model::prepare`], which the loop calls once before each frame: a flood
//! of events costs one rebuild per frame, not one per event.

pub mod activity;
pub mod daemons;
pub mod dialogs;
pub mod history;
pub mod projects;
pub mod resources;
#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use pockitect_proto::{
    Approval, Command, DaemonHeartbeat, Empty, Envelope, RequestId, ResourceFilter, Status,
    event_type,
};
use ratatui::crossterm::event::{KeyEvent, KeyEventKind};

use crate::activity::Activity;
use crate::keys::{self, Global, Nav};
use crate::resources::ResourceStore;
use crate::theme::Theme;

pub use daemons::DaemonsState;
pub use dialogs::{Action, Confirm, Details, FILTER_ROWS, Overlay, Plan, Planning, TypedConfirm};
pub use history::HistoryState;
pub use projects::ProjectsState;

/// The four tabs, in the order of their number keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Tab {
    #[default]
    Projects,
    Resources,
    Activity,
    Daemons,
    History,
}

impl Tab {
    pub const ALL: [Tab; 5] = [
        Tab::Projects,
        Tab::Resources,
        Tab::Activity,
        Tab::Daemons,
        Tab::History,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Projects => "Projects",
            Tab::Resources => "Resources",
            Tab::Activity => "Activity",
            Tab::Daemons => "Daemons",
            Tab::History => "History",
        }
    }

    pub fn index(self) -> usize {
        Self::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    fn shifted(self, by: isize) -> Self {
        let n = Self::ALL.len() as isize;
        Self::ALL[((self.index() as isize + by).rem_euclid(n)) as usize]
    }

    /// The help rows of the tab's own keys.
    pub fn help(self) -> Vec<(String, &'static str)> {
        match self {
            Tab::Projects => keys::help(projects::KEYS),
            Tab::Resources => keys::help(resources::KEYS),
            Tab::Activity => keys::help(activity::KEYS),
            Tab::Daemons => keys::help(daemons::KEYS),
            Tab::History => keys::help(history::KEYS),
        }
    }

    /// The footer hints: the tab's own, then those of the keys that work everywhere.
    pub fn hints(self) -> Vec<keys::Hint> {
        let own: Vec<keys::Hint> = match self {
            Tab::Projects => keys::hints(projects::KEYS, self).collect(),
            Tab::Resources => keys::hints(resources::KEYS, self).collect(),
            Tab::Activity => keys::hints(activity::KEYS, self).collect(),
            Tab::Daemons => keys::hints(daemons::KEYS, self).collect(),
            Tab::History => keys::hints(history::KEYS, self).collect(),
        };
        own.into_iter()
            .chain(keys::hints(keys::GLOBAL, self))
            .collect()
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
    /// Which Redis the console uses (and why), when it is found or changes.
    Redis(String),
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
        /// The digest of the plan the user confirmed, sent with a destructive command.
        approval: Option<Approval>,
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
    /// The dry run (or plan) behind an open confirmation.
    Plan,
    HistoryQuery,
    /// The projects' actual spend (`$` on the Projects tab).
    CostQuery,
}

/// Scroll offsets the view keeps between frames (like ratatui's table state): the only thing
/// the view writes, so that a list scrolls only when the cursor leaves the window.
#[derive(Debug, Default)]
pub struct ViewCache {
    pub projects: Cell<usize>,
    pub resources: Cell<usize>,
    pub activity: Cell<usize>,
    pub daemons: Cell<usize>,
    pub history: Cell<usize>,
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
    pub history: HistoryState,
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
    pending_history: Option<(RequestId, DateTime<Utc>)>,
    requery_resources: bool,
    requery_projects: bool,
    requery_history: bool,
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
            history: HistoryState::default(),
            overlay: None,
            searching: false,
            flash: None,
            view: ViewCache::default(),
            own: HashMap::new(),
            ids: IdGen::new(&s.session),
            pending_resources: None,
            pending_projects: None,
            pending_history: None,
            requery_resources: false,
            requery_projects: false,
            requery_history: false,
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
        self.send_approved(command, purpose, None)
    }

    /// [`Model::send`] carrying an approval (the digest of the plan the user confirmed).
    fn send_approved(
        &mut self,
        command: Command,
        purpose: Purpose,
        approval: Option<Approval>,
    ) -> Option<(RequestId, Effect)> {
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
                approval,
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
        if self.tab == Tab::History {
            v.extend(self.query_history());
        }
        batch(v)
    }

    // ---- bus ----------------------------------------------------------------------------

    fn on_bus(&mut self, msg: BusMsg) -> Option<Effect> {
        match msg {
            BusMsg::Redis(which) => {
                self.redis_url = which;
                None
            }
            BusMsg::Connected => {
                let was_down = matches!(self.conn, ConnState::Disconnected { .. });
                self.conn = ConnState::Connected { since: self.now };
                if was_down {
                    self.flash(Level::Info, "reconnected to Redis");
                }
                // Answers to queries sent before the drop may never come.
                self.pending_resources = None;
                self.pending_projects = None;
                self.pending_history = None;
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
                if self.requery_history {
                    self.requery_history = false;
                    out.extend(self.query_history());
                }
                batch(out)
            }
            BusMsg::Daemons(list) => {
                self.daemons.replace(list, self.now);
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
        if self.pending_history.as_ref().is_some_and(|(p, _)| p == id) {
            self.pending_history = None;
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
                let records = env.take_records();
                self.resources.replace_all(records);
            }
            event_type::PROJECTS if whole => {
                let read = self.projects.replace(&env);
                if !read {
                    self.flash(
                        Level::Warn,
                        "projects: the daemon's answer cannot be read (is it the same version?)",
                    );
                }
            }
            event_type::PROJECT if whole && purpose == Some(Purpose::ProjectDetails) => {
                self.on_project_details(&env);
            }
            event_type::COST if purpose == Some(Purpose::CostQuery) => {
                self.on_spend(&env);
            }
            event_type::HISTORY if whole && purpose == Some(Purpose::HistoryQuery) => {
                self.on_history(&env);
            }
            _ if purpose == Some(Purpose::Plan) && env.is_terminal() => {
                self.on_plan(&env);
            }
            event_type::SCAN_CHUNK if !replay => {
                let records = env.take_records();
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
                Some(Purpose::CostQuery) => {
                    self.flash(Level::Warn, format!("spend: {msg}"));
                }
                Some(Purpose::HistoryQuery) => {
                    self.history.loaded = true;
                    self.flash(Level::Warn, format!("history: {msg}"));
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
                if self.tab == Tab::History {
                    self.requery_history = true;
                }
            }
        }
    }

    // ---- keys ---------------------------------------------------------------------------

    fn on_key(&mut self, k: KeyEvent) -> Option<Effect> {
        if keys::is_interrupt(&k) {
            return Some(Effect::Quit);
        }
        // A dialog and the search line take every key while they are open.
        if let Some(ov) = self.overlay.take() {
            return self.on_overlay_key(ov, k);
        }
        if self.searching {
            self.on_search_key(k);
            return None;
        }
        // The tab's own keys first (Resources gives Esc a meaning), then the global ones.
        let own = match self.tab {
            Tab::Projects => keys::lookup(projects::KEYS, &k).map(|a| self.on_projects_key(a)),
            Tab::Resources => keys::lookup(resources::KEYS, &k).map(|a| self.on_resources_key(a)),
            Tab::Activity => keys::lookup(activity::KEYS, &k).map(|a| self.on_activity_key(a)),
            Tab::Daemons => keys::lookup(daemons::KEYS, &k).map(|n| {
                self.on_nav(n);
                None
            }),
            Tab::History => keys::lookup(history::KEYS, &k).map(|a| self.on_history_key(a)),
        };
        if let Some(effect) = own {
            return effect;
        }
        match keys::lookup(keys::GLOBAL, &k)? {
            Global::Tab(tab) => return self.show(tab),
            Global::NextTab => return self.show(self.tab.shifted(1)),
            Global::PrevTab => return self.show(self.tab.shifted(-1)),
            Global::Move(n) => self.on_nav(n),
            Global::Reload => {
                if !self.is_connected() {
                    self.flash(
                        Level::Warn,
                        "not connected to Redis: reloads once it is back",
                    );
                }
                return self.reload();
            }
            Global::Help => self.overlay = Some(Overlay::Help),
            Global::CloseDialog => {}
            Global::Quit => return Some(Effect::Quit),
        }
        None
    }

    /// Shows `tab`; the History tab asks for the newest entries as it opens.
    fn show(&mut self, tab: Tab) -> Option<Effect> {
        let opened = self.tab != tab;
        self.tab = tab;
        if opened && tab == Tab::History {
            return self.query_history();
        }
        None
    }

    /// Moves the cursor of the tab shown.
    fn on_nav(&mut self, n: Nav) {
        let page = self.page();
        match self.tab {
            Tab::Projects => self.projects.nav(n, page),
            Tab::Resources => self.resources_nav(n, page),
            Tab::Activity => self.activity_nav(n, page),
            Tab::Daemons => self.daemons.nav(n, page),
            Tab::History => self.history.nav(n, page),
        }
    }
}
