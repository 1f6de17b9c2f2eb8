//! The shell suite for zone-health: the sample load balancer, managed and with zonal
//! shift on, in front of one group of four (two per zone, taking part in zonal shift),
//! whose two targets in us-east-1b fail while those in us-east-1a serve. The zone's own
//! `UnHealthyHostCount` alarm in ALARM confirms the impairment at the first look, so its
//! delivery shifts the zone's traffic away: the load balancer's, and the group's with it.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{throttled, KindUnderTest};
use crate::config::{Mode, Settings};
use crate::domain::ResourceRef;
use crate::fakes::{FakeFleet, MemoryStore};
use crate::ids::{
    AutoScalingGroupName, AvailabilityZone, InstanceId, LoadBalancerArn, TargetGroupArn,
};
use crate::kinds::target_group::observation::{
    GroupInstance, ScalingGroup, TargetHealth, TargetState,
};
use crate::kinds::zone::observation::LoadBalancer;
use crate::kinds::zone::{self, zone_ref, Policy, Zones};
use crate::shell::Function;

/// The load balancer, target group and group the sample events name.
const LB: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/rebound-demo-alb/50dc6c495c0c9188";
const TG: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/rebound-demo-web/73e2d6bc24d8a067";
const GROUP: &str = "rebound-demo-web-asg";
const GROUP_ARN: &str = "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:1:autoScalingGroupName/rebound-demo-web-asg";

/// A second load balancer, not managed, with a target group and group of its own.
const SECOND_LB: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/rebound-demo-api/6e1f0a2b3c4d5e6f";
const SECOND_TG: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/rebound-demo-api/1a2b3c4d5e6f7a8b";
const SECOND_GROUP: &str = "rebound-demo-api-asg";

fn a() -> AvailabilityZone {
    AvailabilityZone::parse("us-east-1a").unwrap()
}

fn b() -> AvailabilityZone {
    AvailabilityZone::parse("us-east-1b").unwrap()
}

fn iid(n: u32) -> InstanceId {
    InstanceId::parse(format!("i-{n:04x}")).unwrap()
}

/// Instances `first..first + 4`, two in us-east-1a then two in us-east-1b.
fn zone_of(first: u32, n: u32) -> AvailabilityZone {
    if n < first + 2 {
        a()
    } else {
        b()
    }
}

/// A group of four, two per zone, behind `target_group`.
fn group(name: &str, first: u32, target_group: &str, managed: bool, arn: &str) -> ScalingGroup {
    let tags = if managed {
        BTreeMap::from([("rebound:managed".to_owned(), "true".to_owned())])
    } else {
        BTreeMap::new()
    };
    ScalingGroup {
        name: AutoScalingGroupName::parse(name).unwrap(),
        tags,
        suspended_processes: vec![],
        instances: (first..first + 4)
            .map(|n| GroupInstance {
                instance_id: iid(n),
                lifecycle_state: "InService".into(),
                health_status: "Healthy".into(),
                availability_zone: Some(zone_of(first, n)),
            })
            .collect(),
        target_group_arns: vec![TargetGroupArn::parse(target_group).unwrap()],
        instance_refresh_in_progress: false,
        desired_capacity: 4,
        health_check_grace_period_s: 0,
        launch_template: None,
        arn: Some(arn.into()),
        max_size: 8,
        zonal_shift_enabled: managed,
        health_check_type: "EC2".into(),
    }
}

/// The four targets from `first`, those in us-east-1b failing.
fn targets_failing_in_b(first: u32) -> Vec<TargetHealth> {
    (first..first + 4)
        .map(|n| {
            let failing = zone_of(first, n) == b();
            TargetHealth {
                instance_id: iid(n),
                port: Some(80),
                state: if failing {
                    TargetState::Unhealthy
                } else {
                    TargetState::Healthy
                },
                reason: failing.then(|| "Target.Timeout".to_owned()),
                description: None,
            }
        })
        .collect()
}

fn load_balancer(arn: &str, target_group: &str, managed: bool) -> LoadBalancer {
    let tags = if managed {
        BTreeMap::from([("rebound:managed".to_owned(), "true".to_owned())])
    } else {
        BTreeMap::new()
    };
    LoadBalancer {
        arn: LoadBalancerArn::parse(arn).unwrap(),
        tags,
        zonal_shift_enabled: true,
        zones: vec![a(), b()],
        target_groups: vec![TargetGroupArn::parse(target_group).unwrap()],
    }
}

/// The sample zone alarm, for us-east-1b of the second load balancer.
fn second_zone_alarm() -> Value {
    let mut alarm = <ZoneHealthSuite as KindUnderTest>::alarm();
    alarm["detail"]["alarmName"] = json!("rebound-demo-api-us-east-1b-unhealthy");
    let dimensions =
        &mut alarm["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"];
    dimensions["LoadBalancer"] = json!(LoadBalancerArn::parse(SECOND_LB).unwrap().full_name());
    dimensions["TargetGroup"] = json!(TargetGroupArn::parse(SECOND_TG).unwrap().full_name());
    alarm
}

pub(crate) struct World {
    fleet: FakeFleet,
    store: MemoryStore,
}

pub(crate) struct ZoneHealthSuite;

impl KindUnderTest for ZoneHealthSuite {
    type Kind = Zones<FakeFleet, FakeFleet, FakeFleet, FakeFleet, FakeFleet>;
    type World = World;

    const FUNCTION: &'static str = zone::FUNCTION;

    fn world() -> World {
        let fleet = FakeFleet::default();
        fleet.add_group(group(GROUP, 1, TG, true, GROUP_ARN));
        fleet.add_load_balancer(load_balancer(LB, TG, true));
        fleet.set_targets(&TargetGroupArn::parse(TG).unwrap(), targets_failing_in_b(1));
        World {
            fleet,
            store: MemoryStore::default(),
        }
    }

    fn handler(w: &World) -> Function<Self::Kind, MemoryStore> {
        crate::fakes::zone_health(
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
        zone_ref(&LoadBalancerArn::parse(LB).unwrap(), &b())
    }

    /// Every StartZonalShift, UpdateZonalShift and CancelZonalShift, then every
    /// SetDesiredCapacity.
    fn mutating_calls(w: &World) -> Vec<String> {
        let raised = w
            .fleet
            .raised()
            .into_iter()
            .map(|(group, desired)| format!("raise {group} to {desired}"));
        w.fleet.zonal_calls().into_iter().chain(raised).collect()
    }

    /// One action, two calls: the load balancer shifted away from the zone, and the
    /// group taking part in zonal shift with it.
    fn one_remediation(w: &World) -> Vec<String> {
        let zone_id = w.fleet.zone_id(&b()).unwrap();
        vec![
            format!("start {LB} {zone_id}"),
            format!("start {GROUP_ARN} {zone_id}"),
        ]
    }

    fn reads(w: &World) -> usize {
        w.fleet.describe_calls()
    }

    /// A second load balancer whose us-east-1b fails the same way, not managed: its
    /// zone alarm opens an incident that is reported, never acted on, and the sweep
    /// looks at it because the incident is open (its listing reads only managed load
    /// balancers).
    async fn add_second_resource(w: &World) -> ResourceRef {
        let second_arn = "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:2:autoScalingGroupName/rebound-demo-api-asg";
        w.fleet
            .add_group(group(SECOND_GROUP, 5, SECOND_TG, false, second_arn));
        w.fleet
            .add_load_balancer(load_balancer(SECOND_LB, SECOND_TG, false));
        w.fleet.set_targets(
            &TargetGroupArn::parse(SECOND_TG).unwrap(),
            targets_failing_in_b(5),
        );
        let report = Self::handler(w).handle(second_zone_alarm()).await.unwrap();
        let second = zone_ref(&LoadBalancerArn::parse(SECOND_LB).unwrap(), &b());
        assert_eq!(report.checks[0].resource, second);
        assert!(report.checks[0].actions.is_empty(), "{report:#?}");
        assert!(report.checks[0].incident_id.is_some(), "{report:#?}");
        second
    }

    /// The second load balancer's target group cannot be read, which its zone's
    /// observation needs. The fake fails only the next read of a target group, and the
    /// sweep's listing reads the target groups of every managed load balancer first:
    /// that is why the second load balancer is not managed (the listing skips it, and
    /// the read that fails is its zone's check).
    async fn fail_one_of_two_checks(w: &World) -> (ResourceRef, ResourceRef) {
        let second = Self::add_second_resource(w).await;
        w.fleet.fail_next_target_health(
            &TargetGroupArn::parse(SECOND_TG).unwrap(),
            throttled("DescribeTargetHealth"),
        );
        (second, Self::failing_resource())
    }
}

super::shell_suite!(ZoneHealthSuite);
