use pockitect_bus::Bus;
use pockitect_proto::{Command, ResourceFilter, ResourceRecord, ResourceType, Status};

use crate::follow::{CliError, exit_code_of, send_and_follow};
use crate::{Global, output};

#[derive(Debug, clap::Args)]
pub struct ResourcesArgs {
    /// AWS account id (when the daemon works on several accounts).
    #[arg(long)]
    pub account: Option<String>,
    #[arg(long)]
    pub region: Option<String>,
    /// Resource type (ec2_instance, vpc, subnet, security_group, s3_bucket, …).
    #[arg(long = "type")]
    pub kind: Option<ResourceType>,
    /// Project slug (from the pockitect:project tag).
    #[arg(long)]
    pub project: Option<String>,
    #[arg(long)]
    pub state: Option<String>,
    /// KEY or KEY=VALUE.
    #[arg(long)]
    pub tag: Option<String>,
    /// Free-text search in ids, names, tags, …
    #[arg(long)]
    pub search: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct FindArgs {
    pub text: String,
    /// Only in this AWS account id.
    #[arg(long)]
    pub account: Option<String>,
}

pub async fn run(g: &Global, bus: &Bus, a: ResourcesArgs) -> Result<i32, CliError> {
    let filter = ResourceFilter {
        account: a.account,
        region: a.region,
        kind: a.kind,
        project: a.project,
        state: a.state,
        tag: a.tag,
        search: a.search,
    };
    query(g, bus, filter).await
}

pub async fn find(g: &Global, bus: &Bus, a: FindArgs) -> Result<i32, CliError> {
    query(
        g,
        bus,
        ResourceFilter {
            search: Some(a.text),
            account: a.account,
            ..Default::default()
        },
    )
    .await
}

async fn query(g: &Global, bus: &Bus, filter: ResourceFilter) -> Result<i32, CliError> {
    let terminal = send_and_follow(g, bus, &Command::QueryResources(filter), |_| {}).await?;
    if terminal.status != Some(Status::Success) {
        eprintln!("error: {}", terminal.message().unwrap_or("query failed"));
        return Ok(exit_code_of(&terminal));
    }
    let records: Vec<ResourceRecord> = terminal
        .data
        .get("records")
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| CliError::Io(format!("read the daemon's answer: {e}")))?
        .unwrap_or_default();
    if g.json {
        out!(
            "{}",
            serde_json::to_string(&records).unwrap_or_else(|_| "[]".into())
        );
        return Ok(0);
    }
    if records.is_empty() {
        eprintln!(
            "no resources match (run 'pockitect scan' first if the estate was never scanned)"
        );
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            vec![
                r.kind.to_string(),
                r.id.clone(),
                r.region.clone(),
                r.name.clone().unwrap_or_default(),
                r.state.clone().unwrap_or_default(),
                r.project.clone().unwrap_or_default(),
            ]
        })
        .collect();
    output::table(&["type", "id", "region", "name", "state", "project"], &rows);
    eprintln!("{} resources", records.len());
    Ok(0)
}
