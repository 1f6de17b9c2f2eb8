//! The action ledger of one scope: recent actions on an Auto Scaling group (cooldown,
//! one action per instance, in-flight replacements, replacement loops) or on the whole
//! account (the rolling-hour budget). Every write-ahead updates the ledgers it counts
//! against in the same conditional transaction, so concurrent deliveries for different
//! target groups of one group cannot both act.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{ResourceRef, ResourceType};
use crate::ids::IncidentId;

/// How long entries are kept: longer than any window a guard looks at.
pub const LEDGER_RETENTION: Duration = Duration::hours(24);

/// Entries kept at most, newest last: at least the largest rolling-hour budget the
/// configuration accepts (ACTION_BUDGET_PER_HOUR up to 1,000), so the account's ledger
/// counts every action of the hour, whatever the budget (a thousand entries stay far
/// below DynamoDB's 400 KB item).
pub const LEDGER_MAX_ENTRIES: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub at: DateTime<Utc>,
    /// The resource acted on (empty in the account ledger's view is never the case:
    /// every entry names its target).
    pub target: String,
    pub incident: IncidentId,
    /// What the action's new capacity launches from (the loop guard's key).
    #[serde(
        rename = "launch_template",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub configuration: Option<String>,
}

/// The whole account: the scope of the action budget.
pub const ACCOUNT: ResourceType = ResourceType::named("account");

/// The account-wide ledger's scope: the rolling-hour action budget.
pub fn account_scope() -> ResourceRef {
    ResourceRef::new(ACCOUNT, "account")
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    #[serde(default)]
    pub entries: Vec<LedgerEntry>,
    /// Optimistic-concurrency counter; 0 = never written.
    #[serde(default)]
    pub version: u64,
}

impl Ledger {
    pub fn last_action_at(&self) -> Option<DateTime<Utc>> {
        self.entries.iter().map(|e| e.at).max()
    }

    /// Entries newer than `window` before `now` (every entry when that is before the
    /// first instant a date can hold).
    pub fn within(
        &self,
        window: Duration,
        now: DateTime<Utc>,
    ) -> impl Iterator<Item = &LedgerEntry> {
        let since = now.checked_sub_signed(window);
        self.entries
            .iter()
            .filter(move |e| since.is_none_or(|since| e.at > since))
    }

    pub fn acted_on(
        &self,
        target: &str,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Option<&LedgerEntry> {
        self.within(window, now)
            .filter(|e| e.target == target)
            .last()
    }

    /// Appends an entry and forgets what no guard will look at again.
    pub fn record(&mut self, entry: LedgerEntry) {
        if let Some(horizon) = entry.at.checked_sub_signed(LEDGER_RETENTION) {
            self.entries.retain(|e| e.at > horizon);
        }
        self.entries.push(entry);
        let excess = self.entries.len().saturating_sub(LEDGER_MAX_ENTRIES);
        self.entries.drain(..excess);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at: DateTime<Utc>, target: &str) -> LedgerEntry {
        LedgerEntry {
            at,
            target: target.into(),
            incident: IncidentId::parse("inc-1").unwrap(),
            configuration: None,
        }
    }

    #[test]
    fn the_window_is_rolling_not_a_calendar_hour() {
        let now = Utc::now();
        let mut ledger = Ledger::default();
        ledger.record(entry(now - Duration::minutes(61), "i-1"));
        ledger.record(entry(now - Duration::minutes(59), "i-2"));
        ledger.record(entry(now - Duration::minutes(1), "i-3"));
        assert_eq!(ledger.within(Duration::hours(1), now).count(), 2);
    }

    #[test]
    fn the_ledger_holds_every_action_of_the_hour_the_largest_budget_allows() {
        let max_budget = match crate::config::ACTION_BUDGET_PER_HOUR.shape {
            crate::config::Shape::Number { max, .. } => max as usize,
            _ => unreachable!("a number"),
        };
        let now = Utc::now();
        let mut ledger = Ledger::default();
        for n in 0..max_budget + 5 {
            let at = now - Duration::seconds(3000) + Duration::seconds(2 * n as i64);
            ledger.record(entry(at, "i-1"));
        }
        assert!(ledger.within(Duration::hours(1), now).count() >= max_budget);
    }

    #[test]
    fn old_entries_are_forgotten_when_a_new_one_is_recorded() {
        let now = Utc::now();
        let mut ledger = Ledger::default();
        ledger.record(entry(now - Duration::hours(25), "i-1"));
        ledger.record(entry(now, "i-2"));
        assert_eq!(ledger.entries.len(), 1);
        assert_eq!(ledger.last_action_at(), Some(now));
        assert!(ledger.acted_on("i-2", Duration::hours(1), now).is_some());
        assert!(ledger.acted_on("i-1", Duration::hours(48), now).is_none());
    }

    /// Found by `properties::tags`: a clock reading (or an entry) within a day of the
    /// first instant a date can hold panicked (`DateTime - TimeDelta` overflowed).
    #[test]
    fn a_window_or_a_retention_reaching_before_the_first_date_counts_and_keeps_everything() {
        let first = DateTime::<Utc>::MIN_UTC;
        let mut ledger = Ledger::default();
        ledger.record(entry(first, "i-1"));
        ledger.record(entry(first + Duration::minutes(1), "i-2"));
        assert_eq!(ledger.entries.len(), 2);
        assert_eq!(ledger.within(Duration::hours(1), first).count(), 2);
        assert_eq!(ledger.within(Duration::MAX, Utc::now()).count(), 2);
        assert!(ledger.acted_on("i-2", Duration::hours(1), first).is_some());
    }
}
