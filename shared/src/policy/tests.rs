//! Table of guards: each case is one behaviour, named as a sentence.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::config::{Mode, PolicyConfig};
use crate::domain::{
    Action, ActionKind, Evidence, GroupInstance, Incident, ResourceKind, ResourceRef,
};

const TAG: &str = "rebound:managed";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap()
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
    }
}

fn group(instances: impl IntoIterator<Item = u32>) -> ScalingGroup {
    ScalingGroup {
        name: AutoScalingGroupName::parse("web").unwrap(),
        tags: BTreeMap::from([(TAG.to_owned(), "true".to_owned())]),
        suspended_processes: vec![],
        instances: instances.into_iter().map(member).collect(),
        target_group_arns: vec![],
        instance_refresh_in_progress: false,
    }
}

fn config() -> PolicyConfig {
    PolicyConfig {
        mode: Mode::Enforce,
        ..PolicyConfig::default()
    }
}

fn incident() -> Incident {
    Incident::open(
        ResourceRef {
            kind: ResourceKind::TargetGroup,
            id: "tg".into(),
        },
        "alarm:x",
        Evidence::default(),
        "1 of 4 targets unhealthy",
        now() - chrono::Duration::minutes(30),
    )
}

fn action_on(n: u32, outcome: ActionOutcome, at: DateTime<Utc>) -> Action {
    Action {
        kind: ActionKind::SetInstanceHealth,
        target: id(n).to_string(),
        group: "web".into(),
        requested_at: at,
        outcome,
        dry_run: false,
        detail: None,
        completed_at: None,
    }
}

fn decide_on(targets: &[TargetHealth], groups: &[ScalingGroup]) -> Decision {
    decide(
        Observation { targets, groups },
        History::default(),
        &config(),
        now(),
    )
}

fn only_refusal(decision: &Decision) -> &Refusal {
    assert!(decision.replacements.is_empty(), "{decision:?}");
    assert_eq!(decision.refusals.len(), 1, "{decision:?}");
    &decision.refusals[0]
}

#[test]
fn one_instance_failing_health_checks_in_a_managed_group_is_replaced() {
    let targets = [failing(1), healthy(2), healthy(3), healthy(4)];
    let decision = decide_on(&targets, &[group(1..=4)]);
    assert_eq!(decision.verdict, Verdict::Replace);
    assert_eq!(
        decision.replacements,
        vec![Replacement {
            instance_id: id(1),
            group: AutoScalingGroupName::parse("web").unwrap()
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
            Verdict::Replace,
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
        assert_eq!(only_refusal(&decision).guard(), "not-an-instance-failure");
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
        assert!(decision.replacements.is_empty(), "{state:?}");
        assert_eq!(decision.verdict, Verdict::Healthy, "{state:?}");
    }
}

#[test]
fn all_targets_unhealthy_is_escalated_as_a_systemic_failure() {
    let targets = [failing(1), failing(2), failing(3), failing(4)];
    let decision = decide_on(&targets, &[group(1..=4)]);
    assert_eq!(decision.verdict, Verdict::Escalate);
    assert_eq!(
        only_refusal(&decision),
        &Refusal::AllTargetsUnhealthy { unhealthy: 4 }
    );
}

#[test]
fn an_unhealthy_share_above_the_limit_is_escalated_not_replaced() {
    let targets = [failing(1), failing(2), failing(3), healthy(4)];
    let decision = decide_on(&targets, &[group(1..=4)]);
    assert_eq!(decision.verdict, Verdict::Escalate);
    assert_eq!(
        only_refusal(&decision),
        &Refusal::UnhealthyShareAboveLimit {
            unhealthy: 3,
            total: 4,
            limit_percent: 50
        }
    );
}

#[test]
fn an_unhealthy_share_at_the_limit_is_still_handled() {
    let targets = [failing(1), failing(2), healthy(3), healthy(4)];
    let decision = decide_on(&targets, &[group(1..=4)]);
    // Half is at the 50% limit: act, but only one at a time (in-flight limit 1).
    assert_eq!(decision.verdict, Verdict::Replace);
    assert_eq!(decision.replacements.len(), 1);
    assert_eq!(decision.refusals[0].guard(), "in-flight-limit");
}

#[test]
fn a_group_without_the_managed_tag_is_observed_only() {
    let mut unmanaged = group(1..=3);
    unmanaged.tags.clear();
    let decision = decide_on(&[failing(1), healthy(2), healthy(3)], &[unmanaged.clone()]);
    assert_eq!(decision.verdict, Verdict::Hold);
    assert_eq!(only_refusal(&decision).guard(), "not-managed");

    unmanaged.tags.insert(TAG.into(), "false".into());
    let decision = decide_on(&[failing(1), healthy(2), healthy(3)], &[unmanaged]);
    assert_eq!(only_refusal(&decision).guard(), "not-managed");
}

#[test]
fn the_managed_tag_key_is_configurable() {
    let mut custom = group(1..=3);
    custom.tags = BTreeMap::from([("team:heal".to_owned(), "true".to_owned())]);
    let config = PolicyConfig {
        managed_tag_key: "team:heal".into(),
        ..config()
    };
    let targets = [failing(1), healthy(2), healthy(3)];
    let decision = decide(
        Observation {
            targets: &targets,
            groups: &[custom],
        },
        History::default(),
        &config,
        now(),
    );
    assert_eq!(decision.verdict, Verdict::Replace);
}

#[test]
fn an_instance_outside_any_group_is_held() {
    let decision = decide_on(&[failing(9), healthy(2), healthy(3)], &[group(2..=3)]);
    assert_eq!(only_refusal(&decision).guard(), "not-in-auto-scaling-group");
}

#[test]
fn a_group_with_a_healing_process_suspended_cannot_heal() {
    for process in ["Launch", "Terminate", "HealthCheck", "ReplaceUnhealthy"] {
        let mut suspended = group(1..=3);
        suspended.suspended_processes = vec![process.into(), "AZRebalance".into()];
        let decision = decide_on(&[failing(1), healthy(2), healthy(3)], &[suspended]);
        let refusal = only_refusal(&decision);
        assert_eq!(refusal.guard(), "group-cannot-heal", "{process}");
        assert!(refusal.to_string().contains(process), "{refusal}");
    }
}

#[test]
fn a_suspended_process_unrelated_to_healing_does_not_block() {
    let mut g = group(1..=3);
    g.suspended_processes = vec!["AZRebalance".into(), "ScheduledActions".into()];
    assert_eq!(
        decide_on(&[failing(1), healthy(2), healthy(3)], &[g]).verdict,
        Verdict::Replace
    );
}

#[test]
fn a_running_instance_refresh_blocks_replacement() {
    let mut g = group(1..=3);
    g.instance_refresh_in_progress = true;
    let decision = decide_on(&[failing(1), healthy(2), healthy(3)], &[g]);
    assert_eq!(only_refusal(&decision).guard(), "group-cannot-heal");
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
            only_refusal(&decision).guard(),
            "not-in-service",
            "{lifecycle}/{health}"
        );
    }
}

#[test]
fn no_more_than_the_in_flight_limit_per_group() {
    // One instance of the group is already being replaced.
    let mut g = group(1..=6);
    g.instances[5].lifecycle_state = "Pending".into();
    let targets = [failing(1), failing(2), healthy(3), healthy(4), healthy(5)];
    let decision = decide_on(&targets, &[g.clone()]);
    assert!(decision.replacements.is_empty());
    assert!(decision
        .refusals
        .iter()
        .all(|r| r.guard() == "in-flight-limit"));

    let config = PolicyConfig {
        max_in_flight_per_group: 3,
        ..config()
    };
    let decision = decide(
        Observation {
            targets: &targets,
            groups: &[g],
        },
        History::default(),
        &config,
        now(),
    );
    assert_eq!(decision.replacements.len(), 2);
}

#[test]
fn a_resource_in_cooldown_is_held_until_it_ends() {
    let targets = [failing(1), healthy(2), healthy(3)];
    let groups = [group(1..=3)];
    let observation = Observation {
        targets: &targets,
        groups: &groups,
    };
    let recent = History {
        incident: None,
        last_action_at: Some(now() - chrono::Duration::seconds(60)),
    };
    let decision = decide(observation, recent, &config(), now());
    assert_eq!(only_refusal(&decision).guard(), "cooldown");

    let old = History {
        incident: None,
        last_action_at: Some(now() - chrono::Duration::seconds(601)),
    };
    assert_eq!(
        decide(observation, old, &config(), now()).verdict,
        Verdict::Replace
    );
}

#[test]
fn an_instance_already_acted_on_in_this_incident_is_not_acted_on_again() {
    let targets = [failing(1), healthy(2), healthy(3)];
    let groups = [group(1..=3)];
    for outcome in [
        ActionOutcome::Pending,
        ActionOutcome::Succeeded,
        ActionOutcome::Simulated,
    ] {
        let mut inc = incident();
        inc.actions
            .push(action_on(1, outcome, now() - chrono::Duration::hours(2)));
        let history = History {
            incident: Some(&inc),
            last_action_at: None,
        };
        let decision = decide(
            Observation {
                targets: &targets,
                groups: &groups,
            },
            history,
            &config(),
            now(),
        );
        assert_eq!(
            only_refusal(&decision).guard(),
            "already-replacing",
            "{outcome:?}"
        );
    }
}

#[test]
fn a_failed_action_may_be_tried_again_after_the_cooldown() {
    let targets = [failing(1), healthy(2), healthy(3)];
    let groups = [group(1..=3)];
    let mut inc = incident();
    inc.actions.push(action_on(
        1,
        ActionOutcome::Failed,
        now() - chrono::Duration::hours(2),
    ));
    let history = History {
        incident: Some(&inc),
        last_action_at: None,
    };
    let decision = decide(
        Observation {
            targets: &targets,
            groups: &groups,
        },
        history,
        &config(),
        now(),
    );
    assert_eq!(decision.verdict, Verdict::Replace);
}

#[test]
fn an_open_incident_whose_targets_are_all_healthy_is_resolved() {
    let inc = incident();
    let targets = [healthy(1), healthy(2)];
    let history = History {
        incident: Some(&inc),
        last_action_at: None,
    };
    let decision = decide(
        Observation {
            targets: &targets,
            groups: &[],
        },
        history,
        &config(),
        now(),
    );
    assert_eq!(decision.verdict, Verdict::Resolve);
}

#[test]
fn recovery_waits_for_replacements_to_pass_their_first_health_checks() {
    let inc = incident();
    let targets = [
        healthy(1),
        target(5, TargetState::Initial, Some("Elb.RegistrationInProgress")),
    ];
    let history = History {
        incident: Some(&inc),
        last_action_at: None,
    };
    let decision = decide(
        Observation {
            targets: &targets,
            groups: &[],
        },
        history,
        &config(),
        now(),
    );
    assert_eq!(decision.verdict, Verdict::Recovering);
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
fn the_mode_does_not_change_the_decision_only_the_execution() {
    let targets = [failing(1), healthy(2), healthy(3)];
    let groups = [group(1..=3)];
    let dry = PolicyConfig {
        mode: Mode::DryRun,
        ..config()
    };
    let observation = Observation {
        targets: &targets,
        groups: &groups,
    };
    assert_eq!(
        decide(observation, History::default(), &dry, now()),
        decide(observation, History::default(), &config(), now())
    );
}

#[test]
fn a_pending_action_is_left_alone_until_it_is_overdue() {
    let targets = [failing(1), healthy(2)];
    let groups = [group(1..=2)];
    let observation = Observation {
        targets: &targets,
        groups: &groups,
    };
    let config = PolicyConfig {
        pending_action_timeout: Duration::from_secs(300),
        ..config()
    };
    assert_eq!(
        settle_pending(
            now() - chrono::Duration::seconds(10),
            &id(1),
            observation,
            &config,
            now()
        ),
        None
    );
}

#[test]
fn an_overdue_pending_action_whose_instance_left_service_is_settled_as_succeeded() {
    let targets = [healthy(2), healthy(5)];
    let observation = Observation {
        targets: &targets,
        groups: &[],
    };
    let (outcome, _) = settle_pending(
        now() - chrono::Duration::hours(1),
        &id(1),
        observation,
        &config(),
        now(),
    )
    .unwrap();
    assert_eq!(outcome, ActionOutcome::Succeeded);

    let mut g = group(1..=2);
    g.instances[0].health_status = "Unhealthy".into();
    let targets = [failing(1), healthy(2)];
    let groups = [g];
    let observation = Observation {
        targets: &targets,
        groups: &groups,
    };
    let (outcome, _) = settle_pending(
        now() - chrono::Duration::hours(1),
        &id(1),
        observation,
        &config(),
        now(),
    )
    .unwrap();
    assert_eq!(outcome, ActionOutcome::Succeeded);
}

#[test]
fn an_overdue_pending_action_that_never_took_effect_is_settled_as_failed() {
    let targets = [failing(1), healthy(2)];
    let groups = [group(1..=2)];
    let observation = Observation {
        targets: &targets,
        groups: &groups,
    };
    let (outcome, detail) = settle_pending(
        now() - chrono::Duration::hours(1),
        &id(1),
        observation,
        &config(),
        now(),
    )
    .unwrap();
    assert_eq!(outcome, ActionOutcome::Failed);
    assert!(detail.contains("never took effect"));
}

#[test]
fn only_systemic_refusals_and_the_budget_escalate() {
    assert!(Refusal::AllTargetsUnhealthy { unhealthy: 1 }.escalates());
    assert!(Refusal::BudgetExhausted { per_hour: 10 }.escalates());
    assert!(!Refusal::Cooldown { until: now() }.escalates());
    assert!(!Refusal::NotManaged {
        group: "g".into(),
        tag_key: TAG.into()
    }
    .escalates());
}
