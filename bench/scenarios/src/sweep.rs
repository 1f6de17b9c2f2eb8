//! The `sweep` scenario: target-health's scheduled sweep over fleets of several sizes,
//! each on a fresh emulator, run as deployed: MODE=dry-run, every AWS request paced by
//! its service's token bucket (API_RATE_PERCENT, 20 by default), and each invocation
//! given a deadline like Lambda's (the template's Timeout), past which the sweep starts
//! no new check and leaves the rest to the next one.
//!
//! Per size: the first sweep (it opens the incidents of the unhealthy target groups) and
//! the second (the steady state of a schedule, with them open), each with its AWS calls
//! per operation and per service, the most calls of each service that arrived in any
//! second next to what its bucket allows, the wall time, the bench process's CPU time
//! (Rebound's: the emulator runs in another process) and the emulator's busy share; then,
//! when a sweep could not check everything before its deadline, further sweeps until every
//! target group they listed has been checked once, or a cap.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rebound::aws::pace::{Pacing, RealClock, PUBLISHED_RATES};
use rebound::aws::{Https, TargetHealthFunction};
use rebound::config::Mode;
use rebound_tests::{sample_event, Emulator, Stack};
use serde_json::{json, Value};

use crate::{in_scenario, BenchError, Counts};

const SWEEP_EVENT: &str = "target-health/scheduled-sweep.json";

/// What one `rebound-bench sweep` run measures.
pub struct Plan {
    /// Fleet sizes in target groups, one fresh emulator each.
    pub sizes: Vec<u32>,
    pub target_groups_per_group: u32,
    pub instances: u32,
    /// Share of the target groups given one unhealthy instance (at least one).
    pub unhealthy_percent: f64,
    /// API_RATE_PERCENT: the share of each service's published rate the handler's calls
    /// may use; 0 leaves them unpaced.
    pub api_rate_percent: u32,
    /// The invocation's time limit (Lambda's Timeout): its deadline is this long after
    /// the invocation starts.
    pub timeout: Duration,
    /// Sweeps run at most this many times per size to check every target group once.
    pub max_invocations: usize,
}

impl Plan {
    fn api_rate_share(&self) -> f64 {
        f64::from(self.api_rate_percent) / 100.0
    }
}

/// The CPU time this process has used so far (user + system, every thread), from
/// getrusage: the handler and its SDK clients run here, the emulator does not.
fn process_cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given, which is plain data and
    // fully initialised (zeroed) beforehand.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// Each paced service's bucket at `share` of its published rate, as
/// `rebound::aws::pace::Pacing` builds it (share clamped to [1 %, 100 %], at least one
/// token of burst), with the most calls it lets through in any one second: its burst
/// plus a second of refill. A service with a rate of its own for an operation (CloudWatch's
/// GetMetricData) is shown with its largest bucket (what its busiest operation may use),
/// each one listed under `rates`.
fn buckets(share: f64) -> BTreeMap<&'static str, Value> {
    let mut by_service: BTreeMap<&'static str, Value> = BTreeMap::new();
    if share <= 0.0 {
        return by_service;
    }
    let share = share.clamp(0.01, 1.0);
    for rate in PUBLISHED_RATES {
        let burst = (rate.burst * share).max(1.0);
        let per_second = rate.per_second * share;
        let bucket = json!({
            "operation": rate.operation,
            "burst": burst,
            "per_second": per_second,
            "allowed_in_any_second": burst + per_second,
        });
        let entry = by_service
            .entry(rate.service)
            .or_insert_with(|| json!({"allowed_in_any_second": 0.0, "rates": []}));
        if entry["allowed_in_any_second"].as_f64().unwrap_or(0.0) < burst + per_second {
            entry["burst"] = json!(burst);
            entry["per_second"] = json!(per_second);
            entry["allowed_in_any_second"] = json!(burst + per_second);
        }
        if let Some(rates) = entry["rates"].as_array_mut() {
            rates.push(bucket);
        }
    }
    by_service
}

/// How long an idle bucket takes to fill up again (the same at any share): the schedule
/// leaves minutes between two sweeps, so each one starts with full buckets.
fn refill_time() -> Duration {
    let slowest = PUBLISHED_RATES
        .iter()
        .map(|rate| rate.burst / rate.per_second)
        .fold(0.0, f64::max);
    Duration::from_secs_f64(slowest)
}

/// The SDK configuration the deployed function builds from its environment
/// (`rebound::aws::init_sdk`), aimed at the emulator: its connector paces every request
/// by service at `share` of the published rates (none at 0), retries are adaptive.
async fn deployed_sdk_config(emulator: &Emulator, share: f64) -> aws_config::SdkConfig {
    let https = if share > 0.0 {
        Https::paced(Pacing::new(share, Arc::new(RealClock::default())))
    } else {
        Https::new()
    };
    emulator
        .sdk_config()
        .await
        .to_builder()
        .http_client(https.client())
        .retry_config(rebound::aws::retry_config())
        .build()
}

/// The stack for one size: as `Stack::provision_groups` builds it, with the account's
/// adjustable Region quotas raised (provision.py --raised-quotas), as an account that
/// runs 10,000 target groups has them; the stack's shape is the same either way.
fn provision_fleet(
    emulator: &Emulator,
    groups: u32,
    per_group: u32,
    instances: u32,
) -> Result<Stack, BenchError> {
    let output = Command::new(rebound_tests::python())
        .arg(rebound_tests::repo_root().join("emulator/provision.py"))
        .args(["--endpoint", &emulator.url])
        .args(["--managed", "true", "--db-managed", "true"])
        .args(["--database", "multi-az"])
        .args(["--instances", &instances.to_string()])
        .args(["--target-groups", &groups.to_string()])
        .args(["--target-groups-per-group", &per_group.to_string()])
        .arg("--template")
        .arg(rebound_tests::repo_root().join("template.yaml"))
        .arg("--raised-quotas")
        .output()
        .map_err(|err| BenchError::Provision(format!("cannot run provision.py: {err}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
        return Err(BenchError::Provision(
            tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        ));
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|err| BenchError::Provision(format!("printed no stack: {err}")))
}

/// The most requests of each service that arrived within any one second (a window
/// starting at each arrival), from the request log's `started_s`.
fn peak_calls_per_second(log: &[Value]) -> Counts {
    let mut arrivals: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for entry in log {
        if let (Some(service), Some(started)) =
            (entry["service"].as_str(), entry["started_s"].as_f64())
        {
            arrivals
                .entry(service.to_owned())
                .or_default()
                .push(started);
        }
    }
    arrivals
        .into_iter()
        .map(|(service, mut times)| {
            times.sort_by(f64::total_cmp);
            let mut most = 0;
            let mut end = 0;
            for (start, &at) in times.iter().enumerate() {
                while end < times.len() && times[end] < at + 1.0 {
                    end += 1;
                }
                most = most.max(end - start);
            }
            (service, most)
        })
        .collect()
}

/// One sweep invocation's measurement, and the target groups it checked and listed
/// (checked, deferred or failed), for the coverage across invocations.
struct Sweep {
    measured: Value,
    checked: BTreeSet<String>,
    listed: BTreeSet<String>,
}

/// One sweep invocation with a Lambda-like deadline, timed, with the AWS calls it made.
async fn one_sweep(
    emulator: &Emulator,
    handler: &TargetHealthFunction,
    target_groups: usize,
    timeout: Duration,
) -> Result<Sweep, BenchError> {
    let event = sample_event(SWEEP_EVENT);
    emulator.clear_requests();
    let cpu_before = process_cpu_time();
    let started = Instant::now();
    let deadline = SystemTime::now() + timeout;
    let report = handler
        .handle_until(event, Some(deadline))
        .await
        .map_err(in_scenario("sweep"))?;
    let wall = started.elapsed().as_secs_f64();
    let cpu = (process_cpu_time().saturating_sub(cpu_before)).as_secs_f64();
    let log = emulator.request_log();

    let mut calls = Counts::new();
    let mut by_service = Counts::new();
    let mut busy_by_operation: BTreeMap<String, f64> = BTreeMap::new();
    for entry in &log {
        let operation = entry["operation"].as_str().unwrap_or_default().to_owned();
        let service = entry["service"].as_str().unwrap_or_default().to_owned();
        *calls.entry(operation.clone()).or_default() += 1;
        *by_service.entry(service).or_default() += 1;
        *busy_by_operation.entry(operation).or_default() += entry["busy_s"].as_f64().unwrap_or(0.0);
    }
    let busy: f64 = busy_by_operation.values().sum();
    let per_target_group: BTreeMap<&String, f64> = calls
        .iter()
        .map(|(op, n)| (op, *n as f64 / target_groups as f64))
        .collect();
    let mut verdicts = Counts::new();
    let mut refusals = Counts::new();
    for check in &report.checks {
        // Serialising a unit variant cannot fail.
        let verdict = serde_json::to_value(check.verdict).unwrap_or_default();
        *verdicts
            .entry(verdict.as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
        for refusal in &check.refusals {
            *refusals.entry(refusal.guard.to_owned()).or_default() += 1;
        }
    }
    let failed_requests = log
        .iter()
        .filter(|r| r["status"].as_u64().unwrap_or(0) >= 400)
        .count();
    let checked: BTreeSet<String> = report
        .checks
        .iter()
        .map(|c| c.resource.id.clone())
        .collect();
    let listed: BTreeSet<String> = checked
        .iter()
        .cloned()
        .chain(report.deferred.iter().map(|r| r.id.clone()))
        .chain(report.failures.iter().map(|f| f.resource.id.clone()))
        .collect();
    let measured = json!({
        "wall_s": wall,
        "checks": report.checks.len(),
        // What the triage picked for a look: checked, deferred to the next sweep, or failed.
        "listed": listed.len(),
        "deferred": report.deferred.len(),
        "check_failures": report.failures.len(),
        "timeout_s": timeout.as_secs_f64(),
        // Lambda would have ended an invocation that ran past its Timeout.
        "within_timeout": wall <= timeout.as_secs_f64(),
        "verdicts": verdicts,
        "refusals": refusals,
        "api_calls": calls,
        "api_calls_by_service": by_service,
        "peak_calls_per_second_by_service": peak_calls_per_second(&log),
        "api_calls_total": log.len(),
        "api_calls_per_target_group": per_target_group,
        "api_calls_per_target_group_total": log.len() as f64 / target_groups as f64,
        "failed_requests": failed_requests,
        "cpu_s": cpu,
        "cpu_ms_per_target_group": cpu * 1000.0 / target_groups as f64,
        "emulator_busy_s": busy,
        "emulator_busy_s_by_operation": busy_by_operation,
        "emulator_busy_share": busy / wall,
        // The handler's own time: SDK, HTTP and handler code, the pacing's waits, and
        // the wait for replies.
        "own_s": wall - busy,
        "wall_ms_per_target_group": wall * 1000.0 / target_groups as f64,
    });
    Ok(Sweep {
        measured,
        checked,
        listed,
    })
}

/// One size on a fresh emulator: provisioned, `unhealthy_percent` of its target groups
/// given an unhealthy instance, then swept (see the module's documentation).
async fn sweep_size(plan: &Plan, target_groups: u32) -> Result<Value, BenchError> {
    let per_group = plan.target_groups_per_group.max(1);
    if target_groups % per_group != 0 {
        return Err(BenchError::Unexpected {
            scenario: "sweep",
            found: format!("{target_groups} target groups are not whole groups of {per_group}"),
        });
    }
    let groups = target_groups / per_group;
    let emulator = Emulator::start();
    let started = Instant::now();
    let stack = provision_fleet(&emulator, groups, per_group, plan.instances)?;
    let provision_s = started.elapsed().as_secs_f64();
    eprintln!("sweep: provisioned in {provision_s:.1} s");
    let fleet: Vec<_> = stack.target_groups().collect();
    let total = fleet.len();
    // One unhealthy instance in evenly spread target groups.
    let broken = ((total as f64 * plan.unhealthy_percent / 100.0).round() as usize).clamp(1, total);
    let mut unhealthy = Vec::with_capacity(broken);
    let mut unhealthy_arns = BTreeSet::new();
    for k in 0..broken {
        let (group, tg) = fleet[k * total / broken];
        let instance = &group.instance_ids[k % group.instance_ids.len()];
        emulator.set_target_health(
            &tg.target_group_arn,
            instance,
            "unhealthy",
            "Target.FailedHealthChecks",
        );
        unhealthy_arns.insert(tg.target_group_arn.clone());
        unhealthy.push(json!({"target_group": tg.target_group_arn, "instance": instance}));
    }
    let load_balancers: BTreeSet<&str> = fleet
        .iter()
        .map(|(_, tg)| tg.load_balancer_arn.as_str())
        .collect();
    let share = plan.api_rate_share();
    let sdk = deployed_sdk_config(&emulator, share).await;
    let mut config = stack.target_health_config(Mode::DryRun);
    config.common.api_rate_share = share;
    let handler = rebound::aws::target_health(&config, &sdk);

    // The first sweep and the second always; more while some target group listed has
    // not been checked yet, up to the cap.
    let mut sweeps = Vec::new();
    let mut checked = BTreeSet::new();
    let mut listed = BTreeSet::new();
    let mut covered_after = None;
    while sweeps.len() < plan.max_invocations.max(2) {
        if !sweeps.is_empty() {
            tokio::time::sleep(refill_time()).await;
        }
        let sweep = one_sweep(&emulator, &handler, total, plan.timeout).await?;
        checked.extend(sweep.checked);
        listed.extend(sweep.listed);
        sweeps.push(sweep.measured);
        let n = sweeps.len();
        eprintln!(
            "sweep {n}: {:.1} s, {} checked, {} deferred",
            sweeps[n - 1]["wall_s"].as_f64().unwrap_or_default(),
            sweeps[n - 1]["checks"],
            sweeps[n - 1]["deferred"]
        );
        if covered_after.is_none() && listed.is_subset(&checked) {
            covered_after = Some(n);
        }
        if covered_after.is_some() && n >= 2 {
            break;
        }
    }
    let unhealthy_unchecked = unhealthy_arns.difference(&checked).count();
    let summary: Vec<Value> = sweeps
        .iter()
        .map(|s| {
            json!({
                "wall_s": s["wall_s"], "checks": s["checks"], "deferred": s["deferred"],
                "api_calls_total": s["api_calls_total"], "cpu_s": s["cpu_s"],
                "within_timeout": s["within_timeout"],
            })
        })
        .collect();
    let mut sweeps = sweeps.into_iter();
    let first = sweeps.next().unwrap_or(Value::Null);
    let again = sweeps.next().unwrap_or(Value::Null);
    Ok(json!({
        "groups": groups,
        "target_groups_per_group": per_group,
        "target_groups": total,
        "instances_per_group": plan.instances,
        "load_balancers": load_balancers.len(),
        "unhealthy_target_groups": broken,
        "unhealthy": unhealthy,
        "provision_s": provision_s,
        "first": first,
        "again": again,
        "coverage": {
            // Target groups any sweep listed for a check, and how many of them some
            // sweep checked.
            "listed": listed.len(),
            "checked": checked.len(),
            "unhealthy_unchecked": unhealthy_unchecked,
            // Sweeps until every target group listed had been checked once; null when
            // the cap came first.
            "invocations_to_cover": covered_after,
            "max_invocations": plan.max_invocations.max(2),
            "sweeps": summary,
        },
    }))
}

/// `to / from` of one number of two sizes' sweeps.
fn growth_of(from: &Value, to: &Value, path: &[&str]) -> Option<f64> {
    let get = |v: &Value| path.iter().try_fold(v, |v, key| v.get(key))?.as_f64();
    let (a, b) = (get(from)?, get(to)?);
    (a > 0.0).then(|| b / a)
}

pub async fn sweep(plan: &Plan) -> Result<Value, BenchError> {
    let per_group = plan.target_groups_per_group.max(1);
    let mut sizes = Vec::with_capacity(plan.sizes.len());
    for &target_groups in &plan.sizes {
        // cost.py reads this header (the lines up to the next one are this size's).
        eprintln!(
            "sweep: {} groups × {per_group} target groups",
            target_groups / per_group
        );
        sizes.push(sweep_size(plan, target_groups).await?);
    }
    // Smallest to largest: linear growth means every ratio is close to the first.
    let growth = match (sizes.first(), sizes.last()) {
        (Some(from), Some(to)) if sizes.len() > 1 => {
            let ratio = |path: &[&str]| growth_of(from, to, path);
            let operations: BTreeSet<&String> = ["first", "again"]
                .iter()
                .filter_map(|sweep| to[sweep]["api_calls"].as_object())
                .flat_map(|calls| calls.keys())
                .collect();
            let by_operation: BTreeMap<&String, Option<f64>> = operations
                .into_iter()
                .map(|op| (op, ratio(&["first", "api_calls", op])))
                .collect();
            json!({
                "from_target_groups": from["target_groups"],
                "to_target_groups": to["target_groups"],
                "target_groups": ratio(&["target_groups"]),
                "wall": ratio(&["first", "wall_s"]),
                "own": ratio(&["first", "own_s"]),
                "cpu": ratio(&["first", "cpu_s"]),
                "emulator_busy": ratio(&["first", "emulator_busy_s"]),
                "api_calls": ratio(&["first", "api_calls_total"]),
                "api_calls_by_operation": by_operation,
                "wall_again": ratio(&["again", "wall_s"]),
                "api_calls_again": ratio(&["again", "api_calls_total"]),
                "provision": ratio(&["provision_s"]),
            })
        }
        _ => Value::Null,
    };
    Ok(json!({
        "scenario": "sweep",
        "event": format!("events/{SWEEP_EVENT}"),
        "mode": "dry-run",
        "unhealthy_percent": plan.unhealthy_percent,
        "api_rate_percent": plan.api_rate_percent,
        // The bucket of each paced service at that share; services not named are not
        // paced (DynamoDB above all).
        "buckets": buckets(plan.api_rate_share()),
        "timeout_s": plan.timeout.as_secs_f64(),
        "deadline_margin_s": rebound::shell::DEADLINE_MARGIN.as_secs_f64(),
        "sizes": sizes,
        "growth": growth,
    }))
}
