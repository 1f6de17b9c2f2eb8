//! The reference HA stack, provisioned in the emulator by `emulator/provision.py`, and
//! what tests need to drive Rebound against it.

use std::process::Command;
use std::time::Duration;

use aws_sdk_sqs::types::MessageSystemAttributeName;
use rebound::config::{Common, Mode, Settings, Store};
use rebound::functions::{RdsHealthConfig, TargetHealthConfig, ZoneHealthConfig};
use rebound::kinds::{database, target_group, zone};
use serde::Deserialize;
use serde_json::Value;

use crate::{python, repo_root, sample_event, Emulator};

/// One Auto Scaling group and its instances; `target_group_arn` is the first of the
/// target groups it is registered in.
#[derive(Debug, Clone, Deserialize)]
pub struct TargetGroupStack {
    pub target_group_arn: String,
    pub target_group_full_name: String,
    pub auto_scaling_group: String,
    pub instance_ids: Vec<String>,
    /// Every target group the group is registered in (one unless provisioned with more
    /// per group), each with the load balancer in front of it.
    pub target_groups: Vec<TargetGroup>,
}

/// A target group and the load balancer (there are several past 100 target groups)
/// whose listener forwards to it.
#[derive(Debug, Clone, Deserialize)]
pub struct TargetGroup {
    pub target_group_arn: String,
    pub target_group_full_name: String,
    pub load_balancer_arn: String,
    pub load_balancer_full_name: String,
    pub listener_arn: String,
}

/// What `provision.py` created.
#[derive(Debug, Clone, Deserialize)]
pub struct Stack {
    pub region: String,
    pub account: String,
    pub load_balancer_arn: String,
    pub load_balancer_full_name: String,
    pub incidents_table: String,
    pub incidents_stream_arn: String,
    pub topic_arn: String,
    pub queue_url: String,
    pub stacks: Vec<TargetGroupStack>,
    /// The database every group depends on (`rebound:depends-on`), unless provisioned
    /// without one.
    pub db_instance_id: Option<String>,
    pub db_instance_arn: Option<String>,
    /// The alarm the database designates for a failover (`rebound:failover-alarms`).
    pub db_failover_alarm: Option<String>,
}

/// `--database` of provision.py.
#[derive(Debug, Clone, Copy)]
pub enum Database {
    MultiAz,
    SingleAz,
    None,
}

/// `--managed true|false|none` of provision.py.
#[derive(Debug, Clone, Copy)]
pub enum Managed {
    Yes,
    No,
}

impl Stack {
    pub fn provision(emulator: &Emulator, managed: Managed) -> Self {
        Self::provision_with(emulator, managed, 4, 1)
    }

    /// `target_groups` Auto Scaling groups, each registered in a target group of its own.
    pub fn provision_with(
        emulator: &Emulator,
        managed: Managed,
        instances: u32,
        target_groups: u32,
    ) -> Self {
        Self::provision_groups(emulator, managed, instances, target_groups, 1)
    }

    /// `groups` Auto Scaling groups, each registered in `target_groups_per_group` target
    /// groups of its own.
    pub fn provision_groups(
        emulator: &Emulator,
        managed: Managed,
        instances: u32,
        groups: u32,
        target_groups_per_group: u32,
    ) -> Self {
        Self::provision_full(
            emulator,
            managed,
            instances,
            groups,
            target_groups_per_group,
            Database::MultiAz,
        )
    }

    /// The reference stack with the database of `database` (managed like the groups).
    pub fn provision_database(emulator: &Emulator, managed: Managed, database: Database) -> Self {
        Self::provision_full(emulator, managed, 4, 1, 1, database)
    }

    fn provision_full(
        emulator: &Emulator,
        managed: Managed,
        instances: u32,
        groups: u32,
        target_groups_per_group: u32,
        database: Database,
    ) -> Self {
        let managed_tag = match managed {
            Managed::Yes => "true",
            Managed::No => "false",
        };
        let output = Command::new(python())
            .arg(repo_root().join("emulator/provision.py"))
            .args(["--endpoint", &emulator.url])
            .args([
                "--managed",
                match managed {
                    Managed::Yes => "true",
                    Managed::No => "false",
                },
            ])
            .args(["--instances", &instances.to_string()])
            .args(["--target-groups", &groups.to_string()])
            .args([
                "--target-groups-per-group",
                &target_groups_per_group.to_string(),
            ])
            .args([
                "--template",
                &repo_root().join("template.yaml").to_string_lossy(),
            ])
            .args([
                "--database",
                match database {
                    Database::MultiAz => "multi-az",
                    Database::SingleAz => "single-az",
                    Database::None => "none",
                },
            ])
            .args(["--db-managed", managed_tag])
            .output()
            .expect("run emulator/provision.py");
        assert!(
            output.status.success(),
            "provision.py failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("provision.py prints the stack as JSON")
    }

    pub fn web(&self) -> &TargetGroupStack {
        &self.stacks[0]
    }

    /// Every target group with the Auto Scaling group registered in it, group by group.
    pub fn target_groups(&self) -> impl Iterator<Item = (&TargetGroupStack, &TargetGroup)> {
        self.stacks
            .iter()
            .flat_map(|group| group.target_groups.iter().map(move |tg| (group, tg)))
    }

    /// Configuration as the deployed function would read it from its environment.
    /// Where this stack's incidents are kept.
    pub fn store_config(&self) -> Store {
        Store {
            incidents_table: self.incidents_table.clone(),
            incident_retention_days: 90,
        }
    }

    fn settings(mode: Mode) -> Settings {
        Settings {
            mode,
            ..Settings::default()
        }
    }

    /// target-health's configuration for this stack, as the template passes it.
    pub fn target_health_config(&self, mode: Mode) -> TargetHealthConfig {
        TargetHealthConfig {
            common: Common::default(),
            store: self.store_config(),
            policy: target_group::Policy {
                settings: Self::settings(mode),
                ..target_group::Policy::default()
            },
        }
    }

    /// rds-health's configuration for this stack.
    pub fn rds_health_config(&self, mode: Mode) -> RdsHealthConfig {
        RdsHealthConfig {
            common: Common::default(),
            store: self.store_config(),
            policy: database::Policy {
                settings: Self::settings(mode),
                ..database::Policy::default()
            },
        }
    }

    /// zone-health's configuration for this stack.
    pub fn zone_health_config(&self, mode: Mode) -> ZoneHealthConfig {
        ZoneHealthConfig {
            common: Common::default(),
            store: self.store_config(),
            policy: zone::Policy {
                settings: Self::settings(mode),
                ..zone::Policy::default()
            },
        }
    }

    /// The sample zone alarm event (`events/zone-health/`), aimed at `zone` of this
    /// stack's (first) load balancer, in `state`.
    pub fn zone_alarm_event(&self, zone: &str, state: &str) -> Value {
        let mut event = sample_event("zone-health/alarm-state-change.json");
        event["account"] = Value::String(self.account.clone());
        event["region"] = Value::String(self.region.clone());
        event["detail"]["state"]["value"] = Value::String(state.to_owned());
        let dimensions = &mut event["detail"]["configuration"]["metrics"][0]["metricStat"]
            ["metric"]["dimensions"];
        dimensions["TargetGroup"] = Value::String(self.stacks[0].target_group_full_name.clone());
        dimensions["LoadBalancer"] = Value::String(self.load_balancer_full_name.clone());
        dimensions["AvailabilityZone"] = Value::String(zone.to_owned());
        event
    }

    /// incident-notifier's: this stack's topic; provision.py makes no queue for parked
    /// notifications (a test that needs one creates it).
    pub fn notifier_config(&self) -> rebound::notifier::Config {
        rebound::notifier::Config {
            topic_arn: self.topic_arn.clone(),
            failed_notifications_queue_url: None,
            chatbot_topic_arn: None,
        }
    }

    /// The environment the deployed functions get, for running the real binaries.
    pub fn function_env(&self, emulator: &Emulator, mode: &str) -> Vec<(String, String)> {
        [
            ("INCIDENTS_TABLE", self.incidents_table.as_str()),
            ("NOTIFY_TOPIC_ARN", self.topic_arn.as_str()),
            ("MODE", mode),
            ("AWS_ENDPOINT_URL", emulator.url.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// The sample EventBridge alarm event, aimed at the (first) target group of stack
    /// `index`.
    pub fn alarm_event(&self, index: usize) -> Value {
        let mut event = sample_event("target-health/alarm-state-change.json");
        event["account"] = Value::String(self.account.clone());
        event["region"] = Value::String(self.region.clone());
        let dimensions = &mut event["detail"]["configuration"]["metrics"][0]["metricStat"]
            ["metric"]["dimensions"];
        let stack = &self.stacks[index];
        dimensions["TargetGroup"] = Value::String(stack.target_group_full_name.clone());
        // Past 100 target groups, not every one is behind the first load balancer.
        let load_balancer = stack
            .target_groups
            .first()
            .map_or(&self.load_balancer_full_name, |tg| {
                &tg.load_balancer_full_name
            });
        dimensions["LoadBalancer"] = Value::String(load_balancer.clone());
        event
    }

    /// The sample alarm notification delivered through an SNS subscription, aimed at
    /// the (first) target group of stack `index`.
    pub fn alarm_via_sns_event(&self, index: usize) -> Value {
        let eventbridge = self.alarm_event(index);
        let dimensions = &eventbridge["detail"]["configuration"]["metrics"][0]["metricStat"]
            ["metric"]["dimensions"];
        let mut event = sample_event("target-health/alarm-via-sns.json");
        let text = event["Records"][0]["Sns"]["Message"]
            .as_str()
            .expect("sample SNS message")
            .to_owned();
        let mut message: Value = serde_json::from_str(&text).expect("sample alarm notification");
        message["AWSAccountId"] = Value::String(self.account.clone());
        message["AlarmArn"] = Value::String(format!(
            "arn:aws:cloudwatch:{}:{}:alarm:{}",
            self.region,
            self.account,
            message["AlarmName"].as_str().unwrap_or("alarm")
        ));
        message["Trigger"]["Dimensions"] = serde_json::json!([
            {"name": "TargetGroup", "value": dimensions["TargetGroup"]},
            {"name": "LoadBalancer", "value": dimensions["LoadBalancer"]},
        ]);
        event["Records"][0]["Sns"]["Message"] = Value::String(message.to_string());
        event
    }

    /// The database's id; panics for a stack provisioned without one.
    pub fn db(&self) -> &str {
        self.db_instance_id
            .as_deref()
            .expect("the stack was provisioned with a database")
    }

    /// A sample event of `events/rds-health/`, aimed at this stack's database.
    pub fn rds_event(&self, name: &str) -> Value {
        let mut event = sample_event(&format!("rds-health/{name}"));
        let text = event.to_string().replace("rebound-demo-db", self.db());
        event = serde_json::from_str(&text).unwrap_or(event);
        if event.get("account").is_some() {
            event["account"] = Value::String(self.account.clone());
            event["region"] = Value::String(self.region.clone());
        }
        event
    }

    /// The sample `AWS/RDS` alarm on this stack's database, in ALARM since now: a new
    /// episode, not a late copy of one an earlier failover answered.
    pub fn rds_alarm_event(&self) -> Value {
        let mut event = self.rds_event("alarm-state-change.json");
        event["detail"]["state"]["timestamp"] = Value::String(
            chrono::Utc::now()
                .format("%Y-%m-%dT%H:%M:%S%.3f%z")
                .to_string(),
        );
        event
    }

    /// Runs `emulator/stream_pump.py` once over the incidents table's stream: the part
    /// of Lambda's event source mapping. `delivery` is `--print-event` (print the Lambda
    /// event) or `--invoke-url URL` (deliver it to a function); the stdout is returned.
    pub fn pump_stream(
        &self,
        emulator: &Emulator,
        state_file: &std::path::Path,
        delivery: &[&str],
    ) -> Vec<u8> {
        let output = Command::new(python())
            .arg(repo_root().join("emulator/stream_pump.py"))
            .args([
                "--endpoint",
                &emulator.url,
                "--stream-arn",
                &self.incidents_stream_arn,
            ])
            .args(["--state-file", &state_file.to_string_lossy(), "--once"])
            .args(delivery)
            .output()
            .expect("run emulator/stream_pump.py");
        assert!(
            output.status.success(),
            "stream_pump.py failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    }

    /// The incidents table's new stream records, as the Lambda event the notifier gets.
    pub fn pending_stream_event(&self, emulator: &Emulator, state_file: &std::path::Path) -> Value {
        let stdout = self.pump_stream(emulator, state_file, &["--print-event"]);
        serde_json::from_slice(&stdout).expect("stream_pump.py prints the event as JSON")
    }

    /// SNS messages that reached the subscribed queue: the SNS envelopes as JSON.
    pub async fn notifications(&self, sdk: &aws_config::SdkConfig) -> Vec<Value> {
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let mut messages = Vec::new();
        loop {
            let received = sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .wait_time_seconds(0)
                .send()
                .await
                .expect("receive notifications");
            let batch = received.messages();
            if batch.is_empty() {
                break;
            }
            for message in batch {
                let body = message.body().unwrap_or_default();
                messages.push(serde_json::from_str(body).unwrap_or(Value::String(body.to_owned())));
                if let Some(handle) = message.receipt_handle() {
                    sqs.delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .ok();
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        messages
    }
}
