//! The incident record: one per failure of one resource, with its evidence, the
//! actions taken and a timeline. This is the shape `rebound incidents --json` prints
//! and the incidents table stores.
//!
//! Its fields are read through [`Incident`] (which dereferences to the
//! [`IncidentRecord`]) and changed only by [`Incident::apply`], the one transition
//! function in [`super::lifecycle`]: the lifecycle's rules and the timeline live there.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Acknowledgement, Approval, Capture, Evidence, PlannedWork, ResourceRef, ResourceType};
use crate::ids::IncidentId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentState {
    Open,
    Remediating,
    Resolved,
    Escalated,
    Suppressed,
    /// An action whose mode is `approve` waits for a person (`rebound incidents approve`
    /// or `deny`); nothing is called meanwhile.
    #[serde(rename = "awaiting-approval")]
    AwaitingApproval,
}

impl IncidentState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Remediating => "remediating",
            Self::Resolved => "resolved",
            Self::Escalated => "escalated",
            Self::Suppressed => "suppressed",
            Self::AwaitingApproval => "awaiting-approval",
        }
    }

    pub fn is_closed(self) -> bool {
        self == Self::Resolved
    }

    /// Every state, in the order of the lifecycle.
    pub const ALL: [IncidentState; 6] = [
        Self::Open,
        Self::AwaitingApproval,
        Self::Remediating,
        Self::Suppressed,
        Self::Escalated,
        Self::Resolved,
    ];

    /// The lifecycle's legal moves. A resolved incident is final: a later failure of the
    /// same resource opens a new one, so each record tells one story. Back to `open`
    /// only from a hold that lifted or an approval no longer awaited.
    pub fn can_move_to(self, to: Self) -> bool {
        use IncidentState::*;
        match (self, to) {
            (Resolved, _) => false,
            (_, Open) => matches!(self, Suppressed | AwaitingApproval),
            _ => self != to,
        }
    }
}

/// A move the lifecycle does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an incident cannot move from {from} to {to}", from = .from.as_str(), to = .to.as_str())]
pub struct IllegalTransition {
    pub from: IncidentState,
    pub to: IncidentState,
}

/// What an action does, as stored and printed (`set-instance-health`,
/// `reboot-with-failover`, …). Each kind declares its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ActionKind(Cow<'static, str>);

impl ActionKind {
    pub const fn named(name: &'static str) -> Self {
        Self(Cow::Borrowed(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionOutcome {
    /// Recorded before the call (write-ahead); the call may or may not have happened.
    Pending,
    Succeeded,
    Failed,
    /// Dry-run: recorded, never called. Not an action taken.
    Simulated,
    /// Not called because a guard said no after it was planned.
    Refused,
}

impl ActionOutcome {
    /// As stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Simulated => "simulated",
            Self::Refused => "refused",
        }
    }

    /// A call was (or may have been) made: what counts against cooldowns and "one action
    /// per target". A simulation or a refusal is not an action taken.
    pub fn was_requested(self) -> bool {
        matches!(self, Self::Pending | Self::Succeeded)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    pub kind: ActionKind,
    /// What the action is done to: the instance to replace. (Records written before
    /// 0.2 hold a bare instance id; they still read.)
    #[serde(deserialize_with = "legacy::instance_or_ref")]
    pub target: ResourceRef,
    /// What carries it out and whose limits it counts against (cooldown, in-flight,
    /// replacement loop): the Auto Scaling group for a replacement. (Before 0.2: a
    /// bare group name in `group`.)
    #[serde(alias = "group", deserialize_with = "legacy::group_or_ref")]
    pub scope: ResourceRef,
    pub requested_at: DateTime<Utc>,
    pub outcome: ActionOutcome,
    pub dry_run: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    /// The write-ahead token of the invocation that recorded the intent: only that
    /// invocation makes the call, and it recognises its own write after a lost answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer: Option<String>,
    /// What new capacity launches from (e.g. `lt-0abc version 7`), so replacements
    /// that keep failing on the same configuration are recognised as a loop.
    #[serde(
        rename = "launch_template",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub configuration: Option<String>,
}

/// Actions as stored before they named their target and scope by type: a bare instance
/// id and group name (the only action 0.1 had: replacing an instance of a group).
mod legacy {
    use serde::{Deserialize, Deserializer};

    use super::{ResourceRef, ResourceType};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum RefOrId {
        Ref(ResourceRef),
        Id(String),
    }

    fn read<'de, D: Deserializer<'de>>(
        deserializer: D,
        kind: &'static str,
    ) -> Result<ResourceRef, D::Error> {
        Ok(match RefOrId::deserialize(deserializer)? {
            RefOrId::Ref(reference) => reference,
            RefOrId::Id(id) => ResourceRef::new(ResourceType::named(kind), id),
        })
    }

    pub fn instance_or_ref<'de, D: Deserializer<'de>>(d: D) -> Result<ResourceRef, D::Error> {
        read(d, "instance")
    }

    pub fn group_or_ref<'de, D: Deserializer<'de>>(d: D) -> Result<ResourceRef, D::Error> {
        read(d, "auto-scaling-group")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub event: String,
    pub detail: String,
}

/// The incident's fields, as stored. Read them through an [`Incident`]; only
/// [`Incident::apply`] changes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentRecord {
    pub id: IncidentId,
    pub resource: ResourceRef,
    pub state: IncidentState,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub trigger: String,
    pub evidence: Evidence,
    /// Evidence kept outside the record before an action (an instance's console output
    /// and status before its replacement): where, or why not. Absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub captures: Vec<Capture>,
    #[serde(default)]
    pub actions: Vec<Action>,
    #[serde(default)]
    pub timeline: Vec<TimelineEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_recover_s: Option<i64>,
    /// When the incident's impact ended though the resource had not recovered yet (a
    /// zone's traffic shifted away): its recovery objective is met from then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mitigated_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_mitigate_s: Option<i64>,
    /// The recovery-time objective this incident is held to, in seconds from detection
    /// (the resource's `rebound:rto-seconds` tag, or its kind's default): past it,
    /// escalate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto_s: Option<u64>,
    /// Optimistic-concurrency counter: every stored change bumps it, and a write only
    /// lands on the version it was based on.
    #[serde(default)]
    pub version: u64,
    /// Token of the write that stored this version: after a lost answer the writer
    /// re-reads and knows whether its own write landed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_by: Option<String>,
    /// The resilience drill (`rebound drill`) that caused this incident, when it opened
    /// on a resource a drill had marked: reports tell drills apart from real incidents,
    /// and the notifier flags their messages (`drill=true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<String>,
    /// The approval the incident's planned actions wait for, or waited for (with the
    /// decision a person recorded), while its mode is `approve`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
    /// Who acknowledged it (`rebound incidents ack`): its state changes no longer page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<Acknowledgement>,
    /// The resource's own healer took care of it ("healed by Auto Scaling", "failed over
    /// by RDS"): set once, by the first check that saw it; Rebound acted on none of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_healing: Option<String>,
    /// The work AWS announced that the incident is about (a scheduled retirement, a
    /// database's maintenance): a planned incident, opened ahead of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned: Option<PlannedWork>,
}

impl IncidentRecord {
    /// Actions on one target, oldest first.
    pub fn actions_on<'a>(&'a self, target: &'a str) -> impl Iterator<Item = &'a Action> + 'a {
        self.actions.iter().filter(move |a| a.target.id == target)
    }

    /// When Rebound last asked for something in this incident (simulations excluded).
    pub fn last_action_at(&self) -> Option<DateTime<Utc>> {
        self.actions
            .iter()
            .filter(|a| a.outcome.was_requested() || a.outcome == ActionOutcome::Failed)
            .map(|a| a.requested_at)
            .max()
    }
}

/// One incident. Read it like its record (`incident.state`, `incident.actions`); change
/// it only through [`Incident::apply`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Incident {
    record: IncidentRecord,
}

impl Deref for Incident {
    type Target = IncidentRecord;

    fn deref(&self) -> &IncidentRecord {
        &self.record
    }
}

/// What a new incident starts from.
#[derive(Debug, Clone)]
pub struct Opening {
    pub resource: ResourceRef,
    /// What started it: `alarm:<name>`, `rds-event:<id>`, `sweep`.
    pub trigger: String,
    pub evidence: Evidence,
    /// The first timeline entry: what was wrong.
    pub summary: String,
    /// The recovery-time objective, in seconds.
    pub rto_s: Option<u64>,
    /// The drill marked on the resource, if one is running.
    pub drill: Option<String>,
}

impl Incident {
    pub fn open(opening: Opening, now: DateTime<Utc>) -> Self {
        Self {
            record: IncidentRecord {
                id: IncidentId::generate(now),
                resource: opening.resource,
                state: IncidentState::Open,
                opened_at: now,
                updated_at: now,
                trigger: opening.trigger,
                evidence: opening.evidence,
                captures: Vec::new(),
                actions: Vec::new(),
                timeline: vec![TimelineEntry {
                    at: now,
                    event: "opened".into(),
                    detail: opening.summary,
                }],
                resolved_at: None,
                time_to_recover_s: None,
                mitigated_at: None,
                time_to_mitigate_s: None,
                rto_s: opening.rto_s,
                version: 0,
                written_by: None,
                drill: opening.drill,
                approval: None,
                acknowledged: None,
                native_healing: None,
                planned: None,
            },
        }
    }

    /// For tests: an incident as a stored record of this shape reads (what decoding
    /// it does).
    #[cfg(any(test, feature = "test-util"))]
    pub fn from_record(record: IncidentRecord) -> Self {
        Self { record }
    }

    /// For tests: this incident as it would be stored with `change` made to its record
    /// by some earlier writer.
    #[cfg(any(test, feature = "test-util"))]
    pub fn stored_with(mut self, change: impl FnOnce(&mut IncidentRecord)) -> Self {
        change(&mut self.record);
        self
    }

    /// The record, for the lifecycle's transition function only.
    pub(super) fn record_mut(&mut self) -> &mut IncidentRecord {
        &mut self.record
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_outcomes_match_their_stored_form() {
        for outcome in [
            ActionOutcome::Pending,
            ActionOutcome::Succeeded,
            ActionOutcome::Failed,
            ActionOutcome::Simulated,
            ActionOutcome::Refused,
        ] {
            assert_eq!(serde_json::to_value(outcome).unwrap(), outcome.as_str());
        }
        let kind = ActionKind::named("set-instance-health");
        assert_eq!(serde_json::to_value(&kind).unwrap(), "set-instance-health");
    }

    #[test]
    fn the_lifecycle_allows_its_moves_and_refuses_the_rest() {
        use IncidentState::*;
        let all = IncidentState::ALL;
        let allowed = [
            (Open, AwaitingApproval),
            (Remediating, AwaitingApproval),
            (Escalated, AwaitingApproval),
            (Suppressed, AwaitingApproval),
            (AwaitingApproval, Open),
            (AwaitingApproval, Remediating),
            (AwaitingApproval, Resolved),
            (AwaitingApproval, Escalated),
            (AwaitingApproval, Suppressed),
            (Open, Remediating),
            (Open, Resolved),
            (Open, Escalated),
            (Open, Suppressed),
            (Remediating, Resolved),
            (Remediating, Escalated),
            (Remediating, Suppressed),
            (Escalated, Remediating),
            (Escalated, Resolved),
            (Escalated, Suppressed),
            (Suppressed, Open),
            (Suppressed, Remediating),
            (Suppressed, Resolved),
            (Suppressed, Escalated),
        ];
        for from in all {
            for to in all {
                assert_eq!(
                    from.can_move_to(to),
                    allowed.contains(&(from, to)),
                    "{from:?} -> {to:?}"
                );
            }
        }
    }

    #[test]
    fn every_state_is_stored_as_the_contract_names_it() {
        for state in IncidentState::ALL {
            assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
        }
        assert_eq!(
            IncidentState::AwaitingApproval.as_str(),
            "awaiting-approval"
        );
    }

    #[test]
    fn an_action_stored_before_targets_were_typed_still_reads() {
        let old = serde_json::json!({
            "kind": "set-instance-health", "target": "i-0abc", "group": "web",
            "requested_at": "2026-11-26T10:00:00Z", "outcome": "succeeded", "dry_run": false
        });
        let action: Action = serde_json::from_value(old).unwrap();
        assert_eq!(action.target.kind.as_str(), "instance");
        assert_eq!(action.target.id, "i-0abc");
        assert_eq!(action.scope.kind.as_str(), "auto-scaling-group");
        assert_eq!(action.scope.id, "web");
    }

    fn opened() -> Incident {
        Incident::open(
            Opening {
                resource: ResourceRef::new(ResourceType::named("target-group"), "tg"),
                trigger: "alarm:x".into(),
                evidence: Evidence::default(),
                summary: "1 of 4 targets unhealthy".into(),
                rto_s: None,
                drill: None,
            },
            Utc::now(),
        )
    }

    fn capture(uri: Option<&str>, failed: Option<&str>) -> Capture {
        Capture {
            target: ResourceRef::new(ResourceType::named("instance"), "i-0abc"),
            captured_at: Utc::now(),
            uri: uri.map(str::to_owned),
            failed: failed.map(str::to_owned),
        }
    }

    #[test]
    fn a_capture_is_linked_from_the_incident_and_noted_on_its_timeline() {
        let mut incident = opened();
        let kept = capture(Some("s3://evidence/incidents/inc-1/i-0abc.json"), None);
        assert_eq!(
            incident.apply(kept.captured_at, super::super::Change::Captured(&kept)),
            Ok(true)
        );
        let lost = capture(None, Some("console output: UnauthorizedOperation"));
        incident
            .apply(lost.captured_at, super::super::Change::Captured(&lost))
            .unwrap();

        assert_eq!(incident.captures, vec![kept, lost]);
        let notes: Vec<&str> = incident
            .timeline
            .iter()
            .filter(|e| e.event == "evidence")
            .map(|e| e.detail.as_str())
            .collect();
        assert_eq!(
            notes,
            [
                "evidence of i-0abc kept at s3://evidence/incidents/inc-1/i-0abc.json",
                "evidence of i-0abc not kept: console output: UnauthorizedOperation",
            ]
        );
        assert_eq!(
            incident.state,
            IncidentState::Open,
            "a capture moves no state"
        );
    }

    #[test]
    fn captures_are_additive_to_the_json_contract() {
        let mut value = serde_json::to_value(opened()).unwrap();
        assert!(value.get("captures").is_none(), "{value}");

        // A record written before captures existed still reads; one with them keeps them.
        let old: Incident = serde_json::from_value(value.clone()).unwrap();
        assert!(old.captures.is_empty());
        value["captures"] = serde_json::json!([{
            "target": {"type": "instance", "id": "i-0abc"},
            "captured_at": "2026-12-03T17:00:00Z",
            "uri": "s3://evidence/incidents/inc-1/i-0abc.json"
        }]);
        let read: Incident = serde_json::from_value(value).unwrap();
        assert_eq!(
            read.captures[0].uri.as_deref(),
            Some("s3://evidence/incidents/inc-1/i-0abc.json")
        );
        assert_eq!(read.captures[0].failed, None);
    }

    #[test]
    fn the_incident_json_has_the_contract_field_names() {
        let value = serde_json::to_value(opened()).unwrap();
        for field in [
            "id",
            "resource",
            "state",
            "opened_at",
            "updated_at",
            "trigger",
            "evidence",
            "actions",
        ] {
            assert!(value.get(field).is_some(), "missing {field}");
        }
        assert_eq!(value["resource"]["type"], "target-group");
        assert_eq!(value["state"], "open");
        assert_eq!(value["evidence"]["targets"], serde_json::json!([]));
    }
}
