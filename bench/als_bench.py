"""Spark ALS (local[2], through spark-submit) beside a single-machine NumPy peer on realistic synthetic ratings.

    python -m bench.als_bench [--sizes 100K,1M] [--baseline-job OLD_als_job.py] [--driver-memory 2g] [--lists rating]

Both engines get the same train/test files from spark_jobs/local/synthetic_ratings.py (biases, power-law
activity and popularity, decaying rank-16 taste, integer stars) and the same model: the job's
defaults (rank 10, regParam 0.1, maxIter 20, mu + biases, then ALS on the residual), predictions
clipped to 0.5..5. Reported: RMSE beside the bias baseline and the oracle floor; precision, recall,
NDCG and MAP at 10 of the model and of a popularity recommender (most positively rated unrated
items) on held-out ratings >= 4; seconds per phase; peak resident memory of each engine's process
tree. Each engine runs in its own process. --baseline-job also runs another version of the job on the
same files, to put its load/validate time beside: its entry script, with the als/ package beside it
(`git archive <rev> spark_jobs | tar -x -C /tmp/base`, then /tmp/base/spark_jobs/als_job.py), or a
single-file als_job.py from before the package (`git show <rev>:spark_jobs/als_job.py`).
Writes bench/results/als_bench.json (gitignored).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from spark_jobs.als.ranking import LIST_SOURCES, RATING
from spark_jobs.local.spark_submit import JOB, job_arguments, spark_submit_command, spark_submit_environment
from spark_jobs.local.synthetic_ratings import SyntheticSpec, generate, oracle_metrics, write_dataset

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = {
    "100K": SyntheticSpec(),  # MovieLens 100K shape
    "1M": SyntheticSpec(users=6040, items=3706, ratings=1_000_000),  # MovieLens 1M shape
    "5M": SyntheticSpec(users=35_000, items=13_000, ratings=5_000_000),
    "20M": SyntheticSpec(users=138_000, items=27_000, ratings=20_000_000),  # MovieLens 20M shape
}
ENGINES = ("spark", "numpy", "baseline_job")


class PeakMemory:
    """Samples the summed resident memory of a process and its descendants (Linux /proc) until stopped."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _tree(self) -> list:
        children: dict = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children.setdefault(parent, []).append(int(entry.name))
        tree, pending = [], [self.pid]
        while pending:
            pid = pending.pop()
            tree.append(pid)
            pending.extend(children.get(pid, []))
        return tree

    def _rss(self, pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, sum(self._rss(pid) for pid in self._tree()))
            self._stop.wait(self.interval)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak_bytes


def run_process(command: list, log_path: Path, env: dict | None = None) -> tuple:
    """(exit code, stdout lines, wall seconds, peak RSS bytes of the process tree)."""
    start = time.perf_counter()
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
        memory = PeakMemory(process.pid)
        assert process.stdout is not None
        lines = [line.rstrip("\n") for line in process.stdout]
        code = process.wait()
    return code, lines, time.perf_counter() - start, memory.stop()


def run_spark(data_dir: Path, label: str, job: Path, driver_memory: str, engine: str, lists: str = RATING) -> dict:
    run_id = f"bench-{engine}-{label}-{datetime.datetime.now(datetime.UTC):%Y%m%dT%H%M%SZ}"
    output = RESULTS / "runs"
    args = job_arguments(
        ratings=data_dir / "u.data", test_ratings=data_dir / "u.test", format="udata", output=output, run_id=run_id
    )
    # By default the lists of the model the peer fits, the rating model's (bench.topn_bench compares the ranking
    # model's); --lists ranking runs the job exactly as its defaults do, ranking model included (its time and memory).
    if engine == "spark":
        args += job_arguments(lists=lists)
    command = spark_submit_command(args, "local[2]", job, driver_memory=driver_memory)
    output.mkdir(parents=True, exist_ok=True)
    log = output / f"{run_id}.spark-submit.log"
    code, lines, wall, peak = run_process(command, log, spark_submit_environment())
    if code != 0:
        raise SystemExit(f"{engine} failed (exit {code}); see {log}")
    for line in lines:
        if line.startswith("phase "):
            print(f"    [{engine} {label}] {line}", flush=True)
    metrics = json.loads((output / run_id / "metrics.json").read_text())
    return {
        "rmse": metrics["rmse"],
        "mae": metrics["mae"],
        "baseline_rmse": metrics["baseline_rmse"],
        "test_rows_evaluated": metrics["test_rows_evaluated"],
        "ranking": metrics.get("ranking"),
        "phase_seconds": metrics["phase_seconds"],
        "job_seconds": metrics["wall_seconds"],
        "wall_seconds": round(wall, 3),
        "peak_rss_bytes": peak,
    }


def run_numpy(data_dir: Path) -> dict:
    command = [sys.executable, "-m", "bench.numpy_als", "--data", str(data_dir)]
    code, lines, wall, peak = run_process(command, RESULTS / "numpy.log", dict(os.environ))
    if code != 0:
        raise SystemExit(f"numpy peer failed (exit {code}); see {RESULTS / 'numpy.log'}")
    return {**json.loads(lines[-1]), "wall_seconds": round(wall, 3), "peak_rss_bytes": peak}


def _ranking_cells(run: dict, model: str) -> tuple:
    ranking = (run.get("ranking") or {}).get(model)
    if not ranking:
        return ("",) * 4
    return tuple(f"{ranking[key]:.4f}" for key in ("precision_at_n", "recall_at_n", "ndcg_at_n", "map_at_n"))


def table(results: list) -> str:
    header = (
        "size",
        "engine",
        "load",
        "train",
        "job",
        "wall",
        "peak GiB",
        "RMSE",
        "/oracle",
        "bias RMSE",
        "P@10",
        "R@10",
        "NDCG@10",
        "MAP@10",
    )
    lines = ["  ".join(f"{h:>10}" for h in header)]
    for result in results:
        rows = [(engine, result[engine], "model") for engine in ENGINES if result.get(engine)]
        rows.append(("popularity", result["numpy"], "popularity"))
        for engine, run, model in rows:
            phases = run["phase_seconds"]
            load = phases.get("load_validate", phases.get("load"))
            is_model = model == "model"
            cells = (
                result["size"],
                engine,
                f"{load:.1f}" if is_model else "",
                f"{phases['train']:.1f}" if is_model else "",
                f"{run.get('job_seconds', run['wall_seconds']):.1f}" if is_model else "",
                f"{run['wall_seconds']:.1f}" if is_model else "",
                f"{run['peak_rss_bytes'] / 2**30:.2f}" if is_model else "",
                f"{run['rmse']:.4f}" if is_model and run.get("rmse") else "",
                f"{run['rmse'] / result['oracle_rmse']:.3f}" if is_model and run.get("rmse") else "",
                f"{run['baseline_rmse']:.4f}" if is_model and run.get("baseline_rmse") else "",
                *_ranking_cells(run, model),
            )
            lines.append("  ".join(f"{c:>10}" for c in cells))
    return "\n".join(lines)


def crossover(results: list) -> str:
    """Where Spark local's job time drops below the peer's, or that it never does in the sizes run."""
    for result in results:
        if result["spark"]["job_seconds"] < result["numpy"]["wall_seconds"]:
            return f"Spark local[2] overtakes the NumPy peer at {result['size']} ratings"
    largest = results[-1]
    ratio = largest["spark"]["job_seconds"] / largest["numpy"]["wall_seconds"]
    return (
        f"Spark local[2] does not overtake the NumPy peer up to {largest['size']} ratings "
        f"(still {ratio:.1f}x slower there)"
    )


def main(argv: list) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="100K,1M", help=f"comma-separated subset of {list(SIZES)}")
    parser.add_argument(
        "--baseline-job", type=Path, help="another version's als_job.py (its als/ beside it) to run on the same files"
    )
    parser.add_argument("--driver-memory", default="2g", help="spark-submit --driver-memory (local mode: all of Spark)")
    parser.add_argument("--skip-numpy", action="store_true", help="only the Spark job(s)")
    parser.add_argument(
        "--lists",
        choices=LIST_SOURCES,
        default=RATING,
        help="the job's --lists: rating (the model the NumPy peer fits) or ranking (the job's default)",
    )
    args = parser.parse_args(argv)

    RESULTS.mkdir(parents=True, exist_ok=True)
    results = [bench_size(label, args) for label in args.sizes.split(",")]
    report = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "load_average": os.getloadavg(),
        },
        "driver_memory": args.driver_memory,
        "results": results,
    }
    (RESULTS / "als_bench.json").write_text(json.dumps(report, indent=2) + "\n")
    print_summary(results, numpy=not args.skip_numpy)
    return 0


def bench_size(label: str, args: argparse.Namespace) -> dict[str, Any]:
    """One size: its synthetic files generated, then the baseline job (if any), the job and the NumPy peer on them."""
    spec = SIZES[label]
    data_dir = RESULTS / f"data-{label}"
    start = time.perf_counter()
    data = generate(spec)
    write_dataset(data, data_dir)
    generate_seconds = time.perf_counter() - start
    oracle = oracle_metrics(data)
    del data
    print(f"[{label}] generated {spec.ratings} ratings in {generate_seconds:.1f}s", flush=True)
    result: dict[str, Any] = {
        "size": label,
        "ratings": spec.ratings,
        "users": spec.users,
        "items": spec.items,
        "oracle_rmse": oracle["oracle_rmse"],
        "generate_seconds": round(generate_seconds, 3),
    }
    if args.baseline_job:
        result["baseline_job"] = run_spark(data_dir, label, args.baseline_job, args.driver_memory, "baseline_job")
        print(f"[{label}] baseline job done in {result['baseline_job']['wall_seconds']:.1f}s", flush=True)
    result["spark"] = run_spark(data_dir, label, JOB, args.driver_memory, "spark", args.lists)
    print(f"[{label}] Spark done in {result['spark']['wall_seconds']:.1f}s", flush=True)
    if not args.skip_numpy:
        result["numpy"] = run_numpy(data_dir)
        print(f"[{label}] NumPy done in {result['numpy']['wall_seconds']:.1f}s", flush=True)
    return result


def print_summary(results: list[dict[str, Any]], *, numpy: bool) -> None:
    if numpy:
        print(table(results))
        print(crossover(results))
    for result in results:
        if "baseline_job" in result:
            before = result["baseline_job"]["phase_seconds"]["load_validate"]
            after = result["spark"]["phase_seconds"]["load_validate"]
            print(
                f"[{result['size']}] load_validate: baseline job {before:.1f} s, this job {after:.1f} s "
                f"({before / after:.1f}x)"
            )
    print(f"seconds; peak = resident memory of the engine's process tree. Written {RESULTS / 'als_bench.json'}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
