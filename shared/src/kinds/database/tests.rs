//! Handler tier: the real rds-health function on every event file and on each
//! scenario, with in-memory ports.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Value};

use super::observation::{
    ClusterMember, DbCluster, DbInstance, FAILOVER_ALARMS_TAG, STATUSES_NEEDING_A_PERSON,
};
use super::*;
use crate::config::{Mode, Settings};
use crate::domain::{IncidentState, Ledger, LedgerEntry, Verdict};
use crate::fakes::{FakeDatabases, MemoryStore};
use crate::ids::IncidentId;
use crate::ports::IncidentStore;
use crate::shell::{Report, ReportStatus};

const SAMPLE_DB: &str = "rebound-demo-db";
/// The alarm of the sample events, which the sample database designates.
const SAMPLE_ALARM: &str = "rebound-demo-db-read-latency";

type Handler = crate::fakes::RdsHealthFunction;

struct World {
    rds: FakeDatabases,
    store: MemoryStore,
    handler: Handler,
}

use crate::fakes::rds_health as handler;

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events/rds-health")
}

fn event(name: &str) -> Value {
    let path = events_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// A sample RDS event dated now: what a failover Rebound just asked for produces.
fn event_now(name: &str) -> Value {
    let mut event = event(name);
    event["detail"]["Date"] = json!((Utc::now() + chrono::Duration::seconds(1)).to_rfc3339());
    event
}

async fn deliver(w: &World, event: Value) -> Report {
    w.handler
        .handle(event)
        .await
        .unwrap_or_else(|e| panic!("delivery failed: {e}"))
}

fn db_id() -> DbInstanceId {
    DbInstanceId::parse(SAMPLE_DB).unwrap()
}

/// The sample instance, designating the sample alarm for a failover.
fn instance(managed: bool, multi_az: bool) -> DbInstance {
    let mut tags = BTreeMap::from([(FAILOVER_ALARMS_TAG.to_owned(), SAMPLE_ALARM.to_owned())]);
    if managed {
        tags.insert("rebound:managed".to_owned(), "true".to_owned());
    }
    DbInstance {
        id: db_id(),
        status: "available".into(),
        multi_az,
        primary_az: Some("us-east-1a".into()),
        standby_az: multi_az.then(|| "us-east-1b".to_owned()),
        tags,
        cluster: None,
    }
}

fn enforce() -> Policy {
    Policy {
        settings: Settings {
            mode: Mode::Enforce,
            ..Settings::default()
        },
        ..Policy::default()
    }
}

fn world_with(db: DbInstance, policy: Policy) -> World {
    let rds = FakeDatabases::default();
    let store = MemoryStore::default();
    rds.add_instance(db);
    World {
        handler: handler(&rds, &store, policy),
        rds,
        store,
    }
}

fn world() -> World {
    world_with(instance(true, true), enforce())
}

/// The sample alarm in ALARM, as CloudWatch reports it from now on.
fn alarm_fires(w: &World) {
    w.rds.set_alarm(
        SAMPLE_ALARM,
        "ALARM",
        Utc::now() - chrono::Duration::minutes(1),
    );
}

fn reboot() -> (ActionKind, String) {
    (REBOOT_WITH_FAILOVER, SAMPLE_DB.to_owned())
}

#[tokio::test]
async fn every_sample_event_is_answered_without_error() {
    let mut names: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert!(names.len() >= 18, "{names:?}");
    for name in names {
        let w = world();
        let report = w
            .handler
            .handle(event(&name))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = if name == "alarm-other-metric.json" {
            ReportStatus::Ignored
        } else {
            ReportStatus::Checked
        };
        assert_eq!(report.status, expected, "{name}");
    }
}

#[tokio::test]
async fn an_alarm_on_a_managed_multi_az_instance_fails_it_over_once_and_records_the_zones() {
    let w = world();
    let report = deliver(&w, event("alarm-state-change.json")).await;
    assert_eq!(w.rds.failovers(), vec![reboot()]);
    assert_eq!(report.checks[0].verdict, Verdict::Remediate);
    let incidents = w.store.incidents();
    assert_eq!(incidents.len(), 1);
    let incident = &incidents[0];
    assert_eq!(incident.resource.kind, DB_INSTANCE);
    assert_eq!(incident.state, IncidentState::Remediating);
    assert_eq!(incident.trigger, "alarm:rebound-demo-db-read-latency");
    assert_eq!(incident.actions[0].kind, REBOOT_WITH_FAILOVER);
    assert_eq!(incident.actions[0].outcome, ActionOutcome::Succeeded);
    let database = evidence_of(incident);
    let before = database.before_failover.as_ref().unwrap();
    assert_eq!(before.primary_az.as_deref(), Some("us-east-1a"));
    assert_eq!(before.standby_az.as_deref(), Some("us-east-1b"));
}

#[tokio::test]
async fn the_alarm_action_payload_is_handled_like_the_eventbridge_event() {
    let w = world();
    deliver(&w, event("alarm-action.json")).await;
    assert_eq!(w.rds.failovers(), vec![reboot()]);
}

#[tokio::test]
async fn the_same_alarm_delivered_five_times_fails_over_once_in_one_incident() {
    let w = world();
    for _ in 0..5 {
        deliver(&w, event("alarm-state-change.json")).await;
    }
    assert_eq!(w.rds.failovers(), vec![reboot()]);
    let incidents = w.store.incidents();
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    assert_eq!(incidents[0].actions.len(), 1);
}

#[tokio::test]
async fn concurrent_alarms_converge_on_one_incident_and_one_failover() {
    let w = world();
    let deliveries = (0..20).map(|_| w.handler.handle(event("alarm-state-change.json")));
    for result in futures::future::join_all(deliveries).await {
        result.unwrap();
    }
    assert_eq!(w.rds.failovers(), vec![reboot()]);
    assert_eq!(w.store.incidents().len(), 1);
}

#[tokio::test]
async fn recovery_is_verified_after_the_failover_with_the_zones_after() {
    let w = world();
    w.rds.failover_does_nothing();
    deliver(&w, event("alarm-state-change.json")).await;
    // Rebooting with the standby taking over: not recovered yet.
    w.rds
        .update_instance(SAMPLE_DB, |db| db.status = "rebooting".into());
    let report = deliver(&w, event("scheduled-sweep.json")).await;
    assert_eq!(report.checks[0].verdict, Verdict::Recovering);
    // Available again, primary and standby swapped: verified.
    w.rds.update_instance(SAMPLE_DB, |db| {
        db.status = "available".into();
        std::mem::swap(&mut db.primary_az, &mut db.standby_az);
    });
    let report = deliver(&w, event("scheduled-sweep.json")).await;
    assert_eq!(report.checks[0].verdict, Verdict::Resolve);
    let incident = &w.store.incidents()[0];
    assert_eq!(incident.state, IncidentState::Resolved);
    assert!(incident.time_to_recover_s.is_some());
    let after = evidence_of(incident).after_failover.unwrap();
    assert_eq!(after.primary_az.as_deref(), Some("us-east-1b"));
    assert_eq!(after.standby_az.as_deref(), Some("us-east-1a"));
}

#[tokio::test]
async fn a_failover_completed_event_moves_the_incident_on_to_resolved() {
    let w = world();
    w.rds.failover_does_nothing();
    deliver(&w, event("alarm-state-change.json")).await;
    let report = deliver(&w, event_now("event-failover-completed.json")).await;
    assert_eq!(report.checks[0].verdict, Verdict::Resolve);
    let incident = &w.store.incidents()[0];
    assert_eq!(incident.state, IncidentState::Resolved);
    let events = &evidence_of(incident).events;
    assert!(events
        .iter()
        .any(|e| e.id.as_ref().map(|i| i.as_str()) == Some("RDS-EVENT-0049")));
    assert_eq!(w.rds.failovers().len(), 1);
}

#[tokio::test]
async fn a_failover_rds_started_by_itself_is_followed_and_resolved_when_it_completes() {
    let w = world();
    let report = deliver(&w, event_now("event-failover-started.json")).await;
    assert_eq!(report.checks[0].verdict, Verdict::Underway);
    let incident = &w.store.incidents()[0];
    assert_eq!(incident.state, IncidentState::Remediating);
    assert!(incident.actions.is_empty());
    deliver(&w, event_now("event-failover-completed.json")).await;
    let incident = &w.store.incidents()[0];
    assert_eq!(incident.state, IncidentState::Resolved);
    assert!(w.rds.failovers().is_empty(), "lifecycle events never act");
}

#[tokio::test]
async fn a_skipped_failover_of_a_database_still_sick_escalates_the_incident() {
    let w = world();
    w.rds.failover_does_nothing();
    deliver(&w, event("alarm-state-change.json")).await;
    alarm_fires(&w);
    deliver(&w, event_now("event-failover-skipped.json")).await;
    let incident = &w.store.incidents()[0];
    assert_eq!(incident.state, IncidentState::Escalated);
    assert!(incident
        .timeline
        .last()
        .unwrap()
        .detail
        .contains("RDS-EVENT-0034"));
}

#[tokio::test]
async fn a_skipped_failover_of_a_database_that_recovered_resolves_without_it() {
    let w = world();
    w.rds.failover_does_nothing();
    deliver(&w, event("alarm-state-change.json")).await;
    w.rds.set_alarm(SAMPLE_ALARM, "OK", Utc::now());
    let report = deliver(&w, event_now("event-failover-skipped.json")).await;
    assert_eq!(report.checks[0].verdict, Verdict::Resolve);
    let incident = &w.store.incidents()[0];
    assert_eq!(incident.state, IncidentState::Resolved);
    assert!(incident
        .timeline
        .last()
        .unwrap()
        .detail
        .contains("recovered without failover"));
}

#[tokio::test]
async fn a_single_az_instance_is_escalated_and_never_rebooted() {
    let w = world_with(instance(true, false), enforce());
    let report = deliver(&w, event("alarm-state-change.json")).await;
    assert!(w.rds.failovers().is_empty());
    assert_eq!(report.checks[0].refusals[0].guard, "not-multi-az");
    assert_eq!(w.store.incidents()[0].state, IncidentState::Escalated);
}

#[tokio::test]
async fn an_instance_that_is_not_available_is_not_rebooted() {
    let mut busy = instance(true, true);
    busy.status = "backing-up".into();
    let w = world_with(busy, enforce());
    let report = deliver(&w, event("alarm-state-change.json")).await;
    assert!(w.rds.failovers().is_empty());
    assert_eq!(report.checks[0].refusals[0].guard, "not-available");
    assert_eq!(w.store.incidents()[0].state, IncidentState::Open);
}

#[tokio::test]
async fn an_unmanaged_instance_is_reported_but_never_touched() {
    let w = world_with(instance(false, true), enforce());
    let report = deliver(&w, event("alarm-state-change.json")).await;
    assert!(w.rds.failovers().is_empty());
    assert_eq!(report.checks[0].refusals[0].guard, "not-managed");
    assert_eq!(w.store.incidents()[0].state, IncidentState::Open);
}

#[tokio::test]
async fn dry_run_records_the_failover_it_would_make_and_calls_nothing() {
    let w = world_with(
        instance(true, true),
        Policy {
            settings: Settings {
                mode: Mode::DryRun,
                ..Settings::default()
            },
            ..Policy::default()
        },
    );
    for _ in 0..3 {
        deliver(&w, event("alarm-state-change.json")).await;
    }
    assert!(w.rds.failovers().is_empty());
    let incident = &w.store.incidents()[0];
    assert_eq!(incident.actions.len(), 1);
    assert!(incident.actions[0].dry_run);
    assert_eq!(incident.actions[0].outcome, ActionOutcome::Simulated);
    assert_eq!(incident.state, IncidentState::Open);
}

#[tokio::test]
async fn the_alarm_back_to_ok_resolves_an_incident_that_was_only_observed() {
    let w = world_with(instance(false, true), enforce());
    deliver(&w, event("alarm-state-change.json")).await;
    let report = deliver(&w, event("alarm-state-change-ok.json")).await;
    assert_eq!(report.checks[0].verdict, Verdict::Resolve);
    assert_eq!(w.store.incidents()[0].state, IncidentState::Resolved);
}

#[tokio::test]
async fn an_instance_in_cooldown_from_an_earlier_failover_is_held() {
    let w = world();
    w.store.set_ledger(
        &db_instance(&db_id()),
        Ledger {
            entries: vec![LedgerEntry {
                at: Utc::now() - chrono::Duration::minutes(10),
                target: SAMPLE_DB.into(),
                incident: IncidentId::parse("inc-earlier").unwrap(),
                configuration: None,
            }],
            version: 0,
        },
    );
    let mut fresh = event("alarm-state-change.json");
    fresh["detail"]["state"]["timestamp"] = json!(Utc::now().to_rfc3339());
    let report = deliver(&w, fresh).await;
    assert!(w.rds.failovers().is_empty());
    assert_eq!(report.checks[0].refusals[0].guard, "cooldown");
}

#[tokio::test]
async fn a_failure_that_a_failover_cannot_fix_escalates_without_a_call() {
    let w = world();
    let report = deliver(&w, event("event-failure-storage.json")).await;
    assert_eq!(report.checks[0].verdict, Verdict::Escalate);
    assert!(w.rds.failovers().is_empty());
    for status in STATUSES_NEEDING_A_PERSON {
        let mut broken = instance(true, true);
        broken.status = status.into();
        let w = world_with(broken, enforce());
        let report = deliver(&w, event("alarm-state-change.json")).await;
        assert_eq!(report.checks[0].verdict, Verdict::Escalate, "{status}");
        assert!(w.rds.failovers().is_empty());
    }
}

#[tokio::test]
async fn an_unknown_event_is_recorded_as_an_observation_and_never_acted_on() {
    let w = world();
    let report = deliver(&w, event("event-unknown.json")).await;
    assert!(report
        .observation
        .as_deref()
        .unwrap()
        .contains("RDS-EVENT-0047"));
    assert_eq!(report.checks[0].verdict, Verdict::Healthy);
    assert!(w.store.incidents().is_empty());

    // With an incident open (observed only: unmanaged), the event joins its evidence.
    w.rds.update_instance(SAMPLE_DB, |db| {
        db.tags.remove("rebound:managed");
    });
    alarm_fires(&w);
    deliver(&w, event("alarm-state-change.json")).await;
    deliver(&w, event("event-unknown.json")).await;
    let incident = &w.store.incidents()[0];
    assert!(evidence_of(incident)
        .events
        .iter()
        .any(|e| e.id.as_ref().map(|i| i.as_str()) == Some("RDS-EVENT-0047")));
    assert!(w.rds.failovers().is_empty());
}

#[tokio::test]
async fn a_healthy_sweep_costs_the_listing_a_describe_and_its_designated_alarms_per_instance() {
    let w = world();
    let report = deliver(&w, event("scheduled-sweep.json")).await;
    assert_eq!(report.checks.len(), 1);
    assert_eq!(report.checks[0].verdict, Verdict::Healthy);
    // The listing, the instance, and the states of the alarms it designates: an alarm
    // whose delivery was lost is still seen.
    assert_eq!(w.rds.describe_calls(), 3);
    assert!(w.store.incidents().is_empty());

    let mut plain = instance(true, true);
    plain.tags.remove(FAILOVER_ALARMS_TAG);
    let w = world_with(plain, enforce());
    deliver(&w, event("scheduled-sweep.json")).await;
    assert_eq!(
        w.rds.describe_calls(),
        2,
        "no designated alarm, nothing to read"
    );
}

#[tokio::test]
async fn the_sweep_fails_over_on_a_designated_alarm_whose_delivery_was_lost() {
    let w = world();
    alarm_fires(&w);
    deliver(&w, event("scheduled-sweep.json")).await;
    assert_eq!(w.rds.failovers(), vec![reboot()]);
    assert_eq!(w.store.incidents()[0].trigger, "sweep");
}

#[tokio::test]
async fn an_alarm_the_database_does_not_designate_opens_nothing_and_never_fails_it_over() {
    let w = world();
    let mut cpu = event("alarm-state-change.json");
    cpu["detail"]["alarmName"] = json!("rebound-demo-db-cpu");
    cpu["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["name"] =
        json!("CPUUtilization");
    let report = deliver(&w, cpu).await;
    assert_eq!(report.checks[0].verdict, Verdict::Healthy);
    assert!(w.rds.failovers().is_empty());
    assert!(w.store.incidents().is_empty());
}

#[tokio::test]
async fn the_sweep_fails_over_once_a_held_incident_is_allowed_to() {
    let mut busy = instance(true, true);
    busy.status = "modifying".into();
    let w = world_with(busy, enforce());
    deliver(&w, event("alarm-state-change.json")).await;
    assert!(w.rds.failovers().is_empty());
    alarm_fires(&w);
    w.rds
        .update_instance(SAMPLE_DB, |db| db.status = "available".into());
    deliver(&w, event("scheduled-sweep.json")).await;
    assert_eq!(w.rds.failovers(), vec![reboot()]);
    assert_eq!(w.store.incidents().len(), 1);
}

#[tokio::test]
async fn the_intended_failover_is_stored_before_the_call_and_settled_by_the_sweep() {
    let w = world_with(
        instance(true, true),
        Policy {
            settings: Settings {
                pending_action_timeout: std::time::Duration::from_secs(1),
                ..enforce().settings
            },
            ..enforce()
        },
    );
    w.rds.hang_next_failover();
    let delivery = w.handler.handle(event("alarm-state-change.json"));
    let timed_out = tokio::time::timeout(std::time::Duration::from_millis(200), delivery).await;
    assert!(timed_out.is_err());
    let incident = &w.store.incidents()[0];
    assert_eq!(incident.state, IncidentState::Remediating);
    assert_eq!(incident.actions[0].outcome, ActionOutcome::Pending);

    let mut later = handler(&w.rds, &w.store, w.handler.kind.policy.clone());
    later.clock = || Utc::now() + chrono::Duration::minutes(5);
    later.handle(event("scheduled-sweep.json")).await.unwrap();
    let incident = &w.store.incidents()[0];
    assert_eq!(incident.actions[0].outcome, ActionOutcome::Failed);
    assert!(incident.timeline.iter().any(|t| t.event == "settled"));
}

#[tokio::test]
async fn a_failover_already_underway_counts_as_requested() {
    let w = world();
    w.rds.underway_next_failover();
    deliver(&w, event("alarm-state-change.json")).await;
    let action = &w.store.incidents()[0].actions[0];
    assert_eq!(action.outcome, ActionOutcome::Succeeded);
    assert!(action
        .detail
        .as_deref()
        .unwrap()
        .contains("already failing over"));
}

#[tokio::test]
async fn a_failed_failover_call_is_recorded_and_reported_for_retry() {
    let w = world();
    w.rds.fail_next_failover(Error::Aws {
        operation: "RebootDBInstance",
        retryable: true,
        detail: "Throttling: Rate exceeded".into(),
        source: "Throttling".into(),
    });
    let err = w
        .handler
        .handle(event("alarm-state-change.json"))
        .await
        .unwrap_err();
    assert!(err.is_retryable());
    let incident = &w.store.incidents()[0];
    assert_eq!(incident.actions[0].outcome, ActionOutcome::Failed);
}

#[tokio::test]
async fn a_deleted_instance_closes_its_incident() {
    let w = world_with(instance(false, true), enforce());
    deliver(&w, event("alarm-state-change.json")).await;
    w.rds.delete_instance(&db_id());
    let report = deliver(&w, event("alarm-state-change.json")).await;
    assert_eq!(report.checks[0].verdict, Verdict::Gone);
    assert!(w.store.open_incidents().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_malformed_event_is_an_invalid_event_error_and_nothing_is_called() {
    let w = world();
    let mut broken = event("event-failover-completed.json");
    broken["detail"]["SourceArn"] = json!("arn:aws:rds:us-east-1:123456789012:db:bad--name");
    let err = w.handler.handle(broken).await.unwrap_err();
    assert!(matches!(err, Error::InvalidEvent(_)), "{err}");
    assert_eq!(w.rds.describe_calls(), 0);
}

#[tokio::test]
async fn a_sick_cluster_writer_is_failed_over_through_its_cluster() {
    let w = world();
    let cluster = DbClusterId::parse("rebound-demo-cluster").unwrap();
    w.rds.update_instance(SAMPLE_DB, |db| {
        db.cluster = Some(cluster.clone());
        db.multi_az = false;
    });
    w.rds.add_cluster(DbCluster {
        id: cluster.clone(),
        status: "available".into(),
        tags: BTreeMap::from([("rebound:managed".to_owned(), "true".to_owned())]),
        members: vec![
            ClusterMember {
                instance: db_id(),
                writer: true,
            },
            ClusterMember {
                instance: DbInstanceId::parse("rebound-demo-db-2").unwrap(),
                writer: false,
            },
        ],
    });
    deliver(&w, event("alarm-state-change.json")).await;
    assert_eq!(
        w.rds.failovers(),
        vec![(FAILOVER_DB_CLUSTER, cluster.to_string())]
    );
    // The fake promoted the reader: the next look verifies it.
    let report = deliver(&w, event("scheduled-sweep.json")).await;
    assert_eq!(report.checks[0].verdict, Verdict::Resolve);
    let after = evidence_of(&w.store.incidents()[0]).after_failover.unwrap();
    assert_eq!(after.writer.as_deref(), Some("rebound-demo-db-2"));
}

fn evidence_of(incident: &crate::domain::Incident) -> observation::DatabaseEvidence {
    incident
        .evidence
        .read::<Evidence>()
        .unwrap()
        .database
        .unwrap()
}

/// The sample instance as the writer of a managed cluster with one reader.
fn clustered(w: &World) -> DbClusterId {
    let cluster = DbClusterId::parse("rebound-demo-cluster").unwrap();
    w.rds.update_instance(SAMPLE_DB, |db| {
        db.cluster = Some(cluster.clone());
        db.multi_az = false;
    });
    let reader = DbInstanceId::parse("rebound-demo-db-2").unwrap();
    let mut second = instance(true, false);
    second.id = reader.clone();
    second.cluster = Some(cluster.clone());
    w.rds.add_instance(second);
    w.rds.add_cluster(DbCluster {
        id: cluster.clone(),
        status: "available".into(),
        tags: BTreeMap::from([("rebound:managed".to_owned(), "true".to_owned())]),
        members: vec![
            ClusterMember {
                instance: db_id(),
                writer: true,
            },
            ClusterMember {
                instance: reader,
                writer: false,
            },
        ],
    });
    cluster
}

#[tokio::test]
async fn a_cluster_failover_event_reaches_its_members_and_the_writer_s_incident_follows_it() {
    let w = world();
    clustered(&w);
    let report = deliver(&w, event_now("event-cluster-failover-started.json")).await;
    let verdicts: Vec<(String, Verdict)> = report
        .checks
        .iter()
        .map(|c| (c.resource.id.clone(), c.verdict))
        .collect();
    assert_eq!(
        verdicts,
        [
            (SAMPLE_DB.to_owned(), Verdict::Underway),
            ("rebound-demo-db-2".to_owned(), Verdict::Healthy)
        ]
    );
    let incidents = w.store.incidents();
    assert_eq!(incidents.len(), 1, "the writer's only");
    assert_eq!(incidents[0].state, IncidentState::Remediating);
    assert!(w.rds.failovers().is_empty());
    // The cluster completes it (the reader is the writer now): verified, resolved.
    w.rds.update_cluster("rebound-demo-cluster", |c| {
        for member in &mut c.members {
            member.writer = !member.writer;
        }
    });
    deliver(&w, event_now("event-cluster-failover-completed.json")).await;
    assert_eq!(w.store.incidents()[0].state, IncidentState::Resolved);
}

#[tokio::test]
async fn a_cluster_s_own_failover_counts_against_its_members_cooldown() {
    let w = world();
    clustered(&w);
    w.rds.add_event(observation::RdsEvent {
        id: None,
        categories: vec!["failover".into()],
        message: "Completed failover to DB instance: rebound-demo-db".into(),
        at: Utc::now() - chrono::Duration::minutes(5),
        cluster: Some(DbClusterId::parse("rebound-demo-cluster").unwrap()),
    });
    let report = deliver(&w, event("alarm-state-change.json")).await;
    assert!(w.rds.failovers().is_empty(), "{report:?}");
    assert_eq!(report.checks[0].refusals[0].guard, "recent-failover");
}

#[tokio::test]
async fn a_late_failover_started_event_after_the_failover_resolved_opens_nothing() {
    let w = world();
    w.rds.failover_does_nothing();
    deliver(&w, event("alarm-state-change.json")).await;
    deliver(&w, event_now("event-failover-completed.json")).await;
    assert_eq!(w.store.incidents()[0].state, IncidentState::Resolved);
    // The 0013 of that failover, delivered late (its own time is before the recovery),
    // or a duplicate of the 0049: nothing opens.
    let mut late = event("event-failover-started.json");
    late["detail"]["Date"] = json!((Utc::now() - chrono::Duration::minutes(1)).to_rfc3339());
    let report = deliver(&w, late).await;
    assert_eq!(report.checks[0].verdict, Verdict::Healthy, "{report:?}");
    assert!(report.checks[0].summary.contains("late copy"));
    assert_eq!(w.store.incidents().len(), 1);
    // A new failure after the recovery still opens an incident.
    let report = deliver(&w, event_now("event-restart-error.json")).await;
    assert_ne!(report.checks[0].verdict, Verdict::Healthy);
    assert_eq!(w.store.incidents().len(), 2);
}
