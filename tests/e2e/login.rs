//! `pockitect login` / `logout` / `doctor` as a user runs them, against a real daemon process
//! logging at TRACE and a moto_server of the test's own that checks signatures: the daemon
//! signs with the keys typed into the CLI (read from stdin with `--stdin`), doctor shows only
//! the key id's last 4 characters, bad keys exit 10 with STS's code, logout goes back to the
//! standard chain; the secret reaches no event, no log line and no file once logged out.

use std::io::Write;
use std::process::Stdio;

use pockitect_testkit::MotoServer;

use crate::Env;
use crate::secrets::{read_all, walk};

/// An IAM user allowed everything, with an access key: (arn, key id, secret); with `mfa`, a
/// virtual MFA device enabled for it.
fn iam_user(moto: &MotoServer, name: &str, mfa: bool) -> (String, String, String) {
    let v = crate::python_json(
        "creating an IAM user",
        &[
            "-c",
            &format!(
                r#"
import boto3, json
iam = boto3.client('iam', region_name='us-east-1', endpoint_url='{}', aws_access_key_id='testing', aws_secret_access_key='testing')
u = iam.create_user(UserName='{name}')['User']
iam.put_user_policy(UserName='{name}', PolicyName='all', PolicyDocument=json.dumps({{'Version': '2012-10-17', 'Statement': [{{'Effect': 'Allow', 'Action': '*', 'Resource': '*'}}]}}))
k = iam.create_access_key(UserName='{name}')['AccessKey']
if {mfa}:
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName='{name}')['VirtualMFADevice']['SerialNumber']
    iam.enable_mfa_device(UserName='{name}', SerialNumber=serial, AuthenticationCode1='123456', AuthenticationCode2='654321')
print(json.dumps([u['Arn'], k['AccessKeyId'], k['SecretAccessKey']]))
"#,
                moto.endpoint(),
                mfa = if mfa { "True" } else { "False" },
            ),
        ],
    );
    let s = |i: usize| v[i].as_str().unwrap().to_owned();
    (s(0), s(1), s(2))
}

fn run_with_stdin(cmd: &mut std::process::Command, input: &str) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn login_through_the_cli_signs_the_daemon_in_and_the_secret_leaks_nowhere() {
    let env = Env::new().await;
    let moto = MotoServer::start_own();
    let (arn, key, secret) = iam_user(&moto, "carol", false);
    let last4 = &key[key.len() - 4..];
    let d = env.daemon_with(
        "signin",
        1,
        moto.endpoint(),
        &[
            ("POCKITECT_LOG", "trace".to_owned()),
            ("LOG_SIGNABLE_BODY", "true".to_owned()),
            ("LOG_SENSITIVE_BODIES", "true".to_owned()),
        ],
    );
    env.wait_daemons(1).await;
    moto.enforce_auth(true);

    // Without a terminal and without --stdin nothing is asked, and nothing is stored.
    let out = run_with_stdin(env.cli().arg("login"), "");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--stdin"));

    // Bad keys: exit 10 (AWS refused), STS's code, nothing stored.
    let out = run_with_stdin(
        env.cli().args(["login", "--stdin"]),
        "AKIAFAKEFAKEFAKE0000\nnot-the-secret\n",
    );
    assert_eq!(out.status.code(), Some(10), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("InvalidClientTokenId") && err.contains("…0000"),
        "{err}"
    );
    assert!(walk(&env.dir.path().join("secrets")).is_empty());

    // Good keys: the account and principal are shown, and the daemon uses them at once.
    let out = run_with_stdin(
        env.cli().args(["login", "--stdin"]),
        &format!("{key}\n{secret}\n"),
    );
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        shown.contains(&arn)
            && shown.contains("123456789012")
            && shown.contains(&format!("…{last4}")),
        "{shown}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("0600 files in"),
        "the store is said"
    );
    let doctor = env.cli().args(["doctor", "--json"]).output().unwrap();
    assert!(doctor.status.success(), "{doctor:?}");
    let report: serde_json::Value = serde_json::from_slice(&doctor.stdout).unwrap();
    assert_eq!(report["aws"]["identity"]["arn"], serde_json::json!(arn));
    assert_eq!(report["aws_credentials"]["source"], "file");
    assert_eq!(
        report["aws_credentials"]["key_id_last4"],
        serde_json::json!(last4)
    );
    let human = env.cli().arg("doctor").output().unwrap();
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(human.contains(&format!("key …{last4}")), "{human}");
    for text in [human.as_ref(), &String::from_utf8_lossy(&doctor.stdout)] {
        assert!(!text.contains(&key) && !text.contains(&secret), "{text}");
    }

    // logout: removed; the daemon is back on the standard chain (moto refuses its keys).
    let out = env.cli().arg("logout").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("signed out"));
    assert!(walk(&env.dir.path().join("secrets")).is_empty());
    let doctor = env.cli().args(["doctor", "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&doctor.stdout).unwrap();
    assert_eq!(report["aws_credentials"]["source"], "chain");
    assert_eq!(report["aws"]["ok"], false);

    // Nowhere: no event, no file (the 0600 one is gone), no log line at TRACE (the SDK's
    // included, with the switches that print signed bodies).
    let events = env.events_text().await;
    assert!(
        events.contains("\"login\""),
        "the requests are in the stream"
    );
    assert!(!events.contains(&secret), "the secret in the events");
    env.assert_no_file_holds(&secret, "the secret");
    let logs = env.dir.path().join("logs");
    let file_log = pockitect_testkit::eventually(
        "the log file to record the logout",
        std::time::Duration::from_secs(30),
        || {
            let text = read_all(&logs);
            async move { text.contains("logout").then_some(text) }
        },
    )
    .await;
    let stderr = std::fs::read_to_string(&d.log).unwrap();
    for (what, text) in [("log file", &file_log), ("stderr", &stderr)] {
        assert!(text.contains(" TRACE "), "{what} has no TRACE line");
        assert!(text.contains("signed in"), "{what} has the login");
        let as_bytes = secret
            .bytes()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let hits: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(&secret) || l.contains(&as_bytes))
            .collect();
        assert!(hits.is_empty(), "{what} holds the secret: {}", hits[0]);
    }
}

#[tokio::test]
async fn with_an_mfa_device_the_cli_asks_for_a_code_and_the_session_is_kept() {
    let env = Env::new().await;
    let moto = MotoServer::start_own();
    let (arn, key, secret) = iam_user(&moto, "dave", true);
    let _d = env.daemon_with("mfa", 1, moto.endpoint(), &[]);
    env.wait_daemons(1).await;
    moto.enforce_auth(true);

    // A code that is not six digits is refused by the CLI, and nothing stays stored.
    let out = run_with_stdin(
        env.cli().args(["login", "--stdin"]),
        &format!("{key}\n{secret}\nabc\n"),
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("has an MFA device"));
    assert!(walk(&env.dir.path().join("secrets")).is_empty());

    let out = run_with_stdin(
        env.cli().args(["login", "--stdin"]),
        &format!("{key}\n{secret}\n123456\n"),
    );
    assert!(out.status.success(), "{out:?}");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains(&arn) && shown.contains("MFA session") && shown.contains(" until "),
        "{shown}"
    );
    let stored = std::fs::read_to_string(env.dir.path().join("secrets/aws-login.json")).unwrap();
    assert!(
        stored.contains("session_token") && !stored.contains(&secret),
        "only the session"
    );
    assert_eq!(
        walk(&env.dir.path().join("secrets")).len(),
        1,
        "no pending entry left"
    );
    let doctor = env.cli().args(["doctor", "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&doctor.stdout).unwrap();
    assert_eq!(report["aws_credentials"]["source"], "file");
    assert!(
        report["aws_credentials"]["expires_at"].is_string(),
        "{report}"
    );
}

#[tokio::test]
async fn with_an_os_keyring_the_credentials_go_there_and_nowhere_in_files() {
    let env = Env::new().await;
    let moto = MotoServer::start_own();
    let (arn, key, secret) = iam_user(&moto, "erin", false);
    let keyring = pockitect_testkit::SecretService::start();
    let mut with_keyring = keyring.env().to_vec();
    with_keyring.push(("POCKITECT_SECRETS", "keyring".to_owned()));
    let _d = env.daemon_with("kr", 1, moto.endpoint(), &with_keyring);
    env.wait_daemons(1).await;
    moto.enforce_auth(true);
    let cli = || {
        let mut c = env.cli();
        c.envs(with_keyring.iter().map(|(k, v)| (*k, v.as_str())));
        c
    };
    let out = run_with_stdin(
        cli().args(["login", "--stdin"]),
        &format!("{key}\n{secret}\n"),
    );
    assert!(out.status.success(), "{out:?}");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains(&arn)
            && shown.contains("the OS keyring (service 'pockitect', account 'aws-login')"),
        "{shown}"
    );
    let doctor = cli().args(["doctor", "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&doctor.stdout).unwrap();
    assert_eq!(report["aws_credentials"]["source"], "keyring");
    assert_eq!(report["aws"]["identity"]["arn"], serde_json::json!(arn));
    env.assert_no_file_holds(&secret, "the secret");
    assert!(
        walk(&env.dir.path().join("secrets")).is_empty(),
        "no file used"
    );

    let out = cli().arg("logout").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let doctor = cli().args(["doctor", "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&doctor.stdout).unwrap();
    assert_eq!(report["aws_credentials"]["source"], "chain");
}

#[tokio::test]
async fn login_with_a_profile_asks_nothing_secret_and_records_the_profile() {
    let env = Env::new().await;
    let moto = MotoServer::start_own();
    let (arn, key, secret) = iam_user(&moto, "frank", false);
    let aws_dir = env.dir.path().join("aws");
    std::fs::create_dir_all(&aws_dir).unwrap();
    std::fs::write(
        aws_dir.join("credentials"),
        format!("[work]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n"),
    )
    .unwrap();
    std::fs::write(
        aws_dir.join("config"),
        "[profile work]\nregion = us-east-1\n",
    )
    .unwrap();
    let files = [
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            aws_dir.join("credentials").display().to_string(),
        ),
        (
            "AWS_CONFIG_FILE",
            aws_dir.join("config").display().to_string(),
        ),
    ];
    let _d = env.daemon_with("prof", 1, moto.endpoint(), &files);
    env.wait_daemons(1).await;
    moto.enforce_auth(true);

    // An unknown profile: refused, nothing recorded.
    let out = env
        .cli()
        .args(["login", "--profile", "nope"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("'nope'") && err.contains("nothing was changed"),
        "{err}"
    );
    assert!(walk(&env.dir.path().join("secrets")).is_empty());

    let out = env
        .cli()
        .args(["login", "--profile", "work"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains(&arn) && shown.contains("profile 'work'"),
        "{shown}"
    );
    let stored = std::fs::read_to_string(env.dir.path().join("secrets/aws-login.json")).unwrap();
    assert!(
        !stored.contains(&secret) && stored.contains("work"),
        "only the name: {stored}"
    );
    let doctor = env.cli().args(["doctor", "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&doctor.stdout).unwrap();
    assert_eq!(report["aws_credentials"]["source"], "profile");
    assert_eq!(report["aws_credentials"]["profile"], "work");
    assert_eq!(report["aws"]["identity"]["arn"], serde_json::json!(arn));

    let out = env.cli().arg("logout").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(walk(&env.dir.path().join("secrets")).is_empty());
}
