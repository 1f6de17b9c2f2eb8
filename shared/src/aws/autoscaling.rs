use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_autoscaling::error::ProvideErrorMetadata;
use aws_sdk_autoscaling::types::{AutoScalingGroup, Filter, InstanceRefreshStatus};
use aws_sdk_autoscaling::Client;
use tracing::warn;

use super::classify;
use crate::domain::{ActionKind, GroupInstance, ScalingGroup};
use crate::error::Error;
use crate::ids::{AutoScalingGroupName, InstanceId, TargetGroupArn};
use crate::ports::{InstanceReplacer, Replaced, ScalingGroups};

/// DescribeAutoScalingInstances takes at most this many ids per call.
const MAX_INSTANCE_IDS_PER_CALL: usize = 50;

#[derive(Clone)]
pub struct AutoScaling {
    client: Client,
}

impl AutoScaling {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    async fn refresh_in_progress(&self, group: &str) -> Result<bool, Error> {
        let output = self
            .client
            .describe_instance_refreshes()
            .auto_scaling_group_name(group)
            .send()
            .await
            .map_err(|e| classify("DescribeInstanceRefreshes", e))?;
        Ok(output.instance_refreshes().iter().any(|refresh| {
            matches!(
                refresh.status(),
                Some(
                    InstanceRefreshStatus::Pending
                        | InstanceRefreshStatus::InProgress
                        | InstanceRefreshStatus::Cancelling
                        | InstanceRefreshStatus::RollbackInProgress
                        | InstanceRefreshStatus::Baking
                )
            )
        }))
    }

    /// Converts a described group. The refresh status costs a call, so it is asked for
    /// only for groups tagged `refresh_if_managed_by=true`: the only ones ever acted on.
    async fn convert(
        &self,
        group: &AutoScalingGroup,
        refresh_if_managed_by: Option<&str>,
    ) -> Result<Option<ScalingGroup>, Error> {
        let Some(name) = group.auto_scaling_group_name() else {
            return Ok(None);
        };
        let name = match AutoScalingGroupName::parse(name) {
            Ok(name) => name,
            Err(err) => {
                warn!(error = %err, "skipping group with an unusable name");
                return Ok(None);
            }
        };
        let mut converted = ScalingGroup {
            tags: group
                .tags()
                .iter()
                .filter_map(|t| {
                    Some((
                        t.key()?.to_owned(),
                        t.value().unwrap_or_default().to_owned(),
                    ))
                })
                .collect::<BTreeMap<_, _>>(),
            suspended_processes: group
                .suspended_processes()
                .iter()
                .filter_map(|p| p.process_name().map(str::to_owned))
                .collect(),
            instances: group
                .instances()
                .iter()
                .filter_map(|i| {
                    Some(GroupInstance {
                        instance_id: InstanceId::parse(i.instance_id()?).ok()?,
                        lifecycle_state: i
                            .lifecycle_state()
                            .map(|s| s.as_str().to_owned())
                            .unwrap_or_default(),
                        health_status: i.health_status().unwrap_or_default().to_owned(),
                    })
                })
                .collect(),
            target_group_arns: group
                .target_group_arns()
                .iter()
                .filter_map(|arn| TargetGroupArn::parse(arn.as_str()).ok())
                .collect(),
            instance_refresh_in_progress: false,
            name,
        };
        if refresh_if_managed_by.is_some_and(|key| converted.is_managed(key)) {
            converted.instance_refresh_in_progress =
                self.refresh_in_progress(converted.name.as_str()).await?;
        }
        Ok(Some(converted))
    }
}

impl ScalingGroups for AutoScaling {
    async fn groups_owning(
        &self,
        instances: &[InstanceId],
        managed_tag_key: &str,
    ) -> Result<Vec<ScalingGroup>, Error> {
        let mut names = BTreeSet::new();
        for chunk in instances.chunks(MAX_INSTANCE_IDS_PER_CALL) {
            let output = self
                .client
                .describe_auto_scaling_instances()
                .set_instance_ids(Some(chunk.iter().map(ToString::to_string).collect()))
                .send()
                .await
                .map_err(|e| classify("DescribeAutoScalingInstances", e))?;
            names.extend(
                output
                    .auto_scaling_instances()
                    .iter()
                    .filter_map(|i| i.auto_scaling_group_name().map(str::to_owned)),
            );
        }
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let output = self
            .client
            .describe_auto_scaling_groups()
            .set_auto_scaling_group_names(Some(names.into_iter().collect()))
            .send()
            .await
            .map_err(|e| classify("DescribeAutoScalingGroups", e))?;
        let mut groups = Vec::new();
        for group in output.auto_scaling_groups() {
            groups.extend(self.convert(group, Some(managed_tag_key)).await?);
        }
        Ok(groups)
    }

    async fn managed_groups(&self, tag_key: &str) -> Result<Vec<ScalingGroup>, Error> {
        let filter = Filter::builder()
            .name(format!("tag:{tag_key}"))
            .values("true")
            .build();
        let mut pages = self
            .client
            .describe_auto_scaling_groups()
            .filters(filter)
            .into_paginator()
            .send();
        let mut groups = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("DescribeAutoScalingGroups", e))?;
            for group in page.auto_scaling_groups() {
                groups.extend(self.convert(group, None).await?);
            }
        }
        Ok(groups)
    }
}

impl InstanceReplacer for AutoScaling {
    async fn replace(
        &self,
        kind: ActionKind,
        _group: &AutoScalingGroupName,
        instance: &InstanceId,
    ) -> Result<Replaced, Error> {
        let result = match kind {
            // The group notices the health change and replaces the instance itself,
            // honouring its lifecycle hooks; the grace period protects a new instance.
            ActionKind::SetInstanceHealth => self
                .client
                .set_instance_health()
                .instance_id(instance.as_str())
                .health_status("Unhealthy")
                .should_respect_grace_period(true)
                .send()
                .await
                .map(drop)
                .map_err(|e| (instance_not_found(&e), classify("SetInstanceHealth", e))),
            // Capacity is kept: the group launches a replacement.
            ActionKind::TerminateInstance => self
                .client
                .terminate_instance_in_auto_scaling_group()
                .instance_id(instance.as_str())
                .should_decrement_desired_capacity(false)
                .send()
                .await
                .map(drop)
                .map_err(|e| {
                    (
                        instance_not_found(&e),
                        classify("TerminateInstanceInAutoScalingGroup", e),
                    )
                }),
        };
        match result {
            Ok(()) => Ok(Replaced::Requested),
            Err((true, _)) => Ok(Replaced::AlreadyGone),
            Err((false, err)) => Err(err),
        }
    }
}

/// Auto Scaling's answer for an instance it does not manage (any more):
/// `ValidationError: Instance Id not found - No managed instance found for instance id …`.
fn instance_not_found<E: ProvideErrorMetadata>(err: &E) -> bool {
    err.code() == Some("ValidationError")
        && err
            .message()
            .is_some_and(|m| m.contains("Instance Id not found"))
}

#[cfg(test)]
mod tests;
