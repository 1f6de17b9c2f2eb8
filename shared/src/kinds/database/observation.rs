//! Observed state of an RDS DB instance, the cluster it may belong to, the RDS events
//! seen about it, the alarms it designates for a failover, and what a database incident
//! keeps as evidence.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{DbClusterId, DbInstanceId, RdsEventId};

/// Statuses a failover cannot fix: the storage, the configuration or the encryption key
/// is the problem, on the standby as much as on the primary.
pub const STATUSES_NEEDING_A_PERSON: [&str; 10] = [
    "failed",
    "storage-full",
    "incompatible-parameters",
    "incompatible-network",
    "incompatible-option-group",
    "incompatible-restore",
    "inaccessible-encryption-credentials",
    "inaccessible-encryption-credentials-recoverable",
    "restore-error",
    "insufficient-capacity",
];

/// A DB instance as DescribeDBInstances reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbInstance {
    pub id: DbInstanceId,
    /// `DBInstanceStatus`: `available`, `rebooting`, `failing-over`, `storage-full`, …
    pub status: String,
    pub multi_az: bool,
    /// Where the primary runs (`AvailabilityZone`).
    pub primary_az: Option<String>,
    /// Where the Multi-AZ standby runs (`SecondaryAvailabilityZone`).
    pub standby_az: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// Set when the instance is a member of an Aurora or Multi-AZ DB cluster.
    pub cluster: Option<DbClusterId>,
}

impl DbInstance {
    pub fn is_managed(&self, tag_key: &str) -> bool {
        self.tags.get(tag_key).is_some_and(|value| value == "true")
    }

    pub fn is_available(&self) -> bool {
        self.status == "available"
    }

    pub fn needs_a_person(&self) -> bool {
        STATUSES_NEEDING_A_PERSON.contains(&self.status.as_str())
    }

    /// Where primary and standby (or the cluster's writer) are now.
    pub fn placement(&self, cluster: Option<&DbCluster>, at: DateTime<Utc>) -> Placement {
        Placement {
            status: self.status.clone(),
            multi_az: self.multi_az,
            primary_az: self.primary_az.clone(),
            standby_az: self.standby_az.clone(),
            writer: cluster.and_then(DbCluster::writer).map(ToString::to_string),
            at,
        }
    }
}

/// One member of a DB cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMember {
    pub instance: DbInstanceId,
    pub writer: bool,
}

/// An Aurora or Multi-AZ DB cluster as DescribeDBClusters reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbCluster {
    pub id: DbClusterId,
    pub status: String,
    pub tags: BTreeMap<String, String>,
    pub members: Vec<ClusterMember>,
}

impl DbCluster {
    pub fn is_managed(&self, tag_key: &str) -> bool {
        self.tags.get(tag_key).is_some_and(|value| value == "true")
    }

    pub fn is_available(&self) -> bool {
        self.status == "available"
    }

    pub fn writer(&self) -> Option<&DbInstanceId> {
        self.members.iter().find(|m| m.writer).map(|m| &m.instance)
    }
}

/// One RDS event. EventBridge delivers its id; DescribeEvents does not return one, so
/// the events read back from the API carry only their categories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RdsEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<RdsEventId>,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub message: String,
    pub at: DateTime<Utc>,
    /// The cluster it is about, for a DB cluster event (it counts for every member).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<DbClusterId>,
}

impl RdsEvent {
    pub fn has_category(&self, category: &str) -> bool {
        self.categories
            .iter()
            .any(|c| c.eq_ignore_ascii_case(category))
    }

    /// The id when known, else the categories: how people read it in a timeline.
    pub fn label(&self) -> String {
        match &self.id {
            Some(id) => format!("{id} ({})", self.categories.join(", ")),
            None => format!("RDS event ({})", self.categories.join(", ")),
        }
    }
}

/// Where a database stood at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    pub status: String,
    pub multi_az: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_az: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby_az: Option<String>,
    /// For a cluster member: the cluster's writer instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer: Option<String>,
    pub at: DateTime<Utc>,
}

/// Events kept in a database incident's evidence at most, newest last.
pub const MAX_EVIDENCE_EVENTS: usize = 20;

/// What a database incident keeps: the instance when detected, where primary and
/// standby were before the failover and after it, and the RDS events seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseEvidence {
    pub detected: Placement,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_failover: Option<Placement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_failover: Option<Placement>,
    #[serde(default)]
    pub events: Vec<RdsEvent>,
    /// Alarms on the database seen changing state while the incident was open, newest
    /// last: its designated failover alarms, and the others, kept as evidence only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarms: Vec<AlarmState>,
    /// Maintenance AWS Health announced on the database: what the incident is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled: Option<ScheduledMaintenance>,
}

/// AWS Health's announcement of maintenance on a database (a hardware maintenance, a
/// system upgrade): announced on a planned incident, with a failover to the standby
/// ahead of it when a person approves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledMaintenance {
    /// The AWS Health event type, e.g. `AWS_RDS_HARDWARE_MAINTENANCE_SCHEDULED`.
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_arn: Option<String>,
    /// AWS Health said the work is over.
    #[serde(default)]
    pub closed: bool,
}

impl DatabaseEvidence {
    pub fn new(detected: Placement) -> Self {
        Self {
            detected,
            before_failover: None,
            after_failover: None,
            events: Vec::new(),
            alarms: Vec::new(),
            scheduled: None,
        }
    }

    /// Keeps an alarm's state change unless it is already the last one kept for that
    /// alarm. True when it was new.
    pub fn record_alarm(&mut self, alarm: &AlarmState) -> bool {
        let known = self
            .alarms
            .iter()
            .rev()
            .find(|a| a.name == alarm.name)
            .is_some_and(|last| last.state == alarm.state);
        if known {
            return false;
        }
        self.alarms.push(alarm.clone());
        let excess = self.alarms.len().saturating_sub(MAX_EVIDENCE_ALARMS);
        self.alarms.drain(..excess);
        true
    }

    /// Keeps an event unless it is already there (the same event read back from
    /// DescribeEvents, or delivered twice). True when it was new.
    pub fn record_event(&mut self, event: &RdsEvent) -> bool {
        let known = self.events.iter().any(|e| {
            e.at == event.at
                && e.message == event.message
                && (e.id == event.id || e.id.is_none() || event.id.is_none())
        });
        if known {
            // An id learnt later (EventBridge after DescribeEvents) is worth keeping.
            if let Some(id) = &event.id {
                if let Some(stored) = self
                    .events
                    .iter_mut()
                    .find(|e| e.at == event.at && e.message == event.message && e.id.is_none())
                {
                    stored.id = Some(id.clone());
                    return true;
                }
            }
            return false;
        }
        self.events.push(event.clone());
        self.events.sort_by_key(|e| e.at);
        let excess = self.events.len().saturating_sub(MAX_EVIDENCE_EVENTS);
        self.events.drain(..excess);
        true
    }
}

/// Alarm state changes kept in a database incident's evidence at most, newest last.
pub const MAX_EVIDENCE_ALARMS: usize = 20;

/// A CloudWatch alarm's state, as DescribeAlarms reports it or a delivery said it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmState {
    pub name: String,
    /// `ALARM`, `OK` or `INSUFFICIENT_DATA`.
    pub state: String,
    /// When it entered that state, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
}

impl AlarmState {
    pub fn is_firing(&self) -> bool {
        self.state == "ALARM"
    }
}

/// The tag naming the alarms that may fail a database over (invariant 12).
pub const FAILOVER_ALARMS_TAG: &str = "rebound:failover-alarms";

/// Alarm names kept from one tag, at most: a tag value holds 256 characters anyway.
const MAX_DESIGNATED: usize = 50;

/// One entry of `rebound:failover-alarms`: an alarm name, or a prefix (`name*`, or
/// `prefix:name` where the tag's service forbids `*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlarmPattern {
    Name(String),
    Prefix(String),
}

impl AlarmPattern {
    pub fn matches(&self, alarm: &str) -> bool {
        match self {
            Self::Name(name) => name == alarm,
            Self::Prefix(prefix) => alarm.starts_with(prefix.as_str()),
        }
    }
}

/// The alarms a database designates for a failover: its tag's entries, separated by
/// commas or spaces, each an alarm name or a prefix — a trailing `*`, or `prefix:` in
/// front. RDS tag values allow neither commas nor `*` (letters, digits, spaces and
/// `_ . : / = + - @` only), so on a DB instance or cluster the entries are separated by
/// spaces and prefixes written `prefix:orders-db-`. Blank entries and an empty prefix
/// (every alarm: the very thing the tag exists to prevent) are ignored with a warning.
pub fn designated_alarms(tags: &BTreeMap<String, String>) -> Vec<AlarmPattern> {
    let Some(value) = tags.get(FAILOVER_ALARMS_TAG) else {
        return Vec::new();
    };
    let mut patterns = Vec::new();
    let entries = value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|e| !e.is_empty());
    for entry in entries {
        let prefix = entry
            .strip_suffix('*')
            .or_else(|| entry.strip_prefix("prefix:"));
        match prefix {
            Some("") => {
                tracing::warn!(tag = FAILOVER_ALARMS_TAG, %value, "an empty prefix is ignored: name the alarms that may fail the database over")
            }
            Some(prefix) => patterns.push(AlarmPattern::Prefix(prefix.to_owned())),
            None => patterns.push(AlarmPattern::Name(entry.to_owned())),
        }
        if patterns.len() == MAX_DESIGNATED {
            break;
        }
    }
    patterns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn designated_alarms_read_in_the_forms_rds_tag_values_allow_and_the_issue_s_form() {
        let read = |value: &str| {
            designated_alarms(&BTreeMap::from([(
                FAILOVER_ALARMS_TAG.to_owned(),
                value.to_owned(),
            )]))
        };
        let name = |n: &str| AlarmPattern::Name(n.into());
        let prefix = |p: &str| AlarmPattern::Prefix(p.into());
        // RDS: letters, digits, spaces and _ . : / = + - @ only.
        assert_eq!(
            read("orders-db-read-latency prefix:orders-db-failover-"),
            [
                name("orders-db-read-latency"),
                prefix("orders-db-failover-")
            ]
        );
        assert_eq!(
            read(" a-latency, b-errors*,,c "),
            [name("a-latency"), prefix("b-errors"), name("c")]
        );
        assert!(read("* prefix: ,").is_empty());
        assert!(prefix("orders-db-failover-").matches("orders-db-failover-cpu"));
        assert!(!name("orders-db-read-latency").matches("orders-db-read-latency-2"));
    }

    fn event(id: Option<&str>, minute: u32) -> RdsEvent {
        RdsEvent {
            id: id.map(|i| RdsEventId::parse(i).unwrap()),
            categories: vec!["failover".into()],
            message: "A Multi-AZ failover has completed.".into(),
            at: chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 26, 10, minute, 0).unwrap(),
            cluster: None,
        }
    }

    fn evidence() -> DatabaseEvidence {
        DatabaseEvidence::new(Placement {
            status: "available".into(),
            multi_az: true,
            primary_az: Some("us-east-1a".into()),
            standby_az: Some("us-east-1b".into()),
            writer: None,
            at: event(None, 0).at,
        })
    }

    #[test]
    fn an_event_seen_twice_is_kept_once_and_learns_its_id() {
        let mut evidence = evidence();
        assert!(evidence.record_event(&event(None, 1)));
        assert!(!evidence.record_event(&event(None, 1)));
        assert!(evidence.record_event(&event(Some("RDS-EVENT-0049"), 1)));
        assert!(!evidence.record_event(&event(Some("RDS-EVENT-0049"), 1)));
        assert_eq!(evidence.events.len(), 1);
        assert_eq!(
            evidence.events[0].id.as_ref().map(|i| i.as_str()),
            Some("RDS-EVENT-0049")
        );
    }

    #[test]
    fn only_the_newest_events_are_kept() {
        let mut evidence = evidence();
        for minute in 0..30 {
            evidence.record_event(&event(None, minute));
        }
        assert_eq!(evidence.events.len(), MAX_EVIDENCE_EVENTS);
        assert_eq!(evidence.events.last().unwrap().at, event(None, 29).at);
    }
}
