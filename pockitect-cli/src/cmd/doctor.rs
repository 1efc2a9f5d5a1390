use chrono::Utc;
use pockitect_bus::Bus;
use pockitect_proto::{Command, Empty, Status, exit};
use serde_json::json;

use crate::follow::{CliError, send_and_follow};
use crate::{Global, output};

/// Checks Redis, live daemons and the AWS identity (through a daemon: only daemons talk to AWS).
pub async fn run(g: &Global, bus: &Bus) -> Result<i32, CliError> {
    let mut ok = true;
    let redis = bus.ping().await;
    // Not a failure: Redis works, but a full Redis could delete leases and locks. Managed
    // services may forbid CONFIG GET; then there is nothing to say.
    let policy = bus.maxmemory_policy().await.ok();
    let eviction = policy.as_deref().and_then(pockitect_bus::eviction_warning);
    let daemons = bus.daemons().await.unwrap_or_default();
    let (waiting, pending) = bus.backlog().await.unwrap_or((0, 0));
    let mut aws = json!(null);
    if !daemons.is_empty() {
        let q = Global {
            queue: false,
            timeout: Some(g.timeout.unwrap_or(20.0)),
            ..g.clone()
        };
        match send_and_follow(&q, bus, &Command::DaemonInfo(Empty {}), |_| {}).await {
            Ok(t) if t.status == Some(Status::Success) => {
                aws = t.data.get("aws").cloned().unwrap_or_default()
            }
            Ok(t) => {
                aws = json!({"ok": false, "message": t.message().unwrap_or("daemon_info failed")})
            }
            Err(e) => aws = json!({"ok": false, "message": e.to_string()}),
        }
    }
    ok &= redis.is_ok()
        && !daemons.is_empty()
        && aws.get("ok").and_then(|v| v.as_bool()).unwrap_or(false);
    if g.json {
        out!(
            "{}",
            json!({
                "ok": ok,
                "redis": {
                    "url": pockitect_bus::redact_url(&g.redis_url),
                    "ok": redis.is_ok(),
                    "maxmemory_policy": policy,
                    "warning": eviction,
                },
                "daemons": daemons,
                "backlog": { "waiting": waiting, "pending": pending },
                "aws": aws,
            })
        );
        return Ok(if ok { exit::SUCCESS } else { exit::UNAVAILABLE });
    }
    let mark = |b: bool| if b { "ok  " } else { "FAIL" };
    out!(
        "{} redis    {}",
        mark(redis.is_ok()),
        pockitect_bus::redact_url(&g.redis_url)
    );
    if let Some(w) = &eviction {
        out!("warn redis    {w}");
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
    let aws_ok = aws.get("ok").and_then(|v| v.as_bool()).unwrap_or(false);
    if aws_ok {
        let id = &aws["identity"];
        out!(
            "{} aws      account {} as {}",
            mark(true),
            id["account"].as_str().unwrap_or("?"),
            id["arn"].as_str().unwrap_or("?")
        );
    } else if !daemons.is_empty() {
        out!(
            "{} aws      {}",
            mark(false),
            aws.get("message")
                .and_then(|m| m.as_str())
                .unwrap_or("unknown")
        );
        out!(
            "         configure credentials for the daemon (AWS_PROFILE, env keys, SSO) or set AWS_ENDPOINT_URL for a sandbox"
        );
    }
    Ok(if ok { exit::SUCCESS } else { exit::UNAVAILABLE })
}
