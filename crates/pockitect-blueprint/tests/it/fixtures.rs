//! Every blueprint written by the earlier Python Pockitect loads, and either validates or is
//! refused for a reason a user can act on. The refused ones are pinned below.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pockitect_blueprint::{
    CertificateMode, KeyPairMode, ProjectStore, Report, ValidationContext, VpcEnv, VpcMode,
    validate,
};

use crate::legacy_fixtures as fixtures_dir;

fn fixture_files() -> Vec<(String, PathBuf)> {
    let root = fixtures_dir();
    assert!(
        root.is_dir(),
        "legacy fixtures missing at {}: they are part of the repository, restore them with git",
        root.display()
    );
    let mut files = Vec::new();
    for sub in ["tests", "training"] {
        let dir = root.join(sub);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.extension().is_some_and(|e| e == "json") {
                let name = format!("{sub}/{}", path.file_name().unwrap().to_string_lossy());
                files.push((name, path));
            }
        }
    }
    files.sort();
    files
}

/// Fixture → the error paths validation reports for it (sorted). Every other fixture must
/// validate with no error.
fn expected_refusals() -> BTreeMap<&'static str, &'static [(&'static str, &'static str)]> {
    const PG_ADMIN: &[(&str, &str)] = &[(
        "data.db.username",
        "'admin' is a reserved word for RDS postgres",
    )];
    const STORAGE_10: &[(&str, &str)] = &[(
        "data.db.allocated_storage_gb",
        "10 GB is below the RDS minimum of 20 GB",
    )];
    const STORAGE_15: &[(&str, &str)] = &[(
        "data.db.allocated_storage_gb",
        "15 GB is below the RDS minimum of 20 GB",
    )];
    const DB_BACKEND: &[(&str, &str)] = &[(
        "data.db.username",
        "'database_backend_admin' is 22 characters; RDS postgres master user names have at most 16",
    )];
    const MICROSERVICE: &[(&str, &str)] = &[(
        "data.db.username",
        "'microservice_admin' is 18 characters; RDS postgres master user names have at most 16",
    )];
    const NOTIFICATION: &[(&str, &str)] = &[(
        "data.db.username",
        "'notification_admin' is 18 characters; RDS mysql master user names have at most 16",
    )];
    BTreeMap::from([
        ("tests/blueprint_full_stack.json", PG_ADMIN),
        ("tests/blueprint_large_db.json", PG_ADMIN),
        ("tests/blueprint_postgres_app.json", PG_ADMIN),
        ("training/001-simple-blog.json", PG_ADMIN),
        ("training/009-database-backend.json", DB_BACKEND),
        ("training/038-testing-infrastructure.json", STORAGE_15),
        ("training/049-notification-service.json", NOTIFICATION),
        ("training/054-scalable-microservice.json", MICROSERVICE),
        ("training/059-cost-effective-staging.json", STORAGE_10),
        ("training/062-storage-optimization.json", STORAGE_10),
        ("training/069-budget-constrained.json", STORAGE_10),
        ("training/077-small-blog.json", PG_ADMIN),
        ("training/080-mobile-backend.json", PG_ADMIN),
        ("training/081-ml-experiments.json", PG_ADMIN),
        ("training/082-analytics.json", PG_ADMIN),
        ("training/088-mobile-backend.json", PG_ADMIN),
        ("training/089-ml-experiments.json", PG_ADMIN),
        ("training/093-small-blog.json", PG_ADMIN),
        ("training/122-analytics.json", PG_ADMIN),
        ("training/131-budget-constrained.json", STORAGE_10),
        ("training/139-cost-effective-staging.json", STORAGE_10),
        ("training/143-database-backend.json", DB_BACKEND),
        ("training/168-notification-service.json", NOTIFICATION),
        ("training/179-scalable-microservice.json", MICROSERVICE),
        ("training/182-simple-blog.json", PG_ADMIN),
        ("training/184-storage-optimization.json", STORAGE_10),
        ("training/186-testing-infrastructure.json", STORAGE_15),
    ])
}

fn load_and_validate(path: &Path) -> Report {
    let bp = ProjectStore::load_path(path)
        .unwrap_or_else(|e| panic!("{} does not load: {e:?}", path.display()));
    validate(&bp, &ValidationContext::offline())
}

#[test]
fn every_legacy_fixture_loads_and_validates_or_is_refused_with_a_reason() {
    let files = fixture_files();
    assert_eq!(
        files.len(),
        184,
        "expected the 184 legacy fixtures (22 tests + 162 training)"
    );

    let mut refused: BTreeMap<String, Report> = BTreeMap::new();
    let mut warnings = 0;
    for (name, path) in &files {
        let report = load_and_validate(path);
        warnings += report.warnings.len();
        if !report.is_ok() {
            refused.insert(name.clone(), report);
        }
    }

    println!(
        "{} of {} legacy fixtures refused ({warnings} warnings in all):",
        refused.len(),
        files.len()
    );
    println!("{:<42} reason", "fixture");
    for (name, report) in &refused {
        for issue in &report.errors {
            println!("{name:<42} {issue}");
        }
    }

    // Each refusal names the field, quotes the value and says what to do.
    for (name, report) in &refused {
        for issue in &report.errors {
            let m = &issue.message;
            assert!(
                m.contains('\'') || m.chars().next().is_some_and(|c| c.is_ascii_digit()),
                "{name}: '{issue}' does not show the offending value"
            );
            assert!(
                ["choose", "set", "shorten", "use", "remove"]
                    .iter()
                    .any(|verb| m.contains(verb)),
                "{name}: '{issue}' does not say what to do"
            );
        }
    }

    let expected = expected_refusals();
    let actual: BTreeMap<&str, Vec<(&str, &str)>> = refused
        .iter()
        .map(|(name, report)| {
            let issues = report
                .errors
                .iter()
                .map(|issue| {
                    let wanted = expected
                        .get(name.as_str())
                        .and_then(|list| list.iter().find(|(path, _)| *path == issue.path))
                        .filter(|(_, fragment)| issue.message.contains(fragment));
                    // Report the expected fragment when it matches, the whole message when not.
                    wanted
                        .copied()
                        .unwrap_or((issue.path.as_str(), issue.message.as_str()))
                })
                .collect();
            (name.as_str(), issues)
        })
        .collect();
    let expected: BTreeMap<&str, Vec<(&str, &str)>> =
        expected.into_iter().map(|(k, v)| (k, v.to_vec())).collect();
    assert_eq!(
        actual, expected,
        "the set of refused legacy fixtures or their reasons changed"
    );
}

#[test]
fn legacy_fields_are_normalised() {
    let dir = fixtures_dir();
    // vpc_env, image_name and no slug.
    let (bp, notes) =
        ProjectStore::load_path_with_notes(&dir.join("training/049-notification-service.json"))
            .expect("loads");
    assert_eq!(bp.slug(), "notification-service");
    assert_eq!(bp.network.vpc_mode, VpcMode::Shared);
    assert_eq!(bp.network.vpc_env, Some(VpcEnv::Prod));
    assert_eq!(bp.image_alias_or_id(), "ubuntu-22.04");
    assert!(bp.iam_enabled(), "iam_role.enabled defaults to true");
    assert!(
        bp.compute.extra.contains_key("image_name"),
        "unknown fields are kept"
    );
    assert!(bp.project.extra.contains_key("cost"));
    let paths: Vec<&str> = notes.iter().map(|n| n.path.as_str()).collect();
    assert_eq!(
        paths,
        ["project.slug", "network.vpc_mode", "compute.image_id"]
    );

    // Legacy 'acm' certificates become 'request'.
    let bp = ProjectStore::load_path(&dir.join("training/005-full-stack.json")).expect("loads");
    assert_eq!(bp.security.certificate.mode, CertificateMode::Request);
    assert!(bp.certificate_enabled());

    // Key pair mode 'existing', db and bucket skipped, no certificate section.
    let bp =
        ProjectStore::load_path(&dir.join("tests/blueprint_existing_keypair.json")).expect("loads");
    assert_eq!(bp.security.key_pair.mode, KeyPairMode::Existing);
    assert!(!bp.has_db() && !bp.has_bucket() && !bp.certificate_enabled());
    assert_eq!(bp.network.vpc_mode, VpcMode::Default);

    // iam_role.enabled false.
    let bp = ProjectStore::load_path(&dir.join("tests/blueprint_no_iam.json")).expect("loads");
    assert!(!bp.iam_enabled());

    // An ami- id.
    let bp = ProjectStore::load_path(&dir.join("tests/blueprint_full.json")).expect("loads");
    assert_eq!(bp.image_alias_or_id(), "ami-0230bd60aa48260c6");
}

#[test]
fn canonical_form_of_a_legacy_file_is_pinned() {
    let bp =
        ProjectStore::load_path(&fixtures_dir().join("training/049-notification-service.json"))
            .expect("loads");
    let text = bp.to_json_pretty().expect("serializes");
    insta::assert_snapshot!("canonical_049_notification_service", text);
}
