//! Any input as a DynamoDB stream batch (raw bytes, or a sample batch mutated by the
//! input's bytes): what decodes is answered with a response (never an error for the
//! whole batch), at most one failed record, and every message within SNS's limits.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use rebound::notifier::StreamEvent;
use rebound_fuzz::{
    assert_within_sns_limits, block_on, json_input, notifier, Tally, STREAM_SAMPLES,
};

static TALLY: LazyLock<Tally> =
    LazyLock::new(|| Tally::new(&["inputs", "json", "stream_events", "records", "published"]));

fuzz_target!(|data: &[u8]| {
    TALLY.hit(0);
    let Some(value) = json_input(data, &STREAM_SAMPLES) else {
        return;
    };
    TALLY.hit(1);
    let Ok(event) = serde_json::from_value::<StreamEvent>(value) else {
        return;
    };
    TALLY.hit(2);
    let records = event.records.len();
    (0..records).for_each(|_| TALLY.hit(3));
    let (handler, published) = notifier();
    // allow: an invariant under test: a panic is the crash libFuzzer reports
    let response = block_on(handler.handle(event)).expect("a stream batch is always answered");
    assert!(response.batch_item_failures.len() <= 1.min(records));
    for message in published.published() {
        assert_within_sns_limits(&message);
        TALLY.hit(4);
    }
});
