"""make outputs / upload-sample / workstation-start / connect / results, against moto in-process (no AWS)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from stacks.outputs import SAMPLE_KEY, LabOutputs
from tools import lab

REGION = "eu-west-2"
RATINGS, RESULTS = "lab-ratings", "lab-results"


def stack_with_outputs(cloudformation, name: str, outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))


@pytest.fixture
def account(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (RATINGS, RESULTS):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        ec2 = boto3.client("ec2", region_name=REGION)
        # one of moto's default images (listing them all is slow)
        instance = ec2.run_instances(ImageId="ami-03cf127a", MinCount=1, MaxCount=1, InstanceType="t4g.large")
        instance_id = instance["Instances"][0]["InstanceId"]
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        stack_with_outputs(
            cloudformation,
            "ml-lab-dev-storage",
            {LabOutputs.RATINGS_BUCKET: RATINGS, LabOutputs.RESULTS_BUCKET: RESULTS},
        )
        stack_with_outputs(cloudformation, "ml-lab-dev-compute", {LabOutputs.INSTANCE_ID: instance_id})
        yield {"s3": s3, "ec2": ec2, "instance_id": instance_id}


def put_run(s3, run_id: str, *, finished: bool = True, outcome: dict | None = None) -> None:
    if finished:
        s3.put_object(Bucket=RESULTS, Key=f"runs/{run_id}/metrics.json", Body=json.dumps({"rmse": 0.83, "mae": 0.65}))
    s3.put_object(Bucket=RESULTS, Key=f"runs/{run_id}/model/metadata/part-0", Body=b"model")
    if outcome:
        s3.put_object(Bucket=RESULTS, Key=f"outcomes/{run_id}/event-1.json", Body=json.dumps(outcome))


def test_outputs_merge_both_stacks(account, capsys) -> None:
    assert lab.main(["outputs"]) == 0
    printed = capsys.readouterr().out
    assert RATINGS in printed and RESULTS in printed and account["instance_id"] in printed


def test_a_missing_stack_is_one_line_saying_to_deploy(account, capsys) -> None:
    assert lab.main(["outputs", "-c", "project=other-lab"]) == 1
    assert (
        "the stack other-lab-dev-storage is not deployed in eu-west-2: run make deploy first" in capsys.readouterr().err
    )


def test_upload_sample_puts_the_bundled_sample_under_ratings(account) -> None:
    assert lab.main(["upload-sample"]) == 0
    body = account["s3"].get_object(Bucket=RATINGS, Key=SAMPLE_KEY)["Body"].read()
    assert body == (lab.ROOT / "spark_jobs" / "sample_data" / "u.data").read_bytes()


def test_start_brings_a_stopped_workstation_back_and_connect_waits_for_it(account, monkeypatch, tmp_path) -> None:
    ec2, instance_id = account["ec2"], account["instance_id"]
    ec2.stop_instances(InstanceIds=[instance_id])
    with pytest.raises(lab.LabError, match="run make workstation-start first"):
        lab.session_command(ec2, instance_id, REGION)
    assert lab.start(ec2, instance_id) == "running"
    assert lab.start(ec2, instance_id) == "running"  # already running: nothing to do
    command = lab.session_command(ec2, instance_id, REGION)
    assert command == ["aws", "ssm", "start-session", "--region", REGION, "--target", instance_id]
    for program in lab.SESSION_PROGRAMS:  # stand-ins: make connect looks for both before it calls AWS
        (tmp_path / program).write_text("#!/bin/sh\n")
        (tmp_path / program).chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{lab.os.environ['PATH']}")
    executed = []
    monkeypatch.setattr(lab.os, "execvp", lambda file, args: executed.append(args))
    assert lab.main(["connect"]) == 0 and executed == [command]


def test_results_fetch_the_latest_finished_run_with_its_outcome(account, tmp_path, monkeypatch, capsys) -> None:
    s3 = account["s3"]
    put_run(s3, "20261128-aaaaaaaaaaaa")
    time.sleep(1.1)  # S3 timestamps have a resolution of one second
    shape = "primary:1xm7g.xlarge core:0"
    put_run(s3, "20261129-bbbbbbbbbbbb", outcome={"status": "succeeded", "cluster_shape": shape, "input_bytes": 9})
    time.sleep(1.1)
    put_run(s3, "20261129-cccccccccccc", finished=False)  # still running: no metrics yet
    monkeypatch.setattr(lab, "RESULTS_DIR", tmp_path)

    assert lab.main(["results"]) == 0

    run_dir = tmp_path / "20261129-bbbbbbbbbbbb"
    assert json.loads((run_dir / "metrics.json").read_text()) == {"rmse": 0.83, "mae": 0.65}
    assert (run_dir / "model" / "metadata" / "part-0").read_bytes() == b"model"
    assert json.loads((run_dir / "outcomes" / "event-1.json").read_text())["cluster_shape"] == shape
    printed = capsys.readouterr().out
    assert "run 20261129-bbbbbbbbbbbb" in printed and "rmse           0.83" in printed and shape in printed
    assert "top-N          none in this run" in printed


def test_results_before_any_run_says_how_to_start_one(account, capsys) -> None:
    assert lab.main(["results"]) == 1
    assert "make upload-sample starts one" in capsys.readouterr().err


def test_top_n_reads_the_jobs_parquet_and_leaves_a_session_it_did_not_start(spark: Any, tmp_path: Path) -> None:
    rows = [(user, rank, 100 + rank, 5.0 - rank / 10) for user in (3, 1, 2) for rank in (1, 2)]
    spark.createDataFrame(rows, "user int, rank int, item int, score double").write.parquet(str(tmp_path / "top"))
    lines = lab.top_n(tmp_path / "top", users=2)
    assert lines == ["  user 1: 101 (4.90), 102 (4.80)", "  user 2: 101 (4.90), 102 (4.80)"]
    assert spark.range(1).count() == 1, "top_n stopped the caller's session"


def test_results_prints_the_lists_against_popularity_and_draws_the_run_chart(tmp_path: Path) -> None:
    shape = {"coverage": 0.25, "items_recommended": 420, "long_tail_share": 0.002}
    metrics = {
        "run_id": "20261129-dddddddddddd",
        "rmse": 0.91,
        "baseline_rmse": 0.94,
        "mae": 0.71,
        "test_rows_evaluated": 9000,
        "wall_seconds": 80.0,
        "params": {"model": "blend", "rank": 10, "reg_param": 0.1, "max_iter": 20},
        "ranking": {
            "n": 10,
            "users_evaluated": 850,
            "relevant": "held-out rating >= 4",
            "lists_from": "ranking",
            "model": {"precision_at_n": 0.18, "recall_at_n": 0.32, "ndcg_at_n": 0.3176, "map_at_n": 0.2, **shape},
            "popularity": {"precision_at_n": 0.08, "recall_at_n": 0.13, "ndcg_at_n": 0.1255, "map_at_n": 0.06, **shape},
        },
        "phase_seconds": {"load_validate": 3.0, "train": 10.0},
    }
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    lines = lab.summary(tmp_path)
    assert "top-10 lists (ranking model) / popularity: 850 users, held-out rating >= 4" in lines
    assert any(line.split() == ["NDCG", "0.3176", "/", "0.1255", "(2.53x)"] for line in lines)
    assert any(line.split()[:2] == ["catalogue", "coverage"] for line in lines)
    assert lines[-1] == f"  chart          {tmp_path / 'run.png'}"
    assert (tmp_path / "run.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
