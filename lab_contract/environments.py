"""Each function's environment: one typed class per function, the one definition of its variables.

A field is a variable, named as the field in upper case. The stacks build the class from typed values and give
the function its ``variables()``; the function parses ``os.environ`` into the same class once, at cold start
(``from_environ``), and fails there, naming every variable that is missing or unusable. A field's type says how
its text is written and read: ``str`` as is, ``int`` in decimal, a ``JsonObject`` as JSON, ``SizingPolicy``,
``WorkingHours``, ``WorkingDays`` and ``ZoneInfo`` in the forms their modules define, a ``Literal`` as one of its
values. Fields with a default may be empty or absent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, fields
from typing import Any, Literal, Self, get_args, get_origin, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lab_contract.modes import ClusterMode
from lab_contract.sizing import SizingPolicy
from lab_contract.working_hours import WorkingDays, WorkingHours, parse_working_days, parse_working_hours

JsonObject = dict[str, Any]
"""A JSON object. The stacks' may hold deploy-time values (tokens), which their ``to_json`` renders."""


class InvalidEnvironment(ValueError):
    """A function's environment lacks a variable its class requires or holds one it cannot use: a deployment bug,
    raised at cold start."""


@dataclass(frozen=True)
class _Codec:
    read: Callable[[str], Any]  # ValueError for a text the type cannot hold
    write: Callable[[Any], str]


def _whole_number(text: str) -> int:
    if not (text.isascii() and text.isdecimal()):
        raise ValueError(f"not a whole number: {text!r}")
    return int(text)


def _json_object(text: str) -> JsonObject:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON ({error.msg})") from None
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _sizing_policy(text: str) -> SizingPolicy:
    return SizingPolicy.from_mapping(_json_object(text))


def _sizing_text(policy: SizingPolicy) -> str:
    return json.dumps(policy.as_mapping(), sort_keys=True)


def _time_zone(text: str) -> ZoneInfo:
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"not an IANA time zone name: {text!r}") from None


def _zone_name(zone: ZoneInfo) -> str:
    return zone.key


_CODECS: dict[object, _Codec] = {
    str: _Codec(str, str),
    int: _Codec(_whole_number, str),
    JsonObject: _Codec(_json_object, json.dumps),
    SizingPolicy: _Codec(_sizing_policy, _sizing_text),
    WorkingHours: _Codec(parse_working_hours, str),
    WorkingDays: _Codec(parse_working_days, str),
    ZoneInfo: _Codec(_time_zone, _zone_name),
}


def _codec(hint: object) -> _Codec:
    if get_origin(hint) is Literal:
        choices = get_args(hint)

        def one_of(text: str) -> str:
            if text not in choices:
                raise ValueError(f"not one of {', '.join(choices)}: {text!r}")
            return text

        return _Codec(one_of, str)
    return _CODECS[hint]


def _variables_of(environment: type) -> tuple[tuple[Field[Any], object], ...]:
    """Each field of an environment class with its resolved type (once per cold start or synth: not cached)."""
    hints = get_type_hints(environment)
    return tuple((field, hints[field.name]) for field in fields(environment))


@dataclass(frozen=True, kw_only=True)
class FunctionEnvironment:
    """The base of the function environments: how fields become variables and back."""

    def variables(self, *, to_json: Callable[[Any], str] = json.dumps) -> dict[str, str]:
        """The function's variables. ``to_json`` writes the JSON objects: the stacks pass ``Stack.to_json_string``,
        which also renders the deploy-time values (tokens) in them."""
        return {
            field.name.upper(): (to_json if hint == JsonObject else _codec(hint).write)(getattr(self, field.name))
            for field, hint in _variables_of(type(self))
        }

    @classmethod
    def variable_names(cls) -> tuple[str, ...]:
        return tuple(field.name.upper() for field in fields(cls))

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Self:
        """The environment parsed from ``environ``; InvalidEnvironment naming every variable that is missing or
        unusable."""
        values: dict[str, Any] = {}
        missing: list[str] = []
        problems: list[str] = []
        for field, hint in _variables_of(cls):
            name = field.name.upper()
            text = environ.get(name, "")
            if not text:
                if field.default is MISSING:
                    missing.append(name)
                continue
            try:
                values[field.name] = _codec(hint).read(text)
            except ValueError as error:
                problems.append(f"{name}: {error}")
        if not missing and not problems:
            try:
                return cls(**values)
            except ValueError as error:  # what __post_init__ refuses: values that do not fit together
                problems.append(str(error))
        if missing:
            problems.insert(0, f"missing environment variable(s) {', '.join(missing)}")
        raise InvalidEnvironment(
            f"{cls.__name__}: {'; '.join(problems)}; the stack sets them (stacks/constructs/job_automation.py), "
            "so this deployment is broken: redeploy it"
        )


@dataclass(frozen=True, kw_only=True)
class SubmitJobEnvironment(FunctionEnvironment):
    """submit_job's environment: how to start the job, for which uploads, and how many at once."""

    cluster_mode: ClusterMode
    job_flow_template: JsonObject
    """RunJobFlow arguments without Name and Steps (the function sets them); used in transient mode."""
    step_template: JsonObject
    """The EMR step without Name; the job's arguments are appended to ``HadoopJarStep.Args``."""
    standing_cluster_id: str = ""
    """Standing mode only: the cluster the steps are added to."""
    cluster_sizing: SizingPolicy
    """Transient mode: the cluster's shape follows the upload's size."""
    cluster_name_prefix: str
    results_uri: str
    """Where the job writes its runs (``s3://bucket/runs``, without a final '/')."""
    ratings_prefix: str
    input_bucket: str
    idempotency_table: str
    """The DynamoDB table of Powertools idempotency (partition key ``id``, TTL attribute ``expiration``)."""
    max_jobs_per_invocation: int
    """At least 1: the clusters (or steps) one invocation may start."""

    def __post_init__(self) -> None:
        problems = []
        forbidden = sorted({"Name", "Steps"} & set(self.job_flow_template))
        if forbidden:
            problems.append(f"JOB_FLOW_TEMPLATE must not set {forbidden}: the function sets them")
        jar_step = self.step_template.get("HadoopJarStep")
        if not isinstance(jar_step, dict) or not isinstance(jar_step.get("Args"), list):
            problems.append("STEP_TEMPLATE needs HadoopJarStep.Args (a list)")
        if self.cluster_mode == "standing" and not self.standing_cluster_id:
            problems.append("STANDING_CLUSTER_ID is empty in standing mode")
        if self.max_jobs_per_invocation < 1:
            problems.append(f"MAX_JOBS_PER_INVOCATION must be at least 1, not {self.max_jobs_per_invocation}")
        if problems:
            raise ValueError("; ".join(problems))
        object.__setattr__(self, "results_uri", self.results_uri.rstrip("/"))


@dataclass(frozen=True, kw_only=True)
class EmrEventsEnvironment(FunctionEnvironment):
    """emr_events' environment: which names are this deployment's, where outcomes go and who hears of them."""

    results_bucket: str
    outcomes_prefix: str
    results_uri: str
    """Where the job writes its runs, without a final '/'."""
    log_uri: str
    """Where EMR writes its logs, with a final '/'."""
    topic_arn: str
    cluster_name_prefix: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "results_uri", self.results_uri.rstrip("/"))
        if not self.log_uri.endswith("/"):
            object.__setattr__(self, "log_uri", self.log_uri + "/")


@dataclass(frozen=True, kw_only=True)
class SpendGuardEnvironment(FunctionEnvironment):
    """spend_guard's environment: which clusters are the project's, when they are forgotten, when people work."""

    project_tag_key: str
    project_tag_value: str
    stage_tag_key: str
    stage_tag_value: str
    max_cluster_age_hours: int
    max_idle_minutes: int
    workstation_instance_id: str = ""
    """Empty when the app has no workstation."""
    working_hours: WorkingHours
    working_days: WorkingDays
    working_timezone: ZoneInfo
    emr_service_role: str
    """The name of the project's EMR service role: only clusters running as it are terminated."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "workstation_instance_id", self.workstation_instance_id.strip())

    @property
    def project_tags(self) -> dict[str, str]:
        """The project and the stage tag, both of which the project's clusters carry."""
        return {self.project_tag_key: self.project_tag_value, self.stage_tag_key: self.stage_tag_value}
