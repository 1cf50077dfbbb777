"""Run the ALS job on the bundled synthetic sample through the real spark-submit and judge it.

    python -m spark_jobs.run_sample --output runs

Uses spark_jobs/sample_data/ (u.data, u.test, oracle.json; regenerated when missing or with
--regenerate), submits spark_jobs/als_job.py as a single file with the spark-submit shipped in the
pyspark package, then prints RMSE against the bias baseline and the oracle floor. Exits non-zero
when the job fails, when RMSE > 1.10 x oracle RMSE, or when RMSE does not beat the baseline.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pyspark

from spark_jobs.als_job import default_run_id
from spark_jobs.synthetic_ratings import generate, write_dataset

PACKAGE = Path(__file__).resolve().parent
JOB = PACKAGE / "als_job.py"
SAMPLE_DIR = PACKAGE / "sample_data"
SAMPLE_FILES = ("u.data", "u.test", "oracle.json")
MAX_RATIO_TO_ORACLE = 1.10
VENV_JAVA = PACKAGE.parent / ".venv" / "java-home"
PHASE_ORDER = ("load_validate", "split", "tune", "train", "evaluate", "baseline", "save_model", "recommend")


def ensure_sample(sample_dir: Path, regenerate: bool = False) -> dict:
    """The sample's oracle.json, generating the sample first when asked or when a file is missing."""
    if regenerate or not all((sample_dir / name).exists() for name in SAMPLE_FILES):
        write_dataset(generate(), sample_dir)
    return json.loads((sample_dir / "oracle.json").read_text())


def spark_submit_command(job_args: list, master: str = "local[2]", job: Path = JOB) -> list:
    """spark-submit from the installed pyspark package, submitting the job file on its own."""
    spark_submit = Path(pyspark.__file__).resolve().parent / "bin" / "spark-submit"
    return [str(spark_submit), "--master", master, "--driver-memory", "2g",
            "--conf", "spark.ui.enabled=false", "--conf", "spark.ui.showConsoleProgress=false",
            str(job), *job_args]


def submit(job_args: list, log_path: Path, master: str = "local[2]", job: Path = JOB) -> int:
    """Run the job in a subprocess; Spark's log goes to log_path, the job's summary to our stdout."""
    env = dict(os.environ)
    if not env.get("JAVA_HOME") and VENV_JAVA.exists():
        env["JAVA_HOME"] = str(VENV_JAVA)
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    env.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        command = spark_submit_command(job_args, master, job)
        return subprocess.run(command, env=env, stderr=log, check=False).returncode


def acceptance_failures(metrics: dict, oracle: dict) -> list:
    """Why the run misses the bar (empty when it passes)."""
    rmse, baseline, floor = metrics["rmse"], metrics["baseline_rmse"], oracle["oracle_rmse"]
    failures = []
    if rmse is None:
        return ["no RMSE in metrics.json"]
    if rmse > MAX_RATIO_TO_ORACLE * floor:
        failures.append(f"RMSE {rmse:.4f} > {MAX_RATIO_TO_ORACLE} x oracle RMSE {floor:.4f}")
    if rmse >= baseline:
        failures.append(f"RMSE {rmse:.4f} does not beat the bias baseline {baseline:.4f}")
    return failures


def summary_table(metrics: dict, oracle: dict) -> str:
    floor = oracle["oracle_rmse"]
    rows = [
        ("test RMSE (ALS)", f"{metrics['rmse']:.4f}"),
        ("bias-baseline RMSE", f"{metrics['baseline_rmse']:.4f}"),
        ("oracle RMSE (floor)", f"{floor:.4f}"),
        ("RMSE / oracle", f"{metrics['rmse'] / floor:.3f}  (must be <= {MAX_RATIO_TO_ORACLE:.2f})"),
        ("test MAE (ALS)", f"{metrics['mae']:.4f}"),
        ("bias-baseline MAE", f"{metrics['baseline_mae']:.4f}"),
        ("train / test rows", f"{metrics['split']['train_rows']} / {metrics['split']['test_rows']}"),
        ("rank / regParam / maxIter",
         f"{metrics['params']['rank']} / {metrics['params']['reg_param']} / {metrics['params']['max_iter']}"),
    ]
    phases = metrics["phase_seconds"]
    ordered = [phase for phase in PHASE_ORDER if phase in phases] + sorted(set(phases) - set(PHASE_ORDER))
    rows += [(f"  {phase} (s)", f"{phases[phase]:.1f}") for phase in ordered]
    rows.append(("job wall time (s)", f"{metrics['wall_seconds']:.1f}"))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def main(argv: list) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, help="output root (local); the run writes <output>/<run-id>/")
    parser.add_argument("--run-id", default=None, help="default: UTC time + random suffix")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--sample-dir", type=Path, default=SAMPLE_DIR)
    parser.add_argument("--regenerate", action="store_true", help="rewrite the sample from the generator")
    args = parser.parse_args(argv)

    oracle = ensure_sample(args.sample_dir, args.regenerate)
    run_id = args.run_id or default_run_id()
    output = Path(args.output)
    log_path = output / f"{run_id}.spark-submit.log"
    job_args = ["--ratings", str(args.sample_dir / "u.data"), "--test-ratings", str(args.sample_dir / "u.test"),
                "--format", "udata", "--output", str(output), "--run-id", run_id]
    code = submit(job_args, log_path, args.master)
    if code != 0:
        print(f"run_sample: the job failed (exit {code}); Spark log: {log_path}", file=sys.stderr)
        print("".join(log_path.read_text().splitlines(keepends=True)[-30:]), file=sys.stderr)
        return code

    metrics = json.loads((output / run_id / "metrics.json").read_text())
    print(f"\nrun {run_id} -> {output / run_id}  (Spark {metrics['spark_version']}, log {log_path})")
    print(summary_table(metrics, oracle))
    failures = acceptance_failures(metrics, oracle)
    for failure in failures:
        print(f"run_sample: FAIL: {failure}", file=sys.stderr)
    if not failures:
        print("PASS: RMSE within 10% of the oracle floor and below the bias baseline")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
