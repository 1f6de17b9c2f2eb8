//! What every kind's decision shares, as pure functions of (observed state, incident
//! history, ledgers, settings, now): the history a decision reads, the guards that
//! count past actions (cooldown, replacement loop, the account's rolling-hour budget),
//! the recovery objective and the recovery timeout. Each kind's own guards live with the
//! kind (`kinds::*::policy`); every guard is a unit test without I/O.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use crate::config::Settings;
use crate::domain::{
    account_scope, Decision, Effect, Incident, Ledger, PlannedAction, Refusal, ResourceRef, Verdict,
};

/// What happened to this resource and the scopes it could be acted through before.
#[derive(Debug, Clone, Copy)]
pub struct History<'a> {
    pub incident: Option<&'a Incident>,
    /// Ledgers of the scopes candidate actions count against, and the account's.
    pub ledgers: &'a BTreeMap<ResourceRef, Ledger>,
}

impl History<'_> {
    pub fn ledger(&self, scope: &ResourceRef) -> Option<&Ledger> {
        self.ledgers.get(scope)
    }
}

/// A standard duration as a chrono one; one too long to represent is as good as
/// forever.
pub fn duration(std: std::time::Duration) -> Duration {
    Duration::from_std(std).unwrap_or(Duration::MAX)
}

/// `at + span`, or the end of time when that is past what a date can hold.
pub fn later(at: DateTime<Utc>, span: Duration) -> DateTime<Utc> {
    at.checked_add_signed(span)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `at - span`, or the start of time.
pub fn earlier(at: DateTime<Utc>, span: Duration) -> DateTime<Utc> {
    at.checked_sub_signed(span)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The guards every action passes whatever the resource kind, checked against the
/// scope's and the account's ledgers (and the actions already picked in this decision)
/// before anything is written ahead.
pub fn ledger_guards(
    planned: &PlannedAction,
    history: History<'_>,
    picked: &[PlannedAction],
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    if let Some(ledger) = history.ledger(&planned.scope) {
        if let (Some(configuration), Some(rule)) = (&planned.configuration, planned.repeat_limit) {
            let same: Vec<_> = ledger
                .within(duration(rule.window), now)
                .filter(|e| e.configuration.as_ref() == Some(configuration))
                .collect();
            if same.len() >= rule.limit as usize {
                let first = same.iter().map(|e| e.at).min().unwrap_or(now);
                return Err(replacements_not_working(
                    &planned.scope.id,
                    same.len(),
                    now.signed_duration_since(first).num_minutes().max(1),
                    configuration,
                ));
            }
        }
        if let Some(last) = ledger.last_action_at() {
            let until = later(last, duration(planned.cooldown));
            if now < until {
                return Err(cooldown(&planned.scope.id, until));
            }
        }
    }
    let spent = history
        .ledger(&account_scope())
        .map(|ledger| ledger.within(Duration::hours(1), now).count())
        .unwrap_or(0);
    if spent.saturating_add(picked.len()) >= settings.action_budget_per_hour as usize {
        return Err(budget_exhausted(settings.action_budget_per_hour));
    }
    Ok(())
}

pub fn cooldown(scope: &str, until: DateTime<Utc>) -> Refusal {
    Refusal::new(
        "cooldown",
        Effect::Hold,
        format!("{scope} in cooldown until {}", until.to_rfc3339()),
    )
}

pub fn budget_exhausted(per_hour: u32) -> Refusal {
    Refusal::new(
        "budget-exhausted",
        Effect::Escalate,
        format!("account-wide action budget of {per_hour} per rolling hour is used up"),
    )
}

/// How the loop guard's refusal starts: the incident's timeline keeps it, and it is how
/// a later check knows the guard stopped replacements in this incident.
const NOT_WORKING: &str = "replacements are not fixing this";

/// Replacing is not fixing it: the same configuration keeps producing failures.
pub fn replacements_not_working(
    group: &str,
    replacements: usize,
    window_minutes: i64,
    configuration: &str,
) -> Refusal {
    Refusal::new(
        "replacements-not-working",
        Effect::Escalate,
        format!(
            "{NOT_WORKING}: group {group}, {configuration}, {replacements} replacements in {window_minutes} minutes and instances keep failing"
        ),
    )
}

/// The loop guard stopped replacements in this incident: it stays stopped (it does not
/// re-arm when the window has passed) until the incident resolves — a replacement
/// verifiably succeeded — or a person closes it (invariant 11).
pub fn stopped_by_loop_guard(incident: &Incident) -> Option<Refusal> {
    incident
        .timeline
        .iter()
        .any(|entry| entry.detail.contains(NOT_WORKING))
        .then(|| {
            Refusal::new(
                "replacements-not-working",
                Effect::Escalate,
                format!("{NOT_WORKING}: replacements stay stopped in this incident until one verifiably succeeds or a person closes it (rebound incidents close)"),
            )
        })
}

/// Not verified recovered within the recovery objective or the recovery timeout.
pub fn not_recovered(minutes: i64, why: &str) -> Refusal {
    Refusal::new(
        "not-recovered",
        Effect::Escalate,
        format!("not recovered within {minutes} minutes: {why}"),
    )
}

/// The tag that sets a resource's recovery-time objective, in seconds.
pub const RTO_TAG: &str = "rebound:rto-seconds";

/// The shortest and longest recovery-time objective a tag may set.
pub const RTO_RANGE: std::ops::RangeInclusive<u64> = 60..=7 * 86_400;

/// A resource's recovery-time objective from its tags: a whole number of seconds from a
/// minute to seven days. Anything else is ignored with a warning (the kind's default
/// applies): a tag is people's input, never a reason to fail.
pub fn rto_from_tags(tags: &BTreeMap<String, String>) -> Option<u64> {
    let value = tags.get(RTO_TAG)?;
    match value.trim().parse::<u64>() {
        Ok(seconds) if RTO_RANGE.contains(&seconds) => Some(seconds),
        _ => {
            tracing::warn!(tag = RTO_TAG, value = %value, "ignored: expected whole seconds from 60 to 604800");
            None
        }
    }
}

/// Which limit recovery has passed, in minutes: the incident's recovery-time objective
/// since detection, or the recovery timeout since the last action (or detection when
/// nothing was done). `None` while within both.
pub fn recovery_limit_missed(
    incident: &Incident,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Option<i64> {
    if let Some(rto) = incident.rto_s {
        let rto = i64::try_from(rto)
            .ok()
            .and_then(Duration::try_seconds)
            .unwrap_or(Duration::MAX);
        if now >= later(incident.opened_at, rto) {
            return Some(rto.num_minutes().max(1));
        }
    }
    let since = incident.last_action_at().unwrap_or(incident.opened_at);
    let timeout = duration(settings.recovery_timeout);
    (now >= later(since, timeout)).then(|| timeout.num_minutes())
}

/// Recovery objectives hold for every incident (invariant 13): one held, suppressed or
/// still open, or one following a remediation it did not start, that passes its
/// objective escalates once, whatever holds it. An incident whose impact was mitigated
/// (a zone's traffic shifted away) met its objective; one a kind decided to act on,
/// resolve or escalate is the kind's to judge.
pub fn hold_within_objective(decision: &mut Decision, incident: &Incident, now: DateTime<Utc>) {
    let waiting = matches!(
        decision.verdict,
        Verdict::Hold
            | Verdict::Suppress
            | Verdict::Underway
            | Verdict::Recovering
            | Verdict::AwaitApproval
    );
    if !waiting || incident.mitigated_at.is_some() {
        return;
    }
    let Some(rto) = incident.rto_s else {
        return;
    };
    let rto = i64::try_from(rto)
        .ok()
        .and_then(Duration::try_seconds)
        .unwrap_or(Duration::MAX);
    if now < later(incident.opened_at, rto) {
        return;
    }
    let why = decision
        .refusals
        .iter()
        .find(|r| !r.is_echo())
        .map(|r| r.detail.clone())
        .or_else(|| decision.waiting_for.clone())
        .unwrap_or_else(|| decision.summary.clone());
    decision.verdict = Verdict::Escalate;
    decision.refusals.push(not_recovered(
        rto.num_minutes().max(1),
        &format!("past its recovery objective ({why})"),
    ));
}

/// Recovery has taken longer than allowed (see [`recovery_limit_missed`]).
pub fn recovery_overdue(incident: &Incident, settings: &Settings, now: DateTime<Utc>) -> bool {
    recovery_limit_missed(incident, settings, now).is_some()
}

/// The not-recovered refusal for an incident past its limit, if it is.
pub fn overdue(
    incident: &Incident,
    settings: &Settings,
    now: DateTime<Utc>,
    why: &str,
) -> Option<Refusal> {
    recovery_limit_missed(incident, settings, now).map(|minutes| not_recovered(minutes, why))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_rto_tag_out_of_range_or_malformed_is_ignored() {
        let tags = |value: &str| BTreeMap::from([(RTO_TAG.to_owned(), value.to_owned())]);
        assert_eq!(rto_from_tags(&tags("600")), Some(600));
        assert_eq!(rto_from_tags(&tags(" 60 ")), Some(60));
        assert_eq!(rto_from_tags(&tags("604800")), Some(604_800));
        for bad in ["59", "604801", "99999999999999999", "-5", "1e3", "", "ten"] {
            assert_eq!(rto_from_tags(&tags(bad)), None, "{bad}");
        }
    }

    fn held_for(minutes: i64, rto_s: Option<u64>) -> (Incident, DateTime<Utc>) {
        let opened = Utc::now();
        let incident = Incident::open(
            crate::domain::Opening {
                resource: ResourceRef::new(
                    crate::domain::ResourceType::named("target-group"),
                    "tg",
                ),
                trigger: "sweep".into(),
                evidence: crate::domain::Evidence::default(),
                summary: "1 of 4 targets unhealthy".into(),
                rto_s,
                drill: None,
            },
            opened,
        );
        (incident, opened + Duration::minutes(minutes))
    }

    fn held(verdict: Verdict) -> Decision {
        let mut decision = Decision::from_guards(
            vec![],
            vec![Refusal::new(
                "dependency-held",
                Effect::Suppress,
                "db healing",
            )],
            "1 of 4".into(),
        );
        decision.verdict = verdict;
        decision
    }

    #[test]
    fn held_suppressed_and_open_incidents_escalate_once_past_their_objective() {
        for verdict in [
            Verdict::Hold,
            Verdict::Suppress,
            Verdict::Underway,
            Verdict::Recovering,
        ] {
            let (incident, now) = held_for(16, Some(900));
            let mut decision = held(verdict);
            hold_within_objective(&mut decision, &incident, now);
            assert_eq!(decision.verdict, Verdict::Escalate, "{verdict:?}");
            let last = decision.refusals.last().unwrap();
            assert_eq!(last.guard, "not-recovered");
            assert!(last.detail.contains("db healing"), "{}", last.detail);
        }
    }

    #[test]
    fn within_the_objective_mitigated_or_decided_otherwise_nothing_changes() {
        let (incident, now) = held_for(14, Some(900));
        let mut decision = held(Verdict::Suppress);
        hold_within_objective(&mut decision, &incident, now);
        assert_eq!(decision.verdict, Verdict::Suppress);
        let (incident, now) = held_for(16, Some(900));
        for verdict in [Verdict::Remediate, Verdict::Resolve, Verdict::Escalate] {
            let mut decision = held(verdict);
            hold_within_objective(&mut decision, &incident, now);
            assert_eq!(decision.verdict, verdict);
        }
        let mitigated = incident.stored_with(|r| r.mitigated_at = Some(now));
        let mut decision = held(Verdict::Recovering);
        hold_within_objective(&mut decision, &mitigated, now);
        assert_eq!(decision.verdict, Verdict::Recovering);
        let (no_objective, now) = held_for(10_000, None);
        let mut decision = held(Verdict::Hold);
        hold_within_objective(&mut decision, &no_objective, now);
        assert_eq!(decision.verdict, Verdict::Hold);
    }

    #[test]
    fn time_arithmetic_at_the_ends_of_time_saturates() {
        assert_eq!(
            later(DateTime::<Utc>::MAX_UTC, Duration::MAX),
            DateTime::<Utc>::MAX_UTC
        );
        assert_eq!(
            earlier(DateTime::<Utc>::MIN_UTC, Duration::MAX),
            DateTime::<Utc>::MIN_UTC
        );
    }
}
