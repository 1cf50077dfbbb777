"""One local[2] SparkSession for the whole tests/spark suite, plus small-data helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from spark_jobs.local.spark_submit import spark_submit_environment

# Spark needs a JVM (the project's Java 17 unless the caller chose one) and Python workers that run this
# interpreter (same numpy and pyspark): the environment spark-submit gets in make run.
os.environ.update(spark_submit_environment())


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("tests-spark")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        # Adaptive execution re-plans every shuffle as its own job: on two-partition test data that is only
        # overhead (a run takes ~40% longer with it). Semantics do not depend on it; the one-pass test turns it
        # on, and the spark-submit tests (the shipped job, make run's runner, the lifecycle test's step) run
        # with Spark's defaults, as EMR does.
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def write_lines(tmp_path: Path):
    """write_lines(name, lines) -> path of a text file holding those lines."""

    def _write(name: str, lines: list) -> str:
        path = tmp_path / name
        path.write_text("".join(line + "\n" for line in lines))
        return str(path)

    return _write


@pytest.fixture(scope="module")
def synthetic_dir(tmp_path_factory) -> Path:
    """The small synthetic dataset (u.data, u.test, oracle.json), written once per test module."""
    from spark_jobs.local.synthetic_ratings import generate, write_dataset
    from tests.spark.job_support import SMALL_SPEC

    out = tmp_path_factory.mktemp("synthetic")
    write_dataset(generate(SMALL_SPEC), out)
    return out
