"""Spark plumbing the other modules share: the session's JVM view, the one row of an aggregation, the cache level."""

from __future__ import annotations

from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Row, SparkSession

# DataFrames cache as compressed column batches already; the serialized levels would serialize those batches
# once more on every write and read for no saving in memory. This is also DataFrame.persist()'s default.
CACHE_LEVEL = StorageLevel.MEMORY_AND_DISK_DESER


def jvm(spark: SparkSession) -> Any:
    """The session's py4j gateway view of the JVM."""
    gateway = spark._jvm
    assert gateway is not None, "the SparkSession has no JVM"
    return gateway


def one_row(frame: DataFrame) -> Row:
    """The single row of an aggregation (which always has one)."""
    row = frame.first()
    assert row is not None
    return row
