//! Every request the console has seen (sent here, by another client, or replayed from the
//! events stream), with its status, progress and last events. Bounded: at most
//! [`MAX_REQUESTS`] requests (the oldest finished ones go first) and [`MAX_EVENTS`] events each.

use std::collections::{HashMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};
use pockitect_proto::deploy::Action;
use pockitect_proto::{AnswerSummary, Command, Envelope, Event, RequestId, Status, event_type};

pub const MAX_REQUESTS: usize = 500;
pub const MAX_EVENTS: usize = 200;
const MAX_ANNOUNCEMENTS: usize = 50;
/// The command type of a scan's shard (see `Activity::shards`).
const SHARD: &str = "scan_shard";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    pub step: u64,
    pub total: u64,
    pub message: Option<String>,
}

impl Progress {
    pub fn ratio(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            (self.step as f64 / self.total as f64).clamp(0.0, 1.0)
        }
    }
}

/// One event as the Activity tab shows it (the payload itself is not kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventLine {
    pub ts: DateTime<Utc>,
    pub kind: String,
    pub status: Option<Status>,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub id: RequestId,
    /// The command type (`deploy`, `scan`, …), `?` until known.
    pub kind: String,
    pub project: Option<String>,
    pub status: Status,
    /// True until a daemon said anything about a request this console sent.
    pub sent_only: bool,
    pub started: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub finished: Option<DateTime<Utc>>,
    pub progress: Option<Progress>,
    /// The latest message (an error's message once it failed).
    pub message: Option<String>,
    pub events: VecDeque<EventLine>,
    /// Events dropped to keep [`MAX_EVENTS`].
    pub dropped: usize,
    /// Sent from this console.
    pub mine: bool,
}

impl Request {
    fn new(id: RequestId, now: DateTime<Utc>) -> Self {
        Self {
            id,
            kind: "?".to_owned(),
            project: None,
            status: Status::Queued,
            sent_only: false,
            started: now,
            updated: now,
            finished: None,
            progress: None,
            message: None,
            events: VecDeque::new(),
            dropped: 0,
            mine: false,
        }
    }

    pub fn is_running(&self) -> bool {
        !self.status.is_terminal()
    }

    pub fn is_query(&self) -> bool {
        // Queries only read state and answer at once; hidden unless asked for.
        Command::is_query_kind(&self.kind)
    }

    /// Word for the status column.
    pub fn status_word(&self) -> &'static str {
        if self.sent_only {
            "sent"
        } else {
            self.status.as_str()
        }
    }
}

/// What happened to a request through one event, for the caller to react to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ingested {
    pub request_id: Option<RequestId>,
    pub kind: String,
    pub terminal: bool,
}

#[derive(Debug, Default)]
pub struct Activity {
    requests: HashMap<RequestId, Request>,
    /// Oldest first.
    order: VecDeque<RequestId>,
    pub show_queries: bool,
    /// The request under the cursor; `None` follows the newest.
    pub selected: Option<RequestId>,
    /// Events that belong to no request (daemon-wide announcements).
    pub announcements: VecDeque<EventLine>,
    pub total_events: u64,
    /// A scan's shards (internal requests, one per account and region, that any daemon
    /// runs): not listed, since their scan reports each chunk; their events are counted only.
    shards: HashSet<RequestId>,
}

/// What one event says, read once: the typed event, or the summary of a query's answer (its
/// lists cut down to counts for everybody but the client that asked), or neither (an event a
/// newer daemon added, or one that does not match its type).
#[allow(
    clippy::large_enum_variant,
    reason = "one lives for the reading of one event, on the stack"
)]
enum Said {
    Event(Event),
    Answer(AnswerSummary),
    Unknown,
}

impl Said {
    fn of(env: &Envelope) -> Self {
        if let Some(summary) = env.answer_summary() {
            return Said::Answer(summary);
        }
        match env.decode() {
            Ok(event) => Said::Event(event),
            Err(_) => Said::Unknown,
        }
    }

    fn event(&self) -> Option<&Event> {
        match self {
            Said::Event(e) => Some(e),
            _ => None,
        }
    }
}

/// The command type an event reveals, when it does.
fn infer_kind(env: &Envelope, said: &Said) -> Option<String> {
    if let Some(Event::Accepted(a)) = said.event() {
        return Some(a.command.clone());
    }
    event_type::command_of(&env.kind).map(str::to_owned)
}

/// The step of a long request an event reports (a scan chunk names its region).
fn progress_of(event: &Event) -> Option<Progress> {
    let (step, total) = event.progress()?;
    let message = match event {
        Event::ScanChunk(c) => Some(c.region.clone()),
        other => other.message().map(str::to_owned),
    };
    Some(Progress {
        step: step as u64,
        total: total as u64,
        message,
    })
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// One line that says what an event was about.
fn summarise(env: &Envelope, said: &Said) -> String {
    let event = match said {
        Said::Event(e) => e,
        Said::Answer(a) => {
            let lists: Vec<String> = a
                .counts
                .iter()
                .map(|(field, n)| format!("{n} {field}"))
                .collect();
            return match lists.is_empty() {
                true => "answered".to_owned(),
                false => format!("answered: {}", lists.join(", ")),
            };
        }
        // An event this build cannot read: its message when it has one, else its type.
        Said::Unknown => return env.message().unwrap_or(&env.kind).to_owned(),
    };
    match event {
        Event::ScanChunk(c) => {
            let mut s = format!("{}: {}", c.region, plural(c.records.len(), "record"));
            if !c.errors.is_empty() {
                s.push_str(&format!(", {}", plural(c.errors.len(), "error")));
            }
            s
        }
        Event::ScanComplete(c) => format!(
            "{} in {}, {} in {:.1} s",
            plural(c.total, "record"),
            plural(c.regions.len(), "region"),
            plural(c.errors.len(), "error"),
            c.duration_ms as f64 / 1000.0
        ),
        Event::Resources(r) => plural(r.records.len(), "record"),
        Event::Projects(p) => plural(p.projects.len(), "project"),
        Event::Accepted(a) => match (env.status, a.resumed) {
            (_, true) => format!("resumed by {}", a.daemon),
            (Some(Status::Queued), _) => "queued: waiting for its turn".to_owned(),
            _ => format!("taken by {}", a.daemon),
        },
        Event::ScanStarted(s) => match &s.regions {
            Some(r) => format!("scanning {}", plural(r.len(), "region")),
            None => "scanning every enabled region".to_owned(),
        },
        Event::Error(e) => format!("{}: {}", e.code, e.message),
        Event::Cancelled(e) => e.message.clone(),
        Event::Pong(p) => format!("pong from {}", p.daemon),
        Event::Project(p) => format!("project {}", p.summary.slug),
        Event::Request(r) => format!("request {}", r.request_id),
        Event::DaemonInfo(d) => plural(d.daemons.len(), "daemon"),
        Event::Catalog(c) => format!(
            "{}: {}",
            c.region,
            plural(c.instance_types.len(), "instance type")
        ),
        Event::Plan(p) => {
            let changes = p
                .plan
                .resources
                .iter()
                .filter(|r| !matches!(r.action, Action::NoChange | Action::Skip))
                .count();
            format!("plan of {}: {}", p.plan.project, plural(changes, "change"))
        }
        other => match (progress_of(other), other.message()) {
            (Some(p), _) => {
                let mut s = format!("[{}/{}]", p.step, p.total);
                if let Some(m) = p.message {
                    s.push(' ');
                    s.push_str(&m);
                }
                s
            }
            (None, Some(m)) => m.to_owned(),
            (None, None) => other.kind().to_owned(),
        },
    }
}

impl Activity {
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    pub fn get(&self, id: &RequestId) -> Option<&Request> {
        self.requests.get(id)
    }

    fn entry(&mut self, id: &RequestId, now: DateTime<Utc>) -> &mut Request {
        if !self.requests.contains_key(id) {
            self.evict();
            self.order.push_back(id.clone());
        }
        self.requests
            .entry(id.clone())
            .or_insert_with(|| Request::new(id.clone(), now))
    }

    fn evict(&mut self) {
        while self.requests.len() >= MAX_REQUESTS {
            let victim = self
                .order
                .iter()
                .position(|id| self.requests.get(id).is_none_or(|r| !r.is_running()))
                .unwrap_or(0);
            if let Some(id) = self.order.remove(victim) {
                self.requests.remove(&id);
                if self.selected.as_ref() == Some(&id) {
                    self.selected = None;
                }
            } else {
                break;
            }
        }
    }

    /// A request this console just sent, shown before any daemon answers.
    pub fn register_sent(
        &mut self,
        id: &RequestId,
        kind: &str,
        project: Option<String>,
        now: DateTime<Utc>,
    ) {
        let r = self.entry(id, now);
        r.kind = kind.to_owned();
        r.project = project;
        r.mine = true;
        r.sent_only = true;
    }

    /// The console could not hand the command to Redis.
    pub fn mark_failed(&mut self, id: &RequestId, reason: &str, now: DateTime<Utc>) {
        if let Some(r) = self.requests.get_mut(id) {
            r.status = Status::Error;
            r.sent_only = false;
            r.finished = Some(now);
            r.message = Some(format!("not sent: {reason}"));
        }
    }

    /// Records one event; returns what it did to its request.
    pub fn ingest(&mut self, env: &Envelope) -> Ingested {
        self.total_events += 1;
        let said = Said::of(env);
        let line = EventLine {
            ts: env.ts,
            kind: env.kind.clone(),
            status: env.status,
            text: summarise(env, &said),
        };
        let Some(id) = env.request_id.clone() else {
            if self.announcements.len() >= MAX_ANNOUNCEMENTS {
                self.announcements.pop_front();
            }
            self.announcements.push_back(line);
            return Ingested {
                request_id: None,
                kind: env.kind.clone(),
                terminal: false,
            };
        };
        let kind = infer_kind(env, &said);
        if kind.as_deref() == Some(SHARD) || self.shards.contains(&id) {
            if self.shards.len() >= MAX_REQUESTS * 16 {
                self.shards.clear();
            }
            self.shards.insert(id.clone());
            return Ingested {
                request_id: Some(id),
                kind: SHARD.to_owned(),
                terminal: env.is_terminal(),
            };
        }
        let progress = said.event().and_then(progress_of);
        let r = self.entry(&id, env.ts);
        if r.events.is_empty() && !r.mine {
            r.started = env.ts;
        }
        if let Some(k) = kind
            && r.kind == "?"
        {
            r.kind = k;
        }
        if r.project.is_none() {
            r.project = env.project_id.clone();
        }
        r.sent_only = false;
        r.updated = env.ts;
        // A late non-terminal event never reopens a finished request.
        if let Some(s) = env.status
            && (r.finished.is_none() || s.is_terminal())
        {
            r.status = s;
        }
        if let Some(p) = progress {
            if p.message.is_some() {
                r.message = p.message.clone();
            }
            r.progress = Some(p);
        } else if env.kind == event_type::ERROR || env.status == Some(Status::Error) {
            r.message = Some(line.text.clone());
        } else if let Some(m) = env.message() {
            r.message = Some(m.to_owned());
        }
        let terminal = env.is_terminal();
        if terminal {
            r.finished = Some(env.ts);
            if env.status == Some(Status::Success)
                && let Some(p) = &mut r.progress
            {
                p.step = p.total;
            }
        }
        if r.events.len() >= MAX_EVENTS {
            r.events.pop_front();
            r.dropped += 1;
        }
        r.events.push_back(line);
        Ingested {
            request_id: Some(id),
            kind: r.kind.clone(),
            terminal,
        }
    }

    /// Requests as listed, newest first, queries hidden unless shown.
    pub fn visible(&self) -> Vec<&Request> {
        self.order
            .iter()
            .rev()
            .filter_map(|id| self.requests.get(id))
            .filter(|r| self.show_queries || !r.is_query())
            .collect()
    }

    pub fn hidden_queries(&self) -> usize {
        if self.show_queries {
            0
        } else {
            self.requests.values().filter(|r| r.is_query()).count()
        }
    }

    pub fn running(&self) -> impl Iterator<Item = &Request> {
        self.requests.values().filter(|r| r.is_running())
    }

    /// The newest unfinished non-query request on a project.
    pub fn active_for_project(&self, slug: &str) -> Option<&Request> {
        self.order.iter().rev().find_map(|id| {
            let r = self.requests.get(id)?;
            (r.is_running() && !r.is_query() && r.project.as_deref() == Some(slug)).then_some(r)
        })
    }

    /// The project's latest requests (not queries), newest first.
    pub fn recent_for_project(&self, slug: &str, n: usize) -> Vec<&Request> {
        self.order
            .iter()
            .rev()
            .filter_map(|id| self.requests.get(id))
            .filter(|r| !r.is_query() && r.project.as_deref() == Some(slug))
            .take(n)
            .collect()
    }

    /// The newest unfinished scan, for the Resources title.
    pub fn active_scan(&self) -> Option<&Request> {
        self.order.iter().rev().find_map(|id| {
            let r = self.requests.get(id)?;
            (r.is_running() && r.kind == "scan").then_some(r)
        })
    }

    /// Row of the cursor in [`Activity::visible`].
    pub fn selected_row(&self, visible: &[&Request]) -> usize {
        match &self.selected {
            None => 0,
            Some(id) => visible.iter().position(|r| &r.id == id).unwrap_or(0),
        }
    }

    pub fn select_row(&mut self, row: usize) {
        let visible = self.visible();
        if visible.is_empty() {
            self.selected = None;
            return;
        }
        let row = row.min(visible.len() - 1);
        self.selected = if row == 0 {
            None
        } else {
            Some(visible[row].id.clone())
        };
    }

    pub fn current(&self) -> Option<&Request> {
        let visible = self.visible();
        let row = self.selected_row(&visible);
        visible.get(row).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::{Value, json};

    fn t(s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 16, 12, 0, s).unwrap()
    }

    fn ev(kind: &str, id: &str, status: Status, data: Value, ts: DateTime<Utc>) -> Envelope {
        let mut e = Envelope::event(
            kind,
            Some(RequestId::parse(id).unwrap()),
            None,
            status,
            data,
        );
        e.ts = ts;
        e
    }

    fn progress(env: &Envelope) -> Option<Progress> {
        progress_of(&env.decode().unwrap())
    }

    fn line(env: &Envelope) -> String {
        summarise(env, &Said::of(env))
    }

    #[test]
    fn progress_from_step_total_and_scan_chunks() {
        let e = ev(
            "progress",
            "r1",
            Status::InProgress,
            json!({"step": 3, "total": 12, "message": "creating subnet"}),
            t(0),
        );
        assert_eq!(
            progress(&e),
            Some(Progress {
                step: 3,
                total: 12,
                message: Some("creating subnet".into())
            })
        );
        let e = ev(
            "scan_chunk",
            "r1",
            Status::InProgress,
            json!({"region": "us-east-1", "records": [], "chunk": 2, "chunks": 17}),
            t(0),
        );
        assert_eq!(progress(&e).unwrap().total, 17);
        assert_eq!(line(&e), "us-east-1: 0 records");
    }

    #[test]
    fn a_query_answer_seen_by_others_is_summarised_from_its_counts() {
        let e = ev(
            "resources",
            "q1",
            Status::Success,
            json!({"total": 900, "counts": {"records": 900},
                   "reply": {"key": "pockitect:reply:q1", "ttl_secs": 300, "bytes": 123456}}),
            t(0),
        );
        assert_eq!(line(&e), "answered: 900 records");
        let mut a = Activity::default();
        let seen = a.ingest(&e);
        assert_eq!(seen.kind, "query_resources");
    }

    #[test]
    fn an_event_this_build_does_not_know_shows_its_message_and_stays_unnamed() {
        let e = ev(
            "quota_warning",
            "r9",
            Status::InProgress,
            json!({"message": "80 % of the vCPU quota"}),
            t(0),
        );
        assert_eq!(line(&e), "80 % of the vCPU quota");
        let mut a = Activity::default();
        assert_eq!(a.ingest(&e).kind, "?");
        // A destroy's deletions look like a terminate's: the kind waits for a telling event.
        let step = ev(
            "terminate_progress",
            "r8",
            Status::InProgress,
            json!({"step": 1, "total": 2, "id": "i-1", "type": "ec2_instance",
                   "region": "us-east-1", "action": "deleted", "message": "deleted i-1"}),
            t(1),
        );
        assert_eq!(a.ingest(&step).kind, "?");
        assert_eq!(line(&step), "[1/2] deleted i-1");
        let done = ev(
            "destroy_complete",
            "r8",
            Status::Success,
            json!({"message": "destroyed", "deleted": 2}),
            t(2),
        );
        assert_eq!(a.ingest(&done).kind, "destroy");
    }

    #[test]
    fn request_lifecycle() {
        let mut a = Activity::default();
        a.ingest(&ev(
            "accepted",
            "r1",
            Status::InProgress,
            json!({"type": "deploy", "daemon": "d1"}),
            t(0),
        ));
        a.ingest(&ev(
            "progress",
            "r1",
            Status::InProgress,
            json!({"step": 1, "total": 4, "message": "creating vpc"}),
            t(1),
        ));
        let done = a.ingest(&ev(
            "error",
            "r1",
            Status::Error,
            json!({"code": "aws", "message": "boom"}),
            t(2),
        ));
        assert!(done.terminal);
        let r = a.get(&RequestId::parse("r1").unwrap()).unwrap();
        assert_eq!(r.kind, "deploy");
        assert_eq!(r.status, Status::Error);
        assert_eq!(r.message.as_deref(), Some("aws: boom"));
        assert_eq!(r.events.len(), 3);
        // A straggler does not reopen it.
        a.ingest(&ev(
            "progress",
            "r1",
            Status::InProgress,
            json!({"step": 2, "total": 4, "message": "late"}),
            t(3),
        ));
        assert_eq!(
            a.get(&RequestId::parse("r1").unwrap()).unwrap().status,
            Status::Error
        );
    }

    #[test]
    fn bounded_requests_and_events() {
        let mut a = Activity::default();
        for i in 0..(MAX_REQUESTS + 20) {
            a.ingest(&ev(
                "pong",
                &format!("r{i}"),
                Status::Success,
                json!({}),
                t(0),
            ));
        }
        assert_eq!(a.len(), MAX_REQUESTS);
        for i in 0..(MAX_EVENTS + 5) {
            a.ingest(&ev(
                "progress",
                "big",
                Status::InProgress,
                json!({"step": i, "total": 1000}),
                t(1),
            ));
        }
        let r = a.get(&RequestId::parse("big").unwrap()).unwrap();
        assert_eq!(r.events.len(), MAX_EVENTS);
        assert_eq!(r.dropped, 5);
    }

    #[test]
    fn running_requests_survive_eviction() {
        let mut a = Activity::default();
        a.ingest(&ev("accepted", "keep", Status::InProgress, json!({}), t(0)));
        for i in 0..MAX_REQUESTS {
            a.ingest(&ev(
                "pong",
                &format!("r{i}"),
                Status::Success,
                json!({}),
                t(0),
            ));
        }
        assert!(a.get(&RequestId::parse("keep").unwrap()).is_some());
    }

    #[test]
    fn queries_hidden_by_default() {
        let mut a = Activity::default();
        a.ingest(&ev(
            "resources",
            "q",
            Status::Success,
            json!({"records": []}),
            t(0),
        ));
        a.ingest(&ev("pong", "p", Status::Success, json!({}), t(1)));
        assert_eq!(a.visible().len(), 1);
        assert_eq!(a.hidden_queries(), 1);
        // Another client's `catalog` (the wizard's) is a query too: the console's own list of
        // query kinds once missed it; now it is the protocol's.
        a.ingest(&ev(
            "accepted",
            "c",
            Status::InProgress,
            json!({"type": "catalog", "daemon": "d", "resumed": false}),
            t(2),
        ));
        assert_eq!(a.visible().len(), 1);
        assert_eq!(a.hidden_queries(), 2);
        a.show_queries = true;
        assert_eq!(a.visible().len(), 3);
    }

    #[test]
    fn selection_follows_newest_until_moved() {
        let mut a = Activity::default();
        a.ingest(&ev("pong", "a", Status::Success, json!({}), t(0)));
        a.ingest(&ev("pong", "b", Status::Success, json!({}), t(1)));
        assert_eq!(a.current().unwrap().id.as_str(), "b");
        a.select_row(1);
        a.ingest(&ev("pong", "c", Status::Success, json!({}), t(2)));
        assert_eq!(a.current().unwrap().id.as_str(), "a");
        a.select_row(0);
        a.ingest(&ev("pong", "d", Status::Success, json!({}), t(3)));
        assert_eq!(a.current().unwrap().id.as_str(), "d");
    }

    #[test]
    fn a_scans_shards_are_not_listed() {
        let mut a = Activity::default();
        let shard = RequestId::new();
        let mut accepted = ev("accepted", "keep", Status::InProgress, json!({}), t(0));
        accepted.request_id = Some(shard.clone());
        accepted.data = json!({"type": "scan_shard", "daemon": "d1", "resumed": false});
        let got = a.ingest(&accepted);
        assert_eq!(got.kind, "scan_shard");
        let mut chunk = ev("scan_chunk", "keep", Status::Success, json!({}), t(1));
        chunk.request_id = Some(shard);
        chunk.data = json!({"region": "us-east-1", "records": [], "chunk": 1, "chunks": 1});
        assert!(a.ingest(&chunk).terminal);
        assert!(a.is_empty(), "a shard is no request of the list");
        assert_eq!(a.total_events, 2);
    }
}
