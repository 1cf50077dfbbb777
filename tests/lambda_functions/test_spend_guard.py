"""spend_guard: over-age and idle project clusters are terminated, others kept; workstation stopped out of hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

NOW = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)  # a Wednesday, 22:00 in London (out of hours)
TAGS = {"project": "ml-lab", "stage": "dev"}


@pytest.fixture
def guard(spend_guard):
    return __import__("guard")


@pytest.fixture
def settings(guard):
    return guard.Settings.from_env(__import__("os").environ)


def view(guard, cluster_id, state="RUNNING", age=timedelta(hours=1), ready_ago=None, step_end_ago=None, tags=TAGS):
    return guard.ClusterView(
        cluster_id=cluster_id,
        name=f"ml-lab-dev-{cluster_id}",
        state=state,
        tags=dict(tags),
        created=NOW - age,
        ready=None if ready_ago is None else NOW - ready_ago,
        last_step_end=None if step_end_ago is None else NOW - step_end_ago,
    )


def test_decision_terminates_over_age_and_idle_and_keeps_the_rest(guard, settings):
    clusters = [
        view(guard, "j-OLD", age=timedelta(hours=9)),
        view(guard, "j-IDLE", state="WAITING", age=timedelta(hours=3), ready_ago=timedelta(hours=2)),
        view(guard, "j-BUSY", state="RUNNING", age=timedelta(hours=3), ready_ago=timedelta(hours=2)),
        # Idle counts from the latest step end, not from ready: this one finished a step 10 minutes ago.
        view(
            guard,
            "j-RECENT",
            state="WAITING",
            age=timedelta(hours=3),
            ready_ago=timedelta(hours=2),
            step_end_ago=timedelta(minutes=10),
        ),
        view(guard, "j-YOUNG", state="STARTING", age=timedelta(minutes=5)),
        view(guard, "j-OTHER", age=timedelta(hours=30), tags={"project": "other", "stage": "dev"}),
        view(guard, "j-PROD", age=timedelta(hours=30), tags={"project": "ml-lab", "stage": "prod"}),
        view(guard, "j-DONE", state="TERMINATED", age=timedelta(hours=30)),
    ]
    decisions = guard.clusters_to_terminate(clusters, NOW, settings)
    assert [(d.cluster_id, d.reason) for d in decisions] == [("j-OLD", "over_age"), ("j-IDLE", "idle")]


def test_decision_boundaries_are_strict(guard, settings):
    at_limit = [
        view(guard, "j-AGE", age=timedelta(hours=8)),
        view(guard, "j-IDLE", state="WAITING", age=timedelta(hours=2), ready_ago=timedelta(minutes=60)),
    ]
    assert guard.clusters_to_terminate(at_limit, NOW, settings) == []
    past = [view(guard, "j-IDLE", state="WAITING", age=timedelta(hours=2), ready_ago=timedelta(minutes=61))]
    assert [d.reason for d in guard.clusters_to_terminate(past, NOW, settings)] == ["idle"]


@pytest.mark.parametrize(
    ("when", "inside"),
    [
        (datetime(2026, 11, 25, 7, 0, tzinfo=UTC), True),  # Wed 07:00 GMT: start is inclusive
        (datetime(2026, 11, 25, 18, 59, tzinfo=UTC), True),
        (datetime(2026, 11, 25, 19, 0, tzinfo=UTC), False),  # end is exclusive
        (datetime(2026, 11, 25, 6, 59, tzinfo=UTC), False),
        (datetime(2026, 11, 28, 12, 0, tzinfo=UTC), False),  # Saturday
        (datetime(2026, 7, 1, 6, 30, tzinfo=UTC), True),  # 07:30 BST in summer
        (datetime(2026, 7, 1, 18, 30, tzinfo=UTC), False),  # 19:30 BST
    ],
)
def test_working_hours_in_the_working_time_zone(guard, settings, when, inside):
    assert guard.within_working_hours(when, settings) is inside


def test_only_the_listed_working_days_count(guard, settings):
    mon_wed_fri = guard.Settings(**{**settings.__dict__, "working_days": guard.parse_working_days("MON,WED,FRI")})
    assert guard.within_working_hours(datetime(2026, 11, 27, 10, 0, tzinfo=UTC), mon_wed_fri)  # Fri
    assert not guard.within_working_hours(datetime(2026, 11, 26, 10, 0, tzinfo=UTC), mon_wed_fri)  # Thu
    assert not guard.within_working_hours(datetime(2026, 11, 28, 10, 0, tzinfo=UTC), mon_wed_fri)  # Sat


def run_cluster(aws, events, name, tags, keep_alive=True, steps=False):
    template = __import__("json").loads(__import__("json").dumps(events.job_flow_template))
    template["Instances"]["KeepJobFlowAliveWhenNoSteps"] = keep_alive
    template["Tags"] = tags
    extra = {}
    if steps:
        extra["Steps"] = [
            {
                "Name": "x",
                "ActionOnFailure": "CONTINUE",
                "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["true"]},
            }
        ]
    return aws.emr.run_job_flow(**template, Name=name, **extra)["JobFlowId"]


def state(aws, cluster_id):
    return aws.emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"]


def test_moto_guard_terminates_old_project_clusters_only(spend_guard, aws, events, context, monkeypatch, logs):
    ours = run_cluster(aws, events, "ml-lab-dev-a", events.project_tags)
    other = run_cluster(aws, events, "other-a", [{"Key": "project", "Value": "other"}])
    prod = run_cluster(
        aws, events, "ml-lab-prod-a", [{"Key": "project", "Value": "ml-lab"}, {"Key": "stage", "Value": "prod"}]
    )

    monkeypatch.setattr(spend_guard, "utc_now", lambda: datetime.now(UTC))
    summary = spend_guard.lambda_handler(events.scheduled(), context)
    assert summary["terminated"] == [] and summary["kept"] == [ours]
    assert state(aws, ours) == "WAITING"

    # moto stamps clusters with the real time, so move the clock instead: 9 hours on, ours is over age.
    monkeypatch.setattr(spend_guard, "utc_now", lambda: datetime.now(UTC) + timedelta(hours=9))
    summary = spend_guard.lambda_handler(events.scheduled(), context)
    assert summary["terminated"] == [{"cluster_id": ours, "reason": "over_age"}]
    assert state(aws, ours) == "TERMINATED"
    assert state(aws, other) == "WAITING" and state(aws, prod) == "WAITING"
    assert any(entry["level"] == "WARNING" and entry.get("cluster_id") == ours for entry in logs)


def test_moto_guard_terminates_an_idle_waiting_cluster(spend_guard, aws, events, context, monkeypatch):
    idle = run_cluster(aws, events, "ml-lab-dev-idle", events.project_tags)
    monkeypatch.setattr(spend_guard, "utc_now", lambda: datetime.now(UTC) + timedelta(minutes=90))
    summary = spend_guard.lambda_handler(events.scheduled(), context)
    assert summary["terminated"] == [{"cluster_id": idle, "reason": "idle"}]
    assert state(aws, idle) == "TERMINATED"


def test_moto_workstation_is_stopped_out_of_hours_only(spend_guard, aws, events, context, monkeypatch, lambda_env):
    image = aws.ec2.describe_images()["Images"][0]["ImageId"]
    instance = aws.ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.medium")["Instances"][0]
    lambda_env.setenv("WORKSTATION_INSTANCE_ID", instance["InstanceId"])

    monkeypatch.setattr(spend_guard, "utc_now", lambda: datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    assert spend_guard.lambda_handler(events.scheduled(), context)["workstation"] == "running"

    monkeypatch.setattr(spend_guard, "utc_now", lambda: NOW)
    assert spend_guard.lambda_handler(events.scheduled(), context)["workstation"] == "stopped"
    reservations = aws.ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"]
    assert reservations[0]["Instances"][0]["State"]["Name"] in ("stopping", "stopped")


class DenyOthersEmr:
    """The moto EMR client behind a tag-conditioned policy: describing another project's cluster is denied."""

    def __init__(self, real, denied: str):
        self.real, self.denied = real, denied

    def describe_cluster(self, ClusterId):
        if ClusterId == self.denied:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeCluster")
        return self.real.describe_cluster(ClusterId=ClusterId)

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_moto_clusters_it_may_not_describe_are_skipped(spend_guard, aws, events, context, monkeypatch):
    ours = run_cluster(aws, events, "ml-lab-dev-a", events.project_tags)
    other = run_cluster(aws, events, "other-a", [{"Key": "project", "Value": "other"}])
    monkeypatch.setattr(spend_guard, "emr_client", lambda: DenyOthersEmr(aws.emr, other))
    monkeypatch.setattr(spend_guard, "utc_now", lambda: datetime.now(UTC) + timedelta(hours=9))
    summary = spend_guard.lambda_handler(events.scheduled(), context)
    assert summary["terminated"] == [{"cluster_id": ours, "reason": "over_age"}]
    assert state(aws, other) == "WAITING"
