//! Handler tier for the notifier: every stream sample, state-change filtering, partial
//! batch failures.

use std::path::PathBuf;

use super::*;
use crate::domain::{Evidence, ResourceKind, ResourceRef};
use crate::fakes::RecordingNotifier;

fn stream_event(name: &str) -> StreamEvent {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../events/incident-notifier")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn handler() -> (NotifierHandler<RecordingNotifier>, RecordingNotifier) {
    let notifier = RecordingNotifier::default();
    (NotifierHandler::new(notifier.clone()), notifier)
}

#[tokio::test]
async fn every_sample_stream_event_is_delivered_without_failures() {
    for name in [
        "stream-incident-opened.json",
        "stream-incident-resolved.json",
    ] {
        let (handler, notifier) = handler();
        let response = handler.handle(stream_event(name)).await.unwrap();
        assert!(response.batch_item_failures.is_empty(), "{name}");
        assert_eq!(
            notifier.published().len(),
            1,
            "{name}: one state change, one message"
        );
    }
}

#[tokio::test]
async fn an_opened_incident_is_announced_with_filterable_attributes() {
    let (handler, notifier) = handler();
    handler
        .handle(stream_event("stream-incident-opened.json"))
        .await
        .unwrap();
    let message = &notifier.published()[0];
    assert_eq!(message.state, "open");
    assert_eq!(message.severity, "warning");
    assert_eq!(message.resource_type, "target-group");
    assert!(
        message
            .subject
            .starts_with("[Rebound] OPEN target-group rebound-demo-web"),
        "{}",
        message.subject
    );
    assert!(message.subject.chars().count() <= MAX_SUBJECT_CHARS);
    assert!(
        message.text.contains("Target.FailedHealthChecks"),
        "{}",
        message.text
    );
    let body: serde_json::Value = serde_json::from_str(&message.json).unwrap();
    assert_eq!(body["schema"], MESSAGE_SCHEMA);
    assert_eq!(body["incident"]["state"], "open");
    assert!(body["previous_state"].is_null());
}

#[tokio::test]
async fn a_resolution_reports_the_time_to_recover_and_the_previous_state() {
    let (handler, notifier) = handler();
    handler
        .handle(stream_event("stream-incident-resolved.json"))
        .await
        .unwrap();
    let message = &notifier.published()[0];
    assert_eq!(message.state, "resolved");
    assert_eq!(message.severity, "info");
    assert!(
        message.text.contains("Recovered: in 184 s"),
        "{}",
        message.text
    );
    let body: serde_json::Value = serde_json::from_str(&message.json).unwrap();
    assert_eq!(body["previous_state"], "remediating");
}

#[tokio::test]
async fn a_failed_publish_is_reported_so_only_it_and_later_records_are_retried() {
    let (handler, notifier) = handler();
    notifier.fail_next(1);
    let event = stream_event("stream-incident-opened.json");
    let sequence = event.records[0].change.sequence_number.clone();
    let response = handler.handle(event).await.unwrap();
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(response.batch_item_failures[0].item_identifier, sequence);
    assert!(notifier.published().is_empty());
}

#[tokio::test]
async fn a_record_that_is_not_an_incident_is_skipped() {
    let (handler, notifier) = handler();
    let mut event = stream_event("stream-incident-opened.json");
    event.records[0].change.new_image.insert(
        "kind".into(),
        serde_dynamo::AttributeValue::S("resource".into()),
    );
    let response = handler.handle(event).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert!(notifier.published().is_empty());
}

#[tokio::test]
async fn a_malformed_incident_record_is_reported_as_failed_not_dropped() {
    let (handler, notifier) = handler();
    let mut event = stream_event("stream-incident-opened.json");
    event.records[0].change.new_image.insert(
        "state".into(),
        serde_dynamo::AttributeValue::S("exploded".into()),
    );
    let response = handler.handle(event).await.unwrap();
    assert_eq!(response.batch_item_failures.len(), 1);
    assert!(notifier.published().is_empty());
}

#[test]
fn a_long_subject_is_cut_to_the_sns_limit() {
    let mut incident = Incident::open(
        ResourceRef {
            kind: ResourceKind::TargetGroup,
            id: "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/1".into(),
        },
        "alarm:x",
        Evidence::default(),
        "é".repeat(300),
        chrono::Utc::now(),
    );
    incident.state = IncidentState::Escalated;
    let message = notification_for(&incident, Some(IncidentState::Open));
    assert_eq!(message.subject.chars().count(), MAX_SUBJECT_CHARS);
    assert!(message
        .subject
        .starts_with("[Rebound] ESCALATED target-group web: "));
    assert_eq!(message.severity, "critical");
}
