"""The Lambda side of the offline lifecycle test: events shaped as AWS delivers them, the handlers run in-process
as Lambda runs them (the deployed function's environment, AWS calls to the emulator only), and a recorder of every
AWS call they make (for the IAM simulation, iam_support.py)."""

from __future__ import annotations

import copy
import importlib.util
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

import lifecycle_support as lifecycle
import pytest

from tools.iam_simulation.requests import Call

FUNCTIONS = lifecycle.ROOT / "lambda_functions"


class CallRecorder:
    """botocore hooks on the functions' session: every AWS call a handler makes, with its parameters and parsed
    response (the same hook point as the loopback guard). Payloads (S3 bodies) are not kept."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def attach(self, session: Any, function: str) -> None:
        def before(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
            kept = {key: copy.deepcopy(value) for key, value in params.items() if key != "Body"}
            context["recorded_call"] = {
                "function": function,
                "service": model.service_model.service_name,
                "operation": model.name,
                "params": kept,
            }

        def after(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            recorded = context.pop("recorded_call", None)
            if recorded is not None:
                self.calls.append(Call(**recorded, response=copy.deepcopy(parsed)))

        session.events.register("before-parameter-build", before)
        session.events.register("after-call", after)


def s3_event(bucket: str, key: str, head: dict[str, Any]) -> dict[str, Any]:
    """The S3 ObjectCreated notification for ``key``, shaped as S3 sends it to Lambda."""
    obj = {
        "key": quote_plus(key, safe="/"),
        "size": head["ContentLength"],
        "eTag": head["ETag"].strip('"'),
        "sequencer": "0065A1B2C3D4E5F601",
    }
    if head.get("VersionId") and head["VersionId"] != "null":
        obj["versionId"] = head["VersionId"]
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": lifecycle.REGION,
                "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AIDAE2ETEST"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": "E2E", "x-amz-id-2": "E2E"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "lifecycle",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "E2E"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": obj,
                },
            }
        ]
    }


def emr_step_event(cluster_id: str, step_id: str, step_name: str, action_on_failure: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "EMR Step Status Change",
        "source": "aws.emr",
        "account": lifecycle.ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": lifecycle.REGION,
        "resources": [],
        "detail": {
            "severity": "INFO",
            "actionOnFailure": action_on_failure,
            "stepId": step_id,
            "name": step_name,
            "clusterId": cluster_id,
            "state": "COMPLETED",
            "message": f"Step {step_id} ({step_name}) in Amazon EMR cluster {cluster_id} completed.",
        },
    }


def scheduled_event() -> dict[str, Any]:
    """The spend guard's EventBridge schedule event."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": lifecycle.ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": lifecycle.REGION,
        "resources": [],
        "detail": {},
    }


class LambdaContext:
    """The attributes Powertools reads from the Lambda context."""

    memory_limit_in_mb = 256
    aws_request_id = "e2e00000-0000-0000-0000-000000000000"

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.invoked_function_arn = f"arn:aws:lambda:{lifecycle.REGION}:{lifecycle.ACCOUNT}:function:{function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def invoke(
    monkeypatch: pytest.MonkeyPatch,
    emulator: lifecycle.Emulator,
    folder: str,
    function_name: str,
    function_env: dict[str, str],
    event: dict[str, Any],
    *,
    recorder: CallRecorder,
    clock: Callable[[], datetime] | None = None,
) -> Any:
    """Runs lambda_functions/<folder>/handler.py in-process as Lambda would: the deployed function's environment,
    the module loaded fresh (folder on sys.path), AWS SDK calls going to the emulator only, each one recorded.
    ``clock`` replaces the handler's ``utc_now`` (the spend guard's)."""
    import boto3

    with monkeypatch.context() as patch:
        for name in [k for k in __import__("os").environ if k.startswith("AWS_")]:
            patch.delenv(name)
        for name, value in {
            **function_env,
            "AWS_ENDPOINT_URL": emulator.endpoint,
            "AWS_ACCESS_KEY_ID": lifecycle.FAKE_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": lifecycle.FAKE_SECRET,
            "AWS_REGION": lifecycle.REGION,
            "AWS_DEFAULT_REGION": lifecycle.REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_LAMBDA_FUNCTION_NAME": function_name,
        }.items():
            patch.setenv(name, value)
        patch.setattr(boto3, "DEFAULT_SESSION", None)
        boto3.setup_default_session()
        boto3.DEFAULT_SESSION.events.register("before-send", lifecycle.refuse_non_loopback)
        recorder.attach(boto3.DEFAULT_SESSION, folder)
        folder_path = str(FUNCTIONS / folder)
        patch.syspath_prepend(folder_path)
        spec = importlib.util.spec_from_file_location(
            f"lifecycle_{folder}_handler_{uuid.uuid4().hex}", FUNCTIONS / folder / "handler.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if clock is not None:
            patch.setattr(module, "utc_now", clock)
        return module.lambda_handler(event, LambdaContext(function_name))
