//! Integration tier for zonal evacuation: the real zone-health (and target-health)
//! handlers with real SDK clients against the emulator's ARC zonal shift, its load
//! balancer attribute and its groups' impairment policy. Each test is one outage shape:
//! a zone going grey, the zones left too small to carry it, a zone that stays impaired
//! past its shift's expiry, one that recovers, an autoshift or someone else's shift
//! already in effect.

use aws_sdk_arczonalshift::Client as ArcClient;
use aws_sdk_autoscaling::Client as AutoScalingClient;
use rebound::config::Mode;
use rebound::domain::{IncidentState, Verdict};
use rebound::functions::ZoneHealthConfig;
use rebound_tests::sample_event;
use rebound_tests::scenario::{scenario, Scenario};
use rebound_tests::stack::Managed;
use serde_json::{json, Value};

const ZONE: &str = "us-east-1b";
/// us-east-1b in the emulator's account (DescribeAvailabilityZones).
const ZONE_ID: &str = "use1-az1";

fn sweep() -> Value {
    sample_event("zone-health/scheduled-sweep.json")
}

/// zone-health with no wait for settling (the tests move through states at once) and
/// `tweak` applied.
fn zone_health(
    s: &Scenario,
    tweak: impl FnOnce(&mut ZoneHealthConfig),
) -> rebound::aws::ZoneHealthFunction {
    let mut config = s.stack.zone_health_config(Mode::Enforce);
    config.policy.settle = std::time::Duration::ZERO;
    tweak(&mut config);
    rebound::aws::zone_health(&config, &s.sdk)
}

/// The shifts in effect on a resource, as ARC reports them: `(awayFrom, shiftType,
/// comment, appliedStatus, id, expiry)`.
async fn in_effect(
    s: &Scenario,
    resource: &str,
) -> Vec<(String, String, String, String, String, i64)> {
    let answer = ArcClient::new(&s.sdk)
        .get_managed_resource()
        .resource_identifier(resource)
        .send()
        .await
        .unwrap();
    answer
        .zonal_shifts()
        .iter()
        .map(|shift| {
            (
                shift.away_from().to_owned(),
                shift
                    .shift_type()
                    .map(|t| t.as_str().to_owned())
                    .unwrap_or_default(),
                shift.comment().to_owned(),
                shift.applied_status().as_str().to_owned(),
                shift.zonal_shift_id().to_owned(),
                shift.expiry_time().secs(),
            )
        })
        .collect()
}

async fn group_arn(s: &Scenario) -> String {
    AutoScalingClient::new(&s.sdk)
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&s.stack.web().auto_scaling_group)
        .send()
        .await
        .unwrap()
        .auto_scaling_groups()[0]
        .auto_scaling_group_arn()
        .unwrap()
        .to_owned()
}

async fn zone_incident(s: &Scenario) -> rebound::domain::Incident {
    s.incidents()
        .await
        .into_iter()
        .find(|i| i.resource.kind == rebound::kinds::zone::AVAILABILITY_ZONE)
        .expect("a zone incident")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grey_zone_is_shifted_away_with_its_group_and_none_of_its_instances_is_replaced() {
    let s = scenario(Managed::Yes).await;
    s.impair_zone(ZONE).await;
    // target-health sees its target group first: the zone looks impaired, so its
    // instances are held for the evacuation, not replaced.
    let report = s
        .target_health(Mode::Enforce)
        .handle(s.stack.alarm_event(0))
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Suppress, "{report:?}");
    assert_eq!(report.checks[0].refusals[0].guard, "zone-impaired");

    // The zone's own alarm confirms what zone-health sees: the shift.
    let report = zone_health(&s, |_| {})
        .handle(s.stack.zone_alarm_event(ZONE, "ALARM"))
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Remediate, "{report:?}");
    let incident = zone_incident(&s).await;
    let on_balancer = in_effect(&s, &s.stack.load_balancer_arn).await;
    assert_eq!(on_balancer.len(), 1, "{on_balancer:?}");
    let (away_from, shift_type, comment, applied, _, _) = &on_balancer[0];
    assert_eq!(
        (away_from.as_str(), shift_type.as_str(), applied.as_str()),
        (ZONE_ID, "ZONAL_SHIFT", "APPLIED")
    );
    assert!(comment.contains(incident.id.as_str()), "{comment}");
    let on_group = in_effect(&s, &group_arn(&s).await).await;
    assert_eq!(
        on_group.len(),
        1,
        "the group takes part in zonal shift: {on_group:?}"
    );
    assert_eq!(incident.state, IncidentState::Remediating);
    assert!(incident.mitigated_at.is_some());

    // With the zone shifted away, target-health replaces nothing there, whoever asks.
    let report = s
        .target_health(Mode::Enforce)
        .handle(sample_event("target-health/scheduled-sweep.json"))
        .await
        .unwrap();
    let guards: Vec<&str> = report
        .checks
        .iter()
        .flat_map(|c| c.refusals.iter().map(|r| r.guard))
        .collect();
    assert!(guards.iter().all(|g| *g == "zone-evacuated"), "{guards:?}");
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 0);
    assert_eq!(
        s.emulator.calls_of("TerminateInstanceInAutoScalingGroup"),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_confirms_on_its_second_look_and_the_shift_is_extended_then_ended_after_recovery() {
    let s = scenario(Managed::Yes).await;
    s.impair_zone(ZONE).await;
    let zone_health = zone_health(&s, |c| c.policy.confirm = std::time::Duration::ZERO);
    let first = zone_health.handle(sweep()).await.unwrap();
    assert_eq!(first.checks[0].refusals[0].guard, "confirming-impairment");
    assert!(in_effect(&s, &s.stack.load_balancer_arn).await.is_empty());
    zone_health.handle(sweep()).await.unwrap();
    let shifts = in_effect(&s, &s.stack.load_balancer_arn).await;
    assert_eq!(shifts.len(), 1);

    // Still impaired with less than half the expiry left: extended.
    let (_, _, _, _, id, _) = &shifts[0];
    let (status, body) = s.emulator.control(
        "POST",
        "/_rebound/zonal-shift/expiry",
        Some(json!({"zonal_shift_id": id, "expires_in_seconds": 600})),
    );
    assert_eq!(status, 200, "{body}");
    zone_health.handle(sweep()).await.unwrap();
    assert!(s.emulator.calls_of("UpdateZonalShift") >= 1);
    let (_, _, _, _, _, expiry) = in_effect(&s, &s.stack.load_balancer_arn).await[0].clone();
    assert!(
        expiry - chrono::Utc::now().timestamp() > 3000,
        "extended to about an hour"
    );

    // The zone recovers: Rebound ends its own shifts, then verifies it takes traffic.
    s.heal_targets();
    zone_health.handle(sweep()).await.unwrap();
    assert!(in_effect(&s, &s.stack.load_balancer_arn).await.is_empty());
    assert!(in_effect(&s, &group_arn(&s).await).await.is_empty());
    zone_health.handle(sweep()).await.unwrap();
    let incident = zone_incident(&s).await;
    assert_eq!(
        incident.state,
        IncidentState::Resolved,
        "{:?}",
        incident.timeline
    );
    let kinds: Vec<&str> = incident.actions.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "start-zonal-shift",
            "extend-zonal-shift",
            "cancel-zonal-shift"
        ]
    );
    assert!(incident.time_to_mitigate_s.is_some() && incident.time_to_recover_s.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_zones_left_cannot_carry_the_load_capacity_is_raised_first_then_the_shift() {
    let s = scenario(Managed::Yes).await;
    s.impair_zone(ZONE).await;
    // Three of four needed outside the zone; the zone left serves two.
    let zone_health = zone_health(&s, |c| c.policy.capacity_percent = 75);
    let report = zone_health
        .handle(s.stack.zone_alarm_event(ZONE, "ALARM"))
        .await
        .unwrap();
    let kinds: Vec<&str> = report.checks[0]
        .actions
        .iter()
        .map(|a| a.kind.as_str())
        .collect();
    assert_eq!(kinds, ["raise-desired-capacity"], "{report:?}");
    assert!(in_effect(&s, &s.stack.load_balancer_arn).await.is_empty());
    // The group was shifted away first, so its new capacity launched in the zone left.
    assert_eq!(in_effect(&s, &group_arn(&s).await).await.len(), 1);
    assert_eq!(s.instances_in("us-east-1a").await.len(), 4);
    assert_eq!(s.instances_in(ZONE).await.len(), 2);

    let report = zone_health.handle(sweep()).await.unwrap();
    assert_eq!(
        in_effect(&s, &s.stack.load_balancer_arn).await.len(),
        1,
        "{report:?}"
    );
    let incident = zone_incident(&s).await;
    let kinds: Vec<&str> = incident.actions.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(kinds, ["raise-desired-capacity", "start-zonal-shift"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_autoshift_already_away_from_the_zone_is_followed_and_never_touched() {
    let s = scenario(Managed::Yes).await;
    // Zonal autoshift on the load balancer (it needs a practice run configuration with
    // an outcome alarm), and AWS's own autoshift away from the zone.
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&s.sdk);
    cloudwatch
        .put_metric_alarm()
        .alarm_name("rebound-demo-practice-outcome")
        .namespace("AWS/ApplicationELB")
        .metric_name("HTTPCode_ELB_5XX_Count")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(
            aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanOrEqualToThreshold,
        )
        .send()
        .await
        .unwrap();
    let arc = ArcClient::new(&s.sdk);
    arc.create_practice_run_configuration()
        .resource_identifier(&s.stack.load_balancer_arn)
        .outcome_alarms(
            aws_sdk_arczonalshift::types::ControlCondition::builder()
                .r#type(aws_sdk_arczonalshift::types::ControlConditionType::Cloudwatch)
                .alarm_identifier(format!(
                    "arn:aws:cloudwatch:us-east-1:{}:alarm:rebound-demo-practice-outcome",
                    s.stack.account
                ))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    arc.update_zonal_autoshift_configuration()
        .resource_identifier(&s.stack.load_balancer_arn)
        .zonal_autoshift_status(aws_sdk_arczonalshift::types::ZonalAutoshiftStatus::Enabled)
        .send()
        .await
        .unwrap();
    let (status, body) = s.emulator.control(
        "POST",
        "/_rebound/zonal-shift/autoshift",
        Some(json!({"away_from": ZONE_ID, "resource_identifier": s.stack.load_balancer_arn})),
    );
    assert_eq!(status, 200, "{body}");
    s.impair_zone(ZONE).await;

    let zone_health = zone_health(&s, |_| {});
    let report = zone_health
        .handle(s.stack.zone_alarm_event(ZONE, "ALARM"))
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Underway, "{report:?}");
    s.heal_targets();
    zone_health.handle(sweep()).await.unwrap();
    for operation in ["StartZonalShift", "UpdateZonalShift", "CancelZonalShift"] {
        assert_eq!(s.emulator.calls_of(operation), 0, "{operation}");
    }
    let incident = zone_incident(&s).await;
    assert_eq!(incident.state, IncidentState::Resolved);
    assert!(incident.actions.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shift_someone_else_started_is_never_extended_or_cancelled_and_blocks_a_second_zone() {
    let s = scenario(Managed::Yes).await;
    // An operator shifted the other zone away for maintenance.
    ArcClient::new(&s.sdk)
        .start_zonal_shift()
        .resource_identifier(&s.stack.load_balancer_arn)
        .away_from("use1-az6")
        .expires_in("20m")
        .comment("maintenance in us-east-1a")
        .send()
        .await
        .unwrap();
    s.impair_zone(ZONE).await;
    let report = zone_health(&s, |_| {})
        .handle(s.stack.zone_alarm_event(ZONE, "ALARM"))
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Hold, "{report:?}");
    assert_eq!(report.checks[0].refusals[0].guard, "shift-in-progress");
    let shifts = in_effect(&s, &s.stack.load_balancer_arn).await;
    assert_eq!(shifts.len(), 1);
    assert_eq!(shifts[0].2, "maintenance in us-east-1a");
    assert_eq!(
        s.emulator.calls_of("StartZonalShift"),
        1,
        "only the operator's"
    );
    assert_eq!(s.emulator.calls_of("UpdateZonalShift"), 0);
    assert_eq!(s.emulator.calls_of("CancelZonalShift"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_records_the_shift_and_calls_nothing_that_changes_traffic() {
    let s = scenario(Managed::Yes).await;
    s.impair_zone(ZONE).await;
    let mut config = s.stack.zone_health_config(Mode::DryRun);
    config.policy.settle = std::time::Duration::ZERO;
    rebound::aws::zone_health(&config, &s.sdk)
        .handle(s.stack.zone_alarm_event(ZONE, "ALARM"))
        .await
        .unwrap();
    assert!(in_effect(&s, &s.stack.load_balancer_arn).await.is_empty());
    assert_eq!(s.emulator.calls_of("StartZonalShift"), 0);
    assert_eq!(s.emulator.calls_of("SetDesiredCapacity"), 0);
    let incident = zone_incident(&s).await;
    assert_eq!(
        incident.actions[0].outcome,
        rebound::domain::ActionOutcome::Simulated
    );
}

/// The reads of one load balancer (its attributes, its target groups' health, their
/// groups) made by one sweep, however many of its zones the sweep checks.
/// The load balancer, its targets, and the groups owning them (the sweep finds them
/// from the targets; a delivery reads the managed groups with their instances ahead).
fn balancer_reads(s: &Scenario) -> [usize; 3] {
    [
        s.emulator.calls_of("DescribeLoadBalancers"),
        s.emulator.calls_of("DescribeTargetHealth"),
        s.emulator.calls_of("DescribeAutoScalingGroups"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_reads_a_load_balancer_once_for_its_checks_and_a_later_delivery_reads_it_afresh() {
    let s = scenario(Managed::Yes).await;
    let target_groups = s.stack.target_groups().count();
    s.impair_zone(ZONE).await;
    let zone_health = zone_health(&s, |c| c.policy.confirm = std::time::Duration::ZERO);

    // First look (the outlier listed), second look (shifted: now an open incident),
    // the zone healed (no outlier, its incident open): the listing's read serves the
    // check each time.
    for step in ["first look", "shift", "healed"] {
        if step == "healed" {
            s.heal_targets();
        }
        s.emulator.clear_requests();
        zone_health.handle(sweep()).await.unwrap();
        assert_eq!(
            balancer_reads(&s),
            [1, target_groups, 1],
            "{step}: {:?}",
            s.emulator.requests()
        );
    }

    // A delivery after the sweep decides on what it reads itself: the zone goes grey
    // again and its alarm sees it, though the last sweep saw it healthy.
    s.impair_zone(ZONE).await;
    s.emulator.clear_requests();
    let report = zone_health
        .handle(s.stack.zone_alarm_event(ZONE, "ALARM"))
        .await
        .unwrap();
    assert_eq!(balancer_reads(&s), [1, target_groups, 1]);
    assert!(report.checks[0].summary.contains("unhealthy"), "{report:?}");
}
