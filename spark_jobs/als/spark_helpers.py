"""Spark plumbing the other modules share: the session's JVM view, the one row of an aggregation, cached
DataFrames and settings scoped to a block."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Row, SparkSession

# DataFrames cache as compressed column batches already; the serialized levels would serialize those batches
# once more on every write and read for no saving in memory. This is also DataFrame.persist()'s default.
CACHE_LEVEL = StorageLevel.MEMORY_AND_DISK_DESER


class CachedFrames:
    """DataFrames cached for as long as a ``with`` block runs: ``persist`` caches one at CACHE_LEVEL, and the
    block's end releases every one of them, whether it ends normally or by an exception.

        with CachedFrames() as cache:
            table = cache.persist(frame)  # cached until the block ends
    """

    def __init__(self) -> None:
        self._frames: list = []

    def persist(self, frame: DataFrame) -> DataFrame:
        cached = frame.persist(CACHE_LEVEL)
        self._frames.append(cached)
        return cached

    def __enter__(self) -> CachedFrames:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        frames, self._frames = self._frames, []
        for frame in frames:
            frame.unpersist()


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


@contextlib.contextmanager
def session_conf(spark: SparkSession, settings: dict) -> Iterator[None]:
    """Spark SQL settings for the queries planned inside the block; the session's own values afterwards."""
    previous = {key: spark.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)
