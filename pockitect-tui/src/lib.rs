//! `pockitect-tui`, the live operations console: four tabs (Projects, Resources, Activity,
//! Daemons) over what the daemons report on the bus. It is a thin client in the Elm style: the
//! model changes only in [`app::update`] (pure, no I/O), [`ui::view`] draws it, and all Redis
//! I/O happens in [`bus_task`], which reports through a channel so the screen never waits on
//! the network. Logs go to a file, never to the screen.

pub mod activity;
pub mod app;
pub mod bus_task;
pub mod keys;
pub mod projects;
pub mod resources;
#[doc(hidden)]
pub mod synthetic;
pub mod theme;
pub mod ui;

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use ratatui::crossterm::event::{self, Event, KeyEventKind};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::app::{Effect, Model, Msg, Settings};
use crate::bus_task::BusSettings;
use crate::theme::Theme;

/// The console's command line.
#[derive(Clone, Parser)]
#[command(
    name = "pockitect-tui",
    version,
    about = "Pockitect's live console: projects, the AWS estate, activity and daemons",
    after_help = "Keys: 1-4 or Tab switch tabs, ? shows every key, q quits.\n\
                  Logs go to $XDG_STATE_HOME/pockitect/tui.<date>.log (filter with POCKITECT_LOG or RUST_LOG)."
)]
pub struct Args {
    /// Redis URL of the bus (rediss:// for TLS; a password in it is never shown). Unset: the
    /// daemon's private redis-server when it runs, else redis://127.0.0.1:6379.
    #[arg(long, env = "POCKITECT_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and channel.
    #[arg(long, env = "POCKITECT_PREFIX", default_value = "pockitect")]
    pub prefix: String,
}

impl std::fmt::Debug for Args {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Args")
            .field(
                "redis_url",
                &self.redis_url.as_deref().map(pockitect_bus::redact_url),
            )
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// Frame budget: at most this often the screen is redrawn for bus traffic.
const FRAME: Duration = Duration::from_millis(33);
/// The model's clock (ages, spinners) moves this often.
const TICK: Duration = Duration::from_millis(250);

fn log_dir() -> PathBuf {
    dirs::state_dir()
        .or_else(dirs::cache_dir)
        .unwrap_or_else(std::env::temp_dir)
        .join("pockitect")
}

fn init_logging() -> anyhow::Result<tracing_appender::non_blocking::WorkerGuard> {
    let dir = log_dir();
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("create the log directory '{}'", dir.display()))?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("tui")
        .filename_suffix("log")
        .max_log_files(7)
        .build(&dir)
        .with_context(|| format!("open a log file in '{}'", dir.display()))?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = std::env::var("POCKITECT_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".to_owned());
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second init (tests) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(writer)
        .try_init();
    Ok(guard)
}

/// Reads the terminal on a thread of its own (crossterm's reads block) and forwards keys and
/// resizes; stops when `stop` is set or the console has gone.
fn spawn_input(tx: mpsc::Sender<Msg>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match event::poll(Duration::from_millis(50)) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "reading the terminal failed");
                    break;
                }
            }
            let msg = match event::read() {
                Ok(Event::Key(k)) if k.kind != KeyEventKind::Release => Msg::Key(k),
                Ok(Event::Resize(w, h)) => Msg::Resize(w, h),
                Ok(_) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "reading the terminal failed");
                    break;
                }
            };
            if tx.blocking_send(msg).is_err() {
                break;
            }
        }
    })
}

/// Runs the console until the user quits (or SIGTERM/SIGINT), restoring the terminal.
pub async fn run(args: Args) -> anyhow::Result<()> {
    // Without a log file the console still works; say so before the screen is taken over.
    let _log = match init_logging() {
        Ok(guard) => Some(guard),
        Err(e) => {
            eprintln!("pockitect-tui: no log file: {e:#}");
            None
        }
    };
    tracing::info!(args = ?args, "starting");
    let token = CancellationToken::new();
    let (bus_tx, bus_rx) = mpsc::channel(256);
    let (eff_tx, eff_rx) = mpsc::unbounded_channel();
    let bus = bus_task::spawn(
        BusSettings::found(args.redis_url.clone(), args.prefix.clone()),
        token.child_token(),
        eff_rx,
        bus_tx,
    );
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let token = token.clone();
        let mut term = signal(SignalKind::terminate()).context("listen for SIGTERM")?;
        let mut hup = signal(SignalKind::hangup()).context("listen for SIGHUP")?;
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = hup.recv() => {}
                _ = token.cancelled() => {}
            }
            token.cancel();
        });
    }

    // Installs a panic hook that restores the terminal before the message is printed.
    let mut terminal = ratatui::try_init().context("set up the terminal")?;
    let size = terminal.size().unwrap_or_default();
    let session = pockitect_proto::RequestId::new().to_string();
    let mut model = Model::new(Settings {
        // Until the bus task says which Redis it found.
        redis_url: match &args.redis_url {
            Some(url) => pockitect_bus::redact_url(url),
            None => format!(
                "looking for the daemon's private server, then {}",
                pockitect_bus::local::Locator::from_env().default_url
            ),
        },
        prefix: args.prefix.clone(),
        session,
        theme: Theme::from_env(),
        now: chrono::Utc::now(),
        size: (size.width, size.height),
    });
    let (key_tx, key_rx) = mpsc::channel(64);
    let stop = Arc::new(AtomicBool::new(false));
    let input = spawn_input(key_tx, stop.clone());

    let result = event_loop(&mut terminal, &mut model, key_rx, bus_rx, &eff_tx, &token).await;

    stop.store(true, Ordering::Relaxed);
    ratatui::restore();
    token.cancel();
    let _ = input.join();
    if tokio::time::timeout(Duration::from_secs(2), bus)
        .await
        .is_err()
    {
        tracing::warn!("bus task did not stop in 2 s");
    }
    tracing::info!("stopped");
    result
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    model: &mut Model,
    mut keys: mpsc::Receiver<Msg>,
    mut bus: mpsc::Receiver<app::BusMsg>,
    effects: &mpsc::UnboundedSender<Effect>,
    token: &CancellationToken,
) -> anyhow::Result<()> {
    let mut frame = tokio::time::interval(FRAME);
    frame.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut dirty = true;
    let draw = |terminal: &mut ratatui::DefaultTerminal, model: &mut Model| -> io::Result<()> {
        model.prepare();
        terminal.draw(|f| ui::view(model, f)).map(|_| ())
    };
    loop {
        let mut now = false;
        let effect = tokio::select! {
            biased;
            _ = token.cancelled() => return Ok(()),
            k = keys.recv() => match k {
                // The terminal is gone: nothing left to show.
                None => return Ok(()),
                Some(msg) => {
                    now = true;
                    model.update(msg)
                }
            },
            _ = frame.tick(), if dirty => {
                draw(terminal, model).context("draw the screen")?;
                dirty = false;
                None
            }
            _ = tick.tick() => {
                dirty = true;
                model.update(Msg::Tick(chrono::Utc::now()))
            }
            m = bus.recv() => match m {
                None => return Ok(()),
                Some(m) => {
                    dirty = true;
                    let mut out = model.update(Msg::Bus(m)).map(Effect::flatten).unwrap_or_default();
                    // Take what else is waiting before the next frame (bounded, so keys stay snappy).
                    for _ in 0..64 {
                        match bus.try_recv() {
                            Ok(m) => out.extend(model.update(Msg::Bus(m)).map(Effect::flatten).unwrap_or_default()),
                            Err(_) => break,
                        }
                    }
                    (!out.is_empty()).then_some(Effect::Batch(out))
                }
            },
        };
        if let Some(effect) = effect {
            for e in effect.flatten() {
                match e {
                    Effect::Quit => return Ok(()),
                    e => {
                        // The bus task outlives this loop; a closed channel means it is stopping.
                        let _ = effects.send(e);
                    }
                }
            }
        }
        if now {
            draw(terminal, model).context("draw the screen")?;
            dirty = false;
        }
    }
}
