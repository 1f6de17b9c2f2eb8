//! How a database's incidents read: where primary and standby (or the cluster's writer)
//! were when it was detected, before the failover and after it, and what to check next.

use super::observation::Placement;
use super::Evidence;
use crate::domain::{self, IncidentState};
use crate::view::{Console, Digest, Fact, IncidentView, KindInfo, TypeInfo};

pub static KIND: KindInfo = KindInfo {
    view: &View,
    types: &[
        TypeInfo {
            name: "db-instance",
            label: "DB instance",
            console: Some(Console {
                service: "rds",
                fragment: |_, name| format!("database:id={name};is-cluster=false"),
            }),
        },
        TypeInfo {
            name: "db-cluster",
            label: "DB cluster",
            console: Some(Console {
                service: "rds",
                fragment: |_, name| format!("database:id={name};is-cluster=true"),
            }),
        },
    ],
};

pub struct View;

/// `available, primary in us-east-1a, standby in us-east-1b`, or a cluster's writer.
fn place(placement: &Placement) -> String {
    match &placement.writer {
        Some(writer) => format!("{}, writer {writer}", placement.status),
        None => format!(
            "{}, primary in {}, standby in {}",
            placement.status,
            placement.primary_az.as_deref().unwrap_or("?"),
            placement.standby_az.as_deref().unwrap_or("none")
        ),
    }
}

impl IncidentView for View {
    fn resource_types(&self) -> &'static [&'static str] {
        &["db-instance", "db-cluster"]
    }

    fn next_steps(&self, state: IncidentState) -> &'static [&'static str] {
        use IncidentState::*;
        match state {
            Open => &[
                "Read above why Rebound has not acted yet: a guard, the opt-in tag rebound:managed=true on the database, or MODE=dry-run.",
                "Check the database's recent RDS events and its metrics: CPU, FreeableMemory, FreeStorageSpace, DatabaseConnections.",
            ],
            Remediating => &[
                "Nothing to do yet: a failover is under way; applications reconnect through the same endpoint once its DNS record moves (usually one to two minutes).",
                "Make sure clients do not cache the old address (DNS TTL, connection pools that never reconnect).",
            ],
            Suppressed => &[
                "Rebound holds action on this database (Why, above): look at what it waits for first.",
            ],
            AwaitingApproval => crate::view::AWAITING_APPROVAL_STEPS,
            Escalated => &[
                "A person is needed: Rebound will not fail this database over (Why, above).",
                "Check the RDS events and the instance status: full storage, incompatible parameters or a network problem are not fixed by a failover.",
                "Check the standby: Multi-AZ enabled, its Availability Zone healthy, no pending maintenance.",
                "Check the applications: connection storms, long transactions, a recent schema change.",
            ],
            Resolved => &[
                "Nothing to do: the database is available again.",
                "Check that the applications reconnected, and in which Availability Zone the primary runs now.",
            ],
        }
    }

    fn digest(&self, evidence: &domain::Evidence) -> Digest {
        let Some(database) = evidence.read::<Evidence>().ok().and_then(|e| e.database) else {
            return Digest::default();
        };
        let mut facts = vec![Fact {
            label: "Database:  ",
            value: place(&database.detected),
        }];
        if let Some(before) = &database.before_failover {
            facts.push(Fact {
                label: "Before failover: ",
                value: place(before),
            });
        }
        if let Some(after) = &database.after_failover {
            facts.push(Fact {
                label: "After failover:  ",
                value: place(after),
            });
        }
        Digest {
            facts,
            ..Digest::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_advice_that_fits_a_chat_card() {
        for state in [
            IncidentState::Open,
            IncidentState::Remediating,
            IncidentState::Suppressed,
            IncidentState::Escalated,
            IncidentState::Resolved,
        ] {
            let steps = View.next_steps(state);
            assert!(!steps.is_empty() && steps.len() <= 5, "{state:?}");
            assert!(steps.iter().all(|s| s.chars().count() <= 250));
        }
    }
}
