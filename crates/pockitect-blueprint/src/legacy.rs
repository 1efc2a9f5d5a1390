//! Reading blueprints written by the earlier Python Pockitect.
//!
//! Those files load without edits. Most differences are absorbed by the model itself (optional
//! fields, `null` sections, `db: {"status": "skipped"}`, `iam_role.enabled` defaulting to true,
//! key modes `existing`/`none`, unknown fields kept). The rest is rewritten here, on the JSON
//! value before it is typed, and each rewrite is reported as a [`LegacyNote`] so a client can
//! tell the user what changed when the file is saved again:
//!
//! - no `project.slug`: derived from the file name in a project store, else from the name;
//! - `network.vpc_env` without `vpc_mode`: `vpc_mode: "shared"` (a Pockitect-managed VPC per
//!   environment); neither: `vpc_mode: "default"`;
//! - `compute.ami_id`: moved to `compute.image_id`;
//! - `compute.image_id: null` with `compute.image_name` naming a known image (`"Ubuntu 22.04"`):
//!   that image, which is what the earlier tool launched;
//! - `security.certificate.mode: "acm"`: `"request"`.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::IMAGE_ALIASES;
use crate::slug::{is_valid_slug, slugify};

/// One rewrite applied while reading a legacy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyNote {
    /// JSON path of the rewritten field (`network.vpc_mode`).
    pub path: String,
    /// What was done.
    pub message: String,
}

impl fmt::Display for LegacyNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Rewrites the legacy parts of a blueprint document in place and says what it did. A document
/// already in the canonical shape comes back unchanged with no notes. `store_slug` is the slug a
/// project store knows the file by (its file name), used when the file records none.
pub fn upgrade(doc: &mut Value, store_slug: Option<&str>) -> Vec<LegacyNote> {
    let mut notes = Vec::new();
    let Some(root) = doc.as_object_mut() else {
        return notes;
    };
    upgrade_project(root, store_slug, &mut notes);
    upgrade_network(root, &mut notes);
    upgrade_compute(root, &mut notes);
    upgrade_certificate(root, &mut notes);
    notes
}

fn note(notes: &mut Vec<LegacyNote>, path: &str, message: String) {
    notes.push(LegacyNote {
        path: path.to_owned(),
        message,
    });
}

fn is_blank(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(_) => false,
    }
}

fn upgrade_project(
    root: &mut Map<String, Value>,
    store_slug: Option<&str>,
    notes: &mut Vec<LegacyNote>,
) {
    let Some(project) = root.get_mut("project").and_then(Value::as_object_mut) else {
        return;
    };
    if !is_blank(project.get("slug")) {
        return;
    }
    let (slug, from) = match store_slug.filter(|s| is_valid_slug(s)) {
        Some(s) => (s.to_owned(), "the file name".to_owned()),
        None => {
            let name = project
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            (slugify(name), format!("project.name '{name}'"))
        }
    };
    note(
        notes,
        "project.slug",
        format!("set to '{slug}', derived from {from}"),
    );
    project.insert("slug".to_owned(), Value::String(slug));
}

fn upgrade_network(root: &mut Map<String, Value>, notes: &mut Vec<LegacyNote>) {
    let Some(network) = root.get_mut("network").and_then(Value::as_object_mut) else {
        return;
    };
    if !is_blank(network.get("vpc_mode")) {
        return;
    }
    let env = network
        .get("vpc_env")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let (mode, message) = match env {
        Some(env) => (
            "shared",
            format!(
                "set to 'shared' from legacy vpc_env '{env}' (a Pockitect-managed VPC per environment)"
            ),
        ),
        None => (
            "default",
            "absent; using the region's default VPC".to_owned(),
        ),
    };
    note(notes, "network.vpc_mode", message);
    network.insert("vpc_mode".to_owned(), Value::String(mode.to_owned()));
}

fn upgrade_compute(root: &mut Map<String, Value>, notes: &mut Vec<LegacyNote>) {
    let Some(compute) = root.get_mut("compute").and_then(Value::as_object_mut) else {
        return;
    };
    // ami_id is the earlier name of image_id.
    if let Some(ami) = compute.get("ami_id").cloned() {
        let image = compute.get("image_id");
        if is_blank(image) {
            compute.remove("ami_id");
            if !is_blank(Some(&ami)) {
                let shown = ami.as_str().map_or_else(|| ami.to_string(), str::to_owned);
                note(
                    notes,
                    "compute.image_id",
                    format!("set to '{shown}' from legacy ami_id"),
                );
                compute.insert("image_id".to_owned(), ami);
            }
        } else if image == Some(&ami) || is_blank(Some(&ami)) {
            compute.remove("ami_id");
        }
        // Both set and different: ami_id stays as an unknown field and validation warns.
    }
    // The earlier tool launched image_name (its default 'ubuntu-22.04') when image_id was null.
    if is_blank(compute.get("image_id"))
        && let Some(alias) = compute
            .get("image_name")
            .and_then(Value::as_str)
            .and_then(image_alias_from_name)
    {
        note(
            notes,
            "compute.image_id",
            format!(
                "set to '{alias}' from legacy image_name (the image the earlier tool launched)"
            ),
        );
        compute.insert("image_id".to_owned(), Value::String(alias.to_owned()));
    }
}

/// `"Ubuntu 22.04"` → `"ubuntu-22.04"` when that is a known alias.
fn image_alias_from_name(name: &str) -> Option<&'static str> {
    let normalized: String = name
        .trim()
        .to_lowercase()
        .split(|c: char| c.is_whitespace() || c == '_')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    IMAGE_ALIASES.iter().copied().find(|a| *a == normalized)
}

fn upgrade_certificate(root: &mut Map<String, Value>, notes: &mut Vec<LegacyNote>) {
    let Some(cert) = root
        .get_mut("security")
        .and_then(Value::as_object_mut)
        .and_then(|s| s.get_mut("certificate"))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let is_acm = cert
        .get("mode")
        .and_then(Value::as_str)
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("acm"));
    if is_acm {
        note(
            notes,
            "security.certificate.mode",
            "set to 'request' from legacy 'acm'".to_owned(),
        );
        cert.insert("mode".to_owned(), Value::String("request".to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_documents_are_untouched() {
        let mut doc = json!({
            "project": {"name": "x", "slug": "x"},
            "network": {"vpc_mode": "new"},
            "compute": {"image_id": "ubuntu-24.04"},
            "security": {"certificate": {"mode": "request"}}
        });
        let before = doc.clone();
        assert!(upgrade(&mut doc, None).is_empty());
        assert_eq!(doc, before);
    }

    #[test]
    fn legacy_fields_are_rewritten_with_notes() {
        let mut doc = json!({
            "project": {"name": "Brenden's Blog"},
            "network": {"vpc_env": "prod"},
            "compute": {"ami_id": "ami-0230bd60aa48260c6", "image_id": null},
            "security": {"certificate": {"mode": "acm", "domain": "example.com"}}
        });
        let notes = upgrade(&mut doc, None);
        assert_eq!(doc["project"]["slug"], "brendens-blog");
        assert_eq!(doc["network"]["vpc_mode"], "shared");
        assert_eq!(doc["network"]["vpc_env"], "prod");
        assert_eq!(doc["compute"]["image_id"], "ami-0230bd60aa48260c6");
        assert!(doc["compute"].get("ami_id").is_none());
        assert_eq!(doc["security"]["certificate"]["mode"], "request");
        let paths: Vec<_> = notes.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "project.slug",
                "network.vpc_mode",
                "compute.image_id",
                "security.certificate.mode"
            ]
        );
    }

    #[test]
    fn store_slug_wins_over_the_name_when_valid() {
        let mut doc = json!({"project": {"name": "Simple Blog"}});
        upgrade(&mut doc, Some("my-blog"));
        assert_eq!(doc["project"]["slug"], "my-blog");
        let mut doc = json!({"project": {"name": "Simple Blog"}});
        upgrade(&mut doc, Some("Not A Slug"));
        assert_eq!(doc["project"]["slug"], "simple-blog");
    }

    #[test]
    fn image_name_fills_a_null_image_id() {
        let mut doc = json!({"compute": {"image_id": null, "image_name": "Ubuntu 22.04"}});
        upgrade(&mut doc, None);
        assert_eq!(doc["compute"]["image_id"], "ubuntu-22.04");
        let mut doc = json!({"compute": {"image_id": null, "image_name": "My Custom Image"}});
        upgrade(&mut doc, None);
        assert_eq!(doc["compute"]["image_id"], Value::Null);
    }

    #[test]
    fn conflicting_ami_id_is_left_for_validation() {
        let mut doc = json!({"compute": {"ami_id": "ami-11111111", "image_id": "ubuntu-22.04"}});
        upgrade(&mut doc, None);
        assert_eq!(doc["compute"]["ami_id"], "ami-11111111");
        assert_eq!(doc["compute"]["image_id"], "ubuntu-22.04");
    }
}
