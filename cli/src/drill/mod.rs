//! `rebound drill`: make one failure happen in the HA stack, watch it heal, and measure
//! it — injection, detection (Rebound opened an incident), first action, verified
//! recovery, time to recover against the stack's RTO.
//!
//! - [`machine`]: the drill as a state machine (preflight, confirm, inject, observe,
//!   restore, report) and its runner; every decision is a pure function.
//! - [`ports`]: what the runner needs from the world.
//! - [`aws`]: the ports with the AWS SDK: direct injection (EC2, Auto Scaling, RDS) or
//!   an AWS FIS experiment; observation; Rebound as deployed (Lambda, CloudFormation).
//! - [`local`]: Rebound's handlers in-process, against the local emulator.
//! - [`report`]: the result as a table, as JSON, and on the incidents' timelines.

pub mod aws;
pub mod local;
pub mod machine;
pub mod ports;
pub mod report;

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use rebound::domain::ResourceRef;
use rebound::functions::{RdsHealthConfig, TargetHealthConfig, ZoneHealthConfig};

use self::machine::{Drill, Limits};
use self::ports::Console;

/// The tag that gives a group's or a database's recovery time objective, in seconds.
pub const RTO_TAG_KEY: &str = "rebound:rto-seconds";
/// The RTO of a target without the tag and without `--rto`.
pub const DEFAULT_RTO: Duration = Duration::from_secs(900);

#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    #[error(transparent)]
    Rebound(#[from] rebound::Error),
    #[error("{0}")]
    Invalid(String),
    #[error("{operation} failed: {detail}")]
    Aws {
        operation: &'static str,
        detail: String,
    },
}

impl DrillError {
    /// An SDK error with its code and message (plain `Display` says only "service error").
    pub fn aws<E>(
        operation: &'static str,
        err: aws_smithy_types::error::display::DisplayErrorContext<E>,
    ) -> Self
    where
        E: std::error::Error,
    {
        Self::Aws {
            operation,
            detail: err.to_string(),
        }
    }
}

/// What a drill disturbs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An Auto Scaling group: one instance (`az: None`) or one Availability Zone.
    Group {
        name: String,
        az: Option<String>,
    },
    Database {
        id: String,
    },
}

impl Target {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Group { az: None, .. } => "instance",
            Self::Group { az: Some(_), .. } => "az",
            Self::Database { .. } => "database",
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Self::Group { name, .. } => name,
            Self::Database { id } => id,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum DrillCommand {
    /// Make one InService instance of the group fail: stop it (or terminate it).
    Instance {
        /// The Auto Scaling group.
        #[arg(long)]
        asg: String,
        /// Terminate the instance instead of stopping it.
        #[arg(long)]
        terminate: bool,
        #[command(flatten)]
        options: DrillOptions,
    },
    /// Reboot a Multi-AZ DB instance with failover.
    Database {
        /// The DB instance identifier.
        #[arg(long)]
        db: String,
        #[command(flatten)]
        options: DrillOptions,
    },
    /// Impair one Availability Zone of the group: its subnets leave the group and a
    /// deny-all network ACL blocks their traffic, until the drill restores both.
    Az {
        #[arg(long)]
        asg: String,
        /// The Availability Zone, e.g. us-east-1b.
        #[arg(long)]
        az: String,
        #[command(flatten)]
        options: DrillOptions,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Via {
    /// Direct API calls (EC2, Auto Scaling, RDS): for accounts without FIS and the
    /// local emulator.
    Api,
    /// Start the stack's AWS FIS experiment template and measure while FIS injects.
    Fis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReboundRuns {
    /// `local` when AWS_ENDPOINT_URL is set (an emulator), else `deployed`.
    Auto,
    /// Run Rebound's handlers in-process, as `rebound invoke` does.
    Local,
    /// Rebound is deployed (its stack's functions): only watch.
    Deployed,
}

#[derive(Debug, Clone, Args)]
pub struct DrillOptions {
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    #[arg(long, value_enum, default_value = "api")]
    pub via: Via,
    /// The FIS experiment template to start (--via fis), e.g. from the example stack's
    /// outputs.
    #[arg(long)]
    pub experiment_template: Option<String>,
    /// RTO in seconds when the target has no `rebound:rto-seconds` tag.
    #[arg(long)]
    pub rto: Option<u64>,
    /// How long to wait for verified recovery, in seconds (default: twice the RTO).
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Seconds between two observations.
    #[arg(long, default_value_t = 5.0)]
    pub interval: f64,
    /// Stop condition: restore and stop when less than this share (%) of the capacity
    /// is healthy.
    #[arg(long, value_name = "PCT")]
    pub abort_if_healthy_below: Option<u32>,
    /// Stop condition: restore and stop when this CloudWatch alarm is in ALARM
    /// (repeatable).
    #[arg(long, value_name = "NAME")]
    pub abort_on_alarm: Vec<String>,
    /// How Rebound runs during the drill.
    #[arg(long, value_enum, default_value = "auto")]
    pub rebound: ReboundRuns,
    /// The Rebound stack (deployed mode): its functions' configuration is read.
    #[arg(long, default_value = "rebound")]
    pub rebound_stack: String,
    /// Run even though Rebound is in dry-run: measures detection; recovery is not
    /// expected.
    #[arg(long)]
    pub allow_dry_run: bool,
    /// The instance to put out of service (instance drills; default: the first
    /// InService one).
    #[arg(long)]
    pub instance: Option<String>,
}

impl DrillCommand {
    fn parts(self) -> (Target, Option<bool>, DrillOptions) {
        match self {
            Self::Instance {
                asg,
                terminate,
                options,
            } => (
                Target::Group {
                    name: asg,
                    az: None,
                },
                Some(terminate),
                options,
            ),
            Self::Database { db, options } => (Target::Database { id: db }, None, options),
            Self::Az { asg, az, options } => (
                Target::Group {
                    name: asg,
                    az: Some(az),
                },
                None,
                options,
            ),
        }
    }
}

/// A new drill id: `drill-<UTC time>-<8 hex digits>`.
pub fn new_drill_id(now: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "drill-{}-{:08x}",
        now.format("%Y%m%dT%H%M%SZ"),
        fastrand_u32()
    )
}

fn fastrand_u32() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    nanos ^ std::process::id().rotate_left(16)
}

/// The terminal: progress on stderr (stdout carries the result), questions on stdin.
struct Terminal;

impl Console for Terminal {
    fn confirm(&mut self, question: &str) -> bool {
        if !std::io::stdin().is_terminal() {
            eprintln!("{question}\nrebound: not a terminal; pass --yes to run the drill");
            return false;
        }
        eprint!("{question} [y/N] ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        matches!(answer.trim(), "y" | "Y" | "yes")
    }

    fn progress(&mut self, line: &str) {
        eprintln!("drill: {line}");
    }
}

/// `rebound drill …`: runs it and prints the result; the exit code says whether the
/// stack recovered within its RTO.
pub async fn main(command: DrillCommand) -> Result<u8, DrillError> {
    let (target, terminate, options) = command.parts();
    // The drill runs with Rebound's own configuration (the incidents table, the managed
    // tag, MODE), and in-process with both watchers' when it plays the deployed stack.
    let invalid = |e: rebound::config::ConfigError| DrillError::Invalid(e.to_string());
    let target_health = TargetHealthConfig::from_env().map_err(invalid)?;
    let rds_health = RdsHealthConfig::from_env().map_err(invalid)?;
    let zone_health = ZoneHealthConfig::from_env().map_err(invalid)?;
    let sdk = rebound::aws::load_sdk_config().await;
    let local = match options.rebound {
        ReboundRuns::Local => true,
        ReboundRuns::Deployed => false,
        ReboundRuns::Auto => std::env::var_os("AWS_ENDPOINT_URL").is_some(),
    };
    let world = aws::World::new(
        &sdk,
        &target_health.store,
        &target_health.policy.settings.managed_tag_key,
    );
    let id = new_drill_id(chrono::Utc::now());

    // What the drill disturbs, and the RTO from the target's tag.
    let facts = world.target_facts(&target).await?;
    let rto = facts
        .rto
        .or(options.rto.map(Duration::from_secs))
        .unwrap_or(DEFAULT_RTO);
    let limits = Limits {
        rto,
        timeout: options.timeout.map(Duration::from_secs).unwrap_or(rto * 2),
        interval: Duration::from_secs_f64(options.interval.max(0.05)),
        abort_if_healthy_below: options.abort_if_healthy_below,
        abort_on_alarms: options.abort_on_alarm.clone(),
    };
    let observer = world.observer(&target, &facts, &options.abort_on_alarm);
    let records = world.records();
    let mut injector = match (options.via, &target) {
        (Via::Fis, _) => {
            let template = options.experiment_template.clone().ok_or_else(|| {
                DrillError::Invalid("--via fis needs --experiment-template ID".into())
            })?;
            aws::AnyInjector::Fis(world.fis_injector(template, &id))
        }
        (Via::Api, Target::Group { name, az: None }) => aws::AnyInjector::Instance(
            world.instance_injector(name, terminate.unwrap_or(false), options.instance.clone()),
        ),
        (Via::Api, Target::Group { name, az: Some(az) }) => {
            aws::AnyInjector::Az(world.az_injector(name, az, &id))
        }
        (Via::Api, Target::Database { id: db }) => {
            aws::AnyInjector::Database(world.db_injector(db))
        }
    };
    let via = match options.via {
        Via::Api => "api",
        Via::Fis => "fis",
    };
    let mut console = Terminal;
    let drill = Drill {
        id: id.clone(),
        target: target.clone(),
        via: via.into(),
        limits,
        yes: options.yes,
        allow_dry_run: options.allow_dry_run,
        marked: facts.resources.clone(),
        injector: &mut injector,
        observer: &observer,
        deployment: &(),
        records: &records,
        console: &mut console,
        clock: chrono::Utc::now,
    };
    let cancel = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let result = if local {
        let deployment =
            local::LocalRebound::new(&target_health, &rds_health, &zone_health, &sdk, &target);
        machine::run(drill.with_deployment(&deployment), cancel).await?
    } else {
        let deployment = aws::DeployedRebound::new(&sdk, &options.rebound_stack, &target);
        machine::run(drill.with_deployment(&deployment), cancel).await?
    };
    if options.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&result)
                .map_err(|e| DrillError::Invalid(e.to_string()))?
        );
    } else {
        print!("{}", result.table());
    }
    Ok(result.exit_code())
}

/// What the drill learnt about its target before starting: the resources it marks and
/// the RTO from the target's tag.
#[derive(Debug, Clone, Default)]
pub struct TargetFacts {
    pub resources: Vec<ResourceRef>,
    pub rto: Option<Duration>,
}
