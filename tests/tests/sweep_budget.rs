//! The sweep inside the account's API budget (issue 20.3), on the emulator: CloudWatch's
//! `UnHealthyHostCount` (over Smithy RPC v2 CBOR, computed from the target health the
//! emulator models) triages the target groups, and only those it does not show all
//! healthy cost a `DescribeTargetHealth`.

use rebound::config::Mode;
use rebound_tests::scenario::scenario_with;
use rebound_tests::stack::Managed;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_describes_only_the_target_group_cloudwatch_shows_unhealthy() {
    // One group of four instances registered in six target groups; one instance fails
    // in one of them.
    let s = scenario_with(Managed::Yes, 4, 6).await;
    let (group, failing) = s.stack.target_groups().nth(2).unwrap();
    let failing_arn = failing.target_group_arn.clone();
    s.break_target(&failing_arn, &group.instance_ids[0]);
    let handler = s.target_health(Mode::Enforce);
    s.emulator.clear_requests();

    let report = handler
        .handle(rebound_tests::sample_event(
            "target-health/scheduled-sweep.json",
        ))
        .await
        .unwrap();

    let checked: Vec<&str> = report
        .checks
        .iter()
        .map(|c| c.resource.id.as_str())
        .collect();
    assert_eq!(checked, [failing_arn.as_str()], "{report:#?}");
    assert_eq!(s.emulator.calls_of("GetMetricData"), 1);
    assert_eq!(s.emulator.calls_of("DescribeTargetHealth"), 1);
    assert_eq!(
        s.mutating_fleet_calls(),
        [("autoscaling".to_owned(), "SetInstanceHealth".to_owned())]
    );

    // The next sweep: the open incident is checked even though nothing else is.
    s.emulator.clear_requests();
    let again = handler
        .handle(rebound_tests::sample_event(
            "target-health/scheduled-sweep.json",
        ))
        .await
        .unwrap();
    assert!(
        again
            .checks
            .iter()
            .any(|c| c.resource.id.as_str() == failing_arn),
        "{again:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_sweep_had_no_time_for_is_kept_and_checked_first_by_the_next() {
    use rebound::ports::IncidentStore;
    use std::time::{Duration, SystemTime};

    let s = scenario_with(Managed::Yes, 4, 3).await;
    // Each target group has a failing target: the triage keeps them all.
    let failing: Vec<(String, String)> = s
        .stack
        .target_groups()
        .map(|(group, tg)| (tg.target_group_arn.clone(), group.instance_ids[0].clone()))
        .collect();
    for (arn, instance) in &failing {
        s.break_target(arn, instance);
    }
    let handler = s.target_health(Mode::DryRun);
    let store = rebound::aws::incident_store(&s.stack.store_config(), &s.sdk);
    let sweep = || rebound_tests::sample_event("target-health/scheduled-sweep.json");

    // An invocation already inside its deadline's margin checks nothing and keeps all
    // three for the next one, in the order it would have checked them.
    let deadline = SystemTime::now() + Duration::from_secs(1);
    let report = handler.handle_until(sweep(), Some(deadline)).await.unwrap();
    assert!(report.checks.is_empty(), "{report:#?}");
    assert_eq!(report.deferred.len(), 3, "{report:#?}");
    let backlog = store
        .sweep_backlog(&rebound::kinds::target_group::TARGET_GROUP)
        .await
        .unwrap();
    assert_eq!(backlog, report.deferred);

    // The next, with time, covers them and clears the backlog.
    let report = handler.handle(sweep()).await.unwrap();
    assert_eq!(report.checks.len(), 3, "{report:#?}");
    assert!(report.deferred.is_empty());
    assert!(store
        .sweep_backlog(&rebound::kinds::target_group::TARGET_GROUP)
        .await
        .unwrap()
        .is_empty());
}
