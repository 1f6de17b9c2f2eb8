//! Any environment (`NAME=value` lines): a configuration within the documented ranges,
//! or an error naming a variable that is set.
#![no_main]

use std::collections::HashMap;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use rebound::config::{Config, ConfigError, Mode};
use rebound_fuzz::Tally;

static TALLY: LazyLock<Tally> = LazyLock::new(|| Tally::new(&["inputs", "configs", "errors"]));

fuzz_target!(|data: &[u8]| {
    TALLY.hit(0);
    let text = String::from_utf8_lossy(data);
    let vars: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
    match Config::from_lookup(|name| vars.get(name).map(|v| (*v).to_owned())) {
        Ok(config) => {
            TALLY.hit(1);
            let policy = &config.policy;
            assert!(!config.incidents_table.trim().is_empty());
            assert!((1..=100).contains(&policy.max_unhealthy_percent));
            assert!((1..=100).contains(&policy.max_in_flight_per_group));
            assert!((1..=64).contains(&policy.sweep_concurrency));
            if policy.mode == Mode::Enforce {
                assert_eq!(vars.get("MODE").copied(), Some("enforce"));
            }
        }
        Err(ConfigError::Missing(name)) => {
            TALLY.hit(2);
            assert_eq!(name, "INCIDENTS_TABLE");
        }
        Err(err @ ConfigError::Invalid { name, .. }) => {
            TALLY.hit(2);
            assert!(err.to_string().contains(name));
            assert!(vars.contains_key(name));
        }
    }
});
