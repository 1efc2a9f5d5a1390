//! The audit trail, daemon side: the entry of each request (who asked for what, as whom on AWS,
//! how it ended, what it touched), written with the request's end into the Redis audit stream
//! (atomically, by the bus) and then appended to a daily JSON-lines file in the daemon's state
//! directory (0600, pruned after the configured number of days).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, Utc};
use pockitect_proto::audit::{AuditEntry, Authorization, Touched, redact_secrets};
use pockitect_proto::payload::AwsIdentity;
use pockitect_proto::{ClientInfo, Command, Envelope, ErrorCode, Refusal, RequestId, Status};
use serde_json::Value;

/// Largest `args` kept for a refused payload; more is replaced by its size.
const MAX_REFUSED_ARGS: usize = 16 * 1024;

/// Writes the daily files.
pub struct Auditor {
    dir: Option<PathBuf>,
    keep_days: u64,
    /// The day whose old files were last pruned.
    pruned: Mutex<Option<NaiveDate>>,
}

impl Auditor {
    pub fn new(dir: Option<PathBuf>, keep_days: u64) -> Self {
        Self {
            dir,
            keep_days,
            pruned: Mutex::new(None),
        }
    }

    /// Appends `entry` to today's file. Failing to write is logged, not fatal: the Redis
    /// stream already holds the entry.
    pub fn write_file(&self, entry: &AuditEntry) {
        let Some(dir) = &self.dir else { return };
        if let Err(e) = self.append(dir, entry) {
            tracing::warn!(dir = %dir.display(), error = %e, "could not write the audit file");
        }
    }

    fn append(&self, dir: &Path, entry: &AuditEntry) -> std::io::Result<()> {
        create_private_dir(dir)?;
        let today = entry.ended_at.date_naive();
        let path = dir.join(format!("audit-{today}.jsonl"));
        let mut line = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut f = open_private_append(&path)?;
        // One write of the whole line: entries of concurrent workers do not interleave.
        f.write_all(&line)?;
        self.prune(dir, today);
        Ok(())
    }

    /// Deletes the files older than `keep_days`, once a day.
    fn prune(&self, dir: &Path, today: NaiveDate) {
        {
            let mut last = self.pruned.lock().unwrap_or_else(|p| p.into_inner());
            if *last == Some(today) {
                return;
            }
            *last = Some(today);
        }
        let Ok(items) = std::fs::read_dir(dir) else {
            return;
        };
        let keep = chrono::Days::new(self.keep_days);
        let oldest = today.checked_sub_days(keep).unwrap_or(NaiveDate::MIN);
        for item in items.flatten() {
            let name = item.file_name();
            let Some(day) = name
                .to_str()
                .and_then(|n| n.strip_prefix("audit-"))
                .and_then(|n| n.strip_suffix(".jsonl"))
                .and_then(|d| d.parse::<NaiveDate>().ok())
            else {
                continue;
            };
            if day < oldest
                && let Err(e) = std::fs::remove_file(item.path())
            {
                tracing::warn!(file = %item.path().display(), error = %e, "could not remove an old audit file");
            }
        }
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn open_private_append(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    // A file made by hand (or by an older version) is made private too.
    if f.metadata()?.permissions().mode() & 0o077 != 0 {
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(f)
}

#[cfg(not(unix))]
fn open_private_append(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// What is known of a request when it starts; [`Draft::finish`] makes its entry.
pub struct Draft {
    pub request_id: RequestId,
    pub command: String,
    pub args: Value,
    pub project: Option<String>,
    pub client: ClientInfo,
    pub started_at: DateTime<Utc>,
}

impl Draft {
    pub fn of(
        request_id: &RequestId,
        cmd: &Command,
        project: Option<String>,
        client: Option<ClientInfo>,
    ) -> Self {
        let mut args = cmd.data();
        redact_secrets(&mut args);
        Self {
            request_id: request_id.clone(),
            command: cmd.kind().to_owned(),
            args,
            project,
            client: client.unwrap_or_default(),
            started_at: Utc::now(),
        }
    }

    /// A payload the daemon refused before it was a command: what can be read of it.
    pub fn of_refused(payload: &str, refusal: &Refusal) -> Self {
        let doc: Option<Value> = serde_json::from_str(payload).ok();
        let field = |k: &str| doc.as_ref().and_then(|d| d.get(k));
        let mut args = field("data").cloned().unwrap_or(Value::Null);
        redact_secrets(&mut args);
        if args.to_string().len() > MAX_REFUSED_ARGS {
            args =
                serde_json::json!({ "omitted": format!("{} bytes of arguments", payload.len()) });
        }
        let text = |v: Option<&Value>| {
            v.and_then(Value::as_str)
                .map(|s| s.chars().take(64).collect::<String>())
        };
        Self {
            request_id: refusal.request_id.clone().unwrap_or_default(),
            command: text(field("type")).unwrap_or_else(|| "?".into()),
            args,
            project: text(field("project_id")),
            client: field("client")
                .and_then(|c| serde_json::from_value::<ClientInfo>(c.clone()).ok())
                .map(ClientInfo::bounded)
                .unwrap_or_default(),
            started_at: Utc::now(),
        }
    }

    /// The entry of the request that ended with `terminal`.
    pub fn finish(
        self,
        terminal: &Envelope,
        daemon: &str,
        identity: Option<&AwsIdentity>,
        authorization: Option<Authorization>,
        mut resources: Vec<Touched>,
    ) -> AuditEntry {
        let code = terminal
            .data
            .get("code")
            .and_then(|c| serde_json::from_value::<ErrorCode>(c.clone()).ok());
        let account = identity.map(|i| i.account.clone());
        for r in &mut resources {
            if r.account.is_none() {
                r.account.clone_from(&account);
            }
        }
        let refused = code.is_some_and(is_refusal);
        AuditEntry {
            request_id: self.request_id,
            command: self.command,
            args: self.args,
            project: self.project,
            client: self.client,
            daemon: daemon.to_owned(),
            account,
            principal: identity.map(|i| i.arn.clone()),
            started_at: self.started_at,
            ended_at: Utc::now(),
            status: terminal.status.unwrap_or(Status::Error),
            code,
            message: terminal.message().unwrap_or_default().to_owned(),
            refused,
            authorization: authorization.unwrap_or_default(),
            resources,
        }
    }
}

/// The codes of a command refused before it ran (nothing was done).
fn is_refusal(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::Malformed
            | ErrorCode::UnknownCommand
            | ErrorCode::InvalidArguments
            | ErrorCode::TooLarge
            | ErrorCode::ApprovalRequired
            | ErrorCode::PlanChanged
            | ErrorCode::PolicyDenied
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at: DateTime<Utc>) -> AuditEntry {
        let cmd = Command::Destroy(pockitect_proto::DestroyArgs {
            project: "blog".into(),
            ..Default::default()
        });
        let mut d = Draft::of(&RequestId::new(), &cmd, Some("blog".into()), None);
        d.started_at = at;
        let env = Envelope::of(
            pockitect_proto::Event::Error(pockitect_proto::ErrorPayload {
                code: ErrorCode::PolicyDenied,
                message: "denied".into(),
            }),
            None,
            None,
            Status::Error,
        );
        let mut e = d.finish(&env, "d1", None, None, vec![]);
        e.ended_at = at;
        e
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private_daily_and_pruned() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let audit_dir = dir.path().join("audit");
        let a = Auditor::new(Some(audit_dir.clone()), 2);
        let old = Utc::now() - chrono::Duration::days(5);
        a.write_file(&entry(old));
        a.write_file(&entry(Utc::now()));
        let today = audit_dir.join(format!("audit-{}.jsonl", Utc::now().date_naive()));
        let mode = std::fs::metadata(&today).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(&audit_dir).unwrap().permissions().mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        let line = std::fs::read_to_string(&today).unwrap();
        let back: AuditEntry = serde_json::from_str(line.trim()).unwrap();
        assert!(back.refused);
        assert_eq!(back.command, "destroy");
        // The five-day-old file went when today's was written.
        let names: Vec<_> = std::fs::read_dir(&audit_dir).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn a_refused_payload_keeps_what_can_be_read_and_no_secret() {
        let payload = r#"{"type":"deploy","client":{"kind":"cli","user":"ann"},"data":{"blueprint":{"password":"hunter2"},"rollbak":true},"request_id":"abc"}"#;
        let refusal = pockitect_proto::decode(payload.as_bytes()).unwrap_err();
        let d = Draft::of_refused(payload, &refusal);
        assert_eq!(d.command, "deploy");
        assert_eq!(d.client.user.as_deref(), Some("ann"));
        assert!(!d.args.to_string().contains("hunter2"));
    }
}
