//! The one validation entry point. [`check`] runs every rule once, offline; [`Checked::against`]
//! adds only the rules that depend on what the region offers (its catalog), once that is known.
//! A [`Checked`] blueprint is the only thing the deploy engine takes, so a request is validated
//! once on its way to AWS, and an invalid blueprint cannot reach it.

use std::fmt;

use super::{Issue, Report, ValidationContext, Validator};
use crate::model::Blueprint;

/// A blueprint with no validation error, and the warnings found on the way. Only [`check`] makes
/// one.
#[derive(Debug, Clone)]
pub struct Checked {
    blueprint: Blueprint,
    report: Report,
    against_catalog: bool,
}

/// A blueprint refused by validation: every problem, errors first. Its `Display` is what a user
/// reads, one issue a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The project's slug, as the blueprint derives it.
    pub project: String,
    /// Errors (at least one) and warnings.
    pub report: Report,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.report.errors.len();
        write!(
            f,
            "the blueprint of '{}' has {n} problem{}; fix {} and try again:",
            self.project,
            if n == 1 { "" } else { "s" },
            if n == 1 { "it" } else { "them" },
        )?;
        for issue in &self.report.errors {
            write!(f, "\n  error: {issue}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Rejected {}

/// Checks `blueprint` against every rule, offline (regions against the built-in list, instance
/// types and DB classes for shape). Never calls AWS.
///
/// ```
/// use pockitect_blueprint::{Blueprint, ValidationContext, check};
///
/// let bp = Blueprint::from_json_str(r#"{"project": {"name": "Blog", "region": "us-east-2"},
///                                        "compute": {"instance_type": "m7i.large"}}"#)?;
/// let offer = ValidationContext::offline().with_instance_types("us-east-2", ["t3.micro"]);
/// let refused = check(bp)?.against(&offer).unwrap_err();
/// assert!(refused.to_string().contains("'m7i.large' is not offered in 'us-east-2'"), "{refused}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check(blueprint: Blueprint) -> Result<Checked, Rejected> {
    let report = super::validate(&blueprint, &ValidationContext::offline());
    Checked::judge(blueprint, report, false)
}

impl Checked {
    fn judge(
        blueprint: Blueprint,
        report: Report,
        against_catalog: bool,
    ) -> Result<Self, Rejected> {
        if report.is_ok() {
            Ok(Self {
                blueprint,
                report,
                against_catalog,
            })
        } else {
            Err(Rejected {
                project: blueprint.slug().into_owned(),
                report,
            })
        }
    }

    /// Adds the rules that depend on what the blueprint's region offers (enabled regions,
    /// instance types, DB classes); the other rules already passed and are not run again.
    pub fn against(self, offer: &ValidationContext) -> Result<Self, Rejected> {
        let mut v = Validator {
            bp: &self.blueprint,
            ctx: offer,
            report: Report::default(),
        };
        v.offer();
        let mut report = self.report;
        report.errors = v.report.errors;
        report.warnings.extend(v.report.warnings);
        Self::judge(self.blueprint, report, true)
    }

    pub fn blueprint(&self) -> &Blueprint {
        &self.blueprint
    }

    pub fn into_blueprint(self) -> Blueprint {
        self.blueprint
    }

    /// What validation found: no error, maybe warnings.
    pub fn report(&self) -> &Report {
        &self.report
    }

    pub fn warnings(&self) -> &[Issue] {
        &self.report.warnings
    }

    /// True once the region's catalog was applied, not only the offline rules.
    pub fn against_catalog(&self) -> bool {
        self.against_catalog
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blog(instance_type: &str, region: &str) -> Blueprint {
        let mut bp = Blueprint::new("Blog", region);
        bp.compute.instance_type = Some(instance_type.into());
        bp
    }

    #[test]
    fn offline_errors_refuse_before_any_catalog() {
        let refused = check(blog("t3 micro", "us-east-1")).unwrap_err();
        assert_eq!(refused.project, "blog");
        assert_eq!(refused.report.errors[0].path, "compute.instance_type");
        let text = refused.to_string();
        assert!(
            text.starts_with("the blueprint of 'blog' has 1 problem; fix it")
                && text.contains("\n  error: compute.instance_type: "),
            "{text}"
        );
    }

    #[test]
    fn the_catalog_adds_only_its_own_rules() {
        let checked = check(blog("t3.micro", "us-east-1")).unwrap();
        assert!(!checked.against_catalog());
        let offer = ValidationContext::offline()
            .with_regions(["us-east-1"])
            .with_instance_types("us-east-1", ["t3.micro", "t3.small"]);
        let checked = checked.against(&offer).unwrap();
        assert!(checked.against_catalog());

        let narrow = ValidationContext::offline().with_instance_types("us-east-1", ["t3.small"]);
        let refused = checked.against(&narrow).unwrap_err();
        assert_eq!(refused.report.errors.len(), 1, "{refused}");
        assert!(
            refused
                .to_string()
                .contains("'t3.micro' is not offered in 'us-east-1'"),
            "{refused}"
        );
    }

    #[test]
    fn a_region_the_account_has_not_enabled_is_refused_by_the_catalog() {
        let checked = check(blog("t3.micro", "eu-south-2")).unwrap();
        let offer = ValidationContext::offline().with_regions(["us-east-1", "eu-west-1"]);
        let refused = checked.against(&offer).unwrap_err();
        assert_eq!(refused.report.errors[0].path, "project.region");
        assert!(
            refused.to_string().contains("this account can use"),
            "{refused}"
        );
    }

    #[test]
    fn warnings_survive_the_catalog_step() {
        let mut bp = blog("t3.micro", "us-east-1");
        bp.network.rules.push(crate::model::Rule {
            port: Some(22),
            cidr: "0.0.0.0/0".into(),
            ..Default::default()
        });
        let checked = check(bp).unwrap();
        let before = checked.warnings().len();
        assert!(before > 0, "SSH open to the world warns");
        let checked = checked
            .against(&ValidationContext::offline().with_regions(["us-east-1"]))
            .unwrap();
        assert_eq!(checked.warnings().len(), before);
    }
}
