use std::fmt;

use serde::{Deserialize, Serialize};

/// Identifies one request from the moment a client sends it to its terminal event.
///
/// New ids are 32 lowercase hex characters (a v4 UUID without dashes), the format the earlier
/// Python client used; any id of 1 to 64 characters from `[A-Za-z0-9_-]` is accepted so that
/// scripts can choose readable ids.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RequestId(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "parse request id '{0}': use 1 to 64 characters from A-Z, a-z, 0-9, '-' and '_' (for example a UUID without dashes)"
)]
pub struct RequestIdError(pub String);

impl RequestId {
    /// A fresh random id.
    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }

    pub fn parse(s: &str) -> Result<Self, RequestIdError> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            let shown: String = s.chars().take(80).collect();
            Err(RequestIdError(shown))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

impl TryFrom<String> for RequestId {
    type Error = RequestIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<RequestId> for String {
    fn from(id: RequestId) -> Self {
        id.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for RequestId {
    type Err = RequestIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_32_hex() {
        let id = RequestId::new();
        assert_eq!(id.as_str().len(), 32);
        assert!(id.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn rejects_bad_ids() {
        for bad in ["", "has space", "x".repeat(65).as_str(), "semi;colon"] {
            assert!(RequestId::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(RequestId::parse("deploy-blog_1").is_ok());
    }
}
