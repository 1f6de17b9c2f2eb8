//! Rebound's library: everything the functions and the CLI share.
//!
//! - [`ids`]: validated identifiers (parse, don't validate).
//! - [`domain`]: observed state and the incident record; no SDK types.
//! - [`trigger`]: raw Lambda events → what to do, or why to ignore them.
//! - [`policy`]: the pure decision and every safety guard.
//! - [`workflow`]: the one incident workflow every resource kind goes through: read,
//!   observe, decide, write ahead, act, record.
//! - [`ports`]: capability traits shaped like the domain.
//! - [`aws`]: adapters implementing the ports with the AWS SDK.
//! - [`handlers`]: the functions' logic, generic over the ports.
//! - [`config`], [`error`], [`telemetry`]: typed environment, classified errors, logs
//!   and metrics.
//! - [`readable`]: what people read — short names, console links, durations.
//! - `fakes` (feature `test-util`): in-memory ports for tests.
//! - `properties` (tests only): property-based tests of every parser and the policy.

pub mod aws;
pub mod config;
pub mod domain;
pub mod error;
pub mod handlers;
pub mod ids;
pub mod policy;
pub mod ports;
pub mod readable;
pub mod telemetry;
pub mod trigger;
pub mod workflow;

#[cfg(any(test, feature = "test-util"))]
pub mod fakes;

#[cfg(test)]
mod properties;

pub use error::Error;
