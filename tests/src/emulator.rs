//! The emulator process and its control API (`/_rebound/...`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use serde_json::{json, Value};

use crate::http::http_json;
use crate::{python, repo_root};

const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Tells apart the logs of several emulators started by one process.
static START_COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

pub struct Emulator {
    child: Child,
    pub url: String,
    port: u16,
    /// The emulator's stderr (its errors, with moto tracebacks). Kept when the owner
    /// panics (a failing test) or `REBOUND_KEEP_EMULATOR_LOG` is set; removed otherwise.
    pub log: std::path::PathBuf,
}

impl Emulator {
    /// Starts `emulator/server.py` on a free port and waits until it serves.
    pub fn start() -> Self {
        let log = std::env::temp_dir().join(format!(
            "rebound-emulator-{}-{}.log",
            std::process::id(),
            START_COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let stderr = std::fs::File::create(&log).expect("emulator log file");
        let mut child = Command::new(python())
            .arg(repo_root().join("emulator/server.py"))
            .args(["--port", "0", "--exit-with-parent"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start emulator/server.py");
        let stdout = child.stdout.take().expect("emulator stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("REBOUND_EMULATOR_URL=") {
                    let _ = tx.send(url.to_owned());
                    break;
                }
            }
            // Keep draining so the server never blocks on a full pipe.
            for _ in lines {}
        });
        let url = match rx.recv_timeout(START_TIMEOUT) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the emulator did not report its URL within {START_TIMEOUT:?}");
            }
        };
        let port = url
            .rsplit(':')
            .next()
            .and_then(|p| p.trim_end_matches('/').parse().ok())
            .expect("port in emulator URL");
        Self {
            child,
            url,
            port,
            log,
        }
    }

    /// SDK configuration pointing every client at this emulator.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .http_client(rebound::aws::Https::new().client())
            .endpoint_url(&self.url)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "rebound-tests",
            ))
            .load()
            .await
    }

    /// One call to the control API: `(status, JSON body)`.
    pub fn control(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        http_json(self.port, method, path, body)
    }

    /// Makes DescribeTargetHealth report `state` (with `reason`) for one target.
    pub fn set_target_health(
        &self,
        target_group_arn: &str,
        instance_id: &str,
        state: &str,
        reason: &str,
    ) {
        let (status, body) = self.control(
            "POST",
            "/_rebound/target-health",
            Some(json!({
                "target_group_arn": target_group_arn,
                "instance_id": instance_id,
                "state": state,
                "reason": reason,
                "description": "Health checks failed",
            })),
        );
        assert_eq!(status, 200, "set target health: {body}");
    }

    /// Makes DescribeDBInstances report `status` for a DB instance.
    pub fn set_db_status(&self, db_instance: &str, status: &str) {
        let (code, body) = self.control(
            "POST",
            "/_rebound/db-instance-status",
            Some(json!({"db_instance_identifier": db_instance, "status": status})),
        );
        assert_eq!(code, 200, "set DB status: {body}");
    }

    /// `instant` (the default) or `phased`: whether a DB reboot finishes in the call.
    pub fn set_rds_mode(&self, mode: &str) {
        let (code, body) = self.control("POST", "/_rebound/rds-mode", Some(json!({"mode": mode})));
        assert_eq!(code, 200, "set RDS mode: {body}");
    }

    /// Finishes the DB reboots and failovers in progress (phased mode).
    pub fn rds_advance(&self) {
        let (code, body) = self.control("POST", "/_rebound/rds-advance", None);
        assert_eq!(code, 200, "RDS advance: {body}");
    }

    /// The RDS events the emulator recorded, as EventBridge would deliver them
    /// ("RDS DB Instance Event", with their ids), oldest first.
    pub fn rds_eventbridge_events(&self) -> Vec<Value> {
        let (code, body) = self.control("GET", "/_rebound/rds-events", None);
        assert_eq!(code, 200, "RDS events: {body}");
        body["events"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|e| {
                json!({
                    "version": "0", "id": format!("emulator-{}", e["event_id"].as_str().unwrap_or("")),
                    "detail-type": "RDS DB Instance Event", "source": "aws.rds",
                    "account": e["account"], "time": e["date"], "region": e["region"],
                    "resources": [e["source_arn"]],
                    "detail": {
                        "EventCategories": e["categories"], "SourceType": "DB_INSTANCE",
                        "SourceArn": e["source_arn"], "Date": e["date"], "Message": e["message"],
                        "SourceIdentifier": e["db_instance_identifier"], "EventID": e["event_id"],
                    }
                })
            })
            .collect()
    }

    /// Has AWS Health announce work (`service` EC2 or RDS, an event type such as
    /// `AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED`) on `entities`, starting at `starts_at`
    /// (the emulator's default, three days ahead, when `None`): the event as
    /// EventBridge would deliver it.
    pub fn health_event(
        &self,
        service: &str,
        event_type_code: &str,
        entities: &[&str],
        starts_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Value {
        let mut request = json!({
            "service": service, "event_type_code": event_type_code, "entities": entities,
        });
        if let Some(starts_at) = starts_at {
            request["start_time"] = json!(starts_at.to_rfc3339());
        }
        let (code, body) = self.control("POST", "/_rebound/health-events", Some(request));
        assert_eq!(code, 200, "health event: {body}");
        body["event"].clone()
    }

    /// Makes GetConsoleOutput answer `output` for one instance (moto's own sample for
    /// every other).
    pub fn set_console_output(&self, instance_id: &str, output: &str) {
        let (code, body) = self.control(
            "POST",
            "/_rebound/console-output",
            Some(json!({"instance_id": instance_id, "output": output})),
        );
        assert_eq!(code, 200, "set console output: {body}");
    }

    /// Makes GetConsoleOutput fail with `error_code` for one instance.
    pub fn fail_console_output(&self, instance_id: &str, error_code: &str) {
        let (code, body) = self.control(
            "POST",
            "/_rebound/console-output",
            Some(json!({"instance_id": instance_id, "error_code": error_code})),
        );
        assert_eq!(code, 200, "fail console output: {body}");
    }

    /// Creates an S3 bucket (an evidence bucket, say) in the emulator.
    pub async fn create_bucket(&self, name: &str) {
        let sdk = self.sdk_config().await;
        let answer = rebound::aws::ObjectWriter::new(&sdk)
            .send("PUT", name, "", &[], vec![])
            .await
            .unwrap_or_else(|e| panic!("create bucket {name}: {e}"));
        assert_eq!(answer.status, 200, "create bucket {name}: {answer:?}");
    }

    /// The next `count` calls of `operation` fail with `error_code`.
    pub fn inject_fault(&self, operation: &str, error_code: &str, status: u16, count: u32) {
        let (code, body) = self.control(
            "POST",
            "/_rebound/faults",
            Some(json!({"operation": operation, "error_code": error_code, "status": status, "count": count, "message": "injected by test"})),
        );
        assert_eq!(code, 200, "inject fault: {body}");
    }

    /// Any fault the control API takes (`after_commit`, `drop_connection`,
    /// `cancellation_reasons`, …), as JSON.
    pub fn inject(&self, fault: Value) {
        let (code, body) = self.control("POST", "/_rebound/faults", Some(fault));
        assert_eq!(code, 200, "inject fault: {body}");
    }

    /// `instant` (replacements done when the call returns) or `phased` (stepped through
    /// with [`Emulator::advance`]).
    pub fn set_replacement_mode(&self, mode: &str) {
        let (code, body) = self.control(
            "POST",
            "/_rebound/replacement-mode",
            Some(json!({ "mode": mode })),
        );
        assert_eq!(code, 200, "replacement mode: {body}");
    }

    /// Moves every replacement in progress one phase on; returns them.
    pub fn advance(&self) -> Vec<Value> {
        let (code, body) = self.control("POST", "/_rebound/advance", None);
        assert_eq!(code, 200, "advance: {body}");
        body["replacements"].as_array().cloned().unwrap_or_default()
    }

    /// Makes SetInstanceHealth inside a group's grace period a no-op, as AWS does.
    pub fn respect_grace_period(&self, respected: bool) {
        let (code, body) = self.control(
            "POST",
            "/_rebound/grace-period",
            Some(json!({ "respected": respected })),
        );
        assert_eq!(code, 200, "grace period: {body}");
    }

    /// The request log as the emulator keeps it (service, operation, timings).
    pub fn request_log(&self) -> Vec<Value> {
        let (status, body) = self.control("GET", "/_rebound/requests", None);
        assert_eq!(status, 200, "request log: {body}");
        match body {
            Value::Array(entries) => entries,
            other => panic!("request log is not an array: {other}"),
        }
    }

    /// Every AWS call made so far: `(service, operation)`.
    pub fn requests(&self) -> Vec<(String, String)> {
        self.request_log()
            .iter()
            .map(|r| {
                (
                    r["service"].as_str().unwrap_or_default().to_owned(),
                    r["operation"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// Gives every AWS call from now on a simulated round trip of `ms` to the region,
    /// waited outside the emulator's locks: calls made at once overlap, calls made one
    /// after the other add up.
    pub fn set_latency_ms(&self, ms: u64) {
        let (status, body) = self.control("POST", "/_rebound/latency", Some(json!({ "ms": ms })));
        assert_eq!(status, 200, "latency: {body}");
    }

    /// The AWS calls logged so far, as dependent round trips: each call is one round
    /// after the latest call whose answer was ready before it arrived, so calls made
    /// at once share a round and a call made after another's answer is in a later one.
    /// The operations of each round, in the order they arrived.
    pub fn rounds(&self) -> Vec<Vec<String>> {
        let mut calls: Vec<(f64, f64, String)> = self
            .request_log()
            .iter()
            .map(|r| {
                (
                    r["started_s"].as_f64().unwrap_or_default(),
                    r["answered_s"].as_f64().unwrap_or_default(),
                    r["operation"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        calls.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut round_of: Vec<usize> = Vec::with_capacity(calls.len());
        let mut rounds: Vec<Vec<String>> = Vec::new();
        for (i, (started, _, operation)) in calls.iter().enumerate() {
            let round = calls[..i]
                .iter()
                .zip(&round_of)
                .filter(|((_, answered, _), _)| answered <= started)
                .map(|(_, round)| round + 1)
                .max()
                .unwrap_or(0);
            round_of.push(round);
            if rounds.len() <= round {
                rounds.resize(round + 1, Vec::new());
            }
            rounds[round].push(operation.clone());
        }
        rounds
    }

    pub fn clear_requests(&self) {
        let (status, body) = self.control("DELETE", "/_rebound/requests", None);
        assert_eq!(status, 200, "clear request log: {body}");
    }

    /// How many times `operation` was called.
    pub fn calls_of(&self, operation: &str) -> usize {
        self.requests()
            .iter()
            .filter(|(_, op)| op == operation)
            .count()
    }
}

/// Calls on Auto Scaling, load balancers or EC2 that change something.
pub fn is_mutating_fleet_call(service: &str, operation: &str) -> bool {
    let fleet = matches!(
        service,
        "autoscaling" | "elasticloadbalancing" | "ec2" | "rds"
    );
    let reads = ["Describe", "List", "Get"];
    fleet && !reads.iter().any(|prefix| operation.starts_with(prefix))
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() || std::env::var_os("REBOUND_KEEP_EMULATOR_LOG").is_some() {
            eprintln!("emulator log kept: {}", self.log.display());
        } else {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}
