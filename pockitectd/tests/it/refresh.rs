//! Refresh never fights a writer: it skips a project another request holds (every id that
//! request wrote survives), and it applies what it observed to the blueprint as it is when
//! saving, never to the snapshot it started from.

use std::path::PathBuf;
use std::time::Duration;

use pockitect_proto::{Command, Envelope, RefreshArgs, RequestId, Status};
use pockitect_testkit::{DelayProxy, RedisServer, eventually};
use serde_json::{Value, json};

use crate::requests::blueprint;
use crate::{Harness, terminal_of};

/// An instance id moto does not know: refresh sees it gone and would record `deleted`.
const GONE: &str = "i-0123456789abcdef0";

fn project_file(h: &Harness, slug: &str) -> PathBuf {
    h.settings.projects_dir.join(format!("{slug}.json"))
}

/// A deployed-looking project whose recorded instance no longer exists.
fn write_project(h: &Harness, slug: &str, instance_id: &str) {
    let mut doc = blueprint(slug);
    doc["compute"]["instance_id"] = json!(instance_id);
    doc["compute"]["status"] = json!("running");
    std::fs::create_dir_all(&h.settings.projects_dir).unwrap();
    std::fs::write(
        project_file(h, slug),
        serde_json::to_string_pretty(&doc).unwrap(),
    )
    .unwrap();
}

fn read_project(h: &Harness, slug: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(project_file(h, slug)).unwrap()).unwrap()
}

async fn refresh(h: &Harness, project: Option<&str>) -> Envelope {
    let sent = h
        .bus
        .send(&Command::Refresh(RefreshArgs {
            project: project.map(str::to_owned),
        }))
        .await
        .unwrap();
    let t = terminal_of(&h.bus, &sent.request_id, Duration::from_secs(30)).await;
    assert_eq!(t.status, Some(Status::Success), "{t:?}");
    t
}

#[tokio::test]
async fn refresh_skips_a_project_a_deploy_holds_and_every_id_it_wrote_survives() {
    let h = Harness::start(1).await;
    write_project(&h, "rf", GONE);
    // A deploy holds the project (as the worker locks it) and has written its ids.
    let deploy = RequestId::new();
    assert_eq!(
        h.bus
            .lock_project("rf", &deploy, Duration::from_secs(60))
            .await
            .unwrap(),
        pockitect_bus::Lock::Taken
    );
    let before = std::fs::read(project_file(&h, "rf")).unwrap();

    for project in [None, Some("rf")] {
        let t = refresh(&h, project).await;
        let skipped = t.data["skipped"].as_array().cloned().unwrap_or_default();
        assert_eq!(skipped.len(), 1, "{t:?}");
        assert_eq!(skipped[0]["project"], json!("rf"));
        assert_eq!(skipped[0]["request_id"], json!(deploy));
        assert!(t.message().is_some_and(|m| m.contains("'rf'")), "{t:?}");
        assert_eq!(
            std::fs::read(project_file(&h, "rf")).unwrap(),
            before,
            "a refresh must not write a project another request holds"
        );
    }

    // Once the project is free, refresh does write what it saw (the test can fail).
    assert!(h.bus.unlock_project("rf", &deploy).await.unwrap());
    let t = refresh(&h, Some("rf")).await;
    assert_eq!(t.data["projects"], json!(1), "{t:?}");
    let doc = read_project(&h, "rf");
    assert_eq!(doc["compute"]["status"], json!("deleted"));
    assert_eq!(doc["compute"]["instance_id"], json!(GONE));
    // And it let go of the lock.
    assert_eq!(
        h.bus
            .lock_project("rf", &deploy, Duration::from_secs(1))
            .await
            .unwrap(),
        pockitect_bus::Lock::Taken
    );
}

#[tokio::test]
async fn refresh_applies_what_it_saw_to_the_blueprint_as_it_is_when_saving() {
    let mut proxy = None;
    let h = Harness::start_with(RedisServer::start(), 1, |s, moto| {
        let p = DelayProxy::start(moto.endpoint(), Duration::from_millis(1500));
        s.aws_endpoint_url = Some(p.endpoint());
        proxy = Some(p);
    })
    .await;
    let proxy = proxy.expect("the proxy was started");
    write_project(&h, "rf", GONE);
    let calls_before = proxy.arrived();

    let sent = h
        .bus
        .send(&Command::Refresh(RefreshArgs {
            project: Some("rf".into()),
        }))
        .await
        .unwrap();
    // Refresh has loaded its snapshot and is asking AWS (its call is held by the proxy)...
    eventually("refresh asking AWS", Duration::from_secs(20), || {
        let n = proxy.arrived();
        async move { (n > calls_before).then_some(()) }
    })
    .await;
    // ...when another writer replaces the instance and records a new network.
    let mut doc = read_project(&h, "rf");
    doc["compute"]["instance_id"] = json!("i-0fedcba9876543210");
    doc["compute"]["status"] = json!("running");
    doc["network"]["vpc_id"] = json!("vpc-0aaaabbbbccccdddd");
    std::fs::write(
        project_file(&h, "rf"),
        serde_json::to_string_pretty(&doc).unwrap(),
    )
    .unwrap();

    let t = terminal_of(&h.bus, &sent.request_id, Duration::from_secs(60)).await;
    assert_eq!(t.status, Some(Status::Success), "{t:?}");
    // Refresh did see the old instance gone...
    let changes = t.data["changes"].as_array().cloned().unwrap_or_default();
    assert!(
        changes.iter().any(|c| c["id"] == json!(GONE)),
        "refresh observed the old instance: {t:?}"
    );
    // ...but the ids written meanwhile survive, and its verdict on the old instance is not
    // pinned on the new one.
    let saved = read_project(&h, "rf");
    assert_eq!(
        saved["compute"]["instance_id"],
        json!("i-0fedcba9876543210")
    );
    assert_eq!(saved["compute"]["status"], json!("running"));
    assert_eq!(saved["network"]["vpc_id"], json!("vpc-0aaaabbbbccccdddd"));
}
