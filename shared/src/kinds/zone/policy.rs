//! Zones: when to shift a load balancer's traffic away from one of them, when to raise
//! capacity first, when to extend the shift, and when to end it and resolve. Pure:
//! every guard is a unit test (`policy_tests.rs`).
//!
//! ```text
//! impaired once ──► confirmed ──► [capacity raised] ──► shifted ──► healthy for the
//!   (held)          (2nd look       (zones left short)    (extended     settle time ──►
//!                    or its alarm)                         while         cancelled ──►
//!                                                          impaired)     takes traffic:
//!                                                                        resolved
//! ```

use chrono::{DateTime, Utc};

use super::observation::{ObservedZone, ZoneShift};
use super::{
    load_balancer, refusals, zone_ref, Cue, Evidence, Policy, CANCEL_ZONAL_SHIFT,
    EXTEND_ZONAL_SHIFT, RAISE_CAPACITY, START_ZONAL_SHIFT,
};
use crate::domain::{
    Action, ActionKind, ActionOutcome, Decision, Incident, PlannedAction, Refusal, Verdict,
};
use crate::kinds::target_group::auto_scaling_group;
use crate::kinds::target_group::observation::{ScalingGroup, TargetState};
use crate::policy::{duration, later, ledger_guards, not_recovered, History};
use crate::zonal;

/// What a group must keep serving outside the zone before traffic shifts onto the zones
/// left, and what it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capacity<'a> {
    pub group: &'a ScalingGroup,
    /// Instances needed outside the zone: the configured share of the desired capacity
    /// (without the zone's own instances once the group is shifted away from it).
    pub needed: usize,
    /// InService, healthy in the group's eyes and in the load balancer's, outside it.
    pub serving_elsewhere: usize,
    /// InService in the zone: the share a raise adds back elsewhere.
    pub in_zone: usize,
}

impl Capacity<'_> {
    pub fn short(&self) -> bool {
        self.serving_elsewhere < self.needed
    }

    /// The desired capacity a raise asks for: the zone's share added, up to MaxSize.
    pub fn raised_to(&self) -> u32 {
        let wanted = self
            .group
            .desired_capacity
            .saturating_add(u32::try_from(self.in_zone).unwrap_or(u32::MAX));
        wanted.min(self.group.max_size.max(self.group.desired_capacity))
    }
}

/// Each group behind the load balancer, with what it must carry without the zone.
pub fn capacity<'a>(observed: &'a ObservedZone, policy: &Policy) -> Vec<Capacity<'a>> {
    let healthy_target = |id| {
        observed
            .targets
            .iter()
            .any(|t| &t.target.instance_id == id && t.target.state == TargetState::Healthy)
    };
    observed
        .groups
        .iter()
        .filter(|g| {
            g.instances.iter().any(|i| {
                observed
                    .targets
                    .iter()
                    .any(|t| t.target.instance_id == i.instance_id)
            })
        })
        .map(|group| {
            let in_the_zone = |i: &&crate::kinds::target_group::observation::GroupInstance| {
                i.availability_zone.as_ref() == Some(&observed.zone)
            };
            let in_zone = group
                .instances
                .iter()
                .filter(|i| in_the_zone(i) && i.in_service())
                .count();
            // A group shifted away from the zone (for a raise) keeps its instances there
            // on top of what it runs elsewhere: the load is its desired capacity without
            // them, or the raise would keep moving the bar it was raised to reach.
            let load = if observed.group_shifted(&group.name) {
                (group.desired_capacity as usize).saturating_sub(in_zone)
            } else {
                group.desired_capacity as usize
            };
            Capacity {
                group,
                needed: load
                    .saturating_mul(policy.capacity_percent as usize)
                    .div_ceil(100),
                serving_elsewhere: group
                    .instances
                    .iter()
                    .filter(|i| !in_the_zone(i) && i.serving() && healthy_target(&i.instance_id))
                    .count(),
                in_zone,
            }
        })
        .collect()
}

/// One line per zone: `us-east-1a 0/2 unhealthy, us-east-1b 2/2 unhealthy`.
fn counts_line(observed: &ObservedZone) -> String {
    observed
        .counts
        .iter()
        .map(|c| format!("{} {}/{} unhealthy", c.zone, c.unhealthy, c.targets))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn summary(observed: &ObservedZone) -> String {
    format!(
        "{} behind {}: {}",
        observed.zone,
        observed.load_balancer.arn.name(),
        observed.this_zone().describe()
    )
}

fn planned(kind: ActionKind, observed: &ObservedZone, policy: &Policy) -> PlannedAction {
    let zone = zone_ref(&observed.load_balancer.arn, &observed.zone);
    // A new shift counts against the load balancer's ledger and waits out its cooldown.
    // Extending or ending Rebound's own shift is never held back, and counts against the
    // zone's own ledger, so it does not restart the load balancer's cooldown.
    let (scope, cooldown) = if kind == START_ZONAL_SHIFT {
        (load_balancer(&observed.load_balancer.arn), policy.cooldown)
    } else {
        (zone.clone(), std::time::Duration::ZERO)
    };
    PlannedAction {
        kind,
        target: zone,
        scope,
        configuration: None,
        cooldown,
        repeat_limit: None,
    }
}

pub fn decide(
    observed: &ObservedZone,
    cue: &Cue,
    history: History<'_>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Decision {
    let mut decision = guarded(observed, cue, history, policy, now);
    // Last, after every other guard: a shift (or the capacity raised for it) whose mode
    // is approve waits for a person (the load balancer's or group's rebound:approval
    // tag, or APPROVAL_MODES). Extending and ending Rebound's own shift never wait.
    crate::approval::gate(
        &mut decision,
        history.incident,
        &policy.settings.approvals,
        super::APPROVABLE,
        |scope| {
            if observed.load_balancer.arn.as_str() == scope.id {
                return Some(&observed.load_balancer.tags);
            }
            ScalingGroup::tags_of(&observed.groups, scope)
        },
        now,
    );
    decision
}

/// Every guard but the approval's.
fn guarded(
    observed: &ObservedZone,
    cue: &Cue,
    history: History<'_>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Decision {
    let summary = summary(observed);
    let kept = history
        .incident
        .and_then(|i| i.evidence.read::<Evidence>().ok())
        .unwrap_or_default();
    let impaired = zonal::outlier(&observed.counts, &policy.rule)
        .is_some_and(|outlier| outlier.zone == observed.zone);
    if let Some(incident) = history.incident {
        if observed.ours(&incident.id).next().is_some() {
            return evacuated(
                observed, incident, &kept, impaired, history, policy, now, summary,
            );
        }
    }
    if !impaired {
        return not_impaired(observed, history.incident, &kept, policy, now, summary);
    }
    if let Some(theirs) = away_from_here(observed) {
        // Someone else evacuated it already (zonal autoshift, a person, a drill): follow
        // it, call nothing.
        return Decision::plain(
            Verdict::Underway,
            format!(
                "{summary}; traffic already shifted away by {}",
                theirs.describe()
            ),
        );
    }
    let confirmed = cue.confirms()
        || kept
            .impaired_since
            .is_some_and(|since| now >= later(since, duration(policy.confirm)));
    if !confirmed {
        let from = later(kept.impaired_since.unwrap_or(now), duration(policy.confirm));
        return Decision::from_guards(
            vec![],
            vec![refusals::confirming(
                observed.zone.as_str(),
                kept.impaired_since,
                from,
            )],
            summary,
        );
    }
    shift(observed, history, policy, now, summary)
}

/// A shift in effect on the load balancer away from this zone.
fn away_from_here(observed: &ObservedZone) -> Option<&ZoneShift> {
    let zone_id = observed.zone_id()?;
    observed
        .on_load_balancer
        .iter()
        .find(|s| &s.away_from == zone_id && s.applied)
}

/// The zone is confirmed impaired and Rebound has no shift of its own on the load
/// balancer: every guard, capacity first, then the shift.
fn shift(
    observed: &ObservedZone,
    history: History<'_>,
    policy: &Policy,
    now: DateTime<Utc>,
    summary: String,
) -> Decision {
    let balancer = &observed.load_balancer;
    let name = balancer.arn.full_name();
    let refuse = |refusal: Refusal| Decision::from_guards(vec![], vec![refusal], summary.clone());
    if let Some(other) = observed.on_load_balancer.first() {
        return refuse(refusals::shift_in_progress(name, &other.describe()));
    }
    if !policy.settings.is_managed(&balancer.tags) {
        return refuse(refusals::not_managed(
            name,
            &policy.settings.managed_tag_key,
        ));
    }
    // A person's "not now" stops a new shift (and the capacity raised for it); a shift
    // Rebound already made is still extended and ended as usual.
    // A pause on the load balancer or on any group behind it: the shift would move both.
    let paused = crate::pause::hands_off(&format!("load balancer {name}"), &balancer.tags, now)
        .or_else(|| {
            observed.groups.iter().find_map(|group| {
                crate::pause::hands_off(&format!("group {}", group.name), &group.tags, now)
            })
        });
    if let Some(refusal) = paused {
        return refuse(refusal);
    }
    if !balancer.zonal_shift_enabled {
        return refuse(refusals::zonal_shift_disabled(name));
    }
    if observed.zone_id().is_none() {
        return refuse(refusals::zone_id_unknown(observed.zone.as_str()));
    }
    let mut raises: Vec<PlannedAction> = Vec::new();
    let mut held: Vec<Refusal> = Vec::new();
    for need in capacity(observed, policy).iter().filter(|c| c.short()) {
        match raise(need, observed, history, policy) {
            Ok(action) => match ledger_guards(&action, history, &raises, &policy.settings, now) {
                Ok(()) => raises.push(action),
                Err(refusal) => held.push(refusal),
            },
            Err(refusal) => held.push(refusal),
        }
    }
    if held.iter().any(Refusal::escalates) {
        return Decision::from_guards(vec![], held, summary);
    }
    if !raises.is_empty() || !held.is_empty() {
        return Decision::from_guards(raises, held, summary);
    }
    let action = planned(START_ZONAL_SHIFT, observed, policy);
    match ledger_guards(&action, history, &[], &policy.settings, now) {
        Ok(()) => Decision::from_guards(vec![action], vec![], summary),
        Err(refusal) => refuse(refusal),
    }
}

/// The raise a group short of capacity needs, or why it cannot have one (a group raised
/// already waits for its new capacity: a refusal that holds).
fn raise(
    need: &Capacity<'_>,
    observed: &ObservedZone,
    history: History<'_>,
    policy: &Policy,
) -> Result<PlannedAction, Refusal> {
    let group = need.group;
    let zone = observed.zone.as_str();
    let scope = auto_scaling_group(&group.name);
    let raised_already = history.incident.is_some_and(|incident| {
        incident
            .actions
            .iter()
            .any(|a| a.kind == RAISE_CAPACITY && a.scope == scope && a.outcome.was_requested())
    });
    if raised_already {
        return Err(refusals::capacity_launching(
            group.name.as_str(),
            need.serving_elsewhere,
            need.needed,
            zone,
        ));
    }
    let short = format!(
        "group {} serves {} of the {} instances needed outside it",
        group.name, need.serving_elsewhere, need.needed
    );
    if !policy.settings.is_managed(&group.tags) {
        return Err(refusals::zones_left_cannot_carry(
            zone,
            &format!("{short}, and it is not managed: Rebound does not raise its capacity"),
        ));
    }
    if !group.zonal_shift_enabled || group.arn.is_none() {
        return Err(refusals::zones_left_cannot_carry(
            zone,
            &format!("{short}, and new capacity could launch into the impaired zone: the group does not take part in zonal shift (AvailabilityZoneImpairmentPolicy ZonalShiftEnabled)"),
        ));
    }
    let added = (need.raised_to().saturating_sub(group.desired_capacity)) as usize;
    if need.serving_elsewhere.saturating_add(added) < need.needed {
        return Err(refusals::zones_left_cannot_carry(
            zone,
            &format!(
                "{short}, and even raised to its MaxSize of {} it would serve {}",
                group.max_size,
                need.serving_elsewhere.saturating_add(added)
            ),
        ));
    }
    Ok(PlannedAction {
        kind: RAISE_CAPACITY,
        target: scope.clone(),
        scope,
        configuration: None,
        cooldown: std::time::Duration::ZERO,
        repeat_limit: None,
    })
}

/// Rebound's shift (or its group shifts, before the load balancer's) is in effect.
#[allow(clippy::too_many_arguments)]
fn evacuated(
    observed: &ObservedZone,
    incident: &Incident,
    kept: &Evidence,
    impaired: bool,
    history: History<'_>,
    policy: &Policy,
    now: DateTime<Utc>,
    summary: String,
) -> Decision {
    let zone = observed.zone.as_str();
    let here = observed.this_zone();
    let Some(ours) = observed.our_load_balancer_shift(&incident.id) else {
        // Groups shifted for a raise, the load balancer not yet.
        if impaired {
            return shift(observed, history, policy, now, summary);
        }
        if here.all_healthy() {
            return Decision::from_guards(
                vec![planned(CANCEL_ZONAL_SHIFT, observed, policy)],
                vec![],
                format!("{summary}; {zone} recovered before its traffic was shifted"),
            );
        }
        return still_recovering(observed, incident, policy, now, summary);
    };
    if here.all_healthy() {
        let since = kept.healthy_since.unwrap_or(now);
        let until = later(since, duration(policy.settle));
        if now >= until {
            return Decision::from_guards(
                vec![planned(CANCEL_ZONAL_SHIFT, observed, policy)],
                vec![],
                format!("{summary}; healthy since {}", since.to_rfc3339()),
            );
        }
        return Decision::waiting(
            format!(
                "{zone} healthy since {}; Rebound ends its shift at {} if it stays so",
                since.to_rfc3339(),
                until.to_rfc3339()
            ),
            summary,
        );
    }
    if let Some(decision) = extension(observed, incident, ours, policy, now, &summary) {
        return decision;
    }
    if zonal::spread(&observed.counts, &policy.rule) {
        let others = observed
            .counts
            .iter()
            .filter(|c| c.zone != observed.zone && c.unhealthy > 0)
            .map(zonal::ZoneCount::describe)
            .collect::<Vec<_>>()
            .join(", ");
        return Decision::from_guards(
            vec![],
            vec![refusals::impairment_spread(zone, &others)],
            summary,
        );
    }
    let until = ours
        .expires_at
        .map(|at| format!(" until {}", at.to_rfc3339()))
        .unwrap_or_default();
    Decision::waiting(
        format!(
            "{zone} still impaired ({}); its traffic is shifted away{until}",
            here.describe()
        ),
        summary,
    )
}

/// Extends Rebound's shift while the zone stays impaired, once less than half its
/// expiry is left, up to the longest shift allowed; then escalates.
fn extension(
    observed: &ObservedZone,
    incident: &Incident,
    ours: &ZoneShift,
    policy: &Policy,
    now: DateTime<Utc>,
    summary: &str,
) -> Option<Decision> {
    let expires_at = ours.expires_at?;
    let expiry = duration(policy.shift_expiry);
    if expires_at.signed_duration_since(now) >= expiry / 2 {
        return None;
    }
    let started = first_shift(incident).or(ours.started_at).unwrap_or(now);
    let limit = later(started, duration(policy.shift_max));
    if expires_at >= limit {
        return Some(Decision::from_guards(
            vec![],
            vec![refusals::shift_limit_reached(
                observed.zone.as_str(),
                duration(policy.shift_max).num_hours(),
                Some(expires_at),
            )],
            summary.to_owned(),
        ));
    }
    Some(Decision::from_guards(
        vec![planned(EXTEND_ZONAL_SHIFT, observed, policy)],
        vec![],
        summary.to_owned(),
    ))
}

/// How long an extension asks for: the usual expiry, or what is left of the longest
/// shift allowed.
pub fn extension_length(
    incident: &Incident,
    ours: &ZoneShift,
    policy: &Policy,
    now: DateTime<Utc>,
) -> std::time::Duration {
    let started = first_shift(incident).or(ours.started_at).unwrap_or(now);
    let limit = later(started, duration(policy.shift_max));
    let left = limit
        .signed_duration_since(now)
        .to_std()
        .unwrap_or_default();
    left.min(policy.shift_expiry)
}

/// When Rebound first shifted the load balancer in this incident.
fn first_shift(incident: &Incident) -> Option<DateTime<Utc>> {
    incident
        .actions
        .iter()
        .filter(|a| a.kind == START_ZONAL_SHIFT && a.outcome.was_requested())
        .map(|a| a.requested_at)
        .min()
}

/// No shift of Rebound's is in effect and the zone is not the impaired outlier.
fn not_impaired(
    observed: &ObservedZone,
    incident: Option<&Incident>,
    kept: &Evidence,
    policy: &Policy,
    now: DateTime<Utc>,
    summary: String,
) -> Decision {
    let Some(incident) = incident else {
        return Decision::plain(Verdict::Healthy, summary);
    };
    let zone = observed.zone.as_str();
    let here = observed.this_zone();
    if here.all_healthy() {
        // After Rebound ended its own shift, the zone serving and healthy is the proof;
        // otherwise (never shifted, or a shift that ended by itself) it must stay healthy
        // for the settle time first, so a flapping zone does not open and close
        // incidents.
        let cancelled = last_action_of(incident, &[START_ZONAL_SHIFT, CANCEL_ZONAL_SHIFT])
            .is_some_and(|a| a.kind == CANCEL_ZONAL_SHIFT && a.outcome == ActionOutcome::Succeeded);
        let since = kept.healthy_since.unwrap_or(now);
        let until = later(since, duration(policy.settle));
        if cancelled || now >= until {
            let traffic = match away_from_here(observed) {
                Some(theirs) => format!(
                    "; {} keeps its traffic away until its owner ends it",
                    theirs.describe()
                ),
                None => "; it takes traffic again".to_owned(),
            };
            return Decision::plain(Verdict::Resolve, format!("{summary}{traffic}"));
        }
        return Decision::waiting(
            format!(
                "{zone} healthy since {}; resolved at {} if it stays so",
                since.to_rfc3339(),
                until.to_rfc3339()
            ),
            summary,
        );
    }
    if zonal::spread(&observed.counts, &policy.rule) {
        return Decision::from_guards(
            vec![],
            vec![refusals::not_isolated(zone, &counts_line(observed))],
            summary,
        );
    }
    still_recovering(observed, incident, policy, now, summary)
}

/// No longer impaired as a zone, but not all healthy either (a target or two the
/// target groups' rules handle): wait, within the recovery timeout.
fn still_recovering(
    observed: &ObservedZone,
    incident: &Incident,
    policy: &Policy,
    now: DateTime<Utc>,
    summary: String,
) -> Decision {
    let why = format!(
        "{}: no longer impaired as a zone, not all healthy yet",
        observed.this_zone().describe()
    );
    let since = incident.last_action_at().unwrap_or(incident.opened_at);
    let timeout = duration(policy.settings.recovery_timeout);
    if now >= later(since, timeout) {
        return Decision::from_guards(
            vec![],
            vec![not_recovered(timeout.num_minutes(), &why)],
            summary,
        );
    }
    Decision::waiting(why, summary)
}

fn last_action_of<'a>(incident: &'a Incident, kinds: &[ActionKind]) -> Option<&'a Action> {
    incident
        .actions
        .iter()
        .filter(|a| kinds.contains(&a.kind) && a.outcome != ActionOutcome::Simulated)
        .max_by_key(|a| a.requested_at)
}

/// How to settle a write-ahead action whose outcome was never recorded, once overdue:
/// read whether what it asked for is in effect.
pub fn settle_pending(
    action: &Action,
    observed: &ObservedZone,
    incident: &crate::ids::IncidentId,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Option<(ActionOutcome, String)> {
    if now
        < later(
            action.requested_at,
            duration(policy.settings.pending_action_timeout),
        )
    {
        return None;
    }
    let ours_on_balancer = observed.our_load_balancer_shift(incident).is_some();
    let took_effect = if action.kind == START_ZONAL_SHIFT {
        ours_on_balancer
    } else if action.kind == EXTEND_ZONAL_SHIFT {
        observed
            .our_load_balancer_shift(incident)
            .and_then(|s| s.expires_at)
            .is_some_and(|at| at > later(action.requested_at, duration(policy.shift_expiry) / 2))
    } else if action.kind == CANCEL_ZONAL_SHIFT {
        observed.ours(incident).next().is_none()
    } else if action.kind == RAISE_CAPACITY {
        observed
            .groups
            .iter()
            .find(|g| auto_scaling_group(&g.name) == action.target)
            .is_some_and(|g| observed.group_shifted(&g.name))
    } else {
        return None;
    };
    Some(if took_effect {
        (
            ActionOutcome::Succeeded,
            "settled: in effect after the request".into(),
        )
    } else {
        (
            ActionOutcome::Failed,
            "settled: the request never took effect".into(),
        )
    })
}
