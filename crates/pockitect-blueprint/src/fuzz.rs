//! Hostile input for the blueprint parser, and what it must do with it: proptest strategies
//! (arbitrary JSON; the example project and legacy fixtures mutated once: fields dropped,
//! replaced, retyped, added, huge strings, deep nesting) and the checks every result must pass:
//! no panic, the value and text entry points and the project store agree, a loaded blueprint
//! validates (every issue at a path) and survives a round trip, and a refusal names the JSON
//! path at fault. Shared by the property tests and the fuzz bench; the JSON generators and
//! mutations are the decoder's (`pockitect_proto::fuzz`). Behind the `fuzz` feature.

use proptest::prelude::*;
use serde_json::Value;

pub use pockitect_proto::fuzz::{
    Mutation, MutationKind, config, json_value, mutate, points_at, short,
};

use crate::{Error, ProjectStore, ValidationContext, from_json_str, from_value, validate};

/// The documents mutations start from: the example project and legacy fixtures of the earlier
/// Python Pockitect, all inside the repository.
pub const SEEDS: &[(&str, &str)] = &[
    (
        "projects/example-blog.json",
        include_str!("../../../projects/example-blog.json"),
    ),
    (
        "blueprint_full_stack.json",
        include_str!("../../../tests/fixtures/legacy-blueprints/tests/blueprint_full_stack.json"),
    ),
    (
        "blueprint_custom_ports.json",
        include_str!("../../../tests/fixtures/legacy-blueprints/tests/blueprint_custom_ports.json"),
    ),
    (
        "blueprint_minimal.json",
        include_str!("../../../tests/fixtures/legacy-blueprints/tests/blueprint_minimal.json"),
    ),
    (
        "005-full-stack.json",
        include_str!("../../../tests/fixtures/legacy-blueprints/training/005-full-stack.json"),
    ),
];

/// One of [`SEEDS`], parsed (a seed that is not JSON would be a broken fixture: it shows as
/// `null`, which the checks then refuse loudly).
pub fn seed() -> impl Strategy<Value = Value> {
    proptest::sample::select(SEEDS)
        .prop_map(|(_, text)| serde_json::from_str(text).unwrap_or(Value::Null))
}

/// A seed mutated once.
pub fn mutated_blueprint() -> impl Strategy<Value = (Value, Mutation)> {
    mutate(seed())
}

/// A catalog that knows a little, so the membership checks run too.
fn catalog() -> ValidationContext {
    ValidationContext::offline()
        .with_regions(["us-east-1", "us-east-2"])
        .with_instance_types("us-east-1", ["t3.micro"])
        .with_db_classes("us-east-1", "postgres", ["db.t3.micro"])
}

/// What the parser made of one document.
#[derive(Debug)]
pub struct Parsed {
    /// `from_value` of the document.
    pub value: crate::Result<crate::Blueprint>,
    /// `from_json_str` of its text.
    pub text: crate::Result<crate::Blueprint>,
}

/// Runs both entry points over `doc`'s text: `from_json_str`, and `from_value` of the text
/// read back as a value (so that both read floats the same way: serde_json's text reader
/// rounds some differently from the value they were written from).
pub fn parse(doc: &Value) -> Parsed {
    let text = doc.to_string();
    let reread = serde_json::from_str::<Value>(&text).unwrap_or_else(|_| doc.clone());
    Parsed {
        value: from_value(reread),
        text: from_json_str(&text),
    }
}

/// Checks the two entry points agree (except that text nested deeper than serde_json reads is
/// refused only as text), a loaded blueprint validates with every issue at a path and survives
/// a round trip, and a refusal names what is wrong. Err says what was broken.
pub fn check_parsed(p: &Parsed) -> Result<(), String> {
    match (&p.value, &p.text) {
        (Ok(a), Ok(b)) => {
            if a != b {
                return Err("from_value and from_json_str loaded different blueprints".into());
            }
            check_loaded(a)
        }
        (Err(a), Err(b)) => {
            check_error(a)?;
            check_error(b)
        }
        (_, Err(Error::Parse { source, .. })) if source.to_string().contains("recursion limit") => {
            Ok(())
        }
        (Ok(_), Err(e)) => Err(format!("only the text was refused: {e}")),
        (Err(e), Ok(_)) => Err(format!("only the value was refused: {e}")),
    }
}

fn check_loaded(bp: &crate::Blueprint) -> Result<(), String> {
    for ctx in [ValidationContext::offline(), catalog()] {
        let report = validate(bp, &ctx);
        for issue in report.errors.iter().chain(&report.warnings) {
            if issue.path.trim().is_empty() || issue.message.trim().is_empty() {
                return Err(format!(
                    "validation issue without a path or message: {issue:?}"
                ));
            }
        }
    }
    let text = bp
        .to_json_pretty()
        .map_err(|e| format!("a loaded blueprint does not serialize: {e}"))?;
    if let Err(e) = from_json_str(&text) {
        return Err(format!("its own output does not load: {e}"));
    }
    // Compared through a value, not the text: serde_json's text reader may round a float an
    // unknown field kept one step off the value it was written from (its `float_roundtrip`
    // is off), which is no change of the blueprint's meaning.
    let value = serde_json::to_value(bp).map_err(|e| format!("does not serialize: {e}"))?;
    match from_value(value) {
        // A blank slug is written as it was and derived again on load, as `slug()` derives it.
        Ok(back) if with_slug(back.clone()) == with_slug(bp.clone()) => Ok(()),
        Ok(_) => Err(format!(
            "the round trip changed the blueprint: {}",
            short(&text)
        )),
        Err(e) => Err(format!("its own output does not load as a value: {e}")),
    }
}

fn with_slug(mut bp: crate::Blueprint) -> crate::Blueprint {
    bp.project.slug = bp.slug().into_owned();
    bp
}

/// An error must say where: the JSON path of a wrong field, the line and column of unreadable
/// text, or why the document is not a blueprint at all.
pub fn check_error(e: &Error) -> Result<(), String> {
    let shown = e.to_string();
    let ok = match e {
        Error::Field { path, message, .. } => {
            !path.is_empty() && !message.trim().is_empty() && shown.contains(path.as_str())
        }
        Error::Parse { line, .. } => *line > 0 && shown.contains("line"),
        Error::Shape { message, .. } => message.contains("top level"),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("error does not say where: {shown}"))
    }
}

/// Checks that a refusal of a mutated blueprint points at the mutation: a field error at the
/// mutated value, inside it, or at an ancestor naming the mutated key; a shape error only for
/// a replaced document; unreadable text only for deep nesting.
pub fn check_mutation(m: &Mutation, p: &Parsed) -> Result<(), String> {
    for e in [&p.value, &p.text]
        .into_iter()
        .filter_map(|r| r.as_ref().err())
    {
        let ok = match e {
            Error::Field { path, message, .. } => points_at(Some(path), message, &m.path),
            Error::Shape { .. } => m.path.is_empty(),
            Error::Parse { .. } => matches!(m.kind, MutationKind::Nest(_)),
            _ => false,
        };
        if !ok {
            return Err(format!(
                "error does not point at the mutation ({}): {e}",
                m.describe()
            ));
        }
    }
    Ok(())
}

/// Loads `doc` through the project store the daemon uses (a file under `dir` named `slug`) and
/// checks it agrees with [`from_json_str`] on whether it loads, and names where it fails.
pub fn check_store(dir: &std::path::Path, slug: &str, doc: &Value) -> Result<(), String> {
    let text = doc.to_string();
    let store = ProjectStore::new(dir);
    let path = dir.join(format!("{slug}.json"));
    std::fs::write(&path, &text).map_err(|e| format!("write '{}': {e}", path.display()))?;
    let loaded = store.load(slug);
    let parsed = from_json_str(&text);
    match (&loaded, &parsed) {
        (Ok(bp), Ok(_)) => check_loaded(bp),
        (Err(e), Err(_)) => check_error(e),
        (Ok(_), Err(e)) => Err(format!("the store loaded what from_json_str refused: {e}")),
        (Err(e), Ok(_)) => Err(format!("the store refused what from_json_str loaded: {e}")),
    }
}
