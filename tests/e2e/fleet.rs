//! One scan shared by a group of daemon processes: its (account, region) shards go on the
//! command stream, every daemon takes some, and the scan ends once with every record, also
//! when a daemon is killed in the middle of a shard. In moto, credentials from AssumeRole act
//! in the role's account, so four role ARNs are four accounts of one emulator.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use pockitect_proto::{Command, ScanArgs, Status};
use pockitect_testkit::DelayProxy;

use crate::{Env, python_json};

const ACCOUNTS: [&str; 4] = [
    "111111111111",
    "222222222222",
    "333333333333",
    "444444444444",
];
const REGIONS: [&str; 8] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-1",
    "ap-northeast-1",
];

/// A VPC in every account × region, each made through the account's role: account → region →
/// VPC id.
fn seed_vpcs(endpoint: &str) -> serde_json::Value {
    let script = format!(
        r#"
import boto3, json
out = {{}}
for account in {accounts:?}:
    c = boto3.client("sts", endpoint_url="{endpoint}", region_name="us-east-1",
                     aws_access_key_id="testing", aws_secret_access_key="testing").assume_role(
        RoleArn=f"arn:aws:iam::{{account}}:role/Audit", RoleSessionName="seed")["Credentials"]
    out[account] = {{}}
    for region in {regions:?}:
        ec2 = boto3.client("ec2", endpoint_url="{endpoint}", region_name=region,
                           aws_access_key_id=c["AccessKeyId"],
                           aws_secret_access_key=c["SecretAccessKey"],
                           aws_session_token=c["SessionToken"])
        out[account][region] = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
print(json.dumps(out))
"#,
        accounts = ACCOUNTS,
        regions = REGIONS,
    );
    python_json("seeding a VPC per account and region", &["-c", &script])
}

#[tokio::test]
async fn a_scan_of_four_accounts_by_eight_regions_is_shared_by_three_daemons_and_survives_one_killed()
 {
    let env = Env::new().await;
    let seeded = seed_vpcs(env.moto.endpoint());
    // Every AWS call pays 250 ms and a shard makes two at a time, so each shard lasts a
    // couple of seconds: long enough to kill a daemon in the middle of one.
    let slow = DelayProxy::start(env.moto.endpoint(), Duration::from_millis(250));
    let accounts = ACCOUNTS
        .iter()
        .map(|a| format!("arn:aws:iam::{a}:role/Audit"))
        .collect::<Vec<_>>()
        .join(",");
    let settings = [
        ("POCKITECT_ACCOUNTS", accounts),
        ("POCKITECT_SCAN_SHARDS", "2".to_owned()),
        ("POCKITECT_SCAN_CONCURRENCY", "2".to_owned()),
    ];
    let mut daemons: BTreeMap<String, crate::Daemon> = ["a", "b", "c"]
        .iter()
        .map(|n| {
            (
                n.to_string(),
                env.daemon_with(n, 2, &slow.endpoint(), &settings),
            )
        })
        .collect();
    env.wait_daemons(3).await;

    let sent = env
        .bus
        .send(&Command::Scan(ScanArgs {
            regions: Some(REGIONS.iter().map(|r| r.to_string()).collect()),
            types: None,
        }))
        .await
        .unwrap();
    // Kill a daemon that runs a shard and not the scan itself, in the middle of that shard.
    let doomed = pockitect_testkit::eventually(
        "a daemon running a shard but not the scan",
        Duration::from_secs(60),
        || {
            let bus = env.bus.clone();
            async move {
                let all = bus.daemons().await.ok()?;
                all.iter()
                    .find(|d| {
                        d.in_flight.iter().any(|f| f.kind == "scan_shard")
                            && !d.in_flight.iter().any(|f| f.kind == "scan")
                    })
                    .map(|d| d.id.clone())
            }
        },
    )
    .await;
    daemons.get_mut(&doomed).unwrap().kill();

    let events = env
        .events_of(&sent.request_id, Duration::from_secs(180))
        .await;
    let terminals: Vec<_> = events.iter().filter(|e| e.is_terminal()).collect();
    assert_eq!(terminals.len(), 1, "the scan ends once: {terminals:?}");
    let end = terminals[0];
    assert_eq!(end.kind, "scan_complete", "{end:?}");
    assert_eq!(end.status, Some(Status::Success), "{:#}", end.data);
    let accounts_scanned: BTreeSet<&str> = end.data["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert_eq!(accounts_scanned, BTreeSet::from(ACCOUNTS));

    // Every account × region (and each account's global shard) reported exactly once, under
    // the scan's own request, with the VPC seeded there and its account on every record.
    let mut chunks: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut records = 0;
    for c in events.iter().filter(|e| e.kind == "scan_chunk") {
        let account = c.data["account"].as_str().unwrap().to_owned();
        let region = c.data["region"].as_str().unwrap().to_owned();
        let recs = c.data["records"].as_array().unwrap();
        records += recs.len();
        assert!(
            recs.iter().all(|r| r["account"] == account.as_str()),
            "{account}/{region}: a record of another account"
        );
        if region != "global" {
            let vpc = seeded[&account][&region].as_str().unwrap();
            assert!(
                recs.iter().any(|r| r["type"] == "vpc" && r["id"] == vpc),
                "{account}/{region}: the seeded {vpc} is missing"
            );
        }
        *chunks.entry((account, region)).or_default() += 1;
    }
    assert_eq!(
        chunks.len(),
        ACCOUNTS.len() * (REGIONS.len() + 1),
        "{chunks:?}"
    );
    assert!(
        chunks.values().all(|&n| n == 1),
        "a chunk twice: {chunks:?}"
    );
    assert_eq!(
        end.data["total"], records,
        "the total counts every chunk once"
    );

    // The work was shared, and the killed daemon's shard was taken over by another.
    let all = env.bus.events_after("0-0", 100_000).await.unwrap();
    let shard_takers: BTreeSet<String> = all
        .iter()
        .filter(|(_, e)| e.kind == "accepted" && e.data["type"] == "scan_shard")
        .filter_map(|(_, e)| e.data["daemon"].as_str().map(str::to_owned))
        .collect();
    assert!(
        shard_takers.len() == 3,
        "every daemon took shards: {shard_takers:?}"
    );
    assert!(
        all.iter().any(|(_, e)| e.kind == "accepted"
            && e.data["type"] == "scan_shard"
            && e.data["resumed"] == true),
        "a shard of the killed daemon '{doomed}' was resumed by another"
    );
    pockitect_testkit::eventually(
        "every command acknowledged",
        Duration::from_secs(30),
        || {
            let bus = env.bus.clone();
            async move { (bus.backlog().await.ok()? == (0, 0)).then_some(()) }
        },
    )
    .await;
}
