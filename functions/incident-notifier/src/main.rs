//! `incident-notifier` Lambda function: the incidents table's stream in, SNS out, with
//! partial batch failure reporting. Messages SNS refuses for good go to the SQS queue
//! named by `FAILED_NOTIFICATIONS_QUEUE_URL` (both clients are set up here, once per cold
//! start, and built by their first call).

use lambda_runtime::{run, service_fn, LambdaEvent};
use rebound::aws::Service;
use rebound::functions::NotifierFunctionConfig;
use rebound::notifier::StreamEvent;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    rebound::telemetry::init();
    let config = rebound::init::configured(NotifierFunctionConfig::from_env()).await?;
    let sdk = rebound::aws::init_sdk(&config.common, &[Service::SNS]).await;
    let handler = rebound::aws::notifier_handler(&config.notifier, &sdk);
    let handler = &handler;
    run(service_fn(
        move |event: LambdaEvent<StreamEvent>| async move { handler.handle(event.payload).await },
    ))
    .await
}
