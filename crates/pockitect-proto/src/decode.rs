//! From a raw command payload to a request the daemon can run, or to the refusal it answers
//! with. The one place that reads what clients put on the command stream: the size limit, the
//! JSON, the envelope, the command's type and arguments, and the request id a refusal is
//! answered under.

use serde_json::Value;

use crate::command::data_path;
use crate::{Command, CommandError, Envelope, ErrorCode, ErrorPayload, RequestId};

/// Largest command payload a daemon accepts, in bytes. Anything bigger is dead-lettered: a
/// blueprint is a few kilobytes and a terminate list of 10,000 records stays well under this.
pub const MAX_COMMAND_BYTES: usize = 4 * 1024 * 1024;

/// What a refusal of a shapeless payload shows as the shape to send.
const EXAMPLE: &str =
    r#"{"type": "scan", "request_id": "<32 hex>", "data": {"regions": ["us-east-1"]}}"#;

/// A command read off the bus, ready to run.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The envelope's id, or a fresh one when the sender gave none: every request ends with a
    /// terminal event under some id.
    pub request_id: RequestId,
    pub command: Command,
    /// The envelope's `project_id` as sent. Only a hint for event routing: the project a command
    /// writes (and locks) comes from the command itself.
    pub project_id: Option<String>,
    /// Who sent it, as the envelope says (none: the earlier client).
    pub client: Option<crate::ClientInfo>,
    /// The approval it carries (empty when none).
    pub approval: crate::Approval,
}

/// Why a payload cannot be run, as the daemon answers it (an `error` event whose data is
/// [`Refusal::payload`]) and dead-letters it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// The id to answer under, when the payload carries a valid one (even if the rest is
    /// broken); without one nobody can be answered.
    pub request_id: Option<RequestId>,
    pub code: ErrorCode,
    /// JSON path of the value at fault (`type`, `data.regions[0]`), when one value is; the
    /// message names it too.
    pub field: Option<String>,
    /// What was wrong and what to send instead.
    pub message: String,
}

impl Refusal {
    /// The `data` of the error event that answers this refusal.
    pub fn payload(&self) -> ErrorPayload {
        ErrorPayload {
            code: self.code,
            message: self.message.clone(),
        }
    }
}

/// Reads a raw command payload: a JSON [`Envelope`] of at most [`MAX_COMMAND_BYTES`] whose
/// `type` and `data` make a [`Command`]. Never panics; every refusal says what was wrong, where
/// (the JSON path of the offending value when there is one) and what to send instead.
pub fn decode(payload: &[u8]) -> Result<Request, Refusal> {
    if payload.len() > MAX_COMMAND_BYTES {
        return Err(Refusal {
            request_id: salvage_request_id(payload),
            code: ErrorCode::TooLarge,
            field: None,
            message: format!(
                "read command: it is {} bytes, larger than the {MAX_COMMAND_BYTES} bytes a daemon accepts; send blueprints by project name and split long terminate lists",
                payload.len()
            ),
        });
    }
    // Through a `Value` first: a payload that is JSON but not an object is told apart from one
    // that is not JSON at all, the request id can be salvaged from a broken envelope without a
    // second parse, and serde's derive would otherwise read an array as a positional envelope.
    let doc: Value = serde_json::from_slice(payload).map_err(|e| Refusal {
        // The id may still be readable: the salvage skips the rest without reading it as
        // closely (a stray byte in a string, nesting deeper than a whole read allows).
        request_id: salvage_request_id(payload),
        code: ErrorCode::Malformed,
        field: None,
        message: format!(
            "read command: the payload is not JSON ({e}); send a JSON object like {EXAMPLE}"
        ),
    })?;
    let Value::Object(ref fields) = doc else {
        return Err(Refusal {
            request_id: None,
            code: ErrorCode::Malformed,
            field: None,
            message: format!(
                "read command: the payload is {}, not a JSON object; send a JSON object like {EXAMPLE}",
                json_kind(&doc)
            ),
        });
    };
    let salvaged = fields
        .get("request_id")
        .and_then(Value::as_str)
        .and_then(|s| RequestId::parse(s).ok());
    let env: Envelope = serde_path_to_error::deserialize(doc).map_err(|e| {
        let field = field_of(e.path());
        let inner = e.into_inner();
        let at = field
            .as_deref()
            .map(|f| format!("{f}: "))
            .unwrap_or_default();
        Refusal {
            request_id: salvaged.clone(),
            code: ErrorCode::Malformed,
            field,
            message: format!("read command: {at}{inner}; send a JSON object like {EXAMPLE}"),
        }
    })?;
    // A command sent to the stream without an id still gets a terminal event under a new one.
    let request_id = env.request_id.unwrap_or_default();
    match Command::parse(&env.kind, &env.data) {
        Ok(command) => Ok(Request {
            request_id,
            command,
            project_id: env.project_id,
            client: env.client.map(crate::ClientInfo::bounded),
            approval: env.approval.unwrap_or_default(),
        }),
        Err(e) => {
            let code = e.code();
            let (field, message) = match &e {
                CommandError::Unknown(_) => (Some("type".to_owned()), e.to_string()),
                CommandError::InvalidArguments { path, .. } => (
                    Some(data_path(path)),
                    format!("{e}; fix that field and send the command again"),
                ),
            };
            Err(Refusal {
                request_id: Some(request_id),
                code,
                field,
                message,
            })
        }
    }
}

/// Pulls a usable request id out of a payload that is not a valid command, if it has one: the
/// id a refusal is answered under, and what the legacy bridge deduplicates by.
pub fn salvage_request_id(payload: &[u8]) -> Option<RequestId> {
    // Only the id is kept: everything else is skipped without being built, so this stays
    // cheap on an oversized payload.
    #[derive(serde::Deserialize)]
    struct IdOnly<'a> {
        #[serde(borrow, default)]
        request_id: Option<std::borrow::Cow<'a, str>>,
    }
    // serde's derive would also read an array positionally; only an object names its id.
    if payload.trim_ascii_start().first() != Some(&b'{') {
        return None;
    }
    let v: IdOnly<'_> = serde_json::from_slice(payload).ok()?;
    RequestId::parse(v.request_id.as_deref()?).ok()
}

/// The path serde_path_to_error reports, or None for the document itself (`.`).
fn field_of(path: &serde_path_to_error::Path) -> Option<String> {
    let p = path.to_string();
    (p != ".").then_some(p)
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::fuzz;
    use crate::{PingArgs, ScanArgs};

    const ID: &str = "0123456789abcdef0123456789abcdef";

    fn refusal(payload: &str) -> Refusal {
        decode(payload.as_bytes()).expect_err("refused")
    }

    #[test]
    fn the_earlier_clients_command_decodes() {
        let raw = format!(
            r#"{{"type":"scan_all_regions","data":{{"regions":["us-east-1"]}},"request_id":"{ID}"}}"#
        );
        let req = decode(raw.as_bytes()).unwrap();
        assert_eq!(req.request_id.as_str(), ID);
        assert_eq!(
            req.command,
            Command::Scan(ScanArgs {
                regions: Some(vec!["us-east-1".into()]),
                types: None
            })
        );
        assert_eq!(req.project_id, None);
    }

    #[test]
    fn a_command_without_an_id_gets_a_fresh_one() {
        let a = decode(br#"{"type":"ping"}"#).unwrap();
        let b = decode(br#"{"type":"ping"}"#).unwrap();
        assert_eq!(a.command, Command::Ping(PingArgs { delay_ms: 0 }));
        assert_ne!(a.request_id, b.request_id);
    }

    #[test]
    fn an_oversized_command_is_refused_under_its_id() {
        let big = "x".repeat(MAX_COMMAND_BYTES);
        let r = refusal(&format!(
            r#"{{"request_id":"{ID}","type":"scan","data":{{"pad":"{big}"}}}}"#
        ));
        assert_eq!(r.code, ErrorCode::TooLarge);
        assert_eq!(r.request_id.as_ref().map(RequestId::as_str), Some(ID));
        assert!(r.message.contains("4194304 bytes"), "{}", r.message);
        assert!(r.message.contains("by project name"), "{}", r.message);
    }

    #[test]
    fn what_is_not_json_or_not_an_object_says_so() {
        let r = refusal("\u{0}\u{1} not json");
        assert_eq!(
            (r.code, r.request_id, r.field),
            (ErrorCode::Malformed, None, None)
        );
        assert!(
            r.message.contains("the payload is not JSON"),
            "{}",
            r.message
        );
        assert!(r.message.contains(r#"{"type": "scan""#), "{}", r.message);

        // serde would read an array as a positional envelope: it is refused as what it is.
        let r = refusal(r#"[1, "ping"]"#);
        assert!(
            r.message
                .contains("the payload is an array, not a JSON object"),
            "{}",
            r.message
        );
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let r = refusal(&deep);
        assert!(r.message.contains("recursion limit"), "{}", r.message);
    }

    #[test]
    fn a_broken_envelope_names_its_field_and_keeps_the_id() {
        let r = refusal(&format!(r#"{{"type": 7, "request_id": "{ID}"}}"#));
        assert_eq!(r.code, ErrorCode::Malformed);
        assert_eq!(r.field.as_deref(), Some("type"));
        assert_eq!(r.request_id.as_ref().map(RequestId::as_str), Some(ID));
        assert!(
            r.message
                .starts_with("read command: type: invalid type: integer `7`, expected a string"),
            "{}",
            r.message
        );

        let r = refusal(r#"{"type": "ping", "request_id": "no spaces"}"#);
        assert_eq!(
            (r.field.as_deref(), r.request_id),
            (Some("request_id"), None)
        );
        assert!(r.message.contains("'no spaces'"), "{}", r.message);

        let r = refusal(&format!(r#"{{"request_id": "{ID}"}}"#));
        assert_eq!(r.field, None);
        assert!(r.message.contains("missing field `type`"), "{}", r.message);
    }

    #[test]
    fn an_unknown_type_lists_the_known_ones() {
        let r = refusal(&format!(
            r#"{{"type": "launch_rockets", "request_id": "{ID}"}}"#
        ));
        assert_eq!(r.code, ErrorCode::UnknownCommand);
        assert_eq!(r.field.as_deref(), Some("type"));
        assert!(
            r.message.starts_with(
                "read command: type: no command is named 'launch_rockets'; use one of scan,"
            ),
            "{}",
            r.message
        );
    }

    #[test]
    fn bad_arguments_name_their_path_and_what_was_expected() {
        let r = refusal(&format!(
            r#"{{"type": "scan", "request_id": "{ID}", "data": {{"regions": ["us-east-1", 5]}}}}"#
        ));
        assert_eq!(r.code, ErrorCode::InvalidArguments);
        assert_eq!(r.field.as_deref(), Some("data.regions[1]"));
        assert!(
            r.message.contains(
                "data.regions[1]: invalid type: integer `5`, expected a string; fix that field"
            ),
            "{}",
            r.message
        );
        let r = refusal(r#"{"type": "power"}"#);
        assert_eq!(r.field.as_deref(), Some("data"));
        assert!(
            r.message.contains("'power': data: missing field `project`"),
            "{}",
            r.message
        );
    }

    #[test]
    fn a_refusal_is_answered_with_the_error_payload_on_the_wire() {
        let r = refusal(&format!(r#"{{"type": "nope", "request_id": "{ID}"}}"#));
        assert_eq!(
            serde_json::to_value(r.payload()).unwrap(),
            json!({"code": "unknown_command", "message": r.message})
        );
    }

    #[test]
    fn salvaging_reads_only_an_objects_valid_id() {
        let id = |s: &str| salvage_request_id(s.as_bytes()).map(String::from);
        assert_eq!(
            id(&format!(r#" {{"request_id": "{ID}", "type": 7}}"#)).as_deref(),
            Some(ID)
        );
        assert_eq!(id(r#"{"request_id": "a b"}"#), None);
        assert_eq!(id(r#"{"request_id": 5}"#), None);
        assert_eq!(id(&format!(r#"["{ID}"]"#)), None);
        assert_eq!(id("not json"), None);
    }

    proptest! {
        #![proptest_config(fuzz::config(256))]

        #[test]
        fn arbitrary_bytes_decode_or_are_refused_with_a_reason(payload in fuzz::bytes()) {
            let result = decode(&payload);
            if let Err(why) = fuzz::check_decoded(&payload, &result) {
                prop_assert!(false, "{why}\npayload: {}", fuzz::short(&String::from_utf8_lossy(&payload)));
            }
        }

        #[test]
        fn arbitrary_json_decodes_or_is_refused_with_a_reason(doc in fuzz::json_value()) {
            let payload = doc.to_string();
            let result = decode(payload.as_bytes());
            if let Err(why) = fuzz::check_decoded(payload.as_bytes(), &result) {
                prop_assert!(false, "{why}\npayload: {}", fuzz::short(&payload));
            }
        }

        #[test]
        fn every_valid_command_decodes_to_itself(cmd in fuzz::command()) {
            let env = json!({"type": cmd.kind(), "request_id": ID, "data": cmd.data()});
            match decode(env.to_string().as_bytes()) {
                Ok(req) => prop_assert!(
                    fuzz::same_command(&req.command, &cmd),
                    "{:?} decoded as {:?}", cmd, req.command
                ),
                Err(r) => prop_assert!(false, "{:?} refused: {}", cmd, r.message),
            }
        }

        #[test]
        fn a_mutated_command_decodes_or_is_refused_at_the_mutation(
            (doc, mutation) in fuzz::mutated_envelope()
        ) {
            let payload = doc.to_string();
            let result = decode(payload.as_bytes());
            let verdict = fuzz::check_decoded(payload.as_bytes(), &result)
                .and_then(|()| fuzz::check_mutation(&mutation, &result));
            if let Err(why) = verdict {
                prop_assert!(false, "{why}\npayload: {}", fuzz::short(&payload));
            }
        }
    }
}
