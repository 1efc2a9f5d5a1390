//! Where a project's secrets live: never in the blueprint. The database password is kept in a
//! file of mode 0600 in a directory of mode 0700 outside the project directory (default
//! `$XDG_DATA_HOME/pockitect/secrets/<slug>.db-password`), written atomically.
//!
//! The OS keyring is not used yet: the machines Pockitect's daemon runs on headless (servers,
//! CI) usually have no Secret Service. The file store is what happens instead, and it is said
//! wherever a password is stored.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Secrets of all projects, one file per secret.
#[derive(Clone, Debug)]
pub struct SecretStore {
    dir: PathBuf,
}

impl SecretStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// `$POCKITECT_SECRETS_DIR`, else `$XDG_DATA_HOME/pockitect/secrets` (or `~/.local/share/…`).
    pub fn default_dir() -> PathBuf {
        if let Ok(d) = std::env::var("POCKITECT_SECRETS_DIR")
            && !d.is_empty()
        {
            return PathBuf::from(d);
        }
        dirs::data_dir()
            .unwrap_or_else(|| PathBuf::from(".pockitect-secrets"))
            .join("pockitect/secrets")
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn db_path(&self, slug: &str) -> PathBuf {
        self.dir.join(format!("{slug}.db-password"))
    }

    /// The stored database password of a project, if any.
    pub fn db_password(&self, slug: &str) -> std::io::Result<Option<String>> {
        match std::fs::read_to_string(self.db_path(slug)) {
            Ok(s) => Ok(Some(s.trim_end_matches('\n').to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Stores a project's database password (0600 file, 0700 directory, atomic replace).
    pub fn set_db_password(&self, slug: &str, password: &str) -> std::io::Result<PathBuf> {
        create_private_dir(&self.dir)?;
        let path = self.db_path(slug);
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        tmp.write_all(password.as_bytes())?;
        tmp.as_file().sync_all()?;
        tmp.persist(&path).map_err(|e| e.error)?;
        Ok(path)
    }

    /// The stored password, or a new one generated and stored. Returns (password, created).
    pub fn db_password_or_generate(&self, slug: &str) -> std::io::Result<(String, bool)> {
        if let Some(p) = self.db_password(slug)? {
            return Ok((p, false));
        }
        let p = generate_db_password();
        self.set_db_password(slug, &p)?;
        Ok((p, true))
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// 32 characters from a 128-bit random value: letters and digits only, which every RDS engine
/// accepts (no '/', '@', '"' or spaces).
pub fn generate_db_password() -> String {
    let raw = uuid::Uuid::new_v4().simple().to_string();
    // Upper-case every other letter so engines that want mixed case are satisfied.
    raw.chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_stored_0600_outside_the_blueprint_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let store = SecretStore::new(dir.path().join("secrets"));
        let (p1, created) = store.db_password_or_generate("blog").unwrap();
        assert!(created);
        assert_eq!(p1.len(), 32);
        let (p2, created) = store.db_password_or_generate("blog").unwrap();
        assert!(!created);
        assert_eq!(p1, p2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.db_path("blog"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
            let dmode = std::fs::metadata(store.dir()).unwrap().permissions().mode();
            assert_eq!(dmode & 0o777, 0o700);
        }
        assert_ne!(generate_db_password(), generate_db_password());
    }
}
