//! What invoked a function, parsed from the raw event. Every trigger shape has a sample
//! in `events/`; anything else is answered with a clear "ignored", never an action.

use serde::Deserialize;
use serde_json::Value;

use crate::error::Error;
use crate::ids::TargetGroupArn;

mod sns;

const ALB_NAMESPACE: &str = "AWS/ApplicationELB";
const UNHEALTHY_HOST_COUNT: &str = "UnHealthyHostCount";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetHealthTrigger {
    /// An `UnHealthyHostCount` alarm changed state, delivered by EventBridge or by the
    /// alarm invoking the function as its action. Any state is a reason to look: ALARM
    /// to act, OK to verify recovery.
    Alarm {
        target_group: TargetGroupArn,
        alarm_name: String,
        state: String,
    },
    /// The schedule: look at every managed target group and every open incident.
    Sweep,
}

impl TargetHealthTrigger {
    /// How the incident records what started it.
    pub fn label(&self) -> String {
        match self {
            Self::Alarm { alarm_name, .. } => format!("alarm:{alarm_name}"),
            Self::Sweep => "sweep".into(),
        }
    }
}

/// A parsed event: something to do, or a reason it is none of this function's business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    Trigger(T),
    Ignored(String),
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
}

#[derive(Deserialize, Default)]
struct AlarmConfiguration {
    #[serde(default)]
    metrics: Vec<AlarmMetric>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlarmMetric {
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
    dimensions: std::collections::BTreeMap<String, String>,
}

/// Where the alarm lives, to turn its `TargetGroup` dimension into an ARN.
struct AlarmOrigin<'a> {
    alarm_arn: &'a str,
    region: &'a str,
    account: &'a str,
}

pub fn parse_target_health_event(event: &Value) -> Result<Parsed<TargetHealthTrigger>, Error> {
    match sns::unwrap(event)? {
        sns::SnsMessage::NotSns => {}
        sns::SnsMessage::NotAnAlarm(reason) => return Ok(Parsed::Ignored(reason)),
        sns::SnsMessage::Alarm(alarm) => {
            // The region comes from the alarm's ARN: the notification's `Region` is a
            // display name ("US East (N. Virginia)").
            let origin = AlarmOrigin {
                alarm_arn: &alarm.alarm_arn,
                region: "",
                account: &alarm.account,
            };
            return alarm_trigger(alarm.detail, &origin);
        }
    }
    if event.get("detail-type").is_some() {
        let envelope: EventBridgeEnvelope = decode(event, "EventBridge event")?;
        return match (envelope.source.as_str(), envelope.detail_type.as_str()) {
            ("aws.events", "Scheduled Event") => Ok(Parsed::Trigger(TargetHealthTrigger::Sweep)),
            ("aws.cloudwatch", "CloudWatch Alarm State Change") => {
                let detail: AlarmDetail = decode(&envelope.detail, "alarm state change detail")?;
                let origin = AlarmOrigin {
                    alarm_arn: envelope.resources.first().map(String::as_str).unwrap_or(""),
                    region: &envelope.region,
                    account: &envelope.account,
                };
                alarm_trigger(detail, &origin)
            }
            (source, detail_type) => Ok(Parsed::Ignored(format!(
                "EventBridge event {detail_type:?} from {source:?} is not a target-health trigger"
            ))),
        };
    }
    if event.get("alarmData").is_some() {
        let envelope: AlarmActionEnvelope = decode(event, "CloudWatch alarm action payload")?;
        let origin = AlarmOrigin {
            alarm_arn: &envelope.alarm_arn,
            region: &envelope.region,
            account: &envelope.account_id,
        };
        return alarm_trigger(envelope.alarm_data, &origin);
    }
    Ok(Parsed::Ignored(
        "unrecognised event shape: expected an alarm state change, an alarm action or a schedule"
            .into(),
    ))
}

fn alarm_trigger(
    detail: AlarmDetail,
    origin: &AlarmOrigin<'_>,
) -> Result<Parsed<TargetHealthTrigger>, Error> {
    let metric = detail
        .configuration
        .metrics
        .iter()
        .filter_map(|m| m.metric_stat.as_ref().map(|s| &s.metric))
        .find(|m| m.namespace == ALB_NAMESPACE && m.name == UNHEALTHY_HOST_COUNT);
    let Some(metric) = metric else {
        return Ok(Parsed::Ignored(format!(
            "alarm {:?} is not on {ALB_NAMESPACE} {UNHEALTHY_HOST_COUNT}",
            detail.alarm_name
        )));
    };
    let full_name = metric.dimensions.get("TargetGroup").ok_or_else(|| {
        Error::InvalidEvent(format!(
            "alarm {:?} has no TargetGroup dimension",
            detail.alarm_name
        ))
    })?;
    // The alarm ARN carries the partition (aws, aws-cn, aws-us-gov); region and account
    // come from the envelope, falling back to the ARN.
    let arn_parts: Vec<&str> = origin.alarm_arn.split(':').collect();
    let partition = arn_parts
        .get(1)
        .copied()
        .filter(|p| !p.is_empty())
        .unwrap_or("aws");
    let region = non_empty(origin.region).or(arn_parts.get(3).copied());
    let account = non_empty(origin.account).or(arn_parts.get(4).copied());
    let (Some(region), Some(account)) = (region.and_then(non_empty), account.and_then(non_empty))
    else {
        return Err(Error::InvalidEvent(format!(
            "alarm {:?}: no region or account to build the target group ARN",
            detail.alarm_name
        )));
    };
    let target_group = TargetGroupArn::from_dimension(full_name, region, account, partition)
        .map_err(|e| Error::InvalidEvent(e.to_string()))?;
    Ok(Parsed::Trigger(TargetHealthTrigger::Alarm {
        target_group,
        alarm_name: detail.alarm_name,
        state: detail.state.value,
    }))
}

fn non_empty(s: &str) -> Option<&str> {
    Some(s).filter(|s| !s.is_empty())
}

fn decode<T: serde::de::DeserializeOwned>(value: &Value, what: &str) -> Result<T, Error> {
    T::deserialize(value).map_err(|e| Error::InvalidEvent(format!("malformed {what}: {e}")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn alarm_change(metric: Value) -> Value {
        json!({
            "version": "0", "id": "1", "detail-type": "CloudWatch Alarm State Change",
            "source": "aws.cloudwatch", "account": "123456789012", "region": "us-east-1",
            "time": "2026-11-26T10:15:00Z",
            "resources": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-unhealthy"],
            "detail": {
                "alarmName": "web-unhealthy",
                "state": {"value": "ALARM"},
                "configuration": {"metrics": [{"id": "m1", "metricStat": {"metric": metric, "period": 60, "stat": "Maximum"}, "returnData": true}]}
            }
        })
    }

    #[test]
    fn an_unhealthy_host_alarm_names_its_target_group() {
        let event = alarm_change(json!({
            "namespace": "AWS/ApplicationELB", "name": "UnHealthyHostCount",
            "dimensions": {"TargetGroup": "targetgroup/web/73e2d6bc24d8a067", "LoadBalancer": "app/alb/1"}
        }));
        let Parsed::Trigger(TargetHealthTrigger::Alarm {
            target_group,
            state,
            ..
        }) = parse_target_health_event(&event).unwrap()
        else {
            panic!("expected an alarm trigger");
        };
        assert_eq!(
            target_group.as_str(),
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2d6bc24d8a067"
        );
        assert_eq!(state, "ALARM");
    }

    #[test]
    fn an_alarm_on_another_metric_is_ignored() {
        let event = alarm_change(
            json!({"namespace": "AWS/EC2", "name": "CPUUtilization", "dimensions": {"InstanceId": "i-1"}}),
        );
        assert!(matches!(
            parse_target_health_event(&event).unwrap(),
            Parsed::Ignored(_)
        ));
    }

    #[test]
    fn an_unhealthy_host_alarm_without_target_group_is_an_invalid_event() {
        let event = alarm_change(
            json!({"namespace": "AWS/ApplicationELB", "name": "UnHealthyHostCount", "dimensions": {"LoadBalancer": "app/alb/1"}}),
        );
        let err = parse_target_health_event(&event).unwrap_err();
        assert!(matches!(err, Error::InvalidEvent(_)), "{err}");
    }

    #[test]
    fn a_malformed_target_group_dimension_is_an_invalid_event() {
        let event = alarm_change(
            json!({"namespace": "AWS/ApplicationELB", "name": "UnHealthyHostCount", "dimensions": {"TargetGroup": "nonsense"}}),
        );
        assert!(matches!(
            parse_target_health_event(&event),
            Err(Error::InvalidEvent(_))
        ));
    }

    #[test]
    fn a_schedule_is_a_sweep_and_unknown_shapes_are_ignored() {
        let schedule = json!({"version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events", "account": "1", "region": "us-east-1", "resources": [], "detail": {}});
        assert_eq!(
            parse_target_health_event(&schedule).unwrap(),
            Parsed::Trigger(TargetHealthTrigger::Sweep)
        );
        for other in [
            json!({}),
            json!([1, 2]),
            json!("text"),
            json!({"Records": []}),
        ] {
            assert!(matches!(
                parse_target_health_event(&other).unwrap(),
                Parsed::Ignored(_)
            ));
        }
    }

    #[test]
    fn a_state_change_with_a_broken_detail_is_an_invalid_event() {
        let event = json!({"detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch", "detail": {"alarmName": 5}});
        assert!(matches!(
            parse_target_health_event(&event),
            Err(Error::InvalidEvent(_))
        ));
    }

    fn via_sns(message: Value) -> Value {
        json!({"Records": [{
            "EventSource": "aws:sns", "EventVersion": "1.0",
            "Sns": {"Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:123456789012:ops",
                    "Message": message.to_string()}
        }]})
    }

    #[test]
    fn an_alarm_delivered_through_sns_names_its_target_group_like_the_eventbridge_shape() {
        let message = json!({
            "AlarmName": "web-unhealthy", "AWSAccountId": "123456789012",
            "NewStateValue": "ALARM", "Region": "US East (N. Virginia)",
            "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-unhealthy",
            "Trigger": {"MetricName": "UnHealthyHostCount", "Namespace": "AWS/ApplicationELB",
                        "Dimensions": [{"name": "TargetGroup", "value": "targetgroup/web/73e2d6bc24d8a067"},
                                       {"name": "LoadBalancer", "value": "app/alb/1"}]}
        });
        let parsed = parse_target_health_event(&via_sns(message)).unwrap();
        let eventbridge = parse_target_health_event(&alarm_change(json!({
            "namespace": "AWS/ApplicationELB", "name": "UnHealthyHostCount",
            "dimensions": {"TargetGroup": "targetgroup/web/73e2d6bc24d8a067", "LoadBalancer": "app/alb/1"}
        })))
        .unwrap();
        assert_eq!(parsed, eventbridge);
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
        match parse_target_health_event(&via_sns(message)).unwrap() {
            Parsed::Trigger(TargetHealthTrigger::Alarm { state, .. }) => assert_eq!(state, "OK"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_sns_message_that_is_not_an_alarm_is_ignored_and_a_broken_record_is_invalid() {
        assert!(matches!(
            parse_target_health_event(&via_sns(json!({"hello": "world"}))).unwrap(),
            Parsed::Ignored(_)
        ));
        let broken = json!({"Records": [{"EventSource": "aws:sns", "Sns": {}}]});
        assert!(matches!(
            parse_target_health_event(&broken),
            Err(Error::InvalidEvent(_))
        ));
        let two = json!({"Records": [
            {"EventSource": "aws:sns", "Sns": {"Message": "{}"}},
            {"EventSource": "aws:sns", "Sns": {"Message": "{}"}}
        ]});
        assert!(matches!(
            parse_target_health_event(&two),
            Err(Error::InvalidEvent(_))
        ));
    }
}
