//! Logs and metrics. Logs go through `tracing`: JSON when Lambda asks for it
//! (`AWS_LAMBDA_LOG_FORMAT=JSON`), readable text on a terminal. Metrics are CloudWatch
//! Embedded Metric Format lines (stdout in Lambda): CloudWatch Logs turns them into metrics, so
//! a function never spends an API call (or latency) on PutMetricData.

use std::io::Write;

use serde_json::{json, Map, Value};

pub const METRICS_NAMESPACE: &str = "Rebound";

/// Installs the global subscriber once; later calls are no-ops (tests call it freely).
pub fn init() {
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let filter = tracing_subscriber::EnvFilter::try_from_env("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // Lambda adds its own timestamp and request id to every line.
    let installed = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .without_time()
            .try_init()
    } else {
        builder.with_target(false).try_init()
    };
    drop(installed);
}

/// One metric value with its unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub value: f64,
    pub unit: &'static str,
}

impl Metric {
    pub fn count(name: &'static str, value: usize) -> Self {
        Self {
            name,
            value: value as f64,
            unit: "Count",
        }
    }

    /// A duration in whole seconds, e.g. an incident's time to recover.
    pub fn seconds(name: &'static str, value: i64) -> Self {
        Self {
            name,
            value: value as f64,
            unit: "Seconds",
        }
    }
}

/// Builds an EMF document. `dimensions` become one dimension set.
pub fn emf_line(timestamp_ms: i64, dimensions: &[(&str, &str)], metrics: &[Metric]) -> Value {
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": METRICS_NAMESPACE,
                "Dimensions": [dimensions.iter().map(|(k, _)| *k).collect::<Vec<_>>()],
                "Metrics": metrics.iter().map(|m| json!({"Name": m.name, "Unit": m.unit})).collect::<Vec<_>>(),
            }],
        }),
    );
    for (key, value) in dimensions {
        root.insert((*key).into(), Value::String((*value).into()));
    }
    for metric in metrics {
        root.insert(metric.name.into(), json!(metric.value));
    }
    Value::Object(root)
}

/// Writes the metrics as one EMF line on stdout. Zero counts are left out and an empty
/// set is skipped; a zero measurement (a 0 s time to recover) is a value, kept.
pub fn emit(dimensions: &[(&str, &str)], metrics: &[Metric]) {
    let metrics: Vec<Metric> = metrics.iter().copied().filter(worth_emitting).collect();
    if metrics.is_empty() {
        return;
    }
    let function_name = lambda_function_name();
    let dimensions = with_function_name(dimensions, function_name.as_deref());
    let line = emf_line(chrono::Utc::now().timestamp_millis(), &dimensions, &metrics);
    // A metric line that cannot be written is not worth failing an invocation for.
    if in_lambda() {
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    } else {
        // Outside Lambda (the CLI, tests) stdout carries the command's own output.
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}

/// A zero count says nothing; a zero measurement (a 0 s time to recover) is a value.
fn worth_emitting(metric: &Metric) -> bool {
    metric.value != 0.0 || metric.unit != "Count"
}

/// In Lambda, every metric also carries the deployed function's own name
/// (`FunctionName`), so two stacks in one account (staging and prod) keep separate
/// metrics, and a stack's alarms (the sweep heartbeat above all) watch only its own
/// function: one stack's sweeps must not hide that another's stopped.
pub fn with_function_name<'a>(
    dimensions: &[(&'a str, &'a str)],
    function_name: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut all = dimensions.to_vec();
    if let Some(name) = function_name {
        all.push(("FunctionName", name));
    }
    all
}

fn lambda_function_name() -> Option<String> {
    std::env::var("AWS_LAMBDA_FUNCTION_NAME")
        .ok()
        .filter(|n| !n.is_empty())
}

fn in_lambda() -> bool {
    static IN_LAMBDA: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *IN_LAMBDA.get_or_init(|| std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_lambda_metrics_are_kept_apart_per_deployed_function() {
        let dims = with_function_name(
            &[("Function", "target-health")],
            Some("rebound-prod-TargetHealthFunction-x1"),
        );
        let line = emf_line(0, &dims, &[Metric::count("SweepsCompleted", 1)]);
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0],
            serde_json::json!(["Function", "FunctionName"])
        );
        assert_eq!(line["FunctionName"], "rebound-prod-TargetHealthFunction-x1");
        assert_eq!(
            with_function_name(&[("Function", "target-health")], None),
            vec![("Function", "target-health")]
        );
    }

    #[test]
    fn a_zero_measurement_is_kept_and_a_zero_count_is_not() {
        assert!(worth_emitting(&Metric::seconds("TimeToRecover", 0)));
        assert!(!worth_emitting(&Metric::count("ActionsTaken", 0)));
        assert!(worth_emitting(&Metric::count("ActionsTaken", 1)));
    }

    #[test]
    fn an_emf_line_declares_each_metric_and_carries_its_value() {
        let line = emf_line(
            1_700_000_000_000,
            &[("Function", "target-health")],
            &[
                Metric::count("IncidentsOpened", 1),
                Metric::count("ActionsTaken", 2),
            ],
        );
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Rebound");
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0],
            "Function"
        );
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Metrics"][1]["Name"],
            "ActionsTaken"
        );
        assert_eq!(line["Function"], "target-health");
        assert_eq!(line["ActionsTaken"], 2.0);
    }
}
