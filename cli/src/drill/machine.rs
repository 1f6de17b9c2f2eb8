//! The drill as a state machine, Preflight → Confirm → Inject → Observe → Restore →
//! Report, with every decision a pure function of what was observed: whether to go on,
//! abort, or call the stack recovered. [`run`] drives it through the ports; whatever
//! happens after the injection started (recovery, an abort, a timeout, an error,
//! Ctrl-C), the restore runs before the report.

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rebound::domain::{DrillMark, IncidentState, ResourceRef};

use super::ports::{Console, Deployment, Injected, Injector, Observer, Records, Snapshot};
use super::report::{DrillResult, Milestones, Outcome};
use super::{DrillError, Target};

/// Where a drill is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Preflight,
    Confirm,
    Inject,
    Observe,
    Restore,
    Report,
    Done,
}

/// What happened in the current phase.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    PreflightPassed,
    Refused(Vec<String>),
    Confirmed,
    Declined,
    Injected,
    InjectFailed(String),
    /// An observation decided the drill: recovered, or stopped (abort, timeout).
    Decided(Outcome, Option<String>),
    /// An observation that decides nothing yet.
    Watching,
    ObserveFailed(String),
    Cancelled,
    Restored,
    RestoreFailed(String),
    Reported,
}

/// What the event that stopped a drill says of its outcome, and why.
fn stop_outcome(stop: &Event) -> (Outcome, Option<String>) {
    match stop {
        Event::Decided(outcome, reason) => (*outcome, reason.clone()),
        Event::Cancelled => (Outcome::Cancelled, Some("interrupted (Ctrl-C)".into())),
        Event::InjectFailed(why) => (Outcome::Failed, Some(format!("injection failed: {why}"))),
        Event::ObserveFailed(why) => (Outcome::Failed, Some(format!("observation failed: {why}"))),
        other => (Outcome::Failed, Some(format!("stopped on {other:?}"))),
    }
}

/// The transitions. Once `Inject` is entered the only way out is through `Restore`.
pub fn next(phase: Phase, event: &Event) -> Phase {
    use Event::*;
    use Phase::*;
    match (phase, event) {
        (Preflight, PreflightPassed) => Confirm,
        (Preflight, Refused(_)) => Done,
        (Confirm, Confirmed) => Inject,
        (Confirm, Declined) => Done,
        (Inject, Injected) => Observe,
        (Inject, InjectFailed(_) | Cancelled) => Restore,
        (Observe, Watching) => Observe,
        (Observe, Decided(..) | ObserveFailed(_) | Cancelled) => Restore,
        (Restore, Restored | RestoreFailed(_)) => Report,
        (Report, Reported) => Done,
        // Anything else is a bug in the runner; never skip the restore because of it.
        (Inject | Observe, _) => Restore,
        (other, _) => other,
    }
}

/// The limits a drill runs within.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub rto: Duration,
    /// How long to wait for verified recovery after the injection.
    pub timeout: Duration,
    pub interval: Duration,
    pub abort_if_healthy_below: Option<u32>,
    pub abort_on_alarms: Vec<String>,
}

/// The stack as it was before the injection: what recovery is measured against.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    pub members: Vec<String>,
    pub primary_az: Option<String>,
}

impl Baseline {
    pub fn of(snapshot: &Snapshot) -> Self {
        Self {
            members: snapshot
                .groups
                .iter()
                .flat_map(|g| g.group.instances.iter())
                .map(|i| i.instance_id.to_string())
                .collect(),
            primary_az: snapshot
                .database
                .as_ref()
                .and_then(|d| d.primary_az.clone()),
        }
    }
}

/// Healthy targets, and the targets that should be healthy (desired capacity in each
/// target group of the group, or the registered targets if more), over every group
/// watched; `None` without groups.
pub fn healthy_targets(snapshot: &Snapshot) -> Option<(usize, usize)> {
    if snapshot.groups.is_empty() {
        return None;
    }
    let mut healthy = 0usize;
    let mut expected = 0usize;
    for view in &snapshot.groups {
        let target_groups = view.group.target_group_arns.len().max(1);
        healthy += view
            .targets
            .iter()
            .filter(|t| t.state == rebound::kinds::target_group::observation::TargetState::Healthy)
            .count();
        expected += (view.group.desired_capacity as usize * target_groups).max(view.targets.len());
    }
    Some((healthy, expected))
}

/// [`healthy_targets`] as a share of the capacity, in percent.
pub fn healthy_percent(snapshot: &Snapshot) -> Option<u32> {
    let (healthy, expected) = healthy_targets(snapshot)?;
    Some((healthy * 100).checked_div(expected).unwrap_or(100) as u32)
}

/// Why the stack has not verifiably recovered yet, or `None` when it has: every group
/// back at its desired capacity with every registered target healthy (and the instance
/// put out of service gone from it), the database available with its primary moved to
/// the other zone, and every incident the drill caused resolved.
pub fn unrecovered(
    target: &Target,
    injected: &Injected,
    baseline: &Baseline,
    snapshot: &Snapshot,
) -> Option<String> {
    for view in &snapshot.groups {
        let group = &view.group;
        if view.targets.is_empty() {
            return Some(format!("group {} has no registered targets", group.name));
        }
        if let Some(t) = view
            .targets
            .iter()
            .find(|t| t.state != rebound::kinds::target_group::observation::TargetState::Healthy)
        {
            let state = serde_json::to_value(&t.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            return Some(format!("target {} is {state}", t.instance_id));
        }
        if !group.at_desired_capacity() {
            return Some(format!(
                "group {} has {} of {} instances in service",
                group.name,
                group.serving_count(),
                group.desired_capacity
            ));
        }
        if let Some(gone) = &injected.instance {
            if group
                .instances
                .iter()
                .any(|i| i.instance_id.as_str() == gone && i.serving())
            {
                return Some(format!("{gone} has not been replaced"));
            }
        }
    }
    if let (Target::Database { .. }, Some(db)) = (target, &snapshot.database) {
        if !db.is_available() {
            return Some(format!("{} is {}", db.id, db.status));
        }
        if db.primary_az.is_some() && db.primary_az == baseline.primary_az {
            return Some(format!(
                "the primary of {} is still in {}",
                db.id,
                db.primary_az.as_deref().unwrap_or("?")
            ));
        }
    }
    if let Some(incident) = snapshot
        .incidents
        .iter()
        .find(|i| i.state != IncidentState::Resolved)
    {
        return Some(format!(
            "incident {} is {}",
            incident.id,
            incident.state.as_str()
        ));
    }
    None
}

/// What one observation means for the drill: recovered, a stop condition tripped, the
/// wait is over, or keep watching (with the reason recovery is not verified yet).
pub fn evaluate(
    target: &Target,
    injected: &Injected,
    baseline: &Baseline,
    limits: &Limits,
    snapshot: &Snapshot,
) -> Result<(Outcome, Option<String>), String> {
    // An Availability Zone stays impaired for the whole drill: what the RTO holds is
    // its mitigation, the zone's traffic shifted away (recovery is measured after the
    // restore).
    if let Some(mitigated) = mitigated_at(target, snapshot) {
        let took = mitigated - injected.at;
        let outcome = if took.to_std().unwrap_or_default() <= limits.rto {
            Outcome::Mitigated
        } else {
            Outcome::MissedRto
        };
        return Ok((outcome, None));
    }
    let waiting = match unrecovered(target, injected, baseline, snapshot) {
        None => {
            let took = snapshot.at - injected.at;
            let outcome = if took.to_std().unwrap_or_default() <= limits.rto {
                Outcome::Recovered
            } else {
                Outcome::MissedRto
            };
            return Ok((outcome, None));
        }
        Some(why) => why,
    };
    if let Some(alarm) = snapshot
        .alarms_firing
        .iter()
        .find(|a| limits.abort_on_alarms.contains(a))
    {
        return Ok((
            Outcome::Aborted,
            Some(format!("stop condition: alarm {alarm} is in ALARM")),
        ));
    }
    if let (Some(floor), Some(healthy)) = (limits.abort_if_healthy_below, healthy_percent(snapshot))
    {
        if healthy < floor {
            return Ok((
                Outcome::Aborted,
                Some(format!(
                    "stop condition: {healthy}% of the capacity is healthy, below {floor}%"
                )),
            ));
        }
    }
    if (snapshot.at - injected.at).to_std().unwrap_or_default() >= limits.timeout {
        return Ok((
            Outcome::NotRecovered,
            Some(format!(
                "not recovered within {} s: {waiting}",
                limits.timeout.as_secs()
            )),
        ));
    }
    Err(waiting)
}

/// When the drill's impact was first mitigated (a zone's traffic shifted away), for
/// Availability Zone drills.
pub fn mitigated_at(target: &Target, snapshot: &Snapshot) -> Option<DateTime<Utc>> {
    if !matches!(target, Target::Group { az: Some(_), .. }) {
        return None;
    }
    snapshot
        .incidents
        .iter()
        .filter_map(|i| i.mitigated_at)
        .min()
}

impl Milestones {
    /// Takes in what an observation shows: Rebound's incidents (opened, first action
    /// requested, simulations excluded), or, when Rebound acted on nothing, the group
    /// replacing an instance by itself.
    pub fn update(&mut self, baseline: &Baseline, injected: &Injected, snapshot: &Snapshot) {
        let mitigated = snapshot
            .incidents
            .iter()
            .filter_map(|i| i.mitigated_at)
            .min();
        if let Some(at) = mitigated {
            self.mitigated_at = Some(self.mitigated_at.map_or(at, |m| m.min(at)));
        }
        let detected = snapshot.incidents.iter().map(|i| i.opened_at).min();
        if let Some(at) = detected {
            self.detected_at = Some(self.detected_at.map_or(at, |d| d.min(at)));
        }
        let acted = snapshot
            .incidents
            .iter()
            .flat_map(|i| i.actions.iter())
            .filter(|a| a.outcome.was_requested())
            .map(|a| a.requested_at)
            .min();
        if let Some(at) = acted {
            if self.first_action_by.as_deref() != Some("rebound")
                || self.first_action_at.is_some_and(|f| at < f)
            {
                self.first_action_at = Some(at);
                self.first_action_by = Some("rebound".into());
            }
        }
        if self.first_action_at.is_none() {
            let launched = snapshot
                .groups
                .iter()
                .flat_map(|g| g.group.instances.iter())
                .any(|i| !baseline.members.contains(&i.instance_id.to_string()));
            if launched && injected.instance.is_some() {
                self.first_action_at = Some(snapshot.at);
                self.first_action_by = Some("auto-scaling".into());
            }
        }
    }
}

/// Everything a drill needs, wired.
pub struct Drill<'a, I, O, D, R, C> {
    pub id: String,
    pub target: Target,
    pub via: String,
    pub limits: Limits,
    pub yes: bool,
    pub allow_dry_run: bool,
    /// The resources marked as disturbed by this drill.
    pub marked: Vec<ResourceRef>,
    pub injector: &'a mut I,
    pub observer: &'a O,
    pub deployment: &'a D,
    pub records: &'a R,
    pub console: &'a mut C,
    pub clock: fn() -> DateTime<Utc>,
}

impl<'a, I, O, D, R, C> Drill<'a, I, O, D, R, C> {
    /// The same drill with Rebound running another way.
    pub fn with_deployment<E>(self, deployment: &'a E) -> Drill<'a, I, O, E, R, C> {
        Drill {
            id: self.id,
            target: self.target,
            via: self.via,
            limits: self.limits,
            yes: self.yes,
            allow_dry_run: self.allow_dry_run,
            marked: self.marked,
            injector: self.injector,
            observer: self.observer,
            deployment,
            records: self.records,
            console: self.console,
            clock: self.clock,
        }
    }
}

/// The checks before anything is touched, as a pure function of what was read: the
/// reasons to refuse (none: go ahead).
pub fn preflight_refusals(
    target: &Target,
    rebound: &super::ports::ReboundInfo,
    allow_dry_run: bool,
    snapshot: &Snapshot,
    open: &[rebound::domain::Incident],
) -> Vec<String> {
    let mut refusals = Vec::new();
    if !rebound.deployed {
        refusals.push(format!("Rebound is not deployed: {}", rebound.source));
    } else if !rebound.enforce && !allow_dry_run {
        refusals.push(format!(
            "Rebound runs in dry-run ({}): it would not heal anything (--allow-dry-run measures detection only)",
            rebound.source
        ));
    }
    let tag = &rebound.managed_tag_key;
    match target {
        Target::Group { name, .. } => {
            let Some(view) = snapshot.groups.first() else {
                refusals.push(format!("no Auto Scaling group {name}"));
                return refusals;
            };
            if !view.group.is_managed(tag) {
                refusals.push(format!(
                    "group {name} is not managed by Rebound ({tag}=true)"
                ));
            }
        }
        Target::Database { id } => match &snapshot.database {
            None => {
                refusals.push(format!("no DB instance {id}"));
                return refusals;
            }
            Some(db) => {
                if !db.is_managed(tag) {
                    refusals.push(format!(
                        "DB instance {id} is not managed by Rebound ({tag}=true)"
                    ));
                }
                if !db.multi_az {
                    refusals.push(format!(
                        "DB instance {id} is not Multi-AZ: a failover drill would be an outage"
                    ));
                }
            }
        },
    }
    let injected = Injected {
        what: String::new(),
        at: snapshot.at,
        instance: None,
    };
    let baseline = Baseline {
        members: vec![],
        primary_az: None,
    };
    let healthy = Snapshot {
        incidents: vec![],
        ..snapshot.clone()
    };
    if let Some(why) = unrecovered(target, &injected, &baseline, &healthy)
        .filter(|why| !why.starts_with("the primary of"))
    {
        refusals.push(format!("the stack is not healthy: {why}"));
    }
    for incident in open {
        refusals.push(format!(
            "Rebound has incident {} {} on {}",
            incident.id,
            incident.state.as_str(),
            incident.resource.id
        ));
    }
    refusals
}

/// Runs the drill to its report. `cancel` resolves on Ctrl-C.
pub async fn run<I, O, D, R, C>(
    drill: Drill<'_, I, O, D, R, C>,
    cancel: impl Future<Output = ()>,
) -> Result<DrillResult, DrillError>
where
    I: Injector,
    O: Observer,
    D: Deployment,
    R: Records,
    C: Console,
{
    let Drill {
        id,
        target,
        via,
        limits,
        yes,
        allow_dry_run,
        marked,
        injector,
        observer,
        deployment,
        records,
        console,
        clock,
    } = drill;
    let mut cancel = pin!(cancel);
    let mut result = DrillResult::new(&id, &target, &via, limits.rto);

    // Preflight: nothing is touched when it refuses.
    let rebound = deployment.rebound().await?;
    let before = observer.snapshot(&id).await?;
    let open = observer.open_incidents_on(&marked).await?;
    let refusals = preflight_refusals(&target, &rebound, allow_dry_run, &before, &open);
    let mut phase = next(
        Phase::Preflight,
        &if refusals.is_empty() {
            Event::PreflightPassed
        } else {
            Event::Refused(refusals.clone())
        },
    );
    if phase == Phase::Done {
        result.refuse(refusals);
        return Ok(result);
    }
    console.progress(&format!("preflight ok: Rebound {}", rebound.source));

    // Confirm.
    let question = format!(
        "Drill {id}: {} (RTO {} s, waiting up to {} s). Go ahead?",
        injector.plan(),
        limits.rto.as_secs(),
        limits.timeout.as_secs()
    );
    let confirmed = yes || console.confirm(&question);
    phase = next(
        phase,
        if confirmed {
            &Event::Confirmed
        } else {
            &Event::Declined
        },
    );
    if phase == Phase::Done {
        result.decline();
        return Ok(result);
    }

    // Inject: from here on, every path goes through the restore.
    let baseline = Baseline::of(&before);
    let mark = DrillMark {
        id: id.clone(),
        until: clock()
            + chrono::Duration::from_std(limits.timeout).unwrap_or_default()
            + chrono::Duration::minutes(10),
    };
    let mut milestones = Milestones::default();
    let mut injected: Option<Injected> = None;
    let event = match records.mark(&marked, &mark).await {
        Err(err) => Event::InjectFailed(err.to_string()),
        Ok(()) => {
            tokio::select! {
                biased;
                () = &mut cancel => Event::Cancelled,
                outcome = injector.inject() => match outcome {
                    Ok(done) => {
                        console.progress(&format!("injected: {}", done.what));
                        result.injection = Some(done.what.clone());
                        result.injected_at = Some(done.at);
                        injected = Some(done);
                        Event::Injected
                    }
                    Err(err) => Event::InjectFailed(err.to_string()),
                },
            }
        }
    };
    phase = next(phase, &event);
    let mut stop = event;

    // Observe.
    while phase == Phase::Observe {
        let Some(done) = injected.as_ref() else {
            break;
        };
        let observed = async {
            deployment.tick().await?;
            observer.snapshot(&id).await
        };
        let event = tokio::select! {
            biased;
            () = &mut cancel => Event::Cancelled,
            observed = observed => match observed {
                Err(err) => Event::ObserveFailed(err.to_string()),
                Ok(snapshot) => {
                    milestones.update(&baseline, done, &snapshot);
                    result.incidents = snapshot.incidents.iter().map(|i| i.id.to_string()).collect();
                    match evaluate(&target, done, &baseline, &limits, &snapshot) {
                        Ok((outcome, why)) => {
                            let recovered = matches!(outcome, Outcome::Recovered | Outcome::MissedRto)
                                && mitigated_at(&target, &snapshot).is_none();
                            if recovered {
                                milestones.recovered_at = Some(snapshot.at);
                            }
                            Event::Decided(outcome, why)
                        }
                        Err(waiting) => {
                            console.progress(&progress_line(done, &snapshot, &milestones, &waiting));
                            Event::Watching
                        }
                    }
                }
            },
        };
        phase = next(phase, &event);
        if phase == Phase::Observe {
            tokio::select! {
                biased;
                () = &mut cancel => {
                    phase = next(phase, &Event::Cancelled);
                    stop = Event::Cancelled;
                }
                () = tokio::time::sleep(limits.interval) => {}
            }
        } else {
            stop = event;
        }
    }

    // Restore: always, once anything may have been touched.
    debug_assert_eq!(phase, Phase::Restore);
    console.progress("restoring");
    let restored = match injector.restore().await {
        Ok(notes) => {
            for note in &notes {
                console.progress(&format!("restored: {note}"));
            }
            result.restored = notes;
            Event::Restored
        }
        Err(err) => {
            console.progress(&format!("RESTORE FAILED: {err}"));
            result.restore_errors.push(err.to_string());
            Event::RestoreFailed(err.to_string())
        }
    };
    if let Err(err) = records.clear(&marked, &id).await {
        result
            .restore_errors
            .push(format!("drill marks not cleared: {err}"));
    }
    phase = next(phase, &restored);
    debug_assert_eq!(phase, Phase::Report);

    // A zone that was mitigated, restored: Rebound ends its shift once the zone has
    // stayed healthy, and the drill measures that return as its time to recover.
    if let (Some(done), Event::Decided(Outcome::Mitigated | Outcome::MissedRto, _)) =
        (injected.as_ref(), &stop)
    {
        if milestones.mitigated_at.is_some() && milestones.recovered_at.is_none() {
            console.progress(
                "waiting for the zone's return: Rebound ends its shift and verifies recovery",
            );
            let returned = async {
                let started = clock();
                loop {
                    deployment.tick().await?;
                    let snapshot = observer.snapshot(&id).await?;
                    if unrecovered(&target, done, &baseline, &snapshot).is_none() {
                        return Ok::<_, DrillError>(Some(snapshot.at));
                    }
                    if (clock() - started).to_std().unwrap_or_default() >= limits.timeout {
                        return Ok(None);
                    }
                    tokio::time::sleep(limits.interval).await;
                }
            };
            let returned = tokio::select! {
                biased;
                () = &mut cancel => Ok(None),
                returned = returned => returned,
            };
            match returned {
                Ok(Some(at)) => milestones.recovered_at = Some(at),
                Ok(None) => {
                    console.progress("the zone's return was not verified within the timeout")
                }
                Err(err) => console.progress(&format!("the zone's return was not observed: {err}")),
            }
        }
    }

    // Report.
    let (outcome, reason) = stop_outcome(&stop);
    result.settle(outcome, reason, &milestones);
    let detail = result.timeline_line();
    if let Ok(snapshot) = observer.snapshot(&id).await {
        for incident in &snapshot.incidents {
            if let Err(err) = records.append(incident, clock(), &detail).await {
                console.progress(&format!(
                    "result not added to incident {}: {err}",
                    incident.id
                ));
            }
        }
        result.incidents = snapshot
            .incidents
            .iter()
            .map(|i| i.id.to_string())
            .collect();
    }
    debug_assert_eq!(next(phase, &Event::Reported), Phase::Done);
    Ok(result)
}

fn progress_line(
    injected: &Injected,
    snapshot: &Snapshot,
    milestones: &Milestones,
    waiting: &str,
) -> String {
    let elapsed = (snapshot.at - injected.at).num_seconds();
    let healthy = match (healthy_targets(snapshot), healthy_percent(snapshot)) {
        (Some((healthy, expected)), Some(percent)) => {
            format!("{healthy}/{expected} targets healthy ({percent}%)")
        }
        _ => match &snapshot.database {
            Some(db) => format!("{} {}", db.id, db.status),
            None => "-".into(),
        },
    };
    let incident = snapshot
        .incidents
        .first()
        .map(|i| format!("incident {} {}", i.id, i.state.as_str()))
        .unwrap_or_else(|| "no incident".into());
    let action = milestones
        .first_action_by
        .as_deref()
        .map(|by| format!(", acted: {by}"))
        .unwrap_or_default();
    format!("observe +{elapsed}s  {healthy}  {incident}{action}  waiting: {waiting}")
}

#[cfg(test)]
mod tests;
