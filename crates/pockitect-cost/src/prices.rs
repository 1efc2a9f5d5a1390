//! The price table an estimate reads: list prices of one base region, and per region either
//! prices of its own or a factor that derives them from the base.
//!
//! The format is the one of `prices/aws-on-demand.json`, the table bundled in the crate. A table
//! built from live AWS Price List answers can take the same shape (with its prices under each
//! region's `prices`, and `from_bundled_table` false through [`PriceTable::from_json_str`]).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::Error;

/// The table bundled in the crate, with its `source` and `as_of` date.
const BUNDLED: &str = include_str!("../prices/aws-on-demand.json");

/// List prices by region, with where they come from and their date.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    source: String,
    as_of: String,
    currency: String,
    bundled: bool,
    base_region: String,
    public_ipv4_hourly: f64,
    base: Prices,
    regions: BTreeMap<String, Region>,
    /// Prices the AWS Price List API answered: they win over the table's own.
    live: BTreeMap<PriceKey, LivePrice>,
    /// What a reader of an estimate made with this table should know (why the API was not
    /// asked, say).
    notes: Vec<String>,
}

/// A unit price, whether it was derived by a regional factor rather than listed, and whether
/// it came from the AWS Price List API rather than the table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub usd: f64,
    pub derived: bool,
    pub live: bool,
}

/// One list price, as an estimate or a waste report asks for it and as the AWS Price List API
/// (GetProducts) is asked: the daemon fetches these and caches them by this key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PriceKey {
    /// An instance type, Linux on-demand, shared tenancy: USD per hour.
    Ec2Linux {
        region: String,
        instance_type: String,
    },
    /// An instance type, Windows (license included) on-demand: USD per hour.
    Ec2Windows {
        region: String,
        instance_type: String,
    },
    /// An RDS instance, single-AZ: USD per hour. `engine` is `postgres`, `mysql` or `mariadb`.
    Rds {
        region: String,
        engine: String,
        class: String,
    },
    /// EBS storage by volume type (`gp3`, `gp2`…): USD per GB-month.
    Ebs { region: String, volume_type: String },
    /// RDS single-AZ storage (`gp2`, `gp3`): USD per GB-month.
    RdsStorage {
        region: String,
        storage_type: String,
    },
    /// A NAT gateway: USD per hour (data processed is extra).
    NatGateway { region: String },
    /// S3 Standard storage, first tier: USD per GB-month.
    S3Standard { region: String },
}

impl PriceKey {
    pub fn region(&self) -> &str {
        match self {
            PriceKey::Ec2Linux { region, .. }
            | PriceKey::Ec2Windows { region, .. }
            | PriceKey::Rds { region, .. }
            | PriceKey::Ebs { region, .. }
            | PriceKey::RdsStorage { region, .. }
            | PriceKey::NatGateway { region }
            | PriceKey::S3Standard { region } => region,
        }
    }

    /// The price under this key in one region's (or the base's) prices.
    fn in_prices(&self, p: &Prices) -> Option<f64> {
        match self {
            PriceKey::Ec2Linux { instance_type, .. } => {
                p.ec2_linux_hourly.get(instance_type).copied()
            }
            PriceKey::Ec2Windows { instance_type, .. } => {
                p.ec2_windows_hourly.get(instance_type).copied()
            }
            PriceKey::Rds { engine, class, .. } => {
                p.rds_hourly.get(engine).and_then(|c| c.get(class)).copied()
            }
            PriceKey::Ebs { volume_type, .. } => p.ebs_gb_month.get(volume_type).copied(),
            PriceKey::RdsStorage { storage_type, .. } => {
                p.rds_storage_gb_month.get(storage_type).copied()
            }
            PriceKey::NatGateway { .. } => p.nat_gateway_hourly,
            PriceKey::S3Standard { .. } => p.s3_standard_gb_month,
        }
    }
}

impl std::fmt::Display for PriceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PriceKey::Ec2Linux {
                region,
                instance_type,
            } => write!(f, "{instance_type} Linux on-demand in {region}"),
            PriceKey::Ec2Windows {
                region,
                instance_type,
            } => write!(f, "{instance_type} Windows on-demand in {region}"),
            PriceKey::Rds {
                region,
                engine,
                class,
            } => write!(f, "{class} {engine} single-AZ in {region}"),
            PriceKey::Ebs {
                region,
                volume_type,
            } => write!(f, "EBS {volume_type} storage in {region}"),
            PriceKey::RdsStorage {
                region,
                storage_type,
            } => write!(f, "RDS {storage_type} storage in {region}"),
            PriceKey::NatGateway { region } => write!(f, "NAT gateway hours in {region}"),
            PriceKey::S3Standard { region } => write!(f, "S3 Standard storage in {region}"),
        }
    }
}

/// A price the AWS Price List API answered, and the day it was fetched (`YYYY-MM-DD`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LivePrice {
    pub usd: f64,
    pub fetched: String,
}

/// Where an estimate's lookups go: the table itself, or a recorder of what is asked
/// ([`crate::price_needs`]).
pub(crate) trait Lookup {
    fn table(&self) -> &PriceTable;
    fn price(&self, key: &PriceKey) -> Option<Price>;
}

impl Lookup for PriceTable {
    fn table(&self) -> &PriceTable {
        self
    }

    fn price(&self, key: &PriceKey) -> Option<Price> {
        PriceTable::price(self, key)
    }
}

/// A table that notes every key it is asked for.
pub(crate) struct Recording<'a> {
    table: &'a PriceTable,
    asked: RefCell<BTreeSet<PriceKey>>,
}

impl<'a> Recording<'a> {
    pub(crate) fn new(table: &'a PriceTable) -> Self {
        Self {
            table,
            asked: RefCell::default(),
        }
    }

    pub(crate) fn into_asked(self) -> BTreeSet<PriceKey> {
        self.asked.into_inner()
    }
}

impl Lookup for Recording<'_> {
    fn table(&self) -> &PriceTable {
        self.table
    }

    fn price(&self, key: &PriceKey) -> Option<Price> {
        self.asked.borrow_mut().insert(key.clone());
        self.table.price(key)
    }
}

/// The file format.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    source: String,
    as_of: String,
    currency: String,
    /// Free text: how the numbers were made.
    #[serde(default)]
    #[allow(dead_code)]
    method: String,
    base_region: String,
    public_ipv4_hourly: f64,
    base: Prices,
    regions: BTreeMap<String, RegionFile>,
}

/// Prices of one region (every part optional).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Prices {
    /// Instance type → USD per hour, Linux on-demand.
    ec2_linux_hourly: BTreeMap<String, f64>,
    /// Instance type → USD per hour, Windows (license included) on-demand.
    ec2_windows_hourly: BTreeMap<String, f64>,
    /// Engine (`postgres`, `mysql`, `mariadb`) → DB class → USD per hour, single-AZ.
    rds_hourly: BTreeMap<String, BTreeMap<String, f64>>,
    /// EBS volume type → USD per GB-month.
    ebs_gb_month: BTreeMap<String, f64>,
    /// RDS storage type → USD per GB-month, single-AZ.
    rds_storage_gb_month: BTreeMap<String, f64>,
    nat_gateway_hourly: Option<f64>,
    s3_standard_gb_month: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegionFile {
    /// The base prices apply unchanged (listed, not derived).
    #[serde(default)]
    same_as_base: bool,
    /// The region's t3.micro Linux price: its ratio to the base's is the region's factor.
    t3_micro_linux_hourly: Option<f64>,
    /// No price of the region is known: use this other region's factor.
    like: Option<String>,
    note: Option<String>,
    /// Prices listed for the region itself (never derived).
    #[serde(default)]
    prices: Prices,
}

/// A region, resolved: its own prices and how the rest is derived from the base.
#[derive(Debug, Clone, PartialEq)]
struct Region {
    prices: Prices,
    factor: Option<Factor>,
    note: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
struct Factor {
    value: f64,
    /// False only when the base prices are the region's list prices.
    derived: bool,
    /// Why this factor, in words.
    basis: String,
}

impl PriceTable {
    /// The table bundled in Pockitect (see its `source` and `as_of`): what estimates use when
    /// the AWS Price List API cannot be reached. Parsed once, on first use.
    pub fn bundled() -> &'static PriceTable {
        static TABLE: OnceLock<PriceTable> = OnceLock::new();
        TABLE.get_or_init(|| {
            // The bundled file is checked by this crate's tests (`bundled_table_loads…`), so it
            // parses; the fallback only keeps a broken build from panicking at run time: every
            // line is then shown unpriced, with the reason as the source.
            Self::parse(BUNDLED, true).unwrap_or_else(|e| PriceTable {
                source: format!("no prices: the bundled table is broken ({e})"),
                as_of: String::new(),
                currency: "USD".to_owned(),
                bundled: true,
                base_region: "us-east-1".to_owned(),
                public_ipv4_hourly: 0.005,
                base: Prices::default(),
                regions: BTreeMap::new(),
                live: BTreeMap::new(),
                notes: Vec::new(),
            })
        })
    }

    /// A table in the bundled file's format that does not come with Pockitect (a cache of live
    /// prices, say).
    pub fn from_json_str(text: &str) -> Result<PriceTable, Error> {
        Self::parse(text, false)
    }

    fn parse(text: &str, bundled: bool) -> Result<PriceTable, Error> {
        let file: TableFile = serde_json::from_str(text).map_err(Error::Json)?;
        let base_t3 = file.base.ec2_linux_hourly.get("t3.micro").copied();
        let mut problems = Vec::new();
        check_prices("base", &file.base, &mut problems);
        if !(file.public_ipv4_hourly.is_finite() && file.public_ipv4_hourly >= 0.0) {
            problems.push("public_ipv4_hourly is not a price".to_owned());
        }

        // Own factors first, then the regions that borrow one.
        let mut own: BTreeMap<&str, Factor> = BTreeMap::new();
        for (name, r) in &file.regions {
            check_prices(&format!("regions.{name}.prices"), &r.prices, &mut problems);
            let ways = usize::from(r.same_as_base)
                + usize::from(r.t3_micro_linux_hourly.is_some())
                + usize::from(r.like.is_some());
            if ways > 1 {
                problems.push(format!(
                    "regions.{name} sets more than one of same_as_base, t3_micro_linux_hourly \
                     and like"
                ));
            }
            if r.same_as_base || *name == file.base_region {
                own.insert(
                    name,
                    Factor {
                        value: 1.0,
                        derived: false,
                        basis: format!("the same list prices as {}", file.base_region),
                    },
                );
            } else if let Some(t3) = r.t3_micro_linux_hourly {
                match base_t3 {
                    Some(b) if t3.is_finite() && t3 > 0.0 => {
                        own.insert(
                            name,
                            Factor {
                                value: t3 / b,
                                derived: true,
                                basis: format!(
                                    "{} list prices × {:.3}, the ratio of t3.micro Linux \
                                     (${t3}/h in {name}, ${b}/h in {})",
                                    file.base_region,
                                    t3 / b,
                                    file.base_region
                                ),
                            },
                        );
                    }
                    Some(_) => problems.push(format!(
                        "regions.{name}.t3_micro_linux_hourly is not a price"
                    )),
                    None => problems.push(format!(
                        "regions.{name}.t3_micro_linux_hourly needs a base t3.micro price"
                    )),
                }
            }
        }
        let mut regions = BTreeMap::new();
        for (name, r) in &file.regions {
            let factor = match (&r.like, own.get(name.as_str())) {
                (_, Some(f)) => Some(f.clone()),
                (Some(like), None) => match own.get(like.as_str()) {
                    Some(f) => Some(Factor {
                        value: f.value,
                        derived: true,
                        basis: format!(
                            "no price of {name} is known: priced like {like}, {}",
                            f.basis
                        ),
                    }),
                    None => {
                        problems.push(format!(
                            "regions.{name}.like names '{like}', which has no factor of its own"
                        ));
                        None
                    }
                },
                (None, None) => None,
            };
            regions.insert(
                name.clone(),
                Region {
                    prices: r.prices.clone(),
                    factor,
                    note: r.note.clone(),
                },
            );
        }
        if !problems.is_empty() {
            return Err(Error::Table(problems.join("; ")));
        }
        Ok(PriceTable {
            source: file.source,
            as_of: file.as_of,
            currency: file.currency,
            bundled,
            base_region: file.base_region,
            public_ipv4_hourly: file.public_ipv4_hourly,
            base: file.base,
            regions,
            live: BTreeMap::new(),
            notes: Vec::new(),
        })
    }

    /// This table with prices the AWS Price List API answered laid over it: they win over the
    /// table's own. A price that is not a positive number is left out.
    pub fn with_live(&self, live: impl IntoIterator<Item = (PriceKey, LivePrice)>) -> PriceTable {
        let mut t = self.clone();
        t.live.extend(
            live.into_iter()
                .filter(|(_, p)| p.usd.is_finite() && p.usd > 0.0),
        );
        t
    }

    /// This table with a note every estimate made with it carries.
    pub fn with_note(mut self, note: impl Into<String>) -> PriceTable {
        self.notes.push(note.into());
        self
    }

    /// The notes given by [`PriceTable::with_note`].
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The live price under `key`, if the Price List API answered it.
    pub fn live(&self, key: &PriceKey) -> Option<&LivePrice> {
        self.live.get(key)
    }

    /// How many live prices are laid over the table.
    pub fn live_count(&self) -> usize {
        self.live.len()
    }

    /// Where the prices come from and their date, for a report that may use live ones:
    /// `(source, as_of, from_bundled_table)`.
    pub fn provenance(&self) -> (String, String, bool) {
        match self.live.values().map(|p| p.fetched.as_str()).min() {
            None => (self.source.clone(), self.as_of.clone(), self.bundled),
            Some(oldest) => (
                format!(
                    "the AWS Price List API (GetProducts) where it answered, else {}",
                    self.source
                ),
                oldest.to_owned(),
                false,
            ),
        }
    }

    /// The price under `key`: the live one, else the region's own, else the base price times
    /// the region's factor.
    pub fn price(&self, key: &PriceKey) -> Option<Price> {
        if let Some(p) = self.live.get(key) {
            return Some(Price {
                usd: p.usd,
                derived: false,
                live: true,
            });
        }
        self.lookup(key.region(), |p| key.in_prices(p))
    }

    /// Where the prices come from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The date of the prices (`YYYY-MM` or `YYYY-MM-DD`).
    pub fn as_of(&self) -> &str {
        &self.as_of
    }

    pub fn currency(&self) -> &str {
        &self.currency
    }

    /// True for the table bundled in Pockitect.
    pub fn is_bundled(&self) -> bool {
        self.bundled
    }

    /// The regions the table prices, sorted.
    pub fn regions(&self) -> impl Iterator<Item = &str> {
        self.regions.keys().map(String::as_str)
    }

    /// How prices in `region` are made, in words, when they are derived (with the table's note
    /// on the region, if any); `None` for listed prices or an unknown region.
    pub fn derivation(&self, region: &str) -> Option<String> {
        let r = self.regions.get(region)?;
        let f = r.factor.as_ref().filter(|f| f.derived)?;
        Some(match &r.note {
            Some(note) => format!("{} ({note})", f.basis),
            None => f.basis.clone(),
        })
    }

    /// Linux on-demand, USD per hour.
    pub fn ec2_linux_hourly(&self, region: &str, instance_type: &str) -> Option<Price> {
        self.price(&PriceKey::Ec2Linux {
            region: region.to_owned(),
            instance_type: instance_type.to_owned(),
        })
    }

    /// Windows on-demand (license included), USD per hour. The bundled table has none.
    pub fn ec2_windows_hourly(&self, region: &str, instance_type: &str) -> Option<Price> {
        self.price(&PriceKey::Ec2Windows {
            region: region.to_owned(),
            instance_type: instance_type.to_owned(),
        })
    }

    /// RDS single-AZ instance, USD per hour; `engine` is `postgres`, `mysql` or `mariadb`.
    pub fn rds_hourly(&self, region: &str, engine: &str, class: &str) -> Option<Price> {
        self.price(&PriceKey::Rds {
            region: region.to_owned(),
            engine: engine.to_owned(),
            class: class.to_owned(),
        })
    }

    /// EBS volume storage (`gp3`, `gp2`, `io1`, `io2`, `st1`, `sc1`, `standard`), USD per
    /// GB-month: storage only (provisioned IOPS and throughput are billed on top).
    pub fn ebs_gb_month(&self, region: &str, volume_type: &str) -> Option<Price> {
        self.price(&PriceKey::Ebs {
            region: region.to_owned(),
            volume_type: volume_type.to_owned(),
        })
    }

    /// RDS single-AZ storage (`gp2`, `gp3`), USD per GB-month.
    pub fn rds_storage_gb_month(&self, region: &str, storage_type: &str) -> Option<Price> {
        self.price(&PriceKey::RdsStorage {
            region: region.to_owned(),
            storage_type: storage_type.to_owned(),
        })
    }

    /// A NAT gateway, USD per hour (data processed is extra).
    pub fn nat_gateway_hourly(&self, region: &str) -> Option<Price> {
        self.price(&PriceKey::NatGateway {
            region: region.to_owned(),
        })
    }

    /// S3 Standard storage (first tier), USD per GB-month.
    pub fn s3_standard_gb_month(&self, region: &str) -> Option<Price> {
        self.price(&PriceKey::S3Standard {
            region: region.to_owned(),
        })
    }

    /// A public IPv4 address, USD per hour: one price in every region (since February 2024).
    pub fn public_ipv4_hourly(&self) -> Price {
        Price {
            usd: self.public_ipv4_hourly,
            derived: false,
            live: false,
        }
    }

    /// The region's own price, else the base price times the region's factor.
    fn lookup(&self, region: &str, get: impl Fn(&Prices) -> Option<f64>) -> Option<Price> {
        let r = self.regions.get(region)?;
        if let Some(usd) = get(&r.prices) {
            return Some(Price {
                usd,
                derived: false,
                live: false,
            });
        }
        let f = r.factor.as_ref()?;
        let base = get(&self.base)?;
        Some(if f.derived {
            Price {
                // Four decimals, as AWS lists hourly prices; derived digits beyond are noise.
                usd: (base * f.value * 10_000.0).round() / 10_000.0,
                derived: true,
                live: false,
            }
        } else {
            Price {
                usd: base,
                derived: false,
                live: false,
            }
        })
    }
}

/// Every price in `p` must be a finite positive number.
fn check_prices(path: &str, p: &Prices, problems: &mut Vec<String>) {
    let mut check = |what: String, v: f64| {
        if !(v.is_finite() && v > 0.0) {
            problems.push(format!("{path}.{what}: {v} is not a price"));
        }
    };
    for (k, v) in &p.ec2_linux_hourly {
        check(format!("ec2_linux_hourly.{k}"), *v);
    }
    for (k, v) in &p.ec2_windows_hourly {
        check(format!("ec2_windows_hourly.{k}"), *v);
    }
    for (engine, classes) in &p.rds_hourly {
        for (k, v) in classes {
            check(format!("rds_hourly.{engine}.{k}"), *v);
        }
    }
    for (k, v) in &p.ebs_gb_month {
        check(format!("ebs_gb_month.{k}"), *v);
    }
    for (k, v) in &p.rds_storage_gb_month {
        check(format!("rds_storage_gb_month.{k}"), *v);
    }
    if let Some(v) = p.nat_gateway_hourly {
        check("nat_gateway_hourly".to_owned(), v);
    }
    if let Some(v) = p.s3_standard_gb_month {
        check("s3_standard_gb_month".to_owned(), v);
    }
}

#[cfg(test)]
mod tests {
    use pockitect_blueprint::validate::BUILTIN_REGIONS;
    use pockitect_blueprint::{DbEngine, WIZARD_DB_CLASSES, WIZARD_INSTANCE_TYPES};

    use super::*;

    #[test]
    fn bundled_table_loads_and_says_where_its_numbers_come_from() {
        let t = PriceTable::parse(BUNDLED, true).expect("the bundled table parses");
        assert!(t.is_bundled());
        assert!(t.source().contains("transcribed by hand, not fetched"));
        let as_of = t.as_of();
        assert!(
            as_of.len() >= 7 && as_of.as_bytes()[4] == b'-' && as_of[..4].parse::<u16>().is_ok(),
            "{as_of}"
        );
        assert_eq!(t.currency(), "USD");
        assert_eq!(PriceTable::bundled(), &t);
    }

    #[test]
    fn bundled_table_prices_exactly_the_built_in_regions() {
        let t = PriceTable::bundled();
        let mut builtin: Vec<&str> = BUILTIN_REGIONS.to_vec();
        builtin.sort_unstable();
        assert_eq!(t.regions().collect::<Vec<_>>(), builtin);
    }

    /// Fails when the wizard gains an instance type or DB class the table lacks, or the region
    /// list a region: add its prices to `prices/aws-on-demand.json`.
    #[test]
    fn bundled_table_covers_every_wizard_choice_in_every_region() {
        let t = PriceTable::bundled();
        let mut missing = Vec::new();
        for region in BUILTIN_REGIONS {
            for ty in WIZARD_INSTANCE_TYPES {
                if t.ec2_linux_hourly(region, ty).is_none() {
                    missing.push(format!("{region} {ty}"));
                }
            }
            for engine in DbEngine::KNOWN {
                for class in WIZARD_DB_CLASSES {
                    if t.rds_hourly(region, engine, class).is_none() {
                        missing.push(format!("{region} {engine} {class}"));
                    }
                }
            }
            for (what, p) in [
                ("ebs gp3", t.ebs_gb_month(region, "gp3")),
                ("ebs gp2", t.ebs_gb_month(region, "gp2")),
                ("ebs io1", t.ebs_gb_month(region, "io1")),
                ("ebs io2", t.ebs_gb_month(region, "io2")),
                ("ebs st1", t.ebs_gb_month(region, "st1")),
                ("ebs sc1", t.ebs_gb_month(region, "sc1")),
                ("ebs standard", t.ebs_gb_month(region, "standard")),
                ("rds gp2", t.rds_storage_gb_month(region, "gp2")),
                ("rds gp3", t.rds_storage_gb_month(region, "gp3")),
                ("nat", t.nat_gateway_hourly(region)),
                ("s3", t.s3_standard_gb_month(region)),
            ] {
                if p.is_none() {
                    missing.push(format!("{region} {what}"));
                }
            }
        }
        assert!(missing.is_empty(), "no price for: {}", missing.join(", "));
    }

    #[test]
    fn listed_regions_are_not_derived_and_others_are() {
        let t = PriceTable::bundled();
        for region in ["us-east-1", "us-east-2", "us-west-2"] {
            assert_eq!(
                t.ec2_linux_hourly(region, "t3.micro"),
                Some(Price {
                    usd: 0.0104,
                    derived: false,
                    live: false
                })
            );
            assert_eq!(t.derivation(region), None);
        }
        // The anchor comes back exactly; the rest is scaled and flagged.
        assert_eq!(
            t.ec2_linux_hourly("eu-west-1", "t3.micro"),
            Some(Price {
                usd: 0.0114,
                derived: true,
                live: false
            })
        );
        assert_eq!(
            t.ec2_linux_hourly("eu-west-1", "t3.small"),
            Some(Price {
                usd: 0.0228,
                derived: true,
                live: false
            })
        );
        assert!(t.derivation("eu-west-1").unwrap().contains("× 1.096"));
        // A region with no price of its own borrows a neighbour's factor and says so.
        assert_eq!(
            t.ec2_linux_hourly("ap-southeast-7", "t3.micro"),
            t.ec2_linux_hourly("ap-southeast-1", "t3.micro")
        );
        let why = t.derivation("ap-southeast-7").unwrap();
        assert!(why.contains("priced like ap-southeast-1"), "{why}");
        assert!(why.contains("no price of ap-southeast-7 known"), "{why}");
        // One IPv4 price everywhere.
        assert!(!t.public_ipv4_hourly().derived);
        assert_eq!(t.public_ipv4_hourly().usd, 0.005);
        assert_eq!(t.ec2_linux_hourly("xx-nowhere-1", "t3.micro"), None);
    }

    #[test]
    fn a_region_s_own_prices_win_over_the_factor() {
        let t = PriceTable::from_json_str(
            r#"{"source": "test", "as_of": "2026-01-01", "currency": "USD",
                "base_region": "us-east-1", "public_ipv4_hourly": 0.005,
                "base": {"ec2_linux_hourly": {"t3.micro": 0.01, "t3.small": 0.02}},
                "regions": {"us-east-1": {"same_as_base": true},
                            "eu-west-1": {"t3_micro_linux_hourly": 0.011,
                                          "prices": {"ec2_linux_hourly": {"t3.small": 0.0228}}}}}"#,
        )
        .unwrap();
        assert!(!t.is_bundled());
        assert_eq!(
            t.ec2_linux_hourly("eu-west-1", "t3.small"),
            Some(Price {
                usd: 0.0228,
                derived: false,
                live: false
            })
        );
        assert_eq!(
            t.ec2_linux_hourly("eu-west-1", "t3.micro"),
            Some(Price {
                usd: 0.011,
                derived: true,
                live: false
            })
        );
    }

    #[test]
    fn a_broken_table_names_every_problem() {
        let err = PriceTable::from_json_str(
            r#"{"source": "test", "as_of": "2026-01", "currency": "USD",
                "base_region": "us-east-1", "public_ipv4_hourly": 0.005,
                "base": {"ec2_linux_hourly": {"t3.micro": -1}},
                "regions": {"eu-west-1": {"like": "eu-west-9"},
                            "eu-west-2": {"same_as_base": true, "like": "eu-west-1"}}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("base.ec2_linux_hourly.t3.micro: -1 is not a price"),
            "{err}"
        );
        assert!(err.contains("'eu-west-9', which has no factor"), "{err}");
        assert!(
            err.contains("regions.eu-west-2 sets more than one"),
            "{err}"
        );
        assert!(
            PriceTable::from_json_str(r#"{"source": "x", "surprise": 1}"#)
                .unwrap_err()
                .to_string()
                .contains("read")
        );
    }
}
