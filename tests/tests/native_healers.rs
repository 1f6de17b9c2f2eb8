//! Integration tier for native healers (issue 19 point 5): the resource's own healer
//! (an Auto Scaling group with ELB health checks, RDS Multi-AZ failing over by itself)
//! goes first; Rebound records it, verifies the recovery and counts its time to recover,
//! and acts only when the group's own replacement does not start in time.

use aws_sdk_rds::Client as RdsClient;
use rebound::config::Mode;
use rebound::domain::{Incident, IncidentState, Verdict};
use rebound::kinds::{database, target_group};
use rebound_tests::scenario::{scenario, Scenario};
use rebound_tests::stack::Managed;

async fn incident_of(s: &Scenario, kind: rebound::domain::ResourceType) -> Incident {
    s.incidents()
        .await
        .into_iter()
        .find(|i| i.resource.kind == kind)
        .expect("an incident of that kind")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_replacing_an_instance_itself_is_recorded_and_verified_without_a_rebound_action() {
    let s = scenario(Managed::Yes).await;
    s.elb_health_checks(60).await;
    // The group's replacement takes its time, as a real one does.
    s.emulator.set_replacement_mode("phased");
    let broken = s.break_instance(0);
    let web = s.target_health(Mode::Enforce);

    // First seen: the group gets its grace period plus the margin to start.
    let report = web.handle(s.stack.alarm_event(0)).await.unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Hold, "{report:?}");
    assert_eq!(report.checks[0].refusals[0].guard, "native-healer-first");
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 0);

    // The group's own health check finds the instance and replaces it.
    s.group_replaces(&broken).await;
    let report = web.handle(s.stack.alarm_event(0)).await.unwrap();
    assert!(report.checks[0].actions.is_empty(), "{report:?}");
    let healing = incident_of(&s, target_group::TARGET_GROUP).await;
    assert_eq!(
        healing.native_healing.as_deref(),
        Some("healed by Auto Scaling")
    );
    assert!(healing
        .timeline
        .iter()
        .any(|t| t.detail.starts_with("healed by Auto Scaling") && t.detail.contains(&broken)));

    // The replacement serves: verified and resolved, its time to recover counted, and
    // Rebound never asked for anything.
    let resolved = s
        .sweep_until_resolved(&web)
        .await
        .expect("resolved once the replacement serves");
    assert!(resolved.time_to_recover_s.is_some());
    assert!(resolved.actions.is_empty(), "{:?}", resolved.actions);
    assert_eq!(
        s.emulator.calls_of("SetInstanceHealth"),
        1,
        "the group's own call only"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_that_has_not_started_within_its_grace_period_and_margin_gets_rebound_s_replacement(
) {
    let s = scenario(Managed::Yes).await;
    s.elb_health_checks(60).await;
    let broken = s.break_instance(0);
    s.target_health(Mode::Enforce)
        .handle(s.stack.alarm_event(0))
        .await
        .unwrap();
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 0);

    // Three minutes on (60 s of grace, 60 s of margin): Rebound acts.
    let mut later = s.target_health(Mode::Enforce);
    later.clock = || chrono::Utc::now() + chrono::Duration::minutes(3);
    let report = later.handle(s.stack.alarm_event(0)).await.unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Remediate, "{report:?}");
    let incident = incident_of(&s, target_group::TARGET_GROUP).await;
    assert_eq!(incident.actions.len(), 1);
    assert_eq!(incident.actions[0].target.id, broken);
    assert_eq!(incident.native_healing, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rds_failing_over_by_itself_is_recorded_followed_and_verified_without_a_rebound_failover() {
    let s = scenario(Managed::Yes).await;
    s.emulator.set_rds_mode("phased");
    // A hard failure: RDS fails the Multi-AZ instance over by itself.
    RdsClient::new(&s.sdk)
        .reboot_db_instance()
        .db_instance_identifier(s.stack.db())
        .force_failover(true)
        .send()
        .await
        .unwrap();
    let rds = rebound::aws::rds_health(&s.stack.rds_health_config(Mode::Enforce), &s.sdk);
    let started = s.emulator.rds_eventbridge_events();
    assert_eq!(started[0]["detail"]["EventID"], "RDS-EVENT-0013");
    rds.handle(started[0].clone()).await.unwrap();
    let following = incident_of(&s, database::DB_INSTANCE).await;
    assert_eq!(following.state, IncidentState::Remediating);
    assert_eq!(
        following.native_healing.as_deref(),
        Some("failed over by RDS")
    );

    // Its alarm fires meanwhile: still followed, never a second failover.
    rds.handle(s.stack.rds_alarm_event()).await.unwrap();
    s.emulator.rds_advance();
    let completed = s.emulator.rds_eventbridge_events().pop().unwrap();
    rds.handle(completed).await.unwrap();
    let resolved = incident_of(&s, database::DB_INSTANCE).await;
    assert_eq!(
        resolved.state,
        IncidentState::Resolved,
        "{:?}",
        resolved.timeline
    );
    assert!(resolved.time_to_recover_s.is_some());
    assert!(resolved.actions.is_empty());
    assert_eq!(
        s.emulator.calls_of("RebootDBInstance"),
        1,
        "RDS's own failover only"
    );
}
