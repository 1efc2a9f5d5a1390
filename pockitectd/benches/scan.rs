//! Scan benchmark (not a test): seeds a real moto_server with ≥1,000 resources over 8 regions,
//! then times a full scan, first straight against moto, then through a forwarder that adds
//! 150 ms to every AWS call (moto answers in microseconds; real AWS calls take about that).
//!
//!   cargo bench -p pockitectd --bench scan            (POCKITECT_BENCH_COPIES=8 by default)

use std::process::Command;
use std::time::{Duration, Instant};

use pockitect_aws::scan::{ScanRequest, scan};
use pockitect_aws::{Aws, AwsSettings, StaticCredentials};
use pockitect_testkit::MotoServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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

/// Forwards TCP to `target`, holding each client→server read for `delay` first: every HTTP
/// request (one write from the SDK) pays the delay once.
async fn delaying_forwarder(target: String, delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind forwarder");
    let addr = listener.local_addr().expect("forwarder address");
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(&target).await else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up = async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        tokio::time::sleep(delay).await;
                        if sw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                let down = async move {
                    let _ = tokio::io::copy(&mut sr, &mut cw).await;
                };
                tokio::join!(up, down);
            });
        }
    });
    format!("http://{addr}")
}

async fn run_scan(endpoint: &str, concurrency: usize) -> (usize, Duration, usize) {
    let aws = Aws::load(AwsSettings {
        endpoint_url: Some(endpoint.to_owned()),
        home_region: "us-east-1".into(),
        profile: None,
        max_attempts: 3,
        static_credentials: Some(StaticCredentials {
            access_key_id: "bench".into(),
            secret_access_key: "bench".into(),
        }),
    })
    .await;
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let started = Instant::now();
    let req = ScanRequest {
        regions: Some(REGIONS.iter().map(|s| s.to_string()).collect()),
        types: None,
        concurrency,
    };
    let done = scan(&aws, req, tx).await.expect("scan");
    let took = started.elapsed();
    let _ = drain.await;
    (done.total, took, done.errors.len())
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

    let hostport = moto.endpoint().trim_start_matches("http://").to_owned();
    println!("| setup | concurrency | resources | wall time | resources/s | errors |");
    println!("|---|---|---|---|---|---|");
    for (label, endpoint) in [
        ("moto direct", moto.endpoint().to_owned()),
        (
            "moto + 150 ms/call",
            delaying_forwarder(hostport.clone(), Duration::from_millis(150)).await,
        ),
    ] {
        for concurrency in [4, 16, 64] {
            let (n, took, errors) = run_scan(&endpoint, concurrency).await;
            println!(
                "| {label} | {concurrency} | {n} | {:.2} s | {:.0} | {errors} |",
                took.as_secs_f64(),
                n as f64 / took.as_secs_f64()
            );
        }
    }
}
