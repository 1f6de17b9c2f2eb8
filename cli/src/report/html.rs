//! The report as one self-contained HTML page: inline CSS, inline SVG charts, no
//! JavaScript and nothing fetched, so it opens from a file, an e-mail attachment or an S3
//! bucket alike. Hovering a bar shows its incident (SVG `<title>`).

use std::fmt::Write;

use chrono::{DateTime, Duration, Utc};
use rebound::domain::IncidentState;
use rebound::readable::human_duration;

use super::{outcome_line, percent, ttr, when, Figures, Recovery, Report, Span, Window};

const WIDTH: f64 = 960.0;
/// Room for the row labels of the timeline and the axis labels of the chart.
const LEFT: f64 = 170.0;
const RIGHT: f64 = 24.0;
const PLOT: f64 = WIDTH - LEFT - RIGHT;
const ROW: f64 = 34.0;
const BAR: f64 = 20.0;
const AXIS: f64 = 26.0;
/// An incident of a few minutes in a month is a fraction of a pixel: drawn this wide.
const MIN_BAR: f64 = 4.0;

const STYLE: &str = r#"
:root { color-scheme: light; }
body { font: 15px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #1f2328; background: #fff; margin: 0; }
main { max-width: 1000px; margin: 0 auto; padding: 28px 20px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #d0d7de; }
p.window { color: #57606a; margin: 0 0 20px; }
p.note, footer { color: #57606a; font-size: 13px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { flex: 1 1 150px; border: 1px solid #d0d7de; border-radius: 8px; padding: 12px 14px; }
.card .figure { display: block; font-size: 24px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .label { color: #57606a; font-size: 13px; }
.card.bad .figure { color: #b42318; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { padding: 6px 8px; border-bottom: 1px solid #eaeef2; text-align: left; white-space: nowrap; }
th { font-weight: 600; color: #57606a; border-bottom: 1px solid #d0d7de; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.all td { font-weight: 600; border-top: 2px solid #d0d7de; }
td.id { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
svg { display: block; width: 100%; height: auto; font-family: inherit; }
svg text { font-size: 12px; fill: #57606a; }
svg text.row { font-size: 13px; fill: #1f2328; }
svg .grid { stroke: #eaeef2; }
svg .axis { stroke: #8c959f; }
svg .row-band { fill: #f6f8fa; }
rect.resolved { fill: #e69f00; }
rect.escalated { fill: #d55e00; }
rect.open { fill: #cc79a7; stroke: #7d2e62; stroke-width: 1; }
rect.ttr { fill: #0072b2; }
line.mean { stroke: #009e73; stroke-width: 1.5; stroke-dasharray: 6 4; }
line.p90 { stroke: #d55e00; stroke-width: 1.5; stroke-dasharray: 2 3; }
text.mean { fill: #007a5a; }
text.p90 { fill: #b34700; }
.legend { display: flex; gap: 18px; font-size: 13px; color: #57606a; margin-top: 6px; flex-wrap: wrap; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
.state { font-size: 12px; padding: 1px 7px; border-radius: 10px; background: #eaeef2; }
.state.open, .state.remediating, .state.suppressed { background: #ffebe9; color: #b42318; }
.state.escalated { background: #fff1e5; color: #b34700; }
.state.awaiting-approval { background: #fff8c5; color: #7d4e00; }
"#;

/// Text for HTML, inside elements and attributes.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub fn html(report: &Report) -> String {
    let w = &report.window;
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Rebound report {} to {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <h1>Rebound availability report</h1>\n<p class=\"window\">{} → {} · {}</p>\n",
        w.from.format("%Y-%m-%d"),
        w.to.format("%Y-%m-%d"),
        esc(&when(w.from)),
        esc(&when(w.to)),
        esc(&human_duration(w.seconds)),
    );
    page.push_str(&cards(&report.all));
    if report.incidents.is_empty() {
        page.push_str("<p>No incident in this window: every resource Rebound watches was available throughout.</p>\n");
    } else {
        page.push_str("<h2>Incidents over the window</h2>\n");
        page.push_str(&timeline(report));
        page.push_str(
            "<div class=\"legend\"><span><i style=\"background:#e69f00\"></i>resolved</span>\
             <span><i style=\"background:#d55e00\"></i>escalated, then resolved</span>\
             <span><i style=\"background:#cc79a7\"></i>still open</span></div>\n",
        );
        page.push_str("<h2>Time to recover</h2>\n");
        page.push_str(&recovery_chart(report));
        page.push_str("<h2>Per resource</h2>\n");
        page.push_str(&resource_table(report));
        page.push_str(&mitigation_table(report));
        page.push_str("<h2>Incidents</h2>\n");
        page.push_str(&incident_table(report));
    }
    page.push_str(
        "<footer><p>Availability is an estimate: 1 − (time with an incident open) / window, per \
         resource; for all resources, the share of the window with no incident open anywhere. An \
         open incident often means degraded (one failing target), not down. Time to recover counts \
         from detection to verified recovery; the 90th percentile is the nearest rank. Refused: \
         times a guard stopped Rebound (holds, escalations, suppressions).</p>\
         <p>Generated by <code>rebound report</code>.</p></footer>\n</main>\n</body>\n</html>\n",
    );
    page
}

fn cards(all: &Figures) -> String {
    let recovery = &all.time_to_recover_s;
    let bad = |yes: bool| if yes { " bad" } else { "" };
    let card = |class: &str, figure: String, label: &str| {
        format!(
            "<div class=\"card{class}\"><span class=\"figure\">{}</span><span class=\"label\">{}</span></div>\n",
            esc(&figure),
            esc(label)
        )
    };
    let mut out = String::from("<section class=\"cards\">\n");
    out.push_str(&card(
        bad(all.availability < 0.999),
        percent(all.availability),
        "availability, all resources",
    ));
    out.push_str(&card(
        "",
        all.incidents.to_string(),
        &format!("incidents ({} still open)", all.open),
    ));
    out.push_str(&card(
        bad(all.escalated > 0),
        all.escalated.to_string(),
        "escalated to a person",
    ));
    if all.awaiting_approval > 0 {
        out.push_str(&card(
            " bad",
            all.awaiting_approval.to_string(),
            "awaiting a person's approval",
        ));
    }
    out.push_str(&card(
        "",
        ttr(recovery.mean),
        &format!("mean time to recover ({} recoveries)", recovery.samples),
    ));
    out.push_str(&card(
        "",
        ttr(recovery.p90.map(|s| s as f64)),
        "time to recover, 90th percentile",
    ));
    out.push_str("</section>\n");
    out
}

fn x_of(at: DateTime<Utc>, w: &Window) -> f64 {
    LEFT + (at - w.from).num_seconds() as f64 / w.seconds as f64 * PLOT
}

/// Tick spacing for the time axis: the smallest of a few round steps that gives at most
/// ten ticks.
fn tick_step(window_s: i64) -> Duration {
    const STEPS: [i64; 10] = [
        600,
        1_800,
        3_600,
        3 * 3_600,
        6 * 3_600,
        12 * 3_600,
        86_400,
        2 * 86_400,
        7 * 86_400,
        14 * 86_400,
    ];
    let step = STEPS
        .iter()
        .copied()
        .find(|step| window_s / step <= 10)
        .unwrap_or(30 * 86_400);
    Duration::seconds(step)
}

fn timeline(report: &Report) -> String {
    let w = &report.window;
    let rows = report.resources.len();
    let height = AXIS + rows as f64 * ROW + 6.0;
    let mut svg = format!(
        "<svg id=\"timeline\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"Incidents per resource over the window\">\n"
    );
    // Row bands and labels.
    for (row, resource) in report.resources.iter().enumerate() {
        let top = AXIS + row as f64 * ROW;
        if row % 2 == 0 {
            let _ = writeln!(
                svg,
                "<rect class=\"row-band\" x=\"{LEFT}\" y=\"{top}\" width=\"{PLOT}\" height=\"{ROW}\"/>"
            );
        }
        let _ = writeln!(
            svg,
            "<text class=\"row\" x=\"{}\" y=\"{}\" text-anchor=\"end\"><title>{}</title>{}</text>",
            LEFT - 10.0,
            top + ROW / 2.0 + 4.0,
            esc(&resource.resource.id),
            esc(&row_label(resource.resource.kind.as_str(), &resource.name)),
        );
    }
    // Time axis: gridlines and labels at round steps.
    let step = tick_step(w.seconds);
    let step_s = step.num_seconds();
    let first = w.from.timestamp().div_euclid(step_s) * step_s + step_s;
    let mut tick = DateTime::from_timestamp(first, 0).unwrap_or(w.from);
    while tick < w.to {
        let x = x_of(tick, w);
        let label = if step_s >= 86_400 {
            tick.format("%b %d").to_string()
        } else {
            tick.format("%d %H:%M").to_string()
        };
        let _ = writeln!(
            svg,
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{AXIS}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            height - 6.0,
            AXIS - 9.0,
            esc(&label)
        );
        tick += step;
    }
    let _ = writeln!(
        svg,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{AXIS}\" x2=\"{:.1}\" y2=\"{AXIS}\"/>",
        LEFT + PLOT
    );
    // One bar per incident, in its resource's row.
    for span in &report.incidents {
        let Some(row) = report
            .resources
            .iter()
            .position(|r| r.resource == span.resource)
        else {
            continue;
        };
        // At least MIN_BAR wide, and inside the plot: an incident in its last minutes is
        // drawn ending at the right edge, not cut off by it.
        let width = (x_of(span.end(w), w) - x_of(span.start(w), w)).max(MIN_BAR);
        let x = x_of(span.start(w), w).min(LEFT + PLOT - width);
        let y = AXIS + row as f64 * ROW + (ROW - BAR) / 2.0;
        let _ = writeln!(
            svg,
            "<rect class=\"incident {}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{BAR}\" rx=\"2\"><title>{}</title></rect>",
            bar_class(span),
            esc(&describe(span)),
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn bar_class(span: &Span) -> &'static str {
    if span.resolved_at.is_none() {
        "open"
    } else if span.escalated {
        "escalated"
    } else {
        "resolved"
    }
}

fn describe(span: &Span) -> String {
    let outcome = match (span.resolved_at, span.time_to_recover_s) {
        (Some(_), Some(ttr)) => format!("recovered in {}", human_duration(ttr)),
        (Some(at), None) => format!("closed {} (resource gone)", when(at)),
        (None, _) => format!("still {}", span.state.as_str()),
    };
    let escalated = if span.escalated { ", escalated" } else { "" };
    let mitigated = span
        .time_to_mitigate_s
        .map(|ttm| format!(" · mitigated in {}", human_duration(ttm)))
        .unwrap_or_default();
    format!(
        "{} · {} · opened {}{mitigated} · {outcome}{escalated}",
        span.name,
        span.id,
        when(span.opened_at)
    )
}

/// Row labels are right-aligned in the room left of the plot: one too long for it (a
/// zone of a load balancer) is its name alone, the full id in its tooltip.
const MAX_ROW_LABEL: usize = 30;

fn row_label(kind: &str, name: &str) -> String {
    let label = format!("{} {name}", kind_label(kind));
    if label.chars().count() > MAX_ROW_LABEL {
        name.to_owned()
    } else {
        label
    }
}

fn kind_label(kind: &str) -> String {
    kind.replace('-', " ")
}

/// Round steps for a time axis, in seconds.
fn value_step(max_s: f64) -> f64 {
    const STEPS: [f64; 16] = [
        5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1_800.0, 3_600.0, 7_200.0, 14_400.0,
        21_600.0, 43_200.0, 86_400.0, 172_800.0,
    ];
    STEPS
        .iter()
        .copied()
        .find(|step| max_s / step <= 5.0)
        .unwrap_or(604_800.0)
}

fn recovery_chart(report: &Report) -> String {
    let recovered: Vec<(&Span, i64)> = report
        .incidents
        .iter()
        .filter_map(|s| s.time_to_recover_s.map(|ttr| (s, ttr)))
        .collect();
    if recovered.is_empty() {
        return "<p>No incident recovered in this window.</p>\n".to_owned();
    }
    let figures = &report.all.time_to_recover_s;
    let labelled = recovered.len() <= 16;
    let plot_h = 220.0;
    let top = 14.0;
    let bottom = if labelled { 40.0 } else { 12.0 };
    let height = top + plot_h + bottom;
    let max = recovered.iter().map(|(_, t)| *t as f64).fold(1.0, f64::max);
    let step = value_step(max);
    let scale_max = (max / step).ceil() * step;
    let y_of = |seconds: f64| top + plot_h - seconds / scale_max * plot_h;
    let mut svg = format!(
        "<svg id=\"ttr-chart\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"Time to recover of each recovered incident\">\n"
    );
    let mut value = 0.0;
    while value <= scale_max + 0.5 {
        let y = y_of(value);
        let _ = writeln!(
            svg,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT + PLOT,
            LEFT - 10.0,
            y + 4.0,
            esc(&human_duration(value as i64))
        );
        value += step;
    }
    let slot = PLOT / recovered.len() as f64;
    let bar = (slot * 0.7).clamp(2.0, 48.0);
    for (n, (span, seconds)) in recovered.iter().enumerate() {
        let x = LEFT + n as f64 * slot + (slot - bar) / 2.0;
        let y = y_of(*seconds as f64);
        let _ = writeln!(
            svg,
            "<rect class=\"ttr\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{:.1}\"><title>{}</title></rect>",
            (top + plot_h - y).max(1.0),
            esc(&describe(span)),
        );
        if labelled {
            let centre = x + bar / 2.0;
            let _ = writeln!(
                svg,
                "<text x=\"{centre:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
                 <text x=\"{centre:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                top + plot_h + 16.0,
                esc(&span.name),
                top + plot_h + 31.0,
                esc(&span.opened_at.format("%b %d").to_string()),
            );
        }
    }
    for (class, label, seconds) in [
        ("mean", "mean", figures.mean),
        ("p90", "p90", figures.p90.map(|s| s as f64)),
    ] {
        let Some(seconds) = seconds else { continue };
        let y = y_of(seconds);
        let _ = writeln!(
            svg,
            "<line class=\"{class}\" x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>\
             <text class=\"{class}\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{label} {}</text>",
            LEFT + PLOT,
            LEFT + PLOT,
            y - 5.0,
            esc(&human_duration(seconds.round() as i64)),
        );
    }
    let _ = writeln!(
        svg,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>",
        top + plot_h,
        LEFT + PLOT,
        top + plot_h
    );
    svg.push_str("</svg>\n");
    svg.push_str(
        "<p class=\"note\">One bar per incident that recovered, oldest first; dashed lines: \
         mean and 90th percentile over all resources.</p>\n",
    );
    svg
}

fn resource_table(report: &Report) -> String {
    let mut out = String::from(
        "<table id=\"resources\">\n<thead><tr><th>Resource</th><th class=\"n\">Incidents</th>\
         <th class=\"n\">Open</th><th class=\"n\">Escalated</th><th class=\"n\">TTR mean</th>\
         <th class=\"n\">TTR p90</th><th class=\"n\">Actions</th><th class=\"n\">Failed</th>\
         <th class=\"n\">Dry-run</th><th class=\"n\">Refused</th><th class=\"n\">Downtime</th>\
         <th class=\"n\">Availability</th></tr></thead>\n<tbody>\n",
    );
    for resource in &report.resources {
        out.push_str(&figures_row(
            "",
            &format!(
                "<span title=\"{}\">{} {}</span>",
                esc(&resource.resource.id),
                esc(&kind_label(resource.resource.kind.as_str())),
                esc(&resource.name)
            ),
            &resource.figures,
        ));
    }
    out.push_str(&figures_row(" class=\"all\"", "All resources", &report.all));
    out.push_str("</tbody>\n</table>\n");
    out
}

fn figures_row(class: &str, label: &str, f: &Figures) -> String {
    let n = |value: String| format!("<td class=\"n\">{}</td>", esc(&value));
    format!(
        "<tr{class}><td>{label}</td>{}{}{}{}{}{}{}{}{}{}{}</tr>\n",
        n(f.incidents.to_string()),
        n(f.open.to_string()),
        n(f.escalated.to_string()),
        n(ttr(f.time_to_recover_s.mean)),
        n(ttr(f.time_to_recover_s.p90.map(|s| s as f64))),
        n(f.actions.taken.to_string()),
        n(f.actions.failed.to_string()),
        n(f.actions.simulated.to_string()),
        n(f.actions.refused.to_string()),
        n(human_duration(f.downtime_s)),
        n(percent(f.availability)),
    )
}

fn incident_table(report: &Report) -> String {
    let mut out = String::from(
        "<table id=\"incidents\">\n<thead><tr><th>Incident</th><th>Resource</th><th>State</th>\
         <th>Opened</th><th class=\"n\">In window</th><th class=\"n\">Time to recover</th></tr></thead>\n<tbody>\n",
    );
    for span in report.incidents.iter().rev() {
        let state = span.state.as_str();
        let escalated = if span.escalated && span.state != IncidentState::Escalated {
            " <span class=\"state escalated\">was escalated</span>"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "<tr><td class=\"id\">{}</td><td title=\"{}\">{}</td><td><span class=\"state {state}\">{state}</span>{escalated}</td>\
             <td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(span.id.as_str()),
            esc(&span.resource.id),
            esc(&span.name),
            esc(&when(span.opened_at)),
            esc(&human_duration(span.in_window_s)),
            esc(&match (span.resolved_at, span.time_to_recover_s) {
                (Some(_), None) => "- (resource gone)".to_owned(),
                (_, ttr_s) => ttr(ttr_s.map(|s| s as f64)),
            }),
        );
        // The mitigation and what the incident's kind says to read first, under it.
        let notes: Vec<String> = outcome_line(span)
            .into_iter()
            .chain(
                span.native_healing
                    .as_ref()
                    .map(|by| format!("{by}: no action by Rebound")),
            )
            .chain(span.planned.clone())
            .chain(span.approval.clone())
            .chain(span.highlights.iter().cloned())
            .collect();
        if !notes.is_empty() {
            let _ = writeln!(
                out,
                "<tr class=\"highlights\"><td></td><td colspan=\"5\" style=\"white-space: normal; color: #57606a; font-size: 13px\">{}</td></tr>",
                notes.iter().map(|n| esc(n)).collect::<Vec<_>>().join("<br>")
            );
        }
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

/// Time to mitigate per resource, when some incident of the window was mitigated.
fn mitigation_table(report: &Report) -> String {
    let Some(all) = &report.all.time_to_mitigate_s else {
        return String::new();
    };
    let row = |class: &str, label: &str, m: &Recovery| {
        let n = |value: String| format!("<td class=\"n\">{}</td>", esc(&value));
        format!(
            "<tr{class}><td>{label}</td>{}{}{}{}</tr>\n",
            n(m.samples.to_string()),
            n(ttr(m.mean)),
            n(ttr(m.p90.map(|s| s as f64))),
            n(ttr(m.max.map(|s| s as f64))),
        )
    };
    let mut out = String::from(
        "<h2>Time to mitigate</h2>\n<table id=\"mitigation\">\n<thead><tr><th>Resource</th>\
         <th class=\"n\">Mitigated</th><th class=\"n\">TTM mean</th><th class=\"n\">TTM p90</th>\
         <th class=\"n\">TTM max</th></tr></thead>\n<tbody>\n",
    );
    for resource in &report.resources {
        let Some(m) = &resource.figures.time_to_mitigate_s else {
            continue;
        };
        out.push_str(&row(
            "",
            &format!(
                "<span title=\"{}\">{} {}</span>",
                esc(&resource.resource.id),
                esc(&kind_label(resource.resource.kind.as_str())),
                esc(&resource.name)
            ),
            m,
        ));
    }
    out.push_str(&row(" class=\"all\"", "All resources", all));
    out.push_str(
        "</tbody>\n</table>\n<p class=\"note\">Time to mitigate: from detection to the end of the \
         impact (a zone's traffic shifted away, say), before the resource itself recovered.</p>\n",
    );
    out
}
