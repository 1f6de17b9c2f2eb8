//! The AWS Chatbot custom notification for one state change: a card in Slack or Microsoft
//! Teams with a title, a markdown description, next steps and keywords, threaded per
//! incident (`metadata.threadId`), so one incident's changes follow each other.
//!
//! Chatbot renders a message only when the whole SNS message is this document, which is
//! why it goes to a topic of its own (`CHATBOT_TOPIC_ARN`) rather than in the per-protocol
//! message of the notifications topic, whose `https` copy HTTP subscribers read as the
//! JSON document.

use serde_json::{json, Map, Value};

use super::{limits, Caps, Facts};
use crate::domain::IncidentState;
use crate::error::bounded;
use crate::kinds;
use crate::view::Digest;

/// Kept well inside what Chatbot and the chat clients show (a Slack text block holds
/// 3,000 characters): a card is read at a glance, the e-mail carries the rest.
pub const MAX_TITLE_CHARS: usize = 250;
pub const MAX_DESCRIPTION_CHARS: usize = 3_000;
const MAX_RELATED_RESOURCES: usize = 6;
/// Evidence lines (state and reason counts) on the card.
const CARD_REASON_COUNTS: usize = 3;
/// Actions listed on the card, the last ones.
const CARD_ACTIONS: usize = 3;

fn emoji(state: IncidentState) -> &'static str {
    match state {
        IncidentState::Open => ":warning:",
        IncidentState::Remediating => ":hammer_and_wrench:",
        IncidentState::Suppressed => ":double_vertical_bar:",
        IncidentState::Escalated => ":rotating_light:",
        IncidentState::Resolved => ":white_check_mark:",
        IncidentState::AwaitingApproval => ":raised_hand:",
    }
}

/// Free text in chat markdown: `&`, `<` and `>` would start entities and links.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Text for the card: one line, bounded, escaped.
fn card_text(text: &str, max: usize) -> String {
    escape(&bounded(limits::one_line(text), max))
}

pub(super) fn card(facts: &Facts<'_>, digest: &Digest, subject: &str, caps: &Caps) -> String {
    let incident = facts.incident;
    let detail = caps.detail_chars.min(200);
    let mut description = format!("*Why:* {}\n", card_text(facts.reason, detail));
    description.push_str(&format!(
        "*Resource:* {} `{}`\n",
        kinds::label(facts.kind),
        card_text(&incident.resource.id, 300)
    ));
    let mitigation = incident
        .time_to_mitigate_s
        .map(|ttm| format!(" · mitigated in {}", crate::readable::human_duration(ttm)))
        .unwrap_or_default()
        + &incident
            .native_healing
            .as_ref()
            .map(|by| format!(" · {}", card_text(by, 60)))
            .unwrap_or_default()
        + &incident
            .planned
            .as_ref()
            .map(|planned| format!(" · planned: {}", card_text(&planned.line(), 200)))
            .unwrap_or_default();
    let recovery = match (incident.resolved_at, incident.time_to_recover_s) {
        (Some(_), Some(ttr)) => format!(" · recovered in {}", crate::readable::human_duration(ttr)),
        (Some(_), None) => " · closed without a recovery".to_owned(),
        (None, _) => String::new(),
    };
    description.push_str(&format!(
        "*Incident:* `{}` · opened {}{mitigation}{recovery}\n",
        incident.id,
        super::when(incident.opened_at)
    ));
    if let Some(census) = digest.census.as_ref().filter(|c| c.total > 0) {
        let counts = census
            .counts
            .iter()
            .take(CARD_REASON_COUNTS)
            .map(|(label, n)| format!("{}: {n}", card_text(label, 100)))
            .collect::<Vec<_>>()
            .join(" · ");
        description.push_str(&format!(
            "*Evidence:* {} of {} {} ({counts})\n",
            census.listed_total,
            census.counted(),
            census.listed_heading.to_lowercase()
        ));
    }
    let (actions, note) = facts.what_rebound_did(CARD_ACTIONS, detail, false);
    description.push_str("*What Rebound did:*");
    match note {
        Some(note) if actions.is_empty() => {
            description.push_str(&format!(" {}\n", escape(&note)));
        }
        Some(note) => description.push_str(&format!(" ({})\n", escape(&note))),
        None => description.push('\n'),
    }
    for action in &actions {
        description.push_str(&format!("• {}\n", escape(action)));
    }
    let links: Vec<String> = facts
        .links
        .iter()
        .map(|(label, url)| format!("<{url}|{}>", escape(label)))
        .collect();
    if !links.is_empty() {
        description.push_str(&format!("{}\n", links.join(" · ")));
    }
    description.push_str(&format!(
        "Timeline: `rebound incidents show {}`",
        incident.id
    ));

    let mut related = vec![incident.resource.id.clone()];
    related.extend(
        digest
            .related
            .iter()
            .take(MAX_RELATED_RESOURCES - 1)
            .map(|r| r.id.clone()),
    );
    // Chatbot shows the context as text: strings only, and nothing for what is unknown.
    let mut context = Map::new();
    let mut put = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            context.insert(key.to_owned(), Value::String(value));
        }
    };
    put("incident_id", Some(incident.id.to_string()));
    put("state", Some(facts.state.as_str().to_owned()));
    put(
        "previous_state",
        facts.previous.map(|p| p.as_str().to_owned()),
    );
    put("severity", Some(facts.severity.to_owned()));
    put("resource_type", Some(facts.kind.to_owned()));
    put(
        "resource_id",
        Some(bounded(limits::one_line(&incident.resource.id), 1_024)),
    );
    put(
        "time_to_mitigate_s",
        incident.time_to_mitigate_s.map(|s| s.to_string()),
    );
    put("native_healing", incident.native_healing.clone());
    put(
        "planned",
        incident
            .planned
            .as_ref()
            .map(|p| bounded(p.event.clone(), 256)),
    );
    put(
        "time_to_recover_s",
        incident.time_to_recover_s.map(|s| s.to_string()),
    );
    put("console_url", facts.console_url().map(str::to_owned));
    json!({
        "version": "1.0",
        "source": "custom",
        "content": {
            "textType": "client-markdown",
            "title": bounded(
                format!("{} {}", emoji(facts.state), escape(&limits::one_line(&facts.headline()))),
                MAX_TITLE_CHARS,
            ),
            "description": bounded(description, MAX_DESCRIPTION_CHARS),
            "nextSteps": facts.next_steps,
            "keywords": [facts.state.as_str(), facts.severity, facts.kind, bounded(facts.name.to_string(), 50)],
        },
        "metadata": {
            "threadId": incident.id.as_str(),
            "summary": subject,
            "eventType": super::MESSAGE_SCHEMA,
            "relatedResources": related
                .iter()
                .map(|r| bounded(limits::one_line(r), 1_024))
                .collect::<Vec<_>>(),
            "additionalContext": context,
        },
    })
    .to_string()
}
