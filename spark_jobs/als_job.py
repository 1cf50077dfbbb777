"""ALS matrix factorisation batch job: validate ratings, fit biases and ALS, evaluate, recommend.

Self-contained on purpose: an EMR step ships only this file, so it imports nothing from the project.

    spark-submit [--master local[2]] als_job.py --ratings s3://bucket/ml-100k/u.data --output s3://bucket/runs

Input: MovieLens 100K u.data (tab-separated user item rating timestamp), MovieLens ratings.csv
(header userId,movieId,rating,timestamp) or MovieLens 1M ratings.dat ("::"); --format auto detects
which one when the first lines fit exactly one. Bad rows are counted per reason and reported; the
job fails when nothing valid is left or more than --max-reject-fraction of the rows are bad.

Model (explicit ratings): rating ~ mu + b_u + b_i + p_u . q_i. The global mean and shrunk user and
item biases (the bias baseline) are fitted first, then Spark's ALS factorises what they leave. The
saved model folds the biases into two extra factor columns, so it is a plain ALSModel whose
transform() and recommendForAllUsers() include them. --no-biases trains Spark's ALS on raw ratings.

Output, under <output>/<run-id>/, promoted from <output>/_attempts/<run-id>/<attempt>/ on success:
  model/            ALSModel (rank + 2 with biases: the last two columns carry them)
  recommendations/  Parquet: user, rank, item, score (top-N items per user, none rated in training)
  metrics.json      counts, parameters, RMSE/MAE vs the bias baseline, ranking metrics vs popularity
  _SUCCESS          written last: the run's commit marker

Exit codes: 0 success; 2 unusable input; 3 the run id is already complete (never overwritten);
4 another attempt of the same run id completed or is promoting it (this attempt's output is dropped).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import platform
import re
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from pyspark import StorageLevel
from pyspark.errors import AnalysisException
from pyspark.ml.evaluation import RankingEvaluator
from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.sql import Column, DataFrame, Row, SparkSession, Window
from pyspark.sql import functions as F

APP_NAME = "als-matrix-factorisation"

# Format name -> field separator (a Java regex for F.split; also a plain string for str.split).
FORMATS = {
    "udata": "\t",  # MovieLens 100K u.data
    "csv": ",",  # MovieLens ratings.csv (latest, 25M, ...), with a header line
    "dat": "::",  # MovieLens 1M / 10M ratings.dat
}
CSV_HEADERS = ("userid,movieid,rating,timestamp", "userid,movieid,rating")

# Rejection reasons, in the order they are checked (a row gets the first one that applies).
MALFORMED = "malformed"  # not 3-4 fields, or a field that is not a number
MISSING_ID = "missing_id"  # empty user or item field
NEGATIVE_ID = "negative_id"
ID_TOO_LARGE = "id_too_large"  # ALS ids are Java ints
RATING_OUT_OF_RANGE = "rating_out_of_range"  # outside --min-rating..--max-rating
DUPLICATE = "duplicate"  # same (user, item) again: the latest timestamp is kept
REJECT_REASONS = (MALFORMED, MISSING_ID, NEGATIVE_ID, ID_TOO_LARGE, RATING_OUT_OF_RANGE, DUPLICATE)

INT_MAX = 2_147_483_647
ID_PATTERN = r"^-?[0-9]+$"
NUMBER_PATTERN = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
TIMESTAMP_PATTERN = r"^[0-9]{1,18}$"
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
ROWS_PER_PARTITION = 500_000  # ~10 MB of (int, int, double) rows: big enough to amortise a task
BYTES_PER_PARTITION = 16 * 1024 * 1024  # input text per shuffle partition while loading (~600K lines)
DETECT_SAMPLE_LINES = 20
HASH_BUCKETS = 1 << 30  # resolution of the hash-based splits

# Inputs and splits.
ROLE_RATINGS, ROLE_TEST = "ratings", "test_ratings"
TRAIN, TEST = "train", "test"

# Spark's documented ALS defaults; the job's defaults and tuning grid never go below them.
SPARK_DEFAULT_RANK, SPARK_DEFAULT_REG_PARAM, SPARK_DEFAULT_MAX_ITER = 10, 0.1, 10
DEFAULT_MAX_ITER = 20  # ALS on the bias residual still improves after 10 sweeps (measured: about 0.002 RMSE per 10)
TUNE_RANKS = (5, 10, 20, 40, 80, 160)
TUNE_REG_PARAMS = (0.01, 0.03, 0.1, 0.3, 1.0)  # coarse: two decades around Spark's default
REFINE_FACTORS = (0.5, 0.7, 1.0, 1.4, 2.0)  # fine: around the best coarse value, at every rank
RATINGS_PER_PARAMETER = 1.0  # a rank is searched while (users + items) * rank <= ratings / this
RANKING_METRICS = {  # metrics.json key -> RankingEvaluator metricName (all at k = --top-n)
    "precision_at_n": "precisionAtK",
    "recall_at_n": "recallAtK",
    "ndcg_at_n": "ndcgAtK",
    "map_at_n": "meanAveragePrecisionAtK",
}
CANDIDATE_GROWTH = 4  # candidates fetched per user grow by this factor until top-N unrated are found

# Attempts and promotion.
ATTEMPTS_DIR = "_attempts"  # a leading underscore: Hadoop and Spark readers treat it as hidden
CLAIM_FILE = "_claim"
SUCCESS_FILE = "_SUCCESS"
CLAIM_STALE_SECONDS = 900  # a claim older than this belongs to a promotion that died
CLAIM_SETTLE_SECONDS = 2.0  # stores without exclusive create: re-read the claim after this long
ATOMIC_CREATE_SCHEMES = ("file", "hdfs")
EXIT_INPUT, EXIT_RUN_COMPLETE, EXIT_RUN_LOST = 2, 3, 4


class JobInputError(Exception):
    """The input cannot be used; the message names the file and, when there is one, the bad line."""


class RunCompleteError(Exception):
    """<output>/<run-id>/_SUCCESS exists: the run id is done and is never overwritten."""


class RunLostError(Exception):
    """Another attempt of the same run id completed it or is promoting it; this attempt's output is dropped."""


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def default_run_id() -> str:
    """UTC time plus a random suffix, so two runs started in the same second do not collide."""
    return f"{utc_now().strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"


def _float_list(text: str) -> list:
    return [float(value) for value in text.split(",") if value.strip()]


def _int_list(text: str) -> list:
    return [int(value) for value in text.split(",") if value.strip()]


def parse_args(argv: list) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="als_job.py", description=(__doc__ or "").splitlines()[0])
    add = parser.add_argument
    add("--ratings", required=True, help="ratings file or directory (local path or s3://)")
    add(
        "--format",
        default="auto",
        choices=["auto", *FORMATS],
        help="udata (tab), csv (header userId,movieId,rating,timestamp), dat (::), or auto",
    )
    add("--test-ratings", help="explicit held-out test set (same formats); default: a seeded split of --ratings")
    add("--output", required=True, help="output root; this run writes <output>/<run-id>/")
    add("--run-id", help="default: UTC time + random suffix")
    add("--rank", type=int, default=SPARK_DEFAULT_RANK)
    add("--reg-param", type=float, default=SPARK_DEFAULT_REG_PARAM)
    add("--max-iter", type=int, default=DEFAULT_MAX_ITER)
    add(
        "--biases",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="fit mu + user and item biases first and factorise the residual (default for explicit ratings)",
    )
    add("--implicit", action="store_true", help="implicit feedback (ratings are confidences)")
    add("--alpha", type=float, default=1.0, help="confidence scale for --implicit")
    add("--seed", type=int, default=42)
    add("--test-fraction", type=float, default=0.1)
    add("--min-rating", type=float, help="default 0.5 (explicit) or 0 (implicit)")
    add("--max-rating", type=float, help="default 5 (explicit) or unbounded (implicit)")
    add(
        "--max-reject-fraction",
        type=float,
        default=0.5,
        help="fail when more than this fraction of the input rows is rejected",
    )
    add(
        "--baseline-reg",
        type=float,
        default=10.0,
        help="shrinkage of the user and item biases (pseudo-counts)",
    )
    add("--tune", action="store_true", help="grid search rank x reg-param on a validation split first")
    add("--tune-ranks", type=_int_list, help="default: 5, 10, 20, ... as far as the data supports")
    add("--tune-reg-params", type=_float_list, help=f"default: {', '.join(map(str, TUNE_REG_PARAMS))}")
    add("--tune-validation-fraction", type=float, default=0.2)
    add("--tune-parallelism", type=int, default=2, help="models fitted at once while tuning")
    add("--top-n", type=int, default=10, help="recommendations per user, and N of the ranking metrics")
    add(
        "--relevant-rating",
        type=float,
        help="a held-out rating at least this is a positive for the ranking metrics "
        "(default 4 explicit; implicit: every held-out interaction)",
    )
    add(
        "--recommend-users",
        help="only recommend for these users: comma-separated ids, or a file/URI with one id per line",
    )
    add("--checkpoint-dir", help="checkpoint ALS lineage here (needed for long runs)")
    add("--checkpoint-interval", type=int, default=10)
    args = parser.parse_args(argv)

    if args.run_id is None:
        args.run_id = default_run_id()
    elif not RUN_ID_PATTERN.match(args.run_id) or args.run_id in (".", ".."):
        parser.error(f"--run-id {args.run_id!r}: use letters, digits, '.', '_', '-' (max 128)")
    for name in ("test_fraction", "tune_validation_fraction"):
        if not 0.0 < getattr(args, name) < 1.0:
            parser.error(f"--{name.replace('_', '-')} must be between 0 and 1")
    if not 0.0 <= args.max_reject_fraction <= 1.0:
        parser.error("--max-reject-fraction must be between 0 and 1")
    for name in ("rank", "max_iter", "top_n", "tune_parallelism", "checkpoint_interval"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.reg_param < 0 or args.baseline_reg < 0:
        parser.error("--reg-param and --baseline-reg must be non-negative")
    if args.implicit and args.biases:
        parser.error("--biases applies to explicit ratings; implicit confidences have no mean to remove")
    args.biases = not args.implicit if args.biases is None else args.biases
    if args.tune and args.implicit:
        parser.error("--tune selects by RMSE, which does not apply to --implicit")
    if args.tune_ranks is not None and (not args.tune_ranks or min(args.tune_ranks) < 1):
        parser.error("--tune-ranks needs ranks of at least 1")
    if args.tune_reg_params is not None and (not args.tune_reg_params or min(args.tune_reg_params) < 0):
        parser.error("--tune-reg-params needs non-negative values")
    if args.min_rating is None:
        args.min_rating = 0.0 if args.implicit else 0.5
    if args.max_rating is None:
        args.max_rating = math.inf if args.implicit else 5.0
    if args.min_rating > args.max_rating:
        parser.error("--min-rating is above --max-rating")
    if args.relevant_rating is None and not args.implicit:
        args.relevant_rating = 4.0
    return args


# ---------------------------------------------------------------- files (local, s3://, hdfs://)


def _jvm(spark: SparkSession) -> Any:
    """The session's py4j gateway view of the JVM."""
    jvm = spark._jvm
    assert jvm is not None, "the SparkSession has no JVM"
    return jvm


def one_row(frame: DataFrame) -> Row:
    """The single row of an aggregation (which always has one)."""
    row = frame.first()
    assert row is not None
    return row


def _hadoop_path(spark: SparkSession, uri: str) -> tuple:
    """(FileSystem, Path) through the JVM, so local paths, hdfs:// and s3:// (EMRFS) all work."""
    path = _jvm(spark).org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark._jsc.hadoopConfiguration()), path


def path_exists(spark: SparkSession, uri: str) -> bool:
    fs, path = _hadoop_path(spark, uri)
    return bool(fs.exists(path))


def write_text(spark: SparkSession, uri: str, text: str, overwrite: bool = False) -> None:
    """Create uri holding text; without overwrite it fails if uri exists."""
    fs, path = _hadoop_path(spark, uri)
    stream = fs.create(path, overwrite)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


def read_text(spark: SparkSession, uri: str) -> str:
    """The whole file as text; empty when it does not exist (any more)."""
    fs, path = _hadoop_path(spark, uri)
    try:
        stream = fs.open(path)
    except Exception:
        return ""
    jvm = _jvm(spark)
    try:
        return str(jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8"))
    finally:
        stream.close()


def delete_path(spark: SparkSession, uri: str, recursive: bool = True) -> None:
    fs, path = _hadoop_path(spark, uri)
    with contextlib.suppress(Exception):  # gone already, or (not recursive) not empty: both are fine
        fs.delete(path, recursive)


def delete_if_empty(spark: SparkSession, uri: str) -> None:
    fs, path = _hadoop_path(spark, uri)
    with contextlib.suppress(Exception):
        if fs.exists(path) and len(fs.listStatus(path)) == 0:
            fs.delete(path, False)


def child_names(spark: SparkSession, uri: str) -> list:
    fs, path = _hadoop_path(spark, uri)
    return sorted(str(status.getPath().getName()) for status in fs.listStatus(path))


def input_bytes(spark: SparkSession, uri: str) -> int:
    """Total size of the files uri names (a file, a directory or a glob); 0 when it cannot tell."""
    fs, path = _hadoop_path(spark, uri)
    try:
        statuses = fs.globStatus(path) or []
        return int(sum(fs.getContentSummary(status.getPath()).getLength() for status in statuses))
    except Exception:
        return 0


def create_exclusive(spark: SparkSession, uri: str, text: str) -> bool:
    """Create uri holding text unless it exists; True when this call created it.

    Atomic on the local file system (java.io.File.createNewFile, O_EXCL) and HDFS (create without
    overwrite). Object stores (s3:// through EMRFS or S3A) check then write, so two writers can both
    get True within a few milliseconds: callers confirm with confirm_claim.
    """
    fs, path = _hadoop_path(spark, uri)
    fs.mkdirs(path.getParent())
    scheme = str(fs.getScheme())
    if scheme == "file":
        local = _jvm(spark).java.io.File(fs.makeQualified(path).toUri())
        if not local.createNewFile():
            return False
        write_text(spark, uri, text, overwrite=True)
        return True
    if scheme not in ATOMIC_CREATE_SCHEMES and fs.exists(path):
        return False
    try:
        write_text(spark, uri, text)
    except Exception as exc:
        if "FileAlreadyExists" in str(exc) or fs.exists(path):
            return False
        raise
    return True


# ---------------------------------------------------------------- parsing and validation


def read_lines(spark: SparkSession, uri: str) -> DataFrame:
    """Every line with its file and a position that increases with the line's place in its file."""
    try:
        lines = spark.read.text(uri)
    except AnalysisException as exc:
        raise JobInputError(f"cannot read {uri}: {exc}") from None
    # Positions come from the scan's partition order, which follows file offsets within a file.
    return lines.select(
        F.col("value").alias("line"),
        F.input_file_name().alias("source_file"),
        F.monotonically_increasing_id().alias("position"),
    )


def _is_csv_header(line: str) -> bool:
    return re.sub(r"\s", "", line).lower() in CSV_HEADERS


def _fields_fit(line: str, fmt: str) -> bool:
    return 3 <= len(line.split(FORMATS[fmt])) <= 4


def detect_format(uri: str, sample: list) -> str:
    """The only format all sampled lines fit; JobInputError when none or several do."""
    if not sample:
        raise JobInputError(f"{uri}: the input is empty (no non-blank lines)")
    candidates = set(FORMATS)
    for line in sample:
        fits = {"csv"} if _is_csv_header(line) else {f for f in FORMATS if _fields_fit(line, f)}
        if not candidates & fits:
            raise JobInputError(
                f"{uri}: cannot detect the format: line {line!r} does not fit "
                f"{' or '.join(sorted(candidates))} (3-4 fields); pass --format"
            )
        candidates &= fits
    if len(candidates) > 1:
        raise JobInputError(f"{uri}: ambiguous format ({', '.join(sorted(candidates))}); pass --format")
    return candidates.pop()


def check_header(uri: str, fmt: str, first_line: str) -> None:
    """A csv file must start with the MovieLens header; other formats have none."""
    first_field = first_line.split(FORMATS[fmt], maxsplit=1)[0].strip()
    if fmt == "csv" and not re.match(ID_PATTERN, first_field) and not _is_csv_header(first_line):
        raise JobInputError(f"{uri}: unexpected header {first_line!r}; expected userId,movieId,rating,timestamp")


def _text_field(fields: Column, count: Column, index: int) -> Column:
    return F.when(count > index, F.trim(fields.getItem(index)))


def _id_value(text: Column) -> Column:
    """The id as a long when the text is an integer short enough to parse, else null."""
    return F.when(text.rlike(ID_PATTERN) & (F.length(text) <= 11), text.cast("long"))


def well_formed_pattern(fmt: str) -> str:
    """A regex the whole line of a plainly valid rating matches: two ids of at most 10 digits, a
    number, an optional timestamp, spaces around fields (what the field checks accept as well)."""
    sep, number = FORMATS[fmt], NUMBER_PATTERN[1:-1]
    return f"^ *[0-9]{{1,10}} *{sep} *[0-9]{{1,10}} *{sep} *{number} *({sep} *([0-9]{{1,18}})? *)?$"


def classify(lines: DataFrame, fmt: str, min_rating: float, max_rating: float) -> DataFrame:
    """Parse every non-blank, non-header line; reject_reason is null for a valid row.

    A line matching well_formed_pattern (nearly every line of real data) costs one regex; only the
    others go through the per-field checks that name the reason. Casts are guarded by pattern
    checks, so the result is the same with spark.sql.ansi.enabled. Valid rows drop their text;
    rejected rows keep it for the error report. Built as successive projections (fields, then
    values, then reason) so each expression is evaluated once per row.
    """
    kept = F.trim(F.col("line")) != ""
    if fmt == "csv":
        kept = kept & ~F.lower(F.regexp_replace(F.col("line"), r"\s", "")).isin(*CSV_HEADERS)
    fields = F.split(F.col("line"), FORMATS[fmt])
    names = ("user_text", "item_text", "rating_text", "time_text")
    split = lines.where(kept).select(
        "line",
        "source_file",
        "position",
        F.col("line").rlike(well_formed_pattern(fmt)).alias("well_formed"),
        F.size(fields).alias("fields"),
        *(_text_field(fields, F.size(fields), i).alias(name) for i, name in enumerate(names)),
    )
    well_formed = F.col("well_formed")
    user_text, item_text, rating_text, time_text = (F.col(name) for name in names)
    values = split.select(
        "*",
        F.when(well_formed, user_text.cast("long")).otherwise(_id_value(user_text)).alias("user_id"),
        F.when(well_formed, item_text.cast("long")).otherwise(_id_value(item_text)).alias("item_id"),
        F.when(well_formed | rating_text.rlike(NUMBER_PATTERN), rating_text.cast("double")).alias("value"),
        F.when((well_formed & (time_text != "")) | time_text.rlike(TIMESTAMP_PATTERN), time_text.cast("long")).alias(
            "time"
        ),
    )
    count, user, item, rating = F.col("fields"), F.col("user_id"), F.col("item_id"), F.col("value")
    bad_timestamp = time_text.isNotNull() & (time_text != "") & F.col("time").isNull()
    in_range = (rating >= min_rating) & (rating <= max_rating)
    reason = (
        F.when(well_formed & (user <= INT_MAX) & (item <= INT_MAX) & in_range, F.lit(None).cast("string"))
        .when((count < 3) | (count > 4), F.lit(MALFORMED))
        .when((user_text == "") | (item_text == ""), F.lit(MISSING_ID))
        .when(
            ~user_text.rlike(ID_PATTERN) | ~item_text.rlike(ID_PATTERN) | rating.isNull() | bad_timestamp,
            F.lit(MALFORMED),
        )
        .when(user_text.startswith("-") | item_text.startswith("-"), F.lit(NEGATIVE_ID))
        .when(user.isNull() | item.isNull() | (user > INT_MAX) | (item > INT_MAX), F.lit(ID_TOO_LARGE))
        .when(~in_range, F.lit(RATING_OUT_OF_RANGE))
    )
    valid = F.col("reject_reason").isNull()
    return values.withColumn("reject_reason", reason).select(
        F.when(valid, user.cast("int")).alias("user"),
        F.when(valid, item.cast("int")).alias("item"),
        F.when(valid, rating).alias("rating"),
        F.when(valid, F.col("time")).alias("timestamp"),
        "reject_reason",
        "source_file",
        "position",
        F.when(~valid, F.col("line")).alias("line"),
    )


def hash_fraction(seed: int, salt: str) -> Column:
    """A uniform value in [0, 1) per (user, item, seed, salt): the same row always gets the same value,
    whatever the partitioning, so a split is reproducible and costs no extra pass."""
    digest = F.xxhash64(F.col("user"), F.col("item"), F.lit(seed), F.lit(salt))
    return F.pmod(digest, F.lit(HASH_BUCKETS)) / F.lit(float(HASH_BUCKETS))


def summarise(classified: DataFrame, has_test_file: bool, seed: int, test_fraction: float) -> DataFrame:
    """One row per (role, user, item) for valid rows and one per (role, reason) for rejected rows.

    A single hash aggregation (every buffer is fixed-width, so Spark needs no sort) de-duplicates,
    counts rows per group (duplicates and rejects are rows - groups and rows) and keeps the position
    of the earliest rejected line; the split column assigns every valid rating to train or test.
    De-duplication keeps the rating with the latest timestamp, then the later line: both packed into
    one decimal(38,0) key, timestamp * 2^64 + position, with no timestamp below any timestamp.
    """
    valid = F.col("reject_reason").isNull()
    shift = F.lit(str(2**64)).cast("decimal(20,0)")
    latest = F.coalesce(F.col("timestamp"), F.lit(-1)).cast("decimal(20,0)") * shift + F.col("position").cast(
        "decimal(20,0)"
    )
    grouped = classified.groupBy("role", "user", "item", "reject_reason").agg(
        F.count(F.lit(1)).alias("rows"),
        F.max_by("rating", latest).alias("rating"),
        F.min(F.when(~valid, F.col("position"))).alias("first_bad"),
    )
    if has_test_file:
        split = F.when(F.col("role") == ROLE_TEST, F.lit(TEST)).otherwise(F.lit(TRAIN))
    else:
        split = F.when(hash_fraction(seed, "test") < test_fraction, F.lit(TEST)).otherwise(F.lit(TRAIN))
    return grouped.select(
        "role", "user", "item", "rating", F.when(valid, split).alias("split"), "reject_reason", "rows", "first_bad"
    )


def partitions_for(spark: SparkSession, rows: int) -> int:
    """At least one partition per core, more when the data outgrows ROWS_PER_PARTITION each."""
    return max(spark.sparkContext.defaultParallelism, math.ceil(rows / ROWS_PER_PARTITION))


def locate_line(spark: SparkSession, uri: str, position: int) -> dict:
    """File, 1-based line number and text of the line at position, in one pass over uri.

    Re-reading assigns the same positions; the lines of a file up to position count its number.
    """
    head = read_lines(spark, uri).where(F.col("position") <= position)
    per_file = head.groupBy("source_file").agg(
        F.count(F.lit(1)).alias("lines"),
        F.max("position").alias("last"),
        F.max_by("line", "position").alias("line"),
    )
    row = one_row(per_file.where(F.col("last") == position))
    return {"file": row["source_file"], "line_number": int(row["lines"]), "line": row["line"]}


def _describe_bad_line(bad: dict | None) -> str:
    if bad is None:
        return ""
    return f"; first bad line: {bad['file']} line {bad['line_number']}: {bad['line']!r} ({bad['reason']})"


def _nonzero(counts: dict) -> str:
    return ", ".join(f"{reason} {count}" for reason, count in counts.items() if count) or "none"


class LoadedRatings:
    """Validated, de-duplicated, split ratings (one persisted table) and what loading found."""

    def __init__(self, table: DataFrame, reports: dict, train_rows: int, test_rows: int, mu: float) -> None:
        self.table = table
        self.reports = reports
        self.train_rows = train_rows
        self.test_rows = test_rows
        self.mu = mu

    def split(self, name: str) -> DataFrame:
        valid = self.table.where(F.col("reject_reason").isNull() & (F.col("split") == name))
        return valid.select("user", "item", "rating")


def load_ratings(spark: SparkSession, args: argparse.Namespace, persisted: list) -> LoadedRatings:
    """Parse, validate, de-duplicate and split --ratings (and --test-ratings) in one Spark action.

    Format detection reads up to DETECT_SAMPLE_LINES lines first, only with --format auto; the line
    number of the earliest rejected line costs one more pass, only when a line is rejected.
    JobInputError when an input is empty, has no valid rating, or more than max_reject_fraction of
    its rows is rejected.
    """
    inputs = [(ROLE_RATINGS, args.ratings)] + ([(ROLE_TEST, args.test_ratings)] if args.test_ratings else [])
    formats, parts, total_bytes = {}, [], 0
    for role, uri in inputs:
        lines = read_lines(spark, uri)
        fmt = args.format
        if fmt == "auto":
            sample = [
                row.line
                for row in lines.where(F.trim("line") != "").select("line").limit(DETECT_SAMPLE_LINES).collect()
            ]
            fmt = detect_format(uri, sample)
            check_header(uri, fmt, sample[0])
        formats[role] = fmt
        total_bytes += input_bytes(spark, uri)
        parts.append(classify(lines, fmt, args.min_rating, args.max_rating).withColumn("role", F.lit(role)))
    classified = parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1])

    partitions = max(spark.sparkContext.defaultParallelism, math.ceil(total_bytes / BYTES_PER_PARTITION))
    spark.conf.set("spark.sql.shuffle.partitions", str(partitions))
    table = summarise(classified, bool(args.test_ratings), args.seed, args.test_fraction)
    table = table.persist(StorageLevel.MEMORY_AND_DISK)
    persisted.append(table)
    # The one action: it fills the cache and returns a handful of rows of counts.
    stats = (
        table.groupBy("role", "reject_reason", "split")
        .agg(
            F.count(F.lit(1)).alias("groups"),
            F.sum("rows").alias("rows"),
            F.sum("rating").alias("rating_sum"),
            F.min("first_bad").alias("first_bad"),
        )
        .collect()
    )

    reports = {}
    for role, uri in inputs:
        rows = [row for row in stats if row["role"] == role]
        reports[role] = _input_report(spark, uri, formats[role], rows, args)
    train = [row for row in stats if row["reject_reason"] is None and row["split"] == TRAIN]
    test = [row for row in stats if row["reject_reason"] is None and row["split"] == TEST]
    train_rows = sum(int(row["groups"]) for row in train)
    test_rows = sum(int(row["groups"]) for row in test)
    mu = sum(float(row["rating_sum"]) for row in train) / train_rows if train_rows else math.nan
    return LoadedRatings(table, reports, train_rows, test_rows, mu)


def _input_report(spark: SparkSession, uri: str, fmt: str, rows: list, args: argparse.Namespace) -> dict:
    """Counts of one input from the summary rows; raises JobInputError when the input is unusable."""
    valid_groups = sum(int(row["groups"]) for row in rows if row["reject_reason"] is None)
    valid_rows = sum(int(row["rows"]) for row in rows if row["reject_reason"] is None)
    rejected = dict.fromkeys(REJECT_REASONS, 0)
    for row in rows:
        if row["reject_reason"] is not None:
            rejected[row["reject_reason"]] += int(row["rows"])
    rejected[DUPLICATE] = valid_rows - valid_groups
    input_rows = valid_rows + sum(count for reason, count in rejected.items() if reason != DUPLICATE)
    rejected_total = sum(rejected.values())
    if input_rows == 0:
        raise JobInputError(f"{uri}: the input is empty (no non-blank lines)")

    firsts = [(row["first_bad"], row["reject_reason"]) for row in rows if row["first_bad"] is not None]
    bad = None
    if firsts:
        position, reason = min(firsts)
        bad = {**locate_line(spark, uri, position), "reason": reason}
        if bad["line_number"] == 1:
            check_header(uri, fmt, bad["line"])
    report = {
        "uri": uri,
        "format": fmt,
        "input_rows": input_rows,
        "valid_rows": valid_groups,
        "rejected_rows": rejected,
        "rejected_total": rejected_total,
        "first_rejected_line": bad,
    }
    if valid_groups == 0:
        raise JobInputError(
            f"{uri}: no valid ratings in {input_rows} rows as {fmt} "
            f"(rejected: {_nonzero(rejected)}){_describe_bad_line(bad)}"
        )
    if rejected_total > args.max_reject_fraction * input_rows:
        raise JobInputError(
            f"{uri}: {rejected_total} of {input_rows} rows rejected, more than "
            f"--max-reject-fraction {args.max_reject_fraction} (rejected: "
            f"{_nonzero(rejected)}){_describe_bad_line(bad)}"
        )
    return report


# ---------------------------------------------------------------- models


def clip_rating(column: Column, args: argparse.Namespace) -> Column:
    """Explicit predictions are clipped to the valid rating range, as a product would show them."""
    if args.implicit:
        return column
    return F.least(F.greatest(column, F.lit(args.min_rating)), F.lit(args.max_rating))


class Biases:
    """mu + b_u + b_i with shrunk biases: b_i = sum(r - mu) / (n_i + reg), then
    b_u = sum(r - mu - b_i) / (n_u + reg). DataFrame aggregations; both tables are persisted."""

    def __init__(self, train: DataFrame, mu: float, reg: float, persisted: list) -> None:
        self.mu = mu
        self.item_bias = (
            train.groupBy("item")
            .agg((F.sum(F.col("rating") - mu) / (F.count(F.lit(1)) + reg)).alias("item_bias"))
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
        self.user_bias = (
            train.join(self.item_bias, "item")
            .groupBy("user")
            .agg((F.sum(F.col("rating") - mu - F.col("item_bias")) / (F.count(F.lit(1)) + reg)).alias("user_bias"))
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
        persisted.extend([self.item_bias, self.user_bias])

    def with_baseline(self, pairs: DataFrame) -> DataFrame:
        """pairs plus a baseline column mu + b_u + b_i; an id unseen in training gets bias 0."""
        joined = pairs.join(self.user_bias, "user", "left").join(self.item_bias, "item", "left")
        baseline = (
            F.lit(self.mu) + F.coalesce(F.col("user_bias"), F.lit(0.0)) + F.coalesce(F.col("item_bias"), F.lit(0.0))
        )
        return joined.withColumn("baseline", baseline).drop("user_bias", "item_bias")

    def residual(self, train: DataFrame) -> DataFrame:
        """Training ratings minus the baseline: what ALS factorises."""
        return self.with_baseline(train).select("user", "item", (F.col("rating") - F.col("baseline")).alias("rating"))


def build_als(args: argparse.Namespace, rank: int, reg_param: float, blocks: int) -> ALS:
    return ALS(
        rank=rank,
        maxIter=args.max_iter,
        regParam=reg_param,
        implicitPrefs=args.implicit,
        alpha=args.alpha,
        seed=args.seed,
        userCol="user",
        itemCol="item",
        ratingCol="rating",
        coldStartStrategy="drop",  # unseen ids would give NaN and poison RMSE
        numUserBlocks=blocks,
        numItemBlocks=blocks,
        checkpointInterval=args.checkpoint_interval,
    )


def _als_model(spark: SparkSession, uid: str, rank: int, user_factors: DataFrame, item_factors: DataFrame) -> ALSModel:
    """An ALSModel over the given factor tables (id int, features array<float>)."""
    java_model = _jvm(spark).org.apache.spark.ml.recommendation.ALSModel(
        uid, rank, user_factors._jdf, item_factors._jdf
    )
    model = ALSModel(java_model)
    model.setUserCol("user").setItemCol("item").setPredictionCol("prediction").setColdStartStrategy("drop")
    return model


def fold_biases(spark: SparkSession, model: ALSModel, biases: Biases, persisted: list) -> ALSModel:
    """The residual model with the biases as two more factor columns: user [p_u, 1, mu + b_u] and
    item [q_i, b_i, 1], so every dot product is mu + b_u + b_i + p_u . q_i."""
    as_floats = "array<float>"
    users = (
        model.userFactors.join(biases.user_bias.withColumnRenamed("user", "id"), "id")
        .select(
            "id",
            F.concat("features", F.array(F.lit(1.0), F.lit(biases.mu) + F.col("user_bias")).cast(as_floats)).alias(
                "features"
            ),
        )
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    items = (
        model.itemFactors.join(biases.item_bias.withColumnRenamed("item", "id"), "id")
        .select("id", F.concat("features", F.array(F.col("item_bias"), F.lit(1.0)).cast(as_floats)).alias("features"))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    persisted.extend([users, items])
    return _als_model(spark, model.uid, model.rank + 2, users, items)


def fit_model(
    spark: SparkSession,
    train: DataFrame,
    biases: Biases | None,
    args: argparse.Namespace,
    rank: int,
    reg_param: float,
    blocks: int,
    persisted: list,
) -> ALSModel:
    """ALS on the bias residual with the biases folded in, or plain ALS without biases."""
    als = build_als(args, rank, reg_param, blocks)
    if biases is None:
        return als.fit(train)
    return fold_biases(spark, als.fit(biases.residual(train)), biases, persisted)


def tuning_grid(args: argparse.Namespace, ratings: int, users: int, items: int) -> tuple:
    """(ranks, reg_params) to search; the defaults scale the ranks with the data.

    A rank is searched while the model's (users + items) * rank parameters stay within
    ratings / RATINGS_PER_PARAMETER; 5 and Spark's default rank 10 always are. MovieLens-shaped
    data searches ranks 5-20 at 100K ratings, 5-40 at 1M and 5-80 at 20M. The default reg_params
    are the coarse stage: two decades around Spark's default 0.1 (see refine_reg_params).
    """
    ranks = args.tune_ranks
    if ranks is None:
        limit = ratings / (RATINGS_PER_PARAMETER * max(1, users + items))
        ranks = sorted({rank for rank in TUNE_RANKS if rank <= limit} | {5, SPARK_DEFAULT_RANK})
    reg_params = args.tune_reg_params if args.tune_reg_params is not None else list(TUNE_REG_PARAMS)
    return sorted(set(ranks)), sorted(set(reg_params))


def refine_reg_params(best: float) -> list:
    """The fine stage around the best coarse reg_param: steps of about sqrt(2) within a factor 2."""
    return sorted({round(best * factor, 6) for factor in REFINE_FACTORS})


def tune(
    spark: SparkSession,
    train: DataFrame,
    train_rows: int,
    args: argparse.Namespace,
    blocks: int,
    persisted: list,
) -> dict:
    """Hold out --tune-validation-fraction of train, fit models on the rest with their own biases and
    score clipped predictions by RMSE on the held-out rows. Default search, coarse to fine: regParam
    over TUNE_REG_PARAMS at rank 10, then every rank of tuning_grid with refine_reg_params around the
    best of those (about 20 models). With --tune-reg-params: exactly ranks x those. The best (lowest
    RMSE; ties to the smaller rank, then the larger reg_param) is returned with every model scored."""
    held_out = hash_fraction(args.seed, "validation") < args.tune_validation_fraction
    fit_part = train.where(~held_out).persist(StorageLevel.MEMORY_AND_DISK)
    validation = train.where(held_out).persist(StorageLevel.MEMORY_AND_DISK)
    persisted.extend([fit_part, validation])
    sizes = one_row(
        fit_part.agg(
            F.count(F.lit(1)).alias("rows"),
            F.avg("rating").alias("mu"),
            F.countDistinct("user").alias("users"),
            F.countDistinct("item").alias("items"),
        )
    )
    ranks, reg_params = tuning_grid(args, int(sizes["rows"]), int(sizes["users"]), int(sizes["items"]))
    biases = Biases(fit_part, float(sizes["mu"]), args.baseline_reg, persisted) if args.biases else None
    residual = (biases.residual(fit_part) if biases else fit_part).persist(StorageLevel.MEMORY_AND_DISK)
    persisted.append(residual)
    scored = (biases.with_baseline(validation) if biases else validation.withColumn("baseline", F.lit(0.0))).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    persisted.append(scored)

    def score(params: tuple) -> dict:
        rank, reg_param = params
        model = build_als(args, rank, reg_param, blocks).fit(residual)
        prediction = clip_rating(F.col("prediction") + F.col("baseline"), args)
        error = prediction - F.col("rating")
        row = one_row(model.transform(scored).agg(F.sqrt(F.avg(error * error)).alias("rmse")))
        return {"rank": rank, "reg_param": reg_param, "validation_rmse": row["rmse"]}

    def best_of(results: list) -> dict:
        return min(results, key=lambda r: (r["validation_rmse"], r["rank"], -r["reg_param"]))

    with ThreadPoolExecutor(max_workers=args.tune_parallelism) as pool:
        if args.tune_reg_params is not None:  # a grid of the caller's: search exactly that
            stages = {"grid": [(rank, reg_param) for rank in ranks for reg_param in reg_params]}
            results = list(pool.map(score, stages["grid"]))
        else:  # coarse over regParam at Spark's default rank, then fine around its best at every rank
            coarse = [(SPARK_DEFAULT_RANK, reg_param) for reg_param in reg_params]
            results = list(pool.map(score, coarse))
            fine_reg_params = refine_reg_params(best_of(results)["reg_param"])
            fine = [(r, g) for r in ranks for g in fine_reg_params if (r, g) not in coarse]
            results += list(pool.map(score, fine))
            stages = {"coarse": coarse, "fine": fine}
    best = best_of(results)
    return {
        "method": "holdout",
        "metric": "rmse",
        "validation_fraction": args.tune_validation_fraction,
        "fit_rows": int(sizes["rows"]),
        "validation_rows": train_rows - int(sizes["rows"]),
        "stages": {name: len(pairs) for name, pairs in stages.items()},
        "ranks": ranks,
        "reg_params": sorted({result["reg_param"] for result in results}),
        "grid": results,
        "best_params": {"rank": best["rank"], "reg_param": best["reg_param"]},
    }


# ---------------------------------------------------------------- evaluation and recommendations


def regression_metrics(model: ALSModel, test: DataFrame, biases: Biases, args: argparse.Namespace) -> dict:
    """RMSE and MAE of the model and of the bias baseline on the same test rows, in one pass.

    Rows whose user or item is unseen in training are dropped (coldStartStrategy "drop"), for both.
    """
    scored = model.transform(biases.with_baseline(test))
    model_error = clip_rating(F.col("prediction"), args) - F.col("rating")
    baseline_error = clip_rating(F.col("baseline"), args) - F.col("rating")
    row = one_row(
        scored.agg(
            F.sqrt(F.avg(model_error * model_error)).alias("rmse"),
            F.avg(F.abs(model_error)).alias("mae"),
            F.sqrt(F.avg(baseline_error * baseline_error)).alias("baseline_rmse"),
            F.avg(F.abs(baseline_error)).alias("baseline_mae"),
            F.count(F.lit(1)).alias("rows"),
        )
    )
    metrics = {key: row[key] for key in ("rmse", "mae", "baseline_rmse", "baseline_mae")}
    metrics["test_rows_evaluated"] = int(row["rows"])
    return metrics


def _top_lists(candidates: DataFrame, rated: DataFrame, top_n: int) -> DataFrame:
    """(user, recs) for every user in candidates: the first top_n candidates the user did not rate,
    as array<struct<position, item, score>> (empty when every candidate was rated)."""
    exploded = candidates.select("user", F.posexplode("recommendations").alias("position", "recommendation")).select(
        "user",
        "position",
        F.col("recommendation.item").alias("item"),
        F.col("recommendation.rating").alias("score"),
    )
    marked = exploded.join(rated.withColumn("was_rated", F.lit(True)), ["user", "item"], "left")
    unrated = F.when(F.col("was_rated").isNull(), F.struct("position", "item", "score"))
    ordered = F.array_sort(F.collect_list(unrated))  # collect_list skips the nulls of rated items
    return marked.groupBy("user").agg(F.slice(ordered, 1, top_n).alias("recs"))


def recommend_unrated(
    model: ALSModel, users: DataFrame | None, rated: DataFrame, top_n: int, items: int, persisted: list
) -> tuple:
    """Each user's top_n highest-scoring items among those the user did not rate in training.

    Fetches CANDIDATE_GROWTH x top_n candidates, drops rated ones, and fetches CANDIDATE_GROWTH times
    more for the users left with fewer than top_n, until every user has top_n or all items were
    candidates: the first top_n unrated candidates out of k are the true top_n unrated whenever
    there are top_n of them. users None means every user of the model. Returns (lists, rounds)
    where lists is (user, recs) persisted and rounds the candidate counts fetched.
    """
    found: DataFrame | None = None
    pending = users
    fetch = min(items, CANDIDATE_GROWTH * top_n)
    rounds = []
    while True:
        rounds.append(fetch)
        if pending is None:
            candidates = model.recommendForAllUsers(fetch)
        else:
            candidates = model.recommendForUserSubset(pending, fetch)
        lists = _top_lists(candidates, rated, top_n).persist(StorageLevel.MEMORY_AND_DISK)
        persisted.append(lists)
        if fetch >= items:  # every item was a candidate: what is left unrated is all there is
            found = lists if found is None else found.unionByName(lists)
            break
        complete = lists.where(F.size("recs") >= top_n)
        found = complete if found is None else found.unionByName(complete)
        pending = lists.where(F.size("recs") < top_n).select("user")
        if pending.count() == 0:
            break
        fetch = min(items, fetch * CANDIDATE_GROWTH)
    assert found is not None
    found = found.persist(StorageLevel.MEMORY_AND_DISK)
    persisted.append(found)
    return found, rounds


def popularity_lists(train: DataFrame, users: DataFrame, relevant: Column, top_n: int) -> DataFrame:
    """(user, recs): the top_n most popular items each user did not rate in training.

    Popularity is the number of training ratings that count as relevant (ties: lower item id). A
    user who rated n items needs at most the first top_n + n of the popular list, so the list is
    cut there per user: the work is bounded by users x top_n + training rows.
    """
    counts = train.where(relevant).groupBy("item").agg(F.count(F.lit(1)).alias("count"))
    order = Window.orderBy(F.col("count").desc(), F.col("item"))
    popular = counts.select("item", F.row_number().over(order).alias("position"))
    rated = train.select("user", "item")
    per_user = rated.groupBy("user").agg(F.count(F.lit(1)).alias("rated"))
    wanted = users.join(per_user, "user", "left").select(
        "user", F.explode(F.sequence(F.lit(1), F.lit(top_n) + F.coalesce(F.col("rated"), F.lit(0)))).alias("position")
    )
    candidates = wanted.join(F.broadcast(popular), "position").join(rated, ["user", "item"], "left_anti")
    ordered = F.array_sort(F.collect_list(F.struct("position", "item", F.lit(None).cast("float").alias("score"))))
    return candidates.groupBy("user").agg(F.slice(ordered, 1, top_n).alias("recs"))


def ranking_metrics(labels: DataFrame, lists: DataFrame, top_n: int) -> dict:
    """precision, recall, NDCG and MAP at top_n (Spark's RankingEvaluator) of lists against labels.

    labels: (user, label array<double>), one row per evaluated user; a user without a list counts
    with an empty one (scores 0).
    """
    predicted = lists.select("user", F.expr("transform(recs, r -> cast(r.item as double))").alias("prediction"))
    joined = (
        labels.join(predicted, "user", "left")
        .select("label", F.coalesce("prediction", F.array().cast("array<double>")).alias("prediction"))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    try:
        evaluator: Any = RankingEvaluator(predictionCol="prediction", labelCol="label", k=top_n)
        return {key: float(evaluator.setMetricName(metric).evaluate(joined)) for key, metric in RANKING_METRICS.items()}
    finally:
        joined.unpersist()


def recommend_users(spark: SparkSession, spec: str) -> DataFrame:
    """(user) from --recommend-users: comma-separated ids, or a file/URI holding one id per line."""
    if re.fullmatch(r"\s*[0-9]+(\s*,\s*[0-9]+)*\s*,?\s*", spec):
        ids = sorted({int(value) for value in spec.split(",") if value.strip()})
        if any(value > INT_MAX for value in ids):
            raise JobInputError(f"--recommend-users: an id above {INT_MAX}")
        return spark.createDataFrame([(value,) for value in ids], "user int")
    lines = read_lines(spark, spec).select(F.trim("line").alias("text")).where(F.col("text") != "")
    bad = lines.where(~F.col("text").rlike(r"^[0-9]{1,10}$") | (F.col("text").cast("long") > INT_MAX)).first()
    if bad is not None:
        raise JobInputError(f"--recommend-users {spec}: {bad['text']!r} is not a user id")
    return lines.select(F.col("text").cast("int").alias("user")).distinct()


# ---------------------------------------------------------------- attempts and promotion


class RunFolders:
    """Where a run's attempt writes and how it becomes <output>/<run-id>.

    Each attempt writes to <output>/_attempts/<run-id>/<attempt-id>/. On success it claims the run
    (exclusive create of _attempts/<run-id>/_claim), replaces whatever partial folder a failed
    attempt left at <output>/<run-id>, moves its outputs there and writes _SUCCESS last: a run
    folder without _SUCCESS is a failed attempt that a retry may replace; one with it is never
    touched again. Works through the Hadoop FileSystem API, so local paths, HDFS and S3 (where a
    directory move is copy + delete) behave the same.
    """

    def __init__(self, spark: SparkSession, output: str, run_id: str) -> None:
        self.spark = spark
        root = output.rstrip("/")
        self.run_id = run_id
        self.final = f"{root}/{run_id}"
        self.attempts_root = f"{root}/{ATTEMPTS_DIR}"
        self.run_attempts = f"{self.attempts_root}/{run_id}"
        self.attempt_id = f"{utc_now().strftime('%Y%m%dT%H%M%S%fZ')}-{uuid.uuid4().hex[:8]}"
        self.attempt = f"{self.run_attempts}/{self.attempt_id}"
        self.checkpoints = f"{self.attempt}.checkpoints"
        self.claim = f"{self.run_attempts}/{CLAIM_FILE}"
        self.claimed = False

    def is_complete(self) -> bool:
        return path_exists(self.spark, f"{self.final}/{SUCCESS_FILE}")

    def check_not_complete(self) -> None:
        if self.is_complete():
            raise RunCompleteError(
                f"{self.final} is already complete ({SUCCESS_FILE} exists) and is never overwritten; "
                "choose another --run-id"
            )

    def _claim_age_seconds(self) -> float:
        fs, path = _hadoop_path(self.spark, self.claim)
        try:
            modified = fs.getFileStatus(path).getModificationTime() / 1000.0
        except Exception:
            return 0.0
        return time.time() - modified

    def acquire(self) -> None:
        """Claim the run for this attempt, or raise RunLostError naming the attempt that has it.

        A claim older than CLAIM_STALE_SECONDS belongs to a promotion that died: it is broken once.
        """
        token = json.dumps({"attempt": self.attempt_id, "claimed_at": utc_now().isoformat(timespec="seconds")})
        for tries_left in (1, 0):
            if create_exclusive(self.spark, self.claim, token):
                self.claimed = self._confirm(token)
                if self.claimed:
                    break
            elif tries_left and self._claim_age_seconds() > CLAIM_STALE_SECONDS:
                delete_path(self.spark, self.claim, recursive=False)
                continue
            holder = read_text(self.spark, self.claim).strip() or "another attempt"
            raise RunLostError(f"run {self.run_id} is being promoted by {holder}; this attempt's output is dropped")
        if self.is_complete():
            raise RunLostError(
                f"run {self.run_id} was completed by another attempt ({self.final}); this attempt's output is dropped"
            )

    def _confirm(self, token: str) -> bool:
        """On stores without exclusive create, a racing writer may have replaced the claim: re-read it
        after CLAIM_SETTLE_SECONDS, longer than the check-then-write window, and keep it only if it is ours."""
        fs, _ = _hadoop_path(self.spark, self.claim)
        if str(fs.getScheme()) in ATOMIC_CREATE_SCHEMES:
            return True
        time.sleep(CLAIM_SETTLE_SECONDS)
        return read_text(self.spark, self.claim).strip() == token

    def promote(self) -> None:
        """Move this attempt's outputs to the run folder, replacing a failed attempt's partial folder;
        _SUCCESS is written last, then every attempt folder of the run is removed."""
        self.acquire()
        fs, final = _hadoop_path(self.spark, self.final)
        if fs.exists(final):
            fs.delete(final, True)
        fs.mkdirs(final)
        path_class = _jvm(self.spark).org.apache.hadoop.fs.Path
        for name in child_names(self.spark, self.attempt):
            if not fs.rename(path_class(f"{self.attempt}/{name}"), path_class(f"{self.final}/{name}")):
                raise OSError(f"could not move {self.attempt}/{name} to {self.final}/{name}")
        write_text(self.spark, f"{self.final}/{SUCCESS_FILE}", "")
        # Committed. Stale attempts of this run (and the claim) go; a concurrent attempt still
        # running finds the run complete and exits with EXIT_RUN_LOST.
        delete_path(self.spark, self.run_attempts)
        self.claimed = False
        delete_if_empty(self.spark, self.attempts_root)

    def discard(self) -> None:
        """Remove this attempt's folder (and its claim, if it holds one); leaves other attempts alone."""
        delete_path(self.spark, self.attempt)
        delete_path(self.spark, self.checkpoints)
        if self.claimed:
            delete_path(self.spark, self.claim, recursive=False)
            self.claimed = False
        delete_if_empty(self.spark, self.run_attempts)
        delete_if_empty(self.spark, self.attempts_root)


# ---------------------------------------------------------------- orchestration


class PhaseTimer:
    """Wall time per phase; each phase ends with a Spark action so the time lands where it is spent.

    A phase prints one line to stdout as it ends (EMR step logs show stdout), e.g.
    ``phase load_validate 3.2 s 100000 rows``; the body may set a count through the yielded dict.
    """

    def __init__(self, echo: Callable[[str], None]) -> None:
        self.seconds: dict = {}
        self.echo = echo

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[dict]:
        start = time.perf_counter()
        note: dict = {}
        yield note
        seconds = time.perf_counter() - start
        self.seconds[name] = round(seconds, 3)
        count = f" {note['count']} {note.get('unit', 'rows')}" if "count" in note else ""
        self.echo(f"phase {name} {seconds:.1f} s{count}")


def _print_line(text: str) -> None:
    print(text, flush=True)  # flushed: spark-submit pipes the driver's stdout, which would buffer it


def run(spark: SparkSession, args: argparse.Namespace, echo: Callable[[str], None] = _print_line) -> dict:
    """The whole job; returns the metrics written to <output>/<run-id>/metrics.json.

    RunCompleteError when the run id is already complete, RunLostError when another attempt
    completes or claims it first. Whatever happens, this attempt's own folder is gone afterwards.
    """
    started = time.perf_counter()
    folders = RunFolders(spark, args.output, args.run_id)
    folders.check_not_complete()
    # Without checkpoints ALS lineage grows with every iteration until tasks overflow the stack
    # (about 20 iterations): with no --checkpoint-dir, the attempt checkpoints beside its folder.
    spark.sparkContext.setCheckpointDir(args.checkpoint_dir or folders.checkpoints)

    timer = PhaseTimer(echo)
    persisted: list = []
    try:
        report = _run_attempt(spark, args, folders, timer, persisted, started)
        folders.promote()
        return report
    except Exception:
        folders.discard()
        if folders.is_complete():
            raise RunLostError(
                f"run {args.run_id} was completed by another attempt ({folders.final}); "
                "this attempt's output is dropped"
            ) from None
        raise
    finally:
        for frame in persisted:
            frame.unpersist()


def _run_attempt(
    spark: SparkSession,
    args: argparse.Namespace,
    folders: RunFolders,
    timer: PhaseTimer,
    persisted: list,
    started: float,
) -> dict:
    with timer.phase("load_validate") as note:
        loaded = load_ratings(spark, args, persisted)
        note["count"] = sum(report["input_rows"] for report in loaded.reports.values())
    if loaded.train_rows == 0 or loaded.test_rows == 0:
        raise JobInputError(
            f"{args.ratings}: {loaded.train_rows} training and {loaded.test_rows} test ratings after the split; "
            "need at least one of each (more ratings, or another --test-fraction)"
        )
    train, test = loaded.split(TRAIN), loaded.split(TEST)
    blocks = partitions_for(spark, loaded.train_rows)
    spark.conf.set("spark.sql.shuffle.partitions", str(blocks))

    tuning = None
    rank, reg_param = args.rank, args.reg_param
    if args.tune:
        with timer.phase("tune") as note:
            tuning = tune(spark, train, loaded.train_rows, args, blocks, persisted)
            rank, reg_param = tuning["best_params"]["rank"], tuning["best_params"]["reg_param"]
            note.update(count=len(tuning["grid"]), unit="models")

    biases = None if args.implicit else Biases(train, loaded.mu, args.baseline_reg, persisted)
    with timer.phase("train") as note:
        model = fit_model(spark, train, biases if args.biases else None, args, rank, reg_param, blocks, persisted)
        users, items = model.userFactors.count(), model.itemFactors.count()
        note["count"] = loaded.train_rows

    metrics: dict = {"rmse": None, "mae": None, "baseline_rmse": None, "baseline_mae": None}
    metrics["test_rows_evaluated"] = None
    if biases is not None:  # RMSE against implicit confidences means nothing
        with timer.phase("evaluate") as note:
            metrics = regression_metrics(model, test, biases, args)
            note["count"] = metrics["test_rows_evaluated"]

    rated = train.select("user", "item")
    relevant = F.lit(True) if args.relevant_rating is None else F.col("rating") >= args.relevant_rating
    known_users = model.userFactors.select(F.col("id").alias("user"))
    labels = (
        test.where(relevant)
        .join(known_users, "user", "left_semi")
        .groupBy("user")
        .agg(F.collect_list(F.col("item").cast("double")).alias("label"))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    persisted.append(labels)
    recommendation_report: dict = {"users_requested": None, "users_unknown": None}
    with timer.phase("recommend") as note:
        wanted: DataFrame | None = None
        targets: DataFrame | None = None  # None: every user of the model
        if args.recommend_users:
            requested = recommend_users(spark, args.recommend_users).persist(StorageLevel.MEMORY_AND_DISK)
            persisted.append(requested)
            wanted = requested.join(known_users, "user", "left_semi").persist(StorageLevel.MEMORY_AND_DISK)
            persisted.append(wanted)
            # The ranking metrics need the evaluated users' lists too: one pass fetches both.
            targets = wanted.unionByName(labels.select("user")).distinct()
            requested_count, wanted_count = requested.count(), wanted.count()
            recommendation_report = {
                "users_requested": int(requested_count),
                "users_unknown": int(requested_count - wanted_count),
            }
        lists, rounds = recommend_unrated(model, targets, rated, args.top_n, int(items), persisted)
        written_lists = lists if wanted is None else lists.join(wanted, "user", "left_semi")
        rows = written_lists.select("user", F.posexplode("recs").alias("index", "rec")).select(
            "user",
            (F.col("index") + 1).alias("rank"),
            F.col("rec.item").alias("item"),
            F.col("rec.score").alias("score"),
        )
        rows.write.parquet(f"{folders.attempt}/recommendations")
        written = one_row(
            spark.read.parquet(f"{folders.attempt}/recommendations").agg(
                F.count(F.lit(1)).alias("rows"), F.countDistinct("user").alias("users")
            )
        )
        recommendation_report.update(users=int(written["users"]), rows=int(written["rows"]), candidate_rounds=rounds)
        note["count"] = int(written["rows"])

    with timer.phase("rank_evaluate") as note:
        popular = popularity_lists(train, labels.select("user"), relevant, args.top_n)
        ranking = {
            "n": args.top_n,
            "relevant": "every held-out rating"
            if args.relevant_rating is None
            else f"held-out rating >= {args.relevant_rating:g}",
            "users_evaluated": int(labels.count()),
            "model": ranking_metrics(labels, lists, args.top_n),
            "popularity": ranking_metrics(labels, popular, args.top_n),
        }
        note.update(count=ranking["users_evaluated"], unit="users")

    with timer.phase("save_model"):
        model.save(f"{folders.attempt}/model")

    report = {
        "run_id": args.run_id,
        "attempt_id": folders.attempt_id,
        "output": folders.final,
        "spark_version": spark.version,
        "python_version": platform.python_version(),
        "finished_at": utc_now().isoformat(timespec="seconds"),
        "input": loaded.reports[ROLE_RATINGS],
        "test_input": loaded.reports.get(ROLE_TEST),
        "input_rows": loaded.reports[ROLE_RATINGS]["input_rows"],
        "rejected_rows": loaded.reports[ROLE_RATINGS]["rejected_rows"],
        "users": int(users),
        "items": int(items),
        "split": {
            "method": "test file" if args.test_ratings else "hash of (user, item, seed)",
            "train_rows": loaded.train_rows,
            "test_rows": loaded.test_rows,
        },
        "params": {
            "rank": rank,
            "reg_param": reg_param,
            "max_iter": args.max_iter,
            "biases": args.biases,
            "implicit": args.implicit,
            "alpha": args.alpha,
            "seed": args.seed,
            "test_fraction": None if args.test_ratings else args.test_fraction,
            "min_rating": args.min_rating if math.isfinite(args.min_rating) else None,
            "max_rating": args.max_rating if math.isfinite(args.max_rating) else None,
            "baseline_reg": args.baseline_reg,
            "global_mean": loaded.mu,
            "top_n": args.top_n,
            "relevant_rating": args.relevant_rating,
            "blocks": blocks,
            "checkpoint_dir": args.checkpoint_dir,
            "checkpoint_interval": args.checkpoint_interval,
        },
        "tuning": tuning,
        "best_params": tuning["best_params"] if tuning else None,
        "model_rank": model.rank,
        **metrics,
        "ranking": ranking,
        "recommendations": recommendation_report,
        "phase_seconds": timer.seconds,
        "wall_seconds": round(time.perf_counter() - started, 3),
    }
    write_text(spark, f"{folders.attempt}/metrics.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
    return report


def main(argv: list) -> int:
    args = parse_args(argv)
    # A session that already exists (tests, notebooks) belongs to the caller: use it, do not stop it.
    owns_session = SparkSession.getActiveSession() is None
    spark = SparkSession.builder.appName(APP_NAME).getOrCreate()
    try:
        report = run(spark, args)
    except JobInputError as exc:
        print(f"als_job: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except RunCompleteError as exc:
        print(f"als_job: error: {exc}", file=sys.stderr)
        return EXIT_RUN_COMPLETE
    except RunLostError as exc:
        print(f"als_job: error: {exc}", file=sys.stderr)
        return EXIT_RUN_LOST
    finally:
        if owns_session:
            spark.stop()
    keys = ("run_id", "output", "input_rows", "rejected_rows", "rmse", "baseline_rmse", "mae", "wall_seconds")
    summary: dict[str, Any] = {key: report[key] for key in keys}
    summary["ndcg_at_n"] = report["ranking"]["model"]["ndcg_at_n"]
    summary["popularity_ndcg_at_n"] = report["ranking"]["popularity"]["ndcg_at_n"]
    print(json.dumps(summary, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
