//! What the scanned estate pays for while idle (`pockitect waste`): a pure reading of scan
//! records against a price table. Nothing here calls AWS; what the scan cannot see (traffic,
//! connections, load balancers) is said in the report's notes rather than guessed.
//!
//! The detail keys read here are the ones the scanner's converters write
//! (`crates/pockitect-aws/src/lookup/ec2.rs` and `lookup/rds.rs`):
//!
//! - `ec2_instance`: state is EC2's state name (`stopped`, `running`, …); details
//!   `instance_type`, `vpc_id`, `subnet_id`.
//! - `ebs_volume`: state `available` (attached to nothing) or `in-use`; details `size_gb`,
//!   `volume_type`, `instance_ids` (the attachments).
//! - `elastic_ip`: state `associated` / `unassociated` (from the association id); details
//!   `public_ip`, `association_id`, `instance_id`.
//! - `nat_gateway`: state is EC2's (`available`, …); details `vpc_id`, `public_ips`,
//!   `allocation_ids`.
//! - `route_table`: details `vpc_id`, `main`, `subnet_ids` (explicit associations),
//!   `routes[].nat_gateway_id`.
//! - `rds_instance`: state is the DB instance status (`stopped`, `available`, …); details
//!   `engine`, `instance_class`, `allocated_storage_gb`, `multi_az`.
//!
//! The scan records no RDS storage type (priced as gp2, read from `storage_type` if a later scan
//! adds it), no volume IOPS or throughput, and no delete-on-termination flag.

use std::collections::{BTreeSet, HashMap, HashSet};

use pockitect_proto::cost::{HOURS_PER_MONTH, WasteItem, WasteKind, WasteReport};
use pockitect_proto::tags::{PROJECT, PROTECT};
use pockitect_proto::{ResourceRecord, ResourceType};
use serde_json::Value;

use crate::estimate::cents;
use crate::prices::{Price, PriceTable};

/// RDS storage when the record does not say: general-purpose SSD, as Pockitect deploys it.
const RDS_DEFAULT_STORAGE: &str = "gp2";
/// EC2 states in which an instance uses what it is attached to or routed through.
const ACTIVE_STATES: [&str; 2] = ["pending", "running"];

/// Lists what `records` (one scan, every type, as the scanner makes them) pay for while idle,
/// priced from `prices`. Pure: never fails. What cannot be priced is an item with a null
/// `monthly_usd` and a note, and the report is marked incomplete.
///
/// Flagged: stopped EC2 instances (their volumes and Elastic IPs bill on), volumes attached to
/// nothing, Elastic IPs associated with nothing, NAT gateways nothing routes through or no
/// running instance uses, stopped RDS instances (their storage bills on). Resources tagged
/// `pockitect:protect=true` go to `protected`, never `items`.
///
/// The records must be a whole scan of their regions: a NAT gateway is judged by the route
/// tables and instances beside it, a stopped instance priced by the volumes that name it.
pub fn find_waste(records: &[ResourceRecord], prices: &PriceTable) -> WasteReport {
    let estate = Estate::index(records);
    let mut found: Vec<Found> = Vec::new();
    for r in records {
        let f = match r.kind {
            ResourceType::Ec2Instance if state_is(r, "stopped") => {
                Some(stopped_instance(r, &estate, prices))
            }
            ResourceType::EbsVolume if state_is(r, "available") => {
                Some(unattached_volume(r, prices))
            }
            ResourceType::ElasticIp if estate.unassociated(r) => Some(unassociated_ip(r, prices)),
            ResourceType::NatGateway if state_is(r, "available") => {
                estate.nat_idle(r).map(|why| idle_nat(r, &why, prices))
            }
            ResourceType::RdsInstance if state_is(r, "stopped") => {
                Some(stopped_database(r, prices))
            }
            _ => None,
        };
        found.extend(f);
    }
    found.sort_by(|a, b| {
        let key = |f: &Found| {
            (
                f.item.waste,
                f.item.account.clone(),
                f.item.region.clone(),
                f.item.id.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    finish(found, prices)
}

/// An item and whether every part of its figure was priced.
struct Found {
    item: WasteItem,
    complete: bool,
    protected: bool,
}

/// (account, region, id): ids are unique only within an account and region.
type Key<'a> = (&'a str, &'a str, &'a str);

fn key<'a>(r: &'a ResourceRecord, id: &'a str) -> Key<'a> {
    (r.account.as_str(), r.region.as_str(), id)
}

/// The scan, indexed for the questions waste asks.
struct Estate<'a> {
    /// EC2 instances by id.
    instances: HashMap<Key<'a>, &'a ResourceRecord>,
    /// Volumes by each instance they are attached to.
    volumes_of: HashMap<Key<'a>, Vec<&'a ResourceRecord>>,
    /// Associated Elastic IPs by the instance they are on.
    ips_of: HashMap<Key<'a>, Vec<&'a ResourceRecord>>,
    /// Allocation ids a NAT gateway holds (its Elastic IPs are in use even when an emulator
    /// reports them without an association).
    nat_allocations: HashSet<Key<'a>>,
    /// Route tables by VPC.
    route_tables: HashMap<Key<'a>, Vec<&'a ResourceRecord>>,
    /// Pending or running instances by VPC.
    active_in_vpc: HashMap<Key<'a>, Vec<&'a ResourceRecord>>,
}

impl<'a> Estate<'a> {
    fn index(records: &'a [ResourceRecord]) -> Self {
        let mut e = Estate {
            instances: HashMap::new(),
            volumes_of: HashMap::new(),
            ips_of: HashMap::new(),
            nat_allocations: HashSet::new(),
            route_tables: HashMap::new(),
            active_in_vpc: HashMap::new(),
        };
        for r in records {
            match r.kind {
                ResourceType::Ec2Instance => {
                    e.instances.insert(key(r, &r.id), r);
                    if ACTIVE_STATES.iter().any(|s| state_is(r, s))
                        && let Some(vpc) = text(r, "vpc_id")
                    {
                        e.active_in_vpc.entry(key(r, vpc)).or_default().push(r);
                    }
                }
                ResourceType::EbsVolume => {
                    for i in texts(r, "instance_ids") {
                        e.volumes_of.entry(key(r, i)).or_default().push(r);
                    }
                }
                ResourceType::ElasticIp => {
                    if let Some(i) = text(r, "instance_id") {
                        e.ips_of.entry(key(r, i)).or_default().push(r);
                    }
                }
                ResourceType::NatGateway => {
                    for a in texts(r, "allocation_ids") {
                        e.nat_allocations.insert(key(r, a));
                    }
                }
                ResourceType::RouteTable => {
                    if let Some(vpc) = text(r, "vpc_id") {
                        e.route_tables.entry(key(r, vpc)).or_default().push(r);
                    }
                }
                _ => {}
            }
        }
        e
    }

    /// An Elastic IP with no association that no NAT gateway holds.
    fn unassociated(&self, r: &ResourceRecord) -> bool {
        state_is(r, "unassociated")
            && text(r, "association_id").is_none()
            && !self.nat_allocations.contains(&key(r, &r.id))
    }

    /// Why an available NAT gateway is idle, or None when something may use it.
    fn nat_idle(&self, nat: &ResourceRecord) -> Option<String> {
        // Without its VPC nothing can be judged: leave it alone.
        let vpc = text(nat, "vpc_id")?;
        let active = self
            .active_in_vpc
            .get(&key(nat, vpc))
            .map(Vec::as_slice)
            .unwrap_or_default();
        let Some(tables) = self.route_tables.get(&key(nat, vpc)) else {
            // Every VPC has a main route table: none in the records means route tables were
            // not scanned, so only the VPC as a whole can be judged.
            return active
                .is_empty()
                .then(|| format!("no running EC2 instance in its VPC {vpc}"));
        };
        let routing: Vec<&ResourceRecord> = tables
            .iter()
            .copied()
            .filter(|t| routes_to(t, &nat.id))
            .collect();
        if routing.is_empty() {
            return Some("no route table sends traffic to it".to_owned());
        }
        let main = tables.iter().find(|t| flag(t, "main"));
        let uses = |i: &ResourceRecord| {
            let Some(subnet) = text(i, "subnet_id") else {
                return true; // cannot tell: assume it does
            };
            let table = tables
                .iter()
                .find(|t| texts(t, "subnet_ids").any(|s| s == subnet))
                .or(main);
            // A subnet with no table the scan knows of cannot be judged: assume it uses it.
            table.is_none_or(|t| routing.iter().any(|x| x.id == t.id))
        };
        (!active.iter().any(|i| uses(i)))
            .then(|| "no running EC2 instance in a subnet that routes through it".to_owned())
    }
}

/// What an item costs a month, part by part.
#[derive(Default)]
struct Figure {
    usd: f64,
    priced: usize,
    derived: bool,
    /// Parts that could not be priced, in words.
    gaps: Vec<String>,
}

impl Figure {
    fn add(&mut self, quantity: f64, price: Option<Price>, gap: impl FnOnce() -> String) {
        match price {
            Some(p) => {
                self.usd += quantity * p.usd;
                self.priced += 1;
                self.derived |= p.derived;
            }
            None => self.gaps.push(gap()),
        }
    }
}

/// Builds the item of `r`; a figure with gaps has its priced part as a lower bound.
fn finding(
    r: &ResourceRecord,
    waste: WasteKind,
    reason: String,
    figure: Figure,
    minimum: bool,
    notes: Vec<String>,
) -> Found {
    let complete = figure.gaps.is_empty();
    let monthly_usd = (figure.priced > 0).then(|| cents(figure.usd));
    let mut all = figure.gaps;
    if !complete && monthly_usd.is_some() {
        all.push("the figure counts only what is priced".to_owned());
    }
    all.extend(notes);
    let item = WasteItem {
        id: r.id.clone(),
        kind: r.kind,
        region: r.region.clone(),
        account: r.account.clone(),
        name: r.name.clone(),
        project: r.project.clone().or_else(|| r.tags.get(PROJECT).cloned()),
        waste,
        reason,
        monthly_usd,
        derived: figure.derived,
        minimum: minimum || (!complete && monthly_usd.is_some()),
        note: (!all.is_empty()).then(|| all.join("; ")),
    };
    Found {
        item,
        complete,
        protected: r
            .tags
            .get(PROTECT)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
    }
}

/// "no price for …" in the words of the table and the region.
fn no_price(prices: &PriceTable, region: &str, what: &str) -> String {
    let table = if prices.is_bundled() {
        format!("the bundled price table (as of {})", prices.as_of())
    } else {
        format!("the price table (as of {})", prices.as_of())
    };
    if prices.regions().any(|r| r == region) {
        format!("no price for {what} in {table}")
    } else {
        format!("no price for {what}: {table} has no prices for region '{region}'")
    }
}

/// Adds a volume's storage to `figure`; returns how it reads (`100 GB gp3`) and whether its
/// type bills for more than storage (provisioned IOPS, I/O requests).
fn volume_part(v: &ResourceRecord, prices: &PriceTable, figure: &mut Figure) -> (String, bool) {
    let gb = number(v, "size_gb");
    let ty = text(v, "volume_type");
    let label = match (gb, ty) {
        (Some(gb), Some(ty)) => format!("{gb} GB {ty}"),
        (Some(gb), None) => format!("{gb} GB"),
        (None, Some(ty)) => format!("{ty} of unknown size"),
        (None, None) => "of unknown size and type".to_owned(),
    };
    match (gb, ty) {
        (Some(gb), Some(ty)) => figure.add(gb, prices.ebs_gb_month(&v.region, ty), || {
            no_price(prices, &v.region, &format!("volume type '{ty}' ({})", v.id))
        }),
        _ => figure
            .gaps
            .push(format!("the scan does not give {}'s size and type", v.id)),
    }
    let extra = matches!(ty, Some("io1" | "io2" | "standard"));
    (label, extra)
}

fn stopped_instance(r: &ResourceRecord, estate: &Estate<'_>, prices: &PriceTable) -> Found {
    let mut figure = Figure::default();
    let mut notes = Vec::new();
    // A Multi-Attach volume also on an instance that runs is in use: not this one's waste.
    let in_use_elsewhere = |v: &ResourceRecord| {
        texts(v, "instance_ids").any(|other| {
            other != r.id
                && estate
                    .instances
                    .get(&key(v, other))
                    .is_some_and(|i| !state_is(i, "stopped"))
        })
    };
    let volumes: Vec<&ResourceRecord> = estate
        .volumes_of
        .get(&key(r, &r.id))
        .into_iter()
        .flatten()
        .copied()
        .filter(|v| !in_use_elsewhere(v))
        .collect();
    let mut labels = Vec::new();
    let mut extra = false;
    for v in &volumes {
        let (label, x) = volume_part(v, prices, &mut figure);
        labels.push(label);
        extra |= x;
    }
    let ips: Vec<&str> = estate
        .ips_of
        .get(&key(r, &r.id))
        .into_iter()
        .flatten()
        .map(|ip| text(ip, "public_ip").unwrap_or(ip.id.as_str()))
        .collect();
    for _ in &ips {
        figure.add(
            HOURS_PER_MONTH,
            Some(prices.public_ipv4_hourly()),
            String::new,
        );
    }
    if volumes.is_empty() {
        figure
            .gaps
            .push("no volume attached to it is in the scan (were volumes scanned?)".to_owned());
    }
    let what = match text(r, "instance_type") {
        Some(t) => format!("stopped {t} instance"),
        None => "stopped instance".to_owned(),
    };
    let mut paying = Vec::new();
    match labels.len() {
        0 => {}
        1 => paying.push(format!("its {} volume", labels[0])),
        _ => paying.push(format!("its volumes ({})", labels.join(", "))),
    }
    match ips.len() {
        0 => {}
        1 => paying.push(format!("Elastic IP {}", ips[0])),
        _ => paying.push(format!("Elastic IPs {}", ips.join(", "))),
    }
    let reason = if paying.is_empty() {
        format!("{what}: its storage is still billed")
    } else {
        format!("{what} still paying for {}", paying.join(" and "))
    };
    if !ips.is_empty() {
        notes.push(
            "terminating the instance leaves its Elastic IP allocated and billed: terminate that \
             too"
            .to_owned(),
        );
    }
    finding(r, WasteKind::StoppedInstance, reason, figure, extra, notes)
}

fn unattached_volume(r: &ResourceRecord, prices: &PriceTable) -> Found {
    let mut figure = Figure::default();
    let (label, extra) = volume_part(r, prices, &mut figure);
    let mut notes = Vec::new();
    if extra {
        notes.push(match text(r, "volume_type") {
            Some("standard") => "I/O requests are billed on top".to_owned(),
            _ => "provisioned IOPS are billed on top: the scan does not record them".to_owned(),
        });
    }
    finding(
        r,
        WasteKind::UnattachedVolume,
        format!("unattached {label} volume"),
        figure,
        extra,
        notes,
    )
}

fn unassociated_ip(r: &ResourceRecord, prices: &PriceTable) -> Found {
    let mut figure = Figure::default();
    figure.add(
        HOURS_PER_MONTH,
        Some(prices.public_ipv4_hourly()),
        String::new,
    );
    let ip = text(r, "public_ip").unwrap_or("");
    let reason = if ip.is_empty() {
        "Elastic IP associated with nothing (public IPv4 is billed by the hour)".to_owned()
    } else {
        format!("Elastic IP {ip} associated with nothing (public IPv4 is billed by the hour)")
    };
    finding(
        r,
        WasteKind::UnassociatedElasticIp,
        reason,
        figure,
        false,
        Vec::new(),
    )
}

fn idle_nat(r: &ResourceRecord, why: &str, prices: &PriceTable) -> Found {
    let mut figure = Figure::default();
    figure.add(
        HOURS_PER_MONTH,
        prices.nat_gateway_hourly(&r.region),
        || no_price(prices, &r.region, "a NAT gateway"),
    );
    let ips = texts(r, "public_ips")
        .count()
        .max(texts(r, "allocation_ids").count());
    for _ in 0..ips {
        figure.add(
            HOURS_PER_MONTH,
            Some(prices.public_ipv4_hourly()),
            String::new,
        );
    }
    let with_ip = match ips {
        0 => "",
        1 => " and its public IPv4 address",
        _ => " and its public IPv4 addresses",
    };
    let mut notes = vec!["data processed is billed per GB on top".to_owned()];
    if ips > 0 {
        notes.push(
            "terminating it leaves its Elastic IP allocated and billed: terminate that too"
                .to_owned(),
        );
    }
    finding(
        r,
        WasteKind::IdleNatGateway,
        format!("NAT gateway billed by the hour{with_ip} whether used or not: {why}"),
        figure,
        true,
        notes,
    )
}

fn stopped_database(r: &ResourceRecord, prices: &PriceTable) -> Found {
    let mut figure = Figure::default();
    let mut notes = Vec::new();
    let engine = text(r, "engine").unwrap_or("");
    let gb = number(r, "allocated_storage_gb");
    let multi_az = flag(r, "multi_az");
    if engine.starts_with("aurora") {
        figure.gaps.push(
            "Aurora storage is billed per GB used, on the cluster, which the scan does not record"
                .to_owned(),
        );
    } else if let Some(gb) = gb {
        let storage = match text(r, "storage_type") {
            Some(t) => t,
            None => {
                notes.push(format!(
                    "the scan does not record the storage type: priced as {RDS_DEFAULT_STORAGE}"
                ));
                RDS_DEFAULT_STORAGE
            }
        };
        // Multi-AZ keeps a second copy of the storage, billed as much again.
        let copies = if multi_az { 2.0 } else { 1.0 };
        if multi_az {
            notes.push("Multi-AZ: the storage is billed twice".to_owned());
        }
        figure.add(
            gb * copies,
            prices.rds_storage_gb_month(&r.region, storage),
            || no_price(prices, &r.region, &format!("RDS storage type '{storage}'")),
        );
    } else {
        figure
            .gaps
            .push("the scan does not give its allocated storage".to_owned());
    }
    notes.push(
        "AWS starts a stopped database again after 7 days, and bills its instance hours from \
         then"
            .to_owned(),
    );
    let what = match (text(r, "instance_class"), engine) {
        (Some(c), e) if !e.is_empty() => format!("stopped {c} {e} database"),
        (Some(c), _) => format!("stopped {c} database"),
        (None, _) => "stopped database".to_owned(),
    };
    let reason = match gb {
        Some(gb) if !engine.starts_with("aurora") => {
            format!("{what} still paying for its {gb} GB of storage")
        }
        _ => format!("{what}: its storage is still billed"),
    };
    finding(r, WasteKind::StoppedDatabase, reason, figure, false, notes)
}

fn finish(found: Vec<Found>, prices: &PriceTable) -> WasteReport {
    let complete = found.iter().filter(|f| !f.protected).all(|f| f.complete);
    let mut items = Vec::new();
    let mut protected = Vec::new();
    for f in found {
        if f.protected {
            protected.push(f.item);
        } else {
            items.push(f.item);
        }
    }
    let total = cents(items.iter().filter_map(|i| i.monthly_usd).sum());

    let mut notes = Vec::new();
    if prices.is_bundled() {
        notes.push(format!(
            "prices from the table bundled with Pockitect, as of {} ({}): not a live price query",
            prices.as_of(),
            prices.source()
        ));
    }
    let derived_regions: BTreeSet<&str> = items
        .iter()
        .chain(&protected)
        .filter(|i| i.derived)
        .map(|i| i.region.as_str())
        .collect();
    for region in derived_regions {
        if let Some(how) = prices.derivation(region) {
            notes.push(format!(
                "prices in '{region}' marked derived are estimates, not list prices: {how}"
            ));
        }
    }
    if !complete {
        notes.push(
            "some items have no price, or only part of one (see their notes): the total is a \
             lower bound"
                .to_owned(),
        );
    }
    let has = |k: WasteKind| items.iter().chain(&protected).any(|i| i.waste == k);
    if has(WasteKind::StoppedInstance) {
        notes.push(
            "terminating a stopped instance deletes only the volumes marked \
             delete-on-termination (root volumes usually are; the scan does not record it): run \
             waste again afterwards for the rest"
                .to_owned(),
        );
    }
    if has(WasteKind::StoppedInstance) || has(WasteKind::UnattachedVolume) {
        notes.push(
            "volume figures are storage only: provisioned IOPS and throughput (io1, io2, gp3 \
             above its baseline), magnetic I/O requests and snapshots are not included"
                .to_owned(),
        );
    }
    if has(WasteKind::IdleNatGateway) {
        notes.push(
            "a NAT gateway counts as idle when no route table sends traffic to it or no running \
             EC2 instance sits in a subnet that does; Lambda functions, containers and other \
             services in the VPC are not in the scan and may use it: check before deleting"
                .to_owned(),
        );
    }
    notes.push(
        "databases: the scan cannot see connections, so a running database nobody connects to \
         is not listed; stopped ones are, for their storage"
            .to_owned(),
    );
    notes
        .push("load balancers are not part of the scan: an idle one is not listed here".to_owned());
    if !protected.is_empty() {
        let usd: f64 = cents(protected.iter().filter_map(|i| i.monthly_usd).sum());
        notes.push(format!(
            "{} idle resource(s) tagged {PROTECT}=true (${usd:.2}/month) are listed under \
             'protected', not in the items or the total: terminate never deletes them",
            protected.len()
        ));
    }
    if !items.is_empty() {
        notes.push(
            "the items array is what 'pockitect terminate --from-json -' reads; terminate \
             deletes only resources tagged as managed by Pockitect unless --force"
                .to_owned(),
        );
    }
    notes.push(format!("a month is {HOURS_PER_MONTH} hours"));
    notes.extend(prices.notes().iter().cloned());
    let (prices_source, prices_as_of, from_bundled_table) = prices.provenance();

    WasteReport {
        items,
        protected,
        total_usd_month: total,
        complete,
        currency: prices.currency().to_owned(),
        prices_source,
        prices_as_of,
        from_bundled_table,
        notes,
    }
}

// ---------------------------------------------------------------------------------------------
// Reading records

fn state_is(r: &ResourceRecord, state: &str) -> bool {
    r.state
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case(state))
}

/// A non-empty string detail.
fn text<'r>(r: &'r ResourceRecord, k: &str) -> Option<&'r str> {
    r.details
        .get(k)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The strings of an array detail.
fn texts<'r>(r: &'r ResourceRecord, k: &str) -> impl Iterator<Item = &'r str> {
    r.details
        .get(k)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn number(r: &ResourceRecord, k: &str) -> Option<f64> {
    r.details
        .get(k)
        .and_then(Value::as_f64)
        .filter(|n| n.is_finite() && *n >= 0.0)
}

fn flag(r: &ResourceRecord, k: &str) -> bool {
    r.details.get(k).and_then(Value::as_bool).unwrap_or(false)
}

/// A route table with a route to `nat` (`routes[].nat_gateway_id`).
fn routes_to(table: &ResourceRecord, nat: &str) -> bool {
    table
        .details
        .get("routes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|route| route.get("nat_gateway_id").and_then(Value::as_str) == Some(nat))
}

#[cfg(test)]
mod tests;
