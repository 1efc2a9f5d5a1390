//! What a Pockitect project will cost a month, before it is deployed: a pure estimate of a
//! blueprint against a price table, and the budget check a deploy runs before any AWS call.
//! And what the scanned estate pays for while idle ([`find_waste`], for `pockitect waste`). No
//! I/O and no AWS SDK: the daemon brings live prices (AWS Price List API) when it has them, and
//! [`PriceTable::bundled`] is the dated table shipped in the crate for when it does not.
//!
//! ```
//! use pockitect_blueprint::Blueprint;
//! use pockitect_cost::{PriceTable, check_budget, estimate};
//!
//! let mut bp = Blueprint::new("Blog", "us-east-1"); // a t3.micro in a new VPC
//! let e = estimate(&bp, PriceTable::bundled());
//! assert!(e.from_bundled_table && e.complete);
//! assert!(e.total_usd_month > 10.0 && e.total_usd_month < 20.0);
//!
//! bp.project.budget_usd_month = Some(5.0);
//! let refused = check_budget(&e, bp.project.budget_usd_month).unwrap_err();
//! assert!(refused.to_string().contains("over its budget of $5.00/month"));
//! ```
//!
//! The wire types ([`Estimate`], [`EstimateLine`], [`WasteReport`], [`WasteItem`]) live in
//! `pockitect_proto::cost`, so clients read them without this crate.

mod budget;
mod estimate;
mod prices;
mod waste;

pub use budget::{OverBudget, check_budget};
pub use estimate::{estimate, price_needs};
pub use pockitect_proto::cost::{
    Estimate, EstimateLine, HOURS_PER_MONTH, Unit, WasteItem, WasteKind, WasteReport,
};
pub use prices::{LivePrice, Price, PriceKey, PriceTable};
pub use waste::find_waste;

/// A price table that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not JSON, or not the table's shape.
    #[error("read price table")]
    Json(#[source] serde_json::Error),
    /// Well formed, but with prices that are not prices or regions that cannot be resolved.
    #[error("read price table: {0}")]
    Table(String),
}
