//! Cost in the daemon: a plan carries the project's monthly estimate (from the bundled price
//! table: moto has no Price List API, and the daemon does not ask it yet), and a deploy over
//! the blueprint's budget is refused before any AWS call.

use std::time::Duration;

use pockitect_proto::{
    BlueprintRef, Command, DeployArgs, ErrorCode, Event, PingArgs, Status, payload::PlanReady,
};
use pockitect_testkit::{DelayProxy, RedisServer, eventually, unique};
use serde_json::json;

use crate::requests::blueprint;
use crate::{Harness, events_of, terminal_of};

const WITHIN: Duration = Duration::from_secs(90);

fn inline(doc: &serde_json::Value) -> BlueprintRef {
    BlueprintRef {
        project: None,
        blueprint: Some(doc.clone()),
    }
}

#[tokio::test]
async fn a_plan_carries_the_estimate_and_a_deploy_over_budget_touches_nothing() {
    // Every AWS call of the daemon goes through a counting proxy (no delay).
    let mut proxy = None;
    let h = Harness::start_with(RedisServer::start(), 2, |s, moto| {
        let p = DelayProxy::start(moto.endpoint(), Duration::ZERO);
        s.aws_endpoint_url = Some(p.endpoint());
        proxy = Some(p);
    })
    .await;
    let proxy = proxy.unwrap();
    let slug = unique("cost");
    let mut doc = blueprint(&slug);
    doc["project"]["budget_usd_month"] = json!(10);

    let sent = h.bus.send(&Command::Plan(inline(&doc))).await.unwrap();
    let t = terminal_of(&h.bus, &sent.request_id, WITHIN).await;
    let t = h.bus.answer(t).await.unwrap();
    let Ok(Event::Plan(PlanReady {
        estimate: Some(e),
        budget_usd_month,
        ..
    })) = t.decode()
    else {
        panic!("a plan with an estimate: {t:?}")
    };
    assert_eq!(budget_usd_month, Some(10.0));
    assert!(e.from_bundled_table && e.complete, "{e:?}");
    assert_eq!(e.region, "us-east-1");
    // The example blog: t3.micro, its root volume and public IPv4, a db.t3.micro with 20 GB.
    assert!((e.total_usd_month - 27.32).abs() < 0.005, "{e:#?}");
    assert!(e.lines.iter().any(|l| l.item.contains("t3.micro")));

    // Warm up what the daemon asks AWS once (its identity, for the audit trail).
    let ping = h
        .bus
        .send(&Command::Ping(PingArgs::default()))
        .await
        .unwrap();
    terminal_of(&h.bus, &ping.request_id, WITHIN).await;
    let calls = proxy.requests();

    let deploy = |over_budget| {
        Command::Deploy(DeployArgs {
            target: inline(&doc),
            rollback_on_failure: false,
            over_budget,
        })
    };
    let refused = h.bus.send(&deploy(false)).await.unwrap().request_id;
    let t = terminal_of(&h.bus, &refused, WITHIN).await;
    assert_eq!(t.data["code"], json!(ErrorCode::OverBudget), "{t:?}");
    let m = t.message().unwrap();
    assert!(
        m.contains("$27.32/month") && m.contains("$10.00/month"),
        "{m}"
    );
    assert!(m.contains("--over-budget"), "{m}");
    assert_eq!(proxy.requests(), calls, "the refused deploy called AWS");

    // --over-budget deploys, and says so in its events.
    let over = h.bus.send(&deploy(true)).await.unwrap().request_id;
    let t = terminal_of(&h.bus, &over, Duration::from_secs(180)).await;
    assert_eq!(t.status, Some(Status::Success), "{t:?}");
    let said = eventually("the over-budget event", Duration::from_secs(10), || {
        let (bus, over) = (h.bus.clone(), over.clone());
        async move {
            events_of(&bus, &over)
                .await
                .into_iter()
                .find(|e| e.message().is_some_and(|m| m.contains("over budget")))
        }
    })
    .await;
    assert!(said.message().unwrap().contains("$10.00/month"), "{said:?}");
}
