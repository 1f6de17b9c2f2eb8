//! Integration tier for the ways real AWS differs from an instant, fault-free emulator:
//! replacements that take minutes, answers that get lost, two triggers for one failure,
//! resources that disappear. Each test runs the real handler with real SDK clients
//! against the emulator, with the fidelity layer's time and fault controls.

use aws_sdk_autoscaling::types::TrafficSourceIdentifier;
use aws_sdk_autoscaling::Client as AutoScalingClient;
use aws_sdk_elasticloadbalancingv2::Client as ElbClient;
use chrono::{DateTime, Duration, Utc};
use rebound::config::Mode;
use rebound::domain::Verdict;
use rebound::domain::{account_scope, ActionOutcome, IncidentState};
use rebound::functions::TargetHealthConfig;
use rebound::ports::IncidentStore;
use rebound_tests::scenario::{scenario, scenario_with, Scenario};
use rebound_tests::stack::Managed;
use rebound_tests::{sample_event, TargetGroup};
use serde_json::{json, Value};

fn sweep() -> Value {
    sample_event("target-health/scheduled-sweep.json")
}

fn config(
    s: &Scenario,
    mode: Mode,
    tweak: impl FnOnce(&mut TargetHealthConfig),
) -> TargetHealthConfig {
    let mut config = s.stack.target_health_config(mode);
    tweak(&mut config);
    config
}

fn in_11_minutes() -> DateTime<Utc> {
    Utc::now() + Duration::minutes(11)
}

fn in_16_minutes() -> DateTime<Utc> {
    Utc::now() + Duration::minutes(16)
}

fn in_22_minutes() -> DateTime<Utc> {
    Utc::now() + Duration::minutes(22)
}

/// The alarm event of one target group (the sample, with its dimensions).
fn alarm_for(s: &Scenario, target_group: &TargetGroup) -> Value {
    let mut event = s.stack.alarm_event(0);
    let dimensions =
        &mut event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"];
    dimensions["TargetGroup"] = json!(target_group.target_group_full_name);
    dimensions["LoadBalancer"] = json!(target_group.load_balancer_full_name);
    event
}

async fn set_grace_period(s: &Scenario, seconds: i32) {
    AutoScalingClient::new(&s.sdk)
        .update_auto_scaling_group()
        .auto_scaling_group_name(&s.stack.web().auto_scaling_group)
        .health_check_grace_period(seconds)
        .send()
        .await
        .unwrap();
}

// ---- 1. Rollout from dry-run to enforce ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_left_open_by_dry_run_is_remediated_for_real_once_enforce_is_on() {
    let s = scenario(Managed::Yes).await;
    let broken = s.break_instance(0);
    s.target_health(Mode::DryRun)
        .handle(s.stack.alarm_event(0))
        .await
        .unwrap();
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 0);

    let enforcing = s.target_health(Mode::Enforce);
    for _ in 0..2 {
        enforcing.handle(sweep()).await.unwrap();
    }
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 1);
    let incident = s.incident().await;
    let outcomes: Vec<ActionOutcome> = incident.actions.iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        [ActionOutcome::Simulated, ActionOutcome::Succeeded]
    );
    assert_eq!(incident.actions[1].target.id, broken);
    assert_eq!(
        incident
            .timeline
            .iter()
            .filter(|t| t.event == "enforce")
            .count(),
        1
    );
}

// ---- 2. Verified recovery ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_resolves_only_once_the_replacement_has_passed_through_every_phase() {
    let s = scenario(Managed::Yes).await;
    s.emulator.set_replacement_mode("phased");
    s.break_instance(0);
    let handler = s.target_health(Mode::Enforce);
    handler.handle(s.stack.alarm_event(0)).await.unwrap();

    let mut waited_for = Vec::new();
    for _phase in 0..2 {
        let report = handler.handle(sweep()).await.unwrap();
        assert_eq!(report.checks[0].verdict, Verdict::Recovering, "{report:?}");
        waited_for.push(report.checks[0].waiting_for.clone().unwrap());
        assert_eq!(s.incident().await.state, IncidentState::Remediating);
        s.emulator.advance();
    }
    assert!(waited_for[0].contains("draining"), "{waited_for:?}");
    assert!(waited_for[1].contains("initial"), "{waited_for:?}");

    let report = handler.handle(sweep()).await.unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Resolve);
    let incident = s.incident().await;
    assert_eq!(incident.state, IncidentState::Resolved);
    assert!(incident.time_to_recover_s.is_some());
    let events: Vec<&str> = incident.timeline.iter().map(|t| t.event.as_str()).collect();
    assert_eq!(
        events,
        [
            "opened",
            "remediating",
            "recovering",
            "recovering",
            "resolved"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacement_that_never_comes_up_escalates_after_the_recovery_timeout() {
    let s = scenario(Managed::Yes).await;
    s.emulator.set_replacement_mode("phased");
    s.break_instance(0);
    s.target_health(Mode::Enforce)
        .handle(s.stack.alarm_event(0))
        .await
        .unwrap();
    let mut later = s.target_health(Mode::Enforce);
    later.clock = in_16_minutes;
    later.handle(sweep()).await.unwrap();
    let incident = s.incident().await;
    assert_eq!(incident.state, IncidentState::Escalated);
    assert!(
        incident
            .timeline
            .last()
            .unwrap()
            .detail
            .contains("not recovered within 15 minutes"),
        "{:?}",
        incident.timeline
    );
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_swallowed_by_the_grace_period_is_retried_once_then_escalated() {
    let s = scenario(Managed::Yes).await;
    s.emulator.respect_grace_period(true);
    set_grace_period(&s, 600).await;
    let broken = s.break_instance(0);
    s.target_health(Mode::Enforce)
        .handle(s.stack.alarm_event(0))
        .await
        .unwrap();
    assert!(
        s.group_instances().await.contains(&broken),
        "AWS accepted the call and ignored it"
    );

    let mut retry = s.target_health(Mode::Enforce);
    retry.clock = in_11_minutes;
    retry.handle(sweep()).await.unwrap();
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 2);

    let mut last = s.target_health(Mode::Enforce);
    last.clock = in_22_minutes;
    last.handle(sweep()).await.unwrap();
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 2, "no third try");
    let incident = s.incident().await;
    assert_eq!(incident.state, IncidentState::Escalated);
    let detail = &incident.timeline.last().unwrap().detail;
    assert!(detail.contains("had no effect"), "{detail}");
    assert!(detail.contains("grace period 600 s"), "{detail}");
}

// ---- 4. Limits per Auto Scaling group ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_behind_two_target_groups_whose_alarms_fire_together_is_replaced_once() {
    let s = scenario_with(Managed::Yes, 4, 2).await;
    s.emulator.set_replacement_mode("phased");
    let web = s.stack.web();
    let broken = web.instance_ids[0].clone();
    for target_group in &web.target_groups {
        s.break_target(&target_group.target_group_arn, &broken);
    }
    let handler = s.handler_with(&config(&s, Mode::Enforce, |c| {
        c.policy.cooldown = std::time::Duration::ZERO
    }));
    let (first, second) = tokio::join!(
        handler.handle(alarm_for(&s, &web.target_groups[0])),
        handler.handle(alarm_for(&s, &web.target_groups[1]))
    );
    first.unwrap();
    second.unwrap();
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 1);
    let store = rebound::aws::incident_store(&s.stack.store_config(), &s.sdk);
    let budget = store.ledgers(&[account_scope()]).await.unwrap();
    assert_eq!(budget[&account_scope()].entries.len(), 1, "one budget unit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standby_and_scale_out_instances_do_not_block_healing_another_instance() {
    let s = scenario_with(Managed::Yes, 4, 1).await;
    s.emulator.set_replacement_mode("phased");
    let web = s.stack.web();
    let autoscaling = AutoScalingClient::new(&s.sdk);
    autoscaling
        .enter_standby()
        .auto_scaling_group_name(&web.auto_scaling_group)
        .instance_ids(&web.instance_ids[3])
        .should_decrement_desired_capacity(false)
        .send()
        .await
        .unwrap();
    autoscaling
        .set_desired_capacity()
        .auto_scaling_group_name(&web.auto_scaling_group)
        .desired_capacity(5)
        .send()
        .await
        .unwrap();
    let broken = s.break_instance(0);
    let report = s
        .target_health(Mode::Enforce)
        .handle(s.stack.alarm_event(0))
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Remediate, "{report:?}");
    assert_eq!(report.checks[0].actions[0].target.id, broken);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_whose_replacements_could_not_join_the_load_balancer_is_not_touched() {
    let s = scenario(Managed::Yes).await;
    AutoScalingClient::new(&s.sdk)
        .suspend_processes()
        .auto_scaling_group_name(&s.stack.web().auto_scaling_group)
        .scaling_processes("AddToLoadBalancer")
        .send()
        .await
        .unwrap();
    s.emulator.clear_requests();
    s.break_instance(0);
    let report = s
        .target_health(Mode::Enforce)
        .handle(s.stack.alarm_event(0))
        .await
        .unwrap();
    assert_eq!(report.checks[0].refusals[0].guard, "group-cannot-heal");
    assert!(s.mutating_fleet_calls().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_attached_through_a_traffic_source_is_swept_and_healed() {
    let s = scenario(Managed::Yes).await;
    let web = s.stack.web();
    let autoscaling = AutoScalingClient::new(&s.sdk);
    autoscaling
        .detach_load_balancer_target_groups()
        .auto_scaling_group_name(&web.auto_scaling_group)
        .target_group_arns(&web.target_group_arn)
        .send()
        .await
        .unwrap();
    autoscaling
        .attach_traffic_sources()
        .auto_scaling_group_name(&web.auto_scaling_group)
        .traffic_sources(
            TrafficSourceIdentifier::builder()
                .identifier(&web.target_group_arn)
                .r#type("elbv2")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let broken = s.break_instance(1);
    let report = s
        .target_health(Mode::Enforce)
        .handle(sweep())
        .await
        .unwrap();
    assert_eq!(report.checks.len(), 1, "{report:?}");
    assert_eq!(report.checks[0].actions[0].target.id, broken);
}

// ---- 5. Races and lost answers ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_conflict_is_a_lost_race_that_rereads_and_still_acts_once() {
    let s = scenario(Managed::Yes).await;
    s.break_instance(0);
    s.emulator.inject(json!({
        "operation": "TransactWriteItems",
        "error_code": "TransactionCanceledException",
        "cancellation_reasons": ["None", "TransactionConflict", "None", "None"],
        "count": 1
    }));
    let report = s
        .target_health(Mode::Enforce)
        .handle(s.stack.alarm_event(0))
        .await
        .unwrap();
    assert_eq!(report.checks[0].actions.len(), 1);
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 1);
    assert!(s.emulator.calls_of("TransactWriteItems") >= 2);
    assert_eq!(s.incident().await.actions.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_ahead_whose_answer_was_lost_is_recognised_and_acted_on_in_the_same_invocation() {
    for lost in [
        json!({"operation": "TransactWriteItems", "status": 500, "after_commit": true, "count": 1}),
        json!({"operation": "TransactWriteItems", "drop_connection": true, "count": 1}),
    ] {
        let s = scenario(Managed::Yes).await;
        let broken = s.break_instance(0);
        s.emulator.inject(lost.clone());
        let report = s
            .target_health(Mode::Enforce)
            .handle(s.stack.alarm_event(0))
            .await
            .unwrap_or_else(|e| panic!("{lost}: {e}"));
        assert_eq!(report.checks[0].actions.len(), 1, "{lost}");
        assert_eq!(
            report.checks[0].actions[0].outcome,
            ActionOutcome::Succeeded
        );
        assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 1, "{lost}");
        let incident = s.incident().await;
        assert_eq!(incident.actions.len(), 1, "{lost}");
        assert_eq!(incident.actions[0].target.id, broken);
        assert_eq!(incident.actions[0].outcome, ActionOutcome::Succeeded);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacement_whose_answer_was_lost_is_settled_by_what_the_group_says() {
    let s = scenario(Managed::Yes).await;
    s.break_instance(0);
    s.emulator.inject(json!({
        "operation": "SetInstanceHealth", "status": 503, "after_commit": true, "count": 1
    }));
    s.target_health(Mode::Enforce)
        .handle(s.stack.alarm_event(0))
        .await
        .unwrap();
    let action = &s.incident().await.actions[0];
    assert_eq!(action.outcome, ActionOutcome::Succeeded);
    assert!(
        action
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("already left its group"),
        "{action:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_past_the_budget_is_refused_before_the_write_ahead_and_announced_once() {
    let s = scenario(Managed::Yes).await;
    s.break_instance(0);
    s.handler_with(&config(&s, Mode::Enforce, |c| {
        c.policy.settings.action_budget_per_hour = 0
    }))
    .handle(s.stack.alarm_event(0))
    .await
    .unwrap();
    assert!(s.mutating_fleet_calls().is_empty());
    assert_eq!(s.incident().await.state, IncidentState::Escalated);
    assert_eq!(s.announced_states().await, ["escalated"]);
}

// ---- 6. A remediation that does not work stops ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacements_that_keep_failing_stop_and_escalate_with_the_launch_template() {
    let s = scenario(Managed::Yes).await;
    let handler = s.handler_with(&config(&s, Mode::Enforce, |c| {
        c.policy.cooldown = std::time::Duration::ZERO
    }));
    let web = s.stack.web();
    for _ in 0..4 {
        let members = s.group_instances().await;
        s.break_target(&web.target_group_arn, &members[0]);
        handler.handle(s.stack.alarm_event(0)).await.unwrap();
    }
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 3);
    let incident = s.incident().await;
    assert_eq!(incident.state, IncidentState::Escalated);
    let detail = &incident.timeline.last().unwrap().detail;
    assert!(
        detail.contains("replacements are not fixing this"),
        "{detail}"
    );
    assert!(
        detail.contains("lt-"),
        "names the launch template: {detail}"
    );
}

// ---- 7. The sweep under failure ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_target_group_closes_its_incident_once_with_a_notification() {
    let s = scenario_with(Managed::No, 4, 2).await;
    let web = s.stack.web();
    let doomed = &web.target_groups[1];
    s.break_target(&doomed.target_group_arn, &web.instance_ids[0]);
    let handler = s.target_health(Mode::Enforce);
    handler.handle(alarm_for(&s, doomed)).await.unwrap();
    assert_eq!(s.incident().await.state, IncidentState::Open);

    // The operator removes the listener rule, then the target group.
    let elb = ElbClient::new(&s.sdk);
    let rules = elb
        .describe_rules()
        .listener_arn(&doomed.listener_arn)
        .send()
        .await
        .unwrap();
    for rule in rules.rules() {
        let forwards_to_doomed = rule
            .actions()
            .iter()
            .any(|a| a.target_group_arn() == Some(doomed.target_group_arn.as_str()));
        if forwards_to_doomed && !rule.is_default().unwrap_or(false) {
            elb.delete_rule()
                .rule_arn(rule.rule_arn().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    elb.delete_target_group()
        .target_group_arn(&doomed.target_group_arn)
        .send()
        .await
        .unwrap();

    for _ in 0..2 {
        handler.handle(sweep()).await.unwrap();
    }
    let incident = s.incident().await;
    assert_eq!(incident.state, IncidentState::Resolved);
    assert_eq!(incident.time_to_recover_s, None);
    assert!(incident
        .timeline
        .last()
        .unwrap()
        .detail
        .contains("no longer exists"));
    assert_eq!(s.announced_states().await, ["open", "resolved"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_throttled_target_group_does_not_fail_the_sweep_of_the_others() {
    let s = scenario_with(Managed::Yes, 4, 2).await;
    let web = s.stack.web();
    for target_group in &web.target_groups {
        s.break_target(&target_group.target_group_arn, &web.instance_ids[0]);
    }
    // One check at a time: the first target group's three attempts are all throttled.
    s.emulator
        .inject_fault("DescribeTargetHealth", "Throttling", 400, 3);
    let report = s
        .handler_with(&config(&s, Mode::Enforce, |c| {
            c.policy.settings.sweep_concurrency = 1
        }))
        .handle(sweep())
        .await
        .unwrap();
    assert_eq!(report.failures.len(), 1, "{report:?}");
    assert!(report.failures[0].retryable);
    assert_eq!(report.checks.len(), 1);
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 1);
}

// ---- Recovery objectives (issue: incident lifecycle) ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_missing_its_rto_tag_objective_is_escalated_and_announced_once() {
    let s = scenario(Managed::Yes).await;
    s.emulator.set_replacement_mode("phased");
    AutoScalingClient::new(&s.sdk)
        .create_or_update_tags()
        .tags(
            aws_sdk_autoscaling::types::Tag::builder()
                .resource_id(&s.stack.web().auto_scaling_group)
                .resource_type("auto-scaling-group")
                .key("rebound:rto-seconds")
                .value("300")
                .propagate_at_launch(false)
                .build(),
        )
        .send()
        .await
        .unwrap();
    s.break_instance(0);
    s.target_health(Mode::Enforce)
        .handle(s.stack.alarm_event(0))
        .await
        .unwrap();
    assert_eq!(s.incident().await.rto_s, Some(300));
    for clock in [in_11_minutes as fn() -> DateTime<Utc>, in_16_minutes] {
        let mut later = s.target_health(Mode::Enforce);
        later.clock = clock;
        later.handle(sweep()).await.unwrap();
    }
    let incident = s.incident().await;
    assert_eq!(incident.state, IncidentState::Escalated);
    assert!(incident
        .timeline
        .iter()
        .any(|t| t.detail.contains("not recovered within 5 minutes")));
    assert_eq!(s.announced_states().await, ["remediating", "escalated"]);
}
