//! Observed state of a target group and the Auto Scaling groups behind it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{
    AutoScalingGroupName, AvailabilityZone, DbInstanceId, InstanceId, TargetGroupArn,
};

/// Where a target stands in the load balancer's eyes (`TargetHealth.State`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetState {
    Initial,
    Healthy,
    Unhealthy,
    UnhealthyDraining,
    Unused,
    Draining,
    Unavailable,
    /// A state this version does not know; never acted on.
    #[serde(untagged)]
    Other(String),
}

impl TargetState {
    pub fn from_api(value: &str) -> Self {
        match value {
            "initial" => Self::Initial,
            "healthy" => Self::Healthy,
            "unhealthy" => Self::Unhealthy,
            "unhealthy.draining" => Self::UnhealthyDraining,
            "unused" => Self::Unused,
            "draining" => Self::Draining,
            "unavailable" => Self::Unavailable,
            other => Self::Other(other.to_owned()),
        }
    }

    /// Failing its health checks, whether or not it is also being drained.
    pub fn is_unhealthy(&self) -> bool {
        matches!(self, Self::Unhealthy | Self::UnhealthyDraining)
    }

    /// States in which the target takes part in serving: what the unhealthy share is
    /// measured against.
    pub fn is_serving(&self) -> bool {
        matches!(
            self,
            Self::Healthy | Self::Unhealthy | Self::UnhealthyDraining
        )
    }
}

/// One instance target as DescribeTargetHealth reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetHealth {
    pub instance_id: InstanceId,
    pub port: Option<i32>,
    pub state: TargetState,
    /// The reason code, e.g. `Target.FailedHealthChecks`.
    pub reason: Option<String>,
    pub description: Option<String>,
}

/// Reason codes that mean the instance itself failed its health checks. Other codes
/// (`Elb.InternalError`, `Target.HealthCheckDisabled`, …) say nothing against the
/// instance, so replacing it would not help.
pub const INSTANCE_FAILURE_REASONS: [&str; 3] = [
    "Target.FailedHealthChecks",
    "Target.ResponseCodeMismatch",
    "Target.Timeout",
];

impl TargetHealth {
    /// Unhealthy because the instance failed the load balancer's health checks.
    pub fn failed_health_checks(&self) -> bool {
        self.state == TargetState::Unhealthy
            && self
                .reason
                .as_deref()
                .is_some_and(|reason| INSTANCE_FAILURE_REASONS.contains(&reason))
    }
}

/// One instance of an Auto Scaling group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInstance {
    pub instance_id: InstanceId,
    /// `InService`, `Pending`, `Terminating`, … as the API spells it.
    pub lifecycle_state: String,
    /// `Healthy` or `Unhealthy`.
    pub health_status: String,
    /// Where it runs; targets are counted per zone by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<AvailabilityZone>,
}

impl GroupInstance {
    pub fn in_service(&self) -> bool {
        self.lifecycle_state == "InService"
    }

    pub fn marked_unhealthy(&self) -> bool {
        self.health_status.eq_ignore_ascii_case("unhealthy")
    }

    /// InService and healthy in the group's eyes: counts towards desired capacity.
    pub fn serving(&self) -> bool {
        self.in_service() && !self.marked_unhealthy()
    }

    /// On its way out: terminating, or marked unhealthy and about to be. Such an
    /// instance is a replacement in flight.
    pub fn leaving(&self) -> bool {
        self.lifecycle_state.starts_with("Terminating")
            || self.lifecycle_state == "Terminated"
            || (self.in_service() && self.marked_unhealthy())
    }

    /// Launching (a replacement's new capacity or a normal scale-out; the API does not
    /// say which).
    pub fn launching(&self) -> bool {
        self.lifecycle_state.starts_with("Pending")
    }

    /// Parked by an operator (`Standby`) or held in a warm pool / detaching: neither
    /// serving nor a replacement in flight.
    pub fn parked(&self) -> bool {
        !self.in_service() && !self.leaving() && !self.launching()
    }
}

/// An Auto Scaling group as far as the policy needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalingGroup {
    pub name: AutoScalingGroupName,
    pub tags: BTreeMap<String, String>,
    pub suspended_processes: Vec<String>,
    pub instances: Vec<GroupInstance>,
    /// Target groups from `TargetGroupARNs` and from `elbv2` traffic sources alike.
    pub target_group_arns: Vec<TargetGroupArn>,
    pub instance_refresh_in_progress: bool,
    pub desired_capacity: u32,
    /// The health-check grace period: a SetInstanceHealth inside it is accepted and
    /// ignored.
    pub health_check_grace_period_s: u32,
    /// What new instances launch from, e.g. `lt-0abc version 7`.
    pub launch_template: Option<String>,
    /// Its ARN: what ARC zonal shift names it by.
    #[serde(default)]
    pub arn: Option<String>,
    #[serde(default)]
    pub max_size: u32,
    /// Its `AvailabilityZoneImpairmentPolicy` has `ZonalShiftEnabled`: it takes part in
    /// zonal shift (launches stay out of a zone it is shifted away from).
    #[serde(default)]
    pub zonal_shift_enabled: bool,
    /// `EC2` or `ELB` (the group replaces what the load balancer finds unhealthy
    /// itself, unless its ReplaceUnhealthy process is suspended).
    #[serde(default)]
    pub health_check_type: String,
}

/// Processes a group needs to replace an instance and put the replacement behind the
/// load balancer; with any of them suspended the group would not heal, and marking an
/// instance unhealthy would only shrink it (or add capacity that never serves).
/// The process by which a group replaces what its health check finds unhealthy.
pub const REPLACE_UNHEALTHY: &str = "ReplaceUnhealthy";

pub const HEALING_PROCESSES: [&str; 5] = [
    "Launch",
    "Terminate",
    "HealthCheck",
    "ReplaceUnhealthy",
    "AddToLoadBalancer",
];

/// The tag Rebound puts on a group whose ReplaceUnhealthy process it suspended (the
/// value: the incident that did): a suspension without it is an operator's, never
/// resumed by Rebound, and Rebound's own is never mistaken by its guards for one.
pub const SUSPENDED_BY_TAG_KEY: &str = "rebound:suspended-replace-unhealthy";

/// The tag by which an Auto Scaling group names the DB instance it depends on: while
/// that database heals, the group's unhealthy instances are held, not replaced.
pub const DEPENDS_ON_TAG_KEY: &str = "rebound:depends-on";

impl ScalingGroup {
    /// The tags of the group among `groups` that `scope` names (where an action through
    /// it reads its `rebound:approval`).
    pub fn tags_of<'a>(
        groups: &'a [ScalingGroup],
        scope: &crate::domain::ResourceRef,
    ) -> Option<&'a std::collections::BTreeMap<String, String>> {
        groups
            .iter()
            .find(|g| g.name.as_str() == scope.id)
            .map(|g| &g.tags)
    }

    pub fn is_managed(&self, tag_key: &str) -> bool {
        self.tags.get(tag_key).is_some_and(|value| value == "true")
    }

    /// The DB instance the group declares it depends on (`rebound:depends-on`); a
    /// malformed value names nothing.
    pub fn depends_on(&self) -> Option<DbInstanceId> {
        self.tags
            .get(DEPENDS_ON_TAG_KEY)
            .and_then(|value| DbInstanceId::parse(value.trim()).ok())
    }

    pub fn instance(&self, id: &InstanceId) -> Option<&GroupInstance> {
        self.instances.iter().find(|i| &i.instance_id == id)
    }

    /// Healing processes an operator (or anything but Rebound) suspended: Rebound's own
    /// suspension of ReplaceUnhealthy during a hold is not one.
    pub fn suspended_healing_processes(&self) -> Vec<&str> {
        let ours = self.suspended_by_rebound().is_some();
        self.suspended_processes
            .iter()
            .map(String::as_str)
            .filter(|p| HEALING_PROCESSES.contains(p))
            .filter(|p| !(ours && *p == REPLACE_UNHEALTHY))
            .collect()
    }

    /// The incident whose hold suspended this group's ReplaceUnhealthy, if Rebound did.
    pub fn suspended_by_rebound(&self) -> Option<&str> {
        self.tags.get(SUSPENDED_BY_TAG_KEY).map(String::as_str)
    }

    /// The group replaces ELB-unhealthy instances itself.
    pub fn replaces_on_elb_health(&self) -> bool {
        self.health_check_type.eq_ignore_ascii_case("ELB")
    }

    pub fn is_suspended(&self, process: &str) -> bool {
        self.suspended_processes.iter().any(|p| p == process)
    }

    pub fn leaving_count(&self) -> usize {
        self.instances.iter().filter(|i| i.leaving()).count()
    }

    pub fn launching_count(&self) -> usize {
        self.instances.iter().filter(|i| i.launching()).count()
    }

    pub fn serving_count(&self) -> usize {
        self.instances.iter().filter(|i| i.serving()).count()
    }

    /// Back at full strength: as many InService, healthy instances as desired.
    pub fn at_desired_capacity(&self) -> bool {
        self.serving_count() >= self.desired_capacity as usize
    }
}

/// A zone the traffic of a load balancer in front of the target group is shifted away
/// from: its instances are not replaced (invariant 15).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftedZone {
    pub zone: AvailabilityZone,
    /// "a zonal autoshift away from use1-az2 on app/web/1", for the timeline.
    pub by: String,
}
