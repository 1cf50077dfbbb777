"""The runtime contract between the stacks and the code they deploy: one definition of every shared fact.

Owned by the CDK side and imported by it, by the Lambda functions and by the tools; plain Python (standard library
only, Python 3.11 and the functions' 3.14), no CDK. Each function's asset carries a copy of this file at the same
import path (``stacks/contract.py``, added when the asset is bundled, see ``stacks/constructs/lambda_function.py``),
so ``from stacks.contract import ...`` works unchanged in Lambda, in the tests and in the type checker.

The Spark job ships as one file and keeps its own copies of ``FORMATS`` and ``RUN_ID_PATTERN``;
``tests/test_contract.py`` pins them to the ones here.

What it holds: the bucket layout (prefixes); the cluster modes; which upload suffix is read as which format; how run
ids, cluster names and step names are made and recognised; the tag keys that mark the project's resources; the
weekday names and the working-hours format; the AWS error codes worth a retry; and, per function, the names of the
environment variables the stacks set and the function requires at cold start.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from datetime import time
from typing import Any, Self

# ---------------------------------------------------------------------------------------------- bucket layout
RATINGS_PREFIX = "ratings/"  # ratings bucket: uploads here start the job
RESULTS_RUNS_PREFIX = "runs/"  # results bucket: one folder per run id
OUTCOMES_PREFIX = "outcomes/"  # results bucket: one record per EMR step or cluster outcome
EMR_LOGS_PREFIX = "emr/"  # logs bucket
FLOW_LOGS_PREFIX = "vpc-flow-logs/"  # logs bucket
ACCESS_LOGS_PREFIX = "s3-access/"  # logs bucket: S3 server access logs of the other buckets
RUN_ATTEMPTS_DIR = "_attempts"  # results runs/: each job attempt writes here first; the job's ATTEMPTS_DIR
CHECKPOINTS_PREFIX = "checkpoints/"  # artifacts bucket: Spark checkpoints

# ---------------------------------------------------------------------------------------------- the job
CLUSTER_MODES: tuple[str, ...] = ("transient", "standing")
# "public": subnets routed to an internet gateway (free), no NAT gateway, no interface endpoints; instances have a
# public IPv4 address while they run and no security group admits anything from outside the VPC.
# "isolated": no route to the internet at all; AWS APIs through interface endpoints (billed per hour).
NETWORK_MODES: tuple[str, ...] = ("public", "isolated")

# Upload suffix -> the Spark job's --format value (the job's FORMATS has exactly these formats).
FORMATS_BY_SUFFIX: Mapping[str, str] = {
    ".data": "udata",  # MovieLens 100K u.data (tab separated)
    ".base": "udata",  # MovieLens 100K u1.base ... ua.base splits
    ".test": "udata",  # MovieLens 100K u1.test ... ua.test splits
    ".csv": "csv",  # MovieLens ratings.csv with a header line
    ".dat": "dat",  # MovieLens 1M ratings.dat ("::" separated)
}
RATINGS_SUFFIXES: tuple[str, ...] = tuple(FORMATS_BY_SUFFIX)

# Any run id the job accepts (--run-id); the ids submit_job generates are a subset (GENERATED_RUN_ID).
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
GENERATED_RUN_ID = re.compile(r"[0-9]{8}-[0-9a-f]{12}")  # [0-9], not \d: no other script's digits
STEP_NAME_INFIX = "-als-"
STANDING_CLUSTER_SUFFIX = "-standing"


def generated_run_id(event_date: str, digest: str) -> str:
    """The run id submit_job gives an upload: its S3 event date (YYYYMMDD) and 12 hex of its identity's sha256."""
    run_id = f"{event_date}-{digest[:12]}"
    if not GENERATED_RUN_ID.fullmatch(run_id):
        raise ValueError(f"not a generated run id: {run_id!r}")
    return run_id


def transient_cluster_name(name_prefix: str, run_id: str) -> str:
    """A transient cluster is named for the one run it exists for."""
    return f"{name_prefix}-{run_id}"


def standing_cluster_name(name_prefix: str) -> str:
    return f"{name_prefix}{STANDING_CLUSTER_SUFFIX}"


def step_name(name_prefix: str, run_id: str) -> str:
    return f"{name_prefix}{STEP_NAME_INFIX}{run_id}"


def _generated_run_id_after(head: str, name: object) -> str | None:
    if not isinstance(name, str) or not name.startswith(head):
        return None
    run_id = name[len(head) :]
    return run_id if GENERATED_RUN_ID.fullmatch(run_id) else None


def run_id_of_step(name_prefix: str, name: object) -> str | None:
    """The run id when ``name`` is exactly ``step_name(name_prefix, <generated run id>)``, else None.

    Exact, not a prefix match: ``ml-lab-dev-als-...`` is also how the steps of a project named ``ml-lab-dev-als``
    begin."""
    return _generated_run_id_after(f"{name_prefix}{STEP_NAME_INFIX}", name)


def run_id_of_transient_cluster(name_prefix: str, name: object) -> str | None:
    """The run id when ``name`` is exactly ``transient_cluster_name(name_prefix, <generated run id>)``, else None.

    Exact: stage ``prod`` of a project named ``ml-lab-dev`` names its clusters ``ml-lab-dev-prod-...``."""
    return _generated_run_id_after(f"{name_prefix}-", name)


# How submit_job sizes a transient cluster by the upload (lambda_functions/submit_job/cluster_sizing.py), set by the
# stack as the CLUSTER_SIZING variable.
MEGABYTE = 1_000_000


@dataclass(frozen=True)
class SizingPolicy:
    single_node_max_bytes: int
    bytes_per_core_node: int
    max_core_nodes: int

    @classmethod
    def from_json(cls, text: str) -> SizingPolicy:
        """The CLUSTER_SIZING variable; ValueError naming the field when the stack set something unusable."""
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"CLUSTER_SIZING is not JSON ({error.msg})") from None
        if not isinstance(raw, dict):
            raise ValueError("CLUSTER_SIZING must be a JSON object")
        values: dict[str, int] = {}
        for name, low in (("single_node_max_bytes", 0), ("bytes_per_core_node", 1), ("max_core_nodes", 1)):
            value = raw.get(name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"CLUSTER_SIZING.{name} must be a whole number >= {low}, not {value!r}")
            values[name] = value
        return cls(**values)

    def as_json(self) -> str:
        return json.dumps(
            {
                "single_node_max_bytes": self.single_node_max_bytes,
                "bytes_per_core_node": self.bytes_per_core_node,
                "max_core_nodes": self.max_core_nodes,
            },
            sort_keys=True,
        )


# ---------------------------------------------------------------------------------------------- tags and hours
PROJECT_TAG_KEY = "project"
STAGE_TAG_KEY = "stage"
# On every cluster: the shape it was given (cluster_shape_label) and, for a transient cluster, the size in bytes of
# the upload it was sized for. emr_events copies both into the outcome record.
CLUSTER_SHAPE_TAG_KEY = "cluster-shape"
INPUT_BYTES_TAG_KEY = "input-bytes"


def cluster_shape_label(
    primary_type: str, core_type: str, core_nodes: int, task_types: tuple[str, ...] = (), task_spot_nodes: int = 0
) -> str:
    """'primary:1xm7g.xlarge core:2xm7g.xlarge' ('core:0' is a single-node cluster); a Spot task fleet adds
    'task-spot:2xm7g.xlarge/m6g.xlarge'. Only characters EMR allows in tag values (letters, digits, space, _.:/=+-@)."""
    label = f"primary:1x{primary_type} " + (f"core:{core_nodes}x{core_type}" if core_nodes else "core:0")
    if task_spot_nodes:
        label += f" task-spot:{task_spot_nodes}x{'/'.join(task_types)}"
    return label


WEEKDAYS: tuple[str, ...] = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")  # index = datetime.weekday()
WORKING_HOURS_FORMAT = r"([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])"  # HH:MM-HH:MM, 24 h
_WORKING_HOURS = re.compile(WORKING_HOURS_FORMAT)


def parse_working_hours(text: str) -> tuple[time, time]:
    """'07:00-19:00' -> (07:00, 19:00), end exclusive; ValueError unless HH:MM-HH:MM with start before end."""
    match = _WORKING_HOURS.fullmatch(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"working hours must look like 07:00-19:00 (24h), not {text!r}")
    h1, m1, h2, m2 = (int(group) for group in match.groups())
    start, end = time(h1, m1), time(h2, m2)
    if start >= end:
        raise ValueError(f"working hours {text!r} must start before they end")
    return start, end


def working_hours_per_day(text: str) -> float:
    start, end = parse_working_hours(text)
    return (end.hour - start.hour) + (end.minute - start.minute) / 60


# ---------------------------------------------------------------------------------------------- AWS errors
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
    """A boto3 client in the function's region, with botocore ``Config`` options (only the functions call this)."""
    import boto3  # synth needs no boto3
    from botocore.config import Config

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return boto3.client(service, region_name=region, config=Config(**config) if config else None)


def is_retryable(error: BaseException) -> bool:
    """True for throttling, 5xx, connection failures and lost responses (read timeouts, closed connections): the
    same request may succeed when Lambda retries. A lost response may also mean the request took effect, so
    callers of non-idempotent APIs look for its effect before repeating it (submit_job does)."""
    # Only the functions call this; synth needs no botocore.
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(error, ConnectionError | HTTPClientError):
        return True
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in RETRYABLE_ERROR_CODES or status >= 500
    return False


# repr() of an integer of over 4,300 digits raises ValueError, of a deeply nested list RecursionError. (A tuple
# constant: the functions are formatted for Python 3.14, whose unparenthesised `except A, B:` 3.11 cannot read.)
_UNSHOWABLE = (ValueError, RecursionError)


def shown(value: object, limit: int = 200) -> str:
    """A bounded text of any value from an event, for logs and messages: it never raises and never floods a log."""
    try:
        text = value if isinstance(value, str) else repr(value)
    except _UNSHOWABLE:
        text = f"<a {type(value).__name__} too large to show>"
    return text[:limit]


def parse_working_days(text: str) -> frozenset[int]:
    """'MON,TUE,WED' -> weekday numbers (Monday = 0); ValueError naming the bad entry."""
    days = [part.strip().upper() for part in text.split(",") if part.strip()] if isinstance(text, str) else []
    bad = [day for day in days if day not in WEEKDAYS]
    if not days or bad:
        raise ValueError(f"working days must be a comma-separated list of {', '.join(WEEKDAYS)}, not {text!r}")
    return frozenset(WEEKDAYS.index(day) for day in days)


# ---------------------------------------------------------------------------------------------- function environments
class MissingEnvironment(RuntimeError):
    """A function was deployed without a variable its contract requires: a deployment bug, raised at cold start."""


@dataclass(frozen=True, kw_only=True)
class FunctionEnvironment:
    """A function's environment: each field is one variable, named as the field in upper case.

    The stacks build it with keyword arguments and pass ``variables()`` to the function; the function reads it back
    with ``from_variables(os.environ)`` at cold start, which names every variable that is missing. Fields with a
    default may be empty or absent.
    """

    def variables(self) -> dict[str, str]:
        return {field.name.upper(): getattr(self, field.name) for field in fields(self)}

    @classmethod
    def variable_names(cls) -> tuple[str, ...]:
        return tuple(field.name.upper() for field in fields(cls))

    @classmethod
    def from_variables(cls, environ: Mapping[str, str]) -> Self:
        values: dict[str, Any] = {}
        missing = []
        for field in fields(cls):
            value = environ.get(field.name.upper())
            if field.default is not MISSING:
                values[field.name] = value or field.default
            elif value:
                values[field.name] = value
            else:
                missing.append(field.name.upper())
        if missing:
            raise MissingEnvironment(
                f"{cls.__name__}: missing environment variable(s) {', '.join(missing)}; the stack sets them "
                "(stacks/constructs/job_automation.py), so this deployment is broken: redeploy it"
            )
        return cls(**values)


@dataclass(frozen=True, kw_only=True)
class SubmitJobEnvironment(FunctionEnvironment):
    cluster_mode: str  # one of CLUSTER_MODES
    job_flow_template: str  # JSON RunJobFlow arguments without Name and Steps
    step_template: str  # JSON EMR step without Name; the job's arguments are appended
    standing_cluster_id: str = ""  # standing mode only
    cluster_sizing: str  # JSON: single_node_max_bytes, bytes_per_core_node, max_core_nodes (submit_job cluster_sizing)
    cluster_name_prefix: str
    results_uri: str
    ratings_prefix: str
    input_bucket: str
    idempotency_table: str
    max_jobs_per_invocation: str  # a whole number >= 1: clusters (or steps) one invocation may start


@dataclass(frozen=True, kw_only=True)
class EmrEventsEnvironment(FunctionEnvironment):
    results_bucket: str
    outcomes_prefix: str
    results_uri: str
    log_uri: str
    topic_arn: str
    cluster_name_prefix: str


@dataclass(frozen=True, kw_only=True)
class SpendGuardEnvironment(FunctionEnvironment):
    project_tag_key: str
    project_tag_value: str
    stage_tag_key: str
    stage_tag_value: str
    max_cluster_age_hours: str
    max_idle_minutes: str
    workstation_instance_id: str = ""  # empty when the app has no workstation
    working_hours: str  # parse_working_hours
    working_days: str  # parse_working_days
    working_timezone: str  # an IANA time zone name
    emr_service_role: str  # the name of the project's EMR service role: only clusters running as it are terminated
