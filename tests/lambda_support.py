"""What the tests hand the handlers when they run them in-process: the Lambda context (the attributes Powertools
reads), S3 notifications shaped as S3 delivers them, a complete environment per function, and a handler imported
afresh (a new container's cold start). Shared by tests/lambda_functions, tests/contract, the lifecycle test and
bench/lambda_bench.py."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

from lab_contract.environments import (
    EmrEventsEnvironment,
    FunctionEnvironment,
    SpendGuardEnvironment,
    SubmitJobEnvironment,
)
from lab_contract.layout import OUTCOMES_PREFIX, RATINGS_PREFIX
from lab_contract.names import PROJECT_TAG_KEY, STAGE_TAG_KEY
from lab_contract.sizing import SizingPolicy
from lab_contract.working_hours import WorkingDays, parse_working_hours

# One complete environment per function, by folder, built as the stacks build theirs (the values are the tests' own).
SAMPLE_ENVIRONMENTS: dict[str, FunctionEnvironment] = {
    "submit_job": SubmitJobEnvironment(
        cluster_mode="transient",
        job_flow_template={"ReleaseLabel": "emr-7.13.0", "Instances": {"InstanceFleets": []}},
        step_template={
            "ActionOnFailure": "TERMINATE_CLUSTER",
            "HadoopJarStep": {"Jar": "command-runner.jar", "Args": []},
        },
        cluster_sizing=SizingPolicy(single_node_max_bytes=64_000_000, bytes_per_core_node=64_000_000, max_core_nodes=3),
        cluster_name_prefix="ml-lab-dev",
        results_uri="s3://ml-lab-results/runs",
        ratings_prefix=RATINGS_PREFIX,
        input_bucket="ml-lab-input",
        idempotency_table="ml-lab-idempotency",
        max_jobs_per_invocation=5,
    ),
    "emr_events": EmrEventsEnvironment(
        results_bucket="ml-lab-results",
        outcomes_prefix=OUTCOMES_PREFIX,
        results_uri="s3://ml-lab-results/runs",
        log_uri="s3://ml-lab-logs/emr/",
        topic_arn="arn:aws:sns:eu-west-2:123456789012:ml-lab-dev-outcomes",
        cluster_name_prefix="ml-lab-dev",
    ),
    "spend_guard": SpendGuardEnvironment(
        project_tag_key=PROJECT_TAG_KEY,
        project_tag_value="ml-lab",
        stage_tag_key=STAGE_TAG_KEY,
        stage_tag_value="dev",
        max_cluster_age_hours=8,
        max_idle_minutes=60,
        working_hours=parse_working_hours("07:00-19:00"),
        working_days=WorkingDays(("MON", "TUE", "WED", "THU", "FRI")),
        working_timezone=ZoneInfo("Europe/London"),
        emr_service_role="ml-lab-dev-emr-service-role",
    ),
}


@dataclass(frozen=True)
class FakeLambdaContext:
    function_name: str = "ml-lab-dev-test"
    region: str = "eu-west-2"
    account: str = "123456789012"
    memory_limit_in_mb: int = 256
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def s3_notification(
    bucket: str,
    raw_key: str,
    *,
    size: Any,
    etag: str | None,
    version_id: str | None = None,
    event_name: str = "ObjectCreated:Put",
    event_time: str,
    region: str = "eu-west-2",
) -> dict[str, Any]:
    """An S3 notification with one record (``raw_key`` URL-encoded as S3 sends it, '+' for spaces)."""
    obj: dict[str, Any] = {"key": raw_key, "size": size, "sequencer": "0062E99A88DC407460"}
    if etag is not None:
        obj["eTag"] = etag
    if version_id is not None:
        obj["versionId"] = version_id
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": event_time,
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "203.0.113.10"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "ratings-upload",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": obj,
        },
    }
    return {"Records": [record]}


@contextmanager
def fresh_handler(folder: str) -> Iterator[ModuleType]:
    """``lambda_functions.<folder>.handler`` imported anew, as a new Lambda container imports it: its cold start
    runs with the environment as it is now. The module imported before, if any, is put back afterwards."""
    name = f"lambda_functions.{folder}.handler"
    package = importlib.import_module(f"lambda_functions.{folder}")
    before = sys.modules.pop(name, None)
    try:
        yield importlib.import_module(name)
    finally:
        if before is None:
            sys.modules.pop(name, None)
            if hasattr(package, "handler"):
                delattr(package, "handler")
        else:
            sys.modules[name] = before
            package.handler = before  # type: ignore[attr-defined]
