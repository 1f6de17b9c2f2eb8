//! The functions' logic, generic over the ports so the same code runs in Lambda, in
//! `rebound invoke` and in tests with fakes.

pub mod notifier;
pub mod rds_health;
pub mod target_health;
