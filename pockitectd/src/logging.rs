//! Logs with fields to stderr and a daily-rotated file; the filter comes from `POCKITECT_LOG`,
//! then `RUST_LOG`, then `info`. Whatever that filter says, the AWS SDK targets that dump
//! requests, responses or signing input are capped below the level where they do (see
//! [`SECRET_BEARING_TARGETS`]), so no log level ever writes a database password or a credential.

use tracing::Subscriber;
use tracing_subscriber::filter::{EnvFilter, FilterExt, LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::writer::MakeWriterExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

use crate::Settings;

/// Targets (prefixes) whose TRACE events carry secrets, each capped at DEBUG. Read from the SDK
/// sources this workspace locks (aws-smithy-runtime 1.16, aws-sigv4 1.6, aws-smithy-http 0.64,
/// aws-config 1.13); check them again when those move.
///
/// - `aws_smithy_runtime`: `client::orchestrator` traces `request = ?request` ("transmitting
///   request": the signed request with its headers — `Authorization`, `x-amz-security-token` —
///   and its body, where RDS's `MasterUserPassword=…` is), `response = ?response` ("received
///   response from service"), and `client::orchestrator::http` traces the response body ("read
///   HTTP response body", not redacted for most operations); `client::orchestrator::auth`
///   traces the resolved identity. Its DEBUG events carry timeouts, retries and endpoints only.
///   (The prefix also covers `aws_smithy_runtime_api`, whose TRACE is phase changes only.)
/// - `aws_sigv4`: `http_request::sign` traces the signable request with its body ("signing
///   request") and the string to sign; `event_stream` traces signed message payloads.
/// - `aws_smithy_http`: `event_stream` traces unsigned and signed event-stream messages.
///   (The prefix also covers `aws_smithy_http_client`, whose TRACE is connection pooling.)
/// - `aws_config`: `credential_process` traces the credential_process command line unredacted.
///
/// Not capped, because they never log a header value or a body: `h2` (its frame `Debug` leaves
/// out header fields and data on purpose); `hyper` and `hyper_util` (built without their
/// `tracing` feature, so they emit nothing); the SDK's operation inputs (their `Debug` redacts
/// sensitive members such as `master_user_password`). `LOG_SENSITIVE_BODIES=true` only affects
/// events this cap already drops.
pub const SECRET_BEARING_TARGETS: &[&str] = &[
    "aws_smithy_runtime",
    "aws_sigv4",
    "aws_smithy_http",
    "aws_config",
];

/// Everything passes except the TRACE level of [`SECRET_BEARING_TARGETS`].
fn secret_cap() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(
            SECRET_BEARING_TARGETS
                .iter()
                .map(|t| (*t, LevelFilter::DEBUG)),
        )
}

/// The user's filter text, or `info` with a word on stderr when it does not parse.
fn user_filter(text: &str) -> EnvFilter {
    EnvFilter::try_new(text).unwrap_or_else(|e| {
        eprintln!("pockitectd: log filter '{text}' is not valid ({e}); logging at info. Set POCKITECT_LOG to e.g. 'info' or 'pockitectd=debug'");
        EnvFilter::new("info")
    })
}

/// The formatting layer with the user's filter AND the secret cap, both on the layer itself:
/// a user directive (`aws_smithy_runtime=trace`) widens only the first, so it cannot lift the cap.
fn layer<S, W>(filter: &str, writer: W, ansi: bool) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi)
        .with_filter(user_filter(filter).and(secret_cap()))
}

/// Installs the subscriber; keep the guard alive so the file writer flushes on exit.
pub fn init(settings: &Settings) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let filter = std::env::var("POCKITECT_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned());
    let file = settings.log_dir.as_ref().and_then(|dir| {
        std::fs::create_dir_all(dir).ok()?;
        tracing_appender::rolling::Builder::new()
            .rotation(tracing_appender::rolling::Rotation::DAILY)
            .filename_prefix("pockitectd")
            .filename_suffix("log")
            .max_log_files(7)
            .build(dir)
            .ok()
    });
    match file {
        Some(appender) => {
            let (nb, guard) = tracing_appender::non_blocking(appender);
            let _ = tracing_subscriber::registry()
                .with(layer(&filter, std::io::stderr.and(nb), false))
                .try_init();
            Some(guard)
        }
        None => {
            let _ = tracing_subscriber::registry()
                .with(layer(&filter, std::io::stderr, true))
                .try_init();
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(filter: &str) -> String {
        let buf = Buf::default();
        let sink = buf.clone();
        let subscriber =
            tracing_subscriber::registry().with(layer(filter, move || sink.clone(), false));
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "aws_smithy_runtime::client::orchestrator", body = "MasterUserPassword=orch-secret", "transmitting request");
            tracing::trace!(target: "aws_sigv4::http_request::sign", body = "sigv4-secret", "signing request");
            tracing::trace!(target: "aws_smithy_http::event_stream::sender", "stream-secret");
            tracing::trace!(target: "aws_config::credential_process", "process-secret");
            tracing::debug!(target: "aws_smithy_runtime::client::orchestrator", "debug-kept");
            tracing::trace!(target: "pockitectd::worker", "own-trace-kept");
            tracing::trace!(target: "h2::codec", "h2-trace-kept");
        });
        let out = buf.0.lock().unwrap().clone();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn no_filter_lifts_the_cap_on_the_targets_that_dump_requests() {
        for filter in [
            "trace",
            "aws_smithy_runtime=trace,aws_sigv4=trace,aws_smithy_http=trace,aws_config=trace,trace",
            "aws_smithy_runtime::client::orchestrator=trace,trace",
        ] {
            let out = logged(filter);
            for secret in [
                "orch-secret",
                "sigv4-secret",
                "stream-secret",
                "process-secret",
            ] {
                assert!(!out.contains(secret), "{filter}: {secret} logged:\n{out}");
            }
            // The cap drops only those TRACE events: the rest of TRACE and the SDK's DEBUG stay.
            for kept in ["debug-kept", "own-trace-kept", "h2-trace-kept"] {
                assert!(out.contains(kept), "{filter}: {kept} missing:\n{out}");
            }
        }
    }

    #[test]
    fn the_users_filter_still_narrows() {
        let out = logged("warn");
        assert!(
            !out.contains("debug-kept") && !out.contains("own-trace-kept"),
            "{out}"
        );
    }
}
