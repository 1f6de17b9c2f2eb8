//! Integration tier for the shapes real outages take (issue 17): the real rds-health and
//! target-health handlers with real SDK clients against the emulator, each test one
//! shape — a busy-database alarm, a failover with every web target failing, a
//! grace-period no-op, a skipped or refused failover, a held incident past its
//! objective, an absurd tag value, a late RDS-EVENT-0013, a cluster failover. Time is
//! moved by the handlers' injected clocks, as in `alb_real_world.rs`.

use aws_sdk_autoscaling::Client as AutoScalingClient;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, StateValue, Statistic};
use aws_sdk_cloudwatch::Client as CloudWatchClient;
use aws_sdk_rds::Client as RdsClient;
use chrono::{DateTime, Duration, Utc};
use rebound::config::Mode;
use rebound::domain::{ActionOutcome, Incident, IncidentState, ResourceType, Verdict};
use rebound::kinds::{database, target_group};
use rebound_tests::scenario::{scenario, Scenario};
use rebound_tests::stack::{Database, Managed};
use rebound_tests::{sample_event, Emulator, Stack};
use serde_json::{json, Value};

const RTO_TAG: &str = "rebound:rto-seconds";
const FAILOVER_ALARMS_TAG: &str = "rebound:failover-alarms";
const SUSPENDED_BY_TAG: &str = "rebound:suspended-replace-unhealthy";

fn in_6_minutes() -> DateTime<Utc> {
    Utc::now() + Duration::minutes(6)
}

fn in_10_minutes() -> DateTime<Utc> {
    Utc::now() + Duration::minutes(10)
}

fn in_12_minutes() -> DateTime<Utc> {
    Utc::now() + Duration::minutes(12)
}

fn in_13_minutes() -> DateTime<Utc> {
    Utc::now() + Duration::minutes(13)
}

fn in_16_minutes() -> DateTime<Utc> {
    Utc::now() + Duration::minutes(16)
}

fn in_20_minutes() -> DateTime<Utc> {
    Utc::now() + Duration::minutes(20)
}

fn in_21_minutes() -> DateTime<Utc> {
    Utc::now() + Duration::minutes(21)
}

fn db_sweep() -> Value {
    sample_event("rds-health/scheduled-sweep.json")
}

fn tg_sweep() -> Value {
    sample_event("target-health/scheduled-sweep.json")
}

/// A scenario on a stack `provision` makes.
async fn provisioned(provision: impl FnOnce(&Emulator) -> Stack) -> Scenario {
    let emulator = Emulator::start();
    let stack = provision(&emulator);
    let sdk = emulator.sdk_config().await;
    emulator.clear_requests();
    Scenario {
        emulator,
        stack,
        sdk,
    }
}

/// rds-health as deployed (enforce), reading the time from `clock`.
fn rds_health(s: &Scenario, clock: fn() -> DateTime<Utc>) -> rebound::aws::RdsHealthFunction {
    let mut handler = rebound::aws::rds_health(&s.stack.rds_health_config(Mode::Enforce), &s.sdk);
    handler.clock = clock;
    handler
}

/// target-health as deployed (enforce), reading the time from `clock`.
fn target_health(s: &Scenario, clock: fn() -> DateTime<Utc>) -> rebound::aws::TargetHealthFunction {
    let mut handler = s.target_health(Mode::Enforce);
    handler.clock = clock;
    handler
}

async fn incidents_of(s: &Scenario, kind: ResourceType) -> Vec<Incident> {
    s.incidents()
        .await
        .into_iter()
        .filter(|i| i.resource.kind == kind)
        .collect()
}

async fn db_incident(s: &Scenario) -> Incident {
    let mut incidents = incidents_of(s, database::DB_INSTANCE).await;
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    incidents.remove(0)
}

async fn web_incident(s: &Scenario) -> Incident {
    let mut incidents = incidents_of(s, target_group::TARGET_GROUP).await;
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    incidents.remove(0)
}

/// Every call that fails a database over, whoever answered it.
fn failovers(s: &Scenario) -> usize {
    s.emulator.calls_of("RebootDBInstance") + s.emulator.calls_of("FailoverDBCluster")
}

/// Mutating calls Rebound made on one service, in order.
fn mutating(s: &Scenario, service: &str) -> Vec<String> {
    s.mutating_fleet_calls()
        .into_iter()
        .filter(|(svc, _)| svc == service)
        .map(|(_, op)| op)
        .collect()
}

fn last_detail(incident: &Incident) -> &str {
    incident
        .timeline
        .last()
        .map_or("", |entry| entry.detail.as_str())
}

/// How often the incident's timeline says it escalated.
fn escalations(incident: &Incident) -> usize {
    incident
        .timeline
        .iter()
        .filter(|t| t.event == "escalated")
        .count()
}

fn database_evidence(incident: &Incident) -> database::observation::DatabaseEvidence {
    incident
        .evidence
        .read::<database::Evidence>()
        .expect("a database's evidence")
        .database
        .expect("the database section")
}

/// Where the primary is, as RDS reports it.
async fn primary_zone(s: &Scenario) -> String {
    RdsClient::new(&s.sdk)
        .describe_db_instances()
        .db_instance_identifier(s.stack.db())
        .send()
        .await
        .unwrap()
        .db_instances()[0]
        .availability_zone()
        .unwrap_or_default()
        .to_owned()
}

/// An `AWS/RDS` alarm on one DB instance, in the emulator's CloudWatch, in `state`.
async fn put_db_alarm(s: &Scenario, db: &str, name: &str, metric: &str, state: StateValue) {
    CloudWatchClient::new(&s.sdk)
        .put_metric_alarm()
        .alarm_name(name)
        .namespace("AWS/RDS")
        .metric_name(metric)
        .dimensions(
            Dimension::builder()
                .name("DBInstanceIdentifier")
                .value(db)
                .build(),
        )
        .statistic(Statistic::Average)
        .period(60)
        .evaluation_periods(1)
        .threshold(80.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .unwrap();
    set_alarm(s, name, state).await;
}

async fn set_alarm(s: &Scenario, name: &str, state: StateValue) {
    CloudWatchClient::new(&s.sdk)
        .set_alarm_state()
        .alarm_name(name)
        .state_value(state)
        .state_reason("set by the test")
        .send()
        .await
        .unwrap();
}

/// The alarm state change EventBridge delivers for alarm `name` on `metric` of `db`,
/// in ALARM since now.
fn db_alarm_event(db: &str, name: &str, metric: &str) -> Value {
    let mut event = sample_event("rds-health/alarm-state-change.json");
    event["resources"] = json!([format!(
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"
    )]);
    event["detail"]["alarmName"] = json!(name);
    event["detail"]["state"]["timestamp"] =
        json!(Utc::now().format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string());
    let metric_json = &mut event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"];
    metric_json["name"] = json!(metric);
    metric_json["dimensions"]["DBInstanceIdentifier"] = json!(db);
    event
}

/// A sample RDS event (`events/rds-health/`), dated a moment from now: what RDS
/// reports next.
fn rds_event_now(name: &str, db: Option<&str>) -> Value {
    let mut event = sample_event(&format!("rds-health/{name}"));
    if let Some(db) = db {
        let text = event.to_string().replace("rebound-demo-db", db);
        event = serde_json::from_str(&text).unwrap();
    }
    let at = Utc::now() + Duration::seconds(1);
    event["detail"]["Date"] = json!(at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
    event["time"] = json!(at.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    event
}

fn rds_tag(key: &str, value: &str) -> aws_sdk_rds::types::Tag {
    aws_sdk_rds::types::Tag::builder()
        .key(key)
        .value(value)
        .build()
}

async fn tag_db(s: &Scenario, key: &str, value: &str) {
    RdsClient::new(&s.sdk)
        .add_tags_to_resource()
        .resource_name(s.stack.db_instance_arn.as_deref().unwrap())
        .tags(rds_tag(key, value))
        .send()
        .await
        .unwrap();
}

/// The web group's suspended processes and its tags, as Auto Scaling reports them.
async fn web_group(s: &Scenario) -> (Vec<String>, Vec<(String, String)>) {
    let described = AutoScalingClient::new(&s.sdk)
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&s.stack.web().auto_scaling_group)
        .send()
        .await
        .unwrap();
    let group = &described.auto_scaling_groups()[0];
    let suspended = group
        .suspended_processes()
        .iter()
        .filter_map(|p| p.process_name().map(str::to_owned))
        .collect();
    let tags = group
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    (suspended, tags)
}

fn break_every_web_target(s: &Scenario) {
    for index in 0..s.stack.web().instance_ids.len() {
        s.break_instance(index);
    }
}

/// Every target's health check passes again.
fn heal_targets(s: &Scenario) {
    let (status, body) = s
        .emulator
        .control("DELETE", "/_rebound/target-health", None);
    assert_eq!(status, 200, "{body}");
}

// ---- 1. A busy-database alarm ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_database_alarm_never_fails_a_managed_multi_az_database_over_and_opens_nothing() {
    let s = scenario(Managed::Yes).await;
    let db = s.stack.db().to_owned();
    let handler = rds_health(&s, Utc::now);
    for (suffix, metric) in [
        ("cpu", "CPUUtilization"),
        ("free-storage", "FreeStorageSpace"),
        ("connections", "DatabaseConnections"),
    ] {
        let name = format!("{db}-{suffix}");
        put_db_alarm(&s, &db, &name, metric, StateValue::Alarm).await;
        let report = handler
            .handle(db_alarm_event(&db, &name, metric))
            .await
            .unwrap();
        assert_eq!(report.checks.len(), 1, "{metric}: {report:?}");
        assert_eq!(
            report.checks[0].verdict,
            Verdict::Healthy,
            "{metric}: {report:?}"
        );
    }
    // The sweep reads the alarm the database designates (OK), not the busy ones.
    let report = handler.handle(db_sweep()).await.unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Healthy, "{report:?}");
    assert_eq!(failovers(&s), 0);
    assert!(mutating(&s, "rds").is_empty());
    assert!(s.incidents().await.is_empty());
    assert_eq!(primary_zone(&s).await, "us-east-1a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_database_alarm_during_an_open_incident_is_kept_as_evidence_and_never_fails_it_over()
{
    let s = scenario(Managed::Yes).await;
    let db = s.stack.db().to_owned();
    let handler = rds_health(&s, Utc::now);
    // RDS is recovering the instance: an incident opens to watch it.
    s.emulator.set_db_status(&db, "rebooting");
    handler
        .handle(rds_event_now("event-recovery-started.json", Some(&db)))
        .await
        .unwrap();
    assert_eq!(db_incident(&s).await.state, IncidentState::Open);

    // Its CPU alarm goes off meanwhile: evidence on that incident.
    let cpu = format!("{db}-cpu");
    put_db_alarm(&s, &db, &cpu, "CPUUtilization", StateValue::Alarm).await;
    let busy = db_alarm_event(&db, &cpu, "CPUUtilization");
    handler.handle(busy.clone()).await.unwrap();
    let incident = db_incident(&s).await;
    assert_eq!(incident.state, IncidentState::Open);
    let evidence = database_evidence(&incident);
    let seen: Vec<(&str, &str)> = evidence
        .alarms
        .iter()
        .map(|a| (a.name.as_str(), a.state.as_str()))
        .collect();
    assert!(seen.contains(&(cpu.as_str(), "ALARM")), "{seen:?}");

    // The instance is available again, managed, Multi-AZ, its CPU alarm still in
    // ALARM: nothing designated says it is sick, so it recovered without a failover.
    s.emulator.set_db_status(&db, "available");
    let report = handler.handle(busy).await.unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Resolve, "{report:?}");
    let incident = db_incident(&s).await;
    assert_eq!(incident.state, IncidentState::Resolved);
    assert!(
        last_detail(&incident).contains("recovered without failover"),
        "{:?}",
        incident.timeline
    );
    assert!(incident.actions.is_empty());
    assert_eq!(failovers(&s), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_alarm_the_database_designates_by_name_prefix_fails_it_over() {
    // The form (a trailing `*`, which moto stores although RDS's own tag rules
    // allow no `*`) and the form RDS tag values allow (`prefix:`).
    for form in ["{db}-failover-*", "prefix:{db}-failover-"] {
        let s = scenario(Managed::Yes).await;
        let db = s.stack.db().to_owned();
        tag_db(&s, FAILOVER_ALARMS_TAG, &form.replace("{db}", &db)).await;
        s.emulator.clear_requests();
        let handler = rds_health(&s, Utc::now);

        let busy = format!("{db}-cpu");
        put_db_alarm(&s, &db, &busy, "CPUUtilization", StateValue::Alarm).await;
        let report = handler
            .handle(db_alarm_event(&db, &busy, "CPUUtilization"))
            .await
            .unwrap();
        assert_eq!(report.checks[0].verdict, Verdict::Healthy, "{form}");
        assert_eq!(failovers(&s), 0, "{form}");

        let designated = format!("{db}-failover-latency");
        put_db_alarm(&s, &db, &designated, "ReadLatency", StateValue::Alarm).await;
        let report = handler
            .handle(db_alarm_event(&db, &designated, "ReadLatency"))
            .await
            .unwrap();
        assert_eq!(
            report.checks[0].verdict,
            Verdict::Remediate,
            "{form}: {report:?}"
        );
        assert_eq!(mutating(&s, "rds"), ["RebootDBInstance"], "{form}");
        assert_eq!(primary_zone(&s).await, "us-east-1b", "{form}");
        let incident = db_incident(&s).await;
        assert_eq!(incident.trigger, format!("alarm:{designated}"), "{form}");
    }
}

// ---- 2. A failover with every web target failing ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_web_target_failing_during_a_failover_is_held_not_paged_and_its_own_replacement_suspended_then_resumed(
) {
    let s = scenario(Managed::Yes).await;
    s.elb_health_checks(60).await;
    s.emulator.clear_requests();
    s.emulator.set_rds_mode("phased");
    let database = rds_health(&s, Utc::now);
    database.handle(s.stack.rds_alarm_event()).await.unwrap();
    let failing_over = db_incident(&s).await;
    assert_eq!(failing_over.state, IncidentState::Remediating);

    // The web tier's deep health check fails on every target.
    break_every_web_target(&s);
    let web = target_health(&s, Utc::now);
    let report = web.handle(s.stack.alarm_event(0)).await.unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Suppress, "{report:?}");
    let guards: Vec<&str> = report.checks[0].refusals.iter().map(|r| r.guard).collect();
    assert!(
        guards.iter().all(|g| *g == "dependency-held"),
        "held, not a systemic failure: {guards:?}"
    );
    let held = web_incident(&s).await;
    assert_eq!(held.state, IncidentState::Suppressed);
    assert!(held
        .timeline
        .iter()
        .any(|t| t.detail.contains(failing_over.id.as_str())));
    // Nothing replaced; the group's own ELB health check replacement is suspended for
    // the hold, marked as Rebound's and recorded on the incident.
    assert_eq!(
        mutating(&s, "autoscaling"),
        ["CreateOrUpdateTags", "SuspendProcesses"]
    );
    let (suspended, tags) = web_group(&s).await;
    assert_eq!(suspended, ["ReplaceUnhealthy"]);
    assert!(
        tags.contains(&(SUSPENDED_BY_TAG.to_owned(), held.id.to_string())),
        "{tags:?}"
    );
    assert_eq!(held.actions.len(), 1);
    assert_eq!(
        held.actions[0].kind,
        target_group::SUSPEND_REPLACE_UNHEALTHY
    );
    assert_eq!(held.actions[0].outcome, ActionOutcome::Succeeded);

    // Looked at again while held: nothing more.
    web.handle(tg_sweep()).await.unwrap();
    assert_eq!(mutating(&s, "autoscaling").len(), 2);
    assert_eq!(web_incident(&s).await.state, IncidentState::Suppressed);

    // The failover completes and is verified; the web tier serves again. The next
    // sweep resumes what Rebound suspended and resolves the web incident.
    s.emulator.rds_advance();
    database.handle(db_sweep()).await.unwrap();
    assert_eq!(db_incident(&s).await.state, IncidentState::Resolved);
    heal_targets(&s);
    web.handle(tg_sweep()).await.unwrap();
    assert_eq!(
        mutating(&s, "autoscaling"),
        [
            "CreateOrUpdateTags",
            "SuspendProcesses",
            "ResumeProcesses",
            "DeleteTags"
        ]
    );
    let (suspended, tags) = web_group(&s).await;
    assert!(suspended.is_empty(), "{suspended:?}");
    assert!(tags.iter().all(|(k, _)| k != SUSPENDED_BY_TAG), "{tags:?}");
    let incident = web_incident(&s).await;
    assert_eq!(incident.state, IncidentState::Resolved);
    assert_eq!(escalations(&incident), 0);
    let kinds: Vec<&str> = incident.actions.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["suspend-replace-unhealthy", "resume-replace-unhealthy"]
    );
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 0);
    assert_eq!(
        s.emulator.calls_of("TerminateInstanceInAutoScalingGroup"),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replace_unhealthy_suspension_the_operator_made_is_never_resumed() {
    let s = scenario(Managed::Yes).await;
    s.elb_health_checks(60).await;
    AutoScalingClient::new(&s.sdk)
        .suspend_processes()
        .auto_scaling_group_name(&s.stack.web().auto_scaling_group)
        .scaling_processes("ReplaceUnhealthy")
        .send()
        .await
        .unwrap();
    s.emulator.clear_requests();
    s.emulator.set_rds_mode("phased");
    let database = rds_health(&s, Utc::now);
    database.handle(s.stack.rds_alarm_event()).await.unwrap();

    // Held for the failover: the group's replacement is already suspended (by the
    // operator), so Rebound suspends and tags nothing.
    let broken = s.break_instance(0);
    let report = target_health(&s, Utc::now)
        .handle(s.stack.alarm_event(0))
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Suppress, "{report:?}");
    assert!(web_incident(&s).await.actions.is_empty());

    // The failover completes and the hold lifts (no settle time here): the operator's
    // suspension still stops replacements, and is left alone.
    s.emulator.rds_advance();
    database.handle(db_sweep()).await.unwrap();
    assert_eq!(db_incident(&s).await.state, IncidentState::Resolved);
    let mut config = s.stack.target_health_config(Mode::Enforce);
    config.policy.dependency_settle = std::time::Duration::ZERO;
    let released = s.handler_with(&config);
    let report = released.handle(tg_sweep()).await.unwrap();
    assert_eq!(
        report.checks[0].refusals[0].guard, "group-cannot-heal",
        "{report:?}"
    );
    // The instance heals; the incident resolves; the suspension stays.
    heal_targets(&s);
    released.handle(tg_sweep()).await.unwrap();
    assert_eq!(web_incident(&s).await.state, IncidentState::Resolved);
    assert!(
        mutating(&s, "autoscaling").is_empty(),
        "{:?}",
        mutating(&s, "autoscaling")
    );
    let (suspended, tags) = web_group(&s).await;
    assert_eq!(suspended, ["ReplaceUnhealthy"]);
    assert!(tags.iter().all(|(k, _)| k != SUSPENDED_BY_TAG), "{tags:?}");
    assert!(s.group_instances().await.contains(&broken));
}

// ---- 3. A grace-period no-op ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacement_the_grace_period_swallowed_resolves_without_replacement_once_the_instance_serves_again(
) {
    let s = scenario(Managed::Yes).await;
    s.emulator.respect_grace_period(true);
    AutoScalingClient::new(&s.sdk)
        .update_auto_scaling_group()
        .auto_scaling_group_name(&s.stack.web().auto_scaling_group)
        .health_check_grace_period(300)
        .send()
        .await
        .unwrap();
    let broken = s.break_instance(0);
    target_health(&s, Utc::now)
        .handle(s.stack.alarm_event(0))
        .await
        .unwrap();
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 1);
    assert!(
        s.group_instances().await.contains(&broken),
        "AWS accepted the call and ignored it"
    );

    // The instance recovers by itself. Right away the request may still take effect:
    // Rebound waits.
    heal_targets(&s);
    let report = target_health(&s, Utc::now)
        .handle(tg_sweep())
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Recovering, "{report:?}");
    assert_eq!(s.incident().await.state, IncidentState::Remediating);

    // Past the request's deadline (the grace period, 5 minutes), it still serves: the
    // incident resolves without a replacement and without a page.
    let report = target_health(&s, in_6_minutes)
        .handle(tg_sweep())
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Resolve, "{report:?}");
    let incident = s.incident().await;
    assert_eq!(incident.state, IncidentState::Resolved);
    assert!(
        last_detail(&incident).contains("recovered without replacement"),
        "{:?}",
        incident.timeline
    );
    assert_eq!(escalations(&incident), 0);
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 1, "no second try");
    assert!(s.group_instances().await.contains(&broken));
    assert_eq!(s.announced_states().await, ["remediating", "resolved"]);
}

// ---- 4. A skipped or refused failover ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_refused_while_the_database_recovers_resolves_without_failover_and_releases_its_groups(
) {
    let s = scenario(Managed::Yes).await;
    s.emulator
        .inject_fault("RebootDBInstance", "InvalidDBInstanceState", 400, 1);
    let database = rds_health(&s, Utc::now);
    database.handle(s.stack.rds_alarm_event()).await.unwrap();
    let incident = db_incident(&s).await;
    assert_eq!(incident.state, IncidentState::Remediating);
    assert_eq!(incident.actions[0].outcome, ActionOutcome::Succeeded);

    // The web tier is held meanwhile.
    s.break_instance(0);
    let report = target_health(&s, Utc::now)
        .handle(s.stack.alarm_event(0))
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Suppress, "{report:?}");

    // Nothing happened: the primary has not moved. Before the request's deadline,
    // Rebound waits; past it, the database is available with its designated alarm OK:
    // it recovered without the failover.
    let report = database.handle(db_sweep()).await.unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Recovering, "{report:?}");
    let report = rds_health(&s, in_6_minutes)
        .handle(db_sweep())
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Resolve, "{report:?}");
    let incident = db_incident(&s).await;
    assert_eq!(incident.state, IncidentState::Resolved);
    assert!(
        last_detail(&incident).contains("recovered without failover"),
        "{:?}",
        incident.timeline
    );
    assert_eq!(s.emulator.calls_of("RebootDBInstance"), 1);
    assert_eq!(primary_zone(&s).await, "us-east-1a");

    // Past the settle time, the web group is released: its failing instance is replaced.
    target_health(&s, in_12_minutes)
        .handle(tg_sweep())
        .await
        .unwrap();
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 1);
    assert_eq!(web_incident(&s).await.state, IncidentState::Remediating);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_refused_while_the_designated_alarm_stays_in_alarm_is_retried_once_then_escalated(
) {
    let s = scenario(Managed::Yes).await;
    let alarm = s.stack.db_failover_alarm.clone().unwrap();
    set_alarm(&s, &alarm, StateValue::Alarm).await;
    s.emulator
        .inject_fault("RebootDBInstance", "InvalidDBInstanceState", 400, 2);
    rds_health(&s, Utc::now)
        .handle(s.stack.rds_alarm_event())
        .await
        .unwrap();
    s.break_instance(0);
    target_health(&s, Utc::now)
        .handle(s.stack.alarm_event(0))
        .await
        .unwrap();
    assert_eq!(web_incident(&s).await.state, IncidentState::Suppressed);

    // Past the first request's deadline: asked once more.
    let report = rds_health(&s, in_6_minutes)
        .handle(db_sweep())
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Remediate, "{report:?}");
    assert_eq!(s.emulator.calls_of("RebootDBInstance"), 2);

    // Past the second's: a person is needed, and nothing is asked a third time.
    for clock in [in_12_minutes as fn() -> DateTime<Utc>, in_13_minutes] {
        rds_health(&s, clock).handle(db_sweep()).await.unwrap();
    }
    assert_eq!(s.emulator.calls_of("RebootDBInstance"), 2, "no third try");
    let incident = db_incident(&s).await;
    assert_eq!(incident.state, IncidentState::Escalated);
    assert_eq!(escalations(&incident), 1);
    assert!(
        incident
            .timeline
            .iter()
            .any(|t| t.detail.contains("had no effect")),
        "{:?}",
        incident.timeline
    );
    assert_eq!(primary_zone(&s).await, "us-east-1a");

    // The escalated database incident holds its groups no longer than its objective
    // (15 minutes) plus the settle time (5): then the web group is judged on its own.
    target_health(&s, in_16_minutes)
        .handle(tg_sweep())
        .await
        .unwrap();
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 0, "still held");
    target_health(&s, in_21_minutes)
        .handle(tg_sweep())
        .await
        .unwrap();
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_rds_skipped_while_the_database_recovers_resolves_without_failover_and_releases_its_groups(
) {
    let s = scenario(Managed::Yes).await;
    let db = s.stack.db().to_owned();
    s.emulator.set_rds_mode("phased");
    let database = rds_health(&s, Utc::now);
    database.handle(s.stack.rds_alarm_event()).await.unwrap();
    s.break_instance(0);
    target_health(&s, Utc::now)
        .handle(s.stack.alarm_event(0))
        .await
        .unwrap();
    assert_eq!(web_incident(&s).await.state, IncidentState::Suppressed);

    // RDS does not carry the failover out (one happened recently): the instance is
    // available where it was, and RDS-EVENT-0034 says so. Its designated alarm is OK.
    s.emulator.set_db_status(&db, "available");
    let report = database
        .handle(rds_event_now("event-failover-skipped.json", Some(&db)))
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Resolve, "{report:?}");
    let incident = db_incident(&s).await;
    assert_eq!(incident.state, IncidentState::Resolved);
    assert!(
        last_detail(&incident).contains("recovered without failover (RDS skipped it)"),
        "{:?}",
        incident.timeline
    );
    assert_eq!(s.emulator.calls_of("RebootDBInstance"), 1);
    assert_eq!(primary_zone(&s).await, "us-east-1a");

    // Past the settle time, the web group is released.
    target_health(&s, in_6_minutes)
        .handle(tg_sweep())
        .await
        .unwrap();
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_rds_skipped_while_the_designated_alarm_stays_in_alarm_escalates_without_another_try(
) {
    let s = scenario(Managed::Yes).await;
    let db = s.stack.db().to_owned();
    let alarm = s.stack.db_failover_alarm.clone().unwrap();
    s.emulator.set_rds_mode("phased");
    let database = rds_health(&s, Utc::now);
    database.handle(s.stack.rds_alarm_event()).await.unwrap();
    set_alarm(&s, &alarm, StateValue::Alarm).await;
    s.emulator.set_db_status(&db, "available");
    let report = database
        .handle(rds_event_now("event-failover-skipped.json", Some(&db)))
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Escalate, "{report:?}");
    let incident = db_incident(&s).await;
    assert_eq!(incident.state, IncidentState::Escalated);
    assert!(
        last_detail(&incident).contains("RDS-EVENT-0034"),
        "{:?}",
        incident.timeline
    );
    // RDS said why it would not: asking again at once would be skipped again.
    for clock in [
        Utc::now as fn() -> DateTime<Utc>,
        in_6_minutes,
        in_12_minutes,
    ] {
        rds_health(&s, clock).handle(db_sweep()).await.unwrap();
    }
    assert_eq!(s.emulator.calls_of("RebootDBInstance"), 1);
    assert_eq!(escalations(&db_incident(&s).await), 1);
}

// ---- 5. A held incident past its objective ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_held_by_the_operator_s_suspended_process_escalates_once_past_its_objective() {
    let s = scenario(Managed::Yes).await;
    AutoScalingClient::new(&s.sdk)
        .suspend_processes()
        .auto_scaling_group_name(&s.stack.web().auto_scaling_group)
        .scaling_processes("Launch")
        .send()
        .await
        .unwrap();
    s.emulator.clear_requests();
    s.break_instance(0);
    let report = target_health(&s, Utc::now)
        .handle(s.stack.alarm_event(0))
        .await
        .unwrap();
    assert_eq!(report.checks[0].refusals[0].guard, "group-cannot-heal");
    assert_eq!(s.incident().await.state, IncidentState::Open);
    assert_eq!(s.incident().await.rto_s, Some(900));

    target_health(&s, in_10_minutes)
        .handle(tg_sweep())
        .await
        .unwrap();
    assert_eq!(s.incident().await.state, IncidentState::Open);
    for clock in [in_16_minutes as fn() -> DateTime<Utc>, in_20_minutes] {
        target_health(&s, clock).handle(tg_sweep()).await.unwrap();
    }
    let incident = s.incident().await;
    assert_eq!(incident.state, IncidentState::Escalated);
    assert_eq!(escalations(&incident), 1);
    assert!(
        incident
            .timeline
            .iter()
            .any(|t| t.detail.contains("past its recovery objective")),
        "{:?}",
        incident.timeline
    );
    assert!(s.mutating_fleet_calls().is_empty());
    assert_eq!(s.announced_states().await, ["open", "escalated"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_on_a_database_rebound_may_not_touch_escalates_once_past_its_objective() {
    let s = scenario(Managed::Yes).await;
    RdsClient::new(&s.sdk)
        .remove_tags_from_resource()
        .resource_name(s.stack.db_instance_arn.as_deref().unwrap())
        .tag_keys("rebound:managed")
        .send()
        .await
        .unwrap();
    let alarm = s.stack.db_failover_alarm.clone().unwrap();
    set_alarm(&s, &alarm, StateValue::Alarm).await;
    s.emulator.clear_requests();
    let report = rds_health(&s, Utc::now)
        .handle(s.stack.rds_alarm_event())
        .await
        .unwrap();
    assert_eq!(report.checks[0].refusals[0].guard, "not-managed");
    assert_eq!(db_incident(&s).await.state, IncidentState::Open);

    rds_health(&s, in_10_minutes)
        .handle(db_sweep())
        .await
        .unwrap();
    assert_eq!(db_incident(&s).await.state, IncidentState::Open);
    for clock in [in_16_minutes as fn() -> DateTime<Utc>, in_20_minutes] {
        rds_health(&s, clock).handle(db_sweep()).await.unwrap();
    }
    let incident = db_incident(&s).await;
    assert_eq!(incident.state, IncidentState::Escalated);
    assert_eq!(escalations(&incident), 1);
    assert!(
        incident
            .timeline
            .iter()
            .any(|t| t.detail.contains("past its recovery objective")),
        "{:?}",
        incident.timeline
    );
    assert_eq!(failovers(&s), 0);
    assert!(mutating(&s, "rds").is_empty());
    assert_eq!(s.announced_states().await, ["open", "escalated"]);
}

// ---- 6. An absurd tag value ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_recovery_objective_tags_fall_back_to_the_default_and_every_sweep_keeps_working() {
    let absurd = ["99999999999999999", "-900", "fifteen minutes", "0"];
    let s = provisioned(|emulator| Stack::provision_with(emulator, Managed::Yes, 4, 4)).await;
    s.emulator.set_replacement_mode("phased");
    for (group, value) in s.stack.stacks.iter().zip(absurd) {
        s.tag_group(&group.auto_scaling_group, RTO_TAG, value).await;
        s.break_target(&group.target_group_arn, &group.instance_ids[0]);
    }
    let report = target_health(&s, Utc::now)
        .handle(tg_sweep())
        .await
        .unwrap();
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!(report.checks.len(), 4, "{report:?}");
    let incidents = incidents_of(&s, target_group::TARGET_GROUP).await;
    assert_eq!(incidents.len(), 4, "{incidents:#?}");
    for incident in &incidents {
        assert_eq!(incident.rto_s, Some(900), "{incident:#?}");
        assert_eq!(incident.state, IncidentState::Remediating);
    }
    // The replacements never come up: past the default objective every incident
    // escalates, and the sweep after that still checks them all.
    for clock in [in_16_minutes as fn() -> DateTime<Utc>, in_20_minutes] {
        let report = target_health(&s, clock).handle(tg_sweep()).await.unwrap();
        assert!(report.failures.is_empty(), "{report:?}");
        assert_eq!(report.checks.len(), 4, "{report:?}");
    }
    for incident in incidents_of(&s, target_group::TARGET_GROUP).await {
        assert_eq!(incident.state, IncidentState::Escalated);
        assert!(
            incident
                .timeline
                .iter()
                .any(|t| t.detail.contains("not recovered within 15 minutes")),
            "{:?}",
            incident.timeline
        );
    }

    // The same on the database.
    s.emulator.set_rds_mode("phased");
    let database = rds_health(&s, Utc::now);
    for value in absurd {
        tag_db(&s, RTO_TAG, value).await;
        let report = database.handle(db_sweep()).await.unwrap();
        assert!(report.failures.is_empty(), "{value}: {report:?}");
    }
    database.handle(s.stack.rds_alarm_event()).await.unwrap();
    assert_eq!(db_incident(&s).await.rto_s, Some(900));
    let report = rds_health(&s, in_16_minutes)
        .handle(db_sweep())
        .await
        .unwrap();
    assert!(report.failures.is_empty(), "{report:?}");
    let incident = db_incident(&s).await;
    assert_eq!(incident.state, IncidentState::Escalated);
    assert!(
        incident
            .timeline
            .iter()
            .any(|t| t.detail.contains("not recovered within 15 minutes")),
        "{:?}",
        incident.timeline
    );
}

// ---- 7. A late RDS-EVENT-0013 ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_failover_started_event_after_the_failover_resolved_opens_nothing_and_holds_no_group(
) {
    let s = scenario(Managed::Yes).await;
    let database = rds_health(&s, Utc::now);
    database.handle(s.stack.rds_alarm_event()).await.unwrap();
    let events = s.emulator.rds_eventbridge_events();
    let ids: Vec<&str> = events
        .iter()
        .map(|e| e["detail"]["EventID"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ids, ["RDS-EVENT-0013", "RDS-EVENT-0049"]);
    let report = database.handle(events[1].clone()).await.unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Resolve, "{report:?}");

    // The 0013 of that failover arrives late, and the 0049 a second time: neither
    // opens anything.
    for late in [&events[0], &events[1]] {
        let report = database.handle(late.clone()).await.unwrap();
        assert_eq!(report.checks[0].verdict, Verdict::Healthy, "{report:?}");
        assert!(report.checks[0].summary.contains("late copy"), "{report:?}");
    }
    assert_eq!(incidents_of(&s, database::DB_INSTANCE).await.len(), 1);
    assert_eq!(s.emulator.calls_of("RebootDBInstance"), 1);

    // No group is held by it: once the real recovery's settle time is over (none
    // here), a failing web instance is replaced.
    s.break_instance(0);
    let mut config = s.stack.target_health_config(Mode::Enforce);
    config.policy.dependency_settle = std::time::Duration::ZERO;
    let report = s
        .handler_with(&config)
        .handle(s.stack.alarm_event(0))
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Remediate, "{report:?}");

    // A failover RDS starts afterwards is a new episode: it opens an incident.
    let mut fresh = events[0].clone();
    fresh["detail"]["Date"] = json!((Utc::now() + Duration::seconds(1)).to_rfc3339());
    let report = database.handle(fresh).await.unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Underway, "{report:?}");
    assert_eq!(incidents_of(&s, database::DB_INSTANCE).await.len(), 2);
    assert_eq!(s.emulator.calls_of("RebootDBInstance"), 1);
}

// ---- 8. A cluster failover ----

const CLUSTER: &str = "rebound-demo-cluster";
/// The cluster's writer and reader, as the sample events name them.
const WRITER: &str = "rebound-demo-db";
const READER: &str = "rebound-demo-db-2";
/// The alarm the sample alarm event names; the cluster designates it.
const WRITER_ALARM: &str = "rebound-demo-db-read-latency";

/// The reference stack without its DB instance, and an Aurora cluster (managed,
/// designating the writer's latency alarm) whose writer and reader are named as in the
/// sample events.
async fn cluster_scenario() -> Scenario {
    let s =
        provisioned(|emulator| Stack::provision_database(emulator, Managed::Yes, Database::None))
            .await;
    let rds = RdsClient::new(&s.sdk);
    rds.create_db_cluster()
        .db_cluster_identifier(CLUSTER)
        .engine("aurora-postgresql")
        .master_username("rebound")
        .master_user_password("not-a-secret-0")
        .tags(rds_tag("rebound:managed", "true"))
        .tags(rds_tag(FAILOVER_ALARMS_TAG, WRITER_ALARM))
        .send()
        .await
        .unwrap();
    for (instance, zone) in [(WRITER, "us-east-1a"), (READER, "us-east-1b")] {
        rds.create_db_instance()
            .db_instance_identifier(instance)
            .db_cluster_identifier(CLUSTER)
            .engine("aurora-postgresql")
            .db_instance_class("db.r6g.large")
            .availability_zone(zone)
            .send()
            .await
            .unwrap();
    }
    put_db_alarm(&s, WRITER, WRITER_ALARM, "ReadLatency", StateValue::Ok).await;
    assert_eq!(cluster_writer(&s).await, WRITER);
    s.emulator.clear_requests();
    s
}

async fn cluster_writer(s: &Scenario) -> String {
    let described = RdsClient::new(&s.sdk)
        .describe_db_clusters()
        .db_cluster_identifier(CLUSTER)
        .send()
        .await
        .unwrap();
    described.db_clusters()[0]
        .db_cluster_members()
        .iter()
        .find(|m| m.is_cluster_writer() == Some(true))
        .and_then(|m| m.db_instance_identifier())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_failover_rds_makes_is_followed_by_the_writer_s_incident_and_verified_by_its_completion(
) {
    let s = cluster_scenario().await;
    let database = rds_health(&s, Utc::now);
    let report = database
        .handle(rds_event_now("event-cluster-failover-started.json", None))
        .await
        .unwrap();
    let verdicts: Vec<(&str, Verdict)> = report
        .checks
        .iter()
        .map(|c| (c.resource.id.as_str(), c.verdict))
        .collect();
    assert_eq!(
        verdicts,
        [(WRITER, Verdict::Underway), (READER, Verdict::Healthy)]
    );
    let incident = db_incident(&s).await;
    assert_eq!(incident.resource.id, WRITER);
    assert_eq!(incident.state, IncidentState::Remediating);

    // RDS completes it: the reader is the writer now, and RDS-EVENT-0071 says so.
    RdsClient::new(&s.sdk)
        .failover_db_cluster()
        .db_cluster_identifier(CLUSTER)
        .send()
        .await
        .unwrap();
    assert_eq!(cluster_writer(&s).await, READER);
    s.emulator.clear_requests();
    database
        .handle(rds_event_now("event-cluster-failover-completed.json", None))
        .await
        .unwrap();
    let incident = db_incident(&s).await;
    assert_eq!(incident.state, IncidentState::Resolved);
    assert!(incident.time_to_recover_s.is_some());
    let after = database_evidence(&incident).after_failover.unwrap();
    assert_eq!(after.writer.as_deref(), Some(READER));
    assert!(
        mutating(&s, "rds").is_empty(),
        "RDS's failover: nothing called"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_designated_alarm_on_a_cluster_writer_fails_the_cluster_over_once_and_the_new_writer_verifies_it(
) {
    let s = cluster_scenario().await;
    let database = rds_health(&s, Utc::now);
    let report = database
        .handle(db_alarm_event(WRITER, WRITER_ALARM, "ReadLatency"))
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Remediate, "{report:?}");
    assert_eq!(mutating(&s, "rds"), ["FailoverDBCluster"]);
    assert_eq!(cluster_writer(&s).await, READER);
    let incident = db_incident(&s).await;
    assert_eq!(incident.actions[0].kind, database::FAILOVER_DB_CLUSTER);
    assert_eq!(incident.actions[0].target.id, CLUSTER);

    let report = database.handle(db_sweep()).await.unwrap();
    let writer = report
        .checks
        .iter()
        .find(|c| c.resource.id == WRITER)
        .expect("the writer's open incident is swept");
    assert_eq!(writer.verdict, Verdict::Resolve, "{report:?}");
    let incident = db_incident(&s).await;
    assert_eq!(incident.state, IncidentState::Resolved);
    let after = database_evidence(&incident).after_failover.unwrap();
    assert_eq!(after.writer.as_deref(), Some(READER));
    assert_eq!(failovers(&s), 1);
}
