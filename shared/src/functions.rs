//! The functions Rebound deploys, as template.yaml names them, with every environment
//! variable each one reads: the one list the binaries read their configuration through,
//! the template is held against (`tests/tests/template_environment.rs`), and the
//! configuration chapter documents.

use crate::config::{Common, ConfigError, Env, Settings, Store, Variable};
use crate::kinds::{database, target_group, zone};
use crate::zonal::ZonalRule;

/// One deployed function.
#[derive(Debug, Clone, Copy)]
pub struct Deployed {
    /// The binary, the folder under `functions/`, the SAM `Binary:` property and the
    /// metrics' `Function` dimension.
    pub name: &'static str,
    /// The SAM logical ID.
    pub logical_id: &'static str,
    /// The variable tables its configuration reads.
    pub variables: &'static [&'static [Variable]],
    /// Whether a schedule sweeps with it (and its heartbeat alarm watches the sweeps).
    pub sweeps: bool,
    /// Reads its whole configuration, as its binary does at cold start.
    pub read: fn(&Env<'_>) -> Result<(), ConfigError>,
}

impl Deployed {
    /// Every variable it reads.
    pub fn reads(&self) -> impl Iterator<Item = &'static Variable> {
        self.variables.iter().flat_map(|table| table.iter())
    }
}

pub const TARGET_HEALTH: Deployed = Deployed {
    name: target_group::FUNCTION,
    logical_id: "TargetHealthFunction",
    variables: &[
        Common::VARIABLES,
        Store::VARIABLES,
        Settings::VARIABLES,
        ZonalRule::VARIABLES,
        target_group::Policy::VARIABLES,
    ],
    sweeps: true,
    read: |env| TargetHealthConfig::read(env, target_group::Policy::read).map(drop),
};

pub const RDS_HEALTH: Deployed = Deployed {
    name: database::FUNCTION,
    logical_id: "RdsHealthFunction",
    variables: &[
        Common::VARIABLES,
        Store::VARIABLES,
        Settings::VARIABLES,
        database::Policy::VARIABLES,
    ],
    sweeps: true,
    read: |env| RdsHealthConfig::read(env, database::Policy::read).map(drop),
};

pub const ZONE_HEALTH: Deployed = Deployed {
    name: zone::FUNCTION,
    logical_id: "ZoneHealthFunction",
    variables: &[
        Common::VARIABLES,
        Store::VARIABLES,
        Settings::VARIABLES,
        ZonalRule::VARIABLES,
        zone::Policy::VARIABLES,
    ],
    sweeps: true,
    read: |env| ZoneHealthConfig::read(env, zone::Policy::read).map(drop),
};

pub const INCIDENT_NOTIFIER: Deployed = Deployed {
    name: crate::notifier::FUNCTION,
    logical_id: "IncidentNotifierFunction",
    variables: &[Common::VARIABLES, crate::notifier::Config::VARIABLES],
    sweeps: false,
    read: |env| NotifierFunctionConfig::read(env).map(drop),
};

/// Every function template.yaml deploys.
pub const DEPLOYED: [Deployed; 4] = [TARGET_HEALTH, RDS_HEALTH, ZONE_HEALTH, INCIDENT_NOTIFIER];

/// A watching function's configuration: what every function reads, where incidents are
/// kept, and its kind's policy (with the shared settings).
#[derive(Debug, Clone, PartialEq)]
pub struct WatcherConfig<P> {
    pub common: Common,
    pub store: Store,
    pub policy: P,
}

impl<P> WatcherConfig<P> {
    pub fn read(
        env: &Env<'_>,
        policy: impl FnOnce(&Env<'_>) -> Result<P, ConfigError>,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            common: Common::read(env)?,
            store: Store::read(env)?,
            policy: policy(env)?,
        })
    }
}

/// target-health's configuration.
pub type TargetHealthConfig = WatcherConfig<target_group::Policy>;
/// rds-health's configuration.
pub type RdsHealthConfig = WatcherConfig<database::Policy>;
/// zone-health's configuration.
pub type ZoneHealthConfig = WatcherConfig<zone::Policy>;

impl TargetHealthConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        crate::config::from_env(|env| Self::read(env, target_group::Policy::read))
    }
}

impl RdsHealthConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        crate::config::from_env(|env| Self::read(env, database::Policy::read))
    }
}

impl ZoneHealthConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        crate::config::from_env(|env| Self::read(env, zone::Policy::read))
    }
}

/// incident-notifier's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifierFunctionConfig {
    pub common: Common,
    pub notifier: crate::notifier::Config,
}

impl NotifierFunctionConfig {
    pub fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            common: Common::read(env)?,
            notifier: crate::notifier::Config::read(env)?,
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        crate::config::from_env(Self::read)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    use super::*;

    /// Reads a function's configuration with every variable it declares set to a value
    /// in range, recording what was asked: each function reads exactly what it declares.
    fn asked_by(function: &Deployed) -> BTreeSet<String> {
        let declared: HashMap<&str, String> = function
            .reads()
            .map(|v| {
                let value = match v.shape {
                    crate::config::Shape::Number { default, .. } => default.to_string(),
                    crate::config::Shape::Choice { default, .. } => default.to_owned(),
                    // A list of ACTION=MODE pairs; empty is every action auto.
                    crate::config::Shape::Text { .. }
                        if v.name == crate::config::APPROVAL_MODES.name =>
                    {
                        String::new()
                    }
                    crate::config::Shape::Text { .. } => "rebound-x".to_owned(),
                };
                (v.name, value)
            })
            .collect();
        let asked = std::sync::Mutex::new(BTreeSet::new());
        let lookup = |name: &str| {
            asked.lock().unwrap().insert(name.to_owned());
            declared.get(name).cloned()
        };
        let env = Env::new(&lookup);
        (function.read)(&env).unwrap_or_else(|e| panic!("{}: {e}", function.name));
        asked.into_inner().unwrap()
    }

    #[test]
    fn every_function_reads_exactly_the_variables_it_declares() {
        for function in DEPLOYED {
            let declared: BTreeSet<String> = function.reads().map(|v| v.name.to_owned()).collect();
            assert_eq!(asked_by(&function), declared, "{}", function.name);
        }
    }

    #[test]
    fn no_variable_is_declared_twice_with_different_meanings() {
        let mut seen: HashMap<&str, &Variable> = HashMap::new();
        for function in DEPLOYED {
            for variable in function.reads() {
                if let Some(earlier) = seen.insert(variable.name, variable) {
                    assert_eq!(earlier, variable, "{}", variable.name);
                }
            }
        }
    }
}
