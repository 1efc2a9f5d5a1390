//! Query answers go to the client that asked, not to everyone. A query's terminal event (the
//! whole estate, say) would otherwise sit in the shared replay stream and in its done record for
//! a day, once per query: a console re-querying every few seconds would fill Redis. So the
//! terminal event everybody sees carries only a few counts and a [`ReplyRef`], and the full
//! event waits under `<prefix>:reply:<request id>` for [`REPLY_SECS`]; the asking client reads
//! it once with [`Bus::answer`], which deletes it.

use pockitect_proto::{Envelope, ReplyRef, Status};
use serde_json::{Map, Value};

use crate::{Bus, BusError, End, Refusal, decode_envelope};

/// How long a query's answer (and its done record) waits for the client that asked. A client
/// reads it right after the terminal event arrives; this only bounds what an abandoned client
/// leaves behind.
pub const REPLY_SECS: u64 = 5 * 60;

/// Strings longer than this are left out of a terminal event's summary.
const SUMMARY_STRING_MAX: usize = 200;

/// The small terminal event everybody sees for the answer `full` whose JSON is `payload`:
/// `full` with its data cut down to its scalar fields, the length of each array under
/// `counts`, and where the answer waits under `reply`.
fn summarise(full: &Envelope, key: String, payload: &str) -> Envelope {
    let mut data = Map::new();
    let mut counts = Map::new();
    if let Value::Object(fields) = &full.data {
        for (name, v) in fields {
            match v {
                Value::Array(items) => {
                    counts.insert(name.clone(), items.len().into());
                }
                Value::String(s) if s.len() > SUMMARY_STRING_MAX => {}
                Value::Object(_) => {}
                scalar => {
                    data.insert(name.clone(), scalar.clone());
                }
            }
        }
    }
    if !counts.is_empty() {
        data.insert("counts".to_owned(), Value::Object(counts));
    }
    let pointer = ReplyRef {
        key,
        ttl_secs: REPLY_SECS,
        bytes: payload.len() as u64,
    };
    // A struct of a string and two integers always serialises.
    data.insert(
        ReplyRef::FIELD.to_owned(),
        serde_json::to_value(pointer).unwrap_or_default(),
    );
    Envelope {
        data: Value::Object(data),
        ..full.clone()
    }
}

/// True for the terminal events whose data is an answer (errors and cancellations stay whole:
/// they are small, and every watcher should see why a request failed).
fn is_answer(env: &Envelope) -> bool {
    matches!(env.status, Some(Status::Success | Status::Partial))
}

impl Bus {
    /// [`Bus::finish`] for a query: an answer is stored for the client that asked and the
    /// terminal event carries only its summary (see the module docs); the done record is kept
    /// [`REPLY_SECS`], as long as the answer, since nothing needs it after that.
    pub async fn finish_query(
        &self,
        env: &Envelope,
        consumer: &str,
        delivery_id: Option<&str>,
    ) -> Result<bool, BusError> {
        if !is_answer(env) {
            let end = End {
                done_secs: REPLY_SECS,
                reply: None,
                refusal: Refusal::No,
                audit: None,
            };
            return self.finish_with(env, consumer, delivery_id, end).await;
        }
        let rid = env
            .request_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let payload = env.to_json();
        let small = summarise(env, self.keys().reply(&rid), &payload);
        let end = End {
            done_secs: REPLY_SECS,
            reply: Some(&payload),
            refusal: Refusal::No,
            audit: None,
        };
        self.finish_with(&small, consumer, delivery_id, end).await
    }

    /// The whole terminal event of a request this client sent: for a query, its answer, read
    /// (and deleted) from where it waits; any other event is returned as it is. Call it once,
    /// from the client that sent the request, when its terminal event arrives.
    pub async fn answer(&self, terminal: Envelope) -> Result<Envelope, BusError> {
        let Some(pointer) = terminal.reply_ref() else {
            return Ok(terminal);
        };
        let rid = terminal
            .request_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        // Our own key name, not the event's: a client reads only under its own prefix.
        let raw: Option<String> = redis::cmd("GETDEL")
            .arg(self.keys().reply(&rid))
            .query_async(&mut self.conn())
            .await?;
        match raw {
            Some(s) => decode_envelope(&s, "query answer"),
            None => Err(BusError::ReplyExpired {
                request_id: rid,
                ttl_secs: pointer.ttl_secs,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pockitect_proto::{RequestId, event_type};
    use serde_json::json;

    #[test]
    fn the_summary_keeps_counts_and_scalars_and_points_to_the_answer() {
        let records: Vec<Value> = (0..900)
            .map(|i| json!({"id": format!("i-{i}"), "tags": {"Name": "x".repeat(100)}}))
            .collect();
        let full = Envelope::event(
            event_type::RESOURCES,
            Some(RequestId::new()),
            None,
            Status::Success,
            json!({"total": 900, "records": records, "note": "n".repeat(500), "slug": "blog"}),
        );
        let payload = full.to_json();
        let small = summarise(&full, "p:reply:x".into(), &payload);
        assert_eq!(small.kind, full.kind);
        assert_eq!(small.status, full.status);
        assert_eq!(small.request_id, full.request_id);
        assert_eq!(small.data["total"], 900);
        assert_eq!(small.data["counts"]["records"], 900);
        assert_eq!(small.data["slug"], "blog");
        assert!(small.data.get("note").is_none(), "long strings stay out");
        let r = small.reply_ref().expect("a pointer");
        assert_eq!(r.key, "p:reply:x");
        assert_eq!(r.bytes, payload.len() as u64);
        assert!(small.to_json().len() < 512, "{}", small.to_json());
    }

    #[test]
    fn errors_are_not_answers() {
        let err = Envelope::event(
            event_type::ERROR,
            Some(RequestId::new()),
            None,
            Status::Error,
            json!({"code": "not_found", "message": "no such project"}),
        );
        assert!(!is_answer(&err));
        assert!(err.reply_ref().is_none());
    }
}
