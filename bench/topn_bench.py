"""Top-N lists on real ratings: the job's lists beside popularity, implicit's ALS and BPR, and EASE^R, one split.

    python -m bench.topn_bench [--data DIR ...] [--seeds 1] [--wall-sizes 100K,1M] [--baseline-job OLD_als_job.py]

Datasets: MovieLens 100K (fetched from the RecBole wheel into bench/.data, bench/topn_data.py) and every
--data folder given, each as itself, its dense subset and a sparse subset. Per dataset and seed, one split
(10% of the ratings held out) written as u.data/u.test; every method trains on u.data and is scored on u.test
with the job's protocol: a held-out rating >= 4 is relevant, lists exclude the user's training items, users
with a relevant held-out rating and a training rating are evaluated; precision, recall, NDCG and MAP at 10 as
Spark's RankingEvaluator defines them (bench/numpy_als.ranking_metrics), catalogue coverage and the share of
recommended items with fewer than 5 training ratings.

* job: spark_jobs/als_job.py through the real spark-submit on local[2], its defaults (the lists come from the
  ranking model); job (rating lists): the same with --lists rating. Their figures are the job's metrics.json.
* popularity: most training ratings >= 4, ties to the lower id (the job computes the same list).
* implicit ALS and BPR (PyPI implicit, bench-only): every training rating as an interaction, the library's
  defaults; implicit ALS (job prefs): its ALS on the job's preferences, (rating - 2) where positive, at the
  job's rank and alpha.
* EASE^R (Steck 2019): closed form on the binary item-item Gram matrix, its L2 weight chosen from EASE_LAMBDAS
  by NDCG@10 on a validation split of the training ratings.

--wall-sizes times the job (defaults) at those synthetic sizes (spark_jobs/local/synthetic_ratings.py), beside
--baseline-job when given. Writes bench/results/topn_bench.json (git-ignored) and prints markdown tables.
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
from typing import Any

import numpy as np
from scipy import sparse

from bench.als_bench import RESULTS, SIZES, run_process
from bench.numpy_als import ranking_metrics, top_unrated
from bench.topn_data import Ratings, fetch_movielens_100k, read_dataset, split_and_write, variants
from spark_jobs.local.spark_submit import JOB, job_arguments, spark_submit_command, spark_submit_environment
from spark_jobs.local.synthetic_ratings import generate, write_dataset

TOP_N, RELEVANT, LONG_TAIL_RATINGS = 10, 4.0, 5
EASE_LAMBDAS = (50.0, 100.0, 200.0, 500.0, 1000.0)
JOB_RANK, JOB_ALPHA, PREFERENCE_OFFSET = 20, 0.3, 2.0  # the job's ranking defaults (spark_jobs/als/ranking.py)
METRIC_KEYS = ("ndcg_at_n", "precision_at_n", "recall_at_n", "map_at_n", "coverage", "long_tail_share")


class Split:
    """One train/test split as matrices and the evaluation's users, labels and exclusions."""

    def __init__(self, ratings: Ratings, train: np.ndarray) -> None:
        self.items = int(ratings.item.max()) + 1
        users = int(ratings.user.max()) + 1
        u, i, r = ratings.user[train], ratings.item[train], ratings.rating[train]
        self.train = (u, i, r)
        self.binary = sparse.csr_matrix((np.ones(u.size, np.float32), (u, i)), shape=(users, self.items))
        self.counts = np.bincount(i, minlength=self.items)
        self.catalogue = self.counts > 0
        known = np.bincount(u, minlength=users) > 0
        test_u, test_i, test_r = ratings.user[~train], ratings.item[~train], ratings.rating[~train]
        positive = (test_r >= RELEVANT) & known[test_u]
        labels: dict = {}
        for user, item in zip(test_u[positive], test_i[positive], strict=True):
            labels.setdefault(int(user), []).append(int(item))
        self.users = np.array(sorted(labels), dtype=np.int64)
        self.labels = [np.array(labels[user]) for user in self.users]
        self.rated = {int(user): self.binary[user].indices for user in self.users}

    def score(self, name: str, scores_for: Any) -> dict:
        """The metrics of the lists that scores_for(users) -> (users, items) scores give, and the list shape."""

        def catalogue_only(users: np.ndarray) -> np.ndarray:
            scores = np.asarray(scores_for(users), dtype=np.float64)
            scores[:, ~self.catalogue] = -np.inf
            return scores

        ranked = top_unrated(self.users, catalogue_only, self.rated, TOP_N)
        # A user left with fewer than TOP_N unrated catalogue items gets just those (as the job does).
        lists = [
            items[self.catalogue[items] & ~np.isin(items, self.rated[int(user)])]
            for user, items in zip(self.users, ranked, strict=True)
        ]
        recommended = np.concatenate(lists)
        metrics = ranking_metrics(lists, self.labels, TOP_N)
        metrics["coverage"] = np.unique(recommended).size / int(self.catalogue.sum())
        metrics["long_tail_share"] = float(np.mean(self.counts[recommended] < LONG_TAIL_RATINGS))
        return {"method": name, **metrics}


def popularity(split: Split) -> dict:
    _, i, r = split.train
    counts = np.bincount(i[r >= RELEVANT], minlength=split.items).astype(np.float64)
    scores = counts + 0.5 * (1.0 - np.arange(split.items) / split.items)  # ties to the lower id, as the job
    return split.score("popularity", lambda users: np.tile(scores, (users.size, 1)))


def ease_weights(binary: sparse.csr_matrix, weight: float) -> np.ndarray:
    """EASE^R's item-item matrix B: P = (X'X + weight I)^-1, B = I - P diag(1 / diag(P)), diagonal 0."""
    gram = (binary.T @ binary).toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += weight
    inverse = np.linalg.inv(gram)
    weights = -inverse / np.diag(inverse)
    weights[np.diag_indices_from(weights)] = 0.0
    return weights


def ease(ratings: Ratings, split: Split, train: np.ndarray, seed: int) -> dict:
    """EASE^R with its weight chosen on a validation split taken from the training ratings only."""
    inner = train.copy()
    inner[train] = np.random.default_rng(seed + 2).random(int(train.sum())) >= 0.1
    validation = Split(ratings, inner)
    best = max(
        EASE_LAMBDAS,
        key=lambda weight: validation.score("", _ease_scores(validation, ease_weights(validation.binary, weight)))[
            "ndcg_at_n"
        ],
    )
    result = split.score(f"EASE^R (lambda {best:g})", _ease_scores(split, ease_weights(split.binary, best)))
    return result


def _ease_scores(split: Split, weights: np.ndarray) -> Any:
    return lambda users: split.binary[users] @ weights


def implicit_models(split: Split, seed: int) -> list:
    """implicit's ALS and BPR on every training rating as an interaction (the library's defaults), and its ALS
    on the job's preferences at the job's rank and alpha."""
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    u, i, r = split.train
    positive = r - PREFERENCE_OFFSET > 0
    preferences = sparse.csr_matrix(
        ((r - PREFERENCE_OFFSET)[positive].astype(np.float32), (u[positive], i[positive])), shape=split.binary.shape
    )
    fits = [
        ("implicit ALS (defaults)", AlternatingLeastSquares(random_state=seed), split.binary),
        ("implicit BPR (defaults)", BayesianPersonalizedRanking(random_state=seed), split.binary),
        (
            "implicit ALS (job prefs)",
            AlternatingLeastSquares(factors=JOB_RANK, alpha=JOB_ALPHA, random_state=seed),
            preferences,
        ),
    ]
    results = []
    for name, model, matrix in fits:
        model.fit(matrix, show_progress=False)
        factors = (np.asarray(model.user_factors), np.asarray(model.item_factors))
        results.append(split.score(name, lambda users, f=factors: f[0][users] @ f[1].T))
    return results


def run_job(folder: Path, label: str, job: Path = JOB, options: dict | None = None) -> dict:
    """The job through spark-submit on folder's u.data/u.test: its metrics.json, wall time and peak memory."""
    run_id = f"topn-{label}-{datetime.datetime.now(datetime.UTC):%Y%m%dT%H%M%S%fZ}"
    output = RESULTS / "runs"
    output.mkdir(parents=True, exist_ok=True)
    args = job_arguments(
        ratings=folder / "u.data", test_ratings=folder / "u.test", format="udata", output=output, run_id=run_id
    )
    args += job_arguments(**(options or {}))
    log = output / f"{run_id}.spark-submit.log"
    code, _, wall, peak = run_process(spark_submit_command(args, "local[2]", job), log, spark_submit_environment())
    if code != 0:
        raise SystemExit(f"topn_bench: the job failed on {label} (exit {code}); see {log}")
    metrics = json.loads((output / run_id / "metrics.json").read_text())
    metrics["process_wall_seconds"], metrics["peak_rss_bytes"] = round(wall, 3), peak
    return metrics


def job_rows(folder: Path, label: str, job: Path, rating_lists: bool) -> list:
    """The job's lists (defaults: the ranking model) and, when asked, its rating model's lists (--lists rating),
    from their metrics.json."""
    rows = []
    runs: list[tuple[str, dict]] = [("job", {})] + (
        [("job (rating lists)", {"lists": "rating"})] if rating_lists else []
    )
    for name, options in runs:
        metrics = run_job(folder, label, job, options)
        model = metrics["ranking"]["model"]
        rows.append(
            {"method": name, **{key: model[key] for key in METRIC_KEYS}, "job_seconds": metrics["wall_seconds"]}
        )
        if name == "job":
            rows.append({"method": "job's popularity", **metrics["ranking"]["popularity"]})
    return rows


def bench_dataset(ratings: Ratings, seed: int, job: Path | None, rating_lists: bool) -> dict:
    """Every method on one split of ratings (the job's rating-model lists too when rating_lists)."""
    label = ratings.name.replace(" ", "-")
    folder = RESULTS / "topn" / f"{label}-seed{seed}"
    train = split_and_write(ratings, folder, seed)
    split = Split(ratings, train)
    rows = [] if job is None else job_rows(folder, label, job, rating_lists)
    started = time.perf_counter()
    rows += [popularity(split), *implicit_models(split, seed), ease(ratings, split, train, seed)]
    return {
        "dataset": ratings.name,
        "source": ratings.source,
        "seed": seed,
        "ratings": int(ratings.user.size),
        "users": int(np.unique(ratings.user).size),
        "items": int(np.unique(ratings.item).size),
        "users_evaluated": int(split.users.size),
        "peers_seconds": round(time.perf_counter() - started, 1),
        "rows": rows,
    }


def wall_times(sizes: list, job: Path, baseline_job: Path | None) -> list:
    """The job's wall time (defaults) at synthetic sizes, beside another version of the job when given."""
    results = []
    for size in sizes:
        folder = RESULTS / "topn" / f"synthetic-{size}"
        if not (folder / "u.data").exists():
            write_dataset(generate(SIZES[size]), folder)
        jobs = [("job", job)] + ([("baseline job", baseline_job)] if baseline_job else [])
        for name, entry in jobs:
            metrics = run_job(folder, f"wall-{size}", entry)
            results.append(
                {
                    "size": size,
                    "job": name,
                    "job_seconds": metrics["wall_seconds"],
                    "process_seconds": metrics["process_wall_seconds"],
                    "peak_gib": round(metrics["peak_rss_bytes"] / 2**30, 2),
                    "rmse": metrics["rmse"],
                    "ndcg_at_n": metrics["ranking"]["model"]["ndcg_at_n"],
                    "phase_seconds": metrics["phase_seconds"],
                }
            )
            print(f"  wall {size} {name}: job {metrics['wall_seconds']:.1f} s", flush=True)
    return results


def tables(datasets: list, walls: list) -> str:
    lines = []
    for result in datasets:
        lines += [
            "",
            f"**{result['dataset']}** (seed {result['seed']}): {result['ratings']} ratings, {result['users']} users x "
            f"{result['items']} items, {result['users_evaluated']} users evaluated",
            "",
            "| top-10 lists from | NDCG@10 | P@10 | R@10 | MAP@10 | coverage | long-tail share | x popularity |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        popular = next(row["ndcg_at_n"] for row in result["rows"] if row["method"] == "popularity")
        for row in result["rows"]:
            cells = " | ".join(f"{row[key]:.4f}" for key in METRIC_KEYS)
            lines.append(f"| {row['method']} | {cells} | {row['ndcg_at_n'] / popular:.2f} |")
    if walls:
        lines += ["", "| synthetic size | job | job (s) | spark-submit (s) | peak GiB | RMSE | NDCG@10 |"]
        lines.append("|---|---|---:|---:|---:|---:|---:|")
        for wall in walls:
            lines.append(
                f"| {wall['size']} | {wall['job']} | {wall['job_seconds']:.1f} | {wall['process_seconds']:.1f} | "
                f"{wall['peak_gib']:.2f} | {wall['rmse']:.4f} | {wall['ndcg_at_n']:.4f} |"
            )
    return "\n".join(lines)


def main(argv: list) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, action="append", default=[], help="another MovieLens folder")
    parser.add_argument("--seeds", default="1", help="split seeds, comma-separated (empty: the wall times only)")
    parser.add_argument("--wall-sizes", default="", help="synthetic sizes to time the job at, e.g. 100K,1M")
    parser.add_argument("--baseline-job", type=Path, help="another version's als_job.py, timed beside")
    parser.add_argument("--job", type=Path, default=JOB, help="the job's entry script (default: this checkout's)")
    parser.add_argument("--skip-job", action="store_true", help="the peers only (no spark-submit)")
    args = parser.parse_args(argv)
    found = [read_dataset(fetch_movielens_100k()), *(read_dataset(folder) for folder in args.data)]
    print("topn_bench: datasets: " + "; ".join(f"{r.name} ({r.source}, {r.user.size} ratings)" for r in found))
    results = []
    job = None if args.skip_job else args.job
    for seed in (int(value) for value in args.seeds.split(",") if value):
        for dataset in found:
            for index, ratings in enumerate(variants(dataset, seed)):  # the whole dataset first
                results.append(bench_dataset(ratings, seed, job, rating_lists=index == 0))
                print(tables(results[-1:], []), flush=True)
    walls = wall_times([size for size in args.wall_sizes.split(",") if size], args.job, args.baseline_job)
    RESULTS.mkdir(parents=True, exist_ok=True)
    environment = {"python": platform.python_version(), "cpus": os.cpu_count(), "load": os.getloadavg()}
    report = {"datasets": results, "wall": walls, "environment": environment}
    (RESULTS / "topn_bench.json").write_text(json.dumps(report, indent=2) + "\n")
    print(tables(results, walls))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
