"""How the lab builds each Lambda function: its code as one asset, its own log group, its audit exceptions.

A plain function rather than a construct: the functions stay direct children of the construct that owns them, so
their logical ids (and the reviewed templates) do not depend on this helper.

A function's asset is the part of this repository the function runs, at the same paths, plus an entry module::

    handler.py                      written here: re-exports lambda_functions.<folder>.handler.lambda_handler
    lambda_functions/__init__.py
    lambda_functions/<folder>/      the function's package: handler.py and its logic modules
    lab_contract/                   the runtime contract, copied whole as a package

Lambda searches the asset's root (``/var/task``) first for imports and imports the module the Handler property
names, ``handler`` of ``handler.lambda_handler`` (AWS Lambda Developer Guide: "Working with .zip file archives for
Python Lambda functions", its dependency search path; "Lambda function handler in Python", its naming). That
module is the entry point above, so the function's own modules are imported as the package modules they are in
the repository: the same package imports work in Lambda, in the tests and in the type checker, and no file is
rewritten. No other function, no tests and no bytecode are in the asset; Powertools comes from its layer and boto3
from the runtime; a function that reads time zones also carries the ``tzdata`` package (``LabFunctionProps``). ``tests/contract/test_contract.py`` imports ``handler`` from each synthesised asset alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.compliance.acknowledgements import acknowledge, skip_cfn_lint, skip_checkov
from stacks.constructs.staged_sources import copy_sources, staging_folder

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = ROOT / "lambda_functions"
CONTRACT_DIR = ROOT / "lab_contract"
HANDLER = "handler.lambda_handler"
ENTRY_MODULE = '''"""Lambda's entry point (Handler {handler}), written at synth: the function's handler module."""

from lambda_functions.{folder}.handler import lambda_handler as lambda_handler
'''
RUNTIME = lambda_.Runtime.PYTHON_3_14
# Powertools for AWS Lambda (Python) v3, the official public layer (account 017000801446), pinned by version.
POWERTOOLS_LAYER_ARN = (
    "arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-x86_64:{version}"
)
POWERTOOLS_LAYER_VERSION = 27
RETENTION_NAMES = {
    1: "ONE_DAY",
    3: "THREE_DAYS",
    5: "FIVE_DAYS",
    7: "ONE_WEEK",
    14: "TWO_WEEKS",
    30: "ONE_MONTH",
    60: "TWO_MONTHS",
    90: "THREE_MONTHS",
    180: "SIX_MONTHS",
    365: "ONE_YEAR",
}


def tzdata_package() -> Path:
    """The pinned ``tzdata`` package (requirements.in): the IANA time zone database as a Python package."""
    spec = find_spec("tzdata")
    if spec is None or spec.origin is None:
        raise RuntimeError("the tzdata package is not installed: run `make setup`")
    return Path(spec.origin).parent


def write_function_sources(folder: str, destination: Path, *, time_zones: bool = False) -> Path:
    """``destination``, fresh, holding what the asset of ``lambda_functions/<folder>`` holds (see above); with
    ``time_zones``, also the ``tzdata`` package."""
    parts = {
        "lambda_functions/__init__.py": FUNCTIONS_DIR / "__init__.py",
        f"lambda_functions/{folder}": FUNCTIONS_DIR / folder,
        "lab_contract": CONTRACT_DIR,
    }
    if time_zones:
        parts["tzdata"] = tzdata_package()
    copy_sources(destination, parts)
    (destination / "handler.py").write_text(ENTRY_MODULE.format(handler=HANDLER, folder=folder))
    return destination


def function_code(scope: Construct, folder: str, *, time_zones: bool = False) -> lambda_.Code:
    """The asset of ``lambda_functions/<folder>``, staged in ``<cloud assembly>/lambda-sources/<folder>``."""
    staging = staging_folder(scope, f"lambda-sources/{folder}")
    return lambda_.Code.from_asset(str(write_function_sources(folder, staging, time_zones=time_zones)))


@dataclass(frozen=True, kw_only=True)
class LabFunctionProps:
    folder: str
    """``lambda_functions/<folder>``; its ``handler.py`` defines ``lambda_handler``. Also the Powertools service name."""
    description: str
    timeout: Duration
    environment: dict[str, str]
    """The function's variables: ``variables()`` of its class in ``lab_contract.environments``."""
    log_retention_days: int = 30
    """Retention of the function's own log group (one of ``RETENTION_NAMES``)."""
    reserved_concurrency: int | None = None
    """None: unreserved (new accounts have a concurrency quota of 10, and reserving would fail the deploy)."""
    unscoped_actions: str = ""
    """Completes the reason for the IAM5 ``Resource::*`` acknowledgement: which other actions need '*'."""
    time_zones: bool = False
    """The function reads IANA time zones (``zoneinfo``): its asset carries the ``tzdata`` package, which
    ``zoneinfo`` falls back to when the runtime has no system time zone database (Python docs, "zoneinfo": "Data
    sources"). AWS's Lambda runtime pages do not say that the Python 3.14 runtime (Amazon Linux 2023, minimal)
    ships one, so the function does not rely on it."""


def lab_function(
    scope: Construct,
    construct_id: str,
    *,
    props: LabFunctionProps,
    dead_letters: sqs.IQueue,
    powertools: lambda_.ILayerVersion,
) -> lambda_.Function:
    """A Python function with an explicit log group (removed on destroy), JSON logs, X-Ray tracing, two async
    retries then the ``dead_letters`` queue, recursive-loop termination, and its audit exceptions recorded."""
    log_group = logs.LogGroup(
        scope,
        f"{construct_id}Logs",
        retention=logs.RetentionDays(RETENTION_NAMES[props.log_retention_days]),
        removal_policy=RemovalPolicy.DESTROY,
    )
    function = lambda_.Function(
        scope,
        construct_id,
        description=props.description,
        runtime=RUNTIME,
        architecture=lambda_.Architecture.X86_64,
        code=function_code(scope, props.folder, time_zones=props.time_zones),
        handler=HANDLER,
        memory_size=256,
        timeout=props.timeout,
        layers=[powertools],
        log_group=log_group,
        logging_format=lambda_.LoggingFormat.JSON,
        environment={
            "POWERTOOLS_SERVICE_NAME": props.folder,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            **props.environment,
        },
        on_failure=destinations.SqsDestination(dead_letters),
        retry_attempts=2,
        reserved_concurrent_executions=props.reserved_concurrency,
        recursive_loop=lambda_.RecursiveLoop.TERMINATE,
        tracing=lambda_.Tracing.ACTIVE,
    )
    _record_audit_exceptions(function, log_group, props)
    return function


def _record_audit_exceptions(function: lambda_.Function, log_group: logs.LogGroup, props: LabFunctionProps) -> None:
    """Each finding the audits raise on a lab function, its log group and its role, acknowledged with its reason."""
    acknowledge(
        function,
        "Serverless-LambdaDLQ",
        "Asynchronous failures go to an on-failure destination (the SQS queue), which supersedes a DLQ and "
        "records the request, response and error.",
    )
    resource = function.node.default_child
    skip_checkov(
        log_group.node.default_child,
        "CKV_AWS_158",
        "CloudWatch encrypts these logs at rest with service keys; a customer key adds cost and key policy for "
        "operational logs that hold object keys and run ids, not ratings.",
    )
    skip_checkov(
        resource,
        "CKV_AWS_116",
        "Asynchronous failures go to the on-failure destination (SQS) in the EventInvokeConfig, which checkov "
        "does not read.",
    )
    skip_checkov(
        resource,
        "CKV_AWS_117",
        "The function calls only AWS APIs; inside the VPC it would need more paid interface endpoints and gain "
        "no isolation.",
    )
    skip_checkov(
        resource,
        "CKV_AWS_173",
        "The environment holds no secrets (bucket names, the cluster template); Lambda encrypts it at rest.",
    )
    if props.reserved_concurrency is None:
        skip_checkov(
            resource,
            "CKV_AWS_115",
            "Reserved concurrency is the setting lambda_reserved_concurrency, off by default: new accounts "
            "have a quota of 10 and reserving would fail the deploy.",
        )
    skip_cfn_lint(
        resource,
        "W3005",
        "CDK declares DependsOn the role and its default policy so the policy exists before the first call.",
    )
    role = function_role(function)
    acknowledge(
        role,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        "AWS's basic execution policy only lets the function write to its own CloudWatch log streams.",
    )
    acknowledge(
        role,
        "AwsSolutions-IAM5[Resource::*]",
        "Only actions without resource-level permissions use '*': X-Ray PutTraceSegments/PutTelemetryRecords "
        "(active tracing)" + props.unscoped_actions + ".",
    )


def function_role(function: lambda_.Function) -> iam.IRole:
    """The execution role a Function creates for itself (one is always created when none is given)."""
    if function.role is None:
        raise ValueError(f"{function.node.path} has no execution role")
    return function.role
