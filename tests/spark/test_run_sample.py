"""spark_jobs/run_sample.py: the real spark-submit path, and the acceptance rule."""

from __future__ import annotations

import ast
import json
import shutil
import sys
from pathlib import Path

from spark_jobs import run_sample
from spark_jobs.synthetic_ratings import SyntheticSpec, generate, write_dataset

ROOT = Path(__file__).resolve().parents[2]
STDLIB = set(sys.stdlib_module_names)


def test_the_job_file_imports_only_the_standard_library_and_pyspark():
    tree = ast.parse((ROOT / "spark_jobs" / "als_job.py").read_text())
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0
    }
    assert imported - STDLIB - {"__future__"} == {"pyspark"}


def test_spark_submit_runs_the_job_file_alone(tmp_path):
    """The EMR step ships only als_job.py: submit a lone copy, away from the project, and read its output."""
    lone_job = tmp_path / "job" / "als_job.py"
    lone_job.parent.mkdir()
    shutil.copy(ROOT / "spark_jobs" / "als_job.py", lone_job)
    data = tmp_path / "data"
    write_dataset(generate(SyntheticSpec(users=60, items=80, ratings=2_000, seed=5)), data)
    args = [
        "--ratings",
        str(data / "u.data"),
        "--test-ratings",
        str(data / "u.test"),
        "--output",
        str(tmp_path / "runs"),
        "--run-id",
        "lone",
        "--max-iter",
        "5",
        "--top-n",
        "2",
    ]
    code = run_sample.submit(args, tmp_path / "spark.log", "local[2]", lone_job)
    assert code == 0, (tmp_path / "spark.log").read_text()[-3000:]
    metrics = json.loads((tmp_path / "runs" / "lone" / "metrics.json").read_text())
    assert metrics["input_rows"] == metrics["split"]["train_rows"] > 0
    assert (tmp_path / "runs" / "lone" / "_SUCCESS").exists()


def test_acceptance_needs_rmse_near_the_oracle_and_below_the_baseline():
    oracle = {"oracle_rmse": 0.8}
    assert run_sample.acceptance_failures({"rmse": 0.85, "baseline_rmse": 0.9}, oracle) == []
    too_far = run_sample.acceptance_failures({"rmse": 0.89, "baseline_rmse": 0.95}, oracle)
    assert too_far == ["RMSE 0.8900 > 1.1 x oracle RMSE 0.8000"]
    no_gain = run_sample.acceptance_failures({"rmse": 0.85, "baseline_rmse": 0.85}, oracle)
    assert no_gain == ["RMSE 0.8500 does not beat the bias baseline 0.8500"]
