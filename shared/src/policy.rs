//! The decision, as a pure function of (observed state, incident history, config, now).
//! Every safety guard lives here so each one is a unit test without I/O.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::PolicyConfig;
use crate::domain::{ActionOutcome, Incident, ScalingGroup, TargetHealth, TargetState};
use crate::ids::{AutoScalingGroupName, InstanceId};

/// What is known about a target group at decision time.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    pub targets: &'a [TargetHealth],
    /// The Auto Scaling groups owning the unhealthy targets (empty when none are).
    pub groups: &'a [ScalingGroup],
}

/// What happened to this resource before.
#[derive(Debug, Clone, Copy, Default)]
pub struct History<'a> {
    pub incident: Option<&'a Incident>,
    /// Last action on this resource in any incident, for the cooldown.
    pub last_action_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Replacement {
    pub instance_id: InstanceId,
    pub group: AutoScalingGroupName,
}

/// Why an instance was not replaced or why nothing was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "guard", rename_all = "kebab-case")]
pub enum Refusal {
    AllTargetsUnhealthy {
        unhealthy: usize,
    },
    UnhealthyShareAboveLimit {
        unhealthy: usize,
        total: usize,
        limit_percent: u32,
    },
    NotAnInstanceFailure {
        instance: String,
        reason: String,
    },
    NotInAutoScalingGroup {
        instance: String,
    },
    NotManaged {
        group: String,
        tag_key: String,
    },
    GroupCannotHeal {
        group: String,
        why: String,
    },
    AlreadyReplacing {
        instance: String,
    },
    NotInService {
        instance: String,
        lifecycle_state: String,
        health_status: String,
    },
    Cooldown {
        until: DateTime<Utc>,
    },
    InFlightLimit {
        group: String,
        in_flight: usize,
        limit: usize,
    },
    BudgetExhausted {
        per_hour: u32,
    },
}

impl Refusal {
    /// Systemic failures and exhausted budgets need a person, not another retry.
    pub fn escalates(&self) -> bool {
        matches!(
            self,
            Self::AllTargetsUnhealthy { .. }
                | Self::UnhealthyShareAboveLimit { .. }
                | Self::BudgetExhausted { .. }
        )
    }

    /// A stable name for logs and metrics.
    pub fn guard(&self) -> &'static str {
        match self {
            Self::AllTargetsUnhealthy { .. } => "all-targets-unhealthy",
            Self::UnhealthyShareAboveLimit { .. } => "unhealthy-share-above-limit",
            Self::NotAnInstanceFailure { .. } => "not-an-instance-failure",
            Self::NotInAutoScalingGroup { .. } => "not-in-auto-scaling-group",
            Self::NotManaged { .. } => "not-managed",
            Self::GroupCannotHeal { .. } => "group-cannot-heal",
            Self::AlreadyReplacing { .. } => "already-replacing",
            Self::NotInService { .. } => "not-in-service",
            Self::Cooldown { .. } => "cooldown",
            Self::InFlightLimit { .. } => "in-flight-limit",
            Self::BudgetExhausted { .. } => "budget-exhausted",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AllTargetsUnhealthy { unhealthy } => write!(
                f,
                "all {unhealthy} targets are unhealthy: the load balancer is failing open, a systemic failure that replacing instances will not fix"
            ),
            Self::UnhealthyShareAboveLimit { unhealthy, total, limit_percent } => write!(
                f,
                "{unhealthy} of {total} targets unhealthy is above the {limit_percent}% blast-radius limit"
            ),
            Self::NotAnInstanceFailure { instance, reason } => {
                write!(f, "{instance} is unhealthy for {reason}, which is not a failure of the instance")
            }
            Self::NotInAutoScalingGroup { instance } => {
                write!(f, "{instance} belongs to no Auto Scaling group")
            }
            Self::NotManaged { group, tag_key } => {
                write!(f, "group {group} is not managed (tag {tag_key}=true missing): observed only")
            }
            Self::GroupCannotHeal { group, why } => write!(f, "group {group} cannot heal: {why}"),
            Self::AlreadyReplacing { instance } => {
                write!(f, "{instance} already has a replacement requested")
            }
            Self::NotInService { instance, lifecycle_state, health_status } => write!(
                f,
                "{instance} is {lifecycle_state}/{health_status}, not InService/Healthy: the group is already handling it"
            ),
            Self::Cooldown { until } => write!(f, "resource in cooldown until {}", until.to_rfc3339()),
            Self::InFlightLimit { group, in_flight, limit } => write!(
                f,
                "group {group} has {in_flight} replacement(s) in flight, the limit is {limit}"
            ),
            Self::BudgetExhausted { per_hour } => {
                write!(f, "account-wide action budget of {per_hour} per hour is used up")
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Nothing unhealthy, nothing open.
    Healthy,
    /// Nothing unhealthy, but replacements are still passing their first health checks.
    Recovering,
    /// The open incident's resource is healthy again: close it.
    Resolve,
    Replace,
    Hold,
    Escalate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub verdict: Verdict,
    pub replacements: Vec<Replacement>,
    pub refusals: Vec<Refusal>,
    /// One line for the timeline, e.g. "1 of 4 targets unhealthy".
    pub summary: String,
}

/// Blast radius: a failure this wide is not instance failures, and killing instances
/// would make it worse. Needs only the targets, so the handler can skip looking up
/// groups it will not act on.
pub fn systemic_failure(targets: &[TargetHealth], config: &PolicyConfig) -> Option<Refusal> {
    let total = targets.iter().filter(|t| t.state.is_serving()).count();
    let unhealthy = targets.iter().filter(|t| t.state.is_unhealthy()).count();
    if unhealthy == 0 {
        None
    } else if unhealthy == total {
        Some(Refusal::AllTargetsUnhealthy { unhealthy })
    } else if unhealthy * 100 > config.max_unhealthy_percent as usize * total {
        Some(Refusal::UnhealthyShareAboveLimit {
            unhealthy,
            total,
            limit_percent: config.max_unhealthy_percent,
        })
    } else {
        None
    }
}

pub fn decide(
    observation: Observation<'_>,
    history: History<'_>,
    config: &PolicyConfig,
    now: DateTime<Utc>,
) -> Decision {
    let targets = observation.targets;
    let total = targets.iter().filter(|t| t.state.is_serving()).count();
    let unhealthy: Vec<&TargetHealth> = targets.iter().filter(|t| t.state.is_unhealthy()).collect();
    let summary = format!("{} of {} targets unhealthy", unhealthy.len(), total);
    let decision = |verdict, replacements, refusals| Decision {
        verdict,
        replacements,
        refusals,
        summary: summary.clone(),
    };

    if unhealthy.is_empty() {
        let warming_up = targets.iter().any(|t| t.state == TargetState::Initial);
        let verdict = match (history.incident, warming_up) {
            (None, _) => Verdict::Healthy,
            (Some(_), true) => Verdict::Recovering,
            (Some(_), false) if total == 0 => Verdict::Recovering,
            (Some(_), false) => Verdict::Resolve,
        };
        return decision(verdict, vec![], vec![]);
    }

    if let Some(refusal) = systemic_failure(targets, config) {
        return decision(Verdict::Escalate, vec![], vec![refusal]);
    }

    let mut replacements: Vec<Replacement> = Vec::new();
    let mut refusals: Vec<Refusal> = Vec::new();
    let mut picked_per_group: BTreeMap<&str, usize> = BTreeMap::new();
    for target in unhealthy {
        match guard_instance(target, observation, history, config, now, &picked_per_group) {
            Ok(replacement) => {
                *picked_per_group
                    .entry(group_name(observation.groups, &replacement.group))
                    .or_default() += 1;
                replacements.push(replacement);
            }
            Err(refusal) => refusals.push(refusal),
        }
    }

    let verdict = if !replacements.is_empty() {
        Verdict::Replace
    } else if refusals.iter().any(Refusal::escalates) {
        Verdict::Escalate
    } else {
        Verdict::Hold
    };
    decision(verdict, replacements, refusals)
}

fn group_name<'a>(groups: &'a [ScalingGroup], name: &AutoScalingGroupName) -> &'a str {
    groups
        .iter()
        .find(|g| &g.name == name)
        .map(|g| g.name.as_str())
        .unwrap_or("")
}

/// Every per-instance guard, in the order a person would check them.
fn guard_instance(
    target: &TargetHealth,
    observation: Observation<'_>,
    history: History<'_>,
    config: &PolicyConfig,
    now: DateTime<Utc>,
    picked_per_group: &BTreeMap<&str, usize>,
) -> Result<Replacement, Refusal> {
    let instance = target.instance_id.to_string();
    if !target.failed_health_checks() {
        return Err(Refusal::NotAnInstanceFailure {
            instance,
            reason: target
                .reason
                .clone()
                .unwrap_or_else(|| "no reason code".into()),
        });
    }
    let Some((group, member)) = observation
        .groups
        .iter()
        .find_map(|g| g.instance(&target.instance_id).map(|m| (g, m)))
    else {
        return Err(Refusal::NotInAutoScalingGroup { instance });
    };
    if !group.is_managed(&config.managed_tag_key) {
        return Err(Refusal::NotManaged {
            group: group.name.to_string(),
            tag_key: config.managed_tag_key.clone(),
        });
    }
    let suspended = group.suspended_healing_processes();
    if !suspended.is_empty() {
        return Err(Refusal::GroupCannotHeal {
            group: group.name.to_string(),
            why: format!("{} suspended", suspended.join(", ")),
        });
    }
    if group.instance_refresh_in_progress {
        return Err(Refusal::GroupCannotHeal {
            group: group.name.to_string(),
            why: "an instance refresh is in progress".into(),
        });
    }
    let already_acted = history
        .incident
        .and_then(|i| i.action_on(&instance))
        .is_some_and(|a| !matches!(a.outcome, ActionOutcome::Failed | ActionOutcome::Refused));
    if already_acted {
        return Err(Refusal::AlreadyReplacing { instance });
    }
    if member.replacement_in_flight() {
        return Err(Refusal::NotInService {
            instance,
            lifecycle_state: member.lifecycle_state.clone(),
            health_status: member.health_status.clone(),
        });
    }
    let last_action = [
        history.last_action_at,
        history.incident.and_then(Incident::last_action_at),
    ]
    .into_iter()
    .flatten()
    .max();
    if let Some(last) = last_action {
        let until = last + chrono::Duration::from_std(config.cooldown).unwrap_or_default();
        if now < until {
            return Err(Refusal::Cooldown { until });
        }
    }
    let in_flight = group.replacements_in_flight()
        + picked_per_group
            .get(group.name.as_str())
            .copied()
            .unwrap_or(0);
    if in_flight >= config.max_in_flight_per_group {
        return Err(Refusal::InFlightLimit {
            group: group.name.to_string(),
            in_flight,
            limit: config.max_in_flight_per_group,
        });
    }
    Ok(Replacement {
        instance_id: target.instance_id.clone(),
        group: group.name.clone(),
    })
}

/// How to settle a write-ahead action whose outcome was never recorded (the function
/// died between the call and the write). `None` while it is not yet overdue.
pub fn settle_pending(
    requested_at: DateTime<Utc>,
    instance: &InstanceId,
    observation: Observation<'_>,
    config: &PolicyConfig,
    now: DateTime<Utc>,
) -> Option<(ActionOutcome, String)> {
    let overdue = requested_at + chrono::Duration::from_std(config.pending_action_timeout).ok()?;
    if now < overdue {
        return None;
    }
    let still_a_target = observation
        .targets
        .iter()
        .any(|t| &t.instance_id == instance);
    let member = observation.groups.iter().find_map(|g| g.instance(instance));
    let took_effect = !still_a_target || member.is_some_and(|m| m.replacement_in_flight());
    Some(if took_effect {
        (
            ActionOutcome::Succeeded,
            "settled by sweep: the instance left service after the request".into(),
        )
    } else {
        (
            ActionOutcome::Failed,
            "settled by sweep: the request never took effect".into(),
        )
    })
}

#[cfg(test)]
mod tests;
