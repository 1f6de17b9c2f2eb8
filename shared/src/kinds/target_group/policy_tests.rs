//! Table of guards: each case is one behaviour, named as a sentence.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::observation::{GroupInstance, ScalingGroup, TargetHealth, TargetState};
use super::policy::{decide as alb_decide, settle_pending, Observation};
use super::*;
use crate::config::{Mode, Settings};
use crate::domain::{
    Action, ActionOutcome, Evidence, Incident, IncidentRecord, Ledger, LedgerEntry, Opening,
    PlannedAction, Refusal, RepeatLimit, Verdict,
};
use crate::ids::{AutoScalingGroupName, IncidentId, InstanceId};

const TAG: &str = "rebound:managed";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap()
}

fn minutes_ago(m: i64) -> DateTime<Utc> {
    now() - chrono::Duration::minutes(m)
}

fn id(n: u32) -> InstanceId {
    InstanceId::parse(format!("i-{n:04x}")).unwrap()
}

fn target(n: u32, state: TargetState, reason: Option<&str>) -> TargetHealth {
    TargetHealth {
        instance_id: id(n),
        port: Some(80),
        state,
        reason: reason.map(str::to_owned),
        description: None,
    }
}

fn healthy(n: u32) -> TargetHealth {
    target(n, TargetState::Healthy, None)
}

fn failing(n: u32) -> TargetHealth {
    target(n, TargetState::Unhealthy, Some("Target.FailedHealthChecks"))
}

fn member(n: u32) -> GroupInstance {
    GroupInstance {
        instance_id: id(n),
        lifecycle_state: "InService".into(),
        health_status: "Healthy".into(),
        availability_zone: None,
    }
}

fn group(instances: impl IntoIterator<Item = u32>) -> ScalingGroup {
    let instances: Vec<GroupInstance> = instances.into_iter().map(member).collect();
    ScalingGroup {
        name: AutoScalingGroupName::parse("web").unwrap(),
        tags: BTreeMap::from([(TAG.to_owned(), "true".to_owned())]),
        suspended_processes: vec![],
        desired_capacity: instances.len() as u32,
        instances,
        target_group_arns: vec![],
        instance_refresh_in_progress: false,
        health_check_grace_period_s: 0,
        launch_template: Some("lt-0abc version 7".into()),
        arn: None,
        max_size: 100,
        zonal_shift_enabled: false,
        health_check_type: "EC2".into(),
    }
}

fn web() -> ResourceRef {
    auto_scaling_group(&AutoScalingGroupName::parse("web").unwrap())
}

fn config() -> Policy {
    Policy {
        settings: Settings {
            mode: Mode::Enforce,
            ..Settings::default()
        },
        ..Policy::default()
    }
}

/// A target group's incident as stored, opened five minutes ago: tests shape its record.
fn incident() -> IncidentRecord {
    let opened = Incident::open(
        Opening {
            resource: ResourceRef::new(TARGET_GROUP, "tg"),
            trigger: "alarm:x".into(),
            evidence: Evidence::default(),
            summary: "1 of 4 targets unhealthy".into(),
            rto_s: None,
            drill: None,
        },
        minutes_ago(5),
    );
    IncidentRecord::clone(&opened)
}

fn action_on(n: u32, outcome: ActionOutcome, at: DateTime<Utc>) -> Action {
    Action {
        kind: SET_INSTANCE_HEALTH,
        target: instance(&id(n)),
        scope: web(),
        requested_at: at,
        outcome,
        dry_run: outcome == ActionOutcome::Simulated,
        detail: None,
        completed_at: None,
        writer: None,
        configuration: Some("lt-0abc version 7".into()),
    }
}

fn entry(n: u32, at: DateTime<Utc>) -> LedgerEntry {
    LedgerEntry {
        at,
        target: id(n).to_string(),
        incident: IncidentId::parse("inc-other").unwrap(),
        configuration: Some("lt-0abc version 7".into()),
    }
}

fn ledgers(entries: &[(ResourceRef, Vec<LedgerEntry>)]) -> BTreeMap<ResourceRef, Ledger> {
    entries
        .iter()
        .map(|(scope, entries)| {
            (
                scope.clone(),
                Ledger {
                    entries: entries.clone(),
                    version: 1,
                },
            )
        })
        .collect()
}

/// Decides with everything spelled out.
fn decide_full(
    targets: &[TargetHealth],
    groups: &[ScalingGroup],
    incident: Option<&IncidentRecord>,
    ledgers: &BTreeMap<ResourceRef, Ledger>,
    config: &Policy,
) -> Decision {
    decide_with_changes(
        targets,
        groups,
        incident,
        ledgers,
        config,
        &crate::change::InFlight::default(),
    )
}

/// Decides with everything spelled out, changes in flight included.
fn decide_with_changes(
    targets: &[TargetHealth],
    groups: &[ScalingGroup],
    incident: Option<&IncidentRecord>,
    ledgers: &BTreeMap<ResourceRef, Ledger>,
    config: &Policy,
    changes: &crate::change::InFlight,
) -> Decision {
    let incident = incident.map(|record| Incident::from_record(record.clone()));
    alb_decide(
        Observation {
            targets,
            groups,
            dependencies: &[],
            shifted: &[],
            changes,
            scheduled: &[],
        },
        History {
            incident: incident.as_ref(),
            ledgers,
        },
        config,
        now(),
    )
}

fn decide_on(targets: &[TargetHealth], groups: &[ScalingGroup]) -> Decision {
    decide_full(targets, groups, None, &BTreeMap::new(), &config())
}

fn decide_in(
    targets: &[TargetHealth],
    groups: &[ScalingGroup],
    incident: &IncidentRecord,
) -> Decision {
    decide_full(targets, groups, Some(incident), &BTreeMap::new(), &config())
}

fn only_refusal(decision: &Decision) -> &Refusal {
    assert!(decision.actions.is_empty(), "{decision:?}");
    assert_eq!(decision.refusals.len(), 1, "{decision:?}");
    &decision.refusals[0]
}

#[test]
fn one_instance_failing_health_checks_in_a_managed_group_is_replaced() {
    let targets = [failing(1), healthy(2), healthy(3), healthy(4)];
    let decision = decide_on(&targets, &[group(1..=4)]);
    assert_eq!(decision.verdict, Verdict::Remediate);
    assert_eq!(
        decision.actions,
        vec![PlannedAction {
            kind: SET_INSTANCE_HEALTH,
            target: instance(&id(1)),
            scope: web(),
            configuration: Some("lt-0abc version 7".into()),
            cooldown: Duration::from_secs(600),
            repeat_limit: Some(RepeatLimit {
                window: Duration::from_secs(3600),
                limit: 3,
            }),
        }]
    );
    assert_eq!(decision.summary, "1 of 4 targets unhealthy");
}

#[test]
fn every_health_check_reason_that_blames_the_instance_is_actionable() {
    for reason in [
        "Target.FailedHealthChecks",
        "Target.ResponseCodeMismatch",
        "Target.Timeout",
    ] {
        let targets = [
            target(1, TargetState::Unhealthy, Some(reason)),
            healthy(2),
            healthy(3),
        ];
        assert_eq!(
            decide_on(&targets, &[group(1..=3)]).verdict,
            Verdict::Remediate,
            "{reason}"
        );
    }
}

#[test]
fn unhealthy_for_a_reason_that_does_not_blame_the_instance_is_held() {
    for reason in [
        Some("Elb.InternalError"),
        Some("Target.HealthCheckDisabled"),
        None,
    ] {
        let targets = [
            target(1, TargetState::Unhealthy, reason),
            healthy(2),
            healthy(3),
        ];
        let decision = decide_on(&targets, &[group(1..=3)]);
        assert_eq!(decision.verdict, Verdict::Hold);
        assert_eq!(only_refusal(&decision).guard, "not-an-instance-failure");
    }
}

#[test]
fn targets_in_registration_states_are_never_replaced() {
    for state in [
        TargetState::Initial,
        TargetState::Draining,
        TargetState::Unused,
        TargetState::Unavailable,
    ] {
        let targets = [
            target(1, state.clone(), Some("Elb.RegistrationInProgress")),
            healthy(2),
        ];
        let decision = decide_on(&targets, &[group(1..=2)]);
        assert!(decision.actions.is_empty(), "{state:?}");
        assert_eq!(decision.verdict, Verdict::Healthy, "{state:?}");
    }
}

#[test]
fn all_targets_unhealthy_is_escalated_as_a_systemic_failure() {
    let targets = [failing(1), failing(2), failing(3), failing(4)];
    let decision = decide_on(&targets, &[group(1..=4)]);
    assert_eq!(decision.verdict, Verdict::Escalate);
    assert_eq!(only_refusal(&decision), &refusals::all_targets_unhealthy(4));
}

#[test]
fn an_unhealthy_share_above_the_limit_is_escalated_not_replaced() {
    let targets = [failing(1), failing(2), failing(3), healthy(4)];
    let decision = decide_on(&targets, &[group(1..=4)]);
    assert_eq!(decision.verdict, Verdict::Escalate);
    assert_eq!(
        only_refusal(&decision),
        &refusals::unhealthy_share_above_limit(3, 4, 50)
    );
}

#[test]
fn an_unhealthy_share_at_the_limit_is_still_handled() {
    let targets = [failing(1), failing(2), healthy(3), healthy(4)];
    let decision = decide_on(&targets, &[group(1..=4)]);
    // Half is at the 50% limit: act, but only one at a time (in-flight limit 1).
    assert_eq!(decision.verdict, Verdict::Remediate);
    assert_eq!(decision.actions.len(), 1);
    assert_eq!(decision.refusals[0].guard, "in-flight-limit");
}

#[test]
fn a_group_without_the_managed_tag_is_observed_only() {
    let mut unmanaged = group(1..=3);
    unmanaged.tags.clear();
    let decision = decide_on(&[failing(1), healthy(2), healthy(3)], &[unmanaged.clone()]);
    assert_eq!(decision.verdict, Verdict::Hold);
    assert_eq!(only_refusal(&decision).guard, "not-managed");

    unmanaged.tags.insert(TAG.into(), "false".into());
    let decision = decide_on(&[failing(1), healthy(2), healthy(3)], &[unmanaged]);
    assert_eq!(only_refusal(&decision).guard, "not-managed");
}

#[test]
fn the_managed_tag_key_is_configurable() {
    let mut custom = group(1..=3);
    custom.tags = BTreeMap::from([("team:heal".to_owned(), "true".to_owned())]);
    let config = Policy {
        settings: Settings {
            managed_tag_key: "team:heal".into(),
            ..config().settings
        },
        ..config()
    };
    let targets = [failing(1), healthy(2), healthy(3)];
    let decision = decide_full(&targets, &[custom], None, &BTreeMap::new(), &config);
    assert_eq!(decision.verdict, Verdict::Remediate);
}

#[test]
fn an_instance_outside_any_group_is_held() {
    let decision = decide_on(&[failing(9), healthy(2), healthy(3)], &[group(2..=3)]);
    assert_eq!(only_refusal(&decision).guard, "not-in-auto-scaling-group");
}

#[test]
fn a_group_with_a_healing_process_suspended_cannot_heal() {
    for process in [
        "Launch",
        "Terminate",
        "HealthCheck",
        "ReplaceUnhealthy",
        "AddToLoadBalancer",
    ] {
        let mut suspended = group(1..=3);
        suspended.suspended_processes = vec![process.into(), "AZRebalance".into()];
        let decision = decide_on(&[failing(1), healthy(2), healthy(3)], &[suspended]);
        let refusal = only_refusal(&decision);
        assert_eq!(refusal.guard, "group-cannot-heal", "{process}");
        assert!(refusal.to_string().contains(process), "{refusal}");
    }
}

#[test]
fn a_suspended_process_unrelated_to_healing_does_not_block() {
    let mut g = group(1..=3);
    g.suspended_processes = vec!["AZRebalance".into(), "ScheduledActions".into()];
    assert_eq!(
        decide_on(&[failing(1), healthy(2), healthy(3)], &[g]).verdict,
        Verdict::Remediate
    );
}

#[test]
fn a_running_instance_refresh_blocks_replacement() {
    let mut g = group(1..=3);
    g.instance_refresh_in_progress = true;
    let decision = decide_on(&[failing(1), healthy(2), healthy(3)], &[g]);
    assert_eq!(only_refusal(&decision).guard, "group-cannot-heal");
}

#[test]
fn an_instance_not_in_service_is_left_to_the_group() {
    for (lifecycle, health) in [
        ("Pending", "Healthy"),
        ("Terminating", "Healthy"),
        ("InService", "Unhealthy"),
        ("Standby", "Healthy"),
    ] {
        let mut g = group(1..=3);
        g.instances[0].lifecycle_state = lifecycle.into();
        g.instances[0].health_status = health.into();
        let decision = decide_on(&[failing(1), healthy(2), healthy(3)], &[g]);
        assert_eq!(
            only_refusal(&decision).guard,
            "not-in-service",
            "{lifecycle}/{health}"
        );
    }
}

#[test]
fn no_more_than_the_in_flight_limit_per_group() {
    // One instance of the group is on its way out.
    let mut g = group(1..=6);
    g.instances[5].lifecycle_state = "Terminating".into();
    let targets = [failing(1), failing(2), healthy(3), healthy(4), healthy(5)];
    let decision = decide_on(&targets, &[g.clone()]);
    assert!(decision.actions.is_empty());
    assert!(decision
        .refusals
        .iter()
        .all(|r| r.guard == "in-flight-limit"));

    let config = Policy {
        max_in_flight_per_group: 3,
        ..config()
    };
    let decision = decide_full(&targets, &[g], None, &BTreeMap::new(), &config);
    assert_eq!(decision.actions.len(), 2);
}

#[test]
fn standby_and_scale_out_pending_instances_are_not_replacements_in_flight() {
    let mut g = group(1..=6);
    g.instances[4].lifecycle_state = "Standby".into();
    g.instances[5].lifecycle_state = "Pending".into();
    let targets = [failing(1), healthy(2), healthy(3), healthy(4)];
    let decision = decide_on(&targets, &[g]);
    assert_eq!(decision.verdict, Verdict::Remediate, "{decision:?}");
}

#[test]
fn a_pending_instance_launched_for_a_recent_replacement_is_in_flight() {
    let mut g = group(1..=4);
    g.instances[3].lifecycle_state = "Pending".into();
    // i-0009 was replaced five minutes ago and has left the group: i-0004 is its
    // replacement, still launching.
    let ledgers = ledgers(&[(web(), vec![entry(9, minutes_ago(11))])]);
    let targets = [failing(1), healthy(2), healthy(3)];
    let decision = decide_full(&targets, &[g], None, &ledgers, &config());
    assert_eq!(only_refusal(&decision).guard, "in-flight-limit");
}

#[test]
fn the_cooldown_belongs_to_the_auto_scaling_group_whatever_target_group_acted() {
    let targets = [failing(1), healthy(2), healthy(3)];
    let groups = [group(1..=3)];
    let recent = ledgers(&[(web(), vec![entry(7, minutes_ago(1))])]);
    let decision = decide_full(&targets, &groups, None, &recent, &config());
    let refusal = only_refusal(&decision);
    assert_eq!(refusal.guard, "cooldown");
    assert!(refusal.to_string().contains("web"), "{refusal}");

    let old = ledgers(&[(web(), vec![entry(7, minutes_ago(11))])]);
    assert_eq!(
        decide_full(&targets, &groups, None, &old, &config()).verdict,
        Verdict::Remediate
    );
}

#[test]
fn an_instance_another_target_groups_incident_is_replacing_is_not_replaced_again() {
    let targets = [failing(1), healthy(2), healthy(3)];
    let groups = [group(1..=3)];
    let config = Policy {
        cooldown: Duration::ZERO,
        ..config()
    };
    let acted = ledgers(&[(web(), vec![entry(1, minutes_ago(1))])]);
    let decision = decide_full(&targets, &groups, None, &acted, &config);
    assert_eq!(only_refusal(&decision).guard, "already-replacing");
}

#[test]
fn an_instance_already_acted_on_in_this_incident_is_not_acted_on_again() {
    let targets = [failing(1), healthy(2), healthy(3)];
    let groups = [group(1..=3)];
    for outcome in [ActionOutcome::Pending, ActionOutcome::Succeeded] {
        let mut inc = incident();
        inc.actions.push(action_on(1, outcome, minutes_ago(2)));
        let decision = decide_in(&targets, &groups, &inc);
        assert_eq!(
            only_refusal(&decision).guard,
            "already-replacing",
            "{outcome:?}"
        );
    }
}

#[test]
fn a_simulated_action_holds_in_dry_run_and_is_taken_for_real_in_enforce() {
    let targets = [failing(1), healthy(2), healthy(3)];
    let groups = [group(1..=3)];
    let mut inc = incident();
    inc.actions
        .push(action_on(1, ActionOutcome::Simulated, minutes_ago(20)));
    let dry = Policy {
        settings: Settings {
            mode: Mode::DryRun,
            ..config().settings
        },
        ..config()
    };
    let decision = decide_full(&targets, &groups, Some(&inc), &BTreeMap::new(), &dry);
    assert_eq!(only_refusal(&decision).guard, "already-replacing");

    let decision = decide_in(&targets, &groups, &inc);
    assert_eq!(decision.verdict, Verdict::Remediate, "{decision:?}");
}

#[test]
fn a_simulated_action_starts_no_cooldown() {
    let mut inc = incident();
    inc.actions
        .push(action_on(1, ActionOutcome::Simulated, minutes_ago(1)));
    assert_eq!(inc.last_action_at(), None);
}

#[test]
fn a_failed_action_may_be_tried_again_after_the_cooldown() {
    let targets = [failing(1), healthy(2), healthy(3)];
    let groups = [group(1..=3)];
    let mut inc = incident();
    inc.actions
        .push(action_on(1, ActionOutcome::Failed, minutes_ago(120)));
    assert_eq!(
        decide_in(&targets, &groups, &inc).verdict,
        Verdict::Remediate
    );
}

#[test]
fn an_accepted_request_that_had_no_effect_past_the_grace_period_is_retried_once_then_escalated() {
    let targets = [failing(1), healthy(2), healthy(3)];
    let mut g = group(1..=3);
    g.health_check_grace_period_s = 900;
    let groups = [g];
    // Inside the grace period the request may still take effect: wait.
    let mut inc = incident();
    inc.actions
        .push(action_on(1, ActionOutcome::Succeeded, minutes_ago(12)));
    assert_eq!(
        only_refusal(&decide_in(&targets, &groups, &inc)).guard,
        "already-replacing"
    );
    // Past it, the instance still in service and failing: try once more.
    inc.actions[0].requested_at = minutes_ago(16);
    assert_eq!(
        decide_in(&targets, &groups, &inc).verdict,
        Verdict::Remediate
    );
    // Two requests without effect: a person is needed.
    inc.actions
        .push(action_on(1, ActionOutcome::Succeeded, minutes_ago(15)));
    let decision = decide_in(&targets, &groups, &inc);
    assert_eq!(decision.verdict, Verdict::Escalate);
    let refusal = decision
        .refusals
        .iter()
        .find(|r| r.guard == "action-had-no-effect")
        .unwrap();
    assert!(
        refusal.to_string().contains("grace period 900 s"),
        "{refusal}"
    );
}

#[test]
fn replacements_that_keep_failing_on_one_launch_template_stop_and_escalate() {
    let targets = [failing(1), healthy(2), healthy(3)];
    let groups = [group(1..=3)];
    let loop_of_three = ledgers(&[(
        web(),
        vec![
            entry(7, minutes_ago(40)),
            entry(8, minutes_ago(25)),
            entry(9, minutes_ago(11)),
        ],
    )]);
    let decision = decide_full(&targets, &groups, None, &loop_of_three, &config());
    assert_eq!(decision.verdict, Verdict::Escalate);
    let text = only_refusal(&decision).to_string();
    assert!(text.contains("replacements are not fixing this"), "{text}");
    assert!(text.contains("lt-0abc version 7"), "{text}");
    assert!(text.contains("3 replacements in 40 minutes"), "{text}");

    // A new launch template version is a new chance.
    let mut fixed = group(1..=3);
    fixed.launch_template = Some("lt-0abc version 8".into());
    let decision = decide_full(&targets, &[fixed], None, &loop_of_three, &config());
    assert_eq!(decision.verdict, Verdict::Remediate);
}

#[test]
fn the_budget_is_a_rolling_hour_counted_before_the_write_ahead() {
    let targets = [failing(1), healthy(2), healthy(3)];
    let groups = [group(1..=3)];
    let config = Policy {
        settings: Settings {
            action_budget_per_hour: 2,
            ..config().settings
        },
        ..config()
    };
    let spent = |ages: &[i64]| {
        ledgers(&[(
            crate::domain::account_scope(),
            ages.iter().map(|m| entry(50, minutes_ago(*m))).collect(),
        )])
    };
    let decision = decide_full(&targets, &groups, None, &spent(&[59, 30]), &config);
    assert_eq!(decision.verdict, Verdict::Escalate);
    assert_eq!(only_refusal(&decision).guard, "budget-exhausted");
    // One of them left the window: the budget has room again, across any clock hour.
    let decision = decide_full(&targets, &groups, None, &spent(&[61, 30]), &config);
    assert_eq!(decision.verdict, Verdict::Remediate);
}

#[test]
fn actions_picked_in_one_decision_count_against_the_budget() {
    let targets = [failing(1), failing(2), healthy(3), healthy(4), healthy(5)];
    let config = Policy {
        settings: Settings {
            action_budget_per_hour: 1,
            ..config().settings
        },
        max_in_flight_per_group: 5,
        ..config()
    };
    let decision = decide_full(&targets, &[group(1..=5)], None, &BTreeMap::new(), &config);
    assert_eq!(decision.actions.len(), 1);
    assert_eq!(decision.refusals[0].guard, "budget-exhausted");
}

#[test]
fn an_open_incident_whose_targets_are_all_healthy_is_resolved() {
    let inc = incident();
    let decision = decide_in(&[healthy(1), healthy(2)], &[], &inc);
    assert_eq!(decision.verdict, Verdict::Resolve);
}

#[test]
fn recovery_waits_for_replacements_to_pass_their_first_health_checks() {
    let inc = incident();
    let targets = [
        healthy(1),
        target(5, TargetState::Initial, Some("Elb.RegistrationInProgress")),
    ];
    let decision = decide_in(&targets, &[], &inc);
    assert_eq!(decision.verdict, Verdict::Recovering);
    assert!(decision.waiting_for.unwrap().contains("initial"));
}

#[test]
fn a_replaced_instance_still_draining_is_not_recovery() {
    let mut inc = incident();
    inc.actions
        .push(action_on(1, ActionOutcome::Succeeded, minutes_ago(1)));
    let targets = [
        target(
            1,
            TargetState::Draining,
            Some("Target.DeregistrationInProgress"),
        ),
        healthy(2),
        healthy(5),
    ];
    let decision = decide_in(&targets, &[group(2..=5)], &inc);
    assert_eq!(decision.verdict, Verdict::Recovering);
    assert!(decision.waiting_for.unwrap().contains("i-0001"));
}

#[test]
fn recovery_waits_until_the_group_is_back_at_desired_capacity() {
    let mut inc = incident();
    inc.actions
        .push(action_on(1, ActionOutcome::Succeeded, minutes_ago(1)));
    let mut g = group(2..=5);
    g.instances[3].lifecycle_state = "Pending".into();
    let targets = [healthy(2), healthy(3), healthy(4)];
    let decision = decide_in(&targets, &[g], &inc);
    assert_eq!(decision.verdict, Verdict::Recovering);
    assert!(decision
        .waiting_for
        .unwrap()
        .contains("3 of 4 instances in service"));
}

#[test]
fn an_empty_target_group_is_recovering_until_the_recovery_timeout_then_escalates() {
    let mut inc = incident();
    inc.actions
        .push(action_on(1, ActionOutcome::Succeeded, minutes_ago(14)));
    assert_eq!(decide_in(&[], &[], &inc).verdict, Verdict::Recovering);
    inc.actions[0].requested_at = minutes_ago(16);
    let decision = decide_in(&[], &[], &inc);
    assert_eq!(decision.verdict, Verdict::Escalate);
    assert_eq!(only_refusal(&decision).guard, "not-recovered");
}

#[test]
fn an_incident_held_while_its_replacement_never_recovers_escalates_after_the_timeout() {
    let mut inc = incident();
    inc.actions
        .push(action_on(1, ActionOutcome::Succeeded, minutes_ago(20)));
    // i-0001 left service; the failure moved to nothing actionable.
    let mut g = group(1..=3);
    g.instances[0].lifecycle_state = "Terminating".into();
    let targets = [failing(1), healthy(2), healthy(3)];
    let decision = decide_in(&targets, &[g], &inc);
    assert_eq!(decision.verdict, Verdict::Escalate, "{decision:?}");
    assert!(decision.refusals.iter().any(|r| r.guard == "not-recovered"));
}

#[test]
fn all_healthy_without_an_incident_is_healthy() {
    assert_eq!(
        decide_on(&[healthy(1), healthy(2)], &[]).verdict,
        Verdict::Healthy
    );
    assert_eq!(decide_on(&[], &[]).verdict, Verdict::Healthy);
}

#[test]
fn the_mode_does_not_change_a_first_decision_only_the_execution() {
    let targets = [failing(1), healthy(2), healthy(3)];
    let groups = [group(1..=3)];
    let dry = Policy {
        settings: Settings {
            mode: Mode::DryRun,
            ..config().settings
        },
        ..config()
    };
    assert_eq!(
        decide_full(&targets, &groups, None, &BTreeMap::new(), &dry),
        decide_on(&targets, &groups)
    );
}

fn pending(at: DateTime<Utc>) -> Action {
    action_on(1, ActionOutcome::Pending, at)
}

#[test]
fn a_pending_action_is_left_alone_until_it_is_overdue() {
    let targets = [failing(1), healthy(2)];
    let groups = [group(1..=2)];
    let observation = Observation {
        targets: &targets,
        groups: &groups,
        dependencies: &[],
        shifted: &[],
        changes: &crate::change::InFlight::default(),
        scheduled: &[],
    };
    assert_eq!(
        settle_pending(&pending(minutes_ago(1)), observation, &config(), now()),
        None
    );
}

#[test]
fn an_overdue_pending_action_whose_instance_left_service_is_settled_as_succeeded() {
    let targets = [healthy(2), healthy(5)];
    let observation = Observation {
        targets: &targets,
        groups: &[],
        dependencies: &[],
        shifted: &[],
        changes: &crate::change::InFlight::default(),
        scheduled: &[],
    };
    let (outcome, _) =
        settle_pending(&pending(minutes_ago(60)), observation, &config(), now()).unwrap();
    assert_eq!(outcome, ActionOutcome::Succeeded);

    let mut g = group(1..=2);
    g.instances[0].health_status = "Unhealthy".into();
    let targets = [failing(1), healthy(2)];
    let groups = [g];
    let observation = Observation {
        targets: &targets,
        groups: &groups,
        dependencies: &[],
        shifted: &[],
        changes: &crate::change::InFlight::default(),
        scheduled: &[],
    };
    let (outcome, _) =
        settle_pending(&pending(minutes_ago(60)), observation, &config(), now()).unwrap();
    assert_eq!(outcome, ActionOutcome::Succeeded);
}

#[test]
fn an_overdue_pending_action_that_never_took_effect_is_settled_as_failed() {
    let targets = [failing(1), healthy(2)];
    let groups = [group(1..=2)];
    let observation = Observation {
        targets: &targets,
        groups: &groups,
        dependencies: &[],
        shifted: &[],
        changes: &crate::change::InFlight::default(),
        scheduled: &[],
    };
    let (outcome, detail) =
        settle_pending(&pending(minutes_ago(60)), observation, &config(), now()).unwrap();
    assert_eq!(outcome, ActionOutcome::Failed);
    assert!(detail.contains("never took effect"));
}

#[test]
fn what_needs_a_person_escalates_and_what_waits_does_not() {
    assert!(refusals::all_targets_unhealthy(1).escalates());
    assert!(crate::policy::budget_exhausted(10).escalates());
    assert!(crate::policy::not_recovered(15, "x").escalates());
    assert!(!crate::policy::cooldown("web", now()).escalates());
    assert!(!refusals::not_managed("g", TAG).escalates());
    assert!(refusals::dependency_held("g", "db", "inc", "heals").suppresses());
    assert!(refusals::already_replacing("i-1").is_echo());
}

#[test]
fn an_incident_past_its_recovery_time_objective_escalates_even_right_after_an_action() {
    let mut inc = incident();
    inc.rto_s = Some(240);
    inc.actions
        .push(action_on(1, ActionOutcome::Succeeded, minutes_ago(1)));
    let targets = [
        healthy(2),
        target(5, TargetState::Initial, Some("Elb.RegistrationInProgress")),
    ];
    let decision = decide_in(&targets, &[], &inc);
    assert_eq!(decision.verdict, Verdict::Escalate);
    let text = only_refusal(&decision).to_string();
    assert!(text.contains("not recovered within 4 minutes"), "{text}");

    inc.rto_s = Some(900);
    assert_eq!(decide_in(&targets, &[], &inc).verdict, Verdict::Recovering);
}

// ---- dependency holds: a group whose database heals is held ---------------------------

fn web_group(depends_on: Option<&str>) -> ScalingGroup {
    let mut g = group([]);
    if let Some(db) = depends_on {
        g.tags.insert("rebound:depends-on".into(), db.into());
    }
    g
}

fn orders_db() -> crate::ids::DbInstanceId {
    crate::ids::DbInstanceId::parse("orders-db").unwrap()
}

#[test]
fn a_group_whose_database_has_an_open_incident_is_held_with_that_incident() {
    let deps = [(
        orders_db(),
        DependencyState {
            open_incident: Some(IncidentId::parse("inc-db-1").unwrap()),
            ..Default::default()
        },
    )];
    let hold =
        policy::dependency_hold(&web_group(Some("orders-db")), &deps, &config(), now()).unwrap();
    assert_eq!(hold.guard, "dependency-held");
    assert!(hold.suppresses());
    assert!(hold.to_string().contains("inc-db-1"), "{hold}");
}

#[test]
fn a_group_stays_held_for_the_settle_time_after_its_database_recovered() {
    let state = |minutes: i64| {
        [(
            orders_db(),
            DependencyState {
                last_incident: Some(IncidentId::parse("inc-db-1").unwrap()),
                last_recovered_at: Some(minutes_ago(minutes)),
                ..Default::default()
            },
        )]
    };
    let group = web_group(Some("orders-db"));
    assert!(policy::dependency_hold(&group, &state(4), &config(), now()).is_some());
    assert!(policy::dependency_hold(&group, &state(6), &config(), now()).is_none());
}

#[test]
fn a_group_without_a_dependency_or_with_a_healthy_one_is_not_held() {
    let deps = [(orders_db(), DependencyState::default())];
    let hold = |group: &ScalingGroup| policy::dependency_hold(group, &deps, &config(), now());
    assert!(hold(&web_group(None)).is_none());
    assert!(hold(&web_group(Some("orders-db"))).is_none());
    assert!(hold(&web_group(Some("bad--id"))).is_none());
}

#[test]
fn held_refusals_suppress_rather_than_hold_or_escalate() {
    let held = refusals::dependency_held("web", "orders-db", "inc-db-1", "has an open incident");
    let decision = Decision::from_guards(vec![], vec![held.clone()], "1 of 4".into());
    assert_eq!(decision.verdict, Verdict::Suppress);
    let with_escalation = Decision::from_guards(
        vec![],
        vec![held, crate::policy::budget_exhausted(1)],
        "1 of 4".into(),
    );
    assert_eq!(with_escalation.verdict, Verdict::Escalate);
}

#[test]
fn an_accepted_replacement_that_changed_nothing_resolves_once_the_instance_serves_again() {
    // SetInstanceHealth inside the grace period: accepted, ignored; the instance then
    // recovered by itself and is still in service, healthy.
    let mut record = incident();
    record
        .actions
        .push(action_on(1, ActionOutcome::Succeeded, minutes_ago(6)));
    let all_healthy = [healthy(1), healthy(2), healthy(3), healthy(4)];
    let decision = decide_full(
        &all_healthy,
        &[group(1..=4)],
        Some(&record),
        &BTreeMap::new(),
        &config(),
    );
    assert_eq!(decision.verdict, Verdict::Resolve, "{decision:?}");
    assert!(decision.summary.ends_with("recovered without replacement"));
    // Before the request's deadline it may still take effect: wait.
    let mut recent = incident();
    recent
        .actions
        .push(action_on(1, ActionOutcome::Succeeded, minutes_ago(1)));
    let decision = decide_full(
        &all_healthy,
        &[group(1..=4)],
        Some(&recent),
        &BTreeMap::new(),
        &config(),
    );
    assert_eq!(decision.verdict, Verdict::Recovering);
}

fn tagged(mut group: ScalingGroup, tags: &[(&str, &str)]) -> ScalingGroup {
    for (key, value) in tags {
        group.tags.insert((*key).to_owned(), (*value).to_owned());
    }
    group
}

#[test]
fn a_paused_group_is_observed_and_suppressed_with_the_pause_and_nothing_is_called() {
    let paused = tagged(
        group(1..=4),
        &[
            (crate::pause::PAUSED_UNTIL_TAG, "2026-11-26T11:00:00Z"),
            (
                crate::pause::PAUSED_BY_TAG,
                "arn:aws:iam::123456789012:user/ana",
            ),
            (crate::pause::PAUSE_REASON_TAG, "deploying v42"),
        ],
    );
    // Even every target failing (a deploy): the person's "not now" stands.
    for targets in [
        vec![failing(1), healthy(2), healthy(3), healthy(4)],
        vec![failing(1), failing(2), failing(3), failing(4)],
    ] {
        let decision = decide_on(&targets, std::slice::from_ref(&paused));
        assert_eq!(decision.verdict, Verdict::Suppress, "{decision:?}");
        assert!(decision.actions.is_empty() && decision.upkeep.is_empty());
        assert!(decision.refusals.iter().all(|r| r.is("paused")));
        let text = decision.refusals[0].to_string();
        assert!(text.contains("group web is paused until 2026-11-26 11:00 UTC by arn:aws:iam::123456789012:user/ana: deploying v42"), "{text}");
    }
}

#[test]
fn a_paused_group_with_elb_health_checks_keeps_its_processes_as_they_are() {
    let mut paused = tagged(
        group(1..=4),
        &[(crate::pause::PAUSED_UNTIL_TAG, "2026-11-26T11:00:00Z")],
    );
    paused.health_check_type = "ELB".into();
    paused.suspended_processes = vec!["ReplaceUnhealthy".into()];
    paused
        .tags
        .insert(SUSPENDED_BY_TAG_KEY.into(), "inc-1".into());
    let decision = decide_on(&[healthy(1), healthy(2)], &[paused]);
    assert!(
        decision.upkeep.is_empty(),
        "no resume while paused: {decision:?}"
    );
}

#[test]
fn an_expired_pause_holds_nothing_and_the_instance_is_replaced() {
    let expired = tagged(
        group(1..=4),
        &[(crate::pause::PAUSED_UNTIL_TAG, "2026-11-26T09:59:59Z")],
    );
    let decision = decide_on(
        &[failing(1), healthy(2), healthy(3), healthy(4)],
        &[expired],
    );
    assert_eq!(decision.verdict, Verdict::Remediate, "{decision:?}");
}

#[test]
fn a_group_in_its_maintenance_window_is_held_and_acted_on_after_it() {
    // now() is Thursday 2026-11-26 10:00 UTC.
    let targets = [failing(1), healthy(2), healthy(3), healthy(4)];
    let inside = tagged(
        group(1..=4),
        &[(crate::pause::MAINTENANCE_WINDOW_TAG, "thu:09:30-thu:10:30")],
    );
    let decision = decide_on(&targets, &[inside]);
    assert_eq!(decision.verdict, Verdict::Hold, "{decision:?}");
    assert!(only_refusal(&decision).is("maintenance-window"));
    let outside = tagged(
        group(1..=4),
        &[(crate::pause::MAINTENANCE_WINDOW_TAG, "sun:02:00-sun:04:00")],
    );
    assert_eq!(decide_on(&targets, &[outside]).verdict, Verdict::Remediate);
}

#[test]
fn a_pause_on_an_unmanaged_group_changes_nothing_it_is_observed_only_anyway() {
    let mut unmanaged = tagged(
        group(1..=4),
        &[(crate::pause::PAUSED_UNTIL_TAG, "2026-11-26T11:00:00Z")],
    );
    unmanaged.tags.remove(TAG);
    let decision = decide_on(
        &[failing(1), healthy(2), healthy(3), healthy(4)],
        &[unmanaged],
    );
    assert!(only_refusal(&decision).is("not-managed"));
}

// ---- Changes in flight (invariant 16) ----

use crate::change::{Deployment, InFlight, Stack, STACK_NAME_TAG};

fn stack(name: &str, status: &str) -> Stack {
    Stack {
        name: name.into(),
        status: status.into(),
    }
}

fn deployment_on(group: &str, status: &str) -> Deployment {
    Deployment {
        id: "d-ABC123XYZ".into(),
        application: "web-app".into(),
        deployment_group: "web-dg".into(),
        status: status.into(),
        auto_scaling_groups: vec![group.into()],
    }
}

/// The changes read for `groups`, as target-health matches them.
fn in_flight(
    groups: &[ScalingGroup],
    stacks: Vec<Stack>,
    deployments: Vec<Deployment>,
) -> InFlight {
    InFlight::matched(
        groups.iter().map(|g| (&g.name, &g.tags)),
        Ok(stacks),
        Ok(deployments),
    )
}

fn decide_changing(
    targets: &[TargetHealth],
    groups: &[ScalingGroup],
    incident: Option<&IncidentRecord>,
    changes: &InFlight,
) -> Decision {
    decide_with_changes(
        targets,
        groups,
        incident,
        &BTreeMap::new(),
        &config(),
        changes,
    )
}

/// Instance 1 of the four fails, nothing else known against it.
fn one_of_four_failing(groups: &[ScalingGroup], changes: &InFlight) -> Decision {
    decide_changing(
        &[failing(1), healthy(2), healthy(3), healthy(4)],
        groups,
        None,
        changes,
    )
}

fn in_stack(name: &str) -> ScalingGroup {
    tagged(group(1..=4), &[(STACK_NAME_TAG, name)])
}

#[test]
fn a_group_whose_stack_is_updating_is_held_naming_the_stack_and_nothing_is_called() {
    let mut updating = in_stack("prod-web");
    // Its ELB health check replacement, suspended by an earlier hold, stays as it is.
    updating.health_check_type = "ELB".into();
    updating.suspended_processes = vec!["ReplaceUnhealthy".into()];
    updating
        .tags
        .insert(SUSPENDED_BY_TAG_KEY.into(), "inc-1".into());
    let groups = [updating];
    for status in [
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
    ] {
        let changes = in_flight(&groups, vec![stack("prod-web", status)], vec![]);
        // Even every target failing (a bad update): the change explains it.
        for targets in [
            vec![failing(1), healthy(2), healthy(3), healthy(4)],
            vec![failing(1), failing(2), failing(3), failing(4)],
        ] {
            let decision = decide_changing(&targets, &groups, None, &changes);
            assert_eq!(decision.verdict, Verdict::Hold, "{decision:?}");
            assert!(decision.actions.is_empty() && decision.upkeep.is_empty());
            assert!(decision.refusals.iter().all(|r| r.is("change-in-flight")));
            assert!(
                decision.refusals[0].detail.starts_with(&format!(
                    "group web: CloudFormation stack prod-web is {status}"
                )),
                "{decision:?}"
            );
        }
    }
}

#[test]
fn a_group_whose_stack_is_complete_holds_nothing_and_is_replaced() {
    let groups = [in_stack("prod-web")];
    for status in [
        "UPDATE_COMPLETE",
        "CREATE_COMPLETE",
        "UPDATE_ROLLBACK_COMPLETE",
    ] {
        let changes = in_flight(&groups, vec![stack("prod-web", status)], vec![]);
        let decision = one_of_four_failing(&groups, &changes);
        assert_eq!(
            decision.verdict,
            Verdict::Remediate,
            "{status}: {decision:?}"
        );
    }
}

#[test]
fn another_stack_updating_holds_nothing() {
    let groups = [in_stack("prod-web")];
    let changes = in_flight(
        &groups,
        vec![stack("prod-api", "UPDATE_IN_PROGRESS")],
        vec![],
    );
    let decision = one_of_four_failing(&groups, &changes);
    assert_eq!(decision.verdict, Verdict::Remediate, "{decision:?}");
}

#[test]
fn a_deployment_in_progress_on_the_group_holds_it_naming_the_deployment() {
    let groups = [group(1..=4)];
    for status in crate::change::DEPLOYMENT_IN_PROGRESS {
        let changes = in_flight(&groups, vec![], vec![deployment_on("web", status)]);
        let decision = one_of_four_failing(&groups, &changes);
        assert_eq!(decision.verdict, Verdict::Hold, "{decision:?}");
        let refusal = only_refusal(&decision);
        assert!(refusal.is("change-in-flight"));
        assert!(
            refusal.detail.starts_with(&format!(
                "group web: CodeDeploy deployment d-ABC123XYZ (web-app/web-dg) is {status}"
            )),
            "{refusal}"
        );
    }
}

#[test]
fn a_deployment_on_another_group_or_one_that_ended_holds_nothing() {
    let groups = [group(1..=4)];
    for deployment in [
        deployment_on("api", "InProgress"),
        deployment_on("web", "Succeeded"),
        deployment_on("web", "Failed"),
        deployment_on("web", "Stopped"),
    ] {
        let changes = in_flight(&groups, vec![], vec![deployment.clone()]);
        let decision = one_of_four_failing(&groups, &changes);
        assert_eq!(decision.verdict, Verdict::Remediate, "{deployment:?}");
    }
}

#[test]
fn the_hold_lifts_when_the_change_ends() {
    let groups = [in_stack("prod-web")];
    let targets = [failing(1), healthy(2), healthy(3), healthy(4)];
    let updating = in_flight(
        &groups,
        vec![stack("prod-web", "UPDATE_IN_PROGRESS")],
        vec![],
    );
    let held = decide_changing(&targets, &groups, None, &updating);
    assert_eq!(held.verdict, Verdict::Hold);
    // The incident it opened, looked at again by the sweep once the update completed.
    let open = incident();
    let done = in_flight(&groups, vec![stack("prod-web", "UPDATE_COMPLETE")], vec![]);
    let decision = decide_changing(&targets, &groups, Some(&open), &done);
    assert_eq!(decision.verdict, Verdict::Remediate, "{decision:?}");
    assert_eq!(decision.actions[0].target, instance(&id(1)));
}

#[test]
fn changes_that_could_not_be_read_hold_nothing_and_the_summary_says_so() {
    let groups = [in_stack("prod-web")];
    let unread = InFlight::matched(
        groups.iter().map(|g| (&g.name, &g.tags)),
        Err(crate::error::Error::aws(
            "DescribeStacks",
            false,
            Some("AccessDenied"),
            Some("not authorized to perform cloudformation:DescribeStacks"),
            std::io::Error::other("denied"),
        )),
        Ok(vec![]),
    );
    let decision = one_of_four_failing(&groups, &unread);
    assert_eq!(decision.verdict, Verdict::Remediate, "{decision:?}");
    assert!(
        decision
            .summary
            .contains("changes in flight unknown (DescribeStacks failed: AccessDenied"),
        "{}",
        decision.summary
    );
}

#[test]
fn a_change_on_an_unmanaged_group_changes_nothing_it_is_observed_only_anyway() {
    let mut unmanaged = in_stack("prod-web");
    unmanaged.tags.remove(TAG);
    let groups = [unmanaged];
    let changes = in_flight(
        &groups,
        vec![stack("prod-web", "UPDATE_IN_PROGRESS")],
        vec![],
    );
    let decision = one_of_four_failing(&groups, &changes);
    assert!(only_refusal(&decision).is("not-managed"));
}

// ---- approvals: auto, approve, never ------------------------------------------------

fn approving(modes: &[(ActionKind, crate::config::ApprovalMode)]) -> Policy {
    let mut policy = config();
    policy.settings.approvals.modes = modes.iter().cloned().collect();
    policy
}

fn one_failing() -> [TargetHealth; 4] {
    [failing(1), healthy(2), healthy(3), healthy(4)]
}

/// The incident as a check left it awaiting approval of replacing instance 1, then as
/// `decided` changed it.
fn awaiting(decided: impl FnOnce(&mut Incident)) -> IncidentRecord {
    let policy = approving(&[(SET_INSTANCE_HEALTH, crate::config::ApprovalMode::Approve)]);
    let asked = decide_full(
        &one_failing(),
        &[group(1..=4)],
        None,
        &BTreeMap::new(),
        &policy,
    );
    let mut incident = Incident::from_record(incident());
    incident
        .apply(
            minutes_ago(4),
            crate::domain::Change::Decided {
                decision: &asked,
                intent: "replace i-0001 in web",
                upkeep: "",
                writer: "w1",
                dry_run: false,
            },
        )
        .unwrap();
    decided(&mut incident);
    IncidentRecord::clone(&incident)
}

fn decide_approving(record: &IncidentRecord, modes: crate::config::ApprovalMode) -> Decision {
    decide_full(
        &one_failing(),
        &[group(1..=4)],
        Some(record),
        &BTreeMap::new(),
        &approving(&[(SET_INSTANCE_HEALTH, modes)]),
    )
}

#[test]
fn a_replacement_in_approve_mode_awaits_a_person_with_the_action_planned() {
    use crate::config::ApprovalMode::Approve;
    let decision = decide_full(
        &one_failing(),
        &[group(1..=4)],
        None,
        &BTreeMap::new(),
        &approving(&[(SET_INSTANCE_HEALTH, Approve)]),
    );
    assert_eq!(decision.verdict, Verdict::AwaitApproval, "{decision:?}");
    assert_eq!(decision.actions.len(), 1);
    assert_eq!(decision.actions[0].target, instance(&id(1)));
    assert_eq!(
        decision.approval_expires_at,
        Some(now() + chrono::Duration::minutes(30))
    );
    let refusal = &decision.refusals[0];
    assert!(refusal.is("approval-required"), "{refusal:?}");
    assert!(
        refusal.detail.contains("set-instance-health i-0001 in web")
            && refusal.detail.contains("APPROVAL_MODES"),
        "{refusal}"
    );
    // Recorded on the incident, which now awaits it.
    let record = awaiting(|_| {});
    assert_eq!(record.state, crate::domain::IncidentState::AwaitingApproval);
    let approval = record.approval.as_ref().unwrap();
    assert_eq!(approval.actions[0].target, instance(&id(1)));
    assert_eq!(approval.expires_at, now() + chrono::Duration::minutes(30));
}

#[test]
fn a_replacement_in_never_mode_is_refused_and_escalated() {
    use crate::config::ApprovalMode::Never;
    let decision = decide_full(
        &one_failing(),
        &[group(1..=4)],
        None,
        &BTreeMap::new(),
        &approving(&[(SET_INSTANCE_HEALTH, Never)]),
    );
    assert_eq!(decision.verdict, Verdict::Escalate, "{decision:?}");
    let refusal = only_refusal(&decision);
    assert!(refusal.is("approval-never"));
    assert!(
        refusal.detail.contains("never done by Rebound"),
        "{refusal}"
    );
}

#[test]
fn the_groups_approval_tag_overrides_the_functions_mode() {
    use crate::config::ApprovalMode::{Approve, Never};
    let tagged_approve = tagged(group(1..=4), &[(crate::approval::APPROVAL_TAG, "approve")]);
    let decision = decide_on(&one_failing(), &[tagged_approve]);
    assert_eq!(decision.verdict, Verdict::AwaitApproval, "{decision:?}");
    assert!(decision.refusals[0]
        .detail
        .contains("the tag rebound:approval on auto-scaling-group web"));
    // A kind's own entry wins over the bare mode, and over APPROVAL_MODES.
    let tagged_auto = tagged(
        group(1..=4),
        &[(
            crate::approval::APPROVAL_TAG,
            "never set-instance-health=auto",
        )],
    );
    let decision = decide_full(
        &one_failing(),
        &[tagged_auto],
        None,
        &BTreeMap::new(),
        &approving(&[(SET_INSTANCE_HEALTH, Approve)]),
    );
    assert_eq!(decision.verdict, Verdict::Remediate, "{decision:?}");
    let tagged_never = tagged(group(1..=4), &[(crate::approval::APPROVAL_TAG, "never")]);
    assert!(only_refusal(&decide_on(&one_failing(), &[tagged_never])).is("approval-never"));
    let _ = Never;
}

#[test]
fn a_bad_approval_tag_is_ignored_and_the_functions_mode_applies() {
    use crate::config::ApprovalMode::Approve;
    for bad in ["aprove", "approve never", "", "set-instance-health=", "☃"] {
        let tagged = tagged(group(1..=4), &[(crate::approval::APPROVAL_TAG, bad)]);
        assert_eq!(
            decide_on(&one_failing(), std::slice::from_ref(&tagged)).verdict,
            Verdict::Remediate,
            "{bad:?}: auto by default"
        );
        let decision = decide_full(
            &one_failing(),
            &[tagged],
            None,
            &BTreeMap::new(),
            &approving(&[(SET_INSTANCE_HEALTH, Approve)]),
        );
        assert_eq!(decision.verdict, Verdict::AwaitApproval, "{bad:?}");
    }
}

#[test]
fn an_approved_replacement_is_taken_only_after_every_guard_again() {
    use crate::config::ApprovalMode::Approve;
    let approved = awaiting(|incident| {
        incident
            .apply(
                minutes_ago(1),
                crate::domain::Change::ApprovalDecided {
                    approved: true,
                    by: "arn:aws:iam::123456789012:user/ana",
                    reason: None,
                },
            )
            .unwrap();
    });
    let decision = decide_approving(&approved, Approve);
    assert_eq!(decision.verdict, Verdict::Remediate, "{decision:?}");
    assert_eq!(decision.actions[0].target, instance(&id(1)));
    // The target recovered meanwhile: nothing to do.
    let recovered = decide_full(
        &[healthy(1), healthy(2), healthy(3), healthy(4)],
        &[group(1..=4)],
        Some(&approved),
        &BTreeMap::new(),
        &approving(&[(SET_INSTANCE_HEALTH, Approve)]),
    );
    assert_ne!(recovered.verdict, Verdict::Remediate, "{recovered:?}");
    assert!(recovered.actions.is_empty());
    // A guard refuses now (the group cannot heal): no action, its reason.
    let mut suspended = group(1..=4);
    suspended.suspended_processes = vec!["Launch".into()];
    let held = decide_full(
        &one_failing(),
        &[suspended],
        Some(&approved),
        &BTreeMap::new(),
        &approving(&[(SET_INSTANCE_HEALTH, Approve)]),
    );
    assert!(held.actions.is_empty(), "{held:?}");
    assert!(only_refusal(&held).is("group-cannot-heal"), "{held:?}");
}

#[test]
fn a_denied_replacement_holds_the_incident_suppressed_with_the_denial() {
    use crate::config::ApprovalMode::Approve;
    let denied = awaiting(|incident| {
        incident
            .apply(
                minutes_ago(1),
                crate::domain::Change::ApprovalDecided {
                    approved: false,
                    by: "arn:aws:iam::123456789012:user/ana",
                    reason: Some("black friday: hands off"),
                },
            )
            .unwrap();
    });
    let decision = decide_approving(&denied, Approve);
    assert_eq!(decision.verdict, Verdict::Suppress, "{decision:?}");
    let refusal = only_refusal(&decision);
    assert!(refusal.is("approval-denied"));
    assert!(
        refusal
            .detail
            .contains("denied by arn:aws:iam::123456789012:user/ana")
            && refusal.detail.contains("black friday: hands off"),
        "{refusal}"
    );
}

#[test]
fn an_approval_no_one_decided_escalates_once_expired() {
    use crate::config::ApprovalMode::Approve;
    let expired = awaiting(|_| {});
    let policy = approving(&[(SET_INSTANCE_HEALTH, Approve)]);
    let late = |minutes: i64| {
        let incident = Incident::from_record(expired.clone());
        alb_decide(
            Observation {
                targets: &one_failing(),
                groups: &[group(1..=4)],
                dependencies: &[],
                shifted: &[],
                changes: &crate::change::InFlight::default(),
                scheduled: &[],
            },
            History {
                incident: Some(&incident),
                ledgers: &BTreeMap::new(),
            },
            &policy,
            now() + chrono::Duration::minutes(minutes),
        )
    };
    assert_eq!(late(29).verdict, Verdict::AwaitApproval);
    let decision = late(30);
    assert_eq!(decision.verdict, Verdict::Escalate, "{decision:?}");
    assert!(only_refusal(&decision).is("approval-expired"));
}

// ---- Native healers (issue 19 point 5) ----

/// A managed group that replaces ELB-unhealthy instances itself, with a grace period.
fn elb_checked(grace_s: u32) -> ScalingGroup {
    let mut web = group(1..=4);
    web.health_check_type = "ELB".into();
    web.health_check_grace_period_s = grace_s;
    web
}

#[test]
fn a_group_with_elb_health_checks_gets_the_first_go_at_replacing_a_failing_instance() {
    let targets = [failing(1), healthy(2), healthy(3), healthy(4)];
    // First seen now: the group has its grace period plus the margin.
    let first = decide_on(&targets, &[elb_checked(300)]);
    assert_eq!(first.verdict, Verdict::Hold, "{first:?}");
    let refusal = only_refusal(&first);
    assert_eq!(refusal.guard, "native-healer-first");
    assert!(refusal.detail.contains("10:06:00 UTC"), "{refusal:?}");
    // Opened five minutes ago: 300 s of grace and 60 s of margin are not over yet.
    let record = incident();
    let waiting = decide_in(&targets, &[elb_checked(300)], &record);
    assert_eq!(only_refusal(&waiting).guard, "native-healer-first");
    // With a grace period of 120 s they are: the group did not start, Rebound acts.
    let acting = decide_in(&targets, &[elb_checked(120)], &record);
    assert_eq!(acting.verdict, Verdict::Remediate, "{acting:?}");
}

#[test]
fn a_group_with_ec2_health_checks_is_not_waited_for() {
    let targets = [failing(1), healthy(2), healthy(3), healthy(4)];
    let decision = decide_on(&targets, &[group(1..=4)]);
    assert_eq!(decision.verdict, Verdict::Remediate, "{decision:?}");
    assert!(decision.native_healing.is_none());
}

#[test]
fn the_group_replacing_an_instance_rebound_saw_failing_is_recorded_as_its_healing() {
    let mut web = elb_checked(300);
    web.instances[0].health_status = "Unhealthy".into();
    let targets = [failing(1), healthy(2), healthy(3), healthy(4)];
    let decision = decide_in(&targets, &[web.clone()], &incident());
    assert_eq!(decision.verdict, Verdict::Underway, "{decision:?}");
    assert!(decision.actions.is_empty());
    let healing = decision.native_healing.expect("the group's healing");
    assert_eq!(healing.by, "healed by Auto Scaling");
    assert!(healing.detail.contains("Unhealthy in web"), "{healing:?}");

    // Terminating now: still the group's, still no action.
    web.instances[0].lifecycle_state = "Terminating".into();
    let decision = decide_in(&targets, &[web], &incident());
    assert_eq!(decision.verdict, Verdict::Underway);
    assert!(decision.native_healing.is_some());
}

#[test]
fn an_instance_rebound_asked_to_replace_is_not_the_group_s_own_healing() {
    let mut web = group(1..=4);
    web.instances[0].health_status = "Unhealthy".into();
    let mut record = incident();
    record.actions = vec![action_on(1, ActionOutcome::Succeeded, minutes_ago(2))];
    let targets = [failing(1), healthy(2), healthy(3), healthy(4)];
    let decision = decide_in(&targets, &[web], &record);
    assert!(decision.native_healing.is_none(), "{decision:?}");
    assert!(decision.actions.is_empty());
}

#[test]
fn an_incident_rebound_replaced_an_instance_in_is_not_the_group_s_healing_though_it_kept_a_hold() {
    let mut group_web = elb_checked(300);
    group_web.instances[1].lifecycle_state = "Terminating".into();
    let targets = [healthy(1), failing(2), healthy(3), healthy(4)];
    // Only the upkeep of a hold so far: the group's own replacement of i-2 is its healing.
    let mut kept_a_hold = incident();
    kept_a_hold.actions = vec![Action {
        kind: RESUME_REPLACE_UNHEALTHY,
        target: web(),
        scope: web(),
        ..action_on(1, ActionOutcome::Succeeded, minutes_ago(2))
    }];
    let decision = decide_in(&targets, &[group_web.clone()], &kept_a_hold);
    assert!(decision.native_healing.is_some(), "{decision:?}");
    // Rebound asked to replace i-1 earlier: not the group's alone.
    let mut replaced = incident();
    replaced.actions = vec![action_on(1, ActionOutcome::Succeeded, minutes_ago(2))];
    let decision = decide_in(&targets, &[group_web], &replaced);
    assert!(decision.native_healing.is_none(), "{decision:?}");
}
