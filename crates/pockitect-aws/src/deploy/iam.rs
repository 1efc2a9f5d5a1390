//! The instance role (EC2 trust policy, the blueprint's inline policy) and its instance
//! profile (same name as the role).

use std::collections::BTreeMap;

use aws_sdk_iam::types::Tag;
use serde_json::{Value, json};

use super::engine::{Found, Run};
use super::util::EngineError;
use super::util::{CODE_CONFLICT, partition, project_tags, sdk_code};
use super::{Action, DeploySink, Resource, StepError};

/// Name of the inline policy the engine puts on the role.
pub(crate) const INLINE_POLICY: &str = "pockitect";

pub(crate) fn trust_policy() -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole"
        }]
    })
    .to_string()
}

fn iam_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

fn ours(tags: &[Tag], slug: &str) -> bool {
    tags.iter()
        .any(|t| t.key() == pockitect_proto::tags::PROJECT && t.value() == slug)
}

impl<S: DeploySink> Run<'_, S> {
    fn role(&self) -> String {
        self.cfg.role_name().into_owned()
    }

    /// The inline policy: the blueprint's, or (when it is empty) access to the project's
    /// bucket, or none.
    pub(crate) fn inline_policy(&self) -> Option<String> {
        let doc = &self.cfg.security.iam_role.policy_document;
        let empty = match doc {
            Value::Null => true,
            Value::Object(m) => m.is_empty(),
            Value::String(s) => s.trim().is_empty(),
            _ => false,
        };
        if !empty {
            return Some(match doc {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
        }
        let bucket = self.cfg.bucket()?;
        let name = self.bucket_name(bucket);
        let arn = format!("arn:{}:s3:::{name}", partition(&self.region));
        Some(
            json!({
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"], "Resource": arn},
                    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], "Resource": format!("{arn}/*")}
                ]
            })
            .to_string(),
        )
    }

    pub(crate) async fn find_role(&self) -> Result<Option<Found>, StepError> {
        let r = Resource::IamRole;
        let name = self.role();
        let role = match self.iam.get_role().role_name(&name).send().await {
            Ok(out) => out.role().cloned(),
            Err(e) if sdk_code(&e) == Some("NoSuchEntity") => None,
            Err(e) => return Err(StepError::sdk(r, "iam:GetRole", "global", e)),
        };
        let Some(role) = role else {
            return Ok(None);
        };
        let recorded = self.cfg.security.iam_role.arn.as_deref();
        if !ours(role.tags(), &self.slug) && recorded != Some(role.arn()) {
            return Err(self.err(
                r,
                CODE_CONFLICT,
                format!(
                    "IAM role '{name}' already exists and is not tagged {}={}; choose another security.iam_role.role_name or tag it",
                    pockitect_proto::tags::PROJECT,
                    self.slug
                ),
            ));
        }
        let action = if recorded == Some(role.arn()) {
            Action::NoChange
        } else {
            Action::Adopt
        };
        Ok(Some(
            Found::new(name, action, "found by its name and tags").with_extra(Some(role.arn())),
        ))
    }

    async fn put_policy(&self, role: &str) -> Result<(), StepError> {
        let Some(policy) = self.inline_policy() else {
            return Ok(());
        };
        self.iam
            .put_role_policy()
            .role_name(role)
            .policy_name(INLINE_POLICY)
            .policy_document(policy)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StepError::sdk(Resource::IamRole, "iam:PutRolePolicy", "global", e))
    }

    pub(crate) async fn converge_role(&self, found: &Found) -> Result<(), StepError> {
        let arn = found.extra.clone();
        self.update_bp(|bp| bp.security.iam_role.arn = arn).await;
        // Keeps the inline policy in line with the blueprint (PutRolePolicy replaces it).
        self.put_policy(&found.id).await
    }

    pub(crate) async fn create_role(&self) -> Result<String, StepError> {
        let r = Resource::IamRole;
        let name = self.role();
        let out = self
            .iam
            .create_role()
            .role_name(&name)
            .assume_role_policy_document(trust_policy())
            .description(format!("Instance role of Pockitect project {}", self.slug))
            .set_tags(Some(iam_tags(&project_tags(&self.cfg, r))))
            .send()
            .await
            .map_err(|e| StepError::sdk(r, "iam:CreateRole", "global", e))?;
        self.created(r, &name);
        let arn = out.role().map(|r| r.arn().to_owned());
        self.update_bp(|bp| bp.security.iam_role.arn = arn).await;
        self.put_policy(&name).await?;
        Ok(name)
    }

    pub(crate) async fn find_instance_profile(&self) -> Result<Option<Found>, StepError> {
        let r = Resource::InstanceProfile;
        let name = self.role();
        let profile = match self
            .iam
            .get_instance_profile()
            .instance_profile_name(&name)
            .send()
            .await
        {
            Ok(out) => out.instance_profile().cloned(),
            Err(e) if sdk_code(&e) == Some("NoSuchEntity") => None,
            Err(e) => return Err(StepError::sdk(r, "iam:GetInstanceProfile", "global", e)),
        };
        let Some(p) = profile else {
            return Ok(None);
        };
        let has_role = p.roles().iter().any(|x| x.role_name() == name);
        let recorded = self.cfg.security.iam_role.instance_profile_arn.as_deref();
        if !ours(p.tags(), &self.slug) && !has_role && recorded != Some(p.arn()) {
            return Err(self.err(
                r,
                CODE_CONFLICT,
                format!(
                    "instance profile '{name}' already exists and does not belong to project '{}'",
                    self.slug
                ),
            ));
        }
        let mut found = if recorded == Some(p.arn()) {
            Found::new(&name, Action::NoChange, "recorded and present")
        } else {
            Found::new(&name, Action::Adopt, "found by its name")
        };
        if !has_role {
            found.action = Action::Update;
            found.detail = Some("the role is to be added".to_owned());
        }
        Ok(Some(found.with_extra(Some(p.arn()))))
    }

    async fn add_role(&self, profile: &str) -> Result<(), StepError> {
        match self
            .iam
            .add_role_to_instance_profile()
            .instance_profile_name(profile)
            .role_name(self.role())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if sdk_code(&e) == Some("EntityAlreadyExists") => Ok(()),
            Err(e) => Err(StepError::sdk(
                Resource::InstanceProfile,
                "iam:AddRoleToInstanceProfile",
                "global",
                e,
            )),
        }
    }

    pub(crate) async fn converge_instance_profile(&self, found: &Found) -> Result<(), StepError> {
        let arn = found.extra.clone();
        self.update_bp(|bp| bp.security.iam_role.instance_profile_arn = arn)
            .await;
        if found.action == Action::Update {
            self.add_role(&found.id).await?;
        }
        Ok(())
    }

    pub(crate) async fn create_instance_profile(&self) -> Result<String, StepError> {
        let r = Resource::InstanceProfile;
        let name = self.role();
        let out = self
            .iam
            .create_instance_profile()
            .instance_profile_name(&name)
            .set_tags(Some(iam_tags(&project_tags(&self.cfg, r))))
            .send()
            .await
            .map_err(|e| StepError::sdk(r, "iam:CreateInstanceProfile", "global", e))?;
        self.created(r, &name);
        let arn = out.instance_profile().map(|p| p.arn().to_owned());
        self.update_bp(|bp| bp.security.iam_role.instance_profile_arn = arn)
            .await;
        self.add_role(&name).await?;
        Ok(name)
    }
}
