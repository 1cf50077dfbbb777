"""submit_job passes every key S3 allows and the job can read as it is, including names Hadoop's parser or glob
would misread, and compressed uploads, whose clusters are sized by the text they hold."""

from __future__ import annotations

import bz2
import gzip
import json
import math
import re
from pathlib import Path
from urllib.parse import quote_plus

import pytest

from lab_contract.layout import COMPRESSION_RATIOS, FORMATS_BY_SUFFIX, RATINGS_SUFFIXES

MB = 1_000_000
SAMPLE = Path(__file__).resolve().parents[2] / "spark_jobs" / "sample_data" / "u.data"

STEP_ARG = re.compile("[\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff\r\n\t]*")

# Keys people upload that Hadoop would read as a URI scheme (':'), a glob ('*?[]{}\\') or an escape ('%').
ODD_KEYS = [
    ("ratings/ratings-2024-05-01T10:00.csv", "csv"),
    ("ratings/2026-11-25T10:00:00Z/u.data", "udata"),
    ("ratings/*.csv", "csv"),
    ("ratings/what?.data", "udata"),
    ("ratings/set[1].dat", "dat"),
    ("ratings/alt{a,b}.csv", "csv"),
    ("ratings/back\\slash.data", "udata"),
    ("ratings/100%.data", "udata"),
    ("ratings/p%20q.data", "udata"),
    ("ratings/hash#1.data", "udata"),
    ("ratings/with space/and+plus.data", "udata"),
    ("ratings/ünïcødé-評価/ratings.dat", "dat"),
]


def _step_args(aws) -> list:
    [cluster] = aws.clusters()
    [step] = aws.steps(cluster["Id"])
    return step["Config"]["Args"]


def _option(args: list, flag: str) -> str:
    return args[args.index(flag) + 1]


@pytest.mark.parametrize(("key", "fmt"), ODD_KEYS, ids=[key for key, _ in ODD_KEYS])
def test_a_key_hadoop_would_misread_is_submitted_as_it_is(submit_job, aws, events, context, key, fmt):
    summary = submit_job.lambda_handler(events.s3(quote_plus(key, safe="/")), context)
    assert summary["rejected"] == [] and len(summary["submitted"]) == 1, summary
    args = _step_args(aws)
    assert _option(args, "--ratings") == f"s3://{events.input_bucket}/{key}"
    assert _option(args, "--format") == fmt
    # What EMR accepts in a step's Args (AWS: "AWS::EMR::Step HadoopJarStepConfig", the Args pattern).
    assert all(STEP_ARG.fullmatch(arg) and len(arg) <= 10280 for arg in args), args


COMPRESSED = [
    ("ratings/ml-100k/u.data.gz", "udata", ".gz"),
    ("ratings/ml-latest/ratings.csv.bz2", "csv", ".bz2"),
    ("ratings/ml-1m/RATINGS.DAT.GZ", "dat", ".gz"),
    ("ratings/ml-100k/u1.base.bz2", "udata", ".bz2"),
]


@pytest.mark.parametrize(("key", "fmt", "suffix"), COMPRESSED, ids=[key for key, _, _ in COMPRESSED])
def test_a_compressed_upload_runs_in_its_format_and_is_sized_by_its_text(
    submit_job, aws, events, context, key, fmt, suffix
):
    size = 30 * MB  # compressed: its text is above the tests' 64 MB single-node threshold
    summary = submit_job.lambda_handler(events.s3(key, size=size), context)
    assert len(summary["submitted"]) == 1, summary
    args = _step_args(aws)
    assert _option(args, "--ratings") == f"s3://{events.input_bucket}/{key}" and _option(args, "--format") == fmt
    [cluster] = aws.clusters()
    tags = {t["Key"]: t["Value"] for t in aws.emr.describe_cluster(ClusterId=cluster["Id"])["Cluster"]["Tags"]}
    text = math.ceil(size * COMPRESSION_RATIOS[suffix])
    assert tags["input-bytes"] == str(text)
    assert tags["cluster-shape"] == f"primary:1xm5.xlarge core:{math.ceil(text / (64 * MB))}xm5.xlarge"


def test_the_bucket_notifies_every_compressed_suffix_and_no_suffix_overlaps_another() -> None:
    assert set(RATINGS_SUFFIXES) == set(FORMATS_BY_SUFFIX) | set(COMPRESSION_RATIOS)
    # AWS "FilterRule" (Amazon S3 API): overlapping prefixes and suffixes are not supported.
    overlapping = [(a, b) for a in RATINGS_SUFFIXES for b in RATINGS_SUFFIXES if a != b and a.endswith(b)]
    assert not overlapping


def test_an_uncompressed_upload_is_sized_by_its_own_size(submit_job, aws, events, context):
    submit_job.lambda_handler(events.s3("ratings/u.data", size=30 * MB), context)
    [cluster] = aws.clusters()
    tags = {t["Key"]: t["Value"] for t in aws.emr.describe_cluster(ClusterId=cluster["Id"])["Cluster"]["Tags"]}
    assert tags["input-bytes"] == str(30 * MB) and tags["cluster-shape"] == "primary:1xm5.xlarge core:0"


@pytest.mark.parametrize("key", ["ratings/archive.gz", "ratings/u.data.zip", "ratings/u.data.gz.txt", "ratings/.gz"])
def test_a_compressed_name_without_a_format_is_refused(submit_job, aws, events, context, key):
    summary = submit_job.lambda_handler(events.s3(key), context)
    assert [r["reason"] for r in summary["rejected"]] == ["unsupported_suffix"] and aws.clusters() == []


@pytest.mark.parametrize(("suffix", "compress"), [(".gz", gzip.compress), (".bz2", bz2.compress)])
def test_the_compression_ratios_are_what_the_sample_compresses_by_rounded_up(suffix, compress):
    text = SAMPLE.read_bytes()
    measured = len(text) / len(compress(text, 9))
    assert measured <= COMPRESSION_RATIOS[suffix] <= measured * 1.25, (suffix, measured)


# One key with every kind of character Hadoop misreads, and compressed: the whole path must carry it.
END_TO_END_KEY = "ratings/2026-11-25T10:00:00Z/ünï cødé #1 100% [a]{b}*?.data.gz"


@pytest.mark.slow
def test_an_odd_compressed_upload_runs_end_to_end_through_the_real_job(
    submit_job, aws, events, context, tmp_path, spark, capsys
):
    """upload (moto S3) -> submit_job -> the EMR step's arguments (moto EMR) -> the real job on those arguments, each
    s3:// argument mapped to a local mirror of the bucket, in the tests' Spark session (as the emulated lifecycle
    runs the step). spark-submit itself given such a name (its launcher's quoting) is test_run_sample's."""
    from spark_jobs.als.job import main

    text = "".join(f"{u}\t{i}\t{1 + (u * i) % 5}\t{881250949 + i}\n" for u in range(1, 31) for i in range(1, 21))
    aws.s3.put_object(Bucket=events.input_bucket, Key=END_TO_END_KEY, Body=gzip.compress(text.encode()))
    head = aws.s3.head_object(Bucket=events.input_bucket, Key=END_TO_END_KEY)
    summary = submit_job.lambda_handler(
        events.s3(quote_plus(END_TO_END_KEY, safe="/"), size=head["ContentLength"]), context
    )
    [run_id] = summary["submitted"]
    args = _step_args(aws)
    job_args = args[args.index(next(a for a in args if a.endswith("als_job.py"))) + 1 :]
    assert _option(job_args, "--ratings") == f"s3://{events.input_bucket}/{END_TO_END_KEY}"

    def local(uri: str) -> str:
        return str(tmp_path / uri.removeprefix("s3://")) if uri.startswith("s3://") else uri

    mirrored = Path(local(_option(job_args, "--ratings")))
    mirrored.parent.mkdir(parents=True)
    mirrored.write_bytes(aws.s3.get_object(Bucket=events.input_bucket, Key=END_TO_END_KEY)["Body"].read())
    code = main([*map(local, job_args), "--rank", "2", "--max-iter", "2", "--ranking-max-iter", "2", "--top-n", "3"])
    assert code == 0, capsys.readouterr().err[-3000:]
    metrics = json.loads((Path(local(events.results_uri)) / run_id / "metrics.json").read_text())
    assert metrics["input"]["format"] == "udata" and metrics["input_rows"] == 600
    assert metrics["input"]["uri"] == str(mirrored)
