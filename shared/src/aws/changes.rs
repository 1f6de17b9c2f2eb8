//! Changes in flight ([`crate::change`]) from CloudFormation (DescribeStacks) and
//! CodeDeploy (ListDeployments, BatchGetDeployments, GetDeploymentGroup). Reads only;
//! each independent read runs in parallel.

use std::collections::BTreeMap;

use aws_sdk_codedeploy::types::{ComputePlatform, DeploymentStatus};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use futures::future::try_join_all;

use super::{classify, LazyClient};
use crate::change::ChangeSource;
use crate::change::{Deployment, Stack, DEPLOYMENT_IN_PROGRESS};
use crate::error::Error;

/// BatchGetDeployments takes at most 25 ids.
const DEPLOYMENTS_PER_BATCH: usize = 25;
/// ListDeployments pages followed at most: a deployment in progress past this many
/// pages is not seen (logged); an account has far fewer deployments in progress.
const MAX_LIST_PAGES: usize = 10;

#[derive(Clone)]
pub struct Changes {
    cloudformation: LazyClient<aws_sdk_cloudformation::Client>,
    codedeploy: LazyClient<aws_sdk_codedeploy::Client>,
}

impl Changes {
    pub fn new(
        cloudformation: impl Into<LazyClient<aws_sdk_cloudformation::Client>>,
        codedeploy: impl Into<LazyClient<aws_sdk_codedeploy::Client>>,
    ) -> Self {
        Self {
            cloudformation: cloudformation.into(),
            codedeploy: codedeploy.into(),
        }
    }

    /// One stack by name; `None` once it no longer exists (DescribeStacks answers
    /// `ValidationError` "Stack with id NAME does not exist").
    async fn stack(&self, name: &str) -> Result<Option<Stack>, Error> {
        match self
            .cloudformation
            .describe_stacks()
            .stack_name(name)
            .send()
            .await
        {
            Ok(output) => Ok(output.stacks().first().map(|stack| Stack {
                name: stack.stack_name().unwrap_or(name).to_owned(),
                status: stack
                    .stack_status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            })),
            Err(err)
                if err.code() == Some("ValidationError")
                    && err.message().is_some_and(|m| m.contains("does not exist")) =>
            {
                Ok(None)
            }
            Err(err) => Err(classify("DescribeStacks", err)),
        }
    }

    /// The ids of every deployment in the account that has not ended.
    async fn deployment_ids(&self) -> Result<Vec<String>, Error> {
        let mut ids = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..MAX_LIST_PAGES {
            let page = self
                .codedeploy
                .list_deployments()
                .set_include_only_statuses(Some(
                    DEPLOYMENT_IN_PROGRESS
                        .iter()
                        .map(|s| DeploymentStatus::from(*s))
                        .collect(),
                ))
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| classify("ListDeployments", e))?;
            ids.extend(page.deployments().iter().cloned());
            match page.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => return Ok(ids),
            }
        }
        tracing::warn!(
            pages = MAX_LIST_PAGES,
            "ListDeployments: more deployments in progress than read"
        );
        Ok(ids)
    }

    /// Up to 25 deployments: those that can target instances (compute platform
    /// `Server`), with the Auto Scaling groups of a blue/green replacement environment.
    async fn deployments(&self, ids: &[String]) -> Result<Vec<Deployment>, Error> {
        let output = self
            .codedeploy
            .batch_get_deployments()
            .set_deployment_ids(Some(ids.to_vec()))
            .send()
            .await
            .map_err(|e| classify("BatchGetDeployments", e))?;
        Ok(output
            .deployments_info()
            .iter()
            .filter(|d| {
                d.compute_platform()
                    .is_none_or(|p| *p == ComputePlatform::Server)
            })
            .map(|d| Deployment {
                id: d.deployment_id().unwrap_or_default().to_owned(),
                application: d.application_name().unwrap_or_default().to_owned(),
                deployment_group: d.deployment_group_name().unwrap_or_default().to_owned(),
                status: d
                    .status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                auto_scaling_groups: d
                    .target_instances()
                    .map(|t| t.auto_scaling_groups().to_vec())
                    .unwrap_or_default(),
            })
            .collect())
    }

    /// The Auto Scaling groups of one deployment group; none once it no longer exists.
    async fn deployment_group_groups(
        &self,
        application: &str,
        deployment_group: &str,
    ) -> Result<Vec<String>, Error> {
        match self
            .codedeploy
            .get_deployment_group()
            .application_name(application)
            .deployment_group_name(deployment_group)
            .send()
            .await
        {
            Ok(output) => Ok(output
                .deployment_group_info()
                .map(|info| {
                    info.auto_scaling_groups()
                        .iter()
                        .filter_map(|g| g.name().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()),
            Err(err)
                if matches!(
                    err.code(),
                    Some("DeploymentGroupDoesNotExistException")
                        | Some("ApplicationDoesNotExistException")
                ) =>
            {
                Ok(Vec::new())
            }
            Err(err) => Err(classify("GetDeploymentGroup", err)),
        }
    }
}

impl ChangeSource for Changes {
    async fn stacks(&self, names: &[String]) -> Result<Vec<Stack>, Error> {
        let found = try_join_all(names.iter().map(|name| self.stack(name))).await?;
        Ok(found.into_iter().flatten().collect())
    }

    async fn deployments_in_progress(&self) -> Result<Vec<Deployment>, Error> {
        let ids = self.deployment_ids().await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let batches = try_join_all(
            ids.chunks(DEPLOYMENTS_PER_BATCH)
                .map(|batch| self.deployments(batch)),
        )
        .await?;
        let mut deployments: Vec<Deployment> = batches.into_iter().flatten().collect();
        // An in-place deployment names no group itself: its deployment group does (and
        // for a blue/green one, the original environment's).
        let mut groups: BTreeMap<(String, String), Vec<String>> = deployments
            .iter()
            .map(|d| {
                (
                    (d.application.clone(), d.deployment_group.clone()),
                    Vec::new(),
                )
            })
            .collect();
        let read = try_join_all(
            groups
                .keys()
                .map(|(app, group)| self.deployment_group_groups(app, group)),
        )
        .await?;
        for (names, read) in groups.values_mut().zip(read) {
            *names = read;
        }
        for deployment in &mut deployments {
            if let Some(names) = groups.get(&(
                deployment.application.clone(),
                deployment.deployment_group.clone(),
            )) {
                for name in names {
                    if !deployment.auto_scaling_groups.contains(name) {
                        deployment.auto_scaling_groups.push(name.clone());
                    }
                }
            }
        }
        Ok(deployments)
    }
}
