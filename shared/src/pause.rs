//! People saying "not now": a pause and a maintenance window, both tags on the resource
//! Rebound would act on (an Auto Scaling group, a DB instance or cluster, a load
//! balancer), read with the tags every kind already observes, so they cost no call.
//!
//! - `rebound:paused-until` (an RFC 3339 time, e.g. `2026-12-03T18:00:00Z`), with
//!   `rebound:paused-by` and `rebound:pause-reason` when `rebound pause` wrote it: until
//!   then the resource is observed and its incidents recorded, `suppressed` with the
//!   pause's reason, and nothing is called. It expires by itself.
//! - `rebound:maintenance-window` (a weekly window in UTC, RDS's format
//!   `ddd:hh24:mi-ddd:hh24:mi`, e.g. `sun:02:00-sun:04:00`): actions are held while the
//!   window is on.
//!
//! A malformed value is ignored with a warning (the resource is not paused): a tag must
//! never stop Rebound, and a typo must not silently pause it for good either — the
//! warning names the tag and the value.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Timelike, Utc};
use tracing::warn;

use crate::domain::{Effect, Refusal};

pub const PAUSED_UNTIL_TAG: &str = "rebound:paused-until";
pub const PAUSED_BY_TAG: &str = "rebound:paused-by";
pub const PAUSE_REASON_TAG: &str = "rebound:pause-reason";
pub const MAINTENANCE_WINDOW_TAG: &str = "rebound:maintenance-window";

/// Every tag a pause is written as (what `rebound resume` removes).
pub const PAUSE_TAGS: [&str; 3] = [PAUSED_UNTIL_TAG, PAUSED_BY_TAG, PAUSE_REASON_TAG];

/// A pause in effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pause {
    pub until: DateTime<Utc>,
    pub by: Option<String>,
    pub reason: Option<String>,
}

impl Pause {
    /// The pause the tags declare, if one is in effect at `now`.
    pub fn in_effect(tags: &BTreeMap<String, String>, now: DateTime<Utc>) -> Option<Pause> {
        let value = tags.get(PAUSED_UNTIL_TAG)?;
        let until = match DateTime::parse_from_rfc3339(value.trim()) {
            Ok(until) => until.with_timezone(&Utc),
            Err(err) => {
                warn!(tag = PAUSED_UNTIL_TAG, value = %value, error = %err, "ignored: not an RFC 3339 time such as 2026-12-03T18:00:00Z");
                return None;
            }
        };
        let text = |key: &str| {
            tags.get(key)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        (now < until).then(|| Pause {
            until,
            by: text(PAUSED_BY_TAG),
            reason: text(PAUSE_REASON_TAG),
        })
    }

    /// What holds `what` (e.g. `group web-asg`): the incident is suppressed with the
    /// pause's reason and nothing is called.
    pub fn refusal(&self, what: &str) -> Refusal {
        let by = self
            .by
            .as_deref()
            .map(|by| format!(" by {by}"))
            .unwrap_or_default();
        let reason = self
            .reason
            .as_deref()
            .map(|reason| format!(": {reason}"))
            .unwrap_or_default();
        Refusal::new(
            "paused",
            Effect::Suppress,
            format!(
                "{what} is paused until {}{by}{reason}; observed, no action taken",
                self.until.format("%Y-%m-%d %H:%M UTC")
            ),
        )
    }
}

/// A weekly window in UTC, in minutes since Monday 00:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeeklyWindow {
    start: u32,
    end: u32,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl WeeklyWindow {
    /// `ddd:hh24:mi-ddd:hh24:mi` (RDS's format; days `mon`..`sun`, any case). A window
    /// may wrap past Sunday midnight (`sun:23:00-mon:01:00`); its start and end may not
    /// be equal.
    pub fn parse(value: &str) -> Result<WeeklyWindow, String> {
        let value = value.trim().to_ascii_lowercase();
        let (start, end) = value
            .split_once('-')
            .ok_or_else(|| format!("{value:?} is not ddd:hh24:mi-ddd:hh24:mi"))?;
        let window = WeeklyWindow {
            start: minute_of_week(start)?,
            end: minute_of_week(end)?,
        };
        if window.start == window.end {
            return Err(format!("{value:?} starts where it ends"));
        }
        Ok(window)
    }

    /// The window the tags declare, if it is on at `now`.
    pub fn in_effect(tags: &BTreeMap<String, String>, now: DateTime<Utc>) -> Option<String> {
        let value = tags.get(MAINTENANCE_WINDOW_TAG)?;
        match WeeklyWindow::parse(value) {
            Ok(window) => window.contains(now).then(|| value.trim().to_owned()),
            Err(err) => {
                warn!(tag = MAINTENANCE_WINDOW_TAG, value = %value, error = %err, "ignored: not a weekly window such as sun:02:00-sun:04:00");
                None
            }
        }
    }

    /// When the window next opens at or after `now` (`now` itself inside it).
    pub fn next_opening(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        if self.contains(now) {
            return now;
        }
        let minute = minute_of_week_at(now);
        let ahead = (self.start + MINUTES_PER_WEEK - minute) % MINUTES_PER_WEEK;
        let start_of_minute = now
            .with_second(0)
            .and_then(|t| t.with_nanosecond(0))
            .unwrap_or(now);
        start_of_minute
            .checked_add_signed(chrono::Duration::minutes(ahead.into()))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    pub fn contains(&self, now: DateTime<Utc>) -> bool {
        let minute = minute_of_week_at(now);
        if self.start < self.end {
            (self.start..self.end).contains(&minute)
        } else {
            minute >= self.start || minute < self.end
        }
    }
}

const MINUTES_PER_WEEK: u32 = 7 * 24 * 60;

fn minute_of_week_at(now: DateTime<Utc>) -> u32 {
    now.weekday().num_days_from_monday() * 24 * 60 + now.hour() * 60 + now.minute()
}

fn minute_of_week(text: &str) -> Result<u32, String> {
    let mut parts = text.splitn(3, ':');
    let (Some(day), Some(hour), Some(minute)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("{text:?} is not ddd:hh24:mi"));
    };
    let day = DAYS
        .iter()
        .position(|d| *d == day)
        .ok_or_else(|| format!("{day:?} is not a day (mon..sun)"))?;
    let number = |text: &str, below: u32| {
        text.parse::<u32>()
            .ok()
            .filter(|n| text.len() == 2 && *n < below)
            .ok_or_else(|| format!("{text:?} is not two digits below {below}"))
    };
    let (hour, minute) = (number(hour, 24)?, number(minute, 60)?);
    // day < 7: below a week's 10,080 minutes.
    Ok(day as u32 * 24 * 60 + hour * 60 + minute)
}

/// What keeps Rebound's hands off `what` at `now`, whose tags are `tags`: a pause
/// (suppressed) first, then a maintenance window (held).
pub fn hands_off(
    what: &str,
    tags: &BTreeMap<String, String>,
    now: DateTime<Utc>,
) -> Option<Refusal> {
    if let Some(pause) = Pause::in_effect(tags, now) {
        return Some(pause.refusal(what));
    }
    WeeklyWindow::in_effect(tags, now).map(|window| {
        Refusal::new(
            "maintenance-window",
            Effect::Hold,
            format!(
                "{what} is in its maintenance window ({window} UTC): actions wait until it ends"
            ),
        )
    })
}

/// Planned work (a replacement ahead of a scheduled retirement) goes inside the
/// resource's maintenance window, the reverse of a remediation: what holds `what` until
/// the window next opens, unless the work AWS scheduled (`deadline`) starts before then
/// and waiting would let it happen outside any window anyway. A malformed window is
/// ignored, as everywhere.
pub fn waits_for_window(
    what: &str,
    tags: &BTreeMap<String, String>,
    now: DateTime<Utc>,
    deadline: Option<DateTime<Utc>>,
) -> Option<Refusal> {
    let value = tags.get(MAINTENANCE_WINDOW_TAG)?;
    let window = match WeeklyWindow::parse(value) {
        Ok(window) => window,
        Err(err) => {
            warn!(tag = MAINTENANCE_WINDOW_TAG, value = %value, error = %err, "ignored: not a weekly window such as sun:02:00-sun:04:00");
            return None;
        }
    };
    let opens = window.next_opening(now);
    if opens <= now || deadline.is_some_and(|deadline| deadline <= opens) {
        return None;
    }
    Some(Refusal::new(
        "waits-for-window",
        Effect::Hold,
        format!(
            "{what} waits for the maintenance window ({} UTC), next open {}",
            value.trim(),
            opens.format("%a %Y-%m-%d %H:%M UTC")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_pause_holds_until_its_time_with_who_and_why() {
        let tags = tags(&[
            (PAUSED_UNTIL_TAG, "2026-12-03T18:00:00Z"),
            (PAUSED_BY_TAG, "arn:aws:iam::123456789012:user/ana"),
            (PAUSE_REASON_TAG, "upgrading the web tier"),
        ]);
        let refusal = hands_off("group web-asg", &tags, at("2026-12-03T17:59:59Z")).unwrap();
        assert!(refusal.is("paused"));
        assert!(refusal.suppresses());
        let text = refusal.to_string();
        assert!(text.contains("group web-asg is paused until"), "{text}");
        assert!(
            text.contains("by arn:aws:iam::123456789012:user/ana"),
            "{text}"
        );
        assert!(text.contains("upgrading the web tier"), "{text}");
        assert_eq!(
            hands_off("group web-asg", &tags, at("2026-12-03T18:00:00Z")),
            None
        );
    }

    #[test]
    fn a_pause_tag_alone_is_enough_and_a_malformed_one_pauses_nothing() {
        let alone = tags(&[(PAUSED_UNTIL_TAG, "2026-12-03T18:00:00+01:00")]);
        let pause = Pause::in_effect(&alone, at("2026-12-03T16:30:00Z")).unwrap();
        assert_eq!(pause.until, at("2026-12-03T17:00:00Z"));
        assert_eq!((pause.by, pause.reason), (None, None));
        for bad in ["tomorrow", "", "2026-13-01T00:00:00Z", "99999999999999999"] {
            let bad = tags(&[(PAUSED_UNTIL_TAG, bad)]);
            assert_eq!(Pause::in_effect(&bad, at("2026-12-03T16:30:00Z")), None);
        }
    }

    #[test]
    fn a_weekly_window_holds_inside_and_wraps_past_sunday_midnight() {
        // 2026-12-06 is a Sunday.
        let window = tags(&[(MAINTENANCE_WINDOW_TAG, "sun:02:00-sun:04:00")]);
        let held = hands_off("db orders", &window, at("2026-12-06T02:00:00Z")).unwrap();
        assert!(held.is("maintenance-window"));
        assert!(!held.suppresses() && !held.escalates());
        assert!(hands_off("db orders", &window, at("2026-12-06T03:59:00Z")).is_some());
        assert_eq!(
            hands_off("db orders", &window, at("2026-12-06T04:00:00Z")),
            None
        );
        assert_eq!(
            hands_off("db orders", &window, at("2026-12-05T02:30:00Z")),
            None
        );

        let wrapping = WeeklyWindow::parse("Sun:23:30-Mon:00:30").unwrap();
        assert!(wrapping.contains(at("2026-12-06T23:45:00Z")));
        assert!(wrapping.contains(at("2026-12-07T00:15:00Z")));
        assert!(!wrapping.contains(at("2026-12-07T00:30:00Z")));
        assert!(!wrapping.contains(at("2026-12-06T23:00:00Z")));
    }

    #[test]
    fn a_malformed_window_is_refused_by_the_parser_and_holds_nothing() {
        for bad in [
            "",
            "sun:02:00",
            "sunday:02:00-sun:04:00",
            "sun:2:00-sun:04:00",
            "sun:24:00-mon:01:00",
            "sun:02:60-sun:04:00",
            "sun:02:00-sun:02:00",
            "sun:02:00-sun:04:00:00",
        ] {
            assert!(WeeklyWindow::parse(bad).is_err(), "{bad:?}");
            let tags = tags(&[(MAINTENANCE_WINDOW_TAG, bad)]);
            assert_eq!(
                hands_off("x", &tags, at("2026-12-06T03:00:00Z")),
                None,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_pause_comes_before_a_window() {
        let both = tags(&[
            (PAUSED_UNTIL_TAG, "2026-12-06T05:00:00Z"),
            (MAINTENANCE_WINDOW_TAG, "sun:02:00-sun:04:00"),
        ]);
        let refusal = hands_off("x", &both, at("2026-12-06T03:00:00Z")).unwrap();
        assert!(refusal.is("paused"));
    }

    #[test]
    fn a_window_next_opens_later_this_week_or_next_and_at_once_inside_it() {
        // 2026-12-03 is a Thursday.
        let window = WeeklyWindow::parse("sun:02:00-sun:04:00").unwrap();
        let thursday = at("2026-12-03T10:30:45Z");
        assert_eq!(window.next_opening(thursday), at("2026-12-06T02:00:00Z"));
        let inside = at("2026-12-06T03:10:00Z");
        assert_eq!(window.next_opening(inside), inside);
        let just_after = at("2026-12-06T04:00:00Z");
        assert_eq!(window.next_opening(just_after), at("2026-12-13T02:00:00Z"));
        let wrapping = WeeklyWindow::parse("sun:23:00-mon:01:00").unwrap();
        assert_eq!(wrapping.next_opening(thursday), at("2026-12-06T23:00:00Z"));
    }

    #[test]
    fn planned_work_waits_for_the_window_unless_the_work_comes_first_or_there_is_none() {
        let window = tags(&[(MAINTENANCE_WINDOW_TAG, "sun:02:00-sun:04:00")]);
        let thursday = at("2026-12-03T10:30:00Z");
        let waits = waits_for_window("the replacement", &window, thursday, None).unwrap();
        assert!(waits.is("waits-for-window"));
        assert!(!waits.escalates() && !waits.suppresses());
        assert!(
            waits.detail.contains("Sun 2026-12-06 02:00 UTC"),
            "{}",
            waits.detail
        );
        let after_the_window = Some(at("2026-12-10T00:00:00Z"));
        assert!(waits_for_window("x", &window, thursday, after_the_window).is_some());
        let before_the_window = Some(at("2026-12-05T12:00:00Z"));
        assert_eq!(
            waits_for_window("x", &window, thursday, before_the_window),
            None
        );
        let inside = at("2026-12-06T02:30:00Z");
        assert_eq!(waits_for_window("x", &window, inside, None), None);
        assert_eq!(waits_for_window("x", &tags(&[]), thursday, None), None);
        let malformed = tags(&[(MAINTENANCE_WINDOW_TAG, "sunday")]);
        assert_eq!(waits_for_window("x", &malformed, thursday, None), None);
    }
}
