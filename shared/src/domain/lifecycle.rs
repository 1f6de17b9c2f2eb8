//! The incident's one transition function: every change to an incident is a [`Change`]
//! given to [`Incident::apply`], which enforces the lifecycle's rules, refuses illegal
//! moves, and is the only place that appends to the timeline.
//!
//! ```text
//! open ──► remediating ──► resolved          (verified recovery only)
//!   │  ╲        │    ▲
//!   │   ╲       ▼    │
//!   │    ──► escalated ──► resolved          (still verified)
//!   ▼
//! suppressed ──► open | remediating          (the hold lifted)
//! ```

use chrono::{DateTime, Utc};

use super::{
    Action, ActionOutcome, Capture, Decision, Evidence, IllegalTransition, Incident, IncidentState,
    PlannedAction, Refusal, ResourceRef, TimelineEntry, Verdict,
};

/// One change to an incident.
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    /// The kind's evidence, revised from what a check observed.
    Evidence(&'a Evidence),
    /// An action written ahead whose outcome was never recorded, settled from what was
    /// observed (the function died between the call and the write).
    Settled {
        index: usize,
        outcome: ActionOutcome,
        detail: &'a str,
        /// The action mitigates the incident once it succeeds ([`Change::Outcome`]).
        mitigates: bool,
    },
    /// A check's decision. `intent` says what its actions do ("replace i-0abc in web"),
    /// `upkeep` what its upkeep calls do; `writer` is the token of the write that
    /// records them ahead of their calls.
    Decided {
        decision: &'a Decision,
        intent: &'a str,
        upkeep: &'a str,
        writer: &'a str,
        dry_run: bool,
    },
    /// What became of a call the writer wrote ahead.
    Outcome {
        writer: &'a str,
        target: &'a ResourceRef,
        outcome: ActionOutcome,
        detail: Option<&'a str>,
        /// A success of this action ends the incident's impact (a zone's traffic shifted
        /// away): the first one records the time to mitigate.
        mitigates: bool,
    },
    /// Evidence kept (or not) before an action's call: linked from the incident and
    /// noted on the timeline, whatever the incident's state.
    Captured(&'a Capture),
    /// A remediation call failed: a person is needed now, not at the recovery deadline.
    CallFailed { error: &'a str },
    /// The resource no longer exists: resolved, but not recovered (no time to recover).
    Gone { why: &'a str },
    /// A person closed it (`rebound incidents close`): resolved, not verified recovered
    /// (no time to recover), with who and why on the timeline.
    Closed { by: &'a str, reason: &'a str },
    /// A drill's result, kept on the timeline whatever the state.
    DrillNote { detail: &'a str },
    /// The change was stored: the version moves on and the writer's token is kept.
    Written { token: &'a str },
}

impl Incident {
    /// Applies one change. `Ok(true)` when the incident changed, `Ok(false)` when it was
    /// already so; a move the lifecycle forbids is refused and changes nothing.
    pub fn apply(
        &mut self,
        now: DateTime<Utc>,
        change: Change<'_>,
    ) -> Result<bool, IllegalTransition> {
        match change {
            Change::Evidence(evidence) => {
                let record = self.record_mut();
                let changed = record.evidence != *evidence;
                if changed {
                    record.evidence = evidence.clone();
                    record.updated_at = now;
                }
                Ok(changed)
            }
            Change::Settled {
                index,
                outcome,
                detail,
                mitigates,
            } => {
                let settled = self.settle(now, index, outcome, detail);
                if settled && mitigates && outcome == ActionOutcome::Succeeded {
                    let what = self
                        .actions
                        .get(index)
                        .map(|a| a.detail.clone().unwrap_or_default());
                    self.mitigated(now, what.as_deref().unwrap_or_default());
                }
                Ok(settled)
            }
            Change::Decided {
                decision,
                intent,
                upkeep,
                writer,
                dry_run,
            } => {
                let changed = self.decided(now, decision, intent, writer, dry_run)?;
                let kept = self.upkeep(now, decision, upkeep, writer, dry_run);
                Ok(changed || kept)
            }
            Change::Outcome {
                writer,
                target,
                outcome,
                detail,
                mitigates,
            } => {
                let recorded = self.outcome(now, writer, target, outcome, detail);
                if recorded && mitigates && outcome == ActionOutcome::Succeeded {
                    self.mitigated(now, detail.unwrap_or_default());
                }
                Ok(recorded)
            }
            Change::Captured(capture) => {
                self.note(now, "evidence", capture.summary());
                self.record_mut().captures.push(capture.clone());
                Ok(true)
            }
            Change::CallFailed { error } => self.transition(
                now,
                IncidentState::Escalated,
                format!("the remediation call failed: {error}"),
            ),
            Change::Gone { why } => {
                let moved = self.transition(now, IncidentState::Resolved, why)?;
                self.record_mut().time_to_recover_s = None;
                Ok(moved)
            }
            Change::Closed { by, reason } => {
                if self.state.is_closed() {
                    return Err(IllegalTransition {
                        from: self.state,
                        to: IncidentState::Resolved,
                    });
                }
                self.note(now, "closed", format!("closed by {by}: {reason}"));
                let moved = self.transition(
                    now,
                    IncidentState::Resolved,
                    "closed by a person, not verified recovered",
                )?;
                self.record_mut().time_to_recover_s = None;
                Ok(moved)
            }
            Change::DrillNote { detail } => {
                self.note(now, "drill", detail);
                Ok(true)
            }
            Change::Written { token } => {
                let record = self.record_mut();
                record.version = record.version.saturating_add(1);
                record.written_by = Some(token.to_owned());
                Ok(true)
            }
        }
    }

    fn note(&mut self, now: DateTime<Utc>, event: &str, detail: impl Into<String>) {
        let record = self.record_mut();
        record.timeline.push(TimelineEntry {
            at: now,
            event: event.to_owned(),
            detail: detail.into(),
        });
        record.updated_at = now;
    }

    /// Adds a timeline entry unless the last one already says the same, so a storm of
    /// identical events does not grow the record.
    fn note_once(&mut self, now: DateTime<Utc>, event: &str, detail: &str) -> bool {
        let repeated = self
            .timeline
            .last()
            .is_some_and(|last| last.event == event && last.detail == detail);
        if !repeated {
            self.note(now, event, detail);
        }
        !repeated
    }

    /// Moves the incident to `to` and says why on the timeline.
    fn transition(
        &mut self,
        now: DateTime<Utc>,
        to: IncidentState,
        why: impl Into<String>,
    ) -> Result<bool, IllegalTransition> {
        if self.state == to {
            return Ok(false);
        }
        if !self.state.can_move_to(to) {
            return Err(IllegalTransition {
                from: self.state,
                to,
            });
        }
        self.note(now, to.as_str(), why);
        let opened_at = self.opened_at;
        let record = self.record_mut();
        record.state = to;
        if to == IncidentState::Resolved {
            record.resolved_at = Some(now);
            record.time_to_recover_s = Some(now.signed_duration_since(opened_at).num_seconds());
        }
        Ok(true)
    }

    /// Moves to `to`, or, when already there, notes `event` once.
    fn move_or_note(
        &mut self,
        now: DateTime<Utc>,
        to: IncidentState,
        event: &str,
        text: &str,
    ) -> Result<bool, IllegalTransition> {
        if self.state == to {
            Ok(self.note_once(now, event, text))
        } else {
            self.transition(now, to, text)
        }
    }

    /// The first mitigation: its time, and the time to mitigate from detection. A
    /// resolved incident keeps what it had.
    fn mitigated(&mut self, now: DateTime<Utc>, detail: &str) {
        if self.mitigated_at.is_some() || self.state.is_closed() {
            return;
        }
        let opened_at = self.opened_at;
        let record = self.record_mut();
        record.mitigated_at = Some(now);
        record.time_to_mitigate_s = Some(now.signed_duration_since(opened_at).num_seconds());
        self.note(now, "mitigated", detail);
    }

    fn settle(
        &mut self,
        now: DateTime<Utc>,
        index: usize,
        outcome: ActionOutcome,
        detail: &str,
    ) -> bool {
        let Some(action) = self.record_mut().actions.get_mut(index) else {
            return false;
        };
        if action.outcome != ActionOutcome::Pending {
            return false;
        }
        action.outcome = outcome;
        action.detail = Some(detail.to_owned());
        action.completed_at = Some(now);
        let note = format!("{} on {}: {detail}", outcome.as_str(), action.target.id);
        self.note(now, "settled", note);
        true
    }

    fn outcome(
        &mut self,
        now: DateTime<Utc>,
        writer: &str,
        target: &ResourceRef,
        outcome: ActionOutcome,
        detail: Option<&str>,
    ) -> bool {
        let record = self.record_mut();
        let Some(action) = record
            .actions
            .iter_mut()
            .find(|a| a.writer.as_deref() == Some(writer) && a.target == *target)
        else {
            return false;
        };
        action.outcome = outcome;
        action.detail = detail.map(str::to_owned);
        action.completed_at = Some(now);
        record.updated_at = now;
        true
    }

    /// The lifecycle's rules for a decision.
    fn decided(
        &mut self,
        now: DateTime<Utc>,
        decision: &Decision,
        intent: &str,
        writer: &str,
        dry_run: bool,
    ) -> Result<bool, IllegalTransition> {
        let mut changed = false;
        // A suppressed incident whose hold has lifted, and that this decision does not
        // move anywhere else, goes back to where it stood: remediating if an action was
        // taken, else open. What still holds it, if anything, follows as its own entry.
        if self.state == IncidentState::Suppressed
            && matches!(decision.verdict, Verdict::Hold | Verdict::Recovering)
        {
            let back = if self.actions.iter().any(|a| a.outcome.was_requested()) {
                IncidentState::Remediating
            } else {
                IncidentState::Open
            };
            changed |= self.transition(now, back, format!("hold lifted: {}", decision.summary))?;
        }
        match decision.verdict {
            Verdict::Healthy | Verdict::Gone => {}
            Verdict::Recovering => {
                if let Some(why) = &decision.waiting_for {
                    changed |= self.note_once(now, "recovering", why);
                }
            }
            Verdict::Resolve => {
                changed |= self.transition(
                    now,
                    IncidentState::Resolved,
                    format!("verified: {}", decision.summary),
                )?;
            }
            Verdict::Escalate => {
                let text = refusal_text(decision.refusals.iter());
                changed |= self.move_or_note(now, IncidentState::Escalated, "held", &text)?;
            }
            Verdict::Hold => {
                let news: Vec<&Refusal> =
                    decision.refusals.iter().filter(|r| !r.is_echo()).collect();
                if !news.is_empty() {
                    changed |= self.note_once(now, "held", &refusal_text(news.into_iter()));
                }
            }
            Verdict::Suppress => {
                let text = refusal_text(decision.refusals.iter().filter(|r| r.suppresses()));
                changed |= self.move_or_note(now, IncidentState::Suppressed, "held", &text)?;
            }
            Verdict::Underway => {
                changed |= self.move_or_note(
                    now,
                    IncidentState::Remediating,
                    "remediating",
                    &decision.summary,
                )?;
            }
            Verdict::Remediate => {
                self.write_ahead(now, decision, intent, writer, dry_run)?;
                changed = true;
            }
        }
        Ok(changed)
    }

    /// Records a decision's upkeep calls ahead, like actions, without moving the
    /// incident: they keep its hold safe or undo what one did.
    fn upkeep(
        &mut self,
        now: DateTime<Utc>,
        decision: &Decision,
        intent: &str,
        writer: &str,
        dry_run: bool,
    ) -> bool {
        if decision.upkeep.is_empty() {
            return false;
        }
        let actions = written_ahead(&decision.upkeep, now, writer, dry_run);
        self.record_mut().actions.extend(actions);
        let event = if dry_run { "dry-run" } else { "upkeep" };
        let text = if dry_run {
            format!("would {intent}")
        } else {
            intent.to_owned()
        };
        self.note(now, event, text);
        true
    }

    /// Records the intended actions before their calls (winning the conditional write
    /// of this change is what makes its writer the one that acts).
    fn write_ahead(
        &mut self,
        now: DateTime<Utc>,
        decision: &Decision,
        intent: &str,
        writer: &str,
        dry_run: bool,
    ) -> Result<(), IllegalTransition> {
        let was_simulated = decision.actions.iter().any(|planned| {
            self.actions_on(&planned.target.id)
                .any(|a| a.outcome == ActionOutcome::Simulated)
        });
        let actions = written_ahead(&decision.actions, now, writer, dry_run);
        self.record_mut().actions.extend(actions);
        if dry_run {
            self.note(
                now,
                "dry-run",
                format!("would {intent} ({})", decision.summary),
            );
            return Ok(());
        }
        if was_simulated {
            self.note(
                now,
                "enforce",
                "MODE is now enforce: the action dry-run only simulated is taken for real",
            );
        }
        let text = format!("{}: {intent}", decision.summary);
        if !self.transition(now, IncidentState::Remediating, text.clone())? {
            self.note(now, "remediating", text);
        }
        Ok(())
    }
}

/// Planned actions as recorded ahead of their calls (simulated in dry-run).
fn written_ahead(
    planned: &[PlannedAction],
    now: DateTime<Utc>,
    writer: &str,
    dry_run: bool,
) -> Vec<Action> {
    planned
        .iter()
        .map(|planned| Action {
            kind: planned.kind.clone(),
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
            writer: Some(writer.to_owned()),
            configuration: planned.configuration.clone(),
        })
        .collect()
}

fn refusal_text<'a>(refusals: impl Iterator<Item = &'a Refusal>) -> String {
    refusals
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::super::{Effect, Opening, ResourceType};
    use super::*;
    use crate::domain::ActionKind;

    fn incident(now: DateTime<Utc>) -> Incident {
        Incident::open(
            Opening {
                resource: ResourceRef::new(ResourceType::named("target-group"), "tg"),
                trigger: "alarm:x".into(),
                evidence: Evidence::default(),
                summary: "1 of 4 targets unhealthy".into(),
                rto_s: None,
                drill: None,
            },
            now,
        )
    }

    fn decided(incident: &mut Incident, now: DateTime<Utc>, decision: &Decision) -> bool {
        incident
            .apply(
                now,
                Change::Decided {
                    decision,
                    intent: "replace i-1 in web",
                    upkeep: "",
                    writer: "w1",
                    dry_run: false,
                },
            )
            .unwrap()
    }

    fn replace() -> Decision {
        Decision::from_guards(
            vec![PlannedAction {
                kind: ActionKind::named("set-instance-health"),
                target: ResourceRef::new(ResourceType::named("instance"), "i-1"),
                scope: ResourceRef::new(ResourceType::named("auto-scaling-group"), "web"),
                configuration: None,
                cooldown: std::time::Duration::ZERO,
                repeat_limit: None,
            }],
            vec![],
            "1 of 4 targets unhealthy".into(),
        )
    }

    #[test]
    fn resolving_records_when_and_how_long_recovery_took() {
        let opened = Utc::now();
        let mut inc = incident(opened);
        let resolve = Decision::plain(Verdict::Resolve, "4 of 4 healthy".into());
        decided(&mut inc, opened + Duration::seconds(184), &resolve);
        assert_eq!(inc.time_to_recover_s, Some(184));
        assert_eq!(inc.timeline.last().unwrap().event, "resolved");
        assert_eq!(
            inc.timeline.last().unwrap().detail,
            "verified: 4 of 4 healthy"
        );
    }

    #[test]
    fn a_decision_to_act_writes_its_actions_ahead_and_moves_to_remediating() {
        let now = Utc::now();
        let mut inc = incident(now);
        assert!(decided(&mut inc, now, &replace()));
        assert_eq!(inc.state, IncidentState::Remediating);
        assert_eq!(inc.actions.len(), 1);
        assert_eq!(inc.actions[0].outcome, ActionOutcome::Pending);
        assert_eq!(inc.actions[0].writer.as_deref(), Some("w1"));
        assert_eq!(
            inc.timeline.last().unwrap().detail,
            "1 of 4 targets unhealthy: replace i-1 in web"
        );
        let target = inc.actions[0].target.clone();
        inc.apply(
            now,
            Change::Outcome {
                writer: "w1",
                target: &target,
                outcome: ActionOutcome::Succeeded,
                detail: None,
                mitigates: false,
            },
        )
        .unwrap();
        assert_eq!(inc.actions[0].outcome, ActionOutcome::Succeeded);
        assert_eq!(inc.mitigated_at, None);
    }

    #[test]
    fn a_refused_move_changes_nothing_and_a_repeated_one_is_no_change() {
        let now = Utc::now();
        let mut inc = incident(now);
        let resolve = Decision::plain(Verdict::Resolve, "ok".into());
        decided(&mut inc, now, &resolve);
        let before = inc.clone();
        let err = inc
            .apply(now, Change::CallFailed { error: "late" })
            .unwrap_err();
        assert_eq!(err.from, IncidentState::Resolved);
        assert_eq!(inc, before);
    }

    #[test]
    fn an_incident_closed_because_its_resource_is_gone_has_no_time_to_recover() {
        let now = Utc::now();
        let mut inc = incident(now);
        inc.apply(now, Change::Gone { why: "deleted" }).unwrap();
        assert_eq!(inc.state, IncidentState::Resolved);
        assert_eq!(inc.time_to_recover_s, None);
    }

    #[test]
    fn a_repeated_hold_is_kept_once_and_an_echo_not_at_all() {
        let now = Utc::now();
        let mut inc = incident(now);
        let hold = |effect| {
            Decision::from_guards(
                vec![],
                vec![Refusal::new("cooldown", effect, "web in cooldown")],
                "1 of 4".into(),
            )
        };
        assert!(decided(&mut inc, now, &hold(Effect::Hold)));
        assert!(!decided(&mut inc, now, &hold(Effect::Hold)));
        assert!(!decided(&mut inc, now, &hold(Effect::Echo)));
        assert_eq!(inc.timeline.len(), 2);
    }

    #[test]
    fn a_suppressed_incident_goes_back_where_it_stood_when_the_hold_lifts() {
        let now = Utc::now();
        let mut inc = incident(now);
        let suppress = Decision::from_guards(
            vec![],
            vec![Refusal::new(
                "dependency-held",
                Effect::Suppress,
                "db healing",
            )],
            "3 of 4".into(),
        );
        decided(&mut inc, now, &suppress);
        assert_eq!(inc.state, IncidentState::Suppressed);
        decided(
            &mut inc,
            now,
            &Decision::plain(Verdict::Hold, "3 of 4".into()),
        );
        assert_eq!(inc.state, IncidentState::Open);
        assert_eq!(inc.timeline.last().unwrap().detail, "hold lifted: 3 of 4");
    }

    #[test]
    fn a_person_closes_an_incident_with_who_and_why_and_no_time_to_recover() {
        let now = Utc::now();
        let mut inc = incident(now);
        inc.apply(
            now,
            Change::Closed {
                by: "arn:aws:iam::123456789012:user/ops",
                reason: "the app was retired",
            },
        )
        .unwrap();
        assert_eq!(inc.state, IncidentState::Resolved);
        assert_eq!(inc.time_to_recover_s, None);
        let closed = inc.timeline.iter().find(|t| t.event == "closed").unwrap();
        assert_eq!(
            closed.detail,
            "closed by arn:aws:iam::123456789012:user/ops: the app was retired"
        );
        assert!(inc
            .apply(
                now,
                Change::Closed {
                    by: "x",
                    reason: "again"
                }
            )
            .is_err());
    }

    #[test]
    fn a_stored_change_moves_the_version_on_and_keeps_the_writer() {
        let now = Utc::now();
        let mut inc = incident(now);
        inc.apply(now, Change::Written { token: "t1" }).unwrap();
        assert_eq!((inc.version, inc.written_by.as_deref()), (1, Some("t1")));
    }
}
