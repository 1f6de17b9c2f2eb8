use aws_sdk_autoscaling::operation::describe_auto_scaling_groups::DescribeAutoScalingGroupsOutput;
use aws_sdk_autoscaling::operation::describe_auto_scaling_instances::DescribeAutoScalingInstancesOutput;
use aws_sdk_autoscaling::operation::describe_instance_refreshes::DescribeInstanceRefreshesOutput;
use aws_sdk_autoscaling::operation::set_instance_health::{
    SetInstanceHealthError, SetInstanceHealthOutput,
};
use aws_sdk_autoscaling::operation::terminate_instance_in_auto_scaling_group::TerminateInstanceInAutoScalingGroupOutput;
use aws_sdk_autoscaling::types::{
    AutoScalingGroup, AutoScalingInstanceDetails, Instance, InstanceRefresh, LifecycleState,
    SuspendedProcess, TagDescription,
};
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_types::error::ErrorMetadata;

use super::*;

fn instance() -> InstanceId {
    InstanceId::parse("i-0a1b2c3d").unwrap()
}

/// DescribeAutoScalingInstances: i-0a1b2c3d belongs to group `web`.
fn instance_of_web() -> DescribeAutoScalingInstancesOutput {
    DescribeAutoScalingInstancesOutput::builder()
        .auto_scaling_instances(
            AutoScalingInstanceDetails::builder()
                .instance_id("i-0a1b2c3d")
                .auto_scaling_group_name("web")
                .build(),
        )
        .build()
}

/// A Validation error as Auto Scaling reports it.
fn validation_error(message: &str) -> SetInstanceHealthError {
    SetInstanceHealthError::generic(
        ErrorMetadata::builder()
            .code("ValidationError")
            .message(message)
            .build(),
    )
}

fn group_name() -> AutoScalingGroupName {
    AutoScalingGroupName::parse("web").unwrap()
}

#[tokio::test]
async fn set_instance_health_marks_the_instance_unhealthy_and_respects_the_grace_period() {
    let rule = mock!(Client::set_instance_health)
        .match_requests(|req| {
            req.instance_id() == Some("i-0a1b2c3d")
                && req.health_status() == Some("Unhealthy")
                && req.should_respect_grace_period() == Some(true)
        })
        .then_output(|| SetInstanceHealthOutput::builder().build());
    let client = mock_client!(aws_sdk_autoscaling, [&rule]);
    AutoScaling::new(client)
        .replace(&SET_INSTANCE_HEALTH, &group_name(), &instance())
        .await
        .unwrap();
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn terminate_keeps_the_desired_capacity() {
    let rule = mock!(Client::terminate_instance_in_auto_scaling_group)
        .match_requests(|req| {
            req.instance_id() == Some("i-0a1b2c3d")
                && req.should_decrement_desired_capacity() == Some(false)
        })
        .then_output(|| TerminateInstanceInAutoScalingGroupOutput::builder().build());
    let client = mock_client!(aws_sdk_autoscaling, [&rule]);
    AutoScaling::new(client)
        .replace(&TERMINATE_INSTANCE, &group_name(), &instance())
        .await
        .unwrap();
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn throttling_on_a_mutating_call_is_reported_as_retryable() {
    let rule = mock!(Client::set_instance_health).then_error(|| {
        SetInstanceHealthError::generic(
            ErrorMetadata::builder()
                .code("Throttling")
                .message("Rate exceeded")
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_autoscaling, RuleMode::MatchAny, [&rule], |c| c
        .retry_config(aws_smithy_types::retry::RetryConfig::disabled()));
    let err = AutoScaling::new(client)
        .replace(&SET_INSTANCE_HEALTH, &group_name(), &instance())
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(err.to_string().contains("Throttling"), "detail kept: {err}");
}

#[tokio::test]
async fn groups_owning_instances_carry_members_tags_suspensions_and_refresh_status() {
    let instances = mock!(Client::describe_auto_scaling_instances)
        .match_requests(|req| req.instance_ids() == ["i-0a1b2c3d"])
        .then_output(instance_of_web);
    let groups = mock!(Client::describe_auto_scaling_groups)
        .match_requests(|req| req.auto_scaling_group_names() == ["web"])
        .then_output(|| {
            DescribeAutoScalingGroupsOutput::builder()
                .auto_scaling_groups(
                    AutoScalingGroup::builder()
                        .auto_scaling_group_name("web")
                        .instances(
                            Instance::builder()
                                .instance_id("i-0a1b2c3d")
                                .lifecycle_state(LifecycleState::InService)
                                .health_status("Healthy")
                                .build(),
                        )
                        .tags(
                            TagDescription::builder()
                                .key("rebound:managed")
                                .value("true")
                                .build(),
                        )
                        .suspended_processes(
                            SuspendedProcess::builder()
                                .process_name("AZRebalance")
                                .build(),
                        )
                        .target_group_arns(
                            "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/1",
                        )
                        .build(),
                )
                .build()
        });
    let refreshes = mock!(Client::describe_instance_refreshes)
        .match_requests(|req| req.auto_scaling_group_name() == Some("web"))
        .then_output(|| {
            DescribeInstanceRefreshesOutput::builder()
                .instance_refreshes(
                    InstanceRefresh::builder()
                        .status(InstanceRefreshStatus::InProgress)
                        .build(),
                )
                .build()
        });
    let client = mock_client!(aws_sdk_autoscaling, [&instances, &groups, &refreshes]);
    let found = AutoScaling::new(client)
        .groups_owning(&[instance()], Some("rebound:managed"))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let group = &found[0];
    assert!(group.is_managed("rebound:managed"));
    assert!(group.instance_refresh_in_progress);
    assert_eq!(group.suspended_processes, vec!["AZRebalance"]);
    assert!(group.instance(&instance()).unwrap().in_service());
    assert_eq!(group.target_group_arns.len(), 1);
    assert_eq!(
        (
            instances.num_calls(),
            groups.num_calls(),
            refreshes.num_calls()
        ),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn instances_in_no_group_cost_no_group_lookup() {
    let instances = mock!(Client::describe_auto_scaling_instances)
        .then_output(|| DescribeAutoScalingInstancesOutput::builder().build());
    let client = mock_client!(aws_sdk_autoscaling, [&instances]);
    assert!(AutoScaling::new(client)
        .groups_owning(&[instance()], Some("rebound:managed"))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn managed_groups_are_filtered_by_the_tag_on_the_server() {
    let groups = mock!(Client::describe_auto_scaling_groups)
        .match_requests(|req| {
            let filter = &req.filters()[0];
            filter.name() == Some("tag:rebound:managed") && filter.values() == ["true"]
        })
        .then_output(|| {
            DescribeAutoScalingGroupsOutput::builder()
                .auto_scaling_groups(
                    AutoScalingGroup::builder()
                        .auto_scaling_group_name("web")
                        .build(),
                )
                .build()
        });
    let client = mock_client!(aws_sdk_autoscaling, [&groups]);
    let found = AutoScaling::new(client)
        .managed_groups("rebound:managed")
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert!(!found[0].instance_refresh_in_progress);
}

#[tokio::test]
async fn an_unmanaged_group_costs_no_refresh_lookup() {
    let instances = mock!(Client::describe_auto_scaling_instances).then_output(instance_of_web);
    let groups = mock!(Client::describe_auto_scaling_groups).then_output(|| {
        DescribeAutoScalingGroupsOutput::builder()
            .auto_scaling_groups(
                AutoScalingGroup::builder()
                    .auto_scaling_group_name("web")
                    .build(),
            )
            .build()
    });
    // No rule for DescribeInstanceRefreshes: a call to it would fail the test.
    let client = mock_client!(aws_sdk_autoscaling, [&instances, &groups]);
    let found = AutoScaling::new(client)
        .groups_owning(&[instance()], Some("rebound:managed"))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert!(!found[0].instance_refresh_in_progress);
}

#[tokio::test]
async fn an_instance_auto_scaling_no_longer_knows_has_already_gone() {
    let rule = mock!(Client::set_instance_health).then_error(|| {
        validation_error(
            "Instance Id not found - No managed instance found for instance id i-0a1b2c3d",
        )
    });
    let client = mock_client!(aws_sdk_autoscaling, [&rule]);
    let replaced = AutoScaling::new(client)
        .replace(&SET_INSTANCE_HEALTH, &group_name(), &instance())
        .await
        .unwrap();
    assert_eq!(replaced, Replaced::AlreadyGone);
}

#[tokio::test]
async fn another_validation_error_is_still_an_error() {
    let rule = mock!(Client::set_instance_health).then_error(|| validation_error("bad status"));
    let client = mock_client!(aws_sdk_autoscaling, [&rule]);
    let err = AutoScaling::new(client)
        .replace(&SET_INSTANCE_HEALTH, &group_name(), &instance())
        .await
        .unwrap_err();
    assert!(!err.is_retryable(), "{err}");
}

#[tokio::test]
async fn target_groups_attached_as_traffic_sources_count_like_target_group_arns() {
    use aws_sdk_autoscaling::types::{LaunchTemplateSpecification, TrafficSourceIdentifier};
    let groups = mock!(Client::describe_auto_scaling_groups)
        .match_requests(|req| req.auto_scaling_group_names() == ["web"])
        .then_output(|| {
            DescribeAutoScalingGroupsOutput::builder()
                .auto_scaling_groups(
                    AutoScalingGroup::builder()
                        .auto_scaling_group_name("web")
                        .desired_capacity(4)
                        .health_check_grace_period(300)
                        .launch_template(
                            LaunchTemplateSpecification::builder()
                                .launch_template_id("lt-0abc")
                                .launch_template_name("web")
                                .version("7")
                                .build(),
                        )
                        .target_group_arns(
                            "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/http/1",
                        )
                        .traffic_sources(
                            TrafficSourceIdentifier::builder()
                                .identifier(
                                    "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/https/2",
                                )
                                .r#type("elbv2")
                                .build(),
                        )
                        .traffic_sources(
                            TrafficSourceIdentifier::builder()
                                .identifier("classic-lb")
                                .r#type("elb")
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let client = mock_client!(aws_sdk_autoscaling, [&groups]);
    let found = AutoScaling::new(client)
        .groups_named(&["web".to_owned()], None)
        .await
        .unwrap();
    let group = &found[0];
    let arns: Vec<&str> = group.target_group_arns.iter().map(|a| a.as_str()).collect();
    assert_eq!(
        arns,
        [
            "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/http/1",
            "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/https/2"
        ]
    );
    assert_eq!(group.desired_capacity, 4);
    assert_eq!(group.health_check_grace_period_s, 300);
    assert_eq!(
        group.launch_template.as_deref(),
        Some("lt-0abc (web) version 7")
    );
    assert!(
        !group.instance_refresh_in_progress,
        "no refresh lookup asked"
    );
}

#[tokio::test]
async fn a_group_launching_from_a_launch_configuration_or_a_mixed_policy_has_a_loop_key() {
    use aws_sdk_autoscaling::types::{
        LaunchTemplate, LaunchTemplateSpecification, MixedInstancesPolicy,
    };
    let groups = mock!(Client::describe_auto_scaling_groups).then_output(|| {
        DescribeAutoScalingGroupsOutput::builder()
            .auto_scaling_groups(
                AutoScalingGroup::builder()
                    .auto_scaling_group_name("legacy")
                    .launch_configuration_name("web-v3")
                    .build(),
            )
            .auto_scaling_groups(
                AutoScalingGroup::builder()
                    .auto_scaling_group_name("mixed")
                    .mixed_instances_policy(
                        MixedInstancesPolicy::builder()
                            .launch_template(
                                LaunchTemplate::builder()
                                    .launch_template_specification(
                                        LaunchTemplateSpecification::builder()
                                            .launch_template_id("lt-0mix")
                                            .version("$Latest")
                                            .build(),
                                    )
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .auto_scaling_groups(
                AutoScalingGroup::builder()
                    .auto_scaling_group_name("bare")
                    .build(),
            )
            .build()
    });
    let client = mock_client!(aws_sdk_autoscaling, [&groups]);
    let found = AutoScaling::new(client)
        .groups_named(
            &["legacy".to_owned(), "mixed".to_owned(), "bare".to_owned()],
            None,
        )
        .await
        .unwrap();
    let keys: Vec<Option<&str>> = found.iter().map(|g| g.launch_template.as_deref()).collect();
    assert_eq!(
        keys,
        [
            Some("launch configuration web-v3"),
            Some("lt-0mix version $Latest"),
            Some("the configuration of group bare")
        ]
    );
}

fn page_of_web(next_token: Option<&str>) -> DescribeAutoScalingGroupsOutput {
    DescribeAutoScalingGroupsOutput::builder()
        .auto_scaling_groups(
            AutoScalingGroup::builder()
                .auto_scaling_group_name("web")
                .build(),
        )
        .set_next_token(next_token.map(str::to_owned))
        .build()
}

#[tokio::test]
async fn managed_groups_that_fit_one_page_are_read_ahead_in_one_call() {
    let page = mock!(Client::describe_auto_scaling_groups)
        .match_requests(|req| req.max_records() == Some(100))
        .then_output(|| page_of_web(None));
    let client = mock_client!(aws_sdk_autoscaling, [&page]);
    let groups = AutoScaling::new(client);
    let ahead = groups
        .managed_groups_in_one_call("rebound:managed")
        .await
        .unwrap();
    assert_eq!(ahead.map(|found| found.len()), Some(1));
}

#[tokio::test]
async fn managed_groups_beyond_one_page_are_not_read_ahead_and_not_asked_again() {
    let page =
        mock!(Client::describe_auto_scaling_groups).then_output(|| page_of_web(Some("next")));
    let client = mock_client!(aws_sdk_autoscaling, [&page]);
    let groups = AutoScaling::new(client);
    for delivery in ["first", "second"] {
        let ahead = groups
            .managed_groups_in_one_call("rebound:managed")
            .await
            .unwrap();
        assert_eq!(ahead, None, "{delivery}");
    }
    assert_eq!(page.num_calls(), 1, "the second delivery asks nothing");
}
