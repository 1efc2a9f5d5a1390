//! A console with realistic, fixed data (fixed clock too, so snapshots are stable), built only
//! through `update` as the real bus would feed it.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use pockitect_proto::{
    Command, DaemonHeartbeat, Envelope, InFlight, RequestId, ResourceRecord, ResourceType, Status,
    event_type,
};
use pockitect_tui::app::{BusMsg, Effect, Health, Model, Msg, Settings};
use pockitect_tui::theme::Theme;
use pockitect_tui::ui::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::{Value, json};

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 16, 12, 0, 0).unwrap()
}

pub fn ago(secs: i64) -> DateTime<Utc> {
    now() - Duration::seconds(secs)
}

pub fn model_with(theme: Theme) -> Model {
    Model::new(Settings {
        redis_url: "redis://127.0.0.1:6379".into(),
        prefix: "pockitect".into(),
        session: "5e55105e55105e55105e5510".into(),
        theme,
        now: now(),
        size: (80, 24),
    })
}

pub fn id(s: &str) -> RequestId {
    RequestId::parse(s).unwrap()
}

pub fn event(
    kind: &str,
    rid: &RequestId,
    status: Status,
    data: Value,
    ts: DateTime<Utc>,
) -> Envelope {
    let mut e = Envelope::event(kind, Some(rid.clone()), None, status, data);
    e.ts = ts;
    e
}

pub fn feed(m: &mut Model, events: Vec<Envelope>) -> Option<Effect> {
    m.update(Msg::Bus(BusMsg::Events {
        events,
        replay: false,
    }))
}

pub fn sends(e: Option<Effect>) -> Vec<(RequestId, Command)> {
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

pub fn record(
    kind: ResourceType,
    rid: &str,
    region: &str,
    name: Option<&str>,
    project: Option<&str>,
    state: Option<&str>,
) -> ResourceRecord {
    let mut tags = BTreeMap::new();
    if let Some(p) = project {
        tags.insert("pockitect:project".to_owned(), p.to_owned());
        tags.insert("pockitect:managed".to_owned(), "true".to_owned());
    }
    if let Some(n) = name {
        tags.insert("Name".to_owned(), n.to_owned());
    }
    let mut r = ResourceRecord::new(kind, rid, region, tags);
    r.account = "123456789012".into();
    r.state = state.map(str::to_owned);
    r.last_synced = ago(600);
    r
}

pub fn estate() -> Vec<ResourceRecord> {
    use ResourceType::*;
    let mut v = vec![
        record(
            Ec2Instance,
            "i-0a1b2c3d4e5f60718",
            "us-east-2",
            Some("brendens-blog-web"),
            Some("brendens-blog"),
            Some("running"),
        ),
        record(
            Vpc,
            "vpc-0f1e2d3c4b5a69788",
            "us-east-2",
            Some("brendens-blog-vpc"),
            Some("brendens-blog"),
            Some("available"),
        ),
        record(
            Subnet,
            "subnet-01234abcd5678ef90",
            "us-east-2",
            Some("brendens-blog-public"),
            Some("brendens-blog"),
            Some("available"),
        ),
        record(
            SecurityGroup,
            "sg-0123456789abcdef0",
            "us-east-2",
            Some("brendens-blog-sg"),
            Some("brendens-blog"),
            None,
        ),
        record(
            InternetGateway,
            "igw-0aa11bb22cc33dd44",
            "us-east-2",
            None,
            Some("brendens-blog"),
            Some("attached"),
        ),
        record(
            RdsInstance,
            "brendens-blog-db",
            "us-east-2",
            None,
            Some("brendens-blog"),
            Some("available"),
        ),
        record(
            S3Bucket,
            "brendens-blog-assets",
            "us-east-2",
            None,
            Some("brendens-blog"),
            None,
        ),
        record(
            KeyPair,
            "brendens-blog-key",
            "us-east-2",
            None,
            Some("brendens-blog"),
            None,
        ),
        record(
            IamRole,
            "pockitect-brendens-blog-role",
            "global",
            None,
            Some("brendens-blog"),
            None,
        ),
        record(
            Ec2Instance,
            "i-0ffee0ddba11c0ffe",
            "eu-west-1",
            Some("api-box"),
            Some("api"),
            Some("stopped"),
        ),
        record(
            EbsVolume,
            "vol-0123abcd4567ef890",
            "eu-west-1",
            None,
            Some("api"),
            Some("in-use"),
        ),
        record(
            ElasticIp,
            "eipalloc-0a1b2c3d4e5f6",
            "eu-west-1",
            None,
            Some("api"),
            None,
        ),
        record(
            Vpc,
            "vpc-00000000000000001",
            "us-east-1",
            Some("default"),
            None,
            Some("available"),
        ),
        record(
            Ec2Instance,
            "i-0badc0ffee0ddf00d",
            "us-east-1",
            Some("forgotten-test"),
            None,
            Some("running"),
        ),
        record(
            NatGateway,
            "nat-0123456789abcdef0",
            "us-east-1",
            None,
            None,
            Some("failed"),
        ),
        record(S3Bucket, "old-logs-2019", "us-east-1", None, None, None),
        record(
            Vpc,
            "vpc-00000000000000002",
            "ap-southeast-2",
            Some("default"),
            None,
            Some("available"),
        ),
        record(
            RouteTable,
            "rtb-0a0b0c0d0e0f01020",
            "ap-southeast-2",
            None,
            None,
            None,
        ),
        record(
            DbSubnetGroup,
            "legacy-db-subnets",
            "ap-southeast-2",
            None,
            None,
            Some("complete"),
        ),
        record(
            IamInstanceProfile,
            "legacy-profile",
            "global",
            None,
            None,
            None,
        ),
    ];
    for i in 0..12 {
        v.push(record(
            Subnet,
            &format!("subnet-0{i:016x}"),
            "sa-east-1",
            Some(&format!("lab-subnet-{i}")),
            Some("lab"),
            Some("available"),
        ));
    }
    v
}

/// The parts of a project, as the daemon summarises them: `deployed` of the first parts have
/// an id; the certificate is not wanted.
fn parts(status: &str, deployed: usize) -> Value {
    let names = [
        "network", "compute", "database", "bucket", "key pair", "iam role",
    ];
    let mut parts: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let id = (i < deployed).then(|| format!("{}-0a1b2c", n.replace(' ', "-")));
            json!({"name": n, "wanted": true, "status": if i < deployed { status } else { "pending" }, "id": id})
        })
        .collect();
    parts.push(json!({"name": "certificate", "wanted": false, "status": "not wanted"}));
    Value::Array(parts)
}

pub fn projects() -> Value {
    json!({"projects": [
        {"slug": "brendens-blog", "name": "Brenden's Blog", "region": "us-east-2", "status": "running",
         "valid": true, "parts": parts("running", 6), "estimate_usd_month": 27.32, "budget_usd_month": 30.0},
        {"slug": "api", "name": "API box", "region": "eu-west-1", "status": "stopped",
         "valid": true, "parts": parts("stopped", 6), "estimate_usd_month": 61.4, "budget_usd_month": 50.0},
        {"slug": "lab", "name": "Lab", "region": "sa-east-1", "status": "running",
         "valid": true, "parts": parts("running", 3), "estimate_usd_month": 12.05},
        {"slug": "side-project", "name": "Side project", "region": "us-west-2", "status": "pending",
         "valid": true, "parts": parts("pending", 0)}
    ]})
}

pub fn heartbeats() -> Vec<DaemonHeartbeat> {
    vec![
        DaemonHeartbeat {
            id: "pockitectd-ops1-4242".into(),
            version: "0.1.0".into(),
            host: "ops1".into(),
            pid: 4242,
            workers: 4,
            in_flight: vec![
                InFlight {
                    request_id: id("de9101de9101de9101de9101de910100"),
                    kind: "deploy".into(),
                    project: Some("side-project".into()),
                    started_at: ago(42),
                },
                InFlight {
                    request_id: id("5ca115ca115ca115ca115ca115ca1100"),
                    kind: "scan".into(),
                    project: None,
                    started_at: ago(8),
                },
            ],
            started_at: ago(3 * 3600),
            last_seen: ago(1),
            handled: 128,
            secrets: None,
        },
        DaemonHeartbeat {
            id: "pockitectd-ops2-777".into(),
            version: "0.1.0".into(),
            host: "ops2".into(),
            pid: 777,
            workers: 4,
            in_flight: vec![],
            started_at: ago(26 * 3600),
            last_seen: ago(20),
            handled: 3051,
            secrets: None,
        },
    ]
}

/// A connected console: start-up queries answered, some history, daemons polled.
pub fn loaded_with(theme: Theme) -> Model {
    let mut m = model_with(theme);
    let sent = sends(m.update(Msg::Bus(BusMsg::Connected)));
    let pid = sent
        .iter()
        .find(|(_, c)| c.kind() == "list_projects")
        .unwrap()
        .0
        .clone();
    let rid = sent
        .iter()
        .find(|(_, c)| c.kind() == "query_resources")
        .unwrap()
        .0
        .clone();
    // History from before this console started.
    let scan = id("5ca115ca115ca115ca115ca115ca1100");
    let old_scan = id("01d5ca4001d5ca4001d5ca4001d5ca40");
    let term = id("7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e");
    let power = id("90e390e390e390e390e390e390e390e3");
    let deploy = id("de9101de9101de9101de9101de910100");
    m.update(Msg::Bus(BusMsg::Events {
        replay: true,
        events: vec![
            event(event_type::ACCEPTED, &old_scan, Status::InProgress, json!({"type": "scan", "daemon": "pockitectd-a1"}), ago(3700)),
            event(event_type::SCAN_COMPLETE, &old_scan, Status::Success,
                  json!({"total": 31, "regions": ["us-east-1", "us-east-2"], "errors": [], "duration_ms": 4200, "counts": {}, "region_counts": {}}),
                  ago(3690)),
            event(event_type::ACCEPTED, &term, Status::InProgress, json!({"type": "terminate", "daemon": "pockitectd-a1"}), ago(1800)),
            event("terminate_progress", &term, Status::InProgress, json!({"step": 1, "total": 3, "id": "nat-0aa", "type": "nat_gateway", "region": "us-east-1", "action": "deleted", "message": "deleted nat-0aa"}), ago(1790)),
            event(event_type::ERROR, &term, Status::Error,
                  json!({"code": "aws", "message": "DependencyViolation: vpc-0aa has dependencies"}), ago(1780)),
            event(event_type::ACCEPTED, &power, Status::InProgress, json!({"type": "power", "daemon": "pockitectd-a1"}), ago(900)),
            event(event_type::CANCELLED, &power, Status::Cancelled, json!({"code": "cancelled", "message": "cancelled by user"}), ago(890)),
        ],
    }));
    feed(
        &mut m,
        vec![
            event(
                event_type::PROJECTS,
                &pid,
                Status::Success,
                projects(),
                ago(5),
            ),
            event(
                event_type::RESOURCES,
                &rid,
                Status::Success,
                json!({ "records": estate() }),
                ago(5),
            ),
            event(
                event_type::ACCEPTED,
                &deploy,
                Status::InProgress,
                json!({"type": "deploy", "daemon": "pockitectd-a1"}),
                ago(42),
            ),
            {
                let mut e = event(
                    "deploy_progress",
                    &deploy,
                    Status::InProgress,
                    json!({"step": 5, "total": 12, "resource": "subnet", "state": "started", "message": "creating subnet"}),
                    ago(3),
                );
                e.project_id = Some("side-project".into());
                e
            },
            event(
                event_type::ACCEPTED,
                &scan,
                Status::InProgress,
                json!({"type": "scan", "daemon": "pockitectd-a1"}),
                ago(8),
            ),
            event(
                event_type::SCAN_STARTED,
                &scan,
                Status::InProgress,
                json!({"regions": ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1",
                                   "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1",
                                   "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
                                   "ap-southeast-1", "ap-southeast-2", "sa-east-1"],
                       "types": []}),
                ago(8),
            ),
            event(
                event_type::SCAN_CHUNK,
                &scan,
                Status::InProgress,
                json!({"region": "us-east-1", "records": [], "errors": [], "chunk": 6, "chunks": 17}),
                ago(2),
            ),
        ],
    );
    m.update(Msg::Bus(BusMsg::Daemons(heartbeats())));
    m.update(Msg::Bus(BusMsg::Health(Health {
        latency_ms: 0.4,
        waiting: 0,
        pending: 2,
    })));
    m.prepare();
    m
}

pub fn loaded() -> Model {
    loaded_with(Theme::colored())
}

pub fn terminal(m: &mut Model, w: u16, h: u16) -> Terminal<TestBackend> {
    m.update(Msg::Resize(w, h));
    m.prepare();
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| view(m, f)).unwrap();
    term
}

pub fn render(m: &mut Model, w: u16, h: u16) -> String {
    terminal(m, w, h).backend().to_string()
}
