//! An Availability Zone as one load balancer sees it: the load balancer, its instance
//! targets counted per zone, the Auto Scaling groups behind them, and the zonal shifts
//! in effect on the load balancer and on those groups.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{
    AutoScalingGroupName, AvailabilityZone, IncidentId, InstanceId, LoadBalancerArn,
    TargetGroupArn, ZoneId,
};
use crate::kinds::target_group::observation::{ScalingGroup, TargetHealth};
use crate::zonal::{self, ZoneCount};

/// The load balancer attribute that registers it with ARC zonal shift.
pub const ZONAL_SHIFT_ATTRIBUTE: &str = "zonal_shift.config.enabled";

/// A load balancer as far as the zone kind needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancer {
    pub arn: LoadBalancerArn,
    pub tags: BTreeMap<String, String>,
    /// `zonal_shift.config.enabled`: ARC may shift its traffic.
    pub zonal_shift_enabled: bool,
    /// The zones it is enabled in.
    pub zones: Vec<AvailabilityZone>,
    /// The target groups it forwards to.
    pub target_groups: Vec<TargetGroupArn>,
}

/// Who started a shift, as ARC says it (`shiftType`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ShiftType {
    /// A customer's (or Rebound's) StartZonalShift.
    ZonalShift,
    /// ARC's weekly practice run.
    PracticeRun,
    /// An AWS FIS experiment.
    FisExperiment,
    /// Zonal autoshift: AWS's own telemetry.
    ZonalAutoshift,
    #[serde(untagged)]
    Other(String),
}

impl ShiftType {
    pub fn from_api(value: &str) -> Self {
        match value {
            "ZONAL_SHIFT" => Self::ZonalShift,
            "PRACTICE_RUN" => Self::PracticeRun,
            "FIS_EXPERIMENT" => Self::FisExperiment,
            "ZONAL_AUTOSHIFT" => Self::ZonalAutoshift,
            other => Self::Other(other.to_owned()),
        }
    }

    /// As people read it.
    pub fn describe(&self) -> &str {
        match self {
            Self::ZonalShift => "zonal shift",
            Self::PracticeRun => "practice run",
            Self::FisExperiment => "FIS experiment",
            Self::ZonalAutoshift => "zonal autoshift",
            Self::Other(other) => other,
        }
    }
}

/// One zonal shift (or autoshift) in effect on a managed resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneShift {
    /// The zonal shift's id (an autoshift has none).
    pub id: Option<String>,
    /// The ARN of the resource it shifts.
    pub resource: String,
    pub away_from: ZoneId,
    pub shift_type: ShiftType,
    pub started_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub comment: String,
    /// Whether it is the one applied (ARC applies one shift per resource at a time).
    pub applied: bool,
}

/// The comment Rebound puts on the shifts it starts, naming its incident: what makes a
/// shift Rebound's own (only those it ever extends or cancels).
pub fn shift_comment(incident: &IncidentId, zone: &AvailabilityZone) -> String {
    format!("Rebound {incident}: {zone} impaired")
}

impl ZoneShift {
    /// Started by Rebound for this incident.
    pub fn started_for(&self, incident: &IncidentId) -> bool {
        self.shift_type == ShiftType::ZonalShift
            && self
                .comment
                .strip_prefix("Rebound ")
                .and_then(|rest| rest.strip_prefix(incident.as_str()))
                .is_some_and(|rest| rest.starts_with(':'))
    }

    /// "a zonal autoshift away from use1-az2 since 10:02:11Z".
    pub fn describe(&self) -> String {
        let since = self
            .started_at
            .map(|at| format!(" since {}", at.format("%H:%M:%SZ")))
            .unwrap_or_default();
        format!(
            "a {} away from {}{since}",
            self.shift_type.describe(),
            self.away_from
        )
    }
}

/// One instance behind the load balancer, with its zone: its worst health across the
/// target groups it is registered in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZonedTarget {
    pub target: TargetHealth,
    /// `None` when it belongs to no Auto Scaling group Rebound could read (its zone is
    /// then unknown and it is not counted).
    pub zone: Option<AvailabilityZone>,
}

/// A zone of one load balancer as observed.
#[derive(Debug, Clone)]
pub struct ObservedZone {
    pub zone: AvailabilityZone,
    /// Zone names to IDs in this account (DescribeAvailabilityZones).
    pub zone_ids: BTreeMap<AvailabilityZone, ZoneId>,
    pub load_balancer: LoadBalancer,
    pub targets: Vec<ZonedTarget>,
    /// Instance targets counted per zone.
    pub counts: Vec<ZoneCount>,
    /// The groups owning the targets.
    pub groups: Vec<ScalingGroup>,
    /// Shifts in effect on the load balancer (none read when zonal shift is off for it).
    pub on_load_balancer: Vec<ZoneShift>,
    /// Shifts in effect on each group that takes part in zonal shift.
    pub on_groups: BTreeMap<AutoScalingGroupName, Vec<ZoneShift>>,
}

impl ObservedZone {
    /// Counts the targets per zone, each instance once.
    pub fn count(targets: &[ZonedTarget]) -> Vec<ZoneCount> {
        zonal::count(targets.iter().filter_map(|t| {
            let zone = t.zone.as_ref()?;
            t.target
                .state
                .is_serving()
                .then_some((zone, t.target.state.is_unhealthy()))
        }))
    }

    pub fn zone_id(&self) -> Option<&ZoneId> {
        self.zone_ids.get(&self.zone)
    }

    /// This zone's count (no targets when none are known there).
    pub fn this_zone(&self) -> ZoneCount {
        self.counts
            .iter()
            .find(|c| c.zone == self.zone)
            .cloned()
            .unwrap_or(ZoneCount {
                zone: self.zone.clone(),
                targets: 0,
                unhealthy: 0,
            })
    }

    /// Every shift in effect on the load balancer and its groups.
    pub fn shifts(&self) -> impl Iterator<Item = &ZoneShift> {
        self.on_load_balancer
            .iter()
            .chain(self.on_groups.values().flatten())
    }

    /// The shifts Rebound started for this incident, still in effect.
    pub fn ours<'a>(&'a self, incident: &'a IncidentId) -> impl Iterator<Item = &'a ZoneShift> {
        self.shifts().filter(move |s| s.started_for(incident))
    }

    /// The load balancer's shift Rebound started for this incident, if in effect.
    pub fn our_load_balancer_shift(&self, incident: &IncidentId) -> Option<&ZoneShift> {
        self.on_load_balancer
            .iter()
            .find(|s| s.started_for(incident))
    }

    /// Whether a group is shifted away from this zone (by anyone).
    pub fn group_shifted(&self, group: &AutoScalingGroupName) -> bool {
        let Some(zone_id) = self.zone_id() else {
            return false;
        };
        self.on_groups
            .get(group)
            .is_some_and(|shifts| shifts.iter().any(|s| &s.away_from == zone_id))
    }

    /// The instance's zone, from the group that owns it.
    pub fn zone_of(groups: &[ScalingGroup], instance: &InstanceId) -> Option<AvailabilityZone> {
        groups
            .iter()
            .find_map(|g| g.instance(instance))
            .and_then(|i| i.availability_zone.clone())
    }
}

/// The target groups' health merged per instance: an instance counts as unhealthy when
/// it fails in any target group it serves in.
pub fn merge_targets(
    per_target_group: impl IntoIterator<Item = Vec<TargetHealth>>,
    groups: &[ScalingGroup],
) -> Vec<ZonedTarget> {
    // Failing anywhere outranks serving, which outranks not serving.
    let rank = |t: &TargetHealth| match (t.state.is_unhealthy(), t.state.is_serving()) {
        (true, _) => 2,
        (false, true) => 1,
        (false, false) => 0,
    };
    let mut merged: BTreeMap<InstanceId, TargetHealth> = BTreeMap::new();
    for targets in per_target_group {
        for target in targets {
            if merged
                .get(&target.instance_id)
                .is_none_or(|kept| rank(&target) > rank(kept))
            {
                merged.insert(target.instance_id.clone(), target);
            }
        }
    }
    merged
        .into_values()
        .map(|target| ZonedTarget {
            zone: ObservedZone::zone_of(groups, &target.instance_id),
            target,
        })
        .collect()
}
