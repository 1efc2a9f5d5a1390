//! The estate as the Resources tab shows it: every record once (keyed by type, region and id),
//! a lowercase search text per record built when it arrives, and a cached vector of row indices
//! (filtered, then sorted) that is rebuilt only when the data, the filter or the sort changed,
//! and then at most once per frame ([`ResourceStore::prepare`]).

use std::collections::{BTreeMap, HashMap, HashSet};

use pockitect_proto::{ResourceRecord, ResourceType, TerminateTarget};

/// What identifies a resource: the scanner's id is only unique within a type and region.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RKey {
    pub kind: ResourceType,
    pub region: String,
    pub id: String,
}

impl RKey {
    pub fn of(r: &ResourceRecord) -> Self {
        Self {
            kind: r.kind,
            region: r.region.clone(),
            id: r.id.clone(),
        }
    }
}

/// Columns the table sorts by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    Region,
    Type,
    Id,
    Name,
    State,
    Project,
}

impl SortKey {
    pub const ALL: [SortKey; 6] = [
        SortKey::Region,
        SortKey::Type,
        SortKey::Id,
        SortKey::Name,
        SortKey::State,
        SortKey::Project,
    ];

    pub fn label(self) -> &'static str {
        match self {
            SortKey::Region => "region",
            SortKey::Type => "type",
            SortKey::Id => "id",
            SortKey::Name => "name",
            SortKey::State => "state",
            SortKey::Project => "project",
        }
    }

    pub fn next(self) -> Self {
        let i = Self::ALL.iter().position(|k| *k == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }
}

/// A project filter: every record, only records of no project, or one project's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProjectFilter {
    Unowned,
    Is(String),
}

/// What the user narrowed the table to. Every set field must match; `search` words must all
/// appear (case-insensitive) in a record's id, name, type, region, project, state, arn or tags.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filters {
    pub region: Option<String>,
    pub kind: Option<ResourceType>,
    pub project: Option<ProjectFilter>,
    pub state: Option<String>,
    /// The account a record is in (a daemon working on several, `--accounts`).
    pub account: Option<String>,
    pub search: String,
}

impl Filters {
    pub fn is_empty(&self) -> bool {
        self.region.is_none()
            && self.kind.is_none()
            && self.project.is_none()
            && self.state.is_none()
            && self.account.is_none()
            && self.search.trim().is_empty()
    }

    /// A short description for the table's title (`region=us-east-1 type=vpc /web`).
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(r) = &self.region {
            parts.push(format!("region={r}"));
        }
        if let Some(k) = self.kind {
            parts.push(format!("type={}", short_type(k)));
        }
        match &self.project {
            Some(ProjectFilter::Unowned) => parts.push("project=(none)".to_owned()),
            Some(ProjectFilter::Is(p)) => parts.push(format!("project={p}")),
            None => {}
        }
        if let Some(s) = &self.state {
            parts.push(format!("state={s}"));
        }
        if let Some(a) = &self.account {
            parts.push(format!("account={a}"));
        }
        if !self.search.trim().is_empty() {
            parts.push(format!("/{}", self.search.trim()));
        }
        parts.join(" ")
    }
}

/// The distinct values present, for the filter dialog.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facets {
    pub regions: Vec<(String, usize)>,
    pub kinds: Vec<(ResourceType, usize)>,
    /// `None` stands for records without a project.
    pub projects: Vec<(Option<String>, usize)>,
    pub states: Vec<(String, usize)>,
    pub accounts: Vec<(String, usize)>,
}

/// What one project has in the estate, for the Projects tab.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProjectResources {
    pub total: usize,
    pub by_kind: BTreeMap<ResourceType, usize>,
    /// States of its EC2 and RDS instances.
    pub instance_states: Vec<(ResourceType, String)>,
}

#[derive(Debug, Default)]
pub struct ResourceStore {
    records: Vec<ResourceRecord>,
    hay: Vec<String>,
    pos: HashMap<RKey, usize>,
    pub filters: Filters,
    pub sort: SortKey,
    pub descending: bool,
    index: Vec<usize>,
    /// The index must be rebuilt from scratch (filter or sort changed, records replaced).
    index_dirty: bool,
    /// Records added since the index was built; inserted in place when nothing else changed.
    appended: Vec<usize>,
    /// Facets and per-project counts are out of date.
    facets_dirty: bool,
    /// Row of the cursor in the filtered, sorted view.
    pub selected: usize,
    selected_key: Option<RKey>,
    marked: HashSet<RKey>,
    facets: Facets,
    by_project: HashMap<String, ProjectResources>,
    /// True once the daemon answered a query (an empty estate is then really empty).
    pub loaded: bool,
}

/// A compact name for a resource type, so the table fits in 80 columns.
pub fn short_type(k: ResourceType) -> &'static str {
    match k {
        ResourceType::Ec2Instance => "ec2",
        ResourceType::Vpc => "vpc",
        ResourceType::Subnet => "subnet",
        ResourceType::SecurityGroup => "sg",
        ResourceType::InternetGateway => "igw",
        ResourceType::RouteTable => "rtb",
        ResourceType::NatGateway => "nat",
        ResourceType::EbsVolume => "ebs",
        ResourceType::ElasticIp => "eip",
        ResourceType::KeyPair => "key-pair",
        ResourceType::RdsInstance => "rds",
        ResourceType::DbSubnetGroup => "db-subnets",
        ResourceType::S3Bucket => "s3",
        ResourceType::IamRole => "iam-role",
        ResourceType::IamInstanceProfile => "iam-profile",
    }
}

fn haystack(r: &ResourceRecord) -> String {
    let mut s = String::with_capacity(96);
    for part in [
        r.id.as_str(),
        r.kind.as_str(),
        short_type(r.kind),
        r.region.as_str(),
        r.name.as_deref().unwrap_or(""),
        r.project.as_deref().unwrap_or(""),
        r.state.as_deref().unwrap_or(""),
        r.arn.as_deref().unwrap_or(""),
    ] {
        s.push_str(part);
        s.push('\u{1f}');
    }
    for (k, v) in &r.tags {
        s.push_str(k);
        s.push('=');
        s.push_str(v);
        s.push('\u{1f}');
    }
    s.to_lowercase()
}

impl ResourceStore {
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Replaces the whole estate (the daemon's answer to a query).
    pub fn replace_all(&mut self, records: Vec<ResourceRecord>) {
        self.records.clear();
        self.hay.clear();
        self.pos.clear();
        self.index_dirty = true;
        self.upsert(records);
        self.appended.clear();
        self.loaded = true;
    }

    /// Adds or updates records (a scan chunk). Cheap when records come back unchanged or
    /// changed only in ways the current sort and filter ignore: the index is then left alone.
    pub fn upsert(&mut self, records: Vec<ResourceRecord>) {
        let order_sensitive = !self.filters.is_empty()
            || matches!(self.sort, SortKey::Name | SortKey::State | SortKey::Project);
        for r in records {
            let key = RKey::of(&r);
            match self.pos.get(&key) {
                Some(&i) => {
                    let old = &self.records[i];
                    let counted = old.state != r.state || old.project != r.project;
                    let shown = counted || old.name != r.name;
                    if counted {
                        self.facets_dirty = true;
                    }
                    if shown || old.tags != r.tags || old.arn != r.arn {
                        self.hay[i] = haystack(&r);
                        if order_sensitive {
                            self.index_dirty = true;
                        }
                    }
                    self.records[i] = r;
                }
                None => {
                    let i = self.records.len();
                    self.pos.insert(key, i);
                    self.hay.push(haystack(&r));
                    self.records.push(r);
                    if !self.index_dirty {
                        self.appended.push(i);
                    }
                    self.facets_dirty = true;
                }
            }
        }
    }

    /// Marks the view for a rebuild after a filter or sort change.
    pub fn invalidate(&mut self) {
        self.index_dirty = true;
    }

    pub fn needs_prepare(&self) -> bool {
        self.index_dirty || !self.appended.is_empty() || self.facets_dirty
    }

    /// Brings the cached view up to date; cheap when nothing changed. Facets (the filter
    /// dialog's values, per-project counts) are rebuilt only when `facets` is asked for.
    pub fn prepare(&mut self, facets: bool) {
        if self.index_dirty {
            self.rebuild_index();
            self.appended.clear();
            self.index_dirty = false;
        } else if !self.appended.is_empty() {
            self.insert_appended();
        }
        if facets && self.facets_dirty {
            self.rebuild_facets();
            self.facets_dirty = false;
        }
    }

    fn search_words(&self) -> Vec<String> {
        self.filters
            .search
            .split_whitespace()
            .map(str::to_lowercase)
            .collect()
    }

    fn compare(&self, a: usize, b: usize) -> std::cmp::Ordering {
        let (x, y) = (&self.records[a], &self.records[b]);
        let primary = match self.sort {
            SortKey::Region => std::cmp::Ordering::Equal,
            SortKey::Type => x.kind.cmp(&y.kind),
            SortKey::Id => x.id.cmp(&y.id),
            SortKey::Name => x.name.cmp(&y.name),
            SortKey::State => x.state.cmp(&y.state),
            SortKey::Project => x.project.cmp(&y.project),
        };
        let o = primary.then_with(|| {
            x.region
                .cmp(&y.region)
                .then(x.kind.cmp(&y.kind))
                .then_with(|| x.id.cmp(&y.id))
        });
        if self.descending { o.reverse() } else { o }
    }

    /// Puts new records into the sorted index by binary search: O(log n) comparisons each
    /// instead of a full sort while a scan streams in.
    fn insert_appended(&mut self) {
        let words = self.search_words();
        let appended = std::mem::take(&mut self.appended);
        for i in appended {
            if !self.matches(i, &words) {
                continue;
            }
            let at = self
                .index
                .partition_point(|&j| self.compare(j, i) == std::cmp::Ordering::Less);
            if at <= self.selected && !self.index.is_empty() {
                self.selected += 1;
            }
            self.index.insert(at, i);
        }
        self.clamp();
        self.remember_selection();
    }

    fn matches(&self, i: usize, words: &[String]) -> bool {
        let r = &self.records[i];
        let f = &self.filters;
        if f.region.as_deref().is_some_and(|x| x != r.region) {
            return false;
        }
        if f.kind.is_some_and(|k| k != r.kind) {
            return false;
        }
        if f.account.as_deref().is_some_and(|a| a != r.account) {
            return false;
        }
        match &f.project {
            Some(ProjectFilter::Unowned) if r.project.is_some() => return false,
            Some(ProjectFilter::Is(p)) if r.project.as_deref() != Some(p.as_str()) => return false,
            _ => {}
        }
        if let Some(s) = &f.state
            && !r
                .state
                .as_deref()
                .is_some_and(|x| x.eq_ignore_ascii_case(s))
        {
            return false;
        }
        words.iter().all(|w| self.hay[i].contains(w.as_str()))
    }

    fn rebuild_index(&mut self) {
        let words = self.search_words();
        let mut index: Vec<usize> = (0..self.records.len())
            .filter(|&i| self.matches(i, &words))
            .collect();
        index.sort_unstable_by(|&a, &b| self.compare(a, b));
        self.index = index;
        // Keep the cursor on the record it was on, wherever that record went.
        if let Some(key) = self.selected_key.take()
            && let Some(&ri) = self.pos.get(&key)
            && let Some(row) = self.index.iter().position(|&i| i == ri)
        {
            self.selected = row;
        }
        self.clamp();
        self.remember_selection();
        self.marked.retain(|k| self.pos.contains_key(k));
    }

    fn rebuild_facets(&mut self) {
        let mut regions: HashMap<&str, usize> = HashMap::new();
        let mut kinds: HashMap<ResourceType, usize> = HashMap::new();
        let mut projects: HashMap<Option<&str>, usize> = HashMap::new();
        let mut states: HashMap<&str, usize> = HashMap::new();
        let mut accounts: HashMap<&str, usize> = HashMap::new();
        let mut by_project: HashMap<String, ProjectResources> = HashMap::new();
        for r in &self.records {
            *regions.entry(&r.region).or_default() += 1;
            *kinds.entry(r.kind).or_default() += 1;
            *projects.entry(r.project.as_deref()).or_default() += 1;
            if !r.account.is_empty() {
                *accounts.entry(&r.account).or_default() += 1;
            }
            if let Some(s) = &r.state {
                *states.entry(s).or_default() += 1;
            }
            if let Some(p) = &r.project {
                let e = match by_project.get_mut(p) {
                    Some(e) => e,
                    None => by_project.entry(p.clone()).or_default(),
                };
                e.total += 1;
                *e.by_kind.entry(r.kind).or_default() += 1;
                if matches!(
                    r.kind,
                    ResourceType::Ec2Instance | ResourceType::RdsInstance
                ) && let Some(s) = &r.state
                {
                    e.instance_states.push((r.kind, s.clone()));
                }
            }
        }
        for p in by_project.values_mut() {
            p.instance_states.sort();
        }
        fn sorted<K: Ord, T>(m: HashMap<K, usize>, f: impl Fn(K) -> T) -> Vec<(T, usize)> {
            let mut v: Vec<(K, usize)> = m.into_iter().collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v.into_iter().map(|(k, n)| (f(k), n)).collect()
        }
        // States differ in case between services ("available", "Available"): count them once.
        let mut folded: BTreeMap<String, usize> = BTreeMap::new();
        for (s, n) in states {
            *folded.entry(s.to_ascii_lowercase()).or_default() += n;
        }
        self.facets = Facets {
            regions: sorted(regions, str::to_owned),
            kinds: sorted(kinds, |k| k),
            projects: sorted(projects, |k| k.map(str::to_owned)),
            states: folded.into_iter().collect(),
            accounts: sorted(accounts, str::to_owned),
        };
        self.by_project = by_project;
    }

    fn clamp(&mut self) {
        if self.index.is_empty() {
            self.selected = 0;
        } else if self.selected >= self.index.len() {
            self.selected = self.index.len() - 1;
        }
    }

    fn remember_selection(&mut self) {
        self.selected_key = self.current().map(RKey::of);
    }

    /// Rows shown (after filtering).
    pub fn visible_len(&self) -> usize {
        self.index.len()
    }

    /// The record on view row `row`.
    pub fn row(&self, row: usize) -> Option<&ResourceRecord> {
        self.index.get(row).and_then(|&i| self.records.get(i))
    }

    pub fn current(&self) -> Option<&ResourceRecord> {
        self.row(self.selected)
    }

    pub fn select(&mut self, row: usize) {
        self.selected = row;
        self.clamp();
        self.remember_selection();
    }

    pub fn is_marked(&self, r: &ResourceRecord) -> bool {
        !self.marked.is_empty() && self.marked.contains(&RKey::of(r))
    }

    pub fn marked_count(&self) -> usize {
        self.marked.len()
    }

    pub fn toggle_mark_current(&mut self) {
        if let Some(key) = self.current().map(RKey::of)
            && !self.marked.remove(&key)
        {
            self.marked.insert(key);
        }
    }

    /// Marks every row shown; when all of them already are, clears the marks.
    pub fn toggle_mark_visible(&mut self) {
        let keys: Vec<RKey> = self
            .index
            .iter()
            .map(|&i| RKey::of(&self.records[i]))
            .collect();
        if !keys.is_empty() && keys.iter().all(|k| self.marked.contains(k)) {
            self.marked.clear();
        } else {
            self.marked.extend(keys);
        }
    }

    pub fn clear_marks(&mut self) {
        self.marked.clear();
    }

    /// What terminate would get: the marked records, or the current one when none is marked.
    pub fn targets(&self) -> Vec<&ResourceRecord> {
        if self.marked.is_empty() {
            return self.current().into_iter().collect();
        }
        // In the order shown, then any marked rows the current filter hides.
        let mut out: Vec<&ResourceRecord> = self
            .index
            .iter()
            .map(|&i| &self.records[i])
            .filter(|r| self.marked.contains(&RKey::of(r)))
            .collect();
        if out.len() < self.marked.len() {
            let shown: HashSet<RKey> = out.iter().map(|r| RKey::of(r)).collect();
            let mut hidden: Vec<&RKey> = self.marked.difference(&shown).collect();
            hidden.sort();
            out.extend(
                hidden
                    .into_iter()
                    .filter_map(|k| self.pos.get(k).map(|&i| &self.records[i])),
            );
        }
        out
    }

    pub fn facets(&self) -> &Facets {
        &self.facets
    }

    pub fn project_resources(&self, slug: &str) -> Option<&ProjectResources> {
        self.by_project.get(slug)
    }
}

pub fn terminate_target(r: &ResourceRecord) -> TerminateTarget {
    TerminateTarget {
        id: r.id.clone(),
        kind: r.kind,
        region: r.region.clone(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    pub(crate) fn rec(
        kind: ResourceType,
        id: &str,
        region: &str,
        project: Option<&str>,
        state: Option<&str>,
    ) -> ResourceRecord {
        let mut tags = BTreeMap::new();
        if let Some(p) = project {
            tags.insert("pockitect:project".to_owned(), p.to_owned());
        }
        tags.insert("Name".to_owned(), format!("{id}-name"));
        let mut r = ResourceRecord::new(kind, id, region, tags);
        r.state = state.map(str::to_owned);
        r.account = "123456789012".into();
        r.last_synced = Utc.with_ymd_and_hms(2026, 1, 16, 12, 0, 0).unwrap();
        r
    }

    fn store() -> ResourceStore {
        let mut s = ResourceStore::default();
        s.replace_all(vec![
            rec(
                ResourceType::Ec2Instance,
                "i-2",
                "us-east-1",
                Some("blog"),
                Some("running"),
            ),
            rec(
                ResourceType::Vpc,
                "vpc-1",
                "eu-west-1",
                Some("blog"),
                Some("available"),
            ),
            rec(
                ResourceType::Ec2Instance,
                "i-1",
                "eu-west-1",
                None,
                Some("stopped"),
            ),
            rec(ResourceType::S3Bucket, "logs", "us-east-1", None, None),
        ]);
        s.prepare(true);
        s
    }

    fn ids(s: &ResourceStore) -> Vec<&str> {
        (0..s.visible_len())
            .map(|i| s.row(i).unwrap().id.as_str())
            .collect()
    }

    #[test]
    fn sorts_by_region_then_type_then_id_by_default() {
        let s = store();
        assert_eq!(ids(&s), ["i-1", "vpc-1", "i-2", "logs"]);
    }

    #[test]
    fn sort_key_and_direction() {
        let mut s = store();
        s.sort = SortKey::Id;
        s.invalidate();
        s.prepare(true);
        assert_eq!(ids(&s), ["i-1", "i-2", "logs", "vpc-1"]);
        s.descending = true;
        s.invalidate();
        s.prepare(true);
        assert_eq!(ids(&s), ["vpc-1", "logs", "i-2", "i-1"]);
    }

    #[test]
    fn filters_and_search() {
        let mut s = store();
        s.filters.region = Some("eu-west-1".into());
        s.invalidate();
        s.prepare(true);
        assert_eq!(ids(&s), ["i-1", "vpc-1"]);
        s.filters = Filters {
            project: Some(ProjectFilter::Unowned),
            ..Default::default()
        };
        s.invalidate();
        s.prepare(true);
        assert_eq!(ids(&s), ["i-1", "logs"]);
        s.filters = Filters {
            search: "EAST ec2".into(),
            ..Default::default()
        };
        s.invalidate();
        s.prepare(true);
        assert_eq!(ids(&s), ["i-2"]);
        s.filters = Filters {
            state: Some("RUNNING".into()),
            ..Default::default()
        };
        s.invalidate();
        s.prepare(true);
        assert_eq!(ids(&s), ["i-2"]);
    }

    #[test]
    fn the_account_filter_keeps_one_accounts_records() {
        let mut records = vec![
            rec(ResourceType::Vpc, "vpc-a", "us-east-1", None, None),
            rec(ResourceType::Vpc, "vpc-b", "us-east-1", None, None),
        ];
        records[1].account = "222222222222".into();
        let mut s = ResourceStore::default();
        s.replace_all(records);
        s.prepare(true);
        assert_eq!(
            s.facets().accounts,
            vec![
                ("123456789012".to_owned(), 1),
                ("222222222222".to_owned(), 1)
            ]
        );
        s.filters.account = Some("222222222222".into());
        s.invalidate();
        s.prepare(true);
        assert_eq!(ids(&s), ["vpc-b"]);
        assert_eq!(s.filters.describe(), "account=222222222222");
    }

    #[test]
    fn cursor_follows_its_record_when_rows_move() {
        let mut s = store();
        s.select(2); // i-2
        s.upsert(vec![rec(
            ResourceType::Vpc,
            "vpc-0",
            "ap-south-1",
            None,
            None,
        )]);
        s.prepare(true);
        assert_eq!(s.current().unwrap().id, "i-2");
    }

    #[test]
    fn upsert_replaces_same_key() {
        let mut s = store();
        s.upsert(vec![rec(
            ResourceType::Ec2Instance,
            "i-2",
            "us-east-1",
            Some("blog"),
            Some("stopped"),
        )]);
        s.prepare(true);
        assert_eq!(s.len(), 4);
        let p = s.project_resources("blog").unwrap();
        assert_eq!(p.total, 2);
        assert_eq!(
            p.instance_states,
            vec![(ResourceType::Ec2Instance, "stopped".to_owned())]
        );
    }

    #[test]
    fn marks_and_targets() {
        let mut s = store();
        assert_eq!(
            s.targets().len(),
            1,
            "the current row when nothing is marked"
        );
        s.toggle_mark_visible();
        assert_eq!(s.marked_count(), 4);
        s.toggle_mark_visible();
        assert_eq!(s.marked_count(), 0);
        s.select(1);
        s.toggle_mark_current();
        s.select(3);
        s.toggle_mark_current();
        let t: Vec<&str> = s.targets().iter().map(|r| r.id.as_str()).collect();
        assert_eq!(t, ["vpc-1", "logs"]);
        // Marked rows hidden by a filter still count, after the shown ones.
        s.filters.region = Some("us-east-1".into());
        s.invalidate();
        s.prepare(true);
        let t: Vec<&str> = s.targets().iter().map(|r| r.id.as_str()).collect();
        assert_eq!(t, ["logs", "vpc-1"]);
        // Marks of records that disappear are dropped.
        s.replace_all(vec![rec(
            ResourceType::Vpc,
            "vpc-1",
            "eu-west-1",
            None,
            None,
        )]);
        s.prepare(true);
        assert_eq!(s.marked_count(), 1);
    }

    #[test]
    fn facets_count_values() {
        let s = store();
        let f = s.facets();
        assert_eq!(
            f.regions,
            vec![("eu-west-1".to_owned(), 2), ("us-east-1".to_owned(), 2)]
        );
        assert_eq!(f.projects[0], (None, 2));
        assert_eq!(f.states.len(), 3);
    }
}
