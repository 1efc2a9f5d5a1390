//! The public route table of a `new` or `shared` VPC, with its default route to the internet
//! gateway.

use aws_sdk_ec2::types::{Filter, ResourceType};

use crate::deploy::ec2::{filter, nonempty, tag_spec};
use crate::deploy::engine::{Found, Run};
use crate::deploy::util::EngineError;
use crate::deploy::util::{sdk_code, unless_not_found};
use crate::deploy::{Action, DeploySink, Resource, StepError};

impl<S: DeploySink> Run<'_, S> {
    pub(super) async fn route_tables(
        &self,
        filters: Vec<Filter>,
        ids: Vec<String>,
    ) -> Result<Vec<aws_sdk_ec2::types::RouteTable>, StepError> {
        let answer = self
            .ec2
            .describe_route_tables()
            .set_filters(nonempty(filters))
            .set_route_table_ids(nonempty(ids))
            .send()
            .await;
        unless_not_found(
            answer.map(|out| out.route_tables().to_vec()),
            Resource::RouteTable,
            "ec2:DescribeRouteTables",
            &self.region,
        )
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
}
