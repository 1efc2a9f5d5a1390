//! Refresh: what recorded resources look like now. Describe calls are batched per region and
//! type (DescribeInstances with up to 100 ids, …); a resource that is gone is reported as
//! `exists: false` for its own id, never as a failure of the whole batch.
//!
//! The describers here are shared with `terminate` (which needs each target's tags, state and
//! relations before it decides anything) and `power`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;

use aws_sdk_ec2::types::Filter;
use futures::StreamExt;
use pockitect_proto::{ResourceRecord, ResourceType, TerminateTarget};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{Aws, AwsError};

/// The region IAM resources carry (they belong to the account, not a region).
pub(crate) const GLOBAL: &str = "global";
/// Ids per Describe call (EC2 accepts up to 1000 ids or 200 filter values; RDS 100 filter values).
const BATCH: usize = 100;
/// Describe calls in flight at once for one refresh.
const CONCURRENCY: usize = 8;

/// The current state of one recorded resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshedState {
    pub target: TerminateTarget,
    /// False when AWS no longer knows the resource (or only as terminated/deleted).
    pub exists: bool,
    /// AWS's state (`running`, `stopped`, `available`, `terminated`, …) when it reports one.
    pub state: Option<String>,
    /// Public IPv4 address (EC2 instances, Elastic IPs).
    pub public_ip: Option<String>,
    /// Endpoint address (RDS instances).
    pub endpoint: Option<String>,
    /// Why the state could not be read (AccessDenied, network, …); `exists` is then true (not
    /// known to be gone) and `state` is None.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Describes each target, in the order given (duplicates answered once each).
pub async fn describe(aws: &Aws, targets: Vec<TerminateTarget>) -> Vec<RefreshedState> {
    let found = describe_targets(aws, &targets, CONCURRENCY).await;
    targets
        .into_iter()
        .map(|target| {
            let key = key_of(target.kind, &target.id);
            if let Some(rec) = found.found.get(&key) {
                let state = rec.state.clone();
                let gone = matches!(
                    (rec.kind, state.as_deref()),
                    (ResourceType::Ec2Instance, Some("terminated"))
                        | (ResourceType::NatGateway, Some("deleted"))
                );
                let text = |k: &str| {
                    rec.details
                        .get(k)
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                };
                RefreshedState {
                    exists: !gone,
                    state,
                    public_ip: text("public_ip"),
                    endpoint: text("endpoint"),
                    error: None,
                    target,
                }
            } else if let Some(f) = found.failed.get(&key) {
                RefreshedState {
                    exists: true,
                    state: None,
                    public_ip: None,
                    endpoint: None,
                    error: Some(format!("{}: {}", f.code, f.message)),
                    target,
                }
            } else {
                RefreshedState {
                    exists: false,
                    state: None,
                    public_ip: None,
                    endpoint: None,
                    error: None,
                    target,
                }
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Shared describers

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

/// Describes targets grouped by region and type: `concurrency` groups at once, each with up
/// to 4 calls in flight (buckets and IAM are described one by one).
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
    let results: Vec<Described> = futures::stream::iter(groups)
        .map(|((region, kind), ids)| async move { lookup(aws, &region, kind, ids).await })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut all = Described::default();
    for d in results {
        all.found.extend(d.found);
        all.missing.extend(d.missing);
        all.failed.extend(d.failed);
    }
    all
}

/// Describes `ids` of one type in one region: in batches where the API takes several ids, one
/// by one where it does not; a NotFound answer for a batch is split per id.
async fn lookup(aws: &Aws, region: &str, kind: ResourceType, ids: Vec<String>) -> Described {
    let batch = if batched(kind) { BATCH } else { 1 };
    let chunks: Vec<Vec<String>> = ids.chunks(batch).map(<[String]>::to_vec).collect();
    let parts: Vec<Described> = futures::stream::iter(chunks)
        .map(|chunk| {
            lookup_chunk(kind, chunk, move |ids| {
                fetch(aws, region, kind, Query::Ids(ids))
            })
        })
        .buffer_unordered(4)
        .collect()
        .await;
    let mut all = Described::default();
    for d in parts {
        all.found.extend(d.found);
        all.missing.extend(d.missing);
        all.failed.extend(d.failed);
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

fn batched(kind: ResourceType) -> bool {
    !matches!(
        kind,
        ResourceType::S3Bucket
            | ResourceType::IamRole
            | ResourceType::IamInstanceProfile
            | ResourceType::DbSubnetGroup
    )
}

/// What to describe: these ids, or everything inside a VPC.
pub(crate) enum Query {
    Ids(Vec<String>),
    InVpc(String),
}

/// Describes resources of one type. `InVpc` answers for the types that live in a VPC
/// (instances, subnets, security groups, route tables, attached internet gateways, NAT
/// gateways, Elastic IPs on its interfaces, RDS instances and DB subnet groups) and is empty
/// for the rest.
pub(crate) async fn fetch(
    aws: &Aws,
    region: &str,
    kind: ResourceType,
    query: Query,
) -> Result<Vec<ResourceRecord>, AwsError> {
    let mut records = fetch_raw(aws, region, kind, query).await?;
    for r in &mut records {
        r.kind = kind;
    }
    Ok(records)
}

fn filter(name: &str, values: impl IntoIterator<Item = String>) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.into_iter().collect()))
        .build()
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

fn rds_tags(tags: &[aws_sdk_rds::types::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

fn iam_tags(tags: &[aws_sdk_iam::types::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

fn rec(
    kind: ResourceType,
    id: &str,
    region: &str,
    tags: BTreeMap<String, String>,
    state: Option<&str>,
    details: Value,
) -> ResourceRecord {
    let mut r = ResourceRecord::new(kind, id, region, tags);
    r.state = state.map(str::to_owned);
    r.details = details;
    r
}

macro_rules! pages {
    ($op:literal, $region:expr, $builder:expr, |$page:ident| $body:block) => {{
        let mut p = $builder.into_paginator().send();
        while let Some(page) = p.next().await {
            let $page = page.map_err(|e| AwsError::from_sdk($op, $region, e))?;
            $body
        }
    }};
}

async fn fetch_raw(
    aws: &Aws,
    region: &str,
    kind: ResourceType,
    query: Query,
) -> Result<Vec<ResourceRecord>, AwsError> {
    let r = region;
    let ec2 = || aws.ec2(r);
    let mut out = Vec::new();
    match kind {
        ResourceType::Ec2Instance => {
            let b = ec2().describe_instances();
            let b = match &query {
                Query::Ids(ids) => b.set_instance_ids(Some(ids.clone())),
                Query::InVpc(vpc) => b.filters(filter("vpc-id", [vpc.clone()])).filters(filter(
                    "instance-state-name",
                    ["pending", "running", "shutting-down", "stopping", "stopped"]
                        .map(str::to_owned),
                )),
            };
            pages!("ec2:DescribeInstances", r, b, |page| {
                for res in page.reservations() {
                    for i in res.instances() {
                        let Some(id) = i.instance_id() else { continue };
                        let sgs: Vec<&str> = i
                            .security_groups()
                            .iter()
                            .filter_map(|g| g.group_id())
                            .collect();
                        let details = json!({
                            "vpc_id": i.vpc_id(),
                            "subnet_id": i.subnet_id(),
                            "public_ip": i.public_ip_address(),
                            "private_ip": i.private_ip_address(),
                            "key_name": i.key_name(),
                            "security_groups": sgs,
                            "iam_instance_profile": i.iam_instance_profile().and_then(|p| p.arn()),
                            "instance_type": i.instance_type().map(|x| x.as_str()),
                        });
                        let state = i.state().and_then(|s| s.name()).map(|n| n.as_str());
                        out.push(rec(kind, id, r, ec2_tags(i.tags()), state, details));
                    }
                }
            });
        }
        ResourceType::Vpc => {
            let Query::Ids(ids) = query else {
                return Ok(out);
            };
            let b = ec2().describe_vpcs().set_vpc_ids(Some(ids));
            pages!("ec2:DescribeVpcs", r, b, |page| {
                for v in page.vpcs() {
                    let Some(id) = v.vpc_id() else { continue };
                    let details = json!({
                        "cidr_block": v.cidr_block(),
                        "is_default": v.is_default().unwrap_or(false),
                    });
                    let state = v.state().map(|s| s.as_str());
                    out.push(rec(kind, id, r, ec2_tags(v.tags()), state, details));
                }
            });
        }
        ResourceType::Subnet => {
            let b = ec2().describe_subnets();
            let b = match query {
                Query::Ids(ids) => b.set_subnet_ids(Some(ids)),
                Query::InVpc(vpc) => b.filters(filter("vpc-id", [vpc])),
            };
            pages!("ec2:DescribeSubnets", r, b, |page| {
                for s in page.subnets() {
                    let Some(id) = s.subnet_id() else { continue };
                    let details = json!({
                        "vpc_id": s.vpc_id(),
                        "cidr_block": s.cidr_block(),
                        "default_for_az": s.default_for_az(),
                    });
                    let state = s.state().map(|x| x.as_str());
                    out.push(rec(kind, id, r, ec2_tags(s.tags()), state, details));
                }
            });
        }
        ResourceType::SecurityGroup => {
            let b = ec2().describe_security_groups();
            let b = match query {
                Query::Ids(ids) => b.set_group_ids(Some(ids)),
                Query::InVpc(vpc) => b.filters(filter("vpc-id", [vpc])),
            };
            pages!("ec2:DescribeSecurityGroups", r, b, |page| {
                for g in page.security_groups() {
                    let Some(id) = g.group_id() else { continue };
                    let details = json!({
                        "vpc_id": g.vpc_id(),
                        "group_name": g.group_name(),
                        "is_default": g.group_name() == Some("default"),
                    });
                    out.push(rec(
                        kind,
                        id,
                        r,
                        ec2_tags(g.tags()),
                        Some("available"),
                        details,
                    ));
                }
            });
        }
        ResourceType::InternetGateway => {
            let b = ec2().describe_internet_gateways();
            let b = match query {
                Query::Ids(ids) => b.set_internet_gateway_ids(Some(ids)),
                Query::InVpc(vpc) => b.filters(filter("attachment.vpc-id", [vpc])),
            };
            pages!("ec2:DescribeInternetGateways", r, b, |page| {
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
                    out.push(rec(kind, id, r, ec2_tags(g.tags()), Some(state), details));
                }
            });
        }
        ResourceType::RouteTable => {
            let b = ec2().describe_route_tables();
            let b = match query {
                Query::Ids(ids) => b.set_route_table_ids(Some(ids)),
                Query::InVpc(vpc) => b.filters(filter("vpc-id", [vpc])),
            };
            pages!("ec2:DescribeRouteTables", r, b, |page| {
                for t in page.route_tables() {
                    let Some(id) = t.route_table_id() else {
                        continue;
                    };
                    let main = t.associations().iter().any(|a| a.main() == Some(true));
                    let assoc: Vec<&str> = t
                        .associations()
                        .iter()
                        .filter(|a| a.main() != Some(true))
                        .filter_map(|a| a.route_table_association_id())
                        .collect();
                    let details = json!({
                        "vpc_id": t.vpc_id(),
                        "main": main,
                        "association_ids": assoc,
                    });
                    out.push(rec(
                        kind,
                        id,
                        r,
                        ec2_tags(t.tags()),
                        Some("available"),
                        details,
                    ));
                }
            });
        }
        ResourceType::NatGateway => {
            let b = ec2().describe_nat_gateways();
            let b = match query {
                Query::Ids(ids) => b.set_nat_gateway_ids(Some(ids)),
                Query::InVpc(vpc) => b.filter(filter("vpc-id", [vpc])),
            };
            pages!("ec2:DescribeNatGateways", r, b, |page| {
                for n in page.nat_gateways() {
                    let Some(id) = n.nat_gateway_id() else {
                        continue;
                    };
                    let addrs = n.nat_gateway_addresses();
                    let details = json!({
                        "vpc_id": n.vpc_id(),
                        "subnet_id": n.subnet_id(),
                        "public_ip": addrs.iter().find_map(|a| a.public_ip()),
                        "allocation_ids": addrs.iter().filter_map(|a| a.allocation_id()).collect::<Vec<_>>(),
                    });
                    let state = n.state().map(|s| s.as_str());
                    out.push(rec(kind, id, r, ec2_tags(n.tags()), state, details));
                }
            });
        }
        ResourceType::EbsVolume => {
            let Query::Ids(ids) = query else {
                return Ok(out);
            };
            let b = ec2().describe_volumes().set_volume_ids(Some(ids));
            pages!("ec2:DescribeVolumes", r, b, |page| {
                for v in page.volumes() {
                    let Some(id) = v.volume_id() else { continue };
                    let details = json!({
                        "size_gb": v.size(),
                        "instance_ids": v.attachments().iter().filter_map(|a| a.instance_id()).collect::<Vec<_>>(),
                    });
                    let state = v.state().map(|s| s.as_str());
                    out.push(rec(kind, id, r, ec2_tags(v.tags()), state, details));
                }
            });
        }
        ResourceType::ElasticIp => {
            let b = ec2().describe_addresses();
            let (b, enis) = match query {
                Query::Ids(ids) => (b.set_allocation_ids(Some(ids)), None),
                Query::InVpc(vpc) => {
                    // Addresses have no VPC filter: keep those on the VPC's interfaces.
                    let enis: HashSet<String> = vpc_interfaces(aws, r, &vpc)
                        .await?
                        .into_iter()
                        .map(|e| e.id)
                        .collect();
                    if enis.is_empty() {
                        return Ok(out);
                    }
                    (b.filters(filter("domain", ["vpc".to_owned()])), Some(enis))
                }
            };
            let resp = b
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ec2:DescribeAddresses", r, e))?;
            for a in resp.addresses() {
                let Some(id) = a.allocation_id() else {
                    continue;
                };
                if let Some(enis) = &enis
                    && !a.network_interface_id().is_some_and(|n| enis.contains(n))
                {
                    continue;
                }
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
                });
                out.push(rec(kind, id, r, ec2_tags(a.tags()), Some(state), details));
            }
        }
        ResourceType::KeyPair => {
            let Query::Ids(ids) = query else {
                return Ok(out);
            };
            let resp = ec2()
                .describe_key_pairs()
                .set_key_names(Some(ids))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ec2:DescribeKeyPairs", r, e))?;
            for k in resp.key_pairs() {
                let Some(name) = k.key_name() else { continue };
                let mut tags = ec2_tags(k.tags());
                tags.entry("Name".into()).or_insert_with(|| name.to_owned());
                let details = json!({ "key_pair_id": k.key_pair_id() });
                out.push(rec(kind, name, r, tags, Some("available"), details));
            }
        }
        ResourceType::RdsInstance => {
            let b = aws.rds(r).describe_db_instances();
            let (b, vpc) = match query {
                Query::Ids(ids) => (
                    b.filters(
                        aws_sdk_rds::types::Filter::builder()
                            .name("db-instance-id")
                            .set_values(Some(ids))
                            .build(),
                    ),
                    None,
                ),
                Query::InVpc(vpc) => (b, Some(vpc)),
            };
            pages!("rds:DescribeDBInstances", r, b, |page| {
                for d in page.db_instances() {
                    let Some(id) = d.db_instance_identifier() else {
                        continue;
                    };
                    let in_vpc = d.db_subnet_group().and_then(|g| g.vpc_id());
                    if vpc.as_deref().is_some_and(|v| in_vpc != Some(v)) {
                        continue;
                    }
                    let details = json!({
                        "endpoint": d.endpoint().and_then(|e| e.address()),
                        "port": d.endpoint().and_then(|e| e.port()),
                        "vpc_id": in_vpc,
                        "db_subnet_group": d.db_subnet_group().and_then(|g| g.db_subnet_group_name()),
                        "deletion_protection": d.deletion_protection(),
                    });
                    let mut x = rec(
                        kind,
                        id,
                        r,
                        rds_tags(d.tag_list()),
                        d.db_instance_status(),
                        details,
                    );
                    x.arn = d.db_instance_arn().map(str::to_owned);
                    out.push(x);
                }
            });
        }
        ResourceType::DbSubnetGroup => {
            let rds = aws.rds(r);
            let b = rds.describe_db_subnet_groups();
            let (b, vpc) = match query {
                Query::Ids(ids) => (b.set_db_subnet_group_name(ids.into_iter().next()), None),
                Query::InVpc(vpc) => (b, Some(vpc)),
            };
            let mut groups = Vec::new();
            pages!("rds:DescribeDBSubnetGroups", r, b, |page| {
                groups.extend(
                    page.db_subnet_groups()
                        .iter()
                        .filter(|g| vpc.is_none() || g.vpc_id() == vpc.as_deref())
                        .cloned(),
                );
            });
            for g in groups {
                let Some(name) = g.db_subnet_group_name() else {
                    continue;
                };
                // DescribeDBSubnetGroups carries no tags.
                let mut tags = match g.db_subnet_group_arn() {
                    Some(arn) => rds_tags(
                        rds.list_tags_for_resource()
                            .resource_name(arn)
                            .send()
                            .await
                            .map_err(|e| AwsError::from_sdk("rds:ListTagsForResource", r, e))?
                            .tag_list(),
                    ),
                    None => BTreeMap::new(),
                };
                tags.entry("Name".into()).or_insert_with(|| name.to_owned());
                let details = json!({ "vpc_id": g.vpc_id() });
                let mut x = rec(kind, name, r, tags, g.subnet_group_status(), details);
                x.arn = g.db_subnet_group_arn().map(str::to_owned);
                out.push(x);
            }
        }
        ResourceType::S3Bucket => {
            let Query::Ids(ids) = query else {
                return Ok(out);
            };
            for name in ids {
                if let Some(b) = describe_bucket(aws, &name).await? {
                    out.push(b);
                }
            }
        }
        ResourceType::IamRole => {
            let Query::Ids(ids) = query else {
                return Ok(out);
            };
            let iam = aws.iam();
            for name in ids {
                let role = iam
                    .get_role()
                    .role_name(&name)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("iam:GetRole", GLOBAL, e))?;
                let Some(role) = role.role() else { continue };
                let tags = match iam.list_role_tags().role_name(&name).send().await {
                    Ok(t) => iam_tags(t.tags()),
                    Err(_) => iam_tags(role.tags()),
                };
                let mut x = rec(
                    kind,
                    role.role_name(),
                    GLOBAL,
                    tags,
                    Some("available"),
                    json!({ "path": role.path() }),
                );
                x.name.get_or_insert_with(|| name.clone());
                x.arn = Some(role.arn().to_owned());
                out.push(x);
            }
        }
        ResourceType::IamInstanceProfile => {
            let Query::Ids(ids) = query else {
                return Ok(out);
            };
            let iam = aws.iam();
            for name in ids {
                let resp = iam
                    .get_instance_profile()
                    .instance_profile_name(&name)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("iam:GetInstanceProfile", GLOBAL, e))?;
                let Some(ip) = resp.instance_profile() else {
                    continue;
                };
                let tags = match iam
                    .list_instance_profile_tags()
                    .instance_profile_name(&name)
                    .send()
                    .await
                {
                    Ok(t) => iam_tags(t.tags()),
                    Err(_) => iam_tags(ip.tags()),
                };
                let roles: Vec<&str> = ip.roles().iter().map(|r| r.role_name()).collect();
                let mut x = rec(
                    kind,
                    ip.instance_profile_name(),
                    GLOBAL,
                    tags,
                    Some("available"),
                    json!({ "roles": roles }),
                );
                x.name.get_or_insert_with(|| name.clone());
                x.arn = Some(ip.arn().to_owned());
                out.push(x);
            }
        }
    }
    Ok(out)
}

/// A bucket with its real region and tags; None when it does not exist.
async fn describe_bucket(aws: &Aws, name: &str) -> Result<Option<ResourceRecord>, AwsError> {
    let home = aws.home_region();
    let loc = match aws.s3(home).get_bucket_location().bucket(name).send().await {
        Ok(loc) => loc,
        Err(e) => {
            let e = AwsError::from_sdk("s3:GetBucketLocation", home, e);
            if is_not_found(e.code()) {
                return Ok(None);
            }
            return Err(e);
        }
    };
    let region = match loc.location_constraint().map(|c| c.as_str()) {
        None | Some("") => "us-east-1".to_owned(),
        Some("EU") => "eu-west-1".to_owned(),
        Some(r) => r.to_owned(),
    };
    let tags = match aws
        .s3(&region)
        .get_bucket_tagging()
        .bucket(name)
        .send()
        .await
    {
        Ok(t) => t
            .tag_set()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect(),
        Err(e) => {
            let e = AwsError::from_sdk("s3:GetBucketTagging", &region, e);
            match e.code() {
                "NoSuchTagSet" => BTreeMap::new(),
                c if is_not_found(c) => return Ok(None),
                _ => return Err(e),
            }
        }
    };
    let mut b = rec(
        ResourceType::S3Bucket,
        name,
        &region,
        tags,
        Some("available"),
        json!({}),
    );
    b.name.get_or_insert_with(|| name.to_owned());
    b.arn = Some(format!("arn:aws:s3:::{name}"));
    Ok(Some(b))
}

/// A network interface of a VPC, as terminate needs it.
#[derive(Clone, Debug)]
pub(crate) struct Interface {
    pub id: String,
    /// `available` (detached) or `in-use`.
    pub status: String,
    /// Created by a service for its own use (NAT gateway, RDS, load balancer).
    pub requester_managed: bool,
    pub tags: BTreeMap<String, String>,
}

pub(crate) async fn vpc_interfaces(
    aws: &Aws,
    region: &str,
    vpc: &str,
) -> Result<Vec<Interface>, AwsError> {
    let mut out = Vec::new();
    let b = aws
        .ec2(region)
        .describe_network_interfaces()
        .filters(filter("vpc-id", [vpc.to_owned()]));
    pages!("ec2:DescribeNetworkInterfaces", region, b, |page| {
        for n in page.network_interfaces() {
            let Some(id) = n.network_interface_id() else {
                continue;
            };
            out.push(Interface {
                id: id.to_owned(),
                status: n
                    .status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                requester_managed: n.requester_managed().unwrap_or(false),
                tags: ec2_tags(n.tag_set()),
            });
        }
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_codes() {
        for c in [
            "InvalidInstanceID.NotFound",
            "InvalidVpcID.NotFound",
            "DBInstanceNotFound",
            "DBSubnetGroupNotFoundFault",
            "NoSuchBucket",
            "NoSuchEntity",
            "InvalidGroup.NotFound",
            "InvalidInstanceID.Malformed",
            "NotFound",
        ] {
            assert!(is_not_found(c), "{c}");
        }
        for c in [
            "DependencyViolation",
            "AccessDenied",
            "NoSuchTagSet",
            "network",
        ] {
            assert!(!is_not_found(c), "{c}");
        }
    }

    #[tokio::test]
    async fn a_not_found_batch_is_split_per_id() {
        let calls = std::sync::Mutex::new(Vec::new());
        let existing = ["a", "c"];
        let call = |ids: Vec<String>| {
            calls.lock().unwrap().push(ids.clone());
            async move {
                if ids.iter().any(|i| !existing.contains(&i.as_str())) {
                    return Err(AwsError::Api {
                        operation: "ec2:DescribeInstances",
                        region: "r".into(),
                        code: "InvalidInstanceID.NotFound".into(),
                        message: "gone".into(),
                    });
                }
                Ok(ids
                    .iter()
                    .map(|i| {
                        ResourceRecord::new(ResourceType::Ec2Instance, i, "r", BTreeMap::new())
                    })
                    .collect())
            }
        };
        let kind = ResourceType::Ec2Instance;
        let d = lookup_chunk(kind, vec!["a".into(), "b".into(), "c".into()], call).await;
        assert_eq!(d.found.len(), 2);
        assert!(d.missing.contains(&key_of(kind, "b")));
        assert!(d.failed.is_empty());
        assert_eq!(
            calls.lock().unwrap().len(),
            4,
            "one batch, then one call per id"
        );
    }
}
