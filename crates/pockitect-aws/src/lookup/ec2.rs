//! EC2: instances, VPCs and their parts, volumes, Elastic IPs, key pairs.

use std::collections::{BTreeMap, HashSet};

use aws_sdk_ec2::types::{
    Address, Filter, Instance, InternetGateway, KeyPairInfo, NatGateway, RouteTable, SecurityGroup,
    Subnet, Tag, Volume, Vpc,
};
use pockitect_proto::{ResourceRecord, ResourceType};
use serde_json::{Value, json};

use super::{Query, Scope, tag_map};
use crate::{Aws, AwsError};

/// Instance states that still hold a VPC's resources (terminated ones do not).
const LIVE_INSTANCE_STATES: [&str; 5] =
    ["pending", "running", "shutting-down", "stopping", "stopped"];

pub(super) fn filter(name: &str, values: impl IntoIterator<Item = String>) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.into_iter().collect()))
        .build()
}

fn tags(tags: &[Tag]) -> BTreeMap<String, String> {
    tag_map(tags.iter().map(|t| (t.key(), t.value())))
}

/// The ARN of an EC2 resource, built when the account is known (the APIs return few).
fn arn(s: &Scope<'_>, what: &str, id: &str) -> Option<String> {
    (!s.account.is_empty()).then(|| format!("arn:aws:ec2:{}:{}:{what}/{id}", s.region, s.account))
}

/// Lists `kind` per `query`, one converter per SDK type.
pub(super) async fn fetch(
    s: &Scope<'_>,
    kind: ResourceType,
    query: &Query,
) -> Result<Vec<ResourceRecord>, AwsError> {
    let r = s.region;
    let client = s.aws.ec2(r);
    let ids = |q: &Query| match q {
        Query::Ids(ids) => Some(ids.clone()),
        _ => None,
    };
    let in_vpc = |name: &str| match query {
        Query::InVpc(vpc) => vec![filter(name, [vpc.clone()])],
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    match kind {
        ResourceType::Ec2Instance => {
            let mut filters = in_vpc("vpc-id");
            if !filters.is_empty() {
                filters.push(filter(
                    "instance-state-name",
                    LIVE_INSTANCE_STATES.map(str::to_owned),
                ));
            }
            let b = client
                .describe_instances()
                .set_instance_ids(ids(query))
                .set_filters(Some(filters).filter(|f| !f.is_empty()));
            pages!("ec2:DescribeInstances", r, b, |page| {
                for res in page.reservations() {
                    out.extend(res.instances().iter().filter_map(|i| instance(s, i)));
                }
            });
        }
        ResourceType::Vpc => {
            if matches!(query, Query::InVpc(_)) {
                return Ok(out);
            }
            let b = client.describe_vpcs().set_vpc_ids(ids(query));
            pages!("ec2:DescribeVpcs", r, b, |page| {
                out.extend(page.vpcs().iter().filter_map(|v| vpc(s, v)));
            });
        }
        ResourceType::Subnet => {
            let b = client
                .describe_subnets()
                .set_subnet_ids(ids(query))
                .set_filters(Some(in_vpc("vpc-id")).filter(|f| !f.is_empty()));
            pages!("ec2:DescribeSubnets", r, b, |page| {
                out.extend(page.subnets().iter().filter_map(|x| subnet(s, x)));
            });
        }
        ResourceType::SecurityGroup => {
            let b = client
                .describe_security_groups()
                .set_group_ids(ids(query))
                .set_filters(Some(in_vpc("vpc-id")).filter(|f| !f.is_empty()));
            pages!("ec2:DescribeSecurityGroups", r, b, |page| {
                out.extend(
                    page.security_groups()
                        .iter()
                        .filter_map(|g| security_group(s, g)),
                );
            });
        }
        ResourceType::InternetGateway => {
            let b = client
                .describe_internet_gateways()
                .set_internet_gateway_ids(ids(query))
                .set_filters(Some(in_vpc("attachment.vpc-id")).filter(|f| !f.is_empty()));
            pages!("ec2:DescribeInternetGateways", r, b, |page| {
                out.extend(
                    page.internet_gateways()
                        .iter()
                        .filter_map(|g| internet_gateway(s, g)),
                );
            });
        }
        ResourceType::RouteTable => {
            let b = client
                .describe_route_tables()
                .set_route_table_ids(ids(query))
                .set_filters(Some(in_vpc("vpc-id")).filter(|f| !f.is_empty()));
            pages!("ec2:DescribeRouteTables", r, b, |page| {
                out.extend(page.route_tables().iter().filter_map(|t| route_table(s, t)));
            });
        }
        ResourceType::NatGateway => {
            let b = client
                .describe_nat_gateways()
                .set_nat_gateway_ids(ids(query))
                .set_filter(Some(in_vpc("vpc-id")).filter(|f| !f.is_empty()));
            pages!("ec2:DescribeNatGateways", r, b, |page| {
                out.extend(page.nat_gateways().iter().filter_map(|n| nat_gateway(s, n)));
            });
        }
        ResourceType::EbsVolume => {
            if matches!(query, Query::InVpc(_)) {
                return Ok(out);
            }
            let b = client.describe_volumes().set_volume_ids(ids(query));
            pages!("ec2:DescribeVolumes", r, b, |page| {
                out.extend(page.volumes().iter().filter_map(|v| volume(s, v)));
            });
        }
        ResourceType::ElasticIp => {
            let b = client.describe_addresses().set_allocation_ids(ids(query));
            // Addresses have no VPC filter: keep those on the VPC's interfaces.
            let (b, enis) = match query {
                Query::InVpc(vpc) => {
                    let enis: HashSet<String> = vpc_interfaces(s.aws, r, vpc)
                        .await?
                        .into_iter()
                        .map(|e| e.id)
                        .collect();
                    if enis.is_empty() {
                        return Ok(out);
                    }
                    (b.filters(filter("domain", ["vpc".to_owned()])), Some(enis))
                }
                _ => (b, None),
            };
            let resp = b
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ec2:DescribeAddresses", r, e))?;
            out.extend(
                resp.addresses()
                    .iter()
                    .filter(|a| {
                        enis.as_ref().is_none_or(|enis| {
                            a.network_interface_id().is_some_and(|n| enis.contains(n))
                        })
                    })
                    .filter_map(|a| address(s, a)),
            );
        }
        ResourceType::KeyPair => {
            if matches!(query, Query::InVpc(_)) {
                return Ok(out);
            }
            let resp = client
                .describe_key_pairs()
                .set_key_names(ids(query))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ec2:DescribeKeyPairs", r, e))?;
            out.extend(resp.key_pairs().iter().filter_map(|k| key_pair(s, k)));
        }
        _ => {}
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Converters: one per SDK type.

fn instance(s: &Scope<'_>, i: &Instance) -> Option<ResourceRecord> {
    let id = i.instance_id()?;
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
    let state = i.state().and_then(|x| x.name()).map(|n| n.as_str());
    Some(s.record(
        ResourceType::Ec2Instance,
        id,
        tags(i.tags()),
        state,
        arn(s, "instance", id),
        details,
    ))
}

fn vpc(s: &Scope<'_>, v: &Vpc) -> Option<ResourceRecord> {
    let id = v.vpc_id()?;
    let details = json!({
        "cidr_block": v.cidr_block(),
        "is_default": v.is_default().unwrap_or(false),
    });
    Some(s.record(
        ResourceType::Vpc,
        id,
        tags(v.tags()),
        v.state().map(|x| x.as_str()),
        arn(s, "vpc", id),
        details,
    ))
}

fn subnet(s: &Scope<'_>, x: &Subnet) -> Option<ResourceRecord> {
    let id = x.subnet_id()?;
    let details = json!({
        "vpc_id": x.vpc_id(),
        "cidr_block": x.cidr_block(),
        "availability_zone": x.availability_zone(),
        "map_public_ip_on_launch": x.map_public_ip_on_launch(),
        "default_for_az": x.default_for_az(),
    });
    let arn = x
        .subnet_arn()
        .map(str::to_owned)
        .or_else(|| arn(s, "subnet", id));
    Some(s.record(
        ResourceType::Subnet,
        id,
        tags(x.tags()),
        x.state().map(|x| x.as_str()),
        arn,
        details,
    ))
}

fn security_group(s: &Scope<'_>, g: &SecurityGroup) -> Option<ResourceRecord> {
    let id = g.group_id()?;
    let mut tags = tags(g.tags());
    // Groups are known by their name; show it where no Name tag is set.
    if let Some(n) = g.group_name() {
        tags.entry("Name".into()).or_insert_with(|| n.to_owned());
    }
    let details = json!({
        "group_name": g.group_name(),
        "vpc_id": g.vpc_id(),
        "description": g.description(),
        "is_default": g.group_name() == Some("default"),
        "ingress_rules": g.ip_permissions().len(),
        "egress_rules": g.ip_permissions_egress().len(),
    });
    let arn = g
        .security_group_arn()
        .map(str::to_owned)
        .or_else(|| arn(s, "security-group", id));
    Some(s.record(
        ResourceType::SecurityGroup,
        id,
        tags,
        Some("available"),
        arn,
        details,
    ))
}

fn internet_gateway(s: &Scope<'_>, g: &InternetGateway) -> Option<ResourceRecord> {
    let id = g.internet_gateway_id()?;
    let vpcs: Vec<&str> = g.attachments().iter().filter_map(|a| a.vpc_id()).collect();
    let state = if vpcs.is_empty() {
        "detached"
    } else {
        "attached"
    };
    Some(s.record(
        ResourceType::InternetGateway,
        id,
        tags(g.tags()),
        Some(state),
        arn(s, "internet-gateway", id),
        json!({ "vpc_ids": vpcs }),
    ))
}

fn route_table(s: &Scope<'_>, t: &RouteTable) -> Option<ResourceRecord> {
    let id = t.route_table_id()?;
    let is_main = |a: &aws_sdk_ec2::types::RouteTableAssociation| a.main() == Some(true);
    let main = t.associations().iter().any(is_main);
    let subnets: Vec<&str> = t
        .associations()
        .iter()
        .filter_map(|a| a.subnet_id())
        .collect();
    // The main association cannot be removed: it goes with the table.
    let assoc: Vec<&str> = t
        .associations()
        .iter()
        .filter(|a| !is_main(a))
        .filter_map(|a| a.route_table_association_id())
        .collect();
    let routes: Vec<Value> = t
        .routes()
        .iter()
        .map(|x| {
            json!({
                "destination": x.destination_cidr_block().or(x.destination_ipv6_cidr_block()),
                "gateway_id": x.gateway_id(),
                "nat_gateway_id": x.nat_gateway_id(),
            })
        })
        .collect();
    let details = json!({
        "vpc_id": t.vpc_id(),
        "main": main,
        "subnet_ids": subnets,
        "association_ids": assoc,
        "routes": routes,
    });
    Some(s.record(
        ResourceType::RouteTable,
        id,
        tags(t.tags()),
        Some("available"),
        arn(s, "route-table", id),
        details,
    ))
}

fn nat_gateway(s: &Scope<'_>, n: &NatGateway) -> Option<ResourceRecord> {
    let id = n.nat_gateway_id()?;
    let addrs = n.nat_gateway_addresses();
    let public_ips: Vec<&str> = addrs.iter().filter_map(|a| a.public_ip()).collect();
    let details = json!({
        "vpc_id": n.vpc_id(),
        "subnet_id": n.subnet_id(),
        "public_ip": public_ips.first(),
        "public_ips": public_ips,
        "allocation_ids": addrs.iter().filter_map(|a| a.allocation_id()).collect::<Vec<_>>(),
    });
    Some(s.record(
        ResourceType::NatGateway,
        id,
        tags(n.tags()),
        n.state().map(|x| x.as_str()),
        arn(s, "natgateway", id),
        details,
    ))
}

fn volume(s: &Scope<'_>, v: &Volume) -> Option<ResourceRecord> {
    let id = v.volume_id()?;
    let details = json!({
        "size_gb": v.size(),
        "volume_type": v.volume_type().map(|x| x.as_str()),
        "encrypted": v.encrypted(),
        "availability_zone": v.availability_zone(),
        "instance_ids": v.attachments().iter().filter_map(|a| a.instance_id()).collect::<Vec<_>>(),
    });
    Some(s.record(
        ResourceType::EbsVolume,
        id,
        tags(v.tags()),
        v.state().map(|x| x.as_str()),
        arn(s, "volume", id),
        details,
    ))
}

fn address(s: &Scope<'_>, a: &Address) -> Option<ResourceRecord> {
    let id = a.allocation_id()?;
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
    Some(s.record(
        ResourceType::ElasticIp,
        id,
        tags(a.tags()),
        Some(state),
        arn(s, "elastic-ip", id),
        details,
    ))
}

fn key_pair(s: &Scope<'_>, k: &KeyPairInfo) -> Option<ResourceRecord> {
    let name = k.key_name()?;
    let mut tags = tags(k.tags());
    tags.entry("Name".into()).or_insert_with(|| name.to_owned());
    let details = json!({
        "key_pair_id": k.key_pair_id(),
        "fingerprint": k.key_fingerprint(),
        "key_type": k.key_type().map(|x| x.as_str()),
    });
    let arn = k.key_pair_id().and_then(|kid| arn(s, "key-pair", kid));
    Some(s.record(
        ResourceType::KeyPair,
        name,
        tags,
        Some("available"),
        arn,
        details,
    ))
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
                tags: tags(n.tag_set()),
            });
        }
    });
    Ok(out)
}
