//! The estate scanner: every enabled region × every service, concurrently, streaming one chunk
//! per region (plus one `global` chunk for S3 and IAM). A region or service that fails is
//! reported in its chunk and the rest goes on.
//!
//! Calls in flight are bounded per region (and apart for the global services), not for the
//! whole scan: AWS throttles each account in each region (per API action), so one region's
//! calls never wait on another's, and a scan of 17 regions takes about as long as one.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use futures::future::join_all;
use pockitect_proto::{ResourceRecord, ResourceType, ScanChunk, ScanComplete, ScanError};
use tokio::sync::{Semaphore, mpsc};

use crate::accounts::{Account, Unreachable};
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

/// One listing job: a resource type in a region (or globally).
#[derive(Clone)]
struct Job {
    aws: Aws,
    region: String,
    account: String,
    sem: Arc<Semaphore>,
}

/// Scans and sends each region's chunk as soon as that region is done. Returns the summary.
/// Dropping the future stops the scan (spawned region tasks are aborted).
pub async fn scan(
    aws: &Aws,
    req: ScanRequest,
    chunks: mpsc::Sender<ScanChunk>,
) -> Result<ScanComplete, AwsError> {
    let started = Instant::now();
    let mut errors = Vec::new();

    // Who we are and where to look, asked together: two round trips in one.
    let regions = async {
        match req.regions.clone().filter(|r| !r.is_empty()) {
            Some(mut r) => {
                r.sort();
                r.dedup();
                Ok(r)
            }
            None => aws.enabled_regions().await,
        }
    };
    let (identity, regions) = tokio::join!(aws.identity(), regions);
    let account = match identity {
        Ok(id) => Some(id.account),
        Err(e) => {
            errors.push(scan_error(aws.home_region(), "sts", &e));
            None
        }
    };
    let regions = regions?;
    let wanted: BTreeSet<ResourceType> = req
        .types
        .clone()
        .unwrap_or_else(|| ResourceType::ALL.to_vec())
        .into_iter()
        .collect();
    let regional: Vec<ResourceType> = wanted.iter().copied().filter(|t| !t.is_global()).collect();
    let global: Vec<ResourceType> = wanted.iter().copied().filter(|t| t.is_global()).collect();

    let chunk_total = if regional.is_empty() {
        0
    } else {
        regions.len()
    } + usize::from(!global.is_empty());
    let mut tasks = tokio::task::JoinSet::new();
    // Each region (and the global services) has its own bound.
    let job = |region: &str| Job {
        aws: aws.clone(),
        region: region.to_owned(),
        account: account.clone().unwrap_or_default(),
        sem: Arc::new(Semaphore::new(req.concurrency.max(1))),
    };
    if !regional.is_empty() {
        for region in &regions {
            let job = job(region);
            let types = regional.clone();
            tasks.spawn(async move { scan_region(job, types).await });
        }
    }
    if !global.is_empty() {
        let job = job(GLOBAL);
        tasks.spawn(async move { scan_global(job, global).await });
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

/// Scans every account at once, each with its own bounds per region (AWS throttles each
/// account apart), and sends every account's chunks as they complete, numbered across the
/// whole scan. Accounts that could not be reached, and accounts whose scan could not start
/// (no region list), are errors of the one summary; the others go on.
pub async fn scan_accounts(
    accounts: &[Account],
    unreachable: &[Unreachable],
    req: ScanRequest,
    chunks: mpsc::Sender<ScanChunk>,
) -> ScanComplete {
    let started = Instant::now();
    let (tx, mut rx) = mpsc::channel::<ScanChunk>(16);
    let scans = join_all(
        accounts
            .iter()
            .map(|a| scan(&a.aws, req.clone(), tx.clone())),
    );
    drop(tx);
    let relay = async {
        let mut seq = 0;
        // Each account's own chunk total, once it has sent one; the others are guessed alike.
        let mut totals: BTreeMap<String, usize> = BTreeMap::new();
        while let Some(mut c) = rx.recv().await {
            seq += 1;
            totals.insert(c.account.clone().unwrap_or_default(), c.chunks);
            let known: usize = totals.values().sum();
            let missing = accounts.len().saturating_sub(totals.len());
            c.chunks = known + missing * (known / totals.len().max(1));
            c.chunk = seq;
            for e in &mut c.errors {
                e.account.clone_from(&c.account);
            }
            if chunks.send(c).await.is_err() {
                break; // nobody wants the rest; the scans stop at their next send
            }
        }
    };
    let (results, ()) = tokio::join!(scans, relay);

    let mut all = ScanComplete {
        account: accounts.first().map(|a| a.identity.account.clone()),
        accounts: accounts
            .iter()
            .map(|a| a.identity.account.clone())
            .collect(),
        regions: Vec::new(),
        total: 0,
        counts: BTreeMap::new(),
        region_counts: BTreeMap::new(),
        errors: unreachable
            .iter()
            .map(|u| ScanError {
                account: None,
                region: GLOBAL.to_owned(),
                service: "sts".to_owned(),
                code: u.error.code().to_owned(),
                message: format!("{} cannot be reached: {}", u.label, u.error.message()),
            })
            .collect(),
        duration_ms: 0,
    };
    let mut regions: BTreeSet<String> = BTreeSet::new();
    for (a, r) in accounts.iter().zip(results) {
        let account = Some(a.identity.account.clone());
        match r {
            Ok(done) => {
                regions.extend(done.regions);
                all.total += done.total;
                for (k, n) in done.counts {
                    *all.counts.entry(k).or_default() += n;
                }
                for (k, n) in done.region_counts {
                    *all.region_counts.entry(k).or_default() += n;
                }
                all.errors.extend(done.errors.into_iter().map(|mut e| {
                    e.account.clone_from(&account);
                    e
                }));
            }
            Err(e) => all.errors.push(ScanError {
                account,
                region: a.aws.home_region().to_owned(),
                service: "ec2:regions".to_owned(),
                code: e.code().to_owned(),
                message: format!("{}: {}", a.label, e.message()),
            }),
        }
    }
    all.regions = regions.into_iter().collect();
    all.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    all
}

type RegionResult = (String, Vec<ResourceRecord>, Vec<ScanError>);

impl Job {
    /// The lookup scope of this job; `permits` for the per-item calls of global types.
    fn scope<'a>(&'a self, permits: Option<&'a Semaphore>) -> Scope<'a> {
        Scope {
            aws: &self.aws,
            region: &self.region,
            account: &self.account,
            permits,
        }
    }
}

/// Each type of a region is listed under one permit.
async fn scan_region(job: Job, types: Vec<ResourceType>) -> RegionResult {
    let results = join_all(types.iter().map(|t| {
        let job = &job;
        let t = *t;
        async move {
            let _permit = job.sem.acquire().await;
            (t, job.scope(None).fetch(t, &Query::All).await)
        }
    }))
    .await;
    collect(job.region, results)
}

/// Global types take a permit per call (each bucket's and each role's tags are one call).
async fn scan_global(job: Job, types: Vec<ResourceType>) -> RegionResult {
    let results = join_all(types.iter().map(|t| {
        let job = &job;
        let t = *t;
        async move {
            (
                t,
                job.scope(Some(job.sem.as_ref()))
                    .fetch(t, &Query::All)
                    .await,
            )
        }
    }))
    .await;
    collect(job.region, results)
}

fn collect(
    region: String,
    results: Vec<(ResourceType, Result<Vec<ResourceRecord>, AwsError>)>,
) -> RegionResult {
    let mut records = Vec::new();
    let mut errors = Vec::new();
    for (t, r) in results {
        match r {
            Ok(mut rs) => records.append(&mut rs),
            Err(e) => errors.push(scan_error(&region, service_of(t), &e)),
        }
    }
    records.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
    (region, records, errors)
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
