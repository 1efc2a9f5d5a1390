//! Property tests of the parser, on the generators the fuzz bench runs for longer
//! (`pockitect_blueprint::fuzz`): arbitrary JSON and mutated blueprints never panic, the entry
//! points agree, and every refusal names where the problem is.

use pockitect_blueprint::fuzz;
use proptest::prelude::*;

proptest! {
    #![proptest_config(fuzz::config(200))]

    #[test]
    fn arbitrary_json_loads_or_is_refused_naming_where(doc in fuzz::json_value()) {
        let parsed = fuzz::parse(&doc);
        if let Err(why) = fuzz::check_parsed(&parsed) {
            prop_assert!(false, "{why}\ndocument: {}", fuzz::short(&doc.to_string()));
        }
    }

    #[test]
    fn a_mutated_blueprint_loads_or_is_refused_at_the_mutation(
        (doc, mutation) in fuzz::mutated_blueprint()
    ) {
        let parsed = fuzz::parse(&doc);
        let verdict = fuzz::check_parsed(&parsed)
            .and_then(|()| fuzz::check_mutation(&mutation, &parsed));
        if let Err(why) = verdict {
            prop_assert!(false, "{why}\ndocument: {}", fuzz::short(&doc.to_string()));
        }
    }
}

proptest! {
    // Each case writes a file: fewer of them.
    #![proptest_config(fuzz::config(48))]

    #[test]
    fn the_project_store_agrees_with_the_parser((doc, _) in fuzz::mutated_blueprint()) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        if let Err(why) = fuzz::check_store(dir.path(), "fuzzed", &doc) {
            prop_assert!(false, "{why}\ndocument: {}", fuzz::short(&doc.to_string()));
        }
    }
}
