//! The fleet's load balancers and ARC zonal shift: shifts in effect per resource with
//! ARC's precedence (customer shifts, then autoshifts, then practice runs), one zone
//! per resource, and the capacity raises asked of groups.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{lock, round_trip, FakeFleet};
use crate::error::Error;
use crate::ids::{AutoScalingGroupName, AvailabilityZone, LoadBalancerArn, TargetGroupArn, ZoneId};
use crate::kinds::target_group::observation::ShiftedZone;
use crate::kinds::target_group::ports::ShiftedZones;
use crate::kinds::zone::observation::{LoadBalancer, ShiftType, ZoneShift};
use crate::kinds::zone::ports::{CapacityRaiser, LoadBalancers, Started, ZonalShifts};

/// One shift as the fake keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeShift {
    pub id: String,
    pub resource: String,
    pub away_from: ZoneId,
    pub shift_type: ShiftType,
    pub comment: String,
    pub started_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub active: bool,
}

#[derive(Default)]
pub(super) struct ZonalState {
    balancers: BTreeMap<LoadBalancerArn, LoadBalancer>,
    zone_ids: BTreeMap<AvailabilityZone, ZoneId>,
    shifts: Vec<FakeShift>,
    next_id: u32,
    /// Every StartZonalShift, UpdateZonalShift and CancelZonalShift, in order.
    calls: Vec<String>,
    raised: Vec<(AutoScalingGroupName, u32)>,
}

/// Customer shifts (and FIS), then autoshifts, then practice runs: the first applies.
fn precedence(shift: &FakeShift) -> u8 {
    match shift.shift_type {
        ShiftType::ZonalShift | ShiftType::FisExperiment => 0,
        ShiftType::ZonalAutoshift => 1,
        _ => 2,
    }
}

/// ARC's `ConflictException`, not retryable.
fn conflict(operation: &'static str, message: &str) -> Error {
    Error::Aws {
        operation,
        retryable: false,
        detail: format!("ConflictException: {message}"),
        source: message.to_owned().into(),
    }
}

impl FakeFleet {
    /// Adds a load balancer, and the zones' IDs as `use1-az<n>` by zone order unless
    /// already known.
    pub fn add_load_balancer(&self, balancer: LoadBalancer) {
        let mut state = lock(&self.inner);
        for zone in &balancer.zones {
            let next = state.zonal.zone_ids.len() + 1;
            state
                .zonal
                .zone_ids
                .entry(zone.clone())
                // allow: "use1-az<n>" is a valid zone ID for every n; tests only (test-util).
                .or_insert_with(|| ZoneId::parse(format!("use1-az{next}")).expect("zone id"));
        }
        state.zonal.balancers.insert(balancer.arn.clone(), balancer);
    }

    pub fn update_load_balancer(
        &self,
        arn: &LoadBalancerArn,
        change: impl FnOnce(&mut LoadBalancer),
    ) {
        if let Some(balancer) = lock(&self.inner).zonal.balancers.get_mut(arn) {
            change(balancer);
        }
    }

    pub fn zone_id(&self, zone: &AvailabilityZone) -> Option<ZoneId> {
        lock(&self.inner).zonal.zone_ids.get(zone).cloned()
    }

    /// A shift someone else started (a person, an autoshift, a practice run).
    pub fn shift_by_others(
        &self,
        resource: &str,
        zone: &AvailabilityZone,
        shift_type: ShiftType,
        comment: &str,
    ) -> String {
        let mut state = lock(&self.inner);
        // allow: a test naming a zone no load balancer has is the test's bug (test-util).
        let away_from = state.zonal.zone_ids.get(zone).cloned().expect("known zone");
        state.zonal.next_id += 1;
        let id = format!("shift-{}", state.zonal.next_id);
        state.zonal.shifts.push(FakeShift {
            id: id.clone(),
            resource: resource.to_owned(),
            away_from,
            shift_type,
            comment: comment.to_owned(),
            started_at: Utc::now(),
            expires_at: None,
            active: true,
        });
        id
    }

    /// Every shift started so far.
    pub fn shifts(&self) -> Vec<FakeShift> {
        lock(&self.inner).zonal.shifts.clone()
    }

    /// Ends a shift as its expiry would.
    pub fn expire_shift(&self, id: &str) {
        if let Some(shift) = lock(&self.inner)
            .zonal
            .shifts
            .iter_mut()
            .find(|s| s.id == id)
        {
            shift.active = false;
        }
    }

    /// Moves a shift's expiry (the fake has no clock of its own).
    pub fn set_shift_expiry(&self, id: &str, at: DateTime<Utc>) {
        if let Some(shift) = lock(&self.inner)
            .zonal
            .shifts
            .iter_mut()
            .find(|s| s.id == id)
        {
            shift.expires_at = Some(at);
        }
    }

    /// The zonal shift calls made, in order: `start <resource> <zone id>`, `extend <id>`,
    /// `cancel <id>`.
    pub fn zonal_calls(&self) -> Vec<String> {
        lock(&self.inner).zonal.calls.clone()
    }

    /// Every desired capacity asked for.
    pub fn raised(&self) -> Vec<(AutoScalingGroupName, u32)> {
        lock(&self.inner).zonal.raised.clone()
    }

    fn in_effect_now(&self, resource: &str) -> Vec<ZoneShift> {
        let state = lock(&self.inner);
        let mut active: Vec<&FakeShift> = state
            .zonal
            .shifts
            .iter()
            .filter(|s| s.active && s.resource == resource)
            .collect();
        active.sort_by_key(|s| precedence(s));
        active
            .iter()
            .enumerate()
            .map(|(index, shift)| ZoneShift {
                id: (shift.shift_type != ShiftType::ZonalAutoshift).then(|| shift.id.clone()),
                resource: shift.resource.clone(),
                away_from: shift.away_from.clone(),
                shift_type: shift.shift_type.clone(),
                started_at: Some(shift.started_at),
                expires_at: shift.expires_at,
                comment: shift.comment.clone(),
                applied: index == 0,
            })
            .collect()
    }
}

impl LoadBalancers for FakeFleet {
    async fn load_balancer(&self, arn: &LoadBalancerArn) -> Result<Option<LoadBalancer>, Error> {
        round_trip().await;
        Ok(lock(&self.inner).zonal.balancers.get(arn).cloned())
    }

    async fn managed_load_balancers(&self, tag_key: &str) -> Result<Vec<LoadBalancer>, Error> {
        round_trip().await;
        Ok(lock(&self.inner)
            .zonal
            .balancers
            .values()
            .filter(|b| b.tags.get(tag_key).is_some_and(|v| v == "true"))
            .cloned()
            .collect())
    }
}

impl ZonalShifts for FakeFleet {
    async fn zone_ids(&self) -> Result<BTreeMap<AvailabilityZone, ZoneId>, Error> {
        round_trip().await;
        Ok(lock(&self.inner).zonal.zone_ids.clone())
    }

    async fn in_effect(&self, resource: &str) -> Result<Vec<ZoneShift>, Error> {
        round_trip().await;
        Ok(self.in_effect_now(resource))
    }

    async fn start(
        &self,
        resource: &str,
        away_from: &ZoneId,
        expires_in: Duration,
        comment: &str,
    ) -> Result<Started, Error> {
        round_trip().await;
        let mut state = lock(&self.inner);
        state
            .zonal
            .calls
            .push(format!("start {resource} {away_from}"));
        let customer = state.zonal.shifts.iter().find(|s| {
            s.active
                && s.resource == resource
                && matches!(
                    s.shift_type,
                    ShiftType::ZonalShift | ShiftType::FisExperiment
                )
        });
        if let Some(existing) = customer {
            if &existing.away_from == away_from {
                return Ok(Started::AlreadyAway);
            }
            return Err(conflict(
                "StartZonalShift",
                "a resource can be shifted away from one Availability Zone at a time",
            ));
        }
        state.zonal.next_id += 1;
        let id = format!("shift-{}", state.zonal.next_id);
        let now = Utc::now();
        state.zonal.shifts.push(FakeShift {
            id: id.clone(),
            resource: resource.to_owned(),
            away_from: away_from.clone(),
            shift_type: ShiftType::ZonalShift,
            comment: comment.to_owned(),
            started_at: now,
            expires_at: chrono::Duration::from_std(expires_in).ok().map(|d| now + d),
            active: true,
        });
        Ok(Started::Shift(id))
    }

    async fn extend(&self, shift_id: &str, expires_in: Duration) -> Result<(), Error> {
        round_trip().await;
        let mut state = lock(&self.inner);
        state.zonal.calls.push(format!("extend {shift_id}"));
        let shift = state
            .zonal
            .shifts
            .iter_mut()
            .find(|s| s.id == shift_id && s.active)
            .ok_or_else(|| conflict("UpdateZonalShift", "the zonal shift is not active"))?;
        shift.expires_at = chrono::Duration::from_std(expires_in)
            .ok()
            .map(|d| Utc::now() + d);
        Ok(())
    }

    async fn cancel(&self, shift_id: &str) -> Result<bool, Error> {
        round_trip().await;
        let mut state = lock(&self.inner);
        state.zonal.calls.push(format!("cancel {shift_id}"));
        Ok(state
            .zonal
            .shifts
            .iter_mut()
            .find(|s| s.id == shift_id && s.active)
            .map(|s| s.active = false)
            .is_some())
    }
}

impl ShiftedZones for FakeFleet {
    async fn balancers_in_front(
        &self,
        target_group: &TargetGroupArn,
    ) -> Result<Vec<LoadBalancerArn>, Error> {
        round_trip().await;
        Ok(lock(&self.inner)
            .zonal
            .balancers
            .values()
            .filter(|b| b.target_groups.contains(target_group))
            .map(|b| b.arn.clone())
            .collect())
    }

    async fn shifted_away(&self, balancers: &[LoadBalancerArn]) -> Result<Vec<ShiftedZone>, Error> {
        round_trip().await;
        let names: BTreeMap<ZoneId, AvailabilityZone> = lock(&self.inner)
            .zonal
            .zone_ids
            .iter()
            .map(|(name, id)| (id.clone(), name.clone()))
            .collect();
        Ok(balancers
            .iter()
            .flat_map(|arn| {
                self.in_effect_now(arn.as_str())
                    .into_iter()
                    .filter(|s| s.applied)
                    .filter_map(|s| {
                        Some(ShiftedZone {
                            zone: names.get(&s.away_from)?.clone(),
                            by: format!("{} on {}", s.describe(), arn.full_name()),
                        })
                    })
                    .collect::<Vec<_>>()
            })
            .collect())
    }
}

impl CapacityRaiser for FakeFleet {
    async fn set_desired_capacity(
        &self,
        group: &AutoScalingGroupName,
        desired: u32,
    ) -> Result<(), Error> {
        round_trip().await;
        let mut state = lock(&self.inner);
        state.zonal.raised.push((group.clone(), desired));
        if let Some(g) = state.groups.iter_mut().find(|g| &g.name == group) {
            g.desired_capacity = desired;
        }
        Ok(())
    }
}
