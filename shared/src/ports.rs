//! Capability traits the handlers are generic over. Shaped like the domain, never like
//! the SDK: adapters in [`crate::aws`] implement them for real, [`crate::fakes`] in memory.

use std::future::Future;

use std::collections::BTreeMap;

use crate::domain::{
    ActionKind, DbCluster, DbInstance, DependencyState, DrillMark, Incident, IncidentState, Ledger,
    RdsEvent, ResourceRef, ScalingGroup, TargetHealth,
};
use crate::error::Error;
use crate::ids::{
    AutoScalingGroupName, DbClusterId, DbInstanceId, IncidentId, InstanceId, TargetGroupArn,
};

pub trait TargetHealthSource: Send + Sync {
    /// The instance targets of a target group and their health; `None` when the target
    /// group no longer exists.
    fn target_health(
        &self,
        target_group: &TargetGroupArn,
    ) -> impl Future<Output = Result<Option<Vec<TargetHealth>>, Error>> + Send;
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

    /// Groups tagged `tag_key=true`, for the sweep.
    fn managed_groups(
        &self,
        tag_key: &str,
    ) -> impl Future<Output = Result<Vec<ScalingGroup>, Error>> + Send;
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
    /// Asks the group to replace the instance, keeping its desired capacity.
    fn replace(
        &self,
        kind: ActionKind,
        group: &AutoScalingGroupName,
        instance: &InstanceId,
    ) -> impl Future<Output = Result<Replaced, Error>> + Send;
}

pub trait Databases: Send + Sync {
    /// One DB instance with its tags; `None` when it no longer exists.
    fn db_instance(
        &self,
        id: &DbInstanceId,
    ) -> impl Future<Output = Result<Option<DbInstance>, Error>> + Send;

    /// One DB cluster with its members and tags; `None` when it no longer exists.
    fn db_cluster(
        &self,
        id: &DbClusterId,
    ) -> impl Future<Output = Result<Option<DbCluster>, Error>> + Send;

    /// The instance's RDS events of the last `window`, oldest first. DescribeEvents
    /// returns no event ids: these carry categories and messages only.
    fn recent_events(
        &self,
        id: &DbInstanceId,
        window: std::time::Duration,
    ) -> impl Future<Output = Result<Vec<RdsEvent>, Error>> + Send;

    /// DB instances tagged `tag_key=true`, for the sweep.
    fn managed_instances(
        &self,
        tag_key: &str,
    ) -> impl Future<Output = Result<Vec<DbInstance>, Error>> + Send;
}

/// What became of a failover request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedOver {
    /// RDS accepted the request.
    Requested,
    /// RDS refused it because the database is already rebooting or failing over,
    /// moments after it was seen available: typically an earlier attempt of this same
    /// call took effect before its answer was lost and the SDK retried.
    AlreadyUnderway,
}

pub trait DatabaseFailover: Send + Sync {
    /// `RebootDBInstance(ForceFailover=true)`: the Multi-AZ standby becomes the primary.
    fn reboot_with_failover(
        &self,
        id: &DbInstanceId,
    ) -> impl Future<Output = Result<FailedOver, Error>> + Send;

    /// `FailoverDBCluster`: RDS promotes a reader of the cluster to writer.
    fn failover_cluster(
        &self,
        id: &DbClusterId,
    ) -> impl Future<Output = Result<FailedOver, Error>> + Send;
}

/// What Rebound's records say about resources others depend on (the incident store
/// implements it: its per-resource record knows the open incident and the last
/// recovery).
pub trait Dependencies: Send + Sync {
    fn dependency(
        &self,
        resource: &ResourceRef,
    ) -> impl Future<Output = Result<DependencyState, Error>> + Send;
}

/// The outcome of a conditional write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    Landed,
    /// Another writer changed the incident, claimed the resource or moved a ledger
    /// first (a failed condition or a transaction conflict): re-read and decide again.
    LostRace,
}

/// One conditional transaction: the incident and the ledgers its actions count against.
#[derive(Debug)]
pub struct Commit<'a> {
    pub incident: &'a mut Incident,
    /// A new incident also claims its resource (one open incident per resource); a
    /// stored one is written only on the version it was read at.
    pub is_new: bool,
    /// Each ledger is written only on the version it was read at.
    pub ledgers: Vec<(ResourceRef, Ledger)>,
    /// Identifies this write (stored as `incident.written_by`, and used as the
    /// transaction's idempotency token) so the writer recognises it after a lost answer.
    pub token: &'a str,
}

pub trait IncidentStore: Send + Sync {
    /// The resource's open incident, if any.
    fn open_incident(
        &self,
        resource: &ResourceRef,
    ) -> impl Future<Output = Result<Option<Incident>, Error>> + Send;

    /// The resource's open incident and the drill marked on it, if any (`rebound drill`
    /// marks the resources it disturbs). A store that keeps both in one record reads
    /// them in one call; the default knows of no drills.
    fn open_incident_and_drill(
        &self,
        resource: &ResourceRef,
    ) -> impl Future<Output = Result<(Option<Incident>, Option<DrillMark>), Error>> + Send {
        async move { Ok((self.open_incident(resource).await?, None)) }
    }

    fn load(&self, id: &IncidentId)
        -> impl Future<Output = Result<Option<Incident>, Error>> + Send;

    /// The ledgers of these scopes (empty, version 0, when never written).
    fn ledgers(
        &self,
        scopes: &[ResourceRef],
    ) -> impl Future<Output = Result<BTreeMap<ResourceRef, Ledger>, Error>> + Send;

    /// Writes the incident and the ledgers in one transaction. On `Landed` the
    /// incident's and ledgers' versions have moved on; resolving releases the resource.
    fn commit(&self, commit: Commit<'_>) -> impl Future<Output = Result<Committed, Error>> + Send;

    /// Most recent first.
    fn list(&self, limit: usize) -> impl Future<Output = Result<Vec<Incident>, Error>> + Send;

    /// Incidents not resolved, from the sparse index of open incidents.
    fn open_incidents(&self) -> impl Future<Output = Result<Vec<Incident>, Error>> + Send;
}

/// One message for people and machines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// One line of fewer than 100 characters (SNS refuses anything else).
    pub subject: String,
    /// For e-mail: what broke, the evidence, what Rebound did, what to check next, and
    /// links to the console.
    pub text: String,
    /// For machines (SQS, Lambda, HTTP subscribers).
    pub json: String,
    /// The same change as an AWS Chatbot custom notification (a Slack / Teams card),
    /// published whole to the chat topic when one is configured.
    pub chatbot: String,
    pub severity: String,
    pub resource_type: String,
    pub state: String,
    pub resource_id: String,
    /// The incident was caused by a resilience drill: the attribute `drill=true` lets
    /// pager subscriptions filter it out while people still see it.
    pub drill: bool,
}

impl Notification {
    /// The message attributes subscription filter policies match on, by name. `drill`
    /// is sent only on a drill's messages (`"true"`), so existing filter policies keep
    /// matching real incidents as before.
    pub fn attributes(&self) -> Vec<(&'static str, &str)> {
        let mut attributes = vec![
            ("severity", self.severity.as_str()),
            ("resource_type", self.resource_type.as_str()),
            ("state", self.state.as_str()),
            ("resource_id", self.resource_id.as_str()),
        ];
        if self.drill {
            attributes.push(("drill", "true"));
        }
        attributes
    }
}

/// Where a notification goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The notifications topic: per-protocol message (`MessageStructure=json`).
    Topic,
    /// The chat topic AWS Chatbot subscribes to: the custom notification, whole.
    Chatbot,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Topic => "topic",
            Self::Chatbot => "chatbot",
        }
    }
}

pub trait Notifier: Send + Sync {
    /// Publishes the notification in the form of this notifier's [`Channel`].
    fn publish(
        &self,
        notification: &Notification,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

/// A notification refused for good (a retry cannot help), with what it takes to publish
/// it again by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedNotification {
    pub incident_id: IncidentId,
    pub state: IncidentState,
    pub previous_state: Option<IncidentState>,
    pub notification: Notification,
    /// Which of the notification's messages was refused.
    pub channel: Channel,
    /// Why it was refused, as people read it.
    pub error: String,
    /// Where the change sits in the incidents table's stream.
    pub sequence_number: Option<String>,
}

/// Where notifications go when they cannot be published, so one bad message does not
/// hold back the ones after it.
pub trait FailedNotifications: Send + Sync {
    /// Keeps the notification durably: once this returns `Ok` it is safe to move on.
    fn park(&self, failed: &FailedNotification) -> impl Future<Output = Result<(), Error>> + Send;
}
