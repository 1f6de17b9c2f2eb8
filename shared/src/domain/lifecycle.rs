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
//!
//! open | remediating | suppressed | escalated
//!   ──► awaiting-approval                     (an action needs a person's approval)
//!   ──► open | remediating                    (decided, or no longer needed: guards again)
//!   ──► suppressed                            (denied)
//!   ──► escalated                             (expired undecided)
//! ```

use chrono::{DateTime, Utc};

use super::{
    Acknowledgement, Action, ActionOutcome, Approval, ApprovalState, Capture, Decision, Evidence,
    IllegalTransition, Incident, IncidentState, NativeHealing, PlannedAction, PlannedWork, Refusal,
    ResourceRef, TimelineEntry, Verdict,
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
    /// A person acknowledged it (`rebound incidents ack`): who and when, on the
    /// timeline; its later state changes no longer page. `Ok(false)` when it was
    /// acknowledged already.
    Acknowledged { by: &'a str },
    /// A person decided the approval the incident waits for (`rebound incidents approve`
    /// or `deny`). Nothing moves yet: the next check reads the resource again and runs
    /// every guard. `Ok(false)` when there is no undecided approval to decide.
    ApprovalDecided {
        approved: bool,
        by: &'a str,
        reason: Option<&'a str>,
    },
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
            Change::Acknowledged { by } => {
                self.refuse_if_closed(IncidentState::Resolved)?;
                if self.acknowledged.is_some() {
                    return Ok(false);
                }
                self.record_mut().acknowledged = Some(Acknowledgement {
                    by: by.to_owned(),
                    at: now,
                });
                self.note(
                    now,
                    "acknowledged",
                    format!("acknowledged by {by}: its state changes are still announced, once each, but no longer page"),
                );
                Ok(true)
            }
            Change::ApprovalDecided {
                approved,
                by,
                reason,
            } => {
                self.refuse_if_closed(IncidentState::Resolved)?;
                let Some(approval) = self
                    .record_mut()
                    .approval
                    .as_mut()
                    .filter(|a| a.state == ApprovalState::Requested)
                else {
                    return Ok(false);
                };
                approval.state = if approved {
                    ApprovalState::Approved
                } else {
                    ApprovalState::Denied
                };
                approval.decided_by = Some(by.to_owned());
                approval.decided_at = Some(now);
                approval.reason = reason.map(str::to_owned);
                let text = format!(
                    "{} ({}): {}",
                    approval.decision_text(),
                    approval.intent,
                    if approved {
                        "the next check reads the resource again and acts only if every guard still allows it"
                    } else {
                        "no action in this incident; it is held until the resource recovers or a person closes it"
                    }
                );
                let event = approval.state.as_str().to_owned();
                self.note(now, &event, text);
                Ok(true)
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

    /// A person's change to a resolved incident is refused: it is final.
    fn refuse_if_closed(&self, to: IncidentState) -> Result<(), IllegalTransition> {
        if self.state.is_closed() {
            return Err(IllegalTransition {
                from: self.state,
                to,
            });
        }
        Ok(())
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
        // So does one awaiting an approval this decision no longer waits for (decided,
        // or no action needed now): the guards ran again.
        let lifted = match self.state {
            IncidentState::Suppressed => Some("hold lifted"),
            IncidentState::AwaitingApproval => {
                Some(match self.approval.as_ref().map(|a| a.state) {
                    Some(ApprovalState::Approved) => "approved, every guard checked again",
                    _ => "no approval awaited now",
                })
            }
            _ => None,
        };
        if let Some(lifted) =
            lifted.filter(|_| matches!(decision.verdict, Verdict::Hold | Verdict::Recovering))
        {
            let back = if self.actions.iter().any(|a| a.outcome.was_requested()) {
                IncidentState::Remediating
            } else {
                IncidentState::Open
            };
            changed |= self.transition(now, back, format!("{lifted}: {}", decision.summary))?;
        }
        // The healer first, then what the verdict says: a later check with the same
        // verdict then finds its own entry last and adds nothing.
        if let Some(healing) = &decision.native_healing {
            changed |= self.healed_natively(now, healing);
        }
        if let Some(planned) = &decision.planned {
            changed |= self.plan(now, planned);
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
            Verdict::AwaitApproval => {
                changed |= self.await_approval(now, decision, intent)?;
            }
        }
        Ok(changed)
    }

    /// The resource's own healer at work (its group replacing the instance, RDS failing
    /// over by itself): recorded once, with what was seen. The kind decides it is the
    /// healer's and not a remediation of Rebound's (only it knows which of its actions
    /// remediate and which keep a hold). Recovery is then verified as usual, and its time
    /// to recover counted.
    fn healed_natively(&mut self, now: DateTime<Utc>, healing: &NativeHealing) -> bool {
        if self.native_healing.is_some() || self.state.is_closed() {
            return false;
        }
        self.record_mut().native_healing = Some(healing.by.to_owned());
        self.note(
            now,
            "healing",
            format!("{}: {}", healing.by, healing.detail),
        );
        true
    }

    /// Work announced ahead of time: recorded when first seen and whenever what is
    /// known of it changes (a later announcement, a new start), each time on the
    /// timeline.
    fn plan(&mut self, now: DateTime<Utc>, planned: &PlannedWork) -> bool {
        if self.state.is_closed() || self.planned.as_ref() == Some(planned) {
            return false;
        }
        self.record_mut().planned = Some(planned.clone());
        self.note(now, "planned", planned.line());
        true
    }

    /// Records the actions a person must approve (unless an undecided approval already
    /// covers them) and waits: nothing is called, nothing written ahead.
    fn await_approval(
        &mut self,
        now: DateTime<Utc>,
        decision: &Decision,
        intent: &str,
    ) -> Result<bool, IllegalTransition> {
        let pending = self
            .approval
            .as_ref()
            .filter(|a| a.state == ApprovalState::Requested && a.covers(decision.actions.iter()));
        let mut changed = false;
        let expires_at = match pending {
            Some(approval) => approval.expires_at,
            None => {
                let expires_at = decision.approval_expires_at.unwrap_or(now);
                self.record_mut().approval = Some(Approval::requested(
                    &decision.actions,
                    intent,
                    now,
                    expires_at,
                ));
                changed = true;
                expires_at
            }
        };
        let id = self.id.clone();
        let text = format!(
            "{}: would {intent}, once a person approves (until {}): rebound incidents approve {id}, or rebound incidents deny {id} --reason TEXT",
            decision.summary,
            expires_at.format("%Y-%m-%d %H:%M UTC"),
        );
        changed |= self.move_or_note(
            now,
            IncidentState::AwaitingApproval,
            IncidentState::AwaitingApproval.as_str(),
            &text,
        )?;
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
    use crate::domain::ApprovalState;

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

    fn awaiting(now: DateTime<Utc>) -> Decision {
        Decision {
            verdict: Verdict::AwaitApproval,
            approval_expires_at: Some(now + Duration::minutes(30)),
            ..replace()
        }
    }

    const ANA: &str = "arn:aws:iam::123456789012:user/ana";

    #[test]
    fn an_action_awaiting_approval_is_recorded_once_and_nothing_is_written_ahead() {
        let now = Utc::now();
        let mut inc = incident(now);
        assert!(decided(&mut inc, now, &awaiting(now)));
        assert_eq!(inc.state, IncidentState::AwaitingApproval);
        assert!(inc.actions.is_empty(), "nothing written ahead");
        let approval = inc.approval.clone().unwrap();
        assert_eq!(approval.state, ApprovalState::Requested);
        assert_eq!(approval.actions[0].target.id, "i-1");
        assert_eq!(approval.intent, "replace i-1 in web");
        assert_eq!(approval.expires_at, now + Duration::minutes(30));
        let last = inc.timeline.last().unwrap();
        assert_eq!(last.event, "awaiting-approval");
        assert!(
            last.detail
                .contains(&format!("rebound incidents approve {}", inc.id))
                && last.detail.contains("rebound incidents deny"),
            "{}",
            last.detail
        );
        // The next check asks again: the same request, no new entry, its expiry kept.
        let later = now + Duration::minutes(5);
        assert!(!decided(&mut inc, later, &awaiting(later)));
        assert_eq!(inc.approval.as_ref().unwrap().requested_at, now);
        assert_eq!(inc.timeline.len(), 2);
    }

    #[test]
    fn a_person_decides_an_approval_once_with_who_and_why() {
        let now = Utc::now();
        let mut inc = incident(now);
        decided(&mut inc, now, &awaiting(now));
        let deny = Change::ApprovalDecided {
            approved: false,
            by: ANA,
            reason: Some("sale in progress"),
        };
        assert!(inc.apply(now, deny).unwrap());
        let approval = inc.approval.clone().unwrap();
        assert_eq!(approval.state, ApprovalState::Denied);
        assert_eq!(approval.decided_by.as_deref(), Some(ANA));
        let entry = inc.timeline.last().unwrap();
        assert_eq!(entry.event, "denied");
        assert!(
            entry.detail.starts_with(&format!("denied by {ANA}"))
                && entry.detail.contains("sale in progress"),
            "{}",
            entry.detail
        );
        // Nothing moved: the next check decides. A second decision changes nothing.
        assert_eq!(inc.state, IncidentState::AwaitingApproval);
        let approve = Change::ApprovalDecided {
            approved: true,
            by: "someone else",
            reason: None,
        };
        assert!(!inc.apply(now, approve).unwrap());
        assert_eq!(inc.approval.as_ref().unwrap().state, ApprovalState::Denied);
        // No approval asked: nothing to decide. Resolved: refused.
        let mut plain = incident(now);
        assert!(!plain.apply(now, approve).unwrap());
        plain.apply(now, Change::Gone { why: "gone" }).unwrap();
        assert!(plain.apply(now, approve).is_err());
    }

    #[test]
    fn after_an_approval_the_next_decision_moves_the_incident_on() {
        let now = Utc::now();
        let approve = Change::ApprovalDecided {
            approved: true,
            by: ANA,
            reason: None,
        };
        let mut acted = incident(now);
        decided(&mut acted, now, &awaiting(now));
        acted.apply(now, approve).unwrap();
        decided(&mut acted, now, &replace());
        assert_eq!(acted.state, IncidentState::Remediating);
        assert_eq!(acted.actions[0].outcome, ActionOutcome::Pending);

        let mut held = incident(now);
        decided(&mut held, now, &awaiting(now));
        held.apply(now, approve).unwrap();
        let hold = Decision::from_guards(
            vec![],
            vec![Refusal::new(
                "group-cannot-heal",
                Effect::Hold,
                "Launch suspended",
            )],
            "1 of 4".into(),
        );
        decided(&mut held, now, &hold);
        assert_eq!(held.state, IncidentState::Open);
        let events: Vec<_> = held.timeline.iter().map(|t| t.event.as_str()).collect();
        assert_eq!(
            events,
            ["opened", "awaiting-approval", "approved", "open", "held"]
        );
        assert!(held.timeline[3]
            .detail
            .starts_with("approved, every guard checked again"));
        assert_eq!(held.timeline[4].detail, "Launch suspended");
    }

    #[test]
    fn an_expired_approval_escalates_once() {
        let now = Utc::now();
        let mut inc = incident(now);
        decided(&mut inc, now, &awaiting(now));
        let expired = Decision::from_guards(
            vec![],
            vec![Refusal::new(
                "approval-expired",
                Effect::Escalate,
                "no one decided",
            )],
            "1 of 4".into(),
        );
        assert!(decided(&mut inc, now, &expired));
        assert_eq!(inc.state, IncidentState::Escalated);
        // Later checks find it expired still: no new move (no new notification), and
        // the timeline keeps the reason once.
        decided(&mut inc, now, &expired);
        assert!(!decided(&mut inc, now, &expired));
        assert_eq!(inc.state, IncidentState::Escalated);
        let escalations = inc
            .timeline
            .iter()
            .filter(|t| t.event == "escalated")
            .count();
        assert_eq!(escalations, 1);
    }

    #[test]
    fn an_acknowledgement_is_recorded_once_with_who() {
        let now = Utc::now();
        let mut inc = incident(now);
        assert!(inc.apply(now, Change::Acknowledged { by: ANA }).unwrap());
        assert_eq!(inc.acknowledged.as_ref().unwrap().by, ANA);
        assert!(inc
            .timeline
            .last()
            .unwrap()
            .detail
            .starts_with(&format!("acknowledged by {ANA}")));
        assert!(!inc.apply(now, Change::Acknowledged { by: "b" }).unwrap());
        assert_eq!(inc.acknowledged.as_ref().unwrap().by, ANA);
        inc.apply(now, Change::Gone { why: "gone" }).unwrap();
        assert!(inc.apply(now, Change::Acknowledged { by: ANA }).is_err());
    }

    fn healed_by_the_group() -> Decision {
        let mut decision = Decision::plain(Verdict::Underway, "1 of 4 targets unhealthy".into());
        decision.native_healing = Some(crate::domain::NativeHealing {
            by: "healed by Auto Scaling",
            detail: "i-1 is InService/Unhealthy in web".into(),
        });
        decision
    }

    #[test]
    fn the_resource_s_own_healing_is_recorded_once_and_its_recovery_timed() {
        let opened = Utc::now();
        let mut inc = incident(opened);
        assert!(decided(&mut inc, opened, &healed_by_the_group()));
        assert_eq!(inc.state, IncidentState::Remediating);
        assert_eq!(
            inc.native_healing.as_deref(),
            Some("healed by Auto Scaling")
        );
        let entries = inc.timeline.len();
        assert!(inc.timeline.iter().any(|t| t.event == "healing"
            && t.detail == "healed by Auto Scaling: i-1 is InService/Unhealthy in web"));
        decided(
            &mut inc,
            opened + Duration::seconds(30),
            &healed_by_the_group(),
        );
        assert_eq!(inc.timeline.len(), entries, "recorded once");
        let resolve = Decision::plain(Verdict::Resolve, "4 of 4 healthy".into());
        decided(&mut inc, opened + Duration::seconds(240), &resolve);
        assert_eq!(inc.state, IncidentState::Resolved);
        assert_eq!(inc.time_to_recover_s, Some(240));
        assert!(inc.actions.is_empty(), "Rebound acted on none of it");
    }

    #[test]
    fn a_closed_incident_is_not_recorded_as_healed_afterwards() {
        let now = Utc::now();
        let mut inc = incident(now);
        inc.apply(now, Change::Gone { why: "gone" }).unwrap();
        let _ = inc.apply(
            now,
            Change::Decided {
                decision: &healed_by_the_group(),
                intent: "",
                upkeep: "",
                writer: "w1",
                dry_run: false,
            },
        );
        assert_eq!(inc.native_healing, None);
    }
}
