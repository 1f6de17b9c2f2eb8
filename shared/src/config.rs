//! Typed configuration, read once from the environment at cold start.
//!
//! Every variable a function reads is declared in a table ([`Variable`]: its name, its
//! default, its range, what it does) next to the code that reads it, and read only
//! through that declaration ([`Env`]), so what a function reads, what its template
//! passes it and what the documentation lists are one list: a test holds template.yaml
//! against every function's tables, and another the configuration chapter. Names are
//! part of the contract (DESIGN.md); every knob has a safe default.
//!
//! This module holds what every function shares ([`Common`]) and what every watching
//! function shares ([`Settings`]); each kind declares its own knobs beside it.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::domain::ActionKind;

/// What kind of value a variable holds, its default and its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A whole number in `min..=max`, in `unit` (`seconds`, `percent`, …, or "").
    Number {
        default: u64,
        min: u64,
        max: u64,
        unit: &'static str,
    },
    /// Free text; `None` as default means required, `Some("")` optional.
    Text { default: Option<&'static str> },
    /// One of the listed words.
    Choice {
        default: &'static str,
        options: &'static [&'static str],
    },
}

/// One environment variable a function reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    pub name: &'static str,
    pub shape: Shape,
    /// What it does, for the configuration chapter.
    pub about: &'static str,
}

impl Variable {
    pub const fn seconds(
        name: &'static str,
        default: u64,
        min: u64,
        max: u64,
        about: &'static str,
    ) -> Self {
        Self::number(name, default, min, max, "seconds", about)
    }

    pub const fn number(
        name: &'static str,
        default: u64,
        min: u64,
        max: u64,
        unit: &'static str,
        about: &'static str,
    ) -> Self {
        Self {
            name,
            shape: Shape::Number {
                default,
                min,
                max,
                unit,
            },
            about,
        }
    }

    pub const fn required(name: &'static str, about: &'static str) -> Self {
        Self {
            name,
            shape: Shape::Text { default: None },
            about,
        }
    }

    pub const fn optional(name: &'static str, about: &'static str) -> Self {
        Self {
            name,
            shape: Shape::Text { default: Some("") },
            about,
        }
    }

    pub const fn text(name: &'static str, default: &'static str, about: &'static str) -> Self {
        Self {
            name,
            shape: Shape::Text {
                default: Some(default),
            },
            about,
        }
    }

    pub const fn choice(
        name: &'static str,
        default: &'static str,
        options: &'static [&'static str],
        about: &'static str,
    ) -> Self {
        Self {
            name,
            shape: Shape::Choice { default, options },
            about,
        }
    }

    /// The range as the documentation states it: `0–86400 seconds`, `enforce | dry-run`.
    pub fn range(&self) -> String {
        match self.shape {
            Shape::Number {
                min, max, unit: "", ..
            } => format!("{min}–{max}"),
            Shape::Number { min, max, unit, .. } => format!("{min}–{max} {unit}"),
            Shape::Text { default: None } => "required".to_owned(),
            Shape::Text { .. } => "text".to_owned(),
            Shape::Choice { options, .. } => options.join(" | "),
        }
    }

    /// The default as the documentation states it.
    pub fn default_text(&self) -> String {
        match self.shape {
            Shape::Number { default, .. } => default.to_string(),
            Shape::Text { default: None } => "—".to_owned(),
            Shape::Text {
                default: Some(default),
            } => default.to_owned(),
            Shape::Choice { default, .. } => default.to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name}={value:?} is invalid: expected {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: String,
    },
}

/// Reads declared variables through a lookup (the process environment, or a test's
/// map). A blank value is unset.
pub struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Env<'a> {
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self { lookup }
    }

    fn raw(&self, variable: &Variable) -> Option<String> {
        (self.lookup)(variable.name).filter(|v| !v.trim().is_empty())
    }

    fn invalid(variable: &Variable, value: &str) -> ConfigError {
        ConfigError::Invalid {
            name: variable.name,
            value: value.to_owned(),
            expected: match variable.shape {
                Shape::Number { .. } => format!("a whole number, {}", variable.range()),
                _ => variable.range(),
            },
        }
    }

    /// A number variable, within its declared range.
    /// Whether the variable was given a (non-blank) value rather than its default.
    pub fn is_set(&self, variable: &Variable) -> bool {
        (self.lookup)(variable.name).is_some_and(|v| !v.trim().is_empty())
    }

    pub fn number(&self, variable: &Variable) -> Result<u64, ConfigError> {
        let Shape::Number {
            default, min, max, ..
        } = variable.shape
        else {
            return Err(Self::invalid(variable, "(not a number variable)"));
        };
        match self.raw(variable) {
            None => Ok(default),
            Some(text) => match text.trim().parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(Self::invalid(variable, &text)),
            },
        }
    }

    /// A seconds variable as a duration.
    pub fn duration(&self, variable: &Variable) -> Result<Duration, ConfigError> {
        self.number(variable).map(Duration::from_secs)
    }

    /// A number that fits in `T` (the declared range makes it fit).
    pub fn count<T: TryFrom<u64>>(&self, variable: &Variable) -> Result<T, ConfigError> {
        let n = self.number(variable)?;
        T::try_from(n).map_err(|_| Self::invalid(variable, &n.to_string()))
    }

    /// A text variable: `None` when optional and unset; an error when required and unset.
    pub fn text(&self, variable: &Variable) -> Result<Option<String>, ConfigError> {
        match (self.raw(variable), variable.shape) {
            (Some(text), _) => Ok(Some(text)),
            (None, Shape::Text { default: None }) => Err(ConfigError::Missing(variable.name)),
            (None, Shape::Text { default: Some("") }) => Ok(None),
            (
                None,
                Shape::Text {
                    default: Some(default),
                },
            ) => Ok(Some(default.to_owned())),
            (None, _) => Ok(None),
        }
    }

    /// A required text variable.
    pub fn required(&self, variable: &Variable) -> Result<String, ConfigError> {
        self.text(variable)?
            .ok_or(ConfigError::Missing(variable.name))
    }

    /// A choice variable: the declared option it names.
    pub fn choice(&self, variable: &Variable) -> Result<&'static str, ConfigError> {
        let Shape::Choice { default, options } = variable.shape else {
            return Err(Self::invalid(variable, "(not a choice variable)"));
        };
        match self.raw(variable) {
            None => Ok(default),
            Some(text) => options
                .iter()
                .copied()
                .find(|option| *option == text.trim())
                .ok_or_else(|| Self::invalid(variable, &text)),
        }
    }
}

// ------------------------------------------------------------------ every function

pub const INCIDENTS_TABLE: Variable =
    Variable::required("INCIDENTS_TABLE", "The incidents table's name.");
pub const INCIDENT_RETENTION_DAYS: Variable = Variable::number(
    "INCIDENT_RETENTION_DAYS",
    90,
    1,
    3650,
    "days",
    "How long a resolved incident is kept (DynamoDB TTL).",
);
pub const PREWARM_CONNECTIONS: Variable = Variable::choice(
    "PREWARM_CONNECTIONS",
    "false",
    &["true", "false"],
    "Open the AWS connections during init instead of on the first calls.",
);

pub const API_RATE_PERCENT: Variable = Variable::number(
    "API_RATE_PERCENT",
    20,
    0,
    100,
    "percent",
    "The share of each AWS service's published API rate the function's calls may use (a client-side token bucket per service): the rest is the account's own. 0: not paced (for measurements against an emulator, which is no account's budget).",
);

/// What every function reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Common {
    /// Open the AWS connections (TCP and TLS) during init instead of on the first
    /// calls: the handshakes overlap each other and leave the first invocation's path.
    pub prewarm_connections: bool,
    /// The share of each service's published API rate the function may use, in [0, 1];
    /// 0: not paced.
    pub api_rate_share: f64,
}

/// The defaults the variables state: lazy connections, a fifth of each published rate.
impl Default for Common {
    fn default() -> Self {
        Self {
            prewarm_connections: false,
            api_rate_share: 0.2,
        }
    }
}

impl Common {
    pub const VARIABLES: &'static [Variable] = &[PREWARM_CONNECTIONS, API_RATE_PERCENT];

    pub fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            prewarm_connections: env.choice(&PREWARM_CONNECTIONS)? == "true",
            api_rate_share: env.number(&API_RATE_PERCENT)? as f64 / 100.0,
        })
    }
}

/// Where the incidents are kept: every function that reads or writes them.
#[derive(Debug, Clone, PartialEq)]
pub struct Store {
    pub incidents_table: String,
    pub incident_retention_days: u32,
}

impl Store {
    pub const VARIABLES: &'static [Variable] = &[INCIDENTS_TABLE, INCIDENT_RETENTION_DAYS];

    pub fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            incidents_table: env.required(&INCIDENTS_TABLE)?,
            incident_retention_days: env.count(&INCIDENT_RETENTION_DAYS)?,
        })
    }
}

// ---------------------------------------------------------- every watching function

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Act: make the mutating calls.
    Enforce,
    /// Record what would be done; make no mutating call at all.
    DryRun,
}

pub const DEFAULT_MANAGED_TAG_KEY: &str = "rebound:managed";

pub const MODE: Variable = Variable::choice(
    "MODE",
    "dry-run",
    &["enforce", "dry-run"],
    "enforce makes the mutating calls; dry-run records what would be done and calls nothing.",
);
pub const MANAGED_TAG_KEY: Variable = Variable::text(
    "MANAGED_TAG_KEY",
    DEFAULT_MANAGED_TAG_KEY,
    "The opt-in tag: a resource is acted on only when this tag's value is true.",
);
pub const ACTION_BUDGET_PER_HOUR: Variable = Variable::number(
    "ACTION_BUDGET_PER_HOUR",
    10,
    0,
    1_000,
    "actions",
    "Mutating calls per rolling hour, account-wide, whatever their kind; past it, escalate.",
);
pub const PENDING_ACTION_TIMEOUT_SECONDS: Variable = Variable::seconds(
    "PENDING_ACTION_TIMEOUT_SECONDS",
    300,
    60,
    3_600,
    "A write-ahead action still pending after this long is settled from observed state.",
);
pub const RECOVERY_TIMEOUT_SECONDS: Variable = Variable::seconds(
    "RECOVERY_TIMEOUT_SECONDS",
    900,
    60,
    86_400,
    "An incident not verified recovered this long after detection or its last action escalates.",
);
pub const SWEEP_CONCURRENCY: Variable = Variable::number(
    "SWEEP_CONCURRENCY",
    8,
    1,
    64,
    "checks",
    "Resources the sweep checks at once.",
);

pub const APPROVAL_MODES: Variable = Variable::optional(
    "APPROVAL_MODES",
    "Per action kind, auto (act), approve (wait for rebound incidents approve) or never (escalate instead): ACTION=MODE pairs separated by commas, e.g. reboot-with-failover=approve; unset kinds are auto. A resource's rebound:approval tag overrides it.",
);
pub const APPROVAL_TIMEOUT_SECONDS: Variable = Variable::seconds(
    "APPROVAL_TIMEOUT_SECONDS",
    1800,
    60,
    86_400,
    "An approval no one decided within this long escalates the incident (once); a person may still decide afterwards.",
);

/// What Rebound does about an action of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalMode {
    /// Act when every guard allows it.
    Auto,
    /// Ask a person first: the incident awaits approval, nothing is called.
    Approve,
    /// Never act: escalate instead (guard `approval-never`).
    Never,
}

impl ApprovalMode {
    pub const NAMES: &'static [&'static str] = &["auto", "approve", "never"];

    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "auto" => Some(Self::Auto),
            "approve" => Some(Self::Approve),
            "never" => Some(Self::Never),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Approve => "approve",
            Self::Never => "never",
        }
    }
}

/// Approvals as a function is configured: the mode of each action kind it may hold for
/// approval (`APPROVAL_MODES`; unnamed kinds are `auto`) and how long an approval waits.
#[derive(Debug, Clone, PartialEq)]
pub struct Approvals {
    pub modes: BTreeMap<ActionKind, ApprovalMode>,
    pub timeout: Duration,
}

impl Default for Approvals {
    fn default() -> Self {
        Self {
            modes: BTreeMap::new(),
            timeout: Duration::from_secs(1800),
        }
    }
}

impl Approvals {
    /// The mode the function gives `kind`.
    pub fn mode(&self, kind: &ActionKind) -> ApprovalMode {
        self.modes.get(kind).copied().unwrap_or(ApprovalMode::Auto)
    }

    /// Reads `APPROVAL_MODES` and `APPROVAL_TIMEOUT_SECONDS`; `gated` are the action
    /// kinds this function may hold for approval (any other named is an error).
    pub fn read(env: &Env<'_>, gated: &[ActionKind]) -> Result<Self, ConfigError> {
        let modes = match env.text(&APPROVAL_MODES)? {
            None => BTreeMap::new(),
            Some(text) => {
                parse_approval_modes(&text, gated).map_err(|expected| ConfigError::Invalid {
                    name: APPROVAL_MODES.name,
                    value: text.clone(),
                    expected,
                })?
            }
        };
        Ok(Self {
            modes,
            timeout: env.duration(&APPROVAL_TIMEOUT_SECONDS)?,
        })
    }
}

/// `ACTION=MODE` pairs separated by commas (or spaces), each action one of `gated` and
/// named once. The error says what was expected, naming the culprit.
pub fn parse_approval_modes(
    text: &str,
    gated: &[ActionKind],
) -> Result<BTreeMap<ActionKind, ApprovalMode>, String> {
    let actions = || {
        if gated.is_empty() {
            "none: this function takes no action that can wait for approval".to_owned()
        } else {
            gated
                .iter()
                .map(ActionKind::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let shape = "ACTION=MODE pairs separated by commas, e.g. reboot-with-failover=approve";
    let mut modes = BTreeMap::new();
    for entry in text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|e| !e.is_empty())
    {
        let Some((action, mode)) = entry.split_once('=') else {
            return Err(format!("{shape} ({entry:?} has no =)"));
        };
        let Some(kind) = gated.iter().find(|k| k.as_str() == action.trim()) else {
            return Err(format!(
                "{shape}; {action:?} is not an action this function can hold for approval (one of {})",
                actions()
            ));
        };
        let Some(mode) = ApprovalMode::parse(mode.trim()) else {
            return Err(format!(
                "{shape}; {mode:?} is not a mode (one of {})",
                ApprovalMode::NAMES.join(", ")
            ));
        };
        if modes.insert(kind.clone(), mode).is_some() {
            return Err(format!("{shape}; {action} is named twice"));
        }
    }
    Ok(modes)
}

/// What every function that watches a kind of resource shares: the workflow's and the
/// shell's knobs.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub mode: Mode,
    pub managed_tag_key: String,
    pub action_budget_per_hour: u32,
    /// A write-ahead action still pending after this long is settled by the sweep; an
    /// accepted action that had no effect after this long did not work.
    pub pending_action_timeout: Duration,
    /// An incident not verified recovered this long after detection or its last
    /// action escalates.
    pub recovery_timeout: Duration,
    /// Resources the sweep checks at once.
    pub sweep_concurrency: usize,
    /// Which actions wait for a person, and for how long.
    pub approvals: Approvals,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            mode: Mode::DryRun,
            managed_tag_key: DEFAULT_MANAGED_TAG_KEY.into(),
            action_budget_per_hour: 10,
            pending_action_timeout: Duration::from_secs(300),
            recovery_timeout: Duration::from_secs(900),
            sweep_concurrency: 8,
            approvals: Approvals::default(),
        }
    }
}

impl Settings {
    pub const VARIABLES: &'static [Variable] = &[
        MODE,
        MANAGED_TAG_KEY,
        ACTION_BUDGET_PER_HOUR,
        PENDING_ACTION_TIMEOUT_SECONDS,
        RECOVERY_TIMEOUT_SECONDS,
        SWEEP_CONCURRENCY,
        APPROVAL_MODES,
        APPROVAL_TIMEOUT_SECONDS,
    ];

    /// `gated`: the action kinds this function may hold for approval.
    pub fn read(env: &Env<'_>, gated: &[ActionKind]) -> Result<Self, ConfigError> {
        Ok(Self {
            mode: match env.choice(&MODE)? {
                "enforce" => Mode::Enforce,
                _ => Mode::DryRun,
            },
            managed_tag_key: env.required(&MANAGED_TAG_KEY)?,
            action_budget_per_hour: env.count(&ACTION_BUDGET_PER_HOUR)?,
            pending_action_timeout: env.duration(&PENDING_ACTION_TIMEOUT_SECONDS)?,
            recovery_timeout: env.duration(&RECOVERY_TIMEOUT_SECONDS)?,
            sweep_concurrency: env.count(&SWEEP_CONCURRENCY)?,
            approvals: Approvals::read(env, gated)?,
        })
    }

    /// The tag's value is `true`.
    pub fn is_managed(&self, tags: &std::collections::BTreeMap<String, String>) -> bool {
        tags.get(&self.managed_tag_key)
            .is_some_and(|value| value == "true")
    }
}

/// Reads a configuration section from the process environment.
pub fn from_env<T>(
    read: impl FnOnce(&Env<'_>) -> Result<T, ConfigError>,
) -> Result<T, ConfigError> {
    let lookup = |name: &str| std::env::var(name).ok();
    read(&Env::new(&lookup))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env_of(vars: &[(&str, &str)]) -> HashMap<String, String> {
        vars.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let vars = env_of(vars);
        let lookup = |name: &str| vars.get(name).cloned();
        Settings::read(&Env::new(&lookup), &GATED)
    }

    const GATED: [ActionKind; 2] = [
        ActionKind::named("set-instance-health"),
        ActionKind::named("reboot-with-failover"),
    ];

    #[test]
    fn approval_modes_are_read_per_action_and_unnamed_ones_are_auto() {
        let read = settings(&[
            (
                "APPROVAL_MODES",
                "reboot-with-failover=approve, set-instance-health=never",
            ),
            ("APPROVAL_TIMEOUT_SECONDS", "600"),
        ])
        .unwrap();
        assert_eq!(read.approvals.mode(&GATED[1]), ApprovalMode::Approve);
        assert_eq!(read.approvals.mode(&GATED[0]), ApprovalMode::Never);
        assert_eq!(read.approvals.timeout, Duration::from_secs(600));
        let default = settings(&[]).unwrap();
        assert_eq!(default.approvals.mode(&GATED[1]), ApprovalMode::Auto);
        assert_eq!(default.approvals.timeout, Duration::from_secs(1800));
    }

    #[test]
    fn bad_approval_modes_are_named_with_what_was_expected() {
        for (value, says) in [
            ("reboot-with-failover", "has no ="),
            ("reboot-with-failover=maybe", "\"maybe\" is not a mode (one of auto, approve, never)"),
            ("start-zonal-shift=approve", "\"start-zonal-shift\" is not an action this function can hold for approval (one of set-instance-health, reboot-with-failover)"),
            ("set-instance-health=auto,set-instance-health=never", "set-instance-health is named twice"),
        ] {
            let err = settings(&[("APPROVAL_MODES", value)]).unwrap_err().to_string();
            assert!(err.contains("APPROVAL_MODES="), "{err}");
            assert!(err.contains(says), "{value}: {err}");
        }
        let err = settings(&[("APPROVAL_TIMEOUT_SECONDS", "10")]).unwrap_err();
        assert!(err.to_string().contains("60–86400 seconds"), "{err}");
    }

    #[test]
    fn the_defaults_are_safe_and_match_their_declarations() {
        let read = settings(&[]).unwrap();
        assert_eq!(read, Settings::default());
        assert_eq!(read.mode, Mode::DryRun);
        assert_eq!(read.managed_tag_key, "rebound:managed");
    }

    #[test]
    fn knobs_are_read_and_bad_values_named_with_their_range() {
        let read = settings(&[("MODE", "enforce"), ("SWEEP_CONCURRENCY", "2")]).unwrap();
        assert_eq!(read.mode, Mode::Enforce);
        assert_eq!(read.sweep_concurrency, 2);
        let err = settings(&[("MODE", "yolo")]).unwrap_err();
        assert!(err.to_string().contains("MODE=\"yolo\""), "{err}");
        assert!(err.to_string().contains("enforce | dry-run"), "{err}");
        let err = settings(&[("RECOVERY_TIMEOUT_SECONDS", "59")]).unwrap_err();
        assert!(err.to_string().contains("60–86400 seconds"), "{err}");
        let err = settings(&[("ACTION_BUDGET_PER_HOUR", "-1")]).unwrap_err();
        assert!(err.to_string().contains("ACTION_BUDGET_PER_HOUR"), "{err}");
    }

    #[test]
    fn a_required_variable_is_named_when_missing_and_a_blank_one_is_unset() {
        let vars = env_of(&[("INCIDENTS_TABLE", " ")]);
        let lookup = |name: &str| vars.get(name).cloned();
        assert_eq!(
            Store::read(&Env::new(&lookup)).unwrap_err(),
            ConfigError::Missing("INCIDENTS_TABLE")
        );
    }

    #[test]
    fn every_declared_default_is_within_its_range() {
        for variable in Common::VARIABLES
            .iter()
            .chain(Store::VARIABLES)
            .chain(Settings::VARIABLES)
        {
            match variable.shape {
                Shape::Number {
                    default, min, max, ..
                } => assert!((min..=max).contains(&default), "{}", variable.name),
                Shape::Choice { default, options } => {
                    assert!(options.contains(&default), "{}", variable.name)
                }
                Shape::Text { .. } => {}
            }
        }
    }
}
