"""The ranking model (spark_jobs/als/ranking.py), its tuning by NDCG, and --items' sample user (titles.py)."""

from __future__ import annotations

import json

import pytest

from spark_jobs.als.arguments import parse_args
from spark_jobs.als.job import run
from spark_jobs.als.ranking import (
    DEFAULT_RANKING_ALPHA,
    DEFAULT_RANKING_RANK,
    PREFERENCE_OFFSET,
    RANKING,
    RATING,
    RankingChoice,
    fit_ranking_model,
    preferences,
    scaled_rank,
)
from spark_jobs.als.ratings import JobInputError
from spark_jobs.als.titles import read_titles, sample_lines, sample_user
from spark_jobs.als.tuning import RANKING_TUNE_ALPHAS, RANKING_TUNE_REG_PARAMS
from tests.spark.job_support import job_args, train_pairs


def _quiet(_: str) -> None:
    """Phase lines are tested in test_als_job.py."""


# ---------------------------------------------------------------- flags


def test_explicit_runs_list_from_the_ranking_model_unless_told_otherwise():
    config = parse_args(["--ratings", "r", "--output", "o"])
    assert (config.lists, config.ranking_rank, config.ranking_alpha) == (RANKING, None, 0.3)
    assert (DEFAULT_RANKING_RANK, DEFAULT_RANKING_ALPHA, PREFERENCE_OFFSET) == (20, 0.3, 2.0)
    assert parse_args(["--ratings", "r", "--output", "o", "--ranking-rank", "7"]).ranking_rank == 7
    assert parse_args(["--ratings", "r", "--output", "o", "--lists", "rating"]).lists == RATING
    # Under --implicit the fitted model ranks by preference already: it is the lists' only source.
    assert parse_args(["--ratings", "r", "--output", "o", "--implicit"]).lists == RATING


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--implicit", "--lists", "ranking"], "--lists ranking applies to explicit ratings"),
        (["--lists", "best"], "invalid choice: 'best'"),
        (["--ranking-alpha", "-1"], "--alpha and --ranking-alpha must be non-negative"),
        (["--ranking-reg-param", "-0.1"], "--ranking-reg-param"),
        (["--ranking-rank", "0"], "--ranking-rank must be at least 1"),
        (["--ranking-max-iter", "0"], "--ranking-max-iter must be at least 1"),
    ],
)
def test_bad_ranking_flags_fail_with_one_line_naming_the_flag(flags, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--ratings", "r", "--output", "o", *flags])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err.strip().splitlines()[-1]


# ---------------------------------------------------------------- the model


@pytest.mark.parametrize(
    ("ratings", "users", "items", "rank"),
    [
        (90_000, 943, 1682, 20),  # MovieLens 100K's training split: 34 ratings per user-or-item
        (27_000, 943, 1483, 10),  # a random 30% of it: 11
        (1_000, 943, 1682, 10),  # below every rank: the smallest
        (900_000, 6040, 3706, 20),  # MovieLens 1M: 92, capped at the largest
    ],
)
def test_the_default_rank_is_the_largest_the_data_supports(ratings, users, items, rank):
    assert scaled_rank(ratings, users, items) == rank


def test_preferences_are_ratings_minus_the_offset(spark):
    train = spark.createDataFrame(
        [(1, 1, 5.0), (1, 2, 2.0), (2, 1, 1.0), (2, 2, 4.0), (2, 3, 3.5)], "user int, item int, rating double"
    )
    got = {(r.user, r.item): r.rating for r in preferences(train).collect()}
    # 5 stars: liked, confidence 1 + 3 alpha; 2 stars: as if unrated; 1 star: disliked, confidence 1 + alpha.
    assert got == {(1, 1): 3.0, (1, 2): 0.0, (2, 1): -1.0, (2, 2): 2.0, (2, 3): 1.5}


def test_users_and_items_without_a_positive_preference_are_left_out_of_the_ranking_fit(spark):
    # User 3 rated nothing above the offset and item 4 was liked by nobody: Spark's implicit ALS would solve
    # them without regularisation, singular here (four items rated alike by everyone, rank 10).
    rows = [(u, i, 5.0) for u in (1, 2) for i in (1, 2, 3)] + [(3, i, 1.0) for i in (1, 2, 3, 4)] + [(1, 4, 2.0)]
    train = spark.createDataFrame(rows, "user int, item int, rating double")
    kept = {(r.user, r.item) for r in preferences(train).collect()}
    assert kept == {(u, i) for u in (1, 2) for i in (1, 2, 3)}
    model = fit_ranking_model(train, job_args(ratings="unused", output="unused"), RankingChoice(10, 0.1, 0.3), 1)
    assert sorted(row.id for row in model.userFactors.collect()) == [1, 2]


def test_a_ranking_model_without_regularisation_is_refused():
    with pytest.raises(SystemExit):
        parse_args(["--ratings", "r", "--output", "o", "--ranking-reg-param", "0"])


def test_the_written_lists_come_from_the_ranking_model_and_the_rating_model_is_unchanged(
    spark, synthetic_dir, tmp_path
):
    """Same data, same split: the default lists (ranking model) against --lists rating's, by NDCG."""
    reports = {}
    for lists in (RANKING, RATING):
        args = job_args(
            ratings=synthetic_dir / "u.data",
            test_ratings=synthetic_dir / "u.test",
            output=tmp_path,
            run_id=lists,
            lists=lists,
            max_iter=5,
            top_n=5,
        )
        reports[lists] = run(spark, args, _quiet)
    ranked, rated = reports[RANKING], reports[RATING]
    assert ranked["ranking"]["lists_from"] == RANKING and rated["ranking"]["lists_from"] == RATING
    assert ranked["params"]["ranking"] == {
        "lists_from": RANKING,
        "rank": scaled_rank(ranked["split"]["train_rows"], ranked["users"], ranked["items"]),
        "reg_param": 0.1,
        "alpha": 0.3,
        "max_iter": 10,
        "preference": "rating - 2",
    }
    assert rated["params"]["ranking"] == {"lists_from": RATING}
    assert (tmp_path / RANKING / "ranking_model").is_dir() and not (tmp_path / RATING / "ranking_model").exists()
    # The rating model is the same either way: the explicit side does not change.
    assert ranked["rmse"] == pytest.approx(rated["rmse"], abs=1e-9)
    # The synthetic generator draws which items a user rates by popularity alone (taste decides only the stars),
    # which leaves little for any model to find beyond popularity; bench/topn_bench.py measures the lists on real
    # ratings. Here the ranking model's lists still score above the rating model's.
    assert ranked["ranking"]["model"]["ndcg_at_n"] > rated["ranking"]["model"]["ndcg_at_n"]
    written = {(r.user, r.item) for r in spark.read.parquet(str(tmp_path / RANKING / "recommendations")).collect()}
    assert written and not written & train_pairs(synthetic_dir)


# ---------------------------------------------------------------- tuning by NDCG


def test_tune_chooses_the_ranking_model_by_validation_ndcg(spark, synthetic_part, tmp_path):
    args = job_args(
        ratings=synthetic_part,
        output=tmp_path,
        run_id="tuned",
        model="biased",
        tune=True,
        tune_ranks="2",
        tune_reg_params="0.1",
        ranking_max_iter=2,
        max_iter=2,
        top_n=5,
    )
    report = run(spark, args, _quiet)
    tuning = report["ranking_tuning"]
    assert tuning["metric"] == "ndcg_at_5" and tuning["method"] == "holdout"
    coarse = [(g["rank"], g["reg_param"], g["alpha"]) for g in tuning["grid"][: tuning["stages"]["coarse"]]]
    assert coarse == [(20, reg, alpha) for alpha in RANKING_TUNE_ALPHAS for reg in RANKING_TUNE_REG_PARAMS]
    best = max(tuning["grid"], key=lambda g: g["validation_ndcg"])
    later = tuning["grid"][tuning["stages"]["coarse"] :]
    best_coarse = max(tuning["grid"][: tuning["stages"]["coarse"]], key=lambda g: g["validation_ndcg"])
    assert all((g["reg_param"], g["alpha"]) == (best_coarse["reg_param"], best_coarse["alpha"]) for g in later)
    assert all(0 <= g["validation_ndcg"] <= 1 for g in tuning["grid"])
    assert tuning["best_params"] == {key: best[key] for key in ("rank", "reg_param", "alpha")}
    assert {key: report["params"]["ranking"][key] for key in ("rank", "reg_param", "alpha")} == tuning["best_params"]
    assert "tune_ranking" in report["phase_seconds"]
    metrics = json.loads((tmp_path / "tuned" / "metrics.json").read_text())
    assert metrics["ranking_tuning"] == tuning


# ---------------------------------------------------------------- --items


@pytest.mark.parametrize(
    ("name", "lines", "encoding"),
    [
        (
            "u.item",
            ["1|Toy Story (1995)|01-Jan-1995||http://x|0|1", "2|Misérables, Les (1995)|01-Jan-1995||x|0|0"],
            "latin-1",
        ),
        (
            "movies.csv",
            ["movieId,title,genres", "1,Toy Story (1995),Comedy", '2,"Misérables, Les (1995)",Drama'],
            "utf-8",
        ),
        ("movies.dat", ["1::Toy Story (1995)::Comedy", "2::Misérables, Les (1995)::Drama"], "latin-1"),
    ],
)
def test_titles_come_from_each_movielens_item_file(spark, tmp_path, name, lines, encoding):
    path = tmp_path / name
    path.write_bytes("".join(line + "\n" for line in lines).encode(encoding))
    titles = {r.item: r.title for r in read_titles(spark, str(path)).collect()}
    assert titles == {1: "Toy Story (1995)", 2: "Misérables, Les (1995)"}


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "no lines"), ("just some words\n", "fits none of"), ("title|id\nx|y\n", "no line starts with an item id")],
)
def test_an_unusable_item_file_fails_naming_it_and_the_formats(spark, tmp_path, text, message):
    path = tmp_path / "items.txt"
    path.write_text(text)
    with pytest.raises(JobInputError, match=message) as error:
        read_titles(spark, str(path))
    assert str(path) in str(error.value) and "u.item" in str(error.value) and "movies.csv" in str(error.value)


def test_the_sample_user_shows_their_list_beside_their_highest_rated_items(spark):
    train = spark.createDataFrame(
        [(7, 1, 3.0), (7, 2, 5.0), (7, 3, 5.0), (9, 1, 1.0)], "user int, item int, rating double"
    )
    lists = spark.createDataFrame(
        [(9, [(0, 2, 0.9)]), (7, [(0, 5, 0.8), (1, 4, 0.7)]), (3, [])],
        "user int, recs array<struct<position:int, item:int, score:float>>",
    )
    titles = spark.createDataFrame([(2, "Two"), (3, "Three"), (4, "Four"), (5, "Five")], "item int, title string")
    sample = sample_user(lists, train, titles)
    assert sample is not None and sample["user"] == 7  # the lowest id with a non-empty list
    assert [(e["item"], e["title"]) for e in sample["recommended"]] == [(5, "Five"), (4, "Four")]
    assert [(e["item"], e["title"], e["rating"]) for e in sample["top_rated"]] == [
        (2, "Two", 5.0),
        (3, "Three", 5.0),
        (1, None, 3.0),
    ]
    lines = sample_lines(sample)
    assert lines[0] == "sample user 7: top 2 recommended | highest-rated in training"
    assert lines[1].split("|")[0].strip() == "1. Five" and lines[1].split("|")[1].strip() == "Two (5)"
    assert lines[3].split("|")[0].strip() == "3." and lines[3].split("|")[1].strip() == "item 1 (3)"


def test_items_prints_the_sample_user_and_writes_it_to_metrics_json(spark, synthetic_dir, tmp_path):
    items = tmp_path / "u.item"
    items.write_text("".join(f"{item}|Film {item} (1999)|01-Jan-1999\n" for item in range(1, 300)))
    lines: list = []
    args = job_args(
        ratings=synthetic_dir / "u.data",
        test_ratings=synthetic_dir / "u.test",
        output=tmp_path,
        run_id="titled",
        items=items,
        max_iter=2,
        ranking_max_iter=2,
        top_n=3,
    )
    report = run(spark, args, lines.append)
    sample = report["sample_user"]
    assert [line for line in lines if line.startswith("sample user")] == [
        f"sample user {sample['user']}: top 3 recommended | highest-rated in training"
    ]
    assert all(entry["title"] == f"Film {entry['item']} (1999)" for entry in sample["recommended"])
    assert len(sample["top_rated"]) == 10
    ratings = [entry["rating"] for entry in sample["top_rated"]]
    assert ratings == sorted(ratings, reverse=True)
    assert json.loads((tmp_path / "titled" / "metrics.json").read_text())["sample_user"] == sample


def test_a_bad_item_file_fails_the_run_before_any_model_is_fitted(spark, synthetic_dir, tmp_path):
    items = tmp_path / "items.txt"
    items.write_text("no titles here\n")
    lines: list = []
    args = job_args(ratings=synthetic_dir / "u.data", output=tmp_path, run_id="bad-items", items=items)
    with pytest.raises(JobInputError, match="--items"):
        run(spark, args, lines.append)
    assert not any(line.startswith("phase") for line in lines)
    assert not (tmp_path / "bad-items").exists()
