"""The job's configuration: every setting of one run, resolved and checked once from the command line.

arguments.parse_args builds it (the one place that reads argv, applies the defaults and checks the flags
against each other); every phase reads it and none changes it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class JobConfig:
    """One run's settings; spark_jobs/README.md's Flags table says what each flag means."""

    # Inputs and outputs.
    ratings: str
    format: str  # "auto" or a key of ratings.FORMATS
    test_ratings: str | None  # None: a seeded split of ratings
    output: str
    run_id: str

    # Validation and the split.
    min_rating: float
    max_rating: float  # math.inf for implicit confidences unless given
    max_reject_fraction: float
    seed: int
    test_fraction: float

    # The model.
    model: str  # one of model.MODELS
    rank: int
    reg_param: float
    max_iter: int
    implicit: bool
    alpha: float
    baseline_reg: float
    checkpoint_dir: str | None
    checkpoint_interval: int

    # The ranking model (ranking.py): the lists' source, and its parameters.
    lists: str  # one of ranking.LIST_SOURCES; always ranking.RATING under --implicit (that model ranks)
    ranking_rank: int | None  # None: scaled with the training data (ranking.scaled_rank)
    ranking_reg_param: float
    ranking_alpha: float
    ranking_max_iter: int

    # --tune.
    tune: bool
    tune_models: tuple[str, ...]  # the models the search scores: the one given, or every one that applies
    tune_ranks: tuple[int, ...] | None  # None: scaled with the data
    tune_reg_params: tuple[float, ...] | None  # None: coarse to fine
    tune_validation_fraction: float
    tune_parallelism: int

    # Recommendations and the ranking metrics.
    top_n: int
    relevant_rating: float | None  # None (implicit): every held-out interaction is a positive
    recommend_users: str | None  # None: every user
    items: str | None  # an item file with titles (--items); None: no sample user in the summary
