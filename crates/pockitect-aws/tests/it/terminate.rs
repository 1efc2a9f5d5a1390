//! Terminate and destroy against a real moto server: a VPC and everything in it listed in a
//! shuffled order, the safety rules (another project's child, untagged, default VPC,
//! protected), a versioned bucket, an IAM role in an instance profile with policies, and a
//! whole seeded project found by its tags.

use crate::aws_for;
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_ec2::types::{
    Filter, InstanceType, IpPermission, ResourceType as Ec2Type, Tag, TagSpecification,
    UserIdGroupPair,
};
use pockitect_aws::terminate::{
    self, Outcome, SkipKind, TerminateAction, TerminateOptions, TerminateSink,
};
use pockitect_aws::{Aws, refresh};
use pockitect_proto::tags::{MANAGED, PROJECT, PROTECT};
use pockitect_proto::{ResourceRecord, ResourceType, TerminateTarget};
use pockitect_testkit::{MotoServer, unique};
use tokio_util::sync::CancellationToken;

const REGION: &str = "us-east-1";

/// Quick passes for tests: moto answers at once.
fn opts(project: Option<&str>, force: bool) -> TerminateOptions {
    TerminateOptions {
        force,
        project: project.map(str::to_owned),
        pass_delay: Duration::from_millis(50),
        stalled_passes: 2,
        wait_timeout: Duration::from_secs(60),
        ..TerminateOptions::default()
    }
}

/// step, total, type, id, action, message
type Event = (usize, usize, ResourceType, String, TerminateAction, String);

#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<Event>>,
    skipped: Mutex<Vec<(String, String)>>,
}

impl TerminateSink for Recorder {
    async fn progress(
        &self,
        step: usize,
        total: usize,
        record: &ResourceRecord,
        action: TerminateAction,
        message: &str,
    ) {
        self.events.lock().unwrap().push((
            step,
            total,
            record.kind,
            record.id.clone(),
            action,
            message.to_owned(),
        ));
    }

    async fn skipped(&self, record: &ResourceRecord, reason: &str) {
        self.skipped
            .lock()
            .unwrap()
            .push((record.id.clone(), reason.to_owned()));
    }
}

impl Recorder {
    /// Position of the first event of `id` with `action`.
    fn at(&self, id: &str, action: TerminateAction) -> usize {
        self.events
            .lock()
            .unwrap()
            .iter()
            .position(|e| e.3 == id && e.4 == action)
            .unwrap_or_else(|| panic!("no {action} event for {id}"))
    }
}

fn target(kind: ResourceType, id: &str) -> TerminateTarget {
    TerminateTarget {
        id: id.to_owned(),
        kind,
        region: REGION.to_owned(),
    }
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

/// Tags of a resource of `project` (managed), plus extra pairs.
fn spec(rt: Ec2Type, project: &str, extra: &[(&str, &str)]) -> TagSpecification {
    let mut b = TagSpecification::builder()
        .resource_type(rt.clone())
        .tags(tag(PROJECT, project))
        .tags(tag(MANAGED, "true"))
        .tags(tag("Name", &format!("{project}-{rt}")));
    for (k, v) in extra {
        b = b.tags(tag(k, v));
    }
    b.build()
}

/// A VPC of `project` with two subnets, a security group whose rule refers to itself, an
/// attached internet gateway, a route table associated with a subnet and routing to the
/// gateway, and a running instance.
struct Network {
    vpc: String,
    subnets: Vec<String>,
    sg: String,
    igw: String,
    rtb: String,
    instance: String,
}

async fn network(aws: &Aws, project: &str, cidr: &str) -> Network {
    let ec2 = aws.ec2(REGION);
    let vpc = ec2
        .create_vpc()
        .cidr_block(format!("{cidr}.0.0/16"))
        .tag_specifications(spec(Ec2Type::Vpc, project, &[]))
        .send()
        .await
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_owned();
    let mut subnets = Vec::new();
    for n in 1..=2 {
        let s = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(format!("{cidr}.{n}.0/24"))
            .tag_specifications(spec(Ec2Type::Subnet, project, &[]))
            .send()
            .await
            .unwrap();
        subnets.push(s.subnet().unwrap().subnet_id().unwrap().to_owned());
    }
    let sg = ec2
        .create_security_group()
        .group_name(unique("sg-"))
        .description("test")
        .vpc_id(&vpc)
        .tag_specifications(spec(Ec2Type::SecurityGroup, project, &[]))
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_owned();
    ec2.authorize_security_group_ingress()
        .group_id(&sg)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(5432)
                .to_port(5432)
                .user_id_group_pairs(UserIdGroupPair::builder().group_id(&sg).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let igw = ec2
        .create_internet_gateway()
        .tag_specifications(spec(Ec2Type::InternetGateway, project, &[]))
        .send()
        .await
        .unwrap()
        .internet_gateway()
        .unwrap()
        .internet_gateway_id()
        .unwrap()
        .to_owned();
    ec2.attach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    let rtb = ec2
        .create_route_table()
        .vpc_id(&vpc)
        .tag_specifications(spec(Ec2Type::RouteTable, project, &[]))
        .send()
        .await
        .unwrap()
        .route_table()
        .unwrap()
        .route_table_id()
        .unwrap()
        .to_owned();
    ec2.create_route()
        .route_table_id(&rtb)
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(&igw)
        .send()
        .await
        .unwrap();
    ec2.associate_route_table()
        .route_table_id(&rtb)
        .subnet_id(&subnets[0])
        .send()
        .await
        .unwrap();
    let ami = ec2.describe_images().send().await.unwrap().images()[0]
        .image_id()
        .unwrap()
        .to_owned();
    let instance = ec2
        .run_instances()
        .image_id(ami)
        .instance_type(InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .subnet_id(&subnets[0])
        .security_group_ids(&sg)
        .tag_specifications(spec(Ec2Type::Instance, project, &[]))
        .send()
        .await
        .unwrap()
        .instances()[0]
        .instance_id()
        .unwrap()
        .to_owned();
    Network {
        vpc,
        subnets,
        sg,
        igw,
        rtb,
        instance,
    }
}

fn f(name: &str, v: &str) -> Filter {
    Filter::builder().name(name).values(v).build()
}

async fn vpc_exists(aws: &Aws, vpc: &str) -> bool {
    !aws.ec2(REGION)
        .describe_vpcs()
        .filters(f("vpc-id", vpc))
        .send()
        .await
        .unwrap()
        .vpcs()
        .is_empty()
}

async fn subnet_exists(aws: &Aws, id: &str) -> bool {
    !aws.ec2(REGION)
        .describe_subnets()
        .filters(f("subnet-id", id))
        .send()
        .await
        .unwrap()
        .subnets()
        .is_empty()
}

async fn sg_exists(aws: &Aws, id: &str) -> bool {
    !aws.ec2(REGION)
        .describe_security_groups()
        .filters(f("group-id", id))
        .send()
        .await
        .unwrap()
        .security_groups()
        .is_empty()
}

async fn bucket_exists(aws: &Aws, name: &str) -> bool {
    aws.s3(REGION)
        .head_bucket()
        .bucket(name)
        .send()
        .await
        .is_ok()
}

#[tokio::test]
async fn a_vpc_and_its_contents_listed_in_a_shuffled_order_are_all_deleted() {
    let moto = MotoServer::start();
    let aws = aws_for(&moto).await;
    let n = network(&aws, "p1", "10.1").await;

    // Dependents after what they depend on, the VPC first: the wrong order on purpose.
    let targets = vec![
        target(ResourceType::Vpc, &n.vpc),
        target(ResourceType::InternetGateway, &n.igw),
        target(ResourceType::Subnet, &n.subnets[1]),
        target(ResourceType::SecurityGroup, &n.sg),
        target(ResourceType::RouteTable, &n.rtb),
        target(ResourceType::Subnet, &n.subnets[0]),
        target(ResourceType::Ec2Instance, &n.instance),
        target(ResourceType::Vpc, &n.vpc), // listed twice: planned once
    ];
    let plan = terminate::plan(&aws, targets, opts(None, false))
        .await
        .unwrap();
    assert!(plan.skipped.is_empty(), "{:#?}", plan.skipped);
    assert_eq!(plan.total(), 7);
    let layer = |kind: ResourceType| {
        plan.layers
            .iter()
            .find(|l| l.items.iter().any(|i| i.record.kind == kind))
            .map(|l| l.index)
            .unwrap()
    };
    assert!(layer(ResourceType::Ec2Instance) < layer(ResourceType::SecurityGroup));
    assert!(layer(ResourceType::Subnet) < layer(ResourceType::Vpc));
    assert!(layer(ResourceType::InternetGateway) < layer(ResourceType::Vpc));

    let sink = Recorder::default();
    let report = terminate::execute(&aws, plan, &sink, CancellationToken::new()).await;
    assert!(report.is_success(), "{report:#?}");
    assert_eq!((report.deleted, report.skipped, report.failed), (7, 0, 0));

    // The instance was terminated (and waited for) before its subnet and group went, and
    // the VPC went last; the step counter reached the total.
    assert!(
        sink.at(&n.instance, TerminateAction::Deleted)
            < sink.at(&n.subnets[0], TerminateAction::Deleting)
    );
    assert!(
        sink.at(&n.instance, TerminateAction::Waiting)
            < sink.at(&n.instance, TerminateAction::Deleted)
    );
    assert!(sink.at(&n.igw, TerminateAction::Deleted) < sink.at(&n.vpc, TerminateAction::Deleting));
    let last = sink.events.lock().unwrap().last().cloned().unwrap();
    assert_eq!((last.0, last.1, last.3.as_str()), (7, 7, n.vpc.as_str()));

    assert!(!vpc_exists(&aws, &n.vpc).await);
    for s in &n.subnets {
        assert!(!subnet_exists(&aws, s).await);
    }
    assert!(!sg_exists(&aws, &n.sg).await);
    let igws = aws
        .ec2(REGION)
        .describe_internet_gateways()
        .filters(f("internet-gateway-id", &n.igw))
        .send()
        .await
        .unwrap();
    assert!(igws.internet_gateways().is_empty());
    let rtbs = aws
        .ec2(REGION)
        .describe_route_tables()
        .filters(f("route-table-id", &n.rtb))
        .send()
        .await
        .unwrap();
    assert!(rtbs.route_tables().is_empty());
    let state = refresh::describe(&aws, vec![target(ResourceType::Ec2Instance, &n.instance)]).await;
    assert_eq!(state[0].state.as_deref(), Some("terminated"));
    assert!(!state[0].exists);
}

#[tokio::test]
async fn safety_rules_skip_other_projects_untagged_default_and_protected() {
    let moto = MotoServer::start();
    let aws = aws_for(&moto).await;
    let ec2 = aws.ec2(REGION);
    let n = network(&aws, "p1", "10.2").await;

    // Inside p1's VPC: a subnet of project p2, and a security group p1 protects.
    let foreign = ec2
        .create_subnet()
        .vpc_id(&n.vpc)
        .cidr_block("10.2.9.0/24")
        .tag_specifications(spec(Ec2Type::Subnet, "p2", &[]))
        .send()
        .await
        .unwrap()
        .subnet()
        .unwrap()
        .subnet_id()
        .unwrap()
        .to_owned();
    let protected = ec2
        .create_security_group()
        .group_name(unique("keep-"))
        .description("protected")
        .vpc_id(&n.vpc)
        .tag_specifications(spec(Ec2Type::SecurityGroup, "p1", &[(PROTECT, "true")]))
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_owned();
    // An untagged bucket.
    let bucket = unique("untagged-");
    aws.s3(REGION)
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();

    // Without force: the VPC (children found by expansion), the untagged bucket.
    let plan = terminate::plan(
        &aws,
        vec![
            target(ResourceType::Vpc, &n.vpc),
            target(ResourceType::S3Bucket, &bucket),
        ],
        opts(None, false),
    )
    .await
    .unwrap();
    let skip = plan
        .skip_of(ResourceType::Subnet, &foreign)
        .expect("p2's subnet skipped");
    assert_eq!(skip.kind, SkipKind::OtherProject);
    assert!(
        skip.reason.contains("'p2'") && skip.reason.contains(&n.vpc),
        "{}",
        skip.reason
    );
    let skip = plan
        .skip_of(ResourceType::SecurityGroup, &protected)
        .unwrap();
    assert_eq!(skip.kind, SkipKind::Protected);
    let skip = plan.skip_of(ResourceType::S3Bucket, &bucket).unwrap();
    assert_eq!(skip.kind, SkipKind::NotManaged);
    assert!(skip.reason.contains("force"), "{}", skip.reason);
    // The children of p1 were found by expansion.
    let instance = plan.get(ResourceType::Ec2Instance, &n.instance).unwrap();
    assert_eq!(instance.found_in.as_deref(), Some(n.vpc.as_str()));
    let vpc_note = plan
        .get(ResourceType::Vpc, &n.vpc)
        .unwrap()
        .note
        .clone()
        .unwrap();
    assert!(vpc_note.contains(&foreign), "{vpc_note}");

    let sink = Recorder::default();
    let report = terminate::execute(&aws, plan, &sink, CancellationToken::new()).await;
    // Every skip was reported with its reason.
    let skipped: BTreeSet<String> = sink
        .skipped
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.0.clone())
        .collect();
    assert_eq!(
        skipped,
        BTreeSet::from([foreign.clone(), protected.clone(), bucket.clone()])
    );
    // The VPC cannot go while p2's subnet is in it: moto answers DependencyViolation, which
    // is retried, then reported with AWS's message.
    let vpc = report.get(ResourceType::Vpc, &n.vpc).unwrap();
    assert_eq!(vpc.outcome, Outcome::Failed);
    assert_eq!(vpc.code.as_deref(), Some("DependencyViolation"));
    assert!(vpc.message.contains("dependencies"), "{}", vpc.message);
    assert_eq!(report.failed, 1);
    assert!(
        sink.events
            .lock()
            .unwrap()
            .iter()
            .any(|e| e.3 == n.vpc && e.4 == TerminateAction::Retrying)
    );
    // p1's own children went; p2's subnet, the protected group and the bucket stayed.
    assert!(!subnet_exists(&aws, &n.subnets[0]).await);
    assert!(!sg_exists(&aws, &n.sg).await);
    assert!(subnet_exists(&aws, &foreign).await);
    assert!(sg_exists(&aws, &protected).await);
    assert!(vpc_exists(&aws, &n.vpc).await);
    assert!(bucket_exists(&aws, &bucket).await);

    // With force: the untagged bucket goes, but never the default VPC, never the protected
    // group, never another project's subnet when destroying p1.
    let default_vpc = ec2
        .describe_vpcs()
        .filters(f("is-default", "true"))
        .send()
        .await
        .unwrap()
        .vpcs()[0]
        .vpc_id()
        .unwrap()
        .to_owned();
    let plan = terminate::plan(
        &aws,
        vec![
            target(ResourceType::Vpc, &default_vpc),
            target(ResourceType::SecurityGroup, &protected),
            target(ResourceType::Subnet, &foreign),
            target(ResourceType::S3Bucket, &bucket),
        ],
        opts(Some("p1"), true),
    )
    .await
    .unwrap();
    assert_eq!(
        plan.skip_of(ResourceType::Vpc, &default_vpc).unwrap().kind,
        SkipKind::DefaultVpc
    );
    assert_eq!(
        plan.skip_of(ResourceType::SecurityGroup, &protected)
            .unwrap()
            .kind,
        SkipKind::Protected
    );
    assert_eq!(
        plan.skip_of(ResourceType::Subnet, &foreign).unwrap().kind,
        SkipKind::OtherProject
    );
    assert_eq!(plan.total(), 1);
    let report =
        terminate::execute(&aws, plan, &Recorder::default(), CancellationToken::new()).await;
    assert_eq!((report.deleted, report.skipped, report.failed), (1, 3, 0));
    assert!(!bucket_exists(&aws, &bucket).await);
    assert!(vpc_exists(&aws, &default_vpc).await);
    assert!(sg_exists(&aws, &protected).await);
    assert!(subnet_exists(&aws, &foreign).await);
}

#[tokio::test]
async fn a_versioned_bucket_is_emptied_and_a_role_with_policies_is_removed_cleanly() {
    use aws_sdk_s3::primitives::ByteStream;
    use aws_sdk_s3::types::{BucketVersioningStatus, Tagging, VersioningConfiguration};

    let moto = MotoServer::start();
    let aws = aws_for(&moto).await;
    let s3 = aws.s3(REGION);
    let bucket = unique("versioned-");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    s3.put_bucket_tagging()
        .bucket(&bucket)
        .tagging(
            Tagging::builder()
                .tag_set(
                    aws_sdk_s3::types::Tag::builder()
                        .key(PROJECT)
                        .value("p1")
                        .build()
                        .unwrap(),
                )
                .tag_set(
                    aws_sdk_s3::types::Tag::builder()
                        .key(MANAGED)
                        .value("true")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    s3.put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    for (key, body) in [("a.txt", "one"), ("a.txt", "two"), ("dir/b.txt", "three")] {
        s3.put_object()
            .bucket(&bucket)
            .key(key)
            .body(ByteStream::from_static(body.as_bytes()))
            .send()
            .await
            .unwrap();
    }
    s3.delete_object()
        .bucket(&bucket)
        .key("dir/b.txt")
        .send()
        .await
        .unwrap(); // a delete marker
    let versions = s3
        .list_object_versions()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(
        versions.versions().len() + versions.delete_markers().len(),
        4
    );

    // A role with a managed policy and an inline one, inside an instance profile that is not
    // part of the request.
    let iam = aws.iam();
    let role = unique("role-");
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let iam_tag = |k: &str, v: &str| {
        aws_sdk_iam::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
            .unwrap()
    };
    iam.create_role()
        .role_name(&role)
        .assume_role_policy_document(trust)
        .tags(iam_tag(PROJECT, "p1"))
        .tags(iam_tag(MANAGED, "true"))
        .send()
        .await
        .unwrap();
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    let policy_arn = iam
        .create_policy()
        .policy_name(unique("pol-"))
        .policy_document(doc)
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    iam.attach_role_policy()
        .role_name(&role)
        .policy_arn(&policy_arn)
        .send()
        .await
        .unwrap();
    iam.put_role_policy()
        .role_name(&role)
        .policy_name("inline")
        .policy_document(doc)
        .send()
        .await
        .unwrap();
    let profile = unique("profile-");
    iam.create_instance_profile()
        .instance_profile_name(&profile)
        .send()
        .await
        .unwrap();
    iam.add_role_to_instance_profile()
        .instance_profile_name(&profile)
        .role_name(&role)
        .send()
        .await
        .unwrap();

    let targets = vec![
        TerminateTarget {
            id: role.clone(),
            kind: ResourceType::IamRole,
            region: "global".into(),
        },
        target(ResourceType::S3Bucket, &bucket),
    ];
    let plan = terminate::plan(&aws, targets, opts(Some("p1"), false))
        .await
        .unwrap();
    assert_eq!(plan.total(), 2, "{:#?}", plan.skipped);
    let report =
        terminate::execute(&aws, plan, &Recorder::default(), CancellationToken::new()).await;
    assert!(report.is_success(), "{report:#?}");
    let b = report.get(ResourceType::S3Bucket, &bucket).unwrap();
    assert!(b.message.contains("4 object version"), "{}", b.message);
    assert!(!bucket_exists(&aws, &bucket).await);

    let r = report.get(ResourceType::IamRole, &role).unwrap();
    assert!(r.message.contains("1 managed"), "{}", r.message);
    let gone = iam.get_role().role_name(&role).send().await.unwrap_err();
    assert_eq!(
        aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&gone),
        Some("NoSuchEntity")
    );
    // The profile stays (not asked for) but no longer holds the role; the policy stays too.
    let p = iam
        .get_instance_profile()
        .instance_profile_name(&profile)
        .send()
        .await
        .unwrap();
    assert!(p.instance_profile().unwrap().roles().is_empty());
    iam.get_policy()
        .policy_arn(&policy_arn)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn destroy_finds_a_seeded_project_by_its_tags_and_deletes_all_of_it() {
    let moto = MotoServer::start();
    let aws = aws_for(&moto).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/seed_moto.py");
    let out = std::process::Command::new("python3")
        .args([
            script,
            "--endpoint",
            moto.endpoint(),
            "--regions",
            REGION,
            "--project",
            "p1",
        ])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .expect("python3 runs the seed script");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seeded: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // A recorded id that is already gone is reported, not an error.
    let recorded = vec![target(ResourceType::Ec2Instance, "i-0123456789abcdef0")];

    let targets = terminate::discover_project(&aws, "p1", &[REGION.to_owned()], recorded)
        .await
        .unwrap();
    let mut expected = 0;
    for (region, kinds) in seeded.as_object().unwrap() {
        for (kind, ids) in kinds.as_object().unwrap() {
            let kind: ResourceType = kind.parse().unwrap();
            for id in ids.as_array().unwrap() {
                let id = id.as_str().unwrap();
                assert!(
                    targets.iter().any(|t| t.kind == kind && t.id == id),
                    "{kind} {id} ({region}) not discovered"
                );
                expected += 1;
            }
        }
    }
    assert_eq!(targets.len(), expected + 1);

    let plan = terminate::plan(&aws, targets.clone(), opts(Some("p1"), false))
        .await
        .unwrap();
    assert_eq!(plan.total(), expected, "{:#?}", plan.skipped);
    assert_eq!(plan.skipped.len(), 1);
    assert_eq!(plan.skipped[0].kind, SkipKind::NotFound);
    let sink = Recorder::default();
    let report = terminate::execute(&aws, plan, &sink, CancellationToken::new()).await;
    assert!(report.is_success(), "{report:#?}");
    assert_eq!(report.deleted, expected);

    let key = seeded[REGION]["key_pair"][0].as_str().unwrap();
    let k = report.get(ResourceType::KeyPair, key).unwrap();
    assert!(
        k.message.contains("local private key file is not touched"),
        "{}",
        k.message
    );
    let db = seeded[REGION]["rds_instance"][0].as_str().unwrap();
    assert!(sink.at(db, TerminateAction::Waiting) < sink.at(db, TerminateAction::Deleted));

    // Nothing of p1 is left.
    let states = refresh::describe(&aws, targets).await;
    let left: Vec<_> = states.iter().filter(|s| s.exists).collect();
    assert!(left.is_empty(), "{left:#?}");
    let again = terminate::discover_project(&aws, "p1", &[REGION.to_owned()], vec![])
        .await
        .unwrap();
    assert!(again.is_empty(), "{again:#?}");
}
