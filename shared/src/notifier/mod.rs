//! `incident-notifier`: the incidents table's stream in, one SNS message per incident
//! state change out. It is the only publisher, so people hear about each change once
//! whatever function made it. A message SNS refuses for good is parked in the
//! failed-notifications queue so the changes after it still go out.
//!
//! Delivery is at least once and in order, never "at most once": a change may be
//! announced twice after a failure, but none is skipped. The stream delivers every write
//! of an incident as one record, in order per incident (new and old image); the handler
//! publishes in stream order and stops at the first record it cannot deliver, reporting
//! it as the batch item failure; Lambda then checkpoints only the records before it and
//! delivers the batch again from that record. Whatever the handler published from the
//! failed record onward is published again (repeated, not skipped), and a crash before
//! the handler answers makes the whole batch come back (repeated again). Only the event
//! source mapping can give up on a record, after `MaximumRetryAttempts`, and it then
//! sends the batch's description to its `OnFailure` destination: recorded, not silent.
//!
//! - [`message`]: what one message says, in every form, from what the incident's kind
//!   supplies (its evidence digest, its next steps, its resource types' names and links).
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
pub use message::{action_line, notification_at, notification_for, severity, MESSAGE_SCHEMA};

use crate::config::{ConfigError, Env, Variable};
use crate::domain::{Incident, IncidentState};
use crate::error::Error;
use crate::ports::{Channel, FailedNotification, FailedNotifications, Notification, Notifier};
use crate::readable::Location;
use crate::telemetry::{self, Metric};

/// The function that announces incidents.
pub const FUNCTION: &str = "incident-notifier";

pub const NOTIFY_TOPIC_ARN: Variable = Variable::required(
    "NOTIFY_TOPIC_ARN",
    "The incidents topic people and pagers subscribe to.",
);
pub const FAILED_NOTIFICATIONS_QUEUE_URL: Variable = Variable::optional(
    "FAILED_NOTIFICATIONS_QUEUE_URL",
    "Where notifications SNS refuses for good are parked; unset, they are retried until the event source mapping gives up.",
);
pub const CHATBOT_TOPIC_ARN: Variable = Variable::optional(
    "CHATBOT_TOPIC_ARN",
    "The topic AWS Chatbot subscribes to: when set, each change is also published there as a chat card.",
);

/// Where the notifier publishes.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub topic_arn: String,
    pub failed_notifications_queue_url: Option<String>,
    pub chatbot_topic_arn: Option<String>,
}

impl Config {
    pub const VARIABLES: &'static [Variable] = &[
        NOTIFY_TOPIC_ARN,
        FAILED_NOTIFICATIONS_QUEUE_URL,
        CHATBOT_TOPIC_ARN,
    ];

    pub fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            topic_arn: env.required(&NOTIFY_TOPIC_ARN)?,
            failed_notifications_queue_url: env.text(&FAILED_NOTIFICATIONS_QUEUE_URL)?,
            chatbot_topic_arn: env.text(&CHATBOT_TOPIC_ARN)?,
        })
    }
}

pub struct NotifierHandler<N, F> {
    /// The notifications topic.
    pub notifier: N,
    /// The chat topic AWS Chatbot subscribes to (`CHATBOT_TOPIC_ARN`), if any: it gets
    /// each change again as a custom notification.
    pub chat: Option<N>,
    /// Where notifications SNS refuses for good go; `None` when
    /// `FAILED_NOTIFICATIONS_QUEUE_URL` is not set.
    pub failure_destination: Option<F>,
}

/// A stream record that is an incident state change worth announcing.
#[derive(Debug)]
struct StateChange {
    incident: Incident,
    previous: Option<IncidentState>,
    /// Where the incident was recorded, from the stream's ARN: console links for
    /// resources named without an ARN.
    home: Option<Location>,
}

/// Messages of one invocation, for its metric line.
#[derive(Default)]
struct Counts {
    published: usize,
    /// Refused for good by SNS and kept in the failure destination.
    parked: usize,
}

impl<N: Notifier, F: FailedNotifications> NotifierHandler<N, F> {
    pub fn new(notifier: N, failure_destination: Option<F>) -> Self {
        Self {
            notifier,
            chat: None,
            failure_destination,
        }
    }

    /// Also announces every change on the chat topic.
    pub fn with_chat(mut self, chat: N) -> Self {
        self.chat = Some(chat);
        self
    }

    /// Publishes in stream order and stops at the first record it cannot deliver: Lambda
    /// retries the batch from the lowest reported sequence number, so everything after
    /// it comes back anyway and publishing it now would only duplicate it (and, were it
    /// to go on, a later change could overtake an earlier one). A record SNS refuses for
    /// good is parked instead, so it counts as delivered and the stream moves on;
    /// retrying it would fail the same way and hold back every later change.
    pub async fn handle(&self, event: StreamEvent) -> Result<DynamoDbEventResponse, Error> {
        let mut response = DynamoDbEventResponse::default();
        let mut counts = Counts::default();
        for record in &event.records {
            match self.deliver(record, &mut counts).await {
                Ok(()) => {}
                Err(err) => {
                    warn!(event_id = ?record.event_id, error = %DisplayErrorContext(&err), retryable = err.is_retryable(), "record not delivered; reporting it for retry");
                    let mut failure = DynamoDbBatchItemFailure::default();
                    failure.item_identifier = record.change.sequence_number.clone();
                    response.batch_item_failures.push(failure);
                    break;
                }
            }
        }
        telemetry::emit(
            &[("Function", FUNCTION)],
            &[
                Metric::count("NotificationsPublished", counts.published),
                Metric::count("NotificationsParked", counts.parked),
                Metric::count("NotificationsFailed", response.batch_item_failures.len()),
            ],
        );
        Ok(response)
    }

    /// Publishes one record's change to the topic, then to the chat topic. A failure on
    /// the chat topic makes the record come back whole, so the topic's message is then
    /// repeated: repeated, never skipped.
    async fn deliver(&self, record: &EventRecord, counts: &mut Counts) -> Result<(), Error> {
        let Some(change) = state_change(record)? else {
            return Ok(());
        };
        let notification = notification_at(&change.incident, change.previous, change.home.as_ref());
        self.deliver_to(
            &self.notifier,
            Channel::Topic,
            record,
            &change,
            &notification,
            counts,
        )
        .await?;
        if let Some(chat) = &self.chat {
            self.deliver_to(
                chat,
                Channel::Chatbot,
                record,
                &change,
                &notification,
                counts,
            )
            .await?;
        }
        Ok(())
    }

    async fn deliver_to(
        &self,
        notifier: &N,
        channel: Channel,
        record: &EventRecord,
        change: &StateChange,
        notification: &Notification,
        counts: &mut Counts,
    ) -> Result<(), Error> {
        let incident = &change.incident;
        let channel_name = channel.as_str();
        let refusal = match notifier.publish(notification).await {
            Ok(()) => {
                info!(incident_id = %incident.id, state = incident.state.as_str(), channel = channel_name, "notified");
                counts.published += 1;
                return Ok(());
            }
            Err(err) if err.is_retryable() => return Err(err),
            Err(err) => err,
        };
        let Some(destination) = &self.failure_destination else {
            error!(incident_id = %incident.id, state = incident.state.as_str(), channel = channel_name, error = %DisplayErrorContext(&refusal),
                "notification refused for good and FAILED_NOTIFICATIONS_QUEUE_URL is not set: reporting the record for retry, \
                 which holds back the stream until the event source mapping gives up on it");
            return Err(refusal);
        };
        let failed = FailedNotification {
            incident_id: incident.id.clone(),
            state: incident.state,
            previous_state: change.previous,
            notification: notification.clone(),
            channel,
            error: refusal.to_string(),
            sequence_number: record.change.sequence_number.clone(),
        };
        match destination.park(&failed).await {
            Ok(()) => {
                warn!(incident_id = %incident.id, state = incident.state.as_str(), channel = channel_name, error = %DisplayErrorContext(&refusal),
                    "notification refused for good; parked in the failed-notifications queue");
                counts.parked += 1;
                Ok(())
            }
            Err(err) => {
                error!(incident_id = %incident.id, state = incident.state.as_str(), channel = channel_name, publish_error = %DisplayErrorContext(&refusal),
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
            Some(old)
        }
    };
    // One message per state change, and one when the incident is first mitigated (a
    // zone's traffic shifted away): people hear that the impact ended, not only, much
    // later, that the zone recovered.
    let mitigated_now = incident.mitigated_at.is_some()
        && previous
            .as_ref()
            .is_some_and(|old| old.mitigated_at.is_none());
    let previous = previous.map(|old| old.state);
    if previous == Some(incident.state) && !mitigated_now {
        return Ok(None);
    }
    let home = record
        .event_source_arn
        .as_deref()
        .and_then(Location::of_arn);
    Ok(Some(StateChange {
        incident,
        previous,
        home,
    }))
}

#[derive(serde::Deserialize)]
struct PreviousState {
    state: IncidentState,
    #[serde(default)]
    mitigated_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn kind_of(item: &serde_dynamo::Item) -> Option<&str> {
    match item.get("kind") {
        Some(serde_dynamo::AttributeValue::S(kind)) => Some(kind.as_str()),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
