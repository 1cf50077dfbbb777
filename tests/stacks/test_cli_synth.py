"""The real CDK CLI: a bad context value, from any context source, fails `cdk synth` with one line naming the key;
a good one is quiet."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CDK = ROOT / "node_modules" / ".bin" / "cdk"


def cdk_synth(
    tmp_path: Path, *context: str, user_context: dict[str, object] | None = None
) -> subprocess.CompletedProcess[str]:
    """`cdk synth` with ``-c`` pairs and, as ``~/.cdk.json`` (the CLI's user-level context file), ``user_context``."""
    args = [str(CDK), "synth", "--quiet", "--output", str(tmp_path / "cdk.out")]
    for item in context:
        args += ["-c", item]
    env = {**os.environ, "CDK_DISABLE_VERSION_CHECK": "1", "AWS_EC2_METADATA_DISABLED": "true"}
    if user_context is not None:
        (tmp_path / ".cdk.json").write_text(json.dumps({"context": user_context}))
        env["HOME"] = str(tmp_path)
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300, check=False)


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ("region=us-east-1", "'region': 'us-east-1' is outside the data-residency allow-list"),
        ("stage=banana", "'stage': 'banana' is not allowed; allowed values: dev, prod"),
        ("network_mode=private", "'network_mode': 'private' is not allowed; allowed values: public, isolated"),
        (
            "network_mode=isolated,workstation_wheelhouse_dir=build/no-such-wheelhouse",
            "context key 'network_mode': 'isolated' gives the workstation no route to PyPI",
        ),
        ("allowed_regions=us-east-1", "'allowed_regions': 'us-east-1' outside the UK/EU regions this app may use"),
        ("log_retention_day=30", "'log_retention_day' (did you mean 'log_retention_days'?): not a setting"),
    ],
    ids=["region", "stage", "network_mode", "isolated-without-wheelhouse", "allowed_regions-widened", "unknown-key"],
)
def test_cdk_synth_refuses_bad_context(tmp_path: Path, context: str, message: str) -> None:
    result = cdk_synth(tmp_path, *context.split(","))
    assert result.returncode != 0
    assert_one_line_error(result, message)
    assert not list((tmp_path / "cdk.out").glob("*.template.json"))


def test_make_synth_prints_one_line_and_no_warning(tmp_path: Path) -> None:
    """`make synth` (tools.cdk_synth) on the working tree: the summary line only, every stack written."""
    from tools.cdk_synth import stack_ids

    result = subprocess.run(
        [sys.executable, "-m", "tools.cdk_synth", "--output", str(tmp_path / "cdk.out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    stacks = stack_ids(tmp_path / "cdk.out")
    assert set(stacks) >= {"Storage", "Compute", "Automation"}
    assert result.stdout == f"synthesised {', '.join(stacks)} into {tmp_path / 'cdk.out'}/\n"
    assert result.stderr == "", "make synth printed more than its summary:\n" + result.stderr


def test_a_deprecated_cdk_api_fails_the_tests() -> None:
    """JSII_DEPRECATED=fail (tests/conftest.py): a deprecated call raises rather than warns, in every test."""
    from aws_cdk import App, CfnResource, Stack

    stack = Stack(App(), "Probe")
    first, second = (CfnResource(stack, name, type="AWS::SNS::Topic") for name in ("First", "Second"))
    with pytest.raises(RuntimeError, match=r"CfnResource#addDependency is deprecated"):
        first.add_dependency(second)
    first.add_resource_dependency(second)  # the replacement passes


def test_cli_chatter_filter_matches_the_pinned_cli_and_nothing_else() -> None:
    """The two lines tools.cdk_synth drops are the ones the pinned CLI prints for a multi-stack synth."""
    from tools.cdk_synth import CLI_CHATTER

    cli = (ROOT / "node_modules" / "aws-cdk" / "lib" / "index.js").read_text()
    assert "Successfully synthesized to " in cli and "Supply a stack id (" in cli
    assert CLI_CHATTER.match("Successfully synthesized to /tmp/cdk.out")
    assert CLI_CHATTER.match("Supply a stack id (Storage, Compute, Automation) to display its template.")
    for kept in (
        "[WARNING] aws-cdk-lib.CfnResource#addDependency is deprecated",
        "[Error at /Storage/Buckets/Logs] AwsSolutions-S1: ...",
        "Stack Storage: Supply a stack id",
    ):
        assert not CLI_CHATTER.match(kept)


def test_an_unknown_key_in_another_context_file_is_refused_too(tmp_path: Path) -> None:
    result = cdk_synth(tmp_path, user_context={"working_timezon": "Europe/Paris"})
    assert result.returncode != 0
    assert_one_line_error(result, "'working_timezon' (did you mean 'working_timezone'?): not a setting")


def assert_one_line_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    [line] = [line for line in result.stderr.splitlines() if line.startswith("Invalid setting: ")]
    assert message in line, result.stderr
    assert "Traceback" not in result.stderr
