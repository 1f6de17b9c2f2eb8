//! Stream records: any batch the event source mapping could deliver (mutated samples,
//! arbitrary JSON, and records of arbitrary incidents) is answered with a response —
//! never a panic — and every message published stays within SNS's limits.

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::{json, Value};

use super::json::events_for;
use super::{block_on, config};
use crate::domain::Incident;
use crate::fakes::{ParkedNotifications, RecordingNotifier};
use crate::notifier::{NotifierHandler, StreamEvent, MAX_MESSAGE_BYTES, MAX_SUBJECT_CHARS};

fn deliver(event: StreamEvent) -> Result<(usize, Vec<crate::ports::Notification>), TestCaseError> {
    let notifier = RecordingNotifier::default();
    let handler = NotifierHandler::new(notifier.clone(), Some(ParkedNotifications::default()));
    let records = event.records.len();
    let response = block_on(handler.handle(event));
    prop_assert!(response.is_ok(), "the handler failed: {:?}", response.err());
    // allow: property test (the module is cfg(test)): a panic is how a case fails
    let failures = response.expect("checked").batch_item_failures.len();
    prop_assert!(failures <= 1, "stops at the first failure");
    prop_assert!(failures <= records);
    Ok((failures, notifier.published()))
}

use proptest::test_runner::TestCaseError;

fn check_limits(published: &[crate::ports::Notification]) -> Result<(), TestCaseError> {
    for message in published {
        prop_assert!(message.subject.chars().count() <= MAX_SUBJECT_CHARS);
        prop_assert!(!message.subject.chars().any(char::is_control));
        let attributes: usize = message
            .attributes()
            .iter()
            .map(|(name, value)| name.len() + value.len() + "String".len())
            .sum();
        prop_assert!(message.message_by_protocol().len() + attributes <= MAX_MESSAGE_BYTES);
    }
    Ok(())
}

#[test]
fn any_stream_batch_is_answered_within_sns_limits() {
    let mut runner = TestRunner::new(config());
    runner
        .run(&events_for("incident-notifier"), |value| {
            // What does not even decode as a stream event is refused by the runtime
            // before the handler sees it.
            if let Ok(event) = serde_json::from_value::<StreamEvent>(value) {
                let (_, published) = deliver(event)?;
                check_limits(&published)?;
            }
            Ok(())
        })
        // allow: property test (the module is cfg(test)): a panic is how a case fails
        .unwrap();
}

/// An INSERT record of this incident, as the stream delivers it.
fn record(incident: &Incident, sequence: usize) -> Value {
    // allow: property test (the module is cfg(test)): a panic is how a case fails
    let item: serde_dynamo::Item = serde_dynamo::to_item(incident).expect("an incident encodes");
    // allow: property test (the module is cfg(test)): a panic is how a case fails
    let mut image = serde_json::to_value(item).expect("an item is JSON");
    image["kind"] = json!({"S": "incident"});
    json!({
        "eventID": format!("e{sequence}"),
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "Keys": {"pk": {"S": format!("incident#{}", incident.id)}},
            "NewImage": image,
            "SequenceNumber": format!("{sequence:021}"),
            "SizeBytes": 1,
            "StreamViewType": "NEW_AND_OLD_IMAGES"
        }
    })
}

#[test]
fn every_new_incident_is_announced_once_within_sns_limits() {
    let mut runner = TestRunner::new(config());
    runner
        .run(
            &prop::collection::vec(super::items::incident(), 1..4),
            |incidents| {
                let records: Vec<Value> = incidents
                    .iter()
                    .enumerate()
                    .map(|(n, i)| record(i, n))
                    .collect();
                let event: StreamEvent = serde_json::from_value(json!({ "Records": records }))
                    .map_err(|e| TestCaseError::fail(format!("not a stream event: {e}")))?;
                let (failures, published) = deliver(event)?;
                prop_assert_eq!(failures, 0);
                prop_assert_eq!(published.len(), incidents.len());
                check_limits(&published)?;
                Ok(())
            },
        )
        // allow: property test (the module is cfg(test)): a panic is how a case fails
        .unwrap();
}
