//! The daemon driven in-process through `run`, against a real redis-server and moto_server.

mod accounts;
mod audit;
mod cost;
mod login;
mod refresh;
mod requests;
mod restart;
mod robustness;
mod secrets;
mod watcher;

use std::time::Duration;

use pockitect_bus::{Bus, BusConfig};
use pockitect_proto::{Envelope, RequestId};
use pockitect_testkit::{MotoServer, RedisServer, unique};
use pockitectd::Settings;
use tokio_util::sync::CancellationToken;

pub struct Harness {
    pub redis: RedisServer,
    pub moto: MotoServer,
    pub bus: Bus,
    pub token: CancellationToken,
    pub handle: tokio::task::JoinHandle<anyhow::Result<()>>,
    /// What the daemon was started with (another daemon of the same pool: change `daemon_id`).
    pub settings: Settings,
    pub _dir: tempfile::TempDir,
}

impl Harness {
    pub async fn start(workers: usize) -> Self {
        Self::start_with(RedisServer::start(), workers, |_, _| {}).await
    }

    /// A daemon on `redis`, its settings adjusted by `tweak` (which sees the emulator, e.g. to
    /// put a `DelayProxy` in front of it).
    pub async fn start_with(
        redis: RedisServer,
        workers: usize,
        tweak: impl FnOnce(&mut Settings, &MotoServer),
    ) -> Self {
        let moto = MotoServer::start();
        let dir = tempfile::tempdir().unwrap();
        let prefix = unique("t");
        let mut s = Settings::defaults();
        s.redis_url = Some(redis.url().to_owned());
        s.prefix = prefix.clone();
        s.workers = workers;
        s.projects_dir = dir.path().join("projects");
        s.cache_dir = dir.path().join("cache");
        s.key_dir = dir.path().join("keys");
        s.secrets = pockitect_secrets::Backend::File;
        s.secrets_dir = dir.path().join("secrets");
        s.aws_endpoint_url = Some(moto.endpoint().to_owned());
        s.aws_home_region = Some("us-east-1".into());
        s.aws_static_credentials = Some(pockitect_aws::StaticCredentials {
            access_key_id: "testing".into(),
            secret_access_key: "testing".into(),
        });
        s.lease = Duration::from_secs(3);
        s.heartbeat = Duration::from_millis(300);
        s.grace = Duration::from_secs(2);
        s.log_dir = None;
        s.audit_dir = Some(dir.path().join("audit"));
        s.daemon_id = unique("d");
        tweak(&mut s, &moto);
        let token = CancellationToken::new();
        let handle = tokio::spawn(pockitectd::run(s.clone(), token.clone()));
        let bus = Bus::connect(BusConfig::new(redis.url(), prefix))
            .await
            .unwrap();
        pockitect_testkit::eventually("the daemon's heartbeat", Duration::from_secs(20), || {
            let bus = bus.clone();
            async move { (!bus.daemons().await.ok()?.is_empty()).then_some(()) }
        })
        .await;
        Self {
            redis,
            moto,
            bus,
            token,
            handle,
            settings: s,
            _dir: dir,
        }
    }

    /// Starts another daemon of the same pool (same Redis, prefix and projects).
    pub fn spawn_daemon(
        &self,
    ) -> (
        CancellationToken,
        tokio::task::JoinHandle<anyhow::Result<()>>,
    ) {
        let mut s = self.settings.clone();
        s.daemon_id = unique("d");
        let token = CancellationToken::new();
        (token.clone(), tokio::spawn(pockitectd::run(s, token)))
    }
}

/// Follows the replay stream from its start until `id`'s terminal event (reconnecting when
/// Redis restarts, as a client does).
pub async fn terminal_of(bus: &Bus, id: &RequestId, within: Duration) -> Envelope {
    let mut reader = bus.event_reader("0-0").await.unwrap();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no terminal event for {id} within {within:?}"
        );
        match reader.next_batch(Duration::from_millis(500), 100).await {
            Ok(batch) => {
                for (_, e) in batch {
                    if e.request_id.as_ref() == Some(id) && e.is_terminal() {
                        return e;
                    }
                }
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Every event of `id` in the replay stream, oldest first. Retried: after a Redis restart the
/// first command on a shared connection fails while it reconnects.
pub async fn events_of(bus: &Bus, id: &RequestId) -> Vec<Envelope> {
    pockitect_testkit::eventually("the replay stream", Duration::from_secs(10), || {
        let bus = bus.clone();
        async move { bus.events_after("0-0", 100_000).await.ok() }
    })
    .await
    .into_iter()
    .map(|(_, e)| e)
    .filter(|e| e.request_id.as_ref() == Some(id))
    .collect()
}

/// Waits until a daemon of the pool reports `id` in flight (or, with `false`, no longer).
pub async fn wait_in_flight(bus: &Bus, id: &RequestId, running: bool) {
    let what = format!(
        "request {id} {}",
        if running {
            "in flight"
        } else {
            "no longer in flight"
        }
    );
    pockitect_testkit::eventually(&what, Duration::from_secs(20), || {
        let bus = bus.clone();
        let id = id.clone();
        async move {
            let seen = bus
                .daemons()
                .await
                .ok()?
                .iter()
                .any(|d| d.in_flight.iter().any(|f| f.request_id == id));
            (seen == running).then_some(())
        }
    })
    .await;
}

/// Sends `dry` (the dry run of a destructive command), then `real` carrying the digest of the
/// plan the dry run answered, as a client that shows the plan and sends what was confirmed.
pub async fn send_approved(
    bus: &Bus,
    dry: &pockitect_proto::Command,
    real: &pockitect_proto::Command,
) -> pockitect_bus::Sent {
    let plan = bus.send(dry).await.unwrap();
    let t = terminal_of(bus, &plan.request_id, Duration::from_secs(60)).await;
    assert_eq!(
        t.status,
        Some(pockitect_proto::Status::Success),
        "the dry run failed: {t:?}"
    );
    let digest = pockitect_proto::PlanDigest::parse(t.data["plan_digest"].as_str().unwrap())
        .expect("a dry run answers its plan's digest");
    let approval = pockitect_proto::Approval {
        plan_digest: Some(digest),
        override_policy: false,
    };
    bus.send_approved(real, Some(approval)).await.unwrap()
}

/// Runs a Python script (boto3 against the harness's moto, as the tests write them) and reads
/// what it prints as JSON (null when it prints nothing). A failing script fails the test with
/// its stderr.
pub fn python(script: &str) -> serde_json::Value {
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return serde_json::Value::Null;
    }
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "the script printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The password in the Secrets Manager secret RDS manages for DB instance `db_id` (us-east-1),
/// read with boto3 straight from the harness's moto, not through the daemon.
pub fn managed_password(h: &Harness, db_id: &str) -> String {
    let v = python(&format!(
        r#"
import boto3, json
kw = dict(region_name='us-east-1', endpoint_url='{}', aws_access_key_id='testing', aws_secret_access_key='testing')
db = boto3.client('rds', **kw).describe_db_instances(DBInstanceIdentifier='{db_id}')['DBInstances'][0]
arn = db['MasterUserSecret']['SecretArn']
s = boto3.client('secretsmanager', **kw).get_secret_value(SecretId=arn)['SecretString']
print(json.dumps(json.loads(s)['password']))
"#,
        h.moto.endpoint()
    ));
    v.as_str().expect("the secret has a password").to_owned()
}
