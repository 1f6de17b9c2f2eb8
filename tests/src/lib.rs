//! Shared harness for the integration and end-to-end tests.
//!
//! Each test starts its own emulator (moto + Rebound's fidelity layer, see
//! `emulator/README.md`) on a free loopback port and provisions a real HA stack in it;
//! dropping the [`Emulator`] stops the process. Tests therefore run in parallel without
//! sharing state, and nothing outlives them.

pub mod emulator;
pub mod http;
pub mod lambda;
pub mod scenario;
pub mod stack;

pub use emulator::Emulator;
pub use lambda::LocalLambda;
pub use stack::{Stack, TargetGroup, TargetGroupStack};

use std::path::PathBuf;

/// The repository root (the workspace this crate lives in).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The project virtualenv's Python, which has moto and boto3 (`scripts/test` creates it).
pub fn python() -> PathBuf {
    let python = repo_root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/test (it creates the project virtualenv from requirements-dev.txt)",
        python.display()
    );
    python
}

/// A sample event from `events/`, as JSON.
pub fn sample_event(relative: &str) -> serde_json::Value {
    let path = repo_root().join("events").join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
