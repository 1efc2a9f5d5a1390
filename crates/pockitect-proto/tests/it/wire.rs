//! One example of every command and every event, serialised as it travels (an envelope) and
//! pinned by an insta JSON snapshot. Each example also decodes back to itself. A variant without
//! an example fails `every_event_has_an_example` (its `match` lists every variant).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeZone, Utc};
use pockitect_proto::audit::{AuditEntry, Authorization, History, TouchAction, Touched};
use pockitect_proto::deploy::{
    Action, Created, DeployEvent, DeployReport, DnsRecord, Outcome as DeployOutcome, Outputs, Plan,
    PlannedResource, Resource, ResourceResult, StepError, StepState,
};
use pockitect_proto::payload::*;
use pockitect_proto::power::{PowerOutcome, PowerReport, PowerResult};
use pockitect_proto::terminate::{
    DeletionPlan, ItemResult, Layer, Outcome as TerminateOutcome, PlannedDelete, SkipKind, Skipped,
    TerminateAction, TerminateReport,
};
use pockitect_proto::validation::{Issue, Report};
use pockitect_proto::*;
use serde_json::json;

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 2, 12, 0, 0).unwrap()
}

fn rid() -> RequestId {
    RequestId::parse("0123456789abcdef0123456789abcdef").unwrap()
}

fn target(kind: ResourceType, id: &str) -> TerminateTarget {
    TerminateTarget {
        id: id.into(),
        kind,
        region: "us-east-1".into(),
    }
}

fn record(kind: ResourceType, id: &str) -> ResourceRecord {
    let tags = BTreeMap::from([
        (tags::PROJECT.to_owned(), "blog".to_owned()),
        (tags::MANAGED.to_owned(), "true".to_owned()),
        ("Name".to_owned(), "blog-server".to_owned()),
    ]);
    let mut r = ResourceRecord::new(kind, id, "us-east-1", tags);
    r.account = "123456789012".into();
    r.state = Some("running".into());
    r.last_synced = at();
    r
}

fn heartbeat() -> DaemonHeartbeat {
    DaemonHeartbeat {
        id: "host-1/4242".into(),
        version: "0.1.0".into(),
        host: "host-1".into(),
        pid: 4242,
        workers: 4,
        in_flight: vec![InFlight {
            request_id: rid(),
            kind: "deploy".into(),
            project: Some("blog".into()),
            started_at: at(),
        }],
        started_at: at(),
        last_seen: at(),
        handled: 7,
        secrets: Some("keyring".into()),
    }
}

fn outputs() -> Outputs {
    Outputs {
        instance_id: Some("i-0abc".into()),
        public_ip: Some("203.0.113.10".into()),
        private_ip: Some("10.0.1.10".into()),
        ssh_command: Some("ssh -i /keys/blog.pem ubuntu@203.0.113.10".into()),
        private_key_path: Some("/keys/blog.pem".into()),
        db_endpoint: Some("blog-db.example.us-east-1.rds.amazonaws.com:5432".into()),
        bucket: Some("blog-assets".into()),
        certificate_arn: Some("arn:aws:acm:us-east-1:123456789012:certificate/abc".into()),
        certificate_validation_records: vec![DnsRecord {
            name: "_x.blog.example.com.".into(),
            record_type: "CNAME".into(),
            value: "_y.acm-validations.aws.".into(),
        }],
    }
}

fn step_error() -> StepError {
    StepError {
        resource: Resource::Ec2Instance,
        operation: "ec2:RunInstances".into(),
        region: "us-east-1".into(),
        code: "InsufficientInstanceCapacity".into(),
        message: "no capacity".into(),
    }
}

fn summary() -> ProjectSummary {
    ProjectSummary {
        slug: "blog".into(),
        name: Some("Blog".into()),
        region: Some("us-east-1".into()),
        status: Some("running".into()),
        valid: true,
        errors: vec![],
        parts: vec![
            Part {
                name: "network".into(),
                wanted: true,
                status: "running".into(),
                id: Some("vpc-0abc".into()),
            },
            Part {
                name: "certificate".into(),
                wanted: false,
                status: "not wanted".into(),
                id: None,
            },
        ],
        estimate_usd_month: Some(27.32),
        budget_usd_month: Some(30.0),
    }
}

fn planned(layer: usize) -> Layer {
    Layer {
        index: layer,
        items: vec![PlannedDelete {
            record: record(ResourceType::Ec2Instance, "i-0abc"),
            found_in: Some("vpc-0abc".into()),
            note: None,
        }],
    }
}

fn skipped() -> Skipped {
    Skipped {
        record: record(ResourceType::Vpc, "vpc-default"),
        kind: SkipKind::DefaultVpc,
        reason: "the region's default VPC".into(),
    }
}

/// One example of every event, with the status it travels with.
fn events() -> Vec<(Event, Status)> {
    use Status::*;
    vec![
        (
            Event::Accepted(Accepted {
                command: "deploy".into(),
                daemon: "host-1/4242".into(),
                resumed: false,
            }),
            InProgress,
        ),
        (
            Event::Progress(Progress {
                step: 0,
                total: 1,
                message: "waiting".into(),
            }),
            InProgress,
        ),
        (
            Event::Error(ErrorPayload {
                code: ErrorCode::Locked,
                message: "project 'blog' is busy".into(),
            }),
            Error,
        ),
        (
            Event::Cancelled(ErrorPayload {
                code: ErrorCode::Cancelled,
                message: "cancelled".into(),
            }),
            Cancelled,
        ),
        (
            Event::CancelRequested(CancelRequested {
                request_id: rid(),
                message: "the request stops at its next safe point".into(),
            }),
            Success,
        ),
        (
            Event::Pong(Pong {
                daemon: "host-1/4242".into(),
            }),
            Success,
        ),
        (
            Event::ScanStarted(ScanStarted {
                regions: Some(vec!["us-east-1".into()]),
                types: BTreeSet::from([ResourceType::Ec2Instance, ResourceType::Vpc]),
            }),
            InProgress,
        ),
        (
            Event::ScanChunk(ScanChunk {
                account: None,
                region: "us-east-1".into(),
                records: vec![record(ResourceType::Ec2Instance, "i-0abc")],
                errors: vec![ScanError {
                    account: None,
                    region: "us-east-1".into(),
                    service: "rds".into(),
                    code: "AccessDenied".into(),
                    message: "not allowed".into(),
                }],
                chunk: 1,
                chunks: 2,
                types: vec![ResourceType::Ec2Instance, ResourceType::RdsInstance],
            }),
            InProgress,
        ),
        (
            Event::ScanComplete(ScanComplete {
                accounts: Vec::new(),
                account: Some("123456789012".into()),
                regions: vec!["us-east-1".into()],
                total: 1,
                counts: BTreeMap::from([("ec2_instance".into(), 1)]),
                region_counts: BTreeMap::from([("us-east-1".into(), 1)]),
                errors: vec![],
                duration_ms: 850,
            }),
            Success,
        ),
        (
            Event::Resources(Resources {
                total: 1,
                records: vec![record(ResourceType::Ec2Instance, "i-0abc")],
            }),
            Success,
        ),
        (
            Event::Projects(Projects {
                projects: vec![summary()],
            }),
            Success,
        ),
        (
            Event::Project(ProjectDetail {
                summary: summary(),
                outputs: outputs(),
                blueprint: json!({"project": {"name": "Blog"}}),
                estimate: None,
            }),
            Success,
        ),
        (
            Event::ProjectUpdated(ProjectChanged {
                project: "blog".into(),
                message: "blueprint 'blog' changed and is valid".into(),
                warnings: vec!["network.rules[0].cidr: SSH open to the internet".into()],
                errors: vec![],
            }),
            Success,
        ),
        (
            Event::ProjectInvalid(ProjectChanged {
                project: "blog".into(),
                message: "blueprint 'blog' changed and is invalid".into(),
                warnings: vec![],
                errors: vec!["network.rules[0].port: 70000 is not a port (0-65535)".into()],
            }),
            Error,
        ),
        (
            Event::Request(RequestInfo {
                request_id: rid(),
                state: RequestState::Running,
                terminal: None,
                daemon: Some("host-1/4242".into()),
                in_flight: heartbeat().in_flight.first().cloned(),
            }),
            Success,
        ),
        (
            Event::DaemonInfo(DaemonInfo {
                daemon: heartbeat(),
                daemons: vec![heartbeat()],
                aws: AwsCheck {
                    ok: true,
                    identity: Some(AwsIdentity {
                        account: "123456789012".into(),
                        arn: "arn:aws:iam::123456789012:user/dev".into(),
                        user_id: "AIDAEXAMPLE".into(),
                    }),
                    code: None,
                    message: None,
                },
                aws_endpoint_url: None,
                aws_region: Some("us-east-1".into()),
                backlog: Backlog {
                    waiting: 0,
                    pending: 1,
                },
                estate_records: 900,
                projects_dir: "/home/dev/.local/share/pockitect/projects".into(),
                cache_dir: "/home/dev/.cache/pockitect".into(),
                aws_credentials: Some(CredentialsInfo {
                    source: "keyring".into(),
                    profile: None,
                    key_id_last4: Some("WXYZ".into()),
                    expires_at: Some(at()),
                    error: None,
                }),
            }),
            Success,
        ),
        (
            Event::Catalog(Catalog {
                region: "us-east-1".into(),
                regions: vec!["us-east-1".into(), "us-west-2".into()],
                instance_types: vec!["t3.micro".into()],
                db_classes: BTreeMap::from([("postgres".into(), vec!["db.t3.micro".into()])]),
                account: BTreeMap::from([("default-vpc".into(), vec!["vpc-0abc".into()])]),
                fetched_at: at(),
            }),
            Success,
        ),
        (
            Event::Plan(PlanReady {
                plan: Plan {
                    project: "blog".into(),
                    region: "us-east-1".into(),
                    resources: vec![PlannedResource {
                        resource: Resource::Vpc,
                        action: Action::Create,
                        id: None,
                        detail: None,
                        error: None,
                    }],
                    validation: Report {
                        errors: vec![],
                        warnings: vec![Issue {
                            path: "network.rules[0].cidr".into(),
                            message: "SSH open to the internet".into(),
                        }],
                    },
                },
                warnings: vec!["network.rules[0].cidr: SSH open to the internet".into()],
                plan_digest: Some(PlanDigest::of(["create vpc - blog us-east-1".to_owned()])),
                estimate: Some(pockitect_proto::cost::Estimate {
                    project: "blog".into(),
                    region: "us-east-1".into(),
                    currency: "USD".into(),
                    lines: vec![pockitect_proto::cost::EstimateLine {
                        resource: Resource::Ec2Instance,
                        item: "t3.micro Linux on-demand, us-east-1".into(),
                        quantity: 730.0,
                        unit: pockitect_proto::cost::Unit::Hour,
                        unit_price_usd: Some(0.0104),
                        monthly_usd: Some(7.59),
                        free: false,
                        minimum: false,
                        derived: false,
                        live: false,
                        note: None,
                    }],
                    total_usd_month: 7.59,
                    complete: true,
                    prices_source: "AWS public list prices, transcribed by hand".into(),
                    prices_as_of: "2025-01".into(),
                    from_bundled_table: true,
                    notes: vec![],
                }),
                budget_usd_month: Some(20.0),
            }),
            Success,
        ),
        (
            Event::DeployProgress(DeployEvent {
                step: 3,
                total: 9,
                resource: Resource::Subnet,
                action: Some(Action::Create),
                state: StepState::Done,
                id: Some("subnet-0abc".into()),
                message: "subnet subnet-0abc created".into(),
            }),
            InProgress,
        ),
        (
            Event::DeployComplete(DeployComplete {
                message: "deploy of 'blog' finished with 1 error(s)".into(),
                code: None,
                warnings: vec![],
                report: DeployReport {
                    project: "blog".into(),
                    region: "us-east-1".into(),
                    outcome: DeployOutcome::Partial,
                    resources: vec![ResourceResult {
                        resource: Resource::Ec2Instance,
                        action: Action::Create,
                        state: StepState::Failed,
                        id: None,
                        message: None,
                        error: Some(step_error()),
                    }],
                    outputs: outputs(),
                    created: vec![Created {
                        resource: Resource::Vpc,
                        id: "vpc-0abc".into(),
                    }],
                    rolled_back: vec![],
                    rollback_errors: vec![],
                    warnings: vec![],
                    duration_ms: 12_000,
                },
            }),
            Partial,
        ),
        (
            Event::PowerProgress(PowerProgress {
                step: 1,
                total: 2,
                result: PowerResult {
                    target: target(ResourceType::Ec2Instance, "i-0abc"),
                    outcome: PowerOutcome::Done,
                    state: Some("stopped".into()),
                    message: "i-0abc stopped".into(),
                },
                message: "i-0abc stopped".into(),
            }),
            InProgress,
        ),
        (
            Event::PowerComplete(PowerComplete {
                message: "2 of 2 resources of 'blog' are stopped".into(),
                code: None,
                report: PowerReport {
                    results: vec![PowerResult {
                        target: target(ResourceType::RdsInstance, "blog-db"),
                        outcome: PowerOutcome::Unchanged,
                        state: Some("stopped".into()),
                        message: "already stopped".into(),
                    }],
                },
                dry_run: false,
                plan: None,
                plan_digest: None,
            }),
            Success,
        ),
        (
            Event::TerminateProgress(TerminateProgress {
                step: 1,
                total: 4,
                id: "i-0abc".into(),
                kind: ResourceType::Ec2Instance,
                region: "us-east-1".into(),
                action: TerminateAction::Deleted,
                message: "deleted".into(),
            }),
            InProgress,
        ),
        (
            Event::TerminateSkipped(TerminateSkipped {
                id: "vpc-default".into(),
                kind: ResourceType::Vpc,
                region: "us-east-1".into(),
                reason: "the region's default VPC".into(),
                message: "vpc vpc-default skipped: the region's default VPC".into(),
            }),
            InProgress,
        ),
        (
            Event::TerminateComplete(TerminateComplete {
                message: "would delete 1 resources".into(),
                code: None,
                dry_run: true,
                plan: Some(DeletionPlan {
                    layers: vec![planned(0)],
                    skipped: vec![skipped()],
                    projects: BTreeSet::from(["blog".to_owned()]),
                }),
                plan_digest: Some(PlanDigest::of([
                    "delete 0 ec2_instance i-0abc us-east-1".to_owned()
                ])),
                deleted: 0,
                skipped: 0,
                failed: 0,
                report: None,
            }),
            Success,
        ),
        (
            Event::DestroyComplete(TerminateComplete {
                message: "deleted 1, skipped 1, failed 0".into(),
                code: None,
                dry_run: false,
                plan: None,
                plan_digest: None,
                deleted: 1,
                skipped: 1,
                failed: 0,
                report: Some(TerminateReport {
                    deleted: 1,
                    skipped: 1,
                    failed: 0,
                    cancelled: 0,
                    results: vec![ItemResult {
                        target: target(ResourceType::Ec2Instance, "i-0abc"),
                        name: Some("blog-server".into()),
                        outcome: TerminateOutcome::Deleted,
                        code: None,
                        message: "deleted".into(),
                    }],
                }),
            }),
            Success,
        ),
        (
            Event::ResourceChanged(ResourceChange {
                project: "blog".into(),
                id: "i-0abc".into(),
                kind: ResourceType::Ec2Instance,
                change: ChangeKind::State,
                from: Some("running".into()),
                to: Some("stopped".into()),
                message: "ec2_instance i-0abc of 'blog' is now stopped (was running)".into(),
            }),
            InProgress,
        ),
        (
            Event::RefreshComplete(RefreshComplete {
                projects: 1,
                changes: vec![],
                skipped: vec![RefreshSkip {
                    project: "api".into(),
                    reason: RefreshSkipReason::Busy,
                    request_id: Some(rid().to_string()),
                    message: "'api' is busy".into(),
                }],
                message: "refreshed 1 project(s), 0 change(s); skipped 1 busy: 'api'".into(),
            }),
            Success,
        ),
        (
            Event::History(History {
                entries: vec![AuditEntry {
                    request_id: rid(),
                    command: "destroy".into(),
                    args: json!({"project": "blog"}),
                    project: Some("blog".into()),
                    client: ClientInfo::new(
                        ClientKind::Cli,
                        Some("ann".into()),
                        Some("laptop".into()),
                    ),
                    daemon: "pockitectd-a1".into(),
                    account: Some("123456789012".into()),
                    principal: Some("arn:aws:iam::123456789012:user/ann".into()),
                    started_at: at(),
                    ended_at: at(),
                    status: Success,
                    code: None,
                    message: "deleted 1, skipped 0, failed 0".into(),
                    refused: false,
                    authorization: Authorization {
                        plan_digest: Some(PlanDigest::of([
                            "delete 0 ec2_instance i-0abc us-east-1".to_owned(),
                        ])),
                        override_policy: false,
                        rule: Some("policy.destroy".into()),
                    },
                    resources: vec![Touched {
                        kind: "ec2_instance".into(),
                        id: "i-0abc".into(),
                        region: "us-east-1".into(),
                        account: Some("123456789012".into()),
                        action: TouchAction::Deleted,
                    }],
                }],
                truncated: false,
            }),
            Success,
        ),
        (
            Event::Waste(pockitect_proto::cost::WasteReport {
                items: vec![pockitect_proto::cost::WasteItem {
                    id: "vol-0abc".into(),
                    kind: ResourceType::EbsVolume,
                    region: "us-east-1".into(),
                    account: "123456789012".into(),
                    name: None,
                    project: Some("blog".into()),
                    waste: pockitect_proto::cost::WasteKind::UnattachedVolume,
                    reason: "unattached 100 GB gp3 volume".into(),
                    monthly_usd: Some(8.0),
                    derived: false,
                    minimum: false,
                    note: None,
                }],
                protected: vec![],
                total_usd_month: 8.0,
                complete: true,
                currency: "USD".into(),
                prices_source: "AWS public list prices, transcribed by hand".into(),
                prices_as_of: "2025-01".into(),
                from_bundled_table: true,
                notes: vec!["load balancers are not part of the scan".into()],
            }),
            Success,
        ),
        (
            Event::Cost(pockitect_proto::cost::CostReport {
                month_to_date: pockitect_proto::cost::PeriodSpend {
                    start: "2026-12-01".into(),
                    end: "2026-12-03".into(),
                    total_usd: 6.75,
                    untagged_usd: 4.0,
                    estimated: true,
                },
                last_month: pockitect_proto::cost::PeriodSpend {
                    start: "2026-11-01".into(),
                    end: "2026-12-01".into(),
                    total_usd: 67.5,
                    untagged_usd: 41.0,
                    estimated: false,
                },
                projects: vec![pockitect_proto::cost::ProjectCost {
                    project: "blog".into(),
                    month_to_date_usd: 2.75,
                    last_month_usd: 26.5,
                    estimate_usd_month: Some(27.32),
                    budget_usd_month: Some(30.0),
                }],
                tag_active: true,
                currency: "USD".into(),
                notes: vec!["Cost Explorer charges $0.01 for each request: this was one".into()],
            }),
            Success,
        ),
        (
            Event::DbPassword(DbPasswordReady {
                project: "blog".into(),
                file: Some("/run/user/1000/pockitect-x/blog.db-password".into()),
                secret_arn: Some(
                    "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1a2b-AbCdEf"
                        .into(),
                ),
                identifier: "blog-db".into(),
            }),
            Success,
        ),
        (
            Event::Login(LoginAnswer {
                state: LoginState::MfaRequired,
                identity: Some(AwsIdentity {
                    account: "123456789012".into(),
                    arn: "arn:aws:iam::123456789012:user/dev".into(),
                    user_id: "AIDAEXAMPLE".into(),
                }),
                key_id_last4: Some("WXYZ".into()),
                profile: None,
                mfa_serial: Some("arn:aws:iam::123456789012:mfa/dev".into()),
                expires_at: None,
                stored_in: None,
                message: "arn:aws:iam::123456789012:user/dev has the MFA device 'arn:aws:iam::123456789012:mfa/dev': enter its current code".into(),
            }),
            Success,
        ),
        (
            Event::Logout(LogoutAnswer {
                removed: true,
                now_using: CredentialsInfo {
                    source: "chain".into(),
                    profile: None,
                    key_id_last4: Some("ABCD".into()),
                    expires_at: None,
                    error: None,
                },
                message: "signed out".into(),
            }),
            Success,
        ),
    ]
}

/// The position of `e`'s variant. The match lists every variant, so a new one does not compile
/// until it has a number here, and `every_event_has_an_example` then wants an example of it.
fn variant(e: &Event) -> usize {
    match e {
        Event::Accepted(_) => 0,
        Event::Progress(_) => 1,
        Event::Error(_) => 2,
        Event::Cancelled(_) => 3,
        Event::CancelRequested(_) => 4,
        Event::Pong(_) => 5,
        Event::ScanStarted(_) => 6,
        Event::ScanChunk(_) => 7,
        Event::ScanComplete(_) => 8,
        Event::Resources(_) => 9,
        Event::Projects(_) => 10,
        Event::Project(_) => 11,
        Event::ProjectUpdated(_) => 12,
        Event::ProjectInvalid(_) => 13,
        Event::Request(_) => 14,
        Event::DaemonInfo(_) => 15,
        Event::Catalog(_) => 16,
        Event::Plan(_) => 17,
        Event::DeployProgress(_) => 18,
        Event::DeployComplete(_) => 19,
        Event::PowerProgress(_) => 20,
        Event::PowerComplete(_) => 21,
        Event::TerminateProgress(_) => 22,
        Event::TerminateSkipped(_) => 23,
        Event::TerminateComplete(_) => 24,
        Event::DestroyComplete(_) => 25,
        Event::ResourceChanged(_) => 26,
        Event::RefreshComplete(_) => 27,
        Event::History(_) => 28,
        Event::Waste(_) => 29,
        Event::Cost(_) => 30,
        Event::DbPassword(_) => 31,
        Event::Login(_) => 32,
        Event::Logout(_) => 33,
    }
}
const EVENT_VARIANTS: usize = 34;

fn envelope(e: Event, status: Status) -> Envelope {
    let mut env = Envelope::of(e, Some(rid()), Some("blog".into()), status);
    env.ts = at();
    env
}

#[test]
fn every_event_has_an_example() {
    let seen: BTreeSet<usize> = events().iter().map(|(e, _)| variant(e)).collect();
    let missing: Vec<usize> = (0..EVENT_VARIANTS).filter(|i| !seen.contains(i)).collect();
    assert!(
        missing.is_empty(),
        "variants without an example: {missing:?}"
    );
}

#[test]
fn every_event_is_pinned_and_decodes_to_itself() {
    for (e, status) in events() {
        let kind = e.kind();
        let env = envelope(e.clone(), status);
        assert_eq!(env.kind, kind);
        // Through the wire: text, then back.
        let back: Envelope = serde_json::from_str(&env.to_json()).unwrap();
        assert_eq!(back.decode().unwrap(), e, "{kind}");
        insta::assert_json_snapshot!(format!("event_{kind}"), env);
    }
}

#[test]
fn the_earlier_python_clients_scan_events_keep_their_shape() {
    // What the Python client reads: `data.region` and `data.records[]` of `scan_chunk`, and
    // `data.total` / `data.counts` of `scan_complete`.
    let chunk = envelope(events()[7].0.clone(), Status::InProgress);
    assert_eq!(chunk.kind, "scan_chunk");
    assert_eq!(chunk.data["region"], "us-east-1");
    assert_eq!(chunk.data["records"][0]["id"], "i-0abc");
    assert_eq!(chunk.data["records"][0]["type"], "ec2_instance");
    let done = envelope(events()[8].0.clone(), Status::Success);
    assert_eq!(done.kind, "scan_complete");
    assert_eq!(done.data["total"], 1);
    assert_eq!(done.data["counts"]["ec2_instance"], 1);
}

#[test]
fn an_unknown_event_type_is_an_error_that_names_it() {
    let env = Envelope::event("from_the_future", None, None, Status::Success, json!({}));
    let err = env.decode().unwrap_err();
    assert_eq!(err.kind, "from_the_future");
    assert!(err.to_string().contains("from_the_future"), "{err}");
}

#[test]
fn a_mistyped_event_names_the_field() {
    let env = Envelope::event(
        "deploy_progress",
        None,
        None,
        Status::InProgress,
        json!({"step": "three", "total": 9, "resource": "vpc", "state": "done", "message": ""}),
    );
    let err = env.decode().unwrap_err().to_string();
    assert!(err.contains("deploy_progress"), "{err}");
    assert!(err.contains("three"), "{err}");
}

/// One example of every command.
fn commands() -> Vec<Command> {
    vec![
        Command::Scan(ScanArgs {
            regions: Some(vec!["us-east-1".into()]),
            types: Some(vec![ResourceType::Ec2Instance]),
        }),
        Command::QueryResources(ResourceFilter {
            account: Some("111111111111".into()),
            region: Some("us-east-1".into()),
            kind: Some(ResourceType::Vpc),
            project: Some("blog".into()),
            state: None,
            tag: Some("env=prod".into()),
            search: Some("web".into()),
        }),
        Command::ListProjects(Empty {}),
        Command::GetProject(ProjectRef {
            project: "blog".into(),
        }),
        Command::GetRequest(RequestRef { request_id: rid() }),
        Command::DaemonInfo(Empty {}),
        Command::Cancel(RequestRef { request_id: rid() }),
        Command::Ping(PingArgs { delay_ms: 100 }),
        Command::Plan(BlueprintRef {
            project: Some("blog".into()),
            blueprint: None,
        }),
        Command::Deploy(DeployArgs {
            target: BlueprintRef {
                project: None,
                blueprint: Some(json!({"project": {"name": "Blog"}})),
            },
            rollback_on_failure: true,
            over_budget: false,
        }),
        Command::Power(PowerArgs {
            project: "blog".into(),
            action: PowerAction::Stop,
            dry_run: false,
        }),
        Command::Terminate(TerminateArgs {
            targets: vec![target(ResourceType::Ec2Instance, "i-0abc")],
            force: false,
            dry_run: true,
            final_snapshot: false,
        }),
        Command::Destroy(DestroyArgs {
            project: "blog".into(),
            force: false,
            dry_run: false,
            final_snapshot: true,
        }),
        Command::Refresh(RefreshArgs {
            project: Some("blog".into()),
        }),
        Command::Catalog(CatalogArgs {
            region: "us-east-1".into(),
        }),
        Command::History(HistoryArgs {
            project: Some("blog".into()),
            since: Some(at()),
            command: Some("destroy".into()),
            action: Some(TouchAction::Deleted),
            limit: Some(20),
        }),
        Command::Waste(WasteArgs {
            region: Some("us-east-1".into()),
            project: Some("blog".into()),
        }),
        Command::Cost(CostArgs {
            project: Some("blog".into()),
        }),
        Command::DbPassword(DbPasswordArgs {
            project: "blog".into(),
            host: "laptop".into(),
            dir: "/run/user/1000/pockitect-x".into(),
        }),
        Command::ScanShard(ScanShardArgs {
            parent: RequestId::parse("0123456789abcdef0123456789abcdef").unwrap(),
            account: Some("111111111111".into()),
            region: "eu-west-1".into(),
            types: vec![ResourceType::Vpc, ResourceType::Subnet],
        }),
        Command::Login(LoginArgs {
            host: "laptop".into(),
            profile: Some("work".into()),
        }),
        Command::Logout(LogoutArgs {
            host: "laptop".into(),
        }),
    ]
}

fn command_variant(c: &Command) -> usize {
    match c {
        Command::Scan(_) => 0,
        Command::QueryResources(_) => 1,
        Command::ListProjects(_) => 2,
        Command::GetProject(_) => 3,
        Command::GetRequest(_) => 4,
        Command::DaemonInfo(_) => 5,
        Command::Cancel(_) => 6,
        Command::Ping(_) => 7,
        Command::Plan(_) => 8,
        Command::Deploy(_) => 9,
        Command::Power(_) => 10,
        Command::Terminate(_) => 11,
        Command::Destroy(_) => 12,
        Command::Refresh(_) => 13,
        Command::Catalog(_) => 14,
        Command::History(_) => 15,
        Command::Waste(_) => 16,
        Command::Cost(_) => 17,
        Command::DbPassword(_) => 18,
        Command::ScanShard(_) => 19,
        Command::Login(_) => 20,
        Command::Logout(_) => 21,
    }
}
const COMMAND_VARIANTS: usize = 22;

#[test]
fn every_command_is_pinned_and_parses_to_itself() {
    let seen: BTreeSet<usize> = commands().iter().map(command_variant).collect();
    assert_eq!(seen.len(), COMMAND_VARIANTS, "a command without an example");
    for c in commands() {
        let kind = c.kind();
        let wire =
            json!({"v": PROTOCOL_VERSION, "type": kind, "request_id": rid(), "data": c.data()});
        assert_eq!(Command::parse(kind, &c.data()).unwrap(), c, "{kind}");
        assert_eq!(Command::is_query_kind(kind), c.is_query(), "{kind}");
        insta::assert_json_snapshot!(format!("command_{kind}"), wire);
    }
}

#[test]
fn a_command_names_its_sender_and_carries_its_approval() {
    let c = Command::Destroy(DestroyArgs {
        project: "blog".into(),
        ..Default::default()
    });
    let client = ClientInfo::new(ClientKind::Cli, Some("ann".into()), Some("laptop".into()));
    let approval = Approval {
        plan_digest: Some(PlanDigest::of([
            "delete 0 ec2_instance i-0abc us-east-1".to_owned()
        ])),
        override_policy: true,
    };
    let mut env = Envelope::command(&c, rid(), Some(client.clone()), Some(approval.clone()));
    env.ts = at();
    insta::assert_json_snapshot!("command_envelope_with_approval", env);
    let req = decode(env.to_json().as_bytes()).unwrap();
    assert_eq!(req.client, Some(client));
    assert_eq!(req.approval, approval);
    // An empty approval is not sent at all; a client-less envelope is the earlier client's.
    let plain = Envelope::command(&c, rid(), None, Some(Approval::default()));
    assert!(!plain.to_json().contains("approval"), "{}", plain.to_json());
    let req = decode(plain.to_json().as_bytes()).unwrap();
    assert_eq!(req.client, None);
    // A digest that is not one is refused, naming where it is.
    let bad = json!({"type": "destroy", "request_id": rid(), "data": {"project": "blog"},
        "approval": {"plan_digest": "sha256:nope"}});
    let refusal = decode(bad.to_string().as_bytes()).unwrap_err();
    assert_eq!(refusal.field.as_deref(), Some("approval.plan_digest"));
    assert!(
        refusal.message.contains("not a plan digest"),
        "{}",
        refusal.message
    );
}
