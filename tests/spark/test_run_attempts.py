"""spark_jobs/als/attempts.py: each attempt writes its own folder and is promoted to <output>/<run-id> on success."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from spark_jobs.als.arguments import parse_args
from spark_jobs.als.attempts import ATTEMPTS_DIR, CLAIM_FILE, CLAIM_STALE_SECONDS, RunLostError
from spark_jobs.als.hadoop_files import create_exclusive
from spark_jobs.als.job import EXIT_RUN_COMPLETE, EXIT_RUN_LOST, main, run
from spark_jobs.local.spark_submit import job_arguments
from spark_jobs.local.synthetic_ratings import SyntheticSpec, generate, write_dataset

TINY = SyntheticSpec(users=60, items=150, ratings=2_000, seed=3)
OUTPUTS = ["_SUCCESS", "metrics.json", "model", "ranking_model", "recommendations"]


@pytest.fixture(scope="module")
def ratings(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny")
    write_dataset(generate(TINY), out)
    return out / "u.data"


def _argv(ratings: Path, output: Path, run_id: str = "run-1") -> list:
    return job_arguments(
        ratings=ratings,
        format="udata",
        output=output,
        run_id=run_id,
        max_iter=2,
        rank=3,
        top_n=2,
        model="plain",
        ranking_max_iter=2,  # the attempts, not either model, are under test
        ranking_rank=3,
    )


def _run(spark, ratings: Path, output: Path, run_id: str = "run-1") -> dict:
    return run(spark, parse_args(_argv(ratings, output, run_id)), lambda _: None)


def _entries(folder: Path) -> list:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def _assert_committed(output: Path, run_id: str, report: dict) -> None:
    run_dir = output / run_id
    assert _entries(run_dir) == OUTPUTS
    assert json.loads((run_dir / "metrics.json").read_text())["attempt_id"] == report["attempt_id"]
    assert not (output / ATTEMPTS_DIR).exists(), "attempt folders left behind"


def test_a_failed_attempt_leaves_nothing_and_a_retry_succeeds(spark, ratings, tmp_path, monkeypatch):
    from pyspark.ml.recommendation import ALSModel

    def failing_save(self, path):
        raise RuntimeError("disk full while saving the model")

    with monkeypatch.context() as patch:
        patch.setattr(ALSModel, "save", failing_save)
        with pytest.raises(RuntimeError, match="disk full"):
            _run(spark, ratings, tmp_path)
    assert not (tmp_path / "run-1").exists()
    assert not (tmp_path / ATTEMPTS_DIR).exists()
    _assert_committed(tmp_path, "run-1", _run(spark, ratings, tmp_path))


def test_a_partial_folder_and_stale_attempts_of_a_killed_run_are_replaced(spark, ratings, tmp_path):
    """A killed attempt cleans nothing up: its partial run folder (no _SUCCESS) and attempt folder stay."""
    partial = tmp_path / "run-1"
    (partial / "recommendations").mkdir(parents=True)
    (partial / "recommendations" / "part-00000-old.parquet").write_text("half written")
    (partial / "metrics.json").write_text("{")
    stale = tmp_path / ATTEMPTS_DIR / "run-1" / "20200101T000000000000Z-dead"
    (stale / "model").mkdir(parents=True)
    report = _run(spark, ratings, tmp_path)
    _assert_committed(tmp_path, "run-1", report)
    assert not (partial / "recommendations" / "part-00000-old.parquet").exists()


def test_a_completed_run_id_is_never_overwritten(spark, ratings, tmp_path, capsys):
    _run(spark, ratings, tmp_path)
    before = {p: p.read_bytes() for p in (tmp_path / "run-1").rglob("*") if p.is_file()}
    assert main(_argv(ratings, tmp_path)) == EXIT_RUN_COMPLETE == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{tmp_path / 'run-1'} is already complete (_SUCCESS exists)" in err
    assert {p: p.read_bytes() for p in (tmp_path / "run-1").rglob("*") if p.is_file()} == before
    assert not (tmp_path / ATTEMPTS_DIR).exists()


def test_an_attempt_that_finds_a_live_claim_gives_way_with_one_line(spark, ratings, tmp_path, capsys):
    claim = tmp_path / ATTEMPTS_DIR / "run-1" / CLAIM_FILE
    claim.parent.mkdir(parents=True)
    claim.write_text('{"attempt": "other-attempt"}')
    assert main(_argv(ratings, tmp_path)) == EXIT_RUN_LOST == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert 'run run-1 is being promoted by {"attempt": "other-attempt"}' in err
    assert not (tmp_path / "run-1").exists()
    assert _entries(claim.parent) == [CLAIM_FILE]  # the other attempt's claim is left alone


def test_a_stale_claim_of_a_promotion_that_died_is_broken(spark, ratings, tmp_path):
    claim = tmp_path / ATTEMPTS_DIR / "run-1" / CLAIM_FILE
    claim.parent.mkdir(parents=True)
    claim.write_text('{"attempt": "dead"}')
    old = time.time() - CLAIM_STALE_SECONDS - 60
    os.utime(claim, (old, old))
    _assert_committed(tmp_path, "run-1", _run(spark, ratings, tmp_path))


def _race_for_claim(spark, target: str, contenders: int) -> list:
    barrier = threading.Barrier(contenders)
    won: list = []

    def contend(name: str) -> None:
        barrier.wait()
        if create_exclusive(spark, target, name):
            won.append(name)

    threads = [threading.Thread(target=contend, args=(f"t{n}",)) for n in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return won


def test_exactly_one_of_many_racing_claims_wins(spark, tmp_path):
    for trial in range(5):
        target = tmp_path / f"trial-{trial}" / "_claim"
        won = _race_for_claim(spark, str(target), 8)
        assert len(won) == 1
        assert target.read_text() == won[0]


def test_two_concurrent_attempts_of_one_run_id_end_with_one_winner(spark, ratings, tmp_path):
    outcomes: dict = {}
    barrier = threading.Barrier(2)

    def attempt(name: str) -> None:
        barrier.wait()
        try:
            outcomes[name] = _run(spark, ratings, tmp_path)
        except RunLostError as lost:
            outcomes[name] = lost

    threads = [threading.Thread(target=attempt, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reports = [value for value in outcomes.values() if isinstance(value, dict)]
    lost = [value for value in outcomes.values() if isinstance(value, RunLostError)]
    assert len(reports) == 1 and len(lost) == 1, outcomes
    assert "run-1" in str(lost[0])
    _assert_committed(tmp_path, "run-1", reports[0])
