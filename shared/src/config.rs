//! Typed configuration, read once from the environment at cold start. Names are part
//! of the contract (DESIGN.md); every policy knob has a safe default.

use std::time::Duration;

use crate::domain::{ActionKind, ResourceKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Act: make the mutating calls.
    Enforce,
    /// Record what would be done; make no mutating call at all.
    DryRun,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PolicyConfig {
    pub mode: Mode,
    pub managed_tag_key: String,
    pub replacement: ActionKind,
    /// Above this share of unhealthy targets the failure is systemic: escalate.
    pub max_unhealthy_percent: u32,
    pub max_in_flight_per_group: usize,
    pub cooldown: Duration,
    pub action_budget_per_hour: u32,
    /// A write-ahead action still pending after this long is settled by the sweep; an
    /// accepted action whose instance is still in service and failing after this long
    /// (or the group's grace period, if longer) did not work.
    pub pending_action_timeout: Duration,
    /// An incident not verified recovered this long after detection or its last
    /// action escalates (a replacement that never becomes healthy, an empty target
    /// group).
    pub recovery_timeout: Duration,
    /// Replacements in one group within this window, on the same launch template,
    /// that reach `replacement_loop_limit` mean replacing is not fixing it: escalate.
    pub replacement_loop_window: Duration,
    pub replacement_loop_limit: u32,
    /// Target groups (or DB instances) the sweep checks at once.
    pub sweep_concurrency: usize,
    /// The recovery-time objective of a target group's incident, from detection, unless
    /// its Auto Scaling group's `rebound:rto-seconds` tag says otherwise.
    pub target_group_rto: Duration,
    /// The same for a database's incident (the DB instance's or cluster's tag).
    pub database_rto: Duration,
    /// Between two failovers of one DB instance (or cluster), and how far back RDS's own
    /// failover events count against a new one.
    pub rds_cooldown: Duration,
    /// How long after a database's incident resolves (its failover completed) the
    /// groups that depend on it stay held: connections move to the new primary.
    pub dependency_settle: Duration,
}

impl PolicyConfig {
    /// The cooldown of one scope: a DB instance or cluster has its own, longer one
    /// (a failover is disruptive), everything else `cooldown`.
    pub fn cooldown_for(&self, scope: ResourceKind) -> Duration {
        match scope {
            ResourceKind::DbInstance | ResourceKind::DbCluster => self.rds_cooldown,
            _ => self.cooldown,
        }
    }
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            mode: Mode::DryRun,
            managed_tag_key: DEFAULT_MANAGED_TAG_KEY.into(),
            replacement: ActionKind::SetInstanceHealth,
            max_unhealthy_percent: 50,
            max_in_flight_per_group: 1,
            cooldown: Duration::from_secs(600),
            action_budget_per_hour: 10,
            pending_action_timeout: Duration::from_secs(300),
            recovery_timeout: Duration::from_secs(900),
            replacement_loop_window: Duration::from_secs(3600),
            replacement_loop_limit: 3,
            sweep_concurrency: 8,
            target_group_rto: Duration::from_secs(900),
            database_rto: Duration::from_secs(900),
            rds_cooldown: Duration::from_secs(1800),
            dependency_settle: Duration::from_secs(300),
        }
    }
}

pub const DEFAULT_MANAGED_TAG_KEY: &str = "rebound:managed";

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub incidents_table: String,
    pub notify_topic_arn: Option<String>,
    /// Where the notifier parks notifications SNS refuses for good; without it they are
    /// retried until the event source mapping gives up on them.
    pub failed_notifications_queue_url: Option<String>,
    /// The topic AWS Chatbot subscribes to: when set, the notifier also publishes each
    /// change there as a Chatbot custom notification (opt-in).
    pub chatbot_topic_arn: Option<String>,
    pub incident_retention_days: u32,
    /// Open the AWS connections (TCP and TLS) during init instead of on the first
    /// calls (`PREWARM_CONNECTIONS`): the handshakes overlap each other and leave the
    /// first invocation's path.
    pub prewarm_connections: bool,
    pub policy: PolicyConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name}={value:?} is invalid: expected {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// Whether init opens the AWS connections when `PREWARM_CONNECTIONS` is not set: the
/// choice bench/RESULTS.md ("First invocation over TLS") measured as faster.
pub const DEFAULT_PREWARM_CONNECTIONS: bool = false;

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, so tests need not touch the process
    /// environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| lookup(name).filter(|v| !v.trim().is_empty());
        let defaults = PolicyConfig::default();
        let mode = match get("MODE").as_deref() {
            None => defaults.mode,
            Some("enforce") => Mode::Enforce,
            Some("dry-run") => Mode::DryRun,
            Some(other) => return Err(invalid("MODE", other, "enforce or dry-run")),
        };
        let replacement = match get("REPLACEMENT_METHOD").as_deref() {
            None => defaults.replacement,
            Some("set-instance-health") => ActionKind::SetInstanceHealth,
            Some("terminate") => ActionKind::TerminateInstance,
            Some(other) => {
                return Err(invalid(
                    "REPLACEMENT_METHOD",
                    other,
                    "set-instance-health or terminate",
                ))
            }
        };
        let number = |name: &'static str, default: u64, min: u64, max: u64| match get(name) {
            None => Ok(default),
            Some(text) => match text.trim().parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(invalid(name, &text, "a whole number in range")),
            },
        };
        let policy = PolicyConfig {
            mode,
            managed_tag_key: get("MANAGED_TAG_KEY").unwrap_or(defaults.managed_tag_key),
            replacement,
            max_unhealthy_percent: number(
                "MAX_UNHEALTHY_PERCENT",
                defaults.max_unhealthy_percent.into(),
                1,
                100,
            )? as u32,
            max_in_flight_per_group: number(
                "MAX_IN_FLIGHT_PER_GROUP",
                defaults.max_in_flight_per_group as u64,
                1,
                100,
            )? as usize,
            cooldown: Duration::from_secs(number(
                "COOLDOWN_SECONDS",
                defaults.cooldown.as_secs(),
                0,
                86_400,
            )?),
            action_budget_per_hour: number(
                "ACTION_BUDGET_PER_HOUR",
                defaults.action_budget_per_hour.into(),
                0,
                10_000,
            )? as u32,
            pending_action_timeout: Duration::from_secs(number(
                "PENDING_ACTION_TIMEOUT_SECONDS",
                defaults.pending_action_timeout.as_secs(),
                1,
                86_400,
            )?),
            recovery_timeout: Duration::from_secs(number(
                "RECOVERY_TIMEOUT_SECONDS",
                defaults.recovery_timeout.as_secs(),
                60,
                86_400,
            )?),
            replacement_loop_window: Duration::from_secs(number(
                "REPLACEMENT_LOOP_WINDOW_SECONDS",
                defaults.replacement_loop_window.as_secs(),
                60,
                86_400,
            )?),
            replacement_loop_limit: number(
                "REPLACEMENT_LOOP_LIMIT",
                defaults.replacement_loop_limit.into(),
                1,
                100,
            )? as u32,
            sweep_concurrency: number(
                "SWEEP_CONCURRENCY",
                defaults.sweep_concurrency as u64,
                1,
                64,
            )? as usize,
            target_group_rto: Duration::from_secs(number(
                "TARGET_GROUP_RTO_SECONDS",
                defaults.target_group_rto.as_secs(),
                60,
                86_400,
            )?),
            database_rto: Duration::from_secs(number(
                "DATABASE_RTO_SECONDS",
                defaults.database_rto.as_secs(),
                60,
                86_400,
            )?),
            rds_cooldown: Duration::from_secs(number(
                "RDS_COOLDOWN_SECONDS",
                defaults.rds_cooldown.as_secs(),
                0,
                86_400,
            )?),
            dependency_settle: Duration::from_secs(number(
                "DEPENDENCY_SETTLE_SECONDS",
                defaults.dependency_settle.as_secs(),
                0,
                86_400,
            )?),
        };
        Ok(Self {
            incidents_table: get("INCIDENTS_TABLE")
                .ok_or(ConfigError::Missing("INCIDENTS_TABLE"))?,
            notify_topic_arn: get("NOTIFY_TOPIC_ARN"),
            failed_notifications_queue_url: get("FAILED_NOTIFICATIONS_QUEUE_URL"),
            chatbot_topic_arn: get("CHATBOT_TOPIC_ARN"),
            incident_retention_days: number("INCIDENT_RETENTION_DAYS", 90, 1, 3650)? as u32,
            prewarm_connections: match get("PREWARM_CONNECTIONS").as_deref().map(str::trim) {
                None => DEFAULT_PREWARM_CONNECTIONS,
                Some("true") => true,
                Some("false") => false,
                Some(other) => return Err(invalid("PREWARM_CONNECTIONS", other, "true or false")),
            },
            policy,
        })
    }

    /// The topic is required by the notifier only.
    pub fn require_topic(&self) -> Result<&str, ConfigError> {
        self.notify_topic_arn
            .as_deref()
            .ok_or(ConfigError::Missing("NOTIFY_TOPIC_ARN"))
    }
}

fn invalid(name: &'static str, value: &str, expected: &'static str) -> ConfigError {
    ConfigError::Invalid {
        name,
        value: value.to_owned(),
        expected,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn only_the_table_is_required_and_the_defaults_are_safe() {
        let cfg = config(&[("INCIDENTS_TABLE", "incidents")]).unwrap();
        assert_eq!(cfg.policy.mode, Mode::DryRun);
        assert_eq!(cfg.policy.managed_tag_key, "rebound:managed");
        assert_eq!(cfg.policy.replacement, ActionKind::SetInstanceHealth);
        assert_eq!(cfg.failed_notifications_queue_url, None);
        assert_eq!(cfg.chatbot_topic_arn, None, "chat cards are opt-in");
        assert_eq!(cfg.policy.rds_cooldown, Duration::from_secs(1800));
        assert_eq!(cfg.policy.dependency_settle, Duration::from_secs(300));
        assert_eq!(
            config(&[]).unwrap_err(),
            ConfigError::Missing("INCIDENTS_TABLE")
        );
    }

    #[test]
    fn the_failed_notifications_queue_is_read_and_a_blank_one_is_unset() {
        let url = "https://sqs.us-east-1.amazonaws.com/123456789012/rebound-failed-notifications";
        let cfg = config(&[
            ("INCIDENTS_TABLE", "t"),
            ("FAILED_NOTIFICATIONS_QUEUE_URL", url),
        ])
        .unwrap();
        assert_eq!(cfg.failed_notifications_queue_url.as_deref(), Some(url));
        let cfg = config(&[
            ("INCIDENTS_TABLE", "t"),
            ("FAILED_NOTIFICATIONS_QUEUE_URL", " "),
        ])
        .unwrap();
        assert_eq!(cfg.failed_notifications_queue_url, None);
    }

    #[test]
    fn a_chatbot_topic_turns_chat_cards_on() {
        let arn = "arn:aws:sns:us-east-1:123456789012:rebound-chat";
        let cfg = config(&[("INCIDENTS_TABLE", "t"), ("CHATBOT_TOPIC_ARN", arn)]).unwrap();
        assert_eq!(cfg.chatbot_topic_arn.as_deref(), Some(arn));
    }

    #[test]
    fn knobs_are_read_and_bad_values_named() {
        let cfg = config(&[
            ("INCIDENTS_TABLE", "t"),
            ("MODE", "enforce"),
            ("REPLACEMENT_METHOD", "terminate"),
            ("MAX_IN_FLIGHT_PER_GROUP", "2"),
            ("COOLDOWN_SECONDS", "0"),
        ])
        .unwrap();
        assert_eq!(cfg.policy.mode, Mode::Enforce);
        assert_eq!(cfg.policy.replacement, ActionKind::TerminateInstance);
        assert_eq!(cfg.policy.max_in_flight_per_group, 2);
        assert_eq!(cfg.policy.cooldown, Duration::ZERO);

        let cfg = config(&[
            ("INCIDENTS_TABLE", "t"),
            ("RDS_COOLDOWN_SECONDS", "900"),
            ("DEPENDENCY_SETTLE_SECONDS", "60"),
        ])
        .unwrap();
        assert_eq!(cfg.policy.rds_cooldown, Duration::from_secs(900));
        assert_eq!(cfg.policy.dependency_settle, Duration::from_secs(60));
        assert_eq!(
            cfg.policy.cooldown_for(ResourceKind::DbInstance),
            Duration::from_secs(900)
        );
        assert_eq!(
            cfg.policy.cooldown_for(ResourceKind::AutoScalingGroup),
            Duration::from_secs(600)
        );

        let err = config(&[("INCIDENTS_TABLE", "t"), ("MODE", "yolo")]).unwrap_err();
        assert!(err.to_string().contains("MODE=\"yolo\""), "{err}");
        let err = config(&[("INCIDENTS_TABLE", "t"), ("RDS_COOLDOWN_SECONDS", "-1")]).unwrap_err();
        assert!(err.to_string().contains("RDS_COOLDOWN_SECONDS"), "{err}");
        let err = config(&[("INCIDENTS_TABLE", "t"), ("MAX_UNHEALTHY_PERCENT", "0")]).unwrap_err();
        assert!(err.to_string().contains("MAX_UNHEALTHY_PERCENT"), "{err}");
    }
}
