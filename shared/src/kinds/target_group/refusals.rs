//! The target-group guards' refusals: each guard's stable name (logs, metrics, a check's
//! report), what it does to the incident, and how people read it on the timeline.

use crate::domain::{Effect, Refusal};

/// Every target is unhealthy: the load balancer fails open, a systemic failure.
pub fn all_targets_unhealthy(unhealthy: usize) -> Refusal {
    Refusal::new(
        "all-targets-unhealthy",
        Effect::Escalate,
        format!("all {unhealthy} targets are unhealthy: the load balancer is failing open, a systemic failure that replacing instances will not fix"),
    )
}

pub fn unhealthy_share_above_limit(unhealthy: usize, total: usize, limit_percent: u32) -> Refusal {
    Refusal::new(
        "unhealthy-share-above-limit",
        Effect::Escalate,
        format!("{unhealthy} of {total} targets unhealthy is above the {limit_percent}% blast-radius limit"),
    )
}

pub fn not_an_instance_failure(instance: &str, reason: &str) -> Refusal {
    Refusal::new(
        "not-an-instance-failure",
        Effect::Hold,
        format!("{instance} is unhealthy for {reason}, which is not a failure of the instance"),
    )
}

pub fn not_in_auto_scaling_group(instance: &str) -> Refusal {
    Refusal::new(
        "not-in-auto-scaling-group",
        Effect::Hold,
        format!("{instance} belongs to no Auto Scaling group"),
    )
}

pub fn not_managed(group: &str, tag_key: &str) -> Refusal {
    Refusal::new(
        "not-managed",
        Effect::Hold,
        format!("group {group} is not managed (tag {tag_key}=true missing): observed only"),
    )
}

pub fn group_cannot_heal(group: &str, why: &str) -> Refusal {
    Refusal::new(
        "group-cannot-heal",
        Effect::Hold,
        format!("group {group} cannot heal: {why}"),
    )
}

pub fn already_replacing(instance: &str) -> Refusal {
    Refusal::new(
        "already-replacing",
        Effect::Echo,
        format!("{instance} already has a replacement requested"),
    )
}

pub fn not_in_service(instance: &str, lifecycle_state: &str, health_status: &str) -> Refusal {
    Refusal::new(
        "not-in-service",
        Effect::Echo,
        format!("{instance} is {lifecycle_state}/{health_status}, not InService/Healthy: the group is already handling it"),
    )
}

/// The group replaces ELB-unhealthy instances itself: it gets the first go, until its
/// grace period plus a margin have passed since the failure was first seen.
pub fn native_healer_first(instance: &str, group: &str, until: &str) -> Refusal {
    Refusal::new(
        "native-healer-first",
        Effect::Hold,
        format!("group {group} replaces ELB-unhealthy instances itself (HealthCheckType ELB): its own replacement of {instance} has until {until}, then Rebound acts"),
    )
}

pub fn in_flight_limit(group: &str, in_flight: usize, limit: usize) -> Refusal {
    Refusal::new(
        "in-flight-limit",
        Effect::Hold,
        format!("group {group} has {in_flight} replacement(s) in flight, the limit is {limit}"),
    )
}

/// Accepted calls that changed nothing, e.g. SetInstanceHealth inside the health-check
/// grace period, which Auto Scaling accepts and ignores.
pub fn action_had_no_effect(instance: &str, attempts: usize, grace_period_s: u32) -> Refusal {
    Refusal::new(
        "action-had-no-effect",
        Effect::Escalate,
        format!("{attempts} accepted replacement request(s) for {instance} had no effect: it is still in service and failing (health-check grace period {grace_period_s} s)"),
    )
}

/// The group depends on a database that is healing (open incident, or a failover
/// completed less than the settle time ago): its instances are not the problem.
pub fn dependency_held(group: &str, database: &str, incident: &str, why: &str) -> Refusal {
    Refusal::new(
        "dependency-held",
        Effect::Suppress,
        format!("group {group} depends on database {database}, which {why} (incident {incident}): its instances are held, not replaced"),
    )
}

/// The instance's zone looks impaired (most of its targets failing, the other zones
/// healthy): a replacement launched there would fail too. The zone is evacuated instead.
pub fn zone_impaired(instance: &str, zone: &str, count: &str) -> Refusal {
    Refusal::new(
        "zone-impaired",
        Effect::Suppress,
        format!("{instance} is in {zone}, which looks impaired ({count}, the other zones healthy): held for zonal evacuation, not replaced"),
    )
}

/// The instance's zone is shifted away from: it serves no traffic, and it is not
/// replaced while the shift lasts.
pub fn zone_evacuated(instance: &str, zone: &str, by: &str) -> Refusal {
    Refusal::new(
        "zone-evacuated",
        Effect::Suppress,
        format!("zone evacuated: {instance} is in {zone}, whose traffic is shifted away ({by}); not replaced while the shift lasts"),
    )
}
