"""The Lambda side of the offline lifecycle test: events shaped as AWS delivers them, the handlers run in-process
as Lambda runs them (the deployed function's environment, AWS calls to the emulator only), and a recorder of every
AWS call they make (for the IAM simulation, iam_support.py)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

import lifecycle_support as lifecycle
import pytest

from tests.lambda_support import FakeLambdaContext, fresh_handler, s3_notification
from tools.iam_simulation.requests import Call


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
    version = head.get("VersionId")
    return s3_notification(
        bucket,
        quote_plus(key, safe="/"),
        size=head["ContentLength"],
        etag=head["ETag"].strip('"'),
        version_id=version if version and version != "null" else None,
        event_time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        region=lifecycle.REGION,
    )


def eventbridge_event(detail_type: str, source: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": lifecycle.ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": lifecycle.REGION,
        "resources": [],
        "detail": detail,
    }


def emr_step_event(cluster_id: str, step_id: str, step_name: str, action_on_failure: str) -> dict[str, Any]:
    message = f"Step {step_id} ({step_name}) in Amazon EMR cluster {cluster_id} completed."
    detail = {"severity": "INFO", "actionOnFailure": action_on_failure, "stepId": step_id, "name": step_name}
    detail.update(clusterId=cluster_id, state="COMPLETED", message=message)
    return eventbridge_event("EMR Step Status Change", "aws.emr", detail)


def scheduled_event() -> dict[str, Any]:
    """The spend guard's EventBridge schedule event."""
    return eventbridge_event("Scheduled Event", "aws.events", {})


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
    the handler imported afresh (a cold start), AWS SDK calls going to the emulator only, each one recorded.
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
        with fresh_handler(folder) as module:
            if clock is not None:
                patch.setattr(module, "utc_now", clock)
            context = FakeLambdaContext(function_name, lifecycle.REGION, lifecycle.ACCOUNT)
            return module.lambda_handler(event, context)
