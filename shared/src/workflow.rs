//! The incident workflow every resource kind shares, level-triggered like a
//! controller's reconcile: a delivery only says which resource to look at (and what it
//! said of it, the cue); the workflow reads the stored incident, observes the resource's
//! real state, decides (every guard, the budget included), writes the decision and any
//! intended action ahead in one conditional transaction, makes the call, and records the
//! outcome.
//!
//! What differs per kind comes from its [`Kind`]; what happens to the incident is the
//! incident's own transition function ([`Incident::apply`]). Lost races and lost answers
//! are settled by reading state again (invariant 10): a write that lost its condition is
//! followed by a fresh read, a fresh observation and a fresh decision; a write whose
//! answer was lost is recognised by its token.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use aws_smithy_types::error::display::DisplayErrorContext;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tracing::{info, warn};

use crate::config::Mode;
use crate::domain::{
    account_scope, ActionOutcome, Capture, Change, Decision, DrillMark, Evidence, Incident,
    IncidentState, Ledger, LedgerEntry, Opening, ResourceRef, Verdict,
};
use crate::error::Error;
use crate::ids::IncidentId;
use crate::kind::{Acting, Kind};
use crate::policy::{hold_within_objective, History};
use crate::ports::{Commit, Committed, Freshness, IncidentStore, ResourceRecord};

/// How many times a check re-reads and re-decides after losing a conditional write.
/// Each loss means another delivery made progress, so a few are plenty.
pub const MAX_WRITE_ATTEMPTS: u32 = 5;

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
    pub actions: Vec<crate::domain::Action>,
    pub refusals: Vec<crate::domain::Refusal>,
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
    pub clock: fn() -> DateTime<Utc>,
}

/// A fresh token per write attempt: 32 hex digits (DynamoDB's ClientRequestToken
/// takes at most 36 characters).
fn new_token() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

/// The first look at a resource read alongside its record, for the first attempt.
struct FirstAttempt<L> {
    look: Option<L>,
    /// The clock before both reads.
    fresh_since: DateTime<Utc>,
}

/// The scopes whose ledgers a decision reads, with the account's (its budget) when
/// there are any.
fn with_account(mut scopes: Vec<ResourceRef>) -> Vec<ResourceRef> {
    if !scopes.is_empty() {
        scopes.push(account_scope());
    }
    scopes
}

/// What a decision changes, ready to be written.
struct Plan {
    incident: Incident,
    is_new: bool,
    ledgers: Vec<(ResourceRef, Ledger)>,
}

impl<K: Kind, S: IncidentStore> Workflow<'_, K, S> {
    /// Checks one resource, reading its open incident first.
    pub async fn reconcile(
        &self,
        resource: &ResourceRef,
        cue: &K::Cue,
        trigger: &str,
        tally: &Tally,
    ) -> Result<CheckReport, Error> {
        // The record and the first look at the resource need nothing of each other: read
        // at once. The record was then not read before the state, so a new incident
        // proves its read fresh by the clock read before both (a retry reads the record
        // first again, and proves it by value).
        let started = (self.clock)();
        let (record, look) = futures::join!(
            self.store.resource_record(resource),
            self.kind.first_look(resource, cue)
        );
        let mut record = record?;
        let current = record.open.take();
        let first = FirstAttempt {
            look: look?,
            fresh_since: started,
        };
        self.reconcile_known(
            resource,
            cue,
            current,
            Some(record),
            Some(first),
            trigger,
            tally,
        )
        .await
    }

    /// Like [`Workflow::reconcile`], starting from an open incident already read (or its
    /// absence), e.g. from the sweep's listing of open incidents. That listing may lag:
    /// a stale incident loses its conditional write and a missing one loses the claim,
    /// and either way the workflow reads again, so only the read is saved.
    pub async fn reconcile_from(
        &self,
        resource: &ResourceRef,
        cue: &K::Cue,
        current: Option<Incident>,
        trigger: &str,
        tally: &Tally,
    ) -> Result<CheckReport, Error> {
        self.reconcile_known(resource, cue, current, None, None, trigger, tally)
            .await
    }

    /// `record`: the rest of the resource's record (its drill, its last resolved
    /// incident), when it was read with the incident; `None` when not read yet (the
    /// drill is then read only if a new incident opens). `first`: the first look, when
    /// it was read alongside the record.
    #[allow(clippy::too_many_arguments)]
    async fn reconcile_known(
        &self,
        resource: &ResourceRef,
        cue: &K::Cue,
        mut current: Option<Incident>,
        mut record: Option<ResourceRecord>,
        mut first: Option<FirstAttempt<K::FirstLook>>,
        trigger: &str,
        tally: &Tally,
    ) -> Result<CheckReport, Error> {
        for _attempt in 0..MAX_WRITE_ATTEMPTS {
            // Observed afresh on every attempt: a lost race means another writer acted,
            // and what it did (a replacement under way, a ledger moved) is part of the
            // state this decision must see. What a new incident must prove about the
            // resource's last resolution is known before its state is observed: the
            // record read before it, else the clock.
            let (look, freshness) = match first.take() {
                Some(FirstAttempt { look, fresh_since }) => {
                    (look, Freshness::ObservedAt(fresh_since))
                }
                None => {
                    let freshness = match &record {
                        Some(record) => Freshness::LastIncident(record.last_incident.clone()),
                        None => Freshness::ObservedAt((self.clock)()),
                    };
                    (self.kind.first_look(resource, cue).await?, freshness)
                }
            };
            let Some(look) = look else {
                return self.close_gone(resource, current).await;
            };
            // The ledgers the first look already names are read while the rest of the
            // state is: independent reads, one round trip.
            let early = with_account(self.kind.scopes_at_first_look(&look, cue));
            let (read_early, observed) = futures::join!(
                self.read_ledgers(&early),
                self.kind.observe(resource, cue, look, current.as_ref())
            );
            let Some(observed) = observed? else {
                return self.close_gone(resource, current).await;
            };
            let mut ledgers = read_early?;
            let late: Vec<ResourceRef> = with_account(self.kind.scopes(&observed))
                .into_iter()
                .filter(|scope| !ledgers.contains_key(scope) && !early.contains(scope))
                .collect();
            ledgers.extend(self.read_ledgers(&late).await?);
            let now = (self.clock)();
            let token = new_token();
            let mut incident = current.clone();
            let before = incident.as_ref().map(|i| i.state);
            let settled = incident
                .as_mut()
                .is_some_and(|i| self.settle_overdue(i, &observed, now));
            let mut decision = self.kind.decide(
                &observed,
                cue,
                History {
                    incident: incident.as_ref(),
                    ledgers: &ledgers,
                },
                now,
            );
            if let Some(incident) = incident.as_ref() {
                hold_within_objective(&mut decision, incident, now);
            }
            let mut report = CheckReport {
                resource: resource.clone(),
                verdict: decision.verdict,
                summary: decision.summary.clone(),
                waiting_for: decision.waiting_for.clone(),
                incident_id: incident.as_ref().map(|i| i.id.clone()),
                incident_state: incident.as_ref().map(|i| i.state),
                actions: vec![],
                refusals: decision.refusals.clone(),
            };
            if incident.is_none() && opens_nothing(decision.verdict) {
                self.upkeep_without_incident(resource, &observed, &decision, tally)
                    .await?;
                return Ok(report);
            }
            if incident.is_none() && record.is_none() {
                let mut read = self.store.resource_record(resource).await?;
                read.open = None;
                record = Some(read);
            }
            let plan = match self.plan(
                incident,
                resource,
                trigger,
                cue,
                &observed,
                &decision,
                settled,
                record.as_ref().and_then(|r| r.drill.as_ref()),
                &ledgers,
                &token,
                now,
            ) {
                Ok(Some(plan)) => plan,
                Ok(None) => return Ok(report),
                Err(refusal) => {
                    // The stored incident moved somewhere this decision cannot follow
                    // (resolved by another writer): read again.
                    info!(resource = %resource.id, error = %refusal, "incident moved on; reading again");
                    (current, record) = self.read_again(resource).await?;
                    continue;
                }
            };
            let Plan {
                mut incident,
                is_new,
                ledgers: ledger_writes,
            } = plan;
            let landed = self
                .commit(&mut incident, before, ledger_writes, &token, freshness)
                .await?;
            if !landed {
                (current, record) = self.read_again(resource).await?;
                continue;
            }

            Tally::add(&tally.actions_refused, decision.refusals.len());
            tally.transition(before, &incident);
            if is_new {
                Tally::add(&tally.incidents_opened, 1);
                info!(incident_id = %incident.id, resource = %resource.id, state = incident.state.as_str(), "incident opened");
            }
            for refusal in &decision.refusals {
                info!(incident_id = %incident.id, guard = refusal.guard, detail = %refusal, "action refused");
            }
            report.incident_id = Some(incident.id.clone());
            report.actions = ours(&incident, &token);
            // The actions of a decision to remediate, and the upkeep of any decision.
            let to_call = self.kind.settings().mode == Mode::Enforce && !report.actions.is_empty();
            if to_call {
                let failure = self.act(&mut incident, &observed, &token, tally).await;
                report.actions = ours(&incident, &token);
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

    /// Upkeep a resource needs while no incident is open on it (a suspension Rebound
    /// made still in effect after its incident was closed by hand): made at once and
    /// logged, there being no incident to record it on. Upkeep only ever undoes or
    /// keeps safe, so a repeat is harmless.
    async fn upkeep_without_incident(
        &self,
        resource: &ResourceRef,
        observed: &K::Observed,
        decision: &Decision,
        tally: &Tally,
    ) -> Result<(), Error> {
        if decision.upkeep.is_empty() || self.kind.settings().mode != Mode::Enforce {
            return Ok(());
        }
        let now = (self.clock)();
        // The calls take an incident; this one is never stored.
        let unrecorded = Incident::open(
            Opening {
                resource: resource.clone(),
                trigger: "upkeep".into(),
                evidence: Evidence::default(),
                summary: decision.summary.clone(),
                rto_s: None,
                drill: None,
            },
            now,
        );
        for planned in &decision.upkeep {
            let action = crate::domain::Action {
                kind: planned.kind.clone(),
                target: planned.target.clone(),
                scope: planned.scope.clone(),
                requested_at: now,
                outcome: ActionOutcome::Pending,
                dry_run: false,
                detail: None,
                completed_at: None,
                writer: None,
                configuration: None,
            };
            let acting = Acting {
                observed,
                incident: &unrecorded,
                now,
            };
            self.kind.act(&action, acting).await?;
            Tally::add(&tally.actions_taken, 1);
            info!(resource = %resource.id, action = action.kind.as_str(), target = %action.target.id, "upkeep with no incident open");
        }
        Ok(())
    }

    /// Turns a decision into the incident's next version and the ledgers to move.
    /// `Ok(None)`: nothing worth writing. `Err`: the lifecycle refuses the move.
    #[allow(clippy::too_many_arguments)]
    fn plan(
        &self,
        incident: Option<Incident>,
        resource: &ResourceRef,
        trigger: &str,
        cue: &K::Cue,
        observed: &K::Observed,
        decision: &Decision,
        settled: bool,
        drill: Option<&DrillMark>,
        ledgers: &BTreeMap<ResourceRef, crate::domain::Ledger>,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Plan>, crate::domain::IllegalTransition> {
        let is_new = incident.is_none();
        let kept = incident.as_ref().and_then(|i| match i.evidence.read::<K::Evidence>() {
            Ok(evidence) => Some(evidence),
            Err(err) => {
                warn!(incident_id = %i.id, error = %err, "stored evidence unreadable; observed afresh");
                None
            }
        });
        let evidence = self.kind.evidence(observed, cue, decision, kept, now);
        let mut changed = settled;
        let mut incident = match incident {
            Some(mut incident) => {
                let mut revised = incident.evidence.clone();
                if revised.revise(&evidence) {
                    changed |= incident.apply(now, Change::Evidence(&revised))?;
                }
                incident
            }
            // A new incident is written once, already in the state the decision puts it
            // in: one write and one notification instead of "opened" then "escalated".
            None => Incident::open(
                Opening {
                    resource: resource.clone(),
                    trigger: trigger.to_owned(),
                    evidence: Evidence::of(&evidence),
                    summary: decision.summary.clone(),
                    rto_s: self.kind.recovery_objective(observed),
                    // Opened while a drill disturbs this resource: the drill's incident.
                    drill: drill
                        .filter(|mark| mark.active(now))
                        .map(|mark| mark.id.clone()),
                },
                now,
            ),
        };
        let dry_run = self.kind.settings().mode == Mode::DryRun;
        let describe = |planned: &[crate::domain::PlannedAction]| {
            planned
                .iter()
                .map(|a| self.kind.describe(a))
                .collect::<Vec<_>>()
                .join(", ")
        };
        changed |= incident.apply(
            now,
            Change::Decided {
                decision,
                intent: &describe(&decision.actions),
                upkeep: &describe(&decision.upkeep),
                writer: token,
                dry_run,
            },
        )?;
        let ledger_writes = if decision.verdict == Verdict::Remediate && !dry_run {
            ledger_moves(&incident, decision, ledgers, now)
        } else {
            Vec::new()
        };
        Ok((is_new || changed).then_some(Plan {
            incident,
            is_new,
            ledgers: ledger_writes,
        }))
    }

    /// Makes the calls this writer wrote ahead, then records their outcomes. Returns the
    /// first call error, after recording it.
    async fn act(
        &self,
        incident: &mut Incident,
        observed: &K::Observed,
        token: &str,
        tally: &Tally,
    ) -> Option<Error> {
        let stored = incident.state;
        let mut failure = None;
        let actions = ours(incident, token);
        let captures = self.capture(incident, observed, &actions).await;
        for action in actions {
            let acting = Acting {
                observed,
                incident,
                now: (self.clock)(),
            };
            let (outcome, detail) = match self.kind.act(&action, acting).await {
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
            let _ = incident.apply(
                (self.clock)(),
                Change::Outcome {
                    writer: token,
                    target: &action.target,
                    outcome,
                    detail: detail.as_deref(),
                    mitigates: self.kind.mitigates(&action),
                },
            );
        }
        let escalation = failure
            .as_ref()
            .map(|err| ((self.clock)(), err.to_string()));
        if let Some((at, error)) = &escalation {
            // A resolved incident stays resolved.
            let _ = incident.apply(*at, Change::CallFailed { error });
        }
        if let Err(err) = self
            .record_outcomes(incident, stored, token, escalation.as_ref(), &captures)
            .await
        {
            warn!(incident_id = %incident.id, error = %DisplayErrorContext(&err), "outcomes not recorded; the sweep settles them");
            failure.get_or_insert(err);
        }
        failure
    }

    /// What the kind keeps before the calls (the actions' captures, all at once), linked
    /// from the incident; the captures themselves bound their time and never fail.
    async fn capture(
        &self,
        incident: &mut Incident,
        observed: &K::Observed,
        actions: &[crate::domain::Action],
    ) -> Vec<Capture> {
        let now = (self.clock)();
        let acting: &Incident = incident;
        let captures: Vec<Capture> = futures::future::join_all(actions.iter().map(|action| {
            let acting = Acting {
                observed,
                incident: acting,
                now,
            };
            self.kind.capture(action, acting)
        }))
        .await
        .into_iter()
        .flatten()
        .collect();
        for capture in &captures {
            match &capture.failed {
                None => {
                    info!(incident_id = %incident.id, target = %capture.target.id, uri = capture.uri.as_deref(), "evidence kept")
                }
                Some(failed) => {
                    warn!(incident_id = %incident.id, target = %capture.target.id, uri = capture.uri.as_deref(), failed = %failed, "evidence not kept in full; acting anyway")
                }
            }
            let _ = incident.apply(capture.captured_at, Change::Captured(capture));
        }
        captures
    }

    /// Stores the outcomes of actions this writer wrote ahead. Other deliveries may have
    /// touched the incident meanwhile (even resolved it), so on a lost race the outcomes
    /// are laid onto a fresh copy; if writers keep winning, the actions stay pending and
    /// the sweep settles them from what it observes.
    async fn record_outcomes(
        &self,
        incident: &mut Incident,
        mut stored: IncidentState,
        token: &str,
        escalation: Option<&(DateTime<Utc>, String)>,
        captures: &[Capture],
    ) -> Result<(), Error> {
        let results = ours(incident, token);
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let landed = self
                .commit(
                    incident,
                    Some(stored),
                    vec![],
                    &new_token(),
                    Freshness::Unchecked,
                )
                .await?;
            if landed {
                return Ok(());
            }
            let Some(mut fresh) = self.store.load(&incident.id).await? else {
                warn!(incident_id = %incident.id, "incident vanished while recording outcomes");
                return Ok(());
            };
            stored = fresh.state;
            for capture in captures {
                let _ = fresh.apply(capture.captured_at, Change::Captured(capture));
            }
            for result in &results {
                if let Some(completed_at) = result.completed_at {
                    let _ = fresh.apply(
                        completed_at,
                        Change::Outcome {
                            writer: token,
                            target: &result.target,
                            outcome: result.outcome,
                            detail: result.detail.as_deref(),
                            mitigates: self.kind.mitigates(result),
                        },
                    );
                }
            }
            if let Some((at, error)) = escalation {
                let _ = fresh.apply(*at, Change::CallFailed { error });
            }
            *incident = fresh;
        }
        warn!(incident_id = %incident.id, "outcomes not recorded after repeated conflicts; the sweep settles them");
        Ok(())
    }

    /// These scopes' ledgers; no call for none.
    async fn read_ledgers(
        &self,
        scopes: &[ResourceRef],
    ) -> Result<BTreeMap<ResourceRef, Ledger>, Error> {
        if scopes.is_empty() {
            return Ok(BTreeMap::new());
        }
        self.store.ledgers(scopes).await
    }

    /// The resource's record after a lost race: its open incident apart, the rest kept
    /// for the next attempt (read before it observes, so its claim is by value).
    async fn read_again(
        &self,
        resource: &ResourceRef,
    ) -> Result<(Option<Incident>, Option<ResourceRecord>), Error> {
        let mut record = self.store.resource_record(resource).await?;
        Ok((record.open.take(), Some(record)))
    }

    /// Writes, and settles any ambiguity by reading: true when this write landed —
    /// including when its answer was lost, or an SDK retry of it then lost its own
    /// condition (the stored incident carries this write's token).
    async fn commit(
        &self,
        incident: &mut Incident,
        stored_state: Option<IncidentState>,
        ledgers: Vec<(ResourceRef, Ledger)>,
        token: &str,
        freshness: Freshness,
    ) -> Result<bool, Error> {
        let outcome = self
            .store
            .commit(Commit {
                incident,
                stored_state,
                ledgers,
                token,
                freshness,
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
        let settlements: Vec<(usize, ActionOutcome, String, bool)> = incident
            .actions
            .iter()
            .enumerate()
            .filter(|(_, a)| a.outcome == ActionOutcome::Pending)
            .filter_map(|(index, action)| {
                self.kind
                    .settle(action, observed, incident, now)
                    .map(|(outcome, detail)| (index, outcome, detail, self.kind.mitigates(action)))
            })
            .collect();
        let mut changed = false;
        for (index, outcome, detail, mitigates) in &settlements {
            changed |= incident
                .apply(
                    now,
                    Change::Settled {
                        index: *index,
                        outcome: *outcome,
                        detail,
                        mitigates: *mitigates,
                    },
                )
                .unwrap_or(false);
        }
        changed
    }

    /// The resource no longer exists: close its incident once, with that reason.
    async fn close_gone(
        &self,
        resource: &ResourceRef,
        mut current: Option<Incident>,
    ) -> Result<CheckReport, Error> {
        let summary = format!("{} {} no longer exists", resource.kind, resource.id);
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
            let stored = incident.state;
            if incident
                .apply((self.clock)(), Change::Gone { why: &summary })
                .is_err()
            {
                report.incident_state = Some(incident.state);
                return Ok(report);
            }
            let landed = self
                .commit(
                    &mut incident,
                    Some(stored),
                    vec![],
                    &new_token(),
                    Freshness::Unchecked,
                )
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

/// Verdicts that leave a resource without an incident as it was.
fn opens_nothing(verdict: Verdict) -> bool {
    matches!(
        verdict,
        Verdict::Healthy | Verdict::Recovering | Verdict::Resolve | Verdict::Gone
    )
}

/// The actions this writer recorded.
fn ours(incident: &Incident, token: &str) -> Vec<crate::domain::Action> {
    incident
        .actions
        .iter()
        .filter(|a| a.writer.as_deref() == Some(token))
        .cloned()
        .collect()
}

/// The ledgers the decision's actions count against, each moved on by them: the scope's
/// and the account's.
fn ledger_moves(
    incident: &Incident,
    decision: &Decision,
    ledgers: &BTreeMap<ResourceRef, Ledger>,
    now: DateTime<Utc>,
) -> Vec<(ResourceRef, Ledger)> {
    let mut touched: BTreeMap<ResourceRef, Ledger> = BTreeMap::new();
    for planned in &decision.actions {
        let entry = LedgerEntry {
            at: now,
            target: planned.target.id.clone(),
            incident: incident.id.clone(),
            configuration: planned.configuration.clone(),
        };
        for scope in [planned.scope.clone(), account_scope()] {
            touched
                .entry(scope.clone())
                .or_insert_with(|| ledgers.get(&scope).cloned().unwrap_or_default())
                .record(entry.clone());
        }
    }
    touched.into_iter().collect()
}
