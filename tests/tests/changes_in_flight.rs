//! Integration tier for changes in flight (issue 19 point 2, invariant 16): the real
//! target-health handler with real SDK clients against the emulator. A group whose
//! CloudFormation stack is updating, or that a CodeDeploy deployment in progress
//! targets, is held with the change named on the incident's timeline and nothing
//! replaced; once the change ends, the next sweep replaces. The healthy path reads no
//! change at all; a read that fails holds nothing and says so.
//!
//! The emulator's control API moves a stack's and a deployment's status (moto finishes
//! both within the call); CloudFormation tags the groups it creates
//! `aws:cloudformation:stack-name`, which the test writes on the provisioned group
//! itself (moto accepts `aws:` tags from a caller; AWS would refuse them).

use aws_sdk_cloudformation::Client as CloudFormationClient;
use aws_sdk_codedeploy::types::{RevisionLocation, RevisionLocationType, S3Location};
use aws_sdk_codedeploy::Client as CodeDeployClient;
use rebound::config::Mode;
use rebound::domain::{Incident, IncidentState, Verdict};
use rebound_tests::sample_event;
use rebound_tests::scenario::{scenario, Scenario};
use rebound_tests::stack::Managed;
use serde_json::{json, Value};

const STACK: &str = "prod-web";

fn sweep() -> Value {
    sample_event("target-health/scheduled-sweep.json")
}

fn change_reads(s: &Scenario) -> usize {
    [
        "DescribeStacks",
        "ListDeployments",
        "BatchGetDeployments",
        "GetDeploymentGroup",
    ]
    .iter()
    .map(|op| s.emulator.calls_of(op))
    .sum()
}

/// The web group is a resource of stack `prod-web`, as CloudFormation tags it.
async fn web_group_in_stack(s: &Scenario) {
    CloudFormationClient::new(&s.sdk)
        .create_stack()
        .stack_name(STACK)
        .template_body(r#"{"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}"#)
        .send()
        .await
        .unwrap();
    s.tag_group(
        &s.stack.web().auto_scaling_group,
        "aws:cloudformation:stack-name",
        STACK,
    )
    .await;
}

fn set_stack_status(s: &Scenario, status: &str) {
    let (code, body) = s.emulator.control(
        "POST",
        "/_rebound/cloudformation/stack-status",
        Some(json!({"stack_name": STACK, "status": status})),
    );
    assert_eq!(code, 200, "stack status: {body}");
}

/// A CodeDeploy deployment to a deployment group of `groups`; its id.
async fn deploy_to(s: &Scenario, application: &str, groups: &[&str]) -> String {
    let codedeploy = CodeDeployClient::new(&s.sdk);
    codedeploy
        .create_application()
        .application_name(application)
        .send()
        .await
        .unwrap();
    codedeploy
        .create_deployment_group()
        .application_name(application)
        .deployment_group_name(format!("{application}-dg"))
        .set_auto_scaling_groups(Some(groups.iter().map(|g| (*g).to_owned()).collect()))
        .service_role_arn("arn:aws:iam::123456789012:role/CodeDeployServiceRole")
        .send()
        .await
        .unwrap();
    codedeploy
        .create_deployment()
        .application_name(application)
        .deployment_group_name(format!("{application}-dg"))
        .revision(
            RevisionLocation::builder()
                .revision_type(RevisionLocationType::S3)
                .s3_location(
                    S3Location::builder()
                        .bucket("artifacts")
                        .key("web.zip")
                        .bundle_type(aws_sdk_codedeploy::types::BundleType::Zip)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .deployment_id()
        .unwrap()
        .to_owned()
}

fn set_deployment_status(s: &Scenario, id: &str, status: &str) {
    let (code, body) = s.emulator.control(
        "POST",
        "/_rebound/codedeploy/deployment-status",
        Some(json!({"deployment_id": id, "status": status})),
    );
    assert_eq!(code, 200, "deployment status: {body}");
}

fn replacements(s: &Scenario) -> usize {
    s.emulator.calls_of("SetInstanceHealth")
        + s.emulator.calls_of("TerminateInstanceInAutoScalingGroup")
}

fn names_the_change(incident: &Incident, change: &str) -> bool {
    incident.timeline.iter().any(|t| t.detail.contains(change))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_update_in_progress_holds_the_replacement_until_the_stack_completes() {
    let s = scenario(Managed::Yes).await;
    web_group_in_stack(&s).await;
    set_stack_status(&s, "UPDATE_IN_PROGRESS");
    let handler = s.target_health(Mode::Enforce);

    // Healthy: no change is read.
    s.emulator.clear_requests();
    handler.handle(sweep()).await.unwrap();
    assert_eq!(change_reads(&s), 0, "{:?}", s.emulator.requests());

    // An instance fails during the update: held, the stack named, nothing replaced.
    s.break_instance(0);
    let report = handler.handle(s.stack.alarm_event(0)).await.unwrap();
    let check = &report.checks[0];
    assert_eq!(check.verdict, Verdict::Hold, "{report:?}");
    assert_eq!(check.refusals[0].guard, "change-in-flight", "{report:?}");
    let incident = s.incident().await;
    assert_eq!(incident.state, IncidentState::Open);
    let change = format!("CloudFormation stack {STACK} is UPDATE_IN_PROGRESS");
    assert!(names_the_change(&incident, &change), "{incident:#?}");
    assert_eq!(replacements(&s), 0);
    assert!(
        s.mutating_fleet_calls().is_empty(),
        "{:?}",
        s.mutating_fleet_calls()
    );
    // One DescribeStacks for the one stack; one ListDeployments, which found none.
    assert_eq!(s.emulator.calls_of("DescribeStacks"), 1);
    assert_eq!(s.emulator.calls_of("ListDeployments"), 1);
    assert_eq!(s.emulator.calls_of("BatchGetDeployments"), 0);

    // Still updating at the next sweep: still held.
    handler.handle(sweep()).await.unwrap();
    assert_eq!(replacements(&s), 0);

    // The update completes: the next sweep replaces.
    set_stack_status(&s, "UPDATE_COMPLETE");
    let report = handler.handle(sweep()).await.unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Remediate, "{report:?}");
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 1);
    assert_eq!(s.incident().await.state, IncidentState::Remediating);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_codedeploy_deployment_in_progress_on_the_group_holds_it_and_one_on_another_group_does_not(
) {
    let s = scenario(Managed::Yes).await;
    let web = s.stack.web().auto_scaling_group.clone();
    // A deployment in progress elsewhere in the account, on another group: not this one's.
    let elsewhere = deploy_to(&s, "billing", &["billing-asg"]).await;
    set_deployment_status(&s, &elsewhere, "InProgress");
    let deployment = deploy_to(&s, "web-app", &[&web]).await;
    set_deployment_status(&s, &deployment, "InProgress");
    assert!(deployment.starts_with("d-"), "{deployment}");
    let handler = s.target_health(Mode::Enforce);
    s.emulator.clear_requests();

    s.break_instance(0);
    let report = handler.handle(s.stack.alarm_event(0)).await.unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Hold, "{report:?}");
    let incident = s.incident().await;
    let change = format!("CodeDeploy deployment {deployment} (web-app/web-app-dg) is InProgress");
    assert!(names_the_change(&incident, &change), "{incident:#?}");
    assert!(!names_the_change(&incident, &elsewhere), "{incident:#?}");
    assert_eq!(replacements(&s), 0);
    // No stack tag: no DescribeStacks. Both deployments read in one batch, and each
    // deployment group once.
    assert_eq!(s.emulator.calls_of("DescribeStacks"), 0);
    assert_eq!(s.emulator.calls_of("ListDeployments"), 1);
    assert_eq!(s.emulator.calls_of("BatchGetDeployments"), 1);
    assert_eq!(s.emulator.calls_of("GetDeploymentGroup"), 2);

    // The deployment succeeds: the next sweep replaces.
    set_deployment_status(&s, &deployment, "Succeeded");
    let report = handler.handle(sweep()).await.unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Remediate, "{report:?}");
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_read_that_is_denied_holds_nothing_and_the_check_says_so() {
    let s = scenario(Managed::Yes).await;
    web_group_in_stack(&s).await;
    set_stack_status(&s, "UPDATE_IN_PROGRESS");
    s.emulator
        .inject_fault("DescribeStacks", "AccessDenied", 403, 1);
    let handler = s.target_health(Mode::Enforce);

    s.break_instance(0);
    let report = handler.handle(s.stack.alarm_event(0)).await.unwrap();
    let check = &report.checks[0];
    assert_eq!(check.verdict, Verdict::Remediate, "{report:?}");
    assert!(
        check
            .summary
            .contains("changes in flight unknown (DescribeStacks failed: AccessDenied"),
        "{report:?}"
    );
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 1);
}
