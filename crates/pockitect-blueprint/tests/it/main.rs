//! Integration tests of pockitect-blueprint: legacy fixtures, broken blueprints, slugs, store.

mod broken;
mod canonical;
mod fixtures;
mod hostile;
mod properties;
mod secrets;
mod slugs;
mod store;

use std::path::{Path, PathBuf};

/// The 184 blueprints of the earlier Python Pockitect, kept in the repository
/// (`tests/fixtures/legacy-blueprints`): their absence is a failure, never a skip.
pub fn legacy_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/legacy-blueprints")
}
