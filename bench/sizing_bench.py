"""How long the ALS job takes per megabyte of ratings: the measurement behind submit_job's cluster sizing.

    python -m bench.sizing_bench [--sizes 100K,1M,4M] [--master local[2]]

For each size, writes one synthetic MovieLens-format file (u.data: what an upload to ratings/ looks like) and
runs spark_jobs/als_job.py on it through the real spark-submit, exactly as the EMR step does (one --ratings
file, the job's own train/test split, the job's defaults). It prints, per size, the file's megabytes, the
job's own time (metrics.json) and the whole spark-submit wall time (JVM start included), then a least-squares
line  job seconds = fixed + per_mb x MB  beside the peer figure the sizing is judged against: the minutes an
EMR cluster spends provisioning before any step runs (tools/audit/cost.py PROVISIONING_MINUTES), and the
megabytes one node processes in that time. Writes bench/results/sizing_bench.json (gitignored).
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

from spark_jobs.local.spark_submit import job_arguments, submit
from spark_jobs.local.synthetic_ratings import SyntheticSpec, generate, write_dataset
from tools.audit.cost import PROVISIONING_MINUTES

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = {
    "100K": SyntheticSpec(),
    "1M": SyntheticSpec(users=6040, items=3706, ratings=1_000_000),
    "4M": SyntheticSpec(users=24_000, items=8_000, ratings=4_000_000),
    "10M": SyntheticSpec(users=60_000, items=12_000, ratings=10_000_000),
}


def run(label: str, spec: SyntheticSpec, master: str) -> dict:
    data_dir = RESULTS / f"sizing-{label}"
    write_dataset(generate(spec), data_dir)
    ratings = data_dir / "u.data"
    run_id = f"sizing-{label}-{datetime.datetime.now(datetime.UTC):%Y%m%dT%H%M%SZ}"
    output = RESULTS / "runs"
    start = time.perf_counter()
    code = submit(
        job_arguments(ratings=ratings, format="udata", output=output, run_id=run_id),
        output / f"{run_id}.spark-submit.log",
        master,
    )
    wall = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"spark job failed (exit {code}); see {output / f'{run_id}.spark-submit.log'}")
    metrics = json.loads((output / run_id / "metrics.json").read_text())
    megabytes = ratings.stat().st_size / 1e6
    return {
        "size": label,
        "ratings": spec.ratings,
        "train_rows": metrics["split"]["train_rows"],
        "megabytes": round(megabytes, 2),
        "bytes_per_rating": round(ratings.stat().st_size / metrics["split"]["train_rows"], 2),
        "job_seconds": metrics["wall_seconds"],
        "wall_seconds": round(wall, 1),
        "phase_seconds": metrics["phase_seconds"],
        "rmse": metrics["rmse"],
    }


def fit(results: list[dict]) -> tuple[float, float]:
    """Least squares: job seconds = fixed + per_mb x MB."""
    xs = [r["megabytes"] for r in results]
    ys = [r["job_seconds"] for r in results]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum((x - mean_x) ** 2 for x in xs)
    return mean_y - slope * mean_x, slope


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="100K,1M,4M", help=f"comma-separated subset of {list(SIZES)}")
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args(argv)
    results = []
    for label in args.sizes.split(","):
        print(f"[{label}] generating and running the job ...", flush=True)
        results.append(run(label, SIZES[label], args.master))
    print(f"{'size':>6} {'MB':>8} {'B/rating':>9} {'job s':>8} {'wall s':>8} {'s/MB':>7} {'RMSE':>7}")
    for r in results:
        per_mb = r["job_seconds"] / r["megabytes"]
        print(
            f"{r['size']:>6} {r['megabytes']:>8.1f} {r['bytes_per_rating']:>9.1f} {r['job_seconds']:>8.1f} "
            f"{r['wall_seconds']:>8.1f} {per_mb:>7.2f} {r['rmse']:>7.4f}"
        )
    report: dict = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load": os.getloadavg()},
        "master": args.master,
        "results": results,
    }
    if len(results) >= 2:
        fixed, per_mb = fit(results)
        budget = PROVISIONING_MINUTES * 60
        report["fit"] = {"fixed_seconds": round(fixed, 1), "seconds_per_mb": round(per_mb, 3)}
        print(f"fit: job seconds = {fixed:.1f} + {per_mb:.3f} x MB  ({args.master})")
        print(
            f"peer: an EMR cluster provisions for ~{PROVISIONING_MINUTES} min before a step runs; in that time one "
            f"node at this rate processes {(budget - fixed) / per_mb:.0f} MB"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sizing_bench.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {RESULTS / 'sizing_bench.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
