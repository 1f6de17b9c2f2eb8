//! Random observations for the policy and the workflow: a target group's targets, the
//! Auto Scaling groups behind them, the ledgers of past actions, an open incident and a
//! configuration. Biased towards states in which acting is possible, so that every
//! guard is exercised rather than the first refusal every time.

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

use crate::config::{Mode, Settings};
use crate::domain::{
    account_scope, Action, ActionKind, ActionOutcome, Evidence, Incident, IncidentRecord,
    IncidentState, Ledger, LedgerEntry, Opening, ResourceRef,
};
use crate::ids::{AutoScalingGroupName, IncidentId, InstanceId, TargetGroupArn};
use crate::kinds::target_group::observation::{
    GroupInstance, ScalingGroup, TargetHealth, TargetState,
};
use crate::kinds::target_group::{
    self, Policy, AUTO_SCALING_GROUP, SET_INSTANCE_HEALTH, TERMINATE_INSTANCE,
};

pub const TAG_KEY: &str = "rebound:managed";
pub const TARGET_GROUP: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/rebound-demo-web/73e2d6bc24d8a067";

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0)
        .single()
        // allow: property test (the module is cfg(test)): a panic is how a case fails
        .expect("a valid date")
}

pub fn instance(n: usize) -> InstanceId {
    // allow: property test (the module is cfg(test)): a panic is how a case fails
    InstanceId::parse(format!("i-{n:04x}")).expect("a valid instance id")
}

pub fn group_name(n: usize) -> AutoScalingGroupName {
    // allow: property test (the module is cfg(test)): a panic is how a case fails
    AutoScalingGroupName::parse(format!("asg-{n}")).expect("a valid group name")
}

pub fn target_group() -> TargetGroupArn {
    // allow: property test (the module is cfg(test)): a panic is how a case fails
    TargetGroupArn::parse(TARGET_GROUP).expect("a valid target group ARN")
}

const MAX_INSTANCES: usize = 10;
const MAX_GROUPS: usize = 3;

/// Everything the policy decides from.
#[derive(Debug, Clone)]
pub struct World {
    pub targets: Vec<TargetHealth>,
    pub groups: Vec<ScalingGroup>,
    pub ledgers: BTreeMap<ResourceRef, Ledger>,
    pub incident: Option<Incident>,
    pub config: Policy,
}

fn seconds_ago(max: i64) -> impl Strategy<Value = DateTime<Utc>> {
    (0..=max).prop_map(|s| now() - Duration::seconds(s))
}

fn target_state() -> impl Strategy<Value = TargetState> {
    prop_oneof![
        6 => Just(TargetState::Healthy),
        4 => Just(TargetState::Unhealthy),
        1 => Just(TargetState::UnhealthyDraining),
        1 => Just(TargetState::Initial),
        1 => Just(TargetState::Draining),
        1 => Just(TargetState::Unused),
        1 => Just(TargetState::Unavailable),
        1 => Just(TargetState::Other("unknown-future-state".into())),
    ]
}

fn reason() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        4 => Just(Some("Target.FailedHealthChecks".to_owned())),
        1 => Just(Some("Target.ResponseCodeMismatch".to_owned())),
        1 => Just(Some("Target.Timeout".to_owned())),
        1 => Just(Some("Elb.InternalError".to_owned())),
        1 => Just(Some("Target.HealthCheckDisabled".to_owned())),
        1 => Just(None),
    ]
}

fn lifecycle() -> impl Strategy<Value = (String, String)> {
    let state = prop_oneof![
        16 => Just("InService"),
        1 => Just("Pending"),
        1 => Just("Pending:Wait"),
        1 => Just("Terminating"),
        1 => Just("Terminating:Wait"),
        1 => Just("Terminated"),
        1 => Just("Standby"),
        1 => Just("Detaching"),
        1 => Just("Warmed:Pending"),
    ];
    let health = prop_oneof![8 => Just("Healthy"), 1 => Just("Unhealthy"), 1 => Just("unhealthy")];
    (state, health).prop_map(|(s, h)| (s.to_owned(), h.to_owned()))
}

fn suspended() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        8 => Just(vec![]),
        1 => prop::sample::subsequence(
            vec!["Launch", "Terminate", "HealthCheck", "ReplaceUnhealthy", "AddToLoadBalancer",
                 "AZRebalance", "ScheduledActions", "AlarmNotification"],
            1..3,
        )
        .prop_map(|p| p.into_iter().map(str::to_owned).collect()),
    ]
}

fn launch_template() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop::sample::select(vec![
        "lt-0abc version 7".to_owned(),
        "lt-0abc version 8".to_owned(),
    ]))
}

#[derive(Debug, Clone)]
struct GroupShape {
    managed: Option<&'static str>,
    suspended: Vec<String>,
    refreshing: bool,
    desired: u32,
    grace: u32,
    launch_template: Option<String>,
}

fn group_shape() -> impl Strategy<Value = GroupShape> {
    (
        prop_oneof![10 => Just(Some("true")), 1 => Just(Some("false")), 1 => Just(Some("TRUE")), 1 => Just(None)],
        suspended(),
        prop::bool::weighted(0.1),
        0u32..8,
        prop_oneof![3 => Just(0u32), 1 => 0u32..900],
        launch_template(),
    )
        .prop_map(|(managed, suspended, refreshing, desired, grace, launch_template)| GroupShape {
            managed,
            suspended,
            refreshing,
            desired,
            grace,
            launch_template,
        })
}

#[derive(Debug, Clone)]
struct InstanceShape {
    /// Index of its group (modulo the number of groups), or none.
    group: Option<usize>,
    lifecycle: (String, String),
    /// Registered in the target group, and how.
    target: Option<(TargetState, Option<String>)>,
}

fn instance_shape() -> impl Strategy<Value = InstanceShape> {
    (
        prop_oneof![6 => (0..MAX_GROUPS).prop_map(Some), 1 => Just(None)],
        lifecycle(),
        prop_oneof![5 => (target_state(), reason()).prop_map(Some), 1 => Just(None)],
    )
        .prop_map(|(group, lifecycle, target)| InstanceShape {
            group,
            lifecycle,
            target,
        })
}

fn ledger_entries(instances: usize) -> impl Strategy<Value = Vec<LedgerEntry>> {
    let entry = (
        prop_oneof![3 => seconds_ago(1_200), 2 => seconds_ago(7_200), 1 => seconds_ago(90_000)],
        0..instances + 2,
        launch_template(),
    )
        .prop_map(|(at, n, launch_template)| LedgerEntry {
            at,
            target: instance(n).to_string(),
            // allow: property test (the module is cfg(test)): a panic is how a case fails
            incident: IncidentId::parse("inc-earlier").expect("a valid incident id"),
            configuration: launch_template,
        });
    prop_oneof![
        1 => Just(vec![]),
        1 => prop::collection::vec(entry, 1..6),
    ]
}

fn outcome() -> impl Strategy<Value = ActionOutcome> {
    prop::sample::select(vec![
        ActionOutcome::Pending,
        ActionOutcome::Succeeded,
        ActionOutcome::Failed,
        ActionOutcome::Simulated,
        ActionOutcome::Refused,
    ])
}

fn action_kind() -> impl Strategy<Value = ActionKind> {
    prop::sample::select(vec![SET_INSTANCE_HEALTH, TERMINATE_INSTANCE])
}

fn incident(instances: usize, groups: usize) -> impl Strategy<Value = Option<Incident>> {
    let action = (
        action_kind(),
        0..instances + 1,
        0..groups,
        seconds_ago(3_600),
        outcome(),
        launch_template(),
    )
        .prop_map(
            |(kind, n, g, requested_at, outcome, launch_template)| Action {
                kind,
                target: target_group::instance(&instance(n)),
                scope: target_group::auto_scaling_group(&group_name(g)),
                requested_at,
                outcome,
                dry_run: outcome == ActionOutcome::Simulated,
                detail: None,
                completed_at: None,
                writer: None,
                configuration: launch_template,
            },
        );
    prop::option::weighted(
        0.5,
        (
            seconds_ago(3_600),
            prop::sample::select(vec![
                IncidentState::Open,
                IncidentState::Remediating,
                IncidentState::Escalated,
                IncidentState::Suppressed,
                IncidentState::AwaitingApproval,
            ]),
            prop::collection::vec(action, 0..4),
        )
            .prop_map(|(opened_at, state, actions)| {
                let opened = Incident::open(
                    Opening {
                        resource: target_group::target_group(&target_group()),
                        trigger: "alarm:web-unhealthy".into(),
                        evidence: Evidence::default(),
                        summary: "opened".into(),
                        rto_s: None,
                        drill: None,
                    },
                    opened_at,
                );
                opened.stored_with(|record: &mut IncidentRecord| {
                    record.state = state;
                    record.actions = actions;
                })
            }),
    )
}

pub fn policy_config() -> impl Strategy<Value = Policy> {
    (
        prop::sample::select(vec![Mode::Enforce, Mode::DryRun]),
        action_kind(),
        prop_oneof![3 => 50u32..=100, 1 => 1u32..=100],
        1usize..=3,
        prop_oneof![1 => Just(0u64), 2 => 60u64..1_200],
        prop_oneof![1 => Just(0u32), 6 => 1u32..=8],
        1u64..=900,
        60u64..=1_800,
        60u64..=7_200,
        1u32..=4,
    )
        .prop_map(
            |(
                mode,
                replacement,
                max_unhealthy,
                in_flight,
                cooldown,
                budget,
                pending,
                recovery,
                window,
                loops,
            )| {
                Policy {
                    settings: Settings {
                        mode,
                        managed_tag_key: TAG_KEY.into(),
                        action_budget_per_hour: budget,
                        pending_action_timeout: StdDuration::from_secs(pending),
                        recovery_timeout: StdDuration::from_secs(recovery),
                        sweep_concurrency: 8,
                        approvals: Default::default(),
                    },
                    replacement,
                    max_unhealthy_percent: max_unhealthy,
                    max_in_flight_per_group: in_flight,
                    cooldown: StdDuration::from_secs(cooldown),
                    replacement_loop_window: StdDuration::from_secs(window),
                    replacement_loop_limit: loops,
                    ..Policy::default()
                }
            },
        )
}

pub fn world() -> impl Strategy<Value = World> {
    (
        prop::collection::vec(group_shape(), 1..=MAX_GROUPS),
        prop::collection::vec(instance_shape(), 1..=MAX_INSTANCES),
    )
        .prop_flat_map(|(group_shapes, instance_shapes)| {
            let n_groups = group_shapes.len();
            let n_instances = instance_shapes.len();
            (
                Just(group_shapes),
                Just(instance_shapes),
                prop::collection::vec(ledger_entries(n_instances), n_groups + 1),
                incident(n_instances, n_groups),
                policy_config(),
            )
        })
        .prop_map(
            |(group_shapes, instance_shapes, ledger_entries, incident, config)| {
                build(
                    &group_shapes,
                    &instance_shapes,
                    ledger_entries,
                    incident,
                    config,
                )
            },
        )
}

fn build(
    group_shapes: &[GroupShape],
    instance_shapes: &[InstanceShape],
    mut ledger_entries: Vec<Vec<LedgerEntry>>,
    incident: Option<Incident>,
    config: Policy,
) -> World {
    let mut groups: Vec<ScalingGroup> = group_shapes
        .iter()
        .enumerate()
        .map(|(g, shape)| ScalingGroup {
            name: group_name(g),
            tags: shape
                .managed
                .map(|v| BTreeMap::from([(TAG_KEY.to_owned(), v.to_owned())]))
                .unwrap_or_default(),
            suspended_processes: shape.suspended.clone(),
            instances: vec![],
            target_group_arns: vec![target_group()],
            instance_refresh_in_progress: shape.refreshing,
            desired_capacity: shape.desired,
            health_check_grace_period_s: shape.grace,
            launch_template: shape.launch_template.clone(),
            arn: None,
            max_size: 100,
            zonal_shift_enabled: false,
            health_check_type: "EC2".into(),
        })
        .collect();
    let mut targets = Vec::new();
    for (n, shape) in instance_shapes.iter().enumerate() {
        let id = instance(n);
        if let Some(g) = shape.group {
            let count = groups.len();
            groups[g % count].instances.push(GroupInstance {
                instance_id: id.clone(),
                lifecycle_state: shape.lifecycle.0.clone(),
                health_status: shape.lifecycle.1.clone(),
                availability_zone: None,
            });
        }
        if let Some((state, reason)) = &shape.target {
            targets.push(TargetHealth {
                instance_id: id,
                port: Some(80),
                state: state.clone(),
                reason: if state.is_unhealthy() {
                    reason.clone()
                } else {
                    None
                },
                description: None,
            });
        }
    }
    let mut ledgers = BTreeMap::new();
    let account = ledger_entries.pop().unwrap_or_default();
    ledgers.insert(account_scope(), ledger(account));
    for (g, entries) in ledger_entries.into_iter().enumerate() {
        ledgers.insert(
            target_group::auto_scaling_group(&group_name(g)),
            ledger(entries),
        );
    }
    World {
        targets,
        groups,
        ledgers,
        incident,
        config,
    }
}

fn ledger(mut entries: Vec<LedgerEntry>) -> Ledger {
    entries.sort_by_key(|e| e.at);
    Ledger {
        entries,
        version: 1,
    }
}

/// The scope kind of every action the ALB policy may plan.
pub fn is_group_scope(scope: &ResourceRef) -> bool {
    scope.kind == AUTO_SCALING_GROUP
}
