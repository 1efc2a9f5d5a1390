//! The master password of a project's database when RDS manages it (`ManageMasterUserPassword`):
//! RDS generated it and keeps it in a Secrets Manager secret of its own, named in the instance's
//! `MasterUserSecret`. Read only for `pockitect db-password`; the caller decides where it goes
//! (the daemon writes it to a 0600 file of the asking user, never to the bus).

use serde::Deserialize;

use crate::deploy::{DbPassword, db_identifier, master_user_secret_arn, rds_ours};
use crate::{Aws, AwsError};

/// What RDS says about where the database's master password is kept.
#[derive(Debug)]
pub enum MasterPassword {
    /// RDS manages it: the secret's ARN and the password read from it.
    Managed {
        identifier: String,
        secret_arn: String,
        password: DbPassword,
    },
    /// The database has a password of its own, chosen when it was created (the OS keyring or a
    /// 0600 file of the host that deployed it): Secrets Manager has nothing.
    NotManaged { identifier: String },
}

#[derive(Debug, thiserror::Error)]
pub enum DbSecretError {
    #[error(
        "read the database password of '{project}': no DB instance '{identifier}' in '{region}'; deploy the project first ('pockitect deploy {project}')"
    )]
    NoDatabase {
        project: String,
        identifier: String,
        region: String,
    },
    #[error(
        "read the database password of '{project}': DB instance '{identifier}' is not tagged for this project, so its secret is not read"
    )]
    NotOurs { project: String, identifier: String },
    #[error("read the database password of '{project}': {source}")]
    Aws {
        project: String,
        #[source]
        source: AwsError,
    },
    /// The secret holds no JSON with a `password` string. Its text is never quoted: it is the
    /// secret.
    #[error(
        "read the database password of '{project}': secret '{secret_arn}' holds no JSON object with a 'password' string; RDS writes that shape, so the secret was changed by hand"
    )]
    Unreadable { project: String, secret_arn: String },
}

/// The shape RDS writes into a managed secret: `{"username": "...", "password": "..."}`.
#[derive(Deserialize)]
struct SecretShape {
    password: String,
}

/// The master password of `project`'s database in `region`: the instance `identifier` (the one
/// the blueprint records; the deploy's name for it when none is recorded) is described, must be
/// tagged for the project, and when RDS manages its password the secret is read.
pub async fn master_password(
    aws: &Aws,
    project: &str,
    region: &str,
    identifier: Option<&str>,
) -> Result<MasterPassword, DbSecretError> {
    let identifier = identifier
        .filter(|s| !s.trim().is_empty())
        .map_or_else(|| db_identifier(project), str::to_owned);
    let aws_err = |source| DbSecretError::Aws {
        project: project.to_owned(),
        source,
    };
    let described = aws
        .rds(region)
        .describe_db_instances()
        .db_instance_identifier(&identifier)
        .send()
        .await;
    let db = match described {
        Ok(out) => out.db_instances().first().cloned(),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_db_instance_not_found_fault()) =>
        {
            None
        }
        Err(e) => {
            return Err(aws_err(AwsError::from_sdk(
                "rds:DescribeDBInstances",
                region,
                e,
            )));
        }
    };
    let Some(db) = db else {
        return Err(DbSecretError::NoDatabase {
            project: project.to_owned(),
            identifier,
            region: region.to_owned(),
        });
    };
    // The same gate as a deploy's adoption: a database of another project (a blueprint edited
    // to name it) does not hand out its password.
    if !rds_ours(db.tag_list(), project) {
        return Err(DbSecretError::NotOurs {
            project: project.to_owned(),
            identifier,
        });
    }
    let Some(secret_arn) = master_user_secret_arn(&db) else {
        return Ok(MasterPassword::NotManaged { identifier });
    };
    let value = aws
        .secrets_manager(region)
        .get_secret_value()
        .secret_id(&secret_arn)
        .send()
        .await
        .map_err(|e| {
            aws_err(AwsError::from_sdk(
                "secretsmanager:GetSecretValue",
                region,
                e,
            ))
        })?;
    // serde's message may quote the input, which is the secret: it is dropped, not kept.
    let password = value
        .secret_string()
        .and_then(|s| serde_json::from_str::<SecretShape>(s).ok())
        .map(|s| DbPassword::new(s.password))
        .ok_or_else(|| DbSecretError::Unreadable {
            project: project.to_owned(),
            secret_arn: secret_arn.clone(),
        })?;
    Ok(MasterPassword::Managed {
        identifier,
        secret_arn,
        password,
    })
}
