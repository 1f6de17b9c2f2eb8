//! What a check decides about one resource: a verdict for its incident, the actions to
//! take, and why anything was not done. A kind's pure decision produces it; the
//! incident's lifecycle ([`super::Change::Decided`]) and the workflow consume it without
//! knowing which kind decided.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ActionKind, ResourceRef};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Nothing wrong, nothing open.
    Healthy,
    /// Nothing failing any more, but recovery is not yet verified (a replacement is
    /// still launching, registering or passing its first health checks).
    Recovering,
    /// The open incident's resource verifiably serves again: close it.
    Resolve,
    Remediate,
    Hold,
    Escalate,
    /// Held for a reason outside the resource (a database it depends on is healing):
    /// the incident is suppressed until the hold lifts.
    Suppress,
    /// Something outside Rebound is already remediating (RDS failing over by itself):
    /// the incident follows it as remediating, and nothing is called.
    Underway,
    /// The resource no longer exists; its incident, if any, is closed.
    Gone,
    /// The actions a check would take need a person's approval first (their mode is
    /// `approve`): the incident awaits it with the actions recorded, and nothing is
    /// called.
    AwaitApproval,
}

/// What a refusal does to the incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Not now: a guard that lifts by itself (a cooldown, a group that cannot heal yet).
    Hold,
    /// The expected echo of a duplicate delivery or of an action under way: not even
    /// worth a timeline entry.
    Echo,
    /// Held for a reason outside the resource: the incident is suppressed.
    Suppress,
    /// A person is needed: the incident escalates.
    Escalate,
}

/// Why an action was not taken, or why nothing was. Each kind names its own guards; the
/// name is stable (logs, metrics, the `refusals` of a check's report) and the detail is
/// what people read on the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub guard: &'static str,
    #[serde(skip)]
    pub effect: Effect,
    pub detail: String,
}

impl Refusal {
    pub fn new(guard: &'static str, effect: Effect, detail: impl Into<String>) -> Self {
        Self {
            guard,
            effect,
            detail: detail.into(),
        }
    }

    /// What needs a person rather than another try.
    pub fn escalates(&self) -> bool {
        self.effect == Effect::Escalate
    }

    /// What holds the resource back for a reason outside it.
    pub fn suppresses(&self) -> bool {
        self.effect == Effect::Suppress
    }

    /// Not worth a timeline entry.
    pub fn is_echo(&self) -> bool {
        self.effect == Effect::Echo
    }

    /// Whether this is the refusal of the guard named `guard`.
    pub fn is(&self, guard: &str) -> bool {
        self.guard == guard
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

/// The replacement-loop rule an action carries: this many actions through its scope on
/// the same configuration within the window mean acting again will not fix it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepeatLimit {
    pub window: Duration,
    pub limit: u32,
}

/// An action the policy chose; the workflow writes it ahead, then makes the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedAction {
    pub kind: ActionKind,
    /// What the action is done to.
    pub target: ResourceRef,
    /// What carries it out and whose ledger it counts against.
    pub scope: ResourceRef,
    /// What new capacity launches from (e.g. `lt-0abc version 7`), for the loop guard.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration: Option<String>,
    /// How long after this action the scope is left alone.
    #[serde(skip)]
    pub cooldown: Duration,
    /// The loop rule, for actions that can keep failing on the same configuration.
    #[serde(skip)]
    pub repeat_limit: Option<RepeatLimit>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub verdict: Verdict,
    pub actions: Vec<PlannedAction>,
    pub refusals: Vec<Refusal>,
    /// One line for the timeline, e.g. "1 of 4 targets unhealthy".
    pub summary: String,
    /// While recovering: what recovery still waits for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
    /// Calls that keep a hold safe or undo what one did (suspend a group's own
    /// replacement while its instances are held, resume it after), whatever the verdict:
    /// recorded on the incident and made like any action, never a remediation (the
    /// incident stays where the verdict puts it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub upkeep: Vec<PlannedAction>,
    /// While awaiting approval: when the approval expires (and the incident escalates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The resource's own healer is at work on what the incident is about (its group
    /// replacing the instance, RDS failing over by itself): the incident records it once,
    /// Rebound does not act on it, and recovery is verified as after its own action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub native_healing: Option<NativeHealing>,
    /// Work AWS announced ahead of time on the resource (an instance's scheduled
    /// retirement, a database's maintenance), which the incident is about: recorded on
    /// the incident, so it reads as planned rather than broken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub planned: Option<PlannedWork>,
}

/// Work announced ahead of time, as the incident records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedWork {
    /// What was announced: the AWS Health event type, e.g.
    /// `AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED`.
    pub event: String,
    /// When the work starts: what Rebound acts ahead of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<chrono::DateTime<chrono::Utc>>,
    /// What it concerns and what Rebound does about it, e.g. "i-0abc in web: replaced
    /// ahead of it".
    pub detail: String,
}

/// What the resource's own healer did, as the incident records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NativeHealing {
    /// How people read it, e.g. "healed by Auto Scaling", "failed over by RDS".
    pub by: &'static str,
    /// What was seen, e.g. "i-0abc is Terminating/Unhealthy in web".
    pub detail: String,
}

impl PlannedWork {
    /// One line for people: "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED, starting 2026-12-05
    /// 02:00 UTC: i-0abc to be replaced ahead of it".
    pub fn line(&self) -> String {
        let starts = self
            .starts_at
            .map(|at| format!(", starting {}", at.format("%Y-%m-%d %H:%M UTC")))
            .unwrap_or_default();
        format!("{}{starts}: {}", self.event, self.detail)
    }
}

impl Decision {
    /// The verdict that follows from the chosen actions and the refusals.
    pub fn from_guards(
        actions: Vec<PlannedAction>,
        refusals: Vec<Refusal>,
        summary: String,
    ) -> Self {
        Self {
            verdict: Self::verdict_of(&actions, &refusals),
            actions,
            refusals,
            summary,
            waiting_for: None,
            upkeep: vec![],
            approval_expires_at: None,
            native_healing: None,
            planned: None,
        }
    }

    /// What chosen actions and refusals come to: act if anything is left to do, else
    /// the strongest refusal's effect.
    pub fn verdict_of(actions: &[PlannedAction], refusals: &[Refusal]) -> Verdict {
        if !actions.is_empty() {
            Verdict::Remediate
        } else if refusals.iter().any(Refusal::escalates) {
            Verdict::Escalate
        } else if refusals.iter().any(Refusal::suppresses) {
            Verdict::Suppress
        } else {
            Verdict::Hold
        }
    }

    pub fn plain(verdict: Verdict, summary: String) -> Self {
        Self {
            verdict,
            actions: vec![],
            refusals: vec![],
            summary,
            waiting_for: None,
            upkeep: vec![],
            approval_expires_at: None,
            native_healing: None,
            planned: None,
        }
    }

    /// Recovering, waiting for `why`.
    pub fn waiting(why: String, summary: String) -> Self {
        Self {
            waiting_for: Some(why),
            ..Self::plain(Verdict::Recovering, summary)
        }
    }
}
