//! What incidents, actions and ledgers are about: a resource, named by its type and id.
//!
//! The domain knows no resource type by name: each kind of resource declares the types
//! it watches and acts through (`target-group`, `auto-scaling-group`, `db-instance`, …),
//! and the types are stored as the strings they are, so a record written by a newer
//! version with a type this one does not know still reads.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A resource type as stored in `resource.type`, `target.type` and `scope.type`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResourceType(Cow<'static, str>);

impl ResourceType {
    /// A type a kind declares, e.g. `ResourceType::named("target-group")`.
    pub const fn named(name: &'static str) -> Self {
        Self(Cow::Borrowed(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for ResourceType {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

/// What an incident, an action or a ledger is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceRef {
    #[serde(rename = "type")]
    pub kind: ResourceType,
    pub id: String,
}

impl ResourceRef {
    pub fn new(kind: ResourceType, id: impl Into<String>) -> Self {
        Self {
            kind,
            id: id.into(),
        }
    }

    /// The key of the per-resource record that guards "one open incident".
    pub fn key(&self) -> String {
        format!("{}#{}", self.kind, self.id)
    }
}

impl fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declared_type_and_a_stored_one_are_the_same_type() {
        let declared = ResourceType::named("target-group");
        let stored: ResourceType = serde_json::from_str("\"target-group\"").unwrap();
        assert_eq!(declared, stored);
        assert_eq!(
            serde_json::to_string(&declared).unwrap(),
            "\"target-group\""
        );
    }

    #[test]
    fn a_type_this_version_does_not_know_still_reads() {
        let stored: ResourceRef =
            serde_json::from_str(r#"{"type": "availability-zone", "id": "use1-az2"}"#).unwrap();
        assert_eq!(stored.kind.as_str(), "availability-zone");
        assert_eq!(stored.key(), "availability-zone#use1-az2");
    }
}
