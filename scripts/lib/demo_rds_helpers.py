#!/usr/bin/env python3
"""The database part of scripts/demo: helpers on top of demo_helpers.py, standard library
and the project virtualenv only.

    demo_rds_helpers.py rds-alarm-event STACK OUT    write the sample AWS/RDS alarm (ALARM
                                                     since now) aimed at the stack's database
    demo_rds_helpers.py rds-mode URL MODE            instant | phased: DB reboots finish in
                                                     the call, or on rds-advance
    demo_rds_helpers.py rds-advance URL              finish the DB reboots in progress
    demo_rds_helpers.py rds-events URL DIR           write the RDS events the emulator
                                                     recorded as EventBridge events, one file
                                                     each; print their paths
    demo_rds_helpers.py heal URL                     every target healthy again
    demo_rds_helpers.py zones DB_ID                  where the primary and the standby are
    demo_rds_helpers.py verdict                      one line from a function's JSON answer
                                                     on stdin
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_helpers import ROOT, _request, run  # noqa: E402


def rds_alarm_event(stack_path: str, out: str) -> None:
    stack = json.loads(Path(stack_path).read_text())
    text = (ROOT / "events/rds-health/alarm-state-change.json").read_text()
    event = json.loads(text.replace("rebound-demo-db", stack["db_instance_id"]))
    event["account"], event["region"] = stack["account"], stack["region"]
    now = dt.datetime.now(dt.timezone.utc)
    event["detail"]["state"]["timestamp"] = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"
    Path(out).write_text(json.dumps(event, indent=2))


def rds_mode(url: str, mode: str) -> None:
    _request(f"{url}/_rebound/rds-mode", {"mode": mode})


def rds_advance(url: str) -> None:
    for done in _request(f"{url}/_rebound/rds-advance")["finished"]:  # type: ignore[index]
        print(f"{done['db_instance_identifier']}: {done['kind']} finished, {done['status']}, "
              f"primary in {done['availability_zone']}, standby in {done['secondary_availability_zone']}")


def rds_events(url: str, directory: str) -> None:
    recorded = _request(f"{url}/_rebound/rds-events", method="GET")["events"]  # type: ignore[index]
    for n, e in enumerate(recorded, 1):
        event = {
            "version": "0", "id": f"demo-{n}", "detail-type": "RDS DB Instance Event", "source": "aws.rds",
            "account": e["account"], "time": e["date"], "region": e["region"], "resources": [e["source_arn"]],
            "detail": {
                "EventCategories": e["categories"], "SourceType": "DB_INSTANCE", "SourceArn": e["source_arn"],
                "Date": e["date"], "Message": e["message"], "SourceIdentifier": e["db_instance_identifier"],
                "EventID": e["event_id"],
            },
        }
        path = Path(directory) / f"rds-event-{n}-{e['event_id']}.json"
        path.write_text(json.dumps(event, indent=2))
        print(path)


def heal(url: str) -> None:
    _request(f"{url}/_rebound/target-health", method="DELETE")


def zones(db_id: str) -> None:
    import boto3  # endpoint and credentials come from the environment

    db = boto3.client("rds").describe_db_instances(DBInstanceIdentifier=db_id)["DBInstances"][0]
    print(f"{db_id}: {db['DBInstanceStatus']}, primary in {db['AvailabilityZone']}, "
          f"standby in {db.get('SecondaryAvailabilityZone')}")


def verdict() -> None:
    text = sys.stdin.read()
    if not text.strip():
        # The invocation failed and said why on stderr.
        raise ValueError("no answer on stdin")
    answer = json.loads(text)
    if answer.get("status") == "ignored":
        print(f"ignored: {answer.get('reason')}")
        return
    for check in answer.get("checks", []):
        refusals = "; ".join(r["detail"] for r in check.get("refusals", []))
        actions = ", ".join(f"{a['kind']} {a['target']['id']} ({a['outcome']})" for a in check.get("actions", []))
        print(f"{check['resource']['type']} {check['resource']['id']}: verdict {check['verdict']}, "
              f"incident {check.get('incident_state', '-')}"
              + (f", actions: {actions}" if actions else "")
              + (f", waiting for: {check['waiting_for']}" if check.get("waiting_for") else "")
              + (f"\n    why: {refusals}" if refusals else ""))


COMMANDS = {
    "rds-alarm-event": rds_alarm_event, "rds-mode": rds_mode, "rds-advance": rds_advance,
    "rds-events": rds_events, "heal": heal, "zones": zones, "verdict": verdict,
}

if __name__ == "__main__":
    sys.exit(run(COMMANDS, __doc__))
