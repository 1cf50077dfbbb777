"""What bench/load_bench.py runs under spark-submit: one version's load phase, timed, in one JVM.

    spark-submit bench/load_phase_runner.py --engine job --job OLD/spark_jobs/als_job.py --runs 5 --warm-up \
        --result out.json -- --ratings u.data --test-ratings u.test --format udata --output runs

--engine job calls that version's own run(spark, args), as its main() does once it has a session,
with --max-iter 1 and --top-n 1 added (the later phases do not touch load_validate; they only cost
time), and records the load seconds from the phase timings it returns: load_validate, plus split
for versions that had a split phase of their own. --engine minimal is the least a Spark load of the
same shape does: split, cast, de-duplicate by (role, user, item), cache, count; no validation, no
reject counts, no report. --warm-up first runs a trivial query and records its time: what Spark SQL
costs the first query of a fresh JVM, whatever that query is.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def job_run(job: Path) -> tuple[Callable[[list], Any], Callable[..., dict]]:
    """(parse_args, run) of the job version whose entry script is job: a single-file job, or the entry
    script of the als/ package beside it."""
    sys.path.insert(0, str(job.parent))
    spec = importlib.util.spec_from_file_location("bench_job_entry", job)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if hasattr(module, "run"):
        return module.parse_args, module.run
    package = importlib.import_module("als.job")
    return package.parse_args, package.run


def minimal_load(spark: SparkSession, files: dict, separator: str) -> None:
    parts = []
    for role, path in files.items():
        fields = F.split(F.col("value"), separator)
        parts.append(
            spark.read.text(str(path)).select(
                F.lit(role).alias("role"),
                fields.getItem(0).cast("int").alias("user"),
                fields.getItem(1).cast("int").alias("item"),
                fields.getItem(2).cast("double").alias("rating"),
                fields.getItem(3).cast("long").alias("timestamp"),
            )
        )
    spark.conf.set("spark.sql.shuffle.partitions", str(spark.sparkContext.defaultParallelism))
    table = (
        parts[0]
        .unionByName(parts[1])
        .groupBy("role", "user", "item")
        .agg(F.count(F.lit(1)).alias("rows"), F.max_by("rating", "timestamp").alias("rating"))
        .persist()
    )
    table.groupBy("role").agg(F.count(F.lit(1)), F.sum("rows"), F.sum("rating")).collect()
    table.unpersist()


def main(argv: list) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--engine", choices=["job", "minimal"], required=True)
    parser.add_argument("--job", type=Path, help="the version's entry script (--engine job)")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--warm-up", action="store_true", help="a trivial query first, timed on its own")
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("job_args", nargs=argparse.REMAINDER, help="-- then the job's own arguments")
    args = parser.parse_args(argv)
    job_args = [arg for arg in args.job_args if arg != "--"]

    spark = SparkSession.builder.appName("load-bench").getOrCreate()
    result: dict = {"engine": args.engine, "job": str(args.job), "load_seconds": []}
    if args.warm_up:
        start = time.perf_counter()
        spark.range(10).groupBy((F.col("id") % 2).alias("parity")).count().collect()
        result["first_query_seconds"] = round(time.perf_counter() - start, 3)
    if args.engine == "job":
        parse_args, run = job_run(args.job)
        output = Path(tempfile.mkdtemp(prefix="load-bench-"))
        for attempt in range(args.runs):
            options = parse_args(
                [*job_args, "--output", str(output), "--run-id", f"bench-{attempt}", "--max-iter", "1", "--top-n", "1"]
            )
            phases = run(spark, options)["phase_seconds"]
            result["load_seconds"].append(round(phases["load_validate"] + phases.get("split", 0.0), 3))
        shutil.rmtree(output, ignore_errors=True)
    else:
        options = dict(zip(job_args[::2], job_args[1::2], strict=True))
        files = {"ratings": options["--ratings"], "test_ratings": options["--test-ratings"]}
        for _ in range(args.runs):
            start = time.perf_counter()
            minimal_load(spark, files, "\t")
            result["load_seconds"].append(round(time.perf_counter() - start, 3))
    spark.stop()
    args.result.write_text(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
