//! DB instances (`rds-health`): an RDS event, an `AWS/RDS` alarm or the schedule says
//! which DB instances to look at; each is observed (its cluster, RDS's events, the
//! alarms it designates for a failover), decided on with every guard ([`policy`]), and a
//! sick Multi-AZ primary is failed over to its standby.
//!
//! - [`observation`]: the instance, its cluster, events, alarms and evidence;
//! - [`events`]: what each RDS event means (one table);
//! - [`policy`] and [`refusals`]: the decision and its guards;
//! - [`ports`]: what the kind needs from AWS;
//! - [`trigger`]: the events rds-health answers;
//! - [`view`]: how its incidents read.

pub mod events;
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

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use self::events::EventEffect;
use self::observation::{AlarmState, DatabaseEvidence, DbCluster, DbInstance, RdsEvent};
use self::policy::{failover_requested, Cue, Observation};
use self::ports::{AlarmStates, DatabaseFailover, Databases, FailedOver};
use crate::config::{ConfigError, Env, Settings, Variable};
use crate::domain::{
    Action, ActionKind, ActionOutcome, Decision, Incident, PlannedAction, ResourceRef,
    ResourceType, Verdict,
};
use crate::error::Error;
use crate::ids::{DbClusterId, DbInstanceId};
use crate::kind::{Acting, Kind};
use crate::policy::{rto_from_tags, History};
use crate::ports::Dependencies;

/// The function that watches DB instances.
pub const FUNCTION: &str = "rds-health";

/// An RDS DB instance: what rds-health watches, and the scope of a failover's cooldown.
pub const DB_INSTANCE: ResourceType = ResourceType::named("db-instance");
/// An Aurora or Multi-AZ DB cluster: what FailoverDBCluster acts on.
pub const DB_CLUSTER: ResourceType = ResourceType::named("db-cluster");

/// `RebootDBInstance(ForceFailover=true)`: the Multi-AZ standby becomes the primary.
pub const REBOOT_WITH_FAILOVER: ActionKind = ActionKind::named("reboot-with-failover");
/// `FailoverDBCluster`: a reader of an Aurora or Multi-AZ DB cluster becomes the writer.
pub const FAILOVER_DB_CLUSTER: ActionKind = ActionKind::named("failover-db-cluster");

/// The actions whose mode (`APPROVAL_MODES`, the tag `rebound:approval`) may hold them
/// for a person's approval: Failing a database over.
pub const APPROVABLE: &[ActionKind] = &[REBOOT_WITH_FAILOVER, FAILOVER_DB_CLUSTER];

pub fn db_instance(id: &DbInstanceId) -> ResourceRef {
    ResourceRef::new(DB_INSTANCE, id.as_str())
}

pub fn db_cluster(id: &DbClusterId) -> ResourceRef {
    ResourceRef::new(DB_CLUSTER, id.as_str())
}

/// The shortest window of RDS events read back (DescribeEvents counts in minutes).
const MIN_EVENT_WINDOW: Duration = Duration::from_secs(60);

pub const RDS_COOLDOWN_SECONDS: Variable = Variable::seconds(
    "RDS_COOLDOWN_SECONDS",
    1800,
    0,
    86_400,
    "Between two failovers of one DB instance (or cluster); RDS's own failover events within it count too.",
);
pub const DATABASE_RTO_SECONDS: Variable = Variable::seconds(
    "DATABASE_RTO_SECONDS",
    900,
    60,
    604_800,
    "A database incident's recovery objective, unless its rebound:rto-seconds says otherwise.",
);

/// The database policy's knobs, with the settings every kind shares.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub settings: Settings,
    /// Between two failovers of one DB instance (or cluster), and how far back RDS's own
    /// failover events count against a new one.
    pub cooldown: Duration,
    /// The recovery-time objective of a database's incident, from detection, unless the
    /// instance's or cluster's `rebound:rto-seconds` tag says otherwise.
    pub rto: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            settings: Settings::default(),
            cooldown: Duration::from_secs(1800),
            rto: Duration::from_secs(900),
        }
    }
}

impl Policy {
    /// The kind's own variables (the shared ones are [`Settings::VARIABLES`]).
    pub const VARIABLES: &'static [Variable] = &[RDS_COOLDOWN_SECONDS, DATABASE_RTO_SECONDS];

    pub fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            settings: Settings::read(env, APPROVABLE)?,
            cooldown: env.duration(&RDS_COOLDOWN_SECONDS)?,
            rto: env.duration(&DATABASE_RTO_SECONDS)?,
        })
    }
}

/// DB instances as a kind of watched resource: the ports, and the policy.
pub struct DbInstances<D, F, A, R> {
    pub databases: D,
    pub failover: F,
    pub alarms: A,
    /// Rebound's own record of each instance: when its last incident verifiably
    /// recovered (a late event is older than that).
    pub records: R,
    pub policy: Policy,
}

impl<D: Databases, F, A, R> DbInstances<D, F, A, R> {
    /// An instance outside a cluster that may be failed over: managed, Multi-AZ and
    /// available (a cluster's members are the cluster's to judge).
    fn eligible_alone(&self, instance: &DbInstance) -> bool {
        self.policy.settings.is_managed(&instance.tags)
            && instance.multi_az
            && instance.is_available()
    }

    /// The instance's RDS events of the last `window` and its cluster's (a cluster's own
    /// failovers count for its members too), read at once, oldest first.
    async fn recent_events(
        &self,
        instance: &DbInstance,
        window: Duration,
    ) -> Result<Vec<RdsEvent>, Error> {
        let cluster = async {
            match &instance.cluster {
                Some(cluster) => self.databases.recent_cluster_events(cluster, window).await,
                None => Ok(Vec::new()),
            }
        };
        let (own, cluster) =
            futures::join!(self.databases.recent_events(&instance.id, window), cluster);
        let mut events = own?;
        events.extend(cluster?);
        events.sort_by_key(|e| e.at);
        Ok(events)
    }
}

/// A DB instance as observed.
#[derive(Debug, Clone)]
pub struct ObservedDb {
    pub instance: DbInstance,
    pub cluster: Option<DbCluster>,
    /// RDS events over the cooldown window, read when a failover may be decided.
    pub events: Vec<RdsEvent>,
    /// The designated failover alarms' states, read when they decide something.
    pub alarms: Vec<AlarmState>,
    /// What the open incident keeps.
    pub kept: Option<DatabaseEvidence>,
    /// A failover may be decided: what the guards need is worth reading.
    may_fail_over: bool,
    /// When the instance's last incident verifiably recovered, read for a delivered
    /// event with nothing open.
    pub last_recovered_at: Option<DateTime<Utc>>,
}

impl ObservedDb {
    fn observation(&self) -> Observation<'_> {
        Observation {
            instance: &self.instance,
            cluster: self.cluster.as_ref(),
            events: &self.events,
            alarms: &self.alarms,
            kept: self.kept.as_ref(),
        }
    }

    fn placement(&self, at: DateTime<Utc>) -> observation::Placement {
        self.instance.placement(self.cluster.as_ref(), at)
    }
}

/// What a database's incident keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseEvidence>,
}

/// Whether the cue can be a signal designated for a failover (an alarm in ALARM, a
/// failure event), before the database's tags say whether it is one.
fn may_signal_failover(cue: &Cue) -> bool {
    match cue {
        Cue::Alarm(alarm) => alarm.is_firing(),
        Cue::Event { effect, .. } => *effect == Some(EventEffect::Sick),
        Cue::Look | Cue::Scheduled(_) => false,
    }
}

fn kept_of(incident: &Incident) -> Option<DatabaseEvidence> {
    incident.evidence.read::<Evidence>().ok()?.database
}

impl<D, F, A, R> Kind for DbInstances<D, F, A, R>
where
    D: Databases,
    F: DatabaseFailover,
    A: AlarmStates,
    R: Dependencies,
{
    type Cue = Cue;
    type Observed = ObservedDb;
    type FirstLook = DbInstance;
    type Evidence = Evidence;

    fn resource_type(&self) -> ResourceType {
        DB_INSTANCE
    }

    fn settings(&self) -> &Settings {
        &self.policy.settings
    }

    async fn sweep_list(&self, _open: &[ResourceRef]) -> Result<Vec<ResourceRef>, Error> {
        Ok(self
            .databases
            .managed_instances(&self.policy.settings.managed_tag_key)
            .await?
            .iter()
            .map(|i| db_instance(&i.id))
            .collect())
    }

    /// The instance itself: everything else depends on it.
    async fn first_look(
        &self,
        resource: &ResourceRef,
        _cue: &Cue,
    ) -> Result<Option<DbInstance>, Error> {
        let id = DbInstanceId::parse(resource.id.as_str())
            .map_err(|e| Error::InvalidEvent(e.to_string()))?;
        self.databases.db_instance(&id).await
    }

    /// A cue that may fail a Multi-AZ instance over names its ledger at once (a
    /// cluster's scope waits for the cluster's tags).
    fn scopes_at_first_look(&self, instance: &DbInstance, cue: &Cue) -> Vec<ResourceRef> {
        if may_signal_failover(cue) && instance.cluster.is_none() && self.eligible_alone(instance) {
            vec![db_instance(&instance.id)]
        } else {
            Vec::new()
        }
    }

    async fn observe(
        &self,
        resource: &ResourceRef,
        cue: &Cue,
        instance: DbInstance,
        incident: Option<&Incident>,
    ) -> Result<Option<ObservedDb>, Error> {
        // Independent reads at once: the cluster, what the record says of the last
        // recovery, and, when the cue may fail the database over, its recent events
        // (read ahead of knowing a failover is wanted: a failover is the path whose time
        // counts).
        let window = self.policy.cooldown.max(MIN_EVENT_WINDOW);
        let ahead = may_signal_failover(cue)
            && (instance.cluster.is_some() || self.eligible_alone(&instance));
        let cluster = async {
            match &instance.cluster {
                Some(cluster) => self.databases.db_cluster(cluster).await,
                None => Ok(None),
            }
        };
        // A delivered event with nothing open may be a late or duplicate copy of one a
        // past incident already answered: what the record says of the last recovery
        // tells.
        let last_recovered = async {
            if incident.is_none() && cue.event().is_some() {
                Ok::<_, Error>(self.records.dependency(resource).await?.last_recovered_at)
            } else {
                Ok(None)
            }
        };
        let events_ahead = async {
            if ahead {
                Some(self.recent_events(&instance, window).await)
            } else {
                None
            }
        };
        let (cluster, last_recovered, events_ahead) =
            futures::join!(cluster, last_recovered, events_ahead);
        let mut observed = ObservedDb {
            cluster: cluster?,
            instance,
            events: Vec::new(),
            alarms: Vec::new(),
            kept: incident.and_then(kept_of),
            may_fail_over: false,
            last_recovered_at: last_recovered?,
        };
        // The designated alarms' states decide whether an open incident still wants a
        // failover (or recovered without one), and let the sweep catch an alarm whose
        // delivery was lost; a delivery about one alarm with nothing open says enough.
        let designated = observed.observation().designated();
        if !designated.is_empty() && (incident.is_some() || matches!(cue, Cue::Look)) {
            observed.alarms = self.alarms.alarm_states(&designated).await?;
        }
        let instance = &observed.instance;
        let eligible = instance.cluster.is_some() || self.eligible_alone(instance);
        // An incident whose failover is under way is verified, never failed over again
        // (unless RDS accepted it and nothing happened: then the instance is available).
        let asked = incident.is_some_and(failover_requested);
        let wants = policy::wants_failover(observed.observation(), cue);
        observed.may_fail_over = eligible && wants && (!asked || instance.is_available());
        // RDS's own failover events (ours, or one it made by itself, delivered to us or
        // not) count against a new failover: worth a call only when one may be decided.
        if observed.may_fail_over {
            observed.events = match events_ahead {
                Some(read) => read?,
                None => self.recent_events(&observed.instance, window).await?,
            };
        }
        Ok(Some(observed))
    }

    fn scopes(&self, observed: &ObservedDb) -> Vec<ResourceRef> {
        if !observed.may_fail_over {
            return Vec::new();
        }
        let settings = &self.policy.settings;
        match &observed.cluster {
            Some(cluster) if settings.is_managed(&cluster.tags) => vec![db_cluster(&cluster.id)],
            None if settings.is_managed(&observed.instance.tags) => {
                vec![db_instance(&observed.instance.id)]
            }
            _ => Vec::new(),
        }
    }

    fn decide(
        &self,
        observed: &ObservedDb,
        cue: &Cue,
        history: History<'_>,
        now: DateTime<Utc>,
    ) -> Decision {
        if history.incident.is_none() {
            if let Some(why) =
                policy::opens_nothing(observed.observation(), observed.last_recovered_at, cue)
            {
                return Decision::plain(Verdict::Healthy, why);
            }
        }
        policy::decide(observed.observation(), cue, history, &self.policy, now)
    }

    /// A cluster's event reaches each of its member instances.
    async fn members(&self, resource: &ResourceRef) -> Result<Vec<ResourceRef>, Error> {
        if resource.kind != DB_CLUSTER {
            return Ok(vec![resource.clone()]);
        }
        let id = DbClusterId::parse(resource.id.as_str())
            .map_err(|e| Error::InvalidEvent(e.to_string()))?;
        Ok(self
            .databases
            .db_cluster(&id)
            .await?
            .map(|cluster| {
                cluster
                    .members
                    .iter()
                    .map(|m| db_instance(&m.instance))
                    .collect()
            })
            .unwrap_or_default())
    }

    fn evidence(
        &self,
        observed: &ObservedDb,
        cue: &Cue,
        decision: &Decision,
        kept: Option<Evidence>,
        now: DateTime<Utc>,
    ) -> Evidence {
        let placement = observed.placement(now);
        let mut database = kept
            .and_then(|e| e.database)
            .unwrap_or_else(|| DatabaseEvidence::new(placement.clone()));
        for event in cue.event().into_iter().chain(&observed.events) {
            database.record_event(event);
        }
        if let Cue::Alarm(alarm) = cue {
            database.record_alarm(alarm);
        }
        if let Some(maintenance) = cue.scheduled() {
            database.scheduled = Some(maintenance.clone());
        }
        for alarm in &observed.alarms {
            database.record_alarm(alarm);
        }
        match decision.verdict {
            // Where primary and standby are as the failover starts: what recovery is
            // verified against.
            Verdict::Remediate => database.before_failover = Some(placement),
            Verdict::Underway if database.before_failover.is_none() => {
                database.before_failover = Some(placement)
            }
            Verdict::Resolve if database.before_failover.is_some() => {
                database.after_failover = Some(placement)
            }
            _ => {}
        }
        Evidence {
            database: Some(database),
        }
    }

    fn settle(
        &self,
        action: &Action,
        observed: &ObservedDb,
        _incident: &Incident,
        now: DateTime<Utc>,
    ) -> Option<(ActionOutcome, String)> {
        policy::settle_pending(action, observed.observation(), &self.policy, now)
    }

    async fn act(
        &self,
        action: &Action,
        _acting: Acting<'_, ObservedDb>,
    ) -> Result<Option<String>, Error> {
        let outcome = if action.kind == REBOOT_WITH_FAILOVER {
            let id = DbInstanceId::parse(action.target.id.as_str())
                .map_err(|e| Error::InvalidEvent(e.to_string()))?;
            self.failover.reboot_with_failover(&id).await?
        } else if action.kind == FAILOVER_DB_CLUSTER {
            let id = DbClusterId::parse(action.target.id.as_str())
                .map_err(|e| Error::InvalidEvent(e.to_string()))?;
            self.failover.failover_cluster(&id).await?
        } else {
            return Err(Error::InvalidEvent(format!(
                "{} is not a database action",
                action.kind
            )));
        };
        Ok(match outcome {
            FailedOver::Requested => None,
            FailedOver::AlreadyUnderway => Some(
                "the database was already failing over (an earlier attempt took effect)".into(),
            ),
        })
    }

    fn describe(&self, action: &PlannedAction) -> String {
        if action.kind == FAILOVER_DB_CLUSTER {
            format!("fail cluster {} over (FailoverDBCluster)", action.target.id)
        } else {
            format!(
                "fail {} over to its standby (RebootDBInstance with ForceFailover)",
                action.target.id
            )
        }
    }

    /// The instance's (or its cluster's) `rebound:rto-seconds`, or the default for
    /// databases.
    fn recovery_objective(&self, observed: &ObservedDb) -> Option<u64> {
        // Announced maintenance on an available database: nothing is broken.
        let planned = observed
            .kept
            .as_ref()
            .is_some_and(|kept| kept.scheduled.is_some());
        if planned && observed.instance.is_available() {
            return None;
        }
        rto_from_tags(&observed.instance.tags)
            .or_else(|| {
                observed
                    .cluster
                    .as_ref()
                    .and_then(|c| rto_from_tags(&c.tags))
            })
            .or(Some(self.policy.rto.as_secs()))
    }
}
