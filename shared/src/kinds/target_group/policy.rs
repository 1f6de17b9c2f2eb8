//! Target groups: which unhealthy instances to replace through their Auto Scaling
//! group, and when a target group verifiably serves again. Pure: every guard is a unit
//! test (`policy_tests.rs`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};

use super::observation::{
    GroupInstance, ScalingGroup, ShiftedZone, TargetHealth, TargetState, REPLACE_UNHEALTHY,
};
use super::{
    refusals, Policy, ScheduledChange, AUTO_SCALING_GROUP, RESUME_REPLACE_UNHEALTHY,
    SUSPEND_REPLACE_UNHEALTHY,
};
use crate::change::InFlight;
use crate::config::Mode;
use crate::domain::{
    Action, ActionOutcome, Decision, Incident, NativeHealing, PlannedAction, PlannedWork, Refusal,
    RepeatLimit, ResourceRef, Verdict,
};
use crate::ids::{AvailabilityZone, DbInstanceId, InstanceId};
use crate::pause;
use crate::policy::{duration, later, ledger_guards, overdue, stopped_by_loop_guard, History};
use crate::ports::DependencyState;
use crate::zonal;

/// What is known about a target group at decision time.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    pub targets: &'a [TargetHealth],
    /// The Auto Scaling groups owning the targets, and those the incident acted through.
    pub groups: &'a [ScalingGroup],
    /// What Rebound's records say about the databases the managed groups depend on
    /// (`rebound:depends-on`); looked up only when an action is possible.
    pub dependencies: &'a [(DbInstanceId, DependencyState)],
    /// Zones shifted away from on the load balancers in front of the target group.
    pub shifted: &'a [ShiftedZone],
    /// Changes in flight on the managed groups with failing targets (a stack update, a
    /// deployment); read only when an action is possible.
    pub changes: &'a InFlight,
    /// Work AWS scheduled on instances behind the target group: replaced ahead of it.
    pub scheduled: &'a [ScheduledChange],
}

impl Observation<'_> {
    fn serving_total(&self) -> usize {
        self.targets.iter().filter(|t| t.state.is_serving()).count()
    }

    fn unhealthy(&self) -> impl Iterator<Item = &TargetHealth> {
        self.targets.iter().filter(|t| t.state.is_unhealthy())
    }

    fn member(&self, instance: &InstanceId) -> Option<(&ScalingGroup, &GroupInstance)> {
        self.groups
            .iter()
            .find_map(|g| g.instance(instance).map(|m| (g, m)))
    }

    fn zone_of(&self, instance: &InstanceId) -> Option<&AvailabilityZone> {
        self.member(instance)
            .and_then(|(_, member)| member.availability_zone.as_ref())
    }

    /// What was observed, and which reads that guards depend on failed.
    pub fn summary(&self) -> String {
        let summary = format!(
            "{} of {} targets unhealthy",
            self.unhealthy().count(),
            self.serving_total()
        );
        match self.changes.note() {
            Some(note) => format!("{summary}; {note}"),
            None => summary,
        }
    }
}

/// Blast radius: a failure this wide is not instance failures, and killing instances
/// would make it worse. Needs only the targets, so the observer can skip looking up
/// groups it will not act on.
pub fn systemic_failure(targets: &[TargetHealth], policy: &Policy) -> Option<Refusal> {
    let total = targets.iter().filter(|t| t.state.is_serving()).count();
    let unhealthy = targets.iter().filter(|t| t.state.is_unhealthy()).count();
    if unhealthy == 0 {
        None
    } else if unhealthy == total {
        Some(refusals::all_targets_unhealthy(unhealthy))
    } else if unhealthy.saturating_mul(100)
        > (policy.max_unhealthy_percent as usize).saturating_mul(total)
    {
        Some(refusals::unhealthy_share_above_limit(
            unhealthy,
            total,
            policy.max_unhealthy_percent,
        ))
    } else {
        None
    }
}

pub fn decide(
    observation: Observation<'_>,
    history: History<'_>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Decision {
    let mut decision = guarded(observation, history, policy, now);
    decision.planned = planned_work(observation.scheduled);
    // Last, after every other guard: a replacement whose mode is approve waits for a
    // person (the group's rebound:approval tag, or APPROVAL_MODES).
    crate::approval::gate(
        &mut decision,
        history.incident,
        &policy.settings.approvals,
        super::APPROVABLE,
        |scope| ScalingGroup::tags_of(observation.groups, scope),
        now,
    );
    decision
}

/// Every guard but the approval's.
fn guarded(
    observation: Observation<'_>,
    history: History<'_>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Decision {
    let summary = observation.summary();
    if observation.unhealthy().next().is_none() {
        if let Some(mut decision) = ahead_of_scheduled_work(observation, history, policy, now) {
            decision.upkeep = upkeep(observation, &BTreeSet::new(), policy, now);
            return decision;
        }
        let mut decision = recovery(observation, history, policy, now, summary);
        decision.upkeep = upkeep(observation, &BTreeSet::new(), policy, now);
        if decision.verdict != Verdict::Healthy {
            decision.native_healing = native_healing(&seen_failing(history), observation, history);
        }
        return decision;
    }
    // What holds instances comes before the blast radius: a database the group depends
    // on healing (invariant 7), a zone impaired or evacuated (invariant 15). Only what
    // neither explains is a systemic failure.
    let impaired = impaired_zone(observation, policy);
    let mut refusals: Vec<Refusal> = Vec::new();
    let mut open: Vec<&TargetHealth> = Vec::new();
    let mut held_groups: BTreeSet<&str> = BTreeSet::new();
    for target in observation.unhealthy() {
        // A person said "not now" (a pause, a maintenance window) or is changing the
        // group (a stack update, a deployment): recorded, and nothing is done for the
        // group, not even the upkeep of a hold.
        if let Some(refusal) = hands_off(target, observation, policy, now) {
            refusals.push(refusal);
            continue;
        }
        match held(
            &target.instance_id,
            observation,
            impaired.as_ref(),
            policy,
            now,
        ) {
            Some(refusal) => {
                if let Some((group, _)) = observation.member(&target.instance_id) {
                    held_groups.insert(group.name.as_str());
                }
                refusals.push(refusal);
            }
            None => open.push(target),
        }
    }
    let upkeep = upkeep(observation, &held_groups, policy, now);
    let mut decision = decide_unheld(observation, history, policy, now, summary, refusals, open);
    decision.upkeep = upkeep;
    decision
}

/// What a hold needs done to the groups behind the target group: a group that replaces
/// ELB-unhealthy instances by itself has its ReplaceUnhealthy suspended while its
/// instances are held (or it would replace them anyway), and every suspension Rebound
/// made is resumed once nothing holds the group any more (invariant 14: only Rebound's
/// own, which its tag names).
fn upkeep(
    observation: Observation<'_>,
    held_groups: &BTreeSet<&str>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Vec<PlannedAction> {
    let mut upkeep = Vec::new();
    for group in observation.groups.iter().filter(|g| {
        policy.settings.is_managed(&g.tags)
            && pause::hands_off("", &g.tags, now).is_none()
            && observation.changes.hold(&g.name).is_none()
    }) {
        let held = held_groups.contains(group.name.as_str());
        let kind =
            if held && group.replaces_on_elb_health() && !group.is_suspended(REPLACE_UNHEALTHY) {
                SUSPEND_REPLACE_UNHEALTHY
            } else if !held && group.suspended_by_rebound().is_some() {
                RESUME_REPLACE_UNHEALTHY
            } else {
                continue;
            };
        let scope = super::auto_scaling_group(&group.name);
        upkeep.push(PlannedAction {
            kind,
            target: scope.clone(),
            scope,
            configuration: None,
            cooldown: std::time::Duration::ZERO,
            repeat_limit: None,
        });
    }
    upkeep
}

/// The blast radius and every per-instance guard, for the failing instances nothing
/// holds (`open`), after the held ones' refusals.
fn decide_unheld(
    observation: Observation<'_>,
    history: History<'_>,
    policy: &Policy,
    now: DateTime<Utc>,
    summary: String,
    mut refusals: Vec<Refusal>,
    open: Vec<&TargetHealth>,
) -> Decision {
    if !open.is_empty() {
        // The blast radius of what nothing holds: the held failing targets left out.
        let rest: Vec<TargetHealth> = observation
            .targets
            .iter()
            .filter(|t| {
                !t.state.is_unhealthy() || open.iter().any(|o| o.instance_id == t.instance_id)
            })
            .cloned()
            .collect();
        if let Some(refusal) = systemic_failure(&rest, policy) {
            refusals.push(refusal);
            return Decision::from_guards(vec![], refusals, summary);
        }
    }

    let healing = native_healing(open.iter().map(|t| &t.instance_id), observation, history);
    let mut picked: Vec<PlannedAction> = Vec::new();
    for target in open {
        let guarded = if target.failed_health_checks() {
            guard_instance(
                &target.instance_id,
                Replacing::Failing,
                observation,
                history,
                policy,
                now,
                &picked,
            )
        } else {
            let reason = target.reason.as_deref().unwrap_or("no reason code");
            Err(refusals::not_an_instance_failure(
                target.instance_id.as_str(),
                reason,
            ))
        };
        match guarded {
            Ok(action) => picked.push(action),
            Err(refusal) => refusals.push(refusal),
        }
    }
    let mut decision = Decision::from_guards(picked, refusals, summary);
    // Nothing for Rebound to do and the group replacing what fails: its healing is under
    // way, recorded as the group's.
    if decision.verdict == Verdict::Hold {
        if let Some(healing) = healing {
            decision.verdict = Verdict::Underway;
            decision.native_healing = Some(healing);
        }
    }
    // Held while a replacement is under way, for longer than recovery may take: a
    // person is needed.
    if let Some(incident) = history.incident {
        let waiting = decision.verdict == Verdict::Hold
            && incident.actions.iter().any(|a| a.outcome.was_requested());
        if waiting {
            if let Some(refusal) = overdue(incident, &policy.settings, now, &decision.summary) {
                decision.verdict = Verdict::Escalate;
                decision.refusals.push(refusal);
            }
        }
    }
    decision
}

/// The zone that is the isolated outlier among this target group's targets (each
/// counted in its instance's zone), if one is.
fn impaired_zone(observation: Observation<'_>, policy: &Policy) -> Option<zonal::ZoneCount> {
    let counts = zonal::count(observation.targets.iter().filter_map(|t| {
        let zone = observation.zone_of(&t.instance_id)?;
        t.state
            .is_serving()
            .then_some((zone, t.state.is_unhealthy()))
    }));
    zonal::outlier(&counts, &policy.zonal).cloned()
}

/// A pause or a maintenance window on the failing instance's managed group, or a
/// change in flight on it (invariant 16).
fn hands_off(
    target: &TargetHealth,
    observation: Observation<'_>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Option<Refusal> {
    let (group, _) = observation.member(&target.instance_id)?;
    if !policy.settings.is_managed(&group.tags) {
        return None;
    }
    pause::hands_off(&format!("group {}", group.name), &group.tags, now)
        .or_else(|| observation.changes.hold(&group.name))
}

/// What holds a failing instance whatever its own state: the database its (managed)
/// group depends on healing, or its zone impaired or shifted away from.
fn held(
    instance_id: &InstanceId,
    observation: Observation<'_>,
    impaired: Option<&zonal::ZoneCount>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Option<Refusal> {
    let instance = instance_id.as_str();
    if let Some((group, _)) = observation.member(instance_id) {
        if policy.settings.is_managed(&group.tags) {
            if let Some(hold) = dependency_hold(group, observation.dependencies, policy, now) {
                return Some(hold);
            }
        }
    }
    let zone = observation.zone_of(instance_id)?;
    if let Some(shift) = observation.shifted.iter().find(|s| &s.zone == zone) {
        return Some(refusals::zone_evacuated(instance, zone.as_str(), &shift.by));
    }
    impaired
        .filter(|outlier| &outlier.zone == zone)
        .map(|outlier| refusals::zone_impaired(instance, zone.as_str(), &outlier.describe()))
}

/// Nothing is failing: resolve only what verifiably serves again.
fn recovery(
    observation: Observation<'_>,
    history: History<'_>,
    policy: &Policy,
    now: DateTime<Utc>,
    summary: String,
) -> Decision {
    let Some(incident) = history.incident else {
        return Decision::plain(Verdict::Healthy, summary);
    };
    match unverified(observation, incident, policy, now) {
        None if !kept_in_service(observation, incident, policy, now).is_empty() => {
            // The request was accepted and changed nothing (SetInstanceHealth inside
            // the grace period): the instance serves again by itself, settled by
            // reading state like a lost answer (invariant 13).
            Decision::plain(
                Verdict::Resolve,
                format!("{summary}: recovered without replacement"),
            )
        }
        None => Decision::plain(Verdict::Resolve, summary),
        Some(why) => match overdue(incident, &policy.settings, now, &why) {
            Some(refusal) => Decision::from_guards(vec![], vec![refusal], summary),
            None => Decision::waiting(why, summary),
        },
    }
}

/// Instances asked to be replaced that are still in service and healthy past the
/// request's deadline: the request had no effect, and they serve again by themselves.
fn kept_in_service<'a>(
    observation: Observation<'a>,
    incident: &Incident,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Vec<&'a InstanceId> {
    observation
        .targets
        .iter()
        .filter(|t| t.state == TargetState::Healthy)
        .filter(|t| {
            let Some((group, member)) = observation.member(&t.instance_id) else {
                return false;
            };
            let deadline = duration(policy.settings.pending_action_timeout)
                .max(Duration::seconds(group.health_check_grace_period_s.into()));
            member.serving()
                && incident
                    .actions_on(t.instance_id.as_str())
                    .filter(|a| a.outcome.was_requested())
                    .all(|a| now >= later(a.requested_at, deadline))
                && incident
                    .actions_on(t.instance_id.as_str())
                    .any(|a| a.outcome.was_requested())
        })
        .map(|t| &t.instance_id)
        .collect()
}

/// What still stands between the target group and verified recovery (invariant 9), or
/// `None` when it serves again: no replaced instance still registered (unless its
/// request had no effect and it serves again by itself), every registered target
/// healthy, and every group acted through back at its desired capacity.
pub fn unverified(
    observation: Observation<'_>,
    incident: &Incident,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Option<String> {
    if observation.targets.is_empty() {
        return Some("the target group has no registered targets".into());
    }
    let requested: Vec<&Action> = incident
        .actions
        .iter()
        .filter(|a| a.outcome.was_requested())
        .collect();
    let kept = kept_in_service(observation, incident, policy, now);
    for target in observation.targets {
        let id = target.instance_id.as_str();
        if kept.contains(&&target.instance_id) {
            continue;
        }
        if requested.iter().any(|a| a.target.id == id) {
            return Some(format!(
                "replaced instance {id} is still registered ({})",
                state_name(&target.state)
            ));
        }
    }
    if let Some(target) = observation
        .targets
        .iter()
        .find(|t| t.state != TargetState::Healthy)
    {
        return Some(format!(
            "target {} is {}",
            target.instance_id,
            state_name(&target.state)
        ));
    }
    for action in &requested {
        let group = observation
            .groups
            .iter()
            .find(|g| g.name.as_str() == action.scope.id);
        if let Some(group) = group.filter(|g| !g.at_desired_capacity()) {
            return Some(format!(
                "group {} has {} of {} instances in service",
                group.name,
                group.serving_count(),
                group.desired_capacity
            ));
        }
    }
    None
}

fn state_name(state: &TargetState) -> String {
    match state {
        TargetState::Other(other) => other.clone(),
        known => serde_json::to_value(known)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
    }
}

/// Why an instance is replaced: it fails its health checks, or AWS scheduled work on
/// it (which the group's own health check will not see coming).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Replacing {
    Failing,
    Scheduled,
}

/// Every per-instance guard, in the order a person would check them.
fn guard_instance(
    instance_id: &InstanceId,
    replacing: Replacing,
    observation: Observation<'_>,
    history: History<'_>,
    policy: &Policy,
    now: DateTime<Utc>,
    picked: &[PlannedAction],
) -> Result<PlannedAction, Refusal> {
    let instance = instance_id.to_string();
    let Some((group, member)) = observation.member(instance_id) else {
        return Err(refusals::not_in_auto_scaling_group(&instance));
    };
    if !policy.settings.is_managed(&group.tags) {
        return Err(refusals::not_managed(
            group.name.as_str(),
            &policy.settings.managed_tag_key,
        ));
    }
    let suspended = group.suspended_healing_processes();
    if !suspended.is_empty() {
        return Err(refusals::group_cannot_heal(
            group.name.as_str(),
            &format!("{} suspended", suspended.join(", ")),
        ));
    }
    if group.instance_refresh_in_progress {
        return Err(refusals::group_cannot_heal(
            group.name.as_str(),
            "an instance refresh is in progress",
        ));
    }
    if !member.in_service() || member.leaving() {
        return Err(refusals::not_in_service(
            &instance,
            &member.lifecycle_state,
            &member.health_status,
        ));
    }
    if let Some(stopped) = history.incident.and_then(stopped_by_loop_guard) {
        return Err(stopped);
    }
    if replacing == Replacing::Failing {
        if let Some(first) = native_healer_first(&instance, group, history, policy, now) {
            return Err(first);
        }
    }
    let scope = super::auto_scaling_group(&group.name);
    earlier_requests_spent(&instance, group, &scope, history, policy, now)?;
    let planned = PlannedAction {
        kind: policy.replacement.clone(),
        target: super::instance(instance_id),
        scope,
        configuration: group.launch_template.clone(),
        cooldown: policy.cooldown,
        repeat_limit: Some(RepeatLimit {
            window: policy.replacement_loop_window,
            limit: policy.replacement_loop_limit,
        }),
    };
    ledger_guards(&planned, history, picked, &policy.settings, now)?;
    let in_flight = replacements_in_flight(group, history, policy, now)
        + picked.iter().filter(|p| p.scope == planned.scope).count();
    if in_flight >= policy.max_in_flight_per_group {
        return Err(refusals::in_flight_limit(
            group.name.as_str(),
            in_flight,
            policy.max_in_flight_per_group,
        ));
    }
    Ok(planned)
}

/// Work AWS scheduled on instances still in service behind the target group, all of
/// whose targets are healthy: each is replaced ahead of it with every guard a failing
/// instance gets (a pause, a change in flight, the database it depends on, an evacuated
/// zone, one replacement at a time, cooldown, budget), inside its group's maintenance
/// window when it has one — unless the work starts before the window next opens, when
/// replacing now is the gentler of the two. `None` when no such instance is left (the
/// replacements are verified as after any other).
fn ahead_of_scheduled_work(
    observation: Observation<'_>,
    history: History<'_>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Option<Decision> {
    let due: Vec<(&ScheduledChange, &ScalingGroup)> = observation
        .scheduled
        .iter()
        .filter_map(|change| {
            let (group, member) = observation.member(&change.instance_id)?;
            (member.in_service() && !member.leaving()).then_some((change, group))
        })
        .collect();
    if due.is_empty() {
        return None;
    }
    let mut picked: Vec<PlannedAction> = Vec::new();
    let mut refusals: Vec<Refusal> = Vec::new();
    for (change, group) in &due {
        let what = format!("group {}", group.name);
        let hands_off = policy
            .settings
            .is_managed(&group.tags)
            .then(|| {
                pause::Pause::in_effect(&group.tags, now)
                    .map(|pause| pause.refusal(&what))
                    .or_else(|| observation.changes.hold(&group.name))
                    .or_else(|| {
                        pause::waits_for_window(
                            &format!("the replacement of {} in {what}", change.instance_id),
                            &group.tags,
                            now,
                            change.starts_at,
                        )
                    })
            })
            .flatten()
            .or_else(|| held(&change.instance_id, observation, None, policy, now));
        if let Some(refusal) = hands_off {
            refusals.push(refusal);
            continue;
        }
        match guard_instance(
            &change.instance_id,
            Replacing::Scheduled,
            observation,
            history,
            policy,
            now,
            &picked,
        ) {
            Ok(action) => picked.push(action),
            Err(refusal) => refusals.push(refusal),
        }
    }
    let summary = format!(
        "{}; {} of its instances with work scheduled, to be replaced ahead of it",
        observation.summary(),
        due.len()
    );
    Some(Decision::from_guards(picked, refusals, summary))
}

/// How the incident reads the work scheduled on the target group's instances: the
/// earliest start, and every instance it concerns (stable as the replacements go on,
/// so the incident records it once).
fn planned_work(scheduled: &[ScheduledChange]) -> Option<PlannedWork> {
    if scheduled.is_empty() {
        return None;
    }
    let events: BTreeSet<&str> = scheduled.iter().map(|s| s.event.as_str()).collect();
    let instances: Vec<&str> = scheduled.iter().map(|s| s.instance_id.as_str()).collect();
    Some(PlannedWork {
        event: events.into_iter().collect::<Vec<_>>().join(", "),
        starts_at: scheduled.iter().filter_map(|s| s.starts_at).min(),
        detail: format!("{} to be replaced ahead of it", instances.join(", ")),
    })
}

/// A group with ELB health checks replaces an ELB-unhealthy instance itself: it gets
/// the first go, and Rebound acts only once the group's own replacement has not started
/// within its grace period plus a margin from when the group could first have started:
/// the incident's opening, or the end of a hold during which Rebound had suspended the
/// group's ReplaceUnhealthy (resumed by this very check while the suspension is still
/// in place). When the group does start, the instance is leaving and the check records
/// the group's healing instead ([`native_healing`]).
fn native_healer_first(
    instance: &str,
    group: &ScalingGroup,
    history: History<'_>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Option<Refusal> {
    if !group.replaces_on_elb_health() {
        return None;
    }
    let resumed = history.incident.and_then(|incident| {
        incident
            .actions
            .iter()
            .filter(|a| a.kind == RESUME_REPLACE_UNHEALTHY && a.scope.id == group.name.as_str())
            .map(|a| a.requested_at)
            .max()
    });
    let since = if group.is_suspended(REPLACE_UNHEALTHY) {
        now
    } else {
        history
            .incident
            .map_or(now, |incident| incident.opened_at)
            .max(resumed.unwrap_or(DateTime::<Utc>::MIN_UTC))
    };
    let grace = std::time::Duration::from_secs(group.health_check_grace_period_s.into());
    let until = later(
        later(since, duration(grace)),
        duration(policy.native_healer_margin),
    );
    (now < until).then(|| {
        refusals::native_healer_first(
            instance,
            group.name.as_str(),
            &until.format("%H:%M:%S UTC").to_string(),
        )
    })
}

/// The group's own replacement of failing instances, in an incident where Rebound has
/// asked to replace none (its upkeep of a hold aside): the instance is leaving the group
/// (terminating, or marked unhealthy by the group's health check), or it left it and its
/// target is draining. Recorded as the group's healing; Rebound does not act on it and
/// verifies the recovery as after its own replacement.
fn native_healing<'a>(
    failing: impl IntoIterator<Item = &'a InstanceId>,
    observation: Observation<'_>,
    history: History<'_>,
) -> Option<NativeHealing> {
    let replaced_by_rebound = history.incident.is_some_and(|incident| {
        incident
            .actions
            .iter()
            .any(|a| a.target.kind == super::INSTANCE && a.outcome.was_requested())
    });
    if replaced_by_rebound {
        return None;
    }
    let healing: Vec<String> = failing
        .into_iter()
        .filter_map(|instance| match observation.member(instance) {
            Some((group, member)) => member.leaving().then(|| {
                format!(
                    "{instance} is {}/{} in {}",
                    member.lifecycle_state, member.health_status, group.name
                )
            }),
            None => observation
                .targets
                .iter()
                .any(|t| &t.instance_id == instance && t.state == TargetState::Draining)
                .then(|| format!("{instance} left its group and is draining")),
        })
        .collect();
    (!healing.is_empty()).then(|| NativeHealing {
        by: "healed by Auto Scaling",
        detail: healing.join("; "),
    })
}

/// The instances an open incident saw failing (its evidence), for a check that finds
/// none failing now: the group may have replaced them meanwhile.
fn seen_failing(history: History<'_>) -> Vec<InstanceId> {
    history
        .incident
        .and_then(|incident| incident.evidence.read::<super::Evidence>().ok())
        .map(|seen| {
            seen.targets
                .into_iter()
                .filter(|t| t.state.is_unhealthy())
                .map(|t| t.instance_id)
                .collect()
        })
        .unwrap_or_default()
}

/// Dependency awareness (invariant 7): a group whose database is healing (an open
/// incident, or recovered less than the settle time ago) is held. Its instances fail
/// because the database does; replacing them would not help and would only add churn
/// while connections move to the new primary.
pub fn dependency_hold(
    group: &ScalingGroup,
    dependencies: &[(DbInstanceId, DependencyState)],
    policy: &Policy,
    now: DateTime<Utc>,
) -> Option<Refusal> {
    let database = group.depends_on()?;
    let (_, state) = dependencies.iter().find(|(id, _)| *id == database)?;
    let held = |incident: &str, why: String| {
        refusals::dependency_held(group.name.as_str(), database.as_str(), incident, &why)
    };
    if let Some(incident) = &state.open_incident {
        // No hold outlives its cause's objective (invariant 13): past the database
        // incident's recovery objective plus the settle time, the group is judged on its
        // own again.
        let objective = state
            .open_rto_s
            .and_then(|s| i64::try_from(s).ok())
            .and_then(Duration::try_seconds);
        if let (Some(since), Some(objective)) = (state.open_since, objective) {
            let until = later(later(since, objective), duration(policy.dependency_settle));
            if now >= until {
                return None;
            }
        }
        return Some(held(incident.as_str(), "has an open incident".into()));
    }
    let recovered = state.last_recovered_at?;
    let until = later(recovered, duration(policy.dependency_settle));
    (now < until).then(|| {
        held(
            state.last_incident.as_ref().map_or("?", |i| i.as_str()),
            format!(
                "recovered at {} and is settling until {}",
                recovered.to_rfc3339(),
                until.to_rfc3339()
            ),
        )
    })
}

/// One action per instance: an instance already asked to be replaced (in this incident
/// or, through its group's ledger, in another target group's) is not asked again —
/// unless every earlier request was accepted and had no effect past its deadline, which
/// is retried once and then escalated. A simulated action counts only in dry-run: after
/// the switch to enforce it is acted on for real.
fn earlier_requests_spent(
    instance: &str,
    group: &ScalingGroup,
    scope: &ResourceRef,
    history: History<'_>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let dry_run = policy.settings.mode == Mode::DryRun;
    let mut requested_at: Vec<DateTime<Utc>> = Vec::new();
    // This incident's own actions know their outcome; the ledger only that they were
    // asked for (a failed call may be tried again).
    let mut known: Vec<DateTime<Utc>> = Vec::new();
    if let Some(incident) = history.incident {
        for action in incident.actions_on(instance) {
            known.push(action.requested_at);
            match action.outcome {
                ActionOutcome::Pending => return Err(refusals::already_replacing(instance)),
                ActionOutcome::Simulated if dry_run => {
                    return Err(refusals::already_replacing(instance))
                }
                ActionOutcome::Succeeded => requested_at.push(action.requested_at),
                _ => {}
            }
        }
    }
    if let Some(ledger) = history.ledger(scope) {
        for entry in ledger.entries.iter().filter(|e| e.target == instance) {
            if !known.contains(&entry.at) {
                requested_at.push(entry.at);
            }
        }
    }
    if requested_at.is_empty() {
        return Ok(());
    }
    let deadline = duration(policy.settings.pending_action_timeout)
        .max(Duration::seconds(group.health_check_grace_period_s.into()));
    if requested_at.iter().any(|at| now < later(*at, deadline)) {
        return Err(refusals::already_replacing(instance));
    }
    // Every request is past its deadline and the instance is still here and failing.
    if requested_at.len() >= 2 {
        return Err(refusals::action_had_no_effect(
            instance,
            requested_at.len(),
            group.health_check_grace_period_s,
        ));
    }
    Ok(())
}

/// Replacements of this group still under way: instances on their way out, plus new
/// capacity launching for a recent replacement. Standby instances and the Pending
/// instances of a normal scale-out are not replacements.
fn replacements_in_flight(
    group: &ScalingGroup,
    history: History<'_>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> usize {
    let recent_replacements_gone = history
        .ledger(&super::auto_scaling_group(&group.name))
        .map(|ledger| {
            ledger
                .within(duration(policy.settings.recovery_timeout), now)
                .filter(|e| {
                    InstanceId::parse(e.target.as_str())
                        .map(|id| group.instance(&id).is_none())
                        .unwrap_or(false)
                })
                .count()
        })
        .unwrap_or(0);
    group.leaving_count() + group.launching_count().min(recent_replacements_gone)
}

/// How to settle a write-ahead action whose outcome was never recorded (the function
/// died between the call and the write), once it is overdue.
pub fn settle_pending(
    action: &Action,
    observation: Observation<'_>,
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
    if action.kind == SUSPEND_REPLACE_UNHEALTHY || action.kind == RESUME_REPLACE_UNHEALTHY {
        let group = observation
            .groups
            .iter()
            .find(|g| g.name.as_str() == action.target.id)?;
        let suspended = group.is_suspended(REPLACE_UNHEALTHY);
        let took_effect = suspended == (action.kind == SUSPEND_REPLACE_UNHEALTHY);
        return Some(if took_effect {
            (
                ActionOutcome::Succeeded,
                "settled: the group's ReplaceUnhealthy is as asked".into(),
            )
        } else {
            (
                ActionOutcome::Failed,
                "settled: the request never took effect".into(),
            )
        });
    }
    let instance = InstanceId::parse(action.target.id.as_str()).ok()?;
    let still_a_target = observation
        .targets
        .iter()
        .any(|t| t.instance_id == instance);
    let left_service = observation
        .member(&instance)
        .is_none_or(|(_, member)| member.leaving());
    let took_effect = !still_a_target || left_service;
    Some(if took_effect {
        (
            ActionOutcome::Succeeded,
            "settled: the instance left service after the request".into(),
        )
    } else {
        (
            ActionOutcome::Failed,
            "settled: the request never took effect".into(),
        )
    })
}

/// The target groups an incident's actions went through, by name: the groups recovery
/// is verified against even after the replaced instance has left.
pub fn acted_through(incident: &Incident) -> Vec<String> {
    let mut names: BTreeMap<&str, ()> = BTreeMap::new();
    for action in &incident.actions {
        if action.scope.kind == AUTO_SCALING_GROUP && action.outcome.was_requested() {
            names.insert(action.scope.id.as_str(), ());
        }
    }
    names.into_keys().map(str::to_owned).collect()
}
