//! DB instances: what each RDS event means (one table), when a sick Multi-AZ primary
//! is failed over to its standby, and when the database verifiably serves again.
//!
//! An event or an alarm only says which database to look at and adds what it says to
//! the observation (the [`Cue`]); the decision is taken from the instance's real state,
//! the RDS events read back over the cooldown window, and the stored incident.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{duration, ledger_guards, recovery_limit_missed, recovery_overdue};
use super::{Decision, History, PlannedAction, Refusal, Verdict};
use crate::config::{Mode, PolicyConfig};
use crate::domain::{
    ActionKind, ActionOutcome, DbCluster, DbInstance, Incident, IncidentState, RdsEvent,
    ResourceRef,
};
use crate::ids::RdsEventId;

/// What an RDS event means to Rebound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventEffect {
    /// The primary is sick in a way a failover fixes: fail over when the guards allow.
    Sick,
    /// A failure a failover cannot fix (storage, configuration): escalate.
    NeedsPerson,
    /// The instance went down, or RDS started recovering it: open an incident and watch.
    Watch,
    /// RDS says the instance is back: verify, and resolve what is open.
    Recovered,
    /// RDS started a failover: the incident follows it (remediating), nothing is called.
    FailoverStarted,
    /// RDS completed a failover: verify, and resolve what is open.
    FailoverCompleted,
    /// RDS did not carry out a requested failover (one happened recently): escalate.
    FailoverSkipped,
}

impl EventEffect {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sick => "sick",
            Self::NeedsPerson => "needs-a-person",
            Self::Watch => "watch",
            Self::Recovered => "recovered",
            Self::FailoverStarted => "failover-started",
            Self::FailoverCompleted => "failover-completed",
            Self::FailoverSkipped => "failover-skipped",
        }
    }
}

/// One row of the event table: an event id in its category, and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EventRule {
    pub id: &'static str,
    pub category: &'static str,
    pub effect: EventEffect,
    /// What RDS means by it, in Rebound's words.
    pub meaning: &'static str,
}

const fn rule(
    id: &'static str,
    category: &'static str,
    effect: EventEffect,
    meaning: &'static str,
) -> EventRule {
    EventRule {
        id,
        category,
        effect,
        meaning,
    }
}

/// Every RDS DB instance event Rebound acts on, keyed by event id **and** category
/// (never by message text, which RDS rewords). README.md shows the same table; an
/// event not in it is recorded as an observation and never acted on.
pub const EVENT_TABLE: [EventRule; 13] = [
    rule(
        "RDS-EVENT-0004",
        "availability",
        EventEffect::Watch,
        "the DB instance shut down",
    ),
    rule(
        "RDS-EVENT-0006",
        "availability",
        EventEffect::Recovered,
        "the DB instance restarted",
    ),
    rule(
        "RDS-EVENT-0013",
        "failover",
        EventEffect::FailoverStarted,
        "a Multi-AZ failover started",
    ),
    rule(
        "RDS-EVENT-0015",
        "failover",
        EventEffect::FailoverCompleted,
        "a Multi-AZ failover to the standby completed",
    ),
    rule(
        "RDS-EVENT-0020",
        "recovery",
        EventEffect::Watch,
        "recovery of the DB instance started",
    ),
    rule(
        "RDS-EVENT-0021",
        "recovery",
        EventEffect::Recovered,
        "recovery of the DB instance completed",
    ),
    rule(
        "RDS-EVENT-0022",
        "failure",
        EventEffect::Sick,
        "an error occurred while restarting the database engine",
    ),
    rule(
        "RDS-EVENT-0031",
        "failure",
        EventEffect::NeedsPerson,
        "the DB instance failed: incompatible configuration or storage",
    ),
    rule(
        "RDS-EVENT-0034",
        "failover",
        EventEffect::FailoverSkipped,
        "a requested failover was not attempted: one happened recently",
    ),
    rule(
        "RDS-EVENT-0049",
        "failover",
        EventEffect::FailoverCompleted,
        "a Multi-AZ failover completed",
    ),
    rule(
        "RDS-EVENT-0052",
        "recovery",
        EventEffect::Watch,
        "recovery of the Multi-AZ instance started",
    ),
    rule(
        "RDS-EVENT-0053",
        "recovery",
        EventEffect::Recovered,
        "recovery of the Multi-AZ instance completed",
    ),
    rule(
        "RDS-EVENT-0065",
        "failover",
        EventEffect::FailoverCompleted,
        "the instance recovered from a partial failover",
    ),
];

/// The categories of the events in the table, each once: what Rebound asks
/// DescribeEvents for.
pub fn event_categories() -> Vec<&'static str> {
    let mut categories: Vec<&'static str> = EVENT_TABLE.iter().map(|r| r.category).collect();
    categories.sort_unstable();
    categories.dedup();
    categories
}

/// The table's row for this event id in one of these categories.
pub fn event_rule(id: &RdsEventId, categories: &[String]) -> Option<&'static EventRule> {
    EVENT_TABLE.iter().find(|rule| {
        rule.id == id.as_str()
            && categories
                .iter()
                .any(|c| c.eq_ignore_ascii_case(rule.category))
    })
}

/// What the delivery that asked for this check says, beyond the instance's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cue {
    /// The schedule (or an alarm in INSUFFICIENT_DATA): look, and fail over for an
    /// incident that still wants it once the guards allow.
    Look,
    /// An `AWS/RDS` alarm in ALARM since `since`: this primary is sick.
    AlarmFiring { since: Option<DateTime<Utc>> },
    /// The alarm back to OK: the incident no longer wants a failover.
    AlarmOk,
    /// An RDS event in the table.
    Event {
        effect: EventEffect,
        event: RdsEvent,
    },
    /// An RDS event not in the table: recorded, never acted on.
    Unknown(RdsEvent),
}

impl Cue {
    pub fn effect(&self) -> Option<EventEffect> {
        match self {
            Self::Event { effect, .. } => Some(*effect),
            _ => None,
        }
    }

    pub fn event(&self) -> Option<&RdsEvent> {
        match self {
            Self::Event { event, .. } | Self::Unknown(event) => Some(event),
            _ => None,
        }
    }

    /// This delivery says the primary is sick.
    pub fn is_sick(&self) -> bool {
        matches!(self, Self::AlarmFiring { .. }) || self.effect() == Some(EventEffect::Sick)
    }

    /// Since when this delivery says the primary is sick: the alarm's ALARM state, or
    /// the event's date.
    fn sick_since(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::AlarmFiring { since } => *since,
            Self::Event {
                effect: EventEffect::Sick,
                event,
            } => Some(event.at),
            _ => None,
        }
    }

    /// Deliveries allowed to start a failover: a sick one, and the sweep retrying one.
    /// Lifecycle and unknown events move incidents along, never act.
    fn may_act(&self) -> bool {
        matches!(self, Self::Look) || self.is_sick()
    }

    pub fn clears(&self) -> bool {
        matches!(self, Self::AlarmOk)
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
    pub cue: &'a Cue,
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
}

/// The incident still wants a failover: a sick delivery opened or renewed it and no
/// alarm OK has said otherwise.
pub fn wants_failover(incident: &Incident) -> bool {
    incident
        .evidence
        .database
        .as_ref()
        .is_some_and(|d| d.wants_failover)
}

/// A failover of this incident was asked for (or may have been: written ahead).
pub fn failover_requested(incident: &Incident) -> bool {
    incident
        .actions
        .iter()
        .any(|a| is_failover(a.kind) && a.outcome.was_requested())
}

pub fn decide(
    observation: Observation<'_>,
    history: History<'_>,
    config: &PolicyConfig,
    now: DateTime<Utc>,
) -> Decision {
    let summary = observation.summary();
    let instance = observation.instance;
    let cue = observation.cue;
    if let Some(incident) = history.incident {
        if let Some(since) = failover_since(observation, incident) {
            return verify(observation, incident, since, config, now, summary);
        }
    }
    if cue.effect() == Some(EventEffect::FailoverStarted) || instance.status == "failing-over" {
        return Decision::plain(
            Verdict::Underway,
            format!("RDS is failing over {}: {summary}", instance.id),
        );
    }
    if instance.needs_a_person() {
        return Decision::from_guards(
            vec![],
            vec![Refusal::DatabaseNeedsPerson {
                database: instance.id.to_string(),
                why: format!("is {}", instance.status),
            }],
            summary,
        );
    }
    if let (Some(EventEffect::NeedsPerson), Some(event)) = (cue.effect(), cue.event()) {
        return Decision::from_guards(
            vec![],
            vec![Refusal::DatabaseNeedsPerson {
                database: instance.id.to_string(),
                why: format!("reported {}: {}", event.label(), event.message),
            }],
            summary,
        );
    }
    let incident_wants = history.incident.is_some_and(wants_failover);
    let sick = cue.is_sick() && (incident_wants || !already_answered(observation, history));
    let wants = sick || (!cue.clears() && incident_wants);
    if wants {
        if !cue.may_act() {
            return Decision::plain(Verdict::Hold, summary);
        }
        let mut decision = match guard_failover(observation, history, config, now) {
            Ok(action) => Decision::from_guards(vec![action], vec![], summary),
            Err(refusal) => Decision::from_guards(vec![], vec![refusal], summary),
        };
        // Sick, and kept from failing over for longer than recovery may take because
        // it never became available: a person is needed.
        let stuck = decision
            .refusals
            .iter()
            .any(|r| matches!(r, Refusal::DatabaseNotAvailable { .. }));
        if let Some(incident) = history.incident {
            if stuck && recovery_overdue(incident, config, now) {
                decision.verdict = Verdict::Escalate;
                decision.refusals.push(Refusal::NotRecovered {
                    minutes: recovery_limit_missed(incident, config, now).unwrap_or_default(),
                    why: decision.summary.clone(),
                });
            }
        }
        return decision;
    }
    match history.incident {
        None if cue.effect() == Some(EventEffect::Watch) => Decision::plain(Verdict::Hold, summary),
        None => Decision::plain(Verdict::Healthy, summary),
        Some(_) if instance.is_available() => {
            Decision::plain(Verdict::Resolve, format!("{summary} again"))
        }
        Some(incident) => {
            let why = format!("{} is {}", instance.id, instance.status);
            waiting(incident, why, config, now, summary)
        }
    }
}

/// A sick delivery about an episode a failover already answered: the alarm went to
/// ALARM (the event happened) before the last failover of this database. Duplicate and
/// late deliveries of it open nothing new once that failover's incident resolved.
fn already_answered(observation: Observation<'_>, history: History<'_>) -> bool {
    let Some(since) = observation.cue.sick_since() else {
        return false;
    };
    let scope = match observation.cluster {
        Some(cluster) => ResourceRef::db_cluster(&cluster.id),
        None => ResourceRef::db_instance(&observation.instance.id),
    };
    history
        .ledger(&scope)
        .and_then(|ledger| ledger.last_action_at())
        .is_some_and(|last| last >= since)
}

/// Recovering, or escalated once recovery is overdue.
fn waiting(
    incident: &Incident,
    why: String,
    config: &PolicyConfig,
    now: DateTime<Utc>,
    summary: String,
) -> Decision {
    if recovery_overdue(incident, config, now) {
        Decision::from_guards(
            vec![],
            vec![Refusal::NotRecovered {
                minutes: recovery_limit_missed(incident, config, now).unwrap_or_default(),
                why,
            }],
            summary,
        )
    } else {
        Decision {
            waiting_for: Some(why),
            ..Decision::plain(Verdict::Recovering, summary)
        }
    }
}

/// Since when a failover of this incident is under way or done, if one is: the last
/// failover Rebound asked for, or, for one RDS started by itself (followed as
/// remediating, or seen completing), the incident's opening.
fn failover_since(observation: Observation<'_>, incident: &Incident) -> Option<DateTime<Utc>> {
    let requested = incident
        .actions
        .iter()
        .filter(|a| is_failover(a.kind) && a.outcome.was_requested())
        .map(|a| a.requested_at)
        .max();
    if requested.is_some() {
        return requested;
    }
    let followed = incident.state == IncidentState::Remediating
        || completed_failover(observation, incident, incident.opened_at).is_some();
    followed.then_some(incident.opened_at)
}

fn is_failover(kind: ActionKind) -> bool {
    matches!(
        kind,
        ActionKind::RebootWithFailover | ActionKind::FailoverDbCluster
    )
}

/// A failover-completed event (by id: delivered now, or kept in the incident's
/// evidence) dated at or after `since`.
fn completed_failover<'a>(
    observation: Observation<'a>,
    incident: &'a Incident,
    since: DateTime<Utc>,
) -> Option<&'a RdsEvent> {
    let kept = incident
        .evidence
        .database
        .iter()
        .flat_map(|d| d.events.iter());
    observation
        .cue
        .event()
        .into_iter()
        .chain(kept)
        .filter(|e| e.at >= since)
        .find(|e| {
            e.id.as_ref()
                .and_then(|id| event_rule(id, &e.categories))
                .is_some_and(|rule| rule.effect == EventEffect::FailoverCompleted)
        })
}

/// Verified recovery (invariant 9): `available` after the failover completed.
fn verify(
    observation: Observation<'_>,
    incident: &Incident,
    since: DateTime<Utc>,
    config: &PolicyConfig,
    now: DateTime<Utc>,
    summary: String,
) -> Decision {
    let instance = observation.instance;
    let ours = incident
        .actions
        .iter()
        .any(|a| is_failover(a.kind) && a.outcome.was_requested());
    if let (true, Some(EventEffect::FailoverSkipped), Some(event)) =
        (ours, observation.cue.effect(), observation.cue.event())
    {
        if event.at >= since {
            return Decision::from_guards(
                vec![],
                vec![Refusal::FailoverSkipped {
                    database: instance.id.to_string(),
                    event: event.label(),
                }],
                summary,
            );
        }
    }
    match unverified(observation, incident, since) {
        None => Decision::plain(Verdict::Resolve, summary),
        Some(why) => waiting(incident, why, config, now, summary),
    }
}

/// What still stands between the database and verified recovery, or `None`: it is
/// available (its cluster too), and the failover completed — a failover-completed
/// event since `since`, or the primary (the cluster's writer) is no longer where it was
/// before the failover.
pub fn unverified(
    observation: Observation<'_>,
    incident: &Incident,
    since: DateTime<Utc>,
) -> Option<String> {
    let instance = observation.instance;
    if !instance.is_available() {
        return Some(format!("{} is {}", instance.id, instance.status));
    }
    if let Some(cluster) = observation.cluster.filter(|c| !c.is_available()) {
        return Some(format!("cluster {} is {}", cluster.id, cluster.status));
    }
    if completed_failover(observation, incident, since).is_some() {
        return None;
    }
    let before = incident
        .evidence
        .database
        .as_ref()
        .map(|d| d.before_failover.as_ref().unwrap_or(&d.detected));
    let Some(before) = before else {
        return Some("nothing recorded of where the primary was before the failover".into());
    };
    match observation.cluster {
        Some(cluster) => {
            let writer = cluster.writer().map(ToString::to_string);
            match (&before.writer, writer) {
                (Some(was), Some(now)) if *was != now => None,
                (was, _) => Some(format!(
                    "the failover has not completed: the writer is still {}",
                    was.as_deref().unwrap_or("unknown")
                )),
            }
        }
        None => match (&before.primary_az, &instance.primary_az) {
            (Some(was), Some(now)) if was != now => None,
            (was, _) => Some(format!(
                "the failover has not completed: the primary is still in {}",
                was.as_deref().unwrap_or("an unknown zone")
            )),
        },
    }
}

/// Every failover guard, in the order a person would check them.
pub fn guard_failover(
    observation: Observation<'_>,
    history: History<'_>,
    config: &PolicyConfig,
    now: DateTime<Utc>,
) -> Result<PlannedAction, Refusal> {
    let instance = observation.instance;
    let database = instance.id.to_string();
    let planned = match observation.cluster {
        Some(cluster) => {
            if !cluster.is_managed(&config.managed_tag_key) {
                return Err(Refusal::DatabaseNotManaged {
                    database: cluster.id.to_string(),
                    tag_key: config.managed_tag_key.clone(),
                });
            }
            let writer = cluster.writer();
            if writer != Some(&instance.id) {
                return Err(Refusal::NotTheWriter {
                    database,
                    cluster: cluster.id.to_string(),
                    writer: writer.map_or_else(|| "none".to_owned(), ToString::to_string),
                });
            }
            if cluster.members.len() < 2 {
                return Err(Refusal::NotMultiAz {
                    database: cluster.id.to_string(),
                });
            }
            if !instance.is_available() {
                return Err(Refusal::DatabaseNotAvailable {
                    database,
                    status: instance.status.clone(),
                });
            }
            if !cluster.is_available() {
                return Err(Refusal::DatabaseNotAvailable {
                    database: cluster.id.to_string(),
                    status: cluster.status.clone(),
                });
            }
            let scope = ResourceRef::db_cluster(&cluster.id);
            PlannedAction {
                kind: ActionKind::FailoverDbCluster,
                target: scope.clone(),
                scope,
                launch_template: None,
            }
        }
        None => {
            if !instance.is_managed(&config.managed_tag_key) {
                return Err(Refusal::DatabaseNotManaged {
                    database,
                    tag_key: config.managed_tag_key.clone(),
                });
            }
            if !instance.multi_az {
                return Err(Refusal::NotMultiAz { database });
            }
            if !instance.is_available() {
                return Err(Refusal::DatabaseNotAvailable {
                    database,
                    status: instance.status.clone(),
                });
            }
            let scope = ResourceRef::db_instance(&instance.id);
            PlannedAction {
                kind: ActionKind::RebootWithFailover,
                target: scope.clone(),
                scope,
                launch_template: None,
            }
        }
    };
    // In dry-run the simulated failover stands for the real one: never simulate twice.
    let simulated = history.incident.is_some_and(|i| {
        i.actions
            .iter()
            .any(|a| is_failover(a.kind) && a.outcome == ActionOutcome::Simulated)
    });
    if simulated && config.mode == Mode::DryRun {
        return Err(Refusal::AlreadyFailingOver { database });
    }
    let cooldown = duration(config.cooldown_for(planned.scope.kind));
    if let Some(last) = observation
        .events
        .iter()
        .filter(|e| e.has_category("failover") && e.at > now - cooldown)
        .map(|e| e.at)
        .max()
    {
        return Err(Refusal::RecentFailover {
            database,
            at: last,
            until: last + cooldown,
        });
    }
    ledger_guards(&planned, history, &[], config, now)?;
    Ok(planned)
}

/// How to settle a write-ahead failover whose outcome was never recorded, once overdue:
/// it took effect if the database went through a failover (rebooting or failing over
/// now, or the primary moved since it was asked for).
pub fn settle_pending(
    action: &crate::domain::Action,
    observation: Observation<'_>,
    before: Option<&crate::domain::Placement>,
    config: &PolicyConfig,
    now: DateTime<Utc>,
) -> Option<(ActionOutcome, String)> {
    if now < action.requested_at + duration(config.pending_action_timeout) {
        return None;
    }
    let instance = observation.instance;
    let moving = matches!(instance.status.as_str(), "rebooting" | "failing-over");
    let moved = before.is_some_and(|b| match observation.cluster {
        Some(cluster) => {
            b.writer.is_some() && b.writer.as_deref() != cluster.writer().map(|w| w.as_str())
        }
        None => b.primary_az.is_some() && b.primary_az != instance.primary_az,
    });
    Some(if moving || moved {
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

#[cfg(test)]
mod tests;
