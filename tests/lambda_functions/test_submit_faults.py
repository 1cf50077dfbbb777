"""submit_job under faults and Lambda retries: one upload starts one job, whatever fails and whenever the retry
comes; a valid upload that could not be started makes the invocation raise, so Lambda retries it and the
on-failure destination keeps it (never dropped with a log line)."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from botocore.exceptions import ReadTimeoutError

from lambda_functions.submit_job import submission

UPLOAD = "ratings/ml-1m/ratings.dat"


def deliver(submit_job, event, context):
    """One Lambda (re)delivery of ``event``: its summary, or the RedeliveryWanted it raised."""
    try:
        return submit_job.lambda_handler(json.loads(json.dumps(event)), context)
    except submit_job.RedeliveryWanted as wanted:
        return wanted


def end_in_progress_window(aws, events):
    """Time passes beyond Powertools' in-progress window (the invocation's remaining time when it started)."""
    for item in aws.idempotency_items():
        aws.dynamodb.update_item(
            TableName=events.table,
            Key={"id": item["id"]},
            UpdateExpression="SET in_progress_expiration = :past",
            ExpressionAttributeValues={":past": {"N": str(int(time.time() * 1000) - 1)}},
        )


def standing(aws, lambda_env):
    cluster_id = aws.standing_cluster()
    lambda_env.setenv("CLUSTER_MODE", "standing")
    lambda_env.setenv("STANDING_CLUSTER_ID", cluster_id)
    return cluster_id


def jobs_started(aws, cluster_mode):
    """Transient: clusters. Standing: steps on the one cluster."""
    return len(aws.clusters()) if cluster_mode == "transient" else len(aws.all_steps())


START = {"transient": "run_job_flow", "standing": "add_job_flow_steps"}


# ------------------------------------------------------------------------------------------------ the review's faults
def test_idempotency_write_throttled_after_run_job_flow_succeeded_starts_one_cluster(
    submit_job, aws, events, context, faults, monkeypatch
):
    event = events.s3(UPLOAD)
    real_update = DynamoDBPersistenceLayer._update_record
    throttled = []

    def throttled_once(self, data_record):
        """Powertools' write of the result (after RunJobFlow succeeded) is throttled, once."""
        if not throttled:
            throttled.append(data_record.idempotency_key)
            raise faults.client_error("ProvisionedThroughputExceededException", 400, "UpdateItem")
        return real_update(self, data_record)

    monkeypatch.setattr(DynamoDBPersistenceLayer, "_update_record", throttled_once)

    first = deliver(submit_job, event, context)
    assert isinstance(first, submit_job.RedeliveryWanted) and "retry" in str(first)
    assert len(aws.clusters()) == 1 and throttled
    [item] = aws.idempotency_items()
    assert item["status"]["S"] == "INPROGRESS"  # the table never learnt the cluster started

    within_window = deliver(submit_job, event, context)  # another delivery while the first is "in progress"
    assert isinstance(within_window, submit_job.RedeliveryWanted)
    end_in_progress_window(aws, events)
    retry = deliver(submit_job, event, context)  # Lambda's retry, after the window
    assert retry["submitted"] == [] and retry["duplicates"] == 1
    assert len(aws.clusters()) == 1
    assert deliver(submit_job, event, context)["duplicates"] == 1
    [item] = aws.idempotency_items()
    assert item["status"]["S"] == "COMPLETED"


@pytest.mark.parametrize("cluster_mode", ["transient", "standing"])
@pytest.mark.parametrize("seen_at_once", [True, False], ids=["found-at-once", "found-by-the-retry"])
def test_start_response_lost_starts_one_job(
    submit_job, aws, events, context, faults, lambda_env, cluster_mode, seen_at_once
):
    """RunJobFlow (AddJobFlowSteps) did its work but the response was lost (read timeout). EMR is asked at once;
    when its listing does not show the job yet, the invocation raises and the retry, after the in-progress window,
    finds it."""
    if cluster_mode == "standing":
        standing(aws, lambda_env)
    listing = "list_clusters" if cluster_mode == "transient" else "list_steps"
    emr = faults.emr(aws).lose_response(START[cluster_mode])
    if not seen_at_once:  # the look after the lost response is served from a listing that does not show it yet
        emr.succeed(listing).stale(listing)
    event = events.s3(UPLOAD)

    first = deliver(submit_job, event, context)
    if seen_at_once:
        assert len(first["submitted"]) == 1  # started by this invocation, its response recovered from EMR
    else:
        assert isinstance(first, submit_job.RedeliveryWanted)
        assert isinstance(first.__cause__, ReadTimeoutError)
        end_in_progress_window(aws, events)
        retry = deliver(submit_job, event, context)
        assert retry["duplicates"] == 1 and retry["submitted"] == []
    assert emr.calls[START[cluster_mode]] == 1
    assert jobs_started(aws, cluster_mode) == 1


def test_the_sdk_never_resends_run_job_flow_itself(submit_job, aws):
    """botocore would resend RunJobFlow after a read timeout (both retry modes do): the function's client must not."""
    client = submit_job.emr_client()
    sends = []

    def time_out(**kwargs):
        sends.append(kwargs["request"].url)
        raise ReadTimeoutError(endpoint_url=kwargs["request"].url)

    client.meta.events.register_first("before-send.emr.RunJobFlow", time_out)
    with pytest.raises(ReadTimeoutError):
        client.run_job_flow(Name="x", Instances={}, JobFlowRole="r", ServiceRole="s")
    assert len(sends) == 1
    default = boto3.client("emr", region_name="eu-west-2")  # what the function had before
    default.meta.events.register_first("before-send.emr.RunJobFlow", time_out)
    with pytest.raises(ReadTimeoutError):
        default.run_job_flow(Name="x", Instances={}, JobFlowRole="r", ServiceRole="s")
    assert len(sends) > 2


@pytest.mark.parametrize("cluster_mode", ["transient", "standing"])
@pytest.mark.parametrize(
    ("code", "status"),
    [("ThrottlingException", 400), ("InternalServerError", 500), ("ServiceUnavailable", 503)],
)
def test_a_start_that_fails_for_now_is_retried_and_starts_once(
    submit_job, aws, events, context, faults, lambda_env, cluster_mode, code, status
):
    if cluster_mode == "standing":
        standing(aws, lambda_env)
    emr = faults.emr(aws).fail(START[cluster_mode], faults.client_error(code, status))
    event = events.s3(UPLOAD)

    first = deliver(submit_job, event, context)
    assert isinstance(first, submit_job.RedeliveryWanted)
    assert first.__cause__.response["Error"]["Code"] == code
    assert jobs_started(aws, cluster_mode) == 0
    assert aws.idempotency_items() == []  # Powertools deleted the in-progress record: a retry runs again
    retried, again = deliver(submit_job, event, context), deliver(submit_job, event, context)
    assert len(retried["submitted"]) == 1 and again["duplicates"] == 1
    assert jobs_started(aws, cluster_mode) == 1 and emr.calls[START[cluster_mode]] == 1


@pytest.mark.parametrize("listing", ["list_clusters", "list_steps"])
def test_throttled_emr_reads_are_retried_within_the_invocation(
    submit_job, aws, events, context, faults, lambda_env, listing
):
    if listing == "list_steps":
        standing(aws, lambda_env)
    emr = faults.emr(aws).fail(listing, faults.client_error("ThrottlingException"), times=2)
    summary = deliver(submit_job, events.s3(UPLOAD), context)
    assert len(summary["submitted"]) == 1 and emr.calls[listing] == 1


def test_reads_that_keep_failing_leave_the_record_for_the_retry(submit_job, aws, events, context, faults):
    faults.emr(aws).fail("list_clusters", faults.client_error("ThrottlingException"), times=3)
    event = events.s3(UPLOAD)
    assert isinstance(deliver(submit_job, event, context), submit_job.RedeliveryWanted)
    assert aws.clusters() == []
    assert len(deliver(submit_job, event, context)["submitted"]) == 1


# ------------------------------------------------------------------------------------------------ refused, never dropped
def test_a_step_emr_refuses_on_a_cluster_that_looked_alive_reaches_the_on_failure_destination(
    submit_job, aws, events, context, faults, lambda_env, logs
):
    """The cluster ends between DescribeCluster (still WAITING) and AddJobFlowSteps, which EMR refuses: a refusal
    submit_job could not foresee goes to Lambda's retries and the on-failure destination, for a replay. (A cluster
    DescribeCluster already shows as ended is refused at once: test_submit_job.py.)"""
    standing(aws, lambda_env)
    emr = faults.emr(aws).fail(
        "add_job_flow_steps",
        faults.client_error("ValidationException", 400, "AddJobFlowSteps"),
        times=3,
    )
    event = events.s3(UPLOAD)
    for _attempt in range(3):  # the first delivery and Lambda's two retries: each raises, then the destination
        refused = deliver(submit_job, event, context)
        assert isinstance(refused, submit_job.RedeliveryWanted) and "'failed': 1" in str(refused)
    assert aws.all_steps() == [] and emr.calls.get("add_job_flow_steps", 0) == 0
    assert any(entry["level"] == "ERROR" and entry.get("reason") == "emr_refused" for entry in logs)
    assert aws.idempotency_items() == []  # nothing remembered: a replay from the destination runs again

    new = aws.standing_cluster()  # the stack redeployed: a new standing cluster
    lambda_env.setenv("STANDING_CLUSTER_ID", new)
    replayed = deliver(submit_job, event, context)
    assert len(replayed["submitted"]) == 1 and [s["Id"] for s in aws.steps(new)]


@pytest.mark.parametrize("code", ["ValidationException", "AccessDeniedException"])
def test_a_transient_start_emr_refuses_is_raised_for_the_on_failure_destination(
    submit_job, aws, events, context, faults, logs, code
):
    faults.emr(aws).fail("run_job_flow", faults.client_error(code, 400, "RunJobFlow"))
    event = events.s3(UPLOAD)
    refused = deliver(submit_job, event, context)
    assert isinstance(refused, submit_job.RedeliveryWanted)
    assert refused.__cause__.response["Error"]["Code"] == code
    assert any(entry["level"] == "ERROR" and entry.get("code") == code for entry in logs)
    assert len(deliver(submit_job, event, context)["submitted"]) == 1  # the replay, once EMR accepts it


def test_an_unexpected_error_in_one_record_does_not_stop_the_others(submit_job, aws, events, context, monkeypatch):
    real = submission.start_job

    def broken_for_one(emr, settings, upload, run_id):
        if upload.key.endswith("bad.data"):
            raise KeyError("JobFlowId")  # e.g. a response without the field
        return real(emr, settings, upload, run_id)

    monkeypatch.setattr(submission, "start_job", broken_for_one)
    batch = [
        events.s3(key, etag=f"{n:032x}")["Records"][0]
        for n, key in enumerate(["ratings/a.data", "ratings/bad.data", "ratings/b.data"])
    ]
    failed = deliver(submit_job, {"Records": batch}, context)
    assert isinstance(failed, submit_job.RedeliveryWanted) and isinstance(failed.__cause__, KeyError)
    assert len(aws.clusters()) == 2
