use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = pockitect_cli::Cli::parse();
    let code = pockitect_cli::run(cli).await;
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
