//! The OS keyring through the `keyring` crate: macOS Keychain, Windows Credential Manager, and on
//! Linux the Secret Service (GNOME Keyring, KWallet, KeePassXC) over the session D-Bus.

use keyring::{Entry, Error};

/// The service name every Pockitect secret is filed under; the account is `<slug>.db-password`,
/// `aws-login` or `aws-login.pending`.
pub const SERVICE: &str = "pockitect";

const PROBE_ACCOUNT: &str = "pockitect-probe";

#[derive(Clone, Debug)]
pub struct KeyringStore;

impl KeyringStore {
    /// The keyring, if this process can reach one: a lookup that answers "no such entry" is proof
    /// enough. The error says why not (no D-Bus session, no Secret Service, …).
    pub fn probe() -> Result<Self, String> {
        let entry = Entry::new(SERVICE, PROBE_ACCOUNT).map_err(describe)?;
        match entry.get_password() {
            Ok(_) | Err(Error::NoEntry) => Ok(Self),
            Err(e) => Err(describe(e)),
        }
    }

    pub fn get(&self, account: &str) -> Result<Option<String>, String> {
        match Entry::new(SERVICE, account).and_then(|e| e.get_password()) {
            Ok(p) => Ok(Some(p)),
            Err(Error::NoEntry) => Ok(None),
            Err(e) => Err(describe(e)),
        }
    }

    pub fn set(&self, account: &str, secret: &str) -> Result<(), String> {
        Entry::new(SERVICE, account)
            .and_then(|e| e.set_password(secret))
            .map_err(describe)
    }

    pub fn delete(&self, account: &str) -> Result<bool, String> {
        match Entry::new(SERVICE, account).and_then(|e| e.delete_credential()) {
            Ok(()) => Ok(true),
            Err(Error::NoEntry) => Ok(false),
            Err(e) => Err(describe(e)),
        }
    }
}

/// One line a user can act on; the keyring's own errors can span several.
fn describe(e: Error) -> String {
    let text = match &e {
        Error::PlatformFailure(inner) | Error::NoStorageAccess(inner) => inner.to_string(),
        other => other.to_string(),
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
