//! Redis restarted in the middle of a real deploy (AWS behind latency, so the deploy is
//! mid-way): with persistence the deploy resumes and ends once; without, it ends with one error
//! saying Redis lost its state, and running it again finishes the job. Either way, nothing is
//! created twice: every resource moto holds for the project is one its blueprint records.

use std::collections::BTreeSet;
use std::time::Duration;

use pockitect_proto::{Command, DeployArgs, ErrorCode, RequestId, Status};
use pockitect_testkit::{DelayProxy, RedisServer, eventually, unique};
use serde_json::{Value, json};

use crate::requests::blueprint;
use crate::{Harness, events_of, terminal_of};

/// A daemon on a redis-server of the test's own (an external one cannot be restarted), its AWS
/// calls slowed down as the real service's are.
async fn start(persistent: bool) -> (Harness, DelayProxy) {
    let mut proxy = None;
    let h = Harness::start_with(RedisServer::start_private(persistent), 2, |s, moto| {
        let p = DelayProxy::start(moto.endpoint(), Duration::from_millis(150));
        s.aws_endpoint_url = Some(p.endpoint());
        proxy = Some(p);
    })
    .await;
    (h, proxy.expect("the proxy was started"))
}

async fn send_deploy(h: &Harness, doc: &Value) -> RequestId {
    let cmd = Command::Deploy(DeployArgs {
        target: pockitect_proto::BlueprintRef {
            project: None,
            blueprint: Some(doc.clone()),
        },
        rollback_on_failure: false,
        over_budget: false,
    });
    // Retried: right after a restart the shared connection reconnects on its first command.
    eventually("the deploy sent", Duration::from_secs(10), || {
        let (bus, cmd) = (h.bus.clone(), cmd.clone());
        async move { bus.send(&cmd).await.ok() }
    })
    .await
    .request_id
}

/// Waits until the deploy has made `n` steps: it is mid-way, with resources already created.
async fn wait_for_steps(h: &Harness, r: &RequestId, n: usize) {
    eventually(
        &format!("{n} deploy steps"),
        Duration::from_secs(60),
        || {
            let (bus, r) = (h.bus.clone(), r.clone());
            async move {
                let events = events_of(&bus, &r).await;
                let steps = events
                    .iter()
                    .filter(|e| e.kind == "deploy_progress")
                    .count();
                (steps >= n).then_some(())
            }
        },
    )
    .await;
}

/// The ids of every EC2 resource moto holds tagged for `slug` (instances that are not
/// terminated), and the number of instances among them.
fn tagged_in_moto(h: &Harness, slug: &str) -> (BTreeSet<String>, usize) {
    let script = format!(
        r#"
import boto3, json
ec2 = boto3.client('ec2', region_name='us-east-1', endpoint_url='{endpoint}',
                   aws_access_key_id='testing', aws_secret_access_key='testing')
f = [{{'Name': 'tag:pockitect:project', 'Values': ['{slug}']}}]
ids = [v['VpcId'] for v in ec2.describe_vpcs(Filters=f)['Vpcs']]
ids += [s['SubnetId'] for s in ec2.describe_subnets(Filters=f)['Subnets']]
ids += [g['GroupId'] for g in ec2.describe_security_groups(Filters=f)['SecurityGroups']]
ids += [g['InternetGatewayId'] for g in ec2.describe_internet_gateways(Filters=f)['InternetGateways']]
ids += [t['RouteTableId'] for t in ec2.describe_route_tables(Filters=f)['RouteTables']]
instances = [i['InstanceId'] for r in ec2.describe_instances(Filters=f)['Reservations']
             for i in r['Instances'] if i['State']['Name'] != 'terminated']
print(json.dumps({{'ids': ids + instances, 'instances': len(instances)}}))
"#,
        endpoint = h.moto.endpoint(),
    );
    let v = crate::python(&script);
    let ids = v["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap().to_owned())
        .collect();
    (ids, v["instances"].as_u64().unwrap() as usize)
}

/// Nothing was created twice: one instance, and every tagged resource is recorded.
fn assert_nothing_duplicated(h: &Harness, slug: &str) {
    let (ids, instances) = tagged_in_moto(h, slug);
    assert_eq!(instances, 1, "one instance for the project: {ids:?}");
    let saved =
        std::fs::read_to_string(h.settings.projects_dir.join(format!("{slug}.json"))).unwrap();
    let orphans: Vec<&String> = ids
        .iter()
        .filter(|id| !saved.contains(id.as_str()))
        .collect();
    assert!(
        orphans.is_empty(),
        "resources created but not recorded (created twice): {orphans:?}"
    );
}

#[tokio::test]
async fn a_redis_restart_with_persistence_mid_deploy_resumes_it_and_it_ends_once() {
    let (mut h, _proxy) = start(true).await;
    let slug = unique("rp");
    let doc = blueprint(&slug);
    let r = send_deploy(&h, &doc).await;
    wait_for_steps(&h, &r, 3).await;

    h.redis.restart();

    let end = terminal_of(&h.bus, &r, Duration::from_secs(180)).await;
    assert_eq!(end.status, Some(Status::Success), "{end:?}");
    let all = events_of(&h.bus, &r).await;
    assert_eq!(all.iter().filter(|e| e.is_terminal()).count(), 1, "{all:?}");
    assert_nothing_duplicated(&h, &slug);
}

#[tokio::test]
async fn a_redis_restart_without_persistence_mid_deploy_ends_it_once_and_a_rerun_finishes() {
    let (mut h, _proxy) = start(false).await;
    let slug = unique("rn");
    let doc = blueprint(&slug);
    let r = send_deploy(&h, &doc).await;
    wait_for_steps(&h, &r, 3).await;

    h.redis.restart();

    let end = terminal_of(&h.bus, &r, Duration::from_secs(60)).await;
    assert_eq!(end.status, Some(Status::Error), "{end:?}");
    assert_eq!(
        end.data["code"],
        json!(ErrorCode::RedisStateLost),
        "{end:?}"
    );
    let all = events_of(&h.bus, &r).await;
    assert_eq!(all.iter().filter(|e| e.is_terminal()).count(), 1, "{all:?}");

    // What the message promises: running it again is safe and finishes the job.
    let again = send_deploy(&h, &doc).await;
    let end = terminal_of(&h.bus, &again, Duration::from_secs(180)).await;
    assert_eq!(end.status, Some(Status::Success), "{end:?}");
    assert_nothing_duplicated(&h, &slug);
}
