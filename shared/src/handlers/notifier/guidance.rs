//! What a person should check next, per kind of resource and state. Kinds are matched by
//! their stored name (`resource.type`), like the console links, so a kind added on
//! another branch (`db-instance`) has its advice here already; an unknown kind gets the
//! general advice rather than none.

use crate::domain::IncidentState;

/// The next steps for an incident of `resource_type` that just moved to `state`, most
/// useful first.
pub fn next_steps(resource_type: &str, state: IncidentState) -> &'static [&'static str] {
    use IncidentState::*;
    match (resource_type, state) {
        ("target-group" | "auto-scaling-group" | "instance", Open) => &[
            "Read above why Rebound has not acted yet: a guard, the opt-in tag rebound:managed=true on the Auto Scaling group, or MODE=dry-run.",
            "Look at a failing target: its health-check reason, and the app's health-check path on the instance from inside the VPC (curl http://<private-ip>:<port>/health).",
        ],
        ("target-group" | "auto-scaling-group" | "instance", Remediating) => &[
            "Nothing to do yet: the Auto Scaling group replaces the instance, and Rebound resolves the incident only once every target is healthy and the group is back at its desired capacity.",
            "If the new instance does not turn healthy within the group's health-check grace period, read the group's activity history and the new instance's system log.",
        ],
        ("target-group" | "auto-scaling-group" | "instance", Suppressed) => &[
            "Rebound holds replacements because something this tier depends on is failing (Why, above): look at that first; the app tier should recover with it.",
            "Once the dependency has recovered the sweep checks this target group again by itself.",
        ],
        ("target-group" | "auto-scaling-group" | "instance", Escalated) => &[
            "A person is needed: Rebound has stopped acting on this target group (Why, above).",
            "Check the Auto Scaling group's launch template: a new version, AMI or user-data change that new instances fail with.",
            "Check the app's /health on a failing instance: the target group's health-check path, port and success codes, and the app's own logs.",
            "Check the database the group depends on: RDS events, connections, storage, a failover in progress.",
            "Check what changed between the load balancer and the instances: security groups, network ACLs, a deployment.",
        ],
        ("target-group" | "auto-scaling-group" | "instance", Resolved) => &[
            "Nothing to do: recovery was verified (every target healthy, the group back at its desired capacity).",
            "For the cause, read the timeline and the replaced instance's logs before they are gone.",
        ],
        ("db-instance" | "db-cluster", Open) => &[
            "Read above why Rebound has not acted yet: a guard, the opt-in tag rebound:managed=true on the database, or MODE=dry-run.",
            "Check the database's recent RDS events and its metrics: CPU, FreeableMemory, FreeStorageSpace, DatabaseConnections.",
        ],
        ("db-instance" | "db-cluster", Remediating) => &[
            "Nothing to do yet: a failover is under way; applications reconnect through the same endpoint once its DNS record moves (usually one to two minutes).",
            "Make sure clients do not cache the old address (DNS TTL, connection pools that never reconnect).",
        ],
        ("db-instance" | "db-cluster", Suppressed) => &[
            "Rebound holds action on this database (Why, above): look at what it waits for first.",
        ],
        ("db-instance" | "db-cluster", Escalated) => &[
            "A person is needed: Rebound will not fail this database over (Why, above).",
            "Check the RDS events and the instance status: full storage, incompatible parameters or a network problem are not fixed by a failover.",
            "Check the standby: Multi-AZ enabled, its Availability Zone healthy, no pending maintenance.",
            "Check the applications: connection storms, long transactions, a recent schema change.",
        ],
        ("db-instance" | "db-cluster", Resolved) => &[
            "Nothing to do: the database is available again.",
            "Check that the applications reconnected, and in which Availability Zone the primary runs now.",
        ],
        (_, Open) => &["Read above why Rebound has not acted yet."],
        (_, Remediating) => &["Nothing to do yet: Rebound is remediating and verifies the recovery."],
        (_, Suppressed) => &["Rebound holds action (Why, above): look at what it waits for first."],
        (_, Escalated) => &["A person is needed: Rebound has stopped acting (Why, above)."],
        (_, Resolved) => &["Nothing to do: recovery was verified."],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATES: [IncidentState; 5] = [
        IncidentState::Open,
        IncidentState::Remediating,
        IncidentState::Suppressed,
        IncidentState::Escalated,
        IncidentState::Resolved,
    ];

    #[test]
    fn every_kind_and_state_has_advice() {
        for kind in [
            "target-group",
            "auto-scaling-group",
            "instance",
            "db-instance",
            "db-cluster",
            "something-new",
        ] {
            for state in STATES {
                assert!(!next_steps(kind, state).is_empty(), "{kind} {state:?}");
            }
        }
    }

    #[test]
    fn an_escalated_target_group_points_at_the_launch_template_the_health_check_and_the_database() {
        let steps = next_steps("target-group", IncidentState::Escalated).join("\n");
        for expected in ["launch template", "/health", "database"] {
            assert!(steps.contains(expected), "{expected}: {steps}");
        }
    }

    #[test]
    fn the_advice_fits_a_chat_card() {
        for kind in ["target-group", "db-instance", "other"] {
            for state in STATES {
                let steps = next_steps(kind, state);
                assert!(steps.len() <= 5);
                assert!(steps.iter().all(|s| s.chars().count() <= 250));
            }
        }
    }
}
