//! The real `pockitect-tui` binary in a real terminal (tmux), against a real daemon: connects,
//! shows a scan's resources, a running request and the daemon, and quits cleanly on `q`; with
//! nothing set, finds the daemon's private Redis as the CLI does.

use std::path::{Path, PathBuf};
use std::process::{Command as Process, Output};
use std::time::Duration;

use pockitect_proto::{Command, PingArgs, ScanArgs};
use pockitect_testkit::{binary, unique};

use crate::Env;

const TMUX: &str = "/usr/bin/tmux";
const SESSION: &str = "tui";

/// A private tmux server (its own socket) running one session; killed on drop.
struct Tmux {
    socket: String,
    /// The socket file, removed on drop (tmux leaves it when the server exits on its own).
    socket_path: Option<PathBuf>,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> Output {
        Process::new(TMUX)
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("run tmux")
    }

    /// Starts `cmd` (run by `sh -c`) in a detached 100x30 session with `env` set.
    fn start(env: &[(&str, &str)], cmd: &str) -> Self {
        let mut t = Self {
            socket: unique("pockitect-tui-e2e-"),
            socket_path: None,
        };
        let mut args = vec!["new-session", "-d", "-s", SESSION, "-x", "100", "-y", "30"];
        let vars: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        for v in &vars {
            args.extend(["-e", v.as_str()]);
        }
        args.push(cmd);
        let out = t.run(&args);
        assert!(
            out.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = t.run(&["display-message", "-p", "#{socket_path}"]).stdout;
        let path = String::from_utf8_lossy(&path).trim().to_owned();
        t.socket_path = (!path.is_empty()).then(|| PathBuf::from(path));
        t
    }

    /// The visible screen as text.
    fn capture(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", SESSION]).stdout)
            .into_owned()
    }

    /// Keys, one tmux key name each (`"2"`, `"Enter"`).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", SESSION];
        args.extend(keys);
        let out = self.run(&args);
        assert!(
            out.status.success(),
            "tmux send-keys {keys:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Literal text, typed character by character.
    fn type_text(&self, text: &str) {
        let out = self.run(&["send-keys", "-t", SESSION, "-l", text]);
        assert!(out.status.success(), "tmux send-keys -l {text}");
    }

    fn session_alive(&self) -> bool {
        self.run(&["has-session", "-t", SESSION]).status.success()
    }

    /// Polls the screen until `check` accepts it; panics with the last screen after `timeout`.
    async fn wait_for(&self, what: &str, timeout: Duration, check: impl Fn(&str) -> bool) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let screen = self.capture();
            if check(&screen) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}; the screen:\n{screen}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
        if let Some(p) = &self.socket_path {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn sh_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

/// The table rows of the screen: lines with every one of `words` as a whole cell/word.
fn has_row(screen: &str, words: &[&str]) -> bool {
    screen.lines().any(|l| {
        let cells: Vec<&str> = l
            .split(|c: char| c.is_whitespace() || c == '│')
            .filter(|w| !w.is_empty())
            .collect();
        words.iter().all(|w| cells.contains(w))
    })
}

#[tokio::test]
async fn the_console_shows_resources_activity_and_daemons_and_quits() {
    let env = Env::new().await;
    let seeded = env.seed("us-east-1", "seeded");
    let vpc = seeded["us-east-1"]["vpc"][0]
        .as_str()
        .expect("the seed made a vpc")
        .to_owned();
    let d = env.daemon("d", 2);
    let pid = d.child.id().to_string();
    env.wait_daemons(1).await;

    let state = tempfile::tempdir().unwrap();
    let exit_file: PathBuf = state.path().join("exit");
    let cmd = format!(
        "{}; echo EXIT=$? > {}",
        sh_quote(&binary("pockitect-tui")),
        sh_quote(&exit_file)
    );
    let state_dir = state.path().display().to_string();
    let tmux = Tmux::start(
        &[
            ("POCKITECT_REDIS_URL", env.redis.url()),
            ("POCKITECT_PREFIX", &env.prefix),
            ("XDG_STATE_HOME", &state_dir),
            ("NO_COLOR", "1"),
        ],
        &cmd,
    );
    let long = Duration::from_secs(30);

    // Connected.
    tmux.wait_for("the header to show '● redis'", long, |s| {
        s.lines().next().is_some_and(|l| l.contains("● redis"))
    })
    .await;

    // Resources tab, then a scan of one region shows the seeded VPC.
    tmux.keys(&["2"]);
    tmux.wait_for("the Resources tab", long, |s| {
        s.contains("Resources") && s.contains("· sort")
    })
    .await;
    env.bus
        .send(&Command::Scan(ScanArgs {
            regions: Some(vec!["us-east-1".into()]),
            types: None,
        }))
        .await
        .unwrap();
    tmux.wait_for("the scan's records", Duration::from_secs(60), |s| {
        // Rows are in, and the title no longer says the scan is running.
        !s.contains("scanning")
            && s.lines()
                .any(|l| l.contains("│") && l.contains(" us-east-1 "))
    })
    .await;
    // Search for the id so its row is on screen however many records the scan found.
    tmux.keys(&["/"]);
    tmux.type_text(&vpc);
    tmux.keys(&["Enter"]);
    tmux.wait_for(
        &format!("a row for the seeded {vpc} in us-east-1"),
        long,
        |s| has_row(s, &[&vpc, "us-east-1", "vpc"]),
    )
    .await;

    // A long request shows as running on the Activity tab, then finishes.
    env.bus
        .send(&Command::Ping(PingArgs { delay_ms: 4000 }))
        .await
        .unwrap();
    tmux.keys(&["3"]);
    tmux.wait_for("the ping running on the Activity tab", long, |s| {
        s.contains(" Activity ") && has_row(s, &["in_progress", "ping"])
    })
    .await;
    tmux.wait_for("the ping to succeed", long, |s| {
        has_row(s, &["success", "ping"])
    })
    .await;

    // The daemon on the Daemons tab.
    tmux.keys(&["4"]);
    tmux.wait_for("daemon 'd' in the Daemons table", long, |s| {
        s.contains("ID") && s.contains("SEEN") && has_row(s, &["d", &pid])
    })
    .await;

    // The scan is in the History tab's audit trail (sent by this test's bus: no client named).
    tmux.keys(&["5"]);
    tmux.wait_for("the scan in the History tab", long, |s| {
        s.contains("ASKED BY") && has_row(s, &["scan", "success", "legacy"])
    })
    .await;

    // q quits with status 0 and the session goes away.
    tmux.keys(&["q"]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while tmux.session_alive() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the console did not exit on q; the screen:\n{}",
            tmux.capture()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let exit = std::fs::read_to_string(&exit_file).expect("the wrapper wrote the exit status");
    assert_eq!(exit.trim(), "EXIT=0");
    drop(tmux);
    drop(d);
}

#[tokio::test]
async fn with_nothing_set_the_console_finds_the_daemons_private_server() {
    let z = crate::embedded::Zero::new();
    let mut d = z.daemon("private-d", &[]);
    z.wait_runtime_file(&mut d);
    let pid = d.child.id().to_string();
    let root = z.dir.path();
    let (run, state, config) = (
        root.join("run").display().to_string(),
        root.join("state").display().to_string(),
        root.join("config").display().to_string(),
    );
    // Whatever the environment running the tests says about Redis, the console gets nothing.
    let cmd = format!(
        "env -u POCKITECT_REDIS_URL -u POCKITECT_CONFIG {}",
        sh_quote(&binary("pockitect-tui"))
    );
    let tmux = Tmux::start(
        &[
            ("XDG_RUNTIME_DIR", &run),
            ("XDG_STATE_HOME", &state),
            ("XDG_CONFIG_HOME", &config),
            ("POCKITECT_DEFAULT_REDIS_URL", &z.default_url),
            ("POCKITECT_PREFIX", &z.prefix),
            ("NO_COLOR", "1"),
        ],
        &cmd,
    );
    let long = Duration::from_secs(30);
    tmux.wait_for("the header to show '● redis'", long, |s| {
        s.lines().next().is_some_and(|l| l.contains("● redis"))
    })
    .await;
    tmux.keys(&["4"]);
    tmux.wait_for(
        "the Daemons tab to name the private server and show the daemon",
        long,
        |s| s.contains("(the daemon's private server)") && has_row(s, &["private-d", &pid]),
    )
    .await;
    tmux.keys(&["q"]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while tmux.session_alive() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the console did not exit on q; the screen:\n{}",
            tmux.capture()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
