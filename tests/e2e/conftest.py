"""Fixtures for the offline lifecycle tests: the app synthesised by the real CDK CLI, and moto on 127.0.0.1.

The app is synthesised once per session (into a temporary directory, never the shared ``cdk.out``), before the
tests are collected, because which steps the lifecycle test runs (its id) depends on the stacks the app has.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import e2e_lifecycle as lifecycle  # noqa: E402  (tests/e2e/e2e_lifecycle.py, a plain module next to this file)

_ASSEMBLY: dict[str, lifecycle.Assembly] = {}


def session_assembly(config: pytest.Config) -> lifecycle.Assembly:
    """`cdk synth -c account=123456789012` of the app as it is in the working tree; once per session."""
    if "assembly" not in _ASSEMBLY:
        workdir = Path(tempfile.mkdtemp(prefix="e2e-synth-"))
        config.add_cleanup(lambda: shutil.rmtree(workdir, ignore_errors=True))
        # Synthesis needs no AWS; a closed loopback port makes any accidental lookup fail fast, offline.
        env = lifecycle.offline_env("http://127.0.0.1:9", workdir)
        _ASSEMBLY["assembly"] = lifecycle.synth(workdir / "cdk.out", env)
    return _ASSEMBLY["assembly"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "scope" in metafunc.fixturenames:
        assembly = session_assembly(metafunc.config)
        scope = "full-pipeline" if lifecycle.has_automation(assembly) else "storage-only-no-automation-stack"
        metafunc.parametrize("scope", [scope], ids=[f"{scope}[{'+'.join(assembly.stack_names())}]"])


@pytest.fixture(scope="session")
def assembly(request: pytest.FixtureRequest) -> lifecycle.Assembly:
    return session_assembly(request.config)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[lifecycle.Emulator]:
    """A fresh moto server for the module; stopped in the finaliser whatever happens in the tests."""
    server = lifecycle.Emulator(tmp_path_factory.mktemp("emulator") / "moto.log")
    try:
        server.start()
        yield server
    finally:
        server.stop()
        assert not server.is_running()
