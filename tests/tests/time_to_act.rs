//! Time to act at the data-dependency floor (issue 20.1): from a delivery's first AWS
//! call to its mutating call, only the round trips its data requires, each made of the
//! reads that do not depend on each other. Proved on the emulator's request log with a
//! simulated round trip per call (calls made at once overlap in it), by which calls
//! share a round — never by how long anything took.

use std::collections::BTreeSet;

use rebound::config::Mode;
use rebound::domain::Verdict;
use rebound_tests::scenario::scenario;
use rebound_tests::stack::{Database, Managed};
use rebound_tests::{Emulator, Stack};

/// Long enough that calls made at once always overlap, even on a busy machine.
const ROUND_TRIP_MS: u64 = 250;

fn round(rounds: &[Vec<String>], index: usize) -> BTreeSet<&str> {
    rounds
        .get(index)
        .map(|r| r.iter().map(String::as_str).collect())
        .unwrap_or_default()
}

/// The round the operation was first called in.
fn round_of(rounds: &[Vec<String>], operation: &str) -> Option<usize> {
    rounds
        .iter()
        .position(|r| r.iter().any(|op| op == operation))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacement_reaches_its_call_in_four_round_trips_reading_what_is_independent_at_once() {
    let s = scenario(Managed::Yes).await;
    let broken = s.break_instance(0);
    let handler = s.target_health(Mode::Enforce);
    s.emulator.set_latency_ms(ROUND_TRIP_MS);
    s.emulator.clear_requests();

    let report = handler.handle(s.stack.alarm_event(0)).await.unwrap();
    assert_eq!(report.checks[0].actions[0].target.id, broken, "{report:?}");

    let rounds = s.emulator.rounds();
    // 1. What is stored, what is failing and who owns it, and the load balancers in
    //    front: none needs another.
    assert_eq!(
        round(&rounds, 0),
        BTreeSet::from([
            "GetItem",
            "DescribeTargetHealth",
            "DescribeAutoScalingGroups",
            "DescribeTargetGroups"
        ]),
        "{rounds:#?}"
    );
    // 2. What the decision needs about the owning group: its refresh, its ledgers, the
    //    record of the database it depends on (`rebound:depends-on`), the shifts on the
    //    load balancers, the changes in flight.
    assert_eq!(
        round(&rounds, 1),
        BTreeSet::from([
            "DescribeInstanceRefreshes",
            "BatchGetItem",
            "GetItem",
            "GetManagedResource",
            "ListDeployments"
        ]),
        "{rounds:#?}"
    );
    // 3. The write-ahead, alone. 4. The call.
    assert_eq!(round(&rounds, 2), BTreeSet::from(["TransactWriteItems"]));
    assert_eq!(
        round_of(&rounds, "SetInstanceHealth"),
        Some(3),
        "{rounds:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_reaches_its_call_in_four_round_trips() {
    let emulator = Emulator::start();
    let stack = Stack::provision_database(&emulator, Managed::Yes, Database::MultiAz);
    let sdk = emulator.sdk_config().await;
    let handler = rebound::aws::rds_health(&stack.rds_health_config(Mode::Enforce), &sdk);
    emulator.set_latency_ms(ROUND_TRIP_MS);
    emulator.clear_requests();

    let report = handler.handle(stack.rds_alarm_event()).await.unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Remediate, "{report:?}");

    let rounds = emulator.rounds();
    // The record and the instance; then its recent failovers and its ledger; the
    // write-ahead; the failover.
    assert_eq!(
        round(&rounds, 0),
        BTreeSet::from(["GetItem", "DescribeDBInstances"]),
        "{rounds:#?}"
    );
    assert_eq!(
        round(&rounds, 1),
        BTreeSet::from(["DescribeEvents", "BatchGetItem"]),
        "{rounds:#?}"
    );
    assert_eq!(round(&rounds, 2), BTreeSet::from(["TransactWriteItems"]));
    assert_eq!(
        round_of(&rounds, "RebootDBInstance"),
        Some(3),
        "{rounds:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_target_group_on_the_schedule_reads_nothing_ahead() {
    // The sweep's cue says nothing fails: nothing read ahead for a healthy target group
    // (the account's API budget), not even its targets once CloudWatch shows them all
    // healthy.
    let s = scenario(Managed::Yes).await;
    let handler = s.target_health(Mode::Enforce);
    s.emulator.clear_requests();
    handler
        .handle(rebound_tests::sample_event(
            "target-health/scheduled-sweep.json",
        ))
        .await
        .unwrap();
    let operations: BTreeSet<String> = s.emulator.rounds().into_iter().flatten().collect();
    for ahead in [
        "DescribeTargetHealth",
        "DescribeInstanceRefreshes",
        "DescribeAutoScalingInstances",
        "GetManagedResource",
    ] {
        assert!(!operations.contains(ahead), "{ahead}: {operations:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zonal_shift_reads_each_link_of_its_chain_once_and_the_rest_beside_it() {
    let s = scenario(Managed::Yes).await;
    s.impair_zone("us-east-1b").await;
    let mut config = s.stack.zone_health_config(Mode::Enforce);
    config.policy.settle = std::time::Duration::ZERO;
    // A new container: the zone IDs are not known yet.
    let handler = rebound::aws::zone_health(&config, &s.sdk);
    s.emulator.set_latency_ms(ROUND_TRIP_MS);
    s.emulator.clear_requests();

    let report = handler
        .handle(s.stack.zone_alarm_event("us-east-1b", "ALARM"))
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Remediate, "{report:?}");

    let rounds = s.emulator.rounds();
    // 1. The record, the account's zone IDs, everything about the load balancer its
    //    ARN alone names and the managed groups with their instances: none needs another.
    assert_eq!(
        round(&rounds, 0),
        BTreeSet::from([
            "GetItem",
            "DescribeAvailabilityZones",
            "DescribeLoadBalancers",
            "DescribeTags",
            "DescribeLoadBalancerAttributes",
            "DescribeTargetGroups",
            "DescribeAutoScalingGroups"
        ]),
        "{rounds:#?}"
    );
    // 2. Its target groups' health beside the shifts on the load balancer; then what
    //    needs the groups owning the targets: the shifts on them, then their ledgers;
    //    the write-ahead; the shift.
    assert_eq!(
        round(&rounds, 1),
        BTreeSet::from(["DescribeTargetHealth", "GetManagedResource"]),
        "{rounds:#?}"
    );
    assert_eq!(round(&rounds, 2), BTreeSet::from(["GetManagedResource"]));
    assert_eq!(round(&rounds, 3), BTreeSet::from(["BatchGetItem"]));
    assert_eq!(round(&rounds, 4), BTreeSet::from(["TransactWriteItems"]));
    assert_eq!(round_of(&rounds, "StartZonalShift"), Some(5), "{rounds:#?}");
    assert!(
        round_of(&rounds, "DescribeAutoScalingInstances").is_none(),
        "the managed groups own every target: {rounds:#?}"
    );
}
