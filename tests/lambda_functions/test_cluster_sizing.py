"""submit_job sizes each transient cluster by the upload, tags it with the shape, and emr_events records the shape."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest

from lab_contract import sizing
from lab_contract.environments import InvalidEnvironment, SubmitJobEnvironment

MB = 1_000_000
# The tests' CLUSTER_SIZING (conftest.py): one node up to 64 MB, then one core node per 64 MB, at most 3.
SIZES = [
    (1, 0),
    (64 * MB, 0),
    (64 * MB + 1, 2),  # above the single-node size: ceil(64 MB + 1 byte / 64 MB) = 2 core nodes
    (128 * MB, 2),
    (128 * MB + 1, 3),
    (10_000 * MB, 3),  # capped at max_core_nodes
]


@pytest.mark.parametrize(("size", "core_nodes"), SIZES)
def test_shape_follows_the_size_up_to_the_maximum(size, core_nodes) -> None:
    policy = sizing.SizingPolicy(single_node_max_bytes=64 * MB, bytes_per_core_node=64 * MB, max_core_nodes=3)
    shape = sizing.shape_for(size, policy)
    assert (shape.core_nodes, shape.single_node, shape.input_bytes) == (core_nodes, core_nodes == 0, size)


def test_a_zero_threshold_never_chooses_a_single_node_and_a_negative_size_is_refused() -> None:
    policy = sizing.SizingPolicy(single_node_max_bytes=0, bytes_per_core_node=10, max_core_nodes=5)
    assert sizing.shape_for(1, policy).core_nodes == 1
    with pytest.raises(ValueError, match="cannot be negative"):
        sizing.shape_for(-1, policy)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not json", "not JSON"),
        ("[]", "not a JSON object"),
        ('{"single_node_max_bytes": 1, "bytes_per_core_node": 0, "max_core_nodes": 1}', "bytes_per_core_node"),
        ('{"single_node_max_bytes": -1, "bytes_per_core_node": 1, "max_core_nodes": 1}', "single_node_max_bytes"),
        ('{"single_node_max_bytes": 1, "bytes_per_core_node": 1, "max_core_nodes": true}', "max_core_nodes"),
        ('{"single_node_max_bytes": 1, "bytes_per_core_node": 1}', "max_core_nodes"),
        ('{"single_node_max_bytes": "1", "bytes_per_core_node": 1, "max_core_nodes": 1}', "single_node_max_bytes"),
    ],
)
def test_a_broken_sizing_variable_is_a_deployment_bug_named_at_once(lambda_env, raw, message) -> None:
    with pytest.raises(InvalidEnvironment, match=f"CLUSTER_SIZING: [^;]*{message}"):
        SubmitJobEnvironment.from_environ({**os.environ, "CLUSTER_SIZING": raw})


def test_the_policy_round_trips_through_its_variable(lambda_env) -> None:
    policy = sizing.SizingPolicy(single_node_max_bytes=200 * MB, bytes_per_core_node=200 * MB, max_core_nodes=2)
    deployed = dataclasses.replace(SubmitJobEnvironment.from_environ(os.environ), cluster_sizing=policy)
    assert SubmitJobEnvironment.from_environ(deployed.variables()).cluster_sizing == policy


class RecordingEmr:
    """The moto EMR client, recording each RunJobFlow request (moto does not implement ListInstanceFleets)."""

    def __init__(self, emr) -> None:
        self.emr = emr
        self.requests: list[dict] = []

    def run_job_flow(self, **request):
        self.requests.append(request)
        return self.emr.run_job_flow(**request)

    def __getattr__(self, name: str):
        return getattr(self.emr, name)  # the other calls (ListClusters before starting) go to moto unchanged


@pytest.mark.parametrize(("size", "core_nodes"), [(2 * MB, 0), (100 * MB, 2), (500 * MB, 3)])
def test_the_handler_starts_the_cluster_the_size_calls_for_and_tags_it(
    submit_job, aws, events, context, monkeypatch, size, core_nodes
) -> None:
    recorder = RecordingEmr(aws.emr)
    monkeypatch.setattr(submit_job, "emr_client", lambda: recorder)
    summary = submit_job.lambda_handler(events.s3("ratings/big/u.data", size=size), context)

    [cluster] = aws.clusters()
    tags = {t["Key"]: t["Value"] for t in aws.emr.describe_cluster(ClusterId=cluster["Id"])["Cluster"]["Tags"]}
    expected = "primary:1xm5.xlarge " + (f"core:{core_nodes}xm5.xlarge" if core_nodes else "core:0")
    assert tags["cluster-shape"] == expected and tags["input-bytes"] == str(size)
    assert tags["project"] == "ml-lab" and tags["stage"] == "dev"  # the tags the IAM conditions bind on stay
    [request] = recorder.requests
    by_type = {fleet["InstanceFleetType"]: fleet for fleet in request["Instances"]["InstanceFleets"]}
    assert set(by_type) == ({"MASTER", "CORE"} if core_nodes else {"MASTER"})
    assert by_type["MASTER"]["TargetOnDemandCapacity"] == 1
    if core_nodes:
        assert by_type["CORE"]["TargetOnDemandCapacity"] == core_nodes
        assert "TargetSpotCapacity" not in by_type["CORE"]  # core nodes stay on demand
    assert len(summary["submitted"]) == 1


def test_the_outcome_record_carries_the_clusters_shape_and_input_size(
    aws, submit_job, emr_events, events, context
) -> None:
    submitted = submit_job.lambda_handler(events.s3("ratings/big/u.data", size=100 * MB), context)
    [run_id] = submitted["submitted"]
    [cluster] = aws.clusters()
    step = aws.steps(cluster["Id"])[0]
    detail = {
        "severity": "INFO",
        "actionOnFailure": "TERMINATE_CLUSTER",
        "stepId": step["Id"],
        "name": step["Name"],
        "clusterId": cluster["Id"],
        "state": "COMPLETED",
        "message": "completed",
    }
    result = emr_events.lambda_handler(events.emr("EMR Step Status Change", detail), context)

    bucket, key = result["recorded"].removeprefix("s3://").split("/", 1)
    record = json.loads(aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert record["run_id"] == run_id
    assert record["cluster_shape"] == "primary:1xm5.xlarge core:2xm5.xlarge" and record["input_bytes"] == 100 * MB
    assert json.loads(aws.messages()[0]["Message"])["cluster_shape"] == record["cluster_shape"]


def test_an_unknown_cluster_still_gets_its_outcome_recorded_without_a_shape(aws, emr_events, events, context) -> None:
    detail = {
        "severity": "ERROR",
        "stateChangeReason": "{}",
        "name": f"{events.prefix}-20261125-3ea629fd85a4",
        "clusterId": "j-2AXXXXXXGAPLF",  # not in the fake account: DescribeCluster refuses
        "state": "TERMINATED_WITH_ERRORS",
        "message": "terminated",
    }
    result = emr_events.lambda_handler(events.emr("EMR Cluster State Change", detail), context)
    bucket, key = result["recorded"].removeprefix("s3://").split("/", 1)
    record = json.loads(aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert record["status"] == "failed" and record["cluster_shape"] is None and record["input_bytes"] is None


def test_a_throttled_describe_is_retried_by_lambda_not_recorded_without_a_shape(
    aws, emr_events, events, context, monkeypatch
) -> None:
    from botocore.exceptions import ClientError

    class Throttled:
        def describe_cluster(self, **_: object) -> dict:
            raise ClientError({"Error": {"Code": "ThrottlingException"}}, "DescribeCluster")

    monkeypatch.setattr(emr_events, "emr_client", Throttled)
    detail = {
        "severity": "INFO",
        "stateChangeReason": "{}",
        "name": f"{events.prefix}-20261125-3ea629fd85a4",
        "clusterId": "j-2AXXXXXXGAPLF",
        "state": "TERMINATED",
        "message": "terminated",
    }
    with pytest.raises(ClientError):
        emr_events.lambda_handler(events.emr("EMR Cluster State Change", detail), context)
    assert aws.objects(events.results_bucket) == [] and aws.messages() == []
