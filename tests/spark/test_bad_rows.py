"""Bad rows stay bounded: what metrics.json and error messages quote of a line is short, ids are read by
value, a file of whitespace says it has no ratings, byte-order marks and CRLF line ends are no rows' business."""

from __future__ import annotations

import pytest

from spark_jobs.als.job import EXIT_INPUT, main
from spark_jobs.als.ratings import ID_TOO_LARGE, ROLE_RATINGS, SAMPLE_CHARS, JobInputError, detect_format, load_ratings
from spark_jobs.als.recommendations import recommend_users
from spark_jobs.als.spark_helpers import CachedFrames
from tests.spark.job_support import job_args

GOOD = [f"{u}\t{i}\t{1 + (u + i) % 5}\t881250949" for u in range(1, 6) for i in range(1, 6)]


def _load(spark, path, **options):
    with CachedFrames() as cache:
        loaded = load_ratings(spark, job_args(ratings=str(path), **options), cache)
        rows = sorted(
            (r.user, r.item, r.rating)
            for r in loaded.table.where("reject_reason is null").select("user", "item", "rating").collect()
        )
    return rows, loaded.reports[ROLE_RATINGS]


@pytest.mark.parametrize("length", [SAMPLE_CHARS + 1, 10_000, 2_000_000])
def test_a_long_rejected_line_is_kept_as_a_short_sample_with_its_length(spark, write_lines, length):
    path = write_lines("u.data", [*GOOD[:10], "9\t9\t" + "7" * (length - 4), *GOOD[10:]])
    _, report = _load(spark, path, format="udata")
    bad = report["first_rejected_line"]
    assert bad["line_number"] == 11 and bad["line_chars"] == length
    assert bad["line"] == ("9\t9\t" + "7" * length)[:SAMPLE_CHARS]


def test_a_short_rejected_line_is_kept_whole(spark, write_lines):
    _, report = _load(spark, write_lines("u.data", [*GOOD, "1\t2\tx\t0"]), format="udata")
    assert report["first_rejected_line"]["line"] == "1\t2\tx\t0" and "line_chars" not in report["first_rejected_line"]


@pytest.mark.parametrize("length", [1_000, 1_000_000])
def test_error_messages_quote_a_bounded_prefix_of_a_long_line(spark, write_lines, length):
    long_line = "x" * length
    with pytest.raises(JobInputError) as detect:
        detect_format("f.data", [long_line])
    with pytest.raises(JobInputError) as rejected:
        _load(spark, write_lines("u.data", [long_line, long_line, GOOD[0]]), format="udata")
    with pytest.raises(JobInputError) as header:
        _load(spark, write_lines("r.csv", ["h" * length, "1,2,3,4"]), format="csv")
    for failure in (detect, rejected, header):
        message = str(failure.value)
        assert len(message) < 3 * SAMPLE_CHARS + 300 and f"({length} characters)" in message, message[:500]


@pytest.mark.parametrize(
    ("user", "item", "expected"),
    [
        ("000000000123", "0000000045", (123, 45)),
        ("00000000000000000001", "7", (1, 7)),
        ("0002147483647", "02147483647", (2147483647, 2147483647)),
        ("0", "000", (0, 0)),
    ],
)
def test_zero_padded_ids_are_read_by_value(spark, write_lines, user, item, expected):
    rows, report = _load(spark, write_lines("u.data", [*GOOD, f"{user}\t{item}\t4\t0000881250949"]), format="udata")
    assert (*expected, 4.0) in rows and report["rejected_total"] == 0


@pytest.mark.parametrize("user", ["0002147483648", "000000000000099999999999", "2147483648"])
def test_the_range_check_is_on_the_value(spark, write_lines, user):
    _, report = _load(spark, write_lines("u.data", [*GOOD, f"{user}\t1\t4\t0"]), format="udata")
    assert report["rejected_rows"][ID_TOO_LARGE] == 1


@pytest.mark.parametrize(
    "lines", [[" "], ["\t", "  \t "], ["\u00a0\u3000", "\ufeff"], ["", "", ""], [" \r", "\t\r"]], ids=repr
)
@pytest.mark.parametrize("fmt", ["auto", "udata", "csv"])
def test_a_file_of_whitespace_has_no_ratings(spark, write_lines, tmp_path, capsys, lines, fmt):
    path = write_lines("blank.data", lines)
    assert main(["--ratings", path, "--format", fmt, "--output", str(tmp_path / "out")]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert err == f"als_job: error: {path}: no ratings: the input is empty or holds only whitespace\n"


def test_whitespace_lines_between_ratings_are_skipped_not_rejected(spark, write_lines):
    rows, report = _load(spark, write_lines("u.data", [GOOD[0], "\t", " \u00a0", *GOOD[1:]]), format="udata")
    assert len(rows) == len(GOOD) and report["input_rows"] == len(GOOD) and report["rejected_total"] == 0


@pytest.mark.parametrize("fmt, header", [("csv", "userId,movieId,rating,timestamp\r\n"), ("udata", "")])
def test_a_byte_order_mark_and_crlf_line_ends_are_read(spark, tmp_path, fmt, header):
    sep = "," if fmt == "csv" else "\t"
    path = tmp_path / f"ratings.{fmt}"
    path.write_bytes(("\ufeff" + header + "".join(line.replace("\t", sep) + "\r\n" for line in GOOD)).encode())
    rows, report = _load(spark, path)
    assert report["format"] == fmt and len(rows) == len(GOOD) and report["rejected_total"] == 0


def test_recommend_users_reads_ids_by_value_and_quotes_a_bounded_prefix(spark, tmp_path):
    users = tmp_path / "users.txt"
    users.write_text("000000000123\n7\n")
    assert sorted(r.user for r in recommend_users(spark, str(users)).collect()) == [7, 123]
    users.write_text("7\n" + "y" * 1_000_000 + "\n")
    with pytest.raises(JobInputError) as failure:
        recommend_users(spark, str(users))
    assert "(1000000 characters) is not a user id" in str(failure.value) and len(str(failure.value)) < 600
