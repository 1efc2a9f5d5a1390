//! No input makes loading or validation panic: every leaf of every legacy fixture is replaced
//! in turn by hostile values; each result either loads (and validates) or is an error.

use pockitect_blueprint::{ValidationContext, from_json_str, from_value, validate};
use serde_json::{Value, json};

fn hostile_values() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(-1),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(1.5),
        json!(""),
        json!(" "),
        json!("x".repeat(70_000)),
        json!("ünï\u{0}cödé🚀"),
        json!("../../etc/passwd"),
        json!([]),
        json!([null]),
        json!({}),
        json!({"password": "leak"}),
    ]
}

/// JSON pointers of every value in `doc`.
fn pointers(doc: &Value, prefix: String, out: &mut Vec<String>) {
    match doc {
        Value::Object(map) => {
            for (k, v) in map {
                let p = format!("{prefix}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(v, p, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let p = format!("{prefix}/{i}");
                out.push(p.clone());
                pointers(v, p, out);
            }
        }
        _ => {}
    }
}

#[test]
fn hostile_values_anywhere_never_panic() {
    let dir = crate::legacy_fixtures().join("tests");
    let ctx = ValidationContext::offline()
        .with_regions(["us-east-1"])
        .with_instance_types("us-east-1", ["t3.micro"])
        .with_db_classes("us-east-1", "postgres", ["db.t3.micro"]);
    let mut loaded = 0;
    let mut refused = 0;
    for name in [
        "blueprint_full_stack.json",
        "blueprint_custom_ports.json",
        "blueprint_minimal.json",
    ] {
        let text = std::fs::read_to_string(dir.join(name)).expect("fixture present");
        let original: Value = serde_json::from_str(&text).expect("json");
        let mut paths = Vec::new();
        pointers(&original, String::new(), &mut paths);
        for path in &paths {
            for value in hostile_values() {
                let mut doc = original.clone();
                if let Some(slot) = doc.pointer_mut(path) {
                    *slot = value;
                }
                // Both entry points: a value, and text (which also exercises positions).
                let text = doc.to_string();
                match (from_value(doc), from_json_str(&text)) {
                    (Ok(a), Ok(b)) => {
                        assert_eq!(a, b, "{name} {path}");
                        let _ = validate(&a, &ctx);
                        let _ = validate(&a, &ValidationContext::offline());
                        let _ = a.to_json_pretty().expect("a loaded blueprint serializes");
                        loaded += 1;
                    }
                    (Err(_), Err(e)) => {
                        assert!(!e.to_string().is_empty());
                        refused += 1;
                    }
                    (a, b) => panic!("{name} {path}: value and text disagree: {a:?} / {b:?}"),
                }
            }
        }
    }
    assert!(
        loaded > 0 && refused > 0,
        "loaded {loaded}, refused {refused}"
    );
}
