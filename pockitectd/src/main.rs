use clap::Parser;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = pockitectd::Args::parse();
    let settings = match pockitectd::Settings::resolve(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pockitectd: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    let _log_guard = pockitectd::logging::init(&settings);
    let token = CancellationToken::new();
    pockitectd::shutdown_on_signals(token.clone());
    match pockitectd::run(settings, token).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "daemon stopped");
            eprintln!("pockitectd: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
