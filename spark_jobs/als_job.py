"""ALS matrix factorisation batch job: validate ratings, train, compare with a bias baseline, recommend.

Self-contained on purpose: an EMR step ships only this file, so it imports nothing from the project.

    spark-submit [--master local[2]] als_job.py --ratings s3://bucket/ml-100k/u.data --output s3://bucket/runs

Input: MovieLens 100K u.data (tab-separated user item rating timestamp), MovieLens ratings.csv
(header userId,movieId,rating,timestamp) or MovieLens 1M ratings.dat ("::"); --format auto detects
which one when the first lines fit exactly one. Bad rows are counted per reason and reported; the
job fails when nothing valid is left or more than --max-reject-fraction of the rows are bad.

Output, under <output>/<run-id>/ (a run never overwrites another run's directory):
  model/            the fitted ALSModel
  recommendations/  Parquet: user, rank, item, score (top-N items per user)
  metrics.json      input and rejection counts, parameters, RMSE/MAE vs the bias baseline, timings
  _SUCCESS          written last

Exit codes: 0 success, 2 unusable input, 3 the run directory already exists.
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

from pyspark import StorageLevel
from pyspark.errors import AnalysisException
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.ml.tuning import ParamGridBuilder, TrainValidationSplit
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

APP_NAME = "als-matrix-factorisation"

# Format name -> field separator (a Java regex for F.split; also a plain string for str.split).
FORMATS = {
    "udata": "\t",  # MovieLens 100K u.data
    "csv": ",",     # MovieLens ratings.csv (latest, 25M, ...), with a header line
    "dat": "::",    # MovieLens 1M / 10M ratings.dat
}
CSV_HEADERS = ("userid,movieid,rating,timestamp", "userid,movieid,rating")

# Rejection reasons, in the order they are checked (a row gets the first one that applies).
MALFORMED = "malformed"                      # not 3-4 fields, or a field that is not a number
MISSING_ID = "missing_id"                    # empty user or item field
NEGATIVE_ID = "negative_id"
ID_TOO_LARGE = "id_too_large"                # ALS ids are Java ints
RATING_OUT_OF_RANGE = "rating_out_of_range"  # outside --min-rating..--max-rating
DUPLICATE = "duplicate"                      # same (user, item) again: the latest timestamp is kept
REJECT_REASONS = (MALFORMED, MISSING_ID, NEGATIVE_ID, ID_TOO_LARGE, RATING_OUT_OF_RANGE, DUPLICATE)

INT_MAX = 2_147_483_647
ID_PATTERN = r"^-?[0-9]+$"
NUMBER_PATTERN = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
TIMESTAMP_PATTERN = r"^[0-9]{1,18}$"
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
ROWS_PER_PARTITION = 500_000  # ~10 MB of (int, int, double, long) rows: big enough to amortise a task
DETECT_SAMPLE_LINES = 20


class JobInputError(Exception):
    """The input cannot be used; the message names the file and, when there is one, the bad line."""


class RunExistsError(Exception):
    """<output>/<run-id> already exists; runs never overwrite each other."""


def default_run_id() -> str:
    """UTC time plus a random suffix, so two runs started in the same second do not collide."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"


def _float_list(text: str) -> list:
    return [float(value) for value in text.split(",") if value.strip()]


def _int_list(text: str) -> list:
    return [int(value) for value in text.split(",") if value.strip()]


def parse_args(argv: list) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="als_job.py", description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", required=True, help="ratings file or directory (local path or s3://)")
    parser.add_argument("--format", default="auto", choices=["auto", *FORMATS],
                        help="udata (tab), csv (header userId,movieId,rating,timestamp), dat (::), or auto")
    parser.add_argument("--test-ratings", help="explicit held-out test set (same formats); "
                                               "default: a seeded random split of --ratings")
    parser.add_argument("--output", required=True, help="output root; this run writes <output>/<run-id>/")
    parser.add_argument("--run-id", help="default: UTC time + random suffix")
    parser.add_argument("--rank", type=int, default=3)
    parser.add_argument("--reg-param", type=float, default=0.03)
    parser.add_argument("--max-iter", type=int, default=10)
    parser.add_argument("--implicit", action="store_true", help="implicit feedback (ratings are confidences)")
    parser.add_argument("--alpha", type=float, default=1.0, help="confidence scale for --implicit")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--test-fraction", type=float, default=0.1)
    parser.add_argument("--min-rating", type=float, help="default 0.5 (explicit) or 0 (implicit)")
    parser.add_argument("--max-rating", type=float, help="default 5 (explicit) or unbounded (implicit)")
    parser.add_argument("--max-reject-fraction", type=float, default=0.5,
                        help="fail when more than this fraction of the input rows is rejected")
    parser.add_argument("--baseline-reg", type=float, default=10.0,
                        help="shrinkage of the bias baseline's user and item biases (pseudo-counts)")
    parser.add_argument("--tune", action="store_true", help="grid search rank x reg-param first")
    parser.add_argument("--tune-ranks", type=_int_list, default=[3, 5, 10])
    parser.add_argument("--tune-reg-params", type=_float_list, default=[0.01, 0.03, 0.1])
    parser.add_argument("--tune-parallelism", type=int, default=2, help="models fitted at once while tuning")
    parser.add_argument("--top-n", type=int, default=10)
    parser.add_argument("--checkpoint-dir", help="checkpoint ALS lineage here (needed for long runs)")
    parser.add_argument("--checkpoint-interval", type=int, default=10)
    args = parser.parse_args(argv)

    if args.run_id is None:
        args.run_id = default_run_id()
    elif not RUN_ID_PATTERN.match(args.run_id) or args.run_id in (".", ".."):
        parser.error(f"--run-id {args.run_id!r}: use letters, digits, '.', '_', '-' (max 128)")
    if not 0.0 < args.test_fraction < 1.0:
        parser.error("--test-fraction must be between 0 and 1")
    if not 0.0 <= args.max_reject_fraction <= 1.0:
        parser.error("--max-reject-fraction must be between 0 and 1")
    for name in ("rank", "max_iter", "top_n", "tune_parallelism", "checkpoint_interval"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.reg_param < 0 or args.baseline_reg < 0:
        parser.error("--reg-param and --baseline-reg must be non-negative")
    if args.tune and args.implicit:
        parser.error("--tune selects by RMSE, which does not apply to --implicit")
    if args.tune and (not args.tune_ranks or not args.tune_reg_params):
        parser.error("--tune needs at least one rank and one reg-param")
    if args.min_rating is None:
        args.min_rating = 0.0 if args.implicit else 0.5
    if args.max_rating is None:
        args.max_rating = math.inf if args.implicit else 5.0
    if args.min_rating > args.max_rating:
        parser.error("--min-rating is above --max-rating")
    return args


# ---------------------------------------------------------------- files (local, s3://, hdfs://)

def _hadoop_path(spark: SparkSession, uri: str):
    """(FileSystem, Path) through the JVM, so local paths, hdfs:// and s3:// (EMRFS) all work."""
    path = spark._jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark._jsc.hadoopConfiguration()), path


def path_exists(spark: SparkSession, uri: str) -> bool:
    fs, path = _hadoop_path(spark, uri)
    return bool(fs.exists(path))


def write_text(spark: SparkSession, uri: str, text: str) -> None:
    """Create uri with text; fails if it exists (no overwrite)."""
    fs, path = _hadoop_path(spark, uri)
    stream = fs.create(path, False)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


# ---------------------------------------------------------------- parsing and validation

def read_lines(spark: SparkSession, uri: str) -> DataFrame:
    """Every line with its file and a position that increases with the line's place in its file."""
    try:
        lines = spark.read.text(uri)
    except AnalysisException as exc:
        raise JobInputError(f"cannot read {uri}: {exc}") from None
    # Positions come from the scan's partition order, which follows file offsets within a file.
    return lines.select(F.col("value").alias("line"),
                        F.input_file_name().alias("source_file"),
                        F.monotonically_increasing_id().alias("position"))


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
            raise JobInputError(f"{uri}: cannot detect the format: line {line!r} does not fit "
                                f"{' or '.join(sorted(candidates))} (3-4 fields); pass --format")
        candidates &= fits
    if len(candidates) > 1:
        raise JobInputError(f"{uri}: ambiguous format ({', '.join(sorted(candidates))}); pass --format")
    return candidates.pop()


def check_header(uri: str, fmt: str, first_line: str) -> None:
    """A csv file must start with the MovieLens header; other formats have none."""
    first_field = first_line.split(FORMATS[fmt])[0].strip()
    if fmt == "csv" and not re.match(ID_PATTERN, first_field) and not _is_csv_header(first_line):
        raise JobInputError(f"{uri}: unexpected header {first_line!r}; "
                            f"expected userId,movieId,rating,timestamp")


def _text_field(fields, count, index: int):
    return F.when(count > index, F.trim(fields.getItem(index)))


def _id_value(text):
    """The id as a long when the text is an integer short enough to parse, else null."""
    return F.when(text.rlike(ID_PATTERN) & (F.length(text) <= 11), text.cast("long"))


def classify(lines: DataFrame, fmt: str, min_rating: float, max_rating: float) -> DataFrame:
    """Parse every non-blank, non-header line; reject_reason is null for a valid row.

    Casts are guarded by pattern checks, so the result is the same with spark.sql.ansi.enabled.
    Valid rows drop their text; rejected rows keep it for the error report. Built as successive
    projections (fields, then values, then reason) so each expression is evaluated once per row.
    """
    kept = F.trim(F.col("line")) != ""
    if fmt == "csv":
        kept = kept & ~F.lower(F.regexp_replace(F.col("line"), r"\s", "")).isin(*CSV_HEADERS)
    fields = F.split(F.col("line"), FORMATS[fmt])
    split = lines.where(kept).select("line", "source_file", "position", F.size(fields).alias("fields"),
                                     *(_text_field(fields, F.size(fields), i).alias(name) for i, name in
                                       enumerate(("user_text", "item_text", "rating_text", "time_text"))))
    user_text, item_text, time_text = F.col("user_text"), F.col("item_text"), F.col("time_text")
    values = split.select(
        "*",
        _id_value(user_text).alias("user_id"),
        _id_value(item_text).alias("item_id"),
        F.when(F.col("rating_text").rlike(NUMBER_PATTERN), F.col("rating_text").cast("double")).alias("value"),
        F.when(time_text.rlike(TIMESTAMP_PATTERN), time_text.cast("long")).alias("time"),
    )
    count, user, item, rating = F.col("fields"), F.col("user_id"), F.col("item_id"), F.col("value")
    bad_timestamp = time_text.isNotNull() & (time_text != "") & F.col("time").isNull()
    reason = (
        F.when((count < 3) | (count > 4), F.lit(MALFORMED))
        .when((user_text == "") | (item_text == ""), F.lit(MISSING_ID))
        .when(~user_text.rlike(ID_PATTERN) | ~item_text.rlike(ID_PATTERN) | rating.isNull() | bad_timestamp,
              F.lit(MALFORMED))
        .when(user_text.startswith("-") | item_text.startswith("-"), F.lit(NEGATIVE_ID))
        .when(user.isNull() | item.isNull() | (user > INT_MAX) | (item > INT_MAX), F.lit(ID_TOO_LARGE))
        .when((rating < min_rating) | (rating > max_rating), F.lit(RATING_OUT_OF_RANGE))
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


def keep_latest(valid: DataFrame) -> DataFrame:
    """One row per (user, item): the latest timestamp, and on a tie (or no timestamps) the later line.

    A hash aggregation on the max of (timestamp, position, rating) rather than a window: no sort.
    Struct ordering puts null first, so a row with a timestamp beats one without.
    """
    latest = F.max(F.struct("timestamp", "position", "rating")).alias("latest")
    return (valid.groupBy("user", "item").agg(latest)
            .select("user", "item", F.col("latest.rating").alias("rating"),
                    F.col("latest.timestamp").alias("timestamp")))


def partitions_for(spark: SparkSession, rows: int) -> int:
    """At least one partition per core, more when the data outgrows ROWS_PER_PARTITION each."""
    return max(spark.sparkContext.defaultParallelism, math.ceil(rows / ROWS_PER_PARTITION))


def first_rejected_line(spark: SparkSession, uri: str, parsed: DataFrame) -> dict | None:
    """File, 1-based line number, text and reason of the earliest rejected line, or None."""
    row = (parsed.where(F.col("reject_reason").isNotNull())
           .orderBy("position").select("source_file", "position", "line", "reject_reason").first())
    if row is None:
        return None
    # Re-reading assigns the same positions; lines of the same file before this one give its number.
    earlier = (read_lines(spark, uri)
               .where((F.col("source_file") == row.source_file) & (F.col("position") < row.position))
               .count())
    return {"file": row.source_file, "line_number": earlier + 1, "line": row.line, "reason": row.reject_reason}


def _describe_bad_line(bad: dict | None) -> str:
    if bad is None:
        return ""
    return f"; first bad line: {bad['file']} line {bad['line_number']}: {bad['line']!r} ({bad['reason']})"


def load_ratings(spark: SparkSession, uri: str, fmt: str, args: argparse.Namespace,
                 persisted: list) -> tuple:
    """Validated, de-duplicated ratings (persisted) and the validation report.

    JobInputError when no valid rating is left or more than max_reject_fraction of rows is rejected.
    """
    lines = read_lines(spark, uri)
    sample = [row.line for row in
              lines.where(F.trim("line") != "").select("line").limit(DETECT_SAMPLE_LINES).collect()]
    if not sample:
        raise JobInputError(f"{uri}: the input is empty (no non-blank lines)")
    if fmt == "auto":
        fmt = detect_format(uri, sample)
    check_header(uri, fmt, sample[0])

    # Small until the row count is known; the reason count below only shuffles a handful of rows.
    spark.conf.set("spark.sql.shuffle.partitions", str(spark.sparkContext.defaultParallelism))
    parsed = classify(lines, fmt, args.min_rating, args.max_rating).persist(StorageLevel.MEMORY_AND_DISK)
    persisted.append(parsed)
    counts = {row["reject_reason"]: row["count"] for row in parsed.groupBy("reject_reason").count().collect()}
    valid_rows = counts.pop(None, 0)
    input_rows = valid_rows + sum(counts.values())

    # The window shuffle and everything downstream use a partition count sized to the data.
    partitions = partitions_for(spark, valid_rows)
    spark.conf.set("spark.sql.shuffle.partitions", str(partitions))
    ratings = keep_latest(parsed.where(F.col("reject_reason").isNull())).persist(StorageLevel.MEMORY_AND_DISK)
    persisted.append(ratings)
    kept_rows = ratings.count()
    if valid_rows > kept_rows:
        counts[DUPLICATE] = valid_rows - kept_rows

    rejected = {reason: int(counts.get(reason, 0)) for reason in REJECT_REASONS}
    rejected_total = sum(rejected.values())
    bad = first_rejected_line(spark, uri, parsed) if rejected_total > rejected[DUPLICATE] else None
    report = {
        "uri": uri,
        "format": fmt,
        "input_rows": int(input_rows),
        "valid_rows": int(kept_rows),
        "rejected_rows": rejected,
        "rejected_total": int(rejected_total),
        "first_rejected_line": bad,
        "partitions": partitions,
    }
    if kept_rows == 0:
        raise JobInputError(f"{uri}: no valid ratings in {input_rows} rows as {fmt} "
                            f"(rejected: {_nonzero(rejected)}){_describe_bad_line(bad)}")
    if rejected_total > args.max_reject_fraction * input_rows:
        raise JobInputError(f"{uri}: {rejected_total} of {input_rows} rows rejected, more than "
                            f"--max-reject-fraction {args.max_reject_fraction} (rejected: "
                            f"{_nonzero(rejected)}){_describe_bad_line(bad)}")
    return ratings, report


def _nonzero(counts: dict) -> str:
    return ", ".join(f"{reason} {count}" for reason, count in counts.items() if count) or "none"


# ---------------------------------------------------------------- models and evaluation

def clip_rating(column, args: argparse.Namespace):
    """Explicit predictions are clipped to the valid rating range, as a product would show them."""
    if args.implicit:
        return column
    return F.least(F.greatest(column, F.lit(args.min_rating)), F.lit(args.max_rating))


def regression_metrics(predictions: DataFrame) -> dict:
    """RMSE, MAE and row count of (rating, prediction) in one pass."""
    error = F.col("prediction") - F.col("rating")
    row = predictions.agg(F.sqrt(F.avg(error * error)).alias("rmse"),
                          F.avg(F.abs(error)).alias("mae"),
                          F.count(F.lit(1)).alias("rows")).first()
    return {"rmse": row["rmse"], "mae": row["mae"], "rows": int(row["rows"])}


def fit_bias_baseline(train: DataFrame, reg: float) -> tuple:
    """Global mean plus shrunk item biases, then shrunk user biases on the item-debiased residual.

    b_i = sum(r - mu) / (n_i + reg), b_u = sum(r - mu - b_i) / (n_u + reg): DataFrame aggregations,
    so only the mean comes back to the driver. Returns (mu, user_bias, item_bias).
    """
    mu = train.agg(F.avg("rating")).first()[0]
    item_bias = train.groupBy("item").agg(
        (F.sum(F.col("rating") - mu) / (F.count(F.lit(1)) + reg)).alias("item_bias"))
    user_bias = (train.join(item_bias, "item")
                 .groupBy("user")
                 .agg((F.sum(F.col("rating") - mu - F.col("item_bias")) / (F.count(F.lit(1)) + reg))
                      .alias("user_bias")))
    return mu, user_bias, item_bias


def predict_bias_baseline(pairs: DataFrame, baseline: tuple, args: argparse.Namespace) -> DataFrame:
    """mu + b_u + b_i for every pair; an id unseen in training gets bias 0."""
    mu, user_bias, item_bias = baseline
    raw = F.lit(mu) + F.coalesce(F.col("user_bias"), F.lit(0.0)) + F.coalesce(F.col("item_bias"), F.lit(0.0))
    return (pairs.join(user_bias, "user", "left").join(item_bias, "item", "left")
            .withColumn("prediction", clip_rating(raw, args)))


def build_als(args: argparse.Namespace, blocks: int) -> ALS:
    return ALS(rank=args.rank, maxIter=args.max_iter, regParam=args.reg_param,
               implicitPrefs=args.implicit, alpha=args.alpha, seed=args.seed,
               userCol="user", itemCol="item", ratingCol="rating",
               coldStartStrategy="drop",  # unseen ids would give NaN and poison RMSE
               numUserBlocks=blocks, numItemBlocks=blocks,
               checkpointInterval=args.checkpoint_interval)


def tune_als(als: ALS, train: DataFrame, args: argparse.Namespace) -> tuple:
    """TrainValidationSplit over rank x regParam; returns (model refit on all of train, tuning report)."""
    grid = (ParamGridBuilder().addGrid(als.rank, args.tune_ranks)
            .addGrid(als.regParam, args.tune_reg_params).build())
    evaluator = RegressionEvaluator(metricName="rmse", labelCol="rating", predictionCol="prediction")
    search = TrainValidationSplit(estimator=als, estimatorParamMaps=grid, evaluator=evaluator,
                                  trainRatio=0.8, parallelism=args.tune_parallelism, seed=args.seed)
    fitted = search.fit(train)
    results = [{"rank": params[als.rank], "reg_param": params[als.regParam], "validation_rmse": rmse}
               for params, rmse in zip(grid, fitted.validationMetrics)]
    best = min(results, key=lambda result: result["validation_rmse"])
    report = {"method": "TrainValidationSplit", "train_ratio": 0.8, "parallelism": args.tune_parallelism,
              "grid": results, "best_params": {"rank": best["rank"], "reg_param": best["reg_param"]}}
    return fitted.bestModel, report


def top_n_recommendations(model: ALSModel, top_n: int) -> DataFrame:
    """One row per (user, rank): the top_n highest-scoring items of each user."""
    return (model.recommendForAllUsers(top_n)
            .select("user", F.posexplode("recommendations").alias("position", "recommendation"))
            .select("user", (F.col("position") + 1).alias("rank"),
                    F.col("recommendation.item").alias("item"),
                    F.col("recommendation.rating").alias("score")))


# ---------------------------------------------------------------- orchestration

class PhaseTimer:
    """Wall time per phase; each phase ends with a Spark action so the time lands where it is spent."""

    def __init__(self) -> None:
        self.seconds: dict = {}

    @contextlib.contextmanager
    def phase(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - start, 3)


def run(spark: SparkSession, args: argparse.Namespace) -> dict:
    """The whole job; returns the metrics written to <output>/<run-id>/metrics.json."""
    started = time.perf_counter()
    run_dir = f"{args.output.rstrip('/')}/{args.run_id}"
    if path_exists(spark, run_dir):
        raise RunExistsError(f"{run_dir} already exists; choose another --run-id")
    if args.checkpoint_dir:
        spark.sparkContext.setCheckpointDir(args.checkpoint_dir)

    timer = PhaseTimer()
    persisted: list = []
    try:
        with timer.phase("load_validate"):
            ratings, ratings_report = load_ratings(spark, args.ratings, args.format, args, persisted)
            test_report = None
            if args.test_ratings:
                test, test_report = load_ratings(spark, args.test_ratings, args.format, args, persisted)
            # Re-set: loading the test file sized the shuffle partitions for itself.
            spark.conf.set("spark.sql.shuffle.partitions", str(ratings_report["partitions"]))
            sizes = ratings.agg(F.countDistinct("user").alias("users"),
                                F.countDistinct("item").alias("items")).first()

        with timer.phase("split"):
            if args.test_ratings:
                train = ratings
            else:
                train, test = ratings.randomSplit([1.0 - args.test_fraction, args.test_fraction], seed=args.seed)
                train = train.persist(StorageLevel.MEMORY_AND_DISK)
                test = test.persist(StorageLevel.MEMORY_AND_DISK)
                persisted.extend([train, test])
            train_rows, test_rows = train.count(), test.count()

        als = build_als(args, ratings_report["partitions"])
        tuning = None
        if args.tune:
            with timer.phase("tune"):
                model, tuning = tune_als(als, train, args)
        else:
            with timer.phase("train"):
                model = als.fit(train)

        metrics = {"rmse": None, "mae": None, "baseline_rmse": None, "baseline_mae": None,
                   "test_rows_evaluated": None}
        if not args.implicit:  # RMSE against implicit confidences means nothing
            with timer.phase("evaluate"):
                predictions = (model.transform(test)
                               .withColumn("prediction", clip_rating(F.col("prediction"), args))
                               .persist(StorageLevel.MEMORY_AND_DISK))
                persisted.append(predictions)
                als_scores = regression_metrics(predictions)
            with timer.phase("baseline"):
                # Same rows as ALS (after the cold-start drop), so the two numbers compare like for like.
                baseline = fit_bias_baseline(train, args.baseline_reg)
                baseline_scores = regression_metrics(
                    predict_bias_baseline(predictions.select("user", "item", "rating"), baseline, args))
            metrics = {"rmse": als_scores["rmse"], "mae": als_scores["mae"],
                       "baseline_rmse": baseline_scores["rmse"], "baseline_mae": baseline_scores["mae"],
                       "test_rows_evaluated": als_scores["rows"]}

        with timer.phase("save_model"):
            model.save(f"{run_dir}/model")
        with timer.phase("recommend"):
            top_n_recommendations(model, args.top_n).write.parquet(f"{run_dir}/recommendations")

        report = {
            "run_id": args.run_id,
            "output": run_dir,
            "spark_version": spark.version,
            "python_version": platform.python_version(),
            "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "input": ratings_report,
            "test_input": test_report,
            "input_rows": ratings_report["input_rows"],
            "rejected_rows": ratings_report["rejected_rows"],
            "users": int(sizes["users"]),
            "items": int(sizes["items"]),
            "split": {"method": "test file" if args.test_ratings else "random",
                      "train_rows": int(train_rows), "test_rows": int(test_rows)},
            "params": {"rank": args.rank, "reg_param": args.reg_param, "max_iter": args.max_iter,
                       "implicit": args.implicit, "alpha": args.alpha, "seed": args.seed,
                       "test_fraction": None if args.test_ratings else args.test_fraction,
                       "min_rating": args.min_rating if math.isfinite(args.min_rating) else None,
                       "max_rating": args.max_rating if math.isfinite(args.max_rating) else None,
                       "baseline_reg": args.baseline_reg, "top_n": args.top_n,
                       "blocks": ratings_report["partitions"],
                       "checkpoint_dir": args.checkpoint_dir, "checkpoint_interval": args.checkpoint_interval},
            "tuning": tuning,
            "best_params": tuning["best_params"] if tuning else None,
            "model_rank": model.rank,
            **metrics,
            "phase_seconds": timer.seconds,
            "wall_seconds": round(time.perf_counter() - started, 3),
        }
        write_text(spark, f"{run_dir}/metrics.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
        write_text(spark, f"{run_dir}/_SUCCESS", "")
        return report
    finally:
        for frame in persisted:
            frame.unpersist()


def main(argv: list) -> int:
    args = parse_args(argv)
    # A session that already exists (tests, notebooks) belongs to the caller: use it, do not stop it.
    owns_session = SparkSession.getActiveSession() is None
    spark = SparkSession.builder.appName(APP_NAME).getOrCreate()
    try:
        report = run(spark, args)
    except JobInputError as exc:
        print(f"als_job: error: {exc}", file=sys.stderr)
        return 2
    except RunExistsError as exc:
        print(f"als_job: error: {exc}", file=sys.stderr)
        return 3
    finally:
        if owns_session:
            spark.stop()
    summary = {key: report[key] for key in ("run_id", "output", "input_rows", "rejected_rows", "rmse",
                                            "baseline_rmse", "mae", "wall_seconds")}
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
