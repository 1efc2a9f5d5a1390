//! What the account actually paid, per project: Cost Explorer's GetCostAndUsage for last month
//! and this month to date, grouped by the `pockitect:project` cost allocation tag. One call
//! (Cost Explorer bills $0.01 a request), paginated when AWS says so.

use std::collections::BTreeMap;

use aws_sdk_costexplorer::types::{
    DateInterval, Granularity, GroupDefinition, GroupDefinitionType, ResultByTime,
};
use chrono::{Datelike, Days, NaiveDate};
use pockitect_proto::tags;

use crate::{Aws, AwsError};

/// The metric asked for: what the bill shows, before credits and discounts are spread.
const METRIC: &str = "UnblendedCost";

/// One period's spend: by project (tag value), untagged, in total.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Period {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub by_project: BTreeMap<String, f64>,
    pub untagged: f64,
    pub total: f64,
    pub estimated: bool,
    /// The currency AWS reported (`USD`).
    pub unit: Option<String>,
}

/// Last month and this month to date.
#[derive(Debug, Clone, PartialEq)]
pub struct Spend {
    pub last_month: Period,
    pub month_to_date: Period,
}

/// The first day of `today`'s month and of the month before.
fn months(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let this = today.with_day(1).unwrap_or(today);
    let last = this
        .checked_sub_days(Days::new(1))
        .and_then(|d| d.with_day(1))
        .unwrap_or(this);
    (last, this)
}

/// Last month's and this month's spend per project, as of `today` (UTC).
pub async fn by_project(aws: &Aws, today: NaiveDate) -> Result<Spend, AwsError> {
    let (last, this) = months(today);
    // End is excluded: tomorrow, so today's (partial) costs count.
    let end = today.checked_add_days(Days::new(1)).unwrap_or(today);
    let ce = aws.cost_explorer();
    let op = "ce:GetCostAndUsage";
    let period = DateInterval::builder()
        .start(last.to_string())
        .end(end.to_string())
        .build()
        .map_err(|e| AwsError::Api {
            operation: op,
            region: "us-east-1".into(),
            code: "request".into(),
            message: e.to_string(),
        })?;
    let mut results: Vec<ResultByTime> = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = ce
            .get_cost_and_usage()
            .time_period(period.clone())
            .granularity(Granularity::Monthly)
            .metrics(METRIC)
            .group_by(
                GroupDefinition::builder()
                    .r#type(GroupDefinitionType::Tag)
                    .key(tags::PROJECT)
                    .build(),
            )
            .set_next_page_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(op, "us-east-1", e))?;
        results.extend(out.results_by_time().iter().cloned());
        match out.next_page_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    let mut last_month = Period {
        start: last,
        end: this,
        ..Period::default()
    };
    let mut month_to_date = Period {
        start: this,
        end,
        ..Period::default()
    };
    for r in &results {
        let starts = r
            .time_period()
            .and_then(|p| p.start().parse::<NaiveDate>().ok());
        let target = if starts.is_some_and(|s| s >= this) {
            &mut month_to_date
        } else {
            &mut last_month
        };
        add(target, r);
    }
    Ok(Spend {
        last_month,
        month_to_date,
    })
}

/// Adds one result (a month, possibly a page of its groups) to `p`.
fn add(p: &mut Period, r: &ResultByTime) {
    p.estimated |= r.estimated();
    for g in r.groups() {
        let Some(m) = g.metrics().and_then(|m| m.get(METRIC)) else {
            continue;
        };
        let amount = m
            .amount()
            .and_then(|a| a.parse::<f64>().ok())
            .unwrap_or(0.0);
        if p.unit.is_none() {
            p.unit = m.unit().map(str::to_owned);
        }
        p.total += amount;
        // Tag groups are keyed `pockitect:project$<value>`; an empty value is untagged.
        let value = g
            .keys()
            .first()
            .and_then(|k| k.split_once('$'))
            .map(|(_, v)| v)
            .unwrap_or("");
        if value.is_empty() {
            p.untagged += amount;
        } else {
            *p.by_project.entry(value.to_owned()).or_default() += amount;
        }
    }
    // A result without groups (no tag data at all) still has a total.
    if r.groups().is_empty()
        && let Some(m) = r.total().and_then(|t| t.get(METRIC))
    {
        let amount = m
            .amount()
            .and_then(|a| a.parse::<f64>().ok())
            .unwrap_or(0.0);
        p.total += amount;
        p.untagged += amount;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_start_on_their_first_day_across_a_year() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(months(d("2026-12-03")), (d("2026-11-01"), d("2026-12-01")));
        assert_eq!(months(d("2026-01-01")), (d("2025-12-01"), d("2026-01-01")));
    }
}
