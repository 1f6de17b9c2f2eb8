//! Logs and metrics. Logs go through `tracing`: JSON when Lambda asks for it
//! (`AWS_LAMBDA_LOG_FORMAT=JSON`), readable text on a terminal. Metrics are CloudWatch
//! Embedded Metric Format lines (stdout in Lambda): CloudWatch Logs turns them into metrics, so
//! a function never spends an API call (or latency) on PutMetricData.

use std::io::Write;

use serde_json::{json, Map, Value};

pub const METRICS_NAMESPACE: &str = "Rebound";

/// Installs the global subscriber once; later calls are no-ops (tests call it freely).
pub fn init() {
    use tracing_subscriber::prelude::*;

    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let filter = log_filter(
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
        std::env::var("RUST_LOG").ok().as_deref(),
    );
    // Lambda adds its own timestamp and request id to every line.
    let installed = if json {
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .without_time();
        tracing_subscriber::registry()
            .with(layer)
            .with(filter)
            .try_init()
    } else {
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_target(false);
        tracing_subscriber::registry()
            .with(layer)
            .with(filter)
            .try_init()
    };
    drop(installed);
}

/// What gets logged: Lambda's own log level (`AWS_LAMBDA_LOG_LEVEL`, set by the
/// function's logging configuration) first, then `RUST_LOG` directives
/// (`target=level,…`, without span or field filters), else `info`. An unreadable value
/// falls through to the next source: logging never stops a function from starting.
///
/// `Targets` rather than `EnvFilter`: the same directives for what Rebound uses, without
/// the regex engine EnvFilter brings (~0.4 MB of every zip).
pub fn log_filter(
    lambda_level: Option<&str>,
    rust_log: Option<&str>,
) -> tracing_subscriber::filter::Targets {
    use tracing_subscriber::filter::{LevelFilter, Targets};

    // An empty value is unset (tracing would read "" as ERROR).
    let lambda = lambda_level
        .map(str::trim)
        .filter(|level| !level.is_empty())
        .and_then(|level| {
            // Lambda's levels are TRACE … ERROR and FATAL, which tracing has not.
            let level = if level.eq_ignore_ascii_case("fatal") {
                "error"
            } else {
                level
            };
            level.parse::<LevelFilter>().ok()
        });
    if let Some(level) = lambda {
        return Targets::new().with_default(level);
    }
    rust_log
        .map(str::trim)
        .filter(|directives| !directives.is_empty())
        .and_then(|directives| directives.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

/// A metric and the values one invocation reports for it, with their unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    /// One value for a count; one per event for a distribution (CloudWatch keeps each,
    /// so averages and percentiles are right). Empty: nothing to report.
    pub values: Vec<f64>,
    pub unit: &'static str,
}

/// EMF carries at most this many values of one metric per line.
pub const MAX_VALUES_PER_LINE: usize = 100;

impl Metric {
    /// A count; zero reports nothing (CloudWatch then shows no data, not a zero line).
    pub fn count(name: &'static str, value: usize) -> Self {
        Self {
            name,
            values: if value == 0 {
                vec![]
            } else {
                vec![value as f64]
            },
            unit: "Count",
        }
    }

    /// One value per event, in seconds: zero is a value like any other.
    pub fn seconds(name: &'static str, values: impl IntoIterator<Item = i64>) -> Self {
        Self {
            name,
            values: values.into_iter().map(|v| v as f64).collect(),
            unit: "Seconds",
        }
    }
}

/// Builds an EMF document. `dimensions` become one dimension set; a metric with one
/// value carries it as a number, with several as an array.
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
        let value = match metric.values.as_slice() {
            [one] => json!(one),
            many => json!(many),
        };
        root.insert(metric.name.into(), value);
    }
    Value::Object(root)
}

/// The EMF lines for these metrics: metrics without values are left out, and one with
/// more than [`MAX_VALUES_PER_LINE`] values is spread over several lines.
pub fn emf_lines(timestamp_ms: i64, dimensions: &[(&str, &str)], metrics: &[Metric]) -> Vec<Value> {
    let mut lines = Vec::new();
    for chunk in 0.. {
        let part: Vec<Metric> = metrics
            .iter()
            .filter_map(|m| {
                let values: Vec<f64> = m.values.chunks(MAX_VALUES_PER_LINE).nth(chunk)?.to_vec();
                Some(Metric {
                    values,
                    ..m.clone()
                })
            })
            .collect();
        if part.is_empty() {
            break;
        }
        lines.push(emf_line(timestamp_ms, dimensions, &part));
    }
    lines
}

/// Writes the metrics as EMF lines on stdout; nothing when no metric has a value.
pub fn emit(dimensions: &[(&str, &str)], metrics: &[Metric]) {
    let function_name = lambda_function_name();
    let dimensions = with_function_name(dimensions, function_name.as_deref());
    for line in emf_lines(chrono::Utc::now().timestamp_millis(), &dimensions, metrics) {
        #[cfg(any(test, feature = "test-util"))]
        if capture::keep(&line) {
            continue;
        }
        // A metric line that cannot be written is not worth failing an invocation for.
        if in_lambda() {
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        } else {
            // Outside Lambda (the CLI, tests) stdout carries the command's own output.
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }
}

/// For tests: the metric lines emitted on this thread while a [`Capture`] lives (a
/// handler awaited on a current-thread runtime emits on the test's thread).
#[cfg(any(test, feature = "test-util"))]
pub mod capture {
    use std::cell::RefCell;

    use serde_json::Value;

    thread_local! {
        static LINES: RefCell<Option<Vec<Value>>> = const { RefCell::new(None) };
    }

    pub(super) fn keep(line: &Value) -> bool {
        LINES.with(|lines| match lines.borrow_mut().as_mut() {
            Some(lines) => {
                lines.push(line.clone());
                true
            }
            None => false,
        })
    }

    /// Captures this thread's metric lines until dropped.
    pub struct Capture(());

    pub fn start() -> Capture {
        LINES.with(|lines| *lines.borrow_mut() = Some(Vec::new()));
        Capture(())
    }

    impl Capture {
        /// The lines so far.
        pub fn lines(&self) -> Vec<Value> {
            LINES.with(|lines| lines.borrow().clone().unwrap_or_default())
        }

        /// Every value of `metric` across the lines so far, in order.
        pub fn values(&self, metric: &str) -> Vec<f64> {
            self.lines()
                .iter()
                .flat_map(|line| match &line[metric] {
                    Value::Number(n) => n.as_f64().into_iter().collect::<Vec<_>>(),
                    Value::Array(values) => values.iter().filter_map(Value::as_f64).collect(),
                    _ => Vec::new(),
                })
                .collect()
        }
    }

    impl Drop for Capture {
        fn drop(&mut self) {
            LINES.with(|lines| *lines.borrow_mut() = None);
        }
    }
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
    use tracing::Level;

    #[test]
    fn lambdas_log_level_comes_first_and_fatal_means_errors_only() {
        let filter = log_filter(Some("DEBUG"), Some("warn"));
        assert!(filter.would_enable("rebound::workflow", &Level::DEBUG));
        assert!(!filter.would_enable("rebound::workflow", &Level::TRACE));

        let fatal = log_filter(Some("FATAL"), None);
        assert!(fatal.would_enable("rebound", &Level::ERROR));
        assert!(!fatal.would_enable("rebound", &Level::WARN));
    }

    #[test]
    fn rust_log_directives_apply_per_target_when_lambda_sets_no_level() {
        let filter = log_filter(None, Some("warn,rebound=debug"));
        assert!(filter.would_enable("rebound::aws", &Level::DEBUG));
        assert!(!filter.would_enable("aws_smithy_runtime", &Level::INFO));
        assert!(filter.would_enable("aws_smithy_runtime", &Level::WARN));
    }

    #[test]
    fn an_unreadable_level_falls_back_to_info_instead_of_failing() {
        for filter in [
            log_filter(Some("loud"), None),
            log_filter(Some(""), Some("rebound=loud")),
            log_filter(None, None),
        ] {
            assert!(filter.would_enable("rebound", &Level::INFO), "{filter:?}");
            assert!(!filter.would_enable("rebound", &Level::DEBUG));
        }
    }

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

    #[test]
    fn a_distribution_carries_every_value_and_its_unit() {
        let line = emf_line(
            1_700_000_000_000,
            &[("Function", "target-health")],
            &[Metric::seconds("TimeToRecoverSeconds", [184, 0, 65])],
        );
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0],
            json!({"Name": "TimeToRecoverSeconds", "Unit": "Seconds"})
        );
        assert_eq!(line["TimeToRecoverSeconds"], json!([184.0, 0.0, 65.0]));
    }

    #[test]
    fn metrics_without_values_are_left_out_and_a_zero_count_reports_nothing() {
        let lines = emf_lines(
            0,
            &[],
            &[
                Metric::count("IncidentsOpened", 0),
                Metric::seconds("TimeToRecoverSeconds", []),
            ],
        );
        assert!(lines.is_empty());
        let lines = emf_lines(
            0,
            &[],
            &[
                Metric::count("IncidentsOpened", 0),
                Metric::seconds("TimeToRecoverSeconds", [0]),
            ],
        );
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["TimeToRecoverSeconds"], 0.0);
        assert!(lines[0].get("IncidentsOpened").is_none());
    }

    #[test]
    fn more_than_a_hundred_values_are_spread_over_several_lines() {
        let lines = emf_lines(
            0,
            &[("Function", "target-health")],
            &[
                Metric::count("IncidentsEscalated", 3),
                Metric::seconds("TimeToRecoverSeconds", 0..250),
            ],
        );
        assert_eq!(lines.len(), 3);
        let sizes: Vec<usize> = lines
            .iter()
            .map(|l| l["TimeToRecoverSeconds"].as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, [100, 100, 50]);
        assert_eq!(lines[0]["IncidentsEscalated"], 3.0);
        assert!(lines[1].get("IncidentsEscalated").is_none(), "counted once");
    }
}
