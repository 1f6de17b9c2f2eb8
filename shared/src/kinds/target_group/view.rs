//! How a target group's incidents read: the targets counted by state and reason, the
//! failing ones listed, the groups behind it linked, and what to check next.

use std::collections::BTreeMap;

use super::observation::{TargetHealth, TargetState};
use super::{Evidence, AUTO_SCALING_GROUP};
use crate::domain::{self, IncidentState, ResourceRef};
use crate::view::{Census, Console, Digest, IncidentView, KindInfo, Section, TypeInfo};

/// Not-healthy targets listed by id, at most (in any rendering).
pub const MAX_LISTED_TARGETS: usize = 10;

pub static KIND: KindInfo = KindInfo {
    view: &View,
    types: &[
        TypeInfo {
            name: "target-group",
            label: "Target group",
            console: Some(Console {
                service: "ec2",
                fragment: |id, _| format!("TargetGroup:targetGroupArn={id}"),
            }),
        },
        TypeInfo {
            name: "auto-scaling-group",
            label: "Auto Scaling group",
            console: Some(Console {
                service: "ec2",
                fragment: |_, name| format!("AutoScalingGroupDetails:id={name};view=details"),
            }),
        },
        TypeInfo {
            name: "instance",
            label: "EC2 instance",
            console: Some(Console {
                service: "ec2",
                fragment: |_, name| format!("InstanceDetails:instanceId={name}"),
            }),
        },
    ],
};

pub struct View;

/// As the load balancer spells it.
pub fn state_name(state: &TargetState) -> &str {
    match state {
        TargetState::Initial => "initial",
        TargetState::Healthy => "healthy",
        TargetState::Unhealthy => "unhealthy",
        TargetState::UnhealthyDraining => "unhealthy.draining",
        TargetState::Unused => "unused",
        TargetState::Draining => "draining",
        TargetState::Unavailable => "unavailable",
        TargetState::Other(other) => other,
    }
}

/// `i-0abc unhealthy: Target.FailedHealthChecks`.
fn target_line(target: &TargetHealth) -> String {
    let reason = target
        .reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    format!(
        "{} {}{reason}",
        target.instance_id,
        state_name(&target.state)
    )
}

/// The targets counted once: how many in each state (and reason), and the first ones
/// that are not healthy.
pub fn census(targets: &[TargetHealth]) -> Census {
    let mut counts = BTreeMap::<String, usize>::new();
    let mut listed = Vec::new();
    let mut listed_total = 0;
    for target in targets {
        let label = match &target.reason {
            Some(reason) => format!("{}, {}", state_name(&target.state), reason),
            None => state_name(&target.state).to_owned(),
        };
        *counts.entry(label).or_default() += 1;
        if target.state != TargetState::Healthy {
            listed_total += 1;
            if listed.len() < MAX_LISTED_TARGETS {
                listed.push(target_line(target));
            }
        }
    }
    // What is wrong first, then by how many.
    let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| {
        (a.0 == "healthy")
            .cmp(&(b.0 == "healthy"))
            .then_with(|| b.1.cmp(&a.1))
            .then_with(|| a.0.cmp(&b.0))
    });
    Census {
        total: targets.len(),
        noun: ("target", "targets"),
        counts,
        listed,
        listed_total,
        listed_heading: "Not healthy",
    }
}

impl IncidentView for View {
    fn resource_types(&self) -> &'static [&'static str] {
        &["target-group"]
    }

    fn next_steps(&self, state: IncidentState) -> &'static [&'static str] {
        use IncidentState::*;
        match state {
            Open => &[
                "Read above why Rebound has not acted yet: a guard, the opt-in tag rebound:managed=true on the Auto Scaling group, or MODE=dry-run.",
                "Look at a failing target: its health-check reason, and the app's health-check path on the instance from inside the VPC (curl http://<private-ip>:<port>/health).",
            ],
            Remediating => &[
                "Nothing to do yet: the Auto Scaling group replaces the instance, and Rebound resolves the incident only once every target is healthy and the group is back at its desired capacity.",
                "If the new instance does not turn healthy within the group's health-check grace period, read the group's activity history and the new instance's system log.",
            ],
            Suppressed => &[
                "Rebound holds replacements because something this tier depends on is failing (Why, above): look at that first; the app tier should recover with it.",
                "Once the dependency has recovered the sweep checks this target group again by itself.",
            ],
            AwaitingApproval => crate::view::AWAITING_APPROVAL_STEPS,
            Escalated => &[
                "A person is needed: Rebound has stopped acting on this target group (Why, above).",
                "Check the Auto Scaling group's launch template: a new version, AMI or user-data change that new instances fail with.",
                "Check the app's /health on a failing instance: the target group's health-check path, port and success codes, and the app's own logs.",
                "Check the database the group depends on: RDS events, connections, storage, a failover in progress.",
                "Check what changed between the load balancer and the instances: security groups, network ACLs, a deployment.",
            ],
            Resolved => &[
                "Nothing to do: recovery was verified (every target healthy, the group back at its desired capacity).",
                "For the cause, read the timeline and the replaced instance's logs before they are gone.",
            ],
        }
    }

    fn digest(&self, evidence: &domain::Evidence) -> Digest {
        let evidence: Evidence = evidence.read().unwrap_or_default();
        let show = (!evidence.targets.is_empty()).then(|| Section {
            heading: "Evidence (targets when last observed)".into(),
            lines: evidence
                .targets
                .iter()
                .map(|target| {
                    format!(
                        "{:<22} {:<10} {}{}",
                        target.instance_id.as_str(),
                        state_name(&target.state),
                        target.reason.as_deref().unwrap_or(""),
                        target
                            .description
                            .as_deref()
                            .map(|d| format!(" — {d}"))
                            .unwrap_or_default(),
                    )
                })
                .collect(),
        });
        Digest {
            census: (!evidence.targets.is_empty()).then(|| census(&evidence.targets)),
            facts: Vec::new(),
            related: evidence
                .auto_scaling_groups
                .iter()
                .map(|group| ResourceRef::new(AUTO_SCALING_GROUP, group.as_str()))
                .collect(),
            show,
        }
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
    fn an_escalated_target_group_points_at_the_launch_template_the_health_check_and_the_database() {
        let steps = View.next_steps(IncidentState::Escalated).join("\n");
        for expected in ["launch template", "/health", "database"] {
            assert!(steps.contains(expected), "{expected}: {steps}");
        }
    }

    #[test]
    fn every_state_has_advice_that_fits_a_chat_card() {
        for state in STATES {
            let steps = View.next_steps(state);
            assert!(!steps.is_empty() && steps.len() <= 5, "{state:?}");
            assert!(steps.iter().all(|s| s.chars().count() <= 250));
        }
    }
}
