//! The canonical blueprint model (PRODUCT.md section 1).
//!
//! User choices and daemon-written fields (ids, arns, endpoints, statuses) live side by side, as
//! in the file. Every struct keeps the fields it does not know in `extra`, so a file read and
//! written again loses nothing. Enumerated values never fail to parse: an unknown word is kept as
//! `Other(..)` and reported by [`crate::validate()`], so a user sees every problem at once.
//!
//! Sections that are absent from a file are switched off (`db`, `s3_bucket`, `key_pair`,
//! `certificate`, `iam_role`); fields absent from a present section take the earlier Python
//! Pockitect's defaults (key pair `generate`, IAM role enabled, certificate `skip`, rule
//! protocol `tcp`, status `pending`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

pub use pockitect_proto::deploy::DnsRecord;

use crate::slug::slugify;

/// Unknown fields of an object, kept verbatim and written back after the known ones.
pub type Extra = BTreeMap<String, Value>;

/// Tag key carrying the project slug on every resource Pockitect creates.
pub const TAG_PROJECT: &str = "pockitect:project";
/// Tag key marking a resource as managed by Pockitect (value `"true"`).
pub const TAG_MANAGED: &str = "pockitect:managed";
/// Image used when `compute.image_id` is absent.
pub const DEFAULT_IMAGE: &str = "amazon-linux-2023";
/// Image aliases resolved per region to the newest official image.
pub const IMAGE_ALIASES: &[&str] = &[
    "amazon-linux-2023",
    "ubuntu-22.04",
    "ubuntu-24.04",
    "debian-12",
    "windows-2022",
];
/// The instance types the `new` wizard offers first (those the region offers), in its order.
/// The bundled price table (`pockitect-cost`) covers each of them in every built-in region.
pub const WIZARD_INSTANCE_TYPES: &[&str] = &[
    "t3.micro",
    "t3.small",
    "t3.medium",
    "t4g.micro",
    "t4g.small",
    "m7i.large",
    "c7i.large",
    "r7i.large",
];
/// The DB instance classes the `new` wizard offers first, in its order; priced like
/// [`WIZARD_INSTANCE_TYPES`].
pub const WIZARD_DB_CLASSES: &[&str] = &[
    "db.t3.micro",
    "db.t4g.micro",
    "db.t3.small",
    "db.t4g.small",
    "db.m7g.large",
];
/// VPC range used by `vpc_mode: new` when `vpc_cidr` is absent.
pub const DEFAULT_VPC_CIDR: &str = "10.0.0.0/16";
/// Database storage used when `allocated_storage_gb` is absent.
pub const DEFAULT_DB_STORAGE_GB: i64 = 20;

// ---------------------------------------------------------------------------------------------
// Enumerated words
// ---------------------------------------------------------------------------------------------

/// Defines a string enum that parses case-insensitively (with aliases), keeps unknown words as
/// `Other(String)`, reads `null` as its default and writes its canonical word.
macro_rules! word_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident (default $default:ident) {
            $( $(#[$vmeta:meta])* $variant:ident = $canon:literal $(| $alias:literal)* ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A word this version does not know, kept exactly as written.
            Other(String),
        }

        impl $name {
            /// The canonical words, in documentation order.
            pub const KNOWN: &'static [&'static str] = &[$($canon),+];

            /// Parses a word (case-insensitive, surrounding spaces ignored, aliases accepted).
            pub fn parse(word: &str) -> Self {
                let lower = word.trim().to_ascii_lowercase();
                match lower.as_str() {
                    $( $canon $(| $alias)* => Self::$variant, )+
                    _ => Self::Other(word.to_owned()),
                }
            }

            /// The canonical word (or the unknown word as written).
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $canon, )+
                    Self::Other(word) => word,
                }
            }

            /// False for `Other(..)`.
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Other(_))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::$default
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<&str> for $name {
            fn from(word: &str) -> Self {
                Self::parse(word)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok(Option::<String>::deserialize(d)?
                    .map(|w| Self::parse(&w))
                    .unwrap_or_default())
            }
        }
    };
}

word_enum! {
    /// Where a section stands. Written by the daemon; `skipped` switches an optional part off.
    pub enum SectionStatus (default Pending) {
        /// Not deployed yet (also after `destroy`).
        Pending = "pending",
        /// A deploy is creating it.
        Creating = "creating" | "in_progress" | "deploying",
        /// Created and usable.
        Created = "created" | "ready" | "available" | "complete" | "completed" | "deployed",
        /// An instance or database that is up.
        Running = "running",
        /// Being started by `power start`.
        Starting = "starting",
        /// Being stopped by `power stop`.
        Stopping = "stopping",
        /// Stopped by `power stop`.
        Stopped = "stopped",
        /// Being deleted.
        Deleting = "deleting" | "terminating",
        /// Deleted by `terminate`.
        Deleted = "deleted" | "terminated",
        /// The last attempt failed.
        Failed = "failed" | "error",
        /// Switched off: nothing is created for this section.
        Skipped = "skipped" | "disabled",
    }
}

impl SectionStatus {
    /// True for `skipped`.
    pub fn is_skipped(&self) -> bool {
        matches!(self, SectionStatus::Skipped)
    }

    /// True when the resource exists in AWS as far as the file knows (created, running,
    /// starting, stopping, stopped).
    pub fn is_deployed(&self) -> bool {
        matches!(
            self,
            SectionStatus::Created
                | SectionStatus::Running
                | SectionStatus::Starting
                | SectionStatus::Stopping
                | SectionStatus::Stopped
        )
    }
}

word_enum! {
    /// Which VPC the project uses.
    pub enum VpcMode (default Default) {
        /// The region's default VPC.
        Default = "default",
        /// A new VPC with internet gateway, route table and public subnet(s).
        New = "new" | "create",
        /// An existing VPC named by `vpc_id`.
        Existing = "existing",
        /// A shared Pockitect-managed VPC per environment (`vpc_env`), as the earlier Python
        /// Pockitect did.
        Shared = "shared" | "managed",
    }
}

word_enum! {
    /// Environment of a shared Pockitect-managed VPC (legacy `vpc_env`).
    pub enum VpcEnv (default Dev) {
        Prod = "prod" | "production",
        Dev = "dev" | "development",
        Test = "test" | "testing",
    }
}

word_enum! {
    /// Whether the instance's subnet is public (gets a public IP) or private.
    pub enum SubnetType (default Public) {
        Public = "public",
        Private = "private",
    }
}

word_enum! {
    /// Firewall rule protocol.
    pub enum Protocol (default Tcp) {
        Tcp = "tcp" | "6",
        Udp = "udp" | "17",
        Icmp = "icmp" | "1",
        Icmpv6 = "icmpv6" | "58",
        /// Every protocol and port (EC2's `-1`).
        All = "all" | "-1",
    }
}

impl Protocol {
    /// The EC2 `IpProtocol` value.
    pub fn ec2_value(&self) -> &str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
            Protocol::Icmpv6 => "58",
            Protocol::All => "-1",
            Protocol::Other(word) => word,
        }
    }
}

word_enum! {
    /// RDS engine.
    pub enum DbEngine (default Postgres) {
        Postgres = "postgres" | "postgresql",
        Mysql = "mysql",
        Mariadb = "mariadb",
    }
}

impl DbEngine {
    /// The port the engine listens on by default.
    pub fn default_port(&self) -> Option<u16> {
        match self {
            DbEngine::Postgres => Some(5432),
            DbEngine::Mysql | DbEngine::Mariadb => Some(3306),
            DbEngine::Other(_) => None,
        }
    }
}

word_enum! {
    /// How the SSH key pair is provided.
    pub enum KeyPairMode (default Generate) {
        /// Create a key pair; the private key goes to a 0600 file.
        Generate = "generate" | "new" | "create",
        /// Use a key pair that already exists in the region (`name`).
        Existing = "existing",
        /// No key pair.
        None = "none" | "skip",
    }
}

word_enum! {
    /// How the TLS certificate is provided.
    pub enum CertificateMode (default Skip) {
        /// No certificate.
        Skip = "skip" | "none",
        /// Request an ACM certificate for `domain` (legacy `acm`).
        Request = "request" | "acm",
        /// Bring your own certificate (legacy); only `domain` and `cert_arn` are recorded.
        Custom = "custom",
    }
}

// ---------------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------------

/// A secret value that must not be in a blueprint. It is modelled only so a file carrying one
/// can be read and refused with a clear message; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret text. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

// ---------------------------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------------------------

/// A whole blueprint: `projects/<slug>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Blueprint {
    #[serde(default, deserialize_with = "null_as_default")]
    pub project: Project,
    #[serde(default, deserialize_with = "null_as_default")]
    pub network: Network,
    #[serde(default, deserialize_with = "null_as_default")]
    pub compute: Compute,
    #[serde(default, deserialize_with = "null_as_default")]
    pub data: Data,
    #[serde(default, deserialize_with = "null_as_default")]
    pub security: Security,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `project`: name, slug, region and free-form metadata.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Project {
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// File name and `pockitect:project` tag. Derived from `name` when a legacy file has none.
    #[serde(deserialize_with = "null_as_default")]
    pub slug: String,
    #[serde(deserialize_with = "null_as_default")]
    pub description: String,
    #[serde(deserialize_with = "null_as_default")]
    pub region: String,
    #[serde(deserialize_with = "null_as_default")]
    pub owner: String,
    /// RFC 3339 creation time, kept as written.
    pub created_at: Option<String>,
    /// User tags added to every resource.
    #[serde(deserialize_with = "null_as_default")]
    pub tags: BTreeMap<String, String>,
    /// The most the project may cost a month, in US dollars: a deploy whose estimate is higher
    /// stops before any AWS call (unless `--over-budget`). Absent: no budget.
    #[serde(
        deserialize_with = "de_opt_usd",
        skip_serializing_if = "Option::is_none"
    )]
    pub budget_usd_month: Option<f64>,
    /// Who hears about spend nearing the budget.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_alert_email: Option<String>,
    /// The AWS account the project lives in: a 12-digit account id or a profile name, one of
    /// the daemon's `--accounts`. Deploy, power, destroy and refresh act there. Absent: the
    /// account of the daemon's own credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `network`: VPC choice, firewall rules and the network ids the daemon records.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Network {
    pub vpc_mode: VpcMode,
    /// Environment of the shared VPC (`vpc_mode: shared`, legacy files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_env: Option<VpcEnv>,
    /// VPC range for `vpc_mode: new` (default [`DEFAULT_VPC_CIDR`]).
    pub vpc_cidr: Option<String>,
    /// Range of the public subnet for `vpc_mode: new`; must lie inside `vpc_cidr`. The daemon
    /// picks one when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet_cidr: Option<String>,
    pub subnet_type: SubnetType,
    #[serde(deserialize_with = "null_as_default")]
    pub rules: Vec<Rule>,
    /// The VPC in use: the user's for `existing`, the daemon's record otherwise.
    pub vpc_id: Option<String>,
    pub subnet_id: Option<String>,
    pub security_group_id: Option<String>,
    /// Daemon-written: internet gateway of a new VPC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internet_gateway_id: Option<String>,
    /// Daemon-written: route table of a new VPC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route_table_id: Option<String>,
    /// Daemon-written: second subnet (another availability zone) for a DB subnet group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secondary_subnet_id: Option<String>,
    /// Daemon-written: DB subnet group name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_subnet_group_name: Option<String>,
    pub status: SectionStatus,
    #[serde(flatten)]
    pub extra: Extra,
}

/// One inbound firewall rule: `port`, or `from_port`/`to_port`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Rule {
    #[serde(
        deserialize_with = "de_opt_port",
        skip_serializing_if = "Option::is_none"
    )]
    pub port: Option<i64>,
    #[serde(
        deserialize_with = "de_opt_port",
        skip_serializing_if = "Option::is_none"
    )]
    pub from_port: Option<i64>,
    #[serde(
        deserialize_with = "de_opt_port",
        skip_serializing_if = "Option::is_none"
    )]
    pub to_port: Option<i64>,
    pub protocol: Protocol,
    /// IPv4 or IPv6 CIDR block the traffic comes from.
    #[serde(deserialize_with = "null_as_default")]
    pub cidr: String,
    #[serde(deserialize_with = "null_as_default")]
    pub description: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// An inclusive port range as EC2 takes it (`-1` means all, for ICMP types and codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub from: i64,
    pub to: i64,
}

impl PortRange {
    pub fn contains(&self, port: i64) -> bool {
        self.from <= port && port <= self.to
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.from == self.to {
            write!(f, "{}", self.from)
        } else {
            write!(f, "{}-{}", self.from, self.to)
        }
    }
}

impl Rule {
    /// A TCP rule for one port.
    pub fn tcp(port: u16, cidr: &str, description: &str) -> Rule {
        Rule {
            port: Some(i64::from(port)),
            protocol: Protocol::Tcp,
            cidr: cidr.to_owned(),
            description: description.to_owned(),
            ..Rule::default()
        }
    }

    /// The port range to send to EC2: `port` alone, or `from_port`/`to_port` (one of them alone
    /// means a single port). For `all` this is `-1..-1`; for ICMP without ports it is all types
    /// and codes (`-1..-1`). `None` when a TCP/UDP rule has no port at all. Values are not
    /// range-checked here: run [`crate::validate()`] first.
    pub fn port_range(&self) -> Option<PortRange> {
        match self.protocol {
            Protocol::All => return Some(PortRange { from: -1, to: -1 }),
            Protocol::Icmp | Protocol::Icmpv6
                if self.port.is_none() && self.from_port.is_none() && self.to_port.is_none() =>
            {
                return Some(PortRange { from: -1, to: -1 });
            }
            _ => {}
        }
        match (self.port, self.from_port, self.to_port) {
            (Some(p), _, _) => Some(PortRange { from: p, to: p }),
            (None, Some(from), Some(to)) => Some(PortRange { from, to }),
            (None, Some(p), None) | (None, None, Some(p)) => Some(PortRange { from: p, to: p }),
            (None, None, None) => None,
        }
    }

    /// True when the rule admits any address (`0.0.0.0/0` or `::/0`).
    pub fn is_open_to_world(&self) -> bool {
        matches!(crate::net::Cidr::parse(&self.cidr), Ok(c) if c.is_world())
    }

    /// True when the CIDR is IPv6 (EC2 takes it in `Ipv6Ranges`).
    pub fn is_ipv6(&self) -> bool {
        self.cidr.contains(':')
    }
}

/// `compute`: the EC2 instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Compute {
    pub instance_type: Option<String>,
    /// An `ami-…` id or an alias from [`IMAGE_ALIASES`]; [`DEFAULT_IMAGE`] when absent. Legacy
    /// `ami_id` is read into this field.
    pub image_id: Option<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub user_data: String,
    pub instance_id: Option<String>,
    pub public_ip: Option<String>,
    /// Daemon-written: the AMI an alias resolved to at deploy time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_image_id: Option<String>,
    /// Daemon-written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_ip: Option<String>,
    pub status: SectionStatus,
    #[serde(flatten)]
    pub extra: Extra,
}

/// What `compute.image_id` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageRef<'a> {
    /// One of [`IMAGE_ALIASES`].
    Alias(&'a str),
    /// An `ami-…` id.
    AmiId(&'a str),
    /// Neither (validation reports it).
    Unknown(&'a str),
}

impl Compute {
    /// The image alias or AMI id to launch ([`DEFAULT_IMAGE`] when absent or blank).
    pub fn image_alias_or_id(&self) -> &str {
        match self.image_id.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => s,
            _ => DEFAULT_IMAGE,
        }
    }

    /// The image, classified.
    pub fn image(&self) -> ImageRef<'_> {
        let id = self.image_alias_or_id();
        if IMAGE_ALIASES.contains(&id) {
            ImageRef::Alias(id)
        } else if is_ami_id(id) {
            ImageRef::AmiId(id)
        } else {
            ImageRef::Unknown(id)
        }
    }

    /// True when the instance type is an AWS Graviton (arm64) type, so an alias must resolve to
    /// an arm64 image. A heuristic on the family name (`t4g`, `m7gd`, `c6gn`, `a1`).
    pub fn is_arm64(&self) -> bool {
        self.instance_type
            .as_deref()
            .is_some_and(is_arm64_instance_type)
    }
}

/// True for `ami-` followed by 8 to 17 lowercase hex digits.
pub fn is_ami_id(s: &str) -> bool {
    s.strip_prefix("ami-").is_some_and(|hex| {
        (8..=17).contains(&hex.len())
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// See [`Compute::is_arm64`].
pub fn is_arm64_instance_type(instance_type: &str) -> bool {
    let family = instance_type.split('.').next().unwrap_or_default();
    if family == "a1" {
        return true;
    }
    // The letters after the generation digit carry the processor: 'g' is Graviton.
    match family.find(|c: char| c.is_ascii_digit()) {
        Some(i) => family[i..]
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .split('-')
            .next()
            .is_some_and(|attrs| attrs.contains('g')),
        None => false,
    }
}

/// `data`: the optional database and bucket (`null` or absent means none).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Data {
    pub db: Option<Database>,
    pub s3_bucket: Option<Bucket>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `data.db`: an RDS instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Database {
    pub engine: Option<DbEngine>,
    pub instance_class: Option<String>,
    #[serde(deserialize_with = "de_opt_int")]
    pub allocated_storage_gb: Option<i64>,
    pub username: Option<String>,
    /// Must stay null: the password lives in the OS keyring. A file carrying one is refused.
    pub password: Option<Secret>,
    /// Reachable from the internet. Off by default; a warning when on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publicly_accessible: Option<bool>,
    pub endpoint: Option<String>,
    /// Daemon-written: the DB instance identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// Daemon-written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// Daemon-written: the ARN of the Secrets Manager secret in which RDS keeps the master
    /// password it generated (`ManageMasterUserPassword`); absent for a database created with
    /// a password Pockitect kept in the OS keyring (or a 0600 file). The ARN, never the password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_user_secret_arn: Option<String>,
    /// Daemon-written: the port the endpoint listens on.
    #[serde(
        deserialize_with = "de_opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub port: Option<i64>,
    pub status: SectionStatus,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Database {
    /// `allocated_storage_gb`, or [`DEFAULT_DB_STORAGE_GB`].
    pub fn allocated_storage_gb(&self) -> i64 {
        self.allocated_storage_gb.unwrap_or(DEFAULT_DB_STORAGE_GB)
    }

    /// True when the database should be reachable from the internet.
    pub fn is_public(&self) -> bool {
        self.publicly_accessible == Some(true)
    }
}

/// `data.s3_bucket`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Bucket {
    pub name: Option<String>,
    pub arn: Option<String>,
    pub status: SectionStatus,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `security`: key pair, certificate, instance role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Security {
    #[serde(default = "KeyPair::disabled", deserialize_with = "de_key_pair")]
    pub key_pair: KeyPair,
    #[serde(default = "Certificate::disabled", deserialize_with = "de_certificate")]
    pub certificate: Certificate,
    #[serde(default = "IamRole::disabled", deserialize_with = "de_iam_role")]
    pub iam_role: IamRole,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Default for Security {
    /// An absent `security` section: no key pair, no certificate, no role.
    fn default() -> Self {
        Security {
            key_pair: KeyPair::disabled(),
            certificate: Certificate::disabled(),
            iam_role: IamRole::disabled(),
            extra: Extra::new(),
        }
    }
}

/// `security.key_pair`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KeyPair {
    pub mode: KeyPairMode,
    /// Key pair name (default `<slug>-key` for `generate`; required for `existing`).
    pub name: Option<String>,
    pub key_pair_id: Option<String>,
    /// Path of the 0600 file holding the generated private key.
    pub private_key_path: Option<String>,
    /// Must stay null: a file carrying a private key is refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key_pem: Option<Secret>,
    pub status: SectionStatus,
    #[serde(flatten)]
    pub extra: Extra,
}

impl KeyPair {
    /// No key pair (`mode: none`, `status: skipped`).
    pub fn disabled() -> Self {
        KeyPair {
            mode: KeyPairMode::None,
            status: SectionStatus::Skipped,
            ..KeyPair::default()
        }
    }
}

/// `security.certificate`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Certificate {
    pub mode: CertificateMode,
    pub domain: Option<String>,
    pub cert_arn: Option<String>,
    /// Daemon-written: DNS records that prove ownership of `domain`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_records: Option<Vec<DnsRecord>>,
    pub status: SectionStatus,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Certificate {
    /// No certificate (`mode: skip`, `status: skipped`).
    pub fn disabled() -> Self {
        Certificate {
            mode: CertificateMode::Skip,
            status: SectionStatus::Skipped,
            ..Certificate::default()
        }
    }
}

/// `security.iam_role`: the instance role and profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IamRole {
    /// Absent in most legacy files: means enabled.
    pub enabled: bool,
    /// Role name (default `pockitect-<slug>-role`).
    pub role_name: Option<String>,
    /// Inline policy; `{}` or `null` lets the daemon grant what the blueprint needs.
    pub policy_document: Value,
    pub arn: Option<String>,
    pub instance_profile_arn: Option<String>,
    pub status: SectionStatus,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Default for IamRole {
    /// A present section without fields: enabled with the default name and policy.
    fn default() -> Self {
        IamRole {
            enabled: true,
            role_name: None,
            policy_document: Value::Object(serde_json::Map::new()),
            arn: None,
            instance_profile_arn: None,
            status: SectionStatus::Pending,
            extra: Extra::new(),
        }
    }
}

impl IamRole {
    /// No role (`enabled: false`, `status: skipped`).
    pub fn disabled() -> Self {
        IamRole {
            enabled: false,
            status: SectionStatus::Skipped,
            ..IamRole::default()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Blueprint helpers for the deploy engine
// ---------------------------------------------------------------------------------------------

impl Blueprint {
    /// A new blueprint in the canonical shape with safe defaults: a new VPC
    /// ([`DEFAULT_VPC_CIDR`]) with HTTPS open, a `t3.micro` on [`DEFAULT_IMAGE`], a generated key
    /// pair, an instance role, no database, bucket or certificate.
    pub fn new(name: &str, region: &str) -> Blueprint {
        let slug = slugify(name);
        Blueprint {
            project: Project {
                name: name.to_owned(),
                slug: slug.clone(),
                region: region.to_owned(),
                created_at: Some(
                    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                ),
                ..Project::default()
            },
            network: Network {
                vpc_mode: VpcMode::New,
                vpc_cidr: Some(DEFAULT_VPC_CIDR.to_owned()),
                rules: vec![Rule::tcp(443, "0.0.0.0/0", "HTTPS")],
                ..Network::default()
            },
            compute: Compute {
                instance_type: Some("t3.micro".to_owned()),
                image_id: Some(DEFAULT_IMAGE.to_owned()),
                ..Compute::default()
            },
            data: Data::default(),
            security: Security {
                key_pair: KeyPair {
                    name: Some(format!("{slug}-key")),
                    ..KeyPair::default()
                },
                certificate: Certificate::disabled(),
                iam_role: IamRole {
                    role_name: Some(format!("pockitect-{slug}-role")),
                    ..IamRole::default()
                },
                extra: Extra::new(),
            },
            extra: Extra::new(),
        }
    }

    /// Parses a blueprint (canonical or legacy) from JSON text. See [`crate::from_json_str`].
    pub fn from_json_str(text: &str) -> crate::Result<Blueprint> {
        crate::parse::from_json_str(text)
    }

    /// Pretty JSON (2-space indent) with a trailing newline, as the store writes it.
    pub fn to_json_pretty(&self) -> crate::Result<String> {
        crate::parse::to_json_pretty(self)
    }

    /// The project slug ([`slugify`] of the name when the slug is blank).
    pub fn slug(&self) -> Cow<'_, str> {
        if self.project.slug.trim().is_empty() {
            Cow::Owned(slugify(&self.project.name))
        } else {
            Cow::Borrowed(&self.project.slug)
        }
    }

    /// The AWS region.
    pub fn region(&self) -> &str {
        self.project.region.trim()
    }

    /// Fills the ids, addresses and ARNs this copy lacks from `recorded` (the store's copy of
    /// the same project), so a file sent again after a crash does not forget what the crashed
    /// run created: an untagged bucket, say, is adopted by its recorded ARN only. Nothing is
    /// taken from another project or region, and nothing this copy already records is changed.
    pub fn keep_recorded_from(&mut self, recorded: &Blueprint) {
        if self.slug() != recorded.slug() || self.region() != recorded.region() {
            return;
        }
        fn keep<T: Clone>(mine: &mut Option<T>, theirs: &Option<T>) {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
        let (n, r) = (&mut self.network, &recorded.network);
        keep(&mut n.vpc_id, &r.vpc_id);
        keep(&mut n.subnet_id, &r.subnet_id);
        keep(&mut n.security_group_id, &r.security_group_id);
        keep(&mut n.internet_gateway_id, &r.internet_gateway_id);
        keep(&mut n.route_table_id, &r.route_table_id);
        keep(&mut n.secondary_subnet_id, &r.secondary_subnet_id);
        keep(&mut n.db_subnet_group_name, &r.db_subnet_group_name);
        let (c, r) = (&mut self.compute, &recorded.compute);
        keep(&mut c.instance_id, &r.instance_id);
        keep(&mut c.public_ip, &r.public_ip);
        keep(&mut c.private_ip, &r.private_ip);
        keep(&mut c.resolved_image_id, &r.resolved_image_id);
        if let (Some(d), Some(r)) = (self.data.db.as_mut(), recorded.data.db.as_ref()) {
            keep(&mut d.identifier, &r.identifier);
            keep(&mut d.endpoint, &r.endpoint);
            keep(&mut d.port, &r.port);
            keep(&mut d.arn, &r.arn);
            keep(&mut d.master_user_secret_arn, &r.master_user_secret_arn);
        }
        if let (Some(b), Some(r)) = (
            self.data.s3_bucket.as_mut(),
            recorded.data.s3_bucket.as_ref(),
        ) && b.name == r.name
        {
            keep(&mut b.arn, &r.arn);
        }
        let (s, r) = (&mut self.security, &recorded.security);
        if s.key_pair.name == r.key_pair.name {
            keep(&mut s.key_pair.key_pair_id, &r.key_pair.key_pair_id);
            keep(
                &mut s.key_pair.private_key_path,
                &r.key_pair.private_key_path,
            );
        }
        if s.iam_role.role_name == r.iam_role.role_name {
            keep(&mut s.iam_role.arn, &r.iam_role.arn);
            keep(
                &mut s.iam_role.instance_profile_arn,
                &r.iam_role.instance_profile_arn,
            );
        }
        if s.certificate.domain == r.certificate.domain {
            keep(&mut s.certificate.cert_arn, &r.certificate.cert_arn);
            keep(
                &mut s.certificate.validation_records,
                &r.certificate.validation_records,
            );
        }
    }

    /// The database, when one is wanted (present and not skipped).
    pub fn db(&self) -> Option<&Database> {
        self.data.db.as_ref().filter(|db| !db.status.is_skipped())
    }

    /// True when a database is wanted.
    pub fn has_db(&self) -> bool {
        self.db().is_some()
    }

    /// The bucket, when one is wanted (present and not skipped).
    pub fn bucket(&self) -> Option<&Bucket> {
        self.data
            .s3_bucket
            .as_ref()
            .filter(|b| !b.status.is_skipped())
    }

    /// True when a bucket is wanted.
    pub fn has_bucket(&self) -> bool {
        self.bucket().is_some()
    }

    /// True when a key pair is generated or an existing one attached.
    pub fn key_pair_enabled(&self) -> bool {
        let kp = &self.security.key_pair;
        kp.mode != KeyPairMode::None && !kp.status.is_skipped()
    }

    /// The key pair name: the recorded one, or `<slug>-key`.
    pub fn key_pair_name(&self) -> Cow<'_, str> {
        match self.security.key_pair.name.as_deref().map(str::trim) {
            Some(n) if !n.is_empty() => Cow::Borrowed(n),
            _ => Cow::Owned(format!("{}-key", self.slug())),
        }
    }

    /// Default path of a generated private key, relative to the home directory.
    pub fn default_private_key_path(&self) -> String {
        format!("~/.ssh/pockitect/{}.pem", self.slug())
    }

    /// True when an instance role is wanted.
    pub fn iam_enabled(&self) -> bool {
        let role = &self.security.iam_role;
        role.enabled && !role.status.is_skipped()
    }

    /// The role name: the recorded one, or `pockitect-<slug>-role`.
    pub fn role_name(&self) -> Cow<'_, str> {
        match self.security.iam_role.role_name.as_deref().map(str::trim) {
            Some(n) if !n.is_empty() => Cow::Borrowed(n),
            _ => Cow::Owned(format!("pockitect-{}-role", self.slug())),
        }
    }

    /// True when a certificate is requested (or brought).
    pub fn certificate_enabled(&self) -> bool {
        let cert = &self.security.certificate;
        cert.mode != CertificateMode::Skip && !cert.status.is_skipped()
    }

    /// The image alias or AMI id to launch (default [`DEFAULT_IMAGE`]).
    pub fn image_alias_or_id(&self) -> &str {
        self.compute.image_alias_or_id()
    }

    /// The VPC range for `vpc_mode: new` (default [`DEFAULT_VPC_CIDR`]).
    pub fn vpc_cidr(&self) -> &str {
        match self.network.vpc_cidr.as_deref().map(str::trim) {
            Some(c) if !c.is_empty() => c,
            _ => DEFAULT_VPC_CIDR,
        }
    }

    /// The port ranges of the firewall rules, in order (`None` for a rule without ports).
    pub fn rule_port_ranges(&self) -> Vec<Option<PortRange>> {
        self.network.rules.iter().map(Rule::port_range).collect()
    }

    /// Tags for a resource called `name`: `Name`, `pockitect:project`, `pockitect:managed`,
    /// then the user's tags (which cannot override the first three).
    pub fn resource_tags(&self, name: &str) -> BTreeMap<String, String> {
        let mut tags = self.project.tags.clone();
        tags.insert("Name".to_owned(), name.to_owned());
        tags.insert(TAG_PROJECT.to_owned(), self.slug().into_owned());
        tags.insert(TAG_MANAGED.to_owned(), "true".to_owned());
        tags
    }
}

// ---------------------------------------------------------------------------------------------
// Serde helpers
// ---------------------------------------------------------------------------------------------

/// Reads `null` as the type's default.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn de_key_pair<'de, D: Deserializer<'de>>(d: D) -> Result<KeyPair, D::Error> {
    Ok(Option::<KeyPair>::deserialize(d)?.unwrap_or_else(KeyPair::disabled))
}

fn de_certificate<'de, D: Deserializer<'de>>(d: D) -> Result<Certificate, D::Error> {
    Ok(Option::<Certificate>::deserialize(d)?.unwrap_or_else(Certificate::disabled))
}

fn de_iam_role<'de, D: Deserializer<'de>>(d: D) -> Result<IamRole, D::Error> {
    Ok(Option::<IamRole>::deserialize(d)?.unwrap_or_else(IamRole::disabled))
}

/// An optional integer written as a JSON number or a string of digits (`"22"`).
fn de_opt_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    opt_int(d, "a whole number (such as 20)")
}

/// An optional amount of US dollars written as a JSON number or a string of one (`"20.50"`).
fn de_opt_usd<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let found = match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(n) => return Ok(Some(n)),
            None => format!("the number {n}"),
        },
        Some(Value::String(s)) => match s.trim().trim_start_matches('$').parse::<f64>() {
            Ok(n) => return Ok(Some(n)),
            Err(_) => format!("the string {}", Value::String(s)),
        },
        Some(Value::Bool(b)) => format!("{b}"),
        Some(Value::Array(_)) => "a list".to_owned(),
        Some(Value::Object(_)) => "an object".to_owned(),
    };
    Err(serde::de::Error::custom(format!(
        "expected an amount of US dollars a month (such as 20), found {found}"
    )))
}

/// A port: as [`de_opt_int`], with a message that says a port is expected.
fn de_opt_port<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    opt_int(d, "a port number (0-65535)")
}

/// Reads any JSON value first, so that a wrong one can be named in the error
/// (`expected a port number (0-65535), found the string "https"`).
fn opt_int<'de, D: Deserializer<'de>>(d: D, expected: &str) -> Result<Option<i64>, D::Error> {
    let found = match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(n) => return Ok(Some(n)),
            None => format!("the number {n}"),
        },
        Some(Value::String(s)) => match s.trim().parse::<i64>() {
            Ok(n) => return Ok(Some(n)),
            Err(_) => format!("the string {}", Value::String(s)),
        },
        Some(Value::Bool(b)) => format!("{b}"),
        Some(Value::Array(_)) => "a list".to_owned(),
        Some(Value::Object(_)) => "an object".to_owned(),
    };
    Err(serde::de::Error::custom(format!(
        "expected {expected}, found {found}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_parse_with_aliases_and_keep_unknowns() {
        assert_eq!(Protocol::parse("TCP"), Protocol::Tcp);
        assert_eq!(Protocol::parse("-1"), Protocol::All);
        assert_eq!(Protocol::parse("sctp"), Protocol::Other("sctp".into()));
        assert_eq!(CertificateMode::parse("acm"), CertificateMode::Request);
        assert_eq!(SectionStatus::parse("ready"), SectionStatus::Created);
        assert_eq!(SectionStatus::parse("weird").as_str(), "weird");
        let s: SectionStatus = serde_json::from_str("null").unwrap();
        assert_eq!(s, SectionStatus::Pending);
        assert_eq!(serde_json::to_string(&Protocol::All).unwrap(), "\"all\"");
    }

    #[test]
    fn port_ranges() {
        let mut r = Rule::tcp(22, "0.0.0.0/0", "SSH");
        assert_eq!(r.port_range(), Some(PortRange { from: 22, to: 22 }));
        r.port = None;
        r.from_port = Some(8000);
        r.to_port = Some(8100);
        assert_eq!(
            r.port_range(),
            Some(PortRange {
                from: 8000,
                to: 8100
            })
        );
        assert_eq!(
            r.port_range().map(|p| p.to_string()).as_deref(),
            Some("8000-8100")
        );
        r.from_port = None;
        r.to_port = None;
        assert_eq!(r.port_range(), None);
        r.protocol = Protocol::Icmp;
        assert_eq!(r.port_range(), Some(PortRange { from: -1, to: -1 }));
        r.protocol = Protocol::All;
        r.port = Some(80);
        assert_eq!(r.port_range(), Some(PortRange { from: -1, to: -1 }));
        assert!(r.is_open_to_world());
    }

    #[test]
    fn images() {
        let mut c = Compute::default();
        assert_eq!(c.image_alias_or_id(), "amazon-linux-2023");
        assert_eq!(c.image(), ImageRef::Alias("amazon-linux-2023"));
        c.image_id = Some("ami-0230bd60aa48260c6".into());
        assert_eq!(c.image(), ImageRef::AmiId("ami-0230bd60aa48260c6"));
        c.image_id = Some("ubuntu-20.04".into());
        assert_eq!(c.image(), ImageRef::Unknown("ubuntu-20.04"));
        assert!(!is_ami_id("ami-123"));
        assert!(!is_ami_id("ami-0230BD60"));
    }

    #[test]
    fn arm64_heuristic() {
        for t in [
            "t4g.micro",
            "m7gd.large",
            "c6gn.xlarge",
            "a1.medium",
            "is4gen.large",
            "x2gd.metal",
        ] {
            assert!(is_arm64_instance_type(t), "{t}");
        }
        for t in [
            "t3.micro",
            "g5.xlarge",
            "g4dn.xlarge",
            "m7i-flex.large",
            "x2iedn.xlarge",
            "p4d.24xlarge",
        ] {
            assert!(!is_arm64_instance_type(t), "{t}");
        }
    }

    #[test]
    fn a_resent_file_keeps_what_the_store_recorded_but_never_overrides_or_crosses_projects() {
        let mut stored = Blueprint::new("Blog", "us-east-2");
        stored.data.s3_bucket = Some(Bucket {
            name: Some("blog-assets".into()),
            arn: Some("arn:aws:s3:::blog-assets".into()),
            ..Bucket::default()
        });
        stored.network.vpc_id = Some("vpc-stored".into());
        stored.network.subnet_id = Some("subnet-stored".into());
        let mut sent = Blueprint::new("Blog", "us-east-2");
        sent.data.s3_bucket = Some(Bucket {
            name: Some("blog-assets".into()),
            ..Bucket::default()
        });
        sent.network.subnet_id = Some("subnet-sent".into());
        sent.keep_recorded_from(&stored);
        assert_eq!(sent.network.vpc_id.as_deref(), Some("vpc-stored"));
        assert_eq!(sent.network.subnet_id.as_deref(), Some("subnet-sent"));
        assert_eq!(
            sent.data.s3_bucket.as_ref().unwrap().arn.as_deref(),
            Some("arn:aws:s3:::blog-assets")
        );

        // Another region (or a renamed bucket) records nothing that applies here.
        let mut moved = Blueprint::new("Blog", "eu-west-1");
        moved.keep_recorded_from(&stored);
        assert_eq!(moved.network.vpc_id, None);
        let mut renamed = Blueprint::new("Blog", "us-east-2");
        renamed.data.s3_bucket = Some(Bucket {
            name: Some("other-bucket".into()),
            ..Bucket::default()
        });
        renamed.keep_recorded_from(&stored);
        assert_eq!(renamed.data.s3_bucket.unwrap().arn, None);
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let db = Database {
            password: Some(Secret::new("hunter2")),
            ..Database::default()
        };
        let text = format!("{db:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("redacted"));
    }

    #[test]
    fn new_blueprint_helpers() {
        let bp = Blueprint::new("Brenden's Blog", "us-east-2");
        assert_eq!(bp.slug(), "brendens-blog");
        assert_eq!(bp.region(), "us-east-2");
        assert!(!bp.has_db());
        assert!(!bp.has_bucket());
        assert!(bp.key_pair_enabled());
        assert!(bp.iam_enabled());
        assert!(!bp.certificate_enabled());
        assert_eq!(bp.key_pair_name(), "brendens-blog-key");
        assert_eq!(bp.role_name(), "pockitect-brendens-blog-role");
        assert_eq!(
            bp.default_private_key_path(),
            "~/.ssh/pockitect/brendens-blog.pem"
        );
        let tags = bp.resource_tags("brendens-blog-vpc");
        assert_eq!(
            tags.get(TAG_PROJECT).map(String::as_str),
            Some("brendens-blog")
        );
        assert_eq!(tags.get(TAG_MANAGED).map(String::as_str), Some("true"));
    }
}
