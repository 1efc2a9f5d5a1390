//! `db_password` against a real redis-server and moto_server: the password RDS keeps in Secrets
//! Manager reaches the asking user in a 0600 file and nowhere else (events, Redis, the audit
//! trail, the daemon's files); a request from another host or into a directory others can read
//! is refused before any secret is read; a database with a password of its own (made before
//! RDS managed it) still deploys and is answered without a file.

use std::path::Path;
use std::time::Duration;

use pockitect_bus::Bus;
use pockitect_proto::payload::DbPasswordReady;
use pockitect_proto::{
    BlueprintRef, ClientKind, Command, DbPasswordArgs, DeployArgs, Envelope, ErrorCode, Event,
    RequestId, Status,
};
use pockitect_testkit::unique;
use serde_json::json;

use crate::requests::blueprint;
use crate::{Harness, events_of, managed_password, python, terminal_of};

const WITHIN: Duration = Duration::from_secs(90);

fn here() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

async fn ask(bus: &Bus, project: &str, host: &str, dir: &Path) -> (RequestId, Envelope) {
    let sent = bus
        .send(&Command::DbPassword(DbPasswordArgs {
            project: project.to_owned(),
            host: host.to_owned(),
            dir: dir.display().to_string(),
        }))
        .await
        .unwrap();
    let t = terminal_of(bus, &sent.request_id, WITHIN).await;
    (sent.request_id, t)
}

async fn deploy(h: &Harness, bus: &Bus, target: BlueprintRef) {
    let sent = bus
        .send(&Command::Deploy(DeployArgs {
            target,
            rollback_on_failure: false,
            over_budget: false,
        }))
        .await
        .unwrap();
    let t = terminal_of(&h.bus, &sent.request_id, WITHIN).await;
    assert_eq!(t.status, Some(Status::Success), "{t:?}");
}

/// Every value in the Redis keyspace as text: strings, hashes, lists, sets, sorted sets and
/// stream entries, so a search finds a secret wherever the daemon could have put it.
pub(crate) async fn redis_text(h: &Harness) -> String {
    fn flatten(v: &redis::Value, out: &mut String) {
        match v {
            redis::Value::BulkString(b) => out.push_str(&String::from_utf8_lossy(b)),
            redis::Value::SimpleString(s) => out.push_str(s),
            redis::Value::VerbatimString { text, .. } => out.push_str(text),
            redis::Value::Array(items) | redis::Value::Set(items) => {
                items.iter().for_each(|i| flatten(i, out))
            }
            redis::Value::Map(pairs) => pairs.iter().for_each(|(k, v)| {
                flatten(k, out);
                flatten(v, out);
            }),
            other => out.push_str(&format!("{other:?}")),
        }
        out.push('\n');
    }
    let client = redis::Client::open(h.redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!keys.is_empty());
    let mut out = String::new();
    for k in keys {
        let kind: String = redis::cmd("TYPE")
            .arg(&k)
            .query_async(&mut conn)
            .await
            .unwrap();
        let mut c = match kind.as_str() {
            "string" => redis::cmd("GET"),
            "hash" => redis::cmd("HGETALL"),
            "list" => redis::cmd("LRANGE"),
            "set" => redis::cmd("SMEMBERS"),
            "zset" => redis::cmd("ZRANGE"),
            "stream" => redis::cmd("XRANGE"),
            _ => continue,
        };
        c.arg(&k);
        match kind.as_str() {
            "list" | "zset" => {
                c.arg(0).arg(-1);
            }
            "stream" => {
                c.arg("-").arg("+");
            }
            _ => {}
        }
        let v: redis::Value = c.query_async(&mut conn).await.unwrap();
        out.push_str(&k);
        out.push('\n');
        flatten(&v, &mut out);
    }
    out
}

/// The text of every file under `dir`.
fn files_text(dir: &Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.push_str(&files_text(&path));
        } else {
            out.push_str(&String::from_utf8_lossy(
                &std::fs::read(&path).unwrap_or_default(),
            ));
        }
    }
    out
}

fn private_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    dir
}

#[tokio::test]
async fn the_managed_password_reaches_a_0600_file_of_the_asking_user_and_nowhere_else() {
    let h = Harness::start(1).await;
    let cli = h.bus.clone().identified_as(ClientKind::Cli);
    let slug = unique("sec");
    let doc = blueprint(&slug);
    deploy(
        &h,
        &cli,
        BlueprintRef {
            project: None,
            blueprint: Some(doc),
        },
    )
    .await;
    let password = managed_password(&h, &format!("{slug}-db"));
    let recorded =
        std::fs::read_to_string(h.settings.projects_dir.join(format!("{slug}.json"))).unwrap();
    assert!(
        recorded.contains("\"master_user_secret_arn\": \"arn:aws:secretsmanager:"),
        "the blueprint records the secret's ARN: {recorded}"
    );

    let dir = private_dir();
    let (rid, t) = ask(&cli, &slug, &here(), dir.path()).await;
    assert_eq!(t.status, Some(Status::Success), "{t:?}");
    let Ok(Event::DbPassword(DbPasswordReady {
        file: Some(file),
        secret_arn: Some(arn),
        ..
    })) = t.decode()
    else {
        panic!("not a file answer: {t:?}");
    };
    assert!(recorded.contains(&arn));
    let file = Path::new(&file);
    assert_eq!(file.parent(), Some(dir.path()));
    assert_eq!(std::fs::read_to_string(file).unwrap(), password);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Nowhere else: not in the request's events, not in Redis (streams, replies, audit), not in
    // the audit file or any file of the daemon (projects, scan cache, keys).
    let events = events_of(&h.bus, &rid).await;
    assert!(events.len() >= 2, "{events:?}");
    for e in &events {
        assert!(
            !e.to_json().contains(&password),
            "password in an event: {e:?}"
        );
    }
    let keyspace = redis_text(&h).await;
    assert!(keyspace.contains(rid.as_str()), "the scan saw the request");
    assert!(!keyspace.contains(&password), "password in Redis");
    let audit_dir = h.settings.audit_dir.clone().unwrap();
    let audit = pockitect_testkit::eventually(
        "the audit file to record the request",
        Duration::from_secs(20),
        || {
            let text = files_text(&audit_dir);
            let rid = rid.clone();
            async move { text.contains(rid.as_str()).then_some(text) }
        },
    )
    .await;
    assert!(audit.contains("\"db_password\""), "{audit}");
    assert!(!audit.contains(&password), "password in the audit file");
    let daemon_files = files_text(h.settings.projects_dir.parent().unwrap());
    assert!(!daemon_files.is_empty());
    assert!(
        !daemon_files.contains(&password),
        "password in a file of the daemon"
    );

    // A second ask into the same directory does not overwrite (or follow) what is there.
    let (_, again) = ask(&cli, &slug, &here(), dir.path()).await;
    assert_eq!(again.status, Some(Status::Error), "{again:?}");
    assert!(
        again.message().unwrap().contains("new, empty directory"),
        "{again:?}"
    );
}

#[tokio::test]
async fn another_host_or_a_directory_others_can_read_is_refused_before_any_secret_is_read() {
    let h = Harness::start(1).await;
    let slug = unique("ref");
    let dir = private_dir();
    // Refused before the project is even looked up: nothing was deployed.
    let (_, t) = ask(&h.bus, &slug, "elsewhere.example", dir.path()).await;
    assert_eq!(t.data["code"], json!(ErrorCode::InvalidArguments), "{t:?}");
    let m = t.message().unwrap();
    assert!(
        m.contains("'elsewhere.example'") && m.contains(&here()) && m.contains("get-secret-value"),
        "{m}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let (_, t) = ask(&h.bus, &slug, &here(), dir.path()).await;
        assert_eq!(t.data["code"], json!(ErrorCode::InvalidArguments), "{t:?}");
        assert!(t.message().unwrap().contains("mode 755"), "{t:?}");
    }
    let (_, t) = ask(&h.bus, &slug, &here(), Path::new("relative/dir")).await;
    assert!(
        t.message().unwrap().contains("not an absolute path"),
        "{t:?}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn a_database_with_its_own_password_still_deploys_and_is_answered_without_a_file() {
    let h = Harness::start(1).await;
    let slug = unique("old");
    let id = format!("{slug}-db");
    // Made as Pockitect made databases before RDS managed their password: a password of its
    // own (kept in the OS keyring of the host that deployed it), tagged, recorded.
    python(&format!(
        r#"
import boto3
kw = dict(region_name='us-east-1', endpoint_url='{}', aws_access_key_id='testing', aws_secret_access_key='testing')
boto3.client('rds', **kw).create_db_instance(DBInstanceIdentifier='{id}', Engine='postgres',
    DBInstanceClass='db.t3.micro', AllocatedStorage=20, MasterUsername='app',
    MasterUserPassword='Kept-In-Keyring-1',
    Tags=[{{'Key': 'pockitect:project', 'Value': '{slug}'}}, {{'Key': 'pockitect:managed', 'Value': 'true'}}])
"#,
        h.moto.endpoint()
    ));
    let mut doc = blueprint(&slug);
    doc["data"]["db"]["identifier"] = json!(id);
    std::fs::create_dir_all(&h.settings.projects_dir).unwrap();
    std::fs::write(
        h.settings.projects_dir.join(format!("{slug}.json")),
        doc.to_string(),
    )
    .unwrap();
    deploy(
        &h,
        &h.bus,
        BlueprintRef {
            project: Some(slug.clone()),
            blueprint: None,
        },
    )
    .await;

    let dir = private_dir();
    let (_, t) = ask(&h.bus, &slug, &here(), dir.path()).await;
    assert_eq!(t.status, Some(Status::Success), "{t:?}");
    let Ok(Event::DbPassword(answer)) = t.decode() else {
        panic!("{t:?}");
    };
    assert_eq!(
        answer,
        DbPasswordReady {
            project: slug,
            file: None,
            secret_arn: None,
            identifier: id,
        }
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
