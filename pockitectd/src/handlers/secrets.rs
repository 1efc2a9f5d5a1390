//! `db_password`: the master password of a project's database, when RDS keeps it in Secrets
//! Manager, written to a new 0600 file for the asking local user. The terminal event carries
//! only the file's path; the password never reaches the bus, a log or the audit trail.
//!
//! Trust model. The daemon reads the secret with its own AWS credentials, so whoever can send it
//! commands can ask for the password; what the daemon controls is *where* it goes. A file is
//! only a safe hand-over when the daemon runs on the asking client's host as the asking OS user:
//! then the file, in a 0700 directory that user made, is readable by that user (and root) alone.
//! So the request names its host and the daemon refuses any other host (the file would land on
//! the daemon's machine, where the user cannot read it, or someone else could); and the directory
//! must be an absolute path to a real directory (not a symbolic link), mode 0700, owned by the
//! user the daemon runs as (checked on the file the daemon creates in it, so no extra system
//! call is needed). A daemon on another host, or run as another user, refuses with a message
//! saying how to read the password instead. A database whose password RDS does not manage (made
//! before Pockitect let it) gets an answer without a file: its password is in the OS keyring, or
//! a 0600 file, of the host that deployed it, where the client looks.

use std::path::{Path, PathBuf};

use pockitect_aws::db_secret::{self, DbSecretError, MasterPassword};
use pockitect_proto::payload::DbPasswordReady;
use pockitect_proto::{DbPasswordArgs, ErrorCode, Event};

use crate::Daemon;
use crate::events::{HandlerError, Outcome};

/// The file's name inside the client's directory.
const FILE_NAME: &str = "db-password";

fn invalid(message: String) -> HandlerError {
    HandlerError::new(ErrorCode::InvalidArguments, message)
}

pub async fn db_password(args: DbPasswordArgs, daemon: &Daemon) -> Result<Outcome, HandlerError> {
    let here = gethostname::gethostname().to_string_lossy().into_owned();
    if args.host != here {
        return Err(invalid(format!(
            "data.host: the request comes from host '{}' but this daemon runs on '{here}': it hands the database password over in a file on its own host only, so nothing is written where you cannot read it; run 'pockitect db-password {}' on '{here}', or read the secret named by data.db.master_user_secret_arn of the blueprint with 'aws secretsmanager get-secret-value'",
            args.host.chars().take(128).collect::<String>(),
            args.project,
        )));
    }
    let dir = PathBuf::from(&args.dir);
    check_dir(&dir)?;
    let bp = daemon.projects.load(&args.project).map_err(|e| {
        HandlerError::new(
            ErrorCode::NotFound,
            format!(
                "load project '{}': {e}; 'pockitect projects' lists the known ones",
                args.project
            ),
        )
    })?;
    let slug = bp.slug().into_owned();
    let Some(db) = bp.db() else {
        return Err(HandlerError::new(
            ErrorCode::NotFound,
            format!("project '{slug}' has no database (data.db), so no database password"),
        ));
    };
    let aws = daemon
        .accounts
        .for_project(bp.project.account.as_deref())
        .await?;
    let answer = db_secret::master_password(&aws, &slug, bp.region(), db.identifier.as_deref())
        .await
        .map_err(secret_error)?;
    match answer {
        MasterPassword::NotManaged { identifier } => {
            tracing::info!(project = %slug, identifier = %identifier, "the database keeps its own password: the client reads its keyring");
            Ok(Outcome::success(Event::DbPassword(DbPasswordReady {
                project: slug,
                file: None,
                secret_arn: None,
                identifier,
            })))
        }
        MasterPassword::Managed {
            identifier,
            secret_arn,
            password,
        } => {
            let file = write_private(&dir, password.expose())?;
            tracing::info!(project = %slug, secret_arn = %secret_arn, file = %file.display(), "database password written for the asking user");
            Ok(Outcome::success(Event::DbPassword(DbPasswordReady {
                project: slug,
                file: Some(file.display().to_string()),
                secret_arn: Some(secret_arn),
                identifier,
            })))
        }
    }
}

fn secret_error(e: DbSecretError) -> HandlerError {
    let code = match &e {
        DbSecretError::NoDatabase { .. } => ErrorCode::NotFound,
        DbSecretError::NotOurs { .. } => ErrorCode::Conflict,
        DbSecretError::Aws { source, .. } if source.code().contains("AccessDenied") => {
            ErrorCode::AccessDenied
        }
        DbSecretError::Aws { .. } | DbSecretError::Unreadable { .. } => ErrorCode::Aws,
    };
    HandlerError::new(code, e.to_string())
}

/// The directory the client named: absolute, a directory itself (not a link to one), no access
/// for group or others. Checked before AWS is asked, so a refused request reads no secret.
#[cfg(unix)]
fn check_dir(dir: &Path) -> Result<(), HandlerError> {
    use std::os::unix::fs::PermissionsExt;
    let shown = dir.display();
    if !dir.is_absolute() {
        return Err(invalid(format!(
            "data.dir: '{shown}' is not an absolute path; give the full path of a directory of mode 0700"
        )));
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| {
        invalid(format!(
            "data.dir: '{shown}' cannot be read on this daemon's host ({e}); the client makes it (mode 0700) before asking, on the daemon's host and as the daemon's user"
        ))
    })?;
    if !meta.is_dir() {
        return Err(invalid(format!(
            "data.dir: '{shown}' is not a directory (a symbolic link is refused too)"
        )));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(invalid(format!(
            "data.dir: '{shown}' has mode {mode:03o}, so other users could read the password; make it 0700 (chmod 700)"
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_dir(_dir: &Path) -> Result<(), HandlerError> {
    Err(invalid(
        "db_password hands the password over in a 0600 file, which needs a Unix host; read the secret named by data.db.master_user_secret_arn with 'aws secretsmanager get-secret-value'".to_owned(),
    ))
}

/// Writes `secret` to a new file of mode 0600 in `dir` and returns its path. The file is created
/// exclusively (an existing file or a planted link is refused, never followed); its owner, the
/// user the daemon runs as, must own `dir` too, or the file is removed before anything is in it.
#[cfg(unix)]
fn write_private(dir: &Path, secret: &str) -> Result<PathBuf, HandlerError> {
    use std::io::Write;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let path = dir.join(FILE_NAME);
    let shown = path.display();
    let io = |what: &str, e: std::io::Error| {
        HandlerError::new(
            ErrorCode::Internal,
            format!("{what} '{shown}': {e}; ask again with a new, empty directory"),
        )
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| io("create", e))?;
    let owner = |m: std::io::Result<std::fs::Metadata>| m.map(|m| m.uid());
    let (mine, theirs) = (
        owner(file.metadata()).map_err(|e| io("inspect", e))?,
        owner(std::fs::symlink_metadata(dir)).map_err(|e| io("inspect the directory of", e))?,
    );
    if mine != theirs {
        drop(file);
        let _ = std::fs::remove_file(&path);
        return Err(invalid(format!(
            "data.dir: '{}' belongs to uid {theirs} but this daemon runs as uid {mine}; the password is handed over only to the user the daemon runs as: run the daemon as that user, or read the secret with 'aws secretsmanager get-secret-value'",
            dir.display()
        )));
    }
    let written = file
        .write_all(secret.as_bytes())
        .and_then(|()| file.sync_all());
    if let Err(e) = written {
        drop(file);
        let _ = std::fs::remove_file(&path);
        return Err(io("write", e));
    }
    Ok(path)
}

#[cfg(not(unix))]
fn write_private(_dir: &Path, _secret: &str) -> Result<PathBuf, HandlerError> {
    check_dir(_dir).map(|()| PathBuf::new())
}
