//! The one function shell every watching function runs in, whatever its kind: a raw
//! event is parsed into a [`Delivery`] (by the function's trigger parser), each resource
//! it names goes through the incident [`Workflow`], and the schedule's sweep checks every
//! managed resource and every open incident of the kind, a few at a time, until the
//! invocation's deadline is near. It reports what it did, emits the same metric set for
//! every function, logs a failed invocation once, and tells Lambda whether a retry can
//! help.
//!
//! A function binary is its kind, its trigger parser and its wiring:
//! `shell::serve(Function { … })`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use aws_smithy_types::error::display::DisplayErrorContext;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;
use tracing::{error, info, warn};

use crate::domain::{Incident, ResourceRef};
use crate::error::Error;
use crate::kind::Kind;
use crate::ports::IncidentStore;
use crate::telemetry::{self, Metric};
use crate::workflow::{CheckReport, Tally, Workflow};

/// The heartbeat: 1 for every sweep that completed (see [`Report::sweep_completed`]).
/// Each scheduled function's "no successful sweep" alarm watches it, so a watcher that
/// stopped watching is noticed.
pub const SWEEPS_COMPLETED: &str = "SweepsCompleted";

/// The metrics every function emits, each invocation (a metric without a value is left
/// out of the line).
pub const METRICS: [&str; 7] = [
    "IncidentsOpened",
    "ActionsTaken",
    "ActionsRefused",
    "ChecksFailed",
    "IncidentsEscalated",
    "TimeToRecoverSeconds",
    SWEEPS_COMPLETED,
];

/// A sweep starts no new check when less than this is left before the invocation's
/// deadline: a check takes a few calls, and what is left goes to the next sweep.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// A check still running this close to the deadline is cut: Lambda would stop the
/// whole invocation at the deadline, losing the sweep's backlog and report with it. A
/// check cut after its write-ahead is settled from it by the next check, as after a
/// timeout; the resource is left to the next sweep.
pub const DEADLINE_CUT_MARGIN: Duration = Duration::from_secs(1);

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

/// A parsed event: something to do, or a reason it is none of this function's business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    Trigger(T),
    Ignored(String),
}

/// What a delivery asks of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery<C> {
    /// Look at these resources, each with what the delivery says of it.
    Check {
        /// How an incident it opens records what started it: `alarm:<name>`, …
        trigger: String,
        checks: Vec<(ResourceRef, C)>,
        /// Something the delivery said that is worth reporting but not acting on.
        observation: Option<String>,
    },
    /// The schedule: every managed resource and every open incident of the kind.
    Sweep,
}

/// A function's trigger parser: the raw event in, what to do out.
pub type TriggerParser<C> = fn(&Value) -> Result<Parsed<Delivery<C>>, Error>;

/// What one invocation did, returned to the caller (and printed by `rebound invoke`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub status: ReportStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Something the delivery said that was recorded, never acted on (an RDS event not
    /// in the event table, an alarm not designated for an action).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observation: Option<String>,
    pub checks: Vec<CheckReport>,
    /// Checks that failed; the others went on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<CheckFailure>,
    /// Resources not checked because the invocation's deadline was near: the next
    /// sweep looks at them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deferred: Vec<ResourceRef>,
}

impl Report {
    fn checked() -> Self {
        Self {
            status: ReportStatus::Checked,
            reason: None,
            observation: None,
            checks: vec![],
            failures: vec![],
            deferred: vec![],
        }
    }

    fn ignored(reason: String) -> Self {
        Self {
            status: ReportStatus::Ignored,
            reason: Some(reason),
            ..Self::checked()
        }
    }

    /// A sweep that did its job: it listed what to check and checked some of it, or
    /// there was nothing to check. Failures of single resources do not stop a sweep
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
    pub resource: ResourceRef,
    pub error: String,
    pub retryable: bool,
}

/// One function: its name (the metrics' `Function` dimension and the logs'), its kind,
/// its trigger parser and its incident store, built once per cold start.
pub struct Function<K: Kind, S> {
    pub name: &'static str,
    pub kind: K,
    pub parse: TriggerParser<K::Cue>,
    pub store: S,
    pub clock: fn() -> DateTime<Utc>,
}

impl<K: Kind, S: IncidentStore> Function<K, S> {
    pub fn new(name: &'static str, kind: K, parse: TriggerParser<K::Cue>, store: S) -> Self {
        Self {
            name,
            kind,
            parse,
            store,
            clock: Utc::now,
        }
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
            error!(function = self.name, error_type = err.error_type(), retryable = err.is_retryable(), error = %DisplayErrorContext(err), "invocation failed");
        }
        result
    }

    async fn handle_event(
        &self,
        event: Value,
        deadline: Option<SystemTime>,
    ) -> Result<Report, Error> {
        let delivery = match (self.parse)(&event)? {
            Parsed::Ignored(reason) => {
                info!(%reason, "event ignored");
                return Ok(Report::ignored(reason));
            }
            Parsed::Trigger(delivery) => delivery,
        };
        let tally = Tally::default();
        match delivery {
            Delivery::Check {
                trigger,
                checks,
                observation,
            } => {
                if let Some(note) = &observation {
                    info!(observation = %note, "observed, not acted on");
                }
                let mut report = Report {
                    observation,
                    ..Report::checked()
                };
                let mut first_error = None;
                // A delivery about a resource of another type (a DB cluster's event)
                // reaches the kind's resources it concerns.
                let mut resolved = Vec::new();
                for (resource, cue) in checks {
                    if resource.kind == self.kind.resource_type() {
                        resolved.push((resource, cue));
                        continue;
                    }
                    match self.kind.members(&resource).await {
                        Ok(members) => {
                            resolved.extend(members.into_iter().map(|m| (m, cue.clone())))
                        }
                        Err(err) => {
                            report.failures.push(failure(resource, &err));
                            first_error.get_or_insert(err);
                        }
                    }
                }
                for (resource, cue) in resolved {
                    info!(resource = %resource, cue = ?cue, "check");
                    match self
                        .workflow()
                        .reconcile(&resource, &cue, &trigger, &tally)
                        .await
                    {
                        Ok(check) => report.checks.push(check),
                        Err(err) => {
                            report.failures.push(failure(resource, &err));
                            first_error.get_or_insert(err);
                        }
                    }
                }
                self.emit(&tally, report.failures.len(), None);
                match first_error {
                    Some(err) => Err(err),
                    None => Ok(report),
                }
            }
            Delivery::Sweep => {
                let report = self.sweep(&tally, deadline).await;
                let completed = report.as_ref().is_ok_and(Report::sweep_completed);
                self.emit(
                    &tally,
                    report.as_ref().map_or(0, |r| r.failures.len()),
                    Some(completed),
                );
                report
            }
        }
    }

    /// The invocation's metric line: the same set for every function.
    fn emit(&self, tally: &Tally, failed: usize, sweep_completed: Option<bool>) {
        let mut metrics = vec![
            Metric::count("IncidentsOpened", Tally::get(&tally.incidents_opened)),
            Metric::count("ActionsTaken", Tally::get(&tally.actions_taken)),
            Metric::count("ActionsRefused", Tally::get(&tally.actions_refused)),
            Metric::count("ChecksFailed", failed),
            Metric::count("IncidentsEscalated", Tally::get(&tally.incidents_escalated)),
            Metric::seconds("TimeToRecoverSeconds", tally.recovery_times()),
        ];
        if let Some(completed) = sweep_completed {
            metrics.push(Metric::count(SWEEPS_COMPLETED, usize::from(completed)));
        }
        telemetry::emit(&[("Function", self.name)], &metrics);
    }

    fn workflow(&self) -> Workflow<'_, K, S> {
        Workflow {
            kind: &self.kind,
            store: &self.store,
            clock: self.clock,
        }
    }

    /// Checks every managed resource and every open incident's, a few at a time. One
    /// resource's failure never stops the others; the sweep answers with an error only
    /// when retrying it can help: its listing failed, or every check failed and some
    /// could pass on a retry.
    async fn sweep(&self, tally: &Tally, deadline: Option<SystemTime>) -> Result<Report, Error> {
        let swept = self.sweep_checks(tally, deadline).await;
        self.kind.sweep_ended();
        swept
    }

    async fn sweep_checks(
        &self,
        tally: &Tally,
        deadline: Option<SystemTime>,
    ) -> Result<Report, Error> {
        let kind = self.kind.resource_type();
        let (listed, backlog) = futures::join!(self.sweep_list(), self.store.sweep_backlog(&kind));
        let backlog = backlog.unwrap_or_else(|err| {
            warn!(error = %DisplayErrorContext(&err), "sweep backlog not read: the usual order");
            Vec::new()
        });
        let resources = sweep_order(listed?, &backlog);
        let order: Vec<ResourceRef> = resources.iter().map(|(r, _)| r.clone()).collect();
        let total = resources.len();
        let stop_at = deadline.and_then(|d| d.checked_sub(DEADLINE_MARGIN));
        let cut_at = deadline.and_then(|d| d.checked_sub(DEADLINE_CUT_MARGIN));
        let cue = K::Cue::default();
        let cue = &cue;
        let outcomes: Vec<(ResourceRef, Option<Result<CheckReport, Error>>)> =
            futures::stream::iter(resources)
                .map(|(resource, incident)| async move {
                    if stop_at.is_some_and(|stop| SystemTime::now() >= stop) {
                        return (resource, None);
                    }
                    let workflow = self.workflow();
                    // On the heap: a check's future is large, and the stream holds several.
                    let check =
                        Box::pin(workflow.reconcile_from(&resource, cue, incident, "sweep", tally));
                    // A check may wait for its share of the API rate (paced calls): it
                    // can outlast the margin it started within.
                    let outcome = match cut_at {
                        None => Some(check.await),
                        Some(cut_at) => {
                            let left = cut_at
                                .duration_since(SystemTime::now())
                                .unwrap_or(Duration::ZERO);
                            tokio::time::timeout(left, check).await.ok()
                        }
                    };
                    if outcome.is_none() {
                        warn!(resource = %resource, "check cut at the deadline; left to the next sweep");
                    }
                    (resource, outcome)
                })
                .buffer_unordered(self.kind.settings().sweep_concurrency.max(1))
                .collect()
                .await;

        let mut report = Report::checked();
        let mut retryable_error = None;
        for (resource, outcome) in outcomes {
            match outcome {
                None => report.deferred.push(resource),
                Some(Ok(check)) => report.checks.push(check),
                Some(Err(err)) => {
                    warn!(resource = %resource, error = %DisplayErrorContext(&err), retryable = err.is_retryable(), "check failed; the sweep goes on");
                    report.failures.push(failure(resource, &err));
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
        // What this sweep had no time for comes first in the next one, in this order.
        let deferred: BTreeSet<&ResourceRef> = report.deferred.iter().collect();
        let next_backlog: Vec<ResourceRef> =
            order.into_iter().filter(|r| deferred.contains(r)).collect();
        if !(backlog.is_empty() && next_backlog.is_empty()) {
            if let Err(err) = self.store.keep_sweep_backlog(&kind, &next_backlog).await {
                warn!(error = %DisplayErrorContext(&err), "sweep backlog not kept: the next sweep checks in the usual order");
            }
        }
        report.deferred = next_backlog;
        let all_failed = !report.failures.is_empty() && report.checks.is_empty();
        match retryable_error {
            Some(err) if all_failed => Err(err),
            _ => Ok(report),
        }
    }

    /// Every managed resource of the kind, and every one with an open incident, with
    /// that incident: the listing saves each check its own read.
    async fn sweep_list(&self) -> Result<BTreeMap<ResourceRef, Option<Incident>>, Error> {
        let kind = self.kind.resource_type();
        let open: Vec<Incident> = self
            .store
            .open_incidents()
            .await?
            .into_iter()
            .filter(|incident| incident.resource.kind == kind)
            .collect();
        let open_resources: Vec<ResourceRef> = open.iter().map(|i| i.resource.clone()).collect();
        let mut resources: BTreeMap<ResourceRef, Option<Incident>> = self
            .kind
            .sweep_list(&open_resources)
            .await?
            .into_iter()
            .map(|resource| (resource, None))
            .collect();
        for incident in open {
            resources.insert(incident.resource.clone(), Some(incident));
        }
        info!(function = self.name, resources = resources.len(), "sweep");
        Ok(resources)
    }
}

/// The order a sweep checks in, so that what one invocation cannot cover is covered
/// first by the next: least recently checked first. What the last sweep had no time
/// for (its backlog, in its order) was checked less recently than anything it reached;
/// then the open incidents, then the rest. With nothing left behind, open incidents
/// come first; with a backlog, those the last sweep checked wait their turn behind it,
/// or enough of them to fill a sweep would starve everything else: every resource is
/// checked at least once every ⌈listed ÷ checks per sweep⌉ sweeps.
fn sweep_order(
    mut listed: BTreeMap<ResourceRef, Option<Incident>>,
    backlog: &[ResourceRef],
) -> Vec<(ResourceRef, Option<Incident>)> {
    let mut ordered: Vec<(ResourceRef, Option<Incident>)> = Vec::with_capacity(listed.len());
    let open: Vec<ResourceRef> = listed
        .iter()
        .filter(|(_, incident)| incident.is_some())
        .map(|(r, _)| r.clone())
        .collect();
    for resource in backlog.iter().chain(&open) {
        if let Some(incident) = listed.remove(resource) {
            ordered.push((resource.clone(), incident));
        }
    }
    ordered.extend(listed);
    ordered
}

fn failure(resource: ResourceRef, err: &Error) -> CheckFailure {
    CheckFailure {
        resource,
        error: err.to_string(),
        retryable: err.is_retryable(),
    }
}

/// Runs a function under the Lambda runtime until the runtime stops it: each event goes
/// to the function with the invocation's deadline.
pub async fn serve<K, S>(function: Function<K, S>) -> Result<(), lambda_runtime::Error>
where
    K: Kind,
    S: IncidentStore,
{
    let function = &function;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<Value>| async move {
            // The sweep stops starting checks before the invocation's deadline.
            let deadline = invocation_deadline(event.context.deadline);
            function.handle_until(event.payload, Some(deadline)).await
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Evidence, Opening, ResourceType};

    const TG: ResourceType = ResourceType::named("target-group");

    fn tg(id: &str) -> ResourceRef {
        ResourceRef::new(TG, id)
    }

    fn open_on(resource: &ResourceRef) -> Incident {
        Incident::open(
            Opening {
                resource: resource.clone(),
                trigger: "test".into(),
                evidence: Evidence::default(),
                summary: "failing".into(),
                rto_s: None,
                drill: None,
            },
            chrono::Utc::now(),
        )
    }

    fn listing(ids: &[&str], open: &[&str]) -> BTreeMap<ResourceRef, Option<Incident>> {
        ids.iter()
            .map(|id| {
                let resource = tg(id);
                let incident = open.contains(id).then(|| open_on(&resource));
                (resource, incident)
            })
            .collect()
    }

    fn ids(order: Vec<(ResourceRef, Option<Incident>)>) -> Vec<String> {
        order.into_iter().map(|(r, _)| r.id).collect()
    }

    #[test]
    fn a_sweep_checks_last_sweep_s_backlog_then_open_incidents_then_the_rest() {
        let listed = listing(&["a", "b", "c", "d", "e"], &["c", "e"]);
        // The backlog names one resource no longer listed (gone since): skipped.
        let backlog = [tg("d"), tg("gone"), tg("c"), tg("b")];
        assert_eq!(
            ids(sweep_order(listed, &backlog)),
            ["d", "c", "b", "e", "a"]
        );
        // With nothing left behind, open incidents come first.
        let listed = listing(&["a", "b", "c", "d", "e"], &["e"]);
        assert_eq!(ids(sweep_order(listed, &[])), ["e", "a", "b", "c", "d"]);
    }

    #[test]
    fn incidents_opened_faster_than_a_sweep_can_check_starve_nothing() {
        // 1 % of 10,000 target groups failing at once, 28 checks a sweep: every check
        // finds its target group failing and opens an incident (as the bench's dry run
        // does), so open incidents soon outnumber a sweep. Every target group is still
        // checked within ceil(100 / 28) = 4 sweeps, and then again every 4.
        let all: Vec<String> = (0..100).map(|n| format!("tg-{n:03}")).collect();
        let mut open: BTreeSet<String> = BTreeSet::new();
        let mut backlog: Vec<ResourceRef> = Vec::new();
        let mut last_checked: BTreeMap<String, usize> = BTreeMap::new();
        for sweep in 0..12 {
            let ids_now: Vec<&str> = all.iter().map(String::as_str).collect();
            let open_now: Vec<&str> = open.iter().map(String::as_str).collect();
            let order = ids(sweep_order(listing(&ids_now, &open_now), &backlog));
            assert_eq!(order.len(), 100);
            for id in order.iter().take(28) {
                last_checked.insert(id.clone(), sweep);
                open.insert(id.clone());
            }
            backlog = order.iter().skip(28).map(|id| tg(id)).collect();
            if sweep >= 3 {
                for id in &all {
                    assert!(
                        last_checked.get(id).is_some_and(|at| at + 4 > sweep),
                        "{id} not checked in the 4 sweeps up to {sweep}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_deadline_as_time_left_is_read_as_from_now() {
        let now = SystemTime::now();
        let deadline = invocation_deadline(600_000);
        assert!(deadline >= now + Duration::from_secs(599));
        let absolute = invocation_deadline(1_800_000_000_000);
        assert_eq!(
            absolute,
            SystemTime::UNIX_EPOCH + Duration::from_millis(1_800_000_000_000)
        );
    }
}
