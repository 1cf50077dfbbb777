"""submit_job passes every key S3 allows and the job can read as it is, including names Hadoop's parser or glob
would misread, and compressed uploads, whose clusters are sized by the text they hold."""

from __future__ import annotations

import bz2
import gzip
import math
from pathlib import Path
from urllib.parse import quote_plus

import pytest

from lab_contract.layout import COMPRESSION_RATIOS

MB = 1_000_000
SAMPLE = Path(__file__).resolve().parents[2] / "spark_jobs" / "sample_data" / "u.data"

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
