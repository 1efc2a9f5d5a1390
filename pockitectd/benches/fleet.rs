//! Fleet scan benchmark (not a test): whole daemons (in this process, each with its own
//! listeners, shard slots and AWS handles) against a real redis-server and moto_server behind
//! the testkit's `ReplayProxy`, which adds 150 ms to every AWS call (real AWS calls take about
//! that) and answers a call it has seen from its cache (moto answers only ~110 calls a second
//! on a 2-core machine: round 1 measures moto, the later rounds the daemons). A scan request
//! goes on the bus like the CLI's and is timed to its one `scan_complete`.
//!
//! - One account × the 17 regions a fresh AWS account has enabled, one daemon, default
//!   settings (the target: at most 0.5 s).
//! - 10 accounts (roles assumed in moto: their credentials act in the role's account) × the
//!   same 17 regions, with 1, 2 and 4 daemons sharing the scan's shards.
//!
//!   cargo bench -p pockitectd --bench fleet        (POCKITECT_BENCH_ROUNDS=3 by default)

use std::time::{Duration, Instant};

use pockitect_bus::{Bus, BusConfig};
use pockitect_proto::{Command, Envelope, RequestId, ScanArgs};
use pockitect_testkit::{MotoServer, RedisServer, ReplayProxy, unique};
use pockitectd::Settings;
use tokio_util::sync::CancellationToken;

/// The regions enabled by default in an AWS account (opt-in regions left out).
const REGIONS: [&str; 17] = [
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

struct Fleet {
    bus: Bus,
    token: CancellationToken,
    handles: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

/// `n` daemons of one group (one prefix) on `redis`, their AWS calls through `endpoint`.
async fn fleet(redis: &RedisServer, endpoint: &str, n: usize, accounts: usize) -> Fleet {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique("bench");
    let token = CancellationToken::new();
    let mut handles = Vec::new();
    for i in 0..n {
        let mut s = Settings::defaults();
        s.redis_url = Some(redis.url().to_owned());
        s.prefix = prefix.clone();
        s.projects_dir = dir.path().join(format!("projects-{i}"));
        s.cache_dir = dir.path().join(format!("cache-{i}"));
        s.key_dir = dir.path().join("keys");
        s.secrets = pockitect_secrets::Backend::File;
        s.secrets_dir = dir.path().join("secrets");
        s.aws_endpoint_url = Some(endpoint.to_owned());
        s.aws_home_region = Some("us-east-1".into());
        s.aws_static_credentials = Some(pockitect_aws::StaticCredentials {
            access_key_id: "bench".into(),
            secret_access_key: "bench".into(),
        });
        s.log_dir = None;
        s.audit_dir = Some(dir.path().join("audit"));
        s.daemon_id = format!("bench-{i}");
        if accounts > 0 {
            let list = (1..=accounts)
                .map(|a| {
                    format!(
                        "arn:aws:iam::{:012}:role/Audit",
                        100_000_000_000u64 + a as u64
                    )
                })
                .collect::<Vec<_>>()
                .join(",");
            s.accounts = pockitect_aws::accounts::parse_list(&list).unwrap();
        }
        handles.push(tokio::spawn(pockitectd::run(s, token.clone())));
    }
    let bus = Bus::connect(BusConfig::new(redis.url(), prefix))
        .await
        .unwrap();
    pockitect_testkit::eventually("the daemons' heartbeats", Duration::from_secs(60), || {
        let bus = bus.clone();
        async move { (bus.daemons().await.ok()?.len() >= n).then_some(()) }
    })
    .await;
    Fleet {
        bus,
        token,
        handles,
        _dir: dir,
    }
}

impl Fleet {
    /// One scan of the 17 regions: wall time to its terminal event, and that event.
    async fn scan(&self) -> (Duration, Envelope) {
        let started = Instant::now();
        let sent = self
            .bus
            .send(&Command::Scan(ScanArgs {
                regions: Some(REGIONS.iter().map(|r| r.to_string()).collect()),
                types: None,
            }))
            .await
            .unwrap();
        let end = terminal(&self.bus, &sent.request_id).await;
        (started.elapsed(), end)
    }

    async fn stop(self) {
        self.token.cancel();
        for h in self.handles {
            let _ = h.await;
        }
    }
}

async fn terminal(bus: &Bus, id: &RequestId) -> Envelope {
    let mut reader = bus.event_reader("0-0").await.unwrap();
    loop {
        for (_, e) in reader
            .next_batch(Duration::from_millis(200), 1000)
            .await
            .unwrap()
        {
            if e.request_id.as_ref() == Some(id) && e.is_terminal() {
                return e;
            }
        }
    }
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::var("POCKITECT_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let redis = RedisServer::start();
    let moto = MotoServer::start();
    // 150 ms a call; a call seen before is answered from the proxy's cache, so from the
    // second round on moto's own speed (about a hundred calls a second on a small machine)
    // is out of the measurement.
    let slow = ReplayProxy::start(moto.endpoint(), Duration::from_millis(150));
    println!(
        "| daemons | accounts | regions | round | wall time | scan's own duration | records | errors | AWS calls | of which to moto |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (daemons, accounts) in [(1, 0), (1, 10), (2, 10), (4, 10)] {
        let f = fleet(&redis, &slow.endpoint(), daemons, accounts).await;
        for round in 1..=rounds {
            let (calls, forwarded) = (slow.requests(), slow.forwarded());
            let (took, end) = f.scan().await;
            println!(
                "| {daemons} | {} | {} | {round} | {:.2} s | {:.2} s | {} | {} | {} | {} |",
                if accounts == 0 {
                    "1 (own)".to_owned()
                } else {
                    accounts.to_string()
                },
                REGIONS.len(),
                took.as_secs_f64(),
                end.data["duration_ms"].as_f64().unwrap_or(f64::NAN) / 1000.0,
                end.data["total"],
                end.data["errors"].as_array().map_or(0, Vec::len),
                slow.requests() - calls,
                slow.forwarded() - forwarded,
            );
        }
        f.stop().await;
    }
}
