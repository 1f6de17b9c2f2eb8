//! A provisioned stack in a fresh emulator, and what tests do with it: break an
//! instance, build the handlers, read the group, the targets and the incidents back.

use aws_sdk_autoscaling::Client as AutoScalingClient;
use aws_sdk_elasticloadbalancingv2::Client as ElbClient;
use rebound::config::Mode;
use rebound::functions::TargetHealthConfig;
use rebound::notifier::StreamEvent;
use rebound::ports::IncidentStore;
use serde_json::Value;

use crate::emulator::is_mutating_fleet_call;
use crate::stack::Managed;
use crate::{Emulator, Stack};

/// One emulator with the reference stack provisioned in it, and SDK clients for it.
pub struct Scenario {
    pub emulator: Emulator,
    pub stack: Stack,
    pub sdk: aws_config::SdkConfig,
}

/// The reference stack: one group of four behind one target group.
/// `group` replaces ELB-unhealthy instances itself (HealthCheckType ELB), with `grace_s`
/// of health-check grace period.
pub async fn elb_health_checks(sdk: &aws_config::SdkConfig, group: &str, grace_s: i32) {
    AutoScalingClient::new(sdk)
        .update_auto_scaling_group()
        .auto_scaling_group_name(group)
        .health_check_type("ELB")
        .health_check_grace_period(grace_s)
        .send()
        .await
        .unwrap();
}

pub async fn scenario(managed: Managed) -> Scenario {
    scenario_with(managed, 4, 1).await
}

/// A stack of one group of `instances`, registered in `target_groups` target groups.
pub async fn scenario_with(managed: Managed, instances: u32, target_groups: u32) -> Scenario {
    let emulator = Emulator::start();
    let stack = Stack::provision_groups(&emulator, managed, instances, 1, target_groups);
    let sdk = emulator.sdk_config().await;
    emulator.clear_requests();
    Scenario {
        emulator,
        stack,
        sdk,
    }
}

impl Scenario {
    pub fn break_instance(&self, index: usize) -> String {
        let web = self.stack.web();
        let instance = web.instance_ids[index].clone();
        self.emulator.set_target_health(
            &web.target_group_arn,
            &instance,
            "unhealthy",
            "Target.FailedHealthChecks",
        );
        instance
    }

    /// target-health in `mode`, keeping evidence before a replacement in `bucket`.
    pub fn target_health_keeping_evidence(
        &self,
        mode: Mode,
        bucket: &str,
    ) -> rebound::aws::TargetHealthFunction {
        let mut config = self.stack.target_health_config(mode);
        config.policy.evidence_bucket =
            Some(rebound::ids::BucketName::parse(bucket).expect("a valid bucket name"));
        self.handler_with(&config)
    }

    pub fn target_health(&self, mode: Mode) -> rebound::aws::TargetHealthFunction {
        rebound::aws::target_health(&self.stack.target_health_config(mode), &self.sdk)
    }

    /// Tags an Auto Scaling group `key=value`.
    pub async fn tag_group(&self, group: &str, key: &str, value: &str) {
        AutoScalingClient::new(&self.sdk)
            .create_or_update_tags()
            .tags(
                aws_sdk_autoscaling::types::Tag::builder()
                    .resource_id(group)
                    .resource_type("auto-scaling-group")
                    .key(key)
                    .value(value)
                    .propagate_at_launch(false)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }

    /// The web group replaces ELB-unhealthy instances itself (HealthCheckType ELB, as
    /// many real groups do), with `grace_s` of health-check grace period; the reference
    /// stack's groups leave them to Rebound (EC2).
    pub async fn elb_health_checks(&self, grace_s: i32) {
        elb_health_checks(&self.sdk, &self.stack.web().auto_scaling_group, grace_s).await;
    }

    /// What the group's own health check does to an instance it finds unhealthy: marks it
    /// Unhealthy, and the group replaces it (SetInstanceHealth as Auto Scaling calls it
    /// internally; no Rebound code involved).
    pub async fn group_replaces(&self, instance: &str) {
        AutoScalingClient::new(&self.sdk)
            .set_instance_health()
            .instance_id(instance)
            .health_status("Unhealthy")
            .should_respect_grace_period(false)
            .send()
            .await
            .unwrap();
    }

    pub async fn group_instances(&self) -> Vec<String> {
        let groups = AutoScalingClient::new(&self.sdk)
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&self.stack.web().auto_scaling_group)
            .send()
            .await
            .unwrap();
        groups.auto_scaling_groups()[0]
            .instances()
            .iter()
            .filter_map(|i| i.instance_id().map(str::to_owned))
            .collect()
    }

    /// The group's instances in `zone`.
    pub async fn instances_in(&self, zone: &str) -> Vec<String> {
        let described = AutoScalingClient::new(&self.sdk)
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&self.stack.web().auto_scaling_group)
            .send()
            .await
            .unwrap();
        described.auto_scaling_groups()[0]
            .instances()
            .iter()
            .filter(|i| i.availability_zone() == Some(zone))
            .filter_map(|i| i.instance_id().map(str::to_owned))
            .collect()
    }

    /// Every target in `zone` fails its health checks, as when the zone goes grey; the
    /// instances, at least two.
    pub async fn impair_zone(&self, zone: &str) -> Vec<String> {
        let instances = self.instances_in(zone).await;
        assert!(instances.len() >= 2, "{instances:?}");
        for instance in &instances {
            self.emulator.set_target_health(
                &self.stack.web().target_group_arn,
                instance,
                "unhealthy",
                "Target.Timeout",
            );
        }
        instances
    }

    /// Every target's health check passes again (the emulator forgets what was set).
    pub fn heal_targets(&self) {
        let (status, body) = self
            .emulator
            .control("DELETE", "/_rebound/target-health", None);
        assert_eq!(status, 200, "{body}");
    }

    pub async fn registered_targets(&self) -> Vec<(String, String)> {
        let health = ElbClient::new(&self.sdk)
            .describe_target_health()
            .target_group_arn(&self.stack.web().target_group_arn)
            .send()
            .await
            .unwrap();
        health
            .target_health_descriptions()
            .iter()
            .map(|d| {
                (
                    d.target()
                        .and_then(|t| t.id())
                        .unwrap_or_default()
                        .to_owned(),
                    d.target_health()
                        .and_then(|h| h.state())
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Lets the group's replacements go on and sweeps, up to four times, until the
    /// target group's incident resolves: that incident, or `None` if it never does.
    pub async fn sweep_until_resolved(
        &self,
        web: &rebound::aws::TargetHealthFunction,
    ) -> Option<rebound::domain::Incident> {
        for _ in 0..4 {
            self.emulator.advance();
            web.handle(crate::sample_event("target-health/scheduled-sweep.json"))
                .await
                .unwrap();
            let resolved = self.incidents().await.into_iter().find(|i| {
                i.resource.kind == rebound::kinds::target_group::TARGET_GROUP
                    && i.state == rebound::domain::IncidentState::Resolved
            });
            if resolved.is_some() {
                return resolved;
            }
        }
        None
    }

    pub async fn incidents(&self) -> Vec<rebound::domain::Incident> {
        rebound::aws::incident_store(&self.stack.store_config(), &self.sdk)
            .list(100)
            .await
            .unwrap()
    }

    pub fn mutating_fleet_calls(&self) -> Vec<(String, String)> {
        self.emulator
            .requests()
            .into_iter()
            .filter(|(service, operation)| is_mutating_fleet_call(service, operation))
            .collect()
    }

    /// Makes one target of one target group fail its health checks.
    pub fn break_target(&self, target_group_arn: &str, instance: &str) {
        self.emulator.set_target_health(
            target_group_arn,
            instance,
            "unhealthy",
            "Target.FailedHealthChecks",
        );
    }

    /// The handler wired as the deployed function would be, with `config`.
    pub fn handler_with(&self, config: &TargetHealthConfig) -> rebound::aws::TargetHealthFunction {
        rebound::aws::target_health(config, &self.sdk)
    }

    /// The incident of the first (or only) target group, read back from the table.
    pub async fn incident(&self) -> rebound::domain::Incident {
        let mut incidents = self.incidents().await;
        assert_eq!(incidents.len(), 1, "{incidents:?}");
        incidents.remove(0)
    }

    /// Delivers the stream so far to the notifier (as the event source mapping would)
    /// and returns the `state` attribute of every message that reached the topic's
    /// queue, in order.
    pub async fn announced_states(&self) -> Vec<String> {
        let state_file = std::env::temp_dir().join(format!(
            "rebound-stream-{}-{:x}",
            std::process::id(),
            rand_suffix()
        ));
        let stream: StreamEvent =
            serde_json::from_value(self.stack.pending_stream_event(&self.emulator, &state_file))
                .expect("stream event");
        std::fs::remove_file(&state_file).ok();
        let notifier = rebound::aws::notifier_handler(&self.stack.notifier_config(), &self.sdk);
        let response = notifier
            .handle(stream)
            .await
            .expect("notifier handles the stream");
        assert!(response.batch_item_failures.is_empty());
        self.stack
            .notifications(&self.sdk)
            .await
            .iter()
            .map(|m: &Value| {
                m["MessageAttributes"]["state"]["Value"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}
