"""The ranking model: where the lists the job writes come from (explicit ratings; --lists ranking, the default).

A model fitted to squared error on the ratings people chose to give ranks items by predicted rating, so items
with a handful of enthusiastic ratings rise to the top of every list. What a user chose to rate carries most
of the signal for what they will rate highly next. The ranking model is Spark's ALS with implicitPrefs (Hu,
Koren and Volinsky 2008) on preferences made from the ratings:

    value = rating - PREFERENCE_OFFSET

Spark's implicit ALS reads a positive value as preference 1 with confidence 1 + alpha * value, and a
negative one as preference 0 with confidence 1 + alpha * |value| (an unrated item has preference 0 and
confidence 1); its regParam is multiplied by each user's or item's number of positive values. (Spark's
"Collaborative Filtering" guide, "Explicit vs. implicit feedback", describes alpha; the negative values and
the scaling are in its ALS source, the implicit branch of computeFactors, Spark 3.x.) With the offset 2 on
1-5 stars: 5 stars is a liked item with confidence 1 + 3 alpha, 3 stars a liked item with confidence
1 + alpha, 2 stars the same as unrated, 1 star a disliked item with confidence 1 + alpha. Measured on
MovieLens 100K and its dense and sparse subsets over two split seeds (spark_jobs/README.md, The lists;
bench/topn_bench.py), this mapping beat every-rating-as-1 and only-ratings->=4 at the same rank and alpha on
the full and the dense data (on the sparse subset every-rating-as-1 was 0.001-0.002 higher), and a small
alpha (0.3) beat the larger ones implicit-feedback papers use for play counts: a rating is one observation,
not a count of many.

The rating model (RMSE, predicted ratings, metrics.json's rmse) is unchanged; the ranking model is one more
ALS fit, distributed like the first.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from .config import JobConfig

PREFERENCE_OFFSET = 2.0
RANKING_RANKS = (10, 20)  # the default rank: the largest of these the data supports (scaled_rank)
DEFAULT_RANKING_RANK = RANKING_RANKS[-1]
DEFAULT_RANKING_REG_PARAM = 0.1
DEFAULT_RANKING_ALPHA = 0.3
DEFAULT_RANKING_MAX_ITER = 10  # 20 sweeps moved NDCG@10 on MovieLens 100K by at most 0.005, either way
RANKING, RATING = "ranking", "rating"  # --lists: which model the written lists come from
LIST_SOURCES = (RANKING, RATING)


@dataclass(frozen=True)
class RankingChoice:
    """The ranking model's ALS parameters: --ranking-rank, --ranking-reg-param, --ranking-alpha, or what --tune
    chose."""

    rank: int
    reg_param: float
    alpha: float


def scaled_rank(ratings: int, users: int, items: int) -> int:
    """The default rank: the largest of RANKING_RANKS whose (users + items) x rank factors stay within the
    number of training ratings (the rule tuning.tuning_grid uses for the rating model), at least the smallest.
    MovieLens 100K gets 20 and a random 30% of it 10, which scored higher there than 20 on two split seeds."""
    limit = ratings / max(1, users + items)
    return max([rank for rank in RANKING_RANKS if rank <= limit], default=RANKING_RANKS[0])


def preferences(train: DataFrame) -> DataFrame:
    """(user, item, rating - PREFERENCE_OFFSET): what the ranking model's implicit ALS reads, for the users and
    items with at least one positive preference (a rating above PREFERENCE_OFFSET). Spark's implicit ALS
    regularises a user by regParam x the user's positive preferences: a user with none is solved without
    regularisation, against the items' factors alone, which is singular whenever those factors do not span the
    rank (fewer items than the rank, or items rated alike: SingularMatrixException, 'A is not positive
    definite'); the same holds for an item. Nothing such a user rated says what they like, so the ranking model
    has no list for them (metrics.json's recommendations count the users written)."""
    values = train.select("user", "item", (F.col("rating") - PREFERENCE_OFFSET).alias("rating"))
    liked = values.where(F.col("rating") > 0)
    return (
        values.join(liked.select("user").distinct(), "user", "left_semi")
        .join(liked.select("item").distinct(), "item", "left_semi")
        .select("user", "item", "rating")
    )


def build_ranking_als(config: JobConfig, choice: RankingChoice, blocks: int) -> ALS:
    return ALS(
        rank=choice.rank,
        maxIter=config.ranking_max_iter,
        regParam=choice.reg_param,
        implicitPrefs=True,
        alpha=choice.alpha,
        seed=config.seed,
        userCol="user",
        itemCol="item",
        ratingCol="rating",
        coldStartStrategy="drop",
        numUserBlocks=blocks,
        numItemBlocks=blocks,
        checkpointInterval=config.checkpoint_interval,
    )


def fit_ranking_model(train: DataFrame, config: JobConfig, choice: RankingChoice, blocks: int) -> ALSModel:
    """The ranking model fitted on the preferences made from train's ratings."""
    return build_ranking_als(config, choice, blocks).fit(preferences(train))


def ranking_params(config: JobConfig, choice: RankingChoice | None) -> dict:
    """metrics.json's params.ranking: where the lists come from and, for the ranking model, its parameters."""
    if choice is None:
        return {"lists_from": RATING}
    return {
        "lists_from": RANKING,
        "rank": choice.rank,
        "reg_param": choice.reg_param,
        "alpha": choice.alpha,
        "max_iter": config.ranking_max_iter,
        "preference": f"rating - {PREFERENCE_OFFSET:g}",
    }
