mod accounts;
mod catalog;
mod deploy;
mod errors;
mod lookup;
mod power;
mod pricing;
mod terminate;

use pockitect_aws::{Aws, AwsSettings, StaticCredentials};
use pockitect_blueprint::{Blueprint, Checked};
use pockitect_testkit::MotoServer;

/// What the deploy engine takes: the blueprint through the one validation entry point.
pub fn checked(bp: Blueprint) -> Checked {
    pockitect_blueprint::check(bp).unwrap_or_else(|r| panic!("{r}"))
}

/// The AWS engine pointed at a test's own moto server, with moto's fake keys.
pub async fn aws_for(moto: &MotoServer) -> Aws {
    Aws::load(AwsSettings {
        endpoint_url: Some(moto.endpoint().into()),
        pricing_endpoint_url: None,
        home_region: "us-east-1".into(),
        profile: None,
        max_attempts: 3,
        static_credentials: Some(StaticCredentials {
            access_key_id: "testing".into(),
            secret_access_key: "testing".into(),
        }),
        credentials_store: None,
    })
    .await
}
