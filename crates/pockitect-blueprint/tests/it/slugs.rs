//! Slug rules (the earlier Python Pockitect's), and where a loaded blueprint's slug comes from.

use pockitect_blueprint::{ProjectStore, from_json_str, is_valid_slug, slugify};
use rstest::rstest;

#[rstest]
#[case("Brenden's Blog", "brendens-blog")]
#[case("api_server", "api-server")]
#[case("My  Big__Project", "my-big-project")]
#[case("  leading and trailing  ", "leading-and-trailing")]
#[case("---dashes---", "dashes")]
#[case("a - b _ c", "a-b-c")]
#[case("Version 2.0 (beta)!", "version-20-beta")]
#[case("tabs\tand\nnewlines", "tabs-and-newlines")]
#[case("Café Olé", "caf-ol")]
#[case("Ünïcödé", "ncd")]
#[case("東京 Tokyo", "tokyo")]
#[case("🚀🚀🚀", "unnamed-project")]
#[case("", "unnamed-project")]
#[case("   ", "unnamed-project")]
#[case("_-_", "unnamed-project")]
#[case("../../etc/passwd", "etcpasswd")]
#[case("UPPER", "upper")]
#[case("123", "123")]
fn slug_cases(#[case] name: &str, #[case] slug: &str) {
    assert_eq!(slugify(name), slug);
    assert!(is_valid_slug(slug));
}

#[test]
fn a_legacy_file_without_a_slug_gets_one_from_its_name() {
    let bp = from_json_str(r#"{"project": {"name": "Brenden's Blog"}}"#).expect("loads");
    assert_eq!(bp.project.slug, "brendens-blog");
    assert_eq!(bp.slug(), "brendens-blog");
}

#[test]
fn a_recorded_slug_is_kept_even_when_the_name_changes() {
    let bp =
        from_json_str(r#"{"project": {"name": "Renamed", "slug": "old-slug"}}"#).expect("loads");
    assert_eq!(bp.slug(), "old-slug");
}

#[test]
fn in_a_store_a_file_without_a_slug_keeps_its_file_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("my-blog.json"),
        r#"{"project": {"name": "Simple Blog"}}"#,
    )
    .expect("writes");
    let store = ProjectStore::new(dir.path());
    let bp = store.load("my-blog").expect("loads");
    assert_eq!(bp.slug(), "my-blog", "saving must go back to the same file");
    assert_eq!(
        store.save(&bp).expect("saves"),
        dir.path().join("my-blog.json")
    );
    assert_eq!(std::fs::read_dir(dir.path()).expect("lists").count(), 1);
}
