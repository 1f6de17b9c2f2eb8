//! Capability traits every kind and the notifier share, shaped like the domain, never
//! like the SDK: the incident store, what Rebound's records say of a resource others
//! depend on, and where notifications go. Adapters in [`crate::aws`] implement them for
//! real, [`crate::fakes`] in memory; what a kind needs of AWS is in its own `ports`.

use std::collections::BTreeMap;
use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::domain::{DrillMark, Incident, IncidentState, Ledger, ResourceRef, ResourceType};
use crate::error::Error;
use crate::ids::IncidentId;

/// What Rebound's own records say about a resource that others depend on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependencyState {
    /// Its incident, while one is open.
    pub open_incident: Option<IncidentId>,
    /// Its last incident that resolved, and when it verifiably recovered.
    pub last_incident: Option<IncidentId>,
    pub last_recovered_at: Option<DateTime<Utc>>,
    /// When its open incident opened, and that incident's recovery objective (seconds):
    /// no hold outlives them (invariant 13).
    pub open_since: Option<DateTime<Utc>>,
    pub open_rto_s: Option<u64>,
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
    /// The incident's state as it was read; `None` for a new incident.
    pub stored_state: Option<IncidentState>,
    /// Each ledger is written only on the version it was read at.
    pub ledgers: Vec<(ResourceRef, Ledger)>,
    /// Identifies this write (stored as `incident.written_by`, and used as the
    /// transaction's idempotency token) so the writer recognises it after a lost answer.
    pub token: &'a str,
    /// What a new incident knows of the resource's last recovery: it lands only if no
    /// incident on the resource resolved after the state it was decided on was read (an
    /// older read is stale: another writer acted and resolved meanwhile).
    pub freshness: Freshness,
}

/// How a new incident proves its decision was not made on a read older than the
/// resource's last resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    /// The writer read nothing it decided on (by hand, tests).
    Unchecked,
    /// The resource's record was read before its state, and named this last resolved
    /// incident: no other may have resolved since. Compared by value, so it holds
    /// whatever the clocks of the writers say.
    LastIncident(Option<IncidentId>),
    /// Only the writer's clock is known (the sweep reads the open incidents, not each
    /// record): no recovery recorded at or after this moment.
    ObservedAt(DateTime<Utc>),
}

/// A resource's record: its open incident, the drill marked on it, and the last
/// incident that resolved on it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceRecord {
    pub open: Option<Incident>,
    pub drill: Option<DrillMark>,
    pub last_incident: Option<IncidentId>,
}

/// What must hold for a commit to land: the one description every store enforces, so
/// the in-memory store of the tests loses exactly the races DynamoDB makes a writer lose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conditions {
    pub incident: Expected,
    /// The per-resource record that guards "one open incident per resource".
    pub resource: Option<Claim>,
    /// Each ledger at the version it was read at (0: never written).
    pub ledgers: Vec<(ResourceRef, u64)>,
}

/// The incident as the writer expects to find it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// Not stored yet (its id unused).
    New,
    /// Stored at this version.
    Version(u64),
}

/// What the write does to its resource's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// A new incident claims the resource: it must have no open incident, and no
    /// resolution newer than the read the incident was decided on.
    Open { freshness: Freshness },
    /// The write that resolves the incident releases the resource, which must still be
    /// held by this incident; it remembers the incident and when the resource
    /// verifiably recovered (`None`: resolved without a recovery).
    Release { recovered_at: Option<DateTime<Utc>> },
}

impl Commit<'_> {
    pub fn is_new(&self) -> bool {
        self.stored_state.is_none()
    }

    pub fn conditions(&self) -> Conditions {
        let resolving =
            self.incident.state.is_closed() && self.stored_state.is_some_and(|s| !s.is_closed());
        Conditions {
            incident: match self.stored_state {
                None => Expected::New,
                Some(_) => Expected::Version(self.incident.version),
            },
            resource: if self.is_new() {
                Some(Claim::Open {
                    freshness: self.freshness.clone(),
                })
            } else if resolving {
                Some(Claim::Release {
                    recovered_at: self
                        .incident
                        .time_to_recover_s
                        .and(self.incident.resolved_at),
                })
            } else {
                None
            },
            ledgers: self
                .ledgers
                .iter()
                .map(|(scope, ledger)| (scope.clone(), ledger.version))
                .collect(),
        }
    }
}

pub trait IncidentStore: Send + Sync {
    /// The resource's open incident, if any.
    fn open_incident(
        &self,
        resource: &ResourceRef,
    ) -> impl Future<Output = Result<Option<Incident>, Error>> + Send;

    /// The resource's record: its open incident, the drill marked on it (`rebound
    /// drill` marks the resources it disturbs) and the last incident resolved on it,
    /// in one read of the record (and one of the open incident).
    fn resource_record(
        &self,
        resource: &ResourceRef,
    ) -> impl Future<Output = Result<ResourceRecord, Error>> + Send;

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

    /// The resources of this type the last sweep had no time for, in the order it would
    /// have checked them: the next sweep checks them before the rest (after the open
    /// incidents), so none waits longer than the others.
    fn sweep_backlog(
        &self,
        kind: &ResourceType,
    ) -> impl Future<Output = Result<Vec<ResourceRef>, Error>> + Send;

    /// Keeps the resources this sweep had no time for (none: clears the backlog).
    fn keep_sweep_backlog(
        &self,
        kind: &ResourceType,
        backlog: &[ResourceRef],
    ) -> impl Future<Output = Result<(), Error>> + Send;
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
    /// The per-protocol message (`MessageStructure=json`): e-mail gets the readable text,
    /// SMS the subject, and every other protocol (SQS, Lambda, HTTP/S, email-json,
    /// Firehose) the JSON document through `default`, which SNS sends to any protocol
    /// without a key of its own. Repeating the document under each protocol's key would
    /// only multiply the message: SNS counts every copy against its 256 KB.
    pub fn by_protocol(&self) -> Value {
        json!({
            "default": self.json,
            "email": self.text,
            "sms": self.subject,
        })
    }

    /// [`Notification::by_protocol`] as the text SNS is sent.
    pub fn message_by_protocol(&self) -> String {
        self.by_protocol().to_string()
    }

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
