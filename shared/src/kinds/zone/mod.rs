//! Availability Zones as one load balancer sees them (`zone-health`): when one zone is
//! the isolated outlier (most of its targets failing, the other zones healthy), its
//! traffic is shifted away with ARC zonal shift — capacity raised first when the zones
//! left could not carry it — extended while the zone stays impaired, and ended once it
//! has stayed healthy for the settle time.
//!
//! The resource is `<load balancer ARN>#<zone name>`: one incident per zone, and never
//! two zones of one load balancer shifted at once (ARC allows one; so does the guard).
//!
//! - [`observation`]: the load balancer, its targets per zone, the shifts in effect;
//! - [`policy`] and [`refusals`]: the decision and its guards;
//! - [`ports`]: what the kind needs from AWS;
//! - [`trigger`]: the events zone-health answers;
//! - [`view`]: how its incidents read.

pub mod observation;
pub mod policy;
pub mod ports;
pub mod refusals;
pub mod trigger;
pub mod view;

#[cfg(test)]
mod policy_tests;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use self::observation::{merge_targets, shift_comment, LoadBalancer, ObservedZone, ZoneShift};
use self::ports::{CapacityRaiser, LoadBalancers, Started, ZonalShifts};
use crate::config::{ConfigError, Env, Settings, Variable};
use crate::domain::{
    Action, ActionKind, ActionOutcome, Decision, Incident, PlannedAction, ResourceRef, ResourceType,
};
use crate::error::Error;
use crate::ids::{AutoScalingGroupName, AvailabilityZone, InstanceId, LoadBalancerArn, ZoneId};
use crate::kind::{Acting, Kind};
use crate::kinds::target_group::observation::{ScalingGroup, TargetHealth};
use crate::kinds::target_group::owning_groups;
use crate::kinds::target_group::ports::{ScalingGroups, TargetHealthSource};
use crate::policy::{rto_from_tags, History};
use crate::zonal::{self, ZonalRule, ZoneCount};

/// The function that watches zones.
pub const FUNCTION: &str = "zone-health";

pub const AVAILABILITY_ZONE: ResourceType = ResourceType::named("availability-zone");
pub const LOAD_BALANCER: ResourceType = ResourceType::named("load-balancer");

/// `StartZonalShift` on the load balancer (and the groups behind it that opt in).
pub const START_ZONAL_SHIFT: ActionKind = ActionKind::named("start-zonal-shift");
/// `UpdateZonalShift`: a later expiry for Rebound's own shifts.
pub const EXTEND_ZONAL_SHIFT: ActionKind = ActionKind::named("extend-zonal-shift");
/// `CancelZonalShift` of Rebound's own shifts.
pub const CANCEL_ZONAL_SHIFT: ActionKind = ActionKind::named("cancel-zonal-shift");
/// `SetDesiredCapacity` up by the zone's share, the group shifted away from the zone
/// first so the new capacity launches elsewhere.
pub const RAISE_CAPACITY: ActionKind = ActionKind::named("raise-desired-capacity");

/// The actions whose mode (`APPROVAL_MODES`, the tag `rebound:approval`) may hold them
/// for a person's approval: Starting a shift, and raising a group's capacity for one (extending and ending Rebound's own shift are never held back).
pub const APPROVABLE: &[ActionKind] = &[START_ZONAL_SHIFT, RAISE_CAPACITY];

/// The separator between the load balancer's ARN and the zone in a zone's resource id.
const ZONE_SEPARATOR: char = '#';

/// A zone of a load balancer as a resource: `<load balancer ARN>#<zone name>`.
pub fn zone_ref(load_balancer: &LoadBalancerArn, zone: &AvailabilityZone) -> ResourceRef {
    ResourceRef::new(
        AVAILABILITY_ZONE,
        format!("{load_balancer}{ZONE_SEPARATOR}{zone}"),
    )
}

/// The load balancer and zone a zone's resource id names.
pub fn parse_zone_ref(id: &str) -> Result<(LoadBalancerArn, AvailabilityZone), Error> {
    let (arn, zone) = id.rsplit_once(ZONE_SEPARATOR).ok_or_else(|| {
        Error::InvalidEvent(format!(
            "{id:?} is not a zone of a load balancer (<load balancer ARN>#<zone>)"
        ))
    })?;
    let arn = LoadBalancerArn::parse(arn).map_err(|e| Error::InvalidEvent(e.to_string()))?;
    let zone = AvailabilityZone::parse(zone).map_err(|e| Error::InvalidEvent(e.to_string()))?;
    Ok((arn, zone))
}

pub fn load_balancer(arn: &LoadBalancerArn) -> ResourceRef {
    ResourceRef::new(LOAD_BALANCER, arn.as_str())
}

pub const ZONE_CONFIRM_SECONDS: Variable = Variable::seconds(
    "ZONE_CONFIRM_SECONDS",
    60,
    0,
    3600,
    "A zone seen impaired is confirmed by a second observation at least this long after the first, or at once by its own zone alarm; meanwhile its instances are held.",
);
pub const ZONAL_SHIFT_EXPIRY_SECONDS: Variable = Variable::seconds(
    "ZONAL_SHIFT_EXPIRY_SECONDS",
    3600,
    60,
    259_200,
    "How long a zonal shift Rebound starts (or extends) lasts before ARC ends it by itself.",
);
pub const ZONAL_SHIFT_MAX_SECONDS: Variable = Variable::seconds(
    "ZONAL_SHIFT_MAX_SECONDS",
    86_400,
    60,
    604_800,
    "How long Rebound keeps one zone shifted away, extensions included, before it escalates instead of extending.",
);
pub const ZONE_SETTLE_SECONDS: Variable = Variable::seconds(
    "ZONE_SETTLE_SECONDS",
    300,
    0,
    86_400,
    "How long an evacuated zone's targets stay healthy before Rebound ends its shift (and a zone seen impaired once, before its incident resolves).",
);
pub const ZONE_CAPACITY_PERCENT: Variable = Variable::number(
    "ZONE_CAPACITY_PERCENT",
    50,
    1,
    100,
    "percent",
    "The share of each group's desired capacity the zones left must serve before traffic shifts onto them; short of it, Rebound raises the group's desired capacity first.",
);
pub const ZONAL_SHIFT_COOLDOWN_SECONDS: Variable = Variable::seconds(
    "ZONAL_SHIFT_COOLDOWN_SECONDS",
    600,
    0,
    86_400,
    "Between two zonal shifts Rebound starts for one load balancer.",
);
pub const ZONE_RTO_SECONDS: Variable = Variable::seconds(
    "ZONE_RTO_SECONDS",
    900,
    60,
    604_800,
    "A zone incident's objective for mitigation (traffic shifted away), unless the load balancer's or a group's rebound:rto-seconds says otherwise.",
);

/// The zone policy's knobs, with the settings every kind shares.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub settings: Settings,
    pub rule: ZonalRule,
    pub confirm: Duration,
    pub shift_expiry: Duration,
    pub shift_max: Duration,
    pub settle: Duration,
    pub capacity_percent: u32,
    pub cooldown: Duration,
    pub rto: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            settings: Settings::default(),
            rule: ZonalRule::default(),
            confirm: Duration::from_secs(60),
            shift_expiry: Duration::from_secs(3600),
            shift_max: Duration::from_secs(86_400),
            settle: Duration::from_secs(300),
            capacity_percent: 50,
            cooldown: Duration::from_secs(600),
            rto: Duration::from_secs(900),
        }
    }
}

impl Policy {
    /// The kind's own variables (the shared ones are [`Settings::VARIABLES`] and
    /// [`ZonalRule::VARIABLES`]).
    pub const VARIABLES: &'static [Variable] = &[
        ZONE_CONFIRM_SECONDS,
        ZONAL_SHIFT_EXPIRY_SECONDS,
        ZONAL_SHIFT_MAX_SECONDS,
        ZONE_SETTLE_SECONDS,
        ZONE_CAPACITY_PERCENT,
        ZONAL_SHIFT_COOLDOWN_SECONDS,
        ZONE_RTO_SECONDS,
    ];

    pub fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            settings: Settings::read(env, APPROVABLE)?,
            rule: ZonalRule::read(env)?,
            confirm: env.duration(&ZONE_CONFIRM_SECONDS)?,
            shift_expiry: env.duration(&ZONAL_SHIFT_EXPIRY_SECONDS)?,
            shift_max: env.duration(&ZONAL_SHIFT_MAX_SECONDS)?,
            settle: env.duration(&ZONE_SETTLE_SECONDS)?,
            capacity_percent: env.count(&ZONE_CAPACITY_PERCENT)?,
            cooldown: env.duration(&ZONAL_SHIFT_COOLDOWN_SECONDS)?,
            rto: env.duration(&ZONE_RTO_SECONDS)?,
        })
    }
}

/// What a zone's incident keeps: the zones counted at the last observation, the zone's
/// own targets, the groups behind the load balancer, the shifts in effect, and since
/// when the zone has looked impaired (or healthy) without a break.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    #[serde(default)]
    pub load_balancer: String,
    #[serde(default)]
    pub zone: String,
    #[serde(default)]
    pub zone_id: Option<String>,
    #[serde(default)]
    pub zones: Vec<ZoneCount>,
    /// The zone's own targets.
    #[serde(default)]
    pub targets: Vec<TargetHealth>,
    #[serde(default)]
    pub auto_scaling_groups: Vec<String>,
    /// The first of the consecutive observations that found the zone the outlier.
    #[serde(default)]
    pub impaired_since: Option<DateTime<Utc>>,
    /// The first of the consecutive observations that found every target there healthy.
    #[serde(default)]
    pub healthy_since: Option<DateTime<Utc>>,
    /// The shifts in effect on the load balancer and its groups, whoever started them.
    #[serde(default)]
    pub shifts: Vec<ZoneShift>,
}

/// What a delivery said of a zone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Cue {
    /// The schedule.
    #[default]
    Look,
    /// The zone's own `UnHealthyHostCount` alarm (dimension `AvailabilityZone`) changed
    /// to this state.
    Alarm { state: String },
}

impl Cue {
    /// The zone's alarm in ALARM confirms what one observation shows.
    pub fn confirms(&self) -> bool {
        matches!(self, Self::Alarm { state } if state == "ALARM")
    }
}

/// What a zone's check reads before the rest: its load balancer and the account's zone
/// IDs, and what is known of its targets and their groups.
#[derive(Debug, Clone)]
pub struct FirstLook {
    pub zone: AvailabilityZone,
    pub zone_ids: BTreeMap<AvailabilityZone, ZoneId>,
    pub balancer: LoadBalancer,
    pub read: Read,
}

/// What is known of the load balancer's targets and their groups before observing.
#[derive(Debug, Clone)]
pub enum Read {
    /// The sweep that listed the zone read them.
    Swept {
        targets: Vec<observation::ZonedTarget>,
        groups: Vec<ScalingGroup>,
    },
    /// Only the managed groups with their instances (`None` when they could not be
    /// read, or not in one call): the targets are read next.
    Ahead { managed: Option<Vec<ScalingGroup>> },
}

/// Zones behind load balancers as a kind of watched resource: the ports it reads and
/// acts through, and its policy.
pub struct Zones<B, T, G, S, C> {
    pub balancers: B,
    pub targets: T,
    pub groups: G,
    pub shifts: S,
    pub capacity: C,
    pub policy: Policy,
    /// What the sweep's listing read, for that sweep's checks.
    pub swept: SweptBalancers,
}

/// What a sweep's listing read of a load balancer whose zones the sweep then checks (an
/// outlier, or a zone with an open incident): without it each of those checks would read
/// the load balancer, its targets and their groups a second time. Each zone's check takes
/// it once; what is left is dropped when the sweep ends, so no later delivery decides on
/// a sweep's reads. Only the load balancers about to be checked are kept.
#[derive(Default)]
pub struct SweptBalancers(std::sync::Mutex<BTreeMap<LoadBalancerArn, SweptBalancer>>);

struct SweptBalancer {
    balancer: LoadBalancer,
    targets: Vec<observation::ZonedTarget>,
    groups: Vec<ScalingGroup>,
    /// The zones whose checks have not taken it yet.
    zones: BTreeSet<AvailabilityZone>,
}

impl SweptBalancers {
    fn entries(&self) -> std::sync::MutexGuard<'_, BTreeMap<LoadBalancerArn, SweptBalancer>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn clear(&self) {
        self.entries().clear();
    }

    fn keep(&self, entry: SweptBalancer) {
        if !entry.zones.is_empty() {
            self.entries().insert(entry.balancer.arn.clone(), entry);
        }
    }

    /// The listing's read for this zone's check, once.
    fn take(
        &self,
        arn: &LoadBalancerArn,
        zone: &AvailabilityZone,
    ) -> Option<(
        LoadBalancer,
        Vec<observation::ZonedTarget>,
        Vec<ScalingGroup>,
    )> {
        let mut entries = self.entries();
        let entry = entries.get_mut(arn)?;
        if !entry.zones.remove(zone) {
            return None;
        }
        let read = if entry.zones.is_empty() {
            let entry = entries.remove(arn)?;
            (entry.balancer, entry.targets, entry.groups)
        } else {
            (
                entry.balancer.clone(),
                entry.targets.clone(),
                entry.groups.clone(),
            )
        };
        Some(read)
    }
}

impl<B, T, G, S, C> Zones<B, T, G, S, C>
where
    B: LoadBalancers,
    T: TargetHealthSource,
    G: ScalingGroups,
    S: ZonalShifts,
    C: CapacityRaiser,
{
    /// The targets of every target group the load balancer forwards to, each instance
    /// once, with the groups that own them: those among `managed` (the managed groups
    /// with their instances, when read ahead), then, for the instances none of them
    /// owns, whichever groups do.
    async fn targets_and_groups(
        &self,
        balancer: &LoadBalancer,
        managed: Option<Vec<ScalingGroup>>,
    ) -> Result<(Vec<observation::ZonedTarget>, Vec<ScalingGroup>), Error> {
        // Each target group's health needs nothing of another's: read at once.
        let per_target_group: Vec<Vec<TargetHealth>> = futures::future::try_join_all(
            balancer
                .target_groups
                .iter()
                .map(|target_group| self.targets.target_health(target_group)),
        )
        .await?
        .into_iter()
        .flatten()
        .collect();
        let members: BTreeSet<InstanceId> = per_target_group
            .iter()
            .flatten()
            .map(|t| t.instance_id.clone())
            .collect();
        let groups =
            owning_groups(&self.groups, managed, members.into_iter().collect(), None).await?;
        Ok((merge_targets(per_target_group, &groups), groups))
    }

    /// The zones of a load balancer that look like the isolated outlier right now; what
    /// was read is kept for the checks of those zones and of `open` ones (zones of this
    /// load balancer with an open incident).
    async fn outliers(
        &self,
        balancer: LoadBalancer,
        open: &BTreeSet<AvailabilityZone>,
    ) -> Result<Vec<ResourceRef>, Error> {
        let (targets, groups) = self.targets_and_groups(&balancer, None).await?;
        let counts = ObservedZone::count(&targets);
        let outliers: Vec<AvailabilityZone> = zonal::outlier(&counts, &self.policy.rule)
            .map(|outlier| outlier.zone.clone())
            .into_iter()
            .collect();
        let listed = outliers
            .iter()
            .map(|zone| zone_ref(&balancer.arn, zone))
            .collect();
        let zones = outliers.into_iter().chain(open.iter().cloned()).collect();
        self.swept.keep(SweptBalancer {
            balancer,
            targets,
            groups,
            zones,
        });
        Ok(listed)
    }
}

impl<B, T, G, S, C> Kind for Zones<B, T, G, S, C>
where
    B: LoadBalancers,
    T: TargetHealthSource,
    G: ScalingGroups,
    S: ZonalShifts,
    C: CapacityRaiser,
{
    type Cue = Cue;
    type Observed = ObservedZone;
    type FirstLook = FirstLook;
    type Evidence = Evidence;

    fn resource_type(&self) -> ResourceType {
        AVAILABILITY_ZONE
    }

    fn settings(&self) -> &Settings {
        &self.policy.settings
    }

    /// The zones of managed load balancers that look impaired now (a healthy zone
    /// without an incident has nothing to decide; those with one the shell adds).
    async fn sweep_list(&self, open: &[ResourceRef]) -> Result<Vec<ResourceRef>, Error> {
        self.swept.clear();
        let mut open_zones: BTreeMap<LoadBalancerArn, BTreeSet<AvailabilityZone>> = BTreeMap::new();
        for resource in open {
            if let Ok((arn, zone)) = parse_zone_ref(&resource.id) {
                open_zones.entry(arn).or_default().insert(zone);
            }
        }
        let mut zones = Vec::new();
        for balancer in self
            .balancers
            .managed_load_balancers(&self.policy.settings.managed_tag_key)
            .await?
        {
            let arn = balancer.arn.clone();
            let all_zones: Vec<ResourceRef> = balancer
                .zones
                .iter()
                .map(|zone| zone_ref(&arn, zone))
                .collect();
            let open = open_zones.remove(&arn).unwrap_or_default();
            match self.outliers(balancer, &open).await {
                Ok(outliers) => zones.extend(outliers),
                // One load balancer that cannot be read stops no other: each of its
                // zones gets a check of its own, which reports the failure as that
                // zone's (or finds the zone well after all).
                Err(err) => {
                    tracing::warn!(load_balancer = %arn, error = %err, "zones not counted; each checked on its own");
                    zones.extend(all_zones);
                }
            }
        }
        Ok(zones)
    }

    fn sweep_ended(&self) {
        self.swept.clear();
    }

    /// The load balancer (unless the sweep just read it) and the account's zone IDs
    /// (ARC names zones by ID; read once per container): neither needs anything but the
    /// zone's reference, so both are read alongside the incident.
    async fn first_look(
        &self,
        resource: &ResourceRef,
        _cue: &Cue,
    ) -> Result<Option<FirstLook>, Error> {
        let (arn, zone) = parse_zone_ref(&resource.id)?;
        let swept = self.swept.take(&arn, &zone);
        // Unless the sweep read them, the managed groups with their instances are read
        // too, when one call lists them: they name the groups owning the targets in the
        // same round trip as the targets (instead of two after them: each instance's
        // group, then the group).
        let (zone_ids, balancer, managed) = futures::join!(
            self.shifts.zone_ids(),
            async {
                match &swept {
                    Some((balancer, _, _)) => Ok(Some(balancer.clone())),
                    None => self.balancers.load_balancer(&arn).await,
                }
            },
            async {
                match &swept {
                    Some(_) => None,
                    None => Some(
                        self.groups
                            .managed_groups_in_one_call(&self.policy.settings.managed_tag_key)
                            .await,
                    ),
                }
            }
        );
        let Some(balancer) = balancer? else {
            return Ok(None);
        };
        let zone_ids = zone_ids?;
        let managed = match managed {
            Some(Ok(managed)) => managed,
            Some(Err(err)) => {
                // Only a shortcut: the groups are then found from the targets.
                tracing::warn!(error = %err, "managed groups not read ahead");
                None
            }
            None => None,
        };
        if !balancer.zones.contains(&zone) {
            // The load balancer no longer serves from that zone.
            return Ok(None);
        }
        Ok(Some(FirstLook {
            zone,
            zone_ids,
            balancer,
            read: match swept {
                Some((_, targets, groups)) => Read::Swept { targets, groups },
                None => Read::Ahead { managed },
            },
        }))
    }

    async fn observe(
        &self,
        _resource: &ResourceRef,
        _cue: &Cue,
        look: FirstLook,
        _incident: Option<&Incident>,
    ) -> Result<Option<ObservedZone>, Error> {
        let FirstLook {
            zone,
            zone_ids,
            balancer,
            read,
        } = look;
        // The shifts on the load balancer need only the load balancer; its targets and
        // their groups are read meanwhile (unless the sweep just read them).
        let (read, on_load_balancer) = futures::try_join!(
            async {
                match read {
                    Read::Swept { targets, groups } => Ok((targets, groups)),
                    Read::Ahead { managed } => self.targets_and_groups(&balancer, managed).await,
                }
            },
            async {
                if balancer.zonal_shift_enabled {
                    self.shifts.in_effect(balancer.arn.as_str()).await
                } else {
                    Ok(Vec::new())
                }
            }
        )?;
        let (targets, groups) = read;
        // Each group's shifts, at once.
        let taking_part: Vec<(&AutoScalingGroupName, &str)> = groups
            .iter()
            .filter(|group| group.zonal_shift_enabled)
            .filter_map(|group| Some((&group.name, group.arn.as_deref()?)))
            .collect();
        let shifts = futures::future::try_join_all(
            taking_part
                .iter()
                .map(|(_, arn)| self.shifts.in_effect(arn)),
        )
        .await?;
        let on_groups: BTreeMap<AutoScalingGroupName, Vec<ZoneShift>> = taking_part
            .iter()
            .map(|(name, _)| (*name).clone())
            .zip(shifts)
            .collect();
        Ok(Some(ObservedZone {
            counts: ObservedZone::count(&targets),
            zone,
            zone_ids,
            load_balancer: balancer,
            targets,
            groups,
            on_load_balancer,
            on_groups,
        }))
    }

    /// The load balancer's ledger (cooldown between shifts), the zone's own (its
    /// extensions and returns), and each group's a raise may count against.
    fn scopes(&self, observed: &ObservedZone) -> Vec<ResourceRef> {
        // A zone that is not the outlier, with no shift in effect on its load balancer or
        // its groups, has no shift to start, extend or end: its decision (healthy, or an
        // incident verified and resolved) needs no ledger.
        let impaired = zonal::outlier(&observed.counts, &self.policy.rule)
            .is_some_and(|outlier| outlier.zone == observed.zone);
        if !impaired && observed.shifts().next().is_none() {
            return Vec::new();
        }
        let mut scopes = vec![
            load_balancer(&observed.load_balancer.arn),
            zone_ref(&observed.load_balancer.arn, &observed.zone),
        ];
        scopes.extend(
            observed
                .groups
                .iter()
                .map(|g| crate::kinds::target_group::auto_scaling_group(&g.name)),
        );
        scopes
    }

    fn decide(
        &self,
        observed: &ObservedZone,
        cue: &Cue,
        history: History<'_>,
        now: DateTime<Utc>,
    ) -> Decision {
        policy::decide(observed, cue, history, &self.policy, now)
    }

    fn evidence(
        &self,
        observed: &ObservedZone,
        _cue: &Cue,
        _decision: &Decision,
        kept: Option<Evidence>,
        now: DateTime<Utc>,
    ) -> Evidence {
        evidence_of(observed, &self.policy, kept, now)
    }

    fn settle(
        &self,
        action: &Action,
        observed: &ObservedZone,
        incident: &Incident,
        now: DateTime<Utc>,
    ) -> Option<(ActionOutcome, String)> {
        policy::settle_pending(action, observed, &incident.id, &self.policy, now)
    }

    async fn act(
        &self,
        action: &Action,
        acting: Acting<'_, ObservedZone>,
    ) -> Result<Option<String>, Error> {
        let Acting {
            observed,
            incident,
            now,
        } = acting;
        let zone = &observed.zone;
        let zone_id = observed
            .zone_id()
            .ok_or_else(|| Error::InvalidEvent(format!("{zone} has no zone ID")))?;
        let comment = shift_comment(&incident.id, zone);
        let expiry = self.policy.shift_expiry;
        if action.kind == START_ZONAL_SHIFT {
            let balancer = observed.load_balancer.arn.as_str();
            let mut done = vec![match self
                .shifts
                .start(balancer, zone_id, expiry, &comment)
                .await?
            {
                Started::Shift(id) => {
                    format!("load balancer shifted away from {zone} ({zone_id}), shift {id}")
                }
                Started::AlreadyAway => {
                    format!("load balancer already shifted away from {zone} ({zone_id})")
                }
            }];
            for group in self.groups_taking_part(observed) {
                let Some(arn) = &group.arn else { continue };
                if observed.group_shifted(&group.name) {
                    continue;
                }
                // The load balancer's shift is the mitigation; a group that cannot be
                // shifted with it (no longer in the zone, say) is noted, not a failure.
                match self.shifts.start(arn, zone_id, expiry, &comment).await {
                    Ok(_) => done.push(format!("group {} shifted with it", group.name)),
                    Err(err) => done.push(format!("group {} not shifted: {err}", group.name)),
                }
            }
            return Ok(Some(format!(
                "{} for {} min",
                done.join("; "),
                expiry.as_secs() / 60
            )));
        }
        if action.kind == EXTEND_ZONAL_SHIFT {
            let Some(ours) = observed.our_load_balancer_shift(&incident.id) else {
                return Ok(Some("no shift of Rebound's left to extend".into()));
            };
            let length = policy::extension_length(incident, ours, &self.policy, now);
            let mut extended = 0;
            for shift in observed.ours(&incident.id) {
                if let Some(id) = &shift.id {
                    self.shifts.extend(id, length).await?;
                    extended += 1;
                }
            }
            return Ok(Some(format!(
                "{extended} shift(s) away from {zone} extended by {} min",
                length.as_secs() / 60
            )));
        }
        if action.kind == CANCEL_ZONAL_SHIFT {
            let mut ended = 0;
            for shift in observed.ours(&incident.id) {
                if let Some(id) = &shift.id {
                    if self.shifts.cancel(id).await? {
                        ended += 1;
                    }
                }
            }
            return Ok(Some(format!("{ended} shift(s) away from {zone} cancelled")));
        }
        if action.kind == RAISE_CAPACITY {
            let name = AutoScalingGroupName::parse(action.target.id.as_str())
                .map_err(|e| Error::InvalidEvent(e.to_string()))?;
            let capacities = policy::capacity(observed, &self.policy);
            let need = capacities
                .iter()
                .find(|c| c.group.name == name)
                .ok_or_else(|| {
                    Error::InvalidEvent(format!("group {name} is not behind the load balancer"))
                })?;
            // New capacity must not launch into the impaired zone: the group is shifted
            // away from it first.
            if let Some(arn) = &need.group.arn {
                if !observed.group_shifted(&name) {
                    self.shifts.start(arn, zone_id, expiry, &comment).await?;
                }
            }
            let to = need.raised_to();
            self.capacity.set_desired_capacity(&name, to).await?;
            return Ok(Some(format!(
                "group {name} shifted away from {zone}; desired capacity {} → {to}",
                need.group.desired_capacity
            )));
        }
        Err(Error::InvalidEvent(format!(
            "{} is not a zone action",
            action.kind
        )))
    }

    fn mitigates(&self, action: &Action) -> bool {
        action.kind == START_ZONAL_SHIFT
    }

    fn describe(&self, action: &PlannedAction) -> String {
        if action.kind == RAISE_CAPACITY {
            return format!("raise the desired capacity of group {}", action.target.id);
        }
        let Ok((balancer, zone)) = parse_zone_ref(&action.target.id) else {
            return format!("{} {}", action.kind, action.target.id);
        };
        let balancer = balancer.name();
        if action.kind == START_ZONAL_SHIFT {
            format!("shift {balancer}'s traffic away from {zone}")
        } else if action.kind == EXTEND_ZONAL_SHIFT {
            format!("extend the shift of {balancer} away from {zone}")
        } else if action.kind == CANCEL_ZONAL_SHIFT {
            format!("end the shift of {balancer} away from {zone}")
        } else {
            format!("{} {}", action.kind, action.target.id)
        }
    }

    fn recovery_objective(&self, observed: &ObservedZone) -> Option<u64> {
        recovery_objective_of(&self.policy, observed)
    }
}

/// What a zone's incident keeps after observing it: the counts and shifts as they are
/// now, and since when the zone has looked impaired (or healthy) without a break.
pub fn evidence_of(
    observed: &ObservedZone,
    policy: &Policy,
    kept: Option<Evidence>,
    now: DateTime<Utc>,
) -> Evidence {
    let kept = kept.unwrap_or_default();
    let impaired =
        zonal::outlier(&observed.counts, &policy.rule).is_some_and(|o| o.zone == observed.zone);
    let healthy = observed.this_zone().all_healthy();
    Evidence {
        load_balancer: observed.load_balancer.arn.to_string(),
        zone: observed.zone.to_string(),
        zone_id: observed.zone_id().map(ToString::to_string),
        zones: observed.counts.clone(),
        targets: observed
            .targets
            .iter()
            .filter(|t| t.zone.as_ref() == Some(&observed.zone))
            .map(|t| t.target.clone())
            .collect(),
        auto_scaling_groups: observed.groups.iter().map(|g| g.name.to_string()).collect(),
        impaired_since: impaired.then(|| kept.impaired_since.unwrap_or(now)),
        healthy_since: healthy.then(|| kept.healthy_since.unwrap_or(now)),
        shifts: observed.shifts().cloned().collect(),
    }
}

/// The strictest `rebound:rto-seconds` of the load balancer and the groups behind it, or
/// the default for zones: met once the zone's traffic is shifted away.
pub fn recovery_objective_of(policy: &Policy, observed: &ObservedZone) -> Option<u64> {
    std::iter::once(&observed.load_balancer.tags)
        .chain(observed.groups.iter().map(|g| &g.tags))
        .filter_map(rto_from_tags)
        .min()
        .or(Some(policy.rto.as_secs()))
}

impl<B, T, G, S, C> Zones<B, T, G, S, C> {
    /// The managed groups behind the load balancer that take part in zonal shift: they
    /// are shifted with it.
    fn groups_taking_part<'a>(
        &'a self,
        observed: &'a ObservedZone,
    ) -> impl Iterator<Item = &'a ScalingGroup> + 'a {
        observed
            .groups
            .iter()
            .filter(|g| g.zonal_shift_enabled && self.policy.settings.is_managed(&g.tags))
    }
}
