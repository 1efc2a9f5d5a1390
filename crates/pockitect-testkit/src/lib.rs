//! Test support: starts a real `redis-server` and a real `moto_server` (the AWS emulator) on
//! free loopback ports for a test, or uses `POCKITECT_TEST_REDIS_URL` /
//! `POCKITECT_TEST_AWS_ENDPOINT` when set; gives current builds of the workspace's binaries;
//! starts a three-master Redis Cluster the same way, or uses `POCKITECT_TEST_REDIS_CLUSTER_URL`
//! ([`RedisCluster`]); polls for conditions with a deadline; puts a [`DelayProxy`] in front of a server to make it
//! as slow as the real service. A missing server is a test failure that says how to install it, never a
//! silent skip.

mod price_list;
mod proxy;
mod replay;
mod secret_service;

pub use price_list::{FakePriceList, FakeProduct};
pub use proxy::DelayProxy;
pub use replay::ReplayProxy;
pub use secret_service::SecretService;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A unique key prefix / name suffix, so tests can share servers and run in parallel.
pub fn unique(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}{}", &id[..12])
}

/// A free TCP port on 127.0.0.1 (bound, then released; callers retry on the rare collision).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("the loopback interface must be available to tests")
}

fn wait_for_port(port: u16, child: &mut Child, what: &str, log: &Path) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            let out = std::fs::read_to_string(log).unwrap_or_default();
            return Err(format!(
                "{what} exited with {status} before listening:\n{out}"
            ));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Err(format!("{what} did not listen on port {port} within 30 s"))
}

fn missing(binary: &str, install: &str) -> String {
    format!(
        "'{binary}' is not installed; tests need the real server: {install} (or run .ci/run, which installs it)"
    )
}

/// A `redis-server` owned by the test (killed on drop), or an external one.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    url: String,
    dir: tempfile::TempDir,
    persistent: bool,
}

impl RedisServer {
    /// Starts a private server without persistence (a restart comes back empty), or points at
    /// `POCKITECT_TEST_REDIS_URL` when set.
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// Starts a private server with append-only persistence, synced on every write, so a
    /// restart (even after a kill) comes back with every key as it was. Points at
    /// `POCKITECT_TEST_REDIS_URL` when set (check [`RedisServer::is_external`]).
    pub fn start_persistent() -> Self {
        Self::start_with(true)
    }

    /// Always a server of the test's own, whatever `POCKITECT_TEST_REDIS_URL` says: for tests
    /// that stop or restart it (an external server cannot be).
    pub fn start_private(persistent: bool) -> Self {
        Self::spawn_private(persistent, tempfile::tempdir().expect("temp dir for redis"))
    }

    fn start_with(persistent: bool) -> Self {
        let dir = tempfile::tempdir().expect("temp dir for redis");
        if let Ok(url) = std::env::var("POCKITECT_TEST_REDIS_URL") {
            return Self {
                child: None,
                port: 0,
                url,
                dir,
                persistent,
            };
        }
        Self::spawn_private(persistent, dir)
    }

    fn spawn_private(persistent: bool, dir: tempfile::TempDir) -> Self {
        let mut last_err = String::new();
        for _ in 0..5 {
            let port = free_port();
            match Self::spawn(port, dir.path(), persistent) {
                Ok(child) => {
                    return Self {
                        child: Some(child),
                        port,
                        url: format!("redis://127.0.0.1:{port}"),
                        dir,
                        persistent,
                    };
                }
                Err(e) => last_err = e,
            }
        }
        panic!("could not start redis-server: {last_err}");
    }

    /// True for a server the test did not start (`POCKITECT_TEST_REDIS_URL`): it cannot be
    /// stopped or restarted by the test.
    pub fn is_external(&self) -> bool {
        self.port == 0
    }

    fn spawn(port: u16, dir: &Path, persistent: bool) -> Result<Child, String> {
        let log = dir.join("redis.log");
        let persistence: &[&str] = if persistent {
            &[
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ]
        } else {
            &["--save", "", "--appendonly", "no"]
        };
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(persistence)
            .arg("--dir")
            .arg(dir)
            .arg("--logfile")
            .arg(&log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    missing("redis-server", "apt-get install redis-server")
                } else {
                    format!("spawn redis-server: {e}")
                }
            })?;
        wait_for_port(port, &mut child, "redis-server", &log)?;
        Ok(child)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops the server (as a crash would: SIGKILL). Panics for an external server.
    pub fn stop(&mut self) {
        let mut child = self
            .child
            .take()
            .expect("only a server started by the test can be stopped");
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts it again on the same port with the same data directory: empty without
    /// persistence, as it was with it ([`RedisServer::start_persistent`]). Kills it first when
    /// it runs (as a crash would).
    pub fn restart(&mut self) {
        assert!(
            !self.is_external(),
            "only a server started by the test can be restarted"
        );
        if self.child.is_some() {
            self.stop();
        }
        let child =
            Self::spawn(self.port, self.dir.path(), self.persistent).expect("restart redis-server");
        self.child = Some(child);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A Redis Cluster of three masters without replicas, each a `redis-server` of the test's own on
/// free loopback ports (killed on drop), or the cluster whose node `POCKITECT_TEST_REDIS_CLUSTER_URL`
/// names when set. Needs `redis-server` >= 7.0 (for `--cluster-port`: the default bus port, the
/// client port + 10000, is past 65535 for most free ports) and `redis-cli` (it creates the
/// cluster).
pub struct RedisCluster {
    nodes: Vec<Child>,
    ports: Vec<u16>,
    url: String,
    /// Node configs and logs; None for an external cluster.
    dir: Option<tempfile::TempDir>,
    /// Kills the nodes once this process has ended, however it ends (see [`reaper`]).
    reaper: Option<Child>,
}

/// The masters a test cluster has: the fewest Redis accepts for a cluster, so every slot
/// range, and so the hash tag of a key, can land on another node than the one a client first
/// asked.
const CLUSTER_MASTERS: usize = 3;

impl RedisCluster {
    /// Starts a private cluster and waits until every node reports `cluster_state:ok`, or
    /// points at `POCKITECT_TEST_REDIS_CLUSTER_URL` when set. Its nodes stop when it is dropped,
    /// or else when the test process ends, even when killed.
    pub fn start() -> Self {
        if let Ok(url) = std::env::var("POCKITECT_TEST_REDIS_CLUSTER_URL") {
            return Self {
                nodes: Vec::new(),
                ports: Vec::new(),
                url,
                dir: None,
                reaper: None,
            };
        }
        let mut last_err = String::new();
        for _ in 0..5 {
            let mut cluster = Self {
                nodes: Vec::new(),
                ports: Vec::new(),
                url: String::new(),
                dir: Some(tempfile::tempdir().expect("temp dir for the redis cluster")),
                reaper: None,
            };
            match cluster.spawn_nodes().and_then(|()| cluster.create()) {
                Ok(()) => {
                    cluster.url = format!("redis://127.0.0.1:{}", cluster.ports[0]);
                    return cluster;
                }
                // A port taken between choosing it and binding it: try other ports (dropping
                // `cluster` stops the nodes it started). Anything else (not installed, cannot
                // create) fails the same way again.
                Err(e) if e.retry => last_err = e.message,
                Err(e) => panic!("could not start a redis cluster: {}", e.message),
            }
        }
        panic!("could not start a redis cluster: {last_err}");
    }

    /// The cluster shared by every test of this process that asks for it: starting one takes
    /// seconds (`redis-cli --cluster create` waits for the nodes to meet), and tests keep apart
    /// by key prefix ([`unique`]). Being static it is never dropped: its nodes stop when the test
    /// process ends (see [`RedisCluster::start`]).
    pub fn shared() -> &'static Self {
        static SHARED: OnceLock<RedisCluster> = OnceLock::new();
        // A start that panics leaves the cell empty: the next test tries again.
        SHARED.get_or_init(Self::start)
    }

    /// The URL of one node (the first), as a user would give it: the client finds the rest.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL of every node the test started (empty for an external cluster).
    pub fn node_urls(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect()
    }

    /// True for a cluster the test did not start (`POCKITECT_TEST_REDIS_CLUSTER_URL`).
    pub fn is_external(&self) -> bool {
        self.ports.is_empty()
    }

    fn spawn_nodes(&mut self) -> Result<(), ClusterError> {
        let dir = match &self.dir {
            Some(d) => d.path().to_path_buf(),
            None => return Err(ClusterError::fatal("an external cluster".to_owned())),
        };
        for _ in 0..CLUSTER_MASTERS {
            let (port, bus_port) = (free_port(), free_port());
            let log = dir.join(format!("redis-{port}.log"));
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes"])
                .args(["--cluster-port", &bus_port.to_string()])
                .arg("--cluster-config-file")
                .arg(dir.join(format!("nodes-{port}.conf")))
                // Fail over late: a node slowed by a loaded test machine must not be voted out.
                .args(["--cluster-node-timeout", "15000"])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(&dir)
                .arg("--logfile")
                .arg(&log)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| {
                    ClusterError::fatal(if e.kind() == std::io::ErrorKind::NotFound {
                        missing("redis-server", "apt-get install redis-server")
                    } else {
                        format!("spawn redis-server: {e}")
                    })
                })?;
            self.nodes.push(child);
            self.ports.push(port);
            // Started before waiting, so that a node is never left behind.
            if let Some(mut old) = self.reaper.take() {
                let _ = old.kill();
                let _ = old.wait();
            }
            self.reaper = reaper(&self.nodes);
            let child = self.nodes.last_mut().expect("just pushed");
            wait_for_port(port, child, "redis-server (cluster node)", &log).map_err(|e| {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                // Redis refuses an option it does not know (`cluster-port` before 7.0).
                if log.contains("Bad directive") || log.contains("cluster-port") {
                    ClusterError::fatal(format!(
                        "{e}\nthe test cluster needs redis-server >= 7.0 (for --cluster-port)"
                    ))
                } else {
                    ClusterError::retry(e)
                }
            })?;
        }
        Ok(())
    }

    /// Gives the nodes every slot (`redis-cli --cluster create`), then waits until each one
    /// says the cluster is ok: until then a node answers `CLUSTERDOWN`.
    fn create(&mut self) -> Result<(), ClusterError> {
        let addrs: Vec<String> = self
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                ClusterError::fatal(if e.kind() == std::io::ErrorKind::NotFound {
                    missing(
                        "redis-cli",
                        "apt-get install redis-tools (redis-server's package brings it)",
                    )
                } else {
                    format!("run redis-cli --cluster create: {e}")
                })
            })?;
        if !out.status.success() {
            return Err(ClusterError::fatal(format!(
                "redis-cli --cluster create {} failed ({}):\n{}{}",
                addrs.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        for port in self.ports.clone() {
            loop {
                let info = cluster_info(port);
                let ok = info.lines().any(|l| l.trim() == "cluster_state:ok")
                    && info
                        .lines()
                        .any(|l| l.trim() == format!("cluster_known_nodes:{CLUSTER_MASTERS}"));
                if ok {
                    break;
                }
                if Instant::now() >= deadline {
                    return Err(ClusterError::fatal(format!(
                        "the redis cluster on ports {:?} did not reach cluster_state:ok within 30 s; node {port} says:\n{info}",
                        self.ports
                    )));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }
}

/// Why a cluster did not start, and whether other ports could help.
struct ClusterError {
    message: String,
    retry: bool,
}

impl ClusterError {
    fn fatal(message: String) -> Self {
        Self {
            message,
            retry: false,
        }
    }

    fn retry(message: String) -> Self {
        Self {
            message,
            retry: true,
        }
    }
}

/// A shell that waits for its standard input to close, then kills `nodes`. Its input is a pipe
/// whose writing end only this process holds (Rust opens pipes close-on-exec, so no other child
/// inherits it): the operating system closes it when this process ends, whether it returns,
/// panics or is killed. That stops the nodes of a cluster that is never dropped (a static
/// one, or any after SIGKILL). None where there is no `sh`.
fn reaper(nodes: &[Child]) -> Option<Child> {
    let pids: Vec<String> = nodes.iter().map(|c| c.id().to_string()).collect();
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cat >/dev/null; kill {} 2>/dev/null",
            pids.join(" ")
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        // The reaper first: once the nodes are gone their pids could be another process's.
        if let Some(mut r) = self.reaper.take() {
            let _ = r.kill();
            let _ = r.wait();
        }
        for mut c in self.nodes.drain(..) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A `moto_server` owned by the test (killed on drop), or an external one.
pub struct MotoServer {
    child: Option<Child>,
    endpoint: String,
    _dir: tempfile::TempDir,
}

impl MotoServer {
    /// Starts a private emulator, or points at `POCKITECT_TEST_AWS_ENDPOINT` when set.
    pub fn start() -> Self {
        if let Ok(endpoint) = std::env::var("POCKITECT_TEST_AWS_ENDPOINT") {
            return Self {
                child: None,
                endpoint,
                _dir: tempfile::tempdir().expect("temp dir for moto"),
            };
        }
        Self::start_own()
    }

    /// Starts a private emulator even when `POCKITECT_TEST_AWS_ENDPOINT` names a shared one:
    /// for tests that change the whole server's behaviour ([`MotoServer::enforce_auth`]).
    pub fn start_own() -> Self {
        let dir = tempfile::tempdir().expect("temp dir for moto");
        let mut last_err = String::new();
        for _ in 0..5 {
            let port = free_port();
            let log = dir.path().join("moto.log");
            let file = std::fs::File::create(&log).expect("moto log file");
            let spawned = Command::new("moto_server")
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(file)
                .spawn();
            let mut child = match spawned {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    panic!("{}", missing("moto_server", "pip install 'moto[server]'"))
                }
                Err(e) => panic!("spawn moto_server: {e}"),
            };
            match wait_for_port(port, &mut child, "moto_server", &log) {
                Ok(()) => {
                    return Self {
                        child: Some(child),
                        endpoint: format!("http://127.0.0.1:{port}"),
                        _dir: dir,
                    };
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_err = e;
                }
            }
        }
        panic!("could not start moto_server: {last_err}");
    }

    /// The endpoint URL to give every AWS client (`AWS_ENDPOINT_URL`).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Turns moto's IAM authentication on (every request must be signed with keys of an IAM
    /// user that exists in moto and whose policies allow the action: bad keys are refused with
    /// `InvalidClientTokenId`) or off (any keys pass, moto's default). Moto's
    /// `INITIAL_NO_AUTH_ACTION_COUNT`, set at run time through `/moto-api/reset-auth`, so a
    /// test can create its users first. Only on a server of its own ([`MotoServer::start_own`]).
    pub fn enforce_auth(&self, on: bool) {
        use std::io::{Read, Write};
        assert!(
            self.child.is_some(),
            "enforce_auth changes the whole server: start it with MotoServer::start_own"
        );
        let body = if on { "0" } else { "inf" };
        let addr = self.endpoint.trim_start_matches("http://");
        let mut c = TcpStream::connect(addr).expect("connect to moto");
        write!(
            c,
            "POST /moto-api/reset-auth HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("ask moto");
        let mut answer = String::new();
        c.read_to_string(&mut answer).expect("moto's answer");
        assert!(
            answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"),
            "moto refused reset-auth: {answer}"
        );
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Sets the fake credentials moto accepts, for code that reads the standard AWS chain.
pub fn fake_aws_env(cmd: &mut Command, endpoint: &str) {
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env_remove("AWS_PROFILE");
}

/// Path of a binary of this workspace (`pockitectd`, `pockitect`, `pockitect-tui`), current with
/// its sources. A test crate does not depend on other packages' binaries, so `cargo test -p
/// pockitect-e2e` alone would otherwise run whatever binaries an earlier build left. The first
/// call in a test process therefore runs `cargo test --workspace --no-run` (which builds every
/// binary) with the profile and target directory of the running test; when everything is
/// current that is cargo's freshness check alone (about a second). Cargo holds its build lock only while compiling, not
/// while tests run, so this build does not wait on the `cargo test` that started the test.
/// Outside cargo (`CARGO` unset: a test executable run by hand) the binaries found are used.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let exe = std::env::current_exe().expect("current test executable");
    // target[/<triple>]/<profile>/deps/<test> -> target[/<triple>]/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps")
        .to_path_buf();
    if let Err(e) = BUILT.get_or_init(|| build_binaries(&dir)) {
        panic!("{e}");
    }
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "binary '{}' not found after building the workspace's binaries: is '{name}' a binary of this workspace?",
        path.display()
    );
    path
}

/// Builds every binary of the workspace into the profile directory `dir` of the running test.
fn build_binaries(dir: &Path) -> Result<(), String> {
    let Some(cargo) = std::env::var_os("CARGO") else {
        return Ok(());
    };
    let (target_dir, triple) = target_of(dir)?;
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let mut cmd = Command::new(&cargo);
    // What `cargo test --workspace` builds, binaries included, so the usual run finds it all
    // fresh. A build of the binaries alone (`cargo build --bins`, or `-p pockitectd`) resolves
    // features without the dev-dependencies' and compiles the AWS SDK again for minutes.
    cmd.args([
        "test",
        "--workspace",
        "--no-run",
        "--locked",
        "--manifest-path",
    ])
    .arg(&manifest)
    .arg("--target-dir")
    .arg(target_dir);
    match dir.file_name().and_then(|n| n.to_str()) {
        // `target/debug` holds the default test profile's build: no flag.
        Some("debug") => {}
        Some(profile) => {
            cmd.args(["--profile", profile]);
        }
        None => return Err(format!("no profile in '{}'", dir.display())),
    }
    if let Some(t) = triple {
        cmd.args(["--target", t]);
    }
    // What cargo set for this test (its package's name, paths, …) is not for the build; the
    // user's own cargo settings (CARGO_HOME, CARGO_BUILD_*, …) stay.
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if key == "OUT_DIR"
            || key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_BIN_")
            || matches!(
                key,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_TARGET_TMPDIR"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_RUSTC_CURRENT_DIR"
            )
        {
            cmd.env_remove(key);
        }
    }
    let out = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| {
            format!(
                "could not run '{}' to build the binaries: {e}",
                cargo.to_string_lossy()
            )
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "building the workspace's binaries for the tests failed ({}); fix the build, then run the tests again:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The target directory above a profile directory, and the target triple when the build was
/// for an explicit `--target` (`target/<triple>/<profile>`). The target directory is the one
/// holding cargo's `CACHEDIR.TAG`.
fn target_of(dir: &Path) -> Result<(&Path, Option<&str>), String> {
    let parent = dir
        .parent()
        .ok_or_else(|| format!("no target directory above '{}'", dir.display()))?;
    if parent.join("CACHEDIR.TAG").exists() {
        return Ok((parent, None));
    }
    match (parent.parent(), parent.file_name().and_then(|n| n.to_str())) {
        (Some(root), Some(triple)) if root.join("CACHEDIR.TAG").exists() => {
            Ok((root, Some(triple)))
        }
        _ => Err(format!(
            "'{}' is not inside a cargo target directory",
            dir.display()
        )),
    }
}

/// Polls `check` until it returns Some or `timeout` passes (then panics naming `what`).
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The test data kept in the repository (`tests/fixtures`: the earlier Pockitect's blueprints).
pub fn fixtures() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    assert!(
        dir.exists(),
        "fixtures missing at '{}': they are part of the repository; restore them with git",
        dir.display()
    );
    dir
}

/// `CLUSTER INFO` of the node on `port` (empty when redis-cli cannot ask it).
fn cluster_info(port: u16) -> String {
    Command::new("redis-cli")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "cluster",
            "info",
        ])
        .stdin(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_cluster_is_three_masters_sharing_every_slot_and_goes_with_its_owner() {
        let cluster = RedisCluster::start();
        if cluster.is_external() {
            return;
        }
        let ports = cluster.ports.clone();
        assert_eq!(ports.len(), 3);
        assert_eq!(cluster.url(), format!("redis://127.0.0.1:{}", ports[0]));
        for port in &ports {
            let info = cluster_info(*port);
            for line in [
                "cluster_state:ok",
                "cluster_slots_assigned:16384",
                "cluster_size:3",
            ] {
                assert!(info.lines().any(|l| l.trim() == line), "{port}: {info}");
            }
        }
        drop(cluster);
        for port in ports {
            assert!(
                TcpStream::connect(("127.0.0.1", port)).is_err(),
                "node {port} still listens after the cluster was dropped"
            );
        }
    }

    #[test]
    fn the_reaper_kills_when_its_input_closes_as_at_the_end_of_the_process() {
        let mut sleeper = Command::new("sleep").arg("60").spawn().expect("sleep runs");
        let mut reaper = reaper(std::slice::from_ref(&sleeper)).expect("sh runs");
        // Still running while the pipe is open.
        std::thread::sleep(Duration::from_millis(100));
        assert!(sleeper.try_wait().unwrap().is_none());
        // What the end of this process does to the pipe.
        drop(reaper.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while sleeper.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "the reaper did not kill its node"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = reaper.wait();
    }
}
