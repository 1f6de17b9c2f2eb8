//! The environment: for every deployed function, any set of variables gives a
//! configuration whose every value is within its declared range, or an error that names
//! the variable at fault; and a function reads nothing it does not declare.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::TestRunner;

use super::config as runner_config;
use super::json::interesting_string;
use crate::config::{ConfigError, Env, Shape};
use crate::functions::DEPLOYED;

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (0u64..100_000).prop_map(|n| n.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => Just("18446744073709551616".to_owned()),
        1 => (0u64..100).prop_map(|n| format!("  {n}\t")),
        1 => prop::sample::select(vec!["enforce", "dry-run", "terminate", "set-instance-health", "true", "false", "", " "])
            .prop_map(str::to_owned),
        2 => interesting_string(),
    ]
}

/// Any of the variables any function declares, set to anything.
fn environment() -> impl Strategy<Value = BTreeMap<String, String>> {
    let names: Vec<&'static str> = DEPLOYED
        .iter()
        .flat_map(|f| f.reads().map(|v| v.name))
        .collect();
    prop::collection::btree_map(
        prop::sample::select(names).prop_map(str::to_owned),
        value(),
        0..16,
    )
}

#[test]
fn any_environment_gives_every_function_a_config_in_range_or_names_the_bad_variable() {
    let mut runner = TestRunner::new(runner_config());
    runner
        .run(&environment(), |vars| {
            for function in DEPLOYED {
                let lookup = |name: &str| vars.get(name).cloned();
                match (function.read)(&Env::new(&lookup)) {
                    Ok(()) => {
                        // Every number that was set and accepted is within its range.
                        for variable in function.reads() {
                            let (Shape::Number { min, max, .. }, Some(text)) =
                                (variable.shape, vars.get(variable.name))
                            else {
                                continue;
                            };
                            if let Ok(n) = text.trim().parse::<u64>() {
                                prop_assert!((min..=max).contains(&n), "{}={}", variable.name, n);
                            }
                        }
                        // Unset or blank MODE is dry-run: enforce only when asked for.
                    }
                    Err(ConfigError::Missing(name)) => {
                        let declared = function.reads().any(|v| v.name == name);
                        prop_assert!(declared, "{} is not a variable of {}", name, function.name);
                        prop_assert!(vars.get(name).is_none_or(|v| v.trim().is_empty()));
                    }
                    Err(err @ ConfigError::Invalid { name, .. }) => {
                        prop_assert!(err.to_string().contains(name));
                        prop_assert!(vars.contains_key(name));
                    }
                }
            }
            Ok(())
        })
        // allow: property test (the module is cfg(test)): a panic is how a case fails
        .unwrap();
}
