//! template.yaml against the code: every function it deploys is one Rebound declares
//! (`rebound::functions::DEPLOYED`), built from the binary of that name; each receives
//! every environment variable its configuration reads, from a parameter whose range is
//! the one the code accepts; and each function that sweeps has its heartbeat alarm. A
//! variable added to a function's configuration fails this test until the template
//! passes it (the drift that once left rds-health without RECOVERY_TIMEOUT_SECONDS).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use rebound::config::Shape;
use rebound::functions::DEPLOYED;
use rebound_tests::{python, repo_root};
use serde_json::Value;

/// template.yaml as CloudFormation reads it (its short-form tags expanded), through
/// cfn-lint's own loader.
fn template() -> Value {
    let output = Command::new(python())
        .args([
            "-c",
            "import json, sys\nfrom cfnlint.decode import cfn_yaml\nprint(json.dumps(cfn_yaml.load(sys.argv[1])))",
        ])
        .arg(repo_root().join("template.yaml"))
        .output()
        .expect("run the project's Python");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the template as JSON")
}

fn variables(environment: &Value) -> BTreeMap<String, Value> {
    environment["Variables"]
        .as_object()
        .map(|vars| vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

#[test]
fn every_deployed_function_is_one_rebound_declares_built_from_its_binary() {
    let template = template();
    let resources = template["Resources"].as_object().unwrap();
    let in_template: BTreeSet<&str> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(id, _)| id.as_str())
        .collect();
    let declared: BTreeSet<&str> = DEPLOYED.iter().map(|f| f.logical_id).collect();
    assert_eq!(in_template, declared);
    for function in DEPLOYED {
        let binary = &resources[function.logical_id]["Metadata"]["BuildProperties"]["Binary"];
        assert_eq!(binary, function.name, "{}", function.logical_id);
        assert!(
            repo_root().join("functions").join(function.name).is_dir(),
            "functions/{}",
            function.name
        );
    }
}

#[test]
fn every_function_receives_every_variable_its_configuration_reads() {
    let template = template();
    let globals = variables(&template["Globals"]["Function"]["Environment"]);
    let mut missing = Vec::new();
    for function in DEPLOYED {
        let resource = &template["Resources"][function.logical_id];
        let mut passed = globals.clone();
        passed.extend(variables(&resource["Properties"]["Environment"]));
        for variable in function.reads() {
            if !passed.contains_key(variable.name) {
                missing.push(format!(
                    "{} does not pass {}",
                    function.logical_id, variable.name
                ));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn every_parameter_a_variable_comes_from_allows_exactly_what_the_code_accepts() {
    let template = template();
    let parameters = template["Parameters"].as_object().unwrap();
    let globals = variables(&template["Globals"]["Function"]["Environment"]);
    let mut disagreements = Vec::new();
    for function in DEPLOYED {
        let resource = &template["Resources"][function.logical_id];
        let mut passed = globals.clone();
        passed.extend(variables(&resource["Properties"]["Environment"]));
        for variable in function.reads() {
            let Some(name) = passed.get(variable.name).and_then(|v| v["Ref"].as_str()) else {
                continue;
            };
            let Some(parameter) = parameters.get(name) else {
                continue; // a resource's reference (a table, a topic), not a parameter
            };
            match variable.shape {
                Shape::Number { min, max, .. } => {
                    let (low, high) = (
                        parameter["MinValue"].as_u64(),
                        parameter["MaxValue"].as_u64(),
                    );
                    if (low, high) != (Some(min), Some(max)) {
                        disagreements.push(format!(
                            "{name}: MinValue/MaxValue {low:?}/{high:?}, {} accepts {min}–{max}",
                            variable.name
                        ));
                    }
                }
                Shape::Choice { options, .. } => {
                    let allowed: Vec<&str> = parameter["AllowedValues"]
                        .as_array()
                        .map(|a| a.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    if allowed.is_empty() || allowed.iter().any(|a| !options.contains(a)) {
                        disagreements.push(format!(
                            "{name}: AllowedValues {allowed:?}, {} accepts {options:?}",
                            variable.name
                        ));
                    }
                }
                Shape::Text { .. } => {}
            }
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[test]
fn every_function_that_sweeps_has_its_heartbeat_alarm() {
    let template = template();
    let resources = template["Resources"].as_object().unwrap();
    for function in DEPLOYED.iter().filter(|f| f.sweeps) {
        let watched = resources.values().any(|r| {
            r["Type"] == "AWS::CloudWatch::Alarm"
                && r["Properties"]["MetricName"] == "SweepsCompleted"
                && r["Properties"]["Dimensions"]
                    .as_array()
                    .is_some_and(|dims| {
                        dims.iter()
                            .any(|d| d["Name"] == "Function" && d["Value"] == function.name)
                    })
                && r["Properties"]["TreatMissingData"] == "breaching"
        });
        assert!(
            watched,
            "no heartbeat alarm watches {}'s sweeps",
            function.name
        );
    }
}
