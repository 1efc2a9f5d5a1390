//! Live prices from the AWS Price List API. moto has no pricing API, so GetProducts is answered
//! by the testkit's fake (`FakePriceList`), which holds products in AWS's shapes and filters
//! them the way AWS does, decoys included.

use std::collections::BTreeSet;

use pockitect_aws::pricing::{self, Answer};
use pockitect_aws::{Aws, AwsSettings, StaticCredentials};
use pockitect_cost::PriceKey;
use pockitect_testkit::{FakePriceList, FakeProduct};

async fn aws_with_pricing_at(endpoint: &str) -> Aws {
    Aws::load(AwsSettings {
        endpoint_url: None,
        pricing_endpoint_url: Some(endpoint.to_owned()),
        home_region: "eu-west-1".into(),
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

fn key_set(keys: &[PriceKey]) -> BTreeSet<PriceKey> {
    keys.iter().cloned().collect()
}

#[tokio::test]
async fn every_kind_of_price_is_read_from_get_products_and_decoys_are_not() {
    let r = "eu-west-1";
    let mut catalogue = Vec::new();
    catalogue.extend(FakeProduct::ec2_linux(r, "t3.micro", 0.0114));
    catalogue.extend(FakeProduct::rds(r, "PostgreSQL", "db.t3.micro", 0.019));
    catalogue.extend(FakeProduct::ebs(r, "gp3", 0.088));
    catalogue.extend(FakeProduct::rds_storage(
        r,
        "General Purpose",
        &["PostgreSQL", "MySQL"],
        0.127,
    ));
    catalogue.extend(FakeProduct::nat_gateway(r, 0.048, 0.048));
    // The same type elsewhere: the region filter must hold.
    catalogue.extend(FakeProduct::ec2_linux("us-east-1", "t3.micro", 0.0104));
    let fake = FakePriceList::start(catalogue);
    let aws = aws_with_pricing_at(&fake.endpoint()).await;

    let region = || r.to_owned();
    let ec2 = PriceKey::Ec2Linux {
        region: region(),
        instance_type: "t3.micro".into(),
    };
    let rds = PriceKey::Rds {
        region: region(),
        engine: "postgres".into(),
        class: "db.t3.micro".into(),
    };
    let ebs = PriceKey::Ebs {
        region: region(),
        volume_type: "gp3".into(),
    };
    let storage = PriceKey::RdsStorage {
        region: region(),
        storage_type: "gp2".into(),
    };
    let nat = PriceKey::NatGateway { region: region() };
    let unsold = PriceKey::Ec2Linux {
        region: region(),
        instance_type: "m7i.large".into(),
    };
    let keys = key_set(&[
        ec2.clone(),
        rds.clone(),
        ebs.clone(),
        storage.clone(),
        nat.clone(),
        unsold.clone(),
    ]);
    let fetched = pricing::fetch(&aws, &keys).await;
    assert!(fetched.failed.is_empty(), "{:?}", fetched.failed);
    let answer = |k: &PriceKey| {
        fetched
            .answers
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, a)| a.clone())
            .unwrap_or_else(|| panic!("no answer for {k}"))
    };
    assert_eq!(answer(&ec2), Answer::Price(0.0114));
    assert_eq!(answer(&rds), Answer::Price(0.019));
    assert_eq!(answer(&ebs), Answer::Price(0.088));
    assert_eq!(
        answer(&storage),
        Answer::Price(0.127),
        "one price for every engine"
    );
    assert_eq!(answer(&nat), Answer::Price(0.048));
    assert_eq!(answer(&unsold), Answer::NotListed);
    assert_eq!(fetched.prices().count(), 5);
    assert_eq!(fake.requests(), keys.len(), "one request a key");
}

#[tokio::test]
async fn products_at_different_prices_are_ambiguous_not_guessed() {
    let r = "eu-west-1";
    let mut catalogue = FakeProduct::rds_storage(r, "General Purpose", &["PostgreSQL"], 0.127);
    catalogue.extend(FakeProduct::rds_storage(
        r,
        "General Purpose",
        &["Oracle"],
        0.2,
    ));
    let fake = FakePriceList::start(catalogue);
    let aws = aws_with_pricing_at(&fake.endpoint()).await;
    let storage = PriceKey::RdsStorage {
        region: r.into(),
        storage_type: "gp2".into(),
    };
    let fetched = pricing::fetch(&aws, &key_set(std::slice::from_ref(&storage))).await;
    assert_eq!(
        fetched.answers,
        vec![(storage, Answer::Ambiguous(vec![0.127, 0.2]))]
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_is_asked_once_and_reported() {
    // A port nothing listens on.
    let closed = format!("http://127.0.0.1:{}", pockitect_testkit::free_port());
    let aws = aws_with_pricing_at(&closed).await;
    let keys = key_set(&[
        PriceKey::Ec2Linux {
            region: "eu-west-1".into(),
            instance_type: "t3.micro".into(),
        },
        PriceKey::NatGateway {
            region: "eu-west-1".into(),
        },
    ]);
    let fetched = pricing::fetch(&aws, &keys).await;
    assert!(fetched.answers.is_empty());
    assert_eq!(fetched.failed.len(), 1, "the rest are not asked");
    let e = &fetched.failed[0].1;
    assert_eq!(e.code(), "network", "{e}");
}
