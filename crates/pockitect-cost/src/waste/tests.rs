//! Records are built by hand in the shapes the scanner's converters write: `instance`,
//! `volume`, `address`, `nat_gateway`, `route_table`, `vpc`, `subnet` in
//! `crates/pockitect-aws/src/lookup/ec2.rs`, `instance` in `lookup/rds.rs` (state and details
//! keys copied from there; only the keys waste reads, and a few others, are filled in).

use std::collections::BTreeMap;

use pockitect_proto::TerminateTarget;
use serde_json::{Value, json};

use super::*;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

fn rec(
    kind: ResourceType,
    id: &str,
    state: &str,
    details: Value,
    tags: &[(&str, &str)],
) -> ResourceRecord {
    let tags: BTreeMap<String, String> = tags
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let mut r = ResourceRecord::new(kind, id, REGION, tags);
    r.account = ACCOUNT.to_owned();
    r.state = Some(state.to_owned());
    r.details = details;
    r
}

/// `ec2.rs::instance`: state is EC2's state name.
fn instance(id: &str, state: &str, vpc: &str, subnet: &str) -> ResourceRecord {
    rec(
        ResourceType::Ec2Instance,
        id,
        state,
        json!({"instance_type": "t3.micro", "image_id": "ami-1", "vpc_id": vpc,
               "subnet_id": subnet, "public_ip": null, "private_ip": "10.0.0.5",
               "key_name": null, "security_groups": ["sg-1"], "iam_instance_profile": null,
               "launch_time": null, "availability_zone": "us-east-1a"}),
        &[],
    )
}

/// `ec2.rs::volume`: `in-use` with its instance ids, or `available` with none.
fn volume(id: &str, gb: i64, ty: &str, attached_to: &[&str]) -> ResourceRecord {
    let state = if attached_to.is_empty() {
        "available"
    } else {
        "in-use"
    };
    rec(
        ResourceType::EbsVolume,
        id,
        state,
        json!({"size_gb": gb, "volume_type": ty, "encrypted": false,
               "availability_zone": "us-east-1a", "instance_ids": attached_to}),
        &[],
    )
}

/// `ec2.rs::address`: `associated` exactly when AWS gives an association id.
fn address(id: &str, ip: &str, instance: Option<&str>) -> ResourceRecord {
    let association = instance.map(|_| "eipassoc-1");
    rec(
        ResourceType::ElasticIp,
        id,
        if association.is_some() {
            "associated"
        } else {
            "unassociated"
        },
        json!({"public_ip": ip, "association_id": association, "instance_id": instance,
               "network_interface_id": instance.map(|_| "eni-1"), "domain": "vpc"}),
        &[],
    )
}

/// `ec2.rs::nat_gateway`.
fn nat(id: &str, vpc: &str, ip: &str, allocation: &str) -> ResourceRecord {
    rec(
        ResourceType::NatGateway,
        id,
        "available",
        json!({"vpc_id": vpc, "subnet_id": "subnet-pub", "public_ip": ip,
               "public_ips": [ip], "allocation_ids": [allocation]}),
        &[],
    )
}

/// `ec2.rs::route_table`: routes carry `nat_gateway_id`, explicit associations `subnet_ids`.
fn route_table(
    id: &str,
    vpc: &str,
    main: bool,
    subnets: &[&str],
    nat: Option<&str>,
) -> ResourceRecord {
    let mut routes = vec![json!({"destination": "10.0.0.0/16", "gateway_id": "local",
                                 "nat_gateway_id": null})];
    if let Some(n) = nat {
        routes.push(json!({"destination": "0.0.0.0/0", "gateway_id": null, "nat_gateway_id": n}));
    }
    rec(
        ResourceType::RouteTable,
        id,
        "available",
        json!({"vpc_id": vpc, "main": main, "subnet_ids": subnets, "association_ids": [],
               "routes": routes}),
        &[],
    )
}

/// `rds.rs::instance`: state is the DB instance status.
fn database(id: &str, status: &str, engine: &str, gb: i64, multi_az: bool) -> ResourceRecord {
    rec(
        ResourceType::RdsInstance,
        id,
        status,
        json!({"engine": engine, "engine_version": "16.4", "instance_class": "db.t3.micro",
               "allocated_storage_gb": gb, "endpoint": null, "port": null,
               "publicly_accessible": false, "storage_encrypted": true, "multi_az": multi_az,
               "deletion_protection": false, "db_subnet_group": "g", "vpc_id": "vpc-a",
               "security_groups": []}),
        &[],
    )
}

/// An estate where everything is in use: nothing of it may ever be flagged.
fn busy_estate() -> Vec<ResourceRecord> {
    vec![
        rec(
            ResourceType::Vpc,
            "vpc-default",
            "available",
            json!({"cidr_block": "172.31.0.0/16", "is_default": true}),
            &[],
        ),
        rec(
            ResourceType::Vpc,
            "vpc-a",
            "available",
            json!({"cidr_block": "10.0.0.0/16", "is_default": false}),
            &[],
        ),
        rec(
            ResourceType::Subnet,
            "subnet-a",
            "available",
            json!({"vpc_id": "vpc-a", "cidr_block": "10.0.1.0/24",
                   "availability_zone": "us-east-1a", "map_public_ip_on_launch": false,
                   "default_for_az": false}),
            &[],
        ),
        rec(
            ResourceType::SecurityGroup,
            "sg-1",
            "available",
            json!({"group_name": "default", "vpc_id": "vpc-a", "is_default": true}),
            &[],
        ),
        rec(
            ResourceType::InternetGateway,
            "igw-1",
            "attached",
            json!({"vpc_ids": ["vpc-a"]}),
            &[],
        ),
        instance("i-run", "running", "vpc-a", "subnet-a"),
        volume("vol-run", 8, "gp3", &["i-run"]),
        address("eipalloc-run", "3.3.3.3", Some("i-run")),
        // Used: subnet-a routes through it and i-run runs there.
        nat("nat-used", "vpc-a", "4.4.4.4", "eipalloc-natused"),
        address("eipalloc-natused", "4.4.4.4", None).with_association("eipassoc-nat"),
        route_table("rtb-main-a", "vpc-a", true, &[], None),
        route_table(
            "rtb-priv-a",
            "vpc-a",
            false,
            &["subnet-a"],
            Some("nat-used"),
        ),
        database("db-up", "available", "postgres", 20, false),
        rec(
            ResourceType::KeyPair,
            "blog-key",
            "available",
            json!({"key_pair_id": "key-1"}),
            &[],
        ),
    ]
}

trait WithAssociation {
    fn with_association(self, id: &str) -> Self;
}

impl WithAssociation for ResourceRecord {
    /// An Elastic IP on a NAT gateway's interface: associated, with no instance.
    fn with_association(mut self, id: &str) -> Self {
        self.state = Some("associated".into());
        self.details["association_id"] = json!(id);
        self.details["network_interface_id"] = json!("eni-nat");
        self
    }
}

/// One of each kind of waste, beside the busy estate.
fn idle_estate() -> Vec<ResourceRecord> {
    let mut records = busy_estate();
    records.extend([
        instance("i-stopped", "stopped", "vpc-a", "subnet-a"),
        volume("vol-stopped-root", 8, "gp3", &["i-stopped"]),
        volume("vol-idle", 100, "gp3", &[]),
        address("eipalloc-idle", "5.5.5.5", None),
        rec(
            ResourceType::Vpc,
            "vpc-b",
            "available",
            json!({"cidr_block": "10.1.0.0/16", "is_default": false}),
            &[],
        ),
        nat("nat-idle", "vpc-b", "6.6.6.6", "eipalloc-natidle"),
        address("eipalloc-natidle", "6.6.6.6", None).with_association("eipassoc-idle"),
        route_table("rtb-main-b", "vpc-b", true, &[], Some("nat-idle")),
        database("db-stopped", "stopped", "postgres", 20, false),
    ]);
    records
}

fn ids(items: &[WasteItem]) -> Vec<&str> {
    items.iter().map(|i| i.id.as_str()).collect()
}

fn item<'r>(report: &'r WasteReport, id: &str) -> &'r WasteItem {
    report
        .items
        .iter()
        .find(|i| i.id == id)
        .unwrap_or_else(|| panic!("{id} not flagged: {report:#?}"))
}

#[test]
fn one_of_each_kind_is_flagged_with_its_monthly_figure() {
    let report = find_waste(&idle_estate(), PriceTable::bundled());
    assert_eq!(
        ids(&report.items),
        [
            "i-stopped",
            "vol-idle",
            "eipalloc-idle",
            "nat-idle",
            "db-stopped"
        ],
        "{report:#?}"
    );
    let expect = [
        // 8 GB × $0.08
        (
            "i-stopped",
            WasteKind::StoppedInstance,
            ResourceType::Ec2Instance,
            0.64,
        ),
        // 100 GB × $0.08
        (
            "vol-idle",
            WasteKind::UnattachedVolume,
            ResourceType::EbsVolume,
            8.0,
        ),
        // 730 h × $0.005
        (
            "eipalloc-idle",
            WasteKind::UnassociatedElasticIp,
            ResourceType::ElasticIp,
            3.65,
        ),
        // 730 h × ($0.045 + $0.005 for its public IPv4)
        (
            "nat-idle",
            WasteKind::IdleNatGateway,
            ResourceType::NatGateway,
            36.5,
        ),
        // 20 GB × $0.115
        (
            "db-stopped",
            WasteKind::StoppedDatabase,
            ResourceType::RdsInstance,
            2.3,
        ),
    ];
    for (id, waste, kind, usd) in expect {
        let i = item(&report, id);
        assert_eq!((i.waste, i.kind), (waste, kind), "{id}");
        assert_eq!(i.monthly_usd, Some(usd), "{id}");
        assert!(!i.derived, "{id}");
        assert_eq!(i.region, REGION);
        assert_eq!(i.account, ACCOUNT);
    }
    assert_eq!(report.total_usd_month, 51.09);
    assert!(report.complete && report.from_bundled_table);
    assert!(report.protected.is_empty());

    assert_eq!(
        item(&report, "i-stopped").reason,
        "stopped t3.micro instance still paying for its 8 GB gp3 volume"
    );
    assert_eq!(
        item(&report, "vol-idle").reason,
        "unattached 100 GB gp3 volume"
    );
    assert!(item(&report, "eipalloc-idle").reason.contains("5.5.5.5"));
    let nat = item(&report, "nat-idle");
    assert!(
        nat.reason.contains("no running EC2 instance in a subnet"),
        "{}",
        nat.reason
    );
    assert!(nat.minimum && nat.note.as_deref().unwrap().contains("data processed"));
    let db = item(&report, "db-stopped");
    assert_eq!(
        db.reason,
        "stopped db.t3.micro postgres database still paying for its 20 GB of storage"
    );
    assert!(db.note.as_deref().unwrap().contains("after 7 days"));

    let notes = report.notes.join("\n");
    assert!(
        notes.contains("load balancers are not part of the scan"),
        "{notes}"
    );
    assert!(notes.contains("cannot see connections"), "{notes}");
    assert!(notes.contains("not a live price query"), "{notes}");
}

#[test]
fn nothing_in_use_is_flagged() {
    let report = find_waste(&busy_estate(), PriceTable::bundled());
    assert!(report.items.is_empty(), "{:#?}", report.items);
    assert!(report.protected.is_empty());
    assert_eq!(report.total_usd_month, 0.0);
    assert!(report.complete);
    // What the scan cannot see is said even when nothing is found.
    assert!(report.notes.iter().any(|n| n.contains("load balancers")));
}

#[test]
fn items_read_as_what_terminate_takes() {
    let report = find_waste(&idle_estate(), PriceTable::bundled());
    let json = serde_json::to_string(&report.items).unwrap();
    let targets: Vec<TerminateTarget> = serde_json::from_str(&json).unwrap();
    let want: Vec<TerminateTarget> = report.items.iter().map(WasteItem::target).collect();
    assert_eq!(targets, want);
    assert_eq!(
        targets[1],
        TerminateTarget {
            id: "vol-idle".into(),
            kind: ResourceType::EbsVolume,
            region: REGION.into(),
        }
    );
}

#[test]
fn an_unknown_volume_type_has_no_price_and_says_so() {
    let mut records = busy_estate();
    records.push(volume("vol-odd", 50, "gp9", &[]));
    let report = find_waste(&records, PriceTable::bundled());
    let i = item(&report, "vol-odd");
    assert_eq!(i.monthly_usd, None);
    let note = i.note.as_deref().unwrap();
    assert!(note.contains("no price for volume type 'gp9'"), "{note}");
    assert!(note.contains("bundled price table (as of"), "{note}");
    assert!(!report.complete);
    assert_eq!(report.total_usd_month, 0.0);
    assert!(report.notes.iter().any(|n| n.contains("lower bound")));
}

#[test]
fn every_volume_type_the_table_knows_is_priced() {
    for (ty, usd) in [
        ("gp3", 8.0),
        ("gp2", 10.0),
        ("io1", 12.5),
        ("io2", 12.5),
        ("st1", 4.5),
        ("sc1", 1.5),
        ("standard", 5.0),
    ] {
        let report = find_waste(&[volume("vol-x", 100, ty, &[])], PriceTable::bundled());
        let i = &report.items[0];
        assert_eq!(i.monthly_usd, Some(usd), "{ty}");
        // IOPS (io1, io2) and I/O requests (standard) are billed on top.
        assert_eq!(i.minimum, matches!(ty, "io1" | "io2" | "standard"), "{ty}");
    }
}

#[test]
fn a_stopped_instance_pays_for_its_volumes_and_elastic_ip() {
    let mut records = busy_estate();
    records.extend([
        instance("i-s", "stopped", "vpc-a", "subnet-a"),
        volume("vol-root", 8, "gp3", &["i-s"]),
        volume("vol-data", 500, "st1", &["i-s"]),
        address("eipalloc-s", "7.7.7.7", Some("i-s")),
    ]);
    let report = find_waste(&records, PriceTable::bundled());
    assert_eq!(
        ids(&report.items),
        ["i-s"],
        "the volumes and the IP are part of it"
    );
    let i = &report.items[0];
    // 8 × 0.08 + 500 × 0.045 + 730 × 0.005
    assert_eq!(i.monthly_usd, Some(26.79));
    assert_eq!(
        i.reason,
        "stopped t3.micro instance still paying for its volumes (8 GB gp3, 500 GB st1) and \
         Elastic IP 7.7.7.7"
    );
    assert!(
        i.note
            .as_deref()
            .unwrap()
            .contains("leaves its Elastic IP allocated")
    );
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("delete-on-termination"))
    );
}

#[test]
fn a_stopped_instance_whose_volumes_are_not_in_the_scan_has_no_price() {
    let report = find_waste(
        &[instance("i-s", "stopped", "vpc-a", "subnet-a")],
        PriceTable::bundled(),
    );
    let i = &report.items[0];
    assert_eq!(i.monthly_usd, None);
    assert!(
        i.note
            .as_deref()
            .unwrap()
            .contains("no volume attached to it")
    );
    assert!(!report.complete);
}

#[test]
fn nat_gateway_idle_rules() {
    let nat_b = || nat("nat-b", "vpc-b", "6.6.6.6", "eipalloc-b");
    let judge = |records: Vec<ResourceRecord>| -> Option<String> {
        find_waste(&records, PriceTable::bundled())
            .items
            .into_iter()
            .find(|i| i.id == "nat-b")
            .map(|i| i.reason)
    };

    // Route tables not in the records: judged by its VPC alone.
    assert_eq!(
        judge(vec![
            nat_b(),
            instance("i-1", "running", "vpc-b", "subnet-1")
        ]),
        None
    );
    let why = judge(vec![
        nat_b(),
        instance("i-1", "stopped", "vpc-b", "subnet-1"),
    ])
    .unwrap();
    assert!(
        why.ends_with("no running EC2 instance in its VPC vpc-b"),
        "{why}"
    );

    // No route table sends traffic to it, though an instance runs in the VPC.
    let why = judge(vec![
        nat_b(),
        route_table("rtb-m", "vpc-b", true, &[], None),
        instance("i-1", "running", "vpc-b", "subnet-1"),
    ])
    .unwrap();
    assert!(why.ends_with("no route table sends traffic to it"), "{why}");

    // Routed from subnet-2 only; the running instance is in subnet-1 (main table, no route).
    let routed_elsewhere = || {
        vec![
            nat_b(),
            route_table("rtb-m", "vpc-b", true, &[], None),
            route_table("rtb-2", "vpc-b", false, &["subnet-2"], Some("nat-b")),
        ]
    };
    let mut records = routed_elsewhere();
    records.push(instance("i-1", "running", "vpc-b", "subnet-1"));
    records.push(instance("i-2", "stopped", "vpc-b", "subnet-2"));
    let why = judge(records).unwrap();
    assert!(why.ends_with("no running EC2 instance in a subnet that routes through it"));
    // A running instance in subnet-2 uses it.
    let mut records = routed_elsewhere();
    records.push(instance("i-2", "running", "vpc-b", "subnet-2"));
    assert_eq!(judge(records), None);

    // The main table routes through it: a subnet with no table of its own uses it.
    assert_eq!(
        judge(vec![
            nat_b(),
            route_table("rtb-m", "vpc-b", true, &[], Some("nat-b")),
            instance("i-1", "pending", "vpc-b", "subnet-9"),
        ]),
        None
    );

    // Another VPC's running instance does not count.
    let why = judge(vec![
        nat_b(),
        route_table("rtb-m", "vpc-b", true, &[], Some("nat-b")),
        instance("i-1", "running", "vpc-a", "subnet-a"),
    ]);
    assert!(why.is_some());
}

#[test]
fn an_elastic_ip_a_nat_gateway_holds_is_not_unassociated() {
    // Emulators may report a NAT gateway's address with no association id.
    let records: Vec<ResourceRecord> = busy_estate()
        .into_iter()
        .map(|r| {
            if r.id == "eipalloc-natused" {
                address("eipalloc-natused", "4.4.4.4", None)
            } else {
                r
            }
        })
        .collect();
    assert!(
        records
            .iter()
            .any(|r| r.id == "eipalloc-natused" && r.state.as_deref() == Some("unassociated"))
    );
    let report = find_waste(&records, PriceTable::bundled());
    assert!(report.items.is_empty(), "{:#?}", report.items);
}

#[test]
fn stopped_databases_price_their_storage() {
    let report = find_waste(
        &[
            database("db-multi", "stopped", "mysql", 100, true),
            database("db-aurora", "stopped", "aurora-postgresql", 1, false),
            database("db-stopping", "stopping", "postgres", 20, false),
        ],
        PriceTable::bundled(),
    );
    assert_eq!(ids(&report.items), ["db-aurora", "db-multi"]);
    let multi = item(&report, "db-multi");
    // 100 GB × 2 copies × $0.115
    assert_eq!(multi.monthly_usd, Some(23.0));
    assert!(multi.note.as_deref().unwrap().contains("Multi-AZ"));
    assert!(multi.note.as_deref().unwrap().contains("priced as gp2"));
    let aurora = item(&report, "db-aurora");
    assert_eq!(aurora.monthly_usd, None);
    assert!(aurora.note.as_deref().unwrap().contains("Aurora storage"));
    assert!(!report.complete);
}

#[test]
fn protected_resources_are_listed_apart_and_left_out_of_the_total() {
    let mut records = busy_estate();
    let mut kept = volume("vol-kept", 100, "gp3", &[]);
    kept.tags.insert(PROTECT.into(), " True".into());
    let mut tagged = volume("vol-blog", 10, "gp2", &[]);
    tagged.tags.insert(PROJECT.into(), "blog".into());
    records.extend([kept, tagged]);
    let report = find_waste(&records, PriceTable::bundled());
    assert_eq!(ids(&report.items), ["vol-blog"]);
    assert_eq!(report.items[0].project.as_deref(), Some("blog"));
    assert_eq!(ids(&report.protected), ["vol-kept"]);
    assert_eq!(report.protected[0].monthly_usd, Some(8.0));
    assert_eq!(report.total_usd_month, 1.0);
    let note = report
        .notes
        .iter()
        .find(|n| n.contains("'protected'"))
        .unwrap();
    assert!(
        note.contains("1 idle resource(s)") && note.contains("$8.00/month"),
        "{note}"
    );
}

#[test]
fn derived_and_unknown_regions_say_so() {
    let mut eu = volume("vol-eu", 100, "gp3", &[]);
    eu.region = "eu-west-1".into();
    let mut nowhere = volume("vol-x", 100, "gp3", &[]);
    nowhere.region = "xx-nowhere-1".into();
    let mut ip = address("eipalloc-x", "8.8.8.8", None);
    ip.region = "xx-nowhere-1".into();
    let report = find_waste(&[eu, nowhere, ip], PriceTable::bundled());

    let eu = item(&report, "vol-eu");
    // 100 × round4(0.08 × 0.0114 / 0.0104)
    assert_eq!(eu.monthly_usd, Some(8.77));
    assert!(eu.derived);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("'eu-west-1' marked derived"))
    );

    let x = item(&report, "vol-x");
    assert_eq!(x.monthly_usd, None);
    assert!(
        x.note
            .as_deref()
            .unwrap()
            .contains("has no prices for region 'xx-nowhere-1'")
    );
    // One public IPv4 price everywhere.
    assert_eq!(item(&report, "eipalloc-x").monthly_usd, Some(3.65));
    assert_eq!(report.total_usd_month, 12.42);
}
