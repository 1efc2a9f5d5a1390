//! Watches the projects directory: a blueprint edited by hand is validated and announced
//! (`project_updated`, or `project_invalid` with every problem). The daemon's own writes do
//! not echo: each write records the file's content hash, and a file whose content matches the
//! last known hash is not announced. With several daemons on one directory, a Redis key per
//! (project, content) lets only the first announce it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use pockitect_blueprint::{ProjectStore, ValidationContext, validate};
use pockitect_proto::payload::ProjectChanged;
use pockitect_proto::{Envelope, Event, Status};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::Daemon;

/// A stable hash of a file's bytes (same on every daemon).
pub fn content_hash(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

fn slug_of(path: &Path) -> Option<String> {
    if path.extension().and_then(|e| e.to_str()) != Some("json") {
        return None;
    }
    let stem = path.file_stem()?.to_str()?;
    // Temp files of atomic writes start with '.'.
    (!stem.starts_with('.')).then(|| stem.to_owned())
}

pub async fn run(daemon: Arc<Daemon>, token: CancellationToken) {
    let dir = daemon.settings.projects_dir.clone();
    let (tx, mut rx) = mpsc::channel::<PathBuf>(1024);
    let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res
            && (ev.kind.is_modify() || ev.kind.is_create())
        {
            for p in ev.paths {
                let _ = tx.try_send(p);
            }
        }
    });
    let mut watcher = match watcher {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the projects directory; hand edits are seen at the next command");
            return;
        }
    };
    if let Err(e) = watcher.watch(&dir, RecursiveMode::NonRecursive) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot watch the projects directory");
        return;
    }
    // Remember what is there now, so start-up does not announce every file.
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            if let (Some(slug), Ok(bytes)) = (slug_of(&e.path()), std::fs::read(e.path())) {
                daemon.remember_project(&slug, content_hash(&bytes));
            }
        }
    }
    loop {
        let first = tokio::select! {
            biased;
            _ = token.cancelled() => break,
            p = rx.recv() => match p { Some(p) => p, None => break },
        };
        // Editors write in bursts: collect for a moment, then look once per file.
        let mut batch = HashSet::from([first]);
        let settle = tokio::time::sleep(Duration::from_millis(150));
        tokio::pin!(settle);
        loop {
            tokio::select! {
                _ = &mut settle => break,
                Some(p) = rx.recv() => { batch.insert(p); }
            }
        }
        for path in batch {
            if let Some(slug) = slug_of(&path) {
                announce(&daemon, &path, &slug).await;
            }
        }
    }
    drop(watcher);
}

async fn announce(daemon: &Daemon, path: &Path, slug: &str) {
    let Ok(bytes) = std::fs::read(path) else {
        return;
    };
    let hash = content_hash(&bytes);
    if !daemon.remember_project(slug, hash) {
        return; // our own write, or no change
    }
    let key = format!("watch:{slug}:{hash:016x}");
    if !daemon
        .bus
        .first_to_claim(&key, Duration::from_secs(3600))
        .await
        .unwrap_or(true)
    {
        return; // another daemon announced it
    }
    let changed = |status, message: String, warnings: Vec<String>, errors: Vec<String>| {
        let change = ProjectChanged {
            project: slug.to_owned(),
            message,
            warnings,
            errors,
        };
        let event = if status == Status::Success {
            Event::ProjectUpdated(change)
        } else {
            Event::ProjectInvalid(change)
        };
        Envelope::of(event, None, Some(slug.to_owned()), status)
    };
    let env = match ProjectStore::load_path(path) {
        Ok(bp) => {
            let report = validate(&bp, &ValidationContext::offline());
            let errors: Vec<String> = report.errors.iter().map(ToString::to_string).collect();
            if report.is_ok() {
                changed(
                    Status::Success,
                    format!("blueprint '{slug}' changed and is valid"),
                    report.warnings.iter().map(ToString::to_string).collect(),
                    errors,
                )
            } else {
                changed(
                    Status::Error,
                    format!(
                        "blueprint '{slug}' changed and is invalid: {}",
                        errors.join("; ")
                    ),
                    Vec::new(),
                    errors,
                )
            }
        }
        Err(e) => changed(
            Status::Error,
            format!("blueprint '{slug}' cannot be read: {e}"),
            Vec::new(),
            vec![e.to_string()],
        ),
    };
    tracing::info!(project = %slug, kind = %env.kind, "blueprint edited by hand");
    if let Err(e) = daemon.bus.publish_event(&env).await {
        tracing::warn!(error = %e, "could not announce a blueprint change");
    }
}
