//! `rebound`: the operators' CLI. It talks to the same table and runs the same handler
//! code as the deployed functions; `AWS_ENDPOINT_URL` points it at an emulator.

mod drill;
mod pause;
mod render;
mod report;
mod select;

#[cfg(test)]
mod golden;

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{Duration, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use rebound::by_hand;
use rebound::config::{from_env, Store};
use rebound::domain::Incident;
use rebound::functions::{
    NotifierFunctionConfig, RdsHealthConfig, TargetHealthConfig, ZoneHealthConfig,
};
use rebound::ids::IncidentId;
use rebound::notifier::StreamEvent;
use rebound::ports::IncidentStore;

use select::Selection;

/// How many incidents a filtered listing or a report reads at most, newest first: more
/// than the table keeps in a normal retention period.
const MAX_READ: usize = 10_000;

#[derive(Parser)]
#[command(
    name = "rebound",
    version,
    about = "Self-healing for ALB + Auto Scaling + RDS stacks: operator tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List incidents, newest first (or show one with `incidents show ID`).
    Incidents {
        #[command(subcommand)]
        show: Option<IncidentsCommand>,
        /// Only incidents not resolved yet.
        #[arg(long)]
        open: bool,
        /// Only incidents opened in the last DURATION: 30m, 12h, 7d, 2w.
        #[arg(long, value_name = "DURATION", value_parser = select::parse_duration)]
        since: Option<Duration>,
        /// Only incidents of this resource: its id (a target group's ARN) or its short
        /// name (`web`).
        #[arg(long, value_name = "ID")]
        resource: Option<String>,
        /// Print the incidents as a JSON array.
        #[arg(long)]
        json: bool,
        /// How many incidents at most.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Per resource over a window: incidents, mean and p90 time to recover, actions
    /// taken and refused, estimated availability. A table on stdout, JSON with --json,
    /// and an HTML page with charts with --out.
    Report {
        /// The window: the last DURATION (30m, 12h, 7d, 2w).
        #[arg(long, value_name = "DURATION", value_parser = select::parse_duration, default_value = "30d")]
        since: Duration,
        /// Also write the report as a self-contained HTML page (SVG charts, no
        /// JavaScript) to this file.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Print the figures as JSON instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Run a function's handler in-process on an event file, against the configured
    /// endpoint: a Docker-free `sam local invoke`.
    Invoke {
        function: Function,
        /// The event JSON, e.g. events/target-health/alarm-state-change.json or
        /// events/rds-health/alarm-state-change.json.
        #[arg(long, short)]
        event: PathBuf,
    },
    /// Pause Rebound on a resource: its incidents are still recorded (suppressed, with
    /// your reason), nothing is done to it until the pause expires or `rebound resume`.
    /// Written as tags on the resource (rebound:paused-until, -by, pause-reason).
    Pause {
        /// auto-scaling-group:NAME, db-instance:ID, db-cluster:ID, load-balancer:ARN, or
        /// the resource's ARN.
        resource: String,
        /// How long: 30m, 12h, 7d (at most 7 days).
        #[arg(long = "for", value_name = "DURATION", value_parser = select::parse_duration)]
        duration: Duration,
        /// Why, for the incidents' timeline and the notifications.
        #[arg(long)]
        reason: String,
    },
    /// End a pause before it expires (removes its tags).
    Resume {
        /// As for `rebound pause`.
        resource: String,
    },
    /// Resilience drills: make one failure happen, watch the stack heal, measure it
    /// against the RTO (exit code non-zero when it missed or never recovered).
    Drill {
        #[command(subcommand)]
        drill: drill::DrillCommand,
    },
}

#[derive(Subcommand)]
enum IncidentsCommand {
    /// One incident's evidence, actions and timeline.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Ends an incident by hand (not verified recovered): resolved, with your identity
    /// (STS GetCallerIdentity) and the reason on its timeline.
    Close {
        id: String,
        /// Why it is closed, for the timeline and the notification.
        #[arg(long)]
        reason: String,
    },
    /// Acknowledges an incident: your identity on its timeline; its later state changes
    /// are still announced, once each, but no longer page (never severity critical).
    Ack { id: String },
    /// Approves the action an incident awaits: Rebound's next check reads the resource
    /// again, runs every guard, and acts only if the action is still needed and allowed.
    Approve {
        id: String,
        /// Why, for the timeline (optional).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Denies the action an incident awaits: no action in this incident, which is held
    /// (suppressed) until the resource recovers or a person closes it.
    Deny {
        id: String,
        /// Why, for the timeline and the notification.
        #[arg(long)]
        reason: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Function {
    TargetHealth,
    RdsHealth,
    ZoneHealth,
    IncidentNotifier,
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Rebound(#[from] rebound::Error),
    #[error(transparent)]
    Config(#[from] rebound::config::ConfigError),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid event: {source}")]
    Event {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("no incident {0}")]
    NotFound(String),
    #[error(transparent)]
    ByHand(#[from] rebound::by_hand::Refused),
    #[error("{0}")]
    Invalid(String),
    #[error("who you are (STS GetCallerIdentity) could not be read: {0}")]
    Identity(String),
    #[error("{0}")]
    Tagging(String),
    #[error(transparent)]
    InvalidId(#[from] rebound::ids::InvalidId),
    #[error("cannot print JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    rebound::telemetry::init();
    if let Command::Drill { drill } = cli.command {
        return match drill::main(drill).await {
            Ok(code) => ExitCode::from(code),
            Err(err) => {
                eprintln!("rebound drill: {err}");
                ExitCode::FAILURE
            }
        };
    }
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("rebound: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let sdk = rebound::aws::load_sdk_config().await;
    let store = || -> Result<_, CliError> {
        Ok(rebound::aws::incident_store(&from_env(Store::read)?, &sdk))
    };
    match cli.command {
        Command::Incidents {
            show: None,
            open,
            since,
            resource,
            json,
            limit,
        } => {
            let selection = Selection {
                open,
                opened_since: since.map(|d| Utc::now() - d),
                resource,
            };
            let incidents = select_incidents(&store()?, &selection, limit).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&incidents)?);
            } else {
                print!("{}", render::incident_table(&incidents));
            }
        }
        Command::Incidents {
            show: Some(IncidentsCommand::Close { id, reason }),
            ..
        } => {
            let id = IncidentId::parse(id)?;
            let reason = reason_text(&reason)?;
            let by = caller(&sdk).await?;
            let incident = by_hand::close(&store()?, &id, &by, reason).await?;
            println!(
                "{} closed by {by}: {}",
                incident.id,
                incident.state.as_str()
            );
        }
        Command::Incidents {
            show: Some(IncidentsCommand::Ack { id }),
            ..
        } => {
            let id = IncidentId::parse(id)?;
            let by = caller(&sdk).await?;
            let (incident, changed) = by_hand::acknowledge(&store()?, &id, &by).await?;
            match (&incident.acknowledged, changed) {
                (Some(ack), false) => println!(
                    "{} was already acknowledged by {} at {}",
                    incident.id,
                    ack.by,
                    ack.at.to_rfc3339()
                ),
                _ => println!(
                    "{} acknowledged by {by}: its state changes are still announced but no longer page",
                    incident.id
                ),
            }
        }
        Command::Incidents {
            show: Some(IncidentsCommand::Approve { id, reason }),
            ..
        } => {
            let id = IncidentId::parse(id)?;
            let reason = reason.as_deref().map(reason_text).transpose()?;
            let by = caller(&sdk).await?;
            let incident = by_hand::decide_approval(&store()?, &id, true, &by, reason).await?;
            println!(
                "{} approved by {by}: {}; Rebound's next check reads the resource again and acts only if it is still needed and every guard allows it",
                incident.id,
                incident.approval.as_ref().map_or("", |a| a.intent.as_str())
            );
        }
        Command::Incidents {
            show: Some(IncidentsCommand::Deny { id, reason }),
            ..
        } => {
            let id = IncidentId::parse(id)?;
            let reason = reason_text(&reason)?;
            let by = caller(&sdk).await?;
            let incident =
                by_hand::decide_approval(&store()?, &id, false, &by, Some(reason)).await?;
            println!(
                "{} denied by {by}: {}; no action in this incident, held until the resource recovers or a person closes it",
                incident.id,
                incident.approval.as_ref().map_or("", |a| a.intent.as_str())
            );
        }
        Command::Pause {
            resource,
            duration,
            reason,
        } => {
            let what = pause::Paused::parse(&resource).map_err(CliError::Invalid)?;
            if duration < Duration::minutes(1) || duration > pause::MAX_PAUSE {
                return Err(CliError::Invalid(
                    "--for: between 1 minute and 7 days (30m, 12h, 7d)".into(),
                ));
            }
            let reason = pause::tag_value(&reason);
            if reason.is_empty() {
                return Err(CliError::Invalid("--reason: say why".into()));
            }
            let by = caller(&sdk).await?;
            let until = Utc::now() + duration;
            pause::tag(&sdk, &what, &pause::pause_tags(until, &by, &reason))
                .await
                .map_err(CliError::Tagging)?;
            println!(
                "{} paused until {} by {by}: {reason}",
                what.describe(),
                until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
        }
        Command::Resume { resource } => {
            let what = pause::Paused::parse(&resource).map_err(CliError::Invalid)?;
            pause::untag(&sdk, &what).await.map_err(CliError::Tagging)?;
            println!("{} resumed", what.describe());
        }
        Command::Incidents {
            show: Some(IncidentsCommand::Show { id, json }),
            ..
        } => {
            let id = IncidentId::parse(id)?;
            let incident = store()?
                .load(&id)
                .await?
                .ok_or_else(|| CliError::NotFound(id.to_string()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&incident)?);
            } else {
                print!("{}", render::incident_detail(&incident));
            }
        }
        Command::Report { since, out, json } => {
            let to = Utc::now();
            let from = to - since;
            let incidents = read_newest(&store()?, MAX_READ, Some(from)).await?;
            let report = report::build(&incidents, from, to);
            if let Some(path) = &out {
                std::fs::write(path, report::html(&report)).map_err(|source| CliError::Write {
                    path: path.clone(),
                    source,
                })?;
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report::text(&report));
                if let Some(path) = &out {
                    println!("\nHTML report: {}", path.display());
                }
            }
        }
        Command::Invoke { function, event } => {
            let text = std::fs::read_to_string(&event).map_err(|source| CliError::Read {
                path: event.clone(),
                source,
            })?;
            let response = match function {
                Function::TargetHealth => {
                    let config = TargetHealthConfig::from_env()?;
                    check(&rebound::aws::target_health(&config, &sdk), &text, &event).await?
                }
                Function::RdsHealth => {
                    let config = RdsHealthConfig::from_env()?;
                    check(&rebound::aws::rds_health(&config, &sdk), &text, &event).await?
                }
                Function::ZoneHealth => {
                    let config = ZoneHealthConfig::from_env()?;
                    check(&rebound::aws::zone_health(&config, &sdk), &text, &event).await?
                }
                Function::IncidentNotifier => {
                    let payload: StreamEvent =
                        serde_json::from_str(&text).map_err(|source| CliError::Event {
                            path: event.clone(),
                            source,
                        })?;
                    let config = NotifierFunctionConfig::from_env()?;
                    let response = rebound::aws::notifier_handler(&config.notifier, &sdk)
                        .handle(payload)
                        .await?;
                    serde_json::to_value(response)?
                }
            };
            println!("{}", serde_json::to_string_pretty(&response)?);
        }
        // Run by `main` before this: a drill answers with its own exit code.
        Command::Drill { .. } => {}
    }
    Ok(())
}

/// Who is running the command, as STS knows them (for the timeline and the tags).
async fn caller(sdk: &aws_config::SdkConfig) -> Result<String, CliError> {
    let caller = aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| {
            CliError::Identity(
                aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
            )
        })?;
    Ok(caller.arn().unwrap_or("an unknown caller").to_owned())
}

/// A `--reason`: what people wrote, trimmed, 1 to 500 characters.
fn reason_text(reason: &str) -> Result<&str, CliError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(CliError::Invalid(
            "--reason: say why in 1 to 500 characters".into(),
        ));
    }
    Ok(reason)
}

/// One watching function's answer to the event in `text` (read from `path`).
async fn check<K: rebound::kind::Kind, S: IncidentStore>(
    function: &rebound::shell::Function<K, S>,
    text: &str,
    path: &std::path::Path,
) -> Result<serde_json::Value, CliError> {
    let payload = serde_json::from_str(text).map_err(|source| CliError::Event {
        path: path.to_owned(),
        source,
    })?;
    Ok(serde_json::to_value(function.handle(payload).await?)?)
}

/// The incidents a listing shows, newest first. Unfiltered, only `limit` are read; open
/// incidents come from the sparse index of open incidents; any other filter reads the
/// history newest first and filters it.
async fn select_incidents(
    store: &impl IncidentStore,
    selection: &Selection,
    limit: usize,
) -> Result<Vec<Incident>, CliError> {
    let filtered = selection.opened_since.is_some() || selection.resource.is_some();
    let mut incidents = match (selection.open, filtered) {
        (false, false) => return Ok(store.list(limit).await?),
        (true, _) => {
            let mut open = store.open_incidents().await?;
            open.sort_by(|a, b| b.opened_at.cmp(&a.opened_at).then(b.id.cmp(&a.id)));
            open
        }
        (false, true) => read_newest(store, MAX_READ, selection.opened_since).await?,
    };
    incidents.retain(|i| selection.matches(i));
    incidents.truncate(limit);
    Ok(incidents)
}

/// Up to `max` incidents, newest first; says so on stderr when that cut the history
/// short of `needed_from`.
async fn read_newest(
    store: &impl IncidentStore,
    max: usize,
    needed_from: Option<chrono::DateTime<Utc>>,
) -> Result<Vec<Incident>, CliError> {
    let incidents = store.list(max).await?;
    if incidents.len() >= max {
        let oldest = incidents.last().map(|i| i.opened_at);
        if needed_from.is_none_or(|from| oldest.is_some_and(|oldest| oldest > from)) {
            eprintln!(
                "rebound: read the {max} most recent incidents only; older ones are left out"
            );
        }
    }
    Ok(incidents)
}
