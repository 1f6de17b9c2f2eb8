//! Handler tier for the notifier: every stream sample, state-change filtering, partial
//! batch failures, parking what SNS refuses for good.

use std::path::PathBuf;

use super::*;
use crate::domain::{Evidence, IncidentRecord, Opening, ResourceRef};
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
    let opened = Incident::open(
        Opening {
            resource: ResourceRef::new(
                crate::kinds::target_group::TARGET_GROUP,
                "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/1",
            ),
            trigger: "alarm:x".into(),
            evidence: Evidence::default(),
            summary: "é".repeat(300),
            rto_s: None,
            drill: None,
        },
        chrono::Utc::now(),
    );
    let incident = opened.stored_with(|r: &mut IncidentRecord| r.state = IncidentState::Escalated);
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

// One message per transition, nothing for writes that keep the state, and a retry that
// may repeat a message but never skips one.

/// A stream record of one write of the sample incident: from `from` (none: the first
/// write) to `to`, at stream position `sequence`.
fn write(from: Option<&str>, to: &str, sequence: u32) -> EventRecord {
    let mut record = stream_event("stream-incident-opened.json")
        .records
        .remove(0);
    let state = |s: &str| serde_dynamo::AttributeValue::S(s.to_owned());
    record.change.new_image.insert("state".into(), state(to));
    record.change.old_image = match from {
        None => Default::default(),
        Some(from) => {
            let mut old = record.change.new_image.clone();
            old.insert("state".into(), state(from));
            old
        }
    };
    record.event_name = if from.is_none() { "INSERT" } else { "MODIFY" }.into();
    record.change.sequence_number = Some(format!("44215845{sequence:020}"));
    record
}

/// An incident's life on the stream: opened, remediating, two writes that keep the state
/// (an action's outcome, a recovery phase), escalated, remediating again, resolved.
fn lifecycle() -> StreamEvent {
    let mut event = stream_event("stream-incident-opened.json");
    event.records = vec![
        write(None, "open", 1),
        write(Some("open"), "remediating", 2),
        write(Some("remediating"), "remediating", 3),
        write(Some("remediating"), "remediating", 4),
        write(Some("remediating"), "escalated", 5),
        write(Some("escalated"), "remediating", 6),
        write(Some("remediating"), "resolved", 7),
    ];
    event
}

const ANNOUNCED: [&str; 5] = [
    "open",
    "remediating",
    "escalated",
    "remediating",
    "resolved",
];

fn states(notifier: &RecordingNotifier) -> Vec<String> {
    notifier
        .published()
        .iter()
        .map(|n| n.state.clone())
        .collect()
}

/// What Lambda does with the answer under ReportBatchItemFailures: the records from the
/// reported one onward come back; with nothing reported the batch is done.
fn redelivered(event: &StreamEvent, response: &DynamoDbEventResponse) -> Option<StreamEvent> {
    let failed = response
        .batch_item_failures
        .first()?
        .item_identifier
        .clone();
    let from = event
        .records
        .iter()
        .position(|r| r.change.sequence_number == failed)
        .expect("the reported record is in the batch");
    let mut again = event.clone();
    again.records.drain(..from);
    Some(again)
}

/// Handles `event` and every redelivery until the stream has moved past it.
async fn until_delivered(handler: &Handler, mut event: StreamEvent) {
    for _ in 0..10 {
        let response = handler.handle(event.clone()).await.unwrap();
        match redelivered(&event, &response) {
            Some(next) => event = next,
            None => return,
        }
    }
    panic!("still not delivered after 10 attempts");
}

/// True when `expected` appears in `published` in order, each entry at least once.
fn covers_in_order(published: &[String], expected: &[&str]) -> bool {
    let mut rest = published.iter();
    expected
        .iter()
        .all(|state| rest.by_ref().any(|p| p == state))
}

#[tokio::test]
async fn each_transition_is_announced_once_in_order_and_writes_that_keep_the_state_are_not() {
    let (handler, notifier) = handler();
    let response = handler.handle(lifecycle()).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(states(&notifier), ANNOUNCED);
    let previous: Vec<Option<String>> = notifier
        .published()
        .iter()
        .map(|n| {
            let body: serde_json::Value = serde_json::from_str(&n.json).unwrap();
            body["previous_state"].as_str().map(str::to_owned)
        })
        .collect();
    assert_eq!(
        previous,
        [
            None,
            Some("open"),
            Some("remediating"),
            Some("escalated"),
            Some("remediating")
        ]
        .map(|p| p.map(str::to_owned))
    );
}

#[tokio::test]
async fn a_write_that_keeps_the_state_announces_nothing() {
    let (handler, notifier) = handler();
    let mut event = lifecycle();
    event.records = vec![write(Some("remediating"), "remediating", 3)];
    let response = handler.handle(event).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert!(notifier.published().is_empty());
}

#[tokio::test]
async fn a_failure_at_any_record_is_retried_from_that_record_and_no_change_is_skipped() {
    for fail_at in 0..ANNOUNCED.len() {
        let (handler, notifier) = handler();
        notifier.fail_after(fail_at);
        until_delivered(&handler, lifecycle()).await;
        let published = states(&notifier);
        assert!(
            covers_in_order(&published, &ANNOUNCED),
            "failure at message {fail_at}: {published:?}"
        );
        // The handler stopped at the failed record, so nothing after it went out ahead
        // of it and nothing before it went out twice.
        assert_eq!(published, ANNOUNCED, "failure at message {fail_at}");
    }
}

#[tokio::test]
async fn a_crash_before_answering_repeats_the_batch_which_repeats_messages_but_skips_none() {
    for crash_after in 0..ANNOUNCED.len() {
        let (handler, notifier) = handler();
        // The invocation publishes `crash_after` messages and dies: Lambda never gets
        // an answer and delivers the whole batch again.
        notifier.fail_after(crash_after);
        let _lost_answer = handler.handle(lifecycle()).await.unwrap();
        until_delivered(&handler, lifecycle()).await;
        let published = states(&notifier);
        assert!(
            covers_in_order(&published, &ANNOUNCED),
            "crash after {crash_after}: {published:?}"
        );
        assert_eq!(
            published.len(),
            ANNOUNCED.len() + crash_after,
            "repeats, not losses"
        );
    }
}

#[tokio::test]
async fn with_a_chat_topic_each_change_goes_to_both_and_a_chat_failure_repeats_never_skips() {
    let topic = RecordingNotifier::default();
    let chat = RecordingNotifier::default();
    let handler: Handler = NotifierHandler::new(topic.clone(), None).with_chat(chat.clone());
    // The chat topic throttles its second message: the record comes back whole.
    chat.fail_after(1);
    until_delivered(&handler, lifecycle()).await;

    assert_eq!(states(&chat), ANNOUNCED);
    let on_topic = states(&topic);
    assert!(covers_in_order(&on_topic, &ANNOUNCED), "{on_topic:?}");
    assert_eq!(
        on_topic,
        [
            "open",
            "remediating",
            "remediating",
            "escalated",
            "remediating",
            "resolved"
        ],
        "the topic's copy of the retried change is repeated"
    );
    let card: serde_json::Value = serde_json::from_str(&chat.published()[0].chatbot).unwrap();
    assert_eq!(card["version"], "1.0");
    assert_eq!(card["source"], "custom");
}

#[tokio::test]
async fn a_chat_card_refused_for_good_is_parked_as_a_chat_message_and_the_stream_moves_on() {
    let topic = RecordingNotifier::default();
    let chat = RecordingNotifier::default();
    let parked = ParkedNotifications::default();
    let handler: Handler =
        NotifierHandler::new(topic.clone(), Some(parked.clone())).with_chat(chat.clone());
    chat.refuse_next(1);
    let response = handler.handle(two_changes()).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(states(&topic), ["open", "resolved"]);
    assert_eq!(states(&chat), ["resolved"]);
    let parked = parked.parked();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].channel, crate::ports::Channel::Chatbot);
    assert_eq!(parked[0].state, IncidentState::Open);
}

#[tokio::test]
async fn every_message_carries_the_resource_id_for_filter_policies() {
    let (handler, notifier) = handler();
    handler.handle(lifecycle()).await.unwrap();
    for message in notifier.published() {
        let attributes = message.attributes();
        assert_eq!(
            attributes
                .into_iter()
                .map(|(name, _)| name)
                .collect::<Vec<_>>(),
            ["severity", "resource_type", "state", "resource_id"]
        );
        assert_eq!(
            message.resource_id,
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/rebound-demo-web/73e2d6bc24d8a067"
        );
    }
    let severities: Vec<String> = notifier
        .published()
        .iter()
        .map(|n| n.severity.clone())
        .collect();
    assert_eq!(
        severities,
        ["warning", "warning", "critical", "warning", "info"]
    );
}

#[tokio::test]
async fn console_links_come_from_the_resource_arn() {
    let (handler, notifier) = handler();
    handler
        .handle(stream_event("stream-incident-opened.json"))
        .await
        .unwrap();
    let text = &notifier.published()[0].text;
    assert!(
        text.contains("  Target group: https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#TargetGroup:targetGroupArn=arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/rebound-demo-web/73e2d6bc24d8a067\n"),
        "{text}"
    );
}

#[tokio::test]
async fn the_first_mitigation_is_announced_though_the_state_stays() {
    // The resolved sample's second record changes only updated_at (state unchanged).
    let sample = stream_event("stream-incident-resolved.json");
    let mut record = sample.records[1].clone();
    let mitigated = serde_dynamo::AttributeValue::S("2026-11-26T10:16:10Z".into());
    record
        .change
        .new_image
        .insert("mitigated_at".into(), mitigated.clone());
    let mut event = sample.clone();
    event.records = vec![record.clone()];
    let (first, notifier) = handler();
    first.handle(event.clone()).await.unwrap();
    assert_eq!(
        notifier.published().len(),
        1,
        "first mitigation: one message"
    );
    // Mitigated already before this write: nothing new to say.
    record
        .change
        .old_image
        .insert("mitigated_at".into(), mitigated);
    event.records = vec![record];
    let (again, notifier) = handler();
    again.handle(event).await.unwrap();
    assert!(notifier.published().is_empty());
}
