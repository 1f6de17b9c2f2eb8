//! Handler tier for the notifier: every stream sample, state-change filtering, partial
//! batch failures, parking what SNS refuses for good.

use std::path::PathBuf;

use super::*;
use crate::domain::{Evidence, ResourceKind, ResourceRef};
use crate::fakes::{ParkedNotifications, RecordingNotifier};

fn stream_event(name: &str) -> StreamEvent {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../events/incident-notifier")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

type Handler = NotifierHandler<RecordingNotifier, ParkedNotifications>;

/// Without a failure destination, as when FAILED_NOTIFICATIONS_QUEUE_URL is unset.
fn handler() -> (Handler, RecordingNotifier) {
    let notifier = RecordingNotifier::default();
    (NotifierHandler::new(notifier.clone(), None), notifier)
}

fn handler_with_failure_destination() -> (Handler, RecordingNotifier, ParkedNotifications) {
    let notifier = RecordingNotifier::default();
    let parked = ParkedNotifications::default();
    (
        NotifierHandler::new(notifier.clone(), Some(parked.clone())),
        notifier,
        parked,
    )
}

/// Two state changes in stream order: incident opened, then (later) resolved.
fn two_changes() -> StreamEvent {
    let mut event = stream_event("stream-incident-opened.json");
    let resolved = stream_event("stream-incident-resolved.json");
    event.records.push(resolved.records[0].clone());
    event
}

fn sequence_numbers(event: &StreamEvent) -> Vec<Option<String>> {
    event
        .records
        .iter()
        .map(|r| r.change.sequence_number.clone())
        .collect()
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
    assert!(message.subject.chars().count() < 100);
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
    assert!(
        message.subject.chars().count() < 100,
        "SNS refuses 100 characters"
    );
    assert!(message
        .subject
        .starts_with("[Rebound] ESCALATED target-group web: "));
    assert_eq!(message.severity, "critical");
}

#[tokio::test]
async fn a_publish_refused_for_good_is_parked_and_the_next_record_is_still_published() {
    let (handler, notifier, parked) = handler_with_failure_destination();
    notifier.refuse_next(1);
    let event = two_changes();
    let sequences = sequence_numbers(&event);

    let response = handler.handle(event).await.unwrap();

    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let parked = parked.parked();
    assert_eq!(parked.len(), 1);
    let first = &parked[0];
    assert_eq!(first.incident_id.as_str(), "inc-20261126T101500Z-3f9a1c2b");
    assert_eq!(first.state, IncidentState::Open);
    assert_eq!(first.previous_state, None);
    assert_eq!(first.sequence_number, sequences[0]);
    assert_eq!(
        first.error,
        "Publish failed: InvalidParameter: injected refusal"
    );
    assert_eq!(first.notification.state, "open");
    assert!(first.notification.subject.starts_with("[Rebound] OPEN "));
    let published = notifier.published();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].state, "resolved");
}

#[tokio::test]
async fn a_retryable_publish_failure_stops_the_batch_at_that_record_and_parks_nothing() {
    let (handler, notifier, parked) = handler_with_failure_destination();
    notifier.fail_next(1);
    let event = two_changes();
    let sequences = sequence_numbers(&event);

    let response = handler.handle(event).await.unwrap();

    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(
        response.batch_item_failures[0].item_identifier,
        sequences[0]
    );
    assert!(
        notifier.published().is_empty(),
        "later records wait for the retry"
    );
    assert!(parked.parked().is_empty());
}

#[tokio::test]
async fn a_refused_publish_that_cannot_be_parked_is_reported_for_retry() {
    let (handler, notifier, parked) = handler_with_failure_destination();
    notifier.refuse_next(1);
    parked.fail_next(1);
    let event = two_changes();
    let sequences = sequence_numbers(&event);

    let response = handler.handle(event).await.unwrap();

    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(
        response.batch_item_failures[0].item_identifier,
        sequences[0]
    );
    assert!(notifier.published().is_empty());
    assert!(parked.parked().is_empty());
}

#[tokio::test]
async fn without_a_failure_destination_a_refused_publish_is_reported_for_retry() {
    let (handler, notifier) = handler();
    notifier.refuse_next(1);
    let event = two_changes();
    let sequences = sequence_numbers(&event);

    let response = handler.handle(event).await.unwrap();

    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(
        response.batch_item_failures[0].item_identifier,
        sequences[0]
    );
    assert!(notifier.published().is_empty());
}

#[tokio::test]
async fn a_malformed_record_is_reported_for_retry_not_parked() {
    let (handler, notifier, parked) = handler_with_failure_destination();
    let mut event = two_changes();
    event.records[0].change.new_image.insert(
        "state".into(),
        serde_dynamo::AttributeValue::S("exploded".into()),
    );
    let response = handler.handle(event).await.unwrap();
    assert_eq!(response.batch_item_failures.len(), 1);
    assert!(parked.parked().is_empty());
    assert!(notifier.published().is_empty());
}

#[test]
fn escalations_resolutions_and_times_to_recover_become_metrics() {
    let announced = [
        Announced {
            state: IncidentState::Open,
            time_to_recover_s: None,
        },
        Announced {
            state: IncidentState::Escalated,
            time_to_recover_s: None,
        },
        Announced {
            state: IncidentState::Resolved,
            time_to_recover_s: Some(184),
        },
        // Closed because its resource is gone: resolved, no time to recover.
        Announced {
            state: IncidentState::Resolved,
            time_to_recover_s: None,
        },
    ];
    let metrics = incident_metrics(&announced);
    let value = |name: &str| {
        metrics
            .iter()
            .filter(|m| m.name == name)
            .map(|m| (m.value, m.unit))
            .collect::<Vec<_>>()
    };
    assert_eq!(value("IncidentsEscalated"), vec![(1.0, "Count")]);
    assert_eq!(value("IncidentsResolved"), vec![(2.0, "Count")]);
    assert_eq!(value("TimeToRecover"), vec![(184.0, "Seconds")]);
}
