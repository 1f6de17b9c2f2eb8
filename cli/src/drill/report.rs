//! A drill's result: what was injected and when, when Rebound detected it and first
//! acted, when recovery was verified, and the time to recover against the RTO; as a
//! table, as JSON, and as the line added to each incident the drill caused.

use std::fmt::Write;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Target;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Recovery verified within the RTO.
    Recovered,
    /// An Availability Zone drill: the zone's traffic shifted away (its impact ended)
    /// within the RTO; recovery after the restore is measured too.
    Mitigated,
    /// Recovery verified, later than the RTO.
    MissedRto,
    /// No verified recovery before the timeout.
    NotRecovered,
    /// A stop condition tripped.
    Aborted,
    /// Ctrl-C.
    Cancelled,
    /// The injection or the observation failed.
    Failed,
    /// Preflight said no; nothing was touched.
    Refused,
    /// Not confirmed; nothing was touched.
    Declined,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recovered => "recovered",
            Self::Mitigated => "mitigated",
            Self::MissedRto => "missed-rto",
            Self::NotRecovered => "not-recovered",
            Self::Aborted => "aborted",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
            Self::Refused => "refused",
            Self::Declined => "declined",
        }
    }
}

/// When each milestone of a drill was first seen (the runner takes them in from each
/// observation).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Milestones {
    pub detected_at: Option<DateTime<Utc>>,
    pub first_action_at: Option<DateTime<Utc>>,
    pub first_action_by: Option<String>,
    /// An incident of the drill recorded its impact ended (a zone shifted away).
    pub mitigated_at: Option<DateTime<Utc>>,
    pub recovered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrillResult {
    pub drill: String,
    pub kind: &'static str,
    pub target: String,
    /// `api` (direct calls) or `fis` (an AWS FIS experiment).
    pub via: String,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub injection: Option<String>,
    pub injected_at: Option<DateTime<Utc>>,
    /// Rebound opened an incident on a resource the drill disturbed.
    pub detected_at: Option<DateTime<Utc>>,
    pub first_action_at: Option<DateTime<Utc>>,
    /// `rebound`, or `auto-scaling` when the group replaced the instance by itself.
    pub first_action_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mitigated_at: Option<DateTime<Utc>>,
    pub recovered_at: Option<DateTime<Utc>>,
    pub time_to_detect_s: Option<i64>,
    pub time_to_first_action_s: Option<i64>,
    /// Availability Zone drills: what the RTO is held against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_to_mitigate_s: Option<i64>,
    pub time_to_recover_s: Option<i64>,
    pub rto_s: u64,
    pub rto_met: bool,
    /// The incidents the drill caused.
    pub incidents: Vec<String>,
    /// What the restore undid.
    pub restored: Vec<String>,
    /// What the restore could not undo: put right by hand.
    pub restore_errors: Vec<String>,
    /// Preflight's reasons, when it refused.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refusals: Vec<String>,
}

fn seconds(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Option<i64> {
    Some((to? - from?).num_seconds().max(0))
}

impl DrillResult {
    pub fn new(id: &str, target: &Target, via: &str, rto: Duration) -> Self {
        Self {
            drill: id.to_owned(),
            kind: target.kind(),
            target: target.name().to_owned(),
            via: via.to_owned(),
            outcome: Outcome::Failed,
            reason: None,
            injection: None,
            injected_at: None,
            detected_at: None,
            first_action_at: None,
            first_action_by: None,
            mitigated_at: None,
            recovered_at: None,
            time_to_detect_s: None,
            time_to_first_action_s: None,
            time_to_mitigate_s: None,
            time_to_recover_s: None,
            rto_s: rto.as_secs(),
            rto_met: false,
            incidents: vec![],
            restored: vec![],
            restore_errors: vec![],
            refusals: vec![],
        }
    }

    pub fn refuse(&mut self, refusals: Vec<String>) {
        self.outcome = Outcome::Refused;
        self.reason = Some("preflight refused: nothing was touched".into());
        self.refusals = refusals;
    }

    pub fn decline(&mut self) {
        self.outcome = Outcome::Declined;
        self.reason = Some("not confirmed: nothing was touched".into());
    }

    /// Fills in the outcome and the measures from how the drill stopped.
    pub fn settle(&mut self, outcome: Outcome, reason: Option<String>, milestones: &Milestones) {
        self.outcome = outcome;
        self.reason = reason;
        self.detected_at = milestones.detected_at;
        self.first_action_at = milestones.first_action_at;
        self.first_action_by = milestones.first_action_by.clone();
        self.mitigated_at = milestones.mitigated_at;
        self.recovered_at = milestones.recovered_at;
        self.time_to_detect_s = seconds(self.injected_at, self.detected_at);
        self.time_to_first_action_s = seconds(self.injected_at, self.first_action_at);
        self.time_to_mitigate_s = seconds(self.injected_at, self.mitigated_at);
        self.time_to_recover_s = seconds(self.injected_at, self.recovered_at);
        self.rto_met = matches!(self.outcome, Outcome::Recovered | Outcome::Mitigated);
    }

    /// 0 when recovery (for a zone: mitigation) was verified within the RTO and the
    /// restore went through; 1 when it missed the RTO, never happened, or was not waited
    /// for; 2 when the drill did not run (refused, declined).
    pub fn exit_code(&self) -> u8 {
        match self.outcome {
            Outcome::Recovered | Outcome::Mitigated if self.restore_errors.is_empty() => 0,
            Outcome::Refused | Outcome::Declined => 2,
            _ => 1,
        }
    }

    /// The line added to the timeline of each incident the drill caused.
    pub fn timeline_line(&self) -> String {
        let took = |s: Option<i64>| s.map_or_else(|| "-".to_owned(), |s| format!("{s} s"));
        let objective = match self.time_to_mitigate_s {
            Some(_) => format!(
                "time to mitigate {} (RTO {} s{}), time to recover {}",
                took(self.time_to_mitigate_s),
                self.rto_s,
                if self.rto_met { ", met" } else { ", missed" },
                took(self.time_to_recover_s)
            ),
            None => format!(
                "time to recover {} (RTO {} s{})",
                took(self.time_to_recover_s),
                self.rto_s,
                if self.rto_met { ", met" } else { ", missed" }
            ),
        };
        format!(
            "drill {} ({} {} via {}): {}; {objective}, detected after {}, first action after {}{}",
            self.drill,
            self.kind,
            self.target,
            self.via,
            self.outcome.as_str(),
            took(self.time_to_detect_s),
            took(self.time_to_first_action_s),
            self.first_action_by
                .as_deref()
                .map(|by| format!(" by {by}"))
                .unwrap_or_default(),
        )
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let at = |t: Option<DateTime<Utc>>| {
            t.map_or_else(|| "-".to_owned(), |t| t.format("%H:%M:%S").to_string())
        };
        let after = |s: Option<i64>| s.map_or_else(|| "-".to_owned(), |s| format!("+{s} s"));
        let _ = writeln!(
            out,
            "Drill {}  {} {} via {}: {}",
            self.drill,
            self.kind,
            self.target,
            self.via,
            self.outcome.as_str().to_uppercase()
        );
        if let Some(reason) = &self.reason {
            let _ = writeln!(out, "  {reason}");
        }
        for refusal in &self.refusals {
            let _ = writeln!(out, "  - {refusal}");
        }
        if self.injected_at.is_some() {
            let _ = writeln!(out, "\n{:<18} {:<10} {:>8}", "MILESTONE", "AT", "AFTER");
            let rows = [
                ("injected", self.injected_at, Some(0)),
                ("detected", self.detected_at, self.time_to_detect_s),
                (
                    "first action",
                    self.first_action_at,
                    self.time_to_first_action_s,
                ),
                ("mitigated", self.mitigated_at, self.time_to_mitigate_s),
                ("recovered", self.recovered_at, self.time_to_recover_s),
            ];
            for (name, when, took) in rows {
                if name == "mitigated" && self.kind != "az" {
                    continue;
                }
                let _ = writeln!(out, "{:<18} {:<10} {:>8}", name, at(when), after(took));
            }
            let seconds = |s: Option<i64>| s.map_or_else(|| "-".to_owned(), |s| format!("{s} s"));
            let verdict = if self.rto_met { "met" } else { "MISSED" };
            if self.kind == "az" {
                let _ = writeln!(
                    out,
                    "\nTime to mitigate {} vs RTO {} s: {verdict}; time to recover {}",
                    seconds(self.time_to_mitigate_s),
                    self.rto_s,
                    seconds(self.time_to_recover_s)
                );
            } else {
                let _ = writeln!(
                    out,
                    "\nTime to recover {} vs RTO {} s: {verdict}",
                    seconds(self.time_to_recover_s),
                    self.rto_s
                );
            }
            if let Some(what) = &self.injection {
                let _ = writeln!(out, "Injected: {what}");
            }
            if let Some(by) = &self.first_action_by {
                let _ = writeln!(out, "First action by: {by}");
            }
            if self.incidents.is_empty() {
                let _ = writeln!(out, "Incidents: none opened by Rebound");
            } else {
                let _ = writeln!(out, "Incidents: {}", self.incidents.join(", "));
            }
        }
        for note in &self.restored {
            let _ = writeln!(out, "Restored: {note}");
        }
        for error in &self.restore_errors {
            let _ = writeln!(out, "NOT RESTORED (put right by hand): {error}");
        }
        out
    }
}
