//! The report from a fixture month: three target groups, eight incidents (one before
//! the window, one spanning its start, one still open at its end, one escalated, one in
//! dry-run, one closed because its target group was deleted).

use chrono::Duration;

use super::fixture::{incidents, now, window_start};
use super::*;

fn report() -> Report {
    build(&incidents(), window_start(), now())
}

fn resource<'a>(report: &'a Report, name: &str) -> &'a ResourceFigures {
    report
        .resources
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no {name} in {:?}", report.resources))
}

#[test]
fn the_window_holds_incidents_open_at_some_time_in_it() {
    let report = report();
    assert_eq!(report.window.seconds, 30 * 86_400);
    // Eight in the fixture; the one resolved a month ago is outside.
    assert_eq!(report.incidents.len(), 7);
    assert_eq!(report.all.incidents, 7);
    assert_eq!(report.all.open, 1);
    let opened: Vec<_> = report.incidents.iter().map(|s| s.opened_at).collect();
    assert!(opened.windows(2).all(|w| w[0] <= w[1]), "oldest first");
}

#[test]
fn per_resource_figures_count_incidents_recoveries_and_actions() {
    let report = report();
    let web = &resource(&report, "web").figures;
    assert_eq!(web.incidents, 4);
    assert_eq!(web.open, 1);
    assert_eq!(web.escalated, 1);
    assert_eq!(web.time_to_recover_s.samples, 3);
    assert_eq!(
        web.time_to_recover_s.mean,
        Some((5_400.0 + 184.0 + 120.0) / 3.0)
    );
    assert_eq!(web.time_to_recover_s.p90, Some(5_400));
    assert_eq!(
        web.actions,
        Actions {
            taken: 4,
            failed: 0,
            simulated: 0,
            refused: 2
        }
    );

    let checkout = &resource(&report, "checkout").figures;
    assert_eq!(checkout.incidents, 2);
    assert_eq!(
        checkout.actions.simulated, 1,
        "dry-run is not an action taken"
    );
    assert_eq!(checkout.actions.taken, 0);
    assert_eq!(
        checkout.time_to_recover_s.samples, 1,
        "a target group deleted is not a recovery"
    );
}

#[test]
fn downtime_is_cut_to_the_window_and_an_open_incident_counts_until_its_end() {
    let report = report();
    // 30 min of the incident spanning the window's start, 184 s, 120 s, and 30 min of
    // the one still open.
    assert_eq!(
        resource(&report, "web").figures.downtime_s,
        1_800 + 184 + 120 + 1_800
    );
    assert_eq!(resource(&report, "api").figures.downtime_s, 3_600);
    assert_eq!(resource(&report, "checkout").figures.downtime_s, 600 + 300);
    assert_eq!(report.all.downtime_s, 3_904 + 3_600 + 900);
}

#[test]
fn availability_is_one_minus_downtime_over_the_window_worst_first() {
    let report = report();
    let names: Vec<&str> = report.resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["web", "api", "checkout"]);
    let web = resource(&report, "web").figures.availability;
    assert!((web - (1.0 - 3_904.0 / 2_592_000.0)).abs() < 1e-12);
    assert_eq!(percent(web), "99.849 %");
    assert_eq!(
        percent(resource(&report, "api").figures.availability),
        "99.861 %"
    );
    assert_eq!(percent(report.all.availability), "99.675 %");
}

#[test]
fn planned_work_is_an_incident_but_not_downtime() {
    let mut incidents = incidents();
    let planned = incidents
        .iter()
        .find(|i| i.time_to_recover_s == Some(184))
        .unwrap()
        .clone()
        .stored_with(|record| {
            record.resource.id = record.resource.id.replace("/web/", "/batch/");
            record.trigger = "health:AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED".into();
            record.planned = Some(rebound::domain::PlannedWork {
                event: "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED".into(),
                starts_at: None,
                detail: "i-1 to be replaced ahead of it".into(),
            });
        });
    incidents.push(planned);
    let report = build(&incidents, window_start(), now());
    let batch = &resource(&report, "batch").figures;
    assert_eq!(batch.incidents, 1);
    assert_eq!(batch.downtime_s, 0);
    assert_eq!(report.all.downtime_s, 3_904 + 3_600 + 900);
}

#[test]
fn overlapping_incidents_count_their_downtime_once() {
    let mut incidents = incidents();
    let copy = incidents
        .iter()
        .find(|i| i.time_to_recover_s == Some(184))
        .unwrap()
        .clone();
    let copy = copy.stored_with(|record| {
        record.resource.id = record.resource.id.replace("/web/", "/web-https/");
        record.opened_at += Duration::seconds(84);
    });
    incidents.push(copy);
    let report = build(&incidents, window_start(), now());
    assert_eq!(
        report.all.downtime_s,
        3_904 + 3_600 + 900,
        "inside the web incident"
    );
}

#[test]
fn percentiles_take_the_nearest_rank() {
    assert_eq!(percentile(&[], 90), None);
    assert_eq!(percentile(&[7], 90), Some(7));
    let ten: Vec<i64> = (1..=10).collect();
    assert_eq!(percentile(&ten, 90), Some(9));
    let eleven: Vec<i64> = (1..=11).collect();
    assert_eq!(percentile(&eleven, 90), Some(10));
}

#[test]
fn a_loss_is_never_rounded_up_to_a_hundred_percent() {
    assert_eq!(percent(1.0), "100 %");
    assert_eq!(percent(0.999_999_9), "99.999 %");
    assert_eq!(percent(0.5), "50.000 %");
}

#[test]
fn the_text_table_has_a_row_per_resource_and_one_for_all() {
    let text = text(&report());
    assert!(
        text.starts_with("Rebound report 2026-10-27 12:00 UTC → 2026-11-26 12:00 UTC (30 d)\n"),
        "{text}"
    );
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("target-group ") || l.starts_with("all resources"))
        .collect();
    assert_eq!(rows.len(), 4, "{text}");
    assert!(rows[0].starts_with("target-group web "), "{text}");
    assert!(rows[0].ends_with("99.849 %"), "{text}");
    assert!(rows[0].contains("1 h 30 min"), "p90 of web: {text}");
    assert!(rows[3].ends_with("99.675 %"), "{text}");
}

#[test]
fn an_empty_window_says_so() {
    let report = build(&[], window_start(), now());
    assert!(text(&report).contains("No incident in this window"));
    assert_eq!(report.all.availability, 1.0);
    assert!(html(&report).contains("No incident in this window"));
}

#[test]
fn the_json_has_the_window_the_figures_per_resource_and_the_incidents() {
    let json = serde_json::to_value(report()).unwrap();
    assert_eq!(json["window"]["seconds"], 2_592_000);
    assert_eq!(json["all"]["incidents"], 7);
    let web = &json["resources"][0];
    assert_eq!(web["name"], "web");
    assert_eq!(web["resource"]["type"], "target-group");
    assert_eq!(web["time_to_recover_s"]["p90"], 5_400);
    assert_eq!(web["actions"]["taken"], 4);
    assert_eq!(json["incidents"].as_array().unwrap().len(), 7);
}

// The HTML page.

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[test]
fn the_page_is_self_contained_and_needs_no_javascript() {
    let page = html(&report());
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<style>"));
    for absent in [
        "<script",
        "javascript:",
        "src=\"http",
        "href=\"http",
        "<link",
        "@import",
    ] {
        assert!(!page.contains(absent), "{absent}");
    }
}

#[test]
fn the_timeline_draws_one_bar_per_incident_in_its_resource_row() {
    let page = html(&report());
    assert_eq!(count(&page, "<svg id=\"timeline\""), 1);
    assert_eq!(count(&page, "<rect class=\"incident "), 7);
    assert_eq!(count(&page, "<rect class=\"incident open\""), 1);
    assert_eq!(count(&page, "<rect class=\"incident escalated\""), 2);
    assert_eq!(count(&page, "<rect class=\"incident resolved\""), 4);
    for row in [
        "target group web",
        "target group api",
        "target group checkout",
    ] {
        assert!(page.contains(&format!(">{row}</text>")), "{row}");
    }
    assert!(page.contains(
        "<title>web · inc-20261103T080000Z-3f9a1c02 · opened 2026-11-03 08:00 UTC · recovered in 3 min 4 s</title>"
    ));
    // Weekly ticks over a month.
    assert!(page.contains(">Nov 05</text>"), "ticks");
}

#[test]
fn the_time_to_recover_chart_has_a_bar_per_recovery_and_its_mean_and_p90() {
    let page = html(&report());
    assert_eq!(count(&page, "<svg id=\"ttr-chart\""), 1);
    assert_eq!(count(&page, "<rect class=\"ttr\""), 5);
    assert!(
        page.contains(">mean 33 min 1 s</text>"),
        "mean of 120, 184, 600, 3600, 5400 s"
    );
    assert!(page.contains(">p90 1 h 30 min</text>"));
    assert_eq!(count(&page, "<line class=\"mean\""), 1);
    assert_eq!(count(&page, "<line class=\"p90\""), 1);
}

#[test]
fn the_page_shows_the_figures_of_each_resource_and_of_all() {
    let page = html(&report());
    assert!(page.contains("<span class=\"figure\">99.675 %</span>"));
    assert!(page.contains(
        "<span class=\"figure\">7</span><span class=\"label\">incidents (1 still open)</span>"
    ));
    let table = &page[page.find("<table id=\"resources\">").unwrap()..];
    let rows: Vec<&str> = table.split("<tr").skip(2).take(4).collect();
    assert!(rows[0].contains(">target group web</span>") && rows[0].contains("99.849 %"));
    assert!(rows[1].contains(">target group api</span>") && rows[1].contains("99.861 %"));
    assert!(rows[3].contains("All resources") && rows[3].contains("99.675 %"));
    assert_eq!(count(&page, "<td class=\"id\">inc-"), 7);
}

#[test]
fn names_from_the_table_cannot_inject_markup() {
    let mut incidents = incidents();
    incidents[0] = incidents[0].clone().stored_with(|record| {
        record.resource.id =
            "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/<script>alert(1)</script>/x"
                .into()
    });
    let page = html(&build(&incidents, window_start(), now()));
    assert!(!page.contains("<script>"));
    assert!(page.contains("&lt;script&gt;"));
}

/// A zone incident resolved after its traffic was shifted away: mitigated in 62 s.
fn mitigated() -> Incident {
    let lb = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web-alb/50dc6c495c0c9188";
    let zone = format!("{lb}#us-east-1b");
    let action = |kind: &str, at: &str| {
        serde_json::json!({
            "kind": kind,
            "target": {"type": "availability-zone", "id": zone},
            "scope": {"type": "load-balancer", "id": lb},
            "requested_at": at, "outcome": "succeeded", "dry_run": false
        })
    };
    serde_json::from_value(serde_json::json!({
        "id": "inc-20261125T102014Z-bacf5cbe",
        "resource": {"type": "availability-zone", "id": zone},
        "state": "resolved",
        "opened_at": "2026-11-25T10:20:14Z", "updated_at": "2026-11-25T11:37:42Z",
        "trigger": "sweep",
        "evidence": {"load_balancer": lb, "zone": "us-east-1b", "zone_id": "use1-az2"},
        "actions": [
            action("start-zonal-shift", "2026-11-25T10:21:16Z"),
            action("cancel-zonal-shift", "2026-11-25T11:36:40Z"),
        ],
        "resolved_at": "2026-11-25T11:37:42Z", "time_to_recover_s": 4648,
        "mitigated_at": "2026-11-25T10:21:16Z", "time_to_mitigate_s": 62
    }))
    .unwrap()
}

#[test]
fn without_a_mitigation_the_report_has_no_time_to_mitigate_nor_highlights() {
    let report = report();
    assert_eq!(report.all.time_to_mitigate_s, None);
    assert!(report.incidents.iter().all(|s| s.highlights.is_empty()));
    let json = serde_json::to_string(&report).unwrap();
    assert!(!json.contains("mitigate") && !json.contains("highlights"));
    let text = text(&report);
    assert!(!text.contains("Time to mitigate") && !text.contains("Highlights"));
    assert!(!html(&report).contains("mitigat"));
}

#[test]
fn a_mitigated_incident_shows_its_time_to_mitigate_and_what_its_kind_highlights() {
    let mut incidents = incidents();
    incidents.push(mitigated());
    let report = build(&incidents, window_start(), now());
    let zone = resource(&report, "web-alb/us-east-1b");
    let ttm = zone.figures.time_to_mitigate_s.as_ref().unwrap();
    assert_eq!((ttm.samples, ttm.p90, ttm.max), (1, Some(62), Some(62)));
    assert_eq!(resource(&report, "web").figures.time_to_mitigate_s, None);
    assert_eq!(report.all.time_to_mitigate_s.as_ref().unwrap().samples, 1);
    let span = report
        .incidents
        .iter()
        .find(|s| s.time_to_mitigate_s.is_some())
        .unwrap();
    assert_eq!(
        span.highlights,
        [
            "10:21:16 traffic shifted away from us-east-1b (use1-az2)",
            "11:36:40 shift ended"
        ]
    );
    let text = text(&report);
    assert!(text.contains("\nTime to mitigate\n"));
    assert!(text.contains(
        "\nHighlights\ninc-20261125T102014Z-bacf5cbe  availability-zone web-alb/us-east-1b  resolved, opened 2026-11-25 10:20 UTC\n  \
         mitigated in 1 min 2 s, recovered in 1 h 17 min\n  10:21:16 traffic shifted away from us-east-1b (use1-az2)\n"
    ));
    let page = html(&report);
    assert!(page.contains("<table id=\"mitigation\">"));
    assert!(page.contains(
        "mitigated in 1 min 2 s, recovered in 1 h 17 min<br>10:21:16 traffic shifted away"
    ));
    assert!(page.contains("· mitigated in 1 min 2 s · recovered in 1 h 17 min</title>"));
}
