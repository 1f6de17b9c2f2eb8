use aws_sdk_elasticloadbalancingv2::Client;
use tracing::debug;

use std::collections::BTreeMap;

use super::classify;
use super::LazyClient;
use crate::error::Error;
use crate::ids::{AvailabilityZone, InstanceId, LoadBalancerArn, TargetGroupArn};
use crate::kinds::target_group::observation::{TargetHealth, TargetState};
use crate::kinds::target_group::ports::TargetHealthSource;
use crate::kinds::zone::observation::{LoadBalancer, ZONAL_SHIFT_ATTRIBUTE};
use crate::kinds::zone::ports::LoadBalancers;

/// The most target groups one page of DescribeTargetGroups returns.
const MAX_TARGET_GROUPS_PER_PAGE: i32 = 400;

/// DescribeTags takes at most this many ARNs per call.
const MAX_TAGGED_PER_CALL: usize = 20;

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

impl LoadBalancing {
    /// The load balancers that forward to a target group (none when it is gone).
    pub async fn load_balancers_of(
        &self,
        target_group: &TargetGroupArn,
    ) -> Result<Vec<LoadBalancerArn>, Error> {
        let result = self
            .client
            .describe_target_groups()
            .target_group_arns(target_group.as_str())
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_target_group_not_found_exception()) =>
            {
                return Ok(Vec::new())
            }
            Err(err) => return Err(classify("DescribeTargetGroups", err)),
        };
        let mut balancers: Vec<LoadBalancerArn> = output
            .target_groups()
            .iter()
            .flat_map(|tg| tg.load_balancer_arns())
            .filter_map(|arn| LoadBalancerArn::parse(arn.as_str()).ok())
            .collect();
        balancers.sort();
        balancers.dedup();
        Ok(balancers)
    }

    /// The load balancers in front of each of the account's target groups (those with
    /// none are left out): every page of `DescribeTargetGroups`, 400 target groups each.
    pub async fn load_balancers_by_target_group(
        &self,
    ) -> Result<BTreeMap<TargetGroupArn, Vec<LoadBalancerArn>>, Error> {
        let mut pages = self
            .client
            .describe_target_groups()
            .page_size(MAX_TARGET_GROUPS_PER_PAGE)
            .into_paginator()
            .send();
        let mut fronted = BTreeMap::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("DescribeTargetGroups", e))?;
            for group in page.target_groups() {
                let Some(Ok(arn)) = group.target_group_arn().map(TargetGroupArn::parse) else {
                    continue;
                };
                let balancers: Vec<LoadBalancerArn> = group
                    .load_balancer_arns()
                    .iter()
                    .filter_map(|arn| LoadBalancerArn::parse(arn.as_str()).ok())
                    .collect();
                if !balancers.is_empty() {
                    fronted.insert(arn, balancers);
                }
            }
        }
        Ok(fronted)
    }

    /// Tags of each load balancer, 20 per call.
    async fn tags(
        &self,
        arns: &[LoadBalancerArn],
    ) -> Result<BTreeMap<String, BTreeMap<String, String>>, Error> {
        let mut tags = BTreeMap::new();
        for chunk in arns.chunks(MAX_TAGGED_PER_CALL) {
            let output = self
                .client
                .describe_tags()
                .set_resource_arns(Some(chunk.iter().map(ToString::to_string).collect()))
                .send()
                .await
                .map_err(|e| classify("DescribeTags", e))?;
            for description in output.tag_descriptions() {
                let Some(arn) = description.resource_arn() else {
                    continue;
                };
                tags.insert(
                    arn.to_owned(),
                    description
                        .tags()
                        .iter()
                        .filter_map(|t| {
                            Some((
                                t.key()?.to_owned(),
                                t.value().unwrap_or_default().to_owned(),
                            ))
                        })
                        .collect(),
                );
            }
        }
        Ok(tags)
    }

    /// Completes a described load balancer: whether zonal shift is enabled on it, and
    /// the target groups it forwards to.
    async fn complete(
        &self,
        arn: LoadBalancerArn,
        zones: Vec<AvailabilityZone>,
        tags: BTreeMap<String, String>,
    ) -> Result<LoadBalancer, Error> {
        let (zonal_shift_enabled, target_groups) =
            futures::try_join!(self.zonal_shift_enabled(&arn), self.target_groups_of(&arn))?;
        Ok(LoadBalancer {
            arn,
            tags,
            zonal_shift_enabled,
            zones,
            target_groups,
        })
    }

    /// Its `zonal_shift.config.enabled` attribute.
    async fn zonal_shift_enabled(&self, arn: &LoadBalancerArn) -> Result<bool, Error> {
        let attributes = self
            .client
            .describe_load_balancer_attributes()
            .load_balancer_arn(arn.as_str())
            .send()
            .await
            .map_err(|e| classify("DescribeLoadBalancerAttributes", e))?;
        Ok(attributes.attributes().iter().any(|a| {
            a.key() == Some(ZONAL_SHIFT_ATTRIBUTE)
                && a.value().is_some_and(|v| v.eq_ignore_ascii_case("true"))
        }))
    }

    /// The target groups it forwards to.
    async fn target_groups_of(&self, arn: &LoadBalancerArn) -> Result<Vec<TargetGroupArn>, Error> {
        let mut target_groups = Vec::new();
        let mut pages = self
            .client
            .describe_target_groups()
            .load_balancer_arn(arn.as_str())
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("DescribeTargetGroups", e))?;
            target_groups.extend(
                page.target_groups()
                    .iter()
                    .filter_map(|tg| TargetGroupArn::parse(tg.target_group_arn()?).ok()),
            );
        }
        Ok(target_groups)
    }
}

fn zones_of(
    balancer: &aws_sdk_elasticloadbalancingv2::types::LoadBalancer,
) -> Vec<AvailabilityZone> {
    balancer
        .availability_zones()
        .iter()
        .filter_map(|zone| AvailabilityZone::parse(zone.zone_name()?).ok())
        .collect()
}

impl LoadBalancers for LoadBalancing {
    async fn load_balancer(&self, arn: &LoadBalancerArn) -> Result<Option<LoadBalancer>, Error> {
        // Every read here needs only the ARN: one round trip instead of three. When the
        // load balancer is gone the others fail too, and only its absence is reported.
        let (described, tags, attributes_and_groups) = futures::join!(
            self.client
                .describe_load_balancers()
                .load_balancer_arns(arn.as_str())
                .send(),
            self.tags(std::slice::from_ref(arn)),
            futures::future::try_join(self.zonal_shift_enabled(arn), self.target_groups_of(arn)),
        );
        let output = match described {
            Ok(output) => output,
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_load_balancer_not_found_exception()) =>
            {
                return Ok(None)
            }
            Err(err) => return Err(classify("DescribeLoadBalancers", err)),
        };
        let Some(described) = output.load_balancers().first() else {
            return Ok(None);
        };
        let tags = tags?.remove(arn.as_str()).unwrap_or_default();
        let (zonal_shift_enabled, target_groups) = attributes_and_groups?;
        Ok(Some(LoadBalancer {
            arn: arn.clone(),
            tags,
            zonal_shift_enabled,
            zones: zones_of(described),
            target_groups,
        }))
    }

    async fn managed_load_balancers(&self, tag_key: &str) -> Result<Vec<LoadBalancer>, Error> {
        let mut described = Vec::new();
        let mut pages = self
            .client
            .describe_load_balancers()
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("DescribeLoadBalancers", e))?;
            for balancer in page.load_balancers() {
                if let Some(arn) = balancer
                    .load_balancer_arn()
                    .and_then(|arn| LoadBalancerArn::parse(arn).ok())
                {
                    described.push((arn, zones_of(balancer)));
                }
            }
        }
        let arns: Vec<LoadBalancerArn> = described.iter().map(|(arn, _)| arn.clone()).collect();
        let mut tags = self.tags(&arns).await?;
        let mut managed = Vec::new();
        for (arn, zones) in described {
            let tags = tags.remove(arn.as_str()).unwrap_or_default();
            if tags.get(tag_key).is_some_and(|value| value == "true") {
                managed.push(self.complete(arn, zones, tags).await?);
            }
        }
        Ok(managed)
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
