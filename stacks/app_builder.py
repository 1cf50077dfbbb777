"""Composes the deployable stacks from validated settings; used by app.py and by the tests.

The one place that maps ``Settings`` to each construct's props: constructs never see ``Settings``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from aws_cdk import App, Environment, Tags, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from stacks.automation_stack import AutomationStack, AutomationStackProps
from stacks.compliance.cdk_generated_handlers import harden_cdk_generated_handlers
from stacks.compliance.residency import add_region_residency_rule
from stacks.compute_stack import ComputeStack, ComputeStackProps
from stacks.constructs.alerts_and_budget import AlertsTopicProps, MonthlyBudgetProps
from stacks.constructs.data_buckets import DataBucketsProps
from stacks.constructs.job_automation import JobAutomationProps
from stacks.constructs.network import LabNetworkProps
from stacks.constructs.shared_buckets import SharedBucketsProps
from stacks.constructs.spark_cluster import SparkJobClusterProps
from stacks.constructs.workstation import (
    WHEELHOUSE_MANIFEST,
    WORKSTATION_PYTHON,
    WorkstationProps,
    cpu_architecture,
    read_wheelhouse_manifest,
)
from stacks.emr_release import spark_version
from stacks.lab_stack import LabStack
from stacks.settings import Settings, SettingsError
from stacks.storage_stack import StorageStack, StorageStackProps

P = TypeVar("P")

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class LabStacks:
    storage: StorageStack
    compute: ComputeStack
    automation: AutomationStack

    def all(self) -> tuple[LabStack, ...]:
        return (self.storage, self.compute, self.automation)


def props_from(
    settings: Settings,
    props_type: type[P],
    *,
    prefix: str = "",
    renamed: Mapping[str, str] = MappingProxyType({}),
    **given: Any,
) -> P:
    """``props_type`` built from ``settings``: each field is the value ``given`` for it, else the setting ``renamed``
    names, else the setting of the same name, else the setting of that name with ``prefix`` (``emr_`` ...), else
    the field's own default (a construct constant no setting changes, such as the root volume size).

    A required field that nothing provides raises TypeError naming it."""
    values = dict(given)
    for field in fields(props_type):  # type: ignore[arg-type]
        if field.name in values:
            continue
        for source in (renamed.get(field.name), field.name, prefix + field.name):
            if source is not None and hasattr(settings, source):
                values[field.name] = getattr(settings, source)
                break
        else:
            if field.default is MISSING and field.default_factory is MISSING:
                raise TypeError(f"{props_type.__name__}.{field.name}: no setting provides it; pass it to props_from")
    return props_type(**values)


def spark_cluster_props(settings: Settings) -> SparkJobClusterProps:
    standing = settings.cluster_mode == "standing"
    in_transit = settings.emr_tls_certificates_s3_uri if settings.emr_in_transit_encryption else None
    return props_from(
        settings,
        SparkJobClusterProps,
        prefix="emr_",
        renamed={
            "release_label": "emr_release",
            "sizing": "sizing_policy",
            "removes_key_on_destroy": "removes_data_on_destroy",
        },
        standing=standing,
        termination_protected=standing and settings.stage == "prod",
        tls_certificates_s3_uri=in_transit,
    )


def wheelhouse_dir(settings: Settings) -> Path | None:
    """isolated network: the checked wheelhouse directory the workstation installs from; public: None (PyPI).

    SettingsError, naming the step that fixes it, when the directory is missing or was built for another pyspark
    or CPU architecture than the settings ask for."""
    if settings.network_mode != "isolated":
        return None
    directory = Path(settings.workstation_wheelhouse_dir).expanduser()
    directory = directory if directory.is_absolute() else PROJECT_ROOT / directory
    wanted = wheelhouse_target(settings)
    found = read_wheelhouse_manifest(directory)
    if found is None:
        raise SettingsError(
            f"context key 'network_mode': 'isolated' gives the workstation no route to PyPI, so it installs pyspark "
            f"from a wheelhouse shipped as a CDK asset, and {directory} has none ({WHEELHOUSE_MANIFEST} missing): "
            "run `make wheelhouse` first (it needs PyPI once; `make deploy` runs it)"
        )
    if {key: found.get(key) for key in wanted} != wanted:
        raise SettingsError(
            f"context key 'network_mode': the wheelhouse in {directory} was built for "
            f"{', '.join(f'{k}={found.get(k)}' for k in wanted)}, but the settings need "
            f"{', '.join(f'{k}={v}' for k, v in wanted.items())}: run `make wheelhouse` again"
        )
    return directory


def wheelhouse_target(settings: Settings) -> dict[str, str]:
    """What the wheelhouse must hold: the EMR release's pyspark, for the workstation's CPU and Python."""
    return {
        "pyspark": spark_version(settings.emr_release),
        "architecture": cpu_architecture(settings.workstation_instance_type),
        "python": WORKSTATION_PYTHON,
    }


def workstation_props(settings: Settings) -> WorkstationProps:
    return props_from(
        settings,
        WorkstationProps,
        prefix="workstation_",
        pyspark_version=spark_version(settings.emr_release),
        wheelhouse_dir=wheelhouse_dir(settings),
    )


def job_automation_props(settings: Settings) -> JobAutomationProps:
    return props_from(
        settings,
        JobAutomationProps,
        prefix="lambda_",
        renamed={"max_cluster_age_hours": "emr_max_cluster_age_hours", "max_idle_minutes": "emr_idle_timeout_minutes"},
    )


def build_app(app: App, settings: Settings, *, nag: bool = True) -> LabStacks:
    """Adds every stack to ``app``: tagged, residency-guarded and (with ``nag``) checked by cdk-nag."""
    env = Environment(account=settings.account, region=settings.region)
    prefix = settings.name_prefix
    shared_buckets = SharedBucketsProps(name_prefix=prefix)
    storage = StorageStack(
        app,
        "Storage",
        stack_name=f"{prefix}-storage",
        description=f"{settings.project} ({settings.stage}): data buckets, alerts topic and monthly budget",
        env=env,
        props=StorageStackProps(
            name_prefix=prefix,
            buckets=DataBucketsProps(removes_data_on_destroy=settings.removes_data_on_destroy),
            alerts=AlertsTopicProps(
                removes_key_on_destroy=settings.removes_data_on_destroy, email=settings.notification_email
            ),
            budget=MonthlyBudgetProps(monthly_limit_usd=settings.budget_monthly_usd, email=settings.budget_email),
        ),
    )
    compute = ComputeStack(
        app,
        "Compute",
        stack_name=f"{prefix}-compute",
        description=(
            f"{settings.project} ({settings.stage}): {settings.network_mode} VPC, EMR Spark cluster definition, "
            "workstation"
        ),
        env=env,
        props=ComputeStackProps(
            shared_buckets=shared_buckets,
            network=LabNetworkProps(mode=settings.network_mode),
            spark=spark_cluster_props(settings),
            workstation=workstation_props(settings),
        ),
    )
    compute.add_stack_dependency(storage, "imports the storage stack's bucket exports")
    automation = AutomationStack(
        app,
        "Automation",
        stack_name=f"{prefix}-automation",
        description=f"{settings.project} ({settings.stage}): Lambda triggers for uploads, EMR events and spend",
        env=env,
        props=AutomationStackProps(shared_buckets=shared_buckets, jobs=job_automation_props(settings)),
        storage=storage,
        compute=compute,
    )
    automation.add_stack_dependency(storage, "imports the storage stack's bucket exports")
    stacks = LabStacks(storage=storage, compute=compute, automation=automation)
    for stack in stacks.all():
        add_region_residency_rule(stack, allowed_regions=settings.allowed_regions)
        harden_cdk_generated_handlers(stack, retention_days=settings.log_retention_days)
    for key, value in settings.tags.items():
        Tags.of(app).add(key, value)
    if nag:
        # Blocking packs: any unacknowledged finding fails synth.
        # Acknowledgements are also written into each resource's Metadata, so auditors see them in the template.
        Validations.of(app).add_plugins(
            AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True),
            ServerlessChecks(app, write_suppressions_to_cloud_formation=True),
        )
    return stacks
