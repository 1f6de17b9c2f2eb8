//! Integration tier, database half: the real rds-health and target-health handlers with
//! real SDK clients against the emulator, on the reference stack with its Multi-AZ
//! database (every Auto Scaling group tagged `rebound:depends-on` it).

use aws_sdk_rds::Client as RdsClient;
use rebound::config::Mode;
use rebound::domain::{ActionOutcome, Incident, IncidentState, ResourceType, Verdict};
use rebound::kinds::{database, target_group};
use rebound::ports::IncidentStore;
use rebound_tests::emulator::is_mutating_fleet_call;
use rebound_tests::stack::{Database, Managed};
use rebound_tests::{sample_event, Emulator, Stack};

struct Scenario {
    emulator: Emulator,
    stack: Stack,
    sdk: aws_config::SdkConfig,
}

async fn scenario(database: Database) -> Scenario {
    let emulator = Emulator::start();
    let stack = Stack::provision_database(&emulator, Managed::Yes, database);
    let sdk = emulator.sdk_config().await;
    emulator.clear_requests();
    Scenario {
        emulator,
        stack,
        sdk,
    }
}

impl Scenario {
    fn rds_health(&self, mode: Mode) -> rebound::aws::RdsHealthFunction {
        rebound::aws::rds_health(&self.stack.rds_health_config(mode), &self.sdk)
    }

    async fn incidents_of(&self, kind: ResourceType) -> Vec<Incident> {
        rebound::aws::incident_store(&self.stack.store_config(), &self.sdk)
            .list(100)
            .await
            .unwrap()
            .into_iter()
            .filter(|i| i.resource.kind == kind)
            .collect()
    }

    /// Where the primary and the standby are, as RDS reports them.
    async fn zones(&self) -> (String, String) {
        let described = RdsClient::new(&self.sdk)
            .describe_db_instances()
            .db_instance_identifier(self.stack.db())
            .send()
            .await
            .unwrap();
        let db = &described.db_instances()[0];
        (
            db.availability_zone().unwrap_or_default().to_owned(),
            db.secondary_availability_zone()
                .unwrap_or_default()
                .to_owned(),
        )
    }

    fn mutating_calls(&self, service: &str) -> Vec<String> {
        self.emulator
            .requests()
            .into_iter()
            .filter(|(s, op)| s == service && is_mutating_fleet_call(s, op))
            .map(|(_, op)| op)
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_on_a_managed_multi_az_database_fails_it_over_once_and_duplicates_add_nothing() {
    let s = scenario(Database::MultiAz).await;
    let handler = s.rds_health(Mode::Enforce);
    let alarm = s.stack.rds_alarm_event();

    let report = handler.handle(alarm.clone()).await.unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Remediate, "{report:?}");
    assert_eq!(s.mutating_calls("rds"), ["RebootDBInstance"]);
    assert_eq!(
        s.zones().await,
        ("us-east-1b".to_owned(), "us-east-1a".to_owned())
    );

    // Duplicates: the first verifies the failover and resolves; none calls again.
    for _ in 0..3 {
        handler.handle(alarm.clone()).await.unwrap();
    }
    assert_eq!(s.emulator.calls_of("RebootDBInstance"), 1);
    let incidents = s.incidents_of(database::DB_INSTANCE).await;
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    let incident = &incidents[0];
    assert_eq!(incident.state, IncidentState::Resolved);
    assert_eq!(incident.actions.len(), 1);
    assert_eq!(incident.actions[0].kind, database::REBOOT_WITH_FAILOVER);
    assert_eq!(incident.actions[0].outcome, ActionOutcome::Succeeded);
    assert!(incident.time_to_recover_s.is_some());
    let database = database_evidence(incident);
    let (before, after) = (
        database.before_failover.as_ref().unwrap(),
        database.after_failover.as_ref().unwrap(),
    );
    assert_eq!(
        (before.primary_az.as_deref(), before.standby_az.as_deref()),
        (Some("us-east-1a"), Some("us-east-1b"))
    );
    assert_eq!(
        (after.primary_az.as_deref(), after.standby_az.as_deref()),
        (Some("us-east-1b"), Some("us-east-1a"))
    );
    // Nothing else of the stack was touched.
    assert!(s.mutating_calls("autoscaling").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_az_database_is_escalated_and_never_rebooted() {
    let s = scenario(Database::SingleAz).await;
    let report = s
        .rds_health(Mode::Enforce)
        .handle(s.stack.rds_alarm_event())
        .await
        .unwrap();
    assert_eq!(report.checks[0].refusals[0].guard, "not-multi-az");
    assert!(s.mutating_calls("rds").is_empty());
    let incidents = s.incidents_of(database::DB_INSTANCE).await;
    assert_eq!(incidents[0].state, IncidentState::Escalated);
    assert!(incidents[0].actions.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_is_not_available_is_not_rebooted() {
    let s = scenario(Database::MultiAz).await;
    s.emulator.set_db_status(s.stack.db(), "backing-up");
    let report = s
        .rds_health(Mode::Enforce)
        .handle(s.stack.rds_alarm_event())
        .await
        .unwrap();
    assert_eq!(report.checks[0].refusals[0].guard, "not-available");
    assert!(s.mutating_calls("rds").is_empty());
    let incidents = s.incidents_of(database::DB_INSTANCE).await;
    assert_eq!(incidents[0].state, IncidentState::Open);
    assert!(incidents[0]
        .timeline
        .iter()
        .any(|t| t.detail.contains("backing-up")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_failover_completed_event_moves_the_incident_on_to_resolved() {
    let s = scenario(Database::MultiAz).await;
    s.emulator.set_rds_mode("phased");
    let handler = s.rds_health(Mode::Enforce);
    handler.handle(s.stack.rds_alarm_event()).await.unwrap();

    // RDS reports the failover started (0013): the incident is remediating, and stays
    // so while the instance reboots.
    let events = s.emulator.rds_eventbridge_events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["detail"]["EventID"], "RDS-EVENT-0013");
    let report = handler.handle(events[0].clone()).await.unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Recovering, "{report:?}");
    let sweep = handler
        .handle(sample_event("rds-health/scheduled-sweep.json"))
        .await
        .unwrap();
    assert_eq!(
        sweep.checks[0].waiting_for.as_deref(),
        Some(format!("{} is rebooting", s.stack.db()).as_str())
    );
    assert_eq!(
        s.incidents_of(database::DB_INSTANCE).await[0].state,
        IncidentState::Remediating
    );

    // The failover completes: RDS-EVENT-0049 verifies the recovery and closes it.
    s.emulator.rds_advance();
    let completed = s.emulator.rds_eventbridge_events().pop().unwrap();
    assert_eq!(completed["detail"]["EventID"], "RDS-EVENT-0049");
    let report = handler.handle(completed).await.unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Resolve, "{report:?}");
    let incident = &s.incidents_of(database::DB_INSTANCE).await[0];
    assert_eq!(incident.state, IncidentState::Resolved);
    assert_eq!(s.emulator.calls_of("RebootDBInstance"), 1);
    let seen: Vec<String> = database_evidence(incident)
        .events
        .iter()
        .filter_map(|e| e.id.as_ref().map(ToString::to_string))
        .collect();
    assert!(seen.contains(&"RDS-EVENT-0013".to_owned()), "{seen:?}");
    assert!(seen.contains(&"RDS-EVENT-0049".to_owned()), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_records_the_failover_and_makes_no_mutating_call() {
    let s = scenario(Database::MultiAz).await;
    let handler = s.rds_health(Mode::DryRun);
    handler.handle(s.stack.rds_alarm_event()).await.unwrap();
    handler
        .handle(sample_event("rds-health/scheduled-sweep.json"))
        .await
        .unwrap();
    assert!(s.mutating_calls("rds").is_empty());
    let incident = &s.incidents_of(database::DB_INSTANCE).await[0];
    assert_eq!(incident.actions.len(), 1);
    assert_eq!(incident.actions[0].outcome, ActionOutcome::Simulated);
    assert_eq!(
        s.zones().await,
        ("us-east-1a".to_owned(), "us-east-1b".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_database_heals_the_app_tier_is_held_and_released_after_the_hold() {
    let s = scenario(Database::MultiAz).await;
    // The group replaces ELB-unhealthy instances itself: the hold suspends that.
    rebound_tests::scenario::elb_health_checks(&s.sdk, &s.stack.web().auto_scaling_group, 60).await;
    s.emulator.clear_requests();
    s.emulator.set_rds_mode("phased");
    let database = s.rds_health(Mode::Enforce);
    database.handle(s.stack.rds_alarm_event()).await.unwrap();
    let db_incident = s.incidents_of(database::DB_INSTANCE).await.remove(0);
    assert_eq!(db_incident.state, IncidentState::Remediating);

    // The app tier fails its health checks while the database reboots.
    let web = s.stack.web();
    let broken = web.instance_ids[0].clone();
    s.emulator.set_target_health(
        &web.target_group_arn,
        &broken,
        "unhealthy",
        "Target.FailedHealthChecks",
    );
    let app = rebound::aws::target_health(&s.stack.target_health_config(Mode::Enforce), &s.sdk);
    let report = app.handle(s.stack.alarm_event(0)).await.unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Suppress, "{report:?}");
    // Held, not replaced; the group (ELB health checks) has its own replacement
    // suspended for the hold, marked as Rebound's.
    assert_eq!(
        s.mutating_calls("autoscaling"),
        ["CreateOrUpdateTags", "SuspendProcesses"]
    );
    let held = s.incidents_of(target_group::TARGET_GROUP).await.remove(0);
    assert_eq!(held.state, IncidentState::Suppressed);
    let reason = &held
        .timeline
        .iter()
        .find(|t| t.event == "suppressed")
        .expect("why it is held")
        .detail;
    assert!(reason.contains(db_incident.id.as_str()), "{reason}");
    assert!(reason.contains(s.stack.db()), "{reason}");

    // The failover completes and is verified; within the settle time the group is
    // still held.
    s.emulator.rds_advance();
    database
        .handle(sample_event("rds-health/scheduled-sweep.json"))
        .await
        .unwrap();
    assert_eq!(
        s.incidents_of(database::DB_INSTANCE).await[0].state,
        IncidentState::Resolved
    );
    let sweep = sample_event("target-health/scheduled-sweep.json");
    app.handle(sweep.clone()).await.unwrap();
    assert_eq!(
        s.mutating_calls("autoscaling").len(),
        2,
        "still held: nothing more"
    );
    assert_eq!(
        s.incidents_of(target_group::TARGET_GROUP).await[0].state,
        IncidentState::Suppressed
    );

    // Once the hold lifts (here: a settle time of zero), the sweep re-evaluates: the
    // instance is still failing. The group's own replacement is resumed, and the group
    // gets the first go at it (its grace period plus a margin from now): nothing
    // replaced by Rebound.
    let mut config = s.stack.target_health_config(Mode::Enforce);
    config.policy.dependency_settle = std::time::Duration::ZERO;
    let released = rebound::aws::target_health(&config, &s.sdk);
    let report = released.handle(sweep.clone()).await.unwrap();
    assert_eq!(
        s.mutating_calls("autoscaling"),
        [
            "CreateOrUpdateTags",
            "SuspendProcesses",
            "ResumeProcesses",
            "DeleteTags"
        ]
    );
    let guards: Vec<&str> = report.checks[0].refusals.iter().map(|r| r.guard).collect();
    assert_eq!(guards, ["native-healer-first"], "{report:?}");
    let incident = &s.incidents_of(target_group::TARGET_GROUP).await[0];
    let kinds: Vec<&str> = incident.actions.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["suspend-replace-unhealthy", "resume-replace-unhealthy"]
    );

    // Past its grace period and the margin, the group has not started: Rebound acts.
    let mut later = rebound::aws::target_health(&config, &s.sdk);
    later.clock = || chrono::Utc::now() + chrono::Duration::minutes(3);
    later.handle(sweep).await.unwrap();
    let incident = &s.incidents_of(target_group::TARGET_GROUP).await[0];
    let last = incident.actions.last().expect("Rebound's replacement");
    assert_eq!(last.kind.as_str(), "set-instance-health");
    assert_eq!(last.target.id, broken);
    assert_eq!(incident.native_healing, None);
}

fn database_evidence(incident: &Incident) -> database::observation::DatabaseEvidence {
    incident
        .evidence
        .read::<database::Evidence>()
        .expect("a database's evidence")
        .database
        .expect("the database section")
}
