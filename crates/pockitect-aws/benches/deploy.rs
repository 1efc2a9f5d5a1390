//! Deploy wall time of the full blueprint (network new + database + bucket + key pair + role)
//! against a local moto server: the graph with its default parallelism versus the same
//! resources one at a time (`concurrency: 1`). Run with `cargo bench -p pockitect-aws --bench
//! deploy`; `POCKITECT_BENCH_RUNS` sets the runs per mode (default 3).

use std::time::{Duration, Instant};

use pockitect_aws::deploy::{self, DbPassword, DeployOptions, NoopSink, Outcome};
use pockitect_aws::{Aws, AwsSettings, StaticCredentials};
use pockitect_blueprint::{Blueprint, Bucket, Database, DbEngine};
use pockitect_testkit::{MotoServer, unique};

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

async fn run(aws: &Aws, keys: &std::path::Path, concurrency: usize) -> Duration {
    let mut opts = DeployOptions::new(keys);
    opts.db_password = Some(DbPassword::new("bench-password-123"));
    opts.poll_interval = Duration::from_millis(50);
    opts.concurrency = concurrency;
    let started = Instant::now();
    let report = deploy::deploy(aws, blueprint(), opts, NoopSink)
        .await
        .expect("deploy runs");
    assert_eq!(report.outcome, Outcome::Success, "{report:#?}");
    started.elapsed()
}

fn main() {
    let runs: usize = std::env::var("POCKITECT_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let moto = MotoServer::start();
    let keys = tempfile::tempdir().expect("temp dir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let aws = Aws::load(AwsSettings {
            endpoint_url: Some(moto.endpoint().into()),
            home_region: "us-east-1".into(),
            profile: None,
            max_attempts: 3,
            static_credentials: Some(StaticCredentials {
                access_key_id: "testing".into(),
                secret_access_key: "testing".into(),
            }),
        })
        .await;
        // Warm-up: moto loads its image catalogue on first use.
        run(&aws, keys.path(), 4).await;
        for (label, concurrency) in [("graph (concurrency 4)", 4), ("sequential", 1)] {
            let mut times: Vec<Duration> = Vec::new();
            for _ in 0..runs {
                times.push(run(&aws, keys.path(), concurrency).await);
            }
            times.sort();
            let median = times[times.len() / 2];
            println!(
                "deploy full blueprint, {label}: median {:.0} ms over {runs} runs (min {:.0} ms, max {:.0} ms)",
                median.as_secs_f64() * 1e3,
                times[0].as_secs_f64() * 1e3,
                times[times.len() - 1].as_secs_f64() * 1e3,
            );
        }
    });
}
