//! Discovery for `destroy`: everything tagged for a project, merged with what the blueprint
//! recorded.

use std::collections::HashSet;

use pockitect_proto::{ResourceRecord, ResourceType, ScanChunk, TerminateTarget};
use tokio::sync::mpsc;

use crate::lookup::key_of;
use crate::scan::{self, ScanRequest};
use crate::{Aws, AwsError};

/// Listing calls in flight at once while discovering.
const CONCURRENCY: usize = 8;

/// Everything tagged `pockitect:project=<project>` in `regions` (all enabled regions when
/// empty) plus the account's S3 buckets and IAM roles and instance profiles, followed by the
/// `recorded` targets not found that way (deduplicated; a discovered entry wins, it carries
/// the real region). Instances already terminated and NAT gateways already deleted are left
/// out.
///
/// Fails when a region or service could not be listed: a destroy that silently missed part
/// of a project would leave it running and billing.
pub async fn discover_project(
    aws: &Aws,
    project: &str,
    regions: &[String],
    recorded: Vec<TerminateTarget>,
) -> Result<Vec<TerminateTarget>, AwsError> {
    let (tx, mut rx) = mpsc::channel::<ScanChunk>(16);
    let req = ScanRequest {
        regions: Some(regions.to_vec()),
        types: None,
        concurrency: CONCURRENCY,
    };
    let collect = async {
        let mut records: Vec<ResourceRecord> = Vec::new();
        while let Some(chunk) = rx.recv().await {
            records.extend(chunk.records);
        }
        records
    };
    let (summary, records) = tokio::join!(scan::scan(aws, req, tx), collect);
    let summary = summary?;
    // The account id (STS) is not needed here; every listing is.
    if let Some(e) = summary.errors.iter().find(|e| e.service != "sts") {
        return Err(AwsError::Api {
            operation: "pockitect:discover",
            region: e.region.clone(),
            code: e.code.clone(),
            message: format!(
                "could not list {} to find what project '{project}' owns: {} (nothing was deleted; fix the access or terminate the resources explicitly)",
                e.service, e.message
            ),
        });
    }
    Ok(merge(project, records, recorded))
}

fn merge(
    project: &str,
    records: Vec<ResourceRecord>,
    recorded: Vec<TerminateTarget>,
) -> Vec<TerminateTarget> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let discovered = records
        .into_iter()
        .filter(|r| r.project.as_deref() == Some(project))
        .filter(|r| {
            !matches!(
                (r.kind, r.state.as_deref()),
                (ResourceType::Ec2Instance, Some("terminated"))
                    | (ResourceType::NatGateway, Some("deleted"))
            )
        })
        .map(|r| TerminateTarget {
            id: r.id,
            kind: r.kind,
            region: r.region,
        });
    for t in discovered.chain(recorded) {
        // Global resources are one per account whatever region a record names.
        let key = (
            key_of(t.kind, &t.id),
            (!t.kind.is_global()).then(|| t.region.clone()),
        );
        if seen.insert(key) {
            out.push(t);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn rec(kind: ResourceType, id: &str, region: &str, project: &str) -> ResourceRecord {
        let tags = BTreeMap::from([("pockitect:project".to_owned(), project.to_owned())]);
        ResourceRecord::new(kind, id, region, tags)
    }

    fn target(kind: ResourceType, id: &str, region: &str) -> TerminateTarget {
        TerminateTarget {
            id: id.into(),
            kind,
            region: region.into(),
        }
    }

    #[test]
    fn merges_discovered_and_recorded_without_duplicates() {
        let mut terminated = rec(ResourceType::Ec2Instance, "i-old", "us-east-1", "p1");
        terminated.state = Some("terminated".into());
        let records = vec![
            rec(ResourceType::Vpc, "vpc-1", "us-east-1", "p1"),
            rec(ResourceType::Vpc, "vpc-2", "us-east-1", "p2"),
            rec(ResourceType::S3Bucket, "b1", "eu-west-1", "p1"),
            terminated,
        ];
        let recorded = vec![
            target(ResourceType::Vpc, "vpc-1", "us-east-1"),
            // recorded with the project's region; the bucket really lives in eu-west-1
            target(ResourceType::S3Bucket, "b1", "us-east-1"),
            target(ResourceType::Ec2Instance, "i-untagged", "us-east-1"),
        ];
        let got = merge("p1", records, recorded);
        assert_eq!(
            got,
            vec![
                target(ResourceType::Vpc, "vpc-1", "us-east-1"),
                target(ResourceType::S3Bucket, "b1", "eu-west-1"),
                target(ResourceType::Ec2Instance, "i-untagged", "us-east-1"),
            ]
        );
    }
}
