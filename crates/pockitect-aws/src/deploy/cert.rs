//! The ACM certificate (`security.certificate.mode: request`): requested with DNS validation;
//! the validation records go to the blueprint and the report so the user can create them.

use std::time::Duration;

use aws_sdk_acm::types::{CertificateStatus, Tag, ValidationMethod};
use pockitect_blueprint::DnsRecord;

use super::engine::{Found, Run, lock};
use super::util::{CODE_INVALID, poll, project_tags, stable_hash, unless_not_found};
use super::{Action, DeploySink, Resource, StepError};
use crate::deploy::util::EngineError;

impl<S: DeploySink> Run<'_, S> {
    fn domain(&self) -> Result<String, StepError> {
        self.cfg
            .security
            .certificate
            .domain
            .clone()
            .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .ok_or_else(|| {
                self.err(
                    Resource::Certificate,
                    CODE_INVALID,
                    "security.certificate.mode is 'request' but security.certificate.domain is empty",
                )
            })
    }

    async fn cert_detail(
        &self,
        arn: &str,
    ) -> Result<Option<aws_sdk_acm::types::CertificateDetail>, StepError> {
        let answer = self
            .acm
            .describe_certificate()
            .certificate_arn(arn)
            .send()
            .await;
        unless_not_found(
            answer.map(|out| out.certificate().cloned()),
            Resource::Certificate,
            "acm:DescribeCertificate",
            &self.region,
        )
    }

    pub(crate) async fn find_certificate(&self) -> Result<Option<Found>, StepError> {
        let r = Resource::Certificate;
        let domain = self.domain()?;
        let usable = |s: Option<&CertificateStatus>| {
            matches!(
                s,
                Some(CertificateStatus::Issued | CertificateStatus::PendingValidation)
            )
        };
        if let Some(arn) = self.cfg.security.certificate.cert_arn.as_deref()
            && let Some(c) = self.cert_detail(arn).await?
            && usable(c.status())
        {
            return Ok(Some(Found::new(
                arn,
                Action::NoChange,
                "recorded and present",
            )));
        }
        let list: Vec<_> = self
            .acm
            .list_certificates()
            .certificate_statuses(CertificateStatus::Issued)
            .certificate_statuses(CertificateStatus::PendingValidation)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| StepError::sdk(r, "acm:ListCertificates", &self.region, e))?;
        for c in list.iter().filter(|c| {
            c.domain_name().map(str::to_ascii_lowercase).as_deref() == Some(domain.as_str())
        }) {
            let Some(arn) = c.certificate_arn() else {
                continue;
            };
            let tags = self
                .acm
                .list_tags_for_certificate()
                .certificate_arn(arn)
                .send()
                .await
                .map_err(|e| StepError::sdk(r, "acm:ListTagsForCertificate", &self.region, e))?;
            let ours = tags.tags().iter().any(|t| {
                t.key() == pockitect_proto::tags::PROJECT && t.value() == Some(self.slug.as_str())
            });
            if ours {
                return Ok(Some(Found::new(
                    arn,
                    Action::Adopt,
                    "found by its domain and tags",
                )));
            }
        }
        Ok(None)
    }

    /// Records the DNS validation records (ACM adds them a few seconds after the request).
    pub(crate) async fn converge_certificate(&self, found: &Found) -> Result<(), StepError> {
        let arn = found.id.clone();
        let wait = self.opts.db_wait.min(Duration::from_secs(60));
        let detail = poll(self.opts.poll_interval, wait, || async {
            let c = self.cert_detail(&arn).await?;
            Ok(c.filter(|c| {
                c.status() == Some(&CertificateStatus::Issued)
                    || (!c.domain_validation_options().is_empty()
                        && c.domain_validation_options()
                            .iter()
                            .all(|d| d.resource_record().is_some()))
            }))
        })
        .await?;
        let Some(detail) = detail else {
            return Ok(());
        };
        let mut records: Vec<DnsRecord> = detail
            .domain_validation_options()
            .iter()
            .filter_map(|d| d.resource_record())
            .map(|rr| DnsRecord {
                name: rr.name().to_owned(),
                record_type: rr.r#type().as_str().to_owned(),
                value: rr.value().to_owned(),
            })
            .collect();
        records.dedup();
        let issued = detail.status() == Some(&CertificateStatus::Issued);
        {
            let mut f = lock(&self.facts);
            f.cert_issued = issued;
            f.cert_records = records.clone();
        }
        self.update_bp(|bp| {
            bp.security.certificate.validation_records = Some(records);
        })
        .await;
        Ok(())
    }

    pub(crate) async fn create_certificate(&self) -> Result<String, StepError> {
        let r = Resource::Certificate;
        let domain = self.domain()?;
        // ACM tokens: at most 32 word characters; the same request within an hour returns the
        // same certificate (a resumed deploy does not request twice).
        let token = format!("p{:016x}", stable_hash(&[&self.slug, &domain]));
        let tags = project_tags(&self.cfg, r)
            .into_iter()
            .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
            .collect();
        let out = self
            .acm
            .request_certificate()
            .domain_name(&domain)
            .validation_method(ValidationMethod::Dns)
            .idempotency_token(token)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| StepError::sdk(r, "acm:RequestCertificate", &self.region, e))?;
        let arn = out
            .certificate_arn()
            .ok_or_else(|| self.err(r, "EmptyResponse", "RequestCertificate returned no ARN"))?
            .to_owned();
        self.created(r, &arn);
        self.record(r, &arn).await;
        self.converge_certificate(&Found::new(&arn, Action::Create, "created"))
            .await?;
        Ok(arn)
    }
}
