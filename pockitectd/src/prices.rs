//! The prices estimates are made with: live list prices from the AWS Price List API, asked
//! for what a blueprint needs and kept in `<cache dir>/pricing/prices.json` with the day each was
//! fetched, laid over the table bundled with Pockitect. When the API cannot be reached the
//! bundled table prices what the cache lacks, and the estimate says why.
//!
//! Only a plan or a deploy asks the API (a few requests, once a week per price); the project
//! list, `cost` and `waste` use what is cached, so listing projects never waits on AWS.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use pockitect_aws::Aws;
use pockitect_aws::pricing::{self, Answer};
use pockitect_blueprint::Blueprint;
use pockitect_cost::{LivePrice, PriceKey, PriceTable};
use serde::{Deserialize, Serialize};

/// A cached price older than this is asked again (AWS changes list prices rarely).
const FRESH_DAYS: i64 = 7;
/// After the API failed, it is not asked again for this long: every plan would wait otherwise.
const RETRY_AFTER: Duration = Duration::from_secs(300);

/// The cache file: one entry per price.
#[derive(Debug, Default, Serialize, Deserialize)]
struct CacheFile {
    prices: Vec<CachedPrice>,
}

#[derive(Debug, Serialize, Deserialize)]
struct CachedPrice {
    #[serde(flatten)]
    key: PriceKey,
    usd: f64,
    /// `YYYY-MM-DD`, UTC.
    fetched: String,
}

pub struct PriceBook {
    path: PathBuf,
    /// False: never ask the API (`--prices bundled`).
    live: bool,
    cache: Mutex<BTreeMap<PriceKey, LivePrice>>,
    /// When and why the API last failed.
    failed: Mutex<Option<(Instant, String)>>,
}

impl PriceBook {
    /// Reads the cache in `cache_dir` (a missing or unreadable one is empty: it is only a
    /// cache). A directory of its own: the scan cache reads every JSON file of `cache_dir`.
    pub fn load(cache_dir: &Path, live: bool) -> Self {
        let path = cache_dir.join("pricing").join("prices.json");
        // With live prices off, prices fetched earlier are not used either: every estimate is
        // the bundled table's, as the plan's is.
        let cache = std::fs::read_to_string(&path)
            .ok()
            .filter(|_| live)
            .and_then(|text| match serde_json::from_str::<CacheFile>(&text) {
                Ok(f) => Some(f),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "price cache unreadable; starting it again");
                    None
                }
            })
            .unwrap_or_default()
            .prices
            .into_iter()
            .map(|p| {
                (
                    p.key,
                    LivePrice {
                        usd: p.usd,
                        fetched: p.fetched,
                    },
                )
            })
            .collect();
        Self {
            path,
            live,
            cache: Mutex::new(cache),
            failed: Mutex::new(None),
        }
    }

    /// The bundled table with every cached live price over it. No AWS call.
    pub fn cached(&self) -> PriceTable {
        PriceTable::bundled().with_live(self.lock_cache().clone())
    }

    /// The table to estimate `bp` with: first asks the Price List API for the prices `bp`
    /// needs that are not cached or are older than a week (unless it failed a moment ago or
    /// live prices are off), then lays every cached price over the bundled table. What could
    /// not be had live is said in the table's notes.
    pub async fn for_blueprint(&self, aws: &Aws, bp: &Blueprint) -> PriceTable {
        if !self.live {
            return PriceTable::bundled().clone();
        }
        let today = Utc::now().date_naive();
        let needs = pockitect_cost::price_needs(bp);
        let wanted: BTreeSet<PriceKey> = {
            let cache = self.lock_cache();
            needs
                .iter()
                .filter(|k| cache.get(*k).is_none_or(|p| !fresh(p, today)))
                .cloned()
                .collect()
        };
        let mut notes = Vec::new();
        if !wanted.is_empty() {
            match self.recent_failure() {
                Some(why) => notes.push(why),
                None => notes.extend(self.ask(aws, &wanted, today).await),
            }
        }
        let mut table = self.cached();
        let stale: Vec<String> = {
            let cache = self.lock_cache();
            needs
                .iter()
                .filter_map(|k| cache.get(k).map(|p| (k, p)))
                .filter(|(_, p)| !fresh(p, today))
                .map(|(k, p)| format!("{k} (fetched {})", p.fetched))
                .collect()
        };
        if !stale.is_empty() {
            notes.push(format!(
                "live prices older than {FRESH_DAYS} days are used as they are: {}",
                stale.join(", ")
            ));
        }
        for n in notes {
            table = table.with_note(n);
        }
        table
    }

    /// Asks the API, caches what it answers, and says what it did not.
    async fn ask(&self, aws: &Aws, wanted: &BTreeSet<PriceKey>, today: NaiveDate) -> Vec<String> {
        let fetched = pricing::fetch(aws, wanted).await;
        let mut notes = Vec::new();
        if let Some((_, e)) = fetched.failed.first()
            && fetched.answers.is_empty()
        {
            let why = format!(
                "the AWS Price List API could not be asked ({e}): lines it did not price before \
                 are priced from the bundled table"
            );
            tracing::warn!(error = %e, "AWS Price List API unavailable; estimates use the bundled price table");
            *self.failed.lock().unwrap_or_else(|p| p.into_inner()) =
                Some((Instant::now(), e.to_string()));
            notes.push(why);
            return notes;
        }
        let day = today.format("%Y-%m-%d").to_string();
        {
            let mut cache = self.lock_cache();
            for (key, usd) in fetched.prices() {
                cache.insert(
                    key.clone(),
                    LivePrice {
                        usd,
                        fetched: day.clone(),
                    },
                );
            }
        }
        for (key, answer) in &fetched.answers {
            match answer {
                Answer::Price(_) => {}
                Answer::NotListed => notes.push(format!(
                    "the AWS Price List API lists no price for {key}: the bundled table's is used"
                )),
                Answer::Ambiguous(prices) => notes.push(format!(
                    "the AWS Price List API lists several prices for {key} ({}): the bundled \
                     table's is used",
                    prices
                        .iter()
                        .map(|p| format!("${p}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        }
        for (key, e) in &fetched.failed {
            notes.push(format!(
                "the AWS Price List API did not answer for {key} ({e}): the bundled table's \
                 price is used"
            ));
        }
        if fetched.prices().next().is_some()
            && let Err(e) = self.save()
        {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot write the price cache");
        }
        notes
    }

    /// Why the API is not asked now, when it failed within [`RETRY_AFTER`].
    fn recent_failure(&self) -> Option<String> {
        let failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        let (at, why) = failed.as_ref()?;
        let ago = at.elapsed();
        (ago < RETRY_AFTER).then(|| {
            format!(
                "the AWS Price List API could not be asked {} s ago ({why}); it is asked again \
                 after {} s: lines it did not price before are priced from the bundled table",
                ago.as_secs(),
                RETRY_AFTER.as_secs()
            )
        })
    }

    /// Writes the cache: a temporary file renamed over the old, so a crash leaves one or the
    /// other whole.
    fn save(&self) -> std::io::Result<()> {
        let file = CacheFile {
            prices: self
                .lock_cache()
                .iter()
                .map(|(key, p)| CachedPrice {
                    key: key.clone(),
                    usd: p.usd,
                    fetched: p.fetched.clone(),
                })
                .collect(),
        };
        let text = serde_json::to_string_pretty(&file).map_err(std::io::Error::other)?;
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &self.path)
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, BTreeMap<PriceKey, LivePrice>> {
        // Inserts and clones only: a panic elsewhere cannot leave the map half-written.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Fetched within [`FRESH_DAYS`] of `today`.
fn fresh(p: &LivePrice, today: NaiveDate) -> bool {
    NaiveDate::parse_from_str(&p.fetched, "%Y-%m-%d")
        .is_ok_and(|d| (today - d).num_days() < FRESH_DAYS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_file_survives_a_restart_and_a_broken_one_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let book = PriceBook::load(dir.path(), true);
        let key = PriceKey::NatGateway {
            region: "eu-west-1".into(),
        };
        book.lock_cache().insert(
            key.clone(),
            LivePrice {
                usd: 0.048,
                fetched: "2026-12-03".into(),
            },
        );
        book.save().unwrap();
        let again = PriceBook::load(dir.path(), true);
        assert_eq!(
            again
                .cached()
                .nat_gateway_hourly("eu-west-1")
                .map(|p| (p.usd, p.live)),
            Some((0.048, true))
        );
        assert_eq!(
            PriceBook::load(dir.path(), false).cached().live_count(),
            0,
            "--prices bundled ignores the cache"
        );
        std::fs::write(dir.path().join("pricing/prices.json"), "{not json").unwrap();
        assert_eq!(PriceBook::load(dir.path(), true).cached().live_count(), 0);
    }

    #[test]
    fn a_week_old_price_is_stale() {
        let p = |day: &str| LivePrice {
            usd: 1.0,
            fetched: day.into(),
        };
        let today = NaiveDate::from_ymd_opt(2026, 12, 10).unwrap();
        assert!(fresh(&p("2026-12-04"), today));
        assert!(!fresh(&p("2026-12-03"), today));
        assert!(!fresh(&p("garbage"), today));
    }
}
