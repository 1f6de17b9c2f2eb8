//! Handler tier: zone-health's real handler over in-memory ports, from a zone going grey
//! to its traffic shifted away, held, returned and resolved.

use std::collections::BTreeMap;

use chrono::Duration;
use serde_json::{json, Value};

use super::observation::{LoadBalancer, ShiftType};
use super::*;
use crate::config::{Mode, Settings};
use crate::domain::{ActionOutcome, IncidentState, Verdict};
use crate::fakes::{FakeFleet, MemoryStore, ZoneHealthFunction};
use crate::ids::{InstanceId, TargetGroupArn};
use crate::kinds::target_group::observation::{GroupInstance, TargetState};
use crate::shell::Report;

const LB: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/rebound-demo/50dc6c495c0c9188";
const TG: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/rebound-demo-web/73e2d6bc24d8a067";
const GROUP_ARN: &str =
    "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:1:autoScalingGroupName/web";

fn zone(n: u32) -> AvailabilityZone {
    AvailabilityZone::parse(if n <= 2 { "us-east-1a" } else { "us-east-1b" }).unwrap()
}

fn b() -> AvailabilityZone {
    AvailabilityZone::parse("us-east-1b").unwrap()
}

fn iid(n: u32) -> InstanceId {
    InstanceId::parse(format!("i-{n:04x}")).unwrap()
}

fn policy(mode: Mode) -> Policy {
    Policy {
        settings: Settings {
            mode,
            ..Settings::default()
        },
        ..Policy::default()
    }
}

struct World {
    fleet: FakeFleet,
    store: MemoryStore,
}

impl World {
    /// Two zones behind a managed load balancer with zonal shift on, one group of four
    /// (two per zone) taking part in zonal shift.
    fn new() -> Self {
        let fleet = FakeFleet::default();
        let managed = BTreeMap::from([("rebound:managed".to_owned(), "true".to_owned())]);
        fleet.add_group(ScalingGroup {
            name: AutoScalingGroupName::parse("web").unwrap(),
            tags: managed.clone(),
            suspended_processes: vec![],
            instances: (1..=4)
                .map(|n| GroupInstance {
                    instance_id: iid(n),
                    lifecycle_state: "InService".into(),
                    health_status: "Healthy".into(),
                    availability_zone: Some(zone(n)),
                })
                .collect(),
            target_group_arns: vec![TargetGroupArn::parse(TG).unwrap()],
            instance_refresh_in_progress: false,
            desired_capacity: 4,
            health_check_grace_period_s: 0,
            launch_template: None,
            arn: Some(GROUP_ARN.into()),
            max_size: 8,
            zonal_shift_enabled: true,
            health_check_type: "EC2".into(),
        });
        fleet.add_load_balancer(LoadBalancer {
            arn: LoadBalancerArn::parse(LB).unwrap(),
            tags: managed,
            zonal_shift_enabled: true,
            zones: vec![zone(1), zone(3)],
            target_groups: vec![TargetGroupArn::parse(TG).unwrap()],
        });
        let world = Self {
            fleet,
            store: MemoryStore::default(),
        };
        world.zone_b(false);
        world
    }

    /// Zone b's two targets fail (or heal).
    fn zone_b(&self, failing: bool) {
        self.fleet.set_targets(
            &TargetGroupArn::parse(TG).unwrap(),
            (1..=4)
                .map(|n| TargetHealth {
                    instance_id: iid(n),
                    port: Some(80),
                    state: if failing && n > 2 {
                        TargetState::Unhealthy
                    } else {
                        TargetState::Healthy
                    },
                    reason: (failing && n > 2).then(|| "Target.Timeout".to_owned()),
                    description: None,
                })
                .collect(),
        );
    }

    fn handler(&self, mode: Mode, clock: fn() -> DateTime<Utc>) -> ZoneHealthFunction {
        let mut handler = crate::fakes::zone_health(&self.fleet, &self.store, policy(mode));
        handler.clock = clock;
        handler
    }

    async fn sweep_at(&self, clock: fn() -> DateTime<Utc>) -> Report {
        self.handler(Mode::Enforce, clock)
            .handle(sweep())
            .await
            .unwrap()
    }

    fn incident(&self) -> crate::domain::Incident {
        let incidents = self.store.incidents();
        assert_eq!(incidents.len(), 1, "{incidents:?}");
        incidents.into_iter().next().unwrap()
    }
}

fn sweep() -> Value {
    json!({"version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012", "region": "us-east-1", "time": "2026-12-03T10:00:00Z", "resources": [], "detail": {}})
}

fn zone_alarm(state: &str) -> Value {
    let mut event = crate::trigger::alarm_state_change(
        "rebound-demo-us-east-1b-unhealthy",
        json!({
            "namespace": "AWS/ApplicationELB", "name": "UnHealthyHostCount",
            "dimensions": {"TargetGroup": "targetgroup/rebound-demo-web/73e2d6bc24d8a067", "LoadBalancer": "app/rebound-demo/50dc6c495c0c9188", "AvailabilityZone": "us-east-1b"}
        }),
    );
    event["detail"]["state"]["value"] = json!(state);
    event
}

fn in_2_minutes() -> DateTime<Utc> {
    Utc::now() + Duration::minutes(2)
}

fn in_4_minutes() -> DateTime<Utc> {
    Utc::now() + Duration::minutes(4)
}

fn in_10_minutes() -> DateTime<Utc> {
    Utc::now() + Duration::minutes(10)
}

fn in_11_minutes() -> DateTime<Utc> {
    Utc::now() + Duration::minutes(11)
}

fn in_16_minutes() -> DateTime<Utc> {
    Utc::now() + Duration::minutes(16)
}

#[tokio::test]
async fn a_grey_zone_is_confirmed_by_the_next_sweep_and_shifted_away_with_its_group() {
    let w = World::new();
    w.zone_b(true);
    let first = w.sweep_at(Utc::now).await;
    assert_eq!(first.checks[0].verdict, Verdict::Hold);
    assert_eq!(first.checks[0].refusals[0].guard, "confirming-impairment");
    assert!(w.fleet.zonal_calls().is_empty());

    let second = w.sweep_at(in_2_minutes).await;
    assert_eq!(second.checks[0].verdict, Verdict::Remediate);
    let zone_id = w.fleet.zone_id(&b()).unwrap();
    assert_eq!(
        w.fleet.zonal_calls(),
        [
            format!("start {LB} {zone_id}"),
            format!("start {GROUP_ARN} {zone_id}")
        ]
    );
    let incident = w.incident();
    assert_eq!(incident.state, IncidentState::Remediating);
    assert_eq!(
        incident.resource,
        zone_ref(&LoadBalancerArn::parse(LB).unwrap(), &b())
    );
    assert!(incident.mitigated_at.is_some());
    assert!(incident.time_to_mitigate_s.is_some_and(|s| s >= 119));
    assert!(incident.timeline.iter().any(|t| t.event == "mitigated"));
    let shifts = w.fleet.shifts();
    assert!(shifts
        .iter()
        .all(|s| s.comment.contains(incident.id.as_str())));
    assert!(shifts.iter().all(|s| s.expires_at.is_some()));
}

#[tokio::test]
async fn the_zone_s_own_alarm_shifts_at_the_first_look() {
    let w = World::new();
    w.zone_b(true);
    let report = w
        .handler(Mode::Enforce, Utc::now)
        .handle(zone_alarm("ALARM"))
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Remediate);
    assert_eq!(w.fleet.shifts().len(), 2);
}

#[tokio::test]
async fn dry_run_records_the_shift_it_would_start_and_calls_nothing() {
    let w = World::new();
    w.zone_b(true);
    w.handler(Mode::DryRun, Utc::now)
        .handle(zone_alarm("ALARM"))
        .await
        .unwrap();
    assert!(w.fleet.zonal_calls().is_empty());
    let incident = w.incident();
    assert_eq!(incident.actions[0].outcome, ActionOutcome::Simulated);
    assert_eq!(incident.actions[0].kind, START_ZONAL_SHIFT);
    assert_eq!(incident.mitigated_at, None);
}

#[tokio::test]
async fn an_evacuated_zone_that_heals_is_returned_after_the_settle_time_and_resolved() {
    let w = World::new();
    w.zone_b(true);
    w.handler(Mode::Enforce, Utc::now)
        .handle(zone_alarm("ALARM"))
        .await
        .unwrap();
    w.zone_b(false);
    // Healthy, but not for the settle time yet: the shift stays.
    let report = w.sweep_at(in_4_minutes).await;
    assert_eq!(report.checks[0].verdict, Verdict::Recovering);
    assert!(w.fleet.shifts().iter().all(|s| s.active));
    // Past it: Rebound ends its own shifts.
    let report = w.sweep_at(in_10_minutes).await;
    assert_eq!(report.checks[0].verdict, Verdict::Remediate);
    assert!(w.fleet.shifts().iter().all(|s| !s.active));
    // The next look finds it taking traffic, healthy: resolved.
    let report = w
        .handler(Mode::Enforce, in_11_minutes)
        .handle(zone_alarm("OK"))
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Resolve);
    let incident = w.incident();
    assert_eq!(incident.state, IncidentState::Resolved);
    assert!(incident.time_to_recover_s.is_some());
    let kinds: Vec<&str> = incident.actions.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(kinds, ["start-zonal-shift", "cancel-zonal-shift"]);
}

#[tokio::test]
async fn an_autoshift_already_away_from_the_zone_is_followed_and_never_touched() {
    let w = World::new();
    w.zone_b(true);
    w.fleet
        .shift_by_others(LB, &b(), ShiftType::ZonalAutoshift, "");
    let report = w
        .handler(Mode::Enforce, Utc::now)
        .handle(zone_alarm("ALARM"))
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Underway);
    assert!(w.fleet.zonal_calls().is_empty());
    w.zone_b(false);
    w.sweep_at(in_10_minutes).await;
    w.sweep_at(in_16_minutes).await;
    assert!(w.fleet.zonal_calls().is_empty());
    assert_eq!(w.incident().state, IncidentState::Resolved);
    assert!(
        w.fleet.shifts()[0].active,
        "AWS's autoshift is AWS's to end"
    );
}

#[tokio::test]
async fn a_zone_the_load_balancer_no_longer_serves_from_closes_its_incident() {
    let w = World::new();
    w.zone_b(true);
    w.sweep_at(Utc::now).await;
    w.fleet
        .update_load_balancer(&LoadBalancerArn::parse(LB).unwrap(), |b| {
            b.zones.truncate(1)
        });
    let report = w.sweep_at(in_2_minutes).await;
    assert_eq!(report.checks[0].verdict, Verdict::Gone);
    assert_eq!(w.incident().state, IncidentState::Resolved);
}

#[tokio::test]
async fn a_load_balancer_that_cannot_be_read_during_the_listing_stops_no_other_zone() {
    let w = World::new();
    w.zone_b(true);
    // A second managed load balancer, whose target group read is throttled once.
    let other_tg = TargetGroupArn::parse(
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/other/0123456789abcdef",
    )
    .unwrap();
    let other = LoadBalancerArn::parse(
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/other/0123456789abcdef",
    )
    .unwrap();
    w.fleet.add_load_balancer(LoadBalancer {
        arn: other.clone(),
        tags: BTreeMap::from([("rebound:managed".to_owned(), "true".to_owned())]),
        zonal_shift_enabled: true,
        zones: vec![zone(1), zone(3)],
        target_groups: vec![other_tg.clone()],
    });
    w.fleet.set_targets(&other_tg, vec![]);
    w.fleet.fail_next_target_health(
        &other_tg,
        crate::Error::Aws {
            operation: "DescribeTargetHealth",
            retryable: true,
            detail: "Throttling: Rate exceeded".into(),
            source: "throttled".into(),
        },
    );
    let report = w
        .handler(Mode::Enforce, Utc::now)
        .handle(sweep())
        .await
        .unwrap();
    let checked: Vec<&str> = report
        .checks
        .iter()
        .map(|c| c.resource.id.as_str())
        .collect();
    assert!(
        checked.contains(&format!("{LB}#us-east-1b").as_str()),
        "{checked:?}"
    );
    // The unread load balancer's zones were each checked on their own.
    assert!(
        checked.iter().any(|id| id.starts_with(other.as_str())),
        "{checked:?}"
    );
}

#[tokio::test]
async fn targets_of_a_group_outside_the_managed_ones_are_still_counted_by_zone() {
    // The managed groups are read ahead to name the targets' owners in one round trip;
    // targets none of them owns are looked up one by one, not left uncounted.
    let w = World::new();
    w.fleet.update_group("web", |group| group.tags.clear());
    w.zone_b(true);
    let report = w
        .handler(Mode::Enforce, Utc::now)
        .handle(zone_alarm("ALARM"))
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Remediate, "{report:?}");
    let zone_id = w.fleet.zone_id(&b()).unwrap();
    // The load balancer only: a group Rebound does not manage is never shifted.
    assert_eq!(w.fleet.zonal_calls(), [format!("start {LB} {zone_id}")]);
}
