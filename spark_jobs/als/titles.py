"""--items: item titles, to show one sample user's list beside what that user rated highest.

Reads MovieLens's item files: u.item (100K: ``id|title|date|...``, Latin-1), movies.csv (``movieId,title,genres``
with a header, titles quoted when they hold a comma, UTF-8) or movies.dat (1M: ``id::title::genres``, Latin-1),
detected from the first line. The file is read and checked before any model is fitted, so a bad one fails the
run at once (JobInputError naming the file and the formats it accepts).
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from .ratings import JobInputError, read_lines

ITEM_FORMATS = "u.item (id|title|...), movies.csv (movieId,title,genres) or movies.dat (id::title::genres)"
SAMPLE_ITEMS = 10  # of the sample user's list, and of their highest-rated training items


def read_titles(spark: SparkSession, uri: str) -> DataFrame:
    """(item int, title string) from an item file; JobInputError when it is empty, unreadable or no format
    fits its first line."""
    first = read_lines(spark, uri).where(F.trim("line") != "").select("line").first()
    if first is None:
        raise JobInputError(f"--items {uri}: no lines; expected {ITEM_FORMATS}")
    line = first["line"]
    reader = spark.read.option("quote", "").option("encoding", "ISO-8859-1")
    if line.replace(" ", "").lower().startswith("movieid,title"):
        frame = spark.read.option("header", True).option("escape", '"').csv(uri).toDF("id", "title", "genres")
    elif "::" in line:
        frame = reader.option("sep", "::").csv(uri)
    elif "|" in line:
        frame = reader.option("sep", "|").csv(uri)
    else:
        raise JobInputError(f"--items {uri}: the first line {line[:80]!r} fits none of {ITEM_FORMATS}")
    titles = frame.select(F.col(frame.columns[0]).cast("int").alias("item"), F.col(frame.columns[1]).alias("title"))
    if titles.where(F.col("item").isNotNull()).limit(1).count() == 0:
        raise JobInputError(f"--items {uri}: no line starts with an item id; expected {ITEM_FORMATS}")
    return titles.where(F.col("item").isNotNull()).dropDuplicates(["item"])


def sample_user(lists: DataFrame, train: DataFrame, titles: DataFrame) -> dict | None:
    """metrics.json's sample_user: the lowest user id with a list, its first SAMPLE_ITEMS recommendations and
    its SAMPLE_ITEMS highest-rated training items (ties: lower item id), each with its title (None when the
    item file has none). None when no user has a list."""
    first = lists.where(F.size("recs") > 0).agg(F.min("user").alias("user")).first()
    if first is None or first["user"] is None:
        return None
    user = int(first["user"])
    recommended = (
        lists.where(F.col("user") == user)
        .select(F.posexplode("recs").alias("index", "rec"))
        .select("index", F.col("rec.item").alias("item"), F.col("rec.score").alias("score"))
        .join(titles, "item", "left")
        .orderBy("index")
        .limit(SAMPLE_ITEMS)
        .collect()
    )
    rated = (
        train.where(F.col("user") == user)
        .join(titles, "item", "left")
        .orderBy(F.col("rating").desc(), F.col("item"))
        .limit(SAMPLE_ITEMS)
        .collect()
    )
    return {
        "user": user,
        "recommended": [{"item": row["item"], "title": row["title"], "score": row["score"]} for row in recommended],
        "top_rated": [{"item": row["item"], "title": row["title"], "rating": row["rating"]} for row in rated],
    }


def sample_lines(sample: dict) -> list:
    """The sample user's list beside their highest-rated training items, one line each, for a run summary."""
    lines = [f"sample user {sample['user']}: top {len(sample['recommended'])} recommended | highest-rated in training"]
    pairs = max(len(sample["recommended"]), len(sample["top_rated"]))
    for index in range(pairs):
        left = _describe(sample["recommended"][index]) if index < len(sample["recommended"]) else ""
        right = sample["top_rated"][index] if index < len(sample["top_rated"]) else None
        text = f"{_describe(right)} ({right['rating']:g})" if right else ""
        lines.append(f"  {index + 1:>2}. {left[:48]:<48} | {text}")
    return lines


def _describe(entry: dict) -> str:
    return entry["title"] if entry.get("title") else f"item {entry['item']}"
