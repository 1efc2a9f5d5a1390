//! Image aliases resolved per region to the newest official image (DescribeImages by owner and
//! name pattern), and `ami-…` ids verified (the root device and its size come from the image).

use aws_sdk_ec2::types::{Image, PlatformValues};
use pockitect_blueprint::ImageRef;

use super::ec2::filter;
use super::engine::{Run, lock};
use super::util::{CODE_INVALID, CODE_NOT_FOUND};
use super::{DeploySink, Resource, StepError};
use crate::deploy::util::EngineError;

/// An image ready to launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResolvedImage {
    pub image_id: String,
    pub name: String,
    pub root_device: Option<String>,
    /// Size of the root snapshot, GiB.
    pub root_size_gb: Option<i32>,
    /// Login user for SSH (none for Windows).
    pub ssh_user: Option<String>,
}

/// Where an alias's images come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AliasSpec {
    pub owner: &'static str,
    pub name_pattern: String,
    pub architecture: &'static str,
    pub ssh_user: Option<&'static str>,
}

/// The owner and name pattern of an alias (`arm64` for Graviton instance types).
pub(crate) fn alias_spec(alias: &str, arm64: bool) -> Option<AliasSpec> {
    let (arch, deb_arch) = if arm64 {
        ("arm64", "arm64")
    } else {
        ("x86_64", "amd64")
    };
    let spec = |owner, name_pattern: String, ssh_user| AliasSpec {
        owner,
        name_pattern,
        architecture: arch,
        ssh_user,
    };
    Some(match alias {
        "amazon-linux-2023" => spec(
            "amazon",
            format!("al2023-ami-2023.*-{arch}"),
            Some("ec2-user"),
        ),
        "ubuntu-24.04" => spec(
            "099720109477",
            format!("ubuntu/images/hvm-ssd*/ubuntu-noble-24.04-{deb_arch}-server-*"),
            Some("ubuntu"),
        ),
        "ubuntu-22.04" => spec(
            "099720109477",
            format!("ubuntu/images/hvm-ssd*/ubuntu-jammy-22.04-{deb_arch}-server-*"),
            Some("ubuntu"),
        ),
        "debian-12" => spec(
            "136693071363",
            format!("debian-12-{deb_arch}-*"),
            Some("admin"),
        ),
        "windows-2022" if !arm64 => spec(
            "801119661308",
            "Windows_Server-2022-English-Full-Base-*".to_owned(),
            None,
        ),
        _ => return None,
    })
}

/// The login user of an image, guessed from its name and platform.
fn ssh_user_of(image: &Image) -> Option<String> {
    if image.platform() == Some(&PlatformValues::Windows) {
        return None;
    }
    let name = image.name().unwrap_or_default().to_ascii_lowercase();
    let user = if name.contains("ubuntu") {
        "ubuntu"
    } else if name.contains("debian") {
        "admin"
    } else if name.contains("windows") {
        return None;
    } else {
        "ec2-user"
    };
    Some(user.to_owned())
}

fn resolved(image: &Image, ssh_user: Option<String>) -> ResolvedImage {
    let root_device = image.root_device_name().map(str::to_owned);
    let root_size_gb = image
        .block_device_mappings()
        .iter()
        .find(|m| m.device_name() == root_device.as_deref())
        .and_then(|m| m.ebs())
        .and_then(|e| e.volume_size());
    ResolvedImage {
        image_id: image.image_id().unwrap_or_default().to_owned(),
        name: image.name().unwrap_or_default().to_owned(),
        root_device,
        root_size_gb,
        ssh_user,
    }
}

impl<S: DeploySink> Run<'_, S> {
    /// Resolves (once per run) the image the instance launches from.
    pub(crate) async fn image(&self) -> Result<ResolvedImage, StepError> {
        if let Some(i) = lock(&self.facts).image.clone() {
            return Ok(i);
        }
        let r = Resource::Ec2Instance;
        let resolved = match self.cfg.compute.image() {
            ImageRef::AmiId(id) => self.image_by_id(id).await?,
            ImageRef::Alias(alias) => {
                let arm = self.cfg.compute.is_arm64();
                let spec = alias_spec(alias, arm).ok_or_else(|| {
                    self.err(
                        r,
                        CODE_INVALID,
                        format!(
                            "image alias '{alias}' has no {} build",
                            if arm { "arm64" } else { "x86_64" }
                        ),
                    )
                })?;
                let out = self
                    .ec2
                    .describe_images()
                    .owners(spec.owner)
                    .filters(filter("name", &[&spec.name_pattern]))
                    .filters(filter("state", &["available"]))
                    .filters(filter("architecture", &[spec.architecture]))
                    .send()
                    .await
                    .map_err(|e| StepError::sdk(r, "ec2:DescribeImages", &self.region, e))?;
                let newest = out
                    .images()
                    .iter()
                    .max_by(|a, b| {
                        (a.creation_date(), a.name()).cmp(&(b.creation_date(), b.name()))
                    })
                    .ok_or_else(|| {
                        self.err(
                            r,
                            CODE_NOT_FOUND,
                            format!(
                                "no image found for alias '{alias}' in '{}' (owner {}, name '{}'); set compute.image_id to an ami-… id available there",
                                self.region, spec.owner, spec.name_pattern
                            ),
                        )
                    })?;
                resolved(newest, spec.ssh_user.map(str::to_owned))
            }
            ImageRef::Unknown(word) => {
                return Err(self.err(
                    r,
                    CODE_INVALID,
                    format!("compute.image_id '{word}' is neither an ami-… id nor a known alias"),
                ));
            }
        };
        lock(&self.facts).image = Some(resolved.clone());
        Ok(resolved)
    }

    /// Describes an AMI by id (a missing one fails with AWS's `InvalidAMIID.*` code).
    pub(crate) async fn image_by_id(&self, id: &str) -> Result<ResolvedImage, StepError> {
        let r = Resource::Ec2Instance;
        let out = self
            .ec2
            .describe_images()
            .image_ids(id)
            .send()
            .await
            .map_err(|e| StepError::sdk(r, "ec2:DescribeImages", &self.region, e))?;
        let image = out.images().first().ok_or_else(|| {
            self.err(
                r,
                "InvalidAMIID.NotFound",
                format!("image '{id}' does not exist in '{}'", self.region),
            )
        })?;
        Ok(resolved(image, ssh_user_of(image)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_alias_has_a_spec() {
        for alias in pockitect_blueprint::model::IMAGE_ALIASES {
            let s = alias_spec(alias, false).unwrap();
            assert!(!s.name_pattern.is_empty());
        }
        assert_eq!(alias_spec("windows-2022", true), None);
        assert!(
            alias_spec("ubuntu-24.04", true)
                .unwrap()
                .name_pattern
                .contains("arm64")
        );
        assert_eq!(
            alias_spec("debian-12", false).unwrap().ssh_user,
            Some("admin")
        );
    }
}
