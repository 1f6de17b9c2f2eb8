//! Rebound "deployed" in-process, for drills against the local emulator, where no
//! function runs. Each tick does what the deployed stack's triggers would: the
//! target-health, zone-health and rds-health sweeps (their schedule), and the delivery of the RDS
//! events the emulator recorded (EventBridge's "RDS DB Instance Event" rule; the
//! emulator lists them at `/_rebound/rds-events`). The handlers are the real ones with
//! this process's configuration (`MODE`, `MANAGED_TAG_KEY`, …), as `rebound invoke`
//! runs them: the drill's preflight reads its MODE from there.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;
use std::time::Duration;

use rebound::config::{Mode, Settings};
use rebound::functions::{RdsHealthConfig, TargetHealthConfig, ZoneHealthConfig};
use serde_json::{json, Value};

use super::ports::{Deployment, ReboundInfo};
use super::{DrillError, Target};

pub struct LocalRebound {
    target_health: rebound::aws::TargetHealthFunction,
    rds_health: rebound::aws::RdsHealthFunction,
    zone_health: rebound::aws::ZoneHealthFunction,
    settings: Settings,
    endpoint: Option<String>,
    /// RDS events already delivered.
    delivered: Mutex<usize>,
    watches_database: bool,
    watches_zones: bool,
}

impl LocalRebound {
    pub fn new(
        target_health: &TargetHealthConfig,
        rds_health: &RdsHealthConfig,
        zone_health: &ZoneHealthConfig,
        sdk: &aws_config::SdkConfig,
        target: &Target,
    ) -> Self {
        Self {
            target_health: rebound::aws::target_health(target_health, sdk),
            rds_health: rebound::aws::rds_health(rds_health, sdk),
            zone_health: rebound::aws::zone_health(zone_health, sdk),
            settings: target_health.policy.settings.clone(),
            endpoint: std::env::var("AWS_ENDPOINT_URL").ok(),
            delivered: Mutex::new(0),
            watches_database: matches!(target, Target::Database { .. }),
            watches_zones: matches!(target, Target::Group { az: Some(_), .. }),
        }
    }

    /// The RDS events the emulator recorded and not delivered yet, as EventBridge
    /// delivers them.
    fn new_rds_events(&self) -> Result<Vec<Value>, DrillError> {
        let Some(endpoint) = &self.endpoint else {
            return Ok(Vec::new());
        };
        let listed = control_get(endpoint, "/_rebound/rds-events")?;
        let events = listed["events"].as_array().cloned().unwrap_or_default();
        let mut delivered = self
            .delivered
            .lock()
            .map_err(|_| DrillError::Invalid("RDS event counter poisoned".into()))?;
        let fresh: Vec<Value> = events.iter().skip(*delivered).map(eventbridge).collect();
        *delivered = events.len();
        Ok(fresh)
    }
}

/// One recorded RDS event as the EventBridge "RDS DB Instance Event" rule delivers it.
fn eventbridge(event: &Value) -> Value {
    json!({
        "version": "0",
        "id": format!("rebound-drill-{}", event["date"].as_str().unwrap_or_default()),
        "detail-type": "RDS DB Instance Event",
        "source": "aws.rds",
        "account": event["account"],
        "time": event["date"],
        "region": event["region"],
        "resources": [event["source_arn"]],
        "detail": {
            "EventCategories": event["categories"],
            "SourceType": "DB_INSTANCE",
            "SourceArn": event["source_arn"],
            "Date": event["date"],
            "Message": event["message"],
            "SourceIdentifier": event["db_instance_identifier"],
            "EventID": event["event_id"],
        }
    })
}

impl Deployment for LocalRebound {
    async fn rebound(&self) -> Result<ReboundInfo, DrillError> {
        let mode = match self.settings.mode {
            Mode::Enforce => "enforce",
            Mode::DryRun => "dry-run",
        };
        Ok(ReboundInfo {
            source: format!("in-process against the local emulator (MODE={mode})"),
            enforce: self.settings.mode == Mode::Enforce,
            managed_tag_key: self.settings.managed_tag_key.clone(),
            deployed: true,
        })
    }

    async fn tick(&self) -> Result<(), DrillError> {
        let sweep = json!({
            "version": "0", "id": "rebound-drill-sweep", "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012", "time": chrono::Utc::now().to_rfc3339(),
            "region": "us-east-1", "resources": [], "detail": {}
        });
        for event in self.new_rds_events()? {
            self.rds_health.handle(event).await?;
        }
        if self.watches_database {
            self.rds_health.handle(sweep.clone()).await?;
        }
        // The zone first, as its alarm would reach zone-health while target-health sees
        // the target group: a grey zone is shifted, its instances held.
        if self.watches_zones {
            self.zone_health.handle(sweep.clone()).await?;
        }
        self.target_health.handle(sweep).await?;
        Ok(())
    }
}

/// GET on the emulator's control API (loopback HTTP, one request per connection).
fn control_get(endpoint: &str, path: &str) -> Result<Value, DrillError> {
    let invalid = |why: String| DrillError::Invalid(format!("emulator {endpoint}{path}: {why}"));
    let authority = endpoint
        .strip_prefix("http://")
        .ok_or_else(|| invalid("only a plain http:// emulator endpoint is supported".into()))?
        .trim_end_matches('/');
    let mut stream = TcpStream::connect(authority).map_err(|e| invalid(e.to_string()))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| invalid(e.to_string()))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| invalid(e.to_string()))?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| invalid(e.to_string()))?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| invalid("malformed answer".into()))?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(invalid(head.lines().next().unwrap_or_default().to_owned()));
    }
    serde_json::from_str(body).map_err(|e| invalid(e.to_string()))
}
