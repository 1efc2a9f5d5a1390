//! `waste`: what the last scan shows paid for and idle, priced from the bundled price table.
//! It reads the daemon's estate only (no AWS call): run a scan first for a current answer.

use pockitect_proto::{Event, ResourceFilter, WasteArgs};

use crate::Daemon;
use crate::events::{HandlerError, Outcome};

pub fn waste(args: WasteArgs, daemon: &Daemon) -> Result<Outcome, HandlerError> {
    // The whole estate, narrowed afterwards: a NAT gateway is judged by the route tables and
    // instances of its VPC, a stopped instance priced by the volumes that name it.
    let records = daemon.estate.query(&ResourceFilter::default());
    let mut report = pockitect_cost::find_waste(&records, pockitect_cost::PriceTable::bundled());
    report.narrow(args.region.as_deref(), args.project.as_deref());
    if records.is_empty() {
        report.notes.insert(
            0,
            "the daemon has no scan yet: run 'pockitect scan' first".to_owned(),
        );
    }
    Ok(Outcome::success(Event::Waste(report)))
}
