//! The key pair and the EC2 instance.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_ec2::types::{
    BlockDeviceMapping, EbsBlockDevice, HttpTokensState, IamInstanceProfileSpecification,
    InstanceMetadataEndpointState, InstanceMetadataOptionsRequest, InstanceStateName, InstanceType,
    KeyFormat, KeyType, ResourceType, VolumeType,
};
use pockitect_blueprint::KeyPairMode;

use super::ec2::{filter, has_tag, nonempty, tag_spec};
use super::engine::{Found, Run, lock};
use super::util::{
    CODE_CONFLICT, CODE_NOT_FOUND, CODE_TIMEOUT, poll, project_tags, stable_hash, unless_not_found,
};
use super::{Action, DeploySink, Resource, StepError};
use crate::deploy::util::EngineError;

/// Instance states that still hold an instance (a terminated one is gone for good).
const LIVE_STATES: [&str; 4] = ["pending", "running", "stopping", "stopped"];

/// Writes a private key to `<dir>/<slug>.pem` with mode 0600 (the directory 0700), through a
/// temporary file and a rename so a half-written key never exists.
pub(crate) fn write_private_key(dir: &Path, slug: &str, pem: &str) -> std::io::Result<PathBuf> {
    let dir = std::path::absolute(dir)?;
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(&dir)?;
    let path = dir.join(format!("{slug}.pem"));
    let tmp = dir.join(format!(".{slug}.pem.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let result = (|| {
        let mut f = opts.open(&tmp)?;
        f.write_all(pem.as_bytes())?;
        if !pem.ends_with('\n') {
            f.write_all(b"\n")?;
        }
        f.sync_all()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
        }
        std::fs::rename(&tmp, &path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(path)
}

impl<S: DeploySink> Run<'_, S> {
    // ------------------------------------------------------------------------------------
    // Key pair
    // ------------------------------------------------------------------------------------

    fn key_path(&self) -> PathBuf {
        let p = self.opts.key_dir.join(format!("{}.pem", self.slug));
        std::path::absolute(&p).unwrap_or(p)
    }

    pub(crate) async fn find_key_pair(&self) -> Result<Option<Found>, StepError> {
        let r = Resource::KeyPair;
        let name = self.cfg.key_pair_name().into_owned();
        let recorded = self.cfg.security.key_pair.key_pair_id.as_deref();
        let answer = self.ec2.describe_key_pairs().key_names(&name).send().await;
        let info = unless_not_found(
            answer.map(|out| out.key_pairs().first().cloned()),
            r,
            "ec2:DescribeKeyPairs",
            &self.region,
        )?;
        let mode = &self.cfg.security.key_pair.mode;
        match info {
            None if *mode == KeyPairMode::Existing => Err(self.err(
                r,
                CODE_NOT_FOUND,
                format!(
                    "key pair '{name}' does not exist in '{}'; import it there or use security.key_pair.mode 'generate'",
                    self.region
                ),
            )),
            None => Ok(None),
            Some(kp) => {
                let id = kp.key_pair_id();
                let ours = has_tag(kp.tags(), pockitect_proto::tags::PROJECT, &self.slug);
                if *mode == KeyPairMode::Generate && !ours && recorded.is_none_or(|r| Some(r) != id) {
                    return Err(self.err(
                        r,
                        CODE_CONFLICT,
                        format!(
                            "key pair '{name}' already exists in '{}' and was not generated for project '{}'; choose another security.key_pair.name or use mode 'existing'",
                            self.region, self.slug
                        ),
                    ));
                }
                let action = if recorded.is_some() && recorded == id {
                    Action::NoChange
                } else {
                    Action::Adopt
                };
                let detail = if *mode == KeyPairMode::Existing {
                    "the existing key pair"
                } else if action == Action::NoChange {
                    "recorded and present"
                } else {
                    "found by its name and tags"
                };
                Ok(Some(Found::new(name, action, detail).with_extra(id)))
            }
        }
    }

    pub(crate) async fn converge_key_pair(&self, found: &Found) -> Result<(), StepError> {
        let generated = self.cfg.security.key_pair.mode == KeyPairMode::Generate;
        let path = self.key_path();
        let recorded_path = self.cfg.security.key_pair.private_key_path.clone();
        let file = if generated {
            recorded_path
                .filter(|p| Path::new(p).exists())
                .or_else(|| path.exists().then(|| path.display().to_string()))
        } else {
            None
        };
        let kp_id = found.extra.clone();
        self.update_bp(|bp| {
            bp.security.key_pair.key_pair_id = kp_id;
            if generated {
                bp.security.key_pair.private_key_path = file;
            }
        })
        .await;
        Ok(())
    }

    pub(crate) async fn create_key_pair(&self) -> Result<String, StepError> {
        let r = Resource::KeyPair;
        let name = self.cfg.key_pair_name().into_owned();
        let windows = self.cfg.image_alias_or_id().starts_with("windows");
        let out = self
            .ec2
            .create_key_pair()
            .key_name(&name)
            .key_type(if windows {
                KeyType::Rsa
            } else {
                KeyType::Ed25519
            })
            .key_format(KeyFormat::Pem)
            .tag_specifications(tag_spec(ResourceType::KeyPair, &project_tags(&self.cfg, r)))
            .send()
            .await
            .map_err(|e| StepError::sdk(r, "ec2:CreateKeyPair", &self.region, e))?;
        self.created(r, &name);
        let material = out.key_material().unwrap_or_default().to_owned();
        let dir = self.opts.key_dir.clone();
        let slug = self.slug.clone();
        let written =
            tokio::task::spawn_blocking(move || write_private_key(&dir, &slug, &material))
                .await
                .map_err(std::io::Error::other)
                .and_then(|r| r);
        let path = match written {
            Ok(p) => p,
            Err(e) => {
                // A key pair whose private key is lost is useless: remove it.
                let _ = self.ec2.delete_key_pair().key_name(&name).send().await;
                return Err(self.err(
                    r,
                    "KeyFileWrite",
                    format!(
                        "write the private key to '{}': {e}; check that the directory is writable",
                        self.key_path().display()
                    ),
                ));
            }
        };
        let kp_id = out.key_pair_id().map(str::to_owned);
        self.update_bp(|bp| {
            bp.security.key_pair.key_pair_id = kp_id;
            bp.security.key_pair.private_key_path = Some(path.display().to_string());
        })
        .await;
        Ok(name)
    }

    // ------------------------------------------------------------------------------------
    // Instance
    // ------------------------------------------------------------------------------------

    async fn describe_instances(
        &self,
        filters: Vec<aws_sdk_ec2::types::Filter>,
        ids: Vec<String>,
    ) -> Result<Vec<aws_sdk_ec2::types::Instance>, StepError> {
        let answer = self
            .ec2
            .describe_instances()
            .set_filters(nonempty(filters))
            .set_instance_ids(nonempty(ids))
            .send()
            .await;
        unless_not_found(
            answer.map(|out| {
                out.reservations()
                    .iter()
                    .flat_map(|r| r.instances())
                    .cloned()
                    .collect()
            }),
            Resource::Ec2Instance,
            "ec2:DescribeInstances",
            &self.region,
        )
    }

    pub(crate) async fn find_instance(&self) -> Result<Option<Found>, StepError> {
        let r = Resource::Ec2Instance;
        let recorded = self
            .cfg
            .compute
            .instance_id
            .as_deref()
            .filter(|s| !s.is_empty());
        if let Some(id) = recorded {
            let found = self.describe_instances(vec![], vec![id.to_owned()]).await?;
            let live = found.iter().any(|i| {
                i.state()
                    .and_then(|s| s.name())
                    .is_some_and(|n| LIVE_STATES.contains(&n.as_str()))
            });
            if live {
                return Ok(Some(Found::new(
                    id,
                    Action::NoChange,
                    "recorded and present",
                )));
            }
        }
        let mut filters = self.tag_filters(r);
        filters.push(filter("instance-state-name", &LIVE_STATES));
        let found = self.describe_instances(filters, vec![]).await?;
        Ok(found
            .iter()
            .filter_map(|i| i.instance_id())
            .min()
            .map(|id| Found::recorded_or_adopted(id, recorded, "found by its tags")))
    }

    /// Waits for the instance to run (or to settle when stopped) and records its addresses.
    pub(crate) async fn converge_instance(&self, found: &Found) -> Result<(), StepError> {
        let r = Resource::Ec2Instance;
        let id = found.id.clone();
        let settled = poll(self.opts.poll_interval, self.opts.instance_wait, || async {
            let list = self.describe_instances(vec![], vec![id.clone()]).await?;
            let Some(i) = list.into_iter().next() else {
                return Err(self.err(r, CODE_NOT_FOUND, format!("instance '{id}' disappeared")));
            };
            match i.state().and_then(|s| s.name()) {
                Some(InstanceStateName::Running | InstanceStateName::Stopped) => Ok(Some(i)),
                Some(InstanceStateName::Terminated | InstanceStateName::ShuttingDown) => {
                    let reason = i
                        .state_reason()
                        .and_then(|s| s.message())
                        .unwrap_or("no reason given");
                    Err(self.err(
                        r,
                        "InstanceTerminated",
                        format!("instance '{id}' terminated while starting: {reason}"),
                    ))
                }
                _ => Ok(None),
            }
        })
        .await?;
        let Some(inst) = settled else {
            return Err(self.err(
                r,
                CODE_TIMEOUT,
                format!(
                    "instance '{id}' did not reach 'running' within {} s; a later deploy picks it up",
                    self.opts.instance_wait.as_secs()
                ),
            ));
        };
        let running = inst.state().and_then(|s| s.name()) == Some(&InstanceStateName::Running);
        {
            let mut f = lock(&self.facts);
            f.instance_running = running;
            f.instance_stopped = !running;
        }
        // The login user comes from the image the instance actually runs.
        if lock(&self.facts).image.is_none() {
            let img = match inst.image_id() {
                Some(img) => self.image_by_id(img).await.ok(),
                None => None,
            };
            let img = match img {
                Some(i) => Some(i),
                None => self.image().await.ok(),
            };
            if let Some(img) = img {
                lock(&self.facts).image = Some(img);
            }
        }
        let public_ip = inst.public_ip_address().map(str::to_owned);
        let private_ip = inst.private_ip_address().map(str::to_owned);
        let image_id = inst.image_id().map(str::to_owned);
        self.update_bp(|bp| {
            bp.compute.public_ip = public_ip;
            bp.compute.private_ip = private_ip;
            if bp.compute.resolved_image_id.is_none() {
                bp.compute.resolved_image_id = image_id;
            }
        })
        .await;
        Ok(())
    }

    pub(crate) async fn create_instance(&self) -> Result<String, StepError> {
        let r = Resource::Ec2Instance;
        let subnet = self.need(r, Resource::Subnet)?;
        let sg = self.need(r, Resource::SecurityGroup)?;
        let image = self.image().await?;
        let instance_type = self
            .cfg
            .compute
            .instance_type
            .clone()
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| "t3.micro".to_owned());
        let key_name = self
            .cfg
            .key_pair_enabled()
            .then(|| self.id(Resource::KeyPair))
            .flatten();
        let profile = self
            .cfg
            .iam_enabled()
            .then(|| self.id(Resource::InstanceProfile))
            .flatten();
        // The same request after a crash gets the same token, so EC2 returns the instance it
        // already launched instead of a second one; any change of parameters makes a new token.
        let token = format!(
            "pockitect-{:016x}",
            stable_hash(&[
                &self.slug,
                r.as_str(),
                &subnet,
                &sg,
                &image.image_id,
                &instance_type,
                key_name.as_deref().unwrap_or_default(),
                profile.as_deref().unwrap_or_default(),
                &self.cfg.compute.user_data,
            ])
        );
        let tags = project_tags(&self.cfg, r);
        let mut volume_tags = tags.clone();
        volume_tags.insert("Name".to_owned(), format!("{}-root", self.slug));
        let root = BlockDeviceMapping::builder()
            .device_name(
                image
                    .root_device
                    .clone()
                    .unwrap_or_else(|| "/dev/xvda".to_owned()),
            )
            .ebs(
                EbsBlockDevice::builder()
                    .volume_size(image.root_size_gb.unwrap_or(8).max(8))
                    .volume_type(VolumeType::Gp3)
                    .encrypted(true)
                    .delete_on_termination(true)
                    .build(),
            )
            .build();
        let user_data = (!self.cfg.compute.user_data.trim().is_empty())
            .then(|| aws_smithy_types::base64::encode(self.cfg.compute.user_data.as_bytes()));

        // A new instance profile takes a few seconds to be usable by EC2.
        let mut delay = Duration::from_secs(2);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        let out = loop {
            let call = self
                .ec2
                .run_instances()
                .image_id(&image.image_id)
                .instance_type(InstanceType::from(instance_type.as_str()))
                .min_count(1)
                .max_count(1)
                .subnet_id(&subnet)
                .security_group_ids(&sg)
                .set_key_name(key_name.clone())
                .set_iam_instance_profile(
                    profile
                        .as_ref()
                        .map(|p| IamInstanceProfileSpecification::builder().name(p).build()),
                )
                .set_user_data(user_data.clone())
                .metadata_options(
                    InstanceMetadataOptionsRequest::builder()
                        .http_tokens(HttpTokensState::Required)
                        .http_endpoint(InstanceMetadataEndpointState::Enabled)
                        .http_put_response_hop_limit(2)
                        .build(),
                )
                .block_device_mappings(root.clone())
                .tag_specifications(tag_spec(ResourceType::Instance, &tags))
                .tag_specifications(tag_spec(ResourceType::Volume, &volume_tags))
                .client_token(&token)
                .send()
                .await;
            match call {
                Ok(out) => break out,
                Err(e)
                    if profile.is_some()
                        && tokio::time::Instant::now() < deadline
                        && is_profile_propagation(&e) =>
                {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(15));
                }
                Err(e) => return Err(StepError::sdk(r, "ec2:RunInstances", &self.region, e)),
            }
        };
        let id = out
            .instances()
            .first()
            .and_then(|i| i.instance_id())
            .ok_or_else(|| self.err(r, "EmptyResponse", "RunInstances returned no instance"))?
            .to_owned();
        self.created(r, &id);
        let image_id = image.image_id.clone();
        let rid = id.clone();
        self.update_bp(|bp| {
            bp.compute.instance_id = Some(rid);
            bp.compute.resolved_image_id = Some(image_id);
        })
        .await;
        self.converge_instance(&Found::new(&id, Action::Create, "created"))
            .await?;
        Ok(id)
    }
}

/// True when RunInstances failed because a new instance profile is not visible to EC2 yet.
fn is_profile_propagation<E, R>(e: &aws_sdk_sts::error::SdkError<E, R>) -> bool
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    match e {
        aws_sdk_sts::error::SdkError::ServiceError(se) => {
            let err = se.err();
            err.code() == Some("InvalidParameterValue")
                && err
                    .message()
                    .is_some_and(|m| m.to_ascii_lowercase().contains("instance profile"))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn private_key_file_is_0600_in_a_0700_dir() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("keys/nested");
        let path = write_private_key(&dir, "demo", "-----BEGIN KEY-----").unwrap();
        assert_eq!(path, dir.join("demo.pem"));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dmode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(dmode, 0o700);
        // Rewriting replaces the key and keeps the mode.
        write_private_key(&dir, "demo", "second").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second\n");
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left");
    }
}
