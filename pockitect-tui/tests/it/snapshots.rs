//! Every screen, at 80×24 (the smallest size the console promises) and a bigger one.

use insta::assert_snapshot;
use pockitect_proto::Status;
use pockitect_tui::app::{BusMsg, Model, Msg, Settings};
use pockitect_tui::theme::Theme;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::{Color, Modifier};
use serde_json::json;

use crate::fixtures::*;

fn key(m: &mut Model, c: char) {
    m.update(Msg::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::NONE,
    )));
}

fn code(m: &mut Model, c: KeyCode) {
    m.update(Msg::Key(KeyEvent::new(c, KeyModifiers::NONE)));
}

fn keys(m: &mut Model, s: &str) {
    for c in s.chars() {
        key(m, c);
    }
}

/// Presses `c`, which opens a confirmation that asks the daemon for its plan, and answers that
/// dry run with a deletion plan of the first `n` records of the estate.
fn planned_deletion(m: &mut Model, c: char, kind: &str, n: usize) {
    let asked = m.update(Msg::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::NONE,
    )));
    let (rid, _) = sends(asked).remove(0);
    let items: Vec<_> = estate()
        .into_iter()
        .take(n)
        .map(|r| json!({"record": r}))
        .collect();
    let digest = pockitect_proto::PlanDigest::of(["snapshot".to_owned()]);
    feed(
        m,
        vec![event(
            kind,
            &rid,
            Status::Success,
            json!({"message": format!("would delete {n} resources"), "dry_run": true,
                   "plan": {"layers": [{"index": 0, "items": items}], "skipped": [], "projects": []},
                   "plan_digest": digest}),
            now(),
        )],
    );
}

#[test]
fn projects() {
    let mut m = loaded();
    assert_snapshot!("projects_80x24", render(&mut m, 80, 24));
    assert_snapshot!("projects_120x36", render(&mut m, 120, 36));
}

#[test]
fn resources() {
    let mut m = loaded();
    key(&mut m, '2');
    assert_snapshot!("resources_80x24", render(&mut m, 80, 24));
    assert_snapshot!("resources_120x36", render(&mut m, 120, 36));
}

#[test]
fn resources_scrolled_far_down() {
    let mut m = loaded();
    key(&mut m, '2');
    m.update(Msg::Resize(80, 24));
    key(&mut m, 'G');
    assert_snapshot!("resources_bottom_80x24", render(&mut m, 80, 24));
}

#[test]
fn resources_search_filter_and_marks() {
    let mut m = loaded();
    key(&mut m, '2');
    key(&mut m, 'f');
    code(&mut m, KeyCode::Down);
    code(&mut m, KeyCode::Down);
    code(&mut m, KeyCode::Right); // project: (none)
    assert_snapshot!("filter_dialog_80x24", render(&mut m, 80, 24));
    code(&mut m, KeyCode::Enter);
    key(&mut m, ' ');
    key(&mut m, ' ');
    key(&mut m, '/');
    keys(&mut m, "default");
    assert_snapshot!("resources_filtered_80x24", render(&mut m, 80, 24));
}

#[test]
fn resources_terminate_dialog() {
    let mut m = loaded();
    key(&mut m, '2');
    key(&mut m, 'a');
    planned_deletion(&mut m, 't', "terminate_complete", 12);
    keys(&mut m, "ye");
    assert_snapshot!("terminate_80x24", render(&mut m, 80, 24));
}

#[test]
fn resource_details() {
    let mut m = loaded();
    key(&mut m, '2');
    code(&mut m, KeyCode::Enter);
    assert_snapshot!("resource_details_80x24", render(&mut m, 80, 24));
}

#[test]
fn activity() {
    let mut m = loaded();
    key(&mut m, '3');
    assert_snapshot!("activity_80x24", render(&mut m, 80, 24));
    assert_snapshot!("activity_120x36", render(&mut m, 120, 36));
    key(&mut m, 'j');
    key(&mut m, 'j');
    assert_snapshot!("activity_failed_selected_80x24", render(&mut m, 80, 24));
    code(&mut m, KeyCode::Enter);
    assert_snapshot!("activity_events_dialog_80x24", render(&mut m, 80, 24));
}

#[test]
fn daemons() {
    let mut m = loaded();
    key(&mut m, '4');
    assert_snapshot!("daemons_80x24", render(&mut m, 80, 24));
    assert_snapshot!("daemons_120x36", render(&mut m, 120, 36));
}

#[test]
fn help() {
    let mut m = loaded();
    key(&mut m, '?');
    assert_snapshot!("help_projects_80x24", render(&mut m, 80, 24));
    code(&mut m, KeyCode::Esc);
    key(&mut m, '2');
    key(&mut m, '?');
    assert_snapshot!("help_resources_120x36", render(&mut m, 120, 36));
}

#[test]
fn deploy_confirmation() {
    let mut m = loaded();
    key(&mut m, 'd');
    assert_snapshot!("confirm_deploy_80x24", render(&mut m, 80, 24));
}

#[test]
fn destroy_confirmation_refuses_a_wrong_slug() {
    let mut m = loaded();
    planned_deletion(&mut m, 'D', "destroy_complete", 3);
    keys(&mut m, "brendens");
    code(&mut m, KeyCode::Enter);
    assert_snapshot!("destroy_wrong_80x24", render(&mut m, 80, 24));
}

#[test]
fn project_details() {
    let mut m = loaded();
    code(&mut m, KeyCode::Down); // brendens-blog
    let (rid, _) =
        sends(m.update(Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)))).remove(0);
    assert_snapshot!("project_details_loading_80x24", render(&mut m, 80, 24));
    feed(
        &mut m,
        vec![event(
            "project",
            &rid,
            Status::Success,
            json!({
                "slug": "brendens-blog", "name": "Brenden's Blog", "region": "us-east-2", "status": "running", "valid": true,
                "parts": [
                    {"name": "network", "wanted": true, "status": "created", "id": "vpc-0a1b2c3d"},
                    {"name": "compute", "wanted": true, "status": "running", "id": "i-0a1b2c3d4e5f60718 203.0.113.10"},
                    {"name": "database", "wanted": false, "status": "not wanted"}
                ],
                "blueprint": {"project": {"name": "Brenden's Blog", "slug": "brendens-blog", "region": "us-east-2"},
                              "compute": {"instance_type": "t3.micro", "instance_id": "i-0a1b2c3d4e5f60718", "status": "running"}},
                "outputs": {"public_ip": "203.0.113.10", "ssh_command": "ssh -i ~/.ssh/pockitect/brendens-blog.pem ubuntu@203.0.113.10"}
            }),
            ago(1),
        )],
    );
    assert_snapshot!("project_details_80x24", render(&mut m, 80, 24));
}

#[test]
fn disconnected_banner() {
    let mut m = loaded();
    m.update(Msg::Bus(BusMsg::Disconnected(
        "Connection refused (os error 111)".into(),
    )));
    m.update(Msg::Bus(BusMsg::Disconnected(
        "Connection refused (os error 111)".into(),
    )));
    m.update(Msg::Tick(ago(-7)));
    key(&mut m, '2');
    assert_snapshot!("disconnected_80x24", render(&mut m, 80, 24));
    key(&mut m, '4');
    assert_snapshot!("disconnected_daemons_120x36", render(&mut m, 120, 36));
}

#[test]
fn first_start_before_redis_answers() {
    let mut m = model_with(Theme::colored());
    assert_snapshot!("connecting_80x24", render(&mut m, 80, 24));
}

#[test]
fn empty_but_connected() {
    let mut m = model_with(Theme::colored());
    let sent = sends(m.update(Msg::Bus(BusMsg::Connected)));
    let answers = sent
        .iter()
        .map(|(rid, c)| match c.kind() {
            "list_projects" => event(
                "projects",
                rid,
                Status::Success,
                json!({"projects": []}),
                now(),
            ),
            _ => event(
                "resources",
                rid,
                Status::Success,
                json!({"records": []}),
                now(),
            ),
        })
        .collect();
    feed(&mut m, answers);
    m.update(Msg::Bus(BusMsg::Daemons(vec![])));
    assert_snapshot!("empty_projects_80x24", render(&mut m, 80, 24));
    key(&mut m, '2');
    assert_snapshot!("empty_resources_80x24", render(&mut m, 80, 24));
    key(&mut m, '3');
    assert_snapshot!("empty_activity_80x24", render(&mut m, 80, 24));
    key(&mut m, '4');
    assert_snapshot!("empty_daemons_80x24", render(&mut m, 80, 24));
}

#[test]
fn no_color_means_no_colour() {
    for tab in ['1', '2', '3', '4'] {
        let mut m = loaded_with(Theme::plain());
        m.update(Msg::Bus(BusMsg::Disconnected("gone".into())));
        key(&mut m, tab);
        let term = terminal(&mut m, 100, 30);
        for cell in term.backend().buffer().content() {
            assert_eq!(cell.fg, Color::Reset, "tab {tab}: {cell:?}");
            assert_eq!(cell.bg, Color::Reset, "tab {tab}: {cell:?}");
        }
    }
    // And colour is used when allowed.
    let mut m = loaded();
    let term = terminal(&mut m, 100, 30);
    assert!(
        term.backend()
            .buffer()
            .content()
            .iter()
            .any(|c| c.fg != Color::Reset)
    );
}

#[test]
fn tiny_terminal_does_not_panic() {
    let mut m = loaded();
    for (w, h) in [(1, 1), (10, 3), (20, 5), (40, 10)] {
        for tab in ['1', '2', '3', '4', '?'] {
            key(&mut m, tab);
            render(&mut m, w, h);
            code(&mut m, KeyCode::Esc);
        }
        key(&mut m, 'D');
        render(&mut m, w, h);
        code(&mut m, KeyCode::Esc);
    }
    let _ = Settings {
        redis_url: String::new(),
        prefix: String::new(),
        session: String::new(),
        theme: Theme::plain(),
        now: now(),
        size: (0, 0),
    };
}

#[test]
fn the_cursor_row_is_reversed_also_without_colour() {
    let mut m = loaded_with(Theme::plain());
    key(&mut m, 'j');
    let term = terminal(&mut m, 80, 24);
    let buf = term.backend().buffer();
    // y: 0 tabs, 1 border, 2 column names, 3 api, 4 brendens-blog.
    assert!(buf[(1, 4)].modifier.contains(Modifier::REVERSED));
    assert!(!buf[(1, 3)].modifier.contains(Modifier::REVERSED));
}

/// Entries of the audit trail as the daemon answers them: a destroy, a refused terminate, a
/// power stop and a deploy.
fn audit_trail() -> serde_json::Value {
    let entry = |rid: &str, command: &str, status: &str, secs: i64, extra: serde_json::Value| {
        let mut e = json!({"request_id": id(rid), "command": command, "args": {}, "project": "brendens-blog",
            "client": {"kind": "cli", "user": "brenden", "host": "laptop"}, "daemon": "pockitectd-a1",
            "account": "123456789012", "principal": "arn:aws:iam::123456789012:user/brenden",
            "started_at": ago(secs + 30), "ended_at": ago(secs), "status": status, "message": "",
            "authorization": {}, "resources": []});
        if let (Some(e), Some(x)) = (e.as_object_mut(), extra.as_object()) {
            e.extend(x.clone());
        }
        e
    };
    let deleted = |kind: &str, rid: &str| json!({"type": kind, "id": rid, "region": "us-east-2", "account": "123456789012", "action": "deleted"});
    json!({"entries": [
        entry("destroy1", "destroy", "success", 120, json!({
            "message": "deleted 4, skipped 1, failed 0; 'brendens-blog' is back to pending",
            "authorization": {"rule": "policy.destroy", "plan_digest": pockitect_proto::PlanDigest::of(["x".to_owned()])},
            "resources": [deleted("ec2_instance", "i-0a1b2c3d4e5f60718"), deleted("security_group", "sg-0123456789abcdef0"),
                          deleted("subnet", "subnet-01234abcd5678ef90"), deleted("vpc", "vpc-0f1e2d3c4b5a69788")]})),
        entry("term1", "terminate", "error", 900, json!({"project": null, "refused": true, "code": "policy_denied",
            "client": {"kind": "tui", "user": "ops", "host": "bastion"},
            "message": "terminate is denied by policy.rules.protect-prod of the daemon's policy; nothing was done",
            "authorization": {"rule": "policy.rules.protect-prod"}})),
        entry("power1", "power", "success", 3600, json!({"message": "2 of 2 resources of 'brendens-blog' are stopped",
            "resources": [{"type": "ec2_instance", "id": "i-0a1b2c3d4e5f60718", "region": "us-east-2", "action": "stopped"},
                          {"type": "rds_instance", "id": "brendens-blog-db", "region": "us-east-2", "action": "stopped"}]})),
        entry("deploy1", "deploy", "success", 86_400, json!({"message": "deployed 'brendens-blog'",
            "resources": [{"type": "vpc", "id": "vpc-0f1e2d3c4b5a69788", "region": "us-east-2", "action": "created"}]})),
    ], "truncated": false})
}

#[test]
fn history() {
    let mut m = loaded();
    let asked = m.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('5'),
        KeyModifiers::NONE,
    )));
    let (rid, _) = sends(asked).remove(0);
    assert_snapshot!("history_loading_80x24", render(&mut m, 80, 24));
    feed(
        &mut m,
        vec![event(
            "history",
            &rid,
            Status::Success,
            audit_trail(),
            now(),
        )],
    );
    assert_snapshot!("history_80x24", render(&mut m, 80, 24));
    assert_snapshot!("history_120x36", render(&mut m, 120, 36));
    key(&mut m, 'j');
    assert_snapshot!("history_refused_selected_80x24", render(&mut m, 80, 24));
}
