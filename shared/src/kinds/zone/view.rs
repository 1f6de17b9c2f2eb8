//! How a zone's incidents read: the zone and its load balancer, the zones counted, the
//! zone's failing targets, the shifts in effect with who they move, their zone and
//! expiry, the load balancer and groups linked, the shifts Rebound started, extended and
//! ended, and what to check next.

use chrono::{DateTime, Utc};

use super::observation::{ShiftType, ZoneShift};
use super::Evidence;
use super::{
    CANCEL_ZONAL_SHIFT, EXTEND_ZONAL_SHIFT, LOAD_BALANCER, RAISE_CAPACITY, START_ZONAL_SHIFT,
};
use crate::domain::{self, ActionOutcome, IncidentRecord, IncidentState, ResourceRef};
use crate::kinds::target_group::view::{census, state_name};
use crate::kinds::target_group::AUTO_SCALING_GROUP;
use crate::readable::short_name;
use crate::view::{Census, Console, Digest, Fact, IncidentView, KindInfo, Section, TypeInfo};

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

/// `us-east-1b (use1-az2)`: the zone by the name people know and the ID zonal shift
/// names it by.
fn zone_named(evidence: &Evidence, fallback: &str) -> String {
    let zone = if evidence.zone.is_empty() {
        fallback
    } else {
        evidence.zone.as_str()
    };
    match evidence.zone_id.as_deref() {
        Some(id) => format!("{zone} ({id})"),
        None => zone.to_owned(),
    }
}

/// What a shift moves: `load balancer web-alb`, `group web-asg`.
fn shifted_resource(arn: &str) -> String {
    let name = short_name(arn);
    if arn.contains(":elasticloadbalancing:") {
        format!("load balancer {name}")
    } else if arn.contains(":autoscaling:") {
        format!("group {name}")
    } else {
        name.into_owned()
    }
}

/// `us-east-1b (use1-az2)` for the incident's own zone, the bare zone ID for another.
fn away_from(shift: &ZoneShift, evidence: &Evidence) -> String {
    if evidence.zone_id.as_deref() == Some(shift.away_from.as_str()) && !evidence.zone.is_empty() {
        zone_named(evidence, "")
    } else {
        shift.away_from.to_string()
    }
}

/// Whose shift it is: Rebound's own carry its comment (`Rebound <incident>: …`).
fn whose(shift: &ZoneShift) -> String {
    match &shift.shift_type {
        ShiftType::ZonalShift if shift.comment.starts_with("Rebound ") => {
            "Rebound's zonal shift".to_owned()
        }
        ShiftType::ZonalShift => "a zonal shift not Rebound's".to_owned(),
        other => other.describe().to_owned(),
    }
}

fn until(at: Option<DateTime<Utc>>) -> String {
    at.map(|at| format!(" until {}", at.format("%Y-%m-%d %H:%M:%S UTC")))
        .unwrap_or_default()
}

/// `load balancer web-alb and group web-asg away from us-east-1b (use1-az2) until
/// 2026-11-26 11:21:16 UTC (Rebound's zonal shift)`: shifts that differ only in what they
/// move read as one.
fn shifts_line(evidence: &Evidence) -> String {
    let mut groups: Vec<(Vec<String>, String)> = Vec::new();
    for shift in &evidence.shifts {
        let applied = if shift.applied {
            ""
        } else {
            ", not applied: another shift takes precedence"
        };
        let rest = format!(
            "away from {}{} ({}{applied})",
            away_from(shift, evidence),
            until(shift.expires_at),
            whose(shift)
        );
        let what = shifted_resource(&shift.resource);
        match groups.last_mut() {
            Some((resources, last)) if *last == rest => resources.push(what),
            _ => groups.push((vec![what], rest)),
        }
    }
    groups
        .into_iter()
        .map(|(resources, rest)| format!("{} {rest}", resources.join(" and ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// One action as people read it: what it did to the zone's traffic, or would have.
fn highlight(outcome: ActionOutcome, done: String, would: String, what: String) -> String {
    match outcome {
        ActionOutcome::Succeeded => done,
        ActionOutcome::Simulated => format!("{would}: dry-run, no call made"),
        ActionOutcome::Pending => format!("{what} asked for, outcome not recorded yet"),
        ActionOutcome::Failed => format!("{what} failed"),
        ActionOutcome::Refused => format!("{what} refused by a guard"),
    }
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
            AwaitingApproval => crate::view::AWAITING_APPROVAL_STEPS,
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
        if !evidence.zone.is_empty() {
            let behind = if evidence.load_balancer.is_empty() {
                String::new()
            } else {
                format!(
                    " behind load balancer {}",
                    short_name(&evidence.load_balancer)
                )
            };
            facts.push(Fact {
                label: "Zone:      ",
                value: format!("{}{behind}", zone_named(&evidence, "")),
            });
        }
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
        // Each zone counted, the incident's own with its zone ID (what zonal shift and
        // the commands to shift by hand name it by).
        let names: Vec<String> = evidence
            .zones
            .iter()
            .map(|c| {
                if c.zone.as_str() == evidence.zone {
                    zone_named(&evidence, "")
                } else {
                    c.zone.to_string()
                }
            })
            .collect();
        let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
        let mut lines: Vec<String> = evidence
            .zones
            .iter()
            .zip(&names)
            .map(|(c, name)| {
                format!(
                    "{name:<width$}  {} of {} targets unhealthy",
                    c.unhealthy, c.targets
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
            // The zone's own targets, not the load balancer's.
            census: (!evidence.targets.is_empty()).then(|| Census {
                noun: ("target in the zone", "targets in the zone"),
                ..census(&evidence.targets)
            }),
            facts,
            related,
            show: (!lines.is_empty()).then(|| Section {
                heading: "Evidence (zones when last observed)".into(),
                lines,
            }),
        }
    }

    /// The shifts Rebound started, extended and ended (and the capacity it raised
    /// first), from the actions: "10:21:16 traffic shifted away from us-east-1b
    /// (use1-az2)", "10:52:30 shift extended by 60 min", "11:36:40 shift ended".
    fn highlights(&self, incident: &IncidentRecord) -> Vec<String> {
        let evidence: Evidence = incident.evidence.read().unwrap_or_default();
        let fallback = incident
            .resource
            .id
            .rsplit_once('#')
            .map_or("the zone", |(_, zone)| zone);
        let zone = zone_named(&evidence, fallback);
        incident
            .actions
            .iter()
            .filter_map(|action| {
                let line = if action.kind == START_ZONAL_SHIFT {
                    highlight(
                        action.outcome,
                        format!("traffic shifted away from {zone}"),
                        format!("would shift traffic away from {zone}"),
                        format!("shift away from {zone}"),
                    )
                } else if action.kind == EXTEND_ZONAL_SHIFT {
                    // The kind's own detail says by how long: `… extended by 60 min`.
                    let by = action
                        .detail
                        .as_deref()
                        .and_then(|d| d.rsplit_once("extended by "))
                        .map(|(_, by)| format!(" by {by}"))
                        .unwrap_or_default();
                    highlight(
                        action.outcome,
                        format!("shift extended{by}"),
                        "would extend the shift".to_owned(),
                        "shift extension".to_owned(),
                    )
                } else if action.kind == CANCEL_ZONAL_SHIFT {
                    highlight(
                        action.outcome,
                        "shift ended".to_owned(),
                        "would end the shift".to_owned(),
                        "ending the shift".to_owned(),
                    )
                } else if action.kind == RAISE_CAPACITY {
                    let group = short_name(&action.target.id);
                    highlight(
                        action.outcome,
                        format!("desired capacity of group {group} raised"),
                        format!("would raise the desired capacity of group {group}"),
                        format!("raising the desired capacity of group {group}"),
                    )
                } else {
                    return None;
                };
                // The time alone on the day the incident opened, with its date after.
                let at = if action.requested_at.date_naive() == incident.opened_at.date_naive() {
                    action.requested_at.format("%H:%M:%S")
                } else {
                    action.requested_at.format("%Y-%m-%d %H:%M:%S")
                };
                Some(format!("{at} {line}"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::domain::Incident;

    const LB: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web-alb/50dc6c495c0c9188";
    const GROUP: &str = "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:6f1e2d3c:autoScalingGroupName/web-asg";

    fn evidence(shifts: Value) -> Value {
        json!({
            "load_balancer": LB, "zone": "us-east-1b", "zone_id": "use1-az2",
            "zones": [
                {"zone": "us-east-1a", "targets": 2, "unhealthy": 0},
                {"zone": "us-east-1b", "targets": 2, "unhealthy": 2}
            ],
            "targets": [], "auto_scaling_groups": ["web-asg"], "shifts": shifts
        })
    }

    fn shift(resource: &str, shift_type: &str, comment: &str) -> Value {
        json!({
            "id": "0b9e7c3a", "resource": resource, "away_from": "use1-az2",
            "shift_type": shift_type, "started_at": "2026-11-26T10:21:16Z",
            "expires_at": "2026-11-26T11:21:16Z", "comment": comment, "applied": true
        })
    }

    fn action(kind: &str, at: &str, outcome: &str, detail: Option<&str>) -> Value {
        let zone = format!("{LB}#us-east-1b");
        json!({
            "kind": kind,
            "target": {"type": "availability-zone", "id": zone},
            "scope": {"type": "availability-zone", "id": zone},
            "requested_at": at, "outcome": outcome, "dry_run": outcome == "simulated",
            "detail": detail
        })
    }

    fn incident(actions: Value) -> Incident {
        serde_json::from_value(json!({
            "id": "inc-20261126T102014Z-bacf5cbe",
            "resource": {"type": "availability-zone", "id": format!("{LB}#us-east-1b")},
            "state": "resolved",
            "opened_at": "2026-11-26T10:20:14Z", "updated_at": "2026-11-27T00:10:00Z",
            "trigger": "sweep", "evidence": evidence(json!([])), "actions": actions
        }))
        .unwrap()
    }

    fn facts(evidence: Value) -> Vec<(String, String)> {
        let evidence: domain::Evidence = serde_json::from_value(evidence).unwrap();
        View.digest(&evidence)
            .facts
            .into_iter()
            .map(|f| (f.label.trim().to_owned(), f.value))
            .collect()
    }

    #[test]
    fn the_shifts_rebound_started_extended_and_ended_read_with_their_zone() {
        let incident = incident(json!([
            action(
                "start-zonal-shift",
                "2026-11-26T10:21:16Z",
                "succeeded",
                Some("load balancer shifted away")
            ),
            action(
                "extend-zonal-shift",
                "2026-11-26T10:52:30Z",
                "succeeded",
                Some("2 shift(s) away from us-east-1b extended by 60 min")
            ),
            action(
                "cancel-zonal-shift",
                "2026-11-27T00:05:03Z",
                "succeeded",
                Some("2 shift(s) away from us-east-1b cancelled")
            ),
        ]));
        assert_eq!(
            View.highlights(&incident),
            [
                "10:21:16 traffic shifted away from us-east-1b (use1-az2)",
                "10:52:30 shift extended by 60 min",
                // Another day than the incident opened: with its date.
                "2026-11-27 00:05:03 shift ended",
            ]
        );
    }

    #[test]
    fn a_dry_run_says_what_it_would_have_done_and_a_failure_that_it_failed() {
        let incident = incident(json!([
            action(
                "start-zonal-shift",
                "2026-11-26T10:21:16Z",
                "simulated",
                Some("dry-run: no call made")
            ),
            action(
                "extend-zonal-shift",
                "2026-11-26T10:52:30Z",
                "failed",
                Some("ConflictException")
            ),
        ]));
        assert_eq!(
            View.highlights(&incident),
            [
                "10:21:16 would shift traffic away from us-east-1b (use1-az2): dry-run, no call made",
                "10:52:30 shift extension failed",
            ]
        );
    }

    #[test]
    fn shifts_that_differ_only_in_what_they_move_read_as_one_with_their_zone_and_expiry() {
        let rebound = "Rebound inc-20261126T102014Z-bacf5cbe: us-east-1b impaired";
        let facts = facts(evidence(json!([
            shift(LB, "ZONAL_SHIFT", rebound),
            shift(GROUP, "ZONAL_SHIFT", rebound),
        ])));
        assert_eq!(
            facts,
            [
                ("Zone:".to_owned(), "us-east-1b (use1-az2) behind load balancer web-alb".to_owned()),
                ("Zones:".to_owned(), "us-east-1a 0/2 unhealthy, us-east-1b 2/2 unhealthy".to_owned()),
                ("Shifts:".to_owned(), "load balancer web-alb and group web-asg away from us-east-1b (use1-az2) until 2026-11-26 11:21:16 UTC (Rebound's zonal shift)".to_owned()),
            ]
        );
    }

    #[test]
    fn a_shift_someone_else_started_says_whose_it_is() {
        let facts = facts(evidence(json!([
            shift(LB, "ZONAL_AUTOSHIFT", ""),
            shift(GROUP, "ZONAL_SHIFT", "maintenance"),
        ])));
        assert_eq!(
            facts[2].1,
            "load balancer web-alb away from us-east-1b (use1-az2) until 2026-11-26 11:21:16 UTC (zonal autoshift); group web-asg away from us-east-1b (use1-az2) until 2026-11-26 11:21:16 UTC (a zonal shift not Rebound's)"
        );
    }

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
