#!/usr/bin/env python3
"""The template's EventBridge rules, tested as EventBridge matches them; run by
scripts/lint-template.

    .venv/bin/python scripts/lib/event_pattern_checks.py [-v]

The matcher is scripts/lib/event_patterns.py (moto's does not handle arrays of objects,
and the alarm rules match inside `detail.configuration.metrics`, an array). The data is
scripts/lib/testdata/eventbridge/ (its README says what each part is for). What is
checked, for every rule in template.yaml (a function's SAM `Events:` of type
EventBridgeRule or CloudWatchEvent, and every AWS::Events::Rule with an EventPattern)
and every function with a `BuildProperties.Binary`, whose samples are events/<binary>/:

- the matcher gives the documented answers (testdata/eventbridge/matcher-cases.json);
- every pattern is one EventBridge accepts, and the rules read here are the ones the SAM
  transform deploys;
- every sample that EventBridge delivers (a direct EventBridge event other than the
  schedule's; samples shaped as SNS records, alarm action payloads, schedules and stream
  records reach the function another way) matches one of its function's rules, unless
  not-delivered.json says it is there to be ignored, in which case it matches none;
- every rule matches one sample of its function, so each rule has a sample;
- no rule matches a real event of testdata/eventbridge/unmatched/ (other namespaces,
  metrics, detail types, a composite alarm, RDS events of other source types);
- a stream function's event source filter lets every record of its samples through, and
  not the bookkeeping items or TTL deletions its comment says it drops.

Whether EventBridge may take two fields of one pattern from two elements of one array is
the one point the sources disagree on (see event_patterns.py): a sample must match with
array-consistent matching, and a negative must not match even with flattened matching,
so each check holds whichever EventBridge does. A new function with its own rules and
events/<binary>/ folder is covered as it is; nothing here names a function.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import unittest
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "scripts" / "lib"))
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import event_patterns  # noqa: E402
import sam_env_vars  # noqa: E402  (the CloudFormation-aware YAML loader)
import sam_transform  # noqa: E402

TEMPLATE = REPO_ROOT / "template.yaml"
EVENTS = REPO_ROOT / "events"
TESTDATA = REPO_ROOT / "scripts" / "lib" / "testdata" / "eventbridge"
RULE_EVENT_TYPES = ("EventBridgeRule", "CloudWatchEvent")

# How a sample reaches its function, by its shape (as shared/src/trigger.rs reads them).
EVENTBRIDGE = "EventBridge event"
SCHEDULE = "EventBridge schedule"
ALARM_ACTION = "alarm action payload"
KNOWN_SHAPES = {EVENTBRIDGE, SCHEDULE, ALARM_ACTION, "SNS records", "DynamoDB stream records",
                "SQS records", "Kinesis records"}
RECORD_SOURCES = {"aws:sns": "SNS records", "aws:dynamodb": "DynamoDB stream records",
                  "aws:sqs": "SQS records", "aws:kinesis": "Kinesis records"}


def shape(event: Any) -> str:
    if not isinstance(event, dict):
        return "not a JSON object"
    records = event.get("Records")
    if isinstance(records, list) and records:
        sources = {r.get("EventSource") or r.get("eventSource") for r in records if isinstance(r, dict)}
        if len(sources) == 1 and next(iter(sources)) in RECORD_SOURCES:
            return RECORD_SOURCES[next(iter(sources))]
        return f"records of {sorted(map(str, sources))}"
    if "alarmData" in event and "alarmArn" in event:
        return ALARM_ACTION
    if {"detail-type", "source", "detail"} <= event.keys():
        if event["source"] == "aws.events" and event["detail-type"] == "Scheduled Event":
            return SCHEDULE
        return EVENTBRIDGE
    return "unknown"


@dataclass
class Rule:
    name: str
    pattern: dict[str, Any]
    targets: list[str]  # logical ids of the resources it delivers to

    def __str__(self) -> str:
        return f"{self.name}: " + " OR ".join(event_patterns.describe(self.pattern))


def resolve(value: Any, template: dict[str, Any], where: str) -> Any:
    """A pattern with its parameter references replaced by their defaults; any other
    intrinsic function is an error (the pattern could not be evaluated here)."""
    if isinstance(value, list):
        return [resolve(v, template, where) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" and arg in template.get("Parameters", {}):
                return template["Parameters"][arg].get("Default")
            if key == "Ref" or key.startswith("Fn::"):
                raise AssertionError(f"{where}: the pattern uses {key} {arg!r}, which this check cannot evaluate")
        return {k: resolve(v, template, where) for k, v in value.items()}
    return value


def pattern_of(value: Any, template: dict[str, Any], where: str) -> dict[str, Any]:
    if isinstance(value, str):
        value = json.loads(value)
    return resolve(value, template, where)


def target_id(arn: Any) -> str | None:
    if isinstance(arn, dict) and "Fn::GetAtt" in arn:
        att = arn["Fn::GetAtt"]
        return (att.split(".", 1) if isinstance(att, str) else att)[0]
    if isinstance(arn, dict) and "Ref" in arn:
        return arn["Ref"]
    return None


def rules(template: dict[str, Any]) -> list[Rule]:
    found: list[Rule] = []
    for logical_id, resource in template.get("Resources", {}).items():
        props = resource.get("Properties") or {}
        for name, event in (props.get("Events") or {}).items():
            if event.get("Type") in RULE_EVENT_TYPES:
                where = f"{logical_id}.Events.{name}"
                found.append(Rule(where, pattern_of(event["Properties"]["Pattern"], template, where), [logical_id]))
        if resource.get("Type") == "AWS::Events::Rule" and "EventPattern" in props:
            targets = [t for t in (target_id(x.get("Arn")) for x in props.get("Targets", [])) if t]
            found.append(Rule(logical_id, pattern_of(props["EventPattern"], template, logical_id), targets))
    return found


def binaries(template: dict[str, Any]) -> dict[str, str]:
    """Function logical id -> its binary name, the name of its folder in events/."""
    return {
        logical_id: resource["Metadata"]["BuildProperties"]["Binary"]
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == "AWS::Serverless::Function"
        and (resource.get("Metadata") or {}).get("BuildProperties", {}).get("Binary")
    }


def samples(binary: str) -> Iterator[tuple[str, Any]]:
    folder = EVENTS / binary
    for path in sorted(folder.glob("*.json")):
        yield str(path.relative_to(REPO_ROOT)), json.loads(path.read_text())


def load(path: Path) -> Any:
    return json.loads(path.read_text())


class MatcherFollowsTheDocs(unittest.TestCase):
    def test_each_documented_case_has_its_documented_answer(self):
        cases = load(TESTDATA / "matcher-cases.json")["cases"]
        self.assertGreater(len(cases), 0)
        for case in cases:
            with self.subTest(case["name"]):
                self.assertTrue(case.get("doc"), "each case says where its answer comes from")
                if case.get("error"):
                    with self.assertRaises(event_patterns.PatternError):
                        event_patterns.validate(case["pattern"])
                    continue
                expected = case["matches"]
                self.assertEqual(event_patterns.matches(case["pattern"], case["event"]), expected, "array-consistent")
                flattened = case.get("matches_flattened", expected)
                self.assertEqual(event_patterns.matches(case["pattern"], case["event"], array_consistent=False),
                                 flattened, "flattened")

    def test_the_cases_cover_every_operator_arrays_of_objects_and_exists_false(self):
        text = (TESTDATA / "matcher-cases.json").read_text()
        for operator in (*event_patterns.OPERATORS, "$or", '"exists": false', "matches_flattened"):
            self.assertIn(operator, text)

    def test_a_pattern_given_as_json_text_is_the_same_pattern(self):
        event = {"source": "aws.rds", "detail": {"EventID": "RDS-EVENT-0049"}}
        self.assertTrue(event_patterns.matches('{"detail": {"EventID": [{"prefix": "RDS-EVENT-00"}]}}', event))
        with self.assertRaises(event_patterns.PatternError):
            event_patterns.validate("{not json")


class TemplateRulesDeliverTheirEvents(unittest.TestCase):
    template: dict[str, Any]
    rules: list[Rule]
    binaries: dict[str, str]

    @classmethod
    def setUpClass(cls) -> None:
        cls.template = sam_env_vars.load_template(TEMPLATE)
        cls.rules = rules(cls.template)
        cls.binaries = binaries(cls.template)

    def rules_of(self, function: str) -> list[Rule]:
        return [r for r in self.rules if function in r.targets]

    def test_the_template_has_rules_and_every_pattern_is_valid(self):
        self.assertGreaterEqual(len(self.rules), 1, "no EventBridge rule found: is the discovery broken?")
        for rule in self.rules:
            with self.subTest(rule.name):
                event_patterns.validate(rule.pattern)

    def test_the_rules_read_here_are_the_rules_sam_deploys(self):
        deployed = sam_transform.transform(TEMPLATE, "us-east-1")
        expected = sorted((json.dumps(r.pattern, sort_keys=True), sorted(r.targets)) for r in rules(deployed))
        found = sorted((json.dumps(r.pattern, sort_keys=True), sorted(r.targets)) for r in self.rules)
        self.assertEqual(found, expected)

    def test_every_function_with_rules_has_a_binary_and_samples(self):
        for rule in self.rules:
            for target in rule.targets:
                if self.template["Resources"].get(target, {}).get("Type") != "AWS::Serverless::Function":
                    continue
                with self.subTest(rule.name):
                    self.assertIn(target, self.binaries, f"{target}: no BuildProperties.Binary, so no events/ folder")
                    self.assertTrue((EVENTS / self.binaries[target]).is_dir(), f"events/{self.binaries[target]}/")

    def test_every_sample_has_a_shape_its_function_can_be_sent(self):
        for function, binary in self.binaries.items():
            for path, event in samples(binary):
                with self.subTest(path):
                    self.assertIn(shape(event), KNOWN_SHAPES, f"{path}: a sample of no known delivery shape")

    def test_every_eventbridge_sample_is_delivered_by_a_rule_of_its_function(self):
        not_delivered = load(TESTDATA / "not-delivered.json")["samples"]
        checked = 0
        for function, binary in self.binaries.items():
            function_rules = self.rules_of(function)
            for path, event in samples(binary):
                if shape(event) != EVENTBRIDGE:
                    continue
                with self.subTest(path):
                    if path in not_delivered:
                        matching = [r.name for r in function_rules
                                    if event_patterns.matches(r.pattern, event, array_consistent=False)]
                        self.assertEqual(matching, [], f"{path} is listed as not delivered "
                                                       f"({not_delivered[path]}), yet matches")
                    else:
                        self.assertTrue(
                            any(event_patterns.matches(r.pattern, event) for r in function_rules),
                            f"{path}: no rule of {function} delivers it; its rules: "
                            + ("; ".join(map(str, function_rules)) or "none")
                            + " (fix the pattern, or list the sample in not-delivered.json with why)",
                        )
                checked += 1
        self.assertGreater(checked, 0, "no EventBridge sample found in events/")

    def test_not_delivered_lists_only_eventbridge_samples_of_functions(self):
        folders = {f"events/{b}" for b in self.binaries.values()}
        for path in load(TESTDATA / "not-delivered.json")["samples"]:
            with self.subTest(path):
                self.assertTrue((REPO_ROOT / path).is_file(), path)
                self.assertIn(str(Path(path).parent), folders, "a sample of a function of the template")
                self.assertEqual(shape(load(REPO_ROOT / path)), EVENTBRIDGE)

    def test_every_rule_delivers_a_sample_of_its_function(self):
        for rule in self.rules:
            for target in rule.targets:
                if target not in self.binaries:
                    continue
                with self.subTest(rule.name):
                    delivered = [path for path, event in samples(self.binaries[target])
                                 if shape(event) == EVENTBRIDGE and event_patterns.matches(rule.pattern, event)]
                    self.assertTrue(delivered, f"{rule} matches no sample in events/{self.binaries[target]}/")

    def test_no_rule_matches_an_event_it_is_not_for(self):
        negatives = sorted((TESTDATA / "unmatched").glob("*.json"))
        self.assertGreaterEqual(len(negatives), 5)
        for path in negatives:
            event = load(path)
            with self.subTest(path.name):
                self.assertEqual(shape(event), EVENTBRIDGE, "a negative is an event EventBridge would carry")
                matching = [str(r) for r in self.rules
                            if event_patterns.matches(r.pattern, event, array_consistent=False)]
                self.assertEqual(matching, [], f"{path.name} must match no rule")


class StreamFilters(unittest.TestCase):
    """Lambda event filtering uses the same pattern language on each stream record."""

    def filters(self) -> dict[str, list[dict[str, Any]]]:
        template = sam_env_vars.load_template(TEMPLATE)
        found: dict[str, list[dict[str, Any]]] = {}
        for logical_id, resource in template["Resources"].items():
            for name, event in ((resource.get("Properties") or {}).get("Events") or {}).items():
                criteria = (event.get("Properties") or {}).get("FilterCriteria")
                if event.get("Type") in ("DynamoDB", "Kinesis", "SQS") and criteria:
                    found.setdefault(logical_id, []).extend(
                        pattern_of(f["Pattern"], template, f"{logical_id}.{name}") for f in criteria["Filters"])
        return found

    def test_every_record_of_a_stream_sample_passes_its_functions_filter(self):
        filters = self.filters()
        names = binaries(sam_env_vars.load_template(TEMPLATE))
        checked = 0
        for function, patterns in filters.items():
            for path, event in samples(names[function]):
                for index, record in enumerate(event.get("Records", [])):
                    with self.subTest(f"{path} record {index}"):
                        self.assertTrue(any(event_patterns.matches(p, record) for p in patterns))
                    checked += 1
        self.assertGreater(checked, 0)

    def test_bookkeeping_items_and_ttl_deletions_are_filtered_out(self):
        filters = self.filters()
        names = binaries(sam_env_vars.load_template(TEMPLATE))
        for function, patterns in filters.items():
            for path, event in samples(names[function]):
                if shape(event) != "DynamoDB stream records":
                    continue
                record = event["Records"][0]
                ledger = copy.deepcopy(record)
                ledger["dynamodb"]["NewImage"]["kind"] = {"S": "ledger"}
                ttl_delete = copy.deepcopy(record)
                ttl_delete["eventName"] = "REMOVE"
                ttl_delete["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
                ttl_delete["dynamodb"].pop("NewImage", None)
                ttl_delete["dynamodb"]["OldImage"] = record["dynamodb"].get("NewImage", {})
                for name, changed in (("ledger item", ledger), ("TTL deletion", ttl_delete)):
                    with self.subTest(f"{path}: {name}"):
                        self.assertFalse(any(event_patterns.matches(p, changed, array_consistent=False)
                                             for p in patterns))


if __name__ == "__main__":
    unittest.main()
