//! The internet gateway of a `new` or `shared` VPC: found attached to it or by its tags, and
//! attached when it is not.

use aws_sdk_ec2::types::{Filter, ResourceType};

use crate::deploy::ec2::{filter, nonempty, tag_spec};
use crate::deploy::engine::{Found, Run};
use crate::deploy::util::EngineError;
use crate::deploy::util::{CODE_CONFLICT, unless_not_found};
use crate::deploy::{Action, DeploySink, Resource, StepError};

impl<S: DeploySink> Run<'_, S> {
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
                .set_filters(nonempty(filters))
                .set_internet_gateway_ids(nonempty(ids))
                .send()
        };
        if let Some(id) = recorded {
            let answer = describe(vec![], vec![id.to_owned()]).await;
            let present = unless_not_found(
                answer.map(|out| !out.internet_gateways().is_empty()),
                r,
                "ec2:DescribeInternetGateways",
                &self.region,
            )?;
            if present {
                return Ok(Some(Found::new(
                    id,
                    Action::NoChange,
                    "recorded and present",
                )));
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
}
