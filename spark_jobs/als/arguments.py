"""The job's command line: every flag, its default and the checks between flags (argparse exits 2 on a bad one).

The ALS defaults start from Spark's documented ones and never go below them (model.py); a run id must
match RUN_ID_PATTERN, the one stacks/contract.py generates.
"""

from __future__ import annotations

import argparse
import math

from .attempts import RUN_ID_PATTERN, default_run_id
from .model import BIASED, BLEND, DEFAULT_MAX_ITER, MODELS, PLAIN, SPARK_DEFAULT_RANK, SPARK_DEFAULT_REG_PARAM
from .ratings import FORMATS
from .tuning import TUNE_REG_PARAMS

PROG = "als_job.py"  # what spark-submit runs (spark_jobs/als_job.py)
DESCRIPTION = "ALS matrix factorisation batch job: validate ratings, fit biases and ALS, evaluate, recommend."


def _float_list(text: str) -> list:
    return [float(value) for value in text.split(",") if value.strip()]


def _int_list(text: str) -> list:
    return [int(value) for value in text.split(",") if value.strip()]


def parse_args(argv: list) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION)
    add = parser.add_argument
    add("--ratings", required=True, help="ratings file or directory (local path or s3://)")
    add(
        "--format",
        default="auto",
        choices=["auto", *FORMATS],
        help="udata (tab), csv (header userId,movieId,rating,timestamp), dat (::), or auto",
    )
    add("--test-ratings", help="explicit held-out test set (same formats); default: a seeded split of --ratings")
    add("--output", required=True, help="output root; this run writes <output>/<run-id>/")
    add("--run-id", help="default: UTC time + random suffix")
    add("--rank", type=int, default=SPARK_DEFAULT_RANK)
    add("--reg-param", type=float, default=SPARK_DEFAULT_REG_PARAM)
    add("--max-iter", type=int, default=DEFAULT_MAX_ITER)
    add(
        "--model",
        choices=MODELS,
        help="blend (explicit default): the mean of biased and plain; biased: mu + user and item biases, then "
        "ALS on the residual; plain (implicit default): Spark's ALS on the raw ratings",
    )
    add(
        "--biases",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="--biases is --model biased, --no-biases is --model plain",
    )
    add("--implicit", action="store_true", help="implicit feedback (ratings are confidences)")
    add("--alpha", type=float, default=1.0, help="confidence scale for --implicit")
    add("--seed", type=int, default=42)
    add("--test-fraction", type=float, default=0.1)
    add("--min-rating", type=float, help="default 0.5 (explicit) or 0 (implicit)")
    add("--max-rating", type=float, help="default 5 (explicit) or unbounded (implicit)")
    add(
        "--max-reject-fraction",
        type=float,
        default=0.5,
        help="fail when more than this fraction of the input rows is rejected",
    )
    add(
        "--baseline-reg",
        type=float,
        default=10.0,
        help="shrinkage of the user and item biases (pseudo-counts)",
    )
    add(
        "--tune",
        action="store_true",
        help="grid search rank x reg-param on a validation split first (and the model, unless --model is given)",
    )
    add("--tune-ranks", type=_int_list, help="default: 5, 10, 20, ... as far as the data supports")
    add("--tune-reg-params", type=_float_list, help=f"default: {', '.join(map(str, TUNE_REG_PARAMS))}")
    add("--tune-validation-fraction", type=float, default=0.2)
    add("--tune-parallelism", type=int, default=2, help="models fitted at once while tuning")
    add("--top-n", type=int, default=10, help="recommendations per user, and N of the ranking metrics")
    add(
        "--relevant-rating",
        type=float,
        help="a held-out rating at least this is a positive for the ranking metrics "
        "(default 4 explicit; implicit: every held-out interaction)",
    )
    add(
        "--recommend-users",
        help="only recommend for these users: comma-separated ids, or a file/URI with one id per line",
    )
    add("--checkpoint-dir", help="checkpoint ALS lineage here (needed for long runs)")
    add("--checkpoint-interval", type=int, default=10)
    args = parser.parse_args(argv)

    if args.run_id is None:
        args.run_id = default_run_id()
    elif not RUN_ID_PATTERN.match(args.run_id) or args.run_id in (".", ".."):
        parser.error(f"--run-id {args.run_id!r}: use letters, digits, '.', '_', '-' (max 128)")
    for name in ("test_fraction", "tune_validation_fraction"):
        if not 0.0 < getattr(args, name) < 1.0:
            parser.error(f"--{name.replace('_', '-')} must be between 0 and 1")
    if not 0.0 <= args.max_reject_fraction <= 1.0:
        parser.error("--max-reject-fraction must be between 0 and 1")
    for name in ("rank", "max_iter", "top_n", "tune_parallelism", "checkpoint_interval"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.reg_param < 0 or args.baseline_reg < 0:
        parser.error("--reg-param and --baseline-reg must be non-negative")
    chosen = args.model is not None or args.biases is not None
    if args.biases is not None:
        alias = BIASED if args.biases else PLAIN
        if args.model not in (None, alias):
            parser.error(f"--{'' if args.biases else 'no-'}biases is --model {alias}, not --model {args.model}")
        args.model = alias
    if args.implicit and args.model not in (None, PLAIN):
        parser.error(f"--model {args.model} applies to explicit ratings; implicit confidences have no mean to remove")
    if args.model is None:
        args.model = PLAIN if args.implicit else BLEND
    args.tune_models = [args.model] if chosen else [kind for kind in MODELS if not args.implicit or kind == PLAIN]
    if args.tune and args.implicit:
        parser.error("--tune selects by RMSE, which does not apply to --implicit")
    if args.tune_ranks is not None and (not args.tune_ranks or min(args.tune_ranks) < 1):
        parser.error("--tune-ranks needs ranks of at least 1")
    if args.tune_reg_params is not None and (not args.tune_reg_params or min(args.tune_reg_params) < 0):
        parser.error("--tune-reg-params needs non-negative values")
    if args.min_rating is None:
        args.min_rating = 0.0 if args.implicit else 0.5
    if args.max_rating is None:
        args.max_rating = math.inf if args.implicit else 5.0
    if args.min_rating > args.max_rating:
        parser.error("--min-rating is above --max-rating")
    if args.relevant_rating is None and not args.implicit:
        args.relevant_rating = 4.0
    return args
