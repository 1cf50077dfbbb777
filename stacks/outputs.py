"""The stacks' user-facing outputs: what to type and where things land. ``tools/lab.py`` reads them by these names.

Stack-level outputs, so their logical ids carry no hash. Bucket names are output by the storage stack, which owns
the buckets (an output made of another stack's import is a cfn-lint warning, and breaks when that export moves);
the workstation's by the compute stack.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_s3 as s3

from lab_contract.layout import OUTCOMES_PREFIX, RATINGS_PREFIX, RESULTS_RUNS_PREFIX

SAMPLE_FILE = "spark_jobs/sample_data/u.data"
SAMPLE_KEY = f"{RATINGS_PREFIX}sample/u.data"


class LabOutputs:
    # storage stack
    RATINGS_BUCKET = "RatingsBucketName"
    RESULTS_BUCKET = "ResultsBucketName"
    UPLOAD_SAMPLE = "UploadSampleCommand"
    RESULTS = "ResultsLocation"
    OUTCOMES = "OutcomesLocation"
    # compute stack
    INSTANCE_ID = "WorkstationInstanceId"
    SESSION = "SessionCommand"
    START = "StartWorkstationCommand"
    RUN_JOB = "SparkSubmitCommand"


def add_outputs(stack: Stack, outputs: list[tuple[str, str, str]]) -> None:
    for name, value, description in outputs:
        CfnOutput(stack, name, value=value, description=description)


def storage_outputs(stack: Stack, ratings: s3.IBucket, results: s3.IBucket) -> None:
    """Bucket names, the sample upload command, where each run's results and outcome records land."""
    add_outputs(
        stack,
        [
            (
                LabOutputs.RATINGS_BUCKET,
                ratings.bucket_name,
                f"Uploads under {RATINGS_PREFIX} start the ALS job on EMR",
            ),
            (LabOutputs.RESULTS_BUCKET, results.bucket_name, "Each run's metrics and top-N, and the outcome records"),
            (
                LabOutputs.UPLOAD_SAMPLE,
                f"aws s3 cp {SAMPLE_FILE} s3://{ratings.bucket_name}/{SAMPLE_KEY}",
                "Upload the bundled sample, from the repository root: starts one job (make upload-sample)",
            ),
            (
                LabOutputs.RESULTS,
                f"s3://{results.bucket_name}/{RESULTS_RUNS_PREFIX}<run id>/",
                "metrics.json, recommendations/ (Parquet top-N), model/ per run (make results fetches the latest)",
            ),
            (
                LabOutputs.OUTCOMES,
                f"s3://{results.bucket_name}/{OUTCOMES_PREFIX}<run id>/",
                "One JSON record per step or cluster outcome, with the cluster's shape",
            ),
        ],
    )
