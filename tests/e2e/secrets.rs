//! The database password in a real OS keyring: a private Secret Service (dbus-daemon +
//! gnome-keyring, as on a Linux desktop) shared by the CLI and the daemon.

use pockitect_testkit::SecretService;
use serde_json::json;

use crate::Env;

fn db_blueprint(name: &str) -> serde_json::Value {
    json!({
        "project": { "name": name, "region": "us-east-1" },
        "network": { "vpc_mode": "new", "vpc_cidr": "10.7.0.0/16", "subnet_type": "public" },
        "compute": { "instance_type": "t3.micro", "image_id": "amazon-linux-2023" },
        "data": { "db": { "engine": "postgres", "instance_class": "db.t3.micro",
                          "allocated_storage_gb": 20, "username": "app" } }
    })
}

#[tokio::test]
async fn a_given_password_goes_to_the_os_keyring_and_the_daemon_deploys_with_it() {
    let env = Env::new().await;
    let keyring = SecretService::start();
    let dbus = keyring.env();
    let mut with_keyring = dbus.to_vec();
    with_keyring.push(("POCKITECT_SECRETS", "keyring".to_owned()));
    let _d = env.daemon_with("kd", 1, env.moto.endpoint(), &with_keyring);
    env.wait_daemons(1).await;

    let slug = pockitect_testkit::unique("kr-");
    let file = env.dir.path().join(format!("{slug}.json"));
    std::fs::write(&file, db_blueprint(&slug).to_string()).unwrap();
    let password = "Keyring-Pass-4242";
    let out = env
        .cli()
        .envs(with_keyring.iter().map(|(k, v)| (*k, v.as_str())))
        .env("POCKITECT_DB_PASSWORD", password)
        .arg("deploy")
        .arg(&file)
        .args(["--yes", "--json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("the OS keyring") && stderr.contains(&format!("{slug}.db-password")),
        "the CLI says where the password went: {stderr}"
    );

    // In the keyring, read back through it; not in any file of the test's tree.
    let shown = env
        .cli()
        .envs(with_keyring.iter().map(|(k, v)| (*k, v.as_str())))
        .args(["db-password", &slug])
        .output()
        .unwrap();
    assert!(shown.status.success(), "{shown:?}");
    assert_eq!(String::from_utf8_lossy(&shown.stdout).trim(), password);
    let secrets_dir = env.dir.path().join("secrets");
    assert!(
        !secrets_dir.join(format!("{slug}.db-password")).exists(),
        "the keyring is used, not a file"
    );
    for entry in walk(env.dir.path()) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(password),
            "password found in {}",
            entry.display()
        );
    }
    // The daemon used it: the database exists and the events never carry it.
    let events = String::from_utf8_lossy(&out.stdout);
    assert!(events.contains("\"deploy_complete\""), "{events}");
    assert!(!events.contains(password));

    // Without the keyring's session, `keyring` refuses clearly; `file` finds nothing there.
    let refused = env
        .cli()
        .env("POCKITECT_SECRETS", "keyring")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .args(["db-password", &slug])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("OS keyring is not reachable") && err.contains("--secrets file"),
        "{err}"
    );
    let missing = env.cli().args(["db-password", &slug]).output().unwrap();
    assert_eq!(missing.status.code(), Some(9), "{missing:?}");
}

#[tokio::test]
async fn auto_falls_back_to_a_0600_file_and_says_so_when_no_keyring_answers() {
    let env = Env::new().await;
    let no_keyring = [
        ("POCKITECT_SECRETS", "auto".to_owned()),
        (
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/bus".to_owned(),
        ),
    ];
    let d = env.daemon_with("fd", 1, env.moto.endpoint(), &no_keyring);
    env.wait_daemons(1).await;
    let slug = pockitect_testkit::unique("fb-");
    let file = env.dir.path().join(format!("{slug}.json"));
    std::fs::write(&file, db_blueprint(&slug).to_string()).unwrap();
    let out = env
        .cli()
        .env("POCKITECT_SECRETS", "auto")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .env("POCKITECT_DB_PASSWORD", "Fallback-Pass-77")
        .arg("deploy")
        .arg(&file)
        .args(["--yes", "--json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let kept = env.dir.path().join(format!("secrets/{slug}.db-password"));
    assert!(
        stderr.contains(&kept.display().to_string()) && stderr.contains("mode 0600"),
        "{stderr}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&kept).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(
        std::fs::read_to_string(&kept).unwrap().trim(),
        "Fallback-Pass-77"
    );
    assert!(stderr.contains("no OS keyring"), "{stderr}");
    let log = std::fs::read_to_string(&d.log).unwrap();
    assert!(
        log.contains("no OS keyring") && log.contains("0600 files"),
        "the daemon says at start where passwords go: {log}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Every file under `dir` (the daemon's rotated log files).
fn read_all(dir: &std::path::Path) -> String {
    walk(dir)
        .iter()
        .map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned())
        .collect()
}

#[tokio::test]
async fn a_trace_level_deploy_writes_no_password_or_credential_to_the_log_or_stderr() {
    let env = Env::new().await;
    // Distinctive values, so a hit can only be a leak: the DB password travels in the body of
    // rds:CreateDBInstance, the session token in a header of every signed request, the secret
    // key into the signer.
    let password = "TraceLeak-Pass-7391";
    let token = "TraceLeak-SessionToken-5512";
    let secret_key = "TraceLeak-SecretKey-2284";
    // The worst case a user can set up: TRACE plus the SDK's own switches for printing request
    // and response bodies (what someone chasing a signature error turns on). The SDK prints a
    // signed body as a list of byte values, so each secret is looked for in that form too.
    let d = env.daemon_with(
        "traced",
        1,
        env.moto.endpoint(),
        &[
            ("POCKITECT_LOG", "trace".to_owned()),
            ("LOG_SIGNABLE_BODY", "true".to_owned()),
            ("LOG_SENSITIVE_BODIES", "true".to_owned()),
            ("AWS_SESSION_TOKEN", token.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", secret_key.to_owned()),
        ],
    );
    env.wait_daemons(1).await;
    let slug = pockitect_testkit::unique("tr-");
    let file = env.dir.path().join(format!("{slug}.json"));
    std::fs::write(&file, db_blueprint(&slug).to_string()).unwrap();
    let out = env
        .cli()
        .env("POCKITECT_DB_PASSWORD", password)
        .arg("deploy")
        .arg(&file)
        .args(["--yes", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The file writer is asynchronous: wait until it has the end of the request.
    let logs = env.dir.path().join("logs");
    let file_log = pockitect_testkit::eventually(
        "the log file to record the end of the deploy",
        std::time::Duration::from_secs(30),
        || {
            let text = read_all(&logs);
            async move { text.contains("request finished").then_some(text) }
        },
    )
    .await;
    let stderr = std::fs::read_to_string(&d.log).unwrap();
    for (what, text) in [("log file", &file_log), ("stderr", &stderr)] {
        // The run really logged at TRACE, the SDK included (its DEBUG events stay).
        assert!(text.contains(" TRACE "), "{what} has no TRACE line");
        assert!(
            text.contains("aws_smithy_runtime"),
            "{what} has no AWS SDK line"
        );
        for secret in [password, token, secret_key] {
            let as_bytes = secret
                .bytes()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let hits: Vec<&str> = text
                .lines()
                .filter(|l| l.contains(secret) || l.contains(&as_bytes))
                .collect();
            assert!(
                hits.is_empty(),
                "{what} holds '{secret}' in {} line(s), first: {}",
                hits.len(),
                hits[0].chars().take(400).collect::<String>()
            );
        }
    }
}

#[tokio::test]
async fn a_redeploy_keeps_the_stored_password_and_a_lost_one_is_not_replaced() {
    let env = Env::new().await;
    let _d = env.daemon("keep", 1);
    env.wait_daemons(1).await;
    let slug = pockitect_testkit::unique("keep-");
    let file = env.dir.path().join(format!("{slug}.json"));
    std::fs::write(&file, db_blueprint(&slug).to_string()).unwrap();
    let deploy = |by: &str, password: Option<&str>| {
        let mut c = env.cli();
        c.env_remove("POCKITECT_DB_PASSWORD")
            .arg("deploy")
            .arg(by)
            .args(["--yes", "--json"]);
        if let Some(p) = password {
            c.env("POCKITECT_DB_PASSWORD", p);
        }
        c.output().unwrap()
    };
    let stored = env.dir.path().join(format!("secrets/{slug}.db-password"));

    // First deploy: the daemon generates and stores the password, then creates the database.
    let out = deploy(file.to_str().unwrap(), None);
    assert!(out.status.success(), "{out:?}");
    let first = std::fs::read_to_string(&stored).unwrap();
    assert_eq!(first.len(), 32);

    // A redeploy keeps it.
    let out = deploy(&slug, None);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(std::fs::read_to_string(&stored).unwrap(), first);

    // The secrets directory is lost while the database lives on: the deploy stops before any
    // step and says what to do; no password is invented.
    std::fs::remove_file(&stored).unwrap();
    let out = deploy(&slug, None);
    assert_eq!(
        out.status.code(),
        Some(pockitect_proto::exit::NOT_FOUND),
        "{out:?}"
    );
    let events = String::from_utf8_lossy(&out.stdout);
    assert!(!events.contains("deploy_progress"), "nothing ran: {events}");
    let last: serde_json::Value =
        serde_json::from_str(events.lines().last().unwrap_or_default()).unwrap();
    let message = last["data"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("already exists")
            && message.contains("POCKITECT_DB_PASSWORD")
            && message.contains("modify-db-instance"),
        "{last}"
    );
    assert!(
        !stored.exists(),
        "no password was generated for an existing database"
    );

    // Given back by the user, it is stored again and the deploy goes through.
    let out = deploy(file.to_str().unwrap(), Some(&first));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(std::fs::read_to_string(&stored).unwrap(), first);
}
