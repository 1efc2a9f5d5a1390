//! The AWS accounts a daemon works on (`--accounts`): named profiles, IAM roles to assume, or
//! every member of an AWS Organization (`org:ROLE_NAME`, the role assumed in each member
//! account). Each becomes an [`Aws`] acting in that account, checked with STS before it is
//! used; an account that cannot be reached is reported and the others go on.

use std::fmt;
use std::str::FromStr;

use aws_credential_types::provider::SharedCredentialsProvider;
use futures::StreamExt;

use crate::{Aws, AwsError, Identity};

/// One item of `--accounts`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountSpec {
    /// A named profile of the shared config files (its keys, SSO or role chain).
    Profile(String),
    /// `arn:aws:iam::111111111111:role/Name`: assumed from the daemon's own credentials.
    Role(String),
    /// `org:ROLE_NAME`: every active account of the Organization the daemon's credentials
    /// manage, through `arn:aws:iam::<member>:role/ROLE_NAME` (the management account itself
    /// with the daemon's own credentials).
    Org(String),
}

impl fmt::Display for AccountSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountSpec::Profile(p) => write!(f, "profile '{p}'"),
            AccountSpec::Role(arn) => write!(f, "role '{arn}'"),
            AccountSpec::Org(role) => write!(f, "org:{role}"),
        }
    }
}

/// Why an `--accounts` item cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("accounts: '{item}' {why}")]
pub struct BadSpec {
    pub item: String,
    pub why: String,
}

impl FromStr for AccountSpec {
    type Err = BadSpec;

    fn from_str(s: &str) -> Result<Self, BadSpec> {
        let item = s.trim();
        let bad = |why: &str| BadSpec {
            item: item.chars().take(120).collect(),
            why: why.to_owned(),
        };
        if let Some(role) = item.strip_prefix("org:") {
            return if valid_role_name(role) {
                Ok(AccountSpec::Org(role.to_owned()))
            } else {
                Err(bad(
                    "names no valid role: write org:ROLE_NAME, e.g. org:OrganizationAccountAccessRole",
                ))
            };
        }
        if item.starts_with("arn:") {
            return role_arn_account(item)
                .map(|_| AccountSpec::Role(item.to_owned()))
                .ok_or_else(|| {
                    bad("is not an IAM role ARN: write arn:aws:iam::111111111111:role/Name")
                });
        }
        if item.is_empty() {
            return Err(bad("is empty: give a profile, a role ARN or org:ROLE_NAME"));
        }
        if item
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@+".contains(c))
        {
            Ok(AccountSpec::Profile(item.to_owned()))
        } else {
            Err(bad(
                "is neither a profile name, a role ARN (arn:aws:iam::111111111111:role/Name) nor \
                 org:ROLE_NAME",
            ))
        }
    }
}

/// Reads a comma-separated `--accounts` list; an empty list means the credentials' own account.
pub fn parse_list(list: &str) -> Result<Vec<AccountSpec>, BadSpec> {
    let mut specs: Vec<AccountSpec> = Vec::new();
    for item in list.split(',').filter(|i| !i.trim().is_empty()) {
        let spec: AccountSpec = item.parse()?;
        if !specs.contains(&spec) {
            specs.push(spec);
        }
    }
    Ok(specs)
}

/// The account id of `arn:aws[-partition]:iam::<12 digits>:role/<path/>Name`.
fn role_arn_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let name = resource.strip_prefix("role/")?.rsplit('/').next()?;
    (partition.starts_with("aws")
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && valid_role_name(name))
    .then_some(account)
}

/// IAM role names: 1 to 64 of letters, digits and `+=,.@_-`.
fn valid_role_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

/// An account the daemon can act in.
#[derive(Clone, Debug)]
pub struct Account {
    /// What the user wrote (`profile 'prod'`, `role '…'`, `org:Role → 222222222222`).
    pub label: String,
    /// Who the credentials are there (STS).
    pub identity: Identity,
    pub aws: Aws,
}

/// An account that could not be reached, and why.
#[derive(Debug)]
pub struct Unreachable {
    pub label: String,
    pub error: AwsError,
}

/// Every account of `specs` that answers STS, and those that do not. With no specs: the
/// credentials' own account. Accounts reached twice (a profile and a role into the same
/// account) are kept once, the first.
pub async fn resolve(base: &Aws, specs: &[AccountSpec]) -> (Vec<Account>, Vec<Unreachable>) {
    let mut candidates: Vec<(String, Aws)> = Vec::new();
    let mut failed: Vec<Unreachable> = Vec::new();
    if specs.is_empty() {
        candidates.push(("the credentials' own account".to_owned(), base.clone()));
    }
    for spec in specs {
        match spec {
            AccountSpec::Profile(p) => {
                candidates.push((spec.to_string(), base.with_profile(p).await))
            }
            AccountSpec::Role(arn) => {
                candidates.push((spec.to_string(), base.assume_role(arn).await))
            }
            AccountSpec::Org(role) => match org_members(base).await {
                Ok((management, members)) => {
                    for id in members {
                        let label = format!("{spec} → {id}");
                        if Some(&id) == management.as_ref() {
                            candidates.push((label, base.clone()));
                        } else {
                            let arn = format!("arn:aws:iam::{id}:role/{role}");
                            candidates.push((label, base.assume_role(&arn).await));
                        }
                    }
                }
                Err(error) => failed.push(Unreachable {
                    label: spec.to_string(),
                    error,
                }),
            },
        }
    }
    // Every account checked with STS at once: a role that cannot be assumed fails here.
    let checked = futures::stream::iter(candidates)
        .map(|(label, aws)| async move {
            let id = aws.identity().await;
            (label, aws, id)
        })
        .buffered(8)
        .collect::<Vec<_>>()
        .await;
    let mut accounts: Vec<Account> = Vec::new();
    for (label, aws, id) in checked {
        match id {
            Ok(identity)
                if accounts
                    .iter()
                    .any(|a| a.identity.account == identity.account) =>
            {
                tracing::info!(account = %identity.account, %label, "account listed twice; kept once");
            }
            Ok(identity) => accounts.push(Account {
                label,
                identity,
                aws,
            }),
            Err(error) => failed.push(Unreachable { label, error }),
        }
    }
    (accounts, failed)
}

/// The management account's id (the credentials' own, when they are the management
/// account's) and the active member accounts, from Organizations ListAccounts.
async fn org_members(base: &Aws) -> Result<(Option<String>, Vec<String>), AwsError> {
    let op = "organizations:ListAccounts";
    let own = base.identity().await.ok().map(|i| i.account);
    let mut pages = base.organizations().list_accounts().into_paginator().send();
    let mut ids = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk(op, "us-east-1", e))?;
        for a in page.accounts() {
            let active = match (a.state(), a.status()) {
                (Some(s), _) => s.as_str() == "ACTIVE",
                (None, Some(s)) => s.as_str() == "ACTIVE",
                (None, None) => true,
            };
            if active && let Some(id) = a.id() {
                ids.push(id.to_owned());
            }
        }
    }
    ids.sort();
    ids.dedup();
    Ok((own, ids))
}

impl Aws {
    /// The same settings, acting as `role_arn`: credentials from STS AssumeRole with this
    /// daemon's own, refreshed before they expire.
    pub async fn assume_role(&self, role_arn: &str) -> Aws {
        let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
            .session_name("pockitect")
            .configure(self.sdk())
            .build()
            .await;
        let sdk = self
            .sdk()
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            // The base configuration caches nothing (its provider does); a role's credentials
            // are cached by the SDK until shortly before they end.
            .identity_cache(aws_config::identity::IdentityCache::lazy().build())
            .build();
        self.with_sdk(sdk)
    }

    /// The same settings with the credentials of a named profile.
    pub async fn with_profile(&self, profile: &str) -> Aws {
        let mut settings = self.settings().clone();
        settings.profile = Some(profile.to_owned());
        settings.static_credentials = None;
        // The profile's own credentials, not those of `pockitect login`.
        settings.credentials_store = None;
        Aws::load(settings).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_profiles_roles_or_an_organization() {
        assert_eq!(
            parse_list("prod, arn:aws:iam::111111111111:role/Audit,org:OrgAccess,prod").unwrap(),
            vec![
                AccountSpec::Profile("prod".into()),
                AccountSpec::Role("arn:aws:iam::111111111111:role/Audit".into()),
                AccountSpec::Org("OrgAccess".into()),
            ]
        );
        assert_eq!(parse_list(" , ").unwrap(), vec![]);
        assert!(
            "arn:aws:iam::111111111111:role/path/to/Name"
                .parse::<AccountSpec>()
                .is_ok()
        );
        assert!(
            "arn:aws-us-gov:iam::111111111111:role/N"
                .parse::<AccountSpec>()
                .is_ok()
        );
    }

    #[test]
    fn bad_items_name_themselves_and_the_forms_that_work() {
        for (item, says) in [
            (
                "arn:aws:iam::12:role/Bad",
                "arn:aws:iam::111111111111:role/Name",
            ),
            (
                "arn:aws:iam::111111111111:user/Bob",
                "is not an IAM role ARN",
            ),
            ("org:", "org:ROLE_NAME"),
            ("my profile", "neither a profile name"),
        ] {
            let e = item.parse::<AccountSpec>().unwrap_err().to_string();
            assert!(e.contains(&format!("'{item}'")) && e.contains(says), "{e}");
        }
    }
}
