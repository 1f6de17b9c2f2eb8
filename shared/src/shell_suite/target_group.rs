//! The shell suite for target-health: one instance of four failing its health checks
//! behind the sample target group, its group managed; the target group's
//! `UnHealthyHostCount` alarm replaces it.

use std::collections::BTreeMap;

use super::{throttled, KindUnderTest};
use crate::config::{Mode, Settings};
use crate::domain::ResourceRef;
use crate::fakes::{FakeFleet, MemoryStore};
use crate::ids::{AutoScalingGroupName, InstanceId, TargetGroupArn};
use crate::kinds::target_group::observation::{
    GroupInstance, ScalingGroup, TargetHealth, TargetState,
};
use crate::kinds::target_group::{self, target_group, Policy};
use crate::shell::Function;

/// The target group the sample events name.
const TG: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/rebound-demo-web/73e2d6bc24d8a067";
const SECOND_TG: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/rebound-demo-https/0a1b2c3d4e5f6a7b";
const GROUP: &str = "rebound-demo-web-asg";

fn tg() -> TargetGroupArn {
    TargetGroupArn::parse(TG).unwrap()
}

fn second_tg() -> TargetGroupArn {
    TargetGroupArn::parse(SECOND_TG).unwrap()
}

fn iid(n: u32) -> InstanceId {
    InstanceId::parse(format!("i-{n:04x}")).unwrap()
}

/// The group's four instances; those up to `failing` fail their health checks.
fn targets(failing: u32) -> Vec<TargetHealth> {
    (1..=4)
        .map(|n| {
            let unhealthy = n <= failing;
            TargetHealth {
                instance_id: iid(n),
                port: Some(80),
                state: if unhealthy {
                    TargetState::Unhealthy
                } else {
                    TargetState::Healthy
                },
                reason: unhealthy.then(|| "Target.FailedHealthChecks".to_owned()),
                description: None,
            }
        })
        .collect()
}

pub(crate) struct World {
    fleet: FakeFleet,
    store: MemoryStore,
}

pub(crate) struct TargetHealthSuite;

impl KindUnderTest for TargetHealthSuite {
    type Kind = crate::fakes::FakeTargetGroups;
    type World = World;

    const FUNCTION: &'static str = target_group::FUNCTION;

    fn world() -> World {
        let fleet = FakeFleet::default();
        fleet.set_targets(&tg(), targets(1));
        fleet.add_group(ScalingGroup {
            name: AutoScalingGroupName::parse(GROUP).unwrap(),
            tags: BTreeMap::from([("rebound:managed".to_owned(), "true".to_owned())]),
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
        });
        World {
            fleet,
            store: MemoryStore::default(),
        }
    }

    fn handler(w: &World) -> Function<Self::Kind, MemoryStore> {
        crate::fakes::target_health(
            &w.fleet,
            &w.store,
            Policy {
                settings: Settings {
                    mode: Mode::Enforce,
                    ..Settings::default()
                },
                ..Policy::default()
            },
        )
    }

    fn store(w: &World) -> &MemoryStore {
        &w.store
    }

    fn failing_resource() -> ResourceRef {
        target_group(&tg())
    }

    fn mutating_calls(w: &World) -> Vec<String> {
        w.fleet
            .replaced()
            .iter()
            .map(|(kind, group, instance)| format!("{kind} {group} {instance}"))
            .collect()
    }

    fn one_remediation(_: &World) -> Vec<String> {
        vec![format!(
            "{} {GROUP} {}",
            target_group::SET_INSTANCE_HEALTH,
            iid(1)
        )]
    }

    fn reads(w: &World) -> usize {
        w.fleet.describe_calls()
    }

    /// A second target group in front of the same group, every target healthy, new
    /// enough that CloudWatch has no data on it: the sweep describes it.
    async fn add_second_resource(w: &World) -> ResourceRef {
        w.fleet.set_targets(&second_tg(), targets(0));
        w.fleet.metric_says(&second_tg(), None);
        w.fleet
            .update_group(GROUP, |g| g.target_group_arns.push(second_tg()));
        target_group(&second_tg())
    }

    /// The second target group's health cannot be read.
    async fn fail_one_of_two_checks(w: &World) -> (ResourceRef, ResourceRef) {
        let second = Self::add_second_resource(w).await;
        w.fleet
            .fail_next_target_health(&second_tg(), throttled("DescribeTargetHealth"));
        (second, Self::failing_resource())
    }
}

super::shell_suite!(TargetHealthSuite);
