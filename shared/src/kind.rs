//! What a kind of resource supplies. The function shell ([`crate::shell`]) and the
//! incident workflow ([`crate::workflow`]) are written once; a kind (target groups, DB
//! instances, …) brings only what differs: how to list and observe its resources, the
//! pure decision with every guard, its evidence, and how to act. Neither the shell nor
//! the workflow ever asks which kind it runs.

use std::fmt::Debug;
use std::future::Future;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::config::Settings;
use crate::domain::{
    Action, ActionOutcome, Capture, Decision, Incident, PlannedAction, ResourceRef, ResourceType,
};
use crate::error::Error;
use crate::policy::History;

/// What an action is taken with: the state the decision was taken on, the incident it
/// belongs to, and the time.
#[derive(Debug, Clone, Copy)]
pub struct Acting<'a, O> {
    pub observed: &'a O,
    pub incident: &'a Incident,
    pub now: DateTime<Utc>,
}

pub trait Kind: Send + Sync {
    /// What a delivery said about one resource beyond "look at it" (an alarm's state,
    /// an RDS event): an input to the pure decision next to the observed state, never
    /// state kept in evidence. `Default` is what the sweep says: nothing.
    type Cue: Clone + Default + Debug + Send + Sync;

    /// Everything the decision needs to know about one resource.
    type Observed: Send + Sync;

    /// What [`Kind::first_look`] reads: the part of the resource's state that needs
    /// nothing stored, so it is read at the same time as the resource's record.
    type FirstLook: Send + Sync;

    /// What an incident of this kind keeps as evidence (stored as a JSON object).
    type Evidence: Serialize + DeserializeOwned + Send;

    /// The type of the resources whose incidents this kind keeps.
    fn resource_type(&self) -> ResourceType;

    /// The settings the workflow and the shell run with.
    fn settings(&self) -> &Settings;

    /// The resources the sweep looks at besides those with an open incident (which the
    /// shell adds, and passes as `open` so the kind knows every resource the sweep will
    /// check): the managed ones.
    fn sweep_list(
        &self,
        open: &[ResourceRef],
    ) -> impl Future<Output = Result<Vec<ResourceRef>, Error>> + Send;

    /// The sweep's checks are over (or it failed): a kind that kept its listing's reads
    /// for those checks drops them here, so no later delivery decides on them.
    fn sweep_ended(&self) {}

    /// The resources of this kind a delivery about another resource is about (a DB
    /// cluster's event reaches each of its instances): resolved before the checks. By
    /// default a resource is its own only member.
    fn members(
        &self,
        resource: &ResourceRef,
    ) -> impl Future<Output = Result<Vec<ResourceRef>, Error>> + Send {
        let own = vec![resource.clone()];
        async move { Ok(own) }
    }

    /// The first of the resource's reads: those that depend on nothing but the resource
    /// and the cue (never on the stored incident), made while the workflow reads the
    /// resource's record. What the cue says is failing may be worth reading here ahead
    /// of knowing it is needed (time to act is counted in dependent round trips); what
    /// only a failure needs, on a cue that says nothing failed, is not. `None` when the
    /// resource no longer exists.
    fn first_look(
        &self,
        resource: &ResourceRef,
        cue: &Self::Cue,
    ) -> impl Future<Output = Result<Option<Self::FirstLook>, Error>> + Send;

    /// The scopes whose ledgers a decision may need, as far as the first look tells:
    /// the workflow reads them while [`Kind::observe`] reads the rest. Any scope
    /// [`Kind::scopes`] adds later is read after. By default none: all read after.
    fn scopes_at_first_look(&self, _look: &Self::FirstLook, _cue: &Self::Cue) -> Vec<ResourceRef> {
        Vec::new()
    }

    /// Reads the rest of the resource's real state, from its first look; `None` when it
    /// no longer exists. The open incident, if any, says what else to look at (e.g. the
    /// groups it acted through), and the cue what the decision may need. Reads that do
    /// not depend on each other run at once.
    fn observe(
        &self,
        resource: &ResourceRef,
        cue: &Self::Cue,
        look: Self::FirstLook,
        incident: Option<&Incident>,
    ) -> impl Future<Output = Result<Option<Self::Observed>, Error>> + Send;

    /// The scopes whose ledgers a decision to act needs; empty when no action is
    /// possible, which saves reading them.
    fn scopes(&self, observed: &Self::Observed) -> Vec<ResourceRef>;

    /// The pure decision: every guard, the budget included.
    fn decide(
        &self,
        observed: &Self::Observed,
        cue: &Self::Cue,
        history: History<'_>,
        now: DateTime<Utc>,
    ) -> Decision;

    /// The incident's evidence after this check: `kept` is what the open incident holds
    /// (`None` for a new incident).
    fn evidence(
        &self,
        observed: &Self::Observed,
        cue: &Self::Cue,
        decision: &Decision,
        kept: Option<Self::Evidence>,
        now: DateTime<Utc>,
    ) -> Self::Evidence;

    /// How to settle a write-ahead action of `incident` whose outcome was never
    /// recorded, once it is overdue (`None` before).
    fn settle(
        &self,
        action: &Action,
        observed: &Self::Observed,
        incident: &Incident,
        now: DateTime<Utc>,
    ) -> Option<(ActionOutcome, String)>;

    /// Keeps what the action is about to destroy (an instance's console output and
    /// status, before it is replaced): called once the action is written ahead and
    /// before its call, in enforce mode only, for every action of the decision at once.
    /// It must be quick and bounded; it never fails: a capture that could not be made is
    /// a [`Capture`] that says why, and the call goes ahead either way. `None`: nothing
    /// to keep for this action (the default).
    fn capture(
        &self,
        _action: &Action,
        _acting: Acting<'_, Self::Observed>,
    ) -> impl Future<Output = Option<Capture>> + Send {
        async { None }
    }

    /// Makes the call, from the state the decision was taken on. `Ok(Some(detail))`
    /// says what it did or found (e.g. that it was done already).
    fn act(
        &self,
        action: &Action,
        acting: Acting<'_, Self::Observed>,
    ) -> impl Future<Output = Result<Option<String>, Error>> + Send;

    /// Whether this action, once it succeeds, mitigates the incident: its impact ends
    /// though the resource has not recovered (traffic shifted away from a zone). The
    /// recovery objective is then met; recovery is still verified before resolving.
    fn mitigates(&self, _action: &Action) -> bool {
        false
    }

    /// One line for the timeline: "replace i-0abc in web".
    fn describe(&self, action: &PlannedAction) -> String;

    /// The recovery-time objective, in seconds, a new incident on this resource is held
    /// to: the resource's `rebound:rto-seconds` tag, or the kind's default.
    fn recovery_objective(&self, observed: &Self::Observed) -> Option<u64>;
}
