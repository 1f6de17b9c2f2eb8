//! Capability traits the handlers are generic over. Shaped like the domain, never like
//! the SDK: adapters in [`crate::aws`] implement them for real, [`crate::fakes`] in memory.

use std::future::Future;

use chrono::{DateTime, Utc};

use crate::domain::{ActionKind, Incident, IncidentState, ResourceRef, ScalingGroup, TargetHealth};
use crate::error::Error;
use crate::ids::{AutoScalingGroupName, IncidentId, InstanceId, TargetGroupArn};

pub trait TargetHealthSource: Send + Sync {
    /// The instance targets of a target group and their health.
    fn target_health(
        &self,
        target_group: &TargetGroupArn,
    ) -> impl Future<Output = Result<Vec<TargetHealth>, Error>> + Send;
}

pub trait ScalingGroups: Send + Sync {
    /// The groups that own these instances, each with all its members, tags and
    /// suspended processes; for groups tagged `managed_tag_key=true` (the only ones ever
    /// acted on) also whether an instance refresh is running.
    fn groups_owning(
        &self,
        instances: &[InstanceId],
        managed_tag_key: &str,
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

/// The per-resource record: which incident is open, when Rebound last acted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceRecord {
    pub open_incident: Option<IncidentId>,
    pub last_action_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    Opened,
    /// Another delivery opened one first: converge on it.
    AlreadyOpen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    Saved,
    /// The stored version moved on: reload and decide again.
    Conflict,
}

pub trait IncidentStore: Send + Sync {
    fn resource(
        &self,
        resource: &ResourceRef,
    ) -> impl Future<Output = Result<ResourceRecord, Error>> + Send;

    fn load(&self, id: &IncidentId)
        -> impl Future<Output = Result<Option<Incident>, Error>> + Send;

    /// Stores a new incident and marks it the resource's open one, only if the resource
    /// has none open (one conditional write). Sets `incident.version` to 1;
    /// `action_at` starts the resource's cooldown clock in the same write.
    fn create(
        &self,
        incident: &mut Incident,
        action_at: Option<DateTime<Utc>>,
    ) -> impl Future<Output = Result<Created, Error>> + Send;

    /// Writes the incident only if the stored version is still `incident.version`, and
    /// bumps it. Resolving releases the resource; `action_at` moves its cooldown clock.
    fn update(
        &self,
        incident: &mut Incident,
        action_at: Option<DateTime<Utc>>,
    ) -> impl Future<Output = Result<Saved, Error>> + Send;

    /// Takes one slot of the account-wide hourly action budget; false when used up.
    fn reserve_action(
        &self,
        now: DateTime<Utc>,
        per_hour: u32,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// Most recent first.
    fn list(&self, limit: usize) -> impl Future<Output = Result<Vec<Incident>, Error>> + Send;

    fn open_incidents(&self) -> impl Future<Output = Result<Vec<Incident>, Error>> + Send;
}

/// One message for people and machines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// One line of fewer than 100 characters (SNS refuses anything else).
    pub subject: String,
    /// For e-mail and chat.
    pub text: String,
    /// For machines (SQS, Lambda, HTTP subscribers).
    pub json: String,
    pub severity: String,
    pub resource_type: String,
    pub state: String,
}

impl Notification {
    /// The message attributes subscription filter policies match on, by name.
    pub fn attributes(&self) -> [(&'static str, &str); 3] {
        [
            ("severity", &self.severity),
            ("resource_type", &self.resource_type),
            ("state", &self.state),
        ]
    }
}

pub trait Notifier: Send + Sync {
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
