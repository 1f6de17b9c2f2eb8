//! `target-health` Lambda function: configuration is read and SDK clients set up once
//! per cold start (each client is built by its first call); each event goes to the
//! shared handler.

// The release build computes the layout of the runtime's nested service futures (SDK
// retries, tower layers, the handler) past the default query depth of 128.
#![recursion_limit = "256"]

use lambda_runtime::{run, service_fn, LambdaEvent};
use rebound::aws::Service;
use rebound::config::Config;
use rebound::handlers::target_health::invocation_deadline;
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    rebound::telemetry::init();
    let config = Config::from_env()?;
    let sdk = rebound::aws::init_sdk(
        &config,
        &[
            Service::ElasticLoadBalancing,
            Service::AutoScaling,
            Service::DynamoDb,
        ],
    )
    .await;
    let handler = rebound::aws::target_health_handler(&config, &sdk);
    let handler = &handler;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        // The sweep stops starting checks before the invocation's deadline.
        let deadline = invocation_deadline(event.context.deadline);
        handler.handle_until(event.payload, Some(deadline)).await
    }))
    .await
}
