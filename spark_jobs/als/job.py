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

from pyspark.ml.recommendation import ALSModel
from pyspark.sql import DataFrame, SparkSession

from .arguments import parse_args
from .attempts import RunCompleteError, RunFolders, RunLostError, utc_now
from .config import JobConfig
from .evaluation import REGRESSION_METRICS, held_out_positives, rank_evaluate, regression_metrics
from .hadoop_files import write_text
from .model import PLAIN, Biases, ModelChoice, fit_model
from .ranking import RANKING, RankingChoice, fit_ranking_model, ranking_params, scaled_rank
from .ratings import ROLE_RATINGS, ROLE_TEST, TEST, TRAIN, JobInputError, LoadedRatings, load_ratings, partitions_for
from .recommendations import recommend
from .spark_helpers import CachedFrames
from .titles import read_titles, sample_lines, sample_user
from .tuning import tune, tune_ranking

APP_NAME = "als-matrix-factorisation"
EXIT_INPUT, EXIT_RUN_COMPLETE, EXIT_RUN_LOST = 2, 3, 4
EXIT_CODES = {JobInputError: EXIT_INPUT, RunCompleteError: EXIT_RUN_COMPLETE, RunLostError: EXIT_RUN_LOST}
SUMMARY_KEYS = ("run_id", "output", "input_rows", "rejected_rows", "rmse", "baseline_rmse", "mae", "wall_seconds")


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
    """The whole job, phase by phase; returns the metrics written to <output>/<run-id>/metrics.json.

    RunCompleteError when the run id is already complete, RunLostError when another attempt
    completes or claims it first. Whatever happens, this attempt's own folder is gone afterwards.
    """
    started, timer = time.perf_counter(), PhaseTimer(echo)
    with CachedFrames() as cache, _attempt(spark, config) as folders:
        with timer.phase("load_validate") as note:
            loaded = load_ratings(spark, config, cache)
            titles = cache.persist(read_titles(spark, config.items)) if config.items else None
            note["count"] = loaded.input_rows
        loaded.check_both_splits(config.ratings)
        train, test = loaded.split(TRAIN), loaded.split(TEST)
        blocks = partitions_for(spark, loaded.train_rows)
        spark.conf.set("spark.sql.shuffle.partitions", str(blocks))

        tuning, choice, ranking_tuning, ranking_tuned = _tune(timer, train, loaded.train_rows, config, blocks)

        biases = None if config.implicit else Biases(train, loaded.mu, config.baseline_reg, cache)
        with timer.phase("train") as note:
            model = fit_model(spark, train, biases, config, choice, blocks, cache)
            users, items = model.userFactors.count(), model.itemFactors.count()
            note["count"] = loaded.train_rows
        lists_model = model
        ranking_choice = ranking_tuned or default_ranking_choice(config, loaded.train_rows, int(users), int(items))
        if ranking_choice is not None:
            with timer.phase("train_ranking") as note:
                lists_model = fit_ranking_model(train, config, ranking_choice, blocks)
                note["count"] = lists_model.itemFactors.count()
                note["unit"] = "items"

        regression = dict.fromkeys(REGRESSION_METRICS)  # RMSE against implicit confidences means nothing
        if biases is not None:
            with timer.phase("evaluate") as note:
                regression = regression_metrics(model, test, biases, config)
                note["count"] = regression["test_rows_evaluated"]

        labels = cache.persist(held_out_positives(test, model, config))
        destination = f"{folders.attempt}/recommendations"
        recommended, ranking, sample = _recommend(
            spark, timer, lists_model, (train, labels, titles), config, int(items), destination
        )

        with timer.phase("save_model"):
            model.save(f"{folders.attempt}/model")
            if lists_model is not model:
                lists_model.save(f"{folders.attempt}/ranking_model")

        report = _report(spark, config, folders, loaded, blocks, choice, tuning, model, int(users), int(items))
        report["params"]["ranking"] = ranking_params(config, ranking_choice)
        report.update(ranking_tuning=ranking_tuning, sample_user=sample)
        report.update(regression, ranking=ranking, recommendations=recommended, phase_seconds=timer.seconds)
        report.update(degenerate_data(config, loaded, train, test, report))
        report["wall_seconds"] = round(time.perf_counter() - started, 3)
        write_text(spark, f"{folders.attempt}/metrics.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
        folders.promote()
    return report


def default_ranking_choice(config: JobConfig, ratings: int, users: int, items: int) -> RankingChoice | None:
    """The ranking model's parameters from the flags, the rank scaled with the training data unless
    --ranking-rank is given (ranking.scaled_rank); None when the lists come from the rating model."""
    if config.lists != RANKING:
        return None
    rank = scaled_rank(ratings, users, items) if config.ranking_rank is None else config.ranking_rank
    return RankingChoice(rank, config.ranking_reg_param, config.ranking_alpha)


def _tune(timer: PhaseTimer, train: DataFrame, train_rows: int, config: JobConfig, blocks: int) -> tuple:
    """(RMSE tuning, the rating model's choice, ranking tuning, the ranking model's choice or None): the flags'
    values, or with --tune what the searches chose (tuning.tune by RMSE, tuning.tune_ranking by NDCG)."""
    tuning, choice = None, ModelChoice(config.model, config.rank, config.reg_param)
    ranking_tuning, ranking_choice = None, None
    if not config.tune:
        return tuning, choice, ranking_tuning, ranking_choice
    with timer.phase("tune") as note:
        tuning = tune(train, train_rows, config, blocks)
        note.update(count=len(tuning["grid"]), unit="models")
    if config.lists == RANKING:
        with timer.phase("tune_ranking") as note:
            ranking_tuning = tune_ranking(train, config, blocks)
            note.update(count=len(ranking_tuning["grid"]), unit="models")
        ranking_choice = RankingChoice(**ranking_tuning["best_params"])
    return tuning, ModelChoice(**tuning["best_params"]), ranking_tuning, ranking_choice


def _recommend(
    spark: SparkSession,
    timer: PhaseTimer,
    model: ALSModel,
    frames: tuple[DataFrame, DataFrame, DataFrame | None],
    config: JobConfig,
    items: int,
    destination: str,
) -> tuple:
    """The recommend and rank_evaluate phases: model's lists written to destination, then scored against the
    labels beside popularity; with titles (frames: train, labels, titles or None), the sample user's list
    beside their highest-rated items, printed. Returns metrics.json's (recommendations, ranking, sample_user)."""
    train, labels, titles = frames
    with CachedFrames() as cache:
        with timer.phase("recommend") as note:
            lists, recommended = recommend(spark, model, train, labels, config, items, destination, cache)
            note["count"] = recommended["rows"]
        with timer.phase("rank_evaluate") as note:
            ranking = rank_evaluate(train, labels, lists, config)
            note.update(count=ranking["users_evaluated"], unit="users")
        sample = sample_user(lists, train, titles) if titles is not None else None
    for line in sample_lines(sample) if sample else []:
        timer.echo(line)
    return recommended, ranking, sample


def degenerate_data(config: JobConfig, loaded: LoadedRatings, train: DataFrame, test: DataFrame, report: dict) -> dict:
    """metrics.json's not_evaluated (metric group -> why it could not be measured) and warnings (what makes a
    measured result weak), and, with --test-ratings, how many test ratings are training ratings too."""
    not_evaluated, warnings, split = {}, [], report["split"]
    if config.test_ratings:
        split["test_rows_also_in_training"] = int(test.join(train, ["user", "item"], "left_semi").count())
    if report["test_rows_evaluated"] == 0:
        not_evaluated["rmse"] = (
            f"none of the {loaded.test_rows} test ratings has both its user and its item in the training ratings "
            "(the model has factors only for those)"
        )
    if report["ranking"]["users_evaluated"] == 0:
        positive = (
            "a held-out interaction"
            if config.relevant_rating is None
            else (f"a held-out rating >= {config.relevant_rating:g} (--relevant-rating)")
        )
        not_evaluated["ranking"] = f"no test user known to the model has {positive}"
    elif split.get("test_rows_also_in_training") == loaded.test_rows:
        not_evaluated["ranking"] = (
            "every test rating is also a training rating: recommendations skip rated items, so the metrics are 0 "
            "by construction"
        )
    parameters = (report["users"] + report["items"]) * report["params"]["rank"]
    if parameters > loaded.train_rows:
        warnings.append(
            f"--rank {report['params']['rank']} gives {parameters} factors for {loaded.train_rows} training ratings: "
            "more parameters than ratings, the fit leans on regularisation alone"
        )
    return {"not_evaluated": not_evaluated, "warnings": warnings}


@contextlib.contextmanager
def _attempt(spark: SparkSession, config: JobConfig) -> Iterator[RunFolders]:
    """This attempt's folders (RunCompleteError when the run id is already complete); when the block fails,
    the attempt's folder is removed (RunFolders.attempting)."""
    folders = RunFolders(spark, config.output, config.run_id)
    folders.check_not_complete()
    # Without checkpoints ALS lineage grows with every iteration until tasks overflow the stack
    # (about 20 iterations): with no --checkpoint-dir, the attempt checkpoints beside its folder.
    spark.sparkContext.setCheckpointDir(config.checkpoint_dir or folders.checkpoints)
    with folders.attempting():
        yield folders


def _report(
    spark: SparkSession,
    config: JobConfig,
    folders: RunFolders,
    loaded: LoadedRatings,
    blocks: int,
    choice: ModelChoice,
    tuning: dict | None,
    model: ALSModel,
    users: int,
    items: int,
) -> dict:
    """metrics.json's run ids, versions, inputs, split, parameters and model; run() adds what the phases found."""
    return {
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
        "users": users,
        "items": items,
        "split": {
            "method": "test file" if config.test_ratings else "hash of (user, item, seed)",
            "train_rows": loaded.train_rows,
            "test_rows": loaded.test_rows,
        },
        "params": _params(config, choice, loaded.mu, blocks),
        "tuning": tuning,
        "best_params": tuning["best_params"] if tuning else None,
        "model_rank": model.rank,
    }


def _params(config: JobConfig, choice: ModelChoice, global_mean: float, blocks: int) -> dict:
    """metrics.json's params: the model fitted and the settings the run used."""
    return {
        "rank": choice.rank,
        "reg_param": choice.reg_param,
        "max_iter": config.max_iter,
        "model": choice.model,
        "biases": choice.model != PLAIN,
        "implicit": config.implicit,
        "alpha": config.alpha,
        "seed": config.seed,
        "test_fraction": None if config.test_ratings else config.test_fraction,
        "min_rating": config.min_rating if math.isfinite(config.min_rating) else None,
        "max_rating": config.max_rating if math.isfinite(config.max_rating) else None,
        "baseline_reg": config.baseline_reg,
        "global_mean": global_mean,
        "top_n": config.top_n,
        "relevant_rating": config.relevant_rating,
        "blocks": blocks,
        "checkpoint_dir": config.checkpoint_dir,
        "checkpoint_interval": config.checkpoint_interval,
    }


def main(argv: list) -> int:
    config = parse_args(argv)
    # A session that already exists (tests, notebooks) belongs to the caller: use it, do not stop it.
    owns_session = SparkSession.getActiveSession() is None
    spark = SparkSession.builder.appName(APP_NAME).getOrCreate()
    try:
        report = run(spark, config)
    except (JobInputError, RunCompleteError, RunLostError) as exc:
        print(f"als_job: error: {exc}", file=sys.stderr)
        return EXIT_CODES[type(exc)]
    finally:
        if owns_session:
            spark.stop()
    summary: dict[str, Any] = {key: report[key] for key in SUMMARY_KEYS}
    ranking = report["ranking"]
    summary["ndcg_at_n"] = ranking["model"]["ndcg_at_n"]
    summary["popularity_ndcg_at_n"] = ranking["popularity"]["ndcg_at_n"]
    summary["coverage"] = ranking["model"]["coverage"]
    summary["long_tail_share"] = ranking["model"]["long_tail_share"]
    summary["lists_from"] = ranking["lists_from"]
    print(json.dumps(summary, sort_keys=True), flush=True)
    return 0
