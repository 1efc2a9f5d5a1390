//! `scan`: streams one `scan_chunk` per region as it completes, caches each, ends with
//! `scan_complete` (success, or partial when some region or service failed).

use std::collections::BTreeSet;

use pockitect_aws::scan::{ScanRequest, scan as run_scan};
use pockitect_proto::payload::ScanStarted;
use pockitect_proto::{ErrorCode, Event, ResourceType, ScanArgs, Status};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::Daemon;
use crate::events::{Events, HandlerError, Outcome};

/// AWS region names: lowercase letters, digits and dashes (`us-east-1`, `us-gov-west-1`).
fn check_region(r: &str) -> Result<(), HandlerError> {
    let ok = (4..=32).contains(&r.len())
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && r.contains('-');
    if ok {
        Ok(())
    } else {
        Err(HandlerError::new(
            ErrorCode::InvalidArguments,
            format!("data.regions: '{r}' is not a region name (like 'us-east-1')"),
        ))
    }
}

pub async fn scan(
    args: ScanArgs,
    daemon: &Daemon,
    events: &Events,
    cancel: &CancellationToken,
) -> Result<Outcome, HandlerError> {
    if let Some(regions) = &args.regions {
        for r in regions {
            check_region(r)?;
        }
    }
    let types: BTreeSet<ResourceType> = args
        .types
        .clone()
        .unwrap_or_else(|| ResourceType::ALL.to_vec())
        .into_iter()
        .collect();
    events
        .emit(
            Event::ScanStarted(ScanStarted {
                regions: args.regions.clone(),
                types: types.clone(),
            }),
            Status::InProgress,
        )
        .await;
    let req = ScanRequest {
        regions: args.regions,
        types: args.types,
        concurrency: daemon.settings.scan_concurrency,
    };
    let (tx, mut rx) = mpsc::channel(4);
    let aws = daemon.aws.clone();
    let scan_fut = run_scan(&aws, req, tx);
    tokio::pin!(scan_fut);
    let mut result = None;
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                return Err(HandlerError::new(ErrorCode::Cancelled, "scan cancelled; regions already reported stay cached"));
            }
            chunk = rx.recv() => match chunk {
                Some(chunk) => {
                    daemon.estate.replace(&chunk.region, &types, chunk.records.clone());
                    events.emit(Event::ScanChunk(chunk), Status::InProgress).await;
                }
                None => break,
            },
            r = &mut scan_fut, if result.is_none() => result = Some(r),
        }
    }
    let complete = match result {
        Some(r) => r,
        None => scan_fut.await,
    }?;
    let status = if complete.errors.is_empty() {
        Status::Success
    } else {
        Status::Partial
    };
    Ok(Outcome::new(Event::ScanComplete(complete), status))
}
