//! The project store: round trips lose nothing, writes are atomic, errors name the file.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use pockitect_blueprint::{Blueprint, Error, ProjectStore, Rule, from_json_str};

use crate::legacy_fixtures as fixtures_dir;

fn dir_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("lists")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn every_legacy_fixture_round_trips_through_the_store() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut count = 0;
    for sub in ["tests", "training"] {
        let entries = std::fs::read_dir(fixtures_dir().join(sub)).expect("fixtures are present");
        for entry in entries {
            let path = entry.expect("entry").path();
            // One store per fixture: several fixtures share a project name.
            let store = ProjectStore::new(tmp.path().join(format!("{sub}-{count}")));
            let first = ProjectStore::load_path(&path).expect("loads");
            let saved = store.save(&first).expect("saves");
            let again = store.load(&first.slug()).expect("loads back");
            assert_eq!(first, again, "{} changed in a round trip", path.display());

            // Saving the loaded copy writes the same bytes: the canonical form is stable.
            let text = std::fs::read_to_string(&saved).expect("reads");
            store.save(&again).expect("saves again");
            assert_eq!(text, std::fs::read_to_string(&saved).expect("reads"));
            assert!(text.ends_with("}\n") && !text.ends_with("\n\n"));
            count += 1;
        }
    }
    assert_eq!(count, 184);
}

#[test]
fn unknown_fields_survive_load_and_save() {
    let text = r#"{
      "project": { "name": "Keeper", "region": "us-east-1", "cost": { "monthly": 12.5 } },
      "network": { "vpc_mode": "new", "future_flag": true,
                   "rules": [ { "port": 22, "cidr": "10.0.0.0/8", "label": "ssh", "x": [1, 2] } ] },
      "compute": { "instance_type": "t3.micro", "image_name": "Ubuntu 22.04" },
      "data": { "db": null, "s3_bucket": { "name": "keeper-assets", "lifecycle": "30d" } },
      "security": { "iam_role": { "enabled": true, "managed_policies": ["arn:aws:iam::aws:policy/X"] } },
      "top_level": { "nested": [ { "deep": null } ] }
    }"#;
    let bp = from_json_str(text).expect("loads");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ProjectStore::new(dir.path());
    let path = store.save(&bp).expect("saves");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("reads")).expect("json");

    assert_eq!(saved["project"]["cost"]["monthly"], 12.5);
    assert_eq!(saved["network"]["future_flag"], true);
    assert_eq!(saved["network"]["rules"][0]["label"], "ssh");
    assert_eq!(saved["network"]["rules"][0]["x"], serde_json::json!([1, 2]));
    assert_eq!(saved["compute"]["image_name"], "Ubuntu 22.04");
    assert_eq!(saved["data"]["s3_bucket"]["lifecycle"], "30d");
    assert_eq!(
        saved["security"]["iam_role"]["managed_policies"][0],
        "arn:aws:iam::aws:policy/X"
    );
    assert_eq!(
        saved["top_level"]["nested"][0]["deep"],
        serde_json::Value::Null
    );
    // The canonical fields are written too.
    assert_eq!(saved["project"]["slug"], "keeper");
    assert_eq!(saved["data"]["db"], serde_json::Value::Null);
    assert_eq!(store.load("keeper").expect("loads back"), bp);
}

#[test]
fn saves_pretty_json_with_two_spaces_and_a_trailing_newline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ProjectStore::new(dir.path().join("projects"));
    let bp = Blueprint::new("Brenden's Blog", "us-east-2");
    let path = store.save(&bp).expect("saves (creating the directory)");
    assert_eq!(path, dir.path().join("projects/brendens-blog.json"));
    let text = std::fs::read_to_string(&path).expect("reads");
    assert!(
        text.starts_with("{\n  \"project\": {\n    \"name\": \"Brenden's Blog\",\n"),
        "{text}"
    );
    assert!(text.ends_with("}\n"));
}

#[test]
fn saves_leave_no_temporary_files_and_readers_never_see_half_a_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(ProjectStore::new(dir.path()));
    let mut bp = Blueprint::new("Busy", "us-east-1");
    store.save(&bp).expect("first save");

    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (store, done) = (Arc::clone(&store), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut reads = 0;
            while !done.load(Ordering::Relaxed) || reads == 0 {
                let bp = store.load("busy").expect("every read sees a whole file");
                assert_eq!(bp.slug(), "busy");
                reads += 1;
            }
            reads
        })
    };
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let store = Arc::clone(&store);
            let mut bp = bp.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    // Files of very different sizes make a torn write visible.
                    bp.network.rules = (0..(i * 7 + w) % 40)
                        .map(|p| Rule::tcp(1000 + p as u16, "10.0.0.0/8", "load"))
                        .collect();
                    store.save(&bp).expect("saves");
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer");
    }
    done.store(true, Ordering::Relaxed);
    let reads = reader.join().expect("reader");
    assert!(reads > 0);

    bp.project.description = "last".into();
    store.save(&bp).expect("last save");
    assert_eq!(
        dir_names(dir.path()),
        ["busy.json"],
        "temporary files were left behind"
    );
    assert_eq!(
        store.load("busy").expect("loads").project.description,
        "last"
    );
}

#[cfg(unix)]
#[test]
fn an_existing_file_keeps_its_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ProjectStore::new(dir.path());
    let bp = Blueprint::new("Perm", "us-east-1");
    let path = store.save(&bp).expect("saves");
    assert_eq!(
        std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777,
        0o644
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    store.save(&bp).expect("saves again");
    assert_eq!(
        std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn list_reports_each_file_with_its_blueprint_or_its_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ProjectStore::new(dir.path());
    store
        .save(&Blueprint::new("Zeta", "us-east-1"))
        .expect("saves");
    store
        .save(&Blueprint::new("Alpha", "us-east-1"))
        .expect("saves");
    std::fs::write(
        dir.path().join("broken.json"),
        "{\n  \"project\": {\n    \"name\": \"x\",,\n",
    )
    .expect("writes");
    std::fs::write(dir.path().join(".alpha.json.tmp"), "half").expect("writes");
    std::fs::write(dir.path().join(".hidden.json"), "{}").expect("writes");
    std::fs::write(dir.path().join("notes.txt"), "not a blueprint").expect("writes");
    std::fs::create_dir(dir.path().join("dir.json")).expect("mkdir");

    let listed = store.list().expect("lists");
    let slugs: Vec<&str> = listed.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(slugs, ["alpha", "broken", "zeta"]);
    assert!(listed[0].1.is_ok() && listed[2].1.is_ok());

    let err = listed[1]
        .1
        .as_ref()
        .expect_err("broken.json does not parse");
    match err {
        Error::Parse {
            origin,
            line,
            column,
            ..
        } => {
            assert!(origin.ends_with("broken.json"), "{origin}");
            assert_eq!((*line, *column), (3, 17));
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("broken.json") && message.contains("line 3, column 17"),
        "{message}"
    );
}

#[test]
fn load_names_the_file_line_and_column_of_a_type_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("typed.json");
    std::fs::write(
        &path,
        "{\n  \"network\": {\n    \"rules\": \"22\"\n  }\n}\n",
    )
    .expect("writes");
    let err = ProjectStore::load_path(&path).expect_err("rules must be a list");
    let Error::Field { line, path, .. } = &err else {
        panic!("expected a positioned error, got {err:?}");
    };
    assert_eq!((*line, path.as_str()), (3, "network.rules"));
    let message = err.to_string();
    assert!(message.contains("typed.json"), "{message}");
    assert!(message.contains("expected a sequence"), "{message}");
}

#[test]
fn refuses_slugs_that_are_not_slugs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ProjectStore::new(dir.path());
    let mut bp = Blueprint::new("x", "us-east-1");
    bp.project.slug = "../escape".into();
    let err = store.save(&bp).expect_err("refused");
    assert!(matches!(err, Error::InvalidSlug { .. }), "{err:?}");
    assert!(matches!(
        store.load("../escape"),
        Err(Error::InvalidSlug { .. })
    ));
    assert!(dir_names(dir.path()).is_empty());
}

#[test]
fn a_missing_file_and_an_unreadable_one_are_told_apart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ProjectStore::new(dir.path());
    assert!(matches!(store.load("ghost"), Err(Error::NotFound { .. })));
    assert!(!store.exists("ghost"));
    std::fs::write(dir.path().join("bin.json"), [0xff, 0xfe, 0x00]).expect("writes");
    assert!(matches!(store.load("bin"), Err(Error::Read { .. })));
}
