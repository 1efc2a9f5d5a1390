//! The ownership gate end to end: a copied blueprint never takes over the project it was copied
//! from, and `destroy --force` never deletes what a project only borrows.

use serde_json::{Value, json};

use crate::{Env, json_lines, python_json};

/// A small project: network, instance and security group, key pair; no database, bucket or role
/// (they add minutes to nothing this file proves).
fn blueprint(name: &str, network: Value) -> Value {
    json!({
        "project": { "name": name, "region": "us-east-1" },
        "network": network,
        "compute": { "instance_type": "t3.micro", "image_id": "amazon-linux-2023" },
        "data": { "db": null, "s3_bucket": null },
        "security": { "key_pair": { "mode": "generate", "name": format!("{name}-key") },
                      "certificate": { "mode": "skip" },
                      "iam_role": { "enabled": false } }
    })
}

fn deploy(env: &Env, doc: &Value, file: &str) -> (std::process::Output, Vec<Value>) {
    let out = env.deploy_file(doc, file);
    let lines = json_lines(&out);
    (out, lines)
}

fn stored(env: &Env, slug: &str) -> Value {
    let path = env.dir.path().join(format!("projects/{slug}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Runs boto3 against moto: `body` is Python using `ec2` and prints one JSON value.
fn boto(env: &Env, body: &str) -> Value {
    let script = format!(
        "import boto3, json\nec2 = boto3.client('ec2', region_name='us-east-1', endpoint_url='{}', aws_access_key_id='testing', aws_secret_access_key='testing')\n{body}",
        env.moto.endpoint()
    );
    python_json("boto3 against moto", &["-c", &script])
}

fn instance_state(env: &Env, id: &str) -> String {
    boto(
        env,
        &format!(
            "r = ec2.describe_instances(InstanceIds=['{id}'])['Reservations'][0]['Instances'][0]\nprint(json.dumps(r['State']['Name']))"
        ),
    )
    .as_str()
    .unwrap()
    .to_owned()
}

fn exists(env: &Env, call: &str, key: &str, id: &str) -> bool {
    let v = boto(
        env,
        &format!("print(json.dumps([x for x in ec2.{call}()['{key}']]))"),
    );
    v.to_string().contains(id)
}

#[tokio::test]
async fn a_copied_blueprint_is_a_conflict_and_never_touches_the_original() {
    let env = Env::new().await;
    let _d = env.daemon("d", 2);
    env.wait_daemons(1).await;
    let network = json!({"vpc_mode": "new", "vpc_cidr": "10.0.0.0/16",
        "rules": [{"port": 443, "protocol": "tcp", "cidr": "0.0.0.0/0"}]});
    let (out, lines) = deploy(&env, &blueprint("e2e-blog", network), "blog.json");
    assert!(out.status.success(), "{lines:?}");
    let blog = stored(&env, "e2e-blog");
    let instance = blog["compute"]["instance_id"].as_str().unwrap().to_owned();
    let sg = blog["network"]["security_group_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rules_before = boto(
        &env,
        &format!(
            "print(json.dumps(ec2.describe_security_groups(GroupIds=['{sg}'])['SecurityGroups'][0]['IpPermissions']))"
        ),
    );

    // The user copies projects/e2e-blog.json and changes only the name and slug, and a rule.
    let mut copy = blog.clone();
    copy["project"]["name"] = json!("e2e-blog-staging");
    copy["project"]["slug"] = json!("e2e-blog-staging");
    copy["network"]["rules"] = json!([{"port": 8080, "protocol": "tcp", "cidr": "0.0.0.0/0"}]);
    let (out, lines) = deploy(&env, &copy, "staging.json");
    assert!(!out.status.success(), "the copy must not deploy: {lines:?}");
    let last = lines.last().expect("a terminal event");
    assert_eq!(last["status"], "error", "{last}");
    assert_eq!(last["data"]["code"], "conflict", "{last}");
    let message = last["data"]["message"].as_str().unwrap();
    assert!(message.contains("'e2e-blog'"), "names the owner: {message}");
    assert!(message.contains(&instance), "names the instance: {message}");
    assert!(message.contains("null"), "says what to do: {message}");
    assert!(
        !lines.iter().any(|l| l["type"] == "deploy_progress"),
        "nothing ran: {lines:?}"
    );
    // The plan found the conflict, so the copy never reached the project store; the user's copy
    // is there all the same (they copied the file in projects/), and power and destroy must
    // refuse it too.
    std::fs::write(
        env.dir.path().join("projects/e2e-blog-staging.json"),
        serde_json::to_string_pretty(&copy).unwrap(),
    )
    .unwrap();
    // Nothing of the original changed: no rule added to its security group.
    let rules_after = boto(
        &env,
        &format!(
            "print(json.dumps(ec2.describe_security_groups(GroupIds=['{sg}'])['SecurityGroups'][0]['IpPermissions']))"
        ),
    );
    assert_eq!(rules_before, rules_after);

    // Power of the copy does not stop the original's server.
    let out = env
        .cli()
        .args(["power", "stop", "e2e-blog-staging", "--json"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("not touched"), "{text}");
    assert!(
        !out.status.success(),
        "powering nothing is no success: {text}"
    );
    let last = json_lines(&out).pop().unwrap();
    assert_eq!(last["data"]["code"], "conflict", "{last}");
    assert_eq!(instance_state(&env, &instance), "running");

    // Nor does its destroy, even forced: the plan holds nothing of the original's.
    let (ids, last) = planned(&env, "e2e-blog-staging");
    assert!(ids.is_empty(), "{last}");
    let skipped = last["data"]["plan"]["skipped"].to_string();
    assert!(skipped.contains("'e2e-blog'"), "{skipped}");
    let out = env
        .cli()
        .args(["destroy", "e2e-blog-staging", "--force", "--yes", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(instance_state(&env, &instance), "running");
    assert!(exists(
        &env,
        "describe_security_groups",
        "SecurityGroups",
        &sg
    ));
}

/// The resources a destroy dry run plans to delete.
fn planned(env: &Env, slug: &str) -> (Vec<String>, Value) {
    let out = env
        .cli()
        .args(["destroy", slug, "--force", "--dry-run", "--json"])
        .output()
        .unwrap();
    let lines = json_lines(&out);
    let last = lines.last().expect("a terminal event").clone();
    assert_eq!(last["status"], "success", "{last}");
    let ids = last["data"]["plan"]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| l["items"].as_array().unwrap().iter())
        .map(|i| i["record"]["id"].as_str().unwrap().to_owned())
        .collect();
    (ids, last)
}

#[tokio::test]
async fn destroy_force_never_takes_an_existing_vpc_its_subnet_or_a_hand_made_instance() {
    let env = Env::new().await;
    let _d = env.daemon("d", 2);
    env.wait_daemons(1).await;
    // A VPC made by hand, with a subnet and a server of its own, nothing tagged.
    let seeded = boto(
        &env,
        "vpc = ec2.create_vpc(CidrBlock='10.9.0.0/16')['Vpc']['VpcId']\n\
         sub = ec2.create_subnet(VpcId=vpc, CidrBlock='10.9.1.0/24')['Subnet']['SubnetId']\n\
         ami = ec2.describe_images()['Images'][0]['ImageId']\n\
         i = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, SubnetId=sub)['Instances'][0]['InstanceId']\n\
         print(json.dumps({'vpc': vpc, 'subnet': sub, 'instance': i}))",
    );
    let (vpc, subnet, hand) = (
        seeded["vpc"].as_str().unwrap(),
        seeded["subnet"].as_str().unwrap(),
        seeded["instance"].as_str().unwrap(),
    );
    let network = json!({"vpc_mode": "existing", "vpc_id": vpc,
        "rules": [{"port": 443, "protocol": "tcp", "cidr": "0.0.0.0/0"}]});
    let (out, lines) = deploy(&env, &blueprint("e2e-borrow", network), "borrow.json");
    assert!(out.status.success(), "{lines:?}");
    let bp = stored(&env, "e2e-borrow");
    assert_eq!(
        bp["network"]["subnet_id"], subnet,
        "the hand-made subnet is used"
    );
    let mine = bp["compute"]["instance_id"].as_str().unwrap().to_owned();

    let (ids, last) = planned(&env, "e2e-borrow");
    for never in [vpc, subnet, hand] {
        assert!(!ids.iter().any(|i| i == never), "{never} planned: {last}");
    }
    assert!(
        ids.contains(&mine),
        "the project's own instance goes: {last}"
    );
    let skipped = last["data"]["plan"]["skipped"].to_string();
    assert!(skipped.contains("borrowed"), "{skipped}");

    let out = env
        .cli()
        .args(["destroy", "e2e-borrow", "--force", "--yes", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", json_lines(&out).last());
    assert!(exists(&env, "describe_vpcs", "Vpcs", vpc));
    assert!(exists(&env, "describe_subnets", "Subnets", subnet));
    assert_eq!(instance_state(&env, hand), "running");
    assert_eq!(instance_state(&env, &mine), "terminated");
}

#[tokio::test]
async fn destroy_force_never_takes_the_default_vpc_or_its_subnets() {
    let env = Env::new().await;
    let _d = env.daemon("d", 2);
    env.wait_daemons(1).await;
    let network = json!({"vpc_mode": "default",
        "rules": [{"port": 443, "protocol": "tcp", "cidr": "0.0.0.0/0"}]});
    let (out, lines) = deploy(&env, &blueprint("e2e-default", network), "default.json");
    assert!(out.status.success(), "{lines:?}");
    let bp = stored(&env, "e2e-default");
    let vpc = bp["network"]["vpc_id"].as_str().unwrap().to_owned();
    let subnet = bp["network"]["subnet_id"].as_str().unwrap().to_owned();
    // Someone's server in the same default subnet.
    let hand = boto(
        &env,
        &format!(
            "ami = ec2.describe_images()['Images'][0]['ImageId']\n\
             print(json.dumps(ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, SubnetId='{subnet}')['Instances'][0]['InstanceId']))"
        ),
    );
    let hand = hand.as_str().unwrap();

    let (ids, last) = planned(&env, "e2e-default");
    for never in [vpc.as_str(), subnet.as_str(), hand] {
        assert!(!ids.iter().any(|i| i == never), "{never} planned: {last}");
    }
    let out = env
        .cli()
        .args(["destroy", "e2e-default", "--force", "--yes", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", json_lines(&out).last());
    assert!(exists(&env, "describe_vpcs", "Vpcs", &vpc));
    assert!(exists(&env, "describe_subnets", "Subnets", &subnet));
    assert_eq!(instance_state(&env, hand), "running");
}
