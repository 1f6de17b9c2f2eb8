//! `rebound-bench`: the benchmark scenarios that need the real handler code against the
//! emulator. Each run starts its own emulator (and stops it), provisions the stack it
//! needs, and writes one JSON document for `bench/report.py`.
//!
//! - `calls`: AWS API calls per incident, per scenario, next to the minimum the scenario
//!   needs. A call made more often than the minimum is a finding.
//! - `storm`: many alarm events over many target groups, delivered concurrently:
//!   incidents opened, actions taken (must be exactly one per target group), events/s
//!   and the emulator's own share of the wall time.
//! - `sweep`: the scheduled sweep over every managed group's target groups, at several
//!   sizes (each on a fresh emulator), in dry-run with a few unhealthy targets, paced
//!   and with a deadline as deployed: wall time, AWS calls per target group and per
//!   service, peak call rates next to the pacing's, CPU time, the target groups left to
//!   the next sweep, and how all of it grows with the number of target groups
//!   (`sweep.rs`).

mod sweep;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use futures::StreamExt;
use rebound::config::Mode;
use rebound::domain::{ActionOutcome, IncidentState};
use rebound::notifier::StreamEvent;
use rebound::ports::IncidentStore;
use rebound_tests::scenario::Scenario;
use rebound_tests::stack::Managed;
use rebound_tests::{sample_event, Emulator, Stack};
use serde_json::{json, Value};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// API calls per incident scenario.
    Calls {
        #[arg(long)]
        out: PathBuf,
    },
    /// An alarm storm over many target groups.
    Storm {
        #[arg(long, default_value_t = 10_000)]
        events: usize,
        #[arg(long, default_value_t = 100)]
        target_groups: usize,
        #[arg(long, default_value_t = 10)]
        concurrency: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// The scheduled sweep at several fleet sizes, paced and with a deadline as deployed.
    Sweep {
        /// Target groups, one size per value: `--target-groups 100,1000,10000` (each a
        /// whole number of groups of `--target-groups-per-group`).
        #[arg(long, value_delimiter = ',', default_values_t = [100, 1_000])]
        target_groups: Vec<u32>,
        #[arg(long, default_value_t = 10)]
        target_groups_per_group: u32,
        #[arg(long, default_value_t = 4)]
        instances: u32,
        /// Share of the target groups with one unhealthy instance (at least one).
        #[arg(long, default_value_t = 1.0)]
        unhealthy_percent: f64,
        /// API_RATE_PERCENT: the share of each AWS service's published rate the handler's
        /// calls may use, as the deployed function reads it; 0: not paced.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(0..=100))]
        api_rate_percent: u32,
        /// Each invocation's deadline, in seconds after it starts: the template's Timeout.
        #[arg(long, default_value_t = 30)]
        timeout_seconds: u64,
        /// Sweeps per size at most, while some target group listed is still unchecked
        /// (the first and the second always run).
        #[arg(long, default_value_t = 5)]
        max_invocations: usize,
        #[arg(long)]
        out: PathBuf,
    },
}

type Counts = BTreeMap<String, usize>;

#[derive(Debug, thiserror::Error)]
enum BenchError {
    #[error("{scenario}: {source}")]
    Scenario {
        scenario: &'static str,
        #[source]
        source: rebound::Error,
    },
    /// A scenario that did not reach the state it measures: its counts would mean
    /// nothing.
    #[error("{scenario}: {found}")]
    Unexpected {
        scenario: &'static str,
        found: String,
    },
    #[error("provision.py: {0}")]
    Provision(String),
    #[error("the stream pump printed no valid stream event: {0}")]
    StreamEvent(#[from] serde_json::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Names the scenario a handler error came from.
fn in_scenario(scenario: &'static str) -> impl Fn(rebound::Error) -> BenchError {
    move |source| BenchError::Scenario { scenario, source }
}

/// The calls in the emulator's request log, per operation and per service.
fn counts(emulator: &Emulator) -> (Counts, Counts) {
    let mut operations = Counts::new();
    let mut services = Counts::new();
    for (service, operation) in emulator.requests() {
        *operations.entry(operation).or_default() += 1;
        *services.entry(service).or_default() += 1;
    }
    (operations, services)
}

fn minimum(calls: &[(&str, usize)]) -> Counts {
    calls.iter().map(|(op, n)| (op.to_string(), *n)).collect()
}

/// One scenario's measurement (the calls in the emulator's request log since it was
/// last cleared) next to its minimum.
fn scenario(name: &str, emulator: &Emulator, minimum: Counts) -> Value {
    let (calls, services) = counts(emulator);
    let operations: BTreeSet<&String> = calls.keys().chain(minimum.keys()).collect();
    let above: Vec<String> = operations
        .into_iter()
        .filter(|op| calls.get(*op).copied().unwrap_or(0) > minimum.get(*op).copied().unwrap_or(0))
        .map(|op| {
            format!(
                "{op}: {} > {}",
                calls.get(op).copied().unwrap_or(0),
                minimum.get(op).copied().unwrap_or(0)
            )
        })
        .collect();
    json!({"scenario": name, "calls": calls, "by_service": services, "minimum": minimum, "repeated": above})
}

/// A fresh emulator with the reference stack, the real handler on it, and the first
/// `broken` instances of the target group failing their health checks; the request
/// log starts empty.
struct Fixture {
    emulator: Emulator,
    stack: Stack,
    sdk: aws_config::SdkConfig,
    handler: rebound::aws::TargetHealthFunction,
}

async fn fixture(managed: Managed, broken: usize) -> Fixture {
    let emulator = Emulator::start();
    let stack = Stack::provision(&emulator, managed);
    let sdk = emulator.sdk_config().await;
    let handler = rebound::aws::target_health(&stack.target_health_config(Mode::Enforce), &sdk);
    let web = stack.web();
    for instance in web.instance_ids.iter().take(broken) {
        emulator.set_target_health(
            &web.target_group_arn,
            instance,
            "unhealthy",
            "Target.FailedHealthChecks",
        );
    }
    emulator.clear_requests();
    Fixture {
        emulator,
        stack,
        sdk,
        handler,
    }
}

async fn measure_calls() -> Result<Value, BenchError> {
    let mut scenarios = Vec::new();

    // An alarm on a target group with one instance failing its health checks.
    // Minimum: read the targets; map the instance to its group; read the group; check for
    // an instance refresh (invariant 4); read the resource record (one open incident)
    // and the record of the database the group depends on (invariant 7); read the
    // group's and the account's ledgers (cooldown, budget); what else holds a failing
    // managed group's instances (invariants 15 and 16): the load balancer in front of the
    // target group and the zonal shifts on it, the deployments in flight on the group
    // (no CloudFormation read: the group has no stack tag); one transaction that opens
    // the incident with its write-ahead action and moves both ledgers; the replacement;
    // record the outcome.
    let Fixture {
        emulator,
        stack,
        sdk,
        handler,
    } = fixture(Managed::Yes, 1).await;
    handler
        .handle(stack.alarm_event(0))
        .await
        .map_err(in_scenario("replace"))?;
    scenarios.push(scenario(
        "alarm: one instance failing health checks → replaced",
        &emulator,
        minimum(&[
            ("DescribeTargetHealth", 1),
            ("DescribeAutoScalingGroups", 1),
            ("DescribeInstanceRefreshes", 1),
            ("GetItem", 2),
            ("BatchGetItem", 1),
            ("DescribeTargetGroups", 1),
            ("GetManagedResource", 1),
            ("ListDeployments", 1),
            ("TransactWriteItems", 1),
            ("SetInstanceHealth", 1),
            ("PutItem", 1),
        ]),
    ));

    // The sweep after the group replaced it. Minimum: list managed groups (with their
    // instances); list open incidents (the listing carries the incident: no GetItem);
    // read the sweep's backlog (what the last sweep had no time for); triage (the target
    // groups' load balancers, one GetMetricData); read the targets
    // of the one with the incident; one transaction that resolves the incident and frees the
    // resource record (a condition on it, not a read). The check reads the incident's
    // groups again to verify the replacement serves (DescribeAutoScalingInstances,
    // DescribeAutoScalingGroups), though the listing read them: 2 above, left to
    // a later round (the check does not take the listing's groups yet).
    emulator.clear_requests();
    handler
        .handle(sample_event("target-health/scheduled-sweep.json"))
        .await
        .map_err(in_scenario("sweep"))?;
    scenarios.push(scenario(
        "sweep: recovery verified → resolved",
        &emulator,
        minimum(&[
            ("DescribeAutoScalingGroups", 1),
            ("Query", 1),
            ("GetItem", 1),
            ("DescribeTargetGroups", 1),
            ("GetMetricData", 1),
            ("DescribeTargetHealth", 1),
            ("TransactWriteItems", 1),
        ]),
    ));

    // The table's stream for those changes reaches the notifier: one publish per state
    // change (remediating, resolved) and nothing else.
    let state_file =
        std::env::temp_dir().join(format!("rebound-bench-stream-{}", std::process::id()));
    let stream: StreamEvent =
        serde_json::from_value(stack.pending_stream_event(&emulator, &state_file))?;
    std::fs::remove_file(&state_file).ok();
    let notifier = rebound::aws::notifier_handler(&stack.notifier_config(), &sdk);
    emulator.clear_requests();
    notifier
        .handle(stream)
        .await
        .map_err(in_scenario("notifier"))?;
    scenarios.push(scenario(
        "notifier: two state changes → two messages",
        &emulator,
        minimum(&[("Publish", 2)]),
    ));

    // A healthy target group with nothing open: read the targets and the resource record;
    // a firing alarm also reads ahead what a replacement would need a round trip later
    // (the managed groups with their instances, the load balancers in front): two reads
    // that find nothing to do here buy a replacement four round trips instead of ten.
    emulator.clear_requests();
    handler
        .handle(stack.alarm_event(0))
        .await
        .map_err(in_scenario("healthy"))?;
    scenarios.push(scenario(
        "alarm: healthy target group, nothing open",
        &emulator,
        minimum(&[
            ("DescribeTargetHealth", 1),
            ("GetItem", 1),
            ("DescribeAutoScalingGroups", 1),
            ("DescribeTargetGroups", 1),
        ]),
    ));
    drop(emulator);

    // Every target failing: escalated. What holds instances comes before the blast
    // radius (invariants 7, 15 and 16: only what no hold explains is a systemic
    // failure), so the minimum is a replacement's reads up to its decision: the
    // targets, the instances' group with its refresh, the record of the database it
    // depends on, the zonal shifts on the load balancer in front, the deployments in
    // flight, the resource record and the ledgers; then one transaction opening the
    // incident already escalated.
    let Fixture {
        emulator,
        stack,
        handler,
        ..
    } = fixture(Managed::Yes, 4).await;
    handler
        .handle(stack.alarm_event(0))
        .await
        .map_err(in_scenario("systemic"))?;
    scenarios.push(scenario(
        "alarm: all targets unhealthy → escalated",
        &emulator,
        minimum(&[
            ("DescribeTargetHealth", 1),
            ("DescribeAutoScalingGroups", 1),
            ("DescribeInstanceRefreshes", 1),
            ("DescribeTargetGroups", 1),
            ("GetManagedResource", 1),
            ("ListDeployments", 1),
            ("GetItem", 2),
            ("BatchGetItem", 1),
            ("TransactWriteItems", 1),
        ]),
    ));
    drop(emulator);

    // An unmanaged group: observed and reported, no refresh lookup, no ledger, no
    // action. A zone shifted away holds any group's instances (the incident reads
    // "zone evacuated", not "unmanaged"), so the shifts on the load balancer in front
    // are read; deployments only for the managed groups Rebound could act on.
    let Fixture {
        emulator,
        stack,
        handler,
        ..
    } = fixture(Managed::No, 1).await;
    handler
        .handle(stack.alarm_event(0))
        .await
        .map_err(in_scenario("unmanaged"))?;
    scenarios.push(scenario(
        "alarm: unmanaged group → reported, untouched",
        &emulator,
        minimum(&[
            ("DescribeTargetHealth", 1),
            ("DescribeAutoScalingInstances", 1),
            // The managed groups read ahead with the targets (the alarm fires), then
            // the unmanaged group, found by its instance.
            ("DescribeAutoScalingGroups", 2),
            ("DescribeTargetGroups", 1),
            ("GetManagedResource", 1),
            ("GetItem", 1),
            ("TransactWriteItems", 1),
        ]),
    ));
    drop(emulator);
    scenarios.extend(measure_database_calls().await?);
    scenarios.extend(measure_zone_calls().await?);
    Ok(Value::Array(scenarios))
}

/// The database half: rds-health on the stack's managed Multi-AZ database, and the
/// app tier held while it heals.
async fn measure_database_calls() -> Result<Vec<Value>, BenchError> {
    let mut scenarios = Vec::new();
    let Fixture {
        emulator,
        stack,
        sdk,
        handler: app,
    } = fixture(Managed::Yes, 0).await;
    // The web group replaces ELB-unhealthy instances itself, so the app tier's hold
    // suspends that (the upkeep the held scenario counts).
    rebound_tests::scenario::elb_health_checks(&sdk, &stack.web().auto_scaling_group, 60).await;
    emulator.clear_requests();
    emulator.set_rds_mode("phased");
    let rds = rebound::aws::rds_health(&stack.rds_health_config(Mode::Enforce), &sdk);

    // An alarm on the sick primary. Minimum: read the instance; RDS's recent events (its
    // own failovers count against a new one); the resource record (one open incident);
    // the instance's and the account's ledgers (cooldown, budget); one transaction
    // opening the incident with its write-ahead failover and moving both ledgers; the
    // failover; its outcome.
    rds.handle(stack.rds_alarm_event())
        .await
        .map_err(in_scenario("rds failover"))?;
    scenarios.push(scenario(
        "rds alarm: sick Multi-AZ primary → failed over",
        &emulator,
        minimum(&[
            ("DescribeDBInstances", 1),
            ("DescribeEvents", 1),
            ("GetItem", 1),
            ("BatchGetItem", 1),
            ("TransactWriteItems", 1),
            ("RebootDBInstance", 1),
            ("PutItem", 1),
        ]),
    ));

    // An app instance failing meanwhile: held. Minimum: as for a replacement up to its
    // decision (targets, the managed groups with their instances, the group's refresh
    // status, the database's record (the dependency), the zonal shifts on the load balancer in
    // front, the deployments in flight, the target group's resource record, the
    // ledgers), one transaction opening the incident already suppressed; then the hold's
    // upkeep: the group replaces ELB-unhealthy instances by itself, so its
    // ReplaceUnhealthy is suspended while its instances are held (written ahead and
    // recorded: GetItem and PutItem; the suspension; the tag naming it Rebound's).
    let web = stack.web();
    emulator.set_target_health(
        &web.target_group_arn,
        &web.instance_ids[0],
        "unhealthy",
        "Target.FailedHealthChecks",
    );
    emulator.clear_requests();
    app.handle(stack.alarm_event(0))
        .await
        .map_err(in_scenario("dependency hold"))?;
    scenarios.push(scenario(
        "alarm: app instance failing while its database fails over → held (suppressed)",
        &emulator,
        minimum(&[
            ("DescribeTargetHealth", 1),
            ("DescribeAutoScalingGroups", 1),
            ("DescribeInstanceRefreshes", 1),
            ("DescribeTargetGroups", 1),
            ("GetManagedResource", 1),
            ("ListDeployments", 1),
            ("GetItem", 3),
            ("BatchGetItem", 1),
            ("TransactWriteItems", 1),
            ("PutItem", 1),
            ("SuspendProcesses", 1),
            ("CreateOrUpdateTags", 1),
        ]),
    ));

    // RDS finished; the failover-completed event verifies it. Minimum: the instance,
    // the resource record and the incident, the designated alarms (an open incident
    // resolves only once they are back to OK), one transaction resolving it and
    // recording the recovery on the resource record.
    emulator.rds_advance();
    let completed = emulator
        .rds_eventbridge_events()
        .pop()
        .unwrap_or(Value::Null);
    emulator.clear_requests();
    rds.handle(completed)
        .await
        .map_err(in_scenario("rds verify"))?;
    scenarios.push(scenario(
        "rds event 0049: failover verified → resolved",
        &emulator,
        minimum(&[
            ("DescribeDBInstances", 1),
            ("DescribeAlarms", 1),
            ("GetItem", 2),
            ("TransactWriteItems", 1),
        ]),
    ));

    // A healthy managed database on the schedule: list the instances, the open
    // incidents, then the instance and its designated alarms (the sweep catches an
    // alarm whose delivery was lost); nothing open, so no resource record.
    emulator.clear_requests();
    rds.handle(sample_event("rds-health/scheduled-sweep.json"))
        .await
        .map_err(in_scenario("rds sweep"))?;
    scenarios.push(scenario(
        "rds sweep: healthy database, nothing open",
        &emulator,
        with_backlog_read(minimum(&[
            ("DescribeDBInstances", 2),
            ("Query", 1),
            ("DescribeAlarms", 1),
        ])),
    ));
    drop(emulator);

    // A single-AZ database: escalated on what DescribeDBInstances says, without RDS's
    // events, a ledger read or a failover. Minimum: the instance, the resource record,
    // one transaction opening the incident already escalated.
    let emulator = Emulator::start();
    let stack = Stack::provision_database(
        &emulator,
        Managed::Yes,
        rebound_tests::stack::Database::SingleAz,
    );
    let sdk = emulator.sdk_config().await;
    let rds = rebound::aws::rds_health(&stack.rds_health_config(Mode::Enforce), &sdk);
    emulator.clear_requests();
    rds.handle(stack.rds_alarm_event())
        .await
        .map_err(in_scenario("rds single-az"))?;
    scenarios.push(scenario(
        "rds alarm: single-AZ database → escalated, never rebooted",
        &emulator,
        minimum(&[
            ("DescribeDBInstances", 1),
            ("GetItem", 1),
            ("TransactWriteItems", 1),
        ]),
    ));
    Ok(scenarios)
}

/// The zone the zonal scenarios impair: two of the reference group's four instances.
const ZONE: &str = "us-east-1b";

/// What observing one load balancer's zones reads, each once: the load balancer, its
/// tags (the opt-in) and attributes (is zonal shift enabled), the target groups it
/// forwards to and their targets, the groups owning them (each target's zone, whether
/// the group takes part in zonal shift).
const ZONE_OBSERVATION: [(&str, usize); 7] = [
    ("DescribeLoadBalancers", 1),
    ("DescribeTags", 1),
    ("DescribeLoadBalancerAttributes", 1),
    ("DescribeTargetGroups", 1),
    ("DescribeTargetHealth", 1),
    ("DescribeAutoScalingInstances", 1),
    ("DescribeAutoScalingGroups", 1),
];

/// A zone scenario's minimum: one observation of the load balancer's zones, and `more`.
fn zone_minimum(more: &[(&str, usize)]) -> Counts {
    minimum(&[&ZONE_OBSERVATION[..], more].concat())
}

/// A delivery's minimum: as [`zone_minimum`], but the groups owning the targets come
/// from the managed groups read ahead with their instances (one DescribeAutoScalingGroups
/// beside the load balancer), not from each target's group.
fn zone_delivery_minimum(more: &[(&str, usize)]) -> Counts {
    let mut counts = zone_minimum(more);
    counts.remove("DescribeAutoScalingInstances");
    counts
}

/// A zone sweep's minimum: as [`zone_minimum`], and the sweep's backlog read.
fn zone_sweep_minimum(more: &[(&str, usize)]) -> Counts {
    with_backlog_read(zone_minimum(more))
}

/// A sweep also reads what the last one had no time for (one GetItem).
fn with_backlog_read(mut counts: Counts) -> Counts {
    *counts.entry("GetItem".to_owned()).or_default() += 1;
    counts
}

/// zone-health on the reference stack, whose load balancer has zonal shift enabled and
/// whose group takes part in it, with no wait between looks: a second look confirms at
/// once, and a zone healthy again is returned at once.
fn zone_health(s: &Scenario) -> rebound::aws::ZoneHealthFunction {
    let mut config = s.stack.zone_health_config(Mode::Enforce);
    config.policy.confirm = Duration::ZERO;
    config.policy.settle = Duration::ZERO;
    rebound::aws::zone_health(&config, &s.sdk)
}

/// The calls of one zone-health invocation, which must leave the zone's incident in
/// `state` having taken the actions of `kinds` (in order).
async fn zone_step(
    s: &Scenario,
    handler: &rebound::aws::ZoneHealthFunction,
    event: Value,
    name: &'static str,
    expect: (Option<IncidentState>, &[&str]),
) -> Result<(), BenchError> {
    s.emulator.clear_requests();
    let report = handler.handle(event).await.map_err(in_scenario(name))?;
    let check = report
        .checks
        .iter()
        .find(|c| c.resource.kind == rebound::kinds::zone::AVAILABILITY_ZONE);
    let state = check.and_then(|c| c.incident_state);
    let kinds: Vec<&str> = check
        .map(|c| c.actions.iter().map(|a| a.kind.as_str()).collect())
        .unwrap_or_default();
    let failed = check.is_some_and(|c| {
        c.actions
            .iter()
            .any(|a| a.outcome != ActionOutcome::Succeeded)
    });
    if state != expect.0 || kinds != expect.1 || failed || !report.failures.is_empty() {
        return Err(BenchError::Unexpected {
            scenario: name,
            found: serde_json::to_string(&report).unwrap_or_default(),
        });
    }
    Ok(())
}

/// The zonal path (zone-health): one zone of the reference stack going grey, from the
/// schedule's first look through the shift, its extension, its end and the incident's
/// resolution; and the quick path, where the zone's own alarm confirms the first look.
async fn measure_zone_calls() -> Result<Vec<Value>, BenchError> {
    let mut scenarios = Vec::new();
    let s = rebound_tests::scenario::scenario(Managed::Yes).await;
    let zones = zone_health(&s);
    let sweep = || sample_event("zone-health/scheduled-sweep.json");

    // Every zone healthy. Minimum: the managed load balancers' zones observed, the open
    // incidents. A sweep observes each managed load balancer's zones to list the ones to
    // check; the check of a zone it lists can decide on that observation, so each sweep
    // below has one observation in its minimum (as target-health's sweep reads each
    // target group's targets once). Each zone check also reads the shifts in effect on
    // the load balancer and on the group (ARC: GetManagedResource each; a shift someone
    // else started is followed, not doubled) and needs the zone IDs, read once per
    // process (the first check of this handler).
    zone_step(&s, &zones, sweep(), "zone sweep healthy", (None, &[])).await?;
    scenarios.push(scenario(
        "zone sweep: every zone healthy, nothing open",
        &s.emulator,
        zone_sweep_minimum(&[("Query", 1)]),
    ));

    // One zone's targets failing: the first look opens the zone's incident, held until
    // a second look (or the zone's alarm) confirms. Minimum: the observation, the open
    // incidents, the zone IDs and the shifts in effect; the resource record (one open
    // incident, a drill); one transaction opening the incident. No ledger: nothing is
    // done yet (as target-health's held and escalated incidents read none).
    s.impair_zone(ZONE).await;
    zone_step(
        &s,
        &zones,
        sweep(),
        "zone first look",
        (Some(IncidentState::Open), &[]),
    )
    .await?;
    scenarios.push(scenario(
        "zone sweep: one zone's targets failing, first look → confirming (held)",
        &s.emulator,
        zone_sweep_minimum(&[
            ("Query", 1),
            ("DescribeAvailabilityZones", 1),
            ("GetManagedResource", 2),
            ("GetItem", 1),
            ("TransactWriteItems", 1),
        ]),
    ));

    // The second look confirms: the shift. Minimum: the observation, the open incidents
    // (the incident with them), the shifts in effect; the ledgers of the load balancer,
    // the zone, the group and the account (cooldown, budget); one transaction with the
    // write-ahead action and the ledgers moved; StartZonalShift on the load balancer and
    // on the group (it takes part in zonal shift); the outcome recorded.
    zone_step(
        &s,
        &zones,
        sweep(),
        "zone shift",
        (Some(IncidentState::Remediating), &["start-zonal-shift"]),
    )
    .await?;
    scenarios.push(scenario(
        "zone sweep: second look → shifted away (load balancer and group)",
        &s.emulator,
        zone_sweep_minimum(&[
            ("Query", 1),
            ("GetManagedResource", 2),
            ("BatchGetItem", 1),
            ("TransactWriteItems", 1),
            ("StartZonalShift", 2),
            ("PutItem", 1),
        ]),
    ));

    // A sweep while the zone stays impaired and shifted away waits, and records the
    // shifts in effect (their IDs) in the incident's evidence. Untimed: the set-up of the
    // next scenario, where those shifts near their expiry.
    zone_step(
        &s,
        &zones,
        sweep(),
        "zone shifted",
        (Some(IncidentState::Remediating), &[]),
    )
    .await?;
    let incident = s
        .incidents()
        .await
        .into_iter()
        .find(|i| i.resource.kind == rebound::kinds::zone::AVAILABILITY_ZONE);
    let evidence: rebound::kinds::zone::Evidence = incident
        .as_ref()
        .and_then(|i| i.evidence.read().ok())
        .unwrap_or_default();
    let ids: Vec<&String> = evidence
        .shifts
        .iter()
        .filter_map(|shift| shift.id.as_ref())
        .collect();
    if ids.is_empty() {
        return Err(BenchError::Unexpected {
            scenario: "zone shifted",
            found: format!("no shift recorded in the zone incident's evidence: {evidence:?}"),
        });
    }
    for id in ids {
        let (status, body) = s.emulator.control(
            "POST",
            "/_rebound/zonal-shift/expiry",
            Some(json!({"zonal_shift_id": id, "expires_in_seconds": 600})),
        );
        if status != 200 {
            return Err(BenchError::Unexpected {
                scenario: "zone extend",
                found: format!("setting the expiry of shift {id}: {status} {body}"),
            });
        }
    }
    // Minimum: as for the shift, UpdateZonalShift of both shifts instead (an extension
    // counts against the zone's ledger).
    zone_step(
        &s,
        &zones,
        sweep(),
        "zone extend",
        (Some(IncidentState::Remediating), &["extend-zonal-shift"]),
    )
    .await?;
    scenarios.push(scenario(
        "zone sweep: still impaired, the shifts expiring → extended",
        &s.emulator,
        zone_sweep_minimum(&[
            ("Query", 1),
            ("GetManagedResource", 2),
            ("BatchGetItem", 1),
            ("TransactWriteItems", 1),
            ("UpdateZonalShift", 2),
            ("PutItem", 1),
        ]),
    ));

    // The zone healthy again (no settle time here): Rebound ends its own shifts.
    // Minimum: as for the shift, CancelZonalShift of both shifts instead (a return
    // counts against the zone's ledger).
    s.heal_targets();
    zone_step(
        &s,
        &zones,
        sweep(),
        "zone cancel",
        (Some(IncidentState::Remediating), &["cancel-zonal-shift"]),
    )
    .await?;
    scenarios.push(scenario(
        "zone sweep: the zone healthy again → shifts cancelled",
        &s.emulator,
        zone_sweep_minimum(&[
            ("Query", 1),
            ("GetManagedResource", 2),
            ("BatchGetItem", 1),
            ("TransactWriteItems", 1),
            ("CancelZonalShift", 2),
            ("PutItem", 1),
        ]),
    ));

    // No shift left and the zone healthy: resolved. Minimum: the observation, the open
    // incidents, the shifts in effect (none of Rebound's left), one transaction resolving
    // the incident. No ledger: nothing is done.
    zone_step(
        &s,
        &zones,
        sweep(),
        "zone resolve",
        (Some(IncidentState::Resolved), &[]),
    )
    .await?;
    scenarios.push(scenario(
        "zone sweep: the zone takes traffic again → resolved",
        &s.emulator,
        zone_sweep_minimum(&[
            ("Query", 1),
            ("GetManagedResource", 2),
            ("TransactWriteItems", 1),
        ]),
    ));
    drop(s);

    // The zone's own alarm confirms the first look: shifted at once, by a fresh
    // handler (the harness's zone-shift work invocation). Minimum: the observation, the
    // zone IDs, the shifts in effect; the resource record (one open incident, a drill);
    // the ledgers; one transaction opening the incident with the write-ahead action and
    // the ledgers moved; StartZonalShift on the load balancer and on the group; the
    // outcome recorded.
    let s = rebound_tests::scenario::scenario(Managed::Yes).await;
    let zones = zone_health(&s);
    s.impair_zone(ZONE).await;
    zone_step(
        &s,
        &zones,
        s.stack.zone_alarm_event(ZONE, "ALARM"),
        "zone alarm shift",
        (Some(IncidentState::Remediating), &["start-zonal-shift"]),
    )
    .await?;
    scenarios.push(scenario(
        "zone alarm: one zone's targets failing, its alarm confirms → shifted away at once",
        &s.emulator,
        zone_delivery_minimum(&[
            ("DescribeAvailabilityZones", 1),
            ("GetManagedResource", 2),
            ("GetItem", 1),
            ("BatchGetItem", 1),
            ("TransactWriteItems", 1),
            ("StartZonalShift", 2),
            ("PutItem", 1),
        ]),
    ));
    Ok(scenarios)
}

async fn storm(
    events: usize,
    target_groups: usize,
    concurrency: usize,
) -> Result<Value, BenchError> {
    let emulator = Emulator::start();
    let stack = Stack::provision_with(&emulator, Managed::Yes, 4, target_groups as u32);
    for tg in &stack.stacks {
        emulator.set_target_health(
            &tg.target_group_arn,
            &tg.instance_ids[0],
            "unhealthy",
            "Target.FailedHealthChecks",
        );
    }
    let sdk = emulator.sdk_config().await;
    let mut config = stack.target_health_config(Mode::Enforce);
    // One action per target group is expected: the hourly budget must not be the limit.
    config.policy.settings.action_budget_per_hour = (target_groups * 2) as u32;
    let handler = Arc::new(rebound::aws::target_health(&config, &sdk));
    let alarm_events: Arc<Vec<Value>> =
        Arc::new((0..target_groups).map(|i| stack.alarm_event(i)).collect());
    emulator.clear_requests();

    let started = Instant::now();
    let outcomes: Vec<bool> = futures::stream::iter(0..events)
        .map(|i| {
            let handler = Arc::clone(&handler);
            let event = alarm_events[i % target_groups].clone();
            tokio::spawn(async move { handler.handle(event).await.is_ok() })
        })
        .buffer_unordered(concurrency)
        .map(|joined| joined.unwrap_or(false))
        .collect()
        .await;
    let wall = started.elapsed().as_secs_f64();

    let log = emulator.request_log();
    let busy: f64 = log.iter().filter_map(|r| r["busy_s"].as_f64()).sum();
    let mut api_calls = Counts::new();
    for entry in &log {
        *api_calls
            .entry(entry["operation"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    let incidents = rebound::aws::incident_store(&config.store, &sdk)
        .list(events)
        .await
        .map_err(in_scenario("storm: list incidents"))?;
    let mut actions_per_tg: BTreeMap<String, usize> = stack
        .stacks
        .iter()
        .map(|s| (s.target_group_arn.clone(), 0))
        .collect();
    for incident in &incidents {
        let taken = incident
            .actions
            .iter()
            .filter(|a| a.outcome == ActionOutcome::Succeeded)
            .count();
        *actions_per_tg
            .entry(incident.resource.id.clone())
            .or_default() += taken;
    }
    let errors = outcomes.iter().filter(|ok| !**ok).count();
    // Every incident whose target group got no successful action, with what it recorded:
    // the storm's findings.
    let without_action: Vec<Value> = incidents
        .iter()
        .filter(|i| {
            !i.actions
                .iter()
                .any(|a| a.outcome == ActionOutcome::Succeeded)
        })
        .map(
            |i| json!({"id": i.id, "state": i.state, "actions": i.actions, "timeline": i.timeline}),
        )
        .collect();
    let failed_requests: Vec<&Value> = log
        .iter()
        .filter(|r| r["status"].as_u64().unwrap_or(0) >= 400)
        .collect();
    Ok(json!({
        "events": events,
        "target_groups": target_groups,
        "concurrency": concurrency,
        "incidents_opened": incidents.len(),
        "actions_taken": actions_per_tg.values().sum::<usize>(),
        "actions_per_target_group": {
            "min": actions_per_tg.values().min().copied().unwrap_or(0),
            "max": actions_per_tg.values().max().copied().unwrap_or(0),
        },
        "set_instance_health_calls": api_calls.get("SetInstanceHealth").copied().unwrap_or(0),
        "errors": errors,
        "incidents_without_action": without_action,
        "failed_requests": failed_requests,
        "wall_s": wall,
        "events_per_s": events as f64 / wall,
        "emulator_busy_s": busy,
        "emulator_busy_share": busy / wall,
        "api_calls": api_calls,
        "api_calls_per_event": log.len() as f64 / events as f64,
    }))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("rebound-bench: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), BenchError> {
    let (out, result) = match cli.command {
        Command::Calls { out } => (out, measure_calls().await?),
        Command::Storm {
            events,
            target_groups,
            concurrency,
            out,
        } => (out, storm(events, target_groups, concurrency).await?),
        Command::Sweep {
            target_groups,
            target_groups_per_group,
            instances,
            unhealthy_percent,
            api_rate_percent,
            timeout_seconds,
            max_invocations,
            out,
        } => {
            let plan = sweep::Plan {
                sizes: target_groups,
                target_groups_per_group,
                instances,
                unhealthy_percent,
                api_rate_percent,
                timeout: Duration::from_secs(timeout_seconds),
                max_invocations,
            };
            (out, sweep::sweep(&plan).await?)
        }
    };
    let text = serde_json::to_string_pretty(&result)? + "\n";
    std::fs::write(&out, text).map_err(|source| BenchError::Write { path: out, source })
}
