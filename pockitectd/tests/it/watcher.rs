//! Hand edits of blueprints are validated and announced.

use std::time::Duration;

use pockitect_proto::Envelope;

use crate::Harness;

async fn wait_for(h: &Harness, kind: &str, project: &str) -> Envelope {
    pockitect_testkit::eventually(
        &format!("a {kind} event for {project}"),
        Duration::from_secs(15),
        || {
            let bus = h.bus.clone();
            let (kind, project) = (kind.to_owned(), project.to_owned());
            async move {
                bus.events_after("0-0", 10_000)
                    .await
                    .ok()?
                    .into_iter()
                    .map(|(_, e)| e)
                    .find(|e| e.kind == kind && e.project_id.as_deref() == Some(project.as_str()))
            }
        },
    )
    .await
}

#[tokio::test]
async fn a_hand_edited_blueprint_is_validated_and_announced() {
    let h = Harness::start(1).await;
    let dir = h._dir.path().join("projects");
    let good = r#"{"project": {"name": "Hand Made", "region": "eu-west-1"},
        "network": {"vpc_mode": "default", "rules": []},
        "compute": {"instance_type": "t3.micro"}}"#;
    std::fs::write(dir.join("hand-made.json"), good).unwrap();
    let e = wait_for(&h, "project_updated", "hand-made").await;
    assert!(e.message().unwrap().contains("valid"));

    let bad = good.replace(
        "\"rules\": []",
        "\"rules\": [{\"port\": 70000, \"protocol\": \"tcp\", \"cidr\": \"0.0.0.0/0\"}]",
    );
    std::fs::write(dir.join("hand-made.json"), bad).unwrap();
    let e = wait_for(&h, "project_invalid", "hand-made").await;
    let errors = e.data["errors"].to_string();
    assert!(errors.contains("network.rules[0].port"), "{errors}");
}
