//! The incident record: one per failure of one resource, with its evidence, the
//! actions taken and a timeline. This is the shape `rebound incidents --json` prints
//! and the incidents table stores.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::TargetHealth;
use crate::ids::IncidentId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceKind {
    TargetGroup,
}

impl ResourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TargetGroup => "target-group",
        }
    }
}

/// What an incident is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    /// `SetInstanceHealth(Unhealthy)`: the group replaces the instance itself.
    SetInstanceHealth,
    /// `TerminateInstanceInAutoScalingGroup(ShouldDecrementDesiredCapacity=false)`.
    TerminateInstance,
}

impl ActionKind {
    /// As stored and printed: `set-instance-health`, `terminate-instance`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SetInstanceHealth => "set-instance-health",
            Self::TerminateInstance => "terminate-instance",
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
    /// Dry-run: recorded, never called.
    Simulated,
    /// Not called because a guard that needs the store (the action budget) said no.
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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    pub kind: ActionKind,
    /// The instance acted on.
    pub target: String,
    /// The group that owns it.
    #[serde(default)]
    pub group: String,
    pub requested_at: DateTime<Utc>,
    pub outcome: ActionOutcome,
    pub dry_run: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
}

/// What was observed when the incident was opened and as it moved along.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    #[serde(default)]
    pub targets: Vec<TargetHealth>,
    #[serde(default)]
    pub auto_scaling_groups: Vec<String>,
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
    /// Optimistic-concurrency counter: every stored change bumps it, and a write only
    /// lands on the version it was based on.
    #[serde(default)]
    pub version: u64,
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
            version: 0,
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

    pub fn transition(&mut self, now: DateTime<Utc>, to: IncidentState, why: impl Into<String>) {
        if self.state == to {
            return;
        }
        let why = why.into();
        self.note(now, to.as_str(), why);
        self.state = to;
        if to == IncidentState::Resolved {
            self.resolved_at = Some(now);
            self.time_to_recover_s = Some((now - self.opened_at).num_seconds());
        }
    }

    /// The action already taken (or being taken) on an instance, if any.
    pub fn action_on(&self, instance: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.target == instance)
    }

    pub fn last_action_at(&self) -> Option<DateTime<Utc>> {
        self.actions
            .iter()
            .filter(|a| a.outcome != ActionOutcome::Refused)
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
        );
        assert_eq!(inc.time_to_recover_s, Some(184));
        assert_eq!(inc.timeline.last().unwrap().event, "resolved");
    }

    #[test]
    fn action_names_match_their_stored_form() {
        for kind in [ActionKind::SetInstanceHealth, ActionKind::TerminateInstance] {
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
