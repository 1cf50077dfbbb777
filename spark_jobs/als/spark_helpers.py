"""Two pieces of Spark plumbing the other modules share: the session's JVM view, the one row of an aggregation."""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame, Row, SparkSession


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
