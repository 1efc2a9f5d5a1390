//! The AWS Budget a blueprint may ask for (`project.budget_alert_email`): a monthly cost budget
//! named `pockitect-<slug>`, filtered on the project's `pockitect:project` tag, that emails the
//! address when actual spend passes 80 % and 100 % of `project.budget_usd_month`. A deploy
//! keeps it in line with the blueprint; destroy removes it.

use aws_sdk_budgets::types::{
    Budget, BudgetType, ComparisonOperator, Expression, MatchOption, Notification,
    NotificationType, NotificationWithSubscribers, Spend, Subscriber, SubscriptionType, TagValues,
    ThresholdType, TimeUnit,
};
use pockitect_proto::tags;

use crate::{Aws, AwsError};

/// Percentages of the budget at which the address is told.
const ALERTS: [f64; 2] = [80.0, 100.0];

/// What [`ensure`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ensured {
    Created,
    /// It existed; its limit and filter were set to the blueprint's.
    Updated,
}

/// The budget's name for `slug`.
pub fn name(slug: &str) -> String {
    format!("pockitect-{slug}")
}

fn failed(op: &'static str, message: String) -> AwsError {
    AwsError::Api {
        operation: op,
        region: "us-east-1".into(),
        code: "request".into(),
        message,
    }
}

async fn account(aws: &Aws, op: &'static str) -> Result<String, AwsError> {
    aws.account()
        .await
        .ok_or_else(|| failed(op, "the account id is unknown (STS did not answer)".into()))
}

fn budget(slug: &str, limit_usd: f64) -> Result<Budget, AwsError> {
    let op = "budgets:CreateBudget";
    let limit = Spend::builder()
        .amount(format!("{limit_usd:.2}"))
        .unit("USD")
        .build()
        .map_err(|e| failed(op, e.to_string()))?;
    Budget::builder()
        .budget_name(name(slug))
        .budget_limit(limit)
        .time_unit(TimeUnit::Monthly)
        .budget_type(BudgetType::Cost)
        // Only what carries the project's tag (counted once it is an active cost allocation
        // tag: `pockitect cost` says how).
        .filter_expression(
            Expression::builder()
                .tags(
                    TagValues::builder()
                        .key(tags::PROJECT)
                        .values(slug)
                        .match_options(MatchOption::Equals)
                        .build(),
                )
                .build(),
        )
        .build()
        .map_err(|e| failed(op, e.to_string()))
}

/// Creates the project's budget with its alerts, or sets an existing one's limit.
pub async fn ensure(
    aws: &Aws,
    slug: &str,
    limit_usd: f64,
    email: &str,
) -> Result<Ensured, AwsError> {
    let client = aws.budgets();
    let account = account(aws, "budgets:DescribeBudget").await?;
    let found = client
        .describe_budget()
        .account_id(&account)
        .budget_name(name(slug))
        .send()
        .await;
    match found {
        Ok(_) => {
            client
                .update_budget()
                .account_id(&account)
                .new_budget(budget(slug, limit_usd)?)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("budgets:UpdateBudget", "us-east-1", e))?;
            Ok(Ensured::Updated)
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_not_found_exception()) =>
        {
            let mut create = client
                .create_budget()
                .account_id(&account)
                .budget(budget(slug, limit_usd)?);
            for pct in ALERTS {
                let op = "budgets:CreateBudget";
                let n = Notification::builder()
                    .notification_type(NotificationType::Actual)
                    .comparison_operator(ComparisonOperator::GreaterThan)
                    .threshold(pct)
                    .threshold_type(ThresholdType::Percentage)
                    .build()
                    .map_err(|e| failed(op, e.to_string()))?;
                let s = Subscriber::builder()
                    .subscription_type(SubscriptionType::Email)
                    .address(email)
                    .build()
                    .map_err(|e| failed(op, e.to_string()))?;
                let ns = NotificationWithSubscribers::builder()
                    .notification(n)
                    .subscribers(s)
                    .build()
                    .map_err(|e| failed(op, e.to_string()))?;
                create = create.notifications_with_subscribers(ns);
            }
            create
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("budgets:CreateBudget", "us-east-1", e))?;
            Ok(Ensured::Created)
        }
        Err(e) => Err(AwsError::from_sdk("budgets:DescribeBudget", "us-east-1", e)),
    }
}

/// Removes the project's budget. True when there was one.
pub async fn remove(aws: &Aws, slug: &str) -> Result<bool, AwsError> {
    let account = account(aws, "budgets:DeleteBudget").await?;
    match aws
        .budgets()
        .delete_budget()
        .account_id(&account)
        .budget_name(name(slug))
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_not_found_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(AwsError::from_sdk("budgets:DeleteBudget", "us-east-1", e)),
    }
}
