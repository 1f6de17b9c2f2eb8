//! What target-health answers: an `UnHealthyHostCount` alarm of a target group (any
//! state is a reason to look: ALARM to act, OK to verify recovery), AWS Health's
//! announcement of work on an EC2 instance (a scheduled retirement, reboot or stop: the
//! target groups its managed group serves replace it ahead), and the schedule.

use serde_json::Value;

use super::{instance, target_group, Cue, ScheduledChange, FUNCTION};
use crate::error::Error;
use crate::ids::{InstanceId, TargetGroupArn};
use crate::shell::{Delivery, Parsed};
use crate::trigger::{read, Alarm, Event, HealthEvent, Incoming};

const ALB_NAMESPACE: &str = "AWS/ApplicationELB";
const UNHEALTHY_HOST_COUNT: &str = "UnHealthyHostCount";

pub fn parse(event: &Value) -> Result<Parsed<Delivery<Cue>>, Error> {
    Ok(match read(event)? {
        Parsed::Ignored(reason) => Parsed::Ignored(reason),
        Parsed::Trigger(Incoming::Schedule) => Parsed::Trigger(Delivery::Sweep),
        Parsed::Trigger(Incoming::Alarm(alarm)) => alarm_delivery(alarm)?,
        Parsed::Trigger(Incoming::Event(event)) => event_delivery(&event)?,
    })
}

/// Work on an instance that takes it out of service: its retirement, a reboot or stop
/// for maintenance (EC2's scheduled events).
fn takes_an_instance_out(code: &str) -> bool {
    code.starts_with("AWS_EC2_")
        && code.ends_with("_SCHEDULED")
        && ["RETIREMENT", "REBOOT", "STOP", "MAINTENANCE"]
            .iter()
            .any(|work| code.contains(work))
}

fn event_delivery(event: &Event) -> Result<Parsed<Delivery<Cue>>, Error> {
    let Some(health) = event.health() else {
        return Ok(Parsed::Ignored(event.not_for(FUNCTION)));
    };
    let health: HealthEvent = health?;
    if health.service != "EC2" || !takes_an_instance_out(&health.event_type_code) {
        return Ok(Parsed::Ignored(format!(
            "AWS Health event {} ({}) is not work scheduled on an EC2 instance",
            health.event_type_code, health.service
        )));
    }
    if !health.is_scheduled_change_ahead() {
        return Ok(Parsed::Ignored(format!(
            "AWS Health event {} is {}: the work is over",
            health.event_type_code, health.status
        )));
    }
    let instances: Vec<InstanceId> = health
        .entities
        .iter()
        // An instance ID, or an instance's ARN (`arn:aws:ec2:…:instance/i-…`).
        .filter_map(|entity| InstanceId::parse(entity.rsplit('/').next()?).ok())
        .collect();
    if instances.is_empty() {
        return Ok(Parsed::Ignored(format!(
            "AWS Health event {} names no EC2 instance (affected: {:?})",
            health.event_type_code, health.entities
        )));
    }
    Ok(Parsed::Trigger(Delivery::Check {
        trigger: health.label(),
        checks: instances
            .into_iter()
            .map(|id| {
                (
                    instance(&id),
                    Cue::Scheduled(ScheduledChange {
                        instance_id: id,
                        event: health.event_type_code.clone(),
                        starts_at: health.starts_at,
                        event_arn: health.event_arn.clone(),
                    }),
                )
            })
            .collect(),
        observation: None,
    }))
}

fn alarm_delivery(alarm: Alarm) -> Result<Parsed<Delivery<Cue>>, Error> {
    let Some(metric) = alarm
        .metrics_in(ALB_NAMESPACE, Some(UNHEALTHY_HOST_COUNT))
        .next()
    else {
        return Ok(Parsed::Ignored(format!(
            "alarm {:?} is not on {ALB_NAMESPACE} {UNHEALTHY_HOST_COUNT}",
            alarm.name
        )));
    };
    let full_name = metric.dimensions.get("TargetGroup").ok_or_else(|| {
        Error::InvalidEvent(format!(
            "alarm {:?} has no TargetGroup dimension",
            alarm.name
        ))
    })?;
    let (Some(region), Some(account)) = (&alarm.region, &alarm.account) else {
        return Err(Error::InvalidEvent(format!(
            "alarm {:?}: no region or account to build the target group ARN",
            alarm.name
        )));
    };
    let arn = TargetGroupArn::from_dimension(full_name, region, account, &alarm.partition)
        .map_err(|e| Error::InvalidEvent(e.to_string()))?;
    Ok(Parsed::Trigger(Delivery::Check {
        trigger: alarm.label(),
        checks: vec![(
            target_group(&arn),
            Cue::Alarm {
                state: alarm.state.clone(),
            },
        )],
        observation: None,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn alarm_change(metric: Value) -> Value {
        crate::trigger::alarm_state_change("web-unhealthy", metric)
    }

    #[test]
    fn an_unhealthy_host_alarm_names_its_target_group() {
        let event = alarm_change(json!({
            "namespace": "AWS/ApplicationELB", "name": "UnHealthyHostCount",
            "dimensions": {"TargetGroup": "targetgroup/web/73e2d6bc24d8a067", "LoadBalancer": "app/alb/1"}
        }));
        let Parsed::Trigger(Delivery::Check {
            trigger, checks, ..
        }) = parse(&event).unwrap()
        else {
            panic!("expected a check");
        };
        assert_eq!(trigger, "alarm:web-unhealthy");
        assert_eq!(
            checks[0].0.id,
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2d6bc24d8a067"
        );
        assert_eq!(
            checks[0].1,
            Cue::Alarm {
                state: "ALARM".into()
            }
        );
    }

    #[test]
    fn an_alarm_on_another_metric_and_another_event_are_ignored() {
        let event = alarm_change(
            json!({"namespace": "AWS/EC2", "name": "CPUUtilization", "dimensions": {"InstanceId": "i-1"}}),
        );
        assert!(matches!(parse(&event).unwrap(), Parsed::Ignored(_)));
        let rds =
            json!({"detail-type": "RDS DB Instance Event", "source": "aws.rds", "detail": {}});
        assert!(matches!(parse(&rds).unwrap(), Parsed::Ignored(_)));
    }

    #[test]
    fn an_unhealthy_host_alarm_without_a_usable_target_group_is_an_invalid_event() {
        for dimensions in [
            json!({"LoadBalancer": "app/alb/1"}),
            json!({"TargetGroup": "nonsense"}),
        ] {
            let event = alarm_change(
                json!({"namespace": "AWS/ApplicationELB", "name": "UnHealthyHostCount", "dimensions": dimensions}),
            );
            assert!(
                matches!(parse(&event), Err(Error::InvalidEvent(_))),
                "{dimensions}"
            );
        }
    }

    #[test]
    fn a_schedule_is_a_sweep() {
        let schedule = json!({"version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events", "account": "1", "region": "us-east-1", "resources": [], "detail": {}});
        assert_eq!(parse(&schedule).unwrap(), Parsed::Trigger(Delivery::Sweep));
    }

    fn sample(name: &str) -> Value {
        let path = format!(
            "{}/../events/target-health/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn a_scheduled_retirement_checks_its_instance_with_the_work_as_the_cue() {
        let Parsed::Trigger(Delivery::Check {
            trigger, checks, ..
        }) = parse(&sample("health-instance-retirement-scheduled.json")).unwrap()
        else {
            panic!("expected a check");
        };
        assert_eq!(trigger, "health:AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED");
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].0.kind, super::super::INSTANCE);
        assert_eq!(checks[0].0.id, "i-0a1b2c3d4e5f60718");
        let Cue::Scheduled(change) = &checks[0].1 else {
            panic!("{:?}", checks[0].1);
        };
        assert_eq!(change.event, "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED");
        assert_eq!(
            change.starts_at.unwrap().to_rfc3339(),
            "2026-12-05T02:00:00+00:00"
        );
        assert!(change.event_arn.is_some());
    }

    #[test]
    fn health_events_that_are_over_not_ec2_or_about_no_instance_are_ignored() {
        let retirement = sample("health-instance-retirement-scheduled.json");
        let with = |path: &str, value: Value| {
            let mut event = retirement.clone();
            *event.pointer_mut(path).unwrap() = value;
            event
        };
        for event in [
            with("/detail/statusCode", json!("closed")),
            with("/detail/service", json!("RDS")),
            with("/detail/eventTypeCode", json!("AWS_EC2_OPERATIONAL_ISSUE")),
            with("/detail/eventTypeCategory", json!("issue")),
            with(
                "/detail/affectedEntities",
                json!([{"entityValue": "vol-1"}]),
            ),
        ] {
            assert!(
                matches!(parse(&event).unwrap(), Parsed::Ignored(_)),
                "{}",
                event["detail"]
            );
        }
        // An instance's ARN names the instance too.
        let by_arn = with(
            "/detail/affectedEntities",
            json!([{"entityValue": "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0"}]),
        );
        let Parsed::Trigger(Delivery::Check { checks, .. }) = parse(&by_arn).unwrap() else {
            panic!("expected a check");
        };
        assert_eq!(checks[0].0.id, "i-0123456789abcdef0");
    }
}
