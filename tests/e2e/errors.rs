//! Errors that teach, through the real CLI and daemon: a region that is not enabled is refused
//! at once, and Ctrl-C while following says how to follow again.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use pockitect_proto::{Command, PingArgs, event_type, exit};

use crate::Env;

#[tokio::test]
async fn a_scan_of_a_region_that_is_not_enabled_is_refused_at_once_naming_the_enabled_ones() {
    let env = Env::new().await;
    let _d = env.daemon("d", 2);
    env.wait_daemons(1).await;
    let scan = || {
        let mut cli = env.cli();
        cli.args(["scan", "--regions", "eu-west-1,mars-north-1"]);
        let started = Instant::now();
        let out = cli.output().unwrap();
        (out, started.elapsed())
    };
    // moto builds its EC2 backend on its first EC2 call (2.5 s measured on this machine), which
    // AWS does not: the first refusal warms it, the second is timed.
    let (first, first_took) = scan();
    assert_eq!(first.status.code(), Some(exit::USAGE), "{first:?}");
    // The issue asks for the refusal within 5 seconds (it took ~7 s to end `partial`).
    let (out, took) = scan();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(exit::USAGE), "{stderr}");
    assert!(
        took < Duration::from_secs(5),
        "refused after {took:?} (the first time after {first_took:?})"
    );
    assert!(stderr.contains("'mars-north-1'"), "{stderr}");
    assert!(
        !stderr.contains("'eu-west-1'"),
        "an enabled region is not blamed: {stderr}"
    );
    assert!(
        stderr.contains("us-east-1"),
        "the enabled regions are listed: {stderr}"
    );
    assert!(stderr.contains("not enabled"), "{stderr}");

    // Refused before any per-region work: no scan started, no chunk.
    let kinds: Vec<String> = env
        .bus
        .events_after("0-0", 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, e)| e.kind)
        .collect();
    assert!(
        kinds.iter().all(|k| k != event_type::SCAN_STARTED
            && k != event_type::SCAN_CHUNK
            && k != event_type::SCAN_COMPLETE),
        "{kinds:?}"
    );
    assert!(kinds.iter().any(|k| k == event_type::ERROR), "{kinds:?}");
}

#[tokio::test]
async fn ctrl_c_while_following_exits_130_and_says_how_to_follow_again() {
    let env = Env::new().await;
    let _d = env.daemon("d", 1);
    env.wait_daemons(1).await;
    // A request that runs for a minute.
    let sent = env
        .bus
        .send(&Command::Ping(PingArgs { delay_ms: 60_000 }))
        .await
        .unwrap();
    let id = sent.request_id.to_string();
    let mut child = env
        .cli()
        .args(["watch", &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // The CLI is following once it shows the request's first event (its Ctrl-C handler is in
    // place before any event is shown).
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut first = String::new();
        let _ = reader.read_line(&mut first);
        let _ = tx.send(first);
        // Keep reading: a closed pipe would end the CLI before the signal does.
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    let first = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the CLI shows the request's first event");
    assert!(!first.is_empty(), "the CLI ended before showing an event");

    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the CLI did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(
        status.code(),
        Some(exit::INTERRUPTED),
        "{status:?}: {stderr}"
    );
    assert!(stderr.contains("goes on"), "{stderr}");
    assert!(
        stderr.contains(&format!("'pockitect watch {id}'")),
        "{stderr}"
    );
    assert!(!stderr.contains("error:"), "{stderr}");

    // The request did go on: it has not ended (it runs for a minute).
    let events: Vec<_> = env
        .bus
        .events_after("0-0", 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, e)| e)
        .filter(|e| e.request_id.as_ref() == Some(&sent.request_id))
        .collect();
    assert!(!events.is_empty(), "the request started");
    assert!(!events.iter().any(|e| e.is_terminal()), "{events:?}");
}
