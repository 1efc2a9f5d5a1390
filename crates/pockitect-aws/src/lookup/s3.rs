//! S3 buckets: found by listing (ListBuckets, by name prefix for `Ids`), so a bucket looks the
//! same whether it was scanned or described; each bucket's region and tags are asked for
//! separately (tags live in the bucket's own region).

use std::collections::BTreeMap;

use aws_sdk_s3::types::Bucket;
use futures::StreamExt;
use pockitect_proto::{ResourceRecord, ResourceType};
use serde_json::json;

use super::{PER_ITEM, Query, Scope, is_not_found, tag_map};
use crate::AwsError;

/// The region a `GetBucketLocation` constraint means (empty is us-east-1, `EU` is eu-west-1).
pub(super) fn bucket_region(constraint: Option<&str>) -> String {
    match constraint {
        None | Some("") => "us-east-1".to_owned(),
        Some("EU") => "eu-west-1".to_owned(),
        Some(r) => r.to_owned(),
    }
}

/// `All`: every bucket of the account, a bucket whose region or tags cannot be read listed
/// with what is known (home region, no tags). `Ids`: these buckets, any failure to read one
/// is an error (its tags decide what may be done to it).
pub(super) async fn buckets(s: &Scope<'_>, query: &Query) -> Result<Vec<ResourceRecord>, AwsError> {
    let listed = match query {
        Query::InVpc(_) => return Ok(Vec::new()),
        Query::All => list(s, None).await?,
        Query::Ids(names) => {
            let mut found = Vec::new();
            for name in names {
                let mut page = list(s, Some(name)).await?;
                page.retain(|b| b.name() == Some(name.as_str()));
                found.extend(page);
            }
            found
        }
    };
    let strict = matches!(query, Query::Ids(_));
    let records: Vec<Result<Option<ResourceRecord>, AwsError>> = futures::stream::iter(listed)
        .map(|b| bucket(s, b, strict))
        .buffered(PER_ITEM)
        .collect()
        .await;
    records.into_iter().filter_map(Result::transpose).collect()
}

/// ListBuckets, every page (by name prefix when given).
async fn list(s: &Scope<'_>, prefix: Option<&str>) -> Result<Vec<Bucket>, AwsError> {
    let home = s.aws.home_region();
    let s3 = s.aws.s3(home);
    let mut buckets = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let resp = {
            let _permit = s.permit().await;
            s3.list_buckets()
                .set_prefix(prefix.map(str::to_owned))
                .set_continuation_token(token.clone())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("s3:ListBuckets", home, e))?
        };
        buckets.extend(resp.buckets().iter().cloned());
        match resp.continuation_token() {
            Some(t) if !t.is_empty() && Some(t) != token.as_deref() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    Ok(buckets)
}

/// The converter: a listed bucket with its region and tags. None when it is gone meanwhile.
async fn bucket(
    s: &Scope<'_>,
    b: Bucket,
    strict: bool,
) -> Result<Option<ResourceRecord>, AwsError> {
    let Some(name) = b.name() else {
        return Ok(None);
    };
    let home = s.aws.home_region();
    let _permit = s.permit().await;
    let region = match b.bucket_region() {
        Some(r) => r.to_owned(),
        None => match s
            .aws
            .s3(home)
            .get_bucket_location()
            .bucket(name)
            .send()
            .await
        {
            Ok(loc) => bucket_region(loc.location_constraint().map(|c| c.as_str())),
            Err(e) => {
                let e = AwsError::from_sdk("s3:GetBucketLocation", home, e);
                if is_not_found(e.code()) {
                    return Ok(None);
                }
                if strict {
                    return Err(e);
                }
                home.to_owned()
            }
        },
    };
    // A bucket without tags answers NoSuchTagSet.
    let tags: BTreeMap<String, String> = match s
        .aws
        .s3(&region)
        .get_bucket_tagging()
        .bucket(name)
        .send()
        .await
    {
        Ok(t) => tag_map(t.tag_set().iter().map(|t| (Some(t.key()), Some(t.value())))),
        Err(e) => {
            let e = AwsError::from_sdk("s3:GetBucketTagging", &region, e);
            match e.code().to_owned().as_str() {
                "NoSuchTagSet" => BTreeMap::new(),
                c if is_not_found(c) => return Ok(None),
                _ if strict => return Err(e),
                _ => BTreeMap::new(),
            }
        }
    };
    let mut rec = s.record(
        ResourceType::S3Bucket,
        name,
        tags,
        Some("available"),
        Some(format!("arn:aws:s3:::{name}")),
        json!({ "created": b.creation_date().map(|d| d.to_string()) }),
    );
    rec.region = region;
    rec.name.get_or_insert_with(|| name.to_owned());
    Ok(Some(rec))
}
