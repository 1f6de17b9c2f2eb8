//! The `rebound` binary against the emulator: invoke a handler on an event file, list
//! incidents as a table and as the contract's JSON, show a timeline, fail clearly.

use std::path::Path;
use std::process::{Command, Output};

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
