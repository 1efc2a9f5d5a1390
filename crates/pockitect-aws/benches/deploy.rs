//! Deploy wall time of the full blueprint (network new + database + bucket + key pair + role +
//! instance) against a local moto server behind the testkit's `DelayProxy`, which adds 150 ms to
//! every AWS call (moto answers in microseconds; real AWS calls take about that): the graph with
//! its default parallelism versus the same resources one after another (`concurrency: 1`, the
//! earlier design's way). Also prints the AWS calls per deploy and the order the sequential run
//! took.
//!
//!   cargo bench -p pockitect-aws --bench deploy
//!
//! `POCKITECT_BENCH_RUNS` sets the runs per mode (default 3); `POCKITECT_BENCH_DELAY_MS` the
//! delay per call (default 150; 0 talks to moto directly and counts no calls).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use pockitect_aws::deploy::{
    self, DeployEvent, DeployOptions, DeploySink, NoopSink, Outcome, Resource, StepState,
};
use pockitect_aws::{Aws, AwsSettings, StaticCredentials};
use pockitect_blueprint::{Blueprint, Bucket, Database, DbEngine};
use pockitect_testkit::{DelayProxy, MotoServer, unique};

/// The earlier (Python) design's fixed order, in this engine's resource names (it had no
/// separate second subnet or DB subnet group step).
const LEGACY_ORDER: &str = "vpc → subnet → internet_gateway → route_table → security_group → \
     key_pair → iam_role → instance_profile → ec2_instance → rds_instance → s3_bucket → certificate";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn blueprint() -> Blueprint {
    let mut bp = Blueprint::new(&unique("bench-"), "us-east-2");
    bp.data.db = Some(Database {
        engine: Some(DbEngine::Postgres),
        instance_class: Some("db.t3.micro".into()),
        username: Some("appuser".into()),
        ..Database::default()
    });
    bp.data.s3_bucket = Some(Bucket {
        name: Some(format!("{}-assets", bp.slug())),
        ..Bucket::default()
    });
    bp
}

fn checked() -> pockitect_blueprint::Checked {
    pockitect_blueprint::check(blueprint()).expect("the bench blueprint is valid")
}

/// Notes the order in which resources are started.
#[derive(Default)]
struct OrderSink(Mutex<Vec<Resource>>);

impl DeploySink for OrderSink {
    async fn progress(&self, e: &DeployEvent) {
        if e.state == StepState::Started {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(e.resource);
        }
    }
    async fn blueprint_changed(&self, _blueprint: &Blueprint) {}
}

fn options(keys: &std::path::Path, concurrency: usize) -> DeployOptions {
    let mut opts = DeployOptions::new(keys);
    opts.poll_interval = Duration::from_millis(50);
    opts.concurrency = concurrency;
    opts
}

async fn run(aws: &Aws, keys: &std::path::Path, concurrency: usize, sink: &OrderSink) -> Duration {
    let started = Instant::now();
    let report = deploy::deploy(aws, checked(), options(keys, concurrency), sink)
        .await
        .expect("deploy runs");
    assert_eq!(report.outcome, Outcome::Success, "{report:#?}");
    started.elapsed()
}

async fn client(endpoint: &str) -> Aws {
    Aws::load(AwsSettings {
        endpoint_url: Some(endpoint.into()),
        pricing_endpoint_url: None,
        home_region: "us-east-1".into(),
        profile: None,
        max_attempts: 3,
        static_credentials: Some(StaticCredentials {
            access_key_id: "testing".into(),
            secret_access_key: "testing".into(),
        }),
        credentials_store: None,
    })
    .await
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let runs: usize = env_or("POCKITECT_BENCH_RUNS", 3).max(1);
    let delay = Duration::from_millis(env_or("POCKITECT_BENCH_DELAY_MS", 150));
    let moto = MotoServer::start();
    let proxy = (!delay.is_zero()).then(|| DelayProxy::start(moto.endpoint(), delay));
    let endpoint = proxy
        .as_ref()
        .map_or_else(|| moto.endpoint().to_owned(), DelayProxy::endpoint);
    let keys = tempfile::tempdir().expect("temp dir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        // Warm-up, straight at moto: it loads its image catalogue on first use.
        let direct = client(moto.endpoint()).await;
        deploy::deploy(&direct, checked(), options(keys.path(), 4), NoopSink)
            .await
            .expect("warm-up deploy runs");

        let aws = client(&endpoint).await;
        let graph_concurrency = DeployOptions::new(keys.path()).concurrency;
        let setup = if delay.is_zero() {
            "moto direct".to_owned()
        } else {
            format!("moto + {} ms/call", delay.as_millis())
        };
        let mut rows = Vec::new();
        let mut medians = Vec::new();
        let mut sequential_order = Vec::new();
        for (label, concurrency) in [
            (
                format!("graph (concurrency {graph_concurrency})"),
                graph_concurrency,
            ),
            ("sequential (concurrency 1)".to_owned(), 1),
        ] {
            let mut times: Vec<Duration> = Vec::new();
            let mut calls: Vec<usize> = Vec::new();
            for _ in 0..runs {
                let sink = OrderSink::default();
                let before = proxy.as_ref().map(DelayProxy::requests);
                times.push(run(&aws, keys.path(), concurrency, &sink).await);
                if let (Some(p), Some(b)) = (&proxy, before) {
                    calls.push(p.requests() - b);
                }
                if concurrency == 1 {
                    sequential_order = sink.0.into_inner().unwrap_or_default();
                }
            }
            times.sort();
            calls.sort_unstable();
            let median = times[times.len() / 2];
            medians.push(median);
            let calls = match (calls.first(), calls.last()) {
                (Some(a), Some(b)) if a == b => a.to_string(),
                (Some(a), Some(b)) => format!("{a}–{b}"),
                _ => "n/a".to_owned(),
            };
            rows.push(format!(
                "| {setup} | {label} | {runs} | {} | {} | {} | {calls} |",
                ms(median),
                ms(times[0]),
                ms(times[times.len() - 1]),
            ));
        }
        println!("| setup | mode | runs | median | min | max | AWS calls per deploy |");
        println!("|---|---|---|---|---|---|---|");
        for row in rows {
            println!("{row}");
        }
        println!(
            "\nsequential / graph (medians): {:.2}×",
            medians[1].as_secs_f64() / medians[0].as_secs_f64()
        );
        let order: Vec<&str> = sequential_order.iter().map(|r| r.as_str()).collect();
        println!("sequential run's order: {}", order.join(" → "));
        println!("earlier design's order: {LEGACY_ORDER}");
    });
}
