//! What the daemon knows of the AWS estate: the last scan's records per account and region,
//! held in memory for queries and written to `cache/<account>-<region>.json`
//! (`<account>-global.json` for S3 and IAM; `<region>.json` when STS could not name the
//! account, and from daemons before accounts) atomically, so a restarted daemon answers
//! queries before its first scan. Every daemon of a group takes in every scan's chunks
//! (`crate::follow`), whichever daemon ran the scan.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use chrono::{DateTime, Utc};
use pockitect_proto::{ResourceFilter, ResourceRecord, ResourceType, ScanChunk};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct CacheFile {
    region: String,
    scanned_at: DateTime<Utc>,
    records: Vec<ResourceRecord>,
}

pub struct Estate {
    dir: PathBuf,
    regions: RwLock<BTreeMap<String, Vec<ResourceRecord>>>,
}

fn valid_chunk_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Estate {
    /// Reads every cache file; an unreadable one is logged and ignored (the next scan rewrites it).
    pub fn load(dir: &Path) -> Self {
        let mut regions = BTreeMap::new();
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().and_then(|e| e.to_str()) != Some("json") {
                    continue;
                }
                match std::fs::read(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|b| {
                        serde_json::from_slice::<CacheFile>(&b).map_err(|e| e.to_string())
                    }) {
                    Ok(c) => {
                        regions.insert(c.region, c.records);
                    }
                    Err(e) => {
                        tracing::warn!(file = %path.display(), error = %e, "ignoring unreadable cache file")
                    }
                }
            }
        }
        Self {
            dir: dir.to_path_buf(),
            regions: RwLock::new(regions),
        }
    }

    /// Replaces a chunk's records of the scanned `types` (others stay) and rewrites its file.
    pub fn replace(
        &self,
        chunk: &str,
        types: &BTreeSet<ResourceType>,
        records: Vec<ResourceRecord>,
    ) {
        if !valid_chunk_name(chunk) {
            tracing::warn!(chunk = %chunk, "not caching a chunk with an unexpected name");
            return;
        }
        let snapshot = {
            let mut map = self.regions.write().unwrap_or_else(|p| p.into_inner());
            let entry = map.entry(chunk.to_owned()).or_default();
            entry.retain(|r| !types.contains(&r.kind));
            entry.extend(records);
            entry.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
            entry.clone()
        };
        let file = CacheFile {
            region: chunk.to_owned(),
            scanned_at: Utc::now(),
            records: snapshot,
        };
        if let Err(e) = write_atomic(&self.dir.join(format!("{chunk}.json")), &file) {
            tracing::warn!(chunk = %chunk, error = %e, "could not write the scan cache");
        }
    }

    /// Takes in a scan's chunk: its records of the types it lists, in its account's chunk when
    /// it names one (a daemon working on several accounts), else in its region's.
    pub fn apply(&self, chunk: &ScanChunk) {
        let types: BTreeSet<ResourceType> = chunk.types.iter().copied().collect();
        match chunk.account.as_deref() {
            Some(account) => {
                self.replace_in_account(account, &chunk.region, &types, chunk.records.clone())
            }
            None => self.replace(&chunk.region, &types, chunk.records.clone()),
        }
    }

    /// Like [`Estate::replace`] for one account's chunk of a many-account scan (kept under
    /// `<account>-<region>`); the account's records cached by a scan of that account alone
    /// (under the bare region) are dropped, so no record is held twice.
    pub fn replace_in_account(
        &self,
        account: &str,
        region: &str,
        types: &BTreeSet<ResourceType>,
        records: Vec<ResourceRecord>,
    ) {
        self.replace(&format!("{account}-{region}"), types, records);
        let stale: Option<Vec<ResourceRecord>> = {
            let map = self.regions.read().unwrap_or_else(|p| p.into_inner());
            map.get(region)
                .filter(|rs| {
                    rs.iter()
                        .any(|r| r.account == account && types.contains(&r.kind))
                })
                .cloned()
        };
        if let Some(rs) = stale {
            let kept: Vec<ResourceRecord> = rs
                .into_iter()
                .filter(|r| !(r.account == account && types.contains(&r.kind)))
                .collect();
            // Every type of the bare chunk is rewritten with what is kept.
            let all: BTreeSet<ResourceType> = ResourceType::ALL.iter().copied().collect();
            self.replace(region, &all, kept);
        }
    }

    /// Records matching the filter, sorted by region, type and id.
    pub fn query(&self, filter: &ResourceFilter) -> Vec<ResourceRecord> {
        let map = self.regions.read().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<ResourceRecord> = map
            .values()
            .flatten()
            .filter(|r| filter.matches(r))
            .cloned()
            .collect();
        out.sort_by(|a, b| (&a.region, a.kind, &a.id).cmp(&(&b.region, b.kind, &b.id)));
        out
    }

    pub fn len(&self) -> usize {
        let map = self.regions.read().unwrap_or_else(|p| p.into_inner());
        map.values().map(Vec::len).sum()
    }
}

/// Writes `records` into the scan cache under `dir` as a scan of every type would (one file per
/// region), so a daemon started on it answers queries at once. For tests and benchmarks that
/// need a large estate without scanning one.
pub fn seed_scan_cache(dir: &Path, records: Vec<ResourceRecord>) {
    let mut by_region: BTreeMap<String, Vec<ResourceRecord>> = BTreeMap::new();
    for r in records {
        by_region.entry(r.region.clone()).or_default().push(r);
    }
    let estate = Estate::load(dir);
    let all: BTreeSet<ResourceType> = ResourceType::ALL.into_iter().collect();
    for (region, records) in by_region {
        estate.replace(&region, &all, records);
    }
}

/// Temp file in the same directory, fsync, rename, fsync the directory: a reader sees the old
/// file or the new one, never half of one.
pub(crate) fn write_atomic(path: &Path, value: &impl Serialize) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    serde_json::to_writer(&mut tmp, value)?;
    tmp.write_all(b"\n")?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(kind: ResourceType, id: &str, region: &str) -> ResourceRecord {
        ResourceRecord::new(kind, id, region, Default::default())
    }

    #[test]
    fn replace_keeps_other_types_and_survives_reload() {
        let dir = tempfile::tempdir().unwrap();
        let e = Estate::load(dir.path());
        let all: BTreeSet<_> = ResourceType::ALL.into_iter().collect();
        e.replace(
            "eu-west-1",
            &all,
            vec![
                rec(ResourceType::Vpc, "vpc-1", "eu-west-1"),
                rec(ResourceType::Subnet, "subnet-1", "eu-west-1"),
            ],
        );
        let only_vpcs: BTreeSet<_> = [ResourceType::Vpc].into_iter().collect();
        e.replace(
            "eu-west-1",
            &only_vpcs,
            vec![rec(ResourceType::Vpc, "vpc-2", "eu-west-1")],
        );
        let ids: Vec<String> = e
            .query(&ResourceFilter::default())
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, vec!["vpc-2".to_owned(), "subnet-1".to_owned()]);
        let reloaded = Estate::load(dir.path());
        assert_eq!(reloaded.len(), 2);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(
            leftovers.len(),
            1,
            "only eu-west-1.json, no temp files: {leftovers:?}"
        );
    }

    #[test]
    fn odd_chunk_names_are_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let e = Estate::load(dir.path());
        e.replace("../escape", &BTreeSet::new(), vec![]);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
