//! The daemon's private `redis-server`, for when no Redis is configured and none answers on the
//! default address: one per user, on a unix socket in the runtime directory (no TCP port,
//! socket 0700), with its append-only file in the state directory, so nothing needs setting up
//! and nothing is lost across restarts. `pockitect_bus::local` says where it lives and how
//! clients find it (the runtime file this module writes once the server answers).
//!
//! Several daemons of one user share the server. Two `flock`s in the runtime directory keep
//! that straight even when a daemon is killed (the kernel drops a dead process's locks):
//! - `redis.lock`, exclusive: held by the daemon that owns the server (started it, or took over
//!   one left running). Others try to take it every second; whoever gets it adopts the server
//!   if it still answers or starts it again (same socket, same data) if not, so a server that
//!   dies is restarted and clients reconnect to the same address.
//! - `redis.users`, shared by every daemon using the server. The owner stops the server on
//!   exit only when it can lock this file exclusively, i.e. when no other daemon uses it;
//!   otherwise it leaves the server running and one of the others takes it over.
//!
//! A third lock in the data directory keeps two servers off one append-only file should two
//! daemons see different runtime directories (one with `XDG_RUNTIME_DIR`, one without).
//!
//! The server runs in a process group of its own, so a Ctrl-C in the daemon's terminal reaches
//! the daemon only: the daemon finishes its work through Redis first, then stops the server
//! (`SHUTDOWN`, which syncs the append-only file). A daemon killed outright (SIGKILL) leaves
//! the server running; the next daemon takes it over.

use std::fs::{File, TryLockError};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use pockitect_bus::local::{self, Locator};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Exclusive: the owner of the server. In the runtime directory.
const OWNER_LOCK: &str = "redis.lock";
/// Shared by every daemon using the server. In the runtime directory.
const USERS_LOCK: &str = "redis.users";
/// Exclusive: the one server using this data directory.
const DATA_LOCK: &str = "pockitect.lock";
/// Loading a large append-only file takes a while; a server that neither answers nor exits
/// in this time is stuck.
const READY_WITHIN: Duration = Duration::from_secs(60);
/// How long a stopping server gets before it is killed.
const STOP_WITHIN: Duration = Duration::from_secs(15);
/// How often a daemon checks that the server is still there (and tries to own it if not).
const WATCH_EVERY: Duration = Duration::from_secs(1);
const WATCH_MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The private server as this daemon uses it. Call [`PrivateRedis::stop`] on the way out.
pub struct PrivateRedis {
    locator: Locator,
    owned: Arc<Mutex<Option<Owned>>>,
    /// This daemon's share of `redis.users`, held while it runs.
    users: Option<File>,
    stop: CancellationToken,
    watch: Option<JoinHandle<()>>,
}

/// Ownership of the server: the locks, and the process when this daemon started it.
struct Owned {
    _owner: File,
    _data: File,
    /// None for a server taken over from a daemon that has gone.
    child: Option<Child>,
}

impl PrivateRedis {
    /// The URL of the private server (a unix socket).
    pub fn url(&self) -> String {
        self.locator.private_url()
    }

    /// Joins this user's private server, starting it when nobody runs it; returns once this
    /// daemon owns a server that answers, or another daemon owns it (that one is starting or
    /// serving it). None when `shutdown` came first.
    pub async fn start(
        locator: Locator,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Option<Self>> {
        locator.prepare_runtime_dir()?;
        locator.prepare_data_dir()?;
        let Some(users) = share(&locator.runtime_dir.join(USERS_LOCK), shutdown).await? else {
            return Ok(None);
        };
        let first = match try_own(&locator, shutdown).await {
            Ok(owned) => owned,
            Err(e) if shutdown.is_cancelled() => {
                tracing::debug!(error = %format!("{e:#}"), "stopped starting redis-server");
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        if first.is_none() {
            tracing::info!(
                socket = %locator.socket().display(),
                "another daemon runs the private redis-server: sharing it"
            );
        }
        let owned = Arc::new(Mutex::new(first));
        let stop = CancellationToken::new();
        let watch = tokio::spawn(watch(locator.clone(), owned.clone(), stop.clone()));
        Ok(Some(Self {
            locator,
            owned,
            users: Some(users),
            stop,
            watch: Some(watch),
        }))
    }

    /// Stops the server unless other daemons still use it (then it is left to them), and
    /// removes the runtime file with it. Waits for the server to exit.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(w) = self.watch.take() {
            let _ = w.await;
        }
        // Give up this daemon's share before asking whether anyone else holds one.
        drop(self.users.take());
        let Some(mut owned) = self.owned.lock().await.take() else {
            return;
        };
        let users = self.locator.runtime_dir.join(USERS_LOCK);
        // Held until the server is gone, so a daemon starting meanwhile waits, then starts a
        // new one instead of joining one that is stopping.
        let _alone = match open_lock(&users).map(|f| f.try_lock().map(|()| f)) {
            Ok(Ok(f)) => f,
            Ok(Err(TryLockError::WouldBlock)) => {
                tracing::info!(
                    socket = %self.locator.socket().display(),
                    "other daemons use the private redis-server: leaving it running for them"
                );
                return;
            }
            Ok(Err(TryLockError::Error(e))) | Err(e) => {
                tracing::warn!(error = %e, path = %users.display(), "cannot tell whether other daemons use the private redis-server: leaving it running");
                return;
            }
        };
        if let Err(e) = self.locator.remove_runtime_file() {
            tracing::warn!(error = %e, "the runtime file stays behind (clients ignore it once the server is gone)");
        }
        stop_server(&self.locator, owned.child.as_mut()).await;
    }
}

/// Takes a share of the users lock, waiting while an owner holds it exclusively to stop the
/// server. None when `shutdown` came first.
async fn share(path: &Path, shutdown: &CancellationToken) -> anyhow::Result<Option<File>> {
    let f = open_lock(path)?;
    loop {
        match f.try_lock_shared() {
            Ok(()) => return Ok(Some(f)),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("lock '{}'", path.display()));
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(None),
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

fn open_lock(path: &Path) -> std::io::Result<File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// Takes an exclusive lock without waiting: None when someone else holds it.
fn try_exclusive(path: &Path) -> anyhow::Result<Option<File>> {
    let f = open_lock(path).with_context(|| format!("open '{}'", path.display()))?;
    match f.try_lock() {
        Ok(()) => Ok(Some(f)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(e).with_context(|| format!("lock '{}'", path.display())),
    }
}

/// Owns the server when nobody does: takes over a server that still answers, else starts one
/// and waits until it answers. Writes the runtime file either way. None when another daemon
/// owns it.
async fn try_own(locator: &Locator, stop: &CancellationToken) -> anyhow::Result<Option<Owned>> {
    let Some(owner) = try_exclusive(&locator.runtime_dir.join(OWNER_LOCK))? else {
        return Ok(None);
    };
    let data_lock = locator.data_dir().join(DATA_LOCK);
    let Some(data) = try_exclusive(&data_lock)? else {
        bail!(
            "another private redis-server uses the data directory '{}' (a daemon started with another XDG_RUNTIME_DIR?); stop that daemon, or set POCKITECT_REDIS_URL",
            locator.data_dir().display()
        );
    };
    let url = locator.private_url();
    let child = if local::answers(&url).await {
        tracing::info!(socket = %locator.socket().display(), "took over the private redis-server a daemon left running");
        None
    } else {
        Some(start_server(locator, stop).await?)
    };
    locator.write_runtime_file(&url)?;
    Ok(Some(Owned {
        _owner: owner,
        _data: data,
        child,
    }))
}

/// Starts `redis-server` on the socket with persistence on, and waits until it answers PING.
async fn start_server(locator: &Locator, stop: &CancellationToken) -> anyhow::Result<Child> {
    let data = locator.data_dir();
    let log = data.join("redis.log");
    let socket = locator.socket();
    tracing::info!(
        socket = %socket.display(),
        data = %data.display(),
        log = %log.display(),
        "no Redis configured and none on the default address: starting a private redis-server"
    );
    let mut cmd = Command::new("redis-server");
    // Command-line options only (no config file is read): a unix socket only this user can
    // open, no TCP port, the append-only file synced every second, no RDB snapshots besides.
    cmd.arg("--port")
        .arg("0")
        .arg("--unixsocket")
        .arg(&socket)
        .arg("--unixsocketperm")
        .arg("700")
        .arg("--dir")
        .arg(&data)
        .arg("--appendonly")
        .arg("yes")
        .arg("--save")
        .arg("")
        .arg("--daemonize")
        .arg("no")
        .arg("--logfile")
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // It needs nothing of the daemon's environment, which may hold AWS keys. PATH stays:
        // the program is looked up in the child's PATH once the environment is changed; the
        // time zone keeps its log's timestamps as the user reads them.
        .env_clear();
    for keep in ["PATH", "TZ"] {
        if let Some(v) = std::env::var_os(keep) {
            cmd.env(keep, v);
        }
    }
    // Its own process group: a Ctrl-C in the daemon's terminal must not stop Redis under the
    // daemon's graceful shutdown, which still needs it.
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "no Redis is configured, none answers on {}, and 'redis-server' is not installed to start a private one: install it (Debian/Ubuntu: sudo apt-get install redis-server; Fedora: sudo dnf install redis; macOS: brew install redis) or set POCKITECT_REDIS_URL to a Redis of yours",
            pockitect_bus::redact_url(&locator.default_url)
        ),
        Err(e) => return Err(e).context("start redis-server"),
    };
    let url = locator.private_url();
    let deadline = Instant::now() + READY_WITHIN;
    loop {
        if local::answers(&url).await {
            tracing::info!(pid = child.id(), socket = %socket.display(), "private redis-server ready");
            return Ok(child);
        }
        if let Some(status) = child.try_wait().context("watch redis-server")? {
            bail!(
                "redis-server exited ({status}) before answering on '{}'; its log '{}' ends with:\n{}",
                socket.display(),
                log.display(),
                tail(&log, 10)
            );
        }
        if Instant::now() >= deadline {
            let _ = child.kill().await;
            bail!(
                "redis-server did not answer on '{}' within {} s; see its log '{}'",
                socket.display(),
                READY_WITHIN.as_secs(),
                log.display()
            );
        }
        tokio::select! {
            _ = stop.cancelled() => {
                // It has served nothing yet: no data to save.
                let _ = child.kill().await;
                bail!("shutdown requested while redis-server was starting");
            }
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
}

/// Stops the server: `SHUTDOWN` (it syncs the append-only file and removes its socket), then
/// waits for it to exit, killing it when it does not within [`STOP_WITHIN`].
async fn stop_server(locator: &Locator, child: Option<&mut Child>) {
    let url = locator.private_url();
    let refused = local::shutdown(&url).await.err();
    if let Some(e) = &refused {
        tracing::warn!(error = %e, log = %locator.data_dir().join("redis.log").display(), "redis-server refused to shut down");
    }
    match child {
        Some(child) => {
            let waited = match refused {
                Some(_) => Err(()),
                None => tokio::time::timeout(STOP_WITHIN, child.wait())
                    .await
                    .map_err(|_| ()),
            };
            match waited {
                Ok(Ok(status)) => {
                    tracing::info!(%status, "private redis-server stopped")
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "cannot wait for redis-server"),
                Err(()) => {
                    tracing::warn!("redis-server did not stop: killing it");
                    let _ = child.kill().await;
                }
            }
        }
        // Taken over from another daemon: not this process's child, so watch the socket.
        None => {
            let deadline = Instant::now() + STOP_WITHIN;
            while local::answers(&url).await {
                if Instant::now() >= deadline {
                    tracing::warn!(socket = %locator.socket().display(), "the private redis-server still answers after SHUTDOWN");
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            tracing::info!("private redis-server stopped");
        }
    }
}

/// Every second: an owner checks its server is still there (else lets go, to start it again
/// on the next round); a daemon that does not own it tries to, which succeeds only once the
/// owner has gone.
async fn watch(locator: Locator, owned: Arc<Mutex<Option<Owned>>>, stop: CancellationToken) {
    let url = locator.private_url();
    let mut every = WATCH_EVERY;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let mut owned = owned.lock().await;
        match owned.as_mut() {
            Some(o) => {
                let gone = match &mut o.child {
                    Some(child) => match child.try_wait() {
                        Ok(Some(status)) => Some(format!("it exited ({status})")),
                        _ => None,
                    },
                    None => (!local::answers(&url).await).then(|| "it stopped answering".into()),
                };
                if let Some(why) = gone {
                    tracing::warn!(
                        why = %why,
                        log = %locator.data_dir().join("redis.log").display(),
                        "the private redis-server is gone: starting it again"
                    );
                    let _ = locator.remove_runtime_file();
                    *owned = None;
                }
            }
            None => match try_own(&locator, &stop).await {
                Ok(Some(o)) => {
                    *owned = Some(o);
                    every = WATCH_EVERY;
                }
                Ok(None) => {}
                Err(e) if stop.is_cancelled() => {
                    tracing::debug!(error = %format!("{e:#}"), "stopped while taking over redis-server");
                }
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "cannot run the private redis-server; trying again");
                    every = (every * 2).min(WATCH_MAX_BACKOFF);
                }
            },
        }
    }
}

/// The last `n` lines of a log file, or a note that there is none.
fn tail(path: &Path, n: usize) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        }
        Err(e) => format!("(cannot read it: {e})"),
    }
}
