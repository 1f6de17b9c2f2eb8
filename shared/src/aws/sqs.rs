//! The failure destination for notifications SNS refused for good: one SQS message per
//! notification, holding everything needed to publish it again by hand.

use aws_sdk_sqs::Client;
use serde_json::{json, Map, Value};

use super::classify;
use super::LazyClient;
use crate::domain::IncidentState;
use crate::error::Error;
use crate::ports::{Channel, FailedNotification, FailedNotifications};

/// Schema tag of a parked notification, so a reader can dispatch on it.
pub const FAILED_NOTIFICATION_SCHEMA: &str = "rebound.failed-notification/1";

#[derive(Clone)]
pub struct SqsFailedNotifications {
    client: LazyClient<Client>,
    queue_url: String,
}

impl SqsFailedNotifications {
    pub fn new(client: impl Into<LazyClient<Client>>, queue_url: impl Into<String>) -> Self {
        Self {
            client: client.into(),
            queue_url: queue_url.into(),
        }
    }
}

/// The message body. `message` is what SNS was given: for the notifications topic
/// (`channel` `topic`) the per-protocol object, so `aws sns publish --message-structure
/// json --message "$(jq -c .message)"` (with the subject and attributes) sends it again;
/// for the chat topic (`channel` `chatbot`, no `message_structure`) the custom
/// notification, published as is. Embedded as an object, not a string, so it is not
/// escaped a second time and the body stays about the size of the message.
fn failed_notification_body(failed: &FailedNotification) -> String {
    let notification = &failed.notification;
    let attributes: Map<String, Value> = notification
        .attributes()
        .iter()
        .map(|(name, value)| ((*name).to_owned(), Value::String((*value).to_owned())))
        .collect();
    let (structure, message) = match failed.channel {
        Channel::Topic => (Some("json"), notification.by_protocol()),
        Channel::Chatbot => (
            None,
            serde_json::from_str(&notification.chatbot)
                .unwrap_or_else(|_| Value::String(notification.chatbot.clone())),
        ),
    };
    json!({
        "schema": FAILED_NOTIFICATION_SCHEMA,
        "incident_id": failed.incident_id.as_str(),
        "state": failed.state.as_str(),
        "previous_state": failed.previous_state.map(IncidentState::as_str),
        "channel": failed.channel.as_str(),
        "subject": notification.subject,
        "message_structure": structure,
        "message": message,
        "message_attributes": attributes,
        "error": failed.error,
        "sequence_number": failed.sequence_number,
    })
    .to_string()
}

impl FailedNotifications for SqsFailedNotifications {
    async fn park(&self, failed: &FailedNotification) -> Result<(), Error> {
        // A lost answer makes the record come back and be parked twice; the sequence
        // number tells the copies apart from two changes.
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(failed_notification_body(failed))
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("SendMessage", e))
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_sqs::operation::send_message::{SendMessageError, SendMessageOutput};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::ids::IncidentId;
    use crate::ports::Notification;

    const QUEUE: &str =
        "https://sqs.us-east-1.amazonaws.com/123456789012/rebound-failed-notifications";

    fn failed() -> FailedNotification {
        FailedNotification {
            incident_id: IncidentId::parse("inc-20261126T101500Z-3f9a1c2b").unwrap(),
            state: IncidentState::Escalated,
            previous_state: Some(IncidentState::Remediating),
            notification: Notification {
                subject: "[Rebound] ESCALATED target-group web: budget used up".into(),
                text: "readable".into(),
                json: "{\"schema\":\"rebound.incident-state-change/1\"}".into(),
                chatbot: "{\"version\":\"1.0\",\"source\":\"custom\"}".into(),
                severity: "critical".into(),
                resource_type: "target-group".into(),
                state: "escalated".into(),
                resource_id: "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/1".into(),
                drill: false,
            },
            channel: Channel::Topic,
            error: "Publish failed: InvalidParameter: Invalid parameter: Message too long".into(),
            sequence_number: Some("4100000000012345678901".into()),
        }
    }

    #[tokio::test]
    async fn a_failed_notification_is_sent_to_the_queue_with_all_it_takes_to_publish_it_again() {
        let rule = mock!(Client::send_message)
            .match_requests(|req| {
                let body: Value = serde_json::from_str(req.message_body().unwrap()).unwrap();
                req.queue_url() == Some(QUEUE)
                    && body["schema"] == FAILED_NOTIFICATION_SCHEMA
                    && body["incident_id"] == "inc-20261126T101500Z-3f9a1c2b"
                    && body["state"] == "escalated"
                    && body["previous_state"] == "remediating"
                    && body["channel"] == "topic"
                    && body["subject"] == "[Rebound] ESCALATED target-group web: budget used up"
                    && body["message_structure"] == "json"
                    && body["message"]["default"] == "{\"schema\":\"rebound.incident-state-change/1\"}"
                    && body["message"]["email"] == "readable"
                    && body["message_attributes"]
                        == json!({"severity": "critical", "resource_type": "target-group", "state": "escalated",
                            "resource_id": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/1"})
                    && body["error"]
                        == "Publish failed: InvalidParameter: Invalid parameter: Message too long"
                    && body["sequence_number"] == "4100000000012345678901"
            })
            .then_output(|| SendMessageOutput::builder().message_id("m-1").build());
        let client = mock_client!(aws_sdk_sqs, [&rule]);
        SqsFailedNotifications::new(client, QUEUE)
            .park(&failed())
            .await
            .unwrap();
        assert_eq!(rule.num_calls(), 1);
    }

    #[test]
    fn the_parked_message_is_the_one_sns_was_given() {
        let failed = failed();
        let body: Value = serde_json::from_str(&failed_notification_body(&failed)).unwrap();
        assert_eq!(
            body["message"].to_string(),
            failed.notification.message_by_protocol()
        );
    }

    #[test]
    fn a_parked_chat_message_is_the_custom_notification_sent_without_a_structure() {
        let failed = FailedNotification {
            channel: Channel::Chatbot,
            ..failed()
        };
        let body: Value = serde_json::from_str(&failed_notification_body(&failed)).unwrap();
        assert_eq!(body["channel"], "chatbot");
        assert!(body["message_structure"].is_null());
        assert_eq!(
            body["message"],
            json!({"version": "1.0", "source": "custom"})
        );
    }

    #[tokio::test]
    async fn a_queue_that_cannot_be_reached_is_an_error_for_the_caller() {
        let rule = mock!(Client::send_message).then_error(|| {
            SendMessageError::generic(
                ErrorMetadata::builder()
                    .code("AWS.SimpleQueueService.NonExistentQueue")
                    .message("The specified queue does not exist.")
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&rule], |c| c
            .retry_config(aws_smithy_types::retry::RetryConfig::disabled()));
        let err = SqsFailedNotifications::new(client, QUEUE)
            .park(&failed())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("SendMessage"), "{err}");
        assert!(err.to_string().contains("NonExistentQueue"), "{err}");
    }
}
