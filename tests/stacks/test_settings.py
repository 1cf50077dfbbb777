"""Each bad setting fails synth with a one-line message that names the key, the value and what is allowed;
unknown keys of ours are refused; no value of any type ends in another exception."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies

from stacks.settings import UK_EU_REGIONS, Settings, SettingsError

CDK_JSON_CONTEXT = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())["context"]


def settings_from(**overrides: object) -> Settings:
    """Settings from cdk.json's context plus ``overrides``, every key checked as the app checks them."""
    context = {**CDK_JSON_CONTEXT, **overrides}
    return Settings.from_context(context.get, keys=context)


def test_the_shipped_cdk_json_leaves_every_setting_at_its_default() -> None:
    settings = settings_from()
    assert settings == Settings()
    assert settings.region == "eu-west-2"
    assert settings.allowed_regions == UK_EU_REGIONS
    assert settings.stage == "dev" and settings.removes_data_on_destroy


def test_string_overrides_from_the_command_line_are_typed() -> None:
    settings = settings_from(
        budget_monthly_usd="120",
        emr_in_transit_encryption="true",
        emr_tls_certificates_s3_uri="s3://my-certs/emr/certs.zip",
        working_days="MON,TUE",
        allowed_regions="eu-west-1,eu-west-2",
        region="eu-west-1",
        spark_defaults='{"spark.sql.shuffle.partitions": 64}',
    )
    assert settings.budget_monthly_usd == 120
    assert settings.emr_in_transit_encryption is True
    assert settings.working_days == ("MON", "TUE")
    assert settings.allowed_regions == ("eu-west-1", "eu-west-2")
    assert settings.spark_defaults == {"spark.sql.shuffle.partitions": "64"}


def test_region_outside_the_allow_list_is_refused() -> None:
    with pytest.raises(SettingsError, match=r"'region': 'us-east-1' is outside the data-residency allow-list"):
        settings_from(region="us-east-1")


def test_the_allow_list_may_be_narrowed_from_the_command_line() -> None:
    settings = settings_from(region="eu-west-1", allowed_regions="eu-west-1,eu-central-1")
    assert settings.allowed_regions == ("eu-west-1", "eu-central-1") and settings.region == "eu-west-1"
    assert settings_from(allowed_regions=["eu-west-2"]).allowed_regions == ("eu-west-2",)


@pytest.mark.parametrize(
    "allowed_regions",
    [
        "us-east-1",
        ["us-east-1"],
        "eu-west-2,us-east-1",
        '["eu-west-2", "cn-north-1"]',
        "cn-northwest-1",
        "us-gov-west-1",
        "ap-south-1",
        "il-central-1",
        "me-central-1",
        [*UK_EU_REGIONS, "ca-central-1"],
    ],
)
def test_the_allow_list_can_never_be_widened_by_context(allowed_regions: object) -> None:
    """Residency is a reviewed code change (UK_EU_REGIONS), not a -c away: widening fails synth, even with a
    region inside the list, because the template's Rules entry would carry the wider list."""
    with pytest.raises(SettingsError, match=r"'allowed_regions': .* outside the UK/EU regions this app may use"):
        settings_from(allowed_regions=allowed_regions)
    with pytest.raises(SettingsError, match=r"'allowed_regions'"):
        settings_from(allowed_regions=allowed_regions, region="us-east-1")


BAD_SETTINGS = [
    ("stage", "banana", r"'stage': 'banana' is not allowed; allowed values: dev, prod"),
    ("project", "My_Project", r"'project': 'My_Project' is not allowed"),
    ("account", "12345", r"'account': '12345' is not allowed; expected a 12-digit AWS account id"),
    ("owner", "x" * 200, r"'owner': .* is not allowed; expected a tag value"),
    ("cost_centre", "a;b", r"'cost_centre': 'a;b' is not allowed"),
    ("allowed_regions", "Europe", r"'allowed_regions': 'Europe' not a region name"),
    ("allowed_regions", "[1, 2]", r"'allowed_regions': expected a non-empty list of strings"),
    ("budget_monthly_usd", "lots", r"'budget_monthly_usd': 'lots' is not allowed; expected a whole number 1..100000"),
    ("budget_monthly_usd", 0, r"'budget_monthly_usd': 0 is not allowed"),
    ("budget_email", "not-an-email", r"'budget_email': 'not-an-email' is not allowed; expected an e-mail address"),
    ("notification_email", "a@b", r"'notification_email': 'a@b' is not allowed"),
    ("log_retention_days", 8, r"'log_retention_days': 8 is not allowed; allowed values: 1, 3, 5, 7, 14, 30"),
    ("emr_release", "emr-6.15.0", r"'emr_release': 'emr-6.15.0' is not allowed; allowed values: emr-7"),
    ("cluster_mode", "always-on", r"'cluster_mode': 'always-on' is not allowed; allowed values: transient, standing"),
    ("emr_primary_instance_type", "p4d.24xlarge", r"'emr_primary_instance_type': 'p4d.24xlarge' is not allowed"),
    ("emr_core_instance_type", "t2.micro", r"'emr_core_instance_type': 't2.micro' is not allowed"),
    ("emr_core_instance_count", 0, r"'emr_core_instance_count': 0 is not allowed; expected a whole number 1..20"),
    ("emr_task_spot_instance_count", -1, r"'emr_task_spot_instance_count': -1 is not allowed"),
    ("emr_task_instance_types", "m5.xlarge,x1.32xlarge", r"'emr_task_instance_types': 'x1.32xlarge' not allowed"),
    ("emr_idle_timeout_minutes", 0, r"'emr_idle_timeout_minutes': 0 is not allowed; expected a whole number 1..1440"),
    ("emr_max_cluster_age_hours", 1000, r"'emr_max_cluster_age_hours': 1000 is not allowed"),
    ("standing_cluster_generation", 0, r"'standing_cluster_generation': 0 is not allowed; expected a whole number 1"),
    ("standing_cluster_generation", -2, r"'standing_cluster_generation': -2 is not allowed; expected a whole number"),
    ("standing_cluster_generation", 10000, r"'standing_cluster_generation': 10000 is not allowed; .*1..9999"),
    ("standing_cluster_generation", "2nd", r"'standing_cluster_generation': '2nd' is not allowed"),
    ("standing_cluster_generation", 2.5, r"'standing_cluster_generation': 2.5 is not allowed"),
    ("standing_cluster_generation", True, r"'standing_cluster_generation': True is not allowed"),
    (
        "emr_in_transit_encryption",
        "yes",
        r"'emr_in_transit_encryption': 'yes' is not allowed; allowed values: true, false",
    ),
    ("emr_in_transit_encryption", True, r"'emr_tls_certificates_s3_uri': required when 'emr_in_transit_encryption'"),
    ("spark_defaults", '{"executor.memory": "4g"}', r"'spark_defaults': expected an object of spark.\* properties"),
    ("spark_defaults", "{oops", r"'spark_defaults': '\{oops' is not a JSON object"),
    ("workstation_instance_type", "t2.nano", r"'workstation_instance_type': 't2.nano' is not allowed"),
    ("working_hours", "9-5", r"'working_hours': '9-5' is not allowed; expected HH:MM-HH:MM"),
    ("working_hours", "19:00-07:00", r"'working_hours': '19:00-07:00' must start before it ends"),
    ("working_days", "MON,FUNDAY", r"'working_days': 'FUNDAY' not allowed"),
    ("working_timezone", "Europe/London; rm", r"'working_timezone': .* is not allowed"),
    ("working_timezone", "Europe/Londn", r"'working_timezone': 'Europe/Londn' .* \(did you mean 'Europe/London'\?\)"),
    ("working_timezone", "europe/london", r"'working_timezone': 'europe/london' .*did you mean 'Europe/London'"),
    ("working_timezone", "Mars/Olympus_Mons", r"'working_timezone': 'Mars/Olympus_Mons' is not allowed; expected an"),
    ("working_timezone", "Europe/../London", r"'working_timezone': 'Europe/../London' is not allowed"),
    ("working_timezone", "BST", r"'working_timezone': 'BST' is not allowed"),
    ("stage", "prd", r"'stage': 'prd' is not allowed; allowed values: dev, prod \(did you mean 'prod'\?\)"),
    ("lambda_reserved_concurrency", "many", r"'lambda_reserved_concurrency': 'many' is not allowed"),
    ("spend_guard_rate_minutes", 1, r"'spend_guard_rate_minutes': 1 is not allowed; expected a whole number 5..60"),
]


# The settings of issue 11 (network modes, the workstation's idle stop and wheelhouse, cluster sizing): value -> message.
BAD_COST_SETTINGS = {
    "network_mode": {
        "private": "'network_mode': 'private' is not allowed; allowed values: public, isolated",
        "PUBLIC": "'network_mode': 'PUBLIC' is not allowed; allowed values: public, isolated",
    },
    "workstation_idle_stop_minutes": {
        5: "'workstation_idle_stop_minutes': 5 is not allowed; expected a whole number 10..720",
        "721": "'workstation_idle_stop_minutes': '721' is not allowed; expected a whole number 10..720",
        33: "'workstation_idle_stop_minutes': 33 is not allowed; expected a multiple of 5",
        "soon": "'workstation_idle_stop_minutes': 'soon' is not allowed",
    },
    "workstation_wheelhouse_dir": {"build/wh; rm -rf /": "is not allowed; expected a directory path"},
    "emr_single_node_max_mb": {-1: "'emr_single_node_max_mb': -1 is not allowed; expected a whole number 0..100000"},
    "emr_mb_per_core_node": {0: "'emr_mb_per_core_node': 0 is not allowed; expected a whole number 1..100000"},
    "emr_core_instance_type": {"m7g.metal": "'emr_core_instance_type': 'm7g.metal' is not allowed"},
}
BAD_SETTINGS += [
    (key, value, re.escape(message)) for key, cases in BAD_COST_SETTINGS.items() for value, message in cases.items()
]


# Values that ended in a traceback (Python's 4,300-digit limit, deeply nested JSON) or were read as numbers though
# they are other scripts' digits: each is refused with one line naming the key.
UNREADABLE: dict[str, list[object]] = {
    "budget_monthly_usd": ["9" * 5000, 10**5000, "\u0661\u0662\u0663", "\uff11\uff12", 50.5, float("nan"), True],
    "emr_core_instance_count": ["2.0", "+-2", " 2 2"],
    "log_retention_days": ["\u0663\u0660", 10**400],
    "account": ["\u0661" * 12, "12345678901\n2", 123456789012],
    "workstation_ssh_cidr": ["\u0661\u0660.0.0.0/16", "10.0.0.0/\u0661\u0666"],
    "working_hours": ["\u0660\u0667:00-19:00"],
    "spark_defaults": ['{"spark.x": 1' + "0" * 5000 + "}", "[" * 100_000, '{"spark.x": NaN}', {"spark.x": True}],
    "emr_task_instance_types": ["[" + "1" * 5000 + "]", "[" * 100_000],
    "lambda_reserved_concurrency": [10**5000, "\u0665"],
}


UNREADABLE_CASES = [(key, value) for key, values in UNREADABLE.items() for value in values]


@pytest.mark.parametrize(
    ("key", "value"), UNREADABLE_CASES, ids=[f"{k}-{n}" for n, (k, _) in enumerate(UNREADABLE_CASES)]
)
def test_a_value_that_ended_in_a_traceback_is_refused_in_one_line_naming_the_key(key: str, value: object) -> None:
    with pytest.raises(SettingsError) as raised:
        settings_from(**{key: value})
    message = str(raised.value)
    assert message.startswith(f"context key '{key}': ")
    assert "\n" not in message and len(message) < 600


def case_id(key: str, value: object) -> str:
    shown = f"<{type(value).__name__} of {value.bit_length()} bits>" if isinstance(value, int) else repr(value)
    return f"{key}={shown[:40]}"


@pytest.mark.parametrize(("key", "value", "message"), BAD_SETTINGS, ids=[case_id(k, v) for k, v, _ in BAD_SETTINGS])
def test_bad_setting_fails_naming_key_value_and_allowed(key: str, value: object, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as raised:
        settings_from(**{key: value})
    assert "\n" not in str(raised.value) and len(str(raised.value)) < 600


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (["log_retention_day"], r"context key 'log_retention_day' \(did you mean 'log_retention_days'\?\): not a"),
        (["log-retention-days"], r"'log-retention-days' \(did you mean 'log_retention_days'\?\)"),
        (["logRetentionDays"], r"'logRetentionDays' \(did you mean 'log_retention_days'\?\)"),
        (["Stage"], r"'Stage' \(did you mean 'stage'\?\)"),
        (["emr_core_instance_counts"], r"'emr_core_instance_counts' \(did you mean 'emr_core_instance_count'\?\)"),
        (["workstation_ssh"], r"'workstation_ssh' \(did you mean 'workstation_ssh_cidr'\?\)"),
        (["budget"], r"context key 'budget': not a setting of this app, so it would be ignored"),
        (["foo_bar", "stagee"], r"context keys 'foo_bar', 'stagee' \(did you mean 'stage'\?\): not a setting"),
    ],
)
def test_an_unknown_key_of_ours_is_refused_with_a_did_you_mean(keys: list[str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        settings_from(**dict.fromkeys(keys, "30"))


@pytest.mark.parametrize(
    "key",
    [
        "@aws-cdk/core:enablePartitionLiterals",
        "@aws-cdk-containers/ecs-service-extensions:enableDefaultLogDriver",
        "aws:cdk:enable-path-metadata",
        "aws:cdk:bundling-stacks",
        "aws-cdk:enableDiffNoFail",
        "availability-zones:account=123456789012:region=eu-west-2",
        "ssm:account=123456789012:parameterName=/x:region=eu-west-2",
        "acknowledged-issue-numbers",
        "cli-telemetry",
    ],
)
def test_cdks_own_context_keys_are_not_mistaken_for_settings(key: str) -> None:
    assert settings_from(**{key: ["x"]}) == Settings()


def test_every_setting_is_a_known_key() -> None:
    assert set(Settings.setting_names()) >= set(CDK_JSON_CONTEXT) - {k for k in CDK_JSON_CONTEXT if k.startswith("@")}
    assert settings_from(**dict.fromkeys(Settings.setting_names())) == Settings()


@pytest.mark.parametrize("zone", ["Europe/London", "UTC", "America/Argentina/Buenos_Aires", "Etc/GMT-14", "EST5EDT"])
def test_every_iana_time_zone_spelled_exactly_is_accepted(zone: str) -> None:
    assert settings_from(working_timezone=zone).working_timezone == zone


# Any value a context source can hold: JSON from cdk.json / cdk.context.json, or the string of a -c.
JSON_VALUES = strategies.recursive(
    strategies.none()
    | strategies.booleans()
    | strategies.integers()
    | strategies.sampled_from([5000, 400, 19]).map(lambda digits: 10**digits)  # beyond Python's 4,300-digit str()
    | strategies.floats()
    | strategies.text(),
    lambda children: strategies.lists(children, max_size=4) | strategies.dictionaries(strategies.text(), children),
    max_leaves=8,
)
CONTEXT_VALUES = (
    JSON_VALUES
    | strategies.text(alphabet=strategies.characters(categories=["Nd", "Pd", "Po", "Zs"]))
    | strategies.from_regex(r"[0-9+\-.,eE \[\]{}\"a-z_:/]{0,40}", fullmatch=True)
)


# Derandomised and without an example database: the same 400 cases on every run and machine, no .hypothesis/ folder.
@settings(
    max_examples=400, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(key=strategies.sampled_from(Settings.setting_names()), value=CONTEXT_VALUES)
def test_any_value_for_any_key_gives_settings_or_a_one_line_error_naming_the_key(key: str, value: object) -> None:
    try:
        settings_from(**{key: value})
    except SettingsError as error:
        message = str(error)
        assert f"'{key}'" in message, message
        assert "\n" not in message and "\r" not in message and len(message) < 600, message


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "10.0.0.0/8"])
def test_ssh_open_to_the_world_is_refused(cidr: str) -> None:
    with pytest.raises(SettingsError, match=r"'workstation_ssh_cidr': .* opens SSH to more than 65,536 addresses"):
        settings_from(workstation_ssh_cidr=cidr, workstation_key_pair="lab")


def test_ssh_needs_both_key_pair_and_cidr() -> None:
    with pytest.raises(SettingsError, match=r"'workstation_ssh_cidr' and 'workstation_key_pair': set both"):
        settings_from(workstation_ssh_cidr="203.0.113.10/32")
    assert (
        settings_from(workstation_ssh_cidr="203.0.113.10/32", workstation_key_pair="lab").workstation_key_pair == "lab"
    )


def test_prod_requires_a_budget_email() -> None:
    with pytest.raises(SettingsError, match=r"'budget_email': required when 'stage' is 'prod'"):
        settings_from(stage="prod")
    assert not settings_from(stage="prod", budget_email="ops@example.com").removes_data_on_destroy


@pytest.mark.parametrize(
    ("context", "mode", "budget"),
    [
        ({}, "public", 8),
        ({"stage": "prod", "budget_email": "ops@example.com"}, "isolated", 50),
        ({"network_mode": "isolated"}, "isolated", 50),
        ({"stage": "prod", "budget_email": "ops@example.com", "network_mode": "public"}, "public", 8),
        ({"network_mode": "public", "budget_monthly_usd": "25"}, "public", 25),
    ],
)
def test_the_stage_picks_the_network_mode_and_the_mode_the_default_budget(context, mode, budget) -> None:
    settings = settings_from(**context)
    assert (settings.network_mode, settings.budget_monthly_usd) == (mode, budget)


def test_defaults_are_graviton_and_sized_by_the_upload() -> None:
    settings = settings_from()
    assert settings.emr_primary_instance_type == settings.emr_core_instance_type == "m7g.xlarge"
    assert settings.workstation_instance_type == "t4g.large"
    assert (settings.emr_single_node_max_mb, settings.emr_mb_per_core_node) == (200, 200)
    assert settings.workstation_idle_stop_minutes == 30
