//! Projects as the daemon reports them: the one place that reads a project list or a project's
//! details out of an event. The list is read leniently: whatever fields an entry has are kept
//! and shown; only a slug (or a name to make one from) is needed.

use pockitect_proto::{Envelope, ResourceType};
use serde_json::Value;

use crate::resources::{ProjectResources, short_type};

#[derive(Clone, Debug, PartialEq)]
pub struct ProjectRow {
    pub slug: String,
    pub name: String,
    pub region: String,
    pub status: String,
    /// The entry as received, for the details view.
    pub raw: Value,
}

fn text(v: &Value, paths: &[&[&str]]) -> Option<String> {
    paths.iter().find_map(|path| {
        let mut cur = v;
        for p in *path {
            cur = cur.get(p)?;
        }
        match cur {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    })
}

/// The slug rules of the blueprint (lowercase, spaces and underscores to `-`, others dropped).
pub fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if (c == ' ' || c == '_' || c == '-') && !out.ends_with('-') {
            out.push('-');
        }
    }
    let s = out.trim_matches('-').to_owned();
    if s.is_empty() {
        "unnamed-project".to_owned()
    } else {
        s
    }
}

impl ProjectRow {
    pub fn from_value(v: &Value) -> Option<Self> {
        if let Value::String(s) = v {
            return Some(Self {
                slug: s.clone(),
                name: s.clone(),
                region: String::new(),
                status: String::new(),
                raw: v.clone(),
            });
        }
        if !v.is_object() {
            return None;
        }
        let name = text(v, &[&["name"], &["project", "name"], &["title"]]);
        let slug = text(v, &[&["slug"], &["project", "slug"], &["id"]])
            .or_else(|| name.as_deref().map(slugify))?;
        Some(Self {
            name: name.unwrap_or_else(|| slug.clone()),
            region: text(v, &[&["region"], &["project", "region"]]).unwrap_or_default(),
            status: text(v, &[&["status"], &["state"], &["project", "status"]]).unwrap_or_default(),
            slug,
            raw: v.clone(),
        })
    }
}

/// `data.projects` of a `projects` event (also accepts a bare array).
pub fn parse_projects(data: &Value) -> Vec<ProjectRow> {
    let list = data
        .get("projects")
        .and_then(Value::as_array)
        .or_else(|| data.as_array());
    let mut rows: Vec<ProjectRow> = list
        .into_iter()
        .flatten()
        .filter_map(ProjectRow::from_value)
        .collect();
    rows.sort_by(|a, b| a.slug.cmp(&b.slug));
    rows
}

/// `ec2 running · rds available · 7 more` for the Deployed column.
pub fn deployed_summary(p: Option<&ProjectResources>) -> String {
    let Some(p) = p.filter(|p| p.total > 0) else {
        return "nothing".to_owned();
    };
    let mut parts: Vec<String> = Vec::new();
    let mut shown = 0;
    for (kind, state) in &p.instance_states {
        parts.push(format!("{} {state}", short_type(*kind)));
        shown += 1;
    }
    for kind in [ResourceType::S3Bucket] {
        if let Some(n) = p.by_kind.get(&kind) {
            parts.push(short_type(kind).to_owned());
            shown += n;
        }
    }
    let rest = p.total.saturating_sub(shown);
    if rest > 0 {
        if parts.is_empty() {
            parts.push(format!("{rest} resources"));
        } else {
            parts.push(format!("{rest} more"));
        }
    }
    parts.join(" · ")
}

/// The lines of the details dialog for a `project` answer.
pub fn details_of(env: &Envelope) -> Vec<String> {
    let slug = env
        .data
        .pointer("/blueprint/project/slug")
        .and_then(Value::as_str)
        .or(env.project_id.as_deref())
        .unwrap_or("project");
    details_lines(slug, &env.data)
}

/// The lines of the details dialog when the daemon cannot be asked: the entry from the list.
pub fn offline_details(row: &ProjectRow) -> Vec<String> {
    let mut lines = vec![
        "Not connected to Redis: this is the entry from the last list.".to_owned(),
        String::new(),
    ];
    lines.extend(
        serde_json::to_string_pretty(&row.raw)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned),
    );
    lines
}

/// The lines of the details dialog: outputs first (what a user comes for), then the blueprint.
pub fn details_lines(slug: &str, data: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    let outputs = data.get("outputs").filter(|o| !o.is_null());
    lines.push("Outputs".to_owned());
    match outputs {
        Some(Value::Object(m)) if !m.is_empty() => {
            for (k, v) in m {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                lines.push(format!("  {k}: {v}"));
            }
        }
        Some(other) if !other.is_object() => lines.push(format!("  {other}")),
        _ => lines.push("  (none yet: deploy the project to get them)".to_owned()),
    }
    lines.push(String::new());
    lines.push(format!("Blueprint projects/{slug}.json"));
    let blueprint = data.get("blueprint").unwrap_or(data);
    let pretty = serde_json::to_string_pretty(blueprint).unwrap_or_default();
    lines.extend(pretty.lines().map(|l| format!("  {l}")));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lenient_rows() {
        let rows = parse_projects(&json!({"projects": [
            {"slug": "b", "name": "B", "region": "eu-west-1", "status": "deployed", "extra": 1},
            {"project": {"name": "Brenden's Blog", "region": "us-east-2"}},
            "plain",
            42
        ]}));
        let slugs: Vec<&str> = rows.iter().map(|r| r.slug.as_str()).collect();
        assert_eq!(slugs, ["b", "brendens-blog", "plain"]);
        assert_eq!(rows[1].region, "us-east-2");
        assert_eq!(rows[1].status, "");
    }

    #[test]
    fn slug_rules() {
        assert_eq!(slugify("Brenden's Blog"), "brendens-blog");
        assert_eq!(slugify("  a__b  c "), "a-b-c");
        assert_eq!(slugify("!!!"), "unnamed-project");
    }

    #[test]
    fn summary() {
        assert_eq!(deployed_summary(None), "nothing");
        let mut p = ProjectResources {
            total: 9,
            ..Default::default()
        };
        p.instance_states
            .push((ResourceType::Ec2Instance, "running".into()));
        p.by_kind.insert(ResourceType::S3Bucket, 1);
        assert_eq!(deployed_summary(Some(&p)), "ec2 running · s3 · 7 more");
    }

    #[test]
    fn details_show_outputs_then_blueprint() {
        let lines = details_lines(
            "blog",
            &json!({"blueprint": {"project": {"slug": "blog"}}, "outputs": {"public_ip": "1.2.3.4"}}),
        );
        assert_eq!(lines[0], "Outputs");
        assert_eq!(lines[1], "  public_ip: 1.2.3.4");
        assert!(lines.iter().any(|l| l.contains("\"slug\": \"blog\"")));
    }
}
