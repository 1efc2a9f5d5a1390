//! The daemon's settings, each declared once in the table at the end of this file: from it come
//! the flags and the environment variables clap reads for them, the keys of `pockitect.toml`
//! (unknown keys are errors), the defaults, how a value read becomes the setting, and the
//! config dump (`Debug`). Precedence: defaults, then the file (XDG config dir or `--config`),
//! then `POCKITECT_*` environment variables, then flags.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use serde::Deserialize;

/// Declares the settings. One entry:
///
/// ```text
/// /// Help of the flag.
/// key: Read = "ENV_VAR" [, file FileRead => |f| read-from-file]
///     => field: Type = default [, |v| conversion] [, shown as redact];
/// ```
///
/// `key` names the flag (`--key`, in kebab case) and the file key; `Read` is the type both
/// read (a file may read another type, converted when no flag or variable gives a value);
/// `field` is the field of [`Settings`]. A conversion is an `anyhow::Result` expression over
/// `v`; its error reads `read <key>: …`. `shown as` names a function that prints the value in
/// the config dump (to hide a password).
macro_rules! settings {
    ($(
        $(#[doc = $doc:literal])+
        $key:ident: $read:ty = $env:literal
            $(, file $file:ty => |$f:ident| $from_file:expr)?
            => $field:ident: $ty:ty = $default:expr
            $(, |$v:ident| $conv:expr)?
            $(, shown as $show:path)?;
    )+) => {
        /// pockitectd: takes commands from Redis, works on AWS, publishes status events.
        #[derive(Debug, Parser)]
        #[command(version, about)]
        pub struct Args {
            $(
                $(#[doc = $doc])+
                #[arg(long, env = $env)]
                pub $key: Option<$read>,
            )+
            /// Configuration file (default: $XDG_CONFIG_HOME/pockitect/pockitect.toml when present).
            #[arg(long, env = "POCKITECT_CONFIG")]
            pub config: Option<PathBuf>,
        }

        /// Keys of `pockitect.toml`; unknown keys are reported, not ignored.
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct FileConfig {
            $( $key: Option<settings!(@file_type $read $(, $file)?)>, )+
            /// `[policy]`: a table, so in the file only.
            policy: Option<crate::policy::PolicyFile>,
        }

        /// Every setting's key and environment variable, in the table's order.
        const KEYS: &[(&str, &str)] = &[$( (stringify!($key), $env), )+];

        /// The daemon's resolved settings.
        #[derive(Clone)]
        pub struct Settings {
            $(
                $(#[doc = $doc])+
                pub $field: $ty,
            )+
            /// Used instead of the AWS credential chain when set (tests, `pockitect login`).
            pub aws_static_credentials: Option<pockitect_aws::StaticCredentials>,
            pub aws_home_region: Option<String>,
            /// `[policy]` of the config file: what may run, with or without an approved plan.
            pub policy: crate::policy::Policy,
        }

        impl Settings {
            /// Defaults for a daemon on this machine: Redis on loopback, ./projects and ./cache.
            pub fn defaults() -> Self {
                Self {
                    $( $field: $default, )+
                    aws_static_credentials: None,
                    aws_home_region: None,
                    policy: crate::policy::Policy::default(),
                }
            }

            /// Merges flags/env (already in `args`), the config file and the defaults.
            pub fn resolve(args: Args) -> anyhow::Result<Self> {
                let mut file = load_file(args.config.as_deref())?;
                let policy = match file.policy.take() {
                    Some(p) => crate::policy::Policy::try_from(p)?,
                    None => crate::policy::Policy::default(),
                };
                let defaults = Self::defaults();
                Ok(Self {
                    $(
                        $field: {
                            let read: Option<$read> = match args.$key {
                                Some(v) => Some(v),
                                None => match file.$key {
                                    Some(f) => Some(
                                        settings!(@from_file f $(, $f, $from_file)?)
                                            .with_context(|| format!("read {}", stringify!($key)))?,
                                    ),
                                    None => None,
                                },
                            };
                            match read {
                                Some(v) => {
                                    let r: anyhow::Result<$ty> = settings!(@conv v $(, $v, $conv)?);
                                    r.with_context(|| format!("read {}", stringify!($key)))?
                                }
                                None => defaults.$field,
                            }
                        },
                    )+
                    aws_static_credentials: None,
                    aws_home_region: None,
                    policy,
                })
            }
        }

        impl std::fmt::Debug for Settings {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("Settings")
                    $( .field(stringify!($field), &settings!(@show self.$field $(, $show)?)) )+
                    .field("policy", &self.policy)
                    .finish_non_exhaustive()
            }
        }
    };
    (@file_type $read:ty) => { $read };
    (@file_type $read:ty, $file:ty) => { $file };
    (@from_file $val:ident) => { anyhow::Ok($val) };
    (@from_file $val:ident, $f:ident, $from_file:expr) => {{
        let $f = $val;
        $from_file.map_err(anyhow::Error::from)
    }};
    (@conv $val:ident) => { Ok($val) };
    (@conv $val:ident, $v:ident, $conv:expr) => {
        convert($val, |$v| $conv)
    };
    (@show $val:expr) => { $val };
    (@show $val:expr, $show:path) => { $show(&$val) };
}

/// Runs a conversion of the table on `v`; a closure, so that `?` and `ensure!` in it end the
/// conversion (whose error `resolve` names the key in), not `resolve` itself.
fn convert<T, U>(v: T, f: impl FnOnce(T) -> anyhow::Result<U>) -> anyhow::Result<U> {
    f(v)
}

/// A positive number of seconds.
fn secs(v: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(v)
        .ok()
        .filter(|d| !d.is_zero())
        .with_context(|| format!("'{v}' is not a positive number of seconds"))
}

/// The Redis URL with its password hidden.
fn redact(url: &Option<String>) -> String {
    match url {
        Some(url) => pockitect_bus::redact_url(url),
        None => "(not set: found or started, see the log's 'which redis')".into(),
    }
}

settings! {
    /// Redis URL (a password and rediss:// work). Unset: this user's private redis-server when
    /// it runs, else redis://127.0.0.1:6379 when it answers, else a private redis-server started
    /// now (persistent, on a unix socket; the clients find it).
    redis_url: String = "POCKITECT_REDIS_URL"
        => redis_url: Option<String> = None, |v| Ok((!v.trim().is_empty()).then_some(v)),
            shown as redact;
    /// Prefix of every Redis key and channel.
    prefix: String = "POCKITECT_PREFIX" => prefix: String = "pockitect".into();
    /// Commands handled at once.
    workers: usize = "POCKITECT_WORKERS"
        => workers: usize = 4, |v| {
            anyhow::ensure!((1..=256).contains(&v), "'{v}' is out of range; use 1 to 256");
            Ok(v)
        };
    /// Where blueprints live.
    projects_dir: PathBuf = "POCKITECT_PROJECTS_DIR"
        => projects_dir: PathBuf = PathBuf::from("projects");
    /// Where the scan cache is written.
    cache_dir: PathBuf = "POCKITECT_CACHE_DIR" => cache_dir: PathBuf = PathBuf::from("cache");
    /// Send every AWS call here (a moto sandbox, LocalStack…). Also read from AWS_ENDPOINT_URL.
    aws_endpoint_url: String = "AWS_ENDPOINT_URL"
        => aws_endpoint_url: Option<String> = None, |v| Ok((!v.is_empty()).then_some(v));
    /// AWS accounts to work on, comma-separated: profile names, role ARNs to assume
    /// (arn:aws:iam::111111111111:role/Name) or org:ROLE_NAME (every member of the
    /// Organization, through that role). Default: the account of the credentials in use.
    accounts: String = "POCKITECT_ACCOUNTS"
        => accounts: Vec<pockitect_aws::accounts::AccountSpec> = Vec::new(),
            |v| Ok(pockitect_aws::accounts::parse_list(&v)?);
    /// Where estimates get their prices: live (the AWS Price List API, each price cached a
    /// week in the cache dir; the bundled table when it cannot be reached) or bundled (never
    /// ask AWS).
    prices: String = "POCKITECT_PRICES"
        => live_prices: bool = true, |v| match v.as_str() {
            "live" => Ok(true),
            "bundled" => Ok(false),
            other => anyhow::bail!("'{other}' is not a price source; use live or bundled"),
        };
    /// Ask the AWS Price List API here (default: AWS, or the AWS endpoint when one is set).
    pricing_endpoint_url: String = "POCKITECT_PRICING_ENDPOINT_URL"
        => pricing_endpoint_url: Option<String> = None, |v| Ok((!v.is_empty()).then_some(v));
    /// Seconds a command's lease lasts without renewal before another daemon may take it over.
    lease_secs: f64 = "POCKITECT_LEASE_SECS"
        => lease: Duration = Duration::from_secs(30), |v| secs(v);
    /// AWS calls in flight at once during a scan, in each region (AWS throttles per account,
    /// region and API action; S3 and IAM have a bound of their own).
    scan_concurrency: usize = "POCKITECT_SCAN_CONCURRENCY"
        => scan_concurrency: usize = 16, |v| Ok(v.max(1));
    /// Scan shards (one account's region each) this daemon runs at once, beside its workers.
    /// Every daemon of the group takes shards of every scan: this bounds one daemon's share.
    scan_shards: usize = "POCKITECT_SCAN_SHARDS"
        => scan_shards: usize = 32, |v| {
            anyhow::ensure!((1..=1024).contains(&v), "'{v}' is out of range; use 1 to 1024");
            Ok(v)
        };
    /// Seconds between heartbeats.
    heartbeat_secs: f64 = "POCKITECT_HEARTBEAT_SECS"
        => heartbeat: Duration = Duration::from_secs(5), |v| secs(v);
    /// Seconds in-flight commands get to finish on shutdown before being left for reclaim.
    grace_secs: f64 = "POCKITECT_GRACE_SECS"
        => grace: Duration = Duration::from_secs(10), |v| secs(v);
    /// Directory of the rotating log file.
    log_dir: PathBuf = "POCKITECT_LOG_DIR"
        => log_dir: Option<PathBuf> = dirs::state_dir()
            .or_else(dirs::cache_dir)
            .map(|d| d.join("pockitect")), |v| Ok(Some(v));
    /// Seconds between automatic refreshes of deployed projects (0: never).
    refresh_interval: u64 = "POCKITECT_REFRESH_INTERVAL"
        => refresh_interval: Option<Duration> = Some(Duration::from_secs(60)),
            |v| Ok((v != 0).then(|| Duration::from_secs(v)));
    /// Where private keys of generated key pairs are written (mode 0600).
    key_dir: PathBuf = "POCKITECT_KEY_DIR"
        => key_dir: PathBuf = dirs::home_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join(".ssh/pockitect");
    /// Where database passwords are kept: auto (the OS keyring, else 0600 files), keyring
    /// (refuse to start without one) or file.
    secrets: pockitect_secrets::Backend = "POCKITECT_SECRETS",
        file String => |s| s.parse::<pockitect_secrets::Backend>()
        => secrets: pockitect_secrets::Backend = pockitect_secrets::Backend::Auto;
    /// Where 0600 password files go when files are used (outside the projects directory).
    secrets_dir: PathBuf = "POCKITECT_SECRETS_DIR"
        => secrets_dir: PathBuf = pockitect_secrets::SecretStore::default_file_dir();
    /// Directory of the audit trail's daily JSON-lines files (0600; none: Redis only).
    audit_dir: PathBuf = "POCKITECT_AUDIT_DIR"
        => audit_dir: Option<PathBuf> = dirs::state_dir()
            .or_else(dirs::cache_dir)
            .map(|d| d.join("pockitect/audit")), |v| Ok(Some(v));
    /// Days the audit trail's daily files are kept.
    audit_keep_days: u64 = "POCKITECT_AUDIT_KEEP_DAYS" => audit_keep_days: u64 = 90;
    /// Days audit entries are kept in Redis (`pockitect history` reads them there).
    audit_retention_days: f64 = "POCKITECT_AUDIT_RETENTION_DAYS"
        => audit_retention: Duration = Duration::from_secs(90 * 24 * 3600),
            |v| secs(v * 24.0 * 3600.0);
    /// Most audit entries kept in Redis, whatever their age.
    audit_max_entries: usize = "POCKITECT_AUDIT_MAX_ENTRIES"
        => audit_max_entries: usize = 50_000, |v| {
            anyhow::ensure!(v >= 100, "'{v}' is too few; keep at least 100");
            Ok(v)
        };
    /// Name this daemon announces (default: host-pid).
    daemon_id: String = "POCKITECT_DAEMON_ID"
        => daemon_id: String = format!(
            "{}-{}",
            gethostname::gethostname().to_string_lossy(),
            std::process::id()
        );
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
        let known: Vec<&str> = KEYS.iter().map(|(key, _)| *key).collect();
        format!(
            "read config file '{}' (known keys: {})",
            path.display(),
            known.join(", ")
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
        assert!(err.to_string().contains("workers"), "{err:#}");
        let err = Settings::resolve(args(&["--lease-secs=-1"])).unwrap_err();
        assert!(err.to_string().contains("lease_secs"));
    }

    #[test]
    fn the_readme_lists_every_setting() {
        let readme = include_str!("../../README.md");
        for (key, env) in KEYS {
            let flag = format!("`--{}`", key.replace('_', "-"));
            assert!(readme.contains(&flag), "README.md lists no {flag}");
            assert!(
                readme.contains(&format!("`{env}`")),
                "README.md lists no {env}"
            );
        }
    }

    #[test]
    fn an_empty_redis_url_is_no_configuration() {
        assert_eq!(
            Settings::resolve(args(&["--redis-url", " "]))
                .unwrap()
                .redis_url,
            None
        );
        let s = Settings::resolve(args(&["--redis-url", "redis://h:1"])).unwrap();
        assert_eq!(s.redis_url.as_deref(), Some("redis://h:1"));
    }

    #[test]
    fn debug_hides_the_redis_password() {
        let mut s = Settings::defaults();
        s.redis_url = Some("redis://:s3cret@localhost:6379".into());
        assert!(!format!("{s:?}").contains("s3cret"));
    }
}
