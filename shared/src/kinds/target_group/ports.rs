//! What target groups need from AWS, shaped like the domain: the targets' health, the
//! Auto Scaling groups behind them, and a way to replace an instance.

use std::collections::BTreeMap;
use std::future::Future;

use super::observation::{ScalingGroup, ShiftedZone, TargetHealth};
use crate::domain::ActionKind;
use crate::error::Error;
use crate::ids::{AutoScalingGroupName, IncidentId, InstanceId, LoadBalancerArn, TargetGroupArn};

pub trait TargetHealthSource: Send + Sync {
    /// The instance targets of a target group and their health; `None` when the target
    /// group no longer exists.
    fn target_health(
        &self,
        target_group: &TargetGroupArn,
    ) -> impl Future<Output = Result<Option<Vec<TargetHealth>>, Error>> + Send;
}

/// The load balancers in front of each target group (those with none left out): what
/// names a target group's CloudWatch metrics.
pub type Fronts = BTreeMap<TargetGroupArn, Vec<LoadBalancerArn>>;

/// What CloudWatch says of many target groups at once: the sweep's triage, so only the
/// target groups that may need it cost a `DescribeTargetHealth` (the account's API
/// budget is shared with its own deploys).
pub trait HostCounts: Send + Sync {
    /// The load balancers in front of the account's target groups; may be a recent
    /// reading (a target group missing from it has no data, and is described).
    fn fronts(&self) -> impl Future<Output = Result<Fronts, Error>> + Send;

    /// The highest `UnHealthyHostCount` over each target group's latest datapoints,
    /// `None` where CloudWatch has none (no load balancer in front, the metric not
    /// published yet). Target groups left out of the answer have no data either.
    fn unhealthy_hosts(
        &self,
        target_groups: &[TargetGroupArn],
        fronts: &Fronts,
    ) -> impl Future<Output = Result<BTreeMap<TargetGroupArn, Option<f64>>, Error>> + Send;
}

pub trait ScalingGroups: Send + Sync {
    /// The groups that own these instances, each with all its members, tags, capacity
    /// and suspended processes. `refresh_if_managed_by`: for groups tagged `<key>=true`
    /// (the only ones ever acted on) also whether an instance refresh is running — a
    /// call per group, asked only when an action is possible.
    fn groups_owning(
        &self,
        instances: &[InstanceId],
        refresh_if_managed_by: Option<&str>,
    ) -> impl Future<Output = Result<Vec<ScalingGroup>, Error>> + Send;

    /// These groups by name (those an incident acted through), described as
    /// `groups_owning` does; unknown names are left out.
    fn groups_named(
        &self,
        names: &[String],
        refresh_if_managed_by: Option<&str>,
    ) -> impl Future<Output = Result<Vec<ScalingGroup>, Error>> + Send;

    /// Groups tagged `tag_key=true`, each with all its members (the sweep's listing;
    /// a delivery reads them ahead through [`ScalingGroups::managed_groups_in_one_call`]:
    /// one call instead of finding the owners of the instances, then describing them).
    /// The refresh status is not read: see [`ScalingGroups::refresh_in_progress`].
    fn managed_groups(
        &self,
        tag_key: &str,
    ) -> impl Future<Output = Result<Vec<ScalingGroup>, Error>> + Send;

    /// What [`ScalingGroups::managed_groups`] answers, when one call can: `None`, with
    /// at most that one call, when the managed groups fill more than a page, whose
    /// further pages would be round trips one after another — more than the two
    /// (each instance's group, then the group) a delivery spends without them.
    fn managed_groups_in_one_call(
        &self,
        tag_key: &str,
    ) -> impl Future<Output = Result<Option<Vec<ScalingGroup>>, Error>> + Send;

    /// Whether an instance refresh is running on the group (a call per group).
    fn refresh_in_progress(
        &self,
        group: &AutoScalingGroupName,
    ) -> impl Future<Output = Result<bool, Error>> + Send;
}

/// What became of a replacement request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replaced {
    /// The group accepted the request.
    Requested,
    /// Auto Scaling no longer knows the instance, observed in service moments ago: it
    /// has already left its group, typically because an earlier attempt of this same
    /// call took effect before its answer was lost and the SDK retried.
    AlreadyGone,
}

pub trait InstanceReplacer: Send + Sync {
    /// Asks the group to replace the instance, keeping its desired capacity: `kind` is
    /// [`super::SET_INSTANCE_HEALTH`] or [`super::TERMINATE_INSTANCE`].
    fn replace(
        &self,
        kind: &ActionKind,
        group: &AutoScalingGroupName,
        instance: &InstanceId,
    ) -> impl Future<Output = Result<Replaced, Error>> + Send;

    /// Tags the group as suspended by `incident`, then suspends its ReplaceUnhealthy
    /// process: while Rebound holds its instances, the group must not replace them
    /// either.
    fn suspend_replace_unhealthy(
        &self,
        group: &AutoScalingGroupName,
        incident: &IncidentId,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Resumes ReplaceUnhealthy, then removes Rebound's tag.
    fn resume_replace_unhealthy(
        &self,
        group: &AutoScalingGroupName,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

pub trait ShiftedZones: Send + Sync {
    /// The load balancers in front of the target group (none when it is gone): needs
    /// nothing but its ARN, so it is read ahead when instances fail.
    fn balancers_in_front(
        &self,
        target_group: &TargetGroupArn,
    ) -> impl Future<Output = Result<Vec<LoadBalancerArn>, Error>> + Send;

    /// The zones traffic is shifted away from on these load balancers (by anyone:
    /// Rebound, a person, zonal autoshift, a practice run).
    fn shifted_away(
        &self,
        balancers: &[LoadBalancerArn],
    ) -> impl Future<Output = Result<Vec<ShiftedZone>, Error>> + Send;
}

/// The evidence port lives with what it exchanges ([`super::capture`]).
pub use super::capture::InstanceEvidence;
