//! What `pockitect login` needs from AWS, with credentials that are not (yet) the daemon's:
//! who a key pair is (STS GetCallerIdentity), whether its user has an MFA device
//! (IAM ListMFADevices), an MFA session (STS GetSessionToken), and who a profile is.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;

use crate::{Aws, AwsError, Identity};

/// A key pair typed into `pockitect login`, or an MFA session's. `Debug` shows no secret.
#[derive(Clone)]
pub struct Keys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field(
                "key_id_last4",
                &crate::credentials::last4(&self.access_key_id),
            )
            .finish_non_exhaustive()
    }
}

/// An MFA session from STS GetSessionToken.
#[derive(Clone, Debug)]
pub struct Session {
    pub keys: Keys,
    pub expires_at: SystemTime,
}

impl Keys {
    fn provider(&self) -> SharedCredentialsProvider {
        SharedCredentialsProvider::new(Credentials::new(
            self.access_key_id.clone(),
            self.secret_access_key.clone(),
            self.session_token.clone(),
            None,
            "pockitect-login-check",
        ))
    }
}

/// The IAM user name of a principal ARN (`arn:aws:iam::1:user/path/alice` → `alice`); None
/// for anything else (the root user, an assumed role).
pub fn user_name(arn: &str) -> Option<&str> {
    let resource = arn.splitn(6, ':').nth(5)?;
    let rest = resource.strip_prefix("user/")?;
    rest.rsplit('/').next().filter(|n| !n.is_empty())
}

impl Aws {
    fn sts_as(&self, creds: SharedCredentialsProvider) -> aws_sdk_sts::Client {
        let conf = aws_sdk_sts::config::Builder::from(self.sdk())
            .credentials_provider(creds)
            .build();
        aws_sdk_sts::Client::from_conf(conf)
    }

    async fn caller(&self, creds: SharedCredentialsProvider) -> Result<Identity, AwsError> {
        self.caller_identity(&self.sts_as(creds)).await
    }

    /// Who `keys` belong to (STS GetCallerIdentity with them).
    pub async fn identity_of_keys(&self, keys: &Keys) -> Result<Identity, AwsError> {
        self.caller(keys.provider()).await
    }

    /// Who the profile `name` of the shared config files is (its keys, SSO or role).
    pub async fn identity_of_profile(&self, name: &str) -> Result<Identity, AwsError> {
        let provider = aws_config::profile::ProfileFileCredentialsProvider::builder()
            .profile_name(name)
            .build();
        self.caller(SharedCredentialsProvider::new(provider)).await
    }

    /// The MFA devices (serial numbers) of IAM user `user`, asked with `keys`.
    pub async fn mfa_devices(&self, keys: &Keys, user: &str) -> Result<Vec<String>, AwsError> {
        let conf = aws_sdk_iam::config::Builder::from(self.sdk())
            .credentials_provider(keys.provider())
            .build();
        let out = aws_sdk_iam::Client::from_conf(conf)
            .list_mfa_devices()
            .user_name(user)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("iam:ListMFADevices", "global", e))?;
        Ok(out
            .mfa_devices()
            .iter()
            .map(|d| d.serial_number().to_owned())
            .collect())
    }

    /// An MFA session for `keys` (STS GetSessionToken with the device's serial and a code).
    pub async fn session_token(
        &self,
        keys: &Keys,
        serial: &str,
        code: &str,
        duration_secs: Option<i32>,
    ) -> Result<Session, AwsError> {
        let out = self
            .sts_as(keys.provider())
            .get_session_token()
            .serial_number(serial)
            .token_code(code)
            .set_duration_seconds(duration_secs)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("sts:GetSessionToken", self.home_region(), e))?;
        let Some(c) = out.credentials() else {
            return Err(AwsError::Config(
                "STS GetSessionToken answered without credentials".to_owned(),
            ));
        };
        let expires_at = SystemTime::try_from(*c.expiration()).map_err(|_| {
            AwsError::Config("STS GetSessionToken answered an unreadable expiry".to_owned())
        })?;
        Ok(Session {
            keys: Keys {
                access_key_id: c.access_key_id().to_owned(),
                secret_access_key: c.secret_access_key().to_owned(),
                session_token: Some(c.session_token().to_owned()),
            },
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_come_from_user_arns_only() {
        assert_eq!(
            user_name("arn:aws:iam::123456789012:user/alice"),
            Some("alice")
        );
        assert_eq!(
            user_name("arn:aws:iam::123456789012:user/dev/team/bob"),
            Some("bob")
        );
        assert_eq!(user_name("arn:aws:iam::123456789012:root"), None);
        assert_eq!(
            user_name("arn:aws:sts::123456789012:assumed-role/R/s"),
            None
        );
        assert_eq!(user_name("nonsense"), None);
    }
}
