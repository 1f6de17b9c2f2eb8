//! `incident-notifier`: the incidents table's stream in, one SNS message per incident
//! state change out. It is the only publisher, so people hear about each change once
//! whatever function made it.

pub use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::dynamodb::EventRecord;
use aws_lambda_events::event::streams::DynamoDbBatchItemFailure;
pub use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_smithy_types::error::display::DisplayErrorContext;
use serde_json::json;
use tracing::{info, warn};

use crate::domain::{Incident, IncidentState};
use crate::error::{bounded, Error};
use crate::ports::{Notification, Notifier};
use crate::telemetry::{self, Metric};

/// SNS rejects e-mail subjects longer than this.
pub const MAX_SUBJECT_CHARS: usize = 100;

/// Schema tag of the machine-readable body, so consumers can dispatch on it.
pub const MESSAGE_SCHEMA: &str = "rebound.incident-state-change/1";

pub struct NotifierHandler<N> {
    pub notifier: N,
}

/// A stream record that is an incident state change worth announcing.
#[derive(Debug)]
struct StateChange {
    incident: Incident,
    previous: Option<IncidentState>,
}

impl<N: Notifier> NotifierHandler<N> {
    pub fn new(notifier: N) -> Self {
        Self { notifier }
    }

    /// Publishes in stream order and stops at the first failure: Lambda retries the
    /// batch from the lowest reported sequence number, so everything after it comes back
    /// anyway and publishing it now would only duplicate it.
    pub async fn handle(&self, event: StreamEvent) -> Result<DynamoDbEventResponse, Error> {
        let mut response = DynamoDbEventResponse::default();
        let mut published = 0;
        for record in &event.records {
            let result = match state_change(record) {
                Ok(None) => Ok(()),
                Ok(Some(change)) => {
                    let notification = notification_for(&change.incident, change.previous);
                    self.notifier.publish(&notification).await.map(|()| {
                        published += 1;
                        info!(incident_id = %change.incident.id, state = change.incident.state.as_str(), "notified");
                    })
                }
                Err(err) => Err(err),
            };
            if let Err(err) = result {
                warn!(event_id = ?record.event_id, error = %DisplayErrorContext(&err), retryable = err.is_retryable(), "record not delivered; reporting it for retry");
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = record.change.sequence_number.clone();
                response.batch_item_failures.push(failure);
                break;
            }
        }
        telemetry::emit(
            &[("Function", "incident-notifier")],
            &[
                Metric::count("NotificationsPublished", published),
                Metric::count("NotificationsFailed", response.batch_item_failures.len()),
            ],
        );
        Ok(response)
    }
}

/// Decodes a record; `None` when it is not an incident or its state did not change.
fn state_change(record: &EventRecord) -> Result<Option<StateChange>, Error> {
    let new_image = &record.change.new_image;
    if kind_of(new_image) != Some("incident") {
        return Ok(None);
    }
    let key = record.event_id.clone();
    let incident: Incident =
        serde_dynamo::from_item(new_image.clone()).map_err(|e| Error::CorruptRecord {
            key: key.clone(),
            source: Box::new(e),
        })?;
    let previous = match record.change.old_image.get("state") {
        None => None,
        Some(_) => {
            let old: PreviousState = serde_dynamo::from_item(record.change.old_image.clone())
                .map_err(|e| Error::CorruptRecord {
                    key,
                    source: Box::new(e),
                })?;
            Some(old.state)
        }
    };
    if previous == Some(incident.state) {
        return Ok(None);
    }
    Ok(Some(StateChange { incident, previous }))
}

#[derive(serde::Deserialize)]
struct PreviousState {
    state: IncidentState,
}

fn kind_of(item: &serde_dynamo::Item) -> Option<&str> {
    match item.get("kind") {
        Some(serde_dynamo::AttributeValue::S(kind)) => Some(kind.as_str()),
        _ => None,
    }
}

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

/// The message for one state change: a subject that fits SNS, a readable body, a JSON
/// body, and the attributes subscription filter policies match on.
pub fn notification_for(incident: &Incident, previous: Option<IncidentState>) -> Notification {
    let state = incident.state;
    let latest = incident
        .timeline
        .last()
        .map(|t| t.detail.as_str())
        .unwrap_or("");
    let subject = bounded(
        format!(
            "[Rebound] {} {} {}: {}",
            state.as_str().to_uppercase(),
            incident.resource.kind.as_str(),
            short_name(&incident.resource.id),
            latest
        ),
        MAX_SUBJECT_CHARS,
    );

    let mut text = format!(
        "Incident {id} is now {state}{from}.\n\nResource:  {kind} {rid}\nOpened:    {opened}\nTrigger:   {trigger}\n",
        id = incident.id,
        state = state.as_str(),
        from = previous.map(|p| format!(" (was {})", p.as_str())).unwrap_or_default(),
        kind = incident.resource.kind.as_str(),
        rid = incident.resource.id,
        opened = incident.opened_at.to_rfc3339(),
        trigger = incident.trigger,
    );
    if let Some(ttr) = incident.time_to_recover_s {
        text.push_str(&format!("Recovered: in {ttr} s\n"));
    }
    text.push_str(&format!("\nLatest: {latest}\n"));
    let unhealthy: Vec<_> = incident
        .evidence
        .targets
        .iter()
        .filter(|t| t.reason.is_some())
        .map(|t| {
            format!(
                "  - {} {:?}: {}",
                t.instance_id,
                t.state,
                t.reason.as_deref().unwrap_or("")
            )
        })
        .collect();
    if !unhealthy.is_empty() {
        text.push_str(&format!("\nEvidence:\n{}\n", unhealthy.join("\n")));
    }
    if !incident.actions.is_empty() {
        text.push_str("\nActions:\n");
        for action in &incident.actions {
            text.push_str(&format!(
                "  - {} {} in {}: {}{}\n",
                action.kind.as_str(),
                action.target.id,
                action.scope.id,
                action.outcome.as_str(),
                action
                    .detail
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default(),
            ));
        }
    }
    text.push_str(&format!(
        "\nTimeline: rebound incidents show {}\n",
        incident.id
    ));

    let machine = json!({
        "schema": MESSAGE_SCHEMA,
        "previous_state": previous.map(IncidentState::as_str),
        "incident": incident,
    })
    .to_string();
    Notification {
        subject,
        text,
        json: machine,
        severity: severity(state).to_owned(),
        resource_type: incident.resource.kind.as_str().to_owned(),
        state: state.as_str().to_owned(),
    }
}

#[cfg(test)]
mod tests;
