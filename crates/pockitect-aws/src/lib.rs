//! The AWS engine: one credentials path, clients built once from `aws-config` (honouring
//! `AWS_ENDPOINT_URL` for every service, path-style S3 for emulators), and the work Pockitect
//! does against AWS: the estate scanner first. SDK types stay inside this crate; callers see
//! Pockitect's own records and errors.

pub mod accounts;
pub mod budget;
pub mod catalog;
mod clients;
pub mod credentials;
pub mod db_secret;
pub mod deploy;
mod error;
pub mod login;
mod lookup;
pub mod ownership;
pub mod power;
pub mod pricing;
pub mod refresh;
pub mod scan;
pub mod spend;
pub mod terminate;

pub use clients::{Aws, AwsSettings, Identity, StaticCredentials};
pub use error::AwsError;
