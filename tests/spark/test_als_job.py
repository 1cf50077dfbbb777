"""spark_jobs/als_job.py: parsing, validation, outputs, determinism and model quality on small data."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from spark_jobs import als_job
from spark_jobs.synthetic_ratings import SyntheticSpec, generate, oracle_metrics, write_dataset

GOOD = [(1, 10, 4.0, 881250949), (1, 20, 3.5, 881250950), (2, 10, 5.0, 891717742), (3, 30, 1.0, 878887116)]
LAYOUTS = {
    "udata": ([], "{u}\t{i}\t{r}\t{t}"),
    "csv": (["userId,movieId,rating,timestamp"], "{u},{i},{r},{t}"),
    "dat": ([], "{u}::{i}::{r}::{t}"),
}
SMALL_SPEC = SyntheticSpec(users=120, items=150, ratings=6_000, noise_sigma=0.5, seed=7)


def _args(**options) -> object:
    argv = []
    for name, value in {"ratings": "unused", "output": "unused", **options}.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value is not None:
            argv += [flag, str(value)]
    return als_job.parse_args(argv)


def _load(spark, path: str, fmt: str = "auto", **options):
    ratings, report = als_job.load_ratings(spark, path, fmt, _args(**options), [])
    rows = sorted((r.user, r.item, r.rating, r.timestamp) for r in ratings.collect())
    ratings.unpersist()
    return rows, report


def _metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.fixture(scope="module")
def synthetic_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    write_dataset(generate(SMALL_SPEC), out)
    return out


@pytest.fixture(scope="module")
def synthetic_run(spark, synthetic_dir, tmp_path_factory):
    """One end-to-end run on small synthetic data with its held-out test file."""
    output = tmp_path_factory.mktemp("runs")
    args = _args(ratings=synthetic_dir / "u.data", test_ratings=synthetic_dir / "u.test",
                 output=output, run_id="synthetic", top_n=5)
    return args, als_job.run(spark, args), output / "synthetic"


@pytest.mark.parametrize("fmt", sorted(LAYOUTS))
def test_each_format_parses_explicitly_and_by_auto_detection(spark, write_lines, fmt):
    header, row = LAYOUTS[fmt]
    path = write_lines(f"ratings.{fmt}", header + [row.format(u=u, i=i, r=r, t=t) for u, i, r, t in GOOD])
    for requested in (fmt, "auto"):
        rows, report = _load(spark, path, requested)
        assert rows == sorted(GOOD)
        assert report["format"] == fmt
        assert report["input_rows"] == len(GOOD)  # the csv header is not a row
        assert report["rejected_total"] == 0


def test_auto_detection_refuses_lines_that_fit_no_format():
    with pytest.raises(als_job.JobInputError, match=r"x\.txt: cannot detect the format: line '1 2 3 4'"):
        als_job.detect_format("x.txt", ["1 2 3 4"])
    with pytest.raises(als_job.JobInputError, match="cannot detect"):
        als_job.detect_format("x.txt", ["1\t2\t3\t4", "1::2::3::4"])  # mixed layouts


def test_csv_with_an_unknown_header_is_rejected(spark, write_lines):
    path = write_lines("ratings.csv", ["user,item,stars,time", "1,10,4,881250949"])
    with pytest.raises(als_job.JobInputError, match=r"ratings\.csv: unexpected header 'user,item,stars,time'"):
        _load(spark, path, "csv")


def test_each_kind_of_bad_row_is_counted_and_the_latest_duplicate_kept(spark, write_lines):
    good = [f"{u}\t{i}\t4\t{880000000 + i}" for u in range(1, 5) for i in range(1, 6)]  # 20 rows
    bad = [
        "7\t1\t4",             # valid: the timestamp is optional
        "1\t2\t3\t4\t5",       # malformed: five fields
        "1\tabc\t3\t4",        # malformed: item is not a number
        "1\t2\tfour\t4",       # malformed: rating is not a number
        "1\t2\t3\tyesterday",  # malformed: timestamp is not a number
        "\t2\t3\t4",           # missing_id
        "-1\t2\t3\t4",         # negative_id
        "1\t-2\t3\t4",         # negative_id
        "9999999999\t2\t3\t4",  # id_too_large (not a Java int)
        "5\t1\t0\t4",          # rating_out_of_range (below 0.5)
        "5\t2\t5.5\t4",        # rating_out_of_range (above 5)
        "1\t1\t2\t990000000",  # duplicate of (1, 1), later: this one is kept
        "1\t1\t5\t870000000",  # duplicate of (1, 1), earlier: rejected
        "",                    # blank lines are not rows
    ]
    path = write_lines("u.data", good + bad)
    rows, report = _load(spark, path, "udata")
    assert report["rejected_rows"] == {"malformed": 4, "missing_id": 1, "negative_id": 2, "id_too_large": 1,
                                       "rating_out_of_range": 2, "duplicate": 2}
    assert report["input_rows"] == 20 + 13
    assert report["valid_rows"] == 21
    assert (1, 1, 2.0, 990000000) in rows and (7, 1, 4.0, None) in rows
    assert report["first_rejected_line"] == {"file": Path(path).as_uri(), "line_number": 22,
                                             "line": "1\t2\t3\t4\t5", "reason": "malformed"}


def test_rating_range_is_configurable(spark, write_lines):
    path = write_lines("u.data", ["1\t1\t0\t1", "1\t2\t10\t1", "1\t3\t11\t1"])
    rows, report = _load(spark, path, "udata", min_rating=0, max_rating=10)
    assert [r[:3] for r in rows] == [(1, 1, 0.0), (1, 2, 10.0)]
    assert report["rejected_rows"]["rating_out_of_range"] == 1


def test_garbage_file_fails_naming_the_file_and_first_bad_line(spark, write_lines, tmp_path, capsys):
    path = write_lines("garbage.txt", ["", "this is not", "a ratings file"])
    code = als_job.main(["--ratings", path, "--format", "udata", "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{path}: no valid ratings in 2 rows as udata (rejected: malformed 2)" in err
    assert "garbage.txt line 2: 'this is not' (malformed)" in err
    assert not (tmp_path / "out").exists()

    code = als_job.main(["--ratings", path, "--output", str(tmp_path / "out")])  # auto-detect
    assert code == 2
    assert f"{path}: cannot detect the format: line 'this is not'" in capsys.readouterr().err


def test_empty_and_missing_inputs_fail_naming_the_file(spark, write_lines, tmp_path, capsys):
    empty = write_lines("empty.data", ["", "  "])
    assert als_job.main(["--ratings", empty, "--output", str(tmp_path)]) == 2
    assert f"{empty}: the input is empty" in capsys.readouterr().err
    missing = str(tmp_path / "nope.data")
    assert als_job.main(["--ratings", missing, "--output", str(tmp_path)]) == 2
    assert f"cannot read {missing}" in capsys.readouterr().err


def test_mostly_rejected_input_fails_with_the_counts(spark, write_lines):
    path = write_lines("u.data", ["1\t1\t4\t1", "1\t2\t4\t1", "1\t3\t9\t1", "1\t4\t9\t1", "x\t5\t4\t1"])
    with pytest.raises(als_job.JobInputError) as failure:
        _load(spark, path, "udata")
    message = str(failure.value)
    assert "3 of 5 rows rejected, more than --max-reject-fraction 0.5" in message
    assert "malformed 1, rating_out_of_range 2" in message
    assert "line 3: '1\\t3\\t9\\t1' (rating_out_of_range)" in message
    rows, report = _load(spark, path, "udata", max_reject_fraction=0.7)  # a looser threshold passes
    assert len(rows) == 2 and report["rejected_total"] == 3


def test_end_to_end_run_writes_every_output(spark, synthetic_run):
    from pyspark.ml.recommendation import ALSModel

    args, report, run_dir = synthetic_run
    assert sorted(p.name for p in run_dir.iterdir() if not p.name.startswith(".")) == [
        "_SUCCESS", "metrics.json", "model", "recommendations"]
    metrics = _metrics(run_dir)
    assert metrics == json.loads(json.dumps(report))
    assert metrics["run_id"] == "synthetic" and metrics["spark_version"] == spark.version
    assert metrics["input_rows"] == metrics["split"]["train_rows"] and metrics["split"]["method"] == "test file"
    assert metrics["users"] == SMALL_SPEC.users
    assert metrics["params"]["rank"] == args.rank and metrics["best_params"] is None
    assert set(metrics["phase_seconds"]) == {"load_validate", "split", "train", "evaluate", "baseline",
                                             "save_model", "recommend"}
    for key in ("rmse", "mae", "baseline_rmse", "baseline_mae"):
        assert 0 < metrics[key] < 2

    model = ALSModel.load(str(run_dir / "model"))
    assert model.rank == args.rank
    recommendations = spark.read.parquet(str(run_dir / "recommendations"))
    assert recommendations.columns == ["user", "rank", "item", "score"]
    assert recommendations.count() == SMALL_SPEC.users * 5
    assert sorted({r["rank"] for r in recommendations.select("rank").distinct().collect()}) == [1, 2, 3, 4, 5]


def test_an_existing_run_id_is_refused(spark, synthetic_run, capsys):
    args, _, run_dir = synthetic_run
    before = (run_dir / "metrics.json").read_text()
    argv = ["--ratings", args.ratings, "--output", args.output, "--run-id", "synthetic"]
    assert als_job.main(argv) == 3
    assert f"{run_dir} already exists" in capsys.readouterr().err
    assert (run_dir / "metrics.json").read_text() == before


def test_rmse_clearly_beats_the_bias_baseline_and_nears_the_oracle(synthetic_run):
    _, metrics, _ = synthetic_run
    oracle = oracle_metrics(generate(SMALL_SPEC))["oracle_rmse"]
    assert metrics["rmse"] < 0.9 * metrics["baseline_rmse"]
    assert oracle < metrics["rmse"] < 1.2 * oracle


def test_same_seed_gives_the_same_metrics(spark, synthetic_dir, tmp_path):
    runs = []
    for run_id in ("first", "second"):
        args = _args(ratings=synthetic_dir / "u.data", output=tmp_path, run_id=run_id, seed=3, top_n=1, max_iter=5)
        runs.append(als_job.run(spark, args))
    first, second = runs
    assert first["split"] == second["split"]
    for key in ("rmse", "mae", "baseline_rmse", "baseline_mae"):
        assert first[key] == pytest.approx(second[key], abs=1e-9)
    other = als_job.run(spark, _args(ratings=synthetic_dir / "u.data", output=tmp_path, run_id="other",
                                     seed=4, top_n=1, max_iter=5))
    assert other["split"]["test_rows"] != first["split"]["test_rows"] or other["rmse"] != first["rmse"]


def test_a_file_with_some_bad_rows_reports_them_in_metrics_json(spark, synthetic_dir, tmp_path):
    lines = (synthetic_dir / "u.data").read_text().splitlines()[:3000]
    dirty = tmp_path / "dirty.data"
    dirty.write_text("\n".join(lines + ["1\t1", "2\t3\t7\t1", "-4\t1\t3\t1"]) + "\n")
    als_job.run(spark, _args(ratings=dirty, output=tmp_path, run_id="dirty", top_n=1,
                             checkpoint_dir=tmp_path / "checkpoints", checkpoint_interval=2, max_iter=4))
    metrics = _metrics(tmp_path / "dirty")
    assert metrics["input_rows"] == 3003
    assert metrics["rejected_rows"] == {"malformed": 1, "rating_out_of_range": 1, "negative_id": 1,
                                        "missing_id": 0, "id_too_large": 0, "duplicate": 0}
    assert metrics["input"]["first_rejected_line"]["line_number"] == 3001
    # checkpointInterval=2 with a checkpoint dir: ALS wrote checkpoints there.
    assert any((tmp_path / "checkpoints").rglob("part-*"))


def test_tuning_searches_the_grid_and_reports_the_best_params(spark, synthetic_dir, tmp_path):
    args = _args(ratings=synthetic_dir / "u.data", output=tmp_path, run_id="tuned", tune=True,
                 tune_ranks="1,3", tune_reg_params="0.05", tune_parallelism=2, max_iter=5, top_n=1)
    report = als_job.run(spark, args)
    grid = report["tuning"]["grid"]
    assert [(g["rank"], g["reg_param"]) for g in grid] == [(1, 0.05), (3, 0.05)]
    best = min(grid, key=lambda g: g["validation_rmse"])
    assert report["best_params"] == {"rank": best["rank"], "reg_param": best["reg_param"]} == {"rank": 3,
                                                                                              "reg_param": 0.05}
    assert report["model_rank"] == 3 and "tune" in report["phase_seconds"]


def test_default_run_ids_are_time_based_and_unique():
    ids = {als_job.parse_args(["--ratings", "r", "--output", "o"]).run_id for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", run_id) for run_id in ids)
    with pytest.raises(SystemExit):
        als_job.parse_args(["--ratings", "r", "--output", "o", "--run-id", "../escape"])


def test_implicit_mode_trains_and_recommends_without_rmse(spark, synthetic_dir, tmp_path):
    lines = (synthetic_dir / "u.data").read_text().splitlines()[:2000]
    counts = tmp_path / "plays.data"
    counts.write_text("\n".join(lines + ["1\t1\t40\t1"]) + "\n")  # 40 plays: fine when implicit
    report = als_job.run(spark, _args(ratings=counts, output=tmp_path, run_id="implicit", implicit=True,
                                      max_iter=3, top_n=2))
    assert report["params"]["implicit"] is True and report["params"]["max_rating"] is None
    assert report["rejected_rows"]["rating_out_of_range"] == 0
    assert report["rmse"] is None and report["baseline_rmse"] is None
    assert spark.read.parquet(str(tmp_path / "implicit" / "recommendations")).count() > 0
