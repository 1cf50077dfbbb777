"""spark_jobs/als/spark_helpers.py: CachedFrames keeps what it caches until its block ends, however it ends."""

from __future__ import annotations

import pytest

from spark_jobs.als.spark_helpers import CACHE_LEVEL, CachedFrames


def _cached(frame) -> bool:
    return frame.storageLevel.useMemory or frame.storageLevel.useDisk


def test_frames_stay_cached_inside_the_block_and_are_released_at_its_end(spark):
    with CachedFrames() as cache:
        first = cache.persist(spark.range(10))
        second = cache.persist(spark.range(20).selectExpr("id * 2 as id"))
        assert first.count() == 10 and second.count() == 20
        assert first.storageLevel == second.storageLevel == CACHE_LEVEL
    assert not _cached(first) and not _cached(second)


def test_frames_are_released_when_the_block_ends_by_an_exception(spark):
    with pytest.raises(ValueError, match="phase failed"), CachedFrames() as cache:
        frame = cache.persist(spark.range(5))
        assert _cached(frame)
        raise ValueError("phase failed")
    assert not _cached(frame)


def test_an_inner_scope_releases_only_its_own_frames(spark):
    with CachedFrames() as outer:
        kept = outer.persist(spark.range(3))
        with CachedFrames() as inner:
            scratch = inner.persist(spark.range(4))
        assert not _cached(scratch) and _cached(kept)
    assert not _cached(kept)
