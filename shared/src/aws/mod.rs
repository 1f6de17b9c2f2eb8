//! Adapters: the ports implemented with the AWS SDK. SDK types stop here; errors are
//! classified (retryable or not) where the error code is still known.

mod arc;
mod autoscaling;
mod changes;
mod cloudwatch;
mod dynamodb;
mod elbv2;
mod endpoints;
mod evidence;
mod host_counts;
mod http;
mod lambda_env;
mod lazy_client;
pub mod pace;
mod rds;
mod s3;
mod sns;
mod sqs;

pub use arc::ZonalShift;
pub use autoscaling::AutoScaling;
pub use changes::Changes;
pub use cloudwatch::CloudWatch;
pub use dynamodb::DynamoStore;
pub use elbv2::LoadBalancing;
pub use endpoints::{endpoints, Service};
pub use evidence::Evidence;
pub use host_counts::HostCountReader;
pub use http::{HttpAnswer, Https};
pub use lambda_env::lambda_sdk_config;
pub use lazy_client::LazyClient;
pub use rds::Rds;
pub use s3::ObjectWriter;
pub use sns::SnsNotifier;
pub use sqs::{SqsFailedNotifications, FAILED_NOTIFICATION_SCHEMA};

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;

use crate::error::{is_retryable_code, Error};
use crate::functions::{RdsHealthConfig, TargetHealthConfig, ZoneHealthConfig};
use crate::kinds::database::{self, DbInstances};
use crate::kinds::target_group::{self, TargetGroups};
use crate::kinds::zone::{self, Zones};
use crate::notifier::NotifierHandler;
use crate::shell::Function;

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
/// paced per service (API_RATE_PERCENT), and its connections to the `services` the
/// function calls opened before the first event when the configuration asks for it,
/// else alongside the first call (so a first delivery's parallel reads overlap their
/// handshakes instead of paying one per round).
pub async fn init_sdk(
    config: &crate::config::Common,
    services: &[Service],
) -> aws_config::SdkConfig {
    let https = if config.api_rate_share > 0.0 {
        Https::paced(pace::Pacing::new(
            config.api_rate_share,
            std::sync::Arc::new(pace::RealClock::default()),
        ))
    } else {
        Https::new()
    };
    let sdk = lambda_sdk_config(&https, |name| std::env::var(name).ok());
    if config.prewarm_connections {
        let endpoints = endpoints(&sdk, services).await;
        let opened = https.open(&endpoints).await;
        tracing::debug!(
            opened,
            of = endpoints.len(),
            "connections opened during init"
        );
    } else {
        // Lazy: nothing during init, not even resolving the endpoints; the first call
        // opens them all at once, alongside it.
        https.open_services_with_first_call(&sdk, services);
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

/// target-health wired to real AWS clients.
pub type TargetHealthFunction = Function<
    TargetGroups<
        LoadBalancing,
        AutoScaling,
        AutoScaling,
        DynamoStore,
        ZonalShift,
        Changes,
        Evidence,
        HostCountReader,
    >,
    DynamoStore,
>;

/// zone-health wired to real AWS clients.
pub type ZoneHealthFunction = Function<
    Zones<LoadBalancing, LoadBalancing, AutoScaling, ZonalShift, AutoScaling>,
    DynamoStore,
>;

/// rds-health wired to real AWS clients.
pub type RdsHealthFunction = Function<DbInstances<Rds, Rds, CloudWatch, DynamoStore>, DynamoStore>;

/// The notifier wired to SNS (and the chat topic, if configured), parking what SNS
/// refuses in SQS.
pub type AwsNotifierHandler = NotifierHandler<SnsNotifier, SqsFailedNotifications>;

pub fn incident_store(store: &crate::config::Store, sdk: &aws_config::SdkConfig) -> DynamoStore {
    DynamoStore::new(
        LazyClient::from_sdk(sdk, aws_sdk_dynamodb::Client::new),
        store.incidents_table.clone(),
        store.incident_retention_days,
    )
}

/// ARC zonal shift, with EC2 for the zones' IDs and ELB for the load balancers in
/// front of a target group (sharing the function's ELB client).
pub fn zonal_shift(sdk: &aws_config::SdkConfig, balancers: &LoadBalancing) -> ZonalShift {
    ZonalShift::new(
        LazyClient::from_sdk(sdk, aws_sdk_arczonalshift::Client::new),
        LazyClient::from_sdk(sdk, aws_sdk_ec2::Client::new),
        balancers.clone(),
    )
}

/// CloudFormation and CodeDeploy, for the changes in flight on a group (each client
/// built by its first call: only a failing group is ever looked up).
pub fn changes(sdk: &aws_config::SdkConfig) -> Changes {
    Changes::new(
        LazyClient::from_sdk(sdk, aws_sdk_cloudformation::Client::new),
        LazyClient::from_sdk(sdk, aws_sdk_codedeploy::Client::new),
    )
}

/// target-health: target groups, their trigger parser, and their AWS ports.
pub fn target_health(
    config: &TargetHealthConfig,
    sdk: &aws_config::SdkConfig,
) -> TargetHealthFunction {
    let autoscaling = AutoScaling::new(LazyClient::from_sdk(sdk, aws_sdk_autoscaling::Client::new));
    let balancers = LoadBalancing::new(LazyClient::from_sdk(
        sdk,
        aws_sdk_elasticloadbalancingv2::Client::new,
    ));
    let store = incident_store(&config.store, sdk);
    let kind = TargetGroups {
        host_counts: HostCountReader::new(
            LazyClient::from_sdk(sdk, aws_sdk_cloudwatch::Client::new),
            balancers.clone(),
        ),
        zones: zonal_shift(sdk, &balancers),
        changes: changes(sdk),
        targets: balancers,
        evidence: Evidence::new(
            LazyClient::from_sdk(sdk, aws_sdk_ec2::Client::new),
            ObjectWriter::new(sdk),
        ),
        groups: autoscaling.clone(),
        replacer: autoscaling,
        dependencies: store.clone(),
        policy: config.policy.clone(),
        suspended_behind: Default::default(),
    };
    Function::new(
        target_group::FUNCTION,
        kind,
        target_group::trigger::parse,
        store,
    )
}

/// rds-health: DB instances, their trigger parser, and their AWS ports.
pub fn rds_health(config: &RdsHealthConfig, sdk: &aws_config::SdkConfig) -> RdsHealthFunction {
    let rds = Rds::new(LazyClient::from_sdk(sdk, aws_sdk_rds::Client::new));
    let store = incident_store(&config.store, sdk);
    let kind = DbInstances {
        databases: rds.clone(),
        failover: rds,
        alarms: CloudWatch::new(LazyClient::from_sdk(sdk, aws_sdk_cloudwatch::Client::new)),
        records: store.clone(),
        policy: config.policy.clone(),
    };
    Function::new(database::FUNCTION, kind, database::trigger::parse, store)
}

/// zone-health: zones behind load balancers, their trigger parser, and their AWS ports.
pub fn zone_health(config: &ZoneHealthConfig, sdk: &aws_config::SdkConfig) -> ZoneHealthFunction {
    let autoscaling = AutoScaling::new(LazyClient::from_sdk(sdk, aws_sdk_autoscaling::Client::new));
    let balancers = LoadBalancing::new(LazyClient::from_sdk(
        sdk,
        aws_sdk_elasticloadbalancingv2::Client::new,
    ));
    let kind = Zones {
        shifts: zonal_shift(sdk, &balancers),
        balancers: balancers.clone(),
        targets: balancers,
        groups: autoscaling.clone(),
        capacity: autoscaling,
        policy: config.policy.clone(),
        swept: Default::default(),
    };
    Function::new(
        zone::FUNCTION,
        kind,
        zone::trigger::parse,
        incident_store(&config.store, sdk),
    )
}

pub fn notifier_handler(
    config: &crate::notifier::Config,
    sdk: &aws_config::SdkConfig,
) -> AwsNotifierHandler {
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
    let handler = NotifierHandler::new(
        SnsNotifier::new(sns.clone(), config.topic_arn.as_str()),
        failure_destination,
    );
    match &config.chatbot_topic_arn {
        Some(chat) => handler.with_chat(SnsNotifier::chatbot(sns, chat)),
        None => handler,
    }
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
