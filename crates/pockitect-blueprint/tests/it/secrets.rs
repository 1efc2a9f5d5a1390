//! Secrets never live in a blueprint: a file carrying one loads (so the user is told), fails
//! validation with where the secret belongs, never shows the secret, and cannot be saved.

use pockitect_blueprint::{Error, ProjectStore, ValidationContext, from_json_str, validate};

const WITH_SECRETS: &str = r#"{
  "project": { "name": "Leaky", "region": "us-east-1" },
  "network": { "vpc_mode": "default", "rules": [ { "port": 443, "cidr": "0.0.0.0/0" } ] },
  "compute": { "instance_type": "t3.micro" },
  "data": {
    "db": { "engine": "mysql", "instance_class": "db.t3.micro", "username": "app",
            "password": "S3cr3t-Passw0rd" }
  },
  "security": {
    "key_pair": { "mode": "generate", "private_key_pem": "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA" }
  }
}"#;

#[test]
fn validation_refuses_secrets_and_says_where_they_go() {
    let bp = from_json_str(WITH_SECRETS).expect("a file with secrets still loads");
    let report = validate(&bp, &ValidationContext::offline());

    let password: Vec<_> = report.errors_at("data.db.password").collect();
    assert_eq!(password.len(), 1, "{report}");
    assert!(password[0].message.contains("OS keyring"), "{report}");
    assert!(
        password[0].message.contains("POCKITECT_DB_PASSWORD"),
        "{report}"
    );

    let key: Vec<_> = report
        .errors_at("security.key_pair.private_key_pem")
        .collect();
    assert_eq!(key.len(), 1, "{report}");
    assert!(
        key[0].message.contains("~/.ssh/pockitect/leaky.pem"),
        "{report}"
    );
    assert!(key[0].message.contains("0600"), "{report}");
    assert!(key[0].message.contains("private_key_path"), "{report}");

    let text = report.to_string();
    assert!(
        !text.contains("S3cr3t"),
        "the report shows the password: {text}"
    );
    assert!(!text.contains("AAAA"), "the report shows the key: {text}");
}

#[test]
fn debug_output_never_shows_secrets() {
    let bp = from_json_str(WITH_SECRETS).expect("loads");
    let debug = format!("{bp:?}");
    assert!(!debug.contains("S3cr3t"), "{debug}");
    assert!(!debug.contains("BEGIN OPENSSH"), "{debug}");
}

#[test]
fn the_store_refuses_to_save_a_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ProjectStore::new(dir.path());
    let mut bp = from_json_str(WITH_SECRETS).expect("loads");

    let err = store.save(&bp).expect_err("a password must not be written");
    assert!(
        matches!(
            err,
            Error::SecretInBlueprint {
                field: "data.db.password",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("OS keyring"), "{err}");
    assert!(!err.to_string().contains("S3cr3t"), "{err}");

    if let Some(db) = bp.data.db.as_mut() {
        db.password = None;
    }
    let err = store
        .save(&bp)
        .expect_err("a private key must not be written");
    assert!(
        matches!(
            err,
            Error::SecretInBlueprint {
                field: "security.key_pair.private_key_pem",
                ..
            }
        ),
        "{err:?}"
    );

    bp.security.key_pair.private_key_pem = None;
    let path = store.save(&bp).expect("saves once the secrets are gone");
    let written = std::fs::read_to_string(path).expect("reads back");
    assert!(!written.contains("private_key_pem"), "{written}");
    assert!(written.contains("\"password\": null"), "{written}");
    assert_eq!(std::fs::read_dir(dir.path()).expect("lists").count(), 1);
}
