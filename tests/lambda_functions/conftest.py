"""Fixtures for the Lambda handler tests: fake AWS (moto), the functions' environment, log capture."""

from __future__ import annotations

import functools
import importlib
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from moto import mock_aws

from tests.lambda_support import FakeLambdaContext, s3_notification

FOLDERS = ("submit_job", "emr_events", "spend_guard")

REGION = "eu-west-2"
INPUT_BUCKET = "ml-lab-input"
RESULTS_BUCKET = "ml-lab-results"
LOGS_BUCKET = "ml-lab-logs"
TABLE = "ml-lab-idempotency"
PREFIX = "ml-lab-dev"
RESULTS_URI = f"s3://{RESULTS_BUCKET}/runs"
LOG_URI = f"s3://{LOGS_BUCKET}/emr/"
PROJECT_TAGS = [{"Key": "project", "Value": "ml-lab"}, {"Key": "stage", "Value": "dev"}]
JOB_ARGS = ["spark-submit", "--deploy-mode", "cluster", "s3://ml-lab-artifacts/jobs/als_job.py", "--rank", "10"]

JOB_FLOW_TEMPLATE: dict[str, Any] = {
    "ReleaseLabel": "emr-7.13.0",
    "LogUri": LOG_URI,
    "Applications": [{"Name": "Spark"}],
    "Configurations": [{"Classification": "spark-defaults", "Properties": {"spark.dynamicAllocation.enabled": "true"}}],
    "Instances": {
        "InstanceFleets": [
            {
                "Name": "primary",
                "InstanceFleetType": "MASTER",
                "TargetOnDemandCapacity": 1,
                "InstanceTypeConfigs": [{"InstanceType": "m5.xlarge"}],
            },
            {
                "Name": "core",
                "InstanceFleetType": "CORE",
                "TargetSpotCapacity": 2,
                "InstanceTypeConfigs": [{"InstanceType": "m5.xlarge"}, {"InstanceType": "m5a.xlarge"}],
            },
        ],
        "Ec2SubnetIds": ["subnet-0123456789abcdef0"],
        "EmrManagedMasterSecurityGroup": "sg-0000000000000000a",
        "EmrManagedSlaveSecurityGroup": "sg-0000000000000000b",
        "ServiceAccessSecurityGroup": "sg-0000000000000000c",
        "KeepJobFlowAliveWhenNoSteps": False,
        "TerminationProtected": False,
    },
    "JobFlowRole": "ml-lab-dev-emr-instance-profile",
    "ServiceRole": "ml-lab-dev-emr-service-role",
    "SecurityConfiguration": "ml-lab-dev-emr-security",
    "AutoTerminationPolicy": {"IdleTimeout": 3600},
    "Tags": PROJECT_TAGS,
    "VisibleToAllUsers": True,
}
STEP_TEMPLATE = {
    "ActionOnFailure": "TERMINATE_CLUSTER",
    "HadoopJarStep": {"Jar": "command-runner.jar", "Args": JOB_ARGS},
}

ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_LAMBDA_FUNCTION_NAME": "ml-lab-dev-test",
    "POWERTOOLS_SERVICE_NAME": "ml-lab-lambda-tests",
    "POWERTOOLS_LOG_LEVEL": "DEBUG",
    # submit_job
    "CLUSTER_MODE": "transient",
    "JOB_FLOW_TEMPLATE": json.dumps(JOB_FLOW_TEMPLATE),
    "STEP_TEMPLATE": json.dumps(STEP_TEMPLATE),
    "CLUSTER_NAME_PREFIX": PREFIX,
    "RESULTS_URI": RESULTS_URI,
    "RATINGS_PREFIX": "ratings/",
    "INPUT_BUCKET": INPUT_BUCKET,
    "IDEMPOTENCY_TABLE": TABLE,
    # Up to 64 MB: one node; then one core node per 64 MB, at most 3 (the tests' own figures, not the defaults).
    "CLUSTER_SIZING": json.dumps(
        {"single_node_max_bytes": 64_000_000, "bytes_per_core_node": 64_000_000, "max_core_nodes": 3}
    ),
    "MAX_JOBS_PER_INVOCATION": "5",
    # emr_events
    "RESULTS_BUCKET": RESULTS_BUCKET,
    "OUTCOMES_PREFIX": "outcomes/",
    "LOG_URI": LOG_URI,
    # what moto names the topic fake_account creates; set before any handler loads, so each test file runs alone
    "TOPIC_ARN": f"arn:aws:sns:{REGION}:123456789012:{PREFIX}-outcomes",
    # spend_guard
    "PROJECT_TAG_KEY": "project",
    "PROJECT_TAG_VALUE": "ml-lab",
    "STAGE_TAG_KEY": "stage",
    "STAGE_TAG_VALUE": "dev",
    "MAX_CLUSTER_AGE_HOURS": "8",
    "MAX_IDLE_MINUTES": "60",
    "WORKSTATION_INSTANCE_ID": "",
    "WORKING_HOURS": "07:00-19:00",
    "WORKING_DAYS": "MON,TUE,WED,THU,FRI",
    "WORKING_TIMEZONE": "Europe/London",
    "EMR_SERVICE_ROLE": JOB_FLOW_TEMPLATE["ServiceRole"],
}

# What a handler module builds once per container: its environment and its AWS clients.
PER_CONTAINER = ("environment", "emr_client", "submit_once", "s3_client", "sns_client", "ec2_client")


def handler(folder: str) -> ModuleType:
    """lambda_functions.<folder>.handler; the first import is the function's cold start (its environment parsed)."""
    return importlib.import_module(f"lambda_functions.{folder}.handler")


def cold_start() -> None:
    """Every imported handler starts cold at its next invocation: environment and clients built again."""
    for folder in FOLDERS:
        module = sys.modules.get(f"lambda_functions.{folder}.handler")
        for name in PER_CONTAINER:
            cached = getattr(module, name, None)
            if hasattr(cached, "cache_clear"):  # a test may have monkeypatched it with a plain function
                cached.cache_clear()


class Deployment:
    """The functions' environment variables in one test (a MonkeyPatch underneath): setting or removing one is a
    redeployment, after which every handler starts cold (its environment parsed again)."""

    def __init__(self, patch: pytest.MonkeyPatch) -> None:
        self.patch = patch

    def setenv(self, name: str, value: str) -> None:
        self.patch.setenv(name, value)
        cold_start()

    def delenv(self, name: str, raising: bool = True) -> None:
        self.patch.delenv(name, raising=raising)
        cold_start()


@pytest.fixture(autouse=True)
def lambda_env(monkeypatch):
    """Fake credentials and the functions' environment, deployed afresh for each test; never any real endpoint."""
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("POWERTOOLS_IDEMPOTENCY_DISABLED", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    cold_start()
    yield Deployment(monkeypatch)
    cold_start()


@pytest.fixture
def context():
    return FakeLambdaContext()


@pytest.fixture
def submit_job(lambda_env):
    return handler("submit_job")


@pytest.fixture
def emr_events(lambda_env):
    return handler("emr_events")


@pytest.fixture
def spend_guard(lambda_env):
    return handler("spend_guard")


@dataclass
class Aws:
    """moto clients plus what the tests need to observe writes."""

    s3: Any
    emr: Any
    sns: Any
    sqs: Any
    dynamodb: Any
    ec2: Any
    topic_arn: str
    queue_url: str

    def clusters(self) -> list[dict[str, Any]]:
        return self.emr.list_clusters()["Clusters"]

    def steps(self, cluster_id: str) -> list[dict[str, Any]]:
        return self.emr.list_steps(ClusterId=cluster_id)["Steps"]

    def all_steps(self) -> list[dict[str, Any]]:
        return [step for cluster in self.clusters() for step in self.steps(cluster["Id"])]

    def objects(self, bucket: str) -> list[str]:
        return [item["Key"] for item in self.s3.list_objects_v2(Bucket=bucket).get("Contents", [])]

    def messages(self) -> list[dict[str, Any]]:
        """SNS notifications delivered to the subscribed queue (envelope dicts)."""
        received = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        return [json.loads(message["Body"]) for message in received.get("Messages", [])]

    def idempotency_items(self) -> list[dict[str, Any]]:
        return self.dynamodb.scan(TableName=TABLE)["Items"]

    def standing_cluster(self) -> str:
        template = json.loads(json.dumps(JOB_FLOW_TEMPLATE))
        template["Instances"]["KeepJobFlowAliveWhenNoSteps"] = True
        return self.emr.run_job_flow(**template, Name=f"{PREFIX}-standing")["JobFlowId"]


@functools.cache
def shared_client(service: str) -> Any:
    """One test-side client per service for the session: moto intercepts every client created after it is imported,
    and a new mock_aws() starts empty backends, so only the (slow) client creation is shared between accounts."""
    return boto3.client(service, region_name=REGION)


@contextmanager
def fake_account(env: Deployment | pytest.MonkeyPatch) -> Iterator[Aws]:
    """An in-process fake AWS account with the project's buckets, table, topic (with a queue subscribed)."""
    with mock_aws():
        cold_start()
        s3 = shared_client("s3")
        for bucket in (INPUT_BUCKET, RESULTS_BUCKET, LOGS_BUCKET):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        dynamodb = shared_client("dynamodb")
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.update_time_to_live(
            TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
        )
        sns = shared_client("sns")
        topic_arn = sns.create_topic(Name=f"{PREFIX}-outcomes")["TopicArn"]
        sqs = shared_client("sqs")
        queue_url = sqs.create_queue(QueueName=f"{PREFIX}-outcomes-test")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        env.setenv("TOPIC_ARN", topic_arn)
        yield Aws(
            s3=s3,
            emr=shared_client("emr"),
            sns=sns,
            sqs=sqs,
            dynamodb=dynamodb,
            ec2=shared_client("ec2"),
            topic_arn=topic_arn,
            queue_url=queue_url,
        )
        cold_start()


@pytest.fixture
def aws(lambda_env):
    """A fresh fake account for one test."""
    with fake_account(lambda_env) as account:
        yield account


@pytest.fixture(scope="module")
def shared_aws():
    """One fake account for a whole module, for tests that must leave it untouched (each test asserts so)."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in ENVIRONMENT.items():
            env.setenv(name, value)
        with fake_account(env) as account:
            yield account


class _JsonCapture(logging.Handler):
    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(level=logging.DEBUG)
        self.formatter_ = formatter
        self.entries: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.entries.append(json.loads(self.formatter_.format(record)))


@pytest.fixture
def logs(submit_job, emr_events, spend_guard):
    """Structured Powertools log entries (parsed JSON, as written to stdout on Lambda) of the handlers."""
    stdlib_logger = submit_job.logger._logger  # the three handlers share one service name, so one logger
    capture = _JsonCapture(submit_job.logger.registered_formatter)
    stdlib_logger.addHandler(capture)
    yield capture.entries
    stdlib_logger.removeHandler(capture)


def _s3_event(raw_key: str, *, bucket: str = INPUT_BUCKET, **fields: Any) -> dict[str, Any]:
    """An S3 notification as S3 delivers it to Lambda (key URL-encoded, '+' for spaces); ``fields`` override the
    eTag, size, version id, event name and time (lambda_support.s3_notification)."""
    defaults = {"etag": "0123456789abcdef0123456789abcdef", "size": 1_979_173, "event_time": "2026-11-25T10:15:00.000Z"}
    return s3_notification(bucket, raw_key, **{**defaults, "region": REGION, **fields})


def _emr_event(detail_type: str, detail: dict[str, Any], event_id: str = "b1a2c3d4-0000-4000-8000-000000000001"):
    """An EventBridge event from aws.emr."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": "aws.emr",
        "account": "123456789012",
        "time": "2026-11-25T11:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": detail,
    }


def _scheduled_event() -> dict[str, Any]:
    return {
        "version": "0",
        "id": "89d1a02d-5ec7-412e-82f5-13505f849b41",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-25T22:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:123456789012:rule/ml-lab-dev-spend-guard"],
        "detail": {},
    }


@pytest.fixture
def events():
    """Event builders and the names the fake account uses."""
    return SimpleNamespace(s3=_s3_event, emr=_emr_event, scheduled=_scheduled_event, **FAKE_ACCOUNT_NAMES)


# The names the fake account uses, as the tests read them (events.input_bucket, ...).
FAKE_ACCOUNT_NAMES = {
    "input_bucket": INPUT_BUCKET,
    "results_bucket": RESULTS_BUCKET,
    "table": TABLE,
    "prefix": PREFIX,
    "results_uri": RESULTS_URI,
    "log_uri": LOG_URI,
    "job_args": JOB_ARGS,
    "job_flow_template": JOB_FLOW_TEMPLATE,
    "project_tags": PROJECT_TAGS,
}


# ------------------------------------------------------------------------------------------------ fault injection
def client_error(code: str, status: int = 400, operation: str = "Operation") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "injected"}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation
    )


def lost_response() -> ReadTimeoutError:
    return ReadTimeoutError(endpoint_url="https://elasticmapreduce.eu-west-2.amazonaws.com/")


Fault = Callable[[Callable[..., Any], dict[str, Any]], Any]


class Faulty:
    """A moto client with faults injected per operation, in order of the calls, then real calls.

    ``fail``: the request never reaches the service. ``lose_response``: the service does the work, then the caller
    gets a read timeout. ``stale``: the listing misses what was just created (EMR's lists are eventually
    consistent). ``respond``: the service answers with ``response`` instead. A fault given ``when`` applies only to
    the calls whose arguments it accepts. ``calls`` counts, per operation, the requests that reached the service."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.faults: dict[str, list[tuple[Callable[[dict[str, Any]], bool], Fault]]] = {}
        self.calls: dict[str, int] = {}

    def _add(self, operation: str, fault: Fault, times: int, when: Callable[[dict[str, Any]], bool] | None) -> Faulty:
        self.faults.setdefault(operation, []).extend([(when or (lambda kwargs: True), fault)] * times)
        return self

    def fail(self, operation: str, error: Exception, times: int = 1, when: Any = None) -> Faulty:
        def fault(call: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
            raise error

        return self._add(operation, fault, times, when)

    def lose_response(self, operation: str) -> Faulty:
        def fault(call: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
            call(**kwargs)
            raise lost_response()

        return self._add(operation, fault, 1, None)

    def succeed(self, operation: str, times: int = 1) -> Faulty:
        return self._add(operation, lambda call, kwargs: call(**kwargs), times, None)

    def stale(self, operation: str) -> Faulty:
        def fault(call: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
            return {key: [] if isinstance(value, list) else value for key, value in call(**kwargs).items()}

        return self._add(operation, fault, 1, None)

    def respond(self, operation: str, response: dict[str, Any], when: Any = None) -> Faulty:
        return self._add(operation, lambda call, kwargs: response, 1, when)

    def get_paginator(self, operation: str) -> Any:
        """Pages through ``operation`` (EMR's Marker) with the faults applied."""
        faulty = self

        class Pages:
            def paginate(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
                marker = None
                while True:
                    page = getattr(faulty, operation)(**kwargs, **({"Marker": marker} if marker else {}))
                    yield page
                    marker = page.get("Marker")
                    if not marker:
                        return

        return Pages()

    def __getattr__(self, operation: str) -> Any:
        real_call = getattr(self.real, operation)
        if not callable(real_call):
            return real_call

        def counted(**kwargs: Any) -> Any:
            self.calls[operation] = self.calls.get(operation, 0) + 1
            return real_call(**kwargs)

        def call(**kwargs: Any) -> Any:
            pending = self.faults.get(operation, [])
            for index, (applies, fault) in enumerate(pending):
                if applies(kwargs):
                    del pending[index]
                    return fault(counted, kwargs)
            return counted(**kwargs)

        return call


@pytest.fixture
def faults(submit_job, spend_guard, monkeypatch):
    """Fault injection: ``faults.emr(aws)`` wraps the moto EMR client and makes both handlers use it."""

    def emr(aws: Aws) -> Faulty:
        faulty = Faulty(aws.emr)
        monkeypatch.setattr(submit_job, "emr_client", lambda: faulty)
        monkeypatch.setattr(spend_guard, "emr_client", lambda: faulty)
        return faulty

    return SimpleNamespace(emr=emr, client_error=client_error, lost_response=lost_response, Faulty=Faulty)


@pytest.fixture(autouse=True)
def no_read_backoff(monkeypatch):
    """submit_job's own retries of EMR reads without their pauses (the tests count the calls instead)."""
    from lambda_functions.submit_job import submission

    monkeypatch.setattr(submission, "READ_RETRY_DELAYS", (0.0, 0.0))
