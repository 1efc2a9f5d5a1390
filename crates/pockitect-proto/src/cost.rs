//! A project's monthly cost estimate, as the daemon sends it in a plan and clients show it
//! (`pockitect plan`, the deploy confirmation, the TUI project detail). `pockitect_cost`
//! computes it from a blueprint and a price table; this module only carries it.
//!
//! Money is in US dollars as `f64`. Each line's `monthly_usd` is rounded to the cent, and
//! `total_usd_month` is the sum of the rounded lines, so a table of the lines adds up to its
//! total. A month is [`HOURS_PER_MONTH`] hours, as AWS's own calculator counts it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::deploy::Resource;

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
    /// True when the prices come from the table bundled in Pockitect, not a live query.
    pub from_bundled_table: bool,
    /// What a reader needs to trust the numbers: assumptions, derivations, gaps.
    pub notes: Vec<String>,
}

impl Estimate {
    /// True when some line's price was derived (a regional factor) rather than listed.
    pub fn has_derived(&self) -> bool {
        self.lines.iter().any(|l| l.derived)
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
}
