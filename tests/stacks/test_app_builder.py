"""The app builder maps settings to each construct's props: every field from somewhere, nothing silently dropped."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from stacks.app_builder import job_automation_props, props_from, spark_cluster_props, workstation_props
from stacks.settings import Settings


@dataclass(frozen=True, kw_only=True)
class Example:
    stage: str  # a setting of the same name
    instance_type: str  # the setting with the prefix: workstation_instance_type
    release: str  # renamed: emr_release
    note: str = "kept"  # no setting: the field's default


def test_each_field_comes_from_given_renamed_same_name_prefixed_or_its_default() -> None:
    settings = Settings(stage="prod", workstation_instance_type="t4g.xlarge", emr_release="emr-7.12.0")
    built = props_from(settings, Example, prefix="workstation_", renamed={"release": "emr_release"})
    assert built == Example(stage="prod", instance_type="t4g.xlarge", release="emr-7.12.0", note="kept")
    assert (
        props_from(settings, Example, prefix="workstation_", renamed={"release": "emr_release"}, stage="x").stage == "x"
    )


def test_a_required_field_nothing_provides_fails_naming_it() -> None:
    with pytest.raises(TypeError, match=r"Example\.release: no setting provides it"):
        props_from(Settings(), Example, prefix="workstation_")


def test_the_real_props_take_the_settings_they_are_named_after() -> None:
    settings = Settings(
        emr_core_instance_count=5,
        emr_idle_timeout_minutes=45,
        emr_max_cluster_age_hours=3,
        lambda_reserved_concurrency=7,
        workstation_idle_stop_minutes=60,
        cluster_mode="standing",
    )
    spark = spark_cluster_props(settings)
    assert (spark.core_instance_count, spark.idle_timeout_minutes, spark.standing) == (5, 45, True)
    assert spark.sizing == settings.sizing_policy and spark.release_label == settings.emr_release
    jobs = job_automation_props(settings)
    assert (jobs.max_cluster_age_hours, jobs.max_idle_minutes, jobs.reserved_concurrency) == (3, 45, 7)
    assert workstation_props(settings).idle_stop_minutes == 60
