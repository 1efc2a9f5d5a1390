//! What validation knows of a region: its catalog (enabled regions, instance types, DB classes;
//! see `pockitect_aws::catalog`), cached in `<cache_dir>/catalog/<region>.json` for a day, so a
//! plan or deploy checks `t3.mircro` against what the region really offers without paying for
//! the calls every time. When AWS cannot be asked, a stale cache still serves; with none, the
//! offline checks apply (shape only) and the log says so.

use std::path::PathBuf;
use std::time::Duration;

use pockitect_aws::catalog::{self, Catalog};
use pockitect_blueprint::ValidationContext;

use crate::state::Daemon;

/// How long a fetched catalog is trusted.
pub const LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// A slow or unreachable AWS must not hold a plan for long: then the offline checks apply.
const FETCH_TIMEOUT: Duration = Duration::from_secs(20);

/// DescribeRegions answers in well under a second; a scan must not wait long to learn that AWS
/// cannot be asked.
const REGIONS_TIMEOUT: Duration = Duration::from_secs(10);

fn path(daemon: &Daemon, region: &str) -> PathBuf {
    daemon
        .settings
        .cache_dir
        .join("catalog")
        .join(format!("{region}.json"))
}

fn cached(daemon: &Daemon, region: &str) -> Option<Catalog> {
    let text = std::fs::read_to_string(path(daemon, region)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The region's catalog: a fresh cache, else fetched (and cached), else a stale cache.
pub async fn get(daemon: &Daemon, region: &str) -> Option<Catalog> {
    let old = cached(daemon, region);
    if let Some(c) = &old
        && c.is_fresh(LIFETIME)
    {
        return old;
    }
    match tokio::time::timeout(FETCH_TIMEOUT, catalog::fetch(&daemon.aws, region)).await {
        Ok(Ok(c)) => {
            if let Err(e) = crate::estate::write_atomic(&path(daemon, region), &c) {
                tracing::warn!(region, error = %e, "could not cache the region catalog");
            }
            Some(c)
        }
        Ok(Err(e)) => {
            tracing::warn!(region, error = %e, stale = old.is_some(), "could not fetch the region catalog; validating with what is known");
            old
        }
        Err(_) => {
            tracing::warn!(
                region,
                stale = old.is_some(),
                "the region catalog took over {FETCH_TIMEOUT:?}; validating with what is known"
            );
            old
        }
    }
}

/// The regions enabled for the account: from the home region's fresh cached catalog, else
/// asked of AWS (one DescribeRegions call). None when AWS cannot be asked (the log says why).
pub async fn enabled_regions(daemon: &Daemon) -> Option<Vec<String>> {
    let home = daemon.aws.home_region();
    if let Some(c) = cached(daemon, home)
        && c.is_fresh(LIFETIME)
        && !c.regions.is_empty()
    {
        return Some(c.regions);
    }
    match tokio::time::timeout(REGIONS_TIMEOUT, daemon.aws.enabled_regions()).await {
        Ok(Ok(regions)) => Some(regions),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "could not list the enabled regions");
            None
        }
        Err(_) => {
            tracing::warn!("listing the enabled regions took over {REGIONS_TIMEOUT:?}");
            None
        }
    }
}

/// The validation context for a blueprint in `region`: its catalog, or offline when unknown.
pub async fn context_for(daemon: &Daemon, region: &str) -> ValidationContext {
    match get(daemon, region).await {
        Some(c) => ValidationContext::offline().with_offer(
            region,
            &c.regions,
            &c.instance_types,
            &c.db_classes,
        ),
        None => ValidationContext::offline(),
    }
}
