//! What Rebound reasons about, free of any SDK type: what was observed, the incident
//! record it keeps, and the ledgers of recent actions its guards count.

mod database;
mod drill;
mod incident;
mod ledger;
mod observation;

pub use database::{
    ClusterMember, DatabaseEvidence, DbCluster, DbInstance, DependencyState, Placement, RdsEvent,
    MAX_EVIDENCE_EVENTS, STATUSES_NEEDING_A_PERSON,
};
pub use drill::DrillMark;
pub use incident::{
    Action, ActionKind, ActionOutcome, Evidence, IllegalTransition, Incident, IncidentState,
    ResourceKind, ResourceRef, TimelineEntry,
};
pub use ledger::{account_scope, Ledger, LedgerEntry, LEDGER_MAX_ENTRIES, LEDGER_RETENTION};
pub use observation::{GroupInstance, ScalingGroup, TargetHealth, TargetState, DEPENDS_ON_TAG_KEY};
