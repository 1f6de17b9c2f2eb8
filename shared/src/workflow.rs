//! The incident workflow every resource kind shares, level-triggered like a
//! controller's reconcile: an event only says which resource to look at; the workflow
//! reads the stored incident, observes the resource's real state, decides (every guard,
//! the budget included), writes the decision and any intended action ahead in one
//! conditional transaction, makes the call, and records the outcome.
//!
//! A resource kind ([`WatchedKind`]) supplies only what differs: how to observe, which
//! ledgers its actions count against, the pure decision, and how to act. Lost races and
//! lost answers are settled by reading state again (invariant 10): a write that lost
//! its condition is followed by a fresh read and decision; a write whose answer was lost
//! is recognised by its token.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use aws_smithy_types::error::display::DisplayErrorContext;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tracing::{info, warn};

use crate::config::{Mode, PolicyConfig};
use crate::domain::{
    account_scope, Action, ActionOutcome, DrillMark, Evidence, Incident, IncidentState, Ledger,
    LedgerEntry, ResourceRef,
};
use crate::error::Error;
use crate::ids::IncidentId;
use crate::policy::{Decision, History, PlannedAction, Refusal, Verdict};
use crate::ports::{Commit, Committed, IncidentStore};

/// How many times a check re-reads and re-decides after losing a conditional write.
/// Each loss means another delivery made progress, so a few are plenty.
pub const MAX_WRITE_ATTEMPTS: u32 = 5;

/// What differs between the kinds of resource Rebound heals.
pub trait WatchedKind: Send + Sync {
    /// Everything the decision needs to know about one resource.
    type Observed: Send + Sync;

    /// Reads the resource's real state; `None` when it no longer exists. The open
    /// incident, if any, says what else to look at (e.g. the groups it acted through).
    fn observe(
        &self,
        resource: &ResourceRef,
        incident: Option<&Incident>,
    ) -> impl Future<Output = Result<Option<Self::Observed>, Error>> + Send;

    /// The scopes whose ledgers a decision to act needs; empty when no action is
    /// possible, which saves reading them.
    fn scopes(&self, observed: &Self::Observed) -> Vec<ResourceRef>;

    /// The pure decision: every guard, the budget included.
    fn decide(
        &self,
        observed: &Self::Observed,
        history: History<'_>,
        now: DateTime<Utc>,
    ) -> Decision;

    fn evidence(&self, observed: &Self::Observed) -> Evidence;

    /// How to settle a write-ahead action whose outcome was never recorded, once it is
    /// overdue (`None` before).
    fn settle(
        &self,
        action: &Action,
        observed: &Self::Observed,
        now: DateTime<Utc>,
    ) -> Option<(ActionOutcome, String)>;

    /// Makes the call. `Ok(Some(detail))` when it turned out to be done already.
    fn act(&self, action: &Action) -> impl Future<Output = Result<Option<String>, Error>> + Send;

    /// One line for the timeline: "replace i-0abc in web".
    fn describe(&self, action: &PlannedAction) -> String;

    /// Brings the stored incident's evidence up to date with what this check observed
    /// and decided; true when it changed. By default the evidence is what was observed
    /// when the incident opened.
    fn revise_evidence(
        &self,
        _evidence: &mut Evidence,
        _observed: &Self::Observed,
        _decision: &Decision,
        _now: DateTime<Utc>,
    ) -> bool {
        false
    }

    /// The recovery-time objective, in seconds, a new incident on this resource is held
    /// to: the resource's `rebound:rto-seconds` tag, or the default for its kind.
    fn recovery_objective(&self, _observed: &Self::Observed) -> Option<u64> {
        None
    }
}

/// What one check did, returned to the caller (and printed by `rebound invoke`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CheckReport {
    pub resource: ResourceRef,
    pub verdict: Verdict,
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<IncidentId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident_state: Option<IncidentState>,
    /// Actions this check took (or simulated).
    pub actions: Vec<Action>,
    pub refusals: Vec<RefusalReport>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RefusalReport {
    pub guard: &'static str,
    pub detail: String,
}

impl From<&Refusal> for RefusalReport {
    fn from(refusal: &Refusal) -> Self {
        Self {
            guard: refusal.guard(),
            detail: refusal.to_string(),
        }
    }
}

/// Counters for one invocation's metric line; checks may run concurrently.
#[derive(Debug, Default)]
pub struct Tally {
    pub incidents_opened: AtomicUsize,
    pub actions_taken: AtomicUsize,
    pub actions_refused: AtomicUsize,
    /// Incidents this invocation moved to escalated (a new incident written escalated
    /// included).
    pub incidents_escalated: AtomicUsize,
    /// The time to recover of each incident this invocation resolved as recovered (an
    /// incident closed because its resource is gone has none).
    recovery_times: Mutex<Vec<i64>>,
}

impl Tally {
    fn add(counter: &AtomicUsize, n: usize) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::Relaxed)
    }

    /// Counts what a landed write changed in the incident's lifecycle.
    fn transition(&self, before: Option<IncidentState>, after: &Incident) {
        if before == Some(after.state) {
            return;
        }
        match after.state {
            IncidentState::Escalated => Self::add(&self.incidents_escalated, 1),
            IncidentState::Resolved => {
                if let Some(ttr) = after.time_to_recover_s {
                    self.recovery_times
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(ttr);
                }
            }
            _ => {}
        }
    }

    /// The times to recover recorded so far, in seconds.
    pub fn recovery_times(&self) -> Vec<i64> {
        self.recovery_times
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

pub struct Workflow<'a, K, S> {
    pub kind: &'a K,
    pub store: &'a S,
    pub policy: &'a PolicyConfig,
    pub clock: fn() -> DateTime<Utc>,
}

/// What a decision changes, ready to be written.
struct Plan {
    incident: Incident,
    is_new: bool,
    ledgers: Vec<(ResourceRef, Ledger)>,
    /// Actions written ahead by this plan, to be called once the write lands.
    to_call: Vec<usize>,
}

/// A fresh token per write attempt: 32 hex digits (DynamoDB's ClientRequestToken
/// takes at most 36 characters).
fn new_token() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

impl<K: WatchedKind, S: IncidentStore> Workflow<'_, K, S> {
    pub async fn reconcile(
        &self,
        resource: &ResourceRef,
        trigger: &str,
        tally: &Tally,
    ) -> Result<CheckReport, Error> {
        let (current, drill) = self.store.open_incident_and_drill(resource).await?;
        self.reconcile_known(resource, current, Some(drill), trigger, tally)
            .await
    }

    /// Like [`Workflow::reconcile`], starting from an open incident already read (or its
    /// absence), e.g. from the sweep's listing of open incidents. That listing may lag:
    /// a stale incident loses its conditional write and a missing one loses the claim,
    /// and either way the workflow reads again, so only the read is saved.
    pub async fn reconcile_from(
        &self,
        resource: &ResourceRef,
        current: Option<Incident>,
        trigger: &str,
        tally: &Tally,
    ) -> Result<CheckReport, Error> {
        self.reconcile_known(resource, current, None, trigger, tally)
            .await
    }

    /// `drill`: the drill marked on the resource, when it was read with the incident;
    /// `None` when not read yet (it is then read only if a new incident opens).
    async fn reconcile_known(
        &self,
        resource: &ResourceRef,
        mut current: Option<Incident>,
        drill: Option<Option<DrillMark>>,
        trigger: &str,
        tally: &Tally,
    ) -> Result<CheckReport, Error> {
        let Some(observed) = self.kind.observe(resource, current.as_ref()).await? else {
            return self.close_gone(resource, current).await;
        };
        let mut scopes = self.kind.scopes(&observed);
        if !scopes.is_empty() {
            scopes.push(account_scope());
        }

        for _attempt in 0..MAX_WRITE_ATTEMPTS {
            let now = (self.clock)();
            let token = new_token();
            let ledgers = if scopes.is_empty() {
                BTreeMap::new()
            } else {
                self.store.ledgers(&scopes).await?
            };
            let mut incident = current.clone();
            let before = incident.as_ref().map(|i| i.state);
            let settled = incident
                .as_mut()
                .is_some_and(|i| self.settle_overdue(i, &observed, now));
            let decision = self.kind.decide(
                &observed,
                History {
                    incident: incident.as_ref(),
                    ledgers: &ledgers,
                },
                now,
            );
            let mut report = CheckReport {
                resource: resource.clone(),
                verdict: decision.verdict,
                summary: decision.summary.clone(),
                waiting_for: decision.waiting_for.clone(),
                incident_id: incident.as_ref().map(|i| i.id.clone()),
                incident_state: incident.as_ref().map(|i| i.state),
                actions: vec![],
                refusals: decision.refusals.iter().map(RefusalReport::from).collect(),
            };
            let plan = match self.plan(
                incident, resource, trigger, &decision, &observed, settled, &ledgers, &token, now,
            ) {
                Ok(Some(plan)) => plan,
                Ok(None) => return Ok(report),
                Err(refusal) => {
                    // The stored incident moved somewhere this decision cannot follow
                    // (resolved by another writer): read again.
                    info!(resource = %resource.id, error = %refusal, "incident moved on; reading again");
                    current = self.store.open_incident(resource).await?;
                    continue;
                }
            };
            let Plan {
                mut incident,
                is_new,
                ledgers: ledger_writes,
                to_call,
            } = plan;
            if is_new {
                // Opened while a drill disturbs this resource: the drill's incident.
                let drill = match &drill {
                    Some(known) => known.clone(),
                    None => self.store.open_incident_and_drill(resource).await?.1,
                };
                incident.drill = drill
                    .as_ref()
                    .filter(|mark| mark.active(now))
                    .map(|mark| mark.id.clone());
            }
            let landed = self
                .commit(&mut incident, is_new, ledger_writes, &token)
                .await?;
            if !landed {
                current = self.store.open_incident(resource).await?;
                continue;
            }

            Tally::add(&tally.actions_refused, decision.refusals.len());
            tally.transition(before, &incident);
            if is_new {
                Tally::add(&tally.incidents_opened, 1);
                info!(incident_id = %incident.id, resource = %resource.id, state = incident.state.as_str(), "incident opened");
            }
            for refusal in &decision.refusals {
                info!(incident_id = %incident.id, guard = refusal.guard(), detail = %refusal, "action refused");
            }
            report.incident_id = Some(incident.id.clone());
            report.actions = to_call
                .iter()
                .map(|&i| incident.actions[i].clone())
                .collect();
            if self.policy.mode == Mode::Enforce && !to_call.is_empty() {
                let failure = self.act(&mut incident, &to_call, &token, tally).await;
                report.actions = incident
                    .actions
                    .iter()
                    .filter(|a| a.writer.as_deref() == Some(token.as_str()))
                    .cloned()
                    .collect();
                report.incident_state = Some(incident.state);
                if let Some(err) = failure {
                    return Err(err);
                }
            }
            report.incident_state = Some(incident.state);
            return Ok(report);
        }
        Err(Error::Contention {
            resource: resource.id.clone(),
            attempts: MAX_WRITE_ATTEMPTS,
        })
    }

    /// Turns a decision into the incident's next version and the ledgers to move.
    /// `Ok(None)`: nothing worth writing. `Err`: the lifecycle refuses the move.
    #[allow(clippy::too_many_arguments)]
    fn plan(
        &self,
        incident: Option<Incident>,
        resource: &ResourceRef,
        trigger: &str,
        decision: &Decision,
        observed: &K::Observed,
        settled: bool,
        ledgers: &BTreeMap<ResourceRef, Ledger>,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Plan>, crate::domain::IllegalTransition> {
        let is_new = incident.is_none();
        let mut incident = match (incident, decision.verdict) {
            (Some(incident), _) => incident,
            (None, Verdict::Healthy | Verdict::Recovering | Verdict::Resolve) => return Ok(None),
            // A new incident is written once, already in the state the decision puts it
            // in: one write and one notification instead of "opened" then "escalated".
            (None, _) => {
                let mut incident = Incident::open(
                    resource.clone(),
                    trigger,
                    self.kind.evidence(observed),
                    &decision.summary,
                    now,
                );
                incident.rto_s = self.kind.recovery_objective(observed);
                incident
            }
        };
        let mut changed = settled;
        changed |= self
            .kind
            .revise_evidence(&mut incident.evidence, observed, decision, now);
        // A suppressed incident whose hold has lifted, and that this decision does not
        // move anywhere else, goes back to where it stood: remediating if an action was
        // taken, else open.
        if incident.state == IncidentState::Suppressed
            && matches!(decision.verdict, Verdict::Hold | Verdict::Recovering)
        {
            let back = if incident.actions.iter().any(|a| a.outcome.was_requested()) {
                IncidentState::Remediating
            } else {
                IncidentState::Open
            };
            // What still holds it, if anything, follows as its own timeline entry.
            let why = format!("hold lifted: {}", decision.summary);
            changed |= incident.transition(now, back, why)?;
        }
        let mut ledger_writes = Vec::new();
        let mut to_call = Vec::new();
        match decision.verdict {
            Verdict::Healthy | Verdict::Gone => {}
            Verdict::Recovering => {
                if let Some(why) = &decision.waiting_for {
                    changed |= incident.note_once(now, "recovering", why);
                }
            }
            Verdict::Resolve => {
                changed |= incident.transition(
                    now,
                    IncidentState::Resolved,
                    format!("verified: {}", decision.summary),
                )?;
            }
            Verdict::Escalate => {
                let text = refusal_text(decision.refusals.iter());
                changed |= if incident.state == IncidentState::Escalated {
                    incident.note_once(now, "held", &text)
                } else {
                    incident.transition(now, IncidentState::Escalated, text)?
                };
            }
            Verdict::Hold => {
                let news: Vec<&Refusal> =
                    decision.refusals.iter().filter(|r| !r.is_echo()).collect();
                if !news.is_empty() {
                    changed |= incident.note_once(now, "held", &refusal_text(news.into_iter()));
                }
            }
            Verdict::Suppress => {
                let text = refusal_text(decision.refusals.iter().filter(|r| r.suppresses()));
                changed |= if incident.state == IncidentState::Suppressed {
                    incident.note_once(now, "held", &text)
                } else {
                    incident.transition(now, IncidentState::Suppressed, text)?
                };
            }
            Verdict::Underway => {
                changed |= if incident.state == IncidentState::Remediating {
                    incident.note_once(now, "remediating", &decision.summary)
                } else {
                    incident.transition(now, IncidentState::Remediating, &decision.summary)?
                };
            }
            Verdict::Remediate => {
                self.write_ahead(
                    &mut incident,
                    decision,
                    ledgers,
                    token,
                    now,
                    &mut ledger_writes,
                    &mut to_call,
                )?;
                changed = true;
            }
        }
        Ok((is_new || changed).then_some(Plan {
            incident,
            is_new,
            ledgers: ledger_writes,
            to_call,
        }))
    }

    /// Records the intended actions (winning the conditional write is what makes this
    /// delivery the one that acts) and moves the ledgers they count against.
    #[allow(clippy::too_many_arguments)]
    fn write_ahead(
        &self,
        incident: &mut Incident,
        decision: &Decision,
        ledgers: &BTreeMap<ResourceRef, Ledger>,
        token: &str,
        now: DateTime<Utc>,
        ledger_writes: &mut Vec<(ResourceRef, Ledger)>,
        to_call: &mut Vec<usize>,
    ) -> Result<(), crate::domain::IllegalTransition> {
        let dry_run = self.policy.mode == Mode::DryRun;
        let intent = decision
            .actions
            .iter()
            .map(|a| self.kind.describe(a))
            .collect::<Vec<_>>()
            .join(", ");
        let was_simulated = decision.actions.iter().any(|planned| {
            incident
                .actions_on(&planned.target.id)
                .any(|a| a.outcome == ActionOutcome::Simulated)
        });
        let mut touched: BTreeMap<ResourceRef, Ledger> = BTreeMap::new();
        for planned in &decision.actions {
            to_call.push(incident.actions.len());
            incident.actions.push(Action {
                kind: planned.kind,
                target: planned.target.clone(),
                scope: planned.scope.clone(),
                requested_at: now,
                outcome: if dry_run {
                    ActionOutcome::Simulated
                } else {
                    ActionOutcome::Pending
                },
                dry_run,
                detail: dry_run.then(|| "dry-run: no call made".to_owned()),
                completed_at: None,
                writer: Some(token.to_owned()),
                launch_template: planned.launch_template.clone(),
            });
            if dry_run {
                continue;
            }
            let entry = LedgerEntry {
                at: now,
                target: planned.target.id.clone(),
                incident: incident.id.clone(),
                launch_template: planned.launch_template.clone(),
            };
            for scope in [planned.scope.clone(), account_scope()] {
                touched
                    .entry(scope.clone())
                    .or_insert_with(|| ledgers.get(&scope).cloned().unwrap_or_default())
                    .record(entry.clone());
            }
        }
        ledger_writes.extend(touched);
        if dry_run {
            incident.note(
                now,
                "dry-run",
                format!("would {intent} ({})", decision.summary),
            );
            return Ok(());
        }
        if was_simulated {
            incident.note(
                now,
                "enforce",
                "MODE is now enforce: the action dry-run only simulated is taken for real",
            );
        }
        let text = format!("{}: {intent}", decision.summary);
        if !incident.transition(now, IncidentState::Remediating, text.clone())? {
            incident.note(now, "remediating", text);
        }
        Ok(())
    }

    /// Makes the calls written ahead, then records their outcomes. Returns the first
    /// call error, after recording it.
    async fn act(
        &self,
        incident: &mut Incident,
        to_call: &[usize],
        token: &str,
        tally: &Tally,
    ) -> Option<Error> {
        let mut failure = None;
        for &index in to_call {
            let action = incident.actions[index].clone();
            let (outcome, detail) = match self.kind.act(&action).await {
                Ok(detail) => {
                    Tally::add(&tally.actions_taken, 1);
                    info!(incident_id = %incident.id, action = action.kind.as_str(), target = %action.target.id, scope = %action.scope.id, "action requested");
                    (ActionOutcome::Succeeded, detail)
                }
                Err(err) => {
                    warn!(incident_id = %incident.id, target = %action.target.id, error = %DisplayErrorContext(&err), "action failed");
                    let detail = err.to_string();
                    failure.get_or_insert(err);
                    (ActionOutcome::Failed, Some(detail))
                }
            };
            let stored = &mut incident.actions[index];
            stored.outcome = outcome;
            stored.detail = detail;
            stored.completed_at = Some((self.clock)());
        }
        if let Some(err) = &failure {
            // A remediation whose call failed needs a person now, not at the recovery
            // deadline. (A resolved incident stays resolved.)
            let _ = incident.transition(
                (self.clock)(),
                IncidentState::Escalated,
                format!("the remediation call failed: {err}"),
            );
        }
        if let Err(err) = self.record_outcomes(incident, token).await {
            warn!(incident_id = %incident.id, error = %DisplayErrorContext(&err), "outcomes not recorded; the sweep settles them");
            failure.get_or_insert(err);
        }
        failure
    }

    /// Stores the outcomes of actions this writer wrote ahead. Other deliveries may have
    /// touched the incident meanwhile (even resolved it), so on a lost race the outcomes
    /// are laid onto a fresh copy; if writers keep winning, the actions stay pending and
    /// the sweep settles them from what it observes.
    async fn record_outcomes(&self, incident: &mut Incident, token: &str) -> Result<(), Error> {
        let ours: Vec<Action> = incident
            .actions
            .iter()
            .filter(|a| a.writer.as_deref() == Some(token))
            .cloned()
            .collect();
        // A failed call escalated the incident: that move is laid onto a fresh copy too.
        let escalation = (incident.state == IncidentState::Escalated)
            .then(|| incident.timeline.last().cloned())
            .flatten();
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let landed = self.commit(incident, false, vec![], &new_token()).await?;
            if landed {
                return Ok(());
            }
            let Some(mut fresh) = self.store.load(&incident.id).await? else {
                warn!(incident_id = %incident.id, "incident vanished while recording outcomes");
                return Ok(());
            };
            for result in &ours {
                if let Some(stored) = fresh
                    .actions
                    .iter_mut()
                    .find(|a| a.writer == result.writer && a.target == result.target)
                {
                    *stored = result.clone();
                }
            }
            if let Some(entry) = &escalation {
                let _ = fresh.transition(entry.at, IncidentState::Escalated, entry.detail.clone());
            }
            *incident = fresh;
        }
        warn!(incident_id = %incident.id, "outcomes not recorded after repeated conflicts; the sweep settles them");
        Ok(())
    }

    /// Writes, and settles any ambiguity by reading: true when this write landed —
    /// including when its answer was lost, or an SDK retry of it then lost its own
    /// condition (the stored incident carries this write's token).
    async fn commit(
        &self,
        incident: &mut Incident,
        is_new: bool,
        ledgers: Vec<(ResourceRef, Ledger)>,
        token: &str,
    ) -> Result<bool, Error> {
        let outcome = self
            .store
            .commit(Commit {
                incident,
                is_new,
                ledgers,
                token,
            })
            .await;
        match outcome {
            Ok(Committed::Landed) => Ok(true),
            Ok(Committed::LostRace) => self.own_write_landed(incident, token).await,
            Err(err) if err.is_retryable() => {
                if self.own_write_landed(incident, token).await? {
                    Ok(true)
                } else {
                    Err(err)
                }
            }
            Err(err) => Err(err),
        }
    }

    /// After a lost race or a lost answer: did this writer's own write land after all?
    /// If so the incident is replaced by what is stored.
    async fn own_write_landed(&self, incident: &mut Incident, token: &str) -> Result<bool, Error> {
        match self.store.load(&incident.id).await? {
            Some(stored) if stored.written_by.as_deref() == Some(token) => {
                info!(incident_id = %incident.id, "recognised own write after a lost answer");
                *incident = stored;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Settles write-ahead actions whose outcome never got recorded. True if any changed.
    fn settle_overdue(
        &self,
        incident: &mut Incident,
        observed: &K::Observed,
        now: DateTime<Utc>,
    ) -> bool {
        let mut notes = Vec::new();
        for action in incident
            .actions
            .iter_mut()
            .filter(|a| a.outcome == ActionOutcome::Pending)
        {
            if let Some((outcome, detail)) = self.kind.settle(action, observed, now) {
                notes.push(format!(
                    "{} on {}: {detail}",
                    outcome.as_str(),
                    action.target.id
                ));
                action.outcome = outcome;
                action.detail = Some(detail);
                action.completed_at = Some(now);
            }
        }
        let changed = !notes.is_empty();
        for note in notes {
            incident.note(now, "settled", note);
        }
        changed
    }

    /// The resource no longer exists: close its incident once, with that reason.
    async fn close_gone(
        &self,
        resource: &ResourceRef,
        mut current: Option<Incident>,
    ) -> Result<CheckReport, Error> {
        let summary = format!(
            "{} {} no longer exists",
            resource.kind.as_str(),
            resource.id
        );
        let mut report = CheckReport {
            resource: resource.clone(),
            verdict: Verdict::Gone,
            summary: summary.clone(),
            waiting_for: None,
            incident_id: None,
            incident_state: None,
            actions: vec![],
            refusals: vec![],
        };
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let Some(mut incident) = current.take() else {
                return Ok(report);
            };
            report.incident_id = Some(incident.id.clone());
            if incident
                .close_gone((self.clock)(), summary.clone())
                .is_err()
            {
                report.incident_state = Some(incident.state);
                return Ok(report);
            }
            let landed = self
                .commit(&mut incident, false, vec![], &new_token())
                .await?;
            if landed {
                info!(incident_id = %incident.id, resource = %resource.id, "resource gone; incident closed");
                report.incident_state = Some(incident.state);
                return Ok(report);
            }
            current = self.store.open_incident(resource).await?;
        }
        Err(Error::Contention {
            resource: resource.id.clone(),
            attempts: MAX_WRITE_ATTEMPTS,
        })
    }
}

fn refusal_text<'a>(refusals: impl Iterator<Item = &'a Refusal>) -> String {
    refusals
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
