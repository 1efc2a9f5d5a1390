//! Moving an earlier version's keys to their tagged names (see [`crate::Keys`]): a daemon that
//! starts on a Redis where an earlier version ran finds the commands still queued (with their
//! consumer group and pending entries), the audit trail, the replay stream, the dead letters,
//! and every request's and project's leases and records where the bus now looks for them.

use crate::{Bus, BusError};

/// Keys asked for per SCAN round trip, and renamed per pipeline.
const BATCH: usize = 1000;

/// What [`Bus::migrate_legacy_keys`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Migration {
    /// Keys renamed to their new names.
    pub moved: usize,
    /// Old keys left as they are because their new name is taken: something of an earlier
    /// version (a daemon, a client) went on writing the old names after a migration. Each is
    /// reported, never overwritten.
    pub conflicts: Vec<String>,
}

impl Bus {
    /// Renames every key of an earlier version's layout (`<prefix>:<name>`) to its tagged name
    /// (`{<prefix>}:<name>`) with RENAMENX, which keeps a key's value, expiry and (for a
    /// stream) consumer groups and pending entries. Idempotent: a second run, or one that runs
    /// alongside another daemon's, moves nothing twice and overwrites nothing. Call it once
    /// when a daemon starts, before it reads commands: an earlier version's daemons and clients
    /// use the old names, so upgrade them all together.
    ///
    /// Nothing to do on a Redis Cluster: the earlier layout never worked there (its scripts
    /// touched keys of several slots), so no cluster holds its keys.
    pub async fn migrate_legacy_keys(&self) -> Result<Migration, BusError> {
        let mut out = Migration::default();
        if self.is_cluster() {
            return Ok(out);
        }
        let keys = self.keys();
        let pattern = keys.legacy_pattern();
        let mut conn = self.conn();
        let mut cursor: u64 = 0;
        loop {
            // Raw bytes: a key of someone else's that is not UTF-8 is skipped, not an error.
            let (next, batch): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(BATCH)
                .query_async(&mut conn)
                .await?;
            let moves: Vec<(String, String)> = batch
                .into_iter()
                .filter_map(|old| String::from_utf8(old).ok())
                .filter_map(|old| keys.migrated(&old).map(|new| (old, new)))
                .collect();
            if !moves.is_empty() {
                let mut pipe = redis::pipe();
                pipe.ignore_errors();
                for (old, new) in &moves {
                    pipe.cmd("RENAMENX").arg(old).arg(new);
                }
                let results: Vec<redis::RedisResult<i64>> = pipe.query_async(&mut conn).await?;
                for ((old, _), result) in moves.into_iter().zip(results) {
                    match result {
                        Ok(1) => out.moved += 1,
                        Ok(_) => out.conflicts.push(old),
                        // SCAN can return a key twice, and another daemon starting at the same
                        // time may have moved it: either way it is where it belongs.
                        Err(e) => {
                            let still_there: bool = redis::cmd("EXISTS")
                                .arg(&old)
                                .query_async(&mut conn)
                                .await?;
                            if still_there {
                                return Err(e.into());
                            }
                        }
                    }
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        out.conflicts.sort();
        out.conflicts.dedup();
        Ok(out)
    }
}
