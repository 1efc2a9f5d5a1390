//! Runs the property tests' generators for a set time, not a set number of cases: the command
//! decoder's (arbitrary bytes, arbitrary JSON, mutated commands) and the blueprint parser's
//! (arbitrary JSON, mutated blueprints, the project store), each checked by the same
//! `check_*` the property tests use. Prints the cases tried and failures per generator, and the
//! first failing input of each; exits non-zero on any failure.
//!
//! `POCKITECT_FUZZ_SECS=300 cargo bench -p pockitect-blueprint --bench fuzz` (default 60 s in
//! all, shared evenly by the generators). It builds only this crate and pockitect-proto.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use pockitect_blueprint::fuzz as bp;
use pockitect_proto::fuzz as cmd;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, TestRunner};

struct Tally {
    name: &'static str,
    cases: u64,
    failures: u64,
    elapsed: Duration,
    first: Option<String>,
}

/// Draws inputs from `strategy` until `budget` is spent, checking each; a panic in the check is
/// a failure like any other.
fn run<S, F>(name: &'static str, strategy: S, budget: Duration, check: F) -> Tally
where
    S: Strategy,
    F: Fn(&S::Value) -> Result<(), String>,
{
    let mut runner = TestRunner::new(Config::default());
    let mut t = Tally {
        name,
        cases: 0,
        failures: 0,
        elapsed: Duration::ZERO,
        first: None,
    };
    let start = Instant::now();
    while start.elapsed() < budget {
        let verdict = match strategy.new_tree(&mut runner) {
            Ok(tree) => {
                let input = tree.current();
                catch_unwind(AssertUnwindSafe(|| check(&input)))
                    .unwrap_or_else(|_| Err("panicked (message above)".to_owned()))
                    .map_err(|why| {
                        format!("{why}\n    input: {}", cmd::short(&format!("{input:?}")))
                    })
            }
            Err(why) => Err(format!("the generator gave up: {why}")),
        };
        t.cases += 1;
        if let Err(why) = verdict {
            t.failures += 1;
            t.first.get_or_insert(why);
        }
    }
    t.elapsed = start.elapsed();
    t
}

fn main() -> ExitCode {
    let total = std::env::var("POCKITECT_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(60.0);
    const GENERATORS: u32 = 6;
    let each = Duration::from_secs_f64(total) / GENERATORS;
    eprintln!("fuzzing for {total} s, {each:?} per generator");
    let store_dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("cannot make a temporary directory for the store generator: {e}");
            return ExitCode::FAILURE;
        }
    };
    let decode = |payload: &[u8]| {
        let result = pockitect_proto::decode(payload);
        cmd::check_decoded(payload, &result)
    };
    let tallies = [
        run("decode: arbitrary bytes", cmd::bytes(), each, |b| decode(b)),
        run("decode: arbitrary JSON", cmd::json_value(), each, |v| {
            decode(v.to_string().as_bytes())
        }),
        run(
            "decode: mutated commands",
            cmd::mutated_envelope(),
            each,
            |(doc, m)| {
                let payload = doc.to_string();
                let result = pockitect_proto::decode(payload.as_bytes());
                cmd::check_decoded(payload.as_bytes(), &result)
                    .and_then(|()| cmd::check_mutation(m, &result))
            },
        ),
        run("blueprint: arbitrary JSON", bp::json_value(), each, |v| {
            bp::check_parsed(&bp::parse(v))
        }),
        run(
            "blueprint: mutated blueprints",
            bp::mutated_blueprint(),
            each,
            |(doc, m)| {
                let parsed = bp::parse(doc);
                bp::check_parsed(&parsed).and_then(|()| bp::check_mutation(m, &parsed))
            },
        ),
        run(
            "blueprint: project store",
            bp::mutated_blueprint(),
            each,
            |(doc, _)| bp::check_store(store_dir.path(), "fuzzed", doc),
        ),
    ];
    println!(
        "{:<32} {:>10} {:>10} {:>9}",
        "generator", "cases", "cases/s", "failures"
    );
    let mut failed = false;
    for t in &tallies {
        println!(
            "{:<32} {:>10} {:>10.0} {:>9}",
            t.name,
            t.cases,
            t.cases as f64 / t.elapsed.as_secs_f64().max(1e-9),
            t.failures
        );
        failed |= t.failures > 0;
    }
    for t in &tallies {
        if let Some(first) = &t.first {
            println!("\nfirst failure of '{}': {first}", t.name);
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
