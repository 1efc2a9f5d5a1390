//! A private OS keyring for tests: a session `dbus-daemon` on a socket in a temp dir and a
//! `gnome-keyring-daemon` serving the Secret Service on it, its login keyring unlocked with a
//! throwaway password. Child processes given [`SecretService::env`] use it as a desktop
//! session's keyring; nothing touches the machine's own keyring.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SecretService {
    bus: Child,
    keyring: Child,
    address: String,
    dir: tempfile::TempDir,
}

impl SecretService {
    /// Starts both daemons; panics with how to install them when they are missing.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir for the secret service");
        let socket = dir.path().join("bus");
        let address = format!("unix:path={}", socket.display());
        let bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile"])
            .arg(format!("--address={address}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}", spawn_error("dbus-daemon", &e)));
        wait_for(&socket, "dbus-daemon's socket");

        let (home, data, run) = (
            dir.path().join("home"),
            dir.path().join("data"),
            dir.path().join("run"),
        );
        for d in [&home, &data, &run] {
            std::fs::create_dir_all(d).expect("secret service dirs");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700))
                .expect("runtime dir mode");
        }
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--components=secrets", "--unlock"])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("HOME", &home)
            .env("XDG_DATA_HOME", &data)
            .env("XDG_RUNTIME_DIR", &run)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}", spawn_error("gnome-keyring-daemon", &e)));
        // `--unlock` reads the login keyring's password from stdin, up to EOF.
        let mut stdin = keyring.stdin.take().expect("piped stdin");
        stdin
            .write_all(b"pockitect-test-keyring")
            .expect("unlock the test keyring");
        drop(stdin);
        // The login keyring file appears once the collection exists and is unlocked.
        wait_for(
            &data.join("keyrings/login.keyring"),
            "gnome-keyring's login keyring",
        );
        Self {
            bus,
            keyring,
            address,
            dir,
        }
    }

    /// The environment a child process needs to use this keyring.
    pub fn env(&self) -> [(&'static str, String); 1] {
        [("DBUS_SESSION_BUS_ADDRESS", self.address.clone())]
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        for child in [&mut self.keyring, &mut self.bus] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn wait_for(path: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{what} did not appear at {} within 20 s",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn_error(binary: &str, e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound {
        super::missing(
            binary,
            "apt-get install dbus-daemon gnome-keyring (scripts/install-deps.sh does it)",
        )
    } else {
        format!("spawn {binary}: {e}")
    }
}
