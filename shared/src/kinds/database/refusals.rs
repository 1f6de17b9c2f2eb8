//! The database guards' refusals: each guard's stable name, what it does to the
//! incident, and how people read it on the timeline.

use chrono::{DateTime, Utc};

use crate::domain::{Effect, Refusal};

pub fn not_managed(database: &str, tag_key: &str) -> Refusal {
    Refusal::new(
        "not-managed",
        Effect::Hold,
        format!("database {database} is not managed (tag {tag_key}=true missing): observed only"),
    )
}

/// Only a Multi-AZ instance (or a cluster with a reader) has a standby to fail over to;
/// rebooting a single-AZ instance is an outage, not a remedy.
pub fn not_multi_az(database: &str) -> Refusal {
    Refusal::new(
        "not-multi-az",
        Effect::Escalate,
        format!("{database} has no standby to fail over to (not Multi-AZ): a reboot would only take it down"),
    )
}

/// A failover is only asked on `available` (not rebooting, modifying, backing-up,
/// failing-over, storage-full, …).
pub fn not_available(database: &str, status: &str) -> Refusal {
    Refusal::new(
        "not-available",
        Effect::Hold,
        format!("{database} is {status}, not available: no failover is asked of it in that state"),
    )
}

/// A sick reader of a cluster: failing the cluster over would not take it out of service.
pub fn not_the_writer(database: &str, cluster: &str, writer: &str) -> Refusal {
    Refusal::new(
        "not-the-writer",
        Effect::Escalate,
        format!("{database} is a reader of cluster {cluster} (writer {writer}): a cluster failover would not take it out of service"),
    )
}

/// This incident's failover is already asked for (or simulated, in dry-run).
pub fn already_failing_over(database: &str) -> Refusal {
    Refusal::new(
        "already-failing-over",
        Effect::Echo,
        format!("{database} already has a failover requested"),
    )
}

/// RDS itself (or anyone) failed the database over within the cooldown.
pub fn recent_failover(database: &str, at: DateTime<Utc>, until: DateTime<Utc>) -> Refusal {
    Refusal::new(
        "recent-failover",
        Effect::Hold,
        format!(
            "{database} failed over at {} (RDS events): no new failover before {}",
            at.to_rfc3339(),
            until.to_rfc3339()
        ),
    )
}

/// RDS-EVENT-0034: RDS did not carry out the requested failover, because one happened
/// recently, and the database is still sick.
pub fn failover_skipped(database: &str, event: &str) -> Refusal {
    Refusal::new(
        "failover-skipped",
        Effect::Escalate,
        format!("RDS skipped the requested failover of {database} ({event}: one happened recently): the database is still sick"),
    )
}

/// Failovers RDS accepted and never carried out, while the database stays sick.
pub fn failover_had_no_effect(database: &str, attempts: usize) -> Refusal {
    Refusal::new(
        "failover-had-no-effect",
        Effect::Escalate,
        format!("{attempts} accepted failover request(s) for {database} had no effect: the primary has not moved and a designated alarm is still in ALARM"),
    )
}

/// A failure a failover cannot fix: the storage, the configuration, the key.
pub fn needs_a_person(database: &str, why: &str) -> Refusal {
    Refusal::new(
        "needs-a-person",
        Effect::Escalate,
        format!("{database} {why}: a failover cannot fix that"),
    )
}
