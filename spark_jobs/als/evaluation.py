"""How good the model is: RMSE and MAE beside the bias baseline on the same test rows, and precision,
recall, NDCG and MAP at N (Spark's RankingEvaluator) beside a popularity recommender, with what the lists
look like: catalogue coverage and the share of recommended items with few training ratings."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pyspark.ml.evaluation import RankingEvaluator
from pyspark.ml.recommendation import ALSModel
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from .config import JobConfig
from .model import Biases, clip_rating, model_users
from .spark_helpers import CachedFrames, one_row

REGRESSION_METRICS = ("rmse", "mae", "baseline_rmse", "baseline_mae", "test_rows_evaluated")
RANKING_METRICS = {  # metrics.json key -> the method of Spark's RankingMetrics that computes it (at k = --top-n)
    "precision_at_n": "precisionAt",
    "recall_at_n": "recallAt",
    "ndcg_at_n": "ndcgAt",
    "map_at_n": "meanAveragePrecisionAt",
}
LIST_SHAPE = ("coverage", "items_recommended", "long_tail_share")
LONG_TAIL_RATINGS = 5  # an item with fewer training ratings than this is in the long tail


def regression_metrics(model: ALSModel, test: DataFrame, biases: Biases, config: JobConfig) -> dict:
    """RMSE and MAE of the model and of the bias baseline on the same test rows, in one pass.

    Rows whose user or item is unseen in training are dropped (coldStartStrategy "drop"), for both.
    """
    scored = model.transform(biases.with_baseline(test))
    model_error = clip_rating(F.col("prediction"), config) - F.col("rating")
    baseline_error = clip_rating(F.col("baseline"), config) - F.col("rating")
    row = one_row(
        scored.agg(
            F.sqrt(F.avg(model_error * model_error)).alias("rmse"),
            F.avg(F.abs(model_error)).alias("mae"),
            F.sqrt(F.avg(baseline_error * baseline_error)).alias("baseline_rmse"),
            F.avg(F.abs(baseline_error)).alias("baseline_mae"),
            F.count(F.lit(1)).alias("rows"),
        )
    )
    metrics = {key: row[key] for key in REGRESSION_METRICS[:-1]}
    metrics["test_rows_evaluated"] = int(row["rows"])
    return metrics


def relevant_ratings(config: JobConfig) -> Column:
    """Which ratings are positives for the ranking metrics: at least --relevant-rating; every one when implicit."""
    return F.lit(True) if config.relevant_rating is None else F.col("rating") >= config.relevant_rating


def held_out_positives(test: DataFrame, model: ALSModel, config: JobConfig) -> DataFrame:
    """(user, label): every test user the model knows that has a positive held-out rating, with the items
    of those ratings (as doubles, what RankingEvaluator reads)."""
    return (
        test.where(relevant_ratings(config))
        .join(model_users(model), "user", "left_semi")
        .groupBy("user")
        .agg(F.collect_list(F.col("item").cast("double")).alias("label"))
    )


def rank_evaluate(train: DataFrame, labels: DataFrame, lists: DataFrame, config: JobConfig) -> dict:
    """metrics.json's ranking: the model's lists (user, recs) and popularity's against the labels
    (held_out_positives), at N = --top-n, each with the shape of the evaluated users' lists (list_shape); the
    metrics are null when no test user has a relevant held-out rating (nothing to rank against)."""
    users = int(labels.count())
    report = {
        "n": config.top_n,
        "relevant": "every held-out rating"
        if config.relevant_rating is None
        else f"held-out rating >= {config.relevant_rating:g}",
        "users_evaluated": users,
        "lists_from": config.lists,
    }
    if users == 0:  # Spark's RankingEvaluator fails on an empty input
        unmeasured = dict.fromkeys((*RANKING_METRICS, *LIST_SHAPE))
        return {**report, "model": unmeasured, "popularity": dict(unmeasured)}
    with CachedFrames() as cache:
        evaluated_users = labels.select("user")
        popular = cache.persist(popularity_lists(train, evaluated_users, relevant_ratings(config), config.top_n))
        evaluated = cache.persist(lists.join(evaluated_users, "user", "left_semi"))
        counts = cache.persist(item_counts(train))
        catalogue = counts.count()
        return {
            **report,
            "model": ranking_metrics(labels, evaluated, config.top_n) | list_shape(evaluated, counts, catalogue),
            "popularity": ranking_metrics(labels, popular, config.top_n) | list_shape(popular, counts, catalogue),
        }


def item_counts(train: DataFrame) -> DataFrame:
    """(item, ratings): each training item's number of ratings."""
    return train.groupBy("item").agg(F.count(F.lit(1)).alias("ratings"))


def list_shape(lists: DataFrame, counts: DataFrame, catalogue: int) -> dict:
    """What lists (user, recs) look like: coverage, the share of the catalogue (catalogue items, counts: their
    training ratings, item_counts) recommended to anyone; items_recommended, how many distinct items that is;
    long_tail_share, the share of recommendations whose item has fewer than LONG_TAIL_RATINGS training ratings."""
    recommended = lists.select(F.explode("recs.item").alias("item")).join(counts, "item", "left")
    tail = F.coalesce(F.col("ratings"), F.lit(0)) < LONG_TAIL_RATINGS
    row = one_row(
        recommended.agg(
            F.count(F.lit(1)).alias("rows"),
            F.countDistinct("item").alias("items"),
            F.sum(F.when(tail, 1).otherwise(0)).alias("tail"),
        )
    )
    rows = int(row["rows"])
    return {
        "coverage": int(row["items"]) / catalogue if catalogue else 0.0,
        "items_recommended": int(row["items"]),
        "long_tail_share": int(row["tail"] or 0) / rows if rows else 0.0,
    }


def popularity_lists(train: DataFrame, users: DataFrame, relevant: Column, top_n: int) -> DataFrame:
    """(user, recs): the top_n most popular items each user did not rate in training.

    Popularity is the number of training ratings that count as relevant (ties: lower item id). A
    user who rated n items needs at most the first top_n + n of the popular list, so the list is
    cut there per user: the work is bounded by users x top_n + training rows.
    """
    counts = train.where(relevant).groupBy("item").agg(F.count(F.lit(1)).alias("count"))
    order = Window.orderBy(F.col("count").desc(), F.col("item"))
    popular = counts.select("item", F.row_number().over(order).alias("position"))
    rated = train.select("user", "item")
    per_user = rated.groupBy("user").agg(F.count(F.lit(1)).alias("rated"))
    wanted = users.join(per_user, "user", "left").select(
        "user", F.explode(F.sequence(F.lit(1), F.lit(top_n) + F.coalesce(F.col("rated"), F.lit(0)))).alias("position")
    )
    candidates = wanted.join(F.broadcast(popular), "position").join(rated, ["user", "item"], "left_anti")
    ordered = F.array_sort(F.collect_list(F.struct("position", "item", F.lit(None).cast("float").alias("score"))))
    return candidates.groupBy("user").agg(F.slice(ordered, 1, top_n).alias("recs"))


def ranking_metrics(labels: DataFrame, lists: DataFrame, top_n: int, keys: Iterable[str] = RANKING_METRICS) -> dict:
    """precision, recall, NDCG and MAP at top_n (Spark's RankingEvaluator) of lists against labels, or only the
    RANKING_METRICS keys asked for.

    labels: (user, label array<double>), one row per evaluated user; a user without a list counts
    with an empty one (scores 0).
    """
    predicted = lists.select("user", F.expr("transform(recs, r -> cast(r.item as double))").alias("prediction"))
    with CachedFrames() as cache:
        joined = cache.persist(
            labels.join(predicted, "user", "left").select(
                "label", F.coalesce("prediction", F.array().cast("array<double>")).alias("prediction")
            )
        )
        # RankingEvaluator.evaluate builds Spark's RankingMetrics over the frame and reads one metric from it;
        # getMetrics (Spark >= 3.1) returns that object, so the metrics come from one conversion of the frame,
        # one pass each, with the values evaluate() gives (tests/spark/test_als_job.py compares the two).
        evaluator: Any = RankingEvaluator(predictionCol="prediction", labelCol="label", k=top_n)
        metrics = evaluator._java_obj.getMetrics(joined._jdf)
        return {key: float(getattr(metrics, RANKING_METRICS[key])(top_n)) for key in keys}
