//! The accounts this daemon acts in (`--accounts`), resolved to AWS handles and kept: a scan
//! asks them afresh (an Organization's members change), and every request that acts in one
//! account (a scan's shard) takes its handle from here, so a role is assumed once per daemon,
//! not once per request. The one rule lives here too: a daemon acts only in an account of its
//! own list (or, with none, in its credentials' own account), whoever asks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pockitect_aws::Aws;
use pockitect_aws::accounts::{Account, AccountSpec, Unreachable, resolve};
use pockitect_proto::ErrorCode;
use tokio::sync::Mutex;

use crate::events::HandlerError;

/// How long a resolved list serves requests naming an account before it is asked again.
const FRESH: Duration = Duration::from_secs(15 * 60);

/// The accounts of `--accounts`, as last resolved.
pub struct Accounts {
    base: Aws,
    specs: Vec<AccountSpec>,
    resolved: Mutex<Option<(Instant, Arc<Resolved>)>>,
}

/// Every account of the list that answered STS, and those that did not.
pub struct Resolved {
    pub accounts: Vec<Account>,
    pub unreachable: Vec<Unreachable>,
}

impl Accounts {
    pub fn new(base: Aws, specs: Vec<AccountSpec>) -> Self {
        Self {
            base,
            specs,
            resolved: Mutex::new(None),
        }
    }

    /// True when the daemon works on a list of accounts rather than its credentials' own.
    pub fn is_many(&self) -> bool {
        !self.specs.is_empty()
    }

    /// Every account, asked now (and kept for the requests that follow).
    pub async fn resolve(&self) -> Arc<Resolved> {
        let (accounts, unreachable) = resolve(&self.base, &self.specs).await;
        let fresh = Arc::new(Resolved {
            accounts,
            unreachable,
        });
        *self.resolved.lock().await = Some((Instant::now(), fresh.clone()));
        fresh
    }

    /// The handle acting in account `id` (the credentials' own handle when `id` is None).
    /// An id not in the kept list is asked once more (a member may have joined the
    /// Organization since); one that is still not there is refused, naming the daemon's list.
    pub async fn handle(&self, id: Option<&str>) -> Result<Aws, HandlerError> {
        let Some(id) = id else {
            return Ok(self.base.clone());
        };
        if !self.is_many() {
            return match self.base.account().await {
                Some(own) if own == id => Ok(self.base.clone()),
                own => Err(not_ours(
                    id,
                    &format!(
                        "this daemon works on its credentials' own account ({}) only",
                        own.as_deref().unwrap_or("unknown: STS does not answer")
                    ),
                )),
            };
        }
        let kept = {
            let guard = self.resolved.lock().await;
            guard
                .as_ref()
                .filter(|(at, _)| at.elapsed() < FRESH)
                .map(|(_, r)| r.clone())
        };
        let find = |r: &Resolved| {
            r.accounts
                .iter()
                .find(|a| a.identity.account == id)
                .map(|a| a.aws.clone())
        };
        if let Some(aws) = kept.as_deref().and_then(find) {
            return Ok(aws);
        }
        // Not kept (or not fresh): asked once, now.
        if let Some(aws) = find(&*self.resolve().await) {
            return Ok(aws);
        }
        Err(not_ours(
            id,
            &format!("this daemon's --accounts ({}) do not reach it", self.list()),
        ))
    }
}

impl Accounts {
    /// The handle acting in the account a blueprint names (`project.account`): an account id
    /// or a profile of this daemon's `--accounts`; the credentials' own account when it names
    /// none. Refused, before any AWS call on the project, when the daemon cannot act there.
    pub async fn for_project(&self, account: Option<&str>) -> Result<Aws, HandlerError> {
        let Some(account) = account else {
            return Ok(self.base.clone());
        };
        if pockitect_blueprint::is_account_id(account) {
            return self.handle(Some(account)).await.map_err(|e| {
                HandlerError::new(
                    ErrorCode::InvalidBlueprint,
                    format!("project.{}", e.message),
                )
            });
        }
        let spec = AccountSpec::Profile(account.to_owned());
        if !self.specs.contains(&spec) {
            return Err(HandlerError::new(
                ErrorCode::InvalidBlueprint,
                format!(
                    "project.account: {spec} is not one of this daemon's --accounts ({}); add it to --accounts (POCKITECT_ACCOUNTS) of every daemon, or name the account by its 12-digit id",
                    self.list()
                ),
            ));
        }
        let label = spec.to_string();
        let resolved = self.resolve().await;
        if let Some(a) = resolved.accounts.iter().find(|a| a.label == label) {
            return Ok(a.aws.clone());
        }
        let why = resolved
            .unreachable
            .iter()
            .find(|u| u.label == label)
            .map(|u| u.error.message())
            .unwrap_or_else(|| "it reaches an account listed earlier".to_owned());
        Err(HandlerError::new(
            ErrorCode::Aws,
            format!("project.account: {spec} cannot be used: {why}"),
        ))
    }

    fn list(&self) -> String {
        if self.specs.is_empty() {
            return "none: only the credentials' own account".to_owned();
        }
        self.specs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn not_ours(id: &str, why: &str) -> HandlerError {
    let shown: String = id.chars().take(32).collect();
    HandlerError::new(
        ErrorCode::InvalidArguments,
        format!(
            "account '{shown}': {why}; give every daemon of the group the same --accounts (POCKITECT_ACCOUNTS), or name an account of that list"
        ),
    )
}
