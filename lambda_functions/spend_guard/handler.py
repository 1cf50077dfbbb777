"""Spend guard: terminate this project's forgotten EMR clusters and stop the workstation out of hours.

Trigger: EventBridge schedule (`Scheduled Event` from `aws.events`); any other event is ignored, because this
function terminates resources. Safe to run repeatedly: every run re-reads the state and decides afresh.

A cluster is terminated when it is older than MAX_CLUSTER_AGE_HOURS, or WAITING and idle for longer than
MAX_IDLE_MINUTES, idle counted from the later of Status.Timeline.ReadyDateTime and the latest EndDateTime
among its most recent steps (first page of list_steps, newest first). Only clusters carrying both the project
and the stage tag are considered.

Exceptions escape on purpose only for throttling / 5xx / connection errors, after every cluster and the
workstation have been handled, so the async retry runs the guard again. Other AWS errors (e.g. a protected
cluster, access denied) are logged at ERROR and reported in the summary.
"""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime
from typing import Any

import boto3
import guard
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from stacks.contract import SpendGuardEnvironment, is_retryable

logger = Logger()
# Cold start: a deployment without the contract's variables fails here, naming them, before any event is touched.
SpendGuardEnvironment.from_variables(os.environ)


def _region() -> str | None:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


@functools.cache
def emr_client() -> Any:
    """One EMR client per container, created on first use."""
    return boto3.client("emr", region_name=_region())


@functools.cache
def ec2_client() -> Any:
    """One EC2 client per container, created on first use."""
    return boto3.client("ec2", region_name=_region())


def utc_now() -> datetime:
    """The clock, a separate function so tests can move it."""
    return datetime.now(UTC)


def project_clusters(tags: dict[str, str]) -> list[guard.ClusterView]:
    """This project's active clusters, described (tags, timeline) and, when WAITING, with their latest step end.

    A cluster we may not describe (a tag-conditioned IAM policy) is not ours, so it is skipped.
    """
    emr = emr_client()
    views = []
    for page in emr.get_paginator("list_clusters").paginate(ClusterStates=list(guard.ACTIVE_STATES)):
        for summary in page["Clusters"]:
            try:
                cluster = emr.describe_cluster(ClusterId=summary["Id"])["Cluster"]
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") not in ("AccessDeniedException", "AccessDenied"):
                    raise
                logger.debug("cluster not describable, skipped", extra={"cluster_id": summary["Id"]})
                continue
            view = guard.ClusterView.from_description(cluster)
            if not guard.is_project_cluster(view, tags):
                continue
            if view.state == "WAITING":
                steps = emr.list_steps(ClusterId=view.cluster_id).get("Steps", [])  # newest first
                ends = [step["Status"].get("Timeline", {}).get("EndDateTime") for step in steps]
                view = guard.ClusterView.from_description(
                    cluster, max((end for end in ends if end is not None), default=None)
                )
            views.append(view)
    return views


def workstation_state(instance_id: str) -> str:
    reservations = ec2_client().describe_instances(InstanceIds=[instance_id])["Reservations"]
    return reservations[0]["Instances"][0]["State"]["Name"]


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    if (
        not isinstance(event, dict)
        or EventBridgeEvent(event).get("source") != "aws.events"
        or EventBridgeEvent(event).get("detail-type") != "Scheduled Event"
    ):
        logger.warning("not a scheduled event, nothing done", extra={"reason": "not_a_scheduled_event"})
        return {"terminated": [], "kept": [], "workstation": None, "ignored": "not_a_scheduled_event"}

    settings = guard.Settings.from_env(os.environ)
    now = utc_now()
    summary: dict[str, Any] = {"terminated": [], "kept": [], "errors": [], "workstation": None}
    retry_error: Exception | None = None

    clusters = project_clusters(settings.tags)
    decisions = guard.clusters_to_terminate(clusters, now, settings)
    for decision in decisions:
        try:
            emr_client().terminate_job_flows(JobFlowIds=[decision.cluster_id])
        except (ClientError, BotocoreConnectionError) as error:
            retry_error = retry_error or (error if is_retryable(error) else None)
            logger.exception("terminate failed", extra={"cluster_id": decision.cluster_id, "reason": decision.reason})
            summary["errors"].append({"cluster_id": decision.cluster_id, "error": type(error).__name__})
            continue
        logger.warning(
            "cluster terminated",
            extra={"cluster_id": decision.cluster_id, "reason": decision.reason, "detail": decision.detail},
        )
        summary["terminated"].append({"cluster_id": decision.cluster_id, "reason": decision.reason})
    terminated = {decision.cluster_id for decision in decisions}
    summary["kept"] = [cluster.cluster_id for cluster in clusters if cluster.cluster_id not in terminated]

    if settings.workstation_instance_id:
        try:
            state = workstation_state(settings.workstation_instance_id)
            if guard.should_stop_workstation(state, now, settings):
                ec2_client().stop_instances(InstanceIds=[settings.workstation_instance_id])
                logger.warning("workstation stopped out of hours", extra={"reason": "out_of_hours"})
                summary["workstation"] = "stopped"
            else:
                summary["workstation"] = state
        except (ClientError, BotocoreConnectionError) as error:
            retry_error = retry_error or (error if is_retryable(error) else None)
            logger.exception("workstation check failed", extra={"instance_id": settings.workstation_instance_id})
            summary["errors"].append({"instance_id": settings.workstation_instance_id, "error": type(error).__name__})

    if retry_error is not None:
        raise retry_error
    logger.info("spend guard done", extra={"summary": summary})
    return summary
