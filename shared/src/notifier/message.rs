//! The message for one incident state change: a one-line subject, a readable text for
//! e-mail, a JSON document for machines, an AWS Chatbot card for chat, and the
//! attributes subscription filter policies match on. Every body is composed from the
//! same [`Facts`], and what the evidence says from the incident kind's [`Digest`]; how
//! much of the incident goes in is decided in [`super::limits`].

mod chatbot;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::limits::{self, Caps, MAX_SCALAR_CHARS};
use crate::domain::{Action, ApprovalState, Incident, IncidentState};
use crate::error::bounded;
use crate::kinds;
use crate::ports::Notification;
use crate::readable::{human_duration, short_name, Location};
use crate::view::Digest;

/// Schema tag of the machine-readable body, so consumers can dispatch on it. Fields are
/// only ever added under this tag.
pub const MESSAGE_SCHEMA: &str = "rebound.incident-state-change/1";

/// How loud a change is: `critical` (pages) only for an escalation no one has
/// acknowledged. Once a person acknowledged the incident (`rebound incidents ack`), its
/// changes are still announced, once each, but an escalation is a `warning`: it does
/// not page again.
pub fn severity(state: IncidentState, acknowledged: bool) -> &'static str {
    match state {
        IncidentState::Escalated if !acknowledged => "critical",
        IncidentState::Escalated
        | IncidentState::Open
        | IncidentState::Remediating
        | IncidentState::AwaitingApproval => "warning",
        IncidentState::Resolved | IncidentState::Suppressed => "info",
    }
}

/// Console links listed for the resources related to the incident's (the groups behind
/// a target group), at most.
const MAX_RELATED_LINKS: usize = 5;

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
    let digest = kinds::view_of(incident.resource.kind.as_str()).digest(&incident.evidence);
    let facts = Facts::of(incident, previous, home, &digest);
    let subject = limits::subject_line(&format!(
        "[Rebound] {}{} {} {}: {}",
        drill_tag(incident),
        facts.state.as_str().to_uppercase(),
        facts.kind,
        facts.name,
        facts.latest
    ));
    let document = Document::of(&facts);
    limits::fit(|caps| Notification {
        subject: subject.clone(),
        text: readable(&facts, &digest, caps),
        json: document.render(caps),
        chatbot: chatbot::card(&facts, &digest, &subject, caps),
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
    kind: &'a str,
    /// What people call the resource: `web` for a target group's ARN.
    name: std::borrow::Cow<'a, str>,
    /// Why the incident is in its state: the detail of the timeline entry that moved it
    /// there (the opening summary for a new incident).
    reason: &'a str,
    /// The last timeline entry's detail (often the reason itself).
    latest: &'a str,
    severity: &'static str,
    /// The resource's console page first, then those of its related resources.
    links: Vec<(String, String)>,
    next_steps: &'static [&'static str],
}

impl<'a> Facts<'a> {
    fn of(
        incident: &'a Incident,
        previous: Option<IncidentState>,
        home: Option<&Location>,
        digest: &Digest,
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
        if let Some(url) = kinds::console_url(kind, id, home) {
            links.push((kinds::label(kind), url));
        }
        // Related resources named without an ARN live where the incident's resource does.
        let near = Location::of_arn(id).or_else(|| home.cloned());
        for related in digest.related.iter().take(MAX_RELATED_LINKS) {
            let kind = related.kind.as_str();
            if let Some(url) = kinds::console_url(kind, &related.id, near.as_ref()) {
                links.push((
                    format!("{} {}", kinds::label(kind), short_name(&related.id)),
                    url,
                ));
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
            severity: severity(state, incident.acknowledged.is_some()),
            links,
            next_steps: kinds::view_of(kind).next_steps(state),
        }
    }

    /// `ESCALATED: target group web (was remediating)`.
    fn headline(&self) -> String {
        format!(
            "{}: {} {}{}",
            self.state.as_str().to_uppercase(),
            kinds::label(self.kind).to_lowercase(),
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
                    IncidentState::AwaitingApproval => {
                        "Nothing yet: it waits for a person's approval (Why, above)."
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

fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// One action as people read it, its target and scope by their short names (`web-alb`
/// for a load balancer's ARN; the full ids are in the JSON). The only place that reads
/// an action's fields for the message (the JSON body serialises actions whole), so a
/// change to [`Action`] is adapted here.
pub fn action_line(action: &Action) -> String {
    let detail = action
        .detail
        .as_deref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    format!(
        "{} {} in {}: {}{}",
        action.kind.as_str(),
        short_name(&action.target.id),
        short_name(&action.scope.id),
        action.outcome.as_str(),
        detail
    )
}

/// The body for e-mail: what happened and why, what broke with the evidence in
/// numbers (and the first few things not serving), what Rebound did, what to check
/// next, links.
fn readable(facts: &Facts<'_>, digest: &Digest, caps: &Caps) -> String {
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
    if let Some(ttm) = incident.time_to_mitigate_s {
        // In words too once past a minute: `in 62 s (1 min 2 s)`, `in 25 s`.
        let words = if ttm >= 60 {
            format!(" ({})", human_duration(ttm))
        } else {
            String::new()
        };
        text.push_str(&format!("  Mitigated: in {ttm} s{words}\n"));
    }
    if let Some(by) = &incident.native_healing {
        text.push_str(&format!(
            "  Healed:    {} (no action by Rebound)\n",
            scalar(by)
        ));
    }
    if let Some(planned) = &incident.planned {
        text.push_str(&format!("  Planned:   {}\n", scalar(&planned.line())));
    }
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
    if let Some(approval) = &incident.approval {
        let status = match approval.state {
            ApprovalState::Requested if approval.is_expired(incident.updated_at) => {
                format!("requested, expired at {}", when(approval.expires_at))
            }
            ApprovalState::Requested => format!("requested, until {}", when(approval.expires_at)),
            _ => approval.decision_text(),
        };
        text.push_str(&format!(
            "  Approval:  {} ({})\n",
            line(&status),
            line(&approval.intent)
        ));
    }
    if let Some(ack) = &incident.acknowledged {
        text.push_str(&format!(
            "  Acknowledged: by {} at {} (changes no longer page)\n",
            scalar(&ack.by),
            when(ack.at)
        ));
    }

    if let Some(census) = digest.census.as_ref().filter(|c| c.total > 0) {
        text.push_str(&format!("\nEvidence: {}\n", census.counted()));
        let shown = census.counts.len().min(caps.counts);
        for (label, count) in &census.counts[..shown] {
            text.push_str(&format!("  {}: {count}\n", line(label)));
        }
        if shown < census.counts.len() {
            let rest: usize = census.counts[shown..].iter().map(|(_, n)| n).sum();
            text.push_str(&format!(
                "  … {} other states and reasons: {rest}\n",
                census.counts.len() - shown
            ));
        }
        let listed = census.listed.len().min(caps.listed);
        if listed > 0 {
            let heading = census.listed_heading;
            if listed == census.listed_total {
                text.push_str(&format!("{heading}:\n"));
            } else {
                text.push_str(&format!(
                    "{heading} (first {listed} of {}):\n",
                    census.listed_total
                ));
            }
            for entry in &census.listed[..listed] {
                text.push_str(&format!("  - {}\n", line(entry)));
            }
        }
    }

    for (i, fact) in digest.facts.iter().enumerate() {
        let gap = if i == 0 { "\n" } else { "" };
        text.push_str(&format!("{gap}{}{}\n", fact.label, line(&fact.value)));
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

/// The JSON body: the incident as `rebound incidents --json` prints it, every scalar
/// field kept, its lists capped, and beside it what the readable body says (severity,
/// name, reason, next steps, console link). Serialised once; each composition takes its
/// share.
struct Document {
    previous: Option<IncidentState>,
    /// The incident without its lists.
    incident: Map<String, Value>,
    /// Every list directly in the evidence (targets, group names, …), by key.
    evidence_lists: Vec<(String, Vec<Value>)>,
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
        let evidence_lists = match map.get_mut("evidence").and_then(Value::as_object_mut) {
            Some(evidence) => {
                let keys: Vec<String> = evidence
                    .iter()
                    .filter(|(_, value)| value.is_array())
                    .map(|(key, _)| key.clone())
                    .collect();
                keys.into_iter()
                    .map(|key| {
                        let list = take_list(evidence, &key);
                        (key, list)
                    })
                    .collect()
            }
            None => Vec::new(),
        };
        Self {
            previous: facts.previous,
            actions: take_list(&mut map, "actions"),
            timeline: take_list(&mut map, "timeline"),
            incident: map,
            evidence_lists,
            severity: facts.severity,
            resource_name: bounded(limits::one_line(&facts.name), MAX_SCALAR_CHARS),
            reason: limits::one_line(facts.reason),
            next_steps: facts.next_steps,
            console_url: facts.console_url().map(str::to_owned),
        }
    }

    /// The evidence's lists keep their first entries (what was seen first), actions and
    /// the timeline the last ones (where the incident is now). `omitted` and
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
        let lists: Vec<(&str, Vec<Value>, usize)> = self
            .evidence_lists
            .iter()
            .map(|(key, list)| {
                let kept = keep(first(list, caps.evidence_entries));
                let left_out = list.len() - kept.len();
                (key.as_str(), kept, left_out)
            })
            .collect();
        let actions = keep(last(&self.actions, caps.actions));
        let timeline = keep(last(&self.timeline, caps.timeline));
        let mut reason = Value::String(self.reason.clone());
        shortened += shorten_texts(&mut reason, caps.detail_chars);
        let mut omitted = Map::new();
        for (key, _, left_out) in &lists {
            omitted.insert((*key).to_owned(), json!(left_out));
        }
        omitted.insert("actions".into(), json!(self.actions.len() - actions.len()));
        omitted.insert(
            "timeline".into(),
            json!(self.timeline.len() - timeline.len()),
        );
        let omitted = Value::Object(omitted);
        let truncated = shortened > 0
            || omitted
                .as_object()
                .is_some_and(|o| o.values().any(|n| n.as_u64() != Some(0)));
        if let Some(evidence) = incident
            .entry("evidence")
            .or_insert_with(|| json!({}))
            .as_object_mut()
        {
            for (key, kept, _) in lists {
                evidence.insert(key.to_owned(), Value::Array(kept));
            }
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
