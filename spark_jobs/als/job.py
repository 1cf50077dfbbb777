"""The job: one run, phase by phase, and main(argv) with its exit codes.

run() loads and validates the ratings, tunes (--tune), trains, evaluates, recommends, scores the
rankings and saves the model, each phase printing one line as it ends (``phase train 12.3 s 90000
rows``; EMR step logs show stdout), writes metrics.json and promotes the attempt to <output>/<run-id>.
main() turns the job's own failures into one line on stderr and an exit code: 0 success; 1 an
unexpected error (with its traceback); 2 unusable input (EXIT_INPUT); 3 the run id is already complete
(EXIT_RUN_COMPLETE); 4 another attempt of the run id completed it or is promoting it (EXIT_RUN_LOST).
The last line on stdout is a JSON summary.
"""

from __future__ import annotations

import contextlib
import json
import math
import platform
import sys
import time
from collections.abc import Iterator
from typing import Any, Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from .arguments import parse_args
from .attempts import RunCompleteError, RunFolders, RunLostError, utc_now
from .config import JobConfig
from .evaluation import popularity_lists, ranking_metrics, regression_metrics
from .hadoop_files import write_text
from .model import PLAIN, Biases, fit_model
from .ratings import ROLE_RATINGS, ROLE_TEST, TEST, TRAIN, JobInputError, load_ratings, partitions_for
from .recommendations import recommend_unrated, recommend_users
from .spark_helpers import CachedFrames, one_row
from .tuning import tune

APP_NAME = "als-matrix-factorisation"
EXIT_INPUT, EXIT_RUN_COMPLETE, EXIT_RUN_LOST = 2, 3, 4


class PhaseTimer:
    """Wall time per phase; each phase ends with a Spark action so the time lands where it is spent.

    A phase prints one line to stdout as it ends (EMR step logs show stdout), e.g.
    ``phase load_validate 3.2 s 100000 rows``; the body may set a count through the yielded dict.
    """

    def __init__(self, echo: Callable[[str], None]) -> None:
        self.seconds: dict = {}
        self.echo = echo

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[dict]:
        start = time.perf_counter()
        note: dict = {}
        yield note
        seconds = time.perf_counter() - start
        self.seconds[name] = round(seconds, 3)
        count = f" {note['count']} {note.get('unit', 'rows')}" if "count" in note else ""
        self.echo(f"phase {name} {seconds:.1f} s{count}")


def _print_line(text: str) -> None:
    print(text, flush=True)  # flushed: spark-submit pipes the driver's stdout, which would buffer it


def run(spark: SparkSession, config: JobConfig, echo: Callable[[str], None] = _print_line) -> dict:
    """The whole job; returns the metrics written to <output>/<run-id>/metrics.json.

    RunCompleteError when the run id is already complete, RunLostError when another attempt
    completes or claims it first. Whatever happens, this attempt's own folder is gone afterwards.
    """
    started = time.perf_counter()
    folders = RunFolders(spark, config.output, config.run_id)
    folders.check_not_complete()
    # Without checkpoints ALS lineage grows with every iteration until tasks overflow the stack
    # (about 20 iterations): with no --checkpoint-dir, the attempt checkpoints beside its folder.
    spark.sparkContext.setCheckpointDir(config.checkpoint_dir or folders.checkpoints)

    timer = PhaseTimer(echo)
    with CachedFrames() as cache:
        try:
            report = _run_attempt(spark, config, folders, timer, cache, started)
            folders.promote()
            return report
        except Exception:
            folders.discard()
            if folders.is_complete():
                raise RunLostError(
                    f"run {config.run_id} was completed by another attempt ({folders.final}); "
                    "this attempt's output is dropped"
                ) from None
            raise


def _run_attempt(
    spark: SparkSession,
    config: JobConfig,
    folders: RunFolders,
    timer: PhaseTimer,
    cache: CachedFrames,
    started: float,
) -> dict:
    with timer.phase("load_validate") as note:
        loaded = load_ratings(spark, config, cache)
        note["count"] = sum(report["input_rows"] for report in loaded.reports.values())
    if loaded.train_rows == 0 or loaded.test_rows == 0:
        raise JobInputError(
            f"{config.ratings}: {loaded.train_rows} training and {loaded.test_rows} test ratings after the split; "
            "need at least one of each (more ratings, or another --test-fraction)"
        )
    train, test = loaded.split(TRAIN), loaded.split(TEST)
    blocks = partitions_for(spark, loaded.train_rows)
    spark.conf.set("spark.sql.shuffle.partitions", str(blocks))

    tuning = None
    kind, rank, reg_param = config.model, config.rank, config.reg_param
    if config.tune:
        with timer.phase("tune") as note:
            tuning = tune(spark, train, loaded.train_rows, config, blocks)
            best = tuning["best_params"]
            kind, rank, reg_param = best["model"], best["rank"], best["reg_param"]
            note.update(count=len(tuning["grid"]), unit="models")

    biases = None if config.implicit else Biases(train, loaded.mu, config.baseline_reg, cache)
    with timer.phase("train") as note:
        model = fit_model(spark, train, biases, config, kind, rank, reg_param, blocks, cache)
        users, items = model.userFactors.count(), model.itemFactors.count()
        note["count"] = loaded.train_rows

    metrics: dict = {"rmse": None, "mae": None, "baseline_rmse": None, "baseline_mae": None}
    metrics["test_rows_evaluated"] = None
    if biases is not None:  # RMSE against implicit confidences means nothing
        with timer.phase("evaluate") as note:
            metrics = regression_metrics(model, test, biases, config)
            note["count"] = metrics["test_rows_evaluated"]

    rated = train.select("user", "item")
    relevant = F.lit(True) if config.relevant_rating is None else F.col("rating") >= config.relevant_rating
    known_users = model.userFactors.select(F.col("id").alias("user"))
    labels = cache.persist(
        test.where(relevant)
        .join(known_users, "user", "left_semi")
        .groupBy("user")
        .agg(F.collect_list(F.col("item").cast("double")).alias("label"))
    )
    recommendation_report: dict = {"users_requested": None, "users_unknown": None}
    with timer.phase("recommend") as note:
        wanted: DataFrame | None = None
        targets: DataFrame | None = None  # None: every user of the model
        if config.recommend_users:
            requested = cache.persist(recommend_users(spark, config.recommend_users))
            wanted = cache.persist(requested.join(known_users, "user", "left_semi"))
            # The ranking metrics need the evaluated users' lists too: one pass fetches both.
            targets = wanted.unionByName(labels.select("user")).distinct()
            requested_count, wanted_count = requested.count(), wanted.count()
            recommendation_report = {
                "users_requested": int(requested_count),
                "users_unknown": int(requested_count - wanted_count),
            }
        lists, rounds = recommend_unrated(model, targets, rated, config.top_n, int(items), cache)
        written_lists = lists if wanted is None else lists.join(wanted, "user", "left_semi")
        rows = written_lists.select("user", F.posexplode("recs").alias("index", "rec")).select(
            "user",
            (F.col("index") + 1).alias("rank"),
            F.col("rec.item").alias("item"),
            F.col("rec.score").alias("score"),
        )
        rows.write.parquet(f"{folders.attempt}/recommendations")
        written = one_row(
            spark.read.parquet(f"{folders.attempt}/recommendations").agg(
                F.count(F.lit(1)).alias("rows"), F.countDistinct("user").alias("users")
            )
        )
        recommendation_report.update(users=int(written["users"]), rows=int(written["rows"]), candidate_rounds=rounds)
        note["count"] = int(written["rows"])

    with timer.phase("rank_evaluate") as note:
        popular = popularity_lists(train, labels.select("user"), relevant, config.top_n)
        ranking = {
            "n": config.top_n,
            "relevant": "every held-out rating"
            if config.relevant_rating is None
            else f"held-out rating >= {config.relevant_rating:g}",
            "users_evaluated": int(labels.count()),
            "model": ranking_metrics(labels, lists, config.top_n),
            "popularity": ranking_metrics(labels, popular, config.top_n),
        }
        note.update(count=ranking["users_evaluated"], unit="users")

    with timer.phase("save_model"):
        model.save(f"{folders.attempt}/model")

    report = {
        "run_id": config.run_id,
        "attempt_id": folders.attempt_id,
        "output": folders.final,
        "spark_version": spark.version,
        "python_version": platform.python_version(),
        "finished_at": utc_now().isoformat(timespec="seconds"),
        "input": loaded.reports[ROLE_RATINGS],
        "test_input": loaded.reports.get(ROLE_TEST),
        "input_rows": loaded.reports[ROLE_RATINGS]["input_rows"],
        "rejected_rows": loaded.reports[ROLE_RATINGS]["rejected_rows"],
        "users": int(users),
        "items": int(items),
        "split": {
            "method": "test file" if config.test_ratings else "hash of (user, item, seed)",
            "train_rows": loaded.train_rows,
            "test_rows": loaded.test_rows,
        },
        "params": {
            "rank": rank,
            "reg_param": reg_param,
            "max_iter": config.max_iter,
            "model": kind,
            "biases": kind != PLAIN,
            "implicit": config.implicit,
            "alpha": config.alpha,
            "seed": config.seed,
            "test_fraction": None if config.test_ratings else config.test_fraction,
            "min_rating": config.min_rating if math.isfinite(config.min_rating) else None,
            "max_rating": config.max_rating if math.isfinite(config.max_rating) else None,
            "baseline_reg": config.baseline_reg,
            "global_mean": loaded.mu,
            "top_n": config.top_n,
            "relevant_rating": config.relevant_rating,
            "blocks": blocks,
            "checkpoint_dir": config.checkpoint_dir,
            "checkpoint_interval": config.checkpoint_interval,
        },
        "tuning": tuning,
        "best_params": tuning["best_params"] if tuning else None,
        "model_rank": model.rank,
        **metrics,
        "ranking": ranking,
        "recommendations": recommendation_report,
        "phase_seconds": timer.seconds,
        "wall_seconds": round(time.perf_counter() - started, 3),
    }
    write_text(spark, f"{folders.attempt}/metrics.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
    return report


def main(argv: list) -> int:
    config = parse_args(argv)
    # A session that already exists (tests, notebooks) belongs to the caller: use it, do not stop it.
    owns_session = SparkSession.getActiveSession() is None
    spark = SparkSession.builder.appName(APP_NAME).getOrCreate()
    try:
        report = run(spark, config)
    except JobInputError as exc:
        print(f"als_job: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except RunCompleteError as exc:
        print(f"als_job: error: {exc}", file=sys.stderr)
        return EXIT_RUN_COMPLETE
    except RunLostError as exc:
        print(f"als_job: error: {exc}", file=sys.stderr)
        return EXIT_RUN_LOST
    finally:
        if owns_session:
            spark.stop()
    keys = ("run_id", "output", "input_rows", "rejected_rows", "rmse", "baseline_rmse", "mae", "wall_seconds")
    summary: dict[str, Any] = {key: report[key] for key in keys}
    summary["ndcg_at_n"] = report["ranking"]["model"]["ndcg_at_n"]
    summary["popularity_ndcg_at_n"] = report["ranking"]["popularity"]["ndcg_at_n"]
    print(json.dumps(summary, sort_keys=True), flush=True)
    return 0
