//! What each RDS event means to Rebound: one table, keyed by event id **and** category
//! (never by message text, which RDS rewords). The guards chapter of the documentation
//! shows the same table; an event not in it is recorded as an observation and never
//! acted on.

use serde::Serialize;

use crate::ids::RdsEventId;

/// What an RDS event means to Rebound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventEffect {
    /// The primary is sick in a way a failover fixes: fail over when the guards allow.
    Sick,
    /// A failure a failover cannot fix (storage, configuration): escalate.
    NeedsPerson,
    /// The instance went down, or RDS started recovering it: open an incident and watch.
    Watch,
    /// RDS says the instance is back: verify, and resolve what is open.
    Recovered,
    /// RDS started a failover: the incident follows it (remediating), nothing is called.
    FailoverStarted,
    /// RDS completed a failover: verify, and resolve what is open.
    FailoverCompleted,
    /// RDS did not carry out a requested failover (one happened recently): escalate.
    FailoverSkipped,
}

impl EventEffect {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sick => "sick",
            Self::NeedsPerson => "needs-a-person",
            Self::Watch => "watch",
            Self::Recovered => "recovered",
            Self::FailoverStarted => "failover-started",
            Self::FailoverCompleted => "failover-completed",
            Self::FailoverSkipped => "failover-skipped",
        }
    }
}

/// One row of the event table: an event id in its category, and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EventRule {
    pub id: &'static str,
    pub category: &'static str,
    pub effect: EventEffect,
    /// What RDS means by it, in Rebound's words.
    pub meaning: &'static str,
}

const fn rule(
    id: &'static str,
    category: &'static str,
    effect: EventEffect,
    meaning: &'static str,
) -> EventRule {
    EventRule {
        id,
        category,
        effect,
        meaning,
    }
}

/// Every RDS DB instance event Rebound acts on, keyed by event id **and** category
/// (never by message text, which RDS rewords).
pub const EVENT_TABLE: [EventRule; 18] = [
    rule(
        "RDS-EVENT-0004",
        "availability",
        EventEffect::Watch,
        "the DB instance shut down",
    ),
    rule(
        "RDS-EVENT-0006",
        "availability",
        EventEffect::Recovered,
        "the DB instance restarted",
    ),
    rule(
        "RDS-EVENT-0013",
        "failover",
        EventEffect::FailoverStarted,
        "a Multi-AZ failover started",
    ),
    rule(
        "RDS-EVENT-0015",
        "failover",
        EventEffect::FailoverCompleted,
        "a Multi-AZ failover to the standby completed",
    ),
    rule(
        "RDS-EVENT-0020",
        "recovery",
        EventEffect::Watch,
        "recovery of the DB instance started",
    ),
    rule(
        "RDS-EVENT-0021",
        "recovery",
        EventEffect::Recovered,
        "recovery of the DB instance completed",
    ),
    rule(
        "RDS-EVENT-0022",
        "failure",
        EventEffect::Sick,
        "an error occurred while restarting the database engine",
    ),
    rule(
        "RDS-EVENT-0031",
        "failure",
        EventEffect::NeedsPerson,
        "the DB instance failed: incompatible configuration or storage",
    ),
    rule(
        "RDS-EVENT-0034",
        "failover",
        EventEffect::FailoverSkipped,
        "a requested failover was not attempted: one happened recently",
    ),
    rule(
        "RDS-EVENT-0049",
        "failover",
        EventEffect::FailoverCompleted,
        "a Multi-AZ failover completed",
    ),
    rule(
        "RDS-EVENT-0052",
        "recovery",
        EventEffect::Watch,
        "recovery of the Multi-AZ instance started",
    ),
    rule(
        "RDS-EVENT-0053",
        "recovery",
        EventEffect::Recovered,
        "recovery of the Multi-AZ instance completed",
    ),
    rule(
        "RDS-EVENT-0065",
        "failover",
        EventEffect::FailoverCompleted,
        "the instance recovered from a partial failover",
    ),
    // DB cluster events (source type db-cluster): they count for the cluster's members
    // as instance events do for an instance.
    rule(
        "RDS-EVENT-0069",
        "failover",
        EventEffect::FailoverSkipped,
        "a cluster failover failed",
    ),
    rule(
        "RDS-EVENT-0070",
        "failover",
        EventEffect::FailoverStarted,
        "a cluster failover is promoting the previous primary again",
    ),
    rule(
        "RDS-EVENT-0071",
        "failover",
        EventEffect::FailoverCompleted,
        "a cluster failover completed",
    ),
    rule(
        "RDS-EVENT-0072",
        "failover",
        EventEffect::FailoverStarted,
        "a cluster failover started within the same Availability Zone",
    ),
    rule(
        "RDS-EVENT-0073",
        "failover",
        EventEffect::FailoverStarted,
        "a cluster failover started across Availability Zones",
    ),
];

/// The categories of the events in the table, each once: what Rebound asks
/// DescribeEvents for.
pub fn event_categories() -> Vec<&'static str> {
    let mut categories: Vec<&'static str> = EVENT_TABLE.iter().map(|r| r.category).collect();
    categories.sort_unstable();
    categories.dedup();
    categories
}

/// The table's row for this event id in one of these categories.
pub fn event_rule(id: &RdsEventId, categories: &[String]) -> Option<&'static EventRule> {
    EVENT_TABLE.iter().find(|rule| {
        rule.id == id.as_str()
            && categories
                .iter()
                .any(|c| c.eq_ignore_ascii_case(rule.category))
    })
}
