//! Redis stays bounded: query answers reach only the client that asked, never the shared event
//! stream or the done records; the daemon and `doctor` warn when Redis may evict its keys.

use std::time::Duration;

use pockitect_proto::{Command, Envelope, ResourceFilter};
use redis::AsyncCommands;

use crate::Env;

async fn redis_conn(env: &Env) -> redis::aio::MultiplexedConnection {
    redis::Client::open(env.redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn used_memory(conn: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(conn)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("INFO memory has used_memory")
}

/// Every key under `pattern`.
async fn keys(conn: &mut redis::aio::MultiplexedConnection, pattern: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut iter: redis::AsyncIter<String> = conn.scan_match(pattern).await.unwrap();
    while let Some(k) = futures::StreamExt::next(&mut iter).await {
        out.push(k.unwrap());
    }
    out
}

/// One `query_resources` as a client sends it: the terminal event, then the answer.
async fn query(env: &Env) -> (Envelope, Envelope) {
    let sent = env
        .bus
        .send(&Command::QueryResources(ResourceFilter::default()))
        .await
        .unwrap();
    let events = env
        .events_of(&sent.request_id, Duration::from_secs(30))
        .await;
    let terminal = events.into_iter().find(Envelope::is_terminal).unwrap();
    let answer = env.bus.answer(terminal.clone()).await.unwrap();
    (terminal, answer)
}

fn records_in(e: &Envelope) -> usize {
    e.data["records"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn twenty_estate_queries_leave_redis_memory_flat_and_no_estate_in_shared_keys() {
    let env = Env::new().await;
    pockitectd::seed_scan_cache(
        &env.dir.path().join("cache"),
        pockitect_tui::synthetic::records(900),
    );
    let _d = env.daemon("a", 2);
    env.wait_daemons(1).await;
    let mut conn = redis_conn(&env).await;

    // The first answer sets up what every later one reuses (script cache, client buffers).
    let (_, first) = query(&env).await;
    assert_eq!(records_in(&first), 900);
    let answer_bytes = first.to_json().len() as u64;
    let before = used_memory(&mut conn).await;
    for _ in 0..20 {
        let (terminal, answer) = query(&env).await;
        assert_eq!(records_in(&answer), 900);
        assert_eq!(records_in(&terminal), 0, "the shared event has no records");
        assert_eq!(terminal.data["counts"]["records"], 900);
    }
    let after = used_memory(&mut conn).await;
    let growth = after.saturating_sub(before);
    // Kept in the stream or the done records, 20 answers would add 20 × answer_bytes; what
    // stays is a few small events and records per query.
    assert!(
        growth < answer_bytes / 2,
        "redis grew by {growth} bytes over 20 queries of {answer_bytes} bytes each"
    );

    // Nothing shared holds the estate: the event stream, the done records, leftover replies.
    let stream = env.bus.events_after("0-0", 100_000).await.unwrap();
    assert!(stream.len() >= 42, "{} events", stream.len());
    for (_, e) in &stream {
        let json = e.to_json();
        assert!(
            json.len() < 2048,
            "a large event in the stream: {json:.300}"
        );
        assert!(!json.contains("resource-899"), "estate in the stream");
    }
    let done = keys(&mut conn, &format!("{}:done:*", env.bus.keys().tag())).await;
    assert_eq!(done.len(), 21);
    for k in &done {
        let v: String = conn.get(k).await.unwrap();
        assert!(
            v.len() < 2048 && !v.contains("resource-899"),
            "{k}: {v:.300}"
        );
    }
    let replies = keys(&mut conn, &format!("{}:reply:*", env.bus.keys().tag())).await;
    assert!(replies.is_empty(), "answers are read once: {replies:?}");

    // The CLI still prints every record.
    let out = env.cli().args(["resources", "--json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed.len(), 900);
    assert!(
        keys(&mut conn, &format!("{}:reply:*", env.bus.keys().tag()))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn an_answer_read_too_late_says_to_ask_again() {
    let env = Env::new().await;
    let _d = env.daemon("a", 1);
    env.wait_daemons(1).await;
    let mut conn = redis_conn(&env).await;
    let sent = env
        .bus
        .send(&Command::ListProjects(Default::default()))
        .await
        .unwrap();
    let events = env
        .events_of(&sent.request_id, Duration::from_secs(30))
        .await;
    let terminal = events.into_iter().find(Envelope::is_terminal).unwrap();
    // As if its 5 minutes had passed.
    let () = conn
        .del(env.bus.keys().reply(sent.request_id.as_str()))
        .await
        .unwrap();
    let err = env.bus.answer(terminal).await.unwrap_err().to_string();
    assert!(err.contains("run the query again"), "{err}");
}

async fn set_policy(conn: &mut redis::aio::MultiplexedConnection, policy: &str) {
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg(policy)
        .query_async(conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn daemon_and_doctor_warn_when_redis_may_evict_their_keys() {
    let env = Env::new().await;
    let mut conn = redis_conn(&env).await;
    let before: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory-policy")
        .query_async(&mut conn)
        .await
        .unwrap();
    set_policy(&mut conn, "allkeys-lru").await;
    let d = env.daemon("a", 1);
    env.wait_daemons(1).await;
    let doctor = env.cli().arg("doctor").output().unwrap();
    set_policy(&mut conn, "noeviction").await;
    let quiet = env.cli().arg("doctor").output().unwrap();
    // Put the server back (it may be shared through POCKITECT_TEST_REDIS_URL).
    set_policy(&mut conn, &before[1]).await;

    let log = std::fs::read_to_string(&d.log).unwrap();
    assert!(
        log.contains("maxmemory-policy is 'allkeys-lru'")
            && log.contains("set 'maxmemory-policy noeviction'"),
        "daemon log: {log}"
    );
    let stdout = String::from_utf8_lossy(&doctor.stdout);
    assert!(
        stdout.contains("maxmemory-policy is 'allkeys-lru'")
            && stdout.contains("set 'maxmemory-policy noeviction'"),
        "doctor: {stdout}"
    );
    let stdout = String::from_utf8_lossy(&quiet.stdout);
    assert!(!stdout.contains("maxmemory-policy is"), "doctor: {stdout}");
}
