//! `db-password`: a project's database master password, printed alone on stdout.
//!
//! New databases keep their password in Secrets Manager (RDS generates and manages it): the CLI,
//! which never links the AWS SDK, asks the daemon, which writes it to a 0600 file in a fresh
//! 0700 directory of this user; the CLI prints it and removes the file. The password never
//! travels on the bus. That works when the daemon runs on this host as this user; otherwise the
//! daemon refuses and says how to read the secret instead (see the daemon's
//! `handlers::secrets` for the trust model).
//!
//! Databases created before that keep a password of their own in the OS keyring, or a 0600
//! file, of the host that deployed them: the daemon answers "not managed" and the CLI reads its
//! local store, as it always did (also when no daemon is reachable).

use std::path::Path;

use clap::Args;
use pockitect_proto::payload::DbPasswordReady;
use pockitect_proto::{Command, DbPasswordArgs as Wire, Event, Status, exit};
use pockitect_secrets::SecretStore;

use crate::Global;
use crate::follow::{CliError, exit_code_of, send_and_follow, unexpected};

#[derive(Debug, Args)]
pub struct DbPasswordArgs {
    /// Project slug (as in `pockitect projects`).
    pub project: String,
}

pub async fn db_password(g: &Global, a: DbPasswordArgs) -> Result<i32, CliError> {
    let bus = match crate::connect(g).await {
        Ok(bus) => bus,
        // A keyring password needs no daemon; a managed one does, and the error says so.
        Err(e) => return from_local_store(g, &a.project, Some(&e.to_string())),
    };
    let dir = private_dir()?;
    let cmd = Command::DbPassword(Wire {
        project: a.project.clone(),
        host: gethostname::gethostname().to_string_lossy().into_owned(),
        dir: dir.path().display().to_string(),
    });
    let t = send_and_follow(g, &bus, &cmd, |_| {}).await?;
    if t.status != Some(Status::Success) {
        eprintln!(
            "error: {}",
            t.message().unwrap_or("the daemon did not answer")
        );
        return Ok(exit_code_of(&t));
    }
    let Ok(Event::DbPassword(DbPasswordReady { file, .. })) = t.decode() else {
        return Err(unexpected(&t));
    };
    let Some(file) = file else {
        return from_local_store(g, &a.project, None);
    };
    // Read only the file this request asked for: an answer naming any other path is refused.
    let file = Path::new(&file);
    if file.parent() != Some(dir.path()) {
        return Err(CliError::Io(format!(
            "the daemon answered with '{}', outside the directory this request gave ('{}'); nothing was read",
            file.display(),
            dir.path().display()
        )));
    }
    let read = std::fs::read_to_string(file);
    // Removed before printing: the password lives on disk no longer than needed.
    let removed = std::fs::remove_file(file);
    let password = read.map_err(|e| CliError::Io(format!("read '{}': {e}", file.display())))?;
    removed.map_err(|e| {
        CliError::Io(format!(
            "remove '{}' (it holds the database password; delete it by hand): {e}",
            file.display()
        ))
    })?;
    out!("{password}");
    Ok(exit::SUCCESS)
}

/// A new directory of mode 0700 for the daemon to write into: the per-user runtime directory
/// (`$XDG_RUNTIME_DIR`, a tmpfs only this user reads) when there is one, else the temp dir.
/// Removed with everything in it when dropped.
fn private_dir() -> Result<tempfile::TempDir, CliError> {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|d| !d.is_empty() && Path::new(d).is_dir())
        .map_or_else(std::env::temp_dir, std::path::PathBuf::from);
    let dir = tempfile::Builder::new()
        .prefix("pockitect-db-password-")
        .tempdir_in(&base)
        .map_err(|e| {
            CliError::Io(format!(
                "make a private directory in '{}': {e}",
                base.display()
            ))
        })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .map_err(|e| CliError::Io(format!("make '{}' private: {e}", dir.path().display())))?;
    }
    Ok(dir)
}

/// The password of a database created before RDS managed it, from this host's store.
/// `daemon_error`: why the daemon could not be asked, when it could not.
fn from_local_store(
    g: &Global,
    project: &str,
    daemon_error: Option<&str>,
) -> Result<i32, CliError> {
    let store = SecretStore::open(g.secrets, SecretStore::default_file_dir())
        .map_err(|e| CliError::Usage(format!("{e} (--secrets is '{}')", g.secrets)))?;
    match store
        .db_password(project)
        .map_err(|e| CliError::Io(e.to_string()))?
    {
        Some(p) => {
            out!("{p}");
            Ok(exit::SUCCESS)
        }
        None => match daemon_error {
            Some(e) => Err(CliError::Unavailable(format!(
                "no database password for '{project}' in {}, and the daemon, which reads the ones RDS keeps in Secrets Manager, could not be asked: {e}",
                store.describe()
            ))),
            None => Err(CliError::NotFound(format!(
                "the database of '{project}' has a password of its own (made before RDS managed it), and it is not in {} on this host; run 'pockitect db-password {project}' on the host that deployed it, or reset it with 'aws rds modify-db-instance --manage-master-user-password --apply-immediately' to let RDS keep it in Secrets Manager",
                store.describe()
            ))),
        },
    }
}
