//! What target-health answers: an `UnHealthyHostCount` alarm of a target group (any
//! state is a reason to look: ALARM to act, OK to verify recovery), and the schedule.

use serde_json::Value;

use super::{target_group, Cue, FUNCTION};
use crate::error::Error;
use crate::ids::TargetGroupArn;
use crate::shell::{Delivery, Parsed};
use crate::trigger::{read, Alarm, Incoming};

const ALB_NAMESPACE: &str = "AWS/ApplicationELB";
const UNHEALTHY_HOST_COUNT: &str = "UnHealthyHostCount";

pub fn parse(event: &Value) -> Result<Parsed<Delivery<Cue>>, Error> {
    Ok(match read(event)? {
        Parsed::Ignored(reason) => Parsed::Ignored(reason),
        Parsed::Trigger(Incoming::Schedule) => Parsed::Trigger(Delivery::Sweep),
        Parsed::Trigger(Incoming::Alarm(alarm)) => alarm_delivery(alarm)?,
        Parsed::Trigger(Incoming::Event(event)) => Parsed::Ignored(event.not_for(FUNCTION)),
    })
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
}
