"""Recommendations: each user's top-N items among those the user did not rate in training (exact, not
approximate: candidates are fetched in growing rounds), for every user or those --recommend-users names,
written as Parquet (user, rank, item, score)."""

from __future__ import annotations

import re

from pyspark.ml.recommendation import ALSModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from .config import JobConfig
from .model import model_users
from .ratings import INT_MAX, JobInputError, quoted, read_lines
from .spark_helpers import CachedFrames, one_row

CANDIDATE_GROWTH = 4  # candidates fetched per user grow by this factor until top-N unrated are found


def recommend(
    spark: SparkSession,
    model: ALSModel,
    train: DataFrame,
    labels: DataFrame,
    config: JobConfig,
    items: int,
    destination: str,
    cache: CachedFrames,
) -> tuple:
    """The recommend phase: each user's (or each --recommend-users user's) top --top-n unrated items written to
    destination as Parquet. Returns (lists, report): lists are (user, recs) of those users and of every user in
    labels, whom the ranking metrics evaluate; report is metrics.json's recommendations."""
    wanted: DataFrame | None = None
    targets: DataFrame | None = None  # None: every user of the model
    report: dict = {"users_requested": None, "users_unknown": None}
    if config.recommend_users:
        requested = cache.persist(recommend_users(spark, config.recommend_users))
        wanted = cache.persist(requested.join(model_users(model), "user", "left_semi"))
        # The ranking metrics need the evaluated users' lists too: one pass fetches both.
        targets = wanted.unionByName(labels.select("user")).distinct()
        requested_count, wanted_count = requested.count(), wanted.count()
        report = {"users_requested": int(requested_count), "users_unknown": int(requested_count - wanted_count)}
    lists, rounds = recommend_unrated(model, targets, train.select("user", "item"), config.top_n, items, cache)
    written = write_recommendations(
        spark, lists if wanted is None else lists.join(wanted, "user", "left_semi"), destination
    )
    report.update(users=written["users"], rows=written["rows"], candidate_rounds=rounds)
    return lists, report


def write_recommendations(spark: SparkSession, lists: DataFrame, destination: str) -> dict:
    """lists (user, recs) as Parquet rows (user, rank, item, score) at destination; returns the users and rows
    written, read back from the files."""
    rows = lists.select("user", F.posexplode("recs").alias("index", "rec")).select(
        "user",
        (F.col("index") + 1).alias("rank"),
        F.col("rec.item").alias("item"),
        F.col("rec.score").alias("score"),
    )
    rows.write.parquet(destination)
    written = one_row(
        spark.read.parquet(destination).agg(F.count(F.lit(1)).alias("rows"), F.countDistinct("user").alias("users"))
    )
    return {"users": int(written["users"]), "rows": int(written["rows"])}


def _top_lists(candidates: DataFrame, rated: DataFrame, top_n: int) -> DataFrame:
    """(user, recs) for every user in candidates: the first top_n candidates the user did not rate,
    as array<struct<position, item, score>> (empty when every candidate was rated)."""
    exploded = candidates.select("user", F.posexplode("recommendations").alias("position", "recommendation")).select(
        "user",
        "position",
        F.col("recommendation.item").alias("item"),
        F.col("recommendation.rating").alias("score"),
    )
    marked = exploded.join(rated.withColumn("was_rated", F.lit(True)), ["user", "item"], "left")
    unrated = F.when(F.col("was_rated").isNull(), F.struct("position", "item", "score"))
    ordered = F.array_sort(F.collect_list(unrated))  # collect_list skips the nulls of rated items
    return marked.groupBy("user").agg(F.slice(ordered, 1, top_n).alias("recs"))


def recommend_unrated(
    model: ALSModel, users: DataFrame | None, rated: DataFrame, top_n: int, items: int, cache: CachedFrames
) -> tuple:
    """Each user's top_n highest-scoring items among those the user did not rate in training.

    Fetches CANDIDATE_GROWTH x top_n candidates, drops rated ones, and fetches CANDIDATE_GROWTH times
    more for the users left with fewer than top_n, until every user has top_n or all items were
    candidates: the first top_n unrated candidates out of k are the true top_n unrated whenever
    there are top_n of them. users None means every user of the model. Returns (lists, rounds)
    where lists is (user, recs), in cache with each round's lists, and rounds the candidate counts fetched.
    """
    found: DataFrame | None = None
    pending = users
    fetch = min(items, CANDIDATE_GROWTH * top_n)
    rounds = []
    while True:
        rounds.append(fetch)
        if pending is None:
            candidates = model.recommendForAllUsers(fetch)
        else:
            candidates = model.recommendForUserSubset(pending, fetch)
        lists = cache.persist(_top_lists(candidates, rated, top_n))
        if fetch >= items:  # every item was a candidate: what is left unrated is all there is
            found = lists if found is None else found.unionByName(lists)
            break
        complete = lists.where(F.size("recs") >= top_n)
        found = complete if found is None else found.unionByName(complete)
        pending = lists.where(F.size("recs") < top_n).select("user")
        if pending.count() == 0:
            break
        fetch = min(items, fetch * CANDIDATE_GROWTH)
    assert found is not None
    return cache.persist(found), rounds


def recommend_users(spark: SparkSession, spec: str) -> DataFrame:
    """(user) from --recommend-users: comma-separated ids, or a file/URI holding one id per line."""
    if re.fullmatch(r"\s*[0-9]+(\s*,\s*[0-9]+)*\s*,?\s*", spec):
        ids = sorted({int(value) for value in spec.split(",") if value.strip()})
        if any(value > INT_MAX for value in ids):
            raise JobInputError(f"--recommend-users: an id above {INT_MAX}")
        return spark.createDataFrame([(value,) for value in ids], "user int")
    lines = read_lines(spark, spec).select(F.trim("line").alias("text")).where(F.col("text") != "")
    # Ids by value, as in the ratings: 000000000123 is 123.
    bad = lines.where(~F.col("text").rlike(r"^0*[0-9]{1,10}$") | (F.col("text").cast("long") > INT_MAX)).first()
    if bad is not None:
        raise JobInputError(f"--recommend-users {spec}: {quoted(bad['text'])} is not a user id")
    return lines.select(F.col("text").cast("int").alias("user")).distinct()
