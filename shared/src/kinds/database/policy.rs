//! DB instances: when a sick primary is failed over to its standby, and when the
//! database verifiably serves again. Pure: every guard is a unit test
//! (`policy_tests.rs`).
//!
//! Do no harm (invariant 12): a failover is disruptive, so it needs a signal designated
//! for it — an alarm the database names in `rebound:failover-alarms` being in ALARM, or
//! one of RDS's own failure events. Any other alarm is evidence, never a reason. What a
//! delivery said (the [`Cue`]) is an input next to the observed state: the alarms'
//! states read back, the instance, its cluster, RDS's events, and the stored incident;
//! nothing edge-triggered is kept between checks.

use chrono::{DateTime, Utc};

use super::events::{event_rule, EventEffect};
use super::observation::{
    designated_alarms, AlarmPattern, AlarmState, DatabaseEvidence, DbCluster, DbInstance,
    Placement, RdsEvent, ScheduledMaintenance,
};
use super::{refusals, Policy, FAILOVER_DB_CLUSTER, REBOOT_WITH_FAILOVER};
use crate::config::Mode;
use crate::domain::{
    Action, ActionKind, ActionOutcome, Decision, Incident, NativeHealing, PlannedAction,
    PlannedWork, Refusal, ResourceRef, Verdict,
};
use crate::policy::{duration, earlier, later, ledger_guards, overdue, History};

/// What the delivery that asked for this check said, beyond the instance's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Cue {
    /// The schedule: look.
    #[default]
    Look,
    /// An `AWS/RDS` alarm on the instance changed state. Whether it may fail the
    /// database over depends on the database's own `rebound:failover-alarms`.
    Alarm(AlarmState),
    /// An RDS event about the instance (its effect when it is in the event table).
    Event {
        event: RdsEvent,
        effect: Option<EventEffect>,
    },
    /// AWS Health announced maintenance on the instance (or said it is over).
    Scheduled(ScheduledMaintenance),
}

impl Cue {
    pub fn effect(&self) -> Option<EventEffect> {
        match self {
            Self::Event { effect, .. } => *effect,
            _ => None,
        }
    }

    pub fn scheduled(&self) -> Option<&ScheduledMaintenance> {
        match self {
            Self::Scheduled(maintenance) => Some(maintenance),
            _ => None,
        }
    }

    pub fn event(&self) -> Option<&RdsEvent> {
        match self {
            Self::Event { event, .. } => Some(event),
            _ => None,
        }
    }
}

/// What is known about a DB instance at decision time.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    pub instance: &'a DbInstance,
    /// The cluster, when the instance is a member of one.
    pub cluster: Option<&'a DbCluster>,
    /// RDS events about the instance over the cooldown window, oldest first
    /// (DescribeEvents: categories, no ids).
    pub events: &'a [RdsEvent],
    /// The designated failover alarms' states, when read.
    pub alarms: &'a [AlarmState],
    /// What the open incident keeps (its events with their ids, where the primary was).
    pub kept: Option<&'a DatabaseEvidence>,
}

impl Observation<'_> {
    pub fn summary(&self) -> String {
        let db = self.instance;
        let placement = match self.cluster {
            Some(cluster) => format!(
                "member of cluster {} (writer {})",
                cluster.id,
                cluster
                    .writer()
                    .map_or_else(|| "none".to_owned(), ToString::to_string)
            ),
            None if db.multi_az => format!(
                "Multi-AZ, primary in {}, standby in {}",
                db.primary_az.as_deref().unwrap_or("?"),
                db.standby_az.as_deref().unwrap_or("?")
            ),
            None => format!("single-AZ in {}", db.primary_az.as_deref().unwrap_or("?")),
        };
        format!("{} is {}, {placement}", db.id, db.status)
    }

    /// The alarms the database (or its cluster) designates for a failover.
    pub fn designated(&self) -> Vec<AlarmPattern> {
        let mut patterns = designated_alarms(&self.instance.tags);
        if let Some(cluster) = self.cluster {
            patterns.extend(designated_alarms(&cluster.tags));
        }
        patterns
    }

    /// The scope a failover acts through and counts against: the cluster, or the
    /// instance.
    pub fn scope(&self) -> ResourceRef {
        match self.cluster {
            Some(cluster) => super::db_cluster(&cluster.id),
            None => super::db_instance(&self.instance.id),
        }
    }
}

impl<'a> Observation<'a> {
    fn kept_events(self) -> impl Iterator<Item = &'a RdsEvent> + 'a {
        self.kept.into_iter().flat_map(|d| d.events.iter())
    }
}

/// Why a failover is wanted now, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sick {
    since: Option<DateTime<Utc>>,
}

/// The designated alarms in ALARM: as read back (newer than any delivery), and the
/// delivered one when it was not read.
fn firing(observation: Observation<'_>, cue: &Cue) -> Vec<AlarmState> {
    let designated = observation.designated();
    let is_designated = |name: &str| designated.iter().any(|p| p.matches(name));
    let mut states: Vec<AlarmState> = observation
        .alarms
        .iter()
        .filter(|a| is_designated(&a.name))
        .cloned()
        .collect();
    if let Cue::Alarm(alarm) = cue {
        if is_designated(&alarm.name) && states.iter().all(|a| a.name != alarm.name) {
            states.push(alarm.clone());
        }
    }
    states.retain(AlarmState::is_firing);
    states
}

/// A signal designated for a failover: a designated alarm in ALARM, or a failure event
/// RDS reports that a failover fixes.
fn sick(observation: Observation<'_>, cue: &Cue) -> Option<Sick> {
    let firing = firing(observation, cue);
    if !firing.is_empty() {
        return Some(Sick {
            since: firing.iter().filter_map(|a| a.since).min(),
        });
    }
    match cue {
        Cue::Event {
            event,
            effect: Some(EventEffect::Sick),
        } => Some(Sick {
            since: Some(event.at),
        }),
        _ => None,
    }
}

/// A signal designated for a failover is present (whatever the guards will say).
pub fn wants_failover(observation: Observation<'_>, cue: &Cue) -> bool {
    sick(observation, cue).is_some()
}

/// A signal a failover already answered: it started before the last failover of this
/// database. Duplicate and late deliveries of it open nothing new once that failover's
/// incident resolved.
fn already_answered(sick: &Sick, observation: Observation<'_>, history: History<'_>) -> bool {
    let Some(since) = sick.since else {
        return false;
    };
    history
        .ledger(&observation.scope())
        .and_then(|ledger| ledger.last_action_at())
        .is_some_and(|last| last >= since)
}

fn is_failover(kind: &ActionKind) -> bool {
    *kind == REBOOT_WITH_FAILOVER || *kind == FAILOVER_DB_CLUSTER
}

/// A failover of this incident was asked for (or may have been: written ahead).
pub fn failover_requested(incident: &Incident) -> bool {
    incident
        .actions
        .iter()
        .any(|a| is_failover(&a.kind) && a.outcome.was_requested())
}

/// Why a delivered event opens nothing on a database with nothing open, if it does
/// not: it is older than the last verified recovery (a late or duplicate delivery, a
/// failover-started event for a failover already completed), or it is a cluster's
/// failover starting and this member is not the cluster's writer (the writer's incident
/// follows it).
pub fn opens_nothing(
    observation: Observation<'_>,
    last_recovered_at: Option<DateTime<Utc>>,
    cue: &Cue,
) -> Option<String> {
    let event = cue.event()?;
    if let Some(recovered) = last_recovered_at.filter(|at| event.at <= *at) {
        return Some(format!(
            "{} of {} is older than the last verified recovery at {}: a late copy, it opens nothing",
            event.label(),
            event.at.to_rfc3339(),
            recovered.to_rfc3339()
        ));
    }
    let from_cluster = event.cluster.is_some();
    let writer = observation.cluster.and_then(|c| c.writer());
    if from_cluster
        && cue.effect() == Some(EventEffect::FailoverStarted)
        && writer.is_some_and(|w| *w != observation.instance.id)
    {
        return Some(format!(
            "{} of cluster {}: {} is a reader; the writer's incident follows the failover",
            event.label(),
            observation.cluster.map_or("?", |c| c.id.as_str()),
            observation.instance.id
        ));
    }
    None
}

pub fn decide(
    observation: Observation<'_>,
    cue: &Cue,
    history: History<'_>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Decision {
    let mut decision = guarded(observation, cue, history, policy, now);
    decision.planned = scheduled(observation, cue).map(|maintenance| PlannedWork {
        event: maintenance.event.clone(),
        starts_at: maintenance.starts_at,
        detail: format!(
            "maintenance of {}: Rebound fails it over to its standby ahead of it only when its approval mode for a failover is approve (rebound:approval) and a person approves",
            observation.instance.id
        ),
    });
    // Last, after every other guard: a failover whose mode is approve waits for a
    // person (the instance's or cluster's rebound:approval tag, or APPROVAL_MODES).
    crate::approval::gate(
        &mut decision,
        history.incident,
        &policy.settings.approvals,
        super::APPROVABLE,
        |scope| match observation.cluster {
            Some(cluster) if cluster.id.as_str() == scope.id => Some(&cluster.tags),
            _ => {
                (observation.instance.id.as_str() == scope.id).then_some(&observation.instance.tags)
            }
        },
        now,
    );
    decision
}

/// Every guard but the approval's.
fn guarded(
    observation: Observation<'_>,
    cue: &Cue,
    history: History<'_>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Decision {
    let summary = observation.summary();
    let instance = observation.instance;
    if let Some(incident) = history.incident {
        if let Some(since) = failover_since(observation, cue, incident) {
            let ours = incident
                .actions
                .iter()
                .any(|a| is_failover(&a.kind) && a.outcome.was_requested());
            let mut decision = verify(
                observation,
                cue,
                incident,
                history,
                since,
                policy,
                now,
                summary,
            );
            if !ours {
                decision.native_healing = Some(failed_over_by_rds(observation, cue, since));
            }
            return decision;
        }
    }
    if cue.effect() == Some(EventEffect::FailoverStarted) || instance.status == "failing-over" {
        let mut decision = Decision::plain(
            Verdict::Underway,
            format!("RDS is failing over {}: {summary}", instance.id),
        );
        decision.native_healing = Some(failed_over_by_rds(observation, cue, now));
        return decision;
    }
    if instance.needs_a_person() {
        let why = format!("is {}", instance.status);
        return Decision::from_guards(
            vec![],
            vec![refusals::needs_a_person(instance.id.as_str(), &why)],
            summary,
        );
    }
    if let (Some(EventEffect::NeedsPerson), Some(event)) = (cue.effect(), cue.event()) {
        let why = format!("reported {}: {}", event.label(), event.message);
        return Decision::from_guards(
            vec![],
            vec![refusals::needs_a_person(instance.id.as_str(), &why)],
            summary,
        );
    }
    let wanted = sick(observation, cue)
        .filter(|s| history.incident.is_some() || !already_answered(s, observation, history));
    if wanted.is_some() {
        let mut decision = match guard_failover(observation, history, policy, now, false) {
            Ok(action) => Decision::from_guards(vec![action], vec![], summary),
            Err(refusal) => Decision::from_guards(vec![], vec![refusal], summary),
        };
        // Sick, and kept from failing over for longer than recovery may take because
        // it never became available: a person is needed.
        let stuck = decision.refusals.iter().any(|r| r.is("not-available"));
        if let Some(incident) = history.incident.filter(|_| stuck) {
            if let Some(refusal) = overdue(incident, &policy.settings, now, &decision.summary) {
                decision.verdict = Verdict::Escalate;
                decision.refusals.push(refusal);
            }
        }
        return decision;
    }
    if let Some(maintenance) = scheduled(observation, cue) {
        return ahead_of_maintenance(observation, maintenance, history, policy, now, summary);
    }
    match history.incident {
        None if cue.effect() == Some(EventEffect::Watch) => Decision::plain(Verdict::Hold, summary),
        None => Decision::plain(Verdict::Healthy, summary),
        Some(_) if instance.is_available() && cluster_available(observation) => Decision::plain(
            Verdict::Resolve,
            format!("{summary}: recovered without failover"),
        ),
        Some(incident) => {
            let why = format!("{} is {}", instance.id, instance.status);
            waiting(incident, why, policy, now, summary)
        }
    }
}

/// The maintenance announced on the database: by this delivery, else as its incident
/// keeps it.
pub fn scheduled<'a>(
    observation: Observation<'a>,
    cue: &'a Cue,
) -> Option<&'a ScheduledMaintenance> {
    cue.scheduled()
        .or_else(|| observation.kept.and_then(|kept| kept.scheduled.as_ref()))
}

/// A healthy database with maintenance announced: the incident announces it and waits
/// for it to pass (AWS Health says it is over, or its start is a recovery timeout behind
/// and the database is available). RDS applies Multi-AZ maintenance to the standby
/// first, so Rebound fails over ahead of it only where people asked to decide
/// (approval mode `approve` for the failover): then the failover is proposed with every
/// guard, and a person's approval makes the next check read again and act.
fn ahead_of_maintenance(
    observation: Observation<'_>,
    maintenance: &ScheduledMaintenance,
    history: History<'_>,
    policy: &Policy,
    now: DateTime<Utc>,
    summary: String,
) -> Decision {
    let managed = match observation.cluster {
        Some(cluster) => policy.settings.is_managed(&cluster.tags),
        None => policy.settings.is_managed(&observation.instance.tags),
    };
    if !managed && history.incident.is_none() {
        return Decision::plain(
            Verdict::Healthy,
            format!(
                "{summary}; maintenance {} announced on a database Rebound does not manage",
                maintenance.event
            ),
        );
    }
    let available = observation.instance.is_available() && cluster_available(observation);
    let over = maintenance.closed
        || maintenance
            .starts_at
            .is_some_and(|starts| later(starts, duration(policy.settings.recovery_timeout)) <= now);
    if over {
        return match history.incident {
            Some(_) if available => Decision::plain(
                Verdict::Resolve,
                format!("{summary}: the announced maintenance is over"),
            ),
            Some(incident) => {
                let why = format!(
                    "{} is {}",
                    observation.instance.id, observation.instance.status
                );
                waiting(incident, why, policy, now, summary)
            }
            None => Decision::plain(Verdict::Healthy, summary),
        };
    }
    let summary = format!("{summary}; maintenance {} announced", maintenance.event);
    let ahead = maintenance.starts_at.is_none_or(|starts| now < starts);
    let failover = guard_failover(observation, history, policy, now, false);
    let wanted = |action: &PlannedAction| {
        let tags = match observation.cluster {
            Some(cluster) if cluster.id.as_str() == action.scope.id => &cluster.tags,
            _ => &observation.instance.tags,
        };
        crate::approval::mode_of(action, &policy.settings.approvals, Some(tags)).0
            == crate::config::ApprovalMode::Approve
    };
    match failover {
        Ok(action) if ahead && wanted(&action) => {
            Decision::from_guards(vec![action], vec![], summary)
        }
        _ => Decision::plain(Verdict::Hold, summary),
    }
}

fn cluster_available(observation: Observation<'_>) -> bool {
    observation.cluster.is_none_or(DbCluster::is_available)
}

/// Recovering, or escalated once recovery is overdue.
fn waiting(
    incident: &Incident,
    why: String,
    policy: &Policy,
    now: DateTime<Utc>,
    summary: String,
) -> Decision {
    match overdue(incident, &policy.settings, now, &why) {
        Some(refusal) => Decision::from_guards(vec![], vec![refusal], summary),
        None => Decision::waiting(why, summary),
    }
}

/// Since when a failover of this incident is under way or done, if one is: the last
/// failover Rebound asked for; or one RDS made by itself, as the incident recorded it
/// (where the primary was when it began) or as RDS reports it (a failover event since
/// the incident opened).
fn failover_since(
    observation: Observation<'_>,
    cue: &Cue,
    incident: &Incident,
) -> Option<DateTime<Utc>> {
    let ours: Vec<&Action> = incident
        .actions
        .iter()
        .filter(|a| is_failover(&a.kind))
        .collect();
    if !ours.is_empty() {
        // A failover of ours that failed or was only simulated is not under way.
        return ours
            .iter()
            .filter(|a| a.outcome.was_requested())
            .map(|a| a.requested_at)
            .max();
    }
    if let Some(before) = observation.kept.and_then(|d| d.before_failover.as_ref()) {
        return Some(before.at);
    }
    let by_rds = cue
        .event()
        .into_iter()
        .chain(observation.kept_events())
        .filter(|e| e.at >= incident.opened_at)
        .any(|e| {
            matches!(
                effect_of(e),
                Some(EventEffect::FailoverStarted | EventEffect::FailoverCompleted)
            )
        });
    by_rds.then_some(incident.opened_at)
}

/// RDS failing over by itself (a Multi-AZ instance's own failover on a hard failure, or
/// one started outside Rebound): Rebound follows it and verifies the recovery.
fn failed_over_by_rds(
    observation: Observation<'_>,
    cue: &Cue,
    since: DateTime<Utc>,
) -> NativeHealing {
    let is_failover = |e: &&RdsEvent| {
        matches!(
            effect_of(e),
            Some(EventEffect::FailoverStarted | EventEffect::FailoverCompleted)
        )
    };
    let event = cue
        .event()
        .filter(is_failover)
        .or_else(|| event_since(observation, cue, EventEffect::FailoverStarted, since))
        .or_else(|| event_since(observation, cue, EventEffect::FailoverCompleted, since));
    let detail = match event {
        Some(event) => format!("{}: {}", event.label(), event.message),
        None => format!(
            "{} is {}",
            observation.instance.id, observation.instance.status
        ),
    };
    NativeHealing {
        by: "failed over by RDS",
        detail,
    }
}

fn effect_of(event: &RdsEvent) -> Option<EventEffect> {
    event
        .id
        .as_ref()
        .and_then(|id| event_rule(id, &event.categories))
        .map(|rule| rule.effect)
}

/// An event (by id: delivered now, or kept in the incident's evidence) with this effect,
/// dated at or after `since`.
fn event_since<'a>(
    observation: Observation<'a>,
    cue: &'a Cue,
    effect: EventEffect,
    since: DateTime<Utc>,
) -> Option<&'a RdsEvent> {
    cue.event()
        .into_iter()
        .chain(observation.kept_events())
        .filter(|e| e.at >= since)
        .find(|e| effect_of(e) == Some(effect))
}

/// Verified recovery (invariant 9): `available` after the failover completed. A
/// failover RDS skipped, or accepted and never carried out, is settled by reading state
/// (invariant 13): a database available with none of its designated alarms in ALARM
/// recovered without it; otherwise a failover accepted without effect is asked once
/// more, and then a person is needed.
#[allow(clippy::too_many_arguments)]
fn verify(
    observation: Observation<'_>,
    cue: &Cue,
    incident: &Incident,
    history: History<'_>,
    since: DateTime<Utc>,
    policy: &Policy,
    now: DateTime<Utc>,
    summary: String,
) -> Decision {
    let instance = observation.instance;
    let ours: Vec<&Action> = incident
        .actions
        .iter()
        .filter(|a| is_failover(&a.kind) && a.outcome.was_requested())
        .collect();
    let healthy_without_it = instance.is_available()
        && cluster_available(observation)
        && firing(observation, cue).is_empty();
    if !ours.is_empty() {
        if let Some(event) = event_since(observation, cue, EventEffect::FailoverSkipped, since) {
            if healthy_without_it {
                return Decision::plain(
                    Verdict::Resolve,
                    format!("{summary}: recovered without failover (RDS skipped it)"),
                );
            }
            return Decision::from_guards(
                vec![],
                vec![refusals::failover_skipped(
                    instance.id.as_str(),
                    &event.label(),
                )],
                summary,
            );
        }
    }
    let Some(why) = unverified(observation, cue, since) else {
        return Decision::plain(Verdict::Resolve, summary);
    };
    let deadline = later(since, duration(policy.settings.pending_action_timeout));
    let without_effect = !ours.is_empty()
        && instance.is_available()
        && now >= deadline
        && !failover_completed(observation, cue, since);
    if without_effect {
        if healthy_without_it {
            return Decision::plain(
                Verdict::Resolve,
                format!("{summary}: recovered without failover"),
            );
        }
        if ours.len() < 2 {
            // Asked once more: RDS accepted the first request and nothing happened,
            // so there is nothing to cool down from.
            return match guard_failover(observation, history, policy, now, true) {
                Ok(action) => Decision::from_guards(vec![action], vec![], summary),
                Err(refusal) => Decision::from_guards(vec![], vec![refusal], summary),
            };
        }
        return Decision::from_guards(
            vec![],
            vec![refusals::failover_had_no_effect(
                instance.id.as_str(),
                ours.len(),
            )],
            summary,
        );
    }
    waiting(incident, why, policy, now, summary)
}

/// What still stands between the database and verified recovery, or `None`: it is
/// available (its cluster too), and the failover completed — a failover-completed
/// event since `since`, or the primary (the cluster's writer) is no longer where it was
/// before the failover.
pub fn unverified(observation: Observation<'_>, cue: &Cue, since: DateTime<Utc>) -> Option<String> {
    let instance = observation.instance;
    if !instance.is_available() {
        return Some(format!("{} is {}", instance.id, instance.status));
    }
    if let Some(cluster) = observation.cluster.filter(|c| !c.is_available()) {
        return Some(format!("cluster {} is {}", cluster.id, cluster.status));
    }
    // A designated alarm still in ALARM says the database is not well yet, failover or
    // not: recovery is verified once it is OK again (its lag counts in the time to
    // recover; past the objective, the incident escalates).
    if let Some(alarm) = firing(observation, cue).first() {
        return Some(format!("designated alarm {} is still in ALARM", alarm.name));
    }
    if failover_completed(observation, cue, since) {
        return None;
    }
    let Some(before) = observation
        .kept
        .map(|d| d.before_failover.as_ref().unwrap_or(&d.detected))
    else {
        return Some("nothing recorded of where the primary was before the failover".into());
    };
    Some(match observation.cluster {
        Some(_) => format!(
            "the failover has not completed: the writer is still {}",
            before.writer.as_deref().unwrap_or("unknown")
        ),
        None => format!(
            "the failover has not completed: the primary is still in {}",
            before.primary_az.as_deref().unwrap_or("an unknown zone")
        ),
    })
}

/// The failover since `since` completed: RDS said so, or the primary (the cluster's
/// writer) is no longer where it was before it.
fn failover_completed(observation: Observation<'_>, cue: &Cue, since: DateTime<Utc>) -> bool {
    event_since(observation, cue, EventEffect::FailoverCompleted, since).is_some()
        || observation
            .kept
            .map(|d| d.before_failover.as_ref().unwrap_or(&d.detected))
            .is_some_and(|before| moved(observation, before))
}

/// The primary (the cluster's writer) is no longer where it was.
fn moved(observation: Observation<'_>, before: &Placement) -> bool {
    match observation.cluster {
        Some(cluster) => {
            before.writer.is_some()
                && before.writer.as_deref() != cluster.writer().map(|w| w.as_str())
        }
        None => before.primary_az.is_some() && before.primary_az != observation.instance.primary_az,
    }
}

/// Every failover guard, in the order a person would check them. `retry`: the failover
/// asked once more after one accepted without effect (no cooldown from it).
/// A pause or a maintenance window on what would be failed over (invariant: a person's
/// "not now" stands, the incident is recorded).
fn hands_off(
    what: &str,
    tags: &std::collections::BTreeMap<String, String>,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    crate::pause::hands_off(what, tags, now).map_or(Ok(()), Err)
}

pub fn guard_failover(
    observation: Observation<'_>,
    history: History<'_>,
    policy: &Policy,
    now: DateTime<Utc>,
    retry: bool,
) -> Result<PlannedAction, Refusal> {
    let instance = observation.instance;
    let database = instance.id.as_str();
    let kind = match observation.cluster {
        Some(cluster) => {
            if !policy.settings.is_managed(&cluster.tags) {
                return Err(refusals::not_managed(
                    cluster.id.as_str(),
                    &policy.settings.managed_tag_key,
                ));
            }
            hands_off(&format!("cluster {}", cluster.id), &cluster.tags, now)?;
            let writer = cluster.writer();
            if writer != Some(&instance.id) {
                let writer = writer.map_or("none", |w| w.as_str());
                return Err(refusals::not_the_writer(
                    database,
                    cluster.id.as_str(),
                    writer,
                ));
            }
            if cluster.members.len() < 2 {
                return Err(refusals::not_multi_az(cluster.id.as_str()));
            }
            if !instance.is_available() {
                return Err(refusals::not_available(database, &instance.status));
            }
            if !cluster.is_available() {
                return Err(refusals::not_available(
                    cluster.id.as_str(),
                    &cluster.status,
                ));
            }
            FAILOVER_DB_CLUSTER
        }
        None => {
            if !policy.settings.is_managed(&instance.tags) {
                return Err(refusals::not_managed(
                    database,
                    &policy.settings.managed_tag_key,
                ));
            }
            hands_off(&format!("database {database}"), &instance.tags, now)?;
            if !instance.multi_az {
                return Err(refusals::not_multi_az(database));
            }
            if !instance.is_available() {
                return Err(refusals::not_available(database, &instance.status));
            }
            REBOOT_WITH_FAILOVER
        }
    };
    let scope = observation.scope();
    let planned = PlannedAction {
        kind,
        target: scope.clone(),
        scope,
        configuration: None,
        cooldown: if retry {
            std::time::Duration::ZERO
        } else {
            policy.cooldown
        },
        repeat_limit: None,
    };
    // In dry-run the simulated failover stands for the real one: never simulate twice.
    let simulated = history.incident.is_some_and(|i| {
        i.actions
            .iter()
            .any(|a| is_failover(&a.kind) && a.outcome == ActionOutcome::Simulated)
    });
    if simulated && policy.settings.mode == Mode::DryRun {
        return Err(refusals::already_failing_over(database));
    }
    let cooldown = duration(policy.cooldown);
    let recent = observation
        .events
        .iter()
        .filter(|e| e.has_category("failover") && e.at > earlier(now, cooldown))
        .map(|e| e.at)
        .max();
    if let Some(last) = recent.filter(|_| !retry) {
        return Err(refusals::recent_failover(
            database,
            last,
            later(last, cooldown),
        ));
    }
    ledger_guards(&planned, history, &[], &policy.settings, now)?;
    Ok(planned)
}

/// How to settle a write-ahead failover whose outcome was never recorded, once overdue:
/// it took effect if the database went through a failover (rebooting or failing over
/// now, or the primary moved since it was asked for).
pub fn settle_pending(
    action: &Action,
    observation: Observation<'_>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Option<(ActionOutcome, String)> {
    if now
        < later(
            action.requested_at,
            duration(policy.settings.pending_action_timeout),
        )
    {
        return None;
    }
    let instance = observation.instance;
    let moving = matches!(instance.status.as_str(), "rebooting" | "failing-over");
    let before = observation
        .kept
        .map(|d| d.before_failover.as_ref().unwrap_or(&d.detected));
    let has_moved = before.is_some_and(|b| moved(observation, b));
    Some(if moving || has_moved {
        (
            ActionOutcome::Succeeded,
            "settled: the database failed over after the request".into(),
        )
    } else {
        (
            ActionOutcome::Failed,
            "settled: the request never took effect".into(),
        )
    })
}
