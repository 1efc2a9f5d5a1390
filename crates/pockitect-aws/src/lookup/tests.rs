use std::collections::BTreeMap;

use pockitect_proto::{ResourceRecord, ResourceType};

use super::s3::bucket_region;
use super::*;

#[test]
fn not_found_codes() {
    for c in [
        "InvalidInstanceID.NotFound",
        "InvalidVpcID.NotFound",
        "DBInstanceNotFound",
        "DBSubnetGroupNotFoundFault",
        "NoSuchBucket",
        "NoSuchEntity",
        "InvalidGroup.NotFound",
        "InvalidInstanceID.Malformed",
        "NotFound",
    ] {
        assert!(is_not_found(c), "{c}");
    }
    for c in [
        "DependencyViolation",
        "AccessDenied",
        "NoSuchTagSet",
        "network",
    ] {
        assert!(!is_not_found(c), "{c}");
    }
}

#[test]
fn bucket_location_constraints() {
    assert_eq!(bucket_region(None), "us-east-1");
    assert_eq!(bucket_region(Some("")), "us-east-1");
    assert_eq!(bucket_region(Some("EU")), "eu-west-1");
    assert_eq!(bucket_region(Some("ap-south-1")), "ap-south-1");
}

#[tokio::test]
async fn a_not_found_batch_is_split_per_id() {
    let calls = std::sync::Mutex::new(Vec::new());
    let existing = ["a", "c"];
    let call = |ids: Vec<String>| {
        calls.lock().unwrap().push(ids.clone());
        async move {
            if ids.iter().any(|i| !existing.contains(&i.as_str())) {
                return Err(AwsError::Api {
                    operation: "ec2:DescribeInstances",
                    region: "r".into(),
                    code: "InvalidInstanceID.NotFound".into(),
                    message: "gone".into(),
                });
            }
            Ok(ids
                .iter()
                .map(|i| ResourceRecord::new(ResourceType::Ec2Instance, i, "r", BTreeMap::new()))
                .collect())
        }
    };
    let kind = ResourceType::Ec2Instance;
    let d = lookup_chunk(kind, vec!["a".into(), "b".into(), "c".into()], call).await;
    assert_eq!(d.found.len(), 2);
    assert!(d.missing.contains(&key_of(kind, "b")));
    assert!(d.failed.is_empty());
    assert_eq!(
        calls.lock().unwrap().len(),
        4,
        "one batch, then one call per id"
    );
}
