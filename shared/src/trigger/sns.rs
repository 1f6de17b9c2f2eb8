//! The classic alarm path many accounts already have: CloudWatch alarm → SNS topic →
//! Lambda subscription. The function receives an `aws:sns` record whose message is the
//! alarm's JSON notification (`AlarmName`, `NewStateValue`, `Trigger`), a different
//! shape from EventBridge's state change; it is turned into the same alarm detail, so
//! both paths are handled alike.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::{
    AlarmConfiguration, AlarmConfigurationMetric, AlarmDetail, AlarmStateValue, Metric, MetricStat,
};
use crate::error::Error;

/// An alarm notification taken out of its SNS envelope.
pub(super) struct SnsAlarm {
    pub detail: AlarmDetail,
    pub alarm_arn: String,
    pub account: String,
}

/// What the envelope held.
pub(super) enum SnsMessage {
    /// Not an SNS delivery at all.
    NotSns,
    /// An SNS delivery whose message is not an alarm notification.
    NotAnAlarm(String),
    Alarm(Box<SnsAlarm>),
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Notification {
    alarm_name: String,
    new_state_value: String,
    #[serde(default)]
    alarm_arn: String,
    #[serde(default, rename = "AWSAccountId")]
    account: String,
    /// `2026-11-26T10:15:00.000+0000`, the same form as EventBridge's state timestamp.
    #[serde(default)]
    state_change_time: Option<String>,
    #[serde(default)]
    trigger: Trigger,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Trigger {
    #[serde(default)]
    metric_name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    dimensions: Vec<Dimension>,
    /// Metric-math alarms list their metrics here instead.
    #[serde(default)]
    metrics: Vec<TriggerMetric>,
}

#[derive(Deserialize)]
struct Dimension {
    name: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TriggerMetric {
    #[serde(default)]
    metric_stat: Option<TriggerMetricStat>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TriggerMetricStat {
    metric: TriggerMetricName,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TriggerMetricName {
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    metric_name: String,
    #[serde(default)]
    dimensions: Vec<Dimension>,
}

fn metric(namespace: String, name: String, dimensions: Vec<Dimension>) -> AlarmConfigurationMetric {
    AlarmConfigurationMetric {
        metric_stat: Some(MetricStat {
            metric: Metric {
                namespace,
                name,
                dimensions: dimensions
                    .into_iter()
                    .map(|d| (d.name, d.value))
                    .collect::<BTreeMap<_, _>>(),
            },
        }),
    }
}

/// Unwraps an SNS delivery. SNS hands Lambda one record per invocation; more than one
/// is an event Rebound does not understand, reported rather than half handled.
pub(super) fn unwrap(event: &Value) -> Result<SnsMessage, Error> {
    let Some(records) = event.get("Records").and_then(Value::as_array) else {
        return Ok(SnsMessage::NotSns);
    };
    let is_sns = |r: &Value| r.get("EventSource").and_then(Value::as_str) == Some("aws:sns");
    if records.is_empty() || !records.iter().all(is_sns) {
        return Ok(SnsMessage::NotSns);
    }
    if records.len() != 1 {
        return Err(Error::InvalidEvent(format!(
            "expected one SNS record per invocation, got {}",
            records.len()
        )));
    }
    let message = records[0]
        .pointer("/Sns/Message")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::InvalidEvent("SNS record without Sns.Message".into()))?;
    let Ok(notification) = serde_json::from_str::<Notification>(message) else {
        return Ok(SnsMessage::NotAnAlarm(
            "the SNS message is not a CloudWatch alarm notification".into(),
        ));
    };
    let Trigger {
        metric_name,
        namespace,
        dimensions,
        metrics,
    } = notification.trigger;
    let mut alarm_metrics: Vec<AlarmConfigurationMetric> = metrics
        .into_iter()
        .filter_map(|m| m.metric_stat)
        .map(|s| {
            metric(
                s.metric.namespace,
                s.metric.metric_name,
                s.metric.dimensions,
            )
        })
        .collect();
    if let (Some(name), Some(namespace)) = (metric_name, namespace) {
        alarm_metrics.insert(0, metric(namespace, name, dimensions));
    }
    Ok(SnsMessage::Alarm(Box::new(SnsAlarm {
        detail: AlarmDetail {
            alarm_name: notification.alarm_name,
            state: AlarmStateValue {
                value: notification.new_state_value,
                timestamp: notification.state_change_time,
            },
            configuration: AlarmConfiguration {
                metrics: alarm_metrics,
            },
        },
        alarm_arn: notification.alarm_arn,
        account: notification.account,
    })))
}
