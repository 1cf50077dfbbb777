"""Record and announce the outcome of this project's EMR steps and clusters.

Trigger: EventBridge rule on source `aws.emr`, detail types `EMR Step Status Change` and
`EMR Cluster State Change` (asynchronous invocation).
Idempotent: the record's S3 key ends with the EventBridge event id, so a redelivery overwrites the same object
(SNS may then announce it twice; subscribers see the same event id).

Each record carries the cluster's shape and the upload size it was sized for, read from the cluster's tags
(DescribeCluster); when they cannot be read for good (no such cluster, access denied) the record says None.
Exceptions escape on purpose only from S3 PutObject and SNS Publish (throttling, 5xx, access denied) and from a
DescribeCluster that may succeed later (throttling, 5xx), so Lambda's async retries redeliver and the on-failure
destination keeps the event. The object is written
before the message is published, so a retry after a failed publish rewrites the same object, then publishes.
Events of other projects, in-progress states, unknown states and malformed events are logged and ignored.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from lab_contract.aws import aws_client, is_retryable
from lab_contract.environments import EmrEventsEnvironment
from lambda_functions.emr_events import outcomes

logger = Logger()


@functools.cache
def environment() -> EmrEventsEnvironment:
    """The function's environment, parsed once per container (InvalidEnvironment names what is wrong with it)."""
    return EmrEventsEnvironment.from_environ(os.environ)


environment()  # cold start: a misconfigured deployment fails here, before any event is touched


# One client per service and container, created on first use.
s3_client = functools.cache(functools.partial(aws_client, "s3"))
sns_client = functools.cache(functools.partial(aws_client, "sns"))
emr_client = functools.cache(functools.partial(aws_client, "emr"))


def cluster_tags(cluster_id: str) -> dict[str, str] | None:
    """The cluster's tags; None (logged) when EMR refuses for good, an exception when a retry may succeed."""
    try:
        cluster = emr_client().describe_cluster(ClusterId=cluster_id)["Cluster"]
    except ClientError as error:
        if is_retryable(error):
            raise
        code = error.response.get("Error", {}).get("Code", "ClientError")
        logger.warning("cluster tags not readable", extra={"reason": "tags_unreadable", "code": code})
        return None
    return {tag["Key"]: tag["Value"] for tag in cluster.get("Tags", [])}


def record_outcome(outcome: outcomes.Outcome, env: EmrEventsEnvironment) -> None:
    """Store the outcome as JSON in the results bucket, then publish it to the topic."""
    body = json.dumps(outcome.record, sort_keys=True, default=str)
    s3_client().put_object(
        Bucket=env.results_bucket,
        Key=outcome.key,
        Body=body.encode("utf-8"),
        ContentType="application/json",
    )
    sns_client().publish(TopicArn=env.topic_arn, Subject=outcome.subject, Message=body)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    env = environment()
    try:
        outcome = outcomes.outcome_for(event, env)
    except outcomes.Ignored as ignored:
        log = getattr(logger, ignored.level)
        log("event ignored", extra={"reason": ignored.reason, **ignored.fields})
        return {"recorded": None, "ignored": ignored.reason}
    record = outcomes.with_cluster_tags(outcome.record, cluster_tags(outcome.record["cluster_id"]))
    outcome = outcomes.Outcome(key=outcome.key, subject=outcome.subject, record=record)
    record_outcome(outcome, env)
    logger.info(
        "outcome recorded",
        extra={
            "reason": outcome.record["status"],
            "run_id": outcome.record["run_id"],
            "cluster_id": outcome.record["cluster_id"],
            "outcome_uri": outcome.record["outcome_uri"],
        },
    )
    return {"recorded": outcome.record["outcome_uri"], "status": outcome.record["status"]}
