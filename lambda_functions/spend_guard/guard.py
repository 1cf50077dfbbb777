"""Decide which of this project's EMR clusters to terminate and whether the workstation should be stopped.

Pure functions over plain data (cluster descriptions, a clock reading): no AWS calls, tested without AWS.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lab_contract.environments import SpendGuardEnvironment

ACTIVE_STATES = ("STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING")


def role_name(role: str) -> str:
    """An IAM role's name, given its name or its ARN (EMR reports the service role as it was passed)."""
    return role.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ClusterView:
    """What the decision needs from describe_cluster (and list_steps, for WAITING clusters)."""

    cluster_id: str
    name: str
    state: str
    tags: dict[str, str]
    service_role: str
    created: datetime
    ready: datetime | None
    last_step_end: datetime | None
    steps_listed: bool = True  # False: list_steps failed, so how long it has been idle is unknown

    @classmethod
    def from_description(cls, cluster: Mapping[str, Any]) -> ClusterView:
        """Build from a describe_cluster()["Cluster"] dict (KeyError or TypeError when it lacks what is needed)."""
        timeline = cluster["Status"].get("Timeline", {})
        created = timeline["CreationDateTime"]
        if not isinstance(created, datetime):
            raise TypeError(f"CreationDateTime is not a time: {type(created).__name__}")
        return cls(
            cluster_id=cluster["Id"],
            name=cluster.get("Name", ""),
            state=cluster["Status"]["State"],
            tags={tag["Key"]: tag.get("Value", "") for tag in cluster.get("Tags", [])},
            service_role=role_name(str(cluster.get("ServiceRole", ""))),
            created=created,
            ready=timeline.get("ReadyDateTime"),
            last_step_end=None,
        )


@dataclass(frozen=True)
class Termination:
    cluster_id: str
    reason: str  # "over_age" | "idle"
    detail: str


def within_working_hours(now: datetime, environment: SpendGuardEnvironment) -> bool:
    """Is `now` (timezone-aware) inside the working hours, on a working day, in the working time zone?"""
    local = now.astimezone(environment.working_timezone)
    # Working hours never span midnight (start is before end), so the local clock alone decides.
    clock = local.time().replace(tzinfo=None)
    return local.weekday() in environment.working_days.weekdays and environment.working_hours.includes(clock)


def has_project_tags(cluster: ClusterView, tags: Mapping[str, str]) -> bool:
    """Both the project and the stage tag match: another project's or stage's cluster never does."""
    return all(cluster.tags.get(key) == value for key, value in tags.items())


def is_project_cluster(cluster: ClusterView, environment: SpendGuardEnvironment) -> bool:
    """The project and stage tags must match, and the cluster must run as the project's EMR service role.

    Tags alone are not enough: anyone allowed to tag clusters could tag another cluster into the guard's scope.
    Only a principal that may pass the project's service role (the submit function, CloudFormation) can start a
    cluster that runs as it."""
    return cluster.service_role == role_name(environment.emr_service_role) and has_project_tags(
        cluster, environment.project_tags
    )


def idle_since(cluster: ClusterView) -> datetime:
    """When a WAITING cluster last had work: the later of ReadyDateTime and the latest step's EndDateTime.

    A cluster that never became ready counts from its creation.
    """
    moments = [moment for moment in (cluster.ready, cluster.last_step_end) if moment is not None]
    return max(moments) if moments else cluster.created


def clusters_to_terminate(
    clusters: Iterable[ClusterView], now: datetime, environment: SpendGuardEnvironment
) -> list[Termination]:
    """This project's active clusters older than the maximum age, or WAITING and idle longer than allowed."""
    max_age = timedelta(hours=environment.max_cluster_age_hours)
    max_idle = timedelta(minutes=environment.max_idle_minutes)
    decisions = []
    for cluster in clusters:
        if cluster.state not in ACTIVE_STATES or not is_project_cluster(cluster, environment):
            continue
        age = now - cluster.created
        if age > max_age:
            decisions.append(Termination(cluster.cluster_id, "over_age", f"age {age} > {max_age}"))
            continue
        if cluster.state == "WAITING" and cluster.steps_listed:
            idle = now - idle_since(cluster)
            if idle > max_idle:
                decisions.append(Termination(cluster.cluster_id, "idle", f"idle {idle} > {max_idle}"))
    return decisions


def should_stop_workstation(instance_state: str, now: datetime, environment: SpendGuardEnvironment) -> bool:
    """Stop a running workstation outside working hours (a stopped one is left alone)."""
    return instance_state == "running" and not within_working_hours(now, environment)
