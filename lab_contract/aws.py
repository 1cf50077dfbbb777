"""AWS as the functions call it: a client in the function's region, and which errors are worth a retry.

Only the functions call these; the stacks and tools import the package without boto3, so botocore is imported
inside each function."""

from __future__ import annotations

import os
from typing import Any

# Error codes after which the same request can succeed later (throttling, service-side failures).
RETRYABLE_ERROR_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)


def aws_client(service: str, **config: Any) -> Any:
    """A boto3 client in the function's region, with botocore ``Config`` options."""
    import boto3
    from botocore.config import Config

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return boto3.client(service, region_name=region, config=Config(**config) if config else None)


def is_retryable(error: BaseException) -> bool:
    """True for throttling, 5xx, connection failures and lost responses (read timeouts, closed connections): the
    same request may succeed when Lambda retries. A lost response may also mean the request took effect, so
    callers of non-idempotent APIs look for its effect before repeating it (submit_job does)."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(error, ConnectionError | HTTPClientError):
        return True
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in RETRYABLE_ERROR_CODES or status >= 500
    return False
