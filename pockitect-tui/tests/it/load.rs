//! The load: 10,000 resources and 1,000 events a second, through `update` and `view`.
//! This test checks that the console takes all of it (every record is in the table, every
//! event went through `update` and `view` without a panic). How fast is for the benchmark,
//! `cargo bench -p pockitect-tui --bench tui_load`: wall-clock bounds in a test fail on a
//! shared, busy machine (one did, at 1.12 s against 0.9 s, with a load average of 10).

use pockitect_tui::synthetic::run_load;

#[test]
fn ten_thousand_resources_and_a_thousand_events_all_reach_the_console() {
    // `run_load` asserts that every record reached the table.
    let r = run_load(10_000, 1_000, 120, 40);
    eprintln!("{r:#?}");
    assert_eq!((r.records, r.events), (10_000, 1_000), "{r:#?}");
}
