//! Hostile input for the command decoder, and what the decoder must do with it: proptest
//! strategies (arbitrary bytes, arbitrary JSON, valid commands and mutations of them: fields
//! dropped, replaced, retyped, added, huge strings, deep nesting) and the checks every result
//! must pass. The property tests and the fuzz bench (`pockitect-blueprint/benches/fuzz.rs`)
//! share them; the blueprint crate reuses the JSON generators and mutations. Behind the `fuzz`
//! feature: the binaries never build it.

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Map, Value, json};

use crate::{
    Command, ErrorCode, MAX_COMMAND_BYTES, Refusal, Request, RequestId, ResourceType, decode,
};

/// Field names of commands and blueprints, mixed into generated keys so that arbitrary JSON
/// now and then reaches real fields rather than only unknown ones.
pub const KNOWN_KEYS: &[&str] = &[
    "type",
    "request_id",
    "project_id",
    "data",
    "v",
    "ts",
    "status",
    "regions",
    "types",
    "project",
    "blueprint",
    "action",
    "targets",
    "id",
    "region",
    "force",
    "dry_run",
    "delay_ms",
    "rollback_on_failure",
    "over_budget",
    "name",
    "slug",
    "network",
    "rules",
    "port",
    "cidr",
    "compute",
    "instance_type",
    "data",
    "db",
    "engine",
    "security",
    "key_pair",
    "certificate",
    "s3_bucket",
];

/// The property tests' configuration: `cases` cases (`PROPTEST_CASES` overrides it), and no
/// regression files written into the source tree: a failure prints its minimal input, which
/// belongs in a plain unit test.
pub fn config(cases: u32) -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(cases),
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    }
}

/// One step of a path into a JSON document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path as serde_path_to_error prints it (`data.regions[0]`); the document itself is `.`.
pub fn path_string(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    if out.is_empty() { ".".to_owned() } else { out }
}

/// What a mutation did to a document.
#[derive(Clone, Debug)]
pub enum MutationKind {
    /// The value at the path was removed from its object or array.
    Remove,
    /// The value at the path was replaced by an arbitrary one.
    Replace(Value),
    /// The value at the path was replaced by the same content as another JSON type.
    Retype,
    /// An unknown field was added: the path ends with its key.
    AddField,
    /// The value at the path was replaced by a string of this many characters.
    Huge(usize),
    /// The value at the path was wrapped in this many arrays.
    Nest(usize),
}

/// A mutation and where it was applied.
#[derive(Clone, Debug)]
pub struct Mutation {
    pub path: Vec<Seg>,
    pub kind: MutationKind,
}

impl Mutation {
    /// `Retype at data.regions[0]`, for reports.
    pub fn describe(&self) -> String {
        let what = match &self.kind {
            MutationKind::Remove => "remove".to_owned(),
            MutationKind::Replace(v) => format!("replace with {}", short(&v.to_string())),
            MutationKind::Retype => "retype".to_owned(),
            MutationKind::AddField => "add unknown field".to_owned(),
            MutationKind::Huge(n) => format!("{n}-character string"),
            MutationKind::Nest(n) => format!("nest {n} deep"),
        };
        format!("{what} at {}", path_string(&self.path))
    }
}

/// The first 200 characters of `s`, for failure reports.
pub fn short(s: &str) -> String {
    let cut: String = s.chars().take(200).collect();
    if cut.len() < s.len() {
        format!("{cut}… ({} bytes)", s.len())
    } else {
        cut
    }
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(KNOWN_KEYS).prop_map(str::to_owned),
        1 => "[a-z_]{1,12}",
        1 => any::<String>(),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[ -~]{0,24}",
        2 => any::<String>(),
        1 => proptest::sample::select(Command::NAMES.as_slice()).prop_map(str::to_owned),
        1 => Just("scan_all_regions".to_owned()),
        1 => "[0-9a-f]{32}",
        1 => Just("us-east-1".to_owned()),
        1 => Just("10.0.0.0/16".to_owned()),
        1 => Just("../../etc/passwd".to_owned()),
        1 => Just("ünï\u{0}cödé🚀".to_owned()),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (0u32..=70_000).prop_map(Value::from),
        // JSON has no NaN or infinity: finite floats of every class, by construction rather
        // than by a filter (a long fuzz run would exhaust proptest's budget of rejections).
        {
            use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
            (POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO).prop_map(Value::from)
        },
        text().prop_map(Value::String),
    ]
}

/// Arbitrary JSON: every type, nested a few levels, keys often named like real fields.
pub fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Arbitrary bytes: noise, JSON text with bytes flipped, inserted or cut, and JSON that is
/// not a command.
pub fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => proptest::collection::vec(any::<u8>(), 0..256),
        2 => (envelope(), any::<Index>(), any::<u8>(), 0usize..3).prop_map(|(doc, at, byte, how)| {
            let mut b = doc.to_string().into_bytes();
            let i = at.index(b.len().max(1)).min(b.len());
            match how {
                0 => b.insert(i, byte),
                1 if i < b.len() => b[i] = byte,
                _ => b.truncate(i),
            }
            b
        }),
        1 => json_value().prop_map(|v| v.to_string().into_bytes()),
    ]
}

fn request_id() -> impl Strategy<Value = RequestId> {
    "[A-Za-z0-9_-]{1,64}".prop_map(|s| RequestId::parse(&s).unwrap_or_default())
}

fn region() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(&["us-east-1", "eu-west-1", "ap-south-1"][..])
            .prop_map(str::to_owned),
        text(),
    ]
}

fn resource_type() -> impl Strategy<Value = ResourceType> {
    proptest::sample::select(ResourceType::ALL.as_slice())
}

fn opt<S: Strategy>(s: S) -> impl Strategy<Value = Option<S::Value>> {
    proptest::option::of(s)
}

/// A small blueprint-shaped document (valid or not: the decoder does not read it).
fn inline_blueprint() -> impl Strategy<Value = Value> {
    prop_oneof![
        ("[a-z][a-z0-9-]{0,20}", region()).prop_map(|(slug, region)| json!({
            "project": {"name": slug, "slug": slug, "region": region},
            "network": {"rules": [{"port": 22, "cidr": "10.0.0.0/8"}]},
            "compute": {"instance_type": "t3.micro"}
        })),
        // `null` reads as no blueprint at all: not a blueprint that could round-trip.
        json_value().prop_map(|v| if v.is_null() { json!({}) } else { v }),
    ]
}

/// Any valid command.
pub fn command() -> impl Strategy<Value = Command> {
    use crate::command::*;
    use crate::resource::ResourceFilter;
    let project = || "[a-z0-9-]{1,30}";
    prop_oneof![
        (
            opt(proptest::collection::vec(region(), 0..4)),
            opt(proptest::collection::vec(resource_type(), 0..4))
        )
            .prop_map(|(regions, types)| Command::Scan(ScanArgs { regions, types })),
        (
            opt(region()),
            opt(resource_type()),
            opt(project()),
            opt(text()),
            opt(text()),
            opt(text())
        )
            .prop_map(|(region, kind, project, state, tag, search)| {
                Command::QueryResources(ResourceFilter {
                    account: None,
                    region,
                    kind,
                    project,
                    state,
                    tag,
                    search,
                })
            }),
        Just(Command::ListProjects(Empty {})),
        project().prop_map(|project| Command::GetProject(ProjectRef { project })),
        request_id().prop_map(|request_id| Command::GetRequest(RequestRef { request_id })),
        Just(Command::DaemonInfo(Empty {})),
        request_id().prop_map(|request_id| Command::Cancel(RequestRef { request_id })),
        any::<u64>().prop_map(|delay_ms| Command::Ping(PingArgs { delay_ms })),
        (opt(project()), opt(inline_blueprint()))
            .prop_map(|(project, blueprint)| Command::Plan(BlueprintRef { project, blueprint })),
        (
            opt(project()),
            opt(inline_blueprint()),
            any::<(bool, bool)>()
        )
            .prop_map(|(project, blueprint, (rollback_on_failure, over_budget))| {
                Command::Deploy(DeployArgs {
                    target: BlueprintRef { project, blueprint },
                    rollback_on_failure,
                    over_budget,
                })
            }),
        (project(), any::<(bool, bool)>()).prop_map(|(project, (start, dry_run))| {
            Command::Power(PowerArgs {
                project,
                action: if start {
                    PowerAction::Start
                } else {
                    PowerAction::Stop
                },
                dry_run,
            })
        }),
        (
            proptest::collection::vec(
                (text(), resource_type(), region())
                    .prop_map(|(id, kind, region)| TerminateTarget { id, kind, region }),
                0..5
            ),
            any::<(bool, bool, bool)>()
        )
            .prop_map(|(targets, (force, dry_run, final_snapshot))| {
                Command::Terminate(TerminateArgs {
                    targets,
                    force,
                    dry_run,
                    final_snapshot,
                })
            }),
        (project(), any::<(bool, bool, bool)>()).prop_map(
            |(project, (force, dry_run, final_snapshot))| Command::Destroy(DestroyArgs {
                project,
                force,
                dry_run,
                final_snapshot,
            })
        ),
        opt(project()).prop_map(|project| Command::Refresh(RefreshArgs { project })),
        region().prop_map(|region| Command::Catalog(CatalogArgs { region })),
        (opt(region()), opt(project()))
            .prop_map(|(region, project)| Command::Waste(WasteArgs { region, project })),
        opt(project()).prop_map(|project| Command::Cost(CostArgs { project })),
        (project(), text(), text()).prop_map(|(project, host, dir)| Command::DbPassword(
            DbPasswordArgs { project, host, dir }
        )),
        (
            opt(text()),
            region(),
            proptest::collection::vec(resource_type(), 0..4)
        )
            .prop_map(|(account, region, types)| Command::ScanShard(
                crate::ScanShardArgs {
                    parent: crate::RequestId::new(),
                    account,
                    region,
                    types,
                }
            )),
        (text(), opt(text()))
            .prop_map(|(host, profile)| Command::Login(crate::LoginArgs { host, profile })),
        text().prop_map(|host| Command::Logout(crate::LogoutArgs { host })),
        (opt(project()), opt(text()), any::<Option<u16>>()).prop_map(
            |(project, command, limit)| Command::History(crate::HistoryArgs {
                project,
                command,
                limit: limit.map(usize::from),
                ..Default::default()
            })
        ),
    ]
}

/// A valid command envelope as a client sends it: sometimes in the earlier client's form (no
/// version, time or project; the legacy scan name; no `data` for argument-less commands).
pub fn envelope() -> impl Strategy<Value = Value> {
    (
        command(),
        request_id(),
        opt("[a-z0-9-]{1,30}"),
        any::<bool>(),
        opt(("[a-z]{1,12}", "[a-z0-9.-]{1,20}", any::<bool>())),
    )
        .prop_map(|(cmd, id, project_id, legacy, sender)| {
            let mut env = Map::new();
            let kind = match (&cmd, legacy) {
                (Command::Scan(_), true) => "scan_all_regions",
                (c, _) => c.kind(),
            };
            env.insert("type".into(), json!(kind));
            env.insert("request_id".into(), json!(id));
            let data = cmd.data();
            if !(legacy && data.as_object().is_some_and(Map::is_empty)) {
                env.insert("data".into(), data);
            }
            if !legacy {
                env.insert("v".into(), json!(1));
                env.insert("ts".into(), json!("2026-01-02T03:04:05Z"));
                if let Some(p) = project_id {
                    env.insert("project_id".into(), json!(p));
                }
                if let Some((user, host, approve)) = sender {
                    env.insert(
                        "client".into(),
                        json!({"kind": "cli", "user": user, "host": host}),
                    );
                    if approve {
                        let digest = crate::PlanDigest::of([user]);
                        env.insert("approval".into(), json!({"plan_digest": digest}));
                    }
                }
            }
            Value::Object(env)
        })
}

fn mutation_kind() -> impl Strategy<Value = MutationKind> {
    prop_oneof![
        3 => Just(MutationKind::Remove),
        4 => json_value().prop_map(MutationKind::Replace),
        3 => Just(MutationKind::Retype),
        2 => Just(MutationKind::AddField),
        1 => prop_oneof![Just(70_000usize), Just(MAX_COMMAND_BYTES + 1)].prop_map(MutationKind::Huge),
        1 => (1usize..300).prop_map(MutationKind::Nest),
    ]
}

/// Every path in `doc`, the document itself first.
pub fn paths(doc: &Value) -> Vec<Vec<Seg>> {
    fn walk(v: &Value, at: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
        out.push(at.clone());
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    at.push(Seg::Key(k.clone()));
                    walk(child, at, out);
                    at.pop();
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    at.push(Seg::Index(i));
                    walk(child, at, out);
                    at.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(doc, &mut Vec::new(), &mut out);
    out
}

fn slot<'a>(doc: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    path.iter().try_fold(doc, |v, seg| match (seg, v) {
        (Seg::Key(k), Value::Object(m)) => m.get_mut(k),
        (Seg::Index(i), Value::Array(a)) => a.get_mut(*i),
        _ => None,
    })
}

/// The same content as another JSON type (`22` → `"22"`, `"x"` → `["x"]`, `{..}` → `[..]`).
fn retyped(v: &Value) -> Value {
    match v {
        Value::Null => json!(false),
        Value::Bool(b) => json!(b.to_string()),
        Value::Number(n) => json!(n.to_string()),
        Value::String(s) => match s.parse::<f64>() {
            Ok(f) if f.is_finite() => json!(f),
            _ => json!([s]),
        },
        Value::Array(a) => Value::Object(
            a.iter()
                .enumerate()
                .map(|(i, x)| (i.to_string(), x.clone()))
                .collect(),
        ),
        Value::Object(m) => Value::Array(m.values().cloned().collect()),
    }
}

/// Applies `kind` at the `at`-th path of `doc`; returns the mutation as applied (a removal of
/// the document itself becomes its replacement by `null`; an unknown field goes into the
/// nearest object at or above the chosen path).
pub fn apply(mut doc: Value, at: Index, kind: MutationKind, new_key: String) -> (Value, Mutation) {
    let all = paths(&doc);
    let mut path = all[at.index(all.len())].clone();
    let kind = match kind {
        MutationKind::Remove if path.is_empty() => MutationKind::Replace(Value::Null),
        k => k,
    };
    match &kind {
        MutationKind::Remove => {
            let last = path.pop();
            match (slot(&mut doc, &path), last) {
                (Some(Value::Object(m)), Some(Seg::Key(k))) => {
                    m.remove(&k);
                    path.push(Seg::Key(k));
                }
                (Some(Value::Array(a)), Some(Seg::Index(i))) => {
                    a.remove(i);
                    path.push(Seg::Index(i));
                }
                (_, Some(seg)) => path.push(seg),
                (_, None) => {}
            }
        }
        MutationKind::AddField => {
            while !matches!(slot(&mut doc, &path), Some(Value::Object(_))) && !path.is_empty() {
                path.pop();
            }
            match slot(&mut doc, &path) {
                Some(Value::Object(m)) => {
                    let key = format!("zz_{new_key}");
                    m.insert(key.clone(), json!("surprise"));
                    path.push(Seg::Key(key));
                }
                Some(other) => *other = json!({ format!("zz_{new_key}"): "surprise" }),
                None => {}
            }
        }
        MutationKind::Replace(v) => {
            if let Some(s) = slot(&mut doc, &path) {
                *s = v.clone();
            }
        }
        MutationKind::Retype => {
            if let Some(s) = slot(&mut doc, &path) {
                *s = retyped(s);
            }
        }
        MutationKind::Huge(n) => {
            if let Some(s) = slot(&mut doc, &path) {
                *s = Value::String("x".repeat(*n));
            }
        }
        MutationKind::Nest(n) => {
            if let Some(s) = slot(&mut doc, &path) {
                let mut v = s.take();
                for _ in 0..*n {
                    v = Value::Array(vec![v]);
                }
                *s = v;
            }
        }
    }
    (doc, Mutation { path, kind })
}

/// Documents from `docs`, each mutated once at a random place.
pub fn mutate<S>(docs: S) -> impl Strategy<Value = (Value, Mutation)>
where
    S: Strategy<Value = Value>,
{
    (docs, any::<Index>(), mutation_kind(), "[a-z]{1,8}")
        .prop_map(|(doc, at, kind, key)| apply(doc, at, kind, key))
}

/// Valid command envelopes, each mutated once.
pub fn mutated_envelope() -> impl Strategy<Value = (Value, Mutation)> {
    mutate(envelope())
}

/// Checks what [`decode`] made of `payload`: a request that survives a round trip, or a
/// refusal whose code fits and whose message names the problem (the field at fault, or that
/// the payload is too large, not JSON or not an object) under the request id the payload
/// carries. Err says what was wrong.
pub fn check_decoded(payload: &[u8], result: &Result<Request, Refusal>) -> Result<(), String> {
    let sent_id = crate::salvage_request_id(payload);
    match result {
        Ok(req) => {
            if let Some(id) = &sent_id
                && *id != req.request_id
            {
                return Err(format!("request id '{id}' became '{}'", req.request_id));
            }
            let mut again = json!({
                "type": req.command.kind(),
                "request_id": req.request_id,
                "data": req.command.data(),
            });
            if let Some(p) = &req.project_id {
                again["project_id"] = json!(p);
            }
            match decode(again.to_string().as_bytes()) {
                Ok(back) if same_request(&back, req) => Ok(()),
                Ok(back) => Err(format!("round trip changed {req:?} into {back:?}")),
                Err(r) => Err(format!("round trip of {req:?} refused: {}", r.message)),
            }
        }
        Err(r) => {
            let m = &r.message;
            if m.trim().is_empty() {
                return Err("empty refusal message".to_owned());
            }
            if let Some(f) = &r.field
                && !m.contains(f.as_str())
            {
                return Err(format!("message does not name its field '{f}': {m}"));
            }
            let fits = match r.code {
                ErrorCode::TooLarge => payload.len() > MAX_COMMAND_BYTES && m.contains("bytes"),
                ErrorCode::Malformed => {
                    r.field.is_some()
                        || m.contains("is not JSON")
                        || m.contains("not a JSON object")
                        || m.contains("missing field `")
                }
                ErrorCode::UnknownCommand => {
                    r.field.as_deref() == Some("type") && m.contains("no command is named")
                }
                ErrorCode::InvalidArguments => {
                    r.field.as_deref().is_some_and(|f| f.starts_with("data"))
                }
                _ => false,
            };
            if !fits {
                return Err(format!(
                    "refusal {:?} at {:?} does not say what is wrong: {m}",
                    r.code, r.field
                ));
            }
            if sent_id.is_some() && r.request_id != sent_id {
                return Err(format!(
                    "refusal under {:?}, the payload named {sent_id:?}",
                    r.request_id
                ));
            }
            Ok(())
        }
    }
}

/// The same request, up to how serde_json reads floats back (see [`same_json`]).
pub fn same_request(a: &Request, b: &Request) -> bool {
    a.request_id == b.request_id
        && a.project_id == b.project_id
        && same_command(&a.command, &b.command)
}

/// The same command, up to how serde_json reads floats back (see [`same_json`]).
pub fn same_command(a: &Command, b: &Command) -> bool {
    a.kind() == b.kind() && same_json(&a.data(), &b.data())
}

/// Equal JSON, except that floats may differ in their last few bits: serde_json's text reader
/// (without its `float_roundtrip`, which the workspace does not turn on) reads some floats one
/// step off the value they were written from, so a float that went through text once more is
/// not bit-for-bit the same. That is serde_json's precision, not a decoding fault.
pub fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// Checks that a refusal of a mutated command points at the mutation: the field at fault is the
/// mutated value, inside it, or an ancestor whose message names the mutated key (a missing
/// or unknown field). A changed `type` may fault anything in `data`; deep nesting may be
/// refused as unreadable JSON; a huge string as too large.
pub fn check_mutation(m: &Mutation, result: &Result<Request, Refusal>) -> Result<(), String> {
    let Err(r) = result else { return Ok(()) };
    let ok = r.code == ErrorCode::TooLarge
        || m.path == [Seg::Key("type".into())]
        || (matches!(m.kind, MutationKind::Nest(_)) && r.message.contains("recursion limit"))
        || points_at(r.field.as_deref(), &r.message, &m.path);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "refusal {:?} at {:?} does not point at the mutation ({}): {}",
            r.code,
            r.field,
            m.describe(),
            r.message
        ))
    }
}

/// True when an error at `field` (None: the document) with `message` points at `path`: the
/// field is the value at `path` or inside it, or an ancestor whose message names the key one
/// step further down (`missing field `port``, `unknown field `zz_x``).
pub fn points_at(field: Option<&str>, message: &str, path: &[Seg]) -> bool {
    let field = field.unwrap_or(".");
    if within(field, &path_string(path)) {
        return true;
    }
    (0..path.len()).any(|depth| {
        path_string(&path[..depth]) == field
            && matches!(&path[depth], Seg::Key(k) if message.contains(&format!("`{k}`")))
    })
}

/// True when path `inner` is `outer` or below it.
fn within(inner: &str, outer: &str) -> bool {
    outer == "."
        || inner == outer
        || inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}
