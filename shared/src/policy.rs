//! The decision, as a pure function of (observed state, incident history, ledgers,
//! config, now). Every safety guard lives here so each one is a unit test without I/O.
//!
//! - this module: what every resource kind shares — the decision's shape, the reasons
//!   for refusing, and the guards that count past actions (cooldown, replacement loop,
//!   the account's rolling-hour budget) and time (recovery overdue);
//! - [`alb`]: target groups and the Auto Scaling groups behind them, held while a
//!   database they depend on heals;
//! - [`rds`]: DB instances: the RDS event table, failover guards, verified recovery.

pub mod alb;
pub mod rds;

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::config::PolicyConfig;
use crate::domain::{account_scope, ActionKind, Incident, Ledger, ResourceRef};

/// What happened to this resource and the scopes it could be acted through before.
#[derive(Debug, Clone, Copy)]
pub struct History<'a> {
    pub incident: Option<&'a Incident>,
    /// Ledgers of the scopes candidate actions count against, and the account's.
    pub ledgers: &'a BTreeMap<ResourceRef, Ledger>,
}

impl History<'_> {
    pub fn ledger(&self, scope: &ResourceRef) -> Option<&Ledger> {
        self.ledgers.get(scope)
    }
}

/// An action the policy chose; the workflow writes it ahead, then makes the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedAction {
    pub kind: ActionKind,
    pub target: ResourceRef,
    pub scope: ResourceRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_template: Option<String>,
}

/// Why an action was not taken, or why nothing was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "guard", rename_all = "kebab-case")]
pub enum Refusal {
    AllTargetsUnhealthy {
        unhealthy: usize,
    },
    UnhealthyShareAboveLimit {
        unhealthy: usize,
        total: usize,
        limit_percent: u32,
    },
    NotAnInstanceFailure {
        instance: String,
        reason: String,
    },
    NotInAutoScalingGroup {
        instance: String,
    },
    NotManaged {
        group: String,
        tag_key: String,
    },
    GroupCannotHeal {
        group: String,
        why: String,
    },
    AlreadyReplacing {
        instance: String,
    },
    NotInService {
        instance: String,
        lifecycle_state: String,
        health_status: String,
    },
    Cooldown {
        scope: String,
        until: DateTime<Utc>,
    },
    InFlightLimit {
        group: String,
        in_flight: usize,
        limit: usize,
    },
    BudgetExhausted {
        per_hour: u32,
    },
    /// Replacing is not fixing it: the same configuration keeps producing failures.
    ReplacementsNotWorking {
        group: String,
        replacements: usize,
        window_minutes: i64,
        launch_template: String,
    },
    /// Accepted calls that changed nothing, e.g. SetInstanceHealth inside the
    /// health-check grace period, which Auto Scaling accepts and ignores.
    ActionHadNoEffect {
        instance: String,
        attempts: usize,
        grace_period_s: u32,
    },
    /// Not verified recovered within the recovery timeout.
    NotRecovered {
        minutes: i64,
        why: String,
    },
    /// The group depends on a database that is healing (open incident, or a failover
    /// completed less than the settle time ago): its instances are not the problem.
    DependencyHeld {
        group: String,
        database: String,
        /// The database's incident.
        incident: String,
        why: String,
    },
    DatabaseNotManaged {
        database: String,
        tag_key: String,
    },
    /// Only a Multi-AZ instance (or a cluster with a reader) has a standby to fail
    /// over to; rebooting a single-AZ instance is an outage, not a remedy.
    NotMultiAz {
        database: String,
    },
    /// A failover is only asked on `available` (not rebooting, modifying, backing-up,
    /// failing-over, storage-full, …).
    DatabaseNotAvailable {
        database: String,
        status: String,
    },
    /// A sick reader of a cluster: failing the cluster over would not take it out of
    /// service.
    NotTheWriter {
        database: String,
        cluster: String,
        writer: String,
    },
    /// This incident's failover is already asked for (or simulated, in dry-run).
    AlreadyFailingOver {
        database: String,
    },
    /// RDS itself (or anyone) failed the database over within the cooldown.
    RecentFailover {
        database: String,
        at: DateTime<Utc>,
        until: DateTime<Utc>,
    },
    /// RDS-EVENT-0034: RDS did not carry out the requested failover, because one
    /// happened recently.
    FailoverSkipped {
        database: String,
        event: String,
    },
    /// A failure a failover cannot fix: the storage, the configuration, the key.
    DatabaseNeedsPerson {
        database: String,
        why: String,
    },
}

impl Refusal {
    /// What needs a person rather than another try.
    pub fn escalates(&self) -> bool {
        matches!(
            self,
            Self::AllTargetsUnhealthy { .. }
                | Self::UnhealthyShareAboveLimit { .. }
                | Self::BudgetExhausted { .. }
                | Self::ReplacementsNotWorking { .. }
                | Self::ActionHadNoEffect { .. }
                | Self::NotRecovered { .. }
                | Self::NotMultiAz { .. }
                | Self::NotTheWriter { .. }
                | Self::FailoverSkipped { .. }
                | Self::DatabaseNeedsPerson { .. }
        )
    }

    /// What holds the resource back for a reason outside it: its incident is
    /// suppressed, not escalated.
    pub fn suppresses(&self) -> bool {
        matches!(self, Self::DependencyHeld { .. })
    }

    /// The expected echo of duplicate deliveries and of a replacement under way: not
    /// worth a timeline entry.
    pub fn is_echo(&self) -> bool {
        matches!(
            self,
            Self::AlreadyReplacing { .. }
                | Self::NotInService { .. }
                | Self::AlreadyFailingOver { .. }
        )
    }

    /// A stable name for logs and metrics.
    pub fn guard(&self) -> &'static str {
        match self {
            Self::AllTargetsUnhealthy { .. } => "all-targets-unhealthy",
            Self::UnhealthyShareAboveLimit { .. } => "unhealthy-share-above-limit",
            Self::NotAnInstanceFailure { .. } => "not-an-instance-failure",
            Self::NotInAutoScalingGroup { .. } => "not-in-auto-scaling-group",
            Self::NotManaged { .. } => "not-managed",
            Self::GroupCannotHeal { .. } => "group-cannot-heal",
            Self::AlreadyReplacing { .. } => "already-replacing",
            Self::NotInService { .. } => "not-in-service",
            Self::Cooldown { .. } => "cooldown",
            Self::InFlightLimit { .. } => "in-flight-limit",
            Self::BudgetExhausted { .. } => "budget-exhausted",
            Self::ReplacementsNotWorking { .. } => "replacements-not-working",
            Self::ActionHadNoEffect { .. } => "action-had-no-effect",
            Self::NotRecovered { .. } => "not-recovered",
            Self::DependencyHeld { .. } => "dependency-held",
            Self::DatabaseNotManaged { .. } => "not-managed",
            Self::NotMultiAz { .. } => "not-multi-az",
            Self::DatabaseNotAvailable { .. } => "not-available",
            Self::NotTheWriter { .. } => "not-the-writer",
            Self::AlreadyFailingOver { .. } => "already-failing-over",
            Self::RecentFailover { .. } => "recent-failover",
            Self::FailoverSkipped { .. } => "failover-skipped",
            Self::DatabaseNeedsPerson { .. } => "needs-a-person",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AllTargetsUnhealthy { unhealthy } => write!(
                f,
                "all {unhealthy} targets are unhealthy: the load balancer is failing open, a systemic failure that replacing instances will not fix"
            ),
            Self::UnhealthyShareAboveLimit { unhealthy, total, limit_percent } => write!(
                f,
                "{unhealthy} of {total} targets unhealthy is above the {limit_percent}% blast-radius limit"
            ),
            Self::NotAnInstanceFailure { instance, reason } => {
                write!(f, "{instance} is unhealthy for {reason}, which is not a failure of the instance")
            }
            Self::NotInAutoScalingGroup { instance } => {
                write!(f, "{instance} belongs to no Auto Scaling group")
            }
            Self::NotManaged { group, tag_key } => {
                write!(f, "group {group} is not managed (tag {tag_key}=true missing): observed only")
            }
            Self::GroupCannotHeal { group, why } => write!(f, "group {group} cannot heal: {why}"),
            Self::AlreadyReplacing { instance } => {
                write!(f, "{instance} already has a replacement requested")
            }
            Self::NotInService { instance, lifecycle_state, health_status } => write!(
                f,
                "{instance} is {lifecycle_state}/{health_status}, not InService/Healthy: the group is already handling it"
            ),
            Self::Cooldown { scope, until } => {
                write!(f, "{scope} in cooldown until {}", until.to_rfc3339())
            }
            Self::InFlightLimit { group, in_flight, limit } => write!(
                f,
                "group {group} has {in_flight} replacement(s) in flight, the limit is {limit}"
            ),
            Self::BudgetExhausted { per_hour } => {
                write!(f, "account-wide action budget of {per_hour} per rolling hour is used up")
            }
            Self::ReplacementsNotWorking { group, replacements, window_minutes, launch_template } => write!(
                f,
                "replacements are not fixing this: group {group}, launch template {launch_template}, {replacements} replacements in {window_minutes} minutes and instances keep failing"
            ),
            Self::ActionHadNoEffect { instance, attempts, grace_period_s } => write!(
                f,
                "{attempts} accepted replacement request(s) for {instance} had no effect: it is still in service and failing (health-check grace period {grace_period_s} s)"
            ),
            Self::NotRecovered { minutes, why } => {
                write!(f, "not recovered within {minutes} minutes: {why}")
            }
            Self::DependencyHeld { group, database, incident, why } => write!(
                f,
                "group {group} depends on database {database}, which {why} (incident {incident}): its instances are held, not replaced"
            ),
            Self::DatabaseNotManaged { database, tag_key } => write!(
                f,
                "database {database} is not managed (tag {tag_key}=true missing): observed only"
            ),
            Self::NotMultiAz { database } => write!(
                f,
                "{database} has no standby to fail over to (not Multi-AZ): a reboot would only take it down"
            ),
            Self::DatabaseNotAvailable { database, status } => write!(
                f,
                "{database} is {status}, not available: no failover is asked of it in that state"
            ),
            Self::NotTheWriter { database, cluster, writer } => write!(
                f,
                "{database} is a reader of cluster {cluster} (writer {writer}): a cluster failover would not take it out of service"
            ),
            Self::AlreadyFailingOver { database } => {
                write!(f, "{database} already has a failover requested")
            }
            Self::RecentFailover { database, at, until } => write!(
                f,
                "{database} failed over at {} (RDS events): no new failover before {}",
                at.to_rfc3339(),
                until.to_rfc3339()
            ),
            Self::FailoverSkipped { database, event } => write!(
                f,
                "RDS skipped the requested failover of {database} ({event}: one happened recently): the database is still sick"
            ),
            Self::DatabaseNeedsPerson { database, why } => {
                write!(f, "{database} {why}: a failover cannot fix that")
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Nothing wrong, nothing open.
    Healthy,
    /// Nothing failing any more, but recovery is not yet verified (a replacement is
    /// still launching, registering or passing its first health checks).
    Recovering,
    /// The open incident's resource verifiably serves again: close it.
    Resolve,
    Remediate,
    Hold,
    Escalate,
    /// Held for a reason outside the resource (a database it depends on is healing):
    /// the incident is suppressed until the hold lifts.
    Suppress,
    /// Something outside Rebound is already remediating (RDS failing over by itself):
    /// the incident follows it as remediating, and nothing is called.
    Underway,
    /// The resource no longer exists; its incident, if any, is closed.
    Gone,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub verdict: Verdict,
    pub actions: Vec<PlannedAction>,
    pub refusals: Vec<Refusal>,
    /// One line for the timeline, e.g. "1 of 4 targets unhealthy".
    pub summary: String,
    /// While recovering: what recovery still waits for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
}

impl Decision {
    /// The verdict that follows from the chosen actions and the refusals.
    pub fn from_guards(
        actions: Vec<PlannedAction>,
        refusals: Vec<Refusal>,
        summary: String,
    ) -> Self {
        let verdict = if !actions.is_empty() {
            Verdict::Remediate
        } else if refusals.iter().any(Refusal::escalates) {
            Verdict::Escalate
        } else if refusals.iter().any(Refusal::suppresses) {
            Verdict::Suppress
        } else {
            Verdict::Hold
        };
        Self {
            verdict,
            actions,
            refusals,
            summary,
            waiting_for: None,
        }
    }

    pub fn plain(verdict: Verdict, summary: String) -> Self {
        Self {
            verdict,
            actions: vec![],
            refusals: vec![],
            summary,
            waiting_for: None,
        }
    }
}

fn duration(std: std::time::Duration) -> Duration {
    Duration::from_std(std).unwrap_or(Duration::MAX)
}

/// The guards every action passes whatever the resource kind, checked against the
/// scope's and the account's ledgers (and the actions already picked in this decision)
/// before anything is written ahead.
pub fn ledger_guards(
    planned: &PlannedAction,
    history: History<'_>,
    picked: &[PlannedAction],
    config: &PolicyConfig,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    if let Some(ledger) = history.ledger(&planned.scope) {
        if let Some(template) = &planned.launch_template {
            let window = duration(config.replacement_loop_window);
            let same_config: Vec<_> = ledger
                .within(window, now)
                .filter(|e| e.launch_template.as_ref() == Some(template))
                .collect();
            if same_config.len() >= config.replacement_loop_limit as usize {
                let first = same_config.iter().map(|e| e.at).min().unwrap_or(now);
                return Err(Refusal::ReplacementsNotWorking {
                    group: planned.scope.id.clone(),
                    replacements: same_config.len(),
                    window_minutes: (now - first).num_minutes().max(1),
                    launch_template: template.clone(),
                });
            }
        }
        if let Some(last) = ledger.last_action_at() {
            let until = last + duration(config.cooldown_for(planned.scope.kind));
            if now < until {
                return Err(Refusal::Cooldown {
                    scope: planned.scope.id.clone(),
                    until,
                });
            }
        }
    }
    let spent = history
        .ledger(&account_scope())
        .map(|ledger| ledger.within(Duration::hours(1), now).count())
        .unwrap_or(0);
    if spent + picked.len() >= config.action_budget_per_hour as usize {
        return Err(Refusal::BudgetExhausted {
            per_hour: config.action_budget_per_hour,
        });
    }
    Ok(())
}

/// The tag that sets a resource's recovery-time objective, in seconds.
pub const RTO_TAG: &str = "rebound:rto-seconds";

/// A resource's recovery-time objective from its tags: a whole number of seconds, at
/// least a minute; anything else is ignored (the kind's default applies).
pub fn rto_from_tags(tags: &BTreeMap<String, String>) -> Option<u64> {
    tags.get(RTO_TAG)
        .and_then(|value| value.trim().parse::<u64>().ok())
        .filter(|seconds| *seconds >= 60)
}

/// Which limit recovery has passed, in minutes: the incident's recovery-time objective
/// since detection, or the recovery timeout since the last action (or detection when
/// nothing was done). `None` while within both.
pub fn recovery_limit_missed(
    incident: &Incident,
    config: &PolicyConfig,
    now: DateTime<Utc>,
) -> Option<i64> {
    if let Some(rto) = incident.rto_s {
        let rto = Duration::seconds(i64::try_from(rto).unwrap_or(i64::MAX));
        if now >= incident.opened_at + rto {
            return Some(rto.num_minutes().max(1));
        }
    }
    let since = incident.last_action_at().unwrap_or(incident.opened_at);
    let timeout = duration(config.recovery_timeout);
    (now >= since + timeout).then(|| timeout.num_minutes())
}

/// Recovery has taken longer than allowed (see [`recovery_limit_missed`]).
pub fn recovery_overdue(incident: &Incident, config: &PolicyConfig, now: DateTime<Utc>) -> bool {
    recovery_limit_missed(incident, config, now).is_some()
}

#[cfg(test)]
mod tests;
