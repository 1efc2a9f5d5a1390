//! What a blueprint says about its project, typed for clients: its parts with status and id,
//! and the outputs a user needs (address, SSH command, database endpoint, bucket, certificate
//! records). The `projects` and `project` answers, `pockitect status` and the TUI read these,
//! never the blueprint's JSON.

use pockitect_proto::deploy::{DnsRecord, Outputs};
use pockitect_proto::payload::{Part, ProjectDetail, ProjectSummary};

use crate::model::{Blueprint, KeyPairMode, SectionStatus};
use crate::validate::Report;

/// The status shown for a part the blueprint does not ask for.
pub const NOT_WANTED: &str = "not wanted";

/// The login user of an image alias (none for Windows, and for a raw `ami-…` id, whose user
/// only the deploy engine can tell from the image's name).
fn ssh_user_of_alias(alias: &str) -> Option<&'static str> {
    match alias {
        a if a.starts_with("amazon-linux") => Some("ec2-user"),
        a if a.starts_with("ubuntu") => Some("ubuntu"),
        a if a.starts_with("debian") => Some("admin"),
        _ => None,
    }
}

impl Blueprint {
    /// Its parts in a fixed order: network, compute, database, bucket, key pair, iam role,
    /// certificate.
    pub fn parts(&self) -> Vec<Part> {
        fn part(name: &str, wanted: bool, status: &SectionStatus, id: Option<String>) -> Part {
            Part {
                name: name.to_owned(),
                wanted,
                status: if wanted {
                    status.as_str().to_owned()
                } else {
                    NOT_WANTED.to_owned()
                },
                id: id.filter(|s| !s.is_empty()),
            }
        }
        let (n, c, s) = (&self.network, &self.compute, &self.security);
        let db = self.db();
        let bucket = self.bucket();
        let server = [c.instance_id.clone(), c.public_ip.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        vec![
            part("network", true, &n.status, n.vpc_id.clone()),
            part("compute", true, &c.status, Some(server)),
            part(
                "database",
                db.is_some(),
                db.map_or(&SectionStatus::Skipped, |d| &d.status),
                db.and_then(|d| d.endpoint.clone().or_else(|| d.identifier.clone())),
            ),
            part(
                "bucket",
                bucket.is_some(),
                bucket.map_or(&SectionStatus::Skipped, |b| &b.status),
                bucket.and_then(|b| b.arn.as_ref().and(b.name.clone())),
            ),
            part(
                "key pair",
                self.key_pair_enabled(),
                &s.key_pair.status,
                s.key_pair
                    .private_key_path
                    .clone()
                    .or_else(|| s.key_pair.key_pair_id.clone()),
            ),
            part(
                "iam role",
                self.iam_enabled(),
                &s.iam_role.status,
                s.iam_role.arn.clone(),
            ),
            part(
                "certificate",
                self.certificate_enabled(),
                &s.certificate.status,
                s.certificate.cert_arn.clone(),
            ),
        ]
    }

    /// The project as `projects` lists it; `report` is its offline validation.
    pub fn summary(&self, slug: &str, report: &Report) -> ProjectSummary {
        ProjectSummary {
            slug: slug.to_owned(),
            name: Some(self.project.name.clone()),
            region: Some(self.region().to_owned()),
            status: Some(self.compute.status.as_str().to_owned()),
            valid: report.is_ok(),
            errors: report.errors.iter().map(ToString::to_string).collect(),
            parts: self.parts(),
            // The estimate needs prices, which this crate does not have: the daemon adds it.
            estimate_usd_month: None,
            budget_usd_month: self.project.budget_usd_month,
        }
    }

    /// What a user needs to reach the project, from what the blueprint records. `ssh_user` is
    /// the image's login user when known (the deploy engine knows it from the image itself).
    pub fn outputs(&self, ssh_user: Option<&str>, certificate_records: Vec<DnsRecord>) -> Outputs {
        let c = &self.compute;
        let mut out = Outputs {
            instance_id: c.instance_id.clone(),
            public_ip: c.public_ip.clone(),
            private_ip: c.private_ip.clone(),
            private_key_path: self.security.key_pair.private_key_path.clone(),
            bucket: self
                .bucket()
                .filter(|b| b.arn.is_some())
                .and_then(|b| b.name.clone()),
            certificate_arn: self.security.certificate.cert_arn.clone(),
            certificate_validation_records: certificate_records,
            ..Outputs::default()
        };
        if let Some(db) = self.db()
            && let Some(ep) = &db.endpoint
        {
            out.db_endpoint = Some(match db.port {
                Some(p) => format!("{ep}:{p}"),
                None => ep.clone(),
            });
        }
        let ip = out.public_ip.clone().or_else(|| out.private_ip.clone());
        // An existing key pair has no file here: the user knows where their key is.
        let existing_key =
            self.security.key_pair.mode == KeyPairMode::Existing && self.key_pair_enabled();
        if let (Some(ip), Some(key), Some(user)) = (ip, &out.private_key_path, ssh_user) {
            out.ssh_command = Some(format!("ssh -i {key} {user}@{ip}"));
        } else if let (Some(ip), Some(user), true) = (&out.public_ip, ssh_user, existing_key) {
            out.ssh_command = Some(format!("ssh {user}@{ip}"));
        }
        out
    }

    /// The project in full, as the `project` answer carries it.
    pub fn detail(&self, slug: &str, report: &Report) -> ProjectDetail {
        let ssh_user = ssh_user_of_alias(self.image_alias_or_id());
        let records = self
            .security
            .certificate
            .validation_records
            .clone()
            .unwrap_or_default();
        ProjectDetail {
            summary: self.summary(slug, report),
            outputs: self.outputs(ssh_user, records),
            // A blueprint is plain data: it always serialises.
            blueprint: serde_json::to_value(self).unwrap_or_default(),
            // Priced by the daemon (this crate knows no prices).
            estimate: None,
        }
    }
}
