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
import cbor2
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
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [PYTHON, str(HERE / "server.py"), "--port", "0", *args],
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


def sigv4(service: str) -> str:
    """An Authorization header with the credential scope moto routes on (moto does not
    check signatures)."""
    return (f"AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=0")


class Ts(float):
    """A timestamp (epoch seconds) for sdk_cbor: CBOR tag 1 around a double."""


def sdk_cbor(value: Any) -> bytes:
    """CBOR exactly as aws-smithy-cbor (the Rust SDK) writes a request: structures as
    indefinite-length maps (begin_map ... end), lists as definite arrays, definite
    strings, integers in their shortest form, doubles as 64-bit floats, timestamps as
    tag 1 around a double."""
    import struct

    def head(major: int, n: int) -> bytes:
        if n < 24:
            return bytes([major << 5 | n])
        for extra, size, fmt in ((24, 0xFF, ">B"), (25, 0xFFFF, ">H"), (26, 0xFFFFFFFF, ">I")):
            if n <= size:
                return bytes([major << 5 | extra]) + struct.pack(fmt, n)
        return bytes([major << 5 | 27]) + struct.pack(">Q", n)

    if isinstance(value, Ts):
        return b"\xc1\xfb" + struct.pack(">d", float(value))
    if isinstance(value, bool):
        return b"\xf5" if value else b"\xf4"
    if isinstance(value, int):
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, float):
        return b"\xfb" + struct.pack(">d", value)
    if isinstance(value, str):
        data = value.encode()
        return head(3, len(data)) + data
    if isinstance(value, (list, tuple)):
        return head(4, len(value)) + b"".join(sdk_cbor(v) for v in value)
    if isinstance(value, dict):
        return b"\xbf" + b"".join(sdk_cbor(k) + sdk_cbor(v) for k, v in value.items()) + b"\xff"
    raise TypeError(f"cannot encode {value!r}")


def cbor_call(
    url: str, operation: str, payload: Any, headers: dict[str, str | None] | None = None, raw: bool = False,
    body: bytes | None = None,
) -> tuple[int, dict[str, str], Any]:
    """A CloudWatch call as aws-sdk-cloudwatch 1.140 sends it (Smithy RPC v2 CBOR): POST
    /service/GraniteServiceVersion20100801/operation/<Operation> with its headers. Answers
    (status, headers, decoded CBOR body or None when empty; the raw bytes with raw=True)."""
    data = body if body is not None else (sdk_cbor(payload) if payload is not None else b"")
    sent = {
        "smithy-protocol": "rpc-v2-cbor",
        "Accept": "application/cbor",
        "x-amzn-query-mode": "true",
        "Authorization": sigv4("monitoring"),
        "X-Amz-Date": "20260101T000000Z",
        "amz-sdk-invocation-id": "00000000-0000-4000-8000-000000000000",
        "amz-sdk-request": "attempt=1; max=3",
        "User-Agent": "aws-sdk-rust/1.3 os/linux lang/rust",
    }
    if data:
        sent["Content-Type"] = "application/cbor"
    for key, value in (headers or {}).items():
        if value is None:
            sent.pop(key, None)
        else:
            sent[key] = value
    request = urllib.request.Request(
        f"{url}/service/GraniteServiceVersion20100801/operation/{operation}", data=data, method="POST", headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, got, raw_body = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        status, got, raw_body = exc.code, dict(exc.headers), exc.read()
    if raw:
        return status, got, raw_body
    return status, got, (cbor2.loads(raw_body) if raw_body else None)


def query_call(url: str, service: str, params: dict[str, str]) -> int:
    """A query-protocol (form-encoded) request; answers the HTTP status."""
    from urllib.parse import urlencode

    request = urllib.request.Request(url + "/", data=urlencode(params).encode(), method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "Authorization": sigv4(service)})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def rest_call(url: str, method: str, path: str, body: Any = None) -> tuple[int, tuple[str | None, Any]]:
    """A raw ARC zonal shift (REST-JSON) request: (status, (x-amzn-ErrorType, JSON body))."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": sigv4("arc-zonal-shift")}
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, (None, json.loads(response.read() or b"null"))
    except urllib.error.HTTPError as exc:
        return exc.code, (exc.headers.get("x-amzn-ErrorType"), json.loads(exc.read() or b"null"))


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
        check.run("server --latency-ms sets the latency it starts with and a reset restores", latency_flag)
        if check.failed:
            sys.stderr.write("".join(emu.stderr[-60:]))
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"{check.passed} passed, {check.failed} failed", flush=True)
    return 1 if check.failed else 0


def latency_flag() -> None:
    emu = Emulator("--latency-ms", "30")
    try:
        expect(control(emu.url, "GET", "/_rebound/latency") == (200, {"ms": 30.0, "default_ms": 30.0}), "--latency-ms 30")
        control(emu.url, "DELETE", "/_rebound/latency")
        control(emu.url, "POST", "/_rebound/reset")
        expect(control(emu.url, "GET", "/_rebound/latency")[1]["ms"] == 30.0, "reset did not restore --latency-ms")
    finally:
        emu.stop()


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
            # ELB health checks (provision.py's default is EC2): the checks below read the
            # health check settings and the traffic sources' InService state they give.
            [PYTHON, str(HERE / "provision.py"), "--endpoint", url, "--name", "selfcheck", "--template", str(template),
             "--health-check-type", "ELB"],
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
                "db_instance_id", "db_instance_arn", "db_failover_alarm"]
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

    def console_output_per_instance() -> None:
        ec2 = boto3.client("ec2", **kw)
        first, second = sorted(health())[:2]
        expect(control(url, "POST", "/_rebound/console-output", {"instance_id": first})[0] == 400,
               "neither output nor error accepted")
        control(url, "POST", "/_rebound/console-output", {"instance_id": first, "output": "kernel panic\n"})
        control(url, "POST", "/_rebound/console-output",
                {"instance_id": second, "error_code": "UnauthorizedOperation"})
        try:
            # boto3 decodes the base64 itself.
            output = ec2.get_console_output(InstanceId=first, Latest=True)["Output"]
            expect(output == "kernel panic\n", f"own output: {output!r}")
            try:
                ec2.get_console_output(InstanceId=second)
                expect(False, "GetConsoleOutput did not fail")
            except ClientError as exc:
                expect(exc.response["Error"]["Code"] == "UnauthorizedOperation", f"{exc.response}")
        finally:
            expect(control(url, "DELETE", "/_rebound/console-output")[1]["cleared"] == 2, "cleared")
        expect("Linux version" in ec2.get_console_output(InstanceId=first)["Output"], "moto's sample back")

    check.run("console output: an instance's own, or an error, per instance", console_output_per_instance)

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

    def simulated_latency() -> None:
        import http.client
        from urllib.parse import urlparse

        where = urlparse(url)
        describe = "Action=DescribeAutoScalingGroups&Version=2011-01-01"
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": sigv4("autoscaling")}

        def call(connection: http.client.HTTPConnection) -> None:
            connection.request("POST", "/", body=describe, headers=headers)
            response = connection.getresponse()
            response.read()
            expect(response.status == 200, f"status {response.status}")

        expect(control(url, "GET", "/_rebound/latency") == (200, {"ms": 0.0, "default_ms": 0.0}), "not off by default")
        for bad in ({"ms": -1}, {"ms": "20"}, {"ms": True}, {"ms": 10_001}, {"latency": 20}, [20]):
            status, answer = control(url, "POST", "/_rebound/latency", bad)
            expect(status == 400 and "error" in answer, f"{bad}: {status} {answer}")
        expect(control(url, "POST", "/_rebound/latency", {"ms": 50})[1]["ms"] == 50, "POST")
        expect(control(url, "GET", "/_rebound/latency")[1]["ms"] == 50, "GET after POST")
        # Connections opened first, so both requests leave at once (the barrier), as an
        # SDK sends calls it makes in parallel.
        connections = [http.client.HTTPConnection(where.hostname, where.port, timeout=10) for _ in range(4)]
        try:
            for connection in connections:
                connection.connect()
            control(url, "DELETE", "/_rebound/requests")
            barrier = threading.Barrier(2)
            failures: list[BaseException] = []

            def in_parallel(connection: http.client.HTTPConnection) -> None:
                try:
                    barrier.wait(10)
                    call(connection)
                except BaseException as exc:  # reported below
                    failures.append(exc)

            threads = [threading.Thread(target=in_parallel, args=(c,)) for c in connections[:2]]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            expect(not failures, f"parallel calls: {failures}")
            # One after another, each on its own connection: the second is made once the
            # first has been answered.
            call(connections[2])
            call(connections[3])
        finally:
            for connection in connections:
                connection.close()
        log = control(url, "GET", "/_rebound/requests")[1]
        expect(len(log) == 4, f"{len(log)} calls logged (control requests must not be)")
        expect(all(e["latency_s"] == 0.05 and e["answered_s"] - e["started_s"] >= 0.05 for e in log),
               f"latency not applied: {[(e['latency_s'], e['answered_s'] - e['started_s']) for e in log]}")
        a, b, first, second = log
        # Parallel: each arrived before the other was answered, so their 50 ms waits
        # overlapped (the pair took about one wait, not two).
        expect(a["started_s"] < b["answered_s"] and b["started_s"] < a["answered_s"],
               f"parallel calls did not overlap: {a} {b}")
        # One after another: the second arrived after the first was answered, so their
        # waits add up (the pair took at least two waits).
        expect(second["started_s"] >= first["answered_s"], f"sequential calls overlapped: {first} {second}")
        expect(second["answered_s"] - first["started_s"] >= 0.1, "sequential waits did not add up")
        expect(control(url, "DELETE", "/_rebound/latency")[1]["ms"] == 0, "DELETE turns it off")
        control(url, "DELETE", "/_rebound/requests")
        asg.describe_auto_scaling_instances()
        expect(control(url, "GET", "/_rebound/requests")[1][0]["latency_s"] == 0, "latency still applied after DELETE")

    check.run("POST /_rebound/latency: parallel calls overlap in the wait (logged arrivals before answers), "
              "sequential ones add up; DELETE turns it off", simulated_latency)

    def connection_opener() -> None:
        import http.client
        from urllib.parse import urlparse

        where = urlparse(url)
        control(url, "POST", "/_rebound/latency", {"ms": 200})
        control(url, "DELETE", "/_rebound/requests")
        try:
            connection = http.client.HTTPConnection(where.hostname, where.port, timeout=10)
            connection.request("GET", "/")
            response = connection.getresponse()
            response.read()
            expect(response.status == 200, f"status {response.status}")
            # The connection stays open for the calls that follow.
            connection.request("GET", "/")
            second = connection.getresponse()
            second.read()
            expect(second.status == 200, f"second status {second.status}")
            connection.close()
            logged = control(url, "GET", "/_rebound/requests")[1]
            expect(logged == [], f"logged as AWS calls: {logged}")
        finally:
            control(url, "DELETE", "/_rebound/latency")

    check.run("an unsigned GET / (a function opening its connections) is answered, kept alive, and no AWS "
              "call: not logged, no simulated round trip", connection_opener)

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

    def target_group_pages() -> None:
        names = [f"selfcheck-page-{i}" for i in range(3)]
        created = [extra_target_group(name) for name in names]
        try:
            def listing(page_size: int | None = None, **filters: Any) -> list[list[str]]:
                pages, marker = [], None
                while True:
                    args = {**filters, **({"PageSize": page_size} if page_size else {}),
                            **({"Marker": marker} if marker else {})}
                    answer = elb.describe_target_groups(**args)
                    pages.append([t["TargetGroupName"] for t in answer["TargetGroups"]])
                    marker = answer.get("NextMarker")
                    if not marker:
                        return pages
            everything = listing()
            expect(len(everything) == 1, f"{len(everything)} pages without PageSize for a few target groups")
            one_by_one = listing(1)
            expect(all(len(page) == 1 for page in one_by_one), f"PageSize 1: {one_by_one}")
            expect([p[0] for p in one_by_one] == everything[0] == sorted(everything[0]), "pages out of name order")
            expect(listing(2, Names=names) == [names[:2], names[2:]], "Names not paged by PageSize")
            # boto3 checks PageSize's range itself: this one sends what it is given.
            unchecked = boto3.client("elbv2", **{**kw, "config": kw["config"].merge(Config(parameter_validation=False))})
            for bad in ({"PageSize": 0}, {"PageSize": 401}, {"Marker": "no-such-target-group"}):
                try:
                    unchecked.describe_target_groups(**bad)
                    raise AssertionError(f"accepted {bad}")
                except ClientError as exc:
                    expect(exc.response["Error"]["Code"] == "ValidationError", f"{bad}: {exc.response['Error']}")
        finally:
            for arn in created:
                elb.delete_target_group(TargetGroupArn=arn)

    check.run("DescribeTargetGroups pages: PageSize 1-400 (400 by default), name order, NextMarker; "
              "a bad PageSize or Marker is a ValidationError", target_group_pages)

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

    # ---- CloudWatch over Smithy RPC v2 CBOR (what the Rust SDK speaks) --------------------

    cw = boto3.client("cloudwatch", **kw)  # boto3 1.43 speaks awsJson1_0 to CloudWatch

    def cw_describe_alarm_state(name: str) -> str:
        status, _headers, answer = cbor_call(url, "DescribeAlarms", {"AlarmNames": [name]})
        expect(status == 200 and len(answer["MetricAlarms"]) == 1, f"{status} {answer}")
        return str(answer["MetricAlarms"][0]["StateValue"])

    def cloudwatch_cbor_alarms() -> None:
        alarm = {
            "AlarmName": "selfcheck-cbor-unhealthy", "AlarmDescription": "from the CBOR client",
            "ActionsEnabled": True, "AlarmActions": [p["topic_arn"]],
            "MetricName": "UnHealthyHostCount", "Namespace": "AWS/ApplicationELB", "Statistic": "Maximum",
            "Dimensions": [{"Name": "TargetGroup", "Value": p["stacks"][0]["target_group_full_name"]},
                           {"Name": "LoadBalancer", "Value": p["load_balancer_full_name"]}],
            "Period": 60, "EvaluationPeriods": 2, "DatapointsToAlarm": 1, "Threshold": 0.0,
            "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
        }
        status, headers, answer = cbor_call(url, "PutMetricAlarm", alarm)
        # A Unit output: 200, the protocol header, no body and no Content-Type.
        expect((status, answer) == (200, None) and headers.get("smithy-protocol") == "rpc-v2-cbor"
               and "Content-Type" not in headers, f"PutMetricAlarm {status} {headers} {answer}")
        status, headers, raw = cbor_call(url, "DescribeAlarms", {"AlarmNames": ["selfcheck-cbor-unhealthy"]}, raw=True)
        expect(status == 200 and headers.get("Content-Type") == "application/cbor"
               and headers.get("smithy-protocol") == "rpc-v2-cbor", f"{status} {headers}")
        answer = cbor2.loads(raw)
        expect(set(answer) >= {"MetricAlarms", "CompositeAlarms"} and answer["CompositeAlarms"] == [], f"{answer}")
        got = answer["MetricAlarms"][0]
        for key in ("AlarmName", "AlarmDescription", "MetricName", "Namespace", "Statistic", "Dimensions", "Period",
                    "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData",
                    "AlarmActions"):
            expect(got[key] == alarm[key], f"{key}: {got.get(key)!r} != {alarm[key]!r}")
        expect(got["AlarmArn"] == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:selfcheck-cbor-unhealthy", got["AlarmArn"])
        expect((got["StateValue"], got["StateReason"]) == ("OK", "Unchecked: Initial alarm creation"), f"{got}")
        # Types as the Rust SDK decodes them: Threshold a CBOR double (major type 7), timestamps tag 1.
        expect(isinstance(got["Threshold"], float) and isinstance(got["Period"], int), f"{got}")
        expect(b"\xc1\xfb" in raw, "no tag-1 (epoch) double timestamp in the answer")
        expect(isinstance(got["StateUpdatedTimestamp"], dt.datetime)
               and abs(got["StateUpdatedTimestamp"].timestamp() - time.time()) < 60, f"{got['StateUpdatedTimestamp']}")
        status, headers, answer = cbor_call(url, "SetAlarmState", {
            "AlarmName": "selfcheck-cbor-unhealthy", "StateValue": "ALARM", "StateReason": "set through CBOR"})
        expect((status, answer) == (200, None), f"SetAlarmState {status} {answer}")
        expect(cw.describe_alarms(AlarmNames=["selfcheck-cbor-unhealthy"])["MetricAlarms"][0]["StateValue"] == "ALARM",
               "boto3 does not see the CBOR SetAlarmState")
        status, headers, answer = cbor_call(url, "SetAlarmState", {
            "AlarmName": "selfcheck-no-such-alarm", "StateValue": "ALARM", "StateReason": "x"})
        expect(status == 404 and answer["__type"] == "com.amazonaws.cloudwatch#ResourceNotFound"
               and headers.get("x-amzn-query-error") == "ResourceNotFound;Sender"
               and headers.get("smithy-protocol") == "rpc-v2-cbor", f"{status} {headers} {answer}")
        status, _headers, answer = cbor_call(url, "DeleteAlarms", {"AlarmNames": ["selfcheck-cbor-unhealthy"]})
        expect((status, answer) == (200, None), f"DeleteAlarms {status} {answer}")
        status, _headers, answer = cbor_call(url, "DescribeAlarms", {"AlarmNames": ["selfcheck-cbor-unhealthy"]})
        expect(answer["MetricAlarms"] == [], f"{answer}")

    check.run("CloudWatch RPC v2 CBOR (Rust SDK wire format): PutMetricAlarm, DescribeAlarms, SetAlarmState, "
              "DeleteAlarms; Unit outputs bodiless; errors with __type + x-amzn-query-error", cloudwatch_cbor_alarms)

    def cloudwatch_shared_with_boto3() -> None:
        for name in ("selfcheck-shared-json", "selfcheck-shared-query"):
            cw.put_metric_alarm(AlarmName=name, Namespace="AWS/ApplicationELB", MetricName="UnHealthyHostCount",
                                Statistic="Maximum", Period=60, EvaluationPeriods=1, Threshold=0,
                                ComparisonOperator="GreaterThanThreshold")
            expect(cw_describe_alarm_state(name) == "OK", f"{name} not OK at first")
        cw.set_alarm_state(AlarmName="selfcheck-shared-json", StateValue="ALARM", StateReason="boto3 (awsJson1_0)")
        # The query protocol, as older SDKs (and boto3 before CloudWatch went JSON) send it.
        status = query_call(url, "monitoring", {
            "Action": "SetAlarmState", "Version": "2010-08-01", "AlarmName": "selfcheck-shared-query",
            "StateValue": "ALARM", "StateReason": "query protocol"})
        expect(status == 200, f"query SetAlarmState {status}")
        for name in ("selfcheck-shared-json", "selfcheck-shared-query"):
            expect(cw_describe_alarm_state(name) == "ALARM", f"{name}: CBOR DescribeAlarms does not see ALARM")
        # boto3's DescribeAlarms is answered by the same code (StateValue with a prefix, both filters).
        firing = cw.describe_alarms(AlarmNamePrefix="selfcheck-shared", StateValue="ALARM")["MetricAlarms"]
        expect(sorted(a["AlarmName"] for a in firing) == ["selfcheck-shared-json", "selfcheck-shared-query"],
               f"{[a['AlarmName'] for a in firing]}")
        cw.delete_alarms(AlarmNames=["selfcheck-shared-json", "selfcheck-shared-query"])

    check.run("an alarm set to ALARM through boto3 (awsJson1_0) and the query protocol is ALARM through CBOR",
              cloudwatch_shared_with_boto3)

    def describe_alarms_filters() -> None:
        for n in range(5):
            cbor_call(url, "PutMetricAlarm", {
                "AlarmName": f"selfcheck-page-{n}", "Namespace": "Rebound/Selfcheck", "MetricName": "M",
                "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 1.5,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "AlarmActions": ["arn:aws:sns:us-east-1:123456789012:pager"] if n % 2 else []})
        cbor_call(url, "PutMetricAlarm", {"AlarmName": "other-selfcheck", "Namespace": "Rebound/Selfcheck",
                                          "MetricName": "M", "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 1,
                                          "Threshold": 1.0, "ComparisonOperator": "GreaterThanThreshold"})
        cbor_call(url, "SetAlarmState", {"AlarmName": "selfcheck-page-3", "StateValue": "ALARM", "StateReason": "x"})

        def names(body: dict[str, Any]) -> tuple[list[str], str | None]:
            status, _h, answer = cbor_call(url, "DescribeAlarms", body)
            expect(status == 200, f"{body}: {status} {answer}")
            return [a["AlarmName"] for a in answer["MetricAlarms"]], answer.get("NextToken")

        got, _ = names({"AlarmNamePrefix": "selfcheck-page-"})
        expect(got == [f"selfcheck-page-{n}" for n in range(5)], f"prefix: {got}")
        expect(names({"AlarmNamePrefix": "selfcheck-page-", "StateValue": "ALARM"})[0] == ["selfcheck-page-3"],
               "prefix + StateValue")
        expect(names({"AlarmNames": ["selfcheck-page-1", "other-selfcheck", "nope"]})[0]
               == ["other-selfcheck", "selfcheck-page-1"], "AlarmNames")
        expect(names({"AlarmNamePrefix": "selfcheck-page-", "ActionPrefix": "arn:aws:sns:us-east-1:123456789012:pag"})[0]
               == ["selfcheck-page-1", "selfcheck-page-3"], "ActionPrefix")
        expect(names({"AlarmNamePrefix": "selfcheck-page-", "AlarmTypes": ["CompositeAlarm"]})[0] == [], "AlarmTypes")
        first, token = names({"AlarmNamePrefix": "selfcheck-page-", "MaxRecords": 2})
        second, token2 = names({"AlarmNamePrefix": "selfcheck-page-", "MaxRecords": 2, "NextToken": token})
        third, token3 = names({"AlarmNamePrefix": "selfcheck-page-", "MaxRecords": 2, "NextToken": token2})
        expect((first, second, third, token3) == (["selfcheck-page-0", "selfcheck-page-1"],
                                                  ["selfcheck-page-2", "selfcheck-page-3"], ["selfcheck-page-4"], None),
               f"pages {first} {second} {third} {token3}")
        for body, code, status in (
            ({"NextToken": "garbage"}, "InvalidNextToken", 400),
            ({"MaxRecords": 0}, "ValidationError", 400),
            ({"MaxRecords": 101}, "ValidationError", 400),
            ({"AlarmNames": ["a"], "AlarmNamePrefix": "a"}, "InvalidParameterCombination", 400),
            ({"StateValue": "RED"}, "ValidationError", 400),
        ):
            got_status, headers, answer = cbor_call(url, "DescribeAlarms", body)
            expect(got_status == status and headers.get("x-amzn-query-error", "").startswith(code + ";")
                   and answer["__type"].startswith("com.amazonaws.cloudwatch#"), f"{body}: {got_status} {headers} {answer}")
        # boto3 paginates the same way.
        pages = cw.get_paginator("describe_alarms").paginate(AlarmNamePrefix="selfcheck-page-",
                                                              PaginationConfig={"PageSize": 2})
        expect(sum(len(pg["MetricAlarms"]) for pg in pages) == 5, "boto3 pagination")
        cw.delete_alarms(AlarmNames=[f"selfcheck-page-{n}" for n in range(5)] + ["other-selfcheck"])

    check.run("DescribeAlarms (CBOR): AlarmNamePrefix, AlarmNames, StateValue, ActionPrefix, AlarmTypes, "
              "MaxRecords/NextToken; errors", describe_alarms_filters)

    def cbor_protocol_errors() -> None:
        status, headers, answer = cbor_call(url, "NoSuchOperation", {})
        expect(status == 400 and answer == {"__type": "com.amazon.coral.service#UnknownOperationException",
                                            "message": "Unknown operation NoSuchOperation"}
               and headers.get("smithy-protocol") == "rpc-v2-cbor" and headers.get("Content-Type") == "application/cbor",
               f"{status} {headers} {answer}")
        status, _h, answer = cbor_call(url, "DescribeAlarms", {}, headers={"smithy-protocol": None})
        expect(status == 400 and answer["__type"].endswith("#SerializationException"), f"no smithy-protocol: {answer}")
        status, _h, answer = cbor_call(url, "DescribeAlarms", {}, headers={"X-Amz-Target": "x.DescribeAlarms"})
        expect(status == 400 and answer["__type"].endswith("#SerializationException"), f"X-Amz-Target: {answer}")
        status, _h, answer = cbor_call(url, "DescribeAlarms", None, body=b"\xff\x00")
        expect(status == 400 and answer["__type"].endswith("#SerializationException"), f"bad CBOR: {answer}")
        # Faults: the CBOR error shape, retried by nobody here; the request log names the operation.
        control(url, "DELETE", "/_rebound/requests")
        control(url, "POST", "/_rebound/faults", {"operation": "DescribeAlarms", "service": "monitoring",
                                                  "error_code": "Throttling", "message": "Rate exceeded"})
        status, headers, answer = cbor_call(url, "DescribeAlarms", {})
        expect(status == 400 and answer == {"__type": "com.amazonaws.cloudwatch#Throttling", "message": "Rate exceeded"}
               and headers.get("x-amzn-query-error") == "Throttling;Sender", f"{status} {headers} {answer}")
        control(url, "POST", "/_rebound/faults", {"operation": "GetMetricData", "status": 503})
        status, headers, answer = cbor_call(url, "GetMetricData", {})
        expect(status == 503 and headers.get("x-amzn-query-error") == "ServiceUnavailable;Receiver", f"{status} {answer}")
        entries = [(e["service"], e["operation"], e["status"], e["fault"]) for e in control(url, "GET", "/_rebound/requests")[1]]
        expect(entries == [("monitoring", "DescribeAlarms", 400, "injected"), ("monitoring", "GetMetricData", 503, "injected")],
               f"{entries}")

    check.run("CBOR: unknown operation, missing smithy-protocol, X-Amz-Target, bad body: CBOR errors; "
              "faults in CBOR shape; request log", cbor_protocol_errors)

    def get_metric_data_alb() -> None:
        # The drill stack (the first one went with the reset above).
        stack = ctx["drill"]["stacks"][0]
        tg = stack["target_group_arn"]
        tg_dim, lb_dim = stack["target_group_full_name"], ctx["drill"]["load_balancer_full_name"]
        instances = {i["InstanceId"]: i["AvailabilityZone"] for i in drill_group()["Instances"]}
        in_a = sorted(i for i, z in instances.items() if z == "us-east-1a")
        in_b = sorted(i for i, z in instances.items() if z == "us-east-1b")
        expect(len(in_a) + len(in_b) == 4 and in_a and in_b, f"drill stack zones {instances}")

        def query(qid: str, metric: str, zone: str | None = None, stat: str = "Maximum", **extra: Any) -> dict[str, Any]:
            dims = [{"Name": "TargetGroup", "Value": extra.pop("tg", tg_dim)}, {"Name": "LoadBalancer", "Value": lb_dim}]
            if zone:
                dims.append({"Name": "AvailabilityZone", "Value": zone})
            return {"Id": qid, "MetricStat": {"Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": metric,
                                                         "Dimensions": dims}, "Period": 60, "Stat": stat}, **extra}

        def fetch(queries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
            now = time.time()
            status, _h, answer = cbor_call(url, "GetMetricData", {
                "MetricDataQueries": queries, "StartTime": Ts(now - 600), "EndTime": Ts(now), "ScanBy": "TimestampDescending"})
            expect(status == 200, f"GetMetricData {status} {answer}")
            return {r["Id"]: r for r in answer["MetricDataResults"]}

        queries = [query("unhealthy", "UnHealthyHostCount"), query("healthy", "HealthyHostCount"),
                   query("unhealthy_b", "UnHealthyHostCount", "us-east-1b"),
                   query("healthy_a", "HealthyHostCount", "us-east-1a", Label="healthy in a"),
                   query("missing", "HealthyHostCount", tg="targetgroup/nope/0123456789abcdef"),
                   query("hidden", "HealthyHostCount", ReturnData=False)]
        before = fetch(queries)
        expect([before[k]["Values"] for k in ("unhealthy", "healthy", "unhealthy_b", "healthy_a")]
               == [[0.0], [4.0], [0.0], [float(len(in_a))]], f"before: {before}")
        got = before["healthy_a"]
        expect(got["StatusCode"] == "Complete" and got["Label"] == "healthy in a" and before["healthy"]["Label"] == "healthy",
               f"{got}")
        stamp = got["Timestamps"][0]
        expect(isinstance(stamp, dt.datetime) and stamp.timestamp() % 60 == 0 and time.time() - stamp.timestamp() <= 120,
               f"timestamp {stamp}")
        expect(before["missing"]["Values"] == [] and before["missing"]["Timestamps"] == [] and "hidden" not in before,
               f"{before}")
        control(url, "POST", "/_rebound/target-health", [
            {"target_group_arn": tg, "instance_id": iid, "state": "unhealthy"} for iid in in_b])
        after = fetch(queries[:4])
        expect([after[k]["Values"] for k in ("unhealthy", "healthy", "unhealthy_b", "healthy_a")]
               == [[float(len(in_b))], [float(len(in_a))], [float(len(in_b))], [float(len(in_a))]],
               f"after overrides: {after}")
        control(url, "DELETE", "/_rebound/target-health", {"target_group_arn": tg})
        expect(fetch(queries[:1])["unhealthy"]["Values"] == [0.0], "overrides cleared")
        # 500 queries are accepted, 501 refused.
        many = [query(f"q{n}", "HealthyHostCount") for n in range(500)]
        expect(len(fetch(many)) == 500, "500 queries")
        now = time.time()
        status, headers, answer = cbor_call(url, "GetMetricData", {
            "MetricDataQueries": many + [query("q500", "HealthyHostCount")], "StartTime": Ts(now - 600), "EndTime": Ts(now)})
        expect(status == 400 and headers.get("x-amzn-query-error") == "ValidationError;Sender", f"501: {status} {answer}")
        # boto3 (awsJson1_0) gets the same numbers.
        got = cw.get_metric_data(MetricDataQueries=[query("healthy", "HealthyHostCount")],
                                 StartTime=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10),
                                 EndTime=dt.datetime.now(dt.timezone.utc))["MetricDataResults"]
        expect(got[0]["Values"] == [4.0], f"boto3 {got}")

    check.run("GetMetricData (CBOR): ALB Healthy/UnHealthyHostCount follow /_rebound/target-health, per zone; "
              "missing target group: no datapoints; 500 queries max", get_metric_data_alb)

    # ---- ARC zonal shift, the load balancer attribute, the group's impairment policy ------

    arc = boto3.client("arc-zonal-shift", **kw)

    def shift_stack() -> None:
        out = subprocess.run(
            # Bare: the load balancer and the group start outside zonal shift (provision.py's
            # default is on), as the checks below enable it themselves.
            [PYTHON, str(HERE / "provision.py"), "--endpoint", url, "--name", "shift", "--database", "none",
             "--zonal-shift", "off", "--template", str(template)],
            capture_output=True, text=True, timeout=120,
        )
        expect(out.returncode == 0, f"provision.py failed: {out.stderr[-2000:]}")
        ctx["shift"] = json.loads(out.stdout)
        zones = {z["ZoneName"]: z["ZoneId"] for z in ec2.describe_availability_zones()["AvailabilityZones"]}
        expect((zones["us-east-1a"], zones["us-east-1b"], zones["us-east-1c"]) == ("use1-az6", "use1-az1", "use1-az2"),
               f"moto's zone ids changed: {zones}")

    check.run("a third stack for the zonal shift checks; AZ IDs as DescribeAvailabilityZones reports them", shift_stack)
    # Without the stack the checks below fail (they do not skip the ones after them).
    shift_stack_ids = ctx.get("shift") or {"load_balancer_arn": "missing", "subnet_ids": ["missing"], "stacks": [
        {"auto_scaling_group": "missing", "target_group_arn": "missing"}]}
    shift_lb = shift_stack_ids["load_balancer_arn"]
    shift_group_name = shift_stack_ids["stacks"][0]["auto_scaling_group"]
    shift_tg = shift_stack_ids["stacks"][0]["target_group_arn"]

    def arc_error(fn: Callable[..., Any], **kwargs: Any) -> tuple[str, str | None, int]:
        try:
            fn(**kwargs)
        except ClientError as exc:
            return (exc.response["Error"]["Code"], exc.response.get("reason"),
                    exc.response["ResponseMetadata"]["HTTPStatusCode"])
        raise AssertionError(f"{fn.__name__}({kwargs}) succeeded")

    def lb_attributes() -> dict[str, str]:
        return {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(LoadBalancerArn=shift_lb)["Attributes"]}

    def set_zonal_shift_attribute(value: str) -> None:
        elb.modify_load_balancer_attributes(LoadBalancerArn=shift_lb,
                                            Attributes=[{"Key": "zonal_shift.config.enabled", "Value": value}])

    def lb_zonal_shift_attribute() -> None:
        expect(lb_attributes()["zonal_shift.config.enabled"] == "false", f"default {lb_attributes()}")
        expect(arc_error(arc.get_managed_resource, resourceIdentifier=shift_lb)[0] == "ResourceNotFoundException",
               "a load balancer without zonal shift is a managed resource")
        expect(all(r["arn"] != shift_lb for r in arc.list_managed_resources()["items"]), "listed while disabled")
        try:
            set_zonal_shift_attribute("maybe")
            raise AssertionError("zonal_shift.config.enabled=maybe accepted")
        except ClientError as exc:
            expect(exc.response["Error"]["Code"] == "InvalidConfigurationRequest", f"{exc.response['Error']}")
        set_zonal_shift_attribute("true")
        expect(lb_attributes()["zonal_shift.config.enabled"] == "true", f"{lb_attributes()}")
        resource = arc.get_managed_resource(resourceIdentifier=shift_lb)
        expect((resource["arn"], resource["name"], resource["appliedWeights"], resource["zonalShifts"],
                resource["autoshifts"], resource["zonalAutoshiftStatus"])
               == (shift_lb, "shift-alb", {"use1-az6": 1.0, "use1-az1": 1.0}, [], [], "DISABLED"), f"{resource}")
        listed = [r for r in arc.list_managed_resources()["items"] if r["arn"] == shift_lb]
        expect(len(listed) == 1 and sorted(listed[0]["availabilityZones"]) == ["use1-az1", "use1-az6"]
               and listed[0]["practiceRunStatus"] == "DISABLED", f"{listed}")

    check.run("zonal_shift.config.enabled: default false, true/false only; the ALB is a managed resource once enabled",
              lb_zonal_shift_attribute)

    def start_zonal_shift_and_errors() -> None:
        shift = arc.start_zonal_shift(resourceIdentifier=shift_lb, awayFrom="use1-az1", expiresIn="30m",
                                      comment="selfcheck: us-east-1b impaired")
        expect(shift["ResponseMetadata"]["HTTPStatusCode"] == 201, "StartZonalShift answers 201")
        expect((shift["resourceIdentifier"], shift["awayFrom"], shift["status"], shift["comment"])
               == (shift_lb, "use1-az1", "ACTIVE", "selfcheck: us-east-1b impaired"), f"{shift}")
        expect(abs((shift["expiryTime"] - shift["startTime"]).total_seconds() - 1800) < 1, "expiry")
        ctx["lb_shift"] = shift["zonalShiftId"]
        resource = arc.get_managed_resource(resourceIdentifier=shift_lb)
        expect(resource["appliedWeights"] == {"use1-az6": 1.0, "use1-az1": 0.0}, f"{resource['appliedWeights']}")
        expect([(z["zonalShiftId"], z["appliedStatus"], z["shiftType"]) for z in resource["zonalShifts"]]
               == [(shift["zonalShiftId"], "APPLIED", "ZONAL_SHIFT")], f"{resource['zonalShifts']}")
        # Health checks go on: target health is what it was.
        states = {d["TargetHealth"]["State"] for d in
                  elb.describe_target_health(TargetGroupArn=shift_tg)["TargetHealthDescriptions"]}
        expect(states == {"healthy"}, f"target health changed by the shift: {states}")
        group_arn = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[shift_group_name])["AutoScalingGroups"][0]["AutoScalingGroupARN"]
        cases = [
            (dict(awayFrom="use1-az1", expiresIn="1h", comment="again"), ("ConflictException", "ZonalShiftAlreadyExists", 409)),
            (dict(awayFrom="use1-az6", expiresIn="1h", comment="other"), ("ConflictException", "SimultaneousZonalShiftsConflict", 409)),
            (dict(awayFrom="use1-az2", expiresIn="1h", comment="x"), ("ValidationException", "UnsupportedAz", 400)),
            (dict(awayFrom="us-east-1b", expiresIn="1h", comment="x"), ("ValidationException", "InvalidAz", 400)),
            (dict(awayFrom="use1-az1", expiresIn="73h", comment="x"), ("ValidationException", "InvalidExpiresIn", 400)),
            (dict(awayFrom="use1-az1", expiresIn="4321m", comment="x"), ("ValidationException", "InvalidExpiresIn", 400)),
            (dict(awayFrom="use1-az1", expiresIn="30s", comment="x"), ("ValidationException", "InvalidExpiresIn", 400)),
            (dict(awayFrom="use1-az1", expiresIn="0m", comment="x"), ("ValidationException", "InvalidExpiresIn", 400)),
            (dict(awayFrom="use1-az1", expiresIn="1h", comment="c" * 129), ("ValidationException", None, 400)),
        ]
        for kwargs, want in cases:
            got = arc_error(arc.start_zonal_shift, resourceIdentifier=shift_lb, **kwargs)
            expect(got == want, f"{kwargs}: {got} != {want}")
        for identifier, want in (
            ("not-an-arn-at-all", ("ValidationException", "InvalidResourceIdentifier", 400)),
            (shift_tg, ("ValidationException", "InvalidResourceIdentifier", 400)),
            (shift_lb[:-4] + "0000", ("ResourceNotFoundException", None, 404)),
            (group_arn, ("ResourceNotFoundException", None, 404)),  # zonal shift not enabled on the group
        ):
            got = arc_error(arc.start_zonal_shift, resourceIdentifier=identifier, awayFrom="use1-az1", expiresIn="1h",
                            comment="x")
            expect(got == want, f"{identifier}: {got} != {want}")
        expect(arc_error(arc.get_managed_resource, resourceIdentifier=shift_lb[:-4] + "0000")[0]
               == "ResourceNotFoundException", "GetManagedResource of an unknown ARN")
        # The conflict names the shift in the way.
        try:
            arc.start_zonal_shift(resourceIdentifier=shift_lb, awayFrom="use1-az1", expiresIn="1h", comment="again")
        except ClientError as exc:
            body = json.loads(exc.response.get("Error", {}).get("Message", "{}")) if False else exc.response
            expect(body.get("zonalShiftId") == shift["zonalShiftId"], f"{body}")

    check.run("StartZonalShift: 201, appliedWeights 0.0 for the shifted AZ ID, target health unchanged; Conflict "
              "(both reasons), InvalidAz, UnsupportedAz, InvalidExpiresIn, comment length, "
              "InvalidResourceIdentifier, ResourceNotFound", start_zonal_shift_and_errors)

    def update_cancel_list_shifts() -> None:
        shift_id = ctx["lb_shift"]
        updated = arc.update_zonal_shift(zonalShiftId=shift_id, comment="still impaired", expiresIn="2h")
        expect(updated["comment"] == "still impaired"
               and abs((updated["expiryTime"] - dt.datetime.now(dt.timezone.utc)).total_seconds() - 7200) < 60,
               f"{updated}")
        for kwargs, want in (
            (dict(zonalShiftId=shift_id), ("ValidationException", "MissingValue", 400)),
            (dict(zonalShiftId=shift_id, expiresIn="100h"), ("ValidationException", "InvalidExpiresIn", 400)),
            (dict(zonalShiftId="00000000-0000-0000-0000-000000000000", comment="x"), ("ResourceNotFoundException", None, 404)),
        ):
            got = arc_error(arc.update_zonal_shift, **kwargs)
            expect(got == want, f"update {kwargs}: {got} != {want}")
        listed = arc.list_zonal_shifts(status="ACTIVE", resourceIdentifier=shift_lb)["items"]
        expect([(s["zonalShiftId"], s["shiftType"], s["status"]) for s in listed] == [(shift_id, "ZONAL_SHIFT", "ACTIVE")],
               f"{listed}")
        canceled = arc.cancel_zonal_shift(zonalShiftId=shift_id)
        expect(canceled["status"] == "CANCELED", f"{canceled}")
        expect(arc_error(arc.cancel_zonal_shift, zonalShiftId=shift_id)
               == ("ConflictException", "ZonalShiftStatusNotActive", 409), "cancel twice")
        expect(arc_error(arc.update_zonal_shift, zonalShiftId=shift_id, comment="x")
               == ("ConflictException", "ZonalShiftStatusNotActive", 409), "update a canceled shift")
        expect(arc_error(arc.cancel_zonal_shift, zonalShiftId="00000000-0000-0000-0000-000000000000")[0]
               == "ResourceNotFoundException", "cancel unknown")
        expect(arc.get_managed_resource(resourceIdentifier=shift_lb)["appliedWeights"]
               == {"use1-az6": 1.0, "use1-az1": 1.0}, "weights after cancel")
        expect(arc.list_zonal_shifts(status="ACTIVE", resourceIdentifier=shift_lb)["items"] == [], "ACTIVE after cancel")
        expect([s["status"] for s in arc.list_zonal_shifts(status="CANCELED", resourceIdentifier=shift_lb)["items"]]
               == ["CANCELED"], "CANCELED filter")
        # Pagination: three shifts, two a page, newest first.
        ids = []
        for _ in range(2):
            started = arc.start_zonal_shift(resourceIdentifier=shift_lb, awayFrom="use1-az6", expiresIn="5m", comment="p")
            ids.append(started["zonalShiftId"])
            arc.cancel_zonal_shift(zonalShiftId=started["zonalShiftId"])
        page = arc.list_zonal_shifts(resourceIdentifier=shift_lb, maxResults=2)
        rest = arc.list_zonal_shifts(resourceIdentifier=shift_lb, maxResults=2, nextToken=page["nextToken"])
        expect([s["zonalShiftId"] for s in page["items"] + rest["items"]] == [ids[1], ids[0], shift_id]
               and "nextToken" not in rest, f"pages {page} {rest}")
        for kwargs, want in ((dict(status="DONE"), ("ValidationException", "InvalidStatus", 400)),
                             (dict(nextToken="garbage"), ("ValidationException", "InvalidToken", 400)),
                             (dict(maxResults=101), None)):
            if want is None:  # botocore refuses maxResults > 100 itself; send it raw
                status, answer = rest_call(url, "GET", "/zonalshifts?maxResults=101")
                expect(status == 400 and answer[0] == "ValidationException", f"maxResults=101: {status} {answer}")
                continue
            expect(arc_error(arc.list_zonal_shifts, **kwargs) == want, f"list {kwargs}")

    check.run("UpdateZonalShift, CancelZonalShift (only ACTIVE: ZonalShiftStatusNotActive), ListZonalShifts "
              "(status, resourceIdentifier, maxResults/nextToken), errors", update_cancel_list_shifts)

    def expiry_by_clock() -> None:
        first = arc.start_zonal_shift(resourceIdentifier=shift_lb, awayFrom="use1-az1", expiresIn="1h", comment="e")
        status, answer = control(url, "POST", "/_rebound/zonal-shift/clock", {"advance_seconds": 3601})
        expect(status == 200 and answer["offset_seconds"] >= 3601, f"{status} {answer}")
        listed = {s["zonalShiftId"]: s["status"] for s in arc.list_zonal_shifts(resourceIdentifier=shift_lb)["items"]}
        expect(listed[first["zonalShiftId"]] == "EXPIRED", f"not EXPIRED after the clock moved: {listed}")
        expect(arc.get_managed_resource(resourceIdentifier=shift_lb)["appliedWeights"]["use1-az1"] == 1.0, "expired weight")
        expect(arc_error(arc.update_zonal_shift, zonalShiftId=first["zonalShiftId"], comment="x")
               == ("ConflictException", "ZonalShiftStatusNotActive", 409), "update an expired shift")
        second = arc.start_zonal_shift(resourceIdentifier=shift_lb, awayFrom="use1-az1", expiresIn="72h", comment="e2")
        expect(second["startTime"].timestamp() > time.time() + 3000, "startTime ignores the moved clock")
        status, answer = control(url, "POST", "/_rebound/zonal-shift/expiry",
                                 {"zonal_shift_id": second["zonalShiftId"], "expires_in_seconds": 0})
        expect(status == 200 and answer["zonal_shift"]["status"] == "EXPIRED", f"{status} {answer}")
        expect(control(url, "GET", "/_rebound/zonal-shift/clock")[1]["offset_seconds"] >= 3601, "GET clock")
        for path, body in (("/_rebound/zonal-shift/clock", {"advance_seconds": -1}),
                           ("/_rebound/zonal-shift/expiry", {"zonal_shift_id": second["zonalShiftId"],
                                                             "expires_in_seconds": 10}),
                           ("/_rebound/zonal-shift/expiry", {"zonal_shift_id": "nope", "expires_in_seconds": 0})):
            status, answer = control(url, "POST", path, body)
            expect(status == 400 and "error" in answer, f"{path} {body}: {status} {answer}")

    check.run("zonal shifts expire by wall-clock time: /_rebound/zonal-shift/clock and /expiry; EXPIRED can't be "
              "updated", expiry_by_clock)

    def practice_runs_and_autoshift() -> None:
        alarm_arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:selfcheck-outcome"
        blocker_arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:selfcheck-blocker"
        for name in ("selfcheck-outcome", "selfcheck-blocker"):
            cw.put_metric_alarm(AlarmName=name, Namespace="AWS/ApplicationELB", MetricName="HTTPCode_ELB_5XX_Count",
                                Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
                                ComparisonOperator="GreaterThanThreshold")
        expect(arc_error(arc.start_practice_run, resourceIdentifier=shift_lb, awayFrom="use1-az1", comment="p")
               == ("ConflictException", "PracticeConfigurationDoesNotExist", 409), "practice run without configuration")
        expect(arc_error(arc.update_zonal_autoshift_configuration, resourceIdentifier=shift_lb,
                         zonalAutoshiftStatus="ENABLED")
               == ("ConflictException", "PracticeConfigurationDoesNotExist", 409), "autoshift without configuration")
        for kwargs, want in (
            (dict(outcomeAlarms=[{"type": "CLOUDWATCH", "alarmIdentifier": "not-an-alarm-arn"}]),
             ("ValidationException", "InvalidAlarmCondition", 400)),
            (dict(outcomeAlarms=[{"type": "CLOUDWATCH", "alarmIdentifier": alarm_arn}], blockedDates=["2026/01/01"]),
             ("ValidationException", "InvalidPracticeBlocker", 400)),
            (dict(outcomeAlarms=[{"type": "CLOUDWATCH", "alarmIdentifier": alarm_arn}], blockedWindows=["Mon:10:00-Mon:11:00"],
                  allowedWindows=["Tue:10:00-Tue:11:00"]), ("ValidationException", "InvalidPracticeWindows", 400)),
        ):
            expect(arc_error(arc.create_practice_run_configuration, resourceIdentifier=shift_lb, **kwargs) == want,
                   f"{kwargs}")
        status, answer = rest_call(url, "POST", "/configuration", {
            "resourceIdentifier": shift_lb, "outcomeAlarms": [{"type": "SNS", "alarmIdentifier": alarm_arn}]})
        expect(status == 400 and answer[1].get("reason") == "InvalidConditionType", f"{status} {answer}")
        created = arc.create_practice_run_configuration(
            resourceIdentifier=shift_lb, outcomeAlarms=[{"type": "CLOUDWATCH", "alarmIdentifier": alarm_arn}],
            blockingAlarms=[{"type": "CLOUDWATCH", "alarmIdentifier": blocker_arn}])
        expect(created["ResponseMetadata"]["HTTPStatusCode"] == 201 and created["zonalAutoshiftStatus"] == "DISABLED"
               and created["practiceRunConfiguration"]["outcomeAlarms"][0]["alarmIdentifier"] == alarm_arn, f"{created}")
        expect(arc_error(arc.create_practice_run_configuration, resourceIdentifier=shift_lb,
                         outcomeAlarms=[{"type": "CLOUDWATCH", "alarmIdentifier": alarm_arn}])
               == ("ConflictException", "PracticeConfigurationAlreadyExists", 409), "configuration twice")
        updated = arc.update_practice_run_configuration(resourceIdentifier=shift_lb, blockedDates=["2001-01-01"])
        expect(updated["practiceRunConfiguration"]["blockedDates"] == ["2001-01-01"], f"{updated}")
        expect(arc.get_managed_resource(resourceIdentifier=shift_lb)["practiceRunConfiguration"]["blockedDates"]
               == ["2001-01-01"], "GetManagedResource practiceRunConfiguration")
        # Alarms in ALARM block a practice run.
        cw.set_alarm_state(AlarmName="selfcheck-blocker", StateValue="ALARM", StateReason="x")
        expect(arc_error(arc.start_practice_run, resourceIdentifier=shift_lb, awayFrom="use1-az1", comment="p")
               == ("ConflictException", "PracticeBlockingAlarmsRed", 409), "blocking alarm red")
        cw.set_alarm_state(AlarmName="selfcheck-blocker", StateValue="OK", StateReason="x")
        cw.set_alarm_state(AlarmName="selfcheck-outcome", StateValue="ALARM", StateReason="x")
        expect(arc_error(arc.start_practice_run, resourceIdentifier=shift_lb, awayFrom="use1-az1", comment="p")
               == ("ConflictException", "PracticeOutcomeAlarmsRed", 409), "outcome alarm red")
        cw.set_alarm_state(AlarmName="selfcheck-outcome", StateValue="OK", StateReason="x")
        run = arc.start_practice_run(resourceIdentifier=shift_lb, awayFrom="use1-az1", comment="on demand")
        expect(run["status"] == "ACTIVE" and abs((run["expiryTime"] - run["startTime"]).total_seconds() - 1800) < 1,
               f"{run}")
        summary = [s for s in arc.list_zonal_shifts(status="ACTIVE")["items"] if s["zonalShiftId"] == run["zonalShiftId"]]
        expect([(s["shiftType"], s["practiceRunOutcome"]) for s in summary] == [("PRACTICE_RUN", "PENDING")], f"{summary}")
        expect(arc_error(arc.start_practice_run, resourceIdentifier=shift_lb, awayFrom="use1-az6", comment="p")
               == ("ConflictException", "SimultaneousZonalShiftsConflict", 409), "two practice runs")
        # A customer shift takes precedence over the practice run.
        customer = arc.start_zonal_shift(resourceIdentifier=shift_lb, awayFrom="use1-az6", expiresIn="10m", comment="c")
        resource = arc.get_managed_resource(resourceIdentifier=shift_lb)
        expect(resource["appliedWeights"] == {"use1-az6": 0.0, "use1-az1": 1.0}, f"{resource['appliedWeights']}")
        expect(sorted((z["shiftType"], z["appliedStatus"]) for z in resource["zonalShifts"])
               == [("PRACTICE_RUN", "NOT_APPLIED"), ("ZONAL_SHIFT", "APPLIED")], f"{resource['zonalShifts']}")
        arc.cancel_zonal_shift(zonalShiftId=customer["zonalShiftId"])
        expect(arc_error(arc.cancel_practice_run, zonalShiftId=customer["zonalShiftId"])
               == ("ValidationException", "UnsupportedPracticeCancelShiftType", 400), "CancelPracticeRun on a zonal shift")
        canceled = arc.cancel_practice_run(zonalShiftId=run["zonalShiftId"])
        expect(canceled["status"] == "CANCELED", f"{canceled}")
        outcome = [s["practiceRunOutcome"] for s in arc.list_zonal_shifts(status="CANCELED")["items"]
                   if s["zonalShiftId"] == run["zonalShiftId"]]
        expect(outcome == ["INTERRUPTED"], f"{outcome}")
        expect(arc_error(arc.cancel_practice_run, zonalShiftId=run["zonalShiftId"])
               == ("ConflictException", "ZonalShiftStatusNotActive", 409), "cancel a canceled practice run")
        # AWS's own (weekly) practice run, ended with an outcome through the control API.
        status, answer = control(url, "POST", "/_rebound/zonal-shift/practice-run",
                                 {"resource_identifier": shift_lb, "away_from": "use1-az6"})
        expect(status == 200 and answer["zonal_shift"]["shiftType"] == "PRACTICE_RUN", f"{status} {answer}")
        weekly = answer["zonal_shift"]["zonalShiftId"]
        expect(arc.get_managed_resource(resourceIdentifier=shift_lb)["appliedWeights"]["use1-az6"] == 0.0, "practice weight")
        status, answer = control(url, "DELETE", "/_rebound/zonal-shift/practice-run",
                                 {"zonal_shift_id": weekly, "outcome": "FAILED"})
        expect(status == 200 and (answer["zonal_shift"]["status"], answer["zonal_shift"]["practiceRunOutcome"])
               == ("CANCELED", "FAILED"), f"{answer}")
        status, answer = control(url, "POST", "/_rebound/zonal-shift/practice-run",
                                 {"resource_identifier": shift_lb, "away_from": "use1-az6"})
        weekly = answer["zonal_shift"]["zonalShiftId"]
        control(url, "POST", "/_rebound/zonal-shift/clock", {"advance_seconds": 1801})
        done = [(s["status"], s["practiceRunOutcome"]) for s in arc.list_zonal_shifts()["items"] if s["zonalShiftId"] == weekly]
        expect(done == [("EXPIRED", "SUCCEEDED")], f"practice run after 30 minutes: {done}")
        # Autoshift: only for a resource with zonal autoshift ENABLED.
        status, answer = control(url, "POST", "/_rebound/zonal-shift/autoshift",
                                 {"away_from": "use1-az1", "resource_identifier": shift_lb})
        expect(status == 400, f"autoshift on a resource with autoshift DISABLED: {status} {answer}")
        enabled = arc.update_zonal_autoshift_configuration(resourceIdentifier=shift_lb, zonalAutoshiftStatus="ENABLED")
        expect(enabled["zonalAutoshiftStatus"] == "ENABLED", f"{enabled}")
        expect(arc_error(arc.delete_practice_run_configuration, resourceIdentifier=shift_lb)
               == ("ConflictException", "AutoShiftEnabled", 409), "delete configuration while autoshift enabled")
        status, answer = control(url, "POST", "/_rebound/zonal-shift/autoshift", {"away_from": "use1-az1"})
        expect(status == 200 and answer["autoshift"]["resources"] == [shift_lb], f"{status} {answer}")
        resource = arc.get_managed_resource(resourceIdentifier=shift_lb)
        expect((resource["zonalAutoshiftStatus"], resource["appliedWeights"],
                [(a["awayFrom"], a["appliedStatus"]) for a in resource["autoshifts"]])
               == ("ENABLED", {"use1-az6": 1.0, "use1-az1": 0.0}, [("use1-az1", "APPLIED")]), f"{resource}")
        active = arc.list_autoshifts()["items"]
        expect([(a["awayFrom"], a["status"]) for a in active] == [("use1-az1", "ACTIVE")], f"{active}")
        expect(arc_error(arc.start_practice_run, resourceIdentifier=shift_lb, awayFrom="use1-az6", comment="p")
               == ("ConflictException", "ZonalAutoshiftActive", 409), "practice run during an autoshift")
        # A customer shift outranks the autoshift.
        customer = arc.start_zonal_shift(resourceIdentifier=shift_lb, awayFrom="use1-az6", expiresIn="10m", comment="c")
        resource = arc.get_managed_resource(resourceIdentifier=shift_lb)
        expect(resource["appliedWeights"] == {"use1-az6": 0.0, "use1-az1": 1.0}
               and resource["autoshifts"][0]["appliedStatus"] == "NOT_APPLIED", f"{resource}")
        arc.cancel_zonal_shift(zonalShiftId=customer["zonalShiftId"])
        status, answer = control(url, "DELETE", "/_rebound/zonal-shift/autoshift", {"away_from": "use1-az1"})
        expect(status == 200 and answer["autoshift"]["status"] == "COMPLETED", f"{answer}")
        expect(arc.list_autoshifts()["items"] == [], "ACTIVE autoshifts after the end")
        completed = arc.list_autoshifts(status="COMPLETED")["items"]
        expect([a["awayFrom"] for a in completed] == ["use1-az1"] and "endTime" in completed[0], f"{completed}")
        expect(arc.get_managed_resource(resourceIdentifier=shift_lb)["autoshifts"] == [], "autoshift still in effect")
        # An FIS experiment's shift: listed with its type, can't be updated.
        status, answer = control(url, "POST", "/_rebound/zonal-shift/fis-experiment",
                                 {"resource_identifier": shift_lb, "away_from": "use1-az1", "expires_in": "15m"})
        expect(status == 200 and answer["zonal_shift"]["shiftType"] == "FIS_EXPERIMENT", f"{answer}")
        fis = answer["zonal_shift"]["zonalShiftId"]
        expect(arc_error(arc.update_zonal_shift, zonalShiftId=fis, comment="x")
               == ("ValidationException", "FISExperimentUpdateNotAllowed", 400), "update an FIS shift")
        arc.cancel_zonal_shift(zonalShiftId=fis)
        # Settings back, in the order AWS requires.
        arc.update_zonal_autoshift_configuration(resourceIdentifier=shift_lb, zonalAutoshiftStatus="DISABLED")
        deleted = arc.delete_practice_run_configuration(resourceIdentifier=shift_lb)
        expect(deleted["zonalAutoshiftStatus"] == "DISABLED", f"{deleted}")
        expect(arc_error(arc.delete_practice_run_configuration, resourceIdentifier=shift_lb)
               == ("ConflictException", "PracticeConfigurationDoesNotExist", 409), "delete twice")
        expect(arc.get_autoshift_observer_notification_status()["status"] == "DISABLED", "observer default")
        expect(arc.update_autoshift_observer_notification_status(status="ENABLED")["status"] == "ENABLED", "observer")
        cw.delete_alarms(AlarmNames=["selfcheck-outcome", "selfcheck-blocker"])

    check.run("practice runs (configuration, StartPracticeRun conflicts and alarms, CancelPracticeRun, AWS's own run "
              "and its outcome), autoshifts (ENABLED only, precedence, ListAutoshifts), FIS experiment shifts",
              practice_runs_and_autoshift)

    def shift_group() -> dict[str, Any]:
        return asg.describe_auto_scaling_groups(AutoScalingGroupNames=[shift_group_name])["AutoScalingGroups"][0]

    def zones_of_group() -> dict[str, str]:
        return {i["InstanceId"]: i["AvailabilityZone"] for i in shift_group()["Instances"]}

    def impairment_policy_and_shifted_group() -> None:
        expect("AvailabilityZoneImpairmentPolicy" not in shift_group(), "a policy by default")
        try:
            asg.update_auto_scaling_group(AutoScalingGroupName=shift_group_name, AvailabilityZoneImpairmentPolicy={
                "ZonalShiftEnabled": True, "ImpairedZoneHealthCheckBehavior": "ReplaceSome"})
            raise AssertionError("ImpairedZoneHealthCheckBehavior=ReplaceSome accepted")
        except ClientError as exc:
            expect(exc.response["Error"]["Code"] == "ValidationError", f"{exc.response['Error']}")
        asg.update_auto_scaling_group(AutoScalingGroupName=shift_group_name, AvailabilityZoneImpairmentPolicy={
            "ZonalShiftEnabled": True, "ImpairedZoneHealthCheckBehavior": "ReplaceUnhealthy"})
        g = shift_group()
        expect(g["AvailabilityZoneImpairmentPolicy"] == {"ZonalShiftEnabled": True,
                                                          "ImpairedZoneHealthCheckBehavior": "ReplaceUnhealthy"}, f"{g}")
        group_arn = g["AutoScalingGroupARN"]
        resource = arc.get_managed_resource(resourceIdentifier=group_arn)
        expect(resource["name"] == shift_group_name and resource["appliedWeights"] == {"use1-az6": 1.0, "use1-az1": 1.0},
               f"{resource}")
        # A shift on the load balancer does not move the group's launches.
        lb_shift = arc.start_zonal_shift(resourceIdentifier=shift_lb, awayFrom="use1-az1", expiresIn="1h", comment="lb")
        asg.set_desired_capacity(AutoScalingGroupName=shift_group_name, DesiredCapacity=6)
        expect(sorted(zones_of_group().values()) == ["us-east-1a"] * 3 + ["us-east-1b"] * 3,
               f"a load balancer shift moved the group: {zones_of_group()}")
        arc.cancel_zonal_shift(zonalShiftId=lb_shift["zonalShiftId"])
        # The group's own shift away from us-east-1b (use1-az1): launches only into us-east-1a.
        group_shift = arc.start_zonal_shift(resourceIdentifier=group_arn, awayFrom="use1-az1", expiresIn="1h",
                                            comment="group")
        expect(arc.get_managed_resource(resourceIdentifier=group_arn)["appliedWeights"]
               == {"use1-az6": 1.0, "use1-az1": 0.0}, "group weights")
        # ReplaceUnhealthy: an instance in the shifted zone is replaced, into the other zone.
        victim = sorted(i for i, z in zones_of_group().items() if z == "us-east-1b")[0]
        before = zones_of_group()
        asg.set_instance_health(InstanceId=victim, HealthStatus="Unhealthy")
        after = zones_of_group()
        new = [i for i in after if i not in before]
        expect(victim not in after and len(new) == 1 and after[new[0]] == "us-east-1a", f"replacement: {before} -> {after}")
        # Phased replacements launch there too.
        control(url, "POST", "/_rebound/replacement-mode", {"mode": "phased"})
        victim = sorted(i for i, z in zones_of_group().items() if z == "us-east-1b")[0]
        asg.set_instance_health(InstanceId=victim, HealthStatus="Unhealthy")
        pending = control(url, "GET", "/_rebound/replacements")[1]["replacements"]
        expect(len(pending) == 1 and zones_of_group()[pending[0]["new_instance_id"]] == "us-east-1a", f"{pending}")
        control(url, "POST", "/_rebound/advance", {"auto_scaling_group": shift_group_name})
        control(url, "POST", "/_rebound/advance", {"auto_scaling_group": shift_group_name})
        control(url, "POST", "/_rebound/replacement-mode", {"mode": "instant"})
        # A scale-out too.
        before = zones_of_group()
        asg.set_desired_capacity(AutoScalingGroupName=shift_group_name, DesiredCapacity=8)
        added = {i: z for i, z in zones_of_group().items() if i not in before}
        expect(sorted(added.values()) == ["us-east-1a", "us-east-1a"], f"scale-out during the shift: {added}")
        # IgnoreUnhealthy: an unhealthy instance in the shifted zone stays (SetInstanceHealth and a stopped instance).
        asg.update_auto_scaling_group(AutoScalingGroupName=shift_group_name, AvailabilityZoneImpairmentPolicy={
            "ZonalShiftEnabled": True, "ImpairedZoneHealthCheckBehavior": "IgnoreUnhealthy"})
        in_b = sorted(i for i, z in zones_of_group().items() if z == "us-east-1b")
        expect(len(in_b) == 1, f"{zones_of_group()}")
        asg.set_instance_health(InstanceId=in_b[0], HealthStatus="Unhealthy")
        state = asg.describe_auto_scaling_instances(InstanceIds=[in_b[0]])["AutoScalingInstances"][0]
        expect((state["LifecycleState"], state["HealthStatus"]) == ("InService", "UNHEALTHY"), f"IgnoreUnhealthy: {state}")
        ec2.stop_instances(InstanceIds=[in_b[0]])
        expect(in_b[0] in zones_of_group(), "a stopped instance in the shifted zone was replaced (IgnoreUnhealthy)")
        ec2.start_instances(InstanceIds=[in_b[0]])
        # ... but one in the other zone is replaced as usual.
        in_a = sorted(i for i, z in zones_of_group().items() if z == "us-east-1a")[0]
        asg.set_instance_health(InstanceId=in_a, HealthStatus="Unhealthy")
        expect(in_a not in zones_of_group() and len(zones_of_group()) == 8, "IgnoreUnhealthy held the other zone too")
        # The shift over, the held instance is replaced, into the zone with fewer instances again.
        arc.cancel_zonal_shift(zonalShiftId=group_shift["zonalShiftId"])
        before = zones_of_group()
        asg.set_instance_health(InstanceId=in_b[0], HealthStatus="Unhealthy")
        after = zones_of_group()
        new = [i for i in after if i not in before]
        expect(in_b[0] not in after and len(new) == 1 and after[new[0]] == "us-east-1b", f"after the shift: {after}")
        asg.set_desired_capacity(AutoScalingGroupName=shift_group_name, DesiredCapacity=4)
        # CreateAutoScalingGroup takes the policy too.
        subnet = shift_stack_ids["subnet_ids"][0]
        lt = shift_group()["LaunchTemplate"]
        asg.create_auto_scaling_group(AutoScalingGroupName="shift-created", MinSize=0, MaxSize=1,
                                      VPCZoneIdentifier=subnet, LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplateId"]},
                                      AvailabilityZoneImpairmentPolicy={"ZonalShiftEnabled": False})
        created = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["shift-created"])["AutoScalingGroups"][0]
        expect(created["AvailabilityZoneImpairmentPolicy"] == {"ZonalShiftEnabled": False}, f"{created}")
        expect(arc_error(arc.get_managed_resource, resourceIdentifier=created["AutoScalingGroupARN"])[0]
               == "ResourceNotFoundException", "a group without zonal shift is managed")
        asg.delete_auto_scaling_group(AutoScalingGroupName="shift-created", ForceDelete=True)

    check.run("AvailabilityZoneImpairmentPolicy: Create/Update/Describe; a group shifted itself launches only into its "
              "other zones (scale-out, replacements, phased), IgnoreUnhealthy holds the shifted zone; an LB shift "
              "does not move the group", impairment_policy_and_shifted_group)

    def zonal_shift_faults_and_log() -> None:
        control(url, "DELETE", "/_rebound/requests")
        control(url, "POST", "/_rebound/faults", {"operation": "StartZonalShift", "error_code": "ThrottlingException",
                                                  "status": 429, "message": "Rate exceeded"})
        got = arc_error(arc.start_zonal_shift, resourceIdentifier=shift_lb, awayFrom="use1-az1", expiresIn="1h",
                        comment="x")
        expect(got == ("ThrottlingException", None, 429), f"{got}")
        arc.list_managed_resources()
        status, answer = rest_call(url, "GET", "/nowhere")
        expect(status == 404, f"unknown route {status} {answer}")
        entries = [(e["service"], e["operation"], e["status"], e["fault"]) for e in control(url, "GET", "/_rebound/requests")[1]]
        expect(entries == [("arc-zonal-shift", "StartZonalShift", 429, "injected"),
                           ("arc-zonal-shift", "ListManagedResources", 200, None),
                           ("arc-zonal-shift", "unknown", 404, None)], f"{entries}")
        for path, body in (("/_rebound/zonal-shift/autoshift", {"away_from": "use1-az9"}),
                           ("/_rebound/zonal-shift/autoshift", {"away_from": "use1-az1", "extra": 1}),
                           ("/_rebound/zonal-shift/fis-experiment", {"resource_identifier": shift_lb}),
                           ("/_rebound/zonal-shift/practice-run", {"resource_identifier": shift_lb, "away_from": "use1-az1"})):
            status, answer = control(url, "POST", path, body)
            expect(status == 400 and "error" in answer, f"{path} {body}: {status} {answer}")

    check.run("ARC zonal shift: faults in the REST-JSON error shape, request log operations; control input errors",
              zonal_shift_faults_and_log)

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

    # ---- AWS Health scheduled changes ---------------------------------------------------

    def key_shape(value: Any) -> Any:
        """A JSON value's keys and types, not its values: what two events must share."""
        if isinstance(value, dict):
            return {k: key_shape(v) for k, v in value.items()}
        if isinstance(value, list):
            return [key_shape(v) for v in value]
        return type(value).__name__

    def health_events() -> None:
        instance = "i-0a1b2c3d4e5f60718"
        status, answer = control(url, "POST", "/_rebound/health-events", {
            "service": "EC2", "event_type_code": "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED",
            "entities": [instance], "start_time": "2026-12-05T02:00:00Z",
        })
        expect(status == 200 and "event" in answer, f"{status} {answer}")
        event = answer["event"]
        detail = event["detail"]
        expect((event["version"], event["detail-type"], event["source"]) == ("0", "AWS Health Event", "aws.health"),
               f"{event}")
        expect((event["account"], event["region"], event["resources"]) == ("123456789012", "us-east-1", [instance]),
               f"{event}")
        expect(dt.datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ") is not None, event["time"])
        expect(detail["eventArn"].startswith(
            "arn:aws:health:us-east-1::event/EC2/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED_"),
            detail["eventArn"])
        expect((detail["service"], detail["eventTypeCode"], detail["eventTypeCategory"], detail["eventScopeCode"],
                detail["statusCode"], detail["eventRegion"], detail["affectedAccount"])
               == ("EC2", "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED", "scheduledChange", "ACCOUNT_SPECIFIC", "upcoming",
                   "us-east-1", "123456789012"), f"{detail}")
        # RFC 1123, as AWS Health writes it; the end defaults to the start + 2 h.
        expect(detail["startTime"] == "Sat, 05 Dec 2026 02:00:00 GMT", detail["startTime"])
        expect(detail["endTime"] == "Sat, 05 Dec 2026 04:00:00 GMT", detail["endTime"])
        expect(dt.datetime.strptime(detail["lastUpdatedTime"], "%a, %d %b %Y %H:%M:%S GMT") is not None,
               detail["lastUpdatedTime"])
        expect([e["entityValue"] for e in detail["affectedEntities"]] == [instance], f"{detail['affectedEntities']}")
        # Field for field the shape of the samples the functions are tested with.
        sample = json.loads((REPO_ROOT / "events/target-health/health-instance-retirement-scheduled.json").read_text())
        expect(key_shape(event) == key_shape(sample), f"not the sample's shape: {key_shape(event)}")

        # An RDS one with the defaults: the window starts three days from now, lasts two hours.
        status, rds_answer = control(url, "POST", "/_rebound/health-events", {
            "service": "RDS", "event_type_code": "AWS_RDS_HARDWARE_MAINTENANCE_SCHEDULED", "entities": ["selfcheck-db"],
        })
        expect(status == 200, f"{status} {rds_answer}")
        rds_detail = rds_answer["event"]["detail"]
        start = dt.datetime.strptime(rds_detail["startTime"], "%a, %d %b %Y %H:%M:%S GMT")
        end = dt.datetime.strptime(rds_detail["endTime"], "%a, %d %b %Y %H:%M:%S GMT")
        lead = start - dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        expect(dt.timedelta(days=2, hours=23) < lead <= dt.timedelta(days=3), f"start {rds_detail['startTime']}")
        expect(end - start == dt.timedelta(hours=2), f"{rds_detail['startTime']} .. {rds_detail['endTime']}")
        rds_sample = json.loads((REPO_ROOT / "events/rds-health/health-maintenance-scheduled.json").read_text())
        expect(key_shape(rds_answer["event"]) == key_shape(rds_sample), "not the RDS sample's shape")
        expect(rds_answer["event"]["id"] != event["id"] and rds_detail["eventArn"] != detail["eventArn"],
               "ids and event ARNs must be fresh")

        status, listed = control(url, "GET", "/_rebound/health-events")
        expect(status == 200 and listed["events"] == [event, rds_answer["event"]], f"{status} {listed}")

        bad = [
            ({"service": "S3", "event_type_code": "AWS_S3_X", "entities": ["b"]}, "service"),
            ({"service": "EC2", "event_type_code": "AWS_RDS_HARDWARE_MAINTENANCE_SCHEDULED", "entities": [instance]},
             "event_type_code"),
            ({"service": "EC2", "event_type_code": "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED", "entities": []}, "entities"),
            ({"service": "EC2", "event_type_code": "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED", "entities": [instance],
              "start_time": "next Saturday"}, "start_time"),
            ({"service": "EC2", "event_type_code": "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED", "entities": [instance],
              "start_time": "2026-12-05T02:00:00Z", "end_time": "2026-12-05T01:00:00Z"}, "end_time"),
            ({"service": "EC2", "event_type_code": "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED", "entities": [instance],
              "status": "scheduled"}, "status"),
            ({"service": "EC2", "entities": [instance]}, "event_type_code"),
            ({"service": "EC2", "event_type_code": "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED", "entities": [instance],
              "instance": instance}, "instance"),
        ]
        for body, field in bad:
            status, answer = control(url, "POST", "/_rebound/health-events", body)
            expect(status == 400 and field in answer.get("error", ""), f"{body}: {status} {answer}")
        expect(len(control(url, "GET", "/_rebound/health-events")[1]["events"]) == 2, "a bad request was recorded")

        status, answer = control(url, "DELETE", "/_rebound/health-events")
        expect(status == 200 and answer == {"forgotten": 2}, f"{status} {answer}")
        expect(control(url, "GET", "/_rebound/health-events")[1] == {"events": []}, "DELETE left events")

    check.run("POST /_rebound/health-events emits AWS Health scheduled changes in the samples' shape; "
              "GET lists them, DELETE forgets them, bad input 400", health_events)

    def emit_health_event() -> None:
        status, answer = control(url, "POST", "/_rebound/health-events", {
            "service": "EC2", "event_type_code": "AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED",
            "entities": ["i-0a1b2c3d4e5f60718"],
        })
        expect(status == 200, f"{status} {answer}")

    def reset() -> None:
        control(url, "POST", "/_rebound/faults", {"operation": "PutItem", "error_code": "Throttling"})
        control(url, "POST", "/_rebound/latency", {"ms": 5})
        emit_health_event()
        expect(control(url, "POST", "/_rebound/reset")[0] == 200, "reset")
        expect(control(url, "GET", "/_rebound/health-events")[1] == {"events": []}, "health events survived reset")
        expect(control(url, "GET", "/_rebound/faults")[1]["faults"] == [], "faults survived reset")
        expect(control(url, "GET", "/_rebound/requests")[1] == [], "request log survived reset")
        expect(asg.describe_auto_scaling_groups()["AutoScalingGroups"] == [], "groups survived reset")
        expect(arc.list_zonal_shifts()["items"] == [] and arc.list_autoshifts(status="COMPLETED")["items"] == [],
               "zonal shifts survived reset")
        expect(control(url, "GET", "/_rebound/zonal-shift/clock")[1]["offset_seconds"] == 0, "clock offset survived reset")
        expect(control(url, "GET", "/_rebound/latency")[1]["ms"] == 0, "latency survived reset (the server's default: 0)")

    check.run("POST /_rebound/reset clears moto and the layer (zonal shifts and their clock, the latency included)",
              reset)

    def moto_reset() -> None:
        emit_health_event()
        request = urllib.request.Request(url + "/moto-api/reset", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            expect(response.status == 200, f"{response.status}")
        expect(control(url, "GET", "/_rebound/health-events")[1] == {"events": []}, "health events survived")

    check.run("POST /moto-api/reset clears the layer too (health events)", moto_reset)


if __name__ == "__main__":
    sys.exit(main())
