//! Any input as a target-health event (raw bytes, or a sample event mutated by the
//! input's bytes): the parser answers a trigger, an ignore or an invalid-event error;
//! the handler (fakes, enforce) answers a report or a classified error, and acts only
//! on a real trigger.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use rebound::config::Mode;
use rebound::kinds::target_group::trigger::parse as parse_target_health_event;
use rebound::shell::{Parsed, ReportStatus};
use rebound::Error;
use rebound_fuzz::{block_on, json_input, sample_account, Tally, TARGET_HEALTH_SAMPLES};

static TALLY: LazyLock<Tally> = LazyLock::new(|| {
    Tally::new(&[
        "inputs",
        "json_events",
        "triggers",
        "ignored",
        "invalid",
        "actions",
    ])
});

fuzz_target!(|data: &[u8]| {
    TALLY.hit(0);
    let Some(event) = json_input(data, &TARGET_HEALTH_SAMPLES) else {
        return;
    };
    TALLY.hit(1);
    let parsed = parse_target_health_event(&event);
    match &parsed {
        Ok(Parsed::Trigger(_)) => TALLY.hit(2),
        Ok(Parsed::Ignored(_)) => TALLY.hit(3),
        Err(err) => {
            assert!(
                matches!(err, Error::InvalidEvent(_)),
                "not an invalid-event error: {err}"
            );
            TALLY.hit(4);
        }
    }
    let (fleet, store, handler) = sample_account(Mode::Enforce);
    let answer = block_on(handler.handle(event));
    match (&parsed, &answer) {
        (Ok(Parsed::Ignored(_)), Ok(report)) => assert_eq!(report.status, ReportStatus::Ignored),
        (Ok(Parsed::Trigger(_)), Ok(report)) => assert_eq!(report.status, ReportStatus::Checked),
        (Err(_), Err(Error::InvalidEvent(_))) => {}
        (parsed, answer) => panic!("parse {parsed:?} but handler {answer:?}"),
    }
    if !fleet.replaced().is_empty() {
        TALLY.hit(5);
    }
    if !matches!(parsed, Ok(Parsed::Trigger(_))) {
        assert!(fleet.replaced().is_empty(), "acted on a non-trigger");
        assert!(store.incidents().is_empty(), "recorded a non-trigger");
    }
});
