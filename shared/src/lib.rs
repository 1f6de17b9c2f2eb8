//! Rebound's library: everything the functions and the CLI share.
//!
//! - [`ids`]: validated identifiers (parse, don't validate).
//! - [`domain`]: resources, the incident record and its one transition function, the
//!   decision a check takes, the action ledgers; no SDK type and no kind of resource.
//! - [`config`]: typed environment, every variable declared once with its range;
//!   [`functions`]: the deployed functions and what each reads.
//! - [`policy`]: what every kind's decision shares (ledger guards, recovery objectives).
//! - [`kind`]: what a kind of resource supplies to the shell and the workflow.
//! - [`workflow`]: the one incident workflow: read, observe, decide, write ahead, act,
//!   record.
//! - [`shell`]: the one function shell: route a delivery to checks, the sweep, the
//!   deadline, the report, the metrics, the retry verdict.
//! - [`trigger`]: raw Lambda events → the schedule, an alarm, or another event.
//! - [`kinds`]: each kind of resource (target groups, DB instances, zones), and the
//!   registry of how their incidents read; [`zonal`]: the rule that tells a zone's
//!   failure from its instances' (both zone-aware kinds read it).
//! - [`view`]: what a kind supplies for people (its evidence digest, next steps, names
//!   and console pages).
//! - [`notifier`]: the incidents stream in, one message per state change out.
//! - [`ports`]: capability traits shaped like the domain; [`aws`]: their adapters.
//! - [`pause`]: people saying "not now" (a pause, a maintenance window), read from tags;
//!   [`change`]: people changing a group (a CloudFormation stack update, a CodeDeploy
//!   deployment in progress);
//!   [`approval`]: people deciding first (an action's mode: auto, approve, never);
//!   [`by_hand`]: what a person does to an incident (close, acknowledge, approve, deny).
//! - [`init`]: the init phase (an invalid configuration reported to Lambda).
//! - [`error`], [`telemetry`], [`readable`]: classified errors, logs and metrics,
//!   durations and names as people read them.
//! - `fakes` (feature `test-util`): in-memory ports for tests.
//! - `properties` (tests only): property-based tests of every parser and the policy.

pub mod approval;
pub mod aws;
pub mod by_hand;
pub mod change;
pub mod config;
pub mod domain;
pub mod error;
pub mod functions;
pub mod ids;
pub mod init;
pub mod kind;
pub mod kinds;
pub mod notifier;
pub mod pause;
pub mod policy;
pub mod ports;
pub mod readable;
pub mod shell;
pub mod telemetry;
pub mod trigger;
pub mod view;
pub mod workflow;
pub mod zonal;

#[cfg(any(test, feature = "test-util"))]
pub mod fakes;

#[cfg(test)]
mod properties;
#[cfg(test)]
mod shell_suite;

pub use error::Error;
