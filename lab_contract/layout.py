"""Where things are in the project's buckets, and how an upload's suffix says what format it is in."""

from __future__ import annotations

from collections.abc import Mapping

RATINGS_PREFIX = "ratings/"  # ratings bucket: uploads here start the job
RESULTS_RUNS_PREFIX = "runs/"  # results bucket: one folder per run id
OUTCOMES_PREFIX = "outcomes/"  # results bucket: one record per EMR step or cluster outcome
EMR_LOGS_PREFIX = "emr/"  # logs bucket
FLOW_LOGS_PREFIX = "vpc-flow-logs/"  # logs bucket
ACCESS_LOGS_PREFIX = "s3-access/"  # logs bucket: S3 server access logs of the other buckets
RUN_ATTEMPTS_DIR = "_attempts"  # results runs/: each job attempt writes here first; the job's ATTEMPTS_DIR
CHECKPOINTS_PREFIX = "checkpoints/"  # artifacts bucket: Spark checkpoints

# Upload suffix -> the Spark job's --format value (the job's FORMATS has exactly these formats).
FORMATS_BY_SUFFIX: Mapping[str, str] = {
    ".data": "udata",  # MovieLens 100K u.data (tab separated)
    ".base": "udata",  # MovieLens 100K u1.base ... ua.base splits
    ".test": "udata",  # MovieLens 100K u1.test ... ua.test splits
    ".csv": "csv",  # MovieLens ratings.csv with a header line
    ".dat": "dat",  # MovieLens 1M ratings.dat ("::" separated)
}
# A compressed upload ends in one of these after its format's suffix (u.data.gz): a codec Spark reads natively
# (Hadoop's GzipCodec, BZip2Codec), with the ratio its text is taken to expand by when the cluster is sized
# (lab_contract.sizing sizes by text bytes). The ratios are what gzip -9 and bzip2 -9 achieve on the bundled
# sample spark_jobs/sample_data/u.data (2.7 and 3.0), rounded up; tests/lambda_functions re-measures them.
COMPRESSION_RATIOS: Mapping[str, float] = {".gz": 3.0, ".bz2": 3.5}
# The suffixes the ratings bucket notifies submit_job of (one S3 notification filter each): the formats', and the
# compression suffixes, after which submit_job looks for a format's suffix (u.data.gz) and refuses the rest. None
# may end with another: "Overlapping prefixes and suffixes are not supported" (AWS: "FilterRule", Amazon S3 API).
RATINGS_SUFFIXES: tuple[str, ...] = (*FORMATS_BY_SUFFIX, *COMPRESSION_RATIOS)
