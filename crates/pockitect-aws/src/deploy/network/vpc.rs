//! The project's VPC: created (`new`), the shared one of its environment (`shared`), the
//! region's default VPC (`default`) or the user's (`existing`, verified).

use aws_sdk_ec2::types::{AttributeBooleanValue, Filter, ResourceType};
use pockitect_blueprint::VpcMode;

use crate::deploy::ec2::{filter, tag_spec};
use crate::deploy::engine::{Found, Run};
use crate::deploy::util::EngineError;
use crate::deploy::util::{CODE_INVALID, CODE_NOT_FOUND, unless_not_found};
use crate::deploy::{Action, DeploySink, Resource, StepError};

impl<S: DeploySink> Run<'_, S> {
    pub(super) async fn describe_vpc(
        &self,
        id: &str,
    ) -> Result<Option<aws_sdk_ec2::types::Vpc>, StepError> {
        let answer = self.ec2.describe_vpcs().vpc_ids(id).send().await;
        unless_not_found(
            answer.map(|out| out.vpcs().first().cloned()),
            Resource::Vpc,
            "ec2:DescribeVpcs",
            &self.region,
        )
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
}
