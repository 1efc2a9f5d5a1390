//! The daemon's shared state: one cheap-to-clone handle (behind an `Arc`), no globals.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use pockitect_aws::{Aws, AwsSettings};
use pockitect_blueprint::ProjectStore;
use pockitect_bus::Bus;
use pockitect_proto::{DaemonHeartbeat, InFlight, RequestId};

use crate::Settings;
use crate::estate::Estate;

pub struct Daemon {
    pub settings: Settings,
    pub bus: Bus,
    pub aws: Aws,
    /// The accounts of `--accounts`, resolved and kept.
    pub accounts: crate::accounts::Accounts,
    /// Scan shards this daemon runs beside its listeners (`--scan-shards`).
    pub shard_slots: Arc<tokio::sync::Semaphore>,
    pub estate: Estate,
    pub projects: ProjectStore,
    /// Database passwords: the OS keyring, or 0600 files when none works (said at start).
    pub secrets: pockitect_secrets::SecretStore,
    /// The audit trail's daily files and the AWS identity entries name.
    pub auditor: crate::audit::Auditor,
    /// Prices for estimates: live ones cached, over the bundled table.
    pub prices: crate::prices::PriceBook,
    in_flight: Mutex<HashMap<RequestId, InFlight>>,
    /// Content hash of each blueprint file as last written or seen, so the watcher can tell
    /// the daemon's own writes from hand edits.
    project_hashes: Mutex<HashMap<String, std::collections::VecDeque<u64>>>,
    handled: AtomicU64,
    started_at: DateTime<Utc>,
}

/// The credentials `pockitect login` keeps in `secrets`, as the AWS engine's one credentials
/// path reads them (before the standard chain).
fn login_store(
    secrets: pockitect_secrets::SecretStore,
) -> pockitect_aws::credentials::CredentialsStore {
    use pockitect_aws::credentials::{Selection, Stored};
    use pockitect_secrets::{AwsLogin, Location};
    pockitect_aws::credentials::CredentialsStore::new(move || {
        let Some((login, at)) = secrets.aws_login().map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let kept_in = match at {
            Location::Keyring { .. } => "keyring",
            Location::File { .. } => "file",
        }
        .to_owned();
        let selection = match login {
            AwsLogin::Profile { name } => Selection::Profile(name),
            AwsLogin::Keys(k) => Selection::Keys {
                access_key_id: k.access_key_id,
                secret_access_key: k.secret_access_key,
                session_token: k.session_token,
                expires_at: k.expires_at.map(|s| {
                    std::time::UNIX_EPOCH + std::time::Duration::from_secs(s.max(0).unsigned_abs())
                }),
            },
        };
        Ok(Some(Stored { selection, kept_in }))
    })
}

impl Daemon {
    pub async fn new(
        settings: Settings,
        bus: Bus,
        secrets: pockitect_secrets::SecretStore,
    ) -> Self {
        let mut aws_settings = AwsSettings::default();
        if let Some(url) = &settings.aws_endpoint_url {
            aws_settings.endpoint_url = Some(url.clone());
        }
        if let Some(region) = &settings.aws_home_region {
            aws_settings.home_region = region.clone();
        }
        aws_settings.static_credentials = settings.aws_static_credentials.clone();
        aws_settings.pricing_endpoint_url = settings.pricing_endpoint_url.clone();
        aws_settings.credentials_store = Some(login_store(secrets.clone()));
        let aws = Aws::load(aws_settings).await;
        let estate = Estate::load(&settings.cache_dir);
        let projects = ProjectStore::new(&settings.projects_dir);
        let auditor =
            crate::audit::Auditor::new(settings.audit_dir.clone(), settings.audit_keep_days);
        let prices = crate::prices::PriceBook::load(&settings.cache_dir, settings.live_prices);
        let accounts = crate::accounts::Accounts::new(aws.clone(), settings.accounts.clone());
        let shard_slots = Arc::new(tokio::sync::Semaphore::new(settings.scan_shards));
        Self {
            accounts,
            shard_slots,
            prices,
            auditor,
            settings,
            bus,
            aws,
            estate,
            projects,
            secrets,
            in_flight: Mutex::new(HashMap::new()),
            project_hashes: Mutex::new(HashMap::new()),
            handled: AtomicU64::new(0),
            started_at: Utc::now(),
        }
    }

    pub fn begin(&self, f: InFlight) {
        self.lock().insert(f.request_id.clone(), f);
    }

    /// True while this daemon runs request `id`.
    pub fn is_running(&self, id: &RequestId) -> bool {
        self.lock().contains_key(id)
    }

    pub fn end(&self, id: &RequestId, finished: bool) {
        self.lock().remove(id);
        if finished {
            self.handled.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RequestId, InFlight>> {
        // A panic while holding this lock cannot leave the map half-updated (single inserts
        // and removes), so a poisoned lock is still safe to use.
        self.in_flight.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a blueprint file's content hash; false when it is one of the recent known ones
    /// (the daemon wrote it, or it was already seen). Several recent hashes are kept because a
    /// deploy writes in quick succession and the watcher may read an older one after a newer
    /// one was recorded.
    pub fn remember_project(&self, slug: &str, hash: u64) -> bool {
        let mut map = self
            .project_hashes
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let recent = map.entry(slug.to_owned()).or_default();
        if recent.contains(&hash) {
            return false;
        }
        if recent.len() >= 32 {
            recent.pop_front();
        }
        recent.push_back(hash);
        true
    }

    /// Saves a blueprint atomically, remembering its content *before* the file appears, so
    /// the watcher never mistakes the daemon's own write for a hand edit.
    pub fn save_project(
        &self,
        bp: &pockitect_blueprint::Blueprint,
    ) -> Result<std::path::PathBuf, pockitect_blueprint::Error> {
        let text = pockitect_blueprint::to_json_pretty(bp)?;
        self.remember_project(&bp.slug(), crate::watcher::content_hash(text.as_bytes()));
        self.projects.save(bp)
    }

    pub fn heartbeat(&self) -> DaemonHeartbeat {
        let mut in_flight: Vec<InFlight> = self.lock().values().cloned().collect();
        in_flight.sort_by_key(|f| f.started_at);
        DaemonHeartbeat {
            id: self.settings.daemon_id.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            pid: std::process::id(),
            workers: self.settings.workers,
            in_flight,
            started_at: self.started_at,
            last_seen: Utc::now(),
            handled: self.handled.load(Ordering::Relaxed),
            secrets: Some(
                if self.secrets.uses_keyring() {
                    "keyring"
                } else {
                    "file"
                }
                .to_owned(),
            ),
        }
    }
}
