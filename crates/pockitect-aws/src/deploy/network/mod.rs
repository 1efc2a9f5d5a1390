//! VPC, internet gateway, route table, subnets and security group, for the four VPC modes:
//! `default` (the region's default VPC and its default subnets), `new` (everything created for
//! the project), `existing` (the user's VPC, verified; subnets chosen in it) and `shared` (one
//! Pockitect-managed VPC per environment, created with its gateway, routes and two subnets on
//! first need, tagged `pockitect:vpc-env=<env>` and used by several projects).
//!
//! One module per resource (each finds, converges and creates its own); this one holds what
//! they share: the VPC mode and the tags and filters of the project's or the shared network.

mod internet_gateway;
mod route_table;
mod security_group;
mod subnet;
mod vpc;

use std::collections::BTreeMap;

use aws_sdk_ec2::types::Filter;
use pockitect_blueprint::VpcMode;

use super::ec2::filter;
use super::engine::Run;
use super::util::{project_tags, shared_tags};
use super::{DeploySink, Resource, TAG_RESOURCE, TAG_VPC_ENV};

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
}
