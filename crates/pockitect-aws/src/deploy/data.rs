//! The database (subnet group + RDS instance) and the S3 bucket.

use std::collections::BTreeMap;

use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule, Tagging,
};
use pockitect_blueprint::{Bucket, Database};

use super::engine::{Found, Run, lock};
use super::util::{
    CODE_CONFLICT, CODE_INVALID, partition, poll, project_tags, sdk_code, unless_not_found,
};
use super::{Action, DeploySink, Resource, StepError};
use crate::deploy::util::EngineError;

fn rds_tags(tags: &BTreeMap<String, String>) -> Vec<aws_sdk_rds::types::Tag> {
    tags.iter()
        .map(|(k, v)| aws_sdk_rds::types::Tag::builder().key(k).value(v).build())
        .collect()
}

pub(crate) fn rds_ours(tags: &[aws_sdk_rds::types::Tag], slug: &str) -> bool {
    tags.iter()
        .any(|t| t.key() == Some(pockitect_proto::tags::PROJECT) && t.value() == Some(slug))
}

/// The ARN of the Secrets Manager secret in which RDS keeps the instance's master password,
/// when RDS manages it.
pub(crate) fn master_user_secret_arn(db: &aws_sdk_rds::types::DbInstance) -> Option<String> {
    db.master_user_secret()
        .and_then(|s| s.secret_arn())
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
}

/// A DB instance identifier from the slug: a letter first, letters, digits and single hyphens,
/// at most 63 characters, no hyphen at the end.
pub(crate) fn db_identifier(slug: &str) -> String {
    let mut id = format!("{slug}-db");
    if !id.starts_with(|c: char| c.is_ascii_alphabetic()) {
        id = format!("p-{id}");
    }
    let mut out = String::new();
    for c in id.chars() {
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
    }
    out.truncate(63);
    out.trim_end_matches('-').to_owned()
}

impl<S: DeploySink> Run<'_, S> {
    // ------------------------------------------------------------------------------------
    // DB subnet group
    // ------------------------------------------------------------------------------------

    fn db_subnet_group_name(&self) -> String {
        self.cfg
            .network
            .db_subnet_group_name
            .clone()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| format!("{}-db-subnets", self.slug))
    }

    fn wanted_db_subnets(&self, r: Resource) -> Result<Vec<String>, StepError> {
        let mut v = vec![
            self.need(r, Resource::Subnet)?,
            self.need(r, Resource::SecondarySubnet)?,
        ];
        v.sort();
        Ok(v)
    }

    pub(crate) async fn find_db_subnet_group(&self) -> Result<Option<Found>, StepError> {
        let r = Resource::DbSubnetGroup;
        let name = self.db_subnet_group_name();
        let answer = self
            .rds
            .describe_db_subnet_groups()
            .db_subnet_group_name(&name)
            .send()
            .await;
        let group = unless_not_found(
            answer.map(|out| out.db_subnet_groups().first().cloned()),
            r,
            "rds:DescribeDBSubnetGroups",
            &self.region,
        )?;
        let Some(group) = group else {
            return Ok(None);
        };
        let recorded = self.cfg.network.db_subnet_group_name.as_deref() == Some(name.as_str());
        if !recorded && let Some(arn) = group.db_subnet_group_arn() {
            let tags = self
                .rds
                .list_tags_for_resource()
                .resource_name(arn)
                .send()
                .await
                .map_err(|e| StepError::sdk(r, "rds:ListTagsForResource", &self.region, e))?;
            if !rds_ours(tags.tag_list(), &self.slug) {
                return Err(self.err(
                    r,
                    CODE_CONFLICT,
                    format!(
                        "DB subnet group '{name}' already exists and is not tagged for project '{}'",
                        self.slug
                    ),
                ));
            }
        }
        let mut have: Vec<String> = group
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_identifier().map(str::to_owned))
            .collect();
        have.sort();
        let mut found = if recorded {
            Found::new(&name, Action::NoChange, "recorded and present")
        } else {
            Found::new(&name, Action::Adopt, "found by its name and tags")
        };
        if have != self.wanted_db_subnets(r)? {
            found.action = Action::Update;
            found.detail = Some("its subnets are to be replaced".to_owned());
        }
        Ok(Some(found))
    }

    pub(crate) async fn converge_db_subnet_group(&self, found: &Found) -> Result<(), StepError> {
        let r = Resource::DbSubnetGroup;
        if found.action != Action::Update {
            return Ok(());
        }
        self.rds
            .modify_db_subnet_group()
            .db_subnet_group_name(&found.id)
            .set_subnet_ids(Some(self.wanted_db_subnets(r)?))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StepError::sdk(r, "rds:ModifyDBSubnetGroup", &self.region, e))
    }

    pub(crate) async fn create_db_subnet_group(&self) -> Result<String, StepError> {
        let r = Resource::DbSubnetGroup;
        let name = self.db_subnet_group_name();
        self.rds
            .create_db_subnet_group()
            .db_subnet_group_name(&name)
            .db_subnet_group_description(format!("Pockitect project {}", self.slug))
            .set_subnet_ids(Some(self.wanted_db_subnets(r)?))
            .set_tags(Some(rds_tags(&project_tags(&self.cfg, r))))
            .send()
            .await
            .map_err(|e| StepError::sdk(r, "rds:CreateDBSubnetGroup", &self.region, e))?;
        self.created(r, &name);
        Ok(name)
    }

    // ------------------------------------------------------------------------------------
    // RDS instance
    // ------------------------------------------------------------------------------------

    fn db_cfg(&self) -> Result<&Database, StepError> {
        self.cfg.db().ok_or_else(|| {
            self.err(
                Resource::RdsInstance,
                CODE_INVALID,
                "the blueprint has no database",
            )
        })
    }

    fn db_id(&self) -> String {
        self.cfg
            .db()
            .and_then(|d| d.identifier.clone())
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| db_identifier(&self.slug))
    }

    async fn describe_db(
        &self,
        id: &str,
    ) -> Result<Option<aws_sdk_rds::types::DbInstance>, StepError> {
        let answer = self
            .rds
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await;
        unless_not_found(
            answer.map(|out| out.db_instances().first().cloned()),
            Resource::RdsInstance,
            "rds:DescribeDBInstances",
            &self.region,
        )
    }

    pub(crate) async fn find_db(&self) -> Result<Option<Found>, StepError> {
        let r = Resource::RdsInstance;
        let id = self.db_id();
        let Some(db) = self.describe_db(&id).await? else {
            return Ok(None);
        };
        let recorded = self.cfg.db().and_then(|d| d.identifier.as_deref()) == Some(id.as_str());
        if !recorded && !rds_ours(db.tag_list(), &self.slug) {
            return Err(self.err(
                r,
                CODE_CONFLICT,
                format!(
                    "DB instance '{id}' already exists and is not tagged for project '{}'",
                    self.slug
                ),
            ));
        }
        if db.db_instance_status() == Some("deleting") {
            return Err(self.err(
                r,
                CODE_CONFLICT,
                format!("DB instance '{id}' is being deleted; deploy again once it is gone"),
            ));
        }
        Ok(Some(if recorded {
            Found::new(id, Action::NoChange, "recorded and present")
        } else {
            Found::new(id, Action::Adopt, "found by its identifier and tags")
        }))
    }

    /// Waits (up to `db_wait`) for the database to be available and records its endpoint.
    pub(crate) async fn converge_db(&self, found: &Found) -> Result<(), StepError> {
        let id = found.id.clone();
        let latest = poll(self.opts.poll_interval, self.opts.db_wait, || async {
            let db = self.describe_db(&id).await?;
            Ok(db.filter(|d| {
                d.db_instance_status() == Some("available")
                    || d.endpoint().and_then(|e| e.address()).is_some()
                        && d.db_instance_status() != Some("creating")
            }))
        })
        .await?;
        let db = match latest {
            Some(db) => Some(db),
            None => self.describe_db(&id).await?,
        };
        let Some(db) = db else {
            return Ok(());
        };
        let available = db.db_instance_status() == Some("available");
        lock(&self.facts).db_available = available;
        let endpoint = db.endpoint().and_then(|e| e.address()).map(str::to_owned);
        let port = db.endpoint().and_then(|e| e.port()).map(i64::from);
        let arn = db.db_instance_arn().map(str::to_owned);
        // What AWS says wins: a database moved to a managed secret by hand (`aws rds
        // modify-db-instance --manage-master-user-password`) is recorded as such, and one moved
        // back to a password of its own loses the stale ARN.
        let secret = master_user_secret_arn(&db);
        self.update_bp(|bp| {
            if let Some(d) = bp.data.db.as_mut() {
                d.identifier = Some(id);
                d.endpoint = endpoint;
                d.port = port;
                d.arn = arn;
                d.master_user_secret_arn = secret;
            }
        })
        .await;
        Ok(())
    }

    pub(crate) async fn create_db(&self) -> Result<String, StepError> {
        let r = Resource::RdsInstance;
        let cfg = self.db_cfg()?;
        let group = self.need(r, Resource::DbSubnetGroup)?;
        let sg = self.need(r, Resource::SecurityGroup)?;
        let id = self.db_id();
        let engine = cfg.engine.clone().unwrap_or_default();
        let storage = i32::try_from(cfg.allocated_storage_gb()).unwrap_or(20);
        let out = self
            .rds
            .create_db_instance()
            .db_instance_identifier(&id)
            .engine(engine.as_str())
            .db_instance_class(
                cfg.instance_class
                    .clone()
                    .filter(|c| !c.trim().is_empty())
                    .unwrap_or_else(|| "db.t3.micro".to_owned()),
            )
            .allocated_storage(storage)
            .master_username(
                cfg.username
                    .clone()
                    .filter(|u| !u.trim().is_empty())
                    .unwrap_or_else(|| "app".to_owned()),
            )
            // RDS generates the password and keeps it in a Secrets Manager secret it owns (and
            // deletes with the instance): no Pockitect process ever holds it, so the deploy
            // needs nothing from the client's keyring and may run on any daemon.
            // `pockitect db-password` reads it back through the daemon (handlers::secrets).
            .manage_master_user_password(true)
            .storage_encrypted(true)
            .publicly_accessible(cfg.is_public())
            .db_subnet_group_name(&group)
            .vpc_security_group_ids(&sg)
            .copy_tags_to_snapshot(true)
            .set_tags(Some(rds_tags(&project_tags(&self.cfg, r))))
            .send()
            .await
            .map_err(|e| StepError::sdk(r, "rds:CreateDBInstance", &self.region, e))?;
        self.created(r, &id);
        let created = out.db_instance();
        let arn = created.and_then(|d| d.db_instance_arn()).map(str::to_owned);
        let secret = created.and_then(master_user_secret_arn);
        let rid = id.clone();
        self.update_bp(|bp| {
            if let Some(d) = bp.data.db.as_mut() {
                d.identifier = Some(rid);
                d.arn = arn;
                d.master_user_secret_arn = secret;
            }
        })
        .await;
        self.converge_db(&Found::new(&id, Action::Create, "created"))
            .await?;
        Ok(id)
    }

    // ------------------------------------------------------------------------------------
    // S3 bucket
    // ------------------------------------------------------------------------------------

    pub(crate) fn bucket_name(&self, b: &Bucket) -> String {
        b.name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| format!("{}-assets", self.slug))
    }

    fn bucket_arn(&self, name: &str) -> String {
        format!("arn:{}:s3:::{name}", partition(&self.region))
    }

    pub(crate) async fn find_bucket(&self) -> Result<Option<Found>, StepError> {
        let r = Resource::S3Bucket;
        let Some(b) = self.cfg.bucket() else {
            return Ok(None);
        };
        let name = self.bucket_name(b);
        match self.s3.head_bucket().bucket(&name).send().await {
            Ok(_) => {}
            Err(e) => {
                let status = match &e {
                    aws_sdk_s3::error::SdkError::ServiceError(se) => {
                        Some(se.raw().status().as_u16())
                    }
                    _ => None,
                };
                return match status {
                    Some(404) => Ok(None),
                    Some(403) => Err(self.err(
                        r,
                        CODE_CONFLICT,
                        format!(
                            "bucket name '{name}' is taken by another AWS account; choose another data.s3_bucket.name"
                        ),
                    )),
                    Some(301) => Err(self.err(
                        r,
                        CODE_CONFLICT,
                        format!(
                            "bucket '{name}' exists in another region (or account); choose another data.s3_bucket.name"
                        ),
                    )),
                    _ => Err(StepError::sdk(r, "s3:HeadBucket", &self.region, e)),
                };
            }
        }
        let recorded = b.arn.as_deref() == Some(self.bucket_arn(&name).as_str());
        let tagged = match self.s3.get_bucket_tagging().bucket(&name).send().await {
            Ok(out) => out
                .tag_set()
                .iter()
                .any(|t| t.key() == pockitect_proto::tags::PROJECT && t.value() == self.slug),
            Err(e) if sdk_code(&e) == Some("NoSuchTagSet") => false,
            Err(e) => return Err(StepError::sdk(r, "s3:GetBucketTagging", &self.region, e)),
        };
        if !recorded && !tagged {
            return Err(self.err(
                r,
                CODE_CONFLICT,
                format!(
                    "bucket '{name}' exists in this account but is not tagged {}={}; tag it to adopt it or choose another data.s3_bucket.name",
                    pockitect_proto::tags::PROJECT,
                    self.slug
                ),
            ));
        }
        Ok(Some(if recorded {
            Found::new(name, Action::NoChange, "recorded and present")
        } else {
            Found::new(name, Action::Adopt, "found by its name and tags")
        }))
    }

    /// Public access blocked, AES256 default encryption and the project's tags (each call
    /// replaces the setting, so a resumed deploy finishes what a crash interrupted).
    pub(crate) async fn converge_bucket(&self, found: &Found) -> Result<(), StepError> {
        let r = Resource::S3Bucket;
        let name = &found.id;
        self.s3
            .put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| StepError::sdk(r, "s3:PutPublicAccessBlock", &self.region, e))?;
        let by_default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::Aes256)
            .build()
            .map_err(|e| self.err(r, "Build", e.to_string()))?;
        let encryption = ServerSideEncryptionConfiguration::builder()
            .rules(
                ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(by_default)
                    .build(),
            )
            .build()
            .map_err(|e| self.err(r, "Build", e.to_string()))?;
        self.s3
            .put_bucket_encryption()
            .bucket(name)
            .server_side_encryption_configuration(encryption)
            .send()
            .await
            .map_err(|e| StepError::sdk(r, "s3:PutBucketEncryption", &self.region, e))?;
        let tags = project_tags(&self.cfg, r)
            .into_iter()
            .filter_map(|(k, v)| {
                aws_sdk_s3::types::Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .ok()
            })
            .collect();
        let tagging = Tagging::builder()
            .set_tag_set(Some(tags))
            .build()
            .map_err(|e| self.err(r, "Build", e.to_string()))?;
        self.s3
            .put_bucket_tagging()
            .bucket(name)
            .tagging(tagging)
            .send()
            .await
            .map_err(|e| StepError::sdk(r, "s3:PutBucketTagging", &self.region, e))?;
        Ok(())
    }

    pub(crate) async fn create_bucket(&self) -> Result<String, StepError> {
        let r = Resource::S3Bucket;
        let Some(b) = self.cfg.bucket() else {
            return Err(self.err(r, CODE_INVALID, "the blueprint has no bucket"));
        };
        let name = self.bucket_name(b);
        let mut call = self.s3.create_bucket().bucket(&name);
        if self.region != "us-east-1" {
            call = call.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(self.region.as_str()))
                    .build(),
            );
        }
        call.send()
            .await
            .map_err(|e| StepError::sdk(r, "s3:CreateBucket", &self.region, e))?;
        self.created(r, &name);
        self.record(r, &name).await;
        self.converge_bucket(&Found::new(&name, Action::Create, "created"))
            .await?;
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_identifiers_follow_rds_rules() {
        assert_eq!(db_identifier("brendens-blog"), "brendens-blog-db");
        assert_eq!(db_identifier("1st"), "p-1st-db");
        let long = "a".repeat(80);
        let id = db_identifier(&long);
        assert!(id.len() <= 63 && !id.ends_with('-'));
    }
}
