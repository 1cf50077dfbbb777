"""spend_guard: over-age and idle project clusters are terminated, others kept; workstation stopped out of hours."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError

from lab_contract.environments import SpendGuardEnvironment
from lab_contract.working_hours import parse_working_days

NOW = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)  # a Wednesday, 22:00 in London (out of hours)
TAGS = {"project": "ml-lab", "stage": "dev"}
SERVICE_ROLE = "ml-lab-dev-emr-service-role"  # conftest's EMR_SERVICE_ROLE


@pytest.fixture
def guard():
    from lambda_functions.spend_guard import guard

    return guard


@pytest.fixture
def environment(lambda_env):
    return SpendGuardEnvironment.from_environ(os.environ)


def view(
    guard,
    cluster_id,
    state="RUNNING",
    age=timedelta(hours=1),
    ready_ago=None,
    step_end_ago=None,
    tags=TAGS,
    service_role=SERVICE_ROLE,
    steps_listed=True,
):
    return guard.ClusterView(
        cluster_id=cluster_id,
        name=f"ml-lab-dev-{cluster_id}",
        state=state,
        tags=dict(tags),
        service_role=service_role,
        steps_listed=steps_listed,
        created=NOW - age,
        ready=None if ready_ago is None else NOW - ready_ago,
        last_step_end=None if step_end_ago is None else NOW - step_end_ago,
    )


def test_decision_terminates_over_age_and_idle_and_keeps_the_rest(guard, environment):
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
        # tagged as ours, but not started as our service role: someone tagged it into scope
        view(guard, "j-FOREIGN", age=timedelta(hours=30), service_role="data-platform-emr-role"),
        view(guard, "j-FOREIGN-ARN", age=timedelta(hours=30), service_role="other-role"),
    ]
    decisions = guard.clusters_to_terminate(clusters, NOW, environment)
    assert [(d.cluster_id, d.reason) for d in decisions] == [("j-OLD", "over_age"), ("j-IDLE", "idle")]


def test_decision_boundaries_are_strict(guard, environment):
    at_limit = [
        view(guard, "j-AGE", age=timedelta(hours=8)),
        view(guard, "j-IDLE", state="WAITING", age=timedelta(hours=2), ready_ago=timedelta(minutes=60)),
    ]
    assert guard.clusters_to_terminate(at_limit, NOW, environment) == []
    past = [view(guard, "j-IDLE", state="WAITING", age=timedelta(hours=2), ready_ago=timedelta(minutes=61))]
    assert [d.reason for d in guard.clusters_to_terminate(past, NOW, environment)] == ["idle"]


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
def test_working_hours_in_the_working_time_zone(guard, environment, when, inside):
    assert guard.within_working_hours(when, environment) is inside


def test_only_the_listed_working_days_count(guard, environment):
    mon_wed_fri = dataclasses.replace(environment, working_days=parse_working_days("MON,WED,FRI"))
    assert guard.within_working_hours(datetime(2026, 11, 27, 10, 0, tzinfo=UTC), mon_wed_fri)  # Fri
    assert not guard.within_working_hours(datetime(2026, 11, 26, 10, 0, tzinfo=UTC), mon_wed_fri)  # Thu
    assert not guard.within_working_hours(datetime(2026, 11, 28, 10, 0, tzinfo=UTC), mon_wed_fri)  # Sat


def run_cluster(aws, events, name, tags, keep_alive=True, steps=False, service_role=None):
    template = json.loads(json.dumps(events.job_flow_template))
    template["Instances"]["KeepJobFlowAliveWhenNoSteps"] = keep_alive
    template["Tags"] = tags
    template["ServiceRole"] = service_role or template["ServiceRole"]
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


def workstation_instance(aws):
    """A running instance (moto accepts any image id; listing its images to pick one takes seconds)."""
    return aws.ec2.run_instances(ImageId="ami-0123456789abcdef0", MinCount=1, MaxCount=1, InstanceType="t3.medium")[
        "Instances"
    ][0]


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
    instance = workstation_instance(aws)
    lambda_env.setenv("WORKSTATION_INSTANCE_ID", instance["InstanceId"])

    monkeypatch.setattr(spend_guard, "utc_now", lambda: datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    assert spend_guard.lambda_handler(events.scheduled(), context)["workstation"] == "running"

    monkeypatch.setattr(spend_guard, "utc_now", lambda: NOW)
    assert spend_guard.lambda_handler(events.scheduled(), context)["workstation"] == "stopped"
    reservations = aws.ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"]
    assert reservations[0]["Instances"][0]["State"]["Name"] in ("stopping", "stopped")


def test_decision_takes_the_service_role_by_name_or_arn(guard, environment):
    by_arn = guard.ClusterView.from_description(
        {
            "Id": "j-ARN",
            "Status": {"State": "RUNNING", "Timeline": {"CreationDateTime": NOW - timedelta(hours=9)}},
            "Tags": [{"Key": k, "Value": v} for k, v in TAGS.items()],
            "ServiceRole": f"arn:aws:iam::123456789012:role/{SERVICE_ROLE}",
        }
    )
    assert [d.cluster_id for d in guard.clusters_to_terminate([by_arn], NOW, environment)] == ["j-ARN"]


def test_decision_without_the_steps_judges_age_only(guard, environment):
    unknown_idle = view(guard, "j-IDLE?", state="WAITING", age=timedelta(hours=3), ready_ago=timedelta(hours=2))
    old = view(guard, "j-OLD", state="WAITING", age=timedelta(hours=9))
    clusters = [
        guard.ClusterView(**{**unknown_idle.__dict__, "steps_listed": False}),
        guard.ClusterView(**{**old.__dict__, "steps_listed": False}),
    ]
    assert [(d.cluster_id, d.reason) for d in guard.clusters_to_terminate(clusters, NOW, environment)] == [
        ("j-OLD", "over_age")
    ]


@pytest.fixture
def account(spend_guard, aws, events, lambda_env, monkeypatch):
    """Three project clusters (over age, idle, busy), a foreign one, a running workstation; the clock 9 h on,
    out of working hours (moto stamps clusters with the real time)."""
    old = run_cluster(aws, events, "ml-lab-dev-old", events.project_tags)
    monkeypatch.setattr(spend_guard, "utc_now", lambda: datetime.now(UTC) + timedelta(hours=9))
    instance = workstation_instance(aws)
    lambda_env.setenv("WORKSTATION_INSTANCE_ID", instance["InstanceId"])
    lambda_env.setenv("WORKING_DAYS", "SUN")
    lambda_env.setenv("WORKING_HOURS", "00:00-00:01")
    other = run_cluster(aws, events, "ml-lab-dev-other", events.project_tags)
    return SimpleNamespace(old=old, other=other, instance=instance["InstanceId"])


def workstation(aws, instance_id):
    return aws.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"]


ONE_CLUSTER_FAILS = [
    ("describe_cluster", "ThrottlingException", 400, True),
    ("describe_cluster", "InternalServerError", 500, True),
    ("describe_cluster", "InvalidRequestException", 400, False),
    ("list_steps", "ThrottlingException", 400, True),
    ("list_steps", "AccessDeniedException", 400, False),
    ("list_steps", "InvalidRequestException", 400, False),
    ("terminate_job_flows", "ThrottlingException", 400, True),
    ("terminate_job_flows", "ValidationException", 400, False),
]


@pytest.mark.parametrize(
    ("operation", "code", "status", "retryable"),
    ONE_CLUSTER_FAILS,
    ids=[f"{o}-{c}" for o, c, _, _ in ONE_CLUSTER_FAILS],
)
def test_an_error_on_one_cluster_skips_it_and_the_run_goes_on(
    spend_guard, aws, events, context, faults, account, logs, operation, code, status, retryable
):
    """The error hits ``other``; ``old`` (over age) is still terminated and the workstation still stopped."""
    emr = faults.emr(aws)
    targets_other = lambda kwargs: account.other in (kwargs.get("ClusterId"), *kwargs.get("JobFlowIds", []))  # noqa: E731
    emr.fail(operation, faults.client_error(code, status), when=targets_other)

    if retryable:
        with pytest.raises(ClientError, match=code):
            spend_guard.lambda_handler(events.scheduled(), context)
    else:
        summary = spend_guard.lambda_handler(events.scheduled(), context)
        assert [e["cluster_id"] for e in summary["errors"]] == [account.other]
    assert state(aws, account.old) == "TERMINATED"
    assert workstation(aws, account.instance) in ("stopping", "stopped")
    assert any(entry["level"] == "ERROR" and entry.get("cluster_id") == account.other for entry in logs)
    # A step listing that failed still lets its over-age cluster go: it is judged on its age.
    expected = "TERMINATED" if operation == "list_steps" else "WAITING"
    assert state(aws, account.other) == expected


def test_a_description_without_what_the_decision_needs_skips_that_cluster(
    spend_guard, aws, events, context, faults, account
):
    emr = faults.emr(aws)
    emr.respond(
        "describe_cluster", {"Cluster": {"Id": account.other}}, when=lambda kwargs: kwargs["ClusterId"] == account.other
    )
    summary = spend_guard.lambda_handler(events.scheduled(), context)
    assert summary["terminated"] == [{"cluster_id": account.old, "reason": "over_age"}]
    assert summary["errors"] == [{"cluster_id": account.other, "error": "KeyError"}]


@pytest.mark.parametrize(("code", "retryable"), [("ThrottlingException", True), ("AccessDeniedException", False)])
def test_a_failed_cluster_listing_still_stops_the_workstation(
    spend_guard, aws, events, context, faults, account, code, retryable
):
    faults.emr(aws).fail("list_clusters", faults.client_error(code))
    if retryable:
        with pytest.raises(ClientError, match=code):
            spend_guard.lambda_handler(events.scheduled(), context)
    else:
        assert spend_guard.lambda_handler(events.scheduled(), context)["errors"] == [
            {"operation": "ListClusters", "error": code}
        ]
    assert workstation(aws, account.instance) in ("stopping", "stopped")
    assert state(aws, account.old) == "WAITING"  # not listed, not judged: the retry (or the next run) will


def test_a_cluster_tagged_into_scope_with_another_service_role_is_never_terminated(
    spend_guard, aws, events, context, account, logs
):
    """What the review's over-grant allowed: tagging another cluster with the project's tags. The guard checks the
    service role too."""
    foreign = run_cluster(aws, events, "nightly-etl", [], service_role="data-platform-emr-role")
    aws.emr.add_tags(ResourceId=foreign, Tags=events.project_tags)

    summary = spend_guard.lambda_handler(events.scheduled(), context)
    assert foreign not in [t["cluster_id"] for t in summary["terminated"]] and foreign not in summary["kept"]
    assert state(aws, foreign) == "WAITING" and state(aws, account.old) == "TERMINATED"
    assert any(entry.get("reason") == "foreign_service_role" and entry.get("cluster_id") == foreign for entry in logs)


def test_a_workstation_check_error_is_reported_after_the_clusters_are_handled(
    spend_guard, aws, events, context, faults, account, monkeypatch
):
    ec2 = faults.Faulty(aws.ec2).fail("describe_instances", faults.client_error("InternalError", 500))
    monkeypatch.setattr(spend_guard, "ec2_client", lambda: ec2)
    with pytest.raises(ClientError, match="InternalError"):
        spend_guard.lambda_handler(events.scheduled(), context)
    assert state(aws, account.old) == "TERMINATED" and state(aws, account.other) == "TERMINATED"


def test_moto_clusters_it_may_not_describe_are_skipped(spend_guard, aws, events, context, faults, monkeypatch):
    ours = run_cluster(aws, events, "ml-lab-dev-a", events.project_tags)
    other = run_cluster(aws, events, "other-a", [{"Key": "project", "Value": "other"}])
    denied = faults.client_error("AccessDeniedException", 400, "DescribeCluster")
    faults.emr(aws).fail("describe_cluster", denied, when=lambda kwargs: kwargs["ClusterId"] == other)
    monkeypatch.setattr(spend_guard, "utc_now", lambda: datetime.now(UTC) + timedelta(hours=9))
    summary = spend_guard.lambda_handler(events.scheduled(), context)
    assert summary["terminated"] == [{"cluster_id": ours, "reason": "over_age"}]
    assert summary["errors"] == []
    assert state(aws, other) == "WAITING"
