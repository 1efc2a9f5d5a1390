//! The monthly estimate of a blueprint: one line per resource the deploy creates or uses, in
//! the order of the deploy graph (`Resource::ALL`), charged lines priced from the table and free
//! ones listed at $0, so a user sees what is paid for and what is not.

use pockitect_blueprint::{
    Blueprint, Bucket, CertificateMode, Database, ImageRef, SubnetType, VpcMode,
};
use pockitect_proto::cost::{Estimate, EstimateLine, HOURS_PER_MONTH, Unit};
use pockitect_proto::deploy::Resource;

use std::collections::BTreeSet;

use crate::prices::{Lookup, Price, PriceKey, PriceTable, Recording};

/// What the deploy launches when `compute.instance_type` is blank.
const DEFAULT_INSTANCE_TYPE: &str = "t3.micro";
/// What the deploy creates when `data.db.instance_class` is blank.
const DEFAULT_DB_CLASS: &str = "db.t3.micro";
/// Root volume of the Amazon Linux, Ubuntu and Debian images (the deploy never goes below it).
const DEFAULT_ROOT_GB: f64 = 8.0;
/// Root volume of the Windows Server 2022 images.
const WINDOWS_ROOT_GB: f64 = 30.0;
/// RDS storage is priced as general-purpose SSD; gp2 and gp3 cost the same in the table.
const RDS_STORAGE_TYPE: &str = "gp2";

/// Estimates what `bp` costs a month at `prices`. Pure: no I/O, never fails. What cannot be
/// priced (a type the table lacks, a Windows image without Windows prices, a region the table
/// does not know) is a line with a null price and a note, and the estimate is marked
/// incomplete; its total is then a lower bound.
pub fn estimate(bp: &Blueprint, prices: &PriceTable) -> Estimate {
    estimate_with(bp, prices)
}

/// Every price [`estimate`] looks up for `bp`: what the daemon asks the AWS Price List API for
/// before estimating (found by running the estimate itself, so the two cannot disagree).
pub fn price_needs(bp: &Blueprint) -> BTreeSet<PriceKey> {
    let recording = Recording::new(PriceTable::bundled());
    let _ = estimate_with(bp, &recording);
    recording.into_asked()
}

fn estimate_with(bp: &Blueprint, prices: &impl Lookup) -> Estimate {
    let mut b = Builder {
        region: bp.region(),
        prices,
        lines: Vec::new(),
        notes: Vec::new(),
        live_days: BTreeSet::new(),
    };
    let mode = &bp.network.vpc_mode;
    let builds_network = matches!(mode, VpcMode::New | VpcMode::Shared);
    for r in Resource::ALL {
        match r {
            Resource::Vpc => b.free(
                r,
                match mode {
                    VpcMode::Default => "the region's default VPC (adopted)",
                    VpcMode::Existing => "the existing VPC (adopted)",
                    VpcMode::Shared => "the shared Pockitect VPC of the environment",
                    VpcMode::New | VpcMode::Other(_) => "VPC",
                },
            ),
            Resource::InternetGateway if builds_network => b.free(r, "internet gateway"),
            Resource::RouteTable if builds_network => b.free(r, "route table"),
            Resource::Subnet => b.free(r, "subnet"),
            Resource::SecondarySubnet if bp.has_db() => b.free(
                r,
                "second subnet in another availability zone (for the database)",
            ),
            Resource::SecurityGroup => b.free(r, "security group"),
            Resource::KeyPair if bp.key_pair_enabled() => b.free(r, "SSH key pair"),
            Resource::IamRole if bp.iam_enabled() => b.free(r, "IAM role"),
            Resource::InstanceProfile if bp.iam_enabled() => b.free(r, "instance profile"),
            Resource::DbSubnetGroup if bp.has_db() => b.free(r, "DB subnet group"),
            Resource::RdsInstance => {
                if let Some(db) = bp.db() {
                    b.database(db);
                }
            }
            Resource::S3Bucket => {
                if let Some(bucket) = bp.bucket() {
                    b.bucket(bucket);
                }
            }
            Resource::Ec2Instance => b.instance(bp),
            Resource::Certificate
                if bp.certificate_enabled()
                    && bp.security.certificate.mode == CertificateMode::Request =>
            {
                b.free(r, "ACM public certificate");
            }
            _ => {}
        }
    }
    b.finish(bp)
}

struct Builder<'a, L> {
    region: &'a str,
    prices: &'a L,
    lines: Vec<EstimateLine>,
    notes: Vec<String>,
    /// The days the live prices used were fetched.
    live_days: BTreeSet<String>,
}

impl<L: Lookup> Builder<'_, L> {
    fn free(&mut self, resource: Resource, item: &str) {
        self.lines.push(EstimateLine {
            resource,
            item: item.to_owned(),
            quantity: 1.0,
            unit: Unit::Month,
            unit_price_usd: Some(0.0),
            monthly_usd: Some(0.0),
            free: true,
            minimum: false,
            derived: false,
            live: false,
            note: None,
        });
    }

    /// A line of `quantity` units at `price`; without a price it says why and counts nothing.
    fn charged(
        &mut self,
        resource: Resource,
        item: String,
        (quantity, unit): (f64, Unit),
        price: Option<Price>,
        mut notes: Vec<String>,
    ) {
        if price.is_none() {
            notes.push(format!(
                "no price for it in {}: not counted in the total",
                self.table_name()
            ));
        }
        self.lines.push(EstimateLine {
            resource,
            item,
            quantity,
            unit,
            unit_price_usd: price.map(|p| p.usd),
            monthly_usd: price.map(|p| cents(quantity * p.usd)),
            free: false,
            minimum: false,
            derived: price.is_some_and(|p| p.derived),
            live: price.is_some_and(|p| p.live),
            note: (!notes.is_empty()).then(|| notes.join("; ")),
        });
    }

    fn table_name(&self) -> String {
        let t = self.prices.table();
        if t.is_bundled() {
            format!("the bundled price table (as of {})", t.as_of())
        } else {
            format!("the price table (as of {})", t.as_of())
        }
    }

    /// The price under `key`, noting the day of a live one.
    fn price(&mut self, key: PriceKey) -> Option<Price> {
        let price = self.prices.price(&key);
        if let Some(live) = price
            .filter(|p| p.live)
            .and_then(|_| self.prices.table().live(&key))
        {
            self.live_days.insert(live.fetched.clone());
        }
        price
    }

    fn hours(&self) -> (f64, Unit) {
        (HOURS_PER_MONTH, Unit::Hour)
    }

    fn instance(&mut self, bp: &Blueprint) {
        let r = Resource::Ec2Instance;
        let region = self.region;
        let mut notes = Vec::new();
        let ty = match bp.compute.instance_type.as_deref().map(str::trim) {
            Some(t) if !t.is_empty() => t,
            _ => {
                notes.push(format!(
                    "compute.instance_type is not set: the deploy launches a \
                     {DEFAULT_INSTANCE_TYPE}"
                ));
                DEFAULT_INSTANCE_TYPE
            }
        };
        let image = bp.compute.image();
        let windows = matches!(image, ImageRef::Alias("windows-2022"));
        let (os, price) = if windows {
            let key = PriceKey::Ec2Windows {
                region: region.to_owned(),
                instance_type: ty.to_owned(),
            };
            ("Windows", self.price(key))
        } else {
            let key = PriceKey::Ec2Linux {
                region: region.to_owned(),
                instance_type: ty.to_owned(),
            };
            ("Linux", self.price(key))
        };
        if let ImageRef::AmiId(ami) = image {
            notes.push(format!(
                "'{ami}' is priced as a Linux image: a Windows or marketplace image costs more"
            ));
        }
        let hours = self.hours();
        self.charged(
            r,
            format!("{ty} {os} on-demand, {region}"),
            hours,
            price,
            notes,
        );

        let (gb, why) = match image {
            _ if windows => (
                WINDOWS_ROOT_GB,
                "the size of the Windows Server image's root volume",
            ),
            ImageRef::Alias(_) => (
                DEFAULT_ROOT_GB,
                "the blueprint sets no root volume: the deploy gives the image's own size, 8 GB \
                 for the Amazon Linux, Ubuntu and Debian images",
            ),
            ImageRef::AmiId(_) | ImageRef::Unknown(_) => (
                DEFAULT_ROOT_GB,
                "the blueprint sets no root volume and the AMI's size is known only at deploy: \
                 assumed the 8 GB minimum the deploy gives",
            ),
        };
        let price = self.price(PriceKey::Ebs {
            region: region.to_owned(),
            volume_type: "gp3".to_owned(),
        });
        self.charged(
            r,
            format!("{gb} GB gp3 root volume, {region}"),
            (gb, Unit::GbMonth),
            price,
            vec![why.to_owned()],
        );

        let shared = bp.network.vpc_mode == VpcMode::Shared;
        if shared || bp.network.subnet_type != SubnetType::Private {
            let mut notes = Vec::new();
            if bp.network.vpc_mode == VpcMode::Existing {
                notes.push(
                    "assumed: the deploy prefers a subnet of the existing VPC that gives public \
                     addresses"
                        .to_owned(),
                );
            }
            let hours = self.hours();
            let ipv4 = self.prices.table().public_ipv4_hourly();
            self.charged(
                r,
                "public IPv4 address of the instance".to_owned(),
                hours,
                Some(ipv4),
                notes,
            );
        } else {
            let nat = self
                .price(PriceKey::NatGateway {
                    region: region.to_owned(),
                })
                .map(|p| format!(" (one would add ${:.2}/month)", p.usd * HOURS_PER_MONTH))
                .unwrap_or_default();
            self.notes.push(format!(
                "the instance's subnet is private: it has no public IPv4 address to pay for, and \
                 Pockitect creates no NAT gateway{nat}"
            ));
        }
    }

    fn database(&mut self, db: &Database) {
        let r = Resource::RdsInstance;
        let region = self.region;
        let engine = db.engine.clone().unwrap_or_default();
        let mut notes = Vec::new();
        let class = match db.instance_class.as_deref().map(str::trim) {
            Some(c) if !c.is_empty() => c,
            _ => {
                notes.push(format!(
                    "data.db.instance_class is not set: the deploy creates a {DEFAULT_DB_CLASS}"
                ));
                DEFAULT_DB_CLASS
            }
        };
        let price = engine
            .is_known()
            .then(|| {
                self.price(PriceKey::Rds {
                    region: region.to_owned(),
                    engine: engine.as_str().to_owned(),
                    class: class.to_owned(),
                })
            })
            .flatten();
        let hours = self.hours();
        self.charged(
            r,
            format!("{class} {engine} single-AZ, {region}"),
            hours,
            price,
            notes,
        );

        // Validation keeps storage within RDS's range; a negative number never prices below 0.
        let gb = db.allocated_storage_gb().max(0) as f64;
        let price = self.price(PriceKey::RdsStorage {
            region: region.to_owned(),
            storage_type: RDS_STORAGE_TYPE.to_owned(),
        });
        self.charged(
            r,
            format!("{gb} GB general-purpose SSD database storage, {region}"),
            (gb, Unit::GbMonth),
            price,
            vec![
                "automated backups up to the database's size are included at no charge".to_owned(),
            ],
        );

        if db.extra.get("multi_az").and_then(|v| v.as_bool()) == Some(true) {
            self.notes.push(
                "data.db.multi_az is not a setting Pockitect applies: the database is deployed \
                 single-AZ and priced so (Multi-AZ would double its instance and storage lines)"
                    .to_owned(),
            );
        }
        if db.is_public() {
            let hours = self.hours();
            let ipv4 = self.prices.table().public_ipv4_hourly();
            self.charged(
                r,
                "public IPv4 address of the database (publicly_accessible)".to_owned(),
                hours,
                Some(ipv4),
                vec![],
            );
        }
    }

    fn bucket(&mut self, bucket: &Bucket) {
        let region = self.region;
        let name = bucket.name.as_deref().map(str::trim).unwrap_or_default();
        let price = self.price(PriceKey::S3Standard {
            region: region.to_owned(),
        });
        let per_gb = price
            .map(|p| format!(" (${}/GB-month)", p.usd))
            .unwrap_or_default();
        self.lines.push(EstimateLine {
            resource: Resource::S3Bucket,
            item: format!("S3 bucket '{name}', Standard storage, {region}"),
            quantity: 0.0,
            unit: Unit::GbMonth,
            unit_price_usd: price.map(|p| p.usd),
            monthly_usd: Some(0.0),
            free: false,
            minimum: true,
            derived: price.is_some_and(|p| p.derived),
            live: price.is_some_and(|p| p.live),
            note: Some(format!(
                "billed per GB stored{per_gb} and per request: an empty bucket costs nothing, \
                 so this is at least $0.00"
            )),
        });
    }

    fn finish(mut self, bp: &Blueprint) -> Estimate {
        let complete = self.lines.iter().all(|l| l.monthly_usd.is_some());
        let total = cents(self.lines.iter().filter_map(|l| l.monthly_usd).sum());
        let prices = self.prices.table();
        let region = self.region;
        let charged = |l: &&EstimateLine| !l.free && l.unit_price_usd.is_some();
        let from_table = self
            .lines
            .iter()
            .filter(charged)
            .filter(|l| !l.live)
            .count();
        // The oldest day a live price used was fetched: the date the estimate can claim.
        let live_as_of = self.live_days.iter().next().cloned();

        let mut notes = prices.notes().to_vec();
        let table = format!(
            "the table bundled with Pockitect, as of {} ({})",
            prices.as_of(),
            prices.source()
        );
        let (prices_source, prices_as_of) = match &live_as_of {
            Some(day) => {
                if from_table > 0 {
                    notes.push(format!(
                        "lines not marked live are priced from {table}: the AWS Price List API \
                         did not answer for them"
                    ));
                }
                (
                    "the AWS Price List API (GetProducts, list prices)".to_owned(),
                    day.clone(),
                )
            }
            None => {
                if prices.is_bundled() {
                    notes.push(format!("prices from {table}: not a live price query"));
                }
                (prices.source().to_owned(), prices.as_of().to_owned())
            }
        };
        if !prices.regions().any(|r| r == region) {
            notes.push(format!(
                "the price table has no prices for region '{region}': only the free items and \
                 the public IPv4 address are priced"
            ));
        } else if self.lines.iter().any(|l| l.derived)
            && let Some(how) = prices.derivation(region)
        {
            notes.push(format!(
                "prices in '{region}' marked derived are estimates, not list prices: {how}"
            ));
        }
        notes.append(&mut self.notes);
        if !complete {
            notes.push(
                "some lines have no price (see their notes): the total is a lower bound".to_owned(),
            );
        }
        notes.push(format!(
            "a month is {HOURS_PER_MONTH} hours; a stopped instance or database pays no hourly \
             charge, but its storage is still billed"
        ));
        notes.push(
            "not included: data transfer out of AWS, S3 requests, snapshots, taxes; Free Tier \
             credits are not subtracted"
                .to_owned(),
        );

        Estimate {
            project: bp.slug().into_owned(),
            region: region.to_owned(),
            currency: prices.currency().to_owned(),
            lines: self.lines,
            total_usd_month: total,
            complete,
            from_bundled_table: live_as_of.is_none() && prices.is_bundled(),
            prices_source,
            prices_as_of,
            notes,
        }
    }
}

pub(crate) use pockitect_proto::cost::cents;

#[cfg(test)]
mod tests;
