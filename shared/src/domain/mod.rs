//! What Rebound reasons about, free of any SDK type: what was observed, and the
//! incident record it keeps.

mod incident;
mod observation;

pub use incident::{
    Action, ActionKind, ActionOutcome, Evidence, Incident, IncidentState, ResourceKind,
    ResourceRef, TimelineEntry,
};
pub use observation::{GroupInstance, ScalingGroup, TargetHealth, TargetState};
