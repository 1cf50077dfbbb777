"""A local endpoint (127.0.0.1) that answers AWS requests the way AWS answers when something is wrong: each failure
class in the dialect of the service's protocol (CloudFormation's query XML, EC2's, S3's REST XML). CloudFormation's
DescribeStacks succeeds (a deployed lab's outputs) unless CloudFormation is the failing service, so a command
reaches its own call and meets the failure there."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

# (HTTP status, code, message) per failure class and service.
FAILURES: dict[str, dict[str, tuple[int, str, str]]] = {
    "expired": {
        "cloudformation": (403, "ExpiredToken", "The security token included in the request is expired"),
        "ec2": (400, "RequestExpired", "Request has expired."),
        "s3": (400, "ExpiredToken", "The provided token has expired."),
    },
    "throttled": {
        "cloudformation": (400, "Throttling", "Rate exceeded"),
        "ec2": (503, "RequestLimitExceeded", "Request limit exceeded."),
        "s3": (503, "SlowDown", "Please reduce your request rate."),
    },
    "not-deployed": {
        "cloudformation": (400, "ValidationError", "Stack with id {stack} does not exist"),
    },
}


def describe_stacks_xml(stack: str, outputs: dict[str, str]) -> str:
    members = "".join(
        f"<member><OutputKey>{key}</OutputKey><OutputValue>{value}</OutputValue></member>"
        for key, value in outputs.items()
    )
    return (
        '<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult>'
        f"<Stacks><member><StackName>{stack}</StackName><StackId>arn:aws:cloudformation:eu-west-2:123456789012:"
        f"stack/{stack}/1</StackId><CreationTime>2026-01-01T00:00:00Z</CreationTime>"
        f"<StackStatus>CREATE_COMPLETE</StackStatus><Outputs>{members}</Outputs></member></Stacks>"
        "</DescribeStacksResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeStacksResponse>"
    )


def error_xml(service: str, code: str, message: str) -> str:
    if service == "cloudformation":
        return f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>" + (
            "<RequestId>1</RequestId></ErrorResponse>"
        )
    if service == "ec2":
        return f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>" + (
            "<RequestID>1</RequestID></Response>"
        )
    return f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>1</RequestId></Error>"


@contextmanager
def failing_aws(failure: str, failing_service: str, outputs: dict[str, str]) -> Iterator[str]:
    """Serves until the block ends; yields the endpoint URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode(errors="replace")
            form = {key: values[0] for key, values in parse_qs(body).items()}
            service = "s3"
            if "Action" in form:
                service = "ec2" if form.get("Version") == "2016-11-15" else "cloudformation"
            if service == failing_service and service in FAILURES[failure]:
                status, code, message = FAILURES[failure][service]
                text = error_xml(service, code, message.format(stack=form.get("StackName", "")))
            elif form.get("Action") == "DescribeStacks":
                status, text = 200, describe_stacks_xml(form["StackName"], outputs)
            else:
                status, text = 500, error_xml(service, "InternalError", f"not served: {self.command} {self.path}")
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_HEAD = _answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
