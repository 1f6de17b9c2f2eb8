//! What rds-health answers: an RDS DB instance event (matched on its id and category,
//! never its message), an alarm on an `AWS/RDS` metric of one DB instance (any state is
//! a reason to look; whether it may fail the database over is the database's to say),
//! AWS Health's announcement of maintenance on a DB instance, and the schedule.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::events::event_rule;
use super::observation::{AlarmState, RdsEvent, ScheduledMaintenance};
use super::policy::Cue;
use super::{db_cluster, db_instance, FUNCTION};
use crate::error::Error;
use crate::ids::{DbClusterId, DbInstanceId, RdsEventId};
use crate::shell::{Delivery, Parsed};
use crate::trigger::{decode, read, Alarm, Event, HealthEvent, Incoming, SCHEDULED_CHANGE};

const RDS_NAMESPACE: &str = "AWS/RDS";
const INSTANCE_EVENT: &str = "RDS DB Instance Event";
const CLUSTER_EVENT: &str = "RDS DB Cluster Event";
const DB_INSTANCE_DIMENSION: &str = "DBInstanceIdentifier";

pub fn parse(event: &Value) -> Result<Parsed<Delivery<Cue>>, Error> {
    match read(event)? {
        Parsed::Ignored(reason) => Ok(Parsed::Ignored(reason)),
        Parsed::Trigger(Incoming::Schedule) => Ok(Parsed::Trigger(Delivery::Sweep)),
        Parsed::Trigger(Incoming::Alarm(alarm)) => alarm_delivery(alarm),
        Parsed::Trigger(Incoming::Event(event))
            if event.source == "aws.rds"
                && (event.detail_type == INSTANCE_EVENT || event.detail_type == CLUSTER_EVENT) =>
        {
            event_delivery(&event)
        }
        Parsed::Trigger(Incoming::Event(event)) => match event.health() {
            Some(health) => health_delivery(health?),
            None => Ok(Parsed::Ignored(event.not_for(FUNCTION))),
        },
    }
}

/// Maintenance AWS Health announces on DB instances (a hardware maintenance, a system
/// upgrade): each managed instance it names gets a planned incident. An announcement
/// that is over (`closed`) is delivered too: it lets the incident resolve.
fn health_delivery(health: HealthEvent) -> Result<Parsed<Delivery<Cue>>, Error> {
    let code = health.event_type_code.as_str();
    let maintenance = code.starts_with("AWS_RDS_")
        && code.ends_with("_SCHEDULED")
        && (code.contains("MAINTENANCE") || code.contains("UPGRADE"));
    if health.service != "RDS" || health.category != SCHEDULED_CHANGE || !maintenance {
        return Ok(Parsed::Ignored(format!(
            "AWS Health event {code} ({}) is not maintenance scheduled on a database",
            health.service
        )));
    }
    // A DB instance identifier, or its ARN (`arn:aws:rds:…:db:name`).
    let instances: Vec<DbInstanceId> = health
        .entities
        .iter()
        .filter_map(|entity| {
            let name = match entity.split_once(":db:") {
                Some((_, name)) => name,
                None if entity.starts_with("arn:") => return None,
                None => entity.as_str(),
            };
            DbInstanceId::parse(name).ok()
        })
        .collect();
    if instances.is_empty() {
        return Ok(Parsed::Ignored(format!(
            "AWS Health event {code} names no DB instance (affected: {:?})",
            health.entities
        )));
    }
    let scheduled = ScheduledMaintenance {
        event: health.event_type_code.clone(),
        starts_at: health.starts_at,
        event_arn: health.event_arn.clone(),
        closed: !health.is_scheduled_change_ahead(),
    };
    Ok(Parsed::Trigger(Delivery::Check {
        trigger: health.label(),
        checks: instances
            .iter()
            .map(|id| (db_instance(id), Cue::Scheduled(scheduled.clone())))
            .collect(),
        observation: None,
    }))
}

fn alarm_delivery(alarm: Alarm) -> Result<Parsed<Delivery<Cue>>, Error> {
    let metrics: Vec<_> = alarm.metrics_in(RDS_NAMESPACE, None).collect();
    if metrics.is_empty() {
        return Ok(Parsed::Ignored(format!(
            "alarm {:?} is not on an {RDS_NAMESPACE} metric",
            alarm.name
        )));
    }
    let Some(name) = metrics
        .iter()
        .find_map(|m| m.dimensions.get(DB_INSTANCE_DIMENSION))
    else {
        return Ok(Parsed::Ignored(format!(
            "alarm {:?} has no {DB_INSTANCE_DIMENSION} dimension: not about one DB instance",
            alarm.name
        )));
    };
    let instance =
        DbInstanceId::parse(name.as_str()).map_err(|e| Error::InvalidEvent(e.to_string()))?;
    Ok(Parsed::Trigger(Delivery::Check {
        trigger: alarm.label(),
        checks: vec![(
            db_instance(&instance),
            Cue::Alarm(AlarmState {
                name: alarm.name,
                state: alarm.state,
                since: alarm.since,
            }),
        )],
        observation: None,
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

fn event_delivery(envelope: &Event) -> Result<Parsed<Delivery<Cue>>, Error> {
    let detail: RdsEventDetail = decode(&envelope.detail, "RDS event detail")?;
    let cluster_event = envelope.detail_type == CLUSTER_EVENT;
    let expected = if cluster_event {
        "DB_CLUSTER"
    } else {
        "DB_INSTANCE"
    };
    if !detail.source_type.is_empty() && detail.source_type != expected {
        return Ok(Parsed::Ignored(format!(
            "RDS event about a {} is not an rds-health trigger",
            detail.source_type
        )));
    }
    // The ARN names the instance (or cluster) exactly; SourceIdentifier is the fallback
    // (older events prefix it with `rds:`).
    let kind = if cluster_event { "cluster" } else { "db" };
    let from_arn = detail
        .source_arn
        .split(':')
        .collect::<Vec<_>>()
        .get(5..7)
        .filter(|parts| parts[0] == kind)
        .map(|parts| parts[1].to_owned());
    let name = from_arn.unwrap_or_else(|| {
        detail
            .source_identifier
            .trim_start_matches("rds:")
            .to_owned()
    });
    let (resource, cluster, about) = if cluster_event {
        let cluster = DbClusterId::parse(name).map_err(|e| Error::InvalidEvent(e.to_string()))?;
        (
            db_cluster(&cluster),
            Some(cluster.clone()),
            cluster.to_string(),
        )
    } else {
        let instance = DbInstanceId::parse(name).map_err(|e| Error::InvalidEvent(e.to_string()))?;
        (db_instance(&instance), None, instance.to_string())
    };
    let instance = about;
    let at = detail.date.or(envelope.time).ok_or_else(|| {
        Error::InvalidEvent(format!(
            "RDS event about {instance} has no Date and no time"
        ))
    })?;
    let event = RdsEvent {
        // An event without a well-formed id is still recorded; it is never acted on.
        id: RdsEventId::parse(detail.event_id).ok(),
        categories: detail.event_categories,
        message: detail.message,
        at,
        cluster,
    };
    let rule = event
        .id
        .as_ref()
        .and_then(|id| event_rule(id, &event.categories));
    let observation = rule.is_none().then(|| {
        format!(
            "{} is not in the event table: recorded, never acted on",
            event.label()
        )
    });
    let trigger = match &event.id {
        Some(id) => format!("rds-event:{id}"),
        None => "rds-event".into(),
    };
    Ok(Parsed::Trigger(Delivery::Check {
        trigger,
        checks: vec![(
            resource,
            Cue::Event {
                effect: rule.map(|r| r.effect),
                event,
            },
        )],
        observation,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::events::EventEffect;
    use super::*;

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

    fn check(event: &Value) -> (String, Cue, Option<String>) {
        match parse(event).unwrap() {
            Parsed::Trigger(Delivery::Check {
                trigger,
                mut checks,
                observation,
            }) => {
                let (resource, cue) = checks.remove(0);
                assert_eq!(resource.id, "rebound-demo-db");
                (trigger, cue, observation)
            }
            other => panic!("expected a check: {other:?}"),
        }
    }

    #[test]
    fn an_rds_instance_event_names_its_instance_and_keeps_id_category_and_date() {
        let (trigger, cue, observation) = check(&rds_event("RDS-EVENT-0049", "failover"));
        assert_eq!(trigger, "rds-event:RDS-EVENT-0049");
        assert_eq!(cue.effect(), Some(EventEffect::FailoverCompleted));
        let event = cue.event().unwrap();
        assert_eq!(event.categories, ["failover"]);
        assert_eq!(event.at.to_rfc3339(), "2026-11-26T10:15:01.123+00:00");
        assert_eq!(observation, None);
    }

    #[test]
    fn an_rds_event_outside_the_table_is_recorded_as_an_observation() {
        let (_, cue, observation) = check(&rds_event("not-an-id", "notification"));
        assert_eq!(cue.event().unwrap().id, None);
        assert_eq!(cue.effect(), None);
        assert!(observation.unwrap().contains("not in the event table"));
    }

    #[test]
    fn an_rds_event_naming_a_malformed_instance_is_an_invalid_event() {
        let mut event = rds_event("RDS-EVENT-0049", "failover");
        event["detail"]["SourceArn"] = json!("arn:aws:rds:us-east-1:1:db:bad--name");
        assert!(matches!(parse(&event), Err(Error::InvalidEvent(_))));
    }

    fn alarm_change(metric: Value) -> Value {
        crate::trigger::alarm_state_change("db-latency", metric)
    }

    #[test]
    fn an_rds_alarm_names_its_db_instance_and_other_alarms_are_ignored() {
        let (trigger, cue, _) = check(&alarm_change(json!({
            "namespace": "AWS/RDS", "name": "ReadLatency",
            "dimensions": {"DBInstanceIdentifier": "rebound-demo-db"}
        })));
        assert_eq!(trigger, "alarm:db-latency");
        let Cue::Alarm(alarm) = cue else {
            panic!("expected an alarm cue");
        };
        assert_eq!(alarm.state, "ALARM");
        assert_eq!(
            alarm.since.unwrap().to_rfc3339(),
            "2026-11-26T10:14:58.412+00:00"
        );
        for ignored in [
            json!({"namespace": "AWS/RDS", "name": "VolumeBytesUsed", "dimensions": {"DBClusterIdentifier": "c1"}}),
            json!({"namespace": "AWS/ApplicationELB", "name": "UnHealthyHostCount", "dimensions": {"TargetGroup": "targetgroup/web/1"}}),
        ] {
            assert!(
                matches!(
                    parse(&alarm_change(ignored.clone())).unwrap(),
                    Parsed::Ignored(_)
                ),
                "{ignored}"
            );
        }
    }

    #[test]
    fn a_cluster_event_is_about_its_cluster_and_carries_it() {
        let event = json!({
            "version": "0", "id": "1", "detail-type": "RDS DB Cluster Event", "source": "aws.rds",
            "account": "123456789012", "region": "us-east-1", "time": "2026-11-26T10:15:02Z",
            "resources": ["arn:aws:rds:us-east-1:123456789012:cluster:orders"],
            "detail": {
                "EventCategories": ["failover"], "SourceType": "DB_CLUSTER",
                "SourceArn": "arn:aws:rds:us-east-1:123456789012:cluster:orders",
                "Date": "2026-11-26T10:15:01.123Z", "Message": "Completed failover to DB instance: orders-2",
                "SourceIdentifier": "orders", "EventID": "RDS-EVENT-0071"
            }
        });
        let Parsed::Trigger(Delivery::Check { checks, .. }) = parse(&event).unwrap() else {
            panic!("a check");
        };
        assert_eq!(
            checks[0].0,
            db_cluster(&DbClusterId::parse("orders").unwrap())
        );
        let Cue::Event { event, effect } = &checks[0].1 else {
            panic!("an event cue");
        };
        assert_eq!(*effect, Some(EventEffect::FailoverCompleted));
        assert_eq!(event.cluster.as_ref().map(|c| c.as_str()), Some("orders"));
    }

    #[test]
    fn announced_maintenance_checks_its_database_and_its_end_is_delivered_too() {
        let path = format!(
            "{}/../events/rds-health/health-maintenance-scheduled.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut event: Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let Parsed::Trigger(Delivery::Check {
            trigger, checks, ..
        }) = parse(&event).unwrap()
        else {
            panic!("expected a check");
        };
        assert_eq!(trigger, "health:AWS_RDS_HARDWARE_MAINTENANCE_SCHEDULED");
        assert_eq!(
            checks[0].0,
            db_instance(&DbInstanceId::parse("rebound-demo-db").unwrap())
        );
        let Cue::Scheduled(maintenance) = &checks[0].1 else {
            panic!("{:?}", checks[0].1);
        };
        assert!(!maintenance.closed);
        assert!(maintenance.starts_at.is_some());

        event["detail"]["statusCode"] = json!("closed");
        event["detail"]["affectedEntities"] =
            json!([{"entityValue": "arn:aws:rds:us-east-1:123456789012:db:rebound-demo-db"}]);
        let Parsed::Trigger(Delivery::Check { checks, .. }) = parse(&event).unwrap() else {
            panic!("expected a check");
        };
        assert!(matches!(&checks[0].1, Cue::Scheduled(m) if m.closed));

        event["detail"]["service"] = json!("EC2");
        assert!(matches!(parse(&event).unwrap(), Parsed::Ignored(_)));
    }
}
