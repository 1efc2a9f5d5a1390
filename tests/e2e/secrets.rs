//! The database master password: RDS generates a new database's password and keeps it in
//! Secrets Manager, so the deploy needs nothing from the CLI's keyring; `pockitect db-password`
//! prints it through the daemon (a 0600 file, never the bus); a database created earlier with a
//! password of its own still deploys and its password is still read from the local store.

use crate::{Env, python_json};
use serde_json::json;

fn db_blueprint(name: &str) -> serde_json::Value {
    json!({
        "project": { "name": name, "region": "us-east-1" },
        "network": { "vpc_mode": "new", "vpc_cidr": "10.7.0.0/16", "subnet_type": "public" },
        "compute": { "instance_type": "t3.micro", "image_id": "amazon-linux-2023" },
        "data": { "db": { "engine": "postgres", "instance_class": "db.t3.micro",
                          "allocated_storage_gb": 20, "username": "app" } }
    })
}

/// The password in the secret RDS manages for DB instance `db_id`, read with boto3 straight
/// from moto.
pub(crate) fn managed_password(env: &Env, db_id: &str) -> String {
    let script = format!(
        r#"
import boto3, json
kw = dict(region_name='us-east-1', endpoint_url='{}', aws_access_key_id='testing', aws_secret_access_key='testing')
db = boto3.client('rds', **kw).describe_db_instances(DBInstanceIdentifier='{db_id}')['DBInstances'][0]
s = boto3.client('secretsmanager', **kw).get_secret_value(SecretId=db['MasterUserSecret']['SecretArn'])
print(json.dumps(json.loads(s['SecretString'])['password']))
"#,
        env.moto.endpoint()
    );
    python_json("read the managed secret", &["-c", &script])
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn an_existing_database_with_its_own_password_still_deploys_and_db_password_reads_it_locally()
{
    let env = Env::new().await;
    let _d = env.daemon("old", 1);
    env.wait_daemons(1).await;
    let slug = pockitect_testkit::unique("old-");
    let id = format!("{slug}-db");
    let password = "Kept-Locally-Pass-31";
    // As Pockitect made databases before RDS managed their password: a password of its own,
    // kept in the local store (the 0600 file the keyring falls back to), the database tagged
    // and recorded in the blueprint.
    let script = format!(
        r#"
import boto3, json
kw = dict(region_name='us-east-1', endpoint_url='{}', aws_access_key_id='testing', aws_secret_access_key='testing')
boto3.client('rds', **kw).create_db_instance(DBInstanceIdentifier='{id}', Engine='postgres',
    DBInstanceClass='db.t3.micro', AllocatedStorage=20, MasterUsername='app', MasterUserPassword='{password}',
    Tags=[{{'Key': 'pockitect:project', 'Value': '{slug}'}}, {{'Key': 'pockitect:managed', 'Value': 'true'}}])
print(json.dumps(True))
"#,
        env.moto.endpoint()
    );
    python_json("create the old database", &["-c", &script]);
    let secrets = env.dir.path().join("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    std::fs::write(secrets.join(format!("{slug}.db-password")), password).unwrap();
    let mut doc = db_blueprint(&slug);
    doc["data"]["db"]["identifier"] = json!(id);
    let out = env.deploy_file(&doc, &format!("{slug}.json"));
    assert!(out.status.success(), "{out:?}");
    let stored: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(env.dir.path().join(format!("projects/{slug}.json"))).unwrap(),
    )
    .unwrap();
    assert!(
        stored["data"]["db"]["master_user_secret_arn"].is_null(),
        "{stored}"
    );

    let shown = env.cli().args(["db-password", &slug]).output().unwrap();
    assert!(shown.status.success(), "{shown:?}");
    assert_eq!(String::from_utf8_lossy(&shown.stdout).trim(), password);
    // Unchanged: the stored password is where it was.
    assert_eq!(
        std::fs::read_to_string(secrets.join(format!("{slug}.db-password"))).unwrap(),
        password
    );
}

#[tokio::test]
async fn a_new_database_password_is_managed_by_rds_and_db_password_leaks_it_nowhere() {
    let env = Env::new().await;
    // Distinctive values, so a hit can only be a leak: the session token travels in a header of
    // every signed request, the secret key into the signer; the DB password (RDS's) in the
    // body of secretsmanager:GetSecretValue's answer.
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
        .env_remove("POCKITECT_DB_PASSWORD")
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
    // RDS holds the password: none was stored for the CLI or the daemon.
    let secrets_dir = env.dir.path().join("secrets");
    assert!(
        walk(&secrets_dir).is_empty(),
        "a password was stored: {:?}",
        walk(&secrets_dir)
    );
    let password = managed_password(&env, &format!("{slug}-db"));
    let stored =
        std::fs::read_to_string(env.dir.path().join(format!("projects/{slug}.json"))).unwrap();
    assert!(
        stored.contains("\"master_user_secret_arn\": \"arn:aws:secretsmanager:"),
        "{stored}"
    );

    // db-password asks the daemon, which writes a 0600 file in a private directory of the
    // runtime dir; the CLI prints it and removes it.
    let runtime = tempfile::tempdir().unwrap();
    let shown = env
        .cli()
        .env("XDG_RUNTIME_DIR", runtime.path())
        .args(["db-password", &slug])
        .output()
        .unwrap();
    assert!(shown.status.success(), "{shown:?}");
    assert_eq!(
        String::from_utf8_lossy(&shown.stdout),
        format!("{password}\n")
    );
    assert!(walk(runtime.path()).is_empty(), "the file is gone");
    assert!(
        std::fs::read_dir(runtime.path()).unwrap().next().is_none(),
        "the directory is gone"
    );
    let events = env.events_text().await;
    assert!(
        events.contains("\"db_password\""),
        "the request is in the stream"
    );
    assert!(!events.contains(&password), "password in the events");
    env.assert_no_file_holds(&password, "password");

    // The file writer is asynchronous: wait until it has the end of both requests.
    let logs = env.dir.path().join("logs");
    let file_log = pockitect_testkit::eventually(
        "the log file to record the end of the deploy",
        std::time::Duration::from_secs(30),
        || {
            let text = read_all(&logs);
            async move { (text.matches("request finished").count() >= 2).then_some(text) }
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
        for secret in [password.as_str(), token, secret_key] {
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

pub(crate) fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
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
pub(crate) fn read_all(dir: &std::path::Path) -> String {
    walk(dir)
        .iter()
        .map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned())
        .collect()
}
