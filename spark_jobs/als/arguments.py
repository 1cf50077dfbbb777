"""The job's command line: every flag, its default and the checks between flags (argparse exits 2 on a bad one).

parse_args turns argv into the run's JobConfig, once. The ALS defaults start from Spark's documented ones
and never go below them (model.py); a run id must match RUN_ID_PATTERN, the one lab_contract (names.py) generates.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any, NoReturn

from .attempts import RUN_ID_PATTERN, default_run_id
from .config import JobConfig
from .model import BIASED, BLEND, DEFAULT_MAX_ITER, MODELS, PLAIN, SPARK_DEFAULT_RANK, SPARK_DEFAULT_REG_PARAM
from .ranking import (
    DEFAULT_RANKING_ALPHA,
    DEFAULT_RANKING_MAX_ITER,
    DEFAULT_RANKING_REG_PARAM,
    LIST_SOURCES,
    RANKING,
    RANKING_RANKS,
    RATING,
)
from .ratings import FORMATS
from .tuning import TUNE_REG_PARAMS

PROG = "als_job.py"  # what spark-submit runs (spark_jobs/als_job.py)
DESCRIPTION = "ALS matrix factorisation batch job: validate ratings, fit biases and ALS, evaluate, recommend."


def _float_list(text: str) -> list:
    return [float(value) for value in text.split(",") if value.strip()]


def _int_list(text: str) -> list:
    return [int(value) for value in text.split(",") if value.strip()]


# Every flag with its argparse options, in the order --help lists them.
FLAGS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("--ratings", {"required": True, "help": "ratings file or directory (local path or s3://)"}),
    (
        "--format",
        {
            "default": "auto",
            "choices": ["auto", *FORMATS],
            "help": "udata (tab), csv (header userId,movieId,rating,timestamp), dat (::), or auto",
        },
    ),
    ("--test-ratings", {"help": "explicit held-out test set (same formats); default: a seeded split of --ratings"}),
    ("--output", {"required": True, "help": "output root; this run writes <output>/<run-id>/"}),
    ("--run-id", {"help": "default: UTC time + random suffix"}),
    ("--rank", {"type": int, "default": SPARK_DEFAULT_RANK}),
    ("--reg-param", {"type": float, "default": SPARK_DEFAULT_REG_PARAM}),
    ("--max-iter", {"type": int, "default": DEFAULT_MAX_ITER}),
    (
        "--model",
        {
            "choices": MODELS,
            "help": "blend (explicit default): the mean of biased and plain; biased: mu + user and item biases, "
            "then ALS on the residual; plain (implicit default): Spark's ALS on the raw ratings",
        },
    ),
    (
        "--biases",
        {
            "action": argparse.BooleanOptionalAction,
            "default": None,
            "help": "--biases is --model biased, --no-biases is --model plain",
        },
    ),
    ("--implicit", {"action": "store_true", "help": "implicit feedback (ratings are confidences)"}),
    (
        "--lists",
        {
            "choices": LIST_SOURCES,
            "help": "where the recommendations come from: ranking (explicit default), implicit ALS on "
            "rating - 2 as preferences, or rating, the rating model's predicted ratings (--implicit: that model)",
        },
    ),
    (
        "--ranking-rank",
        {"type": int, "help": f"the ranking model's rank; default {RANKING_RANKS}, the largest the data supports"},
    ),
    ("--ranking-reg-param", {"type": float, "default": DEFAULT_RANKING_REG_PARAM}),
    (
        "--ranking-alpha",
        {"type": float, "default": DEFAULT_RANKING_ALPHA, "help": "the ranking model's confidence scale"},
    ),
    ("--ranking-max-iter", {"type": int, "default": DEFAULT_RANKING_MAX_ITER}),
    ("--alpha", {"type": float, "default": 1.0, "help": "confidence scale for --implicit"}),
    ("--seed", {"type": int, "default": 42}),
    ("--test-fraction", {"type": float, "default": 0.1}),
    ("--min-rating", {"type": float, "help": "default 0.5 (explicit) or 0 (implicit)"}),
    ("--max-rating", {"type": float, "help": "default 5 (explicit) or unbounded (implicit)"}),
    (
        "--max-reject-fraction",
        {"type": float, "default": 0.5, "help": "fail when more than this fraction of the input rows is rejected"},
    ),
    (
        "--baseline-reg",
        {"type": float, "default": 10.0, "help": "shrinkage of the user and item biases (pseudo-counts)"},
    ),
    (
        "--tune",
        {
            "action": "store_true",
            "help": "grid search rank x reg-param on a validation split first (and the model, unless --model is given)",
        },
    ),
    ("--tune-ranks", {"type": _int_list, "help": "default: 5, 10, 20, ... as far as the data supports"}),
    ("--tune-reg-params", {"type": _float_list, "help": f"default: {', '.join(map(str, TUNE_REG_PARAMS))}"}),
    ("--tune-validation-fraction", {"type": float, "default": 0.2}),
    ("--tune-parallelism", {"type": int, "default": 2, "help": "models fitted at once while tuning"}),
    ("--top-n", {"type": int, "default": 10, "help": "recommendations per user, and N of the ranking metrics"}),
    (
        "--relevant-rating",
        {
            "type": float,
            "help": "a held-out rating at least this is a positive for the ranking metrics "
            "(default 4 explicit; implicit: every held-out interaction)",
        },
    ),
    (
        "--recommend-users",
        {"help": "only recommend for these users: comma-separated ids, or a file/URI with one id per line"},
    ),
    (
        "--items",
        {
            "help": "item titles (MovieLens u.item, movies.csv or movies.dat): the summary shows one sample user's "
            "top 10 beside their highest-rated training items"
        },
    ),
    ("--checkpoint-dir", {"help": "checkpoint ALS lineage here (needed for long runs)"}),
    ("--checkpoint-interval", {"type": int, "default": 10}),
)


def parse_args(argv: list) -> JobConfig:
    """The run's configuration from its command line; on a bad flag or combination, argparse's one-line
    usage error and exit 2."""
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION)
    for flag, options in FLAGS:
        parser.add_argument(flag, **options)
    args = parser.parse_args(argv)
    _check_ranges(args, parser.error)
    model, tune_models = _models(args, parser.error)
    _check_tuning(args, parser.error)
    min_rating = args.min_rating if args.min_rating is not None else (0.0 if args.implicit else 0.5)
    max_rating = args.max_rating if args.max_rating is not None else (math.inf if args.implicit else 5.0)
    if min_rating > max_rating:
        parser.error("--min-rating is above --max-rating")
    return JobConfig(
        ratings=args.ratings,
        format=args.format,
        test_ratings=args.test_ratings,
        output=args.output,
        run_id=default_run_id() if args.run_id is None else args.run_id,
        min_rating=min_rating,
        max_rating=max_rating,
        max_reject_fraction=args.max_reject_fraction,
        seed=args.seed,
        test_fraction=args.test_fraction,
        model=model,
        rank=args.rank,
        reg_param=args.reg_param,
        max_iter=args.max_iter,
        implicit=args.implicit,
        alpha=args.alpha,
        baseline_reg=args.baseline_reg,
        checkpoint_dir=args.checkpoint_dir,
        checkpoint_interval=args.checkpoint_interval,
        lists=_lists(args, parser.error),
        ranking_rank=args.ranking_rank,
        ranking_reg_param=args.ranking_reg_param,
        ranking_alpha=args.ranking_alpha,
        ranking_max_iter=args.ranking_max_iter,
        tune=args.tune,
        tune_models=tune_models,
        tune_ranks=None if args.tune_ranks is None else tuple(args.tune_ranks),
        tune_reg_params=None if args.tune_reg_params is None else tuple(args.tune_reg_params),
        tune_validation_fraction=args.tune_validation_fraction,
        tune_parallelism=args.tune_parallelism,
        top_n=args.top_n,
        relevant_rating=4.0 if args.relevant_rating is None and not args.implicit else args.relevant_rating,
        recommend_users=args.recommend_users,
        items=args.items,
    )


def _check_ranges(args: argparse.Namespace, error: Callable[[str], NoReturn]) -> None:
    """Each value within its range: the run id, the fractions, the counts, the regularisation."""
    if args.run_id is not None and (not RUN_ID_PATTERN.match(args.run_id) or args.run_id in (".", "..")):
        error(f"--run-id {args.run_id!r}: use letters, digits, '.', '_', '-' (max 128)")
    for name in ("test_fraction", "tune_validation_fraction"):
        if not 0.0 < getattr(args, name) < 1.0:
            error(f"--{name.replace('_', '-')} must be between 0 and 1")
    if not 0.0 <= args.max_reject_fraction <= 1.0:
        error("--max-reject-fraction must be between 0 and 1")
    for name in (
        "rank",
        "ranking_rank",
        "max_iter",
        "ranking_max_iter",
        "top_n",
        "tune_parallelism",
        "checkpoint_interval",
    ):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            error(f"--{name.replace('_', '-')} must be at least 1")
    if args.reg_param < 0 or args.baseline_reg < 0:
        error("--reg-param and --baseline-reg must be non-negative")
    if args.ranking_reg_param <= 0:  # without it a user's normal equations can be singular (ranking.preferences)
        error("--ranking-reg-param must be positive")
    if args.alpha < 0 or args.ranking_alpha < 0:
        error("--alpha and --ranking-alpha must be non-negative")


def _lists(args: argparse.Namespace, error: Callable[[str], NoReturn]) -> str:
    """Which model the lists come from: the ranking model for explicit ratings unless --lists rating; under
    --implicit the fitted model already ranks by preference, so it is the only source."""
    if not args.implicit:
        return RANKING if args.lists is None else args.lists
    if args.lists == RANKING:
        error("--lists ranking applies to explicit ratings; under --implicit the lists come from the model itself")
    return RATING


def _models(args: argparse.Namespace, error: Callable[[str], NoReturn]) -> tuple:
    """(the model, the models --tune scores) from --model, --biases / --no-biases and --implicit: --tune
    searches the model given, or every model that applies when none is."""
    model = args.model
    if args.biases is not None:
        alias = BIASED if args.biases else PLAIN
        if model not in (None, alias):
            error(f"--{'' if args.biases else 'no-'}biases is --model {alias}, not --model {model}")
        model = alias
    if args.implicit and model not in (None, PLAIN):
        error(f"--model {model} applies to explicit ratings; implicit confidences have no mean to remove")
    if model is not None:
        return model, (model,)
    return (PLAIN if args.implicit else BLEND), tuple(kind for kind in MODELS if not args.implicit or kind == PLAIN)


def _check_tuning(args: argparse.Namespace, error: Callable[[str], NoReturn]) -> None:
    if args.tune and args.implicit:
        error("--tune selects by RMSE, which does not apply to --implicit")
    if args.tune_ranks is not None and (not args.tune_ranks or min(args.tune_ranks) < 1):
        error("--tune-ranks needs ranks of at least 1")
    if args.tune_reg_params is not None and (not args.tune_reg_params or min(args.tune_reg_params) < 0):
        error("--tune-reg-params needs non-negative values")
