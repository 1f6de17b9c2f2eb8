use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;

use super::classify;
use super::LazyClient;
use crate::error::Error;
use crate::ports::{Channel, Notification, Notifier};

/// Publishes to one topic, in the form of its channel.
#[derive(Clone)]
pub struct SnsNotifier {
    client: LazyClient<Client>,
    topic_arn: String,
    channel: Channel,
}

impl SnsNotifier {
    /// The notifications topic: one message per protocol (`MessageStructure=json`).
    pub fn new(client: impl Into<LazyClient<Client>>, topic_arn: impl Into<String>) -> Self {
        Self {
            client: client.into(),
            topic_arn: topic_arn.into(),
            channel: Channel::Topic,
        }
    }

    /// The chat topic AWS Chatbot subscribes to. Chatbot renders a message only when the
    /// whole of it is a custom notification, so it gets that and nothing else.
    pub fn chatbot(client: impl Into<LazyClient<Client>>, topic_arn: impl Into<String>) -> Self {
        Self {
            client: client.into(),
            topic_arn: topic_arn.into(),
            channel: Channel::Chatbot,
        }
    }
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
        let request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&notification.subject);
        let mut request = match self.channel {
            Channel::Topic => request
                .message_structure("json")
                .message(notification.message_by_protocol()),
            Channel::Chatbot => request.message(&notification.chatbot),
        };
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
                    && attrs["resource_id"].string_value() == Some(TG)
                    && message
                        == serde_json::json!({
                            "default": "{\"schema\":1}",
                            "email": "readable",
                            "sms": "[Rebound] OPEN target-group web: 1 of 4 targets unhealthy",
                        })
            })
            .then_output(|| PublishOutput::builder().message_id("m-1").build());
        let client = mock_client!(aws_sdk_sns, [&rule]);
        let notification = Notification {
            json: "{\"schema\":1}".into(),
            drill: false,
            ..notification()
        };
        SnsNotifier::new(client, "arn:aws:sns:us-east-1:1:t")
            .publish(&notification)
            .await
            .unwrap();
        assert_eq!(rule.num_calls(), 1);
    }

    const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/1";

    fn notification() -> Notification {
        Notification {
            subject: "[Rebound] OPEN target-group web: 1 of 4 targets unhealthy".into(),
            text: "readable".into(),
            json: "{}".into(),
            chatbot: "{\"version\":\"1.0\",\"source\":\"custom\"}".into(),
            severity: "warning".into(),
            resource_type: "target-group".into(),
            state: "open".into(),
            resource_id: TG.into(),
            drill: false,
        }
    }

    #[tokio::test]
    async fn the_chat_topic_gets_the_custom_notification_whole_not_one_message_per_protocol() {
        let rule = mock!(Client::publish)
            .match_requests(|req| {
                req.topic_arn() == Some("arn:aws:sns:us-east-1:1:chat")
                    && req.message_structure().is_none()
                    && req.message() == Some("{\"version\":\"1.0\",\"source\":\"custom\"}")
                    && req.message_attributes().unwrap()["state"].string_value() == Some("open")
            })
            .then_output(|| PublishOutput::builder().message_id("m-2").build());
        let client = mock_client!(aws_sdk_sns, [&rule]);
        SnsNotifier::chatbot(client, "arn:aws:sns:us-east-1:1:chat")
            .publish(&notification())
            .await
            .unwrap();
        assert_eq!(rule.num_calls(), 1);
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
