//! The HA example stack (`examples/ha-stack/template.yaml`) created in the emulator with
//! CloudFormation CreateStack, and checked for what Rebound expects of it: the opt-in,
//! dependency, RTO and failover-alarm tags, the target group wired to the group and
//! behind the load balancer with a `/health` check, a Multi-AZ database, and alarms whose
//! dimensions name the stack's own load balancer, target group, zones and database.
//!
//! moto 5.2.5's CloudFormation does not support `AWS::CloudWatch::Alarm` nor
//! `AWS::FIS::ExperimentTemplate`: it skips them with a warning and still completes the
//! stack (the README says so beside this test). The alarms are checked as declared;
//! `cfn-lint` (scripts/lint-example) checks the whole template, FIS templates included.
//! moto's CloudFormation creates the load balancer without its attributes and tags and
//! the group without its `AvailabilityZoneImpairmentPolicy`: what zonal evacuation needs
//! of them is checked as declared by scripts/lib/example_checks.py.

use std::process::Command;

use rebound::ids::TargetGroupArn;
use rebound_tests::{python, repo_root, Emulator};
use serde_json::{json, Value};

fn create_stack(emulator: &Emulator, parameters: &[&str]) -> Value {
    let mut command = Command::new(python());
    command
        .arg(repo_root().join("emulator/cfn_stack.py"))
        .args(["--endpoint", &emulator.url, "--name", "ha"])
        .args([
            "--template",
            &repo_root()
                .join("examples/ha-stack/template.yaml")
                .to_string_lossy(),
        ]);
    for parameter in parameters {
        command.args(["--parameter", parameter]);
    }
    let output = command.output().expect("run emulator/cfn_stack.py");
    assert!(
        output.status.success(),
        "cfn_stack.py failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("cfn_stack.py prints JSON")
}

#[test]
fn the_example_stack_is_created_with_what_rebound_reads() {
    let emulator = Emulator::start();
    let stack = create_stack(&emulator, &["RtoSeconds=600"]);
    assert_eq!(stack["status"], "CREATE_COMPLETE", "{stack}");

    // Only the types the emulator cannot create are missing.
    let mut skipped: Vec<&str> = stack["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    skipped.dedup();
    assert_eq!(
        skipped,
        ["AWS::CloudWatch::Alarm", "AWS::FIS::ExperimentTemplate"],
        "{}",
        stack["skipped"]
    );

    let db = &stack["db_instances"][0];
    assert_eq!(db["engine"], "postgres");
    assert_eq!(db["multi_az"], true);
    assert_eq!(db["tags"]["rebound:managed"], "true");
    assert_eq!(db["tags"]["rebound:rto-seconds"], "600");
    // The database designates its latency alarm (`<stack>-db-read-latency`) for a
    // failover: without it, the alarm would be evidence only.
    assert_eq!(db["tags"]["rebound:failover-alarms"], "ha-db-read-latency");

    let groups = stack["auto_scaling_groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    let group = &groups[0];
    assert_eq!(group["tags"]["rebound:managed"], "true");
    assert_eq!(group["tags"]["rebound:depends-on"], db["id"]);
    assert_eq!(group["tags"]["rebound:rto-seconds"], "600");
    assert_eq!(group["health_check_type"], "ELB");
    assert_eq!(group["health_check_grace_period"], 120);
    assert_eq!(group["subnets"].as_array().unwrap().len(), 2, "two zones");
    assert_eq!(group["instances"], group["desired_capacity"]);

    // The group's target group: behind the load balancer, checked on /health, every
    // instance of the group registered and healthy.
    let target_groups = stack["target_groups"].as_array().unwrap();
    assert_eq!(target_groups.len(), 1);
    let tg = &target_groups[0];
    assert_eq!(group["target_group_arns"], json!([tg["arn"]]));
    assert_eq!(tg["health_check_path"], "/health");
    assert_eq!(
        tg["load_balancer_arns"][0],
        stack["physical_ids"]["LoadBalancer"]
    );
    let targets = tg["targets"].as_array().unwrap();
    assert_eq!(targets.len() as u64, group["instances"].as_u64().unwrap());
    assert!(
        targets.iter().all(|t| t["state"] == "healthy"),
        "{targets:?}"
    );

    // The alarms Rebound is triggered by name this stack's own resources, in the
    // dimensions its trigger parsing reads.
    let alarms = &stack["template_alarms"];
    let unhealthy = &alarms["UnhealthyHostsAlarm"];
    assert_eq!(unhealthy["namespace"], "AWS/ApplicationELB");
    assert_eq!(unhealthy["metric"], "UnHealthyHostCount");
    assert_eq!(
        unhealthy["dimensions"]["TargetGroup"],
        json!({"Fn::GetAtt": ["TargetGroup", "TargetGroupFullName"]})
    );
    assert_eq!(
        unhealthy["dimensions"]["LoadBalancer"],
        json!({"Fn::GetAtt": ["LoadBalancer", "LoadBalancerFullName"]})
    );
    // One per zone of the group, on the zone's own metric: zone-health's rule delivers
    // them (the AvailabilityZone dimension), and target-health's takes them too.
    for (alarm, subnet) in [
        ("UnhealthyHostsZoneAAlarm", "PrivateSubnetA"),
        ("UnhealthyHostsZoneBAlarm", "PrivateSubnetB"),
    ] {
        let zone = &alarms[alarm];
        assert_eq!(zone["namespace"], "AWS/ApplicationELB", "{alarm}");
        assert_eq!(zone["metric"], "UnHealthyHostCount", "{alarm}");
        assert_eq!(
            zone["dimensions"],
            json!({
                "TargetGroup": {"Fn::GetAtt": ["TargetGroup", "TargetGroupFullName"]},
                "LoadBalancer": {"Fn::GetAtt": ["LoadBalancer", "LoadBalancerFullName"]},
                "AvailabilityZone": {"Fn::GetAtt": [subnet, "AvailabilityZone"]},
            }),
            "{alarm}"
        );
    }
    let database = &alarms["DatabaseLatencyAlarm"];
    assert_eq!(database["namespace"], "AWS/RDS");
    assert_eq!(
        database["dimensions"]["DBInstanceIdentifier"],
        json!({"Ref": "Database"})
    );
    // What CloudFormation resolves TargetGroupFullName to maps back to the group's
    // target group, as target-health does with an alarm's dimension.
    let arn = TargetGroupArn::parse(tg["arn"].as_str().unwrap()).unwrap();
    let from_alarm =
        TargetGroupArn::from_dimension(arn.full_name(), "us-east-1", "123456789012", "aws")
            .unwrap();
    assert_eq!(from_alarm, arn);
}

#[test]
fn without_fis_templates_the_stack_declares_none() {
    let emulator = Emulator::start();
    let stack = create_stack(&emulator, &["CreateFisTemplates=false"]);
    assert_eq!(stack["status"], "CREATE_COMPLETE", "{stack}");
    let reported: Vec<&str> = stack["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["logical_id"].as_str())
        .collect();
    assert!(!reported.contains(&"FisRole"), "{reported:?}");
    assert!(reported.contains(&"AutoScalingGroup"), "{reported:?}");
}
