//! Table of the zone's decisions and guards: each case is one behaviour, named as a
//! sentence. A world is two zones (us-east-1a and us-east-1b) behind one load balancer,
//! one group of four, two instances in each zone, unless a case says otherwise.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::observation::{
    merge_targets, shift_comment, LoadBalancer, ObservedZone, ShiftType, ZoneShift,
};
use super::policy::{decide, settle_pending};
use super::*;
use crate::config::{Mode, Settings};
use crate::domain::{
    Action, ActionOutcome, Evidence as Kept, Incident, IncidentRecord, Ledger, LedgerEntry,
    Opening, Verdict,
};
use crate::ids::{IncidentId, TargetGroupArn, ZoneId};
use crate::kinds::target_group::observation::{GroupInstance, TargetState};

const TAG: &str = "rebound:managed";
const LB: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188";
const TG: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2d6bc24d8a067";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap()
}

fn minutes_ago(m: i64) -> DateTime<Utc> {
    now() - Duration::minutes(m)
}

fn az(name: &str) -> AvailabilityZone {
    AvailabilityZone::parse(name).unwrap()
}

fn b() -> AvailabilityZone {
    az("us-east-1b")
}

fn zone_id(name: &str) -> ZoneId {
    ZoneId::parse(match name {
        "us-east-1a" => "use1-az6",
        "us-east-1b" => "use1-az1",
        _ => "use1-az2",
    })
    .unwrap()
}

fn arn() -> LoadBalancerArn {
    LoadBalancerArn::parse(LB).unwrap()
}

fn policy() -> Policy {
    Policy {
        settings: Settings {
            mode: Mode::Enforce,
            ..Settings::default()
        },
        ..Policy::default()
    }
}

/// The instances: `(number, zone, unhealthy)`.
struct World {
    instances: Vec<(u32, &'static str, bool)>,
    managed: bool,
    zonal_shift_enabled: bool,
    desired: u32,
    max: u32,
    group_takes_part: bool,
    on_load_balancer: Vec<ZoneShift>,
    on_group: Vec<ZoneShift>,
}

impl Default for World {
    fn default() -> Self {
        Self {
            instances: vec![
                (1, "us-east-1a", false),
                (2, "us-east-1a", false),
                (3, "us-east-1b", false),
                (4, "us-east-1b", false),
            ],
            managed: true,
            zonal_shift_enabled: true,
            desired: 4,
            max: 8,
            group_takes_part: true,
            on_load_balancer: vec![],
            on_group: vec![],
        }
    }
}

fn instance_id(n: u32) -> InstanceId {
    InstanceId::parse(format!("i-{n:04x}")).unwrap()
}

impl World {
    /// Zone b fails entirely.
    fn b_down() -> Self {
        let mut world = Self::default();
        world.fail("us-east-1b");
        world
    }

    fn fail(&mut self, zone: &str) {
        for instance in &mut self.instances {
            if instance.1 == zone {
                instance.2 = true;
            }
        }
    }

    fn observed(&self) -> ObservedZone {
        let tags = |managed: bool| {
            if managed {
                BTreeMap::from([(TAG.to_owned(), "true".to_owned())])
            } else {
                BTreeMap::new()
            }
        };
        let group = ScalingGroup {
            name: AutoScalingGroupName::parse("web").unwrap(),
            tags: tags(self.managed),
            suspended_processes: vec![],
            instances: self
                .instances
                .iter()
                .map(|(n, zone, _)| GroupInstance {
                    instance_id: instance_id(*n),
                    lifecycle_state: "InService".into(),
                    health_status: "Healthy".into(),
                    availability_zone: Some(az(zone)),
                })
                .collect(),
            target_group_arns: vec![TargetGroupArn::parse(TG).unwrap()],
            instance_refresh_in_progress: false,
            desired_capacity: self.desired,
            health_check_grace_period_s: 0,
            launch_template: None,
            arn: Some("arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:1:autoScalingGroupName/web".into()),
            max_size: self.max,
            zonal_shift_enabled: self.group_takes_part,
            health_check_type: "EC2".into(),
        };
        let targets = vec![self
            .instances
            .iter()
            .map(|(n, _, unhealthy)| TargetHealth {
                instance_id: instance_id(*n),
                port: Some(80),
                state: if *unhealthy {
                    TargetState::Unhealthy
                } else {
                    TargetState::Healthy
                },
                reason: unhealthy.then(|| "Target.Timeout".to_owned()),
                description: None,
            })
            .collect()];
        let groups = vec![group];
        let targets = merge_targets(targets, &groups);
        let mut on_groups = BTreeMap::new();
        if self.group_takes_part {
            on_groups.insert(groups[0].name.clone(), self.on_group.clone());
        }
        ObservedZone {
            zone: b(),
            zone_ids: ["us-east-1a", "us-east-1b"]
                .into_iter()
                .map(|z| (az(z), zone_id(z)))
                .collect(),
            load_balancer: LoadBalancer {
                arn: arn(),
                tags: tags(self.managed),
                zonal_shift_enabled: self.zonal_shift_enabled,
                zones: vec![az("us-east-1a"), b()],
                target_groups: vec![TargetGroupArn::parse(TG).unwrap()],
            },
            counts: ObservedZone::count(&targets),
            targets,
            groups,
            on_load_balancer: self.on_load_balancer.clone(),
            on_groups,
        }
    }
}

fn incident_opened(at: DateTime<Utc>, evidence: &Evidence) -> IncidentRecord {
    let opened = Incident::open(
        Opening {
            resource: zone_ref(&arn(), &b()),
            trigger: "sweep".into(),
            evidence: Kept::of(evidence),
            summary: "us-east-1b impaired".into(),
            rto_s: Some(900),
            drill: None,
        },
        at,
    );
    IncidentRecord::clone(&opened)
}

fn seen_impaired(since: DateTime<Utc>) -> Evidence {
    Evidence {
        impaired_since: Some(since),
        ..Evidence::default()
    }
}

fn seen_healthy(since: DateTime<Utc>) -> Evidence {
    Evidence {
        healthy_since: Some(since),
        ..Evidence::default()
    }
}

fn action(kind: ActionKind, outcome: ActionOutcome, at: DateTime<Utc>) -> Action {
    Action {
        kind,
        target: zone_ref(&arn(), &b()),
        scope: load_balancer(&arn()),
        requested_at: at,
        outcome,
        dry_run: false,
        detail: None,
        completed_at: Some(at),
        writer: None,
        configuration: None,
    }
}

/// Rebound's own shift of this incident on the load balancer.
fn our_shift(
    incident: &IncidentRecord,
    started: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> ZoneShift {
    ZoneShift {
        id: Some("shift-ours".into()),
        resource: LB.into(),
        away_from: zone_id("us-east-1b"),
        shift_type: ShiftType::ZonalShift,
        started_at: Some(started),
        expires_at: Some(expires),
        comment: shift_comment(&incident.id, &b()),
        applied: true,
    }
}

fn someone_elses(shift_type: ShiftType, zone: &str) -> ZoneShift {
    ZoneShift {
        id: (shift_type != ShiftType::ZonalAutoshift).then(|| "shift-theirs".to_owned()),
        resource: LB.into(),
        away_from: zone_id(zone),
        shift_type,
        started_at: Some(minutes_ago(3)),
        expires_at: Some(now() + Duration::minutes(30)),
        comment: "maintenance".into(),
        applied: true,
    }
}

fn decide_with(
    world: &World,
    cue: &Cue,
    incident: Option<&IncidentRecord>,
    ledgers: &BTreeMap<ResourceRef, Ledger>,
    policy: &Policy,
) -> Decision {
    let incident = incident.map(|r| Incident::from_record(r.clone()));
    decide(
        &world.observed(),
        cue,
        History {
            incident: incident.as_ref(),
            ledgers,
        },
        policy,
        now(),
    )
}

fn decision(world: &World, incident: Option<&IncidentRecord>) -> Decision {
    decide_with(world, &Cue::Look, incident, &BTreeMap::new(), &policy())
}

fn guards(decision: &Decision) -> Vec<&'static str> {
    decision.refusals.iter().map(|r| r.guard).collect()
}

fn kinds(decision: &Decision) -> Vec<&str> {
    decision.actions.iter().map(|a| a.kind.as_str()).collect()
}

/// An incident that saw the zone impaired ten minutes ago: confirmed now.
fn confirmed() -> IncidentRecord {
    incident_opened(minutes_ago(10), &seen_impaired(minutes_ago(10)))
}

// ---- detection and confirmation ----

#[test]
fn a_healthy_zone_without_an_incident_is_healthy() {
    let d = decision(&World::default(), None);
    assert_eq!(d.verdict, Verdict::Healthy);
}

#[test]
fn a_first_look_at_an_impaired_zone_holds_its_instances_and_confirms_later() {
    let d = decision(&World::b_down(), None);
    assert_eq!(d.verdict, Verdict::Hold);
    assert_eq!(guards(&d), ["confirming-impairment"]);
    assert!(d.refusals[0].detail.contains("held, not replaced"));
}

#[test]
fn a_second_look_after_the_confirmation_time_shifts() {
    let d = decision(&World::b_down(), Some(&confirmed()));
    assert_eq!(d.verdict, Verdict::Remediate);
    assert_eq!(kinds(&d), ["start-zonal-shift"]);
    assert_eq!(d.actions[0].scope, load_balancer(&arn()));
    assert_eq!(d.actions[0].target, zone_ref(&arn(), &b()));
}

#[test]
fn a_second_look_too_soon_is_no_confirmation() {
    let record = incident_opened(now(), &seen_impaired(now() - Duration::seconds(10)));
    let d = decision(&World::b_down(), Some(&record));
    assert_eq!(guards(&d), ["confirming-impairment"]);
}

#[test]
fn the_zone_s_own_alarm_confirms_the_first_look() {
    let d = decide_with(
        &World::b_down(),
        &Cue::Alarm {
            state: "ALARM".into(),
        },
        None,
        &BTreeMap::new(),
        &policy(),
    );
    assert_eq!(kinds(&d), ["start-zonal-shift"]);
    let ok = decide_with(
        &World::b_down(),
        &Cue::Alarm { state: "OK".into() },
        None,
        &BTreeMap::new(),
        &policy(),
    );
    assert_eq!(guards(&ok), ["confirming-impairment"]);
}

#[test]
fn a_zone_that_flaps_is_never_confirmed_and_its_incident_waits_out_the_settle_time() {
    // Impaired, then healthy: the incident (opened at the first look) waits...
    let record = incident_opened(minutes_ago(2), &seen_impaired(minutes_ago(2)));
    let d = decision(&World::default(), Some(&record));
    assert_eq!(d.verdict, Verdict::Recovering);
    // ...and the evidence forgets the impairment, so the next impaired look starts over.
    let healthy = World::default().observed();
    let kept = evidence_of(
        &healthy,
        &policy(),
        Some(seen_impaired(minutes_ago(2))),
        now(),
    );
    assert_eq!(kept.impaired_since, None);
    assert_eq!(kept.healthy_since, Some(now()));
    let again = incident_opened(minutes_ago(2), &kept);
    let d = decision(&World::b_down(), Some(&again));
    assert_eq!(guards(&d), ["confirming-impairment"]);
    // Healthy for the settle time: resolved.
    let settled = incident_opened(minutes_ago(10), &seen_healthy(minutes_ago(6)));
    assert_eq!(
        decision(&World::default(), Some(&settled)).verdict,
        Verdict::Resolve
    );
}

#[test]
fn a_single_bad_instance_and_a_failure_across_zones_are_not_the_zone_s() {
    let mut one = World::default();
    one.instances[2].2 = true;
    assert_eq!(decision(&one, None).verdict, Verdict::Healthy);
    let mut both = World::b_down();
    both.fail("us-east-1a");
    assert_eq!(decision(&both, None).verdict, Verdict::Healthy);
}

// ---- guards ----

#[test]
fn an_unmanaged_load_balancer_is_observed_only() {
    let world = World {
        managed: false,
        ..World::b_down()
    };
    let d = decision(&world, Some(&confirmed()));
    assert_eq!(
        (d.verdict, guards(&d)),
        (Verdict::Hold, vec!["not-managed"])
    );
}

#[test]
fn a_load_balancer_without_zonal_shift_escalates() {
    let world = World {
        zonal_shift_enabled: false,
        ..World::b_down()
    };
    let d = decision(&world, Some(&confirmed()));
    assert_eq!(d.verdict, Verdict::Escalate);
    assert_eq!(guards(&d), ["zonal-shift-disabled"]);
}

#[test]
fn never_a_second_zone_nor_over_a_practice_run_or_an_autoshift_elsewhere() {
    for running in [
        someone_elses(ShiftType::ZonalShift, "us-east-1a"),
        someone_elses(ShiftType::PracticeRun, "us-east-1a"),
        someone_elses(ShiftType::ZonalAutoshift, "us-east-1a"),
    ] {
        let world = World {
            on_load_balancer: vec![running.clone()],
            ..World::b_down()
        };
        let d = decision(&world, Some(&confirmed()));
        assert_eq!(d.verdict, Verdict::Hold, "{running:?}");
        assert_eq!(guards(&d), ["shift-in-progress"]);
        assert!(d.refusals[0].detail.contains(running.shift_type.describe()));
    }
}

#[test]
fn a_zone_someone_else_already_shifted_away_is_followed_not_shifted_again() {
    let world = World {
        on_load_balancer: vec![someone_elses(ShiftType::ZonalAutoshift, "us-east-1b")],
        ..World::b_down()
    };
    let d = decision(&world, None);
    assert_eq!(d.verdict, Verdict::Underway);
    assert!(d.actions.is_empty());
    assert!(d.summary.contains("zonal autoshift"), "{}", d.summary);
}

#[test]
fn a_shift_waits_out_the_load_balancer_s_cooldown_and_the_budget_escalates() {
    let entry = LedgerEntry {
        at: minutes_ago(2),
        target: zone_ref(&arn(), &b()).id,
        incident: IncidentId::parse("inc-earlier").unwrap(),
        configuration: None,
    };
    let ledgers = BTreeMap::from([(
        load_balancer(&arn()),
        Ledger {
            entries: vec![entry],
            version: 1,
        },
    )]);
    let d = decide_with(
        &World::b_down(),
        &Cue::Look,
        Some(&confirmed()),
        &ledgers,
        &policy(),
    );
    assert_eq!(guards(&d), ["cooldown"]);
    let mut spent = policy();
    spent.settings.action_budget_per_hour = 0;
    let d = decide_with(
        &World::b_down(),
        &Cue::Look,
        Some(&confirmed()),
        &BTreeMap::new(),
        &spent,
    );
    assert_eq!(
        (d.verdict, guards(&d)),
        (Verdict::Escalate, vec!["budget-exhausted"])
    );
}

// ---- capacity ----

/// Zone a holds one instance, zone b three (all failing): the zone left serves 1 of
/// the 2 needed.
fn lopsided() -> World {
    World {
        instances: vec![
            (1, "us-east-1a", false),
            (2, "us-east-1b", true),
            (3, "us-east-1b", true),
            (4, "us-east-1b", true),
        ],
        ..World::default()
    }
}

#[test]
fn zones_left_short_of_capacity_get_it_raised_first_not_the_shift() {
    let d = decision(&lopsided(), Some(&confirmed()));
    assert_eq!(kinds(&d), ["raise-desired-capacity"]);
    let world = lopsided().observed();
    let capacity = super::policy::capacity(&world, &policy());
    assert_eq!(capacity[0].needed, 2);
    assert_eq!(capacity[0].serving_elsewhere, 1);
    assert_eq!(capacity[0].raised_to(), 7);
}

#[test]
fn a_raise_is_bounded_by_max_size_and_escalates_when_that_cannot_carry_the_load() {
    let bounded = World {
        max: 5,
        ..lopsided()
    };
    assert_eq!(
        super::policy::capacity(&bounded.observed(), &policy())[0].raised_to(),
        5
    );
    assert_eq!(
        kinds(&decision(&bounded, Some(&confirmed()))),
        ["raise-desired-capacity"]
    );
    let stuck = World {
        max: 4,
        ..lopsided()
    };
    let d = decision(&stuck, Some(&confirmed()));
    assert_eq!(
        (d.verdict, guards(&d)),
        (Verdict::Escalate, vec!["zones-left-cannot-carry"])
    );
}

#[test]
fn a_group_that_cannot_keep_launches_out_of_the_zone_is_not_raised() {
    let world = World {
        group_takes_part: false,
        ..lopsided()
    };
    let d = decision(&world, Some(&confirmed()));
    assert_eq!(d.verdict, Verdict::Escalate);
    assert!(d.refusals[0].detail.contains("ZonalShiftEnabled"));
}

#[test]
fn once_raised_the_shift_waits_for_the_capacity_to_serve_then_goes() {
    let mut record = confirmed();
    record.actions.push(Action {
        kind: RAISE_CAPACITY,
        target: crate::kinds::target_group::auto_scaling_group(
            &AutoScalingGroupName::parse("web").unwrap(),
        ),
        scope: crate::kinds::target_group::auto_scaling_group(
            &AutoScalingGroupName::parse("web").unwrap(),
        ),
        ..action(RAISE_CAPACITY, ActionOutcome::Succeeded, minutes_ago(1))
    });
    let d = decision(&lopsided(), Some(&record));
    assert_eq!(
        (d.verdict, guards(&d)),
        (Verdict::Hold, vec!["capacity-launching"])
    );
    let mut served = lopsided();
    served.instances.push((5, "us-east-1a", false));
    served.desired = 7;
    served.instances.push((6, "us-east-1a", false));
    served.instances.push((7, "us-east-1a", false));
    let d = decision(&served, Some(&record));
    assert_eq!(kinds(&d), ["start-zonal-shift"]);
}

// ---- while shifted ----

fn shifted(expires_in_minutes: i64, world: impl FnOnce(&mut World)) -> (World, IncidentRecord) {
    let mut record = confirmed();
    record.actions.push(action(
        START_ZONAL_SHIFT,
        ActionOutcome::Succeeded,
        minutes_ago(8),
    ));
    let mut w = World::b_down();
    w.on_load_balancer = vec![our_shift(
        &record,
        minutes_ago(8),
        now() + Duration::minutes(expires_in_minutes),
    )];
    world(&mut w);
    (w, record)
}

#[test]
fn while_the_zone_stays_impaired_the_shift_is_kept_and_extended_before_it_expires() {
    let (world, record) = shifted(52, |_| {});
    let d = decision(&world, Some(&record));
    assert_eq!(d.verdict, Verdict::Recovering);
    assert!(d.waiting_for.as_deref().unwrap().contains("still impaired"));
    let (world, record) = shifted(25, |_| {});
    let d = decision(&world, Some(&record));
    assert_eq!(kinds(&d), ["extend-zonal-shift"]);
    assert_eq!(d.actions[0].cooldown, std::time::Duration::ZERO);
}

#[test]
fn past_the_longest_shift_allowed_it_escalates_instead_of_extending() {
    let (world, mut record) = shifted(20, |_| {});
    record.actions[0].requested_at = now() - Duration::hours(24) + Duration::minutes(10);
    let d = decision(&world, Some(&record));
    assert_eq!(
        (d.verdict, guards(&d)),
        (Verdict::Escalate, vec!["shift-limit-reached"])
    );
}

#[test]
fn the_extension_asks_for_what_is_left_of_the_longest_shift_at_most() {
    let (world, mut record) = shifted(20, |_| {});
    let observed = world.observed();
    let incident = Incident::from_record(record.clone());
    let ours = observed.our_load_balancer_shift(&incident.id).unwrap();
    assert_eq!(
        super::policy::extension_length(&incident, ours, &policy(), now()),
        std::time::Duration::from_secs(3600)
    );
    record.actions[0].requested_at = now() - Duration::hours(23) - Duration::minutes(30);
    let incident = Incident::from_record(record);
    assert_eq!(
        super::policy::extension_length(&incident, ours, &policy(), now()),
        std::time::Duration::from_secs(1800)
    );
}

#[test]
fn a_failure_that_spreads_to_the_zones_carrying_the_traffic_escalates_and_the_shift_stays() {
    let (world, record) = shifted(52, |w| w.instances[0].2 = true);
    let d = decision(&world, Some(&record));
    assert_eq!(
        (d.verdict, guards(&d)),
        (Verdict::Escalate, vec!["impairment-spread"])
    );
    assert!(d.actions.is_empty());
}

#[test]
fn a_recovered_zone_is_returned_only_after_the_settle_time() {
    let (mut world, mut record) = shifted(52, |_| {});
    world.instances.iter_mut().for_each(|i| i.2 = false);
    let d = decision(&world, Some(&record));
    assert_eq!(d.verdict, Verdict::Recovering);
    assert!(d.waiting_for.as_deref().unwrap().contains("ends its shift"));
    record.evidence = Kept::of(&seen_healthy(minutes_ago(6)));
    let d = decision(&world, Some(&record));
    assert_eq!(kinds(&d), ["cancel-zonal-shift"]);
}

#[test]
fn after_its_own_cancel_a_healthy_zone_that_takes_traffic_resolves() {
    let mut record = confirmed();
    record.actions.push(action(
        START_ZONAL_SHIFT,
        ActionOutcome::Succeeded,
        minutes_ago(8),
    ));
    record.actions.push(action(
        CANCEL_ZONAL_SHIFT,
        ActionOutcome::Succeeded,
        minutes_ago(1),
    ));
    let d = decision(&World::default(), Some(&record));
    assert_eq!(d.verdict, Verdict::Resolve);
    assert!(d.summary.contains("takes traffic again"), "{}", d.summary);
}

#[test]
fn a_shift_rebound_did_not_start_is_never_extended_or_cancelled() {
    let record = confirmed();
    let mut world = World {
        on_load_balancer: vec![ZoneShift {
            expires_at: Some(now() + Duration::minutes(5)),
            ..someone_elses(ShiftType::ZonalShift, "us-east-1b")
        }],
        ..World::default()
    };
    // Healthy for the settle time under someone else's shift: resolved, nothing called.
    let mut settled = record.clone();
    settled.evidence = Kept::of(&seen_healthy(minutes_ago(6)));
    let d = decision(&world, Some(&settled));
    assert_eq!(d.verdict, Verdict::Resolve);
    assert!(d.actions.is_empty());
    assert!(
        d.summary.contains("until its owner ends it"),
        "{}",
        d.summary
    );
    // Impaired under it, about to expire: followed, never extended.
    world.fail("us-east-1b");
    let d = decision(&world, Some(&record));
    assert_eq!(d.verdict, Verdict::Underway);
    assert!(d.actions.is_empty());
}

#[test]
fn a_shift_from_another_incident_does_not_count_as_this_one_s() {
    let record = confirmed();
    let mut other = incident_opened(minutes_ago(30), &Evidence::default());
    other.id = IncidentId::parse("inc-20261203T092900Z-00000001").unwrap();
    let world = World {
        on_load_balancer: vec![our_shift(
            &other,
            minutes_ago(29),
            now() + Duration::minutes(10),
        )],
        ..World::b_down()
    };
    let d = decision(&world, Some(&record));
    assert_eq!(d.verdict, Verdict::Underway);
    assert!(d.actions.is_empty());
}

// ---- settling a lost answer ----

#[test]
fn a_shift_written_ahead_and_never_recorded_is_settled_by_what_is_in_effect() {
    let (world, record) = shifted(52, |_| {});
    let incident = Incident::from_record(record);
    let pending = action(START_ZONAL_SHIFT, ActionOutcome::Pending, minutes_ago(10));
    assert_eq!(
        settle_pending(&pending, &world.observed(), &incident.id, &policy(), now()).map(|s| s.0),
        Some(ActionOutcome::Succeeded)
    );
    let nothing = World::b_down().observed();
    assert_eq!(
        settle_pending(&pending, &nothing, &incident.id, &policy(), now()).map(|s| s.0),
        Some(ActionOutcome::Failed)
    );
    let recent = action(START_ZONAL_SHIFT, ActionOutcome::Pending, minutes_ago(1));
    assert_eq!(
        settle_pending(&recent, &nothing, &incident.id, &policy(), now()),
        None
    );
}

#[test]
fn the_recovery_objective_is_the_strictest_tag_or_the_zone_default() {
    let mut observed = World::b_down().observed();
    assert_eq!(recovery_objective_of(&policy(), &observed), Some(900));
    observed
        .load_balancer
        .tags
        .insert(crate::policy::RTO_TAG.into(), "120".into());
    observed.groups[0]
        .tags
        .insert(crate::policy::RTO_TAG.into(), "300".into());
    assert_eq!(recovery_objective_of(&policy(), &observed), Some(120));
}

#[test]
fn a_paused_load_balancer_gets_no_shift_and_its_incident_is_suppressed() {
    let mut observed = World::b_down().observed();
    observed.load_balancer.tags.insert(
        crate::pause::PAUSED_UNTIL_TAG.to_owned(),
        "2026-12-03T12:00:00Z".to_owned(),
    );
    let incident = Incident::from_record(confirmed());
    let d = decide(
        &observed,
        &Cue::Look,
        History {
            incident: Some(&incident),
            ledgers: &BTreeMap::new(),
        },
        &policy(),
        now(),
    );
    assert_eq!((d.verdict, guards(&d)), (Verdict::Suppress, vec!["paused"]));
    assert!(d.actions.is_empty());
    // In its maintenance window instead (now() is Thursday 10:00 UTC): held.
    observed.load_balancer.tags.clear();
    observed
        .load_balancer
        .tags
        .insert(TAG.to_owned(), "true".to_owned());
    observed.load_balancer.tags.insert(
        crate::pause::MAINTENANCE_WINDOW_TAG.to_owned(),
        "thu:09:00-thu:12:00".to_owned(),
    );
    let d = decide(
        &observed,
        &Cue::Look,
        History {
            incident: Some(&incident),
            ledgers: &BTreeMap::new(),
        },
        &policy(),
        now(),
    );
    assert_eq!(
        (d.verdict, guards(&d)),
        (Verdict::Hold, vec!["maintenance-window"])
    );
    // A pause on a group behind it stops the shift too: the shift would move the group.
    observed
        .load_balancer
        .tags
        .remove(crate::pause::MAINTENANCE_WINDOW_TAG);
    observed.groups[0].tags.insert(
        crate::pause::PAUSED_UNTIL_TAG.to_owned(),
        "2026-12-03T12:00:00Z".to_owned(),
    );
    let d = decide(
        &observed,
        &Cue::Look,
        History {
            incident: Some(&incident),
            ledgers: &BTreeMap::new(),
        },
        &policy(),
        now(),
    );
    assert_eq!((d.verdict, guards(&d)), (Verdict::Suppress, vec!["paused"]));
    assert!(d.refusals[0].detail.starts_with("group "), "{d:?}");
}

// ---- approvals: auto, approve, never ------------------------------------------------

fn decide_observed(observed: &ObservedZone, record: &IncidentRecord, policy: &Policy) -> Decision {
    let incident = Incident::from_record(record.clone());
    decide(
        observed,
        &Cue::Look,
        History {
            incident: Some(&incident),
            ledgers: &BTreeMap::new(),
        },
        policy,
        now(),
    )
}

#[test]
fn a_shift_in_approve_mode_awaits_a_person_and_a_bad_tag_leaves_the_mode_as_configured() {
    let mut approving = policy();
    approving.settings.approvals.modes =
        BTreeMap::from([(START_ZONAL_SHIFT, crate::config::ApprovalMode::Approve)]);
    let observed = World::b_down().observed();
    let d = decide_observed(&observed, &confirmed(), &approving);
    assert_eq!(d.verdict, Verdict::AwaitApproval, "{d:?}");
    assert_eq!(kinds(&d), ["start-zonal-shift"]);
    assert_eq!(guards(&d), ["approval-required"]);
    let mut bad = observed.clone();
    bad.load_balancer
        .tags
        .insert(crate::approval::APPROVAL_TAG.into(), "later".into());
    assert_eq!(
        decide_observed(&bad, &confirmed(), &approving).verdict,
        Verdict::AwaitApproval
    );
    assert_eq!(
        decide_observed(&bad, &confirmed(), &policy()).verdict,
        Verdict::Remediate
    );
}

#[test]
fn a_load_balancer_tagged_never_gets_no_shift_and_escalates() {
    let mut observed = World::b_down().observed();
    observed
        .load_balancer
        .tags
        .insert(crate::approval::APPROVAL_TAG.into(), "never".into());
    let d = decide_observed(&observed, &confirmed(), &policy());
    assert_eq!(
        (d.verdict, guards(&d)),
        (Verdict::Escalate, vec!["approval-never"])
    );
    assert!(d.actions.is_empty());
}

#[test]
fn extending_rebounds_own_shift_never_waits_for_approval() {
    let (world, record) = shifted(25, |_| {});
    let mut observed = world.observed();
    observed
        .load_balancer
        .tags
        .insert(crate::approval::APPROVAL_TAG.into(), "approve".into());
    let d = decide_observed(&observed, &record, &policy());
    assert_eq!(kinds(&d), ["extend-zonal-shift"], "{d:?}");
    assert_eq!(d.verdict, Verdict::Remediate);
}
