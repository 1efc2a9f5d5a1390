//! The `pockitect` binary, run as a user would.

use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;

fn pockitect() -> Command {
    let mut c = Command::new(pockitect_testkit::binary("pockitect"));
    // With no Redis given, nothing of the machine's is found either: no private server (a
    // runtime directory that does not exist) and nothing on the default address.
    c.env_remove("POCKITECT_REDIS_URL")
        .env_remove("POCKITECT_PREFIX")
        .env(
            "XDG_RUNTIME_DIR",
            std::env::temp_dir().join(pockitect_testkit::unique("pockitect-no-runtime-")),
        )
        .env(
            "POCKITECT_DEFAULT_REDIS_URL",
            format!("redis://127.0.0.1:{}", pockitect_testkit::free_port()),
        );
    c
}

fn fixture(name: &str) -> std::path::PathBuf {
    pockitect_testkit::fixtures()
        .join("legacy-blueprints/tests")
        .join(name)
}

/// `blueprint_basic.json` with `edit` applied, written as `bad.json` in `dir`.
fn broken_copy(
    dir: &std::path::Path,
    edit: impl FnOnce(&mut serde_json::Value),
) -> std::path::PathBuf {
    let bad = dir.join("bad.json");
    let mut bp: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("blueprint_basic.json")).unwrap())
            .unwrap();
    edit(&mut bp);
    std::fs::write(&bad, bp.to_string()).unwrap();
    bad
}

#[test]
fn validate_accepts_a_good_blueprint_without_a_daemon() {
    pockitect()
        .args(["validate"])
        .arg(fixture("blueprint_basic.json"))
        .assert()
        .success()
        .stdout(predicate::str::contains("blueprint_basic.json: ok"));
}

#[test]
fn validate_names_the_file_the_path_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let bad = broken_copy(dir.path(), |bp| {
        bp["network"]["rules"][0]["port"] = 70000.into()
    });
    pockitect()
        .arg("validate")
        .arg(fixture("blueprint_basic.json"))
        .arg(&bad)
        .assert()
        .code(pockitect_proto::exit::INVALID)
        .stdout(predicate::str::contains("bad.json: invalid"))
        .stdout(predicate::str::contains("network.rules[0].port"))
        .stdout(predicate::str::contains("70000"));
}

#[test]
fn plan_and_deploy_of_an_invalid_file_report_every_problem_without_redis() {
    let dir = tempfile::tempdir().unwrap();
    let bad = broken_copy(dir.path(), |bp| {
        bp["network"]["rules"][0]["port"] = 70000.into();
        bp["compute"]["instance_type"] = "t3 micro".into();
    });
    // Nothing listens there: the file's problems must come first, not "cannot reach Redis".
    let nowhere = format!("redis://127.0.0.1:{}", pockitect_testkit::free_port());
    for command in [vec!["plan"], vec!["deploy", "--yes"]] {
        pockitect()
            .args(["--redis-url", &nowhere])
            .args(&command)
            .arg(&bad)
            .assert()
            .code(pockitect_proto::exit::INVALID)
            .stderr(predicate::str::contains("has 2 problems"))
            .stderr(predicate::str::contains("network.rules[0].port: 70000"))
            .stderr(predicate::str::contains(
                "compute.instance_type: 't3 micro'",
            ))
            .stderr(predicate::str::contains("Redis").not());
    }
}

#[test]
fn a_file_over_its_budget_is_refused_before_redis_or_aws_with_both_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let over = broken_copy(dir.path(), |bp| {
        bp["project"]["budget_usd_month"] = 5.into();
    });
    let nowhere = format!("redis://127.0.0.1:{}", pockitect_testkit::free_port());
    pockitect()
        .args(["--redis-url", &nowhere, "deploy", "--yes"])
        .arg(&over)
        .assert()
        .code(pockitect_proto::exit::REFUSED)
        .stderr(predicate::str::contains("over its budget of $5.00/month"))
        .stderr(
            predicate::str::is_match(r"the estimate of .* is \$[0-9]+\.[0-9]{2}/month").unwrap(),
        )
        .stderr(predicate::str::contains("--over-budget"))
        .stderr(predicate::str::contains("Redis").not());
    // With --over-budget it goes on, to find no Redis.
    pockitect()
        .args(["--redis-url", &nowhere, "deploy", "--yes", "--over-budget"])
        .arg(&over)
        .assert()
        .code(pockitect_proto::exit::UNAVAILABLE);
}

#[test]
fn no_redis_fails_fast_with_a_hint() {
    let port = pockitect_testkit::free_port();
    let started = Instant::now();
    pockitect()
        .args(["--redis-url", &format!("redis://127.0.0.1:{port}"), "scan"])
        .assert()
        .code(pockitect_proto::exit::UNAVAILABLE)
        .stderr(predicate::str::contains("POCKITECT_REDIS_URL"));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn no_daemon_fails_fast_and_says_how_to_start_one() {
    let redis = pockitect_testkit::RedisServer::start();
    let started = Instant::now();
    pockitect()
        .args([
            "--redis-url",
            redis.url(),
            "--prefix",
            &pockitect_testkit::unique("t"),
            "scan",
        ])
        .assert()
        .code(pockitect_proto::exit::UNAVAILABLE)
        .stderr(predicate::str::contains("start one with 'pockitectd'"));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn resources_type_filter_rejects_unknown_types_with_the_list() {
    pockitect()
        .args(["resources", "--type", "bucket"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("s3_bucket"));
}

#[test]
fn new_with_flags_writes_a_valid_blueprint_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let projects = dir.path().join("projects");
    let args = [
        "new",
        "--name",
        "Brenden's Blog",
        "--region",
        "eu-west-1",
        "--db",
        "postgres",
        "--port",
        "22,443",
        "--yes",
        "--projects-dir",
        projects.to_str().unwrap(),
    ];
    pockitect().args(args).assert().success();
    let path = projects.join("brendens-blog.json");
    let bp: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(bp["project"]["slug"], "brendens-blog");
    assert_eq!(bp["project"]["region"], "eu-west-1");
    assert_eq!(bp["data"]["db"]["engine"], "postgres");
    assert!(bp["data"]["db"]["password"].is_null());
    assert_eq!(bp["network"]["rules"].as_array().unwrap().len(), 2);
    pockitect().arg("validate").arg(&path).assert().success();
    // SSH open to the world is a warning, not an error.
    pockitect()
        .args(args)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--force"));
}

#[test]
fn new_refuses_bad_answers_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    pockitect()
        .args([
            "new",
            "--name",
            "x",
            "--region",
            "moon-1",
            "--yes",
            "--projects-dir",
        ])
        .arg(dir.path())
        .assert()
        .code(pockitect_proto::exit::INVALID)
        .stderr(predicate::str::contains("project.region"));
}

/// `doctor --json`'s Redis warning (null when there is none).
fn doctor_warning(url: &str) -> serde_json::Value {
    let out = pockitect()
        .args([
            "--redis-url",
            url,
            "--prefix",
            &pockitect_testkit::unique("t"),
        ])
        .args(["--json", "doctor"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor printed no JSON ({e}): {out:?}"));
    assert_eq!(report["redis"]["ok"], true, "{report}");
    report["redis"]["warning"].clone()
}

fn config_set(url: &str, name: &str, value: &str) {
    let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
    redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query::<()>(&mut con)
        .unwrap();
}

#[test]
fn doctor_warns_when_redis_answers_without_a_password_beyond_loopback() {
    let redis = pockitect_testkit::RedisServer::start();
    // The test server listens on loopback only: nothing to warn about.
    assert!(doctor_warning(redis.url()).is_null());

    // Opened to every interface with protected mode off (as the official Docker image runs it),
    // still reached through 127.0.0.1: the server's own configuration gives it away.
    config_set(redis.url(), "protected-mode", "no");
    config_set(redis.url(), "bind", "0.0.0.0");
    let warning = doctor_warning(redis.url());
    let text = warning.as_str().unwrap_or_default();
    assert!(
        text.contains("without a password")
            && text.contains("'0.0.0.0'")
            && text.contains("Trust model"),
        "{warning}"
    );
    pockitect()
        .args(["--redis-url", redis.url(), "doctor"])
        .assert()
        .stdout(predicate::str::contains("WARN redis"));

    // With a password, a connection without one is refused: no warning, and the password the
    // URL carries is never printed.
    config_set(redis.url(), "requirepass", "Doctor-Pass-4411");
    let with_password = redis
        .url()
        .replace("redis://", "redis://:Doctor-Pass-4411@");
    assert!(doctor_warning(&with_password).is_null());
    pockitect()
        .args(["--redis-url", &with_password, "doctor"])
        .assert()
        .stdout(predicate::str::contains("WARN").not())
        .stdout(predicate::str::contains("Doctor-Pass-4411").not());
}

#[test]
fn login_without_a_daemon_stops_before_asking_for_keys_and_stores_nothing() {
    let redis = pockitect_testkit::RedisServer::start();
    let secrets = tempfile::tempdir().unwrap();
    pockitect()
        .args([
            "--redis-url",
            redis.url(),
            "--prefix",
            &pockitect_testkit::unique("t"),
        ])
        .args(["--secrets", "file", "login", "--stdin"])
        .env("POCKITECT_SECRETS_DIR", secrets.path())
        .write_stdin("AKIAEXAMPLEEXAMPLE12\nsecret-never-read\n")
        .assert()
        .code(pockitect_proto::exit::UNAVAILABLE)
        .stderr(predicate::str::contains("start one with 'pockitectd'"));
    assert!(std::fs::read_dir(secrets.path()).unwrap().next().is_none());
}

#[test]
fn logout_without_a_daemon_still_removes_the_stored_credentials() {
    let secrets = tempfile::tempdir().unwrap();
    let file = secrets.path().join("aws-login.json");
    std::fs::write(
        &file,
        r#"{"kind":"keys","access_key_id":"AKIAEXAMPLEEXAMPLE12","secret_access_key":"s"}"#,
    )
    .unwrap();
    pockitect()
        .args(["--secrets", "file", "logout"])
        .env("POCKITECT_SECRETS_DIR", secrets.path())
        .assert()
        .success()
        .stderr(predicate::str::contains("signed out"));
    assert!(!file.exists());
}
