use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = pockitect_tui::Args::parse();
    match pockitect_tui::run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pockitect-tui: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
