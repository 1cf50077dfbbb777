"""What the ALS job's tests share: parsed arguments from keyword options, the small synthetic dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spark_jobs.als.arguments import parse_args
from spark_jobs.als.config import JobConfig
from spark_jobs.als.ratings import ROLE_RATINGS, load_ratings
from spark_jobs.als.spark_helpers import CachedFrames
from spark_jobs.local.spark_submit import job_arguments
from spark_jobs.local.synthetic_ratings import SyntheticSpec

SMALL_SPEC = SyntheticSpec(users=150, items=200, ratings=8_000, noise_sigma=0.5, seed=7)


def job_args(**options: object) -> JobConfig:
    """The job's configuration for these options (``ratings`` and ``output`` default to placeholders)."""
    return parse_args(job_arguments(**{"ratings": "unused", "output": "unused", **options}))


def train_pairs(dataset: Path) -> set:
    """(user, item) of every rating in a dataset's u.data."""
    rows = np.loadtxt(dataset / "u.data", dtype=np.int64, delimiter="\t")
    return {(int(u), int(i)) for u, i in rows[:, :2]}


def load_valid_rows(spark, path, **options) -> tuple[list, dict]:
    """The job's load phase on one file: its valid (user, item, rating) rows, sorted, and its ratings report."""
    with CachedFrames() as cache:
        loaded = load_ratings(spark, job_args(ratings=str(path), **options), cache)
        rows = sorted(
            (r.user, r.item, r.rating)
            for r in loaded.table.where("reject_reason is null").select("user", "item", "rating").collect()
        )
    return rows, loaded.reports[ROLE_RATINGS]
