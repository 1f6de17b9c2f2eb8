//! Unit tier for the drill: the transitions, the pure decisions, and the runner with
//! fake ports — above all, that the restore runs on every path once anything may have
//! been touched.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rebound::domain::{
    Action, ActionOutcome, DrillMark, Evidence, Incident, IncidentState, Opening,
};
use rebound::ids::{AutoScalingGroupName, DbInstanceId, InstanceId, TargetGroupArn};
use rebound::kinds::database::observation::DbInstance;
use rebound::kinds::target_group;
use rebound::kinds::target_group::observation::{
    GroupInstance, ScalingGroup, TargetHealth, TargetState,
};

use super::*;
use crate::drill::ports::{GroupView, ReboundInfo};
use crate::drill::report::Outcome;

const TG: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2d6bc24d8a067";

fn t0() -> DateTime<Utc> {
    chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 26, 10, 0, 0).unwrap()
}

fn iid(n: u32) -> String {
    format!("i-{n:017x}")
}

/// The group with `members` (all InService and healthy) and their targets in `states`.
fn group_view(members: &[u32], states: &[TargetState]) -> GroupView {
    let mut tags = BTreeMap::new();
    tags.insert("rebound:managed".to_owned(), "true".to_owned());
    GroupView {
        group: ScalingGroup {
            name: AutoScalingGroupName::parse("web-asg").unwrap(),
            tags,
            suspended_processes: vec![],
            instances: members
                .iter()
                .map(|n| GroupInstance {
                    instance_id: InstanceId::parse(iid(*n)).unwrap(),
                    lifecycle_state: "InService".into(),
                    health_status: "Healthy".into(),
                    availability_zone: None,
                })
                .collect(),
            target_group_arns: vec![TargetGroupArn::parse(TG).unwrap()],
            instance_refresh_in_progress: false,
            desired_capacity: 4,
            health_check_grace_period_s: 60,
            launch_template: None,
            arn: None,
            max_size: 100,
            zonal_shift_enabled: false,
            health_check_type: "EC2".into(),
        },
        targets: members
            .iter()
            .zip(states)
            .map(|(n, state)| TargetHealth {
                instance_id: InstanceId::parse(iid(*n)).unwrap(),
                port: Some(80),
                state: state.clone(),
                reason: None,
                description: None,
            })
            .collect(),
    }
}

fn healthy_group(members: &[u32]) -> GroupView {
    group_view(members, &vec![TargetState::Healthy; members.len()])
}

fn snapshot(at_s: i64, groups: Vec<GroupView>, incidents: Vec<Incident>) -> Snapshot {
    Snapshot {
        at: t0() + chrono::Duration::seconds(at_s),
        groups,
        database: None,
        incidents,
        alarms_firing: vec![],
    }
}

/// A drill's incident as stored.
fn incident(opened_s: i64, state: IncidentState, acted_s: Option<i64>) -> Incident {
    let opened = Incident::open(
        Opening {
            resource: target_group::target_group(&TargetGroupArn::parse(TG).unwrap()),
            trigger: "sweep".into(),
            evidence: Evidence::default(),
            summary: "1 of 4 targets unhealthy".into(),
            rto_s: None,
            drill: Some("drill-1".into()),
        },
        t0() + chrono::Duration::seconds(opened_s),
    );
    opened.stored_with(|record| {
        if let Some(at) = acted_s {
            record.actions.push(Action {
                kind: target_group::SET_INSTANCE_HEALTH,
                target: target_group::instance(&InstanceId::parse(iid(1)).unwrap()),
                scope: target_group::auto_scaling_group(
                    &AutoScalingGroupName::parse("web-asg").unwrap(),
                ),
                requested_at: t0() + chrono::Duration::seconds(at),
                outcome: ActionOutcome::Succeeded,
                dry_run: false,
                detail: None,
                completed_at: None,
                writer: None,
                configuration: None,
            });
        }
        record.state = state;
    })
}

// ------------------------------------------------------------------- fakes

#[derive(Default)]
struct FakeInjector {
    /// Fail the injection after applying this many of its two steps.
    fail_after: Option<usize>,
    applied: Vec<&'static str>,
    restores: usize,
    restore_error: Option<String>,
}

impl Injector for FakeInjector {
    fn plan(&self) -> String {
        "stop i-1 in web-asg".into()
    }

    async fn inject(&mut self) -> Result<Injected, DrillError> {
        for (n, step) in ["remove subnet", "block subnet"].into_iter().enumerate() {
            if self.fail_after == Some(n) {
                return Err(DrillError::Invalid(format!("{step} failed")));
            }
            self.applied.push(step);
        }
        Ok(Injected {
            what: "stopped i-1".into(),
            at: t0(),
            instance: Some(iid(1)),
        })
    }

    async fn restore(&mut self) -> Result<Vec<String>, DrillError> {
        self.restores += 1;
        let undone = std::mem::take(&mut self.applied)
            .into_iter()
            .rev()
            .map(|s| format!("undid {s}"))
            .collect();
        match self.restore_error.take() {
            Some(err) => Err(DrillError::Invalid(err)),
            None => Ok(undone),
        }
    }
}

/// Answers the snapshots in order, the last one again and again.
struct FakeObserver {
    snapshots: RefCell<VecDeque<Result<Snapshot, String>>>,
    open: Vec<Incident>,
}

impl FakeObserver {
    fn new(snapshots: Vec<Result<Snapshot, String>>) -> Self {
        Self {
            snapshots: RefCell::new(snapshots.into()),
            open: vec![],
        }
    }
}

impl Observer for FakeObserver {
    async fn snapshot(&self, _drill_id: &str) -> Result<Snapshot, DrillError> {
        let mut queue = self.snapshots.borrow_mut();
        let next = if queue.len() > 1 {
            queue.pop_front().unwrap()
        } else {
            queue.front().cloned().unwrap()
        };
        next.map_err(DrillError::Invalid)
    }

    async fn open_incidents_on(&self, _: &[ResourceRef]) -> Result<Vec<Incident>, DrillError> {
        Ok(self.open.clone())
    }
}

struct FakeDeployment {
    enforce: bool,
}

impl Deployment for FakeDeployment {
    async fn rebound(&self) -> Result<ReboundInfo, DrillError> {
        Ok(ReboundInfo {
            source: "fake".into(),
            enforce: self.enforce,
            managed_tag_key: "rebound:managed".into(),
            deployed: true,
        })
    }

    async fn tick(&self) -> Result<(), DrillError> {
        Ok(())
    }
}

#[derive(Default)]
struct FakeRecords {
    marked: RefCell<Vec<String>>,
    cleared: RefCell<Vec<String>>,
    appended: RefCell<Vec<(String, String)>>,
}

impl Records for FakeRecords {
    async fn mark(&self, _: &[ResourceRef], mark: &DrillMark) -> Result<(), DrillError> {
        self.marked.borrow_mut().push(mark.id.clone());
        Ok(())
    }

    async fn clear(&self, _: &[ResourceRef], drill_id: &str) -> Result<(), DrillError> {
        self.cleared.borrow_mut().push(drill_id.to_owned());
        Ok(())
    }

    async fn append(
        &self,
        incident: &Incident,
        _: DateTime<Utc>,
        detail: &str,
    ) -> Result<(), DrillError> {
        self.appended
            .borrow_mut()
            .push((incident.id.to_string(), detail.to_owned()));
        Ok(())
    }
}

struct FakeConsole {
    answer: bool,
    asked: usize,
    lines: Vec<String>,
}

impl Console for FakeConsole {
    fn confirm(&mut self, _question: &str) -> bool {
        self.asked += 1;
        self.answer
    }

    fn progress(&mut self, line: &str) {
        self.lines.push(line.to_owned());
    }
}

struct Harness {
    target: Target,
    injector: FakeInjector,
    observer: FakeObserver,
    deployment: FakeDeployment,
    records: FakeRecords,
    console: FakeConsole,
    limits: Limits,
    yes: bool,
}

impl Harness {
    fn new(snapshots: Vec<Result<Snapshot, String>>) -> Self {
        Self {
            target: Target::Group {
                name: "web-asg".into(),
                az: None,
            },
            injector: FakeInjector::default(),
            observer: FakeObserver::new(snapshots),
            deployment: FakeDeployment { enforce: true },
            records: FakeRecords::default(),
            console: FakeConsole {
                answer: true,
                asked: 0,
                lines: vec![],
            },
            limits: Limits {
                rto: Duration::from_secs(900),
                timeout: Duration::from_secs(3600),
                interval: Duration::from_millis(1),
                abort_if_healthy_below: None,
                abort_on_alarms: vec![],
            },
            yes: true,
        }
    }

    async fn run_until(&mut self, cancel: impl std::future::Future<Output = ()>) -> DrillResult {
        let drill = Drill {
            id: "drill-1".into(),
            target: self.target.clone(),
            via: "api".into(),
            limits: self.limits.clone(),
            yes: self.yes,
            allow_dry_run: false,
            marked: vec![target_group::target_group(
                &TargetGroupArn::parse(TG).unwrap(),
            )],
            injector: &mut self.injector,
            observer: &self.observer,
            deployment: &self.deployment,
            records: &self.records,
            console: &mut self.console,
            clock: t0,
        };
        run(drill, cancel).await.unwrap()
    }

    async fn run(&mut self) -> DrillResult {
        self.run_until(std::future::pending()).await
    }
}

fn before() -> Result<Snapshot, String> {
    Ok(snapshot(-1, vec![healthy_group(&[1, 2, 3, 4])], vec![]))
}

fn broken(at: i64, incidents: Vec<Incident>) -> Result<Snapshot, String> {
    Ok(snapshot(
        at,
        vec![group_view(
            &[1, 2, 3, 4],
            &[
                TargetState::Unused,
                TargetState::Healthy,
                TargetState::Healthy,
                TargetState::Healthy,
            ],
        )],
        incidents,
    ))
}

fn healed(at: i64, incidents: Vec<Incident>) -> Result<Snapshot, String> {
    Ok(snapshot(at, vec![healthy_group(&[2, 3, 4, 5])], incidents))
}

// ------------------------------------------------------------------- tests

#[test]
fn once_the_injection_started_every_way_out_goes_through_the_restore() {
    let events = [
        Event::PreflightPassed,
        Event::Refused(vec![]),
        Event::Confirmed,
        Event::Declined,
        Event::Injected,
        Event::InjectFailed("x".into()),
        Event::Decided(Outcome::Recovered, None),
        Event::Watching,
        Event::ObserveFailed("x".into()),
        Event::Cancelled,
        Event::Restored,
        Event::RestoreFailed("x".into()),
        Event::Reported,
    ];
    for event in &events {
        for phase in [Phase::Inject, Phase::Observe] {
            let to = next(phase, event);
            assert!(
                to == Phase::Restore || (to == Phase::Observe && phase != Phase::Restore),
                "{phase:?} --{event:?}--> {to:?}"
            );
        }
    }
    assert_eq!(next(Phase::Inject, &Event::Injected), Phase::Observe);
    assert_eq!(next(Phase::Observe, &Event::Watching), Phase::Observe);
    assert_eq!(
        next(Phase::Restore, &Event::RestoreFailed("x".into())),
        Phase::Report
    );
    assert_eq!(next(Phase::Preflight, &Event::Refused(vec![])), Phase::Done);
    assert_eq!(next(Phase::Confirm, &Event::Declined), Phase::Done);
}

#[tokio::test]
async fn a_stack_that_heals_within_its_rto_is_measured_restored_and_reported() {
    let mut h = Harness::new(vec![
        before(),
        broken(3, vec![incident(2, IncidentState::Remediating, Some(2))]),
        healed(40, vec![incident(2, IncidentState::Resolved, Some(2))]),
    ]);
    let result = h.run().await;
    assert_eq!(result.outcome, Outcome::Recovered, "{result:?}");
    assert_eq!(result.time_to_detect_s, Some(2));
    assert_eq!(result.time_to_first_action_s, Some(2));
    assert_eq!(result.first_action_by.as_deref(), Some("rebound"));
    assert_eq!(result.time_to_recover_s, Some(40));
    assert!(result.rto_met);
    assert_eq!(result.exit_code(), 0);
    assert_eq!(h.injector.restores, 1);
    assert_eq!(*h.records.marked.borrow(), ["drill-1"]);
    assert_eq!(*h.records.cleared.borrow(), ["drill-1"]);
    let appended = h.records.appended.borrow();
    assert_eq!(appended.len(), 1);
    assert!(
        appended[0].1.contains("recovered") && appended[0].1.contains("RTO 900 s, met"),
        "{}",
        appended[0].1
    );
    assert!(
        h.console
            .lines
            .iter()
            .any(|l| l.starts_with("observe +3s  3/4 targets healthy (75%)")
                && l.contains("remediating")),
        "{:?}",
        h.console.lines
    );
}

/// A zone incident of the drill, mitigated `mitigated_s` after t0 (if at all).
fn zone_incident(state: IncidentState, mitigated_s: Option<i64>) -> Incident {
    incident(2, state, Some(5)).stored_with(|record| {
        record.mitigated_at = mitigated_s.map(|s| t0() + chrono::Duration::seconds(s));
    })
}

#[tokio::test]
async fn a_zone_drill_passes_on_mitigation_within_the_rto_and_measures_the_return_after_the_restore(
) {
    let mut h = Harness::new(vec![
        before(),
        broken(3, vec![zone_incident(IncidentState::Open, None)]),
        broken(9, vec![zone_incident(IncidentState::Remediating, Some(8))]),
        // After the restore: Rebound ends its shift, the zone serves again.
        broken(30, vec![zone_incident(IncidentState::Remediating, Some(8))]),
        healed(70, vec![zone_incident(IncidentState::Resolved, Some(8))]),
    ]);
    h.target = Target::Group {
        name: "web-asg".into(),
        az: Some("us-east-1b".into()),
    };
    h.limits.rto = Duration::from_secs(20);
    let result = h.run().await;
    assert_eq!(result.outcome, Outcome::Mitigated, "{result:?}");
    assert_eq!(result.time_to_mitigate_s, Some(8));
    assert_eq!(result.time_to_recover_s, Some(70));
    assert!(result.rto_met);
    assert_eq!(result.exit_code(), 0);
    assert_eq!(h.injector.restores, 1);
    let table = result.table();
    assert!(
        table.contains("Time to mitigate 8 s vs RTO 20 s: met; time to recover 70 s"),
        "{table}"
    );
    assert!(result
        .timeline_line()
        .contains("time to mitigate 8 s (RTO 20 s, met)"));
}

#[tokio::test]
async fn a_zone_mitigated_past_the_rto_fails_the_drill() {
    let mut h = Harness::new(vec![
        before(),
        broken(
            60,
            vec![zone_incident(IncidentState::Remediating, Some(50))],
        ),
        healed(90, vec![zone_incident(IncidentState::Resolved, Some(50))]),
    ]);
    h.target = Target::Group {
        name: "web-asg".into(),
        az: Some("us-east-1b".into()),
    };
    h.limits.rto = Duration::from_secs(20);
    let result = h.run().await;
    assert_eq!(result.outcome, Outcome::MissedRto);
    assert!(!result.rto_met);
    assert_eq!(result.exit_code(), 1);
}

#[tokio::test]
async fn recovery_past_the_rto_exits_non_zero() {
    let mut h = Harness::new(vec![before(), broken(3, vec![]), healed(1000, vec![])]);
    let result = h.run().await;
    assert_eq!(result.outcome, Outcome::MissedRto);
    assert!(!result.rto_met);
    assert_eq!(result.exit_code(), 1);
    assert_eq!(h.injector.restores, 1);
}

#[tokio::test]
async fn a_group_that_replaces_the_instance_by_itself_is_the_first_action() {
    let mut h = Harness::new(vec![before(), healed(5, vec![])]);
    let result = h.run().await;
    assert_eq!(result.outcome, Outcome::Recovered);
    assert_eq!(result.first_action_by.as_deref(), Some("auto-scaling"));
    assert_eq!(result.detected_at, None);
}

#[tokio::test]
async fn an_injection_that_fails_half_way_is_restored() {
    let mut h = Harness::new(vec![before()]);
    h.injector.fail_after = Some(1);
    let result = h.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(result
        .reason
        .as_deref()
        .unwrap()
        .contains("block subnet failed"));
    assert_eq!(h.injector.restores, 1);
    assert_eq!(result.restored, ["undid remove subnet"]);
    assert_eq!(*h.records.cleared.borrow(), ["drill-1"]);
    assert_eq!(result.exit_code(), 1);
}

#[tokio::test]
async fn an_observation_that_fails_is_restored() {
    let mut h = Harness::new(vec![
        before(),
        broken(3, vec![]),
        Err("DescribeTargetHealth failed".into()),
    ]);
    let result = h.run().await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(result
        .reason
        .as_deref()
        .unwrap()
        .contains("DescribeTargetHealth failed"));
    assert_eq!(h.injector.restores, 1);
    assert_eq!(
        result.restored,
        ["undid block subnet", "undid remove subnet"]
    );
}

#[tokio::test]
async fn ctrl_c_while_watching_restores() {
    let mut h = Harness::new(vec![before(), broken(3, vec![])]);
    h.limits.interval = Duration::from_secs(3600);
    let result = h
        .run_until(async { tokio::time::sleep(Duration::from_millis(20)).await })
        .await;
    assert_eq!(result.outcome, Outcome::Cancelled);
    assert_eq!(h.injector.restores, 1);
    assert_eq!(result.exit_code(), 1);
}

#[tokio::test]
async fn a_restore_that_fails_is_reported_for_a_person_and_exits_non_zero() {
    let mut h = Harness::new(vec![before(), healed(5, vec![])]);
    h.injector.restore_error = Some("ReplaceNetworkAclAssociation failed".into());
    let result = h.run().await;
    assert_eq!(result.outcome, Outcome::Recovered);
    assert_eq!(result.exit_code(), 1);
    assert!(result.table().contains("NOT RESTORED (put right by hand)"));
}

#[tokio::test]
async fn a_stop_condition_trips_restores_and_exits_non_zero() {
    let mut h = Harness::new(vec![before(), broken(3, vec![])]);
    h.limits.abort_if_healthy_below = Some(80);
    let result = h.run().await;
    assert_eq!(result.outcome, Outcome::Aborted);
    assert!(result
        .reason
        .as_deref()
        .unwrap()
        .contains("75% of the capacity is healthy, below 80%"));
    assert_eq!(h.injector.restores, 1);

    let mut h = Harness::new(vec![before(), {
        let mut s = broken(3, vec![]).unwrap();
        s.alarms_firing = vec!["web-5xx".into()];
        Ok(s)
    }]);
    h.limits.abort_on_alarms = vec!["web-5xx".into()];
    let result = h.run().await;
    assert_eq!(result.outcome, Outcome::Aborted);
    assert!(result.reason.as_deref().unwrap().contains("alarm web-5xx"));
    assert_eq!(h.injector.restores, 1);
}

#[tokio::test]
async fn no_verified_recovery_before_the_timeout_is_not_recovered() {
    let mut h = Harness::new(vec![
        before(),
        broken(30, vec![incident(2, IncidentState::Open, None)]),
    ]);
    h.limits.timeout = Duration::from_secs(20);
    let result = h.run().await;
    assert_eq!(result.outcome, Outcome::NotRecovered);
    assert!(result
        .reason
        .as_deref()
        .unwrap()
        .contains("not recovered within 20 s"));
    assert_eq!(result.time_to_detect_s, Some(2));
    assert_eq!(result.first_action_at, None, "nothing acted");
    assert_eq!(result.exit_code(), 1);
    assert_eq!(h.injector.restores, 1);
}

#[tokio::test]
async fn preflight_refuses_without_touching_anything() {
    // Dry-run, an unhealthy stack and an open incident.
    let mut h = Harness::new(vec![broken(0, vec![])]);
    h.deployment.enforce = false;
    h.observer.open = vec![incident(0, IncidentState::Open, None)];
    let result = h.run().await;
    assert_eq!(result.outcome, Outcome::Refused);
    assert_eq!(result.exit_code(), 2);
    assert_eq!(result.refusals.len(), 3, "{:?}", result.refusals);
    assert!(result.refusals[0].contains("dry-run"));
    assert!(result.refusals[1].contains("not healthy"));
    assert_eq!(h.injector.restores, 0);
    assert!(h.injector.applied.is_empty());
    assert!(h.records.marked.borrow().is_empty());

    let mut unmanaged = healthy_group(&[1, 2, 3, 4]);
    unmanaged.group.tags.clear();
    let mut h = Harness::new(vec![Ok(snapshot(0, vec![unmanaged], vec![]))]);
    let result = h.run().await;
    assert_eq!(result.outcome, Outcome::Refused);
    assert!(
        result.refusals[0].contains("not managed"),
        "{:?}",
        result.refusals
    );
}

#[tokio::test]
async fn without_yes_the_drill_asks_and_a_no_touches_nothing() {
    let mut h = Harness::new(vec![before()]);
    h.yes = false;
    h.console.answer = false;
    let result = h.run().await;
    assert_eq!(h.console.asked, 1);
    assert_eq!(result.outcome, Outcome::Declined);
    assert_eq!(result.exit_code(), 2);
    assert!(h.injector.applied.is_empty());
    assert_eq!(h.injector.restores, 0);
}

#[test]
fn a_database_recovers_when_available_with_its_primary_in_the_other_zone() {
    let db = |status: &str, az: &str| DbInstance {
        id: DbInstanceId::parse("web-db").unwrap(),
        status: status.into(),
        multi_az: true,
        primary_az: Some(az.into()),
        standby_az: None,
        tags: BTreeMap::new(),
        cluster: None,
    };
    let target = Target::Database {
        id: "web-db".into(),
    };
    let injected = Injected {
        what: "rebooted web-db with failover".into(),
        at: t0(),
        instance: None,
    };
    let baseline = Baseline {
        members: vec![],
        primary_az: Some("us-east-1a".into()),
    };
    let at = |status: &str, az: &str| Snapshot {
        database: Some(db(status, az)),
        ..snapshot(10, vec![], vec![])
    };
    assert_eq!(
        unrecovered(
            &target,
            &injected,
            &baseline,
            &at("rebooting", "us-east-1a")
        )
        .as_deref(),
        Some("web-db is rebooting")
    );
    assert!(unrecovered(
        &target,
        &injected,
        &baseline,
        &at("available", "us-east-1a")
    )
    .unwrap()
    .contains("still in us-east-1a"));
    assert_eq!(
        unrecovered(
            &target,
            &injected,
            &baseline,
            &at("available", "us-east-1b")
        ),
        None
    );
}
