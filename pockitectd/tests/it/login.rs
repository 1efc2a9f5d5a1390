//! `login` / `logout` against a real redis-server and a moto_server of the test's own that
//! checks signatures (moto's IAM authentication, switched on once the test's IAM users exist):
//! good keys sign in and the daemon acts with them, bad keys are refused and nothing stays
//! stored, an MFA device makes the daemon ask for a code and keep the session, logout goes back
//! to the standard chain; the secret key and the session token reach no event, no Redis value
//! and no file but the 0600 one.

use std::path::Path;
use std::time::Duration;

use pockitect_bus::Bus;
use pockitect_proto::payload::{DaemonInfo, LoginAnswer, LoginState, LogoutAnswer};
use pockitect_proto::{
    Command, Empty, Envelope, ErrorCode, Event, LoginArgs, LogoutArgs, RequestId, Status,
};
use pockitect_secrets::{AwsKeys, AwsLogin, Backend, PendingLogin, SecretStore};
use pockitect_testkit::{MotoServer, RedisServer};

use crate::{Harness, events_of, python, terminal_of};

const WITHIN: Duration = Duration::from_secs(60);
/// moto's fixed answer to GetSessionToken.
const MOTO_SESSION_KEY: &str = "AKIAIOSFODNN7EXAMPLE";

fn here() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// A harness whose daemon talks to `moto` (a server of the test's own, so authentication can
/// be switched on without touching other tests).
async fn harness_on(moto: &MotoServer) -> Harness {
    let endpoint = moto.endpoint().to_owned();
    Harness::start_with(RedisServer::start(), 1, move |s, _| {
        s.aws_endpoint_url = Some(endpoint);
    })
    .await
}

fn store(h: &Harness) -> SecretStore {
    SecretStore::open(Backend::File, &h.settings.secrets_dir).unwrap()
}

struct User {
    arn: String,
    key: String,
    secret: String,
    mfa_serial: Option<String>,
}

/// An IAM user allowed everything, with an access key (and a virtual MFA device, enabled).
fn iam_user(moto: &MotoServer, name: &str, mfa: bool) -> User {
    let v = python(&format!(
        r#"
import boto3, json
iam = boto3.client('iam', region_name='us-east-1', endpoint_url='{}', aws_access_key_id='testing', aws_secret_access_key='testing')
u = iam.create_user(UserName='{name}')['User']
iam.put_user_policy(UserName='{name}', PolicyName='all', PolicyDocument=json.dumps({{'Version': '2012-10-17', 'Statement': [{{'Effect': 'Allow', 'Action': '*', 'Resource': '*'}}]}}))
k = iam.create_access_key(UserName='{name}')['AccessKey']
serial = None
if {mfa}:
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName='{name}')['VirtualMFADevice']['SerialNumber']
    iam.enable_mfa_device(UserName='{name}', SerialNumber=serial, AuthenticationCode1='123456', AuthenticationCode2='654321')
print(json.dumps({{'arn': u['Arn'], 'key': k['AccessKeyId'], 'secret': k['SecretAccessKey'], 'serial': serial}}))
"#,
        moto.endpoint(),
        mfa = if mfa { "True" } else { "False" },
    ));
    User {
        arn: v["arn"].as_str().unwrap().to_owned(),
        key: v["key"].as_str().unwrap().to_owned(),
        secret: v["secret"].as_str().unwrap().to_owned(),
        mfa_serial: v["serial"].as_str().map(str::to_owned),
    }
}

async fn send(bus: &Bus, cmd: Command) -> (RequestId, Envelope) {
    let sent = bus.send(&cmd).await.unwrap();
    let t = terminal_of(bus, &sent.request_id, WITHIN).await;
    (sent.request_id, t)
}

async fn login(bus: &Bus) -> (RequestId, Envelope) {
    send(
        bus,
        Command::Login(LoginArgs {
            host: here(),
            profile: None,
        }),
    )
    .await
}

async fn daemon_info(bus: &Bus) -> DaemonInfo {
    let (_, t) = send(bus, Command::DaemonInfo(Empty {})).await;
    let t = bus.answer(t).await.unwrap();
    match t.decode() {
        Ok(Event::DaemonInfo(i)) => i,
        other => panic!("{other:?}"),
    }
}

fn answer(t: &Envelope) -> LoginAnswer {
    assert_eq!(t.status, Some(Status::Success), "{t:?}");
    match t.decode() {
        Ok(Event::Login(a)) => a,
        other => panic!("{other:?}"),
    }
}

fn last4(s: &str) -> String {
    s[s.len() - 4..].to_owned()
}

/// The text of every file under `dir`, but `except`.
fn files_text(dir: &Path, except: &Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path == except {
            continue;
        }
        if path.is_dir() {
            out.push_str(&files_text(&path, except));
        } else {
            out.push_str(&String::from_utf8_lossy(
                &std::fs::read(&path).unwrap_or_default(),
            ));
        }
    }
    out
}

/// No event of `ids`, no Redis value and no file of the daemon but `kept` holds any of `secrets`.
async fn assert_nowhere(h: &Harness, ids: &[RequestId], secrets: &[&str], kept: &Path) {
    for id in ids {
        for e in events_of(&h.bus, id).await {
            let text = e.to_json();
            for s in secrets {
                assert!(!text.contains(s), "a secret in an event: {text}");
            }
        }
    }
    let keyspace = crate::secrets::redis_text(h).await;
    let files = files_text(h._dir.path(), kept);
    for s in secrets {
        assert!(!keyspace.contains(s), "a secret in Redis");
        assert!(!files.contains(s), "a secret in a file other than {kept:?}");
    }
}

#[tokio::test]
async fn good_keys_sign_in_the_daemon_acts_with_them_and_logout_goes_back_to_the_chain() {
    let moto = MotoServer::start_own();
    let alice = iam_user(&moto, "alice", false);
    let h = harness_on(&moto).await;
    moto.enforce_auth(true);
    // The standard chain (the harness's made-up keys) is refused now.
    let before = daemon_info(&h.bus).await;
    assert!(!before.aws.ok, "{:?}", before.aws);
    assert_eq!(before.aws_credentials.as_ref().unwrap().source, "chain");

    let s = store(&h);
    s.set_pending_login(&PendingLogin {
        access_key_id: alice.key.clone(),
        secret_access_key: alice.secret.clone(),
        mfa_serial: None,
        mfa_code: None,
    })
    .unwrap();
    let (rid, t) = login(&h.bus).await;
    let a = answer(&t);
    assert_eq!(a.state, LoginState::SignedIn);
    let id = a.identity.unwrap();
    assert_eq!(id.arn, alice.arn);
    assert_eq!(id.account, "123456789012");
    assert_eq!(a.key_id_last4.as_deref(), Some(last4(&alice.key).as_str()));
    assert!(
        a.message.contains(&alice.arn) && a.message.contains("0600"),
        "{}",
        a.message
    );
    // Stored as the active entry, in a 0600 file; the pending one is gone.
    assert!(s.pending_login().unwrap().is_none());
    let (stored, _) = s.aws_login().unwrap().unwrap();
    let AwsLogin::Keys(k) = stored else {
        panic!("{stored:?}")
    };
    assert_eq!(
        (k.access_key_id.as_str(), k.session_token),
        (alice.key.as_str(), None)
    );
    let file = h.settings.secrets_dir.join("aws-login.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // The running daemon acts with them at once: STS says alice, and a scan works.
    let info = daemon_info(&h.bus).await;
    assert!(info.aws.ok, "{:?}", info.aws);
    assert_eq!(info.aws.identity.unwrap().arn, alice.arn);
    let c = info.aws_credentials.unwrap();
    assert_eq!(c.source, "file");
    assert_eq!(c.key_id_last4, Some(last4(&alice.key)));
    let (scan, t) = send(
        &h.bus,
        Command::Scan(pockitect_proto::ScanArgs {
            regions: Some(vec!["us-east-1".into()]),
            types: None,
        }),
    )
    .await;
    assert_eq!(t.status, Some(Status::Success), "{t:?}");
    assert_nowhere(&h, &[rid, scan], &[&alice.secret], &file).await;

    // logout: removed, and the daemon is back on the standard chain (refused by moto).
    let (out, t) = send(&h.bus, Command::Logout(LogoutArgs { host: here() })).await;
    assert_eq!(t.status, Some(Status::Success), "{t:?}");
    let Ok(Event::Logout(LogoutAnswer {
        removed, now_using, ..
    })) = t.decode()
    else {
        panic!("{t:?}")
    };
    assert!(removed);
    assert_eq!(now_using.source, "chain");
    assert!(s.aws_login().unwrap().is_none());
    assert!(!file.exists());
    let after = daemon_info(&h.bus).await;
    assert!(!after.aws.ok, "{:?}", after.aws);
    assert_nowhere(&h, &[out], &[&alice.secret], &file).await;
}

#[tokio::test]
async fn bad_keys_are_refused_with_stss_code_and_nothing_stays_stored() {
    let moto = MotoServer::start_own();
    let h = harness_on(&moto).await;
    moto.enforce_auth(true);
    let s = store(&h);
    let secret = "NotARealSecret-7731";
    s.set_pending_login(&PendingLogin {
        access_key_id: "AKIAFAKEFAKEFAKE4321".into(),
        secret_access_key: secret.into(),
        mfa_serial: None,
        mfa_code: None,
    })
    .unwrap();
    let (rid, t) = login(&h.bus).await;
    assert_eq!(t.status, Some(Status::Error), "{t:?}");
    assert_eq!(
        t.data["code"],
        serde_json::json!(ErrorCode::AccessDenied),
        "{t:?}"
    );
    let msg = t.message().unwrap();
    assert!(
        msg.contains("InvalidClientTokenId")
            && msg.contains("…4321")
            && msg.contains("nothing was stored")
            && msg.contains("pockitect login"),
        "{msg}"
    );
    assert!(
        s.pending_login().unwrap().is_none(),
        "the pending entry is removed"
    );
    assert!(s.aws_login().unwrap().is_none());
    assert!(std::fs::read_dir(&h.settings.secrets_dir).map_or(true, |mut d| d.next().is_none()));
    assert_nowhere(&h, &[rid], &[secret], Path::new("/nonexistent")).await;

    // Another host is refused before the store is read, with what to do instead.
    s.set_pending_login(&PendingLogin {
        access_key_id: "AKIAFAKEFAKEFAKE4321".into(),
        secret_access_key: secret.into(),
        mfa_serial: None,
        mfa_code: None,
    })
    .unwrap();
    let (_, t) = send(
        &h.bus,
        Command::Login(LoginArgs {
            host: "elsewhere".into(),
            profile: None,
        }),
    )
    .await;
    assert_eq!(t.status, Some(Status::Error), "{t:?}");
    let msg = t.message().unwrap();
    assert!(
        msg.contains("'elsewhere'") && msg.contains("run 'pockitect login' on"),
        "{msg}"
    );
    assert!(s.pending_login().unwrap().is_some(), "not touched");
}

#[tokio::test]
async fn an_mfa_device_makes_login_ask_for_a_code_and_keep_the_session() {
    let moto = MotoServer::start_own();
    let bob = iam_user(&moto, "bob", true);
    let serial = bob.mfa_serial.clone().unwrap();
    let h = harness_on(&moto).await;
    moto.enforce_auth(true);
    let s = store(&h);
    let mut pending = PendingLogin {
        access_key_id: bob.key.clone(),
        secret_access_key: bob.secret.clone(),
        mfa_serial: None,
        mfa_code: None,
    };
    s.set_pending_login(&pending).unwrap();
    let (first, t) = login(&h.bus).await;
    let a = answer(&t);
    assert_eq!(a.state, LoginState::MfaRequired);
    assert_eq!(a.mfa_serial.as_deref(), Some(serial.as_str()));
    assert!(
        s.pending_login().unwrap().is_some(),
        "kept for the second round"
    );
    assert!(s.aws_login().unwrap().is_none(), "nothing active yet");

    pending.mfa_serial = Some(serial.clone());
    pending.mfa_code = Some("123456".into());
    s.set_pending_login(&pending).unwrap();
    let (second, t) = login(&h.bus).await;
    let a = answer(&t);
    assert_eq!(a.state, LoginState::SignedIn);
    assert_eq!(a.identity.unwrap().arn, bob.arn);
    let end = a.expires_at.expect("a session ends");
    assert!(
        end > chrono::Utc::now() + chrono::Duration::hours(1),
        "{end}"
    );
    assert!(s.pending_login().unwrap().is_none());
    let (stored, _) = s.aws_login().unwrap().unwrap();
    let AwsLogin::Keys(k) = stored else {
        panic!("{stored:?}")
    };
    let token = k.session_token.clone().expect("the session token is kept");
    assert_eq!(k.access_key_id, MOTO_SESSION_KEY);
    assert_eq!(k.mfa_serial.as_deref(), Some(serial.as_str()));
    assert_eq!(k.expires_at, Some(end.timestamp()));
    let file = h.settings.secrets_dir.join("aws-login.json");
    assert!(
        !std::fs::read_to_string(&file)
            .unwrap()
            .contains(&bob.secret),
        "the long-term secret is not kept beside the session"
    );

    // moto's sessions are a fixed example key it does not know under authentication: switched
    // off, STS names whoever signs, so the daemon is seen signing with the session's key.
    moto.enforce_auth(false);
    let info = daemon_info(&h.bus).await;
    assert!(info.aws.ok, "{:?}", info.aws);
    assert_eq!(
        info.aws.identity.unwrap().arn,
        "arn:aws:sts::123456789012:user/moto",
        "signed with the session key, not bob's"
    );
    let c = info.aws_credentials.unwrap();
    assert_eq!(c.key_id_last4, Some(last4(MOTO_SESSION_KEY)));
    assert_eq!(c.expires_at.map(|e| e.timestamp()), Some(end.timestamp()));
    assert_nowhere(&h, &[first, second], &[&bob.secret, &token], &file).await;

    // A session that ended (written by another process: the daemon reads the store again
    // within seconds) says to log in again rather than failing obscurely.
    s.set_aws_login(&AwsLogin::Keys(AwsKeys {
        expires_at: Some(chrono::Utc::now().timestamp() - 60),
        ..k
    }))
    .unwrap();
    let info = pockitect_testkit::eventually(
        "the daemon to see the session ended",
        Duration::from_secs(20),
        || {
            let bus = h.bus.clone();
            async move {
                let i = daemon_info(&bus).await;
                (!i.aws.ok).then_some(i)
            }
        },
    )
    .await;
    let msg = info.aws.message.unwrap();
    assert!(
        msg.contains("ended at") && msg.contains("run 'pockitect login'"),
        "{msg}"
    );
    assert_eq!(info.aws.code.as_deref(), Some("credentials"));
}
