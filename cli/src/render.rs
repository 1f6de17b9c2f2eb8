//! Human-readable views of incidents for the terminal.

use std::fmt::Write;

use rebound::domain::{ApprovalState, Incident};
use rebound::kinds;
use rebound::readable::{human_duration, short_name};

pub fn incident_table(incidents: &[Incident]) -> String {
    if incidents.is_empty() {
        return "no incidents\n".into();
    }
    let mut out = format!(
        "{:<32} {:<12} {:<21} {:>7} {:>5}  {}\n",
        "ID", "STATE", "OPENED", "TTR(s)", "ACTS", "RESOURCE"
    );
    for incident in incidents {
        // Time to mitigate after the resource: the columns stay as scripts read them.
        let mitigated = incident
            .time_to_mitigate_s
            .map(|s| format!(" (mitigated in {})", human_duration(s)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{:<32} {:<12} {:<21} {:>7} {:>5}  {} {}{mitigated}",
            incident.id,
            incident.state.as_str(),
            incident.opened_at.format("%Y-%m-%d %H:%M:%S"),
            incident
                .time_to_recover_s
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".into()),
            incident.actions.len(),
            incident.resource.kind.as_str(),
            short_name(&incident.resource.id),
        );
    }
    out
}

pub fn incident_detail(incident: &Incident) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Incident  {}", incident.id);
    let _ = writeln!(out, "State     {}", incident.state.as_str());
    let _ = writeln!(
        out,
        "Resource  {} {}",
        incident.resource.kind.as_str(),
        incident.resource.id
    );
    let _ = writeln!(out, "Trigger   {}", incident.trigger);
    let _ = writeln!(out, "Opened    {}", incident.opened_at.to_rfc3339());
    if let Some(mitigated) = incident.mitigated_at {
        let ttm = incident
            .time_to_mitigate_s
            .map(|s| match s {
                ..60 => format!(" (time to mitigate {s} s)"),
                _ => format!(" (time to mitigate {s} s, {})", human_duration(s)),
            })
            .unwrap_or_default();
        let _ = writeln!(out, "Mitigated {}{ttm}", mitigated.to_rfc3339());
    }
    if let Some(by) = &incident.native_healing {
        let _ = writeln!(out, "Healed    {by} (no action by Rebound)");
    }
    if let Some(planned) = &incident.planned {
        let _ = writeln!(out, "Planned   {}", planned.line());
    }
    if let Some(resolved) = incident.resolved_at {
        match incident.time_to_recover_s {
            Some(ttr) => {
                let _ = writeln!(
                    out,
                    "Resolved  {} (time to recover {ttr} s, {})",
                    resolved.to_rfc3339(),
                    human_duration(ttr)
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "Closed    {} (the resource is gone: no time to recover)",
                    resolved.to_rfc3339()
                );
            }
        }
    }
    if let Some(approval) = &incident.approval {
        let status = match approval.state {
            ApprovalState::Requested => format!(
                "awaiting a person's decision (expires {}; rebound incidents approve {id}, or deny {id} --reason TEXT)",
                approval.expires_at.to_rfc3339(),
                id = incident.id,
            ),
            _ => approval.decision_text(),
        };
        let _ = writeln!(out, "Approval  {}: {status}", approval.intent);
    }
    if let Some(ack) = &incident.acknowledged {
        let _ = writeln!(
            out,
            "Acknowledged by {} at {} (its changes no longer page)",
            ack.by,
            ack.at.to_rfc3339()
        );
    }
    // What the evidence says, and what to read first, is the incident's kind's to tell.
    let view = kinds::view_of(incident.resource.kind.as_str());
    let digest = view.digest(&incident.evidence);
    if let Some(section) = &digest.show {
        let _ = writeln!(out, "\n{}", section.heading);
        for line in &section.lines {
            let _ = writeln!(out, "  {line}");
        }
    }
    let highlights = view.highlights(incident);
    if !highlights.is_empty() {
        let _ = writeln!(out, "\nHighlights");
        for line in &highlights {
            let _ = writeln!(out, "  {line}");
        }
    }
    if !incident.actions.is_empty() {
        let _ = writeln!(out, "\nActions");
        for action in &incident.actions {
            let _ = writeln!(
                out,
                "  {} {} {} in {}: {}{}{}",
                action.requested_at.format("%H:%M:%S"),
                action.kind.as_str(),
                short_name(&action.target.id),
                short_name(&action.scope.id),
                action.outcome.as_str(),
                if action.dry_run { " (dry-run)" } else { "" },
                action
                    .detail
                    .as_deref()
                    .map(|d| format!(" — {d}"))
                    .unwrap_or_default(),
            );
        }
    }
    if !incident.captures.is_empty() {
        // Kept outside the record: where to read it (`aws s3 cp <uri> -`), or why not.
        let _ = writeln!(out, "\nEvidence kept");
        for capture in &incident.captures {
            let _ = writeln!(
                out,
                "  {} {}: {}{}",
                capture.captured_at.format("%H:%M:%S"),
                capture.target.id,
                capture.uri.as_deref().unwrap_or("not kept"),
                capture
                    .failed
                    .as_deref()
                    .map(|f| format!(" — {f}"))
                    .unwrap_or_default(),
            );
        }
    }
    let _ = writeln!(out, "\nTimeline");
    for entry in &incident.timeline {
        let _ = writeln!(
            out,
            "  {}  {:<12} {}",
            entry.at.format("%Y-%m-%d %H:%M:%S"),
            entry.event,
            entry.detail
        );
    }
    out
}
