//! `target-health` Lambda function: target groups (the kind), their trigger parser and
//! their AWS ports, in the one function shell. Configuration is read and SDK clients set
//! up once per cold start (each client is built by its first call).

// The release build computes the layout of the runtime's nested service futures (SDK
// retries, tower layers, the shell) past the default query depth of 128.
#![recursion_limit = "256"]

use rebound::aws::Service;
use rebound::functions::TargetHealthConfig;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    rebound::telemetry::init();
    let config = rebound::init::configured(TargetHealthConfig::from_env()).await?;
    let sdk = rebound::aws::init_sdk(
        &config.common,
        // Every service a replacement's reads call (the changes in flight included) and
        // the sweep's triage: with lazy connections the first call opens them all at
        // once, so the first delivery's second round finds its connections open.
        &[
            Service::ELASTIC_LOAD_BALANCING,
            Service::AUTO_SCALING,
            Service::ARC_ZONAL_SHIFT,
            Service::DYNAMO_DB,
            Service::CODE_DEPLOY,
            Service::CLOUD_FORMATION,
            Service::CLOUD_WATCH,
        ],
    )
    .await;
    rebound::shell::serve(rebound::aws::target_health(&config, &sdk)).await
}
