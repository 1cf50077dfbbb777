"""What a person uploads or passes as --ratings, read as it is: names Hadoop's Path parser or glob would
misread, directories of part files, compressed files; a file that cannot be read ends in one line naming it."""

from __future__ import annotations

import bz2
import gzip
import shutil
from pathlib import Path

import pytest

from spark_jobs.als.job import EXIT_INPUT, main
from spark_jobs.als.ratings import ROLE_RATINGS, JobInputError, load_ratings
from spark_jobs.als.spark_helpers import CachedFrames
from tests.spark.job_support import job_args

ROWS = [(user, item, float(1 + (user + item) % 5)) for user in range(1, 7) for item in range(1, 6)]
UDATA = "".join(f"{u}\t{i}\t{r:g}\t88125094{u}\n" for u, i, r in ROWS)

# Names S3 accepts that Hadoop's Path parser or its glob would read as something else.
ODD_NAMES = [
    "ratings-2024-05-01T10:00.data",  # a timestamp: 'ratings-2024-05-01T10' would be a URI scheme
    "2026-11-25T10:00/u.data",  # the ':' in a folder
    "with space.data",
    "100%.data",
    "p%20q.data",  # an escape that must stay literal
    "hash#1.data",
    "what?.data",
    "star*.data",
    "set[1].data",
    "alt{a,b}.data",
    "back\\slash.data",
    "ünïcødé-✓-評価.data",
]


def _load(spark, path, **options):
    with CachedFrames() as cache:
        loaded = load_ratings(spark, job_args(ratings=str(path), **options), cache)
        rows = sorted(
            (r.user, r.item, r.rating)
            for r in loaded.table.where("reject_reason is null").select("user", "item", "rating").collect()
        )
    return rows, loaded.reports[ROLE_RATINGS]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_a_name_hadoop_would_misread_is_read_as_it_is(spark, tmp_path, name):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(UDATA)
    (path.parent / "ratings-10:00.csv").write_text("a sibling with a ':' that is never read\n")
    rows, report = _load(spark, path)
    assert rows == sorted(ROWS)
    assert report["format"] == "udata" and report["rejected_total"] == 0


def test_a_literal_name_wins_over_the_glob_it_looks_like(spark, tmp_path):
    (tmp_path / "star*.data").write_text(UDATA)
    (tmp_path / "starry.data").write_text("999\t999\t1\t0\n")
    assert _load(spark, tmp_path / "star*.data")[0] == sorted(ROWS)
    both, _ = _load(spark, tmp_path / "star?*.data")  # no such file: a glob, matching both
    assert (999, 999, 1.0) in both and len(both) == len(ROWS) + 1


def test_a_relative_name_with_a_colon_is_read(spark, tmp_path, monkeypatch):
    (tmp_path / "ratings-10:00.data").write_text(UDATA)
    monkeypatch.chdir(tmp_path)
    assert _load(spark, "ratings-10:00.data")[0] == sorted(ROWS)


def _spark_parts(spark, folder: Path) -> list:
    """ROWS written by Spark as a folder of three part files (with _SUCCESS and .crc side files)."""
    lines = [(line,) for line in UDATA.splitlines()]
    spark.createDataFrame(lines, "value string").repartition(3).write.text(str(folder))
    return sorted(p for p in folder.iterdir() if p.name.startswith("part-") and p.suffix != ".crc")


def test_a_folder_of_part_files_skips_side_files_and_ignores_stale_checksums(spark, tmp_path):
    folder = tmp_path / "ratings"
    parts = _spark_parts(spark, folder)
    assert len(parts) == 3 and (folder / "_SUCCESS").exists()
    assert (folder / f".{parts[0].name}.crc").exists()
    (folder / ".hidden.data").write_text("not ratings\n")
    (folder / "_notes").write_text("not ratings\n")
    with parts[0].open("a") as part:  # edited by hand after Spark wrote it: its .crc no longer matches
        part.write("7\t1\t5\t881250949\n")
    rows, report = _load(spark, folder)
    assert rows == sorted([*ROWS, (7, 1, 5.0)])
    assert report["rejected_total"] == 0 and report["input_rows"] == len(ROWS) + 1


@pytest.mark.parametrize("suffix, compress", [(".gz", gzip.compress), (".bz2", bz2.compress)])
def test_compressed_files_are_read_like_plain_ones(spark, tmp_path, suffix, compress):
    path = tmp_path / f"u.data{suffix}"
    path.write_bytes(compress(UDATA.encode()))
    rows, report = _load(spark, path)
    assert rows == sorted(ROWS) and report["format"] == "udata"


# Distinct rows, so that the compressed stream is long enough to cut (a few KB).
MANY = "".join(
    f"{u}\t{i}\t{1 + (u * i) % 5}\t{881250949 + u * i}\n" for u in range(1, 60) for i in range(1, 40)
).encode()
GZIPPED, BZIPPED = gzip.compress(MANY), bz2.compress(MANY)
BROKEN = {
    "truncated.data.gz": GZIPPED[: len(GZIPPED) // 2],
    "truncated.data.bz2": BZIPPED[: len(BZIPPED) // 2],
    "not-gzip.data.gz": UDATA.encode(),
    "corrupt.data.gz": GZIPPED[:40] + bytes(byte ^ 0xFF for byte in GZIPPED[40:80]) + GZIPPED[80:],
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_compressed_file_is_one_line_naming_it(spark, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(BROKEN[name])
    with pytest.raises(JobInputError) as failure:
        _load(spark, path, format="udata")
    message = str(failure.value)
    assert message.startswith(f"{path}: cannot read the file (") and "\n" not in message, message
    assert len(message) < 400


def test_a_broken_part_in_a_folder_is_named(spark, tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "part-00000.gz").write_bytes(gzip.compress(UDATA.encode()))
    (folder / "part-00001.gz").write_bytes(BROKEN["truncated.data.gz"])
    with pytest.raises(JobInputError, match=r"parts/part-00001\.gz: cannot read the file \(EOFException"):
        _load(spark, folder, format="udata")


def test_main_exits_2_with_one_line_for_a_truncated_file(spark, tmp_path, capsys):
    path = tmp_path / "ratings-10:00.data.gz"
    path.write_bytes(BROKEN["truncated.data.gz"])
    assert main(["--ratings", str(path), "--output", str(tmp_path / "out")]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "py4j" not in err.lower(), err
    assert err.startswith(f"als_job: error: {path}: cannot read the file ("), err
    shutil.rmtree(tmp_path / "out", ignore_errors=True)
