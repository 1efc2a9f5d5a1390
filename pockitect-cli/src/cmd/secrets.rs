//! The database password: settled before a deploy (given, asked or left for the daemon to
//! generate) and shown on request. It goes to the OS keyring, or a 0600 file when no keyring
//! works; never to the blueprint, the bus or a log.

use std::io::IsTerminal;

use clap::Args;
use pockitect_blueprint::Blueprint;
use pockitect_proto::exit;
use pockitect_secrets::{Backend, SecretStore};

use crate::Global;
use crate::follow::CliError;

#[derive(Debug, Args)]
pub struct DbPasswordArgs {
    /// Project slug (as in `pockitect projects`).
    pub project: String,
}

fn open(g: &Global, backend: Backend) -> Result<SecretStore, CliError> {
    SecretStore::open(backend, SecretStore::default_file_dir())
        .map_err(|e| CliError::Usage(format!("{e} (--secrets is '{}')", g.secrets)))
}

/// Prints the password to stdout alone (for `psql` scripts), nothing else.
pub fn db_password(g: &Global, a: DbPasswordArgs) -> Result<i32, CliError> {
    let store = open(g, g.secrets)?;
    match store
        .db_password(&a.project)
        .map_err(|e| CliError::Io(e.to_string()))?
    {
        Some(p) => {
            out!("{p}");
            Ok(exit::SUCCESS)
        }
        None => Err(CliError::NotFound(format!(
            "no database password for '{}' in {}; the daemon keeps the one it generates in its own store ('pockitect doctor' shows which)",
            a.project,
            store.describe()
        ))),
    }
}

/// Takes the password from POCKITECT_DB_PASSWORD or a prompt and keeps it where the daemon
/// reads it. Without either, the daemon generates one when it creates the database.
///
/// `daemon_uses_keyring`: false when the live daemons keep secrets in files (no keyring in
/// their session): the password then goes to a file too, or the daemon would not find it.
pub fn settle_db_password(
    g: &Global,
    bp: &Blueprint,
    daemon_uses_keyring: bool,
) -> Result<(), CliError> {
    if !bp.has_db() {
        return Ok(());
    }
    let backend = match g.secrets {
        Backend::Auto if !daemon_uses_keyring => Backend::File,
        b => b,
    };
    let store = open(g, backend)?;
    let slug = bp.slug();
    let given = match std::env::var("POCKITECT_DB_PASSWORD") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => None,
    };
    let given = match given {
        Some(p) => Some(p),
        None if store.db_password(&slug).ok().flatten().is_none()
            && std::io::stdin().is_terminal() =>
        {
            let p = dialoguer::Password::new()
                .with_prompt("Database master password (empty: generate one)")
                .allow_empty_password(true)
                .interact()
                .map_err(|e| CliError::Io(format!("read the password: {e}")))?;
            (!p.is_empty()).then_some(p)
        }
        None => None,
    };
    let Some(p) = given else {
        return Ok(());
    };
    if let Some(engine) = bp.db().and_then(|db| db.engine.as_ref()) {
        pockitect_blueprint::check_db_password(engine, &p)
            .map_err(|e| CliError::Invalid(format!("database password: {e}")))?;
    }
    let location = store
        .set_db_password(&slug, &p)
        .map_err(|e| CliError::Io(format!("keep the database password: {e}")))?;
    let why = match (store.fallback_reason(), daemon_uses_keyring) {
        (Some(reason), _) => format!("; no OS keyring here: {reason}"),
        (None, false) if g.secrets == Backend::Auto => {
            "; the daemon has no OS keyring, so a file it can read".to_owned()
        }
        _ => String::new(),
    };
    eprintln!("database password kept in {location}{why}");
    Ok(())
}
