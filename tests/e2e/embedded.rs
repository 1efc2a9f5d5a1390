//! Zero configuration: with no Redis configured and nothing answering on the default address, a
//! daemon starts a private redis-server (unix socket, append-only file in the state directory),
//! the CLI finds it through the runtime file with nothing set, and it stops with the daemon.
//! Several daemons share it. An explicitly configured Redis never starts one.
//!
//! Every process here gets its own runtime, state and config directories and a default address
//! nothing listens on, so what runs on the test machine's port 6379 does not matter.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use pockitect_testkit::{MotoServer, RedisServer, binary, fake_aws_env, free_port, unique};

use crate::Daemon;

const LONG: Duration = Duration::from_secs(30);

/// A user's machine with nothing configured: fresh XDG directories, no POCKITECT_REDIS_URL,
/// and a default address nothing answers on (unless a test says otherwise).
pub struct Zero {
    pub dir: tempfile::TempDir,
    pub moto: MotoServer,
    pub prefix: String,
    pub default_url: String,
}

impl Zero {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            moto: MotoServer::start(),
            prefix: unique("zero"),
            default_url: format!("redis://127.0.0.1:{}", free_port()),
        }
    }

    pub fn runtime_dir(&self) -> PathBuf {
        self.dir.path().join("run/pockitect")
    }

    pub fn runtime_file(&self) -> PathBuf {
        self.runtime_dir().join("redis.url")
    }

    pub fn socket(&self) -> PathBuf {
        self.runtime_dir().join("redis.sock")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("state/pockitect/redis")
    }

    /// The environment of a user who configured nothing.
    pub fn env(&self, cmd: &mut Command) {
        let d = self.dir.path();
        cmd.env_remove("POCKITECT_REDIS_URL")
            .env_remove("POCKITECT_CONFIG")
            .env("XDG_RUNTIME_DIR", d.join("run"))
            .env("XDG_STATE_HOME", d.join("state"))
            .env("XDG_CONFIG_HOME", d.join("config"))
            .env("POCKITECT_DEFAULT_REDIS_URL", &self.default_url)
            .env("POCKITECT_PREFIX", &self.prefix)
            .env("POCKITECT_SECRETS", "file")
            .env("POCKITECT_SECRETS_DIR", d.join("secrets"));
    }

    /// A daemon started with nothing about Redis set (plus `extra`); killed on drop.
    pub fn daemon(&self, name: &str, extra: &[(&str, &str)]) -> Daemon {
        let d = self.dir.path();
        let log = d.join(format!("{name}.log"));
        let mut cmd = Command::new(binary("pockitectd"));
        fake_aws_env(&mut cmd, self.moto.endpoint());
        self.env(&mut cmd);
        cmd.env("POCKITECT_LOG", "info")
            .args(["--workers", "2", "--daemon-id", name])
            .args(["--heartbeat-secs", "0.5", "--refresh-interval", "0"])
            .arg("--projects-dir")
            .arg(d.join("projects"))
            .arg("--cache-dir")
            .arg(d.join("cache"))
            .arg("--log-dir")
            .arg(d.join("logs"))
            .arg("--audit-dir")
            .arg(d.join("audit"))
            .arg("--key-dir")
            .arg(d.join("keys"))
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        Daemon {
            child: cmd.spawn().expect("spawn pockitectd"),
            log,
        }
    }

    pub fn cli(&self) -> Command {
        let mut c = Command::new(binary("pockitect"));
        self.env(&mut c);
        c
    }

    /// Waits for the runtime file and returns the URL it names.
    pub fn wait_runtime_file(&self, d: &mut Daemon) -> String {
        poll("the runtime file", LONG, d, |_| {
            std::fs::read_to_string(self.runtime_file())
                .ok()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        })
    }

    /// `pockitect doctor --json` once it lists every daemon in `names`.
    fn doctor_listing(&self, names: &[&str], d: &mut Daemon) -> (ExitStatus, serde_json::Value) {
        poll("doctor to list the daemons", LONG, d, |_| {
            let out = self.cli().args(["doctor", "--json"]).output().unwrap();
            let doc: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
            let ids: Vec<&str> = doc["daemons"]
                .as_array()?
                .iter()
                .filter_map(|d| d["id"].as_str())
                .collect();
            names
                .iter()
                .all(|n| ids.contains(n))
                .then(|| (out.status, doc.clone()))
        })
    }
}

impl Drop for Zero {
    /// A failed test may leave a private server behind (its daemons are SIGKILLed on drop, and
    /// a killed daemon leaves its server for the next one): stop it.
    fn drop(&mut self) {
        let url = pockitect_bus::local::unix_url(&self.socket());
        if let Ok(mut con) = redis::Client::open(url).and_then(|c| c.get_connection()) {
            let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").exec(&mut con);
        }
    }
}

/// Polls `check` every 50 ms until it returns Some; panics after `timeout`, or at once when
/// the daemon exits meanwhile, with the daemon's log.
fn poll<T>(
    what: &str,
    timeout: Duration,
    d: &mut Daemon,
    mut check: impl FnMut(&Daemon) -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check(d) {
            return v;
        }
        if let Ok(Some(status)) = d.child.try_wait() {
            panic!(
                "the daemon exited ({status}) while waiting for {what}:\n{}",
                log(d)
            );
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}:\n{}",
            log(d)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn log(d: &Daemon) -> String {
    std::fs::read_to_string(&d.log).unwrap_or_default()
}

/// Sends SIGTERM (as systemd and `kill` do) and waits for the daemon to exit.
fn terminate(d: &mut Daemon) -> ExitStatus {
    let sent = Command::new("kill")
        .args(["-TERM", &d.child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -TERM failed");
    wait_exit(d)
}

fn wait_exit(d: &mut Daemon) -> ExitStatus {
    let deadline = Instant::now() + LONG;
    loop {
        if let Some(s) = d.child.try_wait().unwrap() {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "the daemon did not exit:\n{}",
            log(d)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_gone(what: &str, mut gone: impl FnMut() -> bool) {
    let deadline = Instant::now() + LONG;
    while !gone() {
        assert!(Instant::now() < deadline, "{what} is still there");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn config_get(con: &mut redis::Connection, name: &str) -> String {
    let pair: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg(name)
        .query(con)
        .unwrap();
    pair.get(1).cloned().unwrap_or_default()
}

/// The pid of the redis-server at `url`.
fn server_pid(url: &str) -> u32 {
    let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
    let info: String = redis::cmd("INFO").arg("server").query(&mut con).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|p| p.trim().parse().ok())
        .expect("INFO server names the process id")
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn a_daemon_with_no_redis_configured_starts_its_own_and_the_cli_reaches_it() {
    let z = Zero::new();
    let mut d = z.daemon("solo", &[]);

    // The private server is up and announced in a file only this user can read.
    let url = z.wait_runtime_file(&mut d);
    assert_eq!(url, pockitect_bus::local::unix_url(&z.socket()));
    assert_eq!(mode(&z.runtime_file()), 0o600);
    assert_eq!(mode(&z.runtime_dir()), 0o700);
    assert_eq!(mode(&z.socket()), 0o700);

    // The CLI, with nothing set, finds it and the daemon on it.
    let (status, doc) = z.doctor_listing(&["solo"], &mut d);
    assert!(status.success(), "{doc:#}");
    assert_eq!(doc["redis"]["source"], "private", "{doc:#}");
    assert_eq!(doc["redis"]["url"], url.as_str());
    assert_eq!(
        doc["redis"]["runtime_file"],
        z.runtime_file().display().to_string()
    );
    assert_eq!(doc["redis"]["ok"], true);
    // A 0700 socket in a 0700 directory is nobody else's to open.
    assert!(doc["redis"]["warning"].is_null(), "{doc:#}");
    let text = z.cli().arg("doctor").output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("the daemon's private redis-server"), "{text}");

    // `pockitect scan` works with nothing else set.
    let scan = z
        .cli()
        .args(["scan", "--regions", "us-east-1", "--json"])
        .output()
        .unwrap();
    assert!(
        scan.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&scan.stderr),
        log(&d)
    );
    let events = crate::json_lines(&scan);
    let last = events.last().expect("the scan printed events");
    assert_eq!(last["type"], "scan_complete", "{last}");

    // Persistence on, in the state directory; no TCP port.
    let mut con = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    assert_eq!(config_get(&mut con, "appendonly"), "yes");
    assert_eq!(config_get(&mut con, "port"), "0");
    assert_eq!(
        PathBuf::from(config_get(&mut con, "dir")),
        z.data_dir().canonicalize().unwrap()
    );
    let _: () = redis::cmd("SET")
        .arg("zero:kept")
        .arg("across restarts")
        .query(&mut con)
        .unwrap();
    drop(con);
    let pid = server_pid(&url);
    // The daemon's AWS keys stay with the daemon.
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    assert!(
        !String::from_utf8_lossy(&environ).contains("AWS_SECRET_ACCESS_KEY"),
        "redis-server got the daemon's environment"
    );

    // SIGTERM: the daemon stops, and its server and runtime file go with it.
    let status = terminate(&mut d);
    assert!(status.success(), "{status}:\n{}", log(&d));
    wait_gone("the private redis-server", || {
        !Path::new(&format!("/proc/{pid}")).exists()
    });
    assert!(!z.runtime_file().exists(), "the runtime file stayed");
    assert!(!z.socket().exists(), "the socket stayed");
    let stopped = log(&d);
    assert!(
        stopped.contains("private redis-server stopped"),
        "{stopped}"
    );

    // The next daemon starts it again on the same data: nothing was lost.
    let mut d = z.daemon("again", &[]);
    let url = z.wait_runtime_file(&mut d);
    let mut con = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let kept: Option<String> = redis::cmd("GET").arg("zero:kept").query(&mut con).unwrap();
    assert_eq!(kept.as_deref(), Some("across restarts"));
    drop(con);
    assert!(terminate(&mut d).success(), "{}", log(&d));
    assert!(!z.runtime_file().exists());
}

#[tokio::test]
async fn two_daemons_share_one_private_server_and_the_last_to_leave_stops_it() {
    let z = Zero::new();
    let mut first = z.daemon("first", &[]);
    let url = z.wait_runtime_file(&mut first);
    let pid = server_pid(&url);
    let mut second = z.daemon("second", &[]);
    let (_, doc) = z.doctor_listing(&["first", "second"], &mut second);
    assert_eq!(doc["redis"]["source"], "private", "{doc:#}");
    assert_eq!(server_pid(&url), pid, "one server for both");
    assert!(log(&second).contains("sharing it"), "{}", log(&second));

    // The one that started it leaves: the server stays for the other, which takes it over.
    assert!(terminate(&mut first).success(), "{}", log(&first));
    assert!(
        log(&first).contains("leaving it running"),
        "{}",
        log(&first)
    );
    poll("the second daemon to take over", LONG, &mut second, |d| {
        log(d).contains("took over").then_some(())
    });
    assert_eq!(server_pid(&url), pid, "the same server goes on");
    assert!(z.runtime_file().exists());

    // The last one leaves: the server stops.
    assert!(terminate(&mut second).success(), "{}", log(&second));
    wait_gone("the private redis-server", || {
        !Path::new(&format!("/proc/{pid}")).exists()
    });
    assert!(!z.runtime_file().exists());
}

#[tokio::test]
async fn an_explicit_redis_url_never_starts_a_private_server() {
    let z = Zero::new();
    let nowhere = format!("redis://127.0.0.1:{}", free_port());
    let mut d = z.daemon("explicit", &[("POCKITECT_REDIS_URL", &nowhere)]);
    // It waits for the Redis it was given, as it always did.
    poll("the daemon to wait for its Redis", LONG, &mut d, |d| {
        log(d).contains("waiting for redis").then_some(())
    });
    assert!(d.child.try_wait().unwrap().is_none(), "it keeps waiting");
    assert!(!z.runtime_file().exists());
    assert!(!z.socket().exists());
    assert!(!z.data_dir().exists());
    assert!(log(&d).contains("source=\"explicit\""), "{}", log(&d));
    assert!(terminate(&mut d).success(), "{}", log(&d));
}

#[tokio::test]
async fn a_redis_answering_on_the_default_address_is_used_and_no_private_server_starts() {
    let mut z = Zero::new();
    let redis = RedisServer::start_private(false);
    z.default_url = redis.url().to_owned();
    let mut d = z.daemon("on-default", &[]);
    let (status, doc) = z.doctor_listing(&["on-default"], &mut d);
    assert!(status.success(), "{doc:#}");
    assert_eq!(doc["redis"]["source"], "default", "{doc:#}");
    assert_eq!(doc["redis"]["url"], redis.url());
    assert!(!z.runtime_file().exists());
    assert!(!z.data_dir().exists());
    assert!(terminate(&mut d).success(), "{}", log(&d));
}

#[tokio::test]
async fn without_redis_server_installed_the_daemon_says_how_to_get_a_redis() {
    let z = Zero::new();
    // A PATH with no redis-server on it.
    let empty = tempfile::tempdir().unwrap();
    let path = empty.path().display().to_string();
    let mut d = z.daemon("no-redis", &[("PATH", &path)]);
    let status = wait_exit(&mut d);
    assert!(!status.success());
    let out = log(&d);
    assert!(out.contains("'redis-server' is not installed"), "{out}");
    assert!(out.contains("apt-get install redis-server"), "{out}");
    assert!(out.contains("POCKITECT_REDIS_URL"), "{out}");
    assert!(!z.runtime_file().exists());
}

#[test]
fn with_no_redis_anywhere_the_cli_names_both_places_and_what_to_do() {
    let z = Zero::new();
    let out = z.cli().arg("projects").output().unwrap();
    assert_eq!(out.status.code(), Some(pockitect_proto::exit::UNAVAILABLE));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&z.runtime_file().display().to_string()),
        "{err}"
    );
    assert!(err.contains(&z.default_url), "{err}");
    assert!(err.contains("'pockitectd'"), "{err}");
    assert!(err.contains("POCKITECT_REDIS_URL"), "{err}");
}
