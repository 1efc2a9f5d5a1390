//! Synthetic load for the bench and the load test: a large estate and a stream of events like
//! a busy daemon pool produces. Deterministic (no randomness), so runs compare.

use chrono::{DateTime, Duration, TimeZone, Utc};
use pockitect_proto::{Envelope, RequestId, ResourceRecord, ResourceType, Status, event_type};
use serde_json::json;

const REGIONS: [&str; 17] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "sa-east-1",
    "global",
];

const STATES: [&str; 5] = ["running", "stopped", "available", "pending", "in-use"];

pub fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 16, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

/// `n` records spread over regions, types and 40 projects.
pub fn records(n: usize) -> Vec<ResourceRecord> {
    (0..n)
        .map(|i| {
            let kind = ResourceType::ALL[i % ResourceType::ALL.len()];
            let region = REGIONS[(i / 7) % REGIONS.len()];
            let mut tags = std::collections::BTreeMap::new();
            if i % 3 != 0 {
                tags.insert(
                    "pockitect:project".to_owned(),
                    format!("project-{}", i % 40),
                );
                tags.insert("pockitect:managed".to_owned(), "true".to_owned());
            }
            tags.insert("Name".to_owned(), format!("resource-{i}"));
            let mut r = ResourceRecord::new(kind, format!("id-{i:08x}"), region, tags);
            r.state = Some(STATES[i % STATES.len()].to_owned());
            r.account = "123456789012".to_owned();
            r.last_synced = epoch();
            r
        })
        .collect()
}

/// `n` events: progress of 50 concurrent requests, with a scan chunk every 10th event: 20
/// known records whose state changed, and one record never seen before.
pub fn events(n: usize) -> Vec<Envelope> {
    let ids: Vec<RequestId> = (0..50)
        .map(|i| RequestId::parse(&format!("load{i:028x}")).unwrap_or_default())
        .collect();
    (0..n)
        .map(|i| {
            let id = ids[i % ids.len()].clone();
            let ts = epoch() + Duration::milliseconds(i as i64);
            let mut e = if i % 10 == 9 {
                let mut recs = records(20 + (i % 200))
                    .into_iter()
                    .skip(i % 200)
                    .collect::<Vec<_>>();
                for r in &mut recs {
                    r.state = Some("stopping".to_owned());
                }
                let mut fresh = records(1).remove(0);
                fresh.id = format!("new-{i:08x}");
                recs.push(fresh);
                Envelope::event(
                    event_type::SCAN_CHUNK,
                    Some(id),
                    None,
                    Status::InProgress,
                    json!({"region": REGIONS[i % REGIONS.len()], "records": recs,
                           "errors": [], "chunk": i % 17, "chunks": 17}),
                )
            } else {
                Envelope::event(
                    "deploy_progress",
                    Some(id),
                    Some(format!("project-{}", i % 40)),
                    Status::InProgress,
                    json!({"step": i % 12, "total": 12, "resource": "subnet", "state": "started",
                           "message": format!("step {i}")}),
                )
            };
            e.ts = ts;
            e
        })
        .collect()
}

/// What one load run measured.
#[derive(Clone, Debug)]
pub struct LoadReport {
    pub records: usize,
    pub events: usize,
    /// Parsing the query answer with every record, then building the table's index.
    pub ingest: std::time::Duration,
    /// One second of traffic: every event through `update`, at 30 frames (prepare + view).
    pub one_second: std::time::Duration,
    pub worst_frame: std::time::Duration,
    /// Average key press + redraw while scrolling the full table.
    pub scroll_frame: std::time::Duration,
    /// Average redraw of the Activity tab with 50 running requests.
    pub activity_frame: std::time::Duration,
    /// Average keystroke of a `/` search over every record, redraw included.
    pub search_key: std::time::Duration,
}

/// Drives `update` and `view` on a `TestBackend` of `w`×`h` with `records` resources and
/// `events` events delivered over one simulated second.
pub fn run_load(records_n: usize, events_n: usize, w: u16, h: u16) -> LoadReport {
    use std::time::Instant;

    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    use crate::app::{BusMsg, Effect, Model, Msg, Settings};
    use crate::theme::Theme;

    const FRAMES: usize = 30;
    let key = |c: KeyCode| Msg::Key(KeyEvent::new(c, KeyModifiers::NONE));
    let mut m = Model::new(Settings {
        redis_url: "redis://127.0.0.1:6379".into(),
        prefix: "pockitect".into(),
        session: "10ad".into(),
        theme: Theme::colored(),
        now: epoch(),
        size: (w, h),
    });
    // A terminal that cannot be created is a broken test setup, not a runtime case.
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    let mut draw = |m: &mut Model| {
        m.prepare();
        term.draw(|f| crate::ui::view(m, f)).expect("draw");
    };
    let query = m
        .update(Msg::Bus(BusMsg::Connected))
        .map(Effect::flatten)
        .unwrap_or_default()
        .into_iter()
        .find_map(|e| match e {
            Effect::Send {
                request_id,
                command,
                ..
            } if command.kind() == "query_resources" => Some(request_id),
            _ => None,
        })
        .expect("a resources query on connect");
    let answer = Envelope::event(
        event_type::RESOURCES,
        Some(query),
        None,
        Status::Success,
        json!({ "records": records(records_n) }),
    );
    let events = events(events_n);

    let t = Instant::now();
    m.update(Msg::Bus(BusMsg::Events {
        events: vec![answer],
        replay: false,
    }));
    m.prepare();
    let ingest = t.elapsed();
    assert_eq!(m.resources.len(), records_n);

    m.update(key(KeyCode::Char('2')));
    draw(&mut m);
    let per_frame = events.len().div_ceil(FRAMES).max(1);
    let mut worst = std::time::Duration::ZERO;
    let t = Instant::now();
    let mut batches = events.into_iter().peekable();
    while batches.peek().is_some() {
        let f0 = Instant::now();
        let batch: Vec<Envelope> = batches.by_ref().take(per_frame).collect();
        m.update(Msg::Bus(BusMsg::Events {
            events: batch,
            replay: false,
        }));
        draw(&mut m);
        worst = worst.max(f0.elapsed());
    }
    let one_second = t.elapsed();

    let t = Instant::now();
    let n = 100;
    for i in 0..n {
        m.update(key(if i % 10 == 0 {
            KeyCode::PageDown
        } else {
            KeyCode::Char('j')
        }));
        draw(&mut m);
    }
    let scroll_frame = t.elapsed() / n;

    let t = Instant::now();
    m.update(key(KeyCode::Char('/')));
    let word = "project-1";
    for c in word.chars() {
        m.update(key(KeyCode::Char(c)));
        draw(&mut m);
    }
    let search_key = t.elapsed() / word.len() as u32;
    m.update(key(KeyCode::Esc));

    m.update(key(KeyCode::Char('3')));
    let t = Instant::now();
    for _ in 0..FRAMES {
        m.update(Msg::Tick(epoch()));
        draw(&mut m);
    }
    let activity_frame = t.elapsed() / FRAMES as u32;

    LoadReport {
        records: records_n,
        events: events_n,
        ingest,
        one_second,
        worst_frame: worst,
        scroll_frame,
        activity_frame,
        search_key,
    }
}
