//! The console's behaviour, driven through `update` alone: keys, bus answers, ticks.

use super::*;
use crate::resources::tests::rec;
use chrono::TimeZone;
use pockitect_proto::{
    BlueprintRef, DeployArgs, DestroyArgs, PlanDigest, PowerAction, PowerArgs, ProjectRef,
    ResourceType, ScanArgs,
};
use ratatui::crossterm::event::{KeyCode, KeyModifiers};
use serde_json::{Value, json};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 16, 12, 0, 0).unwrap()
}

fn model() -> Model {
    Model::new(Settings {
        redis_url: "redis://127.0.0.1:6379".into(),
        prefix: "pockitect".into(),
        session: "abcdef".into(),
        theme: Theme::plain(),
        now: t0(),
        size: (80, 24),
    })
}

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn code(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

fn typed(m: &mut Model, s: &str) {
    for c in s.chars() {
        assert_eq!(m.update(key(c)), None);
    }
}

fn sends(e: Option<Effect>) -> Vec<(RequestId, Command)> {
    e.map(Effect::flatten)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| match e {
            Effect::Send {
                request_id,
                command,
                ..
            } => Some((request_id, command)),
            _ => None,
        })
        .collect()
}

/// What was sent, with the approval each command carried.
fn sends_approved(e: Option<Effect>) -> Vec<(RequestId, Command, Option<Approval>)> {
    e.map(Effect::flatten)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| match e {
            Effect::Send {
                request_id,
                command,
                approval,
            } => Some((request_id, command, approval)),
            _ => None,
        })
        .collect()
}

fn digest() -> PlanDigest {
    PlanDigest::of(["delete 0 ec2_instance i-1 us-east-2".to_owned()])
}

fn approved() -> Option<Approval> {
    Some(Approval {
        plan_digest: Some(digest()),
        override_policy: false,
    })
}

/// The dry run (or plan) a confirmation sent, answered by the daemon with `kind` and `data`
/// (and the plan's digest). Returns the command that asked for it.
fn answer_plan(m: &mut Model, sent: Option<Effect>, kind: &str, mut data: Value) -> Command {
    let (id, cmd) = sends(sent).remove(0);
    data["plan_digest"] = json!(digest());
    live(m, vec![event(kind, &id, Status::Success, data)]);
    cmd
}

fn deletion_plan() -> Value {
    let r = rec(
        ResourceType::Ec2Instance,
        "i-1",
        "us-east-2",
        Some("blog"),
        Some("running"),
    );
    json!({"message": "would delete 1 resources", "dry_run": true,
           "plan": {"layers": [{"index": 0, "items": [{"record": r}]}], "skipped": [], "projects": ["blog"]}})
}

fn deploy_plan() -> Value {
    json!({"plan": {"project": "api", "region": "eu-west-1", "resources": [],
        "validation": {"errors": [], "warnings": []}}, "warnings": []})
}

fn plan_text(m: &Model) -> String {
    match &m.overlay {
        Some(Overlay::Confirm(c)) => c.plan.lines.join("\n"),
        Some(Overlay::Typed(t)) => t.plan.lines.join("\n"),
        other => panic!("no confirmation open: {other:?}"),
    }
}

fn event(kind: &str, id: &RequestId, status: Status, data: Value) -> Envelope {
    let mut e = Envelope::event(kind, Some(id.clone()), None, status, data);
    e.ts = t0();
    e
}

fn live(m: &mut Model, events: Vec<Envelope>) -> Option<Effect> {
    m.update(Msg::Bus(BusMsg::Events {
        events,
        replay: false,
    }))
}

/// A connected model whose start-up queries were answered.
fn loaded() -> Model {
    let mut m = model();
    let sent = sends(m.update(Msg::Bus(BusMsg::Connected)));
    assert_eq!(sent.len(), 2);
    let (pid, pcmd) = &sent[0];
    assert_eq!(pcmd.kind(), "list_projects");
    let (rid, rcmd) = &sent[1];
    assert_eq!(rcmd.kind(), "query_resources");
    let records = vec![
        rec(
            ResourceType::Ec2Instance,
            "i-1",
            "us-east-2",
            Some("blog"),
            Some("running"),
        ),
        rec(
            ResourceType::Vpc,
            "vpc-1",
            "us-east-2",
            Some("blog"),
            Some("available"),
        ),
        rec(ResourceType::S3Bucket, "logs", "us-east-1", None, None),
    ];
    let e = live(
        &mut m,
        vec![
            event(
                event_type::PROJECTS,
                pid,
                Status::Success,
                json!({"projects": [
                    {"slug": "blog", "name": "Blog", "region": "us-east-2", "status": "running", "valid": true},
                    {"slug": "api", "name": "API", "region": "eu-west-1", "status": "pending", "valid": true}
                ]}),
            ),
            event(
                event_type::RESOURCES,
                rid,
                Status::Success,
                json!({ "records": records }),
            ),
        ],
    );
    assert_eq!(e, None);
    m.prepare();
    m
}

#[test]
fn tabs_switch_with_numbers_and_tab() {
    let mut m = model();
    m.update(key('3'));
    assert_eq!(m.tab, Tab::Activity);
    m.update(code(KeyCode::Tab));
    assert_eq!(m.tab, Tab::Daemons);
    m.update(code(KeyCode::Tab));
    assert_eq!(m.tab, Tab::History);
    m.update(code(KeyCode::Tab));
    assert_eq!(m.tab, Tab::Projects);
    m.update(code(KeyCode::BackTab));
    assert_eq!(m.tab, Tab::History);
    m.update(key('2'));
    assert_eq!(m.tab, Tab::Resources);
}

#[test]
fn q_and_ctrl_c_quit_but_q_types_in_dialogs() {
    let mut m = loaded();
    assert_eq!(m.update(key('q')), Some(Effect::Quit));
    m.update(key('D'));
    assert!(matches!(m.overlay, Some(Overlay::Typed(_))));
    assert_eq!(m.update(key('q')), None);
    let Some(Overlay::Typed(t)) = &m.overlay else {
        panic!("dialog closed")
    };
    assert_eq!(t.input, "q");
    let ctrl_c = Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(m.update(ctrl_c), Some(Effect::Quit));
}

#[test]
fn releases_are_ignored() {
    let mut m = model();
    let mut k = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
    k.kind = KeyEventKind::Release;
    assert_eq!(m.update(Msg::Key(k)), None);
}

#[test]
fn connecting_queries_projects_and_resources_once() {
    let mut m = model();
    let sent = sends(m.update(Msg::Bus(BusMsg::Connected)));
    assert_eq!(sent.len(), 2);
    // Ids are this session's, unique and valid.
    assert!(sent[0].0.as_str().starts_with("abcdef"));
    assert_ne!(sent[0].0, sent[1].0);
    // A reload while both are unanswered sends nothing more…
    assert_eq!(m.update(key('r')), None);
    // …unless no daemon answered for a while.
    m.update(Msg::Tick(t0() + Duration::seconds(20)));
    assert_eq!(sends(m.update(key('r'))).len(), 2);
}

#[test]
fn answers_fill_projects_and_resources() {
    let m = loaded();
    assert_eq!(m.projects.rows.len(), 2);
    assert_eq!(m.projects.rows[0].slug, "api");
    assert_eq!(m.resources.len(), 3);
    assert!(m.resources.loaded);
    assert_eq!(m.resources.project_resources("blog").unwrap().total, 2);
}

#[test]
fn someone_elses_resources_answer_is_ignored() {
    let mut m = loaded();
    let other = RequestId::new();
    live(
        &mut m,
        vec![event(
            event_type::RESOURCES,
            &other,
            Status::Success,
            json!({"records": []}),
        )],
    );
    m.prepare();
    assert_eq!(m.resources.len(), 3);
}

#[test]
fn a_summary_of_the_own_answer_never_empties_the_estate_or_the_projects() {
    let mut m = loaded();
    let sent = sends(m.update(key('r')));
    assert_eq!(sent.len(), 2);
    // What the events stream carries when the whole answer could not be swapped in.
    let reply = json!({"key": "pockitect:reply:x", "ttl_secs": 300, "bytes": 1000});
    let summaries: Vec<Envelope> = sent
        .iter()
        .map(|(id, cmd)| {
            let kind = if cmd.kind() == "query_resources" {
                event_type::RESOURCES
            } else {
                event_type::PROJECTS
            };
            event(
                kind,
                id,
                Status::Success,
                json!({"counts": {"records": 3, "projects": 2}, "reply": reply}),
            )
        })
        .collect();
    live(&mut m, summaries);
    m.prepare();
    assert_eq!(m.resources.len(), 3);
    assert_eq!(m.projects.rows.len(), 2);
}

#[test]
fn live_scan_chunks_add_records_and_completion_requeries() {
    let mut m = loaded();
    let scan = RequestId::new();
    let chunk = |region: &str, id: &str| {
        event(
            event_type::SCAN_CHUNK,
            &scan,
            Status::InProgress,
            json!({"region": region, "chunk": 1, "chunks": 2, "errors": [],
                   "records": [rec(ResourceType::Vpc, id, region, None, None)]}),
        )
    };
    // Replayed history does not touch the estate.
    m.update(Msg::Bus(BusMsg::Events {
        events: vec![chunk("ap-south-1", "vpc-old")],
        replay: true,
    }));
    m.prepare();
    assert_eq!(m.resources.len(), 3);
    live(&mut m, vec![chunk("eu-west-1", "vpc-new")]);
    m.prepare();
    assert_eq!(m.resources.len(), 4);
    let e = live(
        &mut m,
        vec![event(
            event_type::SCAN_COMPLETE,
            &scan,
            Status::Success,
            json!({"total": 4, "regions": [], "errors": [], "duration_ms": 10}),
        )],
    );
    let sent = sends(e);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1.kind(), "query_resources");
}

#[test]
fn deploy_asks_first_then_sends() {
    let mut m = loaded();
    m.update(key('j')); // blog
    m.update(key('d'));
    assert!(matches!(m.overlay, Some(Overlay::Confirm(_))));
    assert_eq!(m.update(key('n')), None);
    assert!(m.overlay.is_none());
    // The dialog shows the daemon's plan, and the deploy carries its digest.
    let asked = m.update(key('d'));
    let plan = json!({"plan": {"project": "blog", "region": "us-east-2",
        "resources": [{"resource": "vpc", "action": "create"}, {"resource": "subnet", "action": "adopt", "id": "subnet-1"}],
        "validation": {"errors": [], "warnings": []}}, "warnings": []});
    let cmd = answer_plan(&mut m, asked, "plan", plan);
    assert_eq!(
        cmd,
        Command::Plan(BlueprintRef {
            project: Some("blog".into()),
            blueprint: None
        })
    );
    assert!(
        plan_text(&m).contains("1 create, 1 adopt"),
        "{}",
        plan_text(&m)
    );
    let mut sent = sends_approved(m.update(key('y')));
    assert_eq!(sent.len(), 1);
    let (id, cmd, approval) = sent.remove(0);
    assert_eq!(approval, approved());
    let (id, cmd) = (&id, &cmd);
    assert_eq!(
        cmd,
        &Command::Deploy(DeployArgs {
            target: BlueprintRef {
                project: Some("blog".into()),
                blueprint: None
            },
            rollback_on_failure: false,
            over_budget: false,
        })
    );
    let r = m.activity.get(id).expect("shown in Activity at once");
    assert_eq!(r.status_word(), "sent");
    assert_eq!(r.project.as_deref(), Some("blog"));
    assert!(
        m.flash
            .as_ref()
            .unwrap()
            .text
            .contains("deploy of blog sent")
    );
    // Its progress and end reach the project row and the footer.
    live(
        &mut m,
        vec![event(
            "deploy_progress",
            id,
            Status::InProgress,
            json!({"step": 2, "total": 8, "resource": "vpc", "state": "started",
                   "message": "creating vpc"}),
        )],
    );
    let active = m.activity.active_for_project("blog").unwrap();
    assert_eq!(active.progress.as_ref().unwrap().step, 2);
    let e = live(
        &mut m,
        vec![event("deploy_complete", id, Status::Success, json!({}))],
    );
    assert!(m.activity.active_for_project("blog").is_none());
    assert_eq!(m.flash.as_ref().unwrap().text, "deploy of blog finished");
    let mut kinds: Vec<&str> = sends(e).iter().map(|(_, c)| c.kind()).collect();
    kinds.sort();
    assert_eq!(kinds, ["list_projects", "query_resources"]);
}

#[test]
fn power_start_and_stop() {
    let mut m = loaded();
    // Stopping is planned first (a dry run) and sent with the plan's digest.
    let asked = m.update(key('x'));
    let dry = answer_plan(
        &mut m,
        asked,
        "power_complete",
        json!({"message": "would stop 1", "report": {"results": []}, "dry_run": true,
               "plan": [{"id": "i-9", "type": "ec2_instance", "region": "eu-west-1"}]}),
    );
    assert_eq!(
        dry,
        Command::Power(PowerArgs {
            project: "api".into(),
            action: PowerAction::Stop,
            dry_run: true,
        })
    );
    assert!(plan_text(&m).contains("i-9"), "{}", plan_text(&m));
    let sent = sends_approved(m.update(code(KeyCode::Enter)));
    assert_eq!(
        sent[0].1,
        Command::Power(PowerArgs {
            project: "api".into(),
            action: PowerAction::Stop,
            dry_run: false,
        })
    );
    assert_eq!(sent[0].2, approved());
    // Starting has nothing to approve.
    assert_eq!(m.update(key('s')), None);
    let sent = sends_approved(m.update(key('y')));
    assert_eq!(
        sent[0].1,
        Command::Power(PowerArgs {
            project: "api".into(),
            action: PowerAction::Start,
            dry_run: false,
        })
    );
    assert_eq!(sent[0].2, None);
}

#[test]
fn destroy_needs_the_slug_typed() {
    let mut m = loaded();
    m.update(key('j'));
    let asked = m.update(key('D'));
    // Nothing can be confirmed before the plan is there.
    typed(&mut m, "blog");
    assert_eq!(m.update(code(KeyCode::Enter)), None);
    assert!(
        m.flash
            .as_ref()
            .unwrap()
            .text
            .contains("plan is not there yet")
    );
    for _ in 0..4 {
        m.update(code(KeyCode::Backspace));
    }
    let dry = answer_plan(&mut m, asked, "destroy_complete", deletion_plan());
    assert_eq!(
        dry,
        Command::Destroy(DestroyArgs {
            project: "blog".into(),
            dry_run: true,
            ..Default::default()
        })
    );
    assert!(
        plan_text(&m).contains("deletes 1, in order"),
        "{}",
        plan_text(&m)
    );
    assert!(plan_text(&m).contains("i-1 us-east-2"), "{}", plan_text(&m));
    typed(&mut m, "blo");
    assert_eq!(m.update(code(KeyCode::Enter)), None);
    let Some(Overlay::Typed(t)) = &m.overlay else {
        panic!("dialog closed")
    };
    assert!(t.wrong);
    typed(&mut m, "g");
    let sent = sends_approved(m.update(code(KeyCode::Enter)));
    assert_eq!(
        sent[0].1,
        Command::Destroy(DestroyArgs {
            project: "blog".into(),
            ..Default::default()
        })
    );
    assert_eq!(sent[0].2, approved());
    assert!(m.overlay.is_none());
    // Esc abandons without sending.
    m.update(key('D'));
    typed(&mut m, "blog");
    assert_eq!(m.update(code(KeyCode::Esc)), None);
    assert!(m.overlay.is_none());
}

#[test]
fn terminate_marked_rows_after_typed_count() {
    let mut m = loaded();
    m.update(key('2'));
    // Rows: logs (us-east-1), i-1, vpc-1 (us-east-2).
    m.update(key(' '));
    m.update(key(' '));
    assert_eq!(m.resources.marked_count(), 2);
    let asked = m.update(key('t'));
    let dry = answer_plan(&mut m, asked, "terminate_complete", deletion_plan());
    let Command::Terminate(dry) = dry else {
        panic!("{dry:?}")
    };
    assert!(dry.dry_run && dry.targets.len() == 2);
    typed(&mut m, "3");
    assert_eq!(m.update(code(KeyCode::Enter)), None, "wrong count");
    m.update(code(KeyCode::Backspace));
    typed(&mut m, "2");
    let sent = sends_approved(m.update(code(KeyCode::Enter)));
    assert_eq!(sent[0].2, approved());
    let Command::Terminate(args) = &sent[0].1 else {
        panic!("{:?}", sent[0].1)
    };
    let ids: Vec<&str> = args.targets.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["logs", "i-1"]);
    assert!(!args.force && !args.dry_run);
    assert_eq!(m.resources.marked_count(), 0);
    // Without marks, the row under the cursor; "yes" also confirms.
    let asked = m.update(key('t'));
    answer_plan(&mut m, asked, "terminate_complete", deletion_plan());
    typed(&mut m, "YES");
    let sent = sends(m.update(code(KeyCode::Enter)));
    let Command::Terminate(args) = &sent[0].1 else {
        panic!()
    };
    assert_eq!(args.targets.len(), 1);
}

#[test]
fn search_filter_and_sort() {
    let mut m = loaded();
    m.update(key('2'));
    m.update(key('/'));
    assert!(m.searching);
    typed(&mut m, "vpc q"); // 'q' is text here, not quit
    assert_eq!(m.resources.filters.search, "vpc q");
    m.update(code(KeyCode::Backspace));
    m.update(code(KeyCode::Backspace));
    m.update(code(KeyCode::Enter));
    assert!(!m.searching);
    m.prepare();
    assert_eq!(m.resources.visible_len(), 1);
    m.update(key('c'));
    m.prepare();
    assert_eq!(m.resources.visible_len(), 3);
    // Filter dialog: first region, then reset.
    m.update(key('f'));
    m.update(code(KeyCode::Right));
    assert_eq!(m.resources.filters.region.as_deref(), Some("us-east-1"));
    m.update(code(KeyCode::Right));
    assert_eq!(m.resources.filters.region.as_deref(), Some("us-east-2"));
    m.update(code(KeyCode::Right));
    assert_eq!(m.resources.filters.region, None, "wraps to all");
    m.update(code(KeyCode::Left));
    m.update(key('j'));
    m.update(code(KeyCode::Right));
    assert_eq!(m.resources.filters.kind, Some(ResourceType::Ec2Instance));
    m.update(key('x'));
    assert_eq!(m.resources.filters.kind, None);
    m.update(code(KeyCode::Esc));
    assert!(m.overlay.is_none());
    m.prepare();
    assert_eq!(m.resources.visible_len(), 2);
    m.update(key('o'));
    assert_eq!(m.resources.sort, crate::resources::SortKey::Type);
    m.update(key('O'));
    assert!(m.resources.descending);
}

#[test]
fn scan_key_sends_a_scan() {
    let mut m = loaded();
    m.update(key('2'));
    let sent = sends(m.update(key('s')));
    assert_eq!(sent[0].1, Command::Scan(ScanArgs::default()));
}

#[test]
fn disconnect_shows_and_refuses_then_recovers() {
    let mut m = loaded();
    m.update(Msg::Bus(BusMsg::Disconnected("connection refused".into())));
    m.update(Msg::Bus(BusMsg::Disconnected("connection refused".into())));
    assert!(matches!(
        m.conn,
        ConnState::Disconnected { attempts: 2, .. }
    ));
    // Nothing can be planned, so nothing can be confirmed; the dialog says why.
    assert_eq!(m.update(key('d')), None);
    assert!(plan_text(&m).contains("Not connected"), "{}", plan_text(&m));
    assert_eq!(m.update(key('y')), None);
    assert!(m.overlay.is_some());
    m.update(code(KeyCode::Esc));
    // Data stays on screen meanwhile.
    assert_eq!(m.resources.len(), 3);
    let sent = sends(m.update(Msg::Bus(BusMsg::Connected)));
    assert_eq!(sent.len(), 2, "reloads after a reconnect");
    assert_eq!(m.flash.as_ref().unwrap().text, "reconnected to Redis");
}

#[test]
fn send_failures_mark_the_request() {
    let mut m = loaded();
    let asked = m.update(key('d'));
    answer_plan(&mut m, asked, "plan", deploy_plan());
    let (id, _) = sends(m.update(key('y'))).remove(0);
    m.update(Msg::Bus(BusMsg::SendFailed {
        request_id: id.clone(),
        reason: "timeout".into(),
    }));
    let r = m.activity.get(&id).unwrap();
    assert_eq!(r.status, Status::Error);
    assert_eq!(r.message.as_deref(), Some("not sent: timeout"));
}

#[test]
fn cancel_a_running_request() {
    let mut m = loaded();
    let id = RequestId::new();
    live(
        &mut m,
        vec![event(
            event_type::ACCEPTED,
            &id,
            Status::InProgress,
            json!({"type": "terminate", "daemon": "d1"}),
        )],
    );
    m.update(key('3'));
    m.update(key('c'));
    assert!(matches!(m.overlay, Some(Overlay::Confirm(_))));
    assert_eq!(m.update(key('y')), Some(Effect::Cancel(id.clone())));
    live(
        &mut m,
        vec![event(
            event_type::CANCELLED,
            &id,
            Status::Cancelled,
            json!({}),
        )],
    );
    m.update(key('c'));
    assert!(m.overlay.is_none(), "finished requests are not cancelled");
}

#[test]
fn project_details_come_from_get_project() {
    let mut m = loaded();
    m.update(key('j'));
    let sent = sends(m.update(code(KeyCode::Enter)));
    let (id, cmd) = &sent[0];
    assert_eq!(
        cmd,
        &Command::GetProject(ProjectRef {
            project: "blog".into()
        })
    );
    live(
        &mut m,
        vec![event(
            event_type::PROJECT,
            id,
            Status::Success,
            json!({"slug": "blog", "valid": true, "blueprint": {"project": {"slug": "blog"}},
                   "outputs": {"ssh_command": "ssh ubuntu@1.2.3.4"}}),
        )],
    );
    let Some(Overlay::Details(d)) = &m.overlay else {
        panic!("no details")
    };
    assert_eq!(d.waiting_for, None);
    assert_eq!(d.lines[1], "  ssh_command: ssh ubuntu@1.2.3.4");
    m.update(code(KeyCode::Esc));
    assert!(m.overlay.is_none());
}

#[test]
fn failures_of_my_requests_are_announced() {
    let mut m = loaded();
    let asked = m.update(key('d'));
    answer_plan(&mut m, asked, "plan", deploy_plan());
    let (id, _) = sends(m.update(key('y'))).remove(0);
    live(
        &mut m,
        vec![event(
            event_type::ERROR,
            &id,
            Status::Error,
            json!({"code": "locked", "message": "project 'api' is locked by request r1"}),
        )],
    );
    let f = m.flash.as_ref().unwrap();
    assert_eq!(f.level, Level::Error);
    assert!(f.text.contains("locked by request r1"), "{}", f.text);
}

#[test]
fn flash_expires_with_time_and_help_closes_on_any_key() {
    let mut m = loaded();
    m.update(key('?'));
    assert_eq!(m.overlay, Some(Overlay::Help));
    m.update(key('z'));
    assert_eq!(m.overlay, None);
    m.update(key('3'));
    m.update(key('h'));
    assert!(m.flash.is_some());
    m.update(Msg::Tick(t0() + Duration::seconds(60)));
    assert!(m.flash.is_none());
    assert_eq!(m.spinner, 1);
}

#[test]
fn resize_is_remembered() {
    let mut m = model();
    m.update(Msg::Resize(120, 40));
    assert_eq!(m.size, (120, 40));
}

#[test]
fn a_plan_the_daemon_refuses_cannot_be_confirmed_and_says_why() {
    let mut m = loaded();
    m.update(key('j'));
    let asked = m.update(key('D'));
    let (id, _) = sends(asked).remove(0);
    live(
        &mut m,
        vec![event(
            event_type::ERROR,
            &id,
            Status::Error,
            json!({"code": "policy_denied", "message": "destroy is denied by policy.rules.protect-prod of the daemon's policy"}),
        )],
    );
    let text = plan_text(&m);
    assert!(text.contains("policy.rules.protect-prod"), "{text}");
    typed(&mut m, "blog");
    assert_eq!(m.update(code(KeyCode::Enter)), None);
    assert!(m.overlay.is_some(), "still open: nothing was sent");
    // An answer for a dialog closed meanwhile is let go.
    m.update(code(KeyCode::Esc));
    let asked = m.update(key('D'));
    m.update(code(KeyCode::Esc));
    answer_plan(&mut m, asked, "destroy_complete", deletion_plan());
    assert!(m.overlay.is_none());
}

fn audit_entry(id: &RequestId, command: &str, resources: Value) -> Value {
    json!({"request_id": id, "command": command, "args": {"project": "blog"}, "project": "blog",
           "client": {"kind": "cli", "user": "ann", "host": "laptop"}, "daemon": "d1",
           "account": "123456789012", "principal": "arn:aws:iam::123456789012:user/ann",
           "started_at": t0(), "ended_at": t0(), "status": "success",
           "message": "deleted 2, skipped 0, failed 0",
           "authorization": {"rule": "policy.destroy", "plan_digest": digest()},
           "resources": resources})
}

#[test]
fn the_history_tab_asks_for_the_audit_trail_and_shows_an_entry_whole() {
    let mut m = loaded();
    let (id, cmd) = sends(m.update(key('5'))).remove(0);
    assert_eq!(m.tab, Tab::History);
    assert_eq!(cmd.kind(), "history");
    let destroyed = RequestId::new();
    let touched = json!([
        {"type": "ec2_instance", "id": "i-1", "region": "us-east-2", "account": "123456789012", "action": "deleted"},
        {"type": "vpc", "id": "vpc-1", "region": "us-east-2", "account": "123456789012", "action": "deleted"}
    ]);
    live(
        &mut m,
        vec![event(
            event_type::HISTORY,
            &id,
            Status::Success,
            json!({"entries": [audit_entry(&destroyed, "destroy", touched)], "truncated": false}),
        )],
    );
    assert_eq!(m.history.entries.len(), 1);
    assert_eq!(
        crate::app::history::touched_summary(&m.history.entries[0]),
        "2 deleted"
    );
    m.update(code(KeyCode::Enter));
    let Some(Overlay::Details(d)) = &m.overlay else {
        panic!("no details")
    };
    let text = d.lines.join("\n");
    assert!(text.contains("asked by   ann@laptop (cli)"), "{text}");
    assert!(text.contains("policy     policy.destroy, plan"), "{text}");
    assert!(
        text.contains("deleted  vpc vpc-1 us-east-2 (123456789012)"),
        "{text}"
    );
    m.update(code(KeyCode::Esc));
    // Staying on the tab asks nothing more; a request that changes the estate ends: ask again.
    assert_eq!(m.update(key('5')), None);
    let other = RequestId::new();
    let e = live(
        &mut m,
        vec![event(
            event_type::DESTROY_COMPLETE,
            &other,
            Status::Success,
            json!({"message": "deleted 1"}),
        )],
    );
    assert!(
        sends(e).iter().any(|(_, c)| c.kind() == "history"),
        "asks for the history again"
    );
}

#[test]
fn dollar_asks_cost_explorer_once_and_fills_the_spent_column() {
    let mut m = loaded();
    let (id, cmd) = sends(m.update(key('$'))).remove(0);
    assert_eq!(cmd.kind(), "cost");
    live(
        &mut m,
        vec![event(
            event_type::COST,
            &id,
            Status::Success,
            json!({"month_to_date": {"start": "2026-01-01", "end": "2026-01-17", "total_usd": 9.5, "untagged_usd": 1.0, "estimated": true},
                   "last_month": {"start": "2025-12-01", "end": "2026-01-01", "total_usd": 30.0, "untagged_usd": 2.0, "estimated": false},
                   "projects": [{"project": "blog", "month_to_date_usd": 8.5, "last_month_usd": 28.0}],
                   "tag_active": true, "currency": "USD", "notes": []}),
        )],
    );
    assert_eq!(m.projects.spend.get("blog"), Some(&8.5));
    assert!(m.flash.as_ref().unwrap().text.contains("$9.50 in all"));
    // A tag that is not active is said.
    let (id, _) = sends(m.update(key('$'))).remove(0);
    live(
        &mut m,
        vec![event(
            event_type::COST,
            &id,
            Status::Success,
            json!({"month_to_date": {"start": "2026-01-01", "end": "2026-01-17", "total_usd": 9.5, "untagged_usd": 9.5, "estimated": true},
                   "last_month": {"start": "2025-12-01", "end": "2026-01-01", "total_usd": 0.0, "untagged_usd": 0.0, "estimated": false},
                   "projects": [], "tag_active": false, "currency": "USD",
                   "notes": ["the account paid $9.50 but none of it carries the pockitect:project tag: activate it"]}),
        )],
    );
    let f = m.flash.as_ref().unwrap();
    assert_eq!(f.level, Level::Warn);
    assert!(f.text.contains("activate it"), "{}", f.text);
}
