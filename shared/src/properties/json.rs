//! JSON as an attacker or a changed AWS service might send it: arbitrary documents, and
//! the sample events of `events/` with random parts replaced, removed or added, so that
//! most inputs get past the first checks of a parser.

use std::path::PathBuf;

use proptest::prelude::*;
use serde_json::{Map, Value};

/// Strings a parser may choke on, and the ones it looks for.
pub fn interesting_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>(),
        2 => prop::sample::select(vec![
            "", " ", "ALARM", "OK", "INSUFFICIENT_DATA", "AWS/ApplicationELB", "UnHealthyHostCount",
            "CloudWatch Alarm State Change", "Scheduled Event", "aws.cloudwatch", "aws.events",
            "targetgroup/web/73e2d6bc24d8a067", "targetgroup//", "targetgroup/a/b/c", "arn:", ":::::",
            "arn:aws:cloudwatch:us-east-1:123456789012:alarm:x", "arn:aws-cn:cloudwatch::::",
            "us-east-1", "123456789012", "i-0a1b2c3d4e5f60718", "i-", "incident", "inc-1",
            "open", "resolved", "escalated", "remediating", "suppressed", "2026-11-26T10:15:00Z",
            "not a date", "-1", "1e309", "NaN", "18446744073709551616", "\u{0}", "\n\r\t",
            "\u{202e}rtl", "💥",
        ])
        .prop_map(str::to_owned),
        1 => "[a-z/:.-]{0,40}",
        1 => prop::collection::vec(any::<char>(), 200..400).prop_map(|c| c.into_iter().collect()),
    ]
}

/// Object keys: mostly the ones Rebound's parsers read, sometimes anything.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "version", "id", "detail-type", "source", "account", "region", "time", "resources",
            "detail", "alarmName", "alarmArn", "alarmData", "accountId", "state", "value",
            "configuration", "metrics", "metricStat", "metric", "namespace", "name", "dimensions",
            "TargetGroup", "LoadBalancer", "Records", "eventID", "eventName", "dynamodb",
            "NewImage", "OldImage", "Keys", "SequenceNumber", "kind", "S", "N", "M", "L", "BOOL",
            "NULL", "actions", "evidence", "targets", "timeline", "resource", "type",
        ])
        .prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

pub fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite numbers only", |f| {
            serde_json::Number::from_f64(f).map(Value::Number)
        }),
        interesting_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..8)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// One change to a document: the path picks a node (each step an index into the
/// children of the node reached so far, modulo their number).
#[derive(Debug, Clone)]
pub enum Mutation {
    Replace(Vec<usize>, Value),
    Remove(Vec<usize>),
    Insert(Vec<usize>, String, Value),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let path = || prop::collection::vec(any::<usize>(), 0..7);
    prop_oneof![
        3 => (path(), arbitrary_json()).prop_map(|(p, v)| Mutation::Replace(p, v)),
        2 => path().prop_map(Mutation::Remove),
        1 => (path(), key(), arbitrary_json()).prop_map(|(p, k, v)| Mutation::Insert(p, k, v)),
    ]
}

fn child_mut(value: &mut Value, step: usize) -> Option<&mut Value> {
    match value {
        Value::Array(items) if !items.is_empty() => {
            let n = items.len();
            items.get_mut(step % n)
        }
        Value::Object(map) if !map.is_empty() => {
            let n = map.len();
            map.values_mut().nth(step % n)
        }
        _ => None,
    }
}

fn node_mut<'a>(mut value: &'a mut Value, path: &[usize]) -> &'a mut Value {
    for &step in path {
        let has_child = matches!(&*value, Value::Array(a) if !a.is_empty())
            || matches!(&*value, Value::Object(m) if !m.is_empty());
        if !has_child {
            break;
        }
        // allow: property test (the module is cfg(test)): a panic is how a case fails
        value = child_mut(value, step).expect("checked above: the node has children");
    }
    value
}

pub fn apply(document: &mut Value, mutation: Mutation) {
    match mutation {
        Mutation::Replace(path, replacement) => *node_mut(document, &path) = replacement,
        Mutation::Remove(path) => {
            let Some((&last, parent)) = path.split_last() else {
                *document = Value::Null;
                return;
            };
            match node_mut(document, parent) {
                Value::Array(items) if !items.is_empty() => {
                    let n = items.len();
                    items.remove(last % n);
                }
                Value::Object(map) if !map.is_empty() => {
                    let n = map.len();
                    if let Some(key) = map.keys().nth(last % n).cloned() {
                        map.remove(&key);
                    }
                }
                other => *other = Value::Null,
            }
        }
        Mutation::Insert(path, key, value) => match node_mut(document, &path) {
            Value::Object(map) => {
                map.insert(key, value);
            }
            Value::Array(items) => items.push(value),
            other => *other = value,
        },
    }
}

/// The sample events of one function, as `events/<function>/*.json` holds them.
pub fn samples(function: &str) -> Vec<Value> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(function);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        // allow: property test (the module is cfg(test)): a panic is how a case fails
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no sample events in {}", dir.display());
    paths
        .iter()
        .map(|p| {
            let text =
                std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect()
}

/// A sample event with a few random mutations.
pub fn mutated(samples: Vec<Value>) -> impl Strategy<Value = Value> {
    (0..samples.len(), prop::collection::vec(mutation(), 0..5)).prop_map(
        move |(index, mutations)| {
            let mut document = samples[index].clone();
            for m in mutations {
                apply(&mut document, m);
            }
            document
        },
    )
}

/// What the parsers of one function's events get: mostly mutated samples, sometimes
/// anything at all.
pub fn events_for(function: &str) -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => mutated(samples(function)),
        1 => arbitrary_json(),
    ]
}

#[test]
fn a_mutation_reaches_nested_nodes_and_leaves_the_rest() {
    let mut document = serde_json::json!({"a": {"b": [1, 2, 3]}, "c": true});
    apply(&mut document, Mutation::Remove(vec![0, 0, 1]));
    assert_eq!(document, serde_json::json!({"a": {"b": [1, 3]}, "c": true}));
    apply(&mut document, Mutation::Replace(vec![1], Value::Null));
    assert_eq!(document, serde_json::json!({"a": {"b": [1, 3]}, "c": null}));
    apply(
        &mut document,
        Mutation::Insert(vec![0], "d".into(), Value::from(5)),
    );
    assert_eq!(document["a"]["d"], 5);
}
