//! What was observed, as an incident keeps it: a JSON object whose keys belong to the
//! incident's kind (`targets` and `auto_scaling_groups` for a target group, `database`
//! for a DB instance, …). The domain never looks inside: a kind writes its own typed
//! evidence into the object and reads it back, and keys it does not know (written by an
//! older or newer version) are kept as they were.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::ResourceRef;

/// Lists every incident's evidence has carried since 0.1, empty when its kind observes
/// none: consumers of `rebound incidents --json` and of the notifications' JSON body
/// read them without checking the resource type first (the JSON contract).
pub const CONTRACT_LISTS: [&str; 2] = ["targets", "auto_scaling_groups"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Evidence(Map<String, Value>);

impl Default for Evidence {
    fn default() -> Self {
        Self::from_object(Map::new())
    }
}

impl Evidence {
    fn from_object(mut object: Map<String, Value>) -> Self {
        for list in CONTRACT_LISTS {
            if !object.get(list).is_some_and(Value::is_array) {
                object.insert(list.to_owned(), Value::Array(Vec::new()));
            }
        }
        Self(object)
    }

    /// A kind's typed evidence as the incident keeps it. A type that does not serialise
    /// to an object (a kind's mistake, never input) keeps nothing.
    pub fn of<T: Serialize>(typed: &T) -> Self {
        match serde_json::to_value(typed) {
            Ok(Value::Object(object)) => Self::from_object(object),
            _ => Self::default(),
        }
    }

    /// Writes a kind's revised evidence over this one, keeping keys it does not own;
    /// true when something changed.
    pub fn revise<T: Serialize>(&mut self, typed: &T) -> bool {
        let revised = Self::of(typed);
        let mut merged = self.0.clone();
        for (key, value) in revised.0 {
            merged.insert(key, value);
        }
        let changed = merged != self.0;
        self.0 = merged;
        changed
    }

    /// The kind's typed evidence read back; keys it does not know are left out, keys it
    /// expects and finds missing take their defaults.
    pub fn read<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(Value::Object(self.0.clone()))
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// The object itself, for what renders any kind's evidence (the notifier's JSON).
    pub fn as_object(&self) -> &Map<String, Value> {
        &self.0
    }
}

/// Evidence kept before an action, outside the incident record (an instance's console
/// output and status, read just before it is replaced, kept as an object in the
/// evidence bucket): where it is, or why it could not be kept. A capture that fails
/// never holds the action back; it is noted here and on the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capture {
    /// What it is evidence of: the instance about to be replaced.
    pub target: ResourceRef,
    pub captured_at: DateTime<Utc>,
    /// Where it is kept (`s3://bucket/key`); `None` when nothing could be kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// What is missing and why (`console output: UnauthorizedOperation: …`), when a
    /// part or the whole of it could not be read or kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

impl Capture {
    /// One line for the timeline and the CLI.
    pub fn summary(&self) -> String {
        match (&self.uri, &self.failed) {
            (Some(uri), None) => format!("evidence of {} kept at {uri}", self.target.id),
            (Some(uri), Some(failed)) => {
                format!(
                    "evidence of {} kept at {uri}, incomplete: {failed}",
                    self.target.id
                )
            }
            (None, failed) => format!(
                "evidence of {} not kept: {}",
                self.target.id,
                failed.as_deref().unwrap_or("no reason given")
            ),
        }
    }
}

impl<'de> Deserialize<'de> for Evidence {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self::from_object(Map::deserialize(deserializer)?))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    struct Zone {
        #[serde(default)]
        zone: String,
    }

    #[test]
    fn every_evidence_carries_the_contract_lists() {
        let evidence = Evidence::of(&Zone {
            zone: "use1-az2".into(),
        });
        assert_eq!(
            serde_json::to_value(&evidence).unwrap(),
            json!({"zone": "use1-az2", "targets": [], "auto_scaling_groups": []})
        );
    }

    #[test]
    fn a_revision_keeps_what_the_kind_does_not_own_and_says_whether_it_changed() {
        let mut evidence: Evidence =
            serde_json::from_value(json!({"zone": "a", "legacy": true})).unwrap();
        assert!(evidence.revise(&Zone { zone: "b".into() }));
        assert!(!evidence.revise(&Zone { zone: "b".into() }));
        assert_eq!(evidence.get("legacy"), Some(&json!(true)));
        assert_eq!(evidence.read::<Zone>().unwrap(), Zone { zone: "b".into() });
    }
}
