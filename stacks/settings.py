"""The one place that reads CDK context: each setting's default is its ``Settings`` field's; overrides come from any
context source (``cdk synth -c key=value``, the ``context`` of cdk.json or ~/.cdk.json).

Every value is validated here, at synth time, so a wrong value fails before anything is deployed, with a
one-line message naming the key, the value and what is allowed (never a traceback, whatever the value). A
context key that looks like one of ours but is not a setting (a typo) is refused with a did-you-mean.
Constructs receive props built from the typed ``Settings`` object and never read context or environment
variables themselves.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import re
import reprlib
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from lab_contract.modes import CLUSTER_MODES, NETWORK_MODES
from lab_contract.names import PROJECT_TAG_KEY, STAGE_TAG_KEY
from lab_contract.sizing import MEGABYTE, SizingPolicy
from lab_contract.working_hours import WEEKDAYS, WORKING_HOURS_FORMAT, parse_working_hours
from stacks.emr_release import DEFAULT_EMR_RELEASE, EMR_RELEASES

# UK and EU (EEA) commercial regions where CloudFormation offers every resource type the lab deploys. Personal data
# (ratings are personal data under UK/EU GDPR) stays here: `allowed_regions` may narrow this list but never widen
# it, so adding a region is a reviewed change to this code. CloudFormation's resource provider schemas per Region
# ("CloudFormation resource provider schemas": "Resource availability may vary by Region") have no
# AWS::Budgets::Budget in eu-central-2 (Zurich), eu-north-1 (Stockholm), eu-south-1 (Milan) or eu-south-2 (Spain),
# so those are left out; tests/stacks/test_documented_settings.py checks every template against the schemas.
UK_EU_REGIONS: tuple[str, ...] = (
    "eu-west-2",  # London
    "eu-west-1",  # Ireland
    "eu-west-3",  # Paris
    "eu-central-1",  # Frankfurt
)

STAGES: tuple[str, ...] = ("dev", "prod")

# Network modes (lab_contract/modes.py NETWORK_MODES, stacks/constructs/network.py): unset, the stage decides.
DEFAULT_NETWORK_MODE: dict[str, str] = {"dev": "public", "prod": "isolated"}
# Unset budget_monthly_usd: just above the typical month of each network mode (README "What it costs";
# tests/audit/test_cost.py checks them against tools/audit/cost.py).
DEFAULT_BUDGET_USD: dict[str, int] = {"public": 8, "isolated": 50}

# Instance types the project knows the price of (tools/prices.json) and that every EMR 7.x release in
# stacks/emr_release.py supports (tests/audit/test_prices.py checks both). Graviton (arm64) first: the defaults.
EMR_INSTANCE_TYPES: tuple[str, ...] = (
    "m7g.xlarge",
    "m7g.2xlarge",
    "m6g.xlarge",
    "m6g.2xlarge",
    "m5.xlarge",
    "m5.2xlarge",
    "m6i.xlarge",
    "m6i.2xlarge",
    "m7i.xlarge",
    "m7i.2xlarge",
    "r5.xlarge",
    "r6i.xlarge",
)
WORKSTATION_INSTANCE_TYPES: tuple[str, ...] = (
    "t4g.medium",
    "t4g.large",
    "t4g.xlarge",
    "m7g.large",
    "m7g.xlarge",
    "t3.medium",
    "t3.large",
    "t3.xlarge",
    "m6i.large",
    "m6i.xlarge",
    "m7i.large",
    "m7i.xlarge",
)

# Log retention periods (days) the functions' log groups may have: those RETENTION_NAMES maps to CDK's RetentionDays
# (stacks/constructs/lambda_function.py).
LOG_RETENTION_DAYS: tuple[int, ...] = (1, 3, 5, 7, 14, 30, 60, 90, 180, 365)
# The workstation's idle alarm watches 5-minute CPU datapoints (EC2 basic monitoring), at most 12 hours of them.
CPU_METRIC_PERIOD_MINUTES = 5
IDLE_STOP_MINUTES_RANGE = (10, 720)
# Cluster sizing (lab_contract/sizing.py shape_for): measured with bench/sizing_bench.py, see
# bench/README.md "Cluster sizing". Up to SINGLE_NODE_MAX_MB an upload runs on a single-node cluster; above it,
# one core node per MB_PER_CORE_NODE, up to emr_core_instance_count.
SINGLE_NODE_MAX_MB = 200
MB_PER_CORE_NODE = 200

# re.ASCII: "\d" would also match Arabic-Indic and other Unicode digits, which AWS does not accept.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PROJECT = re.compile(r"[a-z][a-z0-9-]{1,18}[a-z0-9]")
_TAG_VALUE = re.compile(r"[\w .:/=+@-]{1,128}")  # AWS tag values may hold Unicode letters
_ACCOUNT = re.compile(r"[0-9]{12}", re.ASCII)
_CIDR = re.compile(r"([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})/([0-9]{1,2})", re.ASCII)
_WORKING_HOURS = re.compile(WORKING_HOURS_FORMAT, re.ASCII)
_KEY_PAIR = re.compile(r"[\w.\- ]{1,255}", re.ASCII)  # EC2 key pair names are ASCII
_REGION = re.compile(r"[a-z]{2}(-gov)?-[a-z]+-[0-9]", re.ASCII)
_TIMEZONE = re.compile(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*", re.ASCII)
_CERTIFICATES_URI = re.compile(r"s3://[a-z0-9.\-]{3,63}/[^\s]+\.zip", re.ASCII)
_DIRECTORY = re.compile(r"[\w./~+-]+", re.ASCII)
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,18}", re.ASCII)  # bounded: a 5,000-digit string is not a setting
# CDK's own context keys (feature flags "@aws-cdk/...", "aws:cdk:...", lookup caches "availability-zones:account=...")
# contain one of these; ours are snake_case. A key without them that is not a setting is a typo of ours.
_CDK_KEY_MARKERS = frozenset(":@/=.")
_OUR_KEY = re.compile(r"[a-z][a-z0-9_]*", re.ASCII)
_SHOW = reprlib.Repr()
_SHOW.maxstring = 80
_SHOW.maxother = 80
_SHOW.maxlist = _SHOW.maxdict = 6


@functools.cache
def _available_timezones() -> frozenset[str]:
    """The IANA database's zone names: read once (a directory walk, tens of milliseconds) per process."""
    return frozenset(zoneinfo.available_timezones())


def _show(value: Any) -> str:
    """A bounded, one-line repr for error messages (a 5,000-digit integer cannot even be repr'd by default)."""
    try:
        return _SHOW.repr(value)
    except (ValueError, RecursionError):
        return f"<a {type(value).__name__} too large to show>"


def _did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest candidate ignoring case, '-' and '_', or ''."""

    def fold(text: str) -> str:
        return text.lower().replace("-", "").replace("_", "")

    by_fold = {fold(candidate): candidate for candidate in candidates}
    close = difflib.get_close_matches(fold(word), list(by_fold), n=1, cutoff=0.75)
    return f" (did you mean {by_fold[close[0]]!r}?)" if close else ""


class SettingsError(ValueError):
    """A context value that is missing, malformed or not allowed. The message names key, value and rule."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Validated, typed deployment settings. Build one with ``Settings.from_context``.

    Each field's default is the setting's default, written nowhere else (not in cdk.json, not on a props field)."""

    project: str = "ml-lab"
    stage: str = "dev"
    region: str = "eu-west-2"
    allowed_regions: tuple[str, ...] = UK_EU_REGIONS
    account: str | None = None
    owner: str = "data-science"
    cost_centre: str = "ml-lab"
    network_mode: str = "public"
    budget_monthly_usd: int = DEFAULT_BUDGET_USD["public"]
    budget_email: str | None = None
    notification_email: str | None = None
    log_retention_days: int = 30
    # EMR
    emr_release: str = DEFAULT_EMR_RELEASE
    cluster_mode: str = "transient"
    emr_primary_instance_type: str = "m7g.xlarge"
    emr_core_instance_type: str = "m7g.xlarge"
    emr_core_instance_count: int = 2
    emr_single_node_max_mb: int = SINGLE_NODE_MAX_MB
    emr_mb_per_core_node: int = MB_PER_CORE_NODE
    emr_task_spot_instance_count: int = 0
    emr_task_instance_types: tuple[str, ...] = ("m7g.xlarge", "m6g.xlarge")
    emr_idle_timeout_minutes: int = 60
    emr_max_cluster_age_hours: int = 8
    emr_in_transit_encryption: bool = False
    emr_tls_certificates_s3_uri: str | None = None
    spark_defaults: Mapping[str, str] = field(default_factory=dict)
    # Workstation
    workstation_instance_type: str = "t4g.large"
    workstation_idle_stop_minutes: int = 30
    workstation_wheelhouse_dir: str = "build/wheelhouse"
    workstation_ssh_cidr: str | None = None
    workstation_key_pair: str | None = None
    working_hours: str = "07:00-19:00"
    working_days: tuple[str, ...] = ("MON", "TUE", "WED", "THU", "FRI")
    working_timezone: str = "Europe/London"
    # Lambda
    lambda_reserved_concurrency: int | None = None
    spend_guard_rate_minutes: int = 15

    # ------------------------------------------------------------------ derived values
    @property
    def removes_data_on_destroy(self) -> bool:
        """dev: buckets and their objects go with ``cdk destroy``; prod: data is retained."""
        return self.stage == "dev"

    @property
    def sizing_policy(self) -> SizingPolicy:
        """How submit_job sizes a transient cluster by the upload; the cost report prices the same shapes."""
        return SizingPolicy(
            single_node_max_bytes=self.emr_single_node_max_mb * MEGABYTE,
            bytes_per_core_node=self.emr_mb_per_core_node * MEGABYTE,
            max_core_nodes=self.emr_core_instance_count,
        )

    @property
    def name_prefix(self) -> str:
        return f"{self.project}-{self.stage}"

    @property
    def tags(self) -> dict[str, str]:
        return {
            PROJECT_TAG_KEY: self.project,
            STAGE_TAG_KEY: self.stage,
            "owner": self.owner,
            "cost-centre": self.cost_centre,
        }

    # ------------------------------------------------------------------ reading context
    @classmethod
    def setting_names(cls) -> tuple[str, ...]:
        """Every setting's context key (the field names)."""
        return tuple(item.name for item in fields(cls))

    @classmethod
    def from_node(cls, node: Any) -> Settings:
        """Read the settings of a CDK app's ``node``: every context source (cdk.json, cdk.context.json, ``-c``)."""
        return cls.from_context(node.try_get_context, keys=node.get_all_context())

    @classmethod
    def from_context(cls, get: Callable[[str], Any], *, keys: Iterable[str] = ()) -> Settings:
        """Read and validate every setting. ``get(key)`` returns the context value or None; ``keys`` are all the
        context keys present, checked for typos of ours (see ``refuse_unknown_keys``). A key that is unset takes its
        field's default, except the two that follow another setting (network mode, budget)."""
        refuse_unknown_keys(keys)
        read = _ContextReader(get, defaults=cls())
        stage = read.choice("stage", STAGES)
        network_mode = read.choice("network_mode", NETWORK_MODES, default=DEFAULT_NETWORK_MODE[stage])
        allowed_regions, region = _residency(read)
        emr_release = read.choice("emr_release", tuple(EMR_RELEASES))
        budget_email = read.optional_email("budget_email")
        notification_email = read.optional_email("notification_email")
        _require_budget_email_in_prod(stage, budget_email)
        ssh_cidr, key_pair = _ssh_access(read)
        in_transit, certificates = _in_transit_encryption(read)
        return cls(
            project=read.pattern("project", _PROJECT, "3-20 chars of a-z, 0-9, '-'"),
            stage=stage,
            region=region,
            allowed_regions=allowed_regions,
            account=read.optional_pattern("account", _ACCOUNT, "a 12-digit AWS account id"),
            owner=read.pattern("owner", _TAG_VALUE, "a tag value (1-128 chars)"),
            cost_centre=read.pattern("cost_centre", _TAG_VALUE, "a tag value (1-128 chars)"),
            network_mode=network_mode,
            budget_monthly_usd=read.integer("budget_monthly_usd", 1, 100_000, default=DEFAULT_BUDGET_USD[network_mode]),
            budget_email=budget_email,
            notification_email=notification_email,
            log_retention_days=read.choice_int("log_retention_days", LOG_RETENTION_DAYS),
            emr_release=emr_release,
            cluster_mode=read.choice("cluster_mode", CLUSTER_MODES),
            emr_primary_instance_type=read.choice("emr_primary_instance_type", EMR_INSTANCE_TYPES),
            emr_core_instance_type=read.choice("emr_core_instance_type", EMR_INSTANCE_TYPES),
            emr_core_instance_count=read.integer("emr_core_instance_count", 1, 20),
            emr_single_node_max_mb=read.integer("emr_single_node_max_mb", 0, 100_000),
            emr_mb_per_core_node=read.integer("emr_mb_per_core_node", 1, 100_000),
            emr_task_spot_instance_count=read.integer("emr_task_spot_instance_count", 0, 50),
            emr_task_instance_types=read.choice_list("emr_task_instance_types", EMR_INSTANCE_TYPES),
            emr_idle_timeout_minutes=read.integer("emr_idle_timeout_minutes", 1, 24 * 60),
            emr_max_cluster_age_hours=read.integer("emr_max_cluster_age_hours", 1, 7 * 24),
            emr_in_transit_encryption=in_transit,
            emr_tls_certificates_s3_uri=certificates,
            spark_defaults=read.string_map("spark_defaults"),
            workstation_instance_type=read.choice("workstation_instance_type", WORKSTATION_INSTANCE_TYPES),
            workstation_idle_stop_minutes=read.multiple_of(
                "workstation_idle_stop_minutes",
                IDLE_STOP_MINUTES_RANGE,
                CPU_METRIC_PERIOD_MINUTES,
                "EC2 reports CPU every 5 minutes",
            ),
            workstation_wheelhouse_dir=read.pattern(
                "workstation_wheelhouse_dir", _DIRECTORY, "a directory path (relative to the project root, or absolute)"
            ),
            workstation_ssh_cidr=ssh_cidr,
            workstation_key_pair=key_pair,
            working_hours=read.working_hours("working_hours"),
            working_days=read.choice_list("working_days", WEEKDAYS),
            working_timezone=read.timezone("working_timezone"),
            lambda_reserved_concurrency=read.optional_integer("lambda_reserved_concurrency", 1, 100),
            spend_guard_rate_minutes=read.integer("spend_guard_rate_minutes", 5, 60),
        )


# The workstation's image, resolved once by `make refresh-image` (tools/workstation_image.py, which needs AWS
# credentials) and kept in cdk.context.json under this key per region and CPU architecture. The key holds ':', like
# CDK's own lookup caches, so it is not a setting. Unset: the template resolves Amazon Linux 2023's public SSM
# parameter at every deployment, and a new image replaces the instance.
WORKSTATION_IMAGE_CONTEXT_KEY = "workstation-image:{region}:{architecture}"
_IMAGE_ID = re.compile(r"ami-[0-9a-f]{8,17}", re.ASCII)


def workstation_image_id(get: Callable[[str], Any], *, region: str, architecture: str) -> str | None:
    """The cached image id for the region and architecture, or None; SettingsError for a malformed entry."""
    key = WORKSTATION_IMAGE_CONTEXT_KEY.format(region=region, architecture=architecture)
    value = get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _IMAGE_ID.fullmatch(value):
        raise SettingsError(
            f"context key {key!r}: {_show(value)} is not an AMI id (ami- and 8 or 17 hex digits); "
            "run `make refresh-image` to resolve it again"
        )
    return value


def _residency(read: _ContextReader) -> tuple[tuple[str, ...], str]:
    """The allow-list (a subset of UK_EU_REGIONS) and the region, which must be in it."""
    allowed_regions = read.region_list("allowed_regions", UK_EU_REGIONS)
    region = read.string("region")
    if region not in allowed_regions:
        raise SettingsError(
            f"context key 'region': {_show(region)} is outside the data-residency allow-list "
            f"{', '.join(allowed_regions)} (UK/EU GDPR, context key 'allowed_regions'). Deploy to one of those "
            "regions; adding another is a reviewed change to UK_EU_REGIONS in stacks/settings.py."
        )
    return allowed_regions, region


def _require_budget_email_in_prod(stage: str, budget_email: str | None) -> None:
    if stage == "prod" and budget_email is None:
        raise SettingsError(
            "context key 'budget_email': required when 'stage' is 'prod' (budget alerts must reach a person); "
            "set it with -c budget_email=you@example.com"
        )


def _ssh_access(read: _ContextReader) -> tuple[str | None, str | None]:
    """The SSH range and key pair: both, or neither (Session Manager only)."""
    ssh_cidr = read.optional_cidr("workstation_ssh_cidr")
    key_pair = read.optional_pattern("workstation_key_pair", _KEY_PAIR, "an EC2 key pair name")
    if (ssh_cidr is None) != (key_pair is None):
        raise SettingsError(
            "context keys 'workstation_ssh_cidr' and 'workstation_key_pair': set both to allow SSH, or "
            f"neither (Session Manager only); got cidr={_show(ssh_cidr)}, key pair={_show(key_pair)}"
        )
    return ssh_cidr, key_pair


def _in_transit_encryption(read: _ContextReader) -> tuple[bool, str | None]:
    """Whether EMR encrypts traffic between nodes, and the certificates it needs to."""
    in_transit = read.boolean("emr_in_transit_encryption")
    certificates = read.optional_pattern("emr_tls_certificates_s3_uri", _CERTIFICATES_URI, "s3://bucket/key.zip")
    if in_transit and certificates is None:
        raise SettingsError(
            "context key 'emr_tls_certificates_s3_uri': required when 'emr_in_transit_encryption' is true "
            "(a zip of PEM files, see README 'Settings'); got nothing"
        )
    return in_transit, certificates


def refuse_unknown_keys(keys: Iterable[str]) -> None:
    """SettingsError for a context key that is ours in form but not a setting: a typo would otherwise be ignored.

    A key is ours in form when it is snake_case (as every setting is), or when it has none of the separators CDK's
    own keys use (``:``, ``@``, ``/``, ``=``, ``.``) and is close to a setting ignoring case, ``-`` and ``_``
    (``log-retention-days``, ``logRetentionDays``). CDK's keys (``@aws-cdk/...`` feature flags, ``aws:cdk:...``,
    lookup caches such as ``availability-zones:account=...``, ``acknowledged-issue-numbers``) pass untouched.
    """
    known = Settings.setting_names()
    unknown = []
    for key in sorted(set(keys) - set(known)):
        if not isinstance(key, str) or _CDK_KEY_MARKERS & set(key):
            continue
        hint = _did_you_mean(key, known)
        if _OUR_KEY.fullmatch(key) or hint:
            unknown.append(f"{_show(key)}{hint}")
    if unknown:
        raise SettingsError(
            f"context key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: not a setting of this app, so it would be ignored; the settings "
            "are the keys of the README's Settings table (stacks/settings.py Settings)"
        )


class _ContextReader:
    """Turns raw context values (JSON from cdk.json, strings from -c) into typed values, or SettingsError.

    Every message shows the value through ``_show`` (bounded, one line), so no value can turn an error into a
    traceback."""

    def __init__(self, get: Callable[[str], Any], *, defaults: Settings) -> None:
        self._get = get
        self._defaults = defaults

    def _default(self, key: str) -> Any:
        """What an unset ``key`` gives: the default of the ``Settings`` field of that name."""
        return getattr(self._defaults, key)

    def _raw(self, key: str) -> Any:
        value = self._get(key)
        if isinstance(value, str) and value.strip() == "":
            return None
        return value

    @staticmethod
    def _refuse(key: str, value: Any, allowed: str) -> SettingsError:
        return SettingsError(f"context key {key!r}: {_show(value)} is not allowed; {allowed}")

    def string(self, key: str, *, default: str | None = None) -> str:
        value = self._raw(key)
        if value is None:
            return self._default(key) if default is None else default
        if not isinstance(value, str):
            raise SettingsError(f"context key {key!r}: expected a string, got {_show(value)}")
        return value.strip()

    def pattern(self, key: str, regex: re.Pattern[str], allowed: str) -> str:
        value = self.string(key)
        if not regex.fullmatch(value):
            raise self._refuse(key, value, f"expected {allowed}")
        return value

    def optional_pattern(self, key: str, regex: re.Pattern[str], allowed: str) -> str | None:
        value = self._raw(key)
        if value is None:
            return None
        if not isinstance(value, str) or not regex.fullmatch(value.strip()):
            raise self._refuse(key, value, f"expected {allowed}")
        return value.strip()

    def optional_email(self, key: str) -> str | None:
        return self.optional_pattern(key, _EMAIL, "an e-mail address such as ops@example.com")

    def choice(self, key: str, allowed: tuple[str, ...], *, default: str | None = None) -> str:
        value = self.string(key, default=default)
        if value not in allowed:
            hint = _did_you_mean(value, allowed) if len(value) <= 100 else ""
            raise self._refuse(key, value, f"allowed values: {', '.join(allowed)}{hint}")
        return value

    def choice_int(self, key: str, allowed: tuple[int, ...]) -> int:
        value = self.integer(key, min(allowed), max(allowed))
        if value not in allowed:
            raise self._refuse(key, value, f"allowed values: {', '.join(map(str, allowed))}")
        return value

    def _list(self, key: str) -> list[Any] | None:
        value = self._raw(key)
        if value is None:
            return None
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                value = self._json(key, text, "a JSON list")
            else:
                value = [item.strip() for item in text.split(",") if item.strip()]
        if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
            raise SettingsError(f"context key {key!r}: expected a non-empty list of strings, got {_show(value)}")
        return value

    @staticmethod
    def _json(key: str, text: str, expected: str) -> Any:
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as error:  # ValueError: also an integer of more than 4,300 digits
            reason = error.msg if isinstance(error, json.JSONDecodeError) else "too long or too deeply nested"
            raise SettingsError(f"context key {key!r}: {_show(text)} is not {expected} ({reason})") from None

    def choice_list(self, key: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
        value = self._list(key)
        if value is None:
            return tuple(self._default(key))
        bad = [item for item in value if item not in allowed]
        if bad:
            raise SettingsError(
                f"context key {key!r}: {', '.join(map(_show, bad[:5]))} not allowed; "
                f"allowed values: {', '.join(allowed)}"
            )
        return tuple(dict.fromkeys(value))

    def region_list(self, key: str, ceiling: tuple[str, ...]) -> tuple[str, ...]:
        """A non-empty subset of ``ceiling``: the command line may narrow the allow-list, never widen it."""
        value = self._list(key)
        if value is None:
            return tuple(self._default(key))
        bad = [item for item in value if not _REGION.fullmatch(item)]
        if bad:
            raise SettingsError(
                f"context key {key!r}: {', '.join(map(_show, bad[:5]))} not a region name such as eu-west-2"
            )
        outside = [item for item in value if item not in ceiling]
        if outside:
            raise SettingsError(
                f"context key {key!r}: {', '.join(map(_show, outside[:5]))} outside the UK/EU regions this app may "
                f"use ({', '.join(ceiling)}); a subset of those is allowed, and widening data residency is a "
                "reviewed change to UK_EU_REGIONS in stacks/settings.py, not a setting"
            )
        return tuple(dict.fromkeys(value))

    def integer(self, key: str, low: int, high: int, *, default: int | None = None) -> int:
        value = self._raw(key)
        if value is None:
            return int(self._default(key)) if default is None else default
        return self._to_int(key, value, low, high)

    def optional_integer(self, key: str, low: int, high: int) -> int | None:
        value = self._raw(key)
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "off")):
            return None
        return self._to_int(key, value, low, high)

    @classmethod
    def _to_int(cls, key: str, value: Any, low: int, high: int) -> int:
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value.strip()):
            number = int(value.strip())
        if number is None or not low <= number <= high:
            raise cls._refuse(key, value, f"expected a whole number {low}..{high}")
        return number

    def multiple_of(self, key: str, bounds: tuple[int, int], step: int, why: str) -> int:
        value = self.integer(key, *bounds)
        if value % step:
            raise self._refuse(key, value, f"expected a multiple of {step} ({why}) in {bounds[0]}..{bounds[1]}")
        return value

    def boolean(self, key: str) -> bool:
        value = self._raw(key)
        if value is None:
            return bool(self._default(key))
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise self._refuse(key, value, "allowed values: true, false")

    def working_hours(self, key: str) -> str:
        value = self.pattern(key, _WORKING_HOURS, "HH:MM-HH:MM (24h)")
        try:
            parse_working_hours(value)
        except ValueError:
            raise SettingsError(
                f"context key {key!r}: {_show(value)} must start before it ends (HH:MM-HH:MM)"
            ) from None
        return value

    def timezone(self, key: str) -> str:
        """An IANA time zone name, exactly as the database spells it.

        Checked against the IANA database of this machine or the pinned ``tzdata`` package; the spend guard's asset
        carries that package, which ``zoneinfo`` reads when the runtime has no database of its own, so a zone
        accepted here loads there. The exact spelling matters: a case-insensitive file system would load
        "europe/london", Lambda's would not."""
        value = self.pattern(key, _TIMEZONE, "an IANA time zone such as Europe/London")
        zones = _available_timezones()
        if value not in zones:
            raise self._refuse(
                key, value, f"expected an IANA time zone such as Europe/London{_did_you_mean(value, zones)}"
            )
        return value

    def optional_cidr(self, key: str) -> str | None:
        value = self.optional_pattern(key, _CIDR, "an IPv4 CIDR such as 203.0.113.10/32")
        if value is None:
            return None
        *octets, prefix = (int(part) for part in _CIDR.fullmatch(value).groups())  # type: ignore[union-attr]
        if any(octet > 255 for octet in octets) or prefix > 32:
            raise SettingsError(f"context key {key!r}: {_show(value)} is not a valid IPv4 CIDR")
        if prefix < 16:
            raise SettingsError(
                f"context key {key!r}: {_show(value)} opens SSH to more than 65,536 addresses; allowed: a /16 or "
                "narrower range (0.0.0.0/0 is never allowed; prefer Session Manager)"
            )
        return value

    def string_map(self, key: str) -> dict[str, str]:
        value = self._raw(key)
        if value is None:
            return {}
        if isinstance(value, str):
            value = self._json(key, value, "a JSON object")
        if not isinstance(value, dict) or not all(
            isinstance(name, str) and name.startswith("spark.") and _is_property_value(val)
            for name, val in value.items()
        ):
            raise SettingsError(
                f"context key {key!r}: expected an object of spark.* properties to strings or numbers, "
                f"got {_show(value)}"
            )
        return {name: str(val) for name, val in sorted(value.items())}


def _is_property_value(value: Any) -> bool:
    """A string, or a number Spark can read back from its text (no bool, NaN, infinity or 5,000-digit integer)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) < 10**18
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str)
