//! How a zone's incidents read: the zones counted, the zone's failing targets, the
//! shifts in effect with their zone and expiry, the load balancer and groups linked,
//! and what to check next.

use super::Evidence;
use super::LOAD_BALANCER;
use crate::domain::{self, IncidentState, ResourceRef};
use crate::kinds::target_group::view::{census, state_name};
use crate::kinds::target_group::AUTO_SCALING_GROUP;
use crate::view::{Console, Digest, Fact, IncidentView, KindInfo, Section, TypeInfo};

pub static KIND: KindInfo = KindInfo {
    view: &View,
    types: &[
        TypeInfo {
            name: "availability-zone",
            label: "Availability Zone",
            console: None,
        },
        TypeInfo {
            name: "load-balancer",
            label: "Load balancer",
            console: Some(Console {
                service: "ec2",
                fragment: |id, _| format!("LoadBalancer:loadBalancerArn={id}"),
            }),
        },
    ],
};

pub struct View;

/// `us-east-1a 0/2 unhealthy, us-east-1b 2/2 unhealthy`.
fn zones_line(evidence: &Evidence) -> String {
    evidence
        .zones
        .iter()
        .map(|c| format!("{} {}/{} unhealthy", c.zone, c.unhealthy, c.targets))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `zonal shift away from use1-az2 (applied) until 2026-12-03T14:05:00+00:00`, each.
fn shifts_line(evidence: &Evidence) -> String {
    evidence
        .shifts
        .iter()
        .map(|shift| {
            let until = shift
                .expires_at
                .map(|at| format!(" until {}", at.to_rfc3339()))
                .unwrap_or_default();
            let applied = if shift.applied { "" } else { " (not applied)" };
            format!(
                "{} away from {}{applied}{until}",
                shift.shift_type.describe(),
                shift.away_from
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl IncidentView for View {
    fn resource_types(&self) -> &'static [&'static str] {
        &["availability-zone"]
    }

    fn next_steps(&self, state: IncidentState) -> &'static [&'static str] {
        use IncidentState::*;
        match state {
            Open => &[
                "Read above why Rebound has not shifted yet: confirming the impairment, a guard, the tag rebound:managed=true on the load balancer, or MODE=dry-run.",
                "Compare the zone with the others: AWS Health for the zone, the instances' status checks, the subnets' network ACLs and routes.",
            ],
            Remediating => &[
                "Nothing to do yet: the zone's traffic is shifted away (or capacity is being raised first); Rebound ends its own shift once the zone has stayed healthy.",
                "Check that the zones left carry the load: their targets' health, latency and the groups' capacity.",
            ],
            Suppressed => &[
                "Rebound holds action on this zone (Why, above): look at what it waits for first.",
            ],
            Escalated => &[
                "A person is needed: Rebound will not shift (or extend) further (Why, above).",
                "To shift by hand: aws arc-zonal-shift start-zonal-shift --resource-identifier <load balancer ARN> --away-from <zone ID> --expires-in 1h --comment <why>.",
                "To end a shift by hand: aws arc-zonal-shift cancel-zonal-shift --zonal-shift-id <id> (list them with list-zonal-shifts --status ACTIVE).",
                "Check the zone: AWS Health, the instances' status checks, the subnets' network ACLs and routes.",
            ],
            Resolved => &[
                "Nothing to do: the zone's targets are healthy and it takes traffic again.",
                "For the cause, read the timeline and AWS Health's history for the zone.",
            ],
        }
    }

    fn digest(&self, evidence: &domain::Evidence) -> Digest {
        let evidence: Evidence = evidence.read().unwrap_or_default();
        let mut facts = Vec::new();
        if !evidence.zones.is_empty() {
            facts.push(Fact {
                label: "Zones:     ",
                value: zones_line(&evidence),
            });
        }
        if !evidence.shifts.is_empty() {
            facts.push(Fact {
                label: "Shifts:    ",
                value: shifts_line(&evidence),
            });
        }
        let mut related = Vec::new();
        if !evidence.load_balancer.is_empty() {
            related.push(ResourceRef::new(
                LOAD_BALANCER,
                evidence.load_balancer.as_str(),
            ));
        }
        related.extend(
            evidence
                .auto_scaling_groups
                .iter()
                .map(|group| ResourceRef::new(AUTO_SCALING_GROUP, group.as_str())),
        );
        let mut lines: Vec<String> = evidence
            .zones
            .iter()
            .map(|c| {
                let id = if c.zone.as_str() == evidence.zone {
                    evidence
                        .zone_id
                        .as_deref()
                        .map(|id| format!(" ({id})"))
                        .unwrap_or_default()
                } else {
                    String::new()
                };
                format!(
                    "{:<14} {} of {} targets unhealthy{id}",
                    c.zone.as_str(),
                    c.unhealthy,
                    c.targets
                )
            })
            .collect();
        if !evidence.shifts.is_empty() {
            lines.push(format!("shifts: {}", shifts_line(&evidence)));
        }
        lines.extend(
            evidence
                .targets
                .iter()
                .filter(|t| t.state.is_unhealthy())
                .map(|t| {
                    format!(
                        "{:<22} {:<10} {}",
                        t.instance_id.as_str(),
                        state_name(&t.state),
                        t.reason.as_deref().unwrap_or("")
                    )
                }),
        );
        Digest {
            census: (!evidence.targets.is_empty()).then(|| census(&evidence.targets)),
            facts,
            related,
            show: (!lines.is_empty()).then(|| Section {
                heading: "Evidence (zones when last observed)".into(),
                lines,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_advice_that_fits_a_chat_card_and_says_how_to_end_a_shift() {
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
        assert!(View
            .next_steps(IncidentState::Escalated)
            .join(" ")
            .contains("cancel-zonal-shift"));
    }
}
