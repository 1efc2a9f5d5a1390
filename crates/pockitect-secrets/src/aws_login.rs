//! The AWS credentials of `pockitect login`, kept like every other secret: in the OS keyring
//! (service `pockitect`, account `aws-login`), else in a 0600 file (`aws-login.json` in the
//! secrets directory). Two entries: the *active* one, which the daemon's credentials provider
//! reads, and a *pending* one, which the CLI writes for the daemon to validate (so no key, and
//! no MFA code, ever travels on the bus). Their `Debug` never shows a secret.

use serde::{Deserialize, Serialize};

/// Keyring account (and file name stem) of the active credentials.
pub(crate) const ACTIVE: &str = "aws-login";
/// Keyring account (and file name stem) of credentials waiting for the daemon's check.
pub(crate) const PENDING: &str = "aws-login.pending";

/// What `pockitect login` keeps: keys (long-term ones, or an MFA session's), or the name of a
/// profile of the shared AWS config files (not secret; kept here so one place says which
/// credentials are in use).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AwsLogin {
    Keys(AwsKeys),
    Profile { name: String },
}

/// An access key pair, with the session token and its end when it is an MFA session.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsKeys {
    pub access_key_id: String,
    pub secret_access_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
    /// When the session ends (Unix seconds); none for long-term keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// The MFA device the session was opened with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_serial: Option<String>,
}

/// Keys typed into `pockitect login`, waiting for the daemon to check them with STS; with the
/// MFA device and the code once the daemon asked for one.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingLogin {
    pub access_key_id: String,
    pub secret_access_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_serial: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_code: Option<String>,
}

/// The last four characters of an access key id: all that is ever shown of it.
pub fn key_id_last4(access_key_id: &str) -> String {
    let chars: Vec<char> = access_key_id.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

impl std::fmt::Debug for AwsKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsKeys")
            .field(
                "access_key_id",
                &format!("…{}", key_id_last4(&self.access_key_id)),
            )
            .field("secret_access_key", &"***")
            .field("session_token", &self.session_token.as_ref().map(|_| "***"))
            .field("expires_at", &self.expires_at)
            .field("mfa_serial", &self.mfa_serial)
            .finish()
    }
}

impl std::fmt::Debug for AwsLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Keys(k) => k.fmt(f),
            Self::Profile { name } => f.debug_struct("Profile").field("name", name).finish(),
        }
    }
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin")
            .field(
                "access_key_id",
                &format!("…{}", key_id_last4(&self.access_key_id)),
            )
            .field("secret_access_key", &"***")
            .field("mfa_serial", &self.mfa_serial)
            .field("mfa_code", &self.mfa_code.as_ref().map(|_| "***"))
            .finish()
    }
}

/// A JSON error without the text it was reading (which holds secrets): where and what kind.
pub(crate) fn describe_json_error(e: &serde_json::Error) -> String {
    let kind = match e.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "not the expected fields",
        serde_json::error::Category::Eof => "cut short",
    };
    format!("{kind} (line {}, column {})", e.line(), e.column())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_secret_and_only_the_key_ids_last_four() {
        let k = AwsLogin::Keys(AwsKeys {
            access_key_id: "AKIAEXAMPLE1234WXYZ".into(),
            secret_access_key: "SecretSecretSecret".into(),
            session_token: Some("TokenTokenToken".into()),
            expires_at: Some(1),
            mfa_serial: None,
        });
        let p = PendingLogin {
            access_key_id: "AKIAEXAMPLE1234WXYZ".into(),
            secret_access_key: "SecretSecretSecret".into(),
            mfa_serial: None,
            mfa_code: Some("123456".into()),
        };
        for text in [format!("{k:?}"), format!("{p:?}")] {
            assert!(text.contains("…WXYZ"), "{text}");
            for secret in ["Secret", "Token", "123456", "AKIAEXAMPLE"] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
        }
        assert_eq!(key_id_last4("AB"), "AB");
    }

    #[test]
    fn json_errors_do_not_quote_the_text() {
        let e = serde_json::from_str::<AwsLogin>(r#"{"kind":"Sekrit-Value"}"#).unwrap_err();
        assert!(
            e.to_string().contains("Sekrit-Value"),
            "serde quotes it: {e}"
        );
        let text = describe_json_error(&e);
        assert!(!text.contains("Sekrit"), "{text}");
        assert!(text.starts_with("not the expected fields"), "{text}");
    }
}
