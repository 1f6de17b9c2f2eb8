//! Handler tier: the real handler on every event file and on each scenario, with
//! in-memory ports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::{json, Value};

use chrono::Duration as Minutes;

use std::time::SystemTime;

use super::observation::{GroupInstance, ScalingGroup, TargetHealth, TargetState};
use super::*;
use crate::config::{Mode, Settings};
use crate::domain::{account_scope, IncidentState, Ledger, LedgerEntry, Verdict};
use crate::fakes::{FakeFleet, MemoryStore};
use crate::ids::{AutoScalingGroupName, IncidentId, InstanceId};
use crate::ports::IncidentStore;
use crate::shell::{invocation_deadline, Report, ReportStatus};
use crate::workflow::{Tally, Workflow};

/// The target group the sample events in `events/target-health/` name.
const SAMPLE_TG: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/rebound-demo-web/73e2d6bc24d8a067";

type Handler = crate::fakes::TargetHealthFunction;

use crate::fakes::target_health as handler;

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

/// Delivers one sample event to the world's handler; it must succeed.
async fn deliver(w: &World, name: &str) -> Report {
    w.handler
        .handle(event(name))
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
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
                availability_zone: None,
            })
            .collect(),
        target_group_arns: vec![tg()],
        instance_refresh_in_progress: false,
        desired_capacity: 4,
        health_check_grace_period_s: 0,
        launch_template: Some("lt-0abc version 7".into()),
        arn: None,
        max_size: 100,
        zonal_shift_enabled: false,
        health_check_type: "EC2".into(),
    }
}

/// A four-instance group behind the sample target group, `unhealthy` of them failing.
fn world_with(unhealthy: u32, managed: bool, policy: Policy) -> World {
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
    let handler = handler(&fleet, &store, policy);
    World {
        fleet,
        store,
        handler,
    }
}

fn web_scope() -> ResourceRef {
    auto_scaling_group(&AutoScalingGroupName::parse("rebound-demo-web-asg").unwrap())
}

fn ledger_entry(n: u32, at: DateTime<Utc>) -> LedgerEntry {
    LedgerEntry {
        at,
        target: iid(n).to_string(),
        incident: IncidentId::parse("inc-earlier").unwrap(),
        configuration: None,
    }
}

/// The same handler and fakes, with the clock moved `minutes` ahead.
fn later(w: &World, minutes: i64, policy: Policy) -> Handler {
    let mut handler = handler(&w.fleet, &w.store, policy);
    handler.clock = match minutes {
        11 => || Utc::now() + Minutes::minutes(11),
        16 => || Utc::now() + Minutes::minutes(16),
        22 => || Utc::now() + Minutes::minutes(22),
        _ => Utc::now,
    };
    handler
}

fn enforce() -> Policy {
    Policy {
        settings: Settings {
            mode: Mode::Enforce,
            ..Settings::default()
        },
        ..Policy::default()
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
    let report = deliver(&w, "alarm-state-change.json").await;
    assert_eq!(
        w.fleet.replaced(),
        vec![(
            SET_INSTANCE_HEALTH,
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
    assert_eq!(
        incident.evidence.read::<Evidence>().unwrap().targets.len(),
        4
    );
    assert_eq!(report.checks[0].actions.len(), 1);
    assert_eq!(report.checks[0].verdict, Verdict::Remediate);
}

#[tokio::test]
async fn with_more_managed_groups_than_one_call_lists_the_failing_instance_is_still_replaced() {
    // Too many managed groups to read ahead in one call: the owner of the failing
    // instance is found from the instance, and every guard still has its group.
    let w = world(1);
    w.fleet.fill_more_than_a_page_of_managed_groups();
    deliver(&w, "alarm-state-change.json").await;
    assert_eq!(
        w.fleet.replaced(),
        vec![(
            SET_INSTANCE_HEALTH,
            AutoScalingGroupName::parse("rebound-demo-web-asg").unwrap(),
            iid(1)
        )]
    );
    assert_eq!(w.store.incidents()[0].state, IncidentState::Remediating);
}

#[tokio::test]
async fn the_alarm_action_payload_is_handled_like_the_eventbridge_event() {
    let w = world(1);
    deliver(&w, "alarm-action.json").await;
    assert_eq!(w.fleet.replaced().len(), 1);
}

#[tokio::test]
async fn the_configured_replacement_method_is_used() {
    let w = world_with(
        1,
        true,
        Policy {
            replacement: TERMINATE_INSTANCE,
            ..enforce()
        },
    );
    deliver(&w, "alarm-state-change.json").await;
    assert_eq!(w.fleet.replaced()[0].0, TERMINATE_INSTANCE);
}

#[tokio::test]
async fn the_same_event_delivered_five_times_opens_one_incident_and_acts_once() {
    let w = world(1);
    for _ in 0..5 {
        deliver(&w, "alarm-state-change.json").await;
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
    deliver(&w, "alarm-state-change.json").await;
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
    let report = deliver(&w, "alarm-state-change.json").await;
    assert!(w.fleet.replaced().is_empty());
    let incident = &w.store.incidents()[0];
    assert_eq!(incident.state, IncidentState::Escalated);
    assert!(incident.actions.is_empty());
    assert_eq!(report.checks[0].refusals[0].guard, "all-targets-unhealthy");
}

#[tokio::test]
async fn a_systemic_failure_reads_what_could_explain_it_before_escalating() {
    let w = world(4);
    deliver(&w, "alarm-state-change.json").await;
    // The targets, then the groups (their zones and the databases they depend on):
    // only what neither explains is systemic.
    assert_eq!(w.fleet.describe_calls(), 2);
    assert_eq!(w.store.incidents()[0].state, IncidentState::Escalated);
}

#[tokio::test]
async fn every_web_target_failing_while_their_database_heals_is_held_not_paged() {
    let (w, _rds) = world_with_sick_database().await;
    w.fleet.set_targets(
        &tg(),
        (1..=4).map(|n| target(n, TargetState::Unhealthy)).collect(),
    );
    let report = deliver(&w, "alarm-state-change.json").await;
    assert_eq!(report.checks[0].verdict, Verdict::Suppress);
    assert!(report.checks[0]
        .refusals
        .iter()
        .all(|r| r.guard == "dependency-held"));
    assert_eq!(alb_incident(&w).state, IncidentState::Suppressed);
    assert!(w.fleet.replaced().is_empty());
}

/// The group's four instances two by two in us-east-1a and us-east-1b, behind a load
/// balancer with the sample target group; `failing` of those in us-east-1b fail.
fn zoned_world(failing_in_b: u32) -> World {
    use crate::kinds::zone::observation::LoadBalancer;
    let w = world(0);
    let zone = |n: u32| {
        crate::ids::AvailabilityZone::parse(if n <= 2 { "us-east-1a" } else { "us-east-1b" })
            .unwrap()
    };
    w.fleet.update_group("rebound-demo-web-asg", |g| {
        for instance in &mut g.instances {
            let n = u32::from_str_radix(&instance.instance_id.as_str()[2..], 16).unwrap();
            instance.availability_zone = Some(zone(n));
        }
    });
    w.fleet.set_targets(
        &tg(),
        (1..=4)
            .map(|n| {
                let failing = n > 2 && n - 2 <= failing_in_b;
                target(
                    n,
                    if failing {
                        TargetState::Unhealthy
                    } else {
                        TargetState::Healthy
                    },
                )
            })
            .collect(),
    );
    w.fleet.add_load_balancer(LoadBalancer {
        arn: crate::ids::LoadBalancerArn::parse(
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/rebound-demo/50dc6c495c0c9188",
        )
        .unwrap(),
        tags: BTreeMap::from([("rebound:managed".to_owned(), "true".to_owned())]),
        zonal_shift_enabled: true,
        zones: vec![zone(1), zone(3)],
        target_groups: vec![tg()],
    });
    w
}

#[tokio::test]
async fn the_instances_of_a_zone_that_looks_impaired_are_held_for_its_evacuation() {
    let w = zoned_world(2);
    let report = deliver(&w, "alarm-state-change.json").await;
    assert!(w.fleet.replaced().is_empty());
    assert_eq!(report.checks[0].verdict, Verdict::Suppress);
    assert_eq!(report.checks[0].refusals[0].guard, "zone-impaired");
    assert!(report.checks[0].refusals[0].detail.contains("us-east-1b"));
    assert_eq!(alb_incident(&w).state, IncidentState::Suppressed);
}

#[tokio::test]
async fn one_bad_instance_in_a_zone_is_still_replaced() {
    let w = zoned_world(1);
    deliver(&w, "alarm-state-change.json").await;
    assert_eq!(w.fleet.replaced().len(), 1);
}

#[tokio::test]
async fn no_instance_of_a_zone_shifted_away_is_replaced_whoever_shifted_it() {
    use crate::kinds::zone::observation::ShiftType;
    let w = zoned_world(1);
    let zone = crate::ids::AvailabilityZone::parse("us-east-1b").unwrap();
    w.fleet.shift_by_others(
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/rebound-demo/50dc6c495c0c9188",
        &zone,
        ShiftType::PracticeRun,
        "weekly practice",
    );
    let report = deliver(&w, "alarm-state-change.json").await;
    assert!(w.fleet.replaced().is_empty());
    assert_eq!(report.checks[0].refusals[0].guard, "zone-evacuated");
    let detail = &report.checks[0].refusals[0].detail;
    assert!(detail.starts_with("zone evacuated"), "{detail}");
    assert!(detail.contains("practice run"), "{detail}");
}

#[tokio::test]
async fn an_unmanaged_group_is_reported_but_never_touched() {
    let w = world_with(1, false, enforce());
    let report = deliver(&w, "alarm-state-change.json").await;
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
        Policy {
            settings: Settings {
                mode: Mode::DryRun,
                ..Settings::default()
            },
            ..Policy::default()
        },
    );
    for _ in 0..3 {
        deliver(&w, "alarm-state-change.json").await;
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
        Policy {
            settings: Settings {
                action_budget_per_hour: 0,
                ..enforce().settings
            },
            ..enforce()
        },
    );
    deliver(&w, "alarm-state-change.json").await;
    assert!(w.fleet.replaced().is_empty());
    let incidents = w.store.incidents();
    assert_eq!(incidents.len(), 1);
    let incident = &incidents[0];
    // Refused before the write-ahead: one record, straight to escalated, no action.
    assert_eq!(incident.state, IncidentState::Escalated);
    assert!(incident.actions.is_empty());
    assert!(incident.timeline.iter().all(|t| t.event != "remediating"));
}

#[tokio::test]
async fn a_group_in_cooldown_from_an_earlier_incident_is_held() {
    let w = world(1);
    w.store.set_ledger(
        &web_scope(),
        Ledger {
            entries: vec![ledger_entry(9, Utc::now())],
            version: 0,
        },
    );
    let report = deliver(&w, "alarm-state-change.json").await;
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
    assert_eq!(
        incident.state,
        IncidentState::Escalated,
        "a failed call escalates at once"
    );
    assert!(incident
        .timeline
        .last()
        .unwrap()
        .detail
        .contains("Rate exceeded"));
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
    deliver(&w, "alarm-state-change.json").await;
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
        Policy {
            settings: Settings {
                pending_action_timeout: std::time::Duration::from_secs(1),
                ..enforce().settings
            },
            ..enforce()
        },
    );
    w.fleet.hang_next_replace();
    let _ = tokio::time::timeout(
        std::time::Duration::from_millis(100),
        w.handler.handle(event("alarm-state-change.json")),
    )
    .await;
    let mut handler = handler(&w.fleet, &w.store, w.handler.kind.policy.clone());
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
    deliver(&w, "alarm-state-change.json").await;
    // The group replaced i-0001 with i-0005, which passed its health checks.
    w.fleet.set_targets(
        &tg(),
        (2..=5).map(|n| target(n, TargetState::Healthy)).collect(),
    );
    let report = deliver(&w, "scheduled-sweep.json").await;
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
    deliver(&w, "alarm-state-change.json").await;
    let mut targets: Vec<_> = (2..=4).map(|n| target(n, TargetState::Healthy)).collect();
    targets.push(target(5, TargetState::Initial));
    w.fleet.set_targets(&tg(), targets);
    let report = deliver(&w, "alarm-state-change-ok.json").await;
    assert_eq!(report.checks[0].verdict, Verdict::Recovering);
    assert_eq!(w.store.incidents()[0].state, IncidentState::Remediating);
}

#[tokio::test]
async fn an_alarm_on_another_metric_is_ignored_without_a_single_call() {
    let w = world(1);
    let report = deliver(&w, "alarm-other-metric.json").await;
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
async fn a_healthy_target_group_opens_nothing_and_costs_a_describe_unless_an_alarm_fires() {
    // An alarm's OK: the targets alone.
    let w = world(0);
    let report = deliver(&w, "alarm-state-change-ok.json").await;
    assert_eq!(report.checks[0].verdict, Verdict::Healthy);
    assert_eq!(w.fleet.describe_calls(), 1);
    // An alarm in ALARM reads the managed groups ahead, with the targets (a replacement
    // would need them a round trip later); healthy targets still open nothing.
    let w = world(0);
    let report = deliver(&w, "alarm-state-change.json").await;
    assert_eq!(report.checks[0].verdict, Verdict::Healthy);
    assert_eq!(w.fleet.describe_calls(), 2);
    assert!(w.store.incidents().is_empty());
}

// ---- Real AWS timings and faults (issue: ALB healing that holds) ----

#[tokio::test]
async fn an_incident_left_open_by_dry_run_gets_the_real_replacement_once_enforce_is_on() {
    let dry = Policy {
        settings: Settings {
            mode: Mode::DryRun,
            ..Settings::default()
        },
        ..Policy::default()
    };
    let w = world_with(1, true, dry);
    deliver(&w, "alarm-state-change.json").await;
    assert!(w.fleet.replaced().is_empty());

    let enforcing = later(&w, 0, enforce());
    for _ in 0..2 {
        enforcing
            .handle(event("scheduled-sweep.json"))
            .await
            .unwrap();
    }
    assert_eq!(w.fleet.replaced().len(), 1, "one real replacement");
    let incident = &w.store.incidents()[0];
    assert_eq!(incident.state, IncidentState::Remediating);
    assert_eq!(
        incident
            .timeline
            .iter()
            .filter(|t| t.event == "enforce")
            .count(),
        1
    );
    let outcomes: Vec<_> = incident.actions.iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        vec![ActionOutcome::Simulated, ActionOutcome::Succeeded]
    );
}

#[tokio::test]
async fn a_write_ahead_whose_answer_was_lost_is_recognised_and_acted_on_in_the_same_invocation() {
    let w = world(1);
    w.store.inject_lost_answers(1);
    let report = deliver(&w, "alarm-state-change.json").await;
    assert_eq!(w.fleet.replaced().len(), 1);
    assert_eq!(
        report.checks[0].actions[0].outcome,
        ActionOutcome::Succeeded
    );
    let incident = &w.store.incidents()[0];
    assert_eq!(incident.actions.len(), 1);
    assert_eq!(incident.actions[0].outcome, ActionOutcome::Succeeded);
}

#[tokio::test]
async fn an_incident_resolved_by_another_writer_meanwhile_still_gets_the_outcome_recorded() {
    let w = world(1);
    let store = w.store.clone();
    w.fleet.on_next_replace(move || {
        store.resolve_elsewhere(&store.incidents()[0].id);
    });
    deliver(&w, "alarm-state-change.json").await;
    let incident = &w.store.incidents()[0];
    assert_eq!(incident.state, IncidentState::Resolved);
    assert_eq!(incident.actions[0].outcome, ActionOutcome::Succeeded);
}

fn second_tg() -> TargetGroupArn {
    TargetGroupArn::parse(
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/rebound-demo-https/0a1b2c3d4e5f6a7b",
    )
    .unwrap()
}

fn alarm_for(target_group: &TargetGroupArn) -> Value {
    let mut alarm = event("alarm-state-change.json");
    alarm["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"]
        ["TargetGroup"] = json!(target_group.full_name());
    alarm
}

#[tokio::test]
async fn a_group_behind_two_target_groups_whose_alarms_fire_together_is_replaced_once() {
    let w = world(1);
    let both: Vec<TargetHealth> = (1..=4)
        .map(|n| {
            target(
                n,
                if n == 1 {
                    TargetState::Unhealthy
                } else {
                    TargetState::Healthy
                },
            )
        })
        .collect();
    w.fleet.set_targets(&second_tg(), both);
    let config = Policy {
        cooldown: std::time::Duration::ZERO,
        ..enforce()
    };
    let handler = later(&w, 0, config);
    let (first, second) = futures::join!(
        handler.handle(alarm_for(&tg())),
        handler.handle(alarm_for(&second_tg()))
    );
    first.unwrap();
    second.unwrap();
    assert_eq!(w.fleet.replaced().len(), 1, "{:?}", w.fleet.replaced());
    assert_eq!(
        w.store.ledger(&account_scope()).entries.len(),
        1,
        "one budget unit spent"
    );
    assert_eq!(
        w.store.incidents().len(),
        2,
        "one incident per target group"
    );
}

#[tokio::test]
async fn a_deleted_target_group_closes_its_incident_once_with_that_reason() {
    let w = world_with(1, false, enforce());
    deliver(&w, "alarm-state-change.json").await;
    w.fleet.delete_target_group(&tg());
    let report = w.handler.handle(alarm_for(&tg())).await.unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Gone);
    let incident = &w.store.incidents()[0];
    assert_eq!(incident.state, IncidentState::Resolved);
    assert_eq!(incident.time_to_recover_s, None);
    assert!(incident
        .timeline
        .last()
        .unwrap()
        .detail
        .contains("no longer exists"));
    let version = incident.version;

    w.handler.handle(alarm_for(&tg())).await.unwrap();
    assert_eq!(w.store.incidents()[0].version, version, "closed once");
}

#[tokio::test]
async fn one_failing_target_group_does_not_stop_the_sweep_of_the_others() {
    let w = world(1);
    w.fleet.set_targets(
        &second_tg(),
        (1..=4).map(|n| target(n, TargetState::Healthy)).collect(),
    );
    w.fleet.update_group("rebound-demo-web-asg", |g| {
        g.target_group_arns.push(second_tg())
    });
    // CloudWatch has no data on it: the sweep describes it.
    w.fleet.metric_says(&second_tg(), None);
    w.fleet.fail_next_target_health(
        &second_tg(),
        Error::Aws {
            operation: "DescribeTargetHealth",
            retryable: true,
            detail: "Throttling: Rate exceeded".into(),
            source: "Throttling".into(),
        },
    );
    let report = deliver(&w, "scheduled-sweep.json").await;
    assert_eq!(report.checks.len(), 1);
    assert_eq!(report.failures.len(), 1);
    assert!(report.failures[0].retryable);
    assert_eq!(w.fleet.replaced().len(), 1, "the healthy path went on");
}

// ---- The sweep's triage (issue 20.3) ----

/// Another target group in front of the demo's group, its targets as given.
fn also_behind_the_group(w: &World, arn: &TargetGroupArn, targets: Vec<TargetHealth>) {
    w.fleet.set_targets(arn, targets);
    w.fleet.update_group("rebound-demo-web-asg", |g| {
        g.target_group_arns.push(arn.clone())
    });
}

fn third_tg() -> TargetGroupArn {
    TargetGroupArn::parse(
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/rebound-demo-admin/1a2b3c4d5e6f7a8b",
    )
    .unwrap()
}

fn all_healthy() -> Vec<TargetHealth> {
    (1..=4).map(|n| target(n, TargetState::Healthy)).collect()
}

fn checked(report: &Report) -> BTreeSet<String> {
    report
        .checks
        .iter()
        .map(|c| c.resource.id.as_str().to_owned())
        .collect()
}

#[tokio::test]
async fn the_sweep_describes_only_the_target_groups_cloudwatch_does_not_show_all_healthy() {
    let w = world(1);
    also_behind_the_group(&w, &second_tg(), all_healthy());
    also_behind_the_group(&w, &third_tg(), all_healthy());
    // No data on the third (a metric not published yet): it is described.
    w.fleet.metric_says(&third_tg(), None);
    let report = deliver(&w, "scheduled-sweep.json").await;
    assert_eq!(
        checked(&report),
        BTreeSet::from([tg().to_string(), third_tg().to_string()])
    );
    assert_eq!(w.fleet.host_count_calls(), 1, "one triage for them all");
    assert_eq!(w.fleet.replaced().len(), 1, "the unhealthy one is healed");
}

#[tokio::test]
async fn triage_never_skips_a_target_group_with_an_open_incident() {
    let w = world(1);
    deliver(&w, "alarm-state-change.json").await;
    assert_eq!(w.store.incidents().len(), 1);
    // The metric says all is well (it lags, or the replacement's target is not yet
    // registered): the incident is verified from the targets themselves all the same.
    w.fleet.metric_says(&tg(), Some(0.0));
    let report = deliver(&w, "scheduled-sweep.json").await;
    assert_eq!(checked(&report), BTreeSet::from([tg().to_string()]));
}

#[tokio::test]
async fn a_triage_that_fails_describes_every_target_group() {
    let w = world(0);
    also_behind_the_group(&w, &second_tg(), all_healthy());
    w.fleet.fail_next_host_counts(Error::Aws {
        operation: "GetMetricData",
        retryable: true,
        detail: "Throttling: Rate exceeded".into(),
        source: "Throttling".into(),
    });
    let report = deliver(&w, "scheduled-sweep.json").await;
    assert_eq!(
        checked(&report),
        BTreeSet::from([tg().to_string(), second_tg().to_string()])
    );
    assert!(report.failures.is_empty(), "{report:?}");
}

#[tokio::test]
async fn with_triage_off_the_sweep_describes_every_target_group() {
    let off = Policy {
        sweep_triage: false,
        ..enforce()
    };
    let w = world_with(0, true, off);
    also_behind_the_group(&w, &second_tg(), all_healthy());
    let report = deliver(&w, "scheduled-sweep.json").await;
    assert_eq!(checked(&report).len(), 2);
    assert_eq!(w.fleet.host_count_calls(), 0);
}

#[tokio::test]
async fn a_sweep_whose_every_check_failed_retryably_asks_to_be_retried() {
    let w = world(1);
    w.fleet.fail_next_target_health(
        &tg(),
        Error::Aws {
            operation: "DescribeTargetHealth",
            retryable: true,
            detail: "Throttling".into(),
            source: "Throttling".into(),
        },
    );
    let err = w
        .handler
        .handle(event("scheduled-sweep.json"))
        .await
        .unwrap_err();
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_sweep_near_its_deadline_leaves_the_rest_to_the_next_sweep() {
    let w = world(1);
    let report = w
        .handler
        .handle_until(event("scheduled-sweep.json"), Some(SystemTime::now()))
        .await
        .unwrap();
    assert_eq!(report.deferred, vec![target_group(&tg())]);
    assert!(report.checks.is_empty());
    assert!(w.fleet.replaced().is_empty());
}

#[tokio::test]
async fn the_replacements_phases_show_in_the_timeline_until_verified_recovery() {
    let w = world(1);
    deliver(&w, "alarm-state-change.json").await;
    let phases = [
        (
            vec![
                target(1, TargetState::Draining),
                target(2, TargetState::Healthy),
                target(3, TargetState::Healthy),
                target(4, TargetState::Healthy),
            ],
            "replaced instance i-0001 is still registered (draining)",
        ),
        (
            vec![
                target(2, TargetState::Healthy),
                target(3, TargetState::Healthy),
                target(4, TargetState::Healthy),
                target(5, TargetState::Initial),
            ],
            "target i-0005 is initial",
        ),
    ];
    for (targets, waiting) in phases {
        w.fleet.set_targets(&tg(), targets);
        let report = deliver(&w, "scheduled-sweep.json").await;
        assert_eq!(report.checks[0].verdict, Verdict::Recovering);
        assert_eq!(report.checks[0].waiting_for.as_deref(), Some(waiting));
    }
    w.fleet.set_targets(
        &tg(),
        (2..=5).map(|n| target(n, TargetState::Healthy)).collect(),
    );
    deliver(&w, "scheduled-sweep.json").await;
    let incident = &w.store.incidents()[0];
    assert_eq!(incident.state, IncidentState::Resolved);
    let events: Vec<&str> = incident.timeline.iter().map(|t| t.event.as_str()).collect();
    assert_eq!(
        events,
        vec![
            "opened",
            "remediating",
            "recovering",
            "recovering",
            "resolved"
        ]
    );
}

#[tokio::test]
async fn an_incident_that_never_recovers_escalates_after_the_recovery_timeout() {
    let w = world(1);
    deliver(&w, "alarm-state-change.json").await;
    w.fleet.set_targets(
        &tg(),
        (2..=4)
            .map(|n| target(n, TargetState::Healthy))
            .chain([target(5, TargetState::Initial)])
            .collect(),
    );
    later(&w, 16, enforce())
        .handle(event("scheduled-sweep.json"))
        .await
        .unwrap();
    let incident = &w.store.incidents()[0];
    assert_eq!(incident.state, IncidentState::Escalated);
    assert!(incident
        .timeline
        .last()
        .unwrap()
        .detail
        .contains("not recovered within 15 minutes"));
}

#[tokio::test]
async fn a_replacement_request_that_had_no_effect_is_retried_once_then_escalated() {
    // The fake group accepts SetInstanceHealth and changes nothing, as Auto Scaling does
    // inside the health-check grace period.
    let w = world(1);
    deliver(&w, "alarm-state-change.json").await;
    later(&w, 11, enforce())
        .handle(event("scheduled-sweep.json"))
        .await
        .unwrap();
    assert_eq!(w.fleet.replaced().len(), 2, "retried once");
    later(&w, 22, enforce())
        .handle(event("scheduled-sweep.json"))
        .await
        .unwrap();
    assert_eq!(w.fleet.replaced().len(), 2, "not a third time");
    let incident = &w.store.incidents()[0];
    assert_eq!(incident.state, IncidentState::Escalated);
    assert!(incident
        .timeline
        .last()
        .unwrap()
        .detail
        .contains("had no effect"));
}

#[test]
fn the_deadline_is_read_as_lambda_sends_it_or_as_time_left_from_a_local_emulator() {
    let epoch = 1_795_727_398_639;
    assert_eq!(
        invocation_deadline(epoch),
        SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(epoch)
    );
    let relative = invocation_deadline(600_000);
    let left = relative.duration_since(SystemTime::now()).unwrap();
    assert!(left > std::time::Duration::from_secs(590), "{left:?}");
}

fn workflow_of(w: &World) -> Workflow<'_, crate::fakes::FakeTargetGroups, MemoryStore> {
    Workflow {
        kind: &w.handler.kind,
        store: &w.store,
        clock: Utc::now,
    }
}

#[tokio::test]
async fn a_sweep_listing_that_missed_an_open_incident_still_converges_on_it() {
    let w = world(1);
    deliver(&w, "alarm-state-change.json").await;
    // The index has not caught up: the sweep believes nothing is open.
    workflow_of(&w)
        .reconcile_from(
            &target_group(&tg()),
            &Cue::Look,
            None,
            "sweep",
            &Tally::default(),
        )
        .await
        .unwrap();
    assert_eq!(w.store.incidents().len(), 1);
    assert_eq!(w.fleet.replaced().len(), 1);
}

#[tokio::test]
async fn a_stale_incident_from_the_listing_is_never_written_over() {
    let w = world(1);
    deliver(&w, "alarm-state-change.json").await;
    let stale = w.store.incidents()[0].clone();
    w.store.resolve_elsewhere(&stale.id);
    let stored = w.store.load(&stale.id).await.unwrap().unwrap();

    workflow_of(&w)
        .reconcile_from(
            &target_group(&tg()),
            &Cue::Look,
            Some(stale.clone()),
            "sweep",
            &Tally::default(),
        )
        .await
        .unwrap();
    assert_eq!(w.store.load(&stale.id).await.unwrap().unwrap(), stored);
    assert_eq!(w.fleet.replaced().len(), 1, "no second replacement");
}

#[tokio::test]
async fn a_standby_instance_and_a_scale_out_do_not_hold_back_healing() {
    let w = world(1);
    w.fleet.update_group("rebound-demo-web-asg", |g| {
        g.instances[3].lifecycle_state = "Standby".into();
        g.instances.push(GroupInstance {
            instance_id: iid(9),
            lifecycle_state: "Pending".into(),
            health_status: "Healthy".into(),
            availability_zone: None,
        });
    });
    deliver(&w, "alarm-state-change.json").await;
    assert_eq!(w.fleet.replaced().len(), 1);
}

// ---- Dependency-aware holds (issue: RDS health) ----

/// The sample group declares it depends on the sample database, whose incident the
/// real rds-health handler opens on the same store: an alarm, a failover RDS is still
/// carrying out.
async fn world_with_sick_database() -> (World, crate::fakes::FakeDatabases) {
    use crate::kinds::database::observation::DbInstance;
    let w = world(1);
    w.fleet.update_group("rebound-demo-web-asg", |g| {
        g.tags
            .insert("rebound:depends-on".into(), "rebound-demo-db".into());
    });
    let rds = crate::fakes::FakeDatabases::default();
    rds.add_instance(DbInstance {
        id: crate::ids::DbInstanceId::parse("rebound-demo-db").unwrap(),
        status: "available".into(),
        multi_az: true,
        primary_az: Some("us-east-1a".into()),
        standby_az: Some("us-east-1b".into()),
        tags: BTreeMap::from([
            ("rebound:managed".to_owned(), "true".to_owned()),
            (
                crate::kinds::database::observation::FAILOVER_ALARMS_TAG.to_owned(),
                "rebound-demo-db-read-latency".to_owned(),
            ),
        ]),
        cluster: None,
    });
    rds.failover_does_nothing();
    let database = rds_handler(&w, &rds, Utc::now);
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../events/rds-health/alarm-state-change.json"),
    )
    .unwrap();
    database
        .handle(serde_json::from_str(&text).unwrap())
        .await
        .unwrap();
    (w, rds)
}

/// rds-health on the same store: the database's side of a dependency hold.
fn rds_handler(
    w: &World,
    rds: &crate::fakes::FakeDatabases,
    clock: fn() -> DateTime<Utc>,
) -> crate::fakes::RdsHealthFunction {
    let policy = crate::kinds::database::Policy {
        settings: enforce().settings,
        ..crate::kinds::database::Policy::default()
    };
    let mut handler = crate::fakes::rds_health(rds, &w.store, policy);
    handler.clock = clock;
    handler
}

fn alb_incident(w: &World) -> crate::domain::Incident {
    w.store
        .incidents()
        .into_iter()
        .find(|i| i.resource.kind == TARGET_GROUP)
        .expect("an ALB incident")
}

#[tokio::test]
async fn while_the_database_a_group_depends_on_has_an_open_incident_its_instances_are_held() {
    let (w, _rds) = world_with_sick_database().await;
    let db_incident = w
        .store
        .incidents()
        .into_iter()
        .find(|i| i.resource.kind == crate::kinds::database::DB_INSTANCE)
        .unwrap();
    let report = deliver(&w, "alarm-state-change.json").await;
    assert!(w.fleet.replaced().is_empty());
    assert_eq!(report.checks[0].verdict, Verdict::Suppress);
    assert_eq!(report.checks[0].refusals[0].guard, "dependency-held");
    let incident = alb_incident(&w);
    assert_eq!(incident.state, IncidentState::Suppressed);
    let reason = &incident.timeline.last().unwrap().detail;
    assert!(reason.contains("rebound-demo-db"), "{reason}");
    assert!(reason.contains(db_incident.id.as_str()), "{reason}");
}

#[tokio::test]
async fn the_hold_lasts_the_settle_time_after_the_database_recovers_then_the_sweep_replaces() {
    let (w, rds) = world_with_sick_database().await;
    deliver(&w, "alarm-state-change.json").await;
    // The failover completes: primary and standby swapped, the database incident resolves.
    rds.update_instance("rebound-demo-db", |db| {
        std::mem::swap(&mut db.primary_az, &mut db.standby_az)
    });
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events/rds-health/scheduled-sweep.json"),
    )
    .unwrap();
    rds_handler(&w, &rds, Utc::now)
        .handle(serde_json::from_str(&text).unwrap())
        .await
        .unwrap();
    // Within the settle time: still held, nothing replaced.
    deliver(&w, "scheduled-sweep.json").await;
    assert!(w.fleet.replaced().is_empty());
    assert_eq!(alb_incident(&w).state, IncidentState::Suppressed);
    // Past it, the sweep re-evaluates: the instance is still failing, so it is replaced.
    let mut after_settle = handler(&w.fleet, &w.store, enforce());
    after_settle.clock = || Utc::now() + Minutes::minutes(6);
    after_settle
        .handle(event("scheduled-sweep.json"))
        .await
        .unwrap();
    assert_eq!(w.fleet.replaced().len(), 1);
    let incident = alb_incident(&w);
    assert_eq!(incident.state, IncidentState::Remediating);
    let events: Vec<&str> = incident.timeline.iter().map(|t| t.event.as_str()).collect();
    // Held first for the open database incident, then for the settle time.
    assert_eq!(events, ["opened", "suppressed", "held", "remediating"]);
    assert!(incident.timeline[2].detail.contains("settling until"));
}

#[tokio::test]
async fn a_hold_that_lifts_while_the_instances_recovered_resolves_the_suppressed_incident() {
    let (w, rds) = world_with_sick_database().await;
    deliver(&w, "alarm-state-change.json").await;
    rds.update_instance("rebound-demo-db", |db| {
        std::mem::swap(&mut db.primary_az, &mut db.standby_az)
    });
    w.fleet.set_targets(
        &tg(),
        (1..=4).map(|n| target(n, TargetState::Healthy)).collect(),
    );
    deliver(&w, "scheduled-sweep.json").await;
    assert_eq!(alb_incident(&w).state, IncidentState::Resolved);
    assert!(w.fleet.replaced().is_empty());
}

#[tokio::test]
async fn a_group_with_elb_health_checks_has_replace_unhealthy_suspended_while_held_and_resumed_after(
) {
    let (w, rds) = world_with_sick_database().await;
    w.fleet.update_group("rebound-demo-web-asg", |g| {
        g.health_check_type = "ELB".into()
    });
    w.fleet.set_targets(
        &tg(),
        (1..=4).map(|n| target(n, TargetState::Unhealthy)).collect(),
    );
    deliver(&w, "alarm-state-change.json").await;
    let group = AutoScalingGroupName::parse("rebound-demo-web-asg").unwrap();
    assert_eq!(w.fleet.suspensions(), [(group.clone(), true)]);
    let incident = alb_incident(&w);
    // Held, not remediating: the suspension is upkeep of the hold, recorded as an action.
    assert_eq!(incident.state, IncidentState::Suppressed);
    assert_eq!(incident.actions.len(), 1);
    assert_eq!(incident.actions[0].kind, SUSPEND_REPLACE_UNHEALTHY);
    assert_eq!(
        incident.actions[0].outcome,
        crate::domain::ActionOutcome::Succeeded
    );
    // A second delivery while held changes nothing more.
    deliver(&w, "scheduled-sweep.json").await;
    assert_eq!(w.fleet.suspensions().len(), 1);

    // The database recovers, the web tier with it; past the settle time the sweep
    // resumes what Rebound suspended (and only that) and resolves.
    rds.update_instance("rebound-demo-db", |db| {
        std::mem::swap(&mut db.primary_az, &mut db.standby_az)
    });
    rds_handler(&w, &rds, Utc::now)
        .handle(
            serde_json::from_str(
                &std::fs::read_to_string(
                    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                        .join("../events/rds-health/scheduled-sweep.json"),
                )
                .unwrap(),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    w.fleet.set_targets(
        &tg(),
        (1..=4).map(|n| target(n, TargetState::Healthy)).collect(),
    );
    let mut later_on = handler(&w.fleet, &w.store, enforce());
    later_on.clock = || Utc::now() + Minutes::minutes(6);
    later_on
        .handle(event("scheduled-sweep.json"))
        .await
        .unwrap();
    assert_eq!(
        w.fleet.suspensions(),
        [(group.clone(), true), (group, false)]
    );
    let incident = alb_incident(&w);
    assert_eq!(
        incident.state,
        IncidentState::Resolved,
        "{:?}",
        incident.timeline
    );
    let kinds: Vec<&str> = incident.actions.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["suspend-replace-unhealthy", "resume-replace-unhealthy"]
    );
    assert!(w.fleet.replaced().is_empty());
}

#[tokio::test]
async fn a_suspension_rebound_did_not_make_is_never_resumed_and_still_stops_replacements() {
    let w = world(1);
    w.fleet.update_group("rebound-demo-web-asg", |g| {
        g.health_check_type = "ELB".into();
        g.suspended_processes.push("ReplaceUnhealthy".into());
    });
    let report = deliver(&w, "alarm-state-change.json").await;
    assert!(w.fleet.suspensions().is_empty());
    assert!(w.fleet.replaced().is_empty());
    assert_eq!(report.checks[0].refusals[0].guard, "group-cannot-heal");
}

#[tokio::test]
async fn rebound_s_own_suspension_is_not_an_operator_s_once_the_hold_is_gone() {
    let w = world(1);
    w.fleet.update_group("rebound-demo-web-asg", |g| {
        g.health_check_type = "ELB".into();
        g.suspended_processes.push("ReplaceUnhealthy".into());
        g.tags.insert(
            super::observation::SUSPENDED_BY_TAG_KEY.into(),
            "inc-20261203T100000Z-00000001".into(),
        );
    });
    deliver(&w, "alarm-state-change.json").await;
    let group = AutoScalingGroupName::parse("rebound-demo-web-asg").unwrap();
    // Nothing holds the group: its suspension is resumed, and the group (which can heal:
    // the suspension was Rebound's) gets the first go at the instance from now on.
    assert_eq!(w.fleet.suspensions(), [(group, false)]);
    assert!(w.fleet.replaced().is_empty());
    let incident = &w.store.incidents()[0];
    assert!(
        incident
            .timeline
            .iter()
            .any(|t| t.detail.contains("replaces ELB-unhealthy instances itself")),
        "{:?}",
        incident.timeline
    );
}

#[tokio::test]
async fn a_suspension_left_behind_by_an_incident_closed_by_hand_is_resumed_by_the_next_sweep() {
    let w = world(0);
    w.fleet.update_group("rebound-demo-web-asg", |g| {
        g.health_check_type = "ELB".into();
        g.suspended_processes.push("ReplaceUnhealthy".into());
        g.tags.insert(
            super::observation::SUSPENDED_BY_TAG_KEY.into(),
            "inc-20261203T100000Z-00000001".into(),
        );
    });
    deliver(&w, "scheduled-sweep.json").await;
    let group = AutoScalingGroupName::parse("rebound-demo-web-asg").unwrap();
    assert_eq!(w.fleet.suspensions(), [(group, false)]);
    assert!(w.store.incidents().is_empty(), "nothing to record it on");
}

#[tokio::test]
async fn a_dependency_hold_ends_at_the_database_incident_s_objective_plus_the_settle_time() {
    let (w, _rds) = world_with_sick_database().await;
    deliver(&w, "alarm-state-change.json").await;
    assert_eq!(alb_incident(&w).state, IncidentState::Suppressed);
    assert!(w.fleet.replaced().is_empty());
    // The database incident (objective 900 s) is still open 21 minutes later: past 15
    // + 5 minutes, the group is judged on its own again.
    let mut later_on = handler(&w.fleet, &w.store, enforce());
    later_on.clock = || Utc::now() + Minutes::minutes(21);
    later_on
        .handle(event("scheduled-sweep.json"))
        .await
        .unwrap();
    assert_eq!(w.fleet.replaced().len(), 1);
}

#[tokio::test]
async fn a_group_that_declares_no_dependency_is_replaced_as_before() {
    let (w, _rds) = world_with_sick_database().await;
    w.fleet.update_group("rebound-demo-web-asg", |g| {
        g.tags.remove("rebound:depends-on");
    });
    deliver(&w, "alarm-state-change.json").await;
    assert_eq!(w.fleet.replaced().len(), 1);
}

#[tokio::test]
async fn replacements_looping_on_one_launch_template_stop_with_an_escalation() {
    let w = world(1);
    let now = Utc::now();
    let earlier = |n: u32, minutes: i64| LedgerEntry {
        configuration: Some("lt-0abc version 7".into()),
        ..ledger_entry(n, now - Minutes::minutes(minutes))
    };
    w.store.set_ledger(
        &web_scope(),
        Ledger {
            entries: vec![earlier(7, 50), earlier(8, 35), earlier(9, 20)],
            version: 0,
        },
    );
    let report = deliver(&w, "alarm-state-change.json").await;
    assert!(w.fleet.replaced().is_empty());
    assert_eq!(report.checks[0].verdict, Verdict::Escalate);
    assert_eq!(
        report.checks[0].refusals[0].guard,
        "replacements-not-working"
    );
    assert_eq!(w.store.incidents()[0].state, IncidentState::Escalated);
}

#[tokio::test]
async fn an_empty_target_group_is_not_recovering_forever() {
    let w = world(1);
    deliver(&w, "alarm-state-change.json").await;
    w.fleet.set_targets(&tg(), vec![]);
    let report = deliver(&w, "scheduled-sweep.json").await;
    assert_eq!(report.checks[0].verdict, Verdict::Recovering);
    later(&w, 16, enforce())
        .handle(event("scheduled-sweep.json"))
        .await
        .unwrap();
    let incident = &w.store.incidents()[0];
    assert_eq!(incident.state, IncidentState::Escalated);
    assert!(incident
        .timeline
        .last()
        .unwrap()
        .detail
        .contains("no registered targets"));
}

// Metrics: `IncidentsEscalated` and `TimeToRecoverSeconds` on the invocation's EMF line.

/// Every value of `metric` the handler emitted while handling `event`, with the unit it
/// was declared with.
async fn metric_values(
    handler: &Handler,
    event: Value,
    metric: &str,
) -> (Vec<f64>, Option<String>) {
    let capture = crate::telemetry::capture::start();
    handler.handle(event).await.unwrap();
    let unit = capture.lines().iter().find_map(|line| {
        line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()?
            .iter()
            .find(|m| m["Name"] == metric)
            .and_then(|m| m["Unit"].as_str().map(str::to_owned))
    });
    (capture.values(metric), unit)
}

#[tokio::test]
async fn a_verified_recovery_reports_its_time_to_recover_in_seconds() {
    let w = world(1);
    let (ttr, _) = metric_values(
        &w.handler,
        event("alarm-state-change.json"),
        "TimeToRecoverSeconds",
    )
    .await;
    assert!(ttr.is_empty(), "nothing recovered yet: {ttr:?}");
    w.fleet.set_targets(
        &tg(),
        (2..=5).map(|n| target(n, TargetState::Healthy)).collect(),
    );

    let (ttr, unit) = metric_values(
        &later(&w, 11, enforce()),
        event("scheduled-sweep.json"),
        "TimeToRecoverSeconds",
    )
    .await;

    let incident = &w.store.incidents()[0];
    assert_eq!(incident.state, IncidentState::Resolved);
    let recorded = incident.time_to_recover_s.unwrap();
    assert!((660..=661).contains(&recorded), "{recorded}");
    assert_eq!(ttr, vec![recorded as f64], "one value, the incident's own");
    assert_eq!(unit.as_deref(), Some("Seconds"));
}

#[tokio::test]
async fn a_later_sweep_of_the_recovered_target_group_reports_no_time_to_recover_again() {
    let w = world(1);
    deliver(&w, "alarm-state-change.json").await;
    w.fleet.set_targets(
        &tg(),
        (2..=5).map(|n| target(n, TargetState::Healthy)).collect(),
    );
    deliver(&w, "scheduled-sweep.json").await;
    let (ttr, _) = metric_values(
        &w.handler,
        event("scheduled-sweep.json"),
        "TimeToRecoverSeconds",
    )
    .await;
    assert!(ttr.is_empty(), "{ttr:?}");
}

#[tokio::test]
async fn an_escalation_is_counted_once_however_often_it_is_seen_again() {
    let w = world(4);
    let (escalated, unit) = metric_values(
        &w.handler,
        event("alarm-state-change.json"),
        "IncidentsEscalated",
    )
    .await;
    assert_eq!(w.store.incidents()[0].state, IncidentState::Escalated);
    assert_eq!(escalated, vec![1.0]);
    assert_eq!(unit.as_deref(), Some("Count"));

    for name in ["alarm-state-change.json", "scheduled-sweep.json"] {
        let (again, _) = metric_values(&w.handler, event(name), "IncidentsEscalated").await;
        assert!(again.is_empty(), "{name}: {again:?}");
    }
}

#[tokio::test]
async fn an_incident_that_escalates_after_remediating_is_counted_and_reports_no_recovery() {
    let w = world(1);
    deliver(&w, "alarm-state-change.json").await;
    w.fleet.set_targets(
        &tg(),
        (2..=4)
            .map(|n| target(n, TargetState::Healthy))
            .chain([target(5, TargetState::Initial)])
            .collect(),
    );
    let capture = crate::telemetry::capture::start();
    later(&w, 16, enforce())
        .handle(event("scheduled-sweep.json"))
        .await
        .unwrap();
    assert_eq!(w.store.incidents()[0].state, IncidentState::Escalated);
    assert_eq!(capture.values("IncidentsEscalated"), vec![1.0]);
    assert!(capture.values("TimeToRecoverSeconds").is_empty());
}

#[tokio::test]
async fn an_incident_closed_because_its_target_group_is_gone_reports_no_time_to_recover() {
    let w = world_with(1, false, enforce());
    deliver(&w, "alarm-state-change.json").await;
    w.fleet.delete_target_group(&tg());
    let (ttr, _) = metric_values(&w.handler, alarm_for(&tg()), "TimeToRecoverSeconds").await;
    assert_eq!(w.store.incidents()[0].state, IncidentState::Resolved);
    assert!(ttr.is_empty(), "{ttr:?}");
}

#[tokio::test]
async fn a_sweep_that_resolves_two_incidents_reports_both_times_to_recover() {
    let w = world(1);
    let config = Policy {
        cooldown: std::time::Duration::ZERO,
        ..enforce()
    };
    w.fleet.set_targets(
        &second_tg(),
        vec![
            target(1, TargetState::Unhealthy),
            target(2, TargetState::Healthy),
        ],
    );
    w.handler.handle(alarm_for(&tg())).await.unwrap();
    later(&w, 0, config.clone())
        .handle(alarm_for(&second_tg()))
        .await
        .unwrap();
    let healthy: Vec<TargetHealth> = (2..=5).map(|n| target(n, TargetState::Healthy)).collect();
    w.fleet.set_targets(&tg(), healthy.clone());
    w.fleet.set_targets(&second_tg(), healthy);

    let (ttr, _) = metric_values(
        &later(&w, 11, config),
        event("scheduled-sweep.json"),
        "TimeToRecoverSeconds",
    )
    .await;

    let mut recorded: Vec<f64> = w
        .store
        .incidents()
        .iter()
        .filter_map(|i| i.time_to_recover_s)
        .map(|s| s as f64)
        .collect();
    assert_eq!(recorded.len(), 2, "{:?}", w.store.incidents());
    let mut ttr = ttr;
    ttr.sort_by(f64::total_cmp);
    recorded.sort_by(f64::total_cmp);
    assert_eq!(ttr, recorded);
}

#[tokio::test]
async fn an_incident_is_held_to_its_groups_rto_tag_or_the_default_for_target_groups() {
    let w = world(1);
    deliver(&w, "alarm-state-change.json").await;
    assert_eq!(w.store.incidents()[0].rto_s, Some(900));

    let tagged = world(1);
    tagged.fleet.update_group("rebound-demo-web-asg", |g| {
        g.tags.insert("rebound:rto-seconds".into(), "120".into());
    });
    deliver(&tagged, "alarm-state-change.json").await;
    assert_eq!(tagged.store.incidents()[0].rto_s, Some(120));
    // Past two minutes, still recovering: the objective is missed.
    tagged.fleet.set_targets(
        &tg(),
        (2..=4)
            .map(|n| target(n, TargetState::Healthy))
            .chain([target(5, TargetState::Initial)])
            .collect(),
    );
    later(&tagged, 11, enforce())
        .handle(event("scheduled-sweep.json"))
        .await
        .unwrap();
    let incident = &tagged.store.incidents()[0];
    assert_eq!(incident.state, IncidentState::Escalated);
    assert!(incident
        .timeline
        .last()
        .unwrap()
        .detail
        .contains("not recovered within 2 minutes"));
}

#[tokio::test]
async fn a_sweep_that_checked_its_target_groups_counts_as_a_heartbeat() {
    let w = world(1);
    let report = deliver(&w, "scheduled-sweep.json").await;
    assert!(report.sweep_completed());

    let nothing_to_watch = world_with(0, false, enforce());
    let report = deliver(&nothing_to_watch, "scheduled-sweep.json").await;
    assert!(report.checks.is_empty() && report.failures.is_empty());
    assert!(report.sweep_completed(), "an empty sweep still did its job");
}

#[tokio::test]
async fn a_sweep_that_checked_nothing_is_no_heartbeat() {
    let w = world(1);
    w.fleet.fail_next_target_health(
        &tg(),
        Error::Aws {
            operation: "DescribeTargetHealth",
            retryable: false,
            detail: "AccessDenied".into(),
            source: "AccessDenied".into(),
        },
    );
    let report = deliver(&w, "scheduled-sweep.json").await;
    assert_eq!(report.failures.len(), 1);
    assert!(!report.sweep_completed(), "every check failed");

    let w = world(1);
    let report = w
        .handler
        .handle_until(event("scheduled-sweep.json"), Some(SystemTime::now()))
        .await
        .unwrap();
    assert!(!report.sweep_completed(), "everything deferred");

    let report = deliver(&w, "alarm-other-metric.json").await;
    assert!(!report.sweep_completed(), "an ignored event is no sweep");
}

#[tokio::test]
async fn an_incident_opened_on_a_resource_a_drill_marked_is_the_drills_and_an_expired_mark_marks_nothing(
) {
    let w = world(1);
    let resource = target_group(&tg());
    w.store.mark_drill(
        &resource,
        crate::domain::DrillMark {
            id: "drill-20261126T101500Z-3f9a1c2b".into(),
            until: Utc::now() + Minutes::minutes(30),
        },
    );
    deliver(&w, "alarm-state-change.json").await;
    let incidents = w.store.incidents();
    assert_eq!(
        incidents[0].drill.as_deref(),
        Some("drill-20261126T101500Z-3f9a1c2b")
    );

    let w = world(1);
    w.store.mark_drill(
        &resource,
        crate::domain::DrillMark {
            id: "drill-20261126T091500Z-00000000".into(),
            until: Utc::now() - Minutes::minutes(1),
        },
    );
    deliver(&w, "alarm-state-change.json").await;
    assert_eq!(w.store.incidents()[0].drill, None);
}

// ------------------------------------------------------- evidence kept before acting

const EVIDENCE: &str = "rebound-evidence";

fn enforce_keeping_evidence() -> Policy {
    Policy {
        evidence_bucket: Some(crate::ids::BucketName::parse(EVIDENCE).unwrap()),
        ..enforce()
    }
}

#[tokio::test]
async fn a_replacement_keeps_the_instances_console_output_and_status_before_the_call() {
    let w = world_with(1, true, enforce_keeping_evidence());
    deliver(&w, "alarm-state-change.json").await;

    assert_eq!(w.fleet.replaced().len(), 1);
    let kept = w.fleet.kept();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].replacements_before, 0, "kept after the call");
    let incident = &w.store.incidents()[0];
    assert!(
        kept[0]
            .key
            .starts_with(&format!("incidents/{}/{}-", incident.id, iid(1))),
        "{}",
        kept[0].key
    );
    let object: Value = serde_json::from_slice(&kept[0].body).unwrap();
    assert_eq!(
        object["console_output"]["text"],
        format!("console of {}\n", iid(1))
    );
    assert_eq!(object["status"]["instance_status"]["status"], "ok");
    assert_eq!(object["auto_scaling_group"], "rebound-demo-web-asg");
    assert_eq!(object["incident"], incident.id.to_string());

    assert_eq!(incident.captures.len(), 1);
    let capture = &incident.captures[0];
    assert_eq!(capture.target, instance(&iid(1)));
    assert_eq!(
        capture.uri.as_deref(),
        Some(format!("s3://{EVIDENCE}/{}", kept[0].key).as_str())
    );
    assert_eq!(capture.failed, None);
    assert!(incident
        .timeline
        .iter()
        .any(|e| e.event == "evidence" && e.detail.contains("kept at s3://")));
}

#[tokio::test]
async fn a_capture_that_fails_is_noted_and_the_instance_is_replaced_anyway() {
    let w = world_with(1, true, enforce_keeping_evidence());
    w.fleet.fail_console_output("UnauthorizedOperation");
    w.fleet.remove_bucket(EVIDENCE);

    deliver(&w, "alarm-state-change.json").await;

    assert_eq!(
        w.fleet.replaced().len(),
        1,
        "the capture held the replacement back"
    );
    let incident = &w.store.incidents()[0];
    assert_eq!(incident.state, IncidentState::Remediating);
    let capture = &incident.captures[0];
    assert_eq!(capture.uri, None);
    let failed = capture.failed.as_deref().unwrap();
    assert!(failed.contains("UnauthorizedOperation"), "{failed}");
    assert!(failed.contains("NoSuchBucket"), "{failed}");
    assert!(incident
        .timeline
        .iter()
        .any(|e| e.event == "evidence" && e.detail.contains("not kept")));
}

#[tokio::test]
async fn a_console_output_that_cannot_be_read_leaves_the_status_kept() {
    let w = world_with(1, true, enforce_keeping_evidence());
    w.fleet.fail_console_output("UnauthorizedOperation");

    deliver(&w, "alarm-state-change.json").await;

    let kept = w.fleet.kept();
    assert_eq!(kept.len(), 1);
    let object: Value = serde_json::from_slice(&kept[0].body).unwrap();
    assert_eq!(object["console_output"], Value::Null);
    assert_eq!(object["status"]["state"], "running");
    let capture = &w.store.incidents()[0].captures[0];
    assert!(capture.uri.is_some());
    assert!(capture
        .failed
        .as_deref()
        .is_some_and(|f| f.contains("console output")));
}

#[tokio::test]
async fn dry_run_captures_nothing_as_it_replaces_nothing() {
    let policy = Policy {
        settings: Settings::default(),
        ..enforce_keeping_evidence()
    };
    let w = world_with(1, true, policy);
    deliver(&w, "alarm-state-change.json").await;

    assert!(w.fleet.replaced().is_empty());
    assert!(w.fleet.kept().is_empty());
    assert!(w.store.incidents()[0].captures.is_empty());
}

#[tokio::test]
async fn nothing_is_captured_without_an_evidence_bucket_or_on_the_healthy_path() {
    let without = world(1);
    deliver(&without, "alarm-state-change.json").await;
    assert_eq!(without.fleet.replaced().len(), 1);
    assert!(without.fleet.kept().is_empty());
    assert!(without.store.incidents()[0].captures.is_empty());

    let healthy = world_with(0, true, enforce_keeping_evidence());
    deliver(&healthy, "alarm-state-change.json").await;
    assert!(healthy.fleet.kept().is_empty());
    assert!(healthy.store.incidents().is_empty());
}

#[test]
fn an_invalid_evidence_bucket_is_named_with_what_is_expected() {
    let read = |value: &'static str| {
        let lookup = move |name: &str| (name == "EVIDENCE_BUCKET").then(|| value.to_owned());
        Policy::read(&crate::config::Env::new(&lookup))
    };
    assert_eq!(read("").unwrap().evidence_bucket, None);
    assert_eq!(
        read("rebound-evidence-123").unwrap().evidence_bucket,
        Some(crate::ids::BucketName::parse("rebound-evidence-123").unwrap())
    );
    let err = read("Rebound_Evidence").unwrap_err().to_string();
    assert!(
        err.contains("EVIDENCE_BUCKET=\"Rebound_Evidence\""),
        "{err}"
    );
    assert!(err.contains("an S3 bucket name"), "{err}");
}

#[tokio::test]
async fn a_sweep_check_that_outlasts_the_deadline_is_cut_and_left_to_the_next_sweep() {
    // A paced check can wait past the margin it started within; Lambda would stop the
    // invocation at its deadline and lose the sweep's backlog. The check is cut a
    // moment before, its intent already stored for the next check to settle.
    let w = world(1);
    w.fleet.hang_next_replace();
    let deadline =
        SystemTime::now() + crate::shell::DEADLINE_MARGIN + std::time::Duration::from_millis(300);
    let report = w
        .handler
        .handle_until(event("scheduled-sweep.json"), Some(deadline))
        .await
        .unwrap();
    assert!(
        SystemTime::now() < deadline,
        "the sweep ended before its deadline"
    );
    let deferred: Vec<&str> = report.deferred.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(deferred, [tg().as_str()], "{report:#?}");
    assert!(report.checks.is_empty() && report.failures.is_empty());
    let incident = &w.store.incidents()[0];
    assert_eq!(incident.actions[0].outcome, ActionOutcome::Pending);
}
