//! Integration tier: the real handlers with real SDK clients against the emulator, on a
//! real HA stack (VPC, two AZs, ALB, target group, ASG of 4, incidents table, SNS → SQS).

use std::sync::Arc;

use rebound::config::Mode;
use rebound::domain::{ActionOutcome, IncidentState};
use rebound::notifier::StreamEvent;
use rebound_tests::scenario::scenario;
use rebound_tests::stack::Managed;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_unhealthy_instance_is_replaced_verified_and_announced() {
    let s = scenario(Managed::Yes).await;
    let broken = s.break_instance(0);
    let handler = s.target_health(Mode::Enforce);

    let report = handler.handle(s.stack.alarm_event(0)).await.unwrap();
    assert_eq!(report.checks[0].actions.len(), 1, "{report:?}");
    assert_eq!(report.checks[0].actions[0].target.id, broken);

    // Exactly the broken instance was replaced, through its group, keeping capacity.
    assert_eq!(
        s.mutating_fleet_calls(),
        vec![("autoscaling".to_owned(), "SetInstanceHealth".to_owned())]
    );
    let members = s.group_instances().await;
    assert_eq!(members.len(), 4);
    assert!(!members.contains(&broken));
    let targets = s.registered_targets().await;
    assert!(
        targets
            .iter()
            .all(|(id, state)| id != &broken && state == "healthy"),
        "{targets:?}"
    );

    // The sweep verifies recovery and closes the incident with its time to recover.
    handler
        .handle(rebound_tests::sample_event(
            "target-health/scheduled-sweep.json",
        ))
        .await
        .unwrap();
    let incidents = s.incidents().await;
    assert_eq!(incidents.len(), 1);
    let incident = &incidents[0];
    assert_eq!(incident.state, IncidentState::Resolved);
    assert_eq!(incident.actions[0].outcome, ActionOutcome::Succeeded);
    assert!(incident.time_to_recover_s.is_some());
    let events: Vec<&str> = incident.timeline.iter().map(|t| t.event.as_str()).collect();
    assert_eq!(events, ["opened", "remediating", "resolved"]);

    // The stream carries each state change to the notifier, which publishes one message each.
    let state_file = tempfile_path("stream-state");
    let stream: StreamEvent =
        serde_json::from_value(s.stack.pending_stream_event(&s.emulator, &state_file)).unwrap();
    let notifier = rebound::aws::notifier_handler(&s.stack.notifier_config(), &s.sdk);
    let response = notifier.handle(stream).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    let messages = s.stack.notifications(&s.sdk).await;
    let states: Vec<&str> = messages
        .iter()
        .map(|m| {
            m["MessageAttributes"]["state"]["Value"]
                .as_str()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(states, ["remediating", "resolved"]);
    for message in &messages {
        let subject = message["Subject"].as_str().unwrap();
        assert!(subject.chars().count() <= 100, "{subject}");
        assert!(subject.starts_with("[Rebound] "), "{subject}");
        assert_eq!(
            message["MessageAttributes"]["resource_type"]["Value"],
            "target-group"
        );
        // The SQS subscriber gets the machine-readable body.
        let body: Value = serde_json::from_str(message["Message"].as_str().unwrap()).unwrap();
        assert_eq!(body["schema"], "rebound.incident-state-change/1");
        assert_eq!(body["incident"]["id"], incident.id.as_str());
    }
    std::fs::remove_file(&state_file).ok();
}

fn tempfile_path(stem: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "rebound-{stem}-{}-{}",
        std::process::id(),
        fastrand_suffix()
    ))
}

fn fastrand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_event_five_times_gives_one_incident_and_one_action() {
    let s = scenario(Managed::Yes).await;
    s.break_instance(1);
    let handler = s.target_health(Mode::Enforce);
    let event = s.stack.alarm_event(0);
    for _ in 0..5 {
        handler.handle(event.clone()).await.unwrap();
    }
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 1);
    let incidents = s.incidents().await;
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].actions.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_deliveries_converge_on_one_incident_and_one_action() {
    let s = scenario(Managed::Yes).await;
    s.break_instance(2);
    let handler = Arc::new(s.target_health(Mode::Enforce));
    let event = s.stack.alarm_event(0);
    let deliveries: Vec<_> = (0..20)
        .map(|_| {
            let handler = Arc::clone(&handler);
            let event = event.clone();
            tokio::spawn(async move { handler.handle(event).await })
        })
        .collect();
    for delivery in deliveries {
        delivery.await.unwrap().unwrap();
    }
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 1);
    let incidents = s.incidents().await;
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    assert_eq!(incidents[0].actions.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_targets_unhealthy_is_escalated_and_nothing_is_touched() {
    let s = scenario(Managed::Yes).await;
    for index in 0..4 {
        s.break_instance(index);
    }
    let report = s
        .target_health(Mode::Enforce)
        .handle(s.stack.alarm_event(0))
        .await
        .unwrap();
    assert_eq!(report.checks[0].refusals[0].guard, "all-targets-unhealthy");
    assert!(s.mutating_fleet_calls().is_empty());
    let mut members = s.group_instances().await;
    let mut provisioned = s.stack.web().instance_ids.clone();
    members.sort();
    provisioned.sort();
    assert_eq!(members, provisioned);
    let incidents = s.incidents().await;
    assert_eq!(incidents[0].state, IncidentState::Escalated);
    assert!(incidents[0].actions.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmanaged_group_is_observed_and_reported_but_never_touched() {
    let s = scenario(Managed::No).await;
    s.break_instance(0);
    let report = s
        .target_health(Mode::Enforce)
        .handle(s.stack.alarm_event(0))
        .await
        .unwrap();
    assert_eq!(report.checks[0].refusals[0].guard, "not-managed");
    assert!(s.mutating_fleet_calls().is_empty());
    let incidents = s.incidents().await;
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].state, IncidentState::Open);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_records_the_intended_action_and_makes_no_mutating_call() {
    let s = scenario(Managed::Yes).await;
    let broken = s.break_instance(0);
    let handler = s.target_health(Mode::DryRun);
    handler.handle(s.stack.alarm_event(0)).await.unwrap();
    handler
        .handle(rebound_tests::sample_event(
            "target-health/scheduled-sweep.json",
        ))
        .await
        .unwrap();
    assert!(
        s.mutating_fleet_calls().is_empty(),
        "{:?}",
        s.mutating_fleet_calls()
    );
    assert!(s.group_instances().await.contains(&broken));
    let incident = &s.incidents().await[0];
    assert_eq!(incident.actions.len(), 1);
    assert!(incident.actions[0].dry_run);
    assert_eq!(incident.actions[0].outcome, ActionOutcome::Simulated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_on_a_describe_call_is_retried_and_the_instance_still_replaced() {
    let s = scenario(Managed::Yes).await;
    s.break_instance(0);
    // Two throttles: the SDK's standard retry (three attempts) absorbs them.
    s.emulator
        .inject_fault("DescribeTargetHealth", "Throttling", 400, 2);
    let report = s
        .target_health(Mode::Enforce)
        .handle(s.stack.alarm_event(0))
        .await
        .unwrap();
    assert_eq!(report.checks[0].actions.len(), 1);
    assert_eq!(s.emulator.calls_of("DescribeTargetHealth"), 3);
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_throttling_fails_the_invocation_as_retryable_without_acting() {
    let s = scenario(Managed::Yes).await;
    s.break_instance(0);
    s.emulator
        .inject_fault("DescribeTargetHealth", "Throttling", 400, 10);
    let err = s
        .target_health(Mode::Enforce)
        .handle(s.stack.alarm_event(0))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(err.error_type(), "Rebound.Retryable");
    assert!(s.mutating_fleet_calls().is_empty());
    assert!(s.incidents().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_events_are_answered_with_an_error_and_no_call_at_all() {
    let s = scenario(Managed::Yes).await;
    s.break_instance(0);
    let handler = s.target_health(Mode::Enforce);
    let mut no_target_group = s.stack.alarm_event(0);
    no_target_group["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]
        ["dimensions"] = json!({"LoadBalancer": s.stack.load_balancer_full_name});
    let mut bad_dimension = s.stack.alarm_event(0);
    bad_dimension["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"]
        ["TargetGroup"] = json!("not-a-target-group");
    let mut broken_detail = s.stack.alarm_event(0);
    broken_detail["detail"] = json!({"alarmName": ["not", "a", "string"]});
    for event in [no_target_group, bad_dimension, broken_detail] {
        let err = handler.handle(event).await.unwrap_err();
        assert_eq!(err.error_type(), "Rebound.InvalidEvent", "{err}");
    }
    assert!(
        s.emulator.requests().is_empty(),
        "{:?}",
        s.emulator.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_replacement_is_recorded_briefly_and_the_incident_stays_readable() {
    let s = scenario(Managed::Yes).await;
    s.break_instance(0);
    let mut config = s.stack.target_health_config(Mode::Enforce);
    config.policy.cooldown = std::time::Duration::ZERO;
    let handler = rebound::aws::target_health(&config, &s.sdk);
    for _ in 0..2 {
        // A client error: not retried by the SDK, reported by the handler.
        s.emulator
            .inject_fault("SetInstanceHealth", "ValidationError", 400, 1);
        let err = handler.handle(s.stack.alarm_event(0)).await.unwrap_err();
        assert!(!err.is_retryable(), "{err}");
    }
    let incidents = s.incidents().await;
    assert_eq!(incidents.len(), 1);
    let actions = &incidents[0].actions;
    assert_eq!(actions.len(), 2);
    for action in actions {
        assert_eq!(action.outcome, ActionOutcome::Failed);
        assert_eq!(
            action.detail.as_deref(),
            Some("SetInstanceHealth failed: ValidationError: injected by test")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_delivered_through_an_sns_subscription_heals_like_the_eventbridge_shape() {
    let s = scenario(Managed::Yes).await;
    let broken = s.break_instance(0);
    let report = s
        .target_health(Mode::Enforce)
        .handle(s.stack.alarm_via_sns_event(0))
        .await
        .unwrap();
    assert_eq!(report.checks[0].actions.len(), 1, "{report:?}");
    assert_eq!(report.checks[0].actions[0].target.id, broken);
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 1);
    assert!(s.incidents().await[0].trigger.starts_with("alarm:"));
}

/// A delivery that read the target group before another one replaced, verified and
/// resolved: its decision is on a stale read and must not open a second incident,
/// whether it knows when it read (its clock) or which incident it saw resolved last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_decided_on_a_read_older_than_the_last_recovery_does_not_open() {
    use rebound::domain::{Evidence, Incident, Opening};
    use rebound::ports::{Commit, Committed, Freshness, IncidentStore};

    let s = scenario(Managed::Yes).await;
    s.break_instance(1);
    let before_the_recovery = chrono::Utc::now();
    let handler = s.target_health(Mode::Enforce);
    handler.handle(s.stack.alarm_event(0)).await.unwrap();
    handler
        .handle(rebound_tests::sample_event(
            "target-health/scheduled-sweep.json",
        ))
        .await
        .unwrap();
    let resolved = s.incidents().await.remove(0);
    assert_eq!(resolved.state, IncidentState::Resolved);

    let store = rebound::aws::incident_store(&s.stack.store_config(), &s.sdk);
    let opening = |at| {
        Incident::open(
            Opening {
                resource: resolved.resource.clone(),
                trigger: "alarm:late".into(),
                evidence: Evidence::default(),
                summary: "1 of 4 targets unhealthy".into(),
                rto_s: None,
                drill: None,
            },
            at,
        )
    };
    let open_with = |freshness, token: &'static str| {
        let mut incident = opening(chrono::Utc::now());
        let store = &store;
        async move {
            store
                .commit(Commit {
                    incident: &mut incident,
                    stored_state: None,
                    ledgers: vec![],
                    token,
                    freshness,
                })
                .await
                .unwrap()
        }
    };
    assert_eq!(
        open_with(Freshness::ObservedAt(before_the_recovery), "stale").await,
        Committed::LostRace,
        "read before the recovery"
    );
    assert_eq!(
        open_with(Freshness::LastIncident(None), "unseen").await,
        Committed::LostRace,
        "its record read before the incident resolved"
    );
    assert_eq!(
        open_with(Freshness::LastIncident(Some(resolved.id.clone())), "seen").await,
        Committed::Landed,
        "its record read after it, whatever the clocks"
    );
}
