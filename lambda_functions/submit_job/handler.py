"""Start the ALS job on EMR for each ratings file uploaded under the input bucket's ratings prefix.

Trigger: S3 ObjectCreated notifications (asynchronous invocation, `Records[]` shape).
Idempotent per object version: Powertools idempotency keyed on (bucket, key, versionId or eTag) in DynamoDB.

Exceptions escape on purpose only when a redelivery can succeed, after every other record in the event has
been handled: EMR or DynamoDB throttling / 5xx / connection errors, and a concurrent delivery of the same
object still in progress. Lambda's async retries then redeliver the event (records already submitted are
duplicates by then) and the on-failure destination keeps the event if every attempt fails. A misconfigured
environment also raises (a deployment bug that must be loud). Everything else is rejected with a WARNING
log and no exception. The function never writes to S3, so it cannot re-trigger itself.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3
import submission
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

from stacks.contract import SubmitJobEnvironment, is_retryable

logger = Logger()
# Cold start: a deployment without the contract's variables fails here, naming them, before any event is touched.
SubmitJobEnvironment.from_variables(os.environ)


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
    """One EMR client per container, created on first use (region from the Lambda environment)."""
    return boto3.client("emr", region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))


@functools.cache
def submit_once() -> Any:
    """`submit` wrapped in Powertools idempotency; built on first use so the table and client come from env."""
    persistence = DynamoDBPersistenceLayer(
        table_name=os.environ["IDEMPOTENCY_TABLE"],
        boto3_client=boto3.client(
            "dynamodb", region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        ),
    )
    return idempotent_function(
        submit,
        data_keyword_argument="upload",
        persistence_store=persistence,
        config=IDEMPOTENCY,
        key_prefix="submit_job",  # stable across function renames and test module names
    )


def submit(*, upload: dict[str, Any], settings: submission.Settings) -> dict[str, str]:
    """Start the job for one upload (runs at most once per object version)."""
    parsed = submission.Upload(**upload)
    run_id = submission.run_id_for(parsed)
    result = submission.start_job(emr_client(), settings, parsed, run_id)
    logger.info("ALS job submitted", extra={**result, "bucket": parsed.bucket, "key": parsed.key})
    return result


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    settings = submission.Settings.from_env(os.environ)
    IDEMPOTENCY.register_lambda_context(context)
    summary: dict[str, Any] = {"submitted": [], "duplicates": 0, "rejected": []}
    try:
        records = submission.event_records(event)
    except submission.RejectedRecord as rejected:
        logger.warning("event rejected", extra={"reason": rejected.reason, **rejected.fields})
        summary["rejected"].append({"reason": rejected.reason})
        return summary

    retry_error: Exception | None = None
    for index, raw_record in enumerate(records):
        try:
            upload = submission.parse_record(S3EventRecord(raw_record), settings)
            result = submit_once()(upload=upload.as_payload(), settings=settings)
        except submission.RejectedRecord as rejected:
            logger.warning("record rejected", extra={"reason": rejected.reason, "record": index, **rejected.fields})
            summary["rejected"].append({"reason": rejected.reason, "record": index})
            continue
        except (IdempotencyAlreadyInProgressError, IdempotencyPersistenceLayerError) as error:
            logger.warning(
                "retry wanted", extra={"reason": "retry_wanted", "error": type(error).__name__, "record": index}
            )
            retry_error = retry_error or error
            continue
        except Exception as error:
            if not is_retryable(error):
                if isinstance(error, ClientError):
                    # A request EMR refuses (validation, access denied) fails the same way on every retry.
                    code = error.response.get("Error", {}).get("Code", "ClientError")
                    logger.exception("EMR refused the job", extra={"reason": "emr_refused", "code": code})
                    summary["rejected"].append({"reason": "emr_refused", "record": index, "code": code})
                    continue
                raise
            code = error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else None
            logger.warning(
                "retry wanted",
                extra={"reason": "retry_wanted", "error": type(error).__name__, "code": code, "record": index},
            )
            retry_error = retry_error or error
            continue
        if result.get("duplicate"):
            logger.info("duplicate delivery, nothing started", extra={"reason": "duplicate", **result})
            summary["duplicates"] += 1
        else:
            summary["submitted"].append(result["run_id"])

    if retry_error is not None:
        raise retry_error
    logger.info("done", extra={"summary": summary})
    return summary
