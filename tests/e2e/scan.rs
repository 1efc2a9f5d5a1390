//! A scan of a seeded moto through the daemon and the CLI.

use std::collections::BTreeSet;

use pockitect_proto::{ResourceRecord, ResourceType};

use crate::Env;

#[tokio::test]
async fn scan_finds_every_seeded_resource_with_type_region_and_tags() {
    let env = Env::new().await;
    let seeded = env.seed("us-east-1,eu-west-1", "seeded");
    let _d = env.daemon("d", 2);
    env.wait_daemons(1).await;

    let out = env
        .cli()
        .args(["scan", "--regions", "us-east-1,eu-west-1", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let chunks: BTreeSet<&str> = lines
        .iter()
        .filter(|l| l["type"] == "scan_chunk")
        .filter_map(|l| l["data"]["region"].as_str())
        .collect();
    assert_eq!(chunks, BTreeSet::from(["eu-west-1", "global", "us-east-1"]));
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "scan_complete");
    assert_eq!(last["status"], "success", "{last}");

    let out = env
        .cli()
        .args(["resources", "--project", "seeded", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let records: Vec<ResourceRecord> = serde_json::from_slice(&out.stdout).unwrap();
    for (chunk, by_type) in seeded.as_object().unwrap() {
        for (kind, ids) in by_type.as_object().unwrap() {
            let kind: ResourceType = kind.parse().unwrap();
            for id in ids.as_array().unwrap() {
                let id = id.as_str().unwrap();
                let r = records
                    .iter()
                    .find(|r| r.kind == kind && r.id == id)
                    .unwrap_or_else(|| panic!("{kind} {id} not found by the scan"));
                let expected_region = if kind.is_global() && kind != ResourceType::S3Bucket {
                    "global"
                } else {
                    chunk.as_str()
                };
                assert_eq!(r.region, expected_region, "{kind} {id}");
                assert_eq!(r.project.as_deref(), Some("seeded"));
                assert_eq!(
                    r.tags.get("pockitect:managed").map(String::as_str),
                    Some("true")
                );
                assert_eq!(r.account, "123456789012");
            }
        }
    }
    let types: BTreeSet<ResourceType> = records.iter().map(|r| r.kind).collect();
    assert_eq!(
        types.len(),
        ResourceType::ALL.len(),
        "every type found: {types:?}"
    );

    // The cache files were written (one per account and region) and hold no secrets.
    let cache = env.dir.path().join("cache");
    let account = &records[0].account;
    for f in ["us-east-1", "eu-west-1", "global"].map(|r| format!("{account}-{r}.json")) {
        let text = std::fs::read_to_string(cache.join(&f)).unwrap();
        assert!(
            !text.contains("seeded-not-secret-1"),
            "the DB password leaked into {f}"
        );
    }

    // Filters: by region and type.
    let out = env
        .cli()
        .args([
            "resources",
            "--region",
            "eu-west-1",
            "--type",
            "ec2_instance",
            "--json",
        ])
        .output()
        .unwrap();
    let only: Vec<ResourceRecord> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].id, seeded["eu-west-1"]["ec2_instance"][0]);
}
