//! What validation may know about the account: regions, instance types and DB classes offered.

use std::collections::{BTreeMap, BTreeSet};

/// AWS commercial regions, used when no catalog is given. The daemon passes the regions its
/// account has enabled (DescribeRegions) instead.
pub const BUILTIN_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

/// Catalog data validation checks membership against. Everything is optional: what is not
/// known is checked for shape only.
///
/// ```
/// use pockitect_blueprint::ValidationContext;
///
/// let ctx = ValidationContext::offline()
///     .with_regions(["us-east-1", "eu-west-1"])
///     .with_instance_types("us-east-1", ["t3.micro", "t3.small"])
///     .with_db_classes("us-east-1", "postgres", ["db.t3.micro"]);
/// assert!(ctx.has_region_catalog());
/// ```
#[derive(Debug, Clone, Default)]
pub struct ValidationContext {
    regions: Option<BTreeSet<String>>,
    instance_types: BTreeMap<String, BTreeSet<String>>,
    db_classes: BTreeMap<(String, String), BTreeSet<String>>,
}

impl ValidationContext {
    /// No catalog: regions are checked against [`BUILTIN_REGIONS`], instance types and DB
    /// classes for shape only. What the CLI uses without a daemon.
    pub fn offline() -> Self {
        Self::default()
    }

    /// The regions the account can use (replaces the built-in list).
    pub fn with_regions<I, S>(mut self, regions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.regions = Some(regions.into_iter().map(Into::into).collect());
        self
    }

    /// The instance types offered in `region`.
    pub fn with_instance_types<I, S>(mut self, region: &str, types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.instance_types.insert(
            region.to_owned(),
            types.into_iter().map(Into::into).collect(),
        );
        self
    }

    /// The DB instance classes offered for `engine` (`postgres`, `mysql`, `mariadb`) in `region`.
    pub fn with_db_classes<I, S>(mut self, region: &str, engine: &str, classes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.db_classes.insert(
            (region.to_owned(), engine.to_owned()),
            classes.into_iter().map(Into::into).collect(),
        );
        self
    }

    /// What `region` offers, from a catalog: the enabled regions, its instance types, its DB
    /// classes per engine. Empty lists mean "unknown" and are not applied.
    pub fn with_offer<'a>(
        mut self,
        region: &str,
        regions: &[String],
        instance_types: &[String],
        db_classes: impl IntoIterator<Item = (&'a String, &'a Vec<String>)>,
    ) -> Self {
        if !regions.is_empty() {
            self = self.with_regions(regions.iter().cloned());
        }
        if !instance_types.is_empty() {
            self = self.with_instance_types(region, instance_types.iter().cloned());
        }
        for (engine, classes) in db_classes {
            if !classes.is_empty() {
                self = self.with_db_classes(region, engine, classes.iter().cloned());
            }
        }
        self
    }

    /// True when the regions come from a catalog rather than the built-in list.
    pub fn has_region_catalog(&self) -> bool {
        self.regions.is_some()
    }

    /// The known regions (catalog or built-in), sorted.
    pub fn known_regions(&self) -> Vec<&str> {
        match &self.regions {
            Some(set) => set.iter().map(String::as_str).collect(),
            None => BUILTIN_REGIONS.to_vec(),
        }
    }

    pub(crate) fn instance_types(&self, region: &str) -> Option<&BTreeSet<String>> {
        self.instance_types.get(region)
    }

    pub(crate) fn db_classes(&self, region: &str, engine: &str) -> Option<&BTreeSet<String>> {
        self.db_classes.get(&(region.to_owned(), engine.to_owned()))
    }
}
