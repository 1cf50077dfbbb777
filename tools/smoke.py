"""make smoke: a real account's end-to-end check. Deploys a stage of its own, uploads the sample, waits for the
outcome record with progress, prints the RMSE, where the results are, the wall time and the estimated cost, then
destroys everything it deployed: also when a step fails, on Ctrl-C and on SIGTERM (a CI job cancelled).

    python -m tools.smoke [-c key=value ...]

It runs your settings (tools/context.py) under the project name ``<project>-smoke`` (``-c project=...`` to choose
another), so it never deploys over, or destroys, a stage you use; it refuses to start when that stage's stacks
already exist (a smoke run that could not clean up: ``make destroy`` with the same project name ends it). The
destroy is tools/deployment.py's (the stage's clusters first, then every stack). The estimated cost is the cost
model's (tools/audit/cost.py, tools/prices.json): the sample's job on the cluster submit_job chooses, plus the
standing charges and the workstation for the wall time.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lab_contract.layout import OUTCOMES_PREFIX, RESULTS_RUNS_PREFIX
from stacks.outputs import SAMPLE_FILE, SAMPLE_KEY, LabOutputs
from stacks.settings import Settings
from tools import deployment
from tools.aws_errors import UserError, guarded
from tools.context import ROOT, context_arguments, parse_context, settings_of, user_context
from tools.lab import stack_outputs

PROGRAM = "smoke"
SAMPLE_RATINGS = 100_000  # spark_jobs/sample_data/u.data: MovieLens 100K
OUTCOME_TIMEOUT_SECONDS = 45 * 60
POLL_SECONDS = 20.0
FINISHED = ("succeeded", "failed")

Say = Callable[[str], None]


def say(line: str) -> None:
    print(f"{PROGRAM}: {line}", flush=True)


def smoke_context(overrides: dict[str, str]) -> dict[str, str]:
    """Your settings with the command line's on top and, unless it names one, a project name of the run's own
    (``<project>-smoke``; a project name is 3-20 characters)."""
    context = user_context(overrides)
    if "project" not in overrides:
        context["project"] = f"{settings_of(context).project[:14]}-smoke"
    return context


def refuse_existing_stage(cloudformation: Any, settings: Settings) -> None:
    from botocore.exceptions import ClientError

    for name in deployment.stack_names(settings):
        try:
            cloudformation.describe_stacks(StackName=name)
        except ClientError as error:
            if "does not exist" in str(error):
                continue
            raise
        raise UserError(
            f"{name} already exists (an earlier smoke run?): make destroy CONTEXT='-c project={settings.project}' "
            f"CONFIRM={settings.stage} removes it, then run make smoke again"
        )


def outcome_keys(s3: Any, bucket: str) -> set[str]:
    keys: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=OUTCOMES_PREFIX):
        keys.update(item["Key"] for item in page.get("Contents", []))
    return keys


def wait_for_outcome(
    s3: Any, bucket: str, before: set[str], *, timeout: float, poll_seconds: float, tell: Say
) -> dict[str, Any]:
    """The first new outcome record whose status is final, with a progress line per poll."""
    started = time.monotonic()
    while True:
        for key in sorted(outcome_keys(s3, bucket) - before):
            record = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            if record.get("status") in FINISHED:
                return record
            tell(f"  {record.get('kind')} {record.get('cluster_id')}: {record.get('state')} ({record.get('status')})")
            before = before | {key}
        elapsed = time.monotonic() - started
        if elapsed > timeout:
            raise UserError(f"no outcome record in s3://{bucket}/{OUTCOMES_PREFIX} after {elapsed:.0f} s")
        tell(f"waiting for the job's outcome record ({elapsed:.0f} s)")
        time.sleep(poll_seconds)


def estimated_cost(assembly_dir: Path, settings: Settings, wall_seconds: float) -> str:
    """The cost model's figure for this run: the sample's job plus the standing charges and the workstation."""
    from tools.audit.assembly import load_assembly
    from tools.audit.cost import CostModel, load_prices

    model = CostModel(load_assembly(assembly_dir), settings, load_prices())
    job = model.job(SAMPLE_RATINGS)
    standing_hour = sum(item["monthly"] for item in model.standing_items()) / model.hours_per_month
    workstation_hour = sum(model.workstation_hour(workstation) for workstation in model.workstations)
    hours = wall_seconds / 3600
    usd = job["usd"] + hours * (standing_hour + workstation_hour)
    return (
        f"USD {usd:.2f} (the job {job['usd']:.3f} + {hours:.2f} h x {standing_hour + workstation_hour:.4f} USD/h "
        "standing charges and workstation; tools/prices.json)"
    )


def run_sample(
    settings: Settings, session: Any, *, timeout: float, poll_seconds: float, tell: Say
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Uploads the sample and waits for its outcome; the record, the run's metrics and the results' location."""
    cloudformation = session.client("cloudformation")
    outputs = {
        **stack_outputs(cloudformation, f"{settings.name_prefix}-storage"),
        **stack_outputs(cloudformation, f"{settings.name_prefix}-compute"),
    }
    s3 = session.client("s3")
    ratings, results = outputs[LabOutputs.RATINGS_BUCKET], outputs[LabOutputs.RESULTS_BUCKET]
    before = outcome_keys(s3, results)
    s3.upload_file(str(ROOT / SAMPLE_FILE), ratings, SAMPLE_KEY)
    tell(f"uploaded {SAMPLE_FILE} to s3://{ratings}/{SAMPLE_KEY}")
    record = wait_for_outcome(s3, results, before, timeout=timeout, poll_seconds=poll_seconds, tell=tell)
    location = f"s3://{results}/{RESULTS_RUNS_PREFIX}{record.get('run_id')}/"
    if record["status"] != "succeeded":
        return record, {}, location
    key = f"{RESULTS_RUNS_PREFIX}{record['run_id']}/metrics.json"
    metrics = json.loads(s3.get_object(Bucket=results, Key=key)["Body"].read())
    return record, metrics, location


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a cancelled CI job) ends the run like Ctrl-C: through the cleanup."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def uninterruptible(tell: Say) -> Iterator[None]:
    """The cleanup runs to its end: Ctrl-C and SIGTERM are ignored meanwhile, and said so."""
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in (signal.SIGINT, signal.SIGTERM)}
    tell("destroying everything this run deployed (Ctrl-C is ignored until it is done)")
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def smoke(
    context: dict[str, str],
    *,
    session: Any,
    cdk: deployment.RunCdk,
    preflight: Callable[[Settings, Any], None],
    assembly_dir: Path,
    timeout: float = OUTCOME_TIMEOUT_SECONDS,
    poll_seconds: float = POLL_SECONDS,
    tell: Say = say,
) -> int:
    settings = settings_of(context)
    refuse_existing_stage(session.client("cloudformation"), settings)
    preflight(settings, session)
    started = time.monotonic()
    try:
        with sigterm_as_interrupt():
            tell(f"deploying {settings.name_prefix} to {settings.region}")
            if cdk(["deploy", "--all", "--require-approval", "never", *context_arguments(context)]) != 0:
                raise UserError("cdk deploy failed (see the lines above); what it deployed is destroyed")
            record, metrics, location = run_sample(
                settings, session, timeout=timeout, poll_seconds=poll_seconds, tell=tell
            )
    finally:
        with uninterruptible(tell):
            deployment.destroy(
                context, confirmation=settings.stage, ask=None, session=session, cdk=cdk, poll_seconds=poll_seconds
            )
    wall = time.monotonic() - started
    tell(f"outcome: {record['status']} ({record.get('state')}), cluster {record.get('cluster_id')}")
    if metrics:
        tell(f"RMSE {metrics.get('rmse')} (baseline {metrics.get('baseline_rmse')})")
    tell(f"results: {location}" + ("" if metrics else f"; logs: {record.get('log_uri')}"))
    tell(f"wall time {wall / 60:.1f} min; estimated cost {estimated_cost(assembly_dir, settings, wall)}")
    return 0 if record["status"] == "succeeded" else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m tools.{PROGRAM}", description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)

    def body() -> int:
        import boto3

        from tools.preflight import preflight_or_fail

        context = smoke_context(parse_context(args.context))
        session = boto3.Session(region_name=settings_of(context).region)
        return smoke(
            context, session=session, cdk=deployment.run_cdk, preflight=preflight_or_fail, assembly_dir=ROOT / "cdk.out"
        )

    return guarded(PROGRAM, body)


if __name__ == "__main__":
    sys.exit(main())
