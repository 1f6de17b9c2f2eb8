//! The SDK configuration of a function, read from what Lambda puts in its environment.
//!
//! Lambda hands every function its region (`AWS_REGION`) and its role's credentials
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) as environment
//! variables. aws-config's default loader would also look for profile files, SSO, web
//! identity, ECS and IMDS credentials and build that whole chain during init; the
//! functions need none of it, so they read exactly the variables below: less init work,
//! and 0.75 MB less binary (0.3 MB less zip) in target-health at opt-level "s". The CLI,
//! run by people with profiles, keeps aws-config's default chain (`load_sdk_config`).
//!
//! Read: `AWS_REGION` (else `AWS_DEFAULT_REGION`), the credentials above,
//! `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` (an emulator, a VPC endpoint;
//! ignored when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`), `AWS_USE_FIPS_ENDPOINT`,
//! `AWS_USE_DUALSTACK_ENDPOINT`.

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_async::rt::sleep::default_async_sleep;
use aws_smithy_async::time::SystemTimeSource;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};

use super::http::CONNECT_TIMEOUT;
use super::{retry_config, Https};

/// Builds the configuration from `lookup` (the process environment in a function).
pub fn lambda_sdk_config(https: &Https, lookup: impl Fn(&str) -> Option<String>) -> SdkConfig {
    let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
    let flag =
        |name: &str| get(name).is_some_and(|value| value.trim().eq_ignore_ascii_case("true"));

    let ignore_endpoints = flag("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(
            get("AWS_REGION")
                .or_else(|| get("AWS_DEFAULT_REGION"))
                .map(Region::new),
        )
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                EnvironmentVariableCredentialsProvider::new(),
            ),
        )
        .http_client(https.client())
        .retry_config(retry_config())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .build(),
        )
        .time_source(SystemTimeSource::new())
        .use_fips(flag("AWS_USE_FIPS_ENDPOINT"))
        .use_dual_stack(flag("AWS_USE_DUALSTACK_ENDPOINT"));
    if let Some(sleep) = default_async_sleep() {
        builder = builder.sleep_impl(sleep);
    }
    if !ignore_endpoints {
        if let Some(url) = get("AWS_ENDPOINT_URL") {
            builder = builder.endpoint_url(url);
        }
        let per_service = ServiceEndpoints {
            urls: SERVICE_IDS
                .iter()
                .filter_map(|id| {
                    let name = ServiceEndpoints::variable("AWS_ENDPOINT_URL", id);
                    get(&name).map(|url| (name, url.trim().to_owned()))
                })
                .collect(),
        };
        builder = builder.service_config(per_service);
    }
    builder.build()
}

/// The SDK service ids of every client Rebound builds (see `Service`): each one's own
/// `AWS_ENDPOINT_URL_<SERVICE>` is honoured.
const SERVICE_IDS: [&str; 12] = [
    "DynamoDB",
    "Elastic Load Balancing v2",
    "Auto Scaling",
    "RDS",
    "SNS",
    "SQS",
    "CloudWatch",
    "ARC Zonal Shift",
    "EC2",
    "CodeDeploy",
    "CloudFormation",
    "S3",
];

/// `AWS_ENDPOINT_URL_<SERVICE>` values, named the way the SDK names them: the service
/// id in capitals, spaces as underscores (`AWS_ENDPOINT_URL_AUTO_SCALING`).
#[derive(Debug)]
struct ServiceEndpoints {
    urls: Vec<(String, String)>,
}

impl ServiceEndpoints {
    fn variable(prefix: &str, service_id: &str) -> String {
        format!(
            "{prefix}_{}",
            service_id.to_ascii_uppercase().replace([' ', '-'], "_")
        )
    }
}

impl LoadServiceConfig for ServiceEndpoints {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        let name = Self::variable(key.env(), key.service_id());
        self.urls
            .iter()
            .find(|(variable, _)| *variable == name)
            .map(|(_, url)| url.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    use crate::aws::{endpoints, Service};

    fn config(vars: &[(&str, &str)]) -> SdkConfig {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        lambda_sdk_config(&Https::new(), |name| vars.get(name).cloned())
    }

    #[tokio::test]
    async fn the_region_and_endpoints_come_from_what_lambda_sets() {
        let sdk = config(&[
            ("AWS_REGION", "eu-central-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ]);
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-central-1"));
        assert!(sdk.credentials_provider().is_some());
        let found = endpoints(&sdk, &[Service::AUTO_SCALING]).await;
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            ["https://autoscaling.eu-central-1.amazonaws.com"]
        );
    }

    #[tokio::test]
    async fn a_service_endpoint_url_overrides_the_global_one_for_that_service_only() {
        let sdk = config(&[
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
            ("AWS_ENDPOINT_URL_AUTO_SCALING", "http://127.0.0.1:5001"),
        ]);
        let found = endpoints(&sdk, &[Service::AUTO_SCALING, Service::DYNAMO_DB]).await;
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            ["http://127.0.0.1:5000", "http://127.0.0.1:5001"]
        );
    }

    #[tokio::test]
    async fn every_service_rebound_calls_reads_its_own_endpoint_url() {
        let sdk = config(&[
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
            ("AWS_ENDPOINT_URL_CODEDEPLOY", "http://127.0.0.1:5011"),
            ("AWS_ENDPOINT_URL_CLOUDFORMATION", "http://127.0.0.1:5012"),
            ("AWS_ENDPOINT_URL_CLOUDWATCH", "http://127.0.0.1:5013"),
            ("AWS_ENDPOINT_URL_ARC_ZONAL_SHIFT", "http://127.0.0.1:5014"),
            ("AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:5015"),
        ]);
        let found = endpoints(
            &sdk,
            &[
                Service::CODE_DEPLOY,
                Service::CLOUD_FORMATION,
                Service::CLOUD_WATCH,
                Service::ARC_ZONAL_SHIFT,
                Service::EC2,
            ],
        )
        .await;
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            [
                "http://127.0.0.1:5011",
                "http://127.0.0.1:5012",
                "http://127.0.0.1:5013",
                "http://127.0.0.1:5014",
                "http://127.0.0.1:5015"
            ]
        );
    }

    #[tokio::test]
    async fn configured_endpoint_urls_can_be_ignored_and_fips_asked_for() {
        let sdk = config(&[
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
            ("AWS_USE_FIPS_ENDPOINT", "TRUE"),
        ]);
        let found = endpoints(&sdk, &[Service::DYNAMO_DB]).await;
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            ["https://dynamodb-fips.us-east-1.amazonaws.com"]
        );
    }
}
