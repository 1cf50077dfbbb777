"""Spend guard: terminate this project's forgotten EMR clusters and stop the workstation out of hours.

Trigger: EventBridge schedule (`Scheduled Event` from `aws.events`); any other event is ignored, because this
function terminates resources. Safe to run repeatedly: every run re-reads the state and decides afresh.

A cluster is terminated when it is older than MAX_CLUSTER_AGE_HOURS, or WAITING and idle for longer than
MAX_IDLE_MINUTES, idle counted from the later of Status.Timeline.ReadyDateTime and the latest EndDateTime
among its most recent steps (first page of list_steps, newest first). Only clusters carrying both the project
and the stage tag and running as the project's EMR service role (EMR_SERVICE_ROLE) are considered.

Every cluster is handled on its own: an error describing one, listing its steps or terminating it is logged at
ERROR and that cluster skipped (a cluster whose steps cannot be listed is still judged on its age), and the rest
of the run, the workstation included, goes on. Throttling / 5xx / connection errors then make the invocation
raise at the end, so the async retry runs the guard again; other errors (a protected cluster, access denied)
are reported in the summary.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from lab_contract.aws import aws_client, is_retryable
from lab_contract.environments import SpendGuardEnvironment
from lambda_functions.spend_guard import guard

logger = Logger()


@functools.cache
def environment() -> SpendGuardEnvironment:
    """The function's environment, parsed once per container (InvalidEnvironment names what is wrong with it)."""
    return SpendGuardEnvironment.from_environ(os.environ)


environment()  # cold start: a misconfigured deployment fails here, before any event is touched


# One client per service and container, created on first use.
emr_client = functools.cache(functools.partial(aws_client, "emr"))
ec2_client = functools.cache(functools.partial(aws_client, "ec2"))


def utc_now() -> datetime:
    """The clock, a separate function so tests can move it."""
    return datetime.now(UTC)


class Run:
    """What one run did, and the first error worth a retry (raised once everything else is done)."""

    def __init__(self) -> None:
        self.summary: dict[str, Any] = {"terminated": [], "kept": [], "errors": [], "workstation": None}
        self.retry_error: Exception | None = None

    def failed(self, error: Exception, message: str, **where: str) -> None:
        if self.retry_error is None and is_retryable(error):
            self.retry_error = error
        code = error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else None
        logger.error(message, exc_info=error, extra={"reason": "error", "code": code, **where})
        self.summary["errors"].append({**where, "error": code or type(error).__name__})


def project_clusters(env: SpendGuardEnvironment, run: Run) -> list[guard.ClusterView]:
    """This project's active clusters, described (tags, service role, timeline) and, when WAITING, with their latest
    step end. A failure on one cluster skips that cluster only; a failed listing keeps the clusters already seen."""
    views = []
    try:
        pages = emr_client().get_paginator("list_clusters").paginate(ClusterStates=list(guard.ACTIVE_STATES))
        for page in pages:
            for summary in page.get("Clusters", []):
                view = project_cluster(str(summary.get("Id")), env, run)
                if view is not None:
                    views.append(view)
    except Exception as error:
        run.failed(error, "listing clusters failed", operation="ListClusters")
    return views


def project_cluster(cluster_id: str, env: SpendGuardEnvironment, run: Run) -> guard.ClusterView | None:
    """The cluster's view when it is the project's, else None (also when it could not be described)."""
    emr = emr_client()
    try:
        view = guard.ClusterView.from_description(emr.describe_cluster(ClusterId=cluster_id)["Cluster"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("AccessDeniedException", "AccessDenied"):
            # A cluster we may not describe (a tag-conditioned IAM policy) is not ours.
            logger.debug("cluster not describable, skipped", extra={"cluster_id": cluster_id})
        else:
            run.failed(error, "describing a cluster failed, cluster skipped", cluster_id=cluster_id)
        return None
    except Exception as error:  # a description without what the decision needs
        run.failed(error, "describing a cluster failed, cluster skipped", cluster_id=cluster_id)
        return None
    if not guard.is_project_cluster(view, env):
        if guard.has_project_tags(view, env.project_tags):
            logger.warning(
                "cluster tagged as the project's runs as another service role: not touched",
                extra={"reason": "foreign_service_role", "cluster_id": cluster_id, "service_role": view.service_role},
            )
        return None
    if view.state != "WAITING":
        return view
    try:
        steps = emr.list_steps(ClusterId=cluster_id).get("Steps", [])  # newest first
        ends = [step["Status"].get("Timeline", {}).get("EndDateTime") for step in steps]
    except Exception as error:
        run.failed(error, "listing steps failed, the cluster is judged on its age only", cluster_id=cluster_id)
        return dataclasses.replace(view, steps_listed=False)
    return dataclasses.replace(view, last_step_end=max((end for end in ends if end is not None), default=None))


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

    env = environment()
    now = utc_now()
    run = Run()
    summary = run.summary

    clusters = project_clusters(env, run)
    decisions = guard.clusters_to_terminate(clusters, now, env)
    for decision in decisions:
        try:
            emr_client().terminate_job_flows(JobFlowIds=[decision.cluster_id])
        except Exception as error:
            run.failed(error, "terminate failed", cluster_id=decision.cluster_id, decision=decision.reason)
            continue
        logger.warning(
            "cluster terminated",
            extra={"cluster_id": decision.cluster_id, "reason": decision.reason, "detail": decision.detail},
        )
        summary["terminated"].append({"cluster_id": decision.cluster_id, "reason": decision.reason})
    terminated = {decision.cluster_id for decision in decisions}
    summary["kept"] = [cluster.cluster_id for cluster in clusters if cluster.cluster_id not in terminated]

    if env.workstation_instance_id:
        try:
            state = workstation_state(env.workstation_instance_id)
            if guard.should_stop_workstation(state, now, env):
                ec2_client().stop_instances(InstanceIds=[env.workstation_instance_id])
                logger.warning("workstation stopped out of hours", extra={"reason": "out_of_hours"})
                summary["workstation"] = "stopped"
            else:
                summary["workstation"] = state
        except Exception as error:
            run.failed(error, "workstation check failed", instance_id=env.workstation_instance_id)

    logger.info("spend guard done", extra={"summary": summary})
    if run.retry_error is not None:
        raise run.retry_error
    return summary
