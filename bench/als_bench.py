"""Spark ALS (local[2], through spark-submit) against a single-machine NumPy ALS, 100K and 1M ratings.

    python -m bench.als_bench [--sizes 100K,1M]

Both engines get the same synthetic train/test files, the same rank/regParam/maxIter (the job's
defaults) and clip predictions to the same 0.5..5 range; RMSE is compared with the oracle floor.
Spark times are the job's own per-phase times (metrics.json) plus the whole spark-submit wall
time (JVM start included); NumPy times are load (np.loadtxt), train and evaluate.
Writes bench/results/als_bench.json (gitignored).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from bench import numpy_als
from spark_jobs import run_sample
from spark_jobs.als_job import parse_args as job_defaults
from spark_jobs.synthetic_ratings import SyntheticSpec, generate, oracle_metrics, write_dataset

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = {
    "100K": SyntheticSpec(),  # MovieLens 100K shape
    "1M": SyntheticSpec(users=6040, items=3706, ratings=1_000_000),  # MovieLens 1M shape
}


def _rmse_mae(prediction: np.ndarray, actual: np.ndarray) -> tuple:
    error = prediction - actual
    return float(np.sqrt(np.mean(error ** 2))), float(np.mean(np.abs(error)))


def run_numpy(data_dir: Path, rank: int, reg_param: float, max_iter: int, seed: int,
              clip: tuple) -> dict:
    timings = {}
    start = time.perf_counter()
    train = np.loadtxt(data_dir / "u.data", dtype=np.int64, delimiter="\t")
    test = np.loadtxt(data_dir / "u.test", dtype=np.int64, delimiter="\t")
    timings["load"] = time.perf_counter() - start

    start = time.perf_counter()
    user_factors, item_factors = numpy_als.fit(train[:, 0] - 1, train[:, 1] - 1, train[:, 2],
                                               rank, reg_param, max_iter, seed)
    timings["train"] = time.perf_counter() - start

    start = time.perf_counter()
    prediction, known = numpy_als.predict(user_factors, item_factors, test[:, 0] - 1, test[:, 1] - 1)
    rmse, mae = _rmse_mae(np.clip(prediction, *clip), test[known, 2].astype(np.float64))
    timings["evaluate"] = time.perf_counter() - start
    return {"rmse": rmse, "mae": mae, "test_rows_evaluated": int(known.sum()),
            "phase_seconds": {k: round(v, 3) for k, v in timings.items()},
            "wall_seconds": round(sum(timings.values()), 3)}


def run_spark(data_dir: Path, label: str) -> dict:
    run_id = f"bench-{label}-{datetime.datetime.now(datetime.timezone.utc):%Y%m%dT%H%M%SZ}"
    output = RESULTS / "runs"
    args = ["--ratings", str(data_dir / "u.data"), "--test-ratings", str(data_dir / "u.test"),
            "--format", "udata", "--output", str(output), "--run-id", run_id]
    start = time.perf_counter()
    code = run_sample.submit(args, output / f"{run_id}.spark-submit.log")
    wall = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"spark job failed (exit {code}); see {output / f'{run_id}.spark-submit.log'}")
    metrics = json.loads((output / run_id / "metrics.json").read_text())
    return {"rmse": metrics["rmse"], "mae": metrics["mae"], "baseline_rmse": metrics["baseline_rmse"],
            "test_rows_evaluated": metrics["test_rows_evaluated"], "phase_seconds": metrics["phase_seconds"],
            "job_seconds": metrics["wall_seconds"], "wall_seconds": round(wall, 3)}


def table(results: list) -> str:
    header = ("size", "engine", "load", "train", "eval", "job", "wall", "RMSE", "oracle", "ratio", "baseline")
    lines = ["  ".join(f"{h:>9}" for h in header)]
    for result in results:
        for engine in ("spark", "numpy"):
            run = result[engine]
            phases = run["phase_seconds"]
            load = phases.get("load_validate", phases.get("load"))
            cells = (result["size"], engine, f"{load:.1f}", f"{phases['train']:.1f}", f"{phases['evaluate']:.1f}",
                     f"{run.get('job_seconds', run['wall_seconds']):.1f}", f"{run['wall_seconds']:.1f}",
                     f"{run['rmse']:.4f}", f"{result['oracle_rmse']:.4f}",
                     f"{run['rmse'] / result['oracle_rmse']:.3f}",
                     f"{result['spark'].get('baseline_rmse', float('nan')):.4f}")
            lines.append("  ".join(f"{c:>9}" for c in cells))
    return "\n".join(lines)


def main(argv: list) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(SIZES), help=f"comma-separated subset of {list(SIZES)}")
    args = parser.parse_args(argv)
    job = job_defaults(["--ratings", "-", "--output", "-"])

    results = []
    for label in args.sizes.split(","):
        spec = SIZES[label]
        data_dir = RESULTS / f"data-{label}"
        start = time.perf_counter()
        data = generate(spec)
        write_dataset(data, data_dir)
        generate_seconds = time.perf_counter() - start
        oracle = oracle_metrics(data)
        print(f"[{label}] generated {spec.ratings} ratings in {generate_seconds:.1f}s; running Spark ...",
              flush=True)
        spark = run_spark(data_dir, label)
        print(f"[{label}] Spark done in {spark['wall_seconds']:.1f}s; running NumPy ...", flush=True)
        peer = run_numpy(data_dir, job.rank, job.reg_param, job.max_iter, job.seed,
                         (job.min_rating, job.max_rating))
        results.append({"size": label, "ratings": spec.ratings, "users": spec.users, "items": spec.items,
                        "oracle_rmse": oracle["oracle_rmse"], "generate_seconds": round(generate_seconds, 3),
                        "spark": spark, "numpy": peer})

    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "numpy": np.__version__},
        "params": {"rank": job.rank, "reg_param": job.reg_param, "max_iter": job.max_iter, "seed": job.seed},
        "results": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "als_bench.json").write_text(json.dumps(report, indent=2) + "\n")
    print(table(results))
    print(f"seconds; wall = whole process for Spark (JVM start included). Written {RESULTS / 'als_bench.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
