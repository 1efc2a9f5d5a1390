//! Project slugs: the file name of a blueprint and the `pockitect:project` tag of its resources.
//!
//! The rules are the earlier Python Pockitect's, so existing projects keep their slug: lowercase;
//! runs of whitespace and underscores become `-`; every other character outside `a-z`, `0-9`
//! and `-` is dropped; runs of `-` collapse to one; leading and trailing `-` are trimmed; an
//! empty result becomes [`UNNAMED`].

/// The slug of a project whose name has no usable character.
pub const UNNAMED: &str = "unnamed-project";

/// The longest slug accepted. Derived AWS names must fit their limits: the IAM role
/// `pockitect-<slug>-role` (64), the DB instance `pockitect-<slug>-db` (63).
pub const MAX_SLUG_LEN: usize = 48;

/// Turns a project name into its slug (`"Brenden's Blog"` → `"brendens-blog"`).
///
/// ```
/// assert_eq!(pockitect_blueprint::slugify("Brenden's Blog"), "brendens-blog");
/// assert_eq!(pockitect_blueprint::slugify("  __ "), "unnamed-project");
/// ```
pub fn slugify(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    // Full Unicode lowercasing first, as Python's str.lower() does: 'É' becomes 'é' (then
    // dropped), the Kelvin sign becomes 'k' (kept).
    for c in name.to_lowercase().chars() {
        // Python's `\s` also matches the ASCII separators U+001C..U+001F.
        let c = if c.is_whitespace() || c == '_' || ('\u{1c}'..='\u{1f}').contains(&c) {
            '-'
        } else {
            c
        };
        match c {
            'a'..='z' | '0'..='9' => out.push(c),
            '-' if !out.is_empty() && !out.ends_with('-') => out.push('-'),
            _ => {}
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        UNNAMED.to_owned()
    } else {
        out
    }
}

/// True when `s` is already a slug: non-empty, at most [`MAX_SLUG_LEN`] characters of `a-z`,
/// `0-9` and single inner hyphens.
pub fn is_valid_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SLUG_LEN
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_from_the_spec() {
        assert_eq!(slugify("Brenden's Blog"), "brendens-blog");
        assert_eq!(slugify(""), UNNAMED);
    }

    #[test]
    fn spaces_and_underscores_become_single_hyphens() {
        assert_eq!(slugify("api_server"), "api-server");
        assert_eq!(slugify("a  _ _b"), "a-b");
        assert_eq!(slugify("a\tb\nc"), "a-b-c");
        assert_eq!(slugify("a - b"), "a-b");
        assert_eq!(slugify("a---b"), "a-b");
    }

    #[test]
    fn trims_hyphens_and_drops_punctuation() {
        assert_eq!(slugify("--My Project!--"), "my-project");
        assert_eq!(slugify("v1.2 (beta)"), "v12-beta");
        assert_eq!(slugify("!!!"), UNNAMED);
        assert_eq!(slugify(" - _ - "), UNNAMED);
        assert_eq!(slugify("../../etc/passwd"), "etcpasswd");
    }

    #[test]
    fn unicode_is_lowercased_then_dropped_like_python() {
        assert_eq!(slugify("Café Olé"), "caf-ol");
        assert_eq!(slugify("日本語"), UNNAMED);
        assert_eq!(slugify("Straße 42"), "strae-42");
        // U+212A KELVIN SIGN lowercases to ASCII 'k' (Python does the same).
        assert_eq!(slugify("\u{212A}ube"), "kube");
        // Non-breaking and ideographic spaces are whitespace.
        assert_eq!(slugify("a\u{00A0}b\u{3000}c"), "a-b-c");
        assert_eq!(slugify("🚀 launch 🚀"), "launch");
    }

    #[test]
    fn slugify_output_is_always_a_valid_slug_when_short_enough() {
        for name in [
            "Brenden's Blog",
            "x",
            "A_B_C",
            "日本 test",
            "",
            "--",
            "9lives",
        ] {
            let s = slugify(name);
            assert!(is_valid_slug(&s), "{name:?} gave {s:?}");
            assert_eq!(slugify(&s), s, "slugify is idempotent");
        }
    }

    #[test]
    fn validity() {
        assert!(is_valid_slug("brendens-blog"));
        assert!(is_valid_slug("a1"));
        assert!(!is_valid_slug(""));
        assert!(!is_valid_slug("-a"));
        assert!(!is_valid_slug("a-"));
        assert!(!is_valid_slug("a--b"));
        assert!(!is_valid_slug("A"));
        assert!(!is_valid_slug("a_b"));
        assert!(!is_valid_slug("../x"));
        assert!(!is_valid_slug(&"a".repeat(MAX_SLUG_LEN + 1)));
        assert!(is_valid_slug(&"a".repeat(MAX_SLUG_LEN)));
    }
}
