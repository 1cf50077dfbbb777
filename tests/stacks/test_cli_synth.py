"""The real CDK CLI: a bad context value, from any context source, fails `cdk synth` with one line naming the key."""

from __future__ import annotations

import json
import os
import subprocess
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
        ("allowed_regions=us-east-1", "'allowed_regions': 'us-east-1' outside the UK/EU regions this app may use"),
        ("log_retention_day=30", "'log_retention_day' (did you mean 'log_retention_days'?): not a setting"),
    ],
    ids=["region", "stage", "allowed_regions-widened", "unknown-key"],
)
def test_cdk_synth_refuses_bad_context(tmp_path: Path, context: str, message: str) -> None:
    result = cdk_synth(tmp_path, context)
    assert result.returncode != 0
    assert_one_line_error(result, message)
    assert not list((tmp_path / "cdk.out").glob("*.template.json"))


def test_an_unknown_key_in_another_context_file_is_refused_too(tmp_path: Path) -> None:
    result = cdk_synth(tmp_path, user_context={"working_timezon": "Europe/Paris"})
    assert result.returncode != 0
    assert_one_line_error(result, "'working_timezon' (did you mean 'working_timezone'?): not a setting")


def assert_one_line_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    [line] = [line for line in result.stderr.splitlines() if line.startswith("Invalid setting: ")]
    assert message in line, result.stderr
    assert "Traceback" not in result.stderr
