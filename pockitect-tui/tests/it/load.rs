//! The load: 10,000 resources and 1,000 events a second, through `update` and `view`.
//! Run in the (unoptimised) test profile, so the bound is loose; `cargo bench -p pockitect-tui`
//! prints the release figures.

use std::time::Duration;

use pockitect_tui::synthetic::run_load;

#[test]
fn ten_thousand_resources_and_a_thousand_events_a_second_keep_up() {
    let r = run_load(10_000, 1_000, 120, 40);
    eprintln!("{r:#?}");
    // One second of traffic must be handled in well under a second, even unoptimised.
    assert!(r.one_second < Duration::from_millis(900), "{r:#?}");
    // A key press must feel instant (< 100 ms) with 10,000 rows.
    assert!(r.scroll_frame < Duration::from_millis(100), "{r:#?}");
    assert!(r.search_key < Duration::from_millis(250), "{r:#?}");
}
