//! One test suite for the function shell and the workflow, run for every kind: the shell
//! never asks which kind it runs, so what it promises (one incident and one remediation
//! however often and however concurrently an event arrives, lost races and lost answers
//! settled by reading again, the deadline, a failing check that stops no other, the same
//! metric line) must hold for each kind alike.
//!
//! A kind takes part by describing its world to [`KindUnderTest`] (one file per kind)
//! and expanding [`shell_suite!`], which writes the same tests for it.
//!
//! - [`target_group`]: target-health, one failing instance behind its target group;
//! - [`database`]: rds-health, a Multi-AZ instance whose designated alarm fires;
//! - [`zone`]: zone-health, one zone of a load balancer failing on its own.

mod database;
mod target_group;
mod zone;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::domain::{ActionOutcome, Incident, ResourceRef};
use crate::error::Error;
use crate::fakes::MemoryStore;
use crate::kind::Kind;
use crate::shell::{invocation_deadline, Function, Report, DEADLINE_MARGIN, METRICS};
use crate::telemetry::capture;

/// What the suite needs to know of a kind: a world with one resource failing (in
/// enforce mode), the event that makes the first look at it act, and how to read what
/// the fakes were asked to do.
pub(crate) trait KindUnderTest {
    type Kind: Kind;
    type World;

    /// The function's name: its metrics' `Function` dimension, and its folder of sample
    /// events in `events/`.
    const FUNCTION: &'static str;

    /// One managed resource failing in a way the kind remediates, and nothing else
    /// wrong.
    fn world() -> Self::World;

    /// The function over the world's fakes, as its binary wires the real ports.
    fn handler(world: &Self::World) -> Function<Self::Kind, MemoryStore>;

    fn store(world: &Self::World) -> &MemoryStore;

    /// The failing resource, as its incident names it.
    fn failing_resource() -> ResourceRef;

    /// The delivery that makes the first look at the failing resource act: its alarm in
    /// ALARM.
    fn alarm() -> Value {
        sample_event(Self::FUNCTION, "alarm-state-change.json")
    }

    fn sweep() -> Value {
        sample_event(Self::FUNCTION, "scheduled-sweep.json")
    }

    /// Every mutating call the fakes received, in order, one line each.
    fn mutating_calls(world: &Self::World) -> Vec<String>;

    /// The calls one remediation of the failing resource makes.
    fn one_remediation(world: &Self::World) -> Vec<String>;

    /// How many reads of the resources' state the fakes answered: a check that observes
    /// again reads again.
    fn reads(world: &Self::World) -> usize;

    /// Adds a second resource, healthy or at least never acted on, that the sweep looks
    /// at next to the failing one.
    async fn add_second_resource(world: &Self::World) -> ResourceRef;

    /// Adds the second resource and makes the check of one of the two fail: returns the
    /// resource whose check fails, then the one whose check goes through.
    async fn fail_one_of_two_checks(world: &Self::World) -> (ResourceRef, ResourceRef);
}

/// One of the sample events every function ships in `events/<function>/`.
fn sample_event(function: &str, name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(function)
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// A retryable failure, as a throttled AWS call answers.
fn throttled(operation: &'static str) -> Error {
    Error::Aws {
        operation,
        retryable: true,
        detail: "Throttling: Rate exceeded".into(),
        source: "Throttling".into(),
    }
}

async fn deliver<K: KindUnderTest>(world: &K::World, event: Value) -> Report {
    K::handler(world)
        .handle(event)
        .await
        .unwrap_or_else(|e| panic!("delivery failed: {e}"))
}

/// The one incident of the store; there must be exactly one.
fn the_incident<K: KindUnderTest>(world: &K::World) -> Incident {
    let incidents = K::store(world).incidents();
    assert_eq!(incidents.len(), 1, "one incident: {incidents:#?}");
    incidents.into_iter().next().unwrap()
}

/// The incident records one remediation, each of its actions carried out and recorded
/// once.
fn assert_remediated_once(incident: &Incident) {
    assert!(!incident.actions.is_empty(), "{incident:#?}");
    for action in &incident.actions {
        assert_eq!(action.outcome, ActionOutcome::Succeeded, "{incident:#?}");
    }
    let targets: BTreeSet<(&str, &str)> = incident
        .actions
        .iter()
        .map(|a| (a.kind.as_str(), a.target.id.as_str()))
        .collect();
    assert_eq!(
        targets.len(),
        incident.actions.len(),
        "no action recorded twice: {incident:#?}"
    );
}

/// The incident opened once, on the failing resource, and its timeline reads in order.
fn assert_coherent<K: KindUnderTest>(incident: &Incident) {
    assert_eq!(incident.resource, K::failing_resource());
    let opened: Vec<usize> = incident
        .timeline
        .iter()
        .enumerate()
        .filter(|(_, entry)| entry.event == "opened")
        .map(|(index, _)| index)
        .collect();
    assert_eq!(opened, [0], "opened once, first: {:#?}", incident.timeline);
    assert!(
        incident.timeline.windows(2).all(|w| w[0].at <= w[1].at),
        "the timeline reads in order: {:#?}",
        incident.timeline
    );
    assert!(incident.written_by.is_some(), "stored by a writer");
}

// 1. Duplicate deliveries.

pub(crate) async fn duplicate_deliveries_of_an_event_converge_on_one_incident_and_one_remediation<
    K: KindUnderTest,
>() {
    let w = K::world();
    for _ in 0..5 {
        deliver::<K>(&w, K::alarm()).await;
    }
    assert_eq!(K::mutating_calls(&w), K::one_remediation(&w));
    let incident = the_incident::<K>(&w);
    assert_coherent::<K>(&incident);
    assert_remediated_once(&incident);
}

// 2. Concurrent deliveries.

pub(crate) async fn concurrent_deliveries_of_an_event_converge_on_one_incident_and_one_remediation<
    K: KindUnderTest,
>() {
    let w = K::world();
    let handler = K::handler(&w);
    let (a, b, c, d) = tokio::join!(
        handler.handle(K::alarm()),
        handler.handle(K::alarm()),
        handler.handle(K::alarm()),
        handler.handle(K::alarm()),
    );
    let reports = [a, b, c, d].map(|r| r.unwrap_or_else(|e| panic!("delivery failed: {e}")));
    // Exactly one delivery won the write-ahead and made the calls; the others read its
    // incident and left them to it.
    assert_eq!(K::mutating_calls(&w), K::one_remediation(&w));
    let acting = reports
        .iter()
        .filter(|r| r.checks.iter().any(|c| !c.actions.is_empty()))
        .count();
    assert_eq!(acting, 1, "{reports:#?}");
    let incident = the_incident::<K>(&w);
    assert_coherent::<K>(&incident);
    assert_remediated_once(&incident);
    for report in &reports {
        // A delivery that read "no incident" just before another opened it, and decided
        // on a state where nothing is left to do, names none: but none names another.
        if let Some(id) = &report.checks[0].incident_id {
            assert_eq!(id, &incident.id, "{report:#?}");
        }
    }

    // Against the same deliveries one after another, in a world of their own: the
    // same calls, the same state, the same actions.
    let sequential = K::world();
    for _ in 0..reports.len() {
        deliver::<K>(&sequential, K::alarm()).await;
    }
    assert_eq!(K::mutating_calls(&w), K::mutating_calls(&sequential));
    let one_by_one = the_incident::<K>(&sequential);
    assert_eq!(incident.state, one_by_one.state);
    let actions = |i: &Incident| -> Vec<(String, String, ActionOutcome)> {
        i.actions
            .iter()
            .map(|a| (a.kind.to_string(), a.target.id.clone(), a.outcome))
            .collect()
    };
    assert_eq!(actions(&incident), actions(&one_by_one));
    // The write ahead of the calls and the write of their outcome each landed as a
    // version of their own: neither was lost to another delivery's write.
    assert!(incident.version >= 2, "version {}", incident.version);
}

// 3. A lost race.

pub(crate) async fn a_check_that_loses_its_first_write_reads_observes_again_and_acts_once<
    K: KindUnderTest,
>() {
    let clean = K::world();
    deliver::<K>(&clean, K::alarm()).await;

    let w = K::world();
    K::store(&w).inject_conflicts(1);
    deliver::<K>(&w, K::alarm()).await;

    assert_eq!(K::mutating_calls(&w), K::one_remediation(&w));
    let incident = the_incident::<K>(&w);
    assert_coherent::<K>(&incident);
    assert_remediated_once(&incident);
    assert_eq!(
        K::store(&w).commits(),
        K::store(&clean).commits() + 1,
        "one write lost, then the same writes as without the race"
    );
    assert!(
        K::reads(&w) > K::reads(&clean),
        "the decision after the lost race was taken on a fresh observation ({} reads, {} without the race)",
        K::reads(&w),
        K::reads(&clean)
    );
}

// 4. A lost answer.

pub(crate) async fn a_write_whose_answer_was_lost_is_recognised_as_its_own_and_acted_on_once<
    K: KindUnderTest,
>() {
    let clean = K::world();
    deliver::<K>(&clean, K::alarm()).await;

    let w = K::world();
    K::store(&w).inject_lost_answers(1);
    let report = deliver::<K>(&w, K::alarm()).await;

    // Had the writer not known its own write, it would have found a pending action of
    // someone else's and left it alone: no call at all.
    assert_eq!(K::mutating_calls(&w), K::one_remediation(&w));
    assert!(report.checks[0]
        .actions
        .iter()
        .all(|a| a.outcome == ActionOutcome::Succeeded));
    assert!(!report.checks[0].actions.is_empty(), "{report:#?}");
    let incident = the_incident::<K>(&w);
    assert_coherent::<K>(&incident);
    assert_remediated_once(&incident);
    assert_eq!(
        K::store(&w).commits(),
        K::store(&clean).commits(),
        "nothing written twice"
    );
}

// 5. The deadline.

/// A Lambda deadline (milliseconds since the epoch, as the context sends it) `left`
/// from now.
fn lambda_deadline(left: Duration) -> SystemTime {
    let ms = (SystemTime::now() + left)
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    invocation_deadline(u64::try_from(ms).unwrap())
}

fn sorted(mut resources: Vec<ResourceRef>) -> Vec<ResourceRef> {
    resources.sort();
    resources
}

pub(crate) async fn a_sweep_inside_the_deadline_margin_defers_every_check_without_failing<
    K: KindUnderTest,
>() {
    let w = K::world();
    let second = K::add_second_resource(&w).await;
    let commits = K::store(&w).commits();
    let calls = K::mutating_calls(&w);

    let deadline = lambda_deadline(DEADLINE_MARGIN - Duration::from_secs(1));
    let report = K::handler(&w)
        .handle_until(K::sweep(), Some(deadline))
        .await
        .unwrap_or_else(|e| panic!("a deferred sweep is no failure: {e}"));

    assert_eq!(
        sorted(report.deferred.clone()),
        sorted(vec![K::failing_resource(), second])
    );
    assert!(report.checks.is_empty(), "{report:#?}");
    assert!(report.failures.is_empty(), "{report:#?}");
    // Not retried by Lambda (the next sweep takes the rest), and no heartbeat either.
    assert!(!report.sweep_completed());
    assert_eq!(K::store(&w).commits(), commits, "nothing written");
    assert_eq!(K::mutating_calls(&w), calls, "nothing called");
}

pub(crate) async fn a_sweep_with_time_left_past_the_margin_checks_every_resource<
    K: KindUnderTest,
>() {
    let w = K::world();
    let second = K::add_second_resource(&w).await;

    let deadline = lambda_deadline(DEADLINE_MARGIN + Duration::from_secs(60));
    let report = K::handler(&w)
        .handle_until(K::sweep(), Some(deadline))
        .await
        .unwrap();

    assert!(report.deferred.is_empty(), "{report:#?}");
    let checked: Vec<ResourceRef> = report.checks.iter().map(|c| c.resource.clone()).collect();
    assert_eq!(sorted(checked), sorted(vec![K::failing_resource(), second]));
    assert!(report.sweep_completed());
}

// 6. One failing check in a sweep.

pub(crate) async fn one_failing_check_does_not_stop_the_sweep_of_the_other_resource<
    K: KindUnderTest,
>() {
    let w = K::world();
    let (failing, passing) = K::fail_one_of_two_checks(&w).await;

    let report = K::handler(&w)
        .handle(K::sweep())
        .await
        .unwrap_or_else(|e| panic!("one check of two failed: the sweep itself did not ({e})"));

    assert_eq!(report.failures.len(), 1, "{report:#?}");
    assert_eq!(report.failures[0].resource, failing);
    assert!(report.failures[0].retryable, "{report:#?}");
    assert!(
        report.failures[0].error.contains("Throttling"),
        "{report:#?}"
    );
    let checked: Vec<&ResourceRef> = report.checks.iter().map(|c| &c.resource).collect();
    assert_eq!(checked, [&passing], "{report:#?}");
    assert!(report.deferred.is_empty());
    assert!(report.sweep_completed(), "a sweep that checked one of two");
}

// 7. Metrics.

/// Every line is an EMF document of the Rebound namespace, carries the function's name
/// as its `Function` dimension, and declares only metrics of the shell's set, each with
/// its unit.
fn assert_metric_lines<K: KindUnderTest>(lines: &[Value]) {
    for line in lines {
        assert_eq!(line["Function"], K::FUNCTION, "{line:#}");
        let declared = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], "Rebound", "{line:#}");
        let dimensions = declared["Dimensions"][0].as_array().unwrap();
        assert!(dimensions.iter().any(|d| d == "Function"), "{line:#}");
        for metric in declared["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(METRICS.contains(&name), "{name} is not in shell::METRICS");
            let unit = if name == "TimeToRecoverSeconds" {
                "Seconds"
            } else {
                "Count"
            };
            assert_eq!(metric["Unit"], unit, "{line:#}");
            assert!(!line[name].is_null(), "{name} declared without a value");
        }
    }
}

pub(crate) async fn an_alarm_that_acts_counts_one_incident_opened_and_one_action_taken<
    K: KindUnderTest,
>() {
    let w = K::world();
    let capture = capture::start();
    deliver::<K>(&w, K::alarm()).await;

    let lines = capture.lines();
    assert_eq!(lines.len(), 1, "one metric line per invocation: {lines:#?}");
    assert_metric_lines::<K>(&lines);
    assert_eq!(capture.values("IncidentsOpened"), [1.0]);
    assert_eq!(capture.values("ActionsTaken"), [1.0]);
    assert!(capture.values("ChecksFailed").is_empty());
    assert!(
        capture.values("SweepsCompleted").is_empty(),
        "an alarm is no sweep"
    );
}

pub(crate) async fn a_repeated_delivery_counts_no_incident_and_no_action_again<K: KindUnderTest>() {
    let w = K::world();
    deliver::<K>(&w, K::alarm()).await;
    let capture = capture::start();
    deliver::<K>(&w, K::alarm()).await;

    assert_metric_lines::<K>(&capture.lines());
    assert!(capture.values("IncidentsOpened").is_empty());
    assert!(capture.values("ActionsTaken").is_empty());
}

pub(crate) async fn a_sweep_counts_its_heartbeat_and_its_failed_check<K: KindUnderTest>() {
    let w = K::world();
    K::fail_one_of_two_checks(&w).await;
    let capture = capture::start();
    K::handler(&w).handle(K::sweep()).await.unwrap();

    let lines = capture.lines();
    assert_eq!(lines.len(), 1, "one metric line per invocation: {lines:#?}");
    assert_metric_lines::<K>(&lines);
    assert_eq!(capture.values("SweepsCompleted"), [1.0]);
    assert_eq!(capture.values("ChecksFailed"), [1.0]);
}

pub(crate) async fn a_sweep_out_of_time_counts_no_heartbeat<K: KindUnderTest>() {
    let w = K::world();
    let capture = capture::start();
    K::handler(&w)
        .handle_until(K::sweep(), Some(lambda_deadline(Duration::ZERO)))
        .await
        .unwrap();

    assert_metric_lines::<K>(&capture.lines());
    assert!(capture.values("SweepsCompleted").is_empty());
    assert!(capture.values("IncidentsOpened").is_empty());
}

/// The suite's tests for one kind (`shell_suite!(Kind)` in the kind's file): each
/// generic test above, under its own name, for that kind.
macro_rules! shell_suite {
    ($kind:ty) => {
        super::shell_suite!(@tests $kind:
            duplicate_deliveries_of_an_event_converge_on_one_incident_and_one_remediation,
            concurrent_deliveries_of_an_event_converge_on_one_incident_and_one_remediation,
            a_check_that_loses_its_first_write_reads_observes_again_and_acts_once,
            a_write_whose_answer_was_lost_is_recognised_as_its_own_and_acted_on_once,
            a_sweep_inside_the_deadline_margin_defers_every_check_without_failing,
            a_sweep_with_time_left_past_the_margin_checks_every_resource,
            one_failing_check_does_not_stop_the_sweep_of_the_other_resource,
            an_alarm_that_acts_counts_one_incident_opened_and_one_action_taken,
            a_repeated_delivery_counts_no_incident_and_no_action_again,
            a_sweep_counts_its_heartbeat_and_its_failed_check,
            a_sweep_out_of_time_counts_no_heartbeat,
        );
    };
    (@tests $kind:ty: $($test:ident,)*) => {
        $(
            #[tokio::test]
            async fn $test() {
                super::$test::<$kind>().await;
            }
        )*
    };
}

pub(crate) use shell_suite;
