//! The lookup layer: every read of AWS resources goes through here, so that a resource looks
//! the same whoever asks for it. There is exactly one converter per AWS type (SDK item →
//! [`ResourceRecord`] with account, ARN, tags, state and details) and one entry point,
//! [`Scope::fetch`], taking a [`Query`]: everything (the scanner), these ids (refresh, power,
//! terminate, rollback), or everything inside a VPC (terminate's expansion of a VPC).
//!
//! [`describe_targets`] batches id lookups by region and type (DescribeInstances with up to
//! 100 ids, …); a resource that is gone is reported missing for its own id, never as a failure
//! of the whole batch.
//!
//! One file per service: `ec2`, `rds`, `s3`, `iam`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;

use futures::StreamExt;
use pockitect_proto::{ResourceRecord, ResourceType, TerminateTarget};
use serde_json::Value;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::{Aws, AwsError};

/// Follows an SDK paginator, mapping each page's error to an [`AwsError`].
macro_rules! pages {
    ($op:literal, $region:expr, $builder:expr, |$page:ident| $body:block) => {{
        let mut p = $builder.into_paginator().send();
        while let Some(page) = p.next().await {
            let $page = page.map_err(|e| AwsError::from_sdk($op, $region, e))?;
            $body
        }
    }};
}

mod ec2;
mod iam;
mod rds;
mod s3;

pub(crate) use ec2::vpc_interfaces;

/// The region account-wide resources carry (IAM), and the name of the scan chunk that holds
/// them and the S3 buckets.
pub const GLOBAL: &str = "global";
/// Ids per Describe call (EC2 accepts up to 1000 ids or 200 filter values; RDS 100 filter values).
const BATCH: usize = 100;
/// Items whose own calls (a bucket's tags, a role's tags) are made at once, beside the scope's
/// permits.
const PER_ITEM: usize = 16;

/// What to fetch of one type.
#[derive(Clone, Debug)]
pub(crate) enum Query {
    /// Everything of the type in the region (or the account, for S3 and IAM).
    All,
    /// These ids (names for key pairs, buckets, DB subnet groups and IAM). Ids AWS does not
    /// know are left out of the answer (or make the call fail with a NotFound code).
    Ids(Vec<String>),
    /// Everything inside this VPC: instances, subnets, security groups, route tables, attached
    /// internet gateways, NAT gateways, Elastic IPs on its interfaces, RDS instances and DB
    /// subnet groups. Empty for the types that do not live in a VPC.
    InVpc(String),
}

/// Where a lookup runs: one region (or [`GLOBAL`]), the account records are stamped with, and
/// an optional bound for the calls made per item (each bucket's tags, each role's tags, …).
#[derive(Clone, Copy)]
pub(crate) struct Scope<'a> {
    pub aws: &'a Aws,
    pub region: &'a str,
    /// The account id; empty when unknown (then EC2 records carry no ARN).
    pub account: &'a str,
    /// Taken around each per-item call of S3 and IAM lookups. The scanner passes its
    /// semaphore for global types; a caller that already holds a permit passes None (taking a
    /// second one from the same semaphore could deadlock at concurrency 1).
    pub permits: Option<&'a Semaphore>,
}

impl<'a> Scope<'a> {
    /// Describes resources of one type (see [`Query`]).
    pub async fn fetch(
        &self,
        kind: ResourceType,
        query: &Query,
    ) -> Result<Vec<ResourceRecord>, AwsError> {
        use ResourceType::*;
        // An empty id list means "no filter" to most Describe calls: answer it here.
        if matches!(query, Query::Ids(ids) if ids.is_empty()) {
            return Ok(Vec::new());
        }
        match kind {
            Ec2Instance | Vpc | Subnet | SecurityGroup | InternetGateway | RouteTable
            | NatGateway | EbsVolume | ElasticIp | KeyPair => ec2::fetch(self, kind, query).await,
            RdsInstance => rds::instances(self, query).await,
            DbSubnetGroup => rds::subnet_groups(self, query).await,
            S3Bucket => s3::buckets(self, query).await,
            IamRole => iam::roles(self, query).await,
            IamInstanceProfile => iam::instance_profiles(self, query).await,
        }
    }

    async fn permit(&self) -> Option<SemaphorePermit<'a>> {
        match self.permits {
            Some(s) => s.acquire().await.ok(),
            None => None,
        }
    }

    /// A record in this scope's region and account.
    fn record(
        &self,
        kind: ResourceType,
        id: &str,
        tags: BTreeMap<String, String>,
        state: Option<&str>,
        arn: Option<String>,
        details: Value,
    ) -> ResourceRecord {
        let mut r = ResourceRecord::new(kind, id, self.region, tags);
        r.account = self.account.to_owned();
        r.state = state.map(str::to_owned);
        r.arn = arn;
        r.details = details;
        r
    }
}

/// Describes resources of one type in `region`, stamped with the account (see [`Query`]).
pub(crate) async fn fetch(
    aws: &Aws,
    region: &str,
    kind: ResourceType,
    query: Query,
) -> Result<Vec<ResourceRecord>, AwsError> {
    let account = aws.account().await.unwrap_or_default();
    let scope = Scope {
        aws,
        region,
        account: &account,
        permits: None,
    };
    scope.fetch(kind, &query).await
}

// ---------------------------------------------------------------------------------------------
// Lookups by id

/// AWS's code and message of a failed call (`AwsError` is not `Clone`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    pub code: String,
    pub message: String,
}

impl From<&AwsError> for Failure {
    fn from(e: &AwsError) -> Self {
        Failure {
            code: e.code().to_owned(),
            message: e.message(),
        }
    }
}

/// True for the codes AWS uses when the addressed resource does not exist (or cannot, being
/// malformed): `InvalidInstanceID.NotFound`, `DBInstanceNotFound`, `NoSuchBucket`, `NoSuchEntity`, …
pub(crate) fn is_not_found(code: &str) -> bool {
    code.contains("NotFound")
        || code.ends_with(".Malformed")
        || matches!(code, "NoSuchBucket" | "NoSuchEntity")
}

/// Resources are keyed by type and id (RDS identifiers are case-insensitive).
pub(crate) type Key = (ResourceType, String);

pub(crate) fn key_of(kind: ResourceType, id: &str) -> Key {
    match kind {
        ResourceType::RdsInstance | ResourceType::DbSubnetGroup => (kind, id.to_ascii_lowercase()),
        _ => (kind, id.to_owned()),
    }
}

/// What a batch of describes found.
#[derive(Debug, Default)]
pub(crate) struct Described {
    pub found: HashMap<Key, ResourceRecord>,
    pub missing: HashSet<Key>,
    pub failed: HashMap<Key, Failure>,
}

impl Described {
    fn merge(&mut self, other: Described) {
        self.found.extend(other.found);
        self.missing.extend(other.missing);
        self.failed.extend(other.failed);
    }
}

/// Describes targets grouped by region and type: `concurrency` groups at once, each with up
/// to 4 calls in flight. Records carry the account id when STS could tell it (asked once per
/// `Aws`); otherwise the account is empty.
pub(crate) async fn describe_targets(
    aws: &Aws,
    targets: &[TerminateTarget],
    concurrency: usize,
) -> Described {
    let mut groups: BTreeMap<(String, ResourceType), Vec<String>> = BTreeMap::new();
    let mut seen = HashSet::new();
    for t in targets {
        if seen.insert(key_of(t.kind, &t.id)) {
            let region = match t.kind {
                // IAM is global; a bucket is found from any region (its real one is looked up).
                ResourceType::IamRole | ResourceType::IamInstanceProfile => GLOBAL.to_owned(),
                ResourceType::S3Bucket => aws.home_region().to_owned(),
                _ => t.region.clone(),
            };
            groups
                .entry((region, t.kind))
                .or_default()
                .push(t.id.clone());
        }
    }
    if groups.is_empty() {
        return Described::default();
    }
    let account = aws.account().await.unwrap_or_default();
    let account = account.as_str();
    let results: Vec<Described> = futures::stream::iter(groups)
        .map(|((region, kind), ids)| async move {
            let scope = Scope {
                aws,
                region: &region,
                account,
                permits: None,
            };
            lookup(&scope, kind, ids).await
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut all = Described::default();
    for d in results {
        all.merge(d);
    }
    all
}

/// Describes `ids` of one type in one scope: in batches where the API takes several ids, one
/// by one where it does not; a NotFound answer for a batch is split per id.
async fn lookup(scope: &Scope<'_>, kind: ResourceType, ids: Vec<String>) -> Described {
    let batch = if batched(kind) { BATCH } else { 1 };
    let chunks: Vec<Vec<String>> = ids.chunks(batch).map(<[String]>::to_vec).collect();
    let parts: Vec<Described> = futures::stream::iter(chunks)
        .map(|chunk| {
            lookup_chunk(kind, chunk, move |ids| async move {
                scope.fetch(kind, &Query::Ids(ids)).await
            })
        })
        .buffer_unordered(4)
        .collect()
        .await;
    let mut all = Described::default();
    for d in parts {
        all.merge(d);
    }
    all
}

/// One batch: what came back is found, what did not is missing; a NotFound error for a batch
/// of several ids is retried id by id so one deleted resource does not hide the others.
async fn lookup_chunk<F, Fut>(kind: ResourceType, ids: Vec<String>, call: F) -> Described
where
    F: Fn(Vec<String>) -> Fut,
    Fut: Future<Output = Result<Vec<ResourceRecord>, AwsError>>,
{
    let mut out = Described::default();
    if ids.is_empty() {
        return out;
    }
    match call(ids.clone()).await {
        Ok(records) => absorb(&mut out, kind, &ids, records),
        Err(e) if is_not_found(e.code()) && ids.len() > 1 => {
            for id in ids {
                match call(vec![id.clone()]).await {
                    Ok(records) => absorb(&mut out, kind, std::slice::from_ref(&id), records),
                    Err(e) if is_not_found(e.code()) => {
                        out.missing.insert(key_of(kind, &id));
                    }
                    Err(e) => {
                        out.failed.insert(key_of(kind, &id), Failure::from(&e));
                    }
                }
            }
        }
        Err(e) if is_not_found(e.code()) => {
            for id in &ids {
                out.missing.insert(key_of(kind, id));
            }
        }
        Err(e) => {
            let f = Failure::from(&e);
            for id in &ids {
                out.failed.insert(key_of(kind, id), f.clone());
            }
        }
    }
    out
}

fn absorb(out: &mut Described, kind: ResourceType, asked: &[String], records: Vec<ResourceRecord>) {
    let mut got = HashSet::new();
    for r in records {
        got.insert(r.id.to_ascii_lowercase());
        out.found.insert(key_of(kind, &r.id), r);
    }
    for id in asked {
        if !got.contains(&id.to_ascii_lowercase()) {
            out.missing.insert(key_of(kind, id));
        }
    }
}

/// Types whose describe call takes several ids at once (a bucket is found by its own listing,
/// so that a bucket that cannot be read fails alone).
fn batched(kind: ResourceType) -> bool {
    !matches!(
        kind,
        ResourceType::S3Bucket
            | ResourceType::IamRole
            | ResourceType::IamInstanceProfile
            | ResourceType::DbSubnetGroup
    )
}

/// Tags as a map, from any SDK's tag list.
fn tag_map<'t>(
    pairs: impl IntoIterator<Item = (Option<&'t str>, Option<&'t str>)>,
) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .filter_map(|(k, v)| Some((k?.to_owned(), v.unwrap_or_default().to_owned())))
        .collect()
}

#[cfg(test)]
mod tests;
