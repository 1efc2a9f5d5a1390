use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{ErrorCode, HistoryArgs, RequestId, ResourceFilter, ResourceType};

/// A command as the daemon understands it, parsed from an [`crate::Envelope`]'s `type` and
/// `data`. Serialised back with [`Command::kind`] and [`Command::data`].
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Scan(ScanArgs),
    QueryResources(ResourceFilter),
    ListProjects(Empty),
    GetProject(ProjectRef),
    GetRequest(RequestRef),
    DaemonInfo(Empty),
    Cancel(RequestRef),
    Ping(PingArgs),
    Plan(BlueprintRef),
    Deploy(DeployArgs),
    Power(PowerArgs),
    Terminate(TerminateArgs),
    Destroy(DestroyArgs),
    Refresh(RefreshArgs),
    Catalog(CatalogArgs),
    History(HistoryArgs),
    Waste(WasteArgs),
    Cost(CostArgs),
    DbPassword(DbPasswordArgs),
    ScanShard(ScanShardArgs),
    Login(LoginArgs),
    Logout(LogoutArgs),
}

/// `scan_shard`: one (account, region) of a `scan`, put on the command stream by the daemon
/// running the scan so that every daemon of the group shares the work. Its terminal event is
/// the shard's `scan_chunk`; the scan's own request gathers them and ends once. Clients never
/// send it (a daemon acts only in accounts of its own `--accounts`, so one sent by hand can do
/// no more than scan).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanShardArgs {
    /// The `scan` request this shard belongs to.
    pub parent: RequestId,
    /// The 12-digit account to scan (one of the daemon's `--accounts`); the credentials' own
    /// account when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// A region code, or `global` for the account-wide services (S3, IAM).
    pub region: String,
    /// The resource types to list there.
    pub types: Vec<ResourceType>,
}

/// `login`: check the credentials `pockitect login` left *pending* in the secret store of the
/// asking user (the OS keyring, else a 0600 file) with STS, and make them the daemon's; or,
/// with `profile`, check and record that profile. Nothing secret travels on the bus: not the
/// keys, not the MFA code (it is in the pending entry too). The store is the one of the user
/// the daemon runs as on its host, so the daemon refuses a `host` other than its own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginArgs {
    /// The host name of the asking client.
    pub host: String,
    /// A profile of the shared AWS config files to use instead of stored keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// `logout`: remove the stored credentials (and a recorded profile); the daemon goes back to
/// the standard AWS chain. Refused from another host, as `login` is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogoutArgs {
    pub host: String,
}

/// `db_password`: write the master password of `project`'s database, when RDS keeps it in
/// Secrets Manager, to a new file of mode 0600 in `dir`, and answer with the file's path. The
/// password itself never travels on the bus (anyone who can read Redis would have it).
///
/// Trust model: the file is only useful to its reader when the daemon runs on the client's
/// host as the client's OS user. So the client names its `host` and a `dir` of its own, mode
/// 0700 (the CLI makes a fresh one per request); the daemon refuses a `host` other than its own
/// and a `dir` that is not a 0700 directory owned by the user it runs as. A sender who can
/// write the command stream can make the daemon write the password only where the daemon's own
/// user alone can read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DbPasswordArgs {
    pub project: String,
    /// The host name of the asking client (what `hostname` prints there).
    pub host: String,
    /// An absolute path: a directory of mode 0700 owned by the asking user.
    pub dir: String,
}

/// `cost`: what the account actually paid per project (Cost Explorer), month to date and last
/// month, against each project's estimate and budget. One project when given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostArgs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

/// `waste`: what the last scan shows paid for and idle, priced (no AWS call: it reads the
/// daemon's estate). Every region and project unless narrowed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WasteArgs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

/// `catalog`: what `region` offers (enabled regions, instance types, DB classes per engine,
/// account attributes), from the daemon's cache when fresh.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogArgs {
    pub region: String,
}

/// `scan`: every enabled region unless `regions` is given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanArgs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<String>>,
    /// Limit the scan to these resource types (all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub types: Option<Vec<ResourceType>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectRef {
    pub project: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestRef {
    pub request_id: RequestId,
}

/// `ping`: answers `pong`, after `delay_ms` (at most 10 minutes) when given. Used by `doctor`
/// and to check that a pool takes and finishes commands.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PingArgs {
    #[serde(default)]
    pub delay_ms: u64,
}

/// A project named by slug (in the daemon's project store) or a blueprint sent inline.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlueprintRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blueprint: Option<Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "DeployWire")]
pub struct DeployArgs {
    #[serde(flatten)]
    pub target: BlueprintRef,
    #[serde(default)]
    pub rollback_on_failure: bool,
    /// Deploy even when the estimate exceeds the blueprint's `project.budget_usd_month` (the
    /// events say so).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub over_budget: bool,
}

/// [`DeployArgs`] as read off the wire: the same fields, side by side. Read through a
/// `flatten`, a wrong field was reported at `data` rather than at its own path, and unknown
/// fields went unnoticed (serde cannot deny them through a flatten).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeployWire {
    #[serde(default)]
    project: Option<String>,
    #[serde(default)]
    blueprint: Option<Value>,
    #[serde(default)]
    rollback_on_failure: bool,
    #[serde(default)]
    over_budget: bool,
}

impl From<DeployWire> for DeployArgs {
    fn from(w: DeployWire) -> Self {
        Self {
            target: BlueprintRef {
                project: w.project,
                blueprint: w.blueprint,
            },
            rollback_on_failure: w.rollback_on_failure,
            over_budget: w.over_budget,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PowerAction {
    Start,
    Stop,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerArgs {
    pub project: String,
    pub action: PowerAction,
    /// Show what would be started or stopped (and the plan's digest), and stop.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// One resource to delete, addressed as the scanner reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminateTarget {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ResourceType,
    pub region: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminateArgs {
    pub targets: Vec<TerminateTarget>,
    /// Delete also what is not tagged as managed by Pockitect.
    #[serde(default)]
    pub force: bool,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub final_snapshot: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestroyArgs {
    pub project: String,
    #[serde(default)]
    pub force: bool,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub final_snapshot: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshArgs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

/// Why a command envelope could not be turned into a [`Command`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CommandError {
    #[error("read command: type: no command is named '{0}'; use one of {list}", list = Command::NAMES.join(", "))]
    Unknown(String),
    #[error("read command '{kind}': {}: {message}", data_path(.path))]
    InvalidArguments {
        kind: String,
        path: String,
        message: String,
    },
}

impl CommandError {
    pub fn code(&self) -> ErrorCode {
        match self {
            CommandError::Unknown(_) => ErrorCode::UnknownCommand,
            CommandError::InvalidArguments { .. } => ErrorCode::InvalidArguments,
        }
    }
}

/// Where in the envelope an argument error is: `data` itself, or `data.<path>` inside it.
pub(crate) fn data_path(path: &str) -> String {
    if path.is_empty() {
        "data".to_owned()
    } else {
        format!("data.{path}")
    }
}

fn parse_data<T: DeserializeOwned>(kind: &str, data: &Value) -> Result<T, CommandError> {
    // The earlier client sends no `data` for argument-less commands.
    let data = if data.is_null() {
        Value::Object(Default::default())
    } else {
        data.clone()
    };
    serde_path_to_error::deserialize(data).map_err(|e| {
        let path = e.path().to_string();
        CommandError::InvalidArguments {
            kind: kind.to_owned(),
            path: if path == "." { String::new() } else { path },
            message: e.into_inner().to_string(),
        }
    })
}

impl Command {
    /// Every command type accepted on the bus (without legacy aliases).
    pub const NAMES: [&'static str; 22] = [
        "scan",
        "query_resources",
        "list_projects",
        "get_project",
        "get_request",
        "daemon_info",
        "cancel",
        "ping",
        "plan",
        "deploy",
        "power",
        "terminate",
        "destroy",
        "refresh",
        "catalog",
        "history",
        "waste",
        "cost",
        "db_password",
        "scan_shard",
        "login",
        "logout",
    ];

    /// Parses `type` and `data`. Accepts the earlier client's names (`scan_all_regions`).
    pub fn parse(kind: &str, data: &Value) -> Result<Self, CommandError> {
        Ok(match kind {
            "scan" | "scan_all_regions" => Command::Scan(parse_data(kind, data)?),
            "query_resources" => Command::QueryResources(parse_data(kind, data)?),
            "list_projects" => Command::ListProjects(parse_data(kind, data)?),
            "get_project" => Command::GetProject(parse_data(kind, data)?),
            "get_request" => Command::GetRequest(parse_data(kind, data)?),
            "daemon_info" => Command::DaemonInfo(parse_data(kind, data)?),
            "cancel" => Command::Cancel(parse_data(kind, data)?),
            "ping" => Command::Ping(parse_data(kind, data)?),
            "plan" => Command::Plan(parse_data(kind, data)?),
            "deploy" => Command::Deploy(parse_data(kind, data)?),
            "power" => Command::Power(parse_data(kind, data)?),
            "terminate" => Command::Terminate(parse_data(kind, data)?),
            "destroy" => Command::Destroy(parse_data(kind, data)?),
            "refresh" => Command::Refresh(parse_data(kind, data)?),
            "catalog" => Command::Catalog(parse_data(kind, data)?),
            "history" => Command::History(parse_data(kind, data)?),
            "waste" => Command::Waste(parse_data(kind, data)?),
            "cost" => Command::Cost(parse_data(kind, data)?),
            "db_password" => Command::DbPassword(parse_data(kind, data)?),
            "scan_shard" => Command::ScanShard(parse_data(kind, data)?),
            "login" => Command::Login(parse_data(kind, data)?),
            "logout" => Command::Logout(parse_data(kind, data)?),
            other => return Err(CommandError::Unknown(other.chars().take(64).collect())),
        })
    }

    /// The envelope `type` of this command.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::Scan(_) => "scan",
            Command::QueryResources(_) => "query_resources",
            Command::ListProjects(_) => "list_projects",
            Command::GetProject(_) => "get_project",
            Command::GetRequest(_) => "get_request",
            Command::DaemonInfo(_) => "daemon_info",
            Command::Cancel(_) => "cancel",
            Command::Ping(_) => "ping",
            Command::Plan(_) => "plan",
            Command::Deploy(_) => "deploy",
            Command::Power(_) => "power",
            Command::Terminate(_) => "terminate",
            Command::Destroy(_) => "destroy",
            Command::Refresh(_) => "refresh",
            Command::Catalog(_) => "catalog",
            Command::History(_) => "history",
            Command::Waste(_) => "waste",
            Command::Cost(_) => "cost",
            Command::DbPassword(_) => "db_password",
            Command::ScanShard(_) => "scan_shard",
            Command::Login(_) => "login",
            Command::Logout(_) => "logout",
        }
    }

    /// The envelope `data` of this command.
    pub fn data(&self) -> Value {
        let v = match self {
            Command::Scan(a) => serde_json::to_value(a),
            Command::QueryResources(a) => serde_json::to_value(a),
            Command::ListProjects(a) | Command::DaemonInfo(a) => serde_json::to_value(a),
            Command::GetProject(a) => serde_json::to_value(a),
            Command::GetRequest(a) | Command::Cancel(a) => serde_json::to_value(a),
            Command::Ping(a) => serde_json::to_value(a),
            Command::Plan(a) => serde_json::to_value(a),
            Command::Deploy(a) => serde_json::to_value(a),
            Command::Power(a) => serde_json::to_value(a),
            Command::Terminate(a) => serde_json::to_value(a),
            Command::Destroy(a) => serde_json::to_value(a),
            Command::Refresh(a) => serde_json::to_value(a),
            Command::Catalog(a) => serde_json::to_value(a),
            Command::History(a) => serde_json::to_value(a),
            Command::Waste(a) => serde_json::to_value(a),
            Command::Cost(a) => serde_json::to_value(a),
            Command::DbPassword(a) => serde_json::to_value(a),
            Command::ScanShard(a) => serde_json::to_value(a),
            Command::Login(a) => serde_json::to_value(a),
            Command::Logout(a) => serde_json::to_value(a),
        };
        // Plain data structs always serialise.
        v.unwrap_or(Value::Null)
    }

    /// The project this command works on, which is locked while it runs.
    pub fn project(&self) -> Option<&str> {
        match self {
            Command::Deploy(a) => a.target.project.as_deref(),
            Command::Plan(_) => None,
            Command::Power(a) => Some(&a.project),
            Command::Destroy(a) => Some(&a.project),
            Command::Refresh(a) => a.project.as_deref(),
            _ => None,
        }
    }

    /// Commands that only read the daemon's state (or, for `cancel`, set a flag) and answer at
    /// once with no lock. Their answers go to the client that asked, not to the shared event
    /// stream (see [`crate::ReplyRef`]).
    pub fn is_query(&self) -> bool {
        Self::is_query_kind(self.kind())
    }

    /// [`Command::is_query`] for a command known only by its `type` (a client that sees
    /// another client's request).
    pub fn is_query_kind(kind: &str) -> bool {
        matches!(
            kind,
            "query_resources"
                | "list_projects"
                | "get_project"
                | "get_request"
                | "daemon_info"
                | "cancel"
                | "catalog"
                | "history"
                | "waste"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn legacy_scan_name_is_accepted() {
        let c = Command::parse("scan_all_regions", &json!({"regions": ["us-east-1"]})).unwrap();
        assert_eq!(
            c,
            Command::Scan(ScanArgs {
                regions: Some(vec!["us-east-1".into()]),
                types: None
            })
        );
        assert_eq!(c.kind(), "scan");
    }

    #[test]
    fn null_data_means_no_arguments() {
        assert_eq!(
            Command::parse("list_projects", &Value::Null)
                .unwrap()
                .kind(),
            "list_projects"
        );
    }

    #[test]
    fn wrong_types_name_the_field() {
        let err = Command::parse("scan", &json!({"regions": "us-east-1"})).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("data.regions"), "{msg}");
        assert_eq!(err.code(), ErrorCode::InvalidArguments);
        let err =
            Command::parse("power", &json!({"project": "x", "action": "explode"})).unwrap_err();
        assert!(err.to_string().contains("data.action"), "{err}");
    }

    #[test]
    fn deploy_arguments_are_named_and_checked_like_any_other() {
        let err = Command::parse("deploy", &json!({"project": false})).unwrap_err();
        assert!(
            err.to_string()
                .contains("data.project: invalid type: boolean `false`"),
            "{err}"
        );
        let err = Command::parse("deploy", &json!({"project": "x", "rollbak": true})).unwrap_err();
        assert!(err.to_string().contains("unknown field `rollbak`"), "{err}");
    }

    #[test]
    fn unknown_command_lists_known_ones() {
        let err = Command::parse("launch_missiles", &Value::Null).unwrap_err();
        assert!(err.to_string().contains("'launch_missiles'"));
        assert!(err.to_string().contains("query_resources"));
    }

    #[test]
    fn every_command_round_trips() {
        let cmds = vec![
            Command::Scan(ScanArgs::default()),
            Command::QueryResources(ResourceFilter {
                region: Some("eu-west-1".into()),
                ..Default::default()
            }),
            Command::ListProjects(Empty {}),
            Command::GetProject(ProjectRef {
                project: "blog".into(),
            }),
            Command::GetRequest(RequestRef {
                request_id: RequestId::new(),
            }),
            Command::DaemonInfo(Empty {}),
            Command::Cancel(RequestRef {
                request_id: RequestId::new(),
            }),
            Command::Ping(PingArgs { delay_ms: 5 }),
            Command::Plan(BlueprintRef {
                project: Some("blog".into()),
                blueprint: None,
            }),
            Command::Deploy(DeployArgs {
                target: BlueprintRef {
                    project: Some("blog".into()),
                    blueprint: None,
                },
                rollback_on_failure: true,
                over_budget: true,
            }),
            Command::Power(PowerArgs {
                project: "blog".into(),
                action: PowerAction::Stop,
                dry_run: false,
            }),
            Command::Terminate(TerminateArgs {
                targets: vec![TerminateTarget {
                    id: "i-1".into(),
                    kind: ResourceType::Ec2Instance,
                    region: "us-east-1".into(),
                }],
                ..Default::default()
            }),
            Command::Destroy(DestroyArgs {
                project: "blog".into(),
                ..Default::default()
            }),
            Command::Refresh(RefreshArgs::default()),
            Command::Catalog(CatalogArgs {
                region: "us-east-2".into(),
            }),
            Command::History(HistoryArgs {
                project: Some("blog".into()),
                action: Some(crate::audit::TouchAction::Deleted),
                ..Default::default()
            }),
            Command::Waste(WasteArgs {
                region: Some("eu-west-1".into()),
                project: None,
            }),
            Command::Cost(CostArgs {
                project: Some("blog".into()),
            }),
            Command::DbPassword(DbPasswordArgs {
                project: "blog".into(),
                host: "laptop".into(),
                dir: "/run/user/1000/pockitect-x".into(),
            }),
            Command::ScanShard(ScanShardArgs {
                parent: RequestId::new(),
                account: Some("111111111111".into()),
                region: "eu-west-1".into(),
                types: vec![ResourceType::Vpc],
            }),
            Command::Login(LoginArgs {
                host: "laptop".into(),
                profile: Some("work".into()),
            }),
            Command::Logout(LogoutArgs {
                host: "laptop".into(),
            }),
        ];
        assert_eq!(cmds.len(), Command::NAMES.len());
        for c in cmds {
            let back = Command::parse(c.kind(), &c.data()).unwrap();
            assert_eq!(back, c);
        }
    }
}
