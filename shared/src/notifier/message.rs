//! The message for one incident state change: a one-line subject, a readable text for
//! e-mail, a JSON document for machines, an AWS Chatbot card for chat, and the
//! attributes subscription filter policies match on. Every body is composed from the
//! same [`Facts`]; how much of the incident goes in is decided in [`super::limits`].

mod chatbot;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::guidance;
use super::limits::{self, Caps, CAPS, MAX_SCALAR_CHARS};
use crate::domain::{Action, Incident, IncidentState, TargetHealth, TargetState};
use crate::error::bounded;
use crate::ports::Notification;
use crate::readable::{console_url, human_duration, short_name, Location};

/// Schema tag of the machine-readable body, so consumers can dispatch on it. Fields are
/// only ever added under this tag.
pub const MESSAGE_SCHEMA: &str = "rebound.incident-state-change/1";

pub fn severity(state: IncidentState) -> &'static str {
    match state {
        IncidentState::Escalated => "critical",
        IncidentState::Open | IncidentState::Remediating => "warning",
        IncidentState::Resolved | IncidentState::Suppressed => "info",
    }
}

/// Console links listed for the groups behind a target group, at most.
const MAX_GROUP_LINKS: usize = 5;

/// The message for one state change, within SNS's limits however big the incident.
/// Console links to resources named without an ARN are left out: see
/// [`notification_at`].
pub fn notification_for(incident: &Incident, previous: Option<IncidentState>) -> Notification {
    notification_at(incident, previous, None)
}

/// The message for one state change; `home` is where the incident was recorded (the
/// stream's region), for console links to resources named without an ARN.
pub fn notification_at(
    incident: &Incident,
    previous: Option<IncidentState>,
    home: Option<&Location>,
) -> Notification {
    let facts = Facts::of(incident, previous, home);
    let subject = limits::subject_line(&format!(
        "[Rebound] {}{} {} {}: {}",
        drill_tag(incident),
        facts.state.as_str().to_uppercase(),
        facts.kind,
        facts.name,
        facts.latest
    ));
    let evidence = EvidenceSummary::of(&incident.evidence.targets);
    let document = Document::of(&facts);
    limits::fit(|caps| Notification {
        subject: subject.clone(),
        text: readable(&facts, &evidence, caps),
        json: document.render(caps),
        chatbot: chatbot::card(&facts, &evidence, &subject, caps),
        severity: facts.severity.to_owned(),
        resource_type: facts.kind.to_owned(),
        state: facts.state.as_str().to_owned(),
        resource_id: bounded(limits::one_line(&incident.resource.id), MAX_SCALAR_CHARS),
        drill: incident.drill.is_some(),
    })
}

/// `[DRILL] ` in the subject of a drill's messages.
fn drill_tag(incident: &Incident) -> &'static str {
    if incident.drill.is_some() {
        "[DRILL] "
    } else {
        ""
    }
}

/// What every body says, worked out once.
struct Facts<'a> {
    incident: &'a Incident,
    state: IncidentState,
    previous: Option<IncidentState>,
    /// `resource.type` as stored: `target-group`, `db-instance`, …
    kind: &'static str,
    /// What people call the resource: `web` for a target group's ARN.
    name: &'a str,
    /// Why the incident is in its state: the detail of the timeline entry that moved it
    /// there (the opening summary for a new incident).
    reason: &'a str,
    /// The last timeline entry's detail (often the reason itself).
    latest: &'a str,
    severity: &'static str,
    /// The resource's console page first, then the groups behind a target group.
    links: Vec<(String, String)>,
    next_steps: &'static [&'static str],
}

impl<'a> Facts<'a> {
    fn of(
        incident: &'a Incident,
        previous: Option<IncidentState>,
        home: Option<&Location>,
    ) -> Self {
        let state = incident.state;
        let kind = incident.resource.kind.as_str();
        let id = incident.resource.id.as_str();
        let latest = incident
            .timeline
            .last()
            .map(|t| t.detail.as_str())
            .unwrap_or("");
        let reason = incident
            .timeline
            .iter()
            .rev()
            .find(|t| {
                t.event == state.as_str() || (state == IncidentState::Open && t.event == "opened")
            })
            .map_or(latest, |t| t.detail.as_str());
        let mut links = Vec::new();
        if let Some(url) = console_url(kind, id, home) {
            links.push((label(kind), url));
        }
        if kind == "target-group" {
            let home = Location::of_arn(id).or_else(|| home.cloned());
            for group in incident
                .evidence
                .auto_scaling_groups
                .iter()
                .take(MAX_GROUP_LINKS)
            {
                if let Some(url) = console_url("auto-scaling-group", group, home.as_ref()) {
                    links.push((format!("Auto Scaling group {group}"), url));
                }
            }
        }
        Self {
            incident,
            state,
            previous,
            kind,
            name: short_name(id),
            reason,
            latest,
            severity: severity(state),
            links,
            next_steps: guidance::next_steps(kind, state),
        }
    }

    /// `ESCALATED: target group web (was remediating)`.
    fn headline(&self) -> String {
        format!(
            "{}: {} {}{}",
            self.state.as_str().to_uppercase(),
            label(self.kind).to_lowercase(),
            self.name,
            self.previous
                .map(|p| format!(" (was {})", p.as_str()))
                .unwrap_or_default()
        )
    }

    /// The resource's own console page.
    fn console_url(&self) -> Option<&str> {
        self.links.first().map(|(_, url)| url.as_str())
    }

    /// What Rebound did, one line each: the last `max` actions (with their time when
    /// `timed`), or why there are none; and a note on what was left out.
    fn what_rebound_did(
        &self,
        max: usize,
        detail_chars: usize,
        timed: bool,
    ) -> (Vec<String>, Option<String>) {
        let actions = &self.incident.actions;
        if actions.is_empty() {
            // The latest news, when it is not the reason already, says why not (a
            // guard's refusal, dry-run).
            let why = if self.latest != self.reason && !self.latest.is_empty() {
                format!(
                    "Nothing: {}",
                    bounded(limits::one_line(self.latest), detail_chars)
                )
            } else {
                match self.state {
                    IncidentState::Resolved => "Nothing: the resource recovered without an action.",
                    IncidentState::Escalated => "Nothing: it stopped before acting (Why, above).",
                    IncidentState::Suppressed => {
                        "Nothing: it holds action while the dependency heals."
                    }
                    IncidentState::Open | IncidentState::Remediating => "Nothing yet.",
                }
                .to_owned()
            };
            return (Vec::new(), Some(why));
        }
        let listed = actions.len().min(max);
        if listed == 0 {
            return (
                Vec::new(),
                Some(format!("{} actions: see the timeline", actions.len())),
            );
        }
        let lines = actions[actions.len() - listed..]
            .iter()
            .map(|a| {
                let line = bounded(limits::one_line(&action_line(a)), detail_chars);
                if timed {
                    format!("{} {line}", a.requested_at.format("%H:%M:%S"))
                } else {
                    line
                }
            })
            .collect();
        let header =
            (listed < actions.len()).then(|| format!("last {listed} of {} actions", actions.len()));
        (lines, header)
    }
}

/// `Target group`, `Auto Scaling group`, `DB instance`, … for `resource.type`.
fn label(kind: &str) -> String {
    match kind {
        "target-group" => "Target group".to_owned(),
        "auto-scaling-group" => "Auto Scaling group".to_owned(),
        "instance" => "EC2 instance".to_owned(),
        "db-instance" => "DB instance".to_owned(),
        "db-cluster" => "DB cluster".to_owned(),
        other => {
            let spaced = other.replace('-', " ");
            let mut chars = spaced.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        }
    }
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// One action as people read it. The only place that reads an action's fields for the
/// message (the JSON body serialises actions whole), so a change to [`Action`] is
/// adapted here.
pub fn action_line(action: &Action) -> String {
    let detail = action
        .detail
        .as_deref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    format!(
        "{} {} in {}: {}{}",
        action.kind.as_str(),
        action.target.id,
        action.scope.id,
        action.outcome.as_str(),
        detail
    )
}

/// As the load balancer spells it.
fn state_name(state: &TargetState) -> &str {
    match state {
        TargetState::Initial => "initial",
        TargetState::Healthy => "healthy",
        TargetState::Unhealthy => "unhealthy",
        TargetState::UnhealthyDraining => "unhealthy.draining",
        TargetState::Unused => "unused",
        TargetState::Draining => "draining",
        TargetState::Unavailable => "unavailable",
        TargetState::Other(other) => other,
    }
}

/// The evidence in numbers, counted once whatever the caps: how many targets in each
/// state (and reason), and the first targets that are not healthy.
struct EvidenceSummary<'a> {
    total: usize,
    /// `(state and reason, count)`, most frequent first.
    counts: Vec<(String, usize)>,
    not_healthy: Vec<&'a TargetHealth>,
    not_healthy_total: usize,
}

impl<'a> EvidenceSummary<'a> {
    fn of(targets: &'a [TargetHealth]) -> Self {
        let most_listed = CAPS.iter().map(|c| c.listed_targets).max().unwrap_or(0);
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        let mut not_healthy = Vec::new();
        let mut not_healthy_total = 0;
        for target in targets {
            let label = match &target.reason {
                Some(reason) => format!("{}, {}", state_name(&target.state), reason),
                None => state_name(&target.state).to_owned(),
            };
            *counts.entry(label).or_default() += 1;
            if target.state != TargetState::Healthy {
                not_healthy_total += 1;
                if not_healthy.len() < most_listed {
                    not_healthy.push(target);
                }
            }
        }
        // What is wrong first, then by how many.
        let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
        counts.sort_by(|a, b| {
            (a.0 == "healthy")
                .cmp(&(b.0 == "healthy"))
                .then_with(|| b.1.cmp(&a.1))
                .then_with(|| a.0.cmp(&b.0))
        });
        Self {
            total: targets.len(),
            counts,
            not_healthy,
            not_healthy_total,
        }
    }
}

/// The body for e-mail: what happened and why, what broke with the evidence in
/// numbers (and the first few targets), what Rebound did, what to check next, links.
fn readable(facts: &Facts<'_>, evidence: &EvidenceSummary<'_>, caps: &Caps) -> String {
    let incident = facts.incident;
    let line = |text: &str| bounded(limits::one_line(text), caps.detail_chars);
    let scalar = |text: &str| bounded(limits::one_line(text), MAX_SCALAR_CHARS);
    let mut text = format!("{}\n\nWhy: {}\n", facts.headline(), line(facts.reason));
    if facts.latest != facts.reason {
        text.push_str(&format!("Latest: {}\n", line(facts.latest)));
    }

    text.push_str(&format!(
        "\nWhat broke\n  Resource:  {kind} {rid}\n  Incident:  {id}\n  Opened:    {opened}\n  Trigger:   {trigger}\n",
        kind = facts.kind,
        rid = scalar(&incident.resource.id),
        id = incident.id,
        opened = when(incident.opened_at),
        trigger = scalar(&incident.trigger),
    ));
    match (incident.resolved_at, incident.time_to_recover_s) {
        (Some(_), Some(ttr)) => text.push_str(&format!(
            "  Recovered: in {ttr} s ({})\n",
            human_duration(ttr)
        )),
        (Some(closed), None) => text.push_str(&format!(
            "  Closed:    {} (not a recovery: no time to recover)\n",
            when(closed)
        )),
        (None, _) => text.push_str(&format!(
            "  Open for:  {} so far\n",
            human_duration((incident.updated_at - incident.opened_at).num_seconds())
        )),
    }
    if let Some(drill) = &incident.drill {
        text.push_str(&format!(
            "  Drill:     {} (a resilience drill caused this incident)\n",
            scalar(drill)
        ));
    }

    if evidence.total > 0 {
        let plural = if evidence.total == 1 { "" } else { "s" };
        text.push_str(&format!("\nEvidence: {} target{plural}\n", evidence.total));
        let shown = evidence.counts.len().min(caps.reason_counts);
        for (label, count) in &evidence.counts[..shown] {
            text.push_str(&format!("  {}: {count}\n", line(label)));
        }
        if shown < evidence.counts.len() {
            let rest: usize = evidence.counts[shown..].iter().map(|(_, n)| n).sum();
            text.push_str(&format!(
                "  … {} other states and reasons: {rest}\n",
                evidence.counts.len() - shown
            ));
        }
        let listed = evidence.not_healthy.len().min(caps.listed_targets);
        if listed > 0 {
            if listed == evidence.not_healthy_total {
                text.push_str("Not healthy:\n");
            } else {
                text.push_str(&format!(
                    "Not healthy (first {listed} of {}):\n",
                    evidence.not_healthy_total
                ));
            }
            for target in &evidence.not_healthy[..listed] {
                text.push_str(&format!("  - {}\n", line(&target_line(target))));
            }
        }
    }

    if let Some(database) = &incident.evidence.database {
        let place = |p: &crate::domain::Placement| match &p.writer {
            Some(writer) => format!("{}, writer {writer}", p.status),
            None => format!(
                "{}, primary in {}, standby in {}",
                p.status,
                p.primary_az.as_deref().unwrap_or("?"),
                p.standby_az.as_deref().unwrap_or("none")
            ),
        };
        text.push_str(&format!(
            "\nDatabase:  {}\n",
            line(&place(&database.detected))
        ));
        if let Some(before) = &database.before_failover {
            text.push_str(&format!("Before failover: {}\n", line(&place(before))));
        }
        if let Some(after) = &database.after_failover {
            text.push_str(&format!("After failover:  {}\n", line(&place(after))));
        }
    }

    let (actions, note) = facts.what_rebound_did(caps.listed_actions, caps.detail_chars, true);
    match (&note, actions.is_empty()) {
        (Some(note), false) => text.push_str(&format!("\nWhat Rebound did ({note})\n")),
        (Some(note), true) => text.push_str(&format!("\nWhat Rebound did\n  {note}\n")),
        (None, _) => text.push_str("\nWhat Rebound did\n"),
    }
    for action in &actions {
        text.push_str(&format!("  - {action}\n"));
    }

    text.push_str("\nCheck next\n");
    for step in facts.next_steps {
        text.push_str(&format!("  - {step}\n"));
    }

    text.push_str("\nLinks\n");
    for (label, url) in &facts.links {
        text.push_str(&format!("  {label}: {url}\n"));
    }
    text.push_str(&format!(
        "  Timeline: rebound incidents show {}\n",
        incident.id
    ));
    text
}

/// `i-0abc unhealthy: Target.FailedHealthChecks`.
fn target_line(target: &TargetHealth) -> String {
    let reason = target
        .reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    format!(
        "{} {}{reason}",
        target.instance_id,
        state_name(&target.state)
    )
}

/// The JSON body: the incident as `rebound incidents --json` prints it, every scalar
/// field kept, its lists capped, and beside it what the readable body says (severity,
/// name, reason, next steps, console link). Serialised once; each composition takes its
/// share.
struct Document {
    previous: Option<IncidentState>,
    /// The incident without its lists.
    incident: Map<String, Value>,
    targets: Vec<Value>,
    auto_scaling_groups: Vec<Value>,
    actions: Vec<Value>,
    timeline: Vec<Value>,
    severity: &'static str,
    resource_name: String,
    reason: String,
    next_steps: &'static [&'static str],
    console_url: Option<String>,
}

impl Document {
    fn of(facts: &Facts<'_>) -> Self {
        let incident = facts.incident;
        let mut map = match serde_json::to_value(incident) {
            Ok(Value::Object(map)) => map,
            // Plain data with string keys always serialises to an object; stay total
            // anyway with what identifies the incident.
            _ => Map::from_iter([
                ("id".to_owned(), json!(incident.id.as_str())),
                ("state".to_owned(), json!(incident.state.as_str())),
            ]),
        };
        let (targets, auto_scaling_groups) =
            match map.get_mut("evidence").and_then(Value::as_object_mut) {
                Some(evidence) => (
                    take_list(evidence, "targets"),
                    take_list(evidence, "auto_scaling_groups"),
                ),
                None => (Vec::new(), Vec::new()),
            };
        Self {
            previous: facts.previous,
            actions: take_list(&mut map, "actions"),
            timeline: take_list(&mut map, "timeline"),
            incident: map,
            targets,
            auto_scaling_groups,
            severity: facts.severity,
            resource_name: bounded(limits::one_line(facts.name), MAX_SCALAR_CHARS),
            reason: limits::one_line(facts.reason),
            next_steps: facts.next_steps,
            console_url: facts.console_url().map(str::to_owned),
        }
    }

    /// Targets and group names keep the first entries (what was seen first), actions
    /// and the timeline the last ones (where the incident is now). `omitted` and
    /// `shortened_texts` say what was left out, so a consumer never mistakes a capped
    /// list for the whole.
    fn render(&self, caps: &Caps) -> String {
        let mut shortened = 0;
        let mut incident = self.incident.clone();
        for value in incident.values_mut() {
            shortened += shorten_texts(value, MAX_SCALAR_CHARS);
        }
        let mut keep = |entries: &[Value]| -> Vec<Value> {
            entries
                .iter()
                .map(|entry| {
                    let mut entry = entry.clone();
                    shortened += shorten_texts(&mut entry, caps.detail_chars);
                    entry
                })
                .collect()
        };
        let targets = keep(first(&self.targets, caps.targets));
        let groups = keep(first(&self.auto_scaling_groups, caps.auto_scaling_groups));
        let actions = keep(last(&self.actions, caps.actions));
        let timeline = keep(last(&self.timeline, caps.timeline));
        let mut reason = Value::String(self.reason.clone());
        shortened += shorten_texts(&mut reason, caps.detail_chars);
        let omitted = json!({
            "targets": self.targets.len() - targets.len(),
            "auto_scaling_groups": self.auto_scaling_groups.len() - groups.len(),
            "actions": self.actions.len() - actions.len(),
            "timeline": self.timeline.len() - timeline.len(),
        });
        let truncated = shortened > 0
            || omitted
                .as_object()
                .is_some_and(|o| o.values().any(|n| n.as_u64() != Some(0)));
        if let Some(evidence) = incident
            .entry("evidence")
            .or_insert_with(|| json!({}))
            .as_object_mut()
        {
            evidence.insert("targets".into(), Value::Array(targets));
            evidence.insert("auto_scaling_groups".into(), Value::Array(groups));
        }
        incident.insert("actions".into(), Value::Array(actions));
        incident.insert("timeline".into(), Value::Array(timeline));
        json!({
            "schema": MESSAGE_SCHEMA,
            "previous_state": self.previous.map(IncidentState::as_str),
            "incident": incident,
            "truncated": truncated,
            "omitted": omitted,
            "shortened_texts": shortened,
            "severity": self.severity,
            "resource_name": self.resource_name,
            "reason": reason,
            "next_steps": self.next_steps,
            "console_url": self.console_url,
        })
        .to_string()
    }
}

fn take_list(map: &mut Map<String, Value>, key: &str) -> Vec<Value> {
    match map.remove(key) {
        Some(Value::Array(entries)) => entries,
        _ => Vec::new(),
    }
}

fn first(entries: &[Value], n: usize) -> &[Value] {
    &entries[..entries.len().min(n)]
}

fn last(entries: &[Value], n: usize) -> &[Value] {
    &entries[entries.len().saturating_sub(n)..]
}

/// Cuts every string inside `value` to `max` characters; returns how many were cut.
fn shorten_texts(value: &mut Value, max: usize) -> usize {
    match value {
        Value::String(text) if text.chars().count() > max => {
            *text = bounded(std::mem::take(text), max);
            1
        }
        Value::Array(items) => items.iter_mut().map(|v| shorten_texts(v, max)).sum(),
        Value::Object(fields) => fields.values_mut().map(|v| shorten_texts(v, max)).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests;
