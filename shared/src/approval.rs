//! People outrank automation (invariant 16): per action kind, a mode says whether
//! Rebound acts by itself (`auto`), asks a person first (`approve`) or never acts
//! (`never`). The function's `APPROVAL_MODES` sets it per action kind
//! ([`crate::config::Approvals`]); the tag `rebound:approval` on the resource an action
//! counts against (its scope: the Auto Scaling group, the DB instance or cluster, the
//! load balancer) overrides it for that resource.
//!
//! The tag's value: entries separated by spaces (or commas where the service allows
//! them), each `MODE` (every action through this resource) or `ACTION=MODE` (that
//! action kind; it wins over a bare mode), e.g. `approve`, `reboot-with-failover=approve`,
//! `never set-instance-health=approve`. Modes are `auto`, `approve`, `never`. A value
//! with anything else in it is ignored whole with a warning: the function's mode
//! applies. Entries for actions the reading function does not take are left to the
//! functions that do (a group's tag is read by target-health and zone-health).
//!
//! [`gate`] runs last in every kind's decision, after every other guard, so an approval
//! never lets a guard be skipped: an approved action is decided again from a fresh
//! observation by the next check, and taken only if it is still needed and allowed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tracing::warn;

use crate::config::{ApprovalMode, Approvals};
use crate::domain::{
    ActionKind, Approval, ApprovalState, Decision, Effect, Incident, PlannedAction, Refusal,
    ResourceRef, Verdict,
};
use crate::policy::{duration, later};
use crate::readable::{human_duration, short_name};

/// The tag that sets a resource's approval modes.
pub const APPROVAL_TAG: &str = "rebound:approval";

/// What a resource's `rebound:approval` tag says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagModes {
    /// A bare mode: every action through the resource.
    pub every: Option<ApprovalMode>,
    /// `ACTION=MODE` entries.
    pub per_action: BTreeMap<String, ApprovalMode>,
}

impl TagModes {
    /// Parses a tag's value; the error says what is wrong with it.
    pub fn parse(value: &str) -> Result<TagModes, String> {
        let mut modes = TagModes::default();
        let entries: Vec<&str> = value
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|e| !e.is_empty())
            .collect();
        if entries.is_empty() {
            return Err("empty".into());
        }
        for entry in entries {
            let entry = entry.to_ascii_lowercase();
            let (action, mode) = match entry.split_once('=') {
                Some((action, mode)) => (Some(action), mode),
                None => (None, entry.as_str()),
            };
            let mode = ApprovalMode::parse(mode)
                .ok_or_else(|| format!("{mode:?} is not auto, approve or never"))?;
            match action {
                None if modes.every.replace(mode).is_some() => {
                    return Err("more than one bare mode".into())
                }
                None => {}
                Some(action)
                    if action.is_empty()
                        || !action.chars().all(|c| c.is_ascii_lowercase() || c == '-') =>
                {
                    return Err(format!("{action:?} is not an action kind"))
                }
                Some(action) if modes.per_action.insert(action.to_owned(), mode).is_some() => {
                    return Err(format!("{action} is named twice"))
                }
                Some(_) => {}
            }
        }
        Ok(modes)
    }

    /// What the tags of a resource say, if anything valid.
    pub fn of(tags: &BTreeMap<String, String>) -> Option<TagModes> {
        let value = tags.get(APPROVAL_TAG)?;
        match TagModes::parse(value) {
            Ok(modes) => Some(modes),
            Err(err) => {
                warn!(tag = APPROVAL_TAG, value = %value, error = %err, "ignored: expected MODE or ACTION=MODE entries (auto, approve, never), e.g. reboot-with-failover=approve; the function's APPROVAL_MODES applies");
                None
            }
        }
    }

    fn mode(&self, action: &str) -> Option<ApprovalMode> {
        self.per_action.get(action).copied().or(self.every)
    }
}

/// The mode of `planned`, and where it comes from (for the timeline).
pub fn mode_of(
    planned: &PlannedAction,
    approvals: &Approvals,
    tags: Option<&BTreeMap<String, String>>,
) -> (ApprovalMode, String) {
    let tagged = tags
        .and_then(TagModes::of)
        .and_then(|modes| modes.mode(planned.kind.as_str()));
    match tagged {
        Some(mode) => (
            mode,
            format!(
                "the tag {APPROVAL_TAG} on {} {}",
                planned.scope.kind,
                short_name(&planned.scope.id)
            ),
        ),
        None => (approvals.mode(&planned.kind), "APPROVAL_MODES".to_owned()),
    }
}

/// "set-instance-health i-0abc in web-asg".
fn what(planned: &PlannedAction) -> String {
    format!(
        "{} {} in {}",
        planned.kind,
        short_name(&planned.target.id),
        short_name(&planned.scope.id)
    )
}

/// Holds the decision's actions to their modes, after every other guard: `never` ones
/// are refused (escalate), and while any `approve` one lacks an approval the incident
/// awaits it with every action of the decision (one remediation, decided as a whole).
/// A denial on the incident holds it (suppressed, no action) until it recovers or is
/// closed; an approval nobody decided in time escalates. Only the `approvable` action
/// kinds have a mode (the others are always taken: extending or ending what Rebound
/// started); `tags_of` gives the tags of an action's scope, where `rebound:approval` is
/// read.
pub fn gate<'t>(
    decision: &mut Decision,
    incident: Option<&Incident>,
    approvals: &Approvals,
    approvable: &[ActionKind],
    tags_of: impl Fn(&ResourceRef) -> Option<&'t BTreeMap<String, String>>,
    now: DateTime<Utc>,
) {
    if decision.verdict != Verdict::Remediate {
        return;
    }
    let approval = incident.and_then(|i| i.approval.as_ref());
    let mut kept = Vec::new();
    let mut needing = Vec::new();
    for planned in std::mem::take(&mut decision.actions) {
        let (mode, source) = if approvable.contains(&planned.kind) {
            mode_of(&planned, approvals, tags_of(&planned.scope))
        } else {
            // Extending or ending what Rebound started, never held back.
            (ApprovalMode::Auto, String::new())
        };
        match mode {
            ApprovalMode::Auto => kept.push(planned),
            ApprovalMode::Never => decision.refusals.push(never(&planned, &source)),
            ApprovalMode::Approve => {
                needing.push((planned.clone(), source));
                kept.push(planned);
            }
        }
    }
    if let Some(denied) = approval.filter(|a| a.state == ApprovalState::Denied) {
        if !needing.is_empty() {
            decision.refusals.push(denial(denied));
            kept.clear();
        }
    }
    let approved = approval.is_some_and(|a| {
        a.state == ApprovalState::Approved && a.covers(needing.iter().map(|(p, _)| p))
    });
    if needing.is_empty() || approved || kept.is_empty() {
        decision.verdict = Decision::verdict_of(&kept, &decision.refusals);
        decision.actions = kept;
        return;
    }
    let pending = approval.filter(|a| {
        a.state == ApprovalState::Requested && a.covers(needing.iter().map(|(p, _)| p))
    });
    if let Some(expired) = pending.filter(|a| a.is_expired(now)) {
        decision.refusals.push(expiry(expired, incident));
        decision.verdict = Decision::verdict_of(&[], &decision.refusals);
        return;
    }
    let expires_at =
        pending.map_or_else(|| later(now, duration(approvals.timeout)), |a| a.expires_at);
    let asked: Vec<String> = needing
        .iter()
        .map(|(planned, source)| format!("{} (approval mode approve: {source})", what(planned)))
        .collect();
    decision.refusals.push(Refusal::new(
        "approval-required",
        Effect::Hold,
        format!("waiting for a person's approval: {}", asked.join("; ")),
    ));
    decision.waiting_for = Some(format!(
        "a person's approval of {}",
        needing
            .iter()
            .map(|(p, _)| what(p))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    decision.actions = kept;
    decision.verdict = Verdict::AwaitApproval;
    decision.approval_expires_at = Some(expires_at);
}

fn never(planned: &PlannedAction, source: &str) -> Refusal {
    Refusal::new(
        "approval-never",
        Effect::Escalate,
        format!(
            "{} is never done by Rebound here (approval mode never: {source}): a person is needed",
            what(planned)
        ),
    )
}

fn denial(approval: &Approval) -> Refusal {
    Refusal::new(
        "approval-denied",
        Effect::Suppress,
        format!(
            "{} ({}): no action in this incident, held until the resource recovers or a person closes it",
            approval.decision_text(),
            approval.intent
        ),
    )
}

fn expiry(approval: &Approval, incident: Option<&Incident>) -> Refusal {
    let waited = approval
        .expires_at
        .signed_duration_since(approval.requested_at)
        .num_seconds();
    let id = incident.map(|i| i.id.to_string()).unwrap_or_default();
    Refusal::new(
        "approval-expired",
        Effect::Escalate,
        format!(
            "no one approved or denied {} within {}: a person is needed (rebound incidents approve {id} still lets Rebound act)",
            approval.intent,
            human_duration(waited)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(value: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(APPROVAL_TAG.to_owned(), value.to_owned())])
    }

    #[test]
    fn a_tag_sets_every_action_or_one_kind_and_a_kind_wins_over_the_bare_mode() {
        let modes = TagModes::parse("never reboot-with-failover=approve").unwrap();
        assert_eq!(
            modes.mode("reboot-with-failover"),
            Some(ApprovalMode::Approve)
        );
        assert_eq!(modes.mode("failover-db-cluster"), Some(ApprovalMode::Never));
        let modes = TagModes::parse("set-instance-health=approve,terminate-instance=auto").unwrap();
        assert_eq!(
            modes.mode("set-instance-health"),
            Some(ApprovalMode::Approve)
        );
        assert_eq!(modes.mode("start-zonal-shift"), None);
        assert_eq!(
            TagModes::parse(" Approve ").unwrap().every,
            Some(ApprovalMode::Approve)
        );
    }

    #[test]
    fn a_bad_tag_is_ignored_whole_whatever_it_holds() {
        for bad in [
            "",
            "  ",
            "maybe",
            "aprove",
            "approve never",
            "set-instance-health=",
            "=approve",
            "set-instance-health=approve set-instance-health=auto",
            "set_instance_health=approve",
            "approve reboot-with-failover=sometimes",
            "\u{0}\u{ffff}=never",
        ] {
            assert!(TagModes::parse(bad).is_err(), "{bad:?}");
            assert_eq!(TagModes::of(&tags(bad)), None, "{bad:?}");
        }
    }
}
