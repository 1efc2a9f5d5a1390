//! The estate scanner: every enabled region × every service, concurrently, streaming one chunk
//! per region (plus one `global` chunk for S3 and IAM). A region or service that fails is
//! reported in its chunk and the rest goes on.
//!
//! Calls in flight are bounded per region (and apart for the global services), not for the
//! whole scan: AWS throttles each account in each region (per API action), so one region's
//! calls never wait on another's, and a scan of 17 regions takes about as long as one.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use futures::future::join_all;
use pockitect_proto::{ResourceRecord, ResourceType, ScanChunk, ScanComplete, ScanError};
use tokio::sync::{Semaphore, mpsc};

/// Name of the chunk that carries account-wide resources (S3 buckets, IAM).
pub use crate::lookup::GLOBAL;
use crate::lookup::{Query, Scope};
use crate::{Aws, AwsError};

/// What to scan.
#[derive(Clone, Debug)]
pub struct ScanRequest {
    /// Regions to scan; all enabled regions (DescribeRegions) when None.
    pub regions: Option<Vec<String>>,
    /// Resource types to list; all when None.
    pub types: Option<Vec<ResourceType>>,
    /// AWS calls in flight at once in each region (and, apart, for S3 and IAM).
    pub concurrency: usize,
}

/// Who the credentials are and where a scan looks.
#[derive(Clone, Debug)]
pub struct Target {
    /// The account id; None when STS could not say (the scan goes on, records carry no
    /// account, and `errors` says why).
    pub account: Option<String>,
    /// The regions to scan, sorted.
    pub regions: Vec<String>,
    pub errors: Vec<ScanError>,
}

/// Who the credentials are (kept by the handle after the first answer) and which regions are
/// enabled (EC2, unless `regions` are given), asked together. Fails only when the regions
/// cannot be listed.
pub async fn target(aws: &Aws, regions: Option<Vec<String>>) -> Result<Target, AwsError> {
    let regions = async {
        match regions.filter(|r| !r.is_empty()) {
            Some(mut r) => {
                r.sort();
                r.dedup();
                Ok(r)
            }
            None => aws.enabled_regions().await,
        }
    };
    // The identity is kept by the handle (asked again when the credentials change): only a
    // first scan, or one after a failure, pays for the round trip.
    let identity = async {
        match aws.known_identity().await {
            Some(id) => Ok(id),
            None => aws.identity().await,
        }
    };
    let (identity, regions) = tokio::join!(identity, regions);
    let mut errors = Vec::new();
    let account = match identity {
        Ok(id) => Some(id.account),
        Err(e) => {
            errors.push(scan_error(aws.home_region(), "sts", &e));
            None
        }
    };
    Ok(Target {
        account,
        regions: regions?,
        errors,
    })
}

/// The types of a request that are listed per region, and those listed once per account (S3,
/// IAM: the [`GLOBAL`] shard). All types when None.
pub fn split_types(types: Option<&[ResourceType]>) -> (Vec<ResourceType>, Vec<ResourceType>) {
    let wanted: BTreeSet<ResourceType> = match types {
        Some(t) => t.iter().copied().collect(),
        None => ResourceType::ALL.iter().copied().collect(),
    };
    wanted.into_iter().partition(|t| !t.is_global())
}

/// Scans one shard of an account: a region's `types`, or with `region` = [`GLOBAL`] its
/// account-wide ones, at most `concurrency` calls in flight (IAM at most [`IAM_BOUND`]). Types
/// that do not belong to the shard are ignored. Records are sorted by type and id.
pub async fn scan_shard(
    aws: &Aws,
    account: &str,
    region: &str,
    types: &[ResourceType],
    concurrency: usize,
) -> (Vec<ResourceRecord>, Vec<ScanError>) {
    let global = region == GLOBAL;
    let types: Vec<ResourceType> = types
        .iter()
        .copied()
        .filter(|t| t.is_global() == global)
        .collect();
    let scope = Scope {
        aws,
        region,
        account,
        permits: None,
    };
    let bound = concurrency.max(1);
    let results = if global {
        scan_global(scope, types, bound).await
    } else {
        scan_region(scope, types, bound).await
    };
    collect(region, results)
}

/// IAM calls in flight at once in one account. IAM is one endpoint for the whole account and
/// throttles well below EC2's regional buckets, so its per-role calls get a bound of their own
/// rather than the regions' (S3's per-bucket calls keep the scan's).
pub const IAM_BOUND: usize = 8;

/// Scans and sends each region's chunk as soon as that region is done. Returns the summary.
/// Dropping the future stops the scan (spawned region tasks are aborted).
pub async fn scan(
    aws: &Aws,
    req: ScanRequest,
    chunks: mpsc::Sender<ScanChunk>,
) -> Result<ScanComplete, AwsError> {
    let started = Instant::now();
    let Target {
        account,
        regions,
        mut errors,
    } = target(aws, req.regions.clone()).await?;
    let (regional, global) = split_types(req.types.as_deref());

    let mut shards: Vec<(String, Vec<ResourceType>)> = Vec::new();
    if !regional.is_empty() {
        shards.extend(regions.iter().map(|r| (r.clone(), regional.clone())));
    }
    if !global.is_empty() {
        shards.push((GLOBAL.to_owned(), global));
    }
    let chunk_total = shards.len();
    let mut tasks = tokio::task::JoinSet::new();
    for (region, types) in shards {
        let aws = aws.clone();
        let account = account.clone().unwrap_or_default();
        let concurrency = req.concurrency;
        tasks.spawn(async move {
            let (records, errors) = scan_shard(&aws, &account, &region, &types, concurrency).await;
            (region, records, errors)
        });
    }

    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut region_counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut done = 0;
    while let Some(joined) = tasks.join_next().await {
        let (region, records, region_errors) = match joined {
            Ok(r) => r,
            Err(e) => {
                // A panic in a lister is a bug; report it and keep the rest of the scan.
                errors.push(ScanError {
                    account: None,
                    region: "?".into(),
                    service: "scanner".into(),
                    code: "internal".into(),
                    message: e.to_string(),
                });
                continue;
            }
        };
        done += 1;
        for r in &records {
            *counts.entry(r.kind.as_str().to_owned()).or_default() += 1;
            *region_counts.entry(r.region.clone()).or_default() += 1;
        }
        errors.extend(region_errors.iter().cloned());
        let chunk = ScanChunk {
            account: account.clone(),
            region,
            records,
            errors: region_errors,
            chunk: done,
            chunks: chunk_total,
            types: Vec::new(),
        };
        if chunks.send(chunk).await.is_err() {
            break; // the receiver gave up: nobody wants the rest
        }
    }
    Ok(ScanComplete {
        accounts: Vec::new(),
        account,
        regions,
        total: counts.values().sum(),
        counts,
        region_counts,
        errors,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

type Listed = Vec<(ResourceType, Result<Vec<ResourceRecord>, AwsError>)>;

/// Each type of a region is listed under one permit of the region's bound.
async fn scan_region(scope: Scope<'_>, types: Vec<ResourceType>, bound: usize) -> Listed {
    let sem = Semaphore::new(bound);
    join_all(types.iter().map(|&t| {
        let sem = &sem;
        async move {
            let _permit = sem.acquire().await;
            (t, scope.fetch(t, &Query::All).await)
        }
    }))
    .await
}

/// Global types take a permit per call (each bucket's and each role's tags are one call): S3
/// from the scan's bound, IAM from its own smaller one.
async fn scan_global(scope: Scope<'_>, types: Vec<ResourceType>, bound: usize) -> Listed {
    let s3 = Semaphore::new(bound);
    let iam = Semaphore::new(bound.min(IAM_BOUND));
    join_all(types.iter().map(|&t| {
        let permits = if t == ResourceType::S3Bucket {
            &s3
        } else {
            &iam
        };
        async move {
            let scope = Scope {
                permits: Some(permits),
                ..scope
            };
            (t, scope.fetch(t, &Query::All).await)
        }
    }))
    .await
}

fn collect(region: &str, results: Listed) -> (Vec<ResourceRecord>, Vec<ScanError>) {
    let mut records = Vec::new();
    let mut errors = Vec::new();
    for (t, r) in results {
        match r {
            Ok(mut rs) => records.append(&mut rs),
            Err(e) => errors.push(scan_error(region, service_of(t), &e)),
        }
    }
    records.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
    (records, errors)
}

fn scan_error(region: &str, service: &str, e: &AwsError) -> ScanError {
    ScanError {
        account: None,
        region: region.to_owned(),
        service: service.to_owned(),
        code: e.code().to_owned(),
        message: e.message(),
    }
}

/// The service name shown in errors (`ec2:vpc`, `rds:db_subnet_group`, …).
fn service_of(t: ResourceType) -> &'static str {
    match t {
        ResourceType::Ec2Instance => "ec2:instances",
        ResourceType::Vpc => "ec2:vpcs",
        ResourceType::Subnet => "ec2:subnets",
        ResourceType::SecurityGroup => "ec2:security_groups",
        ResourceType::InternetGateway => "ec2:internet_gateways",
        ResourceType::RouteTable => "ec2:route_tables",
        ResourceType::NatGateway => "ec2:nat_gateways",
        ResourceType::EbsVolume => "ec2:volumes",
        ResourceType::ElasticIp => "ec2:addresses",
        ResourceType::KeyPair => "ec2:key_pairs",
        ResourceType::RdsInstance => "rds:db_instances",
        ResourceType::DbSubnetGroup => "rds:db_subnet_groups",
        ResourceType::S3Bucket => "s3:buckets",
        ResourceType::IamRole => "iam:roles",
        ResourceType::IamInstanceProfile => "iam:instance_profiles",
    }
}
