use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;

use crate::AwsError;
use crate::credentials::{CredentialsStore, Switch, SwitchProvider};

/// How the daemon reaches AWS. Credentials: those stored by `pockitect login` when there are
/// any (`credentials_store`), else the standard chain (env, profile, SSO, instance role);
/// nothing else reads them.
#[derive(Clone, Debug)]
pub struct AwsSettings {
    /// Send every call here instead of AWS (`AWS_ENDPOINT_URL`, e.g. a moto sandbox).
    pub endpoint_url: Option<String>,
    /// Ask the AWS Price List API here rather than at `endpoint_url` or AWS (emulators have
    /// none; a test's fake, a proxy).
    pub pricing_endpoint_url: Option<String>,
    /// Region for calls that are not tied to one (STS, IAM, S3 listing, DescribeRegions).
    pub home_region: String,
    /// Named profile of the shared config files, when not the default.
    pub profile: Option<String>,
    /// Attempts per call (first try included) before an error is reported.
    pub max_attempts: u32,
    /// Keys to use instead of the standard chain (tests, benchmarks).
    pub static_credentials: Option<StaticCredentials>,
    /// Where `pockitect login` keeps its credentials; they come before the standard chain.
    pub credentials_store: Option<CredentialsStore>,
}

/// An access key pair. Its `Debug` never shows the secret.
#[derive(Clone)]
pub struct StaticCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"***")
            .finish()
    }
}

impl Default for AwsSettings {
    fn default() -> Self {
        Self {
            endpoint_url: std::env::var("AWS_ENDPOINT_URL")
                .ok()
                .filter(|s| !s.is_empty()),
            home_region: std::env::var("AWS_REGION")
                .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|_| "us-east-1".to_owned()),
            profile: std::env::var("AWS_PROFILE").ok().filter(|s| !s.is_empty()),
            pricing_endpoint_url: None,
            max_attempts: 6,
            static_credentials: None,
            credentials_store: None,
        }
    }
}

/// Who the credentials belong to (STS GetCallerIdentity).
pub use pockitect_proto::payload::AwsIdentity as Identity;

/// Shared AWS configuration; cheap to clone. Clients for a region are built from it on demand
/// (building a client is cheap: they share the HTTP connector and credentials cache).
#[derive(Clone, Debug)]
pub struct Aws {
    sdk: SdkConfig,
    settings: AwsSettings,
    /// The one credentials path (login's stored credentials, else the standard chain); None
    /// for an `Aws` acting through another provider (an assumed role).
    switch: Option<Arc<Switch>>,
    /// Who the credentials are, asked once per credentials generation (records of every
    /// lookup and every audit entry carry it).
    known: Arc<std::sync::Mutex<Option<(u64, Identity)>>>,
    /// When STS last failed to say, for which generation: it is not asked again before
    /// [`IDENTITY_RETRY`], so an unreachable STS costs one slow call a minute, not one per
    /// request.
    failed_at: Arc<std::sync::Mutex<Option<(u64, std::time::Instant)>>>,
}

/// How long a failed identity lookup is remembered.
const IDENTITY_RETRY: Duration = Duration::from_secs(60);

impl Aws {
    /// Loads the configuration once. Retries: standard mode with backoff and jitter, 6 attempts
    /// by default. Each client partitions its retry budget by service and region, so a scan
    /// that hammers one region cannot starve the others of retries.
    pub async fn load(settings: AwsSettings) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::v2026_01_12())
            .region(Region::new(settings.home_region.clone()))
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(settings.max_attempts.max(1))
                    .with_initial_backoff(Duration::from_millis(200))
                    .with_max_backoff(Duration::from_secs(20)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(Duration::from_secs(60))
                    .build(),
            );
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(c) = &settings.static_credentials {
            loader = loader.credentials_provider(aws_credential_types::Credentials::new(
                c.access_key_id.clone(),
                c.secret_access_key.clone(),
                None,
                None,
                "pockitect-static",
            ));
        }
        if let Some(p) = &settings.profile {
            loader = loader.profile_name(p);
        }
        let sdk = loader.load().await;
        // The standard chain as aws-config built it, behind the switch that puts login's
        // stored credentials first. The switch keeps credentials itself (and drops them when
        // the choice changes), so the SDK's cache, which would keep stale ones, is off.
        let Some(base) = sdk.credentials_provider() else {
            // aws-config always builds a chain; without one nothing could be signed anyway.
            return Self {
                sdk,
                settings,
                switch: None,
                known: Arc::default(),
                failed_at: Arc::default(),
            };
        };
        let switch = Arc::new(Switch::new(base, settings.credentials_store.clone()));
        let sdk = sdk
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(SwitchProvider(
                switch.clone(),
            )))
            .identity_cache(aws_config::identity::IdentityCache::no_cache())
            .build();
        Self {
            sdk,
            settings,
            switch: Some(switch),
            known: Arc::default(),
            failed_at: Arc::default(),
        }
    }

    /// Reads `pockitect login`'s stored credentials now (after a login or logout) rather than
    /// at the next periodic check, and forgets the identity of the previous ones.
    pub async fn reload_credentials(&self) {
        if let Some(s) = &self.switch {
            s.reload().await;
        }
    }

    /// Which credentials are in use (source, the key id's last 4, the session's end).
    pub async fn credentials_info(&self) -> pockitect_proto::payload::CredentialsInfo {
        match &self.switch {
            Some(s) => s.info().await,
            None => pockitect_proto::payload::CredentialsInfo {
                source: "chain".to_owned(),
                profile: None,
                key_id_last4: None,
                expires_at: None,
                error: None,
            },
        }
    }

    async fn credentials_generation(&self) -> u64 {
        match &self.switch {
            Some(s) => s.sync().await,
            None => 0,
        }
    }

    pub fn settings(&self) -> &AwsSettings {
        &self.settings
    }

    /// These settings over another SDK configuration (other credentials): a fresh identity.
    pub(crate) fn with_sdk(&self, sdk: SdkConfig) -> Aws {
        Aws {
            sdk,
            settings: self.settings.clone(),
            switch: None,
            known: Arc::default(),
            failed_at: Arc::default(),
        }
    }

    /// The shared SDK configuration (credentials, endpoint, retries).
    pub(crate) fn sdk(&self) -> &SdkConfig {
        &self.sdk
    }

    pub fn home_region(&self) -> &str {
        &self.settings.home_region
    }

    pub fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        let conf = aws_sdk_ec2::config::Builder::from(&self.sdk)
            .region(Region::new(region.to_owned()))
            .build();
        aws_sdk_ec2::Client::from_conf(conf)
    }

    pub fn rds(&self, region: &str) -> aws_sdk_rds::Client {
        let conf = aws_sdk_rds::config::Builder::from(&self.sdk)
            .region(Region::new(region.to_owned()))
            .build();
        aws_sdk_rds::Client::from_conf(conf)
    }

    /// Secrets Manager in `region` (where RDS keeps a managed master password).
    pub fn secrets_manager(&self, region: &str) -> aws_sdk_secretsmanager::Client {
        let conf = aws_sdk_secretsmanager::config::Builder::from(&self.sdk)
            .region(Region::new(region.to_owned()))
            .build();
        aws_sdk_secretsmanager::Client::from_conf(conf)
    }

    /// S3 with path-style addressing when an endpoint is set (emulators have no bucket DNS).
    pub fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.sdk)
            .region(Region::new(region.to_owned()))
            .force_path_style(self.settings.endpoint_url.is_some())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.sdk)
    }

    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.sdk)
    }

    /// ACM (certificates) in `region`.
    pub fn acm(&self, region: &str) -> aws_sdk_acm::Client {
        let conf = aws_sdk_acm::config::Builder::from(&self.sdk)
            .region(Region::new(region.to_owned()))
            .build();
        aws_sdk_acm::Client::from_conf(conf)
    }

    /// AWS Budgets: one endpoint, in us-east-1, whatever the home region.
    pub fn budgets(&self) -> aws_sdk_budgets::Client {
        let conf = aws_sdk_budgets::config::Builder::from(&self.sdk)
            .region(Region::new("us-east-1"))
            .build();
        aws_sdk_budgets::Client::from_conf(conf)
    }

    /// Cost Explorer: one endpoint, in us-east-1, whatever the home region.
    pub fn cost_explorer(&self) -> aws_sdk_costexplorer::Client {
        let conf = aws_sdk_costexplorer::config::Builder::from(&self.sdk)
            .region(Region::new("us-east-1"))
            .build();
        aws_sdk_costexplorer::Client::from_conf(conf)
    }

    /// The AWS Price List Query API, in us-east-1 (its nearest endpoint to most users; it
    /// answers for every region). Two attempts and short timeouts: an estimate falls back to
    /// the bundled table rather than keep a user waiting.
    pub fn pricing(&self) -> aws_sdk_pricing::Client {
        let mut conf = aws_sdk_pricing::config::Builder::from(&self.sdk)
            .region(Region::new("us-east-1"))
            .retry_config(RetryConfig::standard().with_max_attempts(2))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .operation_timeout(Duration::from_secs(10))
                    .build(),
            );
        if let Some(url) = &self.settings.pricing_endpoint_url {
            conf = conf.endpoint_url(url);
        }
        aws_sdk_pricing::Client::from_conf(conf.build())
    }

    /// AWS Organizations: one endpoint, in us-east-1.
    pub fn organizations(&self) -> aws_sdk_organizations::Client {
        let conf = aws_sdk_organizations::config::Builder::from(&self.sdk)
            .region(Region::new("us-east-1"))
            .build();
        aws_sdk_organizations::Client::from_conf(conf)
    }

    /// The account and principal behind the credentials.
    pub async fn identity(&self) -> Result<Identity, AwsError> {
        self.caller_identity(&self.sts()).await
    }

    /// STS GetCallerIdentity through `sts` (this handle's client, or one with other
    /// credentials: `pockitect login` checks keys before they are the daemon's).
    pub(crate) async fn caller_identity(
        &self,
        sts: &aws_sdk_sts::Client,
    ) -> Result<Identity, AwsError> {
        let out = sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("sts:GetCallerIdentity", self.home_region(), e))?;
        Ok(Identity {
            account: out.account().unwrap_or_default().to_owned(),
            arn: out.arn().unwrap_or_default().to_owned(),
            user_id: out.user_id().unwrap_or_default().to_owned(),
        })
    }

    /// The identity behind the credentials, asked of STS once and kept; None while STS cannot
    /// answer (asked again a minute after a failure).
    /// Asked again when the credentials change (a login or logout).
    pub async fn known_identity(&self) -> Option<Identity> {
        let generation = self.credentials_generation().await;
        // Plain assignments under these locks: a poisoned one is still consistent.
        if let Some((g, id)) = &*self.known.lock().unwrap_or_else(|p| p.into_inner())
            && *g == generation
        {
            return Some(id.clone());
        }
        let recently_failed = self
            .failed_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|(g, t)| g == generation && t.elapsed() < IDENTITY_RETRY);
        if recently_failed {
            return None;
        }
        match self.identity().await {
            Ok(id) => {
                *self.known.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((generation, id.clone()));
                Some(id)
            }
            Err(e) => {
                tracing::debug!(error = %e, "no AWS identity yet");
                *self.failed_at.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((generation, std::time::Instant::now()));
                None
            }
        }
    }

    /// The account id behind the credentials ([`Aws::known_identity`]).
    pub async fn account(&self) -> Option<String> {
        self.known_identity().await.map(|i| i.account)
    }

    /// Regions enabled for the account (DescribeRegions without opt-in-only regions), sorted.
    pub async fn enabled_regions(&self) -> Result<Vec<String>, AwsError> {
        let out = self
            .ec2(self.home_region())
            .describe_regions()
            .all_regions(false)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DescribeRegions", self.home_region(), e))?;
        let mut regions: Vec<String> = out
            .regions()
            .iter()
            .filter(|r| {
                // `not-opted-in` regions are listed by some endpoints even without all_regions.
                r.opt_in_status() != Some("not-opted-in")
            })
            .filter_map(|r| r.region_name().map(str::to_owned))
            .collect();
        regions.sort();
        regions.dedup();
        Ok(regions)
    }
}
