"""Quiet make targets: on a warm tree `make setup`, which every user target runs first, prints nothing (no "is up to
date" lines from its sub-makes), so `make synth` prints only its own line (tools/cdk_synth.py, tested in
tests/stacks/test_cli_synth.py) and `make wheelhouse --if-needed`'s silence (tests/tools/test_wheelhouse.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STAMPS = [".venv/.installed", ".venv-checkov/.installed", "node_modules/.installed"]
# As a user types it: not a sub-make of the `make test` that runs this test (an inherited MAKELEVEL makes make
# print "Entering directory" lines a user never sees).
USER_ENV = {key: value for key, value in os.environ.items() if key not in {"MAKEFLAGS", "MAKELEVEL", "MFLAGS"}}


def test_make_setup_on_a_warm_tree_prints_nothing() -> None:
    # Question mode first: the test must never install anything (the stamps are current after make setup).
    current = subprocess.run(
        ["make", "-q", *STAMPS], cwd=ROOT, env=USER_ENV, capture_output=True, text=True, check=False
    )
    assert current.returncode == 0, "the environments are not installed or stale here: run make setup first"
    result = subprocess.run(
        ["make", "setup"], cwd=ROOT, env=USER_ENV, capture_output=True, text=True, check=False, timeout=120
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_the_user_targets_do_not_echo_their_commands() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in ("configure", "preflight", "deploy", "destroy", "smoke", "outputs upload-sample connect results"):
        recipe = makefile.split(f"\n{target}: setup\n", 1)[1].split("\n\n", 1)[0]
        assert all(line.startswith("\t@") for line in recipe.splitlines()), f"make {target} echoes: {recipe}"
