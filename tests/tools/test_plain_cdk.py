"""README's way to run the CDK CLI directly (./cdk, "Plain CDK use") is quiet and uses the project's Node 24, even
when the machine's PATH has another Node first: `./cdk ls` prints the stack ids and nothing else on stdout, and
nothing on stderr (no jsii warning about the Node version, no notices). The other Node here is a stand-in that
fails loudly, so a run that reached it fails the test."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_plain_cdk_ls_is_quiet_on_the_projects_node(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "CDK_", "JSII_")) and key not in ("JAVA_HOME", "PATH")
    }
    machine = tmp_path / "machine-bin"
    machine.mkdir()
    (machine / "node").write_text("#!/bin/sh\necho 'the machine node ran' >&2\nexit 3\n")
    (machine / "node").chmod(0o755)
    env.update(PATH=f"{machine}:/usr/bin:/bin", HOME=str(tmp_path), LAB_SETTINGS_FILE=str(tmp_path / "absent.json"))
    env["AWS_EC2_METADATA_DISABLED"] = "true"  # no account lookups from this machine
    result = subprocess.run(
        [str(ROOT / "cdk"), "ls"], cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=600
    )
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    stacks = [f"{stack_id} (ml-lab-dev-{stack_id.lower()})" for stack_id in ("Storage", "Compute", "Automation")]
    assert result.stdout.splitlines() == stacks


def test_the_projects_node_is_24() -> None:
    node = ROOT / ".venv" / "bin" / "node"
    version = subprocess.run([str(node), "--version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("v24."), version
