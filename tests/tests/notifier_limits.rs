//! Integration tier for the notifier's limits: a message SNS refuses for good is parked
//! in an SQS queue and the stream moves on, with real SDK clients against the emulator.

use chrono::Utc;
use rebound::domain::{Change, Decision, Evidence, Incident, IncidentState, Opening, Verdict};
use rebound::ids::TargetGroupArn;
use rebound::kinds::target_group;
use rebound::notifier::StreamEvent;
use rebound::ports::{Commit, Committed, Freshness, IncidentStore};
use rebound_tests::stack::Managed;
use rebound_tests::{Emulator, Stack};
use serde_json::Value;

/// Every message waiting in `queue_url`, bodies parsed as JSON; each is deleted once read.
async fn drain(sdk: &aws_config::SdkConfig, queue_url: &str) -> Vec<Value> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut bodies = Vec::new();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .send()
            .await
            .expect("receive messages");
        if received.messages().is_empty() {
            return bodies;
        }
        for message in received.messages() {
            bodies
                .push(serde_json::from_str(message.body().unwrap_or_default()).expect("JSON body"));
            if let Some(handle) = message.receipt_handle() {
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .expect("delete message");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_sns_refuses_is_parked_and_the_next_change_is_still_announced() {
    let emulator = Emulator::start();
    let stack = Stack::provision(&emulator, Managed::Yes);
    let sdk = emulator.sdk_config().await;
    // provision.py makes no queue for parked notifications: the deployed stack's
    // FailedNotificationsQueue is made here.
    let parking = aws_sdk_sqs::Client::new(&sdk)
        .create_queue()
        .queue_name("rebound-test-failed-notifications")
        .send()
        .await
        .expect("create the failed-notifications queue")
        .queue_url()
        .expect("queue URL")
        .to_owned();
    let mut config = stack.notifier_config();
    config.failed_notifications_queue_url = Some(parking.clone());

    // Two state changes of one incident on the stream: opened, then remediating.
    let store = rebound::aws::incident_store(&stack.store_config(), &sdk);
    let arn = TargetGroupArn::parse(stack.web().target_group_arn.as_str()).unwrap();
    let mut incident = Incident::open(
        Opening {
            resource: target_group::target_group(&arn),
            trigger: "alarm:rebound-test-unhealthy-hosts".into(),
            evidence: Evidence::default(),
            summary: "1 of 4 targets unhealthy".into(),
            rto_s: None,
            drill: None,
        },
        Utc::now(),
    );
    fn commit(incident: &mut Incident, stored_state: Option<IncidentState>) -> Commit<'_> {
        Commit {
            incident,
            stored_state,
            ledgers: vec![],
            token: "test-writer",
            freshness: Freshness::Unchecked,
        }
    }
    assert_eq!(
        store.commit(commit(&mut incident, None)).await.unwrap(),
        Committed::Landed
    );
    // A person-readable move to remediating, as the lifecycle makes it (no action).
    let underway = Decision::plain(Verdict::Underway, "replacing i-0a1b2c3d".into());
    incident
        .apply(
            Utc::now(),
            Change::Decided {
                decision: &underway,
                intent: "",
                upkeep: "",
                writer: "test-writer",
                dry_run: false,
            },
        )
        .unwrap();
    assert_eq!(
        store
            .commit(commit(&mut incident, Some(IncidentState::Open)))
            .await
            .unwrap(),
        Committed::Landed
    );
    let state_file = std::env::temp_dir().join(format!(
        "rebound-notifier-limits-stream-{}",
        std::process::id()
    ));
    let stream: StreamEvent =
        serde_json::from_value(stack.pending_stream_event(&emulator, &state_file)).unwrap();
    std::fs::remove_file(&state_file).ok();
    assert_eq!(stream.records.len(), 2);
    let first_sequence = stream.records[0].change.sequence_number.clone().unwrap();

    // SNS refuses the first message for good. One fault is enough: the SDK does not
    // retry InvalidParameter, so a larger count would refuse the next message too.
    emulator.clear_requests();
    emulator.inject_fault("Publish", "InvalidParameter", 400, 1);
    let notifier = rebound::aws::notifier_handler(&config, &sdk);
    let response = notifier.handle(stream).await.unwrap();

    assert!(
        response.batch_item_failures.is_empty(),
        "the refused record counts as handled: {response:?}"
    );
    assert_eq!(
        emulator.calls_of("Publish"),
        2,
        "one refused, one published"
    );
    assert_eq!(emulator.calls_of("SendMessage"), 1, "one parked");

    let parked = drain(&sdk, &parking).await;
    assert_eq!(parked.len(), 1, "{parked:#?}");
    let parked = &parked[0];
    assert_eq!(parked["schema"], "rebound.failed-notification/1");
    assert_eq!(parked["incident_id"], incident.id.as_str());
    assert_eq!(parked["state"], "open");
    assert!(parked["previous_state"].is_null());
    assert_eq!(parked["sequence_number"], first_sequence.as_str());
    let error = parked["error"].as_str().unwrap();
    assert!(error.contains("InvalidParameter"), "{error}");
    let subject = parked["subject"].as_str().unwrap();
    assert!(
        subject.starts_with("[Rebound] OPEN target-group "),
        "{subject}"
    );
    assert_eq!(parked["message_attributes"]["state"], "open");
    assert_eq!(parked["message_attributes"]["severity"], "warning");
    // Everything needed to publish it again: the per-protocol message as SNS got it.
    let machine: Value =
        serde_json::from_str(parked["message"]["default"].as_str().unwrap()).unwrap();
    assert_eq!(machine["schema"], "rebound.incident-state-change/1");
    assert_eq!(machine["incident"]["id"], incident.id.as_str());
    assert!(parked["message"]["email"]
        .as_str()
        .unwrap()
        .starts_with("OPEN: target group "));

    let announced = stack.notifications(&sdk).await;
    let states: Vec<&str> = announced
        .iter()
        .map(|m| {
            m["MessageAttributes"]["state"]["Value"]
                .as_str()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(states, ["remediating"]);
    let subject = announced[0]["Subject"].as_str().unwrap();
    assert!(subject.chars().count() < 100, "{subject}");
}
