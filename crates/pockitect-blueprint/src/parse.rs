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
    serde_json::from_value(doc).map_err(|source| Error::Shape {
        origin: INPUT.to_owned(),
        message: "the JSON does not have the shape of a blueprint".to_owned(),
        source: Some(source),
    })
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
    match serde_json::from_value::<Blueprint>(doc) {
        Ok(bp) => Ok((bp, notes)),
        Err(source) => {
            // A value has no positions. The same typed parse over the original text meets the
            // same wrong type and knows where it is.
            match serde_json::from_str::<Blueprint>(text) {
                Err(positioned) if positioned.line() > 0 => Err(located(origin, positioned)),
                _ => Err(Error::Shape {
                    origin: origin.to_owned(),
                    message: "the JSON does not have the shape of a blueprint".to_owned(),
                    source: Some(source),
                }),
            }
        }
    }
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
    use std::error::Error as _;

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
    fn type_errors_carry_line_and_column() {
        let text = "{\n  \"network\": {\n    \"rules\": [ { \"port\": true } ]\n  }\n}";
        let err = from_json_str(text).unwrap_err();
        let Error::Parse { line, source, .. } = &err else {
            panic!("unexpected {err:?}");
        };
        assert_eq!(*line, 3);
        assert!(source.to_string().contains("whole number"), "{source}");
        assert!(err.source().is_some());
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
