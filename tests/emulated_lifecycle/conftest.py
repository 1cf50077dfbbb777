"""Fixtures for the offline lifecycle tests: the app synthesised by the real CDK CLI, and moto on 127.0.0.1.

The app is synthesised once per session and cluster mode (``transient``, the default, and ``standing``;
into temporary directories, never the shared ``cdk.out``), when the first test that needs it runs.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lifecycle_support as lifecycle
import network_support

from tools.wheelhouse import with_placeholder

_ASSEMBLY: dict[str, lifecycle.Assembly] = {}


def progress(config: pytest.Config, message: str) -> None:
    """A line on the terminal while the lifecycle runs (minutes): shown by `make lifecycle` without ``-s``, because
    it is written past pytest's output capture (not by `make test`, whose pytest-xdist workers have no terminal)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return
    with capture.global_and_fixture_disabled() if capture is not None else nullcontext():
        reporter.write_line(f"[lifecycle] {message}")


def session_assembly(request: pytest.FixtureRequest, cluster_mode: str = "transient") -> lifecycle.Assembly:
    """`cdk synth -c account=123456789012` (plus the mode's context, lifecycle.CLUSTER_MODE_CONTEXT) of the app
    as it is in the working tree; once per test run and cluster mode.

    Under pytest-xdist the workers share it: the first to need a mode synthesises it into the run's base temp
    folder, under a lock, and the others read that assembly (the lifecycle, the smoke test and the unmodelled
    assertions run on different workers and would otherwise each pay the ~10 s CLI synth). pytest removes it with
    the run's other temporary folders (it keeps the last three runs')."""
    if cluster_mode not in _ASSEMBLY:
        factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
        base = factory.getbasetemp()
        shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
        workdir = shared / f"lifecycle-synth-{cluster_mode}"
        with (shared / f"lifecycle-synth-{cluster_mode}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if not (workdir / "synthesised").exists():
                shutil.rmtree(workdir, ignore_errors=True)  # what a synth that failed part-way left
                workdir.mkdir()
                _synth_into(request.config, workdir, cluster_mode)
                (workdir / "synthesised").touch()
        _ASSEMBLY[cluster_mode] = lifecycle.Assembly(workdir / "cdk.out")
    return _ASSEMBLY[cluster_mode]


def _synth_into(config: pytest.Config, workdir: Path, cluster_mode: str) -> None:
    # Synthesis needs no AWS; a closed loopback port makes any accidental lookup fail fast, offline.
    env = lifecycle.offline_env("http://127.0.0.1:9", workdir)
    context = dict(lifecycle.CLUSTER_MODE_CONTEXT[cluster_mode])
    if network_support.network_mode_of(cluster_mode) == "isolated":
        # The isolated workstation installs from a wheelhouse asset; its wheels do not matter here (no instance
        # boots in the emulator); that the asset is published, and read through the S3 endpoint, does.
        full = with_placeholder({**network_support.cdk_json_context(), **context}, workdir)
        context["workstation_wheelhouse_dir"] = full["workstation_wheelhouse_dir"]
    started = time.monotonic()
    progress(config, f"{cluster_mode}: cdk synth (for the emulated lifecycle) ...")
    lifecycle.synth(workdir / "cdk.out", env, context)
    progress(config, f"{cluster_mode}: synthesised in {time.monotonic() - started:.0f} s")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The lifecycle test runs once per cluster mode; its id says the mode and its network mode. Nothing is
    synthesised while tests are collected, so a run that deselects the emulated tests never pays for it."""
    if "cluster_mode" in metafunc.fixturenames:
        modes = list(lifecycle.CLUSTER_MODE_CONTEXT)
        ids = [f"{mode}-{network_support.network_mode_of(mode)}" for mode in modes]
        metafunc.parametrize("cluster_mode", modes, ids=ids)


@pytest.fixture
def scope(request: pytest.FixtureRequest, deployment: lifecycle.Assembly, cluster_mode: str) -> str:
    """What the lifecycle covers for this app: the whole pipeline when it has the automation stack, else the
    storage alone; said on the terminal with the stacks deployed."""
    scope = "full-pipeline" if lifecycle.has_automation(deployment) else "storage-only-no-automation-stack"
    progress(request.config, f"{cluster_mode}: {scope} [{'+'.join(deployment.stack_names())}]")
    return scope


@pytest.fixture(scope="session")
def assembly(request: pytest.FixtureRequest) -> lifecycle.Assembly:
    """The app as cdk.json configures it (transient cluster mode)."""
    return session_assembly(request)


@pytest.fixture
def deployment(request: pytest.FixtureRequest, cluster_mode: str) -> lifecycle.Assembly:
    """The app synthesised for the lifecycle test's cluster mode."""
    return session_assembly(request, cluster_mode)


@pytest.fixture(scope="session")
def variants(request: pytest.FixtureRequest) -> dict[str, lifecycle.Assembly]:
    """Every synthesised variant, by cluster mode."""
    return {mode: session_assembly(request, mode) for mode in lifecycle.CLUSTER_MODE_CONTEXT}


@pytest.fixture
def any_assembly(request: pytest.FixtureRequest) -> Callable[[str], lifecycle.Assembly]:
    """The first of the synthesised variants (transient, then standing) whose templates have a resource type."""

    def with_type(resource_type: str) -> lifecycle.Assembly:
        for cluster_mode in lifecycle.CLUSTER_MODE_CONTEXT:
            candidate = session_assembly(request, cluster_mode)
            if resource_type in candidate.types():
                return candidate
        pytest.skip(f"the app has no {resource_type} in any cluster mode")

    return with_type


@pytest.fixture
def step(request: pytest.FixtureRequest, cluster_mode: str) -> Callable[[str], None]:
    """``step("cdk deploy --all")``: says on the terminal which step of the lifecycle test starts, and when."""
    started = time.monotonic()

    def say(message: str) -> None:
        progress(request.config, f"{cluster_mode} +{time.monotonic() - started:.0f} s: {message}")

    return say


@pytest.fixture
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[lifecycle.Emulator]:
    """A fresh moto server for each test (each deployment); stopped in the finaliser whatever happens in the test."""
    server = lifecycle.Emulator(tmp_path_factory.mktemp("emulator") / "moto.log")
    try:
        server.start()
        yield server
    finally:
        server.stop()
        assert not server.is_running()
