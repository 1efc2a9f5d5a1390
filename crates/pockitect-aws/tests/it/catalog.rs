//! The catalog against moto: what the region offers, as AWS's own APIs answer it.

use std::time::Duration;

use pockitect_aws::catalog;
use pockitect_testkit::MotoServer;

use crate::aws_for;

#[tokio::test]
async fn the_catalog_lists_what_the_region_offers() {
    let moto = MotoServer::start();
    let aws = aws_for(&moto).await;
    let cat = catalog::fetch(&aws, "us-east-2").await.expect("catalog");
    assert_eq!(cat.region, "us-east-2");
    assert!(
        cat.regions.iter().any(|r| r == "eu-west-1"),
        "{:?}",
        cat.regions
    );
    assert!(
        cat.instance_types.iter().any(|t| t == "t3.micro"),
        "{} types",
        cat.instance_types.len()
    );
    assert!(
        cat.instance_types.windows(2).all(|w| w[0] < w[1]),
        "sorted, no duplicates"
    );
    // moto implements DescribeOrderableDBInstanceOptions for aurora-postgresql and neptune
    // only and answers [] for the engines a blueprint can use: such an engine is "unknown",
    // not "offers nothing", so it is left out (the offline list then applies).
    assert!(
        cat.db_classes.values().all(|c| !c.is_empty()),
        "{:?}",
        cat.db_classes
    );
    assert!(
        cat.account.contains_key("max-instances"),
        "{:?}",
        cat.account
    );
    assert!(cat.is_fresh(Duration::from_secs(60)));
    let mut old = cat.clone();
    old.fetched_at -= chrono::Duration::hours(25);
    assert!(!old.is_fresh(Duration::from_secs(24 * 3600)));
    // Round-trips through the JSON a cache file holds.
    let text = serde_json::to_string(&cat).unwrap();
    assert_eq!(
        serde_json::from_str::<catalog::Catalog>(&text).unwrap(),
        cat
    );
}
