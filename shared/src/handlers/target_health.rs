//! `target-health`: an alarm or the schedule says which target groups to look at; each
//! one goes through the shared incident [`Workflow`](crate::workflow::Workflow) with the
//! target-group specifics below: observe the targets and the Auto Scaling groups behind
//! them, decide with [`policy::alb`], replace instances through their group.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use aws_smithy_types::error::display::DisplayErrorContext;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;
use tracing::{error, info, warn};

use crate::config::PolicyConfig;
use crate::domain::{
    Action, ActionOutcome, DependencyState, Evidence, Incident, ResourceKind, ResourceRef,
    ScalingGroup, TargetHealth,
};
use crate::error::Error;
use crate::ids::{AutoScalingGroupName, DbInstanceId, InstanceId, TargetGroupArn};
use crate::policy::{self, alb, Decision, History, PlannedAction};
use crate::ports::{
    Dependencies, IncidentStore, InstanceReplacer, Replaced, ScalingGroups, TargetHealthSource,
};
use crate::telemetry::{self, Metric};
use crate::trigger::{parse_target_health_event, Parsed, TargetHealthTrigger};
use crate::workflow::{CheckReport, Tally, WatchedKind, Workflow};

/// The heartbeat: 1 for every sweep that completed (see [`Report::sweep_completed`]).
/// The template's "no successful sweep" alarm watches it, so a watcher that stopped
/// watching is noticed.
pub const SWEEPS_COMPLETED: &str = "SweepsCompleted";

/// A sweep starts no new check when less than this is left before the invocation's
/// deadline: a check takes a few calls, and what is left goes to the next sweep.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// The invocation's deadline from the Lambda context's `deadline` (milliseconds).
/// Lambda sends a Unix time; local runtime emulators send a plain duration instead
/// (`cargo lambda watch` sends 600000): anything before 2001 is read as time left.
pub fn invocation_deadline(deadline_ms: u64) -> SystemTime {
    const EPOCH_MS_2001: u64 = 978_307_200_000;
    let ms = Duration::from_millis(deadline_ms);
    if deadline_ms >= EPOCH_MS_2001 {
        SystemTime::UNIX_EPOCH + ms
    } else {
        SystemTime::now() + ms
    }
}

/// What one invocation did, returned to the caller (and printed by `rebound invoke`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub status: ReportStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub checks: Vec<CheckReport>,
    /// Checks that failed; the others went on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<CheckFailure>,
    /// Target groups not checked because the invocation's deadline was near: the next
    /// sweep looks at them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deferred: Vec<TargetGroupArn>,
}

impl Report {
    /// A sweep that did its job: it listed what to check and checked some of it, or
    /// there was nothing to check. Failures of single target groups do not stop a sweep
    /// (`ChecksFailed` counts them); a sweep where every check failed, or that ran out
    /// of time before checking anything, did not complete.
    pub fn sweep_completed(&self) -> bool {
        self.status == ReportStatus::Checked
            && (!self.checks.is_empty() || (self.failures.is_empty() && self.deferred.is_empty()))
    }
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ReportStatus {
    Ignored,
    Checked,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CheckFailure {
    pub target_group: TargetGroupArn,
    pub error: String,
    pub retryable: bool,
}

/// Target groups as a kind of watched resource.
pub struct TargetGroups<T, G, R, D> {
    pub targets: T,
    pub groups: G,
    pub replacer: R,
    /// Where the state of the databases groups depend on is read (the incident store).
    pub dependencies: D,
    pub policy: PolicyConfig,
}

/// A target group as observed: its instance targets, the groups behind them, and the
/// state of the databases those groups depend on.
#[derive(Debug, Clone)]
pub struct ObservedTargetGroup {
    pub targets: Vec<TargetHealth>,
    pub groups: Vec<ScalingGroup>,
    pub dependencies: Vec<(DbInstanceId, DependencyState)>,
}

impl ObservedTargetGroup {
    fn observation(&self) -> alb::Observation<'_> {
        alb::Observation {
            targets: &self.targets,
            groups: &self.groups,
            dependencies: &self.dependencies,
        }
    }
}

impl<T, G, R, D> WatchedKind for TargetGroups<T, G, R, D>
where
    T: TargetHealthSource,
    G: ScalingGroups,
    R: InstanceReplacer,
    D: Dependencies,
{
    type Observed = ObservedTargetGroup;

    async fn observe(
        &self,
        resource: &ResourceRef,
        incident: Option<&Incident>,
    ) -> Result<Option<ObservedTargetGroup>, Error> {
        let target_group = TargetGroupArn::parse(resource.id.as_str())
            .map_err(|e| Error::InvalidEvent(e.to_string()))?;
        let Some(targets) = self.targets.target_health(&target_group).await? else {
            return Ok(None);
        };
        let unhealthy: Vec<InstanceId> = targets
            .iter()
            .filter(|t| t.state.is_unhealthy())
            .map(|t| t.instance_id.clone())
            .collect();
        let actionable =
            !unhealthy.is_empty() && alb::systemic_failure(&targets, &self.policy).is_none();
        // Groups are needed to act on unhealthy targets, and to verify the recovery of
        // an open incident; a healthy target group without one, or one failing too
        // widely to act on, costs no Auto Scaling call.
        let mut groups = Vec::new();
        if actionable || incident.is_some() {
            let members: Vec<InstanceId> = if actionable {
                unhealthy
            } else {
                targets.iter().map(|t| t.instance_id.clone()).collect()
            };
            let refresh = actionable.then_some(self.policy.managed_tag_key.as_str());
            if !members.is_empty() {
                groups = self.groups.groups_owning(&members, refresh).await?;
            }
            let missing: Vec<String> = incident
                .map(alb::acted_through)
                .unwrap_or_default()
                .into_iter()
                .filter(|name| groups.iter().all(|g| g.name.as_str() != name))
                .collect();
            if !missing.is_empty() {
                groups.extend(self.groups.groups_named(&missing, refresh).await?);
            }
        }
        // A managed group that declares a database dependency is held while that
        // database heals: worth a read only when an action is possible.
        let mut dependencies = Vec::new();
        if actionable {
            let databases: BTreeSet<DbInstanceId> = groups
                .iter()
                .filter(|g| g.is_managed(&self.policy.managed_tag_key))
                .filter_map(ScalingGroup::depends_on)
                .collect();
            for database in databases {
                let state = self
                    .dependencies
                    .dependency(&ResourceRef::db_instance(&database))
                    .await?;
                dependencies.push((database, state));
            }
        }
        Ok(Some(ObservedTargetGroup {
            targets,
            groups,
            dependencies,
        }))
    }

    fn scopes(&self, observed: &ObservedTargetGroup) -> Vec<ResourceRef> {
        let owners: BTreeSet<&AutoScalingGroupName> = observed
            .targets
            .iter()
            .filter(|t| t.state.is_unhealthy())
            .filter_map(|t| {
                observed
                    .groups
                    .iter()
                    .find(|g| g.instance(&t.instance_id).is_some())
            })
            .filter(|g| g.is_managed(&self.policy.managed_tag_key))
            // A group held while its database's incident is open acts on nothing: its
            // ledgers are not worth a read.
            .filter(|g| !alb::held_by_open_incident(g, &observed.dependencies))
            .map(|g| &g.name)
            .collect();
        owners
            .into_iter()
            .map(ResourceRef::auto_scaling_group)
            .collect()
    }

    fn decide(
        &self,
        observed: &ObservedTargetGroup,
        history: History<'_>,
        now: DateTime<Utc>,
    ) -> Decision {
        alb::decide(observed.observation(), history, &self.policy, now)
    }

    /// The strictest `rebound:rto-seconds` of the groups behind the target group, or the
    /// default for target groups.
    fn recovery_objective(&self, observed: &ObservedTargetGroup) -> Option<u64> {
        observed
            .groups
            .iter()
            .filter_map(|g| policy::rto_from_tags(&g.tags))
            .min()
            .or(Some(self.policy.target_group_rto.as_secs()))
    }

    fn evidence(&self, observed: &ObservedTargetGroup) -> Evidence {
        Evidence {
            targets: observed.targets.clone(),
            auto_scaling_groups: observed.groups.iter().map(|g| g.name.to_string()).collect(),
            database: None,
        }
    }

    fn settle(
        &self,
        action: &Action,
        observed: &ObservedTargetGroup,
        now: DateTime<Utc>,
    ) -> Option<(ActionOutcome, String)> {
        alb::settle_pending(action, observed.observation(), &self.policy, now)
    }

    async fn act(&self, action: &Action) -> Result<Option<String>, Error> {
        let group = AutoScalingGroupName::parse(action.scope.id.as_str())
            .map_err(|e| Error::InvalidEvent(e.to_string()))?;
        let instance = InstanceId::parse(action.target.id.as_str())
            .map_err(|e| Error::InvalidEvent(e.to_string()))?;
        Ok(
            match self
                .replacer
                .replace(action.kind, &group, &instance)
                .await?
            {
                Replaced::Requested => None,
                Replaced::AlreadyGone => Some(
                    "the instance had already left its group (an earlier attempt took effect)"
                        .into(),
                ),
            },
        )
    }

    fn describe(&self, action: &PlannedAction) -> String {
        format!("replace {} in {}", action.target.id, action.scope.id)
    }
}

/// The target-health function: its ports and policy, built once per cold start.
pub struct TargetHealthHandler<T, G, R, S> {
    pub kind: TargetGroups<T, G, R, S>,
    pub store: S,
    pub clock: fn() -> DateTime<Utc>,
}

impl<T, G, R, S> TargetHealthHandler<T, G, R, S>
where
    T: TargetHealthSource,
    G: ScalingGroups,
    R: InstanceReplacer,
    S: IncidentStore + Dependencies + Clone,
{
    pub fn new(targets: T, groups: G, replacer: R, store: S, policy: PolicyConfig) -> Self {
        Self {
            kind: TargetGroups {
                targets,
                groups,
                replacer,
                dependencies: store.clone(),
                policy,
            },
            store,
            clock: Utc::now,
        }
    }

    pub fn policy(&self) -> &PolicyConfig {
        &self.kind.policy
    }

    /// Handles one event with no deadline (the CLI, tests).
    pub async fn handle(&self, event: Value) -> Result<Report, Error> {
        self.handle_until(event, None).await
    }

    /// Handles one event; a sweep starts no new check past `deadline` (the Lambda
    /// invocation's) minus [`DEADLINE_MARGIN`].
    pub async fn handle_until(
        &self,
        event: Value,
        deadline: Option<SystemTime>,
    ) -> Result<Report, Error> {
        let result = self.handle_event(event, deadline).await;
        if let Err(err) = &result {
            error!(error_type = err.error_type(), retryable = err.is_retryable(), error = %DisplayErrorContext(err), "invocation failed");
        }
        result
    }

    async fn handle_event(
        &self,
        event: Value,
        deadline: Option<SystemTime>,
    ) -> Result<Report, Error> {
        let trigger = match parse_target_health_event(&event)? {
            Parsed::Ignored(reason) => {
                info!(%reason, "event ignored");
                return Ok(Report {
                    status: ReportStatus::Ignored,
                    reason: Some(reason),
                    checks: vec![],
                    failures: vec![],
                    deferred: vec![],
                });
            }
            Parsed::Trigger(trigger) => trigger,
        };
        let label = trigger.label();
        let tally = Tally::default();
        let report = match &trigger {
            TargetHealthTrigger::Alarm {
                target_group,
                state,
                ..
            } => {
                info!(target_group = %target_group, alarm_state = %state, "alarm");
                let check = self.check(target_group, &label, &tally).await;
                self.emit(&tally, usize::from(check.is_err()));
                Report {
                    status: ReportStatus::Checked,
                    reason: None,
                    checks: vec![check?],
                    failures: vec![],
                    deferred: vec![],
                }
            }
            TargetHealthTrigger::Sweep => {
                let report = self.sweep(&label, &tally, deadline).await;
                self.emit(&tally, report.as_ref().map_or(0, |r| r.failures.len()));
                let completed = report.as_ref().is_ok_and(Report::sweep_completed);
                telemetry::emit(
                    &[("Function", "target-health")],
                    &[Metric::count(SWEEPS_COMPLETED, usize::from(completed))],
                );
                report?
            }
        };
        Ok(report)
    }

    fn emit(&self, tally: &Tally, failed: usize) {
        telemetry::emit(
            &[("Function", "target-health")],
            &[
                Metric::count("IncidentsOpened", Tally::get(&tally.incidents_opened)),
                Metric::count("ActionsTaken", Tally::get(&tally.actions_taken)),
                Metric::count("ActionsRefused", Tally::get(&tally.actions_refused)),
                Metric::count("IncidentsEscalated", Tally::get(&tally.incidents_escalated)),
                Metric::seconds("TimeToRecoverSeconds", tally.recovery_times()),
                Metric::count("ChecksFailed", failed),
            ],
        );
    }

    async fn check(
        &self,
        target_group: &TargetGroupArn,
        trigger: &str,
        tally: &Tally,
    ) -> Result<CheckReport, Error> {
        self.workflow()
            .reconcile(&ResourceRef::target_group(target_group), trigger, tally)
            .await
    }

    fn workflow(&self) -> Workflow<'_, TargetGroups<T, G, R, S>, S> {
        Workflow {
            kind: &self.kind,
            store: &self.store,
            policy: &self.kind.policy,
            clock: self.clock,
        }
    }

    /// Checks every managed target group and every open incident's, a few at a time.
    /// One target group's failure never stops the others; the sweep answers with an
    /// error only when retrying it can help: its listing failed, or every check failed
    /// and some could pass on a retry.
    async fn sweep(
        &self,
        trigger: &str,
        tally: &Tally,
        deadline: Option<SystemTime>,
    ) -> Result<Report, Error> {
        let target_groups = self.sweep_targets().await?;
        let total = target_groups.len();
        let stop_at = deadline.and_then(|d| d.checked_sub(DEADLINE_MARGIN));
        let outcomes: Vec<(TargetGroupArn, Option<Result<CheckReport, Error>>)> =
            futures::stream::iter(target_groups)
                .map(|(target_group, incident)| async move {
                    if stop_at.is_some_and(|stop| SystemTime::now() >= stop) {
                        return (target_group, None);
                    }
                    let result = self
                        .workflow()
                        .reconcile_from(
                            &ResourceRef::target_group(&target_group),
                            incident,
                            trigger,
                            tally,
                        )
                        .await;
                    (target_group, Some(result))
                })
                .buffer_unordered(self.kind.policy.sweep_concurrency.max(1))
                .collect()
                .await;

        let mut report = Report {
            status: ReportStatus::Checked,
            reason: None,
            checks: Vec::new(),
            failures: Vec::new(),
            deferred: Vec::new(),
        };
        let mut retryable_error = None;
        for (target_group, outcome) in outcomes {
            match outcome {
                None => report.deferred.push(target_group),
                Some(Ok(check)) => report.checks.push(check),
                Some(Err(err)) => {
                    warn!(target_group = %target_group, error = %DisplayErrorContext(&err), retryable = err.is_retryable(), "check failed; the sweep goes on");
                    report.failures.push(CheckFailure {
                        target_group,
                        error: err.to_string(),
                        retryable: err.is_retryable(),
                    });
                    if err.is_retryable() {
                        retryable_error.get_or_insert(err);
                    }
                }
            }
        }
        report
            .checks
            .sort_by(|a, b| a.resource.id.cmp(&b.resource.id));
        if !report.deferred.is_empty() {
            warn!(
                deferred = report.deferred.len(),
                total, "deadline near: the rest is left to the next sweep"
            );
        }
        let all_failed = !report.failures.is_empty() && report.checks.is_empty();
        match retryable_error {
            Some(err) if all_failed => Err(err),
            _ => Ok(report),
        }
    }

    /// Every managed group's target groups, and every target group with an open
    /// incident, with that incident: the listing saves each check its own read.
    async fn sweep_targets(&self) -> Result<BTreeMap<TargetGroupArn, Option<Incident>>, Error> {
        let mut target_groups = BTreeMap::new();
        for group in self
            .kind
            .groups
            .managed_groups(&self.kind.policy.managed_tag_key)
            .await?
        {
            for arn in group.target_group_arns {
                target_groups.insert(arn, None);
            }
        }
        for incident in self.store.open_incidents().await? {
            if incident.resource.kind != ResourceKind::TargetGroup {
                continue;
            }
            match TargetGroupArn::parse(incident.resource.id.as_str()) {
                Ok(arn) => {
                    target_groups.insert(arn, Some(incident));
                }
                Err(err) => {
                    warn!(incident_id = %incident.id, error = %err, "open incident names no valid target group")
                }
            }
        }
        info!(target_groups = target_groups.len(), "sweep");
        Ok(target_groups)
    }
}

#[cfg(test)]
mod tests;
