//! AWS Health's announcements of work ahead (`aws.health`, "AWS Health Event"): an EC2
//! instance's scheduled retirement or maintenance, a database's scheduled maintenance.
//! Each kind decides which it acts on; this reads the event's shape once.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{decode, Event};
use crate::error::Error;

pub const HEALTH_SOURCE: &str = "aws.health";
const HEALTH_DETAIL_TYPE: &str = "AWS Health Event";
/// The category of work announced ahead of time (the others are `issue` and
/// `accountNotification`).
pub const SCHEDULED_CHANGE: &str = "scheduledChange";

/// One AWS Health event, as the functions read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthEvent {
    /// `EC2`, `RDS`, …
    pub service: String,
    /// e.g. `AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED`.
    pub event_type_code: String,
    /// `scheduledChange`, `issue` or `accountNotification`.
    pub category: String,
    /// `upcoming`, `open` or `closed`.
    pub status: String,
    pub event_arn: Option<String>,
    /// When the work starts, if the event says (AWS writes RFC 1123 dates).
    pub starts_at: Option<DateTime<Utc>>,
    /// What the work affects: the affected entities' values, else the envelope's
    /// resources (instance IDs, DB instance identifiers).
    pub entities: Vec<String>,
    pub description: Option<String>,
}

impl HealthEvent {
    /// Announced work that has not ended yet.
    pub fn is_scheduled_change_ahead(&self) -> bool {
        self.category == SCHEDULED_CHANGE && !self.status.eq_ignore_ascii_case("closed")
    }

    /// How an incident records the event that started it.
    pub fn label(&self) -> String {
        format!("health:{}", self.event_type_code)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Detail {
    #[serde(default)]
    service: String,
    event_type_code: String,
    #[serde(default)]
    event_type_category: String,
    #[serde(default)]
    status_code: String,
    #[serde(default)]
    event_arn: Option<String>,
    #[serde(default)]
    start_time: Option<String>,
    #[serde(default)]
    affected_entities: Vec<Entity>,
    #[serde(default)]
    event_description: Vec<Description>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entity {
    #[serde(default)]
    entity_value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Description {
    #[serde(default)]
    latest_description: String,
}

/// `Sat, 05 Dec 2026 02:00:00 GMT` as AWS Health writes it, or RFC 3339.
fn time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc2822(text)
        .or_else(|_| DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

impl Event {
    /// The AWS Health event this is, `None` when it is not one; an AWS Health event
    /// without its event type, or with a start time that is not a time, is invalid.
    pub fn health(&self) -> Option<Result<HealthEvent, Error>> {
        if self.source != HEALTH_SOURCE || self.detail_type != HEALTH_DETAIL_TYPE {
            return None;
        }
        Some(self.read_health())
    }

    fn read_health(&self) -> Result<HealthEvent, Error> {
        let detail: Detail = decode(&self.detail, "AWS Health event detail")?;
        let starts_at = match detail.start_time.as_deref() {
            None | Some("") => None,
            Some(text) => Some(time(text).ok_or_else(|| {
                Error::InvalidEvent(format!(
                    "AWS Health event {}: startTime {text:?} is not a time",
                    detail.event_type_code
                ))
            })?),
        };
        let mut entities: Vec<String> = detail
            .affected_entities
            .into_iter()
            .map(|e| e.entity_value.trim().to_owned())
            .filter(|e| !e.is_empty())
            .collect();
        if entities.is_empty() {
            entities = self.resources.clone();
        }
        entities.dedup();
        Ok(HealthEvent {
            service: detail.service,
            event_type_code: detail.event_type_code,
            category: detail.event_type_category,
            status: detail.status_code,
            event_arn: detail.event_arn,
            starts_at,
            entities,
            description: detail
                .event_description
                .into_iter()
                .map(|d| d.latest_description)
                .find(|d| !d.is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::trigger::{read, Incoming, Parsed};

    fn health(detail: Value) -> Value {
        json!({
            "version": "0", "id": "1", "detail-type": "AWS Health Event", "source": "aws.health",
            "account": "123456789012", "time": "2026-12-01T10:00:00Z", "region": "us-east-1",
            "resources": ["i-0a1b2c3d4e5f60718"], "detail": detail
        })
    }

    fn event(raw: &Value) -> Event {
        match read(raw).unwrap() {
            Parsed::Trigger(Incoming::Event(event)) => event,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_scheduled_retirement_reads_its_instance_and_its_rfc_1123_start() {
        let raw = health(json!({
            "eventArn": "arn:aws:health:us-east-1::event/EC2/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED/1",
            "service": "EC2", "eventTypeCode": "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED",
            "eventTypeCategory": "scheduledChange", "statusCode": "upcoming",
            "startTime": "Sat, 05 Dec 2026 02:00:00 GMT",
            "affectedEntities": [{"entityValue": "i-0a1b2c3d4e5f60718"}],
            "eventDescription": [{"language": "en_US", "latestDescription": "retiring"}]
        }));
        let health = event(&raw).health().unwrap().unwrap();
        assert!(health.is_scheduled_change_ahead());
        assert_eq!(health.entities, vec!["i-0a1b2c3d4e5f60718"]);
        assert_eq!(
            health.starts_at.unwrap().to_rfc3339(),
            "2026-12-05T02:00:00+00:00"
        );
        assert_eq!(
            health.label(),
            "health:AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED"
        );
        assert_eq!(health.description.as_deref(), Some("retiring"));
    }

    #[test]
    fn without_affected_entities_the_resources_are_what_it_affects_and_closed_work_is_over() {
        let raw = health(json!({
            "service": "EC2", "eventTypeCode": "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED",
            "eventTypeCategory": "scheduledChange", "statusCode": "closed"
        }));
        let health = event(&raw).health().unwrap().unwrap();
        assert_eq!(health.entities, vec!["i-0a1b2c3d4e5f60718"]);
        assert!(!health.is_scheduled_change_ahead());
        assert_eq!(health.starts_at, None);
    }

    #[test]
    fn a_broken_health_event_is_invalid_and_another_event_is_not_one() {
        for detail in [
            json!({"service": "EC2"}),
            json!({"eventTypeCode": "AWS_EC2_X_SCHEDULED", "startTime": "next tuesday"}),
        ] {
            let raw = health(detail.clone());
            assert!(
                matches!(event(&raw).health(), Some(Err(Error::InvalidEvent(_)))),
                "{detail}"
            );
        }
        let rds =
            json!({"detail-type": "RDS DB Instance Event", "source": "aws.rds", "detail": {}});
        assert!(event(&rds).health().is_none());
    }
}
