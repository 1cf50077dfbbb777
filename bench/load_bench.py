"""The load/validate phase alone: a baseline version of the job beside this one and beside a minimal Spark load.

    git archive <rev> spark_jobs | tar -x -C /tmp/base     # or: git show <rev>:spark_jobs/als_job.py > old.py
    python -m bench.load_bench --baseline-job /tmp/base/spark_jobs/als_job.py [--sizes 100K,1M] [--repeats 3]

All three read the same train and test files (bench/als_bench.py's synthetic sizes, u.data layout).
Each figure is the phase's wall time in seconds, the median of --repeats, measured two ways:

* **fresh JVM**: one spark-submit per measurement, the phase as a job run pays it: Spark SQL's
  start-up (class loading, the analyser's and planner's first use, code generation, the JIT warming
  up) lands on whichever query comes first, and in the job that is load/validate.
* **after start-up**: one spark-submit runs a trivial query, then the phase --repeats + 1 times; the
  first run is dropped, the median of the rest is the phase's own work.

*minimal* is the floor: split, cast, de-duplicate, cache and count, with no validation
(bench/load_phase_runner.py). *first query* is the trivial query's time in a fresh JVM.
Writes bench/results/load_bench.json (gitignored).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.als_bench import RESULTS, SIZES
from spark_jobs.local.spark_submit import JOB, QUIET_CONF, spark_submit_command, spark_submit_environment
from spark_jobs.local.synthetic_ratings import generate, write_dataset

RUNNER = Path(__file__).resolve().parent / "load_phase_runner.py"


def measure(engine: str, job: Path | None, data_dir: Path, runs: int, warm_up: bool) -> dict:
    """One spark-submit of the runner; its result record."""
    with tempfile.TemporaryDirectory(prefix="load-bench-") as scratch:
        result_path = Path(scratch) / "result.json"
        runner_args = ["--engine", engine, "--runs", str(runs), "--result", str(result_path)]
        runner_args += ["--job", str(job)] if job else []
        runner_args += ["--warm-up"] if warm_up else []
        job_args = ["--ratings", str(data_dir / "u.data"), "--test-ratings", str(data_dir / "u.test")]
        job_args += ["--format", "udata"]
        command = spark_submit_command([*runner_args, "--", *job_args], "local[2]", RUNNER, conf=QUIET_CONF)
        completed = subprocess.run(
            command, check=False, env=spark_submit_environment(), capture_output=True, text=True, cwd=scratch
        )
        if completed.returncode != 0:
            raise SystemExit(f"{engine} {job or ''} failed (exit {completed.returncode}):\n{completed.stderr[-3000:]}")
        return json.loads(result_path.read_text())


def bench_size(label: str, versions: dict, repeats: int) -> list:
    data_dir = RESULTS / f"data-{label}"
    write_dataset(generate(SIZES[label]), data_dir)
    rows = []
    for name, (engine, job) in versions.items():
        fresh = [measure(engine, job, data_dir, 1, warm_up=False)["load_seconds"][0] for _ in range(repeats)]
        started = measure(engine, job, data_dir, repeats + 1, warm_up=True)
        row = {
            "size": label,
            "version": name,
            "fresh_runs": fresh,
            "fresh": statistics.median(fresh),
            "started_runs": started["load_seconds"],
            "started": statistics.median(started["load_seconds"][1:]),
            "first_query": started["first_query_seconds"],
        }
        print(f"[{label}] {name}: fresh {fresh}, after start-up {started['load_seconds']}", flush=True)
        rows.append(row)
    return rows


def table(rows: list) -> str:
    lines = [
        "| ratings | version | fresh JVM (s) | after start-up (s) | vs baseline, fresh | vs baseline, after start-up |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        base = next(r for r in rows if r["size"] == row["size"] and r["version"] == "baseline")
        lines.append(
            f"| {row['size']} | {row['version']} | {row['fresh']:.2f} | {row['started']:.2f} "
            f"| {row['fresh'] / base['fresh']:.2f} | {row['started'] / base['started']:.2f} |"
        )
    first = statistics.median(row["first_query"] for row in rows)
    lines.append(f"\nA trivial first query in a fresh JVM (Spark SQL start-up): {first:.2f} s (median).")
    return "\n".join(lines)


def main(argv: list) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--baseline-job", type=Path, required=True, help="the version to compare with (its als_job.py)")
    parser.add_argument("--sizes", default="100K,1M", help=f"comma-separated subset of {list(SIZES)}")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per figure (the median is shown)")
    args = parser.parse_args(argv)
    versions = {
        "baseline": ("job", args.baseline_job.resolve()),
        "this job": ("job", JOB),
        "minimal": ("minimal", None),
    }
    rows = [row for label in args.sizes.split(",") for row in bench_size(label, versions, args.repeats)]
    report = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_average": os.getloadavg()},
        "baseline_job": str(args.baseline_job),
        "rows": rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "load_bench.json").write_text(json.dumps(report, indent=2) + "\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
