#!/usr/bin/env python3
"""Local stand-in for Lambda's DynamoDB stream event source mapping.

    .venv/bin/python emulator/stream_pump.py --endpoint URL --stream-arn ARN \
        --invoke-url http://127.0.0.1:9000/2015-03-31/functions/incident-notifier/invocations \
        [--state-file F] [--once] [--filter-kind incident] [--print-event]

Reads the stream's shards (TRIM_HORIZON the first time, then after the last sequence
number kept in --state-file, so repeated --once runs deliver each record once), keeps
the records the template's event filter keeps, and delivers them to the function in
Lambda's DynamoDB event shape, in batches, through the Lambda Invoke API that
`sam local start-lambda` / `cargo lambda watch` / the runtime interface emulator serve.

What it mirrors from template.yaml's IncidentStream event (keep in step with it):
  * FilterCriteria `{"dynamodb": {"NewImage": {"kind": {"S": ["incident"]}}}}`:
    only records whose NewImage.kind is the filter value; REMOVEs (no NewImage,
    e.g. TTL expiry) are dropped unless --include-removes (then OldImage.kind counts);
  * BatchSize 25 (--batch-size);
  * FunctionResponseTypes ReportBatchItemFailures: a response with
    `batchItemFailures` checkpoints just before the first failed record and counts
    as a failed delivery.
Not mirrored: retries/bisecting and the on-failure destination. A failed delivery
exits non-zero with the checkpoint before the failed record, so a rerun retries it.

stdout: one JSON line per delivered batch (the function's response), or per batch the
event itself with --print-event. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config


def log(msg: str) -> None:
    print(f"stream_pump: {msg}", file=sys.stderr, flush=True)


class DeliveryFailed(Exception):
    pass


# --------------------------------------------------------------------------------------
# Record conversion: boto3's view of a stream record -> Lambda's event record
# --------------------------------------------------------------------------------------


def _wire_attribute(value: Any) -> Any:
    """boto3 decodes B/BS attribute values to bytes; Lambda events carry base64."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "B":
                out[k] = base64.b64encode(v).decode()
            elif k == "BS":
                out[k] = [base64.b64encode(b).decode() for b in v]
            else:
                out[k] = _wire_attribute(v)
        return out
    if isinstance(value, list):
        return [_wire_attribute(v) for v in value]
    return value


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    ddb = record["dynamodb"]
    created = ddb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        created = created.timestamp()
    dynamodb: dict[str, Any] = {"ApproximateCreationDateTime": created}
    # Same keys as a Lambda event: images only when the stream record has them.
    for key in ("Keys", "NewImage", "OldImage"):
        if key in ddb:
            dynamodb[key] = _wire_attribute(ddb[key])
    dynamodb["SequenceNumber"] = ddb["SequenceNumber"]
    dynamodb["SizeBytes"] = ddb.get("SizeBytes", 0)
    dynamodb["StreamViewType"] = ddb.get("StreamViewType")
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": "1.1",  # what Lambda sends (the streams API says 1.0)
        "eventSource": "aws:dynamodb",
        "awsRegion": stream_arn.split(":")[3],
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }


def keep(record: dict[str, Any], kind: str | None, include_removes: bool) -> bool:
    """The template's FilterCriteria: NewImage.kind.S == kind."""
    if kind is None:
        return True
    ddb = record["dynamodb"]
    image = ddb.get("NewImage")
    if image is None and include_removes and record["eventName"] == "REMOVE":
        image = ddb.get("OldImage")
    return (image or {}).get("kind", {}).get("S") == kind


# --------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------


class Checkpoints:
    """Last delivered sequence number per shard, optionally persisted. A state file
    written for another stream (e.g. the table was recreated) is ignored."""

    def __init__(self, path: str | None, stream_arn: str) -> None:
        self.path = path
        self.stream_arn = stream_arn
        self.shards: dict[str, str] = {}
        if path and os.path.exists(path):
            try:
                with open(path) as f:
                    saved = json.load(f)
            except (OSError, json.JSONDecodeError) as exc:
                raise SystemExit(f"stream_pump: cannot read state file {path}: {exc}") from None
            if saved.get("stream_arn") == stream_arn:
                self.shards = dict(saved.get("shards", {}))
            else:
                log(f"state file {path} is for another stream; starting from TRIM_HORIZON")

    def get(self, shard_id: str) -> str | None:
        return self.shards.get(shard_id)

    def set(self, shard_id: str, sequence_number: str) -> None:
        self.shards[shard_id] = sequence_number
        if not self.path:
            return
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".stream_pump.")
        with os.fdopen(fd, "w") as f:
            json.dump({"stream_arn": self.stream_arn, "shards": self.shards}, f)
        os.replace(tmp, self.path)  # atomic: a crash never leaves half a state file


# --------------------------------------------------------------------------------------
# Delivery
# --------------------------------------------------------------------------------------


def invoke(url: str, event: dict[str, Any], timeout: float) -> Any:
    """POST the event to a Lambda Invoke API endpoint; return the parsed response."""
    request = urllib.request.Request(
        url, data=json.dumps(event).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read().decode("utf-8", "replace")
            function_error = response.headers.get("X-Amz-Function-Error")
    except urllib.error.HTTPError as exc:
        raise DeliveryFailed(f"invoke returned HTTP {exc.code}: {exc.read().decode('utf-8', 'replace')[:2000]}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryFailed(f"cannot reach {url}: {exc}") from None
    try:
        parsed: Any = json.loads(body) if body.strip() else None
    except json.JSONDecodeError:
        parsed = body
    if function_error:
        raise DeliveryFailed(f"function error ({function_error}): {body[:2000]}")
    return parsed


def failed_items(response: Any) -> list[str]:
    """ReportBatchItemFailures: sequence numbers the function reported as failed."""
    if isinstance(response, dict) and isinstance(response.get("batchItemFailures"), list):
        return [str(f.get("itemIdentifier")) for f in response["batchItemFailures"] if isinstance(f, dict)]
    return []


class Pump:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.streams = boto3.client(
            "dynamodbstreams",
            endpoint_url=args.endpoint,
            region_name=args.stream_arn.split(":")[3],
            aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
            aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
            aws_session_token=os.environ.get("AWS_SESSION_TOKEN"),
            config=Config(retries={"max_attempts": 3, "mode": "standard"}),
        )
        self.checkpoints = Checkpoints(args.state_file, args.stream_arn)
        self.iterators: dict[str, str] = {}  # kept between polls in continuous mode

    def shard_ids(self) -> list[str]:
        shards, start = [], None
        while True:
            kwargs = {"StreamArn": self.args.stream_arn}
            if start:
                kwargs["ExclusiveStartShardId"] = start
            desc = self.streams.describe_stream(**kwargs)["StreamDescription"]
            shards.extend(s["ShardId"] for s in desc.get("Shards", []))
            start = desc.get("LastEvaluatedShardId")
            if not start:
                return shards

    def iterator(self, shard_id: str) -> str:
        if shard_id in self.iterators:
            return self.iterators[shard_id]
        last = self.checkpoints.get(shard_id)
        kwargs: dict[str, Any] = {"StreamArn": self.args.stream_arn, "ShardId": shard_id}
        if last:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=last)
        else:
            kwargs.update(ShardIteratorType="TRIM_HORIZON")
        return self.streams.get_shard_iterator(**kwargs)["ShardIterator"]

    def read_new(self, shard_id: str) -> list[dict[str, Any]]:
        """Everything currently in the shard after the checkpoint."""
        records: list[dict[str, Any]] = []
        it: str | None = self.iterator(shard_id)
        while it:
            page = self.streams.get_records(ShardIterator=it, Limit=1000)
            it = page.get("NextShardIterator")
            if not page.get("Records"):
                break
            records.extend(page["Records"])
        if it:
            self.iterators[shard_id] = it
        else:
            self.iterators.pop(shard_id, None)  # shard closed
        return records

    def poll(self) -> int:
        """One pass over all shards; returns the number of records delivered."""
        delivered = 0
        for shard_id in self.shard_ids():
            records = self.read_new(shard_id)
            if not records:
                continue
            kept = [r for r in records if keep(r, self.args.filter_kind, self.args.include_removes)]
            size = self.args.batch_size
            batches = [kept[i : i + size] for i in range(0, len(kept), size)]
            for n, batch in enumerate(batches):
                self.deliver(shard_id, batch)
                delivered += len(batch)
                # Records the filter dropped after this batch are done too.
                last = records[-1] if n == len(batches) - 1 else batch[-1]
                self.checkpoints.set(shard_id, last["dynamodb"]["SequenceNumber"])
            if not batches:
                self.checkpoints.set(shard_id, records[-1]["dynamodb"]["SequenceNumber"])
        return delivered

    def deliver(self, shard_id: str, batch: list[dict[str, Any]]) -> None:
        event = {"Records": [lambda_record(r, self.args.stream_arn) for r in batch]}
        if self.args.print_event:
            print(json.dumps(event), flush=True)
            return
        log(f"delivering {len(batch)} record(s) from {shard_id}")
        try:
            response = invoke(self.args.invoke_url, event, self.args.timeout)
        except DeliveryFailed:
            self.iterators.pop(shard_id, None)  # re-read from the checkpoint next time
            raise
        print(json.dumps(response), flush=True)
        failures = failed_items(response)
        if failures:
            # Lambda resumes from the lowest failed sequence number: checkpoint before it.
            seqs = [r["dynamodb"]["SequenceNumber"] for r in batch]
            first = min((seqs.index(f) for f in failures if f in seqs), default=0)
            if first > 0:
                self.checkpoints.set(shard_id, seqs[first - 1])
            self.iterators.pop(shard_id, None)
            raise DeliveryFailed(f"function reported batchItemFailures {failures}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Deliver DynamoDB stream records to a function as Lambda does.")
    parser.add_argument(
        "--endpoint",
        default=os.environ.get("REBOUND_EMULATOR_URL") or os.environ.get("AWS_ENDPOINT_URL"),
        help="emulator URL (default: $REBOUND_EMULATOR_URL, then $AWS_ENDPOINT_URL)",
    )
    parser.add_argument("--stream-arn", required=True, help="the incidents table's LatestStreamArn")
    parser.add_argument("--invoke-url", help="Lambda Invoke API URL of the function (required unless --print-event)")
    parser.add_argument("--state-file", help="where the last delivered sequence number per shard is kept")
    parser.add_argument("--once", action="store_true", help="deliver what is in the stream now, then exit")
    parser.add_argument("--print-event", action="store_true", help="print each batch's event instead of invoking")
    parser.add_argument(
        "--filter-kind",
        default="incident",
        help="keep records whose NewImage.kind is this (default incident); empty string keeps everything",
    )
    parser.add_argument("--include-removes", action="store_true", help="also keep REMOVEs whose OldImage.kind matches")
    parser.add_argument("--batch-size", type=int, default=25, help="records per invocation (template: 25; max 100)")
    parser.add_argument("--poll-interval", type=float, default=0.5, help="seconds between polls without --once")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for one invocation")
    args = parser.parse_args(argv)
    if not args.endpoint:
        parser.error("--endpoint is required (or set REBOUND_EMULATOR_URL)")
    if not args.print_event and not args.invoke_url:
        parser.error("--invoke-url is required unless --print-event")
    if not 1 <= args.batch_size <= 100:
        parser.error("--batch-size must be 1-100")
    if args.filter_kind == "":
        args.filter_kind = None
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pump = Pump(args)
    try:
        if args.once:
            delivered = pump.poll()
            log(f"delivered {delivered} record(s)")
            return 0
        log("polling; Ctrl-C to stop")
        while True:
            pump.poll()
            time.sleep(args.poll_interval)
    except DeliveryFailed as exc:
        log(f"delivery failed: {exc}")
        return 1
    except KeyboardInterrupt:
        return 0
    except Exception as exc:  # botocore errors: one line, non-zero
        log(f"error: {type(exc).__name__}: {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
