//! `login` and `logout`: the AWS credentials the daemon uses.
//!
//! The CLI never links the AWS SDK, so the daemon on this host checks the keys: the CLI reads
//! them without echo, puts them as a *pending* entry in this user's secret store (the OS
//! keyring, else a 0600 file), and sends `login` naming this host. Nothing secret goes on the
//! bus, not even the MFA code (it joins the pending entry). The daemon answers who the keys are
//! (account, principal, the key id's last 4 characters), or that an MFA code is needed; then
//! the CLI asks for it and sends `login` again. See the daemon's `handlers::login`.

use std::io::{BufRead, IsTerminal};

use clap::Args;
use pockitect_bus::Bus;
use pockitect_proto::payload::{LoginAnswer, LoginState, LogoutAnswer};
use pockitect_proto::{Command, Envelope, Event, LoginArgs as Wire, LogoutArgs as WireOut, exit};
use pockitect_secrets::{PendingLogin, SecretStore};

use crate::Global;
use crate::follow::{CliError, ensure_daemon, exit_code_of, send_and_follow, unexpected};

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Use this profile of the shared AWS config files (its keys, SSO or role) instead of
    /// typing keys: nothing secret is asked, the daemon checks the profile and records its name.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Your MFA device's ARN, when your keys may not list it (iam:ListMFADevices).
    #[arg(long, value_name = "ARN", conflicts_with = "profile")]
    pub mfa_serial: Option<String>,
    /// Read the access key id, the secret access key and (when asked) the MFA code from
    /// standard input, one per line, instead of the terminal: for scripts. A secret is never
    /// taken as an argument.
    #[arg(long, conflicts_with = "profile")]
    pub stdin: bool,
}

/// Where the answers come from: the terminal (no echo for secrets) or stdin lines.
enum Prompt {
    Terminal,
    Lines(std::io::StdinLock<'static>),
}

impl Prompt {
    fn secret(&mut self, what: &str) -> Result<String, CliError> {
        let read = match self {
            Prompt::Terminal => dialoguer::Password::new()
                .with_prompt(what)
                .interact()
                .map_err(|e| CliError::Io(format!("read the {what}: {e}"))),
            Prompt::Lines(lines) => line(lines, what),
        }?;
        let read = read.trim().to_owned();
        if read.is_empty() {
            return Err(CliError::Usage(format!("no {what} given")));
        }
        Ok(read)
    }

    fn code(&mut self, what: &str) -> Result<String, CliError> {
        let read = match self {
            Prompt::Terminal => dialoguer::Input::<String>::new()
                .with_prompt(what)
                .interact_text()
                .map_err(|e| CliError::Io(format!("read the {what}: {e}"))),
            Prompt::Lines(lines) => line(lines, what),
        }?;
        let code = read.trim().to_owned();
        if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
            return Err(CliError::Usage(format!(
                "the {what} is six digits, as the device shows it"
            )));
        }
        Ok(code)
    }
}

fn line(lines: &mut std::io::StdinLock<'static>, what: &str) -> Result<String, CliError> {
    let mut s = String::new();
    match lines.read_line(&mut s) {
        Ok(0) => Err(CliError::Usage(format!(
            "standard input ended before the {what} (--stdin reads the key id, the secret and the MFA code, one per line)"
        ))),
        Ok(_) => Ok(s.trim_end_matches(['\r', '\n']).to_owned()),
        Err(e) => Err(CliError::Io(format!("read the {what} from stdin: {e}"))),
    }
}

fn open_store(g: &Global) -> Result<SecretStore, CliError> {
    SecretStore::open(g.secrets, SecretStore::default_file_dir())
        .map_err(|e| CliError::Usage(format!("{e} (--secrets is '{}')", g.secrets)))
}

fn here() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// Removes the pending entry when dropped: whatever way `login` ends, typed keys that were not
/// accepted do not stay in the store.
struct PendingGuard<'a>(&'a SecretStore);

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.0.delete_pending_login() {
            eprintln!("warning: could not remove the keys waiting for the daemon's check: {e}");
        }
    }
}

pub async fn login(g: &Global, a: LoginArgs) -> Result<i32, CliError> {
    // The daemon first: no point asking for secrets nobody can check.
    let bus = crate::connect(g).await?;
    ensure_daemon(g, &bus).await?;
    if let Some(profile) = a.profile {
        let t = send(
            g,
            &bus,
            Wire {
                host: here(),
                profile: Some(profile),
            },
        )
        .await?;
        return finish(g, &t);
    }
    let store = open_store(g)?;
    let mut prompt = if a.stdin {
        Prompt::Lines(std::io::stdin().lock())
    } else if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        Prompt::Terminal
    } else {
        return Err(CliError::Usage(
            "no terminal to ask for the keys on: run 'pockitect login' in a terminal, or give them on standard input with --stdin (one per line: key id, secret, MFA code)".to_owned(),
        ));
    };
    let access_key_id = prompt.secret("AWS access key id")?;
    if !(16..=128).contains(&access_key_id.len())
        || !access_key_id.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err(CliError::Usage(
            "that is not an access key id (16 to 128 letters and digits, e.g. AKIA…); nothing was stored".to_owned(),
        ));
    }
    let secret_access_key = prompt.secret("AWS secret access key")?;
    let mut pending = PendingLogin {
        access_key_id,
        secret_access_key,
        mfa_serial: a.mfa_serial,
        mfa_code: None,
    };
    let _guard = PendingGuard(&store);
    eprintln!(
        "the keys go to {} for the daemon on this host to check with AWS STS",
        store.describe()
    );
    // At most two rounds: the keys, then the keys with an MFA code.
    for _ in 0..2 {
        store
            .set_pending_login(&pending)
            .map_err(|e| CliError::Io(e.to_string()))?;
        let t = send(
            g,
            &bus,
            Wire {
                host: here(),
                profile: None,
            },
        )
        .await?;
        match t.decode() {
            Ok(Event::Login(LoginAnswer {
                state: LoginState::MfaRequired,
                mfa_serial: Some(serial),
                identity,
                ..
            })) if pending.mfa_code.is_none() => {
                if let Some(id) = identity {
                    eprintln!("{} (account {}) has an MFA device", id.arn, id.account);
                }
                pending.mfa_code = Some(prompt.code(&format!("MFA code ({serial})"))?);
                pending.mfa_serial = Some(serial);
            }
            _ => return finish(g, &t),
        }
    }
    Err(CliError::Protocol(
        "the daemon asked for an MFA code again after one was given".to_owned(),
    ))
}

async fn send(g: &Global, bus: &Bus, args: Wire) -> Result<Envelope, CliError> {
    send_and_follow(g, bus, &Command::Login(args), |_| {}).await
}

fn finish(g: &Global, t: &Envelope) -> Result<i32, CliError> {
    if g.json {
        out!("{}", t.to_json());
        return Ok(exit_code_of(t));
    }
    match t.decode() {
        Ok(Event::Login(answer)) => {
            out!("{}", answer.message);
            Ok(exit_code_of(t))
        }
        Ok(Event::Error(e)) => {
            eprintln!("error: {}", e.message);
            Ok(exit_code_of(t))
        }
        _ => Err(unexpected(t)),
    }
}

pub async fn logout(g: &Global) -> Result<i32, CliError> {
    // Here first, so logout works with no daemon running.
    let store = open_store(g)?;
    let removed = store
        .delete_aws_login()
        .map_err(|e| CliError::Io(e.to_string()))?
        | store
            .delete_pending_login()
            .map_err(|e| CliError::Io(e.to_string()))?;
    let bus = match crate::connect(g).await {
        Ok(bus) => bus,
        Err(e) => {
            eprintln!(
                "{} ({e}); a daemon started later uses the standard AWS chain",
                if removed {
                    "signed out: the stored AWS credentials are removed"
                } else {
                    "no AWS credentials were stored"
                }
            );
            return Ok(exit::SUCCESS);
        }
    };
    if bus.daemons().await.map(|d| d.is_empty()).unwrap_or(true) {
        eprintln!(
            "{}; no daemon is running, one started later uses the standard AWS chain",
            if removed {
                "signed out: the stored AWS credentials are removed"
            } else {
                "no AWS credentials were stored"
            }
        );
        return Ok(exit::SUCCESS);
    }
    let t = send_and_follow(g, &bus, &Command::Logout(WireOut { host: here() }), |_| {}).await?;
    if g.json {
        out!("{}", t.to_json());
        return Ok(exit_code_of(&t));
    }
    match t.decode() {
        Ok(Event::Logout(LogoutAnswer { now_using, .. })) => {
            out!(
                "{}",
                if removed {
                    "signed out: the stored AWS credentials are removed"
                } else {
                    "no AWS credentials were stored"
                }
            );
            let mut line = "the daemon now uses the standard AWS chain".to_owned();
            if let Some(k) = now_using.key_id_last4 {
                line.push_str(&format!(" (key …{k})"));
            }
            if let Some(e) = now_using.error {
                line.push_str(&format!(", which gives no credentials: {e}"));
            }
            out!("{line}");
            Ok(exit::SUCCESS)
        }
        Ok(Event::Error(e)) => {
            // The local store is clean; the daemon (on another host?) said why it did not follow.
            eprintln!(
                "{}; but the daemon answered: {}",
                if removed {
                    "the stored AWS credentials are removed here"
                } else {
                    "no AWS credentials were stored here"
                },
                e.message
            );
            Ok(exit_code_of(&t))
        }
        _ => Err(unexpected(&t)),
    }
}
