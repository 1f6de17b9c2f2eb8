//! Adapters: the ports implemented with the AWS SDK. SDK types stop here; errors are
//! classified (retryable or not) where the error code is still known.

mod autoscaling;
mod dynamodb;
mod elbv2;
mod endpoints;
mod http;
mod lambda_env;
mod lazy_client;
mod rds;
mod sns;
mod sqs;

pub use autoscaling::AutoScaling;
pub use dynamodb::DynamoStore;
pub use elbv2::LoadBalancing;
pub use endpoints::{endpoints, Service};
pub use http::Https;
pub use lambda_env::lambda_sdk_config;
pub use lazy_client::LazyClient;
pub use rds::Rds;
pub use sns::{message_by_protocol, SnsNotifier};
pub use sqs::{SqsFailedNotifications, FAILED_NOTIFICATION_SCHEMA};

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;

use crate::error::{is_retryable_code, Error};

/// Loads the shared SDK configuration once (region, credentials, and
/// `AWS_ENDPOINT_URL` when pointed at an emulator) through aws-config's full chain (the
/// CLI, run by people with profiles), on one HTTPS connector: every client built from it
/// shares that connector's connection pool. Retries are adaptive: under a storm the
/// clients slow down on throttling instead of spending the account's ELB and Auto
/// Scaling API rate that other tools share.
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(Https::new().client())
        .retry_config(retry_config())
        .load()
        .await
}

/// A function's init: the SDK configuration from Lambda's environment on one connector,
/// and, when the configuration asks for it, that connector's connections to the
/// `services` the function calls opened before the first event.
pub async fn init_sdk(
    config: &crate::config::Config,
    services: &[Service],
) -> aws_config::SdkConfig {
    let https = Https::new();
    let sdk = lambda_sdk_config(&https, |name| std::env::var(name).ok());
    if config.prewarm_connections {
        let endpoints = endpoints(&sdk, services).await;
        let opened = https.open(&endpoints).await;
        tracing::debug!(
            opened,
            of = endpoints.len(),
            "connections opened during init"
        );
    }
    sdk
}

/// The retry policy every Rebound client uses.
pub fn retry_config() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::adaptive()
}

/// Classifies an SDK error: throttling, server faults and transport failures may pass;
/// anything the service rejected on its merits will not.
pub(crate) fn classify<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let retryable = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => {
            let status = service.raw().status();
            is_retryable_code(err.code()) || status.is_server_error() || status.as_u16() == 429
        }
        _ => false,
    };
    let code = err.code().map(str::to_owned);
    let message = err.message().map(str::to_owned);
    Error::aws(
        operation,
        retryable,
        code.as_deref(),
        message.as_deref(),
        err,
    )
}

/// The target-health handler wired to real AWS clients.
pub type AwsTargetHealthHandler = crate::handlers::target_health::TargetHealthHandler<
    LoadBalancing,
    AutoScaling,
    AutoScaling,
    DynamoStore,
>;

/// The rds-health handler wired to real AWS clients.
pub type AwsRdsHealthHandler = crate::handlers::rds_health::RdsHealthHandler<Rds, Rds, DynamoStore>;

/// The notifier wired to SNS (and the chat topic, if configured), parking what SNS
/// refuses in SQS.
pub type AwsNotifierHandler =
    crate::handlers::notifier::NotifierHandler<SnsNotifier, SqsFailedNotifications>;

pub fn incident_store(config: &crate::config::Config, sdk: &aws_config::SdkConfig) -> DynamoStore {
    DynamoStore::new(
        LazyClient::from_sdk(sdk, aws_sdk_dynamodb::Client::new),
        config.incidents_table.clone(),
        config.incident_retention_days,
    )
}

pub fn target_health_handler(
    config: &crate::config::Config,
    sdk: &aws_config::SdkConfig,
) -> AwsTargetHealthHandler {
    let autoscaling = AutoScaling::new(LazyClient::from_sdk(sdk, aws_sdk_autoscaling::Client::new));
    crate::handlers::target_health::TargetHealthHandler::new(
        LoadBalancing::new(LazyClient::from_sdk(
            sdk,
            aws_sdk_elasticloadbalancingv2::Client::new,
        )),
        autoscaling.clone(),
        autoscaling,
        incident_store(config, sdk),
        config.policy.clone(),
    )
}

pub fn rds_health_handler(
    config: &crate::config::Config,
    sdk: &aws_config::SdkConfig,
) -> AwsRdsHealthHandler {
    let rds = Rds::new(LazyClient::from_sdk(sdk, aws_sdk_rds::Client::new));
    crate::handlers::rds_health::RdsHealthHandler::new(
        rds.clone(),
        rds,
        incident_store(config, sdk),
        config.policy.clone(),
    )
}

pub fn notifier_handler(
    config: &crate::config::Config,
    sdk: &aws_config::SdkConfig,
) -> Result<AwsNotifierHandler, Error> {
    let topic = config.require_topic()?;
    let failure_destination = config
        .failed_notifications_queue_url
        .as_deref()
        .map(|queue_url| {
            SqsFailedNotifications::new(
                LazyClient::from_sdk(sdk, aws_sdk_sqs::Client::new),
                queue_url,
            )
        });
    let sns = LazyClient::from_sdk(sdk, aws_sdk_sns::Client::new);
    let handler = crate::handlers::notifier::NotifierHandler::new(
        SnsNotifier::new(sns.clone(), topic),
        failure_destination,
    );
    Ok(match &config.chatbot_topic_arn {
        Some(chat) => handler.with_chat(SnsNotifier::chatbot(sns, chat)),
        None => handler,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_client_retries_in_adaptive_mode_so_a_storm_backs_off() {
        assert_eq!(
            super::retry_config().mode(),
            aws_config::retry::RetryMode::Adaptive
        );
    }
}
