//! Target groups (`target-health`): an `UnHealthyHostCount` alarm or the schedule says
//! which target groups to look at; each is observed (its targets, the Auto Scaling
//! groups behind them, the databases those depend on), decided on with every guard
//! ([`policy`]), and its failing instances are replaced through their group.
//!
//! - [`observation`]: target health and Auto Scaling groups as the policy sees them;
//! - [`capture`]: the evidence kept before a replacement (console output, status);
//! - [`policy`] and [`refusals`]: the decision and its guards;
//! - [`ports`]: what the kind needs from AWS;
//! - [`trigger`]: the events target-health answers;
//! - [`view`]: how its incidents read.

pub mod capture;
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

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use self::observation::{ScalingGroup, ShiftedZone, TargetHealth, SUSPENDED_BY_TAG_KEY};
use self::ports::{
    HostCounts, InstanceEvidence, InstanceReplacer, Replaced, ScalingGroups, ShiftedZones,
    TargetHealthSource,
};
use crate::change::ChangeSource;
use crate::change::{self, InFlight};
use crate::config::{ConfigError, Env, Settings, Variable};
use crate::domain::{
    Action, ActionKind, ActionOutcome, Capture, Decision, Incident, PlannedAction, ResourceRef,
    ResourceType,
};
use crate::error::Error;
use crate::ids::{
    AutoScalingGroupName, BucketName, DbInstanceId, InstanceId, LoadBalancerArn, TargetGroupArn,
};
use crate::kind::{Acting, Kind};
use crate::policy::{rto_from_tags, History};
use crate::ports::{Dependencies, DependencyState};
use crate::zonal::ZonalRule;

/// The function that watches target groups.
pub const FUNCTION: &str = "target-health";

pub const TARGET_GROUP: ResourceType = ResourceType::named("target-group");
pub const AUTO_SCALING_GROUP: ResourceType = ResourceType::named("auto-scaling-group");
pub const INSTANCE: ResourceType = ResourceType::named("instance");

/// `SetInstanceHealth(Unhealthy)`: the group replaces the instance itself.
pub const SET_INSTANCE_HEALTH: ActionKind = ActionKind::named("set-instance-health");
/// `TerminateInstanceInAutoScalingGroup(ShouldDecrementDesiredCapacity=false)`.
pub const TERMINATE_INSTANCE: ActionKind = ActionKind::named("terminate-instance");
/// `SuspendProcesses(ReplaceUnhealthy)` while a group's instances are held, tagged as
/// Rebound's own (upkeep of the hold, not a remediation).
pub const SUSPEND_REPLACE_UNHEALTHY: ActionKind = ActionKind::named("suspend-replace-unhealthy");
/// `ResumeProcesses(ReplaceUnhealthy)` of a suspension Rebound made, once the hold ends.
pub const RESUME_REPLACE_UNHEALTHY: ActionKind = ActionKind::named("resume-replace-unhealthy");

/// The actions whose mode (`APPROVAL_MODES`, the tag `rebound:approval`) may hold them
/// for a person's approval: Replacing an instance, either way.
pub const APPROVABLE: &[ActionKind] = &[SET_INSTANCE_HEALTH, TERMINATE_INSTANCE];

pub fn target_group(arn: &TargetGroupArn) -> ResourceRef {
    ResourceRef::new(TARGET_GROUP, arn.as_str())
}

pub fn auto_scaling_group(name: &AutoScalingGroupName) -> ResourceRef {
    ResourceRef::new(AUTO_SCALING_GROUP, name.as_str())
}

pub fn instance(id: &InstanceId) -> ResourceRef {
    ResourceRef::new(INSTANCE, id.as_str())
}

pub const REPLACEMENT_METHOD: Variable = Variable::choice(
    "REPLACEMENT_METHOD",
    "set-instance-health",
    &["set-instance-health", "terminate"],
    "How an instance is replaced: SetInstanceHealth(Unhealthy), or TerminateInstanceInAutoScalingGroup keeping the desired capacity.",
);
pub const MAX_UNHEALTHY_PERCENT: Variable = Variable::number(
    "MAX_UNHEALTHY_PERCENT",
    50,
    1,
    100,
    "percent",
    "Above this share of unhealthy targets the failure is systemic: escalate, never replace.",
);
pub const MAX_IN_FLIGHT_PER_GROUP: Variable = Variable::number(
    "MAX_IN_FLIGHT_PER_GROUP",
    1,
    1,
    100,
    "replacements",
    "Replacements in flight per Auto Scaling group, however many target groups it sits behind.",
);
pub const COOLDOWN_SECONDS: Variable = Variable::seconds(
    "COOLDOWN_SECONDS",
    600,
    0,
    86_400,
    "Between two replacements through one Auto Scaling group.",
);
pub const REPLACEMENT_LOOP_WINDOW_SECONDS: Variable = Variable::seconds(
    "REPLACEMENT_LOOP_WINDOW_SECONDS",
    3600,
    60,
    86_400,
    "The window in which REPLACEMENT_LOOP_LIMIT replacements on one configuration mean replacing does not work.",
);
pub const REPLACEMENT_LOOP_LIMIT: Variable = Variable::number(
    "REPLACEMENT_LOOP_LIMIT",
    3,
    1,
    100,
    "replacements",
    "Replacements in a group on one configuration, within the window, after which Rebound escalates instead.",
);
pub const TARGET_GROUP_RTO_SECONDS: Variable = Variable::seconds(
    "TARGET_GROUP_RTO_SECONDS",
    900,
    60,
    604_800,
    "A target group incident's recovery objective, unless its group's rebound:rto-seconds says otherwise.",
);
pub const DEPENDENCY_SETTLE_SECONDS: Variable = Variable::seconds(
    "DEPENDENCY_SETTLE_SECONDS",
    300,
    0,
    86_400,
    "How long after a database recovers the groups that depend on it stay held.",
);

pub const NATIVE_HEALER_MARGIN_SECONDS: Variable = Variable::seconds(
    "NATIVE_HEALER_MARGIN_SECONDS",
    60,
    0,
    3_600,
    "How long past its grace period a group with ELB health checks has to start replacing a failing instance itself before Rebound acts.",
);

pub const EVIDENCE_BUCKET: Variable = Variable::optional(
    "EVIDENCE_BUCKET",
    "The S3 bucket an instance's console output and status are kept in before it is replaced (one object per capture under incidents/<incident id>/); empty: nothing captured.",
);

pub const SWEEP_TRIAGE: Variable = Variable::choice(
    "SWEEP_TRIAGE",
    "cloudwatch",
    &["cloudwatch", "off"],
    "How the sweep picks the target groups to describe: cloudwatch reads UnHealthyHostCount for up to 500 target groups a call and describes only those not all zero, with no data, or with an open incident; off describes every one.",
);

/// The target-group policy's knobs, with the settings every kind shares.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub settings: Settings,
    pub replacement: ActionKind,
    /// Above this share of unhealthy targets the failure is systemic: escalate.
    pub max_unhealthy_percent: u32,
    pub max_in_flight_per_group: usize,
    /// Between two replacements through one group.
    pub cooldown: Duration,
    /// Replacements in one group within this window, on the same configuration, that
    /// reach `replacement_loop_limit` mean replacing is not fixing it: escalate.
    pub replacement_loop_window: Duration,
    pub replacement_loop_limit: u32,
    /// The recovery-time objective of a target group's incident, from detection, unless
    /// its Auto Scaling group's `rebound:rto-seconds` tag says otherwise.
    pub rto: Duration,
    /// How long after a database's incident resolves (its failover completed) the
    /// groups that depend on it stay held: connections move to the new primary.
    pub dependency_settle: Duration,
    /// When a zone's failing targets are the zone's problem: its instances are held.
    pub zonal: ZonalRule,
    /// How long past its health-check grace period a group with ELB health checks has
    /// to start replacing a failing instance itself before Rebound acts.
    pub native_healer_margin: Duration,
    /// Where an instance's console output and status are kept before it is replaced;
    /// `None`: nothing is captured.
    pub evidence_bucket: Option<BucketName>,
    /// The sweep describes only the target groups CloudWatch does not show all
    /// healthy (see [`SWEEP_TRIAGE`]).
    pub sweep_triage: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            settings: Settings::default(),
            replacement: SET_INSTANCE_HEALTH,
            max_unhealthy_percent: 50,
            max_in_flight_per_group: 1,
            cooldown: Duration::from_secs(600),
            replacement_loop_window: Duration::from_secs(3600),
            replacement_loop_limit: 3,
            rto: Duration::from_secs(900),
            dependency_settle: Duration::from_secs(300),
            zonal: ZonalRule::default(),
            native_healer_margin: Duration::from_secs(60),
            evidence_bucket: None,
            sweep_triage: true,
        }
    }
}

impl Policy {
    /// The kind's own variables (the shared ones are [`Settings::VARIABLES`]).
    pub const VARIABLES: &'static [Variable] = &[
        REPLACEMENT_METHOD,
        MAX_UNHEALTHY_PERCENT,
        MAX_IN_FLIGHT_PER_GROUP,
        COOLDOWN_SECONDS,
        REPLACEMENT_LOOP_WINDOW_SECONDS,
        REPLACEMENT_LOOP_LIMIT,
        TARGET_GROUP_RTO_SECONDS,
        DEPENDENCY_SETTLE_SECONDS,
        NATIVE_HEALER_MARGIN_SECONDS,
        EVIDENCE_BUCKET,
        SWEEP_TRIAGE,
    ];

    pub fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            settings: Settings::read(env, APPROVABLE)?,
            replacement: match env.choice(&REPLACEMENT_METHOD)? {
                "terminate" => TERMINATE_INSTANCE,
                _ => SET_INSTANCE_HEALTH,
            },
            max_unhealthy_percent: env.count(&MAX_UNHEALTHY_PERCENT)?,
            max_in_flight_per_group: env.count(&MAX_IN_FLIGHT_PER_GROUP)?,
            cooldown: env.duration(&COOLDOWN_SECONDS)?,
            replacement_loop_window: env.duration(&REPLACEMENT_LOOP_WINDOW_SECONDS)?,
            replacement_loop_limit: env.count(&REPLACEMENT_LOOP_LIMIT)?,
            rto: env.duration(&TARGET_GROUP_RTO_SECONDS)?,
            dependency_settle: env.duration(&DEPENDENCY_SETTLE_SECONDS)?,
            zonal: ZonalRule::read(env)?,
            native_healer_margin: env.duration(&NATIVE_HEALER_MARGIN_SECONDS)?,
            evidence_bucket: env
                .text(&EVIDENCE_BUCKET)?
                .map(|name| {
                    BucketName::parse(name.trim()).map_err(|invalid| ConfigError::Invalid {
                        name: EVIDENCE_BUCKET.name,
                        value: invalid.value,
                        expected: format!(
                            "an S3 bucket name, {}, or empty to capture nothing",
                            invalid.why
                        ),
                    })
                })
                .transpose()?,
            sweep_triage: env.choice(&SWEEP_TRIAGE)? == "cloudwatch",
        })
    }
}

/// Target groups as a kind of watched resource: the ports it reads and acts through,
/// and its policy.
pub struct TargetGroups<T, G, R, D, Z, C, E, H> {
    pub targets: T,
    /// Where the sweep's triage reads the target groups' unhealthy host counts
    /// (CloudWatch).
    pub host_counts: H,
    pub groups: G,
    pub replacer: R,
    /// Where the state of the databases groups depend on is read (the incident store).
    pub dependencies: D,
    /// Where the zones shifted away from are read (ARC zonal shift).
    pub zones: Z,
    /// Where changes in flight on the groups are read (CloudFormation, CodeDeploy).
    pub changes: C,
    /// Where an instance's console output and status are read, and kept, before it is
    /// replaced (EC2, S3).
    pub evidence: E,
    pub policy: Policy,
    /// Target groups in front of a group Rebound suspended, as the last sweep's listing
    /// found them.
    pub suspended_behind: std::sync::Mutex<BTreeSet<TargetGroupArn>>,
}

/// A target group as observed: its instance targets, the groups behind them, and the
/// state of the databases those groups depend on.
#[derive(Debug, Clone)]
pub struct ObservedTargetGroup {
    pub targets: Vec<TargetHealth>,
    pub groups: Vec<ScalingGroup>,
    pub dependencies: Vec<(DbInstanceId, DependencyState)>,
    /// Zones traffic is shifted away from on the load balancers in front of it.
    pub shifted: Vec<ShiftedZone>,
    /// Changes in flight on the managed groups with failing targets, or with work
    /// scheduled on their instances.
    pub changes: InFlight,
    /// Work AWS scheduled on the target group's instances (retirement, maintenance):
    /// what the delivery announced and what the open incident already knows of.
    pub scheduled: Vec<ScheduledChange>,
}

impl ObservedTargetGroup {
    fn observation(&self) -> policy::Observation<'_> {
        policy::Observation {
            targets: &self.targets,
            groups: &self.groups,
            dependencies: &self.dependencies,
            shifted: &self.shifted,
            changes: &self.changes,
            scheduled: &self.scheduled,
        }
    }
}

/// What a target group's incident keeps: the targets when it opened, and the groups
/// behind them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    #[serde(default)]
    pub targets: Vec<TargetHealth>,
    #[serde(default)]
    pub auto_scaling_groups: Vec<String>,
    /// Work AWS scheduled on instances behind the target group, replaced ahead of it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scheduled: Vec<ScheduledChange>,
}

/// An AWS Health announcement of work on one instance: a scheduled retirement, a
/// reboot or stop for maintenance. The instance is replaced ahead of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledChange {
    pub instance_id: InstanceId,
    /// The AWS Health event type, e.g. `AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED`.
    pub event: String,
    /// When the work starts, if announced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    /// The announcement's ARN (AWS Health's event), to find it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_arn: Option<String>,
}

/// The scheduled changes `known` and `announced` together, one per instance (the
/// latest announcement wins).
fn merge_scheduled(
    known: Vec<ScheduledChange>,
    announced: &[ScheduledChange],
) -> Vec<ScheduledChange> {
    let mut merged = known;
    for change in announced {
        merged.retain(|c| c.instance_id != change.instance_id);
        merged.push(change.clone());
    }
    merged
}

/// A target group's first look: its targets' health and, when the delivery says
/// instances fail, what deciding on them needs that depends on nothing else — the
/// managed groups with their instances, and the load balancers in front.
#[derive(Debug)]
pub struct FirstLook {
    targets: Vec<TargetHealth>,
    ahead: Option<ReadAhead>,
}

/// Reads made ahead of knowing they are needed; an error counts only if they are.
#[derive(Debug)]
struct ReadAhead {
    /// `None` when there are too many to list in one call.
    managed: Result<Option<Vec<ScalingGroup>>, Error>,
    balancers: Result<Vec<LoadBalancerArn>, Error>,
}

/// The managed groups owning the instances acted on (failing, or with work scheduled),
/// as ledger scopes.
fn acting_scopes<'a>(
    settings: &Settings,
    targets: &[TargetHealth],
    groups: &[ScalingGroup],
    scheduled: impl Iterator<Item = &'a ScheduledChange>,
) -> Vec<ResourceRef> {
    let acting_on = targets
        .iter()
        .filter(|t| t.state.is_unhealthy())
        .map(|t| &t.instance_id)
        .chain(scheduled.map(|s| &s.instance_id));
    let owners: BTreeSet<&AutoScalingGroupName> = acting_on
        .filter_map(|instance| groups.iter().find(|g| g.instance(instance).is_some()))
        .filter(|g| settings.is_managed(&g.tags))
        .map(|g| &g.name)
        .collect();
    owners.into_iter().map(auto_scaling_group).collect()
}

/// What an alarm said of a target group. The decision reads the targets themselves, so
/// the alarm's state only says when to look.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Cue {
    /// The schedule.
    #[default]
    Look,
    /// An `UnHealthyHostCount` alarm changed to this state.
    Alarm { state: String },
    /// AWS Health announced work on an instance behind the target group.
    Scheduled(ScheduledChange),
}

impl Cue {
    fn scheduled(&self) -> &[ScheduledChange] {
        match self {
            Cue::Scheduled(change) => std::slice::from_ref(change),
            _ => &[],
        }
    }

    /// The delivery says instances fail or will be taken away: an alarm in ALARM,
    /// scheduled work.
    fn expects_action(&self) -> bool {
        match self {
            Cue::Look => false,
            Cue::Alarm { state } => state == "ALARM",
            Cue::Scheduled(_) => true,
        }
    }
}

impl<T, G, R, D, Z, C, E, H> Kind for TargetGroups<T, G, R, D, Z, C, E, H>
where
    H: HostCounts,
    T: TargetHealthSource,
    G: ScalingGroups,
    R: InstanceReplacer,
    D: Dependencies,
    Z: ShiftedZones,
    C: ChangeSource,
    E: InstanceEvidence,
{
    type Cue = Cue;
    type Observed = ObservedTargetGroup;
    type FirstLook = FirstLook;
    type Evidence = Evidence;

    fn resource_type(&self) -> ResourceType {
        TARGET_GROUP
    }

    fn settings(&self) -> &Settings {
        &self.policy.settings
    }

    /// The managed groups' target groups that may need a look. CloudWatch's
    /// `UnHealthyHostCount` triages them first: one call tells for hundreds, and a
    /// target group whose latest datapoints are all zero costs no `DescribeTargetHealth`.
    /// Checked whatever CloudWatch says: those with no data or an unhealthy host, those
    /// with an open incident (the shell checks them all, `open`), and those in front of
    /// a group whose ReplaceUnhealthy Rebound suspended (their check reads the group
    /// even when all is healthy, so a suspension whose incident was closed by hand is
    /// still resumed). A triage that fails checks them all, as without it.
    async fn sweep_list(&self, open: &[ResourceRef]) -> Result<Vec<ResourceRef>, Error> {
        let mut target_groups = BTreeSet::new();
        let mut suspended = BTreeSet::new();
        // The listing and the load balancers the metrics are named by: independent.
        let fronts = async {
            if self.policy.sweep_triage {
                Some(self.host_counts.fronts().await)
            } else {
                None
            }
        };
        let (groups, fronts) = futures::join!(
            self.groups
                .managed_groups(&self.policy.settings.managed_tag_key),
            fronts
        );
        for group in groups? {
            if group.suspended_by_rebound().is_some() {
                suspended.extend(group.target_group_arns.iter().cloned());
            }
            target_groups.extend(group.target_group_arns);
        }
        let listed: Vec<TargetGroupArn> = target_groups.into_iter().collect();
        let counts = match fronts {
            Some(Ok(fronts)) => Some(self.host_counts.unhealthy_hosts(&listed, &fronts).await),
            Some(Err(err)) => Some(Err(err)),
            None => None,
        };
        let quiet: BTreeSet<TargetGroupArn> = if let Some(counts) = counts {
            match counts {
                Ok(counts) => counts
                    .into_iter()
                    .filter(|(_, unhealthy)| unhealthy.is_some_and(|n| n <= 0.0))
                    .map(|(arn, _)| arn)
                    .collect(),
                Err(err) => {
                    tracing::warn!(error = %err, "triage: unhealthy host counts not read; every target group is checked");
                    BTreeSet::new()
                }
            }
        } else {
            BTreeSet::new()
        };
        let needs_look = |arn: &TargetGroupArn| {
            !quiet.contains(arn)
                || suspended.contains(arn)
                || open.iter().any(|r| r.id.as_str() == arn.as_str())
        };
        let checked: Vec<ResourceRef> = listed
            .iter()
            .filter(|arn| needs_look(arn))
            .map(target_group)
            .collect();
        tracing::info!(
            target_groups = listed.len(),
            checked = checked.len(),
            "triage: target groups to look at"
        );
        *self
            .suspended_behind
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = suspended;
        Ok(checked)
    }

    /// An instance with work scheduled on it resolves to the target groups its managed
    /// Auto Scaling group serves (none when it is in no managed group).
    async fn members(&self, resource: &ResourceRef) -> Result<Vec<ResourceRef>, Error> {
        if resource.kind != INSTANCE {
            return Ok(vec![resource.clone()]);
        }
        let id = InstanceId::parse(resource.id.as_str())
            .map_err(|e| Error::InvalidEvent(e.to_string()))?;
        let groups = self.groups.groups_owning(&[id], None).await?;
        let target_groups: BTreeSet<TargetGroupArn> = groups
            .into_iter()
            .filter(|g| self.policy.settings.is_managed(&g.tags))
            .flat_map(|g| g.target_group_arns)
            .collect();
        Ok(target_groups.iter().map(target_group).collect())
    }

    /// The targets' health; with a cue that says instances fail, the managed groups and
    /// the load balancers in front at the same time (each otherwise a round trip later).
    async fn first_look(
        &self,
        resource: &ResourceRef,
        cue: &Cue,
    ) -> Result<Option<FirstLook>, Error> {
        let arn = TargetGroupArn::parse(resource.id.as_str())
            .map_err(|e| Error::InvalidEvent(e.to_string()))?;
        if !cue.expects_action() {
            return Ok(self
                .targets
                .target_health(&arn)
                .await?
                .map(|targets| FirstLook {
                    targets,
                    ahead: None,
                }));
        }
        let (targets, managed, balancers) = futures::join!(
            self.targets.target_health(&arn),
            self.groups
                .managed_groups_in_one_call(&self.policy.settings.managed_tag_key),
            self.zones.balancers_in_front(&arn)
        );
        Ok(targets?.map(|targets| FirstLook {
            targets,
            ahead: Some(ReadAhead { managed, balancers }),
        }))
    }

    fn scopes_at_first_look(&self, look: &FirstLook, cue: &Cue) -> Vec<ResourceRef> {
        match look.ahead.as_ref().map(|a| a.managed.as_ref()) {
            Some(Ok(Some(managed))) => acting_scopes(
                &self.policy.settings,
                &look.targets,
                managed,
                cue.scheduled().iter(),
            ),
            _ => Vec::new(),
        }
    }

    async fn observe(
        &self,
        resource: &ResourceRef,
        cue: &Cue,
        look: FirstLook,
        incident: Option<&Incident>,
    ) -> Result<Option<ObservedTargetGroup>, Error> {
        let arn = TargetGroupArn::parse(resource.id.as_str())
            .map_err(|e| Error::InvalidEvent(e.to_string()))?;
        let FirstLook { targets, ahead } = look;
        let (managed_ahead, balancers_ahead) = match ahead {
            Some(ReadAhead { managed, balancers }) => (Some(managed), Some(balancers)),
            None => (None, None),
        };
        let known = incident
            .and_then(|i| i.evidence.read::<Evidence>().ok())
            .map(|e| e.scheduled)
            .unwrap_or_default();
        let scheduled = merge_scheduled(known, cue.scheduled());
        let failing = targets.iter().any(|t| t.state.is_unhealthy());
        // Work scheduled on an instance is acted on like a failure: the same reads,
        // the same guards.
        let acting_on = |instance: &InstanceId| {
            targets
                .iter()
                .any(|t| t.state.is_unhealthy() && &t.instance_id == instance)
                || scheduled.iter().any(|s| &s.instance_id == instance)
        };
        let failing = failing || !scheduled.is_empty();
        // Groups are needed to decide on unhealthy targets (their zones, the databases
        // they depend on, whether they can heal), and to verify the recovery of an open
        // incident; a healthy target group without one costs no Auto Scaling call.
        let mut groups = Vec::new();
        // Managed groups whose refresh status is still to read (they came from the
        // listing read ahead, which does not say).
        let mut refresh_unread = false;
        let suspended_behind = self
            .suspended_behind
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&arn);
        if failing || incident.is_some() || suspended_behind {
            let members: Vec<InstanceId> = targets.iter().map(|t| t.instance_id.clone()).collect();
            let refresh = failing.then_some(self.policy.settings.managed_tag_key.as_str());
            let listed = managed_ahead.transpose()?.flatten();
            refresh_unread = failing && listed.is_some();
            groups = owning_groups(&self.groups, listed, members, refresh).await?;
            let missing: Vec<String> = incident
                .map(policy::acted_through)
                .unwrap_or_default()
                .into_iter()
                .filter(|name| groups.iter().all(|g| g.name.as_str() != name))
                .collect();
            if !missing.is_empty() {
                groups.extend(self.groups.groups_named(&missing, refresh).await?);
            }
        }
        // What holds a failing group's instances comes first (invariants 4, 7, 15 and
        // 16): instance refreshes, the databases managed groups depend on, the zones
        // shifted away from, and the changes in flight on the managed groups whose
        // instances fail. Independent reads, in parallel; none of them on the healthy
        // path.
        let mut dependencies = Vec::new();
        let mut shifted = Vec::new();
        let mut changes = InFlight::default();
        if failing {
            let managed: Vec<&ScalingGroup> = groups
                .iter()
                .filter(|g| self.policy.settings.is_managed(&g.tags))
                .collect();
            let databases: BTreeSet<DbInstanceId> =
                managed.iter().filter_map(|g| g.depends_on()).collect();
            let acting: Vec<(
                &AutoScalingGroupName,
                &std::collections::BTreeMap<String, String>,
            )> = managed
                .iter()
                .filter(|g| g.instances.iter().any(|m| acting_on(&m.instance_id)))
                .map(|g| (&g.name, &g.tags))
                .collect();
            let to_refresh: Vec<&AutoScalingGroupName> = if refresh_unread {
                managed.iter().map(|g| &g.name).collect()
            } else {
                Vec::new()
            };
            let read_refreshes = futures::future::join_all(
                to_refresh
                    .iter()
                    .map(|name| self.groups.refresh_in_progress(name)),
            );
            let database_refs: Vec<ResourceRef> = databases
                .iter()
                .map(crate::kinds::database::db_instance)
                .collect();
            let read_dependencies = futures::future::join_all(
                database_refs
                    .iter()
                    .map(|database| self.dependencies.dependency(database)),
            );
            let read_shifted = async {
                let balancers = match balancers_ahead {
                    Some(read) => read?,
                    None => self.zones.balancers_in_front(&arn).await?,
                };
                self.zones.shifted_away(&balancers).await
            };
            let (refreshing, read, zones, in_flight) = futures::join!(
                read_refreshes,
                read_dependencies,
                read_shifted,
                change::read(&self.changes, &acting)
            );
            let refreshing: Vec<(AutoScalingGroupName, bool)> = to_refresh
                .into_iter()
                .cloned()
                .zip(refreshing)
                .map(|(name, running)| running.map(|running| (name, running)))
                .collect::<Result<_, Error>>()?;
            dependencies = databases
                .into_iter()
                .zip(read)
                .map(|(database, state)| state.map(|state| (database, state)))
                .collect::<Result<_, Error>>()?;
            shifted = zones?;
            changes = in_flight;
            for (name, running) in refreshing {
                if let Some(group) = groups.iter_mut().find(|g| g.name == name) {
                    group.instance_refresh_in_progress = running;
                }
            }
        }
        Ok(Some(ObservedTargetGroup {
            targets,
            groups,
            dependencies,
            shifted,
            changes,
            scheduled,
        }))
    }

    fn scopes(&self, observed: &ObservedTargetGroup) -> Vec<ResourceRef> {
        acting_scopes(
            &self.policy.settings,
            &observed.targets,
            &observed.groups,
            observed.scheduled.iter(),
        )
    }

    fn decide(
        &self,
        observed: &ObservedTargetGroup,
        _cue: &Cue,
        history: History<'_>,
        now: DateTime<Utc>,
    ) -> Decision {
        policy::decide(observed.observation(), history, &self.policy, now)
    }

    /// What was observed when the incident opened stays its evidence, with the work
    /// scheduled on its instances as it becomes known.
    fn evidence(
        &self,
        observed: &ObservedTargetGroup,
        _cue: &Cue,
        _decision: &Decision,
        kept: Option<Evidence>,
        _now: DateTime<Utc>,
    ) -> Evidence {
        let mut evidence = kept.unwrap_or_else(|| Evidence {
            targets: observed.targets.clone(),
            auto_scaling_groups: observed.groups.iter().map(|g| g.name.to_string()).collect(),
            scheduled: vec![],
        });
        evidence.scheduled = observed.scheduled.clone();
        evidence
    }

    fn settle(
        &self,
        action: &Action,
        observed: &ObservedTargetGroup,
        _incident: &Incident,
        now: DateTime<Utc>,
    ) -> Option<(ActionOutcome, String)> {
        policy::settle_pending(action, observed.observation(), &self.policy, now)
    }

    /// Before a replacement, when an evidence bucket is configured: the instance's
    /// console output and status, which the replacement destroys.
    async fn capture(
        &self,
        action: &Action,
        acting: Acting<'_, ObservedTargetGroup>,
    ) -> Option<Capture> {
        let bucket = self.policy.evidence_bucket.as_ref()?;
        if action.kind != SET_INSTANCE_HEALTH && action.kind != TERMINATE_INSTANCE {
            return None;
        }
        let instance = InstanceId::parse(action.target.id.as_str()).ok()?;
        let group = acting
            .observed
            .groups
            .iter()
            .find(|g| g.name.as_str() == action.scope.id);
        Some(
            capture::capture(
                &self.evidence,
                bucket,
                &acting.incident.id,
                &instance,
                group,
                acting.now,
            )
            .await,
        )
    }

    async fn act(
        &self,
        action: &Action,
        acting: Acting<'_, ObservedTargetGroup>,
    ) -> Result<Option<String>, Error> {
        let group = AutoScalingGroupName::parse(action.scope.id.as_str())
            .map_err(|e| Error::InvalidEvent(e.to_string()))?;
        if action.kind == SUSPEND_REPLACE_UNHEALTHY {
            self.replacer
                .suspend_replace_unhealthy(&group, &acting.incident.id)
                .await?;
            return Ok(Some(format!(
                "ReplaceUnhealthy of {group} suspended while its instances are held (tag {SUSPENDED_BY_TAG_KEY}={})",
                acting.incident.id
            )));
        }
        if action.kind == RESUME_REPLACE_UNHEALTHY {
            self.replacer.resume_replace_unhealthy(&group).await?;
            return Ok(Some(format!(
                "ReplaceUnhealthy of {group} resumed: nothing holds it any more"
            )));
        }
        let instance = InstanceId::parse(action.target.id.as_str())
            .map_err(|e| Error::InvalidEvent(e.to_string()))?;
        Ok(
            match self
                .replacer
                .replace(&action.kind, &group, &instance)
                .await?
            {
                Replaced::Requested => None,
                Replaced::AlreadyGone => Some(
                    "the instance had already left its group (an earlier attempt took effect)"
                        .into(),
                ),
            },
        )
    }

    fn describe(&self, action: &PlannedAction) -> String {
        if action.kind == SUSPEND_REPLACE_UNHEALTHY {
            format!("suspend ReplaceUnhealthy of {} while held", action.scope.id)
        } else if action.kind == RESUME_REPLACE_UNHEALTHY {
            format!("resume ReplaceUnhealthy of {}", action.scope.id)
        } else {
            format!("replace {} in {}", action.target.id, action.scope.id)
        }
    }

    /// The strictest `rebound:rto-seconds` of the groups behind the target group, or the
    /// default for target groups.
    /// Planned work has none: nothing is broken, and it waits for its window.
    fn recovery_objective(&self, observed: &ObservedTargetGroup) -> Option<u64> {
        if !observed.scheduled.is_empty()
            && !observed.targets.iter().any(|t| t.state.is_unhealthy())
        {
            return None;
        }
        observed
            .groups
            .iter()
            .filter_map(|g| rto_from_tags(&g.tags))
            .min()
            .or(Some(self.policy.rto.as_secs()))
    }
}

/// The groups owning `members`: those of `listed` (the managed groups with their
/// instances, when read ahead) holding one, then, for the members none of them holds,
/// whichever groups do (unmanaged, or tagged or launched since the listing), found by
/// their members; each group once.
pub(crate) async fn owning_groups<G: ScalingGroups>(
    source: &G,
    listed: Option<Vec<ScalingGroup>>,
    members: Vec<InstanceId>,
    refresh_if_managed_by: Option<&str>,
) -> Result<Vec<ScalingGroup>, Error> {
    let mut groups: Vec<ScalingGroup> = listed
        .unwrap_or_default()
        .into_iter()
        .filter(|g| members.iter().any(|m| g.instance(m).is_some()))
        .collect();
    let unowned: Vec<InstanceId> = members
        .into_iter()
        .filter(|m| groups.iter().all(|g| g.instance(m).is_none()))
        .collect();
    if !unowned.is_empty() {
        for group in source
            .groups_owning(&unowned, refresh_if_managed_by)
            .await?
        {
            if groups.iter().all(|g| g.name != group.name) {
                groups.push(group);
            }
        }
    }
    Ok(groups)
}
