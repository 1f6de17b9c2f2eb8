#!/usr/bin/env python3
"""Rebound's local AWS emulator: moto's server plus a small fidelity layer.

    .venv/bin/python emulator/server.py --port 0

Binds 127.0.0.1 only. When ready it prints exactly one line to stdout,

    REBOUND_EMULATOR_URL=http://127.0.0.1:<port>

and serves until SIGTERM/SIGINT. Every AWS service answers on that one endpoint
(AWS_ENDPOINT_URL); moto routes each request by the SigV4 credential scope.

On top of moto (see emulator/README.md for the why of each):
  * fidelity.py patches moto's backends (target health overrides, ASG replacement
    instant or phased, target-group membership, standby, traffic sources, instance
    refreshes);
  * cloudwatch_cbor.py answers CloudWatch over Smithy RPC v2 CBOR (what the Rust SDK
    speaks) from moto's CloudWatch backend;
  * zonal_shift.py implements ARC zonal shift (REST-JSON), which moto lacks, with the
    load balancer attribute and the Auto Scaling group's impairment policy;
  * health_events.py emits AWS Health scheduled changes in the shape EventBridge
    delivers them (/_rebound/health-events), which moto lacks too;
  * this file adds fault injection (before moto, after moto with the answer lost, or
    a dropped connection), a request log, a simulated round trip per AWS request
    (--latency-ms, /_rebound/latency: off by default), and the /_rebound control API;
  * a global lock serialises AWS requests, because moto's backends are not
    thread-safe and DynamoDB conditional writes must be atomic for Rebound's
    "one open incident per resource" invariant to be testable with concurrency.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import selectors
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

# Running as `python emulator/server.py` puts emulator/ on sys.path; make the import
# work when loaded some other way too (e.g. runpy from the self-check).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import changes  # noqa: E402
import cloudwatch_cbor  # noqa: E402
import fidelity  # noqa: E402
import health_events  # noqa: E402
import zonal_shift  # noqa: E402
from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
import werkzeug.serving as werkzeug_serving  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

log = logging.getLogger("rebound.emulator")

StartResponse = Callable[..., Any]

# JSON-protocol error `__type` namespaces, so SDK error parsing sees the same shape
# as from the real service (the Rust SDK strips everything up to '#').
JSON_ERROR_NAMESPACE = {
    "dynamodb": "com.amazonaws.dynamodb.v20120810",
    "sqs": "com.amazonaws.sqs",
    "monitoring": "com.amazonaws.cloudwatch",
}

# JSON services that are @awsQueryCompatible: their errors also carry the legacy query
# error code in `x-amzn-query-error`, which the SDKs prefer.
QUERY_COMPATIBLE = ("sqs", "monitoring")

FAULT_DEFAULT_CODE = {500: "InternalFailure", 503: "ServiceUnavailable"}

# The real services' messages, when a fault gives none.
FAULT_DEFAULT_MESSAGE = {
    "TransactionConflictException": "Transaction is ongoing for the item",
}

# DynamoDB's CancellationReasons codes, and the message the real service puts with each
# ("None" has no message).
CANCELLATION_REASONS: dict[str, str | None] = {
    "None": None,
    "TransactionConflict": "Transaction is ongoing for the item",
    "ConditionalCheckFailed": "The conditional request failed",
    "ItemCollectionSizeLimitExceeded": "Collection size exceeded.",
    "ProvisionedThroughputExceeded": "The level of configured provisioned throughput for the table was exceeded. "
    "Consider increasing your provisioning level with the UpdateTable API",
    "ThrottlingError": "Throughput exceeds the current capacity for one or more global secondary indexes. "
    "DynamoDB is automatically scaling your index so please try again shortly.",
    "ValidationError": "One or more parameter values were invalid",
}
TRANSACTION_CANCELED = "TransactionCanceledException"


# The most a simulated round trip may take (POST /_rebound/latency): enough for any
# region, and short of an SDK's default timeouts.
MAX_LATENCY_MS = 10_000


class LayerState:
    """Everything the layer keeps besides moto's own state."""

    def __init__(self, latency_ms: float = 0.0) -> None:
        # Serialises every request that reaches moto (see module docstring).
        self.moto_lock = threading.Lock()
        # Guards the lists and the latency below; never held while calling into moto.
        self.lock = threading.Lock()
        self.faults: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        # The round trip every AWS request is given (POST /_rebound/latency), and what
        # a reset goes back to: the server's --latency-ms.
        self.default_latency_ms = latency_ms
        self.latency_ms = latency_ms

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()
            self.requests.clear()
            self.latency_ms = self.default_latency_ms
        with self.moto_lock:
            fidelity.reset_state()
            zonal_shift.reset_state()
            health_events.reset_state()

    def take_fault(self, service: str, operation: str) -> dict[str, Any] | None:
        """Consume one use of the first armed fault matching this call."""
        with self.lock:
            for fault in self.faults:
                if fault["operation"] == operation and fault.get("service") in (None, service):
                    fault["remaining"] -= 1
                    if fault["remaining"] <= 0:
                        self.faults.remove(fault)
                    return dict(fault)
        return None


# --------------------------------------------------------------------------------------
# Request inspection
# --------------------------------------------------------------------------------------


def buffer_body(environ: dict[str, Any]) -> bytes:
    """Read the whole request body and put a rewindable copy back, so both this layer
    and moto can read it. Handles chunked uploads (no Content-Length) as well."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def service_of(environ: dict[str, Any]) -> str:
    """Signing name from the SigV4 credential scope:
    `AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/autoscaling/aws4_request, ...`"""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    marker = "Credential="
    if marker in auth:
        scope = auth.split(marker, 1)[1].split(",", 1)[0].strip().split("/")
        if len(scope) == 5:
            return scope[3]
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.split("_", 1)[0].split(".", 1)[0].lower()
    return "unknown"


def is_connection_opener(environ: dict[str, Any]) -> bool:
    """An unsigned `GET /` with no query: what Rebound's functions send to open a
    connection before (or alongside) their first call. Never an AWS API call: every one
    is signed (presigned URLs carry their signature in the query)."""
    return (
        environ.get("REQUEST_METHOD") == "GET"
        and environ.get("PATH_INFO", "") in ("", "/")
        and not environ.get("QUERY_STRING")
        and not environ.get("HTTP_AUTHORIZATION")
        and not environ.get("HTTP_X_AMZ_TARGET")
    )


def access_key_of(environ: dict[str, Any]) -> str | None:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    marker = "Credential="
    if marker in auth:
        return auth.split(marker, 1)[1].split("/", 1)[0].strip() or None
    return None


def region_of(environ: dict[str, Any]) -> str:
    """The region of the SigV4 credential scope (us-east-1 without one)."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    marker = "Credential="
    if marker in auth:
        scope = auth.split(marker, 1)[1].split(",", 1)[0].strip().split("/")
        if len(scope) == 5 and scope[2]:
            return scope[2]
    return "us-east-1"


def account_of(environ: dict[str, Any]) -> str:
    """The account moto would use for this request: MOTO_ACCOUNT_ID, the
    x-moto-account-id header, else the one the access key maps to (the default
    123456789012 for any key moto does not know)."""
    if os.environ.get("MOTO_ACCOUNT_ID"):
        return os.environ["MOTO_ACCOUNT_ID"]
    if environ.get("HTTP_X_MOTO_ACCOUNT_ID"):
        return str(environ["HTTP_X_MOTO_ACCOUNT_ID"])
    from moto.iam.models import get_account_id_from

    return str(get_account_id_from(access_key_of(environ) or "testing"))


S3_OBJECT_OPERATIONS = {"PUT": "PutObject", "GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}
S3_BUCKET_OPERATIONS = {"PUT": "CreateBucket", "GET": "ListObjects", "HEAD": "HeadBucket", "DELETE": "DeleteBucket"}


def s3_operation_of(environ: dict[str, Any]) -> str:
    """S3 (REST-XML, path-style on a loopback endpoint): the object or bucket operation
    the method names, from `/<bucket>/<key>` or `/<bucket>`. Bucket sub-resources
    (`?policy`, `?lifecycle`, …) are not told apart from the plain bucket call."""
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "/").strip("/")
    if not path:
        return "ListBuckets" if method == "GET" else "unknown"
    if "/" in path:
        if method == "PUT" and environ.get("HTTP_X_AMZ_COPY_SOURCE"):
            return "CopyObject"
        return S3_OBJECT_OPERATIONS.get(method, "unknown")
    return S3_BUCKET_OPERATIONS.get(method, "unknown")


def operation_of(environ: dict[str, Any], body: bytes, service: str = "unknown") -> str:
    """`X-Amz-Target: DynamoDB_20120810.PutItem` -> PutItem for JSON protocols,
    the `Action` parameter (query string or form body) for query protocols, the path's
    last segment for RPC v2 CBOR (`/service/<service>/operation/<Operation>`), the
    route for ARC zonal shift's REST-JSON."""
    cbor_operation = cloudwatch_cbor.operation_of(environ)
    if cbor_operation is not None:
        return cbor_operation
    if service == zonal_shift.SERVICE:
        return zonal_shift.operation_of(environ) or "unknown"
    if service == "s3":
        return s3_operation_of(environ)
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.rsplit(".", 1)[-1]
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" in query:
        return query["Action"][0]
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded") and body:
        form = parse_qs(body.decode("utf-8", "replace"))
        if "Action" in form:
            return form["Action"][0]
    return "unknown"


# --------------------------------------------------------------------------------------
# Protocol-correct error responses (for injected faults and moto crashes)
# --------------------------------------------------------------------------------------


def aws_error(
    environ: dict[str, Any], service: str, code: str, message: str, status: int,
    extra: dict[str, Any] | None = None,
) -> tuple[int, list[tuple[str, str]], bytes]:
    """`extra` adds members to a JSON-protocol error body (CancellationReasons)."""
    if cloudwatch_cbor.is_cbor_request(environ, service):
        # Smithy RPC v2 CBOR (CloudWatch through the Rust SDK).
        return cloudwatch_cbor.cbor_error(code, message, status)
    if service == zonal_shift.SERVICE:
        # REST-JSON (ARC zonal shift).
        return zonal_shift.error_answer(code, message, status)
    request_id = str(uuid.uuid4())
    if environ.get("HTTP_X_AMZ_TARGET"):
        # awsJson1_0 / awsJson1_1 (DynamoDB, DynamoDB Streams, SQS in current SDKs).
        namespace = JSON_ERROR_NAMESPACE.get(service, f"com.amazonaws.{service}")
        content_type = environ.get("CONTENT_TYPE") or "application/x-amz-json-1.0"
        body = json.dumps({"__type": f"{namespace}#{code}", "message": message, **(extra or {})}).encode()
        headers = [
            ("Content-Type", content_type),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", code),
        ]
        if service in QUERY_COMPATIBLE:
            # SQS's and CloudWatch's JSON protocol carry the legacy query error code here too.
            fault_type = "Sender" if status < 500 else "Receiver"
            headers.append(("x-amzn-query-error", f"{code};{fault_type}"))
        return status, headers, body
    if service == "ec2":
        # The EC2 protocol has its own error envelope.
        xml = (
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            f"<Response><Errors><Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
    else:
        # awsQuery (elasticloadbalancing, autoscaling, sns, ...).
        fault_type = "Sender" if status < 500 else "Receiver"
        xml = (
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            f"<ErrorResponse><Error><Type>{fault_type}</Type><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    return status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], xml.encode()


def fault_error(
    environ: dict[str, Any], service: str, fault: dict[str, Any], body: bytes
) -> tuple[int, list[tuple[str, str]], bytes]:
    """The error an armed fault answers with. TransactionCanceledException on a JSON
    service carries CancellationReasons, one per TransactItems entry like the real one:
    the fault's own list, or TransactionConflict for the first item and None for the
    rest."""
    code, message, status = fault["error_code"], fault["message"], fault["status"]
    if code != TRANSACTION_CANCELED or not environ.get("HTTP_X_AMZ_TARGET"):
        return aws_error(environ, service, code, message or f"Injected fault {code}", status)
    reasons = fault.get("cancellation_reasons")
    if not reasons:
        try:
            items = len(json.loads(body or b"{}").get("TransactItems") or [])
        except (ValueError, AttributeError):
            items = 0
        reasons = ["TransactionConflict"] + ["None"] * max(items - 1, 0)
    if message is None:
        message = (
            "Transaction cancelled, please refer cancellation reasons for specific reasons "
            f"[{', '.join(reasons)}]"
        )
    cancellation = [
        {"Code": r, "Message": CANCELLATION_REASONS[r]} if CANCELLATION_REASONS[r] else {"Code": r}
        for r in reasons
    ]
    return aws_error(environ, service, code, message, status, {"CancellationReasons": cancellation})


def wait_on_the_wire(seconds: float) -> None:
    """One way of a simulated round trip to the region (POST /_rebound/latency)."""
    if seconds > 0:
        time.sleep(seconds)


def drop_connection(environ: dict[str, Any]) -> None:
    """Close the client's connection with no HTTP response at all, then unwind the
    request: werkzeug treats a ConnectionError from the app as a dropped connection
    and writes nothing."""
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise ConnectionAbortedError("rebound fault: connection dropped after commit")


# --------------------------------------------------------------------------------------
# The WSGI application
# --------------------------------------------------------------------------------------


class BadRequest(Exception):
    """A control request the caller got wrong: answered 400 with the message."""


def _status_line(status: int) -> str:
    from http import HTTPStatus

    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Error"


KEEP_ALIVE = "rebound.keep_alive"
# time.perf_counter() when the server had read the request line: the emulator's time on a
# request starts there, so the HTTP parsing before the application runs counts as the
# emulator's, not as the client's (the benchmark subtracts it from a function's latency).
RECEIVED_AT = "rebound.received_at"
# The request log's record of this request, for the server to add the time it took to
# write the answer once it has.
LOG_RECORD = "rebound.log_record"
# Per handler thread: whether the request being answered keeps its connection open.
_connection_kept = threading.local()


class _EmptySelector:
    """A selector that never reports data: see _DrainUnlessKeptOpen."""

    def register(self, *_args: Any) -> None:
        pass

    def select(self, timeout: float | None = None) -> list[Any]:
        return []

    def close(self) -> None:
        pass


class _DrainUnlessKeptOpen:
    """Werkzeug's `selectors` as seen by werkzeug.serving. After each response werkzeug
    reads whatever else the client sent (it assumes every connection closes); on a
    kept-alive connection that is the client's next request, so for those requests the
    drain sees nothing to read."""

    def __getattr__(self, name: str) -> Any:
        return getattr(selectors, name)

    @staticmethod
    def DefaultSelector() -> Any:  # noqa: N802 - the name werkzeug calls
        if getattr(_connection_kept, "active", False):
            return _EmptySelector()
        return selectors.DefaultSelector()


werkzeug_serving.selectors = _DrainUnlessKeptOpen()  # type: ignore[assignment]


class KeepAliveRequestHandler(MotoRequestHandler):
    """Keeps an HTTP/1.1 connection open after an AWS request, as AWS endpoints do, so a
    client pays for one connection, not one per call. Werkzeug's server closes every
    connection (`Connection: close`) because it cannot tell whether the application read
    the request body; ReboundApp reads every AWS request's body whole before answering
    and marks those requests (KEEP_ALIVE), so their connections stay open. Control and
    moto-api requests, and clients that ask for `Connection: close`, still close."""

    # An idle kept-alive connection holds a thread; a client gone quiet frees it here.
    timeout = 60

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in separate writes; with Nagle's algorithm the body
        # would wait for the client's delayed ACK (40 ms) on a kept-alive connection.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle_one_request(self) -> None:
        self._received_at: float | None = None
        super().handle_one_request()
        # The answer has been written: its writing is the emulator's time too.
        environ = getattr(self, "_environ", None)
        received_at = self._received_at
        if environ is not None and received_at is not None and environ.get(RECEIVED_AT) == received_at:
            record = environ.get(LOG_RECORD)
            if record is not None:
                record["duration_s"] = time.perf_counter() - received_at

    def parse_request(self) -> bool:
        self._received_at = time.perf_counter()
        return bool(super().parse_request())

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        environ[RECEIVED_AT] = getattr(self, "_received_at", None)
        self._environ = environ
        _connection_kept.active = False
        return environ

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "connection" and value.lower() == "close":
            environ = getattr(self, "_environ", None)
            if (
                environ is not None
                and environ.get(KEEP_ALIVE)
                and self.request_version == "HTTP/1.1"
                and not self.close_connection
            ):
                _connection_kept.active = True
                return
        super().send_header(keyword, value)


class ReboundApp:
    def __init__(self, moto_app: DomainDispatcherApplication, state: LayerState) -> None:
        self.moto_app = moto_app
        self.state = state
        self.control: dict[str, dict[str, Callable[[Any], tuple[int, Any]]]] = {
            "/_rebound/health": {"GET": lambda _b: (200, {"status": "ok"})},
            "/_rebound/reset": {"POST": self.reset},
            "/_rebound/target-health": {
                "GET": lambda _b: (200, {"overrides": self._locked(fidelity.list_health_overrides)}),
                "POST": self.post_target_health,
                "DELETE": self.delete_target_health,
            },
            "/_rebound/console-output": {
                "GET": lambda _b: (200, {"console_outputs": self._locked(fidelity.list_console_outputs)}),
                "POST": self.post_console_output,
                "DELETE": self.delete_console_output,
            },
            "/_rebound/faults": {
                "GET": lambda _b: (200, {"faults": self.active_faults()}),
                "POST": self.post_faults,
                "DELETE": self.delete_faults,
            },
            "/_rebound/requests": {
                "GET": lambda _b: (200, self.request_log()),
                "DELETE": self.delete_requests,
            },
            "/_rebound/latency": {
                "GET": lambda _b: (200, self.latency()),
                "POST": self.post_latency,
                "DELETE": lambda _b: self.set_latency(0),
            },
            "/_rebound/replacement-mode": {
                "GET": lambda _b: (200, {"mode": self._locked(fidelity.get_replacement_mode)}),
                "POST": self.post_replacement_mode,
            },
            "/_rebound/replacements": {
                "GET": lambda _b: (200, {"replacements": self._locked(fidelity.list_replacements)}),
            },
            "/_rebound/advance": {"POST": self.post_advance},
            "/_rebound/grace-period": {
                "GET": lambda _b: (200, {"respected": self._locked(fidelity.get_grace_period_respected)}),
                "POST": self.post_grace_period,
            },
            "/_rebound/rds-mode": {
                "GET": lambda _b: (200, {"mode": self._locked(fidelity.get_rds_mode)}),
                "POST": self.post_rds_mode,
            },
            "/_rebound/rds-advance": {"POST": self.post_rds_advance},
            "/_rebound/db-instance-status": {"POST": self.post_db_status},
            "/_rebound/zonal-shift/autoshift": {
                "POST": self._zonal_control(zonal_shift.control_start_autoshift, {"away_from"},
                                            {"resource_identifier", "region", "account"}),
                "DELETE": self._zonal_control(zonal_shift.control_end_autoshift, {"away_from"}, {"region", "account"}),
            },
            "/_rebound/zonal-shift/practice-run": {
                "POST": self._zonal_control(lambda b: zonal_shift.control_start_shift(b, "PRACTICE_RUN"),
                                            {"resource_identifier", "away_from"}, {"comment"}),
                "DELETE": self._zonal_control(zonal_shift.control_end_practice_run, {"zonal_shift_id"}, {"outcome"}),
            },
            "/_rebound/zonal-shift/fis-experiment": {
                "POST": self._zonal_control(lambda b: zonal_shift.control_start_shift(b, "FIS_EXPERIMENT"),
                                            {"resource_identifier", "away_from"}, {"expires_in", "comment"}),
            },
            "/_rebound/zonal-shift/clock": {
                "GET": lambda _b: (200, self._locked(zonal_shift.clock)),
                "POST": self._zonal_control(zonal_shift.control_advance_clock, {"advance_seconds"}, set()),
            },
            "/_rebound/zonal-shift/expiry": {
                "POST": self._zonal_control(zonal_shift.control_set_expiry, {"zonal_shift_id", "expires_in_seconds"},
                                            set()),
            },
            "/_rebound/cloudformation/stack-status": {
                "POST": self._changes_control(changes.set_stack_status, "stack_name", "stack"),
            },
            "/_rebound/codedeploy/deployment-status": {
                "POST": self._changes_control(changes.set_deployment_status, "deployment_id", "deployment"),
            },
            "/_rebound/rds-events": {
                "GET": lambda _b: (200, {"events": self._locked(fidelity.list_rds_events)}),
                "DELETE": lambda _b: (200, {"forgotten": self._locked(fidelity.clear_rds_events)}),
            },
            "/_rebound/health-events": {
                "GET": lambda _b: (200, {"events": self._locked(health_events.list_health_events)}),
                "POST": self.post_health_event,
                "DELETE": lambda _b: (200, {"forgotten": self._locked(health_events.clear_health_events)}),
            },
        }

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_rebound"):
            return self.handle_control(environ, start_response)
        if path.startswith("/moto-api") or path == "/favicon.ico":
            result = self.dispatch_to_moto(environ, start_response)
            if path.rstrip("/") == "/moto-api/reset" and environ.get("REQUEST_METHOD") == "POST":
                self.state.clear()  # moto's own reset must not leave our overrides behind
            return result
        return self.handle_aws(environ, start_response)

    # ---- AWS requests ---------------------------------------------------------------

    def handle_aws(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if is_connection_opener(environ):
            # A function opening its connections ahead (an unsigned `GET /`, no action):
            # no AWS call, so neither logged nor given a round trip (bench/tls_front.py
            # models what opening a connection costs).
            buffer_body(environ)
            environ[KEEP_ALIVE] = True
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "0")])
            return [b""]
        started_perf = time.perf_counter()
        received_at = environ.get(RECEIVED_AT)
        if isinstance(received_at, float) and received_at <= started_perf:
            started_perf = received_at
        started = time.time() - (time.perf_counter() - started_perf)
        timing: dict[str, float] = {}
        body = buffer_body(environ)
        # The whole request has been read: the connection may carry the next one.
        environ[KEEP_ALIVE] = True
        service = service_of(environ)
        operation = operation_of(environ, body, service)
        captured: dict[str, int | None] = {}
        entry: dict[str, Any] = {"fault": None}

        def capturing_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"] = int(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        def committed_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            # moto's answer to a request whose answer the fault replaces: keep the status only.
            entry["committed_status"] = int(status.split(" ", 1)[0])
            return lambda _data: None

        # The simulated round trip to the region (POST /_rebound/latency): half on the
        # request's way there, before anything is served, half on the answer's way back.
        # Slept here, outside both locks, so the calls a client makes in parallel wait
        # at the same time while the calls it makes one after another add up their waits.
        with self.state.lock:
            latency_s = self.state.latency_ms / 1000
        one_way_s = latency_s / 2
        wait_on_the_wire(one_way_s)
        fault = self.state.take_fault(service, operation)
        try:
            if fault is None:
                answer = self.dispatch(environ, capturing_start_response, service=service, timing=timing)
                wait_on_the_wire(one_way_s)
                return answer
            if fault["drop_connection"] or fault["after_commit"]:
                # The call takes effect; only its answer is lost.
                self.dispatch(environ, committed_start_response, service=service, timing=timing)
                if fault["drop_connection"]:
                    log.info("dropping the connection of %s.%s after commit", service, operation)
                    entry["fault"] = "dropped"
                    captured["status"] = None
                    wait_on_the_wire(one_way_s)  # the connection's end travels back too
                    drop_connection(environ)
                entry["fault"] = "after_commit"
            else:
                entry["fault"] = "injected"
            log.info("injecting %s %s into %s.%s (%s)", fault["status"], fault["error_code"], service, operation,
                     entry["fault"])
            status, headers, payload = fault_error(environ, service, fault, body)
            capturing_start_response(_status_line(status), headers)
            wait_on_the_wire(one_way_s)
            return [payload]
        finally:
            # The answer is complete and goes to the server to be written (werkzeug
            # writes what this returns). A client that reads it and then makes its next
            # call is sure to arrive after this moment; the moment the write has ended
            # (duration_s, below) gives no such order, since another handler thread may
            # read that next call before this one notes the end of its write.
            answered_perf = time.perf_counter()
            record = {
                "service": service,
                "operation": operation,
                "at": started,
                # None when the connection was dropped (no HTTP answer at all).
                "status": captured.get("status", 500),
                # Wall time from the request line read (HTTP parsing included) to the
                # answer written (KeepAliveRequestHandler updates it once the answer has
                # left), simulated latency included, and the part spent serving inside
                # moto's lock: the benchmark sums busy_s to tell the emulator's own share.
                "duration_s": answered_perf - started_perf,
                # The same start on the monotonic clock (time.perf_counter(), which is
                # CLOCK_MONOTONIC on Linux), for the benchmark's union of busy intervals
                # (parallel calls overlap: their durations do not add up): when the call
                # arrived.
                "started_s": started_perf,
                # When its answer was ready to be written, on the same clock: a call that
                # arrived after another's answered_s was made after that one's answer
                # (the benchmark's dependent round trips).
                "answered_s": answered_perf,
                # The simulated round trip this call was given (in duration_s, not busy_s).
                "latency_s": latency_s,
                "busy_s": timing.get("busy_s", 0.0),
                **entry,
            }
            environ[LOG_RECORD] = record
            with self.state.lock:
                self.state.requests.append(record)

    def dispatch(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        service: str = "unknown",
        timing: dict[str, float] | None = None,
    ) -> Iterable[bytes]:
        """An AWS request: answered by the layer's own protocol handlers (CloudWatch RPC
        v2 CBOR, ARC zonal shift) or by moto, under the global lock either way."""
        handler = self.layer_handler(environ, service)
        if handler is None:
            return self.dispatch_to_moto(environ, start_response, service=service, timing=timing)
        body = buffer_body(environ)
        with self.state.moto_lock:
            entered = time.perf_counter()
            try:
                status, headers, payload = handler(environ, body)
            except Exception as exc:  # a bug in the layer must still answer in the protocol
                log.error("layer failed on %s: %s\n%s", environ.get("PATH_INFO"), exc, traceback.format_exc())
                status, headers, payload = aws_error(
                    environ, service, "InternalFailure", f"emulator error: {type(exc).__name__}: {exc}", 500
                )
            finally:
                if timing is not None:
                    timing["busy_s"] = time.perf_counter() - entered
        start_response(_status_line(status), list(headers) + [("Content-Length", str(len(payload)))])
        return [payload]

    def layer_handler(
        self, environ: dict[str, Any], service: str
    ) -> Callable[[dict[str, Any], bytes], tuple[int, list[tuple[str, str]], bytes]] | None:
        if cloudwatch_cbor.is_cbor_request(environ, service):
            return lambda env, body: cloudwatch_cbor.handle_cbor(env, body, self._cloudwatch_context(env))
        if cloudwatch_cbor.is_own_json_request(environ, service):
            return lambda env, body: cloudwatch_cbor.handle_json(env, body, self._cloudwatch_context(env))
        if service == zonal_shift.SERVICE:
            return lambda env, body: zonal_shift.handle(env, body, account_of(env), region_of(env))
        return None

    def _cloudwatch_context(self, environ: dict[str, Any]) -> cloudwatch_cbor.Context:
        def call_moto_json(operation: str, params: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
            """moto's awsJson1_0 CloudWatch, called with the lock already held."""
            data = json.dumps(params).encode()
            env = dict(environ)
            for key in ("HTTP_SMITHY_PROTOCOL", "HTTP_CONTENT_TYPE", "HTTP_ACCEPT"):
                env.pop(key, None)
            env.update({
                "REQUEST_METHOD": "POST",
                "PATH_INFO": "/",
                "RAW_URI": "/",
                "REQUEST_URI": "/",
                "QUERY_STRING": "",
                "CONTENT_TYPE": "application/x-amz-json-1.0",
                "CONTENT_LENGTH": str(len(data)),
                "wsgi.input": io.BytesIO(data),
                "HTTP_X_AMZ_TARGET": f"{cloudwatch_cbor.TARGET_PREFIX}.{operation}",
            })
            captured: dict[str, Any] = {}

            def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                captured["status"] = int(status.split(" ", 1)[0])
                captured["headers"] = dict(headers)
                return lambda _data: None

            app_iter = self.moto_app(env, capture)
            try:
                payload = b"".join(app_iter)
            finally:
                close = getattr(app_iter, "close", None)
                if close:
                    close()
            return captured.get("status", 500), captured.get("headers", {}), payload

        return cloudwatch_cbor.Context(account_of(environ), region_of(environ), call_moto_json)

    def dispatch_to_moto(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        service: str = "unknown",
        timing: dict[str, float] | None = None,
    ) -> Iterable[bytes]:
        """Run moto under the global lock and materialise the response inside it, so no
        other request can observe or change moto state half-way through this one."""
        with self.state.moto_lock:
            entered = time.perf_counter()
            try:
                app_iter = self.moto_app(environ, start_response)
                try:
                    return [b"".join(app_iter)]
                finally:
                    close = getattr(app_iter, "close", None)
                    if close:
                        close()
            except Exception as exc:  # moto bug or unimplemented action
                log.error("moto failed on %s: %s\n%s", environ.get("PATH_INFO"), exc, traceback.format_exc())
                status, headers, payload = aws_error(
                    environ, service, "InternalFailure", f"emulator error: {type(exc).__name__}: {exc}", 500
                )
                start_response(_status_line(status), headers, sys.exc_info())
                return [payload]
            finally:
                if timing is not None:
                    timing["busy_s"] = time.perf_counter() - entered

    # ---- control API ----------------------------------------------------------------

    def handle_control(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "").rstrip("/")
        method = environ.get("REQUEST_METHOD", "GET")
        routes = self.control.get(path)
        extra_headers: list[tuple[str, str]] = []
        if routes is None:
            status, payload = 404, {"error": f"no control endpoint {path}; see emulator/README.md"}
        elif method not in routes:
            status, payload = 405, {"error": f"{method} not allowed on {path}; use {', '.join(routes)}"}
            extra_headers.append(("Allow", ", ".join(routes)))
        else:
            try:
                body = self._json_body(environ)
                status, payload = routes[method](body)
            except BadRequest as exc:
                status, payload = 400, {"error": str(exc)}
            except Exception as exc:  # a bug here must still answer JSON
                log.error("control %s %s failed\n%s", method, path, traceback.format_exc())
                status, payload = 500, {"error": f"{type(exc).__name__}: {exc}"}
        data = json.dumps(payload, default=str).encode()
        start_response(
            _status_line(status),
            [("Content-Type", "application/json"), ("Content-Length", str(len(data)))] + extra_headers,
        )
        return [data]

    @staticmethod
    def _json_body(environ: dict[str, Any]) -> Any:
        raw = buffer_body(environ)
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise BadRequest(f"body is not valid JSON: {exc}") from None

    def _locked(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call into fidelity/moto state under the same lock AWS requests hold."""
        with self.state.moto_lock:
            return fn(*args)

    def reset(self, _body: Any) -> tuple[int, Any]:
        from moto.moto_api._internal.models import moto_api_backend

        with self.state.moto_lock:
            moto_api_backend.reset()
        self.state.clear()
        return 200, {"status": "ok"}

    # target health

    def post_target_health(self, body: Any) -> tuple[int, Any]:
        items = body if isinstance(body, list) else [body]
        if not items or not all(isinstance(i, dict) for i in items):
            raise BadRequest(
                'expected {"target_group_arn": "...", "instance_id": "i-...", "state": "unhealthy", '
                '"reason": "...", "description": "..."} or a list of such objects'
            )
        unknown = {k for i in items for k in i} - {"target_group_arn", "instance_id", "state", "reason", "description"}
        if unknown:
            raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
        with self.state.moto_lock:
            try:
                # Validate all first: a list is applied entirely or not at all.
                validated = [
                    fidelity.validate_health_override(
                        i.get("target_group_arn"), i.get("instance_id"), i.get("state"),
                        i.get("reason"), i.get("description"),
                    )
                    for i in items
                ]
            except ValueError as exc:
                raise BadRequest(str(exc)) from None
            for override in validated:
                fidelity.store_health_override(override)
        return 200, {"status": "ok", "overrides": validated}

    def delete_target_health(self, body: Any) -> tuple[int, Any]:
        body = body or {}
        if not isinstance(body, dict):
            raise BadRequest('expected no body (clear all), or {"target_group_arn": "...", "instance_id": "i-..."}')
        arn, iid = body.get("target_group_arn"), body.get("instance_id")
        if iid is not None and arn is None:
            raise BadRequest("instance_id needs target_group_arn")
        with self.state.moto_lock:
            cleared = fidelity.clear_health_overrides(arn, iid)
        return 200, {"status": "ok", "cleared": cleared}

    # faults

    def active_faults(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return [dict(f) for f in self.state.faults]

    def post_faults(self, body: Any) -> tuple[int, Any]:
        items = body if isinstance(body, list) else [body]
        if not items or not all(isinstance(i, dict) for i in items):
            raise BadRequest(
                'expected {"operation": "DescribeTargetHealth", "error_code": "Throttling", "status": 400, '
                '"count": 1, "message": "Rate exceeded"} or a list of such objects'
            )
        faults = [self._validate_fault(i) for i in items]
        with self.state.lock:
            self.state.faults.extend(faults)
        return 200, {"status": "ok", "faults": self.active_faults()}

    @staticmethod
    def _validate_fault(item: dict[str, Any]) -> dict[str, Any]:
        unknown = set(item) - {
            "operation", "service", "error_code", "status", "count", "message",
            "after_commit", "drop_connection", "cancellation_reasons",
        }
        if unknown:
            raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
        for flag in ("after_commit", "drop_connection"):
            if not isinstance(item.get(flag, False), bool):
                raise BadRequest(f"{flag} must be true or false")
        drop = item.get("drop_connection", False)
        after_commit = item.get("after_commit", False) or drop
        operation = item.get("operation")
        if not isinstance(operation, str) or not operation:
            raise BadRequest("operation (string, e.g. DescribeTargetHealth or PutItem) is required")
        service = item.get("service")
        if service is not None and (not isinstance(service, str) or not service):
            raise BadRequest("service must be a SigV4 signing name such as autoscaling or dynamodb")
        status = item.get("status", 400)
        if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
            raise BadRequest("status must be an integer HTTP error status, 400-599")
        code = item.get("error_code", FAULT_DEFAULT_CODE.get(status))
        if drop and code is None:
            code = "ConnectionDropped"  # never sent: the client gets no answer at all
        if not isinstance(code, str) or not code:
            raise BadRequest("error_code (string, e.g. Throttling) is required for 4xx faults")
        reasons = item.get("cancellation_reasons")
        if reasons is not None:
            if code != TRANSACTION_CANCELED:
                raise BadRequest(f"cancellation_reasons needs error_code {TRANSACTION_CANCELED}")
            if (
                not isinstance(reasons, list)
                or not reasons
                or not all(isinstance(r, str) and r in CANCELLATION_REASONS for r in reasons)
            ):
                raise BadRequest(
                    "cancellation_reasons must be a non-empty list of DynamoDB cancellation codes: "
                    + ", ".join(CANCELLATION_REASONS)
                )
        count = item.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise BadRequest("count must be a positive integer")
        # A TransactionCanceledException's default message lists the reasons; it is
        # built per request (None here), since the reasons may depend on the request.
        default_message = None if code == TRANSACTION_CANCELED else FAULT_DEFAULT_MESSAGE.get(code, f"Injected fault {code}")
        message = item.get("message", default_message)
        if message is not None and not isinstance(message, str):
            raise BadRequest("message must be a string")
        return {
            "operation": operation,
            "service": service,
            "error_code": code,
            "status": status,
            "count": count,
            "remaining": count,
            "message": message,
            "after_commit": after_commit,
            "drop_connection": drop,
            "cancellation_reasons": reasons,
        }

    def delete_faults(self, body: Any) -> tuple[int, Any]:
        body = body or {}
        if not isinstance(body, dict):
            raise BadRequest('expected no body (clear all) or {"operation": "..."}')
        operation = body.get("operation")
        with self.state.lock:
            before = len(self.state.faults)
            self.state.faults[:] = [f for f in self.state.faults if operation is not None and f["operation"] != operation]
            cleared = before - len(self.state.faults)
        return 200, {"status": "ok", "cleared": cleared}

    # replacement over time

    def post_replacement_mode(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or set(body) != {"mode"}:
            raise BadRequest('expected {"mode": "phased"} or {"mode": "instant"}')
        with self.state.moto_lock:
            try:
                mode = fidelity.set_replacement_mode(body["mode"])
            except ValueError as exc:
                raise BadRequest(str(exc)) from None
        return 200, {"status": "ok", "mode": mode}

    def post_console_output(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not set(body) <= {"instance_id", "output", "error_code", "message"}:
            raise BadRequest('expected {"instance_id", "output"} or {"instance_id", "error_code", "message"?}')
        with self.state.moto_lock:
            try:
                answer = fidelity.set_console_output(**body)
            except (TypeError, ValueError) as exc:
                raise BadRequest(str(exc)) from None
        return 200, {"status": "ok", "console_output": answer}

    def delete_console_output(self, body: Any) -> tuple[int, Any]:
        body = body if body is not None else {}
        if not isinstance(body, dict) or set(body) - {"instance_id"}:
            raise BadRequest('expected no body (all) or {"instance_id"}')
        with self.state.moto_lock:
            cleared = fidelity.clear_console_outputs(body.get("instance_id"))
        return 200, {"status": "ok", "cleared": cleared}

    def post_grace_period(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or set(body) != {"respected"}:
            raise BadRequest('expected {"respected": true} or {"respected": false}')
        with self.state.moto_lock:
            try:
                respected = fidelity.set_grace_period_respected(body["respected"])
            except ValueError as exc:
                raise BadRequest(str(exc)) from None
        return 200, {"status": "ok", "respected": respected}

    def post_advance(self, body: Any) -> tuple[int, Any]:
        body = body if body is not None else {}
        if not isinstance(body, dict) or set(body) - {"auto_scaling_group"}:
            raise BadRequest('expected no body (every group) or {"auto_scaling_group": "NAME"}')
        name = body.get("auto_scaling_group")
        if name is not None and (not isinstance(name, str) or not name):
            raise BadRequest("auto_scaling_group must be a group name (string)")
        with self.state.moto_lock:
            try:
                moved = fidelity.advance(name)
            except ValueError as exc:
                raise BadRequest(str(exc)) from None
        return 200, {"status": "ok", "replacements": moved}

    # RDS reboots and failovers over time

    def post_rds_mode(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or set(body) != {"mode"}:
            raise BadRequest('expected {"mode": "phased"} or {"mode": "instant"}')
        with self.state.moto_lock:
            try:
                mode = fidelity.set_rds_mode(body["mode"])
            except ValueError as exc:
                raise BadRequest(str(exc)) from None
        return 200, {"status": "ok", "mode": mode}

    def post_rds_advance(self, body: Any) -> tuple[int, Any]:
        body = body if body is not None else {}
        if not isinstance(body, dict) or set(body) - {"db_instance_identifier"}:
            raise BadRequest('expected no body (every instance) or {"db_instance_identifier": "NAME"}')
        name = body.get("db_instance_identifier")
        if name is not None and (not isinstance(name, str) or not name):
            raise BadRequest("db_instance_identifier must be a DB instance identifier (string)")
        with self.state.moto_lock:
            try:
                done = fidelity.rds_advance(name)
            except ValueError as exc:
                raise BadRequest(str(exc)) from None
        return 200, {"status": "ok", "finished": done}

    def post_db_status(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or set(body) != {"db_instance_identifier", "status"}:
            raise BadRequest('expected {"db_instance_identifier": "NAME", "status": "backing-up"}')
        with self.state.moto_lock:
            try:
                result = fidelity.set_db_status(body["db_instance_identifier"], body["status"])
            except ValueError as exc:
                raise BadRequest(str(exc)) from None
        return 200, {"status": "ok", "db_instance": result}

    # AWS Health: scheduled changes, as EventBridge would deliver them

    def post_health_event(self, body: Any) -> tuple[int, Any]:
        fields = {"service", "event_type_code", "entities", "start_time", "end_time", "status", "account", "region"}
        if not isinstance(body, dict):
            raise BadRequest(
                'expected {"service": "EC2" | "RDS", "event_type_code": "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED", '
                '"entities": ["i-..."], "start_time"?, "end_time"?, "status"?, "account"?, "region"?}'
            )
        missing = {"service", "event_type_code", "entities"} - set(body)
        if missing:
            raise BadRequest(f"missing field(s): {', '.join(sorted(missing))}")
        unknown = set(body) - fields
        if unknown:
            raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
        # The account moto gives a request that names none (MOTO_ACCOUNT_ID, else moto's
        # default): the one the stack the event is about was provisioned in.
        account = account_of({})
        with self.state.moto_lock:
            try:
                event = health_events.emit(body, account)
            except ValueError as exc:
                raise BadRequest(str(exc)) from None
        return 200, {"event": event}

    # ARC zonal shift: what AWS does on its own

    def _zonal_control(
        self, fn: Callable[[dict[str, Any]], dict[str, Any]], required: set[str], optional: set[str]
    ) -> Callable[[Any], tuple[int, Any]]:
        def call(body: Any) -> tuple[int, Any]:
            body = body if body is not None else {}
            if not isinstance(body, dict):
                raise BadRequest(f"expected a JSON object with {', '.join(sorted(required))}")
            missing = required - set(body)
            unknown = set(body) - required - optional
            if missing:
                raise BadRequest(f"missing field(s): {', '.join(sorted(missing))}")
            if unknown:
                raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
            with self.state.moto_lock:
                try:
                    result = fn(body)
                except ValueError as exc:
                    raise BadRequest(str(exc)) from None
            return 200, {"status": "ok", **result}

        return call

    # changes in flight: a stack's status, a deployment's

    def _changes_control(
        self, fn: Callable[[Any, Any], dict[str, Any]], key: str, answer: str
    ) -> Callable[[Any], tuple[int, Any]]:
        def call(body: Any) -> tuple[int, Any]:
            if not isinstance(body, dict) or set(body) != {key, "status"}:
                raise BadRequest(f'expected {{"{key}": …, "status": …}}')
            with self.state.moto_lock:
                try:
                    result = fn(body[key], body["status"])
                except ValueError as exc:
                    raise BadRequest(str(exc)) from None
            return 200, {"status": "ok", answer: result}

        return call

    # simulated latency

    def latency(self) -> dict[str, Any]:
        with self.state.lock:
            return {"ms": self.state.latency_ms, "default_ms": self.state.default_latency_ms}

    def post_latency(self, body: Any) -> tuple[int, Any]:
        ms = body.get("ms") if isinstance(body, dict) and set(body) == {"ms"} else None
        if not isinstance(ms, (int, float)) or isinstance(ms, bool) or not 0 <= ms <= MAX_LATENCY_MS:
            raise BadRequest(f'expected {{"ms": N}}, N a number of milliseconds from 0 (off) to {MAX_LATENCY_MS}')
        return self.set_latency(ms)

    def set_latency(self, ms: float) -> tuple[int, Any]:
        with self.state.lock:
            self.state.latency_ms = ms
        return 200, {"status": "ok", **self.latency()}

    # request log

    def request_log(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return [dict(r) for r in self.state.requests]

    def delete_requests(self, _body: Any) -> tuple[int, Any]:
        with self.state.lock:
            cleared = len(self.state.requests)
            self.state.requests.clear()
        return 200, {"status": "ok", "cleared": cleared}


# --------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1; 0 picks a free one (default)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=float(os.environ.get("REBOUND_EMULATOR_LATENCY_MS") or 0),
        help="simulated round trip of every AWS request, in ms (default: $REBOUND_EMULATOR_LATENCY_MS, else 0 = off); "
        "POST /_rebound/latency changes it, a reset restores it",
    )
    parser.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop when the process that started this one exits (no orphan if a script is killed)",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.latency_ms <= MAX_LATENCY_MS:
        parser.error(f"--latency-ms must be from 0 to {MAX_LATENCY_MS}")

    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO if args.verbose else logging.WARNING,
        format="emulator %(levelname)s %(message)s",
    )
    # Werkzeug logs each request at INFO. Keep stderr quiet by default: a harness
    # that never drains the pipe must not be able to block the server.
    logging.getLogger("werkzeug").setLevel(logging.INFO if args.verbose else logging.WARNING)

    fidelity.install()
    zonal_shift.install()
    changes.install()
    state = LayerState(latency_ms=args.latency_ms)
    app = ReboundApp(DomainDispatcherApplication(create_backend_app), state)
    server = make_server("127.0.0.1", args.port, app, threaded=True, request_handler=KeepAliveRequestHandler)

    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="rebound-emulator")
    serving.start()

    port = server.socket.getsockname()[1]
    sys.stdout.write(f"REBOUND_EMULATOR_URL=http://127.0.0.1:{port}\n")
    sys.stdout.flush()
    # That line is the only thing stdout carries; moto occasionally print()s.
    sys.stdout = sys.stderr

    parent = os.getppid()
    while not stop.wait(0.5):
        if not serving.is_alive():
            log.error("server thread died")
            break
        if args.exit_with_parent and os.getppid() != parent:
            log.warning("parent process %d is gone; stopping", parent)
            break
    server.shutdown()
    serving.join()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
