//! What a drill needs from the world, shaped like the drill, never like the SDK: inject
//! one failure and undo it, observe the stack and Rebound's incidents, know how Rebound
//! runs, and write to the incidents table. [`super::aws`] and [`super::local`]
//! implement them; the tests of [`super::machine`] fake them.
#![allow(async_fn_in_trait)]

use chrono::{DateTime, Utc};
use rebound::domain::{DrillMark, Incident, ResourceRef};
use rebound::kinds::database::observation::DbInstance;
use rebound::kinds::target_group::observation::{ScalingGroup, TargetHealth};

use super::DrillError;

/// What was done to the stack, in words people read ("stopped i-0abc in web-asg").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injected {
    pub what: String,
    /// When the failure took hold (the call returned, or the FIS experiment ran).
    pub at: DateTime<Utc>,
    /// The instance put out of service, if one was (instance drills).
    pub instance: Option<String>,
}

/// Makes the failure happen, and undoes it. Stateful: it remembers every change it
/// made, so `restore` undoes exactly those, in reverse, also after an `inject` that
/// failed half-way.
pub trait Injector {
    /// What `inject` is about to do, for the confirmation prompt.
    fn plan(&self) -> String;

    async fn inject(&mut self) -> Result<Injected, DrillError>;

    /// Undoes what `inject` changed and is still there to undo; each line says what was
    /// restored. Safe to call when nothing was injected.
    async fn restore(&mut self) -> Result<Vec<String>, DrillError>;
}

/// An Auto Scaling group as the drill watches it: the group and the health of its
/// targets in every target group it is registered in.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupView {
    pub group: ScalingGroup,
    pub targets: Vec<TargetHealth>,
}

/// The stack at one moment, and what Rebound recorded about the drill so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub at: DateTime<Utc>,
    /// The drilled group (instance and AZ drills), or the groups that depend on the
    /// drilled database.
    pub groups: Vec<GroupView>,
    pub database: Option<DbInstance>,
    /// Incidents Rebound opened on a resource this drill marked.
    pub incidents: Vec<Incident>,
    /// The `--abort-on-alarm` alarms now in ALARM.
    pub alarms_firing: Vec<String>,
}

pub trait Observer {
    async fn snapshot(&self, drill_id: &str) -> Result<Snapshot, DrillError>;

    /// Open Rebound incidents on any of these resources (preflight: the stack must be
    /// healthy in Rebound's eyes too).
    async fn open_incidents_on(
        &self,
        resources: &[ResourceRef],
    ) -> Result<Vec<Incident>, DrillError>;
}

/// How Rebound runs while the drill watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReboundInfo {
    /// Where the answer comes from: "in-process (local emulator)" or "function
    /// rebound-TargetHealthFunction-… of stack rebound".
    pub source: String,
    pub enforce: bool,
    pub managed_tag_key: String,
    /// The function that heals this drill's target is there at all.
    pub deployed: bool,
}

pub trait Deployment {
    async fn rebound(&self) -> Result<ReboundInfo, DrillError>;

    /// Lets Rebound run once more: in-process, a sweep and the RDS events since the
    /// last tick; deployed, nothing (its schedule and alarms drive it).
    async fn tick(&self) -> Result<(), DrillError>;
}

/// The incidents table, as the drill writes it.
pub trait Records {
    async fn mark(&self, resources: &[ResourceRef], mark: &DrillMark) -> Result<(), DrillError>;
    async fn clear(&self, resources: &[ResourceRef], drill_id: &str) -> Result<(), DrillError>;
    /// Appends the drill's result to an incident's timeline.
    async fn append(
        &self,
        incident: &Incident,
        at: DateTime<Utc>,
        detail: &str,
    ) -> Result<(), DrillError>;
}

/// The person at the terminal.
pub trait Console {
    /// Asks to go ahead; true when confirmed.
    fn confirm(&mut self, question: &str) -> bool;
    /// One line of live progress.
    fn progress(&mut self, line: &str);
}
