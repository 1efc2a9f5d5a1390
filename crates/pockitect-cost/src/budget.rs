//! The budget check: a deploy whose estimate is over `project.budget_usd_month` stops before any
//! AWS call, with both numbers and what to change.

use std::fmt;

use pockitect_proto::cost::Estimate;

/// A project whose estimate is over its budget. Its message names both amounts and the ways
/// out (a smaller type or class, a higher budget, `--over-budget`).
#[derive(Debug, Clone, PartialEq)]
pub struct OverBudget {
    /// The project slug.
    pub project: String,
    pub estimate_usd_month: f64,
    pub budget_usd_month: f64,
    /// False when some line could not be priced, so the estimate is a lower bound.
    pub complete: bool,
}

impl fmt::Display for OverBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the estimate of '{}' is ${:.2}/month{}, over its budget of ${:.2}/month \
             (project.budget_usd_month): choose a smaller instance type or DB class, or raise \
             the budget, or deploy with --over-budget",
            self.project,
            self.estimate_usd_month,
            if self.complete { "" } else { " or more" },
            self.budget_usd_month,
        )
    }
}

impl std::error::Error for OverBudget {}

/// Refuses an estimate over `budget` (US dollars a month; `None` means no budget). An estimate
/// exactly at the budget passes.
///
/// An incomplete estimate (a line without a price) is compared by what it could price: it is
/// refused when that alone is over the budget, and passes otherwise, since nothing says the
/// rest is over. Validate the blueprint first: a budget that is not a positive number is a
/// validation error there, and never refuses anything here.
pub fn check_budget(estimate: &Estimate, budget: Option<f64>) -> Result<(), OverBudget> {
    match budget {
        Some(budget) if budget.is_finite() && budget > 0.0 => {
            if estimate.total_usd_month > budget {
                Err(OverBudget {
                    project: estimate.project.clone(),
                    estimate_usd_month: estimate.total_usd_month,
                    budget_usd_month: budget,
                    complete: estimate.complete,
                })
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimate_of(total: f64, complete: bool) -> Estimate {
        Estimate {
            project: "blog".into(),
            region: "us-east-1".into(),
            currency: "USD".into(),
            lines: vec![],
            total_usd_month: total,
            complete,
            prices_source: "test".into(),
            prices_as_of: "2025-01".into(),
            from_bundled_table: true,
            notes: vec![],
        }
    }

    #[test]
    fn over_budget_names_both_numbers_and_what_to_change() {
        let refused = check_budget(&estimate_of(41.2, true), Some(20.0)).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "the estimate of 'blog' is $41.20/month, over its budget of $20.00/month \
             (project.budget_usd_month): choose a smaller instance type or DB class, or raise \
             the budget, or deploy with --over-budget"
        );
        assert_eq!(refused.estimate_usd_month, 41.2);
        assert_eq!(refused.budget_usd_month, 20.0);
    }

    #[test]
    fn an_incomplete_estimate_over_budget_says_it_is_a_lower_bound() {
        let refused = check_budget(&estimate_of(41.2, false), Some(20.0)).unwrap_err();
        assert!(
            refused
                .to_string()
                .starts_with("the estimate of 'blog' is $41.20/month or more, over its budget")
        );
    }

    #[test]
    fn under_at_or_without_a_budget_passes() {
        assert_eq!(check_budget(&estimate_of(19.99, true), Some(20.0)), Ok(()));
        assert_eq!(check_budget(&estimate_of(20.0, true), Some(20.0)), Ok(()));
        assert_eq!(check_budget(&estimate_of(1e6, true), None), Ok(()));
        // Not a budget (validation reports it): nothing to enforce.
        assert_eq!(check_budget(&estimate_of(10.0, true), Some(-5.0)), Ok(()));
        assert_eq!(
            check_budget(&estimate_of(10.0, true), Some(f64::NAN)),
            Ok(())
        );
    }
}
