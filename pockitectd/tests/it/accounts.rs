//! A daemon working on several AWS accounts (`--accounts`). In moto, credentials from
//! AssumeRole act in the role's account, so two role ARNs are two accounts of one emulator.

use std::time::Duration;

use pockitect_proto::{Command, Event, ResourceFilter, ResourceType, ScanArgs, Status};
use pockitect_testkit::RedisServer;

use crate::{Harness, python, terminal_of};

const WITHIN: Duration = Duration::from_secs(90);

/// The start of a boto3 script with `ec2`, a us-east-1 client acting in `account` through its
/// role (None: the emulator's default account, as the daemon's own credentials).
fn ec2_in(endpoint: &str, account: Option<&str>) -> String {
    let assume = account
        .map(|a| {
            format!(
                r#"c = boto3.client("sts", **kw).assume_role(
    RoleArn="arn:aws:iam::{a}:role/Audit", RoleSessionName="test")["Credentials"]
kw.update(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
          aws_session_token=c["SessionToken"])"#
            )
        })
        .unwrap_or_default();
    format!(
        r#"
import boto3, json
kw = dict(endpoint_url="{endpoint}", region_name="us-east-1",
          aws_access_key_id="testing", aws_secret_access_key="testing")
{assume}
ec2 = boto3.client("ec2", **kw)
"#
    )
}

/// A VPC made in `account` (see [`ec2_in`]); its id.
fn vpc_in(endpoint: &str, account: Option<&str>) -> String {
    let script = ec2_in(endpoint, account)
        + r#"print(json.dumps(ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]))"#;
    python(&script).as_str().unwrap().to_owned()
}

/// A scan of us-east-1's VPCs; its terminal event.
async fn scan_vpcs(h: &Harness) -> pockitect_proto::Envelope {
    let sent = h
        .bus
        .send(&Command::Scan(ScanArgs {
            regions: Some(vec!["us-east-1".into()]),
            types: Some(vec![ResourceType::Vpc]),
        }))
        .await
        .unwrap();
    terminal_of(&h.bus, &sent.request_id, WITHIN).await
}

/// The VPCs a query finds (in `account`, or all), as (account, id).
async fn vpcs_of(h: &Harness, account: Option<&str>) -> Vec<(String, String)> {
    let sent = h
        .bus
        .send(&Command::QueryResources(ResourceFilter {
            account: account.map(str::to_owned),
            kind: Some(ResourceType::Vpc),
            ..Default::default()
        }))
        .await
        .unwrap();
    let t = terminal_of(&h.bus, &sent.request_id, WITHIN).await;
    let t = h.bus.answer(t).await.unwrap();
    let Ok(Event::Resources(r)) = t.decode() else {
        panic!("resources: {t:?}")
    };
    r.records.into_iter().map(|r| (r.account, r.id)).collect()
}

#[tokio::test]
async fn one_scan_covers_every_account_and_reports_the_one_it_cannot_reach() {
    let h = Harness::start_with(RedisServer::start(), 2, |s, _| {
        s.accounts = pockitect_aws::accounts::parse_list(
            "arn:aws:iam::111111111111:role/Audit, arn:aws:iam::222222222222:role/Audit, \
             no-such-profile-xyz",
        )
        .unwrap();
    })
    .await;
    let first = vpc_in(h.moto.endpoint(), Some("111111111111"));
    let second = vpc_in(h.moto.endpoint(), Some("222222222222"));

    let t = scan_vpcs(&h).await;
    assert_eq!(t.status, Some(Status::Partial), "{t:?}");
    let Ok(Event::ScanComplete(done)) = t.decode() else {
        panic!("scan_complete: {t:?}")
    };
    assert_eq!(done.accounts, ["111111111111", "222222222222"]);
    assert_eq!(done.errors.len(), 1, "{:?}", done.errors);
    assert!(
        done.errors[0]
            .message
            .contains("profile 'no-such-profile-xyz' cannot be reached"),
        "{:?}",
        done.errors
    );
    // Each account's VPCs (its own and moto's default one), each record saying its account.
    let one = vpcs_of(&h, Some("111111111111")).await;
    assert!(
        one.contains(&("111111111111".to_owned(), first.clone())),
        "{one:?}"
    );
    assert!(
        one.iter()
            .all(|(a, id)| a == "111111111111" && *id != second)
    );
    let two = vpcs_of(&h, Some("222222222222")).await;
    assert!(
        two.contains(&("222222222222".to_owned(), second)),
        "{two:?}"
    );
    assert!(!two.iter().any(|(_, id)| *id == first));
}

/// EC2 instances of project `slug` in `account` (see [`ec2_in`]), with their state:
/// terminated ones left out.
fn instances_in(endpoint: &str, account: Option<&str>, slug: &str) -> Vec<(String, String)> {
    let script = ec2_in(endpoint, account)
        + &format!(
            r#"f = [{{'Name': 'tag:pockitect:project', 'Values': ['{slug}']}}]
print(json.dumps([[i['InstanceId'], i['State']['Name']]
    for r in ec2.describe_instances(Filters=f)['Reservations'] for i in r['Instances']
    if i['State']['Name'] != 'terminated']))
"#
        );
    serde_json::from_value(python(&script)).unwrap()
}

#[tokio::test]
async fn a_blueprint_naming_its_account_is_deployed_powered_and_destroyed_in_that_account() {
    use pockitect_proto::{DestroyArgs, ErrorCode, PowerAction, PowerArgs};
    let h = Harness::start_with(RedisServer::start(), 2, |s, _| {
        s.accounts = pockitect_aws::accounts::parse_list(
            "arn:aws:iam::111111111111:role/Audit, arn:aws:iam::222222222222:role/Audit",
        )
        .unwrap();
    })
    .await;
    let endpoint = h.moto.endpoint().to_owned();
    let slug = pockitect_testkit::unique("acct");
    let mut doc = crate::requests::blueprint(&slug);
    doc["project"]["account"] = serde_json::json!("222222222222");
    let deploy = crate::audit::deploy_cmd;
    let sent = h.bus.send(&deploy(&doc)).await.unwrap();
    let t = terminal_of(&h.bus, &sent.request_id, WITHIN).await;
    assert_eq!(t.status, Some(Status::Success), "{t:?}");

    let there = instances_in(&endpoint, Some("222222222222"), &slug);
    assert_eq!(there.len(), 1, "the instance is in 222222222222: {there:?}");
    assert!(instances_in(&endpoint, Some("111111111111"), &slug).is_empty());
    assert!(
        instances_in(&endpoint, None, &slug).is_empty(),
        "nothing in the daemon's own account"
    );

    // Power and destroy find the project's resources in its account and act there.
    let stop = |dry_run| {
        Command::Power(PowerArgs {
            project: slug.clone(),
            action: PowerAction::Stop,
            dry_run,
        })
    };
    let sent = crate::send_approved(&h.bus, &stop(true), &stop(false)).await;
    let t = terminal_of(&h.bus, &sent.request_id, WITHIN).await;
    assert_eq!(t.status, Some(Status::Success), "{t:?}");
    let there = instances_in(&endpoint, Some("222222222222"), &slug);
    assert!(
        there
            .iter()
            .all(|(_, state)| state == "stopped" || state == "stopping"),
        "{there:?}"
    );
    let destroy = |dry_run| {
        Command::Destroy(DestroyArgs {
            project: slug.clone(),
            force: false,
            dry_run,
            final_snapshot: false,
        })
    };
    let sent = crate::send_approved(&h.bus, &destroy(true), &destroy(false)).await;
    let t = terminal_of(&h.bus, &sent.request_id, WITHIN).await;
    assert_eq!(t.status, Some(Status::Success), "{t:?}");
    assert!(instances_in(&endpoint, Some("222222222222"), &slug).is_empty());

    // An account the daemon does not work on, by id or by profile, is refused with the field.
    for (account, says) in [
        ("333333333333", "project.account '333333333333'"),
        ("nope-profile", "project.account: profile 'nope-profile'"),
    ] {
        let mut doc = crate::requests::blueprint(&pockitect_testkit::unique("acct"));
        doc["project"]["account"] = serde_json::json!(account);
        let sent = h.bus.send(&deploy(&doc)).await.unwrap();
        let t = terminal_of(&h.bus, &sent.request_id, WITHIN).await;
        assert_eq!(
            t.data["code"],
            serde_json::json!(ErrorCode::InvalidBlueprint),
            "{t:?}"
        );
        let m = t.message().unwrap_or_default();
        assert!(m.contains(says) && m.contains("--accounts"), "{m}");
    }
}

/// Whether a cache file in `dir` holds `id`.
fn cached(dir: &std::path::Path, id: &str) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| std::fs::read_to_string(e.path()).is_ok_and(|s| s.contains(id)))
    })
}

#[tokio::test]
async fn every_daemon_of_the_group_keeps_what_a_scan_found_whichever_ran_it() {
    let h = Harness::start(2).await;
    let other_dir = tempfile::tempdir().unwrap();
    let mut s = h.settings.clone();
    s.daemon_id = pockitect_testkit::unique("d");
    s.cache_dir = other_dir.path().join("cache");
    let token = tokio_util::sync::CancellationToken::new();
    let other = tokio::spawn(pockitectd::run(s, token.clone()));
    pockitect_testkit::eventually("two daemons", WITHIN, || {
        let bus = h.bus.clone();
        async move { (bus.daemons().await.ok()?.len() >= 2).then_some(()) }
    })
    .await;
    let vpc = vpc_in(h.moto.endpoint(), None);
    let t = scan_vpcs(&h).await;
    assert_eq!(t.status, Some(Status::Success), "{t:?}");
    // Both daemons' caches hold it: the one that ran the scan and the one that only saw its
    // chunks go by.
    pockitect_testkit::eventually("both caches hold the VPC", WITHIN, || {
        let both =
            cached(&h.settings.cache_dir, &vpc) && cached(&other_dir.path().join("cache"), &vpc);
        async move { both.then_some(()) }
    })
    .await;
    // So every query finds it, whichever daemon answers.
    for _ in 0..6 {
        let found = vpcs_of(&h, None).await;
        assert!(found.iter().any(|(_, id)| *id == vpc), "{found:?}");
    }
    token.cancel();
    let _ = other.await;
}

#[tokio::test]
async fn a_daemon_with_one_worker_scans_its_shards_itself_and_two_scans_at_once_both_end() {
    let h = Harness::start(1).await;
    let scan = || {
        Command::Scan(ScanArgs {
            regions: Some(vec!["us-east-1".into(), "eu-west-1".into()]),
            types: Some(vec![ResourceType::Vpc, ResourceType::S3Bucket]),
        })
    };
    let first = h.bus.send(&scan()).await.unwrap();
    let second = h.bus.send(&scan()).await.unwrap();
    for sent in [first, second] {
        let t = terminal_of(&h.bus, &sent.request_id, WITHIN).await;
        assert_eq!(t.status, Some(Status::Success), "{t:?}");
        let Ok(Event::ScanComplete(c)) = t.decode() else {
            panic!("{t:?}")
        };
        assert_eq!(c.regions, vec!["eu-west-1", "us-east-1"]);
    }
}
