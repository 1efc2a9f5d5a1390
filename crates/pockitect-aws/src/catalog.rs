//! What a region offers: the enabled regions, the instance types offered in the region, the DB
//! instance classes per engine, and the account's EC2 attributes. Fetched in a handful of
//! calls and meant to be cached by the caller (it carries `fetched_at`; see [`Catalog::is_fresh`])
//! so that validation, the wizard and `plan` can check a blueprint against the real region.

use aws_sdk_ec2::types::LocationType;
use chrono::Utc;
pub use pockitect_proto::Catalog;
use std::collections::BTreeMap;

use crate::{Aws, AwsError};

/// The engines a blueprint can ask for (`data.db.engine`).
pub const ENGINES: [&str; 3] = ["postgres", "mysql", "mariadb"];

/// Fetches the catalog of `region` (about 3 + pages calls; engines in parallel).
pub async fn fetch(aws: &Aws, region: &str) -> Result<Catalog, AwsError> {
    let (regions, instance_types, account) = tokio::try_join!(
        aws.enabled_regions(),
        instance_types(aws, region),
        account_attributes(aws, region)
    )?;
    let classes =
        futures::future::try_join_all(ENGINES.iter().map(|e| db_classes(aws, region, e))).await?;
    Ok(Catalog {
        region: region.to_owned(),
        regions,
        instance_types,
        db_classes: ENGINES
            .iter()
            .map(|e| (*e).to_owned())
            .zip(classes)
            .filter(|(_, c)| !c.is_empty())
            .collect(),
        account,
        fetched_at: Utc::now(),
    })
}

async fn instance_types(aws: &Aws, region: &str) -> Result<Vec<String>, AwsError> {
    let op = "ec2:DescribeInstanceTypeOfferings";
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = aws
            .ec2(region)
            .describe_instance_type_offerings()
            .location_type(LocationType::Region)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(op, region, e))?;
        out.extend(
            page.instance_type_offerings()
                .iter()
                .filter_map(|o| o.instance_type().map(|t| t.as_str().to_owned())),
        );
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

async fn db_classes(aws: &Aws, region: &str, engine: &str) -> Result<Vec<String>, AwsError> {
    let op = "rds:DescribeOrderableDBInstanceOptions";
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = aws
            .rds(region)
            .describe_orderable_db_instance_options()
            .engine(engine)
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(op, region, e))?;
        out.extend(
            page.orderable_db_instance_options()
                .iter()
                .filter_map(|o| o.db_instance_class().map(str::to_owned)),
        );
        match page.marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_owned()),
            _ => break,
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

async fn account_attributes(
    aws: &Aws,
    region: &str,
) -> Result<BTreeMap<String, Vec<String>>, AwsError> {
    let out = aws
        .ec2(region)
        .describe_account_attributes()
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DescribeAccountAttributes", region, e))?;
    Ok(out
        .account_attributes()
        .iter()
        .filter_map(|a| {
            let values = a
                .attribute_values()
                .iter()
                .filter_map(|v| v.attribute_value().map(str::to_owned))
                .collect();
            a.attribute_name().map(|n| (n.to_owned(), values))
        })
        .collect())
}
