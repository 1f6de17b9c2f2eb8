//! The incident record: one per failure of one resource, with its evidence, the
//! actions taken and a timeline. This is the shape `rebound incidents --json` prints
//! and the incidents table stores.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{DatabaseEvidence, TargetHealth};
use crate::ids::IncidentId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceKind {
    TargetGroup,
    AutoScalingGroup,
    Instance,
    /// An RDS DB instance: what rds-health watches, and the scope of a failover's
    /// cooldown.
    DbInstance,
    /// An Aurora or Multi-AZ DB cluster: what FailoverDBCluster acts on.
    DbCluster,
    /// The whole account: the scope of the action budget.
    Account,
}

impl ResourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TargetGroup => "target-group",
            Self::AutoScalingGroup => "auto-scaling-group",
            Self::Instance => "instance",
            Self::DbInstance => "db-instance",
            Self::DbCluster => "db-cluster",
            Self::Account => "account",
        }
    }
}

/// What an incident is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceRef {
    #[serde(rename = "type")]
    pub kind: ResourceKind,
    pub id: String,
}

impl ResourceRef {
    pub fn target_group(arn: &crate::ids::TargetGroupArn) -> Self {
        Self {
            kind: ResourceKind::TargetGroup,
            id: arn.to_string(),
        }
    }

    pub fn auto_scaling_group(name: &crate::ids::AutoScalingGroupName) -> Self {
        Self {
            kind: ResourceKind::AutoScalingGroup,
            id: name.to_string(),
        }
    }

    pub fn instance(id: &crate::ids::InstanceId) -> Self {
        Self {
            kind: ResourceKind::Instance,
            id: id.to_string(),
        }
    }

    pub fn db_instance(id: &crate::ids::DbInstanceId) -> Self {
        Self {
            kind: ResourceKind::DbInstance,
            id: id.to_string(),
        }
    }

    pub fn db_cluster(id: &crate::ids::DbClusterId) -> Self {
        Self {
            kind: ResourceKind::DbCluster,
            id: id.to_string(),
        }
    }

    /// The key of the per-resource record that guards "one open incident".
    pub fn key(&self) -> String {
        format!("{}#{}", self.kind.as_str(), self.id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentState {
    Open,
    Remediating,
    Resolved,
    Escalated,
    Suppressed,
}

impl IncidentState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Remediating => "remediating",
            Self::Resolved => "resolved",
            Self::Escalated => "escalated",
            Self::Suppressed => "suppressed",
        }
    }

    pub fn is_closed(self) -> bool {
        self == Self::Resolved
    }

    /// The lifecycle's legal moves. A resolved incident is final: a later failure of the
    /// same resource opens a new one, so each record tells one story.
    pub fn can_move_to(self, to: Self) -> bool {
        use IncidentState::*;
        match (self, to) {
            (Resolved, _) => false,
            (_, Open) => matches!(self, Suppressed),
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    /// `SetInstanceHealth(Unhealthy)`: the group replaces the instance itself.
    SetInstanceHealth,
    /// `TerminateInstanceInAutoScalingGroup(ShouldDecrementDesiredCapacity=false)`.
    TerminateInstance,
    /// `RebootDBInstance(ForceFailover=true)`: the Multi-AZ standby becomes the primary.
    RebootWithFailover,
    /// `FailoverDBCluster`: a reader of an Aurora or Multi-AZ DB cluster becomes the
    /// writer.
    FailoverDbCluster,
}

impl ActionKind {
    /// As stored and printed: `set-instance-health`, `terminate-instance`,
    /// `reboot-with-failover`, `failover-db-cluster`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SetInstanceHealth => "set-instance-health",
            Self::TerminateInstance => "terminate-instance",
            Self::RebootWithFailover => "reboot-with-failover",
            Self::FailoverDbCluster => "failover-db-cluster",
        }
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_template: Option<String>,
}

/// Actions as stored before they named their target and scope by type: a bare instance
/// id and group name.
mod legacy {
    use serde::{Deserialize, Deserializer};

    use super::{ResourceKind, ResourceRef};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum RefOrId {
        Ref(ResourceRef),
        Id(String),
    }

    fn read<'de, D: Deserializer<'de>>(
        deserializer: D,
        kind: ResourceKind,
    ) -> Result<ResourceRef, D::Error> {
        Ok(match RefOrId::deserialize(deserializer)? {
            RefOrId::Ref(reference) => reference,
            RefOrId::Id(id) => ResourceRef { kind, id },
        })
    }

    pub fn instance_or_ref<'de, D: Deserializer<'de>>(d: D) -> Result<ResourceRef, D::Error> {
        read(d, ResourceKind::Instance)
    }

    pub fn group_or_ref<'de, D: Deserializer<'de>>(d: D) -> Result<ResourceRef, D::Error> {
        read(d, ResourceKind::AutoScalingGroup)
    }
}

/// What was observed when the incident was opened and as it moved along.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    #[serde(default)]
    pub targets: Vec<TargetHealth>,
    #[serde(default)]
    pub auto_scaling_groups: Vec<String>,
    /// A database incident's: the instance as observed, where primary and standby were
    /// before and after the failover, and the RDS events seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseEvidence>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub event: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub id: IncidentId,
    pub resource: ResourceRef,
    pub state: IncidentState,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub trigger: String,
    pub evidence: Evidence,
    #[serde(default)]
    pub actions: Vec<Action>,
    #[serde(default)]
    pub timeline: Vec<TimelineEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_recover_s: Option<i64>,
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
}

impl Incident {
    pub fn open(
        resource: ResourceRef,
        trigger: impl Into<String>,
        evidence: Evidence,
        summary: impl Into<String>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: IncidentId::generate(now),
            resource,
            state: IncidentState::Open,
            opened_at: now,
            updated_at: now,
            trigger: trigger.into(),
            evidence,
            actions: Vec::new(),
            timeline: vec![TimelineEntry {
                at: now,
                event: "opened".into(),
                detail: summary.into(),
            }],
            resolved_at: None,
            time_to_recover_s: None,
            rto_s: None,
            version: 0,
            written_by: None,
            drill: None,
        }
    }

    pub fn note(&mut self, now: DateTime<Utc>, event: &str, detail: impl Into<String>) {
        self.timeline.push(TimelineEntry {
            at: now,
            event: event.to_owned(),
            detail: detail.into(),
        });
        self.updated_at = now;
    }

    /// Adds a timeline entry unless the last one already says the same, so a storm of
    /// identical events does not grow the record.
    pub fn note_once(&mut self, now: DateTime<Utc>, event: &str, detail: &str) -> bool {
        let repeated = self
            .timeline
            .last()
            .is_some_and(|last| last.event == event && last.detail == detail);
        if !repeated {
            self.note(now, event, detail);
        }
        !repeated
    }

    /// Moves the incident along its lifecycle and says why on the timeline. Staying in
    /// the same state is no change (`Ok(false)`); a move the lifecycle forbids is refused
    /// and changes nothing.
    pub fn transition(
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
        self.state = to;
        if to == IncidentState::Resolved {
            self.resolved_at = Some(now);
            self.time_to_recover_s = Some((now - self.opened_at).num_seconds());
        }
        Ok(true)
    }

    /// Closes an incident whose resource no longer exists: resolved, but not recovered,
    /// so it has no time to recover.
    pub fn close_gone(
        &mut self,
        now: DateTime<Utc>,
        why: impl Into<String>,
    ) -> Result<bool, IllegalTransition> {
        let moved = self.transition(now, IncidentState::Resolved, why)?;
        self.time_to_recover_s = None;
        Ok(moved)
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn incident(now: DateTime<Utc>) -> Incident {
        Incident::open(
            ResourceRef {
                kind: ResourceKind::TargetGroup,
                id: "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/a/b".into(),
            },
            "alarm:x",
            Evidence::default(),
            "1 of 4 targets unhealthy",
            now,
        )
    }

    #[test]
    fn resolving_records_when_and_how_long_recovery_took() {
        let opened = Utc::now();
        let mut inc = incident(opened);
        inc.transition(
            opened + chrono::Duration::seconds(184),
            IncidentState::Resolved,
            "all targets healthy",
        )
        .unwrap();
        assert_eq!(inc.time_to_recover_s, Some(184));
        assert_eq!(inc.timeline.last().unwrap().event, "resolved");
    }

    #[test]
    fn action_names_match_their_stored_form() {
        for kind in [
            ActionKind::SetInstanceHealth,
            ActionKind::TerminateInstance,
            ActionKind::RebootWithFailover,
            ActionKind::FailoverDbCluster,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        for outcome in [
            ActionOutcome::Pending,
            ActionOutcome::Succeeded,
            ActionOutcome::Failed,
            ActionOutcome::Simulated,
            ActionOutcome::Refused,
        ] {
            assert_eq!(serde_json::to_value(outcome).unwrap(), outcome.as_str());
        }
        for kind in [
            ResourceKind::TargetGroup,
            ResourceKind::AutoScalingGroup,
            ResourceKind::Instance,
            ResourceKind::DbInstance,
            ResourceKind::DbCluster,
            ResourceKind::Account,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }

    #[test]
    fn the_lifecycle_allows_its_moves_and_refuses_the_rest() {
        use IncidentState::*;
        let all = [Open, Remediating, Resolved, Escalated, Suppressed];
        let allowed = [
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
    fn a_refused_move_changes_nothing_and_a_repeated_one_is_no_change() {
        let now = Utc::now();
        let mut inc = incident(now);
        assert_eq!(inc.transition(now, IncidentState::Open, "again"), Ok(false));
        inc.transition(now, IncidentState::Resolved, "ok").unwrap();
        let before = inc.clone();
        let err = inc
            .transition(now, IncidentState::Escalated, "late")
            .unwrap_err();
        assert_eq!(err.from, IncidentState::Resolved);
        assert_eq!(inc, before);
    }

    #[test]
    fn an_incident_closed_because_its_resource_is_gone_has_no_time_to_recover() {
        let now = Utc::now();
        let mut inc = incident(now);
        inc.close_gone(now, "target group deleted").unwrap();
        assert_eq!(inc.state, IncidentState::Resolved);
        assert_eq!(inc.time_to_recover_s, None);
    }

    #[test]
    fn an_action_stored_before_targets_were_typed_still_reads() {
        let old = serde_json::json!({
            "kind": "set-instance-health", "target": "i-0abc", "group": "web",
            "requested_at": "2026-11-26T10:00:00Z", "outcome": "succeeded", "dry_run": false
        });
        let action: Action = serde_json::from_value(old).unwrap();
        assert_eq!(action.target.kind, ResourceKind::Instance);
        assert_eq!(action.target.id, "i-0abc");
        assert_eq!(action.scope.kind, ResourceKind::AutoScalingGroup);
        assert_eq!(action.scope.id, "web");
    }

    #[test]
    fn a_repeated_note_is_kept_once() {
        let now = Utc::now();
        let mut inc = incident(now);
        assert!(inc.note_once(now, "held", "cooldown"));
        assert!(!inc.note_once(now, "held", "cooldown"));
        assert_eq!(inc.timeline.len(), 2);
    }

    #[test]
    fn the_incident_json_has_the_contract_field_names() {
        let value = serde_json::to_value(incident(Utc::now())).unwrap();
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
    }
}
