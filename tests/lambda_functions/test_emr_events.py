"""emr_events: this project's step and cluster outcomes are stored in S3 and announced on SNS."""

from __future__ import annotations

import json
import os

import pytest
from botocore.exceptions import ClientError

from lab_contract.environments import EmrEventsEnvironment
from lambda_functions.emr_events import outcomes

RUN_ID = "20261125-3ea629fd85a4"
CLUSTER_ID = "j-2AXXXXXXGAPLF"
STEP_ID = "s-1LXXXXXXWKTA2"


def step_detail(events, state: str, name: str | None = None) -> dict:
    return {
        "severity": "INFO" if state == "COMPLETED" else "ERROR",
        "actionOnFailure": "TERMINATE_CLUSTER",
        "stepId": STEP_ID,
        "name": name or f"{events.prefix}-als-{RUN_ID}",
        "clusterId": CLUSTER_ID,
        "state": state,
        "message": f"Step {STEP_ID} ({events.prefix}-als-{RUN_ID}) in Amazon EMR cluster {CLUSTER_ID} is {state}.",
    }


def cluster_detail(events, state: str, name: str | None = None) -> dict:
    return {
        "severity": "ERROR" if state == "TERMINATED_WITH_ERRORS" else "INFO",
        "stateChangeReason": json.dumps({"code": "STEP_FAILURE", "message": "Shut down as step failed"}),
        "name": name or f"{events.prefix}-{RUN_ID}",
        "clusterId": CLUSTER_ID,
        "state": state,
        "message": f"Amazon EMR Cluster {CLUSTER_ID} has {state}.",
    }


def stored(aws, events, key: str) -> dict:
    return json.loads(aws.s3.get_object(Bucket=events.results_bucket, Key=key)["Body"].read())


def test_completed_step_records_success_with_metrics_location(emr_events, aws, events, context):
    event = events.emr("EMR Step Status Change", step_detail(events, "COMPLETED"))
    result = emr_events.lambda_handler(event, context)

    key = f"outcomes/{RUN_ID}/{event['id']}.json"
    assert aws.objects(events.results_bucket) == [key]
    record = stored(aws, events, key)
    assert record["status"] == "succeeded" and record["kind"] == "step"
    assert record["run_id"] == RUN_ID and record["cluster_id"] == CLUSTER_ID and record["step_id"] == STEP_ID
    assert record["metrics_uri"] == f"{events.results_uri}/{RUN_ID}/metrics.json"
    assert result == {"recorded": f"s3://{events.results_bucket}/{key}", "status": "succeeded"}
    [message] = aws.messages()
    assert message["TopicArn"] == aws.topic_arn
    assert json.loads(message["Message"]) == record
    assert message["Subject"] == f"[{events.prefix}] ALS run {RUN_ID} succeeded (COMPLETED)"


@pytest.mark.parametrize("state", ["FAILED", "CANCELLED", "INTERRUPTED"])
def test_failed_step_records_failure_with_step_log_location(emr_events, aws, events, context, state):
    event = events.emr("EMR Step Status Change", step_detail(events, state))
    emr_events.lambda_handler(event, context)

    record = stored(aws, events, f"outcomes/{RUN_ID}/{event['id']}.json")
    assert record["status"] == "failed" and record["state"] == state
    assert record["log_uri"] == f"{events.log_uri}{CLUSTER_ID}/steps/{STEP_ID}/"
    assert "metrics_uri" not in record
    [message] = aws.messages()
    assert json.loads(message["Message"])["status"] == "failed"
    assert len(message["Subject"]) <= 100


def test_cluster_terminated_with_errors_is_a_failure(emr_events, aws, events, context):
    event = events.emr("EMR Cluster State Change", cluster_detail(events, "TERMINATED_WITH_ERRORS"))
    emr_events.lambda_handler(event, context)

    record = stored(aws, events, f"outcomes/{RUN_ID}/{event['id']}.json")  # transient cluster: under its run id
    assert record["status"] == "failed" and record["kind"] == "cluster"
    assert record["log_uri"] == f"{events.log_uri}{CLUSTER_ID}/"
    assert len(aws.messages()) == 1


def test_standing_cluster_terminated_is_recorded_under_its_cluster_id(emr_events, aws, events, context):
    event = events.emr(
        "EMR Cluster State Change", cluster_detail(events, "TERMINATED", name=f"{events.prefix}-standing")
    )
    emr_events.lambda_handler(event, context)

    record = stored(aws, events, f"outcomes/{CLUSTER_ID}/{event['id']}.json")
    assert record["status"] == "terminated" and record["run_id"] is None


def test_redelivery_overwrites_the_same_object(emr_events, aws, events, context):
    event = events.emr("EMR Step Status Change", step_detail(events, "COMPLETED"))
    emr_events.lambda_handler(event, context)
    emr_events.lambda_handler(event, context)
    assert len(aws.objects(events.results_bucket)) == 1


@pytest.mark.parametrize(
    ("detail_type", "state"),
    [
        ("EMR Step Status Change", "RUNNING"),
        ("EMR Step Status Change", "PENDING"),
        ("EMR Cluster State Change", "STARTING"),
        ("EMR Cluster State Change", "RUNNING"),
        ("EMR Cluster State Change", "WAITING"),
    ],
)
def test_in_progress_states_are_ignored_with_a_debug_log(emr_events, aws, events, context, logs, detail_type, state):
    build = step_detail if detail_type.startswith("EMR Step") else cluster_detail
    result = emr_events.lambda_handler(events.emr(detail_type, build(events, state)), context)

    assert result["recorded"] is None
    assert aws.objects(events.results_bucket) == [] and aws.messages() == []
    assert any(entry["level"] == "DEBUG" and entry.get("state") == state for entry in logs)


def test_long_messages_still_give_a_valid_subject(emr_events, aws, events, context):
    long_run = "20261125-" + "a" * 12
    detail = step_detail(events, "FAILED", name=f"{events.prefix}-als-{long_run}")
    environment = EmrEventsEnvironment.from_environ({**os.environ, "CLUSTER_NAME_PREFIX": events.prefix})
    record = outcomes.outcome_for(events.emr("EMR Step Status Change", detail), environment).record
    wide = {**record, "run_id": "é" * 200}
    subject = outcomes.subject_for(wide, environment)
    assert len(subject) <= 100 and subject.isascii() and "\n" not in subject


NAMES = [
    # (deployment's prefix, EMR name, step or cluster, is it this deployment's)
    ("ml-lab-dev", f"ml-lab-dev-als-{RUN_ID}", "step", True),
    ("ml-lab-dev", f"ml-lab-dev-{RUN_ID}", "cluster", True),
    ("ml-lab-dev", "ml-lab-dev-standing", "cluster", True),
    # later standing generations (make restart-standing): 2 and up, no leading zero, nothing after the number
    ("ml-lab-dev", "ml-lab-dev-standing-2", "cluster", True),
    ("ml-lab-dev", "ml-lab-dev-standing-10", "cluster", True),
    ("ml-lab-dev", "ml-lab-dev-standing-1", "cluster", False),
    ("ml-lab-dev", "ml-lab-dev-standing-0", "cluster", False),
    ("ml-lab-dev", "ml-lab-dev-standing-02", "cluster", False),
    ("ml-lab-dev", "ml-lab-dev-standing-2x", "cluster", False),
    ("ml-lab-dev", "ml-lab-dev-standing-", "cluster", False),
    ("ml-lab-dev", "ml-lab-dev-standing-\u0662", "cluster", False),  # ARABIC-INDIC DIGIT TWO
    ("ml-lab-dev", "ml-lab-dev-prod-standing-2", "cluster", False),
    ("ml-lab-dev", f"ml-lab-dev-prod-als-{RUN_ID}", "step", False),  # stage prod of a project named ml-lab-dev
    ("ml-lab-dev", f"ml-lab-dev-prod-{RUN_ID}", "cluster", False),
    ("ml-lab-dev", "ml-lab-dev-prod-standing", "cluster", False),
    ("ml-lab-dev", f"ml-lab-dev-als-dev-als-{RUN_ID}", "step", False),  # a project named ml-lab-dev-als
    ("ml-lab-dev", f"ml-lab-dev-als-dev-{RUN_ID}", "cluster", False),
    ("ml-lab-dev", "ml-lab-dev-als-dev-standing", "cluster", False),
    ("ml-lab-dev", f"ml-lab-devtest-{RUN_ID}", "cluster", False),
    ("ml-lab-dev", f"ml-lab-dev-{RUN_ID}-retry", "cluster", False),
    ("ml-lab-dev", f"ml-lab-dev-als-{RUN_ID}/../x", "step", False),
    ("ml-lab-dev", f"ml-lab-dev-{RUN_ID.upper()}", "cluster", False),
    ("ml-lab-dev", f"ML-LAB-DEV-als-{RUN_ID}", "step", False),
    ("ml-lab-dev", f" ml-lab-dev-als-{RUN_ID}", "step", False),
    ("ml-lab-dev", None, "cluster", False),
    ("ml-lab-dev", ["ml-lab-dev-standing"], "cluster", False),
    # the other deployments' own events are theirs, and ours are not theirs
    ("ml-lab-dev-prod", f"ml-lab-dev-prod-als-{RUN_ID}", "step", True),
    ("ml-lab-dev-prod", f"ml-lab-dev-als-{RUN_ID}", "step", False),
    ("ml-lab-dev-als-dev", f"ml-lab-dev-als-dev-als-{RUN_ID}", "step", True),
    ("ml-lab-dev-als-dev", f"ml-lab-dev-als-{RUN_ID}", "step", False),
    ("ml-lab-dev-als-dev", "ml-lab-dev-standing", "cluster", False),
]


def emr_event(events, kind: str, number: int = 0, **detail: object) -> dict:
    """A step or cluster event with ``detail`` overridden; ``number`` makes its event id (and outcome key) unique."""
    event_id = f"b1a2c3d4-0000-4000-8000-{number:012d}"
    if kind == "step":
        return events.emr("EMR Step Status Change", {**step_detail(events, "FAILED"), **detail}, event_id)
    return events.emr("EMR Cluster State Change", {**cluster_detail(events, "TERMINATED"), **detail}, event_id)


def test_only_the_exact_name_formats_of_this_deployment_are_recorded(emr_events, aws, events, context, lambda_env):
    recorded = 0
    for number, (prefix, name, kind, ours) in enumerate(NAMES):
        lambda_env.setenv("CLUSTER_NAME_PREFIX", prefix)
        result = emr_events.lambda_handler(emr_event(events, kind, number, name=name), context)
        recorded += ours
        assert (result["recorded"] is not None) == ours, (prefix, name)
        if not ours:
            assert result == {"recorded": None, "ignored": "not_this_project"}, (prefix, name)
        assert len(aws.objects(events.results_bucket)) == recorded, (prefix, name)
    assert len(aws.messages()) == recorded == 7


def test_a_state_of_any_json_type_is_an_unknown_state(emr_events, aws, events, context, logs):
    for kind in ("step", "cluster"):
        for state in (["COMPLETED"], {"state": "FAILED"}, 7, 1e400, None, True, "", "completed", "TERMINATED "):
            result = emr_events.lambda_handler(emr_event(events, kind, state=state), context)
            assert result == {"recorded": None, "ignored": f"unknown_{kind}_state"}, (kind, state)
            assert logs[-1]["level"] == "WARNING" and logs[-1]["reason"] == f"unknown_{kind}_state"
    assert aws.objects(events.results_bucket) == [] and aws.messages() == []


def test_a_failed_publish_is_retried_and_the_outcome_is_stored_once(
    emr_events, aws, events, context, faults, monkeypatch
):
    """Lambda's retry after an SNS error rewrites the same object, then publishes: one object, one message."""
    event = events.emr("EMR Step Status Change", step_detail(events, "FAILED"))
    sns = faults.Faulty(emr_events.sns_client()).fail("publish", faults.client_error("Throttling", 400, "Publish"))
    monkeypatch.setattr(emr_events, "sns_client", lambda: sns)
    with pytest.raises(ClientError, match="Throttling"):
        emr_events.lambda_handler(event, context)
    assert len(aws.objects(events.results_bucket)) == 1 and aws.messages() == []
    emr_events.lambda_handler(event, context)  # Lambda's retry
    assert len(aws.objects(events.results_bucket)) == 1 and len(aws.messages()) == 1
