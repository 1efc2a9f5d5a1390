//! What Redis does when it is full, as far as the bus is concerned. The bus's keys are bounded
//! (see the README, "The bus"), but a Redis shared with other work can still fill up; then only
//! `noeviction` is safe: it refuses writes, which the daemon reports and retries. Any eviction
//! policy may delete request leases, project locks and waiting answers — and `volatile-*`
//! policies pick exactly those, since they are the keys that carry a TTL.

use std::collections::HashMap;

use crate::{Bus, BusError};

/// The warning to give when Redis's `maxmemory-policy` is `policy`, or None when it is safe.
pub fn eviction_warning(policy: &str) -> Option<String> {
    if policy.eq_ignore_ascii_case("noeviction") {
        return None;
    }
    Some(format!(
        "redis maxmemory-policy is '{policy}': when Redis is full it deletes keys, and may delete request leases, project locks and waiting answers (volatile-* policies pick exactly those, as they carry a TTL), so a request could run twice or a project be changed by two requests at once; set 'maxmemory-policy noeviction' (CONFIG SET maxmemory-policy noeviction, and in redis.conf)"
    ))
}

impl Bus {
    /// Redis's `maxmemory-policy`. Fails where `CONFIG GET` is not allowed (managed Redis
    /// services often rename or forbid it).
    pub async fn maxmemory_policy(&self) -> Result<String, BusError> {
        let reply: HashMap<String, String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("maxmemory-policy")
            .query_async(&mut self.conn())
            .await?;
        reply
            .get("maxmemory-policy")
            .cloned()
            .ok_or(BusError::Decode {
                what: "maxmemory-policy",
                message: "CONFIG GET returned no value".to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_noeviction_is_safe() {
        assert_eq!(eviction_warning("noeviction"), None);
        for p in [
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
        ] {
            let w = eviction_warning(p).expect("a warning");
            assert!(w.contains(p), "{w}");
            assert!(w.contains("maxmemory-policy noeviction"), "{w}");
        }
    }
}
