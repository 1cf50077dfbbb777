"""One line for every failure a user of the command-line tools can meet: what is wrong and what to do.

Every user command (tools.lab, tools.deployment, tools.preflight, tools.smoke) runs its body through
``guarded(program, body)``: an error it knows (bad settings, no or expired credentials, a profile that does not
exist, throttling, no network, a stack that is not deployed, a missing program) is printed as
``<program>: <what is wrong>: <what to do>`` on stderr and the exit status is 1, without a traceback. This is the
only place that turns botocore's exceptions into messages; the commands raise ``UserError`` for what they detect
themselves. Ctrl-C ends with one line and exit status 130.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

# Error codes of AWS's query, JSON and REST protocols, by what they mean for the user.
EXPIRED_OR_INVALID = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "AuthFailure",
        "InvalidAccessKeyId",
        "InvalidToken",
    }
)
THROTTLED = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "ProvisionedThroughputExceededException",
    }
)
DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"})
CREDENTIALS_HINT = "set AWS_PROFILE (aws configure list-profiles), run aws sso login, or export AWS_ACCESS_KEY_ID"


class UserError(Exception):
    """Something the user can fix, already said in one line (what is wrong: what to do)."""


def _profile() -> str:
    return os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE") or "default"


def _client_error(error: object) -> str:
    response = getattr(error, "response", {}) or {}
    code = response.get("Error", {}).get("Code", "")
    message = " ".join(str(response.get("Error", {}).get("Message", "")).split())
    operation = getattr(error, "operation_name", "the request")
    if code in EXPIRED_OR_INVALID:
        return f"the AWS credentials of profile {_profile()!r} are expired or invalid ({code}): {CREDENTIALS_HINT}"
    if code in THROTTLED:
        return f"AWS is throttling {operation} ({code}): wait a minute and run the command again"
    if code in DENIED:
        return f"your AWS identity may not call {operation} ({code}: {message}): use a role that may, see README"
    return f"AWS refused {operation} ({code}: {message})"


def describe(error: BaseException) -> str | None:
    """The one line for an error this layer knows, else None. Wrapped errors (boto3's S3UploadFailedError wraps the
    ClientError it met) are described by the error they wrap."""
    from botocore import exceptions as botocore_errors

    from stacks.settings import SettingsError

    if isinstance(error, UserError | SettingsError):
        return str(error)
    if isinstance(error, botocore_errors.ProfileNotFound):
        return f"the AWS profile {_profile()!r} does not exist: pick one of aws configure list-profiles or unset it"
    if isinstance(error, botocore_errors.NoCredentialsError | botocore_errors.PartialCredentialsError):
        return f"no AWS credentials found (profile {_profile()!r}): {CREDENTIALS_HINT}"
    if isinstance(error, botocore_errors.TokenRetrievalError | botocore_errors.SSOError):
        return f"the SSO session of profile {_profile()!r} has expired: run aws sso login --profile {_profile()}"
    if isinstance(error, botocore_errors.NoRegionError):
        return "no AWS region: set region in the settings (make configure CONTEXT='-c region=eu-west-2')"
    if isinstance(error, botocore_errors.EndpointConnectionError | botocore_errors.ConnectTimeoutError):
        url = getattr(error, "kwargs", {}).get("endpoint_url", "AWS")
        return f"cannot reach {url}: check the network connection (or proxy) and run the command again"
    if isinstance(error, botocore_errors.ReadTimeoutError | botocore_errors.ConnectionClosedError):
        return "the connection to AWS broke off: check the network connection and run the command again"
    if isinstance(error, botocore_errors.WaiterError):
        return f"gave up waiting ({error}): look in the AWS console and run the command again"
    if isinstance(error, botocore_errors.ClientError):
        return _client_error(error)
    wrapped = error.__cause__ or error.__context__
    return describe(wrapped) if wrapped is not None else None


def guarded(program: str, body: Callable[[], int | None]) -> int:
    """Runs the body and returns its exit status (0 for None); a known error, or Ctrl-C, prints one line on stderr
    and returns 1 (130 for Ctrl-C). An error this layer does not know is a bug: its traceback is shown."""
    try:
        return body() or 0
    except KeyboardInterrupt:
        print(f"{program}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        line = describe(error)
        if line is None:
            raise
        print(f"{program}: {line}", file=sys.stderr)
        return 1
