//! The audit trail in Redis: a stream of one entry per request (appended by the atomic end of
//! the request, see `scripts::FINISH`), trimmed by age and by length, and each running request's
//! list of the AWS resources it touched so far.

use pockitect_proto::RequestId;
use pockitect_proto::audit::{AuditEntry, Authorization, History, HistoryArgs, Touched};

use crate::{Bus, BusError, REMEMBER_SECS};

/// Entries read from Redis per round trip while looking for matches.
const READ_BATCH: usize = 500;

/// An entry as the stream stores it.
pub(crate) fn audit_json(entry: &AuditEntry) -> String {
    // Plain data: serialising cannot fail.
    serde_json::to_string(entry).unwrap_or_default()
}

impl Bus {
    /// The oldest stream id the audit stream keeps (`<ms>`), from the retention.
    pub(crate) fn oldest_audit_id(&self) -> String {
        let retention = chrono::Duration::from_std(self.config().audit_retention)
            .unwrap_or(chrono::Duration::MAX);
        let oldest = chrono::Utc::now()
            .checked_sub_signed(retention)
            .map_or(0, |t| t.timestamp_millis().max(0));
        oldest.to_string()
    }

    /// Notes resources a running request acted on, as it acts (kept a day; its end moves them
    /// into its audit entry).
    pub async fn record_touched(
        &self,
        request_id: &RequestId,
        touched: &[Touched],
    ) -> Result<(), BusError> {
        if touched.is_empty() {
            return Ok(());
        }
        let key = self.keys().touched(request_id.as_str());
        let mut pipe = redis::pipe();
        pipe.atomic();
        for t in touched {
            pipe.cmd("RPUSH")
                .arg(&key)
                .arg(serde_json::to_string(t).unwrap_or_default())
                .ignore();
        }
        pipe.cmd("EXPIRE").arg(&key).arg(REMEMBER_SECS).ignore();
        let () = pipe.query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// What a request has acted on so far, in order, without repeats.
    pub async fn touched(&self, request_id: &RequestId) -> Result<Vec<Touched>, BusError> {
        let raw: Vec<String> = redis::cmd("LRANGE")
            .arg(self.keys().touched(request_id.as_str()))
            .arg(0)
            .arg(-1)
            .query_async(&mut self.conn())
            .await?;
        let mut out: Vec<Touched> = Vec::with_capacity(raw.len());
        for t in raw.iter().filter_map(|r| serde_json::from_str(r).ok()) {
            if !out.contains(&t) {
                out.push(t);
            }
        }
        Ok(out)
    }

    /// Records how a request was authorized (kept a day: a daemon resuming it reads it back).
    pub async fn set_authorization(
        &self,
        request_id: &RequestId,
        a: &Authorization,
    ) -> Result<(), BusError> {
        let () = redis::cmd("SET")
            .arg(self.keys().authorized(request_id.as_str()))
            .arg(serde_json::to_string(a).unwrap_or_default())
            .arg("EX")
            .arg(REMEMBER_SECS)
            .query_async(&mut self.conn())
            .await?;
        Ok(())
    }

    /// How a request was authorized, if it was judged yet.
    pub async fn authorization(
        &self,
        request_id: &RequestId,
    ) -> Result<Option<Authorization>, BusError> {
        let raw: Option<String> = redis::cmd("GET")
            .arg(self.keys().authorized(request_id.as_str()))
            .query_async(&mut self.conn())
            .await?;
        Ok(raw.and_then(|r| serde_json::from_str(&r).ok()))
    }

    /// Appends an entry that ends no request (a refused payload that named no request id).
    pub async fn append_audit(&self, entry: &AuditEntry) -> Result<(), BusError> {
        let key = self.keys().audit_stream();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("XADD")
            .arg(&key)
            .arg("MINID")
            .arg("~")
            .arg(self.oldest_audit_id())
            .arg("*")
            .arg("entry")
            .arg(audit_json(entry))
            .ignore()
            .cmd("XTRIM")
            .arg(&key)
            .arg("MAXLEN")
            .arg("~")
            .arg(self.config().audit_max_entries)
            .ignore();
        let () = pipe.query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// The audit entries that match `filter`, newest first, at most its limit. Reads back from
    /// the newest, and no further than `since` (stream ids are the times entries were added).
    pub async fn history(&self, filter: &HistoryArgs) -> Result<History, BusError> {
        let key = self.keys().audit_stream();
        let limit = filter.limit();
        let oldest = filter
            .since
            .map_or("-".to_owned(), |t| t.timestamp_millis().max(0).to_string());
        let mut newest = "+".to_owned();
        let mut entries = Vec::new();
        loop {
            let batch: Vec<(String, Vec<(String, String)>)> = redis::cmd("XREVRANGE")
                .arg(&key)
                .arg(&newest)
                .arg(&oldest)
                .arg("COUNT")
                .arg(READ_BATCH)
                .query_async(&mut self.conn())
                .await?;
            let Some((last_id, _)) = batch.last() else {
                break;
            };
            let next = format!("({last_id}");
            let full = batch.len() == READ_BATCH;
            for (_, fields) in batch {
                let Some(entry) = fields
                    .into_iter()
                    .find(|(k, _)| k == "entry")
                    .and_then(|(_, v)| serde_json::from_str::<AuditEntry>(&v).ok())
                else {
                    continue;
                };
                if !entry.matches(filter) {
                    continue;
                }
                if entries.len() == limit {
                    return Ok(History {
                        entries,
                        truncated: true,
                    });
                }
                entries.push(entry);
            }
            if !full {
                break;
            }
            newest = next;
        }
        Ok(History {
            entries,
            truncated: false,
        })
    }
}
