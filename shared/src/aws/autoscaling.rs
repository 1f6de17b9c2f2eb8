use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use aws_sdk_autoscaling::error::ProvideErrorMetadata;
use aws_sdk_autoscaling::types::{AutoScalingGroup, Filter, InstanceRefreshStatus, Tag};
use aws_sdk_autoscaling::Client;
use tracing::warn;

use super::classify;
use super::LazyClient;
use crate::domain::ActionKind;
use crate::error::Error;
use crate::ids::{AutoScalingGroupName, AvailabilityZone, IncidentId, InstanceId, TargetGroupArn};
use crate::kinds::target_group::observation::{
    GroupInstance, ScalingGroup, REPLACE_UNHEALTHY, SUSPENDED_BY_TAG_KEY,
};
use crate::kinds::target_group::ports::{InstanceReplacer, Replaced, ScalingGroups};
use crate::kinds::target_group::{SET_INSTANCE_HEALTH, TERMINATE_INSTANCE};
use crate::kinds::zone::ports::CapacityRaiser;

/// DescribeAutoScalingInstances takes at most this many ids per call.
const MAX_INSTANCE_IDS_PER_CALL: usize = 50;

#[derive(Clone)]
pub struct AutoScaling {
    client: LazyClient<Client>,
    /// The last listing of managed groups filled more than a page: a delivery does not
    /// read them ahead (the next listing that fits one page clears it).
    many_managed: Arc<AtomicBool>,
}

/// The most groups one `DescribeAutoScalingGroups` page holds (the default is 50).
const GROUPS_PER_PAGE: i32 = 100;

impl AutoScaling {
    pub fn new(client: impl Into<LazyClient<Client>>) -> Self {
        Self {
            client: client.into(),
            many_managed: Arc::new(AtomicBool::new(false)),
        }
    }

    fn managed_filter(tag_key: &str) -> Filter {
        Filter::builder()
            .name(format!("tag:{tag_key}"))
            .values("true")
            .build()
    }

    async fn refresh_running(&self, group: &str) -> Result<bool, Error> {
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
                        availability_zone: i
                            .availability_zone()
                            .and_then(|zone| AvailabilityZone::parse(zone).ok()),
                    })
                })
                .collect(),
            target_group_arns: target_groups_of(group),
            instance_refresh_in_progress: false,
            desired_capacity: group.desired_capacity().unwrap_or(0).max(0) as u32,
            health_check_grace_period_s: group.health_check_grace_period().unwrap_or(0).max(0)
                as u32,
            launch_template: launch_template_of(group),
            arn: group.auto_scaling_group_arn().map(str::to_owned),
            max_size: group.max_size().unwrap_or(0).max(0) as u32,
            zonal_shift_enabled: group
                .availability_zone_impairment_policy()
                .and_then(|policy| policy.zonal_shift_enabled())
                .unwrap_or(false),
            health_check_type: group.health_check_type().unwrap_or("EC2").to_owned(),
            name,
        };
        if refresh_if_managed_by.is_some_and(|key| converted.is_managed(key)) {
            converted.instance_refresh_in_progress =
                self.refresh_running(converted.name.as_str()).await?;
        }
        Ok(Some(converted))
    }
}

/// Target groups from `TargetGroupARNs` and from `elbv2` traffic sources
/// (AttachTrafficSources): a group attached either way registers its instances.
fn target_groups_of(group: &AutoScalingGroup) -> Vec<TargetGroupArn> {
    let classic = group.target_group_arns().iter().map(String::as_str);
    let traffic_sources = group
        .traffic_sources()
        .iter()
        .filter(|source| source.r#type().is_none_or(|t| t == "elbv2"))
        .filter_map(|source| source.identifier());
    let mut arns: Vec<TargetGroupArn> = classic
        .chain(traffic_sources)
        .filter_map(|arn| TargetGroupArn::parse(arn).ok())
        .collect();
    arns.sort();
    arns.dedup();
    arns
}

/// What new instances launch from, as people read it: `lt-0abc (web) version 7`, or
/// `launch configuration web-v3`. However the group launches, the loop guard needs a key
/// (a group whose configuration cannot be read still has one: its name).
fn launch_template_of(group: &AutoScalingGroup) -> Option<String> {
    launch_template_spec_of(group)
        .or_else(|| {
            group
                .launch_configuration_name()
                .map(|name| format!("launch configuration {name}"))
        })
        .or_else(|| {
            group
                .auto_scaling_group_name()
                .map(|name| format!("the configuration of group {name}"))
        })
}

fn launch_template_spec_of(group: &AutoScalingGroup) -> Option<String> {
    let template = group.launch_template().or_else(|| {
        group
            .mixed_instances_policy()
            .and_then(|p| p.launch_template())
            .and_then(|t| t.launch_template_specification())
    })?;
    let id = template
        .launch_template_id()
        .or(template.launch_template_name())?;
    let version = template.version().unwrap_or("$Default");
    Some(
        match (
            template.launch_template_id(),
            template.launch_template_name(),
        ) {
            (Some(_), Some(name)) => format!("{id} ({name}) version {version}"),
            _ => format!("{id} version {version}"),
        },
    )
}

impl AutoScaling {
    async fn describe_named(
        &self,
        names: Vec<String>,
        refresh_if_managed_by: Option<&str>,
    ) -> Result<Vec<ScalingGroup>, Error> {
        let mut groups = Vec::new();
        // DescribeAutoScalingGroups takes at most 100 names per call.
        for chunk in names.chunks(100) {
            let output = self
                .client
                .describe_auto_scaling_groups()
                .set_auto_scaling_group_names(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| classify("DescribeAutoScalingGroups", e))?;
            for group in output.auto_scaling_groups() {
                groups.extend(self.convert(group, None).await?);
            }
        }
        // The refresh status of every managed group at once: a call each.
        if let Some(key) = refresh_if_managed_by {
            let managed: Vec<&mut ScalingGroup> =
                groups.iter_mut().filter(|g| g.is_managed(key)).collect();
            let running = futures::future::join_all(
                managed
                    .iter()
                    .map(|g| self.refresh_running(g.name.as_str())),
            )
            .await;
            for (group, running) in managed.into_iter().zip(running) {
                group.instance_refresh_in_progress = running?;
            }
        }
        Ok(groups)
    }
}

impl ScalingGroups for AutoScaling {
    async fn groups_named(
        &self,
        names: &[String],
        refresh_if_managed_by: Option<&str>,
    ) -> Result<Vec<ScalingGroup>, Error> {
        self.describe_named(names.to_vec(), refresh_if_managed_by)
            .await
    }

    async fn groups_owning(
        &self,
        instances: &[InstanceId],
        refresh_if_managed_by: Option<&str>,
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
        self.describe_named(names.into_iter().collect(), refresh_if_managed_by)
            .await
    }

    async fn managed_groups(&self, tag_key: &str) -> Result<Vec<ScalingGroup>, Error> {
        let mut pages = self
            .client
            .describe_auto_scaling_groups()
            .filters(Self::managed_filter(tag_key))
            .max_records(GROUPS_PER_PAGE)
            .into_paginator()
            .send();
        let mut groups = Vec::new();
        let mut page_count = 0;
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("DescribeAutoScalingGroups", e))?;
            page_count += 1;
            for group in page.auto_scaling_groups() {
                groups.extend(self.convert(group, None).await?);
            }
        }
        self.many_managed.store(page_count > 1, Ordering::Relaxed);
        Ok(groups)
    }

    async fn managed_groups_in_one_call(
        &self,
        tag_key: &str,
    ) -> Result<Option<Vec<ScalingGroup>>, Error> {
        if self.many_managed.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let page = self
            .client
            .describe_auto_scaling_groups()
            .filters(Self::managed_filter(tag_key))
            .max_records(GROUPS_PER_PAGE)
            .send()
            .await
            .map_err(|e| classify("DescribeAutoScalingGroups", e))?;
        if page.next_token().is_some_and(|token| !token.is_empty()) {
            self.many_managed.store(true, Ordering::Relaxed);
            return Ok(None);
        }
        let mut groups = Vec::new();
        for group in page.auto_scaling_groups() {
            groups.extend(self.convert(group, None).await?);
        }
        Ok(Some(groups))
    }

    async fn refresh_in_progress(&self, group: &AutoScalingGroupName) -> Result<bool, Error> {
        self.refresh_running(group.as_str()).await
    }
}

impl InstanceReplacer for AutoScaling {
    async fn replace(
        &self,
        kind: &ActionKind,
        _group: &AutoScalingGroupName,
        instance: &InstanceId,
    ) -> Result<Replaced, Error> {
        let result = if *kind == SET_INSTANCE_HEALTH {
            // The group notices the health change and replaces the instance itself,
            // honouring its lifecycle hooks; the grace period protects a new instance.
            self.client
                .set_instance_health()
                .instance_id(instance.as_str())
                .health_status("Unhealthy")
                .should_respect_grace_period(true)
                .send()
                .await
                .map(drop)
                .map_err(|e| (instance_not_found(&e), classify("SetInstanceHealth", e)))
        } else if *kind == TERMINATE_INSTANCE {
            // Capacity is kept: the group launches a replacement.
            self.client
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
                })
        } else {
            return Err(Error::InvalidEvent(format!(
                "{kind} is not a replacement of an instance"
            )));
        };
        match result {
            Ok(()) => Ok(Replaced::Requested),
            Err((true, _)) => Ok(Replaced::AlreadyGone),
            Err((false, err)) => Err(err),
        }
    }

    async fn suspend_replace_unhealthy(
        &self,
        group: &AutoScalingGroupName,
        incident: &IncidentId,
    ) -> Result<(), Error> {
        // The tag first: a suspension Rebound made is always one it knows to resume.
        let tag = Tag::builder()
            .resource_id(group.as_str())
            .resource_type("auto-scaling-group")
            .key(SUSPENDED_BY_TAG_KEY)
            .value(incident.as_str())
            .propagate_at_launch(false)
            .build();
        self.client
            .create_or_update_tags()
            .tags(tag)
            .send()
            .await
            .map_err(|e| classify("CreateOrUpdateTags", e))?;
        self.client
            .suspend_processes()
            .auto_scaling_group_name(group.as_str())
            .scaling_processes(REPLACE_UNHEALTHY)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("SuspendProcesses", e))
    }

    async fn resume_replace_unhealthy(&self, group: &AutoScalingGroupName) -> Result<(), Error> {
        self.client
            .resume_processes()
            .auto_scaling_group_name(group.as_str())
            .scaling_processes(REPLACE_UNHEALTHY)
            .send()
            .await
            .map_err(|e| classify("ResumeProcesses", e))?;
        let tag = Tag::builder()
            .resource_id(group.as_str())
            .resource_type("auto-scaling-group")
            .key(SUSPENDED_BY_TAG_KEY)
            .build();
        self.client
            .delete_tags()
            .tags(tag)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("DeleteTags", e))
    }
}

impl CapacityRaiser for AutoScaling {
    async fn set_desired_capacity(
        &self,
        group: &AutoScalingGroupName,
        desired: u32,
    ) -> Result<(), Error> {
        self.client
            .set_desired_capacity()
            .auto_scaling_group_name(group.as_str())
            .desired_capacity(i32::try_from(desired).unwrap_or(i32::MAX))
            .honor_cooldown(false)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("SetDesiredCapacity", e))
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
