//! `login` and `logout`: the AWS credentials of `pockitect login`.
//!
//! The CLI never links the AWS SDK, so it cannot check keys itself; and keys must not travel on
//! the bus (whoever reads Redis would have them). So the CLI writes the keys it read (and later
//! the MFA code) as a *pending* entry in this user's secret store (the OS keyring, else a 0600
//! file) and sends `login` naming its host. The daemon, which reads the same store because it
//! runs on that host as that user (another host is refused), checks them with STS
//! GetCallerIdentity; when the user has an MFA device (IAM ListMFADevices; when that is denied,
//! only a device the user named counts) it answers `mfa_required` and leaves the entry pending
//! until the CLI adds a code; then STS GetSessionToken opens a session. What works becomes the
//! *active* entry, read by the daemon's one credentials provider (`pockitect_aws::credentials`)
//! at once here and within seconds in every other daemon of this user on this host. Anything
//! that fails removes the pending entry. Only long-term keys *or* a session are kept, never
//! both: after an MFA login the long-term secret is dropped, so what is stored ends with the
//! session (a new `pockitect login` asks for the keys again).

use chrono::{DateTime, Utc};
use pockitect_aws::AwsError;
use pockitect_aws::login::{Keys, user_name};
use pockitect_proto::payload::{LoginAnswer, LoginState, LogoutAnswer};
use pockitect_proto::{ErrorCode, Event, LoginArgs, LogoutArgs};
use pockitect_secrets::{AwsKeys, AwsLogin, SecretError, key_id_last4};

use crate::Daemon;
use crate::events::{HandlerError, Outcome};

fn invalid(message: String) -> HandlerError {
    HandlerError::new(ErrorCode::InvalidArguments, message)
}

fn store_error(e: SecretError) -> HandlerError {
    HandlerError::new(ErrorCode::Internal, format!("the secret store: {e}"))
}

/// The store is this host's and this user's: a request from elsewhere is refused.
fn check_host(host: &str, command: &str) -> Result<(), HandlerError> {
    let here = gethostname::gethostname().to_string_lossy().into_owned();
    if host == here {
        return Ok(());
    }
    Err(invalid(format!(
        "data.host: the request comes from host '{}' but this daemon runs on '{here}': '{command}' works on the secret store (OS keyring or 0600 files) of the daemon's host and user, which the CLI on another host cannot reach; run 'pockitect {command}' on '{here}' as the user the daemon runs as, or give the daemons of that host their credentials through the standard AWS chain (environment, profile, instance role)",
        host.chars().take(128).collect::<String>()
    )))
}

pub async fn login(args: LoginArgs, daemon: &Daemon) -> Result<Outcome, HandlerError> {
    check_host(&args.host, "login")?;
    if let Some(profile) = args.profile {
        return login_profile(profile, daemon).await;
    }
    let store = &daemon.secrets;
    let Some((pending, _)) = store.pending_login().map_err(store_error)? else {
        return Err(HandlerError::new(
            ErrorCode::NotFound,
            format!(
                "no credentials are waiting to be checked in {}: run 'pockitect login', which puts them there; the CLI and the daemon must use the same secret store (--secrets / POCKITECT_SECRETS and POCKITECT_SECRETS_DIR)",
                store.describe()
            ),
        ));
    };
    let last4 = key_id_last4(&pending.access_key_id);
    // Whatever fails from here removes the pending entry: nothing half-checked stays stored.
    let forget = |e: HandlerError| {
        if let Err(d) = store.delete_pending_login() {
            tracing::warn!(error = %d, "could not remove the pending login entry");
        }
        e
    };
    let keys = Keys {
        access_key_id: pending.access_key_id.clone(),
        secret_access_key: pending.secret_access_key.clone(),
        session_token: None,
    };
    let identity = daemon
        .aws
        .identity_of_keys(&keys)
        .await
        .map_err(|e| forget(refused_keys(&last4, &e)))?;
    tracing::info!(account = %identity.account, principal = %identity.arn, key_id_last4 = %last4, "login: the keys are valid");

    let serial = match (&pending.mfa_serial, user_name(&identity.arn)) {
        (Some(s), _) => Some(s.clone()),
        (None, Some(user)) => match daemon.aws.mfa_devices(&keys, user).await {
            Ok(devices) => devices.into_iter().next(),
            Err(e) if e.is_access_denied() => {
                tracing::info!(error = %e, "login: cannot list the user's MFA devices; only a device named with --mfa-serial is used");
                None
            }
            Err(e) => {
                return Err(forget(HandlerError::new(
                    ErrorCode::Aws,
                    format!(
                        "could not ask IAM for the MFA devices of '{user}' ({e}); nothing was stored: try again, or name the device with 'pockitect login --mfa-serial ARN'"
                    ),
                )));
            }
        },
        (None, None) => None,
    };

    let (active, expires_at) = match (&serial, &pending.mfa_code) {
        (Some(serial), None) => {
            tracing::info!(principal = %identity.arn, mfa_serial = %serial, "login: an MFA code is needed");
            return Ok(Outcome::success(Event::Login(LoginAnswer {
                state: LoginState::MfaRequired,
                message: format!(
                    "{} has the MFA device '{serial}': enter its current code",
                    identity.arn
                ),
                identity: Some(identity),
                key_id_last4: Some(last4),
                profile: None,
                mfa_serial: Some(serial.clone()),
                expires_at: None,
                stored_in: None,
            })));
        }
        (Some(serial), Some(code)) => {
            let session = daemon
                .aws
                .session_token(&keys, serial, code, None)
                .await
                .map_err(|e| {
                    forget(HandlerError::new(
                        if e.is_access_denied() {
                            ErrorCode::AccessDenied
                        } else {
                            ErrorCode::Aws
                        },
                        format!(
                            "STS did not open an MFA session with device '{serial}' ({}: {}); nothing was stored: run 'pockitect login' again with a fresh code (codes are valid once, for about 30 seconds)",
                            e.code(),
                            e.message()
                        ),
                    ))
                })?;
            let end = DateTime::<Utc>::from(session.expires_at);
            (
                AwsKeys {
                    access_key_id: session.keys.access_key_id,
                    secret_access_key: session.keys.secret_access_key,
                    session_token: session.keys.session_token,
                    expires_at: Some(end.timestamp()),
                    mfa_serial: Some(serial.clone()),
                },
                Some(end),
            )
        }
        (None, _) => (
            AwsKeys {
                access_key_id: pending.access_key_id.clone(),
                secret_access_key: pending.secret_access_key.clone(),
                session_token: None,
                expires_at: None,
                mfa_serial: None,
            },
            None,
        ),
    };
    let stored_in = store
        .set_aws_login(&AwsLogin::Keys(active))
        .map_err(|e| forget(store_error(e)))?;
    store.delete_pending_login().map_err(store_error)?;
    daemon.aws.reload_credentials().await;
    tracing::info!(account = %identity.account, principal = %identity.arn, key_id_last4 = %last4, mfa = serial.is_some(), "login: signed in");
    let message = match expires_at {
        Some(end) => format!(
            "signed in as {} (account {}) with an MFA session of key …{last4} until {}; kept in {stored_in}",
            identity.arn,
            identity.account,
            end.format("%Y-%m-%d %H:%M UTC")
        ),
        None => format!(
            "signed in as {} (account {}) with key …{last4}; kept in {stored_in}",
            identity.arn, identity.account
        ),
    };
    Ok(Outcome::success(Event::Login(LoginAnswer {
        state: LoginState::SignedIn,
        identity: Some(identity),
        key_id_last4: Some(last4),
        profile: None,
        mfa_serial: serial,
        expires_at,
        stored_in: Some(stored_in.to_string()),
        message,
    })))
}

/// Keys STS would not take: its code, and what to do.
fn refused_keys(last4: &str, e: &AwsError) -> HandlerError {
    if e.is_access_denied() {
        HandlerError::new(
            ErrorCode::AccessDenied,
            format!(
                "AWS refused the keys (key …{last4}): {}: {}; nothing was stored: check the access key id and secret (IAM console → Users → Security credentials; a deactivated or deleted key is refused too), then run 'pockitect login' again",
                e.code(),
                e.message()
            ),
        )
    } else {
        HandlerError::new(
            ErrorCode::Aws,
            format!(
                "could not check the keys (key …{last4}) with STS: {e}; nothing was stored: try again once AWS answers"
            ),
        )
    }
}

async fn login_profile(profile: String, daemon: &Daemon) -> Result<Outcome, HandlerError> {
    if profile.trim().is_empty() || profile.len() > 256 {
        return Err(invalid(
            "data.profile: give the name of a profile of the shared AWS config files".to_owned(),
        ));
    }
    let identity = daemon
        .aws
        .identity_of_profile(&profile)
        .await
        .map_err(|e| {
            HandlerError::new(
                if e.is_access_denied() {
                    ErrorCode::AccessDenied
                } else {
                    ErrorCode::Aws
                },
                format!(
                    "the profile '{profile}' does not work on this daemon's host ({e}); nothing was changed: check it with 'aws sts get-caller-identity --profile {profile}' (for SSO, 'aws sso login --profile {profile}' first)"
                ),
            )
        })?;
    let store = &daemon.secrets;
    let stored_in = store
        .set_aws_login(&AwsLogin::Profile {
            name: profile.clone(),
        })
        .map_err(store_error)?;
    // Keys typed earlier and never checked have no business staying.
    store.delete_pending_login().map_err(store_error)?;
    daemon.aws.reload_credentials().await;
    tracing::info!(account = %identity.account, principal = %identity.arn, profile = %profile, "login: signed in with a profile");
    Ok(Outcome::success(Event::Login(LoginAnswer {
        state: LoginState::SignedIn,
        message: format!(
            "signed in as {} (account {}) with the profile '{profile}'; the choice is kept in {stored_in}",
            identity.arn, identity.account
        ),
        identity: Some(identity),
        key_id_last4: None,
        profile: Some(profile),
        mfa_serial: None,
        expires_at: None,
        stored_in: Some(stored_in.to_string()),
    })))
}

pub async fn logout(args: LogoutArgs, daemon: &Daemon) -> Result<Outcome, HandlerError> {
    check_host(&args.host, "logout")?;
    let store = &daemon.secrets;
    let removed = store.delete_aws_login().map_err(store_error)?;
    let pending = store.delete_pending_login().map_err(store_error)?;
    daemon.aws.reload_credentials().await;
    let now_using = daemon.aws.credentials_info().await;
    tracing::info!(removed, "logout: the standard AWS chain is in use");
    let message = if removed || pending {
        "signed out: the stored AWS credentials are removed; the daemon uses the standard AWS chain (environment, profile, SSO, instance role)".to_owned()
    } else {
        "no AWS credentials were stored; the daemon uses the standard AWS chain".to_owned()
    };
    Ok(Outcome::success(Event::Logout(LogoutAnswer {
        removed: removed || pending,
        now_using,
        message,
    })))
}
