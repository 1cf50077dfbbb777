"""Turn EMR step and cluster state-change events into outcome records for this project's ALS runs.

Plain functions and no AWS clients of their own, so they are tested without Lambda or AWS.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent

from stacks.contract import (
    CLUSTER_SHAPE_TAG_KEY,
    GENERATED_RUN_ID,
    INPUT_BYTES_TAG_KEY,
    RUN_ID_PATTERN,
    STEP_NAME_INFIX,
    EmrEventsEnvironment,
)

STEP_CHANGE = "EMR Step Status Change"
CLUSTER_CHANGE = "EMR Cluster State Change"
STEP_SUCCESS = frozenset({"COMPLETED"})
STEP_FAILURE = frozenset({"FAILED", "CANCELLED", "INTERRUPTED"})
STEP_TRANSIENT = frozenset({"PENDING", "RUNNING", "CANCEL_PENDING"})
CLUSTER_FAILURE = frozenset({"TERMINATED_WITH_ERRORS"})
CLUSTER_INFO = frozenset({"TERMINATED"})
CLUSTER_TRANSIENT = frozenset({"STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING", "TERMINATING"})
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
class Settings:
    """The function's environment contract."""

    results_bucket: str
    outcomes_prefix: str
    results_uri: str
    log_uri: str
    topic_arn: str
    cluster_name_prefix: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        env = EmrEventsEnvironment.from_variables(environ)
        return cls(
            results_bucket=env.results_bucket,
            outcomes_prefix=env.outcomes_prefix,
            results_uri=env.results_uri.rstrip("/"),
            log_uri=env.log_uri if env.log_uri.endswith("/") else env.log_uri + "/",
            topic_arn=env.topic_arn,
            cluster_name_prefix=env.cluster_name_prefix,
        )


@dataclass(frozen=True)
class Outcome:
    """What happened to one run (or cluster), where it is stored and what to announce."""

    key: str
    subject: str
    record: dict[str, Any]


def outcome_for(raw_event: Any, settings: Settings) -> Outcome:
    """The outcome to record for an EMR event, or Ignored with the reason it records nothing."""
    if not isinstance(raw_event, dict):
        raise Ignored("event_not_an_object", type=type(raw_event).__name__)
    event = EventBridgeEvent(raw_event)
    if event.get("source") != "aws.emr":
        raise Ignored("wrong_source", source=str(event.get("source"))[:100])
    event_id = event.get("id")
    if not isinstance(event_id, str) or not EVENT_ID.fullmatch(event_id):
        raise Ignored("bad_event_id")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise Ignored("missing_detail", event_id=event_id)
    detail_type = event.get("detail-type")
    if detail_type == STEP_CHANGE:
        record = _step_record(detail, settings)
    elif detail_type == CLUSTER_CHANGE:
        record = _cluster_record(detail, settings)
    else:
        raise Ignored("unknown_detail_type", detail_type=str(detail_type)[:100], event_id=event_id)
    record.update(event_id=event_id, event_time=str(event.get("time", "")))
    folder = record["run_id"] or record["cluster_id"]
    key = f"{settings.outcomes_prefix}{folder}/{event_id}.json"
    record["outcome_uri"] = f"s3://{settings.results_bucket}/{key}"
    return Outcome(key=key, subject=subject_for(record, settings), record=record)


def _cluster_id(detail: dict[str, Any]) -> str:
    cluster_id = detail.get("clusterId")
    if not isinstance(cluster_id, str) or not CLUSTER_ID.fullmatch(cluster_id):
        raise Ignored("bad_cluster_id")
    return cluster_id


def _step_record(detail: dict[str, Any], settings: Settings) -> dict[str, Any]:
    name = detail.get("name")
    step_prefix = f"{settings.cluster_name_prefix}{STEP_NAME_INFIX}"
    if not isinstance(name, str) or not name.startswith(step_prefix):
        raise Ignored("not_this_project", level="info", emr_name=str(name)[:200])
    run_id = name[len(step_prefix) :]
    if not RUN_ID_PATTERN.fullmatch(run_id):
        raise Ignored("step_name_without_run_id", emr_name=name[:200])
    cluster_id = _cluster_id(detail)
    step_id = detail.get("stepId")
    if not isinstance(step_id, str) or not STEP_ID.fullmatch(step_id):
        raise Ignored("bad_step_id", run_id=run_id)
    state = detail.get("state")
    record: dict[str, Any] = {
        "kind": "step",
        "run_id": run_id,
        "cluster_id": cluster_id,
        "step_id": step_id,
        "name": name,
        "state": state,
        "message": detail.get("message"),
    }
    if state in STEP_SUCCESS:
        record.update(status="succeeded", metrics_uri=f"{settings.results_uri}/{run_id}/metrics.json")
    elif state in STEP_FAILURE:
        record.update(status="failed", log_uri=f"{settings.log_uri}{cluster_id}/steps/{step_id}/")
    elif state in STEP_TRANSIENT:
        raise Ignored("step_in_progress", level="debug", run_id=run_id, state=state)
    else:
        raise Ignored("unknown_step_state", run_id=run_id, state=str(state)[:50])
    return record


def _cluster_record(detail: dict[str, Any], settings: Settings) -> dict[str, Any]:
    name = detail.get("name")
    # The dash matters: "ml-lab-dev" must not claim "ml-lab-devtest-..." clusters.
    cluster_prefix = f"{settings.cluster_name_prefix}-"
    if not isinstance(name, str) or not name.startswith(cluster_prefix):
        raise Ignored("not_this_project", level="info", emr_name=str(name)[:200])
    cluster_id = _cluster_id(detail)
    # Transient clusters are named "{prefix}-{run_id}"; a standing cluster's suffix is not a run id of ours.
    suffix = name[len(cluster_prefix) :]
    run_id = suffix if GENERATED_RUN_ID.fullmatch(suffix) else None
    state = detail.get("state")
    record: dict[str, Any] = {
        "kind": "cluster",
        "run_id": run_id,
        "cluster_id": cluster_id,
        "name": name,
        "state": state,
        "state_change_reason": detail.get("stateChangeReason"),
        "message": detail.get("message"),
    }
    if state in CLUSTER_FAILURE:
        record.update(status="failed", log_uri=f"{settings.log_uri}{cluster_id}/")
    elif state in CLUSTER_INFO:
        record.update(status="terminated", log_uri=f"{settings.log_uri}{cluster_id}/")
    elif state in CLUSTER_TRANSIENT:
        raise Ignored("cluster_state_not_final", level="debug", cluster_id=cluster_id, state=state)
    else:
        raise Ignored("unknown_cluster_state", cluster_id=cluster_id, state=str(state)[:50])
    return record


def with_cluster_tags(record: dict[str, Any], tags: Mapping[str, str] | None) -> dict[str, Any]:
    """The record plus the shape submit_job gave the cluster and the upload size it was sized for (from the
    cluster's tags); None for each when the tags could not be read or the cluster has none."""
    tags = tags or {}
    size = tags.get(INPUT_BYTES_TAG_KEY, "")
    return {
        **record,
        "cluster_shape": tags.get(CLUSTER_SHAPE_TAG_KEY),
        "input_bytes": int(size) if size.isdigit() else None,
    }


def subject_for(record: dict[str, Any], settings: Settings) -> str:
    """An SNS subject: printable ASCII, one line, at most 100 characters (SNS rejects anything else)."""
    what = f"ALS run {record['run_id']}" if record["kind"] == "step" else f"EMR cluster {record['cluster_id']}"
    text = f"[{settings.cluster_name_prefix}] {what} {record['status']} ({record['state']})"
    text = "".join(char if " " <= char <= "~" else "?" for char in text)
    return text[:SUBJECT_MAX]
