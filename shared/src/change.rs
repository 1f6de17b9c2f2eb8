//! Changes in flight (invariant 16, people outrank automation): an Auto Scaling group
//! whose CloudFormation stack is in an `*_IN_PROGRESS` status, or that a CodeDeploy
//! deployment in progress targets, is being changed by someone; replacing its instances
//! meanwhile would fight the change (a rolling update, a deployment's own lifecycle
//! hooks and rollbacks). Its failing instances are held (`change-in-flight`, naming the
//! change) and the sweep looks again; the hold lifts when the change ends.
//!
//! Reading this costs calls, so it is read only for managed groups with failing targets
//! Rebound would otherwise act on, never on the healthy path: one DescribeStacks per
//! distinct stack (the group's `aws:cloudformation:stack-name` tag, which CloudFormation
//! puts on every group it creates), one ListDeployments for the whole account (statuses
//! Created, Queued, InProgress, Baking, Ready), BatchGetDeployments only when that list
//! is not empty, and GetDeploymentGroup only for a deployment group whose deployment
//! does not itself name the Auto Scaling groups it targets.
//!
//! A read that fails (AccessDenied before the role has the new permissions, throttling
//! past the SDK's retries) holds nothing: a guard that cannot read its input must not
//! stop remediation for every group, nor silently. It is logged (`warn`) and noted in
//! the decision's summary, so the check's report, the timeline and the logs say that
//! changes in flight were not known.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;

use tracing::warn;

use crate::domain::{Effect, Refusal};
use crate::error::Error;
use crate::ids::AutoScalingGroupName;

/// Where the changes people make to Auto Scaling groups are read: CloudFormation stacks
/// and CodeDeploy deployments (the port; its adapter is `aws::Changes`).
pub trait ChangeSource: Send + Sync {
    /// The status of each named stack; a stack that no longer exists is left out.
    fn stacks(&self, names: &[String]) -> impl Future<Output = Result<Vec<Stack>, Error>> + Send;

    /// Every deployment in the account that has not ended, with the Auto Scaling groups
    /// it targets.
    fn deployments_in_progress(
        &self,
    ) -> impl Future<Output = Result<Vec<Deployment>, Error>> + Send;
}

/// The tag CloudFormation puts on every Auto Scaling group it creates: its stack.
pub const STACK_NAME_TAG: &str = "aws:cloudformation:stack-name";

/// CodeDeploy's statuses of a deployment that has not ended (`DeploymentStatus`):
/// Succeeded, Failed and Stopped are the ends.
pub const DEPLOYMENT_IN_PROGRESS: [&str; 5] =
    ["Created", "Queued", "InProgress", "Baking", "Ready"];

/// A stack as DescribeStacks reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    pub name: String,
    /// `UPDATE_IN_PROGRESS`, `UPDATE_COMPLETE`, … as the API spells it.
    pub status: String,
}

impl Stack {
    /// Being created, updated, rolled back, imported, deleted or cleaned up after an
    /// update: every `*_IN_PROGRESS` status (`REVIEW_IN_PROGRESS` included, though a
    /// stack waiting for its first change set owns no group yet).
    pub fn in_progress(&self) -> bool {
        self.status.ends_with("_IN_PROGRESS")
    }
}

/// A CodeDeploy deployment that has not ended, with the Auto Scaling groups it targets:
/// its deployment group's, and for a blue/green deployment the replacement
/// environment's (`targetInstances.autoScalingGroups`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub id: String,
    pub application: String,
    pub deployment_group: String,
    pub status: String,
    pub auto_scaling_groups: Vec<String>,
}

impl Deployment {
    pub fn in_progress(&self) -> bool {
        DEPLOYMENT_IN_PROGRESS.contains(&self.status.as_str())
    }
}

/// A change someone is making to a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Stack(Stack),
    Deployment(Deployment),
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stack(stack) => {
                write!(f, "CloudFormation stack {} is {}", stack.name, stack.status)
            }
            Self::Deployment(d) => write!(
                f,
                "CodeDeploy deployment {} ({}/{}) is {}",
                d.id, d.application, d.deployment_group, d.status
            ),
        }
    }
}

/// What is known of the changes in flight on the groups looked at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InFlight {
    /// Each group being changed, with the changes on it (stacks first).
    pub changes: BTreeMap<AutoScalingGroupName, Vec<Change>>,
    /// The reads that failed ("DescribeStacks failed: AccessDenied: …"): they hold
    /// nothing, and the decision says they were not known.
    pub unread: Vec<String>,
}

impl InFlight {
    /// The stacks and deployments read, matched to the groups (each with its tags).
    pub fn matched<'a>(
        groups: impl IntoIterator<Item = (&'a AutoScalingGroupName, &'a BTreeMap<String, String>)>,
        stacks: Result<Vec<Stack>, Error>,
        deployments: Result<Vec<Deployment>, Error>,
    ) -> Self {
        let mut unread = Vec::new();
        let stacks = stacks.unwrap_or_else(|err| {
            unread.push(err.to_string());
            Vec::new()
        });
        let deployments = deployments.unwrap_or_else(|err| {
            unread.push(err.to_string());
            Vec::new()
        });
        let mut changes = BTreeMap::new();
        for (group, tags) in groups {
            let mut on: Vec<Change> = Vec::new();
            if let Some(name) = stack_of(tags) {
                on.extend(
                    stacks
                        .iter()
                        .filter(|s| s.name == name && s.in_progress())
                        .cloned()
                        .map(Change::Stack),
                );
            }
            on.extend(
                deployments
                    .iter()
                    .filter(|d| d.in_progress())
                    .filter(|d| d.auto_scaling_groups.iter().any(|g| g == group.as_str()))
                    .cloned()
                    .map(Change::Deployment),
            );
            if !on.is_empty() {
                changes.insert(group.clone(), on);
            }
        }
        Self { changes, unread }
    }

    /// What holds the group's instances, if a change is in flight on it.
    pub fn hold(&self, group: &AutoScalingGroupName) -> Option<Refusal> {
        let changes = self.changes.get(group)?;
        let named: Vec<String> = changes.iter().map(Change::to_string).collect();
        Some(change_in_flight(group.as_str(), &named.join("; ")))
    }

    /// For the decision's summary: which reads failed, so changes in flight are unknown.
    pub fn note(&self) -> Option<String> {
        (!self.unread.is_empty()).then(|| {
            format!(
                "changes in flight unknown ({}): nothing held for them",
                self.unread.join("; ")
            )
        })
    }
}

/// The group's stack, from the tag CloudFormation puts on it.
pub fn stack_of(tags: &BTreeMap<String, String>) -> Option<&str> {
    tags.get(STACK_NAME_TAG)
        .map(|name| name.trim())
        .filter(|name| !name.is_empty())
}

/// The group is being changed: held, and looked at again until the change ends.
pub fn change_in_flight(group: &str, changes: &str) -> Refusal {
    Refusal::new(
        "change-in-flight",
        Effect::Hold,
        format!("group {group}: {changes}; its instances are not replaced while the change is in flight"),
    )
}

/// Reads the changes in flight on `groups` (each with its tags): the stacks they name
/// and the account's deployments in progress, in parallel. A failed read holds nothing
/// and is logged; [`InFlight::note`] says so.
pub async fn read<'a, C: ChangeSource>(
    source: &C,
    groups: &[(&'a AutoScalingGroupName, &'a BTreeMap<String, String>)],
) -> InFlight {
    if groups.is_empty() {
        return InFlight::default();
    }
    let names: Vec<String> = groups
        .iter()
        .filter_map(|(_, tags)| stack_of(tags))
        .map(str::to_owned)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let stacks = async {
        if names.is_empty() {
            Ok(Vec::new())
        } else {
            source.stacks(&names).await
        }
    };
    let (stacks, deployments) = futures::join!(stacks, source.deployments_in_progress());
    for err in [stacks.as_ref().err(), deployments.as_ref().err()]
        .into_iter()
        .flatten()
    {
        warn!(error = %err, guard = "change-in-flight", "changes in flight not read: nothing held for them");
    }
    InFlight::matched(groups.iter().copied(), stacks, deployments)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str) -> AutoScalingGroupName {
        AutoScalingGroupName::parse(name).unwrap()
    }

    fn tags(stack: Option<&str>) -> BTreeMap<String, String> {
        stack
            .map(|s| (STACK_NAME_TAG.to_owned(), s.to_owned()))
            .into_iter()
            .collect()
    }

    fn stack(name: &str, status: &str) -> Stack {
        Stack {
            name: name.into(),
            status: status.into(),
        }
    }

    fn deployment(id: &str, status: &str, groups: &[&str]) -> Deployment {
        Deployment {
            id: id.into(),
            application: "web-app".into(),
            deployment_group: "web-dg".into(),
            status: status.into(),
            auto_scaling_groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        }
    }

    #[test]
    fn every_in_progress_stack_status_is_a_change_and_no_other_is() {
        for status in [
            "CREATE_IN_PROGRESS",
            "UPDATE_IN_PROGRESS",
            "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            "ROLLBACK_IN_PROGRESS",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
            "DELETE_IN_PROGRESS",
            "IMPORT_IN_PROGRESS",
            "IMPORT_ROLLBACK_IN_PROGRESS",
        ] {
            assert!(stack("s", status).in_progress(), "{status}");
        }
        for status in [
            "CREATE_COMPLETE",
            "UPDATE_COMPLETE",
            "UPDATE_ROLLBACK_COMPLETE",
            "UPDATE_FAILED",
            "ROLLBACK_COMPLETE",
            "IMPORT_COMPLETE",
            "",
        ] {
            assert!(!stack("s", status).in_progress(), "{status}");
        }
    }

    #[test]
    fn a_deployment_is_in_flight_until_it_succeeds_fails_or_stops() {
        for status in DEPLOYMENT_IN_PROGRESS {
            assert!(deployment("d-1", status, &[]).in_progress());
        }
        for status in ["Succeeded", "Failed", "Stopped", "Unknown"] {
            assert!(!deployment("d-1", status, &[]).in_progress());
        }
    }

    #[test]
    fn changes_are_matched_to_the_groups_they_change_and_named() {
        let (web, api) = (group("web-asg"), group("api-asg"));
        let (web_tags, api_tags) = (tags(Some("prod-web")), tags(None));
        let found = InFlight::matched(
            [(&web, &web_tags), (&api, &api_tags)],
            Ok(vec![stack("prod-web", "UPDATE_IN_PROGRESS")]),
            Ok(vec![
                deployment("d-ABC123", "InProgress", &["api-asg"]),
                deployment("d-DONE", "Succeeded", &["web-asg"]),
            ]),
        );
        let web_hold = found.hold(&web).unwrap();
        assert!(web_hold.is("change-in-flight"));
        assert!(!web_hold.escalates() && !web_hold.suppresses());
        assert_eq!(
            web_hold.detail,
            "group web-asg: CloudFormation stack prod-web is UPDATE_IN_PROGRESS; its instances are not replaced while the change is in flight"
        );
        assert!(found
            .hold(&api)
            .unwrap()
            .detail
            .contains("CodeDeploy deployment d-ABC123 (web-app/web-dg) is InProgress"));
        assert_eq!(found.note(), None);
    }

    #[test]
    fn a_failed_read_holds_nothing_and_is_noted() {
        let web = group("web-asg");
        let web_tags = tags(Some("prod-web"));
        let denied = || {
            Error::aws(
                "DescribeStacks",
                false,
                Some("AccessDenied"),
                Some("not authorized"),
                std::io::Error::other("denied"),
            )
        };
        let found = InFlight::matched(
            [(&web, &web_tags)],
            Err(denied()),
            Ok(vec![deployment("d-ABC123", "InProgress", &["web-asg"])]),
        );
        // The deployment, read, still holds; the stack, unread, holds nothing.
        assert!(found.hold(&web).unwrap().detail.contains("d-ABC123"));
        let note = found.note().unwrap();
        assert!(
            note.contains("DescribeStacks failed: AccessDenied"),
            "{note}"
        );
        let nothing = InFlight::matched([(&web, &web_tags)], Err(denied()), Ok(vec![]));
        assert_eq!(nothing.hold(&web), None);
        assert!(nothing.note().is_some());
    }
}
