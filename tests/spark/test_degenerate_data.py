"""Degenerate data ends in a run whose metrics.json says what could not be evaluated and why, or in one line
with exit 2; never in a Spark traceback. Runs with adaptive execution on, as spark-submit and EMR run the job:
it coalesces an empty shuffle to no partitions at all, where Spark's ranking metrics fail ('empty collection')."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spark_jobs.als.job import EXIT_INPUT, main, run
from spark_jobs.als.spark_helpers import session_conf
from tests.spark.job_support import job_args

TRAIN = [(u, i, 1 + (u * i) % 5) for u in range(1, 8) for i in range(1, 8)]
FAST = {"rank": 2, "max_iter": 2, "ranking_rank": 2, "ranking_max_iter": 2, "top_n": 3}  # the outcome is under test


def _write(path: Path, rows: list) -> str:
    path.write_text("".join(f"{u}\t{i}\t{r}\t881250949\n" for u, i, r in rows))
    return str(path)


def _run(spark, tmp_path, name: str, train: list, test: list | None = None, **options) -> dict:
    ratings = _write(tmp_path / f"{name}.data", train)
    test_ratings = _write(tmp_path / f"{name}.test", test) if test is not None else None
    config = job_args(ratings=ratings, test_ratings=test_ratings, output=tmp_path / "out", run_id=name, **options)
    with session_conf(spark, {"spark.sql.adaptive.enabled": "true"}):
        run(spark, config, lambda _: None)
    return json.loads((tmp_path / "out" / name / "metrics.json").read_text())


CASES = {
    # name: (training rows, test rows or None for the seeded split, options, what metrics.json must say)
    "test users and items unseen in training": (
        TRAIN,
        [(100, 100, 4), (101, 1, 5), (102, 3, 5)],
        {},
        {"rmse": "its user and its item", "ranking": "known to the model"},
    ),
    "test items unseen in training": (TRAIN, [(1, 100, 5), (2, 101, 4)], {}, {"rmse": "its user and its item"}),
    "no test rating high enough to be relevant": (TRAIN, [(1, 1, 2), (2, 2, 1), (3, 3, 3)], {}, {"ranking": ">= 4"}),
    # one rating per user: a held-out rating's user is never in training
    "one item": (
        [(u, 1, 1 + u % 5) for u in range(1, 30)],
        None,
        {},
        {"rmse": "its user and its item", "ranking": "known to the model"},
    ),
    # one rating per item: a held-out rating's item is never in training
    "one user": ([(1, i, 1 + i % 5) for i in range(1, 30)], None, {}, {"rmse": "its user and its item"}),
    "test equal to training": (TRAIN, TRAIN, {}, {"ranking": "also a training rating"}),
    "implicit, test users unseen": (TRAIN, [(100, 100, 4)], {"implicit": True}, {"ranking": "known to the model"}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_degenerate_data_is_a_run_that_says_what_was_not_evaluated(spark, tmp_path, case):
    train, test, options, reasons = CASES[case]
    metrics = _run(spark, tmp_path, "degenerate", train, test, **{**FAST, **options})
    assert set(metrics["not_evaluated"]) == set(reasons), metrics["not_evaluated"]
    for key, phrase in reasons.items():
        assert phrase in metrics["not_evaluated"][key], metrics["not_evaluated"]
    if "rmse" in reasons:
        assert metrics["rmse"] is None and metrics["test_rows_evaluated"] == 0
    if "ranking" in reasons and reasons["ranking"] != "also a training rating":
        assert metrics["ranking"]["users_evaluated"] == 0
        assert set(metrics["ranking"]["model"].values()) == {None}
    if case == "test equal to training":
        assert metrics["split"]["test_rows_also_in_training"] == len(TRAIN)


def test_more_parameters_than_ratings_is_a_run_with_a_warning(spark, tmp_path):
    rows = [(1, 1, 4), (2, 2, 5), (1, 2, 3), (3, 1, 2), (3, 3, 4)]
    metrics = _run(spark, tmp_path, "few", rows, [(2, 1, 4)], rank=10, max_iter=2, top_n=3)
    assert metrics["params"]["rank"] == 10 and metrics["rmse"] is not None
    (warning,) = metrics["warnings"]
    assert "--rank 10" in warning and "5 training ratings" in warning, warning


def test_a_normal_run_has_nothing_unevaluated(spark, tmp_path):
    test = [(u, i, r) for u, i, r in TRAIN if (u + i) % 4 == 0]
    metrics = _run(spark, tmp_path, "normal", [row for row in TRAIN if row not in test], test, **FAST)
    assert metrics["not_evaluated"] == {} and metrics["warnings"] == []


def test_tuning_with_nothing_to_hold_out_is_one_line(spark, tmp_path, capsys):
    ratings = _write(tmp_path / "tiny.data", [(1, 1, 4), (2, 2, 5)])
    test = _write(tmp_path / "tiny.test", [(2, 1, 4)])
    argv = ["--ratings", ratings, "--test-ratings", test, "--output", str(tmp_path / "out"), "--tune"]
    argv += ["--tune-ranks", "2", "--tune-reg-params", "0.1", "--max-iter", "2", "--tune-validation-fraction", "0.01"]
    assert main(argv) == EXIT_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "too few training ratings to tune" in err and ratings in err, err
