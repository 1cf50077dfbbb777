"""The tiers tests/conftest.py assigns (TIERS) hold without pytest-xdist too (``-p no:xdist``, e.g. to debug one
test in a single process), where its grouping marker does not exist. (`make test` and `make test-fast` run with it.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# One case per way a tier is assigned (by folder, by a fixture it uses, by module) and one in no tier: small
# imports, as each collection is a pytest process of its own.
SPARK = [
    "tests/spark/test_emr_compat.py",
    "tests/tools/test_lab.py::test_top_n_reads_the_jobs_parquet_and_leaves_a_session_it_did_not_start",
]
SLOW = ["tests/stacks/test_cli_synth.py"]
FAST = ["tests/ci/test_pre_commit.py"]


def collected(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:xdist", *args, *SPARK, *SLOW, *FAST],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return [line for line in done.stdout.splitlines() if "::" in line]


def covers(tests: list[str], paths: list[str]) -> bool:
    """Every test is under one of the paths and every path has a test."""
    return all(test.startswith(tuple(paths)) for test in tests) and all(
        any(test.startswith(path) for test in tests) for path in paths
    )


def test_without_xdist_the_spark_tier_and_the_fast_tests_are_selected_exactly() -> None:
    spark = collected("-m", "spark")
    fast = collected("-m", "not spark and not emulated and not slow")
    assert covers(spark, SPARK), spark
    assert covers(fast, FAST), fast  # the slow module is in neither
