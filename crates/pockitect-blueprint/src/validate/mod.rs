//! Validation: every problem of a blueprint at once, each with its JSON path, before any AWS
//! call. Errors stop a deploy; warnings (security risks, ignored fields) do not.

mod checked;
mod context;
mod names;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::model::{
    Blueprint, CertificateMode, DbEngine, Extra, IMAGE_ALIASES, ImageRef, KeyPairMode, Protocol,
    Rule, SectionStatus, SubnetType, VpcMode,
};
use crate::net::Cidr;
use crate::slug::{MAX_SLUG_LEN, is_valid_slug, slugify};

pub use checked::{Checked, Rejected, check};
pub use context::{BUILTIN_REGIONS, ValidationContext};
pub use names::{check_db_password, is_account_id};
pub use pockitect_proto::validation::{Issue, Report};

/// Checks a blueprint and reports every problem found. Never fails, never panics, never calls
/// AWS; what `ctx` knows (regions, instance types, DB classes) is checked for membership.
pub fn validate(bp: &Blueprint, ctx: &ValidationContext) -> Report {
    let mut v = Validator {
        bp,
        ctx,
        report: Report::default(),
    };
    v.project();
    v.network();
    v.compute();
    v.database();
    v.bucket();
    v.key_pair();
    v.certificate();
    v.iam_role();
    v.statuses();
    v.secrets();
    v.report
}

/// Ports whose exposure to the whole internet deserves a warning.
const SENSITIVE_PORTS: &[(i64, &str)] = &[
    (22, "SSH"),
    (1433, "SQL Server"),
    (1521, "Oracle"),
    (3306, "MySQL/MariaDB"),
    (3389, "RDP"),
    (5432, "PostgreSQL"),
    (6379, "Redis"),
    (27017, "MongoDB"),
];

/// Security group inbound rule quota (default, adjustable).
const MAX_RULES: usize = 60;
/// EC2 user data limit before base64.
const MAX_USER_DATA: usize = 16 * 1024;
/// IAM inline role policy size limit.
const MAX_POLICY_CHARS: usize = 10_240;
/// RDS allocated storage range for gp2/gp3 (PostgreSQL, MySQL, MariaDB).
const MIN_DB_STORAGE_GB: i64 = 20;
const MAX_DB_STORAGE_GB: i64 = 65_536;
/// Tags per resource (50) minus the three Pockitect sets.
const MAX_USER_TAGS: usize = 47;

struct Validator<'a> {
    bp: &'a Blueprint,
    ctx: &'a ValidationContext,
    report: Report,
}

fn quoted_list(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.join(""),
    }
}

fn blank(s: Option<&str>) -> bool {
    s.is_none_or(|s| s.trim().is_empty())
}

impl Validator<'_> {
    fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.report.errors.push(Issue {
            path: path.into(),
            message: message.into(),
        });
    }

    fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.report.warnings.push(Issue {
            path: path.into(),
            message: message.into(),
        });
    }

    // -- project ---------------------------------------------------------------------------

    fn project(&mut self) {
        let p = &self.bp.project;
        let name = p.name.trim();
        if name.is_empty() {
            self.error(
                "project.name",
                "is empty; give the project a name such as 'My Blog'",
            );
        } else {
            let len = name.chars().count();
            if len > 64 {
                self.error(
                    "project.name",
                    format!("is {len} characters; the limit is 64: shorten it"),
                );
            }
            if name.chars().any(char::is_control) {
                self.error(
                    "project.name",
                    format!(
                        "'{}' has control characters: remove them",
                        name.escape_debug()
                    ),
                );
            }
        }

        let slug = p.slug.trim();
        if slug.is_empty() {
            self.error(
                "project.slug",
                format!("is empty; set it to '{}'", slugify(&p.name)),
            );
        } else if !is_valid_slug(slug) {
            let fixed = slugify(slug);
            if fixed.len() > MAX_SLUG_LEN || slug.len() > MAX_SLUG_LEN {
                let short: String = fixed.chars().take(MAX_SLUG_LEN).collect();
                self.error(
                    "project.slug",
                    format!(
                        "'{slug}' is {} characters; the limit is {MAX_SLUG_LEN} so derived AWS \
                         names fit (role 'pockitect-<slug>-role' has at most 64): set a shorter \
                         slug such as '{}'",
                        slug.len(),
                        short.trim_end_matches('-')
                    ),
                );
            } else {
                self.error(
                    "project.slug",
                    format!(
                        "'{slug}' is not a slug (lowercase letters, digits, single hyphens): use \
                         '{fixed}'"
                    ),
                );
            }
        }

        self.region();
        self.budget();
        self.account();

        if let Some(created) = p.created_at.as_deref()
            && chrono::DateTime::parse_from_rfc3339(created).is_err()
        {
            self.warn(
                "project.created_at",
                format!(
                    "'{created}' is not an RFC 3339 time such as '2026-01-16T13:54:00Z'; it is \
                     kept as written"
                ),
            );
        }

        if p.tags.len() > MAX_USER_TAGS {
            self.error(
                "project.tags",
                format!(
                    "has {} tags; AWS allows 50 per resource and Pockitect sets 3: keep at most \
                     {MAX_USER_TAGS}",
                    p.tags.len()
                ),
            );
        }
        for (key, value) in &p.tags {
            let path = format!("project.tags[{}]", serde_json::Value::String(key.clone()));
            let lower = key.to_ascii_lowercase();
            if key.trim().is_empty() {
                self.error(path.clone(), "has an empty key: give the tag a name");
            } else if key.chars().count() > 128 {
                self.error(
                    path.clone(),
                    "key is longer than 128 characters, the AWS limit",
                );
            }
            if lower.starts_with("aws:") {
                self.error(
                    path.clone(),
                    format!("'{key}' starts with 'aws:', which AWS reserves: rename it"),
                );
            }
            if key == "Name" || lower.starts_with("pockitect:") {
                self.error(
                    path.clone(),
                    format!("'{key}' is set by Pockitect on every resource: rename or remove it"),
                );
            }
            if value.chars().count() > 256 {
                self.error(path, "value is longer than 256 characters, the AWS limit");
            }
        }
    }

    fn budget(&mut self) {
        let p = &self.bp.project;
        if let Some(budget) = p.budget_usd_month
            && !(budget.is_finite() && budget > 0.0)
        {
            self.error(
                "project.budget_usd_month",
                format!(
                    "{budget} is not a monthly budget: set a positive amount of US dollars such \
                     as 20, or remove it for no budget"
                ),
            );
        }
        if let Some(email) = p.budget_alert_email.as_deref() {
            if let Some(problem) = names::email_problem(email) {
                self.error("project.budget_alert_email", problem);
            } else if p.budget_usd_month.is_none() {
                self.warn(
                    "project.budget_alert_email",
                    "has no budget to alert about: set project.budget_usd_month, or remove it",
                );
            }
        }
    }

    fn account(&mut self) {
        let Some(account) = self.bp.project.account.as_deref() else {
            return;
        };
        if let Some(problem) = names::account_problem(account) {
            self.error("project.account", problem);
        }
    }

    fn region(&mut self) {
        let region = self.bp.region();
        if region.is_empty() {
            self.error(
                "project.region",
                "is empty; set an AWS region such as 'us-east-1'",
            );
            return;
        }
        if !is_region_code(region) {
            let lower = region.to_ascii_lowercase();
            let hint = if is_region_code(&lower) {
                format!("use '{lower}'")
            } else {
                "write a region code such as 'us-east-1'".to_owned()
            };
            self.error(
                "project.region",
                format!("'{region}' is not a region code: {hint}"),
            );
            return;
        }
        self.region_offered(region);
    }

    /// The catalog rule of the region: a known region (built-in list or the account's).
    fn region_offered(&mut self, region: &str) {
        let known = self.ctx.known_regions();
        if !known.contains(&region) {
            let suggestion = names::closest(region, known.iter().copied())
                .map(|s| format!("did you mean '{s}'? "))
                .unwrap_or_default();
            let source = if self.ctx.has_region_catalog() {
                "is not a region this account can use"
            } else {
                "is not a known AWS commercial region"
            };
            let tail = if self.ctx.has_region_catalog() {
                "enable it in the account or choose another"
            } else {
                "if it is new, validate through the daemon, which knows your account's regions"
            };
            self.error(
                "project.region",
                format!("'{region}' {source}; {suggestion}{tail}"),
            );
        }
    }

    /// The catalog rule of the instance type: offered in the region, when the catalog says.
    fn instance_type_offered(&mut self, t: &str) {
        if let Some(offered) = self.ctx.instance_types(self.bp.region())
            && !offered.contains(t)
        {
            let hint = names::closest(t, offered.iter().map(String::as_str))
                .map(|s| format!("did you mean '{s}'?"))
                .unwrap_or_else(|| "choose a type the region offers".to_owned());
            self.error(
                "compute.instance_type",
                format!("'{t}' is not offered in '{}': {hint}", self.bp.region()),
            );
        }
    }

    /// The catalog rule of the DB class: offered for the engine in the region, when known.
    fn db_class_offered(&mut self, engine: &DbEngine, class: &str) {
        if let Some(offered) = self.ctx.db_classes(self.bp.region(), engine.as_str())
            && !offered.contains(class)
        {
            let hint = names::closest(class, offered.iter().map(String::as_str))
                .map(|s| format!("did you mean '{s}'?"))
                .unwrap_or_else(|| "choose a class the region offers".to_owned());
            self.error(
                "data.db.instance_class",
                format!(
                    "'{class}' is not offered for {engine} in '{}': {hint}",
                    self.bp.region()
                ),
            );
        }
    }

    /// Only the rules that depend on what the region offers, for a blueprint whose every other
    /// rule already passed (so its region, instance type and DB class are well-formed).
    fn offer(&mut self) {
        self.region_offered(self.bp.region());
        if let Some(t) = self.bp.compute.instance_type.as_deref().map(str::trim) {
            self.instance_type_offered(t);
        }
        if let Some(db) = self.bp.db()
            && let (Some(engine), Some(class)) = (&db.engine, db.instance_class.as_deref())
        {
            self.db_class_offered(engine, class.trim());
        }
    }

    // -- network ---------------------------------------------------------------------------

    fn network(&mut self) {
        let n = &self.bp.network;
        let mode = &n.vpc_mode;
        match mode {
            VpcMode::Other(word) => self.error(
                "network.vpc_mode",
                format!(
                    "'{word}' is not a VPC mode; use {}",
                    quoted_list(VpcMode::KNOWN)
                ),
            ),
            VpcMode::Existing => match n.vpc_id.as_deref().map(str::trim) {
                None | Some("") => self.error(
                    "network.vpc_id",
                    "is required when vpc_mode is 'existing': set the id of your VPC (vpc-…)",
                ),
                Some(id) if !is_aws_id(id, "vpc-") => self.error(
                    "network.vpc_id",
                    format!("'{id}' is not a VPC id (vpc- followed by 8 or 17 hex digits)"),
                ),
                Some(_) => {}
            },
            VpcMode::Shared => match &n.vpc_env {
                None => self.error(
                    "network.vpc_env",
                    "is required when vpc_mode is 'shared': use 'prod', 'dev' or 'test'",
                ),
                Some(crate::model::VpcEnv::Other(word)) => self.error(
                    "network.vpc_env",
                    format!("'{word}' is not an environment; use 'prod', 'dev' or 'test'"),
                ),
                Some(_) => {}
            },
            VpcMode::Default | VpcMode::New => {}
        }
        if let Some(env) = &n.vpc_env
            && !matches!(mode, VpcMode::Shared | VpcMode::Other(_))
        {
            self.warn(
                "network.vpc_env",
                format!("'{env}' is ignored because vpc_mode is '{mode}': remove it"),
            );
        }

        // VPC range.
        let mut vpc_net = None;
        match (mode, n.vpc_cidr.as_deref()) {
            (VpcMode::New, cidr) => {
                let cidr = cidr
                    .filter(|c| !c.trim().is_empty())
                    .unwrap_or(crate::model::DEFAULT_VPC_CIDR);
                vpc_net = self.vpc_range("network.vpc_cidr", cidr, "a VPC");
            }
            (VpcMode::Other(_), _) | (_, None) => {}
            (_, Some(cidr)) if cidr.trim().is_empty() => {}
            (_, Some(_)) => self.warn(
                "network.vpc_cidr",
                format!(
                    "is ignored because vpc_mode is '{mode}' (only 'new' creates a VPC): remove it"
                ),
            ),
        }
        if let Some(subnet) = n.subnet_cidr.as_deref().filter(|c| !c.trim().is_empty()) {
            if *mode == VpcMode::New {
                if let Some(sub_net) = self.vpc_range("network.subnet_cidr", subnet, "a subnet")
                    && let Some(vpc) = vpc_net
                {
                    if !vpc.contains(&sub_net) {
                        self.error(
                            "network.subnet_cidr",
                            format!(
                                "'{subnet}' is not inside network.vpc_cidr '{}': choose a block \
                                 inside it",
                                self.bp.vpc_cidr()
                            ),
                        );
                    } else if sub_net.prefix == vpc.prefix && self.bp.has_db() {
                        self.error(
                            "network.subnet_cidr",
                            format!(
                                "'{subnet}' fills the whole VPC, but the database needs a second \
                                 subnet in another availability zone: use a smaller block such \
                                 as a /{} inside it",
                                (vpc.prefix + 4).min(28)
                            ),
                        );
                    }
                }
            } else {
                self.warn(
                    "network.subnet_cidr",
                    format!("is ignored because vpc_mode is '{mode}': remove it"),
                );
            }
        }

        if let SubnetType::Other(word) = &n.subnet_type {
            self.error(
                "network.subnet_type",
                format!("'{word}' is not a subnet type; use 'public' or 'private'"),
            );
        }

        if n.rules.is_empty() {
            self.warn(
                "network.rules",
                "is empty: nothing can reach the instance from outside (not even SSH)",
            );
        } else if n.rules.len() > MAX_RULES {
            self.warn(
                "network.rules",
                format!(
                    "has {} rules; a security group takes {MAX_RULES} inbound rules unless the \
                     quota was raised",
                    n.rules.len()
                ),
            );
        }
        for (i, rule) in n.rules.iter().enumerate() {
            self.rule(i, rule);
        }
        self.duplicate_rules();
    }

    /// Checks an IPv4 VPC or subnet range (/16 to /28, not a forbidden range).
    fn vpc_range(&mut self, path: &str, cidr: &str, what: &str) -> Option<Cidr> {
        let net = match Cidr::parse(cidr) {
            Ok(net) => net,
            Err(e) => {
                self.error(path, format!("'{cidr}' {e}"));
                return None;
            }
        };
        if !net.is_v4() {
            self.error(
                path,
                format!("'{cidr}' is IPv6; {what} takes an IPv4 block such as '10.0.0.0/16'"),
            );
            return None;
        }
        if !(16..=28).contains(&net.prefix) {
            self.error(
                path,
                format!(
                    "'{cidr}' has prefix /{}; {what} takes /16 to /28 (such as '10.0.0.0/16')",
                    net.prefix
                ),
            );
            return None;
        }
        if let Some(range) = net.overlaps_forbidden_vpc_range() {
            self.error(
                path,
                format!("'{cidr}' overlaps the {range}, which AWS does not allow: use a private range such as '10.0.0.0/16'"),
            );
            return None;
        }
        if path == "network.vpc_cidr" && !net.is_rfc1918() {
            self.warn(
                path,
                format!(
                    "'{cidr}' is not a private range (10.0.0.0/8, 172.16.0.0/12, \
                     192.168.0.0/16); addresses in it will shadow the public internet"
                ),
            );
        }
        Some(net)
    }

    fn rule(&mut self, i: usize, rule: &Rule) {
        let base = format!("network.rules[{i}]");
        let cidr = rule.cidr.trim();
        let parsed = if cidr.is_empty() {
            self.error(
                format!("{base}.cidr"),
                "is empty; set the addresses allowed in, such as '203.0.113.7/32' for one \
                 address or '0.0.0.0/0' for everyone",
            );
            None
        } else {
            match Cidr::parse(cidr) {
                Ok(net) => Some(net),
                Err(e) => {
                    self.error(format!("{base}.cidr"), format!("'{cidr}' {e}"));
                    None
                }
            }
        };

        match &rule.protocol {
            Protocol::Other(word) => self.error(
                format!("{base}.protocol"),
                format!(
                    "'{word}' is not a protocol; use {}",
                    quoted_list(Protocol::KNOWN)
                ),
            ),
            Protocol::Icmp if parsed.is_some_and(|n| !n.is_v4()) => self.error(
                format!("{base}.protocol"),
                "'icmp' does not apply to an IPv6 cidr: use 'icmpv6'",
            ),
            Protocol::Icmpv6 if parsed.is_some_and(|n| n.is_v4()) => self.error(
                format!("{base}.protocol"),
                "'icmpv6' does not apply to an IPv4 cidr: use 'icmp'",
            ),
            _ => {}
        }

        self.rule_ports(&base, rule);

        for problem in names::rule_description_problems(&rule.description) {
            self.error(format!("{base}.description"), problem);
        }

        // Exposure warnings.
        if let Some(net) = parsed.filter(Cidr::is_world) {
            let world = if net.is_v4() { "0.0.0.0/0" } else { "::/0" };
            match (&rule.protocol, rule.port_range()) {
                (Protocol::All, _) => self.warn(
                    base,
                    format!(
                        "protocol 'all' is open to the world ({world}): every port of the \
                         instance is reachable from the internet; restrict the protocol, ports \
                         or cidr"
                    ),
                ),
                (Protocol::Tcp, Some(range)) => {
                    let exposed: Vec<String> = SENSITIVE_PORTS
                        .iter()
                        .filter(|(port, _)| range.contains(*port))
                        .map(|(port, label)| format!("{label} ({port})"))
                        .collect();
                    if !exposed.is_empty() {
                        self.warn(
                            base,
                            format!(
                                "{} open to the world ({world}); restrict cidr to the addresses \
                                 that need it (such as '203.0.113.7/32')",
                                exposed.join(", ")
                            ),
                        );
                    }
                }
                _ => {}
            }
        }
    }

    fn rule_ports(&mut self, base: &str, rule: &Rule) {
        let fields = [
            ("port", rule.port),
            ("from_port", rule.from_port),
            ("to_port", rule.to_port),
        ];
        match rule.protocol {
            Protocol::Tcp | Protocol::Udp => {
                for (field, value) in fields {
                    if let Some(v) = value
                        && !(0..=65535).contains(&v)
                    {
                        self.error(
                            format!("{base}.{field}"),
                            format!("{v} is not a port (0-65535)"),
                        );
                    }
                }
                match (rule.port, rule.from_port, rule.to_port) {
                    (None, None, None) => self.error(
                        format!("{base}.port"),
                        "is missing: set 'port', or 'from_port' and 'to_port' for a range",
                    ),
                    (Some(p), from, to)
                        if from.is_some_and(|f| f != p) || to.is_some_and(|t| t != p) =>
                    {
                        self.error(
                            base.to_owned(),
                            "sets both 'port' and a different 'from_port'/'to_port': keep one",
                        );
                    }
                    (None, Some(from), Some(to)) if from > to => self.error(
                        format!("{base}.from_port"),
                        format!("{from} is above to_port {to}: swap them"),
                    ),
                    (None, Some(p), None) => self.warn(
                        format!("{base}.to_port"),
                        format!(
                            "is missing: the rule opens only port {p}; set to_port for a range"
                        ),
                    ),
                    (None, None, Some(p)) => self.warn(
                        format!("{base}.from_port"),
                        format!(
                            "is missing: the rule opens only port {p}; set from_port for a range"
                        ),
                    ),
                    _ => {}
                }
            }
            Protocol::Icmp | Protocol::Icmpv6 => {
                for (field, value) in fields {
                    if let Some(v) = value
                        && !(-1..=255).contains(&v)
                    {
                        self.error(
                            format!("{base}.{field}"),
                            format!("{v} is not an ICMP type or code (-1 for all, 0-255)"),
                        );
                    }
                }
            }
            Protocol::All => {
                if fields.iter().any(|(_, v)| v.is_some()) {
                    self.warn(
                        base.to_owned(),
                        "ports are ignored: protocol 'all' opens every port; remove them or \
                         choose 'tcp'/'udp'",
                    );
                }
            }
            Protocol::Other(_) => {}
        }
    }

    fn duplicate_rules(&mut self) {
        let mut seen: BTreeMap<(String, String, String), usize> = BTreeMap::new();
        let mut dups = Vec::new();
        for (i, rule) in self.bp.network.rules.iter().enumerate() {
            let Some(range) = rule.port_range() else {
                continue;
            };
            let Ok(net) = Cidr::parse(&rule.cidr) else {
                continue;
            };
            let key = (
                rule.protocol.ec2_value().to_owned(),
                range.to_string(),
                format!("{}/{}", net.addr, net.prefix),
            );
            match seen.get(&key) {
                Some(first) => dups.push((i, *first, key)),
                None => {
                    seen.insert(key, i);
                }
            }
        }
        for (i, first, (proto, range, cidr)) in dups {
            self.error(
                format!("network.rules[{i}]"),
                format!(
                    "duplicates network.rules[{first}] ({proto} {range} from {cidr}); EC2 \
                     refuses duplicate rules: remove one"
                ),
            );
        }
    }

    // -- compute ---------------------------------------------------------------------------

    fn compute(&mut self) {
        let c = &self.bp.compute;
        match c.instance_type.as_deref().map(str::trim) {
            None | Some("") => self.error(
                "compute.instance_type",
                "is missing: set an instance type such as 't3.micro'",
            ),
            Some(t) => {
                if let Some(problem) = names::instance_type_problem(t) {
                    self.error("compute.instance_type", problem);
                } else {
                    self.instance_type_offered(t);
                }
            }
        }

        match c.image() {
            ImageRef::Unknown(id) if id.starts_with("ami-") => self.error(
                "compute.image_id",
                format!("'{id}' is not an AMI id (ami- followed by 8 or 17 lowercase hex digits)"),
            ),
            ImageRef::Unknown(id) => {
                let hint = names::closest(id, IMAGE_ALIASES.iter().copied())
                    .map(|s| format!("did you mean '{s}'? "))
                    .unwrap_or_default();
                self.error(
                    "compute.image_id",
                    format!(
                        "'{id}' is not a known image; {hint}use an AMI id (ami-…) or one of {}",
                        quoted_list(IMAGE_ALIASES)
                    ),
                );
            }
            ImageRef::Alias("windows-2022") => {
                if c.is_arm64() {
                    self.error(
                        "compute.image_id",
                        "'windows-2022' has no arm64 image, but the instance type is Graviton \
                         (arm64): choose an x86 type such as 't3.medium'",
                    );
                }
                if !self.bp.key_pair_enabled() {
                    self.warn(
                        "security.key_pair.mode",
                        "without a key pair the Windows Administrator password cannot be \
                         decrypted: use 'generate' or 'existing'",
                    );
                }
            }
            ImageRef::Alias(_) | ImageRef::AmiId(_) => {}
        }
        if let Some(ami) = c.extra.get("ami_id").filter(|v| !v.is_null()) {
            let ami = ami.as_str().map_or_else(|| ami.to_string(), str::to_owned);
            self.warn(
                "compute.ami_id",
                format!(
                    "'{ami}' is ignored because compute.image_id is '{}': remove ami_id",
                    c.image_alias_or_id()
                ),
            );
        }

        let size = c.user_data.len();
        if size > MAX_USER_DATA {
            self.error(
                "compute.user_data",
                format!(
                    "is {size} bytes; EC2 takes at most {MAX_USER_DATA} (16 KB): keep a short \
                     script that downloads the rest"
                ),
            );
        }
    }

    // -- data ------------------------------------------------------------------------------

    fn database(&mut self) {
        let Some(db) = self.bp.db() else {
            return;
        };
        let engine = match &db.engine {
            None => {
                self.error(
                    "data.db.engine",
                    format!(
                        "is missing: use {}, or set data.db.status to 'skipped' for no database",
                        quoted_list(DbEngine::KNOWN)
                    ),
                );
                None
            }
            Some(DbEngine::Other(word)) => {
                self.error(
                    "data.db.engine",
                    format!(
                        "'{word}' is not an engine Pockitect deploys; use {}",
                        quoted_list(DbEngine::KNOWN)
                    ),
                );
                None
            }
            Some(engine) => Some(engine),
        };

        match db.instance_class.as_deref().map(str::trim) {
            None | Some("") => self.error(
                "data.db.instance_class",
                "is missing: set a DB instance class such as 'db.t3.micro'",
            ),
            Some(class) => {
                if let Some(problem) = names::db_class_problem(class) {
                    self.error("data.db.instance_class", problem);
                } else if let Some(engine) = engine {
                    self.db_class_offered(engine, class);
                }
            }
        }

        match db.allocated_storage_gb {
            Some(gb) if gb < MIN_DB_STORAGE_GB => self.error(
                "data.db.allocated_storage_gb",
                format!(
                    "{gb} GB is below the RDS minimum of {MIN_DB_STORAGE_GB} GB (gp2/gp3 \
                     storage): set {MIN_DB_STORAGE_GB} or more"
                ),
            ),
            Some(gb) if gb > MAX_DB_STORAGE_GB => self.error(
                "data.db.allocated_storage_gb",
                format!(
                    "{gb} GB is above the RDS maximum of {MAX_DB_STORAGE_GB} GB (64 TiB): set \
                     {MAX_DB_STORAGE_GB} or less"
                ),
            ),
            _ => {}
        }

        match db.username.as_deref() {
            None => self.error(
                "data.db.username",
                "is missing: set the master user name, such as 'app_admin'",
            ),
            Some(name) if name.trim().is_empty() => self.error(
                "data.db.username",
                "is empty: set the master user name, such as 'app_admin'",
            ),
            Some(name) => {
                let engine = engine.cloned().unwrap_or_default();
                for problem in names::db_username_problems(&engine, name) {
                    self.error("data.db.username", problem);
                }
            }
        }

        if db.is_public() {
            self.warn(
                "data.db.publicly_accessible",
                "the database is reachable from the internet: set it to false and reach the \
                 database from the instance",
            );
        }
    }

    fn bucket(&mut self) {
        let Some(bucket) = self.bp.bucket() else {
            return;
        };
        match bucket.name.as_deref().map(str::trim) {
            None | Some("") => self.error(
                "data.s3_bucket.name",
                format!(
                    "is missing: bucket names are global, choose one such as '{}-assets' (or set \
                     data.s3_bucket.status to 'skipped' for no bucket)",
                    self.bp.slug()
                ),
            ),
            Some(name) => {
                let problems = names::bucket_name_problems(name);
                let clean = problems.is_empty();
                for problem in problems {
                    self.error("data.s3_bucket.name", problem);
                }
                if clean && name.contains('.') {
                    self.warn(
                        "data.s3_bucket.name",
                        format!("'{name}' has dots, which break HTTPS to the bucket's virtual-hosted address: prefer hyphens"),
                    );
                }
            }
        }
    }

    // -- security --------------------------------------------------------------------------

    fn key_pair(&mut self) {
        let kp = &self.bp.security.key_pair;
        if let KeyPairMode::Other(word) = &kp.mode {
            self.error(
                "security.key_pair.mode",
                format!(
                    "'{word}' is not a key pair mode; use {}",
                    quoted_list(KeyPairMode::KNOWN)
                ),
            );
            return;
        }
        if !self.bp.key_pair_enabled() {
            return;
        }
        match kp.name.as_deref().map(str::trim) {
            None | Some("") if kp.mode == KeyPairMode::Existing => self.error(
                "security.key_pair.name",
                format!(
                    "is required when mode is 'existing': set the name of a key pair in '{}'",
                    self.bp.region()
                ),
            ),
            None | Some("") => {}
            Some(name) => {
                for problem in names::key_pair_name_problems(name) {
                    self.error("security.key_pair.name", problem);
                }
            }
        }
    }

    fn certificate(&mut self) {
        let cert = &self.bp.security.certificate;
        if let CertificateMode::Other(word) = &cert.mode {
            self.error(
                "security.certificate.mode",
                format!(
                    "'{word}' is not a certificate mode; use {}",
                    quoted_list(CertificateMode::KNOWN)
                ),
            );
            return;
        }
        if !self.bp.certificate_enabled() {
            return;
        }
        match cert.domain.as_deref().map(str::trim) {
            None | Some("") => self.error(
                "security.certificate.domain",
                format!(
                    "is required when mode is '{}': set the domain name, such as \
                     'www.example.com' (or set mode to 'skip')",
                    cert.mode
                ),
            ),
            Some(domain) => {
                for problem in names::domain_problems(domain) {
                    self.error("security.certificate.domain", problem);
                }
            }
        }
        if let Some(arn) = cert.cert_arn.as_deref().filter(|a| !a.trim().is_empty())
            && !(arn.starts_with("arn:") && arn.contains(":acm:") && arn.contains(":certificate/"))
        {
            self.error(
                "security.certificate.cert_arn",
                format!(
                    "'{arn}' is not an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)"
                ),
            );
        }
        if cert.mode == CertificateMode::Custom && blank(cert.cert_arn.as_deref()) {
            self.warn(
                "security.certificate.mode",
                "'custom' (bring your own certificate, from the earlier tool) creates nothing: \
                 import the certificate into ACM and set security.certificate.cert_arn, or use \
                 mode 'request'",
            );
        }
    }

    fn iam_role(&mut self) {
        if !self.bp.iam_enabled() {
            return;
        }
        let role = &self.bp.security.iam_role;
        // A blank name means `pockitect-<slug>-role`, which fits whenever the slug is valid.
        if let Some(name) = role.role_name.as_deref().filter(|n| !n.trim().is_empty()) {
            for problem in names::role_name_problems(name) {
                self.error("security.iam_role.role_name", problem);
            }
        }
        let path = "security.iam_role.policy_document";
        match &role.policy_document {
            Value::Null => {}
            Value::Object(doc) if doc.is_empty() => {}
            Value::Object(doc) => {
                match doc.get("Statement") {
                    Some(Value::Array(_) | Value::Object(_)) => {}
                    Some(_) => {
                        self.error(path, "has a 'Statement' that is not a list of statements")
                    }
                    None => self.error(
                        path,
                        "has no 'Statement': a policy document looks like {\"Version\": \
                         \"2012-10-17\", \"Statement\": [ … ]}; use {} for the default policy",
                    ),
                }
                if let Some(version) = doc.get("Version")
                    && !matches!(version.as_str(), Some("2012-10-17" | "2008-10-17"))
                {
                    let version = version
                        .as_str()
                        .map_or_else(|| version.to_string(), str::to_owned);
                    self.error(
                        path,
                        format!("has Version '{version}'; set it to '2012-10-17'"),
                    );
                }
                let size = Value::Object(doc.clone()).to_string().len();
                if size > MAX_POLICY_CHARS {
                    self.error(
                        path,
                        format!(
                            "is {size} characters; an inline role policy has at most \
                             {MAX_POLICY_CHARS}"
                        ),
                    );
                }
            }
            Value::String(_) => self.error(
                path,
                "is a string; write the policy as a JSON object, not as text (or {} for the \
                 default policy)",
            ),
            _ => self.error(
                path,
                "must be a JSON object (an IAM policy document), or {} for the default policy",
            ),
        }
    }

    // -- statuses and secrets --------------------------------------------------------------

    fn statuses(&mut self) {
        let bp = self.bp;
        let mut all: Vec<(&str, &SectionStatus)> = vec![
            ("network.status", &bp.network.status),
            ("compute.status", &bp.compute.status),
            ("security.key_pair.status", &bp.security.key_pair.status),
            (
                "security.certificate.status",
                &bp.security.certificate.status,
            ),
            ("security.iam_role.status", &bp.security.iam_role.status),
        ];
        if let Some(db) = &bp.data.db {
            all.push(("data.db.status", &db.status));
        }
        if let Some(b) = &bp.data.s3_bucket {
            all.push(("data.s3_bucket.status", &b.status));
        }
        for (path, status) in all {
            if let SectionStatus::Other(word) = status {
                self.warn(
                    path,
                    format!(
                        "'{word}' is not a known status ({}); the daemon treats the section as \
                         pending",
                        SectionStatus::KNOWN.join(", ")
                    ),
                );
            }
        }
    }

    fn secrets(&mut self) {
        let bp = self.bp;
        let slug = bp.slug();
        if let Some(pw) = bp.data.db.as_ref().and_then(|db| db.password.as_ref()) {
            if pw.is_empty() {
                self.warn("data.db.password", "is an empty string: set it to null");
            } else {
                self.error(
                    "data.db.password",
                    "holds a password; secrets never live in the blueprint: set it to null. \
                     Pockitect keeps the database password in the OS keyring (or reads \
                     POCKITECT_DB_PASSWORD in scripts)",
                );
            }
        }
        if let Some(pem) = &bp.security.key_pair.private_key_pem {
            if pem.is_empty() {
                self.warn(
                    "security.key_pair.private_key_pem",
                    "is an empty string: set it to null",
                );
            } else {
                self.error(
                    "security.key_pair.private_key_pem",
                    format!(
                        "holds a private key; secrets never live in the blueprint: save the key \
                         to a file of mode 0600 (such as ~/.ssh/pockitect/{slug}.pem), put that \
                         path in security.key_pair.private_key_path and set this field to null"
                    ),
                );
            }
        }
        let mut extras: Vec<(String, &Extra)> = vec![
            (String::new(), &bp.extra),
            ("project".into(), &bp.project.extra),
            ("network".into(), &bp.network.extra),
            ("compute".into(), &bp.compute.extra),
            ("data".into(), &bp.data.extra),
            ("security".into(), &bp.security.extra),
            ("security.key_pair".into(), &bp.security.key_pair.extra),
            (
                "security.certificate".into(),
                &bp.security.certificate.extra,
            ),
            ("security.iam_role".into(), &bp.security.iam_role.extra),
        ];
        for (i, rule) in bp.network.rules.iter().enumerate() {
            extras.push((format!("network.rules[{i}]"), &rule.extra));
        }
        if let Some(db) = &bp.data.db {
            extras.push(("data.db".into(), &db.extra));
        }
        if let Some(b) = &bp.data.s3_bucket {
            extras.push(("data.s3_bucket".into(), &b.extra));
        }
        let mut found = Vec::new();
        for (base, extra) in extras {
            for (key, value) in extra {
                find_secrets(&join(&base, key), key, value, &mut found);
            }
        }
        for path in found {
            self.error(
                path,
                "looks like a secret; secrets never live in the blueprint: remove it (database \
                 passwords go to the OS keyring, private keys to a 0600 file)",
            );
        }
    }
}

fn join(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_owned()
    } else {
        format!("{base}.{key}")
    }
}

fn find_secrets(path: &str, key: &str, value: &Value, found: &mut Vec<String>) {
    let lower = key.to_ascii_lowercase();
    let secret_name = [
        "password",
        "passwd",
        "secret",
        "private_key",
        "privatekey",
        "api_key",
        "token",
    ]
    .iter()
    .any(|needle| lower.contains(needle));
    match value {
        Value::String(s) if secret_name && !s.trim().is_empty() => found.push(path.to_owned()),
        Value::Object(map) => {
            for (k, v) in map {
                find_secrets(&join(path, k), k, v, found);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                find_secrets(&format!("{path}[{i}]"), key, v, found);
            }
        }
        _ => {}
    }
}

/// `xx-name-1`, `xx-gov-name-1`, `cn-northwest-1`, `eusc-de-east-1` (the European Sovereign
/// Cloud, whose prefix is four letters): lowercase words joined by hyphens ending in a number. The one check of a region name's shape (blueprints, the daemon's scan and catalog
/// requests); whether the account has the region enabled is a question for AWS (DescribeRegions).
/// A name that passes is also safe as a file name (the daemon caches a catalog per region).
pub fn is_region_code(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    // The longest real code is about 15 characters; the bound keeps file names short.
    region.len() <= 32
        && parts.len() >= 3
        && parts.len() <= 4
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && (2..=4).contains(&parts[0].len())
        && parts
            .last()
            .is_some_and(|n| !n.is_empty() && n.len() <= 2 && n.bytes().all(|b| b.is_ascii_digit()))
}

/// `prefix` followed by 8 or 17 lowercase hex digits.
fn is_aws_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|hex| {
        matches!(hex.len(), 8 | 17)
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_shapes() {
        for ok in [
            "us-east-1",
            "us-gov-west-1",
            "ap-southeast-7",
            "cn-northwest-1",
            "eusc-de-east-1",
        ] {
            assert!(is_region_code(ok), "{ok}");
        }
        for bad in [
            "US-EAST-1",
            "us-east",
            "useast1",
            "us-east-1a",
            "u-east-1",
            "eusco-de-east-1",
            "us--1",
            "us-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-1",
        ] {
            assert!(!is_region_code(bad), "{bad}");
        }
    }

    #[test]
    fn a_projects_account_is_an_id_or_a_profile_name() {
        for ok in ["222222222222", "prod", "team.ops@corp+1"] {
            assert_eq!(names::account_problem(ok), None, "{ok}");
        }
        for (bad, says) in [
            ("", "is empty"),
            ("12345", "has 5 digits"),
            (
                "my profile",
                "neither a 12-digit account id nor a profile name",
            ),
            ("arn:aws:iam::111111111111:role/X", "neither"),
        ] {
            let m = names::account_problem(bad).unwrap_or_default();
            assert!(m.contains(says), "{bad}: {m}");
        }
    }

    #[test]
    fn report_display() {
        let report = Report {
            errors: vec![Issue {
                path: "network.rules[2].port".into(),
                message: "70000 is not a port (0-65535)".into(),
            }],
            warnings: vec![Issue {
                path: "network.rules[0]".into(),
                message: "SSH (22) open to the world".into(),
            }],
        };
        assert_eq!(
            report.to_string(),
            "error: network.rules[2].port: 70000 is not a port (0-65535)\n\
             warning: network.rules[0]: SSH (22) open to the world"
        );
        assert!(!report.is_ok());
    }

    #[test]
    fn quoted_lists() {
        assert_eq!(quoted_list(&["a"]), "'a'");
        assert_eq!(quoted_list(&["a", "b", "c"]), "'a', 'b' or 'c'");
    }
}
