//! Planning: describe the targets, apply the safety rules, expand VPCs into their children,
//! order everything in layers. Read-only.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use futures::StreamExt;
use pockitect_proto::{ResourceRecord, ResourceType, TerminateTarget};
use serde_json::Value;

use super::{Layer, PlannedDelete, SkipKind, Skipped, TerminateOptions, TerminatePlan, layer_of};
use crate::lookup::{Key, Query, describe_targets, fetch, key_of};
use crate::ownership::{self, Origin, Ownership, Refusal};
use crate::{Aws, AwsError};

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

fn detail_true(r: &ResourceRecord, key: &str) -> bool {
    r.details.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// The terminate side of the ownership gate: which ownership a delete may take, as a skip kind
/// and reason when it may not.
#[derive(Clone, Debug, Default)]
pub(super) struct Safety {
    pub force: bool,
    pub project: Option<String>,
    /// The projects this terminate acts for.
    pub projects: BTreeSet<String>,
    /// What the project borrows (never deleted).
    pub borrowed: HashSet<Key>,
    /// For a destroy: what the project's own records name (`force` may add those when
    /// untagged). None: every target was named by the user (terminate).
    pub recorded: Option<HashSet<Key>>,
}

/// Where a record stands in a terminate: a target, or a child found inside a VPC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Found {
    Target,
    InVpc,
}

impl Safety {
    pub fn new(opts: &TerminateOptions, projects: BTreeSet<String>) -> Self {
        let keys = |ts: &[TerminateTarget]| ts.iter().map(|t| key_of(t.kind, &t.id)).collect();
        Self {
            force: opts.force,
            project: opts.project.clone(),
            projects,
            borrowed: keys(&opts.borrowed),
            recorded: opts.recorded.as_deref().map(keys),
        }
    }

    /// Delete or skip (with the reason shown to the user).
    pub fn check(&self, r: &ResourceRecord, found: Found) -> Result<(), (SkipKind, String)> {
        match r.kind {
            // They go with their VPC, whoever asks.
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
        let key = key_of(r.kind, &r.id);
        let default_vpc = r.kind == ResourceType::Vpc && detail_true(r, "is_default");
        let ownership = self.ownership(
            ownership::classify(r, self.project.as_deref(), self.borrowed.contains(&key)),
            &r.tags,
            found,
        );
        let origin = match (found, &self.recorded) {
            (Found::InVpc, _) => Origin::InVpc,
            (Found::Target, Some(recorded)) if !recorded.contains(&key) => Origin::Tagged,
            (Found::Target, _) => Origin::Named,
        };
        ownership::may_delete(&ownership, origin, self.force).map_err(|refusal| {
            let kind = match refusal.ownership {
                Ownership::Protected { .. } if default_vpc => SkipKind::DefaultVpc,
                Ownership::Protected { .. } => SkipKind::Protected,
                Ownership::Borrowed => SkipKind::Borrowed,
                Ownership::Shared { .. } => SkipKind::Shared,
                Ownership::Foreign { .. } => SkipKind::OtherProject,
                Ownership::Owned | Ownership::Unknown => SkipKind::NotManaged,
            };
            (kind, refusal.reason)
        })
    }

    /// The tag rules alone, for what has no record type (a VPC's leftover network interfaces,
    /// always found inside the VPC).
    pub fn check_tags(&self, tags: &BTreeMap<String, String>) -> Result<(), Refusal> {
        let ownership = self.ownership(
            ownership::classify_tags(tags, self.project.as_deref(), false, None),
            tags,
            Found::InVpc,
        );
        ownership::may_delete(&ownership, Origin::InVpc, self.force)
    }

    /// Without a project (resources picked from a scan), a child found inside a VPC is owned
    /// only when it is tagged for one of the projects the terminate acts for.
    fn ownership(
        &self,
        ownership: Ownership,
        tags: &BTreeMap<String, String>,
        found: Found,
    ) -> Ownership {
        if self.project.is_some() || found == Found::Target || ownership != Ownership::Owned {
            return ownership;
        }
        match ownership::tagged_project(tags) {
            Some(p) if self.projects.contains(p) => Ownership::Owned,
            Some(p) => Ownership::Foreign {
                project: p.to_owned(),
            },
            None => Ownership::Unknown,
        }
    }
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
        match safety.check(&r, Found::Target) {
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
            match safety.check(&c, Found::InVpc) {
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
    use crate::ownership::VPC_ENV;
    use pockitect_proto::tags::{MANAGED, PROJECT, PROTECT};
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
            ..Safety::default()
        }
    }

    const MINE: [(&str, &str); 2] = [(PROJECT, "p1"), (MANAGED, "true")];
    use Found::{InVpc, Target};

    #[test]
    fn managed_and_project_tags_decide_without_force() {
        let s = safety(false, Some("p1"), &["p1"]);
        assert!(s.check(&rec(ResourceType::Subnet, &MINE), Target).is_ok());
        let other = rec(ResourceType::Subnet, &[(PROJECT, "p2"), (MANAGED, "true")]);
        assert_eq!(
            s.check(&other, Target).unwrap_err().0,
            SkipKind::OtherProject
        );
        let untagged = rec(ResourceType::Subnet, &[]);
        assert_eq!(
            s.check(&untagged, Target).unwrap_err().0,
            SkipKind::NotManaged
        );
        let unmanaged = rec(ResourceType::Subnet, &[(PROJECT, "p1")]);
        assert_eq!(
            s.check(&unmanaged, Target).unwrap_err().0,
            SkipKind::NotManaged
        );
    }

    #[test]
    fn force_allows_untagged_but_never_protected_default_or_other_project() {
        let s = safety(true, Some("p1"), &["p1"]);
        assert!(s.check(&rec(ResourceType::Subnet, &[]), Target).is_ok());
        let other = rec(ResourceType::Subnet, &[(PROJECT, "p2")]);
        assert_eq!(
            s.check(&other, Target).unwrap_err().0,
            SkipKind::OtherProject
        );
        let prot = rec(ResourceType::Subnet, &[(PROJECT, "p1"), (PROTECT, "True")]);
        assert_eq!(s.check(&prot, Target).unwrap_err().0, SkipKind::Protected);
        let mut default_vpc = rec(ResourceType::Vpc, &MINE);
        default_vpc.details = json!({ "is_default": true });
        let (kind, reason) = s.check(&default_vpc, Target).unwrap_err();
        assert_eq!(kind, SkipKind::DefaultVpc);
        assert!(reason.contains("never deleted"), "{reason}");
        let shared = rec(ResourceType::Vpc, &[(VPC_ENV, "dev"), (MANAGED, "true")]);
        assert_eq!(s.check(&shared, Target).unwrap_err().0, SkipKind::Shared);
    }

    #[test]
    fn force_never_takes_borrowed_untagged_children_or_unrecorded_resources() {
        let borrowed_vpc = rec(ResourceType::Vpc, &[]);
        let mut s = safety(true, Some("p1"), &["p1"]);
        s.borrowed.insert(key_of(ResourceType::Vpc, "x-1"));
        assert_eq!(
            s.check(&borrowed_vpc, Target).unwrap_err().0,
            SkipKind::Borrowed
        );
        // An untagged instance found inside the project's VPC (someone's hand-made server).
        let (kind, reason) = s
            .check(&rec(ResourceType::Ec2Instance, &[]), InVpc)
            .unwrap_err();
        assert_eq!(kind, SkipKind::NotManaged);
        assert!(reason.contains("inside the VPC"), "{reason}");
        // A destroy: force adds an untagged resource only when the records name it.
        s.recorded = Some(HashSet::from([key_of(ResourceType::Subnet, "x-1")]));
        assert!(s.check(&rec(ResourceType::Subnet, &[]), Target).is_ok());
        assert!(
            s.check(&rec(ResourceType::RouteTable, &[(PROJECT, "p1")]), Target)
                .is_err()
        );
    }

    #[test]
    fn without_a_project_children_of_other_projects_are_skipped() {
        // Explicit selection from a scan: whatever the user picked, if managed.
        let s = safety(false, None, &["p1"]);
        let p2 = rec(ResourceType::Subnet, &[(PROJECT, "p2"), (MANAGED, "true")]);
        assert!(s.check(&p2, Target).is_ok());
        // Found inside p1's VPC: another project's subnet stays.
        let (kind, reason) = s.check(&p2, InVpc).unwrap_err();
        assert_eq!(kind, SkipKind::OtherProject);
        assert!(reason.contains("'p2'"), "{reason}");
        assert!(s.check(&rec(ResourceType::Subnet, &MINE), InVpc).is_ok());
        // Force takes neither another project's child nor an untagged one.
        let forced = safety(true, None, &[]);
        assert!(forced.check(&p2, InVpc).is_err());
        assert!(
            forced
                .check(&rec(ResourceType::Subnet, &[]), InVpc)
                .is_err()
        );
        // Listed explicitly with force, an untagged resource goes.
        assert!(
            forced
                .check(&rec(ResourceType::Subnet, &[]), Target)
                .is_ok()
        );
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
