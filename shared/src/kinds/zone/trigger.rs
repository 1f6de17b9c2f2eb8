//! What zone-health answers: a zone's own `UnHealthyHostCount` alarm (the metric with
//! the `AvailabilityZone` dimension, next to `LoadBalancer` and `TargetGroup`), and the
//! schedule. A target group's alarm without a zone is target-health's.

use serde_json::Value;

use super::{zone_ref, Cue, FUNCTION};
use crate::error::Error;
use crate::ids::{AvailabilityZone, LoadBalancerArn};
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
        .find(|m| m.dimensions.contains_key("AvailabilityZone"))
    else {
        return Ok(Parsed::Ignored(format!(
            "alarm {:?} is not on a zone's {ALB_NAMESPACE} {UNHEALTHY_HOST_COUNT} (no AvailabilityZone dimension)",
            alarm.name
        )));
    };
    let invalid = |why: &str| Error::InvalidEvent(format!("alarm {:?}: {why}", alarm.name));
    let zone = metric
        .dimensions
        .get("AvailabilityZone")
        .map(|zone| AvailabilityZone::parse(zone.as_str()))
        .transpose()
        .map_err(|e| invalid(&e.to_string()))?
        .ok_or_else(|| invalid("no AvailabilityZone dimension"))?;
    let full_name = metric
        .dimensions
        .get("LoadBalancer")
        .ok_or_else(|| invalid("no LoadBalancer dimension"))?;
    let (Some(region), Some(account)) = (&alarm.region, &alarm.account) else {
        return Err(invalid(
            "no region or account to build the load balancer ARN",
        ));
    };
    let arn = LoadBalancerArn::from_dimension(full_name, region, account, &alarm.partition)
        .map_err(|e| invalid(&e.to_string()))?;
    Ok(Parsed::Trigger(Delivery::Check {
        trigger: alarm.label(),
        checks: vec![(
            zone_ref(&arn, &zone),
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
        crate::trigger::alarm_state_change("web-us-east-1b-unhealthy", metric)
    }

    #[test]
    fn a_zone_alarm_names_its_load_balancer_and_zone() {
        let event = alarm_change(json!({
            "namespace": "AWS/ApplicationELB", "name": "UnHealthyHostCount",
            "dimensions": {"TargetGroup": "targetgroup/web/73e2d6bc24d8a067", "LoadBalancer": "app/web/50dc6c495c0c9188", "AvailabilityZone": "us-east-1b"}
        }));
        let Parsed::Trigger(Delivery::Check {
            trigger, checks, ..
        }) = parse(&event).unwrap()
        else {
            panic!("expected a check");
        };
        assert_eq!(trigger, "alarm:web-us-east-1b-unhealthy");
        assert_eq!(
            checks[0].0.id,
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188#us-east-1b"
        );
        assert!(checks[0].1.confirms());
    }

    #[test]
    fn a_target_group_alarm_without_a_zone_and_other_events_are_ignored() {
        let event = alarm_change(json!({
            "namespace": "AWS/ApplicationELB", "name": "UnHealthyHostCount",
            "dimensions": {"TargetGroup": "targetgroup/web/1", "LoadBalancer": "app/web/1"}
        }));
        assert!(matches!(parse(&event).unwrap(), Parsed::Ignored(_)));
        let rds =
            json!({"detail-type": "RDS DB Instance Event", "source": "aws.rds", "detail": {}});
        assert!(matches!(parse(&rds).unwrap(), Parsed::Ignored(_)));
    }

    #[test]
    fn a_zone_alarm_without_a_usable_load_balancer_or_zone_is_an_invalid_event() {
        for dimensions in [
            json!({"AvailabilityZone": "us-east-1b"}),
            json!({"AvailabilityZone": "us-east-1b", "LoadBalancer": "nonsense"}),
            json!({"AvailabilityZone": "US EAST", "LoadBalancer": "app/web/1"}),
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
