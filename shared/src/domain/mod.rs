//! What Rebound reasons about, whatever the kind of resource and free of any SDK type:
//! resources and their types, the incident record and its lifecycle, the decision a
//! check takes, the approvals and acknowledgements people record on an incident, and the ledgers of recent actions its guards count. What a kind
//! observes (target health, a DB instance, a zone) lives with the kind.

mod approval;
mod decision;
mod drill;
mod evidence;
mod incident;
mod ledger;
mod lifecycle;
mod resource;

pub use approval::{Acknowledgement, Approval, ApprovalState, ApprovalStep};
pub use decision::{
    Decision, Effect, NativeHealing, PlannedAction, PlannedWork, Refusal, RepeatLimit, Verdict,
};
pub use drill::DrillMark;
pub use evidence::{Capture, Evidence, CONTRACT_LISTS};
pub use incident::{
    Action, ActionKind, ActionOutcome, IllegalTransition, Incident, IncidentRecord, IncidentState,
    Opening, TimelineEntry,
};
pub use ledger::{
    account_scope, Ledger, LedgerEntry, ACCOUNT, LEDGER_MAX_ENTRIES, LEDGER_RETENTION,
};
pub use lifecycle::Change;
pub use resource::{ResourceRef, ResourceType};
