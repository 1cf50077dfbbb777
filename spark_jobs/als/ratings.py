"""Reading, validation, de-duplication and the train/test split of the ratings, in one Spark action.

Input: MovieLens 100K u.data (tab-separated user item rating timestamp), MovieLens ratings.csv
(header userId,movieId,rating,timestamp) or MovieLens 1M ratings.dat ("::"); --format auto detects
which one when the first lines fit exactly one. Every row is valid or rejected for exactly one reason
(REJECT_REASONS), counted per input with the file, number and text (its first SAMPLE_CHARS characters) of
the first rejected line; lines of only whitespace are skipped.
JobInputError, naming the file (and the line when there is one), when an input is empty or unreadable,
has no valid rating, or has more than --max-reject-fraction of its rows rejected.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator
from urllib.parse import unquote

from pyspark.errors import AnalysisException, IllegalArgumentException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from .config import JobConfig
from .hadoop_files import SCHEME, input_bytes, input_files, input_read_options, local_absolute
from .spark_helpers import CachedFrames, jvm, one_row, session_conf

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
TIMESTAMP_PATTERN = r"^0*[0-9]{1,18}$"  # leading zeros do not count: the value fits a long
# A line of nothing but whitespace (Unicode's, and a byte-order mark) is no row: it is skipped, not rejected.
BLANK_LINE_PATTERN = r"(?U)^[\s\x{FEFF}]*$"
LEADING_ZEROS = r"^(-?)0+([0-9])"  # ids are read by value: 000000000123 is 123
SAMPLE_CHARS = 200  # of a rejected line in metrics.json, and of any line an error message quotes
FIELD_TEXTS = ("user_text", "item_text", "rating_text", "time_text")  # the fields of a line, as text
ROWS_PER_PARTITION = 500_000  # ~10 MB of (int, int, double) rows: big enough to amortise a task
BYTES_PER_PARTITION = 16 * 1024 * 1024  # input text per shuffle partition while loading (~600K lines)
DETECT_SAMPLE_LINES = 20
HASH_BUCKETS = 1 << 30  # resolution of the hash-based splits

# Inputs and splits.
ROLE_RATINGS, ROLE_TEST = "ratings", "test_ratings"
TRAIN, TEST = "train", "test"


class JobInputError(Exception):
    """The input cannot be used; the message names the file and, when there is one, the bad line."""


def one_line(text: str, limit: int = 200) -> str:
    """The first line of text, at most limit characters (with how many more there were)."""
    first = str(text).strip().splitlines()[0] if str(text).strip() else ""
    return first if len(first) <= limit else f"{first[:limit]}... ({len(first) - limit} more characters)"


def read_lines(spark: SparkSession, uri: str) -> DataFrame:
    """Every line with its file and a position that increases with the line's place in its file.

    A name is read as it is when it exists (hadoop_files.input_read_options), else as a glob; a compressed
    file (.gz, .bz2: Hadoop's codecs, chosen by the suffix) is decompressed as it is read.
    """
    uri = local_absolute(uri)
    try:
        lines = spark.read.options(**input_read_options(spark, uri)).text(uri)
    except (AnalysisException, IllegalArgumentException) as exc:
        raise JobInputError(f"cannot read {uri}: {one_line(str(exc))}") from None
    # Positions come from the scan's partition order, which follows file offsets within a file.
    return lines.select(
        F.col("value").alias("line"),
        F.input_file_name().alias("source_file"),  # URI-encoded: shown decoded (file_name)
        F.monotonically_increasing_id().alias("position"),
    )


def _java_causes(error: BaseException) -> list:
    """The Java exception behind a py4j error and its causes, outermost first (empty for a Python error)."""
    throwable = getattr(error, "java_exception", None) or getattr(error, "_origin", None)
    causes: list = []
    while throwable is not None and len(causes) < 20:
        causes.append(throwable)
        throwable = throwable.getCause()
    return causes


def _read_failure(spark: SparkSession, error: BaseException) -> str | None:
    """'EOFException: Unexpected end of input stream' when error comes from reading a file (a Java
    IOException: truncated or corrupt compressed data, a checksum, a file gone); None otherwise."""
    io_error = jvm(spark).java.lang.Class.forName("java.io.IOException")
    failures = [cause for cause in _java_causes(error) if io_error.isInstance(cause)]
    if not failures:
        return None
    cause = failures[-1]  # the innermost: what went wrong, not what wrapped it
    return one_line(f"{cause.getClass().getSimpleName()}: {cause.getMessage()}")


def _file_read_failure(spark: SparkSession, name: str) -> str | None:
    """Why reading the one file name fails (as _read_failure words it), or None when it reads."""
    try:
        read_lines(spark, name).count()
    except Exception as error:
        return _read_failure(spark, error) or one_line(str(error))
    return None


def file_name(source_file: str) -> str:
    """A file as Spark names it (input_file_name() is URI-encoded: 'a%20b.csv'), as a person names it."""
    return unquote(source_file)


@contextlib.contextmanager
def input_read_errors(spark: SparkSession, uris: list) -> Iterator[None]:
    """A failure to read the inputs' bytes becomes JobInputError naming the file that cannot be read.

    Spark reports a task's IOException without the file (a truncated .gz ends in 'EOFException: Unexpected
    end of input stream'), so after a failure each file is read on its own until one fails: a cost paid
    only by a run that is failing anyway.
    """
    try:
        yield
    except JobInputError:
        raise
    except Exception as error:
        failure = _read_failure(spark, error)
        if failure is None:
            raise
        for uri in uris:
            for name in input_files(spark, local_absolute(uri)):
                reason = _file_read_failure(spark, name)
                if reason is not None:
                    shown = name if SCHEME.match(uri) else re.sub(r"^file:", "", name)  # as the path was given
                    raise JobInputError(f"{shown}: cannot read the file ({reason})") from None
        raise JobInputError(f"{', '.join(uris)}: cannot read the input ({failure})") from None


def quoted(line: str, length: int | None = None) -> str:
    """A line as an error message quotes it: repr of at most SAMPLE_CHARS characters, and the line's length
    (length: of the whole line, when line is already a sample of it) when that is more."""
    length = len(line) if length is None else length
    if length <= SAMPLE_CHARS:
        return repr(line)
    return f"{line[:SAMPLE_CHARS]!r}... ({length} characters)"


def _is_csv_header(line: str) -> bool:
    return re.sub(r"\s", "", line).lower() in CSV_HEADERS


def _fields_fit(line: str, fmt: str) -> bool:
    return 3 <= len(line.split(FORMATS[fmt])) <= 4


def detect_format(uri: str, sample: list) -> str:
    """The only format all sampled lines fit; JobInputError when none or several do."""
    if not sample:
        raise JobInputError(f"{uri}: no ratings: the input is empty or holds only whitespace")
    candidates = set(FORMATS)
    for line in sample:
        fits = {"csv"} if _is_csv_header(line) else {f for f in FORMATS if _fields_fit(line, f)}
        if not candidates & fits:
            raise JobInputError(
                f"{uri}: cannot detect the format: line {quoted(line)} does not fit "
                f"{' or '.join(sorted(candidates))} (3-4 fields); pass --format"
            )
        candidates &= fits
    if len(candidates) > 1:
        raise JobInputError(f"{uri}: ambiguous format ({', '.join(sorted(candidates))}); pass --format")
    return candidates.pop()


def check_header(uri: str, fmt: str, first_line: str, length: int | None = None) -> None:
    """A csv file must start with the MovieLens header; other formats have none."""
    first_field = first_line.split(FORMATS[fmt], maxsplit=1)[0].strip()
    if fmt == "csv" and not re.match(ID_PATTERN, first_field) and not _is_csv_header(first_line):
        raise JobInputError(
            f"{uri}: unexpected header {quoted(first_line, length)}; expected userId,movieId,rating,timestamp"
        )


def _text_field(fields: Column, count: Column, index: int) -> Column:
    return F.when(count > index, F.trim(fields.getItem(index)))


def _well_formed_field(sep: str, index: int) -> Column:
    """The field at index (0-3) of a line that matches well_formed_pattern, so has 3 or 4 fields; null
    when there is no fourth. substring_index works on Spark's own strings, where F.split converts every
    line to a Java String and back."""
    line = F.col("line")
    if index == 0:
        return F.trim(F.substring_index(line, sep, 1))
    if index < 3:
        return F.trim(F.substring_index(F.substring_index(line, sep, index + 1), sep, -1))
    three = F.substring_index(line, sep, 3)
    return F.when(F.length(three) < F.length(line), F.trim(F.substring_index(line, sep, -1)))


def _id_value(text: Column) -> Column:
    """The id as a long when the text is an integer short enough to parse (leading zeros aside), else null."""
    digits = F.regexp_replace(text, LEADING_ZEROS, "$1$2")
    return F.when(text.rlike(ID_PATTERN) & (F.length(digits) <= 11), digits.cast("long"))


def well_formed_pattern(fmt: str) -> str:
    """A regex the whole line of a plainly valid rating matches: two ids of at most 10 digits, a
    number, an optional timestamp, spaces around fields (what the field checks accept as well)."""
    sep, number = FORMATS[fmt], NUMBER_PATTERN[1:-1]
    return f"^ *[0-9]{{1,10}} *{sep} *[0-9]{{1,10}} *{sep} *{number} *({sep} *([0-9]{{1,18}})? *)?$"


def classify(lines: DataFrame, fmt: str, min_rating: float, max_rating: float) -> DataFrame:
    """Parse every non-blank, non-header line; reject_reason is null for a valid row.

    A line matching well_formed_pattern (nearly every line of real data) costs one regex and has its
    fields cut without a split; only the others go through the per-field checks that name the reason
    (tests/spark/test_classification_fuzz.py holds both paths to the same rules). Casts are guarded
    by pattern checks, so the result is the same with spark.sql.ansi.enabled. Valid rows drop their text;
    rejected rows keep it for the error report. Built as successive projections (fields, then
    values, then reason) so each expression is evaluated once per row.
    """
    kept = ~F.col("line").rlike(BLANK_LINE_PATTERN)
    if fmt == "csv":
        kept = kept & ~F.lower(F.regexp_replace(F.col("line"), r"\s", "")).isin(*CSV_HEADERS)
    checked = lines.where(kept).select(
        "line", "source_file", "position", F.col("line").rlike(well_formed_pattern(fmt)).alias("well_formed")
    )
    values = _parsed_values(_cut_fields(checked, FORMATS[fmt]))
    valid = F.col("reject_reason").isNull()
    return values.withColumn("reject_reason", _reject_reason(min_rating, max_rating)).select(
        F.when(valid, F.col("user_id").cast("int")).alias("user"),
        F.when(valid, F.col("item_id").cast("int")).alias("item"),
        F.when(valid, F.col("value")).alias("rating"),
        F.when(valid, F.col("time")).alias("timestamp"),
        "reject_reason",
        "source_file",
        "position",
        F.when(~valid, F.col("line")).alias("line"),
    )


def _cut_fields(checked: DataFrame, sep: str) -> DataFrame:
    """checked plus each field's text (FIELD_TEXTS) and, for lines that are not well formed, the field count."""
    well_formed = F.col("well_formed")
    # F.split was a fifth of the phase's CPU: it only runs, inside the otherwise branches, for lines
    # that are not well formed.
    fields = F.split(F.col("line"), sep)
    return checked.select(
        "*",
        F.when(~well_formed, F.size(fields)).alias("fields"),
        *(
            F.when(well_formed, _well_formed_field(sep, i))
            .otherwise(_text_field(fields, F.size(fields), i))
            .alias(name)
            for i, name in enumerate(FIELD_TEXTS)
        ),
    )


def _parsed_values(split: DataFrame) -> DataFrame:
    """split plus the parsed values: user_id, item_id (longs), value (the rating) and time, each null
    where its text does not parse."""
    well_formed = F.col("well_formed")
    user_text, item_text, rating_text, time_text = (F.col(name) for name in FIELD_TEXTS)
    return split.select(
        "*",
        F.when(well_formed, user_text.cast("long")).otherwise(_id_value(user_text)).alias("user_id"),
        F.when(well_formed, item_text.cast("long")).otherwise(_id_value(item_text)).alias("item_id"),
        F.when(well_formed | rating_text.rlike(NUMBER_PATTERN), rating_text.cast("double")).alias("value"),
        F.when((well_formed & (time_text != "")) | time_text.rlike(TIMESTAMP_PATTERN), time_text.cast("long")).alias(
            "time"
        ),
    )


def _reject_reason(min_rating: float, max_rating: float) -> Column:
    """The first REJECT_REASONS reason (but duplicate) that applies to a parsed row; null for a valid one."""
    well_formed = F.col("well_formed")
    user_text, item_text, time_text = F.col("user_text"), F.col("item_text"), F.col("time_text")
    count, user, item, rating = F.col("fields"), F.col("user_id"), F.col("item_id"), F.col("value")
    bad_timestamp = time_text.isNotNull() & (time_text != "") & F.col("time").isNull()
    in_range = (rating >= min_rating) & (rating <= max_rating)
    return (
        F.when(well_formed & (user <= INT_MAX) & (item <= INT_MAX) & in_range, F.lit(None).cast("string"))
        .when(~well_formed & ((count < 3) | (count > 4)), F.lit(MALFORMED))
        .when((user_text == "") | (item_text == ""), F.lit(MISSING_ID))
        .when(
            ~user_text.rlike(ID_PATTERN) | ~item_text.rlike(ID_PATTERN) | rating.isNull() | bad_timestamp,
            F.lit(MALFORMED),
        )
        .when(user_text.startswith("-") | item_text.startswith("-"), F.lit(NEGATIVE_ID))
        .when(user.isNull() | item.isNull() | (user > INT_MAX) | (item > INT_MAX), F.lit(ID_TOO_LARGE))
        .when(~in_range, F.lit(RATING_OUT_OF_RANGE))
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
    sample = F.struct(F.substring("line", 1, SAMPLE_CHARS).alias("text"), F.length("line").alias("chars"))
    per_file = head.groupBy("source_file").agg(
        F.count(F.lit(1)).alias("lines"),
        F.max("position").alias("last"),
        F.max_by(sample, "position").alias("line"),
    )
    row = one_row(per_file.where(F.col("last") == position))
    found = {"file": file_name(row["source_file"]), "line_number": int(row["lines"]), "line": row["line"]["text"]}
    if row["line"]["chars"] > SAMPLE_CHARS:  # only the start of a long line is kept, with its length
        found["line_chars"] = int(row["line"]["chars"])
    return found


def _describe_bad_line(bad: dict | None) -> str:
    if bad is None:
        return ""
    line = quoted(bad["line"], bad.get("line_chars"))
    return f"; first bad line: {bad['file']} line {bad['line_number']}: {line} ({bad['reason']})"


def _nonzero(counts: dict) -> str:
    return ", ".join(f"{reason} {count}" for reason, count in counts.items() if count) or "none"


class LoadedRatings:
    """Validated, de-duplicated, split ratings (one cached table) and what loading found."""

    def __init__(self, table: DataFrame, reports: dict, train_rows: int, test_rows: int, mu: float) -> None:
        self.table = table
        self.reports = reports
        self.train_rows = train_rows
        self.test_rows = test_rows
        self.mu = mu

    @property
    def input_rows(self) -> int:
        """Rows read from every input."""
        return sum(report["input_rows"] for report in self.reports.values())

    def split(self, name: str) -> DataFrame:
        valid = self.table.where(F.col("reject_reason").isNull() & (F.col("split") == name))
        return valid.select("user", "item", "rating")

    def check_both_splits(self, ratings: str) -> None:
        """JobInputError, naming the ratings, unless training and test each hold a rating."""
        if self.train_rows == 0 or self.test_rows == 0:
            raise JobInputError(
                f"{ratings}: {self.train_rows} training and {self.test_rows} test ratings after the split; "
                "need at least one of each (more ratings, or another --test-fraction)"
            )


def load_ratings(spark: SparkSession, config: JobConfig, cache: CachedFrames) -> LoadedRatings:
    """Parse, validate, de-duplicate and split --ratings (and --test-ratings) in one Spark action; the table
    stays in cache.

    Format detection reads up to DETECT_SAMPLE_LINES lines first, only with --format auto; the line
    number of the earliest rejected line costs one more pass, only when a line is rejected.
    JobInputError when an input is empty or unreadable, has no valid rating, or more than
    max_reject_fraction of its rows is rejected.
    """
    uris = [config.ratings] + ([config.test_ratings] if config.test_ratings else [])
    with input_read_errors(spark, uris):
        return _load_ratings(spark, config, cache)


def _load_ratings(spark: SparkSession, config: JobConfig, cache: CachedFrames) -> LoadedRatings:
    inputs = [(ROLE_RATINGS, local_absolute(config.ratings))]
    if config.test_ratings:
        inputs.append((ROLE_TEST, local_absolute(config.test_ratings)))
    formats, parts, total_bytes = {}, [], 0
    for role, uri in inputs:
        lines = read_lines(spark, uri)
        fmt = config.format
        if fmt == "auto":
            sample = [
                row.line
                for row in lines.where(~F.col("line").rlike(BLANK_LINE_PATTERN))
                .select("line")
                .limit(DETECT_SAMPLE_LINES)
                .collect()
            ]
            fmt = detect_format(uri, sample)
            check_header(uri, fmt, sample[0])
        formats[role] = fmt
        total_bytes += input_bytes(spark, uri)
        parts.append(classify(lines, fmt, config.min_rating, config.max_rating).withColumn("role", F.lit(role)))
    classified = parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1])

    partitions = max(spark.sparkContext.defaultParallelism, math.ceil(total_bytes / BYTES_PER_PARTITION))
    spark.conf.set("spark.sql.shuffle.partitions", str(partitions))
    # The partitions are sized above and nothing is joined, so adaptive execution has nothing to adapt;
    # it would only re-plan each shuffle stage as a Spark job of its own.
    with session_conf(spark, {"spark.sql.adaptive.enabled": "false"}):
        table = cache.persist(summarise(classified, bool(config.test_ratings), config.seed, config.test_fraction))
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
        reports[role] = _input_report(spark, uri, formats[role], rows, config)
    train = [row for row in stats if row["reject_reason"] is None and row["split"] == TRAIN]
    test = [row for row in stats if row["reject_reason"] is None and row["split"] == TEST]
    train_rows = sum(int(row["groups"]) for row in train)
    test_rows = sum(int(row["groups"]) for row in test)
    mu = sum(float(row["rating_sum"]) for row in train) / train_rows if train_rows else math.nan
    return LoadedRatings(table, reports, train_rows, test_rows, mu)


def _input_report(spark: SparkSession, uri: str, fmt: str, rows: list, config: JobConfig) -> dict:
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
        raise JobInputError(f"{uri}: no ratings: the input is empty or holds only whitespace")

    firsts = [(row["first_bad"], row["reject_reason"]) for row in rows if row["first_bad"] is not None]
    bad = None
    if firsts:
        position, reason = min(firsts)
        bad = {**locate_line(spark, uri, position), "reason": reason}
        if bad["line_number"] == 1:
            check_header(uri, fmt, bad["line"], bad.get("line_chars"))
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
    if rejected_total > config.max_reject_fraction * input_rows:
        raise JobInputError(
            f"{uri}: {rejected_total} of {input_rows} rows rejected, more than "
            f"--max-reject-fraction {config.max_reject_fraction} (rejected: "
            f"{_nonzero(rejected)}){_describe_bad_line(bad)}"
        )
    return report
