//! Helpers every EC2 call of the deploy engine shares: filters, tag specifications on create,
//! reading tags back.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

/// A describe filter: `name` matching any of `values`.
pub(crate) fn filter(name: &str, values: &[&str]) -> Filter {
    let mut b = Filter::builder().name(name);
    for v in values {
        b = b.values(*v);
    }
    b.build()
}

/// Tags given at creation, so a resource is never untagged (a crash between create and
/// tag would leave one no later deploy could find).
pub(crate) fn tag_spec(rt: ResourceType, tags: &BTreeMap<String, String>) -> TagSpecification {
    let mut b = TagSpecification::builder().resource_type(rt);
    for (k, v) in tags {
        b = b.tags(Tag::builder().key(k).value(v).build());
    }
    b.build()
}

/// True when `tags` has `key` set to `value`.
pub(crate) fn has_tag(tags: &[Tag], key: &str, value: &str) -> bool {
    tags.iter()
        .any(|t| t.key() == Some(key) && t.value() == Some(value))
}

/// A list for a describe call's `set_filters` / `set_*_ids`, left out when empty (no filter
/// or id then means no condition).
pub(crate) fn nonempty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}
