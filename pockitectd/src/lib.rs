//! The Pockitect daemon: the composition root that wires configuration, the Redis bus, the AWS
//! engine and the project store into a pool of listeners. Each listener takes one command at a
//! time from the shared stream, keeps its lease alive while a handler works, and publishes the
//! handler's events, ending every request with exactly one terminal event.

mod accounts;
mod audit;
mod bridge;
mod catalog;
mod estate;
mod events;
mod follow;
mod handlers;
mod heartbeat;
pub mod logging;
mod policy;
mod prices;
mod private_redis;
mod settings;
mod state;
mod watcher;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use pockitect_bus::{Bus, BusConfig};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[doc(hidden)]
pub use estate::seed_scan_cache;
pub use settings::{Args, Settings};
pub use state::Daemon;

/// Cancels `token` on SIGINT or SIGTERM.
pub fn shutdown_on_signals(token: CancellationToken) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = match signal(SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM");
                    let _ = tokio::signal::ctrl_c().await;
                    token.cancel();
                    return;
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutdown requested");
        token.cancel();
    });
}

/// Connects to Redis, retrying with backoff until it answers or the token is cancelled. A
/// configuration Redis cannot fix (a bad prefix) fails at once.
async fn connect_bus(cfg: &BusConfig, token: &CancellationToken) -> anyhow::Result<Option<Bus>> {
    let mut delay = Duration::from_millis(200);
    let mut warned = false;
    loop {
        match Bus::connect(cfg.clone()).await {
            Ok(bus) => return Ok(Some(bus)),
            Err(e @ pockitect_bus::BusError::Prefix { .. }) => return Err(e.into()),
            Err(e) => {
                if !warned {
                    tracing::warn!(error = %e, "waiting for redis (start redis-server or set POCKITECT_REDIS_URL)");
                    warned = true;
                }
            }
        }
        tokio::select! {
            _ = token.cancelled() => return Ok(None),
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// Runs the daemon until `shutdown` is cancelled: listeners, the legacy pub/sub bridge and the
/// heartbeat. On shutdown it stops taking commands, lets in-flight ones finish within the
/// grace period, leaves the rest pending for another daemon to reclaim, and returns. With no
/// Redis configured it uses this user's private `redis-server`, starting it when none
/// answers, and stops it last (unless other daemons still use it).
pub async fn run(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.cache_dir)
        .with_context(|| format!("create cache dir '{}'", settings.cache_dir.display()))?;
    std::fs::create_dir_all(&settings.projects_dir)
        .with_context(|| format!("create projects dir '{}'", settings.projects_dir.display()))?;
    let Some((redis, private)) = choose_redis(&settings, &shutdown).await? else {
        return Ok(());
    };
    let result = serve(settings, redis, shutdown).await;
    // Last: the daemon's own shutdown above still needed Redis.
    if let Some(p) = private {
        p.stop().await;
    }
    result
}

/// The Redis in use and, when it is this user's private server, this daemon's part in running it.
type Chosen = (
    pockitect_bus::local::Resolved,
    Option<private_redis::PrivateRedis>,
);

/// The Redis to use, as the CLI and TUI find it (`pockitect_bus::local`): the configured URL;
/// else this user's private server when it runs (joined, so this daemon can take it over when
/// its owner leaves); else a Redis answering on the default address; else a private server
/// started now. None when `shutdown` came first.
async fn choose_redis(
    settings: &Settings,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<Chosen>> {
    use pockitect_bus::local::{LocalError, Locator, Resolved, Source};
    let locator = Locator::from_env();
    let found = locator.resolve(settings.redis_url.as_deref()).await;
    let join = match &found {
        Ok(
            r @ Resolved {
                source: Source::Private { .. },
                ..
            },
        ) => r.url == locator.private_url(),
        Ok(_) => false,
        Err(LocalError::NotFound { .. }) => true,
        Err(_) => false,
    };
    if !join {
        let found = found?;
        tracing::info!(
            redis = %pockitect_bus::redact_url(&found.url),
            source = found.source.name(),
            why = %found.why(),
            "which redis"
        );
        return Ok(Some((found, None)));
    }
    let Some(private) = private_redis::PrivateRedis::start(locator.clone(), shutdown).await? else {
        return Ok(None);
    };
    let found = Resolved {
        url: private.url(),
        source: Source::Private {
            runtime_file: locator.runtime_file(),
        },
    };
    tracing::info!(
        redis = %found.url,
        source = found.source.name(),
        why = %found.why(),
        "which redis"
    );
    Ok(Some((found, Some(private))))
}

async fn serve(
    settings: Settings,
    redis: pockitect_bus::local::Resolved,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut bus_cfg = BusConfig::new(redis.url.clone(), settings.prefix.clone());
    bus_cfg.audit_retention = settings.audit_retention;
    bus_cfg.audit_max_entries = settings.audit_max_entries;
    tracing::info!(
        redis = %pockitect_bus::redact_url(&redis.url),
        prefix = %settings.prefix,
        workers = settings.workers,
        daemon = %settings.daemon_id,
        "pockitectd starting"
    );
    let Some(bus) = connect_bus(&bus_cfg, &shutdown).await? else {
        return Ok(());
    };
    migrate_legacy_keys(&bus).await;
    warn_if_redis_can_evict(&bus).await;
    let secrets = open_secrets(&settings).await?;
    let daemon = Arc::new(Daemon::new(settings, bus, secrets).await);
    let tracker = TaskTracker::new();
    for n in 0..daemon.settings.workers {
        tracker.spawn(worker::listen(daemon.clone(), n, shutdown.clone()));
    }
    tracker.spawn(bridge::run(daemon.clone(), shutdown.clone()));
    tracker.spawn(watcher::run(daemon.clone(), shutdown.clone()));
    tracker.spawn(follow::run(daemon.clone(), shutdown.clone()));
    let beat = tokio::spawn(heartbeat::run(daemon.clone(), shutdown.clone()));
    tracker.spawn(heartbeat::periodic_refresh(
        daemon.clone(),
        shutdown.clone(),
    ));
    tracker.close();
    tracing::info!(daemon = %daemon.settings.daemon_id, "pockitectd ready");
    tracker.wait().await;
    beat.abort();
    let _ = daemon
        .bus
        .remove_heartbeat(&daemon.settings.daemon_id)
        .await;
    tracing::info!("pockitectd stopped");
    Ok(())
}

/// Moves an earlier version's keys to their new names before any command is read, so that its
/// queued commands, audit trail and leases carry on. A failure (an ACL user not allowed the old
/// names, say) leaves them where they are and is no reason not to serve new commands.
async fn migrate_legacy_keys(bus: &Bus) {
    match bus.migrate_legacy_keys().await {
        Ok(m) => {
            if m.moved > 0 {
                tracing::info!(
                    moved = m.moved,
                    "renamed the earlier version's redis keys to their new names"
                );
            } else {
                tracing::debug!("no key of an earlier version to rename");
            }
            for key in &m.conflicts {
                tracing::warn!(
                    key = %key,
                    "left an earlier version's key as it is: its new name is taken, so something (an earlier pockitectd or client?) went on using the old names; stop it, then keep whichever of the two keys holds what you need"
                );
            }
        }
        Err(e) => tracing::warn!(
            error = %e,
            "could not rename the earlier version's redis keys: its queued commands and audit trail stay under their old names until a daemon allowed RENAMENX on them starts"
        ),
    }
}

/// Warns when a full Redis would delete the daemon's keys (request leases, project locks,
/// waiting answers) instead of refusing writes. Managed services often forbid CONFIG GET: that
/// is no reason to stop, so it is only noted at debug level.
async fn warn_if_redis_can_evict(bus: &Bus) {
    match bus.maxmemory_policy().await {
        Ok(policy) => match pockitect_bus::eviction_warning(&policy) {
            Some(advice) => {
                tracing::warn!(policy = %policy, advice = %advice, "redis may evict the daemon's keys")
            }
            None => {
                tracing::debug!(policy = %policy, "redis refuses writes when full rather than evict")
            }
        },
        Err(e) => tracing::debug!(
            error = %e,
            "cannot read redis maxmemory-policy (CONFIG GET not allowed?); make sure it is 'noeviction'"
        ),
    }
}

/// Opens the secret store once at start (probing the keyring can take a D-Bus round trip, so
/// off the runtime's threads) and says which one is in use.
async fn open_secrets(settings: &Settings) -> anyhow::Result<pockitect_secrets::SecretStore> {
    let (backend, dir) = (settings.secrets, settings.secrets_dir.clone());
    let store =
        tokio::task::spawn_blocking(move || pockitect_secrets::SecretStore::open(backend, dir))
            .await
            .context("open the secret store")??;
    match store.fallback_reason() {
        Some(why) => tracing::warn!(
            dir = %store.file_dir().display(),
            reason = %why,
            "no OS keyring: database passwords and the credentials of pockitect login are kept in 0600 files (choose with --secrets)"
        ),
        None => {
            tracing::info!(store = %store.describe(), "where database passwords are kept")
        }
    }
    Ok(store)
}
