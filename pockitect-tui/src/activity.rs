//! Every request the console has seen (sent here, by another client, or replayed from the
//! events stream), with its status, progress and last events. Bounded: at most
//! [`MAX_REQUESTS`] requests (the oldest finished ones go first) and [`MAX_EVENTS`] events each.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};
use pockitect_proto::{Command, Envelope, RequestId, Status, event_type};
use serde_json::Value;

pub const MAX_REQUESTS: usize = 500;
pub const MAX_EVENTS: usize = 200;
const MAX_ANNOUNCEMENTS: usize = 50;

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
}

/// The command type an event reveals, when it does.
fn infer_kind(env: &Envelope) -> Option<String> {
    if env.kind == event_type::ACCEPTED {
        for field in ["command", "type", "kind"] {
            if let Some(s) = env.data.get(field).and_then(Value::as_str) {
                return Some(s.to_owned());
            }
        }
        return None;
    }
    let k = env.kind.as_str();
    let kind = match k {
        event_type::SCAN_STARTED | event_type::SCAN_CHUNK | event_type::SCAN_COMPLETE => "scan",
        event_type::RESOURCES => "query_resources",
        event_type::PROJECTS => "list_projects",
        event_type::PROJECT => "get_project",
        event_type::REQUEST => "get_request",
        event_type::DAEMON_INFO => "daemon_info",
        event_type::PONG => "ping",
        event_type::CANCEL_REQUESTED => "cancel",
        _ => {
            for prefix in [
                "deploy",
                "terminate",
                "destroy",
                "power",
                "plan",
                "refresh",
                "scan",
            ] {
                if k.starts_with(prefix) {
                    return Some(prefix.to_owned());
                }
            }
            return None;
        }
    };
    Some(kind.to_owned())
}

fn num(v: &Value, field: &str) -> Option<u64> {
    let x = v.get(field)?;
    x.as_u64().or_else(|| {
        x.as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| f as u64)
    })
}

/// `data.step`/`data.total` of any event, or a scan chunk's `chunk`/`chunks`.
pub fn progress_of(env: &Envelope) -> Option<Progress> {
    let d = &env.data;
    let message = d.get("message").and_then(Value::as_str).map(str::to_owned);
    if let (Some(step), Some(total)) = (num(d, "step"), num(d, "total")) {
        return Some(Progress {
            step,
            total,
            message,
        });
    }
    if env.kind == event_type::SCAN_CHUNK
        && let (Some(step), Some(total)) = (num(d, "chunk"), num(d, "chunks"))
    {
        let region = d.get("region").and_then(Value::as_str).map(str::to_owned);
        return Some(Progress {
            step,
            total,
            message: region.or(message),
        });
    }
    None
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// One line that says what an event was about.
pub fn summarise(env: &Envelope) -> String {
    let d = &env.data;
    // A query's terminal event seen by others carries `counts` in place of its arrays.
    let arr_len = |field: &str| {
        d.get(field)
            .and_then(Value::as_array)
            .map(Vec::len)
            .or_else(|| {
                d.get("counts")
                    .and_then(|c| c.get(field))
                    .and_then(Value::as_u64)
                    .map(|n| n as usize)
            })
    };
    let message = d.get("message").and_then(Value::as_str);
    match env.kind.as_str() {
        event_type::SCAN_CHUNK => {
            let region = d.get("region").and_then(Value::as_str).unwrap_or("?");
            let n = arr_len("records").unwrap_or(0);
            let errs = arr_len("errors").unwrap_or(0);
            let mut s = format!("{region}: {}", plural(n, "record"));
            if errs > 0 {
                s.push_str(&format!(", {}", plural(errs, "error")));
            }
            s
        }
        event_type::SCAN_COMPLETE => {
            let total = num(d, "total").unwrap_or(0) as usize;
            let regions = arr_len("regions").unwrap_or(0);
            let errs = arr_len("errors").unwrap_or(0);
            let secs = num(d, "duration_ms").unwrap_or(0) as f64 / 1000.0;
            format!(
                "{} in {}, {} in {secs:.1} s",
                plural(total, "record"),
                plural(regions, "region"),
                plural(errs, "error")
            )
        }
        event_type::RESOURCES => plural(arr_len("records").unwrap_or(0), "record"),
        event_type::ACCEPTED if message.is_none() => match env.status {
            Some(Status::Queued) => "queued: waiting for its turn".to_owned(),
            _ => "taken by a daemon".to_owned(),
        },
        event_type::SCAN_STARTED if message.is_none() => {
            let n = arr_len("regions").or_else(|| num(d, "regions").map(|n| n as usize));
            match n {
                Some(n) => format!("scanning {}", plural(n, "region")),
                None => "scanning".to_owned(),
            }
        }
        event_type::PROJECTS => plural(arr_len("projects").unwrap_or(0), "project"),
        event_type::ERROR => {
            let code = d.get("code").and_then(Value::as_str);
            match (code, message) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (None, Some(m)) => m.to_owned(),
                (Some(c), None) => c.to_owned(),
                (None, None) => compact(d),
            }
        }
        _ => {
            if let Some(p) = progress_of(env) {
                let mut s = format!("[{}/{}]", p.step, p.total);
                if let Some(m) = p.message {
                    s.push(' ');
                    s.push_str(&m);
                }
                s
            } else if let Some(m) = message {
                m.to_owned()
            } else {
                compact(d)
            }
        }
    }
}

fn compact(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Object(m) if m.is_empty() => String::new(),
        _ => {
            let s = v.to_string();
            if s.chars().count() > 160 {
                let mut t: String = s.chars().take(159).collect();
                t.push('…');
                t
            } else {
                s
            }
        }
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
        let line = EventLine {
            ts: env.ts,
            kind: env.kind.clone(),
            status: env.status,
            text: summarise(env),
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
        let kind = infer_kind(env);
        let progress = progress_of(env);
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
            r.project = env.project_id.clone().or_else(|| {
                env.data
                    .get("project")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
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
    use serde_json::json;

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

    #[test]
    fn progress_from_step_total_and_scan_chunks() {
        let e = ev(
            "deploy_progress",
            "r1",
            Status::InProgress,
            json!({"step": 3, "total": 12, "message": "creating subnet"}),
            t(0),
        );
        assert_eq!(
            progress_of(&e),
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
        assert_eq!(progress_of(&e).unwrap().total, 17);
        assert_eq!(summarise(&e), "us-east-1: 0 records");
    }

    #[test]
    fn request_lifecycle() {
        let mut a = Activity::default();
        a.ingest(&ev(
            "accepted",
            "r1",
            Status::InProgress,
            json!({"command": "deploy"}),
            t(0),
        ));
        a.ingest(&ev(
            "progress",
            "r1",
            Status::InProgress,
            json!({"step": 1, "total": 4}),
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
            json!({"step": 2, "total": 4}),
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
}
