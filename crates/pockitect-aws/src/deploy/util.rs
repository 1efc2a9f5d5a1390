//! Small helpers: errors, tags, CIDR arithmetic, stable hashes, waiting.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_sts::config::http::HttpResponse;
use aws_sdk_sts::error::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use tokio::time::Instant;

use super::graph::Node;
use super::{Resource, StepError};
use crate::AwsError;

/// The engine's own error codes (beside AWS's).
pub(crate) const CODE_NOT_FOUND: &str = "NotFound";
pub(crate) const CODE_CONFLICT: &str = "Conflict";
pub(crate) const CODE_TIMEOUT: &str = "Timeout";
pub(crate) const CODE_INVALID: &str = "InvalidBlueprint";
pub(crate) const CHECK: &str = "pockitect:check";

/// How the engine builds and reads [`StepError`]s (the type is the wire protocol's).
pub(crate) trait EngineError: Sized {
    /// A failure of the engine's own check (`pockitect:check`).
    fn new(resource: Resource, region: &str, code: &str, message: impl Into<String>) -> Self;
    fn from_aws(resource: Resource, e: AwsError) -> Self;
    /// A failed SDK call, with AWS's code and message.
    fn sdk<E>(
        resource: Resource,
        operation: &'static str,
        region: &str,
        err: SdkError<E, HttpResponse>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static;
    /// True for AWS's "it does not exist" answers.
    fn is_not_found(&self) -> bool;
}

impl EngineError for StepError {
    fn new(resource: Resource, region: &str, code: &str, message: impl Into<String>) -> Self {
        StepError {
            resource,
            operation: CHECK.to_owned(),
            region: region.to_owned(),
            code: code.to_owned(),
            message: message.into(),
        }
    }

    fn from_aws(resource: Resource, e: AwsError) -> Self {
        match e {
            AwsError::Api {
                operation,
                region,
                code,
                message,
            } => StepError {
                resource,
                operation: operation.to_owned(),
                region,
                code,
                message,
            },
            AwsError::Config(m) => StepError {
                resource,
                operation: "config".to_owned(),
                region: String::new(),
                code: "config".to_owned(),
                message: m,
            },
        }
    }

    fn sdk<E>(
        resource: Resource,
        operation: &'static str,
        region: &str,
        err: SdkError<E, HttpResponse>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        StepError::from_aws(resource, AwsError::from_sdk(operation, region, err))
    }

    fn is_not_found(&self) -> bool {
        is_not_found_code(&self.code)
    }
}

/// True for the codes AWS uses when a named resource does not exist.
pub(crate) fn is_not_found_code(code: &str) -> bool {
    code.ends_with(".NotFound")
        || code.ends_with("NotFound")
        || code.ends_with("NotFoundFault")
        || matches!(
            code,
            "NoSuchEntity" | "NoSuchBucket" | "ResourceNotFoundException" | "404"
        )
}

/// The code of an SDK error (for branching on it before converting).
pub(crate) fn sdk_code<E, R>(err: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(se) => se.err().code(),
        _ => None,
    }
}

/// A describe call's answer with AWS's "it does not exist" read as nothing found (`None`, an
/// empty list): a recorded id that is gone is something to recreate or adopt, not a failure.
pub(crate) fn unless_not_found<T, E>(
    answer: Result<T, SdkError<E, HttpResponse>>,
    resource: Resource,
    operation: &'static str,
    region: &str,
) -> Result<T, StepError>
where
    T: Default,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match answer {
        Ok(v) => Ok(v),
        Err(e) if sdk_code(&e).is_some_and(is_not_found_code) => Ok(T::default()),
        Err(e) => Err(StepError::sdk(resource, operation, region, e)),
    }
}

/// Tags of a resource: `Name`, project, managed, `pockitect:resource`, then the user's.
pub(crate) fn project_tags(
    bp: &pockitect_blueprint::Blueprint,
    resource: Resource,
) -> BTreeMap<String, String> {
    let name = format!("{}-{}", bp.slug(), resource.name_suffix());
    let mut tags = bp.resource_tags(&name);
    tags.insert(super::TAG_RESOURCE.to_owned(), resource.as_str().to_owned());
    tags
}

/// Tags of a shared per-environment network resource (no project tag: projects share it).
pub(crate) fn shared_tags(env: &str, resource: Resource) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    tags.insert(
        "Name".to_owned(),
        format!("pockitect-{env}-{}", resource.name_suffix()),
    );
    tags.insert(pockitect_proto::tags::MANAGED.to_owned(), "true".to_owned());
    tags.insert(super::TAG_VPC_ENV.to_owned(), env.to_owned());
    tags.insert(super::TAG_RESOURCE.to_owned(), resource.as_str().to_owned());
    tags
}

/// An IPv4 block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ipv4Block {
    pub base: u32,
    pub prefix: u8,
}

impl Ipv4Block {
    pub(crate) fn parse(s: &str) -> Option<Ipv4Block> {
        let (addr, prefix) = s.trim().split_once('/')?;
        let prefix: u8 = prefix.parse().ok()?;
        if prefix > 32 {
            return None;
        }
        let ip: std::net::Ipv4Addr = addr.parse().ok()?;
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        };
        Some(Ipv4Block {
            base: u32::from(ip) & mask,
            prefix,
        })
    }

    fn size(self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    pub(crate) fn overlaps(self, other: Ipv4Block) -> bool {
        let (a0, a1) = (u64::from(self.base), u64::from(self.base) + self.size());
        let (b0, b1) = (u64::from(other.base), u64::from(other.base) + other.size());
        a0 < b1 && b0 < a1
    }

    /// The `index`-th subnet of the VPC range: /24s for a /24 or larger range, else halves.
    pub(crate) fn subnet(self, index: u32) -> Option<Ipv4Block> {
        let prefix = if self.prefix <= 24 {
            24
        } else {
            self.prefix + 1
        };
        if prefix > 28 {
            return None;
        }
        let step = 1u64 << (32 - u32::from(prefix));
        let base = u64::from(self.base) + u64::from(index) * step;
        if base + step > u64::from(self.base) + self.size() {
            return None;
        }
        Some(Ipv4Block {
            base: u32::try_from(base).ok()?,
            prefix,
        })
    }
}

impl std::fmt::Display for Ipv4Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", std::net::Ipv4Addr::from(self.base), self.prefix)
    }
}

/// FNV-1a: a hash that stays the same across builds (idempotency tokens derive from it).
pub(crate) fn stable_hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The AWS partition of a region (for ARNs the engine writes itself).
pub(crate) fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// Polls `check` every `interval` until it returns `Ok(Some(_))`, an error, or `timeout`
/// passes (then `Ok(None)`).
pub(crate) async fn poll<T, F, Fut>(
    interval: Duration,
    timeout: Duration,
    mut check: F,
) -> Result<Option<T>, StepError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, StepError>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await? {
            return Ok(Some(v));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_of_a_vpc_range() {
        let vpc = Ipv4Block::parse("10.0.0.0/16").unwrap();
        assert_eq!(vpc.subnet(0).unwrap().to_string(), "10.0.0.0/24");
        assert_eq!(vpc.subnet(1).unwrap().to_string(), "10.0.1.0/24");
        let small = Ipv4Block::parse("10.1.2.0/26").unwrap();
        assert_eq!(small.subnet(0).unwrap().to_string(), "10.1.2.0/27");
        assert_eq!(small.subnet(1).unwrap().to_string(), "10.1.2.32/27");
        assert_eq!(small.subnet(2), None);
        let a = Ipv4Block::parse("10.0.1.0/24").unwrap();
        assert!(vpc.overlaps(a));
        assert!(!vpc.subnet(0).unwrap().overlaps(a));
        assert_eq!(Ipv4Block::parse("10.0.0.0/33"), None);
        assert_eq!(Ipv4Block::parse("x/16"), None);
    }

    #[test]
    fn stable_hash_is_stable() {
        assert_eq!(stable_hash(&["a", "b"]), stable_hash(&["a", "b"]));
        assert_ne!(stable_hash(&["ab"]), stable_hash(&["a", "b"]));
        assert_eq!(stable_hash(&[]), 0xcbf2_9ce4_8422_2325);
    }

    #[test]
    fn not_found_codes() {
        for c in [
            "InvalidVpcID.NotFound",
            "DBInstanceNotFound",
            "DBSubnetGroupNotFoundFault",
            "NoSuchEntity",
            "InvalidKeyPair.NotFound",
        ] {
            assert!(is_not_found_code(c), "{c}");
        }
        assert!(!is_not_found_code("AccessDenied"));
    }
}
