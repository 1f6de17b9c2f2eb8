//! `rebound`: the operators' CLI. It talks to the same table and runs the same handler
//! code as the deployed functions; `AWS_ENDPOINT_URL` points it at an emulator.

mod drill;
mod render;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use rebound::config::Config;
use rebound::handlers::notifier::StreamEvent;
use rebound::ids::IncidentId;
use rebound::ports::IncidentStore;

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
        /// Print the incidents as a JSON array.
        #[arg(long)]
        json: bool,
        /// How many incidents at most.
        #[arg(long, default_value_t = 50)]
        limit: usize,
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
}

#[derive(Clone, Copy, ValueEnum)]
enum Function {
    TargetHealth,
    RdsHealth,
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
    InvalidId(#[from] rebound::ids::InvalidId),
    #[error("cannot print JSON: {0}")]
    Json(#[from] serde_json::Error),
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
    let config = Config::from_env()?;
    let sdk = rebound::aws::load_sdk_config().await;
    match cli.command {
        Command::Incidents {
            show: None,
            json,
            limit,
        } => {
            let incidents = rebound::aws::incident_store(&config, &sdk)
                .list(limit)
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&incidents)?);
            } else {
                print!("{}", render::incident_table(&incidents));
            }
        }
        Command::Incidents {
            show: Some(IncidentsCommand::Show { id, json }),
            ..
        } => {
            let id = IncidentId::parse(id)?;
            let incident = rebound::aws::incident_store(&config, &sdk)
                .load(&id)
                .await?
                .ok_or_else(|| CliError::NotFound(id.to_string()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&incident)?);
            } else {
                print!("{}", render::incident_detail(&incident));
            }
        }
        Command::Invoke { function, event } => {
            let text = std::fs::read_to_string(&event).map_err(|source| CliError::Read {
                path: event.clone(),
                source,
            })?;
            let response = match function {
                Function::TargetHealth => {
                    let payload =
                        serde_json::from_str(&text).map_err(|source| CliError::Event {
                            path: event.clone(),
                            source,
                        })?;
                    let report = rebound::aws::target_health_handler(&config, &sdk)
                        .handle(payload)
                        .await?;
                    serde_json::to_value(report)?
                }
                Function::RdsHealth => {
                    let payload =
                        serde_json::from_str(&text).map_err(|source| CliError::Event {
                            path: event.clone(),
                            source,
                        })?;
                    let report = rebound::aws::rds_health_handler(&config, &sdk)
                        .handle(payload)
                        .await?;
                    serde_json::to_value(report)?
                }
                Function::IncidentNotifier => {
                    let payload: StreamEvent =
                        serde_json::from_str(&text).map_err(|source| CliError::Event {
                            path: event.clone(),
                            source,
                        })?;
                    let response = rebound::aws::notifier_handler(&config, &sdk)?
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
