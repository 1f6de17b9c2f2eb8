//! Evidence kept before a replacement: the instance's console output and status,
//! read just before the call that replaces it (its replacement destroys both), kept as
//! one JSON object per capture under the incident's prefix in the evidence bucket, and
//! linked from the incident.
//!
//! The two reads run at once, the object is written after them, and the whole capture
//! is bounded by [`CAPTURE_TIMEOUT`]: a capture that fails or runs late is noted on the
//! incident, never a reason to hold the replacement back.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::instance;
use super::observation::{GroupInstance, ScalingGroup};
use crate::domain::Capture;
use crate::error::Error;
use crate::ids::{BucketName, IncidentId, InstanceId};

/// What an instance leaves behind that its replacement destroys, and where it is kept:
/// read just before the instance is replaced (read-only calls), kept per incident.
pub trait InstanceEvidence: Send + Sync {
    /// The instance's most recent console output (`GetConsoleOutput`, `Latest`),
    /// decoded and capped; `None` when it has none or EC2 no longer knows it.
    fn console_output(
        &self,
        instance: &InstanceId,
    ) -> impl Future<Output = Result<Option<ConsoleOutput>, Error>> + Send;

    /// Its state and status checks (`DescribeInstanceStatus`, every state included);
    /// `None` when EC2 no longer knows it.
    fn instance_status(
        &self,
        instance: &InstanceId,
    ) -> impl Future<Output = Result<Option<InstanceStatus>, Error>> + Send;

    /// Keeps `body` (a JSON document) as `key` in `bucket`, encrypted at rest
    /// (SSE-S3); returns where (`s3://bucket/key`).
    fn keep(
        &self,
        bucket: &BucketName,
        key: &str,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<String, Error>> + Send;
}

/// How long a capture may hold a replacement back, its reads and its write together.
pub const CAPTURE_TIMEOUT: Duration = Duration::from_secs(3);

/// The most console output kept, in bytes: its end, where the failure is. EC2 returns
/// at most 64 KB anyway; the cap keeps any answer bounded.
pub const MAX_CONSOLE_BYTES: usize = 64 * 1024;

/// An instance's console output as kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleOutput {
    /// Decoded (invalid UTF-8 replaced), at most [`MAX_CONSOLE_BYTES`]: the end of it.
    pub text: String,
    /// The beginning was cut off to stay within the cap.
    pub truncated: bool,
    /// When EC2 last updated it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<DateTime<Utc>>,
}

impl ConsoleOutput {
    /// The console output from the decoded bytes EC2 returned, capped to its last
    /// [`MAX_CONSOLE_BYTES`] on a character boundary.
    pub fn from_bytes(decoded: &[u8], timestamp: Option<DateTime<Utc>>) -> Self {
        let text = String::from_utf8_lossy(decoded);
        let truncated = text.len() > MAX_CONSOLE_BYTES;
        let kept = if truncated {
            let mut start = text.len().saturating_sub(MAX_CONSOLE_BYTES);
            while !text.is_char_boundary(start) {
                start = start.saturating_add(1);
            }
            text.get(start..).unwrap_or_default()
        } else {
            &text
        };
        Self {
            text: kept.to_owned(),
            truncated,
            timestamp,
        }
    }
}

/// One of an instance's two status checks (`ok`, `impaired`, …) and its details
/// (`reachability: failed since …`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCheck {
    pub status: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

/// An instance's state and status checks as `DescribeInstanceStatus` reports them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceStatus {
    /// `running`, `stopping`, …
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// The host's check (AWS's side).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_status: Option<StatusCheck>,
    /// The instance's own check (its OS and network configuration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_status: Option<StatusCheck>,
    /// Scheduled events (`instance-retirement: …`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
}

/// The object kept: what was read, what the observation already knew of the instance,
/// and what could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kept {
    pub incident: IncidentId,
    pub instance: InstanceId,
    pub captured_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_scaling_group: Option<String>,
    /// What new capacity launches from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_template: Option<String>,
    /// The instance as its group saw it (lifecycle, health, zone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_group: Option<GroupInstance>,
    pub status: Option<InstanceStatus>,
    pub console_output: Option<ConsoleOutput>,
    /// What could not be read, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

/// Where a capture is kept: under the incident's prefix, one object per instance and
/// time, so every capture of an incident is listed together.
pub fn object_key(incident: &IncidentId, instance: &InstanceId, at: DateTime<Utc>) -> String {
    format!(
        "incidents/{incident}/{instance}-{}.json",
        at.format("%Y%m%dT%H%M%SZ")
    )
}

/// Reads the instance's console output and status at once, and keeps them in `bucket`,
/// within [`CAPTURE_TIMEOUT`]. Never fails: what went wrong is in the capture.
pub async fn capture<E: InstanceEvidence>(
    evidence: &E,
    bucket: &BucketName,
    incident: &IncidentId,
    target: &InstanceId,
    group: Option<&ScalingGroup>,
    now: DateTime<Utc>,
) -> Capture {
    let kept = tokio::time::timeout(
        CAPTURE_TIMEOUT,
        read_and_keep(evidence, bucket, incident, target, group, now),
    )
    .await;
    let (uri, failed) = match kept {
        Ok(outcome) => outcome,
        Err(_) => (
            None,
            Some(format!("timed out after {} s", CAPTURE_TIMEOUT.as_secs())),
        ),
    };
    Capture {
        target: instance(target),
        captured_at: now,
        uri,
        failed,
    }
}

/// The capture's URI (if anything was kept) and what is missing.
async fn read_and_keep<E: InstanceEvidence>(
    evidence: &E,
    bucket: &BucketName,
    incident: &IncidentId,
    target: &InstanceId,
    group: Option<&ScalingGroup>,
    now: DateTime<Utc>,
) -> (Option<String>, Option<String>) {
    let (console, status) = futures::join!(
        evidence.console_output(target),
        evidence.instance_status(target)
    );
    let mut missing = Vec::new();
    let console_output = console.unwrap_or_else(|err| {
        missing.push(format!("console output: {err}"));
        None
    });
    let status = status.unwrap_or_else(|err| {
        missing.push(format!("status: {err}"));
        None
    });
    if console_output.is_none() && status.is_none() {
        if missing.is_empty() {
            missing.push(format!("EC2 no longer knows {target}"));
        }
        return (None, Some(missing.join("; ")));
    }
    let kept = Kept {
        incident: incident.clone(),
        instance: target.clone(),
        captured_at: now,
        auto_scaling_group: group.map(|g| g.name.to_string()),
        launch_template: group.and_then(|g| g.launch_template.clone()),
        in_group: group.and_then(|g| g.instance(target)).cloned(),
        status,
        console_output,
        missing: missing.clone(),
    };
    let body = match serde_json::to_vec_pretty(&kept) {
        Ok(body) => body,
        Err(err) => return (None, Some(format!("not encoded: {err}"))),
    };
    let key = object_key(incident, target, now);
    match evidence.keep(bucket, &key, body).await {
        Ok(uri) => (Some(uri), (!missing.is_empty()).then(|| missing.join("; "))),
        Err(err) => {
            missing.push(format!("not kept in {bucket}: {err}"));
            (None, Some(missing.join("; ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_output_under_the_cap_is_kept_whole() {
        let output = ConsoleOutput::from_bytes(b"boot ok\nkernel panic\n", None);
        assert_eq!(output.text, "boot ok\nkernel panic\n");
        assert!(!output.truncated);
    }

    #[test]
    fn console_output_over_the_cap_keeps_its_end() {
        let mut bytes = vec![b'a'; MAX_CONSOLE_BYTES];
        bytes.extend_from_slice(b"\nOut of memory: Killed process 4242 (app)\n");
        let output = ConsoleOutput::from_bytes(&bytes, None);
        assert!(output.truncated);
        assert_eq!(output.text.len(), MAX_CONSOLE_BYTES);
        assert!(output
            .text
            .ends_with("Out of memory: Killed process 4242 (app)\n"));
    }

    #[test]
    fn the_cap_never_splits_a_character_and_bad_bytes_are_replaced() {
        // 'é' is two bytes: an odd cut would fall inside one.
        let mut bytes = "é".repeat(MAX_CONSOLE_BYTES).into_bytes();
        bytes.push(0xff);
        let output = ConsoleOutput::from_bytes(&bytes, None);
        assert!(output.truncated);
        assert!(output.text.len() <= MAX_CONSOLE_BYTES);
        assert!(output.text.ends_with('\u{fffd}'));
        assert!(output.text.starts_with('é'));
    }

    #[test]
    fn captures_are_keyed_under_their_incident() {
        let at = DateTime::parse_from_rfc3339("2026-12-03T17:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        let incident = IncidentId::parse("inc-20261203T170400Z-0a1b2c3d").unwrap();
        let key = object_key(&incident, &InstanceId::parse("i-0abc").unwrap(), at);
        assert_eq!(
            key,
            "incidents/inc-20261203T170400Z-0a1b2c3d/i-0abc-20261203T170405Z.json"
        );
    }
}
