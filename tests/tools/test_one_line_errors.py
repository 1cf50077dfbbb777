"""Every user command ends in one line on failure, for every failure class: what is wrong and what to do, exit status
1, nothing else on stderr or stdout, no traceback. The failures are real botocore behaviour: no credentials in an
empty environment, a profile that does not exist, and the answers of a local endpoint (tests/tools/failing_aws.py)
that fails the command's own AWS call the way AWS does; no network is a closed port on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from stacks.outputs import LabOutputs
from tests.tools.failing_aws import failing_aws
from tools import lab

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = {LabOutputs.RATINGS_BUCKET: "lab-ratings", LabOutputs.RESULTS_BUCKET: "lab-results"}
OUTPUTS[LabOutputs.INSTANCE_ID] = "i-0123456789abcdef0"
# The AWS call each command makes after reading the stacks' outputs, by service.
OWN_CALL = {"outputs": "cloudformation", "upload-sample": "s3", "results": "s3", "start": "ec2", "connect": "ec2"}
COMMANDS = list(OWN_CALL)
EXPECTED = {
    "no-credentials": "no AWS credentials found (profile 'default'): set AWS_PROFILE",
    "wrong-profile": "the AWS profile 'no-such-profile' does not exist: pick one of aws configure list-profiles",
    "region-not-allowed": "context key 'region': 'us-east-1' is outside the data-residency allow-list",
    "expired": "the AWS credentials of profile 'default' are expired or invalid",
    "throttled": "AWS is throttling",
    "not-deployed": "the stack ml-lab-dev-storage is not deployed in eu-west-2: run make deploy first",
    "no-network": "cannot reach http://127.0.0.1:",
}


@pytest.fixture
def clean_aws_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No credentials, profile, endpoint or region from this machine; stand-ins for the programs make connect runs."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, file in (("AWS_CONFIG_FILE", "config"), ("AWS_SHARED_CREDENTIALS_FILE", "credentials")):
        (tmp_path / file).touch()
        monkeypatch.setenv(name, str(tmp_path / file))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    programs = tmp_path / "programs"
    programs.mkdir()
    for program in ("aws", "session-manager-plugin"):
        (programs / program).write_text("#!/bin/sh\nexit 0\n")
        (programs / program).chmod(0o755)
    monkeypatch.setenv("PATH", f"{programs}{os.pathsep}{os.environ['PATH']}")
    return programs


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_lab(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = lab.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line(code: int, out: str, err: str, expected: str) -> None:
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith(f"lab: {expected}"), err


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("failure", ["no-credentials", "wrong-profile", "region-not-allowed"])
def test_a_failure_before_any_call_is_one_line(
    command: str, failure: str, clean_aws_environment: Path, monkeypatch, capsys
) -> None:
    argv = [command]
    if failure == "wrong-profile":
        monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    if failure == "region-not-allowed":
        argv += ["-c", "region=us-east-1"]
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    assert_one_line(*run_lab(argv, capsys), EXPECTED[failure])


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("failure", ["expired", "throttled", "not-deployed", "no-network"])
def test_a_failing_aws_call_is_one_line(
    command: str, failure: str, clean_aws_environment: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    service = "cloudformation" if failure == "not-deployed" else OWN_CALL[command]
    with failing_aws("throttled" if failure == "no-network" else failure, service, OUTPUTS) as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        if failure == "no-network":
            monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service.upper()}", f"http://127.0.0.1:{closed_port()}")
        code, out, err = run_lab([command], capsys)
    assert_one_line(code, out, err, EXPECTED[failure])


@pytest.mark.parametrize("program", ["aws", "session-manager-plugin"])
def test_connect_without_a_program_it_runs_says_which_and_how_to_install_it(
    program: str, clean_aws_environment: Path, monkeypatch, capsys
) -> None:
    (clean_aws_environment / program).unlink()
    monkeypatch.setenv("PATH", str(clean_aws_environment))  # and not the machine's own
    assert_one_line(*run_lab(["connect"], capsys), f"make connect needs {program!r} on PATH: install")


def test_the_command_line_prints_no_traceback(clean_aws_environment: Path) -> None:
    """issue 23's example, as make runs it: upload-sample without credentials."""
    result = subprocess.run(
        [sys.executable, "-m", "tools.lab", "upload-sample"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout) == (1, "")
    hint = "(aws configure list-profiles), run aws sso login, or export AWS_ACCESS_KEY_ID"
    assert result.stderr.splitlines() == [f"lab: {EXPECTED['no-credentials']} {hint}"]


# The deployment commands and the account checks, through the same layer: make deploy, make destroy, make
# preflight, make smoke (each reaches AWS before anything else happens; make diff without credentials skips its
# live part, tests/tools/test_deployment.py).
DEPLOYMENT_COMMANDS = {
    "deploy": ("tools.deployment", ["deploy"]),  # its preflight is the first AWS call
    "destroy": ("tools.deployment", ["destroy", "--confirm", "dev"]),
    "preflight": ("tools.preflight", []),
    "smoke": ("tools.smoke", []),
}


@pytest.mark.parametrize("command", list(DEPLOYMENT_COMMANDS))
@pytest.mark.parametrize("failure", ["no-credentials", "wrong-profile", "region-not-allowed", "no-network"])
def test_deployment_commands_fail_in_one_line_too(
    command: str, failure: str, clean_aws_environment: Path, monkeypatch, capsys, tmp_path
) -> None:
    import importlib

    module_name, argv = DEPLOYMENT_COMMANDS[command]
    module = importlib.import_module(module_name)
    monkeypatch.setenv("LAB_SETTINGS_FILE", str(tmp_path / "absent.json"))
    if failure != "no-credentials":
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    if failure == "wrong-profile":
        monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    if failure == "region-not-allowed":
        argv = [*argv, "-c", "region=us-east-1"]
    if failure == "no-network":
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")
    code = module.main(argv)
    captured = capsys.readouterr()
    program = module.PROGRAM
    assert code == 1
    assert captured.err.count("\n") == 1 and captured.err.startswith(f"{program}: {EXPECTED[failure]}"), captured.err
