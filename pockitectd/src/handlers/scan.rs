//! `scan`: streams one `scan_chunk` per region as it completes, caches each, ends with
//! `scan_complete` (success, or partial when some region or service failed).

use std::collections::BTreeSet;

use pockitect_aws::scan::{ScanRequest, scan as run_scan, scan_accounts};
use pockitect_proto::payload::ScanStarted;
use pockitect_proto::{ErrorCode, Event, ResourceType, ScanArgs, Status};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::Daemon;
use crate::events::{Events, HandlerError, Outcome};

/// Refuses, before any per-region work, regions the account does not have: each one given is
/// named, with the enabled ones. Scanning a region that is not there would only spend retries
/// on every service and end `partial` with an error per service.
async fn check_regions(regions: &[String], daemon: &Daemon) -> Result<(), HandlerError> {
    let shown = |r: &String| format!("'{}'", r.chars().take(64).collect::<String>());
    let enabled = crate::catalog::enabled_regions(daemon).await;
    let mut unknown: Vec<String> = regions
        .iter()
        .filter(|r| match &enabled {
            Some(enabled) => !enabled.contains(r),
            // AWS cannot say which regions are enabled: refuse only what cannot be a region;
            // the scan then reports what each region answers.
            None => !pockitect_blueprint::is_region_code(r),
        })
        .map(shown)
        .collect();
    unknown.sort();
    unknown.dedup();
    if unknown.is_empty() {
        return Ok(());
    }
    let (verb, exist) = if unknown.len() == 1 {
        ("is", "does")
    } else {
        ("are", "do")
    };
    let message = match &enabled {
        Some(enabled) => format!(
            "data.regions: {} {verb} not enabled for this account or {exist} not exist; scan enabled regions ({}), omit --regions to scan them all, or enable the region in the AWS console (Account > AWS Regions)",
            unknown.join(", "),
            enabled.join(", ")
        ),
        None => format!(
            "data.regions: {} {verb} not a region code; give codes such as 'us-east-1'",
            unknown.join(", ")
        ),
    };
    Err(HandlerError::new(ErrorCode::InvalidArguments, message))
}

pub async fn scan(
    args: ScanArgs,
    daemon: &Daemon,
    events: &Events,
    cancel: &CancellationToken,
) -> Result<Outcome, HandlerError> {
    if let Some(regions) = args.regions.as_ref().filter(|r| !r.is_empty()) {
        check_regions(regions, daemon).await?;
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
    let many = !daemon.settings.accounts.is_empty();
    let scan_fut = async {
        if many {
            // The accounts are asked afresh each scan: an Organization's members change.
            let (accounts, unreachable) =
                pockitect_aws::accounts::resolve(&aws, &daemon.settings.accounts).await;
            Ok(scan_accounts(&accounts, &unreachable, req, tx).await)
        } else {
            run_scan(&aws, req, tx).await
        }
    };
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
                    match chunk.account.as_deref().filter(|_| many) {
                        Some(account) => daemon.estate.replace_in_account(
                            account,
                            &chunk.region,
                            &types,
                            chunk.records.clone(),
                        ),
                        None => daemon.estate.replace(&chunk.region, &types, chunk.records.clone()),
                    }
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
