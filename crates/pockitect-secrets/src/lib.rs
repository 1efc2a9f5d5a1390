//! Where Pockitect keeps secrets (a project's database master password, the AWS credentials of
//! `pockitect login`), so that they never reach the blueprint, events, logs or the scan cache. The OS keyring comes first; when no
//! keyring works (a headless server without a Secret Service, a container, CI) the password goes
//! to a file of mode 0600 outside the project directory instead, and every caller can say so.
//!
//! ```
//! use pockitect_secrets::{Backend, SecretStore};
//!
//! let dir = tempfile::tempdir()?;
//! let store = SecretStore::open(Backend::File, dir.path())?;
//! let (password, created) = store.db_password_or_generate("blog")?;
//! assert!(created);
//! assert_eq!(store.db_password("blog")?.as_deref(), Some(password.as_str()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod aws_login;
mod file;
mod keyring;

use std::fmt;
use std::path::{Path, PathBuf};

pub use aws_login::{AwsKeys, AwsLogin, PendingLogin, key_id_last4};
pub use file::FileStore;
pub use keyring::{KeyringStore, SERVICE as KEYRING_SERVICE};

/// Which store to use; `auto` tries the keyring and falls back to 0600 files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    #[default]
    Auto,
    Keyring,
    File,
}

impl std::str::FromStr for Backend {
    type Err = SecretError;
    fn from_str(s: &str) -> Result<Self, SecretError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(Self::Auto),
            "keyring" => Ok(Self::Keyring),
            "file" => Ok(Self::File),
            other => Err(SecretError::UnknownBackend(other.to_owned())),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Keyring => "keyring",
            Self::File => "file",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "unknown secret store '{0}': use auto (the OS keyring, else 0600 files), keyring or file"
    )]
    UnknownBackend(String),
    #[error(
        "the OS keyring is not reachable ({0}); start a Secret Service (e.g. gnome-keyring) in this session, or choose --secrets file to keep secrets in 0600 files"
    )]
    KeyringUnavailable(String),
    #[error(
        "the OS keyring refused '{account}': {reason}; unlock the keyring, or choose --secrets file to keep secrets in 0600 files"
    )]
    Keyring { account: String, reason: String },
    #[error(
        "the stored entry '{entry}' is unreadable: {reason}; remove it with 'pockitect logout'"
    )]
    Corrupt { entry: String, reason: String },
    #[error("secret file in '{dir}': {source}")]
    File {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where a secret was put, for the message the user sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Keyring { account: String },
    File { path: PathBuf },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Keyring { account } => write!(
                f,
                "the OS keyring (service '{}', account '{account}')",
                keyring::SERVICE
            ),
            Self::File { path } => write!(f, "{} (mode 0600)", path.display()),
        }
    }
}

/// The secrets of all projects: the keyring when it works, else 0600 files.
#[derive(Clone, Debug)]
pub struct SecretStore {
    keyring: Option<KeyringStore>,
    files: FileStore,
    /// Why the keyring is not used, when `auto` fell back to files.
    fallback: Option<String>,
}

impl SecretStore {
    /// Opens the chosen store; `file_dir` is where 0600 files go when files are used.
    pub fn open(backend: Backend, file_dir: impl Into<PathBuf>) -> Result<Self, SecretError> {
        let files = FileStore::new(file_dir);
        let (keyring, fallback) = match backend {
            Backend::File => (None, None),
            Backend::Keyring => (
                Some(KeyringStore::probe().map_err(SecretError::KeyringUnavailable)?),
                None,
            ),
            Backend::Auto => match KeyringStore::probe() {
                Ok(k) => (Some(k), None),
                Err(why) => (None, Some(why)),
            },
        };
        Ok(Self {
            keyring,
            files,
            fallback,
        })
    }

    /// `$POCKITECT_SECRETS_DIR`, else `$XDG_DATA_HOME/pockitect/secrets`.
    pub fn default_file_dir() -> PathBuf {
        FileStore::default_dir()
    }

    pub fn uses_keyring(&self) -> bool {
        self.keyring.is_some()
    }

    /// Why `auto` did not use the keyring, if it did not.
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    pub fn file_dir(&self) -> &Path {
        self.files.dir()
    }

    /// One line for `doctor` and logs: which store is in use, and why when it is the fallback.
    pub fn describe(&self) -> String {
        match (&self.keyring, &self.fallback) {
            (Some(_), _) => "the OS keyring".to_owned(),
            (None, Some(why)) => format!(
                "0600 files in {} (no OS keyring: {why})",
                self.files.dir().display()
            ),
            (None, None) => format!("0600 files in {} (chosen)", self.files.dir().display()),
        }
    }

    /// The stored database password of a project. The keyring is asked first; a file is still
    /// read so a password kept before a keyring was available is not lost.
    pub fn db_password(&self, slug: &str) -> Result<Option<String>, SecretError> {
        if let Some(k) = &self.keyring {
            let account = account(slug);
            if let Some(p) = k
                .get(&account)
                .map_err(|reason| SecretError::Keyring { account, reason })?
            {
                return Ok(Some(p));
            }
        }
        self.files
            .db_password(slug)
            .map_err(|source| self.file_error(source))
    }

    /// Keeps a project's database password, replacing any earlier one, and says where.
    pub fn set_db_password(&self, slug: &str, password: &str) -> Result<Location, SecretError> {
        if let Some(k) = &self.keyring {
            let account = account(slug);
            k.set(&account, password)
                .map_err(|reason| SecretError::Keyring {
                    account: account.clone(),
                    reason,
                })?;
            // One place only: an older file copy would otherwise outlive a changed password.
            self.files
                .delete_db_password(slug)
                .map_err(|source| self.file_error(source))?;
            return Ok(Location::Keyring { account });
        }
        let path = self
            .files
            .set_db_password(slug, password)
            .map_err(|source| self.file_error(source))?;
        Ok(Location::File { path })
    }

    /// The stored password, or a new one generated and stored: (password, created). A new one
    /// fits only a database about to be created: callers check first that none exists (the
    /// daemon's deploy refuses an existing database whose password is not stored).
    pub fn db_password_or_generate(&self, slug: &str) -> Result<(String, bool), SecretError> {
        if let Some(p) = self.db_password(slug)? {
            return Ok((p, false));
        }
        let p = generate_db_password();
        self.set_db_password(slug, &p)?;
        Ok((p, true))
    }

    /// Forgets a project's password wherever it is kept; true if one was there.
    pub fn delete_db_password(&self, slug: &str) -> Result<bool, SecretError> {
        let mut found = false;
        if let Some(k) = &self.keyring {
            let account = account(slug);
            found |= k
                .delete(&account)
                .map_err(|reason| SecretError::Keyring { account, reason })?;
        }
        found |= self
            .files
            .delete_db_password(slug)
            .map_err(|source| self.file_error(source))?;
        Ok(found)
    }

    /// The active AWS credentials of `pockitect login` and where they are kept, if any.
    pub fn aws_login(&self) -> Result<Option<(AwsLogin, Location)>, SecretError> {
        self.json_entry(aws_login::ACTIVE)
    }

    /// Makes `login` the active AWS credentials, replacing any earlier ones, and says where.
    pub fn set_aws_login(&self, login: &AwsLogin) -> Result<Location, SecretError> {
        self.set_json_entry(aws_login::ACTIVE, login)
    }

    /// Forgets the active AWS credentials wherever they are kept; true if some were there.
    pub fn delete_aws_login(&self) -> Result<bool, SecretError> {
        self.delete_entry(aws_login::ACTIVE)
    }

    /// Keys waiting for the daemon's check (`pockitect login` writes them, the daemon reads).
    pub fn pending_login(&self) -> Result<Option<(PendingLogin, Location)>, SecretError> {
        self.json_entry(aws_login::PENDING)
    }

    pub fn set_pending_login(&self, pending: &PendingLogin) -> Result<Location, SecretError> {
        self.set_json_entry(aws_login::PENDING, pending)
    }

    pub fn delete_pending_login(&self) -> Result<bool, SecretError> {
        self.delete_entry(aws_login::PENDING)
    }

    /// A JSON entry: the keyring's when there is one, else its 0600 file.
    fn json_entry<T: serde::de::DeserializeOwned>(
        &self,
        entry: &str,
    ) -> Result<Option<(T, Location)>, SecretError> {
        let file = format!("{entry}.json");
        let found = match &self.keyring {
            Some(k) => k
                .get(entry)
                .map_err(|reason| SecretError::Keyring {
                    account: entry.to_owned(),
                    reason,
                })?
                .map(|text| {
                    (
                        text,
                        Location::Keyring {
                            account: entry.to_owned(),
                        },
                    )
                }),
            None => None,
        };
        let found = match found {
            Some(f) => Some(f),
            None => self
                .files
                .read_entry(&file)
                .map_err(|source| self.file_error(source))?
                .map(|text| {
                    (
                        text,
                        Location::File {
                            path: self.files.entry_path(&file),
                        },
                    )
                }),
        };
        let Some((text, location)) = found else {
            return Ok(None);
        };
        let value = serde_json::from_str(&text).map_err(|e| SecretError::Corrupt {
            entry: location.to_string(),
            reason: aws_login::describe_json_error(&e),
        })?;
        Ok(Some((value, location)))
    }

    fn set_json_entry<T: serde::Serialize>(
        &self,
        entry: &str,
        value: &T,
    ) -> Result<Location, SecretError> {
        let file = format!("{entry}.json");
        // Plain data of strings and numbers: serialising cannot fail.
        let text = serde_json::to_string(value).unwrap_or_default();
        if let Some(k) = &self.keyring {
            k.set(entry, &text).map_err(|reason| SecretError::Keyring {
                account: entry.to_owned(),
                reason,
            })?;
            // One place only: an older file copy would otherwise outlive a newer login.
            self.files
                .delete_entry(&file)
                .map_err(|source| self.file_error(source))?;
            return Ok(Location::Keyring {
                account: entry.to_owned(),
            });
        }
        let path = self
            .files
            .write_entry(&file, &text)
            .map_err(|source| self.file_error(source))?;
        Ok(Location::File { path })
    }

    fn delete_entry(&self, entry: &str) -> Result<bool, SecretError> {
        let mut found = false;
        if let Some(k) = &self.keyring {
            found |= k.delete(entry).map_err(|reason| SecretError::Keyring {
                account: entry.to_owned(),
                reason,
            })?;
        }
        found |= self
            .files
            .delete_entry(&format!("{entry}.json"))
            .map_err(|source| self.file_error(source))?;
        Ok(found)
    }

    fn file_error(&self, source: std::io::Error) -> SecretError {
        SecretError::File {
            dir: self.files.dir().to_owned(),
            source,
        }
    }
}

fn account(slug: &str) -> String {
    format!("{slug}.db-password")
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
    fn backends_parse_and_unknown_names_say_what_exists() {
        assert_eq!("".parse::<Backend>().unwrap(), Backend::Auto);
        assert_eq!("Keyring".parse::<Backend>().unwrap(), Backend::Keyring);
        assert_eq!("file".parse::<Backend>().unwrap(), Backend::File);
        let e = "vault".parse::<Backend>().unwrap_err().to_string();
        assert!(
            e.contains("'vault'") && e.contains("keyring or file"),
            "{e}"
        );
    }

    #[test]
    fn aws_logins_are_kept_in_0600_files_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = SecretStore::open(Backend::File, dir.path().join("s")).unwrap();
        assert!(store.aws_login().unwrap().is_none());
        let pending = PendingLogin {
            access_key_id: "AKIAPENDING".into(),
            secret_access_key: "pending-secret".into(),
            mfa_serial: None,
            mfa_code: None,
        };
        let at = store.set_pending_login(&pending).unwrap();
        let Location::File { path } = &at else {
            panic!("{at:?}")
        };
        assert_eq!(path, &dir.path().join("s/aws-login.pending.json"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(store.pending_login().unwrap().unwrap().0, pending);
        let login = AwsLogin::Keys(AwsKeys {
            access_key_id: pending.access_key_id.clone(),
            secret_access_key: pending.secret_access_key.clone(),
            session_token: Some("tok".into()),
            expires_at: Some(1_900_000_000),
            mfa_serial: Some("arn:aws:iam::123456789012:mfa/bob".into()),
        });
        store.set_aws_login(&login).unwrap();
        assert!(store.delete_pending_login().unwrap());
        let (back, _) = store.aws_login().unwrap().unwrap();
        assert_eq!(back, login);
        assert!(store.delete_aws_login().unwrap());
        assert!(!store.delete_aws_login().unwrap());
        assert!(store.aws_login().unwrap().is_none());

        std::fs::write(dir.path().join("s/aws-login.json"), "{\"kind\":\"Sekrit\"}").unwrap();
        let e = store.aws_login().unwrap_err().to_string();
        assert!(
            e.contains("pockitect logout") && !e.contains("Sekrit"),
            "{e}"
        );
    }

    #[test]
    fn the_file_store_generates_once_then_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let store = SecretStore::open(Backend::File, dir.path()).unwrap();
        assert!(!store.uses_keyring());
        assert!(store.describe().contains("(chosen)"));
        let (p1, created) = store.db_password_or_generate("blog").unwrap();
        assert!(created);
        assert_eq!(p1.len(), 32);
        assert!(p1.chars().all(|c| c.is_ascii_alphanumeric()));
        let (p2, created) = store.db_password_or_generate("blog").unwrap();
        assert!(!created);
        assert_eq!(p1, p2);
        assert_ne!(generate_db_password(), generate_db_password());
        assert!(store.delete_db_password("blog").unwrap());
        assert_eq!(store.db_password("blog").unwrap(), None);
    }
}
