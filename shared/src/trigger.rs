//! What invoked a function, parsed from the raw event. Every trigger shape has a sample
//! in `events/`; anything else is answered with a clear "ignored", never an action.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::domain::RdsEvent;
use crate::error::Error;
use crate::ids::{DbInstanceId, RdsEventId, TargetGroupArn};

mod sns;

const ALB_NAMESPACE: &str = "AWS/ApplicationELB";
const UNHEALTHY_HOST_COUNT: &str = "UnHealthyHostCount";
const RDS_NAMESPACE: &str = "AWS/RDS";
const DB_INSTANCE_DIMENSION: &str = "DBInstanceIdentifier";

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RdsTrigger {
    /// An alarm on an `AWS/RDS` metric of one DB instance changed state (EventBridge or
    /// the alarm's own action). ALARM means "this primary is sick"; any state is a reason
    /// to look.
    Alarm {
        instance: DbInstanceId,
        alarm_name: String,
        state: String,
        /// When the alarm entered that state (`state.timestamp`): duplicate deliveries
        /// of one state change carry the same.
        since: Option<DateTime<Utc>>,
    },
    /// An "RDS DB Instance Event": which instance, and the event (with its id) as
    /// evidence.
    Event {
        instance: DbInstanceId,
        event: RdsEvent,
    },
    /// The schedule: every managed DB instance and every open database incident.
    Sweep,
}

impl RdsTrigger {
    /// How the incident records what started it.
    pub fn label(&self) -> String {
        match self {
            Self::Alarm { alarm_name, .. } => format!("alarm:{alarm_name}"),
            Self::Event { event, .. } => match &event.id {
                Some(id) => format!("rds-event:{id}"),
                None => "rds-event".into(),
            },
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

/// The detail of an "RDS DB Instance Event" as EventBridge delivers it.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RdsEventDetail {
    #[serde(default)]
    event_categories: Vec<String>,
    #[serde(default)]
    source_type: String,
    #[serde(default)]
    source_arn: String,
    #[serde(default)]
    source_identifier: String,
    #[serde(default)]
    date: Option<DateTime<Utc>>,
    #[serde(default)]
    message: String,
    #[serde(rename = "EventID", default)]
    event_id: String,
}

pub fn parse_rds_event(event: &Value) -> Result<Parsed<RdsTrigger>, Error> {
    match sns::unwrap(event)? {
        sns::SnsMessage::NotSns => {}
        sns::SnsMessage::NotAnAlarm(reason) => return Ok(Parsed::Ignored(reason)),
        sns::SnsMessage::Alarm(alarm) => return rds_alarm_trigger(alarm.detail),
    }
    if event.get("detail-type").is_some() {
        let envelope: EventBridgeEnvelope = decode(event, "EventBridge event")?;
        return match (envelope.source.as_str(), envelope.detail_type.as_str()) {
            ("aws.events", "Scheduled Event") => Ok(Parsed::Trigger(RdsTrigger::Sweep)),
            ("aws.rds", "RDS DB Instance Event") => {
                let detail: RdsEventDetail = decode(&envelope.detail, "RDS event detail")?;
                let time = event
                    .get("time")
                    .and_then(|t| serde_json::from_value::<DateTime<Utc>>(t.clone()).ok());
                rds_event_trigger(detail, time)
            }
            ("aws.cloudwatch", "CloudWatch Alarm State Change") => {
                let detail: AlarmDetail = decode(&envelope.detail, "alarm state change detail")?;
                rds_alarm_trigger(detail)
            }
            (source, detail_type) => Ok(Parsed::Ignored(format!(
                "EventBridge event {detail_type:?} from {source:?} is not an rds-health trigger"
            ))),
        };
    }
    if event.get("alarmData").is_some() {
        let envelope: AlarmActionEnvelope = decode(event, "CloudWatch alarm action payload")?;
        return rds_alarm_trigger(envelope.alarm_data);
    }
    Ok(Parsed::Ignored(
        "unrecognised event shape: expected an RDS DB instance event, an alarm state change, an alarm action or a schedule"
            .into(),
    ))
}

fn rds_event_trigger(
    detail: RdsEventDetail,
    time: Option<DateTime<Utc>>,
) -> Result<Parsed<RdsTrigger>, Error> {
    if !detail.source_type.is_empty() && detail.source_type != "DB_INSTANCE" {
        return Ok(Parsed::Ignored(format!(
            "RDS event about a {} is not an rds-health trigger",
            detail.source_type
        )));
    }
    // The ARN names the instance exactly; SourceIdentifier is the fallback (older
    // events prefix it with `rds:`).
    let from_arn = detail
        .source_arn
        .split(':')
        .collect::<Vec<_>>()
        .get(5..7)
        .filter(|parts| parts[0] == "db")
        .map(|parts| parts[1].to_owned());
    let name = from_arn.unwrap_or_else(|| {
        detail
            .source_identifier
            .trim_start_matches("rds:")
            .to_owned()
    });
    let instance = DbInstanceId::parse(name).map_err(|e| Error::InvalidEvent(e.to_string()))?;
    let at = detail.date.or(time).ok_or_else(|| {
        Error::InvalidEvent(format!(
            "RDS event about {instance} has no Date and no time"
        ))
    })?;
    Ok(Parsed::Trigger(RdsTrigger::Event {
        instance,
        event: RdsEvent {
            // An event without a well-formed id is still recorded; it is never acted on.
            id: RdsEventId::parse(detail.event_id).ok(),
            categories: detail.event_categories,
            message: detail.message,
            at,
        },
    }))
}

fn rds_alarm_trigger(detail: AlarmDetail) -> Result<Parsed<RdsTrigger>, Error> {
    let metrics: Vec<&Metric> = detail
        .configuration
        .metrics
        .iter()
        .filter_map(|m| m.metric_stat.as_ref().map(|s| &s.metric))
        .filter(|m| m.namespace == RDS_NAMESPACE)
        .collect();
    if metrics.is_empty() {
        return Ok(Parsed::Ignored(format!(
            "alarm {:?} is not on an {RDS_NAMESPACE} metric",
            detail.alarm_name
        )));
    }
    let Some(name) = metrics
        .iter()
        .find_map(|m| m.dimensions.get(DB_INSTANCE_DIMENSION))
    else {
        return Ok(Parsed::Ignored(format!(
            "alarm {:?} has no {DB_INSTANCE_DIMENSION} dimension: not about one DB instance",
            detail.alarm_name
        )));
    };
    let instance =
        DbInstanceId::parse(name.as_str()).map_err(|e| Error::InvalidEvent(e.to_string()))?;
    Ok(Parsed::Trigger(RdsTrigger::Alarm {
        instance,
        since: detail.state.since(),
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

    fn rds_event(id: &str, category: &str) -> Value {
        json!({
            "version": "0", "id": "1", "detail-type": "RDS DB Instance Event", "source": "aws.rds",
            "account": "123456789012", "region": "us-east-1", "time": "2026-11-26T10:15:02Z",
            "resources": ["arn:aws:rds:us-east-1:123456789012:db:rebound-demo-db"],
            "detail": {
                "EventCategories": [category], "SourceType": "DB_INSTANCE",
                "SourceArn": "arn:aws:rds:us-east-1:123456789012:db:rebound-demo-db",
                "Date": "2026-11-26T10:15:01.123Z", "Message": "A Multi-AZ failover has completed.",
                "SourceIdentifier": "rebound-demo-db", "EventID": id
            }
        })
    }

    #[test]
    fn an_rds_instance_event_names_its_instance_and_keeps_id_category_and_date() {
        let Parsed::Trigger(RdsTrigger::Event { instance, event }) =
            parse_rds_event(&rds_event("RDS-EVENT-0049", "failover")).unwrap()
        else {
            panic!("expected an RDS event trigger");
        };
        assert_eq!(instance.as_str(), "rebound-demo-db");
        assert_eq!(event.id.unwrap().as_str(), "RDS-EVENT-0049");
        assert_eq!(event.categories, ["failover"]);
        assert_eq!(event.at.to_rfc3339(), "2026-11-26T10:15:01.123+00:00");
    }

    #[test]
    fn an_rds_event_without_a_usable_id_is_still_an_event_to_record() {
        let Parsed::Trigger(RdsTrigger::Event { event, .. }) =
            parse_rds_event(&rds_event("not-an-id", "notification")).unwrap()
        else {
            panic!("expected an RDS event trigger");
        };
        assert_eq!(event.id, None);
    }

    #[test]
    fn an_rds_event_naming_a_malformed_instance_is_an_invalid_event() {
        let mut event = rds_event("RDS-EVENT-0049", "failover");
        event["detail"]["SourceArn"] = json!("arn:aws:rds:us-east-1:1:db:bad--name");
        assert!(matches!(
            parse_rds_event(&event),
            Err(Error::InvalidEvent(_))
        ));
    }

    #[test]
    fn an_rds_alarm_names_its_db_instance_and_other_alarms_are_ignored() {
        let rds = alarm_change(json!({
            "namespace": "AWS/RDS", "name": "ReadLatency",
            "dimensions": {"DBInstanceIdentifier": "rebound-demo-db"}
        }));
        let mut rds = rds;
        rds["detail"]["state"]["timestamp"] = json!("2026-11-26T10:14:58.412+0000");
        let Parsed::Trigger(RdsTrigger::Alarm {
            instance,
            state,
            since,
            ..
        }) = parse_rds_event(&rds).unwrap()
        else {
            panic!("expected an alarm trigger");
        };
        assert_eq!(instance.as_str(), "rebound-demo-db");
        assert_eq!(state, "ALARM");
        assert_eq!(since.unwrap().to_rfc3339(), "2026-11-26T10:14:58.412+00:00");
        let cluster_level = alarm_change(json!({
            "namespace": "AWS/RDS", "name": "VolumeBytesUsed",
            "dimensions": {"DBClusterIdentifier": "c1"}
        }));
        assert!(matches!(
            parse_rds_event(&cluster_level).unwrap(),
            Parsed::Ignored(_)
        ));
        let alb = alarm_change(json!({
            "namespace": "AWS/ApplicationELB", "name": "UnHealthyHostCount",
            "dimensions": {"TargetGroup": "targetgroup/web/1"}
        }));
        assert!(matches!(parse_rds_event(&alb).unwrap(), Parsed::Ignored(_)));
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
