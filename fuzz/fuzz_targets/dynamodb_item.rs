//! Any DynamoDB item (DynamoDB JSON: raw bytes, or a sample incident item mutated by
//! the input's bytes): decodes to an incident or a ledger, or to an error; a decoded
//! incident encodes and decodes back to itself.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use rebound::domain::{Incident, Ledger};
use rebound_fuzz::{json_input, Tally, STREAM_SAMPLES};

static TALLY: LazyLock<Tally> =
    LazyLock::new(|| Tally::new(&["inputs", "items", "incidents", "ledgers"]));

/// The incident images of the sample stream events.
static ITEMS: LazyLock<Vec<String>> = LazyLock::new(|| {
    STREAM_SAMPLES
        .iter()
        .flat_map(|sample| {
            // allow: the samples are the repo's own event files compiled in, not fuzzer input
            let event: serde_json::Value = serde_json::from_str(sample).expect("a sample is JSON");
            event["Records"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["dynamodb"].get("NewImage").map(ToString::to_string))
                .collect::<Vec<_>>()
        })
        .collect()
});

fuzz_target!(|data: &[u8]| {
    TALLY.hit(0);
    let samples: Vec<&str> = ITEMS.iter().map(String::as_str).collect();
    let Some(value) = json_input(data, &samples) else {
        return;
    };
    let Ok(item) = serde_json::from_value::<serde_dynamo::Item>(value) else {
        return;
    };
    TALLY.hit(1);
    if serde_dynamo::from_item::<_, Ledger>(item.clone()).is_ok() {
        TALLY.hit(3);
    }
    if let Ok(incident) = serde_dynamo::from_item::<_, Incident>(item) {
        TALLY.hit(2);
        let again: serde_dynamo::Item =
            // allow: an invariant under test: a panic is the crash libFuzzer reports
            serde_dynamo::to_item(&incident).expect("an incident encodes");
        // allow: an invariant under test: a panic is the crash libFuzzer reports
        let back: Incident = serde_dynamo::from_item(again).expect("its own item decodes");
        assert_eq!(back, incident);
    }
});
