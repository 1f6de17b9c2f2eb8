//! Property-based tests (proptest). Every parser of external input answers any input
//! with a result or a clear error, never a panic: trigger events, stream records,
//! DynamoDB items, the environment. The policy never picks an action that breaks a
//! safety invariant of DESIGN.md, whatever it observes, and dry-run never makes a call.
//!
//! - [`json`]: arbitrary JSON and mutations of the sample events in `events/`;
//! - [`world`]: random observations (targets, groups, ledgers, incidents) and configs;
//! - [`tags`]: any tag value and any clock reading, through every kind's whole decision;
//! - one module per parser or property.
//!
//! Cases per property: `PROPTEST_CASES` (proptest's default, 256). `scripts/bench
//! --fuzz` runs them with far larger counts next to the cargo-fuzz targets.

mod config;
mod dry_run;
mod items;
mod json;
mod policy;
mod stream;
mod tags;
mod triggers;
mod world;

use proptest::test_runner::Config;

/// The runner configuration: proptest's own (so `PROPTEST_CASES` applies), without
/// persisting failures into the source tree; a failure prints its minimal input.
fn config() -> Config {
    Config {
        failure_persistence: None,
        ..Config::default()
    }
}

/// Properties that also check they are not vacuous (that the generators reach the
/// interesting path) do so only when enough cases ran for that to be near certain.
fn enough_cases_for_coverage_checks(config: &Config) -> bool {
    config.cases >= 256
}

/// One single-threaded runtime per case: handlers are async, the fakes are not.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        // allow: property test (the module is cfg(test)): a panic is how a case fails
        .expect("a current-thread runtime builds")
        .block_on(future)
}
