//! The canonical example of PRODUCT.md section 1 loads, validates clean and is written back
//! exactly as it was.

use pockitect_blueprint::{Report, ValidationContext, from_json_str, validate};

const PRODUCT_EXAMPLE: &str = r#"{
  "project":  { "name": "Brenden's Blog", "slug": "brendens-blog", "description": "", "region": "us-east-2",
                "owner": "", "created_at": "2026-01-16T13:54:00Z", "tags": { "team": "web" } },
  "network":  { "vpc_mode": "new", "vpc_cidr": "10.0.0.0/16", "subnet_type": "public",
                "rules": [ { "port": 443, "protocol": "tcp", "cidr": "0.0.0.0/0", "description": "HTTPS" } ],
                "vpc_id": null, "subnet_id": null, "security_group_id": null, "status": "pending" },
  "compute":  { "instance_type": "t3.micro", "image_id": "ubuntu-24.04", "user_data": "",
                "instance_id": null, "public_ip": null, "status": "pending" },
  "data":     { "db": { "engine": "postgres", "instance_class": "db.t3.micro", "allocated_storage_gb": 20,
                        "username": "app", "password": null, "endpoint": null, "status": "pending" },
                "s3_bucket": { "name": "brendens-blog-assets", "arn": null, "status": "pending" } },
  "security": { "key_pair": { "mode": "generate", "name": "brendens-blog-key", "key_pair_id": null,
                              "private_key_path": null, "status": "pending" },
                "certificate": { "mode": "skip", "domain": null, "cert_arn": null, "status": "skipped" },
                "iam_role": { "enabled": true, "role_name": "pockitect-brendens-blog-role",
                              "policy_document": {}, "arn": null, "instance_profile_arn": null, "status": "pending" } }
}"#;

#[test]
fn the_product_example_is_clean_and_written_back_unchanged() {
    let (bp, notes) =
        pockitect_blueprint::from_json_str_with_notes(PRODUCT_EXAMPLE).expect("loads");
    assert_eq!(notes, [], "a canonical file needs no legacy rewrite");
    assert_eq!(
        validate(&bp, &ValidationContext::offline()),
        Report::default()
    );

    let written: serde_json::Value =
        serde_json::from_str(&bp.to_json_pretty().expect("serializes")).expect("json");
    let original: serde_json::Value = serde_json::from_str(PRODUCT_EXAMPLE).expect("json");
    assert_eq!(written, original);

    assert!(bp.has_db() && bp.has_bucket() && bp.key_pair_enabled() && bp.iam_enabled());
    assert!(!bp.certificate_enabled());
    assert_eq!(bp.image_alias_or_id(), "ubuntu-24.04");
}

#[test]
fn a_new_blueprint_is_valid_and_stable() {
    let bp = pockitect_blueprint::Blueprint::new("Side Project", "eu-west-1");
    assert!(validate(&bp, &ValidationContext::offline()).is_ok());
    let again = from_json_str(&bp.to_json_pretty().expect("serializes")).expect("loads");
    assert_eq!(again, bp);
}
