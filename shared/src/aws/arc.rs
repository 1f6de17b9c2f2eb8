//! ARC zonal shift, with the zones' IDs from EC2 (ARC names zones by ID; Auto Scaling
//! and ELB by name) and the load balancers in front of a target group from ELB.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_sdk_arczonalshift::operation::cancel_zonal_shift::CancelZonalShiftError;
use aws_sdk_arczonalshift::operation::start_zonal_shift::StartZonalShiftError;
use aws_sdk_arczonalshift::types::{
    AppliedStatus, AutoshiftAppliedStatus, ConflictExceptionReason,
};
use aws_sdk_arczonalshift::Client;
use chrono::{DateTime, Utc};

use super::{classify, LazyClient, LoadBalancing};
use crate::error::Error;
use crate::ids::{AvailabilityZone, LoadBalancerArn, TargetGroupArn, ZoneId};
use crate::kinds::target_group::observation::ShiftedZone;
use crate::kinds::target_group::ports::ShiftedZones;
use crate::kinds::zone::observation::{ShiftType, ZoneShift};
use crate::kinds::zone::ports::{Started, ZonalShifts};

#[derive(Clone)]
pub struct ZonalShift {
    arc: LazyClient<Client>,
    ec2: LazyClient<aws_sdk_ec2::Client>,
    balancers: LoadBalancing,
    /// An account's zone names map to the same IDs for good: read once per container.
    zone_ids: Arc<OnceLock<BTreeMap<AvailabilityZone, ZoneId>>>,
}

impl ZonalShift {
    pub fn new(
        arc: impl Into<LazyClient<Client>>,
        ec2: impl Into<LazyClient<aws_sdk_ec2::Client>>,
        balancers: LoadBalancing,
    ) -> Self {
        Self {
            arc: arc.into(),
            ec2: ec2.into(),
            balancers,
            zone_ids: Arc::new(OnceLock::new()),
        }
    }
}

fn time(value: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(value.secs(), value.subsec_nanos())
}

/// Whole minutes, at least one: ARC takes `expiresIn` as `<n>m` or `<n>h`.
fn expires_in(length: Duration) -> String {
    format!("{}m", length.as_secs().div_ceil(60).max(1))
}

impl ZonalShifts for ZonalShift {
    async fn zone_ids(&self) -> Result<BTreeMap<AvailabilityZone, ZoneId>, Error> {
        if let Some(known) = self.zone_ids.get() {
            return Ok(known.clone());
        }
        let output = self
            .ec2
            .describe_availability_zones()
            .send()
            .await
            .map_err(|e| classify("DescribeAvailabilityZones", e))?;
        let ids: BTreeMap<AvailabilityZone, ZoneId> = output
            .availability_zones()
            .iter()
            .filter_map(|zone| {
                Some((
                    AvailabilityZone::parse(zone.zone_name()?).ok()?,
                    ZoneId::parse(zone.zone_id()?).ok()?,
                ))
            })
            .collect();
        // Two first calls at once both read; either result is the same.
        let _ = self.zone_ids.set(ids.clone());
        Ok(ids)
    }

    async fn in_effect(&self, resource: &str) -> Result<Vec<ZoneShift>, Error> {
        let output = match self
            .arc
            .get_managed_resource()
            .resource_identifier(resource)
            .send()
            .await
        {
            Ok(output) => output,
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                // Not a resource ARC manages: nothing can be shifted on it.
                return Ok(Vec::new());
            }
            Err(err) => return Err(classify("GetManagedResource", err)),
        };
        let mut shifts = Vec::new();
        for shift in output.zonal_shifts() {
            let Ok(away_from) = ZoneId::parse(shift.away_from()) else {
                continue;
            };
            shifts.push(ZoneShift {
                id: Some(shift.zonal_shift_id().to_owned()),
                resource: shift.resource_identifier().to_owned(),
                away_from,
                shift_type: shift
                    .shift_type()
                    .map(|t| ShiftType::from_api(t.as_str()))
                    .unwrap_or(ShiftType::ZonalShift),
                started_at: time(shift.start_time()),
                expires_at: time(shift.expiry_time()),
                comment: shift.comment().to_owned(),
                applied: *shift.applied_status() == AppliedStatus::Applied,
            });
        }
        for autoshift in output.autoshifts() {
            let Ok(away_from) = ZoneId::parse(autoshift.away_from()) else {
                continue;
            };
            shifts.push(ZoneShift {
                id: None,
                resource: resource.to_owned(),
                away_from,
                shift_type: ShiftType::ZonalAutoshift,
                started_at: time(autoshift.start_time()),
                expires_at: None,
                comment: String::new(),
                applied: *autoshift.applied_status() == AutoshiftAppliedStatus::Applied,
            });
        }
        Ok(shifts)
    }

    async fn start(
        &self,
        resource: &str,
        away_from: &ZoneId,
        length: Duration,
        comment: &str,
    ) -> Result<Started, Error> {
        match self
            .arc
            .start_zonal_shift()
            .resource_identifier(resource)
            .away_from(away_from.as_str())
            .expires_in(expires_in(length))
            .comment(comment)
            .send()
            .await
        {
            Ok(output) => Ok(Started::Shift(output.zonal_shift_id().to_owned())),
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(StartZonalShiftError::ConflictException(c))
                        if *c.reason() == ConflictExceptionReason::ZonalShiftAlreadyExists
                ) =>
            {
                Ok(Started::AlreadyAway)
            }
            Err(err) => Err(classify("StartZonalShift", err)),
        }
    }

    async fn extend(&self, shift_id: &str, length: Duration) -> Result<(), Error> {
        self.arc
            .update_zonal_shift()
            .zonal_shift_id(shift_id)
            .expires_in(expires_in(length))
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("UpdateZonalShift", e))
    }

    async fn cancel(&self, shift_id: &str) -> Result<bool, Error> {
        match self
            .arc
            .cancel_zonal_shift()
            .zonal_shift_id(shift_id)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(CancelZonalShiftError::ResourceNotFoundException(_))
                ) || matches!(
                    err.as_service_error(),
                    Some(CancelZonalShiftError::ConflictException(c))
                        if *c.reason() == ConflictExceptionReason::ZonalShiftStatusNotActive
                ) =>
            {
                Ok(false)
            }
            Err(err) => Err(classify("CancelZonalShift", err)),
        }
    }
}

impl ShiftedZones for ZonalShift {
    async fn balancers_in_front(
        &self,
        target_group: &TargetGroupArn,
    ) -> Result<Vec<LoadBalancerArn>, Error> {
        self.balancers.load_balancers_of(target_group).await
    }

    /// Each load balancer's shifts read at once; the zones' names only when one is in
    /// effect.
    async fn shifted_away(&self, balancers: &[LoadBalancerArn]) -> Result<Vec<ShiftedZone>, Error> {
        let read = futures::future::join_all(
            balancers
                .iter()
                .map(|balancer| self.in_effect(balancer.as_str())),
        )
        .await;
        let mut in_effect = Vec::new();
        for (balancer, shifts) in balancers.iter().zip(read) {
            let shifts = shifts?;
            if !shifts.is_empty() {
                in_effect.push((balancer, shifts));
            }
        }
        if in_effect.is_empty() {
            return Ok(Vec::new());
        }
        let names: BTreeMap<ZoneId, AvailabilityZone> = self
            .zone_ids()
            .await?
            .into_iter()
            .map(|(name, id)| (id, name))
            .collect();
        let mut shifted = Vec::new();
        for (balancer, shifts) in in_effect {
            for shift in shifts.iter().filter(|s| s.applied) {
                if let Some(zone) = names.get(&shift.away_from) {
                    shifted.push(ShiftedZone {
                        zone: zone.clone(),
                        by: format!("{} on {}", shift.describe(), balancer.full_name()),
                    });
                }
            }
        }
        Ok(shifted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_asked_in_whole_minutes_rounding_up() {
        assert_eq!(expires_in(Duration::from_secs(3600)), "60m");
        assert_eq!(expires_in(Duration::from_secs(61)), "2m");
        assert_eq!(expires_in(Duration::from_secs(0)), "1m");
    }
}
