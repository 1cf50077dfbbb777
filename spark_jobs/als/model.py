"""The model, one of MODELS (--model):

* plain: Spark's ALS on the raw ratings, rating ~ p_u . q_i.
* biased: rating ~ mu + b_u + b_i + p_u . q_i. The global mean and shrunk user and item biases (the bias
  baseline) are fitted with DataFrame aggregations, then Spark's ALS factorises what they leave.
* blend (the explicit default): the mean of the plain and the biased model's predictions, both fitted
  with the same rank and regParam.

Whichever it is, the fitted model is a plain ALSModel whose transform() and recommendForAllUsers() give
its predictions: the biased model carries its biases as two more factor columns (rank + 2), the blend
puts both models' factors side by side (2 x rank + 2). Explicit predictions are clipped to the valid
rating range.

Why the blend: on real ratings neither part wins everywhere. Where users and items have many ratings,
plain ALS-WR beats the biased model (a user's scale multiplies an item's appeal, which fixed additive
biases cannot express); where they have few, plain ALS barely regularises them and loses even to the
bias baseline, while the biased model falls back on the biases. Their mean beat Spark's defaults and
both parts on every real split measured (spark_jobs/README.md), for twice the training time.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from .config import JobConfig
from .spark_helpers import CachedFrames, jvm

# Spark's documented ALS defaults; the job's defaults and tuning grid never go below them.
SPARK_DEFAULT_RANK, SPARK_DEFAULT_REG_PARAM, SPARK_DEFAULT_MAX_ITER = 10, 0.1, 10
DEFAULT_MAX_ITER = 20  # ALS on the bias residual still improves after 10 sweeps (measured: about 0.002 RMSE per 10)
PLAIN, BIASED, BLEND = "plain", "biased", "blend"
MODELS = (BLEND, BIASED, PLAIN)
BLEND_WEIGHT = 0.5  # of the plain model; the biased model gets the rest


@dataclass(frozen=True)
class ModelChoice:
    """The model to fit and its ALS parameters: --model, --rank and --reg-param, or what --tune chose."""

    model: str  # one of MODELS
    rank: int
    reg_param: float


def clip_rating(column: Column, config: JobConfig) -> Column:
    """Explicit predictions are clipped to the valid rating range, as a product would show them."""
    if config.implicit:
        return column
    return F.least(F.greatest(column, F.lit(config.min_rating)), F.lit(config.max_rating))


class Biases:
    """mu + b_u + b_i with shrunk biases: b_i = sum(r - mu) / (n_i + reg), then
    b_u = sum(r - mu - b_i) / (n_u + reg). DataFrame aggregations; both tables stay in cache."""

    def __init__(self, train: DataFrame, mu: float, reg: float, cache: CachedFrames) -> None:
        self.mu = mu
        self.item_bias = cache.persist(
            train.groupBy("item").agg((F.sum(F.col("rating") - mu) / (F.count(F.lit(1)) + reg)).alias("item_bias"))
        )
        self.user_bias = cache.persist(
            train.join(self.item_bias, "item")
            .groupBy("user")
            .agg((F.sum(F.col("rating") - mu - F.col("item_bias")) / (F.count(F.lit(1)) + reg)).alias("user_bias"))
        )

    def with_baseline(self, pairs: DataFrame) -> DataFrame:
        """pairs plus a baseline column mu + b_u + b_i; an id unseen in training gets bias 0."""
        joined = pairs.join(self.user_bias, "user", "left").join(self.item_bias, "item", "left")
        baseline = (
            F.lit(self.mu) + F.coalesce(F.col("user_bias"), F.lit(0.0)) + F.coalesce(F.col("item_bias"), F.lit(0.0))
        )
        return joined.withColumn("baseline", baseline).drop("user_bias", "item_bias")

    def residual(self, train: DataFrame) -> DataFrame:
        """Training ratings minus the baseline: what ALS factorises."""
        return self.with_baseline(train).select("user", "item", (F.col("rating") - F.col("baseline")).alias("rating"))


def build_als(config: JobConfig, rank: int, reg_param: float, blocks: int) -> ALS:
    return ALS(
        rank=rank,
        maxIter=config.max_iter,
        regParam=reg_param,
        implicitPrefs=config.implicit,
        alpha=config.alpha,
        seed=config.seed,
        userCol="user",
        itemCol="item",
        ratingCol="rating",
        coldStartStrategy="drop",  # unseen ids would give NaN and poison RMSE
        numUserBlocks=blocks,
        numItemBlocks=blocks,
        checkpointInterval=config.checkpoint_interval,
    )


def _als_model(spark: SparkSession, uid: str, rank: int, user_factors: DataFrame, item_factors: DataFrame) -> ALSModel:
    """An ALSModel over the given factor tables (id int, features array<float>)."""
    java_model = jvm(spark).org.apache.spark.ml.recommendation.ALSModel(uid, rank, user_factors._jdf, item_factors._jdf)
    model = ALSModel(java_model)
    model.setUserCol("user").setItemCol("item").setPredictionCol("prediction").setColdStartStrategy("drop")
    return model


def fold_biases(spark: SparkSession, model: ALSModel, biases: Biases, cache: CachedFrames) -> ALSModel:
    """The residual model with the biases as two more factor columns: user [p_u, 1, mu + b_u] and
    item [q_i, b_i, 1], so every dot product is mu + b_u + b_i + p_u . q_i. The factor tables stay in cache."""
    as_floats = "array<float>"
    users = cache.persist(
        model.userFactors.join(biases.user_bias.withColumnRenamed("user", "id"), "id").select(
            "id",
            F.concat("features", F.array(F.lit(1.0), F.lit(biases.mu) + F.col("user_bias")).cast(as_floats)).alias(
                "features"
            ),
        )
    )
    items = cache.persist(
        model.itemFactors.join(biases.item_bias.withColumnRenamed("item", "id"), "id").select(
            "id", F.concat("features", F.array(F.col("item_bias"), F.lit(1.0)).cast(as_floats)).alias("features")
        )
    )
    return _als_model(spark, model.uid, model.rank + 2, users, items)


def _scaled(column: str, scale: float) -> Column:
    return F.transform(F.col(column), lambda value: value * F.lit(scale))


def blend_models(
    spark: SparkSession, plain: ALSModel, biased: ALSModel, weight: float, cache: CachedFrames
) -> ALSModel:
    """weight x plain + (1 - weight) x biased as one ALSModel: user [p_u, p'_u], item [weight q_i,
    (1 - weight) q'_i], so every dot product is the weighted sum of the two models' predictions. Both
    models were fitted on the same ratings, so they know the same users and items. The factor tables stay
    in cache."""

    def side(first: DataFrame, second: DataFrame, first_scale: float, second_scale: float) -> DataFrame:
        joined = first.withColumnRenamed("features", "first").join(second.withColumnRenamed("features", "second"), "id")
        features = F.concat(_scaled("first", first_scale), _scaled("second", second_scale)).cast("array<float>")
        return cache.persist(joined.select("id", features.alias("features")))

    users = side(plain.userFactors, biased.userFactors, 1.0, 1.0)
    items = side(plain.itemFactors, biased.itemFactors, weight, 1.0 - weight)
    return _als_model(spark, plain.uid, plain.rank + biased.rank, users, items)


def fit_model(
    spark: SparkSession,
    train: DataFrame,
    biases: Biases | None,
    config: JobConfig,
    choice: ModelChoice,
    blocks: int,
    cache: CachedFrames,
) -> ALSModel:
    """The chosen model as one ALSModel; biased and blend need the biases. What it caches stays in cache."""
    als = build_als(config, choice.rank, choice.reg_param, blocks)
    if choice.model == PLAIN:
        return als.fit(train)
    assert biases is not None, f"the {choice.model} model needs the biases"
    biased = fold_biases(spark, als.fit(biases.residual(train)), biases, cache)
    if choice.model == BIASED:
        return biased
    return blend_models(spark, als.fit(train), biased, BLEND_WEIGHT, cache)


def model_users(model: ALSModel) -> DataFrame:
    """(user) of every user the model has factors for."""
    return model.userFactors.select(F.col("id").alias("user"))
