"""spark_jobs/als/ratings.py: formats, validation, reject counts, de-duplication, the split, in one pass."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from spark_jobs.als.job import EXIT_INPUT, main
from spark_jobs.als.ratings import ROLE_RATINGS, ROLE_TEST, TEST, JobInputError, detect_format, load_ratings
from spark_jobs.als.spark_helpers import CachedFrames, session_conf
from tests.spark.job_support import job_args, train_pairs

GOOD = [(1, 10, 4.0, 881250949), (1, 20, 3.5, 881250950), (2, 10, 5.0, 891717742), (3, 30, 1.0, 878887116)]
LAYOUTS = {
    "udata": ([], "{u}\t{i}\t{r}\t{t}"),
    "csv": (["userId,movieId,rating,timestamp"], "{u},{i},{r},{t}"),
    "dat": ([], "{u}::{i}::{r}::{t}"),
}


def _load(spark, path: str, fmt: str = "auto", **options):
    """(sorted (user, item, rating) of every kept rating, the input's report)."""
    with CachedFrames() as cache:
        loaded = load_ratings(spark, job_args(ratings=path, format=fmt, **options), cache)
        rows = sorted(
            (r.user, r.item, r.rating)
            for r in loaded.table.where("reject_reason is null").select("user", "item", "rating").collect()
        )
    return rows, loaded.reports[ROLE_RATINGS]


@pytest.mark.parametrize("fmt", sorted(LAYOUTS))
def test_each_format_parses_explicitly_and_by_auto_detection(spark, write_lines, fmt):
    header, row = LAYOUTS[fmt]
    path = write_lines(f"ratings.{fmt}", header + [row.format(u=u, i=i, r=r, t=t) for u, i, r, t in GOOD])
    for requested in (fmt, "auto"):
        rows, report = _load(spark, path, requested)
        assert rows == sorted((u, i, r) for u, i, r, _ in GOOD)
        assert report["format"] == fmt
        assert report["input_rows"] == len(GOOD)  # the csv header is not a row
        assert report["rejected_total"] == 0


def test_auto_detection_refuses_lines_that_fit_no_format():
    with pytest.raises(JobInputError, match=r"x\.txt: cannot detect the format: line '1 2 3 4'"):
        detect_format("x.txt", ["1 2 3 4"])
    with pytest.raises(JobInputError, match="cannot detect"):
        detect_format("x.txt", ["1\t2\t3\t4", "1::2::3::4"])  # mixed layouts


@pytest.mark.parametrize("fmt", ["csv", "auto"])
def test_csv_with_an_unknown_header_is_rejected(spark, write_lines, fmt):
    path = write_lines("ratings.csv", ["user,item,stars,time", "1,10,4,881250949", "2,10,4,881250949"])
    with pytest.raises(JobInputError, match=r"ratings\.csv: unexpected header 'user,item,stars,time'"):
        _load(spark, path, fmt)


def test_each_kind_of_bad_row_is_counted_and_the_latest_duplicate_kept(spark, write_lines):
    good = [f"{u}\t{i}\t4\t{880000000 + i}" for u in range(1, 5) for i in range(1, 6)]  # 20 rows
    bad = [
        "7\t1\t4",  # valid: the timestamp is optional
        "1\t2\t3\t4\t5",  # malformed: five fields
        "1\tabc\t3\t4",  # malformed: item is not a number
        "1\t2\tfour\t4",  # malformed: rating is not a number
        "1\t2\t3\tyesterday",  # malformed: timestamp is not a number
        "\t2\t3\t4",  # missing_id
        "-1\t2\t3\t4",  # negative_id
        "1\t-2\t3\t4",  # negative_id
        "9999999999\t2\t3\t4",  # id_too_large (not a Java int)
        "5\t1\t0\t4",  # rating_out_of_range (below 0.5)
        "5\t2\t5.5\t4",  # rating_out_of_range (above 5)
        "1\t1\t2\t990000000",  # duplicate of (1, 1), later: this one is kept
        "1\t1\t5\t870000000",  # duplicate of (1, 1), earlier: rejected
        "2\t1\t1.5\t880000001",  # duplicate of (2, 1), same timestamp: the later line wins
        "3\t1\t2.5",  # duplicate of (3, 1) without a timestamp: the row with one wins
        "",  # blank lines are not rows
    ]
    path = write_lines("u.data", good + bad)
    rows, report = _load(spark, path, "udata")
    assert report["rejected_rows"] == {
        "malformed": 4,
        "missing_id": 1,
        "negative_id": 2,
        "id_too_large": 1,
        "rating_out_of_range": 2,
        "duplicate": 4,
    }
    assert report["input_rows"] == 20 + 15
    assert report["valid_rows"] == 21
    assert (1, 1, 2.0) in rows and (2, 1, 1.5) in rows and (3, 1, 4.0) in rows and (7, 1, 4.0) in rows
    assert report["first_rejected_line"] == {
        "file": Path(path).as_uri(),
        "line_number": 22,
        "line": "1\t2\t3\t4\t5",
        "reason": "malformed",
    }


def test_the_first_bad_line_is_found_in_a_directory_of_files(spark, tmp_path):
    folder = tmp_path / "ratings"
    folder.mkdir()
    (folder / "a.data").write_text("".join(f"1\t{i}\t4\t1\n" for i in range(1, 40)))
    (folder / "b.data").write_text("2\t1\t4\t1\n2\t2\t4\t1\n2\t3\tx\t1\n2\t4\t9\t1\n")
    rows, report = _load(spark, str(folder), "udata")
    assert len(rows) == 41
    assert report["rejected_rows"]["malformed"] == 1 and report["rejected_rows"]["rating_out_of_range"] == 1
    assert report["first_rejected_line"] == {
        "file": (folder / "b.data").as_uri(),
        "line_number": 3,
        "line": "2\t3\tx\t1",
        "reason": "malformed",
    }


def test_rating_range_is_configurable(spark, write_lines):
    path = write_lines("u.data", ["1\t1\t0\t1", "1\t2\t10\t1", "1\t3\t11\t1"])
    rows, report = _load(spark, path, "udata", min_rating=0, max_rating=10, max_reject_fraction=0.5)
    assert rows == [(1, 1, 0.0), (1, 2, 10.0)]
    assert report["rejected_rows"]["rating_out_of_range"] == 1


def test_garbage_file_fails_naming_the_file_and_first_bad_line(spark, write_lines, tmp_path, capsys):
    path = write_lines("garbage.txt", ["", "this is not", "a ratings file"])
    code = main(["--ratings", path, "--format", "udata", "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == EXIT_INPUT == 2
    assert f"{path}: no valid ratings in 2 rows as udata (rejected: malformed 2)" in err
    assert "garbage.txt line 2: 'this is not' (malformed)" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*"))

    code = main(["--ratings", path, "--output", str(tmp_path / "out")])  # auto-detect
    assert code == 2
    assert f"{path}: cannot detect the format: line 'this is not'" in capsys.readouterr().err


def test_empty_and_missing_inputs_fail_naming_the_file(spark, write_lines, tmp_path, capsys):
    empty = write_lines("empty.data", ["", "  "])
    for fmt in ("auto", "udata"):
        assert main(["--ratings", empty, "--format", fmt, "--output", str(tmp_path)]) == 2
        assert f"{empty}: no ratings: the input is empty or holds only whitespace" in capsys.readouterr().err
    missing = str(tmp_path / "nope.data")
    assert main(["--ratings", missing, "--output", str(tmp_path)]) == 2
    assert f"cannot read {missing}" in capsys.readouterr().err


def test_mostly_rejected_input_fails_with_the_counts(spark, write_lines):
    path = write_lines("u.data", ["1\t1\t4\t1", "1\t2\t4\t1", "1\t3\t9\t1", "1\t4\t9\t1", "x\t5\t4\t1"])
    with pytest.raises(JobInputError) as failure:
        _load(spark, path, "udata")
    message = str(failure.value)
    assert "3 of 5 rows rejected, more than --max-reject-fraction 0.5" in message
    assert "malformed 1, rating_out_of_range 2" in message
    assert "line 3: '1\\t3\\t9\\t1' (rating_out_of_range)" in message
    rows, report = _load(spark, path, "udata", max_reject_fraction=0.7)  # a looser threshold passes
    assert len(rows) == 2 and report["rejected_total"] == 3


def test_a_bad_test_file_is_reported_as_the_test_file(spark, write_lines):
    train = write_lines("u.data", [f"{u}\t{i}\t4\t1" for u in range(1, 4) for i in range(1, 4)])
    test = write_lines("u.test", ["1\t1\t4\t1", "oops"])
    args = job_args(ratings=train, test_ratings=test, format="udata", max_reject_fraction=0.2)
    with (
        CachedFrames() as cache,
        pytest.raises(JobInputError, match=r"u\.test: 1 of 2 rows rejected.*u\.test line 2: 'oops'"),
    ):
        load_ratings(spark, args, cache)


def _jobs_while(spark, action) -> int:
    tracker = spark.sparkContext.statusTracker()
    group = f"counted-{time.monotonic_ns()}"
    spark.sparkContext.setJobGroup(group, group)
    try:
        action()
        return len(tracker.getJobIdsForGroup(group))
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)


def test_loading_train_and_test_files_is_one_pass(spark, synthetic_dir):
    """With the format given and clean files, parse + validate + de-duplicate + split of both files is
    one Spark action and one Spark job, with adaptive execution on as in a spark-submit run (the phase
    turns it off for its query, where it would submit each shuffle stage as a job of its own, and
    gives the session its setting back); the report's counts and the split come out of it."""
    args = job_args(ratings=synthetic_dir / "u.data", test_ratings=synthetic_dir / "u.test", format="udata")
    loaded: list = []
    with CachedFrames() as cache, session_conf(spark, {"spark.sql.adaptive.enabled": "true"}):
        one_file = _jobs_while(spark, lambda: loaded.append(load_ratings(spark, args, cache)))
        assert spark.conf.get("spark.sql.adaptive.enabled") == "true"
    both = loaded[0]
    lines = len((synthetic_dir / "u.data").read_text().splitlines())
    test_lines = len((synthetic_dir / "u.test").read_text().splitlines())
    assert both.train_rows == lines and both.test_rows == test_lines
    assert both.reports[ROLE_TEST]["valid_rows"] == test_lines
    assert one_file == 1, f"load/validate ran {one_file} Spark jobs"
    train_only = job_args(ratings=synthetic_dir / "u.data", format="udata")
    with CachedFrames() as cache:
        assert _jobs_while(spark, lambda: load_ratings(spark, train_only, cache)) == one_file


def test_the_random_split_depends_on_the_seed_not_on_partitioning(spark, synthetic_dir):
    def split(seed: int, partitions: int) -> set:
        spark.conf.set("spark.sql.files.maxPartitionBytes", str(partitions))
        with CachedFrames() as cache:
            loaded = load_ratings(spark, job_args(ratings=synthetic_dir / "u.data", seed=seed), cache)
            return {(r.user, r.item) for r in loaded.split(TEST).collect()}

    try:
        first, again = split(3, 128 * 1024 * 1024), split(3, 20_000)
        other = split(4, 128 * 1024 * 1024)
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    assert first == again
    assert first != other
    assert abs(len(first) / len(train_pairs(synthetic_dir)) - 0.1) < 0.02
