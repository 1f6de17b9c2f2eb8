//! People in the loop of one incident: an approval Rebound asks for before an action
//! whose mode is `approve`, the decision a person records on it (`rebound incidents
//! approve` / `deny`), and an acknowledgement (`rebound incidents ack`). Stored on the
//! incident ([`super::IncidentRecord::approval`], `acknowledged`); changed only through
//! the incident's transition function.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ActionKind, PlannedAction, ResourceRef};

/// Where an approval stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApprovalState {
    /// Asked for; no one has decided yet (past `expires_at` it has expired, and the
    /// incident escalated, but a person may still decide).
    Requested,
    /// A person approved: the next check re-reads the resource, runs every guard again,
    /// and acts only if the action is still needed and allowed.
    Approved,
    /// A person denied: no action in this incident.
    Denied,
}

impl ApprovalState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Approved => "approved",
            Self::Denied => "denied",
        }
    }
}

/// One action an approval is for: what it does, to what, through what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalStep {
    pub kind: ActionKind,
    pub target: ResourceRef,
    pub scope: ResourceRef,
}

/// The approval an incident's planned actions wait for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub state: ApprovalState,
    /// The planned actions, as the check that asked planned them.
    pub actions: Vec<ApprovalStep>,
    /// The same as people read it: "replace i-0abc in web-asg".
    pub intent: String,
    pub requested_at: DateTime<Utc>,
    /// No decision by then: the incident escalates (once).
    pub expires_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
    /// Why it was denied (or approved, when the person said).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Approval {
    pub fn requested(
        planned: &[PlannedAction],
        intent: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Self {
        Self {
            state: ApprovalState::Requested,
            actions: planned
                .iter()
                .map(|p| ApprovalStep {
                    kind: p.kind.clone(),
                    target: p.target.clone(),
                    scope: p.scope.clone(),
                })
                .collect(),
            intent: intent.to_owned(),
            requested_at: now,
            expires_at,
            decided_by: None,
            decided_at: None,
            reason: None,
        }
    }

    /// Whether it is for every one of `planned` (the same kind on the same target).
    pub fn covers<'a>(&self, mut planned: impl Iterator<Item = &'a PlannedAction>) -> bool {
        planned.all(|p| {
            self.actions
                .iter()
                .any(|step| step.kind == p.kind && step.target == p.target)
        })
    }

    /// Still undecided past its expiry.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.state == ApprovalState::Requested && now >= self.expires_at
    }

    /// "approved by arn:…:user/ana at 10:20 UTC" / "denied by … : not during the sale".
    pub fn decision_text(&self) -> String {
        let by = self.decided_by.as_deref().unwrap_or("someone");
        let at = self
            .decided_at
            .map(|at| format!(" at {}", at.format("%Y-%m-%d %H:%M UTC")))
            .unwrap_or_default();
        let reason = self
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        format!("{} by {by}{at}{reason}", self.state.as_str())
    }
}

/// A person said "I have this": the incident's later state changes are still announced,
/// once each, but no longer page (their severity is never `critical`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    pub by: String,
    pub at: DateTime<Utc>,
}
