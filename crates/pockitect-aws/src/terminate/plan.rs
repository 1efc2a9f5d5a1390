//! Planning: describe the targets, apply the safety rules, expand VPCs into their children,
//! order everything in layers. Read-only.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use futures::StreamExt;
use pockitect_proto::tags::{MANAGED, PROJECT, PROTECT};
use pockitect_proto::{ResourceRecord, ResourceType, TerminateTarget};
use serde_json::Value;

use super::{Layer, PlannedDelete, SkipKind, Skipped, TerminateOptions, TerminatePlan, layer_of};
use crate::lookup::{Key, Query, describe_targets, fetch, key_of};
use crate::{Aws, AwsError};

/// Tag of the shared per-environment VPC and its parts (legacy `vpc_env`); the deploy engine
/// writes it (`deploy::TAG_VPC_ENV`). Those carry no project tag: several projects use them.
const VPC_ENV: &str = "pockitect:vpc-env";

/// The types a VPC is expanded into.
const VPC_CHILDREN: [ResourceType; 9] = [
    ResourceType::Ec2Instance,
    ResourceType::RdsInstance,
    ResourceType::NatGateway,
    ResourceType::ElasticIp,
    ResourceType::SecurityGroup,
    ResourceType::Subnet,
    ResourceType::RouteTable,
    ResourceType::InternetGateway,
    ResourceType::DbSubnetGroup,
];

fn tag_true(tags: &BTreeMap<String, String>, key: &str) -> bool {
    tags.get(key)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

fn detail_true(r: &ResourceRecord, key: &str) -> bool {
    r.details.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// The safety rules (see the module documentation).
#[derive(Clone, Debug, Default)]
pub(super) struct Safety {
    pub force: bool,
    pub project: Option<String>,
    /// The projects this terminate acts for.
    pub projects: BTreeSet<String>,
}

impl Safety {
    pub fn new(opts: &TerminateOptions, projects: BTreeSet<String>) -> Self {
        Self {
            force: opts.force,
            project: opts.project.clone(),
            projects,
        }
    }

    /// Ok when `r` may be deleted; `explicit` when it was asked for (not found inside a VPC).
    pub fn check(&self, r: &ResourceRecord, explicit: bool) -> Result<(), (SkipKind, String)> {
        if tag_true(&r.tags, PROTECT) {
            return Err(protected());
        }
        match r.kind {
            ResourceType::Vpc if detail_true(r, "is_default") => {
                return Err((
                    SkipKind::DefaultVpc,
                    format!(
                        "the default VPC of '{}' is never deleted, even with force",
                        r.region
                    ),
                ));
            }
            ResourceType::SecurityGroup if detail_true(r, "is_default") => {
                return Err((
                    SkipKind::DefaultResource,
                    "a VPC's default security group cannot be deleted: it goes with its VPC"
                        .to_owned(),
                ));
            }
            ResourceType::RouteTable if detail_true(r, "main") => {
                return Err((
                    SkipKind::DefaultResource,
                    "a VPC's main route table cannot be deleted: it goes with its VPC".to_owned(),
                ));
            }
            _ => {}
        }
        self.check_tags(&r.tags, explicit)
    }

    /// The tag rules alone (also used for network interfaces, which have no record type).
    pub fn check_tags(
        &self,
        tags: &BTreeMap<String, String>,
        explicit: bool,
    ) -> Result<(), (SkipKind, String)> {
        if tag_true(tags, PROTECT) {
            return Err(protected());
        }
        let owner = tags
            .get(PROJECT)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty());
        if let Some(p) = &self.project {
            match owner {
                Some(o) if o != p => {
                    return Err((
                        SkipKind::OtherProject,
                        format!("belongs to project '{o}', not '{p}'"),
                    ));
                }
                None if tags.contains_key(VPC_ENV) => {
                    let env = tags.get(VPC_ENV).map(String::as_str).unwrap_or_default();
                    return Err((
                        SkipKind::Shared,
                        format!(
                            "part of the shared '{env}' VPC that several projects use; delete it with terminate once no project needs it"
                        ),
                    ));
                }
                None if !self.force => {
                    return Err((
                        SkipKind::NotManaged,
                        format!(
                            "not tagged {PROJECT}={p}: not part of the project (use force to delete it anyway)"
                        ),
                    ));
                }
                _ => {}
            }
        } else if !explicit
            && let Some(o) = owner
            && !self.projects.contains(o)
        {
            return Err((SkipKind::OtherProject, format!("belongs to project '{o}'")));
        }
        if !self.force && !tag_true(tags, MANAGED) {
            return Err((
                SkipKind::NotManaged,
                format!(
                    "not tagged {MANAGED}=true: Pockitect did not create it (use force to delete it anyway)"
                ),
            ));
        }
        Ok(())
    }
}

fn protected() -> (SkipKind, String) {
    (
        SkipKind::Protected,
        format!("tagged {PROTECT}=true: never deleted, even with force"),
    )
}

/// Codes that say AWS could not be asked at all: the plan cannot be trusted, so it fails.
fn is_transport(code: &str) -> bool {
    matches!(
        code,
        "network"
            | "timeout"
            | "Throttling"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "config"
    )
}

/// A record for a target that could not be described.
fn bare(t: &TerminateTarget) -> ResourceRecord {
    ResourceRecord::new(t.kind, &t.id, &t.region, BTreeMap::new())
}

/// States in which a resource is as good as gone.
fn is_gone(r: &ResourceRecord) -> bool {
    matches!(
        (r.kind, r.state.as_deref()),
        (ResourceType::Ec2Instance, Some("terminated"))
            | (ResourceType::NatGateway, Some("deleted"))
    )
}

/// Describes the targets and decides, for each and for what their VPCs contain, delete or
/// skip. Fails only when AWS could not be reached (network, throttling): a target that cannot
/// be read (AccessDenied) is skipped with the reason.
pub async fn plan(
    aws: &Aws,
    targets: Vec<TerminateTarget>,
    opts: TerminateOptions,
) -> Result<TerminatePlan, AwsError> {
    let mut seen = HashSet::new();
    let targets: Vec<TerminateTarget> = targets
        .into_iter()
        .filter(|t| seen.insert(key_of(t.kind, &t.id)))
        .collect();
    let described = describe_targets(aws, &targets, opts.concurrency).await;

    let mut skipped = Vec::new();
    let mut explicit = Vec::new();
    for t in &targets {
        let key = key_of(t.kind, &t.id);
        if let Some(r) = described.found.get(&key) {
            if is_gone(r) {
                skipped.push(Skipped {
                    record: r.clone(),
                    kind: SkipKind::NotFound,
                    reason: format!("already {}", r.state.as_deref().unwrap_or("gone")),
                });
            } else {
                explicit.push(r.clone());
            }
        } else if let Some(f) = described.failed.get(&key) {
            if is_transport(&f.code) {
                return Err(AwsError::Api {
                    operation: "pockitect:describe",
                    region: t.region.clone(),
                    code: f.code.clone(),
                    message: f.message.clone(),
                });
            }
            skipped.push(Skipped {
                record: bare(t),
                kind: SkipKind::Unreadable,
                reason: format!(
                    "could not read its tags and state ({}: {}), so it is left alone",
                    f.code, f.message
                ),
            });
        } else {
            skipped.push(Skipped {
                record: bare(t),
                kind: SkipKind::NotFound,
                reason: format!("not found in '{}': already deleted", t.region),
            });
        }
    }

    let projects: BTreeSet<String> = match &opts.project {
        Some(p) => BTreeSet::from([p.clone()]),
        None => explicit.iter().filter_map(|r| r.project.clone()).collect(),
    };
    let safety = Safety::new(&opts, projects.clone());

    let mut planned: Vec<PlannedDelete> = Vec::new();
    let mut decided: HashMap<Key, bool> = HashMap::new(); // key -> planned?
    for r in explicit {
        let key = key_of(r.kind, &r.id);
        match safety.check(&r, true) {
            Ok(()) => {
                decided.insert(key, true);
                planned.push(PlannedDelete {
                    record: r,
                    found_in: None,
                    note: None,
                });
            }
            Err((kind, reason)) => {
                decided.insert(key, false);
                skipped.push(Skipped {
                    record: r,
                    kind,
                    reason,
                });
            }
        }
    }

    // Expand each VPC being deleted into what must go before it.
    let vpcs: Vec<(String, String)> = planned
        .iter()
        .filter(|p| p.record.kind == ResourceType::Vpc)
        .map(|p| (p.record.region.clone(), p.record.id.clone()))
        .collect();
    let expansions: Vec<(String, Result<Vec<ResourceRecord>, AwsError>)> =
        futures::stream::iter(vpcs)
            .map(|(region, vpc)| async move {
                let r = vpc_children(aws, &region, &vpc).await;
                (vpc, r)
            })
            .buffer_unordered(opts.concurrency.clamp(1, 4))
            .collect()
            .await;
    let mut notes: HashMap<String, String> = HashMap::new();
    for (vpc, result) in expansions {
        let children = match result {
            Ok(c) => c,
            Err(e) if is_transport(e.code()) => return Err(e),
            Err(e) => {
                notes.insert(
                    vpc.clone(),
                    format!(
                        "what it contains could not be listed ({}: {}); only what was asked for is deleted",
                        e.code(),
                        e.message()
                    ),
                );
                continue;
            }
        };
        let mut blockers = Vec::new();
        for c in children {
            let key = key_of(c.kind, &c.id);
            match decided.get(&key) {
                Some(true) => continue,
                Some(false) => {
                    blockers.push(format!("{} {}", c.kind, c.id));
                    continue;
                }
                None => {}
            }
            // The default security group and the main route table go with the VPC.
            if (c.kind == ResourceType::SecurityGroup && detail_true(&c, "is_default"))
                || (c.kind == ResourceType::RouteTable && detail_true(&c, "main"))
                || is_gone(&c)
            {
                continue;
            }
            match safety.check(&c, false) {
                Ok(()) => {
                    decided.insert(key, true);
                    planned.push(PlannedDelete {
                        record: c,
                        found_in: Some(vpc.clone()),
                        note: None,
                    });
                }
                Err((kind, reason)) => {
                    decided.insert(key, false);
                    blockers.push(format!("{} {}", c.kind, c.id));
                    skipped.push(Skipped {
                        reason: format!("{reason} (found in {vpc})"),
                        record: c,
                        kind,
                    });
                }
            }
        }
        if !blockers.is_empty() {
            notes.insert(
                vpc.clone(),
                format!(
                    "it keeps {} skipped resource(s) ({}): AWS will refuse to delete it while they exist",
                    blockers.len(),
                    blockers.join(", ")
                ),
            );
        }
    }
    let planned_instances: HashSet<String> = planned
        .iter()
        .filter(|p| p.record.kind == ResourceType::Ec2Instance)
        .map(|p| p.record.id.clone())
        .collect();
    for p in &mut planned {
        match p.record.kind {
            ResourceType::Vpc => p.note = notes.remove(&p.record.id),
            ResourceType::EbsVolume => {
                let kept: Vec<&str> = p
                    .record
                    .details
                    .get("instance_ids")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .filter(|i| !planned_instances.contains(*i))
                    .collect();
                if !kept.is_empty() {
                    p.note = Some(format!(
                        "attached to {}, which is not being deleted: AWS refuses to delete an attached volume",
                        kept.join(", ")
                    ));
                }
            }
            _ => {}
        }
    }

    Ok(TerminatePlan {
        layers: into_layers(planned),
        skipped,
        projects,
        options: opts,
    })
}

/// Groups by layer (empty layers dropped), each sorted by region, type and id.
pub(super) fn into_layers(planned: Vec<PlannedDelete>) -> Vec<Layer> {
    let mut by_layer: BTreeMap<usize, Vec<PlannedDelete>> = BTreeMap::new();
    for p in planned {
        by_layer.entry(layer_of(p.record.kind)).or_default().push(p);
    }
    by_layer
        .into_iter()
        .map(|(index, mut items)| {
            items.sort_by(|a, b| {
                (&a.record.region, a.record.kind, &a.record.id).cmp(&(
                    &b.record.region,
                    b.record.kind,
                    &b.record.id,
                ))
            });
            Layer { index, items }
        })
        .collect()
}

/// Everything inside a VPC that has to go before it.
async fn vpc_children(aws: &Aws, region: &str, vpc: &str) -> Result<Vec<ResourceRecord>, AwsError> {
    let lists = futures::future::join_all(
        VPC_CHILDREN.map(|kind| fetch(aws, region, kind, Query::InVpc(vpc.to_owned()))),
    )
    .await;
    let mut out = Vec::new();
    for l in lists {
        out.extend(l?);
    }
    Ok(out)
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

    fn safety(force: bool, project: Option<&str>, projects: &[&str]) -> Safety {
        Safety {
            force,
            project: project.map(str::to_owned),
            projects: projects.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    const MINE: [(&str, &str); 2] = [(PROJECT, "p1"), (MANAGED, "true")];

    #[test]
    fn managed_and_project_tags_decide_without_force() {
        let s = safety(false, Some("p1"), &["p1"]);
        assert!(s.check(&rec(ResourceType::Subnet, &MINE), true).is_ok());
        let other = rec(ResourceType::Subnet, &[(PROJECT, "p2"), (MANAGED, "true")]);
        assert_eq!(s.check(&other, true).unwrap_err().0, SkipKind::OtherProject);
        let untagged = rec(ResourceType::Subnet, &[]);
        assert_eq!(
            s.check(&untagged, true).unwrap_err().0,
            SkipKind::NotManaged
        );
        let unmanaged = rec(ResourceType::Subnet, &[(PROJECT, "p1")]);
        assert_eq!(
            s.check(&unmanaged, true).unwrap_err().0,
            SkipKind::NotManaged
        );
    }

    #[test]
    fn force_allows_untagged_but_never_protected_default_or_other_project() {
        let s = safety(true, Some("p1"), &["p1"]);
        assert!(s.check(&rec(ResourceType::Subnet, &[]), true).is_ok());
        let other = rec(ResourceType::Subnet, &[(PROJECT, "p2")]);
        assert_eq!(s.check(&other, true).unwrap_err().0, SkipKind::OtherProject);
        let prot = rec(ResourceType::Subnet, &[(PROJECT, "p1"), (PROTECT, "True")]);
        assert_eq!(s.check(&prot, true).unwrap_err().0, SkipKind::Protected);
        let mut default_vpc = rec(ResourceType::Vpc, &MINE);
        default_vpc.details = json!({ "is_default": true });
        let (kind, reason) = s.check(&default_vpc, true).unwrap_err();
        assert_eq!(kind, SkipKind::DefaultVpc);
        assert!(reason.contains("never deleted"), "{reason}");
        let shared = rec(ResourceType::Vpc, &[(VPC_ENV, "dev"), (MANAGED, "true")]);
        assert_eq!(s.check(&shared, true).unwrap_err().0, SkipKind::Shared);
    }

    #[test]
    fn without_a_project_children_of_other_projects_are_skipped() {
        // Explicit selection from a scan: whatever the user picked, if managed.
        let s = safety(false, None, &["p1"]);
        let p2 = rec(ResourceType::Subnet, &[(PROJECT, "p2"), (MANAGED, "true")]);
        assert!(s.check(&p2, true).is_ok());
        // Found inside p1's VPC: another project's subnet stays.
        let (kind, reason) = s.check(&p2, false).unwrap_err();
        assert_eq!(kind, SkipKind::OtherProject);
        assert!(reason.contains("'p2'"), "{reason}");
        assert!(s.check(&rec(ResourceType::Subnet, &MINE), false).is_ok());
        // Force does not take another project's child either.
        let forced = safety(true, None, &[]);
        assert!(forced.check(&p2, false).is_err());
        assert!(forced.check(&rec(ResourceType::Subnet, &[]), false).is_ok());
    }

    #[test]
    fn layers_follow_reverse_dependencies() {
        let kinds = [
            ResourceType::Vpc,
            ResourceType::Subnet,
            ResourceType::ElasticIp,
            ResourceType::Ec2Instance,
            ResourceType::NatGateway,
            ResourceType::InternetGateway,
            ResourceType::IamRole,
            ResourceType::IamInstanceProfile,
        ];
        let planned = kinds
            .iter()
            .map(|k| PlannedDelete {
                record: rec(*k, &MINE),
                found_in: None,
                note: None,
            })
            .collect();
        let layers = into_layers(planned);
        let pos = |k: ResourceType| {
            layers
                .iter()
                .position(|l| l.items.iter().any(|i| i.record.kind == k))
                .unwrap()
        };
        assert!(pos(ResourceType::Ec2Instance) < pos(ResourceType::NatGateway));
        assert!(pos(ResourceType::NatGateway) < pos(ResourceType::ElasticIp));
        assert!(pos(ResourceType::ElasticIp) < pos(ResourceType::InternetGateway));
        assert!(pos(ResourceType::Subnet) < pos(ResourceType::Vpc));
        assert!(pos(ResourceType::IamInstanceProfile) < pos(ResourceType::IamRole));
        assert_eq!(layers.len(), 5);
    }
}
