"""What the tests hand the handlers when they run them in-process: the Lambda context (the attributes Powertools
reads) and S3 notifications shaped as S3 delivers them. Shared by tests/lambda_functions and the lifecycle test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
