//! The Pockitect blueprint: the one-file JSON description of a project's AWS stack. This crate owns
//! its model (user choices beside the ids and statuses the daemon writes back), loading of files
//! written by the earlier Python Pockitect, the project slug, validation that reports every problem
//! at once before any AWS call, and the atomic file store under `projects/`. It is pure: no async
//! runtime, no Redis, no AWS SDK.
//!
//! ```
//! use pockitect_blueprint::{Blueprint, ValidationContext, validate};
//!
//! let bp = Blueprint::from_json_str(r#"{"project": {"name": "Brenden's Blog", "region": "us-east-2"},
//!                                        "compute": {"instance_type": "t3.micro"}}"#)?;
//! assert_eq!(bp.slug(), "brendens-blog");
//! let report = validate(&bp, &ValidationContext::offline());
//! assert!(report.is_ok(), "{report}");
//! # Ok::<(), pockitect_blueprint::Error>(())
//! ```

mod error;
#[cfg(feature = "fuzz")]
pub mod fuzz;
pub mod legacy;
pub mod model;
mod net;
mod observed;
mod parse;
mod recorded;
pub mod slug;
pub mod store;
mod summary;
pub mod validate;

pub use error::{Error, Result};
pub use legacy::LegacyNote;
pub use model::{
    Blueprint, Bucket, Certificate, CertificateMode, Compute, Data, Database, DbEngine, DnsRecord,
    IamRole, ImageRef, KeyPair, KeyPairMode, Network, PortRange, Project, Protocol, Rule, Secret,
    SectionStatus, Security, SubnetType, VpcEnv, VpcMode, WIZARD_DB_CLASSES, WIZARD_INSTANCE_TYPES,
};
pub use observed::{Observation, ObservedField};
pub use parse::{from_json_str, from_json_str_with_notes, from_value, to_json_pretty};
pub use recorded::RecordedId;
pub use slug::{is_valid_slug, slugify};
pub use store::ProjectStore;
pub use summary::NOT_WANTED;
pub use validate::{
    Checked, Issue, Rejected, Report, ValidationContext, check, check_db_password, is_account_id,
    is_region_code, validate,
};
