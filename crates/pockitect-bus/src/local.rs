//! Which Redis to use when none is configured, the same answer for the daemon, the CLI and the
//! TUI. In order: the URL the user configured (a flag, `POCKITECT_REDIS_URL` or
//! `pockitect.toml`), used as it is; else the daemon's private server named by the runtime file
//! (`redis.url` in the runtime directory) when it answers; else the default address
//! (`redis://127.0.0.1:6379`) when a Redis there answers PING without a password. Nothing
//! found is an error that names both places and what to do. The daemon starts the private
//! server itself (`pockitectd`); this module only knows where it lives and how to find it.
//!
//! Where: the runtime directory is `$XDG_RUNTIME_DIR/pockitect`, else `pockitect-<uid>` in the
//! temporary directory (0700, refused when another user owns it); it holds the server's unix
//! socket `redis.sock` and the runtime file (0600). The server's data (append-only file) lives
//! in `$XDG_STATE_HOME/pockitect/redis` (`~/.local/state/pockitect/redis`), 0700.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The address tried when no Redis is configured and no private server runs.
pub const DEFAULT_URL: &str = "redis://127.0.0.1:6379";
/// Replaces [`DEFAULT_URL`] when set. A seam for tests, which must not depend on whatever
/// answers on the machine's port 6379; not meant for users (they set `POCKITECT_REDIS_URL`).
pub const DEFAULT_URL_ENV: &str = "POCKITECT_DEFAULT_REDIS_URL";
/// The runtime file: one line, the URL of the daemon's private server.
pub const RUNTIME_FILE: &str = "redis.url";
/// The private server's unix socket, in the runtime directory.
pub const SOCKET: &str = "redis.sock";
/// How long a probe waits for a PONG. Both places are on this machine: a refused connection
/// fails at once, so this only bounds a stuck or filtered one.
const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);
/// The longest socket path every unix accepts (`sun_path` is 104 bytes on macOS, 108 on Linux).
const MAX_SOCKET_PATH: usize = 100;

/// Why a Redis was chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The user configured it: a flag, `POCKITECT_REDIS_URL` or `pockitect.toml`.
    Explicit,
    /// Nothing configured: the runtime file names a daemon's private server, and it answered.
    Private { runtime_file: PathBuf },
    /// Nothing configured and no private server: a Redis answered on the default address.
    DefaultAddress,
}

impl Source {
    /// A short name for machine-readable output: `explicit`, `private` or `default`.
    pub fn name(&self) -> &'static str {
        match self {
            Source::Explicit => "explicit",
            Source::Private { .. } => "private",
            Source::DefaultAddress => "default",
        }
    }
}

/// The Redis to use, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub url: String,
    pub source: Source,
}

impl Resolved {
    /// Why this Redis, for people (never shows a password).
    pub fn why(&self) -> String {
        match &self.source {
            Source::Explicit => {
                "configured: --redis-url, POCKITECT_REDIS_URL, or the daemon's pockitect.toml"
                    .into()
            }
            Source::Private { runtime_file } => format!(
                "the daemon's private redis-server, named in '{}'",
                runtime_file.display()
            ),
            Source::DefaultAddress => {
                "nothing configured; a Redis answers on the default address".into()
            }
        }
    }
}

/// Failures of finding or preparing the local Redis.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error(
        "find a Redis: none is configured, {private}, and nothing answers PING without a password on {default_url}; start 'pockitectd' (it starts a private redis-server when none runs) or set POCKITECT_REDIS_URL"
    )]
    NotFound {
        private: String,
        default_url: String,
    },
    #[error("prepare '{}': {message}", path.display())]
    Dir { path: PathBuf, message: String },
    #[error("{what} '{}': {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl LocalError {
    fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Self + use<> {
        let path = path.to_path_buf();
        move |source| LocalError::Io { what, path, source }
    }
}

/// Where this user's private Redis lives, and the address tried when there is none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Locator {
    /// Holds the socket and the runtime file: `$XDG_RUNTIME_DIR/pockitect` or a 0700
    /// directory of this user's in the temporary directory.
    pub runtime_dir: PathBuf,
    /// Pockitect's state: `$XDG_STATE_HOME/pockitect`; the server's data is in `redis/` there.
    pub state_dir: PathBuf,
    /// Tried when no private server answers ([`DEFAULT_URL`] unless [`DEFAULT_URL_ENV`] says).
    pub default_url: String,
}

impl Locator {
    /// The places of this user, from the environment (`XDG_RUNTIME_DIR`, `XDG_STATE_HOME`,
    /// `HOME`, [`DEFAULT_URL_ENV`]). Reads only: nothing is created.
    pub fn from_env() -> Self {
        let runtime_dir = match dirs::runtime_dir() {
            Some(d) => d.join("pockitect"),
            // No per-user runtime directory (macOS, cron, a container): a directory named with
            // the uid in the shared temporary directory, checked to be ours before use.
            None => std::env::temp_dir().join(format!("pockitect-{}", user_tag())),
        };
        let state_dir = dirs::state_dir()
            .or_else(dirs::data_local_dir)
            .unwrap_or_else(|| std::env::temp_dir().join(format!("pockitect-state-{}", user_tag())))
            .join("pockitect");
        let default_url = std::env::var(DEFAULT_URL_ENV)
            .ok()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_URL.to_owned());
        Self {
            runtime_dir,
            state_dir,
            default_url,
        }
    }

    pub fn runtime_file(&self) -> PathBuf {
        self.runtime_dir.join(RUNTIME_FILE)
    }

    pub fn socket(&self) -> PathBuf {
        self.runtime_dir.join(SOCKET)
    }

    /// The private server's data directory (its `dir`).
    pub fn data_dir(&self) -> PathBuf {
        self.state_dir.join("redis")
    }

    /// The URL of the private server's socket.
    pub fn private_url(&self) -> String {
        unix_url(&self.socket())
    }

    /// Creates the runtime directory (0700) and checks that it is this user's and that the
    /// socket's path is short enough for a unix socket.
    pub fn prepare_runtime_dir(&self) -> Result<(), LocalError> {
        let len = self.socket().as_os_str().len();
        if len > MAX_SOCKET_PATH {
            return Err(LocalError::Dir {
                path: self.runtime_dir.clone(),
                message: format!(
                    "the socket path would be {len} bytes, more than the {MAX_SOCKET_PATH} a unix socket allows; set XDG_RUNTIME_DIR to a shorter directory, or set POCKITECT_REDIS_URL"
                ),
            });
        }
        private_dir(&self.runtime_dir)
    }

    /// Creates the data directory (0700) for the private server.
    pub fn prepare_data_dir(&self) -> Result<(), LocalError> {
        private_dir(&self.state_dir)?;
        private_dir(&self.data_dir())
    }

    /// The URL the runtime file names, if there is one.
    pub fn read_runtime_file(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.runtime_file()).ok()?;
        let url = text.trim();
        (!url.is_empty()).then(|| url.to_owned())
    }

    /// Writes the runtime file (0600) all at once: a reader sees the old file or the new one.
    pub fn write_runtime_file(&self, url: &str) -> Result<(), LocalError> {
        let path = self.runtime_file();
        let tmp = self
            .runtime_dir
            .join(format!(".{RUNTIME_FILE}.{}", std::process::id()));
        write_private(&tmp, format!("{url}\n").as_bytes())
            .map_err(LocalError::io("write the runtime file", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            LocalError::io("write the runtime file", &path)(e)
        })
    }

    /// Removes the runtime file; one already gone is fine.
    pub fn remove_runtime_file(&self) -> Result<(), LocalError> {
        let path = self.runtime_file();
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(LocalError::io("remove the runtime file", &path)(e))
            }
            _ => Ok(()),
        }
    }

    /// The Redis to use: `explicit` when given (not probed: its user chose it), else the
    /// private server of the runtime file when it answers (a stale file is ignored), else the
    /// default address when it answers PING without a password.
    pub async fn resolve(&self, explicit: Option<&str>) -> Result<Resolved, LocalError> {
        if let Some(url) = explicit.filter(|u| !u.trim().is_empty()) {
            return Ok(Resolved {
                url: url.to_owned(),
                source: Source::Explicit,
            });
        }
        let runtime_file = self.runtime_file();
        let named = self.read_runtime_file();
        if let Some(url) = &named
            && answers(url).await
        {
            return Ok(Resolved {
                url: url.clone(),
                source: Source::Private { runtime_file },
            });
        }
        if answers(&self.default_url).await {
            return Ok(Resolved {
                url: self.default_url.clone(),
                source: Source::DefaultAddress,
            });
        }
        let private = match named {
            Some(url) => format!(
                "the private server named in '{}' ({url}) does not answer",
                runtime_file.display()
            ),
            None => format!(
                "no daemon's private server is named in '{}'",
                runtime_file.display()
            ),
        };
        Err(LocalError::NotFound {
            private,
            default_url: crate::redact_url(&self.default_url),
        })
    }
}

/// Whether a Redis at `url` answers PING (with the URL's credentials, if any) within a moment.
/// An error reply (a password wanted, still loading its data) is no answer: such a server cannot
/// be used as it is.
pub async fn answers(url: &str) -> bool {
    let probe = async {
        let client = redis::Client::open(url).ok()?;
        let cfg = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(PROBE_TIMEOUT))
            .set_response_timeout(Some(PROBE_TIMEOUT));
        let mut con = client
            .get_multiplexed_async_connection_with_config(&cfg)
            .await
            .ok()?;
        redis::cmd("PING")
            .query_async::<String>(&mut con)
            .await
            .ok()
    };
    matches!(
        tokio::time::timeout(PROBE_TIMEOUT * 2, probe).await,
        Ok(Some(pong)) if pong == "PONG"
    )
}

/// Asks the Redis at `url` to shut down (`SHUTDOWN`: it syncs its append-only file first).
/// Ok once it has closed the connection, or when nothing answers there any more; an error
/// reply (it refused, say because it could not write its data) is returned as the error.
pub async fn shutdown(url: &str) -> Result<(), redis::RedisError> {
    let client = redis::Client::open(url)?;
    let cfg = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(PROBE_TIMEOUT))
        .set_response_timeout(Some(Duration::from_secs(15)));
    let mut con = match client
        .get_multiplexed_async_connection_with_config(&cfg)
        .await
    {
        Ok(con) => con,
        // Nothing to stop.
        Err(e) if e.is_io_error() || e.is_connection_refusal() => return Ok(()),
        Err(e) => return Err(e),
    };
    match redis::cmd("SHUTDOWN").query_async::<()>(&mut con).await {
        // A server that stops closes the connection without a reply.
        Err(e) if e.code().is_none() => Ok(()),
        Err(e) => Err(e),
        Ok(()) => Ok(()),
    }
}

/// `redis+unix://` URL of a socket path, percent-encoding what a URL path cannot carry as is
/// (the redis crate decodes it back with `Url::to_file_path`).
pub fn unix_url(socket: &Path) -> String {
    let mut url = String::from("redis+unix://");
    for b in socket.as_os_str().as_encoded_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'.' | b'_' | b'~' => {
                url.push(char::from(*b))
            }
            _ => url.push_str(&format!("%{b:02X}")),
        }
    }
    url
}

/// The socket path of a `unix://` / `redis+unix://` URL, if it is one.
pub fn socket_of(url: &str) -> Option<PathBuf> {
    use redis::IntoConnectionInfo;
    match url.into_connection_info().ok()?.addr() {
        #[cfg(unix)]
        redis::ConnectionAddr::Unix(path) => Some(path.clone()),
        _ => None,
    }
}

/// Who this is, for naming a directory in the shared temporary directory: the uid on unix.
fn user_tag() -> String {
    #[cfg(unix)]
    if let Some(uid) = own_uid() {
        return uid.to_string();
    }
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "user".into())
}

/// This process's uid, read without `libc` from what the kernel shows of the process itself
/// (`/proc/self` belongs to the process's user), else from the home directory's owner.
#[cfg(unix)]
fn own_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    if let Ok(m) = std::fs::metadata("/proc/self") {
        return Some(m.uid());
    }
    std::fs::metadata(dirs::home_dir()?).ok().map(|m| m.uid())
}

/// Creates `dir` (and its parents) and makes it 0700. The chmod succeeds only for the owner, so
/// a directory another user made (in the shared temporary directory, say) is refused.
fn private_dir(dir: &Path) -> Result<(), LocalError> {
    std::fs::create_dir_all(dir).map_err(|e| LocalError::Dir {
        path: dir.to_path_buf(),
        message: format!("cannot create it ({e}); make it writable or set POCKITECT_REDIS_URL"),
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let refused = |why: String| LocalError::Dir {
            path: dir.to_path_buf(),
            message: format!(
                "{why}; remove it, or set XDG_RUNTIME_DIR / XDG_STATE_HOME to a directory of your own"
            ),
        };
        // Not the link's target: a symlink planted in the temporary directory is refused.
        let meta = std::fs::symlink_metadata(dir).map_err(|e| refused(e.to_string()))?;
        if !meta.is_dir() {
            return Err(refused("it is not a directory".into()));
        }
        if let Some(uid) = own_uid()
            && meta.uid() != uid
        {
            return Err(refused(format!(
                "it belongs to uid {}, not to you",
                meta.uid()
            )));
        }
        if meta.mode() & 0o777 != 0o700 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| refused(format!("cannot make it 0700 ({e})")))?;
        }
    }
    Ok(())
}

/// Writes `bytes` to a new file only its owner can read.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A locator over fresh directories whose default address nothing listens on.
    fn locator(dir: &Path) -> Locator {
        Locator {
            runtime_dir: dir.join("run/pockitect"),
            state_dir: dir.join("state/pockitect"),
            default_url: format!("redis://127.0.0.1:{}", pockitect_testkit::free_port()),
        }
    }

    #[tokio::test]
    async fn an_explicit_url_is_used_as_it_is_even_when_nothing_answers_there() {
        let dir = tempfile::tempdir().unwrap();
        let redis = pockitect_testkit::RedisServer::start();
        let mut loc = locator(dir.path());
        loc.default_url = redis.url().to_owned();
        let closed = format!("redis://127.0.0.1:{}", pockitect_testkit::free_port());
        let r = loc.resolve(Some(&closed)).await.unwrap();
        assert_eq!(r.url, closed);
        assert_eq!(r.source, Source::Explicit);
        // An empty value (POCKITECT_REDIS_URL=) is no configuration.
        let r = loc.resolve(Some(" ")).await.unwrap();
        assert_eq!(r.source, Source::DefaultAddress);
    }

    #[tokio::test]
    async fn with_nothing_anywhere_the_error_names_both_places_and_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let loc = locator(dir.path());
        let err = loc.resolve(None).await.unwrap_err().to_string();
        assert!(
            err.contains(&loc.runtime_file().display().to_string()),
            "{err}"
        );
        assert!(err.contains(&loc.default_url), "{err}");
        assert!(err.contains("pockitectd"), "{err}");
        assert!(err.contains("POCKITECT_REDIS_URL"), "{err}");
    }

    #[tokio::test]
    async fn the_default_address_is_used_when_it_answers_and_no_private_server_runs() {
        let dir = tempfile::tempdir().unwrap();
        let redis = pockitect_testkit::RedisServer::start();
        let mut loc = locator(dir.path());
        loc.default_url = redis.url().to_owned();
        let r = loc.resolve(None).await.unwrap();
        assert_eq!(r.url, redis.url());
        assert_eq!(r.source, Source::DefaultAddress);
    }

    #[tokio::test]
    async fn a_live_private_server_comes_before_the_default_address_and_a_stale_one_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let private = pockitect_testkit::RedisServer::start_private(false);
        let default = pockitect_testkit::RedisServer::start();
        let mut loc = locator(dir.path());
        loc.default_url = default.url().to_owned();
        loc.prepare_runtime_dir().unwrap();
        loc.write_runtime_file(private.url()).unwrap();
        let r = loc.resolve(None).await.unwrap();
        assert_eq!(r.url, private.url());
        assert_eq!(
            r.source,
            Source::Private {
                runtime_file: loc.runtime_file()
            }
        );

        // The server is gone but its file stayed (a killed daemon): the file is ignored.
        drop(private);
        let r = loc.resolve(None).await.unwrap();
        assert_eq!(r.source, Source::DefaultAddress);
        loc.default_url = format!("redis://127.0.0.1:{}", pockitect_testkit::free_port());
        let err = loc.resolve(None).await.unwrap_err().to_string();
        assert!(err.contains("does not answer"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn the_runtime_directory_is_0700_and_the_runtime_file_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let loc = locator(dir.path());
        std::fs::create_dir_all(&loc.runtime_dir).unwrap();
        std::fs::set_permissions(&loc.runtime_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        loc.prepare_runtime_dir().unwrap();
        loc.prepare_data_dir().unwrap();
        loc.write_runtime_file("redis+unix:///x/redis.sock")
            .unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&loc.runtime_dir), 0o700);
        assert_eq!(mode(&loc.data_dir()), 0o700);
        assert_eq!(mode(&loc.runtime_file()), 0o600);
        assert_eq!(
            loc.read_runtime_file().as_deref(),
            Some("redis+unix:///x/redis.sock")
        );
        loc.remove_runtime_file().unwrap();
        loc.remove_runtime_file().unwrap();
        assert_eq!(loc.read_runtime_file(), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_in_place_of_the_runtime_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let loc = locator(dir.path());
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::create_dir_all(loc.runtime_dir.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &loc.runtime_dir).unwrap();
        let err = loc.prepare_runtime_dir().unwrap_err().to_string();
        assert!(err.contains("not a directory"), "{err}");
    }

    #[test]
    fn a_socket_path_too_long_for_unix_is_refused_with_what_to_do() {
        let loc = Locator {
            runtime_dir: PathBuf::from(format!("/tmp/{}", "d".repeat(120))),
            state_dir: PathBuf::from("/tmp/s"),
            default_url: DEFAULT_URL.into(),
        };
        let err = loc.prepare_runtime_dir().unwrap_err().to_string();
        assert!(err.contains("XDG_RUNTIME_DIR"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_socket_url_round_trips_through_the_redis_crate() {
        for path in [
            "/run/user/1000/pockitect/redis.sock",
            "/tmp/a b/#x?y%/redis.sock",
        ] {
            let url = unix_url(Path::new(path));
            assert!(url.starts_with("redis+unix:///"), "{url}");
            assert_eq!(socket_of(&url), Some(PathBuf::from(path)), "{url}");
        }
        assert_eq!(socket_of("redis://127.0.0.1:6379"), None);
    }
}
