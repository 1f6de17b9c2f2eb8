"""CloudWatch over Smithy RPC v2 CBOR, answered from moto's own CloudWatch backend.

The Rust SDK (aws-sdk-cloudwatch 1.100 and later) speaks Smithy RPC v2 CBOR:

    POST /service/GraniteServiceVersion20100801/operation/<Operation>
    smithy-protocol: rpc-v2-cbor
    Content-Type: application/cbor          (only with a body)
    Accept: application/cbor
    x-amzn-query-mode: true                 (CloudWatch is @awsQueryCompatible)

with a CBOR map as the body (timestamps are tag 1, epoch seconds). moto 5.2.5 does not
route that path (404). This module answers it, under server.py's global lock, with
moto's backend state, so alarms created through boto3 (awsJson1_0, or the query
protocol) and through CBOR are the same alarms:

  * DescribeAlarms and GetMetricData are the layer's own (see `describe_alarms`,
    `get_metric_data`): AWS's filter combinations, AlarmTypes, MaxRecords/NextToken, and
    Application Load Balancer HealthyHostCount/UnHealthyHostCount computed from the
    target health the emulator models. The same two operations are also served this way
    for awsJson1_0 requests (what boto3 1.43 sends), so both protocols agree.
  * Every other operation in the CloudWatch model (PutMetricAlarm, SetAlarmState,
    DeleteAlarms, PutMetricData, ListMetrics, ...) is translated to an awsJson1_0 request,
    answered by moto, and its answer translated back to CBOR, shape by shape from
    botocore's CloudWatch model (timestamps to tag 1, doubles as floats, Unit outputs
    with no body). moto's errors become CBOR errors.

Errors are CBOR maps `{"__type": "com.amazonaws.cloudwatch#<ErrorShape>", "message": ...}`
with the HTTP status of the error shape and `x-amzn-query-error: <QueryCode>;Sender` (the
Rust SDK takes the error code from that header for an awsQueryCompatible service, else
from `__type` after the '#').
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import cbor2

SERVICE = "monitoring"  # the SigV4 signing name
SHAPE_NAMESPACE = "com.amazonaws.cloudwatch"
TARGET_PREFIX = "GraniteServiceVersion20100801"
# The serviceName segment: the shape name, or (servers SHOULD accept it) the absolute
# shape id with '#' replaced by '.'.
SERVICE_SEGMENTS = {TARGET_PREFIX, f"{SHAPE_NAMESPACE}.{TARGET_PREFIX}"}
# RPC v2 CBOR routes on the last four path segments; any prefix is allowed.
CBOR_PATH = re.compile(r"^(?:/.*)?/service/(?P<service>[^/]+)/operation/(?P<operation>[^/]+)$")
PROTOCOL_HEADER = ("smithy-protocol", "rpc-v2-cbor")
CORAL = "com.amazon.coral.service"

# Operations the layer answers itself (both CBOR and awsJson1_0); everything else in the
# model goes to moto.
OWN_OPERATIONS = ("DescribeAlarms", "GetMetricData")

MAX_METRIC_DATA_QUERIES = 500


class CloudWatchError(Exception):
    """An error answer: `code` is the query-compatible error code (what the SDKs match
    on, e.g. ResourceNotFound, InvalidParameterValue, ValidationError)."""

    def __init__(self, code: str, message: str, status: int = 400, shape: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.shape = shape


# --------------------------------------------------------------------------------------
# The CloudWatch model (botocore's, shipped with the venv): shapes, error codes
# --------------------------------------------------------------------------------------

_MODEL: dict[str, Any] = {}


def service_model() -> Any:
    if "model" not in _MODEL:
        from botocore.session import get_session

        _MODEL["model"] = get_session().get_service_model("cloudwatch")
    return _MODEL["model"]


def operation_model(name: str) -> Any | None:
    model = service_model()
    if name not in model.operation_names:
        return None
    return model.operation_model(name)


def _error_shapes() -> dict[str, tuple[str, int, bool]]:
    """Query error code -> (shape name, HTTP status, sender fault)."""
    if "errors" not in _MODEL:
        table: dict[str, tuple[str, int, bool]] = {}
        for shape in service_model().error_shapes:
            meta = shape.metadata.get("error", {})
            code = meta.get("code", shape.name)
            table[code] = (shape.name, int(meta.get("httpStatusCode", 400)), bool(meta.get("senderFault", False)))
        _MODEL["errors"] = table
    return _MODEL["errors"]  # type: ignore[no-any-return]


def error_parts(code: str, status: int | None = None) -> tuple[str, int, str]:
    """(`__type`, HTTP status, x-amzn-query-error) for a query error code."""
    shape, modelled_status, _sender = _error_shapes().get(code, (code, status or 400, True))
    final_status = status if status is not None else modelled_status
    fault = "Sender" if final_status < 500 else "Receiver"
    return f"{SHAPE_NAMESPACE}#{shape}", final_status, f"{code};{fault}"


# --------------------------------------------------------------------------------------
# Request classification (server.py asks these)
# --------------------------------------------------------------------------------------


def _raw_path(environ: dict[str, Any]) -> str:
    return environ.get("PATH_INFO", "") or ""


def cbor_route(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(service segment, operation) when the path is an RPC v2 CBOR route."""
    match = CBOR_PATH.match(_raw_path(environ))
    if match is None:
        return None
    return match.group("service"), match.group("operation")


def is_cbor_request(environ: dict[str, Any], service: str) -> bool:
    route = cbor_route(environ)
    if route is None:
        return False
    return service == SERVICE or route[0] in SERVICE_SEGMENTS


def is_own_json_request(environ: dict[str, Any], service: str) -> bool:
    """An awsJson1_0 request (boto3) for one of the operations the layer answers."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    prefix, _, operation = target.partition(".")
    return service == SERVICE and prefix == TARGET_PREFIX and operation in OWN_OPERATIONS


def operation_of(environ: dict[str, Any]) -> str | None:
    route = cbor_route(environ)
    return route[1] if route else None


# --------------------------------------------------------------------------------------
# Values: CBOR / JSON request values to plain Python, and model-driven output encoding
# --------------------------------------------------------------------------------------


def _epoch(value: Any) -> float:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    raise TypeError(f"not a timestamp: {value!r}")


def plain(value: Any) -> Any:
    """A decoded CBOR value as the JSON protocol would carry it: timestamps as epoch
    seconds, blobs base64, nulls (and CBOR `undefined`) dropped from maps."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items() if v is not None and v is not cbor2.undefined}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dt.datetime):
        return _epoch(value)
    if isinstance(value, cbor2.CBORTag) and value.tag == 1:
        return float(value.value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if value is cbor2.undefined:
        return None
    return value


def encode(value: Any, shape: Any, cbor: bool) -> Any:
    """Encode an output value by its model shape: for CBOR, timestamps as tag 1 (epoch
    seconds, millisecond precision) and doubles as floats (the Rust SDK's decoder reads a
    double only from a CBOR float); for JSON, timestamps as epoch seconds."""
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure":
        out = {}
        for name, member in shape.members.items():
            if isinstance(value, dict) and name in value:
                encoded = encode(value[name], member, cbor)
                if encoded is not None:
                    out[name] = encoded
        return out
    if kind == "list":
        return [encode(v, shape.member, cbor) for v in value if v is not None]
    if kind == "map":
        return {str(k): encode(v, shape.value, cbor) for k, v in value.items() if v is not None}
    if kind == "timestamp":
        seconds = round(_epoch(value), 3)
        return cbor2.CBORTag(1, float(seconds)) if cbor else seconds
    if kind in ("double", "float"):
        return float(value)
    if kind in ("integer", "long", "short", "byte"):
        return int(value)
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if kind == "blob":
        raw = value if isinstance(value, (bytes, bytearray)) else base64.b64decode(value)
        return bytes(raw) if cbor else base64.b64encode(bytes(raw)).decode()
    return str(value)


# --------------------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------------------

Answer = tuple[int, list[tuple[str, str]], bytes]


def _request_id() -> str:
    return str(uuid.uuid4())


def cbor_error(code: str, message: str | None, status: int | None = None, type_: str | None = None) -> Answer:
    """A CBOR error answer for a query error code (or an explicit `__type`)."""
    shape_type, final_status, query_error = error_parts(code, status)
    body: dict[str, Any] = {"__type": type_ or shape_type}
    if message is not None:
        body["message"] = message
    headers = [
        ("smithy-protocol", "rpc-v2-cbor"),
        ("Content-Type", "application/cbor"),
        ("x-amzn-RequestId", _request_id()),
        ("x-amzn-query-error", query_error),
    ]
    return final_status, headers, cbor2.dumps(body)


def json_error(code: str, message: str | None, status: int | None = None) -> Answer:
    shape_type, final_status, query_error = error_parts(code, status)
    body: dict[str, Any] = {"__type": shape_type}
    if message is not None:
        body["message"] = message
    headers = [
        ("Content-Type", "application/x-amz-json-1.0"),
        ("x-amzn-RequestId", _request_id()),
        ("x-amzn-query-error", query_error),
    ]
    return final_status, headers, json.dumps(body).encode()


def _protocol_error(type_: str, message: str, status: int = 400) -> Answer:
    """A framework-level error (malformed request, unknown operation): not a modelled
    CloudWatch error, so no query error code."""
    body = {"__type": type_, "message": message}
    headers = [
        ("smithy-protocol", "rpc-v2-cbor"),
        ("Content-Type", "application/cbor"),
        ("x-amzn-RequestId", _request_id()),
    ]
    return status, headers, cbor2.dumps(body)


def _header(environ: dict[str, Any], name: str) -> str | None:
    key = "HTTP_" + name.upper().replace("-", "_")
    if name.lower() == "content-type":
        return environ.get("CONTENT_TYPE") or environ.get(key)
    return environ.get(key)


# The context server.py passes in: who is asking and a way to reach moto's JSON protocol.
class Context:
    def __init__(
        self,
        account: str,
        region: str,
        call_moto_json: Callable[[str, dict[str, Any]], tuple[int, dict[str, str], bytes]],
    ) -> None:
        self.account = account
        self.region = region
        self.call_moto_json = call_moto_json


def handle_cbor(environ: dict[str, Any], body: bytes, ctx: Context) -> Answer:
    route = cbor_route(environ)
    assert route is not None
    service_segment, operation = route
    if environ.get("REQUEST_METHOD", "POST") != "POST":
        return _protocol_error(f"{CORAL}#UnknownOperationException", "RPC v2 CBOR requests must use POST", 404)
    if service_segment not in SERVICE_SEGMENTS:
        return _protocol_error(f"{CORAL}#UnknownOperationException", f"Unknown service {service_segment}", 404)
    if (_header(environ, "smithy-protocol") or "").strip() != "rpc-v2-cbor":
        return _protocol_error(
            f"{CORAL}#SerializationException", "The smithy-protocol header must be rpc-v2-cbor", 400
        )
    if environ.get("HTTP_X_AMZ_TARGET") or environ.get("HTTP_X_AMZN_TARGET"):
        return _protocol_error(
            f"{CORAL}#SerializationException", "X-Amz-Target is not allowed in an RPC v2 CBOR request", 400
        )
    op_model = operation_model(operation)
    if op_model is None:
        return _protocol_error(f"{CORAL}#UnknownOperationException", f"Unknown operation {operation}", 400)
    params: Any = {}
    if body:
        content_type = (_header(environ, "content-type") or "").split(";")[0].strip().lower()
        if content_type != "application/cbor":
            return _protocol_error(
                f"{CORAL}#SerializationException", f"Content-Type must be application/cbor, not {content_type!r}", 400
            )
        try:
            params = plain(cbor2.loads(body))
        except Exception as exc:  # any decoding failure is the caller's malformed body
            return _protocol_error(f"{CORAL}#SerializationException", f"Body is not valid CBOR: {exc}", 400)
        if not isinstance(params, dict):
            return _protocol_error(f"{CORAL}#SerializationException", "The body must be a CBOR map", 400)
    try:
        result = _answer(operation, params, ctx)
    except CloudWatchError as err:
        return cbor_error(err.code, err.message, err.status)
    headers = [("smithy-protocol", "rpc-v2-cbor"), ("x-amzn-RequestId", _request_id())]
    if op_model.output_shape is None:
        # A Unit output: no body and no Content-Type.
        return 200, headers, b""
    payload = cbor2.dumps(encode(result, op_model.output_shape, cbor=True) or {})
    return 200, headers + [("Content-Type", "application/cbor")], payload


def handle_json(environ: dict[str, Any], body: bytes, ctx: Context) -> Answer:
    """awsJson1_0 DescribeAlarms / GetMetricData (boto3), answered like the CBOR ones."""
    operation = environ.get("HTTP_X_AMZ_TARGET", "").partition(".")[2]
    try:
        params = json.loads(body or b"{}")
    except ValueError as exc:
        return json_error("SerializationException", f"Body is not valid JSON: {exc}", 400)
    if not isinstance(params, dict):
        return json_error("SerializationException", "The body must be a JSON object", 400)
    try:
        result = _answer(operation, params, ctx)
    except CloudWatchError as err:
        return json_error(err.code, err.message, err.status)
    op_model = operation_model(operation)
    payload = json.dumps(encode(result, op_model.output_shape, cbor=False) or {}).encode()
    return 200, [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", _request_id())], payload


def _answer(operation: str, params: dict[str, Any], ctx: Context) -> dict[str, Any] | None:
    if operation == "DescribeAlarms":
        return describe_alarms(params, ctx)
    if operation == "GetMetricData":
        return get_metric_data(params, ctx, now=time.time())
    return _through_moto(operation, params, ctx)


def _through_moto(operation: str, params: dict[str, Any], ctx: Context) -> dict[str, Any] | None:
    """Any other operation: moto's awsJson1_0 implementation, its answer returned as a
    plain dict (or its error raised as a CloudWatchError)."""
    status, headers, payload = ctx.call_moto_json(operation, params)
    lowered = {k.lower(): v for k, v in headers.items()}
    if status == 200:
        if not payload.strip():
            return {}
        try:
            decoded = json.loads(payload)
        except ValueError:
            return {}
        return decoded if isinstance(decoded, dict) else {}
    code = None
    query_error = lowered.get("x-amzn-query-error")
    if query_error and ";" in query_error:
        code = query_error.split(";", 1)[0]
    message = None
    try:
        decoded = json.loads(payload)
        if isinstance(decoded, dict):
            message = decoded.get("message") or decoded.get("Message")
            if code is None and decoded.get("__type"):
                code = str(decoded["__type"]).rsplit("#", 1)[-1]
    except ValueError:
        match = re.search(rb"<Message>(.*?)</Message>", payload or b"", re.S)
        if match:
            message = match.group(1).decode("utf-8", "replace")
        match = re.search(rb"<Code>(.*?)</Code>", payload or b"", re.S)
        if code is None and match:
            code = match.group(1).decode("utf-8", "replace")
    if code is None:
        error_type = lowered.get("x-amzn-errortype", "")
        code = error_type.rsplit("#", 1)[-1].split(":", 1)[0] or ("InternalFailure" if status >= 500 else "ValidationError")
    raise CloudWatchError(code, message or code, status)


# --------------------------------------------------------------------------------------
# DescribeAlarms
# --------------------------------------------------------------------------------------

_ALARM_TYPES = ("CompositeAlarm", "MetricAlarm")
_STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
_DEFAULT_MAX_RECORDS = 50


def _validation(message: str) -> CloudWatchError:
    return CloudWatchError("ValidationError", message, 400)


def _cloudwatch_backend(ctx: Context) -> Any:
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends[ctx.account][ctx.region]


def _token(after: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode()


def _untoken(token: str) -> str:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
        after = decoded["after"]
        if not isinstance(after, str):
            raise ValueError
        return after
    except Exception:
        raise CloudWatchError("InvalidNextToken", "The service returned an invalid next token.", 400) from None


def _dimension_list(dimensions: Any) -> list[dict[str, Any]]:
    return [{"Name": d.name, "Value": d.value} for d in dimensions or []]


def _metric_alarm(alarm: Any) -> dict[str, Any]:
    """A moto Alarm as the MetricAlarm shape."""
    out: dict[str, Any] = {
        "AlarmName": alarm.name,
        "AlarmArn": alarm.alarm_arn,
        "AlarmDescription": alarm.description,
        "AlarmConfigurationUpdatedTimestamp": alarm.configuration_updated_timestamp,
        "ActionsEnabled": bool(alarm.actions_enabled),
        "OKActions": list(alarm.ok_actions or []),
        "AlarmActions": list(alarm.alarm_actions or []),
        "InsufficientDataActions": list(alarm.insufficient_data_actions or []),
        "StateValue": alarm.state_value,
        "StateReason": alarm.state_reason,
        "StateReasonData": alarm.state_reason_data,
        "StateUpdatedTimestamp": alarm.state_updated_timestamp,
        # moto does not tell an update from a transition; the last update is used.
        "StateTransitionedTimestamp": alarm.state_updated_timestamp,
        "MetricName": alarm.metric_name,
        "Namespace": alarm.namespace,
        "Statistic": alarm.statistic,
        "ExtendedStatistic": alarm.extended_statistic,
        "Dimensions": _dimension_list(alarm.dimensions),
        "Period": alarm.period,
        "Unit": alarm.unit,
        "EvaluationPeriods": alarm.evaluation_periods,
        "DatapointsToAlarm": alarm.datapoints_to_alarm,
        "Threshold": alarm.threshold,
        "ComparisonOperator": alarm.comparison_operator,
        "TreatMissingData": alarm.treat_missing_data,
        "EvaluateLowSampleCountPercentile": alarm.evaluate_low_sample_count_percentile,
        "ThresholdMetricId": alarm.threshold_metric_id,
    }
    metrics = []
    for query in alarm.metric_data_queries or []:
        item: dict[str, Any] = {"Id": query.id}
        if query.metric_stat is not None:
            stat = query.metric_stat
            item["MetricStat"] = {
                "Metric": {
                    "Namespace": stat.metric.namespace,
                    "MetricName": stat.metric.metric_name,
                    "Dimensions": _dimension_list(stat.metric.dimensions),
                },
                "Period": stat.period,
                "Stat": stat.stat,
                "Unit": stat.unit,
            }
        if query.expression:
            item["Expression"] = query.expression
        if query.label:
            item["Label"] = query.label
        if query.return_data is not None:
            item["ReturnData"] = str(query.return_data).lower() == "true" if not isinstance(query.return_data, bool) else query.return_data
        if query.period:
            item["Period"] = query.period
        metrics.append(item)
    out["Metrics"] = metrics
    return out


def _composite_alarm(alarm: Any) -> dict[str, Any]:
    return {
        "AlarmName": alarm.name,
        "AlarmArn": alarm.alarm_arn,
        "AlarmDescription": alarm.description,
        "AlarmRule": alarm.rule,
        "AlarmConfigurationUpdatedTimestamp": alarm.configuration_updated_timestamp,
        "ActionsEnabled": bool(alarm.actions_enabled),
        "OKActions": list(alarm.ok_actions or []),
        "AlarmActions": list(alarm.alarm_actions or []),
        "InsufficientDataActions": list(alarm.insufficient_data_actions or []),
        "StateValue": alarm.state_value,
        "StateReason": alarm.state_reason,
        "StateReasonData": alarm.state_reason_data,
        "StateUpdatedTimestamp": alarm.state_updated_timestamp,
        "StateTransitionedTimestamp": alarm.state_updated_timestamp,
    }


def _int_param(params: dict[str, Any], name: str, low: int, high: int, default: int) -> int:
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise _validation(f"1 validation error detected: Value '{value}' at '{name[0].lower() + name[1:]}' "
                          "failed to satisfy constraint: Member must be an integer")
    value = int(value)
    if not low <= value <= high:
        bound = f"greater than or equal to {low}" if value < low else f"less than or equal to {high}"
        raise _validation(f"1 validation error detected: Value '{value}' at '{name[0].lower() + name[1:]}' "
                          f"failed to satisfy constraint: Member must have value {bound}")
    return value


def describe_alarms(params: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """DescribeAlarms as CloudWatch answers it: AlarmNames (up to 100) or AlarmNamePrefix
    (not both), combined with StateValue and ActionPrefix; AlarmTypes (default: metric
    alarms only); alarms in name order, MaxRecords (1-100, default 50) per page and a
    NextToken to the next. ChildrenOfAlarmName / ParentsOfAlarmName are not modelled
    (answered with no alarms)."""
    names = params.get("AlarmNames")
    prefix = params.get("AlarmNamePrefix")
    state = params.get("StateValue")
    action_prefix = params.get("ActionPrefix")
    types = params.get("AlarmTypes")
    if names is not None and (not isinstance(names, list) or len(names) > 100):
        raise _validation("1 validation error detected: Value at 'alarmNames' failed to satisfy constraint: "
                          "Member must have length less than or equal to 100")
    if names and prefix:
        raise CloudWatchError("InvalidParameterCombination",
                              "AlarmNamePrefix and AlarmNames cannot be specified together.", 400)
    if state is not None and state not in _STATES:
        raise _validation(f"1 validation error detected: Value '{state}' at 'stateValue' failed to satisfy "
                          f"constraint: Member must satisfy enum value set: [{', '.join(_STATES)}]")
    if types is not None:
        if not isinstance(types, list) or any(t not in _ALARM_TYPES for t in types):
            raise _validation(f"1 validation error detected: Value '{types}' at 'alarmTypes' failed to satisfy "
                              f"constraint: Member must satisfy constraint: [Member must satisfy enum value set: "
                              f"[{', '.join(_ALARM_TYPES)}]]")
    wanted_types = set(types) if types else {"MetricAlarm"}
    max_records = _int_param(params, "MaxRecords", 1, 100, _DEFAULT_MAX_RECORDS)
    after = _untoken(params["NextToken"]) if params.get("NextToken") else None

    alarms = []
    if not params.get("ChildrenOfAlarmName") and not params.get("ParentsOfAlarmName"):
        for alarm in _cloudwatch_backend(ctx).alarms.values():
            kind = "CompositeAlarm" if alarm.rule is not None else "MetricAlarm"
            if kind not in wanted_types:
                continue
            if names and alarm.name not in names:
                continue
            if prefix and not alarm.name.startswith(prefix):
                continue
            if state and alarm.state_value != state:
                continue
            if action_prefix and not any(a.startswith(action_prefix) for a in alarm.alarm_actions or []):
                continue
            alarms.append((alarm.name, kind, alarm))
    alarms.sort(key=lambda item: item[0])
    if after is not None:
        alarms = [a for a in alarms if a[0] > after]
    page, rest = alarms[:max_records], alarms[max_records:]
    result: dict[str, Any] = {
        "MetricAlarms": [_metric_alarm(a) for _n, kind, a in page if kind == "MetricAlarm"],
        "CompositeAlarms": [_composite_alarm(a) for _n, kind, a in page if kind == "CompositeAlarm"],
    }
    if rest:
        result["NextToken"] = _token(page[-1][0])
    return result


# --------------------------------------------------------------------------------------
# GetMetricData
# --------------------------------------------------------------------------------------

ALB_NAMESPACE = "AWS/ApplicationELB"
ALB_HOST_COUNTS = {"HealthyHostCount": "healthy", "UnHealthyHostCount": "unhealthy"}
_QUERY_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")
_SIMPLE_STATS = {"SampleCount", "Average", "Sum", "Minimum", "Maximum"}
# Percentiles and the other extended statistics (p99, p99.9, tm90, tc(10%:90%), IQM, ...).
_EXTENDED_STAT = re.compile(
    r"^(?:p\d{1,2}(?:\.\d+)?|p100|(?:tm|tc|ts|wm)\d{1,2}(?:\.\d+)?|(?:TM|TC|TS|WM|PR|tm|tc|ts|wm)\(.*\)|IQM)$"
)


def _query_error(index: int, message: str) -> CloudWatchError:
    return _validation(f"The value of MetricDataQueries.member.{index} is invalid: {message}")


def _validate_queries(queries: Any) -> list[dict[str, Any]]:
    if not isinstance(queries, list) or not queries:
        raise _validation("The parameter MetricDataQueries is required and must not be empty.")
    if len(queries) > MAX_METRIC_DATA_QUERIES:
        raise _validation(
            f"The collection MetricDataQueries must not have a size greater than {MAX_METRIC_DATA_QUERIES}."
        )
    seen: set[str] = set()
    for index, query in enumerate(queries, start=1):
        if not isinstance(query, dict):
            raise _query_error(index, "not a structure")
        qid = query.get("Id")
        if not isinstance(qid, str) or not _QUERY_ID.match(qid) or len(qid) > 255:
            raise _query_error(index, "Id must start with a lowercase letter and contain only letters, "
                                      "numbers and underscores")
        if qid in seen:
            raise _validation(f"The value {qid} for field Id in MetricDataQueries is not unique.")
        seen.add(qid)
        has_stat, has_expression = "MetricStat" in query, "Expression" in query
        if has_stat == has_expression:
            raise _validation(f"The parameter MetricDataQueries.member.{index}.MetricStat or "
                              f"MetricDataQueries.member.{index}.Expression is required, but not both.")
        if has_stat:
            stat = query["MetricStat"]
            metric = stat.get("Metric") if isinstance(stat, dict) else None
            if not isinstance(metric, dict) or not metric.get("MetricName") or not metric.get("Namespace"):
                raise _query_error(index, "MetricStat.Metric with Namespace and MetricName is required")
            period = stat.get("Period")
            if isinstance(period, bool) or not isinstance(period, (int, float)) or int(period) != period or period < 1:
                raise _query_error(index, "MetricStat.Period must be a positive integer")
            if not isinstance(stat.get("Stat"), str) or not stat["Stat"]:
                raise _query_error(index, "MetricStat.Stat is required")
        elif has_expression and "Period" in query:
            period = query["Period"]
            if isinstance(period, bool) or not isinstance(period, (int, float)) or period < 1:
                raise _query_error(index, "Period must be a positive integer")
    return queries


def _known_stat(stat: str) -> bool:
    return stat in _SIMPLE_STATS or bool(_EXTENDED_STAT.match(stat))


def _alb_counts(ctx: Context, dimensions: dict[str, str]) -> int | None | dict[str, int]:
    """{'healthy': n, 'unhealthy': m} for an ALB target group as the emulator reports
    its targets (DescribeTargetHealth, overrides and cut-off subnets included), counted
    over all zones or over the AvailabilityZone dimension's zone; None when the metric
    does not exist (no such target group behind that load balancer, or zone)."""
    from moto.ec2.models import ec2_backends
    from moto.elbv2.models import elbv2_backends

    if set(dimensions) not in ({"TargetGroup", "LoadBalancer"}, {"TargetGroup", "LoadBalancer", "AvailabilityZone"}):
        return None
    try:
        elbv2 = elbv2_backends[ctx.account][ctx.region]
        ec2 = ec2_backends[ctx.account][ctx.region]
    except Exception:
        return None
    prefix = f"arn:aws:elasticloadbalancing:{ctx.region}:{ctx.account}:"
    tg_arn = prefix + dimensions["TargetGroup"]
    lb_arn = prefix + "loadbalancer/" + dimensions["LoadBalancer"]
    tg = elbv2.target_groups.get(tg_arn)
    lb = elbv2.load_balancers.get(lb_arn)
    if tg is None or lb is None or lb_arn not in tg.load_balancer_arns or lb.type != "application":
        return None
    zone = dimensions.get("AvailabilityZone")
    if zone is not None and zone not in {s.availability_zone for s in lb.subnets}:
        return None
    counts = {"healthy": 0, "unhealthy": 0}
    for status in elbv2.describe_target_health(tg_arn, []):
        if zone is not None:
            instance = ec2.get_instance_by_id(status.instance_id)
            if getattr(instance, "availability_zone", None) != zone:
                continue
        if status.status in counts:
            counts[status.status] += 1
    return counts


def _period_start(end: float, period: int) -> float:
    """The start of the last period that begins before `end`."""
    whole = int(end // period) * period
    return float(whole - period if whole == end else whole)


def get_metric_data(params: dict[str, Any], ctx: Context, now: float) -> dict[str, Any]:
    """GetMetricData. `AWS/ApplicationELB` HealthyHostCount / UnHealthyHostCount with
    dimensions TargetGroup + LoadBalancer (+ AvailabilityZone) are computed from the
    target health the emulator reports now: one datapoint, for the last period that
    starts before min(EndTime, now), if it is not before StartTime. Other MetricStat and
    Expression queries go to moto's backend (data published with PutMetricData)."""
    queries = _validate_queries(params.get("MetricDataQueries"))
    try:
        start = _epoch(params["StartTime"])
        end = _epoch(params["EndTime"])
    except (KeyError, TypeError, ValueError):
        raise _validation("The parameters StartTime and EndTime are required timestamps.") from None
    if start >= end:
        raise _validation("The parameter StartTime must be less than the parameter EndTime.")
    scan_by = params.get("ScanBy") or "TimestampDescending"
    if scan_by not in ("TimestampDescending", "TimestampAscending"):
        raise _validation(f"1 validation error detected: Value '{scan_by}' at 'scanBy' failed to satisfy "
                          "constraint: Member must satisfy enum value set: [TimestampDescending, TimestampAscending]")

    results: dict[str, dict[str, Any]] = {}
    delegated = []
    for query in queries:
        stat = query.get("MetricStat")
        metric = (stat or {}).get("Metric") or {}
        if stat and metric.get("Namespace") == ALB_NAMESPACE and metric.get("MetricName") in ALB_HOST_COUNTS:
            dims = {d.get("Name"): d.get("Value") for d in metric.get("Dimensions") or [] if isinstance(d, dict)}
            timestamps: list[float] = []
            values: list[float] = []
            counts = _alb_counts(ctx, dims) if len(dims) == len(metric.get("Dimensions") or []) else None
            if isinstance(counts, dict) and _known_stat(stat["Stat"]):
                period = int(stat["Period"])
                at = _period_start(min(end, now), period)
                if at >= start:
                    value = float(counts[ALB_HOST_COUNTS[metric["MetricName"]]])
                    timestamps = [at]
                    values = [1.0 if stat["Stat"] == "SampleCount" else value]
            results[query["Id"]] = {
                "Id": query["Id"], "Label": query.get("Label") or query["Id"],
                "Timestamps": timestamps, "Values": values, "StatusCode": "Complete",
            }
        else:
            delegated.append(query)
    if delegated:
        for item in _moto_metric_data(ctx, delegated, start, end, scan_by):
            results[item["Id"]] = item
    ordered = [results[q["Id"]] for q in queries if q.get("ReturnData", True) is not False and q["Id"] in results]
    return {"MetricDataResults": ordered, "Messages": []}


def _moto_metric_data(
    ctx: Context, queries: list[dict[str, Any]], start: float, end: float, scan_by: str
) -> list[dict[str, Any]]:
    backend = _cloudwatch_backend(ctx)
    to_dt = lambda s: dt.datetime.fromtimestamp(s, dt.timezone.utc).replace(tzinfo=None)  # noqa: E731
    try:
        answered = backend.get_metric_data(
            queries=queries, start_time=to_dt(start), end_time=to_dt(end), scan_by=scan_by
        )
    except Exception as exc:  # moto's metric math is partial: answer those with no data
        from moto.core.exceptions import ServiceException

        if isinstance(exc, ServiceException):
            raise CloudWatchError(getattr(exc, "code", "ValidationError"), str(getattr(exc, "message", exc)), 400)
        answered = []
    labels = {q["Id"]: q.get("Label") for q in queries}
    out = {}
    for item in answered:
        qid = item["id"]
        out[qid] = {
            "Id": qid,
            "Label": labels.get(qid) or qid,
            "Timestamps": [_epoch(t) for t in item.get("timestamps", [])],
            "Values": [float(v) for v in item.get("values", [])],
            "StatusCode": item.get("status_code", "Complete"),
        }
    for query in queries:  # every query answers, with no data if moto had none
        out.setdefault(query["Id"], {
            "Id": query["Id"], "Label": query.get("Label") or query["Id"],
            "Timestamps": [], "Values": [], "StatusCode": "Complete",
        })
    return list(out.values())


__all__ = [
    "SERVICE",
    "CloudWatchError",
    "Context",
    "is_cbor_request",
    "is_own_json_request",
    "operation_of",
    "handle_cbor",
    "handle_json",
    "cbor_error",
    "json_error",
    "describe_alarms",
    "get_metric_data",
    "MAX_METRIC_DATA_QUERIES",
]
