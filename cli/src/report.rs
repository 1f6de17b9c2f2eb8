//! `rebound report`: what the incidents of a window say about each resource — how often
//! it failed, how fast it recovered (mean and 90th percentile), what Rebound did or was
//! stopped from doing, and an availability estimate. Pure: incidents and a window in,
//! figures out; [`text`] and [`html`] render them, `--json` prints them as they are.
//!
//! The window holds every incident open at some time in it: opened in it, or opened
//! before and resolved in it or still open. An incident's duration counts from opened
//! to resolved (to the end of the window while still open), cut to the window.
//!
//! Incidents whose impact ended before their resource recovered (a zone's traffic
//! shifted away) also have a time to mitigate, and an incident's kind may name what to
//! read first of it (a zone's shifts): both are shown only where there are some, so a
//! report without them reads as it always did.

mod html;

pub use html::html;

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{DateTime, Utc};
use rebound::domain::{ActionOutcome, ApprovalState, Incident, IncidentState, ResourceRef};
use rebound::ids::IncidentId;
use rebound::kinds;
use rebound::readable::{human_duration, short_name};
use serde::Serialize;

/// The figures of one report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub window: Window,
    /// Every resource together. Its availability is the share of the window with no
    /// incident open on any resource.
    pub all: Figures,
    /// Worst availability first.
    pub resources: Vec<ResourceFigures>,
    /// The incidents of the window, oldest first: the timeline.
    pub incidents: Vec<Span>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub seconds: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ResourceFigures {
    pub resource: ResourceRef,
    /// What people call it: `web` for a target group's ARN.
    pub name: String,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Figures {
    /// Incidents open at some time in the window.
    pub incidents: usize,
    /// Of those, not resolved at the end of the window.
    pub open: usize,
    /// Of those, escalated at some point: a person was needed.
    pub escalated: usize,
    /// Of those, waiting for a person's approval now (absent when none is).
    #[serde(skip_serializing_if = "is_zero")]
    pub awaiting_approval: usize,
    pub time_to_recover_s: Recovery,
    /// Time to mitigate of the incidents mitigated (impact ended before the resource
    /// recovered: a zone's traffic shifted away); absent when none was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_to_mitigate_s: Option<Recovery>,
    pub actions: Actions,
    /// Time in the window with an incident open (overlapping incidents count once).
    pub downtime_s: i64,
    /// 1 − downtime / window: an estimate, since an open incident means degraded (one
    /// failing target of four), not necessarily down.
    pub availability: f64,
}

/// Time to recover of the incidents that recovered (resolved with a verified recovery),
/// or time to mitigate of those mitigated.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Recovery {
    pub samples: usize,
    pub mean: Option<f64>,
    /// Nearest-rank 90th percentile: nine in ten recoveries took at most this long.
    pub p90: Option<i64>,
    pub max: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Actions {
    /// Calls made (or possibly made: recorded ahead, outcome not yet known).
    pub taken: usize,
    pub failed: usize,
    /// Dry-run: recorded, never called.
    pub simulated: usize,
    /// Times a guard stopped Rebound: holds, escalations and suppressions on the
    /// timeline, and planned actions refused.
    pub refused: usize,
}

/// One incident on the timeline.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Span {
    pub id: IncidentId,
    pub resource: ResourceRef,
    pub name: String,
    pub state: IncidentState,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub time_to_recover_s: Option<i64>,
    pub escalated: bool,
    /// Seconds of this incident inside the window.
    pub in_window_s: i64,
    /// When its impact ended before the resource recovered (a zone's traffic shifted
    /// away), and how long after detection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mitigated_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_to_mitigate_s: Option<i64>,
    /// What its kind says to read first, one line each ("10:21:16 traffic shifted away
    /// from us-east-1b (use1-az2)").
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub highlights: Vec<String>,
    /// Where its approval stands, when one was asked for ("awaiting approval of
    /// set-instance-health i-0abc in web-asg until …", "approved by … at …").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
    /// The resource's own healer took care of it ("healed by Auto Scaling").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub native_healing: Option<String>,
    /// The work AWS announced that it was about (a planned incident).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub planned: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Where an incident's approval stands, as the report says it.
fn approval_line(incident: &Incident) -> Option<String> {
    let approval = incident.approval.as_ref()?;
    Some(match approval.state {
        ApprovalState::Requested => format!(
            "awaiting a person's approval of {} until {}",
            approval.intent,
            when(approval.expires_at)
        ),
        _ => format!(
            "approval of {} {}",
            approval.intent,
            approval.decision_text()
        ),
    })
}

impl Span {
    /// When it stops counting: resolved, or still open at the end of the window.
    pub fn end(&self, window: &Window) -> DateTime<Utc> {
        self.resolved_at.unwrap_or(window.to).min(window.to)
    }

    pub fn start(&self, window: &Window) -> DateTime<Utc> {
        self.opened_at.max(window.from)
    }
}

/// Builds the report of the window `from`..`to` from incidents (any order, any window:
/// those outside it are left out).
pub fn build(incidents: &[Incident], from: DateTime<Utc>, to: DateTime<Utc>) -> Report {
    let window = Window {
        from,
        to,
        seconds: (to - from).num_seconds().max(1),
    };
    let mut in_window: Vec<&Incident> = incidents
        .iter()
        .filter(|i| i.opened_at < to && i.resolved_at.is_none_or(|r| r > from))
        .collect();
    in_window.sort_by(|a, b| a.opened_at.cmp(&b.opened_at).then(a.id.cmp(&b.id)));

    let mut by_resource: BTreeMap<&ResourceRef, Vec<&Incident>> = BTreeMap::new();
    for incident in &in_window {
        by_resource
            .entry(&incident.resource)
            .or_default()
            .push(incident);
    }
    let mut resources: Vec<ResourceFigures> = by_resource
        .into_iter()
        .map(|(resource, incidents)| ResourceFigures {
            resource: resource.clone(),
            name: short_name(&resource.id).into_owned(),
            figures: figures(&incidents, &window),
        })
        .collect();
    resources.sort_by(|a, b| {
        a.figures
            .availability
            .total_cmp(&b.figures.availability)
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.resource.cmp(&b.resource))
    });
    let incidents = in_window
        .iter()
        .map(|i| {
            let mut span = Span {
                id: i.id.clone(),
                resource: i.resource.clone(),
                name: short_name(&i.resource.id).into_owned(),
                state: i.state,
                opened_at: i.opened_at,
                resolved_at: i.resolved_at,
                time_to_recover_s: i.time_to_recover_s,
                escalated: was_escalated(i),
                in_window_s: 0,
                mitigated_at: i.mitigated_at,
                time_to_mitigate_s: i.time_to_mitigate_s,
                highlights: kinds::view_of(i.resource.kind.as_str()).highlights(i),
                approval: approval_line(i),
                native_healing: i.native_healing.clone(),
                planned: i.planned.as_ref().map(|p| format!("planned: {}", p.line())),
            };
            span.in_window_s = (span.end(&window) - span.start(&window))
                .num_seconds()
                .max(0);
            span
        })
        .collect();
    Report {
        window,
        all: figures(&in_window, &window),
        resources,
        incidents,
    }
}

fn was_escalated(incident: &Incident) -> bool {
    incident.state == IncidentState::Escalated
        || incident.timeline.iter().any(|t| t.event == "escalated")
}

/// Count, mean, 90th percentile and maximum of some durations.
fn summary(mut samples: Vec<i64>) -> Recovery {
    samples.sort_unstable();
    Recovery {
        samples: samples.len(),
        mean: (!samples.is_empty())
            .then(|| samples.iter().sum::<i64>() as f64 / samples.len() as f64),
        p90: percentile(&samples, 90),
        max: samples.last().copied(),
    }
}

fn figures(incidents: &[&Incident], window: &Window) -> Figures {
    let recoveries: Vec<i64> = incidents
        .iter()
        .filter_map(|i| i.time_to_recover_s)
        .collect();
    let mitigations: Vec<i64> = incidents
        .iter()
        .filter_map(|i| i.time_to_mitigate_s)
        .collect();
    let mut actions = Actions::default();
    for incident in incidents {
        for action in &incident.actions {
            match action.outcome {
                ActionOutcome::Pending | ActionOutcome::Succeeded => actions.taken += 1,
                ActionOutcome::Failed => actions.failed += 1,
                ActionOutcome::Simulated => actions.simulated += 1,
                ActionOutcome::Refused => actions.refused += 1,
            }
        }
        actions.refused += incident
            .timeline
            .iter()
            .filter(|t| matches!(t.event.as_str(), "held" | "escalated" | "suppressed"))
            .count();
    }
    let downtime_s = downtime(incidents, window);
    Figures {
        incidents: incidents.len(),
        open: incidents
            .iter()
            .filter(|i| i.resolved_at.is_none_or(|r| r > window.to))
            .count(),
        escalated: incidents.iter().filter(|i| was_escalated(i)).count(),
        awaiting_approval: incidents
            .iter()
            .filter(|i| i.state == IncidentState::AwaitingApproval)
            .count(),
        time_to_recover_s: summary(recoveries),
        time_to_mitigate_s: (!mitigations.is_empty()).then(|| summary(mitigations)),
        actions,
        downtime_s,
        availability: 1.0 - downtime_s as f64 / window.seconds as f64,
    }
}

/// Nearest rank: the smallest value at least `pct` % of the sorted values are at most.
fn percentile(sorted: &[i64], pct: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (pct * sorted.len()).div_ceil(100).max(1);
    Some(sorted[rank - 1])
}

/// Seconds of the window with at least one of these incidents open. Planned work
/// (an instance replaced ahead of its retirement, a database's maintenance announced) is
/// not downtime: nothing was broken while it waited for its window.
fn downtime(incidents: &[&Incident], window: &Window) -> i64 {
    let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = incidents
        .iter()
        .filter(|i| i.planned.is_none())
        .map(|i| {
            let end = i.resolved_at.unwrap_or(window.to).min(window.to);
            (i.opened_at.max(window.from), end)
        })
        .filter(|(start, end)| start < end)
        .collect();
    spans.sort();
    let mut total = 0;
    let mut current: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
    for (start, end) in spans {
        current = match current {
            Some((s, e)) if start <= e => Some((s, e.max(end))),
            Some((s, e)) => {
                total += (e - s).num_seconds();
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    if let Some((s, e)) = current {
        total += (e - s).num_seconds();
    }
    total
}

/// `99.952 %`; exact 100 % only when there was no downtime at all.
pub fn percent(availability: f64) -> String {
    if availability >= 1.0 {
        "100 %".to_owned()
    } else {
        // Never round a loss up to 100 %.
        let shown = (availability * 100_000.0).floor() / 1_000.0;
        format!("{shown:.3} %")
    }
}

/// A time to recover for a table cell: `3 min 4 s`, or `-`.
pub fn ttr(seconds: Option<f64>) -> String {
    seconds
        .map(|s| human_duration(s.round() as i64))
        .unwrap_or_else(|| "-".to_owned())
}

/// `2026-10-27 10:00 UTC`.
pub fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The report as a table for the terminal.
pub fn text(report: &Report) -> String {
    let w = &report.window;
    let mut out = format!(
        "Rebound report {} → {} ({})\n\n",
        when(w.from),
        when(w.to),
        human_duration(w.seconds)
    );
    if report.incidents.is_empty() {
        out.push_str("No incident in this window: every resource Rebound watches was available throughout.\n");
        return out;
    }
    let header = [
        "RESOURCE",
        "INCIDENTS",
        "OPEN",
        "ESCALATED",
        "TTR MEAN",
        "TTR P90",
        "ACTIONS",
        "FAILED",
        "REFUSED",
        "DOWNTIME",
        "AVAILABILITY",
    ];
    let mut rows: Vec<Vec<String>> = report
        .resources
        .iter()
        .map(|r| row(&resource_label(r), &r.figures).to_vec())
        .collect();
    rows.push(row("all resources", &report.all).to_vec());
    out.push_str(&table(&header, &rows));
    out.push_str(
        "\nTTR: time to recover, of the incidents resolved with a verified recovery.\n\
         ACTIONS: calls made. REFUSED: times a guard stopped Rebound.\n\
         AVAILABILITY: 1 - time with an incident open / window, an estimate (an incident often\n\
         means degraded, not down); for all resources, the time with any incident open.\n",
    );
    if report.all.awaiting_approval > 0 {
        let _ = writeln!(
            out,
            "\nAwaiting approval: {} incident(s) wait for a person (rebound incidents approve ID, or deny ID --reason TEXT).",
            report.all.awaiting_approval
        );
    }
    out.push_str(&mitigation_text(report));
    out.push_str(&highlights_text(report));
    out
}

/// `target-group web`.
fn resource_label(r: &ResourceFigures) -> String {
    format!("{} {}", r.resource.kind.as_str(), r.name)
}

/// Columns aligned under their header, the first to the left and the others to the
/// right, a rule above the last row (the total).
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([header[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[&str]| {
        let mut line = String::new();
        for (c, cell) in cells.iter().enumerate() {
            let pad = widths[c] - cell.chars().count();
            if c == 0 {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            } else {
                line.push_str("  ");
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            }
        }
        line.trim_end().to_owned()
    };
    let mut out = String::new();
    let _ = writeln!(out, "{}", line(header));
    for (n, row) in rows.iter().enumerate() {
        if n == rows.len() - 1 {
            let _ = writeln!(out, "{}", "-".repeat(line(header).len()));
        }
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        let _ = writeln!(out, "{}", line(&cells));
    }
    out
}

/// Time to mitigate per resource, when some incident of the window was mitigated.
fn mitigation_text(report: &Report) -> String {
    let Some(all) = &report.all.time_to_mitigate_s else {
        return String::new();
    };
    let cells = |label: String, m: &Recovery| {
        vec![
            label,
            m.samples.to_string(),
            ttr(m.mean),
            ttr(m.p90.map(|s| s as f64)),
            ttr(m.max.map(|s| s as f64)),
        ]
    };
    let mut rows: Vec<Vec<String>> = report
        .resources
        .iter()
        .filter_map(|r| {
            let m = r.figures.time_to_mitigate_s.as_ref()?;
            Some(cells(resource_label(r), m))
        })
        .collect();
    rows.push(cells("all resources".to_owned(), all));
    format!(
        "\nTime to mitigate\n{}\nTTM: time to mitigate, from detection to the end of the impact (a zone's traffic\n\
         shifted away, say), before the resource itself recovered.\n",
        table(&["RESOURCE", "MITIGATED", "TTM MEAN", "TTM P90", "TTM MAX"], &rows)
    )
}

/// The incidents that were mitigated or whose kind names something to read first,
/// oldest first, with what it names.
fn highlights_text(report: &Report) -> String {
    let spans: Vec<&Span> = report
        .incidents
        .iter()
        .filter(|s| {
            s.time_to_mitigate_s.is_some() || !s.highlights.is_empty() || s.approval.is_some()
        })
        .collect();
    if spans.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nHighlights\n");
    for span in spans {
        let _ = writeln!(
            out,
            "{}  {} {}  {}, opened {}",
            span.id,
            span.resource.kind.as_str(),
            span.name,
            span.state.as_str(),
            when(span.opened_at)
        );
        if let Some(line) = outcome_line(span) {
            let _ = writeln!(out, "  {line}");
        }
        if let Some(line) = &span.approval {
            let _ = writeln!(out, "  {line}");
        }
        for line in &span.highlights {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

/// `mitigated in 1 min 2 s, recovered in 1 h 17 min`, for an incident mitigated.
pub fn outcome_line(span: &Span) -> Option<String> {
    let ttm = span.time_to_mitigate_s?;
    let recovered = span
        .time_to_recover_s
        .map(|ttr| format!(", recovered in {}", human_duration(ttr)))
        .unwrap_or_default();
    Some(format!("mitigated in {}{recovered}", human_duration(ttm)))
}

fn row(label: &str, f: &Figures) -> [String; 11] {
    [
        label.to_owned(),
        f.incidents.to_string(),
        f.open.to_string(),
        f.escalated.to_string(),
        ttr(f.time_to_recover_s.mean),
        ttr(f.time_to_recover_s.p90.map(|s| s as f64)),
        f.actions.taken.to_string(),
        f.actions.failed.to_string(),
        f.actions.refused.to_string(),
        human_duration(f.downtime_s),
        percent(f.availability),
    ]
}

#[cfg(test)]
pub(crate) mod fixture {
    //! A month of incidents on three resources, read from `report/fixture.json`.

    use chrono::{DateTime, TimeZone, Utc};
    use rebound::domain::Incident;

    pub fn incidents() -> Vec<Incident> {
        serde_json::from_str(include_str!("report/fixture.json")).expect("fixture incidents")
    }

    /// The end of the fixture's 30-day window.
    pub fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap()
    }

    pub fn window_start() -> DateTime<Utc> {
        now() - chrono::Duration::days(30)
    }
}

#[cfg(test)]
mod tests;
