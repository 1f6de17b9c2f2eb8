//! `incident-notifier`: the incidents table's stream in, one SNS message per incident
//! state change out. It is the only publisher, so people hear about each change once
//! whatever function made it. A message SNS refuses for good is parked in the
//! failed-notifications queue so the changes after it still go out.
//!
//! - [`message`]: what one message says.
//! - [`limits`]: what SNS accepts (subject, size), in one place.

mod limits;
mod message;

pub use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::dynamodb::EventRecord;
use aws_lambda_events::event::streams::DynamoDbBatchItemFailure;
pub use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_smithy_types::error::display::DisplayErrorContext;
use tracing::{error, info, warn};

pub use limits::{MAX_MESSAGE_BYTES, MAX_SUBJECT_CHARS};
pub use message::{action_line, notification_for, severity, MESSAGE_SCHEMA};

use crate::domain::{Incident, IncidentState};
use crate::error::Error;
use crate::ports::{FailedNotification, FailedNotifications, Notifier};
use crate::telemetry::{self, Metric};

pub struct NotifierHandler<N, F> {
    pub notifier: N,
    /// Where notifications SNS refuses for good go; `None` when
    /// `FAILED_NOTIFICATIONS_QUEUE_URL` is not set.
    pub failure_destination: Option<F>,
}

/// A stream record that is an incident state change worth announcing.
#[derive(Debug)]
struct StateChange {
    incident: Incident,
    previous: Option<IncidentState>,
}

/// What became of one stream record.
enum Delivery {
    /// Not an incident state change: nothing to say.
    Skipped,
    Published(Announced),
    /// Refused for good by SNS and kept in the failure destination.
    Parked(Announced),
}

/// The state change a delivered record announced, for the incident metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announced {
    pub state: IncidentState,
    pub time_to_recover_s: Option<i64>,
}

/// Metrics of the state changes announced in one batch: the notifier is the one place
/// that sees every change of every incident, whichever function made it.
/// `IncidentsEscalated` and `IncidentsResolved` count them; `TimeToRecover` holds one
/// value per verified recovery (an incident closed because its resource is gone has no
/// time to recover).
pub fn incident_metrics(announced: &[Announced]) -> Vec<Metric> {
    let count = |state| announced.iter().filter(|a| a.state == state).count();
    let mut metrics = vec![
        Metric::count("IncidentsEscalated", count(IncidentState::Escalated)),
        Metric::count("IncidentsResolved", count(IncidentState::Resolved)),
    ];
    metrics.extend(
        announced
            .iter()
            .filter(|a| a.state == IncidentState::Resolved)
            .filter_map(|a| a.time_to_recover_s)
            .map(|s| Metric::seconds("TimeToRecover", s)),
    );
    metrics
}

impl<N: Notifier, F: FailedNotifications> NotifierHandler<N, F> {
    pub fn new(notifier: N, failure_destination: Option<F>) -> Self {
        Self {
            notifier,
            failure_destination,
        }
    }

    /// Publishes in stream order and stops at the first record it cannot deliver: Lambda
    /// retries the batch from the lowest reported sequence number, so everything after
    /// it comes back anyway and publishing it now would only duplicate it. A record SNS
    /// refuses for good is parked instead, so it counts as delivered and the stream
    /// moves on; retrying it would fail the same way and hold back every later change.
    pub async fn handle(&self, event: StreamEvent) -> Result<DynamoDbEventResponse, Error> {
        let mut response = DynamoDbEventResponse::default();
        let (mut published, mut parked) = (0, 0);
        let mut announced = Vec::new();
        for record in &event.records {
            match self.deliver(record).await {
                Ok(Delivery::Skipped) => {}
                Ok(Delivery::Published(change)) => {
                    published += 1;
                    announced.push(change);
                }
                Ok(Delivery::Parked(change)) => {
                    parked += 1;
                    announced.push(change);
                }
                Err(err) => {
                    warn!(event_id = ?record.event_id, error = %DisplayErrorContext(&err), retryable = err.is_retryable(), "record not delivered; reporting it for retry");
                    let mut failure = DynamoDbBatchItemFailure::default();
                    failure.item_identifier = record.change.sequence_number.clone();
                    response.batch_item_failures.push(failure);
                    break;
                }
            }
        }
        let (counts, measurements): (Vec<Metric>, Vec<Metric>) = incident_metrics(&announced)
            .into_iter()
            .partition(|m| m.unit == "Count");
        let mut line = vec![
            Metric::count("NotificationsPublished", published),
            Metric::count("NotificationsParked", parked),
            Metric::count("NotificationsFailed", response.batch_item_failures.len()),
        ];
        line.extend(counts);
        telemetry::emit(&[("Function", "incident-notifier")], &line);
        // A line holds one value per metric name: one line per time to recover.
        for metric in measurements {
            telemetry::emit(&[("Function", "incident-notifier")], &[metric]);
        }
        Ok(response)
    }

    async fn deliver(&self, record: &EventRecord) -> Result<Delivery, Error> {
        let Some(change) = state_change(record)? else {
            return Ok(Delivery::Skipped);
        };
        let incident = &change.incident;
        let announced = Announced {
            state: incident.state,
            time_to_recover_s: incident.time_to_recover_s,
        };
        let notification = notification_for(incident, change.previous);
        let refusal = match self.notifier.publish(&notification).await {
            Ok(()) => {
                info!(incident_id = %incident.id, state = incident.state.as_str(), "notified");
                return Ok(Delivery::Published(announced));
            }
            Err(err) if err.is_retryable() => return Err(err),
            Err(err) => err,
        };
        let Some(destination) = &self.failure_destination else {
            error!(incident_id = %incident.id, state = incident.state.as_str(), error = %DisplayErrorContext(&refusal),
                "notification refused for good and FAILED_NOTIFICATIONS_QUEUE_URL is not set: reporting the record for retry, \
                 which holds back the stream until the event source mapping gives up on it");
            return Err(refusal);
        };
        let failed = FailedNotification {
            incident_id: incident.id.clone(),
            state: incident.state,
            previous_state: change.previous,
            notification,
            error: refusal.to_string(),
            sequence_number: record.change.sequence_number.clone(),
        };
        match destination.park(&failed).await {
            Ok(()) => {
                warn!(incident_id = %incident.id, state = incident.state.as_str(), error = %DisplayErrorContext(&refusal),
                    "notification refused for good; parked in the failed-notifications queue");
                Ok(Delivery::Parked(announced))
            }
            Err(err) => {
                error!(incident_id = %incident.id, state = incident.state.as_str(), publish_error = %DisplayErrorContext(&refusal),
                    error = %DisplayErrorContext(&err), "notification refused for good and could not be parked");
                Err(err)
            }
        }
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

#[cfg(test)]
mod tests;
