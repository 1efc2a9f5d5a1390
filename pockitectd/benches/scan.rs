//! Scan benchmark (not a test): seeds a real moto_server with ≥1,000 resources over 8 regions,
//! then times a full scan, first straight against moto, then through the testkit's `DelayProxy`,
//! which adds 150 ms to every AWS call (moto answers in microseconds; real AWS calls take about
//! that).
//!
//! Last, every region moto says is enabled (17, as a fresh AWS account), at the daemon's
//! default bound (16 calls in flight per region), through the same 150 ms proxy.
//!
//!   cargo bench -p pockitectd --bench scan            (POCKITECT_BENCH_COPIES=8 by default)

use std::process::Command;
use std::time::{Duration, Instant};

use pockitect_aws::scan::{ScanRequest, scan};
use pockitect_aws::{Aws, AwsSettings, StaticCredentials};
use pockitect_testkit::{DelayProxy, MotoServer};

const REGIONS: [&str; 8] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-1",
    "ap-northeast-1",
];

/// Resources found, wall time, errors, regions scanned.
async fn run_scan(
    endpoint: &str,
    regions: Option<Vec<String>>,
    concurrency: usize,
) -> (usize, Duration, usize, usize) {
    let aws = Aws::load(AwsSettings {
        endpoint_url: Some(endpoint.to_owned()),
        pricing_endpoint_url: None,
        home_region: "us-east-1".into(),
        profile: None,
        max_attempts: 3,
        static_credentials: Some(StaticCredentials {
            access_key_id: "bench".into(),
            secret_access_key: "bench".into(),
        }),
        credentials_store: None,
    })
    .await;
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let started = Instant::now();
    let req = ScanRequest {
        regions,
        types: None,
        concurrency,
    };
    let done = scan(&aws, req, tx).await.expect("scan");
    let took = started.elapsed();
    let _ = drain.await;
    (done.total, took, done.errors.len(), done.regions.len())
}

#[tokio::main]
async fn main() {
    let copies: usize = std::env::var("POCKITECT_BENCH_COPIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let moto = MotoServer::start();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/seed_moto.py");
    eprintln!(
        "seeding moto: {copies} stacks in each of {} regions…",
        REGIONS.len()
    );
    let t = Instant::now();
    let out = Command::new("python3")
        .args([
            script,
            "--endpoint",
            moto.endpoint(),
            "--regions",
            &REGIONS.join(","),
            "--copies",
            &copies.to_string(),
            "--project",
            "bench",
        ])
        .output()
        .expect("python3 runs the seed script");
    assert!(
        out.status.success(),
        "seed failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("seeded in {:.1}s", t.elapsed().as_secs_f64());

    let slow = DelayProxy::start(moto.endpoint(), Duration::from_millis(150));
    println!("| setup | concurrency | resources | wall time | resources/s | errors |");
    println!("|---|---|---|---|---|---|");
    for (label, endpoint) in [
        ("moto direct", moto.endpoint().to_owned()),
        ("moto + 150 ms/call", slow.endpoint()),
    ] {
        for concurrency in [4, 16, 64] {
            let regions = Some(REGIONS.iter().map(|s| s.to_string()).collect());
            let (n, took, errors, _) = run_scan(&endpoint, regions, concurrency).await;
            println!(
                "| {label} | {concurrency}/region | {n} | {:.2} s | {:.0} | {errors} |",
                took.as_secs_f64(),
                n as f64 / took.as_secs_f64()
            );
        }
    }
    println!();
    println!(
        "| every enabled region, 150 ms/call, default bound 16/region | regions | resources | wall time | errors |"
    );
    println!("|---|---|---|---|---|");
    for round in 1..=3 {
        let (n, took, errors, regions) = run_scan(&slow.endpoint(), None, 16).await;
        println!(
            "| round {round} | {regions} | {n} | {:.2} s | {errors} |",
            took.as_secs_f64()
        );
    }
}
