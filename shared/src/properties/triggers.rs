//! Trigger events: whatever arrives, the parser answers with a trigger, a reason to
//! ignore it, or an invalid-event error that says what is wrong; the handler answers
//! with a report or a classified error, and acts only on a real trigger.

use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};

use super::json::events_for;
use super::{block_on, config};
use crate::error::Error;
use crate::kinds::target_group::trigger::parse as parse_target_health_event;
use crate::shell::{Delivery, Parsed, ReportStatus};

#[test]
fn any_event_parses_to_a_trigger_an_ignore_or_a_clear_invalid_event() {
    let mut runner = TestRunner::new(config());
    runner
        .run(&events_for("target-health"), |event| {
            match parse_target_health_event(&event) {
                Ok(Parsed::Trigger(Delivery::Check { checks, .. })) => {
                    // A target group, or an instance AWS scheduled work on (which
                    // resolves to its group's target groups).
                    for (resource, _) in checks {
                        if resource.kind == crate::kinds::target_group::INSTANCE {
                            crate::ids::InstanceId::parse(resource.id)
                                .map_err(|e| TestCaseError::fail(e.to_string()))?;
                            continue;
                        }
                        let arn = crate::ids::TargetGroupArn::parse(resource.id)
                            .map_err(|e| TestCaseError::fail(e.to_string()))?;
                        prop_assert!(arn.full_name().starts_with("targetgroup/"));
                    }
                }
                Ok(Parsed::Trigger(Delivery::Sweep)) => {}
                Ok(Parsed::Ignored(reason)) => prop_assert!(!reason.is_empty()),
                Err(Error::InvalidEvent(why)) => prop_assert!(!why.is_empty()),
                Err(other) => prop_assert!(false, "not an invalid-event error: {other}"),
            }
            Ok(())
        })
        // allow: property test (the module is cfg(test)): a panic is how a case fails
        .unwrap();
}

#[test]
fn the_handler_answers_any_event_and_acts_only_on_a_trigger() {
    let mut runner = TestRunner::new(config());
    runner
        .run(&events_for("target-health"), |event| {
            // The sample target group with one failing, managed instance, enforcing.
            let world = super::dry_run::sample_world(crate::config::Mode::Enforce);
            let parsed = parse_target_health_event(&event);
            let answer = block_on(world.handler.handle(event));
            match (&parsed, &answer) {
                (Ok(Parsed::Ignored(_)), Ok(report)) => {
                    prop_assert_eq!(report.status, ReportStatus::Ignored);
                }
                (Ok(Parsed::Trigger(_)), Ok(report)) => {
                    prop_assert_eq!(report.status, ReportStatus::Checked);
                }
                (Err(_), Err(Error::InvalidEvent(_))) => {}
                (parsed, answer) => {
                    prop_assert!(false, "parse {parsed:?} but handler {answer:?}");
                }
            }
            if !matches!(parsed, Ok(Parsed::Trigger(_))) {
                prop_assert!(world.fleet.replaced().is_empty());
                prop_assert!(world.store.incidents().is_empty());
            }
            Ok(())
        })
        // allow: property test (the module is cfg(test)): a panic is how a case fails
        .unwrap();
}
