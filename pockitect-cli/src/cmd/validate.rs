use std::collections::HashMap;
use std::path::PathBuf;

use pockitect_blueprint::{ProjectStore, ValidationContext, check};
use pockitect_proto::exit;
use serde_json::json;

use crate::Global;
use crate::follow::CliError;

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Blueprint files to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Check shapes only; do not ask a daemon what the regions offer.
    #[arg(long)]
    pub offline: bool,
}

/// Checks each file; exits non-zero when any has an error. Warnings do not fail. When a daemon
/// is reachable, instance types and DB classes are checked against what each file's region
/// offers (the daemon's catalog); otherwise offline, and stderr says so.
pub async fn run(g: &Global, a: ValidateArgs) -> Result<i32, CliError> {
    let mut contexts: HashMap<String, ValidationContext> = HashMap::new();
    let mut failed = 0usize;
    let mut results = Vec::new();
    for file in &a.files {
        let shown = file.display().to_string();
        match ProjectStore::load_path(file) {
            Ok(bp) => {
                let mut checked = check(bp);
                if let Ok(c) = &checked
                    && !a.offline
                {
                    let region = c.blueprint().region().to_owned();
                    if !contexts.contains_key(&region) {
                        let ctx = match super::catalog::fetch(g, &region).await {
                            Ok(offer) => {
                                eprintln!("checked against what {region} offers (daemon catalog)");
                                super::catalog::context(&offer)
                            }
                            Err(why) => {
                                eprintln!("checked offline for {region}: {why}");
                                ValidationContext::offline()
                            }
                        };
                        contexts.insert(region.clone(), ctx);
                    }
                    checked = checked.and_then(|c| c.against(&contexts[&region]));
                }
                let report = match checked {
                    Ok(c) => c.report().clone(),
                    Err(rejected) => rejected.report,
                };
                if !report.is_ok() {
                    failed += 1;
                }
                if g.json {
                    results.push(json!({
                        "file": shown,
                        "valid": report.is_ok(),
                        "errors": report.errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
                        "warnings": report.warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    }));
                } else if report.is_ok() && report.warnings.is_empty() {
                    out!("{shown}: ok");
                } else {
                    let verdict = if report.is_ok() {
                        "ok, with warnings"
                    } else {
                        "invalid"
                    };
                    out!("{shown}: {verdict}");
                    for e in &report.errors {
                        out!("  error: {e}");
                    }
                    for w in &report.warnings {
                        out!("  warning: {w}");
                    }
                }
            }
            Err(e) => {
                failed += 1;
                if g.json {
                    results.push(json!({ "file": shown, "valid": false, "errors": [e.to_string()], "warnings": [] }));
                } else {
                    out!("{shown}: invalid\n  error: {e}");
                }
            }
        }
    }
    if g.json {
        out!("{}", serde_json::Value::Array(results));
    }
    Ok(if failed == 0 {
        exit::SUCCESS
    } else {
        exit::INVALID
    })
}
