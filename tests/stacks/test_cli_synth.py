"""The real CDK CLI: a bad context value fails `cdk synth` with a message naming the key and allowed values."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CDK = ROOT / "node_modules" / ".bin" / "cdk"


def cdk_synth(tmp_path: Path, *context: str) -> subprocess.CompletedProcess[str]:
    args = [str(CDK), "synth", "--quiet", "--output", str(tmp_path / "cdk.out")]
    for item in context:
        args += ["-c", item]
    env = {**os.environ, "CDK_DISABLE_VERSION_CHECK": "1", "AWS_EC2_METADATA_DISABLED": "true"}
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
    ],
)
def test_cdk_synth_refuses_bad_context(tmp_path: Path, context: str, message: str) -> None:
    result = cdk_synth(tmp_path, *context.split(","))
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if "Invalid setting" in line] == [
        next(line for line in result.stderr.splitlines() if message in line)
    ]  # one line, naming the key
    assert not list((tmp_path / "cdk.out").glob("*.template.json"))
