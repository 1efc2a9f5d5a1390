//! The audit trail and the daemon's approvals, end to end against a real redis-server and
//! moto_server: one entry per request with every resource it touched (checked against what moto
//! holds), destructive commands that run only the plan their user confirmed, and policy rules
//! that deny by tag and say which rule did.

use std::collections::BTreeSet;
use std::time::Duration;

use pockitect_bus::Bus;
use pockitect_proto::audit::{AuditEntry, History, TouchAction};
use pockitect_proto::{
    Approval, BlueprintRef, ClientKind, Command, DeployArgs, DestroyArgs, ErrorCode, Event,
    HistoryArgs, PlanDigest, PowerAction, PowerArgs, RequestId, ResourceType, Status,
    TerminateArgs, TerminateTarget,
};
use pockitect_testkit::unique;
use serde_json::{Value, json};

use crate::requests::blueprint;
use crate::{Harness, send_approved, terminal_of};

const WITHIN: Duration = Duration::from_secs(90);

/// Runs a python snippet against moto (boto3, the test's endpoint) and reads its JSON output.
fn moto(h: &Harness, body: &str) -> Value {
    let script = format!(
        "import boto3, json\nkw = dict(region_name='us-east-1', endpoint_url='{}', aws_access_key_id='testing', aws_secret_access_key='testing')\nec2 = boto3.client('ec2', **kw)\nrds = boto3.client('rds', **kw)\n{body}",
        h.moto.endpoint()
    );
    crate::python(&script)
}

/// The ids of the EC2 resources moto holds tagged for `slug` (instances not terminated).
fn ec2_ids_of(h: &Harness, slug: &str) -> BTreeSet<String> {
    let v = moto(
        h,
        &format!(
            r#"
f = [{{'Name': 'tag:pockitect:project', 'Values': ['{slug}']}}]
ids = [v['VpcId'] for v in ec2.describe_vpcs(Filters=f)['Vpcs']]
ids += [s['SubnetId'] for s in ec2.describe_subnets(Filters=f)['Subnets']]
ids += [g['GroupId'] for g in ec2.describe_security_groups(Filters=f)['SecurityGroups']]
ids += [g['InternetGatewayId'] for g in ec2.describe_internet_gateways(Filters=f)['InternetGateways']]
ids += [i['InstanceId'] for r in ec2.describe_instances(Filters=f)['Reservations']
        for i in r['Instances'] if i['State']['Name'] != 'terminated']
print(json.dumps(ids))
"#
        ),
    );
    serde_json::from_value(v).unwrap()
}

fn instance_state(h: &Harness, id: &str) -> String {
    let v = moto(
        h,
        &format!(
            "r = ec2.describe_instances(InstanceIds=['{id}'])['Reservations'][0]['Instances'][0]\nprint(json.dumps(r['State']['Name']))"
        ),
    );
    v.as_str().unwrap_or_default().to_owned()
}

/// The bus as the CLI uses it: every command names its sender.
fn as_cli(h: &Harness) -> Bus {
    h.bus.clone().identified_as(ClientKind::Cli)
}

async fn history(h: &Harness, filter: HistoryArgs) -> Vec<AuditEntry> {
    let sent = h.bus.send(&Command::History(filter)).await.unwrap();
    let t = terminal_of(&h.bus, &sent.request_id, WITHIN).await;
    let t = h.bus.answer(t).await.unwrap();
    match t.decode() {
        Ok(Event::History(History { entries, .. })) => entries,
        other => panic!("not a history answer: {other:?}"),
    }
}

fn entry_of<'a>(entries: &'a [AuditEntry], id: &RequestId) -> &'a AuditEntry {
    let of: Vec<&AuditEntry> = entries.iter().filter(|e| &e.request_id == id).collect();
    assert_eq!(of.len(), 1, "one entry for request {id}: {entries:#?}");
    of[0]
}

fn ids(e: &AuditEntry, action: TouchAction) -> BTreeSet<String> {
    e.resources
        .iter()
        .filter(|r| r.action == action)
        .map(|r| r.id.clone())
        .collect()
}

pub(crate) fn deploy_cmd(doc: &Value) -> Command {
    Command::Deploy(DeployArgs {
        target: BlueprintRef {
            project: None,
            blueprint: Some(doc.clone()),
        },
        rollback_on_failure: false,
        over_budget: false,
    })
}

fn destroy_cmd(slug: &str, dry_run: bool) -> Command {
    Command::Destroy(DestroyArgs {
        project: slug.to_owned(),
        force: false,
        dry_run,
        final_snapshot: false,
    })
}

async fn deploy(h: &Harness, bus: &Bus, slug: &str) -> RequestId {
    let sent = bus.send(&deploy_cmd(&blueprint(slug))).await.unwrap();
    let t = terminal_of(&h.bus, &sent.request_id, WITHIN).await;
    assert_eq!(t.status, Some(Status::Success), "{t:?}");
    sent.request_id
}

#[tokio::test]
async fn deploy_power_stop_and_destroy_each_leave_one_entry_with_every_resource_touched() {
    let h = Harness::start(2).await;
    let cli = as_cli(&h);
    let slug = unique("aud");
    let before = chrono::Utc::now();

    let deployed = deploy(&h, &cli, &slug).await;
    let in_moto = ec2_ids_of(&h, &slug);
    assert!(!in_moto.is_empty());
    // Read now: the destroy below deletes the secret with the database.
    let password = crate::managed_password(&h, &format!("{slug}-db"));

    let stop = |dry_run| {
        Command::Power(PowerArgs {
            project: slug.clone(),
            action: PowerAction::Stop,
            dry_run,
        })
    };
    let stopped = send_approved(&cli, &stop(true), &stop(false))
        .await
        .request_id;
    let t = terminal_of(&h.bus, &stopped, WITHIN).await;
    assert_eq!(t.status, Some(Status::Success), "{t:?}");

    let destroyed = send_approved(&cli, &destroy_cmd(&slug, true), &destroy_cmd(&slug, false))
        .await
        .request_id;
    let t = terminal_of(&h.bus, &destroyed, WITHIN).await;
    assert_eq!(t.status, Some(Status::Success), "{t:?}");
    assert!(
        ec2_ids_of(&h, &slug).is_empty(),
        "the destroy left resources"
    );

    let all = history(
        &h,
        HistoryArgs {
            project: Some(slug.clone()),
            ..Default::default()
        },
    )
    .await;
    // The deploy, each dry run and each real request: one entry each, newest first.
    assert_eq!(all.len(), 5, "{all:#?}");
    assert!(all.windows(2).all(|w| w[0].ended_at >= w[1].ended_at));

    let d = entry_of(&all, &deployed);
    assert_eq!(d.command, "deploy");
    assert_eq!(d.status, Status::Success);
    assert_eq!(d.client.kind, ClientKind::Cli);
    assert!(d.client.host.is_some());
    assert_eq!(d.account.as_deref(), Some("123456789012"));
    assert!(
        d.principal
            .as_deref()
            .is_some_and(|p| p.starts_with("arn:aws:")),
        "{d:?}"
    );
    let created = ids(d, TouchAction::Created);
    let missing: Vec<&String> = in_moto.difference(&created).collect();
    assert!(
        missing.is_empty(),
        "created in moto but not in the audit entry: {missing:?}"
    );
    assert!(d.resources.iter().any(|r| r.kind == "rds_instance"));
    assert!(
        d.resources
            .iter()
            .all(|r| r.account.as_deref() == Some("123456789012"))
    );

    let p = entry_of(&all, &stopped);
    let instance = d
        .resources
        .iter()
        .find(|r| r.kind == "ec2_instance")
        .map(|r| r.id.clone())
        .unwrap();
    assert!(ids(p, TouchAction::Stopped).contains(&instance), "{p:#?}");
    assert_eq!(p.authorization.rule.as_deref(), Some("policy.power_stop"));
    assert!(p.authorization.plan_digest.is_some());

    let x = entry_of(&all, &destroyed);
    let deleted = ids(x, TouchAction::Deleted);
    let missing: Vec<&String> = in_moto.difference(&deleted).collect();
    assert!(
        missing.is_empty(),
        "deleted in moto but not in the audit entry: {missing:?}"
    );
    assert_eq!(instance_state(&h, &instance), "terminated");

    // Filters: by action, by command, by time.
    let deleting = history(
        &h,
        HistoryArgs {
            project: Some(slug.clone()),
            action: Some(TouchAction::Deleted),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        deleting.iter().map(|e| &e.request_id).collect::<Vec<_>>(),
        vec![&destroyed]
    );
    let powers = history(
        &h,
        HistoryArgs {
            project: Some(slug.clone()),
            command: Some("power".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(powers.len(), 2, "the dry run and the stop: {powers:#?}");
    let later = history(
        &h,
        HistoryArgs {
            project: Some(slug.clone()),
            since: Some(chrono::Utc::now() + chrono::Duration::minutes(1)),
            ..Default::default()
        },
    )
    .await;
    assert!(later.is_empty());
    let since_start = history(
        &h,
        HistoryArgs {
            since: Some(before),
            limit: Some(2),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(since_start.len(), 2);

    // The daily file holds the same entries, is private, and carries no secret.
    let dir = h.settings.audit_dir.clone().unwrap();
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let path = files[0].path();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", path.display());
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let in_file: Vec<AuditEntry> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for e in &all {
        assert!(in_file.iter().any(|f| f.request_id == e.request_id));
    }
    // RDS keeps the password (Secrets Manager): the deploy stored none, and the audit file
    // does not hold the one RDS made.
    let stored = std::fs::read_dir(&h.settings.secrets_dir).map_or(0, |d| d.count());
    assert_eq!(stored, 0, "the deploy stored a database password");
    assert!(password.len() >= 8);
    assert!(
        !text.contains(&password),
        "the password is in the audit file"
    );
}

#[tokio::test]
async fn a_destroy_without_the_confirmed_plan_is_refused_recorded_and_deletes_nothing() {
    let h = Harness::start(2).await;
    let slug = unique("apr");
    deploy(&h, &h.bus, &slug).await;
    let in_moto = ec2_ids_of(&h, &slug);

    // Straight onto the stream, as a script could: no digest.
    let raw = RequestId::new();
    let cmd = json!({"type": "destroy", "request_id": raw, "data": {"project": slug}});
    assert!(
        h.bus
            .enqueue_raw(&unique("raw"), &cmd.to_string())
            .await
            .unwrap()
    );
    let t = terminal_of(&h.bus, &raw, WITHIN).await;
    assert_eq!(t.data["code"], json!(ErrorCode::ApprovalRequired), "{t:?}");
    assert!(t.message().unwrap().contains("policy.destroy"), "{t:?}");
    assert_eq!(ec2_ids_of(&h, &slug), in_moto, "nothing was deleted");

    // The plan changes between the dry run and the destroy: a resource appears for the project.
    let plan = h.bus.send(&destroy_cmd(&slug, true)).await.unwrap();
    let t = terminal_of(&h.bus, &plan.request_id, WITHIN).await;
    let digest = PlanDigest::parse(t.data["plan_digest"].as_str().unwrap()).unwrap();
    let vpc = in_moto.iter().find(|i| i.starts_with("vpc-")).unwrap();
    let added = moto(
        &h,
        &format!(
            "g = ec2.create_security_group(GroupName='late', Description='late', VpcId='{vpc}', TagSpecifications=[{{'ResourceType': 'security-group', 'Tags': [{{'Key': 'pockitect:project', 'Value': '{slug}'}}, {{'Key': 'pockitect:managed', 'Value': 'true'}}]}}])\nprint(json.dumps(g['GroupId']))"
        ),
    );
    let stale = h
        .bus
        .send_approved(
            &destroy_cmd(&slug, false),
            Some(Approval {
                plan_digest: Some(digest),
                override_policy: false,
            }),
        )
        .await
        .unwrap()
        .request_id;
    let t = terminal_of(&h.bus, &stale, WITHIN).await;
    assert_eq!(t.data["code"], json!(ErrorCode::PlanChanged), "{t:?}");
    let mut now_in_moto = in_moto.clone();
    now_in_moto.insert(added.as_str().unwrap().to_owned());
    assert_eq!(ec2_ids_of(&h, &slug), now_in_moto, "nothing was deleted");

    // A malformed command is refused and recorded too.
    let garbage = RequestId::new();
    let cmd = json!({"type": "destroy", "request_id": garbage, "data": {"projet": slug}});
    assert!(
        h.bus
            .enqueue_raw(&unique("raw"), &cmd.to_string())
            .await
            .unwrap()
    );
    terminal_of(&h.bus, &garbage, WITHIN).await;

    let all = history(&h, HistoryArgs::default()).await;
    let e = entry_of(&all, &raw);
    assert!(
        e.refused && e.code == Some(ErrorCode::ApprovalRequired),
        "{e:#?}"
    );
    assert_eq!(e.client.kind, ClientKind::Legacy);
    assert!(e.resources.is_empty());
    let e = entry_of(&all, &stale);
    assert!(
        e.refused && e.code == Some(ErrorCode::PlanChanged),
        "{e:#?}"
    );
    let e = entry_of(&all, &garbage);
    assert!(
        e.refused && e.code == Some(ErrorCode::InvalidArguments),
        "{e:#?}"
    );
    assert_eq!(e.command, "destroy");

    // Confirming the plan as it is now goes through.
    let done = send_approved(
        &h.bus,
        &destroy_cmd(&slug, true),
        &destroy_cmd(&slug, false),
    )
    .await
    .request_id;
    let t = terminal_of(&h.bus, &done, WITHIN).await;
    assert_eq!(t.status, Some(Status::Success), "{t:?}");
    assert!(ec2_ids_of(&h, &slug).is_empty());
}

#[tokio::test]
async fn a_policy_rule_denies_a_terminate_by_tag_and_names_itself_unless_overridden() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pockitect.toml");
    std::fs::write(
        &config,
        r#"
[policy]
terminate = "approve"

[[policy.rules]]
name = "protect-prod"
when_tag = "env=prod"
commands = ["destroy", "terminate"]
rule = "deny"
"#,
    )
    .unwrap();
    let h = Harness::start_with(pockitect_testkit::RedisServer::start(), 1, |s, _| {
        let args = <pockitectd::Args as clap::Parser>::try_parse_from([
            "pockitectd",
            "--config",
            config.to_str().unwrap(),
        ])
        .unwrap();
        s.policy = pockitectd::Settings::resolve(args).unwrap().policy;
    })
    .await;
    let name = unique("prod-key");
    moto(
        &h,
        &format!(
            "ec2.create_key_pair(KeyName='{name}', TagSpecifications=[{{'ResourceType': 'key-pair', 'Tags': [{{'Key': 'env', 'Value': 'prod'}}]}}])\nprint('null')"
        ),
    );
    let terminate = |dry_run| {
        Command::Terminate(TerminateArgs {
            targets: vec![TerminateTarget {
                id: name.clone(),
                kind: ResourceType::KeyPair,
                region: "us-east-1".into(),
            }],
            force: true,
            dry_run,
            final_snapshot: false,
        })
    };
    let exists = |h: &Harness| {
        moto(
            h,
            &format!(
                "print(json.dumps(len([k for k in ec2.describe_key_pairs()['KeyPairs'] if k['KeyName'] == '{name}'])))"
            ),
        ) == json!(1)
    };

    let denied = h.bus.send(&terminate(true)).await.unwrap().request_id;
    let t = terminal_of(&h.bus, &denied, WITHIN).await;
    assert_eq!(t.data["code"], json!(ErrorCode::PolicyDenied), "{t:?}");
    assert!(
        t.message().unwrap().contains("policy.rules.protect-prod"),
        "{t:?}"
    );
    assert!(exists(&h));

    // Overridden on purpose: planned, confirmed, run, and recorded as overridden.
    let over = Approval {
        plan_digest: None,
        override_policy: true,
    };
    let plan = h
        .bus
        .send_approved(&terminate(true), Some(over.clone()))
        .await
        .unwrap();
    let t = terminal_of(&h.bus, &plan.request_id, WITHIN).await;
    assert_eq!(t.status, Some(Status::Success), "{t:?}");
    let digest = PlanDigest::parse(t.data["plan_digest"].as_str().unwrap()).unwrap();
    let run = h
        .bus
        .send_approved(
            &terminate(false),
            Some(Approval {
                plan_digest: Some(digest),
                override_policy: true,
            }),
        )
        .await
        .unwrap()
        .request_id;
    let t = terminal_of(&h.bus, &run, WITHIN).await;
    assert_eq!(t.status, Some(Status::Success), "{t:?}");
    assert!(!exists(&h));

    let all = history(&h, HistoryArgs::default()).await;
    let e = entry_of(&all, &denied);
    assert!(e.refused && e.code == Some(ErrorCode::PolicyDenied));
    assert_eq!(
        e.authorization.rule.as_deref(),
        Some("policy.rules.protect-prod")
    );
    let e = entry_of(&all, &run);
    assert!(e.authorization.override_policy, "{e:#?}");
    assert_eq!(
        e.authorization.rule.as_deref(),
        Some("policy.rules.protect-prod (overridden)")
    );
    assert_eq!(ids(e, TouchAction::Deleted), BTreeSet::from([name.clone()]));
}
