//! `rebound drill` against the emulator, with Rebound's handlers run in-process (the
//! local "deployment"): an instance drill and a database drill end with a verified
//! recovery within the RTO; a drill that cannot recover (dry-run) and one whose stop
//! condition trips both exit non-zero and leave the stack as they found it.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use aws_sdk_ec2::types::Filter;
use rebound::domain::IncidentState;
use rebound::notifier::StreamEvent;
use rebound::ports::IncidentStore;
use rebound_tests::stack::Managed;
use rebound_tests::{Emulator, Stack};
use serde_json::{json, Value};

/// provision.py's database for the default stack name.
const DB: &str = "rebound-demo-db";

fn drill_command(emulator: &Emulator, stack: &Stack, mode: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rebound"));
    command
        .arg("drill")
        .args(args)
        .args(["--yes", "--json", "--interval", "0.2"])
        .env_clear()
        .envs(stack.function_env(emulator, mode))
        // Replace the second instance of a zone without waiting out the cooldown.
        .env("COOLDOWN_SECONDS", "0")
        .stdin(Stdio::null());
    command
}

fn drill(emulator: &Emulator, stack: &Stack, mode: &str, args: &[&str]) -> (Output, Value) {
    let output = drill_command(emulator, stack, mode, args)
        .output()
        .expect("run rebound drill");
    parse(output)
}

fn parse(output: Output) -> (Output, Value) {
    let result = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON result ({e}):\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output, result)
}

async fn group_subnets(sdk: &aws_config::SdkConfig, group: &str) -> String {
    aws_sdk_autoscaling::Client::new(sdk)
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(group)
        .send()
        .await
        .unwrap()
        .auto_scaling_groups()[0]
        .vpc_zone_identifier()
        .unwrap()
        .to_owned()
}

/// Subnet → its network ACL, and how many network ACLs there are.
async fn network_acls(sdk: &aws_config::SdkConfig) -> (Vec<(String, String)>, usize) {
    let acls = aws_sdk_ec2::Client::new(sdk)
        .describe_network_acls()
        .send()
        .await
        .unwrap();
    let mut pairs: Vec<(String, String)> = acls
        .network_acls()
        .iter()
        .flat_map(|acl| {
            acl.associations().iter().map(|a| {
                (
                    a.subnet_id().unwrap_or_default().to_owned(),
                    acl.network_acl_id().unwrap_or_default().to_owned(),
                )
            })
        })
        .collect();
    pairs.sort();
    (pairs, acls.network_acls().len())
}

async fn drill_acls(sdk: &aws_config::SdkConfig) -> usize {
    aws_sdk_ec2::Client::new(sdk)
        .describe_network_acls()
        .filters(
            Filter::builder()
                .name("tag-key")
                .values("rebound:drill")
                .build(),
        )
        .send()
        .await
        .unwrap()
        .network_acls()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_drill_ends_with_a_verified_recovery_within_the_rto() {
    let emulator = Emulator::start();
    let stack = Stack::provision(&emulator, Managed::Yes);
    let web = stack.web();

    let (output, result) = drill(
        &emulator,
        &stack,
        "enforce",
        &[
            "instance",
            "--asg",
            &web.auto_scaling_group,
            "--timeout",
            "60",
        ],
    );
    assert!(
        output.status.success(),
        "{result:#}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(result["outcome"], "recovered", "{result:#}");
    assert_eq!(result["kind"], "instance");
    assert_eq!(result["rto_s"], 900);
    assert_eq!(result["rto_met"], true);
    let stopped = &web.instance_ids[0];
    assert_eq!(
        result["injection"],
        format!("stopped {stopped} in group {}", web.auto_scaling_group)
    );
    // The group's EC2 health check replaced the stopped instance by itself.
    assert_eq!(result["first_action_by"], "auto-scaling");
    for field in [
        "injected_at",
        "first_action_at",
        "recovered_at",
        "time_to_recover_s",
    ] {
        assert!(!result[field].is_null(), "{field}: {result:#}");
    }
    assert!(result["time_to_recover_s"].as_i64().unwrap() <= 900);
    // Nothing to start again: the instance was replaced.
    assert!(
        result["restored"][0]
            .as_str()
            .unwrap()
            .contains("nothing to restore"),
        "{result:#}"
    );
    assert!(result["restore_errors"].as_array().unwrap().is_empty());

    // Terminated instead: the group replaces it too, and there is nothing to start again.
    let (output, result) = drill(
        &emulator,
        &stack,
        "enforce",
        &[
            "instance",
            "--asg",
            &web.auto_scaling_group,
            "--terminate",
            "--timeout",
            "60",
        ],
    );
    assert!(output.status.success(), "{result:#}");
    assert_eq!(result["outcome"], "recovered", "{result:#}");
    assert!(
        result["injection"]
            .as_str()
            .unwrap()
            .starts_with("terminated i-"),
        "{result:#}"
    );
    assert_eq!(result["restored"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_drill_ends_with_a_verified_recovery_and_its_messages_say_drill() {
    let emulator = Emulator::start();
    let stack = Stack::provision(&emulator, Managed::Yes);
    let sdk = emulator.sdk_config().await;
    // The RTO from the database's tag.
    aws_sdk_rds_tag(&emulator, "120");
    // RDS takes its time: the failover completes a moment after the reboot.
    let (code, body) = emulator.control(
        "POST",
        "/_rebound/rds-mode",
        Some(json!({"mode": "phased"})),
    );
    assert_eq!(code, 200, "{body}");
    let child = drill_command(
        &emulator,
        &stack,
        "enforce",
        &["database", "--db", DB, "--timeout", "60"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("start rebound drill");
    std::thread::sleep(Duration::from_millis(2500));
    let (code, body) = emulator.control("POST", "/_rebound/rds-advance", None);
    assert_eq!(code, 200, "{body}");
    let (output, result) = parse(child.wait_with_output().unwrap());
    assert!(
        output.status.success(),
        "{result:#}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(result["outcome"], "recovered", "{result:#}");
    assert_eq!(result["rto_s"], 120);
    assert!(
        !result["detected_at"].is_null(),
        "rds-health opened an incident: {result:#}"
    );
    let incidents = result["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{result:#}");

    // The incident is the drill's, resolved, with the result on its timeline.
    let store = rebound::aws::incident_store(&stack.store_config(), &sdk);
    let all = store.list(10).await.unwrap();
    let incident = all
        .iter()
        .find(|i| i.id.as_str() == incidents[0].as_str().unwrap())
        .unwrap();
    assert_eq!(incident.drill.as_deref(), result["drill"].as_str());
    assert_eq!(incident.state, IncidentState::Resolved);
    let last = incident.timeline.last().unwrap();
    assert_eq!(last.event, "drill");
    assert!(
        last.detail.contains("recovered") && last.detail.contains("RTO 120 s, met"),
        "{}",
        last.detail
    );

    // Its notifications carry drill=true and say so in the subject.
    let state_file =
        std::env::temp_dir().join(format!("rebound-drill-stream-{}", std::process::id()));
    let stream: StreamEvent =
        serde_json::from_value(stack.pending_stream_event(&emulator, &state_file)).unwrap();
    std::fs::remove_file(&state_file).ok();
    let notifier = rebound::aws::notifier_handler(&stack.notifier_config(), &sdk);
    assert!(notifier
        .handle(stream)
        .await
        .unwrap()
        .batch_item_failures
        .is_empty());
    let messages = stack.notifications(&sdk).await;
    assert!(!messages.is_empty());
    for message in &messages {
        assert_eq!(
            message["MessageAttributes"]["drill"]["Value"], "true",
            "{message}"
        );
        let subject = message["Subject"].as_str().unwrap();
        assert!(subject.starts_with("[Rebound] [DRILL] "), "{subject}");
    }
}

/// Tags the database with its RTO, as the example stack does.
fn aws_sdk_rds_tag(emulator: &Emulator, seconds: &str) {
    python(&format!(
        "import boto3; c = boto3.client('rds', endpoint_url='{}', region_name='us-east-1', \
         aws_access_key_id='testing', aws_secret_access_key='testing'); \
         c.add_tags_to_resource(ResourceName='arn:aws:rds:us-east-1:123456789012:db:{DB}', \
         Tags=[{{'Key': 'rebound:rto-seconds', 'Value': '{seconds}'}}])",
        emulator.url
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_that_cannot_recover_in_dry_run_exits_non_zero_and_restores_the_zone() {
    let emulator = Emulator::start();
    let stack = Stack::provision(&emulator, Managed::Yes);
    let sdk = emulator.sdk_config().await;
    let group = &stack.web().auto_scaling_group;
    let subnets_before = group_subnets(&sdk, group).await;
    let acls_before = network_acls(&sdk).await;

    // Preflight refuses a dry-run Rebound unless asked to measure detection only.
    let (output, result) = drill(
        &emulator,
        &stack,
        "dry-run",
        &["az", "--asg", group, "--az", "us-east-1b"],
    );
    assert_eq!(output.status.code(), Some(2), "{result:#}");
    assert_eq!(result["outcome"], "refused");

    let (output, result) = drill(
        &emulator,
        &stack,
        "dry-run",
        &[
            "az",
            "--asg",
            group,
            "--az",
            "us-east-1b",
            "--allow-dry-run",
            "--timeout",
            "3",
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "{result:#}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(result["outcome"], "not-recovered", "{result:#}");
    assert!(
        !result["detected_at"].is_null(),
        "detection still measured: {result:#}"
    );
    assert!(
        result["first_action_at"].is_null(),
        "a simulation is no action: {result:#}"
    );
    assert_eq!(result["rto_met"], false);
    assert!(
        result["restore_errors"].as_array().unwrap().is_empty(),
        "{result:#}"
    );

    assert_eq!(group_subnets(&sdk, group).await, subnets_before);
    assert_eq!(network_acls(&sdk).await, acls_before);
    assert_eq!(drill_acls(&sdk).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zone_drill_is_mitigated_by_a_zonal_shift_within_the_rto_and_measures_the_return() {
    let emulator = Emulator::start();
    let stack = Stack::provision(&emulator, Managed::Yes);
    let sdk = emulator.sdk_config().await;
    let group = &stack.web().auto_scaling_group;
    let subnets_before = group_subnets(&sdk, group).await;
    let output = drill_command(
        &emulator,
        &stack,
        "enforce",
        &[
            "az",
            "--asg",
            group,
            "--az",
            "us-east-1b",
            "--rto",
            "20",
            "--timeout",
            "20",
        ],
    )
    // No zone alarm fires in the emulator: the sweep's second look, a second later,
    // confirms the impairment; the return is verified as soon as the zone is healthy.
    .env("ZONE_CONFIRM_SECONDS", "1")
    .env("ZONE_SETTLE_SECONDS", "0")
    .output()
    .expect("run rebound drill");
    let (output, result) = parse(output);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{result:#}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(result["outcome"], "mitigated", "{result:#}");
    assert_eq!(result["rto_met"], true);
    assert!(
        result["time_to_mitigate_s"].as_i64().unwrap() <= 20,
        "{result:#}"
    );
    assert!(
        !result["time_to_recover_s"].is_null(),
        "the return measured: {result:#}"
    );
    // Traffic went away from the zone and came back: no shift is left behind.
    let shifts = aws_sdk_arczonalshift::Client::new(&sdk)
        .list_zonal_shifts()
        .send()
        .await
        .unwrap();
    let statuses: Vec<&str> = shifts.items().iter().map(|s| s.status().as_str()).collect();
    assert!(
        !statuses.is_empty() && statuses.iter().all(|s| *s != "ACTIVE"),
        "{statuses:?}"
    );
    assert_eq!(group_subnets(&sdk, group).await, subnets_before);
    assert_eq!(drill_acls(&sdk).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_condition_trips_and_the_zone_is_restored() {
    let emulator = Emulator::start();
    let stack = Stack::provision(&emulator, Managed::Yes);
    let sdk = emulator.sdk_config().await;
    let group = &stack.web().auto_scaling_group;
    let subnets_before = group_subnets(&sdk, group).await;
    let acls_before = network_acls(&sdk).await;

    let (output, result) = drill(
        &emulator,
        &stack,
        "enforce",
        &[
            "az",
            "--asg",
            group,
            "--az",
            "us-east-1b",
            "--abort-if-healthy-below",
            "90",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{result:#}");
    assert_eq!(result["outcome"], "aborted", "{result:#}");
    assert!(
        result["reason"].as_str().unwrap().contains("below 90%"),
        "{result:#}"
    );
    let restored = result["restored"].as_array().unwrap();
    assert_eq!(restored.len(), 2, "one subnet and the group: {result:#}");
    assert_eq!(group_subnets(&sdk, group).await, subnets_before);
    assert_eq!(network_acls(&sdk).await, acls_before);
    assert_eq!(drill_acls(&sdk).await, 0);
}

fn python(code: &str) {
    let output = Command::new(rebound_tests::python())
        .arg("-c")
        .arg(code)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
