use std::path::Path;

use pockitect_blueprint::{Blueprint, ProjectStore, SubnetType, VpcMode};
use pockitect_proto::cost::{Estimate, EstimateLine, Unit};
use pockitect_proto::deploy::Resource;

use crate::{PriceTable, check_budget, estimate};

const EXAMPLE_BLOG: &str = include_str!("../../../../projects/example-blog.json");

fn legacy(name: &str) -> Blueprint {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/legacy-blueprints")
        .join(name);
    ProjectStore::load_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A charged line as (resource, item, quantity, unit price, monthly, derived).
type Charged<'a> = (Resource, &'a str, f64, Option<f64>, Option<f64>, bool);

fn charged(e: &Estimate) -> Vec<Charged<'_>> {
    e.lines
        .iter()
        .filter(|l| !l.free)
        .map(|l| {
            (
                l.resource,
                l.item.as_str(),
                l.quantity,
                l.unit_price_usd,
                l.monthly_usd,
                l.derived,
            )
        })
        .collect()
}

fn free(e: &Estimate) -> Vec<(Resource, &str)> {
    e.lines
        .iter()
        .filter(|l| l.free)
        .map(|l| (l.resource, l.item.as_str()))
        .collect()
}

fn line<'a>(e: &'a Estimate, item_starts: &str) -> &'a EstimateLine {
    e.lines
        .iter()
        .find(|l| l.item.starts_with(item_starts))
        .unwrap_or_else(|| panic!("no line '{item_starts}…' in {:#?}", e.lines))
}

#[test]
fn example_blog_in_us_east_1_line_by_line() {
    let bp = Blueprint::from_json_str(EXAMPLE_BLOG).unwrap();
    assert_eq!(bp.region(), "us-east-1");
    let e = estimate(&bp, PriceTable::bundled());

    assert_eq!(e.project, "example-blog");
    assert_eq!(e.region, "us-east-1");
    assert_eq!(e.currency, "USD");
    assert!(e.from_bundled_table);
    assert!(e.complete);
    assert!(!e.has_derived());
    use Resource::*;
    assert_eq!(
        charged(&e),
        vec![
            (
                RdsInstance,
                "db.t3.micro postgres single-AZ, us-east-1",
                730.0,
                Some(0.018),
                Some(13.14),
                false
            ),
            (
                RdsInstance,
                "20 GB general-purpose SSD database storage, us-east-1",
                20.0,
                Some(0.115),
                Some(2.3),
                false
            ),
            (
                S3Bucket,
                "S3 bucket 'example-blog-assets', Standard storage, us-east-1",
                0.0,
                Some(0.023),
                Some(0.0),
                false
            ),
            (
                Ec2Instance,
                "t3.micro Linux on-demand, us-east-1",
                730.0,
                Some(0.0104),
                Some(7.59),
                false
            ),
            (
                Ec2Instance,
                "8 GB gp3 root volume, us-east-1",
                8.0,
                Some(0.08),
                Some(0.64),
                false
            ),
            (
                Ec2Instance,
                "public IPv4 address of the instance",
                730.0,
                Some(0.005),
                Some(3.65),
                false
            ),
        ]
    );
    assert_eq!(
        free(&e),
        vec![
            (Vpc, "VPC"),
            (InternetGateway, "internet gateway"),
            (RouteTable, "route table"),
            (Subnet, "subnet"),
            (
                SecondarySubnet,
                "second subnet in another availability zone (for the database)"
            ),
            (SecurityGroup, "security group"),
            (KeyPair, "SSH key pair"),
            (IamRole, "IAM role"),
            (InstanceProfile, "instance profile"),
            (DbSubnetGroup, "DB subnet group"),
        ]
    );
    for l in e.lines.iter().filter(|l| l.free) {
        assert_eq!((l.monthly_usd, l.unit), (Some(0.0), Unit::Month), "{l:?}");
    }
    // 13.14 + 2.30 + 0 + 7.59 + 0.64 + 3.65
    assert_eq!(e.total_usd_month, 27.32);

    let bucket = line(&e, "S3 bucket");
    assert!(bucket.minimum && !bucket.free);
    assert!(bucket.note.as_deref().unwrap().contains("per GB stored"));
    let root = line(&e, "8 GB gp3 root volume");
    assert!(
        root.note
            .as_deref()
            .unwrap()
            .contains("sets no root volume")
    );
    assert!(e.notes[0].contains("bundled with Pockitect, as of 2025-01"));
    assert!(e.notes[0].contains("transcribed by hand, not fetched"));

    insta::assert_json_snapshot!("example_blog_us_east_1", e);
}

#[test]
fn a_legacy_blueprint_with_a_large_database() {
    // m5.large on Ubuntu, db.m5.large PostgreSQL with 500 GB, no bucket, us-east-1.
    let bp = legacy("tests/blueprint_large_db.json");
    let e = estimate(&bp, PriceTable::bundled());
    use Resource::*;
    assert_eq!(
        charged(&e),
        vec![
            (
                RdsInstance,
                "db.m5.large postgres single-AZ, us-east-1",
                730.0,
                Some(0.178),
                Some(129.94),
                false
            ),
            (
                RdsInstance,
                "500 GB general-purpose SSD database storage, us-east-1",
                500.0,
                Some(0.115),
                Some(57.5),
                false
            ),
            (
                Ec2Instance,
                "m5.large Linux on-demand, us-east-1",
                730.0,
                Some(0.096),
                Some(70.08),
                false
            ),
            (
                Ec2Instance,
                "8 GB gp3 root volume, us-east-1",
                8.0,
                Some(0.08),
                Some(0.64),
                false
            ),
            (
                Ec2Instance,
                "public IPv4 address of the instance",
                730.0,
                Some(0.005),
                Some(3.65),
                false
            ),
        ]
    );
    assert!(free(&e).contains(&(DbSubnetGroup, "DB subnet group")));
    assert!(!e.lines.iter().any(|l| l.resource == S3Bucket));
    assert!(e.complete);
    assert_eq!(e.total_usd_month, 261.81);
    assert_eq!(e.project, "test-large-db");
}

#[test]
fn a_region_priced_by_derivation_is_flagged_derived() {
    // t3.small on Ubuntu in eu-west-1 with a bucket (legacy fixture).
    let bp = legacy("tests/blueprint_eu_region.json");
    let e = estimate(&bp, PriceTable::bundled());
    assert!(e.has_derived());
    let instance = line(&e, "t3.small Linux on-demand, eu-west-1");
    assert!(instance.derived);
    assert_eq!(instance.unit_price_usd, Some(0.0228));
    assert_eq!(instance.monthly_usd, Some(16.64));
    assert!(line(&e, "8 GB gp3 root volume").derived);
    assert!(line(&e, "S3 bucket").derived);
    // The IPv4 charge is one price everywhere: listed, not derived.
    assert!(!line(&e, "public IPv4").derived);
    let note = e
        .notes
        .iter()
        .find(|n| n.contains("marked derived"))
        .expect("a note explains the derivation");
    assert!(note.contains("× 1.096"), "{note}");
    assert!(note.contains("$0.0114/h in eu-west-1"), "{note}");
}

#[test]
fn a_region_without_any_known_price_says_which_neighbour_it_borrows() {
    let mut bp = Blueprint::from_json_str(EXAMPLE_BLOG).unwrap();
    bp.project.region = "ap-southeast-7".into();
    let e = estimate(&bp, PriceTable::bundled());
    assert!(e.complete);
    assert!(line(&e, "t3.micro Linux").derived);
    assert!(
        e.notes
            .iter()
            .any(|n| n.contains("priced like ap-southeast-1")
                && n.contains("no price of ap-southeast-7 known"))
    );
}

#[test]
fn what_cannot_be_priced_is_shown_and_makes_the_total_a_lower_bound() {
    let mut bp = Blueprint::new("Win", "us-east-1");
    bp.compute.image_id = Some("windows-2022".into());
    let e = estimate(&bp, PriceTable::bundled());
    let instance = line(&e, "t3.micro Windows on-demand, us-east-1");
    assert_eq!(
        (instance.unit_price_usd, instance.monthly_usd),
        (None, None)
    );
    assert!(
        instance
            .note
            .as_deref()
            .unwrap()
            .contains("no price for it")
    );
    assert!(!e.complete);
    // Windows' 30 GB root volume and the address are still priced.
    assert_eq!(line(&e, "30 GB gp3 root volume").monthly_usd, Some(2.4));
    assert_eq!(e.total_usd_month, 6.05);
    assert!(e.notes.iter().any(|n| n.contains("lower bound")));

    let mut bp = Blueprint::new("Odd", "us-east-1");
    bp.compute.instance_type = Some("x2iedn.32xlarge".into());
    let e = estimate(&bp, PriceTable::bundled());
    assert!(!e.complete);
    assert_eq!(line(&e, "x2iedn.32xlarge").monthly_usd, None);

    let e = estimate(
        &Blueprint::new("Far", "xx-nowhere-1"),
        PriceTable::bundled(),
    );
    assert!(!e.complete);
    assert!(e.notes.iter().any(|n| n.contains("no prices for region")));
}

#[test]
fn a_private_instance_has_no_address_and_no_nat_gateway() {
    let mut bp = Blueprint::new("Quiet", "us-east-1");
    bp.network.subnet_type = SubnetType::Private;
    let e = estimate(&bp, PriceTable::bundled());
    assert!(!e.lines.iter().any(|l| l.item.contains("IPv4")));
    let note = e.notes.iter().find(|n| n.contains("private")).unwrap();
    assert!(
        note.contains("creates no NAT gateway (one would add $32.85/month)"),
        "{note}"
    );
    assert_eq!(e.total_usd_month, 8.23);
}

#[test]
fn a_default_vpc_brings_its_own_gateway_and_a_public_database_pays_for_its_address() {
    let mut bp = Blueprint::from_json_str(EXAMPLE_BLOG).unwrap();
    bp.network.vpc_mode = VpcMode::Default;
    bp.data.db.as_mut().unwrap().publicly_accessible = Some(true);
    bp.data
        .db
        .as_mut()
        .unwrap()
        .extra
        .insert("multi_az".into(), true.into());
    let e = estimate(&bp, PriceTable::bundled());
    let free = free(&e);
    assert!(free.contains(&(Resource::Vpc, "the region's default VPC (adopted)")));
    assert!(!free.iter().any(|(r, _)| *r == Resource::InternetGateway));
    let db_ip = line(&e, "public IPv4 address of the database");
    assert_eq!(
        (db_ip.resource, db_ip.monthly_usd),
        (Resource::RdsInstance, Some(3.65))
    );
    assert_eq!(e.total_usd_month, 30.97);
    assert!(e.notes.iter().any(|n| n.contains("multi_az")));
}

#[test]
fn the_budget_check_reads_the_estimate() {
    let mut bp = Blueprint::from_json_str(EXAMPLE_BLOG).unwrap();
    let e = estimate(&bp, PriceTable::bundled());
    assert_eq!(check_budget(&e, bp.project.budget_usd_month), Ok(()));
    bp.project.budget_usd_month = Some(30.0);
    assert_eq!(check_budget(&e, bp.project.budget_usd_month), Ok(()));
    bp.project.budget_usd_month = Some(20.0);
    let refused = check_budget(&e, bp.project.budget_usd_month).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "the estimate of 'example-blog' is $27.32/month, over its budget of $20.00/month \
         (project.budget_usd_month): choose a smaller instance type or DB class, or raise the \
         budget, or deploy with --over-budget"
    );
}

#[test]
fn price_needs_are_exactly_what_the_estimate_looks_up() {
    use crate::{PriceKey, price_needs};
    let bp = Blueprint::from_json_str(EXAMPLE_BLOG).unwrap();
    let region = || "us-east-1".to_owned();
    let needs: Vec<PriceKey> = price_needs(&bp).into_iter().collect();
    assert_eq!(
        needs,
        vec![
            PriceKey::Ec2Linux {
                region: region(),
                instance_type: "t3.micro".into()
            },
            PriceKey::Rds {
                region: region(),
                engine: "postgres".into(),
                class: "db.t3.micro".into()
            },
            PriceKey::Ebs {
                region: region(),
                volume_type: "gp3".into()
            },
            PriceKey::RdsStorage {
                region: region(),
                storage_type: "gp2".into()
            },
            PriceKey::S3Standard { region: region() },
        ]
    );
}

#[test]
fn live_prices_win_and_the_estimate_says_which_lines_are_live() {
    use crate::{LivePrice, PriceKey};
    let bp = Blueprint::from_json_str(EXAMPLE_BLOG).unwrap();
    let live = |usd: f64, day: &str| LivePrice {
        usd,
        fetched: day.to_owned(),
    };
    let table = PriceTable::bundled()
        .with_live([
            (
                PriceKey::Ec2Linux {
                    region: "us-east-1".into(),
                    instance_type: "t3.micro".into(),
                },
                live(0.0111, "2026-12-03"),
            ),
            (
                PriceKey::Rds {
                    region: "us-east-1".into(),
                    engine: "postgres".into(),
                    class: "db.t3.micro".into(),
                },
                live(0.019, "2026-12-01"),
            ),
            // Not a price: left out, the table's figure stays.
            (
                PriceKey::Ebs {
                    region: "us-east-1".into(),
                    volume_type: "gp3".into(),
                },
                live(f64::NAN, "2026-12-03"),
            ),
        ])
        .with_note("a note of the daemon's");
    let e = estimate(&bp, &table);

    let t3 = line(&e, "t3.micro");
    assert!(t3.live);
    assert_eq!(t3.unit_price_usd, Some(0.0111));
    assert_eq!(t3.monthly_usd, Some(8.10));
    let db = line(&e, "db.t3.micro");
    assert!(db.live);
    assert_eq!(db.monthly_usd, Some(13.87));
    let root = line(&e, "8 GB gp3");
    assert!(!root.live);
    assert_eq!(root.unit_price_usd, Some(0.08));

    assert!(!e.from_bundled_table);
    assert_eq!(e.prices_as_of, "2026-12-01", "the oldest live price's day");
    assert!(
        e.prices_source.contains("AWS Price List API"),
        "{}",
        e.prices_source
    );
    assert!(e.notes.iter().any(|n| n == "a note of the daemon's"));
    assert!(
        e.notes
            .iter()
            .any(|n| n.starts_with("lines not marked live are priced from the table bundled")),
        "{:#?}",
        e.notes
    );
    // 27.32 with the bundled figures: +0.51 (t3.micro) +0.73 (db.t3.micro).
    assert_eq!(e.total_usd_month, 28.56);
}
