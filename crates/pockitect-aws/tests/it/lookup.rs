//! The lookup layer against a real moto server: a resource looks the same to the scanner and
//! to everything that describes it by id (refresh, power, terminate) or finds it inside its VPC
//! (terminate's expansion): same account, ARN, tags, state and details.

use crate::deploy::{REGION, full_blueprint, options};
use crate::{aws_for, checked};
use std::collections::{BTreeSet, HashMap};

use aws_sdk_ec2::types::{DomainType, ResourceType as Ec2Type, Tag, TagSpecification};
use pockitect_aws::deploy::{self, NoopSink, Outcome, Resource};
use pockitect_aws::scan::{self, ScanRequest};
use pockitect_aws::terminate::{self, TerminateOptions, TerminatePlan};
use pockitect_aws::{Aws, refresh};
use pockitect_proto::tags::{MANAGED, PROJECT};
use pockitect_proto::{ResourceRecord, ResourceType, ScanChunk, TerminateTarget};
use pockitect_testkit::MotoServer;
use serde_json::Value;
use tokio::sync::mpsc;

/// What a caller can see of a record (all but `last_synced`).
fn seen(r: &ResourceRecord) -> Value {
    let mut v = serde_json::to_value(r).unwrap();
    v.as_object_mut().unwrap().remove("last_synced");
    v
}

fn tagged(rt: Ec2Type, slug: &str) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(rt)
        .tags(Tag::builder().key(PROJECT).value(slug).build())
        .tags(Tag::builder().key(MANAGED).value("true").build())
        .build()
}

fn target(r: &ResourceRecord) -> TerminateTarget {
    TerminateTarget {
        id: r.id.clone(),
        kind: r.kind,
        region: r.region.clone(),
    }
}

/// Every record a (read-only) terminate plan holds, planned or skipped, as it was described.
fn described(plan: &TerminatePlan) -> Vec<&ResourceRecord> {
    plan.items()
        .map(|p| &p.record)
        .chain(plan.skipped.iter().map(|s| &s.record))
        .collect()
}

async fn scan_region(aws: &Aws) -> HashMap<(ResourceType, String), ResourceRecord> {
    let (tx, mut rx) = mpsc::channel::<ScanChunk>(16);
    let req = ScanRequest {
        regions: Some(vec![REGION.to_owned()]),
        types: None,
        concurrency: 4,
    };
    let collect = async {
        let mut records = Vec::new();
        while let Some(chunk) = rx.recv().await {
            records.extend(chunk.records);
        }
        records
    };
    let (summary, records) = tokio::join!(scan::scan(aws, req, tx), collect);
    let summary = summary.unwrap();
    assert!(summary.errors.is_empty(), "{:?}", summary.errors);
    records
        .into_iter()
        .map(|r| ((r.kind, r.id.clone()), r))
        .collect()
}

/// A deployed project plus an Elastic IP and a NAT gateway covers every type.
#[tokio::test]
async fn a_resource_looks_the_same_scanned_described_and_found_in_its_vpc() {
    let moto = MotoServer::start();
    let aws = aws_for(&moto).await;
    let keys = tempfile::tempdir().unwrap();
    let bp = full_blueprint();
    let slug = bp.slug().into_owned();
    let report = deploy::deploy(&aws, checked(bp), options(&keys), NoopSink)
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Success, "{report:#?}");
    let id_of = |r: Resource| {
        report
            .created
            .iter()
            .find(|c| c.resource == r)
            .map(|c| c.id.clone())
            .unwrap()
    };
    let ec2 = aws.ec2(REGION);
    let alloc = ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .tag_specifications(tagged(Ec2Type::ElasticIp, &slug))
        .send()
        .await
        .unwrap()
        .allocation_id()
        .unwrap()
        .to_owned();
    ec2.create_nat_gateway()
        .subnet_id(id_of(Resource::Subnet))
        .allocation_id(&alloc)
        .tag_specifications(tagged(Ec2Type::Natgateway, &slug))
        .send()
        .await
        .unwrap();

    let scanned = scan_region(&aws).await;
    let mine: Vec<&ResourceRecord> = scanned
        .values()
        .filter(|r| r.project.as_deref() == Some(slug.as_str()))
        .collect();
    let kinds: BTreeSet<ResourceType> = mine.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        ResourceType::ALL.iter().copied().collect(),
        "the seeded project has every type"
    );
    for r in &mine {
        assert_eq!(r.account, "123456789012", "{} {}", r.kind, r.id);
        assert!(r.arn.is_some(), "{} {} has an ARN", r.kind, r.id);
    }

    // By id: what terminate plans with (the describer refresh and power use too).
    let opts = TerminateOptions {
        project: Some(slug.clone()),
        ..TerminateOptions::default()
    };
    let plan = terminate::plan(&aws, mine.iter().map(|r| target(r)).collect(), opts.clone())
        .await
        .unwrap();
    let by_id = described(&plan);
    assert_eq!(by_id.len(), mine.len(), "{plan:#?}");
    for d in by_id {
        let s = &scanned[&(d.kind, d.id.clone())];
        assert_eq!(seen(d), seen(s), "{} {}: described ≠ scanned", d.kind, d.id);
    }
    // Refresh reads the same state.
    let states = refresh::describe(&aws, mine.iter().map(|r| target(r)).collect()).await;
    for st in states {
        let s = &scanned[&(st.target.kind, st.target.id.clone())];
        assert_eq!(st.state, s.state, "{} {}", s.kind, s.id);
    }

    // Inside the VPC: what the expansion of the VPC finds.
    let vpc = id_of(Resource::Vpc);
    let vpc_only = vec![target(&scanned[&(ResourceType::Vpc, vpc.clone())])];
    let plan = terminate::plan(&aws, vpc_only, opts).await.unwrap();
    let in_vpc: Vec<&ResourceRecord> = described(&plan)
        .into_iter()
        .filter(|r| r.kind != ResourceType::Vpc)
        .collect();
    // Every resource of the project that names the VPC, and the Elastic IP on its NAT gateway.
    let names_vpc = |r: &ResourceRecord| {
        let is_vpc = |v: &Value| v.as_str() == Some(vpc.as_str());
        r.details.get("vpc_id").is_some_and(is_vpc)
            || r.details
                .get("vpc_ids")
                .and_then(Value::as_array)
                .is_some_and(|ids| ids.iter().any(is_vpc))
    };
    let expected: BTreeSet<(ResourceType, String)> = mine
        .iter()
        .filter(|r| r.kind != ResourceType::Vpc)
        .filter(|r| names_vpc(r) || r.kind == ResourceType::ElasticIp)
        .map(|r| (r.kind, r.id.clone()))
        .collect();
    let found: BTreeSet<(ResourceType, String)> =
        in_vpc.iter().map(|r| (r.kind, r.id.clone())).collect();
    let missing: Vec<_> = expected.difference(&found).collect();
    assert!(missing.is_empty(), "not found in the VPC: {missing:?}");
    let kinds: BTreeSet<ResourceType> = expected.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds.len(), 9, "every type that lives in a VPC: {kinds:?}");
    for d in in_vpc {
        let s = &scanned[&(d.kind, d.id.clone())];
        assert_eq!(seen(d), seen(s), "{} {}: in-VPC ≠ scanned", d.kind, d.id);
    }
}
