//! The region catalog from a daemon (only daemons talk to AWS), for validation and the wizard.
//! Asked only when a daemon is reachable within a moment; otherwise callers check offline.

use std::time::Duration;

use pockitect_blueprint::ValidationContext;
use pockitect_proto::{Catalog, CatalogArgs, Command, Status};

use crate::Global;
use crate::follow::send_and_follow;

/// The catalog of `region`, or why not (no Redis, no daemon, AWS did not answer).
pub async fn fetch(g: &Global, region: &str) -> Result<Catalog, String> {
    let bus = match tokio::time::timeout(Duration::from_secs(3), crate::connect(g)).await {
        Ok(Ok(bus)) => bus,
        _ => return Err("Redis is not reachable".into()),
    };
    if bus.daemons().await.map(|d| d.is_empty()).unwrap_or(true) {
        return Err("no daemon is running".into());
    }
    let q = Global {
        queue: false,
        json: false,
        timeout: Some(g.timeout.unwrap_or(30.0)),
        ..g.clone()
    };
    let cmd = Command::Catalog(CatalogArgs {
        region: region.to_owned(),
    });
    let t = send_and_follow(&q, &bus, &cmd, |_| {})
        .await
        .map_err(|e| e.to_string())?;
    if t.status != Some(Status::Success) {
        return Err(t
            .message()
            .unwrap_or("the daemon had no catalog")
            .to_owned());
    }
    serde_json::from_value(t.data).map_err(|e| format!("the daemon's catalog is unreadable: {e}"))
}

/// The validation context for blueprints in the catalog's region.
pub fn context(c: &Catalog) -> ValidationContext {
    ValidationContext::offline().with_offer(&c.region, &c.regions, &c.instance_types, &c.db_classes)
}
