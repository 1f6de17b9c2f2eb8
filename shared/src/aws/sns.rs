use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;
use serde_json::{json, Value};

use super::classify;
use crate::error::Error;
use crate::ports::{Notification, Notifier};

#[derive(Clone)]
pub struct SnsNotifier {
    client: Client,
    topic_arn: String,
}

impl SnsNotifier {
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

/// The per-protocol message (`MessageStructure=json`): people get the readable text,
/// machines the JSON document.
pub fn message_by_protocol(notification: &Notification) -> String {
    messages_by_protocol(notification).to_string()
}

/// [`message_by_protocol`] as a JSON object, for embedding it without escaping it twice.
pub(crate) fn messages_by_protocol(notification: &Notification) -> Value {
    json!({
        "default": notification.text,
        "email": notification.text,
        "sms": notification.subject,
        "email-json": notification.json,
        "sqs": notification.json,
        "lambda": notification.json,
        "http": notification.json,
        "https": notification.json,
        "firehose": notification.json,
    })
}

fn attribute(value: &str) -> Result<MessageAttributeValue, Error> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| Error::build("Publish", e))
}

impl Notifier for SnsNotifier {
    async fn publish(&self, notification: &Notification) -> Result<(), Error> {
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&notification.subject)
            .message_structure("json")
            .message(message_by_protocol(notification));
        for (name, value) in notification.attributes() {
            request = request.message_attributes(name, attribute(value)?);
        }
        request
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("Publish", e))
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_sns::operation::publish::{PublishError, PublishOutput};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    #[tokio::test]
    async fn a_notification_is_published_as_json_structure_with_filterable_attributes() {
        let rule = mock!(Client::publish)
            .match_requests(|req| {
                let attrs = req.message_attributes().unwrap();
                let message: serde_json::Value =
                    serde_json::from_str(req.message().unwrap()).unwrap();
                req.topic_arn() == Some("arn:aws:sns:us-east-1:1:t")
                    && req.message_structure() == Some("json")
                    && req.subject()
                        == Some("[Rebound] OPEN target-group web: 1 of 4 targets unhealthy")
                    && attrs["severity"].string_value() == Some("warning")
                    && attrs["resource_type"].string_value() == Some("target-group")
                    && attrs["state"].string_value() == Some("open")
                    && message["default"] == "readable"
                    && message["sqs"] == "{\"schema\":1}"
            })
            .then_output(|| PublishOutput::builder().message_id("m-1").build());
        let client = mock_client!(aws_sdk_sns, [&rule]);
        let notification = Notification {
            subject: "[Rebound] OPEN target-group web: 1 of 4 targets unhealthy".into(),
            text: "readable".into(),
            json: "{\"schema\":1}".into(),
            severity: "warning".into(),
            resource_type: "target-group".into(),
            state: "open".into(),
            drill: false,
        };
        SnsNotifier::new(client, "arn:aws:sns:us-east-1:1:t")
            .publish(&notification)
            .await
            .unwrap();
        assert_eq!(rule.num_calls(), 1);
    }

    fn notification() -> Notification {
        Notification {
            subject: "[Rebound] OPEN target-group web: 1 of 4 targets unhealthy".into(),
            text: "readable".into(),
            json: "{}".into(),
            severity: "warning".into(),
            resource_type: "target-group".into(),
            state: "open".into(),
            drill: false,
        }
    }

    async fn publish_failing_with(code: &'static str) -> Error {
        let rule = mock!(Client::publish).then_error(move || {
            PublishError::generic(
                ErrorMetadata::builder()
                    .code(code)
                    .message("refused")
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&rule], |c| c
            .retry_config(aws_smithy_types::retry::RetryConfig::disabled()));
        SnsNotifier::new(client, "arn:aws:sns:us-east-1:1:t")
            .publish(&notification())
            .await
            .unwrap_err()
    }

    #[tokio::test]
    async fn a_publish_sns_refuses_on_its_merits_is_not_retryable() {
        for code in [
            "InvalidParameter",
            "AuthorizationError",
            "KMSDisabled",
            "NotFound",
        ] {
            let err = publish_failing_with(code).await;
            assert!(!err.is_retryable(), "{code}: {err}");
            assert!(err.to_string().contains(code), "{err}");
        }
    }

    #[tokio::test]
    async fn a_throttled_publish_is_retryable() {
        for code in ["Throttling", "Throttled", "KMSThrottling"] {
            assert!(publish_failing_with(code).await.is_retryable(), "{code}");
        }
    }
}
