//! The subnets: the primary one (the instance's) and the secondary one in another zone that a
//! database subnet group needs; picked in a `default` or `existing` VPC, created in a `new` or
//! `shared` one.

use aws_sdk_ec2::types::{AttributeBooleanValue, Filter, ResourceType, Subnet};
use pockitect_blueprint::{SubnetType, VpcMode};

use crate::deploy::ec2::{filter, nonempty, tag_spec};
use crate::deploy::engine::{Found, Run, lock};
use crate::deploy::util::EngineError;
use crate::deploy::util::{
    CODE_CONFLICT, CODE_INVALID, CODE_NOT_FOUND, Ipv4Block, unless_not_found,
};
use crate::deploy::{Action, DeploySink, Resource, StepError};

impl<S: DeploySink> Run<'_, S> {
    async fn subnets(
        &self,
        r: Resource,
        filters: Vec<Filter>,
        ids: Vec<String>,
    ) -> Result<Vec<Subnet>, StepError> {
        let answer = self
            .ec2
            .describe_subnets()
            .set_filters(nonempty(filters))
            .set_subnet_ids(nonempty(ids))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await;
        unless_not_found(answer, r, "ec2:DescribeSubnets", &self.region)
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
}
