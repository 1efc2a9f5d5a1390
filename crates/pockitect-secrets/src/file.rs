//! The fallback store: one file of mode 0600 per secret, in a directory of mode 0700 outside the
//! project directory (default `$XDG_DATA_HOME/pockitect/secrets/<slug>.db-password`), written
//! atomically. Used when no OS keyring works (headless servers, CI, containers) or when chosen.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Secrets of all projects, one file per secret.
#[derive(Clone, Debug)]
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
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

    pub(crate) fn db_path(&self, slug: &str) -> PathBuf {
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
        self.write_private(&self.db_path(slug), password)
    }

    /// The file of a named entry (`<name>`, e.g. `aws-login.json`).
    pub(crate) fn entry_path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A named entry's content, if the file exists.
    pub(crate) fn read_entry(&self, name: &str) -> std::io::Result<Option<String>> {
        match std::fs::read_to_string(self.entry_path(name)) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes a named entry (0600 file, 0700 directory, atomic replace).
    pub(crate) fn write_entry(&self, name: &str, content: &str) -> std::io::Result<PathBuf> {
        self.write_private(&self.entry_path(name), content)
    }

    /// Removes a named entry; absent is fine.
    pub(crate) fn delete_entry(&self, name: &str) -> std::io::Result<bool> {
        match std::fs::remove_file(self.entry_path(name)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn write_private(&self, path: &Path, content: &str) -> std::io::Result<PathBuf> {
        create_private_dir(&self.dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        tmp.write_all(content.as_bytes())?;
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(path.to_owned())
    }

    /// Removes a project's stored password; absent is fine.
    pub fn delete_db_password(&self, slug: &str) -> std::io::Result<bool> {
        match std::fs::remove_file(self.db_path(slug)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_stored_0600_in_a_0700_directory_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("secrets"));
        assert_eq!(store.db_password("blog").unwrap(), None);
        let path = store.set_db_password("blog", "s3cret-Pass").unwrap();
        assert_eq!(path, store.db_path("blog"));
        assert_eq!(
            store.db_password("blog").unwrap().as_deref(),
            Some("s3cret-Pass")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let dmode = std::fs::metadata(store.dir()).unwrap().permissions().mode();
            assert_eq!(dmode & 0o777, 0o700);
        }
        assert!(store.delete_db_password("blog").unwrap());
        assert!(!store.delete_db_password("blog").unwrap());
        assert_eq!(store.db_password("blog").unwrap(), None);
    }
}
