//! Logs with fields to stderr and a daily-rotated file; the filter comes from `POCKITECT_LOG`,
//! then `RUST_LOG`, then `info`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::MakeWriterExt;

use crate::Settings;

/// Installs the subscriber; keep the guard alive so the file writer flushes on exit.
pub fn init(settings: &Settings) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let filter = std::env::var("POCKITECT_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned());
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"));
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
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr.and(nb))
                .with_ansi(false)
                .try_init();
            Some(guard)
        }
        None => {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                .try_init();
            None
        }
    }
}
