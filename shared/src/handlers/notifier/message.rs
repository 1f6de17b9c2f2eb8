//! The message for one incident state change: a one-line subject, a readable text for
//! e-mail and chat, a JSON document for machines, and the attributes subscription filter
//! policies match on. How much of the incident goes in is decided in [`super::limits`].

use serde_json::{json, Map, Value};

use super::limits::{self, Caps, CAPS, MAX_SCALAR_CHARS};
use crate::domain::{Action, Incident, IncidentState, TargetHealth, TargetState};
use crate::error::bounded;
use crate::ports::Notification;

/// Schema tag of the machine-readable body, so consumers can dispatch on it.
pub const MESSAGE_SCHEMA: &str = "rebound.incident-state-change/1";

pub fn severity(state: IncidentState) -> &'static str {
    match state {
        IncidentState::Escalated => "critical",
        IncidentState::Open | IncidentState::Remediating => "warning",
        IncidentState::Resolved | IncidentState::Suppressed => "info",
    }
}

/// The short name people know a resource by: `web` for `…:targetgroup/web/73e2…`.
fn short_name(resource_id: &str) -> &str {
    let tail = resource_id.rsplit(':').next().unwrap_or(resource_id);
    let mut parts = tail.split('/');
    match (parts.next(), parts.next()) {
        (Some(_), Some(name)) if !name.is_empty() => name,
        _ => tail,
    }
}

/// The message for one state change, within SNS's limits however big the incident.
pub fn notification_for(incident: &Incident, previous: Option<IncidentState>) -> Notification {
    let state = incident.state;
    let subject = limits::subject_line(&format!(
        "[Rebound] {}{} {} {}: {}",
        drill_tag(incident),
        state.as_str().to_uppercase(),
        incident.resource.kind.as_str(),
        short_name(&incident.resource.id),
        latest(incident)
    ));
    let evidence = EvidenceSummary::of(&incident.evidence.targets);
    let document = Document::of(incident, previous);
    limits::fit(|caps| Notification {
        subject: subject.clone(),
        text: readable(incident, previous, &evidence, caps),
        json: document.render(caps),
        severity: severity(state).to_owned(),
        resource_type: incident.resource.kind.as_str().to_owned(),
        state: state.as_str().to_owned(),
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

fn latest(incident: &Incident) -> &str {
    incident
        .timeline
        .last()
        .map(|t| t.detail.as_str())
        .unwrap_or("")
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
        let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Self {
            total: targets.len(),
            counts,
            not_healthy,
            not_healthy_total,
        }
    }
}

/// The body for e-mail and chat: what happened, the evidence in numbers with the first
/// few targets, the last actions.
fn readable(
    incident: &Incident,
    previous: Option<IncidentState>,
    evidence: &EvidenceSummary<'_>,
    caps: &Caps,
) -> String {
    let line = |text: &str| bounded(limits::one_line(text), caps.detail_chars);
    let scalar = |text: &str| bounded(limits::one_line(text), MAX_SCALAR_CHARS);
    let mut text = format!(
        "Incident {id} is now {state}{from}.\n\nResource:  {kind} {rid}\nOpened:    {opened}\nTrigger:   {trigger}\n",
        id = incident.id,
        state = incident.state.as_str(),
        from = previous.map(|p| format!(" (was {})", p.as_str())).unwrap_or_default(),
        kind = incident.resource.kind.as_str(),
        rid = scalar(&incident.resource.id),
        opened = incident.opened_at.to_rfc3339(),
        trigger = scalar(&incident.trigger),
    );
    if let Some(ttr) = incident.time_to_recover_s {
        text.push_str(&format!("Recovered: in {ttr} s\n"));
    }
    if let Some(drill) = &incident.drill {
        text.push_str(&format!(
            "Drill:     {} (a resilience drill caused this incident)\n",
            scalar(drill)
        ));
    }
    text.push_str(&format!("\nLatest: {}\n", line(latest(incident))));

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
                let reason = target
                    .reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                let entry = format!(
                    "{} {}{reason}",
                    target.instance_id,
                    state_name(&target.state)
                );
                text.push_str(&format!("  - {}\n", line(&entry)));
            }
        }
    }

    let actions = &incident.actions;
    if !actions.is_empty() {
        let listed = actions.len().min(caps.listed_actions);
        if listed == actions.len() {
            text.push_str("\nActions:\n");
        } else if listed == 0 {
            text.push_str(&format!("\nActions: {}\n", actions.len()));
        } else {
            text.push_str(&format!(
                "\nActions (last {listed} of {}):\n",
                actions.len()
            ));
        }
        for action in &actions[actions.len() - listed..] {
            text.push_str(&format!("  - {}\n", line(&action_line(action))));
        }
    }
    text.push_str(&format!(
        "\nTimeline: rebound incidents show {}\n",
        incident.id
    ));
    text
}

/// The JSON body: the incident as `rebound incidents --json` prints it, every scalar
/// field kept, its lists capped. Serialised once; each composition takes its share.
struct Document {
    previous: Option<IncidentState>,
    /// The incident without its lists.
    incident: Map<String, Value>,
    targets: Vec<Value>,
    auto_scaling_groups: Vec<Value>,
    actions: Vec<Value>,
    timeline: Vec<Value>,
}

impl Document {
    fn of(incident: &Incident, previous: Option<IncidentState>) -> Self {
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
            previous,
            actions: take_list(&mut map, "actions"),
            timeline: take_list(&mut map, "timeline"),
            incident: map,
            targets,
            auto_scaling_groups,
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
