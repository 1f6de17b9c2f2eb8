//! End-to-end tier: the function binaries (built with the tests, in their profile),
//! started as Lambda starts them, fed events through the Lambda Invoke API, acting on
//! the HA stack in the emulator.

use rebound_tests::stack::Managed;
use rebound_tests::{sample_event, Emulator, LocalLambda, Stack};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_function_binaries_heal_a_broken_instance_and_announce_it() {
    let emulator = Emulator::start();
    let stack = Stack::provision(&emulator, Managed::Yes);
    let web = stack.web().clone();
    let broken = &web.instance_ids[0];
    emulator.set_target_health(
        &web.target_group_arn,
        broken,
        "unhealthy",
        "Target.FailedHealthChecks",
    );
    emulator.clear_requests();

    let mut lambda = LocalLambda::start();
    let env = stack.function_env(&emulator, "enforce");
    lambda.start_function("target-health", &env);
    lambda.start_function("incident-notifier", &env);

    let (status, report) = lambda.invoke("target-health", &stack.alarm_event(0));
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["status"], "checked", "{report}");
    assert_eq!(
        report["checks"][0]["actions"][0]["target"]["id"],
        broken.as_str(),
        "{report}"
    );
    assert_eq!(report["checks"][0]["actions"][0]["outcome"], "succeeded");
    assert_eq!(emulator.calls_of("SetInstanceHealth"), 1);

    // A duplicate delivery through the runtime acts no more; the group has already
    // replaced the instance (the emulator does it at once), so it verifies and resolves.
    let (status, report) = lambda.invoke("target-health", &stack.alarm_event(0));
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["checks"][0]["verdict"], "resolve", "{report}");
    assert_eq!(emulator.calls_of("SetInstanceHealth"), 1);

    let (status, report) = lambda.invoke(
        "target-health",
        &sample_event("target-health/scheduled-sweep.json"),
    );
    assert_eq!(status, 200, "{report}");
    // Nothing open and CloudWatch shows the target group all healthy: the sweep's
    // triage describes nothing.
    assert_eq!(report["status"], "checked", "{report}");
    assert_eq!(report["checks"], serde_json::json!([]), "{report}");

    // The stream, delivered to the notifier binary as the event source mapping would.
    let state_file =
        std::env::temp_dir().join(format!("rebound-e2e-stream-{}", std::process::id()));
    let invoke_url = lambda.invoke_url("incident-notifier");
    stack.pump_stream(&emulator, &state_file, &["--invoke-url", &invoke_url]);
    std::fs::remove_file(&state_file).ok();

    let sdk = emulator.sdk_config().await;
    let states: Vec<String> = stack
        .notifications(&sdk)
        .await
        .iter()
        .map(|m| {
            m["MessageAttributes"]["state"]["Value"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(states, ["remediating", "resolved"]);

    // Lambda's JSON logs and the EMF metric lines came out of the real binary.
    let log = lambda.log("target-health");
    assert!(log.contains("\"IncidentsOpened\":1"), "{log}");
    assert!(log.contains("\"incident opened\""), "{log}");
    assert!(lambda.functions_alive());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_event_is_an_invalid_event_error_and_the_function_keeps_serving() {
    let emulator = Emulator::start();
    let stack = Stack::provision(&emulator, Managed::Yes);
    emulator.clear_requests();
    let mut lambda = LocalLambda::start();
    lambda.start_function("target-health", &stack.function_env(&emulator, "enforce"));

    let mut malformed = stack.alarm_event(0);
    malformed["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"]
        ["TargetGroup"] = Value::String("bogus".into());
    let (_, error) = lambda.invoke("target-health", &malformed);
    assert_eq!(error["errorType"], "Rebound.InvalidEvent", "{error}");
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("bogus"),
        "{error}"
    );

    let (status, ignored) = lambda.invoke(
        "target-health",
        &sample_event("target-health/alarm-other-metric.json"),
    );
    assert_eq!(status, 200);
    assert_eq!(ignored["status"], "ignored");
    assert!(emulator.requests().is_empty(), "{:?}", emulator.requests());
    assert!(lambda.functions_alive());
}

/// Every file of `events/rds-health/`, aimed at the stack's database, through the
/// rds-health binary as Lambda runs it: each is answered (ignored only where the
/// rule's pattern would not deliver it), and the function keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rds_health_binary_answers_every_rds_event_file() {
    let emulator = Emulator::start();
    let stack = Stack::provision(&emulator, Managed::Yes);
    let mut lambda = LocalLambda::start();
    lambda.start_function("rds-health", &stack.function_env(&emulator, "enforce"));

    let dir = rebound_tests::repo_root().join("events/rds-health");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert!(names.len() >= 18, "{names:?}");
    for name in &names {
        let (status, report) = lambda.invoke("rds-health", &stack.rds_event(name));
        assert_eq!(status, 200, "{name}: {report}");
        let expected = if name == "alarm-other-metric.json" {
            "ignored"
        } else {
            "checked"
        };
        assert_eq!(report["status"], expected, "{name}: {report}");
    }
    let unknown = lambda
        .invoke("rds-health", &stack.rds_event("event-unknown.json"))
        .1;
    assert!(
        unknown["observation"]
            .as_str()
            .unwrap_or_default()
            .contains("never acted on"),
        "{unknown}"
    );
    assert!(lambda.functions_alive());
}

/// The rds-health binary fails a sick Multi-AZ database over once; RDS's own events
/// (as EventBridge would deliver them) close the incident; the app tier that depends on
/// the database was held meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rds_health_binary_fails_the_database_over_and_its_events_close_the_incident() {
    let emulator = Emulator::start();
    let stack = Stack::provision(&emulator, Managed::Yes);
    emulator.set_rds_mode("phased");
    emulator.clear_requests();
    let mut lambda = LocalLambda::start();
    let env = stack.function_env(&emulator, "enforce");
    lambda.start_function("rds-health", &env);
    lambda.start_function("target-health", &env);

    let (status, report) = lambda.invoke("rds-health", &stack.rds_alarm_event());
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["checks"][0]["verdict"], "remediate", "{report}");
    assert_eq!(
        report["checks"][0]["actions"][0]["kind"],
        "reboot-with-failover"
    );
    assert_eq!(emulator.calls_of("RebootDBInstance"), 1);

    // The app tier fails meanwhile: held, not replaced.
    let web = stack.web();
    emulator.set_target_health(
        &web.target_group_arn,
        &web.instance_ids[0],
        "unhealthy",
        "Target.FailedHealthChecks",
    );
    let (_, held) = lambda.invoke("target-health", &stack.alarm_event(0));
    assert_eq!(held["checks"][0]["verdict"], "suppress", "{held}");
    assert_eq!(emulator.calls_of("SetInstanceHealth"), 0);

    // RDS finishes the failover; its events, delivered late, move the incident on. The
    // first (0013) already finds the database available with primary and standby
    // swapped: verified, resolved. The second (0049) finds nothing open.
    emulator.rds_advance();
    let mut verdicts = Vec::new();
    for event in emulator.rds_eventbridge_events() {
        let (status, answer) = lambda.invoke("rds-health", &event);
        assert_eq!(status, 200, "{answer}");
        verdicts.push(answer["checks"][0]["verdict"].clone());
        if answer["checks"][0]["verdict"] == "resolve" {
            assert_eq!(
                answer["checks"][0]["incident_state"], "resolved",
                "{answer}"
            );
        }
    }
    assert_eq!(verdicts, ["resolve", "healthy"]);
    assert_eq!(emulator.calls_of("RebootDBInstance"), 1);

    let log = lambda.log("rds-health");
    assert!(log.contains("\"ActionsTaken\":1"), "{log}");
    assert!(lambda.functions_alive());
}
