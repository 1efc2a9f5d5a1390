//! End to end: real `pockitectd` processes, the real `pockitect` CLI, a real redis-server and a
//! real moto_server, all started here on free ports.

mod bounded;
mod bus;
mod deploy;
mod embedded;
mod errors;
mod fleet;
mod login;
mod ownership;
mod scan;
mod secrets;
mod tui;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use pockitect_bus::{Bus, BusConfig};
use pockitect_proto::{Envelope, RequestId};
use pockitect_testkit::{MotoServer, RedisServer, binary, fake_aws_env, unique};

pub struct Env {
    pub redis: RedisServer,
    pub moto: MotoServer,
    pub prefix: String,
    pub dir: tempfile::TempDir,
    pub bus: Bus,
}

impl Env {
    pub async fn new() -> Self {
        let redis = RedisServer::start();
        let moto = MotoServer::start();
        let prefix = unique("e2e");
        let bus = Bus::connect(BusConfig::new(redis.url(), prefix.clone()))
            .await
            .unwrap();
        Self {
            redis,
            moto,
            prefix,
            dir: tempfile::tempdir().unwrap(),
            bus,
        }
    }

    /// Seeds moto with one of every resource type per region, tagged for `project`
    /// (scripts/seed_moto.py, boto3), and returns the ids it created per region and type.
    pub fn seed(&self, regions: &str, project: &str) -> serde_json::Value {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/seed_moto.py");
        let endpoint = self.moto.endpoint();
        python_json(
            "seeding",
            &[
                script,
                "--endpoint",
                endpoint,
                "--regions",
                regions,
                "--project",
                project,
            ],
        )
    }

    /// Starts a daemon process talking to moto; killed on drop.
    pub fn daemon(&self, name: &str, workers: usize) -> Daemon {
        self.daemon_via(name, workers, self.moto.endpoint())
    }

    /// Starts a daemon process that sends its AWS calls to `aws_endpoint` (a `DelayProxy` in
    /// front of moto, say); killed on drop.
    pub fn daemon_via(&self, name: &str, workers: usize, aws_endpoint: &str) -> Daemon {
        self.daemon_with(name, workers, aws_endpoint, &[])
    }

    /// As [`Env::daemon_via`], with extra environment (a test keyring's D-Bus address, …).
    pub fn daemon_with(
        &self,
        name: &str,
        workers: usize,
        aws_endpoint: &str,
        env: &[(&str, String)],
    ) -> Daemon {
        let log = self.dir.path().join(format!("{name}.log"));
        let mut cmd = Command::new(binary("pockitectd"));
        fake_aws_env(&mut cmd, aws_endpoint);
        cmd.env("POCKITECT_REDIS_URL", self.redis.url())
            .env("POCKITECT_PREFIX", &self.prefix)
            .env("POCKITECT_LOG", "info")
            .args(["--workers", &workers.to_string(), "--daemon-id", name])
            .args(["--lease-secs", "2", "--heartbeat-secs", "0.5"])
            .arg("--projects-dir")
            .arg(self.dir.path().join("projects"))
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .arg("--log-dir")
            .arg(self.dir.path().join("logs"))
            .arg("--audit-dir")
            .arg(self.dir.path().join("audit"))
            .arg("--key-dir")
            .arg(self.dir.path().join("keys"))
            // Never the keyring of the machine running the tests; the keyring test opts in.
            .env("POCKITECT_SECRETS", "file")
            .arg("--secrets-dir")
            .arg(self.dir.path().join("secrets"))
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        Daemon {
            child: cmd.spawn().expect("spawn pockitectd"),
            log,
        }
    }

    pub fn cli(&self) -> Command {
        let mut c = Command::new(binary("pockitect"));
        c.env("POCKITECT_REDIS_URL", self.redis.url())
            .env("POCKITECT_PREFIX", &self.prefix)
            .env("POCKITECT_SECRETS", "file")
            .env("POCKITECT_SECRETS_DIR", self.dir.path().join("secrets"));
        c
    }

    /// Writes `doc` to `file` in the test directory and deploys it with `--yes --json`.
    pub fn deploy_file(&self, doc: &serde_json::Value, file: &str) -> std::process::Output {
        let path = self.dir.path().join(file);
        std::fs::write(&path, serde_json::to_string_pretty(doc).unwrap()).unwrap();
        self.cli()
            .arg("deploy")
            .arg(&path)
            .args(["--yes", "--json"])
            .output()
            .unwrap()
    }

    pub async fn wait_daemons(&self, n: usize) {
        pockitect_testkit::eventually(&format!("{n} daemons"), Duration::from_secs(30), || {
            let bus = self.bus.clone();
            async move { (bus.daemons().await.ok()?.len() >= n).then_some(()) }
        })
        .await;
    }

    /// Every event in the replay stream, as one JSON text (to search for what must not be there).
    pub async fn events_text(&self) -> String {
        let all: Vec<Envelope> = self
            .bus
            .events_after("0-0", 100_000)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, e)| e)
            .collect();
        serde_json::to_string(&all).unwrap()
    }

    /// Panics naming the file when any file under the test directory holds `secret`.
    pub fn assert_no_file_holds(&self, secret: &str, what: &str) {
        for entry in secrets::walk(self.dir.path()) {
            let bytes = std::fs::read(&entry).unwrap_or_default();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(secret),
                "{what} found in {}",
                entry.display()
            );
        }
    }

    /// Every event of `id` in the replay stream, waiting until the terminal one.
    pub async fn events_of(&self, id: &RequestId, timeout: Duration) -> Vec<Envelope> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let all: Vec<Envelope> = self
                .bus
                .events_after("0-0", 100_000)
                .await
                .unwrap()
                .into_iter()
                .map(|(_, e)| e)
                .filter(|e| e.request_id.as_ref() == Some(id))
                .collect();
            if all.iter().any(Envelope::is_terminal) {
                return all;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "request {id} did not finish in {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

pub struct Daemon {
    pub child: Child,
    pub log: PathBuf,
}

impl Daemon {
    pub fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The events a CLI run with `--json` printed, one JSON object per line.
pub fn json_lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Runs `python3 ARGS…` (boto3 scripts against moto) and parses the JSON it prints; `what`
/// names the step in the failure.
pub fn python_json(what: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new("python3")
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{what} printed no JSON: {e}"))
}
