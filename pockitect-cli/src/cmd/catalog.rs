//! The region catalog from a daemon (only daemons talk to AWS), for validation and the wizard.
//! Asked only when a daemon is reachable within a moment; otherwise callers check offline.

use std::time::Duration;

use pockitect_blueprint::ValidationContext;
use pockitect_bus::{Bus, BusConfig};
use pockitect_proto::{CatalogArgs, Command, Status};
use serde_json::Value;

use crate::Global;
use crate::follow::send_and_follow;

/// What a region offers, as the daemon's catalog says.
#[derive(Debug, Default)]
pub struct RegionOffer {
    pub regions: Vec<String>,
    pub instance_types: Vec<String>,
    /// (engine, classes)
    pub db_classes: Vec<(String, Vec<String>)>,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// The catalog of `region`, or why not (no Redis, no daemon, AWS did not answer).
pub async fn fetch(g: &Global, region: &str) -> Result<RegionOffer, String> {
    let connect = Bus::connect(BusConfig::new(g.redis_url.clone(), g.prefix.clone()));
    let bus = match tokio::time::timeout(Duration::from_millis(1500), connect).await {
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
    let d = &t.data;
    Ok(RegionOffer {
        regions: strings(&d["regions"]),
        instance_types: strings(&d["instance_types"]),
        db_classes: d["db_classes"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(engine, classes)| (engine.clone(), strings(classes)))
            .collect(),
    })
}

impl RegionOffer {
    /// The validation context for blueprints in `region`.
    pub fn context(&self, region: &str) -> ValidationContext {
        let mut ctx = ValidationContext::offline();
        if !self.regions.is_empty() {
            ctx = ctx.with_regions(self.regions.iter().cloned());
        }
        if !self.instance_types.is_empty() {
            ctx = ctx.with_instance_types(region, self.instance_types.iter().cloned());
        }
        for (engine, classes) in &self.db_classes {
            ctx = ctx.with_db_classes(region, engine, classes.iter().cloned());
        }
        ctx
    }
}
