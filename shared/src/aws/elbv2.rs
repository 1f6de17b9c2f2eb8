use aws_sdk_elasticloadbalancingv2::Client;
use tracing::debug;

use super::classify;
use super::LazyClient;
use crate::error::Error;
use crate::ids::{InstanceId, TargetGroupArn};
use crate::kinds::target_group::observation::{TargetHealth, TargetState};
use crate::kinds::target_group::ports::TargetHealthSource;

#[derive(Clone)]
pub struct LoadBalancing {
    client: LazyClient<Client>,
}

impl LoadBalancing {
    pub fn new(client: impl Into<LazyClient<Client>>) -> Self {
        Self {
            client: client.into(),
        }
    }
}

impl TargetHealthSource for LoadBalancing {
    async fn target_health(
        &self,
        target_group: &TargetGroupArn,
    ) -> Result<Option<Vec<TargetHealth>>, Error> {
        let result = self
            .client
            .describe_target_health()
            .target_group_arn(target_group.as_str())
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_target_group_not_found_exception()) =>
            {
                return Ok(None)
            }
            Err(err) => return Err(classify("DescribeTargetHealth", err)),
        };
        let mut targets = Vec::new();
        for description in output.target_health_descriptions() {
            let Some(target) = description.target() else {
                continue;
            };
            // IP and Lambda targets have no Auto Scaling group to heal them.
            let Ok(instance_id) = InstanceId::parse(target.id().unwrap_or_default()) else {
                debug!(target = ?target.id(), "skipping non-instance target");
                continue;
            };
            let health = description.target_health();
            targets.push(TargetHealth {
                instance_id,
                port: target.port(),
                state: health
                    .and_then(|h| h.state())
                    .map(|s| TargetState::from_api(s.as_str()))
                    .unwrap_or_else(|| TargetState::Other("unknown".into())),
                reason: health
                    .and_then(|h| h.reason())
                    .map(|r| r.as_str().to_owned()),
                description: health.and_then(|h| h.description()).map(str::to_owned),
            });
        }
        Ok(Some(targets))
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthOutput;
    use aws_sdk_elasticloadbalancingv2::types::{
        TargetDescription, TargetHealth as ApiHealth, TargetHealthDescription,
        TargetHealthReasonEnum, TargetHealthStateEnum,
    };
    use aws_smithy_mocks::{mock, mock_client};

    use super::*;

    const TG: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2d6bc24d8a067";

    fn description(
        id: &str,
        state: TargetHealthStateEnum,
        reason: Option<TargetHealthReasonEnum>,
    ) -> TargetHealthDescription {
        TargetHealthDescription::builder()
            .target(TargetDescription::builder().id(id).port(80).build())
            .target_health(
                ApiHealth::builder()
                    .state(state)
                    .set_reason(reason)
                    .description("d")
                    .build(),
            )
            .build()
    }

    #[tokio::test]
    async fn instance_targets_are_converted_with_their_reason_codes_and_others_skipped() {
        let rule = mock!(Client::describe_target_health)
            .match_requests(|req| req.target_group_arn() == Some(TG))
            .then_output(|| {
                DescribeTargetHealthOutput::builder()
                    .target_health_descriptions(description(
                        "i-0a1",
                        TargetHealthStateEnum::Unhealthy,
                        Some(TargetHealthReasonEnum::FailedHealthChecks),
                    ))
                    .target_health_descriptions(description(
                        "i-0b2",
                        TargetHealthStateEnum::Healthy,
                        None,
                    ))
                    .target_health_descriptions(description(
                        "10.0.0.7",
                        TargetHealthStateEnum::Healthy,
                        None,
                    ))
                    .build()
            });
        let client = mock_client!(aws_sdk_elasticloadbalancingv2, [&rule]);
        let targets = LoadBalancing::new(client)
            .target_health(&TargetGroupArn::parse(TG).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[0].state, TargetState::Unhealthy);
        assert_eq!(
            targets[0].reason.as_deref(),
            Some("Target.FailedHealthChecks")
        );
        assert!(targets[0].failed_health_checks());
        assert_eq!(targets[1].state, TargetState::Healthy);
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_deleted_target_group_is_reported_as_gone_not_as_an_error() {
        let rule = mock!(Client::describe_target_health).then_error(|| {
            aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthError::TargetGroupNotFoundException(
                aws_sdk_elasticloadbalancingv2::types::error::TargetGroupNotFoundException::builder().message("gone").build(),
            )
        });
        let client = mock_client!(aws_sdk_elasticloadbalancingv2, [&rule]);
        let targets = LoadBalancing::new(client)
            .target_health(&TargetGroupArn::parse(TG).unwrap())
            .await
            .unwrap();
        assert_eq!(targets, None);
    }
}
