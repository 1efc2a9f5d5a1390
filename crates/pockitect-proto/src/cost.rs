//! What things cost, as the daemon sends it and clients show it: a project's monthly estimate
//! ([`Estimate`]: `pockitect plan`, the deploy confirmation, the TUI project detail) and what the
//! scanned estate pays for while idle ([`WasteReport`]: `pockitect waste`). `pockitect_cost`
//! computes both from a blueprint or a scan and a price table; this module only carries them.
//!
//! Money is in US dollars as `f64`. Each line's (item's) `monthly_usd` is rounded to the cent,
//! and `total_usd_month` is the sum of the rounded lines, so a table of the lines adds up to its
//! total. A month is [`HOURS_PER_MONTH`] hours, as AWS's own calculator counts it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::deploy::Resource;
use crate::{ResourceType, TerminateTarget};

/// `usd` rounded to the cent: how every figure of an estimate, a waste report and a spend
/// report is kept, so that a table of lines adds up to its total.
pub fn cents(usd: f64) -> f64 {
    (usd * 100.0).round() / 100.0
}

/// Hours in the month an estimate prices (AWS's convention: 365 × 24 / 12).
pub const HOURS_PER_MONTH: f64 = 730.0;

/// The estimate of one project in one region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The project slug.
    pub project: String,
    pub region: String,
    /// Always `USD` for AWS list prices.
    pub currency: String,
    /// One line per thing that is (or could be) charged, free items included.
    pub lines: Vec<EstimateLine>,
    /// Sum of the priced lines' `monthly_usd` (unpriced lines count as nothing: see
    /// `complete`).
    pub total_usd_month: f64,
    /// False when some line could not be priced (`monthly_usd` null): the total is then a
    /// lower bound.
    pub complete: bool,
    /// Where the prices come from (the AWS Price List API, or the bundled table's source).
    pub prices_source: String,
    /// The date of the prices (`YYYY-MM-DD` or `YYYY-MM`).
    pub prices_as_of: String,
    /// True when every price comes from the table bundled in Pockitect, none from a live
    /// query (lines priced live say so in their `live`).
    pub from_bundled_table: bool,
    /// What a reader needs to trust the numbers: assumptions, derivations, gaps.
    pub notes: Vec<String>,
}

impl Estimate {
    /// True when some line's price was derived (a regional factor) rather than listed.
    pub fn has_derived(&self) -> bool {
        self.lines.iter().any(|l| l.derived)
    }

    /// Where the prices come from, in a few words for a reader of the lines.
    pub fn origin(&self) -> &'static str {
        if self.from_bundled_table {
            "the price table bundled with Pockitect"
        } else {
            "live list prices (lines marked live)"
        }
    }
}

impl EstimateLine {
    /// How a reader should take the line's figure: `at least`, `~derived` (a regional factor,
    /// not a listed price), `live` (the AWS Price List API priced it; the other lines are then
    /// the bundled table's), space-separated; empty for a plain listed price.
    pub fn marks(&self) -> String {
        [
            (self.minimum, "at least"),
            (self.derived, "~derived"),
            (self.live, "live"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, mark)| *mark)
        .collect::<Vec<_>>()
        .join(" ")
    }
}

/// One charged (or free) item of an estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EstimateLine {
    /// The resource of the project's graph the charge belongs to (a root volume and a public
    /// IPv4 address belong to `ec2_instance`).
    pub resource: Resource,
    /// What is priced: `t3.micro Linux on-demand, us-east-1`.
    pub item: String,
    /// How many units a month (730 hours, 20 GB-months, 1 month).
    pub quantity: f64,
    pub unit: Unit,
    /// Price of one unit; null when the price is unknown.
    pub unit_price_usd: Option<f64>,
    /// `quantity × unit_price_usd`, rounded to the cent; null when the price is unknown.
    pub monthly_usd: Option<f64>,
    /// Nothing is charged for it.
    pub free: bool,
    /// The real charge depends on use and is at least this (S3: storage and requests).
    pub minimum: bool,
    /// The unit price was derived (a regional factor over us-east-1), not listed.
    pub derived: bool,
    /// The unit price is what the AWS Price List API answered (on the date in the estimate's
    /// `prices_as_of`), not a figure of the bundled table.
    #[serde(default)]
    pub live: bool,
    /// Why the line is priced the way it is, when that is not obvious.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The unit a line is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// An hour of running time.
    Hour,
    /// A gigabyte stored for a month.
    GbMonth,
    /// A whole month (free items, flat fees).
    Month,
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unit::Hour => "hour",
            Unit::GbMonth => "GB-month",
            Unit::Month => "month",
        })
    }
}

/// What the scanned estate pays for while idle: stopped instances' volumes, unattached volumes,
/// unassociated Elastic IPs, NAT gateways nothing uses, stopped databases.
///
/// `items` is what a cleanup deletes: serialised alone it is a JSON array of objects with `id`,
/// `type` and `region`, which `pockitect terminate --from-json -` reads (the other fields are
/// ignored there). Resources tagged `pockitect:protect=true` are never in `items`: terminate
/// would refuse them, so they are listed apart in `protected` and left out of the total.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WasteReport {
    /// What is paid for and idle, by kind (in [`WasteKind`]'s order), then account, region
    /// and id.
    pub items: Vec<WasteItem>,
    /// Idle too, but tagged `pockitect:protect=true`: shown, never offered for cleanup.
    #[serde(default)]
    pub protected: Vec<WasteItem>,
    /// Sum of the priced items' `monthly_usd` (not `protected`; unpriced items count as
    /// nothing: see `complete`).
    pub total_usd_month: f64,
    /// False when some item could not be priced (`monthly_usd` null): the total is then a
    /// lower bound.
    pub complete: bool,
    /// Always `USD` for AWS list prices.
    pub currency: String,
    /// Where the prices come from (the AWS Price List API, or the bundled table's source).
    pub prices_source: String,
    /// The date of the prices (`YYYY-MM-DD` or `YYYY-MM`).
    pub prices_as_of: String,
    /// True when every price comes from the table bundled in Pockitect, none from a live
    /// query (lines priced live say so in their `live`).
    pub from_bundled_table: bool,
    /// What a reader needs to trust the list: what the scan cannot see, derivations, gaps.
    pub notes: Vec<String>,
}

impl WasteReport {
    /// Keeps only what is in `region` and tagged for `project` (each when given), with the
    /// total and completeness of what is left.
    pub fn narrow(&mut self, region: Option<&str>, project: Option<&str>) {
        if region.is_none() && project.is_none() {
            return;
        }
        let keep = |i: &WasteItem| {
            region.is_none_or(|r| i.region == r)
                && project.is_none_or(|p| i.project.as_deref() == Some(p))
        };
        self.items.retain(keep);
        self.protected.retain(keep);
        self.total_usd_month = cents(self.items.iter().filter_map(|i| i.monthly_usd).sum());
        self.complete = self.items.iter().all(|i| i.monthly_usd.is_some());
    }
}

/// One resource paid for and idle. Its `id`, `type` and `region` address it the way the
/// scanner reported it, so a list of items reads as a list of [`TerminateTarget`]s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WasteItem {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ResourceType,
    pub region: String,
    /// The account the scan found it in; empty when unknown.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub account: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The project it is tagged for (`pockitect:project`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Why it counts as waste.
    pub waste: WasteKind,
    /// What is paid for, for a person: `unattached 100 GB gp3 volume`.
    pub reason: String,
    /// What it costs a month while idle, rounded to the cent; null when no price is known.
    pub monthly_usd: Option<f64>,
    /// Some unit price in the figure was derived (a regional factor), not listed.
    pub derived: bool,
    /// The real charge is at least `monthly_usd` (provisioned IOPS, data processed).
    #[serde(default)]
    pub minimum: bool,
    /// What the figure leaves out or assumes, when that is not obvious.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl WasteItem {
    /// How `terminate` addresses it.
    pub fn target(&self) -> TerminateTarget {
        TerminateTarget {
            id: self.id.clone(),
            kind: self.kind,
            region: self.region.clone(),
        }
    }
}

/// The kinds of waste, in the order a report lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WasteKind {
    /// An EC2 instance in state `stopped`: no instance hours, but its volumes (and an Elastic
    /// IP on it) are still billed.
    StoppedInstance,
    /// An EBS volume in state `available` (attached to nothing).
    UnattachedVolume,
    /// An Elastic IP associated with nothing: the public IPv4 charge runs regardless.
    UnassociatedElasticIp,
    /// A NAT gateway no route or no running instance uses: billed by the hour regardless.
    IdleNatGateway,
    /// An RDS instance in state `stopped`: no instance hours, but its storage is billed.
    StoppedDatabase,
}

impl WasteKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WasteKind::StoppedInstance => "stopped_instance",
            WasteKind::UnattachedVolume => "unattached_volume",
            WasteKind::UnassociatedElasticIp => "unassociated_elastic_ip",
            WasteKind::IdleNatGateway => "idle_nat_gateway",
            WasteKind::StoppedDatabase => "stopped_database",
        }
    }
}

impl fmt::Display for WasteKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wire_format_is_snake_case_and_keeps_unknown_prices_null() {
        let estimate = Estimate {
            project: "blog".into(),
            region: "us-east-1".into(),
            currency: "USD".into(),
            lines: vec![
                EstimateLine {
                    resource: Resource::Ec2Instance,
                    item: "t3.micro Linux on-demand, us-east-1".into(),
                    quantity: 730.0,
                    unit: Unit::Hour,
                    unit_price_usd: Some(0.0104),
                    monthly_usd: Some(7.59),
                    free: false,
                    minimum: false,
                    derived: false,
                    live: false,
                    note: None,
                },
                EstimateLine {
                    resource: Resource::RdsInstance,
                    item: "db.x9.huge postgres single-AZ, us-east-1".into(),
                    quantity: 730.0,
                    unit: Unit::Hour,
                    unit_price_usd: None,
                    monthly_usd: None,
                    free: false,
                    minimum: false,
                    derived: false,
                    live: false,
                    note: Some("no price known".into()),
                },
            ],
            total_usd_month: 7.59,
            complete: false,
            prices_source: "test".into(),
            prices_as_of: "2025-01".into(),
            from_bundled_table: true,
            notes: vec![],
        };
        let value = serde_json::to_value(&estimate).unwrap();
        assert_eq!(value["lines"][0]["resource"], json!("ec2_instance"));
        assert_eq!(value["lines"][0]["unit"], json!("hour"));
        assert!(value["lines"][0].get("note").is_none());
        assert_eq!(value["lines"][1]["unit_price_usd"], json!(null));
        assert_eq!(value["lines"][1]["monthly_usd"], json!(null));
        let back: Estimate = serde_json::from_value(value).unwrap();
        assert_eq!(back, estimate);
        assert!(!back.has_derived());
        assert_eq!(Unit::GbMonth.to_string(), "GB-month");
    }

    #[test]
    fn waste_items_read_as_terminate_targets() {
        let item = WasteItem {
            id: "vol-0abc".into(),
            kind: ResourceType::EbsVolume,
            region: "eu-west-1".into(),
            account: String::new(),
            name: None,
            project: Some("blog".into()),
            waste: WasteKind::UnattachedVolume,
            reason: "unattached 100 GB gp3 volume".into(),
            monthly_usd: None,
            derived: true,
            minimum: false,
            note: None,
        };
        let report = WasteReport {
            items: vec![item.clone()],
            protected: vec![],
            total_usd_month: 0.0,
            complete: false,
            currency: "USD".into(),
            prices_source: "test".into(),
            prices_as_of: "2025-01".into(),
            from_bundled_table: true,
            notes: vec![],
        };
        let value = serde_json::to_value(&report).unwrap();
        let first = &value["items"][0];
        assert_eq!(first["type"], json!("ebs_volume"));
        assert_eq!(first["waste"], json!("unattached_volume"));
        assert_eq!(first["monthly_usd"], json!(null));
        assert!(first.get("account").is_none() && first.get("note").is_none());
        let targets: Vec<TerminateTarget> = serde_json::from_value(value["items"].clone()).unwrap();
        assert_eq!(targets, vec![item.target()]);
        let back: WasteReport = serde_json::from_value(value).unwrap();
        assert_eq!(back, report);
        assert_eq!(WasteKind::IdleNatGateway.to_string(), "idle_nat_gateway");
    }
}

/// What one period cost, from Cost Explorer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodSpend {
    /// First day (`YYYY-MM-DD`), included.
    pub start: String,
    /// Last day, excluded (as Cost Explorer counts).
    pub end: String,
    /// Everything the account paid in the period.
    pub total_usd: f64,
    /// What carries no `pockitect:project` tag (other workloads, or the tag not activated).
    pub untagged_usd: f64,
    /// AWS says the figures may still change (the period is not closed).
    pub estimated: bool,
}

/// One project's spend against its estimate and budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectCost {
    pub project: String,
    pub month_to_date_usd: f64,
    pub last_month_usd: f64,
    /// The blueprint's estimate a month, when the project is in the daemon's store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_usd_month: Option<f64>,
    /// The blueprint's `project.budget_usd_month`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_usd_month: Option<f64>,
}

/// `cost`: actual spend per project (Cost Explorer, grouped by the `pockitect:project` cost
/// allocation tag), month to date and last month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostReport {
    pub month_to_date: PeriodSpend,
    pub last_month: PeriodSpend,
    /// Every project that cost something or is in the store, by name.
    pub projects: Vec<ProjectCost>,
    /// False when the account paid something but none of it carries the tag: the cost
    /// allocation tag is most likely not activated (the notes say how).
    pub tag_active: bool,
    pub currency: String,
    pub notes: Vec<String>,
}
