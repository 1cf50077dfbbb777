"""Decide which of this project's EMR clusters to terminate and whether the workstation should be stopped.

Pure functions over plain data (cluster descriptions, a clock reading): no AWS calls, tested without AWS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

ACTIVE_STATES = ("STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING")
DAY_NAMES = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")  # index = datetime.weekday()


@dataclass(frozen=True)
class Settings:
    """The function's environment contract."""

    tags: dict[str, str]
    max_age: timedelta
    max_idle: timedelta
    workstation_instance_id: str
    working_start: time
    working_end: time
    working_days: frozenset[int]
    timezone: ZoneInfo

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        start, end = parse_working_hours(environ.get("WORKING_HOURS", "07:00-19:00"))
        return cls(
            tags={
                environ["PROJECT_TAG_KEY"]: environ["PROJECT_TAG_VALUE"],
                environ["STAGE_TAG_KEY"]: environ["STAGE_TAG_VALUE"],
            },
            max_age=timedelta(hours=float(environ.get("MAX_CLUSTER_AGE_HOURS", "8"))),
            max_idle=timedelta(minutes=float(environ.get("MAX_IDLE_MINUTES", "60"))),
            workstation_instance_id=environ.get("WORKSTATION_INSTANCE_ID", "").strip(),
            working_start=start,
            working_end=end,
            working_days=parse_working_days(environ.get("WORKING_DAYS", "MON-FRI")),
            timezone=ZoneInfo(environ.get("WORKING_TIMEZONE", "UTC")),
        )


@dataclass(frozen=True)
class ClusterView:
    """What the decision needs from describe_cluster (and list_steps, for WAITING clusters)."""

    cluster_id: str
    name: str
    state: str
    tags: dict[str, str]
    created: datetime
    ready: datetime | None
    last_step_end: datetime | None

    @classmethod
    def from_description(cls, cluster: Mapping[str, Any], last_step_end: datetime | None = None) -> ClusterView:
        """Build from a describe_cluster()["Cluster"] dict."""
        timeline = cluster["Status"].get("Timeline", {})
        return cls(
            cluster_id=cluster["Id"],
            name=cluster.get("Name", ""),
            state=cluster["Status"]["State"],
            tags={tag["Key"]: tag.get("Value", "") for tag in cluster.get("Tags", [])},
            created=timeline["CreationDateTime"],
            ready=timeline.get("ReadyDateTime"),
            last_step_end=last_step_end,
        )


@dataclass(frozen=True)
class Termination:
    cluster_id: str
    reason: str  # "over_age" | "idle"
    detail: str


def parse_working_hours(text: str) -> tuple[time, time]:
    """'07:00-19:00' -> (07:00, 19:00). The end is exclusive; end before start spans midnight."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", text)
    if not match:
        raise ValueError(f"WORKING_HOURS must look like 07:00-19:00, not {text!r}")
    h1, m1, h2, m2 = (int(group) for group in match.groups())
    return time(h1, m1), time(h2, m2)


def parse_working_days(text: str) -> frozenset[int]:
    """'MON-FRI' or 'MON,WED,FRI' or 'MON-THU,SAT' -> weekday numbers (Monday = 0)."""
    days: set[int] = set()
    for part in text.upper().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise ValueError(f"WORKING_DAYS must look like MON-FRI, not {text!r}")
        start = DAY_NAMES.index(first)
        stop = DAY_NAMES.index(last) if last else start
        day = start
        days.add(day)
        while day != stop:  # wraps, so FRI-MON means Fri, Sat, Sun, Mon
            day = (day + 1) % 7
            days.add(day)
    return frozenset(days)


def within_working_hours(now: datetime, settings: Settings) -> bool:
    """Is `now` (timezone-aware) inside the working hours, on a working day, in the working time zone?"""
    local = now.astimezone(settings.timezone)
    start, end = settings.working_start, settings.working_end
    clock = local.time().replace(tzinfo=None)
    if start <= end:
        return local.weekday() in settings.working_days and start <= clock < end
    # Overnight window: the part after midnight belongs to the previous day's shift.
    if clock >= start:
        return local.weekday() in settings.working_days
    return clock < end and (local.weekday() - 1) % 7 in settings.working_days


def is_project_cluster(cluster: ClusterView, tags: Mapping[str, str]) -> bool:
    """Both the project and the stage tag must match: never touch another project's or stage's cluster."""
    return all(cluster.tags.get(key) == value for key, value in tags.items())


def idle_since(cluster: ClusterView) -> datetime:
    """When a WAITING cluster last had work: the later of ReadyDateTime and the latest step's EndDateTime.

    A cluster that never became ready counts from its creation.
    """
    moments = [moment for moment in (cluster.ready, cluster.last_step_end) if moment is not None]
    return max(moments) if moments else cluster.created


def clusters_to_terminate(clusters: Iterable[ClusterView], now: datetime, settings: Settings) -> list[Termination]:
    """This project's active clusters older than the maximum age, or WAITING and idle longer than allowed."""
    decisions = []
    for cluster in clusters:
        if cluster.state not in ACTIVE_STATES or not is_project_cluster(cluster, settings.tags):
            continue
        age = now - cluster.created
        if age > settings.max_age:
            decisions.append(Termination(cluster.cluster_id, "over_age", f"age {age} > {settings.max_age}"))
            continue
        if cluster.state == "WAITING":
            idle = now - idle_since(cluster)
            if idle > settings.max_idle:
                decisions.append(Termination(cluster.cluster_id, "idle", f"idle {idle} > {settings.max_idle}"))
    return decisions


def should_stop_workstation(instance_state: str, now: datetime, settings: Settings) -> bool:
    """Stop a running workstation outside working hours (a stopped one is left alone)."""
    return instance_state == "running" and not within_working_hours(now, settings)
