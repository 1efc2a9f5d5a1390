//! Power and refresh against a real moto server: stop then start an EC2 instance and an RDS
//! instance with the states checked in moto; refresh seeing an instance stopped behind
//! Pockitect's back and deleted resources as gone.

use crate::aws_for;
use std::sync::Mutex;

use aws_sdk_ec2::types::InstanceType;
use pockitect_aws::power::{self, PowerOutcome, PowerResult, PowerSink};
use pockitect_aws::{Aws, refresh};
use pockitect_proto::{PowerAction, ResourceType, TerminateTarget, tags};
use pockitect_testkit::{MotoServer, unique};
use tokio_util::sync::CancellationToken;

const REGION: &str = "us-east-1";

fn target(kind: ResourceType, id: &str) -> TerminateTarget {
    TerminateTarget {
        id: id.to_owned(),
        kind,
        region: REGION.to_owned(),
    }
}

const PROJECT: &str = "p1";

/// `n` instances tagged as `project`'s own.
async fn instances(aws: &Aws, n: i32) -> Vec<String> {
    instances_of(aws, n, Some(PROJECT)).await
}

/// `n` instances tagged as `project`'s own, or untagged.
async fn instances_of(aws: &Aws, n: i32, project: Option<&str>) -> Vec<String> {
    use aws_sdk_ec2::types::{ResourceType as Ec2Type, Tag, TagSpecification};
    let ec2 = aws.ec2(REGION);
    let tags = project.map(|p| {
        TagSpecification::builder()
            .resource_type(Ec2Type::Instance)
            .tags(Tag::builder().key(tags::PROJECT).value(p).build())
            .tags(Tag::builder().key(tags::MANAGED).value("true").build())
            .build()
    });
    let ami = ec2.describe_images().send().await.unwrap().images()[0]
        .image_id()
        .unwrap()
        .to_owned();
    ec2.run_instances()
        .image_id(ami)
        .instance_type(InstanceType::T3Micro)
        .min_count(n)
        .max_count(n)
        .set_tag_specifications(tags.map(|t| vec![t]))
        .send()
        .await
        .unwrap()
        .instances()
        .iter()
        .map(|i| i.instance_id().unwrap().to_owned())
        .collect()
}

async fn ec2_state(aws: &Aws, id: &str) -> String {
    aws.ec2(REGION)
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .unwrap()
        .reservations()[0]
        .instances()[0]
        .state()
        .unwrap()
        .name()
        .unwrap()
        .as_str()
        .to_owned()
}

async fn db_state(aws: &Aws, id: &str) -> String {
    aws.rds(REGION)
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .unwrap()
        .db_instances()[0]
        .db_instance_status()
        .unwrap()
        .to_owned()
}

#[derive(Default)]
struct Recorder(Mutex<Vec<(usize, usize, PowerResult)>>);

impl PowerSink for Recorder {
    async fn progress(&self, done: usize, total: usize, result: &PowerResult) {
        self.0.lock().unwrap().push((done, total, result.clone()));
    }
}

#[tokio::test]
async fn stop_then_start_ec2_and_rds_instances() {
    let moto = MotoServer::start();
    let aws = aws_for(&moto).await;
    let ids = instances(&aws, 2).await;
    let db = unique("db-");
    aws.rds(REGION)
        .create_db_instance()
        .db_instance_identifier(&db)
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .allocated_storage(20)
        .master_username("app")
        .master_user_password("not-a-secret-1")
        .tags(
            aws_sdk_rds::types::Tag::builder()
                .key(tags::PROJECT)
                .value(PROJECT)
                .build(),
        )
        .tags(
            aws_sdk_rds::types::Tag::builder()
                .key(tags::MANAGED)
                .value("true")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut targets: Vec<TerminateTarget> = ids
        .iter()
        .map(|i| target(ResourceType::Ec2Instance, i))
        .collect();
    targets.push(target(ResourceType::RdsInstance, &db));
    targets.push(target(ResourceType::Vpc, "vpc-123")); // not powerable: skipped

    let sink = Recorder::default();
    let report = power::power(
        &aws,
        PROJECT,
        targets.clone(),
        PowerAction::Stop,
        &sink,
        CancellationToken::new(),
    )
    .await;
    assert_eq!(report.count(PowerOutcome::Done), 3, "{report:#?}");
    assert_eq!(report.count(PowerOutcome::Skipped), 1);
    assert!(report.is_success());
    for id in &ids {
        assert_eq!(ec2_state(&aws, id).await, "stopped");
        let r = report.get(ResourceType::Ec2Instance, id).unwrap();
        assert_eq!(r.state.as_deref(), Some("stopped"));
    }
    assert_eq!(db_state(&aws, &db).await, "stopped");
    assert_eq!(
        report
            .get(ResourceType::RdsInstance, &db)
            .unwrap()
            .state
            .as_deref(),
        Some("stopped")
    );
    let events = sink.0.lock().unwrap().clone();
    assert_eq!(events.len(), 4);
    assert_eq!((events[3].0, events[3].1), (4, 4));

    // Stopping again changes nothing.
    let again = power::power(
        &aws,
        PROJECT,
        targets[..1].to_vec(),
        PowerAction::Stop,
        power::NoopSink,
        CancellationToken::new(),
    )
    .await;
    assert_eq!(again.results[0].outcome, PowerOutcome::Unchanged);

    let report = power::power(
        &aws,
        PROJECT,
        targets.clone(),
        PowerAction::Start,
        power::NoopSink,
        CancellationToken::new(),
    )
    .await;
    assert_eq!(report.count(PowerOutcome::Done), 3, "{report:#?}");
    for id in &ids {
        assert_eq!(ec2_state(&aws, id).await, "running");
    }
    assert_eq!(db_state(&aws, &db).await, "available");
    assert_eq!(
        report
            .get(ResourceType::RdsInstance, &db)
            .unwrap()
            .state
            .as_deref(),
        Some("available")
    );

    // A missing instance fails alone; the others in the same region still start/stop.
    let mut with_missing = targets[..2].to_vec();
    with_missing.push(target(ResourceType::Ec2Instance, "i-0123456789abcdef0"));
    let report = power::power(
        &aws,
        PROJECT,
        with_missing,
        PowerAction::Stop,
        power::NoopSink,
        CancellationToken::new(),
    )
    .await;
    assert_eq!(report.count(PowerOutcome::Done), 2, "{report:#?}");
    let missing = report
        .get(ResourceType::Ec2Instance, "i-0123456789abcdef0")
        .unwrap();
    assert_eq!(missing.outcome, PowerOutcome::Failed);
    assert!(missing.message.contains("not found"), "{}", missing.message);
}

#[tokio::test]
async fn power_touches_only_the_projects_own_instances() {
    let moto = MotoServer::start();
    let aws = aws_for(&moto).await;
    let mine = instances(&aws, 1).await;
    let theirs = instances_of(&aws, 1, Some("blog")).await;
    let untagged = instances_of(&aws, 1, None).await;
    let targets = [&mine[0], &theirs[0], &untagged[0]]
        .map(|id| target(ResourceType::Ec2Instance, id))
        .to_vec();
    let report = power::power(
        &aws,
        PROJECT,
        targets,
        PowerAction::Stop,
        power::NoopSink,
        CancellationToken::new(),
    )
    .await;
    assert_eq!(ec2_state(&aws, &mine[0]).await, "stopped");
    // A copied blueprint records another project's instance: it keeps running.
    assert_eq!(ec2_state(&aws, &theirs[0]).await, "running");
    assert_eq!(ec2_state(&aws, &untagged[0]).await, "running");
    let skipped = report.get(ResourceType::Ec2Instance, &theirs[0]).unwrap();
    assert_eq!(skipped.outcome, PowerOutcome::Skipped);
    assert!(skipped.message.contains("'blog'"), "{}", skipped.message);
    let skipped = report.get(ResourceType::Ec2Instance, &untagged[0]).unwrap();
    assert_eq!(skipped.outcome, PowerOutcome::Skipped);
}

#[tokio::test]
async fn refresh_sees_changes_made_behind_pockitects_back() {
    let moto = MotoServer::start();
    let aws = aws_for(&moto).await;
    let ids = instances(&aws, 3).await;
    let ec2 = aws.ec2(REGION);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.7.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_owned();
    let bucket = unique("refresh-");
    aws.s3(REGION)
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();

    // Behind Pockitect's back: one instance stopped, one terminated, the VPC and bucket deleted.
    ec2.stop_instances()
        .instance_ids(&ids[0])
        .send()
        .await
        .unwrap();
    ec2.terminate_instances()
        .instance_ids(&ids[1])
        .send()
        .await
        .unwrap();
    ec2.delete_vpc().vpc_id(&vpc).send().await.unwrap();
    aws.s3(REGION)
        .delete_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();

    let targets = vec![
        target(ResourceType::Ec2Instance, &ids[0]),
        target(ResourceType::Ec2Instance, &ids[1]),
        target(ResourceType::Ec2Instance, &ids[2]),
        // Never existed: in the same DescribeInstances batch as the others, which must not
        // fail with it.
        target(ResourceType::Ec2Instance, "i-0123456789abcdef0"),
        target(ResourceType::Vpc, &vpc),
        target(ResourceType::S3Bucket, &bucket),
        target(ResourceType::RdsInstance, "no-such-db"),
        TerminateTarget {
            id: "no-such-role".into(),
            kind: ResourceType::IamRole,
            region: "global".into(),
        },
    ];
    let states = refresh::describe(&aws, targets.clone()).await;
    assert_eq!(states.len(), targets.len());
    for (s, t) in states.iter().zip(&targets) {
        assert_eq!(&s.target, t);
        assert!(s.error.is_none(), "{s:#?}");
    }
    assert!(states[0].exists);
    assert_eq!(states[0].state.as_deref(), Some("stopped"));
    assert!(!states[1].exists);
    assert_eq!(states[1].state.as_deref(), Some("terminated"));
    assert!(states[2].exists);
    assert_eq!(states[2].state.as_deref(), Some("running"));
    for s in &states[3..] {
        assert!(!s.exists, "{s:#?}");
    }
}
