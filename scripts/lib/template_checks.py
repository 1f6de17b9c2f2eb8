#!/usr/bin/env python3
"""Checks on how Rebound is deployed and watched, run by scripts/lint-template.

    .venv/bin/python scripts/lib/template_checks.py [-v]

Each test is one point of "operating Rebound in a real account" that a linter cannot
see: samconfig.toml keeps enforce across redeploys, build and deploy agree on the
architecture, one alarm change invokes target-health once, every function and rule is
watched by an alarm that can reach the operations topic, the dashboard and the heartbeat
use metrics the code really emits, the README's `sam local invoke` steps name things that
exist, and the gates themselves catch what they are for. Offline: templates are
transformed locally (scripts/lib/sam_transform.py), the stack for the env-vars file is
faked with moto.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from typing import Any, Iterator

REPO_ROOT = Path(__file__).resolve().parents[2]
LIB = REPO_ROOT / "scripts" / "lib"
sys.path.insert(0, str(LIB))
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import sam_env_vars  # noqa: E402
import sam_transform  # noqa: E402

TEMPLATE = REPO_ROOT / "template.yaml"
VENV_BIN = Path(sys.executable).parent
ALARM = "AWS::CloudWatch::Alarm"

# What the sweep schedule's allowed values mean for the heartbeat alarm's period.
SCHEDULE_SECONDS = {
    "rate(1 minute)": 60,
    "rate(2 minutes)": 120,
    "rate(5 minutes)": 300,
    "rate(10 minutes)": 600,
    "rate(15 minutes)": 900,
    "rate(30 minutes)": 1800,
    "rate(1 hour)": 3600,
}


def source() -> dict[str, Any]:
    return sam_env_vars.load_template(TEMPLATE)


_TRANSFORMED: dict[str, Any] | None = None


def transformed() -> dict[str, Any]:
    global _TRANSFORMED
    if _TRANSFORMED is None:
        _TRANSFORMED = sam_transform.transform(TEMPLATE, "us-east-1")
    return _TRANSFORMED


def resources(template: dict[str, Any], kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") == kind:
            yield logical_id, resource.get("Properties") or {}


def alarms(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return list(resources(template, ALARM))


def dimension(alarm: dict[str, Any], name: str) -> Any:
    return next((d["Value"] for d in alarm.get("Dimensions", []) if d["Name"] == name), None)


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def alarms_on(template: dict[str, Any], namespace: str, metric: str) -> list[dict[str, Any]]:
    return [
        a for _, a in alarms(template) if a.get("Namespace") == namespace and a.get("MetricName") == metric
    ]


def evaluate_conditions(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, bool]:
    """The template's conditions for these parameter values."""
    return sam_env_vars.condition_values(template, parameters)


def resolve_if(expr: Any, conditions: dict[str, bool]) -> Any:
    while isinstance(expr, dict) and "Fn::If" in expr:
        name, yes, no = expr["Fn::If"]
        expr = yes if conditions[name] else no
    return expr


def emitted_metric_names() -> set[str]:
    """Every EMF metric name the Rust code emits, read from its source: literal names in
    `Metric::count("…")` / `Metric::seconds("…")`, and constants used there."""
    names: set[str] = set()
    literal = re.compile(r'Metric::(?:count|seconds)\(\s*"([A-Za-z]+)"')
    constant_use = re.compile(r"Metric::(?:count|seconds)\(\s*([A-Z][A-Z_]+)\b")
    constants: dict[str, str] = {}
    used: set[str] = set()
    for path in (REPO_ROOT / "shared" / "src").rglob("*.rs"):
        text = path.read_text()
        names.update(literal.findall(text))
        used.update(constant_use.findall(text))
        constants.update(re.findall(r'const ([A-Z][A-Z_]+): &str = "([A-Za-z]+)";', text))
    names.update(constants[c] for c in used if c in constants)
    return names


def samconfig() -> Any:
    from samcli.lib.config.samconfig import SamConfig

    return SamConfig(str(REPO_ROOT), "samconfig.toml")


def overrides(text: str | None) -> dict[str, str]:
    """SAM's parameter_overrides string, `Key=Value Key2="a b"`."""
    if not text:
        return {}
    return dict(re.findall(r'([A-Za-z0-9]+)=("[^"]*"|\S+)', text))


class DeployWithoutTraps(unittest.TestCase):
    def test_a_plain_redeploy_sends_no_parameter_so_enforce_survives(self):
        config = samconfig()
        deploy = config.get_all(["deploy"], "parameters", env="default")
        self.assertNotIn("parameter_overrides", deploy, "a plain `sam deploy` would reset parameters")
        self.assertEqual(overrides(config.get_all(["deploy"], "parameters", env="prod").get("parameter_overrides")),
                         {"Mode": "enforce"})
        self.assertEqual(overrides(config.get_all(["deploy"], "parameters", env="staging").get("parameter_overrides")),
                         {"Mode": "dry-run"})
        for env in ("default", "staging", "prod"):
            self.assertIn("stack_name", config.get_all(["deploy"], "parameters", env=env), env)
        stacks = {config.get_all(["deploy"], "parameters", env=e)["stack_name"] for e in ("default", "staging", "prod")}
        self.assertEqual(len(stacks), 3, "each environment deploys its own stack")

    def test_the_readme_deploy_commands_keep_what_the_readme_says(self):
        # Each `sam deploy` command of the README, through SAM CLI's own code: its
        # samconfig reader, its --parameter-overrides parser, and the function that turns
        # overrides into the change set's parameters (UsePreviousValue for the rest).
        from samcli.cli.types import CfnParameterOverridesType
        from samcli.commands.deploy.deploy_context import DeployContext

        readme = (REPO_ROOT / "README.md").read_text().replace("\\\n", " ")
        # A value read from the shell, $(aws cloudformation …), is one word.
        readme = re.sub(r"\$\([^)]*\)", "from-the-shell", readme)
        commands = [c.strip() for line in re.findall(r"^(?:sam build && )?(sam deploy.*)$", readme, re.M)
                    for c in [line.split(" #")[0]]]
        self.assertTrue(commands, "the README's sam deploy commands")
        commands.append("sam deploy")  # the default environment, in the README's table
        template, config = source(), samconfig()
        sent: dict[str, dict[str, Any]] = {}
        for command in commands:
            words = command.split()
            self.assertNotIn("--guided", words, "the README must not send people to --guided")
            env = words[words.index("--config-env") + 1] if "--config-env" in words else "default"
            if "--parameter-overrides" in words:
                given = words[words.index("--parameter-overrides") + 1:]
                given = given[: next((i for i, w in enumerate(given) if w.startswith("--")), len(given))]
                chosen = CfnParameterOverridesType().convert(given, None, None)
            else:
                chosen = overrides(config.get_all(["deploy"], "parameters", env=env).get("parameter_overrides"))
            change_set = DeployContext.merge_parameters(template, chosen)
            sent[command] = {p["ParameterKey"]: p.get("ParameterValue", "kept") for p in change_set}
        expected_mode = {"sam deploy": "kept", "sam deploy --config-env staging": "dry-run",
                         "sam deploy --config-env prod": "enforce"}
        for command, mode in expected_mode.items():
            if command in sent:
                self.assertEqual(sent[command]["Mode"], mode, command)
                self.assertEqual(sent[command]["TargetGroupFullName"], "kept", command)
        self.assertIn("sam deploy --config-env staging", sent, "the README's staging redeploy")
        self.assertIn("sam deploy --config-env prod", sent, "the README's prod redeploy")
        first = [c for c in sent if "--parameter-overrides" in c]
        self.assertTrue(first, "the README's first deploy")
        for command in first:
            self.assertIn(sent[command]["Mode"], {"dry-run", "enforce"}, "a first deploy names its mode")

    def test_samconfig_names_only_template_parameters_and_never_the_sample_alarm(self):
        # SAM drops an override that names no template parameter without a word.
        known = set(source()["Parameters"])
        config = samconfig()
        for env in ("default", "staging", "prod"):
            for command in (["deploy"], ["local", "invoke"], ["build"]):
                params = config.get_all(command, "parameters", env=env)
                for name in overrides(params.get("parameter_overrides")):
                    self.assertIn(name, known, f"[{env}] {' '.join(command)} overrides unknown {name}")
                    self.assertNotIn(name, {"TargetGroupFullName", "LoadBalancerFullName"},
                                     f"[{env}] pins the sample alarm's {name}")

    def test_build_and_deploy_cannot_disagree_on_the_architecture(self):
        template = source()
        self.assertNotIn("Architecture", template["Parameters"], "a parameter lets build and deploy differ")
        self.assertEqual(template["Globals"]["Function"]["Architectures"], ["arm64"])
        for logical_id, props in resources(template, "AWS::Serverless::Function"):
            self.assertNotIn("Architectures", props, f"{logical_id} overrides the one architecture")

    def test_an_alarm_change_invokes_target_health_once(self):
        # The AlarmStateChange rule matches every UnHealthyHostCount alarm; an alarm that
        # also has the function as its action would invoke it twice.
        template = source()
        function_refs = [{"Fn::GetAtt": ["TargetHealthFunction", "Arn"]}, ref("TargetHealthFunction")]
        for logical_id, alarm in alarms(template):
            if alarm.get("MetricName") == "UnHealthyHostCount":
                for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
                    for action in alarm.get(key, []):
                        self.assertNotIn(action, function_refs, f"{logical_id}.{key} invokes target-health")

    def test_no_iam_policy_grants_a_nonexistent_transaction_action(self):
        text = json.dumps(transformed())
        self.assertNotIn("TransactWriteItems", text)

    def test_the_pinned_sam_cli_builds_rust_without_beta_flags(self):
        pins = dict(re.findall(r"^([A-Za-z0-9_.\[\]-]+)==([0-9.]+)", (REPO_ROOT / "requirements-dev.txt").read_text(), re.M))
        version = tuple(int(p) for p in pins["aws-sam-cli"].split("."))
        self.assertGreaterEqual(version, (1, 156, 0))
        config = samconfig()
        self.assertNotIn("beta_features", config.get_all(["build"], "parameters", env="default"))

    def test_the_readme_states_the_sam_version_and_the_arm64_target(self):
        readme = (REPO_ROOT / "README.md").read_text()
        self.assertTrue("rustup target add aarch64-unknown-linux-gnu" in readme, "the arm64 target step")
        self.assertTrue(re.search(r"SAM CLI.{0,40}(≥|>=) ?1\.156", readme), "the SAM CLI version needed")


class SamLocalInvoke(unittest.TestCase):
    def test_the_env_vars_file_gives_every_declared_variable_its_deployed_value(self):
        from moto import mock_aws
        import boto3

        template = source()
        fake = {
            "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
            "Parameters": {name: {"Type": "String", "Default": str(p.get("Default", ""))}
                           for name, p in template["Parameters"].items()},
            "Outputs": {name: {"Value": f"deployed-{name}"} for name in template["Outputs"]},
        }
        with mock_aws():
            cloudformation = boto3.client("cloudformation", region_name="us-east-1")
            cloudformation.create_stack(
                StackName="rebound-test", TemplateBody=json.dumps(fake),
                Parameters=[{"ParameterKey": "Mode", "ParameterValue": "enforce"},
                            {"ParameterKey": "ManagedTagKey", "ParameterValue": "team:heal"}],
            )
            parameters, outputs = sam_env_vars.stack_description("rebound-test", cloudformation)
        env_vars = sam_env_vars.resolve(template, parameters, outputs)
        functions = dict(resources(template, "AWS::Serverless::Function"))
        self.assertEqual(set(env_vars), set(functions), "keys are the functions' logical ids")
        declared = sam_env_vars.function_variables(template)
        for function, env in env_vars.items():
            self.assertEqual(set(env), set(declared[function]), f"{function}: only declared variables count")
            unset = {n for n, v in env.items() if v == ""}
            self.assertLessEqual(unset, {"CHATBOT_TOPIC_ARN", "APPROVAL_MODES"}, f"{function}: only optional variables may be empty")
            self.assertEqual(env["INCIDENTS_TABLE"], "deployed-IncidentsTableName")
            self.assertEqual(env["NOTIFY_TOPIC_ARN"], "deployed-NotificationsTopicArn")
        self.assertEqual(env_vars["TargetHealthFunction"]["MODE"], "dry-run", "never enforce with your own credentials")
        self.assertEqual(env_vars["TargetHealthFunction"]["MANAGED_TAG_KEY"], "team:heal")
        self.assertEqual(env_vars["IncidentNotifierFunction"]["FAILED_NOTIFICATIONS_QUEUE_URL"],
                         "deployed-FailedNotificationsQueueUrl")

    def test_sam_local_invoke_accepts_the_readme_commands_up_to_the_container(self):
        # No container runtime here: SAM reads the template, the event and the env-vars
        # file, then stops at the container. A malformed env-vars file fails before that.
        template = source()
        outputs = {name: f"deployed-{name}" for name in template["Outputs"]}
        parameters = {name: str(p.get("Default", "")) for name, p in template["Parameters"].items()}
        env_vars = sam_env_vars.resolve(template, parameters, outputs)
        readme = (REPO_ROOT / "README.md").read_text()
        invokes = re.findall(r"^(sam local invoke .*)$", readme, re.M)
        self.assertTrue(invokes)
        env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "DOCKER_HOST": "unix:///nonexistent/docker.sock",
               "AWS_DEFAULT_REGION": "us-east-1"}
        with tempfile.TemporaryDirectory() as tmp:
            good = Path(tmp) / "sam-env.json"
            good.write_text(json.dumps(env_vars))
            bad = Path(tmp) / "bad.json"
            bad.write_text("{not json")
            for command in invokes:
                for env_file, expected in ((good, "container runtime"), (bad, "Could not read environment variables")):
                    words = command.replace(".rebound/sam-env.json", str(env_file)).split()
                    run = subprocess.run([str(VENV_BIN / "sam"), *words[1:], "--template", str(TEMPLATE)],
                                         capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=120)
                    self.assertIn(expected, run.stdout + run.stderr, f"{command} with {env_file.name}")

    def test_a_variable_without_an_output_is_an_error_not_a_placeholder(self):
        template = source()
        template["Outputs"].pop("IncidentsTableName")
        with self.assertRaises(sam_env_vars.ResolveError):
            sam_env_vars.resolve(template, {}, {})

    def test_the_readme_invokes_existing_functions_and_events_with_the_env_vars_file(self):
        readme = (REPO_ROOT / "README.md").read_text()
        invokes = re.findall(r"^sam local invoke (\S+) -e (\S+) --env-vars (\S+)", readme, re.M)
        self.assertGreaterEqual(len(invokes), 2, "the README's sam local invoke examples")
        functions = dict(resources(source(), "AWS::Serverless::Function"))
        for function, event, env_file in invokes:
            self.assertIn(function, functions)
            self.assertTrue((REPO_ROOT / event).is_file(), event)
            self.assertEqual(env_file, ".rebound/sam-env.json")
        self.assertTrue("scripts/sam-env-vars" in readme, "the README says how to write the file")

    def test_the_pinned_sam_cli_has_the_flags_the_readme_uses(self):
        help_text = subprocess.run(
            [str(VENV_BIN / "sam"), "local", "invoke", "--help"],
            capture_output=True, text=True, check=True, env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        ).stdout
        for flag in ("--env-vars", "--event", "--config-env", "--profile", "--region", "--docker-network"):
            self.assertIn(flag, help_text)


class WatchTheWatcher(unittest.TestCase):
    def test_every_function_has_errors_and_throttles_alarms(self):
        template = source()
        for logical_id, _ in resources(template, "AWS::Serverless::Function"):
            for metric in ("Errors", "Throttles"):
                watching = [a for a in alarms_on(template, "AWS/Lambda", metric)
                            if dimension(a, "FunctionName") == ref(logical_id)]
                self.assertTrue(watching, f"no {metric} alarm on {logical_id}")

    def test_every_rule_has_failed_invocations_and_dead_letter_alarms(self):
        cfn = transformed()
        rules = [logical_id for logical_id, _ in resources(cfn, "AWS::Events::Rule")]
        self.assertGreaterEqual(len(rules), 2)
        for rule in rules:
            for metric in ("FailedInvocations", "InvocationsSentToDlq"):
                watching = [a for a in alarms_on(cfn, "AWS/Events", metric) if dimension(a, "RuleName") == ref(rule)]
                self.assertTrue(watching, f"no {metric} alarm on rule {rule}")

    def test_dead_letters_and_stream_lag_are_watched(self):
        template = source()
        queues = [dimension(a, "QueueName") for a in alarms_on(template, "AWS/SQS", "ApproximateNumberOfMessagesVisible")]
        self.assertIn({"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}, queues)
        self.assertIn({"Fn::GetAtt": ["FailedNotificationsQueue", "QueueName"]}, queues)
        cfn = transformed()
        stream_functions = {
            props["FunctionName"]["Ref"]
            for _, props in resources(cfn, "AWS::Lambda::EventSourceMapping")
            if "StreamArn" in json.dumps(props.get("EventSourceArn"))
        }
        self.assertTrue(stream_functions)
        for function in stream_functions:
            lag = [a for a in alarms_on(cfn, "AWS/Lambda", "IteratorAge") if dimension(a, "FunctionName") == ref(function)]
            self.assertTrue(lag, f"no IteratorAge alarm on {function}")

    def test_the_heartbeat_alarm_fires_after_three_sweep_periods_of_silence(self):
        """One heartbeat per function that sweeps, each on its own schedule's period."""
        template = source()
        beats = alarms_on(template, "Rebound", "SweepsCompleted")
        watched = {dimension(beat, "FunctionName")["Ref"]: beat for beat in beats}
        sweeping = sorted(
            logical_id
            for logical_id, props in resources(template, "AWS::Serverless::Function")
            if "Sweep" in props.get("Events", {})
        )
        self.assertEqual(sorted(watched), sweeping)
        allowed = template["Parameters"]["SweepSchedule"]["AllowedValues"]
        self.assertEqual(set(allowed), set(SCHEDULE_SECONDS))
        for function, beat in watched.items():
            self.assertEqual(beat["TreatMissingData"], "breaching", "silence is the failure")
            self.assertEqual(beat["ComparisonOperator"], "LessThanThreshold")
            self.assertEqual((beat["EvaluationPeriods"], beat["DatapointsToAlarm"]), (3, 3))
            for schedule in allowed:
                conditions = evaluate_conditions(template, {"SweepSchedule": schedule})
                self.assertEqual(resolve_if(beat["Period"], conditions), SCHEDULE_SECONDS[schedule], schedule)
            sweep = template["Resources"][function]["Properties"]["Events"]["Sweep"]["Properties"]
            self.assertEqual(sweep["Schedule"], ref("SweepSchedule"), function)

    def test_alarms_notify_an_operations_topic_cloudwatch_can_publish_to(self):
        template = source()
        for logical_id, alarm in alarms(template):
            if logical_id == "SampleUnhealthyHostsAlarm":
                continue  # the sample of what Rebound watches, not an alarm on Rebound
            self.assertEqual(alarm.get("AlarmActions"), [ref("OperationsTopic")], logical_id)
        topic = template["Resources"]["OperationsTopic"]["Properties"]
        key_id = topic["KmsMasterKeyId"]["Ref"]
        key = template["Resources"][key_id]
        self.assertEqual(key["Type"], "AWS::KMS::Key")
        grants = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
                  if s.get("Principal", {}).get("Service") == "cloudwatch.amazonaws.com"]
        self.assertTrue(grants, "the key policy must let CloudWatch use the key")
        actions = set(grants[0]["Action"])
        self.assertTrue({"kms:Decrypt", "kms:GenerateDataKey*"} <= actions)
        # The incidents topic's AWS managed key is no place for alarms.
        self.assertEqual(template["Resources"]["NotificationsTopic"]["Properties"]["KmsMasterKeyId"], "alias/aws/sns")

    def test_alarms_and_dashboard_use_metrics_the_code_emits(self):
        template = source()
        emitted = emitted_metric_names()
        self.assertIn("SweepsCompleted", emitted)
        for logical_id, alarm in alarms(template):
            if alarm.get("Namespace") == "Rebound":
                self.assertIn(alarm["MetricName"], emitted, logical_id)
                self.assertIsNotNone(dimension(alarm, "Function"), logical_id)
        body = json.dumps(template["Resources"]["Dashboard"]["Properties"]["DashboardBody"])
        for name in re.findall(r'\\"Rebound\\", \\"([A-Za-z]+)\\"', body):
            self.assertIn(name, emitted)

    def test_the_dashboard_shows_what_the_issue_asks_for(self):
        body_sub = source()["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
        body = json.loads(re.sub(r"\$\{[^}]+\}", "x", body_sub))
        text = json.dumps(body)
        for needed in ("IncidentsOpened", "IncidentsEscalated", "ActionsTaken", "ActionsRefused", "TimeToRecoverSeconds",
                       "\"Errors\"", "\"Duration\"", "ApproximateNumberOfMessagesVisible",
                       "stats count(*) as refusals by guard"):
            self.assertIn(needed, text)

    def test_log_groups_have_a_retention_and_go_with_the_stack(self):
        template = source()
        self.assertEqual(template["Parameters"]["LogRetentionDays"]["Default"], 30)
        for logical_id, props in resources(template, "AWS::Serverless::Function"):
            group_ref = props.get("LoggingConfig", {}).get("LogGroup")
            self.assertIsInstance(group_ref, dict, f"{logical_id} logs to a group of its own making")
            group = template["Resources"][group_ref["Ref"]]
            self.assertEqual(group["Type"], "AWS::Logs::LogGroup")
            self.assertEqual(group["Properties"]["RetentionInDays"], ref("LogRetentionDays"))
            self.assertEqual(group.get("DeletionPolicy"), "Delete")

    def test_no_function_reserves_concurrency_by_default(self):
        # Lambda keeps 100 unreserved executions per account, so an account whose limit
        # is still 10 refuses any reservation: a first deploy with the defaults must not
        # make one. A reservation is a parameter whose 0 leaves the property out.
        template = source()
        self.assertNotIn("ReservedConcurrentExecutions", template["Globals"]["Function"])
        defaults = evaluate_conditions(template, {})
        for logical_id, props in resources(template, "AWS::Serverless::Function"):
            reserved = props.get("ReservedConcurrentExecutions")
            if reserved is None:
                continue
            self.assertEqual(resolve_if(reserved, defaults), ref("AWS::NoValue"), logical_id)
            parameter = resolve_if(reserved, {name: True for name in defaults})["Ref"]
            self.assertEqual(template["Parameters"][parameter]["Default"], 0, parameter)
            self.assertEqual(template["Parameters"][parameter]["MinValue"], 0, parameter)
            self.assertEqual(resolve_if(reserved, evaluate_conditions(template, {parameter: "0"})),
                             ref("AWS::NoValue"), f"{parameter}=0")
            self.assertEqual(resolve_if(reserved, evaluate_conditions(template, {parameter: "10"})),
                             ref(parameter), f"{parameter}=10 reserves 10")

    def test_target_health_can_still_cap_its_concurrency(self):
        # Where the account allows it, a ceiling keeps an alarm storm from spending the
        # account's Auto Scaling and ELB API rate.
        template = source()
        props = template["Resources"]["TargetHealthFunction"]["Properties"]
        conditions = evaluate_conditions(template, {"TargetHealthReservedConcurrency": "10"})
        self.assertEqual(resolve_if(props["ReservedConcurrentExecutions"], conditions),
                         ref("TargetHealthReservedConcurrency"))

    def test_async_events_live_as_long_as_the_rules_retry_them(self):
        checked = 0
        for logical_id, props in resources(source(), "AWS::Serverless::Function"):
            if "EventInvokeConfig" not in props:
                continue
            age = props["EventInvokeConfig"].get("MaximumEventAgeInSeconds")
            self.assertIsNotNone(age, f"{logical_id}: no MaximumEventAgeInSeconds")
            for name, event in props["Events"].items():
                retry = event["Properties"].get("RetryPolicy")
                self.assertIsNotNone(retry, f"{logical_id}.{name}")
                self.assertEqual(retry["MaximumEventAgeInSeconds"], age, f"{logical_id}.{name}")
            checked += 1
        self.assertGreaterEqual(checked, 1)

    def test_failed_stream_batches_are_kept_whole_in_s3(self):
        cfn = transformed()
        for _, props in resources(cfn, "AWS::Lambda::EventSourceMapping"):
            destination = props["DestinationConfig"]["OnFailure"]["Destination"]
            bucket = destination["Fn::GetAtt"][0]
            self.assertEqual(cfn["Resources"][bucket]["Type"], "AWS::S3::Bucket")
        policies = json.dumps([p for _, p in resources(cfn, "AWS::IAM::Role")])
        self.assertIn("s3:PutObject", policies)


def doc_texts() -> dict[str, str]:
    """README.md and the book's chapters, by path."""
    paths = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs" / "src").glob("*.md"))]
    return {str(p.relative_to(REPO_ROOT)): p.read_text() for p in paths}


class OperatorDocs(unittest.TestCase):
    """What the operations review found missing or stale in the docs (issue 17)."""

    def test_the_docs_say_how_to_install_the_cli_they_use(self):
        import tomllib

        cli = tomllib.loads((REPO_ROOT / "cli" / "Cargo.toml").read_text())
        self.assertEqual(cli["package"]["name"], "rebound-cli")
        self.assertIn("rebound", [b["name"] for b in cli.get("bin", [])])
        docs = doc_texts()
        self.assertIn("cargo install --path cli", docs["README.md"], "the quickstart runs rebound")
        self.assertIn("cargo install --path cli", docs["docs/src/operator-view.md"])

    def test_the_docs_say_what_an_arm64_local_invoke_needs_on_x86_64(self):
        if source()["Globals"]["Function"]["Architectures"] != ["arm64"]:
            self.skipTest("the functions are not arm64")
        docs = doc_texts()
        self.assertIn("tonistiigi/binfmt --install arm64", docs["docs/src/deploy.md"])
        self.assertIn("deploy.md#an-arm64-function-on-an-x86_64-machine", docs["README.md"],
                      "the README's sam local invoke step points there")

    def test_no_doc_sends_failed_stream_batches_to_the_dead_letter_queue(self):
        # They go to StreamFailuresBucket (test_failed_stream_batches_are_kept_whole_in_s3):
        # a sentence naming batches and the dead-letter queue must say otherwise ("instead
        # of", "not", "never", "no longer").
        dead_letters = re.compile(r"DeadLetterQueue|dead-letter queue|dead letter queue", re.I)
        negation = re.compile(r"\b(instead of|not|never|no longer)\b", re.I)
        for path, text in doc_texts().items():
            for sentence in re.split(r"(?<=[.;!?])\s+", re.sub(r"\s+", " ", text)):
                if re.search(r"\bbatch(es)?\b", sentence, re.I) and dead_letters.search(sentence):
                    self.assertRegex(sentence, negation, f"{path}: {sentence}")
        self.assertIn("StreamFailuresBucket", doc_texts()["docs/src/notifications.md"])


class PythonTools(unittest.TestCase):
    """What scripts/test, scripts/demo and scripts/sam-env-vars install must install
    anywhere they run (macOS included): the benchmark's own needs stay apart."""

    REQUIREMENTS = ("requirements-dev.txt", "requirements-checkov.txt", "requirements-bench.txt")
    BENCH_ONLY = "awslambdaric"  # the Python baseline's runtime client: no macOS wheel

    @staticmethod
    def pins(name: str) -> dict[str, str]:
        return dict(re.findall(r"^([A-Za-z0-9_.\[\]-]+)==(\S+)", (REPO_ROOT / name).read_text(), re.M))

    def test_every_requirements_file_pins_every_package(self):
        for name in self.REQUIREMENTS:
            for line in (REPO_ROOT / name).read_text().splitlines():
                requirement = line.split("#", 1)[0].strip()
                if requirement:
                    self.assertRegex(requirement, r"^[A-Za-z0-9_.\[\]-]+==[0-9][0-9A-Za-z.]*$", f"{name}: {line}")

    def test_the_bench_runtime_client_is_installed_by_scripts_bench_alone(self):
        self.assertNotIn(self.BENCH_ONLY, self.pins("requirements-dev.txt"))
        self.assertIn(self.BENCH_ONLY, self.pins("requirements-bench.txt"))
        self.assertIn("bench_venv_ensure", (REPO_ROOT / "scripts" / "bench").read_text())
        # Nothing scripts/test, scripts/demo or scripts/sam-env-vars run uses it.
        run = [REPO_ROOT / "scripts" / name for name in ("test", "demo", "sam-env-vars", "lint-template",
                                                         "lint-example", "docs")]
        run += [p for p in (REPO_ROOT / "scripts" / "lib").glob("*.py") if p.resolve() != Path(__file__).resolve()]
        run += list((REPO_ROOT / "emulator").glob("*.py"))
        for crate in ("shared", "cli", "functions", "tests"):
            run += list((REPO_ROOT / crate).rglob("*.rs"))
        for path in run:
            self.assertNotIn(self.BENCH_ONLY, path.read_text(), str(path.relative_to(REPO_ROOT)))


class Gates(unittest.TestCase):
    def test_every_checkov_skip_has_its_reason(self):
        lines = (REPO_ROOT / ".checkov.yaml").read_text().splitlines()
        start = lines.index("skip-check:")
        previous = ""
        skips = 0
        for line in lines[start + 1:]:
            if not line.startswith(" "):
                break
            stripped = line.strip()
            if stripped.startswith("- "):
                check_id = stripped[2:].strip()
                self.assertRegex(previous, rf"^# {re.escape(check_id)} \(.+\): \S", f"{check_id} needs a reason")
                skips += 1
            elif stripped:
                previous = stripped
        self.assertGreater(skips, 0)

    def test_cfn_lint_on_the_transformed_template_catches_an_iam_action_typo(self):
        # The source template passes cfn-lint with such a typo: SAM's Policies are not
        # checked as IAM until transformed.
        text = TEMPLATE.read_text().replace(
            "                - dynamodb:Query\n",
            "                - dynamodb:Query\n                - dynamodb:TransactWriteItems\n",
            1,
        )
        self.assertIn("TransactWriteItems", text)
        with tempfile.TemporaryDirectory() as tmp:
            broken = Path(tmp) / "template.yaml"
            broken.write_text(text)
            out = Path(tmp) / "transformed.json"
            out.write_text(json.dumps(sam_transform.transform(broken, "us-east-1")))
            lint = subprocess.run([str(VENV_BIN / "cfn-lint"), str(out)], capture_output=True, text=True)
        self.assertNotEqual(lint.returncode, 0)
        self.assertIn("transactwriteitems", lint.stdout.lower())


if __name__ == "__main__":
    unittest.main()
