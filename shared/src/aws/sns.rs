use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;
use serde_json::json;

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
    .to_string()
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
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&notification.subject)
            .message_structure("json")
            .message(message_by_protocol(notification))
            .message_attributes("severity", attribute(&notification.severity)?)
            .message_attributes("resource_type", attribute(&notification.resource_type)?)
            .message_attributes("state", attribute(&notification.state)?)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("Publish", e))
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_sns::operation::publish::PublishOutput;
    use aws_smithy_mocks::{mock, mock_client};

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
        };
        SnsNotifier::new(client, "arn:aws:sns:us-east-1:1:t")
            .publish(&notification)
            .await
            .unwrap();
        assert_eq!(rule.num_calls(), 1);
    }
}
