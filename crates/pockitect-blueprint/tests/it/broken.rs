//! One broken blueprint per validation rule: the error (or warning) lands at the exact path.

use pockitect_blueprint::{Blueprint, Report, ValidationContext, from_value, validate};
use rstest::rstest;
use serde_json::{Value, json};

/// A blueprint that uses every feature and validates with no error and no warning.
fn base() -> Value {
    json!({
        "project": {
            "name": "Brenden's Blog", "slug": "brendens-blog", "description": "", "region": "us-east-2",
            "owner": "", "created_at": "2026-01-16T13:54:00Z", "tags": { "team": "web" },
            "budget_usd_month": 40, "budget_alert_email": "ops@example.com"
        },
        "network": {
            "vpc_mode": "new", "vpc_cidr": "10.0.0.0/16", "subnet_type": "public",
            "rules": [
                { "port": 443, "protocol": "tcp", "cidr": "0.0.0.0/0", "description": "HTTPS" },
                { "port": 22, "protocol": "tcp", "cidr": "203.0.113.7/32", "description": "SSH" },
                { "port": 8080, "protocol": "tcp", "cidr": "10.0.0.0/8", "description": "App" },
                { "from_port": 8000, "to_port": 8100, "protocol": "udp", "cidr": "2001:db8::/32",
                  "description": "Range" }
            ],
            "vpc_id": null, "subnet_id": null, "security_group_id": null, "status": "pending"
        },
        "compute": {
            "instance_type": "t3.micro", "image_id": "ubuntu-24.04", "user_data": "",
            "instance_id": null, "public_ip": null, "status": "pending"
        },
        "data": {
            "db": { "engine": "postgres", "instance_class": "db.t3.micro", "allocated_storage_gb": 20,
                    "username": "app", "password": null, "endpoint": null, "status": "pending" },
            "s3_bucket": { "name": "brendens-blog-assets", "arn": null, "status": "pending" }
        },
        "security": {
            "key_pair": { "mode": "generate", "name": "brendens-blog-key", "key_pair_id": null,
                          "private_key_path": null, "status": "pending" },
            "certificate": { "mode": "request", "domain": "www.example.com", "cert_arn": null,
                             "status": "pending" },
            "iam_role": { "enabled": true, "role_name": "pockitect-brendens-blog-role",
                          "policy_document": {}, "arn": null, "instance_profile_arn": null,
                          "status": "pending" }
        }
    })
}

/// Sets `value` at a JSON pointer, creating the last key when missing.
fn set(doc: &mut Value, pointer: &str, value: Value) {
    if let Some(slot) = doc.pointer_mut(pointer) {
        *slot = value;
        return;
    }
    let (parent, key) = pointer.rsplit_once('/').expect("pointer has a parent");
    let parent = doc
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no object at {parent}"));
    parent.insert(key.to_owned(), value);
}

fn blueprint(edits: &[(&str, Value)]) -> Blueprint {
    let mut doc = base();
    for (pointer, value) in edits {
        set(&mut doc, pointer, value.clone());
    }
    from_value(doc).expect("the broken blueprint still loads")
}

fn check(edits: &[(&str, Value)]) -> Report {
    validate(&blueprint(edits), &ValidationContext::offline())
}

#[test]
fn the_base_blueprint_is_clean() {
    let report = check(&[]);
    assert_eq!(report, Report::default(), "{report}");
}

#[test]
fn the_spec_example_message() {
    let report = check(&[("/network/rules/2/port", json!(70000))]);
    let lines: Vec<String> = report.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        ["network.rules[2].port: 70000 is not a port (0-65535)"]
    );
}

#[rstest]
// project
#[case::name_empty(&[("/project/name", json!(""))], "project.name", "is empty")]
#[case::name_too_long(&[("/project/name", json!("n".repeat(65)))], "project.name", "the limit is 64")]
#[case::name_control(&[("/project/name", json!("a\u{7}b"))], "project.name", "control characters")]
#[case::slug_not_a_slug(&[("/project/slug", json!("Brendens Blog"))], "project.slug", "use 'brendens-blog'")]
#[case::slug_too_long(&[("/project/slug", json!("s".repeat(49)))], "project.slug", "the limit is 48")]
#[case::region_empty(&[("/project/region", json!(""))], "project.region", "is empty")]
#[case::region_uppercase(&[("/project/region", json!("US-EAST-2"))], "project.region", "use 'us-east-2'")]
#[case::region_shape(&[("/project/region", json!("Ohio"))], "project.region", "is not a region code")]
#[case::region_unknown(&[("/project/region", json!("us-east-7"))], "project.region", "did you mean 'us-east-1'?")]
#[case::region_not_commercial(&[("/project/region", json!("us-gov-west-1"))], "project.region", "not a known AWS commercial region")]
#[case::tag_aws_prefix(&[("/project/tags", json!({"aws:team": "x"}))], "project.tags[\"aws:team\"]", "reserves")]
#[case::tag_name(&[("/project/tags", json!({"Name": "x"}))], "project.tags[\"Name\"]", "set by Pockitect")]
#[case::tag_pockitect(&[("/project/tags", json!({"pockitect:project": "x"}))], "project.tags[\"pockitect:project\"]", "set by Pockitect")]
#[case::tag_value_long(&[("/project/tags", json!({"team": "v".repeat(257)}))], "project.tags[\"team\"]", "256")]
#[case::budget_negative(&[("/project/budget_usd_month", json!(-5))], "project.budget_usd_month", "-5 is not a monthly budget")]
#[case::budget_zero(&[("/project/budget_usd_month", json!(0))], "project.budget_usd_month", "set a positive amount")]
#[case::budget_infinite(&[("/project/budget_usd_month", json!("inf"))], "project.budget_usd_month", "inf is not a monthly budget")]
#[case::alert_email_shape(&[("/project/budget_alert_email", json!("ops at example.com"))], "project.budget_alert_email", "is not an email address")]
#[case::alert_email_domain(&[("/project/budget_alert_email", json!("ops@localhost"))], "project.budget_alert_email", "'localhost' is not a domain")]
// network
#[case::vpc_mode_unknown(&[("/network/vpc_mode", json!("cloud"))], "network.vpc_mode", "'cloud' is not a VPC mode")]
#[case::existing_needs_vpc_id(&[("/network/vpc_mode", json!("existing"))], "network.vpc_id", "is required when vpc_mode is 'existing'")]
#[case::existing_bad_vpc_id(&[("/network/vpc_mode", json!("existing")), ("/network/vpc_id", json!("vpc-xyz"))], "network.vpc_id", "is not a VPC id")]
#[case::shared_needs_env(&[("/network/vpc_mode", json!("shared"))], "network.vpc_env", "is required when vpc_mode is 'shared'")]
#[case::shared_bad_env(&[("/network/vpc_mode", json!("shared")), ("/network/vpc_env", json!("staging"))], "network.vpc_env", "'staging' is not an environment")]
#[case::vpc_cidr_prefix(&[("/network/vpc_cidr", json!("10.0.0.0/8"))], "network.vpc_cidr", "/16 to /28")]
#[case::vpc_cidr_host_bits(&[("/network/vpc_cidr", json!("10.0.0.1/16"))], "network.vpc_cidr", "the network block is '10.0.0.0/16'")]
#[case::vpc_cidr_garbage(&[("/network/vpc_cidr", json!("ten-oh"))], "network.vpc_cidr", "is not a CIDR block")]
#[case::vpc_cidr_ipv6(&[("/network/vpc_cidr", json!("2001:db8::/56"))], "network.vpc_cidr", "is IPv6")]
#[case::vpc_cidr_loopback(&[("/network/vpc_cidr", json!("127.0.0.0/16"))], "network.vpc_cidr", "loopback")]
#[case::subnet_outside_vpc(&[("/network/subnet_cidr", json!("10.1.0.0/24"))], "network.subnet_cidr", "is not inside network.vpc_cidr")]
#[case::subnet_fills_vpc_with_db(&[("/network/subnet_cidr", json!("10.0.0.0/16"))], "network.subnet_cidr", "second subnet")]
#[case::subnet_type(&[("/network/subnet_type", json!("dmz"))], "network.subnet_type", "'dmz' is not a subnet type")]
#[case::port_negative(&[("/network/rules/2/port", json!(-5))], "network.rules[2].port", "-5 is not a port (0-65535)")]
#[case::to_port_too_big(&[("/network/rules/3/to_port", json!(65536))], "network.rules[3].to_port", "65536 is not a port")]
#[case::from_above_to(&[("/network/rules/3/from_port", json!(9000))], "network.rules[3].from_port", "9000 is above to_port 8100: swap them")]
#[case::port_missing(&[("/network/rules/2/port", json!(null))], "network.rules[2].port", "is missing")]
#[case::port_and_range(&[("/network/rules/2/from_port", json!(1))], "network.rules[2]", "keep one")]
#[case::protocol_unknown(&[("/network/rules/2/protocol", json!("sctp"))], "network.rules[2].protocol", "'sctp' is not a protocol")]
#[case::icmp_type(&[("/network/rules/2/protocol", json!("icmp")), ("/network/rules/2/port", json!(300))], "network.rules[2].port", "ICMP type")]
#[case::icmp_on_ipv6(&[("/network/rules/3/protocol", json!("icmp")), ("/network/rules/3/from_port", json!(-1)), ("/network/rules/3/to_port", json!(-1))], "network.rules[3].protocol", "use 'icmpv6'")]
#[case::icmpv6_on_ipv4(&[("/network/rules/2/protocol", json!("icmpv6")), ("/network/rules/2/port", json!(-1))], "network.rules[2].protocol", "use 'icmp'")]
#[case::cidr_prefix(&[("/network/rules/2/cidr", json!("10.0.0.0/33"))], "network.rules[2].cidr", "prefix length above 32")]
#[case::cidr_bare_ip(&[("/network/rules/2/cidr", json!("198.51.100.4"))], "network.rules[2].cidr", "use '198.51.100.4/32'")]
#[case::cidr_ipv6_host_bits(&[("/network/rules/3/cidr", json!("2001:db8::1/64"))], "network.rules[3].cidr", "'2001:db8::/64'")]
#[case::cidr_empty(&[("/network/rules/2/cidr", json!(""))], "network.rules[2].cidr", "is empty")]
#[case::description_chars(&[("/network/rules/2/description", json!("Brenden's app"))], "network.rules[2].description", "contains '''")]
#[case::duplicate_rule(&[("/network/rules/2", json!({"port": 443, "protocol": "tcp", "cidr": "0.0.0.0/0"}))], "network.rules[2]", "duplicates network.rules[0]")]
// compute
#[case::instance_type_missing(&[("/compute/instance_type", json!(null))], "compute.instance_type", "is missing")]
#[case::instance_type_typo(&[("/compute/instance_type", json!("t3.mirco"))], "compute.instance_type", "'mirco' is not a size")]
#[case::instance_type_shape(&[("/compute/instance_type", json!("t3micro"))], "compute.instance_type", "family.size")]
#[case::ami_bad(&[("/compute/image_id", json!("ami-123"))], "compute.image_id", "is not an AMI id")]
#[case::image_unknown(&[("/compute/image_id", json!("ubuntu-20.04"))], "compute.image_id", "did you mean 'ubuntu-22.04'?")]
#[case::windows_on_arm(&[("/compute/image_id", json!("windows-2022")), ("/compute/instance_type", json!("t4g.medium"))], "compute.image_id", "no arm64 image")]
#[case::user_data_size(&[("/compute/user_data", json!("x".repeat(16 * 1024 + 1)))], "compute.user_data", "is 16385 bytes")]
// database
#[case::engine_unknown(&[("/data/db/engine", json!("oracle-ee"))], "data.db.engine", "'oracle-ee' is not an engine Pockitect deploys")]
#[case::engine_missing(&[("/data/db/engine", json!(null))], "data.db.engine", "is missing")]
#[case::class_missing(&[("/data/db/instance_class", json!(null))], "data.db.instance_class", "is missing")]
#[case::class_without_db_prefix(&[("/data/db/instance_class", json!("t3.micro"))], "data.db.instance_class", "use 'db.t3.micro'")]
#[case::storage_small(&[("/data/db/allocated_storage_gb", json!(10))], "data.db.allocated_storage_gb", "below the RDS minimum")]
#[case::storage_large(&[("/data/db/allocated_storage_gb", json!(70000))], "data.db.allocated_storage_gb", "above the RDS maximum")]
#[case::username_missing(&[("/data/db/username", json!(null))], "data.db.username", "is missing")]
#[case::username_reserved_postgres(&[("/data/db/username", json!("admin"))], "data.db.username", "reserved word for RDS postgres")]
#[case::username_reserved_rds(&[("/data/db/engine", json!("mysql")), ("/data/db/username", json!("rdsadmin"))], "data.db.username", "reserved word for RDS mysql")]
#[case::username_pg_prefix(&[("/data/db/username", json!("pg_app"))], "data.db.username", "reserved word")]
#[case::username_digit(&[("/data/db/username", json!("1app"))], "data.db.username", "must start with a letter")]
#[case::username_chars(&[("/data/db/username", json!("app-user"))], "data.db.username", "contains '-'")]
#[case::username_long(&[("/data/db/username", json!("application_owner"))], "data.db.username", "at most 16")]
// bucket
#[case::bucket_missing(&[("/data/s3_bucket/name", json!(null))], "data.s3_bucket.name", "'brendens-blog-assets'")]
#[case::bucket_uppercase(&[("/data/s3_bucket/name", json!("Brendens-Blog"))], "data.s3_bucket.name", "use 'brendens-blog'")]
#[case::bucket_chars(&[("/data/s3_bucket/name", json!("brendens_blog"))], "data.s3_bucket.name", "contains '_'")]
#[case::bucket_short(&[("/data/s3_bucket/name", json!("ab"))], "data.s3_bucket.name", "3 to 63")]
#[case::bucket_edges(&[("/data/s3_bucket/name", json!("assets-"))], "data.s3_bucket.name", "begin and end")]
#[case::bucket_ip(&[("/data/s3_bucket/name", json!("192.168.1.1"))], "data.s3_bucket.name", "IP address")]
#[case::bucket_dots(&[("/data/s3_bucket/name", json!("my..assets"))], "data.s3_bucket.name", "two adjacent dots")]
#[case::bucket_xn(&[("/data/s3_bucket/name", json!("xn--assets"))], "data.s3_bucket.name", "'xn--'")]
#[case::bucket_alias_suffix(&[("/data/s3_bucket/name", json!("assets-s3alias"))], "data.s3_bucket.name", "'-s3alias'")]
// key pair
#[case::key_mode(&[("/security/key_pair/mode", json!("ssh"))], "security.key_pair.mode", "'ssh' is not a key pair mode")]
#[case::key_existing_needs_name(&[("/security/key_pair/mode", json!("existing")), ("/security/key_pair/name", json!(null))], "security.key_pair.name", "is required when mode is 'existing'")]
#[case::key_name_ascii(&[("/security/key_pair/name", json!("ключ"))], "security.key_pair.name", "non-ASCII")]
#[case::key_name_long(&[("/security/key_pair/name", json!("k".repeat(256)))], "security.key_pair.name", "at most 255")]
// certificate
#[case::cert_mode(&[("/security/certificate/mode", json!("letsencrypt"))], "security.certificate.mode", "'letsencrypt' is not a certificate mode")]
#[case::cert_needs_domain(&[("/security/certificate/domain", json!(null))], "security.certificate.domain", "is required when mode is 'request'")]
#[case::cert_custom_needs_domain(&[("/security/certificate/mode", json!("custom")), ("/security/certificate/domain", json!(null))], "security.certificate.domain", "is required when mode is 'custom'")]
#[case::cert_domain_single_label(&[("/security/certificate/domain", json!("localhost"))], "security.certificate.domain", "fully qualified")]
#[case::cert_domain_chars(&[("/security/certificate/domain", json!("my_site.example.com"))], "security.certificate.domain", "labels use only")]
#[case::cert_domain_long(&[("/security/certificate/domain", json!(format!("{}.example.com", "a".repeat(60))))], "security.certificate.domain", "at most 64")]
#[case::cert_arn(&[("/security/certificate/cert_arn", json!("not-an-arn"))], "security.certificate.cert_arn", "is not an ACM certificate ARN")]
// IAM role
#[case::role_chars(&[("/security/iam_role/role_name", json!("my role!"))], "security.iam_role.role_name", "contains ' !'")]
#[case::role_long(&[("/security/iam_role/role_name", json!("r".repeat(65)))], "security.iam_role.role_name", "1 to 64")]
#[case::policy_string(&[("/security/iam_role/policy_document", json!("{}"))], "security.iam_role.policy_document", "is a string")]
#[case::policy_array(&[("/security/iam_role/policy_document", json!([1]))], "security.iam_role.policy_document", "must be a JSON object")]
#[case::policy_no_statement(&[("/security/iam_role/policy_document", json!({"Version": "2012-10-17"}))], "security.iam_role.policy_document", "has no 'Statement'")]
#[case::policy_version(&[("/security/iam_role/policy_document", json!({"Version": "2020-01-01", "Statement": []}))], "security.iam_role.policy_document", "2012-10-17")]
// secrets
#[case::db_password(&[("/data/db/password", json!("hunter2hunter2"))], "data.db.password", "OS keyring")]
#[case::private_key(&[("/security/key_pair/private_key_pem", json!("-----BEGIN RSA PRIVATE KEY-----"))], "security.key_pair.private_key_pem", "0600")]
#[case::secret_in_unknown_field(&[("/data/s3_bucket/secret_access_key", json!("abc"))], "data.s3_bucket.secret_access_key", "looks like a secret")]
fn broken_blueprints_report_the_exact_path(
    #[case] edits: &[(&str, Value)],
    #[case] path: &str,
    #[case] fragment: &str,
) {
    let report = check(edits);
    assert!(
        report.errors_at(path).any(|i| i.message.contains(fragment)),
        "expected an error at {path} containing {fragment:?}; got:\n{report}"
    );
}

#[rstest]
#[case::ssh_world(&[("/network/rules/1/cidr", json!("0.0.0.0/0"))], "network.rules[1]", "SSH (22) open to the world (0.0.0.0/0)")]
#[case::postgres_world(&[("/network/rules/2", json!({"port": 5432, "cidr": "0.0.0.0/0"}))], "network.rules[2]", "PostgreSQL (5432) open to the world")]
#[case::mysql_world_v6(&[("/network/rules/2", json!({"port": 3306, "cidr": "::/0"}))], "network.rules[2]", "MySQL/MariaDB (3306) open to the world (::/0)")]
#[case::range_world(&[("/network/rules/2", json!({"from_port": 0, "to_port": 65535, "cidr": "0.0.0.0/0"}))], "network.rules[2]", "SSH (22), SQL Server (1433)")]
#[case::all_world(&[("/network/rules/2", json!({"protocol": "-1", "cidr": "0.0.0.0/0"}))], "network.rules[2]", "protocol 'all' is open to the world")]
#[case::public_db(&[("/data/db/publicly_accessible", json!(true))], "data.db.publicly_accessible", "reachable from the internet")]
#[case::public_vpc_range(&[("/network/vpc_cidr", json!("100.64.0.0/16"))], "network.vpc_cidr", "not a private range")]
#[case::cidr_ignored(&[("/network/vpc_mode", json!("default"))], "network.vpc_cidr", "is ignored because vpc_mode is 'default'")]
#[case::env_ignored(&[("/network/vpc_env", json!("prod"))], "network.vpc_env", "is ignored")]
#[case::unknown_status(&[("/compute/status", json!("exploded"))], "compute.status", "'exploded' is not a known status")]
#[case::custom_cert(&[("/security/certificate/mode", json!("custom"))], "security.certificate.mode", "import the certificate into ACM")]
#[case::no_rules(&[("/network/rules", json!([]))], "network.rules", "nothing can reach the instance")]
#[case::windows_without_key(&[("/compute/image_id", json!("windows-2022")), ("/security/key_pair/mode", json!("none"))], "security.key_pair.mode", "Windows Administrator password")]
#[case::half_range(&[("/network/rules/3/to_port", json!(null))], "network.rules[3].to_port", "opens only port 8000")]
#[case::dotted_bucket(&[("/data/s3_bucket/name", json!("assets.example.com"))], "data.s3_bucket.name", "prefer hyphens")]
#[case::alert_without_budget(&[("/project/budget_usd_month", json!(null))], "project.budget_alert_email", "no budget to alert about")]
#[case::bad_created_at(&[("/project/created_at", json!("yesterday"))], "project.created_at", "RFC 3339")]
fn risky_blueprints_warn_without_failing(
    #[case] edits: &[(&str, Value)],
    #[case] path: &str,
    #[case] fragment: &str,
) {
    let report = check(edits);
    assert!(report.is_ok(), "warnings only, got:\n{report}");
    assert!(
        report
            .warnings_at(path)
            .any(|i| i.message.contains(fragment)),
        "expected a warning at {path} containing {fragment:?}; got:\n{report}"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let report = check(&[
        ("/project/name", json!("")),
        ("/project/region", json!("mars-north-1")),
        ("/network/vpc_cidr", json!("10.0.0.0/8")),
        ("/network/rules/0/port", json!(70000)),
        ("/network/rules/1/protocol", json!("sctp")),
        ("/network/rules/2/cidr", json!("nope")),
        ("/compute/instance_type", json!("huge")),
        ("/compute/image_id", json!("gentoo")),
        ("/data/db/username", json!("admin")),
        ("/data/s3_bucket/name", json!("UP")),
        ("/security/certificate/domain", json!("localhost")),
        ("/security/iam_role/role_name", json!("bad role")),
    ]);
    let mut paths: Vec<&str> = report.errors.iter().map(|i| i.path.as_str()).collect();
    paths.dedup();
    assert_eq!(
        paths,
        [
            "project.name",
            "project.region",
            "network.vpc_cidr",
            "network.rules[0].port",
            "network.rules[1].protocol",
            "network.rules[2].cidr",
            "compute.instance_type",
            "compute.image_id",
            "data.db.username",
            "data.s3_bucket.name",
            "security.certificate.domain",
            "security.iam_role.role_name",
        ],
        "{report}"
    );
}

#[test]
fn switched_off_parts_are_not_checked() {
    let report = check(&[
        (
            "/data/db",
            json!({"status": "skipped", "username": "admin"}),
        ),
        ("/data/s3_bucket", json!(null)),
        (
            "/security/certificate",
            json!({"mode": "skip", "domain": "not a domain"}),
        ),
        (
            "/security/iam_role",
            json!({"enabled": false, "role_name": "bad role"}),
        ),
        (
            "/security/key_pair",
            json!({"mode": "none", "name": "ключ"}),
        ),
    ]);
    assert_eq!(report.errors, [], "{report}");
}

#[test]
fn catalog_membership_is_checked_when_known() {
    let bp = blueprint(&[]);
    let ctx = ValidationContext::offline()
        .with_regions(["us-east-1", "eu-west-1"])
        .with_instance_types("us-east-2", ["t3.small", "t3.medium"])
        .with_instance_types("eu-west-1", ["t3.micro"])
        .with_db_classes("us-east-2", "postgres", ["db.t3.small"]);
    let report = validate(&bp, &ctx);
    let errors: Vec<String> = report.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            "project.region: 'us-east-2' is not a region this account can use; did you mean \
             'us-east-1'? enable it in the account or choose another",
            "compute.instance_type: 't3.micro' is not offered in 'us-east-2': choose a type the \
             region offers",
            "data.db.instance_class: 'db.t3.micro' is not offered for postgres in 'us-east-2': \
             choose a class the region offers",
        ]
    );

    // Near misses get a suggestion.
    let bp = blueprint(&[("/compute/instance_type", json!("t3a.small"))]);
    let report = validate(&bp, &ctx);
    assert!(
        report
            .errors_at("compute.instance_type")
            .any(|i| i.message.ends_with("did you mean 't3.small'?")),
        "{report}"
    );

    // A catalog for another region says nothing about this one.
    let ctx = ValidationContext::offline().with_instance_types("eu-west-1", ["m5.large"]);
    assert!(validate(&bp, &ctx).is_ok());
}

#[test]
fn a_budget_that_is_not_an_amount_is_refused_at_its_path() {
    let mut doc = base();
    set(&mut doc, "/project/budget_usd_month", json!("lots"));
    let err = from_value(doc).expect_err("not an amount");
    let message = err.to_string();
    assert!(message.contains("project.budget_usd_month"), "{message}");
    assert!(
        message.contains(
            "expected an amount of US dollars a month (such as 20), found the string \"lots\""
        ),
        "{message}"
    );
    // A number written as text, with or without its dollar sign, is an amount.
    let bp = blueprint(&[("/project/budget_usd_month", json!("$20.50"))]);
    assert_eq!(bp.project.budget_usd_month, Some(20.5));
}
