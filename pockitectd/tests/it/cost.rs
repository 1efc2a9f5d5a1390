//! Cost in the daemon: a plan carries the project's monthly estimate (live prices from the AWS
//! Price List API, cached; the bundled price table when it cannot be reached), and a deploy
//! over the blueprint's budget is refused before any AWS call. moto has no Price List API:
//! where live prices are tested, GetProducts is the testkit's fake (`FakePriceList`).

use std::time::Duration;

use pockitect_proto::cost::Estimate;
use pockitect_proto::{
    BlueprintRef, Command, DeployArgs, ErrorCode, Event, PingArgs, Status, payload::PlanReady,
};
use pockitect_testkit::{
    DelayProxy, FakePriceList, FakeProduct, RedisServer, eventually, free_port, unique,
};
use serde_json::json;

use crate::requests::blueprint;
use crate::{Harness, events_of, terminal_of};

const WITHIN: Duration = Duration::from_secs(90);

fn inline(doc: &serde_json::Value) -> BlueprintRef {
    BlueprintRef {
        project: None,
        blueprint: Some(doc.clone()),
    }
}

#[tokio::test]
async fn a_plan_carries_the_estimate_and_a_deploy_over_budget_touches_nothing() {
    // Every AWS call of the daemon goes through a counting proxy (no delay).
    let mut proxy = None;
    let h = Harness::start_with(RedisServer::start(), 2, |s, moto| {
        let p = DelayProxy::start(moto.endpoint(), Duration::ZERO);
        s.aws_endpoint_url = Some(p.endpoint());
        proxy = Some(p);
    })
    .await;
    let proxy = proxy.unwrap();
    let slug = unique("cost");
    let mut doc = blueprint(&slug);
    doc["project"]["budget_usd_month"] = json!(10);

    let sent = h.bus.send(&Command::Plan(inline(&doc))).await.unwrap();
    let t = terminal_of(&h.bus, &sent.request_id, WITHIN).await;
    let t = h.bus.answer(t).await.unwrap();
    let Ok(Event::Plan(PlanReady {
        estimate: Some(e),
        budget_usd_month,
        ..
    })) = t.decode()
    else {
        panic!("a plan with an estimate: {t:?}")
    };
    assert_eq!(budget_usd_month, Some(10.0));
    assert!(e.from_bundled_table && e.complete, "{e:?}");
    assert_eq!(e.region, "us-east-1");
    // The example blog: t3.micro, its root volume and public IPv4, a db.t3.micro with 20 GB.
    assert!((e.total_usd_month - 27.32).abs() < 0.005, "{e:#?}");
    assert!(e.lines.iter().any(|l| l.item.contains("t3.micro")));

    // Warm up what the daemon asks AWS once (its identity, for the audit trail).
    let ping = h
        .bus
        .send(&Command::Ping(PingArgs::default()))
        .await
        .unwrap();
    terminal_of(&h.bus, &ping.request_id, WITHIN).await;
    let calls = proxy.requests();

    let deploy = |over_budget| {
        Command::Deploy(DeployArgs {
            target: inline(&doc),
            rollback_on_failure: false,
            over_budget,
        })
    };
    let refused = h.bus.send(&deploy(false)).await.unwrap().request_id;
    let t = terminal_of(&h.bus, &refused, WITHIN).await;
    assert_eq!(t.data["code"], json!(ErrorCode::OverBudget), "{t:?}");
    let m = t.message().unwrap();
    assert!(
        m.contains("$27.32/month") && m.contains("$10.00/month"),
        "{m}"
    );
    assert!(m.contains("--over-budget"), "{m}");
    assert_eq!(proxy.requests(), calls, "the refused deploy called AWS");

    // --over-budget deploys, and says so in its events.
    let over = h.bus.send(&deploy(true)).await.unwrap().request_id;
    let t = terminal_of(&h.bus, &over, Duration::from_secs(180)).await;
    assert_eq!(t.status, Some(Status::Success), "{t:?}");
    let said = eventually("the over-budget event", Duration::from_secs(10), || {
        let (bus, over) = (h.bus.clone(), over.clone());
        async move {
            events_of(&bus, &over)
                .await
                .into_iter()
                .find(|e| e.message().is_some_and(|m| m.contains("over budget")))
        }
    })
    .await;
    assert!(said.message().unwrap().contains("$10.00/month"), "{said:?}");
}

/// One idle resource of each kind in moto, beside the same kinds in use; after a scan, `waste`
/// lists exactly the idle ones, priced, and its items read as terminate targets.
#[tokio::test]
async fn waste_lists_one_idle_resource_of_each_kind_and_nothing_in_use() {
    let h = Harness::start(2).await;
    let script = format!(
        r#"
import boto3, json
kw = dict(region_name='eu-west-1', endpoint_url='{endpoint}', aws_access_key_id='testing', aws_secret_access_key='testing')
ec2 = boto3.client('ec2', **kw)
rds = boto3.client('rds', **kw)
ami = ec2.describe_images()['Images'][0]['ImageId']
run = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType='t3.micro')['Instances'][0]['InstanceId']
stop = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType='t3.micro')['Instances'][0]['InstanceId']
ec2.stop_instances(InstanceIds=[stop])
vol = ec2.create_volume(AvailabilityZone='eu-west-1a', Size=100, VolumeType='gp3')['VolumeId']
used = ec2.create_volume(AvailabilityZone='eu-west-1a', Size=8, VolumeType='gp3')['VolumeId']
ec2.attach_volume(VolumeId=used, InstanceId=run, Device='/dev/sdf')
free_ip = ec2.allocate_address(Domain='vpc')['AllocationId']
used_ip = ec2.allocate_address(Domain='vpc')['AllocationId']
ec2.associate_address(AllocationId=used_ip, InstanceId=run)
vpc = ec2.create_vpc(CidrBlock='10.9.0.0/16')['Vpc']['VpcId']
subnet = ec2.create_subnet(VpcId=vpc, CidrBlock='10.9.1.0/24')['Subnet']['SubnetId']
nat_ip = ec2.allocate_address(Domain='vpc')['AllocationId']
nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=nat_ip)['NatGateway']['NatGatewayId']
rds.create_db_instance(DBInstanceIdentifier='idle-db', DBInstanceClass='db.t3.micro', Engine='postgres',
                       MasterUsername='app', MasterUserPassword='not-a-secret-1', AllocatedStorage=20)
rds.create_db_instance(DBInstanceIdentifier='busy-db', DBInstanceClass='db.t3.micro', Engine='postgres',
                       MasterUsername='app', MasterUserPassword='not-a-secret-1', AllocatedStorage=20)
rds.stop_db_instance(DBInstanceIdentifier='idle-db')
print(json.dumps({{'idle': [stop, vol, free_ip, nat, 'idle-db'], 'busy': [run, used, used_ip, 'busy-db']}}))
"#,
        endpoint = h.moto.endpoint()
    );
    let made = crate::python(&script);
    let ids = |k: &str| -> std::collections::BTreeSet<String> {
        made[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };

    let scan = h
        .bus
        .send(&Command::Scan(pockitect_proto::ScanArgs {
            regions: Some(vec!["eu-west-1".into()]),
            types: None,
        }))
        .await
        .unwrap();
    let t = terminal_of(&h.bus, &scan.request_id, WITHIN).await;
    assert!(t.is_terminal() && t.status != Some(Status::Error), "{t:?}");

    let asked = h
        .bus
        .send(&Command::Waste(pockitect_proto::WasteArgs::default()))
        .await
        .unwrap();
    let t = terminal_of(&h.bus, &asked.request_id, WITHIN).await;
    let t = h.bus.answer(t).await.unwrap();
    let Ok(Event::Waste(report)) = t.decode() else {
        panic!("a waste report: {t:?}")
    };
    let flagged: std::collections::BTreeSet<String> =
        report.items.iter().map(|i| i.id.clone()).collect();
    assert_eq!(flagged, ids("idle"), "{report:#?}");
    assert!(flagged.is_disjoint(&ids("busy")));
    let volume = report
        .items
        .iter()
        .find(|i| i.id.starts_with("vol-"))
        .unwrap();
    // 100 GB of gp3 at $0.08 per GB-month in us-east-1, derived for eu-west-1.
    assert!(
        volume.monthly_usd.is_some_and(|v| v > 7.0 && v < 10.0),
        "{volume:?}"
    );
    assert!(report.total_usd_month > 0.0);
    assert!(report.from_bundled_table);
    // The items are what `terminate --from-json -` reads.
    let targets: Vec<pockitect_proto::TerminateTarget> =
        serde_json::from_value(serde_json::to_value(&report.items).unwrap()).unwrap();
    assert_eq!(targets.len(), 5);

    // Narrowed to a region with nothing in it.
    let asked = h
        .bus
        .send(&Command::Waste(pockitect_proto::WasteArgs {
            region: Some("us-east-2".into()),
            project: None,
        }))
        .await
        .unwrap();
    let t = terminal_of(&h.bus, &asked.request_id, WITHIN).await;
    let t = h.bus.answer(t).await.unwrap();
    let Ok(Event::Waste(report)) = t.decode() else {
        panic!("a waste report: {t:?}")
    };
    assert!(report.items.is_empty() && report.total_usd_month == 0.0);
}

/// Presets what moto's Cost Explorer answers next (moto tracks no cost: its `/moto-api/` takes
/// the results a real account would show).
fn preset_cost_explorer(h: &Harness, result: serde_json::Value) {
    let body = json!({ "results": [result] }).to_string();
    let script = format!(
        "import urllib.request\nr = urllib.request.Request('{}/moto-api/static/ce/cost-and-usage-results', data={body:?}.encode(), method='POST', headers={{'Content-Type': 'application/json'}})\nurllib.request.urlopen(r).read()",
        h.moto.endpoint()
    );
    crate::python(&script);
}

async fn cost(h: &Harness, project: Option<&str>) -> pockitect_proto::Envelope {
    let sent = h
        .bus
        .send(&Command::Cost(pockitect_proto::CostArgs {
            project: project.map(str::to_owned),
        }))
        .await
        .unwrap();
    let t = terminal_of(&h.bus, &sent.request_id, WITHIN).await;
    h.bus.answer(t).await.unwrap()
}

fn month(start: &str, end: &str, groups: serde_json::Value) -> serde_json::Value {
    json!({"TimePeriod": {"Start": start, "End": end}, "Total": {}, "Groups": groups, "Estimated": false})
}

fn group(tag_value: &str, usd: &str) -> serde_json::Value {
    json!({"Keys": [format!("pockitect:project${tag_value}")],
           "Metrics": {"UnblendedCost": {"Amount": usd, "Unit": "USD"}}})
}

#[tokio::test]
async fn cost_shows_each_projects_spend_beside_its_estimate_and_budget() {
    let h = Harness::start(1).await;
    // A project the store knows, with a budget.
    let mut doc = blueprint("blog");
    doc["project"]["budget_usd_month"] = json!(30);
    std::fs::create_dir_all(&h.settings.projects_dir).unwrap();
    std::fs::write(
        h.settings.projects_dir.join("blog.json"),
        serde_json::to_string_pretty(&doc).unwrap(),
    )
    .unwrap();
    preset_cost_explorer(
        &h,
        json!({"ResultsByTime": [
            month("2026-11-01", "2026-12-01", json!([group("blog", "26.50"), group("old-api", "3.25"), group("", "41.00")])),
            month("2026-12-01", "2026-12-04", json!([group("blog", "2.75"), group("", "4.00")])),
        ], "DimensionValueAttributes": []}),
    );
    // The projects list carries each project's estimate and budget (the TUI's column).
    let sent = h
        .bus
        .send(&Command::ListProjects(pockitect_proto::Empty {}))
        .await
        .unwrap();
    let t = terminal_of(&h.bus, &sent.request_id, WITHIN).await;
    let t = h.bus.answer(t).await.unwrap();
    let Ok(Event::Projects(list)) = t.decode() else {
        panic!("projects: {t:?}")
    };
    let row = &list.projects[0];
    assert_eq!(row.budget_usd_month, Some(30.0));
    assert!(
        row.estimate_usd_month
            .is_some_and(|e| (e - 27.32).abs() < 0.005),
        "{row:?}"
    );
    // The project's details carry the estimate line by line (the TUI's details show them).
    let sent = h
        .bus
        .send(&Command::GetProject(pockitect_proto::ProjectRef {
            project: "blog".into(),
        }))
        .await
        .unwrap();
    let t = terminal_of(&h.bus, &sent.request_id, WITHIN).await;
    let t = h.bus.answer(t).await.unwrap();
    let Ok(Event::Project(detail)) = t.decode() else {
        panic!("project: {t:?}")
    };
    let e = detail.estimate.expect("the details carry the estimate");
    assert_eq!(e.total_usd_month, 27.32);
    assert!(e.lines.iter().any(|l| l.item.starts_with("t3.micro Linux")));

    let t = cost(&h, None).await;
    let Ok(Event::Cost(r)) = t.decode() else {
        panic!("a cost report: {t:?}")
    };
    assert!(r.tag_active);
    let blog = r.projects.iter().find(|p| p.project == "blog").unwrap();
    assert_eq!(blog.last_month_usd, 26.5);
    assert_eq!(blog.month_to_date_usd, 2.75);
    assert_eq!(blog.budget_usd_month, Some(30.0));
    assert!(
        blog.estimate_usd_month
            .is_some_and(|e| (e - 27.32).abs() < 0.005)
    );
    let old = r.projects.iter().find(|p| p.project == "old-api").unwrap();
    assert_eq!((old.last_month_usd, old.estimate_usd_month), (3.25, None));
    assert_eq!(r.last_month.untagged_usd, 41.0);
    assert_eq!(r.last_month.total_usd, 70.75);
    assert_eq!(r.month_to_date.total_usd, 6.75);

    // Cost Explorer answers the same question the same way; one project asked for.
    let t = cost(&h, Some("blog")).await;
    let Ok(Event::Cost(r)) = t.decode() else {
        panic!("a cost report: {t:?}")
    };
    assert_eq!(r.projects.len(), 1);
    let t = cost(&h, Some("nobody")).await;
    assert_eq!(t.data["code"], json!(ErrorCode::NotFound), "{t:?}");
}

#[tokio::test]
async fn cost_says_how_to_activate_the_tag_when_nothing_paid_carries_it() {
    let h = Harness::start(1).await;
    preset_cost_explorer(
        &h,
        json!({"ResultsByTime": [
            month("2026-11-01", "2026-12-01", json!([group("", "12.00")])),
            month("2026-12-01", "2026-12-04", json!([group("", "1.00")])),
        ], "DimensionValueAttributes": []}),
    );
    let t = cost(&h, None).await;
    let Ok(Event::Cost(r)) = t.decode() else {
        panic!("a cost report: {t:?}")
    };
    assert!(!r.tag_active);
    assert!(
        r.notes[0].contains("activate it as a cost allocation tag"),
        "{r:?}"
    );
    assert!(r.notes[0].contains("$13.00"), "{r:?}");
}

fn budgets_in_moto(h: &Harness) -> serde_json::Value {
    let script = format!(
        r#"
import boto3, json
b = boto3.client('budgets', region_name='us-east-1', endpoint_url='{endpoint}', aws_access_key_id='testing', aws_secret_access_key='testing')
out = []
for x in b.describe_budgets(AccountId='123456789012').get('Budgets', []):
    n = b.describe_notifications_for_budget(AccountId='123456789012', BudgetName=x['BudgetName']).get('Notifications', [])
    out.append({{'name': x['BudgetName'], 'limit': x['BudgetLimit']['Amount'], 'alerts': sorted(i['Threshold'] for i in n)}})
print(json.dumps(out))
"#,
        endpoint = h.moto.endpoint()
    );
    crate::python(&script)
}

#[tokio::test]
async fn a_budget_alert_email_makes_an_aws_budget_that_destroy_removes() {
    let h = Harness::start(2).await;
    let slug = unique("bud");
    let mut doc = blueprint(&slug);
    doc["project"]["budget_usd_month"] = json!(50);
    doc["project"]["budget_alert_email"] = json!("ops@example.com");
    let sent = h
        .bus
        .send(&Command::Deploy(DeployArgs {
            target: inline(&doc),
            rollback_on_failure: false,
            over_budget: false,
        }))
        .await
        .unwrap();
    let t = terminal_of(&h.bus, &sent.request_id, Duration::from_secs(180)).await;
    assert_eq!(t.status, Some(Status::Success), "{t:?}");
    let name = format!("pockitect-{slug}");
    assert!(t.message().unwrap().contains(&name), "{t:?}");
    assert_eq!(
        budgets_in_moto(&h),
        json!([{"name": name, "limit": "50.00", "alerts": [80.0, 100.0]}])
    );

    let destroy = |dry_run| {
        Command::Destroy(pockitect_proto::DestroyArgs {
            project: slug.clone(),
            dry_run,
            ..Default::default()
        })
    };
    let done = crate::send_approved(&h.bus, &destroy(true), &destroy(false))
        .await
        .request_id;
    let t = terminal_of(&h.bus, &done, Duration::from_secs(180)).await;
    assert_eq!(t.status, Some(Status::Success), "{t:?}");
    assert_eq!(budgets_in_moto(&h), json!([]));
}

/// The estimate a plan of `doc` answers.
async fn planned_estimate(h: &Harness, doc: &serde_json::Value) -> Estimate {
    let sent = h.bus.send(&Command::Plan(inline(doc))).await.unwrap();
    let t = terminal_of(&h.bus, &sent.request_id, WITHIN).await;
    let t = h.bus.answer(t).await.unwrap();
    match t.decode() {
        Ok(Event::Plan(PlanReady {
            estimate: Some(e), ..
        })) => e,
        other => panic!("a plan with an estimate: {other:?}"),
    }
}

/// The legacy fixture with a database: us-west-1, a t3.medium on Ubuntu, a db.t3.small
/// PostgreSQL with 35 GB.
fn legacy_with_db() -> serde_json::Value {
    let path =
        pockitect_testkit::fixtures().join("legacy-blueprints/training/016-websocket-server.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    doc["project"]["name"] = json!(unique("ws"));
    doc
}

/// (item start, monthly USD, live) of every charged line.
fn charged(e: &Estimate) -> Vec<(String, Option<f64>, bool)> {
    e.lines
        .iter()
        .filter(|l| !l.free)
        .map(|l| {
            let item = l.item.split(',').next().unwrap_or_default().to_owned();
            (item, l.monthly_usd, l.live)
        })
        .collect()
}

/// Prices unlike the bundled table's, so a live line cannot pass for a bundled one. S3 is
/// left out: the API "lists no price" for it.
fn catalogue() -> Vec<FakeProduct> {
    let mut c = Vec::new();
    for (region, ty, ec2, class, db, gp3, storage) in [
        (
            "us-east-1",
            "t3.micro",
            0.0111,
            "db.t3.micro",
            0.0196,
            0.085,
            0.12,
        ),
        (
            "us-west-1",
            "t3.medium",
            0.0499,
            "db.t3.small",
            0.041,
            0.096,
            0.138,
        ),
    ] {
        c.extend(FakeProduct::ec2_linux(region, ty, ec2));
        c.extend(FakeProduct::rds(region, "PostgreSQL", class, db));
        c.extend(FakeProduct::ebs(region, "gp3", gp3));
        c.extend(FakeProduct::rds_storage(
            region,
            "General Purpose",
            &["PostgreSQL", "MySQL"],
            storage,
        ));
    }
    c
}

#[tokio::test]
async fn estimates_use_live_prices_from_the_price_list_api_and_cache_them() {
    let fake = FakePriceList::start(catalogue());
    let h = Harness::start_with(RedisServer::start(), 2, |s, _| {
        s.pricing_endpoint_url = Some(fake.endpoint());
    })
    .await;
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();

    // The example blueprint, us-east-1.
    let e = planned_estimate(&h, &blueprint(&unique("live"))).await;
    let s = |x: &str| x.to_owned();
    assert_eq!(
        charged(&e),
        vec![
            // 730 h × $0.0196; 20 GB × $0.12
            (s("db.t3.micro postgres single-AZ"), Some(14.31), true),
            (
                s("20 GB general-purpose SSD database storage"),
                Some(2.40),
                true
            ),
            (s("S3 bucket 'example-blog-assets'"), Some(0.0), false),
            // 730 h × $0.0111; 8 GB × $0.085
            (s("t3.micro Linux on-demand"), Some(8.10), true),
            (s("8 GB gp3 root volume"), Some(0.68), true),
            (s("public IPv4 address of the instance"), Some(3.65), false),
        ],
        "{e:#?}"
    );
    assert_eq!(e.total_usd_month, 29.14);
    assert!(!e.from_bundled_table && e.complete);
    assert_eq!(e.prices_as_of, today);
    assert!(e.prices_source.contains("AWS Price List API"), "{e:#?}");
    let said = e.notes.join("\n");
    assert!(
        said.contains("lists no price for S3 Standard storage in us-east-1"),
        "{said}"
    );
    assert!(said.contains("lines not marked live are priced from the table bundled"));
    let asked = fake.requests();
    assert_eq!(asked, 5, "one question per price the estimate needs");

    // Asked again: from the cache, which is a file in the cache dir.
    let again = planned_estimate(&h, &blueprint(&unique("live"))).await;
    assert_eq!(again.total_usd_month, 29.14);
    assert_eq!(
        fake.requests(),
        asked + 1,
        "only S3, which had no answer, is asked again"
    );
    let cached = std::fs::read_to_string(h.settings.cache_dir.join("pricing/prices.json")).unwrap();
    assert!(cached.contains("\"instance_type\": \"t3.micro\"") && cached.contains(&today));

    // The legacy fixture with a database, in us-west-1 (a region the bundled table derives).
    let e = planned_estimate(&h, &legacy_with_db()).await;
    let lines: Vec<_> = charged(&e)
        .into_iter()
        .filter(|(item, ..)| !item.starts_with("S3 bucket"))
        .collect();
    assert_eq!(
        lines,
        [
            // 730 h × $0.041; 35 GB × $0.138
            (s("db.t3.small postgres single-AZ"), Some(29.93), true),
            (
                s("35 GB general-purpose SSD database storage"),
                Some(4.83),
                true
            ),
            // 730 h × $0.0499; 8 GB × $0.096
            (s("t3.medium Linux on-demand"), Some(36.43), true),
            (s("8 GB gp3 root volume"), Some(0.77), true),
            (s("public IPv4 address of the instance"), Some(3.65), false),
        ],
        "{e:#?}"
    );
    assert!(e.lines.iter().filter(|l| l.live).all(|l| !l.derived));
    assert_eq!(e.region, "us-west-1");
}

#[tokio::test]
async fn with_the_price_list_api_unreachable_estimates_come_from_the_bundled_table() {
    let closed = format!("http://127.0.0.1:{}", free_port());
    let h = Harness::start_with(RedisServer::start(), 2, |s, _| {
        s.pricing_endpoint_url = Some(closed);
    })
    .await;

    let e = planned_estimate(&h, &blueprint(&unique("offline"))).await;
    assert!(e.from_bundled_table && e.complete, "{e:#?}");
    assert!(e.lines.iter().all(|l| !l.live));
    assert_eq!(e.total_usd_month, 27.32);
    assert_eq!(e.prices_as_of, "2025-01");
    let said = e.notes.join("\n");
    assert!(
        said.contains("the AWS Price List API could not be asked"),
        "{said}"
    );
    assert!(
        said.contains("prices from the table bundled with Pockitect"),
        "{said}"
    );

    // The legacy fixture: us-west-1 is derived from us-east-1 in the bundled table, and says so.
    let e = planned_estimate(&h, &legacy_with_db()).await;
    assert!(e.from_bundled_table, "{e:#?}");
    let lines = charged(&e);
    assert_eq!(lines[0].0, "db.t3.small postgres single-AZ");
    assert!(
        lines
            .iter()
            .any(|(item, ..)| item == "t3.medium Linux on-demand")
    );
    assert!(e.lines.iter().any(|l| l.derived));
    let said = e.notes.join("\n");
    assert!(
        said.contains("prices in 'us-west-1' marked derived"),
        "{said}"
    );
    // The failure is remembered: the second plan did not wait on the endpoint again.
    assert!(
        said.contains("could not be asked") && said.contains("asked again after 300 s"),
        "{said}"
    );
}
