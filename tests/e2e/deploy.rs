//! A full blueprint deployed through the CLI and the daemon into moto.

use serde_json::{Value, json};

use crate::Env;

fn blueprint(name: &str) -> Value {
    json!({
        "project": { "name": name, "region": "us-east-1", "tags": { "team": "web" } },
        "network": { "vpc_mode": "new", "vpc_cidr": "10.0.0.0/16", "subnet_type": "public",
                     "rules": [ { "port": 443, "protocol": "tcp", "cidr": "0.0.0.0/0", "description": "HTTPS" } ] },
        "compute": { "instance_type": "t3.micro", "image_id": "amazon-linux-2023", "user_data": "#!/bin/sh\necho hi" },
        "data": { "db": { "engine": "postgres", "instance_class": "db.t3.micro", "allocated_storage_gb": 20, "username": "app" },
                  "s3_bucket": { "name": format!("{name}-assets") } },
        "security": { "key_pair": { "mode": "generate", "name": format!("{name}-key") },
                      "certificate": { "mode": "skip" },
                      "iam_role": { "enabled": true, "role_name": format!("pockitect-{name}-role") } }
    })
}

fn json_lines(out: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn deploy_through_the_daemon_writes_back_ids_and_a_second_deploy_creates_nothing() {
    let env = Env::new().await;
    let _d = env.daemon("d", 2);
    env.wait_daemons(1).await;
    let file = env.dir.path().join("blog.json");
    std::fs::write(
        &file,
        serde_json::to_string_pretty(&blueprint("e2e-blog")).unwrap(),
    )
    .unwrap();

    let out = env
        .cli()
        .arg("deploy")
        .arg(&file)
        .args(["--yes", "--json"])
        .output()
        .unwrap();
    let lines = json_lines(&out);
    let last = lines.last().expect("events");
    assert_eq!(last["type"], "deploy_complete", "{last}");
    assert_eq!(last["status"], "success", "{last}");
    assert!(out.status.success());
    assert!(
        lines
            .iter()
            .any(|l| l["type"] == "deploy_progress" && l["data"]["total"].as_u64() > Some(5))
    );

    // Ids written back into the daemon's project store.
    let stored: Value = serde_json::from_str(
        &std::fs::read_to_string(env.dir.path().join("projects/e2e-blog.json")).unwrap(),
    )
    .unwrap();
    assert!(
        stored["network"]["vpc_id"]
            .as_str()
            .unwrap()
            .starts_with("vpc-")
    );
    assert!(
        stored["compute"]["instance_id"]
            .as_str()
            .unwrap()
            .starts_with("i-")
    );
    assert!(stored["data"]["db"]["endpoint"].is_string());
    assert!(stored["data"]["db"]["password"].is_null());

    // The private key is a 0600 file; the generated DB password is in a 0600 secret file and
    // nowhere else: not in the blueprint, the events or the daemon's log.
    let key = stored["security"]["key_pair"]["private_key_path"]
        .as_str()
        .unwrap()
        .to_owned();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let password =
        std::fs::read_to_string(env.dir.path().join("secrets/e2e-blog.db-password")).unwrap();
    assert!(password.len() >= 16);
    let events = serde_json::to_string(
        &env.bus
            .events_after("0-0", 100_000)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, e)| e)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(!events.contains(&password), "password leaked into events");
    let blueprint_text =
        std::fs::read_to_string(env.dir.path().join("projects/e2e-blog.json")).unwrap();
    assert!(!blueprint_text.contains(&password));
    let log = std::fs::read_to_string(&_d.log).unwrap();
    assert!(!log.contains(&password), "password leaked into the log");

    // A second deploy by slug adopts or keeps everything.
    let out = env
        .cli()
        .args(["deploy", "e2e-blog", "--yes", "--json"])
        .output()
        .unwrap();
    let lines = json_lines(&out);
    let last = lines.last().unwrap();
    assert_eq!(last["status"], "success", "{last}");
    let created: Vec<&Value> = last["data"]["report"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "create")
        .collect();
    assert!(created.is_empty(), "second deploy created {created:?}");

    // status shows the recorded instance.
    let out = env.cli().args(["status", "e2e-blog"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains(stored["compute"]["instance_id"].as_str().unwrap())
    );
}

#[tokio::test]
async fn an_invalid_blueprint_never_reaches_the_daemon() {
    let env = Env::new().await;
    let mut bp = blueprint("bad");
    bp["network"]["rules"][0]["port"] = json!(70000);
    let file = env.dir.path().join("bad.json");
    std::fs::write(&file, bp.to_string()).unwrap();
    let out = env
        .cli()
        .arg("deploy")
        .arg(&file)
        .args(["--yes", "--queue"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(pockitect_proto::exit::INVALID));
    assert!(String::from_utf8_lossy(&out.stderr).contains("network.rules[0].port"));
    assert_eq!(
        env.bus.backlog().await.unwrap(),
        (0, 0),
        "nothing was queued"
    );
}
