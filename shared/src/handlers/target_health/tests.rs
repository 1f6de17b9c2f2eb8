//! Handler tier: the real handler on every event file and on each scenario, with
//! in-memory ports.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Value};

use super::*;
use crate::config::{Mode, PolicyConfig};
use crate::domain::{ActionKind, GroupInstance, ScalingGroup, TargetHealth, TargetState};
use crate::fakes::{FakeFleet, MemoryStore};
use crate::ids::{AutoScalingGroupName, InstanceId};

/// The target group the sample events in `events/target-health/` name.
const SAMPLE_TG: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/rebound-demo-web/73e2d6bc24d8a067";

type Handler = TargetHealthHandler<FakeFleet, FakeFleet, FakeFleet, MemoryStore>;

struct World {
    fleet: FakeFleet,
    store: MemoryStore,
    handler: Handler,
}

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events/target-health")
}

fn event(name: &str) -> Value {
    let path = events_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn tg() -> TargetGroupArn {
    TargetGroupArn::parse(SAMPLE_TG).unwrap()
}

fn iid(n: u32) -> InstanceId {
    InstanceId::parse(format!("i-{n:04x}")).unwrap()
}

fn target(n: u32, state: TargetState) -> TargetHealth {
    let reason = (state == TargetState::Unhealthy).then(|| "Target.FailedHealthChecks".to_owned());
    TargetHealth {
        instance_id: iid(n),
        port: Some(80),
        state,
        reason,
        description: None,
    }
}

fn web_group(managed: bool) -> ScalingGroup {
    let tags = if managed {
        BTreeMap::from([("rebound:managed".to_owned(), "true".to_owned())])
    } else {
        BTreeMap::new()
    };
    ScalingGroup {
        name: AutoScalingGroupName::parse("rebound-demo-web-asg").unwrap(),
        tags,
        suspended_processes: vec![],
        instances: (1..=4)
            .map(|n| GroupInstance {
                instance_id: iid(n),
                lifecycle_state: "InService".into(),
                health_status: "Healthy".into(),
            })
            .collect(),
        target_group_arns: vec![tg()],
        instance_refresh_in_progress: false,
    }
}

/// A four-instance group behind the sample target group, `unhealthy` of them failing.
fn world_with(unhealthy: u32, managed: bool, policy: PolicyConfig) -> World {
    let fleet = FakeFleet::default();
    let store = MemoryStore::default();
    fleet.set_targets(
        &tg(),
        (1..=4)
            .map(|n| {
                target(
                    n,
                    if n <= unhealthy {
                        TargetState::Unhealthy
                    } else {
                        TargetState::Healthy
                    },
                )
            })
            .collect(),
    );
    fleet.add_group(web_group(managed));
    let handler = TargetHealthHandler::new(
        fleet.clone(),
        fleet.clone(),
        fleet.clone(),
        store.clone(),
        policy,
    );
    World {
        fleet,
        store,
        handler,
    }
}

fn enforce() -> PolicyConfig {
    PolicyConfig {
        mode: Mode::Enforce,
        ..PolicyConfig::default()
    }
}

fn world(unhealthy: u32) -> World {
    world_with(unhealthy, true, enforce())
}

#[tokio::test]
async fn every_sample_event_is_answered_without_error() {
    let mut names: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert!(names.len() >= 5, "{names:?}");
    for name in names {
        let w = world(1);
        let report = w
            .handler
            .handle(event(&name))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = if name == "alarm-other-metric.json" {
            ReportStatus::Ignored
        } else {
            ReportStatus::Checked
        };
        assert_eq!(report.status, expected, "{name}");
    }
}

#[tokio::test]
async fn an_alarm_on_one_failing_instance_replaces_exactly_that_instance() {
    let w = world(1);
    let report = w
        .handler
        .handle(event("alarm-state-change.json"))
        .await
        .unwrap();
    assert_eq!(
        w.fleet.replaced(),
        vec![(
            ActionKind::SetInstanceHealth,
            AutoScalingGroupName::parse("rebound-demo-web-asg").unwrap(),
            iid(1)
        )]
    );
    let incidents = w.store.incidents();
    assert_eq!(incidents.len(), 1);
    let incident = &incidents[0];
    assert_eq!(incident.state, IncidentState::Remediating);
    assert_eq!(incident.trigger, "alarm:rebound-demo-web-unhealthy-hosts");
    assert_eq!(incident.actions.len(), 1);
    assert_eq!(incident.actions[0].outcome, ActionOutcome::Succeeded);
    assert!(!incident.actions[0].dry_run);
    assert_eq!(incident.evidence.targets.len(), 4);
    assert_eq!(report.checks[0].actions.len(), 1);
    assert_eq!(report.checks[0].verdict, Verdict::Replace);
}

#[tokio::test]
async fn the_alarm_action_payload_is_handled_like_the_eventbridge_event() {
    let w = world(1);
    w.handler.handle(event("alarm-action.json")).await.unwrap();
    assert_eq!(w.fleet.replaced().len(), 1);
}

#[tokio::test]
async fn the_configured_replacement_method_is_used() {
    let w = world_with(
        1,
        true,
        PolicyConfig {
            replacement: ActionKind::TerminateInstance,
            ..enforce()
        },
    );
    w.handler
        .handle(event("alarm-state-change.json"))
        .await
        .unwrap();
    assert_eq!(w.fleet.replaced()[0].0, ActionKind::TerminateInstance);
}

#[tokio::test]
async fn the_same_event_delivered_five_times_opens_one_incident_and_acts_once() {
    let w = world(1);
    for _ in 0..5 {
        w.handler
            .handle(event("alarm-state-change.json"))
            .await
            .unwrap();
    }
    assert_eq!(w.fleet.replaced().len(), 1);
    assert_eq!(w.store.incidents().len(), 1);
    assert_eq!(w.store.incidents()[0].actions.len(), 1);
}

#[tokio::test]
async fn concurrent_deliveries_converge_on_one_incident_and_one_action() {
    let w = world(1);
    let deliveries = (0..20).map(|_| w.handler.handle(event("alarm-state-change.json")));
    for result in futures::future::join_all(deliveries).await {
        result.unwrap();
    }
    assert_eq!(w.fleet.replaced().len(), 1);
    assert_eq!(w.store.incidents().len(), 1);
}

#[tokio::test]
async fn losing_conditional_writes_rereads_and_still_acts_once() {
    let w = world(1);
    w.store.inject_conflicts(2);
    w.handler
        .handle(event("alarm-state-change.json"))
        .await
        .unwrap();
    assert_eq!(w.fleet.replaced().len(), 1);
    assert_eq!(w.store.incidents()[0].actions.len(), 1);
}

#[tokio::test]
async fn endless_write_conflicts_end_in_a_retryable_error_without_acting() {
    let w = world(1);
    w.store.inject_conflicts(100);
    let err = w
        .handler
        .handle(event("alarm-state-change.json"))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(w.fleet.replaced().is_empty());
}

#[tokio::test]
async fn all_targets_unhealthy_escalates_and_replaces_nothing() {
    let w = world(4);
    let report = w
        .handler
        .handle(event("alarm-state-change.json"))
        .await
        .unwrap();
    assert!(w.fleet.replaced().is_empty());
    let incident = &w.store.incidents()[0];
    assert_eq!(incident.state, IncidentState::Escalated);
    assert!(incident.actions.is_empty());
    assert_eq!(report.checks[0].refusals[0].guard, "all-targets-unhealthy");
}

#[tokio::test]
async fn a_systemic_failure_is_escalated_without_looking_up_groups() {
    let w = world(4);
    w.handler
        .handle(event("alarm-state-change.json"))
        .await
        .unwrap();
    assert_eq!(w.fleet.describe_calls(), 1, "only DescribeTargetHealth");
}

#[tokio::test]
async fn an_unmanaged_group_is_reported_but_never_touched() {
    let w = world_with(1, false, enforce());
    let report = w
        .handler
        .handle(event("alarm-state-change.json"))
        .await
        .unwrap();
    assert!(w.fleet.replaced().is_empty());
    let incident = &w.store.incidents()[0];
    assert_eq!(incident.state, IncidentState::Open);
    assert!(incident
        .timeline
        .iter()
        .any(|t| t.detail.contains("not managed")));
    assert_eq!(report.checks[0].refusals[0].guard, "not-managed");
}

#[tokio::test]
async fn dry_run_records_what_it_would_do_and_calls_nothing() {
    let w = world_with(
        1,
        true,
        PolicyConfig {
            mode: Mode::DryRun,
            ..PolicyConfig::default()
        },
    );
    for _ in 0..3 {
        w.handler
            .handle(event("alarm-state-change.json"))
            .await
            .unwrap();
    }
    assert!(w.fleet.replaced().is_empty());
    let incident = &w.store.incidents()[0];
    assert_eq!(incident.actions.len(), 1);
    assert!(incident.actions[0].dry_run);
    assert_eq!(incident.actions[0].outcome, ActionOutcome::Simulated);
    assert_eq!(incident.state, IncidentState::Open);
}

#[tokio::test]
async fn past_the_hourly_budget_the_action_is_refused_and_escalated() {
    let w = world_with(
        1,
        true,
        PolicyConfig {
            action_budget_per_hour: 0,
            ..enforce()
        },
    );
    w.handler
        .handle(event("alarm-state-change.json"))
        .await
        .unwrap();
    assert!(w.fleet.replaced().is_empty());
    let incident = &w.store.incidents()[0];
    assert_eq!(incident.state, IncidentState::Escalated);
    assert_eq!(incident.actions[0].outcome, ActionOutcome::Refused);
}

#[tokio::test]
async fn a_resource_in_cooldown_from_an_earlier_incident_is_held() {
    let w = world(1);
    w.store
        .set_last_action_at(&ResourceRef::target_group(&tg()), Utc::now());
    let report = w
        .handler
        .handle(event("alarm-state-change.json"))
        .await
        .unwrap();
    assert!(w.fleet.replaced().is_empty());
    assert_eq!(report.checks[0].refusals[0].guard, "cooldown");
}

#[tokio::test]
async fn a_failed_replacement_is_recorded_and_reported_for_retry() {
    let w = world(1);
    w.fleet.fail_next_replace(Error::Aws {
        operation: "SetInstanceHealth",
        retryable: true,
        detail: "Throttling: Rate exceeded".into(),
        source: "Throttling".into(),
    });
    let err = w
        .handler
        .handle(event("alarm-state-change.json"))
        .await
        .unwrap_err();
    assert!(err.is_retryable());
    let incident = &w.store.incidents()[0];
    assert_eq!(incident.actions[0].outcome, ActionOutcome::Failed);
    assert!(incident.actions[0]
        .detail
        .as_deref()
        .unwrap()
        .contains("Rate exceeded"));
}

#[tokio::test]
async fn an_instance_already_gone_from_its_group_counts_as_replaced() {
    let w = world(1);
    w.fleet.gone_next_replace();
    w.handler
        .handle(event("alarm-state-change.json"))
        .await
        .unwrap();
    let action = &w.store.incidents()[0].actions[0];
    assert_eq!(action.outcome, ActionOutcome::Succeeded);
    assert!(action
        .detail
        .as_deref()
        .unwrap()
        .contains("already left its group"));
}

#[tokio::test]
async fn the_intended_action_is_stored_before_the_call_is_made() {
    let w = world(1);
    w.fleet.hang_next_replace();
    let delivery = w.handler.handle(event("alarm-state-change.json"));
    // The call never returns: as if the function were killed in the middle of it.
    let timed_out = tokio::time::timeout(std::time::Duration::from_millis(200), delivery).await;
    assert!(timed_out.is_err());
    let incident = &w.store.incidents()[0];
    assert_eq!(incident.state, IncidentState::Remediating);
    assert_eq!(incident.actions[0].outcome, ActionOutcome::Pending);
}

#[tokio::test]
async fn the_sweep_settles_an_action_left_pending_by_a_crash() {
    let w = world_with(
        1,
        true,
        PolicyConfig {
            pending_action_timeout: std::time::Duration::from_secs(1),
            ..enforce()
        },
    );
    w.fleet.hang_next_replace();
    let _ = tokio::time::timeout(
        std::time::Duration::from_millis(100),
        w.handler.handle(event("alarm-state-change.json")),
    )
    .await;
    let mut handler = TargetHealthHandler::new(
        w.fleet.clone(),
        w.fleet.clone(),
        w.fleet.clone(),
        w.store.clone(),
        w.handler.policy.clone(),
    );
    handler.clock = || Utc::now() + chrono::Duration::minutes(5);
    handler.handle(event("scheduled-sweep.json")).await.unwrap();
    let incident = &w.store.incidents()[0];
    assert_eq!(
        incident.actions[0].outcome,
        ActionOutcome::Failed,
        "the instance never left service"
    );
    assert!(incident.timeline.iter().any(|t| t.event == "settled"));
}

#[tokio::test]
async fn the_sweep_resolves_an_incident_once_every_target_is_healthy() {
    let w = world(1);
    w.handler
        .handle(event("alarm-state-change.json"))
        .await
        .unwrap();
    // The group replaced i-0001 with i-0005, which passed its health checks.
    w.fleet.set_targets(
        &tg(),
        (2..=5).map(|n| target(n, TargetState::Healthy)).collect(),
    );
    let report = w
        .handler
        .handle(event("scheduled-sweep.json"))
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Resolve);
    let incident = &w.store.incidents()[0];
    assert_eq!(incident.state, IncidentState::Resolved);
    assert!(incident.time_to_recover_s.is_some());
    assert!(incident.resolved_at.is_some());
    // The resource is free again: a new failure opens a new incident (after cooldown).
    assert!(w.store.open_incidents().await.unwrap().is_empty());
}

#[tokio::test]
async fn recovery_is_not_declared_while_a_replacement_is_still_initialising() {
    let w = world(1);
    w.handler
        .handle(event("alarm-state-change.json"))
        .await
        .unwrap();
    let mut targets: Vec<_> = (2..=4).map(|n| target(n, TargetState::Healthy)).collect();
    targets.push(target(5, TargetState::Initial));
    w.fleet.set_targets(&tg(), targets);
    let report = w
        .handler
        .handle(event("alarm-state-change-ok.json"))
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Recovering);
    assert_eq!(w.store.incidents()[0].state, IncidentState::Remediating);
}

#[tokio::test]
async fn an_alarm_on_another_metric_is_ignored_without_a_single_call() {
    let w = world(1);
    let report = w
        .handler
        .handle(event("alarm-other-metric.json"))
        .await
        .unwrap();
    assert_eq!(report.status, ReportStatus::Ignored);
    assert!(report.reason.unwrap().contains("UnHealthyHostCount"));
    assert_eq!(w.fleet.describe_calls(), 0);
}

#[tokio::test]
async fn a_malformed_event_is_an_error_and_nothing_is_called_or_stored() {
    let w = world(1);
    let mut broken = event("alarm-state-change.json");
    broken["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"] =
        json!({"LoadBalancer": "app/x/1"});
    let err = w.handler.handle(broken).await.unwrap_err();
    assert!(matches!(err, Error::InvalidEvent(_)), "{err}");
    assert!(!err.is_retryable());
    assert_eq!(w.fleet.describe_calls(), 0);
    assert!(w.store.incidents().is_empty());
}

#[tokio::test]
async fn a_healthy_target_group_costs_one_describe_and_opens_nothing() {
    let w = world(0);
    let report = w
        .handler
        .handle(event("alarm-state-change.json"))
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Healthy);
    assert_eq!(w.fleet.describe_calls(), 1);
    assert!(w.store.incidents().is_empty());
}
