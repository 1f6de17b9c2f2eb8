//! What invoked a function, read from the raw event into one of three shapes whatever
//! the path it came by: the schedule, a CloudWatch alarm that changed state (an
//! EventBridge state change, the alarm invoking the function as its action, or an SNS
//! notification), or another EventBridge event. Each kind's trigger parser
//! (`kinds::*::trigger`) turns these into the checks it asks for; every trigger shape has
//! a sample in `events/`, and anything else is answered with a clear "ignored", never an
//! action.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::error::Error;
pub use crate::shell::Parsed;

mod health;
mod sns;

pub use health::{HealthEvent, HEALTH_SOURCE, SCHEDULED_CHANGE};

/// What a raw event is.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// The schedule (`aws.events` "Scheduled Event").
    Schedule,
    /// A CloudWatch alarm changed state.
    Alarm(Alarm),
    /// Any other EventBridge event.
    Event(Event),
}

/// A CloudWatch alarm's state change, as every delivery path carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alarm {
    pub name: String,
    /// `ALARM`, `OK` or `INSUFFICIENT_DATA`.
    pub state: String,
    /// When the alarm entered that state (duplicate deliveries of one state change
    /// carry the same).
    pub since: Option<DateTime<Utc>>,
    /// The metrics the alarm watches (one, or those of a metric-math expression).
    pub metrics: Vec<AlarmMetric>,
    /// Where the alarm lives: from the envelope, else from the alarm's ARN.
    pub partition: String,
    pub region: Option<String>,
    pub account: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmMetric {
    pub namespace: String,
    pub name: String,
    pub dimensions: BTreeMap<String, String>,
}

impl Alarm {
    /// The metrics in `namespace` (named `name`, when given).
    pub fn metrics_in<'a>(
        &'a self,
        namespace: &'a str,
        name: Option<&'a str>,
    ) -> impl Iterator<Item = &'a AlarmMetric> + 'a {
        self.metrics
            .iter()
            .filter(move |m| m.namespace == namespace && name.is_none_or(|n| m.name == n))
    }

    /// How an incident records an alarm that started it.
    pub fn label(&self) -> String {
        format!("alarm:{}", self.name)
    }
}

/// An EventBridge event that is neither the schedule nor an alarm state change.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub source: String,
    pub detail_type: String,
    pub time: Option<DateTime<Utc>>,
    pub region: String,
    pub account: String,
    pub resources: Vec<String>,
    pub detail: Value,
}

impl Event {
    /// "is not a <function> trigger", for a kind's parser to say so.
    pub fn not_for(&self, function: &str) -> String {
        format!(
            "EventBridge event {:?} from {:?} is not a {function} trigger",
            self.detail_type, self.source
        )
    }
}

#[derive(Deserialize)]
struct EventBridgeEnvelope {
    #[serde(rename = "detail-type")]
    detail_type: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    time: Option<Value>,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    detail: Value,
}

/// The payload CloudWatch sends when an alarm invokes a Lambda function directly.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlarmActionEnvelope {
    alarm_arn: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    account_id: String,
    alarm_data: AlarmDetail,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlarmDetail {
    alarm_name: String,
    state: AlarmStateValue,
    #[serde(default)]
    configuration: AlarmConfiguration,
}

#[derive(Deserialize)]
struct AlarmStateValue {
    value: String,
    /// `2026-11-26T10:14:58.412+0000` (CloudWatch writes no colon in the offset).
    #[serde(default)]
    timestamp: Option<String>,
}

impl AlarmStateValue {
    fn since(&self) -> Option<DateTime<Utc>> {
        let text = self.timestamp.as_deref()?;
        DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z")
            .or_else(|_| DateTime::parse_from_rfc3339(text))
            .ok()
            .map(|at| at.with_timezone(&Utc))
    }
}

#[derive(Deserialize, Default)]
struct AlarmConfiguration {
    #[serde(default)]
    metrics: Vec<AlarmConfigurationMetric>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlarmConfigurationMetric {
    #[serde(default)]
    metric_stat: Option<MetricStat>,
}

#[derive(Deserialize)]
struct MetricStat {
    metric: Metric,
}

#[derive(Deserialize)]
struct Metric {
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    dimensions: BTreeMap<String, String>,
}

impl AlarmDetail {
    /// The alarm, located by the envelope's region and account, falling back to the
    /// alarm's ARN (which also carries the partition: aws, aws-cn, aws-us-gov).
    fn into_alarm(self, alarm_arn: &str, region: &str, account: &str) -> Alarm {
        let arn: Vec<&str> = alarm_arn.split(':').collect();
        let part = |i: usize| arn.get(i).copied().filter(|p| !p.is_empty());
        let non_empty = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
        Alarm {
            since: self.state.since(),
            name: self.alarm_name,
            state: self.state.value,
            metrics: self
                .configuration
                .metrics
                .into_iter()
                .filter_map(|m| m.metric_stat)
                .map(|s| AlarmMetric {
                    namespace: s.metric.namespace,
                    name: s.metric.name,
                    dimensions: s.metric.dimensions,
                })
                .collect(),
            partition: part(1).unwrap_or("aws").to_owned(),
            region: non_empty(region).or_else(|| part(3).map(str::to_owned)),
            account: non_empty(account).or_else(|| part(4).map(str::to_owned)),
        }
    }
}

/// Reads a raw event. An event of no known shape is ignored with the reason; a known
/// shape with a broken body is an invalid event (retrying cannot help).
pub fn read(event: &Value) -> Result<Parsed<Incoming>, Error> {
    match sns::unwrap(event)? {
        sns::SnsMessage::NotSns => {}
        sns::SnsMessage::NotAnAlarm(reason) => return Ok(Parsed::Ignored(reason)),
        // The notification's `Region` is a display name ("US East (N. Virginia)"): the
        // region comes from the alarm's ARN.
        sns::SnsMessage::Alarm(alarm) => {
            let alarm = *alarm;
            return Ok(Parsed::Trigger(Incoming::Alarm(alarm.detail.into_alarm(
                &alarm.alarm_arn,
                "",
                &alarm.account,
            ))));
        }
    }
    if event.get("detail-type").is_some() {
        let envelope: EventBridgeEnvelope = decode(event, "EventBridge event")?;
        return Ok(Parsed::Trigger(
            match (envelope.source.as_str(), envelope.detail_type.as_str()) {
                ("aws.events", "Scheduled Event") => Incoming::Schedule,
                ("aws.cloudwatch", "CloudWatch Alarm State Change") => {
                    let detail: AlarmDetail =
                        decode(&envelope.detail, "alarm state change detail")?;
                    let arn = envelope.resources.first().map(String::as_str).unwrap_or("");
                    Incoming::Alarm(detail.into_alarm(arn, &envelope.region, &envelope.account))
                }
                _ => Incoming::Event(Event {
                    time: envelope
                        .time
                        .and_then(|t| serde_json::from_value::<DateTime<Utc>>(t).ok()),
                    source: envelope.source,
                    detail_type: envelope.detail_type,
                    region: envelope.region,
                    account: envelope.account,
                    resources: envelope.resources,
                    detail: envelope.detail,
                }),
            },
        ));
    }
    if event.get("alarmData").is_some() {
        let envelope: AlarmActionEnvelope = decode(event, "CloudWatch alarm action payload")?;
        return Ok(Parsed::Trigger(Incoming::Alarm(
            envelope.alarm_data.into_alarm(
                &envelope.alarm_arn,
                &envelope.region,
                &envelope.account_id,
            ),
        )));
    }
    Ok(Parsed::Ignored(
        "unrecognised event shape: expected an EventBridge event (an alarm state change, a service event or the schedule), an alarm action or an SNS alarm notification"
            .into(),
    ))
}

/// For tests: an EventBridge "CloudWatch Alarm State Change" of the alarm `name` to ALARM,
/// on `metric` (`{"namespace", "name", "dimensions"}`).
#[cfg(test)]
pub(crate) fn alarm_state_change(name: &str, metric: Value) -> Value {
    serde_json::json!({
        "version": "0", "id": "1", "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch", "account": "123456789012", "region": "us-east-1",
        "time": "2026-11-26T10:15:00Z",
        "resources": [format!("arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}")],
        "detail": {
            "alarmName": name,
            "state": {"value": "ALARM", "timestamp": "2026-11-26T10:14:58.412+0000"},
            "configuration": {"metrics": [{"id": "m1", "metricStat": {"metric": metric, "period": 60, "stat": "Maximum"}, "returnData": true}]}
        }
    })
}

/// Decodes part of an event, naming what was malformed.
pub fn decode<T: serde::de::DeserializeOwned>(value: &Value, what: &str) -> Result<T, Error> {
    T::deserialize(value).map_err(|e| Error::InvalidEvent(format!("malformed {what}: {e}")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn alarm_change(metric: Value) -> Value {
        alarm_state_change("web-unhealthy", metric)
    }

    fn alarm(event: &Value) -> Alarm {
        match read(event).unwrap() {
            Parsed::Trigger(Incoming::Alarm(alarm)) => alarm,
            other => panic!("expected an alarm: {other:?}"),
        }
    }

    #[test]
    fn an_alarm_state_change_reads_as_its_name_state_time_metrics_and_place() {
        let alarm = alarm(&alarm_change(json!({
            "namespace": "AWS/ApplicationELB", "name": "UnHealthyHostCount",
            "dimensions": {"TargetGroup": "targetgroup/web/73e2d6bc24d8a067", "LoadBalancer": "app/alb/1"}
        })));
        assert_eq!(alarm.name, "web-unhealthy");
        assert_eq!(alarm.state, "ALARM");
        assert_eq!(
            alarm.since.unwrap().to_rfc3339(),
            "2026-11-26T10:14:58.412+00:00"
        );
        assert_eq!(alarm.region.as_deref(), Some("us-east-1"));
        assert_eq!(alarm.account.as_deref(), Some("123456789012"));
        assert_eq!(alarm.partition, "aws");
        let metric = alarm
            .metrics_in("AWS/ApplicationELB", Some("UnHealthyHostCount"))
            .next()
            .unwrap();
        assert_eq!(metric.dimensions["LoadBalancer"], "app/alb/1");
    }

    #[test]
    fn a_schedule_is_a_schedule_other_events_are_events_and_unknown_shapes_are_ignored() {
        let schedule = json!({"version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events", "account": "1", "region": "us-east-1", "resources": [], "detail": {}});
        assert_eq!(
            read(&schedule).unwrap(),
            Parsed::Trigger(Incoming::Schedule)
        );
        let rds = json!({"detail-type": "RDS DB Instance Event", "source": "aws.rds", "time": "2026-11-26T10:15:02Z", "detail": {"EventID": "RDS-EVENT-0049"}});
        let Parsed::Trigger(Incoming::Event(event)) = read(&rds).unwrap() else {
            panic!("expected an event");
        };
        assert_eq!(event.source, "aws.rds");
        assert_eq!(
            event.time.unwrap().to_rfc3339(),
            "2026-11-26T10:15:02+00:00"
        );
        for other in [
            json!({}),
            json!([1, 2]),
            json!("text"),
            json!({"Records": []}),
        ] {
            assert!(
                matches!(read(&other).unwrap(), Parsed::Ignored(_)),
                "{other}"
            );
        }
    }

    #[test]
    fn a_state_change_with_a_broken_detail_is_an_invalid_event() {
        let event = json!({"detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch", "detail": {"alarmName": 5}});
        assert!(matches!(read(&event), Err(Error::InvalidEvent(_))));
    }

    fn via_sns(message: Value) -> Value {
        json!({"Records": [{
            "EventSource": "aws:sns", "EventVersion": "1.0",
            "Sns": {"Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:123456789012:ops",
                    "Message": message.to_string()}
        }]})
    }

    #[test]
    fn an_alarm_delivered_through_sns_reads_like_the_eventbridge_shape() {
        let message = json!({
            "AlarmName": "web-unhealthy", "AWSAccountId": "123456789012",
            "NewStateValue": "ALARM", "Region": "US East (N. Virginia)",
            "StateChangeTime": "2026-11-26T10:14:58.412+0000",
            "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-unhealthy",
            "Trigger": {"MetricName": "UnHealthyHostCount", "Namespace": "AWS/ApplicationELB",
                        "Dimensions": [{"name": "TargetGroup", "value": "targetgroup/web/73e2d6bc24d8a067"},
                                       {"name": "LoadBalancer", "value": "app/alb/1"}]}
        });
        let sns = alarm(&via_sns(message));
        let eventbridge = alarm(&alarm_change(json!({
            "namespace": "AWS/ApplicationELB", "name": "UnHealthyHostCount",
            "dimensions": {"TargetGroup": "targetgroup/web/73e2d6bc24d8a067", "LoadBalancer": "app/alb/1"}
        })));
        assert_eq!(sns, eventbridge);
    }

    #[test]
    fn a_metric_math_alarm_through_sns_is_read_from_its_metrics() {
        let message = json!({
            "AlarmName": "web-unhealthy", "AWSAccountId": "123456789012", "NewStateValue": "OK",
            "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-unhealthy",
            "Trigger": {"Metrics": [{"Id": "m1", "MetricStat": {"Metric": {
                "Namespace": "AWS/ApplicationELB", "MetricName": "UnHealthyHostCount",
                "Dimensions": [{"name": "TargetGroup", "value": "targetgroup/web/73e2d6bc24d8a067"}]}}}]}
        });
        let alarm = alarm(&via_sns(message));
        assert_eq!(alarm.state, "OK");
        assert_eq!(alarm.metrics.len(), 1);
    }

    #[test]
    fn an_sns_message_that_is_not_an_alarm_is_ignored_and_a_broken_record_is_invalid() {
        assert!(matches!(
            read(&via_sns(json!({"hello": "world"}))).unwrap(),
            Parsed::Ignored(_)
        ));
        let broken = json!({"Records": [{"EventSource": "aws:sns", "Sns": {}}]});
        assert!(matches!(read(&broken), Err(Error::InvalidEvent(_))));
        let two = json!({"Records": [
            {"EventSource": "aws:sns", "Sns": {"Message": "{}"}},
            {"EventSource": "aws:sns", "Sns": {"Message": "{}"}}
        ]});
        assert!(matches!(read(&two), Err(Error::InvalidEvent(_))));
    }
}
