"""Using a deployed lab from your machine: the compute stack's outputs, the workstation, the sample, the results.

    python -m tools.lab outputs          # make outputs: bucket names, commands, where things land
    python -m tools.lab upload-sample    # make upload-sample: the bundled sample into ratings/ (starts one job)
    python -m tools.lab start            # make workstation-start: start it after it stopped itself, wait until running
    python -m tools.lab connect          # make connect: a Session Manager shell (needs the AWS CLI and its plugin)
    python -m tools.lab results          # make results: the latest run's metrics and top-N, into results/<run id>/

Each takes the same ``-c key=value`` context as ``make deploy`` (the stack name and region come from the settings)
and uses your AWS credentials (AWS_PROFILE ...). Everything is read from the compute stack's outputs. Every failure
ends in one line on stderr and exit status 1 (tools/aws_errors.py).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from lab_contract.layout import OUTCOMES_PREFIX, RESULTS_RUNS_PREFIX
from stacks.outputs import SAMPLE_FILE, SAMPLE_KEY, LabOutputs
from tools.aws_errors import UserError, guarded
from tools.context import ROOT, parse_context, settings_from

RESULTS_DIR = ROOT / "results"
TOP_USERS = 5


# What `make connect` runs: the AWS CLI and its Session Manager plugin.
SESSION_PROGRAMS = {
    "aws": "install the AWS CLI v2 (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html)",
    "session-manager-plugin": "install the Session Manager plugin for the AWS CLI "
    "(https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html)",
}


class LabError(UserError):
    """Something the user can fix (not deployed, no run yet, instance in the wrong state): printed as one line."""


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    from botocore.exceptions import ClientError

    try:
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    except ClientError as error:
        if "does not exist" not in str(error):
            raise
        region = cloudformation.meta.region_name
        raise LabError(f"the stack {stack_name} is not deployed in {region}: run make deploy first") from None
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def require_session_programs() -> None:
    """`make connect` needs both programs on PATH: said before any AWS call."""
    for program, how in SESSION_PROGRAMS.items():
        if shutil.which(program) is None:
            raise LabError(f"make connect needs {program!r} on PATH: {how}")


def instance_state(ec2: Any, instance_id: str) -> str:
    reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return reservations[0]["Instances"][0]["State"]["Name"]


def start(ec2: Any, instance_id: str) -> str:
    """Starts the workstation (a no-op when it runs) and waits until it is running."""
    state = instance_state(ec2, instance_id)
    if state in ("stopping", "shutting-down", "terminated"):
        if state == "stopping":
            ec2.get_waiter("instance_stopped").wait(InstanceIds=[instance_id])
        else:
            raise LabError(f"the workstation {instance_id} is {state}: run make deploy to replace it")
    if instance_state(ec2, instance_id) != "running":
        ec2.start_instances(InstanceIds=[instance_id])
        ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id])
    return instance_state(ec2, instance_id)


def session_command(ec2: Any, instance_id: str, region: str) -> list[str]:
    """The `aws ssm start-session` command line, once the workstation is running."""
    state = instance_state(ec2, instance_id)
    if state != "running":
        raise LabError(f"the workstation {instance_id} is {state}: run make workstation-start first")
    return ["aws", "ssm", "start-session", "--region", region, "--target", instance_id]


def latest_run(s3: Any, bucket: str) -> str:
    """The run id whose metrics.json was written last (a finished run)."""
    newest: tuple[Any, str] | None = None
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=RESULTS_RUNS_PREFIX):
        for item in page.get("Contents", []):
            parts = item["Key"][len(RESULTS_RUNS_PREFIX) :].split("/")
            if len(parts) == 2 and parts[1] == "metrics.json" and (newest is None or item["LastModified"] > newest[0]):
                newest = (item["LastModified"], parts[0])
    if newest is None:
        raise LabError(f"no finished run in s3://{bucket}/{RESULTS_RUNS_PREFIX} yet: make upload-sample starts one")
    return newest[1]


def download_run(s3: Any, bucket: str, run_id: str, into: Path) -> Path:
    """Copies s3://bucket/runs/<run id>/ and the run's outcome records into ``into/<run id>/``."""
    target = into / run_id
    for prefix, local in (
        (f"{RESULTS_RUNS_PREFIX}{run_id}/", target),
        (f"{OUTCOMES_PREFIX}{run_id}/", target / "outcomes"),
    ):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                path = local / item["Key"][len(prefix) :]
                path.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, item["Key"], str(path))
    return target


def summary(run_dir: Path) -> list[str]:
    """The lines `make results` prints: metrics, the lists against popularity, the outcome and cluster shape,
    where the files are; draws run.png beside metrics.json with the chart make run draws."""
    from spark_jobs.local.run_chart import write_chart
    from spark_jobs.local.run_summary import ranking_lines

    metrics = json.loads((run_dir / "metrics.json").read_text())
    lines = [f"run {run_dir.name} -> {run_dir}"]
    for key in ("rmse", "baseline_rmse", "mae", "wall_seconds"):
        if key in metrics:
            lines.append(f"  {key:<14} {metrics[key]}")
    for record_file in sorted((run_dir / "outcomes").glob("*.json")):
        record = json.loads(record_file.read_text())
        lines.append(
            f"  outcome        {record.get('status')} ({record.get('state')}), cluster {record.get('cluster_id')}: "
            f"{record.get('cluster_shape')}, {record.get('input_bytes')} bytes in"
        )
    recommendations = run_dir / "recommendations"
    lines.append(f"  top-N          {recommendations if recommendations.exists() else 'none in this run'}")
    if "params" in metrics and "phase_seconds" in metrics:  # a complete run's metrics.json
        lines += ranking_lines(metrics)
        lines.append(f"  chart          {write_chart(metrics, run_dir / 'run.png')}")
    return lines


def top_n(recommendations: Path, users: int = TOP_USERS) -> list[str]:
    """The first users' top-N from the Parquet files (local Spark: the project's pyspark and Java). A session that
    is already active (a notebook's, the tests') is used and left running; one started here is stopped."""
    from pyspark.sql import SparkSession

    owns_session = SparkSession.getActiveSession() is None
    spark = SparkSession.builder.master("local[1]").appName("ml-lab-results").getOrCreate()
    try:
        rows = spark.read.parquet(str(recommendations)).orderBy("user", "rank").collect()
    finally:
        if owns_session:
            spark.stop()
    shown = sorted({row["user"] for row in rows})[:users]
    return [
        f"  user {user}: " + ", ".join(f"{row['item']} ({row['score']:.2f})" for row in rows if row["user"] == user)
        for user in shown
    ]


def run_command(command: str, settings: Any, session: Any) -> None:
    """One user command against the deployed stacks' outputs."""
    cloudformation = session.client("cloudformation")
    outputs = {
        **stack_outputs(cloudformation, f"{settings.name_prefix}-storage"),
        **stack_outputs(cloudformation, f"{settings.name_prefix}-compute"),
    }
    instance_id = outputs[LabOutputs.INSTANCE_ID]
    if command == "outputs":
        width = max(map(len, outputs))
        print("\n".join(f"{key:<{width}}  {value}" for key, value in sorted(outputs.items())))
    elif command == "upload-sample":
        bucket = outputs[LabOutputs.RATINGS_BUCKET]
        session.client("s3").upload_file(str(ROOT / SAMPLE_FILE), bucket, SAMPLE_KEY)
        print(f"uploaded {SAMPLE_FILE} to s3://{bucket}/{SAMPLE_KEY}: a job starts")
    elif command == "start":
        print(f"workstation {instance_id}: {start(session.client('ec2'), instance_id)}; make connect")
    elif command == "connect":
        session_line = session_command(session.client("ec2"), instance_id, settings.region)
        os.execvp(session_line[0], session_line)  # noqa: S606 (the AWS CLI, argument list)
    else:
        s3 = session.client("s3")
        bucket = outputs[LabOutputs.RESULTS_BUCKET]
        run_dir = download_run(s3, bucket, latest_run(s3, bucket), RESULTS_DIR)
        print("\n".join(summary(run_dir)))
        if (run_dir / "recommendations").exists():
            print("\n".join(top_n(run_dir / "recommendations")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", choices=("outputs", "upload-sample", "start", "connect", "results"))
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)

    def body() -> None:
        settings = settings_from(parse_context(args.context))
        if args.command == "connect":
            require_session_programs()
        import boto3

        run_command(args.command, settings, boto3.Session(region_name=settings.region))

    return guarded("lab", body)


if __name__ == "__main__":
    sys.exit(main())
