//! The ownership gate: the one place that decides whose a resource is before Pockitect adopts,
//! modifies, powers or deletes it.
//!
//! Every record is classified against the project a command acts for:
//!
//! - **owned**: tagged `pockitect:project=<slug>` and `pockitect:managed=true`;
//! - **borrowed**: the blueprint records it as borrowed (a default or existing VPC and the
//!   subnets picked in it, an existing key pair): used, never changed or deleted;
//! - **shared**: part of a legacy per-environment VPC (`pockitect:vpc-env`) several projects use;
//! - **foreign**: tagged for another project;
//! - **protected**: tagged `pockitect:protect=true`, or a region's default VPC or default subnet;
//! - **unknown**: none of the above (untagged, or not marked managed).
//!
//! The decisions built on it: deploy adopts owned and borrowed resources (and an unknown one only
//! when the project's own records name it: a run that crashed between create and tag); power
//! touches owned resources only; delete takes owned resources, and with `force` unknown ones the
//! project's records (or an explicit terminate list) name — never borrowed, shared, foreign or
//! protected ones.

use std::collections::BTreeMap;
use std::fmt;

use pockitect_blueprint::Blueprint;
use pockitect_proto::tags::{MANAGED, PROJECT, PROTECT};
use pockitect_proto::{ResourceRecord, ResourceType, TerminateTarget};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::lookup::{describe_targets, key_of};
use crate::{Aws, AwsError};

/// Tag of the shared per-environment VPC and its parts (legacy `vpc_env`). Those carry no
/// project tag: several projects use them.
pub const VPC_ENV: &str = "pockitect:vpc-env";

/// Whose a resource is, seen from one project.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "ownership", rename_all = "snake_case")]
pub enum Ownership {
    Owned,
    Borrowed,
    Shared {
        env: String,
    },
    Foreign {
        project: String,
    },
    /// `owner`: the project it is tagged for, when tagged and managed (a project may protect
    /// its own resources from deletion and still deploy them).
    Protected {
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<String>,
    },
    Unknown,
}

impl fmt::Display for Ownership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ownership::Owned => f.write_str("owned"),
            Ownership::Borrowed => f.write_str("borrowed"),
            Ownership::Shared { env } => write!(f, "shared ('{env}' VPC)"),
            Ownership::Foreign { project } => write!(f, "owned by project '{project}'"),
            Ownership::Protected { reason, .. } => write!(f, "protected ({reason})"),
            Ownership::Unknown => f.write_str("not tagged as Pockitect's"),
        }
    }
}

fn tag_true(tags: &BTreeMap<String, String>, key: &str) -> bool {
    tags.get(key)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

fn detail_true(r: &ResourceRecord, key: &str) -> bool {
    r.details.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// The project a record's tags name, if any.
pub fn tagged_project(tags: &BTreeMap<String, String>) -> Option<&str> {
    tags.get(PROJECT)
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
}

/// Classifies a record for `project`. With `project` None (a terminate of resources picked from
/// a scan), a managed resource counts as owned by whichever project its tag names.
/// `borrowed` says the acting project's blueprint records this resource as borrowed.
pub fn classify(r: &ResourceRecord, project: Option<&str>, borrowed: bool) -> Ownership {
    classify_tags(&r.tags, project, borrowed, default_reason(r))
}

/// Why a record is protected by what it is (a default VPC or default subnet), if it is.
fn default_reason(r: &ResourceRecord) -> Option<String> {
    match r.kind {
        ResourceType::Vpc if detail_true(r, "is_default") => {
            Some(format!("the default VPC of '{}'", r.region))
        }
        ResourceType::Subnet if detail_true(r, "default_for_az") => {
            Some(format!("a default subnet of '{}'", r.region))
        }
        _ => None,
    }
}

/// [`classify`] on tags alone (network interfaces have no record type), with the protection
/// that comes from what the resource is, when known.
pub fn classify_tags(
    tags: &BTreeMap<String, String>,
    project: Option<&str>,
    borrowed: bool,
    default_reason: Option<String>,
) -> Ownership {
    // Borrowing is the user's explicit choice in the blueprint (an existing VPC may well be
    // protected, or another project's): it is used, never changed or deleted.
    if borrowed {
        return Ownership::Borrowed;
    }
    let owner = tagged_project(tags);
    if let (Some(o), Some(p)) = (owner, project)
        && o != p
    {
        return Ownership::Foreign {
            project: o.to_owned(),
        };
    }
    if tag_true(tags, PROTECT) {
        return Ownership::Protected {
            reason: format!("tagged {PROTECT}=true"),
            owner: owner.filter(|_| tag_true(tags, MANAGED)).map(str::to_owned),
        };
    }
    if let Some(reason) = default_reason {
        return Ownership::Protected {
            reason,
            owner: None,
        };
    }
    if owner.is_none() && tags.contains_key(VPC_ENV) {
        return Ownership::Shared {
            env: tags.get(VPC_ENV).cloned().unwrap_or_default(),
        };
    }
    let named = owner.is_some() || project.is_none();
    if named && tag_true(tags, MANAGED) {
        Ownership::Owned
    } else {
        Ownership::Unknown
    }
}

/// Why a delete leaves a resource alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub ownership: Ownership,
    pub reason: String,
}

/// How a resource came to be considered for deletion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Listed by the user (terminate) or recorded by the project's own blueprint (destroy).
    Named,
    /// Found by the project's tags (destroy's discovery).
    Tagged,
    /// Found inside a VPC being deleted.
    InVpc,
}

/// Whether a delete may take a resource of this ownership. `force` adds unknown resources the
/// user named or the project's records name; nothing adds borrowed, shared, foreign or
/// protected ones, nor an unknown child found inside a VPC.
pub fn may_delete(ownership: &Ownership, origin: Origin, force: bool) -> Result<(), Refusal> {
    let refuse = |reason: String| {
        Err(Refusal {
            ownership: ownership.clone(),
            reason,
        })
    };
    match ownership {
        Ownership::Owned => Ok(()),
        Ownership::Unknown if force && origin == Origin::Named => Ok(()),
        Ownership::Unknown if origin == Origin::InVpc => refuse(format!(
            "not tagged {MANAGED}=true for this project: a resource found inside the VPC is deleted only when it is the project's own (list it explicitly in a terminate with force to delete it)"
        )),
        Ownership::Unknown => refuse(format!(
            "not tagged {MANAGED}=true for this project: Pockitect did not create it (use force to delete it anyway)"
        )),
        Ownership::Borrowed => refuse(
            "borrowed by the project (a default or existing VPC, its subnets, an existing key pair): never deleted"
                .to_owned(),
        ),
        Ownership::Shared { env } => refuse(format!(
            "part of the shared '{env}' VPC that several projects use; delete it with terminate once no project needs it"
        )),
        Ownership::Foreign { project } => refuse(format!(
            "belongs to project '{project}': never deleted for another project, even with force"
        )),
        Ownership::Protected { reason, .. } => {
            refuse(format!("{reason}: never deleted, even with force"))
        }
    }
}

/// Whether power may start or stop a resource: only the project's own.
pub fn may_power(ownership: &Ownership, project: &str) -> Result<(), Refusal> {
    match ownership {
        Ownership::Owned => Ok(()),
        other => Err(Refusal {
            ownership: other.clone(),
            reason: format!(
                "{other}, not tagged {PROJECT}={project} and {MANAGED}=true: power touches only the project's own resources"
            ),
        }),
    }
}

/// Whether deploy may adopt a recorded resource: owned, borrowed or shared ones. An untagged
/// bucket is adopted because the project's records name it: buckets are tagged in a second
/// call after their creation, and a run may have crashed in between (every other resource is
/// tagged in the call that creates it). A foreign, protected or unknown one is a conflict.
pub fn may_adopt(kind: ResourceType, ownership: &Ownership, project: &str) -> Result<(), Refusal> {
    match ownership {
        Ownership::Owned | Ownership::Borrowed | Ownership::Shared { .. } => Ok(()),
        Ownership::Unknown if kind == ResourceType::S3Bucket => Ok(()),
        Ownership::Unknown => Err(Refusal {
            ownership: ownership.clone(),
            reason: format!(
                "not tagged {PROJECT}={project} and {MANAGED}=true, so not this project's: tag it so to adopt it, or clear the recorded id (set it to null) to create one of the project's own"
            ),
        }),
        Ownership::Foreign { project: other } => Err(Refusal {
            ownership: ownership.clone(),
            reason: format!(
                "belongs to project '{other}' (tagged {PROJECT}={other}), not '{project}': was this blueprint copied from '{other}'? Clear the recorded ids (set them to null) to deploy '{project}' as a project of its own, or deploy '{other}' instead"
            ),
        }),
        Ownership::Protected { owner, .. } if owner.as_deref() == Some(project) => Ok(()),
        Ownership::Protected { reason, .. } => Err(Refusal {
            ownership: ownership.clone(),
            reason: format!(
                "{reason}: Pockitect never adopts or changes it; clear the recorded id to create a resource of the project's own"
            ),
        }),
    }
}

/// A recorded resource deploy may not adopt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub kind: ResourceType,
    pub id: String,
    pub refusal: Refusal,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} '{}' {}", self.kind, self.id, self.refusal.reason)
    }
}

/// Classifies every id a blueprint records, before a deploy (or plan) does anything: the
/// recorded resources that exist but are not the project's to adopt. Ids AWS no longer knows
/// are not conflicts (deploy creates them anew). Fails when AWS could not be asked.
pub async fn recorded_conflicts(aws: &Aws, bp: &Blueprint) -> Result<Vec<Conflict>, AwsError> {
    let slug = bp.slug();
    let recorded = bp.recorded_ids();
    let targets: Vec<TerminateTarget> = recorded
        .iter()
        .map(|r| TerminateTarget {
            id: r.id.clone(),
            kind: r.kind,
            region: r.region.clone(),
        })
        .collect();
    let described = describe_targets(aws, &targets, 4).await;
    let mut conflicts = Vec::new();
    for r in &recorded {
        let key = key_of(r.kind, &r.id);
        if let Some(f) = described.failed.get(&key) {
            return Err(AwsError::Api {
                operation: "pockitect:ownership",
                region: r.region.clone(),
                code: f.code.clone(),
                message: format!("{} '{}': {}", r.kind, r.id, f.message),
            });
        }
        let Some(record) = described.found.get(&key) else {
            continue;
        };
        let ownership = classify(record, Some(&slug), r.borrowed);
        if let Err(refusal) = may_adopt(r.kind, &ownership, &slug) {
            conflicts.push(Conflict {
                kind: r.kind,
                id: r.id.clone(),
                refusal,
            });
        }
    }
    Ok(conflicts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(kind: ResourceType, tags: &[(&str, &str)]) -> ResourceRecord {
        let tags = tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ResourceRecord::new(kind, "x-1", "us-east-1", tags)
    }

    const MINE: [(&str, &str); 2] = [(PROJECT, "blog"), (MANAGED, "true")];
    const THEIRS: [(&str, &str); 2] = [(PROJECT, "shop"), (MANAGED, "true")];

    #[test]
    fn classes() {
        let c = |r: &ResourceRecord, borrowed| classify(r, Some("blog"), borrowed);
        assert_eq!(
            c(&rec(ResourceType::Subnet, &MINE), false),
            Ownership::Owned
        );
        assert_eq!(
            c(&rec(ResourceType::Subnet, &THEIRS), false),
            Ownership::Foreign {
                project: "shop".into()
            }
        );
        assert_eq!(
            c(&rec(ResourceType::Subnet, &[]), false),
            Ownership::Unknown
        );
        // The project tag alone is not ownership: Pockitect marks what it manages.
        assert_eq!(
            c(&rec(ResourceType::Subnet, &[(PROJECT, "blog")]), false),
            Ownership::Unknown
        );
        assert_eq!(
            c(&rec(ResourceType::Subnet, &[]), true),
            Ownership::Borrowed
        );
        let protected = rec(
            ResourceType::Subnet,
            &[(PROJECT, "blog"), (MANAGED, "true"), (PROTECT, "True")],
        );
        assert_eq!(
            c(&protected, false),
            Ownership::Protected {
                reason: format!("tagged {PROTECT}=true"),
                owner: Some("blog".into())
            }
        );
        // Protected from deletion, still the project's to deploy; never another's.
        let sub = ResourceType::Subnet;
        assert!(may_adopt(sub, &c(&protected, false), "blog").is_ok());
        assert!(may_adopt(sub, &c(&protected, false), "blog-staging").is_err());
        assert_eq!(c(&protected, true), Ownership::Borrowed);
        let mut default_vpc = rec(ResourceType::Vpc, &[]);
        default_vpc.details = json!({"is_default": true});
        assert!(matches!(
            c(&default_vpc, false),
            Ownership::Protected { .. }
        ));
        // A default VPC the blueprint uses (vpc_mode: default) is borrowed: used, never deleted.
        assert_eq!(c(&default_vpc, true), Ownership::Borrowed);
        let mut default_subnet = rec(ResourceType::Subnet, &[]);
        default_subnet.details = json!({"default_for_az": true});
        assert!(matches!(
            c(&default_subnet, false),
            Ownership::Protected { .. }
        ));
        let shared = rec(ResourceType::Vpc, &[(VPC_ENV, "dev"), (MANAGED, "true")]);
        assert_eq!(c(&shared, false), Ownership::Shared { env: "dev".into() });
        // Without a project (terminate from a scan), managed means owned by its own project.
        assert_eq!(
            classify(&rec(ResourceType::Subnet, &THEIRS), None, false),
            Ownership::Owned
        );
        assert_eq!(
            classify(
                &rec(ResourceType::Subnet, &[(MANAGED, "true")]),
                None,
                false
            ),
            Ownership::Owned
        );
    }

    #[test]
    fn delete_rules() {
        use Origin::*;
        let owned = Ownership::Owned;
        let unknown = Ownership::Unknown;
        for origin in [Named, Tagged, InVpc] {
            for force in [false, true] {
                assert!(may_delete(&owned, origin, force).is_ok());
                for never in [
                    Ownership::Borrowed,
                    Ownership::Shared { env: "dev".into() },
                    Ownership::Foreign {
                        project: "shop".into(),
                    },
                    Ownership::Protected {
                        reason: "tagged".into(),
                        owner: Some("blog".into()),
                    },
                ] {
                    let e = may_delete(&never, origin, force).unwrap_err();
                    assert_eq!(e.ownership, never);
                }
            }
        }
        assert!(may_delete(&unknown, Named, true).is_ok());
        assert!(may_delete(&unknown, Named, false).is_err());
        assert!(may_delete(&unknown, InVpc, true).is_err());
        assert!(may_delete(&unknown, Tagged, true).is_err());
        let e = may_delete(
            &Ownership::Foreign {
                project: "shop".into(),
            },
            Named,
            true,
        )
        .unwrap_err();
        assert!(e.reason.contains("'shop'"), "{}", e.reason);
    }

    #[test]
    fn adopt_and_power_rules() {
        let foreign = Ownership::Foreign {
            project: "blog".into(),
        };
        let i = ResourceType::Ec2Instance;
        let e = may_adopt(i, &foreign, "blog-staging").unwrap_err();
        assert!(e.reason.contains("'blog'"), "{}", e.reason);
        assert!(e.reason.contains("null"), "says what to do: {}", e.reason);
        assert!(may_adopt(i, &Ownership::Owned, "blog").is_ok());
        assert!(may_adopt(i, &Ownership::Borrowed, "blog").is_ok());
        assert!(may_adopt(i, &Ownership::Unknown, "blog").is_err());
        assert!(may_adopt(ResourceType::S3Bucket, &Ownership::Unknown, "blog").is_ok());
        assert!(may_power(&Ownership::Owned, "blog").is_ok());
        for other in [Ownership::Unknown, Ownership::Borrowed, foreign] {
            assert!(may_power(&other, "blog").is_err());
        }
    }
}
