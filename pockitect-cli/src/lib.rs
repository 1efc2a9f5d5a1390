//! The `pockitect` command-line client. Thin: it builds a command, sends it on the bus, follows
//! the request's events to its terminal one and renders them (human output by default, one
//! JSON event per line with `--json`). It never talks to AWS itself.

/// `println!` that ends the process quietly when stdout is closed (`pockitect … | head`).
macro_rules! out {
    ($($t:tt)*) => { $crate::output::write_line(&format!($($t)*)) };
}

mod cmd;
mod follow;
mod output;

use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use pockitect_bus::local::{Locator, Resolved};
use pockitect_bus::{Bus, BusConfig};
use pockitect_proto::exit;

pub use follow::CliError;

/// Pockitect: deploy one-file blueprints as AWS stacks, scan and clean your AWS estate.
///
/// Exit codes: 0 success, 1 failure, 2 usage, 3 partial, 4 no Redis or daemon, 5 invalid
/// blueprint, 6 cancelled, 7 project busy, 8 timed out, 9 not found, 10 AWS refused, 11
/// refused by the daemon's policy (denied, needs an approved plan, or the plan changed), 130
/// interrupted by Ctrl-C while following (the request goes on).
#[derive(Debug, Parser)]
#[command(name = "pockitect", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Commands,
}

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Redis URL the daemon listens on. Unset: the daemon's private redis-server when it runs
    /// (named in $XDG_RUNTIME_DIR/pockitect/redis.url), else redis://127.0.0.1:6379.
    #[arg(
        long,
        global = true,
        env = "POCKITECT_REDIS_URL",
        hide_env_values = true
    )]
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and channel (as the daemon's).
    #[arg(
        long,
        global = true,
        env = "POCKITECT_PREFIX",
        default_value = "pockitect"
    )]
    pub prefix: String,
    /// Machine-readable output: JSON events one per line (the last is the terminal one), or a
    /// JSON document for queries.
    #[arg(long, global = true)]
    pub json: bool,
    /// Send even when no daemon is running; the next daemon to start handles it.
    #[arg(long, global = true)]
    pub queue: bool,
    /// Give up waiting after this many seconds (the request goes on; follow it with 'watch').
    #[arg(long, global = true, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Where database passwords and the AWS credentials of 'login' are kept: auto (the OS
    /// keyring, else 0600 files in $POCKITECT_SECRETS_DIR or ~/.local/share/pockitect/secrets),
    /// keyring or file. The daemon must use the same store.
    #[arg(long, global = true, env = "POCKITECT_SECRETS", default_value = "auto")]
    pub secrets: pockitect_secrets::Backend,
}

#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Scan every enabled region (or the given ones) for resources.
    Scan(cmd::scan::ScanArgs),
    /// List resources the daemon knows from its last scan.
    Resources(cmd::resources::ResourcesArgs),
    /// Find resources whose id, name, tags, … contain TEXT.
    Find(cmd::resources::FindArgs),
    /// Follow the events of one request (or of all, live).
    Watch(cmd::watch::WatchArgs),
    /// Ask a running request to stop at its next safe point.
    Cancel(cmd::watch::CancelArgs),
    /// Check Redis, the daemons and the AWS identity they use.
    Doctor,
    /// Write a new blueprint: a short wizard, or flags alone with --yes.
    New(cmd::new::NewArgs),
    /// Validate blueprint files (no daemon or AWS needed).
    Validate(cmd::validate::ValidateArgs),
    /// List the daemon's projects.
    Projects,
    /// Show what a deploy would do, per resource (no AWS writes).
    Plan(cmd::deploy::PlanArgs),
    /// Deploy a blueprint (a file or a project slug) and follow its progress.
    Deploy(cmd::deploy::DeployArgs),
    /// Start or stop a project's instances and databases.
    Power(cmd::operate::PowerArgs),
    /// Delete resources (from flags or scan records), in dependency order.
    Terminate(cmd::operate::TerminateArgs),
    /// Delete everything a project owns; the blueprint stays.
    Destroy(cmd::operate::DestroyArgs),
    /// Describe deployed projects' resources now and update their blueprints.
    Refresh(cmd::operate::RefreshArgs),
    /// Show a project's parts, their status and ids.
    Status(cmd::deploy::StatusArgs),
    /// What the daemons did, newest first: who asked, how it ended, which resources it
    /// created, changed, started, stopped or deleted (the audit trail).
    History(cmd::history::HistoryArgs),
    /// What each project actually cost (Cost Explorer, by the pockitect:project tag), month to
    /// date and last month, beside its estimate and budget.
    Cost(cmd::cost::CostArgs),
    /// What the last scan shows paid for and idle (stopped instances' volumes, unattached
    /// volumes, unassociated Elastic IPs, idle NAT gateways, stopped databases), priced.
    Waste(cmd::waste::WasteArgs),
    /// Print a project's database password: the one RDS keeps in Secrets Manager (read by the
    /// daemon on this host, as this user), else the one in the OS keyring or its 0600 file.
    DbPassword(cmd::secrets::DbPasswordArgs),
    /// Sign in to AWS: the daemon checks the keys you type (or a profile) with STS, says
    /// which account and principal they are, and keeps them in the OS keyring (else a 0600
    /// file); with an MFA device, it asks for a code and keeps the session for its lifetime.
    Login(cmd::login::LoginArgs),
    /// Remove the credentials stored by 'login': the daemon goes back to the standard AWS
    /// chain (environment, profile, SSO, instance role).
    Logout,
    /// Print shell completions.
    Completions(cmd::completions::CompletionsArgs),
}

/// Runs the CLI and returns the process exit code. Errors are printed to stderr.
pub async fn run(cli: Cli) -> i32 {
    let result = match cli.command {
        Commands::Validate(a) => cmd::validate::run(&cli.global, a).await,
        Commands::New(a) => cmd::new::run(&cli.global, a).await,
        Commands::Completions(a) => cmd::completions::run(a),
        // Connects itself: a keyring password is still shown when no daemon is reachable.
        Commands::DbPassword(a) => cmd::secrets::db_password(&cli.global, a).await,
        // The keys are asked only once a daemon is known to be there; logout works without one.
        Commands::Login(a) => cmd::login::login(&cli.global, a).await,
        Commands::Logout => cmd::login::logout(&cli.global).await,
        // A blueprint file's errors are reported before Redis is needed: they connect themselves.
        Commands::Plan(a) => cmd::deploy::plan(&cli.global, a).await,
        Commands::Deploy(a) => cmd::deploy::deploy(&cli.global, a).await,
        command => match connect_resolved(&cli.global).await {
            Ok((bus, redis)) => dispatch(&cli.global, &bus, &redis, command).await,
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(code) => code,
        // Not an error: the user chose to stop following.
        Err(e @ CliError::Interrupted(_)) => {
            eprintln!("{e}");
            e.exit_code()
        }
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

async fn dispatch(
    g: &Global,
    bus: &Bus,
    redis: &Resolved,
    command: Commands,
) -> Result<i32, CliError> {
    match command {
        Commands::Scan(a) => cmd::scan::run(g, bus, a).await,
        Commands::Resources(a) => cmd::resources::run(g, bus, a).await,
        Commands::Find(a) => cmd::resources::find(g, bus, a).await,
        Commands::Watch(a) => cmd::watch::run(g, bus, a).await,
        Commands::Cancel(a) => cmd::watch::cancel(g, bus, a).await,
        Commands::Doctor => cmd::doctor::run(g, bus, redis).await,
        Commands::Projects => cmd::projects::run(g, bus).await,
        Commands::Status(a) => cmd::deploy::status(g, bus, a).await,
        Commands::Refresh(a) => cmd::operate::refresh(g, bus, a).await,
        Commands::Power(a) => cmd::operate::power(g, bus, a).await,
        Commands::Terminate(a) => cmd::operate::terminate(g, bus, a).await,
        Commands::Destroy(a) => cmd::operate::destroy(g, bus, a).await,
        Commands::History(a) => cmd::history::run(g, bus, a).await,
        Commands::Waste(a) => cmd::waste::run(g, bus, a).await,
        Commands::Cost(a) => cmd::cost::run(g, bus, a).await,
        Commands::Validate(_)
        | Commands::New(_)
        | Commands::Plan(_)
        | Commands::Deploy(_)
        | Commands::Completions(_)
        | Commands::DbPassword(_)
        | Commands::Login(_)
        | Commands::Logout => Ok(exit::SUCCESS),
    }
}

/// Connects to Redis within a few seconds, or explains how to get one.
pub(crate) async fn connect(g: &Global) -> Result<Bus, CliError> {
    connect_resolved(g).await.map(|(bus, _)| bus)
}

/// Finds the Redis to use as the daemon does (the configured URL, else the daemon's private
/// server, else the default address: `pockitect_bus::local`) and connects to it.
pub(crate) async fn connect_resolved(g: &Global) -> Result<(Bus, Resolved), CliError> {
    let redis = Locator::from_env()
        .resolve(g.redis_url.as_deref())
        .await
        .map_err(|e| CliError::Unavailable(e.to_string()))?;
    let url = pockitect_bus::redact_url(&redis.url);
    let fut = Bus::connect(BusConfig::new(redis.url.clone(), g.prefix.clone()));
    match tokio::time::timeout(Duration::from_secs(4), fut).await {
        Ok(Ok(bus)) => Ok((bus.identified_as(pockitect_proto::ClientKind::Cli), redis)),
        Ok(Err(e)) => Err(CliError::Unavailable(format!(
            "cannot reach Redis at {url}: {e}; start redis-server or set POCKITECT_REDIS_URL"
        ))),
        Err(_) => Err(CliError::Unavailable(format!(
            "no answer from Redis at {url} in 4 s; start redis-server or set POCKITECT_REDIS_URL"
        ))),
    }
}
