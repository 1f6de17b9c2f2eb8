//! Integration tier for evidence kept before acting (issue 19.6): the real target-health
//! handler with real SDK clients against the emulator. Before it replaces an instance it
//! reads the instance's console output and status (EC2) and keeps them as one object
//! per capture under the incident's prefix in the evidence bucket (S3, SSE), linked from
//! the incident; a capture that fails (console output refused, bucket missing) is noted
//! on the incident and the instance is replaced all the same.

use rebound::config::Mode;
use rebound::domain::{Incident, IncidentState};
use rebound_tests::scenario::{scenario, Scenario};
use rebound_tests::stack::Managed;
use serde_json::Value;

const BUCKET: &str = "rebound-evidence";
const PANIC: &str = "Out of memory: Killed process 4242 (app) total-vm:2097152kB\n";

/// Breaks the first web instance and delivers its alarm to target-health (enforce),
/// keeping evidence in `BUCKET`; returns the instance and the incident.
async fn replace_first_instance(s: &Scenario) -> (String, Incident) {
    let instance = s.break_instance(0);
    let handler = s.target_health_keeping_evidence(Mode::Enforce, BUCKET);
    handler
        .handle(s.stack.alarm_event(0))
        .await
        .expect("target-health answers the alarm");
    (instance, s.incident().await)
}

/// The operations called, in order.
fn operations(s: &Scenario) -> Vec<String> {
    s.emulator
        .requests()
        .into_iter()
        .map(|(_, op)| op)
        .collect()
}

fn position(operations: &[String], operation: &str) -> usize {
    operations
        .iter()
        .position(|op| op == operation)
        .unwrap_or_else(|| panic!("no {operation} in {operations:?}"))
}

#[tokio::test]
async fn a_replacement_keeps_the_instances_console_output_and_status_in_s3_linked_from_the_incident(
) {
    let s = scenario(Managed::Yes).await;
    s.emulator.create_bucket(BUCKET).await;
    let target = s.stack.web().instance_ids[0].clone();
    s.emulator
        .set_console_output(&target, &format!("booted\n{PANIC}"));

    let (instance, incident) = replace_first_instance(&s).await;

    assert_eq!(instance, target);
    assert!(
        !s.group_instances().await.contains(&instance),
        "the instance was not replaced"
    );
    assert_eq!(incident.state, IncidentState::Remediating);
    assert_eq!(incident.captures.len(), 1, "{:?}", incident.captures);
    let capture = &incident.captures[0];
    assert_eq!(capture.target.id, instance);
    assert_eq!(capture.failed, None);
    let prefix = format!("s3://{BUCKET}/incidents/{}/{instance}-", incident.id);
    let uri = capture.uri.as_deref().expect("a link to the object");
    assert!(uri.starts_with(&prefix) && uri.ends_with(".json"), "{uri}");
    assert!(
        incident
            .timeline
            .iter()
            .any(|e| e.event == "evidence" && e.detail.contains(uri)),
        "{:?}",
        incident.timeline
    );

    // The object, read back: encrypted, keyed under the incident, the instance's own
    // console and its status.
    let key = uri.trim_start_matches(&format!("s3://{BUCKET}/"));
    let object = rebound::aws::ObjectWriter::new(&s.sdk)
        .send("GET", BUCKET, key, &[], vec![])
        .await
        .unwrap();
    assert_eq!(object.status, 200, "the object is there: {object:?}");
    assert_eq!(
        object.header("x-amz-server-side-encryption"),
        Some("AES256")
    );
    assert_eq!(object.header("content-type"), Some("application/json"));
    let kept: Value = serde_json::from_slice(&object.body).unwrap();
    assert_eq!(kept["incident"], incident.id.to_string());
    assert_eq!(kept["instance"], instance.as_str());
    assert_eq!(kept["console_output"]["text"], format!("booted\n{PANIC}"));
    assert_eq!(kept["console_output"]["truncated"], false);
    assert_eq!(kept["status"]["state"], "running");
    assert!(kept["status"]["availability_zone"].is_string(), "{kept}");
    assert_eq!(kept["auto_scaling_group"], s.stack.web().auto_scaling_group);
    assert_eq!(kept["in_group"]["lifecycle_state"], "InService");

    // Two reads at once, one write, all before the replacement and after the
    // write-ahead (the incident's intent is stored before any of them).
    let ops = operations(&s);
    for op in ["GetConsoleOutput", "DescribeInstanceStatus", "PutObject"] {
        assert_eq!(s.emulator.calls_of(op), 1, "{op}: {ops:?}");
    }
    let replaced = position(&ops, "SetInstanceHealth");
    let write_ahead = position(&ops, "TransactWriteItems");
    for op in ["GetConsoleOutput", "DescribeInstanceStatus", "PutObject"] {
        let at = position(&ops, op);
        assert!(
            write_ahead < at && at < replaced,
            "{op} out of order: {ops:?}"
        );
    }
}

#[tokio::test]
async fn a_console_output_refused_still_replaces_the_instance_and_is_noted() {
    let s = scenario(Managed::Yes).await;
    s.emulator.create_bucket(BUCKET).await;
    let target = s.stack.web().instance_ids[0].clone();
    s.emulator
        .fail_console_output(&target, "UnauthorizedOperation");

    let (instance, incident) = replace_first_instance(&s).await;

    assert!(!s.group_instances().await.contains(&instance));
    assert_eq!(incident.state, IncidentState::Remediating);
    let capture = &incident.captures[0];
    let failed = capture.failed.as_deref().expect("the failure noted");
    assert!(failed.contains("UnauthorizedOperation"), "{failed}");
    // The status was read all the same, and kept.
    assert!(capture.uri.is_some(), "{capture:?}");
    assert!(incident
        .timeline
        .iter()
        .any(|e| e.event == "evidence" && e.detail.contains("UnauthorizedOperation")));
}

#[tokio::test]
async fn a_missing_evidence_bucket_still_replaces_the_instance_and_is_noted() {
    let s = scenario(Managed::Yes).await;
    // No bucket created.

    let (instance, incident) = replace_first_instance(&s).await;

    assert!(!s.group_instances().await.contains(&instance));
    assert_eq!(incident.state, IncidentState::Remediating);
    assert_eq!(incident.actions.len(), 1);
    let capture = &incident.captures[0];
    assert_eq!(capture.uri, None);
    let failed = capture.failed.as_deref().expect("the failure noted");
    assert!(failed.contains("NoSuchBucket"), "{failed}");
    assert!(incident
        .timeline
        .iter()
        .any(|e| e.event == "evidence" && e.detail.contains("not kept")));
}

#[tokio::test]
async fn dry_run_reads_and_keeps_nothing() {
    let s = scenario(Managed::Yes).await;
    s.emulator.create_bucket(BUCKET).await;
    s.emulator.clear_requests();
    s.break_instance(0);

    s.target_health_keeping_evidence(Mode::DryRun, BUCKET)
        .handle(s.stack.alarm_event(0))
        .await
        .unwrap();

    let incident = s.incident().await;
    assert!(incident.captures.is_empty());
    for op in ["GetConsoleOutput", "DescribeInstanceStatus", "PutObject"] {
        assert_eq!(s.emulator.calls_of(op), 0, "{op}");
    }
}
