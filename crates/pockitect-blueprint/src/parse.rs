//! JSON text ⇄ [`Blueprint`], with legacy upgrade and positioned errors.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::legacy::{self, LegacyNote};
use crate::model::Blueprint;

/// Origin named in errors for text that did not come from a file.
const INPUT: &str = "<input>";

/// Parses a blueprint (canonical or written by the earlier Python Pockitect) from JSON text.
///
/// Syntax and type errors carry the line and column. Legacy fields are upgraded (see
/// [`crate::legacy`]). The result is not validated: call [`crate::validate()`].
pub fn from_json_str(text: &str) -> Result<Blueprint> {
    parse_text(text, INPUT, None).map(|(bp, _)| bp)
}

/// Like [`from_json_str`], also returning what the legacy upgrade rewrote.
pub fn from_json_str_with_notes(text: &str) -> Result<(Blueprint, Vec<LegacyNote>)> {
    parse_text(text, INPUT, None)
}

/// Builds a blueprint from an already-parsed JSON value (for example a command payload).
pub fn from_value(mut doc: Value) -> Result<Blueprint> {
    check_root(&doc, INPUT)?;
    legacy::upgrade(&mut doc, None);
    typed(doc, INPUT)
}

/// Pretty JSON with a 2-space indent and a trailing newline: the file format.
pub fn to_json_pretty(bp: &Blueprint) -> Result<String> {
    let mut text = serde_json::to_string_pretty(bp).map_err(|source| Error::Serialize {
        slug: bp.slug().into_owned(),
        source,
    })?;
    text.push('\n');
    Ok(text)
}

/// Parses text read from `origin` (a path or `<input>`); `store_slug` is the slug a project
/// store knows the file by.
pub(crate) fn parse_text(
    text: &str,
    origin: &str,
    store_slug: Option<&str>,
) -> Result<(Blueprint, Vec<LegacyNote>)> {
    let mut doc: Value = serde_json::from_str(text).map_err(|e| located(origin, e))?;
    check_root(&doc, origin)?;
    let notes = legacy::upgrade(&mut doc, store_slug);
    match typed(doc, origin) {
        Ok(bp) => Ok((bp, notes)),
        Err(Error::Field {
            origin,
            path,
            message,
            ..
        }) => {
            // A value has no positions. The same typed parse over the original text meets the
            // same wrong value and knows where it is.
            let (line, column) = match serde_json::from_str::<Blueprint>(text) {
                Err(positioned) => (positioned.line(), positioned.column()),
                Ok(_) => (0, 0),
            };
            Err(Error::Field {
                origin,
                path,
                message,
                line,
                column,
            })
        }
        Err(other) => Err(other),
    }
}

/// The typed model of a parsed document; a wrong type is named by its JSON path.
fn typed(doc: Value, origin: &str) -> Result<Blueprint> {
    serde_path_to_error::deserialize::<_, Blueprint>(doc).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        // serde's own messages say `invalid type: string "x", expected u16`: keep them, but
        // lead with the field so the user knows where to look.
        Error::Field {
            origin: origin.to_owned(),
            path,
            message: inner.to_string(),
            line: 0,
            column: 0,
        }
    })
}

fn located(origin: &str, source: serde_json::Error) -> Error {
    Error::Parse {
        origin: origin.to_owned(),
        line: source.line(),
        column: source.column(),
        source,
    }
}

fn check_root(doc: &Value, origin: &str) -> Result<()> {
    let kind = match doc {
        Value::Object(_) => return Ok(()),
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
    };
    Err(Error::Shape {
        origin: origin.to_owned(),
        message: format!(
            "the top level is {kind}; a blueprint is an object with 'project', 'network', \
             'compute', 'data' and 'security'"
        ),
        source: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let err = from_json_str("{\n  \"project\": {\n    \"name\": \"x\",\n  }\n}").unwrap_err();
        match &err {
            Error::Parse { line, column, .. } => {
                assert_eq!((*line, *column), (4, 3));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("line 4, column 3"), "{err}");
    }

    #[test]
    fn type_errors_carry_their_path_what_was_expected_and_where() {
        let text = "{\n  \"network\": {\n    \"rules\": [ { \"port\": \"https\" } ]\n  }\n}";
        let err = from_json_str(text).unwrap_err();
        let Error::Field { path, line, .. } = &err else {
            panic!("unexpected {err:?}");
        };
        assert_eq!((path.as_str(), *line), ("network.rules[0].port", 3));
        assert!(
            err.to_string().contains(
                r#"network.rules[0].port: expected a port number (0-65535), found the string "https""#
            ),
            "{err}"
        );
        let err = from_value(serde_json::json!({"data": {"db": {"allocated_storage_gb": true}}}))
            .unwrap_err();
        assert!(
            err.to_string().contains(
                "data.db.allocated_storage_gb: expected a whole number (such as 20), found true"
            ),
            "{err}"
        );
        let err = from_json_str(r#"{"project": {"name": 7}}"#).unwrap_err();
        assert!(
            err.to_string().contains("project.name: invalid type"),
            "{err}"
        );
    }

    #[test]
    fn non_objects_are_refused_with_a_reason() {
        let err = from_json_str("[1, 2]").unwrap_err();
        assert!(
            err.to_string().contains("the top level is an array"),
            "{err}"
        );
        let err = from_value(Value::Null).unwrap_err();
        assert!(err.to_string().contains("null"), "{err}");
    }

    #[test]
    fn port_as_string_is_accepted() {
        let bp = from_json_str(r#"{"network": {"rules": [{"port": "22", "cidr": "10.0.0.0/8"}]}}"#)
            .unwrap();
        assert_eq!(bp.network.rules[0].port, Some(22));
    }

    #[test]
    fn pretty_output_ends_with_newline_and_uses_two_spaces() {
        let bp = from_json_str(r#"{"project": {"name": "x"}}"#).unwrap();
        let text = to_json_pretty(&bp).unwrap();
        assert!(text.ends_with("}\n"));
        assert!(
            text.starts_with("{\n  \"project\": {\n    \"name\": \"x\","),
            "{text}"
        );
    }
}
