//! The environment: any set of variables gives a configuration within the documented
//! ranges, or an error that names the variable at fault.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::TestRunner;

use super::config as runner_config;
use super::json::interesting_string;
use crate::config::{Config, ConfigError, Mode};

const NUMBERS: [&str; 10] = [
    "MAX_UNHEALTHY_PERCENT",
    "MAX_IN_FLIGHT_PER_GROUP",
    "COOLDOWN_SECONDS",
    "ACTION_BUDGET_PER_HOUR",
    "PENDING_ACTION_TIMEOUT_SECONDS",
    "RECOVERY_TIMEOUT_SECONDS",
    "REPLACEMENT_LOOP_WINDOW_SECONDS",
    "REPLACEMENT_LOOP_LIMIT",
    "SWEEP_CONCURRENCY",
    "INCIDENT_RETENTION_DAYS",
];

const TEXTS: [&str; 6] = [
    "MODE",
    "REPLACEMENT_METHOD",
    "MANAGED_TAG_KEY",
    "NOTIFY_TOPIC_ARN",
    "FAILED_NOTIFICATIONS_QUEUE_URL",
    "INCIDENTS_TABLE",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (0u64..100_000).prop_map(|n| n.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => Just("18446744073709551616".to_owned()),
        1 => (0u64..100).prop_map(|n| format!("  {n}\t")),
        1 => prop::sample::select(vec!["enforce", "dry-run", "terminate", "set-instance-health", "", " "])
            .prop_map(str::to_owned),
        2 => interesting_string(),
    ]
}

fn environment() -> impl Strategy<Value = BTreeMap<String, String>> {
    let names: Vec<&'static str> = NUMBERS.iter().chain(TEXTS.iter()).copied().collect();
    prop::collection::btree_map(
        prop::sample::select(names).prop_map(str::to_owned),
        value(),
        0..12,
    )
}

#[test]
fn any_environment_gives_a_config_in_range_or_names_the_bad_variable() {
    let mut runner = TestRunner::new(runner_config());
    runner
        .run(&environment(), |vars| {
            match Config::from_lookup(|name| vars.get(name).cloned()) {
                Ok(config) => {
                    let policy = &config.policy;
                    prop_assert!(!config.incidents_table.trim().is_empty());
                    prop_assert!((1..=100).contains(&policy.max_unhealthy_percent));
                    prop_assert!((1..=100).contains(&policy.max_in_flight_per_group));
                    prop_assert!((1..=64).contains(&policy.sweep_concurrency));
                    prop_assert!((1..=100).contains(&policy.replacement_loop_limit));
                    prop_assert!(policy.cooldown.as_secs() <= 86_400);
                    prop_assert!((1..=3650).contains(&config.incident_retention_days));
                    // Unset or blank MODE is dry-run: enforce only when asked for.
                    if policy.mode == Mode::Enforce {
                        prop_assert_eq!(vars.get("MODE").map(String::as_str), Some("enforce"));
                    }
                }
                Err(ConfigError::Missing(name)) => {
                    prop_assert_eq!(name, "INCIDENTS_TABLE");
                }
                Err(err @ ConfigError::Invalid { name, .. }) => {
                    prop_assert!(err.to_string().contains(name));
                    prop_assert!(vars.contains_key(name));
                }
            }
            Ok(())
        })
        // allow: property test (the module is cfg(test)): a panic is how a case fails
        .unwrap();
}
