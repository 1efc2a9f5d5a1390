//! Configuration: defaults, then `pockitect.toml` (XDG config dir or `--config`), then
//! `POCKITECT_*` environment variables, then flags.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use serde::Deserialize;

/// pockitectd: takes commands from Redis, works on AWS, publishes status events.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Args {
    /// Redis URL (a password and rediss:// work).
    #[arg(long, env = "POCKITECT_REDIS_URL")]
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and channel.
    #[arg(long, env = "POCKITECT_PREFIX")]
    pub prefix: Option<String>,
    /// Commands handled at once.
    #[arg(long, env = "POCKITECT_WORKERS")]
    pub workers: Option<usize>,
    /// Where blueprints live.
    #[arg(long, env = "POCKITECT_PROJECTS_DIR")]
    pub projects_dir: Option<PathBuf>,
    /// Where the scan cache is written.
    #[arg(long, env = "POCKITECT_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Send every AWS call here (a moto sandbox, LocalStack…). Also read from AWS_ENDPOINT_URL.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub aws_endpoint_url: Option<String>,
    /// Seconds a command's lease lasts without renewal before another daemon may take it over.
    #[arg(long, env = "POCKITECT_LEASE_SECS")]
    pub lease_secs: Option<f64>,
    /// AWS calls in flight at once during a scan.
    #[arg(long, env = "POCKITECT_SCAN_CONCURRENCY")]
    pub scan_concurrency: Option<usize>,
    /// Seconds between heartbeats.
    #[arg(long, env = "POCKITECT_HEARTBEAT_SECS")]
    pub heartbeat_secs: Option<f64>,
    /// Seconds in-flight commands get to finish on shutdown before being left for reclaim.
    #[arg(long, env = "POCKITECT_GRACE_SECS")]
    pub grace_secs: Option<f64>,
    /// Directory of the rotating log file.
    #[arg(long, env = "POCKITECT_LOG_DIR")]
    pub log_dir: Option<PathBuf>,
    /// Seconds between automatic refreshes of deployed projects (0: never).
    #[arg(long, env = "POCKITECT_REFRESH_INTERVAL")]
    pub refresh_interval: Option<u64>,
    /// Where private keys of generated key pairs are written (mode 0600).
    #[arg(long, env = "POCKITECT_KEY_DIR")]
    pub key_dir: Option<PathBuf>,
    /// Where database passwords are kept: auto (the OS keyring, else 0600 files), keyring
    /// (refuse to start without one) or file.
    #[arg(long, env = "POCKITECT_SECRETS")]
    pub secrets: Option<pockitect_secrets::Backend>,
    /// Where 0600 password files go when files are used (outside the projects directory).
    #[arg(long, env = "POCKITECT_SECRETS_DIR")]
    pub secrets_dir: Option<PathBuf>,
    /// Name this daemon announces (default: host-pid).
    #[arg(long, env = "POCKITECT_DAEMON_ID")]
    pub daemon_id: Option<String>,
    /// Configuration file (default: $XDG_CONFIG_HOME/pockitect/pockitect.toml when present).
    #[arg(long, env = "POCKITECT_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Keys of `pockitect.toml`; unknown keys are reported, not ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    redis_url: Option<String>,
    prefix: Option<String>,
    workers: Option<usize>,
    projects_dir: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
    aws_endpoint_url: Option<String>,
    lease_secs: Option<f64>,
    scan_concurrency: Option<usize>,
    heartbeat_secs: Option<f64>,
    grace_secs: Option<f64>,
    log_dir: Option<PathBuf>,
    key_dir: Option<PathBuf>,
    secrets: Option<String>,
    secrets_dir: Option<PathBuf>,
    refresh_interval: Option<u64>,
    daemon_id: Option<String>,
}

/// The daemon's resolved settings.
#[derive(Clone)]
pub struct Settings {
    pub redis_url: String,
    pub prefix: String,
    pub workers: usize,
    pub projects_dir: PathBuf,
    pub cache_dir: PathBuf,
    pub aws_endpoint_url: Option<String>,
    pub lease: Duration,
    pub scan_concurrency: usize,
    pub heartbeat: Duration,
    pub grace: Duration,
    pub log_dir: Option<PathBuf>,
    pub key_dir: PathBuf,
    pub secrets: pockitect_secrets::Backend,
    pub secrets_dir: PathBuf,
    /// Automatic refresh period; None disables it.
    pub refresh_interval: Option<Duration>,
    pub daemon_id: String,
    /// Used instead of the AWS credential chain when set (tests, `pockitect login`).
    pub aws_static_credentials: Option<pockitect_aws::StaticCredentials>,
    pub aws_home_region: Option<String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("redis_url", &pockitect_bus::redact_url(&self.redis_url))
            .field("prefix", &self.prefix)
            .field("workers", &self.workers)
            .field("projects_dir", &self.projects_dir)
            .field("cache_dir", &self.cache_dir)
            .field("aws_endpoint_url", &self.aws_endpoint_url)
            .field("lease", &self.lease)
            .field("daemon_id", &self.daemon_id)
            .finish_non_exhaustive()
    }
}

fn secs(what: &str, v: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(v)
        .ok()
        .filter(|d| !d.is_zero())
        .with_context(|| format!("read {what}: '{v}' is not a positive number of seconds"))
}

impl Settings {
    /// Defaults for a daemon on this machine: Redis on loopback, ./projects and ./cache.
    pub fn defaults() -> Self {
        Self {
            redis_url: "redis://127.0.0.1:6379".into(),
            prefix: "pockitect".into(),
            workers: 4,
            projects_dir: PathBuf::from("projects"),
            cache_dir: PathBuf::from("cache"),
            aws_endpoint_url: None,
            lease: Duration::from_secs(30),
            scan_concurrency: 16,
            heartbeat: Duration::from_secs(5),
            grace: Duration::from_secs(10),
            log_dir: dirs::state_dir()
                .or_else(dirs::cache_dir)
                .map(|d| d.join("pockitect")),
            key_dir: dirs::home_dir()
                .unwrap_or_else(|| PathBuf::from("."))
                .join(".ssh/pockitect"),
            secrets: pockitect_secrets::Backend::Auto,
            secrets_dir: pockitect_secrets::SecretStore::default_file_dir(),
            refresh_interval: Some(Duration::from_secs(60)),
            daemon_id: format!(
                "{}-{}",
                gethostname::gethostname().to_string_lossy(),
                std::process::id()
            ),
            aws_static_credentials: None,
            aws_home_region: None,
        }
    }

    /// Merges flags/env (already in `args`), the config file and the defaults.
    pub fn resolve(args: Args) -> anyhow::Result<Self> {
        let file = load_file(args.config.as_deref())?;
        let d = Self::defaults();
        let workers = args.workers.or(file.workers).unwrap_or(d.workers);
        anyhow::ensure!(
            (1..=256).contains(&workers),
            "read workers: '{workers}' is out of range; use 1 to 256"
        );
        let scan_concurrency = args
            .scan_concurrency
            .or(file.scan_concurrency)
            .unwrap_or(d.scan_concurrency)
            .max(1);
        Ok(Self {
            redis_url: args.redis_url.or(file.redis_url).unwrap_or(d.redis_url),
            prefix: args.prefix.or(file.prefix).unwrap_or(d.prefix),
            workers,
            projects_dir: args
                .projects_dir
                .or(file.projects_dir)
                .unwrap_or(d.projects_dir),
            cache_dir: args.cache_dir.or(file.cache_dir).unwrap_or(d.cache_dir),
            aws_endpoint_url: args
                .aws_endpoint_url
                .or(file.aws_endpoint_url)
                .filter(|s| !s.is_empty()),
            lease: match args.lease_secs.or(file.lease_secs) {
                Some(v) => secs("lease_secs", v)?,
                None => d.lease,
            },
            scan_concurrency,
            heartbeat: match args.heartbeat_secs.or(file.heartbeat_secs) {
                Some(v) => secs("heartbeat_secs", v)?,
                None => d.heartbeat,
            },
            grace: match args.grace_secs.or(file.grace_secs) {
                Some(v) => secs("grace_secs", v)?,
                None => d.grace,
            },
            log_dir: args.log_dir.or(file.log_dir).or(d.log_dir),
            key_dir: args.key_dir.or(file.key_dir).unwrap_or(d.key_dir),
            secrets: match (args.secrets, file.secrets) {
                (Some(b), _) => b,
                (None, Some(s)) => s.parse().context("read secrets")?,
                (None, None) => d.secrets,
            },
            secrets_dir: args
                .secrets_dir
                .or(file.secrets_dir)
                .unwrap_or(d.secrets_dir),
            refresh_interval: match args.refresh_interval.or(file.refresh_interval) {
                Some(0) => None,
                Some(n) => Some(Duration::from_secs(n)),
                None => d.refresh_interval,
            },
            daemon_id: args.daemon_id.or(file.daemon_id).unwrap_or(d.daemon_id),
            aws_static_credentials: None,
            aws_home_region: None,
        })
    }
}

fn load_file(explicit: Option<&Path>) -> anyhow::Result<FileConfig> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => match dirs::config_dir().map(|d| d.join("pockitect/pockitect.toml")) {
            Some(p) if p.exists() => p,
            _ => return Ok(FileConfig::default()),
        },
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("read config file '{}'", path.display()))?;
    toml::from_str(&text).with_context(|| {
        format!(
            "read config file '{}' (known keys: redis_url, prefix, workers, projects_dir, cache_dir, aws_endpoint_url, lease_secs, scan_concurrency, heartbeat_secs, grace_secs, log_dir, key_dir, secrets, secrets_dir, refresh_interval, daemon_id)",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Args {
        let mut v = vec!["pockitectd"];
        v.extend_from_slice(extra);
        Args::try_parse_from(v).unwrap()
    }

    #[test]
    fn flags_beat_the_file_and_unknown_keys_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, "workers = 7\nprefix = \"fromfile\"\n").unwrap();
        let p = path.to_str().unwrap();
        let s = Settings::resolve(args(&["--config", p, "--workers", "2"])).unwrap();
        assert_eq!(s.workers, 2);
        assert_eq!(s.prefix, "fromfile");

        std::fs::write(&path, "wrokers = 7\n").unwrap();
        let err = Settings::resolve(args(&["--config", p])).unwrap_err();
        assert!(format!("{err:#}").contains("wrokers"), "{err:#}");
    }

    #[test]
    fn bad_numbers_name_the_setting() {
        let err = Settings::resolve(args(&["--workers", "0"])).unwrap_err();
        assert!(err.to_string().contains("workers"));
        let err = Settings::resolve(args(&["--lease-secs=-1"])).unwrap_err();
        assert!(err.to_string().contains("lease_secs"));
    }

    #[test]
    fn debug_hides_the_redis_password() {
        let mut s = Settings::defaults();
        s.redis_url = "redis://:s3cret@localhost:6379".into();
        assert!(!format!("{s:?}").contains("s3cret"));
    }
}
