//! The estate scanner: every enabled region × every service, concurrently under one bound,
//! streaming one chunk per region (plus one `global` chunk for S3 and IAM). A region or service
//! that fails is reported in its chunk and the rest goes on.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use futures::future::join_all;
use pockitect_proto::{ResourceRecord, ResourceType, ScanChunk, ScanComplete, ScanError};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};

use crate::{Aws, AwsError};

/// Name of the chunk that carries account-wide resources (S3 buckets, IAM).
pub const GLOBAL: &str = "global";

/// What to scan.
#[derive(Clone, Debug)]
pub struct ScanRequest {
    /// Regions to scan; all enabled regions (DescribeRegions) when None.
    pub regions: Option<Vec<String>>,
    /// Resource types to list; all when None.
    pub types: Option<Vec<ResourceType>>,
    /// AWS calls in flight at once, across all regions and services.
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
    let sem = Arc::new(Semaphore::new(req.concurrency.max(1)));
    let mut errors = Vec::new();

    let account = match aws.identity().await {
        Ok(id) => Some(id.account),
        Err(e) => {
            errors.push(scan_error(aws.home_region(), "sts", &e));
            None
        }
    };
    let regions = match req.regions.clone().filter(|r| !r.is_empty()) {
        Some(mut r) => {
            r.sort();
            r.dedup();
            r
        }
        None => aws.enabled_regions().await?,
    };
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
    let job = |region: &str| Job {
        aws: aws.clone(),
        region: region.to_owned(),
        account: account.clone().unwrap_or_default(),
        sem: sem.clone(),
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
        account,
        regions,
        total: counts.values().sum(),
        counts,
        region_counts,
        errors,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

type RegionResult = (String, Vec<ResourceRecord>, Vec<ScanError>);

async fn scan_region(job: Job, types: Vec<ResourceType>) -> RegionResult {
    let results = join_all(types.iter().map(|t| {
        let job = job.clone();
        let t = *t;
        async move {
            let _permit = job.sem.acquire().await;
            (t, list_regional(&job, t).await)
        }
    }))
    .await;
    collect(job.region, results)
}

async fn scan_global(job: Job, types: Vec<ResourceType>) -> RegionResult {
    let results = join_all(types.iter().map(|t| {
        let job = job.clone();
        let t = *t;
        async move { (t, list_global(&job, t).await) }
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

fn ec2_tags(tags: &[aws_sdk_ec2::types::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

fn record(
    job: &Job,
    kind: ResourceType,
    id: &str,
    tags: BTreeMap<String, String>,
    state: Option<&str>,
    arn: Option<String>,
    details: Value,
) -> ResourceRecord {
    let mut r = ResourceRecord::new(kind, id, job.region.clone(), tags);
    r.account = job.account.clone();
    r.state = state.map(str::to_owned);
    r.arn = arn;
    r.details = details;
    r.last_synced = Utc::now();
    r
}

fn ec2_arn(job: &Job, what: &str, id: &str) -> Option<String> {
    (!job.account.is_empty())
        .then(|| format!("arn:aws:ec2:{}:{}:{what}/{id}", job.region, job.account))
}

async fn list_regional(job: &Job, t: ResourceType) -> Result<Vec<ResourceRecord>, AwsError> {
    let r = job.region.as_str();
    let ec2 = || job.aws.ec2(r);
    let mut out = Vec::new();
    macro_rules! pages {
        ($op:literal, $builder:expr, |$page:ident| $body:block) => {{
            let mut p = $builder.into_paginator().send();
            while let Some(page) = p.next().await {
                let $page = page.map_err(|e| AwsError::from_sdk($op, r, e))?;
                $body
            }
        }};
    }
    match t {
        ResourceType::Ec2Instance => pages!(
            "ec2:DescribeInstances",
            ec2().describe_instances(),
            |page| {
                for res in page.reservations() {
                    for i in res.instances() {
                        let Some(id) = i.instance_id() else { continue };
                        let sgs: Vec<&str> = i
                            .security_groups()
                            .iter()
                            .filter_map(|g| g.group_id())
                            .collect();
                        let details = json!({
                            "instance_type": i.instance_type().map(|x| x.as_str()),
                            "image_id": i.image_id(),
                            "vpc_id": i.vpc_id(),
                            "subnet_id": i.subnet_id(),
                            "public_ip": i.public_ip_address(),
                            "private_ip": i.private_ip_address(),
                            "key_name": i.key_name(),
                            "security_groups": sgs,
                            "iam_instance_profile": i.iam_instance_profile().and_then(|p| p.arn()),
                            "launch_time": i.launch_time().map(|t| t.to_string()),
                            "availability_zone": i.placement().and_then(|p| p.availability_zone()),
                        });
                        let state = i.state().and_then(|s| s.name()).map(|n| n.as_str());
                        out.push(record(
                            job,
                            t,
                            id,
                            ec2_tags(i.tags()),
                            state,
                            ec2_arn(job, "instance", id),
                            details,
                        ));
                    }
                }
            }
        ),
        ResourceType::Vpc => pages!("ec2:DescribeVpcs", ec2().describe_vpcs(), |page| {
            for v in page.vpcs() {
                let Some(id) = v.vpc_id() else { continue };
                let details = json!({
                    "cidr_block": v.cidr_block(),
                    "is_default": v.is_default().unwrap_or(false),
                });
                let state = v.state().map(|s| s.as_str());
                out.push(record(
                    job,
                    t,
                    id,
                    ec2_tags(v.tags()),
                    state,
                    ec2_arn(job, "vpc", id),
                    details,
                ));
            }
        }),
        ResourceType::Subnet => pages!("ec2:DescribeSubnets", ec2().describe_subnets(), |page| {
            for s in page.subnets() {
                let Some(id) = s.subnet_id() else { continue };
                let details = json!({
                    "vpc_id": s.vpc_id(),
                    "cidr_block": s.cidr_block(),
                    "availability_zone": s.availability_zone(),
                    "map_public_ip_on_launch": s.map_public_ip_on_launch(),
                    "default_for_az": s.default_for_az(),
                });
                let state = s.state().map(|x| x.as_str());
                let arn = s
                    .subnet_arn()
                    .map(str::to_owned)
                    .or_else(|| ec2_arn(job, "subnet", id));
                out.push(record(job, t, id, ec2_tags(s.tags()), state, arn, details));
            }
        }),
        ResourceType::SecurityGroup => pages!(
            "ec2:DescribeSecurityGroups",
            ec2().describe_security_groups(),
            |page| {
                for g in page.security_groups() {
                    let Some(id) = g.group_id() else { continue };
                    let mut tags = ec2_tags(g.tags());
                    if !tags.contains_key("Name")
                        && let Some(n) = g.group_name()
                    {
                        tags.insert("Name".into(), n.to_owned());
                    }
                    let details = json!({
                        "group_name": g.group_name(),
                        "vpc_id": g.vpc_id(),
                        "description": g.description(),
                        "ingress_rules": g.ip_permissions().len(),
                        "egress_rules": g.ip_permissions_egress().len(),
                    });
                    let arn = g
                        .security_group_arn()
                        .map(str::to_owned)
                        .or_else(|| ec2_arn(job, "security-group", id));
                    out.push(record(job, t, id, tags, Some("available"), arn, details));
                }
            }
        ),
        ResourceType::InternetGateway => pages!(
            "ec2:DescribeInternetGateways",
            ec2().describe_internet_gateways(),
            |page| {
                for g in page.internet_gateways() {
                    let Some(id) = g.internet_gateway_id() else {
                        continue;
                    };
                    let vpcs: Vec<&str> =
                        g.attachments().iter().filter_map(|a| a.vpc_id()).collect();
                    let state = if vpcs.is_empty() {
                        "detached"
                    } else {
                        "attached"
                    };
                    let details = json!({ "vpc_ids": vpcs });
                    out.push(record(
                        job,
                        t,
                        id,
                        ec2_tags(g.tags()),
                        Some(state),
                        ec2_arn(job, "internet-gateway", id),
                        details,
                    ));
                }
            }
        ),
        ResourceType::RouteTable => pages!(
            "ec2:DescribeRouteTables",
            ec2().describe_route_tables(),
            |page| {
                for rt in page.route_tables() {
                    let Some(id) = rt.route_table_id() else {
                        continue;
                    };
                    let main = rt.associations().iter().any(|a| a.main().unwrap_or(false));
                    let subnets: Vec<&str> = rt
                        .associations()
                        .iter()
                        .filter_map(|a| a.subnet_id())
                        .collect();
                    let assoc: Vec<&str> = rt
                        .associations()
                        .iter()
                        .filter(|a| !a.main().unwrap_or(false))
                        .filter_map(|a| a.route_table_association_id())
                        .collect();
                    let routes: Vec<Value> = rt
                    .routes()
                    .iter()
                    .map(|x| json!({
                        "destination": x.destination_cidr_block().or(x.destination_ipv6_cidr_block()),
                        "gateway_id": x.gateway_id(),
                        "nat_gateway_id": x.nat_gateway_id(),
                    }))
                    .collect();
                    let details = json!({
                        "vpc_id": rt.vpc_id(),
                        "main": main,
                        "subnet_ids": subnets,
                        "association_ids": assoc,
                        "routes": routes,
                    });
                    out.push(record(
                        job,
                        t,
                        id,
                        ec2_tags(rt.tags()),
                        Some("available"),
                        ec2_arn(job, "route-table", id),
                        details,
                    ));
                }
            }
        ),
        ResourceType::NatGateway => pages!(
            "ec2:DescribeNatGateways",
            ec2().describe_nat_gateways(),
            |page| {
                for n in page.nat_gateways() {
                    let Some(id) = n.nat_gateway_id() else {
                        continue;
                    };
                    let details = json!({
                        "vpc_id": n.vpc_id(),
                        "subnet_id": n.subnet_id(),
                        "public_ips": n.nat_gateway_addresses().iter().filter_map(|a| a.public_ip()).collect::<Vec<_>>(),
                        "allocation_ids": n.nat_gateway_addresses().iter().filter_map(|a| a.allocation_id()).collect::<Vec<_>>(),
                    });
                    let state = n.state().map(|s| s.as_str());
                    out.push(record(
                        job,
                        t,
                        id,
                        ec2_tags(n.tags()),
                        state,
                        ec2_arn(job, "natgateway", id),
                        details,
                    ));
                }
            }
        ),
        ResourceType::EbsVolume => {
            pages!("ec2:DescribeVolumes", ec2().describe_volumes(), |page| {
                for v in page.volumes() {
                    let Some(id) = v.volume_id() else { continue };
                    let details = json!({
                        "size_gb": v.size(),
                        "volume_type": v.volume_type().map(|x| x.as_str()),
                        "encrypted": v.encrypted(),
                        "availability_zone": v.availability_zone(),
                        "instance_ids": v.attachments().iter().filter_map(|a| a.instance_id()).collect::<Vec<_>>(),
                    });
                    let state = v.state().map(|s| s.as_str());
                    out.push(record(
                        job,
                        t,
                        id,
                        ec2_tags(v.tags()),
                        state,
                        ec2_arn(job, "volume", id),
                        details,
                    ));
                }
            })
        }
        ResourceType::ElasticIp => {
            let resp = ec2()
                .describe_addresses()
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ec2:DescribeAddresses", r, e))?;
            for a in resp.addresses() {
                let Some(id) = a.allocation_id() else {
                    continue;
                };
                let state = if a.association_id().is_some() {
                    "associated"
                } else {
                    "unassociated"
                };
                let details = json!({
                    "public_ip": a.public_ip(),
                    "association_id": a.association_id(),
                    "instance_id": a.instance_id(),
                    "network_interface_id": a.network_interface_id(),
                    "domain": a.domain().map(|d| d.as_str()),
                });
                out.push(record(
                    job,
                    t,
                    id,
                    ec2_tags(a.tags()),
                    Some(state),
                    ec2_arn(job, "elastic-ip", id),
                    details,
                ));
            }
        }
        ResourceType::KeyPair => {
            let resp = ec2()
                .describe_key_pairs()
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ec2:DescribeKeyPairs", r, e))?;
            for k in resp.key_pairs() {
                let Some(name) = k.key_name() else { continue };
                let mut tags = ec2_tags(k.tags());
                tags.entry("Name".into()).or_insert_with(|| name.to_owned());
                let details = json!({
                    "key_pair_id": k.key_pair_id(),
                    "fingerprint": k.key_fingerprint(),
                    "key_type": k.key_type().map(|x| x.as_str()),
                });
                let arn = k
                    .key_pair_id()
                    .and_then(|kid| ec2_arn(job, "key-pair", kid));
                out.push(record(job, t, name, tags, Some("available"), arn, details));
            }
        }
        ResourceType::RdsInstance => {
            let mut p = job
                .aws
                .rds(r)
                .describe_db_instances()
                .into_paginator()
                .send();
            while let Some(page) = p.next().await {
                let page = page.map_err(|e| AwsError::from_sdk("rds:DescribeDBInstances", r, e))?;
                for d in page.db_instances() {
                    let Some(id) = d.db_instance_identifier() else {
                        continue;
                    };
                    let tags: BTreeMap<String, String> = d
                        .tag_list()
                        .iter()
                        .filter_map(|t| {
                            Some((
                                t.key()?.to_owned(),
                                t.value().unwrap_or_default().to_owned(),
                            ))
                        })
                        .collect();
                    let details = json!({
                        "engine": d.engine(),
                        "engine_version": d.engine_version(),
                        "instance_class": d.db_instance_class(),
                        "allocated_storage_gb": d.allocated_storage(),
                        "endpoint": d.endpoint().and_then(|e| e.address()),
                        "port": d.endpoint().and_then(|e| e.port()),
                        "publicly_accessible": d.publicly_accessible(),
                        "storage_encrypted": d.storage_encrypted(),
                        "multi_az": d.multi_az(),
                        "db_subnet_group": d.db_subnet_group().and_then(|g| g.db_subnet_group_name()),
                        "vpc_id": d.db_subnet_group().and_then(|g| g.vpc_id()),
                        "security_groups": d.vpc_security_groups().iter().filter_map(|g| g.vpc_security_group_id()).collect::<Vec<_>>(),
                    });
                    out.push(record(
                        job,
                        t,
                        id,
                        tags,
                        d.db_instance_status(),
                        d.db_instance_arn().map(str::to_owned),
                        details,
                    ));
                }
            }
        }
        ResourceType::DbSubnetGroup => {
            let rds = job.aws.rds(r);
            let mut p = rds.describe_db_subnet_groups().into_paginator().send();
            let mut groups = Vec::new();
            while let Some(page) = p.next().await {
                let page =
                    page.map_err(|e| AwsError::from_sdk("rds:DescribeDBSubnetGroups", r, e))?;
                groups.extend(page.db_subnet_groups().iter().cloned());
            }
            for g in groups {
                let Some(name) = g.db_subnet_group_name() else {
                    continue;
                };
                // DescribeDBSubnetGroups carries no tags: one ListTagsForResource per group.
                let tags = match g.db_subnet_group_arn() {
                    Some(arn) => rds
                        .list_tags_for_resource()
                        .resource_name(arn)
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("rds:ListTagsForResource", r, e))?
                        .tag_list()
                        .iter()
                        .filter_map(|t| {
                            Some((
                                t.key()?.to_owned(),
                                t.value().unwrap_or_default().to_owned(),
                            ))
                        })
                        .collect(),
                    None => BTreeMap::new(),
                };
                let mut tags: BTreeMap<String, String> = tags;
                tags.entry("Name".into()).or_insert_with(|| name.to_owned());
                let details = json!({
                    "vpc_id": g.vpc_id(),
                    "description": g.db_subnet_group_description(),
                    "subnet_ids": g.subnets().iter().filter_map(|s| s.subnet_identifier()).collect::<Vec<_>>(),
                });
                out.push(record(
                    job,
                    t,
                    name,
                    tags,
                    g.subnet_group_status(),
                    g.db_subnet_group_arn().map(str::to_owned),
                    details,
                ));
            }
        }
        ResourceType::S3Bucket | ResourceType::IamRole | ResourceType::IamInstanceProfile => {}
    }
    Ok(out)
}

async fn list_global(job: &Job, t: ResourceType) -> Result<Vec<ResourceRecord>, AwsError> {
    match t {
        ResourceType::S3Bucket => list_buckets(job).await,
        ResourceType::IamRole => list_roles(job).await,
        ResourceType::IamInstanceProfile => list_instance_profiles(job).await,
        _ => Ok(Vec::new()),
    }
}

/// The region a `GetBucketLocation` constraint means (empty is us-east-1, `EU` is eu-west-1).
fn bucket_region(constraint: Option<&str>) -> String {
    match constraint {
        None | Some("") => "us-east-1".to_owned(),
        Some("EU") => "eu-west-1".to_owned(),
        Some(r) => r.to_owned(),
    }
}

async fn list_buckets(job: &Job) -> Result<Vec<ResourceRecord>, AwsError> {
    let home = job.aws.home_region().to_owned();
    let s3 = job.aws.s3(&home);
    let mut buckets = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let resp = {
            let _permit = job.sem.acquire().await;
            s3.list_buckets()
                .set_continuation_token(token.clone())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("s3:ListBuckets", &home, e))?
        };
        buckets.extend(resp.buckets().iter().cloned());
        match resp.continuation_token() {
            Some(t) if !t.is_empty() && Some(t) != token.as_deref() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    let records = join_all(buckets.into_iter().map(|b| {
        let (s3, home) = (s3.clone(), home.clone());
        async move {
            let name = b.name()?.to_owned();
            let _permit = job.sem.acquire().await;
            let region = match b.bucket_region() {
                Some(r) => r.to_owned(),
                None => match s3.get_bucket_location().bucket(&name).send().await {
                    Ok(loc) => bucket_region(loc.location_constraint().map(|c| c.as_str())),
                    Err(_) => home.clone(),
                },
            };
            // Tags live in the bucket's region; a bucket without tags answers NoSuchTagSet.
            let tags: BTreeMap<String, String> = match job
                .aws
                .s3(&region)
                .get_bucket_tagging()
                .bucket(&name)
                .send()
                .await
            {
                Ok(t) => t
                    .tag_set()
                    .iter()
                    .map(|t| (t.key().to_owned(), t.value().to_owned()))
                    .collect(),
                Err(_) => BTreeMap::new(),
            };
            let mut rec = ResourceRecord::new(ResourceType::S3Bucket, &name, region.clone(), tags);
            rec.name.get_or_insert_with(|| name.clone());
            rec.account = job.account.clone();
            rec.state = Some("available".into());
            rec.arn = Some(format!("arn:aws:s3:::{name}"));
            rec.details = json!({ "created": b.creation_date().map(|d| d.to_string()) });
            Some(rec)
        }
    }))
    .await;
    Ok(records.into_iter().flatten().collect())
}

fn iam_tags(tags: &[aws_sdk_iam::types::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

async fn list_roles(job: &Job) -> Result<Vec<ResourceRecord>, AwsError> {
    let iam = job.aws.iam();
    let mut roles = Vec::new();
    let mut p = iam.list_roles().into_paginator().send();
    while let Some(page) = p.next().await {
        let _permit = job.sem.acquire().await;
        let page = page.map_err(|e| AwsError::from_sdk("iam:ListRoles", GLOBAL, e))?;
        roles.extend(page.roles().iter().cloned());
    }
    let records = join_all(roles.into_iter().map(|role| {
        let iam = iam.clone();
        async move {
            let name = role.role_name().to_owned();
            // ListRoles does not return tags: ask per role.
            let tags = {
                let _permit = job.sem.acquire().await;
                match iam.list_role_tags().role_name(&name).send().await {
                    Ok(t) => iam_tags(t.tags()),
                    Err(_) => iam_tags(role.tags()),
                }
            };
            let mut rec = ResourceRecord::new(ResourceType::IamRole, &name, GLOBAL, tags);
            rec.name.get_or_insert_with(|| name.clone());
            rec.account = job.account.clone();
            rec.state = Some("available".into());
            rec.arn = Some(role.arn().to_owned());
            rec.details = json!({
                "path": role.path(),
                "role_id": role.role_id(),
                "created": role.create_date().to_string(),
            });
            rec
        }
    }))
    .await;
    Ok(records)
}

async fn list_instance_profiles(job: &Job) -> Result<Vec<ResourceRecord>, AwsError> {
    let iam = job.aws.iam();
    let mut profiles = Vec::new();
    let mut p = iam.list_instance_profiles().into_paginator().send();
    while let Some(page) = p.next().await {
        let _permit = job.sem.acquire().await;
        let page = page.map_err(|e| AwsError::from_sdk("iam:ListInstanceProfiles", GLOBAL, e))?;
        profiles.extend(page.instance_profiles().iter().cloned());
    }
    let records = join_all(profiles.into_iter().map(|ip| {
        let iam = iam.clone();
        async move {
            let name = ip.instance_profile_name().to_owned();
            let tags = {
                let _permit = job.sem.acquire().await;
                match iam
                    .list_instance_profile_tags()
                    .instance_profile_name(&name)
                    .send()
                    .await
                {
                    Ok(t) => iam_tags(t.tags()),
                    Err(_) => iam_tags(ip.tags()),
                }
            };
            let mut rec =
                ResourceRecord::new(ResourceType::IamInstanceProfile, &name, GLOBAL, tags);
            rec.name.get_or_insert_with(|| name.clone());
            rec.account = job.account.clone();
            rec.state = Some("available".into());
            rec.arn = Some(ip.arn().to_owned());
            rec.details = json!({
                "path": ip.path(),
                "roles": ip.roles().iter().map(|r| r.role_name()).collect::<Vec<_>>(),
            });
            rec
        }
    }))
    .await;
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_location_constraints() {
        assert_eq!(bucket_region(None), "us-east-1");
        assert_eq!(bucket_region(Some("")), "us-east-1");
        assert_eq!(bucket_region(Some("EU")), "eu-west-1");
        assert_eq!(bucket_region(Some("ap-south-1")), "ap-south-1");
    }
}
