//! A daemon working on several AWS accounts (`--accounts`). In moto, credentials from
//! AssumeRole act in the role's account, so two role ARNs are two accounts of one emulator.

use std::time::Duration;

use pockitect_proto::{Command, Event, ResourceFilter, ResourceType, ScanArgs, Status};
use pockitect_testkit::RedisServer;

use crate::{Harness, python, terminal_of};

const WITHIN: Duration = Duration::from_secs(90);

/// A VPC made in `account` through a role there; its id.
fn vpc_in(endpoint: &str, account: &str) -> String {
    let script = format!(
        r#"
import boto3, json
kw = dict(endpoint_url="{endpoint}", region_name="us-east-1",
          aws_access_key_id="testing", aws_secret_access_key="testing")
c = boto3.client("sts", **kw).assume_role(
    RoleArn="arn:aws:iam::{account}:role/Audit", RoleSessionName="seed")["Credentials"]
ec2 = boto3.client("ec2", endpoint_url="{endpoint}", region_name="us-east-1",
                   aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                   aws_session_token=c["SessionToken"])
print(json.dumps(ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]))
"#
    );
    python(&script).as_str().unwrap().to_owned()
}

async fn vpcs_of(h: &Harness, account: &str) -> Vec<(String, String)> {
    let sent = h
        .bus
        .send(&Command::QueryResources(ResourceFilter {
            account: Some(account.to_owned()),
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
    let first = vpc_in(h.moto.endpoint(), "111111111111");
    let second = vpc_in(h.moto.endpoint(), "222222222222");

    let sent = h
        .bus
        .send(&Command::Scan(ScanArgs {
            regions: Some(vec!["us-east-1".into()]),
            types: Some(vec![ResourceType::Vpc]),
        }))
        .await
        .unwrap();
    let t = terminal_of(&h.bus, &sent.request_id, WITHIN).await;
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
    let one = vpcs_of(&h, "111111111111").await;
    assert!(
        one.contains(&("111111111111".to_owned(), first.clone())),
        "{one:?}"
    );
    assert!(
        one.iter()
            .all(|(a, id)| a == "111111111111" && *id != second)
    );
    let two = vpcs_of(&h, "222222222222").await;
    assert!(
        two.contains(&("222222222222".to_owned(), second)),
        "{two:?}"
    );
    assert!(!two.iter().any(|(_, id)| *id == first));
}
