"""Start the ALS job on EMR for each ratings file uploaded under the input bucket's ratings prefix.

Trigger: S3 ObjectCreated notifications (asynchronous invocation, `Records[]` shape).
Idempotent per object version, twice over: Powertools idempotency keyed on (bucket, key, versionId or eTag) in
DynamoDB answers redeliveries cheaply, and before starting anything the function asks EMR for the cluster (or
step) named for the run id, so a start the table missed (its write throttled, a lost RunJobFlow response) is
found rather than repeated.

Each record is handled on its own: a malformed one is rejected with a WARNING log and never stops the others.
At most MAX_JOBS_PER_INVOCATION clusters (or steps) are started per invocation. A valid record that was not
started (EMR or DynamoDB throttling / 5xx / connection errors or a lost response, a concurrent delivery still in
progress, EMR refusing the request, or the cap reached) makes the invocation
raise RedeliveryWanted after every other record is handled: Lambda's async retries redeliver the event (records
already started are found and skipped) and, when every attempt fails, the on-failure destination keeps the
event. So no valid upload is lost, and none starts two jobs. An upload while the standing cluster has ended (its
idle auto-termination or the spend guard) is refused like a malformed record, with what to do: no retry could
start it, so it is neither retried nor kept in the on-failure destination. A misconfigured environment fails the cold start (a
deployment bug that must be loud), before any event is touched. The function never writes to S3, so it cannot
re-trigger itself.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from lab_contract.aws import aws_client, is_retryable
from lab_contract.environments import SubmitJobEnvironment
from lab_contract.logs import shown
from lambda_functions.submit_job import submission

logger = Logger()


@functools.cache
def environment() -> SubmitJobEnvironment:
    """The function's environment, parsed once per container (InvalidEnvironment names what is wrong with it)."""
    return SubmitJobEnvironment.from_environ(os.environ)


environment()  # cold start: a misconfigured deployment fails here, before any event is touched


class RedeliveryWanted(Exception):
    """Some valid records were not started: Lambda's retry (then the on-failure destination) gets the event."""


def _mark_duplicate(response: Any, idempotent_data: DataRecord) -> Any:
    """Called by Powertools only when it returns a stored result instead of running the submission."""
    return {**response, "duplicate": True}


IDEMPOTENCY = IdempotencyConfig(
    # Hash only the object's identity, so a redelivered event with other metadata is still a duplicate.
    event_key_jmespath="[bucket, key, version]",
    raise_on_no_idempotency_key=True,
    # Long enough to cover S3's at-least-once redeliveries and Lambda's async retries (up to 6 hours).
    expires_after_seconds=7 * 24 * 3600,
    response_hook=_mark_duplicate,
)


@functools.cache
def emr_client() -> Any:
    """One EMR client per container, created on first use. botocore's own retries are off: RunJobFlow and
    AddJobFlowSteps have no idempotency token, so a resend after a lost response would start a second job;
    submission.py retries the reads itself and looks for the job before any new start."""
    return aws_client("emr", retries={"total_max_attempts": 1})


@functools.cache
def submit_once() -> Any:
    """`submit` wrapped in Powertools idempotency; built on first use so the table and client come from env."""
    persistence = DynamoDBPersistenceLayer(
        table_name=environment().idempotency_table, boto3_client=aws_client("dynamodb")
    )
    return idempotent_function(
        submit,
        data_keyword_argument="upload",
        persistence_store=persistence,
        config=IDEMPOTENCY,
        key_prefix="submit_job",  # stable across function renames and test module names
    )


def submit(*, upload: dict[str, Any]) -> dict[str, str]:
    """Start the job for one upload (runs at most once per object version, and EMR is asked first)."""
    parsed = submission.Upload(**upload)
    result = submission.start_job(emr_client(), environment(), parsed, parsed.run_id)
    # "recovered" in the record: this invocation started it but lost EMR's response, then found the job.
    message = "ALS job already started, found in EMR" if result.get("existing") else "ALS job submitted"
    logger.info(message, extra={**result, "bucket": parsed.bucket, "key": parsed.key})
    return result


def not_started(error: Exception, record: int, summary: dict[str, Any]) -> None:
    """Log why a valid record was not started; the invocation will raise for a redelivery."""
    code = error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else None
    # Throttling, 5xx, a lost response; the idempotency table unreachable, or another delivery still in progress.
    if is_retryable(error) or isinstance(error, IdempotencyAlreadyInProgressError | IdempotencyPersistenceLayerError):
        logger.warning(
            "retry wanted",
            extra={"reason": "retry_wanted", "error": type(error).__name__, "code": code, "record": record},
        )
        summary["retry"].append({"reason": "retry_wanted", "record": record, "error": type(error).__name__})
        return
    # EMR refusing the request (validation, access denied) or a bug: the event
    # goes to the on-failure destination after Lambda's retries, so the upload is kept for a replay.
    message = error.response.get("Error", {}).get("Message") if isinstance(error, ClientError) else str(error)
    reason = "emr_refused" if isinstance(error, ClientError) else "submission_failed"
    logger.error(
        "job not started",
        exc_info=error,
        extra={"reason": reason, "code": code, "emr_message": shown(message), "record": record},
    )
    summary["failed"].append({"reason": reason, "record": record, "code": code or type(error).__name__})


def rejected(refusal: submission.RejectedRecord, record: int | None, summary: dict[str, Any]) -> None:
    """Log a record (or the whole event, ``record`` None) that must not start a job; it is never retried."""
    where = {} if record is None else {"record": record}
    logger.warning(
        "event rejected" if record is None else "record rejected",
        extra={"reason": refusal.reason, **where, **refusal.fields},
    )
    summary["rejected"].append({"reason": refusal.reason, **where})


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    env = environment()
    IDEMPOTENCY.register_lambda_context(context)
    summary: dict[str, Any] = {
        "submitted": [],
        "duplicates": 0,
        "rejected": [],
        "retry": [],
        "failed": [],
        "deferred": [],
    }
    try:
        records = submission.event_records(event)
    except submission.RejectedRecord as refusal:
        rejected(refusal, None, summary)
        return summary

    first_error: Exception | None = None
    for index, raw_record in enumerate(records):
        try:
            upload = submission.parse_record(S3EventRecord(raw_record), env)
        except submission.RejectedRecord as refusal:
            rejected(refusal, index, summary)
            continue
        if len(summary["submitted"]) >= env.max_jobs_per_invocation:
            # A cost bound per event: the rest wait for Lambda's retry, which skips the records started now.
            logger.warning(
                "job cap reached, record left for the retry", extra={"reason": "deferred_by_cap", "record": index}
            )
            summary["deferred"].append({"reason": "deferred_by_cap", "record": index})
            continue
        try:
            result = submit_once()(upload=upload.as_payload())
        except submission.RejectedRecord as refusal:  # the standing cluster has ended: no retry can start it
            rejected(refusal, index, summary)
            continue
        except Exception as error:  # each record on its own: the ones after it are still handled
            not_started(error, index, summary)
            first_error = first_error or error
            continue
        if result.get("duplicate") or result.get("existing"):
            logger.info("duplicate delivery, nothing started", extra={"reason": "duplicate", **result})
            summary["duplicates"] += 1
        else:
            summary["submitted"].append(result["run_id"])

    logger.info("done", extra={"summary": summary})
    unstarted = {name: len(summary[name]) for name in ("retry", "failed", "deferred") if summary[name]}
    if unstarted:
        raise RedeliveryWanted(f"records not started, by reason: {unstarted}; summary: {summary}") from first_error
    return summary
