//! The deploy engine against a real moto server: every resource created and tagged, a second
//! deploy creating nothing, resume after a crash, failure midway, rollback, plan, the key file's
//! mode, the database's master password kept by RDS in Secrets Manager and out of everything
//! serialised.

use crate::{aws_for, checked};
use std::collections::BTreeMap;
use std::sync::Mutex;

use pockitect_aws::db_secret::{self, MasterPassword};
use pockitect_aws::deploy::{
    self, Action, DeployEvent, DeployOptions, DeployReport, DeploySink, Outcome, Resource,
    StepState,
};
use pockitect_aws::{Aws, AwsSettings};
use pockitect_blueprint::{
    Blueprint, Bucket, CertificateMode, Database, DbEngine, KeyPairMode, Protocol, Rule,
    SectionStatus, ValidationContext, VpcEnv, VpcMode, validate,
};
use pockitect_testkit::{MotoServer, unique};

pub(crate) const REGION: &str = "us-east-2";

/// Network new + database + bucket + generated key pair + instance role.
pub(crate) fn full_blueprint() -> Blueprint {
    let name = unique("it-deploy-");
    let mut bp = Blueprint::new(&name, REGION);
    bp.project.tags.insert("team".into(), "web".into());
    bp.network.rules.push(Rule::tcp(22, "10.0.0.0/8", "SSH"));
    bp.network.rules.push(Rule {
        from_port: Some(8000),
        to_port: Some(8100),
        protocol: Protocol::Udp,
        cidr: "::/0".into(),
        description: "game".into(),
        ..Rule::default()
    });
    bp.network.rules.push(Rule {
        protocol: Protocol::Icmp,
        cidr: "0.0.0.0/0".into(),
        description: "ping".into(),
        ..Rule::default()
    });
    bp.compute.user_data = "#!/bin/bash\necho hello > /tmp/hello\n".into();
    bp.data.db = Some(Database {
        engine: Some(DbEngine::Postgres),
        instance_class: Some("db.t3.micro".into()),
        allocated_storage_gb: Some(20),
        username: Some("appuser".into()),
        ..Database::default()
    });
    bp.data.s3_bucket = Some(Bucket {
        name: Some(format!("{}-assets", bp.slug())),
        ..Bucket::default()
    });
    let report = validate(&bp, &ValidationContext::offline());
    assert!(report.is_ok(), "test blueprint must be valid: {report}");
    bp
}

pub(crate) fn options(keys: &tempfile::TempDir) -> DeployOptions {
    let mut o = DeployOptions::new(keys.path().join("ssh/pockitect"));
    o.poll_interval = std::time::Duration::from_millis(100);
    o.instance_wait = std::time::Duration::from_secs(30);
    o.db_wait = std::time::Duration::from_secs(30);
    o.delete_wait = std::time::Duration::from_secs(30);
    o
}

/// Keeps every event and every blueprint the engine reports.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<DeployEvent>>,
    blueprints: Mutex<Vec<Blueprint>>,
}

impl DeploySink for Recorder {
    async fn progress(&self, event: &DeployEvent) {
        self.events.lock().unwrap().push(event.clone());
    }

    async fn blueprint_changed(&self, blueprint: &Blueprint) {
        self.blueprints.lock().unwrap().push(blueprint.clone());
    }
}

impl Recorder {
    fn last(&self) -> Blueprint {
        self.blueprints
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("the engine reported a blueprint")
    }

    fn position(&self, r: Resource, state: StepState) -> Option<usize> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .position(|e| e.resource == r && e.state == state)
    }

    /// Asserts the database's master password (read from Secrets Manager by the test) appears
    /// in nothing the engine handed out.
    fn assert_no_password(&self, report: &DeployReport, password: &str) {
        assert!(!password.is_empty());
        let r = serde_json::to_string(report).unwrap();
        assert!(!r.contains(password), "password in the report");
        assert!(!format!("{report:?}").contains(password));
        for bp in self.blueprints.lock().unwrap().iter() {
            let text = bp.to_json_pretty().unwrap();
            assert!(!text.contains(password), "password in a blueprint");
        }
        for e in self.events.lock().unwrap().iter() {
            assert!(!serde_json::to_string(e).unwrap().contains(password));
        }
    }
}

fn tag_map<'a>(tags: impl Iterator<Item = (&'a str, &'a str)>) -> BTreeMap<String, String> {
    tags.map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

fn assert_project_tags(tags: &BTreeMap<String, String>, slug: &str, resource: Resource) {
    assert_eq!(
        tags.get("pockitect:project").map(String::as_str),
        Some(slug),
        "{resource}: {tags:?}"
    );
    assert_eq!(
        tags.get("pockitect:managed").map(String::as_str),
        Some("true"),
        "{resource}"
    );
    assert_eq!(
        tags.get("pockitect:resource").map(String::as_str),
        Some(resource.as_str()),
        "{resource}"
    );
    assert!(
        tags.get("Name").is_some_and(|n| n.starts_with(slug)),
        "{resource}: {tags:?}"
    );
    assert_eq!(
        tags.get("team").map(String::as_str),
        Some("web"),
        "{resource}: user tag"
    );
}

/// What exists in moto, counted per kind (for "a second deploy creates nothing").
async fn census(aws: &Aws, slug: &str) -> BTreeMap<&'static str, usize> {
    let ec2 = aws.ec2(REGION);
    let mut m = BTreeMap::new();
    m.insert(
        "vpcs",
        ec2.describe_vpcs().send().await.unwrap().vpcs().len(),
    );
    m.insert(
        "subnets",
        ec2.describe_subnets().send().await.unwrap().subnets().len(),
    );
    m.insert(
        "security_groups",
        ec2.describe_security_groups()
            .send()
            .await
            .unwrap()
            .security_groups()
            .len(),
    );
    m.insert(
        "internet_gateways",
        ec2.describe_internet_gateways()
            .send()
            .await
            .unwrap()
            .internet_gateways()
            .len(),
    );
    m.insert(
        "route_tables",
        ec2.describe_route_tables()
            .send()
            .await
            .unwrap()
            .route_tables()
            .len(),
    );
    let live = ec2
        .describe_instances()
        .send()
        .await
        .unwrap()
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .filter(|i| i.state().and_then(|s| s.name()).map(|n| n.as_str()) != Some("terminated"))
        .count();
    m.insert("instances", live);
    m.insert(
        "key_pairs",
        ec2.describe_key_pairs()
            .send()
            .await
            .unwrap()
            .key_pairs()
            .len(),
    );
    let rds = aws.rds(REGION);
    m.insert(
        "db_instances",
        rds.describe_db_instances()
            .send()
            .await
            .unwrap()
            .db_instances()
            .len(),
    );
    m.insert(
        "db_subnet_groups",
        rds.describe_db_subnet_groups()
            .send()
            .await
            .unwrap()
            .db_subnet_groups()
            .len(),
    );
    m.insert(
        "buckets",
        aws.s3(REGION)
            .list_buckets()
            .send()
            .await
            .unwrap()
            .buckets()
            .len(),
    );
    let iam = aws.iam();
    let roles = iam.list_roles().send().await.unwrap();
    m.insert(
        "roles",
        roles
            .roles()
            .iter()
            .filter(|r| r.role_name().contains(slug))
            .count(),
    );
    let profiles = iam.list_instance_profiles().send().await.unwrap();
    m.insert(
        "instance_profiles",
        profiles
            .instance_profiles()
            .iter()
            .filter(|p| p.instance_profile_name().contains(slug))
            .count(),
    );
    m
}

#[tokio::test]
async fn full_blueprint_is_deployed_tagged_and_a_second_deploy_creates_nothing() {
    let moto = MotoServer::start();
    let aws = aws_for(&moto).await;
    let keys = tempfile::tempdir().unwrap();
    let bp = full_blueprint();
    let slug = bp.slug().into_owned();

    let sink = Recorder::default();
    let report = deploy::deploy(&aws, checked(bp.clone()), options(&keys), &sink)
        .await
        .expect("deploy runs");
    assert_eq!(report.outcome, Outcome::Success, "{report:#?}");
    let db_id = sink
        .last()
        .data
        .db
        .unwrap()
        .identifier
        .expect("db recorded");
    let password = managed_password(&aws, &db_id).await;
    sink.assert_no_password(&report, &password);
    let enabled = [
        Resource::Vpc,
        Resource::InternetGateway,
        Resource::RouteTable,
        Resource::Subnet,
        Resource::SecondarySubnet,
        Resource::SecurityGroup,
        Resource::KeyPair,
        Resource::IamRole,
        Resource::InstanceProfile,
        Resource::DbSubnetGroup,
        Resource::RdsInstance,
        Resource::S3Bucket,
        Resource::Ec2Instance,
    ];
    for r in enabled {
        let res = report.get(r).unwrap();
        assert_eq!(
            (res.action, res.state),
            (Action::Create, StepState::Done),
            "{r}"
        );
    }
    assert_eq!(
        report.get(Resource::Certificate).unwrap().action,
        Action::Skip
    );
    assert_eq!(report.created.len(), enabled.len());

    // Progress: step/total on every event; independent branches started before the network
    // was finished.
    {
        let events = sink.events.lock().unwrap();
        assert!(
            events
                .iter()
                .all(|e| e.total == enabled.len() && e.step <= e.total)
        );
        assert_eq!(events.last().unwrap().step, enabled.len());
    }
    let bucket_started = sink
        .position(Resource::S3Bucket, StepState::Started)
        .unwrap();
    let role_started = sink
        .position(Resource::IamRole, StepState::Started)
        .unwrap();
    let subnet_done = sink.position(Resource::Subnet, StepState::Done).unwrap();
    assert!(bucket_started < subnet_done && role_started < subnet_done);

    // The blueprint the daemon would have written.
    let out = sink.last();
    let n = &out.network;
    let vpc_id = n.vpc_id.clone().expect("vpc recorded");
    let subnet_id = n.subnet_id.clone().unwrap();
    let sg_id = n.security_group_id.clone().unwrap();
    let igw_id = n.internet_gateway_id.clone().unwrap();
    let rtb_id = n.route_table_id.clone().unwrap();
    let subnet2_id = n.secondary_subnet_id.clone().unwrap();
    assert_eq!(n.status, SectionStatus::Created);
    assert_eq!(out.compute.status, SectionStatus::Running);
    let db = out.data.db.as_ref().unwrap();
    assert_eq!(db.status, SectionStatus::Created);
    assert!(db.password.is_none());
    assert!(db.endpoint.is_some() && db.port == Some(5432));
    // RDS manages the master password: the blueprint records the secret's ARN, not the password.
    let secret_arn = db
        .master_user_secret_arn
        .clone()
        .expect("secret ARN recorded");
    assert!(
        secret_arn.starts_with("arn:aws:secretsmanager:us-east-2:"),
        "{secret_arn}"
    );
    assert!(!out.to_json_pretty().unwrap().contains(&password));
    assert_eq!(
        out.data.s3_bucket.as_ref().unwrap().status,
        SectionStatus::Created
    );
    assert_eq!(out.security.key_pair.status, SectionStatus::Created);
    assert_eq!(out.security.iam_role.status, SectionStatus::Created);
    assert!(out.security.iam_role.instance_profile_arn.is_some());

    // Each resource in moto, by its recorded id, with its tags.
    let ec2 = aws.ec2(REGION);
    let vpc = ec2.describe_vpcs().vpc_ids(&vpc_id).send().await.unwrap();
    let vpc = &vpc.vpcs()[0];
    assert_eq!(vpc.cidr_block(), Some("10.0.0.0/16"));
    assert_project_tags(
        &tag_map(
            vpc.tags()
                .iter()
                .map(|t| (t.key().unwrap(), t.value().unwrap())),
        ),
        &slug,
        Resource::Vpc,
    );
    let by_tag = ec2
        .describe_vpcs()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:pockitect:project")
                .values(&slug)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(by_tag.vpcs().len(), 1);

    let igw = ec2
        .describe_internet_gateways()
        .internet_gateway_ids(&igw_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        igw.internet_gateways()[0].attachments()[0].vpc_id(),
        Some(vpc_id.as_str())
    );
    let rtb = ec2
        .describe_route_tables()
        .route_table_ids(&rtb_id)
        .send()
        .await
        .unwrap();
    let rtb = &rtb.route_tables()[0];
    assert!(
        rtb.routes()
            .iter()
            .any(|r| r.destination_cidr_block() == Some("0.0.0.0/0")
                && r.gateway_id() == Some(igw_id.as_str()))
    );
    assert!(
        rtb.associations()
            .iter()
            .any(|a| a.subnet_id() == Some(subnet_id.as_str()))
    );

    let subnets = ec2
        .describe_subnets()
        .subnet_ids(&subnet_id)
        .subnet_ids(&subnet2_id)
        .send()
        .await
        .unwrap();
    let subnets = subnets.subnets();
    assert_eq!(subnets.len(), 2);
    assert_ne!(
        subnets[0].availability_zone(),
        subnets[1].availability_zone()
    );
    let primary = subnets
        .iter()
        .find(|s| s.subnet_id() == Some(subnet_id.as_str()))
        .unwrap();
    assert_eq!(primary.map_public_ip_on_launch(), Some(true));
    assert_project_tags(
        &tag_map(
            primary
                .tags()
                .iter()
                .map(|t| (t.key().unwrap(), t.value().unwrap())),
        ),
        &slug,
        Resource::Subnet,
    );

    let sg = ec2
        .describe_security_groups()
        .group_ids(&sg_id)
        .send()
        .await
        .unwrap();
    let sg = &sg.security_groups()[0];
    let perms = sg.ip_permissions();
    assert!(perms.iter().any(|p| {
        p.from_port() == Some(443)
            && p.ip_ranges()
                .iter()
                .any(|r| r.cidr_ip() == Some("0.0.0.0/0"))
    }));
    assert!(perms.iter().any(|p| {
        p.ip_protocol() == Some("udp")
            && p.from_port() == Some(8000)
            && p.to_port() == Some(8100)
            && p.ipv6_ranges()
                .iter()
                .any(|r| r.cidr_ipv6() == Some("::/0"))
    }));
    assert!(perms.iter().any(|p| p.ip_protocol() == Some("icmp")));
    assert!(
        perms.iter().any(|p| p.from_port() == Some(5432)
            && p.user_id_group_pairs()
                .iter()
                .any(|g| g.group_id() == Some(sg_id.as_str()))),
        "the database port is open to the group itself"
    );

    // Key pair + 0600 key file; only its path is recorded.
    let kp_name = out.key_pair_name().into_owned();
    let kps = ec2
        .describe_key_pairs()
        .key_names(&kp_name)
        .send()
        .await
        .unwrap();
    assert_project_tags(
        &tag_map(
            kps.key_pairs()[0]
                .tags()
                .iter()
                .map(|t| (t.key().unwrap(), t.value().unwrap())),
        ),
        &slug,
        Resource::KeyPair,
    );
    assert_eq!(
        out.security.key_pair.key_pair_id.as_deref(),
        kps.key_pairs()[0].key_pair_id()
    );
    let key_path = out.security.key_pair.private_key_path.clone().unwrap();
    assert_eq!(
        key_path,
        keys.path()
            .join("ssh/pockitect")
            .join(format!("{slug}.pem"))
            .display()
            .to_string()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "private key file mode");
        let dmode = std::fs::metadata(keys.path().join("ssh/pockitect"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dmode, 0o700, "key directory mode");
    }
    assert!(
        std::fs::read_to_string(&key_path)
            .unwrap()
            .contains("PRIVATE KEY")
    );
    assert!(out.security.key_pair.private_key_pem.is_none());

    // Instance: IMDSv2, encrypted gp3 root, role, key, SG, subnet, tags, user data.
    let instance_id = out.compute.instance_id.clone().unwrap();
    let inst = ec2
        .describe_instances()
        .instance_ids(&instance_id)
        .send()
        .await
        .unwrap();
    let inst = &inst.reservations()[0].instances()[0];
    assert_eq!(
        inst.metadata_options()
            .and_then(|m| m.http_tokens())
            .map(|t| t.as_str()),
        Some("required")
    );
    assert_eq!(inst.key_name(), Some(kp_name.as_str()));
    assert_eq!(inst.subnet_id(), Some(subnet_id.as_str()));
    assert!(
        inst.security_groups()
            .iter()
            .any(|g| g.group_id() == Some(sg_id.as_str()))
    );
    assert!(inst.iam_instance_profile().and_then(|p| p.arn()).is_some());
    assert_project_tags(
        &tag_map(
            inst.tags()
                .iter()
                .map(|t| (t.key().unwrap(), t.value().unwrap())),
        ),
        &slug,
        Resource::Ec2Instance,
    );
    let vol_id = inst.block_device_mappings()[0]
        .ebs()
        .unwrap()
        .volume_id()
        .unwrap();
    let vol = ec2
        .describe_volumes()
        .volume_ids(vol_id)
        .send()
        .await
        .unwrap();
    assert_eq!(vol.volumes()[0].encrypted(), Some(true));
    assert_eq!(
        vol.volumes()[0].volume_type().map(|t| t.as_str()),
        Some("gp3")
    );
    let ud = ec2
        .describe_instance_attribute()
        .instance_id(&instance_id)
        .attribute(aws_sdk_ec2::types::InstanceAttributeName::UserData)
        .send()
        .await
        .unwrap();
    let ud = ud.user_data().and_then(|u| u.value()).unwrap();
    let decoded = aws_smithy_types::base64::decode(ud).unwrap();
    assert_eq!(String::from_utf8(decoded).unwrap(), bp.compute.user_data);
    assert_eq!(out.compute.public_ip.as_deref(), inst.public_ip_address());

    // IAM: role with EC2 trust, the bucket policy, the profile holding the role.
    let iam = aws.iam();
    let role_name = out.role_name().into_owned();
    let role = iam.get_role().role_name(&role_name).send().await.unwrap();
    let role = role.role().unwrap();
    assert!(
        role.assume_role_policy_document()
            .unwrap_or_default()
            .contains("ec2.amazonaws.com")
    );
    assert_project_tags(
        &tag_map(role.tags().iter().map(|t| (t.key(), t.value()))),
        &slug,
        Resource::IamRole,
    );
    let policy = iam
        .get_role_policy()
        .role_name(&role_name)
        .policy_name("pockitect")
        .send()
        .await
        .unwrap();
    assert!(policy.policy_document().contains(&format!("{slug}-assets")));
    let profile = iam
        .get_instance_profile()
        .instance_profile_name(&role_name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        profile.instance_profile().unwrap().roles()[0].role_name(),
        role_name
    );

    // RDS: encrypted, private, in the subnet group and SG, tagged.
    let rds = aws.rds(REGION);
    let dbs = rds
        .describe_db_instances()
        .db_instance_identifier(db.identifier.clone().unwrap())
        .send()
        .await
        .unwrap();
    let dbi = &dbs.db_instances()[0];
    assert_eq!(
        dbi.master_user_secret().and_then(|s| s.secret_arn()),
        Some(secret_arn.as_str())
    );
    assert_eq!(dbi.storage_encrypted(), Some(true));
    assert_eq!(dbi.publicly_accessible(), Some(false));
    assert_eq!(
        dbi.db_subnet_group().and_then(|g| g.db_subnet_group_name()),
        n.db_subnet_group_name.as_deref()
    );
    assert!(
        dbi.vpc_security_groups()
            .iter()
            .any(|g| g.vpc_security_group_id() == Some(sg_id.as_str()))
    );
    assert_project_tags(
        &tag_map(
            dbi.tag_list()
                .iter()
                .map(|t| (t.key().unwrap(), t.value().unwrap())),
        ),
        &slug,
        Resource::RdsInstance,
    );

    // S3: region, public access blocked, AES256, tags.
    let s3 = aws.s3(REGION);
    let bucket = format!("{slug}-assets");
    let loc = s3
        .get_bucket_location()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(loc.location_constraint().map(|l| l.as_str()), Some(REGION));
    let pab = s3
        .get_public_access_block()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let pab = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            pab.block_public_acls(),
            pab.ignore_public_acls(),
            pab.block_public_policy(),
            pab.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let enc = s3
        .get_bucket_encryption()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .map(|d| d.sse_algorithm().as_str()),
        Some("AES256")
    );
    let tags = s3
        .get_bucket_tagging()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_project_tags(
        &tag_map(tags.tag_set().iter().map(|t| (t.key(), t.value()))),
        &slug,
        Resource::S3Bucket,
    );

    // Outputs.
    let o = &report.outputs;
    let ip = o.public_ip.clone().expect("public ip");
    assert_eq!(
        o.ssh_command.as_deref(),
        Some(format!("ssh -i {key_path} ec2-user@{ip}").as_str())
    );
    assert_eq!(
        o.db_endpoint,
        Some(format!("{}:5432", db.endpoint.clone().unwrap()))
    );
    assert_eq!(o.bucket.as_deref(), Some(bucket.as_str()));

    // A second deploy from the written blueprint creates nothing.
    let before = census(&aws, &slug).await;
    let sink2 = Recorder::default();
    let report2 = deploy::deploy(&aws, checked(out.clone()), options(&keys), &sink2)
        .await
        .unwrap();
    assert_eq!(report2.outcome, Outcome::Success, "{report2:#?}");
    assert!(report2.created.is_empty(), "{:?}", report2.created);
    for r in enabled {
        assert_eq!(
            report2.get(r).unwrap().action,
            Action::NoChange,
            "{r}: {:?}",
            report2.get(r)
        );
    }
    assert_eq!(census(&aws, &slug).await, before);
    assert_eq!(report2.outputs.ssh_command, report.outputs.ssh_command);
    sink2.assert_no_password(&report2, &password);

    // And the plan says so too.
    let plan = deploy::plan(&aws, &checked(out.clone())).await.unwrap();
    assert!(plan.is_ok(), "{plan:#?}");
    assert_eq!(plan.count(Action::NoChange), enabled.len(), "{plan:#?}");
    assert_eq!(census(&aws, &slug).await, before, "plan writes nothing");
}

#[tokio::test]
async fn a_resumed_deploy_adopts_by_tags_without_duplicates() {
    let moto = MotoServer::start();
    let aws = aws_for(&moto).await;
    let keys = tempfile::tempdir().unwrap();
    let bp = full_blueprint();
    let slug = bp.slug().into_owned();

    let sink = Recorder::default();
    let report = deploy::deploy(&aws, checked(bp.clone()), options(&keys), &sink)
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Success, "{report:#?}");
    let after_first = census(&aws, &slug).await;

    // A crash before anything was written back: only the tags (and fixed names) tell.
    let report2 = deploy::deploy(
        &aws,
        checked(bp.clone()),
        options(&keys),
        Recorder::default(),
    )
    .await
    .unwrap();
    assert_eq!(report2.outcome, Outcome::Success, "{report2:#?}");
    assert!(report2.created.is_empty(), "{:?}", report2.created);
    assert_eq!(report2.get(Resource::Vpc).unwrap().action, Action::Adopt);
    assert_eq!(
        report2.get(Resource::Ec2Instance).unwrap().action,
        Action::Adopt
    );
    assert_eq!(census(&aws, &slug).await, after_first);

    // A crash midway: resume from a blueprint written part way through.
    let snapshots = sink.blueprints.lock().unwrap().clone();
    let mid = snapshots[snapshots.len() / 2].clone();
    let report3 = deploy::deploy(&aws, checked(mid), options(&keys), Recorder::default())
        .await
        .unwrap();
    assert_eq!(report3.outcome, Outcome::Success, "{report3:#?}");
    assert!(report3.created.is_empty());
    assert_eq!(census(&aws, &slug).await, after_first);
}

fn failing_blueprint() -> Blueprint {
    let mut bp = full_blueprint();
    bp.compute.image_id = Some("ami-00000000000000000".into());
    bp
}

#[tokio::test]
async fn a_failure_midway_names_the_instance_and_independent_branches_finish() {
    let moto = MotoServer::start();
    let aws = aws_for(&moto).await;
    let keys = tempfile::tempdir().unwrap();
    let bp = failing_blueprint();
    let slug = bp.slug().into_owned();

    // The plan already sees the missing image.
    let plan = deploy::plan(&aws, &checked(bp.clone())).await.unwrap();
    let p = plan.get(Resource::Ec2Instance).unwrap();
    assert!(
        p.error
            .as_deref()
            .is_some_and(|e| e.contains("ami-00000000000000000")),
        "{p:?}"
    );

    let sink = Recorder::default();
    let report = deploy::deploy(&aws, checked(bp), options(&keys), &sink)
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Partial, "{report:#?}");
    let errors: Vec<_> = report.errors().collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = errors[0];
    assert_eq!(e.resource, Resource::Ec2Instance);
    assert_eq!(e.code, "InvalidAMIID.NotFound");
    let text = e.to_string();
    assert!(
        text.starts_with("ec2_instance: ec2:DescribeImages in 'us-east-2': InvalidAMIID.NotFound"),
        "{text}"
    );
    assert!(text.contains("ami-00000000000000000"), "{text}");
    if let Some(id) = report.get(Resource::RdsInstance).and_then(|r| r.id.clone()) {
        sink.assert_no_password(&report, &managed_password(&aws, &id).await);
    }

    // Independent branches finished and are recorded consistently.
    for r in [
        Resource::S3Bucket,
        Resource::KeyPair,
        Resource::IamRole,
        Resource::RdsInstance,
        Resource::SecurityGroup,
    ] {
        assert_eq!(report.get(r).unwrap().state, StepState::Done, "{r}");
    }
    let out = sink.last();
    assert_eq!(out.compute.status, SectionStatus::Failed);
    assert!(out.compute.instance_id.is_none());
    let bucket = out.data.s3_bucket.as_ref().unwrap();
    assert_eq!(bucket.status, SectionStatus::Created);
    assert_eq!(
        bucket.arn.as_deref(),
        Some(format!("arn:aws:s3:::{slug}-assets").as_str())
    );
    aws.s3(REGION)
        .head_bucket()
        .bucket(format!("{slug}-assets"))
        .send()
        .await
        .expect("bucket exists");
    assert_eq!(out.network.status, SectionStatus::Created);
    assert!(report.outputs.public_ip.is_none() && report.outputs.ssh_command.is_none());
    assert_eq!(report.outputs.bucket, Some(format!("{slug}-assets")));

    // Fixing the image and deploying again finishes the job, creating only the instance.
    let mut fixed = out.clone();
    fixed.compute.image_id = Some("amazon-linux-2023".into());
    let report2 = deploy::deploy(&aws, checked(fixed), options(&keys), Recorder::default())
        .await
        .unwrap();
    assert_eq!(report2.outcome, Outcome::Success, "{report2:#?}");
    let created: Vec<_> = report2.created.iter().map(|c| c.resource).collect();
    assert_eq!(created, vec![Resource::Ec2Instance]);
}

#[tokio::test]
async fn rollback_on_failure_removes_what_the_run_created() {
    let moto = MotoServer::start();
    let aws = aws_for(&moto).await;
    let keys = tempfile::tempdir().unwrap();
    let bp = failing_blueprint();
    let slug = bp.slug().into_owned();
    let before = census(&aws, &slug).await;

    let mut opts = options(&keys);
    opts.rollback_on_failure = true;
    let sink = Recorder::default();
    let report = deploy::deploy(&aws, checked(bp), opts, &sink)
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::RolledBack, "{report:#?}");
    assert!(
        report.rollback_errors.is_empty(),
        "{:?}",
        report.rollback_errors
    );
    assert_eq!(report.rolled_back.len(), report.created.len());
    assert!(!report.created.is_empty());
    // Newest first.
    let mut reversed = report.created.clone();
    reversed.reverse();
    assert_eq!(report.rolled_back, reversed);
    assert_eq!(
        census(&aws, &slug).await,
        before,
        "nothing of the run is left"
    );
    assert!(
        !keys
            .path()
            .join(format!("ssh/pockitect/{slug}.pem"))
            .exists()
    );
    assert_eq!(
        report.get(Resource::S3Bucket).unwrap().state,
        StepState::RolledBack
    );

    let out = sink.last();
    assert!(out.network.vpc_id.is_none() && out.network.security_group_id.is_none());
    assert!(out.data.s3_bucket.as_ref().unwrap().arn.is_none());
    assert!(out.security.key_pair.private_key_path.is_none());
    assert!(out.security.iam_role.arn.is_none());
    assert!(out.data.db.as_ref().unwrap().identifier.is_none());
    assert_eq!(out.compute.status, SectionStatus::Failed);
    assert_eq!(
        out.data.s3_bucket.as_ref().unwrap().status,
        SectionStatus::Pending
    );
    let rolled = sink
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.state == StepState::RolledBack)
        .count();
    assert_eq!(rolled, report.created.len());
}

#[tokio::test]
async fn plan_writes_nothing_and_lists_every_resource() {
    let moto = MotoServer::start();
    let aws = aws_for(&moto).await;
    let bp = full_blueprint();
    let slug = bp.slug().into_owned();
    let before = census(&aws, &slug).await;
    let plan = deploy::plan(&aws, &checked(bp.clone())).await.unwrap();
    assert!(plan.is_ok(), "{plan:#?}");
    assert_eq!(plan.resources.len(), Resource::ALL.len());
    assert_eq!(plan.count(Action::Create), 13, "{plan:#?}");
    assert_eq!(
        plan.get(Resource::Certificate).unwrap().action,
        Action::Skip
    );
    let inst = plan.get(Resource::Ec2Instance).unwrap();
    assert!(
        inst.detail
            .as_deref()
            .is_some_and(|d| d.contains("al2023-ami-2023")),
        "{inst:?}"
    );
    assert_eq!(census(&aws, &slug).await, before);
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["resources"][0]["resource"], "vpc");
    assert_eq!(json["resources"][0]["action"], "create");
}

#[tokio::test]
async fn default_vpc_with_certificate_and_no_database() {
    let moto = MotoServer::start();
    let aws = aws_for(&moto).await;
    let keys = tempfile::tempdir().unwrap();
    let mut bp = Blueprint::new(&unique("it-default-"), REGION);
    bp.network.vpc_mode = VpcMode::Default;
    bp.security.iam_role = pockitect_blueprint::IamRole::disabled();
    bp.security.certificate.mode = CertificateMode::Request;
    bp.security.certificate.status = SectionStatus::Pending;
    bp.security.certificate.domain = Some("app.example.com".into());
    let report = deploy::deploy(&aws, checked(bp), options(&keys), Recorder::default())
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Success, "{report:#?}");
    assert_eq!(report.get(Resource::Vpc).unwrap().action, Action::Adopt);
    assert_eq!(report.get(Resource::Subnet).unwrap().action, Action::Adopt);
    for r in [
        Resource::InternetGateway,
        Resource::RouteTable,
        Resource::RdsInstance,
        Resource::IamRole,
    ] {
        assert_eq!(report.get(r).unwrap().action, Action::Skip, "{r}");
    }
    let default_vpc = aws
        .ec2(REGION)
        .describe_vpcs()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("is-default")
                .values("true")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        report.get(Resource::Vpc).unwrap().id.as_deref(),
        default_vpc.vpcs()[0].vpc_id()
    );
    assert!(report.outputs.certificate_arn.is_some());
    let recs = &report.outputs.certificate_validation_records;
    assert!(
        !recs.is_empty() && recs[0].record_type == "CNAME",
        "{recs:?}"
    );
    assert!(report.outputs.ssh_command.is_some());
    // Rollback must never touch the default VPC: it was adopted, not created.
    assert!(!report.created.iter().any(|c| c.resource == Resource::Vpc));
}

#[tokio::test]
async fn shared_vpc_is_created_once_per_environment() {
    let moto = MotoServer::start();
    let aws = aws_for(&moto).await;
    let keys = tempfile::tempdir().unwrap();
    let mut vpcs = Vec::new();
    for _ in 0..2 {
        let mut bp = Blueprint::new(&unique("it-shared-"), REGION);
        bp.network.vpc_mode = VpcMode::Shared;
        bp.network.vpc_env = Some(VpcEnv::Dev);
        bp.security.key_pair.mode = KeyPairMode::None;
        bp.security.key_pair.status = SectionStatus::Skipped;
        bp.security.iam_role = pockitect_blueprint::IamRole::disabled();
        let sink = Recorder::default();
        let report = deploy::deploy(&aws, checked(bp), options(&keys), &sink)
            .await
            .unwrap();
        assert_eq!(report.outcome, Outcome::Success, "{report:#?}");
        assert!(
            report.outputs.ssh_command.is_none(),
            "no key pair, no ssh command"
        );
        vpcs.push((sink.last().network.vpc_id.clone().unwrap(), report));
    }
    assert_eq!(vpcs[0].0, vpcs[1].0, "both projects use the one dev VPC");
    assert_eq!(vpcs[0].1.get(Resource::Vpc).unwrap().action, Action::Create);
    assert_eq!(vpcs[1].1.get(Resource::Vpc).unwrap().action, Action::Adopt);
    assert_eq!(
        vpcs[1].1.get(Resource::Subnet).unwrap().action,
        Action::Adopt
    );
    assert_eq!(
        vpcs[1].1.get(Resource::SecurityGroup).unwrap().action,
        Action::Create
    );
    let tagged = aws
        .ec2(REGION)
        .describe_vpcs()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:pockitect:vpc-env")
                .values("dev")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(tagged.vpcs().len(), 1);
    assert!(
        !tagged.vpcs()[0]
            .tags()
            .iter()
            .any(|t| t.key() == Some("pockitect:project")),
        "a shared VPC belongs to no single project"
    );
}

#[tokio::test]
async fn image_aliases_resolve_in_moto_or_fail_clearly() {
    let moto = MotoServer::start();
    let aws = aws_for(&moto).await;
    let mut bp = Blueprint::new(&unique("it-image-"), REGION);
    bp.compute.image_id = Some("amazon-linux-2023".into());
    let plan = deploy::plan(&aws, &checked(bp.clone())).await.unwrap();
    let detail = plan
        .get(Resource::Ec2Instance)
        .unwrap()
        .detail
        .clone()
        .unwrap();
    assert!(
        detail.contains("al2023-ami-2023") && detail.contains("x86_64"),
        "{detail}"
    );
    // moto ships no Ubuntu 24.04 image: the error names the alias and the region.
    bp.compute.image_id = Some("ubuntu-24.04".into());
    let plan = deploy::plan(&aws, &checked(bp.clone())).await.unwrap();
    let err = plan
        .get(Resource::Ec2Instance)
        .unwrap()
        .error
        .clone()
        .unwrap();
    assert!(
        err.contains("'ubuntu-24.04'") && err.contains(REGION),
        "{err}"
    );
}

/// The password in the Secrets Manager secret RDS manages for `db_id`, read with the SDK straight
/// from moto (not through the code under test).
async fn managed_password(aws: &Aws, db_id: &str) -> String {
    let dbs = aws
        .rds(REGION)
        .describe_db_instances()
        .db_instance_identifier(db_id)
        .send()
        .await
        .unwrap();
    let arn = dbs.db_instances()[0]
        .master_user_secret()
        .and_then(|s| s.secret_arn())
        .expect("RDS manages the master password")
        .to_owned();
    let value = aws
        .secrets_manager(REGION)
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(value.secret_string().unwrap()).unwrap();
    doc["password"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_new_database_gets_a_managed_password_that_only_db_secret_reads() {
    let moto = MotoServer::start();
    let aws = aws_for(&moto).await;
    let keys = tempfile::tempdir().unwrap();
    let bp = full_blueprint();
    let slug = bp.slug().into_owned();
    // Nothing deployed yet: the error says so and what to do.
    let err = db_secret::master_password(&aws, &slug, REGION, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no DB instance") && err.contains("pockitect deploy"),
        "{err}"
    );

    let sink = Recorder::default();
    let report = deploy::deploy(&aws, checked(bp), options(&keys), &sink)
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Success, "{report:#?}");
    let db = sink.last().data.db.unwrap();
    let id = db.identifier.clone().unwrap();
    let expected = managed_password(&aws, &id).await;
    let MasterPassword::Managed {
        secret_arn,
        password,
        ..
    } = db_secret::master_password(&aws, &slug, REGION, Some(&id))
        .await
        .unwrap()
    else {
        panic!("a new database has a managed password");
    };
    assert_eq!(password.expose(), expected);
    assert_eq!(Some(secret_arn), db.master_user_secret_arn);
    let dbg = format!("{password:?}");
    assert!(
        !dbg.contains(&expected) && dbg.contains("redacted"),
        "{dbg}"
    );

    // Another project's name for the same database does not get its password.
    let err = db_secret::master_password(&aws, "someone-else", REGION, Some(&id))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("not tagged for this project"), "{err}");
}

#[tokio::test]
async fn a_database_with_its_own_password_is_adopted_without_one_and_recorded_once_managed() {
    let moto = MotoServer::start();
    let aws = aws_for(&moto).await;
    let keys = tempfile::tempdir().unwrap();
    let mut bp = full_blueprint();
    let slug = bp.slug().into_owned();
    // A database created before RDS managed passwords: Pockitect gave it a password of its
    // own (kept in the OS keyring), tagged it and recorded it.
    let id = format!("{slug}-db");
    aws.rds(REGION)
        .create_db_instance()
        .db_instance_identifier(&id)
        .engine("postgres")
        .db_instance_class("db.t3.micro")
        .allocated_storage(20)
        .master_username("appuser")
        .master_user_password("Keyring-Kept-Pass-1")
        .tags(
            aws_sdk_rds::types::Tag::builder()
                .key(pockitect_proto::tags::PROJECT)
                .value(&slug)
                .build(),
        )
        .tags(
            aws_sdk_rds::types::Tag::builder()
                .key(pockitect_proto::tags::MANAGED)
                .value("true")
                .build(),
        )
        .send()
        .await
        .unwrap();
    bp.data.db.as_mut().unwrap().identifier = Some(id.clone());

    // The deploy needs no password for it and leaves it as it is.
    let sink = Recorder::default();
    let report = deploy::deploy(&aws, checked(bp), options(&keys), &sink)
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Success, "{report:#?}");
    let rds = report.get(Resource::RdsInstance).unwrap();
    assert_eq!(rds.action, Action::NoChange, "{rds:?}");
    let out = sink.last();
    assert_eq!(out.data.db.as_ref().unwrap().master_user_secret_arn, None);
    let answer = db_secret::master_password(&aws, &slug, REGION, Some(&id))
        .await
        .unwrap();
    assert!(
        matches!(&answer, MasterPassword::NotManaged { identifier } if *identifier == id),
        "{answer:?}"
    );

    // Moved to a managed secret on purpose (aws rds modify-db-instance
    // --manage-master-user-password): the next deploy records the secret's ARN.
    aws.rds(REGION)
        .modify_db_instance()
        .db_instance_identifier(&id)
        .manage_master_user_password(true)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let sink = Recorder::default();
    let report = deploy::deploy(&aws, checked(out), options(&keys), &sink)
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Success, "{report:#?}");
    let recorded = sink.last().data.db.unwrap().master_user_secret_arn;
    assert!(recorded.is_some());
    let MasterPassword::Managed { secret_arn, .. } =
        db_secret::master_password(&aws, &slug, REGION, Some(&id))
            .await
            .unwrap()
    else {
        panic!("managed after the modification");
    };
    assert_eq!(Some(secret_arn), recorded);
}

/// The daemon spawns deploys on the runtime: the future must be `Send`.
#[test]
fn deploy_future_is_send() {
    fn is_send<T: Send>(_: &T) {}
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let aws = rt.block_on(Aws::load(AwsSettings {
        endpoint_url: Some("http://127.0.0.1:9".into()),
        pricing_endpoint_url: None,
        home_region: "us-east-1".into(),
        profile: None,
        max_attempts: 1,
        static_credentials: None,
        credentials_store: None,
    }));
    let recorder = Recorder::default();
    let f = deploy::deploy(
        &aws,
        checked(full_blueprint()),
        DeployOptions::default(),
        &recorder,
    );
    is_send(&f);
    let bp = Blueprint::new("x", REGION);
    let bp = checked(bp);
    let p = deploy::plan(&aws, &bp);
    is_send(&p);
}

#[tokio::test]
async fn a_cancelled_deploy_starts_nothing() {
    let moto = MotoServer::start();
    let aws = aws_for(&moto).await;
    let keys = tempfile::tempdir().unwrap();
    let bp = full_blueprint();
    let slug = bp.slug().into_owned();
    let before = census(&aws, &slug).await;
    let opts = options(&keys);
    opts.cancel.cancel();
    let report = deploy::deploy(&aws, checked(bp), opts, Recorder::default())
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Cancelled);
    assert!(report.created.is_empty());
    assert!(
        report
            .resources
            .iter()
            .all(|r| r.state == StepState::Skipped)
    );
    assert_eq!(census(&aws, &slug).await, before);
}
