"""make smoke against the moto server: tools.smoke's own code with the endpoint overridden (AWS_ENDPOINT_URL) to the
emulator on 127.0.0.1. What the emulator cannot be is stood in for, visibly: the CDK CLI (deploy creates the three
stacks with the buckets and outputs the commands read, destroy deletes them in reverse dependency order; the real
CLI against the emulator is test_lifecycle.py's), and the pipeline (EMR and the functions: once the sample lands
in the ratings bucket, a thread writes the run's metrics.json and its outcome record as emr_events would). The
cost figure comes from the app's real templates (the session's synthesised assembly).

Every case ends with nothing of the smoke stage left: success, a failed job, no outcome in time, Ctrl-C, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import lifecycle_support as lifecycle
import pytest

from stacks.outputs import SAMPLE_KEY, LabOutputs
from tools import aws_errors, deployment, smoke

pytestmark = pytest.mark.emulated

CONTEXT = {"project": "ml-lab-smoke", "budget_email": "b@example.com", "notification_email": "a@example.com"}
PREFIX = "ml-lab-smoke-dev"
RUN_ID = "20261207-0000-smoketest"


@pytest.fixture
def session(emulator: lifecycle.Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Any:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", lifecycle.FAKE_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", lifecycle.FAKE_SECRET)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "absent"))
    return boto3.Session(region_name=lifecycle.REGION)


class StandIns:
    """The CDK CLI and the pipeline, as described above; ``calls`` records the CLI's arguments."""

    def __init__(self, session: Any, outcome: str | None, interrupt: int | None = None) -> None:
        self.session, self.outcome, self.calls = session, outcome, []
        self.interrupt = interrupt  # a signal sent to this process once the sample is uploaded (the run waits)
        self.stop = threading.Event()

    def cdk(self, arguments: list[str]) -> int:
        self.calls.append(arguments)
        cloudformation = self.session.client("cloudformation")
        if arguments[0] == "deploy":
            bucket = {"Type": "AWS::S3::Bucket"}
            storage = {
                "Resources": {"Ratings": bucket, "Results": bucket},
                "Outputs": {
                    LabOutputs.RATINGS_BUCKET: {"Value": {"Ref": "Ratings"}},
                    LabOutputs.RESULTS_BUCKET: {"Value": {"Ref": "Results"}},
                },
            }
            compute = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
            compute["Outputs"] = {LabOutputs.INSTANCE_ID: {"Value": "i-0123456789abcdef0"}}
            for suffix, template in (("storage", storage), ("compute", compute), ("automation", compute)):
                cloudformation.create_stack(StackName=f"{PREFIX}-{suffix}", TemplateBody=json.dumps(template))
            threading.Thread(target=self.pipeline, daemon=True).start()
        elif arguments[0] == "destroy":
            self.stop.set()
            s3 = self.session.client("s3")
            for suffix in deployment.STACK_SUFFIXES:
                name = f"{PREFIX}-{suffix}"
                for resource in cloudformation.describe_stack_resources(StackName=name)["StackResources"]:
                    if resource["ResourceType"] == "AWS::S3::Bucket":  # dev's buckets are emptied on destroy
                        for item in s3.list_objects_v2(Bucket=resource["PhysicalResourceId"]).get("Contents", []):
                            s3.delete_object(Bucket=resource["PhysicalResourceId"], Key=item["Key"])
                cloudformation.delete_stack(StackName=name)
        return 0

    def pipeline(self) -> None:
        s3, outputs = self.session.client("s3"), self.outputs()
        ratings, results = outputs[LabOutputs.RATINGS_BUCKET], outputs[LabOutputs.RESULTS_BUCKET]
        while not self.stop.wait(0.2):
            if s3.list_objects_v2(Bucket=ratings, Prefix=SAMPLE_KEY).get("KeyCount"):
                break
        if self.interrupt is not None and not self.stop.is_set():
            os.kill(os.getpid(), self.interrupt)
            return
        if self.outcome is None or self.stop.wait(1.0):  # a second or more: the run prints progress meanwhile
            return
        metrics = {"rmse": 0.912, "baseline_rmse": 0.944}
        s3.put_object(Bucket=results, Key=f"runs/{RUN_ID}/metrics.json", Body=json.dumps(metrics))
        record = {"kind": "step", "run_id": RUN_ID, "cluster_id": "j-SMOKE", "state": self.outcome.upper()}
        record.update(status=self.outcome, log_uri="s3://logs/emr/j-SMOKE/")
        s3.put_object(Bucket=results, Key=f"outcomes/{RUN_ID}/event-1.json", Body=json.dumps(record))

    def outputs(self) -> dict[str, str]:
        stack = self.session.client("cloudformation").describe_stacks(StackName=f"{PREFIX}-storage")["Stacks"][0]
        return {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}


def left_of_the_stage(session: Any) -> list[str]:
    stacks = session.client("cloudformation").describe_stacks()["Stacks"]
    return [
        s["StackName"] for s in stacks if s["StackName"].startswith(PREFIX) and s["StackStatus"] != "DELETE_COMPLETE"
    ]


@pytest.fixture
def run(session, assembly, capsys) -> Iterator[Any]:
    def go(
        outcome: str | None, interrupt: int | None = None, **options: Any
    ) -> tuple[int, list[str], list[str], StandIns, list[str]]:
        stand_ins = StandIns(session, outcome, interrupt)
        preflights: list[str] = []
        code = aws_errors.guarded(
            "smoke",
            lambda: smoke.smoke(
                dict(CONTEXT),
                session=session,
                cdk=stand_ins.cdk,
                preflight=lambda settings, _: preflights.append(settings.name_prefix),
                assembly_dir=assembly.outdir,
                poll_seconds=0.3,
                **options,
            ),
        )
        captured = capsys.readouterr()
        return code, captured.out.splitlines(), captured.err.splitlines(), stand_ins, preflights

    yield go


def test_a_successful_run_prints_the_outcome_and_destroys_everything(run, session) -> None:
    code, out, err, stand_ins, preflights = run("succeeded")
    assert (code, err, preflights) == (0, [], [PREFIX])
    assert [call[0] for call in stand_ins.calls] == ["deploy", "destroy"]
    assert any(line.startswith("smoke: waiting for the job's outcome record (") for line in out)
    assert out[-4:-2] == [
        "smoke: outcome: succeeded (SUCCEEDED), cluster j-SMOKE",
        "smoke: RMSE 0.912 (baseline 0.944)",
    ]
    assert out[-2].startswith("smoke: results: s3://") and out[-2].endswith(f"/runs/{RUN_ID}/")
    assert out[-1].startswith("smoke: wall time ") and "estimated cost USD " in out[-1]
    assert left_of_the_stage(session) == []


def test_a_failed_job_exits_1_with_its_logs_and_destroys_everything(run, session) -> None:
    code, out, _, _, _ = run("failed")
    assert code == 1
    assert "smoke: results: " in out[-2] and "logs: s3://logs/emr/j-SMOKE/" in out[-2]
    assert left_of_the_stage(session) == []


def test_no_outcome_in_time_is_one_line_and_destroys_everything(run, session) -> None:
    code, _, err, stand_ins, _ = run(None, timeout=1.5)
    assert code == 1
    assert len(err) == 1 and err[0].startswith("smoke: no outcome record in s3://") and "after " in err[0]
    assert [call[0] for call in stand_ins.calls] == ["deploy", "destroy"]
    assert left_of_the_stage(session) == []


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_while_waiting_destroys_everything(run, session, signal_number) -> None:
    # Ctrl-C as a terminal delivers it: a process started in the background by a non-interactive shell (as CI may
    # start the suite) inherits SIGINT ignored, and Python then installs no KeyboardInterrupt handler.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _interrupt_while_waiting(run, session, signal_number)
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupt_while_waiting(run, session, signal_number) -> None:
    # The signal comes while the run waits for an outcome that never comes (a timeout would end it otherwise,
    # with another line and code).
    code, out, err, stand_ins, _ = run(None, interrupt=signal_number, timeout=60)
    assert (code, err) == (130, ["smoke: interrupted"])
    assert "smoke: destroying everything this run deployed (Ctrl-C is ignored until it is done)" in out
    assert [call[0] for call in stand_ins.calls] == ["deploy", "destroy"]
    assert left_of_the_stage(session) == []


def test_an_existing_stage_is_refused_before_anything_is_deployed(run, session) -> None:
    template = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
    session.client("cloudformation").create_stack(StackName=f"{PREFIX}-storage", TemplateBody=template)
    code, _, err, stand_ins, preflights = run("succeeded")
    assert code == 1 and len(err) == 1 and err[0].startswith(f"smoke: {PREFIX}-storage already exists"), err
    assert (stand_ins.calls, preflights) == ([], [])


def test_the_smoke_stage_is_a_project_of_its_own_unless_named(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("LAB_SETTINGS_FILE", str(tmp_path / "absent.json"))
    assert smoke.smoke_context({})["project"] == "ml-lab-smoke"
    assert smoke.smoke_context({"project": "mine"})["project"] == "mine"
