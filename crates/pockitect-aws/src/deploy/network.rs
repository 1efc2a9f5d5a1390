//! VPC, internet gateway, route table, subnets and security group, for the four VPC modes:
//! `default` (the region's default VPC and its default subnets), `new` (everything created for
//! the project), `existing` (the user's VPC, verified; subnets chosen in it) and `shared` (one
//! Pockitect-managed VPC per environment, created with its gateway, routes and two subnets on
//! first need, tagged `pockitect:vpc-env=<env>` and used by several projects).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{
    AttributeBooleanValue, Filter, IpPermission, IpRange, Ipv6Range, ResourceType, Subnet, Tag,
    TagSpecification, UserIdGroupPair,
};
use pockitect_blueprint::{SubnetType, VpcMode};

use super::engine::{Found, Run, lock};
use super::util::EngineError;
use super::util::{
    CODE_CONFLICT, CODE_INVALID, CODE_NOT_FOUND, Ipv4Block, project_tags, sdk_code, shared_tags,
};
use super::{Action, DeploySink, Resource, StepError, TAG_RESOURCE, TAG_VPC_ENV};

pub(crate) fn filter(name: &str, values: &[&str]) -> Filter {
    let mut b = Filter::builder().name(name);
    for v in values {
        b = b.values(*v);
    }
    b.build()
}

pub(crate) fn tag_spec(rt: ResourceType, tags: &BTreeMap<String, String>) -> TagSpecification {
    let mut b = TagSpecification::builder().resource_type(rt);
    for (k, v) in tags {
        b = b.tags(Tag::builder().key(k).value(v).build());
    }
    b.build()
}

pub(crate) fn has_tag(tags: &[Tag], key: &str, value: &str) -> bool {
    tags.iter()
        .any(|t| t.key() == Some(key) && t.value() == Some(value))
}

/// One ingress permission, normalised for comparison (descriptions ignored).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Perm {
    pub proto: String,
    pub from: Option<i32>,
    pub to: Option<i32>,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Source {
    V4(String),
    V6(String),
    Group(String),
}

fn norm_proto(p: &str) -> String {
    match p.to_ascii_lowercase().as_str() {
        "6" => "tcp".to_owned(),
        "17" => "udp".to_owned(),
        "1" => "icmp".to_owned(),
        "icmpv6" => "58".to_owned(),
        "all" => "-1".to_owned(),
        other => other.to_owned(),
    }
}

impl Perm {
    fn new(proto: &str, from: Option<i32>, to: Option<i32>, source: Source) -> Perm {
        let proto = norm_proto(proto);
        let (from, to) = if proto == "-1" {
            (None, None)
        } else {
            (from, to)
        };
        Perm {
            proto,
            from,
            to,
            source,
        }
    }

    fn to_ip_permission(&self, description: &str) -> IpPermission {
        let mut b = IpPermission::builder().ip_protocol(&self.proto);
        if let Some(f) = self.from {
            b = b.from_port(f);
        }
        if let Some(t) = self.to {
            b = b.to_port(t);
        }
        let desc = (!description.is_empty()).then(|| description.to_owned());
        match &self.source {
            Source::V4(c) => {
                b = b.ip_ranges(IpRange::builder().cidr_ip(c).set_description(desc).build())
            }
            Source::V6(c) => {
                b = b.ipv6_ranges(
                    Ipv6Range::builder()
                        .cidr_ipv6(c)
                        .set_description(desc)
                        .build(),
                )
            }
            Source::Group(g) => {
                b = b.user_id_group_pairs(
                    UserIdGroupPair::builder()
                        .group_id(g)
                        .set_description(desc)
                        .build(),
                )
            }
        }
        b.build()
    }
}

/// Flattens what EC2 reports into one `Perm` per source.
fn existing_perms(perms: &[IpPermission]) -> BTreeSet<Perm> {
    let mut out = BTreeSet::new();
    for p in perms {
        let proto = p.ip_protocol().unwrap_or("-1");
        for r in p.ip_ranges() {
            if let Some(c) = r.cidr_ip() {
                out.insert(Perm::new(
                    proto,
                    p.from_port(),
                    p.to_port(),
                    Source::V4(c.to_owned()),
                ));
            }
        }
        for r in p.ipv6_ranges() {
            if let Some(c) = r.cidr_ipv6() {
                out.insert(Perm::new(
                    proto,
                    p.from_port(),
                    p.to_port(),
                    Source::V6(c.to_owned()),
                ));
            }
        }
        for g in p.user_id_group_pairs() {
            if let Some(id) = g.group_id() {
                out.insert(Perm::new(
                    proto,
                    p.from_port(),
                    p.to_port(),
                    Source::Group(id.to_owned()),
                ));
            }
        }
    }
    out
}

impl<S: DeploySink> Run<'_, S> {
    fn vpc_mode(&self) -> &VpcMode {
        &self.cfg.network.vpc_mode
    }

    fn shared_env(&self) -> String {
        self.cfg
            .network
            .vpc_env
            .clone()
            .unwrap_or_default()
            .as_str()
            .to_owned()
    }

    /// True for resources that belong to the shared per-environment VPC.
    fn is_shared(&self, r: Resource) -> bool {
        *self.vpc_mode() == VpcMode::Shared
            && matches!(
                r,
                Resource::Vpc
                    | Resource::InternetGateway
                    | Resource::RouteTable
                    | Resource::Subnet
                    | Resource::SecondarySubnet
            )
    }

    /// The tags a network resource is created with.
    pub(crate) fn tags_for(&self, r: Resource) -> BTreeMap<String, String> {
        if self.is_shared(r) {
            shared_tags(&self.shared_env(), r)
        } else {
            project_tags(&self.cfg, r)
        }
    }

    /// Filters that find a resource this project (or its shared VPC) created.
    pub(crate) fn tag_filters(&self, r: Resource) -> Vec<Filter> {
        let owner = if self.is_shared(r) {
            filter(&format!("tag:{TAG_VPC_ENV}"), &[&self.shared_env()])
        } else {
            filter(
                &format!("tag:{}", pockitect_proto::tags::PROJECT),
                &[&self.slug],
            )
        };
        vec![owner, filter(&format!("tag:{TAG_RESOURCE}"), &[r.as_str()])]
    }

    // ------------------------------------------------------------------------------------
    // VPC
    // ------------------------------------------------------------------------------------

    async fn describe_vpc(&self, id: &str) -> Result<Option<aws_sdk_ec2::types::Vpc>, StepError> {
        let r = Resource::Vpc;
        match self.ec2.describe_vpcs().vpc_ids(id).send().await {
            Ok(out) => Ok(out.vpcs().first().cloned()),
            Err(e) if sdk_code(&e).is_some_and(super::util::is_not_found_code) => Ok(None),
            Err(e) => Err(StepError::sdk(r, "ec2:DescribeVpcs", &self.region, e)),
        }
    }

    async fn vpcs_where(
        &self,
        filters: Vec<Filter>,
    ) -> Result<Vec<aws_sdk_ec2::types::Vpc>, StepError> {
        self.ec2
            .describe_vpcs()
            .set_filters(Some(filters))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| StepError::sdk(Resource::Vpc, "ec2:DescribeVpcs", &self.region, e))
    }

    pub(crate) async fn find_vpc(&self) -> Result<Option<Found>, StepError> {
        let r = Resource::Vpc;
        let recorded = self.cfg.network.vpc_id.as_deref().filter(|s| !s.is_empty());
        match self.vpc_mode() {
            VpcMode::New | VpcMode::Shared => {
                if let Some(id) = recorded
                    && self.describe_vpc(id).await?.is_some()
                {
                    return Ok(Some(Found::new(
                        id,
                        Action::NoChange,
                        "recorded and present",
                    )));
                }
                let found = self.vpcs_where(self.tag_filters(r)).await?;
                let detail = if self.is_shared(r) {
                    format!("the shared '{}' VPC", self.shared_env())
                } else {
                    "found by its tags".to_owned()
                };
                Ok(found
                    .iter()
                    .filter_map(|v| v.vpc_id())
                    .min()
                    .map(|id| Found::recorded_or_adopted(id, recorded, detail)))
            }
            VpcMode::Default => {
                let found = self
                    .vpcs_where(vec![filter("is-default", &["true"])])
                    .await?;
                match found.iter().find_map(|v| v.vpc_id()) {
                    Some(id) => Ok(Some(Found::recorded_or_adopted(
                        id,
                        recorded,
                        "the region's default VPC",
                    ))),
                    None => Err(self.err(
                        r,
                        CODE_NOT_FOUND,
                        format!(
                            "region '{}' has no default VPC; set network.vpc_mode to 'new' or name one with 'existing'",
                            self.region
                        ),
                    )),
                }
            }
            VpcMode::Existing => {
                let Some(id) = recorded else {
                    return Err(self.err(
                        r,
                        CODE_INVALID,
                        "network.vpc_mode is 'existing' but network.vpc_id is empty",
                    ));
                };
                match self.describe_vpc(id).await? {
                    Some(_) => Ok(Some(Found::new(id, Action::NoChange, "the existing VPC"))),
                    None => Err(self.err(
                        r,
                        CODE_NOT_FOUND,
                        format!(
                            "VPC '{id}' does not exist in '{}'; check network.vpc_id",
                            self.region
                        ),
                    )),
                }
            }
            VpcMode::Other(w) => {
                Err(self.err(r, CODE_INVALID, format!("unknown network.vpc_mode '{w}'")))
            }
        }
    }

    pub(crate) async fn create_vpc(&self) -> Result<String, StepError> {
        let r = Resource::Vpc;
        let cidr = self.cfg.vpc_cidr().to_owned();
        let out = self
            .ec2
            .create_vpc()
            .cidr_block(&cidr)
            .tag_specifications(tag_spec(ResourceType::Vpc, &self.tags_for(r)))
            .send()
            .await
            .map_err(|e| StepError::sdk(r, "ec2:CreateVpc", &self.region, e))?;
        let id = out
            .vpc()
            .and_then(|v| v.vpc_id())
            .ok_or_else(|| self.err(r, "EmptyResponse", "CreateVpc returned no VPC id"))?
            .to_owned();
        self.created(r, &id);
        self.record(r, &id).await;
        self.ec2
            .modify_vpc_attribute()
            .vpc_id(&id)
            .enable_dns_hostnames(AttributeBooleanValue::builder().value(true).build())
            .send()
            .await
            .map_err(|e| StepError::sdk(r, "ec2:ModifyVpcAttribute", &self.region, e))?;
        Ok(id)
    }

    // ------------------------------------------------------------------------------------
    // Internet gateway
    // ------------------------------------------------------------------------------------

    pub(crate) async fn find_igw(&self) -> Result<Option<Found>, StepError> {
        let r = Resource::InternetGateway;
        let vpc = self.need(r, Resource::Vpc)?;
        let recorded = self
            .cfg
            .network
            .internet_gateway_id
            .as_deref()
            .filter(|s| !s.is_empty());
        let describe = |filters: Vec<Filter>, ids: Vec<String>| {
            self.ec2
                .describe_internet_gateways()
                .set_filters((!filters.is_empty()).then_some(filters))
                .set_internet_gateway_ids((!ids.is_empty()).then_some(ids))
                .send()
        };
        if let Some(id) = recorded {
            match describe(vec![], vec![id.to_owned()]).await {
                Ok(out) if !out.internet_gateways().is_empty() => {
                    return Ok(Some(Found::new(
                        id,
                        Action::NoChange,
                        "recorded and present",
                    )));
                }
                Ok(_) => {}
                Err(e) if sdk_code(&e).is_some_and(super::util::is_not_found_code) => {}
                Err(e) => {
                    return Err(StepError::sdk(
                        r,
                        "ec2:DescribeInternetGateways",
                        &self.region,
                        e,
                    ));
                }
            }
        }
        let attached = describe(vec![filter("attachment.vpc-id", &[&vpc])], vec![])
            .await
            .map_err(|e| StepError::sdk(r, "ec2:DescribeInternetGateways", &self.region, e))?;
        if let Some(id) = attached
            .internet_gateways()
            .iter()
            .find_map(|g| g.internet_gateway_id())
        {
            return Ok(Some(Found::recorded_or_adopted(
                id,
                recorded,
                "attached to the VPC",
            )));
        }
        let tagged = describe(self.tag_filters(r), vec![])
            .await
            .map_err(|e| StepError::sdk(r, "ec2:DescribeInternetGateways", &self.region, e))?;
        Ok(tagged
            .internet_gateways()
            .iter()
            .filter(|g| g.attachments().is_empty())
            .find_map(|g| g.internet_gateway_id())
            .map(|id| Found::new(id, Action::Update, "found by its tags, to attach")))
    }

    pub(crate) async fn converge_igw(&self, found: &Found) -> Result<(), StepError> {
        let r = Resource::InternetGateway;
        let vpc = self.need(r, Resource::Vpc)?;
        let out = self
            .ec2
            .describe_internet_gateways()
            .internet_gateway_ids(&found.id)
            .send()
            .await
            .map_err(|e| StepError::sdk(r, "ec2:DescribeInternetGateways", &self.region, e))?;
        let attachments: Vec<String> = out
            .internet_gateways()
            .iter()
            .flat_map(|g| g.attachments())
            .filter_map(|a| a.vpc_id().map(str::to_owned))
            .collect();
        if attachments.contains(&vpc) {
            return Ok(());
        }
        if let Some(other) = attachments.first() {
            return Err(self.err(
                r,
                CODE_CONFLICT,
                format!(
                    "internet gateway '{}' is attached to another VPC '{other}'",
                    found.id
                ),
            ));
        }
        self.attach_igw(&found.id, &vpc).await
    }

    async fn attach_igw(&self, igw: &str, vpc: &str) -> Result<(), StepError> {
        self.ec2
            .attach_internet_gateway()
            .internet_gateway_id(igw)
            .vpc_id(vpc)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                StepError::sdk(
                    Resource::InternetGateway,
                    "ec2:AttachInternetGateway",
                    &self.region,
                    e,
                )
            })
    }

    pub(crate) async fn create_igw(&self) -> Result<String, StepError> {
        let r = Resource::InternetGateway;
        let vpc = self.need(r, Resource::Vpc)?;
        let out = self
            .ec2
            .create_internet_gateway()
            .tag_specifications(tag_spec(ResourceType::InternetGateway, &self.tags_for(r)))
            .send()
            .await
            .map_err(|e| StepError::sdk(r, "ec2:CreateInternetGateway", &self.region, e))?;
        let id = out
            .internet_gateway()
            .and_then(|g| g.internet_gateway_id())
            .ok_or_else(|| self.err(r, "EmptyResponse", "CreateInternetGateway returned no id"))?
            .to_owned();
        self.created(r, &id);
        self.record(r, &id).await;
        self.attach_igw(&id, &vpc).await?;
        Ok(id)
    }

    // ------------------------------------------------------------------------------------
    // Route table
    // ------------------------------------------------------------------------------------

    async fn route_tables(
        &self,
        filters: Vec<Filter>,
        ids: Vec<String>,
    ) -> Result<Vec<aws_sdk_ec2::types::RouteTable>, StepError> {
        match self
            .ec2
            .describe_route_tables()
            .set_filters((!filters.is_empty()).then_some(filters))
            .set_route_table_ids((!ids.is_empty()).then_some(ids))
            .send()
            .await
        {
            Ok(out) => Ok(out.route_tables().to_vec()),
            Err(e) if sdk_code(&e).is_some_and(super::util::is_not_found_code) => Ok(vec![]),
            Err(e) => Err(StepError::sdk(
                Resource::RouteTable,
                "ec2:DescribeRouteTables",
                &self.region,
                e,
            )),
        }
    }

    pub(crate) async fn find_route_table(&self) -> Result<Option<Found>, StepError> {
        let r = Resource::RouteTable;
        let vpc = self.need(r, Resource::Vpc)?;
        let recorded = self
            .cfg
            .network
            .route_table_id
            .as_deref()
            .filter(|s| !s.is_empty());
        if let Some(id) = recorded {
            let found = self.route_tables(vec![], vec![id.to_owned()]).await?;
            if found.iter().any(|t| t.vpc_id() == Some(vpc.as_str())) {
                return Ok(Some(Found::new(
                    id,
                    Action::NoChange,
                    "recorded and present",
                )));
            }
        }
        let mut filters = self.tag_filters(r);
        filters.push(filter("vpc-id", &[&vpc]));
        let found = self.route_tables(filters, vec![]).await?;
        Ok(found
            .iter()
            .filter_map(|t| t.route_table_id())
            .min()
            .map(|id| Found::recorded_or_adopted(id, recorded, "found by its tags")))
    }

    pub(crate) async fn converge_route_table(&self, found: &Found) -> Result<(), StepError> {
        let r = Resource::RouteTable;
        let igw = self.need(r, Resource::InternetGateway)?;
        let tables = self.route_tables(vec![], vec![found.id.clone()]).await?;
        let default_route = tables
            .iter()
            .flat_map(|t| t.routes())
            .find(|rt| rt.destination_cidr_block() == Some("0.0.0.0/0"));
        match default_route {
            Some(rt) if rt.gateway_id() == Some(igw.as_str()) => Ok(()),
            Some(_) => self
                .ec2
                .replace_route()
                .route_table_id(&found.id)
                .destination_cidr_block("0.0.0.0/0")
                .gateway_id(&igw)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| StepError::sdk(r, "ec2:ReplaceRoute", &self.region, e)),
            None => self.default_route(&found.id, &igw).await,
        }
    }

    async fn default_route(&self, rtb: &str, igw: &str) -> Result<(), StepError> {
        match self
            .ec2
            .create_route()
            .route_table_id(rtb)
            .destination_cidr_block("0.0.0.0/0")
            .gateway_id(igw)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if sdk_code(&e) == Some("RouteAlreadyExists") => Ok(()),
            Err(e) => Err(StepError::sdk(
                Resource::RouteTable,
                "ec2:CreateRoute",
                &self.region,
                e,
            )),
        }
    }

    pub(crate) async fn create_route_table(&self) -> Result<String, StepError> {
        let r = Resource::RouteTable;
        let vpc = self.need(r, Resource::Vpc)?;
        let igw = self.need(r, Resource::InternetGateway)?;
        let out = self
            .ec2
            .create_route_table()
            .vpc_id(&vpc)
            .tag_specifications(tag_spec(ResourceType::RouteTable, &self.tags_for(r)))
            .send()
            .await
            .map_err(|e| StepError::sdk(r, "ec2:CreateRouteTable", &self.region, e))?;
        let id = out
            .route_table()
            .and_then(|t| t.route_table_id())
            .ok_or_else(|| self.err(r, "EmptyResponse", "CreateRouteTable returned no id"))?
            .to_owned();
        self.created(r, &id);
        self.record(r, &id).await;
        self.default_route(&id, &igw).await?;
        Ok(id)
    }

    // ------------------------------------------------------------------------------------
    // Subnets
    // ------------------------------------------------------------------------------------

    async fn subnets(
        &self,
        r: Resource,
        filters: Vec<Filter>,
        ids: Vec<String>,
    ) -> Result<Vec<Subnet>, StepError> {
        match self
            .ec2
            .describe_subnets()
            .set_filters((!filters.is_empty()).then_some(filters))
            .set_subnet_ids((!ids.is_empty()).then_some(ids))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
        {
            Ok(v) => Ok(v),
            Err(e) if sdk_code(&e).is_some_and(super::util::is_not_found_code) => Ok(vec![]),
            Err(e) => Err(StepError::sdk(r, "ec2:DescribeSubnets", &self.region, e)),
        }
    }

    /// The zone of the primary subnet (known once it is found or created).
    async fn primary_az(&self, r: Resource) -> Result<String, StepError> {
        if let Some(az) = lock(&self.facts).subnet_az.clone() {
            return Ok(az);
        }
        let id = self.need(r, Resource::Subnet)?;
        let found = self.subnets(r, vec![], vec![id.clone()]).await?;
        let az = found
            .first()
            .and_then(|s| s.availability_zone())
            .ok_or_else(|| self.err(r, CODE_NOT_FOUND, format!("subnet '{id}' has no zone")))?
            .to_owned();
        lock(&self.facts).subnet_az = Some(az.clone());
        Ok(az)
    }

    fn note_subnet(&self, r: Resource, s: &Subnet) {
        if r == Resource::Subnet {
            lock(&self.facts).subnet_az = s.availability_zone().map(str::to_owned);
        }
    }

    pub(crate) async fn find_subnet(&self, secondary: bool) -> Result<Option<Found>, StepError> {
        let r = if secondary {
            Resource::SecondarySubnet
        } else {
            Resource::Subnet
        };
        let vpc = self.need(r, Resource::Vpc)?;
        let recorded = if secondary {
            self.cfg.network.secondary_subnet_id.as_deref()
        } else {
            self.cfg.network.subnet_id.as_deref()
        }
        .filter(|s| !s.is_empty());
        if let Some(id) = recorded {
            let found = self.subnets(r, vec![], vec![id.to_owned()]).await?;
            if let Some(s) = found.iter().find(|s| s.vpc_id() == Some(vpc.as_str())) {
                self.note_subnet(r, s);
                return Ok(Some(Found::new(
                    id,
                    Action::NoChange,
                    "recorded and present",
                )));
            }
            if *self.vpc_mode() == VpcMode::Existing && !secondary {
                return Err(self.err(
                    r,
                    CODE_NOT_FOUND,
                    format!("subnet '{id}' is not in VPC '{vpc}'; check network.subnet_id"),
                ));
            }
        }
        let vpc_filter = filter("vpc-id", &[&vpc]);
        match self.vpc_mode() {
            VpcMode::New | VpcMode::Shared => {
                let mut filters = self.tag_filters(r);
                filters.push(vpc_filter);
                let found = self.subnets(r, filters, vec![]).await?;
                let best = found
                    .iter()
                    .min_by_key(|s| s.subnet_id().map(str::to_owned));
                Ok(best.and_then(|s| {
                    self.note_subnet(r, s);
                    s.subnet_id()
                        .map(|id| Found::recorded_or_adopted(id, recorded, "found by its tags"))
                }))
            }
            VpcMode::Default | VpcMode::Existing => {
                let mut filters = vec![vpc_filter, filter("state", &["available"])];
                if *self.vpc_mode() == VpcMode::Default {
                    filters.push(filter("default-for-az", &["true"]));
                }
                let mut found = self.subnets(r, filters, vec![]).await?;
                // Public subnets first, then by zone: a stable, sensible choice.
                found.sort_by_key(|s| {
                    (
                        !s.map_public_ip_on_launch().unwrap_or(false),
                        s.availability_zone().map(str::to_owned),
                        s.subnet_id().map(str::to_owned),
                    )
                });
                let pick = if secondary {
                    let az = self.primary_az(r).await?;
                    found
                        .iter()
                        .find(|s| s.availability_zone() != Some(az.as_str()))
                } else {
                    found.first()
                };
                let what = if *self.vpc_mode() == VpcMode::Default {
                    "a default subnet"
                } else {
                    "a subnet of the existing VPC"
                };
                match pick.and_then(|s| s.subnet_id().map(|id| (s, id))) {
                    Some((s, id)) => {
                        self.note_subnet(r, s);
                        let zone = s.availability_zone().unwrap_or("?");
                        Ok(Some(Found::recorded_or_adopted(
                            id,
                            recorded,
                            format!("{what} in {zone}"),
                        )))
                    }
                    None if secondary => Err(self.err(
                        r,
                        CODE_NOT_FOUND,
                        format!(
                            "VPC '{vpc}' has no subnet in a second availability zone, which a database subnet group needs; add one or use network.vpc_mode 'new'"
                        ),
                    )),
                    None => Err(self.err(
                        r,
                        CODE_NOT_FOUND,
                        format!("VPC '{vpc}' has no available subnet; add one or use network.vpc_mode 'new'"),
                    )),
                }
            }
            VpcMode::Other(w) => {
                Err(self.err(r, CODE_INVALID, format!("unknown network.vpc_mode '{w}'")))
            }
        }
    }

    fn subnet_is_public(&self, r: Resource) -> bool {
        // Shared subnets and the secondary (database) subnet of a public network are public.
        self.is_shared(r) || self.cfg.network.subnet_type != SubnetType::Private
    }

    pub(crate) async fn converge_subnet(
        &self,
        r: Resource,
        found: &Found,
    ) -> Result<(), StepError> {
        if !matches!(self.vpc_mode(), VpcMode::New | VpcMode::Shared) {
            return Ok(());
        }
        let public = self.subnet_is_public(r);
        let subnets = self.subnets(r, vec![], vec![found.id.clone()]).await?;
        let mapped = subnets
            .first()
            .and_then(|s| s.map_public_ip_on_launch())
            .unwrap_or(false);
        if public && !mapped {
            self.ec2
                .modify_subnet_attribute()
                .subnet_id(&found.id)
                .map_public_ip_on_launch(AttributeBooleanValue::builder().value(true).build())
                .send()
                .await
                .map_err(|e| StepError::sdk(r, "ec2:ModifySubnetAttribute", &self.region, e))?;
        }
        if !public {
            return Ok(());
        }
        let rtb = self.need(r, Resource::RouteTable)?;
        let tables = self.route_tables(vec![], vec![rtb.clone()]).await?;
        let associated = tables
            .iter()
            .flat_map(|t| t.associations())
            .any(|a| a.subnet_id() == Some(found.id.as_str()));
        if !associated {
            // A subnet has one explicit association: replace one with another table if present.
            let other = self
                .route_tables(vec![filter("association.subnet-id", &[&found.id])], vec![])
                .await?;
            let existing = other
                .iter()
                .flat_map(|t| t.associations())
                .find(|a| a.subnet_id() == Some(found.id.as_str()))
                .and_then(|a| a.route_table_association_id().map(str::to_owned));
            match existing {
                Some(assoc) => self
                    .ec2
                    .replace_route_table_association()
                    .association_id(assoc)
                    .route_table_id(&rtb)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        StepError::sdk(r, "ec2:ReplaceRouteTableAssociation", &self.region, e)
                    })?,
                None => self
                    .ec2
                    .associate_route_table()
                    .route_table_id(&rtb)
                    .subnet_id(&found.id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| StepError::sdk(r, "ec2:AssociateRouteTable", &self.region, e))?,
            }
        }
        Ok(())
    }

    /// The region's availability zones, sorted.
    pub(crate) async fn zones(&self, r: Resource) -> Result<Vec<String>, StepError> {
        if let Some(z) = lock(&self.facts).azs.clone() {
            return Ok(z);
        }
        let out = self
            .ec2
            .describe_availability_zones()
            .filters(filter("state", &["available"]))
            .filters(filter("zone-type", &["availability-zone"]))
            .send()
            .await
            .map_err(|e| StepError::sdk(r, "ec2:DescribeAvailabilityZones", &self.region, e))?;
        let mut zones: Vec<String> = out
            .availability_zones()
            .iter()
            .filter_map(|z| z.zone_name().map(str::to_owned))
            .collect();
        zones.sort();
        lock(&self.facts).azs = Some(zones.clone());
        Ok(zones)
    }

    /// A free range in the VPC for a new subnet.
    async fn pick_cidr(&self, r: Resource, vpc: &str) -> Result<String, StepError> {
        if r == Resource::Subnet
            && *self.vpc_mode() == VpcMode::New
            && let Some(c) = self
                .cfg
                .network
                .subnet_cidr
                .as_deref()
                .filter(|c| !c.is_empty())
        {
            return Ok(c.to_owned());
        }
        let vpc_cidr = self
            .describe_vpc(vpc)
            .await?
            .and_then(|v| v.cidr_block().map(str::to_owned))
            .unwrap_or_else(|| self.cfg.vpc_cidr().to_owned());
        let block = Ipv4Block::parse(&vpc_cidr).ok_or_else(|| {
            self.err(
                r,
                CODE_INVALID,
                format!("VPC range '{vpc_cidr}' is not an IPv4 CIDR"),
            )
        })?;
        let taken: Vec<Ipv4Block> = self
            .subnets(r, vec![filter("vpc-id", &[vpc])], vec![])
            .await?
            .iter()
            .filter_map(|s| s.cidr_block().and_then(Ipv4Block::parse))
            .chain(
                self.cfg
                    .network
                    .subnet_cidr
                    .as_deref()
                    .and_then(Ipv4Block::parse),
            )
            .collect();
        (0..256)
            .filter_map(|i| block.subnet(i))
            .find(|c| !taken.iter().any(|t| t.overlaps(*c)))
            .map(|c| c.to_string())
            .ok_or_else(|| {
                self.err(
                    r,
                    CODE_CONFLICT,
                    format!("VPC '{vpc}' ({vpc_cidr}) has no free range for another subnet"),
                )
            })
    }

    pub(crate) async fn create_subnet(&self, secondary: bool) -> Result<String, StepError> {
        let r = if secondary {
            Resource::SecondarySubnet
        } else {
            Resource::Subnet
        };
        let vpc = self.need(r, Resource::Vpc)?;
        let zones = self.zones(r).await?;
        let az = if secondary {
            let primary = self.primary_az(r).await?;
            zones.iter().find(|z| **z != primary).cloned().ok_or_else(|| {
                self.err(
                    r,
                    CODE_NOT_FOUND,
                    format!(
                        "region '{}' has a single availability zone; a database subnet group needs two",
                        self.region
                    ),
                )
            })?
        } else {
            zones.first().cloned().ok_or_else(|| {
                self.err(
                    r,
                    CODE_NOT_FOUND,
                    format!("region '{}' reports no availability zone", self.region),
                )
            })?
        };
        let cidr = self.pick_cidr(r, &vpc).await?;
        let out = self
            .ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(&cidr)
            .availability_zone(&az)
            .tag_specifications(tag_spec(ResourceType::Subnet, &self.tags_for(r)))
            .send()
            .await
            .map_err(|e| StepError::sdk(r, "ec2:CreateSubnet", &self.region, e))?;
        let id = out
            .subnet()
            .and_then(|s| s.subnet_id())
            .ok_or_else(|| self.err(r, "EmptyResponse", "CreateSubnet returned no id"))?
            .to_owned();
        self.created(r, &id);
        if !secondary {
            lock(&self.facts).subnet_az = Some(az);
        }
        self.record(r, &id).await;
        let found = Found::new(&id, Action::Create, "created");
        self.converge_subnet(r, &found).await?;
        Ok(id)
    }

    // ------------------------------------------------------------------------------------
    // Security group
    // ------------------------------------------------------------------------------------

    fn sg_name(&self) -> String {
        format!("{}-sg", self.slug)
    }

    /// The ingress the blueprint asks for (plus the database port from the group itself, so
    /// the instance reaches the database), each with its description.
    fn desired_perms(&self, group_id: &str) -> Vec<(Perm, String)> {
        let mut out = Vec::new();
        for rule in &self.cfg.network.rules {
            let Some(range) = rule.port_range() else {
                continue;
            };
            let (Ok(from), Ok(to)) = (i32::try_from(range.from), i32::try_from(range.to)) else {
                continue;
            };
            let cidr = rule.cidr.trim();
            let cidr = if cidr.is_empty() { "0.0.0.0/0" } else { cidr };
            let source = if rule.is_ipv6() {
                Source::V6(cidr.to_owned())
            } else {
                Source::V4(cidr.to_owned())
            };
            out.push((
                Perm::new(rule.protocol.ec2_value(), Some(from), Some(to), source),
                rule.description.clone(),
            ));
        }
        if let Some(db) = self.cfg.db() {
            let port = db.port.and_then(|p| i32::try_from(p).ok()).or_else(|| {
                db.engine
                    .clone()
                    .unwrap_or_default()
                    .default_port()
                    .map(i32::from)
            });
            if let Some(p) = port {
                out.push((
                    Perm::new("tcp", Some(p), Some(p), Source::Group(group_id.to_owned())),
                    "database from the project's instances".to_owned(),
                ));
            }
        }
        out
    }

    async fn describe_sgs(
        &self,
        filters: Vec<Filter>,
        ids: Vec<String>,
    ) -> Result<Vec<aws_sdk_ec2::types::SecurityGroup>, StepError> {
        match self
            .ec2
            .describe_security_groups()
            .set_filters((!filters.is_empty()).then_some(filters))
            .set_group_ids((!ids.is_empty()).then_some(ids))
            .send()
            .await
        {
            Ok(out) => Ok(out.security_groups().to_vec()),
            Err(e) if sdk_code(&e).is_some_and(super::util::is_not_found_code) => Ok(vec![]),
            Err(e) => Err(StepError::sdk(
                Resource::SecurityGroup,
                "ec2:DescribeSecurityGroups",
                &self.region,
                e,
            )),
        }
    }

    fn missing_perms(&self, sg: &aws_sdk_ec2::types::SecurityGroup) -> Vec<(Perm, String)> {
        let id = sg.group_id().unwrap_or_default();
        let have = existing_perms(sg.ip_permissions());
        self.desired_perms(id)
            .into_iter()
            .filter(|(p, _)| !have.contains(p))
            .collect()
    }

    fn sg_found(
        &self,
        sg: &aws_sdk_ec2::types::SecurityGroup,
        recorded: Option<&str>,
        detail: &str,
    ) -> Option<Found> {
        let id = sg.group_id()?;
        let missing = self.missing_perms(sg).len();
        let mut f = Found::recorded_or_adopted(id, recorded, detail);
        if missing > 0 {
            f.action = Action::Update;
            f.detail = Some(format!("{detail}; {missing} rule(s) to add"));
        }
        Some(f)
    }

    pub(crate) async fn find_security_group(&self) -> Result<Option<Found>, StepError> {
        let r = Resource::SecurityGroup;
        let vpc = self.need(r, Resource::Vpc)?;
        let recorded = self
            .cfg
            .network
            .security_group_id
            .as_deref()
            .filter(|s| !s.is_empty());
        if let Some(id) = recorded {
            let found = self.describe_sgs(vec![], vec![id.to_owned()]).await?;
            if let Some(sg) = found.iter().find(|g| g.vpc_id() == Some(vpc.as_str())) {
                return Ok(self.sg_found(sg, recorded, "recorded and present"));
            }
        }
        let mut filters = self.tag_filters(r);
        filters.push(filter("vpc-id", &[&vpc]));
        let found = self.describe_sgs(filters, vec![]).await?;
        if let Some(sg) = found.iter().min_by_key(|g| g.group_id().map(str::to_owned)) {
            return Ok(self.sg_found(sg, recorded, "found by its tags"));
        }
        let named = self
            .describe_sgs(
                vec![
                    filter("vpc-id", &[&vpc]),
                    filter("group-name", &[&self.sg_name()]),
                ],
                vec![],
            )
            .await?;
        match named.first() {
            Some(sg) if has_tag(sg.tags(), pockitect_proto::tags::PROJECT, &self.slug) => {
                Ok(self.sg_found(sg, recorded, "found by its name"))
            }
            Some(sg) => Err(self.err(
                r,
                CODE_CONFLICT,
                format!(
                    "security group '{}' ({}) exists in VPC '{vpc}' but is not tagged {}={}; delete or tag it",
                    self.sg_name(),
                    sg.group_id().unwrap_or("?"),
                    pockitect_proto::tags::PROJECT,
                    self.slug
                ),
            )),
            None => Ok(None),
        }
    }

    async fn authorize(&self, group_id: &str, perms: &[(Perm, String)]) -> Result<(), StepError> {
        let r = Resource::SecurityGroup;
        for (perm, desc) in perms {
            match self
                .ec2
                .authorize_security_group_ingress()
                .group_id(group_id)
                .ip_permissions(perm.to_ip_permission(desc))
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if sdk_code(&e) == Some("InvalidPermission.Duplicate") => {}
                Err(e) => {
                    return Err(StepError::sdk(
                        r,
                        "ec2:AuthorizeSecurityGroupIngress",
                        &self.region,
                        e,
                    ));
                }
            }
        }
        Ok(())
    }

    pub(crate) async fn converge_security_group(&self, found: &Found) -> Result<(), StepError> {
        if found.action != Action::Update {
            return Ok(());
        }
        let groups = self.describe_sgs(vec![], vec![found.id.clone()]).await?;
        if let Some(sg) = groups.first() {
            let missing = self.missing_perms(sg);
            self.authorize(&found.id, &missing).await?;
        }
        Ok(())
    }

    pub(crate) async fn create_security_group(&self) -> Result<String, StepError> {
        let r = Resource::SecurityGroup;
        let vpc = self.need(r, Resource::Vpc)?;
        let out = self
            .ec2
            .create_security_group()
            .group_name(self.sg_name())
            .description(format!("Pockitect project {}", self.slug))
            .vpc_id(&vpc)
            .tag_specifications(tag_spec(ResourceType::SecurityGroup, &self.tags_for(r)))
            .send()
            .await
            .map_err(|e| StepError::sdk(r, "ec2:CreateSecurityGroup", &self.region, e))?;
        let id = out
            .group_id()
            .ok_or_else(|| self.err(r, "EmptyResponse", "CreateSecurityGroup returned no id"))?
            .to_owned();
        self.created(r, &id);
        self.record(r, &id).await;
        let perms = self.desired_perms(&id);
        self.authorize(&id, &perms).await?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perms_normalise_protocols_and_all_ports() {
        let a = Perm::new("all", Some(-1), Some(-1), Source::V4("0.0.0.0/0".into()));
        let b = Perm::new("-1", None, None, Source::V4("0.0.0.0/0".into()));
        assert_eq!(a, b);
        let t = Perm::new("6", Some(22), Some(22), Source::V6("::/0".into()));
        assert_eq!(t.proto, "tcp");
        let ip = t.to_ip_permission("SSH");
        assert_eq!(ip.ipv6_ranges()[0].cidr_ipv6(), Some("::/0"));
        let back = existing_perms(&[ip]);
        assert!(back.contains(&t));
    }
}
