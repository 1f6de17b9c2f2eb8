//! What the fuzz targets share: a small account to handle events against, and the
//! checks every answer must pass. A failed check panics, which libFuzzer reports as a
//! crash with the input that caused it.

use std::collections::BTreeMap;

use rebound::config::{Mode, Settings};
use rebound::fakes::{FakeFleet, MemoryStore, ParkedNotifications, RecordingNotifier};
use rebound::ids::{AutoScalingGroupName, InstanceId, TargetGroupArn};
use rebound::kinds::target_group::observation::{
    GroupInstance, ScalingGroup, TargetHealth, TargetState,
};
use rebound::kinds::target_group::Policy;
use rebound::notifier::{NotifierHandler, MAX_MESSAGE_BYTES, MAX_SUBJECT_CHARS};
use rebound::ports::Notification;

/// The target group the sample events in `events/target-health/` name.
pub const SAMPLE_TARGET_GROUP: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/rebound-demo-web/73e2d6bc24d8a067";

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime builds"); // allow: fuzz harness setup; a runtime that cannot build is no input to report
}

pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    RUNTIME.with(|rt| rt.block_on(future))
}

pub type Handler = rebound::fakes::TargetHealthFunction;

/// The sample target group: four instances of a managed group, the first failing.
pub fn sample_account(mode: Mode) -> (FakeFleet, MemoryStore, Handler) {
    let fleet = FakeFleet::default();
    let store = MemoryStore::default();
    let tg = TargetGroupArn::parse(SAMPLE_TARGET_GROUP).expect("a valid ARN"); // allow: a constant sample ARN
    let id = |n: u32| InstanceId::parse(format!("i-{n:04x}")).expect("a valid id"); // allow: ids built from a format that is always valid
    fleet.set_targets(
        &tg,
        (0..4)
            .map(|n| TargetHealth {
                instance_id: id(n),
                port: Some(80),
                state: if n == 0 {
                    TargetState::Unhealthy
                } else {
                    TargetState::Healthy
                },
                reason: (n == 0).then(|| "Target.FailedHealthChecks".to_owned()),
                description: None,
            })
            .collect(),
    );
    fleet.add_group(ScalingGroup {
        name: AutoScalingGroupName::parse("rebound-demo-web-asg").expect("a valid name"), // allow: a constant group name
        tags: BTreeMap::from([("rebound:managed".to_owned(), "true".to_owned())]),
        suspended_processes: vec![],
        instances: (0..4)
            .map(|n| GroupInstance {
                instance_id: id(n),
                lifecycle_state: "InService".into(),
                health_status: "Healthy".into(),
                availability_zone: None,
            })
            .collect(),
        target_group_arns: vec![tg],
        instance_refresh_in_progress: false,
        desired_capacity: 4,
        health_check_grace_period_s: 0,
        launch_template: None,
        arn: None,
        max_size: 100,
        zonal_shift_enabled: false,
        health_check_type: "EC2".into(),
    });
    let policy = Policy {
        settings: Settings {
            mode,
            ..Settings::default()
        },
        ..Policy::default()
    };
    let handler = rebound::fakes::target_health(&fleet, &store, policy);
    (fleet, store, handler)
}

pub fn notifier() -> (
    NotifierHandler<RecordingNotifier, ParkedNotifications>,
    RecordingNotifier,
) {
    let published = RecordingNotifier::default();
    (
        NotifierHandler::new(published.clone(), Some(ParkedNotifications::default())),
        published,
    )
}

/// What SNS accepts: a one-line subject under 100 characters, a message under 256 KB.
pub fn assert_within_sns_limits(message: &Notification) {
    assert!(
        message.subject.chars().count() <= MAX_SUBJECT_CHARS,
        "subject too long"
    );
    assert!(
        !message.subject.chars().any(char::is_control),
        "subject not one line"
    );
    let size = message.message_by_protocol().len();
    assert!(size <= MAX_MESSAGE_BYTES, "message of {size} bytes");
}

// ------------------------------------------------------------------ structured inputs

/// Reads choices from the fuzzer's bytes; once they run out every choice is 0.
pub struct Choices<'a> {
    bytes: &'a [u8],
}

impl<'a> Choices<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    pub fn byte(&mut self) -> u8 {
        match self.bytes.split_first() {
            Some((&first, rest)) => {
                self.bytes = rest;
                first
            }
            None => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn below(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n.max(1)
    }

    fn u64(&mut self) -> u64 {
        (0..8).fold(0, |acc, _| (acc << 8) | u64::from(self.byte()))
    }

    fn string(&mut self) -> String {
        const WORDS: [&str; 24] = [
            "",
            "ALARM",
            "OK",
            "AWS/ApplicationELB",
            "UnHealthyHostCount",
            "aws.cloudwatch",
            "aws.events",
            "Scheduled Event",
            "CloudWatch Alarm State Change",
            "targetgroup/rebound-demo-web/73e2d6bc24d8a067",
            "targetgroup//",
            "arn:aws:::::",
            "us-east-1",
            "123456789012",
            "i-0a1b2c3d4e5f60718",
            "incident",
            "open",
            "resolved",
            "escalated",
            "2026-11-26T10:15:00Z",
            "18446744073709551616",
            "\u{0}\n",
            "💥",
            "NaN",
        ];
        if self.byte() % 2 == 0 {
            WORDS[self.below(WORDS.len())].to_owned()
        } else {
            let len = self.below(48);
            let raw: Vec<u8> = (0..len).map(|_| self.byte()).collect();
            String::from_utf8_lossy(&raw).into_owned()
        }
    }

    /// A JSON value, at most `depth` levels deep.
    pub fn value(&mut self, depth: u8) -> serde_json::Value {
        use serde_json::Value;
        match self.byte() % if depth == 0 { 5 } else { 7 } {
            0 => Value::Null,
            1 => Value::Bool(self.byte() % 2 == 0),
            2 => Value::from(self.u64() as i64),
            3 => serde_json::Number::from_f64(f64::from_bits(self.u64()))
                .map_or(Value::Null, Value::Number),
            4 => Value::String(self.string()),
            5 => Value::Array((0..self.below(4)).map(|_| self.value(depth - 1)).collect()),
            _ => Value::Object(
                (0..self.below(4))
                    .map(|_| (self.string(), self.value(depth - 1)))
                    .collect(),
            ),
        }
    }
}

fn node_mut<'v>(
    mut value: &'v mut serde_json::Value,
    choices: &mut Choices<'_>,
) -> &'v mut serde_json::Value {
    use serde_json::Value;
    for _ in 0..choices.below(7) {
        let children = match &*value {
            Value::Array(items) => items.len(),
            Value::Object(map) => map.len(),
            _ => 0,
        };
        if children == 0 {
            break;
        }
        let index = usize::from(choices.byte()) % children;
        value = match value {
            Value::Array(items) => &mut items[index],
            Value::Object(map) => map.values_mut().nth(index).expect("index below len"), // allow: index is taken modulo the map's length above
            _ => unreachable!("only arrays and objects have children"),
        };
    }
    value
}

/// One of `samples` with mutations chosen by the fuzzer's bytes: most inputs stay close
/// to a real event's shape, so they reach past the first check of a parser.
pub fn mutated_sample(samples: &[&str], choices: &mut Choices<'_>) -> serde_json::Value {
    use serde_json::Value;
    let mut document: Value = serde_json::from_str(samples[choices.below(samples.len())])
        .expect("a sample event is JSON"); // allow: the samples are the repo's own events/ files, checked JSON
    for _ in 0..choices.below(6) {
        if choices.is_empty() {
            break;
        }
        match choices.byte() % 4 {
            0 => *node_mut(&mut document, choices) = choices.value(2),
            1 => {
                let node = node_mut(&mut document, choices);
                match node {
                    Value::Object(map) if !map.is_empty() => {
                        let n = map.len();
                        let key = map
                            .keys()
                            .nth(choices.below(n))
                            .cloned()
                            .expect("index below len"); // allow: index is taken modulo the length above
                        map.remove(&key);
                    }
                    Value::Array(items) if !items.is_empty() => {
                        let n = items.len();
                        items.remove(choices.below(n));
                    }
                    other => *other = Value::Null,
                }
            }
            2 => {
                if let Value::Object(map) = node_mut(&mut document, choices) {
                    let key = choices.string();
                    map.insert(key, choices.value(2));
                }
            }
            _ => *node_mut(&mut document, choices) = Value::String(choices.string()),
        }
    }
    document
}

/// The input as JSON: raw bytes when the first byte is even (anything at all, most of it
/// not JSON), a mutated sample when it is odd.
pub fn json_input(data: &[u8], samples: &[&str]) -> Option<serde_json::Value> {
    let (&mode, rest) = data.split_first()?;
    if mode % 2 == 0 {
        serde_json::from_slice(rest).ok()
    } else {
        Some(mutated_sample(samples, &mut Choices::new(rest)))
    }
}

pub const TARGET_HEALTH_SAMPLES: [&str; 5] = [
    include_str!("../../events/target-health/alarm-state-change.json"),
    include_str!("../../events/target-health/alarm-state-change-ok.json"),
    include_str!("../../events/target-health/alarm-action.json"),
    include_str!("../../events/target-health/scheduled-sweep.json"),
    include_str!("../../events/target-health/alarm-other-metric.json"),
];

pub const STREAM_SAMPLES: [&str; 2] = [
    include_str!("../../events/incident-notifier/stream-incident-opened.json"),
    include_str!("../../events/incident-notifier/stream-incident-resolved.json"),
];

// ------------------------------------------------------------------------- tallies

/// How far inputs got, per stage, written every 1,000 inputs (and the first) as JSON
/// to the file `REBOUND_FUZZ_STATS` names: libFuzzer counts inputs, not how many of
/// them were events at all.
pub struct Tally {
    names: &'static [&'static str],
    counts: Vec<std::sync::atomic::AtomicU64>,
}

impl Tally {
    pub fn new(names: &'static [&'static str]) -> Self {
        Self {
            names,
            counts: names
                .iter()
                .map(|_| std::sync::atomic::AtomicU64::new(0))
                .collect(),
        }
    }

    /// Counts one input at `stage` (an index into the names). Stage 0 is "inputs".
    pub fn hit(&self, stage: usize) {
        use std::sync::atomic::Ordering;
        let n = self.counts[stage].fetch_add(1, Ordering::Relaxed) + 1;
        if stage == 0 && (n == 1 || n % 1_000 == 0) {
            self.write();
        }
    }

    fn write(&self) {
        use std::sync::atomic::Ordering;
        let Some(path) = std::env::var_os("REBOUND_FUZZ_STATS") else {
            return;
        };
        let map: serde_json::Map<String, serde_json::Value> = self
            .names
            .iter()
            .zip(&self.counts)
            .map(|(name, count)| ((*name).to_owned(), count.load(Ordering::Relaxed).into()))
            .collect();
        let _ = std::fs::write(path, serde_json::Value::Object(map).to_string());
    }
}
