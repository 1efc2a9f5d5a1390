//! AWS errors reach the user with AWS's own code and message, never the SDK's "unhandled error".

use pockitect_aws::AwsError;
use pockitect_aws::scan::{ScanRequest, scan};
use pockitect_proto::ResourceType;
use pockitect_testkit::MotoServer;
use tokio::sync::mpsc;

use crate::aws_for;

#[tokio::test]
async fn a_service_error_keeps_aws_code_and_message() {
    let moto = MotoServer::start();
    let aws = aws_for(&moto).await;
    let missing = "i-0123456789abcdef0";
    let err = aws
        .ec2("us-east-1")
        .describe_instances()
        .instance_ids(missing)
        .send()
        .await
        .expect_err("moto knows no such instance");
    let err = AwsError::from_sdk("ec2:DescribeInstances", "us-east-1", err);
    assert_eq!(err.code(), "InvalidInstanceID.NotFound", "{err}");
    assert!(err.message().contains(missing), "{err}");
    let shown = err.to_string();
    assert!(
        shown
            .starts_with("call ec2:DescribeInstances in 'us-east-1': InvalidInstanceID.NotFound: "),
        "{shown}"
    );
    assert!(!shown.contains("unhandled"), "{shown}");
}

#[tokio::test]
async fn a_region_the_endpoint_does_not_know_is_reported_with_a_code_and_the_rest_goes_on() {
    let moto = MotoServer::start();
    let aws = aws_for(&moto).await;
    // moto answers a region it does not know with an HTML error page and no AWS error code,
    // which the SDK can only call "unhandled error". The engine scans what it is given (the
    // daemon refuses such a region before, and this bypasses it).
    let (tx, mut rx) = mpsc::channel(8);
    let drain = tokio::spawn(async move {
        let mut chunks = Vec::new();
        while let Some(c) = rx.recv().await {
            chunks.push(c);
        }
        chunks
    });
    let done = scan(
        &aws,
        ScanRequest {
            regions: Some(vec!["us-east-1".into(), "mars-north-1".into()]),
            types: Some(vec![ResourceType::Vpc, ResourceType::EbsVolume]),
            concurrency: 4,
        },
        tx,
    )
    .await
    .expect("the scan runs");
    let chunks = drain.await.unwrap();
    let east = chunks
        .iter()
        .find(|c| c.region == "us-east-1")
        .expect("us-east-1 scanned");
    assert!(east.errors.is_empty(), "{:?}", east.errors);
    assert!(!east.records.is_empty(), "moto's default VPC is listed");

    assert_eq!(done.errors.len(), 2, "one per type: {:?}", done.errors);
    for e in &done.errors {
        assert_eq!(e.region, "mars-north-1", "{e:?}");
        assert!(e.code.starts_with("http-"), "a code from the answer: {e:?}");
        assert!(e.message.contains("HTTP 5"), "{e:?}");
        assert!(!e.message.contains("unhandled"), "{e:?}");
        assert!(!e.code.eq_ignore_ascii_case("unknown"), "{e:?}");
    }
}
