"""Composes the deployable stacks from validated settings; used by app.py and by the tests.

The one place that maps ``Settings`` to props, with one function per stack that names, for every props field, the
setting it comes from (constructs never see ``Settings``). A props field a setting fills has no default of its own:
the setting owns it (``stacks/settings.py``); a props field no setting fills keeps its construct's default.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
from stacks.settings import Settings, SettingsError, workstation_image_id
from stacks.storage_stack import StorageStack, StorageStackProps

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class LabStacks:
    storage: StorageStack
    compute: ComputeStack
    automation: AutomationStack

    def all(self) -> tuple[LabStack, ...]:
        return (self.storage, self.compute, self.automation)


def storage_stack_props(settings: Settings) -> StorageStackProps:
    return StorageStackProps(
        name_prefix=settings.name_prefix,
        buckets=DataBucketsProps(removes_data_on_destroy=settings.removes_data_on_destroy),
        alerts=AlertsTopicProps(
            removes_key_on_destroy=settings.removes_data_on_destroy, email=settings.notification_email
        ),
        budget=MonthlyBudgetProps(monthly_limit_usd=settings.budget_monthly_usd, email=settings.budget_email),
    )


def compute_stack_props(settings: Settings, *, image_id: str | None = None) -> ComputeStackProps:
    """``image_id``: the workstation's cached image (``workstation_image_id``), None for the latest at deploy."""
    standing = settings.cluster_mode == "standing"
    return ComputeStackProps(
        shared_buckets=SharedBucketsProps(name_prefix=settings.name_prefix),
        network=LabNetworkProps(mode=settings.network_mode),
        spark=SparkJobClusterProps(
            name_prefix=settings.name_prefix,
            release_label=settings.emr_release,
            standing=standing,
            primary_instance_type=settings.emr_primary_instance_type,
            core_instance_type=settings.emr_core_instance_type,
            core_instance_count=settings.emr_core_instance_count,
            sizing=settings.sizing_policy,
            task_spot_instance_count=settings.emr_task_spot_instance_count,
            task_instance_types=settings.emr_task_instance_types,
            idle_timeout_minutes=settings.emr_idle_timeout_minutes,
            termination_protected=standing and settings.stage == "prod",
            removes_key_on_destroy=settings.removes_data_on_destroy,
            tls_certificates_s3_uri=(
                settings.emr_tls_certificates_s3_uri if settings.emr_in_transit_encryption else None
            ),
            spark_defaults=settings.spark_defaults,
            tags=settings.tags,
        ),
        workstation=WorkstationProps(
            pyspark_version=spark_version(settings.emr_release),
            instance_type=settings.workstation_instance_type,
            idle_stop_minutes=settings.workstation_idle_stop_minutes,
            wheelhouse_dir=wheelhouse_dir(settings),
            image_id=image_id,
            key_pair=settings.workstation_key_pair,
            ssh_cidr=settings.workstation_ssh_cidr,
        ),
    )


def automation_stack_props(settings: Settings) -> AutomationStackProps:
    return AutomationStackProps(
        shared_buckets=SharedBucketsProps(name_prefix=settings.name_prefix),
        jobs=JobAutomationProps(
            name_prefix=settings.name_prefix,
            removes_data_on_destroy=settings.removes_data_on_destroy,
            log_retention_days=settings.log_retention_days,
            reserved_concurrency=settings.lambda_reserved_concurrency,
            max_cluster_age_hours=settings.emr_max_cluster_age_hours,
            max_idle_minutes=settings.emr_idle_timeout_minutes,
            working_hours=settings.working_hours,
            working_days=settings.working_days,
            working_timezone=settings.working_timezone,
            spend_guard_rate_minutes=settings.spend_guard_rate_minutes,
        ),
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


def build_app(app: App, settings: Settings, *, nag: bool = True) -> LabStacks:
    """Adds every stack to ``app``: tagged, residency-guarded and (with ``nag``) checked by cdk-nag."""
    env = Environment(account=settings.account, region=settings.region)
    prefix, title = settings.name_prefix, f"{settings.project} ({settings.stage})"
    # prod's stacks refuse deletion until `make destroy` lifts the protection after the user confirms (tools/deployment.py)
    protected = settings.stage == "prod"
    storage = StorageStack(
        app,
        "Storage",
        stack_name=f"{prefix}-storage",
        termination_protection=protected,
        description=f"{title}: data buckets, alerts topic and monthly budget",
        env=env,
        props=storage_stack_props(settings),
    )
    compute = ComputeStack(
        app,
        "Compute",
        stack_name=f"{prefix}-compute",
        termination_protection=protected,
        description=f"{title}: {settings.network_mode} VPC, EMR Spark cluster definition, workstation",
        env=env,
        props=compute_stack_props(
            settings,
            image_id=workstation_image_id(
                app.node.try_get_context,
                region=settings.region,
                architecture=cpu_architecture(settings.workstation_instance_type),
            ),
        ),
    )
    compute.add_stack_dependency(storage, "imports the storage stack's bucket exports")
    automation = AutomationStack(
        app,
        "Automation",
        stack_name=f"{prefix}-automation",
        termination_protection=protected,
        description=f"{title}: Lambda triggers for uploads, EMR events and spend",
        env=env,
        props=automation_stack_props(settings),
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
