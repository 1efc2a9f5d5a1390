use std::time::Duration;

use chrono::Utc;
use pockitect_bus::Bus;
use pockitect_bus::local::{Resolved, Source};
use pockitect_proto::payload::AwsCheck;
use pockitect_proto::{Command, Empty, Event, exit};
use serde_json::json;

use crate::follow::{CliError, send_and_follow};
use crate::{Global, output};

/// Checks Redis (which one and why, and whether others can use it without credentials), live
/// daemons and the AWS identity (through a daemon: only daemons talk to AWS).
pub async fn run(g: &Global, bus: &Bus, which: &Resolved) -> Result<i32, CliError> {
    let mut ok = true;
    let redis = bus.ping().await;
    let exposure = match &redis {
        Ok(_) => redis_exposure(&which.url).await,
        Err(_) => None,
    };
    // Not a failure: Redis works, but a full Redis could delete leases and locks. Managed
    // services may forbid CONFIG GET; then there is nothing to say.
    let policy = bus.maxmemory_policy().await.ok();
    let eviction = policy.as_deref().and_then(pockitect_bus::eviction_warning);
    let daemons = bus.daemons().await.unwrap_or_default();
    let (waiting, pending) = bus.backlog().await.unwrap_or((0, 0));
    let mut aws = AwsCheck {
        ok: false,
        identity: None,
        code: None,
        message: None,
    };
    let failed = |message: String| AwsCheck {
        ok: false,
        identity: None,
        code: None,
        message: Some(message),
    };
    let mut creds = None;
    if !daemons.is_empty() {
        let q = Global {
            queue: false,
            timeout: Some(g.timeout.unwrap_or(20.0)),
            ..g.clone()
        };
        aws = match send_and_follow(&q, bus, &Command::DaemonInfo(Empty {}), |_| {}).await {
            Ok(t) => match t.decode() {
                Ok(Event::DaemonInfo(info)) => {
                    creds = info.aws_credentials;
                    info.aws
                }
                _ => failed(t.message().unwrap_or("daemon_info failed").to_owned()),
            },
            Err(e) => failed(e.to_string()),
        };
    }
    ok &= redis.is_ok() && !daemons.is_empty() && aws.ok;
    if g.json {
        out!(
            "{}",
            json!({
                "ok": ok,
                "redis": {
                    "url": pockitect_bus::redact_url(&which.url),
                    "source": which.source.name(),
                    "why": which.why(),
                    "runtime_file": match &which.source {
                        Source::Private { runtime_file } => Some(runtime_file),
                        _ => None,
                    },
                    "ok": redis.is_ok(),
                    "warning": exposure,
                    "maxmemory_policy": policy,
                    "eviction_warning": eviction,
                },
                "daemons": daemons,
                "backlog": { "waiting": waiting, "pending": pending },
                "aws": aws,
                "aws_credentials": creds,
            })
        );
        return Ok(if ok { exit::SUCCESS } else { exit::UNAVAILABLE });
    }
    let mark = |b: bool| if b { "ok  " } else { "FAIL" };
    out!(
        "{} redis    {} ({})",
        mark(redis.is_ok()),
        pockitect_bus::redact_url(&which.url),
        which.why()
    );
    if let Some(w) = &exposure {
        out!("WARN redis    {w}");
    }
    if let Some(w) = &eviction {
        out!("WARN redis    {w}");
    }
    out!(
        "{} daemons  {} live (prefix '{}'), {} commands waiting, {} in progress",
        mark(!daemons.is_empty()),
        daemons.len(),
        g.prefix,
        waiting,
        pending
    );
    if daemons.is_empty() {
        out!("         start one with 'pockitectd'");
    } else {
        let rows: Vec<Vec<String>> = daemons
            .iter()
            .map(|d| {
                vec![
                    d.id.clone(),
                    d.version.clone(),
                    d.host.clone(),
                    d.workers.to_string(),
                    d.in_flight.len().to_string(),
                    d.handled.to_string(),
                    d.secrets.clone().unwrap_or_else(|| "?".into()),
                    format!("{}s ago", (Utc::now() - d.last_seen).num_seconds().max(0)),
                ]
            })
            .collect();
        output::table(
            &[
                "daemon",
                "version",
                "host",
                "workers",
                "in flight",
                "handled",
                "secrets",
                "heartbeat",
            ],
            &rows,
        );
    }
    if let Some(c) = &creds {
        out!(
            "{} creds    {}",
            mark(c.error.is_none()),
            describe_credentials(c)
        );
    }
    if let (true, Some(id)) = (aws.ok, &aws.identity) {
        out!(
            "{} aws      account {} as {}",
            mark(true),
            id.account,
            id.arn
        );
    } else if !daemons.is_empty() {
        out!(
            "{} aws      {}",
            mark(false),
            aws.message.as_deref().unwrap_or("unknown")
        );
        out!(
            "         configure credentials for the daemon (AWS_PROFILE, env keys, SSO) or set AWS_ENDPOINT_URL for a sandbox"
        );
    }
    Ok(if ok { exit::SUCCESS } else { exit::UNAVAILABLE })
}

/// A warning when the Redis in use answers without credentials on an address other than
/// loopback: whoever can write the command stream can act on the AWS account. What is known for
/// sure: an unauthenticated PING either works or is refused, and the address the URL names.
/// When that address is loopback, the server's own `bind` and `protected-mode` tell whether it
/// also listens elsewhere; when it will not say (CONFIG refused by an ACL, a managed service),
/// nothing is claimed. A unix socket is local by nature: it is exposed when its permissions
/// (and every directory above it) let other users of the machine open it (the daemon's private
/// server's is 0700 in a 0700 directory: not exposed).
async fn redis_exposure(url: &str) -> Option<String> {
    use redis::IntoConnectionInfo;
    let info = url.into_connection_info().ok()?;
    // (host or socket path, port, whether a unix socket)
    let (host, port, unix) = match info.addr() {
        redis::ConnectionAddr::Tcp(host, port) => (host.clone(), *port, false),
        redis::ConnectionAddr::TcpTls { host, port, .. } => (host.clone(), *port, false),
        #[cfg(unix)]
        redis::ConnectionAddr::Unix(path) => {
            if !socket_open_to_others(path) {
                return None;
            }
            (path.display().to_string(), 0, true)
        }
        _ => return None,
    };
    // The same address and TLS settings, without user or password.
    let anonymous = info.set_redis_settings(redis::RedisConnectionInfo::default());
    let probe = async {
        pockitect_bus::ensure_tls_provider();
        let client = redis::Client::open(anonymous).ok()?;
        let mut con = client.get_multiplexed_async_connection().await.ok()?;
        redis::cmd("PING")
            .query_async::<String>(&mut con)
            .await
            .ok()?;
        Some(con)
    };
    let mut con = tokio::time::timeout(Duration::from_secs(3), probe)
        .await
        .ok()??;
    let advice = "whoever can reach it can deploy and destroy on the AWS account the daemon uses; \
                  set a password (requirepass) or an ACL user and put it in POCKITECT_REDIS_URL \
                  (README: 'Trust model and securing Redis')";
    if unix {
        return Some(format!(
            "Redis's socket '{host}' lets other users of this machine open it and asks no password: {advice}; or make the socket 0700 (redis-server --unixsocketperm 700)"
        ));
    }
    if !is_loopback(&host) {
        return Some(format!(
            "Redis at {host}:{port} answers without a password on an address other than loopback: {advice}"
        ));
    }
    let mut config = async |name: &str| -> Option<String> {
        let pair: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg(name)
            .query_async(&mut con)
            .await
            .ok()?;
        pair.into_iter().nth(1)
    };
    let bind = config("bind").await?;
    let protected_mode = config("protected-mode").await? == "yes";
    let info: Option<String> = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut con)
        .await
        .ok();
    let major = info.as_deref().and_then(redis_major_version);
    listens_beyond_loopback(&bind, protected_mode, major).then(|| {
        format!(
            "Redis on this machine answers without a password and also listens on '{bind}' \
             (protected-mode {}): {advice}; or bind it to 127.0.0.1 only",
            if protected_mode { "yes" } else { "no" }
        )
    })
}

/// Whether users other than the socket's owner can open it: connecting needs write permission
/// on the socket and search permission on every directory above it.
#[cfg(unix)]
fn socket_open_to_others(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.permissions().mode());
    let Ok(socket) = mode(path) else {
        return false;
    };
    let mut dirs = Vec::new();
    for dir in path.ancestors().skip(1) {
        if dir.as_os_str().is_empty() {
            continue;
        }
        match mode(dir) {
            Ok(m) => dirs.push(m),
            // What cannot be looked at cannot be gone through either (by this user, at least).
            Err(_) => return false,
        }
    }
    reachable_by_others(socket, &dirs)
}

/// [`socket_open_to_others`] over permission bits: by everyone (o+w on the socket, o+x on each
/// directory) or by the group (g+w, g+x).
#[cfg(unix)]
fn reachable_by_others(socket: u32, dirs: &[u32]) -> bool {
    let via = |write: u32, search: u32| socket & write != 0 && dirs.iter().all(|m| m & search != 0);
    via(0o002, 0o001) || via(0o020, 0o010)
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether a server whose default user has no password takes connections from other machines,
/// given its `bind` list (a leading '-' marks an address that may be missing; empty means every
/// interface) and `protected-mode`. Protected mode refuses non-loopback peers of a password-less
/// server: always since Redis 7, before that only when no `bind` is set. An unknown version is
/// read the stricter way (as before 7).
fn listens_beyond_loopback(bind: &str, protected_mode: bool, major: Option<u32>) -> bool {
    let addrs: Vec<&str> = bind
        .split_whitespace()
        .map(|a| a.trim_start_matches('-'))
        .collect();
    let beyond = addrs.is_empty() || addrs.iter().any(|a| !is_loopback(a));
    let protected = protected_mode && (major.is_some_and(|m| m >= 7) || addrs.is_empty());
    beyond && !protected
}

/// The major version in `INFO server` (`redis_version:7.0.15`; Valkey reports the Redis
/// version it is compatible with in the same field).
fn redis_major_version(info: &str) -> Option<u32> {
    info.lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .and_then(|v| v.trim().split('.').next())
        .and_then(|m| m.parse().ok())
}

/// One line on the credentials a daemon uses: their source, the key id's last 4 characters
/// (never more) and the end of a session.
fn describe_credentials(c: &pockitect_proto::payload::CredentialsInfo) -> String {
    let source = match (c.source.as_str(), &c.profile) {
        ("keyring", _) => "stored by 'pockitect login' in the OS keyring".to_owned(),
        ("file", _) => "stored by 'pockitect login' in a 0600 file".to_owned(),
        ("profile", Some(p)) => format!("profile '{p}' (chosen with 'pockitect login --profile')"),
        ("chain", _) => {
            "the standard AWS chain (environment, profile, SSO, instance role)".to_owned()
        }
        (other, _) => other.to_owned(),
    };
    let mut line = source;
    if let Some(k) = &c.key_id_last4 {
        line.push_str(&format!(", key …{k}"));
    }
    if let Some(end) = c.expires_at {
        line.push_str(&format!(", until {}", end.format("%Y-%m-%d %H:%M UTC")));
    }
    if let Some(e) = &c.error {
        line.push_str(&format!(": {e}"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_and_addresses() {
        for h in [
            "127.0.0.1",
            "127.3.2.1",
            "::1",
            "[::1]",
            "localhost",
            "LOCALHOST",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "0.0.0.0",
            "*",
            "::*",
            "10.0.0.5",
            "redis",
            "redis.example.com",
            "::",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn what_counts_as_listening_beyond_loopback() {
        // Loopback only, whatever protected mode says.
        assert!(!listens_beyond_loopback("127.0.0.1 -::1", false, Some(7)));
        // Every interface, protected mode off: open (the official Docker image's default).
        assert!(listens_beyond_loopback("* -::*", false, Some(7)));
        assert!(listens_beyond_loopback("0.0.0.0", false, Some(7)));
        assert!(listens_beyond_loopback("", false, Some(6)));
        // Protected mode covers any bind since Redis 7 ...
        assert!(!listens_beyond_loopback("* -::*", true, Some(7)));
        // ... before 7 only when no bind is set; an unknown version is read as before 7.
        assert!(listens_beyond_loopback("0.0.0.0", true, Some(6)));
        assert!(!listens_beyond_loopback("", true, Some(6)));
        assert!(listens_beyond_loopback("10.0.0.5 127.0.0.1", true, None));
    }

    #[cfg(unix)]
    #[test]
    fn a_unix_socket_is_exposed_only_when_other_users_can_open_it() {
        // The daemon's private server: socket 0700 in a 0700 directory under /run/user (0700).
        assert!(!reachable_by_others(
            0o140700,
            &[0o40700, 0o40700, 0o40755, 0o40755]
        ));
        // A 0777 socket behind a 0700 directory is still private.
        assert!(!reachable_by_others(0o140777, &[0o40700, 0o40755]));
        // A 0777 socket in /tmp (1777) is anyone's; a 0770 one in a 0750 directory, the group's.
        assert!(reachable_by_others(0o140777, &[0o41777, 0o40755]));
        assert!(reachable_by_others(0o140770, &[0o40750, 0o40755]));
        assert!(!reachable_by_others(0o140770, &[0o40700, 0o40755]));
    }

    #[cfg(unix)]
    #[test]
    fn a_real_socket_file_is_judged_by_its_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("redis.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(!socket_open_to_others(&path));
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        // Whether it is open now depends on the directories above the temporary directory.
        let above_open = dir
            .path()
            .ancestors()
            .skip(1)
            .all(|d| std::fs::metadata(d).unwrap().permissions().mode() & 0o001 != 0);
        assert_eq!(socket_open_to_others(&path), above_open);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(!socket_open_to_others(&path));
    }

    #[test]
    fn the_major_version_comes_from_info_server() {
        let info = "# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:00000000\r\n";
        assert_eq!(redis_major_version(info), Some(7));
        assert_eq!(redis_major_version("# Server\r\n"), None);
    }
}
