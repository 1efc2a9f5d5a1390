//! The project store: one `<slug>.json` per project in a directory, written atomically.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::legacy::LegacyNote;
use crate::model::Blueprint;
use crate::parse::{parse_text, to_json_pretty};
use crate::slug::{MAX_SLUG_LEN, is_valid_slug, slugify};

/// A directory of blueprints (`projects/` by default in the daemon).
///
/// Writes are atomic: a temporary file in the same directory is written and fsynced, renamed
/// over the target, and the directory is fsynced, so a reader sees the old file or the new one,
/// never half of one, even across a crash.
#[derive(Debug, Clone)]
pub struct ProjectStore {
    dir: PathBuf,
}

impl ProjectStore {
    /// A store over `dir` (created on the first save).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ProjectStore { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of project `slug`; refuses anything that is not a slug (so `../x` cannot
    /// escape the directory).
    pub fn path_for(&self, slug: &str) -> Result<PathBuf> {
        if !is_valid_slug(slug) {
            let fixed = slugify(slug);
            let reason = if fixed == slug {
                format!(
                    "it is longer than {MAX_SLUG_LEN} characters; set project.slug to a shorter one"
                )
            } else {
                format!(
                    "only lowercase letters, digits and single hyphens are allowed (try '{fixed}')"
                )
            };
            return Err(Error::InvalidSlug {
                slug: slug.to_owned(),
                reason,
            });
        }
        Ok(self.dir.join(format!("{slug}.json")))
    }

    /// True when project `slug` has a file.
    pub fn exists(&self, slug: &str) -> bool {
        self.path_for(slug).is_ok_and(|p| p.is_file())
    }

    /// Every `*.json` file of the directory, sorted by slug (the file name without `.json`),
    /// each with its blueprint or the reason it could not be read. A missing directory is an
    /// empty store. Hidden files (such as a save's temporary file) are skipped.
    pub fn list(&self) -> Result<Vec<(String, Result<Blueprint>)>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(Error::List {
                    dir: self.dir.clone(),
                    source,
                });
            }
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| Error::List {
                dir: self.dir.clone(),
                source,
            })?;
            let file_name = entry.file_name();
            let Some(name) = file_name.to_str() else {
                continue;
            };
            let Some(stem) = name.strip_suffix(".json") else {
                continue;
            };
            if name.starts_with('.') || stem.is_empty() {
                continue;
            }
            let path = entry.path();
            if !path.is_file() {
                continue;
            }
            let loaded = read_file(&path, Some(stem)).map(|(bp, _)| bp);
            out.push((stem.to_owned(), loaded));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Loads project `slug`. A legacy file without a slug gets this one.
    pub fn load(&self, slug: &str) -> Result<Blueprint> {
        self.load_with_notes(slug).map(|(bp, _)| bp)
    }

    /// Like [`ProjectStore::load`], also returning what the legacy upgrade rewrote.
    pub fn load_with_notes(&self, slug: &str) -> Result<(Blueprint, Vec<LegacyNote>)> {
        let path = self.path_for(slug)?;
        read_file(&path, Some(slug)).map_err(|e| match e {
            Error::Read { path, source } if source.kind() == io::ErrorKind::NotFound => {
                Error::NotFound {
                    slug: slug.to_owned(),
                    path,
                }
            }
            other => other,
        })
    }

    /// Loads a blueprint file from any path (a legacy file without a slug gets one derived
    /// from its project name).
    pub fn load_path(path: &Path) -> Result<Blueprint> {
        read_file(path, None).map(|(bp, _)| bp)
    }

    /// Like [`ProjectStore::load_path`], also returning what the legacy upgrade rewrote.
    pub fn load_path_with_notes(path: &Path) -> Result<(Blueprint, Vec<LegacyNote>)> {
        read_file(path, None)
    }

    /// Writes `<dir>/<slug>.json` atomically (pretty JSON, 2-space indent, trailing newline)
    /// and returns its path. Refuses a blueprint whose slug is not valid or that carries a
    /// secret. An existing file keeps its permissions; a new one gets 0644.
    pub fn save(&self, bp: &Blueprint) -> Result<PathBuf> {
        let slug = bp.slug().into_owned();
        let path = self.path_for(&slug)?;
        refuse_secrets(bp, &slug)?;
        let text = to_json_pretty(bp)?;
        write_atomically(&self.dir, &path, &slug, text.as_bytes())?;
        Ok(path)
    }
}

fn read_file(path: &Path, store_slug: Option<&str>) -> Result<(Blueprint, Vec<LegacyNote>)> {
    let text = fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    // Tolerate the byte-order mark some Windows editors write.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    parse_text(text, &path.display().to_string(), store_slug)
}

fn refuse_secrets(bp: &Blueprint, slug: &str) -> Result<()> {
    if bp
        .data
        .db
        .as_ref()
        .and_then(|db| db.password.as_ref())
        .is_some_and(|p| !p.is_empty())
    {
        return Err(Error::SecretInBlueprint {
            slug: slug.to_owned(),
            field: "data.db.password",
            hint: "keep the database password in the OS keyring (or POCKITECT_DB_PASSWORD) and \
                   set the field to null",
        });
    }
    if bp
        .security
        .key_pair
        .private_key_pem
        .as_ref()
        .is_some_and(|p| !p.is_empty())
    {
        return Err(Error::SecretInBlueprint {
            slug: slug.to_owned(),
            field: "security.key_pair.private_key_pem",
            hint: "write the key to a 0600 file under ~/.ssh/pockitect/, record its path in \
                   security.key_pair.private_key_path and set the field to null",
        });
    }
    Ok(())
}

fn write_atomically(dir: &Path, path: &Path, slug: &str, bytes: &[u8]) -> Result<()> {
    let fail = |step: &'static str| {
        move |source: io::Error| Error::Write {
            path: path.to_owned(),
            step,
            source,
        }
    };
    fs::create_dir_all(dir).map_err(fail("create the directory"))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{slug}."))
        .suffix(".json.tmp")
        .tempfile_in(dir)
        .map_err(fail("create a temporary file"))?;
    tmp.write_all(bytes)
        .map_err(fail("write the temporary file"))?;
    let permissions = match fs::metadata(path) {
        Ok(meta) => Some(meta.permissions()),
        Err(_) => default_permissions(),
    };
    if let Some(permissions) = permissions {
        tmp.as_file()
            .set_permissions(permissions)
            .map_err(fail("set permissions"))?;
    }
    tmp.as_file()
        .sync_all()
        .map_err(fail("sync the temporary file"))?;
    // On failure the temporary file is removed when `PersistError` drops it.
    tmp.persist(path)
        .map_err(|e| fail("rename the temporary file into place")(e.error))?;
    sync_dir(dir).map_err(fail("sync the directory"))?;
    Ok(())
}

#[cfg(unix)]
fn default_permissions() -> Option<fs::Permissions> {
    use std::os::unix::fs::PermissionsExt;
    Some(fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn default_permissions() -> Option<fs::Permissions> {
    None
}

/// Makes the rename durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Windows cannot open a directory as a file; its rename is already as durable as it gets.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_for_refuses_traversal() {
        let store = ProjectStore::new("/tmp/projects");
        assert!(store.path_for("../etc/passwd").is_err());
        assert!(store.path_for("a/b").is_err());
        assert!(store.path_for("").is_err());
        let err = store.path_for("My Blog").unwrap_err();
        assert!(err.to_string().contains("try 'my-blog'"), "{err}");
        let err = store.path_for(&"a".repeat(49)).unwrap_err();
        assert!(err.to_string().contains("longer than 48"), "{err}");
        assert_eq!(
            store.path_for("my-blog").unwrap(),
            Path::new("/tmp/projects/my-blog.json")
        );
    }

    #[test]
    fn missing_directory_lists_empty_and_load_says_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let store = ProjectStore::new(dir.path().join("nope"));
        assert!(store.list().unwrap().is_empty());
        let err = store.load("ghost").unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
        assert!(err.to_string().contains("pockitect projects"), "{err}");
    }
}
