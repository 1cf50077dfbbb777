"""--tune: a grid search of model x rank x regParam on a hold-out of the training ratings, by RMSE, and one of
the ranking model's rank x regParam x alpha on the same hold-out, by NDCG at --top-n.

The default grid goes coarse (regParam at Spark's default rank) to fine (every rank the data supports,
around the best coarse regParam); the result lists every model scored and the one chosen.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from .config import JobConfig
from .evaluation import ranking_metrics, relevant_ratings
from .model import BIASED, BLEND, BLEND_WEIGHT, MODELS, PLAIN, SPARK_DEFAULT_RANK, Biases, build_als, clip_rating
from .ranking import DEFAULT_RANKING_RANK, RankingChoice, fit_ranking_model
from .ratings import JobInputError, hash_fraction
from .recommendations import recommend_unrated
from .spark_helpers import CachedFrames, one_row

TUNE_RANKS = (5, 10, 20, 40, 80, 160)
TUNE_REG_PARAMS = (0.01, 0.03, 0.1, 0.3, 1.0)  # coarse: two decades around Spark's default
REFINE_FACTORS = (0.5, 0.7, 1.0, 1.4, 2.0)  # fine: around the best coarse value, at every rank
RATINGS_PER_PARAMETER = 1.0  # a rank is searched while (users + items) * rank <= ratings / this


def tuning_grid(config: JobConfig, ratings: int, users: int, items: int) -> tuple:
    """(ranks, reg_params) to search; the defaults scale the ranks with the data.

    A rank is searched while the model's (users + items) * rank parameters stay within
    ratings / RATINGS_PER_PARAMETER; 5 and Spark's default rank 10 always are. MovieLens-shaped
    data searches ranks 5-20 at 100K ratings, 5-40 at 1M and 5-80 at 20M. The default reg_params
    are the coarse stage: two decades around Spark's default 0.1 (see refine_reg_params).
    """
    limit = ratings / (RATINGS_PER_PARAMETER * max(1, users + items))
    scaled = {rank for rank in TUNE_RANKS if rank <= limit} | {5, SPARK_DEFAULT_RANK}
    ranks = scaled if config.tune_ranks is None else set(config.tune_ranks)
    reg_params = TUNE_REG_PARAMS if config.tune_reg_params is None else config.tune_reg_params
    return sorted(ranks), sorted(set(reg_params))


def refine_reg_params(best: float) -> list:
    """The fine stage around the best coarse reg_param: steps of about sqrt(2) within a factor 2."""
    return sorted({round(best * factor, 6) for factor in REFINE_FACTORS})


@dataclass(frozen=True)
class HoldOut:
    """The training ratings split for the search, cached while it runs: models fit on fit_part (biased: on
    residual, fit_part minus its own bias baseline) and are scored on scored, the held-out ratings (with a
    baseline column when a model needs the biases)."""

    fit_part: DataFrame
    residual: DataFrame | None  # None when no model searched needs the biases
    scored: DataFrame
    rows: int
    users: int
    items: int


def tune(train: DataFrame, train_rows: int, config: JobConfig, blocks: int) -> dict:
    """Hold out --tune-validation-fraction of train, fit models on the rest with their own biases and
    score clipped predictions by RMSE on the held-out rows. Every (rank, regParam) fits the plain and
    the biased model once and scores each kind of config.tune_models (the blend from those two fits).
    Default search, coarse to fine: regParam over TUNE_REG_PARAMS at rank 10, then every rank of
    tuning_grid with refine_reg_params around the best of those (about 20 points). With
    --tune-reg-params: exactly ranks x those. The best (lowest RMSE; ties to the smaller rank, then the
    larger reg_param, then the model order of MODELS) is returned with every model scored. What the
    search caches is released when it ends."""
    kinds = list(config.tune_models)
    with CachedFrames() as cache:
        hold_out = hold_out_split(train, config, cache)
        if hold_out.rows in (0, train_rows):
            raise JobInputError(
                f"{config.ratings}: too few training ratings to tune: {train_rows - hold_out.rows} of {train_rows} "
                f"held out for validation by --tune-validation-fraction {config.tune_validation_fraction}; "
                "both parts need a rating (more ratings, another fraction, or no --tune)"
            )
        ranks, reg_params = tuning_grid(config, hold_out.rows, hold_out.users, hold_out.items)
        score = functools.partial(validation_rmses, hold_out, config, blocks)
        with ThreadPoolExecutor(max_workers=config.tune_parallelism) as pool:

            def scored_grid(points: list) -> list:
                return [result for results in pool.map(score, points) for result in results]

            if config.tune_reg_params is not None:  # a grid of the caller's: search exactly that
                stages = {"grid": [(rank, reg_param) for rank in ranks for reg_param in reg_params]}
                results = scored_grid(stages["grid"])
            else:  # coarse over regParam at Spark's default rank, then fine around its best at every rank
                coarse = [(SPARK_DEFAULT_RANK, reg_param) for reg_param in reg_params]
                results = scored_grid(coarse)
                fine_reg_params = refine_reg_params(_best_of(results)["reg_param"])
                fine = [(r, g) for r in ranks for g in fine_reg_params if (r, g) not in coarse]
                results += scored_grid(fine)
                stages = {"coarse": coarse, "fine": fine}
    best = _best_of(results)
    return {
        "method": "holdout",
        "metric": "rmse",
        "validation_fraction": config.tune_validation_fraction,
        "fit_rows": hold_out.rows,
        "validation_rows": train_rows - hold_out.rows,
        "stages": {name: len(pairs) for name, pairs in stages.items()},
        "models": kinds,
        "ranks": ranks,
        "reg_params": sorted({result["reg_param"] for result in results}),
        "grid": results,
        "best_params": {"model": best["model"], "rank": best["rank"], "reg_param": best["reg_param"]},
    }


def hold_out_split(train: DataFrame, config: JobConfig, cache: CachedFrames) -> HoldOut:
    """The hold-out (a hash of user, item and seed, so reproducible) and what the search fits and scores."""
    held_out = hash_fraction(config.seed, "validation") < config.tune_validation_fraction
    fit_part = cache.persist(train.where(~held_out))
    validation = cache.persist(train.where(held_out))
    sizes = one_row(
        fit_part.agg(
            F.count(F.lit(1)).alias("rows"),
            F.avg("rating").alias("mu"),
            F.countDistinct("user").alias("users"),
            F.countDistinct("item").alias("items"),
        )
    )
    needs_biases = BIASED in config.tune_models or BLEND in config.tune_models
    biases = Biases(fit_part, float(sizes["mu"]), config.baseline_reg, cache) if needs_biases else None
    residual = cache.persist(biases.residual(fit_part)) if biases else None
    scored = cache.persist(biases.with_baseline(validation) if biases else validation)
    return HoldOut(fit_part, residual, scored, int(sizes["rows"]), int(sizes["users"]), int(sizes["items"]))


def validation_rmses(hold_out: HoldOut, config: JobConfig, blocks: int, point: tuple) -> list:
    """One grid point (rank, reg_param): the plain and the biased model fitted once each (as the models
    searched need), and the hold-out RMSE of the clipped predictions of every model searched."""
    rank, reg_param = point
    kinds = config.tune_models
    als = build_als(config, rank, reg_param, blocks)
    frame, predictions = hold_out.scored, {}
    if PLAIN in kinds or BLEND in kinds:
        frame = als.fit(hold_out.fit_part).transform(frame).withColumnRenamed("prediction", PLAIN)
        predictions[PLAIN] = F.col(PLAIN)
    if hold_out.residual is not None:
        frame = als.fit(hold_out.residual).transform(frame).withColumnRenamed("prediction", "residual")
        predictions[BIASED] = F.col("residual") + F.col("baseline")
    if BLEND in kinds:
        predictions[BLEND] = BLEND_WEIGHT * predictions[PLAIN] + (1.0 - BLEND_WEIGHT) * predictions[BIASED]
    errors = {kind: clip_rating(predictions[kind], config) - F.col("rating") for kind in kinds}
    row = one_row(frame.agg(*(F.sqrt(F.avg(errors[kind] * errors[kind])).alias(kind) for kind in kinds)))
    return [{"model": kind, "rank": rank, "reg_param": reg_param, "validation_rmse": row[kind]} for kind in kinds]


def _best_of(results: list) -> dict:
    """The lowest validation RMSE (ties: smaller rank, larger reg_param, MODELS order); JobInputError when no
    model could be scored (no held-out rating has its user and item in the fitting part)."""
    scored = [result for result in results if result["validation_rmse"] is not None]
    if not scored:
        raise JobInputError(
            "too few training ratings to tune: no held-out rating has both its user and its item in the rest "
            "(more ratings, another --tune-validation-fraction, or no --tune)"
        )
    return min(scored, key=lambda r: (r["validation_rmse"], r["rank"], -r["reg_param"], MODELS.index(r["model"])))


RANKING_TUNE_ALPHAS = (0.1, 0.3, 1.0)
RANKING_TUNE_REG_PARAMS = (0.03, 0.1, 0.3)
RANKING_TUNE_RANKS = (10, 20, 40)


@dataclass(frozen=True)
class RankingHoldOut:
    """What the ranking search fits on (fit_part), scores against (labels: each validation user's relevant
    held-out items) and excludes from the lists (the fit part's pairs)."""

    fit_part: DataFrame
    labels: DataFrame
    rows: int
    users: int
    items: int


def tune_ranking(train: DataFrame, config: JobConfig, blocks: int) -> dict:
    """The ranking model's parameters by NDCG@--top-n on the same hold-out of train as the RMSE search: alpha x
    regParam over RANKING_TUNE_ALPHAS x RANKING_TUNE_REG_PARAMS at the default rank, then the other
    RANKING_TUNE_RANKS the data supports (tuning_grid's limit) at the best of those. The best (highest NDCG;
    ties to the smaller rank, then the larger regParam, then the smaller alpha) is returned with the grid."""
    with CachedFrames() as cache:
        hold_out = ranking_hold_out(train, config, cache)
        if hold_out.labels.isEmpty():  # Spark's RankingEvaluator fails on an empty input
            raise JobInputError(
                "too few relevant training ratings to tune the lists: no held-out relevant rating has its user in "
                "the rest (more ratings, another --tune-validation-fraction, or no --tune)"
            )
        score = functools.partial(validation_ndcg, hold_out, config, blocks)
        with ThreadPoolExecutor(max_workers=config.tune_parallelism) as pool:
            coarse = [
                RankingChoice(DEFAULT_RANKING_RANK, reg, alpha)
                for alpha in RANKING_TUNE_ALPHAS
                for reg in RANKING_TUNE_REG_PARAMS
            ]
            results = list(pool.map(score, coarse))
            best = _best_ranking(results)
            limit = hold_out.rows / (RATINGS_PER_PARAMETER * max(1, hold_out.users + hold_out.items))
            ranks = [rank for rank in RANKING_TUNE_RANKS if rank != DEFAULT_RANKING_RANK and rank <= limit]
            results += list(pool.map(score, [RankingChoice(r, best["reg_param"], best["alpha"]) for r in ranks]))
    best = _best_ranking(results)
    return {
        "method": "holdout",
        "metric": f"ndcg_at_{config.top_n}",
        "validation_fraction": config.tune_validation_fraction,
        "fit_rows": hold_out.rows,
        "stages": {"coarse": len(coarse), "ranks": len(ranks)},
        "grid": results,
        "best_params": {key: best[key] for key in ("rank", "reg_param", "alpha")},
    }


def ranking_hold_out(train: DataFrame, config: JobConfig, cache: CachedFrames) -> RankingHoldOut:
    """The RMSE search's hold-out (hash of user, item and seed): fit on the rest, relevant held-out ratings of
    users in the fit part as the labels."""
    held_out = hash_fraction(config.seed, "validation") < config.tune_validation_fraction
    fit_part = cache.persist(train.where(~held_out))
    labels = cache.persist(
        train.where(held_out & relevant_ratings(config))
        .join(fit_part.select("user").distinct(), "user", "left_semi")
        .groupBy("user")
        .agg(F.collect_list(F.col("item").cast("double")).alias("label"))
    )
    sizes = one_row(
        fit_part.agg(
            F.count(F.lit(1)).alias("rows"),
            F.countDistinct("user").alias("users"),
            F.countDistinct("item").alias("items"),
        )
    )
    return RankingHoldOut(fit_part, labels, int(sizes["rows"]), int(sizes["users"]), int(sizes["items"]))


def validation_ndcg(hold_out: RankingHoldOut, config: JobConfig, blocks: int, choice: RankingChoice) -> dict:
    """One grid point: the ranking model fitted on the fit part, its lists for the validation users scored."""
    model = fit_ranking_model(hold_out.fit_part, config, choice, blocks)
    with CachedFrames() as cache:
        pairs = hold_out.fit_part.select("user", "item")
        lists, _ = recommend_unrated(model, hold_out.labels.select("user"), pairs, config.top_n, hold_out.items, cache)
        ndcg = ranking_metrics(hold_out.labels, lists, config.top_n, keys=("ndcg_at_n",))["ndcg_at_n"]
    return {"rank": choice.rank, "reg_param": choice.reg_param, "alpha": choice.alpha, "validation_ndcg": ndcg}


def _best_ranking(results: list) -> dict:
    return min(results, key=lambda r: (-r["validation_ndcg"], r["rank"], -r["reg_param"], r["alpha"]))
