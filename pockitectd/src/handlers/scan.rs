//! `scan`: split into one `scan_shard` per (account, region) that any daemon of the group may
//! run; the scan streams one `scan_chunk` per shard as it ends, caches each, and ends with
//! `scan_complete` (success, or partial when some region or service failed).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use futures::future::join_all;
use pockitect_aws::scan::{GLOBAL, scan_shard, split_types, target};
use pockitect_proto::payload::ScanStarted;
use pockitect_proto::{
    Command, Envelope, ErrorCode, Event, RequestId, ResourceType, ScanArgs, ScanChunk,
    ScanComplete, ScanError, ScanShardArgs, Status,
};
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

/// How often the scan looks for shards that ended (one MGET for all of them).
const POLL: Duration = Duration::from_millis(25);
/// How long a gathered shard's end stays in Redis: long enough for a daemon that takes the
/// scan over after a crash to gather it again, much less than a day of chunks.
const SHARD_ENDS_KEPT: Duration = Duration::from_secs(10 * 60);

/// One (account, region) of the scan, as a request of its own on the command stream.
struct Shard {
    id: RequestId,
    args: ScanShardArgs,
}

/// The request id of a shard: the scan's id and a digest of its account and region, the same
/// whichever daemon makes it, so a daemon resuming the scan puts no shard on the stream twice.
fn shard_id(parent: &RequestId, account: Option<&str>, region: &str) -> RequestId {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!(
        "{}\0{}\0{region}",
        parent.as_str(),
        account.unwrap_or("")
    ));
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    let head: String = parent.as_str().chars().take(32).collect();
    RequestId::parse(&format!("{head}_{hex}")).unwrap_or_default()
}

/// The accounts to scan, each with its regions.
struct Plan {
    targets: Vec<(Option<String>, Vec<String>)>,
    /// What could not be reached, as errors of the scan.
    errors: Vec<ScanError>,
    /// The first account whose regions could not be listed: the scan's error when no account
    /// can be scanned.
    failed: Option<pockitect_aws::AwsError>,
}

async fn plan(regions: Option<Vec<String>>, daemon: &Daemon) -> Plan {
    let accounts = &daemon.accounts;
    let (handles, mut errors): (Vec<(Option<String>, pockitect_aws::Aws)>, Vec<ScanError>) =
        if accounts.is_many() {
            // The accounts are asked afresh each scan: an Organization's members change.
            let resolved = accounts.resolve().await;
            (
                resolved
                    .accounts
                    .iter()
                    .map(|a| (Some(a.identity.account.clone()), a.aws.clone()))
                    .collect(),
                resolved
                    .unreachable
                    .iter()
                    .map(|u| ScanError {
                        account: None,
                        region: GLOBAL.to_owned(),
                        service: "sts".to_owned(),
                        code: u.error.code().to_owned(),
                        message: format!("{} cannot be reached: {}", u.label, u.error.message()),
                    })
                    .collect(),
            )
        } else {
            (vec![(None, daemon.aws.clone())], Vec::new())
        };
    let many = accounts.is_many();
    let targets = join_all(handles.iter().map(|(account, aws)| {
        let regions = regions.clone();
        async move { (account, aws, target(aws, regions).await) }
    }))
    .await;
    let mut out = Vec::new();
    let mut failed = None;
    for (account, aws, t) in targets {
        match t {
            Ok(t) => {
                errors.extend(t.errors.into_iter().map(|mut e| {
                    e.account.clone_from(account);
                    e
                }));
                // One account: its id as STS says (None when STS cannot say, as before).
                let account = if many { account.clone() } else { t.account };
                out.push((account, t.regions));
            }
            Err(e) => {
                errors.push(ScanError {
                    account: account.clone(),
                    region: aws.home_region().to_owned(),
                    service: "ec2:regions".to_owned(),
                    code: e.code().to_owned(),
                    message: e.message(),
                });
                failed.get_or_insert(e);
            }
        }
    }
    Plan {
        targets: out,
        errors,
        failed,
    }
}

/// `scan`: plans the (account, region) shards, puts them on the command stream for every
/// daemon of the group to take, and gathers their chunks as they end, reporting each under
/// this request, until all have ended. The one terminal event is this request's own, so the
/// scan ends once whichever daemons ran its shards, also when one of them dies mid-shard (its
/// shard's lease lapses and another daemon runs it again).
pub async fn scan(
    args: ScanArgs,
    daemon: &Daemon,
    events: &Events,
    cancel: &CancellationToken,
) -> Result<Outcome, HandlerError> {
    if let Some(regions) = args.regions.as_ref().filter(|r| !r.is_empty()) {
        check_regions(regions, daemon).await?;
    }
    let started = Instant::now();
    let (regional, global) = split_types(args.types.as_deref());
    let types: BTreeSet<ResourceType> = regional.iter().chain(&global).copied().collect();
    events
        .emit(
            Event::ScanStarted(ScanStarted {
                regions: args.regions.clone(),
                types: types.clone(),
            }),
            Status::InProgress,
        )
        .await;
    let many = daemon.accounts.is_many();
    let Plan {
        targets,
        mut errors,
        failed,
    } = tokio::select! {
        biased;
        _ = cancel.cancelled() => return Err(cancelled()),
        p = plan(args.regions, daemon) => p,
    };
    if targets.is_empty() {
        // Nothing can be scanned: say why, as one error rather than an empty success.
        return Err(match failed {
            Some(e) => e.into(),
            None => HandlerError::new(
                ErrorCode::Aws,
                format!(
                    "no account could be scanned: {}",
                    errors
                        .iter()
                        .map(|e| e.message.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            ),
        });
    }

    let parent = events.request_id();
    let mut shards = Vec::new();
    for (account, regions) in &targets {
        let mut places: Vec<(&str, &Vec<ResourceType>)> = Vec::new();
        if !regional.is_empty() {
            places.extend(regions.iter().map(|r| (r.as_str(), &regional)));
        }
        if !global.is_empty() {
            places.push((GLOBAL, &global));
        }
        for (region, types) in places {
            shards.push(Shard {
                id: shard_id(parent, account.as_deref(), region),
                args: ScanShardArgs {
                    parent: parent.clone(),
                    account: account.clone(),
                    region: region.to_owned(),
                    types: types.clone(),
                },
            });
        }
    }
    for shard in &shards {
        let env = Envelope::command(
            &Command::ScanShard(shard.args.clone()),
            shard.id.clone(),
            events.client().cloned(),
            None,
        );
        // A duplicate (this scan resumed after a crash) is already on the stream or done.
        daemon.bus.enqueue(&env).await.map_err(bus_error)?;
    }

    let total = shards.len();
    let mut pending: BTreeMap<RequestId, ScanShardArgs> =
        shards.into_iter().map(|s| (s.id, s.args)).collect();
    let ids: Vec<RequestId> = pending.keys().cloned().collect();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut region_counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut done = 0;
    while !pending.is_empty() {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                for id in pending.keys() {
                    let _ = daemon.bus.request_cancel(id).await;
                }
                return Err(cancelled());
            }
            _ = tokio::time::sleep(POLL) => {}
        }
        let asked: Vec<RequestId> = pending.keys().cloned().collect();
        let ends = match daemon.bus.done_events(&asked).await {
            Ok(e) => e,
            Err(e) => {
                // Redis away for a moment: the shards' ends wait in Redis; ask again.
                tracing::warn!(request_id = %parent, error = %e, "could not read the shards' ends; retrying");
                continue;
            }
        };
        for (id, end) in asked.into_iter().zip(ends) {
            let Some(end) = end else { continue };
            let Some(shard) = pending.remove(&id) else {
                continue;
            };
            done += 1;
            let account = shard.account.clone().filter(|_| many);
            match end.decode() {
                Ok(Event::ScanChunk(mut chunk)) => {
                    chunk.account = shard.account.clone();
                    chunk.chunk = done;
                    chunk.chunks = total;
                    chunk.types = shard.types.clone();
                    for e in &mut chunk.errors {
                        e.account.clone_from(&account);
                    }
                    for r in &chunk.records {
                        *counts.entry(r.kind.as_str().to_owned()).or_default() += 1;
                        *region_counts.entry(r.region.clone()).or_default() += 1;
                    }
                    errors.extend(chunk.errors.iter().cloned());
                    daemon.estate.apply(&chunk);
                    events
                        .emit(Event::ScanChunk(chunk), Status::InProgress)
                        .await;
                }
                // The shard could not run (refused, cancelled, crashed): its region is an
                // error of the scan, and what the estate knew of it stays.
                other => errors.push(ScanError {
                    account,
                    region: shard.region.clone(),
                    service: "scanner".to_owned(),
                    code: end
                        .data
                        .get("code")
                        .and_then(|c| c.as_str())
                        .unwrap_or("internal")
                        .to_owned(),
                    message: match other {
                        Ok(_) => end
                            .message()
                            .unwrap_or("the shard ended without its chunk")
                            .to_owned(),
                        Err(e) => format!("the shard's end cannot be read: {e}"),
                    },
                }),
            }
        }
    }
    if let Err(e) = daemon.bus.forget_done_after(&ids, SHARD_ENDS_KEPT).await {
        tracing::debug!(request_id = %parent, error = %e, "shard ends stay a day");
    }

    let mut regions: BTreeSet<String> = BTreeSet::new();
    for (_, r) in &targets {
        regions.extend(r.iter().cloned());
    }
    let accounts: Vec<String> = if many {
        targets.iter().filter_map(|(a, _)| a.clone()).collect()
    } else {
        Vec::new()
    };
    let complete = ScanComplete {
        account: targets.first().and_then(|(a, _)| a.clone()),
        accounts,
        regions: regions.into_iter().collect(),
        total: counts.values().sum(),
        counts,
        region_counts,
        errors,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    let status = if complete.errors.is_empty() {
        Status::Success
    } else {
        Status::Partial
    };
    Ok(Outcome::new(Event::ScanComplete(complete), status))
}

/// `scan_shard`: one (account, region) of a scan, in an account of this daemon's own list.
/// Ends with the shard's chunk (partial when a service failed there).
pub async fn shard(
    args: ScanShardArgs,
    daemon: &Daemon,
    cancel: &CancellationToken,
) -> Result<Outcome, HandlerError> {
    let region = &args.region;
    if region != GLOBAL && !pockitect_blueprint::is_region_code(region) {
        return Err(HandlerError::new(
            ErrorCode::InvalidArguments,
            format!(
                "data.region: '{}' is not a region code; give one such as 'us-east-1', or 'global'",
                region.chars().take(64).collect::<String>()
            ),
        ));
    }
    let aws = daemon.accounts.handle(args.account.as_deref()).await?;
    let account = match &args.account {
        Some(a) => a.clone(),
        None => aws.account().await.unwrap_or_default(),
    };
    let (records, errors) = tokio::select! {
        biased;
        _ = cancel.cancelled() => return Err(cancelled()),
        r = scan_shard(&aws, &account, region, &args.types, daemon.settings.scan_concurrency) => r,
    };
    let status = if errors.is_empty() {
        Status::Success
    } else {
        Status::Partial
    };
    let chunk = ScanChunk {
        account: args.account.clone(),
        region: args.region.clone(),
        records,
        errors,
        chunk: 1,
        chunks: 1,
        types: args.types,
    };
    Ok(Outcome::new(Event::ScanChunk(chunk), status))
}

fn cancelled() -> HandlerError {
    HandlerError::new(
        ErrorCode::Cancelled,
        "scan cancelled; regions already reported stay cached",
    )
}

fn bus_error(e: pockitect_bus::BusError) -> HandlerError {
    HandlerError::new(
        ErrorCode::Internal,
        format!("could not put the scan's shards on the command stream: {e}"),
    )
}
