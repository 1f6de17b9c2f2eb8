#!/usr/bin/env python3
"""Quick self-check of the local emulator; no pytest needed.

    .venv/bin/python emulator/selfcheck.py [--template template.yaml]

Starts server.py on a free port, provisions the stack with provision.py, and checks
every fidelity behaviour Rebound depends on (see README.md), then stops the server.
Prints one line per check and `N passed, M failed`; exits non-zero on any failure.
If the template is missing, uses a built-in copy of the incidents table definition.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
PYTHON = sys.executable

# The incidents table as DESIGN.md / template.yaml define it, for when the template
# is not there (it is written concurrently with this emulator).
FALLBACK_TEMPLATE = """\
Resources:
  IncidentsTable:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${AWS::StackName}-incidents"
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: kind, AttributeType: S}
        - {AttributeName: opened_at, AttributeType: S}
      KeySchema:
        - {AttributeName: pk, KeyType: HASH}
      GlobalSecondaryIndexes:
        - IndexName: incidents-by-time
          KeySchema:
            - {AttributeName: kind, KeyType: HASH}
            - {AttributeName: opened_at, KeyType: RANGE}
          Projection: {ProjectionType: ALL}
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
      TimeToLiveSpecification: {AttributeName: expires_at, Enabled: true}
"""


class Check:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def run(self, name: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as exc:  # report and carry on with the next check
            self.failed += 1
            print(f"FAIL {name}: {type(exc).__name__}: {exc}", flush=True)
            if os.environ.get("SELFCHECK_TRACEBACK"):
                traceback.print_exc()
        else:
            self.passed += 1
            print(f"ok   {name}", flush=True)


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


class Emulator:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [PYTHON, str(HERE / "server.py"), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.url = self._wait_for_url()
        # Drain stderr so a chatty server can never block on a full pipe.
        self.stderr: list[str] = []
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()  # type: ignore[arg-type]

    def _wait_for_url(self) -> str:
        result: dict[str, str] = {}

        def read() -> None:
            result["line"] = self.proc.stdout.readline()  # type: ignore[union-attr]

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(30)
        line = result.get("line", "")
        if not line.startswith("REBOUND_EMULATOR_URL="):
            self.proc.kill()
            raise SystemExit(f"emulator did not start: {line!r}\n{self.proc.stderr.read()}")  # type: ignore[union-attr]
        return line.strip().split("=", 1)[1]

    def stop(self) -> int | None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


def control(url: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", default=str(REPO_ROOT / "template.yaml"))
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="rebound-selfcheck.")
    template = Path(args.template)
    if not template.is_file():
        template = Path(workdir) / "template.yaml"
        template.write_text(FALLBACK_TEMPLATE)
        print(f"note: {args.template} not found; using a built-in table definition", flush=True)

    started = time.monotonic()
    emu = Emulator()
    url = emu.url
    print(f"emulator at {url} (started in {time.monotonic() - started:.1f}s)", flush=True)
    check = Check()
    try:
        run_checks(check, url, template, workdir)
    finally:
        code = emu.stop()
        check.run("server exits 0 on SIGTERM", lambda: expect(code == 0, f"exit code {code}"))
        if check.failed:
            sys.stderr.write("".join(emu.stderr[-60:]))
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"{check.passed} passed, {check.failed} failed", flush=True)
    return 1 if check.failed else 0


def run_checks(check: Check, url: str, template: Path, workdir: str) -> None:
    kw = dict(
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        # One attempt: injected faults must surface, not be retried away.
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )
    asg = boto3.client("autoscaling", **kw)
    elb = boto3.client("elbv2", **kw)
    ddb = boto3.client("dynamodb", **kw)
    sqs = boto3.client("sqs", **kw)
    sns = boto3.client("sns", **kw)
    rds = boto3.client("rds", **kw)
    ctx: dict[str, Any] = {}

    # ---- provisioning -----------------------------------------------------------------

    def provision() -> None:
        out = subprocess.run(
            [PYTHON, str(HERE / "provision.py"), "--endpoint", url, "--name", "selfcheck", "--template", str(template)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        expect(out.returncode == 0, f"provision.py failed: {out.stderr[-2000:]}")
        lines = out.stdout.strip().splitlines()
        expect(len(lines) == 1, f"stdout must be one JSON line, got {len(lines)}")
        ctx["p"] = p = json.loads(lines[0])
        keys = ["region", "account", "vpc_id", "subnet_ids", "load_balancer_arn", "load_balancer_full_name",
                "listener_arn", "incidents_table", "incidents_stream_arn", "topic_arn", "queue_url", "stacks",
                "db_instance_id", "db_instance_arn"]
        expect(list(p) == keys, f"output keys {list(p)}")
        expect(p["load_balancer_full_name"].startswith("app/selfcheck-alb/"), p["load_balancer_full_name"])
        stack = p["stacks"][0]
        expect(stack["target_group_full_name"].startswith("targetgroup/selfcheck-tg/"), stack["target_group_full_name"])
        expect(len(stack["instance_ids"]) == 4, f"instances {stack['instance_ids']}")
        ctx["tg"], ctx["asg"] = stack["target_group_arn"], stack["auto_scaling_group"]

    check.run("provision.py prints one JSON object with the documented keys", provision)
    if "p" not in ctx:
        return
    tg, group_name, p = ctx["tg"], ctx["asg"], ctx["p"]

    def group() -> dict[str, Any]:
        return asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group_name])["AutoScalingGroups"][0]

    def health() -> dict[str, dict[str, Any]]:
        return {
            d["Target"]["Id"]: d["TargetHealth"]
            for d in elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
        }

    def asg_registered_and_spread() -> None:
        g = group()
        ids = {i["InstanceId"] for i in g["Instances"]}
        h = health()
        expect(set(h) == ids, f"target group {sorted(h)} != group {sorted(ids)}")
        expect(all(v["State"] == "healthy" for v in h.values()), f"not all healthy: {h}")
        azs = {i["AvailabilityZone"] for i in g["Instances"]}
        expect(azs == {"us-east-1a", "us-east-1b"}, f"instances in {azs}")
        expect((g["HealthCheckType"], g["HealthCheckGracePeriod"]) == ("ELB", 60), "health check settings")
        found = asg.describe_auto_scaling_groups(Filters=[{"Name": "tag:rebound:managed", "Values": ["true"]}])
        expect([x["AutoScalingGroupName"] for x in found["AutoScalingGroups"]] == [group_name], "tag filter")

    check.run("ASG instances registered in the TG, healthy, spread over 2 AZs; tag filter", asg_registered_and_spread)

    # ---- injected target health + replacement -----------------------------------------

    def inject_unhealthy() -> None:
        victim = sorted(health())[0]
        ctx["victim"] = victim
        status, body = control(url, "POST", "/_rebound/target-health", {
            "target_group_arn": tg, "instance_id": victim, "state": "unhealthy",
            "reason": "Target.FailedHealthChecks", "description": "Health checks failed",
        })
        expect(status == 200, f"{status} {body}")
        h = health()
        expect(h[victim] == {"State": "unhealthy", "Reason": "Target.FailedHealthChecks",
                             "Description": "Health checks failed"}, f"victim {h[victim]}")
        expect(sum(v["State"] == "healthy" for v in h.values()) == 3, f"others {h}")

    check.run("POST /_rebound/target-health overrides DescribeTargetHealth", inject_unhealthy)

    def bad_control_input() -> None:
        cases = [
            ("POST", "/_rebound/target-health", {"target_group_arn": tg, "instance_id": "i-0", "state": "sick"}),
            ("POST", "/_rebound/target-health", {"target_group_arn": tg + "x", "instance_id": "i-0", "state": "unhealthy"}),
            ("POST", "/_rebound/faults", {"operation": "PutItem", "status": 200}),
            ("POST", "/_rebound/faults", {"error_code": "Throttling"}),
            ("POST", "/_rebound/faults", "not an object"),
        ]
        for method, path, body in cases:
            status, answer = control(url, method, path, body)
            expect(status == 400 and isinstance(answer.get("error"), str), f"{path} {body}: {status} {answer}")

    check.run("control endpoints answer 400 + JSON error on bad input", bad_control_input)

    def aws_connections_stay_open() -> None:
        # Two AWS requests on one HTTP/1.1 connection, as the SDKs send them: the second
        # must be answered on the same socket (AWS endpoints keep connections alive).
        import http.client
        from urllib.parse import urlparse

        where = urlparse(url)
        connection = http.client.HTTPConnection(where.hostname, where.port, timeout=10)
        body = "Action=DescribeAutoScalingGroups&Version=2011-01-01"
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/autoscaling/aws4_request, "
            "SignedHeaders=host, Signature=0",
        }
        for attempt in (1, 2):
            connection.request("POST", "/", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            expect(response.status == 200, f"request {attempt}: {response.status}")
            expect((response.getheader("Connection") or "").lower() != "close", f"request {attempt} closed the connection")
            if attempt == 1:
                first_socket = connection.sock
        expect(connection.sock is first_socket and first_socket is not None, "the second request opened a new connection")
        connection.close()
        # A control request is not kept open (its body is the layer's to read, not moto's).
        control_connection = http.client.HTTPConnection(where.hostname, where.port, timeout=10)
        control_connection.request("GET", "/_rebound/requests")
        control_response = control_connection.getresponse()
        control_response.read()
        expect((control_response.getheader("Connection") or "").lower() == "close", "control request kept open")
        control_connection.close()

    check.run("AWS requests keep their HTTP/1.1 connection open; control requests close", aws_connections_stay_open)

    def set_instance_health_replaces() -> None:
        victim = ctx["victim"]
        asg.set_instance_health(InstanceId=victim, HealthStatus="Unhealthy")
        g = group()
        ids = {i["InstanceId"] for i in g["Instances"]}
        expect(victim not in ids, "victim still in the group")
        expect(len(ids) == 4 and g["DesiredCapacity"] == 4, f"capacity {len(ids)}/{g['DesiredCapacity']}")
        expect(all(i["LifecycleState"] == "InService" for i in g["Instances"]), "not all InService")
        h = health()
        expect(victim not in h, "victim still registered")
        expect(set(h) == ids and all(v["State"] == "healthy" for v in h.values()), f"target health {h}")
        old = elb.describe_target_health(TargetGroupArn=tg, Targets=[{"Id": victim}])["TargetHealthDescriptions"][0]
        expect(old["TargetHealth"]["State"] == "draining", f"old target {old['TargetHealth']}")
        expect(control(url, "GET", "/_rebound/target-health")[1]["overrides"] == [], "override not dropped")

    check.run("SetInstanceHealth(Unhealthy) replaces the instance; TG follows", set_instance_health_replaces)

    def suspended_keeps_unhealthy() -> None:
        asg.suspend_processes(AutoScalingGroupName=group_name, ScalingProcesses=["ReplaceUnhealthy"])
        g = group()
        expect([sp["ProcessName"] for sp in g["SuspendedProcesses"]] == ["ReplaceUnhealthy"], "suspended")
        instance = g["Instances"][0]["InstanceId"]
        asg.set_instance_health(InstanceId=instance, HealthStatus="Unhealthy")
        state = asg.describe_auto_scaling_instances(InstanceIds=[instance])["AutoScalingInstances"][0]
        # Real DescribeAutoScalingInstances says UNHEALTHY (groups say Unhealthy).
        expect((state["HealthStatus"], state["LifecycleState"]) == ("UNHEALTHY", "InService"), f"{state}")
        expect("LaunchConfigurationName" not in state and "LaunchTemplate" in state, f"{state}")
        expect(instance in health(), "replaced although ReplaceUnhealthy is suspended")
        asg.set_instance_health(InstanceId=instance, HealthStatus="Healthy")
        asg.resume_processes(AutoScalingGroupName=group_name, ScalingProcesses=["ReplaceUnhealthy"])
        expect(group()["SuspendedProcesses"] == [], "resume")

    check.run("suspended ReplaceUnhealthy: SetInstanceHealth only marks the instance", suspended_keeps_unhealthy)

    def grace_period_swallows_set_instance_health() -> None:
        expect(control(url, "POST", "/_rebound/grace-period", {"respected": "yes"})[0] == 400, "bad body accepted")
        asg.update_auto_scaling_group(AutoScalingGroupName=group_name, HealthCheckGracePeriod=3600)
        expect(control(url, "POST", "/_rebound/grace-period", {"respected": True})[0] == 200, "grace on")
        try:
            instance = group()["Instances"][0]["InstanceId"]
            asg.set_instance_health(InstanceId=instance, HealthStatus="Unhealthy", ShouldRespectGracePeriod=True)
            state = asg.describe_auto_scaling_instances(InstanceIds=[instance])["AutoScalingInstances"][0]
            expect((state["HealthStatus"], state["LifecycleState"]) == ("HEALTHY", "InService"), f"{state}")
            expect(instance in health(), "replaced inside the grace period")
            # Not respecting the grace period acts at once.
            asg.set_instance_health(InstanceId=instance, HealthStatus="Unhealthy", ShouldRespectGracePeriod=False)
            expect(instance not in {i["InstanceId"] for i in group()["Instances"]}, "not replaced")
        finally:
            control(url, "POST", "/_rebound/grace-period", {"respected": False})
            asg.update_auto_scaling_group(AutoScalingGroupName=group_name, HealthCheckGracePeriod=60)

    check.run("grace period respected: SetInstanceHealth inside it is accepted and ignored",
              grace_period_swallows_set_instance_health)

    def terminate_replaces() -> None:
        victim = sorted(health())[0]
        asg.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=False)
        ids = {i["InstanceId"] for i in group()["Instances"]}
        h = health()
        expect(victim not in ids and len(ids) == 4, f"group {ids}")
        expect(set(h) == ids, f"target group {sorted(h)} != group {sorted(ids)}")

    check.run("TerminateInstanceInAutoScalingGroup(no decrement) replaces; TG follows", terminate_replaces)

    def instance_refresh() -> None:
        expect(asg.describe_instance_refreshes(AutoScalingGroupName=group_name)["InstanceRefreshes"] == [], "empty")
        rid = asg.start_instance_refresh(AutoScalingGroupName=group_name)["InstanceRefreshId"]
        refreshes = asg.describe_instance_refreshes(AutoScalingGroupName=group_name)["InstanceRefreshes"]
        expect([(r["InstanceRefreshId"], r["Status"]) for r in refreshes] == [(rid, "InProgress")], f"{refreshes}")
        asg.cancel_instance_refresh(AutoScalingGroupName=group_name)
        status = asg.describe_instance_refreshes(AutoScalingGroupName=group_name)["InstanceRefreshes"][0]["Status"]
        expect(status == "Cancelled", status)

    check.run("Start/Describe/CancelInstanceRefresh", instance_refresh)

    # ---- faults and the request log ----------------------------------------------------

    def faults() -> None:
        status, _ = control(url, "POST", "/_rebound/faults", [
            {"operation": "DescribeTargetHealth", "error_code": "Throttling", "status": 400, "count": 2,
             "message": "Rate exceeded"},
            {"operation": "GetItem", "error_code": "ThrottlingException", "status": 400, "count": 1,
             "message": "Rate of requests exceeds the allowed throughput."},
            {"operation": "DescribeAutoScalingGroups", "error_code": "ServiceUnavailable", "status": 503},
        ])
        expect(status == 200, "POST /_rebound/faults")
        for _ in range(2):
            try:
                elb.describe_target_health(TargetGroupArn=tg)
                raise AssertionError("DescribeTargetHealth did not fail")
            except ClientError as exc:
                err, meta = exc.response["Error"], exc.response["ResponseMetadata"]
                expect((err["Code"], err.get("Type"), err["Message"], meta["HTTPStatusCode"])
                       == ("Throttling", "Sender", "Rate exceeded", 400), f"{err} {meta['HTTPStatusCode']}")
        elb.describe_target_health(TargetGroupArn=tg)  # third call: fault used up
        try:
            ddb.get_item(TableName=p["incidents_table"], Key={"pk": {"S": "x"}})
            raise AssertionError("GetItem did not fail")
        except ClientError as exc:
            expect(exc.response["Error"]["Code"] == "ThrottlingException", f"{exc.response['Error']}")
        try:
            group()
            raise AssertionError("DescribeAutoScalingGroups did not fail")
        except ClientError as exc:
            err, code = exc.response["Error"], exc.response["ResponseMetadata"]["HTTPStatusCode"]
            expect((err["Code"], err.get("Type"), code) == ("ServiceUnavailable", "Receiver", 503), f"{err} {code}")
        expect(control(url, "GET", "/_rebound/faults")[1]["faults"] == [], "faults left over")
        control(url, "POST", "/_rebound/faults", {"operation": "PutItem", "error_code": "Throttling"})
        expect(control(url, "DELETE", "/_rebound/faults")[1]["cleared"] == 1, "DELETE /_rebound/faults")

    check.run("fault injection: query XML and JSON shapes, count, 503, clear", faults)

    def request_log() -> None:
        control(url, "DELETE", "/_rebound/requests")
        control(url, "POST", "/_rebound/faults", {"operation": "DescribeTargetHealth", "error_code": "Throttling"})
        try:
            elb.describe_target_health(TargetGroupArn=tg)
        except ClientError:
            pass
        asg.describe_auto_scaling_instances()
        ddb.describe_table(TableName=p["incidents_table"])
        sqs.get_queue_attributes(QueueUrl=p["queue_url"], AttributeNames=["All"])
        status, entries = control(url, "GET", "/_rebound/requests")
        got = [(e["service"], e["operation"], e["status"]) for e in entries]
        expect(got == [
            ("elasticloadbalancing", "DescribeTargetHealth", 400),
            ("autoscaling", "DescribeAutoScalingInstances", 200),
            ("dynamodb", "DescribeTable", 200),
            ("sqs", "GetQueueAttributes", 200),
        ], f"log {got}")
        expect(all(isinstance(e["at"], float) and abs(e["at"] - time.time()) < 60 for e in entries), "at")
        expect(control(url, "DELETE", "/_rebound/requests")[1]["cleared"] == 4, "DELETE /_rebound/requests")
        expect(control(url, "GET", "/_rebound/requests")[1] == [], "log not cleared")

    check.run("request log records service/operation/status/at; clear", request_log)

    # ---- DynamoDB ---------------------------------------------------------------------

    table = p["incidents_table"]

    def transact_conditional_failure() -> None:
        item = {"pk": {"S": "target-group#tg-1"}, "kind": {"S": "incident"}, "opened_at": {"S": "2026-01-01T00:00:00Z"},
                "state": {"S": "open"}}
        ddb.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        try:
            ddb.transact_write_items(TransactItems=[
                {"Put": {"TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Update": {"TableName": table, "Key": {"pk": {"S": "budget#account"}},
                            "UpdateExpression": "ADD used :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            ])
            raise AssertionError("transaction succeeded")
        except ClientError as exc:
            expect(exc.response["Error"]["Code"] == "TransactionCanceledException", exc.response["Error"]["Code"])
            reasons = [r["Code"] for r in exc.response["CancellationReasons"]]
            expect(reasons == ["ConditionalCheckFailed", "None"], f"reasons {reasons}")
        expect("Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "budget#account"}}), "not atomic")

    check.run("TransactWriteItems conditional failure: CancellationReasons", transact_conditional_failure)

    def conditional_update_and_gsi() -> None:
        key = {"pk": {"S": "target-group#tg-1"}}
        update = dict(TableName=table, Key=key, UpdateExpression="SET #s = :new", ConditionExpression="#s = :old",
                      ExpressionAttributeNames={"#s": "state"})
        try:
            ddb.update_item(**update, ExpressionAttributeValues={":new": {"S": "resolved"}, ":old": {"S": "remediating"}})
            raise AssertionError("update succeeded")
        except ClientError as exc:
            expect(exc.response["Error"]["Code"] == "ConditionalCheckFailedException", exc.response["Error"]["Code"])
        ddb.update_item(**update, ExpressionAttributeValues={":new": {"S": "remediating"}, ":old": {"S": "open"}})
        q = ddb.query(TableName=table, IndexName="incidents-by-time",
                      KeyConditionExpression="kind = :k AND opened_at >= :t",
                      ExpressionAttributeValues={":k": {"S": "incident"}, ":t": {"S": "2026"}})
        expect([i["state"]["S"] for i in q["Items"]] == ["remediating"], f"{q['Items']}")

    check.run("UpdateItem with condition; Query on the incidents-by-time GSI", conditional_update_and_gsi)

    def concurrent_conditional_puts() -> None:
        results: list[str] = []

        def put(n: int) -> None:
            c = boto3.client("dynamodb", **kw)
            try:
                c.put_item(TableName=table, Item={"pk": {"S": "race"}, "kind": {"S": "incident"},
                                                  "opened_at": {"S": f"2026-02-{n:02d}"}},
                           ConditionExpression="attribute_not_exists(pk)")
                results.append("won")
            except ClientError as exc:
                results.append(exc.response["Error"]["Code"])

        threads = [threading.Thread(target=put, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        expect(results.count("won") == 1, f"results {results}")
        expect(results.count("ConditionalCheckFailedException") == 7, f"results {results}")

    check.run("8 concurrent conditional PutItems: exactly one wins", concurrent_conditional_puts)

    def stream_pump_event() -> None:
        out = subprocess.run(
            [PYTHON, str(HERE / "stream_pump.py"), "--endpoint", url, "--stream-arn", p["incidents_stream_arn"],
             "--print-event", "--once", "--state-file", os.path.join(workdir, "pump.json")],
            capture_output=True, text=True, timeout=60,
        )
        expect(out.returncode == 0, out.stderr)
        events = [json.loads(line) for line in out.stdout.splitlines()]
        records = [r for e in events for r in e["Records"]]
        # target-group#tg-1 INSERT + MODIFY, race INSERT; budget item was never written.
        expect([r["eventName"] for r in records] == ["INSERT", "MODIFY", "INSERT"], f"{[r['eventName'] for r in records]}")
        r = records[1]
        expect(r["eventVersion"] == "1.1" and r["eventSource"] == "aws:dynamodb", "envelope")
        expect(r["eventSourceARN"] == p["incidents_stream_arn"], "eventSourceARN")
        expect(r["dynamodb"]["OldImage"]["state"] == {"S": "open"}, "OldImage")
        expect(r["dynamodb"]["NewImage"]["state"] == {"S": "remediating"}, "NewImage")
        expect(isinstance(r["dynamodb"]["ApproximateCreationDateTime"], float), "ApproximateCreationDateTime")
        again = subprocess.run(
            [PYTHON, str(HERE / "stream_pump.py"), "--endpoint", url, "--stream-arn", p["incidents_stream_arn"],
             "--print-event", "--once", "--state-file", os.path.join(workdir, "pump.json")],
            capture_output=True, text=True, timeout=60,
        )
        expect(again.returncode == 0 and again.stdout == "", f"second run re-delivered: {again.stdout[:200]}")

    check.run("stream_pump: Lambda DynamoDB event shape, filter, state file", stream_pump_event)

    # ---- SNS -> SQS -------------------------------------------------------------------

    def sns_to_sqs() -> None:
        sns.publish(
            TopicArn=p["topic_arn"], Subject="[Rebound] incident opened: selfcheck-asg",
            MessageStructure="json",
            Message=json.dumps({"default": "Incident opened", "sqs": json.dumps({"state": "open"})}),
            MessageAttributes={"severity": {"DataType": "String", "StringValue": "high"},
                               "resource_type": {"DataType": "String", "StringValue": "target-group"},
                               "state": {"DataType": "String", "StringValue": "open"}},
        )
        messages = sqs.receive_message(QueueUrl=p["queue_url"], MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
        envelope = json.loads(messages[0]["Body"])
        expect(envelope["Subject"] == "[Rebound] incident opened: selfcheck-asg", f"{envelope}")
        expect(json.loads(envelope["Message"]) == {"state": "open"}, envelope["Message"])
        expect(envelope["MessageAttributes"]["severity"] == {"Type": "String", "Value": "high"}, "attributes")

    check.run("SNS Publish (MessageStructure=json, attributes) reaches the SQS inbox", sns_to_sqs)

    # ---- replacement over time (phased mode) -----------------------------------------------

    def lifecycle() -> dict[str, tuple[str, str]]:
        return {i["InstanceId"]: (i["LifecycleState"], i["HealthStatus"]) for i in group()["Instances"]}

    def replacement_mode_control() -> None:
        expect(control(url, "GET", "/_rebound/replacement-mode") == (200, {"mode": "instant"}), "default mode")
        for body in ({"mode": "slow"}, {}, {"mode": "phased", "extra": 1}, ["phased"]):
            status, answer = control(url, "POST", "/_rebound/replacement-mode", body)
            expect(status == 400 and "error" in answer, f"{body}: {status} {answer}")
        for body in ({"auto_scaling_group": "no-such-group"}, {"auto_scaling_group": 3}, {"group": group_name}):
            status, answer = control(url, "POST", "/_rebound/advance", body)
            expect(status == 400 and "error" in answer, f"advance {body}: {status} {answer}")
        expect(control(url, "POST", "/_rebound/replacement-mode", {"mode": "phased"}) ==
               (200, {"status": "ok", "mode": "phased"}), "set phased")
        expect(control(url, "GET", "/_rebound/replacement-mode")[1] == {"mode": "phased"}, "mode not phased")
        expect(control(url, "GET", "/_rebound/replacements") == (200, {"replacements": []}), "replacements")
        # A group's initial instances are InService and registered at once, in phased mode too.
        out = subprocess.run(
            [PYTHON, str(HERE / "provision.py"), "--endpoint", url, "--name", "selfcheck-phased",
             "--template", str(template), "--instances", "2"],
            capture_output=True, text=True, timeout=120,
        )
        expect(out.returncode == 0, f"provision.py in phased mode: {out.stderr[-1000:]}")
        other = json.loads(out.stdout)["stacks"][0]
        g2 = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[other["auto_scaling_group"]])["AutoScalingGroups"][0]
        expect([i["LifecycleState"] for i in g2["Instances"]] == ["InService"] * 2, f"{g2['Instances']}")
        expect(control(url, "GET", "/_rebound/replacements") == (200, {"replacements": []}), "creation is a replacement")
        asg.delete_auto_scaling_group(AutoScalingGroupName=other["auto_scaling_group"], ForceDelete=True)

    check.run("replacement-mode / advance / replacements control endpoints", replacement_mode_control)

    def phased_set_instance_health() -> None:
        victim = sorted(health())[0]
        asg.set_instance_health(InstanceId=victim, HealthStatus="Unhealthy")
        states = lifecycle()
        expect(states[victim] == ("Terminating", "Unhealthy"), f"victim {states[victim]}")
        new = [i for i, s in states.items() if s == ("Pending", "Healthy")]
        expect(len(new) == 1 and len(states) == 5, f"states {states}")
        expect(group()["DesiredCapacity"] == 4, "desired capacity changed")
        h = health()
        expect(h[victim]["State"] == "draining" and h[victim]["Reason"] == "Target.DeregistrationInProgress",
               f"victim target {h[victim]}")
        expect(new[0] not in h, "Pending replacement already registered")
        expected = {"auto_scaling_group": group_name, "old_instance_id": victim, "new_instance_id": new[0]}
        status, listed = control(url, "GET", "/_rebound/replacements")
        expect(listed["replacements"] == [{**expected, "phase": "terminating"}], f"{listed}")
        # Nothing moves by itself, and a second call does not replace twice.
        asg.set_instance_health(InstanceId=victim, HealthStatus="Unhealthy")
        asg.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=False)
        expect(len(lifecycle()) == 5, "replaced twice")
        status, answer = control(url, "POST", "/_rebound/advance", {"auto_scaling_group": group_name})
        expect((status, answer) == (200, {"status": "ok", "replacements": [{**expected, "phase": "registering"}]}),
               f"advance 1: {answer}")
        states = lifecycle()
        expect(victim not in states and states[new[0]] == ("InService", "Healthy") and len(states) == 4, f"{states}")
        h = health()
        expect(victim not in h, "old target still listed")
        expect(h[new[0]] == {"State": "initial", "Reason": "Elb.RegistrationInProgress",
                             "Description": "Target registration is in progress"}, f"new target {h[new[0]]}")
        old_state = boto3.client("ec2", **kw).describe_instances(InstanceIds=[victim])["Reservations"][0]["Instances"][0]["State"]["Name"]
        expect(old_state == "terminated", f"old instance {old_state}")
        status, answer = control(url, "POST", "/_rebound/advance")
        expect(answer["replacements"] == [{**expected, "phase": "done"}], f"advance 2: {answer}")
        expect(health()[new[0]]["State"] == "healthy", "new target not healthy")
        expect(control(url, "GET", "/_rebound/replacements")[1] == {"replacements": []}, "replacement left over")
        expect(control(url, "POST", "/_rebound/advance")[1] == {"status": "ok", "replacements": []}, "idle advance")

    check.run("phased: SetInstanceHealth -> Terminating/draining + Pending; advance -> initial -> healthy",
              phased_set_instance_health)

    def phased_terminate_and_scale_out() -> None:
        victim = sorted(health())[0]
        asg.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=False)
        expect(lifecycle()[victim][0] == "Terminating", "not Terminating")
        asg.set_desired_capacity(AutoScalingGroupName=group_name, DesiredCapacity=5)
        states = lifecycle()
        pending = sorted(i for i, s in states.items() if s[0] == "Pending")
        expect(len(pending) == 2 and len(states) == 6, f"states {states}")  # replacement + scale-out
        listed = control(url, "GET", "/_rebound/replacements")[1]["replacements"]
        expect(sorted(r["phase"] for r in listed) == ["pending", "terminating"], f"{listed}")
        expect([r["old_instance_id"] for r in listed if r["phase"] == "pending"] == [None], f"{listed}")
        # The Terminating one is not counted, and not picked by a scale-in.
        asg.set_desired_capacity(AutoScalingGroupName=group_name, DesiredCapacity=5)
        expect(len(lifecycle()) == 6, "capacity change relaunched")
        for _ in range(2):
            control(url, "POST", "/_rebound/advance", {"auto_scaling_group": group_name})
        h = health()
        states = lifecycle()
        expect(len(states) == 5 and all(s == ("InService", "Healthy") for s in states.values()), f"{states}")
        expect(set(h) == set(states) and all(v["State"] == "healthy" for v in h.values()), f"{h}")
        # ShouldDecrementDesiredCapacity=true stays immediate, as in moto.
        victim = sorted(states)[0]
        asg.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=True)
        states = lifecycle()
        expect(victim not in states and len(states) == 4 and group()["DesiredCapacity"] == 4, f"{states}")
        expect(victim not in health(), "decremented victim still registered")
        expect(control(url, "GET", "/_rebound/replacements")[1] == {"replacements": []}, "replacement left over")

    check.run("phased: TerminateInstanceInAutoScalingGroup and scale-out go Pending; decrement stays immediate",
              phased_terminate_and_scale_out)

    def add_to_lb_suspended() -> None:
        asg.suspend_processes(AutoScalingGroupName=group_name, ScalingProcesses=["AddToLoadBalancer"])
        victim = sorted(health())[0]
        asg.set_instance_health(InstanceId=victim, HealthStatus="Unhealthy")  # phased
        new = [i for i, s in lifecycle().items() if s[0] == "Pending"]
        for _ in range(2):
            control(url, "POST", "/_rebound/advance")
        expect(lifecycle()[new[0]][0] == "InService", "not InService")
        expect(new[0] not in health(), "registered although AddToLoadBalancer is suspended (phased)")
        control(url, "POST", "/_rebound/replacement-mode", {"mode": "instant"})
        victim = sorted(health())[0]
        before = set(lifecycle())
        asg.set_instance_health(InstanceId=victim, HealthStatus="Unhealthy")  # instant
        added = set(lifecycle()) - before
        expect(len(added) == 1 and not added & set(health()), "registered although AddToLoadBalancer is suspended")
        asg.resume_processes(AutoScalingGroupName=group_name, ScalingProcesses=["AddToLoadBalancer"])
        asg.set_desired_capacity(AutoScalingGroupName=group_name, DesiredCapacity=4)
        h = health()
        expect(not (added | set(new)) & set(h) and len(h) == 2, f"resume registered old launches: {sorted(h)}")
        # Put the stack back: register by hand, as one must in AWS.
        elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": i} for i in added | set(new)])
        expect(len(health()) == 4, "manual registration")

    check.run("AddToLoadBalancer suspended: replacements never join the target group (both modes)",
              add_to_lb_suspended)

    # ---- lost answers ------------------------------------------------------------------------

    def after_commit_and_dropped() -> None:
        control(url, "DELETE", "/_rebound/requests")
        status, armed = control(url, "POST", "/_rebound/faults", [
            {"operation": "PutItem", "error_code": "InternalServerError", "status": 500, "after_commit": True},
            {"operation": "SetDesiredCapacity", "drop_connection": True},
        ])
        expect(status == 200 and [f["after_commit"] for f in armed["faults"]] == [True, True], f"{armed}")
        try:
            ddb.put_item(TableName=table, Item={"pk": {"S": "lost-answer"}, "kind": {"S": "x"}})
            raise AssertionError("PutItem did not fail")
        except ClientError as exc:
            expect(exc.response["Error"]["Code"] == "InternalServerError", f"{exc.response['Error']}")
        expect("Item" in ddb.get_item(TableName=table, Key={"pk": {"S": "lost-answer"}}), "PutItem did not commit")
        try:
            asg.set_desired_capacity(AutoScalingGroupName=group_name, DesiredCapacity=5)
            raise AssertionError("SetDesiredCapacity got an answer")
        except (ConnectionClosedError, EndpointConnectionError) as exc:
            expect("Connection" in type(exc).__name__, f"{type(exc).__name__}")
        expect(group()["DesiredCapacity"] == 5, "SetDesiredCapacity did not commit")
        entries = control(url, "GET", "/_rebound/requests")[1]
        marked = [(e["operation"], e["status"], e["fault"], e.get("committed_status")) for e in entries if e["fault"]]
        expect(marked == [("PutItem", 500, "after_commit", 200), ("SetDesiredCapacity", None, "dropped", 200)],
               f"log {marked}")
        asg.set_desired_capacity(AutoScalingGroupName=group_name, DesiredCapacity=4)
        for body in ({"operation": "PutItem", "error_code": "X", "after_commit": "yes"},
                     {"operation": "PutItem", "error_code": "X", "cancellation_reasons": ["TransactionConflict"]},
                     {"operation": "TransactWriteItems", "error_code": "TransactionCanceledException",
                      "cancellation_reasons": ["Busy"]}):
            status, answer = control(url, "POST", "/_rebound/faults", body)
            expect(status == 400 and "error" in answer, f"{body}: {status} {answer}")

    check.run("faults after commit: error answer, dropped connection; both logged", after_commit_and_dropped)

    # ---- DynamoDB transaction conflicts --------------------------------------------------------

    def raw_dynamodb(operation: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any], Any]:
        request = urllib.request.Request(url + "/", data=json.dumps(payload).encode(), method="POST", headers={
            "X-Amz-Target": f"DynamoDB_20120810.{operation}", "Content-Type": "application/x-amz-json-1.0",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, "
                             "SignedHeaders=host, Signature=0"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), json.loads(exc.read())

    def transaction_conflicts() -> None:
        put = {"Put": {"TableName": table, "Item": {"pk": {"S": "tx-a"}}}}
        control(url, "POST", "/_rebound/faults", {
            "operation": "TransactWriteItems", "error_code": "TransactionCanceledException",
            "cancellation_reasons": ["TransactionConflict", "None"]})
        status, _headers, answer = raw_dynamodb("TransactWriteItems", {"TransactItems": [put, put]})
        expect(status == 400 and answer == {
            "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            "message": "Transaction cancelled, please refer cancellation reasons for specific reasons "
                       "[TransactionConflict, None]",
            "CancellationReasons": [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"},
                                    {"Code": "None"}]}, f"{status} {answer}")
        # Without reasons: TransactionConflict, then None for every other item.
        control(url, "POST", "/_rebound/faults", {"operation": "TransactWriteItems",
                                                  "error_code": "TransactionCanceledException"})
        items = [{"Put": {"TableName": table, "Item": {"pk": {"S": f"tx-{n}"}}}} for n in range(3)]
        try:
            ddb.transact_write_items(TransactItems=items)
            raise AssertionError("transaction succeeded")
        except ClientError as exc:
            expect(exc.response["Error"]["Code"] == "TransactionCanceledException", f"{exc.response['Error']}")
            reasons = [r["Code"] for r in exc.response["CancellationReasons"]]
            expect(reasons == ["TransactionConflict", "None", "None"], f"reasons {reasons}")
        expect("Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "tx-0"}}), "cancelled but written")
        control(url, "POST", "/_rebound/faults", {"operation": "UpdateItem",
                                                  "error_code": "TransactionConflictException"})
        status, headers, answer = raw_dynamodb("UpdateItem", {"TableName": table, "Key": {"pk": {"S": "tx-a"}}})
        expect(status == 400 and answer == {
            "__type": "com.amazonaws.dynamodb.v20120810#TransactionConflictException",
            "message": "Transaction is ongoing for the item"}, f"{status} {answer}")
        expect(headers.get("x-amzn-ErrorType") == "TransactionConflictException", f"{headers}")

    check.run("TransactionCanceledException with CancellationReasons; TransactionConflictException shape",
              transaction_conflicts)

    # ---- deleted target groups, standby, traffic sources, group details ----------------------

    def extra_target_group(name: str) -> str:
        return elb.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=p["vpc_id"],
                                       HealthCheckPath="/health")["TargetGroups"][0]["TargetGroupArn"]

    def deleted_target_group() -> None:
        try:
            elb.delete_target_group(TargetGroupArn=tg)  # the listener's default action uses it
            raise AssertionError("deleted a target group in use")
        except ClientError as exc:
            expect(exc.response["Error"]["Code"] == "ResourceInUse", f"{exc.response['Error']}")
        extra = extra_target_group("selfcheck-extra")
        asg.attach_load_balancer_target_groups(AutoScalingGroupName=group_name, TargetGroupARNs=[extra])
        members = set(lifecycle())
        registered = {d["Target"]["Id"] for d in elb.describe_target_health(TargetGroupArn=extra)["TargetHealthDescriptions"]}
        expect(registered == members, "attach did not register the members")
        control(url, "POST", "/_rebound/target-health",
                {"target_group_arn": extra, "instance_id": sorted(members)[0], "state": "unhealthy"})
        elb.delete_target_group(TargetGroupArn=extra)
        try:
            elb.describe_target_health(TargetGroupArn=extra)
            raise AssertionError("DescribeTargetHealth on a deleted target group succeeded")
        except ClientError as exc:
            err, code = exc.response["Error"], exc.response["ResponseMetadata"]["HTTPStatusCode"]
            expect((err["Code"], err["Message"], code) ==
                   ("TargetGroupNotFound", "One or more target groups not found", 400), f"{err} {code}")
        expect(extra in group()["TargetGroupARNs"], "dangling ARN dropped")
        expect(control(url, "GET", "/_rebound/target-health")[1]["overrides"] == [], "override of a deleted TG kept")
        # Replacements in both modes, scaling, detaching: nothing trips over the dangling ARN.
        asg.set_instance_health(InstanceId=sorted(health())[0], HealthStatus="Unhealthy")  # instant
        control(url, "POST", "/_rebound/replacement-mode", {"mode": "phased"})
        asg.set_instance_health(InstanceId=sorted(health())[0], HealthStatus="Unhealthy")
        control(url, "POST", "/_rebound/advance")
        control(url, "POST", "/_rebound/advance")
        control(url, "POST", "/_rebound/replacement-mode", {"mode": "instant"})
        asg.set_desired_capacity(AutoScalingGroupName=group_name, DesiredCapacity=4)
        h = health()
        expect(len(h) == 4 and set(h) == set(lifecycle()) and all(v["State"] == "healthy" for v in h.values()), f"{h}")
        asg.detach_load_balancer_target_groups(AutoScalingGroupName=group_name, TargetGroupARNs=[extra])
        expect(group()["TargetGroupARNs"] == [tg], "detach of a deleted target group")
        try:
            asg.attach_load_balancer_target_groups(AutoScalingGroupName=group_name, TargetGroupARNs=[extra])
            raise AssertionError("attached a deleted target group")
        except ClientError as exc:
            expect(exc.response["Error"]["Code"] == "ValidationError", f"{exc.response['Error']}")

    check.run("deleted target group: TargetGroupNotFound, dangling ARN kept, replacements still work",
              deleted_target_group)

    def standby() -> None:
        instance = sorted(lifecycle())[0]
        asg.enter_standby(AutoScalingGroupName=group_name, InstanceIds=[instance], ShouldDecrementDesiredCapacity=True)
        expect(lifecycle()[instance][0] == "Standby" and group()["DesiredCapacity"] == 3, "not Standby")
        expect(instance not in health() and len(health()) == 3, "Standby instance still registered")
        try:
            asg.enter_standby(AutoScalingGroupName=group_name, InstanceIds=[instance], ShouldDecrementDesiredCapacity=True)
            raise AssertionError("EnterStandby twice")
        except ClientError as exc:
            expect(exc.response["Error"]["Code"] == "ValidationError", f"{exc.response['Error']}")
        asg.exit_standby(AutoScalingGroupName=group_name, InstanceIds=[instance])
        expect(lifecycle()[instance][0] == "InService" and group()["DesiredCapacity"] == 4, "not back InService")
        h = health()
        expect(instance in h and h[instance]["State"] == "healthy" and len(h) == 4, f"not registered again: {h}")

    check.run("EnterStandby deregisters from the target groups, ExitStandby registers again", standby)

    def traffic_sources() -> None:
        source = extra_target_group("selfcheck-source")
        asg.attach_traffic_sources(AutoScalingGroupName=group_name,
                                   TrafficSources=[{"Identifier": source, "Type": "elbv2"}])
        g = group()
        expect(g["TrafficSources"] == [{"Identifier": source, "Type": "elbv2"}], f"{g.get('TrafficSources')}")
        expect(g["TargetGroupARNs"] == [tg], "traffic source listed in TargetGroupARNs")
        described = asg.describe_traffic_sources(AutoScalingGroupName=group_name)["TrafficSources"]
        expect([(d["Identifier"], d["Type"], d["State"]) for d in described] == [(source, "elbv2", "InService")],
               f"{described}")

        def source_health() -> dict[str, str]:
            return {d["Target"]["Id"]: d["TargetHealth"]["State"]
                    for d in elb.describe_target_health(TargetGroupArn=source)["TargetHealthDescriptions"]}

        expect(set(source_health()) == set(lifecycle()), "members not registered in the traffic source")
        control(url, "POST", "/_rebound/replacement-mode", {"mode": "phased"})
        victim = sorted(lifecycle())[0]
        asg.set_instance_health(InstanceId=victim, HealthStatus="Unhealthy")
        expect(source_health()[victim] == "draining", "old target not draining in the traffic source")
        new = control(url, "GET", "/_rebound/replacements")[1]["replacements"][0]["new_instance_id"]
        control(url, "POST", "/_rebound/advance")
        expect(source_health().get(new) == "initial" and victim not in source_health(), f"{source_health()}")
        control(url, "POST", "/_rebound/advance")
        control(url, "POST", "/_rebound/replacement-mode", {"mode": "instant"})
        expect(set(source_health()) == set(lifecycle()) == set(health()), "replacement not in the traffic source")
        try:
            asg.attach_traffic_sources(AutoScalingGroupName=group_name, TrafficSources=[
                {"Identifier": source.replace("selfcheck-source", "nope"), "Type": "elbv2"}])
            raise AssertionError("attached a missing target group")
        except ClientError as exc:
            expect(exc.response["Error"]["Code"] == "ValidationError", f"{exc.response['Error']}")
        asg.detach_traffic_sources(AutoScalingGroupName=group_name,
                                   TrafficSources=[{"Identifier": source, "Type": "elbv2"}])
        expect(source_health() == {} and group()["TrafficSources"] == [], "detach left targets")
        expect(len(health()) == 4, "detaching the traffic source touched TargetGroupARNs")

    check.run("Attach/Detach/DescribeTrafficSources (elbv2): registration, replacements, TrafficSources",
              traffic_sources)

    def group_details() -> None:
        g = group()
        expect(g["DesiredCapacity"] == 4 and g["HealthCheckGracePeriod"] == 60, "DesiredCapacity/grace period")
        lt = g["LaunchTemplate"]
        expect(set(lt) == {"LaunchTemplateId", "LaunchTemplateName", "Version"} and lt["Version"] == "$Latest", f"{lt}")
        subnet = p["subnet_ids"][0]
        asg.create_auto_scaling_group(AutoScalingGroupName="selfcheck-zero", MinSize=0, MaxSize=1,
                                      VPCZoneIdentifier=subnet, HealthCheckGracePeriod=0,
                                      LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplateId"], "Version": "1"})
        asg.create_auto_scaling_group(AutoScalingGroupName="selfcheck-default", MinSize=0, MaxSize=1,
                                      VPCZoneIdentifier=subnet,
                                      LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplateId"]})
        asg.create_auto_scaling_group(
            AutoScalingGroupName="selfcheck-mixed", MinSize=0, MaxSize=2, VPCZoneIdentifier=subnet,
            MixedInstancesPolicy={"LaunchTemplate": {
                "LaunchTemplateSpecification": {"LaunchTemplateId": lt["LaunchTemplateId"], "Version": "$Latest"},
                "Overrides": [{"InstanceType": "t3.micro"}, {"InstanceType": "t3.small"}]}})
        asg.update_auto_scaling_group(AutoScalingGroupName="selfcheck-mixed", MaxSize=3)
        got = {x["AutoScalingGroupName"]: x for x in asg.describe_auto_scaling_groups(
            AutoScalingGroupNames=["selfcheck-zero", "selfcheck-default", "selfcheck-mixed"])["AutoScalingGroups"]}
        expect(got["selfcheck-zero"]["HealthCheckGracePeriod"] == 0, "explicit grace period 0")
        expect(got["selfcheck-default"]["HealthCheckGracePeriod"] == 0, "default grace period")
        mixed = got["selfcheck-mixed"]
        expect("LaunchTemplate" not in mixed and mixed["MaxSize"] == 3, f"{mixed.get('LaunchTemplate')}")
        spec = mixed["MixedInstancesPolicy"]["LaunchTemplate"]["LaunchTemplateSpecification"]
        expect(spec["LaunchTemplateId"] == lt["LaunchTemplateId"], "MixedInstancesPolicy lost on update")
        for name in got:
            asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)

    check.run("DescribeAutoScalingGroups: DesiredCapacity, grace period (0 kept), LaunchTemplate, mixed policy",
              group_details)

    # ---- RDS ------------------------------------------------------------------------------

    def db(name: str) -> dict[str, Any]:
        return rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]

    def rds_stack() -> None:
        expect(p["db_instance_id"] == "selfcheck-db", f"{p['db_instance_id']}")
        d = db("selfcheck-db")
        tags = {t["Key"]: t["Value"] for t in d["TagList"]}
        expect(d["MultiAZ"] and tags.get("rebound:managed") == "true", f"{d['MultiAZ']} {tags}")
        expect((d["AvailabilityZone"], d.get("SecondaryAvailabilityZone")) == ("us-east-1a", "us-east-1b"),
               f"{d['AvailabilityZone']} {d.get('SecondaryAvailabilityZone')}")
        group_tags = {t["Key"]: t["Value"] for t in group()["Tags"]}
        expect(group_tags.get("rebound:depends-on") == "selfcheck-db", f"{group_tags}")

    check.run("provision.py: a managed Multi-AZ database with its standby zone; groups depend on it", rds_stack)

    def rds_events(name: str) -> list[tuple[str, str]]:
        got = rds.describe_events(SourceIdentifier=name, SourceType="db-instance")["Events"]
        return [(e["EventCategories"][0], e["Message"]) for e in got if e["EventCategories"] == ["failover"]]

    def forced_failover_swaps() -> None:
        answer = rds.reboot_db_instance(DBInstanceIdentifier="selfcheck-db", ForceFailover=True)["DBInstance"]
        expect(answer["DBInstanceStatus"] == "rebooting", f"answer {answer['DBInstanceStatus']}")
        d = db("selfcheck-db")
        expect((d["DBInstanceStatus"], d["AvailabilityZone"], d["SecondaryAvailabilityZone"]) ==
               ("available", "us-east-1b", "us-east-1a"), f"{d['DBInstanceStatus']} {d['AvailabilityZone']}")
        expect(len(rds_events("selfcheck-db")) == 2, f"{rds_events('selfcheck-db')}")
        ids = [e["event_id"] for e in control(url, "GET", "/_rebound/rds-events")[1]["events"]]
        expect(ids == ["RDS-EVENT-0013", "RDS-EVENT-0049"], f"{ids}")
        # Phased: rebooting until advanced, a second request refused meanwhile.
        control(url, "POST", "/_rebound/rds-mode", {"mode": "phased"})
        rds.reboot_db_instance(DBInstanceIdentifier="selfcheck-db", ForceFailover=True)
        expect(db("selfcheck-db")["DBInstanceStatus"] == "rebooting", "not rebooting in phased mode")
        try:
            rds.reboot_db_instance(DBInstanceIdentifier="selfcheck-db", ForceFailover=True)
            raise AssertionError("a second reboot while rebooting was accepted")
        except ClientError as exc:
            expect(exc.response["Error"]["Code"] == "InvalidDBInstanceState", f"{exc.response['Error']}")
        status, answer = control(url, "POST", "/_rebound/rds-advance")
        expect(status == 200 and answer["finished"][0]["kind"] == "failover", f"{answer}")
        d = db("selfcheck-db")
        expect((d["DBInstanceStatus"], d["AvailabilityZone"]) == ("available", "us-east-1a"), f"{d['AvailabilityZone']}")
        control(url, "POST", "/_rebound/rds-mode", {"mode": "instant"})

    check.run("RebootDBInstance(ForceFailover) on Multi-AZ: rebooting, zones swapped, 0013 then 0049 (both modes)",
              forced_failover_swaps)

    def multi_az_db(name: str) -> None:
        rds.create_db_instance(DBInstanceIdentifier=name, Engine="postgres", DBInstanceClass="db.t3.micro",
                               AllocatedStorage=20, MultiAZ=True, MasterUsername="rebound",
                               MasterUserPassword="selfcheck-password")

    def describe_events_as_rds() -> None:
        name = "selfcheck-events"
        multi_az_db(name)
        try:
            for _ in range(11):
                rds.reboot_db_instance(DBInstanceIdentifier=name, ForceFailover=True)
            mine = dict(SourceIdentifier=name, SourceType="db-instance")
            everything = rds.describe_events(**mine)
            expect("Marker" not in everything and len(everything["Events"]) > 22,
                   f"default: the last hour, every category, one page: {len(everything['Events'])}")
            failovers = rds.describe_events(EventCategories=["failover"], MaxRecords=20, **mine)
            expect(len(failovers["Events"]) == 20 and failovers.get("Marker"), f"{len(failovers['Events'])} {failovers.get('Marker')}")
            rest = rds.describe_events(EventCategories=["failover"], MaxRecords=20, Marker=failovers["Marker"], **mine)
            expect(len(rest["Events"]) == 2 and "Marker" not in rest, f"{len(rest['Events'])} {rest.get('Marker')}")
            dates = [e["Date"] for e in failovers["Events"] + rest["Events"]]
            expect(dates == sorted(dates), "not oldest first")
            created = rds.describe_events(EventCategories=["creation"], **mine)["Events"]
            expect(created and all(e["EventCategories"] == ["creation"] for e in created), f"{created}")
            now = dt.datetime.now(dt.timezone.utc)
            later = rds.describe_events(StartTime=now + dt.timedelta(minutes=1), **mine)["Events"]
            earlier = rds.describe_events(EndTime=now - dt.timedelta(minutes=5), Duration=60, **mine)["Events"]
            expect(later == [] and earlier == [], f"outside the window: {later} {earlier}")
            expect(len(rds.describe_events(Duration=1, EventCategories=["failover"], **mine)["Events"]) == 22,
                   "the last minute")
            for bad in (dict(MaxRecords=10), dict(MaxRecords=101)):
                try:
                    rds.describe_events(**bad, **mine)
                    raise AssertionError(f"{bad} accepted")
                except ClientError as exc:
                    expect(exc.response["Error"]["Code"] == "InvalidParameterValue", f"{exc.response['Error']}")
        finally:
            rds.delete_db_instance(DBInstanceIdentifier=name, SkipFinalSnapshot=True)

    check.run("DescribeEvents: the window (Duration, StartTime, EndTime), categories, oldest first, MaxRecords pages",
              describe_events_as_rds)

    def failover_refusals() -> None:
        rds.create_db_instance(DBInstanceIdentifier="selfcheck-single", DBInstanceClass="db.t3.micro", Engine="postgres",
                               MasterUsername="u", MasterUserPassword="password-1", AllocatedStorage=20)
        expect(db("selfcheck-single").get("SecondaryAvailabilityZone") is None, "single-AZ with a standby zone")
        try:
            rds.reboot_db_instance(DBInstanceIdentifier="selfcheck-single", ForceFailover=True)
            raise AssertionError("forced failover of a single-AZ instance was accepted")
        except ClientError as exc:
            expect(exc.response["Error"]["Code"] == "InvalidParameterCombination", f"{exc.response['Error']}")
        expect(db("selfcheck-single")["DBInstanceStatus"] == "available", "single-AZ instance touched")
        status, _ = control(url, "POST", "/_rebound/db-instance-status",
                            {"db_instance_identifier": "selfcheck-db", "status": "backing-up"})
        expect(status == 200 and db("selfcheck-db")["DBInstanceStatus"] == "backing-up", "status not set")
        try:
            rds.reboot_db_instance(DBInstanceIdentifier="selfcheck-db", ForceFailover=True)
            raise AssertionError("failover of a backing-up instance was accepted")
        except ClientError as exc:
            expect(exc.response["Error"]["Code"] == "InvalidDBInstanceState", f"{exc.response['Error']}")
        control(url, "POST", "/_rebound/db-instance-status", {"db_instance_identifier": "selfcheck-db", "status": "available"})
        expect(control(url, "POST", "/_rebound/db-instance-status", {"db_instance_identifier": "nope", "status": "x"})[0]
               == 400, "unknown instance accepted")
        rds.delete_db_instance(DBInstanceIdentifier="selfcheck-single", SkipFinalSnapshot=True)

    check.run("RebootDBInstance(ForceFailover): single-AZ InvalidParameterCombination, not available InvalidDBInstanceState",
              failover_refusals)

    def phased_reset() -> None:
        control(url, "POST", "/_rebound/replacement-mode", {"mode": "phased"})
        asg.set_instance_health(InstanceId=sorted(lifecycle())[0], HealthStatus="Unhealthy")
        expect(len(control(url, "GET", "/_rebound/replacements")[1]["replacements"]) == 1, "no replacement")
        control(url, "POST", "/_rebound/rds-mode", {"mode": "phased"})
        control(url, "POST", "/_rebound/reset")
        expect(control(url, "GET", "/_rebound/replacement-mode")[1] == {"mode": "instant"}, "mode survived reset")
        expect(control(url, "GET", "/_rebound/rds-mode")[1] == {"mode": "instant"}, "RDS mode survived reset")
        expect(control(url, "GET", "/_rebound/rds-events")[1] == {"events": []}, "RDS events survived reset")
        expect(control(url, "GET", "/_rebound/replacements")[1] == {"replacements": []}, "replacements survived")

    check.run("reset restores instant mode and forgets replacements in progress", phased_reset)

    # ---- drills: a stopped instance, an Availability Zone cut off by a network ACL -------

    ec2 = boto3.client("ec2", **kw)

    def drill_stack() -> None:
        out = subprocess.run(
            [PYTHON, str(HERE / "provision.py"), "--endpoint", url, "--name", "drill", "--template", str(template)],
            capture_output=True, text=True, timeout=120,
        )
        expect(out.returncode == 0, f"provision.py failed: {out.stderr[-2000:]}")
        stack = json.loads(out.stdout)
        ctx["drill"] = stack

    check.run("a second stack for the drill checks", drill_stack)

    def drill_health() -> dict[str, dict[str, Any]]:
        arn = ctx["drill"]["stacks"][0]["target_group_arn"]
        return {
            d["Target"]["Id"]: d["TargetHealth"]
            for d in elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
        }

    def drill_group() -> dict[str, Any]:
        name = ctx["drill"]["stacks"][0]["auto_scaling_group"]
        return asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]

    def stopped_instance_is_replaced() -> None:
        name = ctx["drill"]["stacks"][0]["auto_scaling_group"]
        asg.suspend_processes(AutoScalingGroupName=name, ScalingProcesses=["HealthCheck"])
        victim = sorted(drill_health())[0]
        ec2.stop_instances(InstanceIds=[victim])
        h = drill_health()
        expect(h[victim] == {"State": "unused", "Reason": "Target.InvalidState",
                             "Description": "Target is in the stopped state"}, f"stopped target {h[victim]}")
        expect(victim in {i["InstanceId"] for i in drill_group()["Instances"]}, "replaced while HealthCheck suspended")
        ec2.start_instances(InstanceIds=[victim])
        expect(drill_health()[victim]["State"] == "healthy", "a started instance serves again")
        asg.resume_processes(AutoScalingGroupName=name, ScalingProcesses=["HealthCheck"])
        ec2.stop_instances(InstanceIds=[victim])
        members = {i["InstanceId"]: i for i in drill_group()["Instances"]}
        expect(victim not in members and len(members) == 4, f"stopped member not replaced: {sorted(members)}")
        expect(all(i["LifecycleState"] == "InService" for i in members.values()), f"{members}")
        h = drill_health()
        expect(set(h) == set(members) and all(v["State"] == "healthy" for v in h.values()), f"targets {h}")

    check.run("StopInstances: target unused/Target.InvalidState; the group's EC2 health check replaces it (not while HealthCheck is suspended)",
              stopped_instance_is_replaced)

    def blocked_zone_fails_health_checks() -> None:
        vpc = ctx["drill"]["vpc_id"]
        subnet_b = ctx["drill"]["subnet_ids"][1]
        acls = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet_b]}])["NetworkAcls"]
        assoc = next(a for a in acls[0]["Associations"] if a["SubnetId"] == subnet_b)
        original = acls[0]["NetworkAclId"]
        deny = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
        new_assoc = ec2.replace_network_acl_association(AssociationId=assoc["NetworkAclAssociationId"], NetworkAclId=deny)
        in_b = {i["InstanceId"] for i in drill_group()["Instances"] if i["AvailabilityZone"] == "us-east-1b"}
        expect(len(in_b) == 2, f"instances in us-east-1b: {in_b}")
        h = drill_health()
        for iid, th in h.items():
            want = ({"State": "unhealthy", "Reason": "Target.Timeout", "Description": "Request timed out"}
                    if iid in in_b else {"State": "healthy"})
            expect(th == want, f"{iid}: {th}")
        ec2.replace_network_acl_association(AssociationId=new_assoc["NewAssociationId"], NetworkAclId=original)
        ec2.delete_network_acl(NetworkAclId=deny)
        expect(all(v["State"] == "healthy" for v in drill_health().values()), "restored zone still blocked")

    check.run("a subnet behind a network ACL with no inbound allow: its targets unhealthy/Target.Timeout until restored",
              blocked_zone_fails_health_checks)

    # ---- reset --------------------------------------------------------------------------

    def forget_rds_events() -> None:
        name = "selfcheck-forget"
        multi_az_db(name)
        try:
            rds.reboot_db_instance(DBInstanceIdentifier=name, ForceFailover=True)
            expect(len(rds_events(name)) == 2, f"{rds_events(name)}")
            status, answer = control(url, "DELETE", "/_rebound/rds-events")
            expect(status == 200 and answer["forgotten"] >= 2, f"{status} {answer}")
            expect(rds_events(name) == [], f"{rds_events(name)}")
            expect(control(url, "GET", "/_rebound/rds-events")[1]["events"] == [], "the layer's list kept")
        finally:
            rds.delete_db_instance(DBInstanceIdentifier=name, SkipFinalSnapshot=True)

    check.run("DELETE /_rebound/rds-events forgets the recorded RDS events (the benchmark's)", forget_rds_events)

    def reset() -> None:
        control(url, "POST", "/_rebound/faults", {"operation": "PutItem", "error_code": "Throttling"})
        expect(control(url, "POST", "/_rebound/reset")[0] == 200, "reset")
        expect(control(url, "GET", "/_rebound/faults")[1]["faults"] == [], "faults survived reset")
        expect(control(url, "GET", "/_rebound/requests")[1] == [], "request log survived reset")
        expect(asg.describe_auto_scaling_groups()["AutoScalingGroups"] == [], "groups survived reset")

    check.run("POST /_rebound/reset clears moto and the layer", reset)


if __name__ == "__main__":
    sys.exit(main())
