//! A full blueprint deployed through the CLI and the daemon into moto.

use std::time::Duration;

use pockitect_proto::{Envelope, RequestId, Status};
use pockitect_testkit::DelayProxy;
use serde_json::{Value, json};

use crate::{Env, json_lines};

fn blueprint(name: &str) -> Value {
    json!({
        "project": { "name": name, "region": "us-east-1", "tags": { "team": "web" } },
        "network": { "vpc_mode": "new", "vpc_cidr": "10.0.0.0/16", "subnet_type": "public",
                     "rules": [ { "port": 443, "protocol": "tcp", "cidr": "0.0.0.0/0", "description": "HTTPS" } ] },
        "compute": { "instance_type": "t3.micro", "image_id": "amazon-linux-2023", "user_data": "#!/bin/sh\necho hi" },
        "data": { "db": { "engine": "postgres", "instance_class": "db.t3.micro", "allocated_storage_gb": 20, "username": "app" },
                  "s3_bucket": { "name": format!("{name}-assets") } },
        "security": { "key_pair": { "mode": "generate", "name": format!("{name}-key") },
                      "certificate": { "mode": "skip" },
                      "iam_role": { "enabled": true, "role_name": format!("pockitect-{name}-role") } }
    })
}

#[tokio::test]
async fn deploy_through_the_daemon_writes_back_ids_and_a_second_deploy_creates_nothing() {
    let env = Env::new().await;
    let _d = env.daemon("d", 2);
    env.wait_daemons(1).await;
    let out = env.deploy_file(&blueprint("e2e-blog"), "blog.json");
    let lines = json_lines(&out);
    let last = lines.last().expect("events");
    assert_eq!(last["type"], "deploy_complete", "{last}");
    assert_eq!(last["status"], "success", "{last}");
    assert!(out.status.success());
    assert!(
        lines
            .iter()
            .any(|l| l["type"] == "deploy_progress" && l["data"]["total"].as_u64() > Some(5))
    );

    // Ids written back into the daemon's project store.
    let stored: Value = serde_json::from_str(
        &std::fs::read_to_string(env.dir.path().join("projects/e2e-blog.json")).unwrap(),
    )
    .unwrap();
    assert!(
        stored["network"]["vpc_id"]
            .as_str()
            .unwrap()
            .starts_with("vpc-")
    );
    assert!(
        stored["compute"]["instance_id"]
            .as_str()
            .unwrap()
            .starts_with("i-")
    );
    assert!(stored["data"]["db"]["endpoint"].is_string());
    assert!(stored["data"]["db"]["password"].is_null());

    // The private key is a 0600 file; the generated DB password is in a 0600 secret file and
    // nowhere else: not in the blueprint, the events or the daemon's log.
    let key = stored["security"]["key_pair"]["private_key_path"]
        .as_str()
        .unwrap()
        .to_owned();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // RDS keeps the password in Secrets Manager: nothing was stored on this side.
    assert!(
        !env.dir.path().join("secrets/e2e-blog.db-password").exists(),
        "a password was stored"
    );
    let password = crate::secrets::managed_password(&env, "e2e-blog-db");
    assert!(!password.is_empty());
    let events = env.events_text().await;
    assert!(!events.contains(&password), "password leaked into events");
    let blueprint_text =
        std::fs::read_to_string(env.dir.path().join("projects/e2e-blog.json")).unwrap();
    assert!(!blueprint_text.contains(&password));
    let log = std::fs::read_to_string(&_d.log).unwrap();
    assert!(!log.contains(&password), "password leaked into the log");

    // The daemon's own write-backs are not announced as hand edits.
    assert!(
        !events.contains("project_updated"),
        "the daemon's own writes echoed"
    );

    // A second deploy by slug adopts or keeps everything.
    let out = env
        .cli()
        .args(["deploy", "e2e-blog", "--yes", "--json"])
        .output()
        .unwrap();
    let lines = json_lines(&out);
    let last = lines.last().unwrap();
    assert_eq!(last["status"], "success", "{last}");
    let created: Vec<&Value> = last["data"]["report"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "create")
        .collect();
    assert!(created.is_empty(), "second deploy created {created:?}");

    // status shows the recorded instance; the skipped certificate is not "pending".
    let out = env.cli().args(["status", "e2e-blog"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(stored["compute"]["instance_id"].as_str().unwrap()),
        "{text}"
    );
    let cert = text
        .lines()
        .find(|l| l.starts_with("certificate"))
        .unwrap_or_default();
    assert!(cert.contains("not wanted"), "{text}");
}

#[tokio::test]
async fn an_invalid_blueprint_never_reaches_the_daemon() {
    let env = Env::new().await;
    let mut bp = blueprint("bad");
    bp["network"]["rules"][0]["port"] = json!(70000);
    let file = env.dir.path().join("bad.json");
    std::fs::write(&file, bp.to_string()).unwrap();
    let out = env
        .cli()
        .arg("deploy")
        .arg(&file)
        .args(["--yes", "--queue"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(pockitect_proto::exit::INVALID));
    assert!(String::from_utf8_lossy(&out.stderr).contains("network.rules[0].port"));
    assert_eq!(
        env.bus.backlog().await.unwrap(),
        (0, 0),
        "nothing was queued"
    );
}

#[tokio::test]
async fn plan_checks_the_instance_type_against_what_the_region_offers() {
    let env = Env::new().await;
    let _d = env.daemon("cat", 1);
    env.wait_daemons(1).await;
    // Well-formed, so offline validation lets it through; us-east-1 does not offer it.
    let mut bp = blueprint("e2e-catalog");
    bp["compute"]["instance_type"] = json!("t3.metal");
    let file = env.dir.path().join("catalog.json");
    std::fs::write(&file, bp.to_string()).unwrap();
    let out = env.cli().arg("plan").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(pockitect_proto::exit::INVALID),
        "{stderr}"
    );
    assert!(
        stderr.contains("compute.instance_type")
            && stderr.contains("'t3.metal' is not offered in 'us-east-1'"),
        "{stderr}"
    );
    // `validate` asks the daemon too; `--offline` checks the shape only.
    let out = env.cli().arg("validate").arg(&file).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(pockitect_proto::exit::INVALID),
        "{out:?}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("'t3.metal' is not offered"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("daemon catalog"));
    let out = env
        .cli()
        .args(["validate", "--offline"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // `new` checks its answers against the same offer.
    let wizard_dir = env.dir.path().join("wizard");
    let out = env
        .cli()
        .args(["new", "--name", "e2e-wiz", "--region", "us-east-1"])
        .args(["--instance-type", "t3.metal", "--db", "postgres", "--yes"])
        .arg("--projects-dir")
        .arg(&wizard_dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(pockitect_proto::exit::INVALID),
        "{stderr}"
    );
    assert!(
        stderr.contains("compute.instance_type") && stderr.contains("not offered"),
        "{stderr}"
    );
    let out = env
        .cli()
        .args([
            "new",
            "--name",
            "e2e-wiz",
            "--region",
            "us-east-1",
            "--db",
            "postgres",
            "--yes",
        ])
        .arg("--projects-dir")
        .arg(&wizard_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("daemon catalog"));
    // The catalog was cached for the next plan, with the region's real offer in it.
    let cached = env.dir.path().join("cache/catalog/us-east-1.json");
    let cat: Value = serde_json::from_str(&std::fs::read_to_string(&cached).unwrap()).unwrap();
    assert!(
        cat["instance_types"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "t3.micro")
    );
    // An offered type plans fine against the same (cached) catalog.
    bp["compute"]["instance_type"] = json!("t3.micro");
    std::fs::write(&file, bp.to_string()).unwrap();
    let out = env.cli().arg("plan").arg(&file).output().unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// The state of one resource as a fresh scan of moto sees it (None when gone).
fn scanned_state(env: &Env, kind: &str, id: &str) -> Option<String> {
    let out = env
        .cli()
        .args(["scan", "--regions", "us-east-1", "--types", kind, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = env
        .cli()
        .args(["resources", "--type", kind, "--json"])
        .output()
        .unwrap();
    let records: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    records
        .iter()
        .find(|r| r["id"] == id)
        .map(|r| r["state"].as_str().unwrap_or("").to_owned())
}

#[tokio::test]
async fn power_stop_start_and_destroy_leave_only_what_is_not_the_projects() {
    let env = Env::new().await;
    let _d = env.daemon("d", 2);
    env.wait_daemons(1).await;
    // Someone else's instance (another project) and the default VPC must survive the destroy.
    let other = env.seed("us-east-1", "other");
    let other_instance = other["us-east-1"]["ec2_instance"][0]
        .as_str()
        .unwrap()
        .to_owned();

    let mut bp = blueprint("e2e-ops");
    bp["data"]["db"] = json!({"status": "skipped"});
    let file = env.dir.path().join("ops.json");
    std::fs::write(&file, bp.to_string()).unwrap();
    let out = env
        .cli()
        .arg("deploy")
        .arg(&file)
        .args(["--yes", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stored: Value = serde_json::from_str(
        &std::fs::read_to_string(env.dir.path().join("projects/e2e-ops.json")).unwrap(),
    )
    .unwrap();
    let instance = stored["compute"]["instance_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        scanned_state(&env, "ec2_instance", &instance).as_deref(),
        Some("running")
    );

    let out = env
        .cli()
        .args(["power", "stop", "e2e-ops", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        scanned_state(&env, "ec2_instance", &instance).as_deref(),
        Some("stopped")
    );
    let out = env
        .cli()
        .args(["power", "start", "e2e-ops", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        scanned_state(&env, "ec2_instance", &instance).as_deref(),
        Some("running")
    );

    // Dry run changes nothing; then the destroy.
    let out = env
        .cli()
        .args(["destroy", "e2e-ops", "--dry-run"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(&instance));
    assert_eq!(
        scanned_state(&env, "ec2_instance", &instance).as_deref(),
        Some("running")
    );
    let out = env
        .cli()
        .args(["destroy", "e2e-ops", "--yes", "--json"])
        .output()
        .unwrap();
    let lines = json_lines(&out);
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "destroy_complete");
    assert_eq!(last["status"], "success", "{last}");

    // Nothing tagged for the project remains; the other project's instance and the default VPC do.
    let out = env
        .cli()
        .args(["scan", "--regions", "us-east-1", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = env.cli().args(["resources", "--json"]).output().unwrap();
    let records: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let left: Vec<&Value> = records
        .iter()
        .filter(|r| r["project"] == "e2e-ops" && r["state"] != "terminated")
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(
        records
            .iter()
            .any(|r| r["id"] == other_instance.as_str() && r["state"] == "running")
    );
    assert!(
        records
            .iter()
            .any(|r| r["type"] == "vpc" && r["details"]["is_default"] == true)
    );

    // The blueprint stays, back to pending with no ids.
    let stored: Value = serde_json::from_str(
        &std::fs::read_to_string(env.dir.path().join("projects/e2e-ops.json")).unwrap(),
    )
    .unwrap();
    assert!(stored["compute"]["instance_id"].is_null());
    assert_eq!(stored["compute"]["status"], "pending");
}

#[tokio::test]
async fn refresh_sees_an_instance_stopped_behind_pockitects_back() {
    let env = Env::new().await;
    let _d = env.daemon("d", 2);
    env.wait_daemons(1).await;
    let mut bp = blueprint("e2e-drift");
    bp["data"]["db"] = json!({"status": "skipped"});
    let file = env.dir.path().join("drift.json");
    std::fs::write(&file, bp.to_string()).unwrap();
    let out = env
        .cli()
        .arg("deploy")
        .arg(&file)
        .args(["--yes", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let path = env.dir.path().join("projects/e2e-drift.json");
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let instance = stored["compute"]["instance_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Stopped in "the console" (boto3 straight at moto), not through Pockitect.
    let script = format!(
        "import boto3; boto3.client('ec2', region_name='us-east-1', endpoint_url='{}', aws_access_key_id='x', aws_secret_access_key='x').stop_instances(InstanceIds=['{instance}'])",
        env.moto.endpoint()
    );
    assert!(
        std::process::Command::new("python3")
            .args(["-c", &script])
            .status()
            .unwrap()
            .success()
    );

    let out = env
        .cli()
        .args(["refresh", "e2e-drift", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    let change = lines
        .iter()
        .find(|l| l["type"] == "resource_changed")
        .expect("a resource_changed event");
    assert_eq!(change["data"]["id"], instance.as_str());
    assert_eq!(change["data"]["to"], "stopped");
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(stored["compute"]["status"], "stopped");
}

/// Every event of `id` so far (no waiting).
async fn events_so_far(env: &Env, id: &RequestId) -> Vec<Envelope> {
    env.bus
        .events_after("0-0", 100_000)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, e)| e)
        .filter(|e| e.request_id.as_ref() == Some(id))
        .collect()
}

/// `(resource, id)` of every resource a deploy's progress events say it created.
fn created_by(events: &[Envelope]) -> Vec<(String, String)> {
    events
        .iter()
        .filter(|e| {
            e.kind == "deploy_progress" && e.data["state"] == "done" && e.data["action"] == "create"
        })
        .map(|e| {
            (
                e.data["resource"].as_str().unwrap().to_owned(),
                e.data["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// What moto holds for `slug` in us-east-1, per resource type (ids or names), read with boto3
/// straight from moto: EC2 and RDS resources by their `pockitect:project` tag (instances that
/// are not terminated), buckets and IAM names by the slug they contain.
fn moto_inventory(env: &Env, slug: &str) -> Value {
    const SCRIPT: &str = r#"
import json, sys
import boto3
endpoint, slug = sys.argv[1], sys.argv[2]
kw = dict(region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id="x", aws_secret_access_key="x")
ec2, rds, s3, iam = (boto3.client(s, **kw) for s in ("ec2", "rds", "s3", "iam"))
def ours(tags):
    return any(t["Key"] == "pockitect:project" and t["Value"] == slug for t in tags or [])
out = {
    "vpc": [x["VpcId"] for x in ec2.describe_vpcs()["Vpcs"] if ours(x.get("Tags"))],
    "subnet": [x["SubnetId"] for x in ec2.describe_subnets()["Subnets"] if ours(x.get("Tags"))],
    "security_group": [x["GroupId"] for x in ec2.describe_security_groups()["SecurityGroups"] if ours(x.get("Tags"))],
    "internet_gateway": [x["InternetGatewayId"] for x in ec2.describe_internet_gateways()["InternetGateways"] if ours(x.get("Tags"))],
    "route_table": [x["RouteTableId"] for x in ec2.describe_route_tables()["RouteTables"] if ours(x.get("Tags"))],
    "key_pair": [x["KeyName"] for x in ec2.describe_key_pairs()["KeyPairs"] if ours(x.get("Tags"))],
    "ec2_instance": [i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
                     if ours(i.get("Tags")) and i["State"]["Name"] != "terminated"],
    "rds_instance": [x["DBInstanceIdentifier"] for x in rds.describe_db_instances()["DBInstances"] if ours(x.get("TagList"))],
    "db_subnet_group": [x["DBSubnetGroupName"] for x in rds.describe_db_subnet_groups()["DBSubnetGroups"] if slug in x["DBSubnetGroupName"]],
    "s3_bucket": [x["Name"] for x in s3.list_buckets()["Buckets"] if slug in x["Name"]],
    "iam_role": [x["RoleName"] for x in iam.list_roles()["Roles"] if slug in x["RoleName"]],
    "instance_profile": [x["InstanceProfileName"] for x in iam.list_instance_profiles()["InstanceProfiles"] if slug in x["InstanceProfileName"]],
}
print(json.dumps(out))
"#;
    crate::python_json("inventory", &["-c", SCRIPT, env.moto.endpoint(), slug])
}

#[tokio::test]
async fn a_deploy_killed_midway_is_finished_by_another_daemon_without_duplicates() {
    let env = Env::new().await;
    // The doomed daemon sees AWS as slow as the real one is, so the kill lands mid-deploy.
    let slow = DelayProxy::start(env.moto.endpoint(), Duration::from_millis(300));
    let mut doomed = env.daemon_via("doomed", 1, &slow.endpoint());
    env.wait_daemons(1).await;
    let slug = "e2e-resume";
    let file = env.dir.path().join("resume.json");
    std::fs::write(
        &file,
        serde_json::to_string_pretty(&blueprint(slug)).unwrap(),
    )
    .unwrap();
    let out = env
        .cli()
        .arg("deploy")
        .arg(&file)
        .args(["--yes", "--detach", "--json"])
        .env_remove("POCKITECT_DB_PASSWORD")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent: Value = serde_json::from_slice(&out.stdout).expect("the request id as JSON");
    let id = RequestId::parse(sent["request_id"].as_str().unwrap()).unwrap();

    // Kill it once two resources are created and before the deploy ends.
    let total = pockitect_testkit::eventually(
        "the doomed daemon to create two resources",
        Duration::from_secs(120),
        || {
            let (env, id) = (&env, &id);
            async move {
                let events = events_so_far(env, id).await;
                assert!(
                    !events.iter().any(Envelope::is_terminal),
                    "the deploy ended before the kill; slow the proxy down: {events:?}"
                );
                (created_by(&events).len() >= 2).then(|| {
                    events
                        .iter()
                        .find_map(|e| e.data["total"].as_u64())
                        .unwrap()
                })
            }
        },
    )
    .await;
    doomed.kill();
    let before_kill = events_so_far(&env, &id).await;
    assert!(
        !before_kill.iter().any(Envelope::is_terminal),
        "the deploy ended before the kill: {before_kill:?}"
    );
    let created_before = created_by(&before_kill);
    let done_before = before_kill
        .iter()
        .filter(|e| e.kind == "deploy_progress" && e.data["state"] == "done")
        .count();
    assert!(
        created_before.len() >= 2 && (done_before as u64) < total,
        "killed mid-deploy: {done_before} of {total} done, created {created_before:?}"
    );

    // Another daemon, straight to moto, reclaims the same request once the lease runs out.
    let _rescuer = env.daemon("rescuer", 1);
    let events = env.events_of(&id, Duration::from_secs(180)).await;
    let terminals: Vec<&Envelope> = events.iter().filter(|e| e.is_terminal()).collect();
    assert_eq!(terminals.len(), 1, "{events:?}");
    let last = terminals[0];
    assert_eq!(last.kind, "deploy_complete", "{last:?}");
    assert_eq!(
        last.status,
        Some(Status::Success),
        "the resumed deploy failed: {}\n{last:?}",
        last.data["message"]
    );
    assert!(
        events.iter().any(|e| e.kind == "accepted"
            && e.data["daemon"] == "rescuer"
            && e.data["resumed"] == json!(true)),
        "the rescuer says it resumed the request: {events:?}"
    );
    // What the doomed daemon created, the rescuer found again (same id), not created anew.
    let report = last.data["report"]["resources"].as_array().unwrap();
    for (resource, created_id) in &created_before {
        let r = report
            .iter()
            .find(|r| r["resource"] == resource.as_str())
            .unwrap_or_else(|| panic!("{resource} missing from the report: {report:?}"));
        assert_eq!(r["state"], "done", "{r}");
        assert_ne!(r["action"], "create", "{resource} created twice: {r}");
        assert_eq!(r["id"], created_id.as_str(), "{resource} changed id: {r}");
    }

    // Exactly one of everything in moto, and it is what the blueprint records.
    let stored: Value = serde_json::from_str(
        &std::fs::read_to_string(env.dir.path().join(format!("projects/{slug}.json"))).unwrap(),
    )
    .unwrap();
    let moto = moto_inventory(&env, slug);
    let only = |kind: &str| -> String {
        let found = moto[kind].as_array().unwrap();
        assert_eq!(found.len(), 1, "{kind} in moto: {moto}");
        found[0].as_str().unwrap().to_owned()
    };
    let (net, sec) = (&stored["network"], &stored["security"]);
    assert_eq!(net["vpc_id"], only("vpc").as_str(), "{stored}");
    assert_eq!(
        net["internet_gateway_id"],
        only("internet_gateway").as_str()
    );
    assert_eq!(net["route_table_id"], only("route_table").as_str());
    assert_eq!(net["security_group_id"], only("security_group").as_str());
    let mut subnets: Vec<&str> = moto["subnet"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let mut recorded = vec![
        net["subnet_id"].as_str().unwrap(),
        net["secondary_subnet_id"].as_str().unwrap(),
    ];
    subnets.sort_unstable();
    recorded.sort_unstable();
    assert_eq!(subnets, recorded, "subnets in moto: {moto}");
    assert_eq!(
        net["db_subnet_group_name"],
        only("db_subnet_group").as_str()
    );
    assert_eq!(
        stored["compute"]["instance_id"],
        only("ec2_instance").as_str()
    );
    assert_eq!(
        stored["data"]["db"]["identifier"],
        only("rds_instance").as_str()
    );
    assert!(stored["data"]["db"]["endpoint"].is_string(), "{stored}");
    assert_eq!(only("s3_bucket"), format!("{slug}-assets"));
    assert!(stored["data"]["s3_bucket"]["arn"].is_string(), "{stored}");
    assert_eq!(only("key_pair"), format!("{slug}-key"));
    assert!(sec["key_pair"]["key_pair_id"].is_string(), "{stored}");
    let role = only("iam_role");
    assert!(
        sec["iam_role"]["arn"]
            .as_str()
            .is_some_and(|a| a.ends_with(&format!("/{role}"))),
        "{stored}"
    );
    let profile = only("instance_profile");
    assert!(
        sec["iam_role"]["instance_profile_arn"]
            .as_str()
            .is_some_and(|a| a.ends_with(&format!("/{profile}"))),
        "{stored}"
    );
}
