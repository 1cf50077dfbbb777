"""Property: any ratings file ends in counts that add up or in one clear line (issue 24).

Generated files span the formats the job reads (MovieLens u.data, ratings.csv with or without its header,
ratings.dat), encodings (UTF-8, a byte-order mark, CRLF line ends), right and wrong separators, id and rating
shapes (zero-padded, negative, too large, not numbers), blank lines, long lines, gzip, odd file names and sizes.
The invariant: the input is either loaded, with input_rows the file's non-blank, non-header lines and
valid + rejected = input_rows, or refused with a JobInputError (exit 2) of one bounded line naming the file;
nothing else escapes. The pure format checks are fuzzed without Spark; a bounded number of files go through Spark.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spark_jobs.als.ratings import (
    CSV_HEADERS,
    FORMATS,
    ROLE_RATINGS,
    SAMPLE_CHARS,
    JobInputError,
    check_header,
    detect_format,
    load_ratings,
)
from spark_jobs.als.spark_helpers import CachedFrames
from tests.spark.job_support import job_args

NAMES = ["u.data", "ratings.csv", "ratings.dat", "ratings-2024-05-01T10:00.csv", "a b%20#?.data", "評価[1].dat"]
FIELD_TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=6)
IDS = st.one_of(
    st.integers(0, 5000).map(str),
    st.integers(0, 300).map(lambda value: f"{value:012d}"),  # zero-padded: read by value
    st.sampled_from(["-1", "2147483648", "99999999999999", "", " 7 ", "1.0"]),
    FIELD_TEXT,
)
RATINGS = st.one_of(
    st.sampled_from(["1", "2", "3", "4", "5", "4.5", "0.5", "5.0", ".5"]),
    st.sampled_from(["0", "6", "-1", "NaN", "four", "", "1e400"]),
    FIELD_TEXT,
)
TIMES = st.one_of(st.none(), st.integers(0, 2_000_000_000).map(str), st.sampled_from(["", "x", "-5", "0" * 25 + "1"]))
LINES = st.one_of(
    st.tuples(IDS, IDS, RATINGS, TIMES),
    st.sampled_from(["", "   ", "\t", "\ufeff", "x" * (SAMPLE_CHARS * 5), "1 2 3 4", "::", ","]),
)


def _line(row: object, sep: str) -> str:
    if isinstance(row, str):
        return row
    user, item, rating, time = row  # type: ignore[misc]
    return sep.join([user, item, rating] + ([] if time is None else [time]))


@st.composite
def ratings_files(draw: st.DrawFn) -> dict:
    fmt = draw(st.sampled_from(sorted(FORMATS)))
    sep = draw(st.sampled_from([FORMATS[fmt]] * 4 + ["\t", ",", "::", ";"]))
    lines = [_line(row, sep) for row in draw(st.lists(LINES, min_size=0, max_size=40))]
    if fmt == "csv" and draw(st.booleans()):
        lines.insert(0, draw(st.sampled_from(["userId,movieId,rating,timestamp", "userId,movieId,rating", "a,b"])))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    text = ("\ufeff" if draw(st.booleans()) else "") + "".join(line + end for line in lines)
    return {
        "name": draw(st.sampled_from(NAMES)) + (".gz" if draw(st.booleans()) else ""),
        "format": draw(st.sampled_from(["auto", fmt])),
        "text": text,
    }


def _rows_expected(text: str, fmt: str) -> int:
    """The lines the job counts as rows: neither blank (Unicode whitespace, a byte-order mark) nor a csv header."""
    lines = text.removeprefix("\ufeff").replace("\r\n", "\n").split("\n")[:-1]
    blank = [re.fullmatch(r"[\s\ufeff]*", line) is not None for line in lines]
    header = [fmt == "csv" and re.sub(r"\s", "", line).lower() in CSV_HEADERS for line in lines]
    return sum(not b and not h for b, h in zip(blank, header, strict=True))


def _assert_one_clear_line(error: JobInputError, name: str) -> None:
    message = str(error)
    assert "\n" not in message and "\r" not in message, message[:500]
    assert len(message) < 4 * SAMPLE_CHARS + len(name) * 2 + 400, message[:500]
    assert name in message, message[:500]


# Derandomised, without an example database: the same files on every run; a bounded number through Spark.
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(generated=ratings_files())
def test_any_ratings_file_is_counted_or_refused_in_one_line(spark, tmp_path_factory, generated):
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / generated["name"]
    data = generated["text"].encode("utf-8")
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    try:
        with CachedFrames() as cache:
            report = load_ratings(spark, job_args(ratings=str(path), format=generated["format"]), cache).reports[
                ROLE_RATINGS
            ]
    except JobInputError as error:
        _assert_one_clear_line(error, str(path))
        return
    assert report["input_rows"] == _rows_expected(generated["text"], report["format"]) > 0
    assert report["valid_rows"] + report["rejected_total"] == report["input_rows"] and report["valid_rows"] > 0
    bad = report["first_rejected_line"]
    assert (bad is None) == (report["rejected_total"] == 0)
    if bad is not None:
        assert len(bad["line"]) <= SAMPLE_CHARS and Path(bad["file"]).name == path.name


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(sample=st.lists(st.one_of(FIELD_TEXT, st.builds(_line, LINES, st.sampled_from(list(FORMATS.values()))))))
def test_format_detection_names_one_format_or_refuses_in_one_line(sample):
    sample = [line for line in sample if re.fullmatch(r"[\s\ufeff]*", line) is None]
    try:
        fmt = detect_format("in.data", sample)
        check_header("in.data", fmt, sample[0])
    except JobInputError as error:
        _assert_one_clear_line(error, "in.data")
        return
    assert fmt in FORMATS
