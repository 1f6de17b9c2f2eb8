//! What a person does to an incident (`rebound incidents close`, `ack`, `approve`,
//! `deny`): read it, judge and change it as read, write it on the version read. A lost
//! race reads again and judges afresh, so two people deciding at once converge on the
//! first decision stored, and the slower one is told what it was.

use chrono::Utc;

use crate::domain::{ApprovalState, Change, Incident};
use crate::error::Error;
use crate::ids::IncidentId;
use crate::ports::{Commit, Committed, Freshness, IncidentStore};
use crate::workflow::MAX_WRITE_ATTEMPTS;

/// Why a person's change was not made.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("no incident {0}")]
    NotFound(String),
    #[error("incident {0} is already resolved")]
    AlreadyResolved(String),
    #[error("incident {id} is not awaiting approval (it is {state}): there is no action to approve or deny")]
    NotAwaitingApproval { id: String, state: &'static str },
    #[error("incident {id}: the approval was already decided, {decision}; nothing changed")]
    AlreadyDecided { id: String, decision: String },
    #[error(transparent)]
    Store(#[from] Error),
}

/// Reads, applies `change` to the incident as read (`Ok(false)`: nothing to change, and
/// nothing is written), writes on the version read; on a lost race, again. Returns the
/// incident as stored and whether it changed.
pub async fn change(
    store: &impl IncidentStore,
    id: &IncidentId,
    mut change: impl FnMut(&mut Incident) -> Result<bool, Refused>,
) -> Result<(Incident, bool), Refused> {
    for attempt in 0..MAX_WRITE_ATTEMPTS {
        let mut incident = store
            .load(id)
            .await?
            .ok_or_else(|| Refused::NotFound(id.to_string()))?;
        let stored = incident.state;
        if !change(&mut incident)? {
            return Ok((incident, false));
        }
        let token = format!("by-hand-{:016x}{attempt}", fastrand::u64(..));
        let committed = store
            .commit(Commit {
                incident: &mut incident,
                stored_state: Some(stored),
                ledgers: vec![],
                token: &token,
                freshness: Freshness::Unchecked,
            })
            .await?;
        if committed == Committed::Landed {
            return Ok((incident, true));
        }
    }
    Err(Refused::Store(Error::Contention {
        resource: id.to_string(),
        attempts: MAX_WRITE_ATTEMPTS,
    }))
}

/// Closes it: resolved, not verified recovered, with who and why.
pub async fn close(
    store: &impl IncidentStore,
    id: &IncidentId,
    by: &str,
    reason: &str,
) -> Result<Incident, Refused> {
    let (incident, _) = change(store, id, |incident| {
        incident
            .apply(Utc::now(), Change::Closed { by, reason })
            .map_err(|_| Refused::AlreadyResolved(id.to_string()))
    })
    .await?;
    Ok(incident)
}

/// Acknowledges it; `false` when someone had already (the incident says who).
pub async fn acknowledge(
    store: &impl IncidentStore,
    id: &IncidentId,
    by: &str,
) -> Result<(Incident, bool), Refused> {
    change(store, id, |incident| {
        incident
            .apply(Utc::now(), Change::Acknowledged { by })
            .map_err(|_| Refused::AlreadyResolved(id.to_string()))
    })
    .await
}

/// Approves or denies the approval the incident awaits: refused, naming what stands,
/// when it awaits none or the approval was decided already (by someone faster).
pub async fn decide_approval(
    store: &impl IncidentStore,
    id: &IncidentId,
    approved: bool,
    by: &str,
    reason: Option<&str>,
) -> Result<Incident, Refused> {
    let (incident, _) = change(store, id, |incident| {
        if incident.state.is_closed() {
            return Err(Refused::AlreadyResolved(id.to_string()));
        }
        match &incident.approval {
            Some(approval) if approval.state != ApprovalState::Requested => {
                return Err(Refused::AlreadyDecided {
                    id: id.to_string(),
                    decision: approval.decision_text(),
                })
            }
            Some(_) => {}
            None => {
                return Err(Refused::NotAwaitingApproval {
                    id: id.to_string(),
                    state: incident.state.as_str(),
                })
            }
        }
        incident
            .apply(
                Utc::now(),
                Change::ApprovalDecided {
                    approved,
                    by,
                    reason,
                },
            )
            .map_err(|_| Refused::AlreadyResolved(id.to_string()))
    })
    .await?;
    Ok(incident)
}
