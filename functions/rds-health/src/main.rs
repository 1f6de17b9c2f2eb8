//! `rds-health` Lambda function: DB instances (the kind), their trigger parser and their
//! AWS ports, in the one function shell. Configuration is read and SDK clients set up
//! once per cold start (each client is built by its first call).

// The release build computes the layout of the runtime's nested service futures (SDK
// retries, tower layers, the shell) past the default query depth of 128.
#![recursion_limit = "256"]

use rebound::aws::Service;
use rebound::functions::RdsHealthConfig;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    rebound::telemetry::init();
    let config = rebound::init::configured(RdsHealthConfig::from_env()).await?;
    let sdk = rebound::aws::init_sdk(
        &config.common,
        &[Service::RDS, Service::CLOUD_WATCH, Service::DYNAMO_DB],
    )
    .await;
    rebound::shell::serve(rebound::aws::rds_health(&config, &sdk)).await
}
