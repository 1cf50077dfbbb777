"""Turn EMR step and cluster state-change events into outcome records for this project's ALS runs.

Plain functions and no AWS clients of their own, so they are tested without Lambda or AWS.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent

from lab_contract.environments import EmrEventsEnvironment
from lab_contract.logs import shown
from lab_contract.names import (
    CLUSTER_SHAPE_TAG_KEY,
    INPUT_BYTES_TAG_KEY,
    is_standing_cluster_name,
    run_id_of_step,
    run_id_of_transient_cluster,
)

STEP_CHANGE = "EMR Step Status Change"
CLUSTER_CHANGE = "EMR Cluster State Change"
# EMR state -> the status recorded; None: not final yet, nothing recorded. Any other state is unknown.
STEP_STATUS: Mapping[str, str | None] = {
    "COMPLETED": "succeeded",
    **dict.fromkeys(("FAILED", "CANCELLED", "INTERRUPTED"), "failed"),
    **dict.fromkeys(("PENDING", "RUNNING", "CANCEL_PENDING"), None),
}
CLUSTER_STATUS: Mapping[str, str | None] = {
    "TERMINATED_WITH_ERRORS": "failed",
    "TERMINATED": "terminated",
    **dict.fromkeys(("STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING", "TERMINATING"), None),
}
# Ids end up in S3 keys and URIs: accept only the characters EMR and EventBridge actually use.
EVENT_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
CLUSTER_ID = re.compile(r"j-[A-Z0-9]{1,64}")
STEP_ID = re.compile(r"s-[A-Z0-9]{1,64}")
SUBJECT_MAX = 100  # SNS limit


class Ignored(Exception):
    """An event that records nothing; `level` says how loudly to log it (debug for expected noise)."""

    def __init__(self, reason: str, level: str = "warning", **fields: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.level = level
        self.fields = fields


@dataclass(frozen=True)
class Outcome:
    """What happened to one run (or cluster), where it is stored and what to announce."""

    key: str
    subject: str
    record: dict[str, Any]


def outcome_for(raw_event: Any, environment: EmrEventsEnvironment) -> Outcome:
    """The outcome to record for an EMR event, or Ignored with the reason it records nothing."""
    if not isinstance(raw_event, dict):
        raise Ignored("event_not_an_object", type=type(raw_event).__name__)
    event = EventBridgeEvent(raw_event)
    if event.get("source") != "aws.emr":
        raise Ignored("wrong_source", source=shown(event.get("source"), 100))
    event_id = event.get("id")
    if not isinstance(event_id, str) or not EVENT_ID.fullmatch(event_id):
        raise Ignored("bad_event_id")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise Ignored("missing_detail", event_id=event_id)
    detail_type = event.get("detail-type")
    if detail_type == STEP_CHANGE:
        record = _step_record(detail, environment)
    elif detail_type == CLUSTER_CHANGE:
        record = _cluster_record(detail, environment)
    else:
        raise Ignored("unknown_detail_type", detail_type=shown(detail_type, 100), event_id=event_id)
    record.update(event_id=event_id, event_time=shown(event.get("time", ""), 64))
    folder = record["run_id"] or record["cluster_id"]
    key = f"{environment.outcomes_prefix}{folder}/{event_id}.json"
    record["outcome_uri"] = f"s3://{environment.results_bucket}/{key}"
    return Outcome(key=key, subject=subject_for(record, environment), record=record)


def _cluster_id(detail: dict[str, Any]) -> str:
    cluster_id = detail.get("clusterId")
    if not isinstance(cluster_id, str) or not CLUSTER_ID.fullmatch(cluster_id):
        raise Ignored("bad_cluster_id")
    return cluster_id


def _status(kind: str, detail: dict[str, Any], statuses: Mapping[str, str | None], **where: Any) -> str:
    """The status to record for the event's state, or Ignored: not final yet (debug), or unknown. A state that is
    not a string (a list or an object is unhashable) is unknown."""
    state = detail.get("state")
    if not isinstance(state, str) or state not in statuses:
        raise Ignored(f"unknown_{kind}_state", state=shown(state, 50), **where)
    status = statuses[state]
    if status is None:
        raise Ignored(f"{kind}_state_not_final", level="debug", state=state, **where)
    return status


def _step_record(detail: dict[str, Any], environment: EmrEventsEnvironment) -> dict[str, Any]:
    name = detail.get("name")
    # Exactly "<prefix>-als-<generated run id>": a prefix match would claim the steps of a project "ml-lab-dev-als".
    run_id = run_id_of_step(environment.cluster_name_prefix, name)
    if run_id is None:
        raise Ignored("not_this_project", level="info", emr_name=shown(name))
    cluster_id = _cluster_id(detail)
    step_id = detail.get("stepId")
    if not isinstance(step_id, str) or not STEP_ID.fullmatch(step_id):
        raise Ignored("bad_step_id", run_id=run_id)
    status = _status("step", detail, STEP_STATUS, run_id=run_id)
    located = (
        {"metrics_uri": f"{environment.results_uri}/{run_id}/metrics.json"}
        if status == "succeeded"
        else {"log_uri": f"{environment.log_uri}{cluster_id}/steps/{step_id}/"}
    )
    return {
        "kind": "step",
        "run_id": run_id,
        "cluster_id": cluster_id,
        "step_id": step_id,
        "name": name,
        "state": detail["state"],
        "message": detail.get("message"),
        "status": status,
        **located,
    }


def _cluster_record(detail: dict[str, Any], environment: EmrEventsEnvironment) -> dict[str, Any]:
    name = detail.get("name")
    # Exactly "<prefix>-<generated run id>" (transient) or "<prefix>-standing[-<generation>]": stage "prod" of a
    # project named "ml-lab-dev" names its clusters "ml-lab-dev-prod-...", which a prefix match would claim.
    run_id = run_id_of_transient_cluster(environment.cluster_name_prefix, name)
    if run_id is None and not is_standing_cluster_name(environment.cluster_name_prefix, name):
        raise Ignored("not_this_project", level="info", emr_name=shown(name))
    cluster_id = _cluster_id(detail)
    return {
        "kind": "cluster",
        "run_id": run_id,
        "cluster_id": cluster_id,
        "name": name,
        "state_change_reason": detail.get("stateChangeReason"),
        "message": detail.get("message"),
        "status": _status("cluster", detail, CLUSTER_STATUS, cluster_id=cluster_id),
        "state": detail["state"],
        "log_uri": f"{environment.log_uri}{cluster_id}/",
    }


def with_cluster_tags(record: dict[str, Any], tags: Mapping[str, str] | None) -> dict[str, Any]:
    """The record plus the shape submit_job gave the cluster and the upload size it was sized for (from the
    cluster's tags); None for each when the tags could not be read or the cluster has none."""
    tags = tags or {}
    size = tags.get(INPUT_BYTES_TAG_KEY, "")
    return {
        **record,
        "cluster_shape": tags.get(CLUSTER_SHAPE_TAG_KEY),
        "input_bytes": int(size) if size.isascii() and size.isdigit() else None,
    }


def subject_for(record: dict[str, Any], environment: EmrEventsEnvironment) -> str:
    """An SNS subject: printable ASCII, one line, at most 100 characters (SNS rejects anything else)."""
    what = f"ALS run {record['run_id']}" if record["kind"] == "step" else f"EMR cluster {record['cluster_id']}"
    text = f"[{environment.cluster_name_prefix}] {what} {record['status']} ({record['state']})"
    text = "".join(char if " " <= char <= "~" else "?" for char in text)
    return text[:SUBJECT_MAX]
