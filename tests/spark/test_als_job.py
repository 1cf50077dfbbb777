"""The ALS job end to end (spark_jobs/als/): a whole run, the model, ranking metrics, tuning, outputs."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from spark_jobs.als.arguments import parse_args
from spark_jobs.als.attempts import ATTEMPTS_DIR
from spark_jobs.als.config import JobConfig
from spark_jobs.als.evaluation import LIST_SHAPE, item_counts, list_shape, popularity_lists, ranking_metrics
from spark_jobs.als.job import run
from spark_jobs.als.model import (
    BIASED,
    BLEND_WEIGHT,
    DEFAULT_MAX_ITER,
    PLAIN,
    SPARK_DEFAULT_MAX_ITER,
    SPARK_DEFAULT_RANK,
    SPARK_DEFAULT_REG_PARAM,
    Biases,
    ModelChoice,
    blend_models,
    build_als,
    fit_model,
    fold_biases,
)
from spark_jobs.als.ratings import TRAIN, JobInputError, load_ratings
from spark_jobs.als.recommendations import recommend_users
from spark_jobs.als.spark_helpers import CachedFrames
from spark_jobs.als.tuning import TUNE_REG_PARAMS, refine_reg_params, tuning_grid
from spark_jobs.local.synthetic_ratings import generate, oracle_metrics
from tests.spark.job_support import SMALL_SPEC, job_args, train_pairs

OUTPUTS = ["_SUCCESS", "metrics.json", "model", "ranking_model", "recommendations"]


def _metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def _recommendations(spark, run_dir: Path) -> list:
    return [tuple(r) for r in spark.read.parquet(str(run_dir / "recommendations")).collect()]


def _quiet(_: str) -> None:
    """Phase lines are tested on their own; elsewhere they would only clutter the output."""


@pytest.fixture(scope="module")
def synthetic_run(spark, synthetic_dir, tmp_path_factory):
    """One end-to-end run with default model parameters on small synthetic data and its test file."""
    output = tmp_path_factory.mktemp("runs")
    args = job_args(
        ratings=synthetic_dir / "u.data",
        test_ratings=synthetic_dir / "u.test",
        output=output,
        run_id="synthetic",
        top_n=5,
    )
    lines: list = []
    return args, run(spark, args, lines.append), output / "synthetic", lines


# ---------------------------------------------------------------- a whole run


def test_end_to_end_run_writes_every_output(spark, synthetic_run):
    from pyspark.ml.recommendation import ALSModel

    args, report, run_dir, _ = synthetic_run
    assert sorted(p.name for p in run_dir.iterdir() if not p.name.startswith(".")) == OUTPUTS
    assert not (run_dir.parent / ATTEMPTS_DIR).exists()
    metrics = _metrics(run_dir)
    assert metrics == json.loads(json.dumps(report))
    assert metrics["run_id"] == "synthetic" and metrics["spark_version"] == spark.version
    assert metrics["input_rows"] == metrics["split"]["train_rows"] and metrics["split"]["method"] == "test file"
    assert metrics["users"] == SMALL_SPEC.users
    assert metrics["params"]["rank"] == args.rank == 10 and metrics["best_params"] is None
    assert metrics["params"]["reg_param"] == 0.1 and metrics["params"]["max_iter"] == DEFAULT_MAX_ITER
    assert set(metrics["phase_seconds"]) == {
        "load_validate",
        "train",
        "train_ranking",
        "evaluate",
        "recommend",
        "rank_evaluate",
        "save_model",
    }
    for key in ("rmse", "mae", "baseline_rmse", "baseline_mae"):
        assert 0 < metrics[key] < 2

    model = ALSModel.load(str(run_dir / "model"))
    # The blend: the plain model's factors beside the biased model's, whose two extra columns carry the biases.
    assert metrics["params"]["model"] == "blend"
    assert model.rank == metrics["model_rank"] == args.rank + (args.rank + 2)
    recommendations = spark.read.parquet(str(run_dir / "recommendations"))
    assert recommendations.columns == ["user", "rank", "item", "score"]
    assert recommendations.count() == SMALL_SPEC.users * 5 == metrics["recommendations"]["rows"]
    assert sorted({r["rank"] for r in recommendations.select("rank").distinct().collect()}) == [1, 2, 3, 4, 5]


def test_each_phase_prints_one_line_as_it_ends(synthetic_run):
    _, metrics, _, lines = synthetic_run
    assert [line.split()[1] for line in lines] == list(metrics["phase_seconds"])
    assert re.fullmatch(
        rf"phase load_validate \d+\.\d s {metrics['input_rows'] + metrics['split']['test_rows']} rows", lines[0]
    )
    assert any(re.fullmatch(r"phase rank_evaluate \d+\.\d s \d+ users", line) for line in lines)


def test_rmse_clearly_beats_the_bias_baseline_and_nears_the_oracle(synthetic_run):
    _, metrics, _, _ = synthetic_run
    oracle = oracle_metrics(generate(SMALL_SPEC))["oracle_rmse"]
    assert metrics["rmse"] < 0.95 * metrics["baseline_rmse"]
    assert oracle < metrics["rmse"] < 1.2 * oracle


def test_recommendations_never_repeat_a_training_item_and_are_each_users_top_unrated(
    spark, synthetic_run, synthetic_dir
):
    from pyspark.ml.recommendation import ALSModel

    _, _, run_dir, _ = synthetic_run
    rated = train_pairs(synthetic_dir)
    recommended = _recommendations(spark, run_dir)
    assert not {(u, i) for u, _, i, _ in recommended} & rated
    # Brute force: every (user, item) scored by the saved ranking model, the best 5 unrated per user.
    model = ALSModel.load(str(run_dir / "ranking_model"))
    users = sorted({u for u, _ in rated})
    items = sorted({i for _, i in rated})
    pairs = spark.createDataFrame([(u, i) for u in users[:40] for i in items], "user int, item int")
    scores: dict = {}
    for row in model.transform(pairs).collect():
        scores.setdefault(row.user, []).append((-row.prediction, row.item))
    expected = {
        u: [i for _, i in sorted(s for s in scored if (u, s[1]) not in rated)[:5]] for u, scored in scores.items()
    }
    got: dict = {}
    for user, _, item, _ in sorted(recommended):
        if user in expected:
            got.setdefault(user, []).append(item)
    assert got == expected


def test_users_who_rated_almost_everything_get_what_is_left(spark, tmp_path):
    """A user with fewer than top-N unrated items gets exactly those; candidates are fetched in rounds."""
    rows = [(u, i, 1 + (u * 7 + i * 3) % 5) for u in range(1, 31) for i in range(1, 61) if (u + i) % 3 == 0]
    rows += [(99, i, 1 + i % 5) for i in range(1, 59)]  # user 99 rated all but items 59 and 60
    path = tmp_path / "u.data"
    path.write_text("".join(f"{u}\t{i}\t{r}\t1\n" for u, i, r in rows))
    test = tmp_path / "u.test"
    test.write_text("1\t1\t4\t1\n99\t59\t5\t1\n")
    report = run(
        spark,
        job_args(
            ratings=path, test_ratings=test, output=tmp_path / "runs", run_id="full", top_n=5, max_iter=2, model="plain"
        ),
        _quiet,
    )
    recommended = _recommendations(spark, tmp_path / "runs" / "full")
    assert sorted(i for u, _, i, _ in recommended if u == 99) == [59, 60]
    assert report["recommendations"]["candidate_rounds"] == [20, 60]
    assert all(len([1 for u, *_ in recommended if u == user]) == 5 for user in range(1, 31))


def test_recommendations_only_for_the_listed_users(spark, synthetic_part, tmp_path):
    report = run(
        spark,
        job_args(
            ratings=synthetic_part,
            output=tmp_path,
            run_id="listed",
            recommend_users="3, 5,999999",
            max_iter=2,
            model="plain",
            top_n=4,
        ),
        _quiet,
    )
    recommended = _recommendations(spark, tmp_path / "listed")
    assert sorted({u for u, *_ in recommended}) == [3, 5]
    assert len(recommended) == 8
    assert {key: report["recommendations"][key] for key in ("users_requested", "users_unknown", "users", "rows")} == {
        "users_requested": 3,
        "users_unknown": 1,
        "users": 2,
        "rows": 8,
    }
    assert report["ranking"]["users_evaluated"] > 2  # evaluation still covers every test user


def test_the_users_to_recommend_for_come_from_a_list_or_a_file(spark, tmp_path):
    users_file = tmp_path / "users.txt"
    users_file.write_text("3\n 5\n\n3\n999999\n")
    assert sorted(r.user for r in recommend_users(spark, "3,5, 999999,3").collect()) == [3, 5, 999999]
    assert sorted(r.user for r in recommend_users(spark, str(users_file)).collect()) == [3, 5, 999999]
    users_file.write_text("3\nbob\n")
    with pytest.raises(JobInputError, match="'bob' is not a user id"):
        recommend_users(spark, str(users_file))
    with pytest.raises(JobInputError, match="an id above 2147483647"):
        recommend_users(spark, "1,2147483648")


# ---------------------------------------------------------------- model, ranking metrics, baselines


def test_folded_model_predicts_mu_plus_biases_plus_the_residual_factors(spark, synthetic_part):
    args = job_args(ratings=synthetic_part, max_iter=3)
    with CachedFrames() as cache:
        loaded = load_ratings(spark, args, cache)
        train = loaded.split(TRAIN)
        biases = Biases(train, loaded.mu, args.baseline_reg, cache)
        residual_model = build_als(args, 4, 0.1, 2).fit(biases.residual(train))
        folded = fold_biases(spark, residual_model, biases, cache)
        pairs = train.select("user", "item").limit(50)
        expected = {
            (r.user, r.item): r.prediction + r.baseline
            for r in residual_model.transform(biases.with_baseline(pairs)).collect()
        }
        got = {(r.user, r.item): r.prediction for r in folded.transform(pairs).collect()}
    assert got.keys() == expected.keys() and len(got) == 50
    assert all(abs(got[key] - expected[key]) < 1e-4 for key in got)


def test_blended_model_predicts_the_weighted_mean_of_the_plain_and_the_biased_model(spark, synthetic_part):
    args = job_args(ratings=synthetic_part, max_iter=3)
    with CachedFrames() as cache:
        loaded = load_ratings(spark, args, cache)
        train = loaded.split(TRAIN)
        biases = Biases(train, loaded.mu, args.baseline_reg, cache)
        plain = fit_model(spark, train, None, args, ModelChoice(PLAIN, 3, 0.1), 2, cache)
        biased = fit_model(spark, train, biases, args, ModelChoice(BIASED, 4, 0.1), 2, cache)
        pairs = train.select("user", "item").limit(50)
        predictions = {
            name: {(r.user, r.item): r.prediction for r in model.transform(pairs).collect()}
            for name, model in (("plain", plain), ("biased", biased))
        }
        for weight in (BLEND_WEIGHT, 0.2):
            blended = blend_models(spark, plain, biased, weight, cache)
            assert blended.rank == 3 + 4 + 2
            got = {(r.user, r.item): r.prediction for r in blended.transform(pairs).collect()}
            assert got.keys() == predictions["plain"].keys() and len(got) == 50
            for key, value in got.items():
                expected = weight * predictions["plain"][key] + (1 - weight) * predictions["biased"][key]
                assert abs(value - expected) < 1e-4


def test_ranking_metrics_match_hand_computed_values(spark):
    labels = spark.createDataFrame([(1, [10.0, 20.0]), (2, [30.0]), (3, [40.0])], "user int, label array<double>")
    lists = spark.createDataFrame(
        [(1, [(0, 10, 1.0), (1, 11, 0.9)]), (2, [(0, 31, 1.0), (1, 30, 0.5)])],
        "user int, recs array<struct<position:int, item:int, score:float>>",
    )  # user 3 has no list: it counts as an empty one
    metrics = ranking_metrics(labels, lists, 2)
    assert metrics["precision_at_n"] == pytest.approx((1 / 2 + 1 / 2 + 0) / 3)
    assert metrics["recall_at_n"] == pytest.approx((1 / 2 + 1 + 0) / 3)
    assert metrics["map_at_n"] == pytest.approx((1 / 2 + 1 / 2 / 1 + 0) / 3)
    ndcg_user_2 = (1 / np.log2(3)) / 1.0
    ndcg_user_1 = 1.0 / (1 + 1 / np.log2(3))
    assert metrics["ndcg_at_n"] == pytest.approx((ndcg_user_1 + ndcg_user_2 + 0) / 3)


def test_ranking_metrics_are_the_values_sparks_ranking_evaluator_gives(spark):
    """ranking_metrics reads every metric from one RankingMetrics (RankingEvaluator.getMetrics): each value is the
    one RankingEvaluator.evaluate gives for its metric name, exactly; asked for some keys, it gives only those."""
    from pyspark.ml.evaluation import RankingEvaluator
    from pyspark.sql import functions as F

    rng = np.random.default_rng(11)
    labels = spark.createDataFrame(
        [(u, [float(i) for i in rng.choice(40, size=int(rng.integers(1, 7)), replace=False)]) for u in range(1, 301)],
        "user int, label array<double>",
    )
    lists = spark.createDataFrame(
        [
            (u, [(p, int(i), 1.0) for p, i in enumerate(rng.choice(40, size=int(rng.integers(0, 9)), replace=False))])
            for u in range(1, 271)
        ],  # users 271-300 have no list; some lists are empty or shorter than k
        "user int, recs array<struct<position:int, item:int, score:float>>",
    )
    joined = labels.join(
        lists.select("user", F.expr("transform(recs, r -> cast(r.item as double))").alias("prediction")), "user", "left"
    ).select("label", F.coalesce("prediction", F.array().cast("array<double>")).alias("prediction"))
    names = {
        "precision_at_n": "precisionAtK",
        "recall_at_n": "recallAtK",
        "ndcg_at_n": "ndcgAtK",
        "map_at_n": "meanAveragePrecisionAtK",
    }
    expected = {}
    for k in (1, 5, 10):
        evaluator = RankingEvaluator(predictionCol="prediction", labelCol="label", k=k)
        expected[k] = {key: evaluator.setMetricName(name).evaluate(joined) for key, name in names.items()}
        assert ranking_metrics(labels, lists, k) == expected[k]
        assert all(0 < value < 1 for value in expected[k].values())
    assert ranking_metrics(labels, lists, 5, keys=("ndcg_at_n",)) == {"ndcg_at_n": expected[5]["ndcg_at_n"]}


def test_popularity_lists_skip_each_users_rated_items(spark):
    train = spark.createDataFrame(
        [
            (1, 100, 5.0),
            (2, 100, 4.0),
            (3, 100, 4.0),
            (1, 200, 4.0),
            (2, 200, 5.0),
            (3, 300, 4.0),
            (4, 400, 2.0),
            (4, 100, 1.0),
        ],
        "user int, item int, rating double",
    )
    users = spark.createDataFrame([(1,), (3,), (4,)], "user int")
    lists = popularity_lists(train, users, train["rating"] >= 4, 2)
    got = {r.user: [x.item for x in r.recs] for r in lists.collect()}
    # Popularity among ratings >= 4: 100 (3), 200 (2), 300 (1); 400 has no positive rating.
    assert got == {1: [300], 3: [200], 4: [200, 300]}


def test_list_shape_counts_coverage_and_long_tail_recommendations(spark):
    # Training counts: item 1 has 5 ratings, item 2 has 4 (long tail), item 3 has 1, item 4 has 5.
    train = spark.createDataFrame(
        [(u, 1, 4.0) for u in range(5)]
        + [(u, 2, 3.0) for u in range(4)]
        + [(9, 3, 5.0)]
        + [(u, 4, 2.0) for u in range(5)],
        "user int, item int, rating double",
    )
    lists = spark.createDataFrame(
        [(1, [(0, 1, 1.0), (1, 2, 0.5)]), (2, [(0, 1, 1.0), (1, 3, 0.2)]), (3, [(0, 2, 0.9)])],
        "user int, recs array<struct<position:int, item:int, score:float>>",
    )
    # Recommended: items 1, 2, 3 of 4 in the catalogue; of 5 recommendations, 2, 3 and 2 are in the tail.
    assert list_shape(lists, item_counts(train), 4) == {
        "coverage": 0.75,
        "items_recommended": 3,
        "long_tail_share": 3 / 5,
    }


def test_metrics_json_reports_ranking_metrics_beside_popularity(synthetic_run):
    _, metrics, _, _ = synthetic_run
    ranking = metrics["ranking"]
    assert ranking["n"] == 5 and ranking["relevant"] == "held-out rating >= 4"
    assert ranking["users_evaluated"] > 0.8 * SMALL_SPEC.users
    for model in ("model", "popularity"):
        assert set(ranking[model]) == {"precision_at_n", "recall_at_n", "ndcg_at_n", "map_at_n", *LIST_SHAPE}
        shares = {key: ranking[model][key] for key in ("precision_at_n", "recall_at_n", "ndcg_at_n", "map_at_n")}
        assert all(0 < value <= 1 for value in shares.values())
        assert 0 < ranking[model]["coverage"] <= 1 and 0 <= ranking[model]["long_tail_share"] <= 1
        assert ranking[model]["items_recommended"] == round(ranking[model]["coverage"] * metrics["items"])


def test_implicit_mode_trains_recommends_and_reports_ranking_metrics(spark, synthetic_dir, tmp_path):
    lines = (synthetic_dir / "u.data").read_text().splitlines()[:3000]
    counts = tmp_path / "plays.data"
    counts.write_text("\n".join([*lines, "1\t1\t40\t1"]) + "\n")  # 40 plays: fine when implicit
    args = job_args(
        ratings=counts,
        test_ratings=synthetic_dir / "u.test",
        output=tmp_path,
        run_id="implicit",
        implicit=True,
        max_iter=3,
        top_n=3,
    )
    report = run(spark, args, _quiet)
    assert report["params"]["implicit"] is True and report["params"]["max_rating"] is None
    assert report["params"]["model"] == "plain" and report["params"]["biases"] is False
    assert report["model_rank"] == 10
    assert report["rejected_rows"]["rating_out_of_range"] == 0
    assert report["rmse"] is None and report["baseline_rmse"] is None
    assert report["ranking"]["relevant"] == "every held-out rating"
    assert report["ranking"]["users_evaluated"] > 0
    assert report["ranking"]["model"]["precision_at_n"] > 0 and report["ranking"]["popularity"]["recall_at_n"] > 0
    recommended = _recommendations(spark, tmp_path / "implicit")
    train_pairs = {(int(line.split("\t")[0]), int(line.split("\t")[1])) for line in [*lines, "1\t1"]}
    assert recommended and not {(u, i) for u, _, i, _ in recommended} & train_pairs


# ---------------------------------------------------------------- parameters and tuning


def test_defaults_are_at_least_sparks_documented_als_defaults():
    args = parse_args(["--ratings", "r", "--output", "o"])
    assert (args.rank, args.reg_param) == (SPARK_DEFAULT_RANK, SPARK_DEFAULT_REG_PARAM) == (10, 0.1)
    assert args.max_iter >= SPARK_DEFAULT_MAX_ITER == 10
    assert args.model == "blend" and args.relevant_rating == 4.0 and args.top_n == 10
    implicit = parse_args(["--ratings", "r", "--output", "o", "--implicit"])
    assert implicit.model == "plain" and implicit.relevant_rating is None
    for flags in (["--implicit", "--biases"], ["--implicit", "--model", "blend"], ["--implicit", "--model", "biased"]):
        with pytest.raises(SystemExit):
            parse_args(["--ratings", "r", "--output", "o", *flags])


def test_the_configuration_is_resolved_once_and_never_changes():
    config = parse_args(["--ratings", "r", "--output", "o", "--tune-ranks", "5,3", "--implicit"])
    assert isinstance(config, JobConfig)
    assert (config.min_rating, config.max_rating, config.tune_ranks) == (0.0, math.inf, (5, 3))
    for name, value in (("rank", 20), ("model", "blend"), ("run_id", "other")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(config, name, value)


@pytest.mark.parametrize(
    ("flags", "model", "tune_models"),
    [
        ([], "blend", ("blend", "biased", "plain")),
        (["--model", "biased"], "biased", ("biased",)),
        (["--model", "plain"], "plain", ("plain",)),
        (["--model", "blend"], "blend", ("blend",)),
        (["--no-biases"], "plain", ("plain",)),  # Spark's ALS on the raw ratings
        (["--biases"], "biased", ("biased",)),
        (["--biases", "--model", "biased"], "biased", ("biased",)),
        (["--implicit"], "plain", ("plain",)),
        (["--implicit", "--no-biases"], "plain", ("plain",)),
    ],
)
def test_model_flags_choose_the_model_and_what_tune_searches(flags, model, tune_models):
    args = parse_args(["--ratings", "r", "--output", "o", *flags])
    assert (args.model, args.tune_models) == (model, tune_models)


@pytest.mark.parametrize(
    "flags", [["--no-biases", "--model", "blend"], ["--biases", "--model", "plain"], ["--model", "svd"]]
)
def test_contradicting_model_flags_fail_naming_both(flags, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--ratings", "r", "--output", "o", *flags])
    assert exit_info.value.code == 2
    assert "--model" in capsys.readouterr().err


def test_the_tuning_grid_scales_with_the_data_and_always_holds_sparks_defaults():
    args = parse_args(["--ratings", "r", "--output", "o", "--tune"])
    ranks, reg_params = tuning_grid(args, 2_000, 300, 200)
    assert ranks == [5, 10] and 0.1 in reg_params and min(reg_params) <= 0.01 and max(reg_params) >= 1
    assert tuning_grid(args, 72_000, 943, 1682)[0] == [5, 10, 20]  # MovieLens 100K-sized
    assert tuning_grid(args, 720_000, 6040, 3706)[0] == [5, 10, 20, 40]  # 1M-sized
    assert tuning_grid(args, 16_000_000, 138_000, 27_000)[0] == [5, 10, 20, 40, 80]  # 20M-sized
    chosen = parse_args(["--ratings", "r", "--output", "o", "--tune-ranks", "3,7", "--tune-reg-params", "0.2"])
    assert tuning_grid(chosen, 720_000, 6040, 3706) == ([3, 7], [0.2])


def test_tuning_searches_the_grid_and_refits_the_best(spark, synthetic_part, tmp_path):
    args = job_args(
        ratings=synthetic_part,
        output=tmp_path,
        run_id="tuned",
        lists="rating",  # the RMSE search alone; the ranking search has its own test (test_ranking.py)
        tune=True,
        tune_ranks="1,4",
        tune_reg_params="0.05,0.5",
        tune_parallelism=2,
        max_iter=2,
        top_n=1,
    )
    report = run(spark, args, _quiet)
    tuning = report["tuning"]
    assert tuning["models"] == ["blend", "biased", "plain"]
    assert [(g["model"], g["rank"], g["reg_param"]) for g in tuning["grid"]] == [
        (model, rank, reg) for rank, reg in [(1, 0.05), (1, 0.5), (4, 0.05), (4, 0.5)] for model in tuning["models"]
    ]
    best = min(tuning["grid"], key=lambda g: g["validation_rmse"])
    chosen = {"model": best["model"], "rank": best["rank"], "reg_param": best["reg_param"]}
    assert report["best_params"] == tuning["best_params"] == chosen
    assert report["params"]["model"] == best["model"] and report["params"]["rank"] == best["rank"]
    extra = {"plain": 0, "biased": 2, "blend": best["rank"] + 2}[best["model"]]
    assert report["model_rank"] == best["rank"] + extra
    assert tuning["fit_rows"] + tuning["validation_rows"] == report["split"]["train_rows"]
    assert abs(tuning["validation_rows"] / report["split"]["train_rows"] - 0.2) < 0.03
    assert _metrics(tmp_path / "tuned")["tuning"] == tuning


def test_default_tuning_goes_coarse_then_fine_around_the_best_regularisation(spark, synthetic_part, tmp_path):
    assert refine_reg_params(0.1) == [0.05, 0.07, 0.1, 0.14, 0.2]
    args = job_args(
        ratings=synthetic_part,
        output=tmp_path,
        run_id="coarse-fine",
        lists="rating",  # the RMSE search alone; the ranking search has its own test (test_ranking.py)
        model="biased",  # one fit per candidate; the search over models is tested above
        tune=True,
        tune_ranks="2",
        max_iter=2,
        top_n=1,
    )
    tuning = run(spark, args, _quiet)["tuning"]
    coarse = [g for g in tuning["grid"] if g["rank"] == SPARK_DEFAULT_RANK]
    assert [g["reg_param"] for g in coarse] == [reg for reg in TUNE_REG_PARAMS for _ in tuning["models"]]
    best_coarse = min(coarse, key=lambda g: g["validation_rmse"])["reg_param"]
    fine = [g["reg_param"] for g in tuning["grid"] if g["rank"] == 2]
    assert fine == [reg for reg in refine_reg_params(best_coarse) for _ in tuning["models"]]
    assert tuning["stages"] == {"coarse": 5, "fine": 5}
    assert tuning["best_params"] in [
        {"model": g["model"], "rank": g["rank"], "reg_param": g["reg_param"]} for g in tuning["grid"]
    ]


def test_tuning_with_a_model_given_searches_only_that_model(spark, synthetic_part, tmp_path):
    args = job_args(
        ratings=synthetic_part,
        output=tmp_path,
        run_id="tuned-plain",
        lists="rating",  # the RMSE search alone; the ranking search has its own test (test_ranking.py)
        model="plain",
        tune=True,
        tune_ranks="2",
        tune_reg_params="0.1,0.3",
        max_iter=2,
        top_n=1,
    )
    report = run(spark, args, _quiet)
    assert report["tuning"]["models"] == ["plain"]
    assert {g["model"] for g in report["tuning"]["grid"]} == {"plain"} and len(report["tuning"]["grid"]) == 2
    assert report["params"]["model"] == "plain" and report["model_rank"] == 2


def test_same_seed_gives_the_same_metrics(spark, synthetic_part, tmp_path):
    """The split is seeded (and independent of partitioning, tested above); so is ALS's initialisation."""
    runs = [
        run(
            spark,
            job_args(
                ratings=synthetic_part, output=tmp_path, run_id=run_id, seed=3, top_n=1, max_iter=3, ranking_max_iter=3
            ),
            _quiet,
        )
        for run_id in ("first", "second")
    ]
    first, second = runs
    assert first["split"] == second["split"]
    for key in ("rmse", "mae", "baseline_rmse", "baseline_mae"):
        assert first[key] == pytest.approx(second[key], abs=1e-9)
    assert first["ranking"] == second["ranking"]


def test_a_file_with_some_bad_rows_reports_them_in_metrics_json(spark, synthetic_dir, tmp_path):
    lines = (synthetic_dir / "u.data").read_text().splitlines()[:3000]
    dirty = tmp_path / "dirty.data"
    dirty.write_text("\n".join([*lines, "1\t1", "2\t3\t7\t1", "-4\t1\t3\t1"]) + "\n")
    run(
        spark,
        job_args(
            ratings=dirty,
            output=tmp_path,
            run_id="dirty",
            top_n=1,
            checkpoint_dir=tmp_path / "checkpoints",
            checkpoint_interval=2,
            max_iter=4,
            model="biased",
        ),
        _quiet,
    )
    metrics = _metrics(tmp_path / "dirty")
    assert metrics["input_rows"] == 3003
    assert metrics["rejected_rows"] == {
        "malformed": 1,
        "rating_out_of_range": 1,
        "negative_id": 1,
        "missing_id": 0,
        "id_too_large": 0,
        "duplicate": 0,
    }
    assert metrics["input"]["first_rejected_line"]["line_number"] == 3001
    # checkpointInterval=2 with a checkpoint dir: ALS wrote checkpoints there.
    assert any((tmp_path / "checkpoints").rglob("*"))


def test_default_run_ids_are_time_based_and_unique():
    ids = {parse_args(["--ratings", "r", "--output", "o"]).run_id for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", run_id) for run_id in ids)
    with pytest.raises(SystemExit):
        parse_args(["--ratings", "r", "--output", "o", "--run-id", "../escape"])
