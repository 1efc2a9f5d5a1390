//! The one credentials path of the daemon: the credentials `pockitect login` stored (keys, an
//! MFA session, or a profile's name) when there are any, else the standard AWS chain (env,
//! profile, SSO, instance role; or the settings' static keys in tests).
//!
//! The store is read through a function the daemon hands in (this crate knows nothing of the
//! keyring), at most every [`RECHECK`] and at once after [`crate::Aws::reload_credentials`],
//! so a login or logout takes effect in a running daemon (and in every daemon of this user on
//! this host) without a restart. The SDK's own identity cache is switched off for this provider
//! (it would keep stale keys up to 15 minutes): the provider keeps the credentials of the
//! current choice itself and drops them when the choice changes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider};
use pockitect_proto::payload::CredentialsInfo;

/// How often the store is read again for a change made by another process.
pub const RECHECK: Duration = Duration::from_secs(5);

/// Credentials without an end (keys in the environment) are fetched again after this long, as
/// the SDK's own cache does.
const REFETCH: Duration = Duration::from_secs(15 * 60);

/// Credentials that end are fetched again this long before they do.
const EXPIRY_BUFFER: Duration = Duration::from_secs(60);

/// What the store says to use.
#[derive(Clone, PartialEq, Eq)]
pub enum Selection {
    /// Keys stored by `pockitect login`: long-term, or an MFA session with its token and end.
    Keys {
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
        expires_at: Option<SystemTime>,
    },
    /// A profile of the shared config files, chosen with `pockitect login --profile`.
    Profile(String),
}

impl std::fmt::Debug for Selection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Keys {
                access_key_id,
                expires_at,
                ..
            } => f
                .debug_struct("Keys")
                .field("key_id_last4", &last4(access_key_id))
                .field("expires_at", expires_at)
                .finish_non_exhaustive(),
            Self::Profile(p) => f.debug_tuple("Profile").field(p).finish(),
        }
    }
}

/// A selection and where it is kept (`keyring` or `file`), for `doctor`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub selection: Selection,
    pub kept_in: String,
}

type Reader = dyn Fn() -> Result<Option<Stored>, String> + Send + Sync;

/// Reads the stored choice: `Ok(None)` when nothing is stored (the standard chain is used).
/// Called on a blocking thread (a keyring lookup is a D-Bus round trip).
#[derive(Clone)]
pub struct CredentialsStore(Arc<Reader>);

impl CredentialsStore {
    pub fn new(read: impl Fn() -> Result<Option<Stored>, String> + Send + Sync + 'static) -> Self {
        Self(Arc::new(read))
    }
}

impl std::fmt::Debug for CredentialsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CredentialsStore")
    }
}

/// The last four characters of an access key id: all that is ever shown of one.
pub fn last4(access_key_id: &str) -> String {
    let chars: Vec<char> = access_key_id.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

struct Current {
    stored: Option<Stored>,
    /// The profile's provider while a profile is chosen.
    profile: Option<SharedCredentialsProvider>,
    /// Credentials of this choice and when they were fetched.
    cached: Option<(Credentials, Instant)>,
    /// When the store was last read (or a read began); None: read it at the next call.
    checked_at: Option<Instant>,
    /// The last error reading the store, so it is logged once rather than every few seconds.
    read_error: Option<String>,
}

pub(crate) struct Switch {
    /// The standard chain (or the settings' static keys).
    base: SharedCredentialsProvider,
    store: Option<CredentialsStore>,
    current: std::sync::Mutex<Current>,
    /// One fetch at a time, so a burst of calls after a change asks the chain once.
    fetching: tokio::sync::Mutex<()>,
    /// Bumped whenever the choice changes (callers cache what depends on it, like the identity).
    generation: AtomicU64,
}

impl std::fmt::Debug for Switch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Switch")
            .field("stored", &self.lock().stored)
            .field("generation", &self.generation.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Switch {
    pub(crate) fn new(base: SharedCredentialsProvider, store: Option<CredentialsStore>) -> Self {
        Self {
            base,
            store,
            current: std::sync::Mutex::new(Current {
                stored: None,
                profile: None,
                cached: None,
                checked_at: None,
                read_error: None,
            }),
            fetching: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Current> {
        // Every update below is a few plain assignments: a panic cannot leave it half-done.
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads the store now (after a login or logout) and switches to what it says.
    pub(crate) async fn reload(&self) -> u64 {
        self.read_store(true).await
    }

    /// Reads the store when due and switches to what it says; the current generation.
    pub(crate) async fn sync(&self) -> u64 {
        self.read_store(false).await
    }

    async fn read_store(&self, now: bool) -> u64 {
        let Some(store) = &self.store else {
            return self.generation.load(Ordering::Acquire);
        };
        {
            // Claimed before reading, so a burst of calls when it is due reads it once.
            let mut cur = self.lock();
            if !now && cur.checked_at.is_some_and(|t| t.elapsed() < RECHECK) {
                return self.generation.load(Ordering::Acquire);
            }
            cur.checked_at = Some(Instant::now());
        }
        let read = store.0.clone();
        let found = match tokio::task::spawn_blocking(move || read()).await {
            Ok(r) => r,
            Err(e) => Err(format!("the store reader stopped: {e}")),
        };
        let mut cur = self.lock();
        match found {
            Ok(stored) => {
                cur.read_error = None;
                if stored != cur.stored {
                    tracing::info!(
                        source = %describe(stored.as_ref()),
                        "AWS credentials changed"
                    );
                    cur.profile = match stored.as_ref().map(|s| &s.selection) {
                        Some(Selection::Profile(name)) => Some(SharedCredentialsProvider::new(
                            aws_config::profile::ProfileFileCredentialsProvider::builder()
                                .profile_name(name)
                                .build(),
                        )),
                        _ => None,
                    };
                    cur.stored = stored;
                    cur.cached = None;
                    self.generation.fetch_add(1, Ordering::AcqRel);
                }
            }
            Err(e) => {
                // The last choice stays: a keyring that is locked for a moment must not switch
                // the daemon to other credentials.
                if cur.read_error.as_ref() != Some(&e) {
                    tracing::warn!(error = %e, "cannot read the credentials stored by 'pockitect login'; the last ones read stay in use");
                    cur.read_error = Some(e);
                }
            }
        }
        self.generation.load(Ordering::Acquire)
    }

    fn fresh_cached(&self) -> Option<Credentials> {
        let cur = self.lock();
        let (c, at) = cur.cached.as_ref()?;
        let fresh = match c.expiry() {
            Some(end) => end
                .duration_since(SystemTime::now())
                .is_ok_and(|left| left > EXPIRY_BUFFER),
            None => at.elapsed() < REFETCH,
        };
        fresh.then(|| c.clone())
    }

    pub(crate) async fn credentials(&self) -> provider::Result {
        let generation = self.sync().await;
        if let Some(c) = self.fresh_cached() {
            return Ok(c);
        }
        let _one = self.fetching.lock().await;
        if let Some(c) = self.fresh_cached() {
            return Ok(c);
        }
        let (stored, profile) = {
            let cur = self.lock();
            (cur.stored.clone(), cur.profile.clone())
        };
        let fetched = match stored.map(|s| s.selection) {
            Some(Selection::Keys {
                access_key_id,
                secret_access_key,
                session_token,
                expires_at,
            }) => {
                if let Some(end) = expires_at
                    && end <= SystemTime::now()
                {
                    return Err(CredentialsError::not_loaded(expired_message(
                        &access_key_id,
                        end,
                    )));
                }
                // A stored session is used to its end: nothing can renew it but a new login.
                return Ok(Credentials::new(
                    access_key_id,
                    secret_access_key,
                    session_token,
                    expires_at,
                    "pockitect-login",
                ));
            }
            Some(Selection::Profile(name)) => match profile {
                Some(p) => p.provide_credentials().await.map_err(|e| {
                    CredentialsError::provider_error(format!(
                        "the profile '{name}' chosen with 'pockitect login --profile' gives no credentials ({}); fix the profile, or run 'pockitect login' again",
                        crate::error::error_chain(&e)
                    ))
                })?,
                None => return Err(CredentialsError::not_loaded_no_source()),
            },
            None => self.base.provide_credentials().await?,
        };
        let mut cur = self.lock();
        if self.generation.load(Ordering::Acquire) == generation {
            cur.cached = Some((fetched.clone(), Instant::now()));
        }
        Ok(fetched)
    }

    /// Which credentials are in use, for `doctor`: the source, the key id's last four
    /// characters and the session's end. Never a key.
    pub(crate) async fn info(&self) -> CredentialsInfo {
        self.sync().await;
        let stored = self.lock().stored.clone();
        let (source, profile) = match &stored {
            None => ("chain".to_owned(), None),
            Some(Stored {
                selection: Selection::Profile(p),
                ..
            }) => ("profile".to_owned(), Some(p.clone())),
            Some(Stored { kept_in, .. }) => (kept_in.clone(), None),
        };
        let mut info = CredentialsInfo {
            source,
            profile,
            key_id_last4: None,
            expires_at: None,
            error: None,
        };
        match self.credentials().await {
            Ok(c) => {
                info.key_id_last4 = Some(last4(c.access_key_id()));
                info.expires_at = c.expiry().map(chrono::DateTime::<chrono::Utc>::from);
            }
            Err(e) => info.error = Some(crate::error::error_chain(&e)),
        }
        info
    }
}

fn expired_message(access_key_id: &str, end: SystemTime) -> String {
    format!(
        "the MFA session opened by 'pockitect login' (key …{}) ended at {}: run 'pockitect login' to open a new one, or 'pockitect logout' to use the standard AWS credentials",
        last4(access_key_id),
        chrono::DateTime::<chrono::Utc>::from(end).format("%Y-%m-%d %H:%M:%S UTC")
    )
}

fn describe(stored: Option<&Stored>) -> String {
    match stored {
        None => "the standard AWS chain".to_owned(),
        Some(Stored {
            selection: Selection::Profile(p),
            ..
        }) => format!("profile '{p}'"),
        Some(Stored {
            selection:
                Selection::Keys {
                    access_key_id,
                    session_token,
                    ..
                },
            kept_in,
        }) => format!(
            "{} …{} ({kept_in})",
            if session_token.is_some() {
                "MFA session of key"
            } else {
                "key"
            },
            last4(access_key_id)
        ),
    }
}

/// The provider the SDK is given: the [`Switch`], shared with the [`crate::Aws`] that asks it
/// for its generation and for `doctor`'s answer.
#[derive(Clone)]
pub(crate) struct SwitchProvider(pub(crate) Arc<Switch>);

impl std::fmt::Debug for SwitchProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PockitectCredentials")
    }
}

impl ProvideCredentials for SwitchProvider {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(self.0.credentials())
    }
}
