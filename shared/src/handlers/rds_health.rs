//! `rds-health`: an RDS event, an `AWS/RDS` alarm or the schedule says which DB
//! instances to look at; each goes through the shared incident
//! [`Workflow`](crate::workflow::Workflow) with the database specifics below: observe
//! the instance (its cluster, its recent RDS events), decide with [`policy::rds`], fail
//! it over to its standby.
//!
//! What the delivery said (the [`Cue`]) is part of the observation, not a command: the
//! same event handled twice, late or out of order converges on the same incident.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use aws_smithy_types::error::display::DisplayErrorContext;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;
use tracing::{error, info, warn};

use super::target_health::{ReportStatus, DEADLINE_MARGIN};
use crate::config::PolicyConfig;
use crate::domain::{
    Action, ActionKind, ActionOutcome, DatabaseEvidence, DbCluster, DbInstance, Evidence, Incident,
    Placement, RdsEvent, ResourceKind, ResourceRef,
};
use crate::error::Error;
use crate::ids::{DbClusterId, DbInstanceId};
use crate::policy::rds::{self, Cue};
use crate::policy::{Decision, History, PlannedAction, Verdict};
use crate::ports::{DatabaseFailover, Databases, FailedOver, IncidentStore};
use crate::telemetry::{self, Metric};
use crate::trigger::{parse_rds_event, Parsed, RdsTrigger};
use crate::workflow::{CheckReport, Tally, WatchedKind, Workflow};

/// The shortest window of RDS events read back (DescribeEvents counts in minutes).
const MIN_EVENT_WINDOW: Duration = Duration::from_secs(60);

/// What one invocation did, returned to the caller (and printed by `rebound invoke`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub status: ReportStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// An RDS event not in the event table: recorded (in the open incident's evidence,
    /// if there is one), never acted on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observation: Option<String>,
    pub checks: Vec<CheckReport>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<CheckFailure>,
    /// DB instances not checked because the invocation's deadline was near.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deferred: Vec<DbInstanceId>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CheckFailure {
    pub db_instance: DbInstanceId,
    pub error: String,
    pub retryable: bool,
}

/// DB instances as a kind of watched resource: the ports, and the policy.
pub struct DbInstances<D, F> {
    pub databases: D,
    pub failover: F,
    pub policy: PolicyConfig,
}

/// One check of one DB instance: the kind, what the delivery said, and when.
struct DbCheck<'a, D, F> {
    kind: &'a DbInstances<D, F>,
    cue: &'a Cue,
    now: DateTime<Utc>,
}

/// A DB instance as observed.
#[derive(Debug, Clone)]
pub struct ObservedDb {
    pub instance: DbInstance,
    pub cluster: Option<DbCluster>,
    /// RDS events over the cooldown window, read when a failover may be decided.
    pub events: Vec<RdsEvent>,
    /// Where primary and standby were before the open incident's failover.
    before: Option<Placement>,
    /// A failover may be decided: what the guards need is worth reading.
    may_fail_over: bool,
}

impl<D, F> DbCheck<'_, D, F> {
    fn observation<'o>(&'o self, observed: &'o ObservedDb) -> rds::Observation<'o> {
        rds::Observation {
            instance: &observed.instance,
            cluster: observed.cluster.as_ref(),
            events: &observed.events,
            cue: self.cue,
        }
    }

    fn placement(&self, observed: &ObservedDb) -> Placement {
        observed
            .instance
            .placement(observed.cluster.as_ref(), self.now)
    }
}

impl<D, F> WatchedKind for DbCheck<'_, D, F>
where
    D: Databases,
    F: DatabaseFailover,
{
    type Observed = ObservedDb;

    async fn observe(
        &self,
        resource: &ResourceRef,
        incident: Option<&Incident>,
    ) -> Result<Option<ObservedDb>, Error> {
        let id = DbInstanceId::parse(resource.id.as_str())
            .map_err(|e| Error::InvalidEvent(e.to_string()))?;
        let Some(instance) = self.kind.databases.db_instance(&id).await? else {
            return Ok(None);
        };
        let cluster = match &instance.cluster {
            Some(cluster) => self.kind.databases.db_cluster(cluster).await?,
            None => None,
        };
        let wanted = incident.is_some_and(rds::wants_failover);
        // An incident whose failover was asked for is verified, never failed over again:
        // nothing more to read for it.
        let asked = incident.is_some_and(rds::failover_requested);
        // A standalone instance that is unmanaged, single-AZ or not available is refused
        // on what was just read: RDS's events and the ledgers would change nothing.
        let eligible = instance.cluster.is_some()
            || (instance.is_managed(&self.kind.policy.managed_tag_key)
                && instance.multi_az
                && instance.is_available());
        let may_fail_over =
            eligible && !asked && (self.cue.is_sick() || (matches!(self.cue, Cue::Look) && wanted));
        // RDS's own failover events (ours, or one it made by itself, delivered to us or
        // not) count against a new failover: worth a call only when one may be decided.
        let events = if may_fail_over {
            let window = self.kind.policy.rds_cooldown.max(MIN_EVENT_WINDOW);
            self.kind.databases.recent_events(&id, window).await?
        } else {
            Vec::new()
        };
        let before = incident
            .and_then(|i| i.evidence.database.as_ref())
            .map(|d| {
                d.before_failover
                    .clone()
                    .unwrap_or_else(|| d.detected.clone())
            });
        Ok(Some(ObservedDb {
            instance,
            cluster,
            events,
            before,
            may_fail_over,
        }))
    }

    fn scopes(&self, observed: &ObservedDb) -> Vec<ResourceRef> {
        if !observed.may_fail_over {
            return Vec::new();
        }
        let tag = &self.kind.policy.managed_tag_key;
        match &observed.cluster {
            Some(cluster) if cluster.is_managed(tag) => vec![ResourceRef::db_cluster(&cluster.id)],
            None if observed.instance.is_managed(tag) => {
                vec![ResourceRef::db_instance(&observed.instance.id)]
            }
            _ => Vec::new(),
        }
    }

    fn decide(&self, observed: &ObservedDb, history: History<'_>, now: DateTime<Utc>) -> Decision {
        rds::decide(self.observation(observed), history, &self.kind.policy, now)
    }

    /// The instance's (or its cluster's) `rebound:rto-seconds`, or the default for
    /// databases.
    fn recovery_objective(&self, observed: &ObservedDb) -> Option<u64> {
        crate::policy::rto_from_tags(&observed.instance.tags)
            .or_else(|| {
                observed
                    .cluster
                    .as_ref()
                    .and_then(|c| crate::policy::rto_from_tags(&c.tags))
            })
            .or(Some(self.kind.policy.database_rto.as_secs()))
    }

    fn evidence(&self, observed: &ObservedDb) -> Evidence {
        let mut database = DatabaseEvidence::new(self.placement(observed));
        database.wants_failover = self.cue.is_sick();
        for event in self.cue.event().into_iter().chain(&observed.events) {
            database.record_event(event);
        }
        Evidence {
            targets: Vec::new(),
            auto_scaling_groups: Vec::new(),
            database: Some(database),
        }
    }

    fn revise_evidence(
        &self,
        evidence: &mut Evidence,
        observed: &ObservedDb,
        decision: &Decision,
        _now: DateTime<Utc>,
    ) -> bool {
        let placement = self.placement(observed);
        let database = evidence
            .database
            .get_or_insert_with(|| DatabaseEvidence::new(placement.clone()));
        let mut changed = false;
        for event in self.cue.event().into_iter().chain(&observed.events) {
            changed |= database.record_event(event);
        }
        if self.cue.is_sick() != database.wants_failover
            && (self.cue.is_sick() || self.cue.clears())
        {
            database.wants_failover = self.cue.is_sick();
            changed = true;
        }
        match decision.verdict {
            // Where primary and standby are as the failover starts: what recovery is
            // verified against.
            Verdict::Remediate => {
                database.before_failover = Some(placement);
                changed = true;
            }
            Verdict::Underway if database.before_failover.is_none() => {
                database.before_failover = Some(placement);
                changed = true;
            }
            Verdict::Resolve if database.before_failover.is_some() => {
                database.after_failover = Some(placement);
                changed = true;
            }
            _ => {}
        }
        changed
    }

    fn settle(
        &self,
        action: &Action,
        observed: &ObservedDb,
        now: DateTime<Utc>,
    ) -> Option<(ActionOutcome, String)> {
        rds::settle_pending(
            action,
            self.observation(observed),
            observed.before.as_ref(),
            &self.kind.policy,
            now,
        )
    }

    async fn act(&self, action: &Action) -> Result<Option<String>, Error> {
        let outcome = match action.kind {
            ActionKind::RebootWithFailover => {
                let id = DbInstanceId::parse(action.target.id.as_str())
                    .map_err(|e| Error::InvalidEvent(e.to_string()))?;
                self.kind.failover.reboot_with_failover(&id).await?
            }
            ActionKind::FailoverDbCluster => {
                let id = DbClusterId::parse(action.target.id.as_str())
                    .map_err(|e| Error::InvalidEvent(e.to_string()))?;
                self.kind.failover.failover_cluster(&id).await?
            }
            other => {
                return Err(Error::InvalidEvent(format!(
                    "{} is not a database action",
                    other.as_str()
                )))
            }
        };
        Ok(match outcome {
            FailedOver::Requested => None,
            FailedOver::AlreadyUnderway => Some(
                "the database was already failing over (an earlier attempt took effect)".into(),
            ),
        })
    }

    fn describe(&self, action: &PlannedAction) -> String {
        match action.kind {
            ActionKind::FailoverDbCluster => {
                format!("fail cluster {} over (FailoverDBCluster)", action.target.id)
            }
            _ => format!(
                "fail {} over to its standby (RebootDBInstance with ForceFailover)",
                action.target.id
            ),
        }
    }
}

/// The rds-health function: its ports and policy, built once per cold start.
pub struct RdsHealthHandler<D, F, S> {
    pub kind: DbInstances<D, F>,
    pub store: S,
    pub clock: fn() -> DateTime<Utc>,
}

impl<D, F, S> RdsHealthHandler<D, F, S>
where
    D: Databases,
    F: DatabaseFailover,
    S: IncidentStore,
{
    pub fn new(databases: D, failover: F, store: S, policy: PolicyConfig) -> Self {
        Self {
            kind: DbInstances {
                databases,
                failover,
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

    /// Handles one event; a sweep starts no new check past `deadline` minus
    /// [`DEADLINE_MARGIN`].
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
        let trigger = match parse_rds_event(&event)? {
            Parsed::Ignored(reason) => {
                info!(%reason, "event ignored");
                return Ok(Report {
                    status: ReportStatus::Ignored,
                    reason: Some(reason),
                    observation: None,
                    checks: vec![],
                    failures: vec![],
                    deferred: vec![],
                });
            }
            Parsed::Trigger(trigger) => trigger,
        };
        let label = trigger.label();
        let tally = Tally::default();
        let (instance, cue, observation) = match trigger {
            RdsTrigger::Sweep => {
                let report = self.sweep(&label, &tally, deadline).await;
                self.emit(&tally, report.as_ref().map_or(0, |r| r.failures.len()));
                return report;
            }
            RdsTrigger::Alarm {
                instance,
                state,
                since,
                ..
            } => {
                info!(db_instance = %instance, alarm_state = %state, "alarm");
                let cue = match state.as_str() {
                    "ALARM" => Cue::AlarmFiring { since },
                    "OK" => Cue::AlarmOk,
                    _ => Cue::Look,
                };
                (instance, cue, None)
            }
            RdsTrigger::Event { instance, event } => {
                let rule = event
                    .id
                    .as_ref()
                    .and_then(|id| rds::event_rule(id, &event.categories));
                match rule {
                    Some(rule) => {
                        info!(db_instance = %instance, event_id = rule.id, effect = rule.effect.as_str(), "RDS event");
                        let cue = Cue::Event {
                            effect: rule.effect,
                            event,
                        };
                        (instance, cue, None)
                    }
                    None => {
                        let note = format!(
                            "{} is not in the event table: recorded, never acted on",
                            event.label()
                        );
                        info!(db_instance = %instance, observation = %note, "RDS event observed");
                        (instance, Cue::Unknown(event), Some(note))
                    }
                }
            }
        };
        let check = self.check(&instance, &cue, &label, &tally).await;
        self.emit(&tally, usize::from(check.is_err()));
        Ok(Report {
            status: ReportStatus::Checked,
            reason: None,
            observation,
            checks: vec![check?],
            failures: vec![],
            deferred: vec![],
        })
    }

    fn emit(&self, tally: &Tally, failed: usize) {
        telemetry::emit(
            &[("Function", "rds-health")],
            &[
                Metric::count("IncidentsOpened", Tally::get(&tally.incidents_opened)),
                Metric::count("ActionsTaken", Tally::get(&tally.actions_taken)),
                Metric::count("ActionsRefused", Tally::get(&tally.actions_refused)),
                Metric::count("ChecksFailed", failed),
            ],
        );
    }

    async fn check(
        &self,
        instance: &DbInstanceId,
        cue: &Cue,
        trigger: &str,
        tally: &Tally,
    ) -> Result<CheckReport, Error> {
        let check = DbCheck {
            kind: &self.kind,
            cue,
            now: (self.clock)(),
        };
        Workflow {
            kind: &check,
            store: &self.store,
            policy: &self.kind.policy,
            clock: self.clock,
        }
        .reconcile(&ResourceRef::db_instance(instance), trigger, tally)
        .await
    }

    /// Checks every managed DB instance and every open database incident's, a few at a
    /// time. One instance's failure never stops the others; the sweep answers with an
    /// error only when its listing failed, or every check failed and a retry can help.
    async fn sweep(
        &self,
        trigger: &str,
        tally: &Tally,
        deadline: Option<SystemTime>,
    ) -> Result<Report, Error> {
        let instances = self.sweep_targets().await?;
        let stop_at = deadline.and_then(|d| d.checked_sub(DEADLINE_MARGIN));
        let cue = Cue::Look;
        let cue = &cue;
        let outcomes: Vec<(DbInstanceId, Option<Result<CheckReport, Error>>)> =
            futures::stream::iter(instances)
                .map(|instance| async move {
                    if stop_at.is_some_and(|stop| SystemTime::now() >= stop) {
                        return (instance, None);
                    }
                    let result = self.check(&instance, cue, trigger, tally).await;
                    (instance, Some(result))
                })
                .buffer_unordered(self.kind.policy.sweep_concurrency.max(1))
                .collect()
                .await;
        let mut report = Report {
            status: ReportStatus::Checked,
            reason: None,
            observation: None,
            checks: Vec::new(),
            failures: Vec::new(),
            deferred: Vec::new(),
        };
        let mut retryable_error = None;
        for (instance, outcome) in outcomes {
            match outcome {
                None => report.deferred.push(instance),
                Some(Ok(check)) => report.checks.push(check),
                Some(Err(err)) => {
                    warn!(db_instance = %instance, error = %DisplayErrorContext(&err), retryable = err.is_retryable(), "check failed; the sweep goes on");
                    report.failures.push(CheckFailure {
                        db_instance: instance,
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
                "deadline near: the rest is left to the next sweep"
            );
        }
        let all_failed = !report.failures.is_empty() && report.checks.is_empty();
        match retryable_error {
            Some(err) if all_failed => Err(err),
            _ => Ok(report),
        }
    }

    /// Every managed DB instance, and every DB instance with an open incident.
    async fn sweep_targets(&self) -> Result<Vec<DbInstanceId>, Error> {
        let mut instances: BTreeSet<DbInstanceId> = self
            .kind
            .databases
            .managed_instances(&self.kind.policy.managed_tag_key)
            .await?
            .into_iter()
            .map(|i| i.id)
            .collect();
        for incident in self.store.open_incidents().await? {
            if incident.resource.kind == ResourceKind::DbInstance {
                match DbInstanceId::parse(incident.resource.id.as_str()) {
                    Ok(id) => {
                        instances.insert(id);
                    }
                    Err(err) => {
                        warn!(incident_id = %incident.id, error = %err, "open incident names no valid DB instance")
                    }
                }
            }
        }
        info!(db_instances = instances.len(), "sweep");
        Ok(instances.into_iter().collect())
    }
}

#[cfg(test)]
mod tests;
