//! What a refresh writes into a blueprint, typed: a recorded server's or database's status and
//! address. Each value is applied compare-and-swap: only while the blueprint still records the
//! same resource and still holds the value refresh compared against, so whatever a deploy,
//! destroy or hand edit wrote since refresh looked wins over the older observation.

use crate::model::{Blueprint, SectionStatus};

/// A place of the blueprint that refresh keeps up to date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObservedField {
    /// `compute.status`, for `compute.instance_id`.
    ServerStatus,
    /// `compute.public_ip`, for `compute.instance_id`.
    ServerPublicIp,
    /// `data.db.status`, for `data.db.identifier`.
    DatabaseStatus,
    /// `data.db.endpoint`, for `data.db.identifier`.
    DatabaseEndpoint,
}

/// One value refresh observed for `field` of the resource `id`: it was `from` (as read before
/// the AWS calls) and AWS says `to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    pub field: ObservedField,
    pub id: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl Blueprint {
    /// The id recorded for the resource `field` belongs to.
    fn observed_owner(&self, field: ObservedField) -> Option<&str> {
        match field {
            ObservedField::ServerStatus | ObservedField::ServerPublicIp => {
                self.compute.instance_id.as_deref()
            }
            ObservedField::DatabaseStatus | ObservedField::DatabaseEndpoint => {
                self.db().and_then(|d| d.identifier.as_deref())
            }
        }
    }

    /// The value the blueprint holds at `field` (None when that part is absent or empty).
    pub fn observed(&self, field: ObservedField) -> Option<String> {
        match field {
            ObservedField::ServerStatus => Some(self.compute.status.as_str().to_owned()),
            ObservedField::ServerPublicIp => self.compute.public_ip.clone(),
            ObservedField::DatabaseStatus => self.db().map(|d| d.status.as_str().to_owned()),
            ObservedField::DatabaseEndpoint => self.db().and_then(|d| d.endpoint.clone()),
        }
    }

    /// Applies `o` when the blueprint still records `o.id` there and still holds `o.from`;
    /// true when it changed something.
    pub fn apply_observation(&mut self, o: &Observation) -> bool {
        if self.observed_owner(o.field) != Some(o.id.as_str())
            || self.observed(o.field) != o.from
            || o.from == o.to
        {
            return false;
        }
        let status = || SectionStatus::parse(o.to.as_deref().unwrap_or_default());
        match o.field {
            ObservedField::ServerStatus => self.compute.status = status(),
            ObservedField::ServerPublicIp => self.compute.public_ip = o.to.clone(),
            ObservedField::DatabaseStatus | ObservedField::DatabaseEndpoint => {
                let Some(db) = self.data.db.as_mut() else {
                    return false;
                };
                if o.field == ObservedField::DatabaseStatus {
                    db.status = status();
                } else {
                    db.endpoint = o.to.clone();
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployed() -> Blueprint {
        let mut bp = crate::from_json_str(include_str!("../../../projects/example-blog.json"))
            .expect("the example parses");
        bp.compute.instance_id = Some("i-1".into());
        bp.compute.status = SectionStatus::Running;
        bp.compute.public_ip = Some("203.0.113.1".into());
        bp
    }

    fn seen(field: ObservedField, id: &str, from: Option<&str>, to: Option<&str>) -> Observation {
        Observation {
            field,
            id: id.into(),
            from: from.map(Into::into),
            to: to.map(Into::into),
        }
    }

    #[test]
    fn an_observation_applies_while_the_blueprint_holds_what_refresh_saw() {
        let mut bp = deployed();
        let stop = seen(
            ObservedField::ServerStatus,
            "i-1",
            Some("running"),
            Some("stopped"),
        );
        assert!(bp.apply_observation(&stop));
        assert_eq!(bp.compute.status, SectionStatus::Stopped);
        // Applied once: now it holds `stopped`, not `running`.
        assert!(!bp.apply_observation(&stop));
        let ip = seen(
            ObservedField::ServerPublicIp,
            "i-1",
            Some("203.0.113.1"),
            None,
        );
        assert!(bp.apply_observation(&ip));
        assert_eq!(bp.compute.public_ip, None);
    }

    #[test]
    fn a_newer_write_wins_over_an_older_observation() {
        let mut bp = deployed();
        // A deploy replaced the instance since refresh looked.
        bp.compute.instance_id = Some("i-2".into());
        let gone = seen(
            ObservedField::ServerStatus,
            "i-1",
            Some("running"),
            Some("deleted"),
        );
        assert!(!bp.apply_observation(&gone));
        assert_eq!(bp.compute.status, SectionStatus::Running);
        // A hand edit changed the value refresh compared against.
        let mut bp = deployed();
        bp.compute.status = SectionStatus::Stopped;
        let started = seen(
            ObservedField::ServerStatus,
            "i-1",
            Some("running"),
            Some("starting"),
        );
        assert!(!bp.apply_observation(&started));
        assert_eq!(bp.compute.status, SectionStatus::Stopped);
    }

    #[test]
    fn a_database_observation_needs_the_recorded_identifier() {
        let mut bp = deployed();
        let ep = seen(
            ObservedField::DatabaseEndpoint,
            "db-1",
            None,
            Some("db.example:5432"),
        );
        assert!(!bp.apply_observation(&ep), "no identifier recorded yet");
        bp.data
            .db
            .as_mut()
            .expect("the example has a database")
            .identifier = Some("db-1".into());
        assert!(bp.apply_observation(&ep));
        assert_eq!(
            bp.db().and_then(|d| d.endpoint.as_deref()),
            Some("db.example:5432")
        );
    }
}
