//! Any environment (`NAME=value` lines): for every deployed function, a configuration
//! whose every number is within its declared range, or an error naming a variable that
//! is unset (a required one) or set to something out of range.
#![no_main]

use std::collections::HashMap;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use rebound::config::{ConfigError, Env, Shape};
use rebound::functions::DEPLOYED;
use rebound_fuzz::Tally;

static TALLY: LazyLock<Tally> = LazyLock::new(|| Tally::new(&["inputs", "configs", "errors"]));

fuzz_target!(|data: &[u8]| {
    TALLY.hit(0);
    let text = String::from_utf8_lossy(data);
    let vars: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
    let lookup = |name: &str| vars.get(name).map(|v| (*v).to_owned());
    for function in DEPLOYED {
        match (function.read)(&Env::new(&lookup)) {
            Ok(()) => {
                TALLY.hit(1);
                for variable in function.reads() {
                    if let (Shape::Number { min, max, .. }, Some(text)) =
                        (variable.shape, vars.get(variable.name))
                    {
                        if let Ok(n) = text.trim().parse::<u64>() {
                            assert!((min..=max).contains(&n), "{} out of range", variable.name);
                        }
                    }
                }
            }
            Err(ConfigError::Missing(name)) => {
                TALLY.hit(2);
                assert!(function.reads().any(|v| v.name == name));
            }
            Err(err @ ConfigError::Invalid { name, .. }) => {
                TALLY.hit(2);
                assert!(err.to_string().contains(name));
                assert!(vars.contains_key(name));
            }
        }
    }
});
