//! Soak benchmark (not a test): does Redis stay bounded under a console left open all day?
//!
//! A daemon (in-process, two workers) serves a synthetic 10,000-resource estate from its scan
//! cache, against a private redis-server. A console does what `pockitect-tui` does when the
//! daemons refresh every 5 s: each `refresh` that ends makes it query the projects and the whole
//! estate again. It is the TUI's own model (`app::Model`) and bus task, so its answers are read
//! exactly as the TUI reads them. A simulated day is 17,280 such rounds, run back to back
//! (time-compressed: nothing expires during the run, so the end figure is what a day of TTLs
//! holds). Redis `used_memory` is sampled after every round.
//!
//!   cargo bench -p pockitectd --bench soak                        a simulated day
//!   POCKITECT_SOAK_HOURS=1 cargo bench -p pockitectd --bench soak  a simulated hour
//!   POCKITECT_SOAK_RESOURCES=900 …                                 another estate size

use std::time::{Duration, Instant};

use pockitect_proto::{Command, Envelope, RefreshArgs, Status, event_type};
use pockitect_testkit::{RedisServer, unique};
use pockitect_tui::app::{BusMsg, Effect, Model, Msg, Settings as UiSettings};
use pockitect_tui::bus_task::{self, BusSettings};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The daemons' refresh interval the run simulates.
const ROUND: Duration = Duration::from_secs(5);
/// A round that takes longer than this means something is stuck.
const ROUND_LIMIT: Duration = Duration::from_secs(120);

fn env_number(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Redis {
    conn: redis::aio::MultiplexedConnection,
}

impl Redis {
    async fn info_field(&mut self, field: &str) -> u64 {
        let info: String = redis::cmd("INFO")
            .arg("memory")
            .query_async(&mut self.conn)
            .await
            .expect("INFO memory");
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    async fn used_memory(&mut self) -> u64 {
        self.info_field("used_memory").await
    }

    async fn count(&mut self, pattern: &str) -> usize {
        let mut n = 0;
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut self.conn)
                .await
                .expect("SCAN");
            n += batch.len();
            if next == 0 {
                return n;
            }
            cursor = next;
        }
    }

    async fn memory_usage(&mut self, key: &str) -> u64 {
        redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(key)
            .query_async::<Option<u64>>(&mut self.conn)
            .await
            .ok()
            .flatten()
            .unwrap_or(0)
    }
}

/// The console: the TUI's model, fed by the TUI's bus task; effects go back to the task.
struct Console {
    model: Model,
    from_bus: mpsc::Receiver<BusMsg>,
    effects: mpsc::UnboundedSender<Effect>,
    /// Whole estate answers received so far.
    answers: usize,
    resources: usize,
}

impl Console {
    fn apply(&mut self, msg: BusMsg) {
        if let BusMsg::Events { events, .. } = &msg {
            for e in events {
                if e.kind == event_type::RESOURCES && e.is_terminal() {
                    let n = e.data["records"].as_array().map_or(0, Vec::len);
                    assert!(
                        e.status == Some(Status::Success) && n == self.resources,
                        "the console got {n} of {} records: {}",
                        self.resources,
                        e.to_json().chars().take(300).collect::<String>()
                    );
                    self.answers += 1;
                }
            }
        }
        if let Some(effect) = self.model.update(Msg::Bus(msg)) {
            let _ = self.effects.send(effect);
        }
    }

    /// Feeds the model until `done` holds.
    async fn until(&mut self, what: &str, mut done: impl FnMut(&Self) -> bool) {
        let deadline = tokio::time::Instant::now() + ROUND_LIMIT;
        while !done(self) {
            match tokio::time::timeout_at(deadline, self.from_bus.recv()).await {
                Ok(Some(msg)) => self.apply(msg),
                Ok(None) => panic!("the bus task stopped while waiting for {what}"),
                Err(_) => panic!("no {what} within {ROUND_LIMIT:?}"),
            }
        }
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1_000_000.0)
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this too, without it:
    // keep that run to a few rounds.
    let quick = !std::env::args().any(|a| a == "--bench");
    let hours = env_number("POCKITECT_SOAK_HOURS", 24.0);
    let resources = env_number("POCKITECT_SOAK_RESOURCES", 10_000.0) as usize;
    let rounds = if quick {
        5
    } else {
        ((hours * 3600.0) / ROUND.as_secs_f64()).ceil().max(1.0) as usize
    };

    let redis_server = RedisServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let prefix = unique("soak");
    pockitectd::seed_scan_cache(
        &dir.path().join("cache"),
        pockitect_tui::synthetic::records(resources),
    );
    let mut s = pockitectd::Settings::defaults();
    s.redis_url = Some(redis_server.url().to_owned());
    s.prefix = prefix.clone();
    s.workers = 2;
    s.projects_dir = dir.path().join("projects");
    s.cache_dir = dir.path().join("cache");
    // No project is deployed, so a refresh makes no AWS call; nothing may leave the machine.
    s.aws_endpoint_url = Some("http://127.0.0.1:9".into());
    s.aws_home_region = Some("us-east-1".into());
    s.aws_static_credentials = Some(pockitect_aws::StaticCredentials {
        access_key_id: "soak".into(),
        secret_access_key: "soak".into(),
    });
    s.secrets = pockitect_secrets::Backend::File;
    s.secrets_dir = dir.path().join("secrets");
    s.key_dir = dir.path().join("keys");
    s.log_dir = None;
    s.audit_dir = None;
    // The rounds below play the periodic refresh, back to back.
    s.refresh_interval = None;
    s.daemon_id = unique("soak-d");
    let token = CancellationToken::new();
    let daemon = tokio::spawn(pockitectd::run(s, token.clone()));

    let bus = pockitect_bus::Bus::connect(pockitect_bus::BusConfig::new(
        redis_server.url(),
        prefix.clone(),
    ))
    .await
    .expect("connect");
    pockitect_testkit::eventually("the daemon's heartbeat", Duration::from_secs(30), || {
        let bus = bus.clone();
        async move { (!bus.daemons().await.ok()?.is_empty()).then_some(()) }
    })
    .await;
    let mut redis = Redis {
        conn: redis::Client::open(redis_server.url())
            .expect("redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("connect"),
    };

    let (ui_tx, from_bus) = mpsc::channel(64);
    let (effects, effects_rx) = mpsc::unbounded_channel();
    let task = bus_task::spawn(
        BusSettings::new(redis_server.url(), prefix.clone()),
        token.clone(),
        effects_rx,
        ui_tx,
    );
    let mut console = Console {
        model: Model::new(UiSettings {
            redis_url: pockitect_bus::redact_url(redis_server.url()),
            prefix: prefix.clone(),
            session: "50a4".into(),
            theme: pockitect_tui::theme::Theme::plain(),
            now: chrono::Utc::now(),
            size: (120, 40),
        }),
        from_bus,
        effects,
        answers: 0,
        resources,
    };
    // Start-up: the console connects and loads the estate once.
    console
        .until("the first estate answer", |c| c.answers >= 1)
        .await;

    let start = redis.used_memory().await;
    let mut peak = start;
    let started = Instant::now();
    eprintln!(
        "{rounds} rounds ({hours} h simulated at one refresh per {} s), {resources} resources; used_memory at start {}",
        ROUND.as_secs(),
        mb(start)
    );
    for round in 1..=rounds {
        let before = console.answers;
        let sent = bus
            .send(&Command::Refresh(RefreshArgs::default()))
            .await
            .expect("send refresh");
        // The refresh ends, the console re-queries, the whole estate arrives.
        console
            .until("the estate after a refresh", |c| c.answers > before)
            .await;
        let _ = sent;
        let used = redis.used_memory().await;
        peak = peak.max(used);
        if round % 500 == 0 || round == rounds {
            eprintln!(
                "  round {round}/{rounds}: used_memory {} ({:.0} s elapsed)",
                mb(used),
                started.elapsed().as_secs_f64()
            );
        }
    }
    let took = started.elapsed();
    let end = redis.used_memory().await;
    let redis_peak = redis.info_field("used_memory_peak").await;
    let names = pockitect_bus::Keys::new(prefix.clone());
    let stream_key = names.event_stream();
    let stream_len: u64 = redis::cmd("XLEN")
        .arg(&stream_key)
        .query_async(&mut redis.conn)
        .await
        .unwrap_or(0);
    let stream_bytes = redis.memory_usage(&stream_key).await;
    let done = redis.count(&format!("{}:done:*", names.tag())).await;
    let seen = redis.count(&format!("{}:seen:*", names.tag())).await;
    let replies = redis.count(&format!("{}:reply:*", names.tag())).await;
    let answer_bytes = Envelope::event(
        event_type::RESOURCES,
        None,
        None,
        Status::Success,
        serde_json::json!({"total": resources, "records": pockitect_tui::synthetic::records(resources)}),
    )
    .to_json()
    .len() as u64;

    println!(
        "soak: {resources} resources, {rounds} rounds of refresh + re-query ({hours} h simulated), run in {:.0} s ({:.1} ms a round)",
        took.as_secs_f64(),
        took.as_secs_f64() * 1000.0 / rounds as f64
    );
    println!("| used_memory | value |");
    println!("|---|---|");
    println!("| at start (estate loaded once) | {} |", mb(start));
    println!("| at end | {} |", mb(end));
    println!("| peak of the per-round samples | {} |", mb(peak));
    println!("| redis used_memory_peak | {} |", mb(redis_peak));
    println!("| one estate answer (JSON) | {} |", mb(answer_bytes));
    println!(
        "at end: event stream {stream_len} entries ({}), {done} done records, {seen} request ids remembered, {replies} answers waiting",
        mb(stream_bytes)
    );

    token.cancel();
    let _ = task.await;
    let _ = tokio::time::timeout(Duration::from_secs(20), daemon).await;
}
