"""Shared fixtures: synthesise the CDK app in-process, once per distinct context, from cdk.json's context; and the
test tiers, assigned in one place (TIERS)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"

# jsii runs the CDK on Node: use the project's Node 24 and Java 17 even when pytest is started by hand.
if (VENV / "bin" / "node").exists():
    os.environ["PATH"] = f"{VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
if (VENV / "java-home").exists():
    os.environ.setdefault("JAVA_HOME", str(VENV / "java-home"))
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
# A call to a deprecated CDK API raises instead of printing a warning nobody reads: in-process synths and the
# CLI's child processes alike (tests/stacks/test_cli_synth.py proves it).
os.environ["JSII_DEPRECATED"] = "fail"
# A developer's own settings (lab.settings.json, tools/context.py) never reach a test: the tools read this file
# instead, which does not exist unless a test writes it.
os.environ["LAB_SETTINGS_FILE"] = str(ROOT / "build" / "tests" / f"no-settings-{os.getpid()}.json")


# The tiers. `make test-fast` deselects every test that carries one of these markers (the edit-test loop: no
# Spark, no emulator, no external CLI, one shared synth); `make test` runs everything. A test's tier follows from
# what it starts: its folder, a fixture it uses (directly or through another fixture), or its module, for the
# modules that run an external tool or synthesise the app once per case.
TIERS: dict[str, str] = {
    "tests/emulated_lifecycle/": "emulated",  # moto on 127.0.0.1, the CDK CLI deploying to it, Spark for the step
    "tests/spark/": "spark",  # a local Spark session or spark-submit
    "tests/workstation/": "spark",  # the workstation's scripts run the real job
    "fixture:spark": "spark",
    "tests/stacks/test_cli_synth.py": "slow",  # the CDK CLI (Node) synthesises, once per case
    "tests/stacks/test_audit_gates.py": "slow",  # cfn-lint and checkov over both network modes
    "tests/stacks/test_app_builder.py": "slow",  # the app synthesised once per setting
    "tests/stacks/test_documented_settings.py": "slow",  # once per README's documented values and commands
    "tests/stacks/test_update_safety.py": "slow",  # once per routine change
    "tests/stacks/test_stages_side_by_side.py": "slow",  # once per stage
    "tests/tools/test_one_line_errors.py": "slow",  # each command x failure class, retries and timeouts included
    "tests/audit/test_audit.py": "slow",  # the whole audit, scanners included
    "tests/audit/test_changes.py": "slow",  # the audit's change summary: base and head synthesised per case
}


def tier_of(nodeid: str, fixtures: set[str]) -> str | None:
    """The tier marker of a test (None: the fast tier), from TIERS."""
    for key, tier in TIERS.items():
        if key.startswith("fixture:") and key.removeprefix("fixture:") in fixtures:
            return tier
        if nodeid.startswith(key):
            return tier
    return None


# make test runs on pytest-xdist workers (--dist loadgroup). Every test on the shared Spark session (the `spark`
# fixture: the Spark tier's and the emulated lifecycle's step) is in one group, so one worker holds the only
# session, and the lifecycle runs last in it, on a JVM the Spark tier has warmed. A cold JVM's first run of the job
# takes about twice the CPU of a warm one's (JIT compilation), so a second session costs more CPU than its
# parallelism saves on two cores (the suite: 1,030 CPU-seconds with a session for the lifecycle alone, 1,010 with
# one). Every other module is a group of its own, so its module-scoped fixtures (synths, datasets) are built once,
# and the spark-submit tests (a JVM each) run on the other worker.
@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    grouped = config.pluginmanager.hasplugin("xdist")  # not with -p no:xdist (the marker is pytest-xdist's)
    start_order: dict[str, int] = {}
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        tier = tier_of(item.nodeid, fixtures)
        if tier is not None:
            item.add_marker(tier)
        in_session = "spark" in fixtures
        if grouped:
            item.add_marker(pytest.mark.xdist_group("spark" if in_session else item.nodeid.split("::")[0]))
        start_order[item.nodeid] = (
            0 if in_session and tier == "spark" else {"emulated": 1, "spark": 1, "slow": 2}.get(tier or "", 3)
        )
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # pytest-xdist hands out the groups in the order the workers collected them (make test passes
        # --no-loadscope-reorder): the Spark group first (the lifecycle last in it), then the spark-submit and CLI
        # modules, so the quick modules fill the end.
        items.sort(key=lambda item: start_order[item.nodeid])


def cdk_json_context() -> dict[str, Any]:
    """The context every synth gets from cdk.json: CDK's feature flags (the settings' defaults are in Settings)."""
    return json.loads((ROOT / "cdk.json").read_text())["context"]


class SynthesisedApp:
    """The stacks of one synthesised app and their templates as dicts."""

    def __init__(self, context: dict[str, Any], outdir: Path, *, nag: bool = True) -> None:
        from aws_cdk import App

        from stacks.app_builder import build_app
        from stacks.settings import Settings

        app = App(context=context, outdir=str(outdir))
        self.settings = Settings.from_node(app.node)
        self.stacks = build_app(app, self.settings, nag=nag)
        self.assembly = app.synth()
        self.templates: dict[str, dict[str, Any]] = {stack.stack_name: stack.template for stack in self.assembly.stacks}
        self.outdir = outdir

    def template(self, stack_attr: str) -> dict[str, Any]:
        return self.templates[getattr(self.stacks, stack_attr).stack_name]

    def assertions(self, stack_attr: str):
        from aws_cdk.assertions import Template

        return Template.from_json(self.template(stack_attr))


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., SynthesisedApp]:
    """``synth(**overrides)`` synthesises the app with cdk.json's context plus overrides; cached per context.
    Unless the overrides name a wheelhouse, an isolated network mode gets a placeholder one. ``nag=False`` leaves
    cdk-nag out (a faster synth, for tests about something else)."""
    cache: dict[str, SynthesisedApp] = {}
    wheelhouses = tmp_path_factory.mktemp("wheelhouses")

    def _synth(*, nag: bool = True, **overrides: Any) -> SynthesisedApp:
        context = {**cdk_json_context(), **overrides}
        if "workstation_wheelhouse_dir" not in overrides:
            from tools.wheelhouse import with_placeholder

            context = with_placeholder(context, wheelhouses)
        key = json.dumps({"nag": nag, "context": context}, sort_keys=True)
        if key not in cache:
            cache[key] = SynthesisedApp(context, tmp_path_factory.mktemp("cdk.out"), nag=nag)
        return cache[key]

    return _synth


@pytest.fixture(scope="session")
def lab(synth: Callable[..., SynthesisedApp]) -> SynthesisedApp:
    """The app exactly as `cdk synth` builds it from cdk.json."""
    return synth()


@pytest.fixture(scope="session")
def one_run_jvm() -> dict[str, str]:
    """Environment for a spark-submit that runs the job once and exits (the spark-submit tests): its JVM compiles
    with the client compiler (C1) only, and its threads get a 4 MB stack.

    A JVM that lives for one run spends most of its CPU in the optimising compiler (C2) on code it never runs
    again: stopping at C1 took one 600-row run from ~65 to ~41 CPU-seconds on 2 cores, CPU the test beside it on
    the other pytest-xdist worker gets instead. The JIT tier changes speed, never results. With C1's larger
    frames, ALS's tasks overflowed the default 1 MB thread stack (StackOverflowError, seen on a 3,000-rating run
    at the default --max-iter), hence -Xss4m.
    Spark's own settings stay Spark's defaults, as EMR runs them (the in-process session, alive for the whole
    worker, keeps the full JIT). SPARK_SUBMIT_OPTS is read by Spark's launcher for the driver JVM."""
    return {"SPARK_SUBMIT_OPTS": "-XX:TieredStopAtLevel=1 -Xss4m"}


@pytest.fixture(scope="session")
def normalise() -> Callable[[dict[str, Any]], dict[str, Any]]:
    from tools.snapshots.normalisation import normalise_template

    return normalise_template


@pytest.fixture(scope="session")
def cdk_context() -> dict[str, Any]:
    return cdk_json_context()


@pytest.fixture(scope="session")
def spark():
    """One local[2] SparkSession for every test that runs the job in-process (tests/spark, the emulated
    lifecycle's step), started by the first of them."""
    from pyspark.sql import SparkSession

    from spark_jobs.local.spark_submit import spark_submit_environment

    # Spark needs a JVM (the project's Java 17 unless the caller chose one) and Python workers that run this
    # interpreter (same numpy and pyspark): the environment spark-submit gets in make run.
    os.environ.update(spark_submit_environment())

    session = (
        SparkSession.builder.master("local[2]")
        .appName("tests-spark")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        # Adaptive execution re-plans every shuffle as its own job: on two-partition test data that is only
        # overhead (a run takes ~40% longer with it). Semantics do not depend on it; the one-pass and degenerate-data
        # tests and the lifecycle's step turn it on, and the spark-submit tests (the shipped job, make run's runner,
        # the workstation's) run with Spark's defaults, as EMR does.
        .config("spark.sql.adaptive.enabled", "false")
        # Expressions are interpreted instead of compiled to Java: on test-sized data compiling each query's
        # generated code costs more than it saves (a run of the job ~15% faster). Results do not depend on it
        # (Spark's own suites run both paths, which is what this setting is for); the spark-submit tests
        # keep code generation on, as EMR runs it.
        .config("spark.sql.codegen.wholeStage", "false")
        .config("spark.sql.codegen.factoryMode", "NO_CODEGEN")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
