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
