//! The `rebound` binary against the emulator: invoke a handler on an event file, list
//! incidents as a table and as the contract's JSON (filtered by state, age and
//! resource), show a timeline, report over a window, fail clearly.

use std::path::Path;
use std::process::{Command, Output};

use chrono::{DateTime, Duration, Utc};
use rebound::domain::{
    ActionKind, Change, Decision, Effect, Evidence, Incident, IncidentState, Opening,
    PlannedAction, Refusal, ResourceRef, ResourceType, Verdict,
};
use rebound::ports::{Commit, Committed, Freshness, IncidentStore};
use rebound_tests::stack::Managed;
use rebound_tests::{Emulator, Stack};
use serde_json::Value;

fn rebound(emulator: &Emulator, stack: &Stack, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rebound"))
        .args(args)
        .env_clear()
        .envs(stack.function_env(emulator, "enforce"))
        .output()
        .expect("run rebound")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "rebound failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn invoke_then_list_and_show_the_incident() {
    let emulator = Emulator::start();
    let stack = Stack::provision(&emulator, Managed::Yes);
    let web = stack.web();
    emulator.set_target_health(
        &web.target_group_arn,
        &web.instance_ids[0],
        "unhealthy",
        "Target.FailedHealthChecks",
    );
    let event_file =
        std::env::temp_dir().join(format!("rebound-cli-event-{}.json", std::process::id()));
    std::fs::write(&event_file, stack.alarm_event(0).to_string()).unwrap();

    let report: Value = serde_json::from_str(&stdout(&rebound(
        &emulator,
        &stack,
        &[
            "invoke",
            "target-health",
            "--event",
            &event_file.to_string_lossy(),
        ],
    )))
    .unwrap();
    std::fs::remove_file(&event_file).ok();
    assert_eq!(
        report["checks"][0]["actions"][0]["target"]["id"],
        web.instance_ids[0].as_str()
    );

    let incidents: Value = serde_json::from_str(&stdout(&rebound(
        &emulator,
        &stack,
        &["incidents", "--json"],
    )))
    .unwrap();
    let incidents = incidents.as_array().expect("a JSON array");
    assert_eq!(incidents.len(), 1);
    let incident = &incidents[0];
    for field in [
        "id",
        "resource",
        "state",
        "opened_at",
        "updated_at",
        "trigger",
        "evidence",
        "actions",
    ] {
        assert!(incident.get(field).is_some(), "missing {field}: {incident}");
    }
    assert_eq!(incident["resource"]["type"], "target-group");
    assert_eq!(incident["state"], "remediating");
    assert_eq!(incident["actions"][0]["kind"], "set-instance-health");
    assert_eq!(incident["actions"][0]["dry_run"], false);

    let table = stdout(&rebound(&emulator, &stack, &["incidents"]));
    let id = incident["id"].as_str().unwrap();
    assert!(
        table.contains(id) && table.contains("remediating"),
        "{table}"
    );

    let detail = stdout(&rebound(&emulator, &stack, &["incidents", "show", id]));
    assert!(
        detail.contains("Timeline") && detail.contains("remediating"),
        "{detail}"
    );
    assert!(detail.contains(&web.instance_ids[0]), "{detail}");

    // A person ends it: resolved, not verified, with who and why on its timeline.
    let closed = rebound(
        &emulator,
        &stack,
        &[
            "incidents",
            "close",
            id,
            "--reason",
            "taken over by the on-call engineer",
        ],
    );
    let said = stdout(&closed);
    assert!(said.contains("closed by arn:aws:"), "{said}");
    let incident: Value = serde_json::from_str(&stdout(&rebound(
        &emulator,
        &stack,
        &["incidents", "show", id, "--json"],
    )))
    .unwrap();
    assert_eq!(incident["state"], "resolved");
    assert!(incident.get("time_to_recover_s").is_none(), "{incident}");
    let timeline = incident["timeline"].as_array().unwrap();
    let closed = timeline
        .iter()
        .find(|t| t["event"] == "closed")
        .expect("the close on the timeline");
    let detail = closed["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("closed by arn:aws:")
            && detail.ends_with(": taken over by the on-call engineer"),
        "{detail}"
    );
    // Closing it again is refused, and says why.
    let again = rebound(
        &emulator,
        &stack,
        &["incidents", "close", id, "--reason", "again"],
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already resolved"));
    let blank = rebound(
        &emulator,
        &stack,
        &["incidents", "close", id, "--reason", " "],
    );
    assert!(String::from_utf8_lossy(&blank.stderr).contains("--reason"));
}

#[test]
fn errors_are_clear_and_exit_non_zero() {
    let emulator = Emulator::start();
    let stack = Stack::provision(&emulator, Managed::Yes);
    // A file that exists but is no event.
    let not_an_event = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let not_an_event = not_an_event.to_string_lossy();
    let cases: [(&[&str], &str); 4] = [
        (
            &["incidents", "show", "inc-20990101T000000Z-00000000"],
            "no incident inc-20990101T000000Z-00000000",
        ),
        (&["incidents", "show", "not-an-id"], "invalid incident id"),
        (
            &[
                "invoke",
                "target-health",
                "--event",
                "/nonexistent/event.json",
            ],
            "cannot read /nonexistent/event.json",
        ),
        (
            &["invoke", "incident-notifier", "--event", &not_an_event],
            "is not a valid event",
        ),
    ];
    for (args, expected) in cases {
        let output = rebound(&emulator, &stack, args);
        assert!(!output.status.success(), "{args:?} succeeded");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

/// Writes an incident as the functions would: claimed when opened, then moved along.
async fn record(
    store: &impl IncidentStore,
    resource: &str,
    opened: DateTime<Utc>,
    then: &[(IncidentState, i64)],
) -> Incident {
    let mut incident = Incident::open(
        Opening {
            resource: ResourceRef::new(ResourceType::named("target-group"), resource),
            trigger: "alarm:cli-test".into(),
            evidence: Evidence::default(),
            summary: "1 of 4 targets unhealthy".into(),
            rto_s: None,
            drill: None,
        },
        opened,
    );
    let mut stored_state = None;
    let mut steps = vec![None];
    steps.extend(then.iter().map(Some));
    for step in steps {
        if let Some((state, after_s)) = step {
            let decision = decision_for(*state);
            incident
                .apply(
                    opened + Duration::seconds(*after_s),
                    Change::Decided {
                        decision: &decision,
                        intent: "",
                        upkeep: "",
                        writer: "cli-test",
                        dry_run: false,
                    },
                )
                .unwrap();
        }
        let landed = store
            .commit(Commit {
                incident: &mut incident,
                stored_state,
                ledgers: vec![],
                token: "cli-test",
                freshness: Freshness::Unchecked,
            })
            .await
            .unwrap();
        assert_eq!(landed, Committed::Landed);
        stored_state = Some(incident.state);
    }
    incident
}

/// A decision that moves an incident to `state`, as a check would take it.
fn decision_for(state: IncidentState) -> Decision {
    let refusal = |effect| vec![Refusal::new("cli-test", effect, "cli test")];
    match state {
        IncidentState::Resolved => Decision::plain(Verdict::Resolve, "cli test".into()),
        IncidentState::Remediating => Decision::plain(Verdict::Underway, "cli test".into()),
        IncidentState::Escalated => {
            Decision::from_guards(vec![], refusal(Effect::Escalate), "cli test".into())
        }
        IncidentState::Suppressed => {
            Decision::from_guards(vec![], refusal(Effect::Suppress), "cli test".into())
        }
        IncidentState::Open => Decision::plain(Verdict::Hold, "cli test".into()),
        IncidentState::AwaitingApproval => Decision {
            verdict: Verdict::AwaitApproval,
            approval_expires_at: Some(Utc::now() + Duration::minutes(30)),
            ..Decision::from_guards(
                vec![PlannedAction {
                    kind: ActionKind::named("set-instance-health"),
                    target: ResourceRef::new(ResourceType::named("instance"), "i-0cli"),
                    scope: ResourceRef::new(ResourceType::named("auto-scaling-group"), "web"),
                    configuration: None,
                    cooldown: std::time::Duration::ZERO,
                    repeat_limit: None,
                }],
                vec![],
                "cli test".into(),
            )
        },
    }
}

fn ids(output: &Output) -> Vec<String> {
    let incidents: Value = serde_json::from_str(&stdout(output)).unwrap();
    incidents
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn incidents_are_filtered_by_state_age_and_resource_and_reported_over_a_window() {
    let emulator = Emulator::start();
    let stack = Stack::provision(&emulator, Managed::Yes);
    let web = stack.web().target_group_arn.clone();
    // What people call it, e.g. `rebound-test-web` for `…:targetgroup/rebound-test-web/…`.
    let web_name = rebound::readable::short_name(&web).into_owned();
    let api = format!(
        "arn:aws:elasticloadbalancing:{}:{}:targetgroup/api/0a1b2c3d4e5f6a7b",
        stack.region, stack.account
    );
    let now = Utc::now();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (old_web, open_web, recent_api, ancient_api) = runtime.block_on(async {
        let sdk = emulator.sdk_config().await;
        let store = rebound::aws::incident_store(&stack.store_config(), &sdk);
        let days = |d: i64| now - Duration::days(d);
        let old_web = record(&store, &web, days(10), &[(IncidentState::Resolved, 300)]).await;
        let open_web = record(
            &store,
            &web,
            now - Duration::hours(2),
            &[(IncidentState::Escalated, 60)],
        )
        .await;
        let ancient_api = record(&store, &api, days(40), &[(IncidentState::Resolved, 60)]).await;
        let recent_api = record(&store, &api, days(3), &[(IncidentState::Resolved, 120)]).await;
        (old_web, open_web, recent_api, ancient_api)
    });
    let id = |i: &Incident| i.id.to_string();
    let list = |args: &[&str]| {
        let mut all = vec!["incidents", "--json"];
        all.extend_from_slice(args);
        ids(&rebound(&emulator, &stack, &all))
    };

    assert_eq!(list(&["--open", "--since", "1d"]), [id(&open_web)]);
    assert!(list(&["--open", "--since", "1h"]).is_empty());
    assert_eq!(list(&["--since", "7d"]), [id(&open_web), id(&recent_api)]);
    assert_eq!(
        list(&["--resource", &web_name]),
        [id(&open_web), id(&old_web)]
    );
    assert_eq!(list(&["--resource", &web]), [id(&open_web), id(&old_web)]);
    assert_eq!(
        list(&["--resource", &api]),
        [id(&recent_api), id(&ancient_api)]
    );
    assert_eq!(
        list(&["--resource", "api", "--limit", "1"]),
        [id(&recent_api)]
    );
    let table = stdout(&rebound(&emulator, &stack, &["incidents", "--open"]));
    assert!(
        table.contains(&id(&open_web)) && table.contains("escalated"),
        "{table}"
    );
    assert!(
        table.contains(&format!("target-group {web_name}")),
        "{table}"
    );

    let html = std::env::temp_dir().join(format!("rebound-cli-report-{}.html", std::process::id()));
    let html_arg = html.to_string_lossy().into_owned();
    let text = stdout(&rebound(
        &emulator,
        &stack,
        &["report", "--since", "30d", "--out", &html_arg],
    ));
    assert!(
        text.contains(&format!("target-group {web_name} ")),
        "{text}"
    );
    assert!(text.contains("target-group api "), "{text}");
    assert!(text.contains("all resources"), "{text}");
    assert!(text.contains(&format!("HTML report: {html_arg}")), "{text}");
    let page = std::fs::read_to_string(&html).expect("the HTML report");
    std::fs::remove_file(&html).ok();
    assert!(page.contains("<svg id=\"timeline\""));
    assert!(page.contains("<svg id=\"ttr-chart\""));
    assert_eq!(
        page.matches("<rect class=\"incident ").count(),
        3,
        "the ancient one is outside"
    );
    assert_eq!(page.matches("<rect class=\"ttr\"").count(), 2);
    assert!(!page.contains("<script"));

    let figures: Value = serde_json::from_str(&stdout(&rebound(
        &emulator,
        &stack,
        &["report", "--since", "30d", "--json"],
    )))
    .unwrap();
    assert_eq!(figures["all"]["incidents"], 3);
    assert_eq!(figures["all"]["open"], 1);
    assert_eq!(figures["all"]["escalated"], 1);
    let web_figures = figures["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == web_name.as_str())
        .expect("web in the report");
    assert_eq!(web_figures["incidents"], 2);
    assert_eq!(web_figures["time_to_recover_s"]["p90"], 300);

    let output = rebound(&emulator, &stack, &["incidents", "--since", "7days"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid duration"), "{stderr}");
}

#[test]
fn invoke_rds_health_fails_the_database_over_and_lists_its_incident() {
    let emulator = Emulator::start();
    let stack = Stack::provision(&emulator, Managed::Yes);
    let event_file =
        std::env::temp_dir().join(format!("rebound-cli-rds-event-{}.json", std::process::id()));
    std::fs::write(&event_file, stack.rds_alarm_event().to_string()).unwrap();
    let report: Value = serde_json::from_str(&stdout(&rebound(
        &emulator,
        &stack,
        &[
            "invoke",
            "rds-health",
            "--event",
            &event_file.to_string_lossy(),
        ],
    )))
    .unwrap();
    std::fs::remove_file(&event_file).ok();
    assert_eq!(report["checks"][0]["verdict"], "remediate", "{report}");
    assert_eq!(
        report["checks"][0]["actions"][0]["kind"],
        "reboot-with-failover"
    );
    assert_eq!(emulator.calls_of("RebootDBInstance"), 1);

    let incidents: Value = serde_json::from_str(&stdout(&rebound(
        &emulator,
        &stack,
        &["incidents", "--json"],
    )))
    .unwrap();
    assert_eq!(incidents[0]["resource"]["type"], "db-instance");
    assert_eq!(incidents[0]["resource"]["id"], stack.db());
    assert_eq!(
        incidents[0]["evidence"]["database"]["before_failover"]["primary_az"],
        "us-east-1a"
    );
}

/// The group's tags, as Auto Scaling reports them.
async fn group_tags(emulator: &Emulator, group: &str) -> Vec<(String, String)> {
    let described = aws_sdk_autoscaling::Client::new(&emulator.sdk_config().await)
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(group)
        .send()
        .await
        .unwrap();
    described.auto_scaling_groups()[0]
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn invoke(emulator: &Emulator, stack: &Stack, function: &str, event: &Value) -> Value {
    let event_file = std::env::temp_dir().join(format!(
        "rebound-cli-{function}-{}-{}.json",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    std::fs::write(&event_file, event.to_string()).unwrap();
    let output = rebound(
        emulator,
        stack,
        &["invoke", function, "--event", &event_file.to_string_lossy()],
    );
    std::fs::remove_file(&event_file).ok();
    serde_json::from_str(&stdout(&output)).unwrap()
}

#[test]
fn a_pause_records_incidents_without_acting_expires_by_itself_and_resume_ends_it() {
    let emulator = Emulator::start();
    let stack = Stack::provision(&emulator, Managed::Yes);
    let web = stack.web();
    let group = format!("auto-scaling-group:{}", web.auto_scaling_group);
    let said = stdout(&rebound(
        &emulator,
        &stack,
        &[
            "pause",
            &group,
            "--for",
            "2h",
            "--reason",
            "v2.3 upgrade (ticket #42)",
        ],
    ));
    assert!(
        said.contains("paused until") && said.contains("by arn:aws:"),
        "{said}"
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let tags = runtime.block_on(group_tags(&emulator, &web.auto_scaling_group));
    let value = |key: &str| {
        tags.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{key} missing: {tags:?}"))
    };
    let until = DateTime::parse_from_rfc3339(&value("rebound:paused-until")).unwrap();
    let left = until.with_timezone(&Utc) - Utc::now();
    assert!(
        left > Duration::minutes(110) && left <= Duration::hours(2),
        "{left}"
    );
    assert!(value("rebound:paused-by").starts_with("arn:aws:"));
    // RDS's tag character set: the '(' ')' '#' are gone, the words kept.
    assert_eq!(value("rebound:pause-reason"), "v2.3 upgrade ticket 42");

    // A target fails while paused: the incident is recorded, suppressed with the
    // pause's reason, and nothing is done to the instance.
    emulator.set_target_health(
        &web.target_group_arn,
        &web.instance_ids[0],
        "unhealthy",
        "Target.FailedHealthChecks",
    );
    let report = invoke(&emulator, &stack, "target-health", &stack.alarm_event(0));
    assert_eq!(report["checks"][0]["verdict"], "suppress", "{report}");
    let refusal = &report["checks"][0]["refusals"][0];
    assert_eq!(refusal["guard"], "paused", "{report}");
    assert!(
        refusal["detail"]
            .as_str()
            .unwrap()
            .ends_with("v2.3 upgrade ticket 42; observed, no action taken"),
        "{refusal}"
    );
    assert_eq!(emulator.calls_of("SetInstanceHealth"), 0);
    let incidents: Value = serde_json::from_str(&stdout(&rebound(
        &emulator,
        &stack,
        &["incidents", "--json"],
    )))
    .unwrap();
    assert_eq!(incidents[0]["state"], "suppressed", "{incidents}");

    // The pause runs out (its time is rewritten into the past, as by the clock): the
    // next look acts.
    runtime.block_on(async {
        aws_sdk_autoscaling::Client::new(&emulator.sdk_config().await)
            .create_or_update_tags()
            .tags(
                aws_sdk_autoscaling::types::Tag::builder()
                    .resource_id(&web.auto_scaling_group)
                    .resource_type("auto-scaling-group")
                    .key("rebound:paused-until")
                    .value("2026-01-01T00:00:00Z")
                    .propagate_at_launch(false)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    let report = invoke(&emulator, &stack, "target-health", &stack.alarm_event(0));
    assert_eq!(report["checks"][0]["verdict"], "remediate", "{report}");
    assert_eq!(emulator.calls_of("SetInstanceHealth"), 1);

    // resume takes the pause's tags away, and only those.
    let said = stdout(&rebound(&emulator, &stack, &["resume", &group]));
    assert!(said.contains("resumed"), "{said}");
    let tags = runtime.block_on(group_tags(&emulator, &web.auto_scaling_group));
    assert!(
        tags.iter().all(|(k, _)| !k.starts_with("rebound:pause")),
        "{tags:?}"
    );
    assert!(tags.iter().any(|(k, _)| k == "rebound:managed"), "{tags:?}");
}

#[test]
fn a_paused_database_is_not_failed_over_and_bad_pauses_are_refused_clearly() {
    let emulator = Emulator::start();
    let stack = Stack::provision(&emulator, Managed::Yes);
    let database = format!("db-instance:{}", stack.db());
    stdout(&rebound(
        &emulator,
        &stack,
        &[
            "pause",
            &database,
            "--for",
            "30m",
            "--reason",
            "engine upgrade",
        ],
    ));
    let report = invoke(&emulator, &stack, "rds-health", &stack.rds_alarm_event());
    assert_eq!(report["checks"][0]["verdict"], "suppress", "{report}");
    assert_eq!(report["checks"][0]["refusals"][0]["guard"], "paused");
    assert_eq!(emulator.calls_of("RebootDBInstance"), 0);
    // Resumed while its designated alarm is still in ALARM: the next look fails it over.
    stdout(&rebound(&emulator, &stack, &["resume", &database]));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        aws_sdk_cloudwatch::Client::new(&emulator.sdk_config().await)
            .set_alarm_state()
            .alarm_name(format!("{}-read-latency", stack.db()))
            .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
            .state_reason("the drill")
            .send()
            .await
            .unwrap();
    });
    let report = invoke(&emulator, &stack, "rds-health", &stack.rds_alarm_event());
    assert_eq!(report["checks"][0]["verdict"], "remediate", "{report}");
    assert_eq!(emulator.calls_of("RebootDBInstance"), 1);

    for (args, says) in [
        (
            vec!["pause", "web-asg", "--for", "1h", "--reason", "x"],
            "names no resource Rebound acts on",
        ),
        (
            vec!["pause", &database, "--for", "8d", "--reason", "x"],
            "between 1 minute and 7 days",
        ),
        (
            vec!["pause", &database, "--for", "1h", "--reason", "()"],
            "--reason",
        ),
        (
            vec![
                "pause",
                "db-instance:no-such-db",
                "--for",
                "1h",
                "--reason",
                "x",
            ],
            "no-such-db",
        ),
    ] {
        let output = rebound(&emulator, &stack, &args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

fn stderr_of(output: &Output) -> String {
    assert!(!output.status.success(), "succeeded: {}", stdout(output));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn ack_approve_and_deny_record_who_and_refuse_what_is_not_theirs_to_decide() {
    let emulator = Emulator::start();
    let stack = Stack::provision(&emulator, Managed::Yes);
    let now = Utc::now();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (approving, denying, open) = runtime.block_on(async {
        let sdk = emulator.sdk_config().await;
        let store = rebound::aws::incident_store(&stack.store_config(), &sdk);
        let awaiting = [(IncidentState::AwaitingApproval, 1)];
        (
            record(&store, "tg-approve", now, &awaiting).await,
            record(&store, "tg-deny", now, &awaiting).await,
            record(&store, "tg-open", now, &[(IncidentState::Open, 1)]).await,
        )
    });
    let show = |id: &str| -> Value {
        serde_json::from_str(&stdout(&rebound(
            &emulator,
            &stack,
            &["incidents", "show", id, "--json"],
        )))
        .unwrap()
    };
    let (approving, denying, open) = (
        approving.id.to_string(),
        denying.id.to_string(),
        open.id.to_string(),
    );

    // The table and the detail show the new state and how to decide.
    let table = stdout(&rebound(&emulator, &stack, &["incidents"]));
    assert!(table.contains("awaiting-approval"), "{table}");
    let detail = stdout(&rebound(
        &emulator,
        &stack,
        &["incidents", "show", &approving],
    ));
    assert!(
        detail.contains(&format!("rebound incidents approve {approving}")),
        "{detail}"
    );

    // Approve: recorded with the caller's identity; nothing else moves yet.
    let said = stdout(&rebound(
        &emulator,
        &stack,
        &["incidents", "approve", &approving],
    ));
    assert!(said.contains("approved by arn:aws:"), "{said}");
    let incident = show(&approving);
    assert_eq!(incident["state"], "awaiting-approval");
    assert_eq!(incident["approval"]["state"], "approved");
    assert!(incident["approval"]["decided_by"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:"));
    // Already decided: refused, naming the decision.
    let again = stderr_of(&rebound(
        &emulator,
        &stack,
        &["incidents", "deny", &approving, "--reason", "too late"],
    ));
    assert!(
        again.contains("already decided, approved by arn:aws:"),
        "{again}"
    );

    // Deny: with its reason, which it needs.
    let no_reason = stderr_of(&rebound(
        &emulator,
        &stack,
        &["incidents", "deny", &denying],
    ));
    assert!(no_reason.contains("--reason"), "{no_reason}");
    let said = stdout(&rebound(
        &emulator,
        &stack,
        &["incidents", "deny", &denying, "--reason", "change freeze"],
    ));
    assert!(said.contains("denied by arn:aws:"), "{said}");
    let incident = show(&denying);
    assert_eq!(incident["approval"]["state"], "denied");
    assert_eq!(incident["approval"]["reason"], "change freeze");

    // Nothing awaits approval on an open incident; bad and unknown ids.
    let not_awaiting = stderr_of(&rebound(
        &emulator,
        &stack,
        &["incidents", "approve", &open],
    ));
    assert!(
        not_awaiting.contains(&format!(
            "incident {open} is not awaiting approval (it is open)"
        )),
        "{not_awaiting}"
    );
    for command in ["approve", "ack"] {
        let bad = stderr_of(&rebound(&emulator, &stack, &["incidents", command, "nope"]));
        assert!(bad.contains("invalid incident id"), "{command}: {bad}");
        let unknown = stderr_of(&rebound(
            &emulator,
            &stack,
            &["incidents", command, "inc-20990101T000000Z-00000000"],
        ));
        assert!(
            unknown.contains("no incident inc-20990101T000000Z-00000000"),
            "{command}: {unknown}"
        );
    }

    // Ack: who, on the incident and its timeline; a second ack says who was first.
    let said = stdout(&rebound(&emulator, &stack, &["incidents", "ack", &open]));
    assert!(said.contains("acknowledged by arn:aws:"), "{said}");
    let incident = show(&open);
    assert!(incident["acknowledged"]["by"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:"));
    let timeline = incident["timeline"].as_array().unwrap();
    assert!(timeline.iter().any(|t| t["event"] == "acknowledged"));
    let again = stdout(&rebound(&emulator, &stack, &["incidents", "ack", &open]));
    assert!(
        again.contains("was already acknowledged by arn:aws:"),
        "{again}"
    );
    // A resolved incident is no one's to acknowledge or approve.
    stdout(&rebound(
        &emulator,
        &stack,
        &["incidents", "close", &open, "--reason", "done"],
    ));
    for args in [
        vec!["incidents", "ack", open.as_str()],
        vec!["incidents", "approve", open.as_str()],
    ] {
        let refused = stderr_of(&rebound(&emulator, &stack, &args));
        assert!(refused.contains("already resolved"), "{args:?}: {refused}");
    }
}

#[test]
fn incidents_show_links_the_evidence_kept_before_a_replacement() {
    let emulator = Emulator::start();
    let stack = Stack::provision(&emulator, Managed::Yes);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(emulator.create_bucket("rebound-evidence"));
    let web = stack.web();
    let instance = web.instance_ids[0].as_str();
    emulator.set_target_health(
        &web.target_group_arn,
        instance,
        "unhealthy",
        "Target.FailedHealthChecks",
    );
    let event_file = std::env::temp_dir().join(format!(
        "rebound-cli-evidence-event-{}.json",
        std::process::id()
    ));
    std::fs::write(&event_file, stack.alarm_event(0).to_string()).unwrap();
    let invoked = Command::new(env!("CARGO_BIN_EXE_rebound"))
        .args(["invoke", "target-health", "--event"])
        .arg(&event_file)
        .env_clear()
        .envs(stack.function_env(&emulator, "enforce"))
        .env("EVIDENCE_BUCKET", "rebound-evidence")
        .output()
        .expect("run rebound");
    std::fs::remove_file(&event_file).ok();
    stdout(&invoked);

    let incidents: Value = serde_json::from_str(&stdout(&rebound(
        &emulator,
        &stack,
        &["incidents", "--json"],
    )))
    .unwrap();
    let id = incidents[0]["id"].as_str().unwrap().to_owned();
    let shown: Value = serde_json::from_str(&stdout(&rebound(
        &emulator,
        &stack,
        &["incidents", "show", &id, "--json"],
    )))
    .unwrap();
    let uri = shown["captures"][0]["uri"].as_str().expect("a link");
    let prefix = format!("s3://rebound-evidence/incidents/{id}/{instance}-");
    assert!(uri.starts_with(&prefix), "{uri}");
    assert_eq!(shown["captures"][0]["target"]["id"], instance);

    let detail = stdout(&rebound(&emulator, &stack, &["incidents", "show", &id]));
    assert!(detail.contains("Evidence kept"), "{detail}");
    assert!(detail.contains(&format!("{instance}: {uri}")), "{detail}");
}
