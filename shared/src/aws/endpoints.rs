//! Which AWS endpoints a function will call, resolved the way its SDK clients resolve
//! them (region, FIPS and dual-stack settings, `AWS_ENDPOINT_URL` and the service's own
//! `AWS_ENDPOINT_URL_<SERVICE>`), so that init can open those connections.

use std::collections::BTreeSet;

use aws_types::service_config::ServiceConfigKey;
use aws_types::SdkConfig;

/// An AWS service a Rebound function calls, with its SDK crate's endpoint rules.
///
/// A constant per service rather than an enum matched at run time: a binary links the
/// rules of the services it names and no other (each crate's rules and partition table
/// are tens of KB; a match would link every service's into every function).
#[derive(Clone, Copy)]
pub struct Service {
    name: &'static str,
    resolve: for<'a> fn(&'a SdkConfig) -> Resolving<'a>,
}

type Resolving<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, String>> + Send + 'a>>;

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for Service {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Service {}

/// The endpoint each service's client will call, without duplicates (every service
/// shares one endpoint behind an emulator). A service whose endpoint cannot be
/// resolved (no region, say) is left out: its client will report that itself.
pub async fn endpoints(sdk: &SdkConfig, services: &[Service]) -> BTreeSet<String> {
    let mut endpoints = BTreeSet::new();
    for &service in services {
        match resolve(sdk, service).await {
            Ok(url) => {
                endpoints.insert(url);
            }
            Err(reason) => tracing::debug!(?service, %reason, "no endpoint to open"),
        }
    }
    endpoints
}

/// The endpoint URL configured for a service, as the SDK's generated config reads it:
/// the service's own setting first, then the global one.
fn configured_url(sdk: &SdkConfig, service_id: &str) -> Option<String> {
    let key = ServiceConfigKey::builder()
        .service_id(service_id)
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .ok()?;
    sdk.service_config()
        .and_then(|config| config.load_config(key))
        .or_else(|| sdk.endpoint_url().map(str::to_owned))
}

/// Runs one SDK crate's own endpoint rules with the parameters its client would pass.
macro_rules! resolve_with {
    ($krate:ident, $service_id:literal, $sdk:expr) => {{
        use $krate::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
        let params = Params::builder()
            .set_region($sdk.region().map(|region| region.to_string()))
            .set_use_fips(Some($sdk.use_fips().unwrap_or(false)))
            .set_use_dual_stack(Some($sdk.use_dual_stack().unwrap_or(false)))
            .set_endpoint(configured_url($sdk, $service_id))
            .build()
            .map_err(|e| e.to_string())?;
        DefaultResolver::new()
            .resolve_endpoint(&params)
            .await
            .map(|endpoint| endpoint.url().to_owned())
            .map_err(|e| e.to_string())
    }};
}

/// Defines `Service::$name` with the rules of `$krate`.
macro_rules! services {
    ($($name:ident => $krate:ident, $service_id:literal;)*) => {
        impl Service {
            $(
                pub const $name: Service = Service {
                    name: $service_id,
                    resolve: |sdk| Box::pin(async move { resolve_with!($krate, $service_id, sdk) }),
                };
            )*
        }
    };
}

services! {
    DYNAMO_DB => aws_sdk_dynamodb, "DynamoDB";
    ELASTIC_LOAD_BALANCING => aws_sdk_elasticloadbalancingv2, "Elastic Load Balancing v2";
    AUTO_SCALING => aws_sdk_autoscaling, "Auto Scaling";
    RDS => aws_sdk_rds, "RDS";
    SNS => aws_sdk_sns, "SNS";
    SQS => aws_sdk_sqs, "SQS";
    CLOUD_WATCH => aws_sdk_cloudwatch, "CloudWatch";
    ARC_ZONAL_SHIFT => aws_sdk_arczonalshift, "ARC Zonal Shift";
    EC2 => aws_sdk_ec2, "EC2";
    CODE_DEPLOY => aws_sdk_codedeploy, "CodeDeploy";
    CLOUD_FORMATION => aws_sdk_cloudformation, "CloudFormation";
}

async fn resolve(sdk: &SdkConfig, service: Service) -> Result<String, String> {
    (service.resolve)(sdk).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_config::Region;

    fn sdk(endpoint_url: Option<&str>) -> SdkConfig {
        let mut builder = SdkConfig::builder().region(Region::new("eu-west-1"));
        if let Some(url) = endpoint_url {
            builder = builder.endpoint_url(url);
        }
        builder.build()
    }

    #[tokio::test]
    async fn each_service_resolves_to_its_regional_endpoint() {
        let found = endpoints(
            &sdk(None),
            &[
                Service::DYNAMO_DB,
                Service::ELASTIC_LOAD_BALANCING,
                Service::AUTO_SCALING,
            ],
        )
        .await;
        let expected: BTreeSet<String> = [
            "https://dynamodb.eu-west-1.amazonaws.com",
            "https://elasticloadbalancing.eu-west-1.amazonaws.com",
            "https://autoscaling.eu-west-1.amazonaws.com",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        assert_eq!(found, expected);
    }

    #[tokio::test]
    async fn fips_endpoints_are_the_ones_opened_when_fips_is_on() {
        let config = SdkConfig::builder()
            .region(Region::new("us-east-1"))
            .use_fips(true)
            .build();
        let found = endpoints(&config, &[Service::RDS]).await;
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            ["https://rds-fips.us-east-1.amazonaws.com"]
        );
    }

    #[tokio::test]
    async fn services_behind_one_endpoint_url_share_one_connection() {
        let found = endpoints(
            &sdk(Some("http://127.0.0.1:4566")),
            &[Service::SNS, Service::SQS, Service::DYNAMO_DB],
        )
        .await;
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            ["http://127.0.0.1:4566"]
        );
    }

    #[tokio::test]
    async fn without_a_region_there_is_nothing_to_open() {
        let found = endpoints(&SdkConfig::builder().build(), &[Service::DYNAMO_DB]).await;
        assert!(found.is_empty());
    }
}
