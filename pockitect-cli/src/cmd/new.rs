//! `pockitect new`: a blueprint from a short wizard (defaults shown) or from flags alone
//! (`--yes` asks nothing). The file is validated before it is written, atomically.

use std::io::IsTerminal;
use std::path::PathBuf;

use pockitect_blueprint::{ProjectStore, WIZARD_DB_CLASSES, WIZARD_INSTANCE_TYPES, check, slugify};
use pockitect_proto::exit;
use serde_json::{Value, json};

use crate::Global;
use crate::follow::CliError;

const IMAGES: [&str; 5] = [
    "amazon-linux-2023",
    "ubuntu-24.04",
    "ubuntu-22.04",
    "debian-12",
    "windows-2022",
];
const ENGINES: [&str; 4] = ["none", "postgres", "mysql", "mariadb"];

/// The instance types and DB classes the wizard offers first (those the region offers), then
/// "other…". They live in the blueprint crate so the bundled price table is tested against them.
const COMMON_TYPES: &[&str] = WIZARD_INSTANCE_TYPES;
const COMMON_DB_CLASSES: &[&str] = WIZARD_DB_CLASSES;
const OTHER: &str = "other…";

/// The common choices `offered` contains (all of them when nothing is known), then "other…".
fn offered_choices<'a>(common: &[&'a str], offered: Option<&[String]>) -> Vec<&'a str> {
    let mut v: Vec<&str> = common
        .iter()
        .copied()
        .filter(|t| offered.is_none_or(|o| o.iter().any(|x| x == t)))
        .collect();
    v.push(OTHER);
    v
}

/// A choice among what the region offers; "other…" asks for text.
fn choose_offered(
    interactive: bool,
    prompt: &str,
    given: Option<String>,
    common: &[&str],
    offered: Option<&[String]>,
) -> Result<String, CliError> {
    if given.is_some() || !interactive {
        let default = offered_choices(common, offered)[0];
        let default = if default == OTHER { common[0] } else { default };
        return ask(false, prompt, given, default);
    }
    let items = offered_choices(common, offered);
    let picked = choose(true, prompt, None, &items)?;
    if picked == OTHER {
        ask(true, prompt, None, common[0])
    } else {
        Ok(picked)
    }
}

#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// Project name (the slug is derived from it).
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub region: Option<String>,
    #[arg(long)]
    pub instance_type: Option<String>,
    /// An alias (amazon-linux-2023, ubuntu-24.04, …) or an ami-… id.
    #[arg(long)]
    pub image: Option<String>,
    /// default, new, or existing (with --vpc-id).
    #[arg(long)]
    pub vpc_mode: Option<String>,
    #[arg(long)]
    pub vpc_id: Option<String>,
    /// Inbound TCP ports open to the world (repeat or comma-separate).
    #[arg(long = "port", value_delimiter = ',')]
    pub ports: Vec<u16>,
    /// none, postgres, mysql or mariadb.
    #[arg(long)]
    pub db: Option<String>,
    /// DB instance class (default db.t3.micro, or the first small class the region offers).
    #[arg(long)]
    pub db_class: Option<String>,
    /// Do not ask a daemon what the region offers; check answers for shape only.
    #[arg(long)]
    pub offline: bool,
    /// S3 bucket name ('none' for no bucket).
    #[arg(long)]
    pub bucket: Option<String>,
    /// No SSH key pair.
    #[arg(long)]
    pub no_key_pair: bool,
    /// No IAM role for the instance.
    #[arg(long)]
    pub no_iam: bool,
    /// Where to write the blueprint.
    #[arg(long, env = "POCKITECT_PROJECTS_DIR", default_value = "projects")]
    pub projects_dir: PathBuf,
    /// Ask nothing: take the flags and the defaults.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Replace an existing blueprint of the same slug.
    #[arg(long)]
    pub force: bool,
}

fn ask(
    interactive: bool,
    prompt: &str,
    given: Option<String>,
    default: &str,
) -> Result<String, CliError> {
    if let Some(v) = given {
        return Ok(v);
    }
    if !interactive {
        return Ok(default.to_owned());
    }
    dialoguer::Input::new()
        .with_prompt(prompt)
        .default(default.to_owned())
        .interact_text()
        .map_err(|e| CliError::Io(e.to_string()))
}

fn choose(
    interactive: bool,
    prompt: &str,
    given: Option<String>,
    items: &[&str],
) -> Result<String, CliError> {
    if let Some(v) = given {
        return Ok(v);
    }
    if !interactive {
        return Ok(items[0].to_owned());
    }
    let i = dialoguer::Select::new()
        .with_prompt(prompt)
        .items(items)
        .default(0)
        .interact()
        .map_err(|e| CliError::Io(e.to_string()))?;
    Ok(items[i].to_owned())
}

pub async fn run(g: &Global, a: NewArgs) -> Result<i32, CliError> {
    let interactive = !a.yes && std::io::stdin().is_terminal();
    if !interactive && a.name.is_none() {
        return Err(CliError::Usage(
            "give --name (and any other answers as flags) when not on a terminal".into(),
        ));
    }
    let name = ask(interactive, "Project name", a.name.clone(), "my-project")?;
    let slug = slugify(&name);
    let region = ask(interactive, "Region", a.region.clone(), "us-east-1")?;
    // What the region offers, when a daemon can say; the choices and the checks follow it.
    let offer = if a.offline {
        None
    } else {
        match super::catalog::fetch(g, &region).await {
            Ok(o) => {
                eprintln!("choices and checks follow what {region} offers (daemon catalog)");
                Some(o)
            }
            Err(why) => {
                eprintln!("checking answers offline: {why}");
                None
            }
        }
    };
    let offered_types = offer
        .as_ref()
        .map(|o| o.instance_types.as_slice())
        .filter(|t| !t.is_empty());
    let instance_type = choose_offered(
        interactive,
        "Instance type",
        a.instance_type.clone(),
        COMMON_TYPES,
        offered_types,
    )?;
    let image = choose(interactive, "Image", a.image.clone(), &IMAGES)?;
    let vpc_mode = choose(
        interactive,
        "Network",
        a.vpc_mode.clone(),
        &["new", "default", "existing"],
    )?;
    let vpc_id = if vpc_mode == "existing" {
        Some(ask(interactive, "VPC id", a.vpc_id.clone(), "vpc-")?)
    } else {
        None
    };
    let ports: Vec<u16> = if !a.ports.is_empty() || !interactive {
        if a.ports.is_empty() {
            vec![443]
        } else {
            a.ports.clone()
        }
    } else {
        let raw = ask(true, "Inbound TCP ports (comma-separated)", None, "22,443")?;
        raw.split(',')
            .map(|p| {
                p.trim()
                    .parse::<u16>()
                    .map_err(|_| CliError::Usage(format!("'{p}' is not a port (0-65535)")))
            })
            .collect::<Result<_, _>>()?
    };
    let db = choose(interactive, "Database", a.db.clone(), &ENGINES)?;
    let db_class = if db == "none" {
        String::new()
    } else {
        let offered = offer
            .as_ref()
            .and_then(|o| o.db_classes.get(&db))
            .map(Vec::as_slice)
            .filter(|c| !c.is_empty());
        choose_offered(
            interactive,
            "Database instance class",
            a.db_class.clone(),
            COMMON_DB_CLASSES,
            offered,
        )?
    };
    let bucket = ask(
        interactive,
        "S3 bucket ('none' for no bucket)",
        a.bucket.clone(),
        &format!("{slug}-assets"),
    )?;
    let rules: Vec<Value> = ports
        .iter()
        .map(|p| json!({"port": p, "protocol": "tcp", "cidr": "0.0.0.0/0", "description": format!("port {p}")}))
        .collect();
    let doc = json!({
        "project": { "name": name, "slug": slug, "region": region, "description": "", "owner": "",
                     "created_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true), "tags": {} },
        "network": { "vpc_mode": vpc_mode, "vpc_id": vpc_id, "vpc_cidr": "10.0.0.0/16", "subnet_type": "public", "rules": rules, "status": "pending" },
        "compute": { "instance_type": instance_type, "image_id": image, "user_data": "", "status": "pending" },
        "data": {
            "db": if db == "none" { Value::Null } else {
                json!({ "engine": db, "instance_class": db_class, "allocated_storage_gb": 20, "username": "app", "status": "pending" })
            },
            "s3_bucket": if bucket == "none" { Value::Null } else { json!({ "name": bucket, "status": "pending" }) },
        },
        "security": {
            "key_pair": if a.no_key_pair { json!({"mode": "none", "status": "skipped"}) } else { json!({"mode": "generate", "name": format!("{slug}-key"), "status": "pending"}) },
            "certificate": { "mode": "skip", "status": "skipped" },
            "iam_role": { "enabled": !a.no_iam, "role_name": format!("pockitect-{slug}-role"), "policy_document": {}, "status": if a.no_iam { "skipped" } else { "pending" } },
        }
    });
    let bp = pockitect_blueprint::from_value(doc).map_err(|e| CliError::Invalid(e.to_string()))?;
    let checked = check(bp)
        .and_then(|c| match &offer {
            Some(o) => c.against(&super::catalog::context(o)),
            None => Ok(c),
        })
        .map_err(|r| CliError::Invalid(format!("the answers make an invalid blueprint: {r}")))?;
    for w in checked.warnings() {
        eprintln!("warning: {w}");
    }
    let bp = checked.into_blueprint();
    let store = ProjectStore::new(&a.projects_dir);
    if store.exists(&slug) && !a.force {
        return Err(CliError::Usage(format!(
            "'{}' already exists: pass --force to replace it, or choose another name",
            a.projects_dir.join(format!("{slug}.json")).display()
        )));
    }
    let path = store.save(&bp).map_err(|e| CliError::Io(e.to_string()))?;
    if g.json {
        out!("{}", json!({"project": slug, "path": path}));
    } else {
        out!("wrote {}", path.display());
        eprintln!("next: 'pockitect plan {slug}' then 'pockitect deploy {slug}'");
    }
    Ok(exit::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_keep_only_what_the_region_offers_then_other() {
        let offered = vec!["t3.small".to_owned(), "m7i.large".to_owned()];
        assert_eq!(
            offered_choices(COMMON_TYPES, Some(&offered)),
            vec!["t3.small", "m7i.large", OTHER]
        );
        assert_eq!(
            offered_choices(COMMON_TYPES, None).len(),
            COMMON_TYPES.len() + 1
        );
        // Without a terminal the default is the first offered choice.
        let picked =
            choose_offered(false, "Instance type", None, COMMON_TYPES, Some(&offered)).unwrap();
        assert_eq!(picked, "t3.small");
        let given = choose_offered(false, "x", Some("c7i.large".into()), COMMON_TYPES, None);
        assert_eq!(given.unwrap(), "c7i.large");
    }
}
