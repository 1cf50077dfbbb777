"""The app builder's wiring: every setting reaches a template (no dead setting), and each default lives once (a props
field a setting fills has no default of its own, and a props field with no default is one a setting fills)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from stacks.app_builder import (
    automation_stack_props,
    compute_stack_props,
    storage_stack_props,
    wheelhouse_target,
)
from stacks.emr_release import DEFAULT_EMR_RELEASE, EMR_RELEASES
from stacks.settings import Settings
from tools.context import settings_from
from tools.wheelhouse import placeholder

EMAIL = "ops@example.com"
CERTIFICATES = "s3://lab-certificates/emr/certs.zip"
SSH = {"workstation_ssh_cidr": "203.0.113.0/24", "workstation_key_pair": "lab-key"}
OTHER_RELEASE = next(release for release in EMR_RELEASES if release != DEFAULT_EMR_RELEASE)
WHEELHOUSE, OTHER_WHEELHOUSE = "<wheelhouse>", "<other wheelhouse>"  # placeholder wheelhouses, made per session

# setting -> (the context it is changed in, an allowed value other than the one it has there). The context holds
# what the value needs to be allowed or to show (a key pair needs a CIDR, task types a task fleet), and pins what
# would otherwise follow the setting (the stage decides an unset network mode), so the value is the one difference.
VARIANTS: dict[str, tuple[dict[str, Any], Any]] = {
    "project": ({}, "other-lab"),
    "stage": ({"budget_email": EMAIL, "network_mode": "public", "cluster_mode": "standing"}, "prod"),
    "region": ({}, "eu-west-1"),
    "allowed_regions": ({}, "eu-west-2,eu-west-1"),
    "account": ({}, "123456789012"),
    "owner": ({}, "ml-platform"),
    "cost_centre": ({}, "cc-42"),
    "network_mode": ({"budget_monthly_usd": 8, "workstation_wheelhouse_dir": WHEELHOUSE}, "isolated"),
    "budget_monthly_usd": ({}, 99),
    "budget_email": ({}, EMAIL),
    "notification_email": ({}, "alerts@example.com"),
    "log_retention_days": ({}, 60),
    "emr_release": ({}, OTHER_RELEASE),
    "cluster_mode": ({}, "standing"),
    "emr_primary_instance_type": ({}, "m6g.xlarge"),
    "emr_core_instance_type": ({}, "m6g.xlarge"),
    "emr_core_instance_count": ({}, 3),
    "emr_single_node_max_mb": ({}, 100),
    "emr_mb_per_core_node": ({}, 300),
    "emr_task_spot_instance_count": ({}, 2),
    "emr_task_instance_types": ({"emr_task_spot_instance_count": 2}, "m6g.2xlarge"),
    "emr_idle_timeout_minutes": ({}, 45),
    "emr_max_cluster_age_hours": ({}, 4),
    "standing_cluster_generation": ({"cluster_mode": "standing"}, 2),
    "emr_in_transit_encryption": ({"emr_tls_certificates_s3_uri": CERTIFICATES}, "true"),
    "emr_tls_certificates_s3_uri": (
        {"emr_in_transit_encryption": "true", "emr_tls_certificates_s3_uri": CERTIFICATES},
        "s3://lab-certificates/emr/renewed.zip",
    ),
    "spark_defaults": ({}, '{"spark.sql.shuffle.partitions": 64}'),
    "workstation_instance_type": ({}, "t3.large"),
    "workstation_idle_stop_minutes": ({}, 45),
    "workstation_wheelhouse_dir": (
        {"network_mode": "isolated", "workstation_wheelhouse_dir": WHEELHOUSE},
        OTHER_WHEELHOUSE,
    ),
    "workstation_ssh_cidr": (SSH, "198.51.100.0/24"),
    "workstation_key_pair": (SSH, "other-key"),
    "working_hours": ({}, "08:00-18:00"),
    "working_days": ({}, "MON,TUE,WED"),
    "working_timezone": ({}, "Europe/Paris"),
    "lambda_reserved_concurrency": ({}, 3),
    "spend_guard_rate_minutes": ({}, 30),
}
BUILDERS = (storage_stack_props, compute_stack_props, automation_stack_props)


@pytest.fixture(scope="module")
def wheelhouses(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Two placeholder wheelhouses for the default settings' target; their contents, so their asset hashes, differ."""
    target = wheelhouse_target(Settings())
    root = tmp_path_factory.mktemp("wiring-wheelhouses")
    one, other = placeholder(root / "one", target), placeholder(root / "other", target)
    (other / "README.txt").write_text("another wheelhouse\n")
    return {WHEELHOUSE: str(one), OTHER_WHEELHOUSE: str(other)}


@pytest.fixture(scope="module")
def variant(wheelhouses: dict[str, str]) -> Callable[[str], tuple[dict[str, Any], dict[str, Any]]]:
    """``variant(setting)``: the context overrides before and after the setting changes."""

    def _variant(setting: str) -> tuple[dict[str, Any], dict[str, Any]]:
        assert setting in VARIANTS, f"setting {setting!r} has no entry in VARIANTS: give it a value to change to"
        context, value = VARIANTS[setting]
        before = {key: wheelhouses.get(val, val) if isinstance(val, str) else val for key, val in context.items()}
        return before, {**before, setting: wheelhouses.get(value, value) if isinstance(value, str) else value}

    return _variant


def test_every_setting_has_a_variant_and_no_variant_names_something_else() -> None:
    assert sorted(VARIANTS) == sorted(Settings.setting_names())


@pytest.mark.parametrize("setting", Settings.setting_names())
def test_every_setting_reaches_a_template(synth, variant, setting: str) -> None:
    """Changed alone, each setting changes the settings in that field only, and at least one template.

    cdk-nag is off here (it checks the same templates, and is the slowest part of a synth): tests/stacks/
    test_audit_gates.py runs it on the default and isolated apps."""
    before, after = variant(setting)
    base, changed = settings_from(before), settings_from(after)
    differing = [name for name in Settings.setting_names() if getattr(base, name) != getattr(changed, name)]
    assert differing == [setting]
    assert synth(nag=False, **before).templates != synth(nag=False, **after).templates, (
        f"{setting} changes no template: a dead setting (wire it in stacks/app_builder.py, or remove it)"
    )


def props_leaves(props: Any, path: str) -> dict[str, tuple[type, str, Any]]:
    """Every field of a props object, and of the props objects in it: ``path.field`` -> (props class, field, value)."""
    leaves = {}
    for field in dataclasses.fields(props):
        value = getattr(props, field.name)
        if dataclasses.is_dataclass(value) and type(value).__name__.endswith("Props"):
            leaves.update(props_leaves(value, f"{path}.{field.name}"))
        else:
            leaves[f"{path}.{field.name}"] = (type(props), field.name, value)
    return leaves


def has_default(props_type: type, name: str) -> bool:
    [field] = [field for field in dataclasses.fields(props_type) if field.name == name]
    return field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING


def test_a_props_field_has_a_default_exactly_when_no_setting_fills_it(variant) -> None:
    """One default per fact. A field a setting fills has none of its own (the setting's, in stacks/settings.py, is
    the one: a second would be dead, or disagree with it); a field no setting fills is a construct constant and
    keeps its default there (a required field that no setting changes is a constant written in the builder)."""
    filled: set[str] = set()
    every: dict[str, tuple[type, str, Any]] = {}
    for setting in Settings.setting_names():
        before, after = (settings_from(overrides) for overrides in variant(setting))
        for builder in BUILDERS:
            old, new = props_leaves(builder(before), builder.__name__), props_leaves(builder(after), builder.__name__)
            every.update(old)
            filled |= {path for path in old if old[path][2] != new[path][2]}
    with_default = sorted(path for path in filled if has_default(*every[path][:2]))
    assert with_default == [], "props fields a setting fills, with a default of their own: remove the default"
    constant = sorted(path for path in set(every) - filled if not has_default(*every[path][:2]))
    assert constant == [], "required props fields no setting changes: give the field its constant as its default"


def test_the_builders_pass_the_settings_named_for_each_field() -> None:
    settings = settings_from(
        {
            "emr_core_instance_count": 5,
            "emr_idle_timeout_minutes": 45,
            "emr_max_cluster_age_hours": 3,
            "lambda_reserved_concurrency": 7,
            "workstation_idle_stop_minutes": 60,
            "cluster_mode": "standing",
            "emr_task_spot_instance_count": 1,
        }
    )
    spark = compute_stack_props(settings).spark
    assert (spark.core_instance_count, spark.idle_timeout_minutes, spark.standing) == (5, 45, True)
    assert spark.task_instance_types == settings.emr_task_instance_types == ("m7g.xlarge", "m6g.xlarge")
    assert spark.sizing == settings.sizing_policy and spark.release_label == settings.emr_release
    jobs = automation_stack_props(settings).jobs
    assert (jobs.max_cluster_age_hours, jobs.max_idle_minutes, jobs.reserved_concurrency) == (3, 45, 7)
    assert compute_stack_props(settings).workstation.idle_stop_minutes == 60
