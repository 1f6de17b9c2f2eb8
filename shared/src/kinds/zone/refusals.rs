//! The zone guards' refusals: each guard's stable name, what it does to the incident,
//! and how people read it on the timeline.

use chrono::{DateTime, Utc};

use crate::domain::{Effect, Refusal};

/// One observation is not proof: a second one (or the zone's own alarm) confirms.
pub fn confirming(zone: &str, since: Option<DateTime<Utc>>, until: DateTime<Utc>) -> Refusal {
    let seen = since
        .map(|at| format!("since {}", at.to_rfc3339()))
        .unwrap_or_else(|| "for the first time".to_owned());
    Refusal::new(
        "confirming-impairment",
        Effect::Hold,
        format!("{zone} looks impaired ({seen}); a second observation from {} or its zone alarm confirms it; its instances are held, not replaced", until.to_rfc3339()),
    )
}

pub fn not_managed(load_balancer: &str, tag_key: &str) -> Refusal {
    Refusal::new(
        "not-managed",
        Effect::Hold,
        format!("load balancer {load_balancer} is not managed (tag {tag_key}=true missing): observed only"),
    )
}

pub fn zonal_shift_disabled(load_balancer: &str) -> Refusal {
    Refusal::new(
        "zonal-shift-disabled",
        Effect::Escalate,
        format!("load balancer {load_balancer} does not take part in zonal shift (attribute zonal_shift.config.enabled is not true): the zone cannot be evacuated"),
    )
}

pub fn zone_id_unknown(zone: &str) -> Refusal {
    Refusal::new(
        "zone-id-unknown",
        Effect::Escalate,
        format!(
            "{zone} has no zone ID in DescribeAvailabilityZones: zonal shift names zones by ID"
        ),
    )
}

/// Another shift is already in effect on the load balancer: never a second zone, never
/// over an autoshift or a practice run.
pub fn shift_in_progress(load_balancer: &str, running: &str) -> Refusal {
    Refusal::new(
        "shift-in-progress",
        Effect::Hold,
        format!("{running} is in effect on load balancer {load_balancer}: Rebound starts no shift of its own while it lasts"),
    )
}

/// The zones left cannot carry the load and capacity cannot be raised to where they can.
pub fn zones_left_cannot_carry(zone: &str, why: &str) -> Refusal {
    Refusal::new(
        "zones-left-cannot-carry",
        Effect::Escalate,
        format!("traffic is not shifted away from {zone}: {why}"),
    )
}

/// Capacity was raised; the shift waits until it serves.
pub fn capacity_launching(group: &str, serving: usize, needed: usize, zone: &str) -> Refusal {
    Refusal::new(
        "capacity-launching",
        Effect::Hold,
        format!("group {group} serves {serving} of the {needed} instances needed outside {zone}; the capacity Rebound raised is launching and the shift waits for it"),
    )
}

/// The zone is still impaired and its shift already runs to the longest Rebound keeps
/// one zone shifted away: no further extension.
pub fn shift_limit_reached(zone: &str, hours: i64, expires_at: Option<DateTime<Utc>>) -> Refusal {
    let ends = expires_at
        .map(|at| format!(" at {}", at.to_rfc3339()))
        .unwrap_or_default();
    Refusal::new(
        "shift-limit-reached",
        Effect::Escalate,
        format!("{zone} is still impaired, and its shift already runs to the {hours} h Rebound keeps a zone shifted away: it is not extended further and ends{ends}"),
    )
}

/// While evacuated, the failure spread to the zones that carry the traffic.
pub fn impairment_spread(zone: &str, others: &str) -> Refusal {
    Refusal::new(
        "impairment-spread",
        Effect::Escalate,
        format!("traffic is shifted away from {zone}, and the zones carrying it now fail too ({others}): a person is needed; the shift stays"),
    )
}

/// Failures span zones: not one zone's problem, the target groups' rules apply.
pub fn not_isolated(zone: &str, counts: &str) -> Refusal {
    Refusal::new(
        "not-isolated",
        Effect::Hold,
        format!("{zone} is no longer the isolated outlier ({counts}): failures across zones are the target groups' to handle"),
    )
}
