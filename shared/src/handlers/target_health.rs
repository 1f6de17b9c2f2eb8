//! `target-health`: an alarm or the schedule says look at a target group; observe it,
//! decide, record the incident, act, record the outcome.

use std::collections::BTreeSet;

use aws_smithy_types::error::display::DisplayErrorContext;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tracing::{error, info, warn};

use crate::config::{Mode, PolicyConfig};
use crate::domain::{
    Action, ActionOutcome, Evidence, Incident, IncidentState, ResourceKind, ResourceRef,
};
use crate::error::Error;
use crate::ids::{IncidentId, InstanceId, TargetGroupArn};
use crate::policy::{self, Decision, History, Observation, Refusal, Verdict};
use crate::ports::{
    Created, IncidentStore, InstanceReplacer, Replaced, Saved, ScalingGroups, TargetHealthSource,
};
use crate::telemetry::{self, Metric};
use crate::trigger::{parse_target_health_event, Parsed, TargetHealthTrigger};

/// How many times a check re-reads and re-decides after losing a conditional write.
/// Each loss means another delivery made progress, so a few are plenty.
const MAX_WRITE_ATTEMPTS: u32 = 5;

/// What one invocation did, returned to the caller (and printed by `rebound invoke`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub status: ReportStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub checks: Vec<CheckReport>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ReportStatus {
    Ignored,
    Checked,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CheckReport {
    pub target_group: TargetGroupArn,
    pub verdict: Verdict,
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<IncidentId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident_state: Option<IncidentState>,
    /// Actions this invocation took (or simulated, or was refused by the budget).
    pub actions: Vec<Action>,
    pub refusals: Vec<RefusalReport>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RefusalReport {
    pub guard: &'static str,
    pub detail: String,
}

impl From<&Refusal> for RefusalReport {
    fn from(refusal: &Refusal) -> Self {
        Self {
            guard: refusal.guard(),
            detail: refusal.to_string(),
        }
    }
}

/// The target-health function: its ports and policy, built once per cold start.
pub struct TargetHealthHandler<T, G, R, S> {
    pub targets: T,
    pub groups: G,
    pub replacer: R,
    pub store: S,
    pub policy: PolicyConfig,
    pub clock: fn() -> DateTime<Utc>,
}

/// Counters for one invocation's metric line.
#[derive(Default)]
struct Tally {
    incidents_opened: usize,
    actions_taken: usize,
    actions_refused: usize,
}

impl<T, G, R, S> TargetHealthHandler<T, G, R, S>
where
    T: TargetHealthSource,
    G: ScalingGroups,
    R: InstanceReplacer,
    S: IncidentStore,
{
    pub fn new(targets: T, groups: G, replacer: R, store: S, policy: PolicyConfig) -> Self {
        Self {
            targets,
            groups,
            replacer,
            store,
            policy,
            clock: Utc::now,
        }
    }

    pub async fn handle(&self, event: Value) -> Result<Report, Error> {
        let result = self.handle_event(event).await;
        if let Err(err) = &result {
            error!(error_type = err.error_type(), retryable = err.is_retryable(), error = %DisplayErrorContext(err), "invocation failed");
        }
        result
    }

    async fn handle_event(&self, event: Value) -> Result<Report, Error> {
        let trigger = match parse_target_health_event(&event)? {
            Parsed::Ignored(reason) => {
                info!(%reason, "event ignored");
                return Ok(Report {
                    status: ReportStatus::Ignored,
                    reason: Some(reason),
                    checks: vec![],
                });
            }
            Parsed::Trigger(trigger) => trigger,
        };
        let target_groups = match &trigger {
            TargetHealthTrigger::Alarm {
                target_group,
                state,
                ..
            } => {
                info!(target_group = %target_group, alarm_state = %state, "alarm");
                vec![target_group.clone()]
            }
            TargetHealthTrigger::Sweep => self.sweep_targets().await?,
        };
        let label = trigger.label();
        let mut tally = Tally::default();
        let mut checks = Vec::with_capacity(target_groups.len());
        let mut first_error = None;
        // A sweep goes on past one target group's failure; the error is still reported
        // so the invocation is retried (every check is idempotent).
        for target_group in target_groups {
            match self.check(&target_group, &label, &mut tally).await {
                Ok(check) => checks.push(check),
                Err(err) => {
                    warn!(target_group = %target_group, error = %DisplayErrorContext(&err), retryable = err.is_retryable(), "check failed");
                    first_error.get_or_insert(err);
                }
            }
        }
        telemetry::emit(
            &[("Function", "target-health")],
            &[
                Metric::count("IncidentsOpened", tally.incidents_opened),
                Metric::count("ActionsTaken", tally.actions_taken),
                Metric::count("ActionsRefused", tally.actions_refused),
            ],
        );
        match first_error {
            Some(err) => Err(err),
            None => Ok(Report {
                status: ReportStatus::Checked,
                reason: None,
                checks,
            }),
        }
    }

    /// Every managed group's target groups, and every target group with an open incident.
    async fn sweep_targets(&self) -> Result<Vec<TargetGroupArn>, Error> {
        let mut target_groups = BTreeSet::new();
        for group in self
            .groups
            .managed_groups(&self.policy.managed_tag_key)
            .await?
        {
            target_groups.extend(group.target_group_arns);
        }
        for incident in self.store.open_incidents().await? {
            if incident.resource.kind == ResourceKind::TargetGroup {
                match TargetGroupArn::parse(incident.resource.id.as_str()) {
                    Ok(arn) => {
                        target_groups.insert(arn);
                    }
                    Err(err) => {
                        warn!(incident_id = %incident.id, error = %err, "open incident names no valid target group")
                    }
                }
            }
        }
        info!(target_groups = target_groups.len(), "sweep");
        Ok(target_groups.into_iter().collect())
    }

    async fn check(
        &self,
        target_group: &TargetGroupArn,
        trigger: &str,
        tally: &mut Tally,
    ) -> Result<CheckReport, Error> {
        let resource = ResourceRef::target_group(target_group);
        let targets = self.targets.target_health(target_group).await?;
        let unhealthy: Vec<_> = targets
            .iter()
            .filter(|t| t.state.is_unhealthy())
            .map(|t| t.instance_id.clone())
            .collect();
        // Groups are only needed to act on unhealthy targets: a healthy target group, or
        // one failing too widely to act on, costs no Auto Scaling call.
        let needs_groups =
            !unhealthy.is_empty() && policy::systemic_failure(&targets, &self.policy).is_none();
        let groups = if needs_groups {
            self.groups
                .groups_owning(&unhealthy, &self.policy.managed_tag_key)
                .await?
        } else {
            Vec::new()
        };
        let observation = Observation {
            targets: &targets,
            groups: &groups,
        };

        for _attempt in 0..MAX_WRITE_ATTEMPTS {
            let now = (self.clock)();
            let record = self.store.resource(&resource).await?;
            let current = match &record.open_incident {
                Some(id) => self.store.load(id).await?,
                None => None,
            };
            let history = History {
                incident: current.as_ref(),
                last_action_at: record.last_action_at,
            };
            let decision = policy::decide(observation, history, &self.policy, now);
            let mut report = CheckReport {
                target_group: target_group.clone(),
                verdict: decision.verdict,
                summary: decision.summary.clone(),
                incident_id: current.as_ref().map(|i| i.id.clone()),
                incident_state: current.as_ref().map(|i| i.state),
                actions: vec![],
                refusals: decision.refusals.iter().map(RefusalReport::from).collect(),
            };
            let evidence = Evidence {
                targets: targets.clone(),
                auto_scaling_groups: groups.iter().map(|g| g.name.to_string()).collect(),
            };

            let nothing_to_record =
                matches!(decision.verdict, Verdict::Healthy | Verdict::Recovering)
                    || (decision.verdict == Verdict::Resolve && current.is_none());
            if nothing_to_record {
                return Ok(report);
            }
            // A new incident is written once, already in the state the decision puts it
            // in: one write and one notification instead of "opened" then "escalated".
            let is_new = current.is_none();
            let mut incident = current.unwrap_or_else(|| {
                Incident::open(resource.clone(), trigger, evidence, &decision.summary, now)
            });
            report.incident_id = Some(incident.id.clone());

            let settled = settle_overdue_actions(&mut incident, observation, &self.policy, now);
            let written = if decision.verdict == Verdict::Replace {
                match self
                    .remediate(&mut incident, is_new, &decision, now, tally)
                    .await?
                {
                    Some(actions) => {
                        report.actions = actions;
                        true
                    }
                    None => false,
                }
            } else {
                let changed = match decision.verdict {
                    Verdict::Resolve => {
                        incident.transition(
                            now,
                            IncidentState::Resolved,
                            format!("verified: {}", decision.summary),
                        );
                        true
                    }
                    Verdict::Escalate => {
                        let changed = incident.state != IncidentState::Escalated;
                        incident.transition(
                            now,
                            IncidentState::Escalated,
                            refusal_text(&decision.refusals),
                        );
                        changed
                    }
                    _ => {
                        let news = newsworthy(&decision.refusals);
                        !news.is_empty() && incident.note_once(now, "held", &refusal_text(&news))
                    }
                };
                if is_new || changed || settled {
                    self.persist(&mut incident, is_new, None).await?
                } else {
                    true
                }
            };
            if !written {
                // Another delivery got there first: read again and decide on what it wrote.
                continue;
            }
            tally.actions_refused += decision.refusals.len();
            if is_new {
                tally.incidents_opened += 1;
                info!(incident_id = %incident.id, resource = %resource.id, state = incident.state.as_str(), "incident opened");
            }
            report.incident_state = Some(incident.state);
            for refusal in &decision.refusals {
                info!(incident_id = %incident.id, guard = refusal.guard(), detail = %refusal, "action refused");
            }
            return Ok(report);
        }
        Err(Error::Contention {
            resource: resource.id,
            attempts: MAX_WRITE_ATTEMPTS,
        })
    }

    async fn save(
        &self,
        incident: &mut Incident,
        action_at: Option<DateTime<Utc>>,
    ) -> Result<Saved, Error> {
        self.store.update(incident, action_at).await
    }

    /// Creates a new incident or updates a stored one; false when another writer got
    /// there first (an incident already open, or a newer version).
    async fn persist(
        &self,
        incident: &mut Incident,
        is_new: bool,
        action_at: Option<DateTime<Utc>>,
    ) -> Result<bool, Error> {
        Ok(if is_new {
            self.store.create(incident, action_at).await? == Created::Opened
        } else {
            self.save(incident, action_at).await? == Saved::Saved
        })
    }

    /// Write-ahead: record the intended actions (winning the conditional write is what
    /// makes this delivery the one that acts), then call, then record the outcomes.
    /// `None` when another writer got there first.
    async fn remediate(
        &self,
        incident: &mut Incident,
        is_new: bool,
        decision: &Decision,
        now: DateTime<Utc>,
        tally: &mut Tally,
    ) -> Result<Option<Vec<Action>>, Error> {
        let dry_run = self.policy.mode == Mode::DryRun;
        let first_new = incident.actions.len();
        for replacement in &decision.replacements {
            incident.actions.push(Action {
                kind: self.policy.replacement,
                target: replacement.instance_id.to_string(),
                group: replacement.group.to_string(),
                requested_at: now,
                outcome: if dry_run {
                    ActionOutcome::Simulated
                } else {
                    ActionOutcome::Pending
                },
                dry_run,
                detail: dry_run.then(|| "dry-run: no call made".to_owned()),
                completed_at: None,
            });
        }
        let intent = decision
            .replacements
            .iter()
            .map(|r| format!("replace {} in {}", r.instance_id, r.group))
            .collect::<Vec<_>>()
            .join(", ");
        if dry_run {
            incident.note(
                now,
                "dry-run",
                format!("would {intent} ({})", decision.summary),
            );
            let written = self.persist(incident, is_new, None).await?;
            return Ok(written.then(|| incident.actions[first_new..].to_vec()));
        }
        incident.transition(
            now,
            IncidentState::Remediating,
            format!("{}: {intent}", decision.summary),
        );
        if !self.persist(incident, is_new, Some(now)).await? {
            return Ok(None);
        }

        let mut failure = None;
        let mut budget_refusal = None;
        let kind = self.policy.replacement;
        for (offset, replacement) in decision.replacements.iter().enumerate() {
            let (group, instance) = (&replacement.group, &replacement.instance_id);
            let (outcome, detail) = if !self
                .store
                .reserve_action(now, self.policy.action_budget_per_hour)
                .await?
            {
                tally.actions_refused += 1;
                budget_refusal = Some(Refusal::BudgetExhausted {
                    per_hour: self.policy.action_budget_per_hour,
                });
                (
                    ActionOutcome::Refused,
                    Some("account-wide hourly action budget used up".to_owned()),
                )
            } else {
                match self.replacer.replace(kind, group, instance).await {
                    Ok(Replaced::Requested) => {
                        tally.actions_taken += 1;
                        info!(incident_id = %incident.id, action = ?kind, instance = %instance, group = %group, "replacement requested");
                        (ActionOutcome::Succeeded, None)
                    }
                    Ok(Replaced::AlreadyGone) => {
                        tally.actions_taken += 1;
                        info!(incident_id = %incident.id, instance = %instance, group = %group, "instance already left its group");
                        (
                            ActionOutcome::Succeeded,
                            Some("the instance had already left its group (an earlier attempt took effect)".to_owned()),
                        )
                    }
                    Err(err) => {
                        warn!(incident_id = %incident.id, instance = %instance, error = %DisplayErrorContext(&err), "replacement failed");
                        let detail = err.to_string();
                        failure.get_or_insert(err);
                        (ActionOutcome::Failed, Some(detail))
                    }
                }
            };
            let completed = (self.clock)();
            let action = &mut incident.actions[first_new + offset];
            action.outcome = outcome;
            action.detail = detail;
            action.completed_at = Some(completed);
        }
        let results: Vec<Action> = incident.actions[first_new..].to_vec();
        if let Some(refusal) = &budget_refusal {
            incident.transition(now, IncidentState::Escalated, refusal.to_string());
        }
        self.record_outcomes(incident, &results, budget_refusal.is_some())
            .await?;
        match failure {
            Some(err) => Err(err),
            None => Ok(Some(results)),
        }
    }

    /// Stores the outcomes of actions already written ahead. Other deliveries may have
    /// touched the incident meanwhile, so on a conflict the outcomes are laid onto a
    /// fresh copy; they are never dropped.
    async fn record_outcomes(
        &self,
        incident: &mut Incident,
        results: &[Action],
        escalate: bool,
    ) -> Result<(), Error> {
        for _ in 0..MAX_WRITE_ATTEMPTS {
            if self.save(incident, None).await? == Saved::Saved {
                return Ok(());
            }
            let Some(mut fresh) = self.store.load(&incident.id).await? else {
                return Err(Error::CorruptRecord {
                    key: incident.id.to_string(),
                    source: "incident vanished while recording outcomes".into(),
                });
            };
            for result in results {
                if let Some(stored) = fresh
                    .actions
                    .iter_mut()
                    .find(|a| a.target == result.target && a.requested_at == result.requested_at)
                {
                    *stored = result.clone();
                }
            }
            if escalate {
                fresh.transition(
                    incident.updated_at,
                    IncidentState::Escalated,
                    "account-wide action budget used up",
                );
            }
            *incident = fresh;
        }
        Err(Error::Contention {
            resource: incident.resource.id.clone(),
            attempts: MAX_WRITE_ATTEMPTS,
        })
    }
}

/// Settles write-ahead actions whose outcome never got recorded. True if any changed.
fn settle_overdue_actions(
    incident: &mut Incident,
    observation: Observation<'_>,
    policy: &PolicyConfig,
    now: DateTime<Utc>,
) -> bool {
    let mut changed = false;
    let mut notes = Vec::new();
    for action in incident
        .actions
        .iter_mut()
        .filter(|a| a.outcome == ActionOutcome::Pending)
    {
        let Ok(instance) = InstanceId::parse(action.target.as_str()) else {
            continue;
        };
        if let Some((outcome, detail)) =
            policy::settle_pending(action.requested_at, &instance, observation, policy, now)
        {
            notes.push(format!(
                "{} on {}: {detail}",
                outcome.as_str(),
                action.target
            ));
            action.outcome = outcome;
            action.detail = Some(detail);
            action.completed_at = Some(now);
            changed = true;
        }
    }
    for note in notes {
        incident.note(now, "settled", note);
    }
    changed
}

/// Refusals worth a timeline entry: "already being replaced" is the expected echo of
/// duplicate deliveries, not news.
fn newsworthy(refusals: &[Refusal]) -> Vec<Refusal> {
    refusals
        .iter()
        .filter(|r| {
            !matches!(
                r,
                Refusal::AlreadyReplacing { .. } | Refusal::NotInService { .. }
            )
        })
        .cloned()
        .collect()
}

fn refusal_text(refusals: &[Refusal]) -> String {
    refusals
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests;
