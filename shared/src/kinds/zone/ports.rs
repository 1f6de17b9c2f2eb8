//! What the zone kind needs from AWS, shaped like the domain: load balancers, the zones'
//! IDs, the zonal shifts in effect and the calls that start, extend and end them, and a
//! way to raise a group's desired capacity.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use super::observation::{LoadBalancer, ZoneShift};
use crate::error::Error;
use crate::ids::{AutoScalingGroupName, AvailabilityZone, LoadBalancerArn, ZoneId};

pub trait LoadBalancers: Send + Sync {
    /// The load balancer with its tags, zones, target groups and whether zonal shift is
    /// enabled on it; `None` when it no longer exists.
    fn load_balancer(
        &self,
        arn: &LoadBalancerArn,
    ) -> impl Future<Output = Result<Option<LoadBalancer>, Error>> + Send;

    /// Load balancers tagged `tag_key=true`, for the sweep.
    fn managed_load_balancers(
        &self,
        tag_key: &str,
    ) -> impl Future<Output = Result<Vec<LoadBalancer>, Error>> + Send;
}

/// What became of a request to shift a resource away from a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// A new shift, with its id.
    Shift(String),
    /// The resource was already shifted away from that zone (an earlier attempt of this
    /// call, or someone else): nothing new was started.
    AlreadyAway,
}

pub trait ZonalShifts: Send + Sync {
    /// Zone names to zone IDs in this account and region.
    fn zone_ids(
        &self,
    ) -> impl Future<Output = Result<BTreeMap<AvailabilityZone, ZoneId>, Error>> + Send;

    /// The shifts and autoshifts in effect on a resource ARC manages; empty when it is
    /// not one (zonal shift not enabled on it).
    fn in_effect(
        &self,
        resource: &str,
    ) -> impl Future<Output = Result<Vec<ZoneShift>, Error>> + Send;

    /// `StartZonalShift` away from `away_from` for `expires_in`, with `comment`.
    fn start(
        &self,
        resource: &str,
        away_from: &ZoneId,
        expires_in: Duration,
        comment: &str,
    ) -> impl Future<Output = Result<Started, Error>> + Send;

    /// `UpdateZonalShift`: the shift now expires `expires_in` from now.
    fn extend(
        &self,
        shift_id: &str,
        expires_in: Duration,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `CancelZonalShift`; true when it was still active, false when it had already
    /// ended (expired, or cancelled by an earlier attempt).
    fn cancel(&self, shift_id: &str) -> impl Future<Output = Result<bool, Error>> + Send;
}

pub trait CapacityRaiser: Send + Sync {
    /// `SetDesiredCapacity` of the group without waiting for its scaling cooldown
    /// (`HonorCooldown=false`): capacity the zones left must carry is not a scaling
    /// decision to space out.
    fn set_desired_capacity(
        &self,
        group: &AutoScalingGroupName,
        desired: u32,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}
